/*
 * connjob.c: a connection child's job verbs (queue:add, check, get,
 * info, cancel, retry, list), dispatched by conn.c.  The work is
 * queue.c's: these read the request and answer it.
 */
#include <stdio.h>
#include <string.h>

#include "connpriv.h"
#include "deps.h"
#include "log.h"
#include "proto.h"
#include "queue.h"
#include "service.h"
#include "util.h"

/* Refuse an add that waits for a job the spool does not hold. */
static int
refuse_unknown_dep(struct conn *c, const struct request *req)
{
	const char *dep;
	char	    text[128];

	if ((dep = deps_unknown(&req->opts)) == NULL)
		return 0;
	log_info("%s: add %s: refused: unknown dependency %s", c->who,
	    req->service, dep);
	snprintf(text, sizeof(text), "%s: %s", proto_err_text(ERR_DEP_UNKNOWN),
	    dep);
	conn_fail(c, req->framed, proto_err_code(ERR_DEP_UNKNOWN), text);
	return 1;
}

void
connjob_add(struct conn *c, const struct request *req)
{
	struct service_call call;
	struct job_opts	    o = req->opts;
	char		    id[JOB_ID_MAX + 1], ans[PROTO_ANSWER_MAX];

	conn_call_init(&call, c, req);
	/* A repeated keyed add is answered its job's id, queue full or not. */
	queue_key_scope(&o, req->token, c->peer);
	call.keyed_job = queue_key_known(req->service, &o, id);
	if (conn_refuse_cut(c, req) || !conn_admitted(c, req, &call) ||
	    refuse_unknown_dep(c, req))
		return;
	if (queue_add(call.sv, c->conf->node, c->peer, &o, req->data,
		req->datalen, id) == -1) {
		conn_error(c, req->framed, ERR_CANNOT_QUEUE);
		return;
	}
	log_info("%s: add %s: job %s", c->who, req->service, id);
	conn_answer(c, req, PROTO_DONE, ans,
	    proto_id_answer(ans, sizeof(ans), req->framed, id));
}

void
connjob_check(struct conn *c, const struct request *req)
{
	enum job_state st;
	char	       ans[PROTO_ANSWER_MAX];

	if ((st = queue_state(req->id)) == JOB_NONE) {
		conn_error(c, req->framed, ERR_NO_JOB);
		return;
	}
	conn_answer(c, req, PROTO_DONE, ans,
	    proto_state_answer(ans, sizeof(ans), st));
}

/* The answer of a finished job, as a direct call would have given it. */
static void
answer_result(struct conn *c, const struct request *req, const char *id)
{
	struct job_result res;

	if (queue_result(id, &res) == -1) {
		conn_error(c, req->framed, ERR_NO_JOB);
		return;
	}
	if (res.code == PROTO_DONE)
		conn_answer(c, req, PROTO_DONE, res.out.data, res.out.len);
	else
		conn_fail(c, req->framed, res.code, res.message);
	spool_result_free(&res);
}

void
connjob_get(struct conn *c, const struct request *req)
{
	setproctitle("waiting for job %s for %s", req->id, c->who);
	switch (queue_wait_done(req->id, c->fd)) {
	case WAIT_DONE:
		answer_result(c, req, req->id);
		break;
	case WAIT_GONE:
		conn_error(c, req->framed, ERR_NO_JOB);
		break;
	case WAIT_STOPPING:
		conn_error(c, req->framed, ERR_SHUTDOWN);
		break;
	case WAIT_FAILED:
		conn_error(c, req->framed, ERR_CANNOT_WAIT);
		break;
	case WAIT_LEFT:
		log_info("%s: get %s: the caller left while it waited", c->who,
		    req->id);
		break;
	}
}

void
connjob_info(struct conn *c, const struct request *req)
{
	struct buf out = { 0 };

	conn_answer_buf(c, req, queue_info(c->conf, req->id, &out) != 0, &out,
	    ERR_NO_JOB);
}

void
connjob_cancel(struct conn *c, const struct request *req)
{
	const char    *ans = proto_cancel_answer();
	enum proto_err e;

	if ((e = queue_cancel(req->id)) != ERR_NONE) {
		conn_error(c, req->framed, e);
		return;
	}
	log_info("%s: cancel: job %s cancelled", c->who, req->id);
	conn_answer(c, req, PROTO_DONE, ans, strlen(ans));
}

/* A failed job queued again: answered with its id, as queue:add is. */
void
connjob_retry(struct conn *c, const struct request *req)
{
	char	       ans[PROTO_ANSWER_MAX];
	enum proto_err e;

	if ((e = queue_retry(req->id)) != ERR_NONE) {
		conn_error(c, req->framed, e);
		return;
	}
	log_info("%s: retry: job %s queued again", c->who, req->id);
	conn_answer(c, req, PROTO_DONE, ans,
	    proto_id_answer(ans, sizeof(ans), req->framed, req->id));
}

void
connjob_list(struct conn *c, const struct request *req)
{
	struct buf out = { 0 };

	conn_answer_buf(c, req, queue_list(&out) == -1, &out, ERR_CANNOT_LIST);
}
