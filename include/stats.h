/*
 * stats.h: counters shared by the master and all its children (stats.c),
 * answered by the "stats" verb in Prometheus' text format (statsfmt.c),
 * and the status page's rings (statsring.c).
 */
#ifndef STATS_H
#define STATS_H

#include <stdint.h>

#include "bgserviced.h"
#include "proto.h"
#include "refuse.h"
#include "util.h"

#define STATS_SERVICES 256 /* services counted one by one */
#define STATS_BUCKETS  15  /* latency buckets, 1 ms to 60 s, +Inf apart */

/*
 * The status page's recent history (page.c).  Each of the first
 * STATS_RING_SERVICES service slots has a ring of STATS_SLOTS intervals
 * of STATS_SLOT_SEC seconds of the monotonic clock: the runs, failed
 * runs and milliseconds run in each.  A word of a slot holds the number
 * of its interval in its high 32 bits and its count in the low 32; the
 * process that records a run in an interval the slot does not hold yet
 * starts the slot over with one compare-and-swap.  So a run costs O(1),
 * no timer turns the ring, and the master does nothing while idle; a
 * slot whose interval is not one of the last STATS_SLOTS counts as
 * empty.  The last STATS_FAILED failed jobs are kept in a ring of their
 * own, written by their runners (see stats_job_failed()).
 */
#define STATS_RING_SERVICES 64
#define STATS_SLOTS	    30
#define STATS_SLOT_SEC	    20
#define STATS_FAILED	    16
#define STATS_MESSAGE	    128

struct run_result;
struct service;

/* A latency histogram: runs per bucket (not cumulative), total time. */
struct stats_hist {
	uint64_t count[STATS_BUCKETS + 1]; /* the last: +Inf */
	uint64_t sum_us;
};

/* Per service; slot 0 is "other" once the table is full. */
struct stats_service {
	char		  name[SERVICE_NAME_MAX + 1];
	uint64_t	  calls;	    /* TCP calls and datagrams run */
	uint64_t	  jobs;		    /* queued jobs run */
	uint64_t	  failures_caller;  /* runs ending 4xx: the data */
	uint64_t	  failures_service; /* runs ending 5xx: the service */
	uint64_t	  timeouts;	    /* runs killed at their timeout */
	struct stats_hist call;		    /* how long calls ran */
	struct stats_hist job;		    /* how long jobs ran */
	uint64_t	  cpu_user_us;	    /* CPU time of the runs */
	uint64_t	  cpu_sys_us;
};

/* One interval of a service's ring; see above. */
struct stats_slot {
	uint64_t runs;	/* runs ended in it */
	uint64_t fails; /* ... that did not succeed */
	uint64_t ms;	/* ... and their time, in milliseconds */
};

/* A failed job; SEQ is 0 while it is written, else its number + 1. */
struct stats_failed {
	uint64_t seq;
	int64_t	 when; /* time(3) it ended */
	int32_t	 code;
	char	 id[JOB_ID_MAX + 1];
	char	 service[SERVICE_NAME_MAX + 1];
	char	 message[STATS_MESSAGE];
};

struct stats {
	int64_t		     started;	    /* time(3) the daemon started */
	uint64_t	     connections;   /* accepted stream connections */
	uint64_t	     accept_pauses; /* accept(2) out of descriptors */
	uint64_t	     datagrams;	    /* received datagrams */
	uint64_t	     refused[REFUSE_COUNT]; /* by reason */
	int64_t		     refuse_log_sec;	    /* refuse.c's window */
	uint32_t	     refuse_log_lines;	    /* ... lines in it */
	uint64_t	     refuse_log_skipped;    /* ... and not logged */
	uint64_t	     dropped_datagrams;	    /* not run */
	uint64_t	     requests;		    /* requests parsed */
	uint64_t	     bad_requests; /* answered 4xx before running */
	uint64_t	     request_timeouts;	/* 408 */
	uint64_t	     request_too_large; /* 413 */
	uint64_t	     requests_cut; /* more arrived after the end */
	uint64_t	     jobs_added;
	uint64_t	     jobs_finished;
	uint64_t	     reloads;
	uint64_t	     reload_failures;
	int64_t		     reload_at;	  /* time(3) of the last reload */
	int32_t		     reload_ok;	  /* ... and if it was taken */
	uint64_t	     failed_next; /* failed jobs ever recorded */
	struct stats_failed  failed[STATS_FAILED];
	struct stats_slot    ring[STATS_RING_SERVICES][STATS_SLOTS];
	uint32_t	     children; /* gauges, written by the master */
	uint32_t	     jobs_queued;
	uint32_t	     jobs_running;
	uint32_t	     nservices;
	struct stats_service services[STATS_SERVICES];
};

extern struct stats *stats;

#define STATS_ADD(field, n) \
	do { \
		if (stats != NULL) \
			__atomic_fetch_add(&stats->field, (n), \
			    __ATOMIC_RELAXED); \
	} while (0)
#define STATS_INC(field) STATS_ADD(field, 1)
#define STATS_SET(field, v) \
	do { \
		if (stats != NULL) \
			__atomic_store_n(&stats->field, (v), \
			    __ATOMIC_RELAXED); \
	} while (0)

int	 stats_init(void);
void	 stats_services(const struct config *);
void	 stats_run(const struct service *, int job, int code,
	const struct run_result *);
int	 stats_fault(int code);
int	 stats_format(struct buf *, size_t jobs_done);
void	 stats_reloaded(int ok);
void	 stats_job_failed(const char *id, const char *service, int code,
	const char *message);
size_t	 stats_failed_recent(struct stats_failed *, size_t max);
uint32_t stats_interval(void);
int	 stats_history(uint32_t service, uint32_t now, struct stats_slot *out);
uint64_t stats_quantile_us(const struct stats_service *, double q);

#endif /* STATS_H */
