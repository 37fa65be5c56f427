/*
 * deps.c: jobs that wait for others (see deps.h).
 *
 * A job added with after=A,B is eligible once A and B have both
 * succeeded (their results' code is 200).  The master holds it in the
 * blocked list below, apart from the queued jobs, and looks at it again
 * only when one of the jobs it waits for ends (deps_ended(), called where
 * the master learns that a job is done): nothing polls.  As soon as all
 * have ended, or one has ended otherwise than with success (failed,
 * cancelled, or gone from the spool), the job is queued; its runner
 * looks at the results again (deps_failed()) and, if one did not
 * succeed, publishes "Dependency failed: ID" as the job's result instead
 * of running it.  The list is the master's alone; a restart rebuilds it
 * from the spool (sched.c asks deps_hold() for every recovered job).
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deps.h"
#include "log.h"
#include "rate.h"

/* A job waiting for others. */
struct blocked {
	TAILQ_ENTRY(blocked) entry;
	char	  id[JOB_ID_MAX + 1];
	char	  service[SERVICE_NAME_MAX + 1];
	uint64_t  src;	    /* its source, for quotas */
	int	  priority; /* as its request says */
	long long due_ms;   /* its delay= or at=, 0: none */
	int	  nafter;
	char	  after[JOB_AFTER_MAX][JOB_ID_MAX + 1];
};

static TAILQ_HEAD(, blocked) blocked = TAILQ_HEAD_INITIALIZER(blocked);
static size_t nblocked;

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

/* Job ID as a dependency: 0 not done yet, 1 succeeded, -1 did not. */
static int
outcome(const char *id)
{
	switch (spool_state(id)) {
	case JOB_QUEUED:
	case JOB_RUNNING:
		return 0;
	case JOB_DONE:
		return spool_result_code(id) == PROTO_DONE ? 1 : -1;
	default:
		return -1;
	}
}

/* May the job of AFTER (N of them) be queued: all ended, or one failed? */
static int
ready(char after[][JOB_ID_MAX + 1], int n)
{
	int i, o, waiting = 0;

	for (i = 0; i < n; i++) {
		if ((o = outcome(after[i])) == -1)
			return 1;
		waiting |= o == 0;
	}
	return !waiting;
}

/*
 * The master: job ID of SERVICE (from SRC) was queued.  Returns 1 if it
 * waits for jobs not done yet (held here), 0 if it may be queued now.
 */
int
deps_hold(const char *id, const char *service, uint64_t src)
{
	struct job_req	req;
	struct blocked *b;

	if (spool_load_head(id, &req) == -1 || req.nafter == 0 ||
	    ready(req.after, req.nafter))
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
unblock(struct blocked *b)
{
	TAILQ_REMOVE(&blocked, b, entry);
	nblocked--;
	quota_note(b->src, -1, 0);
}

/*
 * The master: job ID is done (or gone).  If it was held here (cancelled
 * while it waited), forget it; hand every job that waited for it and may
 * now be queued to RELEASE, in the order they were added.
 */
void
deps_ended(const char *id, deps_release_fn release)
{
	struct blocked *b, *next;

	for (b = TAILQ_FIRST(&blocked); b != NULL; b = next) {
		next = TAILQ_NEXT(b, entry);
		if (strcmp(b->id, id) == 0) {
			unblock(b);
			free(b);
		} else if (waits_for(b, id) && ready(b->after, b->nafter)) {
			unblock(b);
			release(b->id, b->service, b->src, b->priority,
			    b->due_ms);
			free(b);
		}
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
	nblocked = 0;
}

/*
 * A runner, about to run REQ: 0 if every job it waits for succeeded;
 * else 1, with the result's message in WHY naming the first that did not
 * ("Dependency failed: ID").
 */
int
deps_failed(const struct job_req *req, char *why, size_t size)
{
	int i, pass;

	/* One that failed first; one not done (never: the master waits). */
	for (pass = -1; pass <= 0; pass++)
		for (i = 0; i < req->nafter; i++)
			if (outcome(req->after[i]) == pass) {
				snprintf(why, size, "%s: %s",
				    proto_err_text(ERR_DEP_FAILED),
				    req->after[i]);
				return 1;
			}
	return 0;
}
