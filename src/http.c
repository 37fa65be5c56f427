/*
 * http.c: the metrics block's listener (opened into the master's list of
 * listeners by http_open()) and a connection to it, served in a child of
 * its own like any other connection.
 *
 * Just enough HTTP/1.0 and HTTP/1.1 for a scraper: one request whose line
 * and headers fit in HTTP_HEAD_MAX bytes and arrive within
 * request_timeout, answered and the connection closed (a body the caller
 * sends is read and dropped, never used).  GET and HEAD of /metrics get
 * the statistics in Prometheus' text exposition format, of / the status
 * page and of /jobs/ID a job's page (both made by page.c, read-only);
 * another path is 404, another method 405, anything that is not a
 * request line 400.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "page.h"
#include "proto.h"
#include "sig.h"
#include "spool.h"
#include "stats.h"
#include "util.h"

#define HTTP_DRAIN_MS  1000 /* reading what the caller still sends */
#define HTTP_DRAIN_MAX 65536
#define HTTP_TYPE      "text/plain; version=0.0.4; charset=utf-8"
#define HTTP_HTML      "text/html; charset=utf-8"
/* The pages load nothing and run nothing; see page.c. */
#define HTTP_HTML_HEADERS \
	"Cache-Control: no-store\r\n" \
	"Content-Security-Policy: default-src 'none'; " \
	"style-src 'unsafe-inline'; form-action 'none'; " \
	"frame-ancestors 'none'\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Referrer-Policy: no-referrer\r\n"
#define TCHARS \
	"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
	"abcdefghijklmnopqrstuvwxyz"

static const struct {
	int	    code;
	const char *reason;
} reasons[] = {
	{ 200, "OK" },
	{ 400, "Bad Request" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 505, "HTTP Version Not Supported" },
};

static const char *
reason(int code)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].reason;
	return "Error";
}

/*
 * The metrics block's listener, added to LS at *N: the one of OLD if its
 * address and port are the same, else a new TCP socket.  Its key
 * is its own ("http:..."), so that a socket never passes between the
 * metrics block and a listen entry on a reload.
 */
int
http_open(const struct config *conf, struct listener *old, size_t nold,
    struct listener *ls, size_t *n)
{
	struct listen_conf lc;
	struct listener	   tmp[2];
	char		   key[160], *p;
	size_t		   j;
	int		   got;

	if (conf->metrics.address == NULL)
		return 0;
	memset(&lc, 0, sizeof(lc));
	lc.address = conf->metrics.address;
	lc.port = conf->metrics.port;
	lc.tcp = 1;
	strlcpy(key, "http:", sizeof(key));
	net_listen_key(&lc, SOCK_STREAM, key + 5, sizeof(key) - 5);
	for (j = 0; j < nold; j++)
		if (!old[j].keep && strcmp(old[j].key, key) == 0) {
			old[j].keep = 1;
			tmp[0] = old[j];
			break;
		}
	if (j == nold && net_listen(&lc, tmp, &got) == -1) {
		log_warn("%s:%d: cannot listen on %s port %d/tcp for metrics",
		    conf->file, conf->metrics.line, lc.address, lc.port);
		return -1;
	}
	if (j == nold) {
		strlcpy(tmp[0].key, key, sizeof(tmp[0].key));
		if ((p = strrchr(tmp[0].name, '/')) != NULL)
			strlcpy(p, "/http",
			    sizeof(tmp[0].name) - (p - tmp[0].name));
	}
	tmp[0].http = 1;
	tmp[0].conf = 0;
	ls[(*n)++] = tmp[0];
	return 0;
}

/* Where the headers of BUF end (after the empty line), or 0. */
size_t
http_head_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* LINE (LEN bytes) is made of printable ASCII, spaces and tabs only. */
static int
printable(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((line[i] < ' ' && line[i] != '\t') || line[i] == 0x7f)
			return 0;
	return 1;
}

/* How many of the LEN bytes at P, from the first, are token characters. */
static size_t
token_len(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len && p[i] != '\0' && strchr(TCHARS, p[i]) != NULL;
	     i++)
		;
	return i;
}

