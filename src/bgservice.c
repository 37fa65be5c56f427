/*
 * bgservice: the client of bgserviced.  One function per subcommand:
 * call, send, stats and ping here, the job commands in clijob.c;
 * clihost.c picks the daemon to ask, cliio.c reads the data and prints
 * the answer (cli.h: what they share).
 *
 * It speaks the framed form of the protocol (bgserviced(8)), so that an
 * answer is never mistaken for an error and binary data travels intact.
 *
 * Exit status (bgservice(1)): 0 done, 1 the service failed, 2 the daemon
 * refused the request, 100 usage error, 111 temporary failure (cannot
 * connect, timed out, the daemon's own error).
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bgserviced.h"
#include "charset.h"
#include "cli.h"
#include "config.h"
#include "dial.h"
#include "pathnames.h"
#include "proto.h"
#include "udpsign.h"
#include "util.h"

#define DGRAM_MAX 65507

struct cli cli; /* the options and configuration all modules read */

void
cli_usage(void)
{
	fprintf(stderr,
	    "usage: bgservice [-hV] [-C charset] [-c file] [-H host:port] "
	    "[-K token]\n"
	    "                 [-s service] [-t seconds] command ...\n"
	    "commands:\n"
	    "  call SERVICE [DATA]  run SERVICE with DATA (or stdin), print "
	    "its output\n"
	    "  send SERVICE [DATA]  run SERVICE with DATA over UDP, no answer\n"
	    "  add [-p PRIORITY] [-d SECONDS | -a EPOCH] [-k KEY] [-w ID,...]\n"
	    "      SERVICE [DATA]\n"
	    "                       queue a job, print its id\n"
	    "  status ID            print 0 (queued), 1 (running) or 2 (done)\n"
	    "  get ID               wait for the job, print its output\n"
	    "  info ID              the job's state, exit status and times\n"
	    "  cancel ID            cancel a queued or running job\n"
	    "  retry ID             queue a failed job again\n"
	    "  jobs [-S state] [-s service]\n"
	    "                       list the jobs in the spool, oldest first\n"
	    "  stats                print the daemon's counters\n"
	    "  ping                 check that the daemon answers\n");
	exit(EXIT_USAGE);
}

static int
cmd_call(int argc, char *argv[])
{
	struct buf data = { 0 }, ans = { 0 };
	int	   code;

	if (argc < 2 || argc > 3)
		cli_usage();
	cliio_read(argc, argv, 2, &data);
	code = clihost_call(argv[1], VERB_CALL, argv[1], NULL, &data, &ans);
	code = cliio_finish(code, &ans);
	buf_free(&data);
	buf_free(&ans);
	return code;
}

/*
 * With a udp_key for SERVICE in the configuration, begin DGRAM with the
 * signature of DATA ("!sig TIME MAC\n", bgserviced(8)).
 */
static int
dgram_sign(const char *service, const struct buf *data, struct buf *dgram)
{
	const char *key = config_client_secret(cli.conf, service, 1);
	char	    head[UDPSIGN_HEAD + 1];
	int	    n;

	if (key == NULL)
		return 0;
	if ((n = udpsign_make(head, sizeof(head), key, service, data->data,
		 data->len, time(NULL))) == -1) {
		errno = EINVAL;
		return -1;
	}
	return buf_append(dgram, head, n);
}

/* A datagram "SERVICE:DATA": fire and forget. */
static int
cmd_send(int argc, char *argv[])
{
	struct buf	   data = { 0 }, dgram = { 0 };
	const char *const *urls;
	const char	  *where;
	char		   head[SERVICE_NAME_MAX + 2];
	ssize_t		   r;
	size_t		   n;
	int		   fd, hlen;

	if (argc < 2 || argc > 3)
		cli_usage();
	if ((hlen = proto_datagram_head(head, sizeof(head), argv[1])) == -1)
		errx(EXIT_USAGE, "%s: not a service name", argv[1]);
	cliio_read(argc, argv, 2, &data);
	if (dgram_sign(argv[1], &data, &dgram) == -1 ||
	    buf_append(&dgram, head, hlen) == -1 ||
	    buf_append(&dgram, data.data, data.len) == -1)
		err(EXIT_TEMP, "malloc");
	if (dgram.len > DGRAM_MAX)
		errx(EXIT_USAGE,
		    "%zu bytes do not fit in a datagram (%d at "
		    "most)",
		    dgram.len, DGRAM_MAX);
	urls = clihost_targets(argv[1], 1, &n);
	fd = clihost_connect(urls, n, SOCK_DGRAM, &where);
	do
		r = send(fd, dgram.data, dgram.len, 0);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		err(EXIT_TEMP, "%s: send", where);
	close(fd);
	buf_free(&data);
	buf_free(&dgram);
	return 0;
}

