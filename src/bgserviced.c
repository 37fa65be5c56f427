/*
 * bgserviced: run configured service commands for callers over TCP, UDP
 * and UNIX sockets.  main() is the order of the start, nothing else.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bgserviced.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "net.h"
#include "pathnames.h"
#include "pidfile.h"
#include "server.h"
#include "sig.h"
#include "spool.h"

extern char **environ;

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: bgserviced [-dfhPtV] [-c file]\n");
	exit(1);
}

/* For -t: say which sockets could not be opened now (not an error). */
static void
probe_listeners(const struct config *conf)
{
	char   what[160];
	size_t i;

	for (i = 0; i < conf->nlistens; i++)
		if (net_listen_probe(&conf->listens[i], what, sizeof(what)) ==
		    -1)
			warn("warning: %s:%d: %s", conf->file,
			    conf->listens[i].line, what);
}

/* The command line's options. */
struct opts {
	const char *file;
	int	    debug, foreground, test, paths;
	char	    abspath[PATH_MAX]; /* FILE made absolute */
};

static void
options(int argc, char *argv[], struct opts *o)
{
	int ch;

	o->file = BGS_PATH_CONFIG;
	while ((ch = getopt(argc, argv, "c:dfhPtV")) != -1) {
		switch (ch) {
		case 'c':
			o->file = optarg;
			break;
		case 'd':
			o->debug = 1;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'P':
			o->paths = 1;
			break;
		case 't':
			o->test = 1;
			break;
		case 'V':
			printf("bgserviced %s\n", BGS_VERSION);
			exit(0);
		case 'h':
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* Reloads happen after chdir("/"): remember where the file is. */
	if (o->file[0] != '/' && realpath(o->file, o->abspath) != NULL)
		o->file = o->abspath;
}

/* -P and -t: answer about the configuration and exit. */
static void
answer_and_exit(struct config *conf, const struct opts *o)
{
	if (o->paths)
		/* For init scripts: where this configuration keeps its state. */
		printf("pidfile %s\nspool_dir %s\n", conf->pidfile,
		    conf->spool_dir);
	else {
		probe_listeners(conf);
		fprintf(stderr, "%s: configuration OK\n", conf->file);
	}
	config_free(conf);
	exit(0);
}

/* The pidfile, opened and locked, or a word on why not and exit 1. */
static struct pidfh *
pidfile_or_exit(const struct config *conf)
{
	struct pidfh *pfh;
	const char   *why;
	pid_t	      other;

	if ((pfh = pidfile_lock(conf->pidfile, &other, &why)) != NULL)
		return pfh;
	if (why != NULL)
		errx(1, "pidfile %s: %s: not started", conf->pidfile, why);
	if (errno == EEXIST)
		errx(1, "already running as pid %ld (pidfile %s)", (long)other,
		    conf->pidfile);
	err(1, "pidfile %s", conf->pidfile);
}

/*
 * Everything that can fail, while the terminal still sees it: the
 * pidfile, the spool, the sockets, the user.  The pidfile, or exit 1.
 */
static struct pidfh *
prepare_or_exit(struct config *conf)
{
	struct pidfh *pfh;

	pfh = pidfile_or_exit(conf);
	/* Tokens and signatures are checked with libsodium's functions. */
	if (sodium_init() == -1)
		errx(1, "not started: libsodium cannot be initialised");
	if (spool_volatile(conf->spool_dir))
		warnx("warning: spool %s is on a tmpfs: queued jobs are lost "
		      "at reboot; set spool_dir to a lasting place such as "
		      "/var/spool/bgserviced",
		    conf->spool_dir);
	if (server_init(conf, pfh) == -1 || server_drop() == -1 ||
	    server_recover() == -1) {
		pidfile_remove(pfh);
		errx(1, "not started");
	}
	return pfh;
}

int
main(int argc, char *argv[])
{
	struct opts    o = { 0 };
	struct config *conf;
	struct pidfh  *pfh;
	char	       errbuf[1024];
	int	       ready = -1;

	closefrom(STDERR_FILENO + 1); /* nothing inherited survives */
	/* A peer gone (even the lookup helper's) is an error, not our end. */
	(void)signal(SIGPIPE, SIG_IGN);
	setproctitle_init(argc, argv, environ);
	options(argc, argv, &o);
	if ((conf = config_load(o.file, errbuf, sizeof(errbuf))) == NULL)
		errx(1, "%s", errbuf);
	if (o.paths || o.test)
		answer_and_exit(conf, &o);
	log_init("bgserviced", 1, o.debug);
	if (log_open(conf->log, o.foreground) == -1)
		errx(1, "not started: nowhere to log");

	/* Everything that can fail, while the terminal still sees it. */
	pfh = prepare_or_exit(conf);
	if (!o.foreground)
		ready = daemon_detach(
		    conf->log != NULL && strcmp(conf->log, "stderr") == 0);
	/* Signals are handled before the pidfile tells anybody our pid. */
	sig_init(o.foreground);
	if (pidfile_write(pfh) == -1)
		fatal("pidfile_write %s", conf->pidfile);
	daemon_ready(ready);
	log_info("started, version %s, pid %ld, configuration %s", BGS_VERSION,
	    (long)getpid(), o.file);

	server_loop();

	pidfile_remove(pfh);
	log_info("stopped");
	server_free();
	return 0;
}
