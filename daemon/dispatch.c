/* SPDX-License-Identifier: MIT */
#include "dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "heap.h"
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
        if (limits_check_clients(c->server->limits, c->server->n_clients) < 0) {
                conn_log_bug(c, "refused: %u clients already served (--max-clients)",
                             c->server->n_clients);
                bs_msg_reply_error(rep, &req->hdr, -EUSERS);
                return -EUSERS;
        }
        c->version = h->version_max < BS_PROTOCOL_VERSION ? h->version_max : BS_PROTOCOL_VERSION;
        c->server->n_clients++;
        memcpy(c->name, h->client_name, sizeof(c->name));

        r->version = c->version;
        r->features = 0;
        r->max_buffer_size = c->server->limits->max_buffer_size;
        r->max_bytes_per_uid = c->server->limits->max_bytes_per_uid;
        r->max_buffers_per_client = c->server->limits->max_buffers_per_client;
        r->max_clients = c->server->limits->max_clients;
        return 0;
}

/* The daemon ran out of fds (-ENFILE from the heap): log it once until
 * an export succeeds again, and tell the client -EMFILE. */
static int fd_exhaustion(struct conn *c, int r)
{
        if (r != -ENFILE)
                return r;
        if (!c->server->fd_exhaustion_logged)
                log_warn("out of file descriptors exporting for client %llu (pid %d): "
                         "answering -EMFILE until buffers are released",
                         (unsigned long long)c->id, (int)c->holder.pid);
        c->server->fd_exhaustion_logged = true;
        return -EMFILE;
}

static int handle_export(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_export_req *e = &req->body.export_req;
        struct buffer *b;
        int r;

        r = registry_export(c->server->registry, &c->holder, e->size, e->heap, e->name, &b);
        if (r < 0) {
                bs_msg_reply_error(rep, &req->hdr, fd_exhaustion(c, r));
                return 0;
        }
        c->server->fd_exhaustion_logged = false; /* fds again: log the next shortage */
        rep->body.export_rep.id = b->ident.id;
        rep->body.export_rep.size = b->ident.size;
        /* lent, not dup'ed: SCM_RIGHTS copies it, and the buffer outlives
         * the reply (only this connection holds it, and a connection's
         * queued replies go before its references) */
        bs_msg_lend_fd(rep, b->fd);
        log_debug("client %llu exported buffer %llu, %llu bytes", (unsigned long long)c->id,
                  (unsigned long long)b->ident.id, (unsigned long long)b->ident.size);
        return 0;
}

static int handle_import(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        struct buffer *b;
        bool readonly;
        int r;

        r = registry_import(c->server->registry, &c->holder, TAKE_FD(req->fds[0]), &b, &readonly);
        if (r < 0) {
                bs_msg_reply_error(rep, &req->hdr, r);
                return 0;
        }
        rep->body.import_rep.flags = readonly ? BS_WIRE_REF_READONLY : 0;
        rep->body.import_rep.id = b->ident.id;
        rep->body.import_rep.size = b->ident.size;
        memcpy(rep->body.import_rep.name, b->ident.name, sizeof(b->ident.name));
        return 0;
}

static int handle_export_memfd(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        struct buffer *b;
        int r;

        r = registry_export_memfd(c->server->registry, &c->holder, TAKE_FD(req->fds[0]),
                                  req->body.export_memfd_req.name, &b);
        if (r < 0) {
                bs_msg_reply_error(rep, &req->hdr, r);
                return 0;
        }
        rep->body.export_rep.id = b->ident.id;
        rep->body.export_rep.size = b->ident.size;
        return 0;
}

static int handle_release(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_release_req *rr = &req->body.release_req;
        int r = registry_release(c->server->registry, &c->holder, rr->id,
                                 rr->flags & BS_WIRE_REF_READONLY);
        if (r < 0)
                bs_msg_reply_error(rep, &req->hdr, r);
        return 0;
}

/* Read-only importers, attachments and CPU access: totals, and the first
 * BS_WIRE_INFO_MAX of each. */
