/*
 * cfglisten.c: the daemon's "listen" entries: addresses and ports, or
 * UNIX sockets with their mode, owner and allow_uid and allow_gid lists;
 * no two entries open the same socket.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfgpriv.h"
#include "lookup.h"
#include "net.h"

static const char *const listen_keys[] = { "address", "port", "path", "mode",
	"owner", "group", "tcp", "udp", "allow_uid", "allow_gid", NULL };

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
	struct cfg_list list = { .key = key,
		.notlist = "must be an array",
		.empty = "is empty: nobody could call; "
			 "remove it to let everybody in",
		.check = ids_check };

	return cfg_strings(ctx, g, &list, &ids, NULL) == -1 ? -1 : 0;
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

int
cfglisten_parse(struct cfgctx *ctx, const config_setting_t *root,
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
