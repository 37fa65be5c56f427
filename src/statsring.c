/*
 * statsring.c: the status page's recent history in the shared counters
 * (see stats.h): each service's ring of intervals, and the ring of the
 * last failed jobs.  Any process writes them with atomic operations and
 * no lock; page.c reads them.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "stats.h"
#include "statspriv.h"

/* The status page's rings stay small: see stats.h. */
_Static_assert(sizeof(((struct stats *)0)->ring) +
	    sizeof(((struct stats *)0)->failed) <
	65536,
    "the status page's rings take 64 KiB or more");

/* The number of the current interval of the rings. */
uint32_t
stats_interval(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_sec / STATS_SLOT_SEC);
}

/* Add N to the word W of a slot, for interval NOW; see stats.h. */
static void
word_add(uint64_t *w, uint32_t now, uint64_t n)
{
	uint64_t old, new;

	old = __atomic_load_n(w, __ATOMIC_RELAXED);
	do {
		if ((uint32_t)(old >> 32) == now)
			new = (old & 0xffffffffULL) + n > 0xffffffffULL ?
			    old | 0xffffffffULL :
			    old + n;
		else
			new = (uint64_t)now << 32 | (n & 0xffffffffULL);
	} while (!__atomic_compare_exchange_n(w, &old, new, 1,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

/* The count of word W if it holds interval N, else 0. */
static uint64_t
word_get(const uint64_t *w, uint32_t n)
{
	uint64_t v = __atomic_load_n(w, __ATOMIC_RELAXED);

	return (uint32_t)(v >> 32) == n ? v & 0xffffffffULL : 0;
}

/* Note a run of the service in slot I in its ring, if it has one. */
void
statsring_add(ptrdiff_t i, int failed, uint64_t us)
{
	struct stats_slot *sl;
	uint32_t	   now = stats_interval();

	if (i < 0 || i >= STATS_RING_SERVICES)
		return;
	sl = &stats->ring[i][now % STATS_SLOTS];
	word_add(&sl->runs, now, 1);
	if (failed)
		word_add(&sl->fails, now, 1);
	word_add(&sl->ms, now, (us + 500) / 1000);
}

/*
 * The ring of the service in slot SERVICE, the oldest interval first and
 * NOW last, in OUT: 0, or -1 if it has none.
 */
int
stats_history(uint32_t service, uint32_t now, struct stats_slot *out)
{
	const struct stats_slot *sl;
	uint32_t		 k, n;

	if (stats == NULL || service >= STATS_RING_SERVICES)
		return -1;
	for (k = 0; k < STATS_SLOTS; k++) {
		n = now - (STATS_SLOTS - 1) + k;
		sl = &stats->ring[service][n % STATS_SLOTS];
		out[k].runs = word_get(&sl->runs, n);
		out[k].fails = word_get(&sl->fails, n);
		out[k].ms = word_get(&sl->ms, n);
	}
	return 0;
}

/*
 * A runner: job ID of SERVICE failed with CODE and MESSAGE, now.  The
 * entry is claimed with an atomic add and marked as being written (seq
 * 0) until it is whole, so that a reader skips it meanwhile.
 */
void
stats_job_failed(const char *id, const char *service, int code,
    const char *message)
{
	struct stats_failed *f;
	uint64_t	     k;

	if (stats == NULL)
		return;
	k = __atomic_fetch_add(&stats->failed_next, 1, __ATOMIC_RELAXED);
	f = &stats->failed[k % STATS_FAILED];
	__atomic_store_n(&f->seq, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	f->when = time(NULL);
	f->code = code;
	strlcpy(f->id, id, sizeof(f->id));
	strlcpy(f->service, service, sizeof(f->service));
	strlcpy(f->message, message, sizeof(f->message));
	__atomic_store_n(&f->seq, k + 1, __ATOMIC_RELEASE);
}

/* The failed jobs recorded and whole, newest first, in OUT; how many. */
size_t
stats_failed_recent(struct stats_failed *out, size_t max)
{
	uint64_t k, next, seq;
	size_t	 n = 0;

	if (stats == NULL)
		return 0;
	next = __atomic_load_n(&stats->failed_next, __ATOMIC_ACQUIRE);
	for (k = next; k > 0 && next - k < STATS_FAILED && n < max; k--) {
		const struct stats_failed *f =
		    &stats->failed[(k - 1) % STATS_FAILED];

		if ((seq = __atomic_load_n(&f->seq, __ATOMIC_ACQUIRE)) != k)
			continue;
		memcpy(&out[n], f, sizeof(out[n]));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&f->seq, __ATOMIC_RELAXED) != seq)
			continue;
		out[n].id[sizeof(out[n].id) - 1] = '\0';
		out[n].service[sizeof(out[n].service) - 1] = '\0';
		out[n].message[sizeof(out[n].message) - 1] = '\0';
		n++;
	}
	return n;
}
