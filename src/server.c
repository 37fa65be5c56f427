/*
 * server.c: the master process.
 *
 * It waits in ppoll(2) with its signals unblocked only there, accepts a
 * connection (or receives a datagram, dgram.c) and forks a child to
 * serve it, so that the master does the least possible work between
 * accept and fork; it keeps the count of its children and reaps them.
 * The listeners are net.c's, opened at start and on a reload.
 * At max_connections children it simply stops polling the listeners, as
 * tcpserver does: callers wait in the listen backlog instead of being
 * refused.  What it turns away itself, before forking, turn.c answers;
 * accept.c takes what waits on the listeners.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "net.h"
#include "priv.h"
#include "queue.h"
#include "rate.h"
#include "sched.h"
#include "server.h"
#include "serverpriv.h"
#include "sig.h"
#include "slot.h"
#include "stats.h"
#include "turn.h"

struct server srv;

static void
kid_add(pid_t pid, const struct sockaddr_storage *from)
{
	struct kid *p;

	if (srv.nkids == srv.kidcap) {
		size_t ncap = srv.kidcap ? srv.kidcap * 2 : 64;

		if ((p = reallocarray(srv.kids, ncap, sizeof(*p))) == NULL)
			fatal("reallocarray");
		srv.kids = p;
		srv.kidcap = ncap;
	}
	srv.kids[srv.nkids].pid = pid;
	srv.kids[srv.nkids].ctl = -1;
	srv.kids[srv.nkids].idle = 0;
	if (from != NULL)
		srv.kids[srv.nkids].from = *from;
	else
		srv.kids[srv.nkids].from.ss_family = AF_UNSPEC;
	srv.nkids++;
}

/* Is PID a connection child of ours (waiters are; see sched.c)? */
static int
kid_ours(pid_t pid)
{
	size_t i;

	for (i = 0; i < srv.nkids; i++)
		if (srv.kids[i].pid == pid)
			return 1;
	return 0;
}

/* How many connections from the host of SS are being served? */
int
server_kids_from(const struct sockaddr_storage *ss)
{
	size_t i;
	int    n = 0;

	for (i = 0; i < srv.nkids; i++)
		n += addr_same_host(&srv.kids[i].from, ss);
	return n;
}

/*
 * A connection process writes its pid on this pipe when its answer is
 * complete, before its caller can see the end of it (conn_serve()): from
 * then on it is no longer that caller's connection for max_per_source,
 * though it may run a moment longer (reading what the caller still
 * sends, exiting).  Else a caller that calls again at once could be
 * counted twice, and refused.  Both ends are non-blocking: a pid that
 * finds the pipe full is lost, and its process counted until reaped.
 */
static int answered[2] = { -1, -1 };

/* In a connection process: its answer is complete. */
void
server_answered(void)
{
	pid_t pid = getpid();

	/* Full (EAGAIN), it is lost: this process is counted till reaped. */
	if (write(answered[1], &pid, sizeof(pid)) == -1 && errno != EAGAIN)
		log_warn("write to the master");
}

/* In the master: hear what connection processes have said so far. */
void
server_heard(void)
{
	pid_t	pid[64];
	ssize_t n, i;
	size_t	k;

	while ((n = read(answered[0], pid, sizeof(pid))) > 0)
		for (i = 0; i < n / (ssize_t)sizeof(pid[0]); i++)
			for (k = 0; k < srv.nkids; k++)
				if (srv.kids[k].pid == pid[i]) {
					srv.kids[k].from.ss_family = AF_UNSPEC;
					break;
				}
}

/*
 * The ppoll timeout: the queue's next expiry, the next linger end or
 * the end of a pause in accepting.
 */
static int
loop_timeout(void)
{
	return accept_timeout(turn_timeout(sched_timeout_ms()));
}

static void
kids_reap(void)
{
	pid_t  pid;
	size_t i;
	int    status;

	sig_chld = 0;
	server_heard(); /* what those reaped said: not left for a later pid */
	while ((pid = child_reap(&status)) > 0) {
		slot_reaped(pid);
		if (!sched_reaped(pid, status, srv.conf))
			for (i = 0; i < srv.nkids; i++)
				if (srv.kids[i].pid == pid) {
					if (srv.kids[i].ctl != -1)
						close(srv.kids[i].ctl);
					srv.kids[i] = srv.kids[--srv.nkids];
					break;
				}
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
			log_warnx("child %ld killed by signal %d", (long)pid,
			    WTERMSIG(status));
	}
}

/* In every new child (see child_fork()): drop what is the master's. */
static void
child_detach_master(void)
{
	size_t i;

	/* Only the lock's descriptor: the child never frees, it exits. */
	if (srv.pfh != NULL)
		close(pidfile_fileno(srv.pfh));
	close(answered[0]);
	for (i = 0; i < srv.nls; i++)
		close(srv.ls[i].fd);
	for (i = 0; i < srv.nkids; i++) /* the workers' sockets: pool.c */
		if (srv.kids[i].ctl != -1)
			close(srv.kids[i].ctl);
	spool_child();
	queue_child(srv.master);
}

