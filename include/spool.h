/*
 * spool.h: the job spool, whose modules (spool.c, spoolkey.c, spoolscan.c,
 * spooldir.c; spoolpriv.h between them) are the only code that touches
 * its files.
 *
 * A job ID exists while ID.req exists.  ID.run says it was started (and
 * by which process), ID.done holds its result.  Each file is published
 * whole: written to a temp file, fsync'ed, linked into place (the first
 * writer wins: a result is never overwritten), the directory fsync'ed.
 * A crash at any instant leaves each job absent or whole.  A job added
 * with an idempotency key has a key file naming it while its request
 * exists (see spool_add()).
 *
 * Trust: the spool belongs to the user the daemon runs as.  It is opened
 * once, checked (a directory of that user's that no one else may write,
 * not a link), and every file in it is reached relative to that
 * descriptor, never through a link, and only once the daemon is that user.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <sys/types.h>

#include <time.h>

#include "net.h"
#include "proto.h"
#include "util.h"

enum job_state {
	JOB_NONE = -1,
	JOB_QUEUED = 0,
	JOB_RUNNING = 1,
	JOB_DONE = 2,
	JOB_FAILED =
	    3, /* done without success, not cancelled: a dead letter */
};

/* A job's request, as queue:add received it. */
struct job_req {
	char		id[JOB_ID_MAX + 1];
	char		service[SERVICE_NAME_MAX + 1];
	struct timespec submitted;
	char		transport[8];
	char		ip[64];
	char		port[8];
	/* Its options (0 and "" when none were given): */
	int	   priority;
	long long  not_before_ms; /* eligible from then (epoch ms), 0: now */
	char	   key[JOB_KEY_MAX + 1];
	char	   keyscope[JOB_KEY_SCOPE_MAX + 1]; /* whose key: a hash */
	int	   nafter;			    /* the jobs it waits for */
	char	   after[JOB_AFTER_MAX][JOB_ID_MAX + 1];
	struct buf data;
};

/* A job's outcome. */
struct job_result {
	int		code;	      /* 200, or the error line's code */
	char		message[256]; /* the error line's text */
	char		how[64];      /* "exit 0", "signal 9", "timeout" */
	struct timespec started, ended;
	long long	ms;
	long long	cpu_user_ms; /* the service's CPU time */
	long long	cpu_sys_ms;
	long		max_rss_kib; /* its peak RSS */
	struct buf	out;	     /* the output, when code is 200 */
};

/*
 * A job's attempts (ID.try): how many were started (each counted before
 * its service starts), how many are allowed, and when the next may start.
 */
struct job_try {
	int	  attempts;
	int	  max;		 /* 1 + the service's retries; 0: not known */
	long long not_before_ms; /* the next attempt's earliest (epoch ms) */
};

int  spool_open(const char *dir, uid_t, gid_t, const char **why);
int  spool_lock(const char **why);
void spool_close(void);
void spool_child(void);
int  spool_add(const char *service, const char *node, const struct peer *,
     const struct job_opts *, const char *data, size_t len, char *id);
int  spool_key_find(const char *service, const char *scope, const char *key,
     char *id);
int  spool_load_req(const char *id, struct job_req *);
int  spool_load_head(const char *id, struct job_req *);
void spool_req_free(struct job_req *);
enum job_state spool_state(const char *id);
enum job_state spool_state_full(const char *id);
int	       spool_load_try(const char *id, struct job_try *);
int	       spool_save_try(const char *id, const struct job_try *);
int	       spool_requeue(const char *id);
int	       spool_retry(const char *id);
int	       spool_mark_running(const char *id, pid_t pid);
int	       spool_run_hold(const char *id);
int	       spool_run_done(const char *id, const struct job_result *);
pid_t	       spool_runner(const char *id);
int	       spool_finish(const char *id, const struct job_result *);
int  spool_finish_now(const char *id, enum proto_err, const char *how);
int  spool_load_result(const char *id, struct job_result *);
int  spool_result_code(const char *id);
void spool_result_free(struct job_result *);
int  spool_cancel_mark(const char *id);
int  spool_cancelled(const char *id);
int  spool_remove(const char *id);
int  spool_notify_open(void);
int  spool_notify_fd(void);
int  spool_locked(void);

/* Recovery and retention (the master). */
/* A queued job found at start; WAITS: its request names jobs (after=). */
typedef void (*spool_queued_fn)(const char *id, const char *service,
    int priority, long long due_ms, int waits);
typedef void (*spool_stuck_fn)(const char *id, const char *service);
int    spool_recover(spool_queued_fn queued, spool_stuck_fn stuck,
       time_t *next_expiry, int retention, int wait_ms);
int    spool_finish_stopped(const char *id);
int    spool_expire(int retention, time_t *next_expiry);
int    spool_list(struct buf *);
size_t spool_count_done(void);

int spool_volatile(const char *dir);

#endif /* SPOOL_H */
