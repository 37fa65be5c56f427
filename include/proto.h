/*
 * proto.h: the wire format, shared by the daemon and the client
 * (proto.c and its parts; protopriv.h is what only they share).
 *
 * Two forms of request reach the daemon on a stream connection:
 *
 *  - the original BackgroundService form, one request per connection,
 *    whose end is found by end-of-file, by its grammar, or by a quiet
 *    period (see proto_scan());
 *  - the framed form, whose header line starts with '!' and states the
 *    payload length; described in bgserviced(8) and below.
 *
 * Nothing here does I/O: the functions look at bytes in memory.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bgserviced.h"

/*
 * Job ids, two forms (bgserviced(8), Job ids):
 *  - without a node, 16 lowercase hex digits (64 random bits);
 *  - with the daemon's node (bgserviced.conf(5), node), the node padded
 *    with '_' to NODE_NAME_MAX characters, '-', then the 16 hex digits:
 *    "web1____-0123456789abcdef".  Every id of one node begins with the
 *    same JOB_NODE_PREFIX characters, which a load balancer or the
 *    client reads with a prefix match.
 */
#define JOB_ID_HEX	16
#define JOB_NODE_PAD	'_'
#define JOB_NODE_SEP	'-'
#define JOB_NODE_PREFIX (NODE_NAME_MAX + 1)
#define JOB_ID_MAX	(JOB_NODE_PREFIX + JOB_ID_HEX)

/* The first byte of a framed request or answer. */
#define FRAME_MARK '!'

/* Longest framed header line, terminator included. */
#define FRAME_HEADER_MAX 1024

/* Most words in a framed header: verb, argument, length and options. */
#define FRAME_WORDS_MAX 12

enum proto_verb {
	VERB_CALL,    /* SERVICE:DATA, run and answer the output */
	VERB_HELO,    /* helo -> oleh */
	VERB_HELLO,   /* hello -> olleh */
	VERB_QADD,    /* queue:add:SERVICE:DATA -> id:ID */
	VERB_QCHECK,  /* queue:check:id:ID -> 0, 1 or 2 */
	VERB_QGET,    /* queue:get:id:ID -> waits, the output */
	VERB_QINFO,   /* queue:info:id:ID -> exit status, times */
	VERB_QCANCEL, /* queue:cancel:id:ID */
	VERB_QLIST,   /* queue:list */
	VERB_STATS,   /* stats */
	VERB_SEND,    /* framed only: run, answer nothing but 202 */
	VERB_NODE,    /* framed only: the daemon's node name */
	VERB_QRETRY,  /* queue:retry:id:ID, a failed job queued again */
};

/* The codes of a framed answer that is not an error. */
#define PROTO_DONE     200 /* done: the payload is the answer */
#define PROTO_ACCEPTED 202 /* accepted (send): no payload */

/*
 * The daemon's errors.  proto.c holds the one table that gives each its
 * code and text (bgserviced(8), Errors); callers name the error, never a
 * code and a text.  The ERR_RUN_ ones are a service run's failures: the
 * code comes from the table, the text, which names the service, from
 * child_describe().
 */
