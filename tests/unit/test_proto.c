/*
 * test_proto.c: the request parser, the framing rules and the answers of
 * proto.c and its parts (protopriv.h), which link alone
 * (UNIT_OBJS_test_proto in the Makefile).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "proto.h"
#include "unit.h"

static enum proto_scan
scan(const char *s, size_t *reqlen)
{
	return proto_scan(s, strlen(s), reqlen);
}

/* The code of the error proto_parse() finds (0: none), its text in *WHY. */
static int
parse_n(const char *s, size_t len, struct request *req, const char **why)
{
	enum proto_err e = proto_parse(s, len, req);

	*why = e == ERR_NONE ? NULL : proto_err_text(e);
	return e == ERR_NONE ? 0 : proto_err_code(e);
}

static int
parse(const char *s, struct request *req, const char **why)
{
	return parse_n(s, strlen(s), req, why);
}

static int
data_is(const struct request *req, const char *want)
{
	return req->datalen == strlen(want) &&
	    memcmp(req->data, want, req->datalen) == 0;
}

TEST(scan_helo_hello_are_complete)
{
	size_t n;

	CHECK(scan("helo", &n) == SCAN_COMPLETE);
	CHECK(scan("hello", &n) == SCAN_COMPLETE);
	CHECK(scan("  helo\r\n", &n) == SCAN_COMPLETE);
	CHECK(scan("stats", &n) == SCAN_COMPLETE);
	CHECK(scan("hel", &n) == SCAN_PARTIAL);
	CHECK(scan("helox", &n) == SCAN_PARTIAL);
}

TEST(scan_call_waits_for_eof_or_quiet)
{
	size_t n;

	CHECK(scan("upper:hello", &n) == SCAN_PARTIAL);
	CHECK(n == strlen("upper:hello"));
	CHECK(scan("upper:hello\n", &n) == SCAN_PARTIAL);
	CHECK(scan("upper", &n) == SCAN_PARTIAL);
	CHECK(proto_scan("", 0, &n) == SCAN_PARTIAL);
}

TEST(scan_queue_id_complete_when_whole_or_line_ends)
{
	size_t n;

	CHECK(scan("queue:check:id:0123456789abcdef", &n) == SCAN_COMPLETE);
	CHECK(scan("queue:get:id:0123456789abcdef", &n) == SCAN_COMPLETE);
	CHECK(scan("queue:check:id:0123", &n) == SCAN_PARTIAL);
	CHECK(scan("queue:check:id:0123\n", &n) == SCAN_COMPLETE);
	CHECK(scan("queue:add:upper:x", &n) == SCAN_PARTIAL);
}

TEST(scan_framed_exact_length)
{
	size_t n;

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
	char   big[FRAME_HEADER_MAX + 10];
	size_t n;

	CHECK(scan("!nonsense\n", &n) == SCAN_COMPLETE);
	memset(big, 'a', sizeof(big));
	big[0] = '!';
	CHECK(proto_scan(big, sizeof(big), &n) == SCAN_COMPLETE);
}

TEST(parse_call_forms)
{
	struct request req;
	const char    *why;

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
	struct request req;
	const char    *why;

	CHECK(parse("up per:x", &req, &why) == 400);
	CHECK_STR(why, "Unknown request");
	CHECK(parse(":x", &req, &why) == 400);
	CHECK(parse("../bin/sh:x", &req, &why) == 400);
	CHECK(parse("\x01\xff:x", &req, &why) == 400);
	CHECK(parse("", &req, &why) == 400);
}

TEST(parse_helo_hello)
{
	struct request req;
	const char    *why;

	CHECK(parse("helo", &req, &why) == 0 && req.verb == VERB_HELO);
	CHECK(parse("hello\n", &req, &why) == 0 && req.verb == VERB_HELLO);
	CHECK(parse("stats", &req, &why) == 0 && req.verb == VERB_STATS);
}

TEST(scan_node_ids_complete_at_their_length)
{
	size_t n;

	CHECK(scan("queue:get:id:web1____-0123456", &n) == SCAN_PARTIAL);
	CHECK(
	    scan("queue:get:id:web1____-0123456789abcde", &n) == SCAN_PARTIAL);
	CHECK(scan("queue:get:id:web1____-0123456789abcdef", &n) ==
	    SCAN_COMPLETE);
	CHECK(scan("queue:check:id:abcdefgh-0123456789abcdef", &n) ==
	    SCAN_COMPLETE);
}

