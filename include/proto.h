/*
 * proto.h: the wire format, shared by the daemon and the client.
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

#include "bgserviced.h"

/* Job ids: 16 lowercase hex digits (64 random bits). */
#define JOB_ID_LEN	16

/* The first byte of a framed request or answer. */
#define FRAME_MARK	'!'

/* Longest framed header line, terminator included. */
#define FRAME_HEADER_MAX 256

enum proto_verb {
	VERB_CALL,		/* SERVICE:DATA, run and answer the output */
	VERB_HELO,		/* helo -> oleh */
	VERB_HELLO,		/* hello -> olleh */
	VERB_QADD,		/* queue:add:SERVICE:DATA -> id:ID */
	VERB_QCHECK,		/* queue:check:id:ID -> 0, 1 or 2 */
	VERB_QGET,		/* queue:get:id:ID -> waits, the output */
	VERB_QINFO,		/* queue:info:id:ID -> exit status, times */
	VERB_QCANCEL,		/* queue:cancel:id:ID */
	VERB_QLIST,		/* queue:list */
	VERB_STATS,		/* stats */
	VERB_SEND,		/* framed only: run, answer nothing but 202 */
};

/* What proto_scan() makes of the bytes received so far. */
enum proto_scan {
	SCAN_PARTIAL,		/* more may come: wait (quiet period ends it) */
	SCAN_COMPLETE,		/* a whole request (or a bad header): answer */
};

struct request {
	enum proto_verb	 verb;
	int		 framed;	/* arrived in the framed form */
	char		 service[SERVICE_NAME_MAX + 1];
	char		 id[JOB_ID_LEN + 1];
	const char	*data;		/* points into the request buffer */
	size_t		 datalen;
	size_t		 length;	/* bytes of the buffer it used */
};

enum proto_scan	 proto_scan(const char *buf, size_t len, size_t *reqlen);
int		 proto_parse(const char *buf, size_t len, struct request *req,
		    const char **why);
int		 proto_valid_id(const char *id, size_t len);
const char	*proto_verb_name(enum proto_verb);

/*
 * Answers.  proto_error() formats an error answer for the request's form
 * into BUF ("NNN: text\n" or a framed error); it returns the length.
 * proto_frame_header() writes the header of a framed answer.
 */
size_t		 proto_error(char *buf, size_t size, int framed, int code,
		    const char *text);
size_t		 proto_frame_header(char *buf, size_t size, int code,
		    size_t length);
int		 proto_answer_code(const char *buf, size_t len);

/* Client side: the header of a framed request. */
int		 proto_frame_request(char *buf, size_t size, const char *verb,
		    const char *arg, size_t length);
/* Client side: parse a framed answer header; returns its length or -1. */
int		 proto_parse_frame_answer(const char *buf, size_t len,
		    int *code, size_t *length);

#endif /* PROTO_H */
