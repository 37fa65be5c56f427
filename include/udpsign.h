/*
 * udpsign.h: signed datagrams (udp_key, udp_signed in bgserviced.conf(5)).
 *
 *	"!sig" SP TIME SP MAC LF SERVICE ":" DATA
 *
 * TIME is the sender's clock in decimal Unix seconds, MAC the 64 lowercase
 * hex digits of HMAC-SHA-256 under the shared key of SERVICE LF TIME LF
 * DATA.  Checked by the master as it receives a datagram.
 */
#ifndef UDPSIGN_H
#define UDPSIGN_H

#include <stddef.h>
#include <time.h>

#include "bgserviced.h"

#define UDPSIGN_MARK   "!sig "
#define UDPSIGN_WINDOW 30 /* seconds a signed datagram is good for */
#define UDPSIGN_HEAD   (5 + 20 + 1 + 64 + 1) /* longest "!sig ... \n" */

/* What udpsign_check() made of a datagram. */
enum udpsign {
	UDPSIGN_NONE,	  /* not signed */
	UDPSIGN_OK,	  /* signed, fresh, first seen: *DATA past the head */
	UDPSIGN_BAD,	  /* forged, malformed, or no key to check it */
	UDPSIGN_STALE,	  /* outside the window */
	UDPSIGN_REPLAYED, /* seen already within the window */
};

enum udpsign udpsign_check(const struct config *, const char **data,
    size_t *len, time_t now);
const char  *udpsign_key(const struct config *, const struct service *);
int udpsign_make(char *head, size_t size, const char *key, const char *service,
    const char *data, size_t len, time_t now);

#endif /* UDPSIGN_H */
