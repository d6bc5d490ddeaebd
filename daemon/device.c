/* SPDX-License-Identifier: MIT */
#include "device.h"

#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bufshare/bufshare-ioctl.h"
#include "fence.h"
#include "ioctl-args.h"
#include "log.h"
#include "procfs.h"
#include "util.h"

_Static_assert(BUFSHARE_NAME_LEN == BS_NAME_LEN, "one name length for both control planes");
_Static_assert(BUFSHARE_COMM_LEN == BS_COMM_LEN, "one comm length for both control planes");
_Static_assert(BUFSHARE_SYNC_READ == BS_WIRE_SYNC_READ && BUFSHARE_SYNC_WRITE == BS_WIRE_SYNC_WRITE,
               "SYNC's flags are the registry's");

static struct hm_key uid_key(uid_t uid)
{
        return (struct hm_key){ uid, 0 };
}

static unsigned uid_files_of(struct device *d, uid_t uid)
{
        return (unsigned)(uintptr_t)hashmap_get(&d->uid_files, uid_key(uid));
}

/* The count is the map's value itself: no allocation per uid. */
static int uid_files_set(struct device *d, uid_t uid, unsigned n)
{
        hashmap_remove(&d->uid_files, uid_key(uid));
        return n ? hashmap_put(&d->uid_files, uid_key(uid), (void *)(uintptr_t)n) : 0;
}

bool device_name_valid(const char *name)
{
        size_t len = strlen(name);
        const char *comp = name;

        if (len == 0 || len > 64)
                return false;
        for (const char *p = name;; p++) {
                if (*p == '/' || *p == '\0') {
                        size_t n = (size_t)(p - comp);
                        if (n == 0 || (n == 1 && comp[0] == '.') || (n == 2 && !strncmp(comp, "..", 2)))
                                return false;
                        if (*p == '\0')
                                return true;
                        comp = p + 1;
                } else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                             (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-')) {
                        return false;
                }
        }
}

void device_init(struct device *d, struct registry *r, struct token_table *t, const struct limits *l)
{
        memset(d, 0, sizeof(*d));
        d->registry = r;
        d->tokens = t;
        d->limits = l;
        d->protocol_version = BS_PROTOCOL_VERSION;
        list_init(&d->files);
        hashmap_init(&d->uid_files);
}

void device_set_poll(struct device *d, struct event_base *base, const struct device_poll_ops *ops)
{
        d->base = base;
        d->poll_ops = ops;
}

void device_set_sync(struct device *d, const struct device_sync_ops *ops)
{
        d->sync_ops = ops;
}

static void watch_end(struct device *d, struct dev_file *f, bool wake);
static void waits_end(struct device *d, struct dev_file *f, int status);

void device_done(struct device *d)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &d->files)
                device_close(d, container_of(pos, struct dev_file, link));
        hashmap_done(&d->uid_files);
}

int device_open(struct device *d, pid_t pid, uid_t uid, gid_t gid, struct dev_file **ret)
{
        char comm[BS_COMM_LEN];
        unsigned n_uid = uid_files_of(d, uid);
        struct dev_file *f;
        int r;

        r = limits_check_connections(d->limits, d->n_files, n_uid);
        if (r < 0)
                return r;
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        r = uid_files_set(d, uid, n_uid + 1);
        if (r < 0) {
                free(f);
                return r;
        }
        procfs_comm(pid, comm, sizeof(comm));
        registry_holder_init(d->registry, &f->holder, pid, uid, gid, comm);
        f->device = d;
        f->watch.fd = -EBADF;
        list_init(&f->tokens);
        list_init(&f->waits);
        list_insert_tail(&d->files, &f->link);
        d->n_files++;
        *ret = f;
        log_debug("device file %llu opened: pid %d, uid %u", (unsigned long long)f->holder.id, (int)pid,
                  (unsigned)uid);
        return 0;
}

void device_close(struct device *d, struct dev_file *f)
{
        if (!f)
                return;
        watch_end(d, f, false); /* nobody polls a closed file */
        /* the kernel holds a file in an ioctl, so only a connection
         * that went away (device_done()) closes one with starts waiting */
        waits_end(d, f, -EBADF);
        token_drop_origin(d->tokens, &f->tokens);
        registry_holder_drop(d->registry, &f->holder);
        registry_flush(d->registry);
        /* shrinking never fails: a removal only frees */
        uid_files_set(d, f->holder.uid, uid_files_of(d, f->holder.uid) - 1);
        list_remove(&f->link);
        d->n_files--;
        log_debug("device file %llu closed", (unsigned long long)f->holder.id);
        free(f);
}

