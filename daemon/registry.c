/* SPDX-License-Identifier: MIT */
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "heap.h"
#include "log.h"
#include "util.h"

static struct hm_key id_key(uint64_t id)
{
        return (struct hm_key){ id, 0 };
}

static struct hm_key inode_key(dev_t dev, ino_t ino)
{
        return (struct hm_key){ (uint64_t)dev, (uint64_t)ino };
}

static uint64_t now_realtime_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int registry_init(struct registry *r, const struct limits *limits)
{
        memset(r, 0, sizeof(*r));
        r->limits = limits;
        r->next_id = 1;
        r->next_attachment_id = 1;
        hashmap_init(&r->by_id);
        hashmap_init(&r->by_inode);
        hashmap_init(&r->attachments);
        hashmap_init(&r->uid_bytes);
        hashmap_init(&r->released_by_inode);
        r->released = calloc(REGISTRY_RELEASED_MAX, sizeof(*r->released));
        return r->released ? 0 : -ENOMEM;
}

void holder_init(struct holder *h, pid_t pid, uid_t uid, gid_t gid, const char *comm)
{
        memset(h, 0, sizeof(*h));
        h->pid = pid;
        h->uid = uid;
        h->gid = gid;
        snprintf(h->comm, sizeof(h->comm), "%s", comm ? comm : "");
        list_init(&h->refs);
        list_init(&h->attachments);
}

struct uid_usage {
        uint64_t bytes;
};

uint64_t registry_uid_bytes(struct registry *r, uid_t uid)
{
        struct uid_usage *u = hashmap_get(&r->uid_bytes, id_key(uid));
        return u ? u->bytes : 0;
}

/* Charge @bytes to @uid, within its limit. */
static int uid_charge(struct registry *r, uid_t uid, uint64_t bytes)
{
        struct uid_usage *u = hashmap_get(&r->uid_bytes, id_key(uid));
        int ret = limits_check_bytes(r->limits, u ? u->bytes : 0, bytes);

        if (ret < 0)
                return ret;
        if (!u) {
                u = calloc(1, sizeof(*u));
                if (!u)
                        return -ENOMEM;
                ret = hashmap_put(&r->uid_bytes, id_key(uid), u);
                if (ret < 0) {
                        free(u);
                        return ret;
                }
        }
        u->bytes += bytes;
        return 0;
}

static void uid_uncharge(struct registry *r, uid_t uid, uint64_t bytes)
{
        struct uid_usage *u = hashmap_get(&r->uid_bytes, id_key(uid));

        if (!u)
                return;
        u->bytes -= bytes;
        if (u->bytes == 0)
                free(hashmap_remove(&r->uid_bytes, id_key(uid)));
}

static void buffer_free(struct buffer *b)
{
        if (!b)
                return;
        safe_close(b->fd);
        free(b);
}

/* Free @b but keep its fd for registry_flush(), or close it now if the
 * list can't grow. */
static void buffer_free_later(struct registry *r, struct buffer *b)
{
        if (r->n_closing == r->closing_cap) {
                unsigned cap = r->closing_cap ? 2 * r->closing_cap : 64;
                int *c = realloc(r->closing, cap * sizeof(*c));
                if (!c) {
                        buffer_free(b);
                        return;
                }
                r->closing = c;
                r->closing_cap = cap;
        }
        r->closing[r->n_closing++] = b->fd;
        b->fd = -EBADF;
        free(b);
}

void registry_flush(struct registry *r)
{
        for (unsigned i = 0; i < r->n_closing; i++)
                safe_close(r->closing[i]);
        r->n_closing = 0;
}

/* Remember @id so its fd can still be imported back under its id. */
static void released_remember_ident(struct registry *r, const struct buffer_ident *id)
{
        struct released *e, *prev;
        unsigned slot;

        if (r->released_len == REGISTRY_RELEASED_MAX) {
                /* the ring is full: forget the oldest */
                e = &r->released[r->released_head];
                if (hashmap_get(&r->released_by_inode, inode_key(e->ident.dev, e->ident.ino)) == e)
                        hashmap_remove(&r->released_by_inode, inode_key(e->ident.dev, e->ident.ino));
                r->released_head = (r->released_head + 1) % REGISTRY_RELEASED_MAX;
                r->released_len--;
        }
        slot = (r->released_head + r->released_len) % REGISTRY_RELEASED_MAX;
        e = &r->released[slot];
        /* an older entry for a reused inode number is replaced */
        prev = hashmap_remove(&r->released_by_inode, inode_key(id->dev, id->ino));
        if (prev)
                prev->ident.id = 0;
        e->ident = *id;
        if (hashmap_put(&r->released_by_inode, inode_key(id->dev, id->ino), e) < 0)
                e->ident.id = 0; /* out of memory: it just comes back as adopted */
        r->released_len++;
}

