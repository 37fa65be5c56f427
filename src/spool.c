/*
 * spool.c: the job spool's job files.  See spool.h for the layout and the
 * publication rule; bgserviced(8) documents it for administrators.
 *
 * Files of job ID (16 hex digits):
 *	ID.req		the request: header lines, a blank line, the data
 *	ID.run		the runner's pid and start time
 *	ID.cancel	a cancel was asked for while it ran
 *	ID.done		the result: header lines, a blank line, the output
 *	ID.try		its attempts (spoolkey.c)
 *	key-HASH	an idempotency key's job: its id (spoolkey.c)
 * and the directory's own (spooldir.c).  The start-up scan, the
 * retention sweep and the listing are in spoolscan.c.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"
#include "spoolpriv.h"

#define RUN_RESERVE 256 /* room kept in ID.run for spool_run_done() */

const char *const spool_suffixes[] = { ".req", ".run", ".cancel", ".done",
	".try", NULL };

static void
ts_format(char *buf, size_t size, const struct timespec *ts)
{
	snprintf(buf, size, "%lld.%09ld", (long long)ts->tv_sec, ts->tv_nsec);
}

static void
ts_parse(const char *s, struct timespec *ts)
{
	char *end;

	ts->tv_sec = strtoll(s, &end, 10);
	ts->tv_nsec = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
}

/* Where the body starts: after the first "\n\n". */
static const char *
header_end(const char *buf, size_t len)
{
	const char *p = memmem(buf, len, "\n\n", 2);

	return p == NULL ? NULL : p + 2;
}

/* When a job of options O added at NOW is due, epoch ms; 0: at once. */
static long long
opts_due(const struct job_opts *o, const struct timespec *now)
{
	if (o->due_ms > 0)
		return o->due_ms;
	if (o->at > 0)
		return o->at * 1000;
	if (o->delay > 0)
		return (now->tv_sec + o->delay) * 1000LL +
		    now->tv_nsec / 1000000;
	return 0;
}

/* The header lines of a job's options O (NULL: none) at NOW. */
static void
opts_format(char *buf, size_t size, const struct job_opts *o,
    const struct timespec *now)
{
	long long due;
	size_t	  len;
	int	  i;

	buf[0] = '\0';
	if (o == NULL)
		return;
	due = opts_due(o, now);
	snprintf(buf, size, "priority %d\nnot_before %lld.%03lld\n",
	    o->priority, due / 1000, due % 1000);
	if (o->key[0] != '\0') {
		len = strlen(buf);
		snprintf(buf + len, size - len, "key %s\n", o->key);
	}
	if (o->key[0] != '\0' && o->keyscope[0] != '\0') {
		len = strlen(buf);
		snprintf(buf + len, size - len, "keyscope %s\n", o->keyscope);
	}
	for (i = 0; i < o->nafter; i++) {
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s%s",
		    i == 0 ? "after " : ",", o->after[i],
		    i == o->nafter - 1 ? "\n" : "");
	}
}

/*
 * Publish the request HDR + DATA of a new job under a random id (tagged
 * with NODE unless it is NULL or ""), written into ID.  KEYNAME, if not
 * NULL, is the job's key file, made to name it first.
 */
