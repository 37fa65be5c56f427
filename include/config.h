/*
 * config.h: reading and validating the daemon's configuration.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include "bgserviced.h"

/*
 * Read and validate FILE.  Returns a new configuration, or NULL with a
 * message "file:line: what is wrong" in ERR.
 */
struct config *config_load(const char *file, char *err, size_t errlen);
void	       config_free(struct config *);

/* The service called NAME, or NULL. */
const struct service *config_service(const struct config *, const char *name);

/*
 * The client's configuration (~/.bgservice.conf, /etc/bgservice.conf):
 * which daemon serves which service, like the PHP caller's ini file.
 */
struct client_target {
	char  *name; /* service, or NULL for the default */
	char  *tcpurl;
	char  *udpurl;
	char **hosts; /* "hosts", instead of tcpurl: spread over */
	size_t nhosts;
	char  *token;	/* presented on framed requests */
	char  *udp_key; /* signs datagrams */
};

struct client_conf {
	struct client_target  dflt;
	struct client_target *services;
	size_t		      nservices;
};

struct client_conf *config_client_load(const char *file, char *err,
    size_t errlen);
void		    config_client_free(struct client_conf *);
char *const	   *config_client_urls(const struct client_conf *,
	   const char *service, int udp, size_t *n);
char *const *config_client_stream(const struct client_target *, size_t *n);
const char  *config_client_secret(const struct client_conf *,
     const char *service, int udp_key);

#endif /* CONFIG_H */
