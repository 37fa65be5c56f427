/*
 * conn.c: one stream connection, served in a child of its own.
 *
 * Reading finds the end of a request as SPEC 2.1 says: end-of-file, a
 * request complete by its grammar, or, in the original form only, a
 * silence whose length reqend.c works out per connection, request_idle_ms
 * at the most; request_timeout and max_request bound it (408, 413).  A framed request is exact and the connection then waits for
 * the next one; an original-form request is answered and the connection
 * closed.  Each verb has its handler (the job verbs' are connjob.c's).
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "conn.h"
#include "connpriv.h"
#include "log.h"
#include "proto.h"
#include "reqend.h"
#include "service.h"
#include "sig.h"
#include "spool.h"
#include "stats.h"
#include "util.h"

#define DRAIN_MS  1000 /* after an error, see conn_drain() */
#define DRAIN_MAX (4 * 1048576)

/* What the reading ended with. */
enum read_end {
	READ_REQUEST, /* a request is in the buffer */
	READ_CLOSED,  /* the caller left with nothing pending */
	READ_TIMEOUT, /* 408 */
	READ_TOOBIG,  /* 413 */
	READ_ERROR,   /* the connection broke */
};

static int  conn_cut(struct conn *, size_t);
static void handle_helo(struct conn *, const struct request *);
static void handle_call(struct conn *, const struct request *);
static void handle_send(struct conn *, const struct request *);
static void handle_stats(struct conn *, const struct request *);
static void handle_node(struct conn *, const struct request *);

static const struct {
	enum proto_verb verb;
	void (*fn)(struct conn *, const struct request *);
} handlers[] = {
	{ VERB_HELO, handle_helo },
	{ VERB_HELLO, handle_helo },
	{ VERB_CALL, handle_call },
	{ VERB_SEND, handle_send },
	{ VERB_QADD, connjob_add },
	{ VERB_QCHECK, connjob_check },
	{ VERB_QGET, connjob_get },
	{ VERB_QINFO, connjob_info },
	{ VERB_QCANCEL, connjob_cancel },
	{ VERB_QLIST, connjob_list },
	{ VERB_QRETRY, connjob_retry },
	{ VERB_STATS, handle_stats },
	{ VERB_NODE, handle_node },
};

/* Tell the master the caller's connection is over, once (conn.h). */
static void
conn_tell(struct conn *c)
{
	if (c->answered != NULL)
		c->answered();
	c->answered = NULL;
}

/*
 * Before a framed answer: tell it if this answers the caller's last
 * request (nothing more has come, and the caller has shut down its side).
 */
static void
conn_tell_framed(struct conn *c)
{
	char b;

	if (c->answered != NULL && c->in.len <= c->reqlen &&
	    (c->eof || recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0))
		conn_tell(c);
}

/* Write an answer; a caller that does not read is cut off by SNDTIMEO. */
static void
conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->framed)
		conn_tell_framed(c);
	if (write_all(c->fd, data, len) == -1 && errno != EPIPE &&
	    errno != ECONNRESET)
		log_warn("%s: write", c->who);
}

/* The answer to a request: the bytes as they are, or framed. */
void
conn_answer(struct conn *c, const struct request *req, int code,
    const char *data, size_t len)
{
	char   hdr[64];
	size_t hlen;

	if (req->framed) {
		hlen = proto_frame_header(hdr, sizeof(hdr), code, len);
		conn_write(c, hdr, hlen);
	}
	if (len > 0)
		conn_write(c, data, len);
}

/* An error with a code and text of a service's run or a job's result. */
void
conn_fail(struct conn *c, int framed, int code, const char *text)
{
	char   msg[512];
	size_t len;

	if (code >= 400 && code < 500)
		STATS_INC(bad_requests);
	len = proto_error_text(msg, sizeof(msg), framed, code, text);
	conn_write(c, msg, len);
}

/* One of the daemon's own errors. */
void
conn_error(struct conn *c, int framed, enum proto_err e)
{
	conn_fail(c, framed, proto_err_code(e), proto_err_text(e));
}

/*
 * The answer OUT, filled by a call that FAILED or not; E if it failed.
 * OUT is freed.
 */
void
conn_answer_buf(struct conn *c, const struct request *req, int failed,
    struct buf *out, enum proto_err e)
{
	if (failed)
		conn_error(c, req->framed, e);
	else
		conn_answer(c, req, PROTO_DONE, out->data, out->len);
	buf_free(out);
}

static void
handle_helo(struct conn *c, const struct request *req)
{
	const char *ans = proto_helo_answer(req->verb);

	conn_answer(c, req, PROTO_DONE, ans, strlen(ans));
}

/* The node this daemon tags its job ids with: "" for none. */
static void
handle_node(struct conn *c, const struct request *req)
{
	conn_answer(c, req, PROTO_DONE, c->conf->node, strlen(c->conf->node));
}

/*
 * An original-form request of which more arrived after its end was
 * decided is answered 400 rather than run, or answered, on part of its
 * data.
 */
