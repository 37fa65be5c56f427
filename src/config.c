/*
 * config.c: the configuration file, read with libconfig and checked
 * completely before anything uses it.  The only file that includes
 * <libconfig.h>.
 *
 * Every error names the file and line: "file:line: what is wrong".
 * Unknown keys are errors, so that a misspelt limit is never silently
 * replaced by its default.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "charset.h"
#include "config.h"
#include "log.h"
#include "lookup.h"
#include "net.h"
#include "pathnames.h"
#include "proto.h"

/* Where the checks write their complaint. */
struct cfgctx {
	const char *file;
	char	   *err;
	size_t	    errlen;
};

static const char *const root_keys[] = { "pidfile", "spool_dir", "listen",
	"limits", "services", "allow", "user", "group", "log", "metrics",
	"node", "tokens", "allow_untokened", "rate", "burst", "source_rate",
	"source_burst", "udp_key", "udp_signed", "max_queued_per_source",
	"max_running_per_source", NULL };
static const char *const limit_keys[] = { "max_connections", "max_request",
	"request_timeout", "request_idle_ms", "request_idle_fixed", "max_jobs",
	"job_retention", "max_output", "kill_grace", "max_per_source",
	"max_queue", NULL };
static const char *const listen_keys[] = { "address", "port", "path", "mode",
	"owner", "group", "tcp", "udp", "allow_uid", "allow_gid", NULL };
static const char *const metrics_keys[] = { "address", "port", "allow", NULL };
static const char *const service_keys[] = { "command", "timeout", "tcp", "udp",
	"charset", "user", "group", "nice", "env", "allow", "rlimit_cpu",
	"rlimit_as", "rlimit_nofile", "rlimit_nproc", "rlimit_fsize",
	"max_instances", "spool_writable", "tokens", "allow_untokened", "rate",
	"burst", "source_rate", "source_burst", "udp_key", "udp_signed",
	"max_queued_per_source", "max_running_per_source", "priority",
	"retries", "retry_delay", "retry_backoff", "retry_on", "on_done",
	"on_done_when", NULL };

static int cfg_error(struct cfgctx *ctx, const config_setting_t *s,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
cfg_error(struct cfgctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	char	    msg[512];
	const char *file = ctx->file;
	int	    line = 0;
	va_list	    ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s != NULL) {
		line = config_setting_source_line(s);
		if (config_setting_source_file(s) != NULL)
			file = config_setting_source_file(s);
	}
	if (line > 0)
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s", file, line, msg);
	else
		snprintf(ctx->err, ctx->errlen, "%s: %s", file, msg);
	return -1;
}

static int
in_list(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(name, *list) == 0)
			return 1;
	return 0;
}

/* Every member of group S must be one of KEYS. */
static int
cfg_known_keys(struct cfgctx *ctx, const config_setting_t *s,
    const char *const *keys, const char *what)
{
	const config_setting_t *m;
	int			i;

	for (i = 0; (m = config_setting_get_elem(s, i)) != NULL; i++)
		if (!in_list(config_setting_name(m), keys))
			return cfg_error(ctx, m, "unknown key '%s' in %s",
			    config_setting_name(m), what);
	return 0;
}

/*
 * Was the integer KEY = V of S written larger than it was read?  libconfig
 * keeps only the low 32 bits of a literal above 2147483647 written without
 * an L, silently; the literal is read again from S's line of the file.
 */
static int
int_cut(const config_setting_t *s, const char *key, long long v)
{
	const char *file = config_setting_source_file(s), *p;
	char	    line[1024];
	unsigned    n = config_setting_source_line(s);
	FILE	   *f;
	int	    cut = 0;

	if (file == NULL || n == 0 || (f = fopen(file, "re")) == NULL)
		return 0;
	while (n-- > 0 && fgets(line, sizeof(line), f) != NULL)
		;
	fclose(f);
	if (n != (unsigned)-1 || (p = strstr(line, key)) == NULL)
		return 0;
	p += strlen(key);
	p += strspn(p, " \t");
	if (*p != '=' && *p != ':')
		return 0;
	p += 1 + strspn(p + 1, " \t");
	if (*p == '-' || isdigit((unsigned char)*p)) {
		errno = 0;
		cut = strtoll(p, NULL, 0) != v || errno == ERANGE;
	}
	return cut;
}

static int
cfg_int(struct cfgctx *ctx, const config_setting_t *group, const char *key,
    long long min, long long max, long long *out)
{
	const config_setting_t *s;
	long long		v;

	if ((s = config_setting_get_member(group, key)) == NULL)
		return 0; /* absent: keep the default */
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		if (int_cut(s, key, v))
			return cfg_error(ctx, s,
			    "'%s' is above 2147483647: "
			    "write it with an L at the end",
			    key);
		break;
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		break;
	default:
		return cfg_error(ctx, s, "'%s' must be an integer", key);
	}
	if (v < min || v > max)
		return cfg_error(ctx, s, "'%s' is %lld, must be %lld to %lld",
		    key, v, min, max);
	*out = v;
	return 0;
}

