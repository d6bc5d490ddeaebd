/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

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

static int wait_reply(struct bs_client *c, const struct bs_msg *req, struct bs_msg *rep)
{
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        int r;

        for (;;) {
                r = bs_msg_recv(c->fd, rep);
                if (r != -EAGAIN)
                        break;
                if (poll(&p, 1, -1) < 0 && errno != EINTR)
                        return client_fail(c, -errno);
        }
        if (r < 0)
                return client_fail(c, r == -ECONNRESET ? -ECONNRESET : r);
        if (!(rep->hdr.flags & BS_MSG_REPLY) || rep->hdr.serial != req->hdr.serial ||
            rep->hdr.opcode != req->hdr.opcode) {
                bs_msg_clear(rep);
                return client_fail(c, -EPROTO);
        }
        return rep->body.status.status;
}

int client_call(struct bs_client *c, struct bs_msg *req, struct bs_msg *rep)
{
        int r;

        bs_msg_init(rep);
        pthread_mutex_lock(&c->lock);
        if (c->error < 0) {
                r = c->error;
                goto out;
        }
        req->hdr.serial = c->next_serial++;
        r = bs_msg_send(c->fd, req);
        if (r < 0) {
                r = client_fail(c, r == -EAGAIN ? -EIO : r);
                goto out;
        }
        r = wait_reply(c, req, rep);
out:
        pthread_mutex_unlock(&c->lock);
        return r;
}

static void client_free(struct bs_client *c)
{
        safe_close(c->fd);
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
        c->max_buffer_size = rep.body.hello_rep.max_buffer_size;
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
        return (int64_t)c->max_buffer_size;
}
