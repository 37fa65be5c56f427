/*
 * refuse.c: refusals counted by reason, and their log lines limited to
 * REFUSE_LOG_PER_SEC a second across the master and all its children.
 * The window lives in the shared counters (stats.c): the first refusal
 * of a new second says how many of the last window's went unlogged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "refuse.h"
#include "stats.h"

static const char *const names[REFUSE_COUNT] = {
	[REFUSE_DENIED] = "denied",
	[REFUSE_CREDENTIALS] = "credentials",
	[REFUSE_TOKEN] = "token",
	[REFUSE_SIGNATURE] = "signature",
	[REFUSE_RATE] = "rate",
	[REFUSE_QUOTA] = "quota",
	[REFUSE_PER_SOURCE] = "per_source",
	[REFUSE_BUSY] = "busy",
	[REFUSE_QUEUE_FULL] = "queue_full",
	[REFUSE_TOO_LARGE] = "too_large",
	[REFUSE_TIMEOUT] = "timeout",
};

const char *
refuse_name(enum refuse_reason why)
{
	return why < REFUSE_COUNT ? names[why] : "?";
}

void
refuse_count(enum refuse_reason why)
{
	if (why < REFUSE_COUNT)
		STATS_INC(refused[why]);
}

/*
 * May one more refusal be logged in this second?  The first of a new
 * second says how many of the last one's were not.
 */
static int
may_log(void)
{
	int64_t	 sec = (int64_t)time(NULL), was;
	uint64_t skipped;

	if (stats == NULL)
		return 1;
	was = __atomic_load_n(&stats->refuse_log_sec, __ATOMIC_ACQUIRE);
	if (was != sec &&
	    __atomic_compare_exchange_n(&stats->refuse_log_sec, &was, sec, 0,
		__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
		__atomic_store_n(&stats->refuse_log_lines, 0,
		    __ATOMIC_RELEASE);
		skipped = __atomic_exchange_n(&stats->refuse_log_skipped, 0,
		    __ATOMIC_ACQ_REL);
		if (skipped > 0)
			log_info("%llu more refusals not logged",
			    (unsigned long long)skipped);
	}
	if (__atomic_fetch_add(&stats->refuse_log_lines, 1, __ATOMIC_ACQ_REL) <
	    REFUSE_LOG_PER_SEC)
		return 1;
	__atomic_fetch_add(&stats->refuse_log_skipped, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Count a refusal for WHY, and log FMT with the reason, if in the limit. */
void
refuse_log(enum refuse_reason why, const char *fmt, ...)
{
	va_list ap;
	char	line[512];

	refuse_count(why);
	if (!may_log())
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info("%s (%s)", line, refuse_name(why));
}
