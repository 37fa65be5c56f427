/*
 * cfgpriv.h: what the configuration modules share, and no other module:
 * config.c (the daemon's file, its top level), cfglisten.c (its listen
 * entries), cfgsvc.c (one service's keys), cfgclient.c (the client's
 * file) and cfg.c (the typed readers they all use).  The only header
 * that includes <libconfig.h>; config.h is the API for the rest.
 */
#ifndef CFGPRIV_H
#define CFGPRIV_H

#include <stddef.h>

#include <libconfig.h>

#include "bgserviced.h"

/* Where the checks write their complaint. */
struct cfgctx {
	const char *file;
	char	   *err;
	size_t	    errlen;
};

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
	 * caller's ARG: 0, or -1 with the complaint.  It refuses V NULL
	 * when cfg_strings() copies the strings.
	 */
	int (*check)(struct cfgctx *ctx, const config_setting_t *e, int i,
	    const char *v, void *arg);
};

/*
 * cfg.c.  The readers of a KEY of group G leave their output alone when
 * KEY is absent; each returns 0, or -1 with "file:line: what is wrong"
 * in CTX (cfg_strings(): how many elements).
 */
int cfg_error(struct cfgctx *ctx, const config_setting_t *s, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
int cfg_known_keys(struct cfgctx *ctx, const config_setting_t *s,
    const char *const *keys, const char *what);
int cfg_int(struct cfgctx *ctx, const config_setting_t *group, const char *key,
    long long min, long long max, long long *out);
int cfg_bool(struct cfgctx *ctx, const config_setting_t *group,
    const char *key, int *out);
int cfg_string(struct cfgctx *ctx, const config_setting_t *group,
    const char *key, char **out);
int cfg_abspath(struct cfgctx *ctx, const config_setting_t *group,
    const char *key, char **out);
int cfg_strings(struct cfgctx *ctx, const config_setting_t *g,
    const struct cfg_list *l, void *arg, char ***out);
void cfg_strings_free(char **a);
int  cfg_read(config_t *cf, const char *file, char *err, size_t errlen);
int  cfg_token_valid(const char *t);
int  cfg_allow(struct cfgctx *ctx, const config_setting_t *g, struct allow *a);
int  cfg_admit(struct cfgctx *ctx, const config_setting_t *g,
     struct admit_conf *a);
void cfg_admit_free(struct admit_conf *a);
int  cfg_user(struct cfgctx *ctx, const config_setting_t *g, struct ident *id);

/* cfglisten.c: the "listen" entries of ROOT into C. */
int cfglisten_parse(struct cfgctx *ctx, const config_setting_t *root,
    struct config *c);

/* cfgsvc.c: the "services" group of ROOT into C, sorted by name. */
int  cfgsvc_parse(struct cfgctx *ctx, const config_setting_t *root,
     struct config *c);
void cfgsvc_free(struct service *sv);

#endif /* CFGPRIV_H */
