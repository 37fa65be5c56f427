/*
 * spooldir.c: the spool directory itself, and the file primitives the
 * other spool*.c share (see spoolpriv.h): opened, checked and locked
 * once; its FIFO; each file published whole, read, and looked up.
 *
 * Its own files:
 *	.tmp-*		files being written; removed at start
 *	notify		the FIFO children tell the master of jobs on
 *	lock		flock(2)ed by the daemon that owns the spool
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "spoolpriv.h"

#define NOTIFY_NAME	 "notify"
#define NOTIFY_PIPE_SIZE (1 << 20)

int	    spool_fd = -1; /* the directory */
static int  lock_fd = -1;
static int  notify_fd = -1; /* the FIFO, see spool_notify_open() */
static char spool_path[PATH_MAX];

/*
 * Is the object of ST fit to be trusted as WHAT, owned by UID?  A
 * symbolic link, another owner or a mode others may write are refused
 * with EPERM and a reason in WHY.
 */
static int
trusted(const struct stat *st, mode_t type, uid_t uid, const char **why)
{
	if ((st->st_mode & S_IFMT) != type)
		*why = type == S_IFDIR ? "not a directory" : "not a file";
	else if (st->st_uid != uid)
		*why = "owned by another user";
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		*why = "writable by its group or others";
	else if (type == S_IFREG && st->st_nlink != 1)
		*why = "a file with other links";
	else
		return 0;
	errno = EPERM;
	return -1;
}

/*
 * Open the spool directory DIR for the user UID (group GID), who owns it:
 * made 0700 if absent (and given to UID), refused if it is a symbolic
 * link, another user's, or writable by others.  No file in it is touched:
 * that waits for spool_lock(), once the daemon is UID.  On error *WHY,
 * when set, says what is wrong.
 */
