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
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "dgram.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "refuse.h"
#include "service.h"
#include "stats.h"
#include "udpsign.h"

#define DGRAM_MAX 65535

/*
 * Check the signature of D, if it has one: 0 when it has none or a good
 * one (then D is moved past it), -1 when it was dropped.
 */
static int
dgram_signature(const struct config *conf, struct dgram *d)
{
	static const char *const why[] = { [UDPSIGN_BAD] = "bad signature",
		[UDPSIGN_STALE] = "signed outside its time window",
		[UDPSIGN_REPLAYED] = "replayed" };
	enum udpsign		 s;

	d->signed_ok = 0;
	s = udpsign_check(conf, &d->data, &d->len, time(NULL));
	if (s == UDPSIGN_NONE || s == UDPSIGN_OK) {
		d->signed_ok = s == UDPSIGN_OK;
		return 0;
	}
	refuse_log(REFUSE_SIGNATURE, "udp %s:%s: dropped: %s", d->peer.ip,
	    d->peer.port, why[s]);
	STATS_INC(dropped_datagrams);
	return -1;
}

/*
 * Receive one datagram from L into D.  DGRAM_RUN: D is to be run (its
 * data stays in a buffer of ours, inherited by a child forked now);
 * DGRAM_NEXT: it was dropped; DGRAM_NONE: nothing was waiting.
 */
enum dgram_got
dgram_recv(struct listener *l, const struct config *conf, struct dgram *d)
{
	static char		dgram[DGRAM_MAX + 1];
	struct sockaddr_storage ss;
	socklen_t		len = sizeof(ss);
	ssize_t			n;

	if ((n = recvfrom(l->fd, dgram, DGRAM_MAX, 0, (struct sockaddr *)&ss,
		 &len)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("recvfrom on %s", l->name);
		return errno == EINTR ? DGRAM_NEXT : DGRAM_NONE;
	}
	STATS_INC(datagrams);
	net_peer(l->fd, l->family, &ss, &d->peer);
	d->peer.transport = "udp";
	if (!addr_allowed(&conf->allow, &ss)) {
		refuse_log(REFUSE_DENIED, "udp %s:%s: dropped: not allowed",
		    d->peer.ip, d->peer.port);
		STATS_INC(dropped_datagrams);
		return DGRAM_NEXT;
	}
	if ((size_t)n > conf->limits.max_request) {
		refuse_log(REFUSE_TOO_LARGE,
		    "udp %s:%s: dropped: %zd bytes exceed max_request",
		    d->peer.ip, d->peer.port, n);
		STATS_INC(dropped_datagrams);
		return DGRAM_NEXT;
	}
	d->data = dgram;
	d->len = n;
	return dgram_signature(conf, d) == 0 ? DGRAM_RUN : DGRAM_NEXT;
}

/*
 * Run the datagram D, "SERVICE:DATA", if its caller may: answer nothing.
 */
void
dgram_run(const struct config *conf, const struct dgram *d)
{
	struct service_call call;
	struct run_result   res;
	struct request	    req;
	char		    who[96];

	snprintf(who, sizeof(who), "udp %s:%s", d->peer.ip, d->peer.port);
	if (proto_parse(d->data, d->len, &req) != ERR_NONE || req.framed ||
	    req.verb != VERB_CALL) {
		log_info("%s: dropped: not a service call", who);
		STATS_INC(dropped_datagrams);
		return;
	}
	memset(&call, 0, sizeof(call));
	call.verb = "send";
	call.name = req.service;
	call.who = who;
	call.peer = &d->peer;
	call.dgram = 1;
	call.signed_ok = d->signed_ok;
	call.data = req.data;
	call.len = req.datalen;
	if (service_admit(conf, &call) != ADMIT_OK)
		return;
	STATS_INC(requests);
	if (service_run(conf, &call, &res) == RUN_DONE)
		child_result_free(&res);
}
