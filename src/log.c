/*
 * log.c: logging to stderr (foreground, -f) or syslog (detached).
 * The only file that calls syslog(3).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static int	 log_foreground = 1;
static int	 log_verbose;
static char	 log_ident[64] = "bgserviced";

void
log_init(const char *ident, int foreground, int debug)
{
	log_foreground = foreground;
	log_verbose = debug;
	log_setident(ident);
	if (!foreground)
		openlog("bgserviced", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setident(const char *ident)
{
	strlcpy(log_ident, ident, sizeof(log_ident));
}

/*
 * Write one message.  In the foreground the line goes out in a single
 * write(2), so the lines of concurrent children never interleave.
 */
static void
log_emit(int pri, const char *msg)
{
	char	 line[1280];
	int	 n;

	if (!log_foreground) {
		syslog(pri, "%s", msg);
		return;
	}
	n = snprintf(line, sizeof(line), "%s[%ld]: %s\n", log_ident,
	    (long)getpid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)!write(STDERR_FILENO, line, n);
}

static void
log_vlog(int pri, int with_errno, const char *fmt, va_list ap)
{
	char	 msg[1024];
	int	 saved = errno;
	size_t	 len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror(saved));
	}
	log_emit(pri, msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
