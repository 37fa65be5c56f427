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
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bgservice.h"
#include "proto.h"
#include "util.h"

#define EXIT_SERVICE	1
#define EXIT_REFUSED	2
#define EXIT_USAGE	100
#define EXIT_TEMP	111

#define DEFAULT_HOST	"127.0.0.1:12341"
#define CONNECT_TIMEOUT	10

static const char	*host = DEFAULT_HOST;
static int		 timeout;	/* seconds for the whole call, 0: none */
static long long	 deadline;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: bgservice [-hV] [-H host:port] [-t seconds] command ...\n"
	    "commands:\n"
	    "  call SERVICE [DATA]  run SERVICE with DATA (or stdin), print "
	    "its output\n"
	    "  add SERVICE [DATA]   queue a job, print its id\n"
	    "  status ID            print 0 (queued), 1 (running) or 2 (done)\n"
	    "  get ID               wait for the job, print its output\n"
	    "  info ID              the job's state, exit status and times\n"
	    "  cancel ID            cancel a queued or running job\n"
	    "  jobs                 list the jobs in the spool\n"
	    "  ping                 check that the daemon answers\n");
	exit(EXIT_USAGE);
}

static int
ms_left(void)
{
	return deadline == 0 ? -1 : ms_until(deadline);
}

/* Split "host:port", "[v6]:port" or a UNIX socket path and connect. */
static int
dial(const char *spec)
{
	struct addrinfo		 hints, *res, *ai;
	struct sockaddr_un	 sun;
	char			 buf[256], *h, *p;
	int			 fd = -1, e;

	if (spec[0] == '/') {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlcpy(sun.sun_path, spec, sizeof(sun.sun_path)) >=
		    sizeof(sun.sun_path))
			errx(EXIT_USAGE, "%s: path too long", spec);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
			err(EXIT_TEMP, "socket");
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
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
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(h, p, &hints, &res)) != 0)
		errx(EXIT_TEMP, "%s: %s", spec, gai_strerror(e));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype,
		    ai->ai_protocol)) == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
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
	struct pollfd	 pfd = { fd, events, 0 };
	int		 r;

	while ((r = poll(&pfd, 1, ms_left())) == -1 && errno == EINTR)
		;
	if (r == -1)
		err(EXIT_TEMP, "poll");
	if (r == 0)
		errx(EXIT_TEMP, "%s: timed out after %d s", host, timeout);
}

static void
send_all(int fd, const char *data, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		wait_fd(fd, POLLOUT);
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			err(EXIT_TEMP, "%s: write", host);
		}
		data += n;
		len -= n;
	}
}

/*
 * Send one framed request and read its framed answer into OUT.  Returns
 * the answer's code.
 */
static int
request(const char *verb, const char *arg, const char *data, size_t len,
    struct buf *out)
{
	char	 hdr[FRAME_HEADER_MAX];
	int	 fd, hlen, code = 0;
	size_t	 plen = 0;
	ssize_t	 n;

