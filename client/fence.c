/* SPDX-License-Identifier: MIT */
/*
 * Fences and sync files (dma-fence and sync_file), and the end of a read
 * in a pool. A sync file is an fd of the caller's own: one end of a
 * socketpair whose other end the daemon keeps, and on which it sends the
 * status, once, then closes. So waiting for it and asking its status
 * need no daemon: poll() and a peek at that datagram (never consumed).
 *
 * A fence is made with a sync file ready for its first waiter, whose
 * sending end comes here too. When that sync file is what a waiter got,
 * signalling sends the status on it from here, and the waiter wakes
 * with no daemon in between; the daemon is told right after, and tells
 * everyone else.
 */
#include <errno.h>
#include <sched.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "api.h"
#include "client-private.h"
#include "util.h"

#define BS_SYNC_VALID (BS_SYNC_READ | BS_SYNC_WRITE)
#define STATUS_VALID(s) ((s) <= 0 && (s) >= -4095)

struct bs_fence {
        struct bs_client *client; /* a reference: the fence is this connection's */
        uint64_t id;
        int pair_end; /* the sending end of its ready-made sync file, or -EBADF */
        bool signalled;
};

/* ---- sync files: local ---------------------------------------------- */

/* Peek at @fd's status: 0 with *@ret_status (0 or -errno); 1 while it
 * is pending; -EINVAL if none is or will be there (@fd is no sync file,
 * or its status was read out, or it ended with none); or -errno. */
static int peek_status(int fd, int32_t *ret_status)
{
        ssize_t n = recv(fd, ret_status, sizeof(*ret_status), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);

        if (n < 0)
                return errno == EAGAIN ? 1 : errno == ENOTSOCK ? -EINVAL : -errno;
        return n == (ssize_t)sizeof(*ret_status) && STATUS_VALID(*ret_status) ? 0 : -EINVAL;
}

/* The status a signalled sync file carries: 0 or -errno; 1 while it is
 * pending; -EINVAL if @fd is no sync file (any more). */
static int sync_file_peek(int fd)
{
        int32_t s;
        int r = peek_status(fd, &s);

        return r == 0 ? s : r;
}

/* Whether @fd holds a status, whatever it is: what tells a sync file
 * signalled with -EINVAL from one that ended with none. */
int sync_file_has_status(int fd)
{
        int32_t s;

        return peek_status(fd, &s) == 0;
}

/* Whether @fd can be a sync file at all: an AF_UNIX SOCK_SEQPACKET
 * socket, as the daemon makes them. 0, -EINVAL for any other fd (a pipe
 * or an eventfd would otherwise read as pending for ever), or -EBADF. */
static int sync_file_kind(int fd)
{
        int type = 0, domain = 0;
        socklen_t len = sizeof(type);

        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
                return errno == EBADF ? -EBADF : -EINVAL;
        len = sizeof(domain);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
                return errno == EBADF ? -EBADF : -EINVAL;
        return type == SOCK_SEQPACKET && domain == AF_UNIX ? 0 : -EINVAL;
}

/* Wait until @fd is readable or @deadline: 0, -ETIME (dma_fence's and
 * sync_file's word for it), or -errno. A closed fd is readable at once
 * and its peek says -EBADF. */
static int sync_file_poll(int fd, uint64_t deadline)
{
        int r = client_wait_fd(fd, POLLIN, deadline);

        return r == -ETIMEDOUT ? -ETIME : r;
}

static uint64_t deadline_in(int timeout_ms)
{
        return timeout_ms < 0 ? UINT64_MAX : client_now_ms() + (uint64_t)timeout_ms;
}

int sync_file_wait(int fd, int timeout_ms)
{
        int r;

        lib_return_if(fd < 0, -EBADF);
        lib_return_if(timeout_ms < -1, -EINVAL);
        r = sync_file_kind(fd);
        if (r < 0)
                return r;
        r = sync_file_poll(fd, deadline_in(timeout_ms));
        if (r < 0)
                return r;
        r = sync_file_peek(fd);
        return r == 1 ? -EINVAL : r; /* readable yet pending: not a sync file */
}

