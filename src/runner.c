/*
 * runner.c: one queued job's process.  The master (sched.c) forks it for
 * a job; it claims the job in the spool, runs its service through the
 * one run path (service.c) and publishes the result, then exits with a
 * status that tells the master what became of the job.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "deps.h"
#include "hook.h"
#include "log.h"
#include "runner.h"
#include "service.h"
#include "sig.h"
#include "spool.h"
#include "stats.h"

/* Backoff between tries to write a full spool, in milliseconds. */
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000

/* A stopped run: cancelled by request, or the daemon stopped. */
static int
judge_stopped(const struct service_call *call, const struct run_result *run)
{
	struct service_call *c = (struct service_call *)call;
	int		     code;

	if (!run->cancelled)
		return 0;
	if (spool_cancelled(call->job_id)) {
		strlcpy(c->why, proto_err_text(ERR_JOB_CANCELLED),
		    sizeof(c->why));
		return proto_err_code(ERR_JOB_CANCELLED);
	}
	code = child_describe(call->sv, run, c->why, sizeof(c->why));
	strlcpy(c->why, proto_err_text(ERR_JOB_INTERRUPTED), sizeof(c->why));
	return code;
}

/* Job ID's result from how its run ended. */
static void
result_from_run(const struct service_call *call, const struct run_result *run,
    struct job_result *jr)
{
	memset(jr, 0, sizeof(*jr));
	jr->started = run->start;
	jr->ended = run->end;
	jr->ms = run->ms;
	jr->cpu_user_ms = run->cpu_user_us / 1000;
	jr->cpu_sys_ms = run->cpu_sys_us / 1000;
	jr->max_rss_kib = run->max_rss_kib;
	jr->code = call->code;
	if (call->code == PROTO_DONE) {
		strlcpy(jr->how, "exit 0", sizeof(jr->how));
		jr->out = run->out;
		return;
	}
	strlcpy(jr->message, call->why, sizeof(jr->message));
	if (run->cancelled)
		strlcpy(jr->how,
		    call->code == proto_err_code(ERR_JOB_CANCELLED) ?
			"cancelled" :
			"interrupted",
		    sizeof(jr->how));
	else if (!run->spawned)
		strlcpy(jr->how, "error", sizeof(jr->how));
	else if (run->timed_out)
		strlcpy(jr->how, "timeout", sizeof(jr->how));
	else if (run->overflow)
		strlcpy(jr->how, "overflow", sizeof(jr->how));
	else if (WIFSIGNALED(run->status))
		snprintf(jr->how, sizeof(jr->how), "signal %d",
		    WTERMSIG(run->status));
	else
		snprintf(jr->how, sizeof(jr->how), "exit %d",
		    WEXITSTATUS(run->status));
}

/*
 * Publish JR, job ID's result, even if the spool is full or failing now:
 * the result is kept here and tried again, waiting longer each time (at
 * most RETRY_MAX_MS), until it is published or the runner must stop.  A
 * runner stopped first notes in the job's .run that it ran to its end,
 * if it did (ENDED).
 */
static int
publish_result(const char *id, const struct job_result *jr, int ended)
{
	struct timespec ts;
	int		ms = RETRY_MIN_MS, tries = 0;

	while (spool_finish(id, jr) == -1 && errno != EEXIST) {
		if (tries++ == 0)
			log_warn("job %s: cannot publish its result, keeping "
				 "it and trying again",
			    id);
		if (sig_term) {
			if (ended && spool_run_done(id, jr) == -1)
				log_warn("job %s: result lost", id);
			return -1;
		}
		(void)ppoll(NULL, 0, ms_timespec(&ts, ms), &sig_waitmask);
		ms = ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : ms * 2;
	}
	if (tries > 0)
		log_info("job %s: result published after %d more tries", id,
		    tries);
	return 0;
}

/*
 * Load job ID's request.  Returns -1 to go on, or the runner's exit
 * status: RUNNER_RETRY when the spool could not be read (the master
 * queues the job again), 0 when there is nothing to do.
 */
static int
job_load(const char *id, struct job_req *req)
{
	if (spool_load_req(id, req) == 0)
		return -1;
	if (errno == ENOENT)
		return 0; /* removed meanwhile */
	log_warn("job %s: cannot read its request", id);
	if (errno == EINVAL &&
	    spool_finish_now(id, ERR_JOB_UNREADABLE, "error") == 0)
		return 0;
	return RUNNER_RETRY;
}

/* What a runner that claims its job is told: its exit status if not. */
struct claim {
	pid_t	       master;
	int	       status;
	struct job_try t; /* the attempt it counted */
};

/* The longest wait before a retry, in milliseconds (a week). */
#define RETRY_WAIT_MAX (7 * 86400000.0)

/*
 * Count the attempt CALL's job is about to make, durably, before it
 * starts: a crash from here on counts it.  -1 (the runner's exit status
 * in the claim) if it is not to run: its attempts were all made (the
 * last one died with the daemon before its service started).
 */
