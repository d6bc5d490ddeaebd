/* SPDX-License-Identifier: MIT */
#include "connection.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "idle.h"
#include "log.h"
#include "msgio.h"
#include "util.h"

/* Messages handled per wake-up before other clients get their turn (a
 * batch counts as its buffers: one batch of 32 is a whole turn). */
#define CONN_BATCH 32
/* What a small reply costs in the socket's send buffer (the skb's
 * truesize, ~770 bytes on x86-64); the kernel doubles what we ask. */
#define CONN_SNDBUF (CONN_REPLIES_IN_FLIGHT * 768 / 2)

struct outmsg {
        struct list link;
        struct bs_msg msg;
};

static void conn_close_after_flush(struct conn *c);

/* Free the events conn_new() made (those it got). */
static void conn_events_free(struct conn *c)
{
        if (c->rev)
                event_free(c->rev);
        if (c->wev)
                event_free(c->wev);
        if (c->deadline)
                event_free(c->deadline);
}

/* true while @c may be read: no reply of its waits in the daemon, no fd
 * it sent waits to be closed, and its uid's clients received enough of
 * the fds sent to them. */
static bool conn_may_read(const struct conn *c)
{
        return list_empty(&c->outq) && !closer_account_full(c->fds_closing) && !inflight_sock_blocked(c->inflight);
}

/* Reading stops while replies wait: a client that doesn't read its
 * replies can't make the daemon queue without bound. Nor while the fds
 * it sent wait for the closer: it can't make the daemon hold more. */
static void conn_update_events(struct conn *c)
{
        if (list_empty(&c->outq) || inflight_sock_blocked(c->inflight))
                event_del(c->wev);
        else
                event_add(c->wev, NULL);
        if (conn_may_read(c) && !c->closing)
                event_add(c->rev, NULL);
        else
                event_del(c->rev);
}

/* The closer closed the last fd @c sent, or its uid's clients received
 * enough of the fds sent to them: read it again, send what waits. */
static void conn_fds_closed(void *data)
{
        conn_update_events(data);
}

void conn_resume(struct conn *c)
{
        conn_update_events(c);
}

/*
 * A reply that never left: its fds go. A memfd at once; a socket (a sync
 * file) through the closer, on @c's uid's account: a fence's ready-made
 * sync file may hold fds its creator queued in it, and the daemon's copy
 * is the last one (their release could wait as long as that creator
 * likes). A reply that left only drops the daemon's copies: the message
 * in flight holds each file, so no close of the daemon's is the last
 * but in the moment between the send and the close, if the client hangs
 * up just then (fence.c hands out no ready-made sync file that already
 * holds anything, which narrows that to a creator racing its own waiter).
 */
static void conn_msg_drop(struct conn *c, struct bs_msg *m)
{
        for (unsigned i = 0; i < m->n_fds; i++)
                if (!(m->borrowed & (1u << i)))
                        closer_close(c->fds_closing, TAKE_FD(m->fds[i]));
        bs_msg_clear(m);
}

/* The fds sent on @c in transit for now, or 0 when @m's send failed
 * (-ETOOMANYREFS: @m waits, and @c is told when to try again). */
static int conn_sent(struct conn *c, const struct bs_msg *m, int r)
{
        if (r == -ETOOMANYREFS && c->inflight) {
                inflight_sock_refused(c->inflight, m->n_fds);
                return -EAGAIN;
        }
        if (r == 0)
                inflight_sock_sent(c->inflight, m->n_fds);
        return r;
}

/* Send queued replies, while fds in transit allow it. Returns 0, or
 * -errno when the connection is dead. */
