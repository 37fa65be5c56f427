/*
 * schednote.c: the master's side of the spool's FIFO (see sched.c).
 *
 * A connection child tells the master on the FIFO of a job it queued,
 * retried or cancelled; a child waiting for a job tells its pid and
 * sleeps, and the master wakes it (SIGUSR2) when the job is done.  The
 * master opens the FIFO before it scans the spool at start, so that a
 * job a child of a dead master queues while the new one starts is found
 * by the scan or read from the FIFO: a job whose id was answered is
 * always run.
 */
#include <sys/types.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deps.h"
#include "log.h"
#include "pending.h"
#include "queue.h"
#include "rate.h"
#include "sched.h"
#include "schedpriv.h"

/* A connection child waiting for a job. */
struct waiter {
	pid_t pid;
	char  id[JOB_ID_MAX + 1];
};

static struct {
	struct waiter *waiters;
	size_t	       nwaiters, waitcap;
	char (*recovered)[JOB_ID_MAX + 1]; /* sorted */
	size_t nrecovered, reccap;
} q;

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
void *
sched_grow(void *a, size_t *cap, size_t n, size_t size)
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
	q.recovered = sched_grow(q.recovered, &q.reccap, q.nrecovered,
	    sizeof(*q.recovered));
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
	if (sched_recover(conf, recovered) == -1)
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
void
sched_wake(const char *id)
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
	    sched_grow(q.waiters, &q.waitcap, q.nwaiters, sizeof(*q.waiters));
	q.waiters[q.nwaiters].pid = pid;
	strlcpy(q.waiters[q.nwaiters].id, id, sizeof(q.waiters->id));
	q.nwaiters++;
}

/* Child PID was reaped: it waits no more. */
void
sched_waiter_forget(pid_t pid)
{
	size_t i = q.nwaiters;

	while (i-- > 0)
		if (q.waiters[i].pid == pid)
			q.waiters[i] = q.waiters[--q.nwaiters];
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
	if (kind == NOTE_RETRY ? sched_job_known(id) :
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
		sched_job_cancel(id);
		sched_wake(id);
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

void
sched_note_free(void)
{
	free(q.waiters);
	free(q.recovered);
	memset(&q, 0, sizeof(q));
}
