/*
 * page.c: the status page (GET /) and a job's page (GET /jobs/ID) of
 * the metrics listener, made in the connection child that serves them.
 *
 * Each is one self-contained HTML document: no script, nothing loaded
 * from elsewhere (the style and the SVG charts are inline), readable
 * without JavaScript, reloaded every PAGE_REFRESH seconds by a meta
 * refresh.  Nothing on them changes anything: no form, no button, no
 * link but to a job's page, the status page and /metrics.  Every text
 * that is not this file's own (a service's name, a job's message, the
 * configuration's path, the host's name) goes through page_escape().
 *
 * What they show is read here, never asked of the master: the shared
 * counters of stats.c, the rings and failed jobs of statsring.c, and the
 * spool as queue:list and queue:info read it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "page.h"
#include "queue.h"
#include "stats.h"

#define CHART_W	  (STATS_SLOTS * 8) /* pixels: a bar of 8 per interval */
#define CHART_H	  40
#define PAGE_LINE 1024 /* the longest formatted piece */

/* A page being made: once an append fails, the rest are skipped. */
struct html {
	struct buf *b;
	int	    failed;
};

static const char style[] =
    "body{font:14px/1.4 sans-serif;margin:1.5em;color:#222;"
    "background:#fff}"
    "h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.4em 0 "
    ".4em}"
    "table{border-collapse:collapse}th,td{padding:.25em .7em;text-align:"
    "left;border-bottom:1px solid #ddd;vertical-align:middle}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "th{background:#f3f3f3}.bad{color:#b00}.dim{color:#777}"
    "svg{display:block}footer{margin-top:2em;color:#777}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}"
    "dt{color:#555}dd{margin:0}";

/* Append S to B, with & < > " and ' as character references. */
int
page_escape(struct buf *b, const char *s)
{
	const char *p, *ref;

	for (p = s; *p != '\0'; p++) {
		switch (*p) {
		case '&':
			ref = "&amp;";
			break;
		case '<':
			ref = "&lt;";
			break;
		case '>':
			ref = "&gt;";
			break;
		case '"':
			ref = "&quot;";
			break;
		case '\'':
			ref = "&#39;";
			break;
		default:
			continue;
		}
		if (buf_append(b, s, p - s) == -1 ||
		    buf_append(b, ref, strlen(ref)) == -1)
			return -1;
		s = p + 1;
	}
	return buf_append(b, s, p - s);
}

/* Append the text S, escaped. */
static void
esc(struct html *h, const char *s)
{
	if (!h->failed && page_escape(h->b, s) == -1)
		h->failed = 1;
}

/* Append FMT formatted: this file's markup and numbers only. */
static void __attribute__((format(printf, 2, 3)))
put(struct html *h, const char *fmt, ...)
{
	char	line[PAGE_LINE];
	va_list ap;
	int	n;

	if (h->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    buf_append(h->b, line, n) == -1)
		h->failed = 1;
}

/* A span of S seconds for people: "42 s", "3 min 5 s", "2 h 1 min". */
static void
fmt_age(char *buf, size_t size, long long s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, size, "%lld s", s);
	else if (s < 3600)
		snprintf(buf, size, "%lld min %lld s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lld h %lld min", s / 3600, s / 60 % 60);
	else
		snprintf(buf, size, "%lld d %lld h", s / 86400, s / 3600 % 24);
}

/* A time(3) in UTC, ISO 8601. */
static void
fmt_time(char *buf, size_t size, time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
}

/* A latency bound of stats_quantile_us(): "&le; 2.5 ms", "-". */
static void
fmt_bound(char *buf, size_t size, uint64_t us)
{
	if (us == 0)
		snprintf(buf, size, "-");
	else if (us == UINT64_MAX)
		snprintf(buf, size, "&gt; 60 s");
	else if (us < 1000000)
		snprintf(buf, size, "&le; %g ms", (double)us / 1000);
	else
		snprintf(buf, size, "&le; %g s", (double)us / 1000000);
}

