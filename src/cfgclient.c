/*
 * cfgclient.c: the client's configuration (~/.bgservice.conf,
 * /etc/bgservice.conf): which daemon serves which service, and the
 * secrets to present to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgpriv.h"
#include "config.h"

static const char *const client_keys[] = { "default", "services", NULL };
static const char *const target_keys[] = { "tcpurl", "udpurl", "hosts",
	"token", "udp_key", NULL };

/* An element of "hosts" in T (ARG), which has no tcpurl. */
static int
hosts_check(struct cfgctx *ctx, const config_setting_t *e, int i,
    const char *v, void *arg)
{
	const struct client_target *t = arg;

	if (i == 0 && t->tcpurl != NULL)
		return cfg_error(ctx, config_setting_parent(e),
		    "'hosts' and 'tcpurl' exclude "
		    "each other");
	if (v == NULL || *v == '\0')
		return cfg_error(ctx, e,
		    "'hosts': not an address "
		    "\"host:port\"");
	return 0;
}

/* "hosts": the daemons a service is spread over, [ "host:port", ... ]. */
static int
parse_hosts(struct cfgctx *ctx, const config_setting_t *g,
    struct client_target *t)
{
	static const char	     want[] = "must be a list of addresses "
					      "[ \"host:port\", ... ]";
	static const struct cfg_list list = { .key = "hosts",
		.notlist = want,
		.empty = want,
		.check = hosts_check };
	int			     n;

	if ((n = cfg_strings(ctx, g, &list, t, &t->hosts)) == -1)
		return -1;
	t->nhosts = n;
	return 0;
}

static int
parse_target(struct cfgctx *ctx, const config_setting_t *g,
    struct client_target *t)
{
	if (!config_setting_is_group(g))
		return cfg_error(ctx, g,
		    "'%s' must be a group { tcpurl = "
		    "...; udpurl = ...; }",
		    config_setting_name(g));
	if (cfg_known_keys(ctx, g, target_keys, config_setting_name(g)) ==
		-1 ||
	    cfg_string(ctx, g, "tcpurl", &t->tcpurl) == -1 ||
	    cfg_string(ctx, g, "udpurl", &t->udpurl) == -1 ||
	    parse_hosts(ctx, g, t) == -1 ||
	    cfg_string(ctx, g, "token", &t->token) == -1 ||
	    cfg_string(ctx, g, "udp_key", &t->udp_key) == -1)
		return -1;
	if (t->token != NULL && !cfg_token_valid(t->token))
		return cfg_error(ctx, config_setting_get_member(g, "token"),
		    "'token' is 1 to %d characters, printable, no space",
		    TOKEN_MAX);
	return 0;
}

static int
parse_client(struct cfgctx *ctx, config_t *cf, struct client_conf *cc)
{
	const config_setting_t *root = config_root_setting(cf), *s, *e;
	int			i, n;

	if (cfg_known_keys(ctx, root, client_keys, "the top level") == -1)
		return -1;
	if ((s = config_setting_get_member(root, "default")) != NULL &&
	    parse_target(ctx, s, &cc->dflt) == -1)
		return -1;
	if ((s = config_setting_get_member(root, "services")) == NULL)
		return 0;
	if (!config_setting_is_group(s))
		return cfg_error(ctx, s, "'services' must be a group");
	if ((n = config_setting_length(s)) == 0)
		return 0;
	if ((cc->services = calloc(n, sizeof(*cc->services))) == NULL)
		return cfg_error(ctx, s, "out of memory");
	cc->nservices = n;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if ((cc->services[i].name = strdup(config_setting_name(e))) ==
		    NULL)
			return cfg_error(ctx, e, "out of memory");
		if (parse_target(ctx, e, &cc->services[i]) == -1)
			return -1;
	}
	return 0;
}

/* Read the client's file; NULL with "file:line: problem" in ERR. */
struct client_conf *
config_client_load(const char *file, char *err, size_t errlen)
{
	struct cfgctx	    ctx = { file, err, errlen };
	struct client_conf *cc;
	config_t	    cf;

	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", file);
		return NULL;
	}
	if (cfg_read(&cf, file, err, errlen) == -1)
		goto fail;
	if (parse_client(&ctx, &cf, cc) == -1)
		goto fail;
	config_destroy(&cf);
	return cc;
fail:
	config_destroy(&cf);
	config_client_free(cc);
	return NULL;
}

static void
target_free(struct client_target *t)
{
	cfg_strings_free(t->hosts);
	free(t->name);
	free(t->tcpurl);
	free(t->udpurl);
	free(t->token);
	free(t->udp_key);
}

void
config_client_free(struct client_conf *cc)
{
	size_t i;

	if (cc == NULL)
		return;
	for (i = 0; i < cc->nservices; i++)
		target_free(&cc->services[i]);
	free(cc->services);
	target_free(&cc->dflt);
	free(cc);
}

/* The stream daemons of T: its hosts, or its tcpurl; *N of them. */
char *const *
config_client_stream(const struct client_target *t, size_t *n)
{
	*n = t->nhosts > 0 ? t->nhosts : t->tcpurl != NULL;
	return t->nhosts > 0 ? t->hosts : &t->tcpurl;
}

/*
 * The daemons for SERVICE (NULL: the default), *N of them (0: none set).
 * Datagrams go to the service's udpurl, else the default's, else where
 * its stream calls go; stream calls to the service's hosts or tcpurl,
 * else the default's.
 */
char *const *
config_client_urls(const struct client_conf *cc, const char *service, int udp,
    size_t *n)
{
	const struct client_target *t = NULL;
	char *const		   *urls;
	size_t			    i;

	*n = 0;
	if (cc == NULL)
		return NULL;
	for (i = 0; service != NULL && i < cc->nservices; i++)
		if (strcmp(cc->services[i].name, service) == 0)
			t = &cc->services[i];
	if (udp && t != NULL && t->udpurl != NULL) {
		*n = 1;
		return &t->udpurl;
	}
	if (udp && cc->dflt.udpurl != NULL) {
		*n = 1;
		return &cc->dflt.udpurl;
	}
	if (t != NULL && (urls = config_client_stream(t, n), *n > 0))
		return urls;
	return config_client_stream(&cc->dflt, n);
}

/* SERVICE's token (UDP_KEY: its datagram key), else the default's. */
const char *
config_client_secret(const struct client_conf *cc, const char *service,
    int udp_key)
{
	size_t i;

	if (cc == NULL)
		return NULL;
	for (i = 0; service != NULL && i < cc->nservices; i++)
		if (strcmp(cc->services[i].name, service) == 0 &&
		    (udp_key ? cc->services[i].udp_key :
			       cc->services[i].token) != NULL)
			return udp_key ? cc->services[i].udp_key :
					 cc->services[i].token;
	return udp_key ? cc->dflt.udp_key : cc->dflt.token;
}
