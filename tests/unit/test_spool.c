/*
 * test_spool.c: the job spool, where a crash must never lose a job: each
 * file published whole, state from the files present, recovery of what
 * a crash left, retention, and files cut short at any byte.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "unit.h"

static const struct peer nobody = { "tcp", "127.0.0.1", "4000", "", "", { 0 },
	(uid_t)-1 };

static void
open_spool(void)
{
	const char *why;

	CHECK(spool_open("spool", geteuid(), getegid(), &why) == 0);
	CHECK(spool_lock(&why) == 0);
}

static char queued_ids[8][JOB_ID_MAX + 1];
static int  nqueued, nstuck;

static long long queued_due[8];

static void
on_queued(const char *id, const char *service, int prio, long long due_ms,
    int waits)
{
	(void)prio;
	(void)waits;
	CHECK_STR(service, "svc");
	if (nqueued < 8)
		queued_due[nqueued] = due_ms;
	if (nqueued < 8)
		strlcpy(queued_ids[nqueued], id, sizeof(queued_ids[0]));
	nqueued++;
}

static void
on_stuck(const char *id, const char *service)
{
	(void)id;
	(void)service;
	nstuck++;
}

static void
result(struct job_result *r, int code, const char *out)
{
	memset(r, 0, sizeof(*r));
	r->code = code;
	strlcpy(r->how, "exit 0", sizeof(r->how));
	clock_gettime(CLOCK_REALTIME, &r->started);
	r->ended = r->started;
	if (out != NULL)
		CHECK(buf_append(&r->out, out, strlen(out)) == 0);
}

/* A file of the spool as it is on disk. */
static size_t
slurp(const char *name, char *buf, size_t size)
{
	char	path[128];
	ssize_t n;
	int	fd;

	snprintf(path, sizeof(path), "spool/%s", name);
	CHECK((fd = open(path, O_RDONLY)) != -1);
	CHECK((n = read(fd, buf, size)) > 0);
	close(fd);
	return (size_t)n;
}

static void
spit(const char *name, const char *buf, size_t len)
{
	char path[128];
	int  fd;

	snprintf(path, sizeof(path), "spool/%s", name);
	CHECK((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	CHECK(write(fd, buf, len) == (ssize_t)len);
	close(fd);
}

TEST(spool_add_then_load_is_byte_exact)
{
	static const char data[] = "a\0b\nc\r\n\0";
	struct job_req	  req;
	char		  id[JOB_ID_MAX + 1];

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, data, sizeof(data), id) ==
	    0);
	CHECK(proto_valid_id(id, strlen(id)));
	CHECK(spool_state(id) == JOB_QUEUED);
	CHECK(spool_load_req(id, &req) == 0);
	CHECK_STR(req.service, "svc");
	CHECK_STR(req.ip, "127.0.0.1");
	CHECK(req.data.len == sizeof(data));
	CHECK(memcmp(req.data.data, data, sizeof(data)) == 0);
	spool_req_free(&req);
	CHECK(spool_state("0123456789abcdef") == JOB_NONE);
}

TEST(spool_keeps_a_jobs_options)
{
	struct job_opts o;
	struct job_req	req;
	char		id[JOB_ID_MAX + 1];
	time_t		now = time(NULL);

	open_spool();
	memset(&o, 0, sizeof(o));
	o.priority = 7;
	o.delay = 60;
	strcpy(o.key, "k-1");
	o.nafter = 2;
	strcpy(o.after[0], "0123456789abcdef");
	strcpy(o.after[1], "fedcba9876543210");
	CHECK(spool_add("svc", NULL, &nobody, &o, "x", 1, id) == 0);
	CHECK(spool_load_req(id, &req) == 0);
	CHECK(req.priority == 7);
	CHECK(req.not_before_ms >= (now + 60) * 1000 &&
	    req.not_before_ms <= (time(NULL) + 61) * 1000);
	CHECK_STR(req.key, "k-1");
	CHECK(req.nafter == 2);
	CHECK_STR(req.after[1], "fedcba9876543210");
	CHECK(req.data.len == 1 && req.data.data[0] == 'x');
	spool_req_free(&req);
	/* at= wins over delay=; no options read as none. */
	o.at = 2000000000;
	o.nafter = 0;
	o.key[0] = '\0';
	CHECK(spool_add("svc", NULL, &nobody, &o, "y", 1, id) == 0);
	CHECK(spool_load_req(id, &req) == 0);
	CHECK(req.not_before_ms == 2000000000000LL && req.nafter == 0);
	spool_req_free(&req);
	CHECK(spool_add("svc", NULL, &nobody, NULL, "z", 1, id) == 0);
	CHECK(spool_load_req(id, &req) == 0);
	CHECK(req.priority == 0 && req.not_before_ms == 0 && req.key[0] == 0);
	spool_req_free(&req);
}

