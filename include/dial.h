/*
 * dial.h: the client's connections to the daemons (bgservice(1)): connect
 * to an address, one framed request and its answer, within the call's
 * deadline (-t).
 */
#ifndef DIAL_H
#define DIAL_H

#include <stddef.h>

#include "proto.h"
#include "util.h"

/* The client's exit statuses (bgservice(1), EXIT STATUS). */
#define EXIT_SERVICE 1
#define EXIT_REFUSED 2
#define EXIT_USAGE   100
#define EXIT_TEMP    111

void dial_init(int timeout);
int  dial_try(const char *url, int type, char *why, size_t whylen);
int  dial(const char *url, int type);
int  dial_request(int fd, const char *where, enum proto_verb, const char *arg,
     const char *token, const struct job_opts *, const char *data, size_t len,
     struct buf *out);
int  dial_header(char *hdr, size_t size, enum proto_verb, const char *arg,
     const char *token, const struct job_opts *, size_t len);
int  dial_request_try(int fd, const char *where, enum proto_verb,
     const char *arg, const char *token, const struct job_opts *,
     const char *data, size_t len, struct buf *out, char *why, size_t whylen);

#endif /* DIAL_H */
