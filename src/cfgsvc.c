/*
 * cfgsvc.c: one service's keys (command, on_done, env, rlimits, charset,
 * retries, its allow list, admission keys and user), the "services"
 * group, and config_service() to find one by name.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgpriv.h"
#include "charset.h"
#include "config.h"
#include "lookup.h"
#include "proto.h"

static const char *const service_keys[] = { "command", "timeout", "tcp", "udp",
	"charset", "user", "group", "nice", "env", "allow", "rlimit_cpu",
	"rlimit_as", "rlimit_nofile", "rlimit_nproc", "rlimit_fsize",
	"max_instances", "spool_writable", "tokens", "allow_untokened", "rate",
	"burst", "source_rate", "source_burst", "udp_key", "udp_signed",
	"max_queued_per_source", "max_running_per_source", "priority",
	"retries", "retry_delay", "retry_backoff", "retry_on", "on_done",
	"on_done_when", NULL };

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
	struct cfg_list		list = { .key = key,
			.notlist = "must be an array of strings "
					   "[ \"/path/to/program\", \"arg\", ... ]",
			.empty = "is empty",
			.check = argv_check };

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
	static const struct cfg_list list = { .key = "env",
		.notlist = "must be an array of \"NAME=value\" strings",
		.max = SERVICE_ENV_MAX,
		.check = env_check };

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
	static const struct cfg_list list = { .key = "retry_on",
		.notlist = "must be a list of \"exit\", \"signal\", "
			   "\"timeout\"",
		.check = retry_on_check };
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

/* The name of service G, into SV: a word of the protocol, not a verb. */
static int
service_name(struct cfgctx *ctx, const config_setting_t *g, struct service *sv)
{
	const char *name = config_setting_name(g);

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
	return 0;
}

static int
parse_service(struct cfgctx *ctx, const config_setting_t *g,
    struct service *sv)
{
	long long timeout = DEF_SERVICE_TIMEOUT, nice = 0, maxinst = 0;

	if (service_name(ctx, g, sv) == -1)
		return -1;
	sv->tcp = sv->udp = 1;
	/* -1: the top level's admission keys apply */
	sv->admit.allow_untokened = sv->admit.udp_signed = -1;
	sv->admit.rate = sv->admit.burst = -1;
	sv->admit.source_rate = sv->admit.source_burst = -1;
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
	    cfg_allow(ctx, g, &sv->allow) == -1 ||
	    cfg_admit(ctx, g, &sv->admit) == -1 ||
	    parse_retry(ctx, g, sv) == -1 || cfg_user(ctx, g, &sv->id) == -1)
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

int
cfgsvc_parse(struct cfgctx *ctx, const config_setting_t *root,
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

/* What service SV holds (not SV itself). */
void
cfgsvc_free(struct service *sv)
{
	cfg_strings_free(sv->argv);
	cfg_strings_free(sv->on_done);
	cfg_strings_free(sv->env);
	free(sv->charset);
	free(sv->id.user);
	free(sv->id.groups);
	free(sv->allow.cidrs);
	cfg_admit_free(&sv->admit);
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
