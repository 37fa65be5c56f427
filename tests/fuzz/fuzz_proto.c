/*
 * fuzz_proto.c: a libFuzzer target for the wire format (src/proto*.c).
 *
 * Every input is used four ways:
 *
 *  1. as the bytes a stream connection delivers, walked request by
 *     request the way conn_read() and conn_serve() do: proto_scan() finds
 *     where a request ends (or end-of-file ends it), proto_parse() parses
 *     exactly that prefix, a framed request is consumed and the walk goes
 *     on, an original-form request or an error ends the connection;
 *  2. as one UDP datagram, handed whole to proto_parse();
 *  3. as the bytes a client receives, walked answer by answer with
 *     proto_parse_frame_answer(), and given to proto_answer_code();
 *  4. as the code, length and text of answers the daemon formats with
 *     proto_error_text() and proto_frame_header(), whose output must fit
 *     and read back the same.
 *
 * It links the wire's modules alone, proto.c and its parts
 * (tests/fuzz/Makefile): the wire depends on no other module.
 *
 * Each request the parser accepts is also written again in the framed
 * form with proto_frame_request() and must parse back to the same thing.
 * Any broken invariant abort()s; ASan and UBSan catch the rest.  Every
 * piece handed to the parser is copied into a buffer of its exact size,
 * so that a read past the length it was given is caught too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* The size of conn_error()'s buffer and of child_describe()'s text. */
#define ERROR_BUF      512
#define ERROR_TEXT_MAX 255
/* Framed lengths are 1 to 10 decimal digits. */
#define LENGTH_LIMIT 10000000000ULL
/* The walk stops after this many requests on one connection. */
#define WALK_MAX 256

#define INV(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, \
			    "fuzz_proto: invariant broken: %s " \
			    "(%s:%d)\n", \
			    #cond, __FILE__, __LINE__); \
			abort(); \
		} \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * proto_parse() as a code and a text: 0 and NULL for a request, else the
 * code of the error the daemon answers and its text.
 */
static int
parse(const char *buf, size_t len, struct request *req, const char **why)
{
	enum proto_err e = proto_parse(buf, len, req);

	*why = e == ERR_NONE ? NULL : proto_err_text(e);
	return e == ERR_NONE ? 0 : proto_err_code(e);
}

/* A copy of BUF in a buffer of exactly LEN bytes (never NULL). */
static char *
dup_exact(const char *buf, size_t len)
{
	char *p;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	if (len > 0)
		memcpy(p, buf, len);
	return p;
}

static int
name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > SERVICE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
			s[i] == '_'))
			return 0;
	return 1;
}

static int
hex_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* 16 hex digits, or a node padded with '_' to 8, '-', 16 hex digits. */
static int
id_ok(const char *s)
{
	size_t n = strlen(s), i = 0;

	if (n == JOB_ID_HEX)
		return hex_ok(s, n) && proto_valid_id(s, n);
	if (n != JOB_ID_MAX || s[NODE_NAME_MAX] != '-')
		return 0;
	while (i < NODE_NAME_MAX &&
	    ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		(s[i] >= '0' && s[i] <= '9')))
		i++;
	if (i == 0)
		return 0;
	for (; i < NODE_NAME_MAX; i++)
		if (s[i] != '_')
			return 0;
	return hex_ok(s + NODE_NAME_MAX + 1, JOB_ID_HEX) &&
	    proto_valid_id(s, n);
}

/* What argument a verb takes: 0 none, 1 a service, 2 a job id. */
static int
verb_arg(enum proto_verb v)
{
	switch (v) {
	case VERB_CALL:
	case VERB_SEND:
	case VERB_QADD:
		return 1;
	case VERB_QCHECK:
	case VERB_QGET:
	case VERB_QINFO:
	case VERB_QCANCEL:
	case VERB_QRETRY:
		return 2;
	case VERB_HELO:
	case VERB_HELLO:
	case VERB_QLIST:
	case VERB_STATS:
	case VERB_NODE:
		return 0;
	}
	abort(); /* not a verb at all */
}

/* The invariants of a request that proto_parse() accepted. */
static void
check_request(const char *buf, size_t len, const struct request *req)
{
	int arg = verb_arg(req->verb);

	INV(req->framed == (len > 0 && buf[0] == FRAME_MARK));
	INV(req->length > 0 && req->length <= len);
	INV(req->framed || req->verb != VERB_SEND);
	INV(memchr(req->service, '\0', sizeof(req->service)) != NULL);
	INV(memchr(req->id, '\0', sizeof(req->id)) != NULL);
	INV(arg == 1 ? name_ok(req->service) : req->service[0] == '\0');
	INV(arg == 2 ? id_ok(req->id) : req->id[0] == '\0');
	if (req->data == NULL)
		INV(req->datalen == 0);
	else {
		INV(req->data >= buf && req->data <= buf + len);
		INV(req->datalen <= (size_t)(buf + len - req->data));
		INV(req->data + req->datalen <= buf + req->length);
	}
	if (req->framed) {
		const char *nl = memchr(buf, '\n', req->length);

		/* The header line, LF included, is at most 256 bytes. */
		INV(nl != NULL && nl - buf + 1 <= FRAME_HEADER_MAX);
		INV(req->data == nl + 1);
		INV(req->length == (size_t)(nl - buf) + 1 + req->datalen);
		INV(req->datalen < LENGTH_LIMIT);
	} else {
		/* One per connection: it uses all it was given. */
		INV(req->length == len);
		INV(arg == 1 || req->datalen == 0);
	}
}

