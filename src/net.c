/*
 * net.c: the listeners of the configuration (opened, kept across a
 * reload when their identity stays, closed, their socket files given
 * to the daemon's user), and naming and matching callers.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "sig.h"
#include "util.h"

#define LISTEN_BACKLOG 4096 /* the kernel caps it at somaxconn */

void
net_listen_key(const struct listen_conf *lc, int type, char *buf, size_t size)
{
	if (lc->path != NULL)
		snprintf(buf, size, "unix:%s", lc->path);
	else
		snprintf(buf, size, "%s:%s:%d",
		    type == SOCK_STREAM ? "tcp" : "udp", lc->address,
		    lc->port);
}

static int
ip_sockaddr(const struct listen_conf *lc, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in  *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, lc->address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(lc->port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, lc->address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(lc->port);
		*len = sizeof(*sin6);
		return 0;
	}
	errno = EAFNOSUPPORT;
	return -1;
}

static int
open_ip(const struct listen_conf *lc, int type, struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t		sslen;
	int			fd, on = 1;

	if (ip_sockaddr(lc, &ss, &sslen) == -1)
		return -1;
	if ((fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (ss.ss_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) ==
		    -1) ||
	    bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    (type == SOCK_STREAM && listen(fd, LISTEN_BACKLOG) == -1)) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	l->fd = fd;
	l->type = type;
	l->family = ss.ss_family;
	snprintf(l->name, sizeof(l->name),
	    ss.ss_family == AF_INET6 ? "[%s]:%d/%s" : "%s:%d/%s", lc->address,
	    lc->port, type == SOCK_STREAM ? "tcp" : "udp");
	net_listen_key(lc, type, l->key, sizeof(l->key));
	return 0;
}

/*
 * A UNIX socket path may hold a stale socket of an earlier run: remove it,
 * but only if nobody answers on it and it is a socket.
 */