/* ---- the ioctls ------------------------------------------------------ */

#define STR_OK(field) bs_string_valid((field), sizeof(field))

static int do_version(struct device *d, struct bufshare_version *v)
{
        v->api_version = BUFSHARE_IOCTL_API_VERSION;
        v->protocol_version = d->protocol_version;
        v->features = 0;
        v->token_lifetime_ms = (uint32_t)(d->tokens->lifetime_ns / 1000000u);
        return 0;
}

static int do_alloc(struct device *d, struct dev_file *f, struct bufshare_alloc *a)
{
        uint64_t token[2];
        struct buffer *b;
        int r;

        if (a->flags || !STR_OK(a->heap) || !STR_OK(a->name))
                return -EINVAL;
        r = registry_export(d->registry, &f->holder, a->size, a->heap[0] ? a->heap : "system", a->name,
                            &b);
        if (r == -ENFILE)
                return -EMFILE; /* the daemon's fds, told as the socket tells it */
        if (r < 0)
                return r;
        r = token_issue(d->tokens, &f->tokens, &f->holder, f->holder.uid, b->ident.id, token_now_ns(),
                        token);
        if (r < 0) {
                registry_release(d->registry, &f->holder, b->ident.id, false);
                registry_flush(d->registry);
                return r;
        }
        a->size = b->ident.size;
        a->id = b->ident.id;
        a->token[0] = token[0];
        a->token[1] = token[1];
        explicit_bzero(token, sizeof(token));
        log_debug("device file %llu allocated buffer %llu, %llu bytes", (unsigned long long)f->holder.id,
                  (unsigned long long)a->id, (unsigned long long)a->size);
        return 0;
}

static int do_info(struct device *d, struct dev_file *f, struct bufshare_info *i)
{
        struct registry_info info;
        int r;

        r = registry_get_info(d->registry, &f->holder, i->id, &info);
        if (r < 0)
                return r;
        i->size = info.ident.size;
        i->created_ns = info.ident.created_ns;
        i->exporter_pid = info.ident.exporter_pid;
        i->exporter_uid = info.ident.exporter_uid;
        i->n_refs = info.n_refs;
        i->flags = f->bound_id == i->id ? BUFSHARE_INFO_BOUND : 0;
        memcpy(i->heap, info.ident.heap, sizeof(i->heap));
        memcpy(i->name, info.ident.name, sizeof(i->name));
        memcpy(i->exporter_comm, info.ident.exporter_comm, sizeof(i->exporter_comm));
        return 0;
}

static int do_set_name(struct device *d, struct dev_file *f, const struct bufshare_set_name *n)
{
        if (!STR_OK(n->name))
                return -EINVAL;
        return registry_set_name(d->registry, &f->holder, n->id, n->name);
}

static int wait_start(struct device *d, struct dev_file *f, uint64_t id, uint32_t flags, void *handle,
                      struct dev_wait **ret);

static int do_sync(struct device *d, struct dev_file *f, const struct bufshare_sync *s, void *handle,
                   struct dev_wait **ret_wait)
{
        uint32_t flags = (uint32_t)(s->flags & BUFSHARE_SYNC_RW);
        int r;

        /* dma_buf_ioctl()'s checks, in its order */
        if (s->flags & ~(uint64_t)BUFSHARE_SYNC_VALID_FLAGS_MASK)
                return -EINVAL;
        if (!(s->flags & BUFSHARE_SYNC_RW))
                return -EINVAL;
        if (s->flags & BUFSHARE_SYNC_END)
                return registry_cpu_access(d->registry, &f->holder, s->id, flags, CPU_ACCESS_END);
        /* dma_buf_begin_cpu_access(): wait for the conflicting fences */
        r = registry_cpu_access(d->registry, &f->holder, s->id, flags, CPU_ACCESS_BEGIN_IDLE);
        if (r != -EBUSY)
                return r;
        if (!handle || !d->base || !d->sync_ops)
                return -EAGAIN; /* nobody to answer later */
        r = wait_start(d, f, s->id, flags, handle, ret_wait);
        return r < 0 ? r : DEVICE_IOCTL_WAITING;
}

