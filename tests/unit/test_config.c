/*
 * test_config.c: loading and validating configuration files.
 */
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "proto.h"
#include "unit.h"

static struct config *
load(const char *text, char *err, size_t errlen)
{
	unit_write("t.conf", text);
	err[0] = '\0';
	return config_load("t.conf", err, errlen);
}

/* The file fails to load and the message contains WANT. */
static void
check_fails(const char *text, const char *want)
{
	struct config *c;
	char	       err[1024];

	c = load(text, err, sizeof(err));
	if (c != NULL || strstr(err, want) == NULL) {
		fprintf(stderr, "want error containing \"%s\", got \"%s\"\n",
		    want, c ? "(loaded)" : err);
		exit(1);
	}
}

#define LISTEN "listen = ( { address = \"127.0.0.1\"; port = 4000; } );\n"

TEST(config_minimal_defaults)
{
	struct config *c;
	char	       err[1024];

	c = load(
	    "pidfile = \"/tmp/x/b.pid\";\n" LISTEN
	    "services = { upper = { command = [ \"/usr/bin/tr\", \"a-z\", "
	    "\"A-Z\" ]; user = \"root\"; spool_writable = true; }; };\n",
	    err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "%s\n", err);
	CHECK(c != NULL);
	CHECK_STR(c->pidfile, "/tmp/x/b.pid");
	CHECK_STR(c->spool_dir, "/tmp/x/b.spool");
	CHECK(c->nlistens == 1 && c->listens[0].tcp && c->listens[0].udp);
	CHECK(c->listens[0].port == 4000);
	CHECK(c->limits.max_connections == DEF_MAX_CONNECTIONS);
	CHECK(c->limits.request_idle_ms == DEF_REQUEST_IDLE_MS);
	CHECK(c->limits.max_per_source == DEF_MAX_CONNECTIONS / 2);
	CHECK(c->nservices == 1);
	CHECK(config_service(c, "upper") != NULL);
	CHECK(config_service(c, "lower") == NULL);
	CHECK_STR(config_service(c, "upper")->argv[2], "A-Z");
	CHECK(config_service(c, "upper")->argv[3] == NULL);
	CHECK(config_service(c, "upper")->timeout == DEF_SERVICE_TIMEOUT);
	config_free(c);
}

/* A service that would run as the spool's owner must say so. */
TEST(config_spool_owner_needs_spool_writable)
{
	struct config *c;
	char	       err[1024];

	if (geteuid() != 0)
		return; /* only root can run a service as another */
	c = load(LISTEN "services = {\n  x = { command = [ \"/bin/cat\" ]; "
			"user = \"root\"; }; };\n",
	    err, sizeof(err));
	CHECK(c == NULL);
	CHECK(strstr(err, "t.conf:3: service 'x' would run as uid ") != NULL);
	CHECK(strstr(err, "say spool_writable = true") != NULL);
	c = load(LISTEN "services = { x = { command = [ \"/bin/cat\" ]; "
			"user = \"nobody\"; }; };\n",
	    err, sizeof(err));
	CHECK(c != NULL);
	config_free(c);
}

TEST(config_full)
{
	struct config *c;
	char	       err[1024];

	c = load("pidfile = \"/run/b.pid\";\nspool_dir = \"/var/spool/b\";\n"
		 "listen = ( { address = \"127.0.0.1\"; port = 4000; },\n"
		 "  { address = \"::1\"; port = 4001; udp = false; },\n"
		 "  { path = \"/tmp/b.sock\"; mode = \"0600\"; } );\n"
		 "limits = { max_connections = 8; max_request = 100; "
		 "request_timeout = 3; request_idle_ms = 20; max_jobs = 2; "
		 "job_retention = 60; max_output = 1000; kill_grace = 1; };\n"
		 "services = { b = { command = [\"/bin/cat\"]; timeout = 5; "
		 "user = \"root\"; spool_writable = true; };\n"
		 "  a = { command = [\"/bin/cat\"]; user = \"root\"; "
		 "spool_writable = true; }; };\n",
	    err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "%s\n", err);
	CHECK(c != NULL);
	CHECK_STR(c->spool_dir, "/var/spool/b");
	CHECK(c->nlistens == 3);
	CHECK(!c->listens[1].udp && c->listens[1].tcp);
	CHECK_STR(c->listens[2].path, "/tmp/b.sock");
	CHECK(c->listens[2].mode == 0600);
	CHECK(c->limits.max_connections == 8 && c->limits.max_request == 100);
	CHECK(c->limits.request_timeout == 3);
	CHECK(c->limits.request_idle_ms == 20 && c->limits.max_jobs == 2);
	CHECK(c->limits.job_retention == 60 && c->limits.max_output == 1000);
	CHECK(c->limits.kill_grace == 1);
	CHECK(c->limits.max_per_source == 4); /* half of max_connections */
	/* Sorted by name for the lookup. */
	CHECK_STR(c->services[0].name, "a");
	CHECK(config_service(c, "b")->timeout == 5);
	config_free(c);
}

