/*
 * kids.c: signal every child of this process, as the kernel lists them.
 *
 * The process that waits for a service is a child subreaper (see
 * childrun.c): what the service leaves behind when its parent exits, even
 * outside the service's process group, becomes its child.  Children are
 * found in /proc/self/task/TID/children, or, on a kernel built without
 * it, by reading the parent of every process in /proc.  A child's pid
 * is safe to signal until its parent reaps it, and only this process
 * reaps its children: a listed pid cannot be anybody else's.
 */
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kids.h"

static int
kid_signal(pid_t pid, int sig, pid_t spare)
{
	if (spare != 0 && getpgid(pid) == spare)
		return 0; /* its group was signalled as a whole */
	(void)kill(pid, sig);
	return 1;
}

/* The parent of process PID (from /proc/PID/stat), or -1. */
static pid_t
parent_of(const char *pid)
{
	char  path[300], line[512], *p;
	FILE *f;
	long  ppid = -1;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	/* "pid (comm) state ppid ...": comm may hold anything but ")". */
	if (fgets(line, sizeof(line), f) != NULL &&
	    (p = strrchr(line, ')')) != NULL)
		(void)sscanf(p + 1, " %*c %ld", &ppid);
	fclose(f);
	return (pid_t)ppid;
}

/* Without the children file: every process whose parent we are. */
static int
kids_scan(int sig, pid_t spare)
{
	struct dirent *de;
	DIR	      *d;
	pid_t	       self = getpid();
	char	       link[32];
	ssize_t	       len;
	int	       n = 0;

	/* A /proc of another pid namespace numbers processes otherwise. */
	if ((len = readlink("/proc/self", link, sizeof(link) - 1)) <= 0)
		return -1;
	link[len] = '\0';
	if (atol(link) != (long)self || (d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (isdigit((unsigned char)de->d_name[0]) &&
		    parent_of(de->d_name) == self)
			n += kid_signal((pid_t)atol(de->d_name), sig, spare);
	closedir(d);
	return n;
}

/*
 * Send SIG to each child of this (single-threaded) process but those in
 * process group SPARE (0: none), which the caller signals as a group.
 * Returns how many were signalled, -1 if /proc cannot be read.
 */
int
kids_signal(int sig, pid_t spare)
{
	char  path[64];
	FILE *f;
	long  pid;
	int   n = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children",
	    (long)getpid());
	if ((f = fopen(path, "re")) == NULL)
		return kids_scan(sig, spare);
	while (fscanf(f, "%ld", &pid) == 1)
		n += kid_signal((pid_t)pid, sig, spare);
	fclose(f);
	return n;
}
