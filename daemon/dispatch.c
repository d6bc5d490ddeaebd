/* SPDX-License-Identifier: MIT */
#include "dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "fence.h"
#include "heap.h"
#include "log.h"
#include "util.h"

static int handle_hello(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_hello_req *h = &req->body.hello_req;
        struct bs_hello_rep *r = &rep->body.hello_rep;

        if (s->version != 0) {
                session_log_bug(s, "second HELLO");
                bs_msg_reply_error(rep, &req->hdr, -EPROTO);
                return -EPROTO;
        }
        if (h->version_min > BS_PROTOCOL_VERSION) {
                session_log_bug(s, "wants protocol %u..%u, this daemon speaks 1..%u", h->version_min,
                             h->version_max, BS_PROTOCOL_VERSION);
                bs_msg_reply_error(rep, &req->hdr, -EPROTONOSUPPORT);
                return -EPROTONOSUPPORT;
        }
        s->version = h->version_max < BS_PROTOCOL_VERSION ? h->version_max : BS_PROTOCOL_VERSION;
        memcpy(s->name, h->client_name, sizeof(s->name));

        r->version = s->version;
        r->features = 0;
        r->max_buffer_size = d->limits->max_buffer_size;
        r->max_bytes_per_uid = d->limits->max_bytes_per_uid;
        r->max_buffers_per_client = d->limits->max_buffers_per_client;
        r->max_clients = d->limits->max_clients;
        return 0;
}

static int status_only(struct bs_msg *req, struct bs_msg *rep, int r)
{
        if (r < 0)
                bs_msg_reply_error(rep, &req->hdr, r);
        return 0;
}

/* The daemon ran out of fds (-ENFILE from the heap): log it once until
 * an export succeeds again, and tell the client -EMFILE. */
static int fd_exhaustion(struct dispatch *d, struct session *s, int r)
{
        if (r != -ENFILE)
                return r;
        if (!d->fd_exhaustion_logged)
                log_warn("out of file descriptors serving client %llu (pid %d): "
                         "answering -EMFILE until fds are free again",
                         (unsigned long long)s->holder.id, (int)s->holder.pid);
        d->fd_exhaustion_logged = true;
        return -EMFILE;
}

void dispatch_out_of_fds(struct dispatch *d, struct session *s, const struct bs_msg *req,
                         struct bs_msg *rep)
{
        bs_msg_reply_error(rep, &req->hdr, fd_exhaustion(d, s, -ENFILE));
}

/* EXPORT and EXPORT_DESCRIBED: @desc may be NULL. */
static int export_buffer(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep,
                         const struct bs_export_req *e, const struct bs_wire_description *desc)
{
        struct buffer *b;
        int r;

        r = registry_export_described(d->registry, &s->holder, e->size, e->heap, e->name, desc, &b);
        if (r < 0) {
                bs_msg_reply_error(rep, &req->hdr, fd_exhaustion(d, s, r));
                return 0;
        }
        d->fd_exhaustion_logged = false; /* fds again: log the next shortage */
        rep->body.export_rep.id = b->ident.id;
        rep->body.export_rep.size = b->ident.size;
        /* lent, not dup'ed: SCM_RIGHTS copies it at once; a reply that has
         * to wait in a queue still borrows it, the connection's reference
         * keeping it open (connection.c) */
        bs_msg_lend_fd(rep, b->fd);
        log_debug("client %llu exported buffer %llu, %llu bytes", (unsigned long long)s->holder.id,
                  (unsigned long long)b->ident.id, (unsigned long long)b->ident.size);
        return 0;
}

static int handle_export_batch(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_export_batch_req *e = &req->body.export_batch_req;
        struct bs_export_batch_rep *w = &rep->body.export_batch_rep;
        struct buffer *b[BS_WIRE_BATCH_MAX];
        int r;

        r = registry_export_batch(d->registry, &s->holder, e->size, e->heap, e->name, e->count, b);
        if (r < 0) {
                bs_msg_reply_error(rep, &req->hdr, fd_exhaustion(d, s, r));
                return 0;
        }
        d->fd_exhaustion_logged = false;
        w->count = e->count;
        w->size = b[0]->ident.size;
        for (unsigned i = 0; i < e->count; i++) {
                w->ids[i] = b[i]->ident.id;
                bs_msg_lend_fd(rep, b[i]->fd); /* as EXPORT's: lent, even if queued */
        }
        log_debug("client %llu exported %u buffers of %llu bytes, %llu to %llu", (unsigned long long)s->holder.id,
                  e->count, (unsigned long long)w->size, (unsigned long long)w->ids[0],
                  (unsigned long long)w->ids[e->count - 1]);
        return 0;
}

