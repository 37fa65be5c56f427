/*
 * loadgen: a small epoll load generator for the bgserviced benchmarks.
 *
 * It speaks the original one-request-per-connection protocol over TCP
 * (connect, write the request, optionally shut down the sending side,
 * read until the server closes) and sends UDP datagrams.  It only ever
 * talks to a loopback address, keeps a bounded number of connections in
 * flight and stops after a bounded count or time, whichever comes first.
 *
 * Modes:
 *   call  send -r REQUEST on every connection (default "cat:hello")
 *   add   send -r "queue:add:SERVICE:DATA", the answer must begin "id:";
 *         -o FILE receives the ids, one a line
 *   get   send "queue:get:id:ID" for the ids of -i FILE (cycled)
 *   check send "queue:check:id:ID" for the ids of -i FILE (cycled)
 *   jobs  add -n jobs, then get every one of them; the figure is the time
 *         from the first add to the last job done
 *   udp   send -n datagrams of -r REQUEST, -R per second (0: at once)
 *
 * -F sends call and add requests in the framed form instead, as the
 * contrib PHP client does: "service:data" as "!call service LEN\ndata",
 * "queue:add:service:data" as "!add service LEN\ndata", header and
 * payload in one write; the connection is closed as soon as the framed
 * answer "!CODE LEN\npayload" is whole, and only code 200 is good.
 * -K TOKEN presents TOKEN in every framed header (" token=TOKEN").
 * -N leaves the sending side open (as PHP's fsockopen callers do); -D
 * leaves Nagle's algorithm on (no TCP_NODELAY, as PHP's sockets have it).
 *
 * One line on standard output, key=value, latencies in microseconds:
 *   mode=call ok=N err=N elapsed=S rate=R p50_us=N p90_us=N p99_us=N
 *   max_us=N
 * The first bad answer or error is described on standard error.
 */

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONC       4096
#define MAX_COUNT      10000000L
#define MAX_ANSWER     (1024 * 1024)
#define MAX_EVENTS     256
#define MAX_FRAMED_HDR 256

enum mode {
	MODE_CALL,
	MODE_ADD,
	MODE_GET,
	MODE_CHECK,
	MODE_JOBS,
	MODE_UDP
};

enum state {
	ST_FREE,
	ST_CONNECTING,
	ST_READING
};

struct conn {
	enum state state;
	int	   fd;
	long	   index; /* which request of the run */
	double	   start;
	char	  *buf;
	size_t	   len;
	size_t	   cap;
};

struct run {
	const char *name;     /* phase name for the output line */
	long	    count;    /* requests to start at most */
	double	    deadline; /* no new request after this */
	double	    hard;     /* abort what is still in flight */
	long	    started;
	long	    ok;
	long	    errors;
	long	    inflight;
	double	    first; /* first connect */
	double	    last;  /* last completion */
	uint32_t   *lat;
	long	    nlat;
};

static struct sockaddr_storage peer;
static socklen_t	       peerlen;
static enum mode	       mode = MODE_CALL;
static int		       conc = 1;
static long		       count = 1000;
static double		       seconds = 10;
static double		       conn_timeout = 10;
static const char	      *request;
static const char	      *expect; /* exact answer */
static const char	      *prefix; /* answer prefix */
static int		       do_shutdown = 1;
static int		       get_shutdown = 0;
static int		       framed;
static const char	      *token; /* -K */
static int		       nodelay = 1;
static double		       udp_rate;
static const char	      *idfile;
static const char	      *outfile;
static FILE		      *outfp;
static char		     **ids;
static long		       nids;
static long		       idcap;
static int		       reported;
static int		       accept_any;
static int		       count_set;
static int		       epfd = -1;
static struct conn	      *conns;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen [-DFN] [-a addr] -p port "
	    "[-m call|add|get|check|jobs|udp]\n"
	    "               [-c conc] [-n count] [-t seconds] "
	    "[-T conn_timeout] [-r request]\n"
	    "               [-e expect | -P prefix | -A] [-i idfile] "
	    "[-o outfile] [-R rate] [-G] [-K token]\n");
	exit(2);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Parse a numeric address and refuse anything but loopback. */
static void
peer_set(const char *addr, const char *port)
{
	struct sockaddr_in  *sin = (struct sockaddr_in *)&peer;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&peer;
	char		    *end;
	long		     p;

	errno = 0;
	p = strtol(port, &end, 10);
	if (errno != 0 || *end != '\0' || p < 1 || p > 65535)
		errx(2, "bad port: %s", port);
	memset(&peer, 0, sizeof(peer));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			errx(2, "%s: not a loopback address, refused", addr);
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		peerlen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			errx(2, "%s: not a loopback address, refused", addr);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		peerlen = sizeof(*sin6);
	} else
		errx(2, "%s: not a numeric loopback address", addr);
}

