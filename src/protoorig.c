/*
 * protoorig.c: requests of the original BackgroundService form (proto.c),
 * one a connection: whether one is complete by its grammar, and what it
 * asks.
 */
#include <stdio.h>
#include <string.h>

#include "protopriv.h"

#define QUEUE_PREFIX "queue:"

static int
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
	    ch == '\v' || ch == '\f';
}

/* Trim white space from both ends of [*buf, *buf + *len). */
static void
trim(const char **buf, size_t *len)
{
	while (*len > 0 && is_space(**buf)) {
		(*buf)++;
		(*len)--;
	}
	while (*len > 0 && is_space((*buf)[*len - 1]))
		(*len)--;
}

static int
has_prefix(const char *buf, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix);

	return len >= plen && memcmp(buf, prefix, plen) == 0;
}

/*
 * Is the id that begins at ID whole?  An id without a node is whole at
 * its 16th character unless it is the start of one with a node ('-'
 * after the node): those are whole at JOB_ID_MAX.
 */
static int
id_complete(const char *id, size_t len)
{
	if (len >= JOB_ID_MAX)
		return 1;
	return len >= JOB_ID_HEX && len > NODE_NAME_MAX &&
	    id[NODE_NAME_MAX] != JOB_NODE_SEP;
}

/*
 * Is the original-form request complete by its grammar?  helo, hello and
 * stats are; so are the queue verbs that take an id once the id is whole
 * or a line end follows it.
 */
int
proto_complete_original(const char *raw, size_t rawlen)
{
	const char *buf = raw;
	size_t	    len = rawlen, i;

	trim(&buf, &len);
	if (proto_equals(buf, len, "helo") ||
	    proto_equals(buf, len, "hello") ||
	    proto_equals(buf, len, "stats") ||
	    proto_equals(buf, len, "queue:list"))
		return 1;
	if (!has_prefix(buf, len, QUEUE_PREFIX))
		return 0;
	for (i = 0; i < proto_nverbs; i++) {
		char prefix[32];

		if (proto_verbs[i].arg != 2)
			continue;
		snprintf(prefix, sizeof(prefix), QUEUE_PREFIX "%s:" ID_PREFIX,
		    proto_verbs[i].queue);
		if (!has_prefix(buf, len, prefix))
			continue;
		return id_complete(buf + strlen(prefix),
			   len - strlen(prefix)) ||
		    raw[rawlen - 1] == '\n';
	}
	return 0;
}

/* queue:VERB:... of the original form. */
static enum proto_err
parse_queue(const char *buf, size_t len, struct request *req)
{
	const char *rest, *colon;
	size_t	    i, rlen, vlen;

	buf += strlen(QUEUE_PREFIX);
	len -= strlen(QUEUE_PREFIX);
	colon = memchr(buf, ':', len);
	vlen = colon != NULL ? (size_t)(colon - buf) : len;
	rest = colon != NULL ? colon + 1 : buf + len;
	rlen = buf + len - rest;
	for (i = 0; i < proto_nverbs; i++)
		if (proto_verbs[i].queue != NULL &&
		    proto_equals(buf, vlen, proto_verbs[i].queue))
			break;
	if (i == proto_nverbs)
		return ERR_UNKNOWN_QUEUE;
	req->verb = proto_verbs[i].verb;
	switch (proto_verbs[i].arg) {
	case 0:
		return colon != NULL ? ERR_UNKNOWN_QUEUE : ERR_NONE;
	case 1: /* add:SERVICE:DATA */
		colon = memchr(rest, ':', rlen);
		vlen = colon != NULL ? (size_t)(colon - rest) : rlen;
		if (!proto_valid_name(rest, vlen))
			return ERR_UNKNOWN_REQUEST;
		memcpy(req->service, rest, vlen);
		req->service[vlen] = '\0';
		req->data = colon != NULL ? colon + 1 : rest + rlen;
		req->datalen = rest + rlen - req->data;
		return ERR_NONE;
	default: /* VERB:id:ID */
		if (!has_prefix(rest, rlen, ID_PREFIX))
			return ERR_UNKNOWN_QUEUE;
		rest += strlen(ID_PREFIX);
		rlen -= strlen(ID_PREFIX);
		if (!proto_valid_id(rest, rlen))
			return ERR_NO_JOB;
		memcpy(req->id, rest, rlen);
		req->id[rlen] = '\0';
		return ERR_NONE;
	}
}

/* A request of the original form into REQ, cleared by proto_parse(). */
enum proto_err
proto_parse_original(const char *buf, size_t len, struct request *req)
{
	const char *colon;
	size_t	    nlen;

	req->length = len;
	trim(&buf, &len);
	if (proto_equals(buf, len, "helo")) {
		req->verb = VERB_HELO;
		return ERR_NONE;
	}
	if (proto_equals(buf, len, "hello")) {
		req->verb = VERB_HELLO;
		return ERR_NONE;
	}
	if (proto_equals(buf, len, "stats")) {
		req->verb = VERB_STATS;
		return ERR_NONE;
	}
	if (has_prefix(buf, len, QUEUE_PREFIX))
		return parse_queue(buf, len, req);
	colon = memchr(buf, ':', len);
	nlen = colon != NULL ? (size_t)(colon - buf) : len;
	if (!proto_valid_name(buf, nlen))
		return ERR_UNKNOWN_REQUEST;
	req->verb = VERB_CALL;
	memcpy(req->service, buf, nlen);
	req->service[nlen] = '\0';
	req->data = colon != NULL ? colon + 1 : buf + len;
	req->datalen = buf + len - req->data;
	return ERR_NONE;
}
