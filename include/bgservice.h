/*
 * bgservice.h: the core structures shared by every module of bgserviced.
 *
 * The daemon's world is one struct config, read by config_load() from a
 * libconfig file and replaced whole on SIGHUP.  A config holds the listeners
 * to open, the global limits and the services, each of which is a name bound
 * to an argv array that is executed directly, never through a shell.
 *
 * Ownership: everything reachable from a struct config belongs to it and is
 * released by config_free().
 */
#ifndef BGSERVICE_H
#define BGSERVICE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define BGS_VERSION		"0.1.0"

/* Longest service name; names are made of A-Z a-z 0-9 - _. */
#define SERVICE_NAME_MAX	64

/* Defaults of the limits block (documented in bgserviced.conf(5)). */
#define DEF_MAX_CONNECTIONS	256
#define DEF_MAX_REQUEST		1048576
#define DEF_REQUEST_TIMEOUT	10
#define DEF_REQUEST_IDLE_MS	50
#define DEF_MAX_JOBS		4
#define DEF_JOB_RETENTION	3600
#define DEF_MAX_OUTPUT		(16 * 1048576)
#define DEF_SERVICE_TIMEOUT	60
#define DEF_KILL_GRACE		2

/* One entry of the listen list: an IP address and port, or a UNIX path. */
struct listen_conf {
	char		*address;	/* numeric IPv4/IPv6 address, or NULL */
	int		 port;
	char		*path;		/* UNIX-domain stream socket, or NULL */
	mode_t		 mode;		/* permissions of the UNIX socket */
	int		 tcp;		/* serve TCP (stream) on it */
	int		 udp;		/* serve UDP on it (IP only) */
	int		 line;		/* where it was configured */
};

struct limits {
	int		 max_connections;	/* connection children at once */
	size_t		 max_request;		/* bytes in one request */
	int		 request_timeout;	/* seconds to receive a request */
	int		 request_idle_ms;	/* quiet period ending a request */
	int		 max_jobs;		/* queued jobs running at once */
	int		 job_retention;		/* seconds a finished job is kept */
	size_t		 max_output;		/* bytes of a service's output */
	int		 kill_grace;		/* seconds between TERM and KILL */
};

struct service {
	char		 name[SERVICE_NAME_MAX + 1];
	char		**argv;		/* NULL-terminated, argv[0] absolute */
	int		 timeout;	/* seconds, 0: none */
	int		 tcp;		/* reachable by stream calls and jobs */
	int		 udp;		/* reachable by datagrams */
	char		*charset;	/* what the command speaks; NULL: UTF-8 */
	int		 line;		/* where it was configured */
};

struct config {
	char		*file;		/* the file it was read from */
	char		*pidfile;
	char		*spool_dir;
	struct listen_conf *listens;
	size_t		 nlistens;
	struct limits	 limits;
	struct service	*services;	/* sorted by name */
	size_t		 nservices;
};

#endif /* BGSERVICE_H */
