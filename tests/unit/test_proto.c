/*
 * test_proto.c: the request parser and the framing rules of proto.c.
 */
#include <string.h>

#include "proto.h"
#include "unit.h"

static enum proto_scan
scan(const char *s, size_t *reqlen)
{
	return proto_scan(s, strlen(s), reqlen);
}

static int
parse(const char *s, struct request *req, const char **why)
{
	return proto_parse(s, strlen(s), req, why);
}

static int
data_is(const struct request *req, const char *want)
{
	return req->datalen == strlen(want) &&
	    memcmp(req->data, want, req->datalen) == 0;
}

TEST(scan_helo_hello_are_complete)
{
	size_t	 n;

	CHECK(scan("helo", &n) == SCAN_COMPLETE);
	CHECK(scan("hello", &n) == SCAN_COMPLETE);
	CHECK(scan("  helo\r\n", &n) == SCAN_COMPLETE);
	CHECK(scan("stats", &n) == SCAN_COMPLETE);
	CHECK(scan("hel", &n) == SCAN_PARTIAL);
	CHECK(scan("helox", &n) == SCAN_PARTIAL);
}

TEST(scan_call_waits_for_eof_or_quiet)
{
	size_t	 n;

	CHECK(scan("upper:hello", &n) == SCAN_PARTIAL);
	CHECK(n == strlen("upper:hello"));
	CHECK(scan("upper:hello\n", &n) == SCAN_PARTIAL);
	CHECK(scan("upper", &n) == SCAN_PARTIAL);
	CHECK(proto_scan("", 0, &n) == SCAN_PARTIAL);
}

TEST(scan_queue_id_complete_when_whole_or_line_ends)
{
	size_t	 n;

	CHECK(scan("queue:check:id:0123456789abcdef", &n) == SCAN_COMPLETE);
	CHECK(scan("queue:get:id:0123456789abcdef", &n) == SCAN_COMPLETE);
	CHECK(scan("queue:check:id:0123", &n) == SCAN_PARTIAL);
	CHECK(scan("queue:check:id:0123\n", &n) == SCAN_COMPLETE);
	CHECK(scan("queue:add:upper:x", &n) == SCAN_PARTIAL);
}

TEST(scan_framed_exact_length)
{
	size_t	 n;

	CHECK(scan("!call upper 5\nhel", &n) == SCAN_PARTIAL);
	CHECK(n == strlen("!call upper 5\n") + 5);
	CHECK(scan("!call upper 5\nhello", &n) == SCAN_COMPLETE);
	CHECK(n == strlen("!call upper 5\nhello"));
	/* A second request behind the first is not part of it. */
	CHECK(scan("!call upper 2\nhi!helo\n", &n) == SCAN_COMPLETE);
	CHECK(n == strlen("!call upper 2\nhi"));
	CHECK(scan("!helo\n", &n) == SCAN_COMPLETE);
	CHECK(scan("!call upp", &n) == SCAN_PARTIAL);
}

TEST(scan_framed_bad_header_is_complete_for_an_error)
{
	char	 big[FRAME_HEADER_MAX + 10];
	size_t	 n;

	CHECK(scan("!nonsense\n", &n) == SCAN_COMPLETE);
	memset(big, 'a', sizeof(big));
	big[0] = '!';
	CHECK(proto_scan(big, sizeof(big), &n) == SCAN_COMPLETE);
}

TEST(parse_call_forms)
{
	struct request	 req;
	const char	*why;

	CHECK(parse("upper:hello", &req, &why) == 0);
	CHECK(req.verb == VERB_CALL && !req.framed);
	CHECK_STR(req.service, "upper");
	CHECK(data_is(&req, "hello"));

	/* Only the first colon separates; the data keeps the others. */
	CHECK(parse("upper:a:b:c", &req, &why) == 0);
	CHECK(data_is(&req, "a:b:c"));

	/* No colon: the whole request names the service, no data. */
	CHECK(parse("date", &req, &why) == 0);
	CHECK_STR(req.service, "date");
	CHECK(req.datalen == 0);

	/* The original trims the whole request. */
	CHECK(parse("  upper: x y \r\n", &req, &why) == 0);
	CHECK(data_is(&req, " x y"));
}

TEST(parse_bad_names)
{
	struct request	 req;
	const char	*why;

	CHECK(parse("up per:x", &req, &why) == 400);
	CHECK_STR(why, "Unknown request");
	CHECK(parse(":x", &req, &why) == 400);
	CHECK(parse("../bin/sh:x", &req, &why) == 400);
	CHECK(parse("\x01\xff:x", &req, &why) == 400);
	CHECK(parse("", &req, &why) == 400);
}

TEST(parse_helo_hello)
{
	struct request	 req;
	const char	*why;

	CHECK(parse("helo", &req, &why) == 0 && req.verb == VERB_HELO);
	CHECK(parse("hello\n", &req, &why) == 0 && req.verb == VERB_HELLO);
	CHECK(parse("stats", &req, &why) == 0 && req.verb == VERB_STATS);
}

