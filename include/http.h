/*
 * http.h: the metrics listener's HTTP: one request per connection,
 * GET /metrics answered with the statistics in Prometheus' text format,
 * GET / with the status page and GET /jobs/ID with a job's (page.c).
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include "bgserviced.h"
#include "net.h"
#include "proto.h"

#define HTTP_HEAD_MAX 8192 /* bytes of a request's line and headers */
#define HTTP_PATH     "/metrics"
#define HTTP_JOBS     "/jobs/" /* and a job's id */

/* What a request with code 200 asks for. */
enum http_route {
	HTTP_NONE,
	HTTP_METRICS, /* HTTP_PATH: the statistics */
	HTTP_PAGE,    /* "/": the status page */
	HTTP_JOB,     /* HTTP_JOBS and an id: a job's page */
};

/* What a request asks: 200 for a GET or HEAD of a route. */
struct http_request {
	int		code; /* the status to answer */
	int		head; /* HEAD: headers only */
	enum http_route route;
	char		job[JOB_ID_MAX + 1]; /* HTTP_JOB: its id */
};

int    http_open(const struct config *, struct listener *old, size_t nold,
       struct listener *ls, size_t *n);
size_t http_head_end(const char *, size_t);
void   http_parse(const char *, size_t, struct http_request *);
size_t http_status(char *, size_t, int code, const char *text);
void   http_serve(int fd, const struct config *, const struct peer *,
      void (*answered)(void));

#endif /* HTTP_H */
