/*
 * spool.c: the job spool directory.  See spool.h for the layout and the
 * publication rule; bgserviced(8) documents it for administrators.
 *
 * Files of job ID (16 hex digits):
 *	ID.req		the request: header lines, a blank line, the data
 *	ID.run		the runner's pid and start time
 *	ID.cancel	a cancel was asked for while it ran
 *	ID.done		the result: header lines, a blank line, the output
 *	key-HASH	an idempotency key's job: its id (see spool_add())
 *	.tmp-*		files being written; removed at start
 *	notify		the FIFO children tell the master of jobs on
 *	lock		flock(2)ed by the daemon that owns the spool
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

#define TMP_PREFIX	 ".tmp-"
#define HEADER_MAX	 4096
#define RUN_RESERVE	 256 /* room kept in ID.run for spool_run_done() */
#define NOTIFY_NAME	 "notify"
#define NOTIFY_PIPE_SIZE (1 << 20)
#define KEY_PREFIX	 "key-"
#define KEY_HASH	 16 /* bytes of a key's hash: 32 hex digits */

static int  spool_fd = -1; /* the directory */
static int  lock_fd = -1;
static int  notify_fd = -1; /* the FIFO, see spool_notify_open() */
static char spool_path[PATH_MAX];

static const char *const suffixes[] = { ".req", ".run", ".cancel", ".done",
	".try" };

/*
 * Is the object of ST fit to be trusted as WHAT, owned by UID?  A
 * symbolic link, another owner or a mode others may write are refused
 * with EPERM and a reason in WHY.
 */
static int
trusted(const struct stat *st, mode_t type, uid_t uid, const char **why)
{
	if ((st->st_mode & S_IFMT) != type)
		*why = type == S_IFDIR ? "not a directory" : "not a file";
	else if (st->st_uid != uid)
		*why = "owned by another user";
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		*why = "writable by its group or others";
	else if (type == S_IFREG && st->st_nlink != 1)
		*why = "a file with other links";
	else
		return 0;
	errno = EPERM;
	return -1;
}

/*
 * Open the spool directory DIR for the user UID (group GID), who owns it:
 * made 0700 if absent (and given to UID), refused if it is a symbolic
 * link, another user's, or writable by others.  No file in it is touched:
 * that waits for spool_lock(), once the daemon is UID.  On error *WHY,
 * when set, says what is wrong.
 */