static int
attempt_count(struct service_call *call)
{
	struct claim *cl = call->arg;
	const char   *id = call->job_id;

	if (spool_load_try(id, &cl->t) == -1) {
		log_warn("job %s: cannot read its attempts, will retry", id);
		cl->status = RUNNER_RETRY;
		return -1;
	}
	cl->t.max = 1 + call->sv->retries;
	if (cl->t.attempts >= cl->t.max) {
		log_info("job %s: its %d attempts were made", id,
		    cl->t.attempts);
		if (spool_finish_now(id, ERR_JOB_INTERRUPTED, "interrupted") ==
			-1 &&
		    errno != EEXIST)
			cl->status = RUNNER_RETRY;
		return -1;
	}
	cl->t.attempts++;
	cl->t.not_before_ms = 0;
	if (spool_save_try(id, &cl->t) == -1) {
		log_warn("job %s: cannot count its attempt, will retry", id);
		cl->status = RUNNER_RETRY;
		return -1;
	}
	return 0;
}

/*
 * The attempt T counted for job ID did not start: take it back (a first
 * one always can be, even on a full disk: its .try is removed).
 */
static void
attempt_uncount(const char *id, struct job_try *t)
{
	t->attempts--;
	if (spool_save_try(id, t) == -1)
		log_warn("job %s: its attempt %d, which did not start, stays "
			 "counted",
		    id, t->attempts + 1);
}

/*
 * Claim CALL's job, with an instance of its service held: mark it
 * running.  -1, and the runner's exit status in the claim, if the job
 * is not to run.
 */
static int
job_claim(struct service_call *call)
{
	struct claim *cl = call->arg;
	const char   *id = call->job_id;

	cl->status = 0;
	if (getppid() != cl->master)
		return -1; /* it died meanwhile: the next one runs it */
	if (spool_state(id) != JOB_QUEUED || attempt_count(call) == -1)
		return -1;
	if (spool_mark_running(id, getpid()) == -1) {
		if (errno != EEXIST) { /* EEXIST: started before */
			log_warn("job %s: cannot mark it running, will retry",
			    id);
			cl->status = RUNNER_RETRY;
			attempt_uncount(id, &cl->t);
		}
		return -1;
	}
	/* Held until we are gone: see spool_run_hold(). */
	if (spool_run_hold(id) == -1)
		log_warn("job %s: cannot lock its run", id);
	if (spool_state(id) == JOB_DONE) /* cancelled meanwhile */
		return -1;
	return 0;
}

/*
 * Take job ID, as the runner of MASTER, to end it without running it:
 * -1 once it is marked ours, else the runner's exit status (0: another
 * has it, or the master is gone; RUNNER_RETRY: the spool failed).
 */
static int
job_take(const char *id, pid_t master)
{
	if (getppid() != master)
		return 0;
	if (spool_mark_running(id, getpid()) == -1) {
		if (errno == EEXIST)
			return 0;
		log_warn("job %s: cannot mark it running, will retry", id);
		return RUNNER_RETRY;
	}
	return -1;
}

/* Job ID's service is no longer configured: say so as its result. */
static int
job_orphan(const char *id, const char *service, pid_t master)
{
	int r;

	if ((r = job_take(id, master)) != -1)
		return r;
	log_info("job %s: service %s is no longer configured", id, service);
	stats_job_failed(id, service, proto_err_code(ERR_UNKNOWN_REQUEST),
	    proto_err_text(ERR_UNKNOWN_REQUEST));
	if (spool_finish_now(id, ERR_UNKNOWN_REQUEST, "error") == -1 &&
	    errno != EEXIST)
		log_warn("job %s: cannot publish its result", id);
	return 0;
}

/* Which retry_on outcome RUN was (RETRY_ON_ bits), 0: none of them. */
static int
retry_kind(const struct run_result *run)
{
	if (!run->spawned || run->overflow || run->bad_input ||
	    run->bad_output)
		return 0;
	if (run->timed_out)
		return RETRY_ON_TIMEOUT;
	if (WIFSIGNALED(run->status))
		return RETRY_ON_SIGNAL;
	if (WIFEXITED(run->status) && WEXITSTATUS(run->status) != 0)
		return RETRY_ON_EXIT;
	return 0;
}

/*
 * Is CALL's job, whose attempt ended as RUN and JR say, to be tried
 * again?  Stopped with the daemon, with attempts left, it is, at once
 * (its .run stays: the master, or the next start, queues it).  Failed
 * as its service's retry_on says, with attempts left, it is, after
 * retry_delay * retry_backoff^(attempts - 1) seconds, give or take 10%
 * (arc4random), written in its .try.  0 if so.
 */