static double
number(const char *s, const char *what, double lo, double hi)
{
	char  *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		errx(2, "bad %s: %s", what, s);
	return v;
}

static void
ids_load(const char *path)
{
	FILE   *fp;
	char   *line = NULL;
	size_t	n = 0;
	ssize_t len;

	if ((fp = fopen(path, "r")) == NULL)
		err(2, "%s", path);
	while ((len = getline(&line, &n, fp)) != -1) {
		while (len > 0 &&
		    (line[len - 1] == '\n' || line[len - 1] == '\r' ||
			line[len - 1] == ' '))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (nids == idcap) {
			idcap = idcap ? idcap * 2 : 1024;
			if ((ids = reallocarray(ids, idcap, sizeof(*ids))) ==
			    NULL)
				err(2, NULL);
		}
		if ((ids[nids++] = strdup(line)) == NULL)
			err(2, NULL);
	}
	free(line);
	fclose(fp);
}

/* Keep an id answered by queue:add, for the get phase and for -o. */
static void
ids_add(const char *id, size_t len)
{
	if (outfp != NULL)
		fprintf(outfp, "%.*s\n", (int)len, id);
	if (mode != MODE_JOBS)
		return;
	if (nids == idcap) {
		idcap = idcap ? idcap * 2 : 1024;
		if ((ids = reallocarray(ids, idcap, sizeof(*ids))) == NULL)
			err(2, NULL);
	}
	if ((ids[nids] = strndup(id, len)) == NULL)
		err(2, NULL);
	nids++;
}

static void
report_bad(const char *what, const char *buf, size_t len)
{
	size_t i;

	if (reported++)
		return;
	fprintf(stderr, "loadgen: first error: %s", what);
	if (buf != NULL) {
		fputs(": \"", stderr);
		for (i = 0; i < len && i < 200; i++) {
			unsigned char c = buf[i];

			if (c == '\n')
				fputs("\\n", stderr);
			else if (c < 0x20 || c >= 0x7f)
				fprintf(stderr, "\\x%02x", c);
			else
				fputc(c, stderr);
		}
		fputs(len > 200 ? "\"..." : "\"", stderr);
	}
	fputc('\n', stderr);
}

static int
is_error_line(const char *b, size_t n)
{
	return n >= 4 && (b[0] == '4' || b[0] == '5') && b[1] >= '0' &&
	    b[1] <= '9' && b[2] >= '0' && b[2] <= '9' && b[3] == ':';
}

/*
 * Is the framed answer in c's buffer whole?  1 with its code and payload
 * set, 0 while more is to come, -1 if it is not a framed answer.
 */
static int
framed_parse(const struct conn *c, int *code, const char **pay, size_t *plen)
{
	const char *b = c->buf, *nl, *p;
	size_t	    hdr, len = 0;

	if (c->len == 0)
		return 0;
	if ((nl = memchr(b, '\n', c->len)) == NULL)
		return c->len >= MAX_FRAMED_HDR ? -1 : 0;
	hdr = nl - b + 1;
	if (hdr < 7 || b[0] != '!' || b[4] != ' ')
		return -1;
	for (p = b + 1; p < b + 4; p++)
		if (*p < '0' || *p > '9')
			return -1;
	for (p = b + 5; p < nl; p++) {
		if (*p < '0' || *p > '9' || len > MAX_ANSWER)
			return -1;
		len = len * 10 + (*p - '0');
	}
	if (c->len < hdr + len)
		return 0;
	if (c->len > hdr + len)
		return -1; /* one request, one answer */
	*code = (b[1] - '0') * 100 + (b[2] - '0') * 10 + (b[3] - '0');
	*pay = b + hdr;
	*plen = len;
	return 1;
}

/* A queue:add answer: "id:ID" (framed: "ID"), kept by ids_add. */
static int
answer_id(const char *b, size_t n)
{
	size_t skip = framed ? 0 : 3;

	if (n <= skip || memcmp(b, "id:", skip) != 0)
		return 0;
	while (n > skip &&
	    (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' '))
		n--;
	if (n == skip)
		return 0;
	ids_add(b + skip, n - skip);
	return 1;
}

