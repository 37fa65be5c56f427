/*
 * reqend.h: where an original-form request without end-of-file ends.
 *
 * The original BackgroundService caller writes "service:data" and then
 * reads until the server closes; it never shuts down its side, so the
 * only end the daemon can see is silence.  reqend decides how long a
 * silence ends a request on this connection, from what the kernel knows
 * of it; see reqend.c and "Where a request ends" in bgserviced(8).
 */
#ifndef REQEND_H
#define REQEND_H

#include <stddef.h>

/* The least silence that ends a request over TCP, in microseconds. */
#define REQEND_SETTLE_US 2000
/* The request grows the silence by 1 ms for each this many bytes. */
#define REQEND_BYTES_PER_MS 65536

struct reqend {
	int	  fd;
	int	  tcp;	       /* TCP: adaptive; else the fixed bound */
	long long bound_us;    /* request_idle_ms: never wait longer */
	long long last_us;     /* when the last bytes arrived */
	long long drained_us;  /* when a read left nothing queued */
	long long gap_us;      /* longest silence inside the request */
	size_t	  reads;       /* reads that brought bytes */
	int	  remote;      /* the caller's socket is not ours to see */
	int	  waited_peer; /* silences a local sender outlasted */
	size_t	  bytes;
};

void	  reqend_init(struct reqend *, int fd, int tcp, int idle_ms);
void	  reqend_arrived(struct reqend *, size_t bytes);
long long reqend_quiet_us(const struct reqend *);
long long reqend_left_us(struct reqend *);
size_t	  reqend_late(const struct reqend *);

#endif /* REQEND_H */
