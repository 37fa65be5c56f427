/*
 * deps.c: jobs that wait for others (see deps.h).
 *
 * A job added with after=A,B is eligible once A and B have both
 * succeeded (their results' code is 200).  Only the master judges that,
 * when the job is added, retried by hand or found at start (deps_hold())
 * and each time one of the jobs it waits for ends (deps_ended(), called
 * where the master learns that a job is done): nothing polls.  Meanwhile
 * the master holds the job in the blocked list below, apart from the
 * queued jobs.  Once all have succeeded the job is queued like any other
 * and its runner does not look at them again: success is final (a job
 * that succeeded is neither cancelled nor retried), so their results may
 * expire before it runs (its delay=, the backlog).  As soon as one has
 * ended otherwise (failed, cancelled, interrupted) the job is doomed:
 * the master starts its runner at once, past its delay, max_jobs and its
 * service's limits, telling it that job's id, and the runner publishes
 * "Dependency failed: ID" as the job's result instead of running it.
 *
 * A dependency the spool no longer holds counts as succeeded.  The add
 * refuses an id the spool does not hold, so it existed when the job was
 * accepted; one that failed dooms its dependants as it ends, their
 * runners being started in the same turn of the master's loop and told
 * its id, so that its result may expire meanwhile; and the start-up
 * scan, which expires nothing, judges the recovered jobs again.  So a
 * dependency gone is one that succeeded and expired since, but for one
 * that expired in the instant between the add's check and the master's
 * reading of its note, or whose result expired (job_retention 0) just
 * before the daemon died and the doomed runner published.  The lists are
 * the master's alone; a restart rebuilds them from the spool (sched.c
 * asks deps_hold() for every recovered job that names others).
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deps.h"
#include "log.h"
#include "rate.h"

/* A job waiting for others, or doomed by one (FAILED: its id). */
struct blocked {
	TAILQ_ENTRY(blocked) entry;
	char	  id[JOB_ID_MAX + 1];
	char	  service[SERVICE_NAME_MAX + 1];
	uint64_t  src;	    /* its source, for quotas */
	int	  priority; /* as its request says */
	long long due_ms;   /* its delay= or at=, 0: none */
	int	  nafter;
	char	  after[JOB_AFTER_MAX][JOB_ID_MAX + 1];
	char	  failed[JOB_ID_MAX + 1];
};

TAILQ_HEAD(blockedq, blocked);
static struct blockedq blocked = TAILQ_HEAD_INITIALIZER(blocked);
static struct blockedq doomed = TAILQ_HEAD_INITIALIZER(doomed);
static size_t	       nblocked; /* in both */

/*
 * In a connection child: the first of O's dependencies that the spool
 * does not hold (never added here, another node's, or expired), or NULL.
 */
const char *
deps_unknown(const struct job_opts *o)
{
	int i;

	for (i = 0; i < o->nafter; i++)
		if (spool_state(o->after[i]) == JOB_NONE)
			return o->after[i];
	return NULL;
}

/* Job ID as a dependency: 0 not done yet, 1 succeeded (or gone), -1 not. */
static int
outcome(const char *id)
{
	switch (spool_state(id)) {
	case JOB_QUEUED:
	case JOB_RUNNING:
		return 0;
	case JOB_DONE:
		return spool_result_code(id) == PROTO_DONE ? 1 : -1;
	case JOB_FAILED:
		return -1;
	case JOB_NONE:
		break;
	}
	return 1; /* succeeded and expired since (see above) */
}

/*
 * The judgement of AFTER (N ids): 1 all succeeded, 0 some not done yet,
 * -1 one did not succeed (copied to FAILED, of JOB_ID_MAX + 1 bytes).
 */
static int
judge(char after[][JOB_ID_MAX + 1], int n, char *failed)
{
	int i, o, waiting = 0;

	for (i = 0; i < n; i++) {
		if ((o = outcome(after[i])) == -1) {
			strlcpy(failed, after[i], JOB_ID_MAX + 1);
			return -1;
		}
		waiting |= o == 0;
	}
	return !waiting;
}

/*
 * The master: job ID of SERVICE (from SRC) was queued.  Returns 1 if it
 * is held here: it waits for jobs not done yet, or one of them did not
 * succeed (doomed: deps_start() starts it); 0 if it may be queued now.
 */
