/*
 * test_net.c: callers' addresses against allow lists (addr_allowed) and
 * the same-host test (addr_same_host), through the public API only.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "net.h"
#include "unit.h"

/* A caller at the numeric address IP (IPv4 or IPv6), port PORT. */
static struct sockaddr_storage
addr(const char *ip, int port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in     *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6    *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		CHECK(inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return ss;
}

/* A prefix as the config holds it: "10.0.0.0" and 8 for 10.0.0.0/8. */
static struct cidr
prefix(const char *ip, int bits)
{
	struct cidr c;

	memset(&c, 0, sizeof(c));
	c.bits = bits;
	if (inet_pton(AF_INET, ip, c.addr) == 1)
		c.family = AF_INET;
	else {
		CHECK(inet_pton(AF_INET6, ip, c.addr) == 1);
		c.family = AF_INET6;
	}
	return c;
}

/* Is IP let in by the single prefix IP0/BITS? */
static int
allowed_by(const char *ip0, int bits, const char *ip)
{
	struct cidr		c = prefix(ip0, bits);
	struct allow		a = { &c, 1 };
	struct sockaddr_storage ss = addr(ip, 4000);

	return addr_allowed(&a, &ss);
}

TEST(net_empty_allow_list_lets_everybody_in)
{
	struct allow		none = { NULL, 0 };
	struct sockaddr_storage v4 = addr("203.0.113.9", 1);
	struct sockaddr_storage v6 = addr("2001:db8::1", 1);
	struct sockaddr_storage un;

	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	CHECK(addr_allowed(&none, &v4));
	CHECK(addr_allowed(&none, &v6));
	CHECK(addr_allowed(&none, &un));
}

TEST(net_ipv4_prefixes)
{
	CHECK(allowed_by("10.0.0.0", 8, "10.0.0.1"));
	CHECK(allowed_by("10.0.0.0", 8, "10.255.255.255"));
	CHECK(!allowed_by("10.0.0.0", 8, "11.0.0.0"));
	CHECK(!allowed_by("10.0.0.0", 8, "9.255.255.255"));
	CHECK(allowed_by("192.0.2.7", 32, "192.0.2.7"));
	CHECK(!allowed_by("192.0.2.7", 32, "192.0.2.6"));
	CHECK(!allowed_by("192.0.2.7", 32, "192.0.2.8"));
	CHECK(allowed_by("0.0.0.0", 0, "203.0.113.1"));
	CHECK(allowed_by("0.0.0.0", 0, "255.255.255.255"));
	/* A prefix's bits past its length do not matter. */
	CHECK(allowed_by("10.1.2.3", 8, "10.9.9.9"));
}

TEST(net_ipv4_odd_bit_counts)
{
	/* 192.168.0.0/23: 192.168.0.x and 192.168.1.x, not .2.x. */
	CHECK(allowed_by("192.168.0.0", 23, "192.168.1.200"));
	CHECK(!allowed_by("192.168.0.0", 23, "192.168.2.0"));
	/* 172.16.0.0/12: 172.16 to 172.31. */
	CHECK(allowed_by("172.16.0.0", 12, "172.31.255.255"));
	CHECK(!allowed_by("172.16.0.0", 12, "172.32.0.0"));
	CHECK(!allowed_by("172.16.0.0", 12, "172.15.255.255"));
	/* /31 and /1 */
	CHECK(allowed_by("198.51.100.4", 31, "198.51.100.5"));
	CHECK(!allowed_by("198.51.100.4", 31, "198.51.100.6"));
	CHECK(allowed_by("128.0.0.0", 1, "200.1.1.1"));
	CHECK(!allowed_by("128.0.0.0", 1, "127.255.255.255"));
}

TEST(net_ipv6_prefixes)
{
	CHECK(allowed_by("2001:db8::", 32, "2001:db8:ffff::1"));
	CHECK(!allowed_by("2001:db8::", 32, "2001:db9::1"));
	CHECK(allowed_by("::1", 128, "::1"));
	CHECK(!allowed_by("::1", 128, "::2"));
	CHECK(allowed_by("::", 0, "2001:db8::1"));
	CHECK(allowed_by("::", 0, "::1"));
	/* Odd bit counts: fe80::/10 takes fe80 to febf. */
	CHECK(allowed_by("fe80::", 10, "febf::1"));
	CHECK(!allowed_by("fe80::", 10, "fec0::1"));
	/* /127, the last bit free */
	CHECK(allowed_by("2001:db8::2", 127, "2001:db8::3"));
	CHECK(!allowed_by("2001:db8::2", 127, "2001:db8::4"));
	/* /65: the top bit of the ninth byte decides. */
	CHECK(allowed_by("2001:db8:0:1::", 65, "2001:db8:0:1:7fff::1"));
	CHECK(!allowed_by("2001:db8:0:1::", 65, "2001:db8:0:1:8000::1"));
}

TEST(net_families_never_match_each_other)
{
	/*
	 * Prefixes match addresses of their own family only: an IPv4
	 * caller is not let in by an IPv6 rule, and a v4-mapped IPv6
	 * caller (::ffff:10.0.0.1) is not let in by an IPv4 rule.
	 */
	CHECK(!allowed_by("::", 0, "10.0.0.1"));
	CHECK(!allowed_by("0.0.0.0", 0, "::1"));
	CHECK(!allowed_by("10.0.0.0", 8, "::ffff:10.0.0.1"));
	CHECK(allowed_by("::ffff:10.0.0.0", 104, "::ffff:10.0.0.1"));
}

TEST(net_allow_list_any_entry_lets_in)
{
	struct cidr		c[3];
	struct allow		a = { c, 3 };
	struct sockaddr_storage ss, un;

	c[0] = prefix("127.0.0.1", 32);
	c[1] = prefix("192.0.2.0", 24);
	c[2] = prefix("2001:db8::", 48);
	ss = addr("127.0.0.1", 1);
	CHECK(addr_allowed(&a, &ss));
	ss = addr("192.0.2.200", 1);
	CHECK(addr_allowed(&a, &ss));
	ss = addr("2001:db8:0:5::1", 1);
	CHECK(addr_allowed(&a, &ss));
	ss = addr("127.0.0.2", 1);
	CHECK(!addr_allowed(&a, &ss));
	ss = addr("2001:db8:1::1", 1);
	CHECK(!addr_allowed(&a, &ss));
	/* A caller without an IP address: a non-empty list keeps it out. */
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	CHECK(!addr_allowed(&a, &un));
}

TEST(addr_same_host_ignores_the_port)
{
	struct sockaddr_storage a, b, un;

	a = addr("127.0.0.1", 1000);
	b = addr("127.0.0.1", 2000);
	CHECK(addr_same_host(&a, &b));
	b = addr("127.0.0.2", 1000);
	CHECK(!addr_same_host(&a, &b));
	a = addr("2001:db8::1", 1);
	b = addr("2001:db8::1", 2);
	CHECK(addr_same_host(&a, &b));
	b = addr("2001:db8::2", 1);
	CHECK(!addr_same_host(&a, &b));
	/* Different families are different hosts, v4-mapped included. */
	a = addr("127.0.0.1", 1);
	b = addr("::ffff:127.0.0.1", 1);
	CHECK(!addr_same_host(&a, &b));
	CHECK(!addr_same_host(&b, &a));
	/* Non-IP addresses are never the same host, even as themselves. */
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	CHECK(!addr_same_host(&un, &un));
	CHECK(!addr_same_host(&a, &un));
}
