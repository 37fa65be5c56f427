/*
 * schedpriv.h: what the master's job modules share, and no other module:
 * sched.c (the runners, dispatch, reaping), schednote.c (the spool's
 * FIFO: the notes children write, the children waiting for a job, the
 * start-up recovery) and schedend.c (a runner's end: its job's result
 * or its next attempt, results the spool could not take, retention).
 * sched.h is the API for the rest.
 */
#ifndef SCHEDPRIV_H
#define SCHEDPRIV_H

#include <stddef.h>

#include "bgserviced.h"
#include "pending.h"
#include "spool.h"

/* sched.c */
void sched_job_cancel(const char *id);
int  sched_job_known(const char *id);

/* schednote.c */
void *sched_grow(void *a, size_t *cap, size_t n, size_t size);
void  sched_wake(const char *id);
void  sched_waiter_forget(pid_t pid);
void  sched_note_free(void);

/* schedend.c */
int  sched_recover(const struct config *, spool_queued_fn queued);
int  sched_retry_wait(void);
int  sched_ended(struct qjob *j, int status, const struct config *);
void sched_end_free(void);

#endif /* SCHEDPRIV_H */
