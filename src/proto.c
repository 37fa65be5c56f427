/*
 * proto.c: parsing and formatting of the wire protocol.  The only file
 * that knows the format; shared by bgserviced and bgservice.
 *
 * Original form (one request per connection, whole request trimmed):
 *	SERVICE:DATA | SERVICE | helo | hello | stats
 *	queue:add:SERVICE:DATA | queue:check:id:ID | queue:get:id:ID
 *	queue:info:id:ID | queue:cancel:id:ID | queue:list
 *
 * Framed form (several requests per connection):
 *	"!" VERB [SP ARG] [SP LENGTH] LF PAYLOAD
 * answered by
 *	"!" CODE SP LENGTH LF PAYLOAD
 * where LENGTH counts the payload's bytes (absent means 0) and CODE is
 * 200 (done), 202 (accepted, no output) or an error code whose payload
 * is the error text.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proto.h"

struct verb_desc {
	const char	*framed;	/* name in the framed form */
	const char	*queue;		/* name after "queue:" or NULL */
	enum proto_verb	 verb;
	int		 arg;		/* 0 none, 1 service, 2 job id */
};

static const struct verb_desc verbs[] = {
	{ "call",	NULL,		VERB_CALL,	1 },
	{ "send",	NULL,		VERB_SEND,	1 },
	{ "helo",	NULL,		VERB_HELO,	0 },
	{ "hello",	NULL,		VERB_HELLO,	0 },
	{ "stats",	NULL,		VERB_STATS,	0 },
	{ "add",	"add",		VERB_QADD,	1 },
	{ "check",	"check",	VERB_QCHECK,	2 },
	{ "get",	"get",		VERB_QGET,	2 },
	{ "info",	"info",		VERB_QINFO,	2 },
	{ "cancel",	"cancel",	VERB_QCANCEL,	2 },
	{ "list",	"list",		VERB_QLIST,	0 },
};
#define NVERBS	(sizeof(verbs) / sizeof(verbs[0]))

#define QUEUE_PREFIX	"queue:"
#define ID_PREFIX	"id:"

static int
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
	    ch == '\v' || ch == '\f';
}

/* Trim white space from both ends of [*buf, *buf + *len). */
static void
trim(const char **buf, size_t *len)
{
	while (*len > 0 && is_space(**buf)) {
		(*buf)++;
		(*len)--;
	}
	while (*len > 0 && is_space((*buf)[*len - 1]))
		(*len)--;
}

static int
equals(const char *buf, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(buf, word, len) == 0;
}

static int
has_prefix(const char *buf, size_t len, const char *prefix)
{
	size_t	 plen = strlen(prefix);

	return len >= plen && memcmp(buf, prefix, plen) == 0;
}