int
spool_open(const char *dir, uid_t uid, gid_t gid, const char **why)
{
	struct stat st;
	int	    made;

	*why = NULL;
	if (strlcpy(spool_path, dir, sizeof(spool_path)) >=
	    sizeof(spool_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	made = mkdir(dir, 0700) == 0;
	if (!made && errno != EEXIST)
		return -1;
	if ((spool_fd = open(dir,
		 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ELOOP || errno == ENOTDIR)
			*why = "a symbolic link or not a directory";
		return -1;
	}
	if (fstat(spool_fd, &st) == -1)
		return -1;
	if (made && st.st_uid != uid && fchown(spool_fd, uid, gid) == -1)
		return -1;
	if (made)
		st.st_uid = uid;
	return trusted(&st, S_IFDIR, uid, why);
}

/*
 * As the spool's owner: take the spool's lock for the daemon's life.  The
 * lock file is never followed if it is a link, and must be a plain file
 * of the owner's.  EBUSY: another daemon holds it.
 */
int
spool_lock(const char **why)
{
	static const struct timespec pause = { 0, 10 * 1000 * 1000 };
	struct stat		     st;
	int			     tries;

	*why = NULL;
	if ((lock_fd = openat(spool_fd, "lock",
		 O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		 0600)) == -1) {
		if (errno == ELOOP)
			*why = "lock: a symbolic link";
		return -1;
	}
	if (fstat(lock_fd, &st) == -1)
		return -1;
	if (trusted(&st, S_IFREG, geteuid(), why) == -1) {
		*why = "lock: not a plain file of the spool's owner";
		return -1;
	}
	/*
	 * A child of a dead master may hold it shared for an instant (see
	 * spool_locked()): try a few times over 100 ms before giving up.
	 */
	for (tries = 0; flock(lock_fd, LOCK_EX | LOCK_NB) == -1; tries++) {
		if (errno != EWOULDBLOCK || tries == 10) {
			if (errno == EWOULDBLOCK)
				errno = EBUSY;
			return -1;
		}
		(void)nanosleep(&pause, NULL);
	}
	return 0;
}

void
spool_close(void)
{
	if (lock_fd != -1)
		close(lock_fd);
	if (spool_fd != -1)
		close(spool_fd);
	if (notify_fd != -1)
		close(notify_fd);
	lock_fd = spool_fd = notify_fd = -1;
}

/*
 * In a child: give up the lock's descriptor (the master keeps the lock),
 * so that children outliving a killed master never block its successor.
 */
void
spool_child(void)
{
	if (lock_fd != -1)
		close(lock_fd);
	lock_fd = -1;
}

/*
 * The FIFO on which connection children tell the master of jobs and
 * waiters, opened for reading and writing: the master's read end never
 * sees end-of-file, a child's write never fails for want of a reader, and
 * what children write after their master died stays in the FIFO while
 * any of them holds it, for the next master, which opens the same FIFO
 * before it scans the spool.  Made if missing; anything else of its name
 * is replaced.
 */
int
spool_notify_open(void)
{
	struct stat st;
	int	    fd, tries;

	for (tries = 0; tries < 2; tries++) {
		if (mkfifoat(spool_fd, NOTIFY_NAME, 0600) == -1 &&
		    errno != EEXIST)
			return -1;
		if ((fd = openat(spool_fd, NOTIFY_NAME,
			 O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)) ==
			-1 &&
		    errno != ELOOP)
			return -1;
		if (fd != -1 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
			/* Room for many notes; the default will do too. */
			(void)fcntl(fd, F_SETPIPE_SZ, NOTIFY_PIPE_SIZE);
			return notify_fd = fd;
		}
		if (fd != -1)
			close(fd);
		log_warnx("spool: %s is not a FIFO: replaced", NOTIFY_NAME);
		if (unlinkat(spool_fd, NOTIFY_NAME, 0) == -1)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/* The FIFO spool_notify_open() opened, or -1; children inherit it. */
int
spool_notify_fd(void)
{
	return notify_fd;
}

/*
 * Job ID's .run, open for reading, to flock(2): its runner holds it
 * (spool_run_hold()) and recovery waits for it (spoolscan.c).  The
 * descriptor, or -1.
 */
int
spool_run_open(const char *id)
{
	char name[64];

	spool_job_file(name, sizeof(name), id, ".run");
	return openat(spool_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

/*
 * Does a daemon hold the spool's lock?  Asked by a child whose master may
 * be gone; the lock is taken, shared, for an instant when it is free.
 */
int
spool_locked(void)
{
	int fd, held;

	if ((fd = openat(spool_fd, "lock",
		 O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 1; /* cannot tell: as if held */
	held = flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

/* Whether DIR (or, before it exists, its parent) is on a tmpfs. */
int
spool_volatile(const char *dir)
{
	struct statfs sf;
	char	      parent[PATH_MAX], *slash;

	if (statfs(dir, &sf) == 0)
		return sf.f_type == TMPFS_MAGIC;
	strlcpy(parent, dir, sizeof(parent));
	if ((slash = strrchr(parent, '/')) == NULL)
		return 0;
	*(slash == parent ? slash + 1 : slash) = '\0';
	return statfs(parent, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

/* The name of job ID's file of SUFFIX into BUF. */
void
spool_job_file(char *buf, size_t size, const char *id, const char *suffix)
{
	snprintf(buf, size, "%s%s", id, suffix);
}

/* NAME changed: a failed sync of the directory is said, not undone. */
void
spool_sync(const char *name)
{
	if (fsync(spool_fd) == -1)
		log_warn("spool: fsync of the directory after %s", name);
}

/*
 * Make a new temp file for NAME, never through a link: a leftover of the
 * same name (a reused pid) is removed first, whatever it is.
 */
static int
tmp_open(const char *name, char *tmp, size_t size)
{
	int fd;

	snprintf(tmp, size, SPOOL_TMP_PREFIX "%s-%ld", name, (long)getpid());
	fd = openat(spool_fd, tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST && unlinkat(spool_fd, tmp, 0) == 0)
		fd = openat(spool_fd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	return fd;
}

/*
 * Publish NAME whole: HDR then DATA into a temp file, fsync, then link
 * (EXCLUSIVE: fails with EEXIST if NAME exists) or rename into place,
 * then fsync the directory.
 */
int
spool_publish(const char *name, const char *hdr, size_t hlen, const char *data,
    size_t dlen, int exclusive)
{
	char tmp[128];
	int  fd, r, saved;

	if ((fd = tmp_open(name, tmp, sizeof(tmp))) == -1)
		return -1;
	if (write_all(fd, hdr, hlen) == -1 ||
	    write_all(fd, data, dlen) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlinkat(spool_fd, tmp, 0);
		errno = saved;
		return -1;
	}
	close(fd);
	if (exclusive) {
		r = linkat(spool_fd, tmp, spool_fd, name, 0);
		saved = errno;
		unlinkat(spool_fd, tmp, 0);
	} else {
		r = renameat(spool_fd, tmp, spool_fd, name);
		saved = errno;
		if (r == -1)
			unlinkat(spool_fd, tmp, 0);
	}
	if (r == -1) {
		errno = saved;
		return -1;
	}
	spool_sync(name);
	return 0;
}

/* Read the whole file NAME into B. */
int
spool_read(const char *name, struct buf *b, size_t max)
{
	ssize_t n;
	int	fd;

	if ((fd = openat(spool_fd, name,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return -1;
	while (max == 0 || b->len < max) {
		if ((n = buf_read(b, fd, max > 0 ? max - b->len : 0)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			close(fd);
			return n == 0 ? 0 : -1;
		}
	}
	close(fd);
	return 0;
}

/*
 * Find "KEY value" in a header (lines up to a blank line).  Copies the
 * value into VAL; returns 0 if found.
 */
int
spool_header_get(const char *hdr, size_t len, const char *key, char *val,
    size_t vsize)
{
	const char *p = hdr, *end = hdr + len, *nl;
	size_t	    klen = strlen(key), vlen;

	while (p < end && *p != '\n') {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			return -1;
		if ((size_t)(nl - p) > klen && memcmp(p, key, klen) == 0 &&
		    p[klen] == ' ') {
			vlen = nl - p - klen - 1;
			if (vlen >= vsize)
				vlen = vsize - 1;
			memcpy(val, p + klen + 1, vlen);
			val[vlen] = '\0';
			return 0;
		}
		p = nl + 1;
	}
	return -1;
}

/* "SECONDS[.MMM]" in milliseconds. */
long long
spool_ms_parse(const char *v)
{
	char	 *end;
	long long ms = strtoll(v, &end, 10) * 1000;
	int	  i, scale = 100;

	if (*end == '.')
		for (i = 1; i <= 3 && end[i] >= '0' && end[i] <= '9'; i++) {
			ms += (end[i] - '0') * scale;
			scale /= 10;
		}
	return ms;
}

/* Does job ID have a file of SUFFIX? */
int
spool_has(const char *id, const char *suffix)
{
	struct stat st;
	char	    name[64];

	spool_job_file(name, sizeof(name), id, suffix);
	return fstatat(spool_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Unlink job ID's file of SUFFIX; a missing one is no error. */
int
spool_unlink(const char *id, const char *suffix)
{
	char name[64];

	spool_job_file(name, sizeof(name), id, suffix);
	return unlinkat(spool_fd, name, 0) == -1 && errno != ENOENT ? -1 : 0;
}

/*
 * A descriptor of the spool directory of its own: its offset and its
 * flock(2) are not shared with spool_fd (a dup(2) would share, and keep,
 * the offset of every earlier scan).
 */
int
spool_dir_open(void)
{
	return openat(spool_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}
