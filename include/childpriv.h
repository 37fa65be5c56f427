/*
 * childpriv.h: what childrun.c (one run of a service) and childexec.c
 * (its new process) share, and no other module (child.h is the API).
 */
#ifndef CHILDPRIV_H
#define CHILDPRIV_H

#include <sys/types.h>

#include <stddef.h>

#include "bgserviced.h"
#include "child.h"

#define ENV_MAX (16 + SERVICE_ENV_MAX)

/* What the new process needs, all prepared by the parent. */
struct spawn {
	const struct service *sv;
	char		     *env[ENV_MAX];
	char		      store[4096]; /* the strings of env */
	size_t		      used;
	int		      nenv;
	int		      in, out, err;
	volatile int	      error; /* set by a failed child */
};

/* The environment of the service of SP run for CTX, into SP. */
void childexec_env(struct spawn *sp, const struct run_ctx *ctx);

/*
 * Start the command of SP; its pid, or -1 with errno (see
 * childexec.c).
 */
pid_t childexec_spawn(struct spawn *sp);

#endif /* CHILDPRIV_H */