static int
cfg_bool(struct cfgctx *ctx, const config_setting_t *group, const char *key,
    int *out)
{
	const config_setting_t *s;

	if ((s = config_setting_get_member(group, key)) == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return cfg_error(ctx, s, "'%s' must be true or false", key);
	*out = config_setting_get_bool(s);
	return 0;
}

/* A string member, copied into *OUT (which keeps its value if absent). */
static int
cfg_string(struct cfgctx *ctx, const config_setting_t *group, const char *key,
    char **out)
{
	const config_setting_t *s;
	char		       *copy;

	if ((s = config_setting_get_member(group, key)) == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_error(ctx, s, "'%s' must be a string", key);
	if ((copy = strdup(config_setting_get_string(s))) == NULL)
		return cfg_error(ctx, s, "out of memory");
	free(*out);
	*out = copy;
	return 0;
}

static int
cfg_abspath(struct cfgctx *ctx, const config_setting_t *group, const char *key,
    char **out)
{
	if (cfg_string(ctx, group, key, out) == -1)
		return -1;
	if (*out != NULL && (*out)[0] != '/')
		return cfg_error(ctx, config_setting_get_member(group, key),
		    "'%s' must be an absolute path", key);
	return 0;
}

/*
 * A list of strings, for cfg_strings(): its key, the complaints about a
 * value that is not a list, and the check of each element.
 */
struct cfg_list {
	const char *key;
	const char *notlist; /* not an array or list: "'key' ..." */
	const char *empty;   /* an empty list: "'key' ..."; NULL: fine */
	int	    max;     /* the most elements; 0: no limit */
	/*
	 * Element I of the list, E, holding V (NULL: not a string), with the
	 * caller's ARG: 0, or -1 with the complaint.  Refuses V NULL.
	 */
	int (*check)(struct cfgctx *ctx, const config_setting_t *e, int i,
	    const char *v, void *arg);
};

/*
 * L's key of G, an array or list of strings: each element passed to L's
 * check with ARG, and copied into *OUT (NULL-terminated) unless OUT is
 * NULL.  Returns how many elements (0: absent), or -1 with the complaint.
 */
static int
cfg_strings(struct cfgctx *ctx, const config_setting_t *g,
    const struct cfg_list *l, void *arg, char ***out)
{
	const config_setting_t *s, *e;
	const char	       *v;
	int			i, n;

	if ((s = config_setting_get_member(g, l->key)) == NULL)
		return 0;
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return cfg_error(ctx, s, "'%s' %s", l->key, l->notlist);
	n = config_setting_length(s);
	if (n == 0 && l->empty != NULL)
		return cfg_error(ctx, s, "'%s' %s", l->key, l->empty);
	if (l->max > 0 && n > l->max)
		return cfg_error(ctx, s, "'%s' has more than %d entries",
		    l->key, l->max);
	if (out != NULL && (*out = calloc(n + 1, sizeof(**out))) == NULL)
		return cfg_error(ctx, s, "out of memory");
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		v = config_setting_get_string(e);
		if (l->check(ctx, e, i, v, arg) == -1)
			return -1;
		if (out != NULL && ((*out)[i] = strdup(v)) == NULL)
			return cfg_error(ctx, e, "out of memory");
	}
	return n;
}

/* "192.0.2.0/24", "::1", "10.1.2.3": an address and a prefix length. */
static int
parse_cidr(const char *s, struct cidr *c)
{
	char	    addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/'), *errstr;
	size_t	    len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	int	    max;

	if (len >= sizeof(addr))
		return -1;
	memcpy(addr, s, len);
	addr[len] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else
		return -1;
	c->bits = max;
	if (slash != NULL) {
		c->bits = strtonum(slash + 1, 0, max, &errstr);
		if (errstr != NULL)
			return -1;
	}
	return 0;
}

/* An element of an allow list: the next prefix of the struct allow ARG. */
static int
allow_check(struct cfgctx *ctx, const config_setting_t *e, int i,
    const char *v, void *arg)
{
	struct allow *a = arg;
	struct cidr  *c;

	if ((c = reallocarray(a->cidrs, i + 1, sizeof(*c))) == NULL)
		return cfg_error(ctx, e, "out of memory");
	a->cidrs = c;
	if (v == NULL || parse_cidr(v, &c[i]) == -1)
		return cfg_error(ctx, e,
		    "'allow': not an address or "
		    "prefix such as \"192.0.2.0/24\" or \"::1\"");
	a->n = i + 1;
	return 0;
}

/* An allow list: an array of address prefixes. */
static int
parse_allow(struct cfgctx *ctx, const config_setting_t *g, struct allow *a)
{
	static const struct cfg_list list = { "allow",
		"must be an array of addresses [ \"127.0.0.0/8\", \"::1\" ]",
		"is empty: nobody could call; remove it to let everybody in",
		0, allow_check };

	return cfg_strings(ctx, g, &list, a, NULL) == -1 ? -1 : 0;
}

/* A token: 1 to TOKEN_MAX characters from ! to ~ (a word of a header). */
static int
token_valid(const char *t)
{
	size_t i, n = strlen(t);

	if (n == 0 || n > TOKEN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (t[i] < '!' || t[i] > '~')
			return 0;
	return 1;
}

/* An element of "tokens". */
static int
tokens_check(struct cfgctx *ctx, const config_setting_t *e, int i,
    const char *v, void *arg)
{
	(void)i;
	(void)arg;
	if (v == NULL || !token_valid(v))
		return cfg_error(ctx, e,
		    "'tokens': a token is 1 to %d characters, "
		    "printable, no space",
		    TOKEN_MAX);
	return 0;
}

/* "tokens": a list of secrets, one of which a caller must present. */
static int
parse_tokens(struct cfgctx *ctx, const config_setting_t *g, char ***out)
{
	static const char	     want[] = "must be a list of strings "
					      "[ \"secret\" ]";
	static const struct cfg_list list = { "tokens", want, want, 0,
		tokens_check };

	return cfg_strings(ctx, g, &list, NULL, out) == -1 ? -1 : 0;
}

/* Admission keys of the top level or of a service (struct admit_conf). */
static int
parse_admit(struct cfgctx *ctx, const config_setting_t *g,
    struct admit_conf *a)
{
	if (parse_tokens(ctx, g, &a->tokens) == -1 ||
	    cfg_bool(ctx, g, "allow_untokened", &a->allow_untokened) == -1 ||
	    cfg_int(ctx, g, "rate", 0, RATE_MAX, &a->rate) == -1 ||
	    cfg_int(ctx, g, "burst", 0, RATE_MAX, &a->burst) == -1 ||
	    cfg_int(ctx, g, "source_rate", 0, RATE_MAX, &a->source_rate) ==
		-1 ||
	    cfg_int(ctx, g, "source_burst", 0, RATE_MAX, &a->source_burst) ==
		-1 ||
	    cfg_string(ctx, g, "udp_key", &a->udp_key) == -1 ||
	    cfg_bool(ctx, g, "udp_signed", &a->udp_signed) == -1 ||
	    cfg_int(ctx, g, "max_queued_per_source", 0, RATE_MAX,
		&a->max_queued_per_source) == -1 ||
	    cfg_int(ctx, g, "max_running_per_source", 0, RATE_MAX,
		&a->max_running_per_source) == -1)
		return -1;
	if (a->udp_key != NULL && strlen(a->udp_key) < 16)
		return cfg_error(ctx, config_setting_get_member(g, "udp_key"),
		    "'udp_key' must be at least 16 characters");
	return 0;
}

static void
admit_free(struct admit_conf *a)
{
	char **t;

	for (t = a->tokens; t != NULL && *t != NULL; t++) {
		explicit_bzero(*t, strlen(*t));
		free(*t);
	}
	free(a->tokens);
	if (a->udp_key != NULL) {
		explicit_bzero(a->udp_key, strlen(a->udp_key));
		free(a->udp_key);
	}
}

/* Where an allow_uid or allow_gid list goes, for ids_check(). */
struct idlist {
	const char    *key;
	int	       groups; /* allow_gid: group names */
	unsigned int **ids;
	size_t	      *n;
};

/* An element of allow_uid or allow_gid: a number, or a user or group. */
static int
ids_check(struct cfgctx *ctx, const config_setting_t *e, int i, const char *v,
    void *arg)
{
	struct idlist *l = arg;
	unsigned int  *ids, id;
	uid_t	       uid;
	gid_t	       gid;

	if (config_setting_type(e) == CONFIG_TYPE_INT &&
	    config_setting_get_int(e) >= 0)
		id = config_setting_get_int(e);
	else if (v != NULL && !l->groups && lookup_user(v, &uid, &gid) == 0)
		id = uid;
	else if (v != NULL && l->groups && lookup_group(v, &gid) == 0)
		id = gid;
	else
		return cfg_error(ctx, e, "'%s': unknown %s", l->key,
		    l->groups ? "group" : "user");
	if ((ids = reallocarray(*l->ids, i + 1, sizeof(*ids))) == NULL)
		return cfg_error(ctx, e, "out of memory");
	ids[i] = id;
	*l->ids = ids;
	*l->n = i + 1;
	return 0;
}

/* The allow_uid and allow_gid lists hold numbers, or user and group names. */
static int
parse_ids(struct cfgctx *ctx, const config_setting_t *g, const char *key,
    int groups, unsigned int **out, size_t *nout)
{
	struct idlist	ids = { key, groups, out, nout };
	struct cfg_list list = { key, "must be an array",
		"is empty: nobody could call; remove it to let everybody in",
		0, ids_check };

	return cfg_strings(ctx, g, &list, &ids, NULL) == -1 ? -1 : 0;
}

/*
 * "user" and "group" of G: whom to run as, with all the groups of the
 * user.  A group alone is an error: a user is always named.
 */
static int
parse_user(struct cfgctx *ctx, const config_setting_t *g, struct ident *id)
{
	const config_setting_t *gs = config_setting_get_member(g, "group");
	char		       *group = NULL;

	id->setids = 0;
	if (cfg_string(ctx, g, "user", &id->user) == -1 ||
	    cfg_string(ctx, g, "group", &group) == -1)
		goto fail;
	if (id->user == NULL) {
		if (group != NULL) {
			cfg_error(ctx, gs, "'group' needs a 'user'");
			goto fail;
		}
		return 0;
	}
	if (lookup_user(id->user, &id->uid, &id->gid) == -1) {
		cfg_error(ctx, config_setting_get_member(g, "user"),
		    "unknown user '%s'", id->user);
		goto fail;
	}
	if (group != NULL && lookup_group(group, &id->gid) == -1) {
		cfg_error(ctx, gs, "unknown group '%s'", group);
		goto fail;
	}
	if (lookup_groups(id->user, id->gid, &id->groups, &id->ngroups) ==
	    -1) {
		cfg_error(ctx, config_setting_get_member(g, "user"),
		    "cannot list the groups of '%s'", id->user);
		goto fail;
	}
	free(group);
	id->setids = 1;
	return 0;
fail:
	free(group);
	return -1;
}

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
	if ((s = config_setting_get_member(root, "limits")) != NULL &&
	    parse_limit_keys(ctx, s, l) == -1)
		return -1;
	per_source_default(l);
	return 0;
}

static int
parse_mode(struct cfgctx *ctx, const config_setting_t *g, mode_t *mode)
{
	const config_setting_t *s;
	const char	       *str;
	char		       *end;
	long			v;

	if ((s = config_setting_get_member(g, "mode")) == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		str = config_setting_get_string(s);
		errno = 0;
		v = strtol(str, &end, 8);
		if (*str == '\0' || *end != '\0' || errno != 0)
			v = -1;
	} else if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else
		v = -1;
	if (v < 0 || v > 0777)
		return cfg_error(ctx, s,
		    "'mode' must be an octal string "
		    "such as \"0660\"");
	*mode = (mode_t)v;
	return 0;
}

/* "owner" and "group" of a UNIX socket: names or numbers; -1: unset. */
static int
parse_owner(struct cfgctx *ctx, const config_setting_t *g,
    struct listen_conf *lc)
{
	const config_setting_t *s;
	gid_t			gid;
	int			i;

	lc->owner = (uid_t)-1;
	lc->group = (gid_t)-1;
	for (i = 0; i < 2; i++) {
		const char *key = i == 0 ? "owner" : "group";
		int	    ok;

		if ((s = config_setting_get_member(g, key)) == NULL)
			continue;
		if (config_setting_type(s) == CONFIG_TYPE_INT)
			ok = config_setting_get_int(s) >= 0;
		else if (config_setting_type(s) != CONFIG_TYPE_STRING)
			ok = 0;
		else if (i == 0)
			ok = lookup_user(config_setting_get_string(s),
				 &lc->owner, &gid) == 0;
		else
			ok = lookup_group(config_setting_get_string(s),
				 &lc->group) == 0;
		if (!ok)
			return cfg_error(ctx, s, "'%s': unknown %s", key,
			    i == 0 ? "user" : "group");
		if (config_setting_type(s) == CONFIG_TYPE_INT && i == 0)
			lc->owner = config_setting_get_int(s);
		else if (config_setting_type(s) == CONFIG_TYPE_INT)
			lc->group = config_setting_get_int(s);
	}
	if ((lc->owner != (uid_t)-1 || lc->group != (gid_t)-1) &&
	    lc->path == NULL)
		return cfg_error(ctx, g,
		    "'owner' and 'group' apply to UNIX "
		    "sockets only");
	return 0;
}

/* The rest of a listen entry LC (in G) that names a UNIX socket. */
static int
listen_unix_check(struct cfgctx *ctx, const config_setting_t *g,
    struct listen_conf *lc)
{
	if (lc->address != NULL || lc->port != 0)
		return cfg_error(ctx, g,
		    "a listen entry has either "
		    "'path' or 'address' and 'port'");
	if (strlen(lc->path) >= 108)
		return cfg_error(ctx, g, "socket path too long");
	if (config_setting_get_member(g, "udp") != NULL ||
	    config_setting_get_member(g, "tcp") != NULL)
		return cfg_error(ctx, g,
		    "'tcp' and 'udp' do not apply "
		    "to a UNIX socket (always a stream)");
	lc->udp = 0;
	lc->tcp = 1;
	return 0;
}

/* The rest of a listen entry LC (in G) with an address and a port. */
static int
listen_ip_check(struct cfgctx *ctx, const config_setting_t *g,
    const struct listen_conf *lc)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (lc->address == NULL || lc->port == 0)
		return cfg_error(ctx, g,
		    "a listen entry needs 'address' and "
		    "'port' (or 'path')");
	if (inet_pton(AF_INET, lc->address, addr) != 1 &&
	    inet_pton(AF_INET6, lc->address, addr) != 1)
		return cfg_error(ctx, config_setting_get_member(g, "address"),
		    "'%s' is not a numeric IPv4 or IPv6 address", lc->address);
	if (!lc->tcp && !lc->udp)
		return cfg_error(ctx, g,
		    "listen entry with neither tcp "
		    "nor udp");
	return 0;
}

