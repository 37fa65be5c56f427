/*
 * statsfmt.c: the shared counters (stats.c) as the "stats" verb and GET
 * /metrics answer them, in Prometheus' text exposition format.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "refuse.h"
#include "stats.h"
#include "util.h"

/* The upper bounds of the latency buckets, as exposed (stats.c's). */
static const char *const bucket_le[STATS_BUCKETS] = { "0.001", "0.0025",
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
	"5", "10", "30", "60" };

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

/* A sample of NAME, US in seconds, of SERVICE and the labels MORE. */
static int
emit_seconds(struct buf *b, const char *name, const char *service,
    const char *more, uint64_t us)
{
	char labels[160], v[32];

	snprintf(labels, sizeof(labels), "{service=\"%s\"%s}", service, more);
	fmt_seconds(v, sizeof(v), us);
	return emit_value(b, name, labels, v);
}

/* CPU time of the runs of each of the N services, user and system. */
static int
format_cpu(struct buf *b, uint32_t n)
{
	struct stats_service *s;
	uint32_t	      i;

	if (emit_head(b, "counter", "cpu_seconds_total",
		"CPU time of the services' processes, calls and jobs, by "
		"service and mode.") == -1)
		return -1;
	for (i = 0; i < n; i++) {
		s = &stats->services[i];
		if (emit_seconds(b, "cpu_seconds_total", s->name,
			",mode=\"user\"", get(&s->cpu_user_us)) == -1 ||
		    emit_seconds(b, "cpu_seconds_total", s->name,
			",mode=\"system\"", get(&s->cpu_sys_us)) == -1)
			return -1;
	}
	return 0;
}

/* Failures by whose fault they are, and the time run, by service. */
static int
format_service_faults(struct buf *b, uint32_t n)
{
	const struct stats_service *s;
	char			    labels[160];
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
		if (emit_seconds(b, "run_seconds_total", s->name, "",
			get(&s->call.sum_us) + get(&s->job.sum_us)) == -1)
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

/* The histogram NAME of each of the N services: its jobs' (JOB) or calls'. */
static int
format_hists(struct buf *b, uint32_t n, int job, const char *name,
    const char *help)
{
	const struct stats_service *s;
	uint32_t		    i;

	if (emit_head(b, "histogram", name, help) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		s = &stats->services[i];
		if (format_hist(b, name, s->name, job ? &s->job : &s->call) ==
		    -1)
			return -1;
	}
	return 0;
}

static int
format_services(struct buf *b)
{
	uint32_t n = __atomic_load_n(&stats->nservices, __ATOMIC_ACQUIRE);

	if (format_service_counts(b, n) == -1 ||
	    format_service_faults(b, n) == -1 ||
	    format_hists(b, n, 0, "call_duration_seconds",
		"How long calls and datagrams ran, by service.") == -1 ||
	    format_hists(b, n, 1, "job_duration_seconds",
		"How long queued jobs ran, by service.") == -1)
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
