/*
 * slot.h: the instance semaphore behind a service's max_instances.
 *
 * Counts live in one shared mapping the master makes before it forks
 * anything; any process takes and gives back an instance with atomic
 * operations.  A holder is recorded with its pid, so that the master
 * gives back what a process died holding.
 */
#ifndef SLOT_H
#define SLOT_H

#include <sys/types.h>

#include "bgserviced.h"

/* One instance held, or none (no limit to count against). */
struct slot {
	int index; /* -1: none held */
};

int  slot_init(void);
void slot_services(const struct config *);
int  slot_take(const struct service *, struct slot *);
void slot_give(struct slot *);
int  slot_full(const struct service *);
void slot_reaped(pid_t);

#endif /* SLOT_H */
