/*
 * childexec.c: a service's new process (child*.c, see child.c): the
 * small documented environment, the service's limits and user, and
 * vfork(2) then exec of its command, directly, never through a shell.
 */
#include <sys/resource.h>
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "childpriv.h"
#include "priv.h"
#include "sig.h"

#define SERVICE_PATH "/usr/local/bin:/usr/bin:/bin"

static void
env_add(struct spawn *sp, const char *name, const char *value)
{
	int len;

	if (value == NULL || value[0] == '\0' || sp->nenv >= ENV_MAX - 1)
		return;
	len = snprintf(sp->store + sp->used, sizeof(sp->store) - sp->used,
	    "%s=%s", name, value);
	if (len < 0 || (size_t)len >= sizeof(sp->store) - sp->used)
		return;
	sp->env[sp->nenv++] = sp->store + sp->used;
	sp->used += len + 1;
}

/* The small documented environment, plus the service's "env". */
void
childexec_env(struct spawn *sp, const struct run_ctx *ctx)
{
	const struct service *sv = sp->sv;
	char		    **x;
	int		      own_path = 0;

	for (x = sv->env; x != NULL && *x != NULL; x++) {
		if (strncmp(*x, "PATH=", 5) == 0)
			own_path = 1;
		if (sp->nenv < ENV_MAX - 9)
			sp->env[sp->nenv++] = *x;
	}
	if (!own_path)
		env_add(sp, "PATH", SERVICE_PATH);
	env_add(sp, "BGS_SERVICE", sv->name);
	if (ctx->peer != NULL) {
		env_add(sp, "BGS_TRANSPORT", ctx->peer->transport);
		env_add(sp, "BGS_REMOTE_IP", ctx->peer->ip);
		env_add(sp, "BGS_REMOTE_PORT", ctx->peer->port);
		env_add(sp, "BGS_LOCAL_IP", ctx->peer->local_ip);
		env_add(sp, "BGS_LOCAL_PORT", ctx->peer->local_port);
	}
	env_add(sp, "BGS_JOB_ID", ctx->job_id);
	sp->env[sp->nenv] = NULL;
}

/* The service's resource limits and priority. */
static int
apply_limits(const struct service *sv)
{
	static const struct {
		int    res;
		size_t off;
	} map[] = {
		{ RLIMIT_CPU, offsetof(struct rlimits, cpu) },
		{ RLIMIT_AS, offsetof(struct rlimits, as) },
		{ RLIMIT_NOFILE, offsetof(struct rlimits, nofile) },
		{ RLIMIT_NPROC, offsetof(struct rlimits, nproc) },
		{ RLIMIT_FSIZE, offsetof(struct rlimits, fsize) },
	};
	struct rlimit rl;
	long long     v;
	size_t	      i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		v = *(const long long *)((const char *)&sv->rlim + map[i].off);
		if (v < 0)
			continue;
		rl.rlim_cur = rl.rlim_max = (rlim_t)v;
		/* CPU: SIGXCPU at the limit, SIGKILL a second later. */
		if (map[i].res == RLIMIT_CPU)
			rl.rlim_max = rl.rlim_cur + 1;
		if (setrlimit(map[i].res, &rl) == -1)
			return -1;
	}
	if (sv->nice != 0 && setpriority(PRIO_PROCESS, 0, sv->nice) == -1)
		return -1;
	return 0;
}

/* Become the service's user, unless the daemon gave up root itself. */
static int
become_user(const struct service *sv)
{
	if (!sv->id.setids || geteuid() != 0)
		return 0;
	return priv_become(&sv->id);
}

/*
 * The new process, started with vfork(2): it shares the parent's memory
 * until it execs, so it makes system calls only.  A session and process
 * group of its own, default signals, fds 0, 1, 2 wired, everything else
 * closed, limits, user, exec.  A failure is left in sp->error.
 */
static void __attribute__((noreturn)) exec_child(struct spawn *sp)
{
	(void)setsid();
	sig_reset();
	if (dup2(sp->in, STDIN_FILENO) == -1 ||
	    dup2(sp->out, STDOUT_FILENO) == -1 ||
	    dup2(sp->err, STDERR_FILENO) == -1)
		goto fail;
	closefrom(STDERR_FILENO + 1);
	if (apply_limits(sp->sv) == -1 || become_user(sp->sv) == -1)
		goto fail;
	execve(sp->sv->argv[0], sp->sv->argv, sp->env);
fail:
	sp->error = errno != 0 ? errno : EINVAL;
	_exit(127);
}

/*
 * Start the command with vfork(2): no copy of our address space, and
 * we resume only once it has exec'ed or failed.  Returns its pid, or -1
 * with errno (the child's, if exec failed: the child is reaped).
 */
pid_t
childexec_spawn(struct spawn *sp)
{
	pid_t pid;

	sp->error = 0;
	if ((pid = vfork()) == -1)
		return -1;
	if (pid == 0)
		exec_child(sp);
	if (sp->error != 0) {
		(void)child_wait(pid);
		errno = sp->error;
		return -1;
	}
	return pid;
}
