/*
 * rate.c: token buckets per service and per source (see rate.h).
 *
 * A bucket holds up to BURST tokens, in thousandths, and gains RATE a
 * second; a request takes one, or is told after how many seconds one
 * will be there.  A refused request takes nothing, so a caller that waits
 * as told is let in: limits slow callers down, they never disable a
 * service.  Buckets are found by a keyed hash (libsodium's SipHash,
 * crypto_shorthash, with a key drawn at start) of the service's name and
 * the source: an IPv4 address, the /64 of an IPv6 address, or the uid of
 * a UNIX-domain caller.
 *
 * When every stream service has a source limit, each source also has a
 * bucket for all of them together ("whole"), that holds the sum of their
 * bursts and fills at the sum of their rates, and that every request
 * admitted under one of them takes from as well.  It never holds less
 * than the source's buckets of the services together, so when it is
 * empty so are they all: the master then turns the source's connections
 * away before it forks (rate_over()), and only peeks at the bucket,
 * so that a request takes its one token once, in the child that admits
 * it.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "net.h"
#include "rate.h"
#include "util.h"

#define RATE_SERVICES 512  /* service buckets */
#define RATE_SOURCES  8192 /* (service, source) buckets */
#define RATE_PROBE    8	   /* a key's neighbourhood */

struct bucket {
	uint64_t key;	/* 0: free */
	int64_t	 last;	/* ms of the monotonic clock it was filled at */
	int64_t	 milli; /* tokens, in thousandths */
};

/* A source's jobs, written by the master only. */
struct quota {
	uint64_t key; /* 0: free, and so is one with no job */
	uint32_t queued, running;
};

struct rate_table {
	int32_t	      lock; /* the holder's pid, 0: free */
	struct quota  quotas[RATE_SOURCES];
	unsigned char hashkey[crypto_shorthash_KEYBYTES];
	struct bucket services[RATE_SERVICES];
	struct bucket sources[RATE_SOURCES];
	struct bucket wholes[RATE_SOURCES]; /* a source, every service */
};

static struct rate_table *rt;

/* The sums of the stream services' source limits; 0: one has none. */
static struct {
	long long rate, burst;
} whole;

int
rate_init(void)
{
	if ((rt = shm_alloc(sizeof(*rt))) == NULL)
		return -1;
	randombytes_buf(rt->hashkey, sizeof(rt->hashkey));
	return 0;
}

/*
 * Take the table's lock: held for a few hundred instructions, so spun
 * for; a holder that died holding it is taken over.
 */
