/*
 * pidfile.h: the daemon's pidfile, opened and locked only where it can
 * be trusted (libbsd's pidfile(3) does the rest).
 */
#ifndef PIDFILE_H
#define PIDFILE_H

#include <sys/types.h>

struct pidfh;

struct pidfh *pidfile_lock(const char *path, pid_t *other, const char **why);

#endif /* PIDFILE_H */