/* Take @dev/@ino out of the released table; its entry stays in the ring
 * with id 0, which marks it dead. */
static struct released *released_take(struct registry *r, dev_t dev, ino_t ino)
{
        struct released *e = hashmap_remove(&r->released_by_inode, inode_key(dev, ino));
        return e && e->ident.id ? e : NULL;
}

/* Put a new buffer into both indexes and charge its bytes to its
 * exporter's uid; on error none of it is done. */
static int buffer_index(struct registry *r, struct buffer *b)
{
        int ret = uid_charge(r, b->ident.exporter_uid, b->ident.size);
        if (ret < 0)
                return ret;
        ret = hashmap_put(&r->by_id, id_key(b->ident.id), b);
        if (ret < 0)
                goto err_uncharge;
        ret = hashmap_put(&r->by_inode, inode_key(b->ident.dev, b->ident.ino), b);
        if (ret < 0)
                goto err_by_id;
        r->n_buffers++;
        r->n_bytes += b->ident.size;
        return 0;

err_by_id:
        hashmap_remove(&r->by_id, id_key(b->ident.id));
err_uncharge:
        uid_uncharge(r, b->ident.exporter_uid, b->ident.size);
        return ret;
}

static void buffer_unindex(struct registry *r, struct buffer *b)
{
        hashmap_remove(&r->by_id, id_key(b->ident.id));
        hashmap_remove(&r->by_inode, inode_key(b->ident.dev, b->ident.ino));
        uid_uncharge(r, b->ident.exporter_uid, b->ident.size);
        r->n_buffers--;
        r->n_bytes -= b->ident.size;
}

/* The only way out of the registry (STYLE D2). */
static void buffer_maybe_release(struct registry *r, struct buffer *b)
{
        if (b->n_refs > 0)
                return;
        buffer_unindex(r, b);
        released_remember_ident(r, &b->ident);
        log_debug("buffer %llu released (last reference gone)", (unsigned long long)b->ident.id);
        buffer_free_later(r, b);
}

static struct ref *ref_find(struct buffer *b, const struct holder *h)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &b->refs) {
                struct ref *ref = container_of(pos, struct ref, buffer_link);
                if (ref->holder == h)
                        return ref;
        }
        return NULL;
}

static void attachment_free(struct registry *r, struct attachment *a)
{
        hashmap_remove(&r->attachments, id_key(a->id));
        list_remove(&a->buffer_link);
        list_remove(&a->holder_link);
        free(a);
}

/* @h's last reference on @b went: its attachments on @b go with it. */
static void holder_detach_buffer(struct registry *r, struct holder *h, struct buffer *b)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &b->attachments) {
                struct attachment *a = container_of(pos, struct attachment, buffer_link);
                if (a->holder == h)
                        attachment_free(r, a);
        }
}

/* One more reference for @h on @b; -EMFILE if @b is new to @h and @h
 * holds its limit of buffers already. */
static int ref_add(struct registry *r, struct buffer *b, struct holder *h, bool readonly)
{
        struct ref *ref = ref_find(b, h);

        if (!ref) {
                int ret = limits_check_buffers(r->limits, h->n_buffers);
                if (ret < 0)
                        return ret;
                ref = calloc(1, sizeof(*ref));
                if (!ref)
                        return -ENOMEM;
                ref->buffer = b;
                ref->holder = h;
                list_insert_tail(&b->refs, &ref->buffer_link);
                list_insert_tail(&h->refs, &ref->holder_link);
                h->n_buffers++;
        }
        ref->count++;
        if (readonly)
                ref->ro_count++;
        b->n_refs++;
        return 0;
}

/* Drop @n of @ref's references, @n_ro of them read-only; when none is
 * left, @ref goes with its CPU access and its holder's attachments. */
static void ref_drop(struct registry *r, struct ref *ref, unsigned n, unsigned n_ro)
{
        struct buffer *b = ref->buffer;

        ref->count -= n;
        ref->ro_count -= n_ro;
        b->n_refs -= n;
        if (ref->count == 0) {
                holder_detach_buffer(r, ref->holder, b);
                list_remove(&ref->buffer_link);
                list_remove(&ref->holder_link);
                ref->holder->n_buffers--;
                free(ref);
        }
        buffer_maybe_release(r, b);
}

static bool ref_writable(const struct ref *ref)
{
        return ref && ref->count > ref->ro_count;
}

