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
#include "config.h"
#include "dial.h"
#include "pathnames.h"
#include "proto.h"
#include "udpsign.h"
#include "util.h"

#define DEFAULT_HOST "127.0.0.1:12341"
#define DGRAM_MAX    65507

static const char	  *host;	/* -H or $BGSERVICE_HOST: wins */
static const char	  *charset;	/* -C: the local charset */
static const char	  *job_service; /* -s: whose daemon has the jobs */
static const char	  *token;	/* -K: the token to present */
static struct client_conf *cconf;	/* the client's configuration */
static struct job_opts	   add_opts;	/* add's options (-p -d -a -k -w) */
static const char *const   default_hosts[] = { DEFAULT_HOST };

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

/*
 * The daemons of SERVICE (NULL: -s's, the jobs' service) over TCP or
 * UDP: -H or $BGSERVICE_HOST, else the client's configuration (hosts,
 * tcpurl, udpurl), else the default; *N of them.
 */
static const char *const *
targets(const char *service, int udp, size_t *n)
{
	char *const *urls;

	*n = 1;
	if (host != NULL)
		return &host;
	urls = config_client_urls(cconf,
	    service != NULL ? service : job_service, udp, n);
	if (*n > 0)
		return (const char *const *)urls;
	*n = 1;
	return default_hosts;
}

/*
 * Every daemon the configuration names for stream calls, each once (a
 * job's node may be any of them), unless -H or -s says where to ask.
 */
static const char *const *
all_targets(size_t *n)
{
	static const char **all;
	char *const	   *urls;
	size_t		    i, j, k, m, max;

	if (host != NULL || job_service != NULL || cconf == NULL)
		return targets(NULL, 0, n);
	config_client_stream(&cconf->dflt, &max);
	for (i = 0; i < cconf->nservices; i++) {
		(void)config_client_stream(&cconf->services[i], &m);
		max += m;
	}
	if (max == 0 || (all = reallocarray(NULL, max, sizeof(*all))) == NULL)
		return targets(NULL, 0, n);
	*n = 0;
	for (i = 0; i <= cconf->nservices; i++) {
		urls = config_client_stream(
		    i == 0 ? &cconf->dflt : &cconf->services[i - 1], &m);
		for (j = 0; j < m; j++) {
			for (k = 0; k < *n && strcmp(all[k], urls[j]) != 0;
			     k++)
				;
			if (k == *n)
				all[(*n)++] = urls[j];
		}
	}
	return all;
}

/*
 * Connect to one of the N daemons of URLS: from one picked at random on,
 * round the list while one cannot be reached.  Returns the socket, its
 * URL in *WHERE; exits when none can be reached.
 */
static int
connect_any(const char *const *urls, size_t n, int type, const char **where)
{
	char   why[512] = "";
	size_t i, first = n > 1 ? arc4random_uniform(n) : 0;
	int    fd;

	for (i = 0; i < n; i++) {
		*where = urls[(first + i) % n];
		if ((fd = dial_try(*where, type, why, sizeof(why))) != -1)
			return fd;
	}
	if (n > 1)
		errx(EXIT_TEMP, "none of %zu hosts answers; %s", n, why);
	errx(EXIT_TEMP, "%s", why);
}

/* One framed request to a daemon of SERVICE; the answer's code. */
static int
call_any(const char *service, enum proto_verb verb, const char *arg,
    const struct buf *data, struct buf *ans)
{
	const char *const *urls;
	const char	  *where;
	size_t		   n;
	int		   fd;

	urls = targets(service, 0, &n);
	fd = connect_any(urls, n, SOCK_STREAM, &where);
	return dial_request(fd, where, verb, arg,
	    token != NULL ? token : config_client_secret(cconf, service, 0),
	    verb == VERB_QADD ? &add_opts : NULL, data->data, data->len, ans);
}

