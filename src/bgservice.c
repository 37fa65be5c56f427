/*
 * bgservice: the client of bgserviced.  One function per subcommand.
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
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bgserviced.h"
#include "charset.h"
#include "config.h"
#include "pathnames.h"
#include "proto.h"
#include "udpsign.h"
#include "util.h"

#define EXIT_SERVICE 1
#define EXIT_REFUSED 2
#define EXIT_USAGE   100
#define EXIT_TEMP    111

#define DEFAULT_HOST	"127.0.0.1:12341"
#define CONNECT_TIMEOUT 10
#define DGRAM_MAX	65507

static const char	  *host;	/* -H or $BGSERVICE_HOST: wins */
static const char	  *charset;	/* -C: the local charset */
static const char	  *job_service; /* -s: whose daemon has the jobs */
static struct client_conf *cconf;	/* the client's configuration */
static const char	  *token;	/* -K: the token to present */
static int		   timeout; /* seconds for the whole call, 0: none */
static long long	   deadline;

static int write_out(const char *, size_t);

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
	    "usage: bgservice [-hV] [-C charset] [-c file] [-H host:port] "
	    "[-K token]\n"
	    "                 [-s service] [-t seconds] command ...\n"
	    "commands:\n"
	    "  call SERVICE [DATA]  run SERVICE with DATA (or stdin), print "
	    "its output\n"
	    "  send SERVICE [DATA]  run SERVICE with DATA over UDP, no answer\n"
	    "  add SERVICE [DATA]   queue a job, print its id\n"
	    "  status ID            print 0 (queued), 1 (running) or 2 (done)\n"
	    "  get ID               wait for the job, print its output\n"
	    "  info ID              the job's state, exit status and times\n"
	    "  cancel ID            cancel a queued or running job\n"
	    "  jobs                 list the jobs in the spool\n"
	    "  stats                print the daemon's counters\n"
	    "  ping                 check that the daemon answers\n");
	exit(EXIT_USAGE);
}

static int
ms_left(void)
{
	return deadline == 0 ? -1 : ms_until(deadline);
}

/*
 * connect(2) bounded by CONNECT_TIMEOUT and the call's deadline.  The
 * socket stays non-blocking.
 */
static int
connect_bounded(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pollfd pfd = { fd, POLLOUT, 0 };
	socklen_t     elen = sizeof(int);
	int	      ms = CONNECT_TIMEOUT * 1000, left = ms_left(), e = 0, r;

	if (left >= 0 && left < ms)
		ms = left;
	if (set_nonblock(fd, 1) == -1)
		return -1;
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	while ((r = poll(&pfd, 1, ms)) == -1 && errno == EINTR)
		;
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (r == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
		return -1;
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * Where SERVICE (NULL: the jobs' daemon) is reached over TCP or UDP:
 * -H or $BGSERVICE_HOST, else the client's configuration, else the
 * default.  A datagram goes where the stream calls go unless udpurl
 * says otherwise.
 */
static const char *
target(const char *service, int udp)
{
	const char *url, *name = service != NULL ? service : job_service;

	if (host != NULL)
		return host;
	if ((url = config_client_url(cconf, name, udp)) != NULL)
		return url;
	if (udp && (url = config_client_url(cconf, name, 0)) != NULL)
		return url;
	return DEFAULT_HOST;
}

/* Drop a "tcp://", "udp://" or "unix:" scheme. */
static const char *
strip_scheme(const char *url)
{
	static const char *const schemes[] = { "tcp://", "udp://", "unix://",
		"unix:" };
	size_t			 i, n;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		n = strlen(schemes[i]);
		if (strncmp(url, schemes[i], n) == 0)
			return url + n;
	}
	return url;
}

/*
 * Split "host:port", "[v6]:port" or a UNIX socket path and connect a
 * socket of TYPE (SOCK_STREAM or SOCK_DGRAM).
 */
static int
dial(const char *url, int type)
{
	struct addrinfo	   hints, *res, *ai;
	struct sockaddr_un sun;
	const char	  *spec = strip_scheme(url);
	char		   buf[256], *h, *p;
	int		   fd = -1, e;

	if (spec[0] == '/') {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlcpy(sun.sun_path, spec, sizeof(sun.sun_path)) >=
		    sizeof(sun.sun_path))
			errx(EXIT_USAGE, "%s: path too long", spec);
		if ((fd = socket(AF_UNIX, type, 0)) == -1)
			err(EXIT_TEMP, "socket");
		if (connect_bounded(fd, (struct sockaddr *)&sun,
			sizeof(sun)) == -1)
			err(EXIT_TEMP, "connect %s", spec);
		return fd;
	}
	if (strlcpy(buf, spec, sizeof(buf)) >= sizeof(buf))
		errx(EXIT_USAGE, "%s: too long", spec);
	h = buf;
	if (*h == '[') {
		h++;
		if ((p = strchr(h, ']')) == NULL || p[1] != ':')
			errx(EXIT_USAGE, "%s: expected [address]:port", spec);
		*p = '\0';
		p += 2;
	} else {
		if ((p = strrchr(h, ':')) == NULL)
			errx(EXIT_USAGE, "%s: expected host:port", spec);
		*p++ = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = type;
	if ((e = getaddrinfo(h, p, &hints, &res)) != 0)
		errx(EXIT_TEMP, "%s: %s", spec, gai_strerror(e));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype,
			 ai->ai_protocol)) == -1)
			continue;
		if (connect_bounded(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	freeaddrinfo(res);
	if (fd == -1)
		err(EXIT_TEMP, "connect %s", spec);
	return fd;
}

/* Wait until FD is ready for EVENTS, within the deadline. */
static void
wait_fd(int fd, short events)
{
	struct pollfd pfd = { fd, events, 0 };
	int	      r;

	while ((r = poll(&pfd, 1, ms_left())) == -1 && errno == EINTR)
		;
	if (r == -1)
		err(EXIT_TEMP, "poll");
	if (r == 0)
		errx(EXIT_TEMP, "timed out after %d s", timeout);
}

static void
send_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		wait_fd(fd, POLLOUT);
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			err(EXIT_TEMP, "write");
		}
		data += n;
		len -= n;
	}
}

