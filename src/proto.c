/*
 * proto.c: the wire protocol's verbs and errors, and its two entry points
 * for requests, proto_scan() and proto_parse().  The wire is this file
 * and five more: protoid.c (job ids, node and service names),
 * protoframe.c (the framed form), protoorig.c (the original form),
 * protoanswer.c (the daemon's answers) and protoclient.c (the client's
 * side); what they share is in protopriv.h.  They are the only code that
 * knows the format; shared by bgserviced and bgservice.
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
 * Nothing here needs another module: the proto*.o link alone (the unit
 * tests of tests/unit/test_proto.c and the fuzz target do).
 */
#include <string.h>

#include "protopriv.h"

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

/* The verbs of both forms: their names, and what each takes. */
const struct verb_desc proto_verbs[] = {
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
const size_t proto_nverbs = sizeof(proto_verbs) / sizeof(proto_verbs[0]);

int
proto_equals(const char *buf, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(buf, word, len) == 0;
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

	for (i = 0; i < proto_nverbs; i++)
		if (proto_verbs[i].verb == v)
			return proto_verbs[i].framed;
	return "?";
}

enum proto_scan
proto_scan(const char *buf, size_t len, size_t *reqlen)
{
	*reqlen = 0;
	if (len == 0)
		return SCAN_PARTIAL;
	if (buf[0] == FRAME_MARK)
		return proto_scan_framed(buf, len, reqlen);
	*reqlen = len;
	return proto_complete_original(buf, len) ? SCAN_COMPLETE :
						   SCAN_PARTIAL;
}

/*
 * Parse a complete request (as delimited by proto_scan()).  Returns
 * ERR_NONE, or the error to answer.
 */
enum proto_err
proto_parse(const char *buf, size_t len, struct request *req)
{
	memset(req, 0, sizeof(*req));
	if (len == 0 || buf[0] != FRAME_MARK)
		return proto_parse_original(buf, len, req);
	return proto_parse_framed(buf, len, req);
}