/* Judge one answer; 1 if good. */
static int
answer_check(struct conn *c, int adding)
{
	const char *b = c->buf;
	size_t	    n = c->len;
	int	    code;

	if (framed && (framed_parse(c, &code, &b, &n) != 1 || code != 200))
		goto bad;
	if (adding) {
		if (!answer_id(b, n))
			goto bad;
		return 1;
	}
	if (accept_any)
		return 1;
	if (expect != NULL) {
		size_t el = strlen(expect);

		/* Tolerate one trailing newline the server may add. */
		if (n == el + 1 && b[n - 1] == '\n')
			n--;
		if (n != el || memcmp(b, expect, el) != 0)
			goto bad;
		return 1;
	}
	if (prefix != NULL) {
		if (n < strlen(prefix) ||
		    memcmp(b, prefix, strlen(prefix)) != 0)
			goto bad;
		return 1;
	}
	if (n == 0 || is_error_line(b, n))
		goto bad;
	return 1;
bad:
	report_bad("bad answer", c->buf, c->len);
	return 0;
}

static void
conn_close(struct run *r, struct conn *c, int good)
{
	double t = now();

	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = ST_FREE;
	r->inflight--;
	r->last = t;
	if (good) {
		double us = (t - c->start) * 1e6;

		r->ok++;
		r->lat[r->nlat++] =
		    us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	} else
		r->errors++;
}

static const char *
request_for(int adding, long index, char *tmp, size_t tmplen)
{
	if (adding || mode == MODE_CALL || mode == MODE_ADD)
		return request; /* framed already, with -F */
	snprintf(tmp, tmplen, "queue:%s:id:%s",
	    mode == MODE_CHECK ? "check" : "get", ids[index % nids]);
	return tmp;
}

static int
conn_send(struct run *r, struct conn *c, int adding)
{
	char		   tmp[512];
	const char	  *req;
	size_t		   len;
	ssize_t		   w;
	int		   shut;
	struct epoll_event ev;

	req = request_for(adding, c->index, tmp, sizeof(tmp));
	len = strlen(req);
	/* Requests are small: one write fits the socket buffer. */
	w = write(c->fd, req, len);
	if (w != (ssize_t)len) {
		report_bad(w == -1 ? strerror(errno) : "short write", NULL, 0);
		conn_close(r, c, 0);
		return -1;
	}
	shut = (mode == MODE_GET || mode == MODE_CHECK ||
		   (mode == MODE_JOBS && !adding)) ?
	    get_shutdown :
	    do_shutdown;
	if (shut && shutdown(c->fd, SHUT_WR) == -1) {
		report_bad(strerror(errno), NULL, 0);
		conn_close(r, c, 0);
		return -1;
	}
	c->state = ST_READING;
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		err(1, "epoll_ctl");
	return 0;
}

