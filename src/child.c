/*
 * child.c: every process the daemon creates, and their ends.  The only
 * code that forks, execs and waits is child*.c (daemon.c's detach
 * aside): child.c forks any process and reaps it, and says how a run of
 * a service ended; childrun.c runs a service (its pipes, its timeout,
 * what it leaves running) and childexec.c starts its process (the
 * environment, limits and user it execs with).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "proto.h"
#include "sig.h"

static void (*in_child)(void); /* see child_atfork() */

/*
 * FN is called in every child child_fork() makes, first thing: the
 * master's way to drop what is its own (listeners, the pidfile's lock)
 * in whatever child any module forks.
 */
void
child_atfork(void (*fn)(void))
{
	in_child = fn;
}

pid_t
child_fork(void)
{
	pid_t pid;

	if ((pid = fork()) == 0) {
		sig_clear();
		if (in_child != NULL)
			in_child();
	}
	return pid;
}

/*
 * Wait for the child PID (-1: any child) to end, its status dropped.
 * Its pid, or -1 (ECHILD: no such child is left).
 */
pid_t
child_wait(pid_t pid)
{
	pid_t r;

	while ((r = waitpid(pid, NULL, 0)) == -1 && errno == EINTR)
		;
	return r;
}

pid_t
child_reap(int *status)
{
	pid_t pid;

	do
		pid = waitpid(-1, status, WNOHANG);
	while (pid == -1 && errno == EINTR);
	return pid;
}

/* Did the run succeed, so that its output is the answer? */
int
child_ok(const struct run_result *res)
{
	return res->spawned && !res->timed_out && !res->overflow &&
	    !res->cancelled && !res->bad_output && WIFEXITED(res->status) &&
	    WEXITSTATUS(res->status) == 0;
}

/*
 * Say why a run failed: the code (proto.c's table, ERR_RUN_*) returned
 * and the text in BUF.
 */
int
child_describe(const struct service *sv, const struct run_result *res,
    char *buf, size_t size)
{
	if (res->bad_input) {
		snprintf(buf, size,
		    "Data cannot be converted from UTF-8 to "
		    "%s",
		    sv->charset);
		return proto_err_code(ERR_RUN_CHARSET);
	}
	if (res->bad_output) {
		snprintf(buf, size, "Service %s output is not valid %s",
		    sv->name, sv->charset);
		return proto_err_code(ERR_RUN_OUTPUT);
	}
	if (!res->spawned) {
		snprintf(buf, size, "Cannot run service %s: %s", sv->name,
		    strerror(res->spawn_errno));
		return proto_err_code(ERR_RUN_START);
	}
	if (res->timed_out) {
		snprintf(buf, size, "Service %s timed out after %d s",
		    sv->name, sv->timeout);
		return proto_err_code(ERR_RUN_TIMEOUT);
	}
	if (res->overflow) {
		snprintf(buf, size,
		    "Service %s output exceeds the "
		    "max_output limit",
		    sv->name);
		return proto_err_code(ERR_RUN_OVERFLOW);
	}
	if (res->cancelled) {
		snprintf(buf, size,
		    "Service %s was stopped: the daemon is "
		    "shutting down",
		    sv->name);
		return proto_err_code(ERR_RUN_STOPPED);
	}
	if (WIFSIGNALED(res->status)) {
		snprintf(buf, size, "Service %s killed by signal %d (%s)",
		    sv->name, WTERMSIG(res->status),
		    strsignal(WTERMSIG(res->status)));
		return proto_err_code(ERR_RUN_FAILED);
	}
	snprintf(buf, size, "Service %s failed with exit status %d", sv->name,
	    WEXITSTATUS(res->status));
	return proto_err_code(ERR_RUN_FAILED);
}

void
child_result_free(struct run_result *res)
{
	buf_free(&res->out);
}