static int conn_flush(struct conn *c)
{
        while (!list_empty(&c->outq) && !inflight_sock_blocked(c->inflight)) {
                struct outmsg *o = container_of(c->outq.next, struct outmsg, link);
                int r = conn_sent(c, &o->msg, bs_msg_send(c->fd, &o->msg));
                if (r == -EAGAIN)
                        return 0;
                list_remove(&o->link);
                if (r < 0)
                        conn_msg_drop(c, &o->msg);
                else
                        bs_msg_clear(&o->msg);
                free(o);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Send @m or queue it; @m's fds move to the queue or are closed. Returns
 * 0, or -errno when the reply can't be delivered: then the connection
 * must close, or its client would wait for that reply forever. */
static int conn_send(struct conn *c, struct bs_msg *m)
{
        struct outmsg *o;
        int r;

        if (list_empty(&c->outq) && !inflight_sock_blocked(c->inflight)) {
                r = conn_sent(c, m, bs_msg_send(c->fd, m));
                if (r != -EAGAIN) {
                        if (r < 0)
                                conn_msg_drop(c, m);
                        else
                                bs_msg_clear(m); /* sent: a closer's hop per sync file is not needed */
                        return r;
                }
        }
        /* The fds it borrows stay the buffers' own, not dup'ed: @c is not
         * read again until this reply is sent (conn_may_read()), so no
         * request of its can drop the references that keep them open
         * (only conn_free(), which drops the queue first), and no other
         * holder can drop @c's. A dup would cost the daemon an fd per
         * buffer of a batch (32) on top of the buffer's own, for every
         * connection that leaves its replies unread: more than a uid's
         * limits allow it. */
        o = malloc(sizeof(*o));
        if (!o) {
                log_warn("client %llu: queueing a reply failed (%s): disconnecting",
                         (unsigned long long)c->session.holder.id, strerror(ENOMEM));
                bs_msg_clear(m);
                return -ENOMEM;
        }
        o->msg = *m;
        bs_msg_init(m); /* the fds are the queue's now */
        list_insert_tail(&c->outq, &o->link);
        return 0;
}

static void conn_write_cb(evutil_socket_t fd, short what, void *data)
{
        struct conn *c = data;
        (void)fd;
        (void)what;

        if (conn_flush(c) < 0 || (c->closing && list_empty(&c->outq))) {
                conn_free(c);
                return;
        }
        conn_update_events(c);
}

/* A message that can't be taken as it is: the peer's fault (-EPROTO)
 * or the daemon's lack of fds (-EMFILE). Returns 1 to go on reading,
 * -1 if @c is closing. */
static int conn_handle_damaged(struct conn *c, struct bs_msg *req, int r)
{
        struct bs_msg rep;
        bool has_hdr = req->len >= sizeof(req->hdr);

        if (r == -EMFILE && has_hdr && !(req->hdr.flags & BS_MSG_REPLY)) {
                /* not the client's fault: answer and keep it */
                if (req->hdr.flags & BS_MSG_NO_REPLY)
                        return 1;
                dispatch_out_of_fds(c->owner->dispatch, &c->session, req, &rep);
                if (conn_send(c, &rep) < 0) {
                        conn_free(c);
                        return -1;
                }
                return conn_may_read(c) ? 1 : 0;
        }
        session_log_bug(&c->session, "malformed message (%zu bytes, opcode %u, %u fds): disconnecting",
                        req->len, has_hdr ? req->hdr.opcode : 0, has_hdr ? req->hdr.n_fds : 0);
        if (has_hdr) {
                bs_msg_reply_error(&rep, &req->hdr, -EPROTO);
                if (conn_send(c, &rep) < 0) {
                        conn_free(c);
                        return -1;
                }
        }
        conn_close_after_flush(c);
        return -1;
}

/* One message; returns what it cost of the turn (dispatch_request_cost(),
 * at least 1) to go on reading, 0 to stop, -1 if @c is gone or closing. */
static int conn_handle_one(struct conn *c)
{
        struct dispatch *d = c->owner->dispatch;
        struct bs_msg req, rep;
        unsigned cost;
        int r, result;

        r = bs_msg_recv_flags(c->fd, &req, 0, closer_account_fd_closer(c->fds_closing));
        if (r == -EAGAIN)
                return 0;
        if (r == -EPROTO || r == -EMFILE)
                return conn_handle_damaged(c, &req, r);
        if (r < 0) { /* the peer hung up, or the socket broke */
                if (r != -ECONNRESET)
                        log_debug("client %llu: receive failed: %s",
                                  (unsigned long long)c->session.holder.id, strerror(-r));
                conn_free(c);
                return -1;
        }

        /* only what a handler may look at reaches it (memfds, or sockets
         * for sync files): any other fd goes to the closer, and the errno
         * it earned stands in its place */
        for (unsigned i = 0; i < req.n_fds; i++) {
                r = closer_vet(c->fds_closing, req.fds[i], dispatch_fd_want(req.hdr.opcode));
                if (r < 0)
                        req.fds[i] = r;
        }

        cost = dispatch_request_cost(&req);
        if (c->refuse < 0) {
                /* over a connection limit: one answer, then goodbye */
                bs_msg_reply_error(&rep, &req.hdr, c->refuse);
                result = c->refuse;
        } else {
                result = dispatch_request(d, &c->session, &req, &rep);
        }
        /* what the handlers left: a sync file's socket may hold the
         * client's fds, so its close is the closer's too */
        for (unsigned i = 0; i < req.n_fds; i++)
                closer_close(c->fds_closing, TAKE_FD(req.fds[i]));
        bs_msg_clear(&req);
        if (result != DISPATCH_SILENT && conn_send(c, &rep) < 0) {
                conn_free(c);
                return -1;
        }
        if (result < 0) {
                conn_close_after_flush(c);
                return -1;
        }
        if (c->deadline && c->session.version != 0) {
                event_free(c->deadline); /* HELLO said in time */
                c->deadline = NULL;
        }
        return conn_may_read(c) ? (int)cost : 0;
}

static void conn_read_cb(evutil_socket_t fd, short what, void *data)
{
        struct conn *c = data;
        struct dispatch *d = c->owner->dispatch;
        int r = 1;
        (void)fd;
        (void)what;

        /* another connection of its uid may have given the closer fds
         * since this one's event was last set: not one message more */
        if (!conn_may_read(c)) {
                conn_update_events(c);
                return;
        }
        for (int spent = 0; spent < CONN_BATCH && r > 0; spent += r)
                r = conn_handle_one(c);
        if (r >= 0)
                conn_update_events(c);
        /* every reply of the batch is on its way: now free what its
         * requests released (a put and the next export often come in one
         * batch: the inode's ~2 us no longer delay that export), and
         * refill the reserve when the loop has nothing else to do */
        registry_flush(d->registry);
        idle_kick(d->idle);
}

static void conn_deadline_cb(evutil_socket_t fd, short what, void *data)
{
        struct conn *c = data;
        (void)fd;
        (void)what;

        if (c->refuse == 0)
                session_log_bug(&c->session, "no HELLO within %u ms: disconnecting",
                                c->owner->dispatch->limits->hello_timeout_ms);
        conn_free(c);
}

/* After the replies drain, close: used once a protocol error is answered. */
static void conn_close_after_flush(struct conn *c)
{
        c->closing = true;
        event_del(c->rev);
        if (list_empty(&c->outq))
                conn_free(c);
        else
                conn_update_events(c);
}

void conn_free(struct conn *c)
{
        struct list *pos, *tmp;

        if (!c)
                return;
        list_for_each_safe(pos, tmp, &c->outq) {
                struct outmsg *o = container_of(pos, struct outmsg, link);
                conn_msg_drop(c, &o->msg);
                free(o);
        }
        registry_holder_drop(c->owner->dispatch->registry, &c->session.holder);
        registry_flush(c->owner->dispatch->registry);
        conn_events_free(c);
        /* messages it never read may hold the client's fds: the closer's,
         * once the fds sent on it are received */
        if (c->inflight)
                inflight_sock_close(c->inflight, TAKE_FD(c->fd), c->fds_closing);
        else
                closer_close(c->fds_closing, TAKE_FD(c->fd));
        if (c->own_account)
                closer_account_free(c->fds_closing);
        log_debug("client %llu disconnected", (unsigned long long)c->session.holder.id);
        c->owner->closed(c->owner->userdata, c);
        free(c);
}

int conn_new(const struct conn_owner *o, int fd_, const struct ucred *cred, const char *comm, int refuse,
             unsigned hello_timeout_ms, struct closer_account *fds_closing, struct inflight_account *inflight,
             struct conn **ret)
{
        _cleanup_close_ int fd = fd_;
        struct timeval tv = { hello_timeout_ms / 1000, (hello_timeout_ms % 1000) * 1000 };
        int sndbuf = CONN_SNDBUF;
        struct conn *c;

        /* best effort: the kernel's minimum and maximum still apply */
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        registry_holder_init(o->dispatch->registry, &c->session.holder, cred->pid, cred->uid, cred->gid,
                             comm);
        c->owner = o;
        c->refuse = refuse;
        list_init(&c->outq);
        list_init(&c->link);
        list_init(&c->uid_link);
        c->fd = TAKE_FD(fd);
        c->rev = event_new(o->base, c->fd, EV_READ | EV_PERSIST, conn_read_cb, c);
        c->wev = event_new(o->base, c->fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
        c->deadline = evtimer_new(o->base, conn_deadline_cb, c);
        c->own_account = !fds_closing;
        c->fds_closing = fds_closing ? fds_closing : closer_account_new(o->closer, conn_fds_closed, c);
        if (inflight)
                c->inflight = inflight_sock_new(inflight, c->fd, conn_fds_closed, c);
        if (!c->rev || !c->wev || !c->deadline || !c->fds_closing || (inflight && !c->inflight) ||
            event_add(c->rev, NULL) < 0 || evtimer_add(c->deadline, &tv) < 0) {
                if (c->inflight) /* nothing was sent: it closes the fd at once */
                        inflight_sock_close(c->inflight, TAKE_FD(c->fd), NULL);
                if (c->own_account)
                        closer_account_free(c->fds_closing);
                conn_events_free(c);
                safe_close(c->fd);
                free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}
