/*
 * runner.h: one queued job's process, forked by the master (sched.c):
 * it claims the job, runs its service and publishes the result.
 */
#ifndef RUNNER_H
#define RUNNER_H

#include <sys/types.h>

#include "bgserviced.h"

/* A runner that found its service's instances all taken exits so. */
#define RUNNER_BUSY 75
/* ... and one that could not write the spool (full, EIO) exits so. */
#define RUNNER_RETRY 74
/* ... and one whose attempt failed or stopped with attempts left. */
#define RUNNER_AGAIN 73
/* ... and one whose failed dependency was retried meanwhile (deps.c). */
#define RUNNER_HOLD 72

int runner_main(const struct config *, const char *id, pid_t master,
    const char *dep);

#endif /* RUNNER_H */