static int handle_export(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        return export_buffer(d, s, req, rep, &req->body.export_req, NULL);
}

static int handle_export_described(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_export_described_req *e = &req->body.export_described_req;
        return export_buffer(d, s, req, rep, &e->export_req, &e->desc);
}

/* IMPORT and IMPORT_DESCRIBED, whose reply starts with IMPORT's: the
 * buffer, and its description in @ret_desc when not NULL. */
static int import_buffer(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep,
                         struct bs_wire_description *ret_desc)
{
        struct bs_import_rep *i = &rep->body.import_rep;
        struct buffer *b;
        bool readonly;
        int r;

        r = registry_import(d->registry, &s->holder, TAKE_FD(req->fds[0]), &b, &readonly);
        if (r < 0) {
                bs_msg_reply_error(rep, &req->hdr, r);
                return 0;
        }
        i->flags = readonly ? BS_WIRE_REF_READONLY : 0;
        i->id = b->ident.id;
        i->size = b->ident.size;
        memcpy(i->name, b->ident.name, sizeof(b->ident.name));
        if (ret_desc)
                *ret_desc = b->ident.desc;
        return 0;
}

static int handle_import(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        return import_buffer(d, s, req, rep, NULL);
}

static int handle_import_described(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        return import_buffer(d, s, req, rep, &rep->body.import_described_rep.desc);
}

static int handle_export_memfd(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        struct buffer *b;
        int r;

        r = registry_export_memfd(d->registry, &s->holder, TAKE_FD(req->fds[0]),
                                  req->body.export_memfd_req.name, &b);
        if (r < 0) {
                bs_msg_reply_error(rep, &req->hdr, r);
                return 0;
        }
        rep->body.export_rep.id = b->ident.id;
        rep->body.export_rep.size = b->ident.size;
        return 0;
}

static int handle_release(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_release_req *rr = &req->body.release_req;
        int r = registry_release(d->registry, &s->holder, rr->id,
                                 rr->flags & BS_WIRE_REF_READONLY);
        if (r < 0)
                bs_msg_reply_error(rep, &req->hdr, r);
        return 0;
}

/* INFO and INFO_DESCRIBED, whose reply starts with INFO's. */
static int info_buffer(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep,
                       struct bs_wire_description *ret_desc)
{
        struct bs_info_rep *i = &rep->body.info_rep;
        struct registry_info info;
        int r;

        r = registry_get_info(d->registry, &s->holder, req->body.id_req.id, &info);
        if (r < 0) {
                bs_msg_reply_error(rep, &req->hdr, r);
                return 0;
        }
        if (ret_desc)
                *ret_desc = info.ident.desc;
        i->id = info.ident.id;
        i->size = info.ident.size;
        i->created_ns = info.ident.created_ns;
        i->exporter_pid = info.ident.exporter_pid;
        i->exporter_uid = info.ident.exporter_uid;
        i->n_refs = info.n_refs;
        memcpy(i->heap, info.ident.heap, sizeof(i->heap));
        memcpy(i->name, info.ident.name, sizeof(i->name));
        memcpy(i->exporter_comm, info.ident.exporter_comm, sizeof(i->exporter_comm));
        i->n_readonly = info.n_readonly;
        i->n_attachments = info.n_attachments;
        i->n_cpu_access = info.n_cpu_access;
        for (unsigned k = 0; k < BS_WIRE_INFO_MAX; k++) {
                struct bs_wire_info_attachment *w = &i->attachments[k];

                i->readonly[k].pid = info.readonly[k];
                i->cpu_access[k].pid = info.cpu_access[k].pid;
                i->cpu_access[k].flags = info.cpu_access[k].flags;
                memcpy(w->device, info.attachments[k].device, sizeof(w->device));
                w->pid = info.attachments[k].pid;
                w->mapped = info.attachments[k].mapped;
                w->direction = info.attachments[k].direction;
        }
        return 0;
}

static int handle_info(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        return info_buffer(d, s, req, rep, NULL);
}

static int handle_info_described(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        return info_buffer(d, s, req, rep, &rep->body.info_described_rep.desc);
}

