/*
 * queue.h: the job verbs, as a connection child asks them.  The child
 * publishes a new job in the spool and tells the master (sched.c) on the
 * spool's FIFO; it asks the master to wake it when a job is done, or to
 * stop a cancelled job's runner, on the same FIFO.  Nothing here decides
 * which job runs: the master does.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <sys/types.h>

#include "bgserviced.h"
#include "net.h"
#include "proto.h"
#include "spool.h"
#include "util.h"

/*
 * A note on the FIFO: its kind, a job's id (either form, padded with NULs
 * to JOB_ID_MAX), an argument padded with NULs, '\n'.  Notes of one size, written whole (< PIPE_BUF): reads never split
 * them.
 */
#define NOTE_ADD   'A' /* a job was queued; the argument: its service */
#define NOTE_AFTER 'B' /* ... one that waits for others (deps.c) */
/* A failed job was queued again; as NOTE_AFTER, if its request names any. */
#define NOTE_RETRY 'R'
#define NOTE_WAIT  'W' /* a child waits for the job; its pid */
#define NOTE_DONE  'D' /* the job was cancelled: stop its runner */
#define NOTE_ARG   (1 + JOB_ID_MAX)
/* ... and its source's key (rate_source()), 16 hex digits: quotas. */
#define NOTE_SRC (NOTE_ARG + SERVICE_NAME_MAX + 1)
/* ... its priority, in decimal, and when it is due (epoch ms, 0: now). */
#define NOTE_PRIO (NOTE_SRC + 16 + 1)
#define NOTE_DUE  (NOTE_PRIO + 11 + 1)
#define NOTE_LEN  (NOTE_DUE + 16 + 1)

/* How waiting for a job ended. */
enum queue_wait {
	WAIT_DONE,     /* the job is done */
	WAIT_GONE,     /* there is no such job (any more) */
	WAIT_STOPPING, /* the daemon stops, or its master died */
	WAIT_FAILED,   /* the master could not be asked */
	WAIT_LEFT,     /* the caller hung up first */
};

void queue_child(pid_t master);
void queue_key_scope(struct job_opts *, const char *token,
    const struct peer *);
int  queue_key_known(const char *service, const struct job_opts *, char *id);
int  queue_add(const struct service *, const char *node, const struct peer *,
     const struct job_opts *, const char *data, size_t len, char *id);
enum job_state	queue_state(const char *id);
enum queue_wait queue_wait_done(const char *id, int fd);
int		queue_result(const char *id, struct job_result *);
int	       queue_info(const struct config *, const char *id, struct buf *);
enum proto_err queue_cancel(const char *id);
enum proto_err queue_retry(const char *id);
int	       queue_list(struct buf *);

#endif /* QUEUE_H */
