/*
 * dial.c: the client's connections (see dial.h).  Errors that end the
 * call exit with bgservice(1)'s statuses; a connection that cannot be
 * made is returned, so that the caller can try another host.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dial.h"

#define CONNECT_TIMEOUT 10

static int	 timeout; /* seconds for the whole call, 0: none */
static long long deadline;

/* The call's deadline: TIMEOUT seconds from now (0: none). */
void
dial_init(int seconds)
{
	timeout = seconds;
	deadline = seconds > 0 ? now_ms() + (long long)seconds * 1000 : 0;
}

static int
ms_left(void)
{
	return deadline == 0 ? -1 : ms_until(deadline);
}

/*
 * connect(2) bounded by CONNECT_TIMEOUT and the call's deadline.  The
 * socket stays non-blocking.
 */
static int
connect_bounded(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pollfd pfd = { fd, POLLOUT, 0 };
	socklen_t     elen = sizeof(int);
	int	      ms = CONNECT_TIMEOUT * 1000, left = ms_left(), e = 0, r;

	if (left >= 0 && left < ms)
		ms = left;
	if (set_nonblock(fd, 1) == -1)
		return -1;
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	while ((r = poll(&pfd, 1, ms)) == -1 && errno == EINTR)
		;
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (r == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
		return -1;
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

/* Drop a "tcp://", "udp://" or "unix:" scheme. */
static const char *
strip_scheme(const char *url)
{
	static const char *const schemes[] = { "tcp://", "udp://", "unix://",
		"unix:" };
	size_t			 i, n;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		n = strlen(schemes[i]);
		if (strncmp(url, schemes[i], n) == 0)
			return url + n;
	}
	return url;
}

/* Why connecting to SPEC failed, from errno; -1. */
static int
dial_failed(int fd, const char *spec, char *why, size_t whylen)
{
	int e = errno;

	if (fd != -1)
		close(fd);
	snprintf(why, whylen, "connect %s: %s", spec, strerror(e));
	errno = e;
	return -1;
}

/*
 * Is P a port: 1 to 65535 in decimal digits?  getaddrinfo(3) takes a
 * larger number modulo 65536 (127.0.0.1:77777 would reach port 12241)
 * and looks a name up in services(5); neither is what bgservice(1) says.
 */
static int
port_ok(const char *p)
{
	size_t i;
	long   v = 0;

	for (i = 0; p[i] != '\0'; i++) {
		if (p[i] < '0' || p[i] > '9' || i == 5)
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/*
 * Split SPEC, "host:port" or "[v6]:port", in BUF (SIZE bytes) into *HOST
 * and *PORT; one of another form is a usage error, and exits.
 */
static void
split_spec(const char *spec, char *buf, size_t size, char **host, char **port)
{
	char *h = buf, *p;

	if (strlcpy(buf, spec, size) >= size)
		errx(EXIT_USAGE, "%s: too long", spec);
	if (*h == '[') {
		h++;
		if ((p = strchr(h, ']')) == NULL || p[1] != ':')
			errx(EXIT_USAGE, "%s: expected [address]:port", spec);
		*p = '\0';
		p += 2;
	} else {
		if ((p = strrchr(h, ':')) == NULL)
			errx(EXIT_USAGE, "%s: expected host:port", spec);
		*p++ = '\0';
	}
	if (*h == '\0' || !port_ok(p))
		errx(EXIT_USAGE, "%s: expected host:port, port 1 to 65535",
		    spec);
	*host = h;
	*port = p;
}

/*
 * Connect a socket of TYPE (SOCK_STREAM or SOCK_DGRAM) to URL: "host:port",
 * "[v6]:port" or a UNIX socket path.  Returns the socket, or -1 with why
 * it failed in WHY (a URL that is no address exits: a usage error).
 */
int
dial_try(const char *url, int type, char *why, size_t whylen)
{
	struct addrinfo	   hints, *res, *ai;
	struct sockaddr_un sun;
	const char	  *spec = strip_scheme(url);
	char		   buf[256], *h, *p;
	int		   fd = -1, e;

	if (spec[0] == '/') {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlcpy(sun.sun_path, spec, sizeof(sun.sun_path)) >=
		    sizeof(sun.sun_path))
			errx(EXIT_USAGE, "%s: path too long", spec);
		if ((fd = socket(AF_UNIX, type, 0)) == -1 ||
		    connect_bounded(fd, (struct sockaddr *)&sun,
			sizeof(sun)) == -1)
			return dial_failed(fd, spec, why, whylen);
		return fd;
	}
	split_spec(spec, buf, sizeof(buf), &h, &p);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = type;
	if ((e = getaddrinfo(h, p, &hints, &res)) != 0) {
		snprintf(why, whylen, "%s: %s", spec, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype,
			 ai->ai_protocol)) == -1)
			continue;
		if (connect_bounded(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return dial_failed(fd, spec, why, whylen);
	return fd;
}

/* Connect to URL, or exit as err(3) does. */
int
dial(const char *url, int type)
{
	char why[512];
	int  fd;

	if ((fd = dial_try(url, type, why, sizeof(why))) == -1)
		errx(EXIT_TEMP, "%s", why);
	return fd;
}

/* Wait until FD is ready for EVENTS, within the deadline. */
static void
wait_fd(int fd, short events)
{
	struct pollfd pfd = { fd, events, 0 };
	int	      r;

	while ((r = poll(&pfd, 1, ms_left())) == -1 && errno == EINTR)
		;
	if (r == -1)
		err(EXIT_TEMP, "poll");
	if (r == 0)
		errx(EXIT_TEMP, "timed out after %d s", timeout);
}

/*
 * Write LEN bytes of DATA to FD.  Returns 0, or -1 with errno EPIPE or
 * ECONNRESET when the daemon stopped reading (it may have answered
 * already, 413 for instance); another error exits.
 */
static int
send_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		wait_fd(fd, POLLOUT);
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == EPIPE || errno == ECONNRESET)
				return -1;
			err(EXIT_TEMP, "write");
		}
		data += n;
		len -= n;
	}
	return 0;
}

