/* SPDX-License-Identifier: MIT */
/*
 * One client connection on the libevent loop: its socket, the replies
 * waiting for it to drain, its HELLO deadline, and one sticky fate: a
 * protocol error is answered once, then the connection closes.
 *
 * Bounded by construction: the daemon reads from a connection only while
 * none of its replies waits in the daemon, its uid's fds waiting to be
 * closed are few (closer.h, server.c) and so are the fds its uid's
 * clients were sent and did not receive yet (inflight.h), and the
 * socket's send buffer
 * holds about CONN_REPLIES_IN_FLIGHT small replies, so a client that
 * pipelines requests without reading its replies stops being read after
 * that many (each export it made still counts against its limits).
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#include "closer.h"
#include "dispatch.h"
#include "inflight.h"
#include "list.h"
#include "session.h"

struct event_base;
struct event;
struct conn;

#define CONN_REPLIES_IN_FLIGHT 64

/* The front end that owns connections, as a connection sees it. */
struct conn_owner {
        struct event_base *base;
        struct dispatch *dispatch;
        struct closer *closer; /* closes the fds clients send and the daemon doesn't keep */
        /* @c is about to be freed (its holder was dropped already) */
        void (*closed)(void *userdata, struct conn *c);
        void *userdata;
};

struct conn {
        struct session session;
        const struct conn_owner *owner;
        struct list link; /* the owner's list */
        struct list uid_link; /* the owner's, per uid (those sharing fds_closing) */
        int fd;
        struct event *rev, *wev, *deadline;
        struct list outq; /* struct outmsg */
        struct closer_account *fds_closing; /* not read while full (its own: any fd; its uid's: server.c) */
        bool own_account; /* fds_closing is its own, not its uid's */
        struct inflight_sock *inflight; /* fds sent on it, on its uid's account (NULL: none kept) */
        bool closing;     /* answered a protocol error: flush, then close */
        int refuse;       /* < 0: answer the first request with it, then close */
};

/*
 * A connection on @fd (taken, closed on error) from the peer @cred, that
 * must say HELLO within @hello_timeout_ms. With @refuse < 0 (over a
 * connection limit), its first request is answered with @refuse and it
 * closes. Its fds go to the closer charged to @fds_closing, shared with
 * the other connections of its uid and the owner's (it is not read while
 * that has any: call conn_resume() when it drains), or NULL for an
 * account of its own. The fds sent on it count on @inflight, its uid's
 * (not read nor sent to while that is full; it resumes on its own), or
 * NULL for none: then it must send no fds (a refused connection). Returns
 * 0 with the connection in *@ret, or -errno.
 */
int conn_new(const struct conn_owner *o, int fd, const struct ucred *cred, const char *comm, int refuse,
             unsigned hello_timeout_ms, struct closer_account *fds_closing, struct inflight_account *inflight,
             struct conn **ret);

/* The closer made room in @c's shared account: read it again if it may. */
void conn_resume(struct conn *c);

/* Close @c at once: its holder's references drop, owner->closed() runs. */
void conn_free(struct conn *c);
