/*
 * pending.h: the master's queued jobs (sched.c dispatches them).
 *
 * A job waiting for its due time (delay=, at=, a retry's backoff) is kept
 * by due time; a job that may run is kept in the order it is to run:
 * highest priority first, then arrival, with ageing (bgserviced(8),
 * Priorities): a job's key is the instant it became eligible less its
 * priority times PENDING_AGE_MS, smallest first, so that a job gains one
 * priority step for each PENDING_AGE_MS it waits and none starves.  Both
 * are red-black trees, and a third finds a job by its id: adding,
 * taking, dropping a cancelled job and the next due time cost O(log n).
 * Per job only what dispatch needs is kept.
 */
#ifndef PENDING_H
#define PENDING_H

#include <sys/tree.h>
#include <sys/types.h>

#include <stdint.h>

#include "bgserviced.h"
#include "proto.h"

/* The wait that is worth one priority step. */
#define PENDING_AGE_MS 60000LL

struct qjob {
	RB_ENTRY(qjob) entry; /* in the run order or due-time tree */
	RB_ENTRY(qjob) byid;  /* in the tree by id */
	long long   key;      /* due (epoch ms) or, eligible, the run order */
	uint64_t    seq;      /* arrival order, ties */
	uint64_t    src;      /* its source, for quotas; 0: unknown */
	const char *service;  /* interned: one copy per name */
	int	    priority;
	int	    delayed; /* in the due-time tree */
	char	    id[JOB_ID_MAX + 1];
};

struct qjob *pending_add(const char *id, const char *service, uint64_t src,
    int priority, long long due_ms);
void	     pending_put_back(struct qjob *);
void	     pending_again(struct qjob *, long long due_ms);
void	     pending_promote(void);
struct qjob *pending_first(void);
struct qjob *pending_next(struct qjob *);
void	     pending_take(struct qjob *);
int	     pending_known(const char *id);
struct qjob *pending_drop(const char *id);
int	     pending_timeout_ms(void);
size_t	     pending_count(void);
void	     pending_free(void);

#endif /* PENDING_H */