TEST(spool_node_ids_are_jobs_like_any)
{
	struct job_req req;
	struct buf     list = { 0 };
	char	       id[JOB_ID_MAX + 1], plain[JOB_ID_MAX + 1];
	time_t	       next;

	open_spool();
	CHECK(spool_add("svc", "n1", &nobody, NULL, "x", 1, id) == 0);
	CHECK(strlen(id) == JOB_ID_MAX && strncmp(id, "n1______-", 9) == 0);
	CHECK(spool_add("svc", NULL, &nobody, NULL, "y", 1, plain) == 0);
	CHECK(strlen(plain) == JOB_ID_HEX);
	CHECK(spool_state(id) == JOB_QUEUED);
	CHECK(spool_load_req(id, &req) == 0);
	CHECK_STR(req.id, id);
	spool_req_free(&req);
	CHECK(spool_list(&list) == 0);
	CHECK(memmem(list.data, list.len, id, strlen(id)) != NULL);
	CHECK(memmem(list.data, list.len, plain, strlen(plain)) != NULL);
	buf_free(&list);
	CHECK(spool_recover(on_queued, on_stuck, &next, 3600, 0) == 0);
	CHECK(nqueued == 2);
}

TEST(spool_a_result_is_written_once)
{
	struct job_result r, got;
	char		  id[JOB_ID_MAX + 1];

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, "x", 1, id) == 0);
	CHECK(spool_mark_running(id, getpid()) == 0);
	CHECK(spool_state(id) == JOB_RUNNING);
	CHECK(spool_runner(id) == getpid());
	CHECK(spool_mark_running(id, getpid()) == -1 && errno == EEXIST);
	result(&r, 200, "first");
	CHECK(spool_finish(id, &r) == 0);
	spool_result_free(&r);
	result(&r, 500, NULL);
	CHECK(spool_finish(id, &r) == -1 && errno == EEXIST);
	CHECK(spool_state(id) == JOB_DONE);
	CHECK(spool_load_result(id, &got) == 0);
	CHECK(got.code == 200 && got.out.len == 5);
	CHECK(memcmp(got.out.data, "first", 5) == 0);
	spool_result_free(&got);
}

TEST(spool_recovery_queues_in_order_and_ends_what_ran)
{
	struct job_result got;
	char		  a[JOB_ID_MAX + 1], b[JOB_ID_MAX + 1];
	char		  c[JOB_ID_MAX + 1];
	time_t		  next;

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, "1", 1, a) == 0);
	usleep(2000);
	CHECK(spool_add("svc", NULL, &nobody, NULL, "2", 1, b) == 0);
	usleep(2000);
	CHECK(spool_add("svc", NULL, &nobody, NULL, "3", 1, c) == 0);
	CHECK(spool_mark_running(b, 1) == 0); /* a crash while it ran */
	spit(".tmp-0123456789abcdef.req-1", "half", 4); /* a torn write */
	CHECK(spool_recover(on_queued, on_stuck, &next, 3600, 0) == 0);
	CHECK(nqueued == 2 && nstuck == 0);
	CHECK_STR(queued_ids[0], a);
	CHECK_STR(queued_ids[1], c);
	CHECK(spool_state(b) == JOB_DONE);
	CHECK(spool_load_result(b, &got) == 0);
	CHECK(got.code == 503 && strstr(got.message, "interrupted") != NULL);
	spool_result_free(&got);
	CHECK(access("spool/.tmp-0123456789abcdef.req-1", F_OK) == -1);
	CHECK(next > time(NULL));
}