enum proto_err {
	ERR_NONE = 0,		/* not an error */
	ERR_UNKNOWN_REQUEST,	/* 400 no such service or verb */
	ERR_UNKNOWN_QUEUE,	/* 500 queue:VERB that is none */
	ERR_BAD_HEADER,		/* 400 a framed header that does not parse */
	ERR_BAD_LENGTH,		/* 400 its LENGTH is not a number */
	ERR_HEADER_TOO_LONG,	/* 400 no LF in FRAME_HEADER_MAX bytes */
	ERR_HEADER_INCOMPLETE,	/* 400 the header never ended */
	ERR_PAYLOAD_INCOMPLETE, /* 400 fewer bytes than LENGTH */
	ERR_CUT,		/* 400 more arrived after the end by silence */
	ERR_TOKEN,		/* 401 tokens: none presented, or wrong */
	ERR_DENIED,		/* 403 allow says no */
	ERR_NO_JOB,		/* 404 unknown job id */
	ERR_DEP_UNKNOWN,	/* 404 after= names an unknown job id */
	ERR_NOT_TCP,		/* 405 the service is udp only */
	ERR_TIMEOUT,		/* 408 request_timeout */
	ERR_JOB_DONE,		/* 409 cancel of a finished job */
	ERR_JOB_CANCELLED,	/* 410 a cancelled job's result */
	ERR_JOB_NOT_FAILED,	/* 409 retry of a job that has not failed */
	ERR_TOO_LARGE,		/* 413 max_request */
	ERR_TOO_MANY,		/* 429 max_per_source */
	ERR_RATE,		/* 429 rate, source_rate: with a retry */
	ERR_QUOTA,		/* 429 max_queued_per_source */
	ERR_INTERNAL,		/* 500 no handler for a verb */
	ERR_CANNOT_WAIT,	/* 500 queue:get cannot wait */
	ERR_CANNOT_LIST,	/* 500 queue:list cannot read the spool */
	ERR_NO_STATS,		/* 500 no statistics segment */
	ERR_CANNOT_QUEUE,	/* 500 the spool or the master failed */
	ERR_CANNOT_CANCEL,	/* 500 the spool failed */
	ERR_JOB_FAILED,		/* 500 a runner ended without a result */
	ERR_JOB_UNREADABLE,	/* 500 a job's request file is damaged */
	ERR_JOB_UNSTORED,	/* 500 ran, but its result was lost */
	ERR_DEP_FAILED,		/* 500 a job it waited for did not succeed */
	ERR_BUSY,		/* 503 max_instances all running */
	ERR_QUEUE_FULL,		/* 503 max_queue */
	ERR_SHUTDOWN,		/* 503 the daemon stops */
	ERR_JOB_INTERRUPTED,	/* 503 the daemon stopped while it ran */
	ERR_RUN_CHARSET,	/* 415 data not convertible to its charset */
	ERR_RUN_OUTPUT,		/* 502 output not valid in its charset */
	ERR_RUN_START,		/* 500 the command could not be run */
	ERR_RUN_FAILED,		/* 502 exit status not 0, or a signal */
	ERR_RUN_STOPPED,	/* 503 stopped: the daemon shuts down */
	ERR_RUN_TIMEOUT,	/* 504 the service's timeout */
	ERR_RUN_OVERFLOW,	/* 507 max_output */
	ERR_COUNT
};

/* What proto_scan() makes of the bytes received so far. */
enum proto_scan {
	SCAN_PARTIAL,  /* more may come: wait (quiet period ends it) */
	SCAN_COMPLETE, /* a whole request (or a bad header): answer */
};

/* The word of a framed header that presents a token: token=SECRET. */
#define TOKEN_WORD "token="

/* An idempotency key: 1 to JOB_KEY_MAX characters, none a space. */
#define JOB_KEY_MAX 64
/* Whose keys they are, hashed (queue_key_scope()): hex digits. */
#define JOB_KEY_SCOPE_MAX 32
/* Most jobs a job can wait for. */
#define JOB_AFTER_MAX 8
/* Bounds of a job's priority. */
#define JOB_PRIORITY_MAX 1000000
/* Longest delay= (ten years) and latest at= (9999-12-31), seconds. */
#define JOB_DELAY_MAX 315360000LL
#define JOB_AT_MAX    253402300799LL

/*
 * A job's options, from the words of a framed add's header (after the
 * length, in any order): priority=N, delay=SECONDS, at=EPOCH, key=KEY,
 * after=ID[,ID...].  An original-form add has none: the service's
 * defaults apply.
 */
struct job_opts {
	int	  has_priority;
	int	  priority; /* higher runs first */
	long long delay;    /* seconds from the add, 0: none */
	long long at;	    /* eligible from this epoch second, 0: none */
	long long due_ms;   /* queue_add's: at or delay in epoch ms, 0: none */
	char	  key[JOB_KEY_MAX + 1];		   /* "" if none */
	char	  keyscope[JOB_KEY_SCOPE_MAX + 1]; /* queue_add's, "" none */
	int	  nafter;			   /* jobs it waits for */
	char	  after[JOB_AFTER_MAX][JOB_ID_MAX + 1];
};