static int
unlink_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int	    fd, r;

	if (lstat(sun->sun_path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (r == 0) {
		errno = EADDRINUSE;
		return -1;
	}
	return unlink(sun->sun_path);
}

/*
 * Give a UNIX socket file the mode, owner and group it is configured with;
 * what is already right is left alone (a reload after dropping root can
 * then keep a socket given to another user).
 */
int
net_unix_perms(const struct listen_conf *lc)
{
	struct stat st;

	if (lstat(lc->path, &st) == -1)
		return -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST; /* swapped for something else */
		return -1;
	}
	if (((lc->owner != (uid_t)-1 && st.st_uid != lc->owner) ||
		(lc->group != (gid_t)-1 && st.st_gid != lc->group)) &&
	    lchown(lc->path, lc->owner, lc->group) == -1)
		return -1;
	if ((st.st_mode & 07777) != lc->mode &&
	    fchmodat(AT_FDCWD, lc->path, lc->mode, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	return 0;
}

static int
open_unix(const struct listen_conf *lc, struct listener *l)
{
	struct sockaddr_un sun;
	int		   fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, lc->path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unlink_stale(&sun) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    net_unix_perms(lc) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	l->fd = fd;
	l->type = SOCK_STREAM;
	l->family = AF_UNIX;
	strlcpy(l->name, lc->path, sizeof(l->name));
	net_listen_key(lc, SOCK_STREAM, l->key, sizeof(l->key));
	return 0;
}

/* For net_listen_probe(): may the UNIX socket of LC be made now? */
static int
probe_unix(const struct listen_conf *lc)
{
	struct sockaddr_un sun;
	struct stat	   st;
	int		   fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, lc->path, sizeof(sun.sun_path));
	if (lstat(lc->path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (r == 0)
		errno = EADDRINUSE;
	return r == 0 ? -1 : 0;
}

/* For net_listen_probe(): bind a socket of TYPE to SS, and close it. */
static int
probe_bind(const struct sockaddr_storage *ss, socklen_t sslen, int type)
{
	int fd, r, on = 1;

	if ((fd = socket(ss->ss_family, type | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/*
	 * TCP: past connections in TIME_WAIT do not count.  UDP: a
	 * socket bound to the port, even with SO_REUSEADDR, does.
	 */
	if (type == SOCK_STREAM)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on));
	if (ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	if (bind(fd, (const struct sockaddr *)ss, sslen) == -1) {
		r = errno;
		close(fd);
		errno = r;
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Could the sockets of LC be opened now?  For bgserviced -t: binds and
 * closes again, or asks a UNIX socket whether anybody answers; on the
 * first that could not, -1 with errno and its name in WHAT.
 */
int
net_listen_probe(const struct listen_conf *lc, char *what, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t		sslen;
	int			t;

	if (lc->path != NULL) {
		snprintf(what, size, "%s", lc->path);
		return probe_unix(lc);
	}
	if (ip_sockaddr(lc, &ss, &sslen) == -1)
		return -1;
	for (t = 0; t < 2; t++) {
		if (!(t ? lc->udp : lc->tcp))
			continue;
		snprintf(what, size,
		    ss.ss_family == AF_INET6 ? "[%s]:%d/%s" : "%s:%d/%s",
		    lc->address, lc->port, t ? "udp" : "tcp");
		if (probe_bind(&ss, sslen, t ? SOCK_DGRAM : SOCK_STREAM) == -1)
			return -1;
	}
	return 0;
}

/*
 * Open the sockets of one listen entry into OUT (room for two).  *N is
 * set to how many were opened.  On error nothing stays open.
 */
int
net_listen(const struct listen_conf *lc, struct listener *out, int *n)
{
	*n = 0;
	memset(out, 0, 2 * sizeof(*out));
	if (lc->path != NULL) {
		if (open_unix(lc, &out[0]) == -1)
			return -1;
		*n = 1;
		return 0;
	}
	if (lc->tcp) {
		if (open_ip(lc, SOCK_STREAM, &out[*n]) == -1)
			return -1;
		(*n)++;
	}
	if (lc->udp) {
		if (open_ip(lc, SOCK_DGRAM, &out[*n]) == -1) {
			int saved = errno;

			while (*n > 0)
				net_close(&out[--(*n)]);
			errno = saved;
			return -1;
		}
		(*n)++;
	}
	return 0;
}

void
net_close(struct listener *l)
{
	if (l->fd == -1)
		return;
	if (l->family == AF_UNIX)
		(void)unlink(l->name);
	close(l->fd);
	l->fd = -1;
}

/*
 * Take over the socket of OLD whose identity is KEY, if it is free, for
 * listen entry I of CONF: into LS at *N.  1 when it was taken, else 0.
 */
static int
listener_reuse(const struct config *conf, size_t i, const char *key,
    struct listener *old, size_t nold, struct listener *ls, size_t *n)
{
	const struct listen_conf *lc = &conf->listens[i];
	size_t			  j;

	for (j = 0; j < nold; j++)
		if (!old[j].keep && strcmp(old[j].key, key) == 0)
			break;
	if (j == nold)
		return 0;
	old[j].keep = 1;
	old[j].conf = i;
	ls[(*n)++] = old[j];
	if (lc->path != NULL && net_unix_perms(lc) == -1)
		log_warn("%s: mode, owner or group", lc->path);
	return 1;
}

/* Open the new socket of TYPE of listen entry I of CONF, into LS at *N. */
static int
listener_new(const struct config *conf, size_t i, int type,
    struct listener *ls, size_t *n)
{
	const struct listen_conf *lc = &conf->listens[i];
	struct listen_conf	  one = *lc;
	struct listener		  tmp[2];
	int			  k, got;

	one.tcp = type == SOCK_STREAM;
	one.udp = type == SOCK_DGRAM;
	if (net_listen(&one, tmp, &got) == -1) {
		if (lc->path != NULL)
			log_warn("%s:%d: cannot listen on %s", conf->file,
			    lc->line, lc->path);
		else
			log_warn("%s:%d: cannot listen on %s port %d/%s",
			    conf->file, lc->line, lc->address, lc->port,
			    one.tcp ? "tcp" : "udp");
		return -1;
	}
	for (k = 0; k < got; k++) {
		tmp[k].conf = i;
		ls[(*n)++] = tmp[k];
	}
	return 0;
}

/* The sockets of listen entry I of CONF: OLD's if they match, or new. */
static int
listeners_entry(const struct config *conf, size_t i, struct listener *old,
    size_t nold, struct listener *ls, size_t *n)
{
	const struct listen_conf *lc = &conf->listens[i];
	char			  key[160];
	int			  types[2], ntypes = 0, t;

	if (lc->path != NULL || lc->tcp)
		types[ntypes++] = SOCK_STREAM;
	if (lc->path == NULL && lc->udp)
		types[ntypes++] = SOCK_DGRAM;
	for (t = 0; t < ntypes; t++) {
		net_listen_key(lc, types[t], key, sizeof(key));
		if (!listener_reuse(conf, i, key, old, nold, ls, n) &&
		    listener_new(conf, i, types[t], ls, n) == -1)
			return -1;
	}
	return 0;
}

/*
 * Open the sockets CONF asks for, reusing those of OLD (a previous set)
 * whose identity matches; each of OLD is marked kept or not, for
 * net_listeners_close().  MORE adds the sockets of another module (the
 * metrics listener's) to the set in the same way.  On error nothing
 * changes and -1 is returned.
 */
int
net_listeners_open(const struct config *conf, struct listener *old,
    size_t nold, net_more_fn more, struct listener **out, size_t *nout)
{
	struct listener *ls;
	size_t		 n = 0, i, j;

	if ((ls = calloc(conf->nlistens * 2 + 1, sizeof(*ls))) == NULL)
		return -1;
	for (i = 0; i < nold; i++)
		old[i].keep = 0;
	for (i = 0; i < conf->nlistens; i++)
		if (listeners_entry(conf, i, old, nold, ls, &n) == -1)
			goto fail;
	if (more != NULL && more(conf, old, nold, ls, &n) == -1)
		goto fail;
	*out = ls;
	*nout = n;
	return 0;
fail:
	/* Close what this call opened, keep the old ones. */
	for (i = 0; i < n; i++) {
		for (j = 0; j < nold; j++)
			if (old[j].fd == ls[i].fd)
				break;
		if (j == nold)
			net_close(&ls[i]);
	}
	free(ls);
	return -1;
}

/* Close the sockets of OLD that net_listeners_open() did not take over. */
void
net_listeners_close(struct listener *old, size_t nold)
{
	size_t i;

	for (i = 0; i < nold; i++)
		if (!old[i].keep) {
			log_info("closing listener %s", old[i].name);
			net_close(&old[i]);
		}
}

/*
 * Give the UNIX sockets of LS to the user the daemon of C becomes, before
 * it does, so that it can go on using (and, at the end, removing) them.
 * An owner or group of a listen entry's own stays.
 */
int
net_unix_chown(const struct listener *ls, size_t nls, const struct config *c)
{
	const struct listen_conf *lc;
	size_t			  i;

	for (i = 0; i < nls; i++) {
		if (ls[i].family != AF_UNIX)
			continue;
		lc = &c->listens[ls[i].conf];
		if (lchown(ls[i].name,
			lc->owner != (uid_t)-1 ? (uid_t)-1 : c->id.uid,
			lc->group != (gid_t)-1 ? (gid_t)-1 : c->id.gid) ==
		    -1) {
			log_warn("chown %s", ls[i].name);
			return -1;
		}
	}
	return 0;
}

static void
addr_string(const struct sockaddr_storage *ss, char *ip, size_t iplen,
    char *port, size_t portlen)
{
	const struct sockaddr_in  *sin = (const void *)ss;
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	ip[0] = port[0] = '\0';
	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, ip, iplen);
		snprintf(port, portlen, "%u", ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, iplen);
		snprintf(port, portlen, "%u", ntohs(sin6->sin6_port));
	}
}

/* Describe the caller of FD (from ADDR, as accept(2) or recvfrom gave). */
void
net_peer(int fd, int family, const struct sockaddr_storage *addr,
    struct peer *p)
{
	struct sockaddr_storage local;
	socklen_t		len = sizeof(local);

	struct ucred cred;
	socklen_t    clen = sizeof(cred);

	memset(p, 0, sizeof(*p));
	p->uid = (uid_t)-1;
	if (family == AF_UNIX) {
		p->transport = "unix";
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
			p->uid = cred.uid;
		return;
	}
	p->transport = "tcp";
	p->addr = *addr;
	addr_string(addr, p->ip, sizeof(p->ip), p->port, sizeof(p->port));
	if (getsockname(fd, (struct sockaddr *)&local, &len) == 0)
		addr_string(&local, p->local_ip, sizeof(p->local_ip),
		    p->local_port, sizeof(p->local_port));
}

/* May the process at the other end of the UNIX socket FD come in? */
int
net_unix_allowed(int fd, const struct listen_conf *lc)
{
	struct ucred cred;
	socklen_t    len = sizeof(cred);
	size_t	     i;

	if (lc->nallow_uid == 0 && lc->nallow_gid == 0)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return 0;
	for (i = 0; i < lc->nallow_uid; i++)
		if (lc->allow_uid[i] == cred.uid)
			return 1;
	for (i = 0; i < lc->nallow_gid; i++)
		if (lc->allow_gid[i] == cred.gid)
			return 1;
	return 0;
}

/*
 * Read and drop what the caller on FD still sends, for MS milliseconds
 * at the most, MAX bytes at the most, until it closes: closing at once
 * could reset the connection before the caller has read our answer.
 * Returns how many bytes came.
 */
size_t
net_drain(int fd, int ms, size_t max)
{
	long long	deadline = now_ms() + ms;
	struct pollfd	pfd;
	struct timespec ts;
	char		sink[16384];
	size_t		total = 0;
	ssize_t		n;

	while (total < max && now_ms() < deadline) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (ppoll(&pfd, 1, ms_timespec(&ts, ms_until(deadline)),
			&sig_waitmask) <= 0 ||
		    sig_term)
			break;
		if ((n = read(fd, sink, sizeof(sink))) <= 0)
			break;
		total += n;
	}
	return total;
}
