/*
 * slot.c: the instance semaphore behind max_instances (see slot.h).
 *
 * The table is the master's: it names the services (a name keeps its
 * counter across reloads) and cleans up after a dead holder.  Children
 * take and give back instances.  A taken instance is recorded in a
 * holder entry with the taker's pid; should all SLOT_HOLDERS entries be
 * in use (far more processes than a machine runs at once), the instance
 * is counted but not recorded, and one whose holder dies is not given
 * back.
 */

#include <string.h>
#include <unistd.h>

#include "slot.h"
#include "util.h"

#define SLOT_SERVICES 256  /* services counted; more share none */
#define SLOT_HOLDERS  4096 /* processes holding an instance */

struct slot_table {
	uint32_t nservices;
	struct {
		char	 name[SERVICE_NAME_MAX + 1];
		uint32_t running; /* instances taken */
	} services[SLOT_SERVICES];
	struct {
		int32_t	 pid; /* 0: free */
		uint32_t svc;
	} holders[SLOT_HOLDERS];
};

static struct slot_table *slots;

int
slot_init(void)
{
	return (slots = shm_alloc(sizeof(*slots))) == NULL ? -1 : 0;
}

static int
find(const char *name)
{
	uint32_t i, n;

	n = __atomic_load_n(&slots->nservices, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++)
		if (strcmp(slots->services[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The master: a counter for every service of CONF with max_instances. */
void
slot_services(const struct config *conf)
{
	size_t	 i;
	uint32_t n;

	if (slots == NULL)
		return;
	for (i = 0; i < conf->nservices; i++) {
		n = slots->nservices;
		if (conf->services[i].max_instances == 0 ||
		    find(conf->services[i].name) != -1 || n == SLOT_SERVICES)
			continue;
		strlcpy(slots->services[n].name, conf->services[i].name,
		    sizeof(slots->services[n].name));
		__atomic_store_n(&slots->nservices, n + 1, __ATOMIC_RELEASE);
	}
}

/* Record instance SVC as held by us; the handle for slot_give(). */
static int
hold(int svc)
{
	uint32_t i;
	int32_t	 none;

	for (i = 0; i < SLOT_HOLDERS; i++) {
		none = 0;
		if (__atomic_compare_exchange_n(&slots->holders[i].pid, &none,
			(int32_t)getpid(), 0, __ATOMIC_ACQ_REL,
			__ATOMIC_RELAXED)) {
			slots->holders[i].svc = (uint32_t)svc;
			return SLOT_SERVICES + (int)i;
		}
	}
	return svc; /* counted, not recorded */
}

/*
 * Take an instance of SV if fewer than its max_instances run.  0 when
 * one is held (or SV has no limit: then none is), -1 when all are taken.
 */
int
slot_take(const struct service *sv, struct slot *s)
{
	uint32_t cur, max = (uint32_t)sv->max_instances;
	int	 i;

	s->index = -1;
	if (slots == NULL || max == 0 || (i = find(sv->name)) == -1)
		return 0;
	cur = __atomic_load_n(&slots->services[i].running, __ATOMIC_RELAXED);
	do {
		if (cur >= max)
			return -1;
	} while (!__atomic_compare_exchange_n(&slots->services[i].running,
	    &cur, cur + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	s->index = hold(i);
	return 0;
}

/* Give back the instance S holds, if any. */
void
slot_give(struct slot *s)
{
	int svc = s->index;

	if (slots == NULL || svc < 0)
		return;
	if (svc >= SLOT_SERVICES) {
		svc = (int)slots->holders[s->index - SLOT_SERVICES].svc;
		__atomic_store_n(&slots->holders[s->index - SLOT_SERVICES].pid,
		    0, __ATOMIC_RELEASE);
	}
	__atomic_fetch_sub(&slots->services[svc].running, 1, __ATOMIC_ACQ_REL);
	s->index = -1;
}

/* Are all instances of SV taken? */
int
slot_full(const struct service *sv)
{
	int i;

	if (slots == NULL || sv->max_instances == 0 ||
	    (i = find(sv->name)) == -1)
		return 0;
	return __atomic_load_n(&slots->services[i].running,
		   __ATOMIC_ACQUIRE) >= (uint32_t)sv->max_instances;
}

/* The master reaped PID: give back any instance it died holding. */
void
slot_reaped(pid_t pid)
{
	struct slot s;
	uint32_t    i;

	if (slots == NULL)
		return;
	for (i = 0; i < SLOT_HOLDERS; i++)
		if (__atomic_load_n(&slots->holders[i].pid,
			__ATOMIC_ACQUIRE) == (int32_t)pid) {
			s.index = SLOT_SERVICES + (int)i;
			slot_give(&s);
		}
}