static struct buffer *buffer_new(int fd, const struct buffer_ident *ident, bool readonly_inode)
{
        struct buffer *b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        b->fd = fd;
        b->ident = *ident;
        b->readonly_inode = readonly_inode;
        list_init(&b->refs);
        list_init(&b->attachments);
        return b;
}

static void ident_set_exporter(struct buffer_ident *id, const struct holder *h)
{
        id->exporter_pid = h->pid;
        id->exporter_uid = h->uid;
        memcpy(id->exporter_comm, h->comm, sizeof(id->exporter_comm));
        id->created_ns = now_realtime_ns();
}

/* Index @b and give @h its first reference; on error @b is freed, its fd
 * closed only if @owns_fd. */
static int buffer_add(struct registry *r, struct holder *h, struct buffer *b, bool owns_fd,
                      bool readonly)
{
        int ret = limits_check_buffers(r->limits, h->n_buffers);

        if (ret == 0)
                ret = buffer_index(r, b);
        if (ret == 0) {
                ret = ref_add(r, b, h, readonly);
                if (ret == 0)
                        return 0;
                buffer_unindex(r, b);
        }
        if (!owns_fd)
                b->fd = -EBADF;
        buffer_free(b);
        return ret;
}

/* A new buffer under the next id from @fd (taken on success) and @id,
 * with @h's first reference. */
static int buffer_create(struct registry *r, struct holder *h, int *fd, const struct buffer_ident *id,
                         bool readonly_inode, struct buffer **ret)
{
        struct buffer *b = buffer_new(*fd, id, readonly_inode);
        int ret_;

        if (!b)
                return -ENOMEM;
        *fd = -EBADF;
        ret_ = buffer_add(r, h, b, true, false);
        if (ret_ < 0)
                return ret_;
        r->next_id++;
        *ret = b;
        return 0;
}

int registry_export(struct registry *r, struct holder *h, uint64_t size, const char *heap,
                    const char *name, struct buffer **ret)
{
        _cleanup_close_ int fd = -EBADF;
        struct buffer_ident id = { .id = r->next_id };
        struct stat st;
        int ret_;

        if (!heap[0])
                return -EINVAL; /* a missing field, not an unknown heap */
        ret_ = heap_lookup(heap);
        if (ret_ < 0)
                return ret_;
        ret_ = limits_check_size(r->limits, size);
        if (ret_ < 0)
                return ret_;
        if (bs_string_set(id.name, sizeof(id.name), name) < 0)
                return -EINVAL;
        snprintf(id.heap, sizeof(id.heap), "%s", heap);
        /* refused before anything is allocated (a rough check on the
         * requested size; the rounded one is charged below) */
        ret_ = limits_check_buffers(r->limits, h->n_buffers);
        if (ret_ < 0)
                return ret_;
        ret_ = limits_check_bytes(r->limits, registry_uid_bytes(r, h->uid), size);
        if (ret_ < 0)
                return ret_;

        ret_ = heap_alloc(heap, id.id, size, &fd, &id.size);
        if (ret_ < 0)
                return ret_;
        if (fstat(fd, &st) < 0)
                return -errno;
        id.dev = st.st_dev;
        id.ino = st.st_ino;
        ident_set_exporter(&id, h);

        return buffer_create(r, h, &fd, &id, true /* heap_alloc() made it 0444 */, ret);
}

/* Register again a buffer whose fd was imported after its release. */
static int buffer_register_again(struct registry *r, struct holder *h, int *fd, bool readonly,
                                 struct buffer **ret)
{
        struct buffer_ident id = {};
        struct released *old;
        struct buffer *b;
        uint64_t memfd_id = 0;
        int ret_;

        ret_ = heap_check_sealed(*fd, &id.size, &id.dev, &id.ino);
        if (ret_ < 0)
                return ret_;
        if (limits_check_size(r->limits, id.size) < 0)
                return -EFBIG;

        old = released_take(r, id.dev, id.ino);
        /* trust the old identity only if the memfd still carries its name:
         * an inode number can be reused by an unrelated memfd */
        if (old && (heap_memfd_id(*fd, &memfd_id) < 0 || memfd_id != old->ident.id ||
                    old->ident.size != id.size))
                old = NULL;
        if (old) {
                id = old->ident;
                old->ident.id = 0;
        } else {
                id.id = r->next_id;
                snprintf(id.heap, sizeof(id.heap), "adopted");
                ident_set_exporter(&id, h);
        }

