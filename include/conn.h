/*
 * conn.h: serving one stream connection, in its own child process.
 */
#ifndef CONN_H
#define CONN_H

#include "bgserviced.h"
#include "net.h"

void conn_serve(int fd, const struct config *, const struct peer *);

#endif /* CONN_H */
