/*
 * protopriv.h: what the modules of the wire share, and no other module:
 * proto.c (the verbs, the error table, proto_scan() and proto_parse()),
 * protoframe.c (framed requests), protoorig.c (original-form requests),
 * protoanswer.c (the daemon's answers) and protoclient.c (the client's
 * requests and its reading of answers); protoid.c (job ids, node and
 * service names) needs nothing of it.  Together they link alone;
 * proto.h is the API for the rest.
 */
#ifndef PROTOPRIV_H
#define PROTOPRIV_H

#include <stddef.h>

#include "proto.h"

#define ID_PREFIX   "id:"
#define HELO_ANSWER "oleh"

/* A verb: its names in both forms and what it takes (proto.c). */
struct verb_desc {
	const char     *framed; /* name in the framed form */
	const char     *queue;	/* name after "queue:" or NULL */
	enum proto_verb verb;
	int		arg; /* 0 none, 1 service, 2 job id */
};

extern const struct verb_desc proto_verbs[];
extern const size_t	      proto_nverbs;

/* proto.c */
int proto_equals(const char *buf, size_t len, const char *word);

/* protoframe.c */
int		proto_parse_length(const char *s, size_t len, size_t *out);
enum proto_scan proto_scan_framed(const char *buf, size_t len, size_t *reqlen);
enum proto_err	proto_parse_framed(const char *buf, size_t len,
     struct request *req);

/* protoorig.c */
int	       proto_complete_original(const char *raw, size_t rawlen);
enum proto_err proto_parse_original(const char *buf, size_t len,
    struct request *req);

#endif /* PROTOPRIV_H */