int
spool_open(const char *dir, uid_t uid, gid_t gid, const char **why)
{
	struct stat st;
	int	    made;

	*why = NULL;
	if (strlcpy(spool_path, dir, sizeof(spool_path)) >=
	    sizeof(spool_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	made = mkdir(dir, 0700) == 0;
	if (!made && errno != EEXIST)
		return -1;
	if ((spool_fd = open(dir,
		 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ELOOP || errno == ENOTDIR)
			*why = "a symbolic link or not a directory";
		return -1;
	}
	if (fstat(spool_fd, &st) == -1)
		return -1;
	if (made && st.st_uid != uid && fchown(spool_fd, uid, gid) == -1)
		return -1;
	if (made)
		st.st_uid = uid;
	return trusted(&st, S_IFDIR, uid, why);
}

/*
 * As the spool's owner: take the spool's lock for the daemon's life.  The
 * lock file is never followed if it is a link, and must be a plain file
 * of the owner's.  EBUSY: another daemon holds it.
 */
int
spool_lock(const char **why)
{
	static const struct timespec pause = { 0, 10 * 1000 * 1000 };
	struct stat		     st;
	int			     tries;

	*why = NULL;
	if ((lock_fd = openat(spool_fd, "lock",
		 O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		 0600)) == -1) {
		if (errno == ELOOP)
			*why = "lock: a symbolic link";
		return -1;
	}
	if (fstat(lock_fd, &st) == -1)
		return -1;
	if (trusted(&st, S_IFREG, geteuid(), why) == -1) {
		*why = "lock: not a plain file of the spool's owner";
		return -1;
	}
	/*
	 * A child of a dead master may hold it shared for an instant (see
	 * spool_locked()): try a few times over 100 ms before giving up.
	 */
	for (tries = 0; flock(lock_fd, LOCK_EX | LOCK_NB) == -1; tries++) {
		if (errno != EWOULDBLOCK || tries == 10) {
			if (errno == EWOULDBLOCK)
				errno = EBUSY;
			return -1;
		}
		(void)nanosleep(&pause, NULL);
	}
	return 0;
}

void
spool_close(void)
{
	if (lock_fd != -1)
		close(lock_fd);
	if (spool_fd != -1)
		close(spool_fd);
	if (notify_fd != -1)
		close(notify_fd);
	lock_fd = spool_fd = notify_fd = -1;
}

/*
 * In a child: give up the lock's descriptor (the master keeps the lock),
 * so that children outliving a killed master never block its successor.
 */
void
spool_child(void)
{
	if (lock_fd != -1)
		close(lock_fd);
	lock_fd = -1;
}

static void
job_file(char *buf, size_t size, const char *id, const char *suffix)
{
	snprintf(buf, size, "%s%s", id, suffix);
}

/* NAME changed in place: a failed sync of the directory is said, not undone. */
static void
dir_sync(const char *name)
{
	if (fsync(spool_fd) == -1)
		log_warn("spool: fsync of the directory after %s", name);
}

/*
 * Make a new temp file for NAME, never through a link: a leftover of the
 * same name (a reused pid) is removed first, whatever it is.
 */
static int
tmp_open(const char *name, char *tmp, size_t size)
{
	int fd;

	snprintf(tmp, size, TMP_PREFIX "%s-%ld", name, (long)getpid());
	fd = openat(spool_fd, tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST && unlinkat(spool_fd, tmp, 0) == 0)
		fd = openat(spool_fd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	return fd;
}

/*
 * Publish NAME whole: HDR then DATA into a temp file, fsync, then link
 * (EXCLUSIVE: fails with EEXIST if NAME exists) or rename into place,
 * then fsync the directory.
 */
static int
publish(const char *name, const char *hdr, size_t hlen, const char *data,
    size_t dlen, int exclusive)
{
	char tmp[128];
	int  fd, r, saved;

	if ((fd = tmp_open(name, tmp, sizeof(tmp))) == -1)
		return -1;
	if (write_all(fd, hdr, hlen) == -1 ||
	    write_all(fd, data, dlen) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlinkat(spool_fd, tmp, 0);
		errno = saved;
		return -1;
	}
	close(fd);
	if (exclusive) {
		r = linkat(spool_fd, tmp, spool_fd, name, 0);
		saved = errno;
		unlinkat(spool_fd, tmp, 0);
	} else {
		r = renameat(spool_fd, tmp, spool_fd, name);
		saved = errno;
		if (r == -1)
			unlinkat(spool_fd, tmp, 0);
	}
	if (r == -1) {
		errno = saved;
		return -1;
	}
	dir_sync(name);
	return 0;
}

/* Read the whole file NAME into B. */
static int
read_file(const char *name, struct buf *b, size_t max)
{
	ssize_t n;
	int	fd;

	if ((fd = openat(spool_fd, name,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return -1;
	while (max == 0 || b->len < max) {
		if ((n = buf_read(b, fd, max > 0 ? max - b->len : 0)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			close(fd);
			return n == 0 ? 0 : -1;
		}
	}
	close(fd);
	return 0;
}

/*
 * Find "KEY value" in a header (lines up to a blank line).  Copies the
 * value into VAL; returns 0 if found.
 */
static int
header_get(const char *hdr, size_t len, const char *key, char *val,
    size_t vsize)
{
	const char *p = hdr, *end = hdr + len, *nl;
	size_t	    klen = strlen(key), vlen;

	while (p < end && *p != '\n') {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			return -1;
		if ((size_t)(nl - p) > klen && memcmp(p, key, klen) == 0 &&
		    p[klen] == ' ') {
			vlen = nl - p - klen - 1;
			if (vlen >= vsize)
				vlen = vsize - 1;
			memcpy(val, p + klen + 1, vlen);
			val[vlen] = '\0';
			return 0;
		}
		p = nl + 1;
	}
	return -1;
}

/* Where the body starts: after the first "\n\n". */
static const char *
header_end(const char *buf, size_t len)
{
	const char *p = memmem(buf, len, "\n\n", 2);

	return p == NULL ? NULL : p + 2;
}

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
	for (i = 0; i < o->nafter; i++) {
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s%s",
		    i == 0 ? "after " : ",", o->after[i],
		    i == o->nafter - 1 ? "\n" : "");
	}
}

/* "SECONDS[.MMM]" in milliseconds. */
static long long
ms_parse(const char *v)
{
	char	 *end;
	long long ms = strtoll(v, &end, 10) * 1000;
	int	  i, scale = 100;

	if (*end == '.')
		for (i = 1; i <= 3 && end[i] >= '0' && end[i] <= '9'; i++) {
			ms += (end[i] - '0') * scale;
			scale /= 10;
		}
	return ms;
}

/*
 * Publish the request HDR + DATA of a new job under a random id (tagged
 * with NODE unless it is NULL or ""), written into ID.  KEYNAME, if not
 * NULL, is the job's key file, made to name it first.
 */
static int
add_new(const char *node, const char *hdr, size_t hlen, const char *data,
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
		    publish(keyname, id, strlen(id), "", 0, 0) == -1)
			return -1;
		job_file(name, sizeof(name), id, ".req");
		if (publish(name, hdr, hlen, data, len, 1) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	if (keyname != NULL)
		(void)unlinkat(spool_fd, keyname, 0);
	return -1;
}

static int add_keyed(const char *service, const char *key, const char *node,
    const char *hdr, size_t hlen, const char *data, size_t len, char *id);

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
		return add_keyed(service, o->key, node, hdr, hlen, data, len,
		    id);
	return add_new(node, hdr, hlen, data, len, NULL, id);
}

/* The options of a request file's header into REQ (absent: none). */
static void
parse_opts(const struct buf *b, struct job_req *req)
{
	char v[JOB_AFTER_MAX * (JOB_ID_MAX + 1) + 1], *p, *comma;

	if (header_get(b->data, b->len, "priority", v, sizeof(v)) == 0)
		req->priority = (int)strtol(v, NULL, 10);
	if (header_get(b->data, b->len, "not_before", v, sizeof(v)) == 0)
		req->not_before_ms = ms_parse(v);
	header_get(b->data, b->len, "key", req->key, sizeof(req->key));
	if (header_get(b->data, b->len, "after", v, sizeof(v)) == -1)
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
	    header_get(b->data, b->len, "service", req->service,
		sizeof(req->service)) == -1 ||
	    header_get(b->data, b->len, "submitted", v, sizeof(v)) == -1) {
		errno = EINVAL;
		return -1;
	}
	ts_parse(v, &req->submitted);
	header_get(b->data, b->len, "transport", req->transport,
	    sizeof(req->transport));
	header_get(b->data, b->len, "ip", req->ip, sizeof(req->ip));
	header_get(b->data, b->len, "port", req->port, sizeof(req->port));
	parse_opts(b, req);
	if (whole &&
	    header_get(b->data, b->len, "length", v, sizeof(v)) == 0) {
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

	job_file(name, sizeof(name), id, ".req");
	if (read_file(name, &b, 0) == -1 || parse_req(id, &b, req, 1) == -1) {
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

	job_file(name, sizeof(name), id, ".req");
	r = read_file(name, &b, HEADER_MAX) == -1 ? -1 :
						    parse_req(id, &b, req, 0);
	buf_free(&b);
	return r;
}

void
spool_req_free(struct job_req *req)
{
	buf_free(&req->data);
}

static int
exists(const char *id, const char *suffix)
{
	struct stat st;
	char	    name[64];

	job_file(name, sizeof(name), id, suffix);
	return fstatat(spool_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Unlink job ID's file of SUFFIX; a missing one is no error. */
static int
unlink_job(const char *id, const char *suffix)
{
	char name[64];

	job_file(name, sizeof(name), id, suffix);
	return unlinkat(spool_fd, name, 0) == -1 && errno != ENOENT ? -1 : 0;
}

/* As unlink_job(), then the directory synced (a failed sync is said). */
static int
unlink_synced(const char *id, const char *suffix)
{
	char name[64];

	if (unlink_job(id, suffix) == -1)
		return -1;
	job_file(name, sizeof(name), id, suffix);
	dir_sync(name);
	return 0;
}

enum job_state
spool_state(const char *id)
{
	if (!exists(id, ".req"))
		return JOB_NONE;
	if (exists(id, ".done"))
		return JOB_DONE;
	if (exists(id, ".run"))
		return JOB_RUNNING;
	return JOB_QUEUED;
}

/* Job ID's result says it failed: neither done well nor cancelled. */
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

/* Job ID's attempts into T; none yet (no ID.try) reads as zeros. */
int
spool_load_try(const char *id, struct job_try *t)
{
	struct buf b = { 0 };
	char	   name[64], v[32];
	int	   r = 0;

	memset(t, 0, sizeof(*t));
	job_file(name, sizeof(name), id, ".try");
	if (read_file(name, &b, HEADER_MAX) == -1)
		r = errno == ENOENT ? 0 : -1;
	else {
		if (header_get(b.data, b.len, "attempts", v, sizeof(v)) == 0)
			t->attempts = atoi(v);
		if (header_get(b.data, b.len, "max", v, sizeof(v)) == 0)
			t->max = atoi(v);
		if (header_get(b.data, b.len, "not_before", v, sizeof(v)) == 0)
			t->not_before_ms = ms_parse(v);
	}
	buf_free(&b);
	return r;
}

/*
 * Publish job ID's attempts T whole, in place of the last ones; none
 * (attempts 0) removes them, which takes no room on a full disk.
 */
int
spool_save_try(const char *id, const struct job_try *t)
{
	char hdr[128], name[64];
	int  hlen;

	if (t->attempts == 0)
		return unlink_job(id, ".try");

	hlen = snprintf(hdr, sizeof(hdr),
	    "attempts %d\nmax %d\nnot_before %lld.%03lld\n\n", t->attempts,
	    t->max, t->not_before_ms / 1000, t->not_before_ms % 1000);
	job_file(name, sizeof(name), id, ".try");
	return publish(name, hdr, hlen, "", 0, 0);
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
	if (unlink_job(id, ".try") == -1 || unlink_job(id, ".run") == -1 ||
	    unlink_job(id, ".cancel") == -1 || fsync(spool_fd) == -1)
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
	job_file(name, sizeof(name), id, ".run");
	return publish(name, hdr, hlen, pad, sizeof(pad), 1);
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

	job_file(name, sizeof(name), id, ".run");
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

	job_file(name, sizeof(name), id, suffix);
	if (read_file(name, &b, HEADER_MAX) == 0 &&
	    header_get(b.data, b.len, key, v, sizeof(v)) == 0)
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
	job_file(name, sizeof(name), id, ".done");
	return publish(name, hdr, hlen, res->out.data, res->out.len, 1);
}

int
spool_load_result(const char *id, struct job_result *res)
{
	struct buf  b = { 0 };
	const char *body;
	char	    name[64], v[64];

	memset(res, 0, sizeof(*res));
	job_file(name, sizeof(name), id, ".done");
	if (read_file(name, &b, 0) == -1)
		goto fail;
	if ((body = header_end(b.data, b.len)) == NULL ||
	    header_get(b.data, b.len, "code", v, sizeof(v)) == -1) {
		errno = EINVAL;
		goto fail;
	}
	res->code = atoi(v);
	header_get(b.data, b.len, "how", res->how, sizeof(res->how));
	header_get(b.data, b.len, "message", res->message,
	    sizeof(res->message));
	if (header_get(b.data, b.len, "started", v, sizeof(v)) == 0)
		ts_parse(v, &res->started);
	if (header_get(b.data, b.len, "ended", v, sizeof(v)) == 0)
		ts_parse(v, &res->ended);
	if (header_get(b.data, b.len, "ms", v, sizeof(v)) == 0)
		res->ms = strtoll(v, NULL, 10);
	/* Absent from the results of versions before 0.2. */
	if (header_get(b.data, b.len, "cpu_user_ms", v, sizeof(v)) == 0)
		res->cpu_user_ms = strtoll(v, NULL, 10);
	if (header_get(b.data, b.len, "cpu_sys_ms", v, sizeof(v)) == 0)
		res->cpu_sys_ms = strtoll(v, NULL, 10);
	if (header_get(b.data, b.len, "max_rss_kib", v, sizeof(v)) == 0)
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

	job_file(name, sizeof(name), id, ".cancel");
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
	return exists(id, ".cancel");
}

static void key_release(const char *id);

/*
 * Remove a job: its key first, then its request, so that it is gone at
 * once.
 */
int
spool_remove(const char *id)
{
	size_t i;
	int    r = 0;

	key_release(id);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (unlink_job(id, suffixes[i]) == -1)
			r = -1;
	return r;
}

/*
 * The FIFO on which connection children tell the master of jobs and
 * waiters, opened for reading and writing: the master's read end never
 * sees end-of-file, a child's write never fails for want of a reader, and
 * what children write after their master died stays in the FIFO while
 * any of them holds it, for the next master, which opens the same FIFO
 * before it scans the spool.  Made if missing; anything else of its name
 * is replaced.
 */
int
spool_notify_open(void)
{
	struct stat st;
	int	    fd, tries;

	for (tries = 0; tries < 2; tries++) {
		if (mkfifoat(spool_fd, NOTIFY_NAME, 0600) == -1 &&
		    errno != EEXIST)
			return -1;
		if ((fd = openat(spool_fd, NOTIFY_NAME,
			 O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)) ==
			-1 &&
		    errno != ELOOP)
			return -1;
		if (fd != -1 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
			/* Room for many notes; the default will do too. */
			(void)fcntl(fd, F_SETPIPE_SZ, NOTIFY_PIPE_SIZE);
			return notify_fd = fd;
		}
		if (fd != -1)
			close(fd);
		log_warnx("spool: %s is not a FIFO: replaced", NOTIFY_NAME);
		if (unlinkat(spool_fd, NOTIFY_NAME, 0) == -1)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/* The FIFO spool_notify_open() opened, or -1; children inherit it. */
int
spool_notify_fd(void)
{
	return notify_fd;
}

/*
 * Does a daemon hold the spool's lock?  Asked by a child whose master may
 * be gone; the lock is taken, shared, for an instant when it is free.
 */
int
spool_locked(void)
{
	int fd, held;

	if ((fd = openat(spool_fd, "lock",
		 O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 1; /* cannot tell: as if held */
	held = flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

/*
 * A descriptor of the spool directory of its own: its offset and its
 * flock(2) are not shared with spool_fd (a dup(2) would share, and keep,
 * the offset of every earlier scan).
 */
static int
dir_open(void)
{
	return openat(spool_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* A directory stream of the spool with an offset of its own. */
static DIR *
spool_opendir(void)
{
	DIR *d;
	int  fd;

	if ((fd = dir_open()) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

/* Is NAME "ID.SUFFIX", ID a job id of either form?  Then copy the id. */
static const char *
name_suffix(const char *name, char *id)
{
	const char *dot = strchr(name, '.');
	size_t	    i, len;

	if (dot == NULL || (len = dot - name) > JOB_ID_MAX ||
	    !proto_valid_id(name, len))
		return NULL;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (strcmp(dot, suffixes[i]) == 0) {
			memcpy(id, name, len);
			id[len] = '\0';
			return suffixes[i];
		}
	return NULL;
}

static time_t
done_expiry(const char *id, int retention)
{
	struct stat st;
	char	    name[64];

	job_file(name, sizeof(name), id, ".done");
	if (fstatat(spool_fd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	return st.st_mtime + retention;
}

/* T (0: none) is when a finished job expires: note it if it is the next. */
static void
expiry_note(time_t *next, time_t t)
{
	if (t != 0 && (*next == 0 || t < *next))
		*next = t;
}

struct queued {
	char		id[JOB_ID_MAX + 1];
	char		service[SERVICE_NAME_MAX + 1];
	struct timespec submitted;
	int		priority;
	long long	due_ms;
	int		waits; /* it names jobs to wait for */
};

static int
queued_cmp(const void *a, const void *b)
{
	const struct queued *x = a, *y = b;

	if (x->submitted.tv_sec != y->submitted.tv_sec)
		return x->submitted.tv_sec < y->submitted.tv_sec ? -1 : 1;
	if (x->submitted.tv_nsec != y->submitted.tv_nsec)
		return x->submitted.tv_nsec < y->submitted.tv_nsec ? -1 : 1;
	return strcmp(x->id, y->id);
}

/*
 * Did job ID's runner note in ID.run that it ran to its end (see
 * spool_run_done())?  Then 1, and how it ended into HOW (SIZE bytes; left
 * as it is if ID.run does not say).
 */
static int
run_ended(const char *id, char *how, size_t size)
{
	struct buf b = { 0 };
	char	   name[64], v[16];
	int	   ended;

	job_file(name, sizeof(name), id, ".run");
	ended = read_file(name, &b, HEADER_MAX) == 0 &&
	    header_get(b.data, b.len, "done", v, sizeof(v)) == 0;
	if (ended)
		header_get(b.data, b.len, "how", how, size);
	buf_free(&b);
	return ended;
}

/*
 * A job found running at start: its runner died with the daemon, or ran
 * it to its end but could not store the result (spool_run_done()).
 * Publish the result that says which; 0 if done (or one exists).
 */
int
spool_finish_stopped(const char *id)
{
	char how[64] = "done"; /* as struct job_result's */
	int  done;

	if ((done = run_ended(id, how, sizeof(how))) == 0)
		strlcpy(how, "interrupted", sizeof(how));
	if (spool_finish_now(id, done ? ERR_JOB_UNSTORED : ERR_JOB_INTERRUPTED,
		how) == -1 &&
	    errno != EEXIST) {
		log_warn("spool: job %s: cannot publish its result", id);
		return -1;
	}
	log_info("job %s was running when the daemon stopped: %s", id,
	    done ? "done, its result lost" : "marked interrupted");
	return 0;
}

static void key_recover(const char *name);

/* What the start-up scan of the spool gathers. */
struct recovery {
	struct queued *q; /* the queued jobs */
	size_t	       n, cap;
	spool_stuck_fn stuck;
	time_t	      *next_expiry;
	int	       retention;
};

/* Note job ID, queued, in RC; an unreadable one is removed. */
static void
recover_queued(struct recovery *rc, const char *id)
{
	struct queued *nq;
	struct job_req req;
	struct job_try t;

	if (spool_load_head(id, &req) == -1) {
		log_warnx("spool: %s.req: unreadable, removed", id);
		spool_remove(id);
		return;
	}
	if (rc->n == rc->cap) {
		rc->cap = rc->cap ? rc->cap * 2 : 64;
		if ((nq = reallocarray(rc->q, rc->cap, sizeof(*nq))) == NULL)
			fatal("reallocarray");
		rc->q = nq;
	}
	strlcpy(rc->q[rc->n].id, id, sizeof(rc->q->id));
	strlcpy(rc->q[rc->n].service, req.service, sizeof(rc->q->service));
	rc->q[rc->n].priority = req.priority;
	rc->q[rc->n].waits = req.nafter > 0;
	if (spool_load_try(id, &t) == -1)
		t.not_before_ms = 0;
	rc->q[rc->n].due_ms = t.not_before_ms > req.not_before_ms ?
	    t.not_before_ms :
	    req.not_before_ms;
	rc->q[rc->n++].submitted = req.submitted;
}

/*
 * Job ID was running when the daemon stopped, its service stopped before
 * it ended (its .run says nothing of an end).  With attempts left, the
 * one it was in counted, it is queued again: 1 if so.
 */
static int
recover_attempt(const char *id)
{
	struct job_try t;
	char	       how[64];

	if (run_ended(id, how, sizeof(how)) || spool_load_try(id, &t) == -1 ||
	    t.max == 0 || t.attempts >= t.max || spool_requeue(id) == -1)
		return 0;
	log_info("job %s was running when the daemon stopped: attempt %d of "
		 "%d counted, queued again",
	    id, t.attempts, t.max);
	return 1;
}

/* One entry NAME of the spool at start. */
static void
recover_entry(struct recovery *rc, const char *name)
{
	const char *sfx;
	char	    id[JOB_ID_MAX + 1];

	if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
		unlinkat(spool_fd, name, 0);
		return;
	}
	if (strncmp(name, KEY_PREFIX, strlen(KEY_PREFIX)) == 0) {
		key_recover(name);
		return;
	}
	if ((sfx = name_suffix(name, id)) == NULL)
		return;
	if (strcmp(sfx, ".req") != 0) {
		if (!exists(id, ".req"))
			unlinkat(spool_fd, name, 0);
		return;
	}
	switch (spool_state(id)) {
	case JOB_RUNNING:
		if (recover_attempt(id)) {
			recover_queued(rc, id);
			break;
		}
		if (spool_finish_stopped(id) == -1) {
			rc->stuck(id, NULL);
			break;
		}
		/* FALLTHROUGH */
	case JOB_DONE:
		expiry_note(rc->next_expiry, done_expiry(id, rc->retention));
		break;
	case JOB_QUEUED:
		recover_queued(rc, id);
		break;
	case JOB_NONE:
	case JOB_FAILED:
		break;
	}
}

/*
 * Start-up: remove temp files and leftovers of removed jobs, finish jobs
 * that were running (or hand them to STUCK if the spool cannot take the
 * result), hand the queued ones to QUEUED in submission order, and find
 * the next expiry of a finished job.
 */
int
spool_recover(spool_queued_fn queued, spool_stuck_fn stuck,
    time_t *next_expiry, int retention)
{
	struct recovery rc = { NULL, 0, 0, stuck, next_expiry, retention };
	struct dirent  *de;
	size_t		i;
	DIR	       *d;

	*next_expiry = 0;
	if ((d = spool_opendir()) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		recover_entry(&rc, de->d_name);
	closedir(d);
	if (rc.n > 1)
		qsort(rc.q, rc.n, sizeof(*rc.q), queued_cmp);
	for (i = 0; i < rc.n; i++)
		queued(rc.q[i].id, rc.q[i].service, rc.q[i].priority,
		    rc.q[i].due_ms, rc.q[i].waits);
	free(rc.q);
	return 0;
}

/*
 * Call FN(ID, ARG) for each job ID that has a file of SUFFIX, until FN
 * returns -1 (then -1).
 */
static int
scan_jobs(const char *suffix, int (*fn)(const char *, void *), void *arg)
{
	struct dirent *de;
	const char    *sfx;
	char	       id[JOB_ID_MAX + 1];
	DIR	      *d;
	int	       r = 0;

	if ((d = spool_opendir()) == NULL)
		return -1;
	while (r == 0 && (de = readdir(d)) != NULL)
		if ((sfx = name_suffix(de->d_name, id)) != NULL &&
		    strcmp(sfx, suffix) == 0)
			r = fn(id, arg);
	closedir(d);
	return r;
}

/* What spool_expire() keeps while it scans. */
struct expiry {
	time_t now, *next;
	int    retention, removed;
};

static int
expire_job(const char *id, void *arg)
{
	struct expiry *ex = arg;
	time_t	       t;

	if ((t = done_expiry(id, ex->retention)) != 0 && t <= ex->now) {
		spool_remove(id);
		ex->removed++;
	} else
		expiry_note(ex->next, t);
	return 0;
}

/*
 * Remove the finished jobs older than RETENTION seconds; set
 * *NEXT_EXPIRY to when the next one will be due (0: none).
 */
int
spool_expire(int retention, time_t *next_expiry)
{
	struct expiry ex = { time(NULL), next_expiry, retention, 0 };

	*next_expiry = 0;
	return scan_jobs(".done", expire_job, &ex) == -1 ? -1 : ex.removed;
}

static int
list_job(const char *id, void *arg)
{
	struct job_req req;
	char	       line[JOB_ID_MAX + SERVICE_NAME_MAX + 48];
	enum job_state st;
	size_t	       n;

	if (spool_load_head(id, &req) == -1 ||
	    (st = spool_state_full(id)) == JOB_NONE)
		return 0;
	n = proto_list_line(line, sizeof(line), id, st, req.service,
	    (long long)req.submitted.tv_sec);
	return n > 0 && buf_append(arg, line, n) == -1 ? -1 : 0;
}

/* One line per job: "ID STATE SERVICE SUBMITTED". */
int
spool_list(struct buf *out)
{
	return scan_jobs(".req", list_job, out);
}

static int
count_job(const char *id, void *arg)
{
	(void)id;
	(*(size_t *)arg)++;
	return 0;
}

/* How many finished jobs the spool holds. */
size_t
spool_count_done(void)
{
	size_t n = 0;

	(void)scan_jobs(".done", count_job, &n);
	return n;
}

/* Whether DIR (or, before it exists, its parent) is on a tmpfs. */
int
spool_volatile(const char *dir)
{
	struct statfs sf;
	char	      parent[PATH_MAX], *slash;

	if (statfs(dir, &sf) == 0)
		return sf.f_type == TMPFS_MAGIC;
	strlcpy(parent, dir, sizeof(parent));
	if ((slash = strrchr(parent, '/')) == NULL)
		return 0;
	*(slash == parent ? slash + 1 : slash) = '\0';
	return statfs(parent, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
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

/*
 * Idempotency keys.  The job of service S that has key K is named by the
 * file KEY_PREFIX + the hex of a BLAKE2b hash of "S\0K", which holds its
 * id: made (replacing a stale one) before the job's request is published,
 * removed before it is.  A key file whose job the spool does not hold is
 * stale: as if absent, and removed at start.  Adds with a key, removals
 * and recovery look at key files under an exclusive flock(2) of the
 * spool directory (a descriptor of their own, never shared by a fork), so
 * that two adds with one key at the same instant make one job.
 */
static void
key_file(char *buf, size_t size, const char *service, const char *key)
{
	crypto_generichash_state st;
	unsigned char		 h[KEY_HASH];
	char			 hex[2 * KEY_HASH + 1];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)service,
	    strlen(service) + 1);
	crypto_generichash_update(&st, (const unsigned char *)key,
	    strlen(key));
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(buf, size, KEY_PREFIX "%s", hex);
}

/* Take the key files' lock: a descriptor to close, or -1. */
static int
keys_lock(void)
{
	int fd;

	if ((fd = dir_open()) == -1)
		return -1;
	while (flock(fd, LOCK_EX) == -1)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

/* The id key file NAME holds into ID, if the spool holds that job: 0. */
static int
key_holder(const char *name, char *id)
{
	struct buf b = { 0 };
	int	   r = -1;

	if (read_file(name, &b, JOB_ID_MAX + 1) == 0 && b.len > 0 &&
	    b.len <= JOB_ID_MAX && proto_valid_id(b.data, b.len)) {
		memcpy(id, b.data, b.len);
		id[b.len] = '\0';
		r = exists(id, ".req") ? 0 : -1;
	}
	buf_free(&b);
	return r;
}

/*
 * A new job of SERVICE with KEY (see spool_add()), unless a job of the
 * spool has it: then 1 and its id in ID.
 */
static int
add_keyed(const char *service, const char *key, const char *node,
    const char *hdr, size_t hlen, const char *data, size_t len, char *id)
{
	char name[64];
	int  lk, r;

	key_file(name, sizeof(name), service, key);
	if ((lk = keys_lock()) == -1)
		return -1;
	if (key_holder(name, id) == 0)
		r = 1;
	else
		r = add_new(node, hdr, hlen, data, len, name, id);
	close(lk);
	return r;
}

/* Job ID is being removed: remove its key file, if it holds its key. */
static void
key_release(const char *id)
{
	struct job_req req;
	char	       name[64], held[JOB_ID_MAX + 1];
	int	       lk;

	if (spool_load_head(id, &req) == -1 || req.key[0] == '\0')
		return;
	key_file(name, sizeof(name), req.service, req.key);
	if ((lk = keys_lock()) == -1)
		return;
	if (key_holder(name, held) == 0 && strcmp(held, id) == 0 &&
	    unlinkat(spool_fd, name, 0) == -1)
		log_warn("spool: %s", name);
	close(lk);
}

/* At start: remove the key file NAME if it is stale. */
static void
key_recover(const char *name)
{
	char id[JOB_ID_MAX + 1];
	int  lk;

	if ((lk = keys_lock()) == -1)
		return;
	if (key_holder(name, id) == -1)
		(void)unlinkat(spool_fd, name, 0);
	close(lk);
}
