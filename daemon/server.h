/* SPDX-License-Identifier: MIT */
/*
 * The socket front end: the listening SOCK_SEQPACKET socket on the
 * libevent loop, and every connection from accept to close (connection.c
 * holds each one's state). Connections are counted at accept, in all and
 * per uid, before HELLO: one over a limit gets its first request answered
 * with -EUSERS and is closed; past a few such, new ones are closed at once.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "connection.h"
#include "dispatch.h"
#include "hashmap.h"
#include "list.h"

struct event_base;
struct event;

struct server {
        struct conn_owner owner; /* what every connection sees of us */
        struct dispatch *dispatch;
        struct closer closer;     /* closes the fds clients send, off the loop */
        struct inflight inflight; /* the fds sent to clients, not yet received */
        struct closer_account *registry_fds; /* the registry's close_slow() */
        struct closer_account *turned_away; /* sockets closed at accept: accepting
                                             * pauses while too many wait */
        const struct limits *limits;
        int listen_fd;
        struct event *listen_ev;
        struct event *accept_retry_ev; /* accept paused after EMFILE */
        struct list conns;        /* struct conn.link */
        unsigned n_conns;         /* connections counted against the limits */
        unsigned n_refusing;      /* over a limit, waiting to be told so */
        struct hashmap uid_conns; /* {uid, 0} -> struct uid_conns */
        bool fd_exhaustion_logged;
        struct ratelimit refuse_rl;
};

/* Set up @s on @base serving @listen_fd (owned from now on). */
int server_init(struct server *s, struct event_base *base, struct dispatch *dispatch, int listen_fd);
/* Walk the connections counted against the limits (not those being
 * refused), oldest first: start with @prev NULL; NULL at the end. The
 * list must not change during the walk. */
const struct conn *server_next_conn(const struct server *s, const struct conn *prev);

/* Close every connection (dropping its references) and the listener. */
void server_done(struct server *s);