static int
attempt_again(struct service_call *call, const struct run_result *run,
    const struct job_result *jr)
{
	struct claim	     *cl = call->arg;
	const struct service *sv = call->sv;
	double		      wait = sv->retry_delay * 1000.0;
	int		      i;

	if (jr->code == PROTO_DONE || cl->t.attempts >= cl->t.max ||
	    (run->cancelled && spool_cancelled(call->job_id)))
		return -1;
	if (run->cancelled) {
		log_info("job %s: attempt %d of %d stopped, to run again",
		    call->job_id, cl->t.attempts, cl->t.max);
		return 0;
	}
	if ((retry_kind(run) & sv->retry_on) == 0)
		return -1;
	for (i = 1; i < cl->t.attempts && wait < RETRY_WAIT_MAX; i++)
		wait *= sv->retry_backoff;
	wait *= 0.9 + arc4random_uniform(2001) / 10000.0;
	cl->t.not_before_ms = wall_ms() +
	    (long long)(wait < RETRY_WAIT_MAX ? wait : RETRY_WAIT_MAX);
	if (spool_save_try(call->job_id, &cl->t) == -1) {
		log_warn("job %s: cannot queue it again", call->job_id);
		return -1;
	}
	log_info("job %s: attempt %d of %d failed (%s), next in %lld ms",
	    call->job_id, cl->t.attempts, cl->t.max, jr->how,
	    cl->t.not_before_ms - wall_ms());
	return 0;
}

/*
 * Job ID of SV waits for a job that did not succeed (WHY says which):
 * publish that as its result, without running it, then run on_done.
 */
static int
job_dep_failed(const struct config *conf, const struct service *sv,
    const char *id, const char *why, pid_t master)
{
	struct job_result jr;
	int		  r;

	if ((r = job_take(id, master)) != -1)
		return r;
	if (spool_state(id) == JOB_DONE) /* cancelled meanwhile */
		return 0;
	memset(&jr, 0, sizeof(jr));
	jr.code = proto_err_code(ERR_DEP_FAILED);
	strlcpy(jr.how, "dependency", sizeof(jr.how));
	strlcpy(jr.message, why, sizeof(jr.message));
	clock_gettime(CLOCK_REALTIME, &jr.ended);
	jr.started = jr.ended;
	log_info("job %s: %s", id, why);
	stats_job_failed(id, sv->name, jr.code, jr.message);
	if (publish_result(id, &jr, 1) == 0)
		hook_done(conf, sv, id, &jr, NULL);
	return 0;
}

/* Run the service of CALL's job and publish its result. */
static int
job_execute(const struct config *conf, struct service_call *call)
{
	struct claim	 *cl = call->arg;
	struct job_result jr;
	struct run_result run;

	switch (service_run(conf, call, &run)) {
	case RUN_BUSY:
		return RUNNER_BUSY; /* the master queues it again */
	case RUN_DECLINED:
		return cl->status;
	case RUN_DONE:
		break;
	}
	result_from_run(call, &run, &jr);
	if (attempt_again(call, &run, &jr) == 0) {
		child_result_free(&run);
		return RUNNER_AGAIN;
	}
	if (publish_result(call->job_id, &jr, !run.cancelled) == 0)
		hook_done(conf, call->sv, call->job_id, &jr, &run.out);
	if (proto_code_failed(jr.code))
		stats_job_failed(call->job_id, call->sv->name, jr.code,
		    jr.message);
	child_result_free(&run);
	return 0;
}

/*
 * The runner: claim the job, run its service, publish the result.  It
 * dies with the master (PR_SET_PDEATHSIG), stopping its service, so that
 * a job never runs twice; MASTER is the pid of the master that forked
 * it, taken before the fork.  DEP, when the master found the job doomed
 * by a dependency that did not succeed, is that one's id: the job is
 * failed, not run (deps.c).  Returns the runner's exit status:
 * RUNNER_BUSY when the service's instances were all taken, RUNNER_RETRY
 * when the spool could not be written (the master queues the job again),
 * RUNNER_HOLD when DEP was retried since (the master judges it again).
 */
int
runner_main(const struct config *conf, const char *id, pid_t master,
    const char *dep)
{
	struct service_call call;
	struct claim	    cl = { .master = master };
	struct job_req	    req;
	struct peer	    peer;
	char		    who[JOB_ID_MAX + 8], why[256];
	int		    r;

	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		return 0; /* it died before the line above */
	if ((r = job_load(id, &req)) != -1)
		return r;
	memset(&peer, 0, sizeof(peer));
	peer.transport = req.transport[0] ? req.transport : "tcp";
	strlcpy(peer.ip, req.ip, sizeof(peer.ip));
	strlcpy(peer.port, req.port, sizeof(peer.port));
	snprintf(who, sizeof(who), "job %s", id);
	memset(&call, 0, sizeof(call));
	call.verb = "run";
	call.name = req.service;
	call.who = who;
	call.peer = &peer;
	call.job_id = req.id;
	call.data = req.data.data;
	call.len = req.data.len;
	call.starting = job_claim;
	call.arg = &cl;
	call.judge = judge_stopped;
	if ((call.sv = config_service(conf, req.service)) == NULL)
		r = job_orphan(id, req.service, master);
	else if (dep != NULL)
		r = deps_failed(dep, why, sizeof(why)) ?
		    job_dep_failed(conf, call.sv, id, why, master) :
		    RUNNER_HOLD;
	else
		r = job_execute(conf, &call);
	spool_req_free(&req);
	return r;
}