/*
 * Send one framed request to WHERE and read its framed answer into OUT.
 * Returns the answer's code.
 */
static int
request(const char *where, enum proto_verb verb, const char *arg,
    const char *data, size_t len, struct buf *out)
{
	char	hdr[FRAME_HEADER_MAX];
	int	fd, hlen, code = 0;
	size_t	plen = 0;
	ssize_t n;

	if ((hlen = proto_frame_request_token(hdr, sizeof(hdr), verb, arg, len,
		 token != NULL ? token :
				 config_client_secret(cconf, arg, 0))) == -1)
		errx(EXIT_USAGE, "%s: argument too long",
		    proto_verb_name(verb));
	fd = dial(where, SOCK_STREAM);
	send_all(fd, hdr, hlen);
	send_all(fd, data, len);
	(void)shutdown(fd, SHUT_WR);
	hlen = 0;
	for (;;) {
		if (hlen == 0 && out->len > 0 && out->data[0] != FRAME_MARK) {
			/*
			 * The master refuses a connection (403, 429) before
			 * it reads anything: one line in the original form.
			 */
			hlen = proto_parse_error_line(out->data, out->len,
			    &code, &plen);
			if (hlen == -1)
				errx(EXIT_TEMP, "%s: not a bgserviced answer",
				    where);
			if (hlen > 0)
				break;
		} else if (hlen == 0 && out->len > 0) {
			hlen = proto_parse_frame_answer(out->data, out->len,
			    &code, &plen);
			if (hlen == -1)
				errx(EXIT_TEMP, "%s: not a bgserviced answer",
				    where);
		}
		if (hlen > 0 && out->len >= (size_t)hlen + plen)
			break;
		wait_fd(fd, POLLIN);
		if ((n = buf_read(out, fd, 0)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			err(EXIT_TEMP, "%s: read", where);
		}
		if (n == 0)
			errx(EXIT_TEMP,
			    "%s: connection closed before the "
			    "answer was complete",
			    where);
	}
	close(fd);
	buf_consume(out, hlen);
	out->len = plen;
	return code;
}

/* Print the answer, or its error on stderr; the exit status for it. */
static int
finish(int code, const struct buf *ans)
{
	if (code >= PROTO_DONE && code < 300) {
		if (ans->len > 0 && write_out(ans->data, ans->len) == -1)
			err(EXIT_TEMP, "stdout");
		if (fflush(stdout) == EOF)
			err(EXIT_TEMP, "stdout");
		return 0;
	}
	fprintf(stderr, "bgservice: %d: %.*s\n", code, (int)ans->len,
	    ans->data);
	/* The service ran and failed, timed out or said too much. */
	if (code == proto_err_code(ERR_RUN_FAILED) ||
	    code == proto_err_code(ERR_RUN_TIMEOUT) ||
	    code == proto_err_code(ERR_RUN_OVERFLOW))
		return EXIT_SERVICE;
	return code >= 400 && code < 500 ? EXIT_REFUSED : EXIT_TEMP;
}

/* Write an answer's payload, converted to the local charset (-C). */
static int
write_out(const char *data, size_t len)
{
	struct buf conv = { 0 };
	int	   r;

	if (charset != NULL) {
		if (charset_convert("UTF-8", charset, data, len, &conv) == -1)
			errx(EXIT_SERVICE,
			    "the answer cannot be converted to "
			    "%s",
			    charset);
		data = conv.data;
		len = conv.len;
	}
	r = fwrite(data, 1, len, stdout) == len ? 0 : -1;
	buf_free(&conv);
	return r;
}

/* Convert DATA from the local charset (-C) to UTF-8, the wire's. */
static void
data_to_utf8(struct buf *data)
{
	struct buf conv = { 0 };

	if (charset == NULL)
		return;
	if (charset_convert(charset, "UTF-8", data->data, data->len, &conv) ==
	    -1)
		errx(EXIT_REFUSED, "the data is not valid %s", charset);
	buf_free(data);
	*data = conv;
}

/* DATA from the argument, or all of standard input, as UTF-8. */
static void
read_data(int argc, char *argv[], int i, struct buf *data)
{
	ssize_t n;

	if (i < argc) {
		if (buf_append(data, argv[i], strlen(argv[i])) == -1)
			err(EXIT_TEMP, "malloc");
		data_to_utf8(data);
		return;
	}
	for (;;) {
		if ((n = buf_read(data, STDIN_FILENO, 0)) == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_TEMP, "stdin");
		}
		if (n == 0)
			break;
	}
	data_to_utf8(data);
}