/* Does the daemon at URL answer that it is NODE? */
static int
is_node(const char *url, const char *node)
{
	struct buf ans = { 0 };
	char	   why[512];
	int	   fd, r;

	if ((fd = dial_try(url, SOCK_STREAM, why, sizeof(why))) == -1)
		return 0;
	r = dial_request(fd, url, VERB_NODE, NULL, NULL, NULL, NULL, 0,
		&ans) == PROTO_DONE &&
	    ans.len == strlen(node) && memcmp(ans.data, node, ans.len) == 0;
	buf_free(&ans);
	return r;
}

/*
 * The daemon of the N of URLS that holds the jobs of NODE: the one that
 * answers that it is NODE.  NULL when there is one daemon only: ask it.
 */
static const char *
job_host(const char *node, const char *const *urls, size_t n)
{
	size_t i;

	if (n == 1)
		return NULL;
	for (i = 0; i < n; i++)
		if (is_node(urls[i], node))
			return urls[i];
	errx(EXIT_TEMP, "no host of %zu answers as node %s", n, node);
}

/*
 * Ask VERB about job ID of the daemons of URLS in turn, until one has it
 * (answers other than 404) or the last one answers.  The answer's code.
 */
static int
job_ask(const char *const *urls, size_t n, enum proto_verb verb,
    const char *id, struct buf *ans)
{
	char   why[512] = "";
	size_t i;
	int    fd, code = -1;

	for (i = 0; i < n; i++) {
		if ((fd = dial_try(urls[i], SOCK_STREAM, why, sizeof(why))) ==
		    -1)
			continue;
		ans->len = 0;
		code = dial_request(fd, urls[i], verb, id, NULL, NULL, NULL, 0,
		    ans);
		if (code != proto_err_code(ERR_NO_JOB))
			break;
	}
	if (code == -1)
		errx(EXIT_TEMP, "%s", why);
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
	code = call_any(argv[1], VERB_CALL, argv[1], &data, &ans);
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

/*
 * Ask VERB about the job id argv[1]; print the answer.  An id that names
 * a node goes to the daemon that is that node; one without a node to
 * the daemons of -s's service (or the default) in turn.
 */
static int
job_verb(enum proto_verb verb, int argc, char *argv[], enum print_as how)
{
	const char *const *urls;
	const char	  *where;
	struct buf	   ans = { 0 };
	char		   node[NODE_NAME_MAX + 1];
	size_t		   n;
	int		   code;

	if (argc != 2)
		usage();
	if (!proto_valid_id(argv[1], strlen(argv[1]))) {
		warnx("%s: not a job id (bgserviced(8), Job ids)", argv[1]);
		return EXIT_REFUSED;
	}
	if (proto_id_node(argv[1], node, sizeof(node)) == 0)
		urls = targets(NULL, 0, &n); /* -s's service's, or default */
	else {
		urls = all_targets(&n);
		if ((where = job_host(node, urls, n)) != NULL) {
			urls = &where;
			n = 1;
		}
	}
	code = job_ask(urls, n, verb, argv[1], &ans);
	if (code == PROTO_DONE && how == PRINT_NOTHING)
		ans.len = 0;
	if (code == PROTO_DONE && how == PRINT_LINE &&
	    buf_append(&ans, "\n", 1) == -1)
		err(EXIT_TEMP, "malloc");
	code = finish(code, &ans);
	buf_free(&ans);
	return code;
}

/* A number of add's option -CH, MIN to MAX. */
static long long
opt_number(int ch, long long min, long long max)
{
	const char *errstr;
	long long   v = strtonum(optarg, min, max, &errstr);

	if (errstr != NULL)
		errx(EXIT_USAGE, "-%c %s: %s", ch, optarg, errstr);
	return v;
}

/* -w ID,...: the jobs the new job waits for, into add_opts. */
static void
add_after(const char *list)
{
	const char *p = list;
	size_t	    len;

	for (;;) {
		len = strcspn(p, ",");
		if (add_opts.nafter == JOB_AFTER_MAX)
			errx(EXIT_USAGE, "-w: %d jobs at most", JOB_AFTER_MAX);
		if (!proto_valid_id(p, len))
			errx(EXIT_USAGE, "-w %s: not a list of job ids", list);
		memcpy(add_opts.after[add_opts.nafter], p, len);
		add_opts.after[add_opts.nafter++][len] = '\0';
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
}

/* -k KEY: any printable characters but a space. */
static void
add_key(const char *key)
{
	const char *p;

	if (key[0] == '\0' ||
	    strlcpy(add_opts.key, key, sizeof(add_opts.key)) >=
		sizeof(add_opts.key))
		errx(EXIT_USAGE, "-k: 1 to %d characters", JOB_KEY_MAX);
	for (p = key; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			errx(EXIT_USAGE, "-k: printable characters, no space");
}

/* add's options into add_opts; the arguments left. */
static int
add_options(int argc, char *argv[])
{
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "+a:d:k:p:w:")) != -1) {
		switch (ch) {
		case 'a':
			add_opts.at = opt_number(ch, 1, JOB_AT_MAX);
			break;
		case 'd':
			add_opts.delay = opt_number(ch, 0, JOB_DELAY_MAX);
			break;
		case 'k':
			add_key(optarg);
			break;
		case 'p':
			add_opts.priority = opt_number(ch, -JOB_PRIORITY_MAX,
			    JOB_PRIORITY_MAX);
			add_opts.has_priority = 1;
			break;
		case 'w':
			add_after(optarg);
			break;
		default:
			usage();
		}
	}
	if (add_opts.at > 0 && add_opts.delay > 0)
		errx(EXIT_USAGE, "-a and -d exclude each other");
	return optind - 1;
}