/*
 * The length of the answer's header in OUT (0: not all there yet), with
 * its CODE and payload length PLEN; -1 if it is none of bgserviced's.
 */
static int
answer_head(const struct buf *out, int *code, size_t *plen)
{
	if (out->len == 0)
		return 0;
	/*
	 * The master refuses a connection (403, 429) before it reads
	 * anything: one line in the original form.
	 */
	if (out->data[0] != FRAME_MARK)
		return proto_parse_error_line(out->data, out->len, code, plen);
	return proto_parse_frame_answer(out->data, out->len, code, plen);
}

/*
 * Read the answer on FD into OUT: its header's length, its code in *CODE
 * and its payload's length in *PLEN.  SENT is 0, or the errno that ended
 * the sending of the request, reported if no answer comes either.  -1,
 * with what went wrong in WHY (WHYLEN bytes), if no answer comes whole.
 */
static int
read_answer(int fd, int sent, struct buf *out, int *code, size_t *plen,
    char *why, size_t whylen)
{
	int	hlen = 0;
	ssize_t n;

	for (;;) {
		if (hlen == 0 && (hlen = answer_head(out, code, plen)) == -1) {
			snprintf(why, whylen, "not a bgserviced answer");
			return -1;
		}
		if (hlen > 0 &&
		    (out->data[0] != FRAME_MARK ||
			out->len >= (size_t)hlen + *plen))
			return hlen;
		wait_fd(fd, POLLIN);
		if ((n = buf_read(out, fd, 0)) == -1 &&
		    (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0 && sent != 0)
			snprintf(why, whylen, "write: %s", strerror(sent));
		else if (n == -1)
			snprintf(why, whylen, "read: %s", strerror(errno));
		else if (n == 0)
			snprintf(why, whylen,
			    "connection closed before the answer was complete");
		if (n <= 0)
			return -1;
	}
}

/*
 * The framed header of a request for VERB (dial_request_try()) into HDR
 * (SIZE bytes): its length.  Exits with a usage error if the request
 * cannot be written: a word that is not one (a space or a line end
 * would begin another request), or arguments too long.
 */
int
dial_header(char *hdr, size_t size, enum proto_verb verb, const char *arg,
    const char *token, const struct job_opts *opts, size_t len)
{
	int hlen;

	if ((hlen = proto_frame_request_opts(hdr, size, verb, arg, len, token,
		 opts)) == -1)
		errx(EXIT_USAGE,
		    errno == EINVAL ?
			"%s: a service, job id, token or key holds a space "
			"or a control character" :
			"%s: arguments too long",
		    proto_verb_name(verb));
	return hlen;
}

/*
 * Send one framed request on FD, connected to WHERE, with the job options
 * OPTS and presenting TOKEN (each NULL: none), and read its framed answer
 * into OUT; close FD.  Returns the answer's code, or -1 with what went
 * wrong in WHY (WHYLEN bytes) if no answer came whole: a host that is no
 * bgserviced, or one that broke the connection.  A daemon that stops
 * reading the request (a 413 before the payload) is still heard out.
 */
int
dial_request_try(int fd, const char *where, enum proto_verb verb,
    const char *arg, const char *token, const struct job_opts *opts,
    const char *data, size_t len, struct buf *out, char *why, size_t whylen)
{
	char   hdr[FRAME_HEADER_MAX], what[256];
	int    hlen, code = 0, sent = 0;
	size_t plen = 0;

	hlen = dial_header(hdr, sizeof(hdr), verb, arg, token, opts, len);
	if (send_all(fd, hdr, hlen) == -1 || send_all(fd, data, len) == -1)
		sent = errno;
	else
		(void)shutdown(fd, SHUT_WR);
	hlen = read_answer(fd, sent, out, &code, &plen, what, sizeof(what));
	close(fd);
	if (hlen == -1) {
		snprintf(why, whylen, "%s: %s", where, what);
		return -1;
	}
	buf_consume(out, hlen);
	out->len = plen;
	return code;
}

/* The same, exiting (111) when no answer came whole. */
int
dial_request(int fd, const char *where, enum proto_verb verb, const char *arg,
    const char *token, const struct job_opts *opts, const char *data,
    size_t len, struct buf *out)
{
	char why[512];
	int  code;

	if ((code = dial_request_try(fd, where, verb, arg, token, opts, data,
		 len, out, why, sizeof(why))) == -1)
		errx(EXIT_TEMP, "%s", why);
	return code;
}