/*
 * Write REQ again in the framed form, as the client would send it; it
 * must scan as complete and parse back to the same request.
 */
static void
check_reframe(const struct request *req)
{
	struct request again;
	const char    *why, *arg = NULL;
	char	       hdr[FRAME_HEADER_MAX], *p;
	size_t	       total, reqlen;
	int	       hlen;

	if (verb_arg(req->verb) == 1)
		arg = req->service;
	else if (verb_arg(req->verb) == 2)
		arg = req->id;
	hlen = proto_frame_request(hdr, sizeof(hdr), req->verb, arg,
	    req->datalen);
	INV(hlen > 0 && (size_t)hlen < sizeof(hdr));
	INV(hdr[0] == FRAME_MARK && hdr[hlen - 1] == '\n');
	total = (size_t)hlen + req->datalen;
	if ((p = malloc(total)) == NULL)
		abort();
	memcpy(p, hdr, (size_t)hlen);
	if (req->datalen > 0)
		memcpy(p + hlen, req->data, req->datalen);

	INV(proto_scan(p, total, &reqlen) == SCAN_COMPLETE);
	INV(reqlen == total);
	INV(parse(p, total, &again, &why) == 0 && why == NULL);
	INV(again.framed && again.verb == req->verb);
	INV(strcmp(again.service, req->service) == 0);
	INV(strcmp(again.id, req->id) == 0);
	INV(again.length == total && again.datalen == req->datalen);
	INV(again.data == p + hlen);
	INV(req->datalen == 0 ||
	    memcmp(again.data, req->data, req->datalen) == 0);
	free(p);
}

/*
 * proto_error_text() with TEXT must fit its buffer; in a buffer as large as
 * conn_error()'s and a text as long as child_describe()'s at most, the
 * answer must read back whole.
 */
static void
check_error(int framed, int code, const char *text, size_t small)
{
	char   msg[ERROR_BUF], tiny[64];
	size_t n, tlen = strlen(text), plen;
	int    h, back;

	INV(small > 0 && small <= sizeof(tiny));
	n = proto_error_text(tiny, small, framed, code, text);
	INV(n < small && tiny[n] == '\0');

	INV(tlen <= ERROR_TEXT_MAX);
	n = proto_error_text(msg, sizeof(msg), framed, code, text);
	INV(n < sizeof(msg) && msg[n] == '\0');
	if (!framed) {
		INV(n == 3 + 2 + tlen + 1 && msg[n - 1] == '\n');
		INV(memcmp(msg + 5, text, tlen) == 0);
		INV(proto_answer_code(msg, n) ==
		    (code >= 400 && code <= 599 ? code : 0));
		return;
	}
	h = proto_parse_frame_answer(msg, n, &back, &plen);
	INV(h > 0 && back == code && plen == tlen);
	INV((size_t)h + plen == n);
	INV(memcmp(msg + h, text, tlen) == 0);
}

/* proto_frame_header() must read back through the client's parser. */
static void
check_frame_header(int code, size_t length)
{
	char   hdr[64];
	size_t n, back;
	int    h, bcode;

	n = proto_frame_header(hdr, sizeof(hdr), code, length);
	INV(n > 0 && n < sizeof(hdr) && hdr[n] == '\0');
	INV(hdr[0] == FRAME_MARK && hdr[n - 1] == '\n');
	if (length >= LENGTH_LIMIT)
		return; /* beyond any answer the daemon sends */
	h = proto_parse_frame_answer(hdr, n, &bcode, &back);
	INV(h == (int)n && bcode == code && back == length);
	/* Any prefix is "not yet whole", never an error. */
	INV(proto_parse_frame_answer(hdr, n - 1, &bcode, &back) == 0);
}

/*
 * Scanning a framed request that parsed must not depend on how the
 * bytes arrived: no shorter prefix is complete, and once the header is
 * whole every prefix already knows the total length.
 */
static void
check_framed_prefixes(const char *buf, size_t reqlen)
{
	const char *nl = memchr(buf, '\n', reqlen);
	size_t	    k, hend, plen;
	char	   *p;

	INV(nl != NULL);
	hend = (size_t)(nl - buf) + 1;
	for (k = 1; k < reqlen; k++) {
		/* The header byte by byte, then a few payload lengths. */
		if (k > hend + 2 && k != reqlen - 1 &&
		    k != (hend + reqlen) / 2)
			continue;
		p = dup_exact(buf, k);
		INV(proto_scan(p, k, &plen) == SCAN_PARTIAL);
		INV(k < hend ? plen == 0 : plen == reqlen);
		free(p);
	}
}

