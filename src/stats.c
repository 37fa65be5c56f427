/*
 * stats.c: the daemon's counters.  They live in one anonymous shared
 * mapping made by the master before it forks anything, so every child
 * counts into the same place with atomic additions; only the master
 * writes the service names and the gauges.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "stats.h"

/* The status page's rings stay small: see stats.h. */
_Static_assert(sizeof(((struct stats *)0)->ring) +
	    sizeof(((struct stats *)0)->failed) <
	65536,
    "the status page's rings take 64 KiB or more");

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

/* The upper bounds of the latency buckets, in µs and as exposed. */
static const uint64_t	 bucket_us[STATS_BUCKETS] = { 1000, 2500, 5000, 10000,
	   25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
	   10000000, 30000000, 60000000 };
static const char *const bucket_le[STATS_BUCKETS] = { "0.001", "0.0025",
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
	"5", "10", "30", "60" };

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
static void
ring_add(ptrdiff_t i, int failed, uint64_t us)
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
	ring_add(s - stats->services, stats_fault(code) != 0, run_us(res));
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

static uint64_t
get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* "# HELP" and "# TYPE" of the family bgserviced_NAME. */
static int
emit_head(struct buf *b, const char *type, const char *name, const char *help)
{
	char line[512];
	int  n;

	n = snprintf(line, sizeof(line),
	    "# HELP bgserviced_%s %s\n"
	    "# TYPE bgserviced_%s %s\n",
	    name, help, name, type);
	return buf_append(b, line, n);
}

/* One sample; VALUE already formatted. */
static int
emit_value(struct buf *b, const char *name, const char *labels,
    const char *value)
{
	char line[512];
	int  n;

	n = snprintf(line, sizeof(line), "bgserviced_%s%s %s\n", name, labels,
	    value);
	return buf_append(b, line, n);
}

static int
emit(struct buf *b, const char *type, const char *name, const char *help,
    const char *labels, unsigned long long value)
{
	char v[32];

	if (help != NULL && emit_head(b, type, name, help) == -1)
		return -1;
	snprintf(v, sizeof(v), "%llu", value);
	return emit_value(b, name, labels, v);
}

/* Microseconds as seconds, exactly: "1.250000". */
static void
fmt_seconds(char *v, size_t size, uint64_t us)
{
	snprintf(v, size, "%llu.%06llu", (unsigned long long)(us / 1000000),
	    (unsigned long long)(us % 1000000));
}

#define COUNTER(name, help, labels, v) \
	if (emit(b, "counter", name, help, labels, v) == -1) \
	return -1
#define GAUGE(name, help, labels, v) \
	if (emit(b, "gauge", name, help, labels, v) == -1) \
	return -1

/* The counters of each service that need no more than a number. */
static int
format_service_counts(struct buf *b, uint32_t n)
{
	static const struct {
		const char *name, *help;
		size_t	    off;
	} fields[] = {
		{ "calls_total", "Calls and datagrams run, by service.",
		    offsetof(struct stats_service, calls) },
		{ "jobs_run_total", "Queued jobs run, by service.",
		    offsetof(struct stats_service, jobs) },
		{ "timeouts_total",
		    "Runs killed at their timeout, by "
		    "service.",
		    offsetof(struct stats_service, timeouts) },
	};
	char	 labels[128];
	size_t	 f;
	uint32_t i;

	for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
		for (i = 0; i < n; i++) {
			snprintf(labels, sizeof(labels), "{service=\"%s\"}",
			    stats->services[i].name);
			COUNTER(fields[f].name, i == 0 ? fields[f].help : NULL,
			    labels,
			    get((const uint64_t *)((const char *)&stats
						       ->services[i] +
				fields[f].off)));
		}
	return 0;
}

/* CPU time of the runs of each of the N services, user and system. */
static int
format_cpu(struct buf *b, uint32_t n)
{
	struct stats_service *s;
	char		      labels[160], v[32];
	uint32_t	      i;

	if (emit_head(b, "counter", "cpu_seconds_total",
		"CPU time of the services' processes, calls and jobs, by "
		"service and mode.") == -1)
		return -1;
	for (i = 0; i < n; i++) {
		s = &stats->services[i];
		snprintf(labels, sizeof(labels),
		    "{service=\"%s\",mode=\"user\"}", s->name);
		fmt_seconds(v, sizeof(v), get(&s->cpu_user_us));
		if (emit_value(b, "cpu_seconds_total", labels, v) == -1)
			return -1;
		snprintf(labels, sizeof(labels),
		    "{service=\"%s\",mode=\"system\"}", s->name);
		fmt_seconds(v, sizeof(v), get(&s->cpu_sys_us));
		if (emit_value(b, "cpu_seconds_total", labels, v) == -1)
			return -1;
	}
	return 0;
}

/* Failures by whose fault they are, and the time run, by service. */
static int
format_service_faults(struct buf *b, uint32_t n)
{
	const struct stats_service *s;
	char			    labels[160], v[32];
	uint32_t		    i;

	for (i = 0; i < n; i++) {
		s = &stats->services[i];
		snprintf(labels, sizeof(labels),
		    "{service=\"%s\",fault="
		    "\"caller\"}",
		    s->name);
		COUNTER("failures_total",
		    i == 0 ?
			"Runs that did not "
			"succeed, by service and fault: caller (4xx) or service "
			"(5xx)." :
			NULL,
		    labels, get(&s->failures_caller));
		snprintf(labels, sizeof(labels),
		    "{service=\"%s\",fault="
		    "\"service\"}",
		    s->name);
		COUNTER("failures_total", NULL, labels,
		    get(&s->failures_service));
	}
	if (emit_head(b, "counter", "run_seconds_total",
		"Time spent "
		"running, calls and jobs, by service.") == -1)
		return -1;
	for (i = 0; i < n; i++) {
		s = &stats->services[i];
		snprintf(labels, sizeof(labels), "{service=\"%s\"}", s->name);
		fmt_seconds(v, sizeof(v),
		    get(&s->call.sum_us) + get(&s->job.sum_us));
		if (emit_value(b, "run_seconds_total", labels, v) == -1)
			return -1;
	}
	return format_cpu(b, n);
}

