/* SPDX-License-Identifier: MIT */
#include "dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "util.h"

static int handle_hello(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_hello_req *h = &req->body.hello_req;
        struct bs_hello_rep *r = &rep->body.hello_rep;

        if (c->version != 0) {
                conn_log_bug(c, "second HELLO");
                bs_msg_reply_error(rep, &req->hdr, -EPROTO);
                return -EPROTO;
        }
        if (h->version_min > BS_PROTOCOL_VERSION) {
                conn_log_bug(c, "wants protocol %u..%u, this daemon speaks 1..%u", h->version_min,
                             h->version_max, BS_PROTOCOL_VERSION);
                bs_msg_reply_error(rep, &req->hdr, -EPROTONOSUPPORT);
                return -EPROTONOSUPPORT;
        }
        c->version = h->version_max < BS_PROTOCOL_VERSION ? h->version_max : BS_PROTOCOL_VERSION;
        memcpy(c->name, h->client_name, sizeof(c->name));

        r->version = c->version;
        r->features = 0;
        r->max_buffer_size = c->server->limits->max_buffer_size;
        r->max_bytes_per_uid = 0;      /* not limited */
        r->max_buffers_per_client = 0; /* not limited */
        r->max_clients = 0;            /* not limited */
        return 0;
}

static int handle_export(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_export_req *e = &req->body.export_req;
        struct buffer *b;
        int r, fd;

        r = registry_export(c->server->registry, &c->holder, e->size, e->heap, e->name, &b);
        if (r < 0) {
                if (r == -EMFILE || r == -ENFILE) {
                        if (!c->server->fd_exhaustion_logged)
                                log_warn("out of file descriptors exporting for client %llu (pid %d): "
                                         "answering -EMFILE until buffers are released",
                                         (unsigned long long)c->id, (int)c->holder.pid);
                        c->server->fd_exhaustion_logged = true;
                        r = -EMFILE;
                }
                bs_msg_reply_error(rep, &req->hdr, r);
                return 0;
        }
        c->server->fd_exhaustion_logged = false;

        fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
                r = -errno;
                registry_release(c->server->registry, &c->holder, b->ident.id);
                bs_msg_reply_error(rep, &req->hdr, r == -ENFILE ? -EMFILE : r);
                return 0;
        }
        rep->body.export_rep.id = b->ident.id;
        rep->body.export_rep.size = b->ident.size;
        bs_msg_add_fd(rep, fd);
        log_debug("client %llu exported buffer %llu, %llu bytes", (unsigned long long)c->id,
                  (unsigned long long)b->ident.id, (unsigned long long)b->ident.size);
        return 0;
}

static int handle_import(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        struct buffer *b;
        int r;

        r = registry_import(c->server->registry, &c->holder, TAKE_FD(req->fds[0]), &b);
        if (r < 0) {
                bs_msg_reply_error(rep, &req->hdr, r);
                return 0;
        }
        rep->body.import_rep.id = b->ident.id;
        rep->body.import_rep.size = b->ident.size;
        memcpy(rep->body.import_rep.name, b->ident.name, sizeof(b->ident.name));
        return 0;
}

static int handle_release(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        int r = registry_release(c->server->registry, &c->holder, req->body.id_req.id);
        if (r < 0)
                bs_msg_reply_error(rep, &req->hdr, r);
        return 0;
}

static int handle_info(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        struct bs_info_rep *i = &rep->body.info_rep;
        struct buffer *b;
        int r;

        r = registry_find(c->server->registry, &c->holder, req->body.id_req.id, &b);
        if (r < 0) {
                bs_msg_reply_error(rep, &req->hdr, r);
                return 0;
        }
        i->id = b->ident.id;
        i->size = b->ident.size;
        i->created_ns = b->ident.created_ns;
        i->exporter_pid = b->ident.exporter_pid;
        i->exporter_uid = b->ident.exporter_uid;
        i->n_refs = b->n_refs;
        memcpy(i->heap, b->ident.heap, sizeof(i->heap));
        memcpy(i->name, b->ident.name, sizeof(i->name));
        memcpy(i->exporter_comm, b->ident.exporter_comm, sizeof(i->exporter_comm));
        return 0;
}

static int handle_set_name(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_set_name_req *s = &req->body.set_name_req;
        int r = registry_set_name(c->server->registry, &c->holder, s->id, s->name);
        if (r < 0)
                bs_msg_reply_error(rep, &req->hdr, r);
        return 0;
}

typedef int (*handler_fn)(struct conn *c, struct bs_msg *req, struct bs_msg *rep);

static const handler_fn handlers[BS_OP_COUNT] = {
        [BS_OP_HELLO] = handle_hello,
        [BS_OP_EXPORT] = handle_export,
        [BS_OP_IMPORT] = handle_import,
        [BS_OP_RELEASE] = handle_release,
        [BS_OP_INFO] = handle_info,
        [BS_OP_SET_NAME] = handle_set_name,
};

int dispatch_request(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_op_desc *d = bs_op_lookup(req->hdr.opcode);

        bs_msg_reply(rep, &req->hdr);
        if (req->hdr.flags & BS_MSG_REPLY) {
                conn_log_bug(c, "sent a reply (opcode %u, serial %u) to the daemon",
                             req->hdr.opcode, req->hdr.serial);
                bs_msg_reply_error(rep, &req->hdr, -EPROTO);
                return -EPROTO;
        }
        if (c->version == 0 && req->hdr.opcode != BS_OP_HELLO) {
                conn_log_bug(c, "sent %s before HELLO", d->name);
                bs_msg_reply_error(rep, &req->hdr, -EPROTO);
                return -EPROTO;
        }
        if (c->version != 0 && d->since > c->version) {
                bs_msg_reply_error(rep, &req->hdr, -EOPNOTSUPP);
                return 0;
        }
        return handlers[req->hdr.opcode](c, req, rep);
}