TEST(ids_with_and_without_a_node)
{
	char id[JOB_ID_MAX + 1], node[NODE_NAME_MAX + 1];

	CHECK(
	    proto_make_id(id, sizeof(id), NULL, 0x0123456789abcdefULL) == 16);
	CHECK_STR(id, "0123456789abcdef");
	CHECK(proto_make_id(id, sizeof(id), "", 1) == 16);
	CHECK_STR(id, "0000000000000001");
	CHECK(proto_id_node(id, node, sizeof(node)) == 0 && node[0] == '\0');
	CHECK(proto_make_id(id, sizeof(id), "web1", 0xfedcba9876543210ULL) ==
	    JOB_ID_MAX);
	CHECK_STR(id, "web1____-fedcba9876543210");
	CHECK(proto_valid_id(id, strlen(id)));
	CHECK(proto_id_node(id, node, sizeof(node)) == 4);
	CHECK_STR(node, "web1");
	CHECK(proto_make_id(id, sizeof(id), "Abcdefg8", 2) == JOB_ID_MAX);
	CHECK_STR(id, "Abcdefg8-0000000000000002");
	CHECK(proto_id_node(id, node, sizeof(node)) == 8);
	CHECK(proto_make_id(id, sizeof(id), "toolong12", 1) == -1);
	CHECK(proto_make_id(id, sizeof(id), "we-b", 1) == -1);
	CHECK(proto_make_id(id, 20, "web1", 1) == -1);
	CHECK(proto_valid_node("a", 1) && !proto_valid_node("", 0));
	CHECK(
	    !proto_valid_node("a_b", 3) && !proto_valid_node("123456789", 9));
}

TEST(malformed_node_ids_are_refused)
{
	static const char *const bad[] = {
		"web1____-0123456789abcdeF", /* upper-case hex */
		"web1____-0123456789abcde",  /* short */
		"web1____0123456789abcdef0", /* no separator */
		"we_b1___-0123456789abcdef", /* padding inside the node */
		"________-0123456789abcdef", /* no node */
		"web1   _-0123456789abcdef", /* not the padding */
		"web1____-0123456789abcdef0",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!proto_valid_id(bad[i], strlen(bad[i])));
}

TEST(parse_node_ids_and_the_node_verb)
{
	struct request req;
	const char    *why;

	CHECK(
	    parse("queue:get:id:web1____-0123456789abcdef", &req, &why) == 0);
	CHECK(req.verb == VERB_QGET);
	CHECK_STR(req.id, "web1____-0123456789abcdef");
	CHECK(parse("!info web1____-0123456789abcdef\n", &req, &why) == 0);
	CHECK(req.verb == VERB_QINFO);
	CHECK_STR(req.id, "web1____-0123456789abcdef");
	CHECK(
	    parse("queue:get:id:web1___-0123456789abcdef", &req, &why) == 404);
	CHECK(parse("!node\n", &req, &why) == 0 && req.verb == VERB_NODE);
	CHECK(parse("node", &req, &why) == 0 && req.verb == VERB_CALL);
}

TEST(parse_queue_verbs)
{
	struct request req;
	const char    *why;

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
	struct request req;
	const char    *why;

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
	struct request	  req;
	const char	 *why;
	static const char bin[] = "!call echo 3\na\0b";

	CHECK(parse("!call upper 5\nhello", &req, &why) == 0);
	CHECK(req.framed && req.verb == VERB_CALL);
	CHECK_STR(req.service, "upper");
	CHECK(data_is(&req, "hello"));
	CHECK(req.length == strlen("!call upper 5\nhello"));

	CHECK(parse_n(bin, sizeof(bin) - 1, &req, &why) == 0);
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
	struct request req;
	const char    *why;

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
	char   buf[32];
	size_t n, len;
	int    code, h;

	n = proto_error_text(buf, sizeof(buf), 1, 502,
	    "Service upper failed "
	    "with exit status 3, and more");
	CHECK(n == strlen(buf) && n < sizeof(buf));
	h = proto_parse_frame_answer(buf, n, &code, &len);
	CHECK(h > 0 && code == 502 && (size_t)h + len == n);
	CHECK(proto_error_text(buf, 0, 0, 400, "x") == 0);
	n = proto_error_text(buf, 10, 0, 400, "Unknown request");
	CHECK(n == 9 && buf[8] == '\n');
}

