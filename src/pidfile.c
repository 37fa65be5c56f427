/*
 * pidfile.c: the pidfile, opened and locked with libbsd's pidfile(3),
 * but only in a folder that can be trusted and never through a link:
 * the daemon opens it as root, before it gives root up.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <libutil.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pidfile.h"

/*
 * May a folder of status ST be trusted: root's or ours, and written by
 * no one else (a sticky folder like /tmp aside, where the kernel's
 * protected_symlinks keeps root from following another user's link)?
 * NULL, or what is wrong with it.
 */
static const char *
folder_why(const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return "belongs to another user";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
		return "may be written by others";
	return NULL;
}

/*
 * May every folder above P (an absolute path, cut here) be trusted?
 * NULL, or what is wrong, in WHY (SIZE bytes).
 */
static const char *
parents_why(char *p, char *why, size_t size)
{
	struct stat st;
	char	   *slash;
	const char *w;

	while ((slash = strrchr(p, '/')) != NULL) {
		slash[slash == p] = '\0'; /* "/" last */
		if (stat(p, &st) == -1)
			return "cannot stat a folder above it";
		if ((w = folder_why(&st)) != NULL) {
			snprintf(why, size, "%s above it %s", p, w);
			return why;
		}
		if (slash == p)
			break;
	}
	return NULL;
}

/*
 * May the pidfile's folder DIRFD be trusted, and every folder above it,
 * above DIR as written and as its links resolve?  Another user who may
 * rename an entry in a folder above could swap the folder for one of his
 * own between these checks and pidfile_open(3), which would then follow
 * his link, and create its target, as root.
 */
static const char *
pidfile_dir_why(int dirfd, const char *dir)
{
	static char why[PATH_MAX + 64];
	struct stat st;
	char	    p[PATH_MAX + 1];
	const char *w;

	if (fstat(dirfd, &st) == -1)
		return "cannot stat its folder";
	if ((w = folder_why(&st)) != NULL) {
		snprintf(why, sizeof(why), "its folder %s", w);
		return why;
	}
	/* The folder itself, written last, is checked again: no matter. */
	snprintf(p, sizeof(p), "%s/", dir);
	if ((w = parents_why(p, why, sizeof(why))) != NULL)
		return w;
	if (realpath(dir, p) == NULL)
		return "cannot resolve its folder";
	return parents_why(p, why, sizeof(why));
}

/* What is wrong with the pidfile BASE in DIRFD as it is now, or NULL. */
static const char *
pidfile_why(int dirfd, const char *base, struct stat *st)
{
	if (fstatat(dirfd, base, st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? NULL : "cannot stat it";
	if (S_ISLNK(st->st_mode))
		return "a symbolic link";
	if (!S_ISREG(st->st_mode) || st->st_nlink != 1)
		return "not a plain file with one link";
	if (st->st_uid != geteuid())
		return "owned by another user";
	return NULL;
}

/*
 * pidfile_open(3), but never through a link nor in a folder others may
 * write: libbsd's opens what the path names and truncates it.  NULL with
 * *WHY set when the pidfile is not what it should be, or with errno (and
 * *OTHER, EEXIST: a daemon holds it) as pidfile_open(3) sets them.
 */
struct pidfh *
pidfile_lock(const char *path, pid_t *other, const char **why)
{
	struct pidfh *pfh = NULL;
	struct stat   st, fst;
	char	      d[PATH_MAX], b[PATH_MAX];
	const char   *dir;
	int	      dirfd;

	*why = NULL;
	if (strlcpy(d, path, sizeof(d)) >= sizeof(d) ||
	    strlcpy(b, path, sizeof(b)) >= sizeof(b)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	dir = dirname(d);
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return NULL;
	if ((*why = pidfile_dir_why(dirfd, dir)) == NULL &&
	    (*why = pidfile_why(dirfd, basename(b), &st)) == NULL &&
	    (pfh = pidfile_open(path, 0644, other)) != NULL &&
	    (fstat(pidfile_fileno(pfh), &fst) == -1 ||
		(*why = pidfile_why(dirfd, basename(b), &st)) != NULL ||
		st.st_dev != fst.st_dev || st.st_ino != fst.st_ino)) {
		if (*why == NULL)
			*why = "replaced while it was opened";
		pidfile_close(pfh);
		pfh = NULL;
	}
	close(dirfd);
	return pfh;
}
