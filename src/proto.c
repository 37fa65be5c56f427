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
 *	"!" VERB [SP ARG] [SP LENGTH] *(SP NAME "=" VALUE) LF PAYLOAD
 * (options: token= on any request; priority=, delay=, at=, key= and
 * after= on an add, see struct job_opts)
 * ("!node" is framed only: the daemon's node name, empty if none)
 * answered by
 *	"!" CODE SP LENGTH LF PAYLOAD
 * where LENGTH counts the payload's bytes (absent means 0) and CODE is
 * 200 (done), 202 (accepted, no output) or an error code whose payload
 * is the error text.
 *
 * Answers: helo -> oleh, hello -> olleh, queue:add -> id:ID (framed: ID),
 * queue:check -> a digit, queue:cancel -> cancelled, queue:info -> "key
 * value" lines, queue:list -> "ID STATE SERVICE SUBMITTED" lines, and an
 * error -> "NNN: text" LF (framed: "!NNN LENGTH" LF text).  The codes and
 * texts of the daemon's errors are the table errors[] below.
 *
 * Nothing here needs another module: proto.o links alone (the unit tests
 * of tests/unit/test_proto.c and the fuzz target do).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "proto.h"

/*
 * The daemon's errors: code and text of each enum proto_err.  The texts
 * are those of bgserviced(8), Errors.
 */
static const struct {
	enum proto_err err;
	int	       code;
	const char    *text;
} errors[] = {
	{ ERR_NONE, 200, "OK" },
	{ ERR_UNKNOWN_REQUEST, 400, "Unknown request" },
	{ ERR_UNKNOWN_QUEUE, 500, "Unknown queue request" },
	{ ERR_BAD_HEADER, 400, "Bad framed request header" },
	{ ERR_BAD_LENGTH, 400, "Bad payload length" },
	{ ERR_HEADER_TOO_LONG, 400, "Framed request header too long" },
	{ ERR_HEADER_INCOMPLETE, 400, "Incomplete framed request header" },
	{ ERR_PAYLOAD_INCOMPLETE, 400, "Incomplete payload" },
	{ ERR_CUT, 400, "Request cut: more data arrived after it ended" },
	{ ERR_TOKEN, 401, "Token missing or wrong" },
	{ ERR_DENIED, 403, "Access denied" },
	{ ERR_NO_JOB, 404, "Unknown job id" },
	{ ERR_DEP_UNKNOWN, 404, "Unknown dependency" },
	{ ERR_NOT_TCP, 405, "Service is not available over tcp" },
	{ ERR_TIMEOUT, 408, "Request timeout" },
	{ ERR_JOB_DONE, 409, "Job already done" },
	{ ERR_JOB_CANCELLED, 410, "Job cancelled" },
	{ ERR_JOB_NOT_FAILED, 409, "Job has not failed" },
	{ ERR_TOO_LARGE, 413, "Request too large" },
	{ ERR_TOO_MANY, 429, "Too many connections from your address" },
	{ ERR_RATE, 429, "Too many requests" },
	{ ERR_QUOTA, 429, "Too many jobs queued from your address" },
	{ ERR_INTERNAL, 500, "Internal error" },
	{ ERR_CANNOT_WAIT, 500, "Cannot wait for the job" },
	{ ERR_CANNOT_LIST, 500, "Cannot list the spool" },
	{ ERR_NO_STATS, 500, "No statistics" },
	{ ERR_CANNOT_QUEUE, 500, "Cannot queue the job" },
	{ ERR_CANNOT_CANCEL, 500, "Cannot cancel the job" },
	{ ERR_JOB_FAILED, 500, "Job runner failed" },
	{ ERR_JOB_UNREADABLE, 500, "Cannot read the job's request" },
	{ ERR_JOB_UNSTORED, 500,
	    "Job done, but its result could not be "
	    "stored" },
	{ ERR_DEP_FAILED, 500, "Dependency failed" },
	{ ERR_BUSY, 503, "Service busy" },
	{ ERR_QUEUE_FULL, 503, "Queue full" },
	{ ERR_SHUTDOWN, 503, "The daemon is shutting down" },
	{ ERR_JOB_INTERRUPTED, 503,
	    "Job interrupted: the daemon stopped "
	    "while it ran" },
	{ ERR_RUN_CHARSET, 415, "Data cannot be converted" },
	{ ERR_RUN_OUTPUT, 502, "Service output is not valid" },
	{ ERR_RUN_START, 500, "Cannot run service" },
	{ ERR_RUN_FAILED, 502, "Service failed" },
	{ ERR_RUN_STOPPED, 503, "Service was stopped" },
	{ ERR_RUN_TIMEOUT, 504, "Service timed out" },
	{ ERR_RUN_OVERFLOW, 507,
	    "Service output exceeds the max_output "
	    "limit" },
};

#define NERRORS (sizeof(errors) / sizeof(errors[0]))

/* Names a service may not take: they are verbs of the original form. */
static const char *const reserved_names[] = { "helo", "hello", "queue",
	"stats", NULL };

/*
 * The words of info and list, by state; the queue:check digits are the
 * first three (a failed job is done: 2).
 */
static const char *const state_names[] = { "queued", "running", "done",
	"failed" };
#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

struct verb_desc {
	const char     *framed; /* name in the framed form */
	const char     *queue;	/* name after "queue:" or NULL */
	enum proto_verb verb;
	int		arg; /* 0 none, 1 service, 2 job id */
};

static const struct verb_desc verbs[] = {
	{ "call", NULL, VERB_CALL, 1 },
	{ "send", NULL, VERB_SEND, 1 },
	{ "helo", NULL, VERB_HELO, 0 },
	{ "hello", NULL, VERB_HELLO, 0 },
	{ "stats", NULL, VERB_STATS, 0 },
	{ "add", "add", VERB_QADD, 1 },
	{ "check", "check", VERB_QCHECK, 2 },
	{ "get", "get", VERB_QGET, 2 },
	{ "info", "info", VERB_QINFO, 2 },
	{ "cancel", "cancel", VERB_QCANCEL, 2 },
	{ "list", "list", VERB_QLIST, 0 },
	{ "node", NULL, VERB_NODE, 0 },
	{ "retry", "retry", VERB_QRETRY, 2 },
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

#define QUEUE_PREFIX  "queue:"
#define ID_PREFIX     "id:"
#define HELO_ANSWER   "oleh"
#define HELLO_ANSWER  "olleh"
#define CANCEL_ANSWER "cancelled"

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
	size_t plen = strlen(prefix);

	return len >= plen && memcmp(buf, prefix, plen) == 0;
}

static int
is_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

/* A node name: A-Z a-z 0-9, NODE_NAME_MAX at most. */
int
proto_valid_node(const char *node, size_t len)
{
	size_t i;

	if (len == 0 || len > NODE_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!is_alnum(node[i]))
			return 0;
	return 1;
}

/*
 * The length of the node of a tagged id ("web1____-" + hex), or 0 if ID
 * does not begin with a node, its padding and the separator.
 */
static size_t
node_length(const char *id, size_t len)
{
	size_t n = 0, i;

	if (len < JOB_NODE_PREFIX || id[NODE_NAME_MAX] != JOB_NODE_SEP)
		return 0;
	while (n < NODE_NAME_MAX && is_alnum(id[n]))
		n++;
	for (i = n; i < NODE_NAME_MAX; i++)
		if (id[i] != JOB_NODE_PAD)
			return 0;
	return n;
}

/* A job id of either form (proto.h). */
int
proto_valid_id(const char *id, size_t len)
{
	if (len == JOB_ID_HEX)
		return is_hex(id, len);
	if (len != JOB_ID_MAX || node_length(id, len) == 0)
		return 0;
	return is_hex(id + JOB_NODE_PREFIX, JOB_ID_HEX);
}

/*
 * Write the id of the random number R for NODE (NULL or "": none) into
 * BUF.  Returns its length, or -1 (EINVAL) for a bad node or a BUF too
 * small.
 */
int
proto_make_id(char *buf, size_t size, const char *node, uint64_t r)
{
	size_t nlen = node != NULL ? strlen(node) : 0;
	int    n;

	if (nlen > 0 && !proto_valid_node(node, nlen)) {
		errno = EINVAL;
		return -1;
	}
	if (nlen == 0)
		n = snprintf(buf, size, "%016" PRIx64, r);
	else
		n = snprintf(buf, size, "%s%.*s%c%016" PRIx64, node,
		    (int)(NODE_NAME_MAX - nlen), "________", JOB_NODE_SEP, r);
	if (n < 0 || (size_t)n >= size) {
		errno = EINVAL;
		return -1;
	}
	return n;
}

/*
 * The node of a job id into NODE ("" for an id without one, or that is
 * not an id); its length.
 */
size_t
proto_id_node(const char *id, char *node, size_t size)
{
	size_t len = strlen(id), n = 0;

	if (proto_valid_id(id, len))
		n = node_length(id, len);
	if (size == 0)
		return 0;
	if (n >= size)
		n = size - 1;
	memcpy(node, id, n);
	node[n] = '\0';
	return n;
}

/* A service name: A-Z a-z 0-9 - _, SERVICE_NAME_MAX at most. */
int
proto_valid_name(const char *name, size_t len)
{
	size_t i;
	char   ch;

	if (len == 0 || len > SERVICE_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

/* Whether NAME, in any case, is a verb that no service may take. */
int
proto_reserved_name(const char *name)
{
	size_t i;

	for (i = 0; reserved_names[i] != NULL; i++)
		if (strcasecmp(name, reserved_names[i]) == 0)
			return 1;
	return 0;
}

/* The table's entry for E; one that is missing is an internal error. */
static size_t
err_entry(enum proto_err e)
{
	size_t i;

	for (i = 0; i < NERRORS; i++)
		if (errors[i].err == e)
			return i;
	for (i = 0; i < NERRORS; i++)
		if (errors[i].err == ERR_INTERNAL)
			break;
	return i;
}

int
proto_err_code(enum proto_err e)
{
	return errors[err_entry(e)].code;
}

const char *
proto_err_text(enum proto_err e)
{
	return errors[err_entry(e)].text;
}

const char *
proto_verb_name(enum proto_verb v)
{
	size_t i;

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

	for (i = 0; i < NVERBS; i++)
		if (equals(w, wl, verbs[i].framed))
			return &verbs[i];
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
		if (equals(w, (size_t)(eq - w), names[i]))
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
	    parse_length(w[n - 1], wl[n - 1], length) == -1)
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
static enum proto_scan
scan_framed(const char *buf, size_t len, size_t *reqlen)
{
	struct request req;
	const char    *nl;
	size_t	       hlen, plen;

	nl =
	    memchr(buf, '\n', len < FRAME_HEADER_MAX ? len : FRAME_HEADER_MAX);
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
	if (parse_frame_header(buf, hlen, &req, &plen) != ERR_NONE) {
		*reqlen = hlen + 1;
		return SCAN_COMPLETE;
	}
	*reqlen = hlen + 1 + plen;
	return len >= *reqlen ? SCAN_COMPLETE : SCAN_PARTIAL;
}

/*
 * Is the id that begins at ID whole?  An id without a node is whole at
 * its 16th character unless it is the start of one with a node ('-'
 * after the node): those are whole at JOB_ID_MAX.
 */
static int
id_complete(const char *id, size_t len)
{
	if (len >= JOB_ID_MAX)
		return 1;
	return len >= JOB_ID_HEX && len > NODE_NAME_MAX &&
	    id[NODE_NAME_MAX] != JOB_NODE_SEP;
}

/*
 * Is the original-form request complete by its grammar?  helo, hello and
 * stats are; so are the queue verbs that take an id once the id is whole
 * or a line end follows it.
 */
static int
original_complete(const char *raw, size_t rawlen)
{
	const char *buf = raw;
	size_t	    len = rawlen, i;

	trim(&buf, &len);
	if (equals(buf, len, "helo") || equals(buf, len, "hello") ||
	    equals(buf, len, "stats") || equals(buf, len, "queue:list"))
		return 1;
	if (!has_prefix(buf, len, QUEUE_PREFIX))
		return 0;
	for (i = 0; i < NVERBS; i++) {
		char prefix[32];

		if (verbs[i].arg != 2)
			continue;
		snprintf(prefix, sizeof(prefix), QUEUE_PREFIX "%s:" ID_PREFIX,
		    verbs[i].queue);
		if (!has_prefix(buf, len, prefix))
			continue;
		return id_complete(buf + strlen(prefix),
			   len - strlen(prefix)) ||
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
static enum proto_err
parse_queue(const char *buf, size_t len, struct request *req)
{
	const char *rest, *colon;
	size_t	    i, rlen, vlen;

	buf += strlen(QUEUE_PREFIX);
	len -= strlen(QUEUE_PREFIX);
	colon = memchr(buf, ':', len);
	vlen = colon != NULL ? (size_t)(colon - buf) : len;
	rest = colon != NULL ? colon + 1 : buf + len;
	rlen = buf + len - rest;
	for (i = 0; i < NVERBS; i++)
		if (verbs[i].queue != NULL &&
		    equals(buf, vlen, verbs[i].queue))
			break;
	if (i == NVERBS)
		return ERR_UNKNOWN_QUEUE;
	req->verb = verbs[i].verb;
	switch (verbs[i].arg) {
	case 0:
		return colon != NULL ? ERR_UNKNOWN_QUEUE : ERR_NONE;
	case 1: /* add:SERVICE:DATA */
		colon = memchr(rest, ':', rlen);
		vlen = colon != NULL ? (size_t)(colon - rest) : rlen;
		if (!proto_valid_name(rest, vlen))
			return ERR_UNKNOWN_REQUEST;
		memcpy(req->service, rest, vlen);
		req->service[vlen] = '\0';
		req->data = colon != NULL ? colon + 1 : rest + rlen;
		req->datalen = rest + rlen - req->data;
		return ERR_NONE;
	default: /* VERB:id:ID */
		if (!has_prefix(rest, rlen, ID_PREFIX))
			return ERR_UNKNOWN_QUEUE;
		rest += strlen(ID_PREFIX);
		rlen -= strlen(ID_PREFIX);
		if (!proto_valid_id(rest, rlen))
			return ERR_NO_JOB;
		memcpy(req->id, rest, rlen);
		req->id[rlen] = '\0';
		return ERR_NONE;
	}
}

static enum proto_err
parse_original(const char *buf, size_t len, struct request *req)
{
	const char *colon;
	size_t	    nlen;

	req->length = len;
	trim(&buf, &len);
	if (equals(buf, len, "helo")) {
		req->verb = VERB_HELO;
		return ERR_NONE;
	}
	if (equals(buf, len, "hello")) {
		req->verb = VERB_HELLO;
		return ERR_NONE;
	}
	if (equals(buf, len, "stats")) {
		req->verb = VERB_STATS;
		return ERR_NONE;
	}
	if (has_prefix(buf, len, QUEUE_PREFIX))
		return parse_queue(buf, len, req);
	colon = memchr(buf, ':', len);
	nlen = colon != NULL ? (size_t)(colon - buf) : len;
	if (!proto_valid_name(buf, nlen))
		return ERR_UNKNOWN_REQUEST;
	req->verb = VERB_CALL;
	memcpy(req->service, buf, nlen);
	req->service[nlen] = '\0';
	req->data = colon != NULL ? colon + 1 : buf + len;
	req->datalen = buf + len - req->data;
	return ERR_NONE;
}

/*
 * Parse a complete request (as delimited by proto_scan()).  Returns
 * ERR_NONE, or the error to answer.
 */
enum proto_err
proto_parse(const char *buf, size_t len, struct request *req)
{
	enum proto_err e;
	const char    *nl;
	size_t	       hlen, plen;

	memset(req, 0, sizeof(*req));
	if (len == 0 || buf[0] != FRAME_MARK)
		return parse_original(buf, len, req);

	req->framed = 1;
	nl =
	    memchr(buf, '\n', len < FRAME_HEADER_MAX ? len : FRAME_HEADER_MAX);
	if (nl == NULL) {
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

/*
 * An error answer for a code and text.  A text too long for BUF is
 * shortened first, so that a framed header always states the length
 * that follows.
 */
size_t
proto_error_text(char *buf, size_t size, int framed, int code,
    const char *text)
{
	size_t tlen = strlen(text);
	int    r;

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
		tlen -=
		    (size_t)r - size + 1 < tlen ? (size_t)r - size + 1 : tlen;
	}
	return (size_t)r < size ? (size_t)r : size - 1;
}

/* The answer to one of the daemon's errors. */
size_t
proto_error(char *buf, size_t size, int framed, enum proto_err e)
{
	return proto_error_text(buf, size, framed, proto_err_code(e),
	    proto_err_text(e));
}

/*
 * An error answer that says after how many seconds, RETRY, a request
 * will be admitted: in the text, and framed also as a last word
 * "retry=RETRY" of the header.
 */
size_t
proto_error_retry(char *buf, size_t size, int framed, enum proto_err e,
    int retry)
{
	char text[128];
	int  t, r;

	t = snprintf(text, sizeof(text), "%s: retry after %d s",
	    proto_err_text(e), retry);
	if (t < 0 || (size_t)t >= sizeof(text))
		return 0;
	if (!framed)
		r = snprintf(buf, size, "%03d: %s\n", proto_err_code(e), text);
	else
		r = snprintf(buf, size, "%c%03d %d retry=%d\n%s", FRAME_MARK,
		    proto_err_code(e), t, retry, text);
	return r < 0 || (size_t)r >= size ? 0 : (size_t)r;
}

size_t
proto_frame_header(char *buf, size_t size, int code, size_t length)
{
	int r;

	r = snprintf(buf, size, "%c%03d %zu\n", FRAME_MARK, code, length);
	return r < 0 ? 0 : (size_t)r < size ? (size_t)r : size - 1;
}

/* The answer to helo ("oleh") or to hello ("olleh"). */
const char *
proto_helo_answer(enum proto_verb v)
{
	return v == VERB_HELO ? HELO_ANSWER : HELLO_ANSWER;
}

/* The answer to queue:add: "id:ID" in the original form, ID framed. */
size_t
proto_id_answer(char *buf, size_t size, int framed, const char *id)
{
	int r;

	r = snprintf(buf, size, "%s%s", framed ? "" : ID_PREFIX, id);
	return r < 0 ? 0 : (size_t)r < size ? (size_t)r : size - 1;
}

/* The answer to queue:check: the state's digit, 0, 1 or 2. */
size_t
proto_state_answer(char *buf, size_t size, int state)
{
	int r;

	r = snprintf(buf, size, "%d", state > 2 ? 2 : state);
	return r < 0 ? 0 : (size_t)r < size ? (size_t)r : size - 1;
}

/* The answer to queue:cancel. */
const char *
proto_cancel_answer(void)
{
	return CANCEL_ANSWER;
}

/* "queued", "running", "done" or "failed". */
const char *
proto_state_name(int state)
{
	return state >= 0 && (size_t)state < NSTATES ? state_names[state] :
						       "?";
}

/*
 * Does a job whose result has CODE count as failed (a dead letter)?  Any
 * end but success (200) and a cancel (410).
 */
int
proto_code_failed(int code)
{
	return code != PROTO_DONE && code != proto_err_code(ERR_JOB_CANCELLED);
}

/* One line of the answer to queue:list: "ID STATE SERVICE SUBMITTED". */
size_t
proto_list_line(char *buf, size_t size, const char *id, int state,
    const char *service, long long submitted)
{
	int r;

	r = snprintf(buf, size, "%s %s %s %lld\n", id, proto_state_name(state),
	    service, submitted);
	return r < 0 ? 0 : (size_t)r < size ? (size_t)r : size - 1;
}

/* A time of queue:info: ISO 8601 in UTC to the millisecond, or "-". */
static void
ts_iso(char *buf, size_t size, const struct timespec *ts)
{
	struct tm tm;
	char	  t[32];

	if (ts->tv_sec == 0 || gmtime_r(&ts->tv_sec, &tm) == NULL) {
		snprintf(buf, size, "-");
		return;
	}
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03dZ", t,
	    (int)(ts->tv_nsec / 1000000 % 1000));
}

/* The lines of queue:info for a job's key and dependencies, if any. */
static int
info_options(char *buf, size_t size, const struct proto_info *in)
{
	int r = 0, n;

	if (in->key != NULL && in->key[0] != '\0' &&
	    (r = snprintf(buf, size, "key %s\n", in->key)) < 0)
		return 0;
	if ((size_t)r >= size || in->after == NULL || in->after[0] == '\0')
		return r;
	n = snprintf(buf + r, size - r, "after %s\n", in->after);
	return n < 0 ? r : r + n;
}

/*
 * The answer to queue:info: "key value" lines, those of the result only
 * once the job is done; then the job's key and dependencies.
 */
size_t
proto_info_format(char *buf, size_t size, const struct proto_info *in)
{
	char t1[48], t2[48], t3[48];
	int  r;

	ts_iso(t1, sizeof(t1), &in->submitted);
	if (!in->has_result)
		r = snprintf(buf, size,
		    "id %s\nservice %s\nstate %s\n"
		    "status %d\nsubmitted %s\nattempts %d/%d\n",
		    in->id, in->service, proto_state_name(in->state),
		    in->state > 2 ? 2 : in->state, t1, in->attempts,
		    in->attempts_max);
	else {
		ts_iso(t2, sizeof(t2), &in->started);
		ts_iso(t3, sizeof(t3), &in->ended);
		r = snprintf(buf, size,
		    "id %s\nservice %s\nstate %s\n"
		    "status %d\nsubmitted %s\nstarted %s\nended %s\n"
		    "runtime_ms %lld\nresult %s\ncode %d\nmessage %s\n"
		    "output_bytes %zu\ncpu_user_ms %lld\ncpu_sys_ms %lld\n"
		    "max_rss_kib %ld\nattempts %d/%d\n",
		    in->id, in->service, proto_state_name(in->state),
		    in->state > 2 ? 2 : in->state, t1, t2, t3, in->ms, in->how,
		    in->code, in->code == PROTO_DONE ? "-" : in->message,
		    in->output_bytes, in->cpu_user_ms, in->cpu_sys_ms,
		    in->max_rss_kib, in->attempts, in->attempts_max);
	}
	if (r >= 0 && (size_t)r < size)
		r += info_options(buf + r, size - r, in);
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

/* Client side: the header of a framed request for VERB. */
int
proto_frame_request(char *buf, size_t size, enum proto_verb verb,
    const char *arg, size_t length)
{
	return proto_frame_request_token(buf, size, verb, arg, length, NULL);
}

/* The same, presenting TOKEN (NULL: none). */
int
proto_frame_request_token(char *buf, size_t size, enum proto_verb verb,
    const char *arg, size_t length, const char *token)
{
	return proto_frame_request_opts(buf, size, verb, arg, length, token,
	    NULL);
}

/* Append one " NAME=VALUE" option word to the header in BUF at *LEN. */
static void
add_word(char *buf, size_t size, size_t *len, const char *name,
    const char *value)
{
	int r;

	if (*len >= size)
		return;
	r = snprintf(buf + *len, size - *len, " %s=%s", name, value);
	*len += r < 0 ? size : (size_t)r;
}

/* The option words of O (NULL: none) after the header in BUF at *LEN. */
static void
add_opts(char *buf, size_t size, size_t *len, const struct job_opts *o)
{
	char   num[24], after[JOB_AFTER_MAX * (JOB_ID_MAX + 1)];
	size_t alen;
	int    i;

	if (o == NULL)
		return;
	if (o->has_priority) {
		snprintf(num, sizeof(num), "%d", o->priority);
		add_word(buf, size, len, "priority", num);
	}
	if (o->delay > 0) {
		snprintf(num, sizeof(num), "%lld", o->delay);
		add_word(buf, size, len, "delay", num);
	}
	if (o->at > 0) {
		snprintf(num, sizeof(num), "%lld", o->at);
		add_word(buf, size, len, "at", num);
	}
	if (o->key[0] != '\0')
		add_word(buf, size, len, "key", o->key);
	for (i = 0, alen = 0; i < o->nafter && alen < sizeof(after); i++)
		alen += (size_t)snprintf(after + alen, sizeof(after) - alen,
		    "%s%s", i > 0 ? "," : "", o->after[i]);
	if (o->nafter > 0)
		add_word(buf, size, len, "after", after);
}

/*
 * The header of a framed request for VERB with the options O (NULL:
 * none) and presenting TOKEN (NULL: none).  Returns its length, or -1
 * (ENAMETOOLONG) if it does not fit SIZE.
 */
int
proto_frame_request_opts(char *buf, size_t size, enum proto_verb verb,
    const char *arg, size_t length, const char *token,
    const struct job_opts *o)
{
	size_t len;
	int    r;

	r = snprintf(buf, size, "%c%s%s%s %zu", FRAME_MARK,
	    proto_verb_name(verb), arg != NULL ? " " : "",
	    arg != NULL ? arg : "", length);
	len = r < 0 ? size : (size_t)r;
	add_opts(buf, size, &len, o);
	if (token != NULL)
		add_word(buf, size, &len, "token", token);
	if (len + 1 >= size || len + 1 > FRAME_HEADER_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	buf[len++] = '\n';
	buf[len] = '\0';
	return (int)len;
}

/*
 * Client side: what comes before the data of a datagram, "SERVICE:".
 * Returns its length, or -1 (EINVAL) if SERVICE is not a service name.
 */
int
proto_datagram_head(char *buf, size_t size, const char *service)
{
	int r;

	if (!proto_valid_name(service, strlen(service))) {
		errno = EINVAL;
		return -1;
	}
	r = snprintf(buf, size, "%s:", service);
	if (r < 0 || (size_t)r >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return r;
}

/*
 * Client side: an error line of the original form, "NNN: text" LF, as
 * the master answers a connection it turns away.  Returns the length of
 * what comes before the text (*LENGTH is the text's, without the LF), 0
 * while the line may still come whole, -1 if it is not one.
 */
int
proto_parse_error_line(const char *buf, size_t len, int *code, size_t *length)
{
	const char *nl;
	int	    c;

	if ((nl = memchr(buf, '\n', len)) == NULL)
		return len >= FRAME_HEADER_MAX ? -1 : 0;
	if ((c = proto_answer_code(buf, len)) == 0 || nl - buf < 5)
		return -1;
	*code = c;
	*length = nl - buf - 5;
	return 5;
}

/* Client side: whether the payload is the answer to helo. */
int
proto_is_helo_answer(const char *buf, size_t len)
{
	return equals(buf, len, HELO_ANSWER);
}

int
proto_parse_frame_answer(const char *buf, size_t len, int *code,
    size_t *length)
{
	const char *nl, *sp, *end;
	size_t	    hlen;

	if (len == 0 || buf[0] != FRAME_MARK)
		return -1;
	/* "!NNN ", 10 digits, " retry=" and 10 digits, a newline. */
	if ((nl = memchr(buf, '\n', len)) == NULL)
		return len < 34 ? 0 : -1;
	hlen = nl - buf;
	if (hlen < 6 || (sp = memchr(buf, ' ', hlen)) != buf + 4)
		return -1;
	if (!isdigit((unsigned char)buf[1]) ||
	    !isdigit((unsigned char)buf[2]) || !isdigit((unsigned char)buf[3]))
		return -1;
	*code = (buf[1] - '0') * 100 + (buf[2] - '0') * 10 + (buf[3] - '0');
	/* Words after the length, such as retry=N, are fields to skip. */
	if ((end = memchr(sp + 1, ' ', nl - sp - 1)) == NULL)
		end = nl;
	if (parse_length(sp + 1, end - sp - 1, length) == -1)
		return -1;
	return (int)hlen + 1;
}