TEST(error_lines)
{
	char   buf[128];
	size_t n;

	n = proto_error_text(buf, sizeof(buf), 0, 400, "Unknown request");
	CHECK(n == strlen("400: Unknown request\n"));
	CHECK_STR(buf, "400: Unknown request\n");
	n = proto_error_text(buf, sizeof(buf), 1, 504, "late");
	CHECK_STR(buf, "!504 4\nlate");
	CHECK(proto_answer_code("502: x", 6) == 502);
	CHECK(proto_answer_code("HELLO", 5) == 0);
	CHECK(proto_answer_code("600: x", 6) == 0);
}

TEST(frame_answers_round_trip)
{
	struct request req;
	char	       buf[64];
	size_t	       len;
	int	       code, h;

	proto_frame_header(buf, sizeof(buf), 200, 12345);
	CHECK_STR(buf, "!200 12345\n");
	h = proto_parse_frame_answer(buf, strlen(buf), &code, &len);
	CHECK(h == (int)strlen(buf) && code == 200 && len == 12345);
	CHECK(proto_parse_frame_answer("!200 1", 6, &code, &len) == 0);
	CHECK(proto_parse_frame_answer("HELLO\n", 6, &code, &len) == -1);
	/* No newline where a header must have ended: not an answer. */
	CHECK(proto_parse_frame_answer("!429 12 retry=1234567890123456789", 34,
		  &code, &len) == -1);
	CHECK(
	    proto_frame_request(buf, sizeof(buf), VERB_CALL, "upper", 3) > 0);
	CHECK_STR(buf, "!call upper 3\n");
	/* A token as the header's last word; a retry as the answer's. */
	CHECK(proto_frame_request_token(buf, sizeof(buf), VERB_CALL, "upper",
		  3, "s3cret") > 0);
	CHECK_STR(buf, "!call upper 3 token=s3cret\n");
	CHECK(proto_parse("!call upper 3 token=s3cret\nabc", 30, &req) ==
	    ERR_NONE);
	CHECK_STR(req.token, "s3cret");
	CHECK_STR(req.service, "upper");
	CHECK(req.datalen == 3);
	CHECK(proto_parse("!call upper token=\n", 19, &req) == ERR_BAD_HEADER);
	CHECK(proto_parse("!call upper 3 4 token=x\n", 24, &req) ==
	    ERR_BAD_HEADER);
	proto_error_retry(buf, sizeof(buf), 1, ERR_RATE, 3);
	CHECK_STR(buf, "!429 34 retry=3\nToo many requests: retry after 3 s");
	CHECK(proto_parse_frame_answer(buf, strlen(buf), &code, &len) == 16);
	CHECK(code == 429 && len == 34);
	proto_error_retry(buf, sizeof(buf), 0, ERR_RATE, 3);
	CHECK_STR(buf, "429: Too many requests: retry after 3 s\n");
}

