/*
 * refuse.h: why callers are refused, counted by reason in the shared
 * counters (stats.h) and logged with a limit of lines per second, so
 * that a flood of refused callers cannot fill the log.
 */
#ifndef REFUSE_H
#define REFUSE_H

/* The reasons, as bgserviced_refused_total{reason=...} names them. */
enum refuse_reason {
	REFUSE_DENIED,	    /* an allow list */
	REFUSE_CREDENTIALS, /* allow_uid, allow_gid of a UNIX socket */
	REFUSE_TOKEN,	    /* a token missing or wrong */
	REFUSE_SIGNATURE,   /* a datagram unsigned, forged, stale, replayed */
	REFUSE_RATE,	    /* rate, source_rate */
	REFUSE_QUOTA,	    /* max_queued_per_source, max_running_... */
	REFUSE_PER_SOURCE,  /* max_per_source connections */
	REFUSE_BUSY,	    /* max_instances all running */
	REFUSE_QUEUE_FULL,  /* max_queue */
	REFUSE_TOO_LARGE,   /* max_request */
	REFUSE_TIMEOUT,	    /* request_timeout */
	REFUSE_COUNT
};

/* Log lines about refusals, all processes together, in one second. */
#define REFUSE_LOG_PER_SEC 20

const char *refuse_name(enum refuse_reason);
void	    refuse_count(enum refuse_reason);
void	    refuse_log(enum refuse_reason, const char *, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* REFUSE_H */
