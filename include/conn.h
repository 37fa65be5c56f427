/*
 * conn.h: serving one stream connection, in its own child process.
 */
#ifndef CONN_H
#define CONN_H

#include "bgserviced.h"
#include "net.h"

/*
 * ANSWERED, when not NULL, is called once the answer is complete, just
 * before the caller can see its end: the connection process tells the
 * master there that its caller's connection is over (server_answered()).
 */
void conn_serve(int fd, const struct config *, const struct peer *,
    void (*answered)(void));

#endif /* CONN_H */