/* The option words of a framed add, both ways. */
TEST(add_options_parse_and_format)
{
	const char *a = "0123456789abcdef", *b = "web1____-0123456789abcdef";
	struct job_opts o;
	struct request	req;
	char		buf[FRAME_HEADER_MAX];
	int		n;

	memset(&o, 0, sizeof(o));
	o.has_priority = 1;
	o.priority = -5;
	o.delay = 30;
	o.at = 1900000000;
	strcpy(o.key, "order-42");
	o.nafter = 2;
	strcpy(o.after[0], a);
	strcpy(o.after[1], b);
	n = proto_frame_request_opts(buf, sizeof(buf), VERB_QADD, "tr", 2, "t",
	    &o);
	CHECK_STR(buf,
	    "!add tr 2 priority=-5 delay=30 at=1900000000 "
	    "key=order-42 after=0123456789abcdef,"
	    "web1____-0123456789abcdef token=t\n");
	CHECK(proto_parse(buf, (size_t)n + 2, &req) == ERR_NONE);
	CHECK(req.verb == VERB_QADD && req.datalen == 2);
	CHECK(req.opts.has_priority && req.opts.priority == -5);
	CHECK(req.opts.delay == 30 && req.opts.at == 1900000000);
	CHECK_STR(req.opts.key, "order-42");
	CHECK(req.opts.nafter == 2);
	CHECK_STR(req.opts.after[1], b);
	CHECK_STR(req.token, "t");
	/* Options in any order after the length; none on the original. */
	CHECK(proto_parse("!add tr key=k 0\n", 16, &req) == ERR_BAD_HEADER);
	CHECK(
	    proto_parse("!add tr 0 key=k priority=1\n", 27, &req) == ERR_NONE);
	CHECK(req.opts.priority == 1 && !strcmp(req.opts.key, "k"));
	CHECK(proto_parse("queue:add:tr:x", 14, &req) == ERR_NONE);
	CHECK(!req.opts.has_priority && req.opts.key[0] == '\0');
	/* Bad values, unknown names, repeats, options on other verbs. */
	CHECK(
	    proto_parse("!add tr 0 priority=x\n", 21, &req) == ERR_BAD_HEADER);
	CHECK(proto_parse("!add tr 0 priority=1000001\n", 27, &req) ==
	    ERR_BAD_HEADER);
	CHECK(proto_parse("!add tr 0 delay=-1\n", 19, &req) == ERR_BAD_HEADER);
	CHECK(proto_parse("!add tr 0 at=0\n", 15, &req) == ERR_BAD_HEADER);
	CHECK(
	    proto_parse("!add tr 0 after=0123\n", 21, &req) == ERR_BAD_HEADER);
	CHECK(
	    proto_parse("!add tr 0 colour=red\n", 21, &req) == ERR_BAD_HEADER);
	CHECK(proto_parse("!add tr 0 key=a key=b\n", 22, &req) ==
	    ERR_BAD_HEADER);
	CHECK(proto_parse("!call tr 0 priority=1\n", 22, &req) ==
	    ERR_BAD_HEADER);
}

TEST(error_table_codes_and_texts)
{
	int e, code;

	CHECK(proto_err_code(ERR_NONE) == PROTO_DONE);
	for (e = ERR_NONE + 1; e < ERR_COUNT; e++) {
		code = proto_err_code((enum proto_err)e);
		CHECK(code >= 400 && code <= 599);
		CHECK(proto_err_text((enum proto_err)e)[0] != '\0');
		/* Every error has an entry of its own. */
		CHECK(e == ERR_INTERNAL ||
		    strcmp(proto_err_text((enum proto_err)e),
			"Internal error") != 0);
	}
	CHECK(proto_err_code(ERR_UNKNOWN_REQUEST) == 400);
	CHECK_STR(proto_err_text(ERR_UNKNOWN_REQUEST), "Unknown request");
	CHECK(proto_err_code(ERR_DENIED) == 403);
	CHECK_STR(proto_err_text(ERR_DENIED), "Access denied");
	CHECK(proto_err_code(ERR_NO_JOB) == 404);
	CHECK_STR(proto_err_text(ERR_NO_JOB), "Unknown job id");
	CHECK(proto_err_code(ERR_NOT_TCP) == 405);
	CHECK_STR(proto_err_text(ERR_NOT_TCP),
	    "Service is not available over tcp");
	CHECK(proto_err_code(ERR_TIMEOUT) == 408);
	CHECK(proto_err_code(ERR_JOB_DONE) == 409);
	CHECK(proto_err_code(ERR_JOB_CANCELLED) == 410);
	CHECK(proto_err_code(ERR_TOO_LARGE) == 413);
	CHECK(proto_err_code(ERR_TOO_MANY) == 429);
	CHECK(proto_err_code(ERR_UNKNOWN_QUEUE) == 500);
	CHECK(proto_err_code(ERR_BUSY) == 503);
	CHECK_STR(proto_err_text(ERR_BUSY), "Service busy");
	CHECK(proto_err_code(ERR_QUEUE_FULL) == 503);
	CHECK_STR(proto_err_text(ERR_QUEUE_FULL), "Queue full");
	CHECK(proto_err_code(ERR_SHUTDOWN) == 503);
	CHECK(proto_err_code(ERR_RUN_CHARSET) == 415);
	CHECK(proto_err_code(ERR_RUN_START) == 500);
	CHECK(proto_err_code(ERR_RUN_FAILED) == 502);
	CHECK(proto_err_code(ERR_RUN_STOPPED) == 503);
	CHECK(proto_err_code(ERR_RUN_TIMEOUT) == 504);
	CHECK(proto_err_code(ERR_RUN_OVERFLOW) == 507);
	/* Out of range: an internal error, never a read past the table. */
	CHECK(proto_err_code(ERR_COUNT) == 500);
}

