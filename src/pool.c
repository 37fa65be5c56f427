/*
 * pool.c: reused connection processes (limits.connection_workers).
 *
 * With N > 0 (0, the default, forks a process per connection) the master
 * keeps up to N workers forked ahead; it admits a caller as always, then
 * hands the connection to an idle worker over the worker's socket
 * (SCM_RIGHTS, with the listener and the caller's address), instead of
 * forking.  The worker serves it as a connection child does (it is the
 * subreaper of each run), writes a byte to the master when it is free
 * again, and waits for the next.  Without an idle worker the master forks
 * as it always did.  An idle worker is no connection (max_connections,
 * max_per_source); a busy one is its caller's until it has answered
 * (it says so as any connection process does: server_answered()).  A
 * worker exits after POOL_WORKER_CONNS connections (it does not say it is
 * free after the last, so that none is handed to it as it leaves), at
 * end of file on its socket (a reload or the stop closes them all:
 * pool_retire()), and on SIGTERM.
 *
 * Why: what a call costs on top of tcpserver's one fork and exec is not
 * the relay through pipes but the connection child itself, a forked copy
 * of the master whose page tables are copied and whose pages are faulted
 * in again (tests/bench/results.md, "What each design gained or lost").
 * A worker pays that once for many connections and stays the subreaper
 * of each run; what it gives up is a fresh copy of the master per
 * connection, which is why it is off by default (bgserviced.conf(5)).
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "serverpriv.h"
#include "sig.h"

#define POOL_WORKER_CONNS 1000 /* then it exits: leaks stay bounded */

/* What the master sends with a connection's descriptor. */
struct handoff {
	size_t			listener; /* srv.ls[] index */
	struct sockaddr_storage ss;	  /* the caller */
};

/* Wait for the next connection on CTL; its descriptor, or -1 to exit. */
static int
worker_next(int ctl, struct handoff *h)
{
	char		cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec	iov = { h, sizeof(*h) };
	struct msghdr	msg;
	struct cmsghdr *cm;
	struct pollfd	pfd = { ctl, POLLIN, 0 };
	int		fd;

	while (!sig_term && ppoll(&pfd, 1, NULL, &sig_waitmask) == -1)
		if (errno != EINTR)
			return -1;
	if (sig_term)
		return -1;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	if (recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(*h) ||
	    (cm = CMSG_FIRSTHDR(&msg)) == NULL ||
	    cm->cmsg_type != SCM_RIGHTS || h->listener >= srv.nls)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

/* A worker's life, on CTL: connections one after another. */
static void __attribute__((noreturn)) worker_run(int ctl)
{
	struct handoff h;
	int	       fd, served;

	memset(&h, 0, sizeof(h));
	for (served = 1; served <= POOL_WORKER_CONNS; served++) {
		setproctitle("connection worker: idle");
		if ((fd = worker_next(ctl, &h)) == -1)
			break;
		accept_conn(fd, &srv.ls[h.listener], &h.ss);
		close(fd);
		if (sig_term) /* the stop, while it served */
			break;
		sig_clear(); /* what its runs raised */
		if (served == POOL_WORKER_CONNS || write(ctl, "f", 1) != 1)
			break;
	}
	_exit(0);
}

/* Fork one idle worker; 0, or -1. */
static int
worker_fork(void)
{
	int   sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		return -1;
	}
	if ((pid = server_kid_fork(NULL)) == 0) {
		close(sv[0]);
		worker_run(sv[1]);
	}
	close(sv[1]);
	if (pid == -1) {
		close(sv[0]);
		return -1;
	}
	srv.kids[srv.nkids - 1].ctl = sv[0];
	srv.kids[srv.nkids - 1].idle = 1;
	return 0;
}

/* How many workers wait for a connection now. */
size_t
pool_idle(void)
{
	size_t i, n = 0;

	for (i = 0; i < srv.nkids; i++)
		n += srv.kids[i].ctl != -1 && srv.kids[i].idle;
	return n;
}

/* Fork workers until the configured number are there (room allowing). */
void
pool_fill(void)
{
	size_t i, n = 0;

	if (srv.conf->limits.connection_workers == 0)
		return;
	for (i = 0; i < srv.nkids; i++)
		n += srv.kids[i].ctl != -1;
	while (n < (size_t)srv.conf->limits.connection_workers &&
	    server_room() && worker_fork() == 0)
		n++;
}

/*
 * Hand connection FD, from SS on listener LISTENER, to an idle worker:
 * 0, or -1 if none took it (the caller forks as it always did).
 */
int
pool_pass(int fd, size_t listener, const struct sockaddr_storage *ss)
{
	char		cbuf[CMSG_SPACE(sizeof(int))];
	struct handoff	h;
	struct iovec	iov = { &h, sizeof(h) };
	struct msghdr	msg;
	struct cmsghdr *cm;
	size_t		i;

	if (srv.conf->limits.connection_workers == 0)
		return -1;
	for (i = 0; i < srv.nkids; i++)
		if (srv.kids[i].ctl != -1 && srv.kids[i].idle)
			break;
	if (i == srv.nkids)
		return -1;
	memset(&h, 0, sizeof(h));
	h.listener = listener;
	h.ss = *ss;
	memset(&msg, 0, sizeof(msg));
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	if (sendmsg(srv.kids[i].ctl, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(h))
		return -1;
	srv.kids[i].idle = 0;
	if (srv.ls[listener].family != AF_UNIX)
		srv.kids[i].from = *ss;
	return 0;
}

/* The workers' sockets to wait on, into PFD: how many. */
size_t
pool_pollfds(struct pollfd *pfd)
{
	size_t i, n = 0;

	for (i = 0; i < srv.nkids; i++)
		if (srv.kids[i].ctl != -1 && !srv.kids[i].idle)
			pfd[n++] =
			    (struct pollfd){ srv.kids[i].ctl, POLLIN, 0 };
	return n;
}

/* A worker's socket without one: it is leaving, an ordinary child. */
static void
worker_forget(struct kid *k)
{
	close(k->ctl);
	k->ctl = -1;
	k->idle = 0;
}

/*
 * Worker K has said it is free.  What it said before that, that it had
 * answered (on the pipe of server_answered()), is heard now: heard later,
 * it would be taken for the end of the next connection handed to it.
 */
static void
worker_heard(struct kid *k)
{
	ssize_t n;
	char	b;

	while ((n = recv(k->ctl, &b, 1, MSG_DONTWAIT)) == 1) {
		k->idle = 1;
		k->from.ss_family = AF_UNSPEC;
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		worker_forget(k);
	if (k->idle)
		server_heard();
}

/* Workers that said they are free (PFD, N of pool_pollfds()). */
void
pool_ready(const struct pollfd *pfd, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		for (k = 0; k < srv.nkids; k++)
			if (srv.kids[k].ctl == pfd[i].fd)
				break;
		if (k == srv.nkids)
			continue;
		worker_heard(&srv.kids[k]);
	}
}

/*
 * Let every worker go (a reload, the stop): idle ones exit at once, busy
 * ones after their connection, counted as connection children till then.
 */
void
pool_retire(void)
{
	size_t i;

	for (i = 0; i < srv.nkids; i++)
		if (srv.kids[i].ctl != -1)
			worker_forget(&srv.kids[i]);
}