        b = buffer_new(*fd, &id, heap_inode_readonly(*fd));
        if (!b)
                return -ENOMEM;
        if (readonly && !b->readonly_inode) {
                b->fd = -EBADF;
                buffer_free(b);
                return -EPERM;
        }
        ret_ = buffer_add(r, h, b, false, readonly);
        if (ret_ < 0) {
                if (old)
                        released_remember_ident(r, &id);
                return ret_;
        }
        if (!old)
                r->next_id++;
        log_info("buffer %llu registered again from an imported fd (%s)", (unsigned long long)id.id,
                 old ? "recently released" : "adopted");
        *fd = -EBADF; /* the buffer owns it now */
        *ret = b;
        return 0;
}

int registry_import(struct registry *r, struct holder *h, int fd_, struct buffer **ret,
                    bool *ret_readonly)
{
        _cleanup_close_ int fd = fd_;
        struct buffer *b;
        struct stat st;
        bool readonly;
        int ret_, fl;

        if (fd < 0)
                return -EBADF;
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fstat(fd, &st) < 0)
                return -errno;
        /* the fd is the capability: a read-only fd gives a read-only reference */
        readonly = (fl & O_ACCMODE) == O_RDONLY;
        b = hashmap_get(&r->by_inode, inode_key(st.st_dev, st.st_ino));
        if (!b)
                ret_ = buffer_register_again(r, h, &fd, readonly, &b);
        else if (readonly && !b->readonly_inode)
                ret_ = -EPERM; /* this inode could be reopened writable */
        else
                ret_ = ref_add(r, b, h, readonly);
        if (ret_ < 0)
                return ret_;
        *ret = b;
        *ret_readonly = readonly;
        return 0;
}

int registry_export_memfd(struct registry *r, struct holder *h, int fd_, const char *name,
                          struct buffer **ret)
{
        _cleanup_close_ int fd = fd_;
        struct buffer_ident id = { .id = r->next_id };
        bool readonly_inode;
        int ret_;

        if (fd < 0)
                return -EBADF;
        if (bs_string_set(id.name, sizeof(id.name), name) < 0)
                return -EINVAL;
        ret_ = limits_check_buffers(r->limits, h->n_buffers);
        if (ret_ < 0)
                return ret_;
        ret_ = heap_adopt(fd, r->limits->max_buffer_size, &id.size, &id.dev, &id.ino, &readonly_inode);
        if (ret_ < 0)
                return ret_;
        if (hashmap_get(&r->by_inode, inode_key(id.dev, id.ino)))
                return -EEXIST;
        snprintf(id.heap, sizeof(id.heap), "adopted");
        ident_set_exporter(&id, h);

        return buffer_create(r, h, &fd, &id, readonly_inode, ret);
}

int registry_release(struct registry *r, struct holder *h, uint64_t id, bool readonly)
{
        struct buffer *b = hashmap_get(&r->by_id, id_key(id));
        struct ref *ref;

        if (!b)
                return -ENOENT;
        ref = ref_find(b, h);
        if (!ref || (readonly ? ref->ro_count == 0 : !ref_writable(ref)))
                return -ENOENT;
        ref_drop(r, ref, 1, readonly ? 1 : 0);
        return 0;
}

#define SYNC_VALID (BS_WIRE_SYNC_READ | BS_WIRE_SYNC_WRITE)

int registry_cpu_access(struct registry *r, struct holder *h, uint64_t id, uint32_t flags, bool begin)
{
        struct buffer *b = hashmap_get(&r->by_id, id_key(id));
        struct ref *ref = b ? ref_find(b, h) : NULL;

        if (flags == 0 || (flags & ~SYNC_VALID))
                return -EINVAL;
        if (!ref)
                return -ENOENT;
        if (!begin) {
                if (((flags & BS_WIRE_SYNC_READ) && ref->cpu_read == 0) ||
                    ((flags & BS_WIRE_SYNC_WRITE) && ref->cpu_write == 0))
                        return -EINVAL; /* no matching begin */
                if (flags & BS_WIRE_SYNC_READ)
                        ref->cpu_read--;
                if (flags & BS_WIRE_SYNC_WRITE)
                        ref->cpu_write--;
                return 0;
        }
        if ((flags & BS_WIRE_SYNC_WRITE) && !ref_writable(ref))
                return -EACCES;
        /* The one wait point: once fences exist, a write waits here for
         * every unsignalled fence, a read for write fences. Several
         * readers and writers may be inside at once, as with dma-buf:
         * begin/end bracket CPU access for synchronisation, they don't
         * lock. */
        if (flags & BS_WIRE_SYNC_READ)
                ref->cpu_read++;
        if (flags & BS_WIRE_SYNC_WRITE)
                ref->cpu_write++;
        return 0;
}