TEST(parse_errors_are_table_entries)
{
	struct request req;

	CHECK(proto_parse("up per:x", 8, &req) == ERR_UNKNOWN_REQUEST);
	CHECK(proto_parse("queue:frob", 10, &req) == ERR_UNKNOWN_QUEUE);
	CHECK(proto_parse("queue:get:id:x", 14, &req) == ERR_NO_JOB);
	CHECK(proto_parse("!check nothex\n", 14, &req) == ERR_NO_JOB);
	CHECK(proto_parse("!bogus\n", 7, &req) == ERR_UNKNOWN_REQUEST);
	CHECK(proto_parse("!call\n", 6, &req) == ERR_BAD_HEADER);
	CHECK(proto_parse("!call a x\n", 10, &req) == ERR_BAD_LENGTH);
	CHECK(
	    proto_parse("!call a 5\nab", 12, &req) == ERR_PAYLOAD_INCOMPLETE);
	CHECK(proto_parse("!call a", 7, &req) == ERR_HEADER_INCOMPLETE);
}

TEST(answer_error_lines_byte_for_byte)
{
	char buf[128];

	CHECK(proto_error(buf, sizeof(buf), 0, ERR_BUSY) == 18);
	CHECK_STR(buf, "503: Service busy\n");
	CHECK(proto_error(buf, sizeof(buf), 1, ERR_BUSY) == 20);
	CHECK_STR(buf, "!503 12\nService busy");
	proto_error(buf, sizeof(buf), 0, ERR_NO_JOB);
	CHECK_STR(buf, "404: Unknown job id\n");
	proto_error(buf, sizeof(buf), 1, ERR_NO_JOB);
	CHECK_STR(buf, "!404 14\nUnknown job id");
	proto_error(buf, sizeof(buf), 0, ERR_TOO_MANY);
	CHECK_STR(buf, "429: Too many connections from your address\n");
	proto_error(buf, sizeof(buf), 0, ERR_CUT);
	CHECK_STR(buf, "400: Request cut: more data arrived after it ended\n");
	proto_error_text(buf, sizeof(buf), 1, 502, "");
	CHECK_STR(buf, "!502 0\n");
}

TEST(answer_frame_headers_byte_for_byte)
{
	char buf[64];

	CHECK(proto_frame_header(buf, sizeof(buf), PROTO_DONE, 0) == 7);
	CHECK_STR(buf, "!200 0\n");
	proto_frame_header(buf, sizeof(buf), PROTO_ACCEPTED, 0);
	CHECK_STR(buf, "!202 0\n");
	proto_frame_header(buf, sizeof(buf), 200, 9999999999ULL);
	CHECK_STR(buf, "!200 9999999999\n");
	/* Too small a buffer: cut, never overrun, still a C string. */
	CHECK(proto_frame_header(buf, 4, 200, 5) == 3);
	CHECK_STR(buf, "!20");
}

TEST(answer_ids_and_digits)
{
	char buf[PROTO_ANSWER_MAX];

	CHECK(proto_id_answer(buf, sizeof(buf), 0, "0123456789abcdef") == 19);
	CHECK_STR(buf, "id:0123456789abcdef");
	CHECK(proto_id_answer(buf, sizeof(buf), 1, "0123456789abcdef") == 16);
	CHECK_STR(buf, "0123456789abcdef");
	CHECK(proto_state_answer(buf, sizeof(buf), 0) == 1);
	CHECK_STR(buf, "0");
	proto_state_answer(buf, sizeof(buf), 1);
	CHECK_STR(buf, "1");
	proto_state_answer(buf, sizeof(buf), 2);
	CHECK_STR(buf, "2");
	/* A failed job is done for queue:check. */
	proto_state_answer(buf, sizeof(buf), 3);
	CHECK_STR(buf, "2");
}