static int
parse_listen_one(struct cfgctx *ctx, const config_setting_t *g,
    struct listen_conf *lc)
{
	long long port = 0;

	lc->line = config_setting_source_line(g);
	lc->tcp = 1;
	lc->udp = 1;
	lc->mode = 0666;
	if (!config_setting_is_group(g))
		return cfg_error(ctx, g,
		    "each listen entry must be a group "
		    "{ address = ...; port = ...; } or { path = ...; }");
	if (cfg_known_keys(ctx, g, listen_keys, "listen") == -1 ||
	    cfg_string(ctx, g, "address", &lc->address) == -1 ||
	    cfg_abspath(ctx, g, "path", &lc->path) == -1 ||
	    cfg_int(ctx, g, "port", 1, 65535, &port) == -1 ||
	    cfg_bool(ctx, g, "tcp", &lc->tcp) == -1 ||
	    cfg_bool(ctx, g, "udp", &lc->udp) == -1 ||
	    parse_mode(ctx, g, &lc->mode) == -1 ||
	    parse_owner(ctx, g, lc) == -1 ||
	    parse_ids(ctx, g, "allow_uid", 0, &lc->allow_uid,
		&lc->nallow_uid) == -1 ||
	    parse_ids(ctx, g, "allow_gid", 1, &lc->allow_gid,
		&lc->nallow_gid) == -1)
		return -1;
	if ((lc->allow_uid != NULL || lc->allow_gid != NULL) &&
	    lc->path == NULL)
		return cfg_error(ctx, g,
		    "'allow_uid' and 'allow_gid' apply "
		    "to UNIX sockets only: use 'allow' for addresses");
	lc->port = port;
	if (lc->path != NULL)
		return listen_unix_check(ctx, g, lc);
	return listen_ip_check(ctx, g, lc);
}

