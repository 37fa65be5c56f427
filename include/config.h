/*
 * config.h: reading and validating the daemon's configuration.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include "bgservice.h"

/*
 * Read and validate FILE.  Returns a new configuration, or NULL with a
 * message "file:line: what is wrong" in ERR.
 */
struct config	*config_load(const char *file, char *err, size_t errlen);
void		 config_free(struct config *);

/* The service called NAME, or NULL. */
const struct service *config_service(const struct config *, const char *name);

/* Is NAME made only of A-Z a-z 0-9 - _ and not too long? */
int		 config_valid_name(const char *name, size_t len);

#endif /* CONFIG_H */
