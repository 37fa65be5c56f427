/*
 * queue.c: scheduling of queued jobs (in the master), running one (in a
 * runner child), and the queue verbs (in connection children).
 *
 * A connection child publishes the job in the spool, then tells the
 * master its id on the spool's FIFO (see spool_notify_open()); the master
 * appends it to its list of queued jobs and forks a runner whenever fewer
 * than max_jobs run.  The master opens the FIFO before it scans the spool
 * at start, so that a job a child of a dead master queues while the new
 * one starts is found by the scan or read from the FIFO: a job whose id
 * was answered is always run.  A child waiting for a job tells the master
 * its pid on the same FIFO and sleeps; the master wakes it (SIGUSR2) when
 * the job is done: no process polls, and waiting costs no descriptor.
 */
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "log.h"
#include "queue.h"
#include "sig.h"
#include "stats.h"

/*
 * A note on the FIFO: its kind, a job's id, an argument padded with NULs,
 * '\n'.  Notes of one size, written whole (< PIPE_BUF): reads never split
 * them.
 */
#define NOTE_ADD	'A'	/* a job was queued; the argument: its service */
#define NOTE_WAIT	'W'	/* a child waits for the job; its pid */
#define NOTE_DONE	'D'	/* the job was cancelled: stop its runner */
#define NOTIFY_ARG	(1 + JOB_ID_LEN)
#define NOTIFY_LEN	(NOTIFY_ARG + SERVICE_NAME_MAX + 1)

/* A runner that found its service's instances all taken exits so. */
#define EXIT_BUSY	75
/* ... and one that could not write the spool (full, EIO) exits so. */
#define EXIT_RETRY	74

/* Backoff between tries to write a full spool, in milliseconds. */
#define RETRY_MIN_MS	100
#define RETRY_MAX_MS	5000

struct qjob {
	TAILQ_ENTRY(qjob) entry;
	char		 id[JOB_ID_LEN + 1];
	char		 service[SERVICE_NAME_MAX + 1];
};

struct runner {
	pid_t		 pid;
	char		 id[JOB_ID_LEN + 1];
	char		 service[SERVICE_NAME_MAX + 1];
};

/* A connection child waiting for a job. */
struct waiter {
	pid_t		 pid;
	char		 id[JOB_ID_LEN + 1];
};

static TAILQ_HEAD(, qjob) pending = TAILQ_HEAD_INITIALIZER(pending);
static size_t		 npending;
static struct runner	*runners;
static size_t		 nrunners, runcap;
static struct waiter	*waiters;
static size_t		 nwaiters, waitcap;
static char		(*recovered)[JOB_ID_LEN + 1];	/* sorted */
static size_t		 nrecovered, reccap;
static time_t		 next_expiry;
static int		 notify_fd = -1;
static pid_t		 master_pid;	/* in a child: the master's pid */
static long long	 retry_at;	/* no runner started before (ms) */
static int		 retry_ms;	/* the current backoff */
static struct unfinished {		/* ran, ended without a result */
	char		 id[JOB_ID_LEN + 1];
	char		 service[SERVICE_NAME_MAX + 1];
	int		 stopped;	/* found running at start */
}			*unfinished;
static size_t		 nunfinished;

static void	queue_stuck(const char *, const char *);

