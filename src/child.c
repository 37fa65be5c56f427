/*
 * child.c: every process the daemon creates, and their ends.
 *
 * child_run() runs one service: the command is executed directly (no
 * shell) in a session of its own, so that its whole process group can be
 * killed; the payload goes to its stdin, its stdout is collected up to
 * max_output bytes, and each line of its stderr goes to the log, tagged
 * with the service.  The timeout sends TERM to the group, then KILL after
 * the grace period.
 *
 * The process that runs it (a connection child, a datagram child or a
 * job's runner) is a child subreaper: whatever the service starts and
 * leaves behind, in its group or not, becomes its child when its parent
 * exits, and is signalled with the group (kids.c).  A run is over only
 * when that process has no child left: when the service exits, whatever
 * it left running is stopped the same way.
 *
 * Why pipes and a second process, measured (tests/bench/shapes.c, the
 * "Call path shapes" section of make bench, and its "What each design
 * gained or lost"): memory files for stdin and stdout (one wait, no
 * relay) gain a few points of exec's rate at most, and give up the prompt
 * max_output kill (a memfd grows until the service exits; RLIMIT_FSIZE
 * would also cap every file the service writes), so the pipes stay.  Nor
 * is the relay what makes a call dearer than tcpserver's: a patched
 * connection child that exec'ed the service as soon as the request was
 * admitted was no faster.  What costs is the connection child itself, a
 * forked copy of the master faulting in the pages it touches before the
 * service starts; only a master that reads requests and starts services
 * itself (the "spawn" shape) is cheaper than tcpserver's fork and exec.
 * Stdin is written before the first wait, and only our end of it is
 * non-blocking.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "charset.h"
#include "child.h"
#include "kids.h"
#include "log.h"
#include "priv.h"
#include "proto.h"
#include "sig.h"

#define SERVICE_PATH "/usr/local/bin:/usr/bin:/bin"
#define ENV_MAX	     (16 + SERVICE_ENV_MAX)
#define ERRLINE_MAX  512
#define SWEEP_MS     100 /* SIGKILL again while anything is left */

/* Parent-side state of one running service. */
struct run {
	const struct service *sv;
	const struct limits  *lim;
	pid_t		      pid;
	int		      in, out, err; /* our pipe ends, or -1 */
	const char	     *inp;	    /* payload left to write */
	size_t		      inleft;
	char		      errline[ERRLINE_MAX];
	size_t		      errlen;
	int		      exited;	/* the service is reaped */
	int		      kids;	/* we still have a child */
	long long	      kill_at;	/* next escalation, or 0 */
	int		      kill_sig; /* signal it will send */
};

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
static void
build_env(struct spawn *sp, const struct run_ctx *ctx)
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
 * Send SIG to all the service started that is still there: its process
 * group, as long as the service itself is not reaped (until then no
 * other group can have its id), and each of our children outside that
 * group, which are the descendants that left it and were orphaned.  Only
 * we reap our children, so no pid signalled here can have been reused.
 */
static void
run_kill(struct run *r, int sig)
{
	if (!r->exited)
		(void)kill(-r->pid, sig);
	(void)kids_signal(sig, r->exited ? 0 : r->pid);
}

/*
 * Start the TERM-then-KILL sequence, unless it is already under way.
 */
static void
run_terminate(struct run *r)
{
	if (r->kill_at != 0)
		return;
	run_kill(r, SIGTERM);
	r->kill_sig = SIGKILL;
	r->kill_at = now_ms() + (long long)r->lim->kill_grace * 1000;
}