static int
cmd_add(int argc, char *argv[])
{
	struct buf data = { 0 }, ans = { 0 };
	int	   code, skip;

	skip = add_options(argc, argv);
	argc -= skip;
	argv += skip;
	if (argc < 2 || argc > 3)
		usage();
	read_data(argc, argv, 2, &data);
	code = call_any(argv[1], VERB_QADD, argv[1], &data, &ans);
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
	struct buf	   data = { 0 }, dgram = { 0 };
	const char *const *urls;
	const char	  *where;
	char		   head[SERVICE_NAME_MAX + 2];
	ssize_t		   r;
	size_t		   n;
	int		   fd, hlen;

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
	urls = targets(argv[1], 1, &n);
	fd = connect_any(urls, n, SOCK_DGRAM, &where);
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

static int
cmd_retry(int argc, char *argv[])
{
	return job_verb(VERB_QRETRY, argc, argv, PRINT_LINE);
}

/* A verb with no argument: print the answer as it is. */
static int
plain_verb(enum proto_verb verb, int argc)
{
	struct buf ans = { 0 }, none = { 0 };
	int	   code;

	if (argc != 1)
		usage();
	code = call_any(NULL, verb, NULL, &none, &ans);
	code = finish(code, &ans);
	buf_free(&ans);
	return code;
}

/* One job of the list: "ID STATE SERVICE SUBMITTED" (more words: kept). */
struct job_line {
	char	  id[JOB_ID_MAX + 1];
	char	  state[16];
	char	  service[SERVICE_NAME_MAX + 1];
	long long submitted;
};

static int
job_line_cmp(const void *a, const void *b)
{
	const struct job_line *x = a, *y = b;

	if (x->submitted != y->submitted)
		return x->submitted < y->submitted ? -1 : 1;
	return strcmp(x->id, y->id);
}

/*
 * The jobs of the list ANS in STATE and of SERVICE (each NULL: any),
 * oldest first, into *JOBS; how many.
 */
static size_t
jobs_parse(const struct buf *ans, const char *state, const char *service,
    struct job_line **jobs)
{
	struct job_line j, *all = NULL, *grown;
	const char     *p = ans->data, *end = ans->data + ans->len, *nl;
	char		line[256];
	size_t		n = 0, cap = 0;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		if (sscanf(line, "%25s %15s %64s %lld", j.id, j.state,
			j.service, &j.submitted) != 4 ||
		    (state != NULL && strcmp(j.state, state) != 0) ||
		    (service != NULL && strcmp(j.service, service) != 0))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((grown = reallocarray(all, cap, sizeof(*all))) ==
			    NULL)
				err(EXIT_TEMP, "malloc");
			all = grown;
		}
		all[n++] = j;
	}
	if (n > 1)
		qsort(all, n, sizeof(*all), job_line_cmp);
	*jobs = all;
	return n;
}

