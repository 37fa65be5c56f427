/*
 * daemon.h: detaching from the terminal, Stevens style.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include "bgservice.h"

int	daemon_detach(int keep_stderr);
int	become(const struct ident *);
void	daemon_ready(int fd);

#endif /* DAEMON_H */