TEST(spool_counts_attempts_and_keeps_the_next_due_time)
{
	struct job_try t = { 0 };
	char	       id[JOB_ID_MAX + 1];

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, "x", 1, id) == 0);
	CHECK(spool_load_try(id, &t) == 0 && t.attempts == 0 && t.max == 0);
	t.attempts = 2;
	t.max = 3;
	t.not_before_ms = 1764312345678LL;
	CHECK(spool_save_try(id, &t) == 0);
	memset(&t, 0, sizeof(t));
	CHECK(spool_load_try(id, &t) == 0);
	CHECK(t.attempts == 2 && t.max == 3);
	CHECK(t.not_before_ms == 1764312345678LL);
	t.attempts = 3; /* replaced whole, never appended */
	CHECK(spool_save_try(id, &t) == 0);
	CHECK(spool_load_try(id, &t) == 0 && t.attempts == 3);
	t.attempts = 0; /* none: removed, which a full disk allows */
	CHECK(spool_save_try(id, &t) == 0);
	CHECK(spool_load_try(id, &t) == 0 && t.attempts == 0 && t.max == 0);
	t.attempts = 1;
	CHECK(spool_save_try(id, &t) == 0);
	CHECK(spool_remove(id) == 0); /* its attempts go with it */
	CHECK(access("spool/", F_OK) == 0 && spool_state(id) == JOB_NONE);
	CHECK(spool_load_try(id, &t) == 0 && t.attempts == 0);
}

TEST(spool_recovery_requeues_an_attempt_with_attempts_left)
{
	struct job_try t = { 2, 3, 0 };
	char	       a[JOB_ID_MAX + 1], b[JOB_ID_MAX + 1];
	time_t	       next;

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, "1", 1, a) == 0);
	CHECK(spool_add("svc", NULL, &nobody, NULL, "2", 1, b) == 0);
	t.not_before_ms = 4000000000000LL; /* a retry's backoff, kept */
	CHECK(spool_save_try(a, &t) == 0);
	CHECK(spool_mark_running(a, 1) == 0); /* killed in attempt 2 of 3 */
	t.attempts = 3;
	CHECK(spool_save_try(b, &t) == 0);
	CHECK(spool_mark_running(b, 1) == 0); /* ... in its last attempt */
	CHECK(spool_recover(on_queued, on_stuck, &next, 3600, 0) == 0);
	CHECK(nqueued == 1 && nstuck == 0);
	CHECK_STR(queued_ids[0], a);
	CHECK(queued_due[0] == 4000000000000LL);
	CHECK(spool_state(a) == JOB_QUEUED);
	CHECK(spool_load_try(a, &t) == 0 && t.attempts == 2); /* not reset */
	CHECK(spool_state_full(b) == JOB_FAILED);
}

/* A process holding job ID's run for MS milliseconds, as a runner. */
static pid_t
holder(const char *id, int ms)
{
	struct timespec nap = { ms / 1000, (ms % 1000) * 1000000L };
	int		p[2];
	pid_t		pid;
	char		c;

	CHECK(pipe(p) == 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (spool_run_hold(id) == 0 && write(p[1], "x", 1) == 1)
			nanosleep(&nap, NULL);
		_exit(0);
	}
	close(p[1]);
	CHECK(read(p[0], &c, 1) == 1); /* it holds it */
	close(p[0]);
	return pid;
}

TEST(spool_recovery_waits_for_a_runner_from_before)
{
	struct job_try t = { 1, 3, 0 };
	char	       a[JOB_ID_MAX + 1], b[JOB_ID_MAX + 1];
	time_t	       next;
	pid_t	       pa, pb;

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, "1", 1, a) == 0);
	CHECK(spool_add("svc", NULL, &nobody, NULL, "2", 1, b) == 0);
	CHECK(spool_save_try(a, &t) == 0 && spool_save_try(b, &t) == 0);
	CHECK(spool_mark_running(a, 1) == 0 && spool_mark_running(b, 1) == 0);
	/* A's runner lets go within the wait, B's does not. */
	pa = holder(a, 300);
	pb = holder(b, 5000);
	CHECK(spool_recover(on_queued, on_stuck, &next, 3600, 1500) == 0);
	CHECK(nqueued == 1 && nstuck == 0);
	CHECK_STR(queued_ids[0], a);
	CHECK(spool_state(a) == JOB_QUEUED);
	CHECK(spool_state_full(b) == JOB_FAILED); /* never twice at once */
	CHECK(kill(pb, SIGKILL) == 0);
	CHECK(waitpid(pa, NULL, 0) == pa && waitpid(pb, NULL, 0) == pb);
}

