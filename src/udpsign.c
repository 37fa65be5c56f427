/*
 * udpsign.c: signing and checking datagrams (see udpsign.h), with
 * libsodium's HMAC-SHA-256 and constant-time comparison.
 *
 * Replays are caught by the master, which alone checks datagrams: it
 * remembers the MAC of every signed datagram it took for UDPSIGN_WINDOW
 * seconds either side of its time, in a table of fixed size; a MAC seen
 * again there is a replay.  Should a slot's every neighbour still be
 * fresh (over UDPSIGN_SEEN signed datagrams a minute), the oldest is
 * forgotten.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proto.h"
#include "udpsign.h"

#define UDPSIGN_SEEN  16384 /* MACs remembered */
#define UDPSIGN_PROBE 8

static struct {
	unsigned char mac[16]; /* its first half */
	time_t	      until;   /* 0: free */
} seen[UDPSIGN_SEEN];

/* The key of SV's datagrams: its own udp_key, else the global one. */
const char *
udpsign_key(const struct config *conf, const struct service *sv)
{
	if (sv != NULL && sv->admit.udp_key != NULL)
		return sv->admit.udp_key;
	return conf->admit.udp_key;
}

static void
mac_of(unsigned char mac[crypto_auth_hmacsha256_BYTES], const char *key,
    const char *service, const char *stamp, const char *data, size_t len)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key,
	    strlen(key));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)service,
	    strlen(service));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)stamp,
	    strlen(stamp));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)data, len);
	crypto_auth_hmacsha256_final(&st, mac);
}

/* Was MAC seen within the window?  If not, it is now. */
static int
replayed(const unsigned char *mac, time_t now)
{
	size_t i, h, old = 0;

	memcpy(&h, mac, sizeof(h));
	for (i = 0; i < UDPSIGN_PROBE; i++) {
		size_t j = (h + i) % UDPSIGN_SEEN;

		if (seen[j].until >= now && memcmp(seen[j].mac, mac, 16) == 0)
			return 1;
		if (seen[j].until < seen[old].until || i == 0)
			old = j;
	}
	memcpy(seen[old].mac, mac, 16);
	seen[old].until = now + 2 * UDPSIGN_WINDOW;
	return 0;
}

/* Split "!sig TIME MAC\n" off *DATA: TIME and the MAC's bytes. */
static int
head_parse(const char **data, size_t *len, char stamp[21],
    unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	const char *p = *data + strlen(UDPSIGN_MARK), *sp, *nl;
	size_t	    n = *len - strlen(UDPSIGN_MARK), bin;

	if ((nl = memchr(p, '\n', n < UDPSIGN_HEAD ? n : UDPSIGN_HEAD)) ==
		NULL ||
	    (sp = memchr(p, ' ', nl - p)) == NULL || sp == p || sp - p > 20)
		return -1;
	memcpy(stamp, p, sp - p);
	stamp[sp - p] = '\0';
	if (strspn(stamp, "0123456789") != strlen(stamp) ||
	    nl - sp - 1 != 2 * crypto_auth_hmacsha256_BYTES ||
	    sodium_hex2bin(mac, crypto_auth_hmacsha256_BYTES, sp + 1,
		nl - sp - 1, NULL, &bin, NULL) == -1 ||
	    bin != crypto_auth_hmacsha256_BYTES)
		return -1;
	*len -= nl + 1 - *data;
	*data = nl + 1;
	return 0;
}

/*
 * Check the datagram *DATA of *LEN bytes, received at NOW.  UDPSIGN_OK
 * moves *DATA past the signature, to "SERVICE:DATA".
 */
enum udpsign
udpsign_check(const struct config *conf, const char **data, size_t *len,
    time_t now)
{
	unsigned char  mac[crypto_auth_hmacsha256_BYTES], want[sizeof(mac)];
	struct request req;
	const char    *key;
	char	       stamp[21];
	long long      t;

	if (*len < strlen(UDPSIGN_MARK) ||
	    memcmp(*data, UDPSIGN_MARK, strlen(UDPSIGN_MARK)) != 0)
		return UDPSIGN_NONE;
	if (head_parse(data, len, stamp, mac) == -1 ||
	    proto_parse(*data, *len, &req) != ERR_NONE ||
	    req.verb != VERB_CALL ||
	    (key = udpsign_key(conf, config_service(conf, req.service))) ==
		NULL)
		return UDPSIGN_BAD;
	mac_of(want, key, req.service, stamp, req.data, req.datalen);
	if (sodium_memcmp(mac, want, sizeof(mac)) != 0)
		return UDPSIGN_BAD;
	t = strtoll(stamp, NULL, 10);
	if (t < (long long)now - UDPSIGN_WINDOW ||
	    t > (long long)now + UDPSIGN_WINDOW)
		return UDPSIGN_STALE;
	return replayed(mac, now) ? UDPSIGN_REPLAYED : UDPSIGN_OK;
}

/*
 * Client side: the head "!sig TIME MAC\n" that signs SERVICE's datagram
 * DATA with KEY at NOW.  Its length, or -1.
 */
int
udpsign_make(char *head, size_t size, const char *key, const char *service,
    const char *data, size_t len, time_t now)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char	      stamp[21], hex[2 * sizeof(mac) + 1];
	int	      r;

	snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	mac_of(mac, key, service, stamp, data, len);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	r = snprintf(head, size, "%s%s %s\n", UDPSIGN_MARK, stamp, hex);
	return r < 0 || (size_t)r >= size ? -1 : r;
}
