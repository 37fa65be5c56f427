/*
 * childrun.c: one run of a service (child*.c, see child.c).
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
 * service starts.  Only shapes that fork nothing per connection are
 * cheaper than tcpserver's fork and exec: a master that reads requests
 * and starts services itself ("spawn"), which loses this subreaper per
 * run, or a pool of connection processes reused one connection after
 * another ("pool", "poolmem"), which keeps it but serves each caller in
 * memory that served others.
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
#include "childpriv.h"
#include "kids.h"
#include "log.h"
#include "sig.h"

#define ERRLINE_MAX 512
#define SWEEP_MS    100 /* SIGKILL again while anything is left */

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

/*
 * Log the stderr line the service has written so far.  A NUL in it would
 * end the message there: it is written "\000", as the log writes every
 * other control character (log.c).
 */
static void
log_errline(struct run *r)
{
	char   line[ERRLINE_MAX * 4];
	size_t i, n = 0;

	if (r->errlen == 0)
		return;
	for (i = 0; i < r->errlen; i++) {
		if (r->errline[i] == '\0') {
			memcpy(line + n, "\\000", 4);
			n += 4;
		} else
			line[n++] = r->errline[i];
	}
	line[n] = '\0';
	log_info("service %s: %s", r->sv->name, line);
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
	childexec_env(&sp, ctx);
	/* What the service orphans comes to us, not to init. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	if ((r->pid = childexec_spawn(&sp)) == -1) {
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
