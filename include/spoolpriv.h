/*
 * spoolpriv.h: what the spool's modules share, and no other module may
 * use: spool.c (job files), spoolkey.c (idempotency keys, attempts),
 * spoolscan.c (recovery, retention, listing) and spooldir.c (the
 * directory and its file primitives).  Every name is relative to
 * spool_fd, never followed if it is a link.
 */
#ifndef SPOOLPRIV_H
#define SPOOLPRIV_H

#include <stddef.h>

#include "util.h"

#define SPOOL_TMP_PREFIX ".tmp-"
#define SPOOL_HEADER_MAX 4096 /* the most read of a header alone */
#define SPOOL_KEY_PREFIX "key-"

extern int		 spool_fd;	   /* the directory (spooldir.c) */
extern const char *const spool_suffixes[]; /* of job files, NULL-ended */

/* spooldir.c */
void spool_job_file(char *buf, size_t size, const char *id,
    const char *suffix);
void spool_sync(const char *name);
int  spool_publish(const char *name, const char *hdr, size_t hlen,
     const char *data, size_t dlen, int exclusive);
int  spool_read(const char *name, struct buf *, size_t max);
int  spool_header_get(const char *hdr, size_t len, const char *key, char *val,
     size_t vsize);
long long spool_ms_parse(const char *v);
int	  spool_has(const char *id, const char *suffix);
int	  spool_unlink(const char *id, const char *suffix);
int	  spool_dir_open(void);
int	  spool_run_open(const char *id);

/* spool.c */
int spool_add_new(const char *node, const char *hdr, size_t hlen,
    const char *data, size_t len, const char *keyname, char *id);

/* spoolkey.c */
int  spool_key_add(const char *service, const char *scope, const char *key,
     const char *node, const char *hdr, size_t hlen, const char *data,
     size_t len, char *id);
void spool_key_release(const char *id);
void spool_key_recover(const char *name);

#endif /* SPOOLPRIV_H */