int registry_attach(struct registry *r, struct holder *h, uint64_t id, const char *device,
                    uint64_t max_segment, struct attachment **ret)
{
        struct buffer *b = hashmap_get(&r->by_id, id_key(id));
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        struct attachment *a;
        int ret_;

        if (!b || !ref_find(b, h))
                return -ENOENT;
        if (!device[0] || strlen(device) >= BS_NAME_LEN || max_segment % page != 0)
                return -EINVAL;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->id = r->next_attachment_id;
        a->buffer = b;
        a->holder = h;
        a->max_segment = max_segment;
        snprintf(a->device, sizeof(a->device), "%s", device);
        ret_ = hashmap_put(&r->attachments, id_key(a->id), a);
        if (ret_ < 0) {
                free(a);
                return ret_;
        }
        r->next_attachment_id++;
        list_insert_tail(&b->attachments, &a->buffer_link);
        list_insert_tail(&h->attachments, &a->holder_link);
        *ret = a;
        return 0;
}

static struct attachment *attachment_find(struct registry *r, struct holder *h, uint64_t id)
{
        struct attachment *a = hashmap_get(&r->attachments, id_key(id));
        return a && a->holder == h ? a : NULL;
}

int registry_detach(struct registry *r, struct holder *h, uint64_t attachment_id)
{
        struct attachment *a = attachment_find(r, h, attachment_id);

        if (!a)
                return -ENOENT;
        attachment_free(r, a);
        return 0;
}

int registry_map_attachment(struct registry *r, struct holder *h, uint64_t attachment_id,
                            uint32_t direction)
{
        struct attachment *a = attachment_find(r, h, attachment_id);

        if (!a)
                return -ENOENT;
        if (direction > DIR_FROM_DEVICE)
                return -EINVAL;
        if (a->mapped)
                return -EBUSY;
        /* a device that writes needs a writable reference */
        if (direction != DIR_TO_DEVICE && !ref_writable(ref_find(a->buffer, h)))
                return -EACCES;
        a->mapped = true;
        a->direction = (uint8_t)direction;
        return 0;
}

int registry_unmap_attachment(struct registry *r, struct holder *h, uint64_t attachment_id)
{
        struct attachment *a = attachment_find(r, h, attachment_id);

        if (!a)
                return -ENOENT;
        if (!a->mapped)
                return -EINVAL;
        a->mapped = false;
        return 0;
}

int registry_find(struct registry *r, const struct holder *h, uint64_t id, struct buffer **ret)
{
        struct buffer *b = hashmap_get(&r->by_id, id_key(id));

        if (!b)
                return -ENOENT;
        if (h->uid != 0 && h->uid != b->ident.exporter_uid && !ref_find(b, h))
                return -ENOENT;
        *ret = b;
        return 0;
}

int registry_set_name(struct registry *r, struct holder *h, uint64_t id, const char *name)
{
        struct buffer *b = hashmap_get(&r->by_id, id_key(id));
        struct ref *ref = b ? ref_find(b, h) : NULL;

        if (!ref)
                return -ENOENT;
        if (!ref_writable(ref))
                return -EACCES;
        if (strlen(name) >= BS_NAME_LEN)
                return -EINVAL;
        bs_string_set(b->ident.name, sizeof(b->ident.name), name);
        return 0;
}

void registry_holder_drop(struct registry *r, struct holder *h)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &h->attachments)
                attachment_free(r, container_of(pos, struct attachment, holder_link));
        list_for_each_safe(pos, tmp, &h->refs) {
                struct ref *ref = container_of(pos, struct ref, holder_link);
                ref_drop(r, ref, ref->count, ref->ro_count);
        }
}

void registry_done(struct registry *r)
{
        for (size_t i = 0; i < r->by_id.cap; i++) {
                struct buffer *b = r->by_id.slots[i].value;
                struct list *pos, *tmp;

                if (!b)
                        continue;
                list_for_each_safe(pos, tmp, &b->attachments)
                        attachment_free(r, container_of(pos, struct attachment, buffer_link));
                list_for_each_safe(pos, tmp, &b->refs) {
                        struct ref *ref = container_of(pos, struct ref, buffer_link);
                        list_remove(&ref->holder_link);
                        free(ref);
                }
                buffer_free(b);
        }
        for (size_t i = 0; i < r->uid_bytes.cap; i++)
                free(r->uid_bytes.slots[i].value);
        hashmap_done(&r->uid_bytes);
        hashmap_done(&r->attachments);
        hashmap_done(&r->by_id);
        hashmap_done(&r->by_inode);
        hashmap_done(&r->released_by_inode);
        free(r->released);
        r->released = NULL;
        registry_flush(r);
        free(r->closing);
        r->closing = NULL;
}
