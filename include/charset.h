/*
 * charset.h: conversion between UTF-8, the wire's charset, and the
 * charset a service or a client's terminal speaks (iconv(3)).
 */
#ifndef CHARSET_H
#define CHARSET_H

#include <stddef.h>

#include "util.h"

int charset_valid(const char *name);
int charset_convert(const char *from, const char *to, const char *in,
    size_t len, struct buf *out);
int charset_is_utf8(const char *name);

#endif /* CHARSET_H */
