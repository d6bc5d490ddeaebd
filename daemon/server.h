/* SPDX-License-Identifier: MIT */
/*
 * The socket front end: a listening SOCK_SEQPACKET socket on the libevent
 * loop, one struct conn per client with its credentials (SO_PEERCRED, taken
 * once at accept), a queue of replies waiting for the socket to drain, and
 * one sticky fate: a protocol error answers once, then closes.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "limits.h"
#include "list.h"
#include "log.h"
#include "message.h"
#include "registry.h"

struct event_base;
struct event;

struct server {
        struct event_base *base;
        struct registry *registry;
        const struct limits *limits;
        int listen_fd;
        struct event *listen_ev;
        struct event *accept_retry_ev; /* accept paused after EMFILE */
        struct list conns;
        unsigned n_conns;   /* connections */
        unsigned n_clients; /* connections that said HELLO: what --max-clients counts */
        uint64_t next_conn_id;
        bool fd_exhaustion_logged;
        /* all clients' bug reports together: a peer that reconnects to
         * get a fresh per-connection budget still can't flood the log */
        struct ratelimit log_rl;
};

struct conn {
        struct server *server;
        struct list link;
        uint64_t id;
        int fd;
        struct event *rev, *wev;
        struct holder holder;
        uint32_t version; /* 0 until HELLO */
        char name[BS_NAME_LEN];
        struct list outq; /* struct outmsg */
        bool closing;     /* answered a protocol error: flush, then close */
        struct ratelimit log_rl;
};

/* Set up @s on @base serving @listen_fd (owned from now on). */
int server_init(struct server *s, struct event_base *base, struct registry *registry,
                const struct limits *limits, int listen_fd);
/* Close every connection (dropping its references) and the listener. */
void server_done(struct server *s);

/*
 * A listening socket at @path: its directory is created if missing, a
 * stale socket file (nobody listening) replaced, a live one refused with
 * -EADDRINUSE. The file appears only once the socket listens, so its
 * existence means a client can connect. Returns the fd or -errno.
 */
int server_listen_path(const char *path);

/* Log a client's misbehaviour, rate-limited per connection. */
void conn_log_bug(struct conn *c, const char *fmt, ...) _printf_(2, 3);
