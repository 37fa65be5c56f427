/*
 * clijob.c: the client's job commands (bgservice(1)): add and its
 * options, the verbs about one job id (status, get, info, cancel,
 * retry), and jobs, the spool's jobs as a table.
 */
#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bgserviced.h"
#include "cli.h"
#include "dial.h"
#include "proto.h"
#include "util.h"

static struct job_opts add_opts; /* add's options (-p -d -a -k -w) */

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
		cli_usage();
	if (!proto_valid_id(argv[1], strlen(argv[1]))) {
		warnx("%s: not a job id (bgserviced(8), Job ids)", argv[1]);
		return EXIT_REFUSED;
	}
	if (proto_id_node(argv[1], node, sizeof(node)) == 0) {
		/* -s's service's, or the default's. */
		urls = clihost_targets(NULL, 0, &n);
	} else {
		urls = clihost_all(&n);
		if ((where = clihost_node(node, urls, n)) != NULL) {
			urls = &where;
			n = 1;
		}
	}
	code = clihost_ask(urls, n, verb, argv[1], &ans);
	if (code == PROTO_DONE && how == PRINT_NOTHING)
		ans.len = 0;
	if (code == PROTO_DONE && how == PRINT_LINE &&
	    buf_append(&ans, "\n", 1) == -1)
		err(EXIT_TEMP, "malloc");
	code = cliio_finish(code, &ans);
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
			cli_usage();
		}
	}
	if (add_opts.at > 0 && add_opts.delay > 0)
		errx(EXIT_USAGE, "-a and -d exclude each other");
	return optind - 1;
}

int
clijob_add(int argc, char *argv[])
{
	struct buf data = { 0 }, ans = { 0 };
	int	   code, skip;

	skip = add_options(argc, argv);
	argc -= skip;
	argv += skip;
	if (argc < 2 || argc > 3)
		cli_usage();
	cliio_read(argc, argv, 2, &data);
	code =
	    clihost_call(argv[1], VERB_QADD, argv[1], &add_opts, &data, &ans);
	if (code == PROTO_DONE) {
		/* An id is ASCII: print it as it is, whatever -C says. */
		printf("%.*s\n", (int)ans.len, ans.data);
		code = 0;
	} else
		code = cliio_finish(code, &ans);
	buf_free(&data);
	buf_free(&ans);
	return code;
}

int
clijob_status(int argc, char *argv[])
{
	return job_verb(VERB_QCHECK, argc, argv, PRINT_LINE);
}

int
clijob_get(int argc, char *argv[])
{
	return job_verb(VERB_QGET, argc, argv, PRINT_RAW);
}

int
clijob_info(int argc, char *argv[])
{
	return job_verb(VERB_QINFO, argc, argv, PRINT_RAW);
}

int
clijob_cancel(int argc, char *argv[])
{
	return job_verb(VERB_QCANCEL, argc, argv, PRINT_NOTHING);
}

int
clijob_retry(int argc, char *argv[])
{
	return job_verb(VERB_QRETRY, argc, argv, PRINT_LINE);
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
int
clijob_list(int argc, char *argv[])
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
			cli_usage();
	}
	for (i = 0; state != NULL && job_states[i] != NULL &&
	     strcmp(state, job_states[i]) != 0;
	     i++)
		;
	if (argc != optind || (state != NULL && job_states[i] == NULL))
		cli_usage();
	code = clihost_call(service, VERB_QLIST, NULL, NULL, &none, &ans);
	if (code != PROTO_DONE)
		return cliio_finish(code, &ans);
	n = jobs_parse(&ans, state, service, &jobs);
	jobs_print(jobs, n);
	free(jobs);
	buf_free(&ans);
	if (fflush(stdout) == EOF)
		err(EXIT_TEMP, "stdout");
	return 0;
}