/* The samples of one service's histogram NAME. */
static int
format_hist(struct buf *b, const char *name, const char *service,
    const struct stats_hist *h)
{
	char	 sample[96], labels[160], v[32];
	uint64_t cum = 0;
	size_t	 i;

	snprintf(sample, sizeof(sample), "%s_bucket", name);
	for (i = 0; i <= STATS_BUCKETS; i++) {
		cum += get(&h->count[i]);
		snprintf(labels, sizeof(labels), "{service=\"%s\",le=\"%s\"}",
		    service, i < STATS_BUCKETS ? bucket_le[i] : "+Inf");
		snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
		if (emit_value(b, sample, labels, v) == -1)
			return -1;
	}
	snprintf(labels, sizeof(labels), "{service=\"%s\"}", service);
	snprintf(sample, sizeof(sample), "%s_sum", name);
	fmt_seconds(v, sizeof(v), get(&h->sum_us));
	if (emit_value(b, sample, labels, v) == -1)
		return -1;
	snprintf(sample, sizeof(sample), "%s_count", name);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
	return emit_value(b, sample, labels, v);
}

static int
format_services(struct buf *b)
{
	uint32_t i, n = __atomic_load_n(&stats->nservices, __ATOMIC_ACQUIRE);

	if (format_service_counts(b, n) == -1 ||
	    format_service_faults(b, n) == -1 ||
	    emit_head(b, "histogram", "call_duration_seconds",
		"How long "
		"calls and datagrams ran, by service.") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (format_hist(b, "call_duration_seconds",
			stats->services[i].name,
			&stats->services[i].call) == -1)
			return -1;
	if (emit_head(b, "histogram", "job_duration_seconds",
		"How long "
		"queued jobs ran, by service.") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (format_hist(b, "job_duration_seconds",
			stats->services[i].name,
			&stats->services[i].job) == -1)
			return -1;
	return 0;
}

/* Callers refused, one sample a reason. */
static int
format_refused(struct buf *b)
{
	char labels[64];
	int  r;

	for (r = 0; r < REFUSE_COUNT; r++) {
		snprintf(labels, sizeof(labels), "{reason=\"%s\"}",
		    refuse_name((enum refuse_reason)r));
		COUNTER("refused_total",
		    r == 0 ? "Callers refused, by reason." : NULL, labels,
		    get(&stats->refused[r]));
	}
	return 0;
}

/* The whole set, in Prometheus' text exposition format. */
int
stats_format(struct buf *b, size_t jobs_done)
{
	if (stats == NULL)
		return -1;
	GAUGE("uptime_seconds", "Seconds since the daemon started.", "",
	    (unsigned long long)(time(NULL) - stats->started));
	COUNTER("connections_total", "Stream connections accepted.", "",
	    get(&stats->connections));
	COUNTER("datagrams_total", "Datagrams received.", "",
	    get(&stats->datagrams));
	COUNTER("accept_pauses_total",
	    "Pauses in accepting connections, "
	    "out of descriptors or memory.",
	    "", get(&stats->accept_pauses));
	if (format_refused(b) == -1)
		return -1;
	COUNTER("datagrams_dropped_total", "Datagrams not run.", "",
	    get(&stats->dropped_datagrams));
	COUNTER("requests_total", "Requests received.", "",
	    get(&stats->requests));
	COUNTER("bad_requests_total", "Requests refused with a 4xx answer.",
	    "", get(&stats->bad_requests));
	COUNTER("request_timeouts_total",
	    "Requests not received in time "
	    "(408).",
	    "", get(&stats->request_timeouts));
	COUNTER("requests_too_large_total",
	    "Requests over max_request "
	    "(413).",
	    "", get(&stats->request_too_large));
	COUNTER("requests_cut_total",
	    "Original-form requests ended by "
	    "silence of which more arrived later.",
	    "", get(&stats->requests_cut));
	COUNTER("jobs_added_total", "Jobs queued.", "",
	    get(&stats->jobs_added));
	COUNTER("jobs_finished_total", "Jobs run to their end.", "",
	    get(&stats->jobs_finished));
	GAUGE("jobs", "Jobs in the spool, by state.", "{state=\"queued\"}",
	    __atomic_load_n(&stats->jobs_queued, __ATOMIC_RELAXED));
	GAUGE("jobs", NULL, "{state=\"running\"}",
	    __atomic_load_n(&stats->jobs_running, __ATOMIC_RELAXED));
	GAUGE("jobs", NULL, "{state=\"done\"}", jobs_done);
	GAUGE("children",
	    "Children of the master: connections, datagrams, "
	    "jobs.",
	    "", __atomic_load_n(&stats->children, __ATOMIC_RELAXED));
	COUNTER("reloads_total", "Configuration reloads, by result.",
	    "{result=\"ok\"}", get(&stats->reloads));
	COUNTER("reloads_total", NULL, "{result=\"failed\"}",
	    get(&stats->reload_failures));
	return format_services(b);
}
