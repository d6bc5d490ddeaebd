/* SPDX-License-Identifier: MIT */
#include "message.h"

#include <errno.h>
#include <string.h>

#include "util.h"

#define STR_OK(field) bs_string_valid((field), sizeof(field))

static bool hello_req_valid(const union bs_msg_body *b)
{
        const struct bs_hello_req *r = &b->hello_req;
        return r->version_min >= 1 && r->version_min <= r->version_max &&
               STR_OK(r->client_name);
}

static bool hello_rep_valid(const union bs_msg_body *b)
{
        const struct bs_hello_rep *r = &b->hello_rep;
        return r->version >= 1 && !(r->features & ~BS_FEATURES_VALID);
}

static bool export_req_valid(const union bs_msg_body *b)
{
        const struct bs_export_req *r = &b->export_req;
        return r->flags == 0 && STR_OK(r->heap) && STR_OK(r->name);
}

static bool export_rep_valid(const union bs_msg_body *b)
{
        const struct bs_export_rep *r = &b->export_rep;
        return r->reserved == 0 && r->id != 0 && r->size != 0;
}

static bool import_req_valid(const union bs_msg_body *b)
{
        return b->import_req.flags == 0;
}

static bool import_rep_valid(const union bs_msg_body *b)
{
        const struct bs_import_rep *r = &b->import_rep;
        return !(r->flags & ~BS_WIRE_REF_READONLY) && r->id != 0 && r->size != 0 && STR_OK(r->name);
}

static bool release_req_valid(const union bs_msg_body *b)
{
        const struct bs_release_req *r = &b->release_req;
        return !(r->flags & ~BS_WIRE_REF_READONLY) && r->reserved == 0;
}

static bool export_memfd_req_valid(const union bs_msg_body *b)
{
        return b->export_memfd_req.flags == 0 && STR_OK(b->export_memfd_req.name);
}

static bool cpu_access_req_valid(const union bs_msg_body *b)
{
        return b->cpu_access_req.reserved == 0;
}

static bool attach_req_valid(const union bs_msg_body *b)
{
        return STR_OK(b->attach_req.device);
}

static bool attach_rep_valid(const union bs_msg_body *b)
{
        return b->attach_rep.reserved == 0 && b->attach_rep.attachment_id != 0;
}

static bool map_attachment_req_valid(const union bs_msg_body *b)
{
        return b->map_attachment_req.reserved == 0;
}

static bool list_heaps_req_valid(const union bs_msg_body *b)
{
        return b->list_heaps_req.flags == 0;
}

static bool list_heaps_rep_valid(const union bs_msg_body *b)
{
        const struct bs_list_heaps_rep *r = &b->list_heaps_rep;

        for (unsigned i = 0; i < BS_WIRE_MAX_HEAPS; i++)
                if (!STR_OK(r->names[i]))
                        return false;
        return true;
}

static bool any_valid(const union bs_msg_body *b)
{
        (void)b;
        return true;
}

static bool status_rep_valid(const union bs_msg_body *b)
{
        return b->status.reserved == 0;
}

static bool info_rep_valid(const union bs_msg_body *b)
{
        const struct bs_info_rep *r = &b->info_rep;

        if (r->reserved || r->reserved2 || r->reserved3 || r->id == 0 || !STR_OK(r->heap) ||
            !STR_OK(r->name) || !STR_OK(r->exporter_comm))
                return false;
        for (unsigned i = 0; i < BS_WIRE_INFO_MAX; i++) {
                const struct bs_wire_info_attachment *a = &r->attachments[i];
                if (!STR_OK(a->device) || a->reserved[0] || a->reserved[1] || a->mapped > 1)
                        return false;
        }
        return true;
}

static bool set_name_req_valid(const union bs_msg_body *b)
{
        return STR_OK(b->set_name_req.name);
}

static bool sync_req_valid(const union bs_msg_body *b)
{
        return b->sync_req.flags == 0;
}

static bool limits_req_valid(const union bs_msg_body *b)
{
        return b->limits_req.flags == 0;
}

static bool limits_rep_valid(const union bs_msg_body *b)
{
        return b->limits_rep.reserved == 0 && b->limits_rep.reserved2 == 0;
}

static bool fence_create_req_valid(const union bs_msg_body *b)
{
        return (b->fence_create_req.flags & ~(uint64_t)BS_WIRE_FENCE_PAIR) == 0;
}

static bool fence_create_rep_valid(const union bs_msg_body *b)
{
        return (b->fence_create_rep.flags & ~BS_WIRE_FENCE_PAIR) == 0 && b->fence_create_rep.fence_id != 0;
}

