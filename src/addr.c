/*
 * addr.c: callers' addresses against allow lists and each other.  No
 * system calls: a pure module, unit-tested alone.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <string.h>

#include "addr.h"

/* The address bytes of SS, and their length; NULL if not IP. */
static const unsigned char *
addr_bytes(const struct sockaddr_storage *ss, size_t *len)
{
	if (ss->ss_family == AF_INET) {
		*len = 4;
		return (const unsigned char *)&((const struct sockaddr_in *)ss)
		    ->sin_addr;
	}
	if (ss->ss_family == AF_INET6) {
		*len = 16;
		return (const unsigned char *)&(
		    (const struct sockaddr_in6 *)ss)
		    ->sin6_addr;
	}
	return NULL;
}

static int
cidr_match(const struct cidr *c, const struct sockaddr_storage *ss)
{
	const unsigned char *a;
	size_t		     len;
	int		     full, rest;

	if (c->family != ss->ss_family || (a = addr_bytes(ss, &len)) == NULL)
		return 0;
	full = c->bits / 8;
	rest = c->bits % 8;
	if (memcmp(a, c->addr, full) != 0)
		return 0;
	return rest == 0 ||
	    ((a[full] ^ c->addr[full]) & (0xff << (8 - rest))) == 0;
}

/* May the caller at SS come in?  An empty list lets everybody in. */
int
addr_allowed(const struct allow *allow, const struct sockaddr_storage *ss)
{
	size_t i;

	if (allow->n == 0)
		return 1;
	for (i = 0; i < allow->n; i++)
		if (cidr_match(&allow->cidrs[i], ss))
			return 1;
	return 0;
}

/* Do A and B name the same host (the port aside)? */
int
addr_same_host(const struct sockaddr_storage *a,
    const struct sockaddr_storage	     *b)
{
	const unsigned char *x, *y;
	size_t		     xl, yl;

	if (a->ss_family != b->ss_family || (x = addr_bytes(a, &xl)) == NULL ||
	    (y = addr_bytes(b, &yl)) == NULL)
		return 0;
	return xl == yl && memcmp(x, y, xl) == 0;
}
