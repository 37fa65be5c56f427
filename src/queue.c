/*
 * queue.c: the job verbs, in a connection child (see queue.h).
 *
 * A child publishes a job in the spool, then tells the master its id on
 * the spool's FIFO; the id is answered only once the note is written.
 * A child waiting for a job tells the master its pid on the same FIFO
 * and sleeps until the master wakes it (SIGUSR2): no process polls, and
 * waiting costs no descriptor.  It also sleeps on its caller's socket
 * for a hang-up only (no event asked, so that neither a request sent
 * meanwhile nor a caller that shut down only its sending side, as
 * nc -N does, wakes it): a caller that has gone ends the wait.  On TCP a
 * caller that closed is told from one that half-closed only by the
 * reset its kernel answers once its socket is gone, so the wait turns
 * keepalive probes on (WAIT_KEEPIDLE).  The master's side is sched.c.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "queue.h"
#include "rate.h"
#include "sig.h"
#include "stats.h"

/* Keepalive while a caller waits: probes after 30 s idle, 3 at 10 s. */
#define WAIT_KEEPIDLE  30
#define WAIT_KEEPINTVL 10
#define WAIT_KEEPCNT   3

static pid_t master_pid; /* the master's pid */

/*
 * In any child of MASTER.  The queue is left alone: a child never reads
 * it and leaves with _exit(2), and freeing it would cost every fork time
 * and copied pages in proportion to the queue's length.  The FIFO stays
 * open: the child writes to it, and holding it keeps what it wrote there
 * for the next master should this one die.
 */
void
queue_child(pid_t master)
{
	master_pid = master;
}

/*
 * In a child: write a note of KIND about job ID to the master.  When the
 * FIFO is full, wait for room while a master holds the spool.  Returns 0
 * once written, 1 when no daemon holds the spool (no master is there to
 * read it: the next one will scan the spool), -1 on error.
 */
static int
notify_send(int kind, const char *id, const char *arg, uint64_t src, int prio,
    long long due_ms)
{
	char		note[NOTE_LEN];
	struct pollfd	pfd;
	struct timespec ts;
	ssize_t		n;

	memset(note, 0, sizeof(note));
	note[0] = kind;
	memcpy(note + 1, id, strnlen(id, JOB_ID_MAX));
	strlcpy(note + NOTE_ARG, arg, SERVICE_NAME_MAX + 1);
	snprintf(note + NOTE_SRC, 17, "%016llx", (unsigned long long)src);
	snprintf(note + NOTE_PRIO, 12, "%d", prio);
	snprintf(note + NOTE_DUE, 17, "%016llx", (unsigned long long)due_ms);
	note[NOTE_LEN - 1] = '\n';
	for (;;) {
		if ((n = write(spool_notify_fd(), note, sizeof(note))) ==
		    (ssize_t)sizeof(note))
			return 0;
		if (n >= 0)
			errno = EIO; /* never: notes are written whole */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		if (!spool_locked() || sig_term)
			return 1; /* the next master's scan finds it */
		pfd.fd = spool_notify_fd();
		pfd.events = POLLOUT;
		pfd.revents = 0;
		(void)ppoll(&pfd, 1, ms_timespec(&ts, 1000), &sig_waitmask);
	}
}

/*
 * Whose key O's is (nobody's when it has none): the token presented
 * (TOKEN, NULL or "" for none), else the caller's source as quotas count
 * it (an IPv4 address, an IPv6 /64, a UNIX user: rate_source_name()),
 * hashed, so that nobody gets the id, nor the result, of another's keyed
 * job by naming its key.  Callers that share a token share its keys.
 */
void
queue_key_scope(struct job_opts *o, const char *token, const struct peer *peer)
{
	crypto_generichash_state st;
	unsigned char		 h[JOB_KEY_SCOPE_MAX / 2], src[16];
	const unsigned char	*who = src;
	const char		*kind = "source";
	size_t			 len;

	o->keyscope[0] = '\0';
	if (o->key[0] == '\0')
		return;
	if (token != NULL && token[0] != '\0') {
		kind = "token";
		who = (const unsigned char *)token;
		len = strlen(token);
	} else
		len = rate_source_name(peer, src);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)kind,
	    strlen(kind) + 1);
	crypto_generichash_update(&st, who, len);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(o->keyscope, sizeof(o->keyscope), h, sizeof(h));
}

/* Is O's key (in its scope) a job of SERVICE's?  1, its id in ID. */
int
queue_key_known(const char *service, const struct job_opts *o, char *id)
{
	return o->key[0] != '\0' &&
	    spool_key_find(service, o->keyscope, o->key, id) == 0;
}

