/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "client-private.h"
#include "image.h"
#include "util.h"

#define BS_FD_FLAGS_VALID (O_ACCMODE | O_CLOEXEC)

static struct bs_buffer *buffer_new(struct bs_client *c, int fd, uint64_t id, uint64_t size, bool readonly)
{
        struct bs_buffer *b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        atomic_init(&b->refs, 1);
        b->client = bs_client_ref(c);
        b->fd = fd;
        b->id = id;
        b->size = size;
        b->readonly = readonly;
        return b;
}

/* Tell the daemon this reference is gone, without waiting: like
 * dma_buf_put(), a put never blocks on the daemon (see client_release()). */
static void buffer_release(struct bs_client *c, uint64_t id, bool readonly)
{
        client_release(c, id, readonly ? BS_WIRE_REF_READONLY : 0);
}

/* EXPORT, or EXPORT_DESCRIBED when @desc isn't NULL. */
static int export_with(struct bs_client *c, uint64_t size, const char *heap, const char *name,
                       const struct bs_image_description *desc, struct bs_buffer **ret_buffer)
{
        struct bs_export_req *e;
        struct bs_msg req, rep;
        int r;

        lib_return_if(!c || !ret_buffer, -EINVAL);
        lib_return_if(size == 0, -EINVAL);
        if (desc) {
                bs_msg_request(&req, BS_OP_EXPORT_DESCRIBED, 0);
                r = image_to_wire(desc, size, &req.body.export_described_req.desc);
                if (r < 0)
                        return r;
                e = &req.body.export_described_req.export_req;
        } else {
                bs_msg_request(&req, BS_OP_EXPORT, 0);
                e = &req.body.export_req;
        }
        e->size = size;
        r = bs_string_set(e->heap, BS_NAME_LEN, heap ? heap : "system");
        if (r < 0)
                return r;
        r = bs_string_set(e->name, BS_NAME_LEN, name);
        if (r < 0)
                return r;

        r = client_call(c, &req, &rep);
        if (r < 0)
                return r;
        return client_buffer_from_reply(c, &rep, ret_buffer);
}

int client_buffer_from_reply(struct bs_client *c, struct bs_msg *rep, struct bs_buffer **ret_buffer)
{
        struct bs_buffer *b;

        b = buffer_new(c, rep->fds[0], rep->body.export_rep.id, rep->body.export_rep.size, false);
        if (!b) {
                bs_msg_clear(rep);
                buffer_release(c, rep->body.export_rep.id, false);
                return -ENOMEM;
        }
        TAKE_FD(rep->fds[0]);
        *ret_buffer = b;
        return 0;
}

/* One request of bs_buffer_export_many(): up to BS_WIRE_BATCH_MAX buffers. */
struct batch_call {
        struct pending p;
        struct bs_msg req, rep;
        unsigned first, count; /* its buffers in ret_buffers */
};

/* Make buffers of @b's reply, or take the error; every fd of the reply
 * is taken or closed. */
static int batch_take(struct bs_client *c, struct batch_call *b, int r, struct bs_buffer **out)
{
        const struct bs_export_batch_rep *w = &b->rep.body.export_batch_rep;
        unsigned made = 0;

        if (r < 0)
                return r;
        if (w->count != b->count) {
                /* the daemon answered another question: a malformed
                 * reply, and references made for it that nobody could
                 * put; only closing the connection drops them */
                bs_msg_clear(&b->rep);
                return client_broken(c, -EPROTO);
        }
        for (; made < b->count; made++) {
                out[made] = buffer_new(c, b->rep.fds[made], w->ids[made], w->size, false);
                if (!out[made])
                        break;
                b->rep.fds[made] = -EBADF;
        }
        if (made == b->count)
                return 0;
        /* out of memory: give back what this reply gave */
        for (unsigned i = 0; i < made; i++)
                out[i] = bs_buffer_put(out[i]);
        for (unsigned i = made; i < b->count; i++)
                buffer_release(c, w->ids[i], false);
        bs_msg_clear(&b->rep);
        return -ENOMEM;
}

int buffer_export_many(struct bs_client *c, unsigned n, uint64_t size, const char *heap, const char *name,
                       struct bs_buffer **ret_buffers)
{
        struct batch_call calls[BS_EXPORT_MANY_IN_FLIGHT];
        unsigned sent = 0, done = 0, next = 0;
        int first_error = 0, r;

