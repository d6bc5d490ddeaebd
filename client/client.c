/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "client-private.h"
#include "debug.h"
#include "msgio.h"
#include "socket-path.h"
#include "util.h"

/* ---- waking ------------------------------------------------------------ */

/*
 * A thread waiting for its reply sleeps on a futex of its own request,
 * and whoever delivers the reply (or hands it the reader's role) wakes it
 * after letting go of the lock: woken with the lock held, it would run
 * only to sleep again on the lock, and on one cpu push the waker off it
 * while the waker still holds the lock. The request may be gone by then
 * (its thread saw its reply and returned): FUTEX_WAKE on a private
 * futex only names an address, never touches it, and a stale wake at
 * worst ends a later wait at that address early, which every futex wait
 * allows for (wait_own() loops, as glibc's locks do).
 */
static void futex_wake(atomic_uint *word)
{
        syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* With the lock held: wake @p's thread, if it sleeps, once the lock is
 * let go (unlock_and_wake()). */
static void wake_later(struct bs_client *c, struct pending *p)
{
        if (!p->waiting)
                return;
        atomic_store_explicit(&p->wake, 1, memory_order_release);
        if (c->n_to_wake == CLIENT_WAKE_MAX)
                futex_wake(&p->wake); /* rare: many woken at once */
        else
                c->to_wake[c->n_to_wake++] = &p->wake;
}

/* Let go of the lock, then wake the threads wake_later() chose. */
static void unlock_and_wake(struct bs_client *c)
{
        atomic_uint *w[CLIENT_WAKE_MAX];
        unsigned n = c->n_to_wake;

        memcpy(w, c->to_wake, n * sizeof(*w));
        c->n_to_wake = 0;
        pthread_mutex_unlock(&c->lock);
        for (unsigned i = 0; i < n; i++)
                futex_wake(w[i]);
}

/* Remember the first fatal error and wake every waiter; every later
 * call reports it. With the lock held. */
static int client_fail(struct bs_client *c, int error)
{
        if (c->error == 0) {
                c->error = error;
                for (struct pending *p = c->pending; p; p = p->next)
                        wake_later(c, p);
        }
        return c->error;
}

int client_broken(struct bs_client *c, int error)
{
        int r;

        pthread_mutex_lock(&c->lock);
        r = client_fail(c, error);
        pthread_mutex_unlock(&c->lock);
        return r;
}

uint64_t client_page_size(void)
{
        static uint64_t page;

        if (!page)
                page = (uint64_t)sysconf(_SC_PAGESIZE);
        return page;
}

uint64_t client_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int client_ms_left(uint64_t deadline)
{
        uint64_t now;

        if (deadline == UINT64_MAX)
                return -1;
        now = client_now_ms();
        if (now >= deadline)
                return 0;
        return deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
}

/* Receives block for at most an eighth of the timeout before looking at
 * their deadline (recv_until()); 0 means forever. With the lock held.
 * While requests are in flight the step only shrinks: a reader asleep
 * in recvmsg() read it before it slept, and looks at its deadline only
 * when the socket wakes it; a longer step (or none, for a timeout of -1)
 * would make it miss the deadline its call started with. */
static int set_rcvtimeo(struct bs_client *c, int timeout_ms)
{
        int ms = timeout_ms <= 0 ? 0 : (timeout_ms / 8 > 0 ? timeout_ms / 8 : 1);
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

        if (ms == c->rcvtimeo_ms)
                return 0;
        if (c->pending && c->rcvtimeo_ms > 0 && (ms == 0 || ms > c->rcvtimeo_ms))
                return 0; /* the next call with none in flight sets it */
        if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        c->rcvtimeo_ms = ms;
        return 0;
}

/* With the lock held. */
static uint64_t deadline_of(const struct bs_client *c)
{
        return c->timeout_ms < 0 ? UINT64_MAX : client_now_ms() + (uint64_t)c->timeout_ms;
}

int client_wait_fd(int fd, short events, uint64_t deadline)
{
        struct pollfd p = { .fd = fd, .events = events };
        int r;

        do
                r = poll(&p, 1, client_ms_left(deadline));
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

/* ---- sending ---------------------------------------------------------- */

static int send_oneway(struct bs_client *c, const struct oneway *ow)
{
        struct bs_msg m;

        bs_msg_request(&m, ow->opcode, 0);
        m.hdr.flags = BS_MSG_NO_REPLY;
        memcpy(&m.body, &ow->body, bs_op_lookup(ow->opcode)->req_size);
        return bs_msg_send_flags(c->fd, &m, MSG_DONTWAIT);
}

/* With send_lock held: send the queued one-way requests, in order, until
 * the socket is full. 0 when none is left, -EAGAIN, or -errno. */
static int flush_oneways(struct bs_client *c)
{
        unsigned sent = 0;
        int r = 0;

        if (c->n_queued == 0)
                return 0;
        while (sent < c->n_queued) {
                r = send_oneway(c, &c->queued[sent]);
                if (r < 0)
                        break;
                sent++;
        }
        memmove(c->queued, c->queued + sent, (c->n_queued - sent) * sizeof(*c->queued));
        c->n_queued -= sent;
        return r;
}

static void queue_oneway(struct bs_client *c, const struct oneway *ow)
{
        if (c->n_queued == c->queued_cap) {
                unsigned cap = c->queued_cap ? 2 * c->queued_cap : 16;
                struct oneway *q = realloc(c->queued, cap * sizeof(*q));
                if (!q)
                        return; /* what it ends, the connection's close ends too */
                c->queued = q;
                c->queued_cap = cap;
        }
        c->queued[c->n_queued++] = *ow;
}

void client_oneway(struct bs_client *c, const struct oneway *ow)
{
        int r;

        pthread_mutex_lock(&c->send_lock);
        r = flush_oneways(c);
        if (r == 0)
                r = send_oneway(c, ow);
        if (r == -EAGAIN)
                queue_oneway(c, ow);
        /* another error: the connection is broken, and closing it ends
         * what this would have; the next call reports the error */
        pthread_mutex_unlock(&c->send_lock);
}

void client_release(struct bs_client *c, uint64_t id, uint32_t flags)
{
        struct oneway ow = { .opcode = BS_OP_RELEASE };

        ow.body.release.id = id;
        ow.body.release.flags = flags;
        client_oneway(c, &ow);
}

int client_need_v2(const struct bs_client *c)
{
        return c->version >= 2 ? 0 : -EOPNOTSUPP;
}

int client_timeout(struct bs_client *c)
{
        int t;

        pthread_mutex_lock(&c->lock);
        t = c->timeout_ms;
        pthread_mutex_unlock(&c->lock);
        return t;
}

/* Send @req after the queued one-way requests, waiting at most until @deadline
 * for room in the socket, never with a lock held while waiting. */
static int send_request(struct bs_client *c, const struct bs_msg *req, uint64_t deadline)
{
        int r;

        for (;;) {
                pthread_mutex_lock(&c->send_lock);
                r = flush_oneways(c);
                if (r == 0)
                        r = bs_msg_send_flags(c->fd, req, MSG_DONTWAIT);
                pthread_mutex_unlock(&c->send_lock);
                if (r != -EAGAIN)
                        return r;
                r = client_wait_fd(c->fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }
}

/* ---- receiving -------------------------------------------------------- */

/* A reply whose fds this process could not take (out of fds): its
 * request fails with -EMFILE, and every reference the daemon made for it
 * is given back. */
static void deliver_unreceivable(struct bs_client *c, struct pending *p, const struct bs_msg *m)
{
        p->status = -EMFILE;
        p->done = true;
        if (m->body.status.status != 0)
                return;
        if (m->hdr.opcode == BS_OP_SUBMIT_SYNC_FILE && m->hdr.n_fds == 1 &&
            (m->body.submit_sync_file_rep.flags & BS_WIRE_SUBMIT_SYNC_FILE)) {
                /* the submit stood, only its sync file is lost: as a reply
                 * the daemon could make none for, if that one is valid */
                char buf[BS_MSG_MAX_SIZE];
                struct bs_msg ok = *m;
                int n;

                ok.hdr.n_fds = 0;
                ok.body.submit_sync_file_rep.flags &= ~BS_WIRE_SUBMIT_SYNC_FILE;
                n = bs_msg_encode(&ok, buf, sizeof(buf));
                if (n >= 0 && (size_t)n == m->len && bs_msg_decode(&ok, buf, (size_t)n, 0) == 0) {
                        *p->rep = ok;
                        p->status = 0;
                }
                return;
        }
        if ((m->hdr.opcode == BS_OP_EXPORT || m->hdr.opcode == BS_OP_REDEEM) && m->body.export_rep.id)
                client_release(c, m->body.export_rep.id, 0);
        if (m->hdr.opcode == BS_OP_EXPORT_BATCH)
                for (unsigned i = 0; i < m->body.export_batch_rep.count && i < BS_WIRE_BATCH_MAX; i++)
                        if (m->body.export_batch_rep.ids[i])
                                client_release(c, m->body.export_batch_rep.ids[i], 0);
}

/* With the lock held: hand @m, received with @r, to the request waiting
 * for its serial. A reply nobody waits for, or not a reply, breaks the
 * connection. */
static void deliver(struct bs_client *c, struct bs_msg *m, int r)
{
        for (struct pending *p = c->pending; p; p = p->next) {
                if (p->done || p->serial != m->hdr.serial)
                        continue;
                if (!(m->hdr.flags & BS_MSG_REPLY) || m->hdr.opcode != p->opcode)
                        break;
                if (r == -EMFILE) {
                        deliver_unreceivable(c, p, m);
                } else {
                        *p->rep = *m;
                        p->done = true;
                }
                wake_later(c, p);
                return;
        }
        bs_msg_clear(m);
        client_fail(c, -EPROTO);
}

/* Receive one message into @m, waiting at most until @deadline. The
 * socket blocks, so the common case is one recvmsg() that sleeps until
 * the reply is there; SO_RCVTIMEO (an eighth of the timeout, set at
 * connect) wakes it in time to look at the deadline, and the last stretch
 * before the deadline is waited for with poll(). */
static int recv_until(struct bs_client *c, struct bs_msg *m, uint64_t deadline, int rcvtimeo_ms)
{
        for (;;) {
                int left = client_ms_left(deadline), r;

                if (left == 0) {
                        r = bs_msg_recv_flags(c->fd, m, MSG_DONTWAIT, NULL);
                        return r == -EAGAIN ? -ETIMEDOUT : r;
                }
                if (left < 0 || left > rcvtimeo_ms) {
                        r = bs_msg_recv(c->fd, m);
                        if (r != -EAGAIN && r != -EWOULDBLOCK)
                                return r;
                        continue; /* SO_RCVTIMEO: look at the deadline again */
                }
                r = client_wait_fd(c->fd, POLLIN, deadline);
                if (r < 0)
                        return r;
                r = bs_msg_recv_flags(c->fd, m, MSG_DONTWAIT, NULL);
                if (r != -EAGAIN)
                        return r;
        }
}

/* With the lock held and nobody reading: read one message, waiting at
 * most until @deadline, and deliver it. */
static void read_and_deliver(struct bs_client *c, uint64_t deadline)
{
        int rcvtimeo_ms = c->rcvtimeo_ms; /* bs_client_set_timeout() writes it with the lock */
        struct bs_msg m;
        int r;

        c->reading = true;
        unlock_and_wake(c);
        r = recv_until(c, &m, deadline, rcvtimeo_ms);
        pthread_mutex_lock(&c->lock);
        c->reading = false;
        if (r == 0 || (r == -EMFILE && m.len >= sizeof(m.hdr)))
                deliver(c, &m, r);
        else
                client_fail(c, r);
}

/* With the lock held: sleep on @self's futex until woken or @deadline
 * passes (-ETIMEDOUT); 0 may also be a stale or interrupted wake, so
 * callers look again. The lock is let go meanwhile. */
static int wait_own(struct bs_client *c, struct pending *self, uint64_t deadline)
{
        struct timespec ts, *at = NULL;
        int r = 0;

        if (deadline != UINT64_MAX) {
                ts.tv_sec = (time_t)(deadline / 1000); /* CLOCK_MONOTONIC, as FUTEX_WAIT_BITSET's */
                ts.tv_nsec = (long)(deadline % 1000) * 1000000;
                at = &ts;
        }
        self->waiting = true;
        atomic_store_explicit(&self->wake, 0, memory_order_relaxed);
        unlock_and_wake(c);
        if (syscall(SYS_futex, &self->wake, FUTEX_WAIT_BITSET_PRIVATE, 0, at, NULL, FUTEX_BITSET_MATCH_ANY) < 0 &&
            errno == ETIMEDOUT)
                r = -ETIMEDOUT;
        pthread_mutex_lock(&c->lock);
        self->waiting = false;
        return r;
}

static void pending_remove(struct bs_client *c, struct pending *self)
{
        for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next)
                if (*pp == self) {
                        *pp = self->next;
                        break;
                }
        /* Hand the reader's role on to one waiter, not to all: the oldest
         * that sleeps waiting for its reply. Replies come in the order of
         * requests, so the reply it waits for is the next to arrive and it
         * reads it itself, with no second wake-up to pass it on. Never to a
         * caller still sending: it may be stuck waiting for room in the
         * socket, which only reading the daemon's replies makes (the daemon
         * stops reading a client that leaves its replies unread). */
        if (!c->reading)
                for (struct pending *p = c->pending; p; p = p->next)
                        if (!p->done && p->waiting) {
                                wake_later(c, p);
                                break;
                        }
}

int client_call_start(struct bs_client *c, struct pending *self, struct bs_msg *req, struct bs_msg *rep)
{
        int r;

        *self = (struct pending){ .opcode = req->hdr.opcode, .rep = rep };
        bs_msg_init(rep);

        pthread_mutex_lock(&c->lock);
        self->deadline = deadline_of(c); /* bs_client_set_timeout() writes it with the lock */
        if (c->error < 0) {
                self->status = c->error;
                self->done = true; /* never queued */
                pthread_mutex_unlock(&c->lock);
                return self->status;
        }
        if (!c->pending)
                (void)set_rcvtimeo(c, c->timeout_ms); /* a step it could not set before */
        if (c->next_serial == 0)
                c->next_serial = 1; /* 0 is never used: it is easy to forge */
        req->hdr.serial = self->serial = c->next_serial++;
        /* in order of requests: the oldest first (pending_remove()) */
        {
                struct pending **pp = &c->pending;
                while (*pp)
                        pp = &(*pp)->next;
                *pp = self;
        }
        self->queued = true;
        pthread_mutex_unlock(&c->lock);

        r = send_request(c, req, self->deadline);
        if (r < 0) {
                pthread_mutex_lock(&c->lock);
                r = client_fail(c, r == -EAGAIN ? -EIO : r);
                unlock_and_wake(c);
        }
        return r;
}

int client_call_finish(struct bs_client *c, struct pending *self)
{
        int r;

        if (!self->queued)
                return self->status;
        pthread_mutex_lock(&c->lock);
        while (!self->done && c->error == 0) {
                if (!c->reading)
                        read_and_deliver(c, self->deadline);
                else if (wait_own(c, self, self->deadline) < 0 && !self->done)
                        client_fail(c, -ETIMEDOUT);
        }
        pending_remove(c, self);
        if (!self->done)
                r = c->error;
        else
                r = self->status < 0 ? self->status : self->rep->body.status.status;
        if (self->done && self->status == 0 && r < 0)
                debug_note_refusal(self->opcode, r);
        unlock_and_wake(c);
        return r;
}

int client_call(struct bs_client *c, struct bs_msg *req, struct bs_msg *rep)
{
        struct pending self;

        client_call_start(c, &self, req, rep);
        return client_call_finish(c, &self);
}

int client_call_status(struct bs_client *c, struct bs_msg *req)
{
        struct bs_msg rep;
        int r = client_call(c, req, &rep);

        bs_msg_clear(&rep);
        return r;
}

/* ---- connecting --------------------------------------------------------- */

static void client_free(struct bs_client *c)
{
        safe_close(c->fd);
        free(c->queued);
        pthread_mutex_destroy(&c->send_lock);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

static int client_hello(struct bs_client *c)
{
        struct bs_msg req, rep;
        int r;

        bs_msg_request(&req, BS_OP_HELLO, 0);
        req.body.hello_req.version_min = 1;
        req.body.hello_req.version_max = BS_PROTOCOL_VERSION;
        snprintf(req.body.hello_req.client_name, sizeof(req.body.hello_req.client_name), "%s",
                 program_invocation_short_name);
        r = client_call(c, &req, &rep);
        if (r < 0)
                return r;
        if (rep.body.hello_rep.version > BS_PROTOCOL_VERSION)
                return -EPROTO;
        c->version = rep.body.hello_rep.version;
        c->limits.max_buffer_size = rep.body.hello_rep.max_buffer_size;
        c->limits.max_bytes_per_uid = rep.body.hello_rep.max_bytes_per_uid;
        c->limits.max_buffers_per_client = rep.body.hello_rep.max_buffers_per_client;
        c->limits.max_clients = rep.body.hello_rep.max_clients;
        return 0;
}

/* BUFSHARE_TIMEOUT_MS, or the default: a number of ms, or -1 for none. */
static int timeout_from_env(void)
{
        const char *s = getenv("BUFSHARE_TIMEOUT_MS");
        char *end;
        long v;

        if (!s || !*s)
                return CLIENT_DEFAULT_TIMEOUT_MS;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v < -1 || v > INT_MAX)
                return CLIENT_DEFAULT_TIMEOUT_MS;
        return (int)v;
}

/* connect() on a unix socket waits while the daemon's backlog is full:
 * bound it with SO_SNDTIMEO, which unix sockets apply to connect. */
static int connect_timed(int fd, const struct sockaddr_un *sa, int len, int timeout_ms)
{
        struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
        int r;

        if (timeout_ms >= 0 && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        do
                r = connect(fd, (const struct sockaddr *)sa, (socklen_t)len);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
        return 0;
}

int client_connect(const char *socket_path, struct bs_client **ret_client)
{
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        struct sockaddr_un sa;
        struct bs_client *c;
        int len, r;

        lib_return_if(!ret_client, -EINVAL);
        if (!socket_path) {
                r = bs_socket_path_default(path, sizeof(path));
                if (r < 0)
                        return r;
                socket_path = path;
        }
        len = bs_sockaddr_un_set(&sa, socket_path);
        if (len < 0)
                return len;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        atomic_init(&c->refs, 1);
        pthread_mutex_init(&c->lock, NULL);
        pthread_mutex_init(&c->send_lock, NULL);
        c->next_serial = 1;
        c->timeout_ms = timeout_from_env();
        c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
                r = -errno;
                goto err_free;
        }
        r = connect_timed(c->fd, &sa, len, c->timeout_ms);
        if (r < 0)
                goto err_free;
        r = set_rcvtimeo(c, c->timeout_ms);
        if (r < 0)
                goto err_free;
        r = client_hello(c);
        if (r < 0)
                goto err_free;
        *ret_client = c;
        return 0;

err_free:
        client_free(c);
        return r;
}

int client_set_timeout(struct bs_client *c, int timeout_ms)
{
        lib_return_if(!c || timeout_ms < -1, -EINVAL);
        pthread_mutex_lock(&c->lock);
        c->timeout_ms = timeout_ms;
        set_rcvtimeo(c, timeout_ms);
        pthread_mutex_unlock(&c->lock);
        return 0;
}

int client_sync(struct bs_client *c)
{
        struct bs_msg req, rep;
        int r;

        lib_return_if(!c, -EINVAL);
        /* any reply means the daemon processed everything sent before;
         * SYNC's also means it freed what was released */
        if (c->version >= 2)
                bs_msg_request(&req, BS_OP_SYNC, 0);
        else
                bs_msg_request(&req, BS_OP_LIST_HEAPS, 0);
        r = client_call(c, &req, &rep);
        bs_msg_clear(&rep);
        return r < 0 ? r : 0;
}

_public_ struct bs_client *bs_client_ref(struct bs_client *c)
{
        if (c)
                atomic_fetch_add(&c->refs, 1);
        return c;
}

_public_ struct bs_client *bs_client_unref(struct bs_client *c)
{
        if (c && atomic_fetch_sub(&c->refs, 1) == 1)
                client_free(c);
        return NULL;
}

int64_t client_max_buffer_size(struct bs_client *c)
{
        lib_return_if(!c, -EINVAL);
        return (int64_t)c->limits.max_buffer_size;
}

/* The limits HELLO does not carry, asked once. */
static int client_fetch_limits(struct bs_client *c)
{
        const struct bs_limits_rep *l;
        struct bs_msg req, rep;
        bool known;
        int r;

        pthread_mutex_lock(&c->lock); /* another thread may be filling them in */
        known = c->version < 2 || c->limits.max_buffers_per_uid;
        pthread_mutex_unlock(&c->lock);
        if (known)
                return 0;
        bs_msg_request(&req, BS_OP_LIMITS, 0);
        r = client_call(c, &req, &rep);
        if (r < 0)
                return r;
        l = &rep.body.limits_rep;
        pthread_mutex_lock(&c->lock);
        c->limits.max_buffer_size = l->max_buffer_size;
        c->limits.max_bytes_per_uid = l->max_bytes_per_uid;
        c->limits.max_buffers_per_client = l->max_buffers_per_client;
        c->limits.max_clients = l->max_clients;
        c->limits.max_buffers_per_uid = l->max_buffers_per_uid;
        c->limits.max_connections_per_uid = l->max_connections_per_uid;
        c->limits.max_attachments_per_client = l->max_attachments_per_client;
        c->limits.max_fences_per_client = l->max_fences_per_client;
        c->limits.max_waiters_per_client = l->max_waiters_per_client;
        c->limits.max_waiters_per_fence = l->max_waiters_per_fence;
        pthread_mutex_unlock(&c->lock);
        return 0;
}

int client_get_limits(struct bs_client *c, struct bs_limits *ret_limits)
{
        int r;

        lib_return_if(!c || !ret_limits, -EINVAL);
        r = client_fetch_limits(c);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->lock);
        *ret_limits = c->limits;
        pthread_mutex_unlock(&c->lock);
        return 0;
}
