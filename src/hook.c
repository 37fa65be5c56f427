/*
 * hook.c: a service's on_done command (bgserviced.conf(5)).
 *
 * A job's runner calls hook_done() once the job's final result is
 * published: on_done then runs like the service itself (childrun.c's one
 * run path: the service's user, limits, nice, timeout and env), with the
 * job's output on its standard input and what became of the job in its
 * environment.  Whatever it does, the job's result stays as published:
 * its failure is only logged.
 */
#include <stdio.h>
#include <string.h>

#include "child.h"
#include "hook.h"
#include "log.h"
#include "sig.h"

/* The variables hook_done() adds to the service's env. */
#define HOOK_VARS 4

/* The state of a job whose result has CODE: done, cancelled or failed. */
static const char *
job_state(int code)
{
	if (proto_code_failed(code))
		return "failed";
	return code == PROTO_DONE ? "done" : "cancelled";
}

/*
 * ENV: SV's env, then BGS_JOB_STATE, BGS_JOB_CODE, BGS_JOB_RESULT and,
 * if the service exited, BGS_EXIT_STATUS, from JR (strings in VARS).
 */
static void
hook_env(char **env, char vars[HOOK_VARS][96], const struct service *sv,
    const struct job_result *jr)
{
	int i = 0, n = 0, status;

	for (; sv->env != NULL && sv->env[i] != NULL; i++)
		env[i] = sv->env[i];
	snprintf(vars[n++], sizeof(vars[0]), "BGS_JOB_STATE=%s",
	    job_state(jr->code));
	snprintf(vars[n++], sizeof(vars[0]), "BGS_JOB_CODE=%d", jr->code);
	snprintf(vars[n++], sizeof(vars[0]), "BGS_JOB_RESULT=%s", jr->how);
	if (sscanf(jr->how, "exit %d", &status) == 1)
		snprintf(vars[n++], sizeof(vars[0]), "BGS_EXIT_STATUS=%d",
		    status);
	while (n-- > 0)
		env[i++] = vars[n];
	env[i] = NULL;
}

static int
wanted(const struct service *sv, int code)
{
	switch (sv->on_done_when) {
	case HOOK_SUCCESS:
		return code == PROTO_DONE;
	case HOOK_FAILURE:
		return code != PROTO_DONE;
	default:
		return 1;
	}
}

/*
 * Job ID of SV ended with the result JR (published), its service having
 * written OUT (NULL: it did not run): run SV's on_done, if it has one
 * for such a result.  A cancelled job's runner was told so by SIGTERM,
 * which must not stop on_done too; a daemon that stops skips it.
 */
void
hook_done(const struct config *conf, const struct service *sv, const char *id,
    const struct job_result *jr, const struct buf *out)
{
	struct service	  h;
	struct run_ctx	  ctx = { NULL, id };
	struct run_result run;
	char		 *env[SERVICE_ENV_MAX + HOOK_VARS + 1];
	char		  vars[HOOK_VARS][96], why[256];

	if (sv->on_done == NULL || !wanted(sv, jr->code))
		return;
	if (sig_term && !spool_cancelled(id)) {
		log_info("job %s: on_done not run: the daemon stops", id);
		return;
	}
	sig_term = 0;
	h = *sv;
	h.argv = sv->on_done;
	h.charset = NULL; /* the output is UTF-8 by now */
	h.env = env;
	hook_env(env, vars, sv, jr);
	(void)child_run(&h, &conf->limits, &ctx, out != NULL ? out->data : "",
	    out != NULL ? out->len : 0, &run);
	if (!child_ok(&run)) {
		(void)child_describe(&h, &run, why, sizeof(why));
		log_warnx("job %s: on_done of %s failed: %s", id, sv->name,
		    why);
	} else
		log_info("job %s: on_done of %s ok in %lld ms", id, sv->name,
		    run.ms);
	child_result_free(&run);
}