static void
close_fd(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

static void
log_errline(struct run *r)
{
	if (r->errlen == 0)
		return;
	r->errline[r->errlen] = '\0';
	log_info("service %s: %s", r->sv->name, r->errline);
	r->errlen = 0;
}

/* Read what the service wrote on stderr; log it line by line. */
static void
read_stderr(struct run *r)
{
	char	chunk[4096];
	ssize_t n, i;

	if ((n = read(r->err, chunk, sizeof(chunk))) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			close_fd(&r->err);
		return;
	}
	if (n == 0) {
		log_errline(r);
		close_fd(&r->err);
		return;
	}
	for (i = 0; i < n; i++) {
		if (chunk[i] == '\n') {
			log_errline(r);
			continue;
		}
		if (r->errlen == ERRLINE_MAX - 1)
			log_errline(r);
		r->errline[r->errlen++] = chunk[i];
	}
}

/*
 * Read the service's output straight into the result, one byte beyond
 * max_output at most: that byte tells it is too much.  Past that point
 * (or out of memory) the output is dropped, so that the service is not
 * blocked on a full pipe while it is being killed.
 */
static void
read_stdout(struct run *r, struct run_result *res)
{
	char	sink[4096];
	ssize_t n;

	if (res->overflow)
		n = read(r->out, sink, sizeof(sink));
	else
		n = buf_read(&res->out, r->out,
		    r->lim->max_output + 1 - res->out.len);
	if (n == -1) {
		if (errno == ENOMEM)
			goto overflow;
		if (errno != EAGAIN && errno != EINTR)
			close_fd(&r->out);
		return;
	}
	if (n == 0) {
		close_fd(&r->out);
		return;
	}
	if (res->overflow || res->out.len <= r->lim->max_output)
		return;
overflow:
	res->overflow = 1;
	res->out.len = 0;
	log_warnx("service %s: output exceeds %zu bytes, killed", r->sv->name,
	    r->lim->max_output);
	run_terminate(r);
}

static void
write_stdin(struct run *r)
{
	ssize_t n;

	if ((n = write(r->in, r->inp, r->inleft)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			close_fd(&r->in); /* it does not read: fine */
		return;
	}
	r->inp += n;
	r->inleft -= n;
	if (r->inleft == 0)
		close_fd(&r->in);
}

/*
 * Reap the service, keeping its status, and whatever it left that has
 * ended; note when no child at all is left (ECHILD).
 */
static void
run_reap(struct run *r, struct run_result *res)
{
	struct rusage ru;
	pid_t	      pid;
	int	      status;

	sig_chld = 0;
	for (;;) {
		pid = wait4(-1, &status, WNOHANG, &ru);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		res->cpu_user_us += (long long)ru.ru_utime.tv_sec * 1000000 +
		    ru.ru_utime.tv_usec;
		res->cpu_sys_us += (long long)ru.ru_stime.tv_sec * 1000000 +
		    ru.ru_stime.tv_usec;
		if (ru.ru_maxrss > res->max_rss_kib)
			res->max_rss_kib = ru.ru_maxrss;
		if (pid == r->pid) {
			res->status = status;
			r->exited = 1;
		}
	}
	r->kids = pid == 0;
}

/* What is due now: a cancel, the timeout, leftovers, the next KILL. */
static void
run_due(struct run *r, struct run_result *res, long long deadline)
{
	if (sig_term && !res->cancelled) {
		res->cancelled = 1;
		run_terminate(r);
	}
	if (deadline != 0 && r->kill_at == 0 && now_ms() >= deadline) {
		res->timed_out = 1;
		log_warnx("service %s: timed out after %d s, killed",
		    r->sv->name, r->sv->timeout);
		run_terminate(r);
	}
	if (r->exited && r->out == -1 && r->err == -1 && r->kill_at == 0) {
		log_info("service %s: exited, stopping what it left running",
		    r->sv->name);
		run_terminate(r);
	}
	if (r->kill_at != 0 && now_ms() >= r->kill_at) {
		run_kill(r, r->kill_sig);
		r->kill_at = now_ms() + SWEEP_MS; /* keep trying */
	}
}

/* The next moment something must happen without I/O, for ppoll. */
static int
run_timeout(const struct run *r, long long deadline)
{
	long long next = 0;

	if (r->kill_at != 0)
		next = r->kill_at;
	else if (deadline != 0)
		next = deadline;
	return next == 0 ? -1 : ms_until(next);
}

/* The parent's loop: feed stdin, collect stdout and stderr, wait. */
static void
run_loop(struct run *r, struct run_result *res, long long deadline)
{
	struct pollfd	pfd[3];
	struct timespec ts;
	int		n, i, ms;

	while (!r->exited || r->out != -1 || r->err != -1 || r->kids) {
		run_due(r, res, deadline);
		n = 0;
		if (r->in != -1)
			pfd[n++] = (struct pollfd){ r->in, POLLOUT, 0 };
		if (r->out != -1)
			pfd[n++] = (struct pollfd){ r->out, POLLIN, 0 };
		if (r->err != -1)
			pfd[n++] = (struct pollfd){ r->err, POLLIN, 0 };
		ms = run_timeout(r, deadline);
		if (ppoll(pfd, n, ms_timespec(&ts, ms), &sig_waitmask) == -1 &&
		    errno != EINTR)
			fatal("ppoll");
		if (sig_chld)
			run_reap(r, res);
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == r->in)
				write_stdin(r);
			else if (pfd[i].fd == r->out)
				read_stdout(r, res);
			else if (pfd[i].fd == r->err)
				read_stderr(r);
		}
	}
}

