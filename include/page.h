/*
 * page.h: the status page and a job's page, in HTML, served by http.c
 * on the metrics listener.  Read-only: they show, they change nothing.
 */
#ifndef PAGE_H
#define PAGE_H

#include "bgserviced.h"
#include "util.h"

#define PAGE_REFRESH 10 /* seconds between reloads of a page */

int page_escape(struct buf *, const char *);
int page_status(struct buf *, const struct config *);
int page_job(struct buf *, const struct config *, const char *id);

#endif /* PAGE_H */
