/*
 * sched.h: the master's side of the job queue.  It owns every job's
 * life once added: the queued jobs in order, the runners it forked (by
 * pid), the children waiting for a job, dispatch, reaping, retention.
 */
#ifndef SCHED_H
#define SCHED_H

#include <sys/types.h>

#include "bgserviced.h"

int    sched_init(const struct config *);
int    sched_notify_fd(void);
void   sched_notify_read(int (*ours)(pid_t));
void   sched_dispatch(const struct config *);
int    sched_reaped(pid_t, int status, const struct config *);
int    sched_timeout_ms(void);
void   sched_tick(const struct config *);
size_t sched_pending(void);
size_t sched_running(void);
void   sched_signal(int sig);
void   sched_free(void);

#endif /* SCHED_H */