/*
 * Queue a job of SV (its caller admitted) with the options OPTS, its id
 * tagged with NODE ("": none), and tell the master; or, when a job of SV
 * has OPTS's key, answer that job's id instead (spool_add()).  The id
 * is answered only once the note is in the FIFO, where this master or,
 * if it dies first, the next one reads it, or when no master holds the
 * spool, so that the next one finds the job when it scans the spool.
 * Returns 0 with the job's id in ID, or -1 (logged).
 */
int
queue_add(const struct service *sv, const char *node, const struct peer *peer,
    const struct job_opts *opts, const char *data, size_t len, char *id)
{
	struct job_opts o = *opts;
	int		r;

	if (!o.has_priority)
		o.priority = sv->priority;
	o.has_priority = 1;
	o.due_ms = o.at > 0 ? o.at * 1000 :
	    o.delay > 0	    ? wall_ms() + o.delay * 1000 :
			      0;
	if ((r = spool_add(sv->name, node, peer, &o, data, len, id)) == -1) {
		log_warn("queue: cannot spool a job");
		return -1;
	}
	if (r == 1) {
		log_info("job %s: has the key %s: no new job", id, o.key);
		return 0;
	}
	switch (notify_send(o.nafter > 0 ? NOTE_AFTER : NOTE_ADD, id, sv->name,
	    rate_source(peer), o.priority, o.due_ms)) {
	case -1:
		log_warn("queue: cannot notify the master of job %s", id);
		(void)spool_remove(id);
		return -1;
	case 1:
		log_info("job %s: no master now, the next one will run it",
		    id);
		break;
	}
	STATS_INC(jobs_added);
	return 0;
}

/*
 * Probe the caller on FD while it waits: a TCP caller whose socket is
 * gone then answers with a reset (see the top).  On a UNIX socket the
 * TCP options fail, and nothing is needed: a close is a hang-up there.
 */
static void
wait_keepalive(int fd)
{
	int on = 1, idle = WAIT_KEEPIDLE, intvl = WAIT_KEEPINTVL;
	int cnt = WAIT_KEEPCNT;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == -1)
		return;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Sleep until woken, stopped, or the caller on FD hangs up: 1 then. */
static int
wait_sleep(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = 0 };

	while (!sig_wake && !sig_term) {
		if (ppoll(&pfd, 1, NULL, &sig_waitmask) > 0 &&
		    (pfd.revents & (POLLHUP | POLLERR)))
			return 1;
	}
	return 0;
}

/*
 * Wait until job ID is done: ask the master to wake us, then look, then
 * sleep until woken; no process polls.  WAIT_STOPPING when the daemon
 * stops or the master died (no one is left to wake us), WAIT_LEFT when
 * the caller on FD hangs up first.
 */
enum queue_wait
queue_wait_done(const char *id, int fd)
{
	enum queue_wait w;
	enum job_state	st;
	char		me[24];
	int		sent;

	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1) {
		log_warn("queue: prctl");
		return WAIT_FAILED;
	}
	if (getppid() != master_pid)
		return WAIT_STOPPING; /* it died before the line above */
	wait_keepalive(fd);
	snprintf(me, sizeof(me), "%ld", (long)getpid());
	for (;;) {
		sig_wake = 0;
		/* Ask first, then look: no end can slip in between. */
		if ((sent = notify_send(NOTE_WAIT, id, me, 0, 0, 0)) != 0) {
			if (sent == -1)
				log_warn("queue: cannot notify the master");
			w = sent == 1 ? WAIT_STOPPING : WAIT_FAILED;
			break;
		}
		if ((st = spool_state(id)) != JOB_QUEUED &&
		    st != JOB_RUNNING) {
			w = st == JOB_DONE ? WAIT_DONE : WAIT_GONE;
			break;
		}
		if (wait_sleep(fd)) {
			w = WAIT_LEFT;
			break;
		}
		if (sig_term) {
			w = WAIT_STOPPING;
			break;
		}
	}
	(void)prctl(PR_SET_PDEATHSIG, 0);
	return w;
}

/* Job ID's state: queued, running, done, or none. */
enum job_state
queue_state(const char *id)
{
	return spool_state(id);
}

/* Job ID's result, once it is done: 0, or -1. */
int
queue_result(const char *id, struct job_result *res)
{
	return spool_load_result(id, res);
}

/* The jobs in the spool, one line each. */
int
queue_list(struct buf *out)
{
	return spool_list(out);
}

