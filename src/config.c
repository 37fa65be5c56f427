/*
 * config.c: the daemon's configuration file, read with libconfig and
 * checked completely before anything uses it: its top level (pidfile,
 * spool, log, node, limits, metrics, allow, admission keys, user) and
 * who runs what; cfglisten.c reads the listen entries, cfgsvc.c the
 * services, cfg.c the typed values they all share (cfgpriv.h).
 *
 * Every error names the file and line: "file:line: what is wrong".
 * Unknown keys are errors, so that a misspelt limit is never silently
 * replaced by its default.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgpriv.h"
#include "config.h"
#include "log.h"
#include "lookup.h"
#include "pathnames.h"
#include "proto.h"

static const char *const root_keys[] = { "pidfile", "spool_dir", "listen",
	"limits", "services", "allow", "user", "group", "log", "metrics",
	"node", "tokens", "allow_untokened", "rate", "burst", "source_rate",
	"source_burst", "udp_key", "udp_signed", "max_queued_per_source",
	"max_running_per_source", NULL };
static const char *const limit_keys[] = { "max_connections", "max_request",
	"request_timeout", "request_idle_ms", "request_idle_fixed", "max_jobs",
	"job_retention", "max_output", "kill_grace", "max_per_source",
	"max_queue", "connection_workers", NULL };
static const char *const metrics_keys[] = { "address", "port", "allow", NULL };

/*
 * max_per_source when it is not set: half of max_connections (at least
 * one), so that a single address cannot take every slot and leave the
 * others waiting in the backlog, while it may still use half of them.
 */
static void
per_source_default(struct limits *l)
{
	if (l->max_per_source != -1)
		return;
	l->max_per_source = l->max_connections / DEF_PER_SOURCE_SHARE;
	if (l->max_per_source == 0)
		l->max_per_source = 1;
}

/* The keys of the "limits" group S, over the defaults in L. */
static int
parse_limit_keys(struct cfgctx *ctx, const config_setting_t *s,
    struct limits *l)
{
	long long v;

	if (!config_setting_is_group(s))
		return cfg_error(ctx, s, "'limits' must be a group { ... }");
	if (cfg_known_keys(ctx, s, limit_keys, "limits") == -1)
		return -1;

#define LIMIT(key, min, max, field) \
	do { \
		v = l->field; \
		if (cfg_int(ctx, s, key, min, max, &v) == -1) \
			return -1; \
		l->field = v; \
	} while (0)
	LIMIT("max_connections", 1, 65536, max_connections);
	LIMIT("max_request", 1, 1LL << 30, max_request);
	LIMIT("request_timeout", 1, 86400, request_timeout);
	LIMIT("request_idle_ms", 1, 60000, request_idle_ms);
	LIMIT("max_jobs", 1, 4096, max_jobs);
	LIMIT("job_retention", 0, 365LL * 86400, job_retention);
	LIMIT("max_output", 1, 1LL << 30, max_output);
	LIMIT("kill_grace", 0, 3600, kill_grace);
	LIMIT("max_per_source", 0, 65536, max_per_source);
	LIMIT("max_queue", 1, 10000000, max_queue);
	LIMIT("connection_workers", 0, POOL_MAX, connection_workers);
#undef LIMIT
	return cfg_bool(ctx, s, "request_idle_fixed", &l->request_idle_fixed);
}

static int
parse_limits(struct cfgctx *ctx, const config_setting_t *root,
    struct limits *l)
{
	const config_setting_t *s;

	l->max_connections = DEF_MAX_CONNECTIONS;
	l->max_request = DEF_MAX_REQUEST;
	l->request_timeout = DEF_REQUEST_TIMEOUT;
	l->request_idle_ms = DEF_REQUEST_IDLE_MS;
	l->max_jobs = DEF_MAX_JOBS;
	l->job_retention = DEF_JOB_RETENTION;
	l->max_output = DEF_MAX_OUTPUT;
	l->kill_grace = DEF_KILL_GRACE;
	l->max_per_source = -1; /* unset: per_source_default() */
	l->max_queue = DEF_MAX_QUEUE;
	l->connection_workers = 0; /* a fork per connection */
	if ((s = config_setting_get_member(root, "limits")) != NULL &&
	    parse_limit_keys(ctx, s, l) == -1)
		return -1;
	per_source_default(l);
	return 0;
}

/* A numeric IPv4 or IPv6 address? */
static int
numeric_address(const char *s)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, addr) == 1 ||
	    inet_pton(AF_INET6, s, addr) == 1;
}

