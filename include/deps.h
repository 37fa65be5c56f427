/*
 * deps.h: jobs that wait for others (after=ID,... on a framed add).
 *
 * A connection child refuses an add that names a job the spool does not
 * hold.  The master (sched.c) keeps a job whose dependencies are not all
 * done apart from the queued jobs, never dispatched, and looks at it
 * again each time a job ends: once all succeeded it is queued like any
 * job; once one did not, its runner is started at once and publishes
 * that it failed, naming that one.
 */
#ifndef DEPS_H
#define DEPS_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "spool.h"

/* What the master does with a job whose dependencies all succeeded. */
typedef void (*deps_release_fn)(const char *id, const char *service,
    uint64_t src, int priority, long long due_ms);
/*
 * How it starts the runner of a job doomed by its dependency FAILED:
 * 0 if started, -1 if not now.
 */
typedef int (*deps_start_fn)(void *arg, const char *id, const char *service,
    uint64_t src, int priority, const char *failed);

/* A connection child. */
const char *deps_unknown(const struct job_opts *);
/* The master. */
int    deps_hold(const char *id, const char *service, uint64_t src);
void   deps_ended(const char *id, deps_release_fn);
void   deps_start(deps_start_fn, void *arg);
size_t deps_blocked(void);
void   deps_free(void);
/* A runner. */
int deps_failed(const char *dep, char *why, size_t size);

#endif /* DEPS_H */
