/*
 * priv.c: becoming a configured user, for good.  The master calls it
 * once its sockets are open (server_drop()), a service's new process
 * before exec (childexec.c).
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <unistd.h>

#include "priv.h"

/*
 * Become ID: all its groups, its group, its user, each checked, and
 * root must be gone for good.  System calls only (a vfork(2) child
 * calls it before exec).
 */
int
priv_become(const struct ident *id)
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
