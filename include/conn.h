/*
 * conn.h: serving one stream connection, in its own child process.
 */
#ifndef CONN_H
#define CONN_H

#include "bgserviced.h"
#include "net.h"

/*
 * ANSWERED, when not NULL, is called once, when the caller's connection
 * is over for it: the connection process tells the master so (see
 * server_answered()).  An original-form answer ends when the connection
 * does, so that is just before our side is shut down; a framed one ends
 * with its stated length, so that is just before the answer to the
 * caller's last request is written, known to be the last when nothing
 * more has come and the caller has shut down its side (as bgservice(1)
 * does), else at the end of the connection.
 */
void conn_serve(int fd, const struct config *, const struct peer *,
    void (*answered)(void));

#endif /* CONN_H */