	if ((hlen = proto_frame_request(hdr, sizeof(hdr), verb, arg, len)) ==
	    -1)
		errx(EXIT_USAGE, "%s: argument too long", verb);
	fd = dial(host);
	if (set_nonblock(fd, 1) == -1)
		err(EXIT_TEMP, "fcntl");
	send_all(fd, hdr, hlen);
	send_all(fd, data, len);
	(void)shutdown(fd, SHUT_WR);
	hlen = 0;
	for (;;) {
		if (hlen == 0 && out->len > 0) {
			hlen = proto_parse_frame_answer(out->data, out->len,
			    &code, &plen);
			if (hlen == -1)
				errx(EXIT_TEMP, "%s: not a bgserviced answer",
				    host);
		}
		if (hlen > 0 && out->len >= (size_t)hlen + plen)
			break;
		wait_fd(fd, POLLIN);
		if (buf_reserve(out, 65536) == -1)
			err(EXIT_TEMP, "malloc");
		if ((n = read(fd, out->data + out->len, 65536)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			err(EXIT_TEMP, "%s: read", host);
		}
		if (n == 0)
			errx(EXIT_TEMP, "%s: connection closed before the "
			    "answer was complete", host);
		out->len += n;
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
	if (code >= 200 && code < 300) {
		if (ans->len > 0 &&
		    fwrite(ans->data, 1, ans->len, stdout) != ans->len)
			err(EXIT_TEMP, "stdout");
		if (fflush(stdout) == EOF)
			err(EXIT_TEMP, "stdout");
		return 0;
	}
	fprintf(stderr, "bgservice: %d: %.*s\n", code, (int)ans->len,
	    ans->data);
	switch (code) {
	case 502:
	case 504:
	case 507:
		return EXIT_SERVICE;
	default:
		return code >= 400 && code < 500 ? EXIT_REFUSED : EXIT_TEMP;
	}
}

/* DATA from the argument, or all of standard input. */
static void
read_data(int argc, char *argv[], int i, struct buf *data)
{
	ssize_t	 n;

	if (i < argc) {
		if (buf_append(data, argv[i], strlen(argv[i])) == -1)
			err(EXIT_TEMP, "malloc");
		return;
	}
	for (;;) {
		if (buf_reserve(data, 65536) == -1)
			err(EXIT_TEMP, "malloc");
		if ((n = read(STDIN_FILENO, data->data + data->len, 65536)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_TEMP, "stdin");
		}
		if (n == 0)
			return;
		data->len += n;
	}
}

static int
cmd_call(int argc, char *argv[])
{
	struct buf	 data = { 0 }, ans = { 0 };
	int		 code;

	if (argc < 2 || argc > 3)
		usage();
	read_data(argc, argv, 2, &data);
	code = request("call", argv[1], data.data, data.len, &ans);
	code = finish(code, &ans);
	buf_free(&data);
	buf_free(&ans);
	return code;
}

/* How a job verb prints a successful answer. */
enum print_as {
	PRINT_RAW,		/* the bytes as they are */
	PRINT_LINE,		/* with a line end */
	PRINT_NOTHING,		/* success says nothing */
};

/* Ask VERB about the job id argv[1]; print the answer. */
static int
job_verb(const char *verb, int argc, char *argv[], enum print_as how)
{
	struct buf	 ans = { 0 };
	int		 code;

	if (argc != 2)
		usage();
	if (!proto_valid_id(argv[1], strlen(argv[1]))) {
		warnx("%s: not a job id (16 hex digits)", argv[1]);
		return EXIT_REFUSED;
	}
	code = request(verb, argv[1], NULL, 0, &ans);
	if (code == 200 && how == PRINT_NOTHING)
		ans.len = 0;
	if (code == 200 && how == PRINT_LINE &&
	    buf_append(&ans, "\n", 1) == -1)
		err(EXIT_TEMP, "malloc");
	code = finish(code, &ans);
	buf_free(&ans);
	return code;
}

static int
cmd_add(int argc, char *argv[])
{
	struct buf	 data = { 0 }, ans = { 0 };
	int		 code;

	if (argc < 2 || argc > 3)
		usage();
	read_data(argc, argv, 2, &data);
	code = request("add", argv[1], data.data, data.len, &ans);
	if (code == 200 && buf_append(&ans, "\n", 1) == -1)
		err(EXIT_TEMP, "malloc");
	code = finish(code, &ans);
	buf_free(&data);
	buf_free(&ans);
	return code;
}

static int
cmd_status(int argc, char *argv[])
{
	return job_verb("check", argc, argv, PRINT_LINE);
}

static int
cmd_get(int argc, char *argv[])
{
	return job_verb("get", argc, argv, PRINT_RAW);
}

static int
cmd_info(int argc, char *argv[])
{
	return job_verb("info", argc, argv, PRINT_RAW);
}

static int
cmd_cancel(int argc, char *argv[])
{
	return job_verb("cancel", argc, argv, PRINT_NOTHING);
}

static int
cmd_jobs(int argc, char *argv[])
{
	struct buf	 ans = { 0 };
	int		 code;

	(void)argv;
	if (argc != 1)
		usage();
	code = request("list", NULL, NULL, 0, &ans);
	code = finish(code, &ans);
	buf_free(&ans);
	return code;
}

static int
cmd_ping(int argc, char *argv[])
{
	struct buf	 ans = { 0 };
	int		 code;

	(void)argv;
	if (argc != 1)
		usage();
	code = request("helo", NULL, NULL, 0, &ans);
	if (code == 200 && ans.len == 4 && memcmp(ans.data, "oleh", 4) == 0) {
		printf("%s is alive\n", host);
		code = 0;
	} else
		code = finish(code == 200 ? 502 : code, &ans);
	buf_free(&ans);
	return code;
}

static const struct {
	const char	*name;
	int		(*fn)(int, char *[]);
} commands[] = {
	{ "call",	cmd_call },
	{ "add",	cmd_add },
	{ "status",	cmd_status },
	{ "get",	cmd_get },
	{ "info",	cmd_info },
	{ "cancel",	cmd_cancel },
	{ "jobs",	cmd_jobs },
	{ "ping",	cmd_ping },
};

int
main(int argc, char *argv[])
{
	const char	*errstr;
	size_t		 i;
	int		 ch;

	signal(SIGPIPE, SIG_IGN);
	if (getenv("BGSERVICE_HOST") != NULL)
		host = getenv("BGSERVICE_HOST");
	while ((ch = getopt(argc, argv, "+H:ht:V")) != -1) {
		switch (ch) {
		case 'H':
			host = optarg;
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
	deadline = timeout > 0 ? now_ms() + (long long)timeout * 1000 : 0;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].fn(argc, argv);
	warnx("unknown command '%s'", argv[0]);
	usage();
}