        lib_return_if(!c || !ret_buffers || n == 0, -EINVAL);
        lib_return_if(size == 0, -EINVAL);
        for (unsigned i = 0; i < n; i++)
                ret_buffers[i] = NULL;

        /* Requests of up to BS_WIRE_BATCH_MAX buffers, up to
         * BS_EXPORT_MANY_IN_FLIGHT of them sent before the first reply is
         * awaited: the daemon works on one while this thread takes the
         * buffers of another. Replies come in order. */
        while (done < sent || (next < n && first_error == 0)) {
                if (next < n && first_error == 0 && sent - done < BS_EXPORT_MANY_IN_FLIGHT) {
                        struct batch_call *b = &calls[sent % BS_EXPORT_MANY_IN_FLIGHT];

                        b->first = next;
                        b->count = n - next < BS_WIRE_BATCH_MAX ? n - next : BS_WIRE_BATCH_MAX;
                        bs_msg_request(&b->req, BS_OP_EXPORT_BATCH, 0);
                        b->req.body.export_batch_req.size = size;
                        b->req.body.export_batch_req.count = b->count;
                        r = bs_string_set(b->req.body.export_batch_req.heap, BS_NAME_LEN, heap ? heap : "system");
                        if (r == 0)
                                r = bs_string_set(b->req.body.export_batch_req.name, BS_NAME_LEN, name);
                        if (r < 0) {
                                first_error = r;
                                continue;
                        }
                        /* an error here is the connection's: finish says it */
                        client_call_start(c, &b->p, &b->req, &b->rep);
                        next += b->count;
                        sent++;
                        continue;
                }
                struct batch_call *b = &calls[done % BS_EXPORT_MANY_IN_FLIGHT];
                r = client_call_finish(c, &b->p);
                r = batch_take(c, b, r, ret_buffers + b->first);
                if (r < 0 && first_error == 0)
                        first_error = r;
                done++;
        }
        if (first_error == 0)
                return 0;
        /* all or nothing: what the other requests made goes back */
        for (unsigned i = 0; i < n; i++)
                ret_buffers[i] = bs_buffer_put(ret_buffers[i]);
        return first_error;
}

int buffer_export(struct bs_client *c, uint64_t size, const char *heap, const char *name,
                  struct bs_buffer **ret_buffer)
{
        return export_with(c, size, heap, name, NULL, ret_buffer);
}

int buffer_export_described(struct bs_client *c, uint64_t size, const char *heap, const char *name,
                            const struct bs_image_description *desc, struct bs_buffer **ret_buffer)
{
        lib_return_if(!desc, -EINVAL);
        return export_with(c, size, heap, name, desc, ret_buffer);
}

/*
 * Send @req with @fd_ (consumed: it becomes the library's own fd on the
 * buffer), and make a buffer of the reply. For IMPORT, IMPORT_DESCRIBED
 * (whose reply starts with IMPORT's; its description goes to @ret_desc)
 * and EXPORT_MEMFD, whose replies all start with status, flags, id and size.
 */
static int call_with_own_fd(struct bs_client *c, struct bs_msg *req, int fd_, struct bs_buffer **ret_buffer,
                            struct bs_image_description *ret_desc)
{
        _cleanup_close_ int own = fd_;
        struct bs_msg rep;
        struct bs_buffer *b;
        uint64_t id, size;
        bool readonly;
        int r;

        bs_msg_lend_fd(req, own);
        r = client_call(c, req, &rep);
        if (r < 0)
                return r;
        if (req->hdr.opcode != BS_OP_EXPORT_MEMFD) {
                readonly = rep.body.import_rep.flags & BS_WIRE_REF_READONLY;
                id = rep.body.import_rep.id;
                size = rep.body.import_rep.size;
        } else {
                readonly = false;
                id = rep.body.export_rep.id;
                size = rep.body.export_rep.size;
        }
        b = buffer_new(c, own, id, size, readonly);
        if (!b) {
                buffer_release(c, id, readonly);
                return -ENOMEM;
        }
        TAKE_FD(own);
        *ret_buffer = b;
        if (ret_desc)
                image_from_wire(req->hdr.opcode == BS_OP_IMPORT_DESCRIBED ? &rep.body.import_described_rep.desc
                                                                          : NULL,
                                ret_desc);
        return 0;
}

