/*
 * accept.c: the master's accepting (see server.c): a connection or a
 * datagram waiting on a listener is taken, its caller admitted (the
 * allow lists, max_per_source, its source's rate limits) or turned away
 * (turn.c), and a child forked to serve it, a batch at a time, within
 * max_connections.  Out of descriptors or socket memory, accepting
 * pauses a while rather than spin.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conn.h"
#include "dgram.h"
#include "http.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "refuse.h"
#include "serverpriv.h"
#include "stats.h"
#include "turn.h"
#include "util.h"

#define ACCEPT_BATCH 16	 /* connections or datagrams per wakeup */
#define PAUSE_MS     100 /* no accept(2) for this long, out of fds */

static struct {
	long long paused_until; /* out of descriptors: no accept */
	unsigned  pauses;	/* ... how often, this episode */
} a;

/*
 * No descriptor (EMFILE, ENFILE) or no socket memory (ENOBUFS, ENOMEM)
 * for a connection that waits: trying again at once would spin, since
 * the listener stays readable.  Stop accepting for PAUSE_MS instead;
 * callers wait in the backlog meanwhile, and lingering sockets end.
 * Said once an episode: until the master has caught up with its callers.
 */
static void
accept_pause(const struct listener *l, int error)
{
	STATS_INC(accept_pauses);
	a.paused_until = now_ms() + PAUSE_MS;
	if (a.pauses++ == 0)
		log_warnx("accept on %s: %s: pausing %d ms at a time until "
			  "it works (%zu refused sockets lingering)",
		    l->name, strerror(error), PAUSE_MS, turn_lingering());
}

/* Nothing is waiting any more: a pause episode, if any, is over. */
static void
accept_caught_up(void)
{
	if (a.pauses == 0)
		return;
	log_info("accepting again after %u pauses", a.pauses);
	a.pauses = 0;
}

/* The descriptor to poll for listener L: none while accepting pauses. */
int
accept_pollfd(const struct listener *l)
{
	if (a.paused_until != 0 && now_ms() >= a.paused_until)
		a.paused_until = 0;
	return l->type == SOCK_STREAM && a.paused_until != 0 ? -1 : l->fd;
}

/* accept(2) on L failed with ERROR: may the caller try again at once? */
static int
accept_failed(const struct listener *l, int error)
{
	if (error == EMFILE || error == ENFILE || error == ENOBUFS ||
	    error == ENOMEM)
		accept_pause(l, error);
	else if (error == EAGAIN)
		accept_caught_up();
	else if (error != EINTR && error != ECONNABORTED)
		log_warnx("accept on %s: %s", l->name, strerror(error));
	return error == ECONNABORTED || error == EINTR;
}

/*
 * Whether SS has max_per_source connections already.  One that has just
 * answered this address may not have been heard yet: listen first.
 */
static int
per_source_full(const struct sockaddr_storage *ss)
{
	int max = srv.conf->limits.max_per_source;

	if (max == 0 || server_kids_from(ss) < max)
		return 0;
	server_heard();
	return server_kids_from(ss) >= max;
}

/*
 * May the caller on FD, at SS, be served on L (its allow list,
 * max_per_source, and its source's rate limits)?  If not, it is refused.
 */
static int
accept_admit(int fd, const struct listener *l,
    const struct sockaddr_storage *ss)
{
	if (l->family == AF_UNIX ?
		!net_unix_allowed(fd, &srv.conf->listens[l->conf]) :
		!addr_allowed(l->http && srv.conf->metrics.allow.n > 0 ?
			&srv.conf->metrics.allow :
			&srv.conf->allow,
		    ss)) {
		turn_away(fd, l, ss, ERR_DENIED,
		    l->family == AF_UNIX ? REFUSE_CREDENTIALS : REFUSE_DENIED,
		    "not allowed");
		return 0;
	}
	if (l->family != AF_UNIX && per_source_full(ss)) {
		turn_away(fd, l, ss, ERR_TOO_MANY, REFUSE_PER_SOURCE,
		    "max_per_source reached");
		return 0;
	}
	return l->http || !turn_rate(fd, l, ss);
}

/* Serve connection FD, from SS, on L (a connection child or a worker). */
void
accept_conn(int fd, const struct listener *l,
    const struct sockaddr_storage *ss)
{
	struct peer peer;
	/* Only max_per_source needs to hear that it answered. */
	void (*told)(void) =
	    l->family != AF_UNIX && srv.conf->limits.max_per_source > 0 ?
	    server_answered :
	    NULL;

	net_peer(fd, l->family, ss, &peer);
	if (l->family != AF_UNIX)
		peer.transport = "tcp";
	if (l->http)
		http_serve(fd, srv.conf, &peer, told);
	else
		conn_serve(fd, srv.conf, &peer, told);
}

/* In the child forked for connection FD on L: serve it, and exit. */
static void __attribute__((noreturn)) accept_serve(int fd,
    const struct listener *l, const struct sockaddr_storage *ss)
{
	accept_conn(fd, l, ss);
	_exit(0);
}

/* Serve one waiting connection; 0 when none was waiting. */
static int
accept_one(struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t		len = sizeof(ss);
	pid_t			pid;
	int			fd;

	memset(&ss, 0, sizeof(ss)); /* whole, as it is handed to a worker */
	if ((fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
		 SOCK_CLOEXEC)) == -1)
		return accept_failed(l, errno);
	STATS_INC(connections);
	if (!accept_admit(fd, l, &ss))
		return 1;
	if (!l->http && pool_pass(fd, (size_t)(l - srv.ls), &ss) == 0) {
		close(fd);
		return 1;
	}
	if ((pid = server_kid_fork(l->family == AF_UNIX ? NULL : &ss)) == 0)
		accept_serve(fd, l, &ss);
	close(fd);
	return pid != -1;
}

/* Handle one waiting datagram; 0 when none was waiting. */
static int
recv_one(struct listener *l)
{
	struct dgram d;
	pid_t	     pid;

	switch (dgram_recv(l, srv.conf, &d)) {
	case DGRAM_NONE:
		return 0;
	case DGRAM_NEXT:
		return 1;
	case DGRAM_RUN:
		break;
	}
	if ((pid = server_kid_fork(NULL)) == 0) {
		dgram_run(srv.conf, &d);
		_exit(0);
	}
	return pid != -1;
}

/* Serve what waits on the listeners of PFD[FIRST] to PFD[N - 1]. */
void
accept_ready(const struct pollfd *pfd, size_t first, size_t n)
{
	size_t i, k;

	for (i = first; i < n; i++) {
		struct listener *l = &srv.ls[i - first];

		if (!(pfd[i].revents & POLLIN))
			continue;
		/* What is waiting, a batch at most, within the cap. */
		for (k = 0; k < ACCEPT_BATCH && server_room(); k++)
			if (!(l->type == SOCK_STREAM ? accept_one(l) :
						       recv_one(l)))
				break;
	}
}

/* MS, or less if a pause in accepting ends sooner: the ppoll timeout. */
int
accept_timeout(int ms)
{
	int m;

	if (a.paused_until != 0) {
		m = ms_until(a.paused_until);
		if (ms < 0 || m < ms)
			ms = m;
	}
	return ms;
}
