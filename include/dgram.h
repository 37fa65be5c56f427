/*
 * dgram.h: datagrams, "SERVICE:DATA" over UDP, never answered.  The
 * master receives one (dgram_recv()) and forks; the child runs it
 * (dgram_run()) and exits.
 */
#ifndef DGRAM_H
#define DGRAM_H

#include <stddef.h>

#include "bgserviced.h"
#include "net.h"

/* A datagram received, to be run. */
struct dgram {
	const char *data; /* in dgram.c's buffer, until the next */
	size_t	    len;
	struct peer peer;
	int	    signed_ok; /* its signature was checked, and good */
};

/* What dgram_recv() found on the socket. */
enum dgram_got {
	DGRAM_NONE, /* nothing waiting, or an error: stop */
	DGRAM_NEXT, /* none to run (dropped): look for the next */
	DGRAM_RUN   /* one to run in a child */
};

enum dgram_got dgram_recv(struct listener *, const struct config *,
    struct dgram *);
void	       dgram_run(const struct config *, const struct dgram *);

#endif /* DGRAM_H */
