/*
 * test_rate.c: the source's bucket for every service together, which
 * the master looks at before it forks (rate_over()).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "config.h"
#include "net.h"
#include "rate.h"
#include "unit.h"

#define HEAD \
	"pidfile = \"/tmp/x/b.pid\";\n" \
	"listen = ( { address = \"127.0.0.1\"; port = 4000; } );\n"

#define SVC(name) \
	name " = { command = [ \"/bin/cat\" ]; user = \"root\"; " \
	     "spool_writable = true; };\n"

static struct config *
load(const char *text)
{
	struct config *c;
	char	       err[1024];

	unit_write("t.conf", text);
	if ((c = config_load("t.conf", err, sizeof(err))) == NULL)
		fprintf(stderr, "%s\n", err);
	CHECK(c != NULL);
	CHECK(rate_init() == 0);
	rate_configure(c);
	return c;
}

static void
peer_at(struct peer *p, const char *ip)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&p->addr;

	memset(p, 0, sizeof(*p));
	p->uid = (uid_t)-1;
	in4->sin_family = AF_INET;
	CHECK(inet_pton(AF_INET, ip, &in4->sin_addr) == 1);
}

TEST(rate_over_once_every_service_is_over)
{
	struct config *c;
	struct peer    a, b;
	int	       retry = 0, i;

	c = load(HEAD "source_rate = 1;\nsource_burst = 3;\n"
		      "services = {\n" SVC("one") SVC("two") "};\n");
	peer_at(&a, "192.0.2.1");
	peer_at(&b, "192.0.2.2");
	/* Looking takes nothing: the burst is all there after. */
	for (i = 0; i < 10; i++)
		CHECK(rate_over(&a, &retry) == 0);
	for (i = 0; i < 3; i++)
		CHECK(rate_take(c, config_service(c, "one"), &a, &retry) == 0);
	CHECK(rate_take(c, config_service(c, "one"), &a, &retry) == -1);
	/* Over the limit of one service of two: the master cannot tell. */
	CHECK(rate_over(&a, &retry) == 0);
	for (i = 0; i < 3; i++)
		CHECK(rate_take(c, config_service(c, "two"), &a, &retry) == 0);
	retry = 0;
	CHECK(rate_over(&a, &retry) == 1 && retry == 1);
	/* Another source is not over anything. */
	CHECK(rate_over(&b, &retry) == 0);
	CHECK(rate_take(c, config_service(c, "two"), &b, &retry) == 0);
	config_free(c);
}

TEST(rate_over_needs_a_source_limit_on_every_service)
{
	struct config *c;
	struct peer    a;
	int	       retry, i;

	c = load(HEAD "services = {\n" SVC(
	    "free") "limited = { command = [ \"/bin/cat\" ]; user = \"root\"; "
		    "spool_writable = true; source_rate = 1; };\n};\n");
	peer_at(&a, "192.0.2.1");
	CHECK(rate_take(c, config_service(c, "limited"), &a, &retry) == 0);
	for (i = 0; i < 5; i++)
		(void)rate_take(c, config_service(c, "limited"), &a, &retry);
	CHECK(rate_over(&a, &retry) == 0);
	config_free(c);
}

/*
 * A source whose +1 found all its places taken was not counted: its -1
 * must neither make an entry nor go below 0 (it would be over its quota
 * for good).
 */
TEST(quota_never_below_zero)
{
	uint64_t src[9];
	unsigned queued, running;
	size_t	 i;

	CHECK(rate_init() == 0);
	for (i = 0; i < 9; i++) /* all nine share one neighbourhood */
		src[i] = 1 + (uint64_t)(i + 1) * 8192 * 1024;
	for (i = 0; i < 9; i++)
		quota_note(src[i], 1, 0);
	quota_count(src[8], &queued, &running);
	CHECK(queued == 0);	   /* no place was left */
	quota_note(src[0], -1, 0); /* frees a place */
	quota_note(src[8], -1, 0);
	quota_count(src[8], &queued, &running);
	CHECK(queued == 0 && running == 0);
	quota_count(src[1], &queued, &running);
	CHECK(queued == 1);
	quota_note(src[1], -1, 1);
	quota_count(src[1], &queued, &running);
	CHECK(queued == 0 && running == 1);
}