int
conn_refuse_cut(struct conn *c, const struct request *req)
{
	if (req->framed || !conn_cut(c, reqend_late(&c->end)))
		return 0;
	conn_error(c, 0, ERR_CUT);
	return 1;
}

/* A use of the service REQ names, by C's caller. */
void
conn_call_init(struct service_call *call, struct conn *c,
    const struct request *req)
{
	memset(call, 0, sizeof(*call));
	call->verb = proto_verb_name(req->verb);
	call->name = req->service;
	call->who = c->who;
	call->peer = c->peer;
	call->data = req->data;
	call->len = req->datalen;
	call->token = req->token[0] != '\0' ? req->token : NULL;
}

/* Answer a caller refused for WHY (CALL: when to retry, if it says). */
static void
conn_refuse(struct conn *c, const struct request *req, enum admit why,
    const struct service_call *call)
{
	char   msg[256];
	size_t len;

	if (why != ADMIT_RATE || call == NULL) {
		conn_error(c, req->framed, service_refusal(why));
		return;
	}
	STATS_INC(bad_requests);
	len = proto_error_retry(msg, sizeof(msg), req->framed,
	    service_refusal(why), call->retry);
	conn_write(c, msg, len);
}

/* Whether CALL's caller may use the service; else answer why not. */
int
conn_admitted(struct conn *c, const struct request *req,
    struct service_call *call)
{
	enum admit why;

	if ((why = service_admit(c->conf, call)) == ADMIT_OK)
		return 1;
	conn_refuse(c, req, why, call);
	return 0;
}

/* A send is accepted (202) once an instance is held. */
static int
send_accepted(struct service_call *call)
{
	struct conn *c = call->arg;
	char	     hdr[64];
	size_t	     len;

	len = proto_frame_header(hdr, sizeof(hdr), PROTO_ACCEPTED, 0);
	conn_write(c, hdr, len);
	return 0;
}

/* Framed "send": accepted at once (202), then run; the output is dropped. */
static void
handle_send(struct conn *c, const struct request *req)
{
	struct service_call call;
	struct run_result   res;

	conn_call_init(&call, c, req);
	call.starting = send_accepted;
	call.arg = c;
	if (!conn_admitted(c, req, &call))
		return;
	if (service_run(c->conf, &call, &res) != RUN_DONE) {
		conn_refuse(c, req, ADMIT_BUSY, NULL);
		return;
	}
	child_result_free(&res);
}

static void
handle_call(struct conn *c, const struct request *req)
{
	struct service_call call;
	struct run_result   res;

	conn_call_init(&call, c, req);
	if (conn_refuse_cut(c, req) || !conn_admitted(c, req, &call))
		return;
	if (service_run(c->conf, &call, &res) != RUN_DONE) {
		conn_refuse(c, req, ADMIT_BUSY, NULL);
		return;
	}
	if (conn_refuse_cut(c, req)) {
		/* It ran on part of its data: never answered as a success. */
	} else if (call.code == PROTO_DONE)
		conn_answer(c, req, PROTO_DONE, res.out.data, res.out.len);
	else
		conn_fail(c, req->framed, call.code, call.why);
	child_result_free(&res);
}

static void
handle_stats(struct conn *c, const struct request *req)
{
	struct buf out = { 0 };

	conn_answer_buf(c, req, stats_format(&out, spool_count_done()) == -1,
	    &out, ERR_NO_STATS);
}

/*
 * How long to wait for more of the request: until DEADLINE, or less when
 * an original-form request may end by silence (see reqend.c); 0 when the
 * silence has already ended it.
 */
static int
read_wait(struct conn *c, int original, long long deadline,
    struct timespec *ts)
{
	long long us = (long long)ms_until(deadline) * 1000, left;

	if (original) {
		if ((left = reqend_left_us(&c->end)) <= 0)
			return 0;
		if (left < us)
			us = left;
	}
	ts->tv_sec = us / 1000000;
	ts->tv_nsec = (us % 1000000) * 1000;
	return 1;
}

/*
 * Read until a request is complete.  *REQLEN tells how many bytes of the
 * buffer belong to it.
 */
