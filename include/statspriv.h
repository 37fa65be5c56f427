/*
 * statspriv.h: what stats.c (the counters) and statsring.c (the status
 * page's rings) share, and no other module (stats.h is the API).
 */
#ifndef STATSPRIV_H
#define STATSPRIV_H

#include <stddef.h>
#include <stdint.h>

/*
 * Note a run of the service in slot I in its ring, if it has one: FAILED
 * if it did not succeed, US its time.
 */
void statsring_add(ptrdiff_t i, int failed, uint64_t us);

#endif /* STATSPRIV_H */
