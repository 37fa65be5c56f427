/*
 * daemon.h: detaching from the terminal, Stevens style.
 */
#ifndef DAEMON_H
#define DAEMON_H

int  daemon_detach(int keep_stderr);
void daemon_ready(int fd);

#endif /* DAEMON_H */
