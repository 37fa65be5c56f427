/*
 * kids.h: signal the children of this process, found in /proc.
 */
#ifndef KIDS_H
#define KIDS_H

#include <sys/types.h>

int kids_signal(int sig, pid_t spare_pgrp);

#endif /* KIDS_H */