/* Entry I of LS must not open a socket that an earlier one opens. */
static int
listen_unique(struct cfgctx *ctx, const config_setting_t *g,
    const struct listen_conf *ls, int i)
{
	char a[160], b[160];
	int  j, t, u;

	for (j = 0; j < i; j++)
		for (t = 0; t < 2; t++)
			for (u = 0; u < 2; u++) {
				if (!(t ? ls[i].udp : ls[i].tcp) ||
				    !(u ? ls[j].udp : ls[j].tcp))
					continue;
				net_listen_key(&ls[i],
				    t ? SOCK_DGRAM : SOCK_STREAM, a,
				    sizeof(a));
				net_listen_key(&ls[j],
				    u ? SOCK_DGRAM : SOCK_STREAM, b,
				    sizeof(b));
				if (strcmp(a, b) == 0)
					return cfg_error(ctx, g,
					    "this listen "
					    "entry repeats the one at line %d",
					    ls[j].line);
			}
	return 0;
}

static int
parse_listen(struct cfgctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t *s;
	int			i, n;

	if ((s = config_setting_get_member(root, "listen")) == NULL)
		return cfg_error(ctx, NULL,
		    "no 'listen' list: nothing to "
		    "serve on");
	if (!config_setting_is_list(s) && !config_setting_is_group(s))
		return cfg_error(ctx, s,
		    "'listen' must be a list ( {...}, "
		    "... )");
	if (config_setting_is_group(s)) {
		/* A single group is accepted as a list of one. */
		c->listens = calloc(1, sizeof(*c->listens));
		if (c->listens == NULL)
			return cfg_error(ctx, s, "out of memory");
		c->nlistens = 1;
		return parse_listen_one(ctx, s, &c->listens[0]);
	}
	if ((n = config_setting_length(s)) == 0)
		return cfg_error(ctx, s,
		    "'listen' is empty: nothing to "
		    "serve on");
	if ((c->listens = calloc(n, sizeof(*c->listens))) == NULL)
		return cfg_error(ctx, s, "out of memory");
	c->nlistens = n;
	for (i = 0; i < n; i++)
		if (parse_listen_one(ctx, config_setting_get_elem(s, i),
			&c->listens[i]) == -1 ||
		    listen_unique(ctx, config_setting_get_elem(s, i),
			c->listens, i) == -1)
			return -1;
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
	    parse_allow(ctx, g, &m->allow) == -1)
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

