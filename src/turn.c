/*
 * turn.c: the master turns a connection away without forking (see
 * turn.h): one line, then the socket lingers awhile unless the caller
 * has sent everything already.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "http.h"
#include "net.h"
#include "proto.h"
#include "rate.h"
#include "refuse.h"
#include "turn.h"
#include "util.h"

/* Refused sockets, drained awhile. */
static struct {
	int	  fd;
	long long until;
} linger[TURN_LINGER_MAX];
static size_t nlinger;

/*
 * Has the caller on FD sent all it will (what came is read and dropped)?
 * Then closing cannot reset the connection.
 */
static int
caller_done(int fd)
{
	char	sink[1024];
	ssize_t n;
	int	i;

	for (i = 0; i < 4; i++)
		if ((n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT)) <= 0)
			return n == 0 || (errno != EAGAIN && errno != EINTR);
	return 0;
}

/*
 * Turn a connection away without forking: the answer LINE of LEN bytes
 * (a fresh socket's buffer always takes it), then, unless the caller
 * has sent all its request already, linger: the master reads and drops
 * what the caller still sends for a moment, so that closing does not
 * reset the connection before the caller has read the line.
 */
static void
turn_line(int fd, const struct listener *l, const struct sockaddr_storage *ss,
    const char *line, size_t len, enum refuse_reason reason, const char *why)
{
	struct peer peer;

	(void)!write(fd, line, len);
	(void)shutdown(fd, SHUT_WR);
	net_peer(fd, l->family, ss, &peer);
	if (l->family == AF_UNIX)
		refuse_log(reason, "%s: refused a caller: %s", l->name, why);
	else
		refuse_log(reason, "%s: refused %s:%s: %s", l->name, peer.ip,
		    peer.port, why);
	if (caller_done(fd) || nlinger == TURN_LINGER_MAX ||
	    set_nonblock(fd, 1) == -1) {
		close(fd);
		return;
	}
	linger[nlinger].fd = fd;
	linger[nlinger].until = now_ms() + TURN_LINGER_MS;
	nlinger++;
}

/* Turn a connection away with the error E, in the original form. */
void
turn_away(int fd, const struct listener *l, const struct sockaddr_storage *ss,
    enum proto_err e, enum refuse_reason reason, const char *why)
{
	char   line[256];
	size_t len;

	if (l->http)
		len = http_status(line, sizeof(line), proto_err_code(e),
		    proto_err_text(e));
	else
		len = proto_error(line, sizeof(line), 0, e);
	turn_line(fd, l, ss, line, len, reason, why);
}

/*
 * Is the caller on FD, at SS, from a source over its source_rate of
 * every service (rate.c)?  Then it is answered 429 with the seconds to
 * wait, before anything is forked or read: framed if the first byte of
 * a framed request has come already, else in the original form, which
 * framed clients read too (as the master's other refusals).  Waiting
 * for the first byte would cost the master, or a fork, what a flood
 * must not.
 */
int
turn_rate(int fd, const struct listener *l, const struct sockaddr_storage *ss)
{
	struct peer peer;
	char	    line[256], c;
	size_t	    len;
	int	    retry, framed;

	if (l->family == AF_UNIX)
		net_peer(fd, l->family, ss, &peer);
	else {
		peer.addr = *ss;
		peer.uid = (uid_t)-1;
	}
	if (!rate_over(&peer, &retry))
		return 0;
	framed =
	    recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1 && c == FRAME_MARK;
	len = proto_error_retry(line, sizeof(line), framed, ERR_RATE, retry);
	turn_line(fd, l, ss, line, len, REFUSE_RATE,
	    "over the source_rate of every service");
	return 1;
}

static void
linger_close(size_t i)
{
	close(linger[i].fd);
	linger[i] = linger[--nlinger];
}

/* Drain the lingering sockets that are readable, close finished ones. */
void
turn_drain(const struct pollfd *pfd)
{
	char	sink[4096];
	ssize_t n;
	size_t	i = nlinger;

	while (i-- > 0) {
		if (pfd[i].revents != 0) {
			while (
			    (n = read(linger[i].fd, sink, sizeof(sink))) > 0)
				;
			if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				linger_close(i);
				continue;
			}
		}
		if (now_ms() >= linger[i].until)
			linger_close(i);
	}
}

/* How many refused sockets linger. */
size_t
turn_lingering(void)
{
	return nlinger;
}

/* The lingering sockets to poll, in PFD[0] to PFD[turn_lingering()-1]. */
void
turn_pollfds(struct pollfd *pfd)
{
	size_t i;

	for (i = 0; i < nlinger; i++)
		pfd[i] = (struct pollfd){ linger[i].fd, POLLIN, 0 };
}

/* MS, or the milliseconds until the next lingering ends if sooner. */
int
turn_timeout(int ms)
{
	size_t i;
	int    m;

	for (i = 0; i < nlinger; i++) {
		m = ms_until(linger[i].until);
		if (ms < 0 || m < ms)
			ms = m;
	}
	return ms;
}

/* Close every lingering socket. */
void
turn_close_all(void)
{
	while (nlinger > 0)
		linger_close(0);
}