static int
cmd_call(int argc, char *argv[])
{
	struct buf data = { 0 }, ans = { 0 };
	int	   code;

	if (argc < 2 || argc > 3)
		usage();
	read_data(argc, argv, 2, &data);
	code = request(target(argv[1], 0), VERB_CALL, argv[1], data.data,
	    data.len, &ans);
	code = finish(code, &ans);
	buf_free(&data);
	buf_free(&ans);
	return code;
}

/* How a job verb prints a successful answer. */
enum print_as {
	PRINT_RAW,     /* the bytes as they are */
	PRINT_LINE,    /* with a line end */
	PRINT_NOTHING, /* success says nothing */
};

/* Ask VERB about the job id argv[1]; print the answer. */
static int
job_verb(enum proto_verb verb, int argc, char *argv[], enum print_as how)
{
	struct buf ans = { 0 };
	int	   code;

	if (argc != 2)
		usage();
	if (!proto_valid_id(argv[1], strlen(argv[1]))) {
		warnx("%s: not a job id (16 hex digits)", argv[1]);
		return EXIT_REFUSED;
	}
	code = request(target(NULL, 0), verb, argv[1], NULL, 0, &ans);
	if (code == PROTO_DONE && how == PRINT_NOTHING)
		ans.len = 0;
	if (code == PROTO_DONE && how == PRINT_LINE &&
	    buf_append(&ans, "\n", 1) == -1)
		err(EXIT_TEMP, "malloc");
	code = finish(code, &ans);
	buf_free(&ans);
	return code;
}