/* An element of a command: a string. */
static int
argv_check(struct cfgctx *ctx, const config_setting_t *e, int i, const char *v,
    void *arg)
{
	(void)i;
	(void)arg;
	if (v == NULL)
		return cfg_error(ctx, e, "'%s' must hold only strings",
		    config_setting_name(config_setting_parent(e)));
	return 0;
}

/*
 * KEY = [ "/path/to/program", "arg", ... ] of service SV into *ARGV;
 * absent: NULL, unless it is REQUIRED.
 */
static int
parse_argv(struct cfgctx *ctx, const config_setting_t *g,
    const struct service *sv, const char *key, int required, char ***argv)
{
	const config_setting_t *s;
	struct stat		st;
	struct cfg_list		list = { key,
			"must be an array of strings "
				"[ \"/path/to/program\", \"arg\", ... ]",
			"is empty", 0, argv_check };

	if ((s = config_setting_get_member(g, key)) == NULL)
		return required ? cfg_error(ctx, g, "service '%s' has no '%s'",
				      sv->name, key) :
				  0;
	if (cfg_strings(ctx, g, &list, NULL, argv) == -1)
		return -1;
	if ((*argv)[0][0] != '/')
		return cfg_error(ctx, s,
		    "service '%s': %s '%s' is not an absolute path", sv->name,
		    key, (*argv)[0]);
	if (access((*argv)[0], X_OK) == -1)
		return cfg_error(ctx, s, "service '%s': %s '%s': %s", sv->name,
		    key, (*argv)[0], strerror(errno));
	if (stat((*argv)[0], &st) == -1 || !S_ISREG(st.st_mode))
		return cfg_error(ctx, s,
		    "service '%s': %s '%s' is not a regular file", sv->name,
		    key, (*argv)[0]);
	return 0;
}