TEST(spool_a_failed_job_is_retried_afresh)
{
	struct job_result r;
	struct job_try	  t = { 3, 3, 0 };
	char		  id[JOB_ID_MAX + 1], ok[JOB_ID_MAX + 1];

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, "x", 1, id) == 0);
	CHECK(spool_add("svc", NULL, &nobody, NULL, "y", 1, ok) == 0);
	CHECK(spool_save_try(id, &t) == 0);
	CHECK(spool_mark_running(id, 1) == 0);
	result(&r, 502, NULL);
	CHECK(spool_finish(id, &r) == 0);
	CHECK(
	    spool_state(id) == JOB_DONE && spool_state_full(id) == JOB_FAILED);
	r.code = 200;
	CHECK(spool_finish(ok, &r) == 0);
	CHECK(spool_state_full(ok) == JOB_DONE);
	CHECK(spool_finish_now(ok, ERR_JOB_CANCELLED, "cancelled") == -1);
	CHECK(spool_retry(id) == 0);
	CHECK(spool_state_full(id) == JOB_QUEUED);
	CHECK(spool_load_try(id, &t) == 0 && t.attempts == 0);
}

TEST(spool_retention_expires_finished_jobs)
{
	struct job_result r;
	char		  id[JOB_ID_MAX + 1], kept[JOB_ID_MAX + 1];
	time_t		  next;

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, "x", 1, id) == 0);
	CHECK(spool_add("svc", NULL, &nobody, NULL, "y", 1, kept) == 0);
	result(&r, 200, "done");
	CHECK(spool_finish(id, &r) == 0);
	spool_result_free(&r);
	sleep(1);
	CHECK(spool_expire(0, &next) == 1);
	CHECK(spool_state(id) == JOB_NONE);
	CHECK(spool_state(kept) == JOB_QUEUED); /* not finished: stays */
	CHECK(spool_count_done() == 0);
}

TEST(spool_request_cut_at_any_byte_never_loads_short)
{
	static const char data[] = "the whole of the data";
	struct job_req	  req;
	char		  id[JOB_ID_MAX + 1], file[64], whole[1024];
	size_t		  len, k;

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, data, sizeof(data) - 1,
		  id) == 0);
	snprintf(file, sizeof(file), "%s.req", id);
	len = slurp(file, whole, sizeof(whole));
	for (k = 0; k < len; k++) {
		spit(file, whole, k);
		if (spool_load_req(id, &req) == 0) {
			/* Only ever whole: a header cut short fails. */
			CHECK(req.data.len == sizeof(data) - 1);
			spool_req_free(&req);
			CHECK(0);
		}
	}
	spit(file, whole, len);
	CHECK(spool_load_req(id, &req) == 0);
	CHECK(req.data.len == sizeof(data) - 1);
	spool_req_free(&req);
}

TEST(spool_cancel_marked_then_removed)
{
	char id[JOB_ID_MAX + 1];

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, "x", 1, id) == 0);
	CHECK(!spool_cancelled(id));
	CHECK(spool_cancel_mark(id) == 0);
	CHECK(spool_cancelled(id));
	CHECK(spool_remove(id) == 0);
	CHECK(spool_state(id) == JOB_NONE);
}

/* The length of the header of a spool file, its "\n\n" included. */
static size_t
header_len(const char *whole, size_t len)
{
	const char *p = memmem(whole, len, "\n\n", 2);

	CHECK(p != NULL);
	return (size_t)(p - whole) + 2;
}

TEST(spool_result_cut_in_its_header_never_loads)
{
	struct job_result r, got;
	char		  id[JOB_ID_MAX + 1], file[64], whole[1024];
	size_t		  len, hdr, k;

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, "x", 1, id) == 0);
	result(&r, 200, "the output");
	CHECK(spool_finish(id, &r) == 0);
	spool_result_free(&r);
	snprintf(file, sizeof(file), "%s.done", id);
	len = slurp(file, whole, sizeof(whole));
	hdr = header_len(whole, len);
	CHECK(hdr < len);
	for (k = 0; k < hdr; k++) {
		spit(file, whole, k);
		CHECK(spool_load_result(id, &got) == -1);
	}
	spit(file, whole, len);
	CHECK(spool_load_result(id, &got) == 0);
	CHECK(got.code == 200 && got.out.len == 10);
	CHECK(memcmp(got.out.data, "the output", 10) == 0);
	spool_result_free(&got);
}