/* max_per_source: unset, half of max_connections, at least 1; 0 stays. */
TEST(config_max_per_source)
{
	static const struct {
		const char *limits;
		int	    want;
	} t[] = {
		{ "max_connections = 9;", 4 },
		{ "max_connections = 1;", 1 },
		{ "max_connections = 9; max_per_source = 0;", 0 },
		{ "max_per_source = 300;", 300 },
	};
	struct config *c;
	char	       text[512], err[1024];
	size_t	       i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(text, sizeof(text),
		    "listen = ( { address = "
		    "\"127.0.0.1\"; port = 4000; } );\nlimits = { %s };\n"
		    "services = { a = { command = [\"/bin/cat\"]; "
		    "user = \"root\"; spool_writable = true; }; };\n",
		    t[i].limits);
		c = load(text, err, sizeof(err));
		CHECK(c != NULL && c->limits.max_per_source == t[i].want);
		config_free(c);
	}
}

TEST(config_syntax_error_has_file_and_line)
{
	check_fails("pidfile = \"/x.pid\";\n" LISTEN "services = {\n"
		    "  upper = { command = [ \"/bin/cat\" ;\n};\n",
	    "t.conf:4: syntax error");
}

TEST(config_unknown_keys_are_errors)
{
	check_fails(LISTEN "pidfle = \"/x\";\n",
	    "t.conf:2: unknown key "
	    "'pidfle'");
	check_fails(LISTEN "limits = {\n max_conections = 3; };\n",
	    "t.conf:3: unknown key 'max_conections' in limits");
	check_fails(LISTEN "services = { a = {\n command = [\"/bin/cat\"];\n"
			   " tiemout = 3; }; };\n",
	    "t.conf:4: unknown key 'tiemout'");
	check_fails("listen = ( { address = \"127.0.0.1\"; port = 4000;\n"
		    " prot = 3; } );\n",
	    "t.conf:2: unknown key 'prot' in listen");
}

TEST(config_command_checks)
{
	check_fails(LISTEN "services = { a = { command = [\"cat\"]; }; };\n",
	    "command 'cat' is not an absolute path");
	check_fails(LISTEN "services = { a = { command = [\"/no/such\"]; "
			   "}; };\n",
	    "'/no/such': No such file or directory");
	check_fails(LISTEN "services = { a = { command = []; }; };\n",
	    "'command' is empty");
	check_fails(LISTEN "services = { a = { timeout = 3; }; };\n",
	    "service 'a' has no 'command'");
	check_fails(LISTEN "services = { a = { command = \"/bin/cat\"; }; "
			   "};\n",
	    "'command' must be an array");
	check_fails(LISTEN "services = { a = { command = [\"/etc/passwd\"]; "
			   "}; };\n",
	    "Permission denied");
}

#define ROOT "user = \"root\"; spool_writable = true;"

TEST(config_on_done)
{
	struct config *c;
	char	       err[1024];

	c = load(LISTEN "services = { a = { command = [\"/bin/cat\"];\n"
			"on_done = [\"/bin/sh\", \"-c\", \"cat\"];\n"
			"on_done_when = \"failure\"; " ROOT " };\n"
			"b = { command = [\"/bin/cat\"]; " ROOT " }; };\n",
	    err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "%s\n", err);
	CHECK(c != NULL);
	CHECK_STR(c->services[0].on_done[2], "cat");
	CHECK(c->services[0].on_done[3] == NULL);
	CHECK(c->services[0].on_done_when == 2); /* HOOK_FAILURE */
	CHECK(c->services[1].on_done == NULL);
	CHECK(c->services[1].on_done_when == 0); /* HOOK_ALWAYS */
	config_free(c);
	check_fails(LISTEN "services = { a = { command = [\"/bin/cat\"];\n"
			   "on_done = [\"cat\"]; }; };\n",
	    "t.conf:3: service 'a': on_done 'cat' is not an absolute path");
	check_fails(LISTEN "services = { a = { command = [\"/bin/cat\"];\n"
			   "on_done = []; }; };\n",
	    "'on_done' is empty");
	check_fails(LISTEN "services = { a = { command = [\"/bin/cat\"];\n"
			   "on_done_when = \"sometimes\"; }; };\n",
	    "t.conf:3: 'on_done_when' must be \"always\", \"success\" or "
	    "\"failure\"");
}

TEST(config_names)
{
	check_fails(LISTEN "services = { helo = { command = [\"/bin/cat\"]; "
			   "}; };\n",
	    "'helo' is a protocol verb");
	check_fails(LISTEN "services = { queue = { command = [\"/bin/cat\"]; "
			   "}; };\n",
	    "'queue' is a protocol verb");
	CHECK(proto_valid_name("a-B_9", 5));
	CHECK(!proto_valid_name("a b", 3));
	CHECK(!proto_valid_name("", 0));
	CHECK(!proto_valid_name("a.b", 3));
}

