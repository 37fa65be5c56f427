/*
 * rate.h: the token buckets behind rate, burst, source_rate and
 * source_burst (bgserviced.conf(5)).
 *
 * The buckets live in one shared mapping the master makes before it
 * forks anything, under a process-shared lock; a request costs one hash
 * and one bucket update, whatever the number of sources.  Sources are
 * tracked in a table of fixed size: a new one takes the place of the
 * least recently seen of its neighbourhood.
 *
 * The master checks before it forks, in O(1), whether a caller's source
 * is over its source_rate of every stream service (rate_over(): it only
 * looks, the child takes the token), once rate_configure() has been
 * told the configuration it forks with.
 */
#ifndef RATE_H
#define RATE_H

#include "bgserviced.h"

struct peer;

int  rate_init(void);
int  rate_take(const struct config *, const struct service *,
     const struct peer *, int *retry);
void rate_configure(const struct config *);
int  rate_over(const struct peer *, int *retry);

/*
 * Quotas: the jobs of each source queued and running, counted by the
 * master alone (quota_note()) for the jobs it knows the source of, read
 * by any process.
 */
uint64_t rate_source(const struct peer *);
size_t	 rate_source_name(const struct peer *, unsigned char src[16]);
void	 quota_note(uint64_t src, int queued, int running);
void	 quota_count(uint64_t src, unsigned *queued, unsigned *running);
int quota_may_run(const struct config *, const char *service, uint64_t src);

#endif /* RATE_H */
