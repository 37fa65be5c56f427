/*
 * http.h: the metrics listener's HTTP: one request per connection,
 * GET /metrics answered with the statistics in Prometheus' text format.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include "bgserviced.h"
#include "net.h"

#define HTTP_HEAD_MAX 8192 /* bytes of a request's line and headers */
#define HTTP_PATH     "/metrics"

/* What a request asks: HTTP_OK for a GET or HEAD of HTTP_PATH. */
struct http_request {
	int code; /* the status to answer */
	int head; /* HEAD: headers only */
};

int    http_open(const struct config *, struct listener *old, size_t nold,
       struct listener *ls, size_t *n);
size_t http_head_end(const char *, size_t);
void   http_parse(const char *, size_t, struct http_request *);
size_t http_status(char *, size_t, int code, const char *text);
void   http_serve(int fd, const struct config *, const struct peer *);

#endif /* HTTP_H */
