/*
 * service.c: admitting a caller to a service, and running the service
 * for its request: one path for every transport (see service.h).
 *
 * Admission is decided in the process that read the request (a
 * connection or datagram child), against the configuration it was forked
 * with; a queued job was admitted when it was added, and its run only
 * takes an instance.  The run itself is childrun.c's.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "rate.h"
#include "refuse.h"
#include "service.h"
#include "slot.h"
#include "stats.h"

static const struct {
	enum proto_err	   err;	   /* the caller's answer */
	enum refuse_reason reason; /* counted as; REFUSE_COUNT: not */
	const char	  *log;	   /* the log's, with the service's name */
} refusals[] = {
	[ADMIT_OK] = { ERR_NONE, REFUSE_COUNT, "" },
	[ADMIT_UNKNOWN] = { ERR_UNKNOWN_REQUEST, REFUSE_COUNT,
	    "unknown service" },
	[ADMIT_TRANSPORT] = { ERR_NOT_TCP, REFUSE_COUNT,
	    "not available over" },
	[ADMIT_DENIED] = { ERR_DENIED, REFUSE_DENIED, "not allowed to use" },
	[ADMIT_TOKEN] = { ERR_TOKEN, REFUSE_TOKEN, "no right token for" },
	[ADMIT_RATE] = { ERR_RATE, REFUSE_RATE, "over the rate limit of" },
	[ADMIT_UNSIGNED] = { ERR_DENIED, REFUSE_SIGNATURE, "not signed for" },
	[ADMIT_QUOTA] = { ERR_QUOTA, REFUSE_QUOTA,
	    "max_queued_per_source jobs queued for" },
	[ADMIT_BUSY] = { ERR_BUSY, REFUSE_BUSY, "busy" },
	[ADMIT_QUEUE_FULL] = { ERR_QUEUE_FULL, REFUSE_QUEUE_FULL,
	    "queue full for" },
};

/* The answer to a caller refused for WHY. */
enum proto_err
service_refusal(enum admit why)
{
	return refusals[why].err;
}

/* Say and count that CALL was refused or dropped for WHY. */
static enum admit
refused(struct service_call *call, enum admit why)
{
	const char *what = call->dgram ? "dropped" : "refused";

	if (call->dgram)
		STATS_INC(dropped_datagrams);
	if (why == ADMIT_TRANSPORT)
		log_info("%s: %s %s: %s: service %s is not available over %s",
		    call->who, call->verb, call->name, what, call->name,
		    call->dgram ? "udp" : "tcp");
	else if (why == ADMIT_UNKNOWN)
		log_info("%s: %s %s: %s: unknown service %s", call->who,
		    call->verb, call->name, what, call->name);
	else if (why == ADMIT_BUSY)
		refuse_log(REFUSE_BUSY,
		    "%s: %s %s: %s: service %s busy, %d "
		    "running",
		    call->who, call->verb, call->name, what, call->name,
		    call->sv->max_instances);
	else
		refuse_log(refusals[why].reason, "%s: %s %s: %s: %s %s",
		    call->who, call->verb, call->name, what, refusals[why].log,
		    call->name);
	return why;
}

/* Is TOKEN one of LIST?  Every entry is compared, each in constant time. */
static int
token_listed(const char *token, char *const *list)
{
	unsigned char a[TOKEN_MAX + 1], b[TOKEN_MAX + 1];
	int	      found = 0;

	memset(a, 0, sizeof(a));
	strlcpy((char *)a, token, sizeof(a));
	for (; *list != NULL; list++) {
		memset(b, 0, sizeof(b));
		strlcpy((char *)b, *list, sizeof(b));
		found |= sodium_memcmp(a, b, sizeof(a)) == 0;
	}
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
	return found;
}

/*
 * Does CALL present a token its service requires (the service's tokens,
 * else the global ones)?  With none presented, allow_untokened decides.
 */
static int
token_ok(const struct config *conf, const struct service_call *call)
{
	const struct admit_conf *a = &call->sv->admit;
	char *const		*list;
	int			 untokened;

	list = a->tokens != NULL ? a->tokens : conf->admit.tokens;
	if (list == NULL || call->signed_ok)
		return 1;
	if (call->token == NULL) {
		untokened = a->allow_untokened != -1 ?
		    a->allow_untokened :
		    conf->admit.allow_untokened;
		return untokened == 1;
	}
	return token_listed(call->token, list);
}