TEST(spool_recovery_removes_unreadable_jobs_and_leftovers)
{
	struct job_result r;
	char		  bad[JOB_ID_MAX + 1], good[JOB_ID_MAX + 1];
	char		  gone[JOB_ID_MAX + 1], file[64], whole[1024];
	size_t		  len;
	time_t		  next;

	open_spool();
	CHECK(spool_add("svc", NULL, &nobody, NULL, "bad", 3, bad) == 0);
	CHECK(spool_add("svc", NULL, &nobody, NULL, "good", 4, good) == 0);
	CHECK(spool_add("svc", NULL, &nobody, NULL, "gone", 4, gone) == 0);
	/* A request cut inside its header, under its final name. */
	snprintf(file, sizeof(file), "%s.req", bad);
	len = slurp(file, whole, sizeof(whole));
	spit(file, whole, header_len(whole, len) / 2);
	/* A result left behind by a job whose request is gone. */
	result(&r, 200, "done");
	CHECK(spool_finish(gone, &r) == 0);
	spool_result_free(&r);
	snprintf(file, sizeof(file), "spool/%s.req", gone);
	CHECK(unlink(file) == 0);
	CHECK(spool_recover(on_queued, on_stuck, &next, 3600, 0) == 0);
	CHECK(nqueued == 1 && nstuck == 0);
	CHECK_STR(queued_ids[0], good);
	CHECK(spool_state(bad) == JOB_NONE);
	snprintf(file, sizeof(file), "spool/%s.req", bad);
	CHECK(access(file, F_OK) == -1);
	snprintf(file, sizeof(file), "spool/%s.done", gone);
	CHECK(access(file, F_OK) == -1);
	CHECK(next == 0); /* nothing finished is left to expire */
}

/* How many key files the spool holds. */
static int
key_files(void)
{
	struct dirent *de;
	DIR	      *d;
	int	       n = 0;

	CHECK((d = opendir("spool")) != NULL);
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "key-", 4) == 0;
	closedir(d);
	return n;
}

static void
keyed(struct job_opts *o, const char *key)
{
	memset(o, 0, sizeof(*o));
	strlcpy(o->key, key, sizeof(o->key));
}

TEST(spool_key_names_one_job_per_service_and_key)
{
	struct job_opts o;
	char		a[JOB_ID_MAX + 1], b[JOB_ID_MAX + 1];
	char		c[JOB_ID_MAX + 1], d[JOB_ID_MAX + 1];

	open_spool();
	keyed(&o, "order-17");
	CHECK(spool_add("svc", NULL, &nobody, &o, "x", 1, a) == 0);
	CHECK(spool_add("svc", NULL, &nobody, &o, "y", 1, b) == 1);
	CHECK_STR(b, a);
	CHECK(spool_add("other", NULL, &nobody, &o, "x", 1, c) == 0);
	CHECK(strcmp(c, a) != 0);
	keyed(&o, "order-18");
	CHECK(spool_add("svc", NULL, &nobody, &o, "x", 1, d) == 0);
	CHECK(strcmp(d, a) != 0 && strcmp(d, c) != 0);
	CHECK(key_files() == 3);
	/* Removed, the job gives its key up; the others keep theirs. */
	CHECK(spool_remove(a) == 0);
	CHECK(key_files() == 2);
	keyed(&o, "order-17");
	CHECK(spool_add("svc", NULL, &nobody, &o, "z", 1, b) == 0);
	CHECK(strcmp(b, a) != 0);
	CHECK(spool_add("other", NULL, &nobody, &o, "x", 1, d) == 1);
	CHECK_STR(d, c);
}

