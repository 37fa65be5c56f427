/*
 * cfg.c: the typed readers of libconfig settings that the configuration
 * modules share (cfgpriv.h): integers, booleans, strings, paths, lists
 * of strings (cfg_strings()), allow lists, the admission keys and the
 * user to run as, and the reading of a file.
 *
 * Every error names the file and line: "file:line: what is wrong".
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgpriv.h"
#include "lookup.h"

/* FMT's complaint about S (NULL: the whole file) into CTX; returns -1. */
int
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
int
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

/* A character of a libconfig setting's name. */
static int
name_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '-' ||
	    ch == '*';
}

/*
 * Is the setting KEY at P in LINE written as a literal whose low 32 bits
 * are V's but that is not V (or does not fit 64 bits)?  KEY must be a
 * whole name ("rate" is not the end of "source_rate"), followed by '='
 * or ':' and a number.
 */
static int
literal_cut(const char *line, const char *p, const char *key, long long v)
{
	size_t	  klen = strlen(key);
	long long l;

	if ((p > line && name_char(p[-1])) || name_char(p[klen]))
		return 0;
	p += klen + strspn(p + klen, " \t");
	if (*p != '=' && *p != ':')
		return 0;
	p += 1 + strspn(p + 1, " \t");
	if (*p != '-' && !isdigit((unsigned char)*p))
		return 0;
	errno = 0;
	l = strtoll(p, NULL, 0);
	return errno == ERANGE || (l != v && (uint32_t)l == (uint32_t)v);
}

/*
 * Was the integer KEY = V of S written larger than it was read?  libconfig
 * keeps only the low 32 bits of a literal above 2147483647 written without
 * an L, silently; the literal is read again from S's line of the file,
 * where other settings may be too (several listen entries on one line).
 */
static int
int_cut(const config_setting_t *s, const char *key, long long v)
{
	const char *file = config_setting_source_file(s), *p;
	char	   *line = NULL;
	size_t	    size = 0;
	unsigned    n = config_setting_source_line(s);
	FILE	   *f;
	int	    cut = 0;

	if (file == NULL || n == 0 || (f = fopen(file, "re")) == NULL)
		return 0;
	while (n > 0 && getline(&line, &size, f) != -1)
		n--;
	fclose(f);
	for (p = n == 0 ? line : NULL; p != NULL && !cut; p++) {
		if ((p = strstr(p, key)) == NULL)
			break;
		cut = literal_cut(line, p, key, v);
	}
	free(line);
	return cut;
}

int
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

int
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
int
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

int
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
 * L's key of G, an array or list of strings: each element passed to L's
 * check with ARG, and copied into *OUT (NULL-terminated) unless OUT is
 * NULL.  Returns how many elements (0: absent), or -1 with the complaint.
 */
int
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

/* What cfg_strings() copied into A. */
void
cfg_strings_free(char **a)
{
	char **p;

	for (p = a; p != NULL && *p != NULL; p++)
		free(*p);
	free(a);
}

/* Read FILE with libconfig; on error "file:line: problem" in ERR. */
int
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
int
cfg_allow(struct cfgctx *ctx, const config_setting_t *g, struct allow *a)
{
	static const struct cfg_list list = { .key = "allow",
		.notlist = "must be an array of addresses "
			   "[ \"127.0.0.0/8\", \"::1\" ]",
		.empty = "is empty: nobody could call; "
			 "remove it to let everybody in",
		.check = allow_check };

	return cfg_strings(ctx, g, &list, a, NULL) == -1 ? -1 : 0;
}

/* A token: 1 to TOKEN_MAX characters from ! to ~ (a word of a header). */
int
cfg_token_valid(const char *t)
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
	if (v == NULL || !cfg_token_valid(v))
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
	static const struct cfg_list list = { .key = "tokens",
		.notlist = want,
		.empty = want,
		.check = tokens_check };

	return cfg_strings(ctx, g, &list, NULL, out) == -1 ? -1 : 0;
}

/* Admission keys of the top level or of a service (struct admit_conf). */
int
cfg_admit(struct cfgctx *ctx, const config_setting_t *g, struct admit_conf *a)
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

void
cfg_admit_free(struct admit_conf *a)
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

/*
 * "user" and "group" of G: whom to run as, with all the groups of the
 * user.  A group alone is an error: a user is always named.
 */
int
cfg_user(struct cfgctx *ctx, const config_setting_t *g, struct ident *id)
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