static bool fence_attach_req_valid(const union bs_msg_body *b)
{
        return b->fence_attach_req.reserved == 0;
}

static bool fence_signal_req_valid(const union bs_msg_body *b)
{
        return b->fence_signal_req.reserved == 0;
}

static bool sync_file_req_valid(const union bs_msg_body *b)
{
        return b->sync_file_req.reserved == 0;
}

static bool sync_file_merge_req_valid(const union bs_msg_body *b)
{
        return b->sync_file_merge_req.flags == 0;
}

static bool submit_req_valid(const union bs_msg_body *b)
{
        return b->submit_req.flags == 0;
}

static bool release_read_req_valid(const union bs_msg_body *b)
{
        return b->release_read_req.reserved == 0;
}

/* Requests that may ask for no reply: those whose sender has nothing to
 * wait for (a put, a fence signalled or dropped, the end of a read). */
#define ONEWAY_OK(op)                                                                           \
        ((op) == BS_OP_RELEASE || (op) == BS_OP_FENCE_SIGNAL || (op) == BS_OP_FENCE_DESTROY || \
         (op) == BS_OP_RELEASE_READ)

static bool redeem_req_valid(const union bs_msg_body *b)
{
        return b->redeem_req.flags == 0;
}

/* The description's shape: its reserved fields. Its values are the
 * caller's, checked by the daemon (image.h). */
static bool desc_shape_valid(const struct bs_wire_description *d)
{
        for (unsigned i = 0; i < BS_WIRE_MAX_PLANES; i++)
                if (d->planes[i].reserved)
                        return false;
        return true;
}

static bool export_batch_req_valid(const union bs_msg_body *b)
{
        const struct bs_export_batch_req *r = &b->export_batch_req;
        return r->flags == 0 && STR_OK(r->heap) && STR_OK(r->name);
}

static bool export_batch_rep_valid(const union bs_msg_body *b)
{
        const struct bs_export_batch_rep *r = &b->export_batch_rep;

        if (r->count == 0 || r->count > BS_WIRE_BATCH_MAX || r->size == 0)
                return false;
        for (unsigned i = 0; i < BS_WIRE_BATCH_MAX; i++)
                if ((r->ids[i] == 0) != (i >= r->count))
                        return false;
        return true;
}

static bool export_described_req_valid(const union bs_msg_body *b)
{
        const struct bs_export_described_req *r = &b->export_described_req;
        union bs_msg_body e = { .export_req = r->export_req };

        return export_req_valid(&e) && desc_shape_valid(&r->desc);
}

static bool import_described_rep_valid(const union bs_msg_body *b)
{
        const struct bs_import_described_rep *r = &b->import_described_rep;
        union bs_msg_body i = { .import_rep = r->import_rep };

        return import_rep_valid(&i) && desc_shape_valid(&r->desc);
}

static bool set_description_req_valid(const union bs_msg_body *b)
{
        return desc_shape_valid(&b->set_description_req.desc);
}

static bool info_described_rep_valid(const union bs_msg_body *b)
{
        const struct bs_info_described_rep *r = &b->info_described_rep;
        union bs_msg_body i = { .info_rep = r->info };

        return info_rep_valid(&i) && desc_shape_valid(&r->desc);
}

static bool get_description_rep_valid(const union bs_msg_body *b)
{
        return b->get_description_rep.reserved == 0 && desc_shape_valid(&b->get_description_rep.desc);
}

static unsigned export_batch_rep_fds(const union bs_msg_body *b)
{
        return b->export_batch_rep.count;
}

static unsigned fence_create_rep_fds(const union bs_msg_body *b)
{
        return b->fence_create_rep.flags & BS_WIRE_FENCE_PAIR ? 1 : 0;
}

static bool submit_sync_file_rep_valid(const union bs_msg_body *b)
{
        const struct bs_submit_sync_file_rep *r = &b->submit_sync_file_rep;

        return (r->flags & ~BS_WIRE_SUBMIT_SYNC_FILE) == 0 && r->reserved == 0;
}

static unsigned submit_sync_file_rep_fds(const union bs_msg_body *b)
{
        return b->submit_sync_file_rep.flags & BS_WIRE_SUBMIT_SYNC_FILE ? 1 : 0;
}

