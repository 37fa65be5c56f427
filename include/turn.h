/*
 * turn.h: connections the master turns away itself, without forking
 * (accept.c's accept_admit(): an allow list, max_per_source, a source
 * over its source_rate of every service), and the refused sockets it
 * drains awhile so that closing does not reset the connection before
 * the caller has read the answer.
 */
#ifndef TURN_H
#define TURN_H

#include <sys/socket.h>

#include <poll.h>

#include "proto.h"
#include "refuse.h"

#define TURN_LINGER_MAX 64   /* refused sockets drained at once */
#define TURN_LINGER_MS	1000 /* ... for at most this long */

struct listener;

void   turn_away(int fd, const struct listener *,
      const struct sockaddr_storage *, enum proto_err, enum refuse_reason,
      const char *why);
int    turn_rate(int fd, const struct listener *,
       const struct sockaddr_storage *);
size_t turn_lingering(void);
void   turn_pollfds(struct pollfd *);
void   turn_drain(const struct pollfd *);
int    turn_timeout(int ms);
void   turn_close_all(void);

#endif /* TURN_H */