int
spool_add_new(const char *node, const char *hdr, size_t hlen, const char *data,
    size_t len, const char *keyname, char *id)
{
	uint64_t r;
	char	 name[64];
	int	 tries;

	for (tries = 0; tries < 8; tries++) {
		arc4random_buf(&r, sizeof(r));
		if (proto_make_id(id, JOB_ID_MAX + 1, node, r) == -1)
			return -1;
		if (keyname != NULL &&
		    spool_publish(keyname, id, strlen(id), "", 0, 0) == -1)
			return -1;
		spool_job_file(name, sizeof(name), id, ".req");
		if (spool_publish(name, hdr, hlen, data, len, 1) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	if (keyname != NULL)
		(void)unlinkat(spool_fd, keyname, 0);
	return -1;
}

/*
 * Queue a new job: a random id (tagged with NODE unless it is NULL or
 * ""), its request published with its options O (NULL: none; see
 * struct job_req).  Writes the id into ID (JOB_ID_MAX + 1 bytes) and
 * returns 0; or, when O has a key that a job of SERVICE in the spool
 * holds, writes that job's id and returns 1.
 */
int
spool_add(const char *service, const char *node, const struct peer *peer,
    const struct job_opts *o, const char *data, size_t len, char *id)
{
	struct timespec now;
	char		hdr[1024], opts[512], when[32];
	int		hlen;

	clock_gettime(CLOCK_REALTIME, &now);
	ts_format(when, sizeof(when), &now);
	opts_format(opts, sizeof(opts), o, &now);
	hlen = snprintf(hdr, sizeof(hdr),
	    "service %s\nsubmitted %s\n"
	    "transport %s\nip %s\nport %s\n%slength %zu\n\n",
	    service, when, peer->transport, peer->ip, peer->port, opts, len);
	if (o != NULL && o->key[0] != '\0')
		return spool_key_add(service, o->keyscope, o->key, node, hdr,
		    hlen, data, len, id);
	return spool_add_new(node, hdr, hlen, data, len, NULL, id);
}

/* The options of a request file's header into REQ (absent: none). */
static void
parse_opts(const struct buf *b, struct job_req *req)
{
	char v[JOB_AFTER_MAX * (JOB_ID_MAX + 1) + 1], *p, *comma;

	if (spool_header_get(b->data, b->len, "priority", v, sizeof(v)) == 0)
		req->priority = (int)strtol(v, NULL, 10);
	if (spool_header_get(b->data, b->len, "not_before", v, sizeof(v)) == 0)
		req->not_before_ms = spool_ms_parse(v);
	spool_header_get(b->data, b->len, "key", req->key, sizeof(req->key));
	spool_header_get(b->data, b->len, "keyscope", req->keyscope,
	    sizeof(req->keyscope));
	if (spool_header_get(b->data, b->len, "after", v, sizeof(v)) == -1)
		return;
	for (p = v; *p != '\0' && req->nafter < JOB_AFTER_MAX; p = comma + 1) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma = '\0';
		strlcpy(req->after[req->nafter++], p, JOB_ID_MAX + 1);
		if (comma == NULL)
			break;
	}
}

/*
 * Parse a request file's header.  WHOLE says B holds all of the file, so
 * that its stated length can be checked.
 */
static int
parse_req(const char *id, const struct buf *b, struct job_req *req, int whole)
{
	const char *body;
	char	    v[64];
	size_t	    len;

	memset(req, 0, sizeof(*req));
	strlcpy(req->id, id, sizeof(req->id));
	if ((body = header_end(b->data, b->len)) == NULL ||
	    spool_header_get(b->data, b->len, "service", req->service,
		sizeof(req->service)) == -1 ||
	    spool_header_get(b->data, b->len, "submitted", v, sizeof(v)) ==
		-1) {
		errno = EINVAL;
		return -1;
	}
	ts_parse(v, &req->submitted);
	spool_header_get(b->data, b->len, "transport", req->transport,
	    sizeof(req->transport));
	spool_header_get(b->data, b->len, "ip", req->ip, sizeof(req->ip));
	spool_header_get(b->data, b->len, "port", req->port,
	    sizeof(req->port));
	parse_opts(b, req);
	if (whole &&
	    spool_header_get(b->data, b->len, "length", v, sizeof(v)) == 0) {
		len = strtoull(v, NULL, 10);
		if (len > b->len - (body - b->data)) {
			errno = EINVAL;
			return -1;
		}
	}
	return 0;
}

int
spool_load_req(const char *id, struct job_req *req)
{
	struct buf  b = { 0 };
	const char *body;
	char	    name[64];

	spool_job_file(name, sizeof(name), id, ".req");
	if (spool_read(name, &b, 0) == -1 || parse_req(id, &b, req, 1) == -1) {
		buf_free(&b);
		return -1;
	}
	body = header_end(b.data, b.len);
	buf_consume(&b, body - b.data);
	req->data = b;
	return 0;
}

/* Job ID's request header only (REQ->data stays empty). */
int
spool_load_head(const char *id, struct job_req *req)
{
	struct buf b = { 0 };
	char	   name[64];
	int	   r;

	spool_job_file(name, sizeof(name), id, ".req");
	r = spool_read(name, &b, SPOOL_HEADER_MAX) == -1 ?
	    -1 :
	    parse_req(id, &b, req, 0);
	buf_free(&b);
	return r;
}

void
spool_req_free(struct job_req *req)
{
	buf_free(&req->data);
}

/* As spool_unlink(), then the directory synced (a failed sync is said). */
static int
unlink_synced(const char *id, const char *suffix)
{
	char name[64];

	if (spool_unlink(id, suffix) == -1)
		return -1;
	spool_job_file(name, sizeof(name), id, suffix);
	spool_sync(name);
	return 0;
}

enum job_state
spool_state(const char *id)
{
	if (!spool_has(id, ".req"))
		return JOB_NONE;
	if (spool_has(id, ".done"))
		return JOB_DONE;
	if (spool_has(id, ".run"))
		return JOB_RUNNING;
	return JOB_QUEUED;
}

/* As spool_state(), a failed job JOB_FAILED (it reads the result). */
enum job_state
spool_state_full(const char *id)
{
	enum job_state st = spool_state(id);
	int	       code;

	if (st != JOB_DONE || (code = spool_result_code(id)) == -1)
		return st;
	return proto_code_failed(code) ? JOB_FAILED : st;
}

/* Job ID, whose attempt ended, is queued again (its ID.try says when). */
int
spool_requeue(const char *id)
{
	return unlink_synced(id, ".run");
}

/*
 * A failed job ID queued again by hand, its attempts counted afresh: its
 * attempts and run go first, durably, its result last, so that a crash
 * leaves it failed or queued with none of its old attempts.
 */
int
spool_retry(const char *id)
{
	if (spool_unlink(id, ".try") == -1 || spool_unlink(id, ".run") == -1 ||
	    spool_unlink(id, ".cancel") == -1 || fsync(spool_fd) == -1)
		return -1;
	return unlink_synced(id, ".done");
}

/*
 * Claim the job for the runner PID; EEXIST if it was started before.
 * The file is padded with RUN_RESERVE bytes, so that spool_run_done()
 * can later write into it even on a full disk.
 */
int
spool_mark_running(const char *id, pid_t pid)
{
	struct timespec now;
	char		hdr[128], when[32], name[64], pad[RUN_RESERVE];
	int		hlen;

	clock_gettime(CLOCK_REALTIME, &now);
	ts_format(when, sizeof(when), &now);
	hlen = snprintf(hdr, sizeof(hdr), "pid %ld\nstarted %s\n\n", (long)pid,
	    when);
	memset(pad, '\n', sizeof(pad));
	spool_job_file(name, sizeof(name), id, ".run");
	return spool_publish(name, hdr, hlen, pad, sizeof(pad), 1);
}

/*
 * Hold job ID's .run, just marked ours, under an exclusive flock(2) for
 * as long as this process lives (the descriptor is left open on purpose,
 * and never inherited): a master started while a runner of its killed
 * predecessor still stops its service waits for it before it runs the
 * job again (spool_recover()).  0, or -1.
 */
int
spool_run_hold(const char *id)
{
	int fd;

	if ((fd = spool_run_open(id)) == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		return -1;
	}
	return 0;
}

/*
 * The spool is full and the runner must stop: note in ID.run, in place
 * (in the room spool_mark_running() kept), that the job ran to its end,
 * so that the next start does not call it interrupted.
 */
int
spool_run_done(const char *id, const struct job_result *res)
{
	struct stat st;
	char	    name[64], hdr[RUN_RESERVE];
	int	    fd, len, r;

	spool_job_file(name, sizeof(name), id, ".run");
	len = snprintf(hdr, sizeof(hdr), "pid %ld\ndone %d\nhow %s\n\n",
	    (long)getpid(), res->code, res->how);
	if ((fd = openat(spool_fd, name,
		 O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || len < 0 ||
	    len >= (int)sizeof(hdr) || st.st_size < len) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	r = pwrite(fd, hdr, len, 0) == len && fsync(fd) == 0 ? 0 : -1;
	close(fd);
	return r;
}

/* The number KEY of job ID's file SUFFIX's header, or -1 if none. */
static long long
header_number(const char *id, const char *suffix, const char *key)
{
	struct buf b = { 0 };
	char	   name[64], v[32];
	long long  n = -1;

	spool_job_file(name, sizeof(name), id, suffix);
	if (spool_read(name, &b, SPOOL_HEADER_MAX) == 0 &&
	    spool_header_get(b.data, b.len, key, v, sizeof(v)) == 0)
		n = strtoll(v, NULL, 10);
	buf_free(&b);
	return n;
}

/* The pid of the process running job ID, or -1. */
pid_t
spool_runner(const char *id)
{
	return (pid_t)header_number(id, ".run", "pid");
}

/* Publish the result of job ID, unless one exists (EEXIST). */
int
spool_finish(const char *id, const struct job_result *res)
{
	char hdr[1024], s[32], e[32], name[64];
	int  hlen;

	ts_format(s, sizeof(s), &res->started);
	ts_format(e, sizeof(e), &res->ended);
	hlen = snprintf(hdr, sizeof(hdr),
	    "code %d\nhow %s\nmessage %s\n"
	    "started %s\nended %s\nms %lld\ncpu_user_ms %lld\n"
	    "cpu_sys_ms %lld\nmax_rss_kib %ld\nlength %zu\n\n",
	    res->code, res->how, res->message, s, e, res->ms, res->cpu_user_ms,
	    res->cpu_sys_ms, res->max_rss_kib, res->out.len);
	if (hlen < 0 || (size_t)hlen >= sizeof(hdr)) {
		errno = EOVERFLOW;
		return -1;
	}
	spool_job_file(name, sizeof(name), id, ".done");
	return spool_publish(name, hdr, hlen, res->out.data, res->out.len, 1);
}

/*
 * Publish a result for job ID that needs no run: the error E, as HOW,
 * now.  -1 with EEXIST if the job has one already.
 */
int
spool_finish_now(const char *id, enum proto_err e, const char *how)
{
	struct job_result jr;

	memset(&jr, 0, sizeof(jr));
	jr.code = proto_err_code(e);
	strlcpy(jr.how, how, sizeof(jr.how));
	strlcpy(jr.message, proto_err_text(e), sizeof(jr.message));
	clock_gettime(CLOCK_REALTIME, &jr.ended);
	jr.started = jr.ended;
	return spool_finish(id, &jr);
}

int
spool_load_result(const char *id, struct job_result *res)
{
	struct buf  b = { 0 };
	const char *body;
	char	    name[64], v[64];

	memset(res, 0, sizeof(*res));
	spool_job_file(name, sizeof(name), id, ".done");
	if (spool_read(name, &b, 0) == -1)
		goto fail;
	if ((body = header_end(b.data, b.len)) == NULL ||
	    spool_header_get(b.data, b.len, "code", v, sizeof(v)) == -1) {
		errno = EINVAL;
		goto fail;
	}
	res->code = atoi(v);
	spool_header_get(b.data, b.len, "how", res->how, sizeof(res->how));
	spool_header_get(b.data, b.len, "message", res->message,
	    sizeof(res->message));
	if (spool_header_get(b.data, b.len, "started", v, sizeof(v)) == 0)
		ts_parse(v, &res->started);
	if (spool_header_get(b.data, b.len, "ended", v, sizeof(v)) == 0)
		ts_parse(v, &res->ended);
	if (spool_header_get(b.data, b.len, "ms", v, sizeof(v)) == 0)
		res->ms = strtoll(v, NULL, 10);
	/* Absent from the results of versions before 0.2. */
	if (spool_header_get(b.data, b.len, "cpu_user_ms", v, sizeof(v)) == 0)
		res->cpu_user_ms = strtoll(v, NULL, 10);
	if (spool_header_get(b.data, b.len, "cpu_sys_ms", v, sizeof(v)) == 0)
		res->cpu_sys_ms = strtoll(v, NULL, 10);
	if (spool_header_get(b.data, b.len, "max_rss_kib", v, sizeof(v)) == 0)
		res->max_rss_kib = strtol(v, NULL, 10);
	buf_consume(&b, body - b.data);
	res->out = b;
	return 0;
fail:
	buf_free(&b);
	return -1;
}

/* The code of job ID's result (200: it succeeded), or -1 if none. */
int
spool_result_code(const char *id)
{
	return (int)header_number(id, ".done", "code");
}

void
spool_result_free(struct job_result *res)
{
	buf_free(&res->out);
}

int
spool_cancel_mark(const char *id)
{
	char name[64];
	int  fd;

	spool_job_file(name, sizeof(name), id, ".cancel");
	if ((fd = openat(spool_fd, name,
		 O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		 0600)) == -1)
		return -1;
	close(fd);
	return 0;
}

int
spool_cancelled(const char *id)
{
	return spool_has(id, ".cancel");
}

/*
 * Remove a job: its key first, then its request, so that it is gone at
 * once.
 */
int
spool_remove(const char *id)
{
	size_t i;
	int    r = 0;

	spool_key_release(id);
	for (i = 0; spool_suffixes[i] != NULL; i++)
		if (spool_unlink(id, spool_suffixes[i]) == -1)
			r = -1;
	return r;
}