static int do_bind(struct device *d, struct dev_file *f, const struct bufshare_bind *bind)
{
        struct buffer *b;
        int r;

        if (bind->id == 0) {
                if (bind->offset)
                        return -EINVAL;
                watch_end(d, f, true);
                f->bound_id = 0;
                f->pos = f->start = 0;
                return 0;
        }
        r = registry_held(d->registry, &f->holder, bind->id, &b);
        if (r < 0)
                return r;
        if (bind->offset > b->ident.size)
                return -EINVAL;
        if (bind->id != f->bound_id)
                watch_end(d, f, true); /* its pollers look at another buffer now */
        f->bound_id = bind->id;
        f->pos = f->start = bind->offset;
        return 0;
}

static void waits_end_on(struct device *d, struct dev_file *f, uint64_t id, int status);

static int do_release(struct device *d, struct dev_file *f, const struct bufshare_release *rel)
{
        struct buffer *b;
        int r;

        if (rel->flags)
                return -EINVAL;
        r = registry_release(d->registry, &f->holder, rel->id, false);
        if (r < 0)
                return r;
        if (registry_held(d->registry, &f->holder, rel->id, &b) == 0)
                return 0; /* another reference of this file remains */
        token_drop_buffer(d->tokens, &f->tokens, rel->id);
        waits_end_on(d, f, rel->id, -ENOENT); /* what a start asked now gets */
        if (f->bound_id == rel->id) {
                watch_end(d, f, true); /* its pollers get POLLERR now */
                f->bound_id = 0;
                f->pos = f->start = 0;
        }
        registry_flush(d->registry);
        return 0;
}

int device_ioctl(struct device *d, struct dev_file *f, uint32_t cmd, const void *in, size_t in_len,
                 void *out, size_t *out_len, void *handle, struct dev_wait **ret_wait)
{
        const struct ioctl_desc *desc = ioctl_lookup(cmd);
        union {
                unsigned char bytes[IOCTL_ARG_MAX];
                struct bufshare_version version;
                struct bufshare_alloc alloc;
                struct bufshare_info info;
                struct bufshare_set_name set_name;
                struct bufshare_sync sync;
                struct bufshare_bind bind;
                struct bufshare_release release;
        } k;
        size_t n;
        int r;

        if (!desc)
                return -ENOTTY;
        r = ioctl_copy_in(desc, cmd, in, in_len, &k);
        if (r < 0)
                return r;
        switch (desc->cmd) {
        case BUFSHARE_IOCTL_VERSION:
                r = do_version(d, &k.version);
                break;
        case BUFSHARE_IOCTL_ALLOC:
                r = do_alloc(d, f, &k.alloc);
                break;
        case BUFSHARE_IOCTL_INFO:
                r = do_info(d, f, &k.info);
                break;
        case BUFSHARE_IOCTL_SET_NAME:
                r = do_set_name(d, f, &k.set_name);
                break;
        case BUFSHARE_IOCTL_SYNC:
                r = do_sync(d, f, &k.sync, handle, ret_wait);
                if (r == DEVICE_IOCTL_WAITING)
                        return r; /* _IOW: nothing to copy back, then or now */
                break;
        case BUFSHARE_IOCTL_BIND:
                r = do_bind(d, f, &k.bind);
                break;
        case BUFSHARE_IOCTL_RELEASE:
                r = do_release(d, f, &k.release);
                break;
        default:
                r = -ENOTTY;
        }
        if (r < 0)
                return r;
        /* the caller's size: a shorter struct gets its prefix, a longer one
         * this version's struct and zeroes */
        *out_len = ioctl_out_size(cmd);
        n = *out_len < desc->size ? *out_len : desc->size;
        memset(out, 0, *out_len);
        memcpy(out, &k, n);
        return 0;
}

/* ---- read, write, poll on a bound file --------------------------------- */

/* The bound buffer and the position of this request. */
static int bound_at(struct device *d, struct dev_file *f, uint64_t off, struct buffer **ret, uint64_t *ret_pos)
{
        int r;

        if (!f->bound_id)
                return -ENXIO;
        r = registry_held(d->registry, &f->holder, f->bound_id, ret);
        if (r < 0)
                return -ENXIO;
        if (off == 0)
                f->start = f->pos; /* a new syscall */
        *ret_pos = f->start + off;
        return 0;
}

/* One read or write request: bounded by the buffer's end, which a write
 * at or past gets -ENOSPC for and a read 0. */
static ssize_t device_io(struct device *d, struct dev_file *f, uint64_t off, void *buf, size_t size, bool write)
{
        struct buffer *b;
        uint64_t pos;
        ssize_t n;
        int r;

        r = bound_at(d, f, off, &b, &pos);
        if (r < 0)
                return r;
        if (pos >= b->ident.size)
                return write ? -ENOSPC : 0;
        if (size > b->ident.size - pos)
                size = (size_t)(b->ident.size - pos);
        n = write ? pwrite(b->fd, buf, size, (off_t)pos) : pread(b->fd, buf, size, (off_t)pos);
        if (n < 0)
                return -errno;
        f->pos = pos + (uint64_t)n;
        return n;
}

