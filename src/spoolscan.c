/*
 * spoolscan.c: the scans of the spool directory: recovery at start (temp
 * files, leftovers, stale keys, jobs that were running, the queued ones
 * in submission order), the retention sweep of finished jobs, the
 * listing and the count of finished jobs.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "spoolpriv.h"
#include "util.h"

/* A directory stream of the spool with an offset of its own. */
static DIR *
spool_opendir(void)
{
	DIR *d;
	int  fd;

	if ((fd = spool_dir_open()) == -1)
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
	for (i = 0; spool_suffixes[i] != NULL; i++)
		if (strcmp(dot, spool_suffixes[i]) == 0) {
			memcpy(id, name, len);
			id[len] = '\0';
			return spool_suffixes[i];
		}
	return NULL;
}

static time_t
done_expiry(const char *id, int retention)
{
	struct stat st;
	char	    name[64];

	spool_job_file(name, sizeof(name), id, ".done");
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

	spool_job_file(name, sizeof(name), id, ".run");
	ended = spool_read(name, &b, SPOOL_HEADER_MAX) == 0 &&
	    spool_header_get(b.data, b.len, "done", v, sizeof(v)) == 0;
	if (ended)
		spool_header_get(b.data, b.len, "how", how, size);
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

/* What the start-up scan of the spool gathers. */
struct recovery {
	struct queued *q; /* the queued jobs */
	size_t	       n, cap;
	spool_stuck_fn stuck;
	time_t	      *next_expiry;
	int	       retention;
	int	       wait_ms; /* for a runner from before: run_wait() */
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
 * Wait, WAIT_MS at most, until no process holds job ID's .run (a runner
 * of a master killed, still stopping its service: spool_run_hold()), so
 * that the job never runs twice at once.  0 once none does, -1 if one
 * still does.
 */
static int
run_wait(const char *id, int wait_ms)
{
	struct timespec nap = { 0, 50 * 1000000 };
	long long	end = now_ms() + wait_ms;
	int		fd, r = 0, waited = 0;

	if ((fd = spool_run_open(id)) == -1)
		return 0;
	while (flock(fd, LOCK_EX | LOCK_NB) == -1 &&
	    (errno == EWOULDBLOCK || errno == EINTR)) {
		if (!waited++)
			log_info("job %s: waiting for its runner from before",
			    id);
		if (now_ms() >= end) {
			r = -1;
			break;
		}
		(void)nanosleep(&nap, NULL);
	}
	close(fd);
	return r;
}

/*
 * Job ID was running when the daemon stopped, its service stopped before
 * it ended (its .run says nothing of an end).  With attempts left, the
 * one it was in counted, it is queued again: 1 if so.
 */
static int
recover_attempt(const struct recovery *rc, const char *id)
{
	struct job_try t;
	char	       how[64];

	if (run_ended(id, how, sizeof(how)) || spool_load_try(id, &t) == -1 ||
	    t.max == 0 || t.attempts >= t.max)
		return 0;
	if (run_wait(id, rc->wait_ms) == -1) {
		log_warnx("job %s: its runner from before still holds it "
			  "after %d ms: not run again",
		    id, rc->wait_ms);
		return 0;
	}
	if (spool_requeue(id) == -1)
		return 0;
	log_info("job %s was running when the daemon stopped: attempt %d of "
		 "%d counted, queued again",
	    id, t.attempts, t.max);
	return 1;
}

/* Job ID, whose request is in the spool, at start. */
static void
recover_job(struct recovery *rc, const char *id)
{
	switch (spool_state(id)) {
	case JOB_RUNNING:
		if (recover_attempt(rc, id)) {
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

/* One entry NAME of the spool at start. */
static void
recover_entry(struct recovery *rc, const char *name)
{
	const char *sfx;
	char	    id[JOB_ID_MAX + 1];

	if (strncmp(name, SPOOL_TMP_PREFIX, strlen(SPOOL_TMP_PREFIX)) == 0) {
		unlinkat(spool_fd, name, 0);
		return;
	}
	if (strncmp(name, SPOOL_KEY_PREFIX, strlen(SPOOL_KEY_PREFIX)) == 0) {
		spool_key_recover(name);
		return;
	}
	if ((sfx = name_suffix(name, id)) == NULL)
		return;
	if (strcmp(sfx, ".req") == 0)
		recover_job(rc, id);
	else if (!spool_has(id, ".req"))
		unlinkat(spool_fd, name, 0);
}

/*
 * Start-up: remove temp files and leftovers of removed jobs, finish jobs
 * that were running (or hand them to STUCK if the spool cannot take the
 * result), hand the queued ones to QUEUED in submission order, and find
 * the next expiry of a finished job.
 */
int
spool_recover(spool_queued_fn queued, spool_stuck_fn stuck,
    time_t *next_expiry, int retention, int wait_ms)
{
	struct recovery rc = { NULL, 0, 0, stuck, next_expiry, retention,
		wait_ms };
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
