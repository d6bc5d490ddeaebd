/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "procfs.h"
#include "util.h"

/* Connections accepted per wake-up. */
#define ACCEPT_BATCH 32
/* Connections over a limit kept open at once to be told -EUSERS; they
 * have a short deadline. Past this many, new ones are closed at once. */
#define REFUSING_MAX 16
#define REFUSING_DEADLINE_MS 1000

/*
 * One uid's connections. The fds they send that wait for the closer
 * (closer.h) are counted together, on one account: while it holds
 * UID_CLOSING_MAX, none of them is read. So a uid makes the daemon hold
 * at most that many and one message's more (a receive takes up to 253),
 * and the sockets of its connections that went meanwhile, however many
 * connections it opens, closes and opens again: a connection that goes
 * while the account holds fds keeps its place in the uid's count until
 * they are closed. One fd a close of which blocks doesn't stop the
 * others of its uid.
 *
 * The fds sent to them and not received yet are counted on one account
 * too (inflight.h): a connection the daemon hangs up on while some are
 * unread keeps its socket and its place in the uid's count until then.
 */
#define UID_CLOSING_MAX 128

struct uid_conns {
        unsigned n;       /* live connections, counted against the limits */
        unsigned closing; /* gone ones, counted until the account drains */
        uid_t uid;
        struct server *server;
        struct closer_account *fds; /* NULL once the server is done */
        struct inflight_account *inflight; /* fds sent on its connections, unread */
        struct list conns;          /* struct conn.uid_link */
};

static struct hm_key uid_key(uid_t uid)
{
        return (struct hm_key){ uid, 0 };
}

static unsigned uid_conns_of(struct server *s, uid_t uid)
{
        struct uid_conns *u = hashmap_get(&s->uid_conns, uid_key(uid));
        return u ? u->n + u->closing + inflight_account_lingering(u->inflight) : 0;
}

static void uid_conns_free(struct uid_conns *u)
{
        hashmap_remove(&u->server->uid_conns, uid_key(u->uid));
        closer_account_free(u->fds);
        inflight_account_free(u->inflight);
        free(u);
}

/* Whether @u holds nothing: no connection, live, lingering or closing. */
static bool uid_conns_unused(const struct uid_conns *u)
{
        return u->n == 0 && closer_account_pending(u->fds) == 0 && inflight_account_lingering(u->inflight) == 0;
}

/* The closer closed enough of the fds of @userdata's connections to read
 * them again, or the last: then its gone ones stop counting, and the uid
 * is forgotten if it has none left. */
static void uid_conns_fds_closed(void *userdata)
{
        struct uid_conns *u = userdata;
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &u->conns)
                conn_resume(container_of(pos, struct conn, uid_link));
        if (closer_account_pending(u->fds) > 0)
                return;
        u->closing = 0;
        if (uid_conns_unused(u))
                uid_conns_free(u);
}

/* A socket @userdata's connections left lingering went to the closer. */
static void uid_conns_lingered(void *userdata)
{
        struct uid_conns *u = userdata;

        if (closer_account_pending(u->fds) > 0)
                u->closing++;
        else if (uid_conns_unused(u))
                uid_conns_free(u);
}

static struct uid_conns *uid_conns_add(struct server *s, uid_t uid)
{
        struct uid_conns *u = hashmap_get(&s->uid_conns, uid_key(uid));

        if (!u) {
                u = calloc(1, sizeof(*u));
                if (!u)
                        return NULL;
                u->uid = uid;
                u->server = s;
                list_init(&u->conns);
                u->fds = closer_account_new(&s->closer, uid_conns_fds_closed, u);
                u->inflight = inflight_account_new(&s->inflight, uid_conns_lingered, u);
                if (!u->fds || !u->inflight || hashmap_put(&s->uid_conns, uid_key(uid), u) < 0) {
                        closer_account_free(u->fds);
                        inflight_account_free(u->inflight);
                        free(u);
                        return NULL;
                }
                closer_account_set_full_at(u->fds, UID_CLOSING_MAX);
        }
        u->n++;
        return u;
}

