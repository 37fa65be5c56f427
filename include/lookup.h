/*
 * lookup.h: name lookups that load shared objects (the name service's
 * modules, iconv's converters), done in a short-lived helper process.
 */
#ifndef LOOKUP_H
#define LOOKUP_H

#include <sys/types.h>

/* 0 and the ids of user NAME, or -1 when there is no such user. */
int lookup_user(const char *name, uid_t *, gid_t *);
/* 0 and the id of group NAME, or -1 when there is no such group. */
int lookup_group(const char *name, gid_t *);
/*
 * The groups of USER whose primary group is GID, in a new array for
 * setgroups(2); -1 if they cannot be listed.
 */
int lookup_groups(const char *user, gid_t, gid_t **, int *);
/* 1 if iconv converts between NAME and UTF-8 both ways, else 0. */
int lookup_charset(const char *name);
/* Let the helper go (the next lookup starts a new one). */
void lookup_end(void);

#endif /* LOOKUP_H */
