/*
 * daemon.h: detaching from the terminal, Stevens style.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include "bgserviced.h"

struct pidfh;

int	daemon_detach(int keep_stderr);
struct pidfh *daemon_pidfile(const char *path, pid_t *other,
	    const char **why);
int	become(const struct ident *);
void	daemon_ready(int fd);

#endif /* DAEMON_H */