/*
 * Fork a child of the master: 0 in the child (child_fork() has rid it of
 * what is the master's); its pid in the master, which counts it (FROM:
 * the caller of a connection, or NULL); -1, logged, if there can be none.
 */
pid_t
server_kid_fork(const struct sockaddr_storage *from)
{
	pid_t pid;

	if ((pid = child_fork()) == -1)
		log_warn("fork");
	else if (pid > 0)
		kid_add(pid, from);
	return pid;
}

static void
server_reload(void)
{
	struct config	*nconf;
	struct listener *nls;
	size_t		 nnls;
	char		 err[1024];

	sig_hup = 0;
	log_reopen();
	log_info("SIGHUP: reloading %s", srv.conf->file);
	if ((nconf = config_load(srv.conf->file, err, sizeof(err))) == NULL) {
		log_warnx("reload failed, configuration unchanged: %s", err);
		stats_reloaded(0);
		return;
	}
	if (net_listeners_open(nconf, srv.ls, srv.nls, http_open, &nls,
		&nnls) == -1) {
		log_warnx("reload failed, configuration unchanged");
		stats_reloaded(0);
		config_free(nconf);
		return;
	}
	stats_reloaded(1);
	stats_services(nconf);
	slot_services(nconf);
	if (strcmp(nconf->pidfile, srv.conf->pidfile) != 0 ||
	    strcmp(nconf->spool_dir, srv.conf->spool_dir) != 0)
		log_warnx("reload: a new pidfile or spool_dir takes effect "
			  "only at the next start");
	if ((nconf->log == NULL) != (srv.conf->log == NULL) ||
	    (nconf->log != NULL && strcmp(nconf->log, srv.conf->log) != 0))
		log_warnx("reload: a new log setting takes effect only at the "
			  "next start");
	net_listeners_close(srv.ls, srv.nls);
	free(srv.ls);
	srv.ls = nls;
	srv.nls = nnls;
	config_free(srv.conf);
	srv.conf = nconf;
	rate_configure(nconf);
	pool_retire(); /* workers of the old configuration */
	log_info("configuration reloaded: %zu services, %zu sockets",
	    srv.conf->nservices, srv.nls);
}

/* The spool belongs to the user the daemon runs as once started. */
static void
spool_owner(const struct config *c, uid_t *uid, gid_t *gid)
{
	*uid = c->id.setids ? c->id.uid : geteuid();
	*gid = c->id.setids ? c->id.gid : getegid();
}

