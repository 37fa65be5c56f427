/*
 * addr.h: callers' addresses against allow lists and each other.
 */
#ifndef ADDR_H
#define ADDR_H

#include <sys/socket.h>

#include "bgserviced.h"

int addr_allowed(const struct allow *, const struct sockaddr_storage *);
int addr_same_host(const struct sockaddr_storage *,
    const struct sockaddr_storage *);

#endif /* ADDR_H */