/* on_done_when = "always" | "success" | "failure". */
static int
parse_on_done_when(struct cfgctx *ctx, const config_setting_t *g,
    struct service *sv)
{
	static const char *const words[] = { "always", "success", "failure",
		NULL };
	const config_setting_t	*s;
	const char		*v;
	int			 i;

	if ((s = config_setting_get_member(g, "on_done_when")) == NULL)
		return 0;
	v = config_setting_type(s) == CONFIG_TYPE_STRING ?
	    config_setting_get_string(s) :
	    "";
	for (i = 0; words[i] != NULL; i++)
		if (strcmp(v, words[i]) == 0) {
			sv->on_done_when = i; /* enum hook_when's order */
			return 0;
		}
	return cfg_error(ctx, s,
	    "'on_done_when' must be \"always\", \"success\" or "
	    "\"failure\"");
}

/* An element of env: "NAME=value", NAME not one of the daemon's BGS_. */
static int
env_check(struct cfgctx *ctx, const config_setting_t *e, int i, const char *v,
    void *arg)
{
	size_t k;

	(void)i;
	(void)arg;
	if (v == NULL)
		v = "";
	k = strcspn(v, "=");
	if (v[k] != '=' || k == 0 ||
	    strspn(v,
		"ABCDEFGHIJKLMNOPQRSTUV"
		"WXYZabcdefghijklmnopqrstuvwxyz0123456789_") != k ||
	    (v[0] >= '0' && v[0] <= '9'))
		return cfg_error(ctx, e, "'env': \"%s\" is not NAME=value", v);
	if (strncmp(v, "BGS_", 4) == 0)
		return cfg_error(ctx, e,
		    "'env': BGS_ names are set "
		    "by the daemon");
	return 0;
}

/* env = [ "NAME=value", ... ]: added to the small environment. */
static int
parse_env(struct cfgctx *ctx, const config_setting_t *g, struct service *sv)
{
	static const struct cfg_list list = { "env",
		"must be an array of \"NAME=value\" strings", NULL,
		SERVICE_ENV_MAX, env_check };

	return cfg_strings(ctx, g, &list, NULL, &sv->env) == -1 ? -1 : 0;
}

static int
parse_rlimits(struct cfgctx *ctx, const config_setting_t *g, struct rlimits *r)
{
	r->cpu = r->as = r->nofile = r->nproc = r->fsize = -1;
	if (cfg_int(ctx, g, "rlimit_cpu", 1, 1LL << 31, &r->cpu) == -1 ||
	    cfg_int(ctx, g, "rlimit_as", 1 << 20, 1LL << 46, &r->as) == -1 ||
	    cfg_int(ctx, g, "rlimit_nofile", 3, 1 << 20, &r->nofile) == -1 ||
	    cfg_int(ctx, g, "rlimit_nproc", 1, 1 << 22, &r->nproc) == -1 ||
	    cfg_int(ctx, g, "rlimit_fsize", 0, 1LL << 46, &r->fsize) == -1)
		return -1;
	return 0;
}

/* The charset of SV (in G): known to iconv; none for UTF-8 itself. */
static int
service_charset(struct cfgctx *ctx, const config_setting_t *g,
    struct service *sv)
{
	if (sv->charset != NULL && !lookup_charset(sv->charset))
		return cfg_error(ctx, config_setting_get_member(g, "charset"),
		    "service '%s': charset '%s' is not known to iconv",
		    sv->name, sv->charset);
	if (sv->charset != NULL && charset_is_utf8(sv->charset)) {
		free(sv->charset);
		sv->charset = NULL;
	}
	return 0;
}

/* An element of retry_on: one of the RETRY_ON_ bits of *ARG. */
static int
retry_on_check(struct cfgctx *ctx, const config_setting_t *e, int i,
    const char *v, void *arg)
{
	static const char *const names[] = { "exit", "signal", "timeout" };
	int			*bits = arg;
	int			 k;

	(void)i;
	for (k = 0; k < 3 && (v == NULL || strcmp(v, names[k]) != 0); k++)
		;
	if (k == 3)
		return cfg_error(ctx, e,
		    "retry_on: '%s' is not \"exit\", \"signal\" "
		    "or \"timeout\"",
		    v != NULL ? v : "?");
	*bits |= 1 << k;
	return 0;
}

