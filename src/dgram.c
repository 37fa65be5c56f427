/*
 * dgram.c: datagrams.  A datagram "SERVICE:DATA" runs the service once,
 * with DATA on its stdin, and is never answered: what goes wrong is
 * logged and counted, and the datagram dropped.
 *
 * The master receives it and drops what its listener's allow list or
 * max_request turn away (dgram_recv()); the rest is run in a child of
 * its own (dgram_run()), which the master forks with child_fork().
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "dgram.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "stats.h"

#define DGRAM_MAX	65535

/*
 * Receive one datagram from L into D.  DGRAM_RUN: D is to be run (its
 * data stays in a buffer of ours, inherited by a child forked now);
 * DGRAM_NEXT: it was dropped; DGRAM_NONE: nothing was waiting.
 */
enum dgram_got
dgram_recv(struct listener *l, const struct config *conf, struct dgram *d)
{
	static char		 dgram[DGRAM_MAX + 1];
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	ssize_t			 n;

	if ((n = recvfrom(l->fd, dgram, DGRAM_MAX, 0, (struct sockaddr *)&ss,
	    &len)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("recvfrom on %s", l->name);
		return errno == EINTR ? DGRAM_NEXT : DGRAM_NONE;
	}
	STATS_INC(datagrams);
	net_peer(l->fd, l->family, &ss, &d->peer);
	d->peer.transport = "udp";
	if (!net_allowed(&conf->allow, &ss)) {
		log_info("udp %s:%s: dropped: not allowed", d->peer.ip,
		    d->peer.port);
		STATS_INC(refused_denied);
		STATS_INC(dropped_datagrams);
		return DGRAM_NEXT;
	}
	if ((size_t)n > conf->limits.max_request) {
		log_info("udp %s:%s: dropped: %zd bytes exceed max_request",
		    d->peer.ip, d->peer.port, n);
		STATS_INC(dropped_datagrams);
		return DGRAM_NEXT;
	}
	d->data = dgram;
	d->len = n;
	return DGRAM_RUN;
}

/*
 * The service a datagram BUF asks for, if the caller PEER may use it
 * over UDP (REQ: its request); NULL, logged and counted, if not.
 */
static const struct service *
dgram_admit(const struct config *conf, const char *buf, size_t len,
    const struct peer *peer, struct request *req)
{
	const struct service	*sv;
	const char		*why;

	if (proto_parse(buf, len, req, &why) != 0 || req->framed ||
	    req->verb != VERB_CALL) {
		log_info("udp %s:%s: dropped: not a service call", peer->ip,
		    peer->port);
		STATS_INC(dropped_datagrams);
		return NULL;
	}
	if ((sv = config_service(conf, req->service)) == NULL) {
		log_info("udp %s:%s: dropped: unknown service %s", peer->ip,
		    peer->port, req->service);
		STATS_INC(dropped_datagrams);
		return NULL;
	}
	if (!sv->udp) {
		log_info("udp %s:%s: dropped: service %s is not available "
		    "over udp", peer->ip, peer->port, sv->name);
		STATS_INC(dropped_datagrams);
		return NULL;
	}
	if (!net_allowed(&sv->allow, &peer->addr)) {
		log_info("udp %s:%s: dropped: not allowed to use %s",
		    peer->ip, peer->port, sv->name);
		STATS_INC(refused_denied);
		STATS_INC(dropped_datagrams);
		return NULL;
	}
	return sv;
}

/*
 * In the child forked for datagram D: run the service it asks for,
 * answer nothing.
 */
void
dgram_run(const struct config *conf, const struct dgram *d)
{
	const struct peer	*peer = &d->peer;
	const struct service	*sv;
	struct run_result	 res;
	struct run_ctx		 ctx = { peer, NULL };
	struct request		 req;
	char			 text[256];
	int			 slot;

	if ((sv = dgram_admit(conf, d->data, d->len, peer, &req)) == NULL)
		return;
	if ((slot = stats_acquire(sv->name, sv->max_instances)) == -1) {
		log_info("udp %s:%s: dropped: service %s busy", peer->ip,
		    peer->port, sv->name);
		STATS_INC(refused_busy);
		STATS_INC(dropped_datagrams);
		return;
	}
	setproctitle("send %s from %s", sv->name, peer->ip);
	STATS_INC(requests);
	(void)child_run(sv, &conf->limits, &ctx, req.data, req.datalen,
	    &res);
	stats_release(slot);
	stats_run(sv, 0, 0, &res);
	if (child_ok(&res))
		log_info("udp %s:%s: send %s: ok in %lld ms", peer->ip,
		    peer->port, sv->name, res.ms);
	else {
		int code = child_describe(sv, &res, text, sizeof(text));

		log_info("udp %s:%s: send %s: %d %s", peer->ip, peer->port,
		    sv->name, code, text);
	}
	child_result_free(&res);
}