/* One of @u's connections went (@gone: it was set up). */
static void uid_conns_sub(struct uid_conns *u, bool gone)
{
        u->n--;
        if (gone && closer_account_pending(u->fds) > 0)
                u->closing++;
        if (uid_conns_unused(u))
                uid_conns_free(u);
}

static void server_conn_closed(void *userdata, struct conn *c)
{
        struct server *s = userdata;

        list_remove(&c->link);
        if (c->refuse < 0) {
                s->n_refusing--;
        } else {
                s->n_conns--;
                list_remove(&c->uid_link);
                uid_conns_sub(hashmap_get(&s->uid_conns, uid_key(c->session.holder.uid)), true);
        }
}

/* Sockets turned away at accept that wait for the closer, at most:
 * accepting pauses past this many, so a stuck close can't make the
 * daemon pile up sockets. */
#define TURNED_AWAY_MAX 16

/* Close the accepted @fd: its client may have queued messages with fds
 * in it already, whose close could wait for as long as it likes. */
static void server_turn_away(struct server *s, int fd)
{
        closer_close(s->turned_away, fd);
        if (closer_account_pending(s->turned_away) >= TURNED_AWAY_MAX)
                event_del(s->listen_ev);
}

static void server_turned_away_closed(void *userdata)
{
        struct server *s = userdata;
        event_add(s->listen_ev, NULL);
}

/* Take the accepted @fd: a connection, a refused one, or closed. */
static void server_accept_one(struct server *s, int fd)
{
        struct uid_conns *u = NULL;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        char comm[BS_COMM_LEN];
        struct conn *c;
        int refuse, r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                log_warn("SO_PEERCRED on a new connection failed: %s", strerror(errno));
                server_turn_away(s, fd);
                return;
        }
        refuse = limits_check_connections(s->limits, s->n_conns, uid_conns_of(s, cred.uid));
        if (refuse < 0 && s->n_refusing >= REFUSING_MAX) {
                if (ratelimit_allow(&s->refuse_rl))
                        log_warn("connection of pid %d uid %u closed: over the connection limits "
                                 "(%u in all, %u of its uid)", (int)cred.pid, (unsigned)cred.uid,
                                 s->n_conns, uid_conns_of(s, cred.uid));
                server_turn_away(s, fd);
                return;
        }
        if (refuse == 0 && !(u = uid_conns_add(s, cred.uid))) {
                server_turn_away(s, fd);
                return;
        }
        procfs_comm(cred.pid, comm, sizeof(comm));
        r = conn_new(&s->owner, fd, &cred, comm, refuse,
                     refuse < 0 ? REFUSING_DEADLINE_MS : s->limits->hello_timeout_ms, u ? u->fds : NULL,
                     u ? u->inflight : NULL, &c);
        if (r < 0) {
                log_warn("a connection of pid %d could not be set up: %s", (int)cred.pid, strerror(-r));
                if (u)
                        uid_conns_sub(u, false);
                return;
        }
        list_insert_tail(&s->conns, &c->link);
        if (u) {
                list_insert_tail(&u->conns, &c->uid_link);
                if (closer_account_full(u->fds))
                        conn_resume(c); /* not read until its uid's fds are closed */
        }
        if (refuse < 0) {
                s->n_refusing++;
        } else {
                s->n_conns++;
                log_debug("client %llu connected: pid %d, uid %u", (unsigned long long)c->session.holder.id,
                          (int)cred.pid, (unsigned)cred.uid);
        }
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *data)
{
        struct server *s = data;
        (void)fd;
        (void)what;
        event_add(s->listen_ev, NULL);
}