TEST(answer_helo_cancel_words)
{
	CHECK_STR(proto_helo_answer(VERB_HELO), "oleh");
	CHECK_STR(proto_helo_answer(VERB_HELLO), "olleh");
	CHECK_STR(proto_cancel_answer(), "cancelled");
	CHECK(proto_is_helo_answer("oleh", 4));
	CHECK(!proto_is_helo_answer("olleh", 5));
	CHECK(!proto_is_helo_answer("ole", 3));
	CHECK(!proto_is_helo_answer(NULL, 0));
	CHECK_STR(proto_state_name(0), "queued");
	CHECK_STR(proto_state_name(1), "running");
	CHECK_STR(proto_state_name(2), "done");
	CHECK_STR(proto_state_name(3), "failed");
}

TEST(answer_list_lines)
{
	char buf[128];

	CHECK(proto_list_line(buf, sizeof(buf), "0123456789abcdef", 1, "upper",
		  1700000000LL) == 42);
	CHECK_STR(buf, "0123456789abcdef running upper 1700000000\n");
	proto_list_line(buf, sizeof(buf), "fedcba9876543210", 2, "a-b_c", 0);
	CHECK_STR(buf, "fedcba9876543210 done a-b_c 0\n");
}

TEST(answer_info_queued_and_done)
{
	struct proto_info in;
	char		  buf[PROTO_INFO_MAX];
	size_t		  n;

	memset(&in, 0, sizeof(in));
	in.id = "0123456789abcdef";
	in.service = "upper";
	in.state = 0;
	in.submitted.tv_sec = 1700000000;
	in.submitted.tv_nsec = 123456789;
	in.attempts_max = 4;
	n = proto_info_format(buf, sizeof(buf), &in);
	CHECK_STR(buf,
	    "id 0123456789abcdef\nservice upper\nstate queued\n"
	    "status 0\nsubmitted 2023-11-14T22:13:20.123Z\nattempts 0/4\n");
	CHECK(n == strlen(buf));

	in.state = 2;
	in.has_result = 1;
	in.started.tv_sec = 1700000001;
	in.ended.tv_sec = 1700000002;
	in.ended.tv_nsec = 5000000;
	in.ms = 1005;
	in.how = "exit 0";
	in.code = 200;
	in.message = "ignored when 200";
	in.output_bytes = 6;
	in.cpu_user_ms = 210;
	in.cpu_sys_ms = 31;
	in.max_rss_kib = 52340;
	in.attempts = 3;
	proto_info_format(buf, sizeof(buf), &in);
	CHECK_STR(buf,
	    "id 0123456789abcdef\nservice upper\nstate done\n"
	    "status 2\nsubmitted 2023-11-14T22:13:20.123Z\n"
	    "started 2023-11-14T22:13:21.000Z\n"
	    "ended 2023-11-14T22:13:22.005Z\nruntime_ms 1005\n"
	    "result exit 0\ncode 200\nmessage -\noutput_bytes 6\n"
	    "cpu_user_ms 210\ncpu_sys_ms 31\nmax_rss_kib 52340\n"
	    "attempts 3/4\n");

	in.code = 410;
	in.how = "cancelled";
	in.message = "Job cancelled";
	in.started.tv_sec = 0;
	in.output_bytes = 0;
	proto_info_format(buf, sizeof(buf), &in);
	CHECK(strstr(buf, "started -\n") != NULL);
	CHECK(strstr(buf,
		  "\nresult cancelled\ncode 410\n"
		  "message Job cancelled\noutput_bytes 0\n") != NULL);

	in.state = 3; /* failed: a dead letter, status 2 like any done job */
	in.code = 502;
	proto_info_format(buf, sizeof(buf), &in);
	CHECK(strstr(buf, "\nstate failed\nstatus 2\n") != NULL);
	/* A job's key and dependencies come last, when it has them. */
	in.key = "order-17";
	in.after = "";
	n = proto_info_format(buf, sizeof(buf), &in);
	CHECK(n > 13 && strcmp(buf + n - 13, "key order-17\n") == 0);
	in.key = "";
	in.after = "0123456789abcdef,fedcba9876543210";
	n = proto_info_format(buf, sizeof(buf), &in);
	CHECK(strstr(buf, "\nkey ") == NULL);
	CHECK(n > 40 &&
	    strcmp(buf + n - 40,
		"after 0123456789abcdef,fedcba9876543210\n") == 0);
}