static void
rate_lock(void)
{
	struct timespec pause = { 0, 50000 };
	int32_t		me = (int32_t)getpid(), was;
	int		i;

	for (i = 0;; i++) {
		was = 0;
		if (__atomic_compare_exchange_n(&rt->lock, &was, me, 0,
			__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		if (i % 64 != 63)
			continue;
		if (kill(was, 0) == -1 && errno == ESRCH &&
		    __atomic_compare_exchange_n(&rt->lock, &was, me, 0,
			__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		nanosleep(&pause, NULL);
	}
}

/* Take the lock if it is free at once: the master never waits for it. */
static int
rate_trylock(void)
{
	int32_t was = 0;

	return __atomic_compare_exchange_n(&rt->lock, &was, (int32_t)getpid(),
	    0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void
rate_unlock(void)
{
	__atomic_store_n(&rt->lock, 0, __ATOMIC_RELEASE);
}

/* The key of SV's bucket for the source SRC of SRCLEN bytes (0: SV's). */
static uint64_t
bucket_key(const struct service *sv, const void *src, size_t srclen)
{
	unsigned char in[SERVICE_NAME_MAX + 1 + 16], out[8];
	size_t	      n = strlen(sv->name) + 1;
	uint64_t      k;

	memcpy(in, sv->name, n);
	if (srclen > 0)
		memcpy(in + n, src, srclen);
	crypto_shorthash(out, in, n + srclen, rt->hashkey);
	memcpy(&k, out, sizeof(k));
	return k == 0 ? 1 : k;
}

/*
 * KEY's bucket in TABLE of N: its own, else a free one, else the least
 * recently filled of its neighbourhood, emptied for it.
 */
static struct bucket *
bucket_find(struct bucket *table, size_t n, uint64_t key)
{
	struct bucket *b, *old = NULL;
	size_t	       i;

	for (i = 0; i < RATE_PROBE; i++) {
		b = &table[(key + i) % n];
		if (b->key == key)
			return b;
		if (b->key == 0 || old == NULL || b->last < old->last)
			old = b;
		if (b->key == 0)
			break;
	}
	old->key = key;
	old->last = 0;
	return old;
}

/* KEY's bucket in TABLE of N, or NULL: never seen, or forgotten (full). */
static const struct bucket *
bucket_lookup(const struct bucket *table, size_t n, uint64_t key)
{
	size_t i;

	for (i = 0; i < RATE_PROBE && table[(key + i) % n].key != 0; i++)
		if (table[(key + i) % n].key == key)
			return &table[(key + i) % n];
	return NULL;
}

/* The thousandths of tokens in B at NOW (RATE a second, BURST at most). */
static int64_t
bucket_level(const struct bucket *b, int64_t now, long long rate,
    long long burst)
{
	int64_t cap = (int64_t)burst * 1000, milli;

	if (b->last == 0 || now - b->last > cap / rate + 1)
		return cap;
	milli = b->milli + (now - b->last) * rate;
	return milli > cap ? cap : milli;
}

/* The seconds until a bucket at MILLI, filling at RATE, has a token. */
static int
bucket_retry(int64_t milli, long long rate)
{
	int64_t need = 1000 - milli; /* thousandths, at RATE per ms */
	int	retry = (int)((need + rate * 1000 - 1) / (rate * 1000));

	return retry < 1 ? 1 : retry;
}

/* Take a token from B (RATE a second, BURST at most); else *RETRY. */
static int
bucket_take(struct bucket *b, int64_t now, long long rate, long long burst,
    int *retry)
{
	b->milli = bucket_level(b, now, rate, burst);
	b->last = now;
	if (b->milli >= 1000)
		return 0;
	*retry = bucket_retry(b->milli, rate);
	return -1;
}

static int64_t
now_ms_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

/* The bytes that name P's source: its uid, IPv4 address or IPv6 /64. */
static size_t
source_of(const struct peer *p, unsigned char src[16])
{
	const struct sockaddr_in  *in4 = (const void *)&p->addr;
	const struct sockaddr_in6 *in6 = (const void *)&p->addr;

	memset(src, 0, 16);
	if (p->addr.ss_family == AF_INET) {
		memcpy(src, &in4->sin_addr, 4);
		return 4;
	}
	if (p->addr.ss_family == AF_INET6) {
		memcpy(src, &in6->sin6_addr, 8);
		return 8;
	}
	src[0] = 'u';
	memcpy(src + 1, &p->uid, sizeof(p->uid));
	return 1 + sizeof(p->uid);
}

/* The key of a source's own: the same in every process. */
static uint64_t
source_key(const unsigned char *src, size_t len)
{
	unsigned char out[8];
	uint64_t      k;

	crypto_shorthash(out, src, len, rt->hashkey);
	memcpy(&k, out, sizeof(k));
	return k == 0 ? 1 : k;
}

/* A request of the source SRC was admitted: one token of its whole. */
static void
whole_charge(const unsigned char *src, size_t len, int64_t now)
{
	struct bucket *w;

	w = bucket_find(rt->wholes, RATE_SOURCES, source_key(src, len));
	w->milli = bucket_level(w, now, whole.rate, whole.burst) - 1000;
	if (w->milli < 0) /* forgotten, or a reload changed the sums */
		w->milli = 0;
	w->last = now;
}

/* A service's setting, else the global one. */
#define SETTING(conf, sv, m) \
	((sv)->admit.m != -1 ? (sv)->admit.m : (conf)->admit.m)
#define BURST(conf, sv, r, b) \
	(SETTING(conf, sv, b) > 0 ? SETTING(conf, sv, b) : \
				    SETTING(conf, sv, r))

/* Take the tokens of both buckets, the source's first, under the lock. */
static int
take_both(const struct config *conf, const struct service *sv,
    const struct peer *p, int *retry)
{
	unsigned char  src[16];
	size_t	       len = source_of(p, src);
	long long      rate = SETTING(conf, sv, source_rate);
	int64_t	       now = now_ms_mono();
	struct bucket *s = NULL, *v = NULL;

	if (rate > 0) {
		s = bucket_find(rt->sources, RATE_SOURCES,
		    bucket_key(sv, src, len));
		if (bucket_take(s, now, rate,
			BURST(conf, sv, source_rate, source_burst),
			retry) == -1)
			return -1;
	}
	if ((rate = SETTING(conf, sv, rate)) > 0) {
		v = bucket_find(rt->services, RATE_SERVICES,
		    bucket_key(sv, NULL, 0));
		if (bucket_take(v, now, rate, BURST(conf, sv, rate, burst),
			retry) == -1)
			return -1;
		v->milli -= 1000;
	}
	if (s != NULL) {
		s->milli -= 1000;
		if (whole.rate > 0 && sv->tcp)
			whole_charge(src, len, now);
	}
	return 0;
}

/*
 * May P's request to SV be admitted under its rate limits?  0, or -1
 * with *RETRY the seconds after which it would be.
 */
int
rate_take(const struct config *conf, const struct service *sv,
    const struct peer *p, int *retry)
{
	int r;

	if (rt == NULL ||
	    (SETTING(conf, sv, rate) <= 0 &&
		SETTING(conf, sv, source_rate) <= 0))
		return 0;
	rate_lock();
	r = take_both(conf, sv, p, retry);
	rate_unlock();
	return r;
}

/* The bytes that name P's source, as source_of(), into SRC: how many. */
size_t
rate_source_name(const struct peer *p, unsigned char src[16])
{
	return source_of(p, src);
}

/* The key of P's source for quotas: the same in every process. */
uint64_t
rate_source(const struct peer *p)
{
	unsigned char src[16];
	size_t	      len = source_of(p, src);

	return rt == NULL ? 0 : source_key(src, len);
}

/*
 * The master, for the configuration CONF it forks with from now on:
 * the sums of the stream services' source limits, or none if one of
 * them has no source limit (the master can then tell nothing).
 */
void
rate_configure(const struct config *conf)
{
	const struct service *sv;
	size_t		      i;

	whole.rate = whole.burst = 0;
	for (i = 0; i < conf->nservices; i++) {
		sv = &conf->services[i];
		if (!sv->tcp)
			continue;
		if (SETTING(conf, sv, source_rate) <= 0) {
			whole.rate = whole.burst = 0;
			return;
		}
		whole.rate += SETTING(conf, sv, source_rate);
		whole.burst += BURST(conf, sv, source_rate, source_burst);
	}
}

/*
 * The master, before it forks for a connection from P: is P's source
 * over its limit of every service (its whole bucket empty)?  Then 1,
 * with *RETRY the seconds after which it may be admitted.  Only looks:
 * a token is taken by the child that admits a request.  0 when it
 * cannot tell at once: no source limit on some service, or the lock
 * held by a child.
 */
int
rate_over(const struct peer *p, int *retry)
{
	const struct bucket *w;
	unsigned char	     src[16];
	size_t		     len;
	int64_t		     milli = 1000;

	if (rt == NULL || whole.rate <= 0)
		return 0;
	len = source_of(p, src);
	if (!rate_trylock())
		return 0;
	w = bucket_lookup(rt->wholes, RATE_SOURCES, source_key(src, len));
	if (w != NULL)
		milli =
		    bucket_level(w, now_ms_mono(), whole.rate, whole.burst);
	rate_unlock();
	if (milli >= 1000)
		return 0;
	*retry = bucket_retry(milli, whole.rate);
	return 1;
}

/* SRC's entry; ADD: make one if none (NULL when its place is full). */
static struct quota *
quota_find(uint64_t src, int add)
{
	struct quota *e, *free_one = NULL;
	size_t	      i;

	for (i = 0; i < RATE_PROBE; i++) {
		e = &rt->quotas[(src + i) % RATE_SOURCES];
		if (__atomic_load_n(&e->key, __ATOMIC_ACQUIRE) == src)
			return e;
		if (free_one == NULL &&
		    (e->key == 0 || (e->queued == 0 && e->running == 0)))
			free_one = e;
	}
	if (!add || free_one == NULL)
		return NULL;
	free_one->queued = free_one->running = 0;
	__atomic_store_n(&free_one->key, src, __ATOMIC_RELEASE);
	return free_one;
}

/* COUNT moved by BY, never below 0 (see quota_note()). */
static uint32_t
quota_moved(uint32_t count, int by)
{
	return by < 0 && count < (uint32_t)-by ? 0 : count + by;
}

/*
 * The master: SRC has QUEUED and RUNNING jobs more (or fewer).  A count
 * whose increase found no free entry (all of its places taken) was not
 * kept: its decrease makes no entry and takes nothing below 0, so that
 * such a source is never left over its quota for good.
 */
void
quota_note(uint64_t src, int queued, int running)
{
	struct quota *e;

	if (rt == NULL || src == 0 ||
	    (e = quota_find(src, queued > 0 || running > 0)) == NULL)
		return;
	__atomic_store_n(&e->queued, quota_moved(e->queued, queued),
	    __ATOMIC_RELEASE);
	__atomic_store_n(&e->running, quota_moved(e->running, running),
	    __ATOMIC_RELEASE);
}

/* How many jobs of SRC are queued and running, as the master counts. */
void
quota_count(uint64_t src, unsigned *queued, unsigned *running)
{
	struct quota *e;

	*queued = *running = 0;
	if (rt == NULL || src == 0 || (e = quota_find(src, 0)) == NULL)
		return;
	*queued = __atomic_load_n(&e->queued, __ATOMIC_ACQUIRE);
	*running = __atomic_load_n(&e->running, __ATOMIC_ACQUIRE);
}

/* May a job of SERVICE from SRC start (max_running_per_source)? */
int
quota_may_run(const struct config *conf, const char *service, uint64_t src)
{
	const struct service *sv = config_service(conf, service);
	long long	      max;
	unsigned	      queued, running;

	if (sv == NULL || src == 0)
		return 1;
	max = sv->admit.max_running_per_source != -1 ?
	    sv->admit.max_running_per_source :
	    conf->admit.max_running_per_source;
	quota_count(src, &queued, &running);
	return max <= 0 || running < (unsigned)max;
}
