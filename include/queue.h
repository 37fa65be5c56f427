/*
 * queue.h: the job queue.  The master keeps the order of queued jobs and
 * starts at most max_jobs runners and wakes children waiting for jobs;
 * connection children add jobs and answer the queue verbs from the spool.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <sys/types.h>

#include "bgserviced.h"
#include "net.h"
#include "proto.h"
#include "spool.h"
#include "util.h"

/* The master's side. */
int	queue_init(const struct config *);
int	queue_notify_fd(void);
void	queue_notify_read(int (*ours)(pid_t));
void	queue_dispatch(const struct config *, pid_t (*spawn)(const char *));
int	queue_reaped(pid_t, int status, const struct config *);
int	queue_timeout_ms(void);
void	queue_tick(const struct config *);
size_t	queue_pending(void);
size_t	queue_running(void);
void	queue_free(void);

/* In a runner child: run job ID to its end. */
int	queue_run(const struct config *, const char *id, pid_t master);

/* In a connection child: the verbs. */
enum proto_err queue_add(const struct config *, const struct request *,
	    const struct peer *, char *id);
int	queue_wait_done(const char *id);
int	queue_info(const char *id, struct buf *);
enum proto_err queue_cancel(const char *id);
void	queue_child(pid_t master);

#endif /* QUEUE_H */
