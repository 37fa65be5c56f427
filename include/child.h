/*
 * child.h: process creation, service execution and reaping: the API of
 * child.c, childrun.c and childexec.c, the only code that forks, execs
 * and waits (childpriv.h: what only they share).
 */
#ifndef CHILD_H
#define CHILD_H

#include <sys/types.h>

#include <time.h>

#include "bgserviced.h"
#include "net.h"
#include "util.h"

/* How one run of a service ended. */
struct run_result {
	int		status;	     /* wait(2) status, if it ran */
	int		spawned;     /* the command was started */
	int		spawn_errno; /* why it could not be */
	int		timed_out;   /* killed at its timeout */
	int		overflow;    /* output exceeded max_output */
	int		cancelled;   /* killed on request (TERM to us) */
	int		bad_input;   /* data not convertible to charset */
	int		bad_output;  /* output not convertible to UTF-8 */
	struct buf	out;	     /* what it wrote on stdout */
	struct timespec start, end;  /* wall clock */
	long long	ms;	     /* run time */
	long long	cpu_user_us; /* CPU time of the service and of */
	long long	cpu_sys_us;  /* ... what it left, once reaped */
	long		max_rss_kib; /* the largest of their peak RSS */
};

/* The context of a run: who asked, and the job id for queued jobs. */
struct run_ctx {
	const struct peer *peer;
	const char	  *job_id;
};

void  child_atfork(void (*)(void));
pid_t child_fork(void);
int   child_run(const struct service *, const struct limits *,
      const struct run_ctx *, const char *in, size_t inlen, struct run_result *);
int   child_ok(const struct run_result *);
int   child_describe(const struct service *, const struct run_result *, char *,
      size_t);
void  child_result_free(struct run_result *);
pid_t child_reap(int *status);
pid_t child_wait(pid_t);

#endif /* CHILD_H */
