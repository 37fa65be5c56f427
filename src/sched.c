/*
 * sched.c: the master owns every queued job's life.
 *
 * A connection child publishes a job in the spool, then tells the master
 * its id on the spool's FIFO (see queue.c); sched_notify_read() appends
 * it to the queued jobs, and sched_dispatch() forks a runner (runner.c)
 * whenever fewer than max_jobs run.  The master opens the FIFO before it
 * scans the spool at start, so that a job a child of a dead master queues
 * while the new one starts is found by the scan or read from the FIFO: a
 * job whose id was answered is always run.  A child waiting for a job
 * tells its pid on the same FIFO and sleeps; the master wakes it
 * (SIGUSR2) when the job is done.  A cancelled job's runner is stopped
 * here: only the master knows which of its children runs which job, and
 * a child it has not reaped cannot have passed its pid on.
 */
#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "deps.h"
#include "log.h"
#include "pending.h"
#include "queue.h"
#include "rate.h"
#include "runner.h"
#include "sched.h"
#include "sig.h"
#include "slot.h"

/*
 * How long after its kill_grace a runner of a killed master may take to
 * be gone (its service killed, the rest swept), at the most.
 */
#define RUNNER_GONE_S 2

/* Backoff between tries to write a full spool, in milliseconds. */
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000

/* A runner, by pid, and the job it runs (out of the queue meanwhile). */
struct runner {
	RB_ENTRY(runner) entry;
	pid_t	     pid;
	struct qjob *job;
};

/* A connection child waiting for a job. */
struct waiter {
	pid_t pid;
	char  id[JOB_ID_MAX + 1];
};

/* A job that ran and ended without a result the spool could take. */
struct unfinished {
	char id[JOB_ID_MAX + 1];
	char service[SERVICE_NAME_MAX + 1];
	int  stopped; /* found running at start */
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
	struct waiter *waiters;
	size_t	       nwaiters, waitcap;
	char (*recovered)[JOB_ID_MAX + 1]; /* sorted */
	size_t		   nrecovered, reccap;
	struct unfinished *unfinished;
	size_t		   nunfinished, unfcap;
	time_t		   next_expiry;
	long long	   retry_at; /* no runner started before (ms) */
	int		   retry_ms; /* the current backoff */
} q = {
	.runners = RB_INITIALIZER(&q.runners),
};

static void stuck(const char *, const char *);

