/*
 * bgserviced.h: the core of bgserviced, and who owns what.
 *
 * The daemon's world is one struct config, read by config_load() from a
 * libconfig file (config.c, with cfglisten.c, cfgsvc.c and cfg.c) and
 * replaced whole on SIGHUP.  A config holds the listeners to open, the
 * global limits and the services, each of which is a name bound to an
 * argv array that is executed directly, never through a shell.  Everything reachable from a struct config belongs to
 * it and is released by config_free().
 *
 * Processes, and the state each one owns:
 *
 *  - The master (server.c) owns the configuration, the listening sockets
 *    (net.c; accept.c takes what waits on them), its children (a connection's or a datagram's, by pid, with
 *    the caller's address for max_per_source) and, through sched.c, every
 *    queued job's life: the queued jobs in order (pending.c: priority,
 *    ageing, due times), those waiting for others (deps.c), the runners
 *    by pid (sched.c), the notes on the FIFO and the children waiting
 *    for a job (schednote.c), a runner's end and retention (schedend.c).
 *    Only the master reads the spool's FIFO and only the master signals
 *    its children.  It makes the shared mappings (stats.c's counters,
 *    slot.c's instance counts, rate.c's token buckets) before it forks
 *    anything.  The callers it
 *    turns away without forking, and their lingering sockets, are
 *    turn.c's; it looks at rate.c's buckets there, but takes no token.
 *  - A connection child (conn.c) owns one caller's socket and the request
 *    buffer; it reads a copy of the master's configuration as it was at
 *    fork.  It admits the caller and runs a service through service.c,
 *    and asks for job actions (its job verbs are connjob.c's) through
 *    queue.c only: a new job is written
 *    to the spool and told to the master on the FIFO, a wait or a cancel
 *    is asked of the master there.
 *  - A datagram child (dgram.c) is a connection child with no answer.
 *  - A runner (runner.c) owns one job while it runs: it claims it in the
 *    spool, counts the attempt there, runs its service through service.c,
 *    publishes the result or, with attempts left, has it queued again;
 *    after the last attempt it runs the service's on_done (hook.c).
 *  - A service's process (started by childexec.c, run by childrun.c)
 *    owns nothing of ours: its stdin, stdout and stderr are pipes to the
 *    child that started it.  Every process is forked and reaped in
 *    child*.c alone (daemon.c's detach aside).
 *
 * Shared between them: the spool's files (spool*.c, the only code that
 * touches them: each file published whole, the first result wins), the
 * counters (stats.c, atomic adds, and statsfmt.c their text; with them
 * the status page's rings of recent runs and of the last failed jobs,
 * statsring.c's, which page.c reads in the child serving the page), the
 * rate buckets and each source's job counts (rate.c: the buckets under a
 * lock, the counts written by the master alone) and the instance counts
 * (slot.c, taken and given back atomically; the master gives back a dead
 * holder's).
 *
 * Following a call: accept.c accepts and forks; conn.c reads the request
 * (reqend.c decides where an original-form one ends) and proto.c parses
 * it (protoorig.c, protoframe.c); service.c admits the caller and runs the
 * service (slot.c, childrun.c), conn.c answers through protoanswer.c.  A
 * queued job: conn.c admits it through
 * service.c, queue.c spools it (spool*.c) and notes it to the master;
 * sched.c queues it and forks a runner, runner.c runs it through
 * service.c and publishes the result; sched.c reaps the runner and wakes
 * the children waiting for it, which answer from the spool.
 */
#ifndef BGSERVICED_H
#define BGSERVICED_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#define BGS_VERSION "0.1.0"

/* Longest service name; names are made of A-Z a-z 0-9 - _. */
#define SERVICE_NAME_MAX 64
/* Longest node name (node in bgserviced.conf(5)): A-Z a-z 0-9. */
#define NODE_NAME_MAX 8
/* Most "env" entries of a service. */
#define SERVICE_ENV_MAX 32

/* Defaults of the limits block (documented in bgserviced.conf(5)). */
#define DEF_MAX_CONNECTIONS 256
#define DEF_MAX_REQUEST	    1048576
#define DEF_REQUEST_TIMEOUT 10
#define DEF_REQUEST_IDLE_MS 50
#define DEF_MAX_JOBS	    4
#define DEF_JOB_RETENTION   3600
#define DEF_MAX_OUTPUT	    (16 * 1048576)
#define DEF_SERVICE_TIMEOUT 60
/* Most connection workers (limits.connection_workers, src/pool.c). */
#define POOL_MAX 256
/* A job's retries (bgserviced.conf(5), retries): defaults and bounds. */
#define DEF_RETRY_DELAY	  10
#define DEF_RETRY_BACKOFF 2.0
#define RETRIES_MAX	  100
#define RETRY_BACKOFF_MAX 100.0
/* Which failed attempts are tried again (retry_on). */
#define RETRY_ON_EXIT	 0x1 /* "exit": it exited non-zero */
#define RETRY_ON_SIGNAL	 0x2 /* "signal": a signal killed it */
#define RETRY_ON_TIMEOUT 0x4 /* "timeout": it ran out of time */
#define RETRY_ON_ALL	 0x7
#define DEF_KILL_GRACE	 2
/* max_per_source unset: max_connections / DEF_PER_SOURCE_SHARE. */
#define DEF_PER_SOURCE_SHARE 2
#define DEF_MAX_QUEUE	     100000

/* An address prefix of an allow list: 127.0.0.0/8, ::1, 192.0.2.7. */
struct cidr {
	int	      family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int	      bits;
};