static enum read_end
conn_read(struct conn *c, size_t *reqlen)
{
	const struct limits *l = &c->conf->limits;
	long long	     deadline;
	struct pollfd	     pfd;
	struct timespec	     ts;
	ssize_t		     n;
	int		     original;

	deadline = now_ms() + (long long)l->request_timeout * 1000;
	for (;;) {
		enum proto_scan scan =
		    proto_scan(c->in.data, c->in.len, reqlen);

		/* A framed request may state its size before sending it. */
		original = c->in.len > 0 && c->in.data[0] != FRAME_MARK;
		if ((original && c->in.len > l->max_request) ||
		    (!original && *reqlen > l->max_request + FRAME_HEADER_MAX))
			return READ_TOOBIG;
		if (scan == SCAN_COMPLETE)
			return READ_REQUEST;
		if (c->eof) {
			*reqlen = c->in.len;
			return c->in.len == 0 ? READ_CLOSED : READ_REQUEST;
		}
		if (now_ms() >= deadline)
			/* An idle framed connection just ends. */
			return c->in.len == 0 && c->served > 0 ? READ_CLOSED :
								 READ_TIMEOUT;
		if (!read_wait(c, original, deadline, &ts)) {
			*reqlen = c->in.len;
			c->by_silence = 1;
			return READ_REQUEST;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		if (ppoll(&pfd, 1, &ts, &sig_waitmask) == -1 && errno != EINTR)
			return READ_ERROR;
		if (sig_term)
			return READ_ERROR;
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((n = buf_read(&c->in, c->fd, 0)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ENOMEM ? READ_TOOBIG : READ_ERROR;
		}
		if (n == 0)
			c->eof = 1;
		else
			reqend_arrived(&c->end, (size_t)n);
	}
}

/*
 * Whether an original-form request that ended by silence was cut: LATE
 * more bytes of it arrived after the end was decided.  Logged and
 * counted once.
 */
static int
conn_cut(struct conn *c, size_t late)
{
	if (!c->by_silence || c->cut || late == 0)
		return c->cut;
	c->cut = 1;
	STATS_INC(requests_cut);
	log_warnx(
	    "%s: request cut: %zu more bytes arrived after %zu bytes "
	    "and %lld ms of silence; the caller should shut down its side "
	    "or use the framed form",
	    c->who, late, c->end.bytes, reqend_quiet_us(&c->end) / 1000);
	return 1;
}

/*
 * After an error the caller may still be sending: read and drop what
 * comes for a moment, so that closing does not reset the connection
 * before the caller has read the error line.
 */
static size_t
conn_drain(struct conn *c)
{
	return c->eof ? 0 : net_drain(c->fd, DRAIN_MS, DRAIN_MAX);
}

static void
dispatch(struct conn *c, const struct request *req)
{
	size_t i;

	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].verb == req->verb) {
			handlers[i].fn(c, req);
			return;
		}
	log_warnx("%s: no handler for %s", c->who, proto_verb_name(req->verb));
	conn_error(c, req->framed, ERR_INTERNAL);
}

static void
conn_init(struct conn *c, int fd, const struct config *conf,
    const struct peer *peer, void (*answered)(void))
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->answered = answered;
	c->conf = conf;
	c->peer = peer;
	if (peer->ip[0] != '\0')
		snprintf(c->who, sizeof(c->who), "%s %s:%s", peer->transport,
		    peer->ip, peer->port);
	else
		snprintf(c->who, sizeof(c->who), "%s", peer->transport);
	reqend_init(&c->end, fd,
	    strcmp(peer->transport, "tcp") == 0 &&
		!conf->limits.request_idle_fixed,
	    conf->limits.request_idle_ms);
}

/* Whether reading ended with a request; else answer what it ended with. */
static int
read_ended(struct conn *c, enum read_end how)
{
	int framed = c->in.len > 0 && c->in.data[0] == FRAME_MARK;

	switch (how) {
	case READ_REQUEST:
		return 1;
	case READ_TIMEOUT:
		STATS_INC(request_timeouts);
		refuse_log(REFUSE_TIMEOUT, "%s: request timed out", c->who);
		conn_error(c, framed, ERR_TIMEOUT);
		return 0;
	case READ_TOOBIG:
		STATS_INC(request_too_large);
		refuse_log(REFUSE_TOO_LARGE, "%s: request too large", c->who);
		conn_error(c, framed, ERR_TOO_LARGE);
		return 0;
	default: /* closed, or broken */
		return 0;
	}
}

/*
 * Serve the connection FD until it is done.  Runs in a child of its own,
 * which exits afterwards, or in a connection worker (pool.c).
 */
void
conn_serve(int fd, const struct config *conf, const struct peer *peer,
    void (*answered)(void))
{
	struct conn    c;
	struct request req;
	struct timeval tv;
	enum proto_err e;
	size_t	       reqlen;

	conn_init(&c, fd, conf, peer, answered);
	tv.tv_sec = conf->limits.request_timeout;
	tv.tv_usec = 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setproctitle("reading from %s", c.who);

	for (;;) {
		if (!read_ended(&c, conn_read(&c, &reqlen)))
			goto out;
		STATS_INC(requests);
		if ((e = proto_parse(c.in.data, reqlen, &req)) != ERR_NONE) {
			log_info("%s: bad request: %s", c.who,
			    proto_err_text(e));
			conn_error(&c, req.framed, e);
			goto out;
		}
		c.reqlen = req.length;
		c.framed = req.framed;
		dispatch(&c, &req);
		if (!req.framed)
			break;
		c.served++;
		buf_consume(&c.in, req.length);
	}
	conn_tell(&c);
	(void)shutdown(fd, SHUT_WR);
	/* The caller reads to our end, then closes: anything else was cut. */
	if (c.by_silence)
		(void)conn_cut(&c, conn_drain(&c));
	buf_free(&c.in);
	return;
out:
	conn_tell(&c);
	(void)shutdown(fd, SHUT_WR);
	(void)conn_drain(&c);
	buf_free(&c.in);
}