static void info_lists(const struct buffer *b, struct bs_info_rep *i)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, (struct list *)&b->refs) {
                const struct ref *ref = container_of(pos, struct ref, buffer_link);
                uint32_t cpu = (ref->cpu_read ? BS_WIRE_SYNC_READ : 0) |
                               (ref->cpu_write ? BS_WIRE_SYNC_WRITE : 0);

                if (ref->ro_count) {
                        if (i->n_readonly < BS_WIRE_INFO_MAX)
                                i->readonly[i->n_readonly] = (struct bs_wire_info_holder){ ref->holder->pid, 0 };
                        i->n_readonly++;
                }
                if (cpu) {
                        if (i->n_cpu_access < BS_WIRE_INFO_MAX)
                                i->cpu_access[i->n_cpu_access] = (struct bs_wire_info_holder){ ref->holder->pid, cpu };
                        i->n_cpu_access++;
                }
        }
        list_for_each_safe(pos, tmp, (struct list *)&b->attachments) {
                const struct attachment *a = container_of(pos, struct attachment, buffer_link);

                if (i->n_attachments < BS_WIRE_INFO_MAX) {
                        struct bs_wire_info_attachment *w = &i->attachments[i->n_attachments];
                        memcpy(w->device, a->device, sizeof(w->device));
                        w->pid = a->holder->pid;
                        w->mapped = a->mapped;
                        w->direction = a->mapped ? a->direction : 0;
                }
                i->n_attachments++;
        }
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
        info_lists(b, i);
        return 0;
}

static int status_only(struct bs_msg *req, struct bs_msg *rep, int r)
{
        if (r < 0)
                bs_msg_reply_error(rep, &req->hdr, r);
        return 0;
}

static int handle_begin_cpu_access(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_cpu_access_req *a = &req->body.cpu_access_req;
        return status_only(req, rep, registry_cpu_access(c->server->registry, &c->holder, a->id, a->flags, true));
}

static int handle_end_cpu_access(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_cpu_access_req *a = &req->body.cpu_access_req;
        return status_only(req, rep, registry_cpu_access(c->server->registry, &c->holder, a->id, a->flags, false));
}

static int handle_attach(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_attach_req *a = &req->body.attach_req;
        struct attachment *att;
        int r;

        r = registry_attach(c->server->registry, &c->holder, a->id, a->device, a->max_segment, &att);
        if (r < 0)
                return status_only(req, rep, r);
        rep->body.attach_rep.attachment_id = att->id;
        return 0;
}

static int handle_detach(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        return status_only(req, rep, registry_detach(c->server->registry, &c->holder, req->body.id_req.id));
}

static int handle_map_attachment(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_map_attachment_req *m = &req->body.map_attachment_req;
        return status_only(req, rep,
                           registry_map_attachment(c->server->registry, &c->holder, m->attachment_id, m->direction));
}

static int handle_unmap_attachment(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        return status_only(req, rep,
                           registry_unmap_attachment(c->server->registry, &c->holder, req->body.id_req.id));
}

static int handle_list_heaps(struct conn *c, struct bs_msg *req, struct bs_msg *rep)
{
        struct bs_list_heaps_rep *l = &rep->body.list_heaps_rep;

        (void)c;
        (void)req;
        l->n_heaps = heap_count;
        for (unsigned i = 0; i < heap_count && i < BS_WIRE_MAX_HEAPS; i++)
                bs_string_set(l->names[i], sizeof(l->names[i]), heap_names[i]);
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
        [BS_OP_EXPORT_MEMFD] = handle_export_memfd,
        [BS_OP_BEGIN_CPU_ACCESS] = handle_begin_cpu_access,
        [BS_OP_END_CPU_ACCESS] = handle_end_cpu_access,
        [BS_OP_ATTACH] = handle_attach,
        [BS_OP_DETACH] = handle_detach,
        [BS_OP_MAP_ATTACHMENT] = handle_map_attachment,
        [BS_OP_UNMAP_ATTACHMENT] = handle_unmap_attachment,
        [BS_OP_LIST_HEAPS] = handle_list_heaps,
};

/* The puts a request carries happened before it: apply them first. They
 * have no reply; one that names no reference of the client is its bug. */
static void apply_releases(struct conn *c, const struct bs_release_trailer *t)
{
        for (unsigned i = 0; i < t->count; i++) {
                const struct bs_release_item *it = &t->items[i];
                int r = registry_release(c->server->registry, &c->holder, it->id,
                                         it->flags & BS_WIRE_REF_READONLY);
                if (r < 0)
                        conn_log_bug(c, "carried a release of buffer %llu it holds no reference on",
                                     (unsigned long long)it->id);
        }
}

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
        apply_releases(c, &req->releases);
        return handlers[req->hdr.opcode](c, req, rep);
}