static void
conn_start(struct run *r, struct conn *c, int adding)
{
	struct epoll_event ev;
	int		   fd, one = 1;

	c->index = r->started++;
	c->len = 0;
	c->start = now();
	if (r->first == 0)
		r->first = c->start;
	r->inflight++;
	fd = socket(peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		err(1, "socket");
	if (nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->state = ST_CONNECTING;
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		err(1, "epoll_ctl");
	if (connect(fd, (struct sockaddr *)&peer, peerlen) == 0) {
		conn_send(r, c, adding);
		return;
	}
	if (errno != EINPROGRESS) {
		report_bad(strerror(errno), NULL, 0);
		conn_close(r, c, 0);
	}
}

/* Is the framed answer whole (or already known to be malformed)? */
static int
framed_whole(const struct conn *c)
{
	const char *pay;
	size_t	    plen;
	int	    code;

	return framed_parse(c, &code, &pay, &plen) != 0;
}

static void
conn_event(struct run *r, struct conn *c, int adding)
{
	ssize_t	  n;
	int	  e = 0;
	socklen_t el = sizeof(e);

	if (c->state == ST_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1 ||
		    e != 0) {
			report_bad(strerror(e ? e : errno), NULL, 0);
			conn_close(r, c, 0);
			return;
		}
		conn_send(r, c, adding);
		return;
	}
	for (;;) {
		if (c->len == c->cap) {
			if (c->cap >= MAX_ANSWER) {
				report_bad("answer too long", c->buf, c->len);
				conn_close(r, c, 0);
				return;
			}
			c->cap = c->cap ? c->cap * 2 : 4096;
			if ((c->buf = realloc(c->buf, c->cap)) == NULL)
				err(1, NULL);
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n > 0) {
			c->len += n;
			if (framed && framed_whole(c)) {
				conn_close(r, c, answer_check(c, adding));
				return;
			}
			continue;
		}
		if (n == 0) {
			conn_close(r, c, answer_check(c, adding));
			return;
		}
		if (errno == EAGAIN || errno == EINTR)
			return;
		report_bad(strerror(errno), c->len ? c->buf : NULL, c->len);
		conn_close(r, c, 0);
		return;
	}
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t
pct(uint32_t *v, long n, double p)
{
	long i;

	if (n == 0)
		return 0;
	i = (long)(p * n + 0.999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

/* One bounded TCP phase; adding says the requests are queue:add. */
static void
tcp_run(struct run *r, int adding)
{
	struct epoll_event evs[MAX_EVENTS];
	double		   t;
	int		   i, n, timeout;

	r->lat = calloc(r->count ? r->count : 1, sizeof(*r->lat));
	if (r->lat == NULL)
		err(1, NULL);
	for (;;) {
		t = now();
		for (i = 0;
		     i < conc && r->started < r->count && t < r->deadline; i++)
			if (conns[i].state == ST_FREE)
				conn_start(r, &conns[i], adding);
		if (r->inflight == 0 &&
		    (r->started >= r->count || t >= r->deadline))
			break;
		if (t >= r->hard) {
			for (i = 0; i < conc; i++)
				if (conns[i].state != ST_FREE) {
					report_bad("timed out", conns[i].buf,
					    conns[i].len);
					conn_close(r, &conns[i], 0);
				}
			break;
		}
		timeout = (int)((r->hard - t) * 1000) + 1;
		if (t < r->deadline && (r->deadline - t) * 1000 < timeout)
			timeout = (int)((r->deadline - t) * 1000) + 1;
		if (timeout > 100)
			timeout = 100;
		n = epoll_wait(epfd, evs, MAX_EVENTS, timeout);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->state != ST_FREE)
				conn_event(r, c, adding);
		}
	}
	if (r->last == 0)
		r->last = now();
}

static void
tcp_report(struct run *r)
{
	double el = r->first > 0 ? r->last - r->first : 0;

	if (r->nlat > 0)
		qsort(r->lat, r->nlat, sizeof(*r->lat), cmp_u32);
	printf("mode=%s ok=%ld err=%ld elapsed=%.6f rate=%.1f p50_us=%u "
	       "p90_us=%u p99_us=%u max_us=%u\n",
	    r->name, r->ok, r->errors, el, el > 0 ? r->ok / el : 0.0,
	    pct(r->lat, r->nlat, 0.50), pct(r->lat, r->nlat, 0.90),
	    pct(r->lat, r->nlat, 0.99), pct(r->lat, r->nlat, 1.0));
	fflush(stdout);
	free(r->lat);
	r->lat = NULL;
}

static void
run_init(struct run *r, const char *name, long n, double start)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->count = n;
	r->deadline = start + seconds;
	r->hard = r->deadline + conn_timeout;
}

static void
tcp_main(void)
{
	struct run r, g;
	double	   el;

	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	if ((conns = calloc(conc, sizeof(*conns))) == NULL)
		err(1, NULL);
	run_init(&r,
	    mode == MODE_CALL	   ? "call" :
		mode == MODE_GET   ? "get" :
		mode == MODE_CHECK ? "check" :
				     "add",
	    count, now());
	tcp_run(&r, mode == MODE_ADD || mode == MODE_JOBS);
	if (mode != MODE_JOBS) {
		tcp_report(&r);
		return;
	}
	/* jobs: fetch every job just added; time from first add to last. */
	tcp_report(&r);
	run_init(&g, "get", nids, now());
	if (nids > 0)
		tcp_run(&g, 0);
	tcp_report(&g);
	el = (g.last > 0 ? g.last : r.last) - r.first;
	printf("mode=jobs ok=%ld err=%ld elapsed=%.6f rate=%.1f\n", g.ok,
	    r.errors + g.errors, el, el > 0 ? g.ok / el : 0.0);
}

/*
 * -F: the request "service:data" (add mode: "queue:add:service:data") in
 * the framed form, header and payload in one string.
 */
static void
framed_make(void)
{
	const char *verb = "call", *svc = request, *colon, *data;
	char	   *wire;
	size_t	    svclen;

	if (mode != MODE_CALL && mode != MODE_ADD)
		errx(2, "-F goes with the call and add modes only");
	if (mode == MODE_ADD) {
		if (strncmp(request, "queue:add:", 10) != 0)
			errx(2, "-F: not queue:add:SERVICE:DATA: %s", request);
		verb = "add";
		svc = request + 10;
	}
	colon = strchr(svc, ':');
	svclen = colon != NULL ? (size_t)(colon - svc) : strlen(svc);
	data = colon != NULL ? colon + 1 : "";
	if (svclen == 0)
		errx(2, "-F: no service name in %s", request);
	if (asprintf(&wire, "!%s %.*s %zu%s%s\n%s", verb, (int)svclen, svc,
		strlen(data), token != NULL ? " token=" : "",
		token != NULL ? token : "", data) == -1)
		err(2, NULL);
	request = wire;
}

static void
udp_main(void)
{
	struct timespec ts;
	double		start, t, el;
	long		sent = 0, errors = 0;
	size_t		len = strlen(request);
	int		fd, bufsz = 1 << 20;

	fd = socket(peer.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		err(1, "socket");
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (connect(fd, (struct sockaddr *)&peer, peerlen) == -1)
		err(1, "connect");
	start = now();
	while (sent + errors < count) {
		t = now();
		if (t - start >= seconds)
			break;
		if (udp_rate > 0 && sent + errors >= (t - start) * udp_rate) {
			ts.tv_sec = 0;
			ts.tv_nsec = 200000;
			nanosleep(&ts, NULL);
			continue;
		}
		if (send(fd, request, len, 0) == (ssize_t)len)
			sent++;
		else {
			/* ECONNREFUSED: an ICMP from a closed port. */
			if (errors == 0)
				report_bad(strerror(errno), NULL, 0);
			errors++;
		}
	}
	el = now() - start;
	printf("mode=udp ok=%ld err=%ld elapsed=%.6f rate=%.1f\n", sent,
	    errors, el, el > 0 ? sent / el : 0.0);
	close(fd);
}

int
main(int argc, char *argv[])
{
	const char *addr = "127.0.0.1", *port = NULL;
	int	    ch;

	while ((ch = getopt(argc, argv,
		    "a:Ac:De:FGi:K:m:n:No:p:P:r:R:t:T:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'A':
			accept_any = 1;
			break;
		case 'D':
			nodelay = 0;
			break;
		case 'F':
			framed = 1;
			break;
		case 'c':
			conc = (int)number(optarg, "concurrency", 1, MAX_CONC);
			break;
		case 'e':
			expect = optarg;
			break;
		case 'G':
			get_shutdown = 1;
			break;
		case 'i':
			idfile = optarg;
			break;
		case 'K':
			token = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "call") == 0)
				mode = MODE_CALL;
			else if (strcmp(optarg, "add") == 0)
				mode = MODE_ADD;
			else if (strcmp(optarg, "get") == 0)
				mode = MODE_GET;
			else if (strcmp(optarg, "check") == 0)
				mode = MODE_CHECK;
			else if (strcmp(optarg, "jobs") == 0)
				mode = MODE_JOBS;
			else if (strcmp(optarg, "udp") == 0)
				mode = MODE_UDP;
			else
				usage();
			break;
		case 'n':
			count = (long)number(optarg, "count", 1, MAX_COUNT);
			count_set = 1;
			break;
		case 'N':
			do_shutdown = 0;
			break;
		case 'o':
			outfile = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'P':
			prefix = optarg;
			break;
		case 'r':
			request = optarg;
			break;
		case 'R':
			udp_rate = number(optarg, "rate", 0, 1e7);
			break;
		case 't':
			seconds = number(optarg, "seconds", 0.001, 3600);
			break;
		case 'T':
			conn_timeout = number(optarg, "timeout", 0.001, 3600);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port == NULL)
		usage();
	if ((expect != NULL) + (prefix != NULL) + accept_any > 1)
		errx(2, "-e, -P and -A exclude each other");
	peer_set(addr, port);
	if (request == NULL)
		request = (mode == MODE_ADD || mode == MODE_JOBS) ?
		    "queue:add:cat:hello" :
		    "cat:hello";
	if (framed)
		framed_make();
	if (idfile != NULL)
		ids_load(idfile);
	if (mode == MODE_GET || mode == MODE_CHECK) {
		if (nids == 0)
			errx(2, "%s mode needs ids (-i idfile)",
			    mode == MODE_GET ? "get" : "check");
		if (!count_set)
			count = nids;
	}
	if (outfile != NULL && (outfp = fopen(outfile, "w")) == NULL)
		err(2, "%s", outfile);
	signal(SIGPIPE, SIG_IGN);
	if (mode == MODE_UDP)
		udp_main();
	else
		tcp_main();
	if (outfp != NULL && fclose(outfp) != 0)
		err(1, "%s", outfile);
	return 0;
}
