/*
 * reqend.c: where an original-form request without end-of-file ends.
 *
 * An original-form caller that never shuts down its side (PHP's
 * BackgroundServiceCaller, nc without -N) tells the end of its request
 * by nothing but silence.  Waiting long for it costs every call that
 * long; waiting too little cuts a request whose bytes were still on
 * their way.  Over TCP the silence that ends a request is therefore
 * worked out per connection, after every read, from what the kernel
 * knows of it:
 *
 *  - bytes still queued: no silence has begun, read on;
 *  - REQEND_SETTLE_US (2 ms) at the least: a writer that writes again
 *    within it, as a program writing its request in a few pieces does,
 *    is never cut on an idle or busy machine;
 *  - twice the smoothed round-trip time plus four times its variance
 *    (TCP_INFO), as TCP's own retransmission timer reckons: the next
 *    flight of a sender held by its congestion window comes after one;
 *  - 1 ms more per 64 KiB already received: a large request is one a
 *    slow or preempted writer is still sending;
 *  - twice the longest silence already seen inside this request: the
 *    writer has shown how long it pauses;
 *  - twice the time this process has waited for a CPU since the request
 *    began (/proc/self/schedstat): on a machine whose CPUs are all busy
 *    the writer waits for one as long, and its pause stretches as much;
 *  - the whole request_idle_ms once the kernel has seen segments out of
 *    order on the connection (a lost segment's retransmission is late);
 *  - never more than request_idle_ms, the configured upper bound, unless
 *    the caller is on this host and its socket, asked through sock_diag
 *    when the silence is over, has written bytes that have not reached
 *    us yet (a sender preempted or its segments queued behind a busy
 *    CPU): the request is not over then, and request_timeout bounds it.
 *
 * TCP_QUICKACK after every read acknowledges at once, so that a caller's
 * Nagle-held tail is never stuck behind our delayed acknowledgement.  A
 * request that ended by silence is checked again before it is answered:
 * bytes that arrived meanwhile mean it was cut, which is logged, counted
 * and, for a call, answered as an error (see conn.c).  UNIX-domain
 * callers keep the fixed quiet period of request_idle_ms.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reqend.h"

/* TCP_ESTABLISHED of <netinet/tcp.h>, which <linux/tcp.h> excludes. */
#define DIAG_ESTABLISHED 1

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t
queued(int fd)
{
	int n;

	if (ioctl(fd, FIONREAD, &n) == -1 || n < 0)
		return 0;
	return (size_t)n;
}

/* Microseconds this process has waited on a run queue; -1: unknown. */
static long long
runq_wait_us(void)
{
	char	buf[128], *p;
	ssize_t n;
	int	fd;

	if ((fd = open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strchr(buf, ' ')) == NULL)
		return -1;
	return strtoll(p + 1, NULL, 10) / 1000;
}

void
reqend_init(struct reqend *r, int fd, int tcp, int idle_ms)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->tcp = tcp;
	r->bound_us = (long long)idle_ms * 1000;
	r->last_us = now_us();
}

/* BYTES arrived with the last read. */
void
reqend_arrived(struct reqend *r, size_t bytes)
{
	long long now = now_us();
	int	  on = 1;

	if (r->drained_us != 0 && now - r->drained_us > r->gap_us)
		r->gap_us = now - r->drained_us;
	r->last_us = now;
	r->bytes += bytes;
	r->reads++;
	r->drained_us = queued(r->fd) == 0 ? now : 0;
	if (r->tcp)
		(void)setsockopt(r->fd, IPPROTO_TCP, TCP_QUICKACK, &on,
		    sizeof(on));
}

/* The silence that ends the request on this connection now. */
long long
reqend_quiet_us(const struct reqend *r)
{
	struct tcp_info ti;
	socklen_t	len = sizeof(ti);
	long long	q = REQEND_SETTLE_US;

	if (!r->tcp)
		return r->bound_us;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(r->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
		if (len > offsetof(struct tcp_info, tcpi_rcv_ooopack) &&
		    ti.tcpi_rcv_ooopack > 0)
			return r->bound_us;
		if (2LL * ti.tcpi_rtt + 4LL * ti.tcpi_rttvar > q)
			q = 2LL * ti.tcpi_rtt + 4LL * ti.tcpi_rttvar;
	}
	q += (long long)(r->bytes / (REQEND_BYTES_PER_MS / 1000));
	if (2 * r->gap_us > q)
		q = 2 * r->gap_us;
	return q < r->bound_us ? q : r->bound_us;
}

/* Fill the sock_diag request for the caller's end of FD. */
static int
diag_request(int fd, struct inet_diag_req_v2 *q)
{
	struct sockaddr_storage	   me, peer;
	socklen_t		   ml = sizeof(me), pl = sizeof(peer);
	const struct sockaddr_in6 *m6, *p6;

	if (getsockname(fd, (struct sockaddr *)&me, &ml) == -1 ||
	    getpeername(fd, (struct sockaddr *)&peer, &pl) == -1)
		return -1;
	memset(q, 0, sizeof(*q));
	q->sdiag_protocol = IPPROTO_TCP;
	q->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	q->idiag_states = ~0U;
	q->id.idiag_cookie[0] = q->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (peer.ss_family == AF_INET) {
		q->sdiag_family = AF_INET;
		q->id.idiag_sport = ((struct sockaddr_in *)&peer)->sin_port;
		q->id.idiag_dport = ((struct sockaddr_in *)&me)->sin_port;
		memcpy(q->id.idiag_src,
		    &((struct sockaddr_in *)&peer)->sin_addr, 4);
		memcpy(q->id.idiag_dst, &((struct sockaddr_in *)&me)->sin_addr,
		    4);
		return 0;
	}
	m6 = (const struct sockaddr_in6 *)&me;
	p6 = (const struct sockaddr_in6 *)&peer;
	q->id.idiag_sport = p6->sin6_port;
	q->id.idiag_dport = m6->sin6_port;
	if (IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr)) {
		/* A caller's AF_INET socket, seen through a v6 listener. */
		q->sdiag_family = AF_INET;
		memcpy(q->id.idiag_src, p6->sin6_addr.s6_addr + 12, 4);
		memcpy(q->id.idiag_dst, m6->sin6_addr.s6_addr + 12, 4);
	} else {
		q->sdiag_family = AF_INET6;
		memcpy(q->id.idiag_src, &p6->sin6_addr, 16);
		memcpy(q->id.idiag_dst, &m6->sin6_addr, 16);
	}
	return 0;
}