/* retry_on: a list of "exit", "signal", "timeout". */
static int
parse_retry_on(struct cfgctx *ctx, const config_setting_t *g,
    struct service *sv)
{
	static const struct cfg_list list = { "retry_on",
		"must be a list of \"exit\", \"signal\", \"timeout\"", NULL, 0,
		retry_on_check };
	int			     bits = 0;

	sv->retry_on = RETRY_ON_ALL;
	if (cfg_strings(ctx, g, &list, &bits, NULL) == -1)
		return -1;
	if (config_setting_get_member(g, "retry_on") != NULL)
		sv->retry_on = bits;
	return 0;
}

/* A service's job scheduling: priority, retries and their backoff. */
static int
parse_retry(struct cfgctx *ctx, const config_setting_t *g, struct service *sv)
{
	const config_setting_t *s;
	long long		prio = 0, retries = 0, delay = DEF_RETRY_DELAY;

	sv->retry_backoff = DEF_RETRY_BACKOFF;
	if (cfg_int(ctx, g, "priority", -JOB_PRIORITY_MAX, JOB_PRIORITY_MAX,
		&prio) == -1 ||
	    cfg_int(ctx, g, "retries", 0, RETRIES_MAX, &retries) == -1 ||
	    cfg_int(ctx, g, "retry_delay", 0, 86400, &delay) == -1 ||
	    parse_retry_on(ctx, g, sv) == -1)
		return -1;
	sv->priority = prio;
	sv->retries = retries;
	sv->retry_delay = delay;
	if ((s = config_setting_get_member(g, "retry_backoff")) == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_FLOAT &&
	    config_setting_type(s) != CONFIG_TYPE_INT)
		return cfg_error(ctx, s, "'retry_backoff' must be a number");
	sv->retry_backoff = config_setting_get_float(s);
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		sv->retry_backoff = config_setting_get_int(s);
	if (sv->retry_backoff < 1 || sv->retry_backoff > RETRY_BACKOFF_MAX)
		return cfg_error(ctx, s, "'retry_backoff' must be 1 to %g",
		    RETRY_BACKOFF_MAX);
	return 0;
}

static int
parse_service(struct cfgctx *ctx, const config_setting_t *g,
    struct service *sv)
{
	const char *name = config_setting_name(g);
	long long   timeout = DEF_SERVICE_TIMEOUT, nice = 0, maxinst = 0;

	sv->line = config_setting_source_line(g);
	if (!proto_valid_name(name, strlen(name)))
		return cfg_error(ctx, g,
		    "bad service name '%s': use "
		    "A-Z a-z 0-9 - _, at most %d characters",
		    name, SERVICE_NAME_MAX);
	if (proto_reserved_name(name))
		return cfg_error(ctx, g,
		    "'%s' is a protocol verb and cannot "
		    "name a service",
		    name);
	strlcpy(sv->name, name, sizeof(sv->name));
	if (!config_setting_is_group(g))
		return cfg_error(ctx, g,
		    "service '%s' must be a group "
		    "{ command = [...]; }",
		    name);
	sv->tcp = sv->udp = 1;
	sv->admit.allow_untokened = -1;
	sv->admit.rate = sv->admit.burst = -1;
	sv->admit.source_rate = sv->admit.source_burst = -1;
	sv->admit.udp_signed = -1;
	sv->admit.max_queued_per_source = sv->admit.max_running_per_source =
	    -1;
	if (cfg_known_keys(ctx, g, service_keys, "a service") == -1 ||
	    parse_argv(ctx, g, sv, "command", 1, &sv->argv) == -1 ||
	    parse_argv(ctx, g, sv, "on_done", 0, &sv->on_done) == -1 ||
	    parse_on_done_when(ctx, g, sv) == -1 ||
	    cfg_int(ctx, g, "timeout", 0, 86400 * 7, &timeout) == -1 ||
	    cfg_bool(ctx, g, "tcp", &sv->tcp) == -1 ||
	    cfg_bool(ctx, g, "udp", &sv->udp) == -1 ||
	    cfg_bool(ctx, g, "spool_writable", &sv->spool_writable) == -1 ||
	    cfg_string(ctx, g, "charset", &sv->charset) == -1 ||
	    cfg_int(ctx, g, "nice", -20, 19, &nice) == -1 ||
	    cfg_int(ctx, g, "max_instances", 0, 65536, &maxinst) == -1 ||
	    parse_env(ctx, g, sv) == -1 ||
	    parse_rlimits(ctx, g, &sv->rlim) == -1 ||
	    parse_allow(ctx, g, &sv->allow) == -1 ||
	    parse_admit(ctx, g, &sv->admit) == -1 ||
	    parse_retry(ctx, g, sv) == -1 || parse_user(ctx, g, &sv->id) == -1)
		return -1;
	sv->timeout = timeout;
	sv->nice = nice;
	sv->max_instances = maxinst;
	return service_charset(ctx, g, sv);
}

