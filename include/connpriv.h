/*
 * connpriv.h: what the connection child's modules share, and no other
 * module: conn.c (reading a request, dispatch, the answers, the calls)
 * and connjob.c (the job verbs).  conn.h is the API for the rest.
 */
#ifndef CONNPRIV_H
#define CONNPRIV_H

#include <stddef.h>

#include "bgserviced.h"
#include "net.h"
#include "proto.h"
#include "reqend.h"
#include "service.h"
#include "util.h"

struct conn {
	int		     fd;
	const struct config *conf;
	const struct peer   *peer;
	struct buf	     in;
	int		     eof;
	int		     served;	 /* framed requests answered */
	struct reqend	     end;	 /* original form: see reqend.c */
	int		     by_silence; /* the request ended by silence */
	int		     cut;	 /* ... and more of it came later */
	size_t		     reqlen;	 /* the request being answered */
	int		     framed;	 /* ... is framed */
	void (*answered)(void);		 /* not yet told: see conn.h */
	char who[96];			 /* caller, for the log */
};

/* conn.c: answers, and what every verb that uses a service does first. */
void conn_answer(struct conn *, const struct request *, int code,
    const char *data, size_t len);
void conn_answer_buf(struct conn *, const struct request *, int failed,
    struct buf *out, enum proto_err e);
void conn_fail(struct conn *, int framed, int code, const char *text);
void conn_error(struct conn *, int framed, enum proto_err e);
int  conn_refuse_cut(struct conn *, const struct request *);
void conn_call_init(struct service_call *, struct conn *,
    const struct request *);
int  conn_admitted(struct conn *, const struct request *,
     struct service_call *);

/* connjob.c: the job verbs, queue:add to queue:list. */
void connjob_add(struct conn *, const struct request *);
void connjob_check(struct conn *, const struct request *);
void connjob_get(struct conn *, const struct request *);
void connjob_info(struct conn *, const struct request *);
void connjob_cancel(struct conn *, const struct request *);
void connjob_retry(struct conn *, const struct request *);
void connjob_list(struct conn *, const struct request *);

#endif /* CONNPRIV_H */