int
proto_valid_id(const char *id, size_t len)
{
	size_t	 i;

	if (len != JOB_ID_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

const char *
proto_verb_name(enum proto_verb v)
{
	size_t	 i;

	for (i = 0; i < NVERBS; i++)
		if (verbs[i].verb == v)
			return verbs[i].framed;
	return "?";
}

/*
 * Parse the decimal LENGTH of a framed header.  Returns 0 on success.
 */
static int
parse_length(const char *s, size_t len, size_t *out)
{
	size_t	 v = 0, i;

	if (len == 0 || len > 10)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * Split a framed header line (without "!" and the line end) into at most
 * three words.  Returns the number of words, or -1 if there are more.
 */
static int
split_words(const char *s, size_t len, const char *w[3], size_t wl[3])
{
	size_t	 i = 0;
	int	 n = 0;

	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			return n;
		if (n == 3)
			return -1;
		w[n] = s + i;
		while (i < len && s[i] != ' ')
			i++;
		wl[n] = s + i - w[n];
		n++;
	}
}

static const struct verb_desc *
find_framed_verb(const char *w, size_t wl)
{
	size_t	 i;

	for (i = 0; i < NVERBS; i++)
		if (equals(w, wl, verbs[i].framed))
			return &verbs[i];
	return NULL;
}

/*
 * Parse a framed header (buf[0] == '!', ending before the LF at HLEN).
 * Fills the request's verb and argument and returns the payload length,
 * or -1 with *WHY set.
 */
static long long
parse_frame_header(const char *buf, size_t hlen, struct request *req,
    const char **why)
{
	const struct verb_desc	*vd;
	const char		*w[3];
	size_t			 wl[3], length = 0;
	int			 n;

	if (hlen > 0 && buf[hlen - 1] == '\r')
		hlen--;
	if ((n = split_words(buf + 1, hlen - 1, w, wl)) < 1) {
		*why = "Bad framed request header";
		return -1;
	}
	if ((vd = find_framed_verb(w[0], wl[0])) == NULL) {
		*why = "Unknown request";
		return -1;
	}
	req->verb = vd->verb;
	if (n > 1 + (vd->arg != 0) + 1 || n < 1 + (vd->arg != 0)) {
		*why = "Bad framed request header";
		return -1;
	}
	if (n == 2 + (vd->arg != 0) &&
	    parse_length(w[n - 1], wl[n - 1], &length) == -1) {
		*why = "Bad payload length";
		return -1;
	}
	if (vd->arg == 1) {
		if (!config_valid_name(w[1], wl[1])) {
			*why = "Unknown request";
			return -1;
		}
		memcpy(req->service, w[1], wl[1]);
		req->service[wl[1]] = '\0';
	} else if (vd->arg == 2) {
		if (!proto_valid_id(w[1], wl[1])) {
			*why = "Unknown job id";
			return -1;
		}
		memcpy(req->id, w[1], wl[1]);
		req->id[wl[1]] = '\0';
	}
	return (long long)length;
}

/*
 * Where does a framed request end?  Returns SCAN_COMPLETE with *REQLEN
 * set once the header and the whole payload are in BUF (or once the
 * header is known to be bad: proto_parse() then says why), else
 * SCAN_PARTIAL, with *REQLEN the total length needed if already known.
 */
static enum proto_scan
scan_framed(const char *buf, size_t len, size_t *reqlen)
{
	struct request	 req;
	const char	*nl, *why;
	long long	 plen;
	size_t		 hlen;

	nl = memchr(buf, '\n', len < FRAME_HEADER_MAX ? len :
	    FRAME_HEADER_MAX);
	if (nl == NULL) {
		*reqlen = 0;
		if (len >= FRAME_HEADER_MAX) {
			*reqlen = len;
			return SCAN_COMPLETE;
		}
		return SCAN_PARTIAL;
	}
	hlen = nl - buf;
	memset(&req, 0, sizeof(req));
	if ((plen = parse_frame_header(buf, hlen, &req, &why)) < 0) {
		*reqlen = hlen + 1;
		return SCAN_COMPLETE;
	}
	*reqlen = hlen + 1 + (size_t)plen;
	return len >= *reqlen ? SCAN_COMPLETE : SCAN_PARTIAL;
}

/*
 * Is the original-form request complete by its grammar?  helo, hello and
 * stats are; so are the queue verbs that take an id once the id is whole
 * or a line end follows it.
 */
static int
original_complete(const char *raw, size_t rawlen)
{
	const char	*buf = raw;
	size_t		 len = rawlen, i;

	trim(&buf, &len);
	if (equals(buf, len, "helo") || equals(buf, len, "hello") ||
	    equals(buf, len, "stats") || equals(buf, len, "queue:list"))
		return 1;
	if (!has_prefix(buf, len, QUEUE_PREFIX))
		return 0;
	for (i = 0; i < NVERBS; i++) {
		char	 prefix[32];

		if (verbs[i].arg != 2)
			continue;
		snprintf(prefix, sizeof(prefix), QUEUE_PREFIX "%s:" ID_PREFIX,
		    verbs[i].queue);
		if (!has_prefix(buf, len, prefix))
			continue;
		return len - strlen(prefix) >= JOB_ID_LEN ||
		    raw[rawlen - 1] == '\n';
	}
	return 0;
}

enum proto_scan
proto_scan(const char *buf, size_t len, size_t *reqlen)
{
	*reqlen = 0;
	if (len == 0)
		return SCAN_PARTIAL;
	if (buf[0] == FRAME_MARK)
		return scan_framed(buf, len, reqlen);
	*reqlen = len;
	return original_complete(buf, len) ? SCAN_COMPLETE : SCAN_PARTIAL;
}

/* queue:VERB:... of the original form. */
static int
parse_queue(const char *buf, size_t len, struct request *req,
    const char **why)
{
	const char	*rest, *colon;
	size_t		 i, rlen, vlen;

	buf += strlen(QUEUE_PREFIX);
	len -= strlen(QUEUE_PREFIX);
	colon = memchr(buf, ':', len);
	vlen = colon != NULL ? (size_t)(colon - buf) : len;
	rest = colon != NULL ? colon + 1 : buf + len;
	rlen = buf + len - rest;
	for (i = 0; i < NVERBS; i++)
		if (verbs[i].queue != NULL && equals(buf, vlen,
		    verbs[i].queue))
			break;
	if (i == NVERBS) {
		*why = "Unknown queue request";
		return 500;
	}
	req->verb = verbs[i].verb;
	switch (verbs[i].arg) {
	case 0:
		if (colon != NULL) {
			*why = "Unknown queue request";
			return 500;
		}
		return 0;
	case 1:		/* add:SERVICE:DATA */
		colon = memchr(rest, ':', rlen);
		vlen = colon != NULL ? (size_t)(colon - rest) : rlen;
		if (!config_valid_name(rest, vlen)) {
			*why = "Unknown request";
			return 400;
		}
		memcpy(req->service, rest, vlen);
		req->service[vlen] = '\0';
		req->data = colon != NULL ? colon + 1 : rest + rlen;
		req->datalen = rest + rlen - req->data;
		return 0;
	default:	/* VERB:id:ID */
		if (!has_prefix(rest, rlen, ID_PREFIX)) {
			*why = "Unknown queue request";
			return 500;
		}
		rest += strlen(ID_PREFIX);
		rlen -= strlen(ID_PREFIX);
		if (!proto_valid_id(rest, rlen)) {
			*why = "Unknown job id";
			return 404;
		}
		memcpy(req->id, rest, rlen);
		req->id[rlen] = '\0';
		return 0;
	}
}

static int
parse_original(const char *buf, size_t len, struct request *req,
    const char **why)
{
	const char	*colon;
	size_t		 nlen;

	req->length = len;
	trim(&buf, &len);
	if (equals(buf, len, "helo")) {
		req->verb = VERB_HELO;
		return 0;
	}
	if (equals(buf, len, "hello")) {
		req->verb = VERB_HELLO;
		return 0;
	}
	if (equals(buf, len, "stats")) {
		req->verb = VERB_STATS;
		return 0;
	}
	if (has_prefix(buf, len, QUEUE_PREFIX))
		return parse_queue(buf, len, req, why);
	colon = memchr(buf, ':', len);
	nlen = colon != NULL ? (size_t)(colon - buf) : len;
	if (!config_valid_name(buf, nlen)) {
		*why = "Unknown request";
		return 400;
	}
	req->verb = VERB_CALL;
	memcpy(req->service, buf, nlen);
	req->service[nlen] = '\0';
	req->data = colon != NULL ? colon + 1 : buf + len;
	req->datalen = buf + len - req->data;
	return 0;
}

/*
 * Parse a complete request (as delimited by proto_scan()).  Returns 0, or
 * an error code (400, 404, 413, 500) with *WHY saying what is wrong.
 */
int
proto_parse(const char *buf, size_t len, struct request *req,
    const char **why)
{
	const char	*nl;
	long long	 plen;
	size_t		 hlen;

	memset(req, 0, sizeof(*req));
	*why = NULL;
	if (len == 0 || buf[0] != FRAME_MARK)
		return parse_original(buf, len, req, why);

	req->framed = 1;
	nl = memchr(buf, '\n', len < FRAME_HEADER_MAX ? len :
	    FRAME_HEADER_MAX);
	if (nl == NULL) {
		req->length = len;
		*why = len >= FRAME_HEADER_MAX ? "Framed request header too long" :
		    "Incomplete framed request header";
		return 400;
	}
	hlen = nl - buf;
	req->length = hlen + 1;
	if ((plen = parse_frame_header(buf, hlen, req, why)) < 0)
		return strcmp(*why, "Unknown job id") == 0 ? 404 : 400;
	if (hlen + 1 + (size_t)plen > len) {
		*why = "Incomplete payload";
		return 400;
	}
	req->data = nl + 1;
	req->datalen = (size_t)plen;
	req->length = hlen + 1 + (size_t)plen;
	return 0;
}

/*
 * An error answer.  A text too long for BUF is shortened first, so that
 * a framed header always states the length that follows.
 */
size_t
proto_error(char *buf, size_t size, int framed, int code, const char *text)
{
	size_t	 tlen = strlen(text);
	int	 r;

	if (size == 0)
		return 0;
	for (;;) {
		if (!framed)
			r = snprintf(buf, size, "%03d: %.*s\n", code,
			    (int)tlen, text);
		else
			r = snprintf(buf, size, "%c%03d %zu\n%.*s", FRAME_MARK,
			    code, tlen, (int)tlen, text);
		if (r < 0)
			return 0;
		if ((size_t)r < size || tlen == 0)
			break;
		tlen -= (size_t)r - size + 1 < tlen ?
		    (size_t)r - size + 1 : tlen;
	}
	return (size_t)r < size ? (size_t)r : size - 1;
}

size_t
proto_frame_header(char *buf, size_t size, int code, size_t length)
{
	int	 r;

	r = snprintf(buf, size, "%c%03d %zu\n", FRAME_MARK, code, length);
	return r < 0 ? 0 : (size_t)r < size ? (size_t)r : size - 1;
}

/*
 * If an original-form answer is an error line "NNN: ...", its code (400
 * to 599), else 0.
 */
int
proto_answer_code(const char *buf, size_t len)
{
	if (len < 4 || (buf[0] != '4' && buf[0] != '5') ||
	    !isdigit((unsigned char)buf[1]) ||
	    !isdigit((unsigned char)buf[2]) || buf[3] != ':')
		return 0;
	return (buf[0] - '0') * 100 + (buf[1] - '0') * 10 + (buf[2] - '0');
}

int
proto_frame_request(char *buf, size_t size, const char *verb,
    const char *arg, size_t length)
{
	int	 r;

	if (arg != NULL)
		r = snprintf(buf, size, "%c%s %s %zu\n", FRAME_MARK, verb, arg,
		    length);
	else
		r = snprintf(buf, size, "%c%s %zu\n", FRAME_MARK, verb,
		    length);
	if (r < 0 || (size_t)r >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return r;
}

int
proto_parse_frame_answer(const char *buf, size_t len, int *code,
    size_t *length)
{
	const char	*nl, *sp;
	size_t		 hlen;

	if (len == 0 || buf[0] != FRAME_MARK)
		return -1;
	/* A header is at most "!NNN " and 10 digits and a newline. */
	if ((nl = memchr(buf, '\n', len)) == NULL)
		return len < 16 ? 0 : -1;
	hlen = nl - buf;
	if (hlen < 6 || (sp = memchr(buf, ' ', hlen)) != buf + 4)
		return -1;
	if (!isdigit((unsigned char)buf[1]) ||
	    !isdigit((unsigned char)buf[2]) ||
	    !isdigit((unsigned char)buf[3]))
		return -1;
	*code = (buf[1] - '0') * 100 + (buf[2] - '0') * 10 + (buf[3] - '0');
	if (parse_length(sp + 1, nl - sp - 1, length) == -1)
		return -1;
	return (int)hlen + 1;
}