/* The metrics block: where GET /metrics is answered, and to whom. */
static int
parse_metrics(struct cfgctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t *g;
	struct metrics_conf    *m = &c->metrics;
	long long		port = 0;
	size_t			i;

	if ((g = config_setting_get_member(root, "metrics")) == NULL)
		return 0;
	m->line = config_setting_source_line(g);
	if (!config_setting_is_group(g))
		return cfg_error(ctx, g,
		    "'metrics' must be a group "
		    "{ address = ...; port = ...; }");
	if (cfg_known_keys(ctx, g, metrics_keys, "metrics") == -1 ||
	    cfg_string(ctx, g, "address", &m->address) == -1 ||
	    cfg_int(ctx, g, "port", 1, 65535, &port) == -1 ||
	    cfg_allow(ctx, g, &m->allow) == -1)
		return -1;
	m->port = port;
	if (m->address == NULL || port == 0)
		return cfg_error(ctx, g,
		    "'metrics' needs 'address' and "
		    "'port'");
	if (!numeric_address(m->address))
		return cfg_error(ctx, config_setting_get_member(g, "address"),
		    "'%s' is not a numeric IPv4 or IPv6 address", m->address);
	for (i = 0; i < c->nlistens; i++)
		if (c->listens[i].address != NULL && c->listens[i].tcp &&
		    c->listens[i].port == m->port &&
		    strcmp(c->listens[i].address, m->address) == 0)
			return cfg_error(ctx, g,
			    "'metrics' names the address "
			    "and port of a listen entry (line %d)",
			    c->listens[i].line);
	return 0;
}

/*
 * A service running as the spool's owner (the daemon's user) could write
 * the spool and, through it, fool the daemon: as root, only where the
 * service says spool_writable = true.  Not as root, every service is the
 * daemon's user anyway, and has nothing more to gain.
 */
static int
check_spool_owner(struct cfgctx *ctx, const config_setting_t *root,
    const struct config *c)
{
	const config_setting_t *svs;
	const struct service   *sv;
	size_t			i;
	uid_t			owner, uid;

	if (geteuid() != 0)
		return 0;
	owner = c->id.setids ? c->id.uid : 0;
	svs = config_setting_get_member(root, "services");
	for (i = 0; i < c->nservices; i++) {
		sv = &c->services[i];
		uid = sv->id.setids ? sv->id.uid : owner;
		if (uid == owner && !sv->spool_writable)
			return cfg_error(ctx,
			    config_setting_get_member(svs, sv->name),
			    "service '%s' would run as uid %ld, "
			    "the owner of the spool, and could write to it: "
			    "give it another user, or say spool_writable = "
			    "true",
			    sv->name, (long)uid);
	}
	return 0;
}

/*
 * Not as root, nobody can be switched to: the users and groups of C are
 * ignored, with a warning, as xinetd does.
 */
static void
ids_ignore(struct cfgctx *ctx, struct config *c)
{
	struct service *sv;
	size_t		i;

	for (i = 0; i < c->nservices; i++) {
		sv = &c->services[i];
		if (sv->id.setids && sv->id.uid != geteuid())
			fprintf(stderr,
			    "bgserviced: %s:%d: not running "
			    "as root: service '%s' runs as uid %ld, not "
			    "as '%s'\n",
			    ctx->file, sv->line, sv->name, (long)geteuid(),
			    sv->id.user);
		sv->id.setids = 0;
	}
	if (c->id.setids) {
		fprintf(stderr,
		    "bgserviced: %s: not running as root: 'user' "
		    "%s ignored\n",
		    ctx->file, c->id.user);
		c->id.setids = 0;
	}
}

/*
 * Who runs what.  As root, the daemon never runs a service as root by
 * default: each service names its user (user = "root" is the explicit
 * way), unless the daemon itself drops to a "user", whose identity the
 * services then keep.  Not as root, ids_ignore().
 */
static int
check_identities(struct cfgctx *ctx, const config_setting_t *root,
    struct config *c)
{
	struct service *sv;
	size_t		i;

	if (geteuid() != 0) {
		ids_ignore(ctx, c);
		return check_spool_owner(ctx, root, c);
	}
	for (i = 0; i < c->nservices; i++) {
		sv = &c->services[i];
		if (c->id.setids && sv->id.setids &&
		    (sv->id.uid != c->id.uid || sv->id.gid != c->id.gid))
			return cfg_error(ctx, NULL,
			    "service '%s' (line %d): "
			    "the daemon runs as '%s' and cannot switch to "
			    "'%s' or another group",
			    sv->name, sv->line, c->id.user, sv->id.user);
		if (!c->id.setids && !sv->id.setids)
			return cfg_error(ctx, NULL,
			    "service '%s' (line %d) "
			    "would run as root: name its 'user' (user = "
			    "\"root\" to mean it)",
			    sv->name, sv->line);
	}
	return check_spool_owner(ctx, root, c);
}