ssize_t device_read(struct device *d, struct dev_file *f, uint64_t off, void *buf, size_t size)
{
        return device_io(d, f, off, buf, size, false);
}

ssize_t device_write(struct device *d, struct dev_file *f, uint64_t off, const void *buf, size_t size)
{
        return device_io(d, f, off, (void *)buf, size, true);
}

/* ---- poll: the bound buffer's fences, as dma_buf_poll() reports them --- */

#define POLL_READ (POLLIN | POLLRDNORM)
#define POLL_WRITE (POLLOUT | POLLWRNORM)

static void handle_release(struct device *d, void *handle)
{
        if (handle && d->poll_ops)
                d->poll_ops->release(handle);
}

/* End @f's watch, if it has one: the sync file closed (and freed in the
 * registry if still pending), the event freed, the handle released;
 * with @wake its pollers are woken first, to poll again. */
static void watch_end(struct device *d, struct dev_file *f, bool wake)
{
        struct dev_watch *w = &f->watch;

        if (!w->ev)
                return;
        event_free(w->ev);
        registry_sync_file_close(d->registry, &f->holder, TAKE_FD(w->fd));
        if (wake)
                d->poll_ops->notify(w->handle);
        handle_release(d, w->handle);
        *w = (struct dev_watch){ .fd = -EBADF };
}

/* The sync file signalled: what the pollers wait for may be there. */
static void watch_fired(evutil_socket_t fd, short what, void *userdata)
{
        struct dev_file *f = userdata;

        (void)fd;
        (void)what;
        watch_end(f->device, f, true);
}

/* A sync file of @f's on buffer @id for access with BS_WIRE_SYNC_* @flags,
 * watched on the loop: @cb(@arg) runs once it signals. What poll's watch
 * and a waiting SYNC start both wait on. */
static int sync_watch(struct device *d, struct dev_file *f, uint64_t id, uint32_t flags,
                      event_callback_fn cb, void *arg, int *ret_fd, struct event **ret_ev)
{
        struct event *ev;
        int fd, r;

        /* the daemon's own: it wakes when the books say so */
        r = registry_export_sync_file(d->registry, &f->holder, id, flags | BS_WIRE_SYNC_DAEMON, &fd);
        if (r < 0)
                return r;
        ev = event_new(d->base, fd, EV_READ, cb, arg);
        if (!ev || event_add(ev, NULL) < 0) {
                if (ev)
                        event_free(ev);
                registry_sync_file_close(d->registry, &f->holder, fd);
                return -ENOMEM;
        }
        *ret_fd = fd;
        *ret_ev = ev;
        return 0;
}

/* A watch for @f with BS_WIRE_SYNC_* @flags, holding @handle. */
static int watch_start(struct device *d, struct dev_file *f, uint32_t flags, void *handle)
{
        struct event *ev;
        int fd, r;

        r = sync_watch(d, f, f->bound_id, flags, watch_fired, f, &fd, &ev);
        if (r < 0)
                return r;
        f->watch = (struct dev_watch){ .fd = fd, .ev = ev, .flags = flags, .handle = handle };
        return 0;
}

unsigned device_poll(struct device *d, struct dev_file *f, unsigned events, void *handle)
{
        unsigned ready = 0, unmet = 0;
        struct buffer *b;
        uint32_t flags;
        int r;

        if (!f->bound_id || registry_held(d->registry, &f->holder, f->bound_id, &b) < 0) {
                handle_release(d, handle);
                return POLLERR;
        }
        if (!registry_buffer_busy(b, BS_WIRE_SYNC_READ))
                ready |= POLL_READ;
        if (!registry_buffer_busy(b, BS_WIRE_SYNC_WRITE))
                ready |= POLL_WRITE;
        if (events == 0)
                events = POLL_READ | POLL_WRITE;
        if ((events & POLL_READ) && !(ready & POLLIN))
                unmet |= POLLIN;
        if ((events & POLL_WRITE) && !(ready & POLLOUT))
                unmet |= POLLOUT;
        if (!unmet || !handle || !d->base) {
                handle_release(d, handle);
                return ready;
        }
        /* wait for the first change: no write fence pending comes before
         * (or with) no fence at all */
        flags = (unmet & POLLIN) ? BS_WIRE_SYNC_READ : BS_WIRE_SYNC_WRITE;
        if (f->watch.ev && (f->watch.flags == BS_WIRE_SYNC_READ || flags == BS_WIRE_SYNC_WRITE)) {
                /* the watch there fires no later, and one notification
                 * wakes every poller of the file: it takes this handle */
                handle_release(d, f->watch.handle);
                f->watch.handle = handle;
                return ready;
        }
        /* one that would fire later goes first, its sync file with it:
         * a file never holds more than one */
        watch_end(d, f, false);
        r = watch_start(d, f, flags, handle);
        if (r < 0) {
                log_debug("device file %llu: no poll watch on buffer %llu: %s",
                          (unsigned long long)f->holder.id, (unsigned long long)f->bound_id, strerror(-r));
                /* nothing would wake anyone who waited: wake them now */
                d->poll_ops->notify(handle);
                handle_release(d, handle);
                return ready | POLLERR;
        }
        return ready;
}