static void
head(struct html *h, const char *title)
{
	char host[256];

	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "?", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	put(h,
	    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"refresh\" content=\"%d\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width\">\n"
	    "<title>",
	    PAGE_REFRESH);
	esc(h, title);
	put(h, " \xe2\x80\x94 bgserviced on ");
	esc(h, host);
	put(h, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
	esc(h, title);
	put(h, " <span class=\"dim\">bgserviced on ");
	esc(h, host);
	put(h, "</span></h1>\n");
}

static void
foot(struct html *h)
{
	put(h,
	    "<footer>Read-only: nothing on this page changes the daemon. "
	    "It reloads every %d s. <a href=\"/\">Status</a> \xc2\xb7 "
	    "<a href=\"/metrics\">/metrics</a></footer>\n</body>\n</html>\n",
	    PAGE_REFRESH);
}

/* Uptime, version, configuration file, last reload. */
static void
daemon_facts(struct html *h, const struct config *conf)
{
	char   age[64], t[64];
	time_t now = time(NULL), at;

	fmt_age(age, sizeof(age), now - stats->started);
	fmt_time(t, sizeof(t), (time_t)stats->started);
	put(h,
	    "<dl id=\"daemon\">\n<dt>Version</dt><dd id=\"version\">%s</dd>\n"
	    "<dt>Up</dt><dd id=\"uptime\">%s, since %s</dd>\n"
	    "<dt>Configuration</dt><dd id=\"config\">",
	    BGS_VERSION, age, t);
	esc(h, conf->file);
	put(h, "</dd>\n<dt>Last reload</dt><dd id=\"reload\">");
	at = (time_t)__atomic_load_n(&stats->reload_at, __ATOMIC_ACQUIRE);
	if (at == 0)
		put(h, "none since the start");
	else {
		fmt_time(t, sizeof(t), at);
		fmt_age(age, sizeof(age), now - at);
		put(h, "%s (%s ago): <span class=\"%s\">%s</span>", t, age,
		    stats->reload_ok ? "ok" : "bad",
		    stats->reload_ok ? "ok" :
				       "failed, configuration unchanged");
	}
	put(h, "</dd>\n</dl>\n");
}

/* The bars of a chart: runs per interval, the failed ones in red. */
static void
chart_bars(struct html *h, const struct stats_slot *sl, uint64_t max)
{
	uint64_t y, f;
	size_t	 k;

	for (k = 0; k < STATS_SLOTS; k++) {
		if (sl[k].runs == 0)
			continue;
		y = sl[k].runs * (CHART_H - 2) / max + 1;
		f = sl[k].fails * (CHART_H - 2) / max + (sl[k].fails > 0);
		put(h,
		    "<rect x=\"%zu\" y=\"%llu\" width=\"6\" height=\"%llu\" "
		    "fill=\"#7a9cc6\"/>",
		    k * 8 + 1, (unsigned long long)(CHART_H - y),
		    (unsigned long long)y);
		if (f > 0)
			put(h,
			    "<rect x=\"%zu\" y=\"%llu\" width=\"6\" "
			    "height=\"%llu\" fill=\"#c44\"/>",
			    k * 8 + 1, (unsigned long long)(CHART_H - f),
			    (unsigned long long)f);
	}
}

/* The line of a chart: the mean time of a run per interval, dotted. */
static void
chart_line(struct html *h, const struct stats_slot *sl, uint64_t max)
{
	unsigned long long y[STATS_SLOTS];
	size_t		   k;
	int		   open = 0;

	for (k = 0; k < STATS_SLOTS; k++) {
		if (sl[k].runs == 0)
			continue;
		y[k] =
		    CHART_H - 3 - sl[k].ms / sl[k].runs * (CHART_H - 6) / max;
		put(h, "%s%zu,%llu", open ? " " : "<polyline points=\"",
		    k * 8 + 4, y[k]);
		open = 1;
	}
	if (open)
		put(h,
		    "\" fill=\"none\" stroke=\"#e08a00\" "
		    "stroke-width=\"1.5\"/>");
	for (k = 0; k < STATS_SLOTS; k++)
		if (sl[k].runs > 0)
			put(h,
			    "<circle cx=\"%zu\" cy=\"%llu\" r=\"2\" "
			    "fill=\"#e08a00\"/>",
			    k * 8 + 4, y[k]);
}

/* Service I's chart of the last STATS_SLOTS intervals, in a cell. */
static void
chart(struct html *h, uint32_t i, uint32_t now)
{
	struct stats_slot sl[STATS_SLOTS];
	uint64_t	  runs = 0, ms = 0, total = 0;
	size_t		  k;

	if (stats_history(i, now, sl) == -1) {
		put(h, "<td class=\"dim\">not charted</td>");
		return;
	}
	for (k = 0; k < STATS_SLOTS; k++) {
		runs = sl[k].runs > runs ? sl[k].runs : runs;
		if (sl[k].runs > 0 && sl[k].ms / sl[k].runs > ms)
			ms = sl[k].ms / sl[k].runs;
		total += sl[k].runs;
	}
	put(h,
	    "<td class=\"chart\" title=\"%llu runs in %d min; per %d s: at "
	    "most %llu runs, a mean of at most %llu ms\">"
	    "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	    "role=\"img\" aria-label=\"runs and mean time per %d s\">"
	    "<rect width=\"%d\" height=\"%d\" fill=\"#f6f6f6\"/>",
	    (unsigned long long)total, STATS_SLOTS * STATS_SLOT_SEC / 60,
	    STATS_SLOT_SEC, (unsigned long long)runs, (unsigned long long)ms,
	    CHART_W, CHART_H, CHART_W, CHART_H, STATS_SLOT_SEC, CHART_W,
	    CHART_H);
	if (runs > 0) {
		chart_bars(h, sl, runs);
		chart_line(h, sl, ms > 0 ? ms : 1);
	}
	put(h, "</svg></td>");
}

/* Service slot I's row. */
static void
service_row(struct html *h, const struct config *conf, uint32_t i,
    uint32_t now)
{
	const struct stats_service *s = &stats->services[i];
	char			    p50[32], p99[32];
	uint64_t		    fc, fs;

	fc = __atomic_load_n(&s->failures_caller, __ATOMIC_RELAXED);
	fs = __atomic_load_n(&s->failures_service, __ATOMIC_RELAXED);
	fmt_bound(p50, sizeof(p50), stats_quantile_us(s, 0.5));
	fmt_bound(p99, sizeof(p99), stats_quantile_us(s, 0.99));
	put(h, "<tr data-service=\"");
	esc(h, s->name);
	put(h, "\"><td class=\"name\">");
	esc(h, s->name);
	if (i > 0 && config_service(conf, s->name) == NULL)
		put(h, " <span class=\"dim\">(no longer configured)</span>");
	put(h,
	    "</td><td class=\"n calls\">%llu</td><td class=\"n jobs\">%llu"
	    "</td><td class=\"n failures%s\" title=\"service %llu, caller "
	    "%llu\">%llu</td><td class=\"n timeouts\">%llu</td>"
	    "<td class=\"n p50\">%s</td><td class=\"n p99\">%s</td>",
	    (unsigned long long)__atomic_load_n(&s->calls, __ATOMIC_RELAXED),
	    (unsigned long long)__atomic_load_n(&s->jobs, __ATOMIC_RELAXED),
	    fc + fs > 0 ? " bad" : "", (unsigned long long)fs,
	    (unsigned long long)fc, (unsigned long long)(fc + fs),
	    (unsigned long long)__atomic_load_n(&s->timeouts,
		__ATOMIC_RELAXED),
	    p50, p99);
	chart(h, i, now);
	put(h, "</tr>\n");
}

/* Per service: counts, latency, the chart; "other" once it counted. */
static void
services(struct html *h, const struct config *conf)
{
	uint32_t i, n = __atomic_load_n(&stats->nservices, __ATOMIC_ACQUIRE);
	uint32_t now = stats_interval();

	put(h,
	    "<h2>Services</h2>\n<table id=\"services\">\n<tr><th>Service</th>"
	    "<th>Calls</th><th>Jobs</th><th>Failures</th><th>Timeouts</th>"
	    "<th>p50</th><th>p99</th><th>Last %d min: runs per %d s "
	    "<span class=\"bad\">(failed)</span>, mean time</th></tr>\n",
	    STATS_SLOTS * STATS_SLOT_SEC / 60, STATS_SLOT_SEC);
	for (i = 1; i < n; i++)
		service_row(h, conf, i, now);
	if (stats->services[0].calls + stats->services[0].jobs > 0)
		service_row(h, conf, 0, now);
	put(h, "</table>\n");
}

/* What queue:list says: jobs by state, the oldest queued one's time. */
static int
queue_counts(size_t count[3], long long *oldest)
{
	struct buf  list = { 0 };
	char	    id[JOB_ID_MAX + 1], state[16], sv[SERVICE_NAME_MAX + 1];
	const char *p, *nl;
	long long   t;
	int	    k;

	if (queue_list(&list) == -1) {
		buf_free(&list);
		return -1;
	}
	*oldest = -1;
	for (p = list.data; p != NULL && p < list.data + list.len;
	     p = nl + 1) {
		if ((nl = memchr(p, '\n', list.data + list.len - p)) == NULL)
			break;
		if (sscanf(p, "%25s %15s %64s %lld", id, state, sv, &t) != 4)
			continue;
		for (k = 0; k < 4 && strcmp(state, proto_state_name(k)) != 0;
		     k++)
			;
		if (k == JOB_FAILED)
			k = JOB_DONE;
		if (k < 3)
			count[k]++;
		if (k == JOB_QUEUED && (*oldest == -1 || t < *oldest))
			*oldest = t;
	}
	buf_free(&list);
	return 0;
}

/* The queue by state, with the oldest queued job's age. */
static void
queue_table(struct html *h)
{
	size_t	  c[3] = { 0, 0, 0 };
	long long oldest;
	char	  age[64];

	put(h, "<h2>Queue</h2>\n");
	if (queue_counts(c, &oldest) == -1) {
		put(h, "<p class=\"bad\">The spool cannot be read.</p>\n");
		return;
	}
	if (oldest == -1)
		snprintf(age, sizeof(age), "-");
	else
		fmt_age(age, sizeof(age), (long long)time(NULL) - oldest);
	put(h,
	    "<table id=\"queue\">\n<tr><th>Queued</th><td class=\"n "
	    "queued\">%zu</td></tr>\n<tr><th>Running</th><td class=\"n "
	    "running\">%zu</td></tr>\n<tr><th>Done, kept</th><td class=\"n "
	    "done\">%zu</td></tr>\n<tr><th>Oldest queued job waits</th>"
	    "<td class=\"n oldest\">%s</td></tr>\n</table>\n",
	    c[JOB_QUEUED], c[JOB_RUNNING], c[JOB_DONE], age);
}

/* The last failed jobs, newest first. */
static void
failed_jobs(struct html *h)
{
	struct stats_failed f[STATS_FAILED];
	size_t		    i, n = stats_failed_recent(f, STATS_FAILED);
	char		    t[64], age[64];

	put(h, "<h2>Last failed jobs</h2>\n");
	if (n == 0) {
		put(h,
		    "<p id=\"failed\" class=\"dim\">None since the "
		    "start.</p>\n");
		return;
	}
	put(h,
	    "<table id=\"failed\">\n<tr><th>Job</th><th>Service</th>"
	    "<th>Code</th><th>Message</th><th>Ended</th></tr>\n");
	for (i = 0; i < n; i++) {
		fmt_time(t, sizeof(t), (time_t)f[i].when);
		fmt_age(age, sizeof(age), (long long)(time(NULL) - f[i].when));
		put(h, "<tr class=\"failed-job\"><td class=\"id\"><a href=\"");
		esc(h, HTTP_JOBS);
		esc(h, f[i].id);
		put(h, "\">");
		esc(h, f[i].id);
		put(h, "</a></td><td class=\"service\">");
		esc(h, f[i].service);
		put(h,
		    "</td><td class=\"n code\">%d</td><td class=\"message\">",
		    (int)f[i].code);
		esc(h, f[i].message);
		put(h, "</td><td>%s (%s ago)</td></tr>\n", t, age);
	}
	put(h, "</table>\n");
}

/* Callers refused, by reason, as bgserviced_refused_total counts them. */
static void
refusals(struct html *h)
{
	int r;

	put(h, "<h2>Refusals</h2>\n<table id=\"refusals\">\n");
	for (r = 0; r < REFUSE_COUNT; r++)
		put(h, "<tr><th>%s</th><td class=\"n %s\">%llu</td></tr>\n",
		    refuse_name(r), refuse_name(r),
		    (unsigned long long)__atomic_load_n(&stats->refused[r],
			__ATOMIC_RELAXED));
	put(h, "</table>\n");
}

/* The status page, for the daemon configured by CONF.  0, or -1. */
int
page_status(struct buf *b, const struct config *conf)
{
	struct html h = { b, 0 };

	if (stats == NULL) {
		errno = ENOENT;
		return -1;
	}
	head(&h, "Status");
	daemon_facts(&h, conf);
	services(&h, conf);
	queue_table(&h);
	failed_jobs(&h);
	refusals(&h);
	foot(&h);
	if (h.failed)
		errno = ENOMEM;
	return h.failed ? -1 : 0;
}

/*
 * Job ID's page: what queue:info answers, as a table.  0, or -1 (with
 * ENOENT when there is no such job).
 */
int
page_job(struct buf *b, const struct config *conf, const char *id)
{
	struct html h = { b, 0 };
	struct buf  info = { 0 };
	const char *p, *nl, *sp;
	char	    key[64], value[PROTO_INFO_MAX];

	if (queue_state(id) == JOB_NONE || queue_info(conf, id, &info) == -1) {
		buf_free(&info);
		errno = ENOENT;
		return -1;
	}
	head(&h, "Job");
	put(&h, "<table id=\"job\">\n");
	for (p = info.data; p < info.data + info.len; p = nl + 1) {
		if ((nl = memchr(p, '\n', info.data + info.len - p)) == NULL ||
		    (sp = memchr(p, ' ', nl - p)) == NULL)
			break;
		snprintf(key, sizeof(key), "%.*s", (int)(sp - p), p);
		snprintf(value, sizeof(value), "%.*s", (int)(nl - sp - 1),
		    sp + 1);
		put(&h, "<tr><th>");
		esc(&h, key);
		put(&h, "</th><td class=\"");
		esc(&h, key);
		put(&h, "\">");
		esc(&h, value);
		put(&h, "</td></tr>\n");
	}
	put(&h, "</table>\n");
	foot(&h);
	buf_free(&info);
	return h.failed ? -1 : 0;
}
