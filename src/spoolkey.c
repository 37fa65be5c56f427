/*
 * spoolkey.c: the spool's idempotency keys and its attempt counts.
 *
 *	key-HASH	an idempotency key's job: its id (see spool_add())
 *	ID.try		job ID's attempts (see struct job_try)
 *
 * The job of service S that has key K, given by callers whose scope is C
 * (queue_key_scope(): a token's, or a source's hash), is named by the
 * file key- + the hex of a BLAKE2b hash of "S\0C\0K" ("S\0K" for no
 * scope, as keys were before scopes), which holds its id: made
 * (replacing a stale one) before the job's request is published, removed
 * before it is.  A key file whose job the spool does not hold is stale: as if
 * absent, and removed at start.  Adds with a key, removals and recovery
 * look at key files under an exclusive flock(2) of the spool directory
 * (a descriptor of their own, never shared by a fork), so that two adds
 * with one key at the same instant make one job.
 */
#include <sys/file.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "spoolpriv.h"

#define KEY_HASH 16 /* bytes of a key's hash: 32 hex digits */

/* The name of the key file of SERVICE's KEY in SCOPE into BUF. */
static void
key_file(char *buf, size_t size, const char *service, const char *scope,
    const char *key)
{
	crypto_generichash_state st;
	unsigned char		 h[KEY_HASH];
	char			 hex[2 * KEY_HASH + 1];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)service,
	    strlen(service) + 1);
	if (scope[0] != '\0')
		crypto_generichash_update(&st, (const unsigned char *)scope,
		    strlen(scope) + 1);
	crypto_generichash_update(&st, (const unsigned char *)key,
	    strlen(key));
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(buf, size, SPOOL_KEY_PREFIX "%s", hex);
}

/* Take the key files' lock: a descriptor to close, or -1. */
static int
keys_lock(void)
{
	int fd;

	if ((fd = spool_dir_open()) == -1)
		return -1;
	while (flock(fd, LOCK_EX) == -1)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

/* The id key file NAME holds into ID, if the spool holds that job: 0. */
static int
key_holder(const char *name, char *id)
{
	struct buf b = { 0 };
	int	   r = -1;

	if (spool_read(name, &b, JOB_ID_MAX + 1) == 0 && b.len > 0 &&
	    b.len <= JOB_ID_MAX && proto_valid_id(b.data, b.len)) {
		memcpy(id, b.data, b.len);
		id[b.len] = '\0';
		r = spool_has(id, ".req") ? 0 : -1;
	}
	buf_free(&b);
	return r;
}

/*
 * A new job of SERVICE with KEY in SCOPE (see spool_add()), unless a job
 * of the spool has it: then 1 and its id in ID.
 */
int
spool_key_add(const char *service, const char *scope, const char *key,
    const char *node, const char *hdr, size_t hlen, const char *data,
    size_t len, char *id)
{
	char name[64];
	int  lk, r;

	key_file(name, sizeof(name), service, scope, key);
	if ((lk = keys_lock()) == -1)
		return -1;
	if (key_holder(name, id) == 0)
		r = 1;
	else
		r = spool_add_new(node, hdr, hlen, data, len, name, id);
	close(lk);
	return r;
}

/* Job ID is being removed: remove its key file, if it holds its key. */
void
spool_key_release(const char *id)
{
	struct job_req req;
	char	       name[64], held[JOB_ID_MAX + 1];
	int	       lk;

	if (spool_load_head(id, &req) == -1 || req.key[0] == '\0')
		return;
	key_file(name, sizeof(name), req.service, req.keyscope, req.key);
	if ((lk = keys_lock()) == -1)
		return;
	if (key_holder(name, held) == 0 && strcmp(held, id) == 0 &&
	    unlinkat(spool_fd, name, 0) == -1)
		log_warn("spool: %s", name);
	close(lk);
}

/* The job of SERVICE with KEY in SCOPE into ID, if the spool holds one: 0. */
int
spool_key_find(const char *service, const char *scope, const char *key,
    char *id)
{
	char name[64];
	int  lk, r;

	key_file(name, sizeof(name), service, scope, key);
	if ((lk = keys_lock()) == -1)
		return -1;
	r = key_holder(name, id);
	close(lk);
	return r;
}

/* At start: remove the key file NAME if it is stale. */
void
spool_key_recover(const char *name)
{
	char id[JOB_ID_MAX + 1];
	int  lk;

	if ((lk = keys_lock()) == -1)
		return;
	if (key_holder(name, id) == -1)
		(void)unlinkat(spool_fd, name, 0);
	close(lk);
}

/* Job ID's attempts into T; none yet (no ID.try) reads as zeros. */
int
spool_load_try(const char *id, struct job_try *t)
{
	struct buf b = { 0 };
	char	   name[64], v[32];
	int	   r = 0;

	memset(t, 0, sizeof(*t));
	spool_job_file(name, sizeof(name), id, ".try");
	if (spool_read(name, &b, SPOOL_HEADER_MAX) == -1)
		r = errno == ENOENT ? 0 : -1;
	else {
		if (spool_header_get(b.data, b.len, "attempts", v,
			sizeof(v)) == 0)
			t->attempts = atoi(v);
		if (spool_header_get(b.data, b.len, "max", v, sizeof(v)) == 0)
			t->max = atoi(v);
		if (spool_header_get(b.data, b.len, "not_before", v,
			sizeof(v)) == 0)
			t->not_before_ms = spool_ms_parse(v);
	}
	buf_free(&b);
	return r;
}

/*
 * Publish job ID's attempts T whole, in place of the last ones; none
 * (attempts 0) removes them, which takes no room on a full disk.
 */
int
spool_save_try(const char *id, const struct job_try *t)
{
	char hdr[128], name[64];
	int  hlen;

	if (t->attempts == 0)
		return spool_unlink(id, ".try");

	hlen = snprintf(hdr, sizeof(hdr),
	    "attempts %d\nmax %d\nnot_before %lld.%03lld\n\n", t->attempts,
	    t->max, t->not_before_ms / 1000, t->not_before_ms % 1000);
	spool_job_file(name, sizeof(name), id, ".try");
	return spool_publish(name, hdr, hlen, "", 0, 0);
}