static void
queue_insert(const char *id, const char *service, int head)
{
	struct qjob	*j;

	if ((j = malloc(sizeof(*j))) == NULL)
		fatal("malloc");
	strlcpy(j->id, id, sizeof(j->id));
	strlcpy(j->service, service, sizeof(j->service));
	if (head)
		TAILQ_INSERT_HEAD(&pending, j, entry);
	else
		TAILQ_INSERT_TAIL(&pending, j, entry);
	npending++;
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Room in the array *A of *CAP elements of SIZE for element N. */
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

/* A queued job the start-up scan found: queue it, remember its id. */
static void
queue_recovered(const char *id, const char *service)
{
	queue_insert(id, service, 0);
	recovered = grow(recovered, &reccap, nrecovered, sizeof(*recovered));
	strlcpy(recovered[nrecovered++], id, sizeof(*recovered));
}

/*
 * Start-up: open the FIFO children tell us of jobs on, then recover the
 * spool.  In this order, a job queued meanwhile by a child of a dead
 * master is found by the scan, or read from the FIFO, or both: a note of
 * a job the scan found is then ignored (its id is kept for as long as we
 * run, since such a child may write its note at any time).
 */
int
queue_init(const struct config *conf)
{
	if ((notify_fd = spool_notify_open()) == -1)
		return -1;
	if (spool_recover(queue_recovered, queue_stuck, &next_expiry,
	    conf->limits.job_retention) == -1)
		return -1;
	if (nrecovered > 1)
		qsort(recovered, nrecovered, sizeof(*recovered), id_cmp);
	if (npending > 0)
		log_info("spool: %zu queued jobs recovered", npending);
	return 0;
}

int
queue_notify_fd(void)
{
	return notify_fd;
}

/* Wake the children waiting for job ID. */
static void
waiters_wake(const char *id)
{
	size_t	 i = nwaiters;

	while (i-- > 0)
		if (strcmp(waiters[i].id, id) == 0) {
			(void)kill(waiters[i].pid, SIGUSR2);
			waiters[i] = waiters[--nwaiters];
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
	enum job_state	 st;

	if (pid <= 0 || !ours(pid))
		return;		/* reaped already, or not ours */
	if ((st = spool_state(id)) != JOB_QUEUED && st != JOB_RUNNING) {
		(void)kill(pid, SIGUSR2);
		return;
	}
	waiters = grow(waiters, &waitcap, nwaiters, sizeof(*waiters));
	waiters[nwaiters].pid = pid;
	strlcpy(waiters[nwaiters].id, id, sizeof(waiters->id));
	nwaiters++;
}

/* Child PID was reaped: it waits no more. */
static void
waiter_forget(pid_t pid)
{
	size_t	 i = nwaiters;

	while (i-- > 0)
		if (waiters[i].pid == pid)
			waiters[i] = waiters[--nwaiters];
}

/*
 * Job ID was cancelled: stop its runner, if it has one.  Only the master
 * knows which of its children runs which job, and a child it has not
 * reaped yet cannot have passed its pid to another process.
 */
static void
runner_stop(const char *id)
{
	size_t	 i;

	for (i = 0; i < nrunners; i++)
		if (strcmp(runners[i].id, id) == 0)
			(void)kill(runners[i].pid, SIGTERM);
}

/* One note, NOTIFY_LEN bytes. */
static void
note_read(char *note, int (*ours)(pid_t))
{
	char	 id[JOB_ID_LEN + 1];

	if (note[NOTIFY_LEN - 1] != '\n' ||
	    !proto_valid_id(note + 1, JOB_ID_LEN)) {
		log_warnx("queue: bad notification");
		return;
	}
	memcpy(id, note + 1, JOB_ID_LEN);
	id[JOB_ID_LEN] = '\0';
	note[NOTIFY_LEN - 1] = '\0';
	switch (note[0]) {
	case NOTE_ADD:
		if (nrecovered == 0 || bsearch(id, recovered, nrecovered,
		    sizeof(*recovered), id_cmp) == NULL)
			queue_insert(id, note + NOTIFY_ARG, 0);
		break;
	case NOTE_WAIT:
		waiter_add(id, (pid_t)strtol(note + NOTIFY_ARG, NULL, 10),
		    ours);
		break;
	case NOTE_DONE:
		runner_stop(id);
		waiters_wake(id);
		break;
	default:
		log_warnx("queue: bad notification");
	}
}

/* The master: read what children told us; OURS tells our children. */
void
queue_notify_read(int (*ours)(pid_t))
{
	static char	 win[NOTIFY_LEN];	/* the last bytes read */
	static size_t	 nwin, nseen;		/* ... since the last \n */
	char		 buf[NOTIFY_LEN * 64];
	ssize_t		 n, i;

	/*
	 * Children write whole notes, atomically, each ending in the only
	 * newline it holds.  Anything else written into the FIFO (by a
	 * service allowed to write to the spool) costs no note: a note is
	 * the NOTIFY_LEN bytes before a newline, whatever came before them.
	 */
	while ((n = read(notify_fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++) {
			if (nwin == NOTIFY_LEN)
				memmove(win, win + 1, --nwin);
			win[nwin++] = buf[i];
			nseen++;
			if (buf[i] != '\n')
				continue;
			if (nseen != NOTIFY_LEN)
				log_warnx("queue: %zu stray bytes in the notify "
				    "FIFO", nseen > NOTIFY_LEN ? nseen -
				    NOTIFY_LEN : nseen);
			if (nwin == NOTIFY_LEN)
				note_read(win, ours);
			nwin = nseen = 0;
		}
}

/* Can a job of SERVICE start now, as far as max_instances goes? */
static int
instance_free(const struct config *conf, const char *service)
{
	const struct service	*sv;
	size_t			 i;
	int			 mine = 0;

	if ((sv = config_service(conf, service)) == NULL ||
	    sv->max_instances == 0)
		return 1;
	for (i = 0; i < nrunners; i++)
		mine += strcmp(runners[i].service, service) == 0;
	return mine < sv->max_instances &&
	    !stats_busy(service, sv->max_instances);
}

/*
 * Fork runners for queued jobs while slots are free: the oldest job whose
 * service has an instance free goes first, so a busy service holds up
 * only its own jobs.
 */
void
queue_dispatch(const struct config *conf, pid_t (*spawn)(const char *))
{
	struct qjob	*j, *next;
	pid_t		 pid;

	if (retry_at != 0 && now_ms() < retry_at)
		return;		/* the spool could not be written */
	retry_at = 0;
	for (j = TAILQ_FIRST(&pending); j != NULL &&
	    nrunners < (size_t)conf->limits.max_jobs; j = next) {
		next = TAILQ_NEXT(j, entry);
		if (!instance_free(conf, j->service))
			continue;
		runners = grow(runners, &runcap, nrunners, sizeof(*runners));
		if ((pid = spawn(j->id)) == -1)
			return;		/* try again at the next event */
		TAILQ_REMOVE(&pending, j, entry);
		npending--;
		runners[nrunners].pid = pid;
		strlcpy(runners[nrunners].id, j->id, sizeof(runners->id));
		strlcpy(runners[nrunners].service, j->service,
		    sizeof(runners->service));
		nrunners++;
		free(j);
	}
}

/* The spool could not be written: start no runner for a while. */
static void
retry_later(void)
{
	retry_ms = retry_ms == 0 ? RETRY_MIN_MS : retry_ms * 2;
	if (retry_ms > RETRY_MAX_MS)
		retry_ms = RETRY_MAX_MS;
	retry_at = now_ms() + retry_ms;
}

/* Keep job ID, whose result the spool could not take, to try again. */
static void
unfinished_add(const char *id, const char *service, int stopped)
{
	struct unfinished	*u;

	if ((u = reallocarray(unfinished, nunfinished + 1,
	    sizeof(*u))) == NULL)
		fatal("reallocarray");
	unfinished = u;
	u += nunfinished++;
	strlcpy(u->id, id, sizeof(u->id));
	strlcpy(u->service, service != NULL ? service : "",
	    sizeof(u->service));
	u->stopped = stopped;
	retry_later();
}

/* Recovery found job ID running and could not finish it. */
static void
queue_stuck(const char *id, const char *service)
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
	struct job_result	 res;

	memset(&res, 0, sizeof(res));
	res.code = proto_err_code(ERR_JOB_FAILED);
	strlcpy(res.how, "error", sizeof(res.how));
	strlcpy(res.message, proto_err_text(ERR_JOB_FAILED),
	    sizeof(res.message));
	clock_gettime(CLOCK_REALTIME, &res.ended);
	res.started = res.ended;
	if (spool_finish(id, &res) == 0 || errno == EEXIST) {
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
	struct unfinished	*u = unfinished;
	size_t			 i, n = nunfinished;
	enum job_state		 st;

	unfinished = NULL;
	nunfinished = 0;
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
 * The master reaped PID.  If it was a runner, free its slot; if it died
 * without publishing a result, publish one that says so; if it could not
 * write the spool, queue its job again, first, and wait a while.
 * Returns 1 for a runner.
 */
int
queue_reaped(pid_t pid, int status, const struct config *conf)
{
	struct runner	*r;
	size_t		 i;
	time_t		 t;
	int		 code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	for (i = 0; i < nrunners; i++)
		if (runners[i].pid == pid)
			break;
	if (i == nrunners) {
		waiter_forget(pid);
		return 0;
	}
	r = &runners[i];
	if ((code == EXIT_BUSY || code == EXIT_RETRY) &&
	    spool_state(r->id) == JOB_QUEUED) {
		/* Lost its instance to a call, or the spool is full. */
		queue_insert(r->id, r->service, 1);
		if (code == EXIT_RETRY)
			retry_later();
		*r = runners[--nrunners];
		return 1;
	}
	if (code == 0)
		retry_ms = 0;
	if (spool_state(r->id) == JOB_RUNNING || code != 0)
		finish_failed(r->id, r->service, 1);
	waiters_wake(r->id);
	t = time(NULL) + conf->limits.job_retention;
	if (next_expiry == 0 || t < next_expiry)
		next_expiry = t;
	*r = runners[--nrunners];
	return 1;
}

/*
 * Milliseconds until the next finished job expires or the spool is to be
 * tried again, -1 for neither.
 */
int
queue_timeout_ms(void)
{
	time_t	 now;
	int	 ms = -1;

	if (next_expiry != 0) {
		now = time(NULL);
		ms = next_expiry <= now ? 0 : next_expiry - now > 86400 ?
		    86400000 : (int)(next_expiry - now) * 1000;
	}
	if (retry_at != 0 && (ms == -1 || ms_until(retry_at) < ms))
		ms = ms_until(retry_at);
	if (nunfinished > 0 && retry_at == 0)
		ms = 0;		/* due, and queue_dispatch() cleared it */
	return ms;
}

/*
 * Remove finished jobs whose retention is over; publish the results that
 * the spool could not take before.
 */
void
queue_tick(const struct config *conf)
{
	int	 n;

	if (nunfinished > 0 && now_ms() >= retry_at)
		unfinished_retry();
	if (next_expiry == 0 || time(NULL) < next_expiry)
		return;
	if ((n = spool_expire(conf->limits.job_retention, &next_expiry)) > 0)
		log_info("spool: %d finished jobs expired", n);
	else if (n == -1) {
		log_warn("spool: expire");
		next_expiry = time(NULL) + 60;
	}
}

size_t
queue_pending(void)
{
	return npending;
}

size_t
queue_running(void)
{
	return nrunners;
}

void
queue_free(void)
{
	struct qjob	*j;

	while ((j = TAILQ_FIRST(&pending)) != NULL) {
		TAILQ_REMOVE(&pending, j, entry);
		free(j);
	}
	npending = 0;
	free(runners);
	runners = NULL;
	nrunners = runcap = 0;
	free(unfinished);
	unfinished = NULL;
	nunfinished = 0;
	free(waiters);
	waiters = NULL;
	nwaiters = waitcap = 0;
	free(recovered);
	recovered = NULL;
	nrecovered = reccap = 0;
	if (notify_fd != -1)
		close(notify_fd);
	notify_fd = -1;
}

/*
 * In any child of MASTER.  The queue is left alone: a child never reads
 * it and leaves with _exit(2), and freeing it would cost every fork time
 * and copied pages in proportion to the queue's length.  The FIFO stays
 * open: the child writes to it, and holding it keeps what it wrote there
 * for the next master should this one die.
 */
void
queue_child(pid_t master)
{
	master_pid = master;
}

static void
result_from_run(const struct service *sv, const char *id,
    const struct run_result *run, struct job_result *jr)
{
	memset(jr, 0, sizeof(*jr));
	jr->started = run->start;
	jr->ended = run->end;
	jr->ms = run->ms;
	if (child_ok(run)) {
		jr->code = PROTO_DONE;
		strlcpy(jr->how, "exit 0", sizeof(jr->how));
		jr->out = run->out;
		return;
	}
	jr->code = child_describe(sv, run, jr->message, sizeof(jr->message));
	if (run->cancelled && spool_cancelled(id)) {
		jr->code = proto_err_code(ERR_JOB_CANCELLED);
		strlcpy(jr->how, "cancelled", sizeof(jr->how));
		strlcpy(jr->message, proto_err_text(ERR_JOB_CANCELLED),
		    sizeof(jr->message));
	} else if (run->cancelled) {
		strlcpy(jr->how, "interrupted", sizeof(jr->how));
		strlcpy(jr->message, proto_err_text(ERR_JOB_INTERRUPTED),
		    sizeof(jr->message));
	} else if (!run->spawned)
		strlcpy(jr->how, "error", sizeof(jr->how));
	else if (run->timed_out)
		strlcpy(jr->how, "timeout", sizeof(jr->how));
	else if (run->overflow)
		strlcpy(jr->how, "overflow", sizeof(jr->how));
	else if (WIFSIGNALED(run->status))
		snprintf(jr->how, sizeof(jr->how), "signal %d",
		    WTERMSIG(run->status));
	else
		snprintf(jr->how, sizeof(jr->how), "exit %d",
		    WEXITSTATUS(run->status));
}

/* Publish a result that needs no run; -1 with EEXIST if one exists. */
static int
finish_early(const char *id, enum proto_err e, const char *how)
{
	struct job_result	 jr;

	memset(&jr, 0, sizeof(jr));
	jr.code = proto_err_code(e);
	strlcpy(jr.how, how, sizeof(jr.how));
	strlcpy(jr.message, proto_err_text(e), sizeof(jr.message));
	clock_gettime(CLOCK_REALTIME, &jr.started);
	jr.ended = jr.started;
	if (spool_finish(id, &jr) == -1) {
		if (errno != EEXIST)
			log_warn("job %s: cannot publish its result", id);
		return -1;
	}
	return 0;
}

/*
 * Publish JR, job ID's result, even if the spool is full or failing now:
 * the result is kept here and tried again, waiting longer each time (at
 * most RETRY_MAX_MS), until it is published or the runner must stop.  A
 * runner stopped first notes in the job's .run that it ran to its end,
 * if it did (ENDED).
 */
static int
publish_result(const char *id, const struct job_result *jr, int ended)
{
	struct timespec	 ts;
	int		 ms = RETRY_MIN_MS, tries = 0;

	while (spool_finish(id, jr) == -1 && errno != EEXIST) {
		if (tries++ == 0)
			log_warn("job %s: cannot publish its result, keeping "
			    "it and trying again", id);
		if (sig_term) {
			if (ended && spool_run_done(id, jr) == -1)
				log_warn("job %s: result lost", id);
			return -1;
		}
		(void)ppoll(NULL, 0, ms_timespec(&ts, ms), &sig_waitmask);
		ms = ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : ms * 2;
	}
	if (tries > 0)
		log_info("job %s: result published after %d more tries", id,
		    tries);
	return 0;
}

/*
 * Load job ID's request.  Returns -1 to go on, or the runner's exit
 * status: EXIT_RETRY when the spool could not be read (the master queues
 * the job again), 0 when there is nothing to do.
 */
static int
job_load(const char *id, struct job_req *req)
{
	if (spool_load_req(id, req) == 0)
		return -1;
	if (errno == ENOENT)
		return 0;	/* removed meanwhile */
	log_warn("job %s: cannot read its request", id);
	if (errno == EINVAL && finish_early(id, ERR_JOB_UNREADABLE,
	    "error") == 0)
		return 0;
	return EXIT_RETRY;
}

/* Run the service SV for the request REQ of a claimed job. */
static void
job_execute(const struct config *conf, const struct service *sv,
    const struct job_req *req)
{
	struct job_result	 jr;
	struct run_result	 run;
	struct peer		 peer;
	struct run_ctx		 ctx = { &peer, req->id };

	setproctitle("job %s: %s", req->id, sv->name);
	memset(&peer, 0, sizeof(peer));
	peer.transport = req->transport[0] ? req->transport : "tcp";
	strlcpy(peer.ip, req->ip, sizeof(peer.ip));
	strlcpy(peer.port, req->port, sizeof(peer.port));
	(void)child_run(sv, &conf->limits, &ctx, req->data.data,
	    req->data.len, &run);
	result_from_run(sv, req->id, &run, &jr);
	stats_run(sv, 1, jr.code, &run);
	(void)publish_result(req->id, &jr, !run.cancelled);
	log_info("job %s: %s: %d %s in %lld ms", req->id, sv->name, jr.code,
	    jr.how, jr.ms);
	child_result_free(&run);
}

/*
 * A runner child: claim the job, run its service, publish the result.
 * It dies with the master (PR_SET_PDEATHSIG), stopping its service, so
 * that a job never runs twice; MASTER is the pid of the master that
 * forked it, taken before the fork (the master may have detached since
 * the queue was set up).  Returns the runner's exit status; EXIT_RETRY
 * when the spool could not be written.
 */
int
queue_run(const struct config *conf, const char *id, pid_t master)
{
	const struct service	*sv;
	struct job_req		 req;
	int			 slot = -2, r = 0;

	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		return 0;	/* it died before the line above */
	if ((r = job_load(id, &req)) != -1)
		return r;
	r = 0;
	if ((sv = config_service(conf, req.service)) != NULL &&
	    (slot = stats_acquire(sv->name, sv->max_instances)) == -1) {
		spool_req_free(&req);
		return EXIT_BUSY;	/* the master queues it again */
	}
	if (getppid() != master)
		goto out;	/* it died meanwhile: the next one runs it */
	if (spool_mark_running(id, getpid()) == -1) {
		if (errno != EEXIST) {	/* EEXIST: started before */
			log_warn("job %s: cannot mark it running, will "
			    "retry", id);
			r = EXIT_RETRY;
		}
		goto out;
	}
	if (spool_state(id) == JOB_DONE)	/* cancelled meanwhile */
		goto out;
	if (sv == NULL) {
		log_info("job %s: service %s is no longer configured", id,
		    req.service);
		(void)finish_early(id, ERR_UNKNOWN_REQUEST, "error");
		goto out;
	}
	job_execute(conf, sv, &req);
out:
	stats_release(slot);
	spool_req_free(&req);
	return r;
}

/*
 * In a child: write a note of KIND about job ID to the master.  When the
 * FIFO is full, wait for room while a master holds the spool.  Returns 0
 * once written, 1 when no daemon holds the spool (no master is there to
 * read it: the next one will scan the spool), -1 on error.
 */
static int
notify_send(int kind, const char *id, const char *arg)
{
	char		 note[NOTIFY_LEN];
	struct pollfd	 pfd;
	struct timespec	 ts;
	ssize_t		 n;

	memset(note, 0, sizeof(note));
	note[0] = kind;
	memcpy(note + 1, id, JOB_ID_LEN);
	strlcpy(note + NOTIFY_ARG, arg, SERVICE_NAME_MAX + 1);
	note[NOTIFY_LEN - 1] = '\n';
	for (;;) {
		if ((n = write(notify_fd, note, sizeof(note))) ==
		    (ssize_t)sizeof(note))
			return 0;
		if (n >= 0)
			errno = EIO;	/* never: notes are written whole */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		if (!spool_locked() || sig_term)
			return 1;	/* the next master's scan finds it */
		pfd.fd = notify_fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		(void)ppoll(&pfd, 1, ms_timespec(&ts, 1000), &sig_waitmask);
	}
}

/*
 * A connection child: queue a job and tell the master.  The id is
 * answered only once the note is in the FIFO, where this master or, if
 * it dies first, the next one reads it, or when no master holds the
 * spool, so that the next one finds the job when it scans the spool.
 */
enum proto_err
queue_add(const struct config *conf, const struct request *req,
    const struct peer *peer, char *id)
{
	const struct service	*sv;

	if ((sv = config_service(conf, req->service)) == NULL)
		return ERR_UNKNOWN_REQUEST;
	if (!sv->tcp)
		return ERR_NOT_TCP;
	if (peer->ip[0] != '\0' && !net_allowed(&sv->allow, &peer->addr)) {
		STATS_INC(refused_denied);
		return ERR_DENIED;
	}
	if (stats != NULL && (int)(__atomic_load_n(&stats->jobs_queued,
	    __ATOMIC_RELAXED) + __atomic_load_n(&stats->jobs_running,
	    __ATOMIC_RELAXED)) >= conf->limits.max_queue) {
		STATS_INC(refused_busy);
		return ERR_QUEUE_FULL;
	}
	if (spool_add(req->service, peer, req->data, req->datalen, id) == -1) {
		log_warn("queue: cannot spool a job");
		return ERR_CANNOT_QUEUE;
	}
	switch (notify_send(NOTE_ADD, id, sv->name)) {
	case -1:
		log_warn("queue: cannot notify the master of job %s", id);
		(void)spool_remove(id);
		return ERR_CANNOT_QUEUE;
	case 1:
		log_info("job %s: no master now, the next one will run it",
		    id);
		break;
	}
	STATS_INC(jobs_added);
	return ERR_NONE;
}

/*
 * Wait until job ID is done: ask the master to wake us, then look, then
 * sleep until woken; no process polls.  Returns the job's state: JOB_DONE,
 * JOB_NONE (gone), -2 when the daemon stops or the master died (no one is
 * left to wake us), -3 when we cannot wait.
 */
int
queue_wait_done(const char *id)
{
	char	 me[24];
	int	 st;

	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1) {
		log_warn("queue: prctl");
		return -3;
	}
	if (getppid() != master_pid)
		return -2;	/* it died before the line above */
	snprintf(me, sizeof(me), "%ld", (long)getpid());
	for (;;) {
		sig_wake = 0;
		/* Ask first, then look: no end can slip in between. */
		if ((st = notify_send(NOTE_WAIT, id, me)) != 0) {
			if (st == -1)
				log_warn("queue: cannot notify the master");
			st = st == 1 ? -2 : -3;
			break;
		}
		if ((st = spool_state(id)) != JOB_QUEUED && st != JOB_RUNNING)
			break;
		while (!sig_wake && !sig_term)
			(void)ppoll(NULL, 0, NULL, &sig_waitmask);
		if (sig_term) {
			st = -2;
			break;
		}
	}
	(void)prctl(PR_SET_PDEATHSIG, 0);
	return st;
}

/* queue:info about job ID, formatted by proto.c.  Returns 0, or -1. */
int
queue_info(const char *id, struct buf *out)
{
	struct proto_info	 in;
	struct job_req		 req;
	struct job_result	 res;
	enum job_state		 st;
	char			 text[PROTO_INFO_MAX];
	int			 r;

	if ((st = spool_state(id)) == JOB_NONE ||
	    spool_load_req(id, &req) == -1)
		return -1;
	memset(&in, 0, sizeof(in));
	in.id = id;
	in.service = req.service;
	in.state = st;
	in.submitted = req.submitted;
	if (st == JOB_DONE && spool_load_result(id, &res) == 0) {
		in.has_result = 1;
		in.started = res.started;
		in.ended = res.ended;
		in.ms = res.ms;
		in.how = res.how;
		in.code = res.code;
		in.message = res.message;
		in.output_bytes = res.out.len;
	}
	r = buf_append(out, text, proto_info_format(text, sizeof(text), &in));
	if (in.has_result)
		spool_result_free(&res);
	spool_req_free(&req);
	return r;
}

/*
 * Cancel job ID: publish a "cancelled" result (the first result wins, so
 * a runner cannot overwrite it), then stop its runner if it has one.
 * Returns ERR_NONE, or the error to answer.
 */
enum proto_err
queue_cancel(const char *id)
{
	switch (spool_state(id)) {
	case JOB_NONE:
		return ERR_NO_JOB;
	case JOB_DONE:
		return ERR_JOB_DONE;
	default:
		break;
	}
	if (spool_cancel_mark(id) == -1)
		return ERR_CANNOT_CANCEL;
	if (finish_early(id, ERR_JOB_CANCELLED, "cancelled") == -1)
		return errno == EEXIST ? ERR_JOB_DONE : ERR_CANNOT_CANCEL;
	/* The master stops its runner and wakes its waiters. */
	(void)notify_send(NOTE_DONE, id, "");
	return ERR_NONE;
}
