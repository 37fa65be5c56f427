/*
 * shapes: the CPU cost of six shapes a call path can take, without any
 * daemon around them, so that what the shape itself costs can be told
 * from what bgserviced does besides (issue: calls as fast as tcpserver).
 *
 * Each call: a socketpair stands for the caller's connection; the
 * "listener" (this process, holding some memory as a daemon does) forks
 * a child for it, writes "hello", reads the answer, and reaps the child.
 *
 *   exec	the child execs /bin/cat with the socket as its stdin and
 *		stdout: tcpserver's and the fork+exec floor's shape;
 *   relay	the child starts cat with vfork, feeds its stdin and reads
 *		its stdout through pipes, waits for it, then answers:
 *		bgserviced's shape (the answer only once the exit status is
 *		known);
 *   memfd	as relay, but cat's stdin and stdout are memory files: the
 *		child writes the data, waits once, and answers from the
 *		output file (the memfd design of the issue);
 *   spawn	no process for the connection: the listener itself reads
 *		the request, starts cat with vfork on memory files, waits
 *		for it and answers from the output file (a master that
 *		does the connection's I/O, and one exec per call);
 *   pool	a worker forked once, before the calls, as a pool of
 *		pre-forked connection processes would be: the listener
 *		passes it each connection over a UNIX socket (SCM_RIGHTS)
 *		and it serves it as relay does, says it is free again, and
 *		waits for the next.  It is a child subreaper, serving one
 *		connection at a time, so what a run leaves behind is still
 *		that run's to stop; what a pool gives up is a fresh address
 *		space per connection;
 *   poolmem	as pool, the worker serving as spawn does (memory files,
 *		one wait, sendfile).
 *
 * usage: shapes MODE CALLS (MODE: exec, relay, memfd, spawn, pool or
 * poolmem)
 * prints: MODE cpu_us=N minflt=N wall_us=N (per call; CPU and minor
 * faults of this process and its reaped children, from getrusage(2)).
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CAT	    "/bin/cat"
#define DAEMON_HEAP (1 << 20) /* touched before the calls, as a daemon */
#define ANSWER_ROOM 4096

static char *const cat_argv[] = { CAT, NULL };
static char *const cat_env[] = { "PATH=/usr/bin:/bin", NULL };

static double
usage_sum(long *minflt)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	*minflt = self.ru_minflt + kids.ru_minflt;
	return self.ru_utime.tv_sec + self.ru_stime.tv_sec +
	    kids.ru_utime.tv_sec + kids.ru_stime.tv_sec +
	    (self.ru_utime.tv_usec + self.ru_stime.tv_usec +
		kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) /
	    1e6;
}

static double
wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Start cat with IN and OUT as its stdin and stdout: vfork, exec. */
static pid_t
start_cat(int in, int out)
{
	pid_t pid;

	if ((pid = vfork()) == -1)
		err(1, "vfork");
	if (pid == 0) {
		if (dup2(in, 0) == -1 || dup2(out, 1) == -1)
			_exit(126);
		execve(CAT, cat_argv, cat_env);
		_exit(127);
	}
	return pid;
}

static void __attribute__((noreturn)) child_exec(int s)
{
	if (dup2(s, 0) == -1 || dup2(s, 1) == -1)
		_exit(126);
	execve(CAT, cat_argv, cat_env);
	_exit(127);
}

/* bgserviced's shape of a run: cat through pipes, answered once it exited. */
static int
relay_serve(int s)
{
	char	buf[ANSWER_ROOM];
	int	in[2], out[2], status;
	size_t	got = 0;
	ssize_t n;
	pid_t	pid;

	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		return -1;
	pid = start_cat(in[0], out[1]);
	close(in[0]);
	close(out[1]);
	if ((n = read(s, buf, sizeof(buf))) > 0 && write(in[1], buf, n) != n)
		return -1;
	close(in[1]);
	while ((n = read(out[0], buf + got, sizeof(buf) - got)) > 0)
		got += n;
	close(out[0]);
	if (waitpid(pid, &status, 0) == -1 || status != 0)
		return -1;
	return write(s, buf, got) == (ssize_t)got ? 0 : -1;
}

static void __attribute__((noreturn)) child_relay(int s)
{
	_exit(relay_serve(s) == 0 ? 0 : 1);
}

static void __attribute__((noreturn)) child_memfd(int s)
{
	char	buf[ANSWER_ROOM];
	int	in, out, status;
	ssize_t n;
	pid_t	pid;

	if ((in = memfd_create("in", MFD_CLOEXEC)) == -1 ||
	    (out = memfd_create("out", MFD_CLOEXEC)) == -1)
		_exit(1);
	if ((n = read(s, buf, sizeof(buf))) > 0 && write(in, buf, n) != n)
		_exit(1);
	lseek(in, 0, SEEK_SET);
	pid = start_cat(in, out);
	if (waitpid(pid, &status, 0) == -1 || status != 0)
		_exit(1);
	if ((n = pread(out, buf, sizeof(buf), 0)) < 0)
		_exit(1);
	_exit(write(s, buf, n) == n ? 0 : 1);
}

/*
 * The spawn shape, run by the listener: the request is read, cat runs on
 * memory files and the answer goes from its output file to the socket.
 */
