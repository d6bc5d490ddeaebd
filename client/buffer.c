/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "client-private.h"
#include "util.h"

#define BS_FD_FLAGS_VALID (O_CLOEXEC)

static struct bs_buffer *buffer_new(struct bs_client *c, int fd, uint64_t id, uint64_t size)
{
        struct bs_buffer *b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        atomic_init(&b->refs, 1);
        b->client = bs_client_ref(c);
        b->fd = fd;
        b->id = id;
        b->size = size;
        return b;
}

/* Tell the daemon this reference is gone. A failure leaves nothing to undo
 * here: a broken connection already dropped every reference it held. */
static void buffer_release(struct bs_client *c, uint64_t id)
{
        struct bs_msg req, rep;

        bs_msg_request(&req, BS_OP_RELEASE, 0);
        req.body.id_req.id = id;
        client_call(c, &req, &rep);
        bs_msg_clear(&rep);
}

_public_ int bs_buffer_export(struct bs_client *c, uint64_t size, const char *heap, const char *name,
                              struct bs_buffer **ret_buffer)
{
        struct bs_msg req, rep;
        struct bs_buffer *b;
        int r;

        bs_return_if(!c || !ret_buffer, -EINVAL);
        bs_return_if(size == 0, -EINVAL);
        bs_msg_request(&req, BS_OP_EXPORT, 0);
        req.body.export_req.size = size;
        r = bs_string_set(req.body.export_req.heap, BS_NAME_LEN, heap ? heap : "system");
        if (r < 0)
                return r;
        r = bs_string_set(req.body.export_req.name, BS_NAME_LEN, name);
        if (r < 0)
                return r;

        r = client_call(c, &req, &rep);
        if (r < 0)
                return r;
        b = buffer_new(c, rep.fds[0], rep.body.export_rep.id, rep.body.export_rep.size);
        if (!b) {
                bs_msg_clear(&rep);
                buffer_release(c, rep.body.export_rep.id);
                return -ENOMEM;
        }
        TAKE_FD(rep.fds[0]);
        *ret_buffer = b;
        return 0;
}

_public_ int bs_buffer_import(struct bs_client *c, int fd, struct bs_buffer **ret_buffer)
{
        _cleanup_close_ int own = -EBADF;
        struct bs_msg req, rep;
        struct bs_buffer *b;
        int r;

        bs_return_if(!c || !ret_buffer, -EINVAL);
        bs_return_if(fd < 0, -EBADF);
        own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (own < 0)
                return -errno;

        bs_msg_request(&req, BS_OP_IMPORT, 0);
        bs_msg_add_fd(&req, own);
        r = client_call(c, &req, &rep);
        TAKE_FD(req.fds[0]); /* borrowed for the send; still `own` */
        if (r < 0)
                return r;
        b = buffer_new(c, own, rep.body.import_rep.id, rep.body.import_rep.size);
        if (!b) {
                buffer_release(c, rep.body.import_rep.id);
                return -ENOMEM;
        }
        TAKE_FD(own);
        *ret_buffer = b;
        return 0;
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
        buffer_release(b->client, b->id);
        safe_close(b->fd);
        bs_client_unref(b->client);
        free(b);
        return NULL;
}

_public_ int bs_buffer_fd(struct bs_buffer *b, int flags)
{
        int fd;

        bs_return_if(!b, -EINVAL);
        bs_return_if(flags & ~BS_FD_FLAGS_VALID, -EINVAL);
        fd = fcntl(b->fd, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 3);
        return fd < 0 ? -errno : fd;
}

_public_ int64_t bs_buffer_size(struct bs_buffer *b)
{
        bs_return_if(!b, -EINVAL);
        return (int64_t)b->size;
}

_public_ int64_t bs_buffer_id(struct bs_buffer *b)
{
        bs_return_if(!b, -EINVAL);
        return (int64_t)b->id;
}

_public_ int bs_buffer_get_info(struct bs_buffer *b, struct bs_buffer_info *ret_info)
{
        const struct bs_info_rep *i;
        struct bs_msg req, rep;
        int r;

        bs_return_if(!b || !ret_info, -EINVAL);
        bs_msg_request(&req, BS_OP_INFO, 0);
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
        return 0;
}

_public_ int bs_buffer_set_name(struct bs_buffer *b, const char *name)
{
        struct bs_msg req, rep;
        int r;

        bs_return_if(!b || !name, -EINVAL);
        bs_msg_request(&req, BS_OP_SET_NAME, 0);
        req.body.set_name_req.id = b->id;
        r = bs_string_set(req.body.set_name_req.name, BS_NAME_LEN, name);
        if (r < 0)
                return r;
        return client_call(b->client, &req, &rep);
}
