/*
 * priv.h: giving up root for a configured user.
 */
#ifndef PRIV_H
#define PRIV_H

#include "bgserviced.h"

int priv_become(const struct ident *);

#endif /* PRIV_H */