static int
service_cmp(const void *a, const void *b)
{
	return strcmp(((const struct service *)a)->name,
	    ((const struct service *)b)->name);
}

static int
parse_services(struct cfgctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t *s;
	int			i, n;

	if ((s = config_setting_get_member(root, "services")) == NULL)
		return 0; /* a daemon with no service answers helo */
	if (!config_setting_is_group(s))
		return cfg_error(ctx, s,
		    "'services' must be a group "
		    "{ name = { command = [...]; }; ... }");
	n = config_setting_length(s);
	if (n == 0)
		return 0;
	if ((c->services = calloc(n, sizeof(*c->services))) == NULL)
		return cfg_error(ctx, s, "out of memory");
	c->nservices = n;
	for (i = 0; i < n; i++)
		if (parse_service(ctx, config_setting_get_elem(s, i),
			&c->services[i]) == -1)
			return -1;
	qsort(c->services, c->nservices, sizeof(*c->services), service_cmp);
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
 * Who runs what.  As root, the daemon never runs a service as root by
 * default: each service names its user (user = "root" is the explicit
 * way), unless the daemon itself drops to a "user", whose identity the
 * services then keep.  Not as root, nobody can be switched to: user and
 * group are ignored, with a warning, as xinetd does.
 */
static int
check_identities(struct cfgctx *ctx, const config_setting_t *root,
    struct config *c)
{
	struct service *sv;
	size_t		i;
	int		root_user = geteuid() == 0;

	for (i = 0; i < c->nservices; i++) {
		sv = &c->services[i];
		if (!root_user) {
			if (sv->id.setids && sv->id.uid != geteuid())
				fprintf(stderr,
				    "bgserviced: %s:%d: not running "
				    "as root: service '%s' runs as uid %ld, not "
				    "as '%s'\n",
				    ctx->file, sv->line, sv->name,
				    (long)geteuid(), sv->id.user);
			sv->id.setids = 0;
			continue;
		}
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
	if (!root_user && c->id.setids) {
		fprintf(stderr,
		    "bgserviced: %s: not running as root: 'user' "
		    "%s ignored\n",
		    ctx->file, c->id.user);
		c->id.setids = 0;
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
	    parse_listen(ctx, root, c) == -1 ||
	    parse_allow(ctx, root, &c->allow) == -1 ||
	    parse_admit(ctx, root, &c->admit) == -1 ||
	    parse_metrics(ctx, root, c) == -1 ||
	    parse_user(ctx, root, &c->id) == -1 ||
	    parse_services(ctx, root, c) == -1)
		return -1;
	return check_identities(ctx, root, c);
}

/* Read FILE with libconfig; on error "file:line: problem" in ERR. */
static int
cfg_read(config_t *cf, const char *file, char *err, size_t errlen)
{
	config_init(cf);
	if (config_read_file(cf, file) == CONFIG_TRUE)
		return 0;
	if (config_error_type(cf) == CONFIG_ERR_FILE_IO)
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
	else
		snprintf(err, errlen, "%s:%d: %s",
		    config_error_file(cf) ? config_error_file(cf) : file,
		    config_error_line(cf), config_error_text(cf));
	return -1;
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
	char **a;

	if (c == NULL)
		return;
	for (i = 0; i < c->nlistens; i++) {
		free(c->listens[i].address);
		free(c->listens[i].path);
		free(c->listens[i].allow_uid);
		free(c->listens[i].allow_gid);
	}
	free(c->allow.cidrs);
	admit_free(&c->admit);
	free(c->log);
	free(c->metrics.address);
	free(c->metrics.allow.cidrs);
	free(c->id.user);
	free(c->id.groups);
	free(c->listens);
	for (i = 0; i < c->nservices; i++) {
		for (a = c->services[i].argv; a != NULL && *a != NULL; a++)
			free(*a);
		free(c->services[i].argv);
		for (a = c->services[i].on_done; a != NULL && *a != NULL; a++)
			free(*a);
		free(c->services[i].on_done);
		free(c->services[i].charset);
		free(c->services[i].id.user);
		free(c->services[i].id.groups);
		free(c->services[i].allow.cidrs);
		admit_free(&c->services[i].admit);
		for (a = c->services[i].env; a != NULL && *a != NULL; a++)
			free(*a);
		free(c->services[i].env);
	}
	free(c->services);
	free(c->pidfile);
	free(c->spool_dir);
	free(c->file);
	free(c);
}

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
	static const struct cfg_list list = { "hosts", want, want, 0,
		hosts_check };
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
	if (t->token != NULL && !token_valid(t->token))
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
	char **h;

	for (h = t->hosts; h != NULL && *h != NULL; h++)
		free(*h);
	free(t->hosts);
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

static int
service_name_cmp(const void *name, const void *sv)
{
	return strcmp(name, ((const struct service *)sv)->name);
}

const struct service *
config_service(const struct config *c, const char *name)
{
	if (c->nservices == 0)
		return NULL;
	return bsearch(name, c->services, c->nservices, sizeof(*c->services),
	    service_name_cmp);
}
