/*
 * lookup.c: user, group and charset lookups in a helper process.
 *
 * getpwnam(3) and its kin load the name service's modules (and what
 * they link: libnss_systemd brings libcap and libm), iconv_open(3) loads
 * a converter; none of it can be unloaded.  Done in the master, that
 * would stay in it for good: more than a mebibyte that every connection
 * child copies the page tables of.  So the master asks a child, forked
 * at the first lookup of a configuration load and let go at its end, and
 * keeps only the answers.  If the helper cannot be had, the lookup is
 * made here: the answer is the same, only the memory differs.
 *
 * The helper reads fixed-size requests on a socket and writes an answer
 * (and, for a group list, the gids) back; it exits at end of file.  A
 * helper gone wrong is an error, not a SIGPIPE: bgserviced ignores that
 * signal from its first line on.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "charset.h"
#include "child.h"
#include "lookup.h"
#include "util.h"

#define NAME_MAX_LEN 256
#define GROUPS_MAX   65536

enum lookup_op {
	OP_USER,
	OP_GROUP,
	OP_GROUPS,
	OP_CHARSET
};

struct lookup_req {
	enum lookup_op op;
	gid_t	       gid;
	char	       name[NAME_MAX_LEN];
};

struct lookup_ans {
	int   found;
	uid_t uid;
	gid_t gid;
	int   ngroups; /* gids that follow the answer */
};

static pid_t helper_pid = -1;
static int   helper_fd = -1;

static int
read_exact(int fd, void *buf, size_t len)
{
	char   *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = read(fd, p, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* The groups of a user, in a new array; -1 if they cannot be listed. */
static int
user_groups(const char *user, gid_t gid, gid_t **out, int *nout)
{
	gid_t *g = NULL, *ng;
	int    n = 16, want;

	for (;;) {
		if ((ng = reallocarray(g, n, sizeof(*g))) == NULL)
			break;
		g = ng;
		want = n;
		if (getgrouplist(user, gid, g, &want) != -1) {
			*out = g;
			*nout = want;
			return 0;
		}
		if (want <= n || want > GROUPS_MAX)
			break;
		n = want;
	}
	free(g);
	return -1;
}

/* Answer REQ here; a group list goes to *GROUPS. */
static void
answer(const struct lookup_req *req, struct lookup_ans *ans, gid_t **groups)
{
	struct passwd *pw;
	struct group  *gr;

	memset(ans, 0, sizeof(*ans));
	*groups = NULL;
	switch (req->op) {
	case OP_USER:
		if ((pw = getpwnam(req->name)) != NULL) {
			ans->found = 1;
			ans->uid = pw->pw_uid;
			ans->gid = pw->pw_gid;
		}
		break;
	case OP_GROUP:
		if ((gr = getgrnam(req->name)) != NULL) {
			ans->found = 1;
			ans->gid = gr->gr_gid;
		}
		break;
	case OP_GROUPS:
		ans->found = user_groups(req->name, req->gid, groups,
				 &ans->ngroups) == 0;
		break;
	case OP_CHARSET:
		ans->found = charset_valid(req->name);
		break;
	}
}

static void __attribute__((noreturn)) helper_main(int fd)
{
	struct lookup_req req;
	struct lookup_ans ans;
	gid_t		 *groups;

	while (read_exact(fd, &req, sizeof(req)) == 0) {
		req.name[sizeof(req.name) - 1] = '\0';
		answer(&req, &ans, &groups);
		if (write_all(fd, &ans, sizeof(ans)) == -1 ||
		    (ans.ngroups > 0 &&
			write_all(fd, groups, ans.ngroups * sizeof(*groups)) ==
			    -1))
			_exit(1);
		free(groups);
	}
	_exit(0);
}

/* The helper, started if need be; -1 if there is none to be had. */
static int
helper(void)
{
	int sv[2];

	if (helper_fd != -1)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	switch (helper_pid = child_fork()) {
	case -1:
		close(sv[0]);
		close(sv[1]);
		return -1;
	case 0:
		/* Nothing of the parent's but the socket: no lock, no port. */
		if (dup2(sv[1], STDERR_FILENO + 1) == -1)
			_exit(1);
		closefrom(STDERR_FILENO + 2);
		helper_main(STDERR_FILENO + 1);
	}
	close(sv[1]);
	helper_fd = sv[0];
	return 0;
}

/* REQ answered by the helper: 0, or -1 if it could not be. */
static int
ask_helper(const struct lookup_req *req, struct lookup_ans *ans,
    gid_t **groups)
{
	gid_t *g;

	*groups = NULL;
	if (helper() == -1 || write_all(helper_fd, req, sizeof(*req)) == -1 ||
	    read_exact(helper_fd, ans, sizeof(*ans)) == -1 ||
	    ans->ngroups < 0 || ans->ngroups > GROUPS_MAX)
		return -1;
	if (ans->ngroups == 0)
		return 0;
	if ((g = calloc(ans->ngroups, sizeof(*g))) == NULL ||
	    read_exact(helper_fd, g, ans->ngroups * sizeof(*g)) == -1) {
		free(g);
		return -1;
	}
	*groups = g;
	return 0;
}

/*
 * Ask the helper or, failing that, answer here.  *GROUPS is the group
 * list of an OP_GROUPS answer, NULL otherwise.
 */
static void
ask(enum lookup_op op, const char *name, gid_t gid, struct lookup_ans *ans,
    gid_t **groups)
{
	struct lookup_req req;

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.gid = gid;
	if (strlcpy(req.name, name, sizeof(req.name)) >= sizeof(req.name)) {
		memset(ans, 0, sizeof(*ans)); /* no such name */
		*groups = NULL;
		return;
	}
	if (ask_helper(&req, ans, groups) == 0)
		return;
	lookup_end(); /* a helper gone wrong, or none: do without */
	answer(&req, ans, groups);
}

int
lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct lookup_ans ans;
	gid_t		 *g;

	ask(OP_USER, name, 0, &ans, &g);
	free(g);
	if (!ans.found)
		return -1;
	*uid = ans.uid;
	*gid = ans.gid;
	return 0;
}

int
lookup_group(const char *name, gid_t *gid)
{
	struct lookup_ans ans;
	gid_t		 *g;

	ask(OP_GROUP, name, 0, &ans, &g);
	free(g);
	if (!ans.found)
		return -1;
	*gid = ans.gid;
	return 0;
}

int
lookup_groups(const char *user, gid_t gid, gid_t **groups, int *ngroups)
{
	struct lookup_ans ans;
	gid_t		 *g;

	ask(OP_GROUPS, user, gid, &ans, &g);
	if (!ans.found) {
		free(g);
		return -1;
	}
	*groups = g;
	*ngroups = ans.ngroups;
	return 0;
}

int
lookup_charset(const char *name)
{
	struct lookup_ans ans;
	gid_t		 *g;

	ask(OP_CHARSET, name, 0, &ans, &g);
	free(g);
	return ans.found;
}

void
lookup_end(void)
{
	if (helper_fd == -1)
		return;
	close(helper_fd);
	helper_fd = -1;
	(void)child_wait(helper_pid);
	helper_pid = -1;
}
