/*
 * server.h: the master process: listeners, the accept loop, children,
 * reloads and the shutdown.
 */
#ifndef SERVER_H
#define SERVER_H

#include <sys/types.h>

#include "bgserviced.h"

struct pidfh;

int  server_init(struct config *, struct pidfh *);
int  server_drop(void);
int  server_recover(void);
void server_loop(void);
void server_free(void);

#endif /* SERVER_H */