#define OP(op_, since_, name_, req_, rep_, req_fds_, rep_fds_, reqv_, repv_) \
        [op_] = {                                                              \
                .name = name_,                                                 \
                .since = since_,                                               \
                .req_size = sizeof(struct req_),                               \
                .rep_size = sizeof(struct rep_),                               \
                .req_fds = req_fds_,                                           \
                .rep_fds = rep_fds_,                                           \
                .oneway_ok = ONEWAY_OK(op_),                                  \
                .req_valid = reqv_,                                            \
                .rep_valid = repv_,                                            \
                .rep_n_fds = (op_) == BS_OP_EXPORT_BATCH   ? export_batch_rep_fds   \
                             : (op_) == BS_OP_FENCE_CREATE ? fence_create_rep_fds \
                             : (op_) == BS_OP_SUBMIT_SYNC_FILE ? submit_sync_file_rep_fds \
                                                           : NULL,                \
        }

static const struct bs_op_desc ops[BS_OP_COUNT] = {
        OP(BS_OP_HELLO, 1, "hello", bs_hello_req, bs_hello_rep, 0, 0, hello_req_valid, hello_rep_valid),
        OP(BS_OP_EXPORT, 1, "export", bs_export_req, bs_export_rep, 0, 1, export_req_valid, export_rep_valid),
        OP(BS_OP_IMPORT, 1, "import", bs_import_req, bs_import_rep, 1, 0, import_req_valid, import_rep_valid),
        OP(BS_OP_RELEASE, 1, "release", bs_release_req, bs_status_rep, 0, 0, release_req_valid, status_rep_valid),
        OP(BS_OP_INFO, 1, "info", bs_id_req, bs_info_rep, 0, 0, any_valid, info_rep_valid),
        OP(BS_OP_SET_NAME, 1, "set-name", bs_set_name_req, bs_status_rep, 0, 0, set_name_req_valid, status_rep_valid),
        OP(BS_OP_EXPORT_MEMFD, 1, "export-memfd", bs_export_memfd_req, bs_export_rep, 1, 0, export_memfd_req_valid, export_rep_valid),
        OP(BS_OP_BEGIN_CPU_ACCESS, 1, "begin-cpu-access", bs_cpu_access_req, bs_status_rep, 0, 0, cpu_access_req_valid, status_rep_valid),
        OP(BS_OP_END_CPU_ACCESS, 1, "end-cpu-access", bs_cpu_access_req, bs_status_rep, 0, 0, cpu_access_req_valid, status_rep_valid),
        OP(BS_OP_ATTACH, 1, "attach", bs_attach_req, bs_attach_rep, 0, 0, attach_req_valid, attach_rep_valid),
        OP(BS_OP_DETACH, 1, "detach", bs_id_req, bs_status_rep, 0, 0, any_valid, status_rep_valid),
        OP(BS_OP_MAP_ATTACHMENT, 1, "map-attachment", bs_map_attachment_req, bs_status_rep, 0, 0, map_attachment_req_valid, status_rep_valid),
        OP(BS_OP_UNMAP_ATTACHMENT, 1, "unmap-attachment", bs_id_req, bs_status_rep, 0, 0, any_valid, status_rep_valid),
        OP(BS_OP_LIST_HEAPS, 1, "list-heaps", bs_list_heaps_req, bs_list_heaps_rep, 0, 0, list_heaps_req_valid, list_heaps_rep_valid),
        OP(BS_OP_SYNC, 2, "sync", bs_sync_req, bs_status_rep, 0, 0, sync_req_valid, status_rep_valid),
        OP(BS_OP_LIMITS, 2, "limits", bs_limits_req, bs_limits_rep, 0, 0, limits_req_valid, limits_rep_valid),
        OP(BS_OP_FENCE_CREATE, 2, "fence-create", bs_fence_create_req, bs_fence_create_rep, 0, 1, fence_create_req_valid, fence_create_rep_valid),
        OP(BS_OP_FENCE_ATTACH, 2, "fence-attach", bs_fence_attach_req, bs_status_rep, 0, 0, fence_attach_req_valid, status_rep_valid),
        OP(BS_OP_FENCE_SIGNAL, 2, "fence-signal", bs_fence_signal_req, bs_status_rep, 0, 0, fence_signal_req_valid, status_rep_valid),
        OP(BS_OP_FENCE_DESTROY, 2, "fence-destroy", bs_id_req, bs_status_rep, 0, 0, any_valid, status_rep_valid),
        OP(BS_OP_EXPORT_SYNC_FILE, 2, "export-sync-file", bs_sync_file_req, bs_status_rep, 0, 1, sync_file_req_valid, status_rep_valid),
        OP(BS_OP_IMPORT_SYNC_FILE, 2, "import-sync-file", bs_sync_file_req, bs_status_rep, 1, 0, sync_file_req_valid, status_rep_valid),
        OP(BS_OP_SYNC_FILE_MERGE, 2, "sync-file-merge", bs_sync_file_merge_req, bs_status_rep, 2, 1, sync_file_merge_req_valid, status_rep_valid),
        OP(BS_OP_SUBMIT, 2, "submit", bs_submit_req, bs_submit_rep, 0, 0, submit_req_valid, any_valid),
        OP(BS_OP_RELEASE_READ, 2, "release-read", bs_release_read_req, bs_status_rep, 0, 0, release_read_req_valid, status_rep_valid),
        OP(BS_OP_REDEEM, 2, "redeem", bs_redeem_req, bs_export_rep, 0, 1, redeem_req_valid, export_rep_valid),
        OP(BS_OP_EXPORT_DESCRIBED, 2, "export-described", bs_export_described_req, bs_export_rep, 0, 1, export_described_req_valid, export_rep_valid),
        OP(BS_OP_IMPORT_DESCRIBED, 2, "import-described", bs_import_req, bs_import_described_rep, 1, 0, import_req_valid, import_described_rep_valid),
        OP(BS_OP_SET_DESCRIPTION, 2, "set-description", bs_set_description_req, bs_status_rep, 0, 0, set_description_req_valid, status_rep_valid),
        OP(BS_OP_INFO_DESCRIBED, 2, "info-described", bs_id_req, bs_info_described_rep, 0, 0, any_valid, info_described_rep_valid),
        OP(BS_OP_GET_DESCRIPTION, 2, "get-description", bs_id_req, bs_get_description_rep, 0, 0, any_valid, get_description_rep_valid),
        OP(BS_OP_EXPORT_BATCH, 2, "export-batch", bs_export_batch_req, bs_export_batch_rep, 0, BS_WIRE_BATCH_MAX, export_batch_req_valid, export_batch_rep_valid),
        OP(BS_OP_SUBMIT_SYNC_FILE, 2, "submit-sync-file", bs_submit_req, bs_submit_sync_file_rep, 0, 1, submit_req_valid, submit_sync_file_rep_valid),
};

