/*
 * daemon.c: the Stevens-style start.  umask, fork, setsid, fork again,
 * chdir("/"), standard descriptors on /dev/null.
 *
 * The original process waits until the daemon says it is ready (after
 * writing its pidfile) and exits 0, or 1 if the daemon died first, so
 * that an init script or systemd sees a true exit status.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "pathnames.h"

/*
 * Returns, in the daemon, the descriptor to pass to daemon_ready().
 * KEEP_STDERR: standard error stays as it is (the log goes there).
 * The calling process and the intermediate child never return.
 */
int
daemon_detach(int keep_stderr)
{
	int	 pfd[2], fd;
	char	 ch;
	pid_t	 pid;

	umask(022);
	if (pipe2(pfd, O_CLOEXEC) == -1)
		err(1, "pipe");
	switch (pid = fork()) {
	case -1:
		err(1, "fork");
	case 0:
		break;
	default:
		/* Wait for the first child, then for the daemon's word. */
		close(pfd[1]);
		(void)waitpid(pid, NULL, 0);
		if (read(pfd[0], &ch, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(pfd[0]);
	if (setsid() == -1)
		err(1, "setsid");
	switch (fork()) {
	case -1:
		err(1, "fork");
	case 0:
		break;
	default:
		_exit(0);	/* not a session leader: no terminal ever */
	}
	if (chdir("/") == -1)
		err(1, "chdir /");
	if ((fd = open(BGS_PATH_DEVNULL, O_RDWR)) == -1)
		err(1, "%s", BGS_PATH_DEVNULL);
	(void)dup2(fd, STDIN_FILENO);
	(void)dup2(fd, STDOUT_FILENO);
	if (!keep_stderr)
		(void)dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return pfd[1];
}

/* Tell the waiting original process that the daemon is up. */
void
daemon_ready(int fd)
{
	if (fd == -1)
		return;
	(void)!write(fd, "", 1);
	close(fd);
}

/*
 * Become ID: all its groups, its group, its user, each checked, and
 * root must be gone for good.  System calls only (a vfork(2) child
 * calls it before exec).
 */
int
become(const struct ident *id)
{
	if (setgroups(id->ngroups, id->groups) == -1 ||
	    setgid(id->gid) == -1 || setuid(id->uid) == -1)
		return -1;
	if (id->uid != 0 && (setuid(0) != -1 || geteuid() == 0)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * May the pidfile's folder DIRFD be trusted: root's or ours, and written
 * by no one else (a sticky folder like /tmp aside, where the kernel's
 * protected_symlinks keeps root from following another user's link)?
 */
static const char *
pidfile_dir_why(int dirfd)
{
	struct stat	 st;

	if (fstat(dirfd, &st) == -1)
		return "cannot stat its folder";
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return "its folder belongs to another user";
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return "its folder may be written by others";
	return NULL;
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
daemon_pidfile(const char *path, pid_t *other, const char **why)
{
	struct pidfh	*pfh = NULL;
	struct stat	 st, fst;
	char		 d[PATH_MAX], b[PATH_MAX];
	int		 dirfd;

	*why = NULL;
	if (strlcpy(d, path, sizeof(d)) >= sizeof(d) ||
	    strlcpy(b, path, sizeof(b)) >= sizeof(b)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if ((dirfd = open(dirname(d), O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return NULL;
	if ((*why = pidfile_dir_why(dirfd)) == NULL &&
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
