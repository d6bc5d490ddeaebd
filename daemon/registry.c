/* SPDX-License-Identifier: MIT */
#include "registry.h"

#include <errno.h>
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
        hashmap_init(&r->by_id);
        hashmap_init(&r->by_inode);
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
}

static void buffer_free(struct buffer *b)
{
        if (!b)
                return;
        safe_close(b->fd);
        free(b);
}

/* Remember @b so its fd can still be imported back under its id. */
static void released_remember(struct registry *r, const struct buffer *b)
{
        const struct buffer_ident *id = &b->ident;
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

/* Put a new buffer into both indexes; on error it is in neither. */
static int buffer_index(struct registry *r, struct buffer *b)
{
        int ret = hashmap_put(&r->by_id, id_key(b->ident.id), b);
        if (ret < 0)
                return ret;
        ret = hashmap_put(&r->by_inode, inode_key(b->ident.dev, b->ident.ino), b);
        if (ret < 0) {
                hashmap_remove(&r->by_id, id_key(b->ident.id));
                return ret;
        }
        r->n_buffers++;
        r->n_bytes += b->ident.size;
        return 0;
}

static void buffer_unindex(struct registry *r, struct buffer *b)
{
        hashmap_remove(&r->by_id, id_key(b->ident.id));
        hashmap_remove(&r->by_inode, inode_key(b->ident.dev, b->ident.ino));
        r->n_buffers--;
        r->n_bytes -= b->ident.size;
}

/* The only way out of the registry (STYLE D2). */
static void buffer_maybe_release(struct registry *r, struct buffer *b)
{
        if (b->n_refs > 0)
                return;
        buffer_unindex(r, b);
        released_remember(r, b);
        log_debug("buffer %llu released (last reference gone)", (unsigned long long)b->ident.id);
        buffer_free(b);
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

static int ref_add(struct buffer *b, struct holder *h)
{
        struct ref *ref = ref_find(b, h);

        if (!ref) {
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
        b->n_refs++;
        return 0;
}

/* Drop @n of @ref's references; frees @ref when none is left. */
static void ref_drop(struct registry *r, struct ref *ref, unsigned n)
{
        struct buffer *b = ref->buffer;

        ref->count -= n;
        b->n_refs -= n;
        if (ref->count == 0) {
                list_remove(&ref->buffer_link);
                list_remove(&ref->holder_link);
                ref->holder->n_buffers--;
                free(ref);
        }
        buffer_maybe_release(r, b);
}

static struct buffer *buffer_new(int fd, const struct buffer_ident *ident)
{
        struct buffer *b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        b->fd = fd;
        b->ident = *ident;
        list_init(&b->refs);
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
static int buffer_add(struct registry *r, struct holder *h, struct buffer *b, bool owns_fd)
{
        int ret = buffer_index(r, b);

        if (ret == 0) {
                ret = ref_add(b, h);
                if (ret == 0)
                        return 0;
                buffer_unindex(r, b);
        }
        if (!owns_fd)
                b->fd = -EBADF;
        buffer_free(b);
        return ret;
}

int registry_export(struct registry *r, struct holder *h, uint64_t size, const char *heap,
                    const char *name, struct buffer **ret)
{
        _cleanup_close_ int fd = -EBADF;
        struct buffer_ident id = { .id = r->next_id };
        struct buffer *b;
        struct stat st;
        int ret_;

        ret_ = heap_lookup(heap);
        if (ret_ < 0)
                return ret_;
        ret_ = limits_check_size(r->limits, size);
        if (ret_ < 0)
                return ret_;
        if (bs_string_set(id.name, sizeof(id.name), name) < 0)
                return -EINVAL;
        snprintf(id.heap, sizeof(id.heap), "%s", heap);

        ret_ = heap_alloc(heap, id.id, size, &fd, &id.size);
        if (ret_ < 0)
                return ret_;
        if (fstat(fd, &st) < 0)
                return -errno;
        id.dev = st.st_dev;
        id.ino = st.st_ino;
        ident_set_exporter(&id, h);

        b = buffer_new(fd, &id);
        if (!b)
                return -ENOMEM;
        TAKE_FD(fd);
        ret_ = buffer_add(r, h, b, true);
        if (ret_ < 0)
                return ret_;
        r->next_id++;
        *ret = b;
        return 0;
}

/* Register again a buffer whose fd was imported after its release. */
static int buffer_register_again(struct registry *r, struct holder *h, int *fd, struct buffer **ret)
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

        b = buffer_new(*fd, &id);
        if (!b)
                return -ENOMEM;
        ret_ = buffer_add(r, h, b, false);
        if (ret_ < 0)
                return ret_;
        if (!old)
                r->next_id++;
        log_info("buffer %llu registered again from an imported fd (%s)", (unsigned long long)id.id,
                 old ? "recently released" : "adopted");
        *fd = -EBADF; /* the buffer owns it now */
        *ret = b;
        return 0;
}

int registry_import(struct registry *r, struct holder *h, int fd_, struct buffer **ret)
{
        _cleanup_close_ int fd = fd_;
        struct buffer *b;
        struct stat st;
        int ret_;

        if (fd < 0)
                return -EBADF;
        if (fstat(fd, &st) < 0)
                return -errno;
        b = hashmap_get(&r->by_inode, inode_key(st.st_dev, st.st_ino));
        if (!b)
                return buffer_register_again(r, h, &fd, ret);

        ret_ = ref_add(b, h);
        if (ret_ < 0)
                return ret_;
        *ret = b;
        return 0;
}

int registry_release(struct registry *r, struct holder *h, uint64_t id)
{
        struct buffer *b = hashmap_get(&r->by_id, id_key(id));
        struct ref *ref;

        if (!b)
                return -ENOENT;
        ref = ref_find(b, h);
        if (!ref)
                return -ENOENT;
        ref_drop(r, ref, 1);
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

        if (!b || !ref_find(b, h))
                return -ENOENT;
        if (strlen(name) >= BS_NAME_LEN)
                return -EINVAL;
        bs_string_set(b->ident.name, sizeof(b->ident.name), name);
        return 0;
}

void registry_holder_drop(struct registry *r, struct holder *h)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &h->refs) {
                struct ref *ref = container_of(pos, struct ref, holder_link);
                ref_drop(r, ref, ref->count);
        }
}

void registry_done(struct registry *r)
{
        for (size_t i = 0; i < r->by_id.cap; i++) {
                struct buffer *b = r->by_id.slots[i].value;
                struct list *pos, *tmp;

                if (!b)
                        continue;
                list_for_each_safe(pos, tmp, &b->refs) {
                        struct ref *ref = container_of(pos, struct ref, buffer_link);
                        list_remove(&ref->holder_link);
                        free(ref);
                }
                buffer_free(b);
        }
        hashmap_done(&r->by_id);
        hashmap_done(&r->by_inode);
        hashmap_done(&r->released_by_inode);
        free(r->released);
        r->released = NULL;
}