/*
 * Ask sock_diag(7) for the socket of Q: its answer in ANS (SIZE bytes
 * at most); how many bytes came, or -1.
 */
static ssize_t
diag_ask(const struct inet_diag_req_v2 *q, void *ans, size_t size)
{
	struct {
		struct nlmsghdr		nh;
		struct inet_diag_req_v2 q;
	} req;
	ssize_t n;
	int	nl;

	memset(&req.nh, 0, sizeof(req.nh));
	req.q = *q;
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	if ((nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
		 NETLINK_SOCK_DIAG)) == -1)
		return -1;
	if (send(nl, &req, sizeof(req), 0) == -1 ||
	    (n = recv(nl, ans, size, 0)) == -1) {
		close(nl);
		return -1;
	}
	close(nl);
	return n;
}

/*
 * Is M the socket Q asked for?  The lookup falls back to a listening
 * socket on the caller's port: only the caller's own connected socket
 * will do.
 */
static int
diag_same(const struct inet_diag_msg *m, const struct inet_diag_req_v2 *q)
{
	return m->idiag_state == DIAG_ESTABLISHED &&
	    m->id.idiag_sport == q->id.idiag_sport &&
	    m->id.idiag_dport == q->id.idiag_dport &&
	    memcmp(m->id.idiag_src, q->id.idiag_src,
		sizeof(m->id.idiag_src)) == 0 &&
	    memcmp(m->id.idiag_dst, q->id.idiag_dst,
		sizeof(m->id.idiag_dst)) == 0;
}

/* The caller's tcp_info and unacknowledged bytes, from its socket. */
static int
diag_peer(int fd, struct tcp_info *ti, unsigned int *wqueue)
{
	struct inet_diag_req_v2 q;
	union {
		struct nlmsghdr nh;
		char		buf[1024];
	} ans;
	struct inet_diag_msg *m;
	struct rtattr	     *a;
	ssize_t		      n;
	int		      len;

	if (diag_request(fd, &q) == -1 ||
	    (n = diag_ask(&q, &ans, sizeof(ans))) == -1)
		return -1;
	if (!NLMSG_OK(&ans.nh, (size_t)n) ||
	    ans.nh.nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return -1; /* NLMSG_ERROR: not a socket of this host */
	m = NLMSG_DATA(&ans.nh);
	if (!diag_same(m, &q))
		return -1;
	*wqueue = m->idiag_wqueue;
	len = ans.nh.nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	for (a = (struct rtattr *)(m + 1); RTA_OK(a, len);
	     a = RTA_NEXT(a, len))
		if (a->rta_type == INET_DIAG_INFO &&
		    (size_t)RTA_PAYLOAD(a) >=
			offsetof(struct tcp_info, tcpi_bytes_received) + 8) {
			memset(ti, 0, sizeof(*ti));
			memcpy(ti, RTA_DATA(a),
			    (size_t)RTA_PAYLOAD(a) < sizeof(*ti) ?
				(size_t)RTA_PAYLOAD(a) :
				sizeof(*ti));
			return 0;
		}
	return -1;
}

/*
 * Whether the caller, on this host, has written bytes that have not yet
 * reached this socket: 1 yes, 0 no, -1 cannot tell (a remote caller).
 * Its bytes written are those it had acknowledged (less one for our
 * SYN, which the count includes) plus those waiting for an
 * acknowledgement; ours are those received in order.
 */
static int
peer_sending(struct reqend *r)
{
	struct tcp_info peer, me;
	socklen_t	len = sizeof(me);
	unsigned int	wq;

	if (!r->tcp || r->remote)
		return -1;
	if (diag_peer(r->fd, &peer, &wq) == -1) {
		r->remote = 1; /* not asked again on this connection */
		return -1;
	}
	memset(&me, 0, sizeof(me));
	if (getsockopt(r->fd, IPPROTO_TCP, TCP_INFO, &me, &len) == -1 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + 8)
		return -1;
	return peer.tcpi_bytes_acked + wq > me.tcpi_bytes_received + 1;
}

/*
 * Microseconds of silence still to wait; 0 or less: the request ended.
 * Once the silence is over, a caller on this host still sending keeps
 * the request open: look again after another REQEND_SETTLE_US.
 */
long long
reqend_left_us(struct reqend *r)
{
	long long left = r->last_us + reqend_quiet_us(r) - now_us();
	long long runq;

	if (left > 0)
		return left;
	if (queued(r->fd) > 0)
		return 1; /* we were slow, not the caller: read on */
	/* Our process was forked for this connection: all of its wait. */
	if (r->tcp && (runq = runq_wait_us()) >= 0) {
		left += 2 * runq;
		if (left > 0 && r->last_us + r->bound_us > now_us())
			return left;
	}
	if (peer_sending(r) == 1) {
		r->waited_peer++;
		return REQEND_SETTLE_US;
	}
	return left;
}

/* Bytes that arrived after the request ended (0: none yet). */
size_t
reqend_late(const struct reqend *r)
{
	return queued(r->fd);
}