TEST(client_requests_byte_for_byte)
{
	char buf[FRAME_HEADER_MAX];

	CHECK(proto_frame_request(buf, sizeof(buf), VERB_QADD, "upper", 0) ==
	    13);
	CHECK_STR(buf, "!add upper 0\n");
	proto_frame_request(buf, sizeof(buf), VERB_QCHECK, "0123456789abcdef",
	    0);
	CHECK_STR(buf, "!check 0123456789abcdef 0\n");
	proto_frame_request(buf, sizeof(buf), VERB_HELO, NULL, 0);
	CHECK_STR(buf, "!helo 0\n");
	proto_frame_request(buf, sizeof(buf), VERB_QLIST, NULL, 0);
	CHECK_STR(buf, "!list 0\n");
	CHECK(proto_frame_request(buf, 5, VERB_STATS, NULL, 0) == -1);
	CHECK(proto_datagram_head(buf, sizeof(buf), "upper") == 6);
	CHECK_STR(buf, "upper:");
	CHECK(proto_datagram_head(buf, sizeof(buf), "up per") == -1);
	CHECK(proto_datagram_head(buf, sizeof(buf), "") == -1);
}

TEST(client_requests_are_one_request)
{
	struct job_opts o;
	char		buf[FRAME_HEADER_MAX];

	/* A word with a space or a line end would begin another request. */
	errno = 0;
	CHECK(proto_frame_request(buf, sizeof(buf), VERB_CALL,
		  "upper 0\n!call mark", 2) == -1 &&
	    errno == EINVAL);
	CHECK(proto_frame_request(buf, sizeof(buf), VERB_CALL, "up per", 2) ==
	    -1);
	CHECK(proto_frame_request_token(buf, sizeof(buf), VERB_CALL, "upper",
		  2, "t\n!call mark 2") == -1);
	CHECK(proto_frame_request_token(buf, sizeof(buf), VERB_CALL, "upper",
		  2, "t\r") == -1);
	memset(&o, 0, sizeof(o));
	strcpy(o.key, "k 1");
	CHECK(proto_frame_request_opts(buf, sizeof(buf), VERB_QADD, "upper", 2,
		  NULL, &o) == -1);
	/* Any other byte of a token is the daemon's to judge. */
	CHECK(
	    proto_frame_request_token(buf, sizeof(buf), VERB_CALL, "upper", 2,
		"s\xc3\xa9"
		"cret") > 0);
	errno = 0;
	CHECK(proto_frame_request(buf, 5, VERB_STATS, NULL, 0) == -1 &&
	    errno == ENAMETOOLONG);
}

TEST(client_reads_error_lines)
{
	size_t len = 0;
	int    code = 0;

	CHECK(proto_parse_error_line("403: Access denied\n", 19, &code,
		  &len) == 5);
	CHECK(code == 403 && len == 13);
	CHECK(proto_parse_error_line("429: Too", 8, &code, &len) == 0);
	CHECK(proto_parse_error_line("hello\n", 6, &code, &len) == -1);
	CHECK(proto_parse_error_line("403\n", 4, &code, &len) == -1);
}

TEST(names_and_reserved_verbs)
{
	char longname[SERVICE_NAME_MAX + 2];

	CHECK(proto_valid_name("a-B_9", 5));
	CHECK(!proto_valid_name("a/b", 3));
	memset(longname, 'a', sizeof(longname));
	CHECK(proto_valid_name(longname, SERVICE_NAME_MAX));
	CHECK(!proto_valid_name(longname, SERVICE_NAME_MAX + 1));
	CHECK(proto_reserved_name("helo"));
	CHECK(proto_reserved_name("HeLLo"));
	CHECK(proto_reserved_name("queue"));
	CHECK(proto_reserved_name("stats"));
	CHECK(!proto_reserved_name("upper"));
}