struct allow {
	struct cidr *cidrs;
	size_t	     n; /* 0: everybody */
};

/* Most requests a second of rate and source_rate, and of a burst. */
#define RATE_MAX 1000000

/* Longest admission token (characters ! to ~, no space). */
#define TOKEN_MAX 128

/*
 * Admission beyond the allow lists, global and per service (see
 * bgserviced.conf(5) and SECURITY in bgserviced(8)).  In a service, a
 * member left unset (NULL, -1) takes the global value.
 */
struct admit_conf {
	char	**tokens;	   /* NULL-ended secrets, one required */
	int	  allow_untokened; /* callers presenting none let in */
	long long rate,
	    burst; /* requests a second to a service; 0: no limit */
	long long source_rate, source_burst; /* ... from one source */
	char	 *udp_key;    /* HMAC-SHA-256 key of signed datagrams */
	int	  udp_signed; /* unsigned datagrams dropped */
	long long max_queued_per_source;  /* a source's jobs queued */
	long long max_running_per_source; /* ... and running at once */
};

/* One entry of the listen list: an IP address and port, or a UNIX path. */
struct listen_conf {
	char  *address; /* numeric IPv4/IPv6 address, or NULL */
	int    port;
	char  *path;  /* UNIX-domain stream socket, or NULL */
	mode_t mode;  /* permissions of the UNIX socket */
	uid_t  owner; /* ... its owner and group, -1: ours */
	gid_t  group;
	int    tcp;	  /* serve TCP (stream) on it */
	int    udp;	  /* serve UDP on it (IP only) */
	uid_t *allow_uid; /* UNIX callers let in, by uid */
	size_t nallow_uid;
	gid_t *allow_gid; /* ... or by gid */
	size_t nallow_gid;
	int    line; /* where it was configured */
};

/* The metrics block: an HTTP listener answering GET /metrics. */
struct metrics_conf {
	char	    *address; /* numeric address, NULL: no block */
	int	     port;
	struct allow allow; /* callers let in; none: the global */
	int	     line;  /* where it was configured */
};

struct limits {
	int    max_connections;	   /* connection children at once */
	size_t max_request;	   /* bytes in one request */
	int    request_timeout;	   /* seconds to receive a request */
	int    request_idle_ms;	   /* longest silence ending one */
	int    request_idle_fixed; /* ... and always that long */
	int    max_jobs;	   /* queued jobs running at once */
	int    job_retention;	   /* seconds a finished job is kept */
	size_t max_output;	   /* bytes of a service's output */
	int    kill_grace;	   /* seconds between TERM and KILL */
	int    max_per_source;	   /* connections from one address */
	int    max_queue;	   /* jobs queued and running */
	int    connection_workers; /* reused connection processes (pool.c) */
};

/* Resource limits of a service's process, -1 where unset. */
struct rlimits {
	long long cpu;	  /* seconds of CPU, RLIMIT_CPU */
	long long as;	  /* bytes of address space, RLIMIT_AS */
	long long nofile; /* open files, RLIMIT_NOFILE */
	long long nproc;  /* processes of the user, RLIMIT_NPROC */
	long long fsize;  /* bytes of a file written, RLIMIT_FSIZE */
};

/*
 * Whom a process runs as: "user" and "group", resolved when the
 * configuration is read, so that switching takes system calls only.
 */
struct ident {
	char  *user; /* NULL: none given */
	uid_t  uid;
	gid_t  gid;    /* the user's group, or "group" */
	gid_t *groups; /* all of the user's, for setgroups */
	int    ngroups;
	int    setids; /* switch to it */
};

struct service {
	char		  name[SERVICE_NAME_MAX + 1];
	char		**argv;	   /* NULL-terminated, argv[0] absolute */
	int		  timeout; /* seconds, 0: none */
	int		  tcp;	   /* reachable by stream calls and jobs */
	int		  udp;	   /* reachable by datagrams */
	char		 *charset; /* what the command speaks; NULL: UTF-8 */
	struct ident	  id;	   /* run as this user; none: ours */
	int		  spool_writable; /* may run as the spool's owner */
	int		  nice;		  /* the nice value it runs at */
	int		  max_instances;  /* runs at once, 0: no limit */
	char		**env;		  /* extra "NAME=value", NULL-ended */
	struct rlimits	  rlim;
	struct allow	  allow;       /* callers let in; none: all */
	struct admit_conf admit;       /* tokens, signatures, rates, quotas */
	int		  priority;    /* its jobs' default priority */
	int		  retries;     /* attempts after the first */
	int		  retry_delay; /* seconds before the first retry */
	double		  retry_backoff; /* each retry waits so much longer */
	int		  retry_on;	 /* RETRY_ON_ bits */
	char		**on_done;	 /* run after a job, NULL: none */
	int		  on_done_when;	 /* enum hook_when (hook.h) */
	int		  line;		 /* where it was configured */
};

struct config {
	char		   *file; /* the file it was read from */
	char		   *pidfile;
	char		   *spool_dir;
	char		   *log; /* "log": NULL for syslog */
	char		    node[NODE_NAME_MAX + 1]; /* "": none */
	struct listen_conf *listens;
	size_t		    nlistens;
	struct limits	    limits;
	struct allow	    allow;    /* callers let in; none: all */
	struct admit_conf   admit;    /* the services' defaults */
	struct metrics_conf metrics;  /* the HTTP metrics listener */
	struct ident	    id;	      /* the daemon's own, after binding */
	struct service	   *services; /* sorted by name */
	size_t		    nservices;
};

#endif /* BGSERVICED_H */
