/*
 * serverpriv.h: what the master's modules share, and no other module:
 * server.c (the loop, its children, reloads, the shutdown) and accept.c
 * (taking what waits on the listeners).  server.h is the API for the
 * rest.
 */
#ifndef SERVERPRIV_H
#define SERVERPRIV_H

#include <sys/socket.h>
#include <sys/types.h>

#include <poll.h>
#include <stddef.h>

#include "bgserviced.h"
#include "net.h"

struct pidfh;

struct kid {
	pid_t			pid;
	struct sockaddr_storage from; /* a connection's caller, or none */
	int			ctl;  /* a pool worker's socket, or -1 */
	int			idle; /* a pool worker waiting for one */
};

struct server {
	struct config	*conf;
	pid_t		 master; /* our pid, once detached */
	struct pidfh	*pfh;
	struct listener *ls; /* open sockets */
	size_t		 nls;
	struct kid	*kids; /* every child: connections, datagrams, */
	size_t		 nkids, kidcap; /* and job runners */
};

/* server.c */
extern struct server srv;

pid_t server_kid_fork(const struct sockaddr_storage *from);
void  server_answered(void);
void  server_heard(void);
int   server_kids_from(const struct sockaddr_storage *ss);
int   server_room(void);

/* pool.c */
int    pool_pass(int fd, size_t listener, const struct sockaddr_storage *ss);
void   pool_fill(void);
size_t pool_pollfds(struct pollfd *pfd);
void   pool_ready(const struct pollfd *pfd, size_t n);
void   pool_retire(void);
size_t pool_idle(void);

/* accept.c */
void accept_conn(int fd, const struct listener *l,
    const struct sockaddr_storage *ss);

int  accept_pollfd(const struct listener *l);
void accept_ready(const struct pollfd *pfd, size_t first, size_t n);
int  accept_timeout(int ms);

#endif /* SERVERPRIV_H */