/* call_with_own_fd() on a dup of @fd, which stays the caller's. */
static int call_with_fd(struct bs_client *c, struct bs_msg *req, int fd, struct bs_buffer **ret_buffer)
{
        int own = fcntl(fd, F_DUPFD_CLOEXEC, 3);

        if (own < 0)
                return -errno;
        return call_with_own_fd(c, req, own, ret_buffer, NULL);
}

int buffer_import_owned(struct bs_client *c, int fd, struct bs_buffer **ret_buffer,
                        struct bs_image_description *ret_desc)
{
        struct bs_msg req;

        bs_msg_request(&req, c->version >= 2 ? BS_OP_IMPORT_DESCRIBED : BS_OP_IMPORT, 0);
        return call_with_own_fd(c, &req, fd, ret_buffer, ret_desc);
}

int buffer_import(struct bs_client *c, int fd, struct bs_buffer **ret_buffer)
{
        struct bs_msg req;

        lib_return_if(!c || !ret_buffer, -EINVAL);
        lib_return_if(fd < 0, -EBADF);
        bs_msg_request(&req, BS_OP_IMPORT, 0);
        return call_with_fd(c, &req, fd, ret_buffer);
}

int buffer_export_memfd(struct bs_client *c, int memfd, const char *name,
                                    struct bs_buffer **ret_buffer)
{
        struct bs_msg req;
        int r;

        lib_return_if(!c || !ret_buffer, -EINVAL);
        lib_return_if(memfd < 0, -EBADF);
        bs_msg_request(&req, BS_OP_EXPORT_MEMFD, 0);
        r = bs_string_set(req.body.export_memfd_req.name, BS_NAME_LEN, name);
        if (r < 0)
                return r;
        return call_with_fd(c, &req, memfd, ret_buffer);
}

_public_ struct bs_buffer *bs_buffer_ref(struct bs_buffer *b)
{
        if (b)
                atomic_fetch_add(&b->refs, 1);
        return b;
}

_public_ struct bs_buffer *bs_buffer_put(struct bs_buffer *b)
{
        if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
                return NULL;
        buffer_release(b->client, b->id, b->readonly);
        safe_close(b->fd);
        bs_client_unref(b->client);
        free(b);
        return NULL;
}

/* A read-only view: a new open file on the inode, opened read-only, so
 * that the kernel itself refuses writes and writable shared mappings. */
static int readonly_view(struct bs_buffer *b, int flags)
{
        char path[64];
        struct stat st;
        int fd;

        if (fstat(b->fd, &st) < 0)
                return -errno;
        /* an inode others could reopen writable makes the view a lie */
        if (st.st_mode & 0222)
                return -EPERM;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", b->fd);
        fd = open(path, O_RDONLY | (flags & O_CLOEXEC));
        return fd < 0 ? -errno : fd;
}

int buffer_fd(struct bs_buffer *b, int flags)
{
        int fd;

        lib_return_if(!b, -EINVAL);
        lib_return_if(flags & ~BS_FD_FLAGS_VALID, -EINVAL);
        switch (flags & O_ACCMODE) {
        case O_RDONLY:
                return readonly_view(b, flags);
        case O_RDWR:
                if (b->readonly)
                        return -EACCES;
                fd = fcntl(b->fd, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 3);
                return fd < 0 ? -errno : fd;
        default:
                return -EINVAL; /* O_WRONLY: a buffer is never write-only */
        }
}

int buffer_is_readonly(struct bs_buffer *b)
{
        lib_return_if(!b, -EINVAL);
        return b->readonly;
}

int64_t buffer_size(struct bs_buffer *b)
{
        lib_return_if(!b, -EINVAL);
        return (int64_t)b->size;
}

int64_t buffer_id(struct bs_buffer *b)
{
        lib_return_if(!b, -EINVAL);
        return (int64_t)b->id;
}

