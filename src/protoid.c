/*
 * protoid.c: the names of the wire: job ids (with or without the
 * daemon's node), node names and service names, and the verbs of the
 * original form that no service may take as its name (proto.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto.h"

/* Names a service may not take: they are verbs of the original form. */
static const char *const reserved_names[] = { "helo", "hello", "queue",
	"stats", NULL };

static int
is_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

/* A node name: A-Z a-z 0-9, NODE_NAME_MAX at most. */
int
proto_valid_node(const char *node, size_t len)
{
	size_t i;

	if (len == 0 || len > NODE_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!is_alnum(node[i]))
			return 0;
	return 1;
}

/*
 * The length of the node of a tagged id ("web1____-" + hex), or 0 if ID
 * does not begin with a node, its padding and the separator.
 */
static size_t
node_length(const char *id, size_t len)
{
	size_t n = 0, i;

	if (len < JOB_NODE_PREFIX || id[NODE_NAME_MAX] != JOB_NODE_SEP)
		return 0;
	while (n < NODE_NAME_MAX && is_alnum(id[n]))
		n++;
	for (i = n; i < NODE_NAME_MAX; i++)
		if (id[i] != JOB_NODE_PAD)
			return 0;
	return n;
}

/* A job id of either form (proto.h). */
int
proto_valid_id(const char *id, size_t len)
{
	if (len == JOB_ID_HEX)
		return is_hex(id, len);
	if (len != JOB_ID_MAX || node_length(id, len) == 0)
		return 0;
	return is_hex(id + JOB_NODE_PREFIX, JOB_ID_HEX);
}

/*
 * Write the id of the random number R for NODE (NULL or "": none) into
 * BUF.  Returns its length, or -1 (EINVAL) for a bad node or a BUF too
 * small.
 */
int
proto_make_id(char *buf, size_t size, const char *node, uint64_t r)
{
	size_t nlen = node != NULL ? strlen(node) : 0;
	int    n;

	if (nlen > 0 && !proto_valid_node(node, nlen)) {
		errno = EINVAL;
		return -1;
	}
	if (nlen == 0)
		n = snprintf(buf, size, "%016" PRIx64, r);
	else
		n = snprintf(buf, size, "%s%.*s%c%016" PRIx64, node,
		    (int)(NODE_NAME_MAX - nlen), "________", JOB_NODE_SEP, r);
	if (n < 0 || (size_t)n >= size) {
		errno = EINVAL;
		return -1;
	}
	return n;
}

/*
 * The node of a job id into NODE ("" for an id without one, or that is
 * not an id); its length.
 */
size_t
proto_id_node(const char *id, char *node, size_t size)
{
	size_t len = strlen(id), n = 0;

	if (proto_valid_id(id, len))
		n = node_length(id, len);
	if (size == 0)
		return 0;
	if (n >= size)
		n = size - 1;
	memcpy(node, id, n);
	node[n] = '\0';
	return n;
}

/* A service name: A-Z a-z 0-9 - _, SERVICE_NAME_MAX at most. */
int
proto_valid_name(const char *name, size_t len)
{
	size_t i;
	char   ch;

	if (len == 0 || len > SERVICE_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

/* Whether NAME, in any case, is a verb that no service may take. */
int
proto_reserved_name(const char *name)
{
	size_t i;

	for (i = 0; reserved_names[i] != NULL; i++)
		if (strcasecmp(name, reserved_names[i]) == 0)
			return 1;
	return 0;
}