/* "HTTP/1.1": 1 for 1.0 and 1.1, 0 for another version, -1 if none. */
static int
version_ok(const char *v, size_t len)
{
	if (len != 8 || strncmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return -1;
	return v[5] == '1' && (v[7] == '0' || v[7] == '1');
}

/*
 * Which route the target T (LEN bytes, a query ignored) names, with the
 * job's id in R for HTTP_JOB; HTTP_NONE if none.
 */
static enum http_route
route(const char *t, size_t len, struct http_request *r)
{
	const char *q;
	size_t	    n = strlen(HTTP_JOBS);

	if ((q = memchr(t, '?', len)) != NULL)
		len = q - t;
	if (len == strlen(HTTP_PATH) && strncmp(t, HTTP_PATH, len) == 0)
		return HTTP_METRICS;
	if (len == 1 && t[0] == '/')
		return HTTP_PAGE;
	if (len <= n || len - n > JOB_ID_MAX ||
	    strncmp(t, HTTP_JOBS, n) != 0 || !proto_valid_id(t + n, len - n))
		return HTTP_NONE;
	memcpy(r->job, t + n, len - n);
	r->job[len - n] = '\0';
	return HTTP_JOB;
}

/* "Name: value", a header line (LEN bytes, no newline)? */
static int
header_ok(const char *p, size_t len)
{
	const char *colon;

	if (!printable(p, len) || (colon = memchr(p, ':', len)) == NULL)
		return 0;
	return colon > p && token_len(p, len) == (size_t)(colon - p);
}

/* The status the request line LINE (LEN bytes, no newline) asks for. */
static void
parse_line(const char *line, size_t len, struct http_request *r)
{
	const char *sp1, *sp2, *target;
	size_t	    mlen, tlen;
	int	    v;

	r->code = 400;
	if (!printable(line, len) || (sp1 = memchr(line, ' ', len)) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', len - (sp1 + 1 - line))) == NULL)
		return;
	mlen = sp1 - line;
	target = sp1 + 1;
	tlen = sp2 - target;
	if (mlen == 0 || token_len(line, len) != mlen || tlen == 0 ||
	    memchr(target, '\t', tlen) != NULL || target[0] == ' ' ||
	    (v = version_ok(sp2 + 1, len - (sp2 + 1 - line))) == -1)
		return;
	if (v == 0)
		r->code = 505;
	else if ((r->route = route(target, tlen, r)) == HTTP_NONE)
		r->code = 404;
	else if (mlen == 3 && strncmp(line, "GET", 3) == 0)
		r->code = 200;
	else if (mlen == 4 && strncmp(line, "HEAD", 4) == 0) {
		r->code = 200;
		r->head = 1;
	} else
		r->code = 405;
}

/*
 * What the request head BUF (LEN bytes, up to and with its empty line)
 * asks for.  Header lines must look like "Name: value"; their values do
 * not matter here.
 */
void
http_parse(const char *buf, size_t len, struct http_request *r)
{
	const char *p = buf, *end = buf + len, *nl;
	size_t	    l;
	int	    first = 1;

	memset(r, 0, sizeof(*r));
	r->code = 400;
	while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
		l = nl - p;
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (first)
			parse_line(p, l, r);
		else if (l > 0 && !header_ok(p, l)) {
			r->code = 400;
			return;
		}
		if (first && r->code == 400)
			return;
		first = 0;
		p = nl + 1;
	}
}

/*
 * A whole answer with CODE and TEXT as its body, in BUF; its length
 * (0 if BUF is too small).
 */
size_t
http_status(char *buf, size_t size, int code, const char *text)
{
	int n;

	n = snprintf(buf, size,
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n%s\n",
	    code, reason(code), strlen(text) + 1,
	    code == 405 ? "Allow: GET, HEAD\r\n" : "", text);
	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/*
 * Read the request head into IN.  Returns 0 when it is whole, the status
 * to answer when it cannot be (400, 408, 431), -1 when the caller left
 * or we are told to stop.
 */
static int
http_read(int fd, struct buf *in, int timeout)
{
	long long	deadline = now_ms() + (long long)timeout * 1000;
	struct pollfd	pfd;
	struct timespec ts;
	ssize_t		n;

	for (;;) {
		if (http_head_end(in->data, in->len) > 0)
			return 0;
		if (in->len >= HTTP_HEAD_MAX)
			return 431;
		if (now_ms() >= deadline)
			return 408;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((ppoll(&pfd, 1, ms_timespec(&ts, ms_until(deadline)),
			 &sig_waitmask) == -1 &&
			errno != EINTR) ||
		    sig_term)
			return -1;
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = buf_read(in, fd, HTTP_HEAD_MAX + 1 - in->len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			return in->len == 0 ? -1 : 400;
	}
}

static void
http_write(int fd, const char *who, const void *data, size_t len)
{
	if (write_all(fd, data, len) == -1 && errno != EPIPE &&
	    errno != ECONNRESET)
		log_warn("%s: write", who);
}

/* The path of route R, for the log. */
static const char *
route_path(const struct http_request *r)
{
	switch (r->route) {
	case HTTP_METRICS:
		return HTTP_PATH;
	case HTTP_JOB:
		return HTTP_JOBS;
	default:
		return "/";
	}
}

/* 200 and BODY: the statistics, or a page with HTTP_HTML_HEADERS. */
static void
http_ok(int fd, const char *who, const struct http_request *r,
    const struct buf *body)
{
	char head[512];
	int  n;

	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n",
	    r->route == HTTP_METRICS ? HTTP_TYPE : HTTP_HTML, body->len,
	    r->route == HTTP_METRICS ? "" : HTTP_HTML_HEADERS);
	http_write(fd, who, head, n);
	if (!r->head)
		http_write(fd, who, body->data, body->len);
	log_debug("%s: %s %s%s: 200, %zu bytes", who, r->head ? "HEAD" : "GET",
	    route_path(r), r->route == HTTP_JOB ? r->job : "", body->len);
}

/* An answer with CODE and TEXT, logged. */
static void
http_error(int fd, const char *who, int code, const char *text)
{
	char ans[512];

	log_info("%s: answered %d %s", who, code, reason(code));
	http_write(fd, who, ans, http_status(ans, sizeof(ans), code, text));
}

/*
 * Answer R, a request to answer 200: the statistics (500 if there are
 * none), the status page, or a job's page (404 if there is no such job).
 */
static void
http_answer(int fd, const char *who, const struct config *conf,
    const struct http_request *r)
{
	struct buf out = { 0 };
	int	   rc;

	errno = 0;
	if (r->route == HTTP_METRICS)
		rc = stats_format(&out, spool_count_done());
	else if (r->route == HTTP_PAGE)
		rc = page_status(&out, conf);
	else
		rc = page_job(&out, conf, r->job);
	if (rc == 0)
		http_ok(fd, who, r, &out);
	else if (r->route == HTTP_JOB && errno == ENOENT)
		http_error(fd, who, 404, reason(404));
	else if (r->route == HTTP_METRICS) {
		log_warnx("%s: no statistics to answer", who);
		http_error(fd, who, proto_err_code(ERR_NO_STATS),
		    proto_err_text(ERR_NO_STATS));
	} else {
		log_warn("%s: cannot make the page of %s", who, route_path(r));
		http_error(fd, who, 500, reason(500));
	}
	buf_free(&out);
}

/*
 * Serve the metrics connection FD: one request, one answer.  Runs in a
 * child of its own, which exits afterwards.
 */
void
http_serve(int fd, const struct config *conf, const struct peer *peer,
    void (*answered)(void))
{
	struct http_request req = { 0, 0, HTTP_NONE, "" };
	struct buf	    in = { 0 };
	struct timeval	    tv;
	char		    who[96];
	int		    r;

	snprintf(who, sizeof(who), "http %s:%s", peer->ip, peer->port);
	tv.tv_sec = conf->limits.request_timeout;
	tv.tv_usec = 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setproctitle("metrics for %s", who);
	if ((r = http_read(fd, &in, conf->limits.request_timeout)) == 0)
		http_parse(in.data, http_head_end(in.data, in.len), &req);
	else
		req.code = r;
	if (req.code == 200)
		http_answer(fd, who, conf, &req);
	else if (req.code > 0)
		http_error(fd, who, req.code, reason(req.code));
	if (answered != NULL)
		answered(); /* as conn_serve() does: conn.h */
	(void)shutdown(fd, SHUT_WR);
	(void)net_drain(fd, HTTP_DRAIN_MS, HTTP_DRAIN_MAX);
	buf_free(&in);
}