/*
 * The walk of a stream connection, as conn_serve() does it, with the
 * whole input already received and end-of-file after it.
 */
static void
walk_stream(const char *data, size_t size)
{
	struct request	req;
	enum proto_scan sc;
	const char     *why;
	size_t		off = 0, left, reqlen;
	char	       *p;
	int		code, n;

	for (n = 0; off < size && n < WALK_MAX; n++) {
		left = size - off;
		p = dup_exact(data + off, left);
		sc = proto_scan(p, left, &reqlen);
		INV(sc == SCAN_PARTIAL || sc == SCAN_COMPLETE);
		if (p[0] != FRAME_MARK)
			INV(reqlen == left);
		else if (sc == SCAN_COMPLETE)
			INV(reqlen > 0 && reqlen <= left);
		else if (sc == SCAN_PARTIAL)
			INV((reqlen == 0 && left < FRAME_HEADER_MAX &&
				memchr(p, '\n', left) == NULL) ||
			    reqlen > left);
		if (sc != SCAN_COMPLETE)
			reqlen = left; /* end-of-file or quiet period */
		free(p);

		p = dup_exact(data + off, reqlen);
		code = parse(p, reqlen, &req, &why);
		if (code != 0) {
			INV(code == 400 || code == 404 || code == 413 ||
			    code == 500);
			INV(why != NULL && why[0] != '\0');
			INV(strlen(why) <= ERROR_TEXT_MAX);
			INV(req.framed == (p[0] == FRAME_MARK));
			check_error(req.framed, code, why, 1 + (size_t)n % 40);
			free(p);
			return; /* answered, connection closed */
		}
		INV(why == NULL);
		check_request(p, reqlen, &req);
		check_reframe(&req);
		if (req.framed && sc == SCAN_COMPLETE) {
			INV(req.length == reqlen);
			check_framed_prefixes(p, reqlen);
		}
		free(p);
		if (!req.framed)
			return; /* one per connection */
		off += req.length;
	}
}

/* One datagram: conn.c's rules do not apply, the parser sees it all. */
static void
one_datagram(const char *data, size_t size)
{
	struct request req;
	const char    *why;
	char	      *p;
	int	       code;

	if (size == 0)
		return; /* recvfrom() of nothing is not parsed */
	p = dup_exact(data, size);
	code = parse(p, size, &req, &why);
	if (code == 0)
		check_request(p, size, &req);
	else
		INV(why != NULL && req.length <= size);
	free(p);
}

/* What the client makes of DATA as the daemon's answers. */
static void
walk_answers(const char *data, size_t size)
{
	size_t off = 0, left, length;
	char  *p;
	int    h, code, n;

	for (n = 0; off < size && n < WALK_MAX; n++) {
		left = size - off;
		p = dup_exact(data + off, left);
		code = proto_answer_code(p, left);
		INV(code == 0 || (code >= 400 && code <= 599 && p[3] == ':'));
		code = -1;
		length = (size_t)-1;
		h = proto_parse_frame_answer(p, left, &code, &length);
		INV(h >= -1 && (h < 0 || (size_t)h <= left));
		if (h == 0)
			INV(p[0] == FRAME_MARK &&
			    memchr(p, '\n', left) == NULL);
		if (h > 0) {
			INV(h >= 7 && p[h - 1] == '\n');
			INV(memchr(p, '\n', (size_t)h - 1) == NULL);
			INV(code >= 0 && code <= 999);
			INV(length < LENGTH_LIMIT);
			check_frame_header(code, length);
		}
		free(p);
		if (h <= 0 || length > left - (size_t)h)
			return;
		off += (size_t)h + length;
	}
}

/* Answers formatted from the input's bytes. */
static void
format_answers(const uint8_t *data, size_t size)
{
	char	 text[ERROR_TEXT_MAX + 1];
	uint64_t length = 0;
	size_t	 i, tlen;
	int	 code;

	if (size < 3)
		return;
	code = 100 + (data[0] << 8 | data[1]) % 900;
	for (i = 2; i < size && i < 10; i++)
		length = length << 8 | data[i];
	check_frame_header(code, (size_t)length);
	check_frame_header(code, (size_t)(length % LENGTH_LIMIT));
	tlen = size - 2 < ERROR_TEXT_MAX ? size - 2 : ERROR_TEXT_MAX;
	memcpy(text, data + 2, tlen);
	text[tlen] = '\0'; /* a C string: up to its first NUL */
	check_error(0, code, text, 1 + data[0] % 64);
	check_error(1, code, text, 1 + data[1] % 64);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t reqlen = 1;

	/* conn_read() scans its buffer before the first byte came. */
	INV(proto_scan(NULL, 0, &reqlen) == SCAN_PARTIAL && reqlen == 0);
	walk_stream((const char *)data, size);
	one_datagram((const char *)data, size);
	walk_answers((const char *)data, size);
	format_answers(data, size);
	return 0;
}