const struct bs_op_desc *bs_op_lookup(uint16_t opcode)
{
        if (opcode == 0 || opcode >= BS_OP_COUNT || !ops[opcode].name)
                return NULL; /* unknown, or a gap left for opcodes to come */
        return &ops[opcode];
}

const char *bs_op_name(uint16_t opcode)
{
        const struct bs_op_desc *d = bs_op_lookup(opcode);
        return d ? d->name : "unknown";
}

void bs_msg_init(struct bs_msg *m)
{
        /* a copy, not a loop over the fds: since BS_MAX_FDS is 32, the
         * loop was an eighth of fuzz-dispatch's time, its compares traced */
        static const struct bs_msg empty = { .fds = { [0 ... BS_MAX_FDS - 1] = -EBADF } };

        *m = empty;
}

void bs_msg_clear(struct bs_msg *m)
{
        /* fds live in fds[0 .. n_fds): every other slot is -EBADF */
        for (unsigned i = 0; i < m->n_fds; i++)
                m->fds[i] = (m->borrowed & (1u << i)) ? -EBADF : safe_close(m->fds[i]);
        m->n_fds = 0;
        m->hdr.n_fds = 0;
        m->borrowed = 0;
}

void bs_msg_request(struct bs_msg *m, enum bs_opcode op, uint32_t serial)
{
        const struct bs_op_desc *d = bs_op_lookup(op);

        bs_msg_init(m);
        m->hdr.size = sizeof(m->hdr) + (d ? d->req_size : 0);
        m->hdr.opcode = op;
        m->hdr.serial = serial;
}

void bs_msg_reply(struct bs_msg *m, const struct bs_msg_header *req)
{
        const struct bs_op_desc *d = bs_op_lookup(req->opcode);

        bs_msg_init(m);
        m->hdr.size = sizeof(m->hdr) + (d ? d->rep_size : sizeof(struct bs_status_rep));
        m->hdr.opcode = req->opcode;
        m->hdr.flags = BS_MSG_REPLY;
        m->hdr.serial = req->serial;
}

void bs_msg_reply_error(struct bs_msg *m, const struct bs_msg_header *req, int status)
{
        bs_msg_init(m);
        m->hdr.size = sizeof(m->hdr) + sizeof(struct bs_status_rep);
        m->hdr.opcode = req->opcode;
        m->hdr.flags = BS_MSG_REPLY;
        m->hdr.serial = req->serial;
        m->body.status.status = status < 0 ? status : -EIO;
}