static int handle_get_description(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        struct buffer *b;
        int r = registry_find(d->registry, &s->holder, req->body.id_req.id, &b);

        if (r < 0)
                return status_only(req, rep, r);
        rep->body.get_description_rep.desc = b->ident.desc;
        return 0;
}

static int handle_set_description(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_set_description_req *sd = &req->body.set_description_req;
        return status_only(req, rep, registry_set_description(d->registry, &s->holder, sd->id, &sd->desc));
}

static int handle_begin_cpu_access(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_cpu_access_req *a = &req->body.cpu_access_req;
        /* version 2: -EBUSY while a conflicting fence is pending; the
         * library waits on a sync file and asks again */
        enum cpu_access_op op = s->version >= 2 ? CPU_ACCESS_BEGIN_IDLE : CPU_ACCESS_BEGIN;
        return status_only(req, rep, registry_cpu_access(d->registry, &s->holder, a->id, a->flags, op));
}

static int handle_end_cpu_access(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_cpu_access_req *a = &req->body.cpu_access_req;
        return status_only(req, rep, registry_cpu_access(d->registry, &s->holder, a->id, a->flags, CPU_ACCESS_END));
}

static int handle_attach(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_attach_req *a = &req->body.attach_req;
        struct attachment *att;
        int r;

        r = registry_attach(d->registry, &s->holder, a->id, a->device, a->max_segment, &att);
        if (r < 0)
                return status_only(req, rep, r);
        rep->body.attach_rep.attachment_id = att->id;
        return 0;
}

static int handle_detach(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        return status_only(req, rep, registry_detach(d->registry, &s->holder, req->body.id_req.id));
}

static int handle_map_attachment(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_map_attachment_req *m = &req->body.map_attachment_req;
        return status_only(req, rep,
                           registry_map_attachment(d->registry, &s->holder, m->attachment_id, m->direction));
}

static int handle_unmap_attachment(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        return status_only(req, rep,
                           registry_unmap_attachment(d->registry, &s->holder, req->body.id_req.id));
}

static int handle_list_heaps(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        struct bs_list_heaps_rep *l = &rep->body.list_heaps_rep;

        (void)d;
        (void)s;
        (void)req;
        l->n_heaps = heap_count;
        for (unsigned i = 0; i < heap_count && i < BS_WIRE_MAX_HEAPS; i++)
                bs_string_set(l->names[i], sizeof(l->names[i]), heap_names[i]);
        return 0;
}

static int handle_set_name(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_set_name_req *n = &req->body.set_name_req;
        int r = registry_set_name(d->registry, &s->holder, n->id, n->name);
        if (r < 0)
                bs_msg_reply_error(rep, &req->hdr, r);
        return 0;
}

static int handle_sync(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        (void)s;
        (void)req;
        (void)rep;
        /* everything this client released before is freed, not only
         * counted, when the reply arrives (bs_client_sync()'s promise),
         * and the reserve is full: the daemon's fds are settled */
        registry_flush(d->registry);
        registry_refill(d->registry, RESERVE_MAX);
        return 0;
}

static int handle_limits(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct limits *l = d->limits;
        struct bs_limits_rep *w = &rep->body.limits_rep;

        (void)s;
        (void)req;
        w->max_buffer_size = l->max_buffer_size;
        w->max_bytes_per_uid = l->max_bytes_per_uid;
        w->max_buffers_per_client = l->max_buffers_per_client;
        w->max_buffers_per_uid = l->max_buffers_per_uid;
        w->max_clients = l->max_clients;
        w->max_connections_per_uid = l->max_connections_per_uid;
        w->max_attachments_per_client = l->max_attachments_per_client;
        w->max_fences_per_client = l->max_fences_per_client;
        w->max_waiters_per_client = l->max_waiters_per_client;
        w->max_waiters_per_fence = l->max_waiters_per_fence;
        w->hello_timeout_ms = l->hello_timeout_ms;
        return 0;
}

/* ---- fences, sync files and pools (fence.h) ---- */

static int handle_fence_create(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        bool pair = req->body.fence_create_req.flags & BS_WIRE_FENCE_PAIR;
        uint64_t id;
        int fd, r = registry_fence_create(d->registry, &s->holder, pair, &id, &fd);

        if (r < 0)
                return status_only(req, rep, r);
        rep->body.fence_create_rep.fence_id = id;
        if (fd >= 0) {
                rep->body.fence_create_rep.flags = BS_WIRE_FENCE_PAIR;
                bs_msg_add_fd(rep, fd);
        }
        return 0;
}

