/*
 * log.h: the daemon's logging, to stderr in the foreground and where the
 * configuration's "log" says once detached (syslog by default).  Only
 * log.c talks to syslog.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

void log_init(const char *ident, int foreground, int debug);
void log_setident(const char *ident);
int  log_valid(const char *spec);
int  log_facility(const char *spec);
int  log_open(const char *spec, int foreground);
void log_reopen(void);
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* LOG_H */
