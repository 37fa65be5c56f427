/*
 * pending.c: the master's queued jobs, in the order they are to run, and
 * those waiting for their due time (see pending.h).
 */
#include <sys/tree.h>
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pending.h"
#include "util.h"

static int
qjob_cmp(const struct qjob *a, const struct qjob *b)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int
qjob_id_cmp(const struct qjob *a, const struct qjob *b)
{
	return strcmp(a->id, b->id);
}

RB_HEAD(jobtree, qjob);
RB_HEAD(idtree, qjob);
/* libbsd's RB_GENERATE_STATIC needs a __unused it leaves undefined. */
RB_GENERATE_INTERNAL(jobtree, qjob, entry, qjob_cmp,
    __attribute__((unused)) static)
RB_GENERATE_INTERNAL(idtree, qjob, byid, qjob_id_cmp,
    __attribute__((unused)) static)

static struct {
	struct jobtree ready;	/* may run: by run order */
	struct jobtree delayed; /* waiting: by due time */
	struct idtree  ids;	/* both, by id */
	size_t	       n;
	uint64_t       seq;
	char	     **names; /* the services' names, interned */
	size_t	       nnames;
} p = { RB_INITIALIZER(&p.ready), RB_INITIALIZER(&p.delayed),
	RB_INITIALIZER(&p.ids), 0, 0, NULL, 0 };

/* One copy of each service's name, kept while the master runs. */
static const char *
intern(const char *name)
{
	size_t i;
	char **n;

	for (i = 0; i < p.nnames; i++)
		if (strcmp(p.names[i], name) == 0)
			return p.names[i];
	if ((n = reallocarray(p.names, p.nnames + 1, sizeof(*n))) == NULL ||
	    (n[p.nnames] = strdup(name)) == NULL)
		fatal("intern");
	p.names = n;
	return p.names[p.nnames++];
}

/* Put J, its key set, in the tree it belongs to and in the one by id. */
static void
insert(struct qjob *j)
{
	RB_INSERT(jobtree, j->delayed ? &p.delayed : &p.ready, j);
	RB_INSERT(idtree, &p.ids, j);
	p.n++;
}

/* Place J, due at DUE_MS (0: now), in the tree it belongs to. */
static void
place(struct qjob *j, long long due_ms)
{
	long long now = wall_ms();

	j->delayed = due_ms > now;
	j->key = j->delayed ? due_ms : now - j->priority * PENDING_AGE_MS;
	insert(j);
}

/* Queue job ID of SERVICE from SRC, with PRIORITY, due at DUE_MS. */
struct qjob *
pending_add(const char *id, const char *service, uint64_t src, int priority,
    long long due_ms)
{
	struct qjob *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal("calloc");
	strlcpy(j->id, id, sizeof(j->id));
	j->service = intern(service);
	j->src = src;
	j->priority = priority;
	j->seq = ++p.seq;
	place(j, due_ms);
	return j;
}

/* J, taken to run but not started, goes back where it was. */
void
pending_put_back(struct qjob *j)
{
	insert(j);
}

/* J, taken to run, is to be tried again from DUE_MS (0: now). */
void
pending_again(struct qjob *j, long long due_ms)
{
	j->seq = ++p.seq;
	place(j, due_ms);
}

/* The waiting jobs that are due now may run: ageing counts from then. */
void
pending_promote(void)
{
	struct qjob *j;
	long long    now = wall_ms();

	while ((j = RB_MIN(jobtree, &p.delayed)) != NULL && j->key <= now) {
		RB_REMOVE(jobtree, &p.delayed, j);
		j->delayed = 0;
		j->key -= j->priority * PENDING_AGE_MS;
		RB_INSERT(jobtree, &p.ready, j);
	}
}

/* The jobs that may run, in order: the first, then the next. */
struct qjob *
pending_first(void)
{
	return RB_MIN(jobtree, &p.ready);
}

struct qjob *
pending_next(struct qjob *j)
{
	return RB_NEXT(jobtree, &p.ready, j);
}

/* Take J out of the queue; the caller owns it. */
void
pending_take(struct qjob *j)
{
	RB_REMOVE(jobtree, j->delayed ? &p.delayed : &p.ready, j);
	RB_REMOVE(idtree, &p.ids, j);
	p.n--;
}

static struct qjob *
find(const char *id)
{
	struct qjob key = { .seq = 0 };

	if (strlcpy(key.id, id, sizeof(key.id)) >= sizeof(key.id))
		return NULL;
	return RB_FIND(idtree, &p.ids, &key);
}

/* Is job ID queued? */
int
pending_known(const char *id)
{
	return find(id) != NULL;
}

/* Take job ID, cancelled, out of the queue: the caller owns it, if any. */
struct qjob *
pending_drop(const char *id)
{
	struct qjob *j;

	if ((j = find(id)) != NULL)
		pending_take(j);
	return j;
}

/* Milliseconds until the next waiting job is due, -1 for none. */
int
pending_timeout_ms(void)
{
	struct qjob *j;
	long long    ms;

	if ((j = RB_MIN(jobtree, &p.delayed)) == NULL)
		return -1;
	ms = j->key - wall_ms();
	return ms < 0 ? 0 : ms > 86400000 ? 86400000 : (int)ms;
}

size_t
pending_count(void)
{
	return p.n;
}

void
pending_free(void)
{
	struct qjob *j;
	size_t	     i;

	while ((j = RB_MIN(jobtree, &p.ready)) != NULL) {
		RB_REMOVE(jobtree, &p.ready, j);
		free(j);
	}
	while ((j = RB_MIN(jobtree, &p.delayed)) != NULL) {
		RB_REMOVE(jobtree, &p.delayed, j);
		free(j);
	}
	RB_INIT(&p.ids);
	for (i = 0; i < p.nnames; i++)
		free(p.names[i]);
	free(p.names);
	p.names = NULL;
	p.nnames = p.n = 0;
}