static void
serve_spawn(int s)
{
	char	buf[ANSWER_ROOM];
	int	in, out, status;
	ssize_t n;
	off_t	off = 0;
	pid_t	pid;

	if ((in = memfd_create("in", MFD_CLOEXEC)) == -1 ||
	    (out = memfd_create("out", MFD_CLOEXEC)) == -1)
		err(1, "memfd_create");
	if ((n = read(s, buf, sizeof(buf))) > 0 && write(in, buf, n) != n)
		err(1, "write");
	lseek(in, 0, SEEK_SET);
	pid = start_cat(in, out);
	close(in);
	if (waitpid(pid, &status, 0) == -1 || status != 0)
		errx(1, "cat failed");
	n = lseek(out, 0, SEEK_END);
	if (n > 0 && sendfile(s, out, &off, n) != n)
		err(1, "sendfile");
	close(out);
}

/*
 * The pool shapes' worker: a connection at a time from CTL, served with
 * relay_serve() or, with MEM, as spawn serves it.
 */
static void __attribute__((noreturn)) pool_worker(int ctl, int mem)
{
	char		buf[CMSG_SPACE(sizeof(int))];
	char		b;
	struct iovec	iov = { &b, 1 };
	struct msghdr	msg;
	struct cmsghdr *cm;
	int		s;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		_exit(1);
	for (;;) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = buf;
		msg.msg_controllen = sizeof(buf);
		if (recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC) != 1)
			_exit(0); /* the listener is done */
		if ((cm = CMSG_FIRSTHDR(&msg)) == NULL ||
		    cm->cmsg_type != SCM_RIGHTS)
			_exit(1);
		memcpy(&s, CMSG_DATA(cm), sizeof(int));
		if (mem) {
			serve_spawn(s); /* exits on a failure */
			b = 'y';
		} else
			b = relay_serve(s) == 0 ? 'y' : 'n';
		close(s);
		if (write(ctl, &b, 1) != 1)
			_exit(1);
	}
}

/* Hand S to the pool's worker over CTL. */
static void
pool_pass(int ctl, int s)
{
	char		buf[CMSG_SPACE(sizeof(int))];
	struct iovec	iov = { "c", 1 };
	struct msghdr	msg;
	struct cmsghdr *cm;

	memset(&msg, 0, sizeof(msg));
	memset(buf, 0, sizeof(buf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = buf;
	msg.msg_controllen = sizeof(buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &s, sizeof(int));
	if (sendmsg(ctl, &msg, 0) != 1)
		err(1, "sendmsg");
}

static int pool_ctl = -1; /* the listener's end, in the pool shape */

/* One call through a socketpair; exits on a wrong answer. */
static void
call(void (*serve)(int))
{
	char  ans[64];
	int   sv[2], status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		err(1, "socketpair");
	if (serve == NULL) {
		if (write(sv[0], "hello", 5) != 5 ||
		    shutdown(sv[0], SHUT_WR) == -1)
			err(1, "write");
		if (pool_ctl == -1)
			serve_spawn(sv[1]);
		else
			pool_pass(pool_ctl, sv[1]);
		close(sv[1]);
		if (read(sv[0], ans, sizeof(ans)) != 5 ||
		    memcmp(ans, "hello", 5))
			errx(1, "wrong answer");
		close(sv[0]);
		if (pool_ctl != -1 &&
		    (read(pool_ctl, ans, 1) != 1 || ans[0] != 'y'))
			errx(1, "the worker failed");
		return;
	}
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		close(sv[0]);
		serve(sv[1]);
	}
	close(sv[1]);
	if (write(sv[0], "hello", 5) != 5 || shutdown(sv[0], SHUT_WR) == -1)
		err(1, "write");
	if (read(sv[0], ans, sizeof(ans)) != 5 || memcmp(ans, "hello", 5))
		errx(1, "wrong answer");
	close(sv[0]);
	if (waitpid(pid, &status, 0) == -1 || status != 0)
		errx(1, "the child failed");
}

int
main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		void (*serve)(int);
	} modes[] = { { "exec", child_exec }, { "relay", child_relay },
		{ "memfd", child_memfd }, { "spawn", NULL }, { "pool", NULL },
		{ "poolmem", NULL } };
	long   calls, i, f0, f1;
	double c0, c1, t0;
	char  *heap;
	size_t m;
	pid_t  worker = -1;
	int    ctl[2], status;

	if (argc != 3 || (calls = strtol(argv[2], NULL, 10)) < 1)
		errx(2,
		    "usage: shapes exec|relay|memfd|spawn|pool|poolmem "
		    "CALLS");
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
		if (strcmp(argv[1], modes[m].name) == 0)
			break;
	if (m == sizeof(modes) / sizeof(modes[0]))
		errx(2, "no such shape: %s", argv[1]);
	if ((heap = malloc(DAEMON_HEAP)) == NULL)
		err(1, "malloc");
	memset(heap, 1, DAEMON_HEAP);
	if (strncmp(modes[m].name, "pool", 4) == 0) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
			ctl) == -1)
			err(1, "socketpair");
		if ((worker = fork()) == -1)
			err(1, "fork");
		if (worker == 0) {
			close(ctl[0]);
			pool_worker(ctl[1], modes[m].name[4] != '\0');
		}
		close(ctl[1]);
		pool_ctl = ctl[0];
	}
	c0 = usage_sum(&f0);
	t0 = wall();
	for (i = 0; i < calls; i++)
		call(modes[m].serve);
	if (worker != -1) { /* its CPU counts once it is reaped */
		close(pool_ctl);
		if (waitpid(worker, &status, 0) == -1 || status != 0)
			errx(1, "the worker failed");
	}
	c1 = usage_sum(&f1);
	printf("%s cpu_us=%.1f minflt=%.1f wall_us=%.1f\n", modes[m].name,
	    (c1 - c0) / calls * 1e6, (double)(f1 - f0) / calls,
	    (wall() - t0) / calls * 1e6);
	free(heap);
	return 0;
}
