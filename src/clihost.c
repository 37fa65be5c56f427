/*
 * clihost.c: which daemon the client asks (bgservice(1)): -H, the hosts
 * of the client's configuration or the default, tried in turn from one
 * picked at random; the daemon that is a job's node; one framed request.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "bgserviced.h"
#include "cli.h"
#include "config.h"
#include "dial.h"
#include "proto.h"
#include "util.h"

#define DEFAULT_HOST "127.0.0.1:12341"

static const char *const default_hosts[] = { DEFAULT_HOST };

/*
 * The daemons of SERVICE (NULL: -s's, the jobs' service) over TCP or
 * UDP: -H or $BGSERVICE_HOST, else the client's configuration (hosts,
 * tcpurl, udpurl), else the default; *N of them.
 */
const char *const *
clihost_targets(const char *service, int udp, size_t *n)
{
	char *const *urls;

	*n = 1;
	if (cli.host != NULL)
		return &cli.host;
	urls = config_client_urls(cli.conf,
	    service != NULL ? service : cli.job_service, udp, n);
	if (*n > 0)
		return (const char *const *)urls;
	*n = 1;
	return default_hosts;
}

/*
 * Every daemon the configuration names for stream calls, each once (a
 * job's node may be any of them), unless -H or -s says where to ask.
 */
const char *const *
clihost_all(size_t *n)
{
	static const char **all;
	char *const	   *urls;
	size_t		    i, j, k, m, max;

	if (cli.host != NULL || cli.job_service != NULL || cli.conf == NULL)
		return clihost_targets(NULL, 0, n);
	config_client_stream(&cli.conf->dflt, &max);
	for (i = 0; i < cli.conf->nservices; i++) {
		(void)config_client_stream(&cli.conf->services[i], &m);
		max += m;
	}
	if (max == 0 || (all = reallocarray(NULL, max, sizeof(*all))) == NULL)
		return clihost_targets(NULL, 0, n);
	*n = 0;
	for (i = 0; i <= cli.conf->nservices; i++) {
		urls = config_client_stream(
		    i == 0 ? &cli.conf->dflt : &cli.conf->services[i - 1], &m);
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
int
clihost_connect(const char *const *urls, size_t n, int type,
    const char **where)
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

/*
 * One framed request to a daemon of SERVICE, with add's OPTS (NULL for
 * every other verb); the answer's code.
 */
int
clihost_call(const char *service, enum proto_verb verb, const char *arg,
    const struct job_opts *opts, const struct buf *data, struct buf *ans)
{
	const char *const *urls;
	const char	  *where, *token;
	char		   hdr[FRAME_HEADER_MAX];
	size_t		   n;
	int		   fd;

	token = cli.token != NULL ? cli.token :
				    config_client_secret(cli.conf, service, 0);
	/* A request that cannot be written is a usage error, host or not. */
	(void)dial_header(hdr, sizeof(hdr), verb, arg, token, opts, data->len);
	urls = clihost_targets(service, 0, &n);
	fd = clihost_connect(urls, n, SOCK_STREAM, &where);
	return dial_request(fd, where, verb, arg, token, opts, data->data,
	    data->len, ans);
}

/*
 * Does the daemon at URL answer that it is NODE?  Not if it cannot be
 * reached or does not answer as a bgserviced: the node is another.
 */
static int
is_node(const char *url, const char *node)
{
	struct buf ans = { 0 };
	char	   why[512];
	int	   fd, r;

	if ((fd = dial_try(url, SOCK_STREAM, why, sizeof(why))) == -1)
		return 0;
	r = dial_request_try(fd, url, VERB_NODE, NULL, NULL, NULL, NULL, 0,
		&ans, why, sizeof(why)) == PROTO_DONE &&
	    ans.len == strlen(node) && memcmp(ans.data, node, ans.len) == 0;
	buf_free(&ans);
	return r;
}

/*
 * The daemon of the N of URLS that holds the jobs of NODE: the one that
 * answers that it is NODE.  NULL when there is one daemon only: ask it.
 */
const char *
clihost_node(const char *node, const char *const *urls, size_t n)
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
 * (answers other than 404) or the last one answers; one that cannot be
 * reached, or does not answer whole, is passed over.  The answer's code.
 */
int
clihost_ask(const char *const *urls, size_t n, enum proto_verb verb,
    const char *id, struct buf *ans)
{
	char   why[512] = "", hdr[FRAME_HEADER_MAX];
	size_t i;
	int    fd, code = -1;

	(void)dial_header(hdr, sizeof(hdr), verb, id, NULL, NULL, 0);
	for (i = 0; i < n; i++) {
		if ((fd = dial_try(urls[i], SOCK_STREAM, why, sizeof(why))) ==
		    -1)
			continue;
		ans->len = 0;
		code = dial_request_try(fd, urls[i], verb, id, NULL, NULL,
		    NULL, 0, ans, why, sizeof(why));
		if (code != -1 && code != proto_err_code(ERR_NO_JOB))
			break;
	}
	if (code == -1)
		errx(EXIT_TEMP, "%s", why);
	return code;
}
