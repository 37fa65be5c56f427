/*
 * protoanswer.c: the daemon's answers (proto.c): errors in either form,
 * with their codes and texts from proto.c's table, the header of a
 * framed answer, and the payloads of helo, queue:add, queue:check,
 * queue:cancel, queue:list and queue:info.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "protopriv.h"

#define HELLO_ANSWER  "olleh"
#define CANCEL_ANSWER "cancelled"

/*
 * The words of info and list, by state; the queue:check digits are the
 * first three (a failed job is done: 2).
 */
static const char *const state_names[] = { "queued", "running", "done",
	"failed" };
#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

/*
 * The length of what snprintf(3) wrote into SIZE bytes, given its return
 * R: shortened to what fits, 0 on an error.
 */
static size_t
answer_length(int r, size_t size)
{
	return r < 0 ? 0 : (size_t)r < size ? (size_t)r : size - 1;
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
	return answer_length(r, size);
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
	return answer_length(r, size);
}

/* The answer to queue:check: the state's digit, 0, 1 or 2. */
size_t
proto_state_answer(char *buf, size_t size, int state)
{
	int r;

	r = snprintf(buf, size, "%d", state > 2 ? 2 : state);
	return answer_length(r, size);
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
	return answer_length(r, size);
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
	return answer_length(r, size);
}
