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
#include <stdlib.h>
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