/* Has CALL's source max_queued_per_source jobs queued already? */
static int
over_quota(const struct config *conf, const struct service_call *call)
{
	long long max = call->sv->admit.max_queued_per_source != -1 ?
	    call->sv->admit.max_queued_per_source :
	    conf->admit.max_queued_per_source;
	unsigned  queued, running;

	if (max <= 0)
		return 0;
	quota_count(rate_source(call->peer), &queued, &running);
	return queued >= (unsigned)max;
}

/* Are max_queue jobs queued and running? */
static int
queue_full(const struct config *conf)
{
	if (stats == NULL)
		return 0;
	return (int)(__atomic_load_n(&stats->jobs_queued, __ATOMIC_RELAXED) +
		   __atomic_load_n(&stats->jobs_running, __ATOMIC_RELAXED)) >=
	    conf->limits.max_queue;
}

/*
 * May CALL's caller use the service it names, over its transport, now?
 * Sets CALL->sv; a refusal is logged and counted here, and answered (or
 * the datagram dropped) by the caller.
 */
enum admit
service_admit(const struct config *conf, struct service_call *call)
{
	const struct service *sv;

	if ((sv = call->sv = config_service(conf, call->name)) == NULL)
		return refused(call, ADMIT_UNKNOWN);
	if (call->dgram ? !sv->udp : !sv->tcp)
		return refused(call, ADMIT_TRANSPORT);
	/* A UNIX-socket caller was let in by its credentials. */
	if (call->peer->ip[0] != '\0' &&
	    !addr_allowed(&sv->allow, &call->peer->addr))
		return refused(call, ADMIT_DENIED);
	if (call->dgram && !call->signed_ok &&
	    (sv->admit.udp_signed != -1 ? sv->admit.udp_signed :
					  conf->admit.udp_signed) == 1)
		return refused(call, ADMIT_UNSIGNED);
	if (!token_ok(conf, call))
		return refused(call, ADMIT_TOKEN);
	if (rate_take(conf, sv, call->peer, &call->retry) == -1)
		return refused(call, ADMIT_RATE);
	if (strcmp(call->verb, "add") != 0 || call->keyed_job)
		return ADMIT_OK;
	if (queue_full(conf))
		return refused(call, ADMIT_QUEUE_FULL);
	if (over_quota(conf, call))
		return refused(call, ADMIT_QUOTA);
	return ADMIT_OK;
}

/* How RES ended for CALL: its code and text in CALL. */
static void
judge(struct service_call *call, const struct run_result *res)
{
	call->why[0] = '\0';
	if (call->judge != NULL && (call->code = call->judge(call, res)) != 0)
		return;
	call->code = child_ok(res) ?
	    PROTO_DONE :
	    child_describe(call->sv, res, call->why, sizeof(call->why));
}

/*
 * Run CALL's service (admitted: CALL->sv set) on CALL's data: take an
 * instance, run, give it back, count and log how it ended.  RUN_DONE
 * with RES and CALL->code; RUN_BUSY when all instances were taken (a
 * caller is refused: said and counted here; a queued job is put back in
 * the queue by its runner); RUN_DECLINED when CALL's starting hook said
 * no.
 */
enum run_end
service_run(const struct config *conf, struct service_call *call,
    struct run_result *res)
{
	const struct service *sv = call->sv;
	struct run_ctx	      ctx = { call->peer, call->job_id };
	struct slot	      slot;

	if (slot_take(sv, &slot) == -1) {
		if (call->job_id == NULL)
			(void)refused(call, ADMIT_BUSY);
		return RUN_BUSY;
	}
	if (call->starting != NULL && call->starting(call) == -1) {
		slot_give(&slot);
		return RUN_DECLINED;
	}
	setproctitle("%s %s from %s", call->verb, sv->name, call->who);
	(void)child_run(sv, &conf->limits, &ctx, call->data, call->len, res);
	slot_give(&slot);
	judge(call, res);
	stats_run(sv, call->job_id != NULL, call->code, res);
	if (call->code == PROTO_DONE)
		log_info("%s: %s %s: ok, %zu bytes in %lld ms", call->who,
		    call->verb, sv->name, res->out.len, res->ms);
	else
		log_info("%s: %s %s: %d %s (%lld ms)", call->who, call->verb,
		    sv->name, call->code, call->why, res->ms);
	return RUN_DONE;
}