static int handle_fence_attach(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_fence_attach_req *a = &req->body.fence_attach_req;
        return status_only(req, rep,
                           registry_fence_attach(d->registry, &s->holder, a->buffer_id, a->fence_id, a->usage));
}

static int handle_fence_signal(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_fence_signal_req *f = &req->body.fence_signal_req;
        return status_only(req, rep, registry_fence_signal(d->registry, &s->holder, f->fence_id, f->status));
}

static int handle_fence_destroy(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        return status_only(req, rep, registry_fence_destroy(d->registry, &s->holder, req->body.id_req.id));
}

/* A sync file in the reply; the daemon's lack of fds is -EMFILE. */
static int reply_sync_file(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep,
                           int r, int fd)
{
        if (r < 0)
                return status_only(req, rep, fd_exhaustion(d, s, r));
        d->fd_exhaustion_logged = false;
        bs_msg_add_fd(rep, fd);
        return 0;
}

static int handle_export_sync_file(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_sync_file_req *e = &req->body.sync_file_req;
        int fd = -EBADF;
        int r = registry_export_sync_file(d->registry, &s->holder, e->buffer_id, e->flags, &fd);

        return reply_sync_file(d, s, req, rep, r, fd);
}

static int handle_import_sync_file(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_sync_file_req *i = &req->body.sync_file_req;
        return status_only(req, rep,
                           registry_import_sync_file(d->registry, &s->holder, i->buffer_id, i->flags, req->fds[0]));
}

static int handle_sync_file_merge(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        int fd = -EBADF;
        int r = registry_sync_file_merge(d->registry, &s->holder, req->fds[0], req->fds[1], &fd);

        return reply_sync_file(d, s, req, rep, r, fd);
}

static int handle_submit(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        uint32_t n;
        int r = registry_submit(d->registry, &s->holder, req->body.submit_req.buffer_id, &n);

        if (r < 0)
                return status_only(req, rep, r);
        rep->body.submit_rep.n_readers = n;
        return 0;
}

/* SUBMIT, then EXPORT_SYNC_FILE(WRITE) on the same buffer: what a pool's
 * producer polls before it writes the buffer again. The submit stands
 * whether or not the sync file could be made (over a limit, out of fds):
 * the reply then carries none and the producer asks again later. */
static int handle_submit_sync_file(struct dispatch *d, struct session *s, struct bs_msg *req,
                                   struct bs_msg *rep)
{
        struct bs_submit_sync_file_rep *w = &rep->body.submit_sync_file_rep;
        uint64_t id = req->body.submit_req.buffer_id;
        int fd = -EBADF, r;
        uint32_t n;

        r = registry_submit(d->registry, &s->holder, id, &n);
        if (r < 0)
                return status_only(req, rep, r);
        w->n_readers = n;
        r = registry_export_sync_file(d->registry, &s->holder, id, BS_WIRE_SYNC_WRITE, &fd);
        if (r < 0) {
                log_debug("client %llu: no sync file after submitting buffer %llu: %s",
                          (unsigned long long)s->holder.id, (unsigned long long)id,
                          strerror(-fd_exhaustion(d, s, r)));
                return 0;
        }
        d->fd_exhaustion_logged = false;
        w->flags = BS_WIRE_SUBMIT_SYNC_FILE;
        bs_msg_add_fd(rep, fd);
        return 0;
}

static int handle_release_read(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_release_read_req *rr = &req->body.release_read_req;
        return status_only(req, rep, registry_release_read(d->registry, &s->holder, rr->buffer_id, rr->status));
}

/* A token from /dev/bufshare's ALLOC for a reference and the buffer's fd
 * (token.h has the rules). The token is spent only once the reference is
 * made: a client over a limit may free something and try again. */
static int handle_redeem(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        struct token *tok;
        struct buffer *b;
        int r;

        if (!d->tokens)
                r = -ENOENT; /* no device: no token was ever issued */
        else
                r = token_find(d->tokens, req->body.redeem_req.token, s->holder.uid, token_now_ns(), &tok);
        if (r == -EPERM)
                session_log_bug(s, "tried to redeem a token of another uid");
        if (r == 0)
                r = registry_grant(d->registry, tok->origin, tok->buffer_id, &s->holder, &b);
        if (r < 0) {
                bs_msg_reply_error(rep, &req->hdr, r);
                return 0;
        }
        token_consume(d->tokens, tok);
        rep->body.export_rep.id = b->ident.id;
        rep->body.export_rep.size = b->ident.size;
        bs_msg_lend_fd(rep, b->fd); /* as EXPORT's reply: see handle_export() */
        log_debug("client %llu redeemed a token for buffer %llu", (unsigned long long)s->holder.id,
                  (unsigned long long)b->ident.id);
        return 0;
}