/* How long ago T was, NOW being now: "12s", "3m", "5h", "2d". */
static void
ago(char *buf, size_t size, long long t, time_t now)
{
	long long d = now > t ? now - t : 0;

	if (d < 60)
		snprintf(buf, size, "%llds ago", d);
	else if (d < 3600)
		snprintf(buf, size, "%lldm ago", d / 60);
	else if (d < 86400)
		snprintf(buf, size, "%lldh ago", d / 3600);
	else
		snprintf(buf, size, "%lldd ago", d / 86400);
}

/* The table of jobs: a header, then one line each, times local. */
static void
jobs_print(const struct job_line *jobs, size_t n)
{
	char	  when[32], age[32];
	struct tm tm;
	time_t	  now = time(NULL), t;
	size_t	  i;
	int	  idw = 16, svw = 7, w;

	for (i = 0; i < n; i++) {
		if ((w = (int)strlen(jobs[i].id)) > idw)
			idw = w;
		if ((w = (int)strlen(jobs[i].service)) > svw)
			svw = w;
	}
	printf("%-*s  %-9s  %-*s  %-19s  %s\n", idw, "ID", "STATE", svw,
	    "SERVICE", "SUBMITTED", "AGE");
	for (i = 0; i < n; i++) {
		t = (time_t)jobs[i].submitted;
		if (localtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm) ==
			0)
			snprintf(when, sizeof(when), "%lld",
			    jobs[i].submitted);
		ago(age, sizeof(age), jobs[i].submitted, now);
		printf("%-*s  %-9s  %-*s  %-19s  %s\n", idw, jobs[i].id,
		    jobs[i].state, svw, jobs[i].service, when, age);
	}
}

/*
 * The states a job can be listed in (a cancelled job is done: its result
 * is the 410).
 */
static const char *const job_states[] = { "queued", "running", "done",
	"failed", NULL };

/* jobs [-S STATE] [-s SERVICE]: the spool's jobs as a table. */
static int
cmd_jobs(int argc, char *argv[])
{
	struct buf	 ans = { 0 }, none = { 0 };
	struct job_line *jobs;
	const char	*state = NULL, *service = NULL;
	size_t		 n, i;
	int		 ch, code;

	optind = 1;
	while ((ch = getopt(argc, argv, "+S:s:")) != -1) {
		if (ch == 'S')
			state = optarg;
		else if (ch == 's')
			service = optarg;
		else
			usage();
	}
	for (i = 0; state != NULL && job_states[i] != NULL &&
	     strcmp(state, job_states[i]) != 0;
	     i++)
		;
	if (argc != optind || (state != NULL && job_states[i] == NULL))
		usage();
	code = call_any(service, VERB_QLIST, NULL, &none, &ans);
	if (code != PROTO_DONE)
		return finish(code, &ans);
	n = jobs_parse(&ans, state, service, &jobs);
	jobs_print(jobs, n);
	free(jobs);
	buf_free(&ans);
	if (fflush(stdout) == EOF)
		err(EXIT_TEMP, "stdout");
	return 0;
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
		code = finish(
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
		usage();
	urls = targets(NULL, 0, &n);
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
	{ "add", cmd_add },
	{ "status", cmd_status },
	{ "get", cmd_get },
	{ "info", cmd_info },
	{ "cancel", cmd_cancel },
	{ "retry", cmd_retry },
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
	int	    ch, r, timeout = 0;

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
	dial_init(timeout);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0) {
			r = commands[i].fn(argc, argv);
			config_client_free(cconf);
			return r;
		}
	warnx("unknown command '%s'", argv[0]);
	usage();
}
