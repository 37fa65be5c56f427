/*
 * schedend.c: a runner's end, as the master sees it (see sched.c).
 *
 * The job of a runner reaped has a result, or is queued again: it lost
 * its instance, the spool was full, it has attempts left, or it was
 * queued again while its runner ran.  A runner that ended without a
 * result gets one that says so; a result the spool cannot take is kept
 * and tried again, and no runner starts meanwhile (with a backoff).
 * Finished jobs are removed when their retention is over.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "deps.h"
#include "log.h"
#include "pending.h"
#include "rate.h"
#include "runner.h"
#include "sched.h"
#include "schedpriv.h"
#include "sig.h"

/*
 * How long after its kill_grace a runner of a killed master may take to
 * be gone (its service killed, the rest swept), at the most.
 */
#define RUNNER_GONE_S 2

/* Backoff between tries to write a full spool, in milliseconds. */
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000

/* A job that ran and ended without a result the spool could take. */
struct unfinished {
	char id[JOB_ID_MAX + 1];
	char service[SERVICE_NAME_MAX + 1];
	int  stopped; /* found running at start */
};

static struct {
	struct unfinished *unfinished;
	size_t		   nunfinished, unfcap;
	time_t		   next_expiry;
	long long	   retry_at; /* no runner started before (ms) */
	int		   retry_ms; /* the current backoff */
} q;

/* The spool could not be written: start no runner for a while. */
static void
retry_later(void)
{
	q.retry_ms = q.retry_ms == 0 ? RETRY_MIN_MS : q.retry_ms * 2;
	if (q.retry_ms > RETRY_MAX_MS)
		q.retry_ms = RETRY_MAX_MS;
	q.retry_at = now_ms() + q.retry_ms;
}

/* Keep job ID, whose result the spool could not take, to try again. */
static void
unfinished_add(const char *id, const char *service, int stopped)
{
	struct unfinished *u;

	q.unfinished = sched_grow(q.unfinished, &q.unfcap, q.nunfinished,
	    sizeof(*q.unfinished));
	u = &q.unfinished[q.nunfinished++];
	strlcpy(u->id, id, sizeof(u->id));
	strlcpy(u->service, service != NULL ? service : "",
	    sizeof(u->service));
	u->stopped = stopped;
	retry_later();
}

/* Recovery found job ID running and could not finish it. */
static void
stuck(const char *id, const char *service)
{
	unfinished_add(id, service, 1);
}

/*
 * Publish "Job runner failed" for job ID, whose runner ended without a
 * result.  If the spool cannot take it, the job is kept to try again
 * (and said so the first time, FIRST).
 */
static void
finish_failed(const char *id, const char *service, int first)
{
	if (spool_finish_now(id, ERR_JOB_FAILED, "error") == 0 ||
	    errno == EEXIST) {
		sched_wake(id);
		return;
	}
	if (first)
		log_warn("job %s: cannot publish its result, will retry", id);
	unfinished_add(id, service, 0);
}

/* Try again to publish the results the spool could not take. */
static void
unfinished_retry(void)
{
	struct unfinished *u = q.unfinished;
	size_t		   i, n = q.nunfinished;
	enum job_state	   st;

	q.unfinished = NULL;
	q.nunfinished = q.unfcap = 0;
	for (i = 0; i < n; i++) {
		if ((st = spool_state(u[i].id)) == JOB_DONE || st == JOB_NONE)
			continue;
		if (!u[i].stopped)
			finish_failed(u[i].id, u[i].service, 0);
		else if (spool_finish_stopped(u[i].id) == -1)
			unfinished_add(u[i].id, u[i].service, 1);
		else
			sched_wake(u[i].id);
	}
	free(u);
}

/*
 * Job J's attempt ended with attempts left (RUNNER_AGAIN), its state ST:
 * queue it again, due when its .try says.  When the daemon stops, its
 * .run stays, and the next start queues it.  1 if done so.
 */
static int
attempt_again(struct qjob *j, enum job_state st)
{
	struct job_try t;

	if (st == JOB_RUNNING && sig_term)
		return 1;
	if (st != JOB_RUNNING && st != JOB_QUEUED)
		return 0; /* cancelled meanwhile */
	if (st == JOB_RUNNING && spool_requeue(j->id) == -1) {
		log_warn("job %s: cannot queue it again", j->id);
		return 0;
	}
	if (spool_load_try(j->id, &t) == -1)
		t.not_before_ms = 0;
	quota_note(j->src, 1, 0);
	pending_again(j, t.not_before_ms);
	return 1;
}