struct request {
	enum proto_verb verb;
	int		framed;		      /* arrived in the framed form */
	char		token[TOKEN_MAX + 1]; /* presented, or "" */
	char		service[SERVICE_NAME_MAX + 1];
	char		id[JOB_ID_MAX + 1];
	struct job_opts opts; /* queue:add's, framed */
	const char     *data; /* points into the request buffer */
	size_t		datalen;
	size_t		length; /* bytes of the buffer it used */
};

/* The facts of queue:info, filled by the queue, formatted here. */
struct proto_info {
	const char     *id;
	const char     *service;
	int		state;	  /* 0 queued, 1 running, 2 done, 3 failed */
	int		attempts; /* made so far */
	int		attempts_max; /* most allowed: 1 + retries */
	struct timespec submitted;
	int		has_result; /* done and its result was read */
	struct timespec started, ended;
	long long	ms;
	const char     *how; /* "exit 0", "timeout", ... */
	int		code;
	const char     *message; /* its error text (code not 200) */
	size_t		output_bytes;
	long long	cpu_user_ms; /* the service's CPU time */
	long long	cpu_sys_ms;
	long		max_rss_kib; /* its peak RSS */
	const char     *key;	     /* its idempotency key, "": none */
	const char     *after;	     /* "ID,ID": the jobs it waits for */
};

/* Room for any answer of proto_info_format(). */
#define PROTO_INFO_MAX 1536
/* Room for any answer of proto_id_answer() or proto_state_answer(). */
#define PROTO_ANSWER_MAX 48

/* Requests (the daemon's side). */
enum proto_scan proto_scan(const char *buf, size_t len, size_t *reqlen);
enum proto_err	proto_parse(const char *buf, size_t len, struct request *req);
int		proto_valid_id(const char *id, size_t len);
int		proto_valid_node(const char *node, size_t len);
int    proto_make_id(char *buf, size_t size, const char *node, uint64_t r);
size_t proto_id_node(const char *id, char *node, size_t size);
int    proto_valid_name(const char *name, size_t len);
int    proto_reserved_name(const char *name);
const char *proto_verb_name(enum proto_verb);

/* The error table. */
int	    proto_err_code(enum proto_err);
const char *proto_err_text(enum proto_err);

/*
 * Answers.  Each writes into BUF, NUL-terminated, and returns the length
 * (shortened to fit SIZE).  proto_error() is the error answer for the
 * request's form ("NNN: text\n" or a framed error), proto_error_text()
 * the same for a code and text that come from a service's run or a
 * job's stored result.  proto_frame_header() writes the header of a
 * framed answer; the others write the payload, the same in both forms
 * but for an id ("id:ID" in the original form, the bare id framed).
 */
size_t proto_error(char *buf, size_t size, int framed, enum proto_err);
size_t proto_error_text(char *buf, size_t size, int framed, int code,
    const char *text);
size_t proto_frame_header(char *buf, size_t size, int code, size_t length);
size_t proto_error_retry(char *buf, size_t size, int framed, enum proto_err,
    int retry);
const char *proto_helo_answer(enum proto_verb);
size_t proto_id_answer(char *buf, size_t size, int framed, const char *id);
size_t proto_state_answer(char *buf, size_t size, int state);
const char *proto_cancel_answer(void);
const char *proto_state_name(int state);
int	    proto_code_failed(int code);
size_t	    proto_list_line(char *buf, size_t size, const char *id, int state,
	 const char *service, long long submitted);
size_t proto_info_format(char *buf, size_t size, const struct proto_info *);

/* Client side: requests. */
int proto_frame_request(char *buf, size_t size, enum proto_verb,
    const char *arg, size_t length);
int proto_frame_request_token(char *buf, size_t size, enum proto_verb,
    const char *arg, size_t length, const char *token);
int proto_frame_request_opts(char *buf, size_t size, enum proto_verb,
    const char *arg, size_t length, const char *token,
    const struct job_opts *);
int proto_datagram_head(char *buf, size_t size, const char *service);
/* Client side: answers. */
int proto_answer_code(const char *buf, size_t len);
int proto_parse_error_line(const char *buf, size_t len, int *code,
    size_t *length);
int proto_parse_frame_answer(const char *buf, size_t len, int *code,
    size_t *length);
int proto_is_helo_answer(const char *buf, size_t len);

#endif /* PROTO_H */