int
deps_hold(const char *id, const char *service, uint64_t src)
{
	struct job_req	req;
	struct blocked *b;
	char		failed[JOB_ID_MAX + 1];
	int		j;

	if (spool_load_head(id, &req) == -1 || req.nafter == 0 ||
	    (j = judge(req.after, req.nafter, failed)) == 1)
		return 0;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("calloc");
	strlcpy(b->id, id, sizeof(b->id));
	strlcpy(b->service, service, sizeof(b->service));
	b->src = src;
	b->priority = req.priority;
	b->due_ms = req.not_before_ms;
	b->nafter = req.nafter;
	memcpy(b->after, req.after, sizeof(b->after));
	quota_note(src, 1, 0);
	if (j == -1) {
		strlcpy(b->failed, failed, sizeof(b->failed));
		TAILQ_INSERT_TAIL(&doomed, b, entry);
	} else
		TAILQ_INSERT_TAIL(&blocked, b, entry);
	nblocked++;
	return 1;
}

static int
waits_for(const struct blocked *b, const char *id)
{
	int i;

	for (i = 0; i < b->nafter; i++)
		if (strcmp(b->after[i], id) == 0)
			return 1;
	return 0;
}

static void
unblock(struct blockedq *list, struct blocked *b)
{
	TAILQ_REMOVE(list, b, entry);
	nblocked--;
	quota_note(b->src, -1, 0);
}

/*
 * Job ID is done: forget B if it is that job (cancelled while it
 * waited); if B waited for it, hand B to RELEASE once all it waits for
 * succeeded, or doom it once one did not.
 */
static void
ended_for(struct blocked *b, const char *id, deps_release_fn release)
{
	int j;

	if (strcmp(b->id, id) == 0) {
		unblock(&blocked, b);
		free(b);
		return;
	}
	if (!waits_for(b, id) ||
	    (j = judge(b->after, b->nafter, b->failed)) == 0)
		return;
	TAILQ_REMOVE(&blocked, b, entry);
	if (j == -1) {
		TAILQ_INSERT_TAIL(&doomed, b, entry);
		return;
	}
	nblocked--;
	quota_note(b->src, -1, 0);
	release(b->id, b->service, b->src, b->priority, b->due_ms);
	free(b);
}

/*
 * The master: job ID is done (or gone).  If it was held here (cancelled
 * while it waited or doomed), forget it; hand every job that waited for
 * it and may now be queued to RELEASE, in the order they were added;
 * doom those one of whose dependencies did not succeed.
 */
void
deps_ended(const char *id, deps_release_fn release)
{
	struct blocked *b, *next;

	TAILQ_FOREACH_SAFE(b, &doomed, entry, next)
	if (strcmp(b->id, id) == 0) {
		unblock(&doomed, b);
		free(b);
	}
	TAILQ_FOREACH_SAFE(b, &blocked, entry, next)
	ended_for(b, id, release);
}

/*
 * The master: start the doomed jobs' runners with START, at once, in the
 * order they were doomed, until it fails (-1: try again later).
 */
void
deps_start(deps_start_fn start, void *arg)
{
	struct blocked *b;

	while ((b = TAILQ_FIRST(&doomed)) != NULL) {
		if (start(arg, b->id, b->service, b->src, b->priority,
			b->failed) == -1)
			return;
		unblock(&doomed, b);
		free(b);
	}
}

/* How many jobs the master holds here. */
size_t
deps_blocked(void)
{
	return nblocked;
}

void
deps_free(void)
{
	struct blocked *b;

	while ((b = TAILQ_FIRST(&blocked)) != NULL) {
		TAILQ_REMOVE(&blocked, b, entry);
		free(b);
	}
	while ((b = TAILQ_FIRST(&doomed)) != NULL) {
		TAILQ_REMOVE(&doomed, b, entry);
		free(b);
	}
	nblocked = 0;
}

/*
 * A runner, of a job the master found doomed by its dependency DEP: 1 if
 * DEP still stands as not succeeded, with the result's message in WHY
 * ("Dependency failed: DEP"); 0 if it was retried since (queued, running
 * or succeeded), so that the master is to judge the job again.  DEP gone
 * meanwhile (expired) still fails it: the master saw it fail.
 */
int
deps_failed(const char *dep, char *why, size_t size)
{
	switch (spool_state(dep)) {
	case JOB_QUEUED:
	case JOB_RUNNING:
		return 0;
	case JOB_DONE:
		if (spool_result_code(dep) == PROTO_DONE)
			return 0;
		break;
	case JOB_FAILED:
	case JOB_NONE:
		break;
	}
	snprintf(why, size, "%s: %s", proto_err_text(ERR_DEP_FAILED), dep);
	return 1;
}