int sync_file_status(int fd)
{
        int r;

        lib_return_if(fd < 0, -EBADF);
        r = sync_file_kind(fd);
        if (r < 0)
                return r;
        r = sync_file_poll(fd, client_now_ms());
        if (r == -ETIME)
                return 0;
        if (r < 0)
                return r;
        r = sync_file_peek(fd);
        if (r == 1)
                return -EINVAL;
        return r == 0 ? 1 : r;
}

/* ---- sync files: the daemon ----------------------------------------- */

/* A request whose reply carries one fd, the caller's from now on. */
static int call_for_fd(struct bs_client *c, struct bs_msg *req)
{
        struct bs_msg rep;
        int r = client_call(c, req, &rep);

        if (r < 0)
                return r;
        return TAKE_FD(rep.fds[0]);
}

/* A sync file of @b's with BS_WIRE_SYNC_* @wire_flags. */
static int export_sync_file(struct bs_buffer *b, unsigned wire_flags)
{
        struct bs_msg req;

        bs_msg_request(&req, BS_OP_EXPORT_SYNC_FILE, 0);
        req.body.sync_file_req.buffer_id = b->id;
        req.body.sync_file_req.flags = wire_flags;
        return call_for_fd(b->client, &req);
}

int buffer_export_sync_file(struct bs_buffer *b, unsigned flags)
{
        lib_return_if(!b, -EINVAL);
        lib_return_if(flags == 0 || (flags & ~BS_SYNC_VALID), -EINVAL);
        lib_return_if(client_need_v2(b->client) < 0, -EOPNOTSUPP);
        return export_sync_file(b, flags);
}

int buffer_import_sync_file(struct bs_buffer *b, unsigned usage, int fd)
{
        struct bs_msg req;

        lib_return_if(!b, -EINVAL);
        lib_return_if(usage == 0 || (usage & ~BS_SYNC_VALID), -EINVAL);
        lib_return_if(fd < 0, -EBADF);
        lib_return_if((usage & BS_SYNC_WRITE) && b->readonly, -EACCES);
        lib_return_if(client_need_v2(b->client) < 0, -EOPNOTSUPP);
        bs_msg_request(&req, BS_OP_IMPORT_SYNC_FILE, 0);
        req.body.sync_file_req.buffer_id = b->id;
        req.body.sync_file_req.flags = usage;
        bs_msg_lend_fd(&req, fd); /* SCM_RIGHTS copies it; it stays the caller's */
        return client_call_status(b->client, &req);
}

int sync_file_merge(struct bs_client *c, int fd1, int fd2)
{
        struct bs_msg req;

        lib_return_if(!c, -EINVAL);
        lib_return_if(fd1 < 0 || fd2 < 0, -EBADF);
        lib_return_if(client_need_v2(c) < 0, -EOPNOTSUPP);
        bs_msg_request(&req, BS_OP_SYNC_FILE_MERGE, 0);
        bs_msg_lend_fd(&req, fd1);
        bs_msg_lend_fd(&req, fd2);
        return call_for_fd(c, &req);
}

/* ---- fences ----------------------------------------------------------- */

int fence_create(struct bs_client *c, struct bs_fence **ret_fence)
{
        struct bs_msg req, rep;
        struct bs_fence *f;
        int r;

        lib_return_if(!c || !ret_fence, -EINVAL);
        lib_return_if(client_need_v2(c) < 0, -EOPNOTSUPP);
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        bs_msg_request(&req, BS_OP_FENCE_CREATE, 0);
        req.body.fence_create_req.flags = BS_WIRE_FENCE_PAIR;
        r = client_call(c, &req, &rep);
        if (r < 0) {
                free(f);
                return r;
        }
        /* none when the daemon had none to spare: it tells every waiter */
        f->pair_end = rep.n_fds == 1 ? TAKE_FD(rep.fds[0]) : -EBADF;
        f->client = bs_client_ref(c);
        f->id = rep.body.fence_create_rep.fence_id;
        *ret_fence = f;
        return 0;
}