TEST(spool_key_is_its_scopes)
{
	struct job_opts o;
	struct job_req	req;
	char		a[JOB_ID_MAX + 1], b[JOB_ID_MAX + 1];
	char		c[JOB_ID_MAX + 1];

	open_spool();
	keyed(&o, "order-17");
	strcpy(o.keyscope, "0123456789abcdef0123456789abcdef");
	CHECK(spool_add("svc", NULL, &nobody, &o, "x", 1, a) == 0);
	CHECK(spool_key_find("svc", o.keyscope, "order-17", b) == 0);
	CHECK_STR(b, a);
	/* Another scope's key, or none, is another job's. */
	strcpy(o.keyscope, "fedcba9876543210fedcba9876543210");
	CHECK(spool_key_find("svc", o.keyscope, "order-17", b) == -1);
	CHECK(spool_add("svc", NULL, &nobody, &o, "y", 1, b) == 0);
	CHECK(strcmp(b, a) != 0);
	o.keyscope[0] = '\0';
	CHECK(spool_add("svc", NULL, &nobody, &o, "z", 1, c) == 0);
	CHECK(strcmp(c, a) != 0 && strcmp(c, b) != 0);
	CHECK(key_files() == 3);
	/* The scope is kept with the job, and its removal frees its key. */
	CHECK(spool_load_req(a, &req) == 0);
	CHECK_STR(req.keyscope, "0123456789abcdef0123456789abcdef");
	spool_req_free(&req);
	CHECK(spool_remove(a) == 0);
	CHECK(key_files() == 2);
	CHECK(spool_key_find("svc", "0123456789abcdef0123456789abcdef",
		  "order-17", b) == -1);
}

TEST(spool_key_of_an_expired_job_makes_a_new_one)
{
	struct job_opts	  o;
	struct job_result r;
	char		  a[JOB_ID_MAX + 1], b[JOB_ID_MAX + 1];
	time_t		  next;

	open_spool();
	keyed(&o, "k");
	CHECK(spool_add("svc", NULL, &nobody, &o, "x", 1, a) == 0);
	result(&r, 200, "done");
	CHECK(spool_finish(a, &r) == 0);
	spool_result_free(&r);
	/* Done but kept: the key still answers the job. */
	CHECK(spool_add("svc", NULL, &nobody, &o, "x", 1, b) == 1);
	CHECK_STR(b, a);
	sleep(1);
	CHECK(spool_expire(0, &next) == 1);
	CHECK(key_files() == 0);
	CHECK(spool_add("svc", NULL, &nobody, &o, "x", 1, b) == 0);
	CHECK(strcmp(b, a) != 0);
}

TEST(spool_key_files_left_stale_are_ignored_and_recovered)
{
	struct job_opts o;
	char		a[JOB_ID_MAX + 1], b[JOB_ID_MAX + 1], file[64];
	time_t		next;

	open_spool();
	keyed(&o, "k");
	CHECK(spool_add("svc", NULL, &nobody, &o, "x", 1, a) == 0);
	/* A crash after the key file, before the request: as if absent. */
	snprintf(file, sizeof(file), "spool/%s.req", a);
	CHECK(unlink(file) == 0);
	CHECK(spool_add("svc", NULL, &nobody, &o, "x", 1, b) == 0);
	CHECK(strcmp(b, a) != 0);
	CHECK(key_files() == 1);
	/* Stale again, and removed by the start-up scan. */
	snprintf(file, sizeof(file), "spool/%s.req", b);
	CHECK(unlink(file) == 0);
	spit("key-00000000000000000000000000000000", "garbage", 7);
	CHECK(key_files() == 2);
	CHECK(spool_recover(on_queued, on_stuck, &next, 3600, 0) == 0);
	CHECK(key_files() == 0 && nqueued == 0);
}

TEST(spool_key_racing_adds_make_one_job)
{
	struct job_opts o;
	struct buf	list = { 0 };
	char		ids[8][JOB_ID_MAX + 1];
	int		p[8][2], i, st, r;
	pid_t		pid[8];

	open_spool();
	keyed(&o, "race");
	for (i = 0; i < 8; i++) {
		CHECK(pipe(p[i]) == 0);
		CHECK((pid[i] = fork()) != -1);
		if (pid[i] == 0) {
			r = spool_add("svc", NULL, &nobody, &o, "x", 1,
			    ids[i]);
			_exit(r == -1 ||
			    write(p[i][1], ids[i], JOB_ID_MAX + 1) !=
				JOB_ID_MAX + 1);
		}
		close(p[i][1]);
	}
	for (i = 0; i < 8; i++) {
		CHECK(waitpid(pid[i], &st, 0) == pid[i]);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		CHECK(read(p[i][0], ids[i], JOB_ID_MAX + 1) == JOB_ID_MAX + 1);
		close(p[i][0]);
		CHECK_STR(ids[i], ids[0]);
	}
	CHECK(spool_list(&list) == 0);
	CHECK(memchr(list.data, '\n', list.len) == list.data + list.len - 1);
	buf_free(&list);
	CHECK(key_files() == 1);
}
