/*
 * service.h: the one way a caller reaches a service, whatever the
 * transport: service_admit() decides whether it may, service_run() runs
 * the service for its request.  Calls, framed sends, datagrams,
 * queue:add and queued jobs all go through these two.
 */
#ifndef SERVICE_H
#define SERVICE_H

#include "bgserviced.h"
#include "child.h"
#include "net.h"
#include "proto.h"

/* Why a caller was not admitted. */
enum admit {
	ADMIT_OK,
	ADMIT_UNKNOWN,	  /* no such service: 400 */
	ADMIT_TRANSPORT,  /* not offered over this transport: 405 */
	ADMIT_DENIED,	  /* the caller is not in its allow list: 403 */
	ADMIT_TOKEN,	  /* its tokens: none presented, or a wrong one: 401 */
	ADMIT_RATE,	  /* over rate or source_rate: 429, retry */
	ADMIT_UNSIGNED,	  /* a datagram unsigned, but udp_signed */
	ADMIT_QUOTA,	  /* max_queued_per_source jobs queued: 429 */
	ADMIT_BUSY,	  /* all of its max_instances run: 503 */
	ADMIT_QUEUE_FULL, /* max_queue jobs queued and running: 503 */
};

/* One use of a service: who asks what, and how it ended. */
struct service_call {
	const char	  *verb; /* "call", "send", "add", "run" (a job) */
	const char	  *name; /* the service asked for */
	const char	  *who;	 /* the caller, for the log and title */
	const struct peer *peer;
	int		   dgram;     /* arrived as a datagram */
	int		   signed_ok; /* ... with a good signature */
	const char	  *job_id;    /* a queued job's run */
	const char	  *data;
	size_t		   len;
	const char	  *token;     /* presented, or NULL */
	int		   keyed_job; /* an add whose key names a job: no room
				       * in the queue is needed */
	/* Filled in: */
	const struct service *sv;    /* by service_admit() */
	int		      retry; /* by service_admit(): ADMIT_RATE's s */
	int		      code;  /* by service_run(): 200, or an error */
	char		      why[256]; /* ... and its text */
	/*
	 * Called with an instance held, just before the service starts;
	 * -1 to run nothing after all.
	 */
	int (*starting)(struct service_call *);
	void *arg; /* ... for it */
	/* A queued job's own reading of a run that was stopped. */
	int (*judge)(const struct service_call *, const struct run_result *);
};

enum admit     service_admit(const struct config *, struct service_call *);
enum proto_err service_refusal(enum admit);
/* What service_run() did. */
enum run_end {
	RUN_DONE,     /* it ran: the result and code are set */
	RUN_BUSY,     /* all of its max_instances run: nothing ran */
	RUN_DECLINED, /* the starting hook said no: nothing ran */
};

enum run_end service_run(const struct config *, struct service_call *,
    struct run_result *);

#endif /* SERVICE_H */
