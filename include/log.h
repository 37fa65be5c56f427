/*
 * log.h: the daemon's logging, to stderr in the foreground and to syslog
 * (LOG_DAEMON) once detached.  Only log.c talks to syslog.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

void	log_init(const char *ident, int foreground, int debug);
void	log_setident(const char *ident);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* LOG_H */