int buffer_get_info(struct bs_buffer *b, struct bs_buffer_info *ret_info)
{
        const struct bs_info_rep *i;
        struct bs_msg req, rep;
        int r;

        lib_return_if(!b || !ret_info, -EINVAL);
        /* INFO_DESCRIBED's reply is INFO's, then the description */
        bs_msg_request(&req, b->client->version >= 2 ? BS_OP_INFO_DESCRIBED : BS_OP_INFO, 0);
        req.body.id_req.id = b->id;
        r = client_call(b->client, &req, &rep);
        if (r < 0)
                return r;
        i = &rep.body.info_rep;
        memset(ret_info, 0, sizeof(*ret_info));
        ret_info->id = i->id;
        ret_info->size = i->size;
        ret_info->created_ns = i->created_ns;
        ret_info->exporter_pid = i->exporter_pid;
        ret_info->exporter_uid = i->exporter_uid;
        ret_info->n_refs = i->n_refs;
        memcpy(ret_info->heap, i->heap, sizeof(ret_info->heap));
        memcpy(ret_info->name, i->name, sizeof(ret_info->name));
        memcpy(ret_info->exporter_comm, i->exporter_comm, sizeof(ret_info->exporter_comm));
        ret_info->n_readonly = i->n_readonly;
        ret_info->n_attachments = i->n_attachments;
        ret_info->n_cpu_access = i->n_cpu_access;
        for (unsigned k = 0; k < BS_INFO_LIST_MAX; k++) {
                ret_info->readonly[k].pid = i->readonly[k].pid;
                ret_info->cpu_access[k].pid = i->cpu_access[k].pid;
                ret_info->cpu_access[k].flags = i->cpu_access[k].flags;
                memcpy(ret_info->attachments[k].device, i->attachments[k].device, BS_NAME_MAX);
                ret_info->attachments[k].pid = i->attachments[k].pid;
                ret_info->attachments[k].mapped = i->attachments[k].mapped;
                ret_info->attachments[k].direction = i->attachments[k].direction;
        }
        image_from_wire(req.hdr.opcode == BS_OP_INFO_DESCRIBED ? &rep.body.info_described_rep.desc : NULL,
                        &ret_info->description);
        return 0;
}

int buffer_set_description(struct bs_buffer *b, const struct bs_image_description *desc)
{
        struct bs_msg req;
        int r;

        lib_return_if(!b, -EINVAL);
        bs_msg_request(&req, BS_OP_SET_DESCRIPTION, 0);
        req.body.set_description_req.id = b->id;
        if (desc) {
                r = image_to_wire(desc, b->size, &req.body.set_description_req.desc);
                if (r < 0)
                        return r;
        }
        return client_call_status(b->client, &req);
}

int buffer_get_description(struct bs_buffer *b, struct bs_image_description *ret_desc)
{
        struct bs_msg req, rep;
        int r;

        lib_return_if(!b || !ret_desc, -EINVAL);
        bs_msg_request(&req, BS_OP_GET_DESCRIPTION, 0);
        req.body.id_req.id = b->id;
        r = client_call(b->client, &req, &rep);
        if (r < 0)
                return r;
        if (bs_image_wire_is_none(&rep.body.get_description_rep.desc))
                return -ENODATA;
        image_from_wire(&rep.body.get_description_rep.desc, ret_desc);
        return 0;
}

int client_list_heaps(struct bs_client *c, char names[][BS_NAME_MAX], unsigned n_names)
{
        const struct bs_list_heaps_rep *l;
        struct bs_msg req, rep;
        int r;

        lib_return_if(!c || (n_names && !names), -EINVAL);
        bs_msg_request(&req, BS_OP_LIST_HEAPS, 0);
        r = client_call(c, &req, &rep);
        if (r < 0)
                return r;
        l = &rep.body.list_heaps_rep;
        for (unsigned i = 0; i < n_names && i < l->n_heaps && i < BS_WIRE_MAX_HEAPS; i++)
                memcpy(names[i], l->names[i], BS_NAME_MAX);
        return (int)(l->n_heaps < BS_WIRE_MAX_HEAPS ? l->n_heaps : BS_WIRE_MAX_HEAPS);
}

int buffer_set_name(struct bs_buffer *b, const char *name)
{
        struct bs_msg req;
        int r;

        lib_return_if(!b || !name, -EINVAL);
        bs_msg_request(&req, BS_OP_SET_NAME, 0);
        req.body.set_name_req.id = b->id;
        r = bs_string_set(req.body.set_name_req.name, BS_NAME_LEN, name);
        if (r < 0)
                return r;
        return client_call_status(b->client, &req);
}
