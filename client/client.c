/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client-private.h"
#include "msgio.h"
#include "socket-path.h"
#include "util.h"

/* Remember the first fatal error; every later call reports it. */
static int client_fail(struct bs_client *c, int error)
{
        if (c->error == 0)
                c->error = error;
        return c->error;
}

uint64_t client_page_size(void)
{
        static uint64_t page;

        if (!page)
                page = (uint64_t)sysconf(_SC_PAGESIZE);
        return page;
}

/* Receive one message, blocking; called without the lock. */
static int read_one(struct bs_client *c, struct bs_msg *m)
{
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        int r;

        for (;;) {
                r = bs_msg_recv(c->fd, m);
                if (r != -EAGAIN)
                        return r;
                if (poll(&p, 1, -1) < 0 && errno != EINTR)
                        return -errno;
        }
}

/* With the lock held: hand @m to the request waiting for its serial.
 * A reply nobody waits for, or not a reply, breaks the connection. */
static void deliver(struct bs_client *c, struct bs_msg *m)
{
        /* the reply to a release nobody waits for */
        if ((m->hdr.flags & BS_MSG_REPLY) && m->hdr.opcode == BS_OP_RELEASE && c->n_async > 0) {
                c->n_async--;
                bs_msg_clear(m);
                return;
        }
        for (struct pending *p = c->pending; p; p = p->next) {
                if (p->done || p->serial != m->hdr.serial)
                        continue;
                if (!(m->hdr.flags & BS_MSG_REPLY) || m->hdr.opcode != p->opcode)
                        break;
                *p->rep = *m;
                p->done = true;
                return;
        }
        bs_msg_clear(m);
        client_fail(c, -EPROTO);
}

/* With the lock held: move the deferred releases onto @req. */
static void attach_deferred(struct bs_client *c, struct bs_msg *req)
{
        while (c->n_deferred > 0) {
                const struct bs_release_item *it = &c->deferred[c->n_deferred - 1];
                if (bs_msg_add_release(req, it->id, it->flags) < 0)
                        break;
                c->n_deferred--;
        }
}

/* With the lock held and nobody reading: read and deliver one message. */
static void read_and_deliver(struct bs_client *c)
{
        struct bs_msg m;
        int r;

        c->reading = true;
        pthread_mutex_unlock(&c->lock);
        r = read_one(c, &m);
        pthread_mutex_lock(&c->lock);
        c->reading = false;
        if (r < 0)
                client_fail(c, r);
        else
                deliver(c, &m);
        pthread_cond_broadcast(&c->cond);
}

int client_call(struct bs_client *c, struct bs_msg *req, struct bs_msg *rep)
{
        struct pending self = { .opcode = req->hdr.opcode, .rep = rep };
        int r;

        bs_msg_init(rep);
        pthread_mutex_lock(&c->lock);
        if (c->error < 0) {
                r = c->error;
                goto out;
        }
        if (c->next_serial == 0)
                c->next_serial = 1; /* 0 is never used: it is easy to forge */
        req->hdr.serial = self.serial = c->next_serial++;
        attach_deferred(c, req);
        r = bs_msg_send(c->fd, req);
        if (r < 0) {
                r = client_fail(c, r == -EAGAIN ? -EIO : r);
                goto out;
        }
        self.next = c->pending;
        c->pending = &self;

        while (!self.done && c->error == 0) {
                if (c->reading)
                        pthread_cond_wait(&c->cond, &c->lock);
                else
                        read_and_deliver(c);
        }

        for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next)
                if (*pp == &self) {
                        *pp = self.next;
                        break;
                }
        r = self.done ? rep->body.status.status : c->error;
out:
        pthread_mutex_unlock(&c->lock);
        return r;
}

void client_release(struct bs_client *c, uint64_t id, uint32_t flags)
{
        struct bs_msg req;

        pthread_mutex_lock(&c->lock);
        if (c->error < 0) /* a broken connection dropped every reference */
                goto out;
        c->deferred[c->n_deferred++] = (struct bs_release_item){ .id = id, .flags = flags };
        if (c->n_deferred < BS_MAX_RELEASES)
                goto out;

        /* full: one RELEASE for the last, the others riding on it */
        c->n_deferred--;
        bs_msg_request(&req, BS_OP_RELEASE, 0);
        req.body.release_req.id = c->deferred[c->n_deferred].id;
        req.body.release_req.flags = c->deferred[c->n_deferred].flags;
        attach_deferred(c, &req);
        if (c->next_serial == 0)
                c->next_serial = 1;
        req.hdr.serial = c->next_serial++;
        if (bs_msg_send(c->fd, &req) < 0) {
                client_fail(c, -EPIPE);
                goto out;
        }
        c->n_async++;
        while (c->n_async > CLIENT_ASYNC_MAX && !c->reading && c->error == 0)
                read_and_deliver(c);
out:
        pthread_mutex_unlock(&c->lock);
}

int client_call_status(struct bs_client *c, struct bs_msg *req)
{
        struct bs_msg rep;
        int r = client_call(c, req, &rep);

        bs_msg_clear(&rep);
        return r;
}

static void client_free(struct bs_client *c)
{
        safe_close(c->fd);
        pthread_cond_destroy(&c->cond);
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

_public_ int bs_client_connect(const char *socket_path, struct bs_client **ret_client)
{
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        struct sockaddr_un sa;
        struct bs_client *c;
        int len, r;

        bs_return_if(!ret_client, -EINVAL);
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
        pthread_cond_init(&c->cond, NULL);
        c->next_serial = 1;
        c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
                r = -errno;
                goto err_free;
        }
        if (connect(c->fd, (struct sockaddr *)&sa, (socklen_t)len) < 0) {
                r = -errno;
                goto err_free;
        }
        r = client_hello(c);
        if (r < 0)
                goto err_free;
        *ret_client = c;
        return 0;

err_free:
        client_free(c);
        return r;
}

_public_ int bs_client_sync(struct bs_client *c)
{
        struct bs_msg req, rep;
        int r;

        bs_return_if(!c, -EINVAL);
        /* any reply means the daemon processed everything sent before */
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

_public_ int64_t bs_client_max_buffer_size(struct bs_client *c)
{
        bs_return_if(!c, -EINVAL);
        return (int64_t)c->limits.max_buffer_size;
}

_public_ int bs_client_get_limits(struct bs_client *c, struct bs_limits *ret_limits)
{
        bs_return_if(!c || !ret_limits, -EINVAL);
        *ret_limits = c->limits;
        return 0;
}