int
server_init(struct config *conf, struct pidfh *pfh)
{
	const char *why;
	size_t	    i;
	uid_t	    uid;
	gid_t	    gid;

	srv.conf = conf;
	srv.pfh = pfh;
	if (stats_init() == -1 || slot_init() == -1 || rate_init() == -1) {
		log_warn("mmap");
		return -1;
	}
	stats_services(conf);
	slot_services(conf);
	rate_configure(conf);
	child_atfork(child_detach_master);
	if (pipe2(answered, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("pipe2");
		return -1;
	}
	spool_owner(conf, &uid, &gid);
	if (spool_open(conf->spool_dir, uid, gid, &why) == -1) {
		if (why != NULL)
			log_warnx(
			    "spool %s: %s: it must be a directory of "
			    "uid %ld that no one else may write (mode 0700)",
			    conf->spool_dir, why, (long)uid);
		else
			log_warn("spool %s", conf->spool_dir);
		return -1;
	}
	if (net_listeners_open(conf, NULL, 0, http_open, &srv.ls, &srv.nls) ==
	    -1)
		return -1;
	for (i = 0; i < srv.nls; i++)
		log_debug("listening on %s", srv.ls[i].name);
	return 0;
}

/*
 * Become the configured user, after everything that needs root is open:
 * the UNIX sockets are given to it first, so that it can go on using
 * (and, at the end, removing) them.  The spool is already its own.
 */
int
server_drop(void)
{
	struct config *c = srv.conf;

	if (!c->id.setids)
		return 0;
	if (net_unix_chown(srv.ls, srv.nls, c) == -1)
		return -1;
	if (priv_become(&c->id) == -1) {
		log_warn("cannot become user %s", c->id.user);
		return -1;
	}
	log_debug("running as %s (uid %ld)", c->id.user, (long)c->id.uid);
	return 0;
}

/*
 * As the spool's owner, never as root for another user's folder: lock
 * the spool and recover its jobs.
 */
int
server_recover(void)
{
	const char *dir = srv.conf->spool_dir, *why;

	if (spool_lock(&why) == -1) {
		if (errno == EBUSY)
			log_warnx("spool %s is in use by another bgserviced",
			    dir);
		else if (why != NULL)
			log_warnx("spool %s: %s", dir, why);
		else
			log_warn("spool %s: lock", dir);
		return -1;
	}
	if (sched_init(srv.conf) == -1) {
		log_warn("spool %s: recovery", dir);
		return -1;
	}
	return 0;
}

/*
 * Stop: close the listeners, TERM the children (each passes it on to
 * its service's process group), KILL what is left after the grace.
 */
static void
server_stop(void)
{
	struct timespec ts;
	long long	deadline;
	size_t		i;

	log_info("stopping: %zu children", srv.nkids + sched_running());
	pool_retire();
	turn_close_all();
	for (i = 0; i < srv.nls; i++)
		net_close(&srv.ls[i]);
	for (i = 0; i < srv.nkids; i++)
		(void)kill(srv.kids[i].pid, SIGTERM);
	sched_signal(SIGTERM);
	deadline =
	    now_ms() + (long long)srv.conf->limits.kill_grace * 1000 + 1000;
	kids_reap();
	while (srv.nkids + sched_running() > 0 && now_ms() < deadline) {
		(void)ppoll(NULL, 0, ms_timespec(&ts, ms_until(deadline)),
		    &sig_waitmask);
		kids_reap();
	}
	for (i = 0; i < srv.nkids; i++)
		(void)kill(srv.kids[i].pid, SIGKILL);
	sched_signal(SIGKILL);
	while (srv.nkids + sched_running() > 0 && child_wait(-1) > 0)
		kids_reap();
}

/* Connection children (and datagram ones) running now: not idle workers. */
static size_t
conns_running(void)
{
	return srv.nkids - pool_idle();
}

/* May another connection child be started (max_connections)? */
int
server_room(void)
{
	return conns_running() < (size_t)srv.conf->limits.max_connections;
}

/* What the signals asked for since the last turn of the loop. */
static void
loop_signals(void)
{
	sig_deliver();
	if (sig_hup)
		server_reload();
	if (sig_usr1) {
		sig_usr1 = 0;
		log_reopen();
		pool_retire(); /* workers log to the file they were forked with */
	}
	if (sig_chld)
		kids_reap();
}

/* The master's title (only when it changes) and its gauges. */
static void
loop_show(void)
{
	static size_t shown[3] = { -1, -1, -1 };
	size_t	      conns = conns_running();

	if (conns != shown[0] || sched_running() != shown[1] ||
	    sched_pending() != shown[2]) {
		shown[0] = conns;
		shown[1] = sched_running();
		shown[2] = sched_pending();
		setproctitle("master: %zu connections, %zu jobs running, "
			     "%zu queued",
		    conns, shown[1], shown[2]);
	}
	STATS_SET(children, srv.nkids + sched_running());
	STATS_SET(jobs_queued, sched_pending());
	STATS_SET(jobs_running, sched_running());
}

/*
 * The descriptors to wait for, in *PFD (grown as need be): the lingering
 * sockets first, the queue's pipe, the answered pipe, then the listeners
 * while there is room.  Returns how many.
 */
static size_t
loop_pollfds(struct pollfd **pfd, size_t *npfd)
{
	size_t i, n, nl = turn_lingering();

	if (TURN_LINGER_MAX + 2 + srv.nls + srv.nkids > *npfd) {
		*npfd = TURN_LINGER_MAX + 2 + srv.nls + srv.nkids;
		free(*pfd);
		if ((*pfd = calloc(*npfd, sizeof(**pfd))) == NULL)
			fatal("calloc");
	}
	turn_pollfds(*pfd);
	(*pfd)[nl] = (struct pollfd){ sched_notify_fd(), POLLIN, 0 };
	(*pfd)[nl + 1] = (struct pollfd){ answered[0], POLLIN, 0 };
	n = nl + 2;
	if (server_room())
		for (i = 0; i < srv.nls; i++)
			(*pfd)[n++] =
			    (struct pollfd){ accept_pollfd(&srv.ls[i]), POLLIN,
				    0 };
	return n;
}

void
server_loop(void)
{
	struct pollfd  *pfd = NULL;
	struct timespec ts;
	size_t		n, nl, np, npfd = 0;

	srv.master = getpid();
	while (!sig_term) {
		loop_signals();
		if (sig_term)
			break; /* taken by loop_signals(): see sig_deliver() */
		sched_tick(srv.conf);
		sched_dispatch(srv.conf);
		pool_fill();
		nl = turn_lingering();
		n = loop_pollfds(&pfd, &npfd);
		np = pool_pollfds(pfd + n);
		loop_show();
		if (ppoll(pfd, n + np, ms_timespec(&ts, loop_timeout()),
			&sig_waitmask) == -1) {
			if (errno != EINTR)
				fatal("ppoll");
			continue;
		}
		turn_drain(pfd);
		if (pfd[nl].revents & POLLIN)
			sched_notify_read(kid_ours);
		if (pfd[nl + 1].revents & POLLIN)
			server_heard();
		pool_ready(pfd + n, np);
		accept_ready(pfd, nl + 2, n);
	}
	free(pfd);
	server_stop();
}

void
server_free(void)
{
	size_t i;

	for (i = 0; i < srv.nls; i++)
		net_close(&srv.ls[i]);
	free(srv.ls);
	free(srv.kids);
	for (i = 0; i < 2; i++)
		if (answered[i] != -1)
			close(answered[i]);
	answered[0] = answered[1] = -1;
	sched_free();
	spool_close();
	config_free(srv.conf);
	memset(&srv, 0, sizeof(srv));
}