int fence_attach(struct bs_fence *f, struct bs_buffer *b, unsigned usage)
{
        struct bs_msg req;

        lib_return_if(!f || !b, -EINVAL);
        lib_return_if(usage == 0 || (usage & ~BS_SYNC_VALID), -EINVAL);
        lib_return_if(b->client != f->client, -EINVAL); /* ids are per connection */
        lib_return_if((usage & BS_SYNC_WRITE) && b->readonly, -EACCES);
        bs_msg_request(&req, BS_OP_FENCE_ATTACH, 0);
        req.body.fence_attach_req.buffer_id = b->id;
        req.body.fence_attach_req.fence_id = f->id;
        req.body.fence_attach_req.usage = usage;
        return client_call_status(f->client, &req);
}

int fence_signal(struct bs_fence *f, int status)
{
        struct oneway ow = { .opcode = BS_OP_FENCE_SIGNAL };

        lib_return_if(!f, -EINVAL);
        lib_return_if(!STATUS_VALID(status), -EINVAL);
        lib_return_if(f->signalled, -EALREADY);
        f->signalled = true;
        if (f->pair_end >= 0) {
                /* its first waiter's, if one took it: woken from here; a
                 * full or broken one is the daemon's to tell */
                int32_t s = status;

                (void)send(f->pair_end, &s, sizeof(s), MSG_DONTWAIT | MSG_NOSIGNAL);
                f->pair_end = safe_close(f->pair_end);
                /* a waiter woken on this cpu runs now, before telling the
                 * daemon wakes another cpu (~20 us on a VM) in its way:
                 * unpinned, 1.9x an eventfd wake with this, 9.9x without */
                sched_yield();
        }
        ow.body.fence_signal.fence_id = f->id;
        ow.body.fence_signal.status = status;
        client_oneway(f->client, &ow);
        return 0;
}

_public_ struct bs_fence *bs_fence_destroy(struct bs_fence *f)
{
        struct oneway ow = { .opcode = BS_OP_FENCE_DESTROY };

        if (!f)
                return NULL;
        ow.body.id.id = f->id;
        safe_close(f->pair_end);
        client_oneway(f->client, &ow); /* an unsignalled fence ends with -ECANCELED */
        bs_client_unref(f->client);
        free(f);
        return NULL;
}

/* ---- CPU access that waits, and the end of a read -------------------- */

/* One BEGIN_CPU_ACCESS: 0, -EBUSY while a conflicting fence is pending
 * (version 2), or another -errno. */
static int begin_once(struct bs_buffer *b, unsigned flags)
{
        struct bs_msg req;

        bs_msg_request(&req, BS_OP_BEGIN_CPU_ACCESS, 0);
        req.body.cpu_access_req.id = b->id;
        req.body.cpu_access_req.flags = flags;
        return client_call_status(b->client, &req);
}

int client_begin_cpu_access(struct bs_buffer *b, unsigned flags, int timeout_ms)
{
        uint64_t deadline = deadline_in(timeout_ms);
        int r, fd;

        for (;;) {
                r = begin_once(b, flags);
                if (r != -EBUSY || client_need_v2(b->client) < 0)
                        return r;
                /* what conflicts is what a sync file of the same flags
                 * waits for (DESIGN §2): wait here, then ask again */
                /* one the daemon signals: asked again, it knows */
                fd = export_sync_file(b, flags | BS_WIRE_SYNC_DAEMON);
                if (fd < 0)
                        return fd;
                r = sync_file_poll(fd, deadline);
                if (r == 0)
                        r = sync_file_peek(fd);
                safe_close(fd);
                if (r < 0)
                        return r; /* -ETIME, or the fence's error: nothing begun */
        }
}

int buffer_release_read(struct bs_buffer *b, int status)
{
        struct oneway ow = { .opcode = BS_OP_RELEASE_READ };

        lib_return_if(!b, -EINVAL);
        lib_return_if(!STATUS_VALID(status), -EINVAL);
        lib_return_if(client_need_v2(b->client) < 0, -EOPNOTSUPP);
        ow.body.release_read.buffer_id = b->id;
        ow.body.release_read.status = status;
        client_oneway(b->client, &ow);
        return 0;
}