TEST(parse_queue_verbs)
{
	struct request	 req;
	const char	*why;

	CHECK(parse("queue:add:upper:a:b", &req, &why) == 0);
	CHECK(req.verb == VERB_QADD);
	CHECK_STR(req.service, "upper");
	CHECK(data_is(&req, "a:b"));
	CHECK(parse("queue:add:upper", &req, &why) == 0);
	CHECK(req.datalen == 0);
	CHECK(parse("queue:check:id:0123456789abcdef", &req, &why) == 0);
	CHECK(req.verb == VERB_QCHECK);
	CHECK_STR(req.id, "0123456789abcdef");
	CHECK(parse("queue:get:id:0123456789abcdef", &req, &why) == 0);
	CHECK(req.verb == VERB_QGET);
	CHECK(parse("queue:list", &req, &why) == 0 && req.verb == VERB_QLIST);
	CHECK(parse("queue:cancel:id:0123456789abcdef", &req, &why) == 0);
	CHECK(req.verb == VERB_QCANCEL);
}

TEST(parse_queue_errors)
{
	struct request	 req;
	const char	*why;

	CHECK(parse("queue:frob:id:0123456789abcdef", &req, &why) == 500);
	CHECK_STR(why, "Unknown queue request");
	CHECK(parse("queue:check:0123456789abcdef", &req, &why) == 500);
	CHECK(parse("queue:check:id:xyz", &req, &why) == 404);
	CHECK(parse("queue:check:id:0123456789ABCDEF", &req, &why) == 404);
	CHECK(parse("queue:add:bad name:x", &req, &why) == 400);
	CHECK(parse("queue:", &req, &why) == 500);
}

TEST(parse_framed)
{
	struct request	 req;
	const char	*why;
	static const char bin[] = "!call echo 3\na\0b";

	CHECK(parse("!call upper 5\nhello", &req, &why) == 0);
	CHECK(req.framed && req.verb == VERB_CALL);
	CHECK_STR(req.service, "upper");
	CHECK(data_is(&req, "hello"));
	CHECK(req.length == strlen("!call upper 5\nhello"));

	CHECK(proto_parse(bin, sizeof(bin) - 1, &req, &why) == 0);
	CHECK(req.datalen == 3 && memcmp(req.data, "a\0b", 3) == 0);

	CHECK(parse("!call upper\n", &req, &why) == 0 && req.datalen == 0);
	CHECK(parse("!call upper 0\r\n", &req, &why) == 0);
	CHECK(parse("!helo\n", &req, &why) == 0 && req.verb == VERB_HELO);
	CHECK(parse("!check 0123456789abcdef\n", &req, &why) == 0);
	CHECK(req.verb == VERB_QCHECK);
	CHECK(parse("!add upper 1\nx", &req, &why) == 0);
	CHECK(req.verb == VERB_QADD);
}

TEST(parse_framed_errors)
{
	struct request	 req;
	const char	*why;

	CHECK(parse("!bogus 0\n", &req, &why) == 400);
	CHECK(parse("!call\n", &req, &why) == 400);
	CHECK(parse("!call upper x\n", &req, &why) == 400);
	CHECK(parse("!call upper -1\n", &req, &why) == 400);
	CHECK(parse("!call upper 1 2\n", &req, &why) == 400);
	CHECK(parse("!call up/per 0\n", &req, &why) == 400);
	CHECK(parse("!call upper 5\nabc", &req, &why) == 400);
	CHECK(parse("!check nothex\n", &req, &why) == 404);
	CHECK(parse("!helo 12345678901\n", &req, &why) == 400);
}

TEST(error_lines_fit_their_buffer)
{
	char	 buf[32];
	size_t	 n, len;
	int	 code, h;

	n = proto_error(buf, sizeof(buf), 1, 502, "Service upper failed with "
	    "exit status 3, and more");
	CHECK(n == strlen(buf) && n < sizeof(buf));
	h = proto_parse_frame_answer(buf, n, &code, &len);
	CHECK(h > 0 && code == 502 && (size_t)h + len == n);
	CHECK(proto_error(buf, 0, 0, 400, "x") == 0);
	n = proto_error(buf, 10, 0, 400, "Unknown request");
	CHECK(n == 9 && buf[8] == '\n');
}

TEST(error_lines)
{
	char	 buf[128];
	size_t	 n;

	n = proto_error(buf, sizeof(buf), 0, 400, "Unknown request");
	CHECK(n == strlen("400: Unknown request\n"));
	CHECK_STR(buf, "400: Unknown request\n");
	n = proto_error(buf, sizeof(buf), 1, 504, "late");
	CHECK_STR(buf, "!504 4\nlate");
	CHECK(proto_answer_code("502: x", 6) == 502);
	CHECK(proto_answer_code("HELLO", 5) == 0);
	CHECK(proto_answer_code("600: x", 6) == 0);
}

TEST(frame_answers_round_trip)
{
	char	 buf[64];
	size_t	 len;
	int	 code, h;

	proto_frame_header(buf, sizeof(buf), 200, 12345);
	CHECK_STR(buf, "!200 12345\n");
	h = proto_parse_frame_answer(buf, strlen(buf), &code, &len);
	CHECK(h == (int)strlen(buf) && code == 200 && len == 12345);
	CHECK(proto_parse_frame_answer("!200 1", 6, &code, &len) == 0);
	CHECK(proto_parse_frame_answer("HELLO\n", 6, &code, &len) == -1);
	/* No newline where a header must have ended: not an answer. */
	CHECK(proto_parse_frame_answer("!200 1234567890123", 18, &code,
	    &len) == -1);
	CHECK(proto_frame_request(buf, sizeof(buf), "call", "upper", 3) > 0);
	CHECK_STR(buf, "!call upper 3\n");
}
