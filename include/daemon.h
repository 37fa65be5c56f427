/*
 * daemon.h: detaching from the terminal, Stevens style.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include <sys/types.h>

int	daemon_detach(void);
int	daemon_drop(const char *user, uid_t, gid_t);
void	daemon_ready(int fd);

#endif /* DAEMON_H */
