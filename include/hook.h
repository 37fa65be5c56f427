/*
 * hook.h: a service's on_done command, run by a job's runner once the
 * job's result is published (bgserviced.conf(5), on_done).
 */
#ifndef HOOK_H
#define HOOK_H

#include "bgserviced.h"
#include "spool.h"
#include "util.h"

/* on_done_when: after which results on_done runs. */
enum hook_when {
	HOOK_ALWAYS = 0, /* "always", the default */
	HOOK_SUCCESS,	 /* "success": code 200 */
	HOOK_FAILURE,	 /* "failure": any other */
};

void hook_done(const struct config *, const struct service *, const char *id,
    const struct job_result *, const struct buf *out);

#endif /* HOOK_H */
