/*
 * util.h: small helpers shared by the daemon's modules and the client.
 */
#ifndef UTIL_H
#define UTIL_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

/* The least room buf_read() makes before reading. */
#define BUF_READ_MIN 4096
#define BUF_READ_LOW 512 /* grow when less is free */

/* A growable byte buffer. */
struct buf {
	char  *data;
	size_t len;
	size_t size;
};

int	buf_reserve(struct buf *, size_t more);
ssize_t buf_read(struct buf *, int fd, size_t max);
int	buf_append(struct buf *, const void *, size_t);
void	buf_consume(struct buf *, size_t);
void	buf_free(struct buf *);

/* Monotonic clock in milliseconds. */
long long now_ms(void);
/* The wall clock (CLOCK_REALTIME) in milliseconds since the epoch. */
long long wall_ms(void);
/* Milliseconds left until DEADLINE (never negative), for poll(2). */
int ms_until(long long deadline);
/* A struct timespec for ppoll(2) from milliseconds, NULL when < 0. */
struct timespec *ms_timespec(struct timespec *, int ms);

/* write(2) all of it, retrying on EINTR; -1 on error. */
int   write_all(int fd, const void *, size_t);
int   set_nonblock(int fd, int on);
void *shm_alloc(size_t);

#endif /* UTIL_H */
