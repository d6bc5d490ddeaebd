/* SPDX-License-Identifier: MIT */
/*
 * fds in transit: sent on a client's connection, not yet received.
 *
 * The kernel counts each fd a process sent over a unix socket and its
 * peer has not received yet against the sender's user, and refuses more
 * (ETOOMANYREFS) past the sender's RLIMIT_NOFILE, unless it has
 * CAP_SYS_RESOURCE or CAP_SYS_ADMIN (net/unix: too_many_unix_fds()). The
 * daemon never runs as root as a service: clients that leave replies
 * unread, on connection after connection, could make every reply that
 * carries an fd fail, for everyone.
 *
 * So the connections of one uid share an account of the fds sent on them
 * and not known to be received: while it holds max_fds_in_flight_per_uid,
 * none of them is read, nor sent a reply (what is queued waits), so a
 * uid gets at most that many and one message's fds (BS_MAX_FDS) more.
 *
 * A socket's fds are all received once its unread bytes (SIOCOUTQ) are 0;
 * until then all count. The daemon learns of it from an epoll set of its
 * own, where each socket that carried fds sits edge-triggered for EPOLLOUT
 * (the kernel wakes it as the peer reads, and as it closes): that set is
 * looked at only when an account reaches its limit, and watched only
 * while one is full, a send waits (below) or a socket lingers, so a
 * client that reads its replies costs nothing but its first send's
 * epoll_ctl(). A connection the daemon hangs up on while
 * fds sent on it are unread keeps its socket, shut down, and its place in
 * its uid's counts (inflight_account_lingering()) until they are received
 * or its peer closes: hanging up frees nothing in the kernel.
 *
 * The kernel wakes that set from inside the free of the last message
 * the peer read, a moment before SIOCOUTQ drops from 1 to 0: 1 is read as
 * 0, and while an account is full or a socket lingers, a timer looks at
 * their sockets again every 100 ms, so that a wake-up that came before
 * the count fell can't leave a uid unread for good.
 *
 * A send the kernel still refuses (other uids together past the daemon's
 * fd limit, or other processes of the daemon's user) loses nothing: the
 * reply waits, logged, until fds in transit are received or 100 ms pass.
 */
#pragma once

#include <stdbool.h>

#include "closer.h"
#include "list.h"
#include "log.h"

struct event_base;
struct event;
struct limits;

struct inflight {
        int epfd;                    /* the sockets that carried fds, EPOLLOUT | EPOLLET */
        struct event *ev;            /* on epfd: added while an account is full, a send
                                      * starved or a socket lingers */
        struct event *retry;         /* starved sends try again after this */
        const struct limits *limits; /* max_fds_in_flight_per_uid, read at each use */
        unsigned n_full;             /* accounts full */
        unsigned total;              /* fds in transit, every account's */
        struct list starved;         /* struct inflight_sock.starved_link */
        struct list lingering;       /* struct inflight_sock.link, of gone connections */
        struct list full;            /* struct inflight_account.full_link */
        struct ratelimit refused_rl; /* ETOOMANYREFS is logged at most this often */
        bool refused_logged;         /* and once until a send of fds succeeds */
};

/* One uid's connections. */
struct inflight_account {
        struct inflight *in;
        unsigned refs;      /* its owner's, and one per socket */
        unsigned n;         /* fds sent on its sockets, not known received */
        unsigned lingering; /* sockets of gone connections kept for their fds */
        bool full;
        struct list full_link; /* in->full while full */
        struct list socks;  /* struct inflight_sock.link, live connections' */
        /* a lingering socket went to the closer (on @fds_closing) */
        void (*lingered)(void *userdata);
        void *userdata;     /* NULL once the owner is gone */
};

/* One connection's socket. */
struct inflight_sock {
        struct inflight_account *account;
        struct list link;         /* the account's socks, or in->lingering */
        struct list starved_link; /* in->starved while its last send was refused */
        int fd;                   /* the connection's: not owned while it is live */
        unsigned n;               /* fds sent on it, not known received */
        bool watched;             /* in in->epfd */
        bool starved;
        bool lingering;                /* its connection is gone: the socket is ours */
        struct closer_account *closer; /* lingering: where its fd goes */
        void (*resume)(void *userdata); /* it may read and send again */
        void *userdata;
};

/* Set up @in on @base, the limit read from @l. 0 or -errno. */
int inflight_init(struct inflight *in, struct event_base *base, const struct limits *l);
/* Close every lingering socket (through @closer, if not NULL) and free. */
void inflight_done(struct inflight *in);

/* An account for one uid's connections; @lingered(@userdata) is told each
 * time a socket it kept goes to the closer. NULL when out of memory. */
struct inflight_account *inflight_account_new(struct inflight *in, void (*lingered)(void *userdata),
                                              void *userdata);
/* The owner goes; the account stays until its lingering sockets go. */
void inflight_account_free(struct inflight_account *a);
/* Whether @a's connections may not be read now (NULL: never). */
bool inflight_account_full(const struct inflight_account *a);
/* Sockets of @a's gone connections kept for the fds sent on them. */
unsigned inflight_account_lingering(const struct inflight_account *a);

/* The socket @fd of a connection of @a (@fd stays the caller's until
 * inflight_sock_close()); @resume(@userdata) when it may go on. NULL when
 * out of memory. */
struct inflight_sock *inflight_sock_new(struct inflight_account *a, int fd, void (*resume)(void *userdata),
                                        void *userdata);
/* Whether @s must not send now (NULL: never): its account is full, or its
 * last send was refused and waits for its retry. */
bool inflight_sock_blocked(const struct inflight_sock *s);
/* @n fds were sent on @s. */
void inflight_sock_sent(struct inflight_sock *s, unsigned n);
/* The kernel refused to send @n fds on @s (ETOOMANYREFS): the message
 * waits; @s's resume() is told when to try again. */
void inflight_sock_refused(struct inflight_sock *s, unsigned n);
/* The connection goes: @fd is taken, closed through @closer once every fd
 * sent on it is received (at once if they are). @s is freed or kept. */
void inflight_sock_close(struct inflight_sock *s, int fd, struct closer_account *closer);