/* Queue job ID (see pending.c), counted against its source's quota. */
static void
pending_insert(const char *id, const char *service, uint64_t src, int prio,
    long long due_ms)
{
	quota_note(src, 1, 0);
	(void)pending_add(id, service, src, prio, due_ms);
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Room in the array A of *CAP elements of SIZE for element N. */
static void *
grow(void *a, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return a;
	*cap = *cap ? *cap * 2 : 16;
	if ((a = reallocarray(a, *cap, size)) == NULL)
		fatal("reallocarray");
	return a;
}

/* A job that waited for others may run now (deps.c). */
static void
released(const char *id, const char *service, uint64_t src, int prio,
    long long due_ms)
{
	pending_insert(id, service, src, prio, due_ms);
}

/*
 * A queued job the start-up scan found: queue it, or hold it while it
 * waits for others (WAITS: it names some; only then is its request read
 * again); remember its id.
 */
static void
recovered(const char *id, const char *service, int prio, long long due_ms,
    int waits)
{
	if (!waits || !deps_hold(id, service, 0))
		pending_insert(id, service, 0, prio, due_ms);
	q.recovered =
	    grow(q.recovered, &q.reccap, q.nrecovered, sizeof(*q.recovered));
	strlcpy(q.recovered[q.nrecovered++], id, sizeof(*q.recovered));
}

/*
 * Start-up: open the FIFO children tell us of jobs on, then recover the
 * spool.  In this order, a job queued meanwhile by a child of a dead
 * master is found by the scan, or read from the FIFO, or both: a note of
 * a job the scan found is then ignored (its id is kept for as long as we
 * run, since such a child may write its note at any time).
 */
int
sched_init(const struct config *conf)
{
	if (spool_notify_open() == -1)
		return -1;
	if (spool_recover(recovered, stuck, &q.next_expiry,
		conf->limits.job_retention,
		(conf->limits.kill_grace + RUNNER_GONE_S) * 1000) == -1)
		return -1;
	if (q.nrecovered > 1)
		qsort(q.recovered, q.nrecovered, sizeof(*q.recovered), id_cmp);
	if (pending_count() > 0)
		log_info("spool: %zu queued jobs recovered", pending_count());
	return 0;
}

int
sched_notify_fd(void)
{
	return spool_notify_fd();
}

/*
 * Job ID is done: wake the children waiting for it, and queue the jobs
 * that waited for it and may run now.
 */
static void
waiters_wake(const char *id)
{
	size_t i = q.nwaiters;

	deps_ended(id, released);

	while (i-- > 0)
		if (strcmp(q.waiters[i].id, id) == 0) {
			(void)kill(q.waiters[i].pid, SIGUSR2);
			q.waiters[i] = q.waiters[--q.nwaiters];
		}
}

/*
 * Child PID waits for job ID: wake it when the job is done, at once if it
 * is done already (it may have ended before this note was read).  OURS
 * tells our children, the only processes we signal.
 */
static void
waiter_add(const char *id, pid_t pid, int (*ours)(pid_t))
{
	enum job_state st;

	if (pid <= 0 || !ours(pid))
		return; /* reaped already, or not ours */
	if ((st = spool_state(id)) != JOB_QUEUED && st != JOB_RUNNING) {
		(void)kill(pid, SIGUSR2);
		return;
	}
	q.waiters =
	    grow(q.waiters, &q.waitcap, q.nwaiters, sizeof(*q.waiters));
	q.waiters[q.nwaiters].pid = pid;
	strlcpy(q.waiters[q.nwaiters].id, id, sizeof(q.waiters->id));
	q.nwaiters++;
}

/* Child PID was reaped: it waits no more. */
static void
waiter_forget(pid_t pid)
{
	size_t i = q.nwaiters;

	while (i-- > 0)
		if (q.waiters[i].pid == pid)
			q.waiters[i] = q.waiters[--q.nwaiters];
}

/*
 * Job ID was cancelled: stop its runner, if it has one, or take it out of
 * the queue, so that a job cancelled while it waits for its due time
 * counts no more against max_queue and its source's quota.
 */
static void
job_cancelled(const char *id)
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
static int
job_known(const char *id)
{
	struct runner *r;

	RB_FOREACH(r, runners, &q.runners)
	if (strcmp(r->job->id, id) == 0)
		return 1;
	return pending_known(id);
}

/*
 * A note of a job added (KIND NOTE_ADD, or NOTE_AFTER: it waits for
 * others) or retried (NOTE_RETRY: it may wait for others too, whose
 * request deps_hold() reads): queue it, or hold it while it waits.
 */
static void
note_add(const char *id, const char *note, int kind)
{
	uint64_t  src = strtoull(note + NOTE_SRC, NULL, 16);
	int	  prio = (int)strtol(note + NOTE_PRIO, NULL, 10);
	long long due = (long long)strtoull(note + NOTE_DUE, NULL, 16);

	if (prio < -JOB_PRIORITY_MAX || prio > JOB_PRIORITY_MAX)
		prio = 0;
	if (kind == NOTE_RETRY ? job_known(id) :
				 q.nrecovered > 0 &&
		    bsearch(id, q.recovered, q.nrecovered,
			sizeof(*q.recovered), id_cmp) != NULL)
		return; /* found by the scan at start, or queued already */
	if (kind != NOTE_ADD && deps_hold(id, note + NOTE_ARG, src))
		return; /* it waits for others, or one of them failed */
	pending_insert(id, note + NOTE_ARG, src, prio, due);
}

/* One note, NOTE_LEN bytes. */
static void
note_read(char *note, int (*ours)(pid_t))
{
	char   id[JOB_ID_MAX + 1];
	size_t len = strnlen(note + 1, JOB_ID_MAX);

	if (note[NOTE_LEN - 1] != '\n' || !proto_valid_id(note + 1, len)) {
		log_warnx("queue: bad notification");
		return;
	}
	memcpy(id, note + 1, len);
	id[len] = '\0';
	note[NOTE_LEN - 1] = '\0';
	note[NOTE_SRC - 1] = '\0'; /* ends the service's name */
	note[NOTE_PRIO - 1] = note[NOTE_DUE - 1] = '\0';
	switch (note[0]) {
	case NOTE_ADD:
	case NOTE_RETRY:
	case NOTE_AFTER:
		note_add(id, note, note[0]);
		break;
	case NOTE_WAIT:
		waiter_add(id, (pid_t)strtol(note + NOTE_ARG, NULL, 10), ours);
		break;
	case NOTE_DONE:
		job_cancelled(id);
		waiters_wake(id);
		break;
	default:
		log_warnx("queue: bad notification");
	}
}

/* Read what children told us; OURS tells our children. */
void
sched_notify_read(int (*ours)(pid_t))
{
	static char   win[NOTE_LEN]; /* the last bytes read */
	static size_t nwin, nseen;   /* ... since the last \n */
	char	      buf[NOTE_LEN * 64];
	ssize_t	      n, i;

	/*
	 * Children write whole notes, atomically, each ending in the only
	 * newline it holds.  Anything else written into the FIFO (by a
	 * service allowed to write to the spool) costs no note: a note is
	 * the NOTE_LEN bytes before a newline, whatever came before them.
	 */
	while ((n = read(spool_notify_fd(), buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++) {
			if (nwin == NOTE_LEN)
				memmove(win, win + 1, --nwin);
			win[nwin++] = buf[i];
			nseen++;
			if (buf[i] != '\n')
				continue;
			if (nseen != NOTE_LEN)
				log_warnx(
				    "queue: %zu stray bytes in the notify "
				    "FIFO",
				    nseen > NOTE_LEN ? nseen - NOTE_LEN :
						       nseen);
			if (nwin == NOTE_LEN)
				note_read(win, ours);
			nwin = nseen = 0;
		}
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
	if (q.retry_at != 0 && now_ms() < q.retry_at)
		return; /* the spool could not be written */
	q.retry_at = 0;
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

	q.unfinished = grow(q.unfinished, &q.unfcap, q.nunfinished,
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
		waiters_wake(id);
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
			waiters_wake(u[i].id);
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
 * Runner R ended with STATUS: see that its job has a result, or is
 * queued again.  Returns 1 if the job is queued again (the queue owns
 * it).
 */
static int
runner_ended(struct runner *r, int status, const struct config *conf)
{
	struct qjob   *j = r->job;
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
	waiters_wake(j->id);
	t = time(NULL) + conf->limits.job_retention;
	if (q.next_expiry == 0 || t < q.next_expiry)
		q.next_expiry = t;
	return 0;
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
		waiter_forget(pid);
		return 0;
	}
	RB_REMOVE(runners, &q.runners, r);
	q.nrunners--;
	quota_note(r->job->src, 0, -1);
	if (!runner_ended(r, status, conf))
		free(r->job);
	free(r);
	return 1;
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
	free(q.waiters);
	free(q.recovered);
	free(q.unfinished);
	memset(&q, 0, sizeof(q));
	RB_INIT(&q.runners);
}
