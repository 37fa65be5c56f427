/*
 * stats.c: the daemon's counters.  They live in one anonymous shared
 * mapping made by the master before it forks anything, so every child
 * counts into the same place with atomic additions; only the master
 * writes the service names and the gauges.  The status page's rings are
 * statsring.c's, the "stats" verb's text statsfmt.c's (statspriv.h).
 */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "stats.h"
#include "statspriv.h"

struct stats *stats;

int
stats_init(void)
{
	if ((stats = shm_alloc(sizeof(*stats))) == NULL)
		return -1;
	stats->started = time(NULL);
	strlcpy(stats->services[0].name, "other", sizeof(stats->services[0]));
	stats->nservices = 1;
	return 0;
}

static struct stats_service *
find(const char *name)
{
	uint32_t i, n;

	n = __atomic_load_n(&stats->nservices, __ATOMIC_ACQUIRE);
	for (i = 1; i < n; i++)
		if (strcmp(stats->services[i].name, name) == 0)
			return &stats->services[i];
	return NULL;
}

/*
 * The master: give every service of CONF a slot; a service keeps its slot
 * (and its counts) across reloads.
 */
void
stats_services(const struct config *conf)
{
	struct stats_service *s;
	size_t		      i;

	if (stats == NULL)
		return;
	for (i = 0; i < conf->nservices; i++) {
		if (find(conf->services[i].name) != NULL ||
		    stats->nservices == STATS_SERVICES)
			continue;
		s = &stats->services[stats->nservices];
		strlcpy(s->name, conf->services[i].name, sizeof(s->name));
		__atomic_store_n(&stats->nservices, stats->nservices + 1,
		    __ATOMIC_RELEASE);
	}
}

/* The upper bounds of the latency buckets, in µs (statsfmt.c: as shown). */
static const uint64_t bucket_us[STATS_BUCKETS] = { 1000, 2500, 5000, 10000,
	25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
	10000000, 30000000, 60000000 };

/*
 * Whose fault a run's answer CODE is: 0 none (200), 1 the caller's (4xx:
 * its data, a cancel), 2 the service's (5xx).
 */
int
stats_fault(int code)
{
	if (code < 400)
		return 0;
	return code < 500 ? 1 : 2;
}

/* How long RES ran, in µs: its wall clock, unless that jumped. */
static uint64_t
run_us(const struct run_result *res)
{
	long long us;

	us = (long long)(res->end.tv_sec - res->start.tv_sec) * 1000000 +
	    (res->end.tv_nsec - res->start.tv_nsec) / 1000;
	if (us < 0 || us / 1000 > res->ms + 1 || us / 1000 < res->ms - 1)
		us = res->ms > 0 ? res->ms * 1000 : 0;
	return (uint64_t)us;
}

static void
hist_add(struct stats_hist *h, uint64_t us)
{
	size_t i;

	for (i = 0; i < STATS_BUCKETS && us > bucket_us[i]; i++)
		;
	__atomic_fetch_add(&h->count[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum_us, us, __ATOMIC_RELAXED);
}

/*
 * The upper bound, in µs, of the bucket that holds the quantile Q of
 * S's runs, calls and jobs: 0 when it has none, UINT64_MAX past 60 s.
 */
uint64_t
stats_quantile_us(const struct stats_service *s, double q)
{
	uint64_t total = 0, cum = 0, c[STATS_BUCKETS + 1];
	size_t	 i;

	for (i = 0; i <= STATS_BUCKETS; i++) {
		c[i] = __atomic_load_n(&s->call.count[i], __ATOMIC_RELAXED) +
		    __atomic_load_n(&s->job.count[i], __ATOMIC_RELAXED);
		total += c[i];
	}
	if (total == 0)
		return 0;
	for (i = 0; i < STATS_BUCKETS; i++) {
		cum += c[i];
		if ((double)cum >= q * (double)total)
			return bucket_us[i];
	}
	return UINT64_MAX;
}

/*
 * Count one run of SV that ended with RES, answered CODE (0: work it
 * out from RES as a call's answer).
 */
void
stats_run(const struct service *sv, int job, int code,
    const struct run_result *res)
{
	struct stats_service *s;
	char		      why[256];

	if (stats == NULL)
		return;
	if ((s = find(sv->name)) == NULL)
		s = &stats->services[0];
	if (code == 0)
		code = child_ok(res) ?
		    200 :
		    child_describe(sv, res, why, sizeof(why));
	__atomic_fetch_add(job ? &s->jobs : &s->calls, 1, __ATOMIC_RELAXED);
	if (stats_fault(code) != 0)
		__atomic_fetch_add(stats_fault(code) == 1 ?
			&s->failures_caller :
			&s->failures_service,
		    1, __ATOMIC_RELAXED);
	if (res->timed_out)
		__atomic_fetch_add(&s->timeouts, 1, __ATOMIC_RELAXED);
	hist_add(job ? &s->job : &s->call, run_us(res));
	__atomic_fetch_add(&s->cpu_user_us, (uint64_t)res->cpu_user_us,
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->cpu_sys_us, (uint64_t)res->cpu_sys_us,
	    __ATOMIC_RELAXED);
	statsring_add(s - stats->services, stats_fault(code) != 0,
	    run_us(res));
	if (job)
		__atomic_fetch_add(&stats->jobs_finished, 1, __ATOMIC_RELAXED);
}

/* The master: a reload was taken (OK) or refused, now. */
void
stats_reloaded(int ok)
{
	if (stats == NULL)
		return;
	__atomic_fetch_add(ok ? &stats->reloads : &stats->reload_failures, 1,
	    __ATOMIC_RELAXED);
	__atomic_store_n(&stats->reload_ok, ok, __ATOMIC_RELAXED);
	__atomic_store_n(&stats->reload_at, (int64_t)time(NULL),
	    __ATOMIC_RELEASE);
}
