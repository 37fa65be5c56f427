/*
 * floor: the least a fork-per-connection server can do, for the
 * benchmarks' baseline.  Listen on a loopback port, and for every
 * connection fork, put the socket on standard input and output, and
 * exec the command.  The parent reaps its children from a SIGCHLD
 * handler.  Nothing else: no limits, no logging, no environment.
 *
 * usage: floor [-a addr] [-b backlog] -p port command [arg ...]
 */

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
usage(void)
{
	fprintf(stderr,
	    "usage: floor [-a addr] [-b backlog] -p port "
	    "command [arg ...]\n");
	exit(2);
}

static void
on_sigchld(int sig)
{
	int save = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		continue;
	errno = save;
}

static int
listen_on(const char *addr, const char *port, int backlog)
{
	struct sockaddr_in sin;
	char		  *end;
	long		   p;
	int		   fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    (ntohl(sin.sin_addr.s_addr) >> 24) != 127)
		errx(2, "%s: not a numeric loopback address", addr);
	errno = 0;
	p = strtol(port, &end, 10);
	if (errno != 0 || *end != '\0' || p < 1 || p > 65535)
		errx(2, "bad port: %s", port);
	sin.sin_port = htons((unsigned short)p);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "bind %s:%s", addr, port);
	if (listen(fd, backlog) == -1)
		err(1, "listen");
	return fd;
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	const char	*addr = "127.0.0.1", *port = NULL;
	int		 ch, lfd, fd, backlog = 1024;

	while ((ch = getopt(argc, argv, "+a:b:p:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'b':
			backlog = atoi(optarg);
			break;
		case 'p':
			port = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (port == NULL || argc < 1)
		usage();
	lfd = listen_on(addr, port, backlog);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		err(1, "sigaction");

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				usleep(10000);
				continue;
			}
			err(1, "accept");
		}
		switch (fork()) {
		case -1:
			warn("fork");
			break;
		case 0:
			/* The handler is reset by exec; dup2 clears CLOEXEC. */
			if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1)
				_exit(111);
			execv(argv[0], argv);
			_exit(111);
		default:
			break;
		}
		close(fd);
	}
}
