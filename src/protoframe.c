/*
 * protoframe.c: requests of the framed form (proto.c), whose header line
 * says the verb, its argument, the payload's length and the options:
 * where such a request ends, and what it asks.
 */
#include <ctype.h>
#include <string.h>

#include "protopriv.h"

/*
 * Parse the decimal LENGTH of a framed header.  Returns 0 on success.
 */
int
proto_parse_length(const char *s, size_t len, size_t *out)
{
	size_t v = 0, i;

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
 * FRAME_WORDS_MAX words.  Returns the number of words, or -1 if there
 * are more.
 */
static int
split_words(const char *s, size_t len, const char **w, size_t *wl)
{
	size_t i = 0;
	int    n = 0;

	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			return n;
		if (n == FRAME_WORDS_MAX)
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
	size_t i;

	for (i = 0; i < proto_nverbs; i++)
		if (proto_equals(w, wl, proto_verbs[i].framed))
			return &proto_verbs[i];
	return NULL;
}

/* A decimal integer of LEN bytes at S within [LO, HI] into *OUT. */
static int
parse_int(const char *s, size_t len, long long lo, long long hi,
    long long *out)
{
	long long v = 0;
	size_t	  i = s[0] == '-';

	if (len == i || len - i > 18)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (s[0] == '-')
		v = -v;
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/*
 * A word's value of LEN bytes at S into DST (SIZE bytes).  GRAPH: only
 * printable ASCII (a key); a token may hold any byte but a space.
 */
static int
copy_value(char *dst, size_t size, const char *s, size_t len, int graph)
{
	size_t i;

	if (len >= size)
		return -1;
	for (i = 0; graph && i < len; i++)
		if (!isgraph((unsigned char)s[i]))
			return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* after=ID[,ID...]: the jobs a job waits for. */
static int
parse_after(const char *s, size_t len, struct job_opts *o)
{
	size_t i = 0, j;

	while (i <= len) {
		for (j = i; j < len && s[j] != ','; j++)
			continue;
		if (o->nafter == JOB_AFTER_MAX ||
		    !proto_valid_id(s + i, j - i))
			return -1;
		memcpy(o->after[o->nafter], s + i, j - i);
		o->after[o->nafter++][j - i] = '\0';
		i = j + 1;
	}
	return 0;
}

/*
 * One option word NAME=VALUE of a framed header into REQ, whose verb is
 * known.  token= is any request's; the others a queue:add's only.
 * Returns -1 for a name that is none, a value that is bad, or a word
 * given twice (SEEN has a bit per name).
 */
static int
take_option(const char *w, size_t wl, struct request *req, unsigned *seen)
{
	static const char *const names[] = { "token", "priority", "delay",
		"at", "key", "after" };
	const char		*eq = memchr(w, '=', wl), *v = eq + 1;
	size_t			 vl = wl - (size_t)(v - w), i;
	struct job_opts		*o = &req->opts;
	long long		 x;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (proto_equals(w, (size_t)(eq - w), names[i]))
			break;
	if (i == sizeof(names) / sizeof(names[0]) || (*seen & 1u << i) ||
	    vl == 0 || (i > 0 && req->verb != VERB_QADD))
		return -1;
	*seen |= 1u << i;
	switch (i) {
	case 0:
		return copy_value(req->token, sizeof(req->token), v, vl, 0);
	case 1:
		o->has_priority = 1;
		if (parse_int(v, vl, -JOB_PRIORITY_MAX, JOB_PRIORITY_MAX, &x))
			return -1;
		o->priority = (int)x;
		return 0;
	case 2:
		return parse_int(v, vl, 0, JOB_DELAY_MAX, &o->delay);
	case 3:
		return parse_int(v, vl, 1, JOB_AT_MAX, &o->at);
	case 4:
		return copy_value(o->key, sizeof(o->key), v, vl, 1);
	default:
		return parse_after(v, vl, o);
	}
}

/*
 * The option words of a header, those from the first with an '=' on, into
 * REQ.  Returns the words before them, or -1 for a bad option or a word
 * without '=' after one.
 */
static int
take_options(const char **w, size_t *wl, int n, struct request *req)
{
	unsigned seen = 0;
	int	 first = n, i;

	for (i = 1; i < n; i++)
		if (memchr(w[i], '=', wl[i]) != NULL) {
			first = i;
			break;
		}
	for (i = first; i < n; i++)
		if (memchr(w[i], '=', wl[i]) == NULL ||
		    take_option(w[i], wl[i], req, &seen) == -1)
			return -1;
	return first;
}

/* The LF that ends a framed header, if it is within FRAME_HEADER_MAX. */
static const char *
header_end(const char *buf, size_t len)
{
	return memchr(buf, '\n',
	    len < FRAME_HEADER_MAX ? len : FRAME_HEADER_MAX);
}

/*
 * Parse a framed header (buf[0] == '!', ending before the LF at HLEN).
 * Fills the request's verb, argument and options and *LENGTH, the
 * payload's.
 */
static enum proto_err
parse_frame_header(const char *buf, size_t hlen, struct request *req,
    size_t *length)
{
	const struct verb_desc *vd;
	const char	       *w[FRAME_WORDS_MAX];
	size_t			wl[FRAME_WORDS_MAX];
	int			n;

	*length = 0;
	if (hlen > 0 && buf[hlen - 1] == '\r')
		hlen--;
	if ((n = split_words(buf + 1, hlen - 1, w, wl)) < 1)
		return ERR_BAD_HEADER;
	if ((vd = find_framed_verb(w[0], wl[0])) == NULL)
		return ERR_UNKNOWN_REQUEST;
	req->verb = vd->verb;
	if ((n = take_options(w, wl, n, req)) < 1)
		return ERR_BAD_HEADER;
	if (n > 1 + (vd->arg != 0) + 1 || n < 1 + (vd->arg != 0))
		return ERR_BAD_HEADER;
	if (n == 2 + (vd->arg != 0) &&
	    proto_parse_length(w[n - 1], wl[n - 1], length) == -1)
		return ERR_BAD_LENGTH;
	if (vd->arg == 1) {
		if (!proto_valid_name(w[1], wl[1]))
			return ERR_UNKNOWN_REQUEST;
		memcpy(req->service, w[1], wl[1]);
		req->service[wl[1]] = '\0';
	} else if (vd->arg == 2) {
		if (!proto_valid_id(w[1], wl[1]))
			return ERR_NO_JOB;
		memcpy(req->id, w[1], wl[1]);
		req->id[wl[1]] = '\0';
	}
	return ERR_NONE;
}

/*
 * Where does a framed request end?  Returns SCAN_COMPLETE with *REQLEN
 * set once the header and the whole payload are in BUF (or once the
 * header is known to be bad: proto_parse() then says why), else
 * SCAN_PARTIAL, with *REQLEN the total length needed if already known.
 */
enum proto_scan
proto_scan_framed(const char *buf, size_t len, size_t *reqlen)
{
	struct request req;
	const char    *nl;
	size_t	       hlen, plen;

	if ((nl = header_end(buf, len)) == NULL) {
		*reqlen = 0;
		if (len >= FRAME_HEADER_MAX) {
			*reqlen = len;
			return SCAN_COMPLETE;
		}
		return SCAN_PARTIAL;
	}
	hlen = nl - buf;
	memset(&req, 0, sizeof(req));
	if (parse_frame_header(buf, hlen, &req, &plen) != ERR_NONE) {
		*reqlen = hlen + 1;
		return SCAN_COMPLETE;
	}
	*reqlen = hlen + 1 + plen;
	return len >= *reqlen ? SCAN_COMPLETE : SCAN_PARTIAL;
}

/*
 * Parse a complete framed request (buf[0] == '!') into REQ, cleared by
 * proto_parse().  Returns ERR_NONE, or the error to answer.
 */
enum proto_err
proto_parse_framed(const char *buf, size_t len, struct request *req)
{
	enum proto_err e;
	const char    *nl;
	size_t	       hlen, plen;

	req->framed = 1;
	if ((nl = header_end(buf, len)) == NULL) {
		req->length = len;
		return len >= FRAME_HEADER_MAX ? ERR_HEADER_TOO_LONG :
						 ERR_HEADER_INCOMPLETE;
	}
	hlen = nl - buf;
	req->length = hlen + 1;
	if ((e = parse_frame_header(buf, hlen, req, &plen)) != ERR_NONE)
		return e;
	if (hlen + 1 + plen > len)
		return ERR_PAYLOAD_INCOMPLETE;
	req->data = nl + 1;
	req->datalen = plen;
	req->length = hlen + 1 + plen;
	return ERR_NONE;
}
