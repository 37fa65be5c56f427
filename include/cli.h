/*
 * cli.h: what the client's modules share, and no other module:
 * bgservice.c (main: the options, the configuration, the table of
 * commands and the commands call, send, stats and ping), clihost.c
 * (which daemon to ask, and the request), cliio.c (the data in, the
 * answer out, the exit status for it) and clijob.c (the job commands).
 */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>

#include "proto.h"
#include "util.h"

/* The options and configuration every client module reads (main sets). */
struct cli {
	const char	   *host;	 /* -H or $BGSERVICE_HOST: wins */
	const char	   *charset;	 /* -C: the local charset */
	const char	   *job_service; /* -s: whose daemon has the jobs */
	const char	   *token;	 /* -K: the token to present */
	struct client_conf *conf;	 /* the client's configuration */
};

extern struct cli cli;

/* bgservice.c: the usage message; exits EXIT_USAGE. */
void cli_usage(void) __attribute__((noreturn));

/* clihost.c */
const char *const *clihost_targets(const char *service, int udp, size_t *n);
const char *const *clihost_all(size_t *n);
int		   clihost_connect(const char *const *urls, size_t n, int type,
		   const char **where);
int clihost_call(const char *service, enum proto_verb verb, const char *arg,
    const struct job_opts *opts, const struct buf *data, struct buf *ans);
const char *clihost_node(const char *node, const char *const *urls, size_t n);
int clihost_ask(const char *const *urls, size_t n, enum proto_verb verb,
    const char *id, struct buf *ans);

/* cliio.c */
int  cliio_finish(int code, const struct buf *ans);
void cliio_read(int argc, char *argv[], int i, struct buf *data);

/* clijob.c: the job commands, as main's table calls them. */
int clijob_add(int argc, char *argv[]);
int clijob_status(int argc, char *argv[]);
int clijob_get(int argc, char *argv[]);
int clijob_info(int argc, char *argv[]);
int clijob_cancel(int argc, char *argv[]);
int clijob_retry(int argc, char *argv[]);
int clijob_list(int argc, char *argv[]);

#endif /* CLI_H */
