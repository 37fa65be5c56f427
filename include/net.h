/*
 * net.h: listening sockets and callers' addresses.
 */
#ifndef NET_H
#define NET_H

#include <sys/socket.h>

#include "addr.h"
#include "bgserviced.h"

/* One open socket: a listen entry gives one (stream) or two (+UDP). */
struct listener {
	int    fd;
	int    type;	  /* SOCK_STREAM or SOCK_DGRAM */
	int    family;	  /* AF_INET, AF_INET6, AF_UNIX */
	char   name[128]; /* "127.0.0.1:12341/tcp", a path */
	char   key[160];  /* identity, to match on reload */
	int    keep;	  /* scratch for the reload */
	size_t conf;	  /* its entry in the config's listens */
	int    http;	  /* the metrics block's, see http.c */
};

/* Who is calling: what a service's environment tells it. */
struct peer {
	const char	       *transport; /* "tcp", "udp", "unix" */
	char			ip[64];	   /* numeric address, or "" */
	char			port[8];
	char			local_ip[64];
	char			local_port[8];
	struct sockaddr_storage addr; /* the caller, for allow lists */
	uid_t			uid;  /* a UNIX-domain caller's, or -1 */
};

/* Adds its sockets to a set being opened; see net_listeners_open(). */
typedef int (*net_more_fn)(const struct config *, struct listener *old,
    size_t nold, struct listener *set, size_t *n);

int    net_listeners_open(const struct config *, struct listener *old,
       size_t nold, net_more_fn, struct listener **, size_t *);
void   net_listeners_close(struct listener *old, size_t nold);
int    net_unix_chown(const struct listener *, size_t, const struct config *);
int    net_listen(const struct listen_conf *, struct listener *out, int *n);
void   net_close(struct listener *);
int    net_unix_perms(const struct listen_conf *);
int    net_listen_probe(const struct listen_conf *, char *, size_t);
size_t net_drain(int fd, int ms, size_t max);
void   net_listen_key(const struct listen_conf *, int type, char *, size_t);
void   net_peer(int fd, int family, const struct sockaddr_storage *,
      struct peer *);
int    net_unix_allowed(int fd, const struct listen_conf *);

#endif /* NET_H */