int bs_msg_lend_fd(struct bs_msg *m, int fd)
{
        if (m->n_fds >= BS_MAX_FDS)
                return -E2BIG;
        m->borrowed |= 1u << m->n_fds;
        m->fds[m->n_fds++] = fd;
        m->hdr.n_fds = (uint8_t)m->n_fds;
        return 0;
}

int bs_msg_add_fd(struct bs_msg *m, int fd)
{
        if (m->n_fds >= BS_MAX_FDS) {
                safe_close(fd);
                return -E2BIG;
        }
        m->fds[m->n_fds++] = fd;
        m->hdr.n_fds = (uint8_t)m->n_fds;
        return 0;
}

static int decode_reply(const struct bs_op_desc *d, const struct bs_msg *m, size_t len)
{
        size_t body = len - sizeof(m->hdr);

        if (body < sizeof(struct bs_status_rep))
                return -EPROTO;
        if (m->body.status.status > 0 || m->body.status.status < -4095)
                return -EPROTO;
        if (m->body.status.status < 0) /* error replies carry a status only */
                return body == sizeof(struct bs_status_rep) && m->hdr.n_fds == 0 &&
                                       m->body.status.reserved == 0
                               ? 0
                               : -EPROTO;
        if (body != d->rep_size || !d->rep_valid(&m->body))
                return -EPROTO;
        return m->hdr.n_fds == (d->rep_n_fds ? d->rep_n_fds(&m->body) : d->rep_fds) ? 0 : -EPROTO;
}

int bs_msg_decode(struct bs_msg *ret, const void *data, size_t len, unsigned n_fds)
{
        const struct bs_op_desc *d;
        size_t body;

        bs_msg_peek(ret, data, len);
        if (len < sizeof(ret->hdr))
                return -EPROTO;
        if (len > BS_MSG_MAX_SIZE || ret->hdr.size != len)
                return -EPROTO;

        if (ret->hdr.flags & ~BS_MSG_FLAGS_VALID)
                return -EPROTO;
        if (ret->hdr.reserved[0] || ret->hdr.reserved[1] || ret->hdr.reserved[2])
                return -EPROTO;
        if (ret->hdr.n_fds != n_fds)
                return -EPROTO;
        d = bs_op_lookup(ret->hdr.opcode);

        /* an error reply echoes its request's opcode, even one the peer
         * didn't know: its status-only body is the same for every opcode */
        if ((ret->hdr.flags & BS_MSG_REPLY) && !d && len >= sizeof(ret->hdr) + sizeof(struct bs_status_rep) &&
            ret->body.status.status < 0)
                return decode_reply(&ops[BS_OP_RELEASE], ret, len);
        if (!d)
                return -EPROTO;
        if (ret->hdr.flags & BS_MSG_REPLY)
                return (ret->hdr.flags & BS_MSG_NO_REPLY) ? -EPROTO : decode_reply(d, ret, len);

        if ((ret->hdr.flags & BS_MSG_NO_REPLY) && !d->oneway_ok)
                return -EPROTO;
        body = len - sizeof(ret->hdr);
        if (body != d->req_size || n_fds != d->req_fds)
                return -EPROTO;
        return d->req_valid(&ret->body) ? 0 : -EPROTO;
}

void bs_msg_peek(struct bs_msg *ret, const void *data, size_t len)
{
        size_t hdr = len < sizeof(ret->hdr) ? len : sizeof(ret->hdr);
        size_t body = len - hdr < sizeof(ret->body) ? len - hdr : sizeof(ret->body);

        ret->len = len;
        memset(&ret->hdr, 0, sizeof(ret->hdr));
        memset(&ret->body, 0, sizeof(ret->body));
        memcpy(&ret->hdr, data, hdr);
        memcpy(&ret->body, (const char *)data + hdr, body);
}

int bs_msg_encode(const struct bs_msg *m, void *buf, size_t len)
{
        if (m->hdr.size < sizeof(m->hdr) || m->hdr.size > BS_MSG_MAX_SIZE)
                return -EINVAL;
        if (len < m->hdr.size)
                return -ENOBUFS;
        if (m->hdr.size - sizeof(m->hdr) > sizeof(m->body))
                return -EINVAL;
        memcpy(buf, &m->hdr, sizeof(m->hdr));
        memcpy((char *)buf + sizeof(m->hdr), &m->body, m->hdr.size - sizeof(m->hdr));
        return (int)m->hdr.size;
}