TEST(config_ranges)
{
	check_fails(LISTEN "limits = { max_connections = 0; };\n",
	    "'max_connections' is 0, must be 1 to 65536");
	check_fails(LISTEN "limits = { request_idle_ms = \"50\"; };\n",
	    "'request_idle_ms' must be an integer");
	check_fails(LISTEN "services = { a = { command = [\"/bin/cat\"]; "
			   "timeout = -1; }; };\n",
	    "'timeout' is -1");
	check_fails("listen = ( { address = \"127.0.0.1\"; port = 70000; } "
		    ");\n",
	    "'port' is 70000");
}

TEST(config_listen_checks)
{
	check_fails("pidfile = \"/x.pid\";\n", "no 'listen' list");
	check_fails("listen = ();\n", "'listen' is empty");
	check_fails("listen = ( { address = \"localhost\"; port = 1; } );\n",
	    "not a numeric IPv4 or IPv6 address");
	check_fails("listen = ( { address = \"127.0.0.1\"; } );\n",
	    "needs 'address' and 'port'");
	check_fails("listen = ( { path = \"rel.sock\"; } );\n",
	    "'path' must be an absolute path");
	check_fails("listen = ( { address = \"127.0.0.1\"; port = 1; "
		    "tcp = false; udp = false; } );\n",
	    "neither tcp nor udp");
	check_fails(LISTEN "pidfile = \"relative.pid\";\n",
	    "'pidfile' must be an absolute path");
}

TEST(config_missing_file)
{
	struct config *c;
	char	       err[256];

	c = config_load("does-not-exist.conf", err, sizeof(err));
	CHECK(c == NULL);
	CHECK_STR(err, "does-not-exist.conf: No such file or directory");
}

TEST(config_node)
{
	struct config *c;
	char	       err[1024];

	c = load("pidfile = \"/tmp/x/b.pid\";\n" LISTEN, err, sizeof(err));
	CHECK(c != NULL && c->node[0] == '\0');
	config_free(c);
	c = load("pidfile = \"/tmp/x/b.pid\";\nnode = \"web12\";\n" LISTEN,
	    err, sizeof(err));
	CHECK(c != NULL);
	CHECK_STR(c->node, "web12");
	config_free(c);
	check_fails(LISTEN "node = \"web_1\";\n", "'node' must be 1 to 8");
	check_fails(LISTEN "node = \"abcdefghi\";\n", "'node' must be 1 to 8");
	check_fails(LISTEN "node = \"\";\n", "'node' must be 1 to 8");
	check_fails(LISTEN "node = 1;\n", "'node'");
}

static struct client_conf *
client_load(const char *text, char *err, size_t errlen)
{
	unit_write("c.conf", text);
	err[0] = '\0';
	return config_client_load("c.conf", err, errlen);
}

TEST(config_client_hosts)
{
	struct client_conf *cc;
	char *const	   *urls;
	char		    err[1024];
	size_t		    n;

	cc = client_load("default = { hosts = [ \"a:1\", \"b:2\" ]; };\n"
			 "services = { s = { tcpurl = \"c:3\"; };\n"
			 "  u = { udpurl = \"d:4\"; }; };\n",
	    err, sizeof(err));
	CHECK(cc != NULL);
	urls = config_client_urls(cc, NULL, 0, &n);
	CHECK(n == 2);
	CHECK_STR(urls[0], "a:1");
	CHECK_STR(urls[1], "b:2");
	urls = config_client_urls(cc, "s", 0, &n);
	CHECK(n == 1);
	CHECK_STR(urls[0], "c:3");
	urls = config_client_urls(cc, "s", 1, &n); /* falls back to tcpurl */
	CHECK(n == 1);
	CHECK_STR(urls[0], "c:3");
	urls = config_client_urls(cc, "u", 1, &n);
	CHECK(n == 1);
	CHECK_STR(urls[0], "d:4");
	urls = config_client_urls(cc, "u", 0, &n); /* the default's hosts */
	CHECK(n == 2);
	urls = config_client_urls(cc, "other", 1, &n);
	CHECK(n == 2);
	CHECK_STR(urls[1], "b:2");
	config_client_free(cc);
	CHECK(client_load("default = { hosts = [ \"a:1\" ]; tcpurl = \"b:2\"; "
			  "};\n",
		  err, sizeof(err)) == NULL);
	CHECK(strstr(err, "exclude each other") != NULL);
	CHECK(client_load("default = { hosts = [ ]; };\n", err, sizeof(err)) ==
	    NULL);
	CHECK(client_load("default = { hosts = [ 1 ]; };\n", err,
		  sizeof(err)) == NULL);
}