/* The spool defaults to the pidfile's name with ".spool" for ".pid". */
static int
default_spool(struct cfgctx *ctx, struct config *c)
{
	size_t len = strlen(c->pidfile);
	char   buf[PATH_MAX];

	if (len > 4 && strcmp(c->pidfile + len - 4, ".pid") == 0)
		len -= 4;
	if (snprintf(buf, sizeof(buf), "%.*s.spool", (int)len, c->pidfile) >=
	    (int)sizeof(buf))
		return cfg_error(ctx, NULL, "pidfile path too long");
	if ((c->spool_dir = strdup(buf)) == NULL)
		return cfg_error(ctx, NULL, "out of memory");
	return 0;
}

/* "log": syslog, syslog:FACILITY, stderr or an absolute path. */
static int
parse_log(struct cfgctx *ctx, const config_setting_t *root, struct config *c)
{
	if (cfg_string(ctx, root, "log", &c->log) == -1)
		return -1;
	if (c->log != NULL && !log_valid(c->log))
		return cfg_error(ctx, config_setting_get_member(root, "log"),
		    "'log' must be \"syslog\", \"syslog:FACILITY\" (daemon, "
		    "user, local0 to local7), \"stderr\" or an absolute path");
	return 0;
}

/* "node": the name job ids carry, A-Z a-z 0-9, NODE_NAME_MAX at most. */
static int
parse_node(struct cfgctx *ctx, const config_setting_t *root, struct config *c)
{
	char *node = NULL;
	int   ok;

	if (cfg_string(ctx, root, "node", &node) == -1)
		return -1;
	if (node == NULL)
		return 0;
	ok = proto_valid_node(node, strlen(node));
	if (ok)
		strlcpy(c->node, node, sizeof(c->node));
	free(node);
	if (!ok)
		return cfg_error(ctx, config_setting_get_member(root, "node"),
		    "'node' must be 1 to %d letters and digits",
		    NODE_NAME_MAX);
	return 0;
}

static int
config_parse(struct cfgctx *ctx, config_t *cf, struct config *c)
{
	const config_setting_t *root = config_root_setting(cf);

	if (cfg_known_keys(ctx, root, root_keys, "the top level") == -1)
		return -1;
	if ((c->pidfile = strdup(BGS_PATH_PIDFILE)) == NULL)
		return cfg_error(ctx, NULL, "out of memory");
	if (cfg_abspath(ctx, root, "pidfile", &c->pidfile) == -1 ||
	    cfg_abspath(ctx, root, "spool_dir", &c->spool_dir) == -1)
		return -1;
	if (c->spool_dir == NULL && default_spool(ctx, c) == -1)
		return -1;
	if (parse_log(ctx, root, c) == -1 || parse_node(ctx, root, c) == -1 ||
	    parse_limits(ctx, root, &c->limits) == -1 ||
	    cfglisten_parse(ctx, root, c) == -1 ||
	    cfg_allow(ctx, root, &c->allow) == -1 ||
	    cfg_admit(ctx, root, &c->admit) == -1 ||
	    parse_metrics(ctx, root, c) == -1 ||
	    cfg_user(ctx, root, &c->id) == -1 ||
	    cfgsvc_parse(ctx, root, c) == -1)
		return -1;
	return check_identities(ctx, root, c);
}

struct config *
config_load(const char *file, char *err, size_t errlen)
{
	struct cfgctx  ctx = { file, err, errlen };
	struct config *c;
	config_t       cf;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->file = strdup(file)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", file);
		free(c);
		return NULL;
	}
	if (cfg_read(&cf, file, err, errlen) == -1)
		goto fail;
	if (config_parse(&ctx, &cf, c) == -1)
		goto fail;
	lookup_end();
	config_destroy(&cf);
	return c;
fail:
	lookup_end();
	config_destroy(&cf);
	config_free(c);
	return NULL;
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nlistens; i++) {
		free(c->listens[i].address);
		free(c->listens[i].path);
		free(c->listens[i].allow_uid);
		free(c->listens[i].allow_gid);
	}
	free(c->allow.cidrs);
	cfg_admit_free(&c->admit);
	free(c->log);
	free(c->metrics.address);
	free(c->metrics.allow.cidrs);
	free(c->id.user);
	free(c->id.groups);
	free(c->listens);
	for (i = 0; i < c->nservices; i++)
		cfgsvc_free(&c->services[i]);
	free(c->services);
	free(c->pidfile);
	free(c->spool_dir);
	free(c->file);
	free(c);
}
