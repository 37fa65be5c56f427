/*
 * rate.h: the token buckets behind rate, burst, source_rate and
 * source_burst (bgserviced.conf(5)).
 *
 * The buckets live in one shared mapping the master makes before it
 * forks anything, under a process-shared lock; a request costs one hash
 * and one bucket update, whatever the number of sources.  Sources are
 * tracked in a table of fixed size: a new one takes the place of the
 * least recently seen of its neighbourhood.
 */
#ifndef RATE_H
#define RATE_H

#include "bgserviced.h"

struct peer;

int rate_init(void);
int rate_take(const struct config *, const struct service *,
    const struct peer *, int *retry);

#endif /* RATE_H */