/* A verb with no argument: print the answer as it is. */
static int
plain_verb(enum proto_verb verb, int argc)
{
	struct buf ans = { 0 }, none = { 0 };
	int	   code;

	if (argc != 1)
		cli_usage();
	code = clihost_call(NULL, verb, NULL, NULL, &none, &ans);
	code = cliio_finish(code, &ans);
	buf_free(&ans);
	return code;
}

static int
cmd_stats(int argc, char *argv[])
{
	(void)argv;
	return plain_verb(VERB_STATS, argc);
}

/* One helo to URL; the exit status for it. */
static int
ping_one(const char *url)
{
	struct buf ans = { 0 };
	char	   why[512];
	int	   fd, code;

	if ((fd = dial_try(url, SOCK_STREAM, why, sizeof(why))) == -1) {
		warnx("%s", why);
		return EXIT_TEMP;
	}
	code =
	    dial_request(fd, url, VERB_HELO, NULL, NULL, NULL, NULL, 0, &ans);
	if (code == PROTO_DONE && proto_is_helo_answer(ans.data, ans.len)) {
		printf("%s is alive\n", url);
		code = 0;
	} else
		code = cliio_finish(
		    code == PROTO_DONE ? proto_err_code(ERR_RUN_FAILED) : code,
		    &ans);
	buf_free(&ans);
	return code;
}

/* helo to each daemon of -s's service (or the default's). */
static int
cmd_ping(int argc, char *argv[])
{
	const char *const *urls;
	size_t		   n, i;
	int		   code, worst = 0;

	(void)argv;
	if (argc != 1)
		cli_usage();
	urls = clihost_targets(NULL, 0, &n);
	for (i = 0; i < n; i++)
		if ((code = ping_one(urls[i])) != 0)
			worst = code;
	if (fflush(stdout) == EOF)
		err(EXIT_TEMP, "stdout");
	return worst;
}

static const struct {
	const char *name;
	int (*fn)(int, char *[]);
} commands[] = {
	{ "call", cmd_call },
	{ "send", cmd_send },
	{ "add", clijob_add },
	{ "status", clijob_status },
	{ "get", clijob_get },
	{ "info", clijob_info },
	{ "cancel", clijob_cancel },
	{ "retry", clijob_retry },
	{ "jobs", clijob_list },
	{ "stats", cmd_stats },
	{ "ping", cmd_ping },
};

/*
 * The client's configuration: -c FILE or $BGSERVICE_CONF (must exist),
 * else ~/.bgservice.conf, else /etc/bgservice.conf (either may be
 * absent).
 */
static void
load_client_conf(const char *file)
{
	char	    path[PATH_MAX], err[1024];
	const char *home;
	int	    must = 1;

	if (file == NULL)
		file = getenv("BGSERVICE_CONF");
	if (file == NULL) {
		must = 0;
		file = BGS_PATH_CLIENT_CONFIG;
		if ((home = getenv("HOME")) != NULL &&
		    snprintf(path, sizeof(path), "%s/.bgservice.conf", home) <
			(int)sizeof(path) &&
		    access(path, F_OK) == 0)
			file = path;
	}
	if (!must && access(file, F_OK) == -1)
		return;
	if ((cli.conf = config_client_load(file, err, sizeof(err))) == NULL)
		errx(EXIT_USAGE, "%s", err);
}

int
main(int argc, char *argv[])
{
	const char *errstr, *conffile = NULL;
	size_t	    i;
	int	    ch, r, timeout = 0;

	signal(SIGPIPE, SIG_IGN);
	cli.host = getenv("BGSERVICE_HOST");
	while ((ch = getopt(argc, argv, "+C:c:H:hK:s:t:V")) != -1) {
		switch (ch) {
		case 'C':
			cli.charset = optarg;
			break;
		case 'c':
			conffile = optarg;
			break;
		case 'H':
			cli.host = optarg;
			break;
		case 'K':
			cli.token = optarg;
			break;
		case 's':
			cli.job_service = optarg;
			break;
		case 't':
			timeout = strtonum(optarg, 1, 86400, &errstr);
			if (errstr != NULL)
				errx(EXIT_USAGE, "-t %s: %s", optarg, errstr);
			break;
		case 'V':
			printf("bgservice %s\n", BGS_VERSION);
			exit(0);
		case 'h':
		default:
			cli_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		cli_usage();
	if (cli.charset != NULL &&
	    (charset_is_utf8(cli.charset) || !charset_valid(cli.charset))) {
		if (!charset_is_utf8(cli.charset))
			errx(EXIT_USAGE, "-C %s: unknown charset",
			    cli.charset);
		cli.charset = NULL;
	}
	load_client_conf(conffile);
	dial_init(timeout);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0) {
			r = commands[i].fn(argc, argv);
			config_client_free(cli.conf);
			return r;
		}
	warnx("unknown command '%s'", argv[0]);
	cli_usage();
}
