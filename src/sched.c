/*
 * sched.c: the master owns every queued job's life.
 *
 * A connection child publishes a job in the spool, then tells the master
 * its id on the spool's FIFO (see queue.c); sched_notify_read()
 * (schednote.c) appends it to the queued jobs, and sched_dispatch() forks
 * a runner (runner.c) whenever fewer than max_jobs run.  When the master
 * reaps a runner, schedend.c sees that its job has a result or is queued
 * again.  A cancelled job's runner is stopped here: only the master knows
 * which of its children runs which job, and a child it has not reaped
 * cannot have passed its pid on.
 */
#include <sys/tree.h>
#include <sys/types.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "deps.h"
#include "log.h"
#include "pending.h"
#include "rate.h"
#include "runner.h"
#include "sched.h"
#include "schedpriv.h"
#include "slot.h"

/* A runner, by pid, and the job it runs (out of the queue meanwhile). */
struct runner {
	RB_ENTRY(runner) entry;
	pid_t	     pid;
	struct qjob *job;
};

static int
runner_cmp(const struct runner *a, const struct runner *b)
{
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

RB_HEAD(runners, runner);
/* libbsd's RB_GENERATE_STATIC needs a __unused it leaves undefined. */
RB_GENERATE_INTERNAL(runners, runner, entry, runner_cmp,
    __attribute__((unused)) static)

static struct sched {
	struct runners runners;
	size_t	       nrunners;
} q = {
	.runners = RB_INITIALIZER(&q.runners),
};

/*
 * Job ID was cancelled: stop its runner, if it has one, or take it out of
 * the queue, so that a job cancelled while it waits for its due time
 * counts no more against max_queue and its source's quota.
 */
void
sched_job_cancel(const char *id)
{
	struct runner *r;
	struct qjob   *j;

	RB_FOREACH(r, runners, &q.runners)
	if (strcmp(r->job->id, id) == 0)
		(void)kill(r->pid, SIGTERM);
	if ((j = pending_drop(id)) != NULL) {
		quota_note(j->src, -1, 0);
		free(j);
	}
}

/* Is job ID queued or running? */
int
sched_job_known(const char *id)
{
	struct runner *r;

	RB_FOREACH(r, runners, &q.runners)
	if (strcmp(r->job->id, id) == 0)
		return 1;
	return pending_known(id);
}

/* Can a job of SERVICE start now, as far as max_instances goes? */
static int
instance_free(const struct config *conf, const char *service)
{
	const struct service *sv;
	struct runner	     *r;
	int		      mine = 0;

	if ((sv = config_service(conf, service)) == NULL ||
	    sv->max_instances == 0)
		return 1;
	RB_FOREACH(r, runners, &q.runners)
	mine += strcmp(r->job->service, service) == 0;
	return mine < sv->max_instances && !slot_full(sv);
}

/*
 * Fork a runner for job J, taken from the queue (or doomed by its
 * dependency DEP, else NULL); -1 if it cannot be now.
 */
static int
runner_fork(const struct config *conf, struct qjob *j, const char *dep)
{
	struct runner *r;
	char	       id[JOB_ID_MAX + 1], failed[JOB_ID_MAX + 1];
	pid_t	       pid, master = getpid();

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("calloc");
		return -1;
	}
	switch (pid = child_fork()) {
	case -1:
		log_warn("fork");
		free(r);
		return -1;
	case 0:
		/* J lives in our queue, which the child leaves alone. */
		strlcpy(id, j->id, sizeof(id));
		strlcpy(failed, dep != NULL ? dep : "", sizeof(failed));
		free(r);
		_exit(runner_main(conf, id, master, dep ? failed : NULL));
	default:
		r->pid = pid;
		r->job = j;
		quota_note(j->src, -1, 1);
		RB_INSERT(runners, &q.runners, r);
		q.nrunners++;
		return 0;
	}
}

/*
 * Start the runner of job ID of SERVICE (from SRC), doomed by its
 * dependency FAILED, past the job's delay and its service's limits: it
 * runs nothing, and publishes its failure before FAILED's result may
 * expire (deps.c).  Not past max_jobs twice over, though: a job with
 * thousands of dependants failing forks no thousands of runners at once;
 * -1 then, and the rest start as runners end.
 */
static int
doomed_start(void *arg, const char *id, const char *service, uint64_t src,
    int prio, const char *failed)
{
	const struct config *conf = arg;
	struct qjob	    *j;

	if (q.nrunners >= 2 * (size_t)conf->limits.max_jobs)
		return -1;
	j = pending_add(id, service, src, prio, 0);
	pending_take(j);
	quota_note(src, 1, 0);
	if (runner_fork(conf, j, failed) == 0)
		return 0;
	quota_note(src, -1, 0);
	free(j);
	return -1;
}

/*
 * Fork runners for queued jobs while slots are free: the jobs that are
 * due, in their order (pending.c: priority, ageing, arrival); one whose
 * service has no instance free, or whose source is at its quota, is
 * passed over, so that it holds up only its own kind.  Each job started
 * costs O(log n), each passed over O(1).
 */
void
sched_dispatch(const struct config *conf)
{
	struct qjob *j, *next;

	pending_promote(); /* whatever else waits: due is due */
	if (sched_retry_wait())
		return; /* the spool could not be written */
	deps_start(doomed_start, (void *)conf);
	for (j = pending_first();
	     j != NULL && q.nrunners < (size_t)conf->limits.max_jobs;
	     j = next) {
		next = pending_next(j);
		if (!instance_free(conf, j->service) ||
		    !quota_may_run(conf, j->service, j->src))
			continue;
		if (runner_fork(conf, j, NULL) == -1)
			return;	 /* try again at the next event */
		pending_take(j); /* the runner's now (the child's is lost) */
	}
}

/*
 * The master reaped PID.  If it was a runner, free its slot; if it died
 * without publishing a result, publish one that says so; if it could not
 * write the spool, queue its job again, first, and wait a while.
 * Returns 1 for a runner, 0 for another child.
 */
int
sched_reaped(pid_t pid, int status, const struct config *conf)
{
	struct runner key = { .pid = pid }, *r;

	if ((r = RB_FIND(runners, &q.runners, &key)) == NULL) {
		sched_waiter_forget(pid);
		return 0;
	}
	RB_REMOVE(runners, &q.runners, r);
	q.nrunners--;
	quota_note(r->job->src, 0, -1);
	if (!sched_ended(r->job, status, conf))
		free(r->job);
	free(r);
	return 1;
}

/* The jobs queued, those waiting for others included. */
size_t
sched_pending(void)
{
	return pending_count() + deps_blocked();
}

size_t
sched_running(void)
{
	return q.nrunners;
}

/* Send SIG to every runner (the daemon stops). */
void
sched_signal(int sig)
{
	struct runner *r;

	RB_FOREACH(r, runners, &q.runners)
	(void)kill(r->pid, sig);
}

void
sched_free(void)
{
	struct runner *r;

	pending_free();
	while ((r = RB_MIN(runners, &q.runners)) != NULL) {
		RB_REMOVE(runners, &q.runners, r);
		free(r->job);
		free(r);
	}
	deps_free();
	sched_note_free();
	sched_end_free();
	memset(&q, 0, sizeof(q));
	RB_INIT(&q.runners);
}
