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
#include <fcntl.h>
#include <unistd.h>

#include "daemon.h"
#include "pathnames.h"

/* Standard input and output (and error, unless KEEP_STDERR) on /dev/null. */
static void
stdio_devnull(int keep_stderr)
{
	int fd;

	if ((fd = open(BGS_PATH_DEVNULL, O_RDWR)) == -1)
		err(1, "%s", BGS_PATH_DEVNULL);
	(void)dup2(fd, STDIN_FILENO);
	(void)dup2(fd, STDOUT_FILENO);
	if (!keep_stderr)
		(void)dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/*
 * Returns, in the daemon, the descriptor to pass to daemon_ready().
 * KEEP_STDERR: standard error stays as it is (the log goes there).
 * The calling process and the intermediate child never return.
 */
int
daemon_detach(int keep_stderr)
{
	int   pfd[2];
	char  ch;
	pid_t pid;

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
		_exit(0); /* not a session leader: no terminal ever */
	}
	if (chdir("/") == -1)
		err(1, "chdir /");
	stdio_devnull(keep_stderr);
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