/*
 * The runner of job J ended with STATUS: see that the job has a result,
 * or is queued again.  Returns 1 if the job is queued again (the queue
 * owns it).
 */
int
sched_ended(struct qjob *j, int status, const struct config *conf)
{
	int	       code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	enum job_state st = spool_state(j->id);
	time_t	       t;

	if ((code == RUNNER_BUSY || code == RUNNER_RETRY) &&
	    st == JOB_QUEUED) {
		/* Lost its instance to a call, or the spool is full. */
		quota_note(j->src, 1, 0);
		pending_put_back(j);
		if (code == RUNNER_RETRY)
			retry_later();
		return 1;
	}
	if (code == RUNNER_AGAIN && attempt_again(j, st))
		return st != JOB_RUNNING || !sig_term;
	if ((code == RUNNER_HOLD || code == 0) && st == JOB_QUEUED) {
		/*
		 * Queued again while its runner ran: its failed dependency was
		 * retried (RUNNER_HOLD), or the job itself was retried by hand
		 * once its result was out (during its on_done hook, say), its
		 * note ignored meanwhile.  Judge it again: if it may run now,
		 * a held job's delay is not waited for again.
		 */
		if (deps_hold(j->id, j->service, j->src))
			return 0;
		quota_note(j->src, 1, 0);
		if (code == RUNNER_HOLD)
			pending_put_back(j);
		else
			pending_again(j, 0);
		return 1;
	}
	if (code == 0)
		q.retry_ms = 0;
	if (st == JOB_RUNNING || code != 0)
		finish_failed(j->id, j->service, 1);
	sched_wake(j->id);
	t = time(NULL) + conf->limits.job_retention;
	if (q.next_expiry == 0 || t < q.next_expiry)
		q.next_expiry = t;
	return 0;
}

/*
 * Recover the spool at start: QUEUED is told of each queued job found; a
 * job found running that cannot be finished is kept to try again.
 */
int
sched_recover(const struct config *conf, spool_queued_fn queued)
{
	return spool_recover(queued, stuck, &q.next_expiry,
	    conf->limits.job_retention,
	    (conf->limits.kill_grace + RUNNER_GONE_S) * 1000);
}

/* Whether no runner may start yet: the spool could not be written. */
int
sched_retry_wait(void)
{
	if (q.retry_at != 0 && now_ms() < q.retry_at)
		return 1;
	q.retry_at = 0;
	return 0;
}

/*
 * Milliseconds until the next finished job expires, a waiting job is due
 * or the spool is to be tried again, -1 for none: the master sleeps
 * until then.
 */
int
sched_timeout_ms(void)
{
	time_t now;
	int    ms = -1, due;

	if (q.next_expiry != 0) {
		now = time(NULL);
		ms = q.next_expiry <= now ? 0 :
		    q.next_expiry - now > 86400 ?
					    86400000 :
					    (int)(q.next_expiry - now) * 1000;
	}
	if (q.retry_at != 0 && (ms == -1 || ms_until(q.retry_at) < ms))
		ms = ms_until(q.retry_at);
	if ((due = pending_timeout_ms()) != -1 && (ms == -1 || due < ms))
		ms = due;
	if (q.nunfinished > 0 && q.retry_at == 0)
		ms = 0; /* due, and sched_dispatch() cleared it */
	return ms;
}

/*
 * Remove finished jobs whose retention is over; publish the results that
 * the spool could not take before.
 */
void
sched_tick(const struct config *conf)
{
	int n;

	if (q.nunfinished > 0 && now_ms() >= q.retry_at)
		unfinished_retry();
	if (q.next_expiry == 0 || time(NULL) < q.next_expiry)
		return;
	if ((n = spool_expire(conf->limits.job_retention, &q.next_expiry)) > 0)
		log_info("spool: %d finished jobs expired", n);
	else if (n == -1) {
		log_warn("spool: expire");
		q.next_expiry = time(NULL) + 60;
	}
}

void
sched_end_free(void)
{
	free(q.unfinished);
	memset(&q, 0, sizeof(q));
}