unsigned dispatch_request_cost(const struct bs_msg *req)
{
        uint32_t n;

        if (req->hdr.opcode != BS_OP_EXPORT_BATCH)
                return 1;
        n = req->body.export_batch_req.count;
        return n < 1 ? 1 : n > BS_WIRE_BATCH_MAX ? BS_WIRE_BATCH_MAX : n;
}

enum closer_want dispatch_fd_want(uint16_t opcode)
{
        switch (opcode) {
        case BS_OP_IMPORT_SYNC_FILE:
        case BS_OP_SYNC_FILE_MERGE:
                return CLOSER_WANT_SOCKET;
        default:
                return CLOSER_WANT_MEMFD;
        }
}

typedef int (*handler_fn)(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep);

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
        [BS_OP_SYNC] = handle_sync,
        [BS_OP_LIMITS] = handle_limits,
        [BS_OP_EXPORT_BATCH] = handle_export_batch,
        [BS_OP_FENCE_CREATE] = handle_fence_create,
        [BS_OP_FENCE_ATTACH] = handle_fence_attach,
        [BS_OP_FENCE_SIGNAL] = handle_fence_signal,
        [BS_OP_FENCE_DESTROY] = handle_fence_destroy,
        [BS_OP_EXPORT_SYNC_FILE] = handle_export_sync_file,
        [BS_OP_IMPORT_SYNC_FILE] = handle_import_sync_file,
        [BS_OP_SYNC_FILE_MERGE] = handle_sync_file_merge,
        [BS_OP_SUBMIT] = handle_submit,
        [BS_OP_SUBMIT_SYNC_FILE] = handle_submit_sync_file,
        [BS_OP_RELEASE_READ] = handle_release_read,
        [BS_OP_REDEEM] = handle_redeem,
        [BS_OP_EXPORT_DESCRIBED] = handle_export_described,
        [BS_OP_IMPORT_DESCRIBED] = handle_import_described,
        [BS_OP_SET_DESCRIPTION] = handle_set_description,
        [BS_OP_INFO_DESCRIBED] = handle_info_described,
        [BS_OP_GET_DESCRIPTION] = handle_get_description,
};

int dispatch_request(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep)
{
        const struct bs_op_desc *desc = bs_op_lookup(req->hdr.opcode);
        bool silent = req->hdr.flags & BS_MSG_NO_REPLY;
        int r;

        bs_msg_reply(rep, &req->hdr);
        if (req->hdr.flags & BS_MSG_REPLY) {
                session_log_bug(s, "sent a reply (opcode %u, serial %u) to the daemon",
                                req->hdr.opcode, req->hdr.serial);
                bs_msg_reply_error(rep, &req->hdr, -EPROTO);
                return -EPROTO;
        }
        if (s->version == 0 && req->hdr.opcode != BS_OP_HELLO) {
                session_log_bug(s, "sent %s before HELLO", desc->name);
                bs_msg_reply_error(rep, &req->hdr, -EPROTO);
                return -EPROTO;
        }
        if (s->version != 0 && desc->since > s->version) {
                bs_msg_reply_error(rep, &req->hdr, -EOPNOTSUPP);
                return silent ? DISPATCH_SILENT : DISPATCH_REPLY;
        }
        if (silent && s->version < 2) {
                session_log_bug(s, "asked for no reply in protocol version %u", s->version);
                bs_msg_reply_error(rep, &req->hdr, -EPROTO);
                return -EPROTO;
        }
        r = handlers[req->hdr.opcode](d, s, req, rep);
        if (r < 0)
                return r;
        if (rep->body.status.status < 0)
                d->registry->stats.refused++;
        if (silent) {
                if (rep->body.status.status < 0)
                        /* every one-way request names its object first */
                        session_log_bug(s, "%s of %llu without a reply failed: %s", desc->name,
                                        (unsigned long long)req->body.id_req.id,
                                        strerror(-rep->body.status.status));
                bs_msg_clear(rep);
                return DISPATCH_SILENT;
        }
        return DISPATCH_REPLY;
}
