/*
 * log.c: the daemon's log.  The only file that calls syslog(3).
 *
 * Where the lines go is the configuration's "log": syslog (the default,
 * facility daemon), syslog with another facility, standard error, or a
 * file; under -f always standard error.  log_open() runs before the
 * daemon detaches: syslog that cannot be reached then is said once on
 * standard error, and the lines go to BGS_PATH_LOG instead, so that no
 * line is ever lost to a machine without /dev/log.  Lines on standard
 * error and in files carry a timestamp; syslog adds its own.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
/* vis(3) only; the define picks strnvis()'s OpenBSD prototype, unused. */
#define LIBBSD_OPENBSD_VIS
#include <vis.h>

#include "log.h"
#include "pathnames.h"

static const struct {
	const char *name;
	int	    facility;
} facilities[] = {
	{ "daemon", LOG_DAEMON },
	{ "user", LOG_USER },
	{ "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

static int  log_fd = STDERR_FILENO; /* -1: syslog */
static int  log_verbose;
static char log_ident[64] = "bgserviced";
static char log_path[1024]; /* the file, if one */

void
log_init(const char *ident, int foreground, int debug)
{
	(void)foreground;
	log_verbose = debug;
	log_setident(ident);
}

void
log_setident(const char *ident)
{
	strlcpy(log_ident, ident, sizeof(log_ident));
}

/* The syslog facility SPEC names ("syslog" or "syslog:NAME"); -1: none. */
int
log_facility(const char *spec)
{
	size_t i;

	if (strcmp(spec, "syslog") == 0)
		return LOG_DAEMON;
	if (strncmp(spec, "syslog:", 7) != 0)
		return -1;
	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(spec + 7, facilities[i].name) == 0)
			return facilities[i].facility;
	return -1;
}

/* Whether SPEC is a valid "log" setting. */
int
log_valid(const char *spec)
{
	return log_facility(spec) != -1 || strcmp(spec, "stderr") == 0 ||
	    (spec[0] == '/' && strlen(spec) < sizeof(log_path));
}

/* Can a datagram reach the syslog daemon's socket? */
static int
syslog_reachable(void)
{
	struct sockaddr_un sun;
	int		   fd, r, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, BGS_PATH_SYSLOG, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	errno = saved;
	return r == 0;
}

static int
open_file(const char *path)
{
	int fd;

	if ((fd = open(path,
		 O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
		     O_NOFOLLOW,
		 0640)) == -1)
		return -1;
	if (fd <= STDERR_FILENO) { /* never one of the standard three */
		int hi = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);

		close(fd);
		fd = hi;
	}
	return fd;
}

/*
 * Send the log where SPEC says; FOREGROUND: standard error whatever it
 * says.  Before detaching: problems go to standard error.  -1 when no
 * place to log can be had.
 */
int
log_open(const char *spec, int foreground)
{
	int facility, fd;

	if (spec == NULL)
		spec = "syslog";
	if (foreground || strcmp(spec, "stderr") == 0) {
		log_fd = STDERR_FILENO;
		return 0;
	}
	if ((facility = log_facility(spec)) != -1) {
		if (syslog_reachable()) {
			openlog("bgserviced", LOG_PID | LOG_NDELAY, facility);
			log_fd = -1;
			return 0;
		}
		fprintf(stderr,
		    "bgserviced: syslog cannot be reached (%s: "
		    "%s); logging to %s instead\n",
		    BGS_PATH_SYSLOG, strerror(errno), BGS_PATH_LOG);
		spec = BGS_PATH_LOG;
	}
	if ((fd = open_file(spec)) == -1) {
		fprintf(stderr, "bgserviced: log file %s: %s\n", spec,
		    strerror(errno));
		return -1;
	}
	strlcpy(log_path, spec, sizeof(log_path));
	log_fd = fd;
	return 0;
}

/* Open the log file again (after it was rotated); the old one stays on error. */
void
log_reopen(void)
{
	int fd;

	if (log_path[0] == '\0')
		return;
	if ((fd = open_file(log_path)) == -1) {
		log_warn("cannot reopen the log file %s", log_path);
		return;
	}
	(void)dup3(fd, log_fd, O_CLOEXEC);
	close(fd);
	log_info("log file %s reopened", log_path);
}

/*
 * Write one message.  On standard error and to a file the line goes out
 * in a single write(2), so the lines of concurrent children never
 * interleave.
 */
static void
log_emit(int pri, const char *msg)
{
	char		line[1344], stamp[40];
	struct timespec ts;
	struct tm	tm;
	int		n;

	if (log_fd == -1) {
		syslog(pri, "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - n, ".%03ld", ts.tv_nsec / 1000000);
	n = (int)strlen(stamp);
	strftime(stamp + n, sizeof(stamp) - n, "%z", &tm);
	n = snprintf(line, sizeof(line), "%s %s[%ld]: %s\n", stamp, log_ident,
	    (long)getpid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)!write(log_fd, line, n);
}

/*
 * MSG into OUT (SIZE bytes) with its control characters but the tab as
 * vis(3) octal escapes ("\033", "\015"): a message stays one line, on a
 * terminal too, whatever a service wrote on its standard error.  Other
 * bytes, UTF-8 among them, stay as they are.
 */
static void
log_visible(char *out, size_t size, const char *msg)
{
	char   enc[8];
	size_t n = 0, k;

	for (; *msg != '\0'; msg++) {
		if (iscntrl((unsigned char)*msg) && *msg != '\t')
			vis(enc, (unsigned char)*msg,
			    VIS_OCTAL | VIS_NOSLASH | VIS_NL, 0);
		else {
			enc[0] = *msg;
			enc[1] = '\0';
		}
		if (n + (k = strlen(enc)) >= size)
			break;
		memcpy(out + n, enc, k);
		n += k;
	}
	out[n] = '\0';
}

static void
log_vlog(int pri, int with_errno, const char *fmt, va_list ap)
{
	char   msg[1024], vis_msg[1024];
	int    saved = errno;
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror(saved));
	}
	log_visible(vis_msg, sizeof(vis_msg), msg);
	log_emit(pri, vis_msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
