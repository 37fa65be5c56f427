/*
 * util.c: byte buffers, clocks and plain I/O helpers.
 */
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int
buf_reserve(struct buf *b, size_t more)
{
	size_t want, nsize;
	char  *p;

	if (more > (size_t)-1 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	want = b->len + more;
	if (want <= b->size)
		return 0;
	nsize = b->size ? b->size : 4096;
	while (nsize < want)
		nsize = nsize > (size_t)-1 / 2 ? want : nsize * 2;
	if ((p = realloc(b->data, nsize)) == NULL)
		return -1;
	b->data = p;
	b->size = nsize;
	return 0;
}

/*
 * One read(2) of at most MAX bytes (0: no bound) from FD onto the end of B.
 * The buffer grows by doubling from one page once less than BUF_READ_LOW
 * bytes are free, so that a small request or answer touches one page, not
 * a large fixed reserve (each page a forked child touches first costs it
 * a page fault).  Returns read(2)'s value.
 */
ssize_t
buf_read(struct buf *b, int fd, size_t max)
{
	size_t	room;
	ssize_t n;

	if (b->size - b->len < BUF_READ_LOW &&
	    buf_reserve(b, b->size > BUF_READ_MIN ? b->size : BUF_READ_MIN) ==
		-1)
		return -1;
	room = b->size - b->len;
	if (max > 0 && room > max)
		room = max;
	if ((n = read(fd, b->data + b->len, room)) > 0)
		b->len += n;
	return n;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (buf_reserve(b, len) == -1)
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

/* Drop the first N bytes. */
void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->size = 0;
}

long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
ms_until(long long deadline)
{
	long long left = deadline - now_ms();

	if (left < 0)
		return 0;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

struct timespec *
ms_timespec(struct timespec *ts, int ms)
{
	if (ms < 0)
		return NULL;
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (long)(ms % 1000) * 1000000;
	return ts;
}

int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t	    n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int
set_nonblock(int fd, int on)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

/*
 * SIZE bytes of zeroed memory shared with every process forked after:
 * the master's tables that its children update.  NULL (errno) if none.
 */
void *
shm_alloc(size_t size)
{
	void *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}