/*
 * Job ID's attempts made and allowed: those its .try says, else none of
 * as many as its service now allows.
 */
static void
info_attempts(const struct config *conf, const char *id, const char *service,
    struct proto_info *in)
{
	const struct service *sv = config_service(conf, service);
	struct job_try	      t;

	if (spool_load_try(id, &t) == -1)
		memset(&t, 0, sizeof(t));
	in->attempts = t.attempts;
	in->attempts_max = t.max > 0 ? t.max :
	    sv != NULL		     ? 1 + sv->retries :
				       1;
}

/* The jobs REQ waits for, "ID,ID", in BUF. */
static const char *
after_list(char *buf, size_t size, const struct job_req *req)
{
	size_t len = 0;
	int    i;

	buf[0] = '\0';
	for (i = 0; i < req->nafter && len < size; i++)
		len += snprintf(buf + len, size - len, "%s%s",
		    i > 0 ? "," : "", req->after[i]);
	return buf;
}

/* queue:info about job ID, formatted by protoanswer.c.  Returns 0, or -1. */
int
queue_info(const struct config *conf, const char *id, struct buf *out)
{
	struct proto_info in;
	struct job_req	  req;
	struct job_result res;
	enum job_state	  st;
	char		  text[PROTO_INFO_MAX];
	char		  after[JOB_AFTER_MAX * (JOB_ID_MAX + 1)];
	int		  r;

	if ((st = spool_state(id)) == JOB_NONE ||
	    spool_load_req(id, &req) == -1)
		return -1;
	memset(&in, 0, sizeof(in));
	in.id = id;
	in.service = req.service;
	in.state = st;
	in.submitted = req.submitted;
	info_attempts(conf, id, req.service, &in);
	in.key = req.key;
	in.after = after_list(after, sizeof(after), &req);
	if (st == JOB_DONE && spool_load_result(id, &res) == 0) {
		in.has_result = 1;
		in.started = res.started;
		in.ended = res.ended;
		in.ms = res.ms;
		in.how = res.how;
		in.code = res.code;
		in.message = res.message;
		in.output_bytes = res.out.len;
		in.cpu_user_ms = res.cpu_user_ms;
		in.cpu_sys_ms = res.cpu_sys_ms;
		in.max_rss_kib = res.max_rss_kib;
		if (proto_code_failed(res.code))
			in.state = JOB_FAILED;
	}
	r = buf_append(out, text, proto_info_format(text, sizeof(text), &in));
	if (in.has_result)
		spool_result_free(&res);
	spool_req_free(&req);
	return r;
}

/*
 * Cancel job ID: publish a "cancelled" result (the first result wins, so
 * a runner cannot overwrite it), then have the master stop its runner if
 * it has one.  Returns ERR_NONE, or the error to answer.
 */
enum proto_err
queue_cancel(const char *id)
{
	switch (spool_state(id)) {
	case JOB_NONE:
		return ERR_NO_JOB;
	case JOB_DONE:
		return ERR_JOB_DONE;
	default:
		break;
	}
	if (spool_cancel_mark(id) == -1)
		return ERR_CANNOT_CANCEL;
	if (spool_finish_now(id, ERR_JOB_CANCELLED, "cancelled") == -1) {
		if (errno == EEXIST)
			return ERR_JOB_DONE;
		log_warn("job %s: cannot publish its result", id);
		return ERR_CANNOT_CANCEL;
	}
	/* The master stops its runner and wakes its waiters. */
	(void)notify_send(NOTE_DONE, id, "", 0, 0, 0);
	return ERR_NONE;
}

/*
 * Queue the failed job ID again, its attempts counted afresh (a dead
 * letter retried by hand), and tell the master.  Returns ERR_NONE, or the
 * error to answer.
 */
enum proto_err
queue_retry(const char *id)
{
	struct job_req req;
	enum job_state st;

	if ((st = spool_state_full(id)) == JOB_NONE ||
	    spool_load_req(id, &req) == -1)
		return ERR_NO_JOB;
	if (st != JOB_FAILED) {
		spool_req_free(&req);
		return ERR_JOB_NOT_FAILED;
	}
	if (spool_retry(id) == -1) {
		log_warn("job %s: cannot queue it again", id);
		spool_req_free(&req);
		return ERR_CANNOT_QUEUE;
	}
	if (notify_send(NOTE_RETRY, id, req.service, 0, req.priority, 0) == -1)
		log_warn("queue: cannot notify the master of job %s", id);
	spool_req_free(&req);
	return ERR_NONE;
}