/* ---- SYNC starts waiting for fences ------------------------------------ */

static void wait_fired(evutil_socket_t fd, short what, void *userdata);

/* Stop watching: @w's sync file freed in the registry, its event gone. */
static void wait_unwatch(struct device *d, struct dev_wait *w)
{
        if (!w->ev)
                return;
        event_free(w->ev);
        w->ev = NULL;
        registry_sync_file_close(d->registry, &w->file->holder, TAKE_FD(w->fd));
}

/* Answer @w's request with @status and forget it: the only way out. */
static void wait_answer(struct device *d, struct dev_wait *w, int status)
{
        void *handle = w->handle;

        wait_unwatch(d, w);
        list_remove(&w->link);
        log_debug("device file %llu: SYNC start on buffer %llu answered after waiting: %d",
                  (unsigned long long)w->file->holder.id, (unsigned long long)w->id, status);
        free(w);
        d->sync_ops->answer(handle, status);
}

/* Ask the registry again; still busy (a fence attached since): wait on. */
static void wait_retry(struct device *d, struct dev_wait *w)
{
        struct dev_file *f = w->file;
        int r;

        wait_unwatch(d, w);
        r = registry_cpu_access(d->registry, &f->holder, w->id, w->flags, CPU_ACCESS_BEGIN_IDLE);
        if (r == -EBUSY) {
                r = sync_watch(d, f, w->id, w->flags, wait_fired, w, &w->fd, &w->ev);
                if (r == 0)
                        return;
        }
        wait_answer(d, w, r);
}

/* The sync file signalled, whatever its status, or the wait was told to
 * end (event_active()). */
static void wait_fired(evutil_socket_t fd, short what, void *userdata)
{
        struct dev_wait *w = userdata;
        struct device *d = w->file->device;

        (void)fd;
        (void)what;
        if (w->ending)
                wait_answer(d, w, w->ending);
        else
                wait_retry(d, w);
}

static int wait_start(struct device *d, struct dev_file *f, uint64_t id, uint32_t flags, void *handle,
                      struct dev_wait **ret)
{
        struct dev_wait *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        *w = (struct dev_wait){ .file = f, .id = id, .flags = flags, .fd = -EBADF, .handle = handle };
        r = sync_watch(d, f, id, flags, wait_fired, w, &w->fd, &w->ev);
        if (r < 0) {
                log_debug("device file %llu: a SYNC start can't wait on buffer %llu: %s",
                          (unsigned long long)f->holder.id, (unsigned long long)id, strerror(-r));
                free(w);
                return r;
        }
        list_insert_tail(&f->waits, &w->link);
        *ret = w;
        return 0;
}

void device_sync_interrupt(struct device *d, struct dev_wait *w)
{
        (void)d;
        /* not answered here: libfuse holds the request's lock around this
         * callback and frees the request on the answer; the loop answers */
        w->ending = -EINTR;
        if (w->ev) /* always, between the loop's turns */
                event_active(w->ev, EV_TIMEOUT, 0);
}

static void waits_end_on(struct device *d, struct dev_file *f, uint64_t id, int status)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &f->waits) {
                struct dev_wait *w = container_of(pos, struct dev_wait, link);
                if (w->id == id)
                        wait_answer(d, w, status);
        }
}

static void waits_end(struct device *d, struct dev_file *f, int status)
{
        while (!list_empty(&f->waits))
                wait_answer(d, container_of(f->waits.next, struct dev_wait, link), status);
}

void device_sync_cancel(struct device *d, int status)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &d->files)
                waits_end(d, container_of(pos, struct dev_file, link), status);
}