static void listen_cb(evutil_socket_t lfd, short what, void *data)
{
        struct server *s = data;
        (void)what;

        for (int i = 0; i < ACCEPT_BATCH; i++) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE) {
                                /* the pending client stays queued: pause
                                 * accepting rather than spin on it */
                                struct timeval tv = { 0, 100000 };
                                if (!s->fd_exhaustion_logged)
                                        log_warn("out of file descriptors accepting a client: "
                                                 "pausing accept for 100 ms");
                                s->fd_exhaustion_logged = true;
                                event_del(s->listen_ev);
                                evtimer_add(s->accept_retry_ev, &tv);
                        } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                                log_warn("accept failed: %s", strerror(errno));
                        }
                        return;
                }
                s->fd_exhaustion_logged = false;
                server_accept_one(s, fd);
        }
}

/* The registry's fds that a client could have filled (registry.h). */
static void server_registry_close_slow(void *ctx, uid_t uid, int fd)
{
        struct server *s = ctx;
        struct uid_conns *u = hashmap_get(&s->uid_conns, uid_key(uid));

        /* on the uid's account while it has one: while that holds
         * UID_CLOSING_MAX, its connections are not read, so it can't
         * make the daemon hold more of them while the closer waits */
        closer_close(u && u->fds ? u->fds : s->registry_fds, fd);
}

int server_init(struct server *s, struct event_base *base, struct dispatch *dispatch, int listen_fd)
{
        int r;

        memset(s, 0, sizeof(*s));
        s->dispatch = dispatch;
        s->limits = dispatch->limits;
        s->listen_fd = listen_fd;
        s->closer.efd = -EBADF;
        s->owner = (struct conn_owner){
                .base = base,
                .dispatch = dispatch,
                .closer = &s->closer,
                .closed = server_conn_closed,
                .userdata = s,
        };
        list_init(&s->conns);
        hashmap_init(&s->uid_conns);
        r = inflight_init(&s->inflight, base, s->limits);
        if (r < 0)
                return r;
        r = closer_init(&s->closer, base);
        if (r < 0)
                return r;
        s->turned_away = closer_account_new(&s->closer, server_turned_away_closed, s);
        s->registry_fds = closer_account_new(&s->closer, NULL, NULL);
        if (!s->turned_away || !s->registry_fds)
                return -ENOMEM;
        dispatch->registry->close_slow = server_registry_close_slow;
        dispatch->registry->close_slow_ctx = s;
        if (fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        s->listen_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST, listen_cb, s);
        s->accept_retry_ev = evtimer_new(base, accept_retry_cb, s);
        if (!s->listen_ev || !s->accept_retry_ev || event_add(s->listen_ev, NULL) < 0)
                return -ENOMEM;
        return 0;
}

const struct conn *server_next_conn(const struct server *s, const struct conn *prev)
{
        const struct list *pos = prev ? prev->link.next : s->conns.next;

        for (; pos != &s->conns; pos = pos->next) {
                const struct conn *c = container_of(pos, struct conn, link);
                if (c->refuse == 0)
                        return c;
        }
        return NULL;
}

void server_done(struct server *s)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &s->conns)
                conn_free(container_of(pos, struct conn, link));
        closer_account_free(s->turned_away);
        s->turned_away = NULL;
        if (s->dispatch && s->dispatch->registry && s->dispatch->registry->close_slow_ctx == s)
                s->dispatch->registry->close_slow = NULL; /* close() from now on */
        closer_account_free(s->registry_fds);
        s->registry_fds = NULL;
        /* the sockets kept for fds in transit go to the closer's accounts */
        inflight_done(&s->inflight);
        for (size_t i = 0; i < s->uid_conns.cap; i++) {
                struct uid_conns *u = s->uid_conns.slots[i].value;
                if (u) {
                        closer_account_free(u->fds); /* its fds are closed below, nobody told */
                        u->fds = NULL;
                        inflight_account_free(u->inflight);
                        u->inflight = NULL;
                }
        }
        closer_done(&s->closer);
        if (s->listen_ev)
                event_free(s->listen_ev);
        if (s->accept_retry_ev)
                event_free(s->accept_retry_ev);
        s->listen_fd = safe_close(s->listen_fd);
        for (size_t i = 0; i < s->uid_conns.cap; i++)
                free(s->uid_conns.slots[i].value);
        hashmap_done(&s->uid_conns);
}