static int
make_pipes(int p[3][2])
{
	int i;

	for (i = 0; i < 3; i++)
		p[i][0] = p[i][1] = -1;
	for (i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC) == -1)
			return -1;
	return 0;
}

static void
close_pipes(int p[3][2])
{
	int i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < 2; j++)
			close_fd(&p[i][j]);
}

/*
 * Start the command with vfork(2): no copy of our address space, and
 * we resume only once it has exec'ed or failed.  Returns its pid, or -1
 * with errno (the child's, if exec failed: the child is reaped).
 */
static pid_t
spawn(struct spawn *sp)
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

static int spawn_and_run(const struct service *, const struct limits *,
    const struct run_ctx *, const char *, size_t, struct run_result *);

/*
 * Run SV with IN (UTF-8) on its stdin; RES->out is its output in UTF-8.
 * For a service with a charset, the data is converted to it first and
 * the output back; data that cannot be converted never reaches the
 * command.  Returns 0 when it ran (see RES for how it ended), -1 when it
 * could not be started.
 */
int
child_run(const struct service *sv, const struct limits *lim,
    const struct run_ctx *ctx, const char *in, size_t inlen,
    struct run_result *res)
{
	struct buf conv = { 0 };
	int	   r;

	if (sv->charset == NULL)
		return spawn_and_run(sv, lim, ctx, in, inlen, res);
	if (charset_convert("UTF-8", sv->charset, in, inlen, &conv) == -1) {
		memset(res, 0, sizeof(*res));
		res->bad_input = 1;
		buf_free(&conv);
		return -1;
	}
	r = spawn_and_run(sv, lim, ctx, conv.data, conv.len, res);
	buf_free(&conv);
	if (child_ok(res)) {
		if (charset_convert(sv->charset, "UTF-8", res->out.data,
			res->out.len, &conv) == -1) {
			res->bad_output = 1;
			buf_free(&conv);
		} else {
			buf_free(&res->out);
			res->out = conv;
		}
	}
	return r;
}

/*
 * Start the service of R on the pipes P (stdin, stdout, stderr), with
 * the environment of CTX: R gets its pid and our ends of the pipes.  0,
 * or -1 with the pipes closed and the reason in RES.
 */
static int
run_start(struct run *r, const struct run_ctx *ctx, int p[3][2],
    struct run_result *res)
{
	struct spawn sp;

	memset(&sp, 0, sizeof(sp));
	sp.sv = r->sv;
	sp.in = p[0][0];
	sp.out = p[1][1];
	sp.err = p[2][1];
	build_env(&sp, ctx);
	/* What the service orphans comes to us, not to init. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	if ((r->pid = spawn(&sp)) == -1) {
		res->spawn_errno = errno;
		close_pipes(p);
		log_warnx("service %s: cannot execute %s: %s", r->sv->name,
		    r->sv->argv[0], strerror(res->spawn_errno));
		return -1;
	}
	close_fd(&p[0][0]);
	close_fd(&p[1][1]);
	close_fd(&p[2][1]);
	res->spawned = 1;
	r->kids = 1;
	r->in = p[0][1];
	r->out = p[1][0];
	r->err = p[2][0];
	return 0;
}

static int
spawn_and_run(const struct service *sv, const struct limits *lim,
    const struct run_ctx *ctx, const char *in, size_t inlen,
    struct run_result *res)
{
	struct run r;
	int	   p[3][2]; /* stdin, stdout, stderr */
	long long  t0, deadline;

	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	r.sv = sv;
	r.lim = lim;
	clock_gettime(CLOCK_REALTIME, &res->start);
	t0 = now_ms();
	if (make_pipes(p) == -1) {
		res->spawn_errno = errno;
		close_pipes(p);
		goto done;
	}
	if (run_start(&r, ctx, p, res) == -1)
		goto done;
	r.inp = in;
	r.inleft = inlen;
	/*
	 * Only our end of stdin must not block: stdout and stderr are read
	 * once poll says so, and one read(2) of a pipe returns what is
	 * there.  The data goes in at once, so that a small payload is
	 * written and its pipe closed before the first wait.
	 */
	if (inlen == 0)
		close_fd(&r.in);
	else if (fcntl(r.in, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	else
		write_stdin(&r);
	deadline = sv->timeout > 0 ? t0 + (long long)sv->timeout * 1000 : 0;
	run_loop(&r, res, deadline);
	close_fd(&r.in);
done:
	clock_gettime(CLOCK_REALTIME, &res->end);
	res->ms = now_ms() - t0;
	return res->spawned ? 0 : -1;
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