static int
cmd_add(int argc, char *argv[])
{
	struct buf data = { 0 }, ans = { 0 };
	int	   code;

	if (argc < 2 || argc > 3)
		usage();
	read_data(argc, argv, 2, &data);
	code = request(target(argv[1], 0), VERB_QADD, argv[1], data.data,
	    data.len, &ans);
	if (code == PROTO_DONE) {
		/* An id is ASCII: print it as it is, whatever -C says. */
		printf("%.*s\n", (int)ans.len, ans.data);
		code = 0;
	} else
		code = finish(code, &ans);
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
	const char *key = config_client_secret(cconf, service, 1);
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
	struct buf  data = { 0 }, dgram = { 0 };
	const char *where;
	char	    head[SERVICE_NAME_MAX + 2];
	ssize_t	    n;
	int	    fd, hlen;

	if (argc < 2 || argc > 3)
		usage();
	if ((hlen = proto_datagram_head(head, sizeof(head), argv[1])) == -1)
		errx(EXIT_USAGE, "%s: not a service name", argv[1]);
	read_data(argc, argv, 2, &data);
	if (dgram_sign(argv[1], &data, &dgram) == -1 ||
	    buf_append(&dgram, head, hlen) == -1 ||
	    buf_append(&dgram, data.data, data.len) == -1)
		err(EXIT_TEMP, "malloc");
	if (dgram.len > DGRAM_MAX)
		errx(EXIT_USAGE,
		    "%zu bytes do not fit in a datagram (%d at "
		    "most)",
		    dgram.len, DGRAM_MAX);
	where = target(argv[1], 1);
	fd = dial(where, SOCK_DGRAM);
	do
		n = send(fd, dgram.data, dgram.len, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		err(EXIT_TEMP, "%s: send", where);
	close(fd);
	buf_free(&data);
	buf_free(&dgram);
	return 0;
}

static int
cmd_status(int argc, char *argv[])
{
	return job_verb(VERB_QCHECK, argc, argv, PRINT_LINE);
}

static int
cmd_get(int argc, char *argv[])
{
	return job_verb(VERB_QGET, argc, argv, PRINT_RAW);
}

static int
cmd_info(int argc, char *argv[])
{
	return job_verb(VERB_QINFO, argc, argv, PRINT_RAW);
}

static int
cmd_cancel(int argc, char *argv[])
{
	return job_verb(VERB_QCANCEL, argc, argv, PRINT_NOTHING);
}

/* A verb with no argument: print the answer as it is. */
static int
plain_verb(enum proto_verb verb, int argc)
{
	struct buf ans = { 0 };
	int	   code;

	if (argc != 1)
		usage();
	code = request(target(NULL, 0), verb, NULL, NULL, 0, &ans);
	code = finish(code, &ans);
	buf_free(&ans);
	return code;
}

static int
cmd_jobs(int argc, char *argv[])
{
	(void)argv;
	return plain_verb(VERB_QLIST, argc);
}

static int
cmd_stats(int argc, char *argv[])
{
	(void)argv;
	return plain_verb(VERB_STATS, argc);
}

static int
cmd_ping(int argc, char *argv[])
{
	struct buf ans = { 0 };
	int	   code;

	(void)argv;
	if (argc != 1)
		usage();
	code = request(target(job_service, 0), VERB_HELO, NULL, NULL, 0, &ans);
	if (code == PROTO_DONE && proto_is_helo_answer(ans.data, ans.len)) {
		printf("%s is alive\n", target(job_service, 0));
		code = 0;
	} else
		code = finish(
		    code == PROTO_DONE ? proto_err_code(ERR_RUN_FAILED) : code,
		    &ans);
	buf_free(&ans);
	return code;
}

static const struct {
	const char *name;
	int (*fn)(int, char *[]);
} commands[] = {
	{ "call", cmd_call },
	{ "send", cmd_send },
	{ "add", cmd_add },
	{ "status", cmd_status },
	{ "get", cmd_get },
	{ "info", cmd_info },
	{ "cancel", cmd_cancel },
	{ "jobs", cmd_jobs },
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
	if ((cconf = config_client_load(file, err, sizeof(err))) == NULL)
		errx(EXIT_USAGE, "%s", err);
}

int
main(int argc, char *argv[])
{
	const char *errstr, *conffile = NULL;
	size_t	    i;
	int	    ch, r;

	signal(SIGPIPE, SIG_IGN);
	host = getenv("BGSERVICE_HOST");
	while ((ch = getopt(argc, argv, "+C:c:H:hK:s:t:V")) != -1) {
		switch (ch) {
		case 'C':
			charset = optarg;
			break;
		case 'c':
			conffile = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'K':
			token = optarg;
			break;
		case 's':
			job_service = optarg;
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
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (charset != NULL &&
	    (charset_is_utf8(charset) || !charset_valid(charset))) {
		if (!charset_is_utf8(charset))
			errx(EXIT_USAGE, "-C %s: unknown charset", charset);
		charset = NULL;
	}
	load_client_conf(conffile);
	deadline = timeout > 0 ? now_ms() + (long long)timeout * 1000 : 0;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0) {
			r = commands[i].fn(argc, argv);
			config_client_free(cconf);
			return r;
		}
	warnx("unknown command '%s'", argv[0]);
	usage();
}
