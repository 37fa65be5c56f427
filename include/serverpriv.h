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
int   server_kids_from(const struct sockaddr_storage *ss);
int   server_room(void);

/* accept.c */
int  accept_pollfd(const struct listener *l);
void accept_ready(const struct pollfd *pfd, size_t first, size_t n);
int  accept_timeout(int ms);

#endif /* SERVERPRIV_H */
