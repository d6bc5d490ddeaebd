/* SPDX-License-Identifier: MIT */
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admission.h"
#include "heap.h"
#include "image.h"
#include "log.h"
#include "memfd.h"
#include "registry-internal.h"
#include "util.h"

/* A payer that could not be charged (out of memory when the payer moved). */
#define NO_PAYER ((uid_t)-1)

static struct hm_key id_key(uint64_t id)
{
        return (struct hm_key){ id, 0 };
}

static struct hm_key inode_key(dev_t dev, ino_t ino)
{
        return (struct hm_key){ (uint64_t)dev, (uint64_t)ino };
}

static struct hm_key ref_key(uint64_t buffer_id, uint64_t holder_id)
{
        return (struct hm_key){ buffer_id, holder_id };
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
        r->next_holder_id = 1;
        r->next_node_id = 1;
        list_init(&r->firing);
        hashmap_init(&r->by_id);
        hashmap_init(&r->by_inode);
        hashmap_init(&r->refs);
        hashmap_init(&r->attachments);
        hashmap_init(&r->fences);
        hashmap_init(&r->waiters);
        hashmap_init(&r->links);
        charge_init(&r->charge);
        released_init(&r->released, RELEASED_PER_UID);
        reserve_init(&r->reserve, 0);
        return 0;
}

void registry_reserve(struct registry *r, unsigned n)
{
        r->reserve.target = n < RESERVE_MAX ? n : RESERVE_MAX;
}

bool registry_reserve_low(const struct registry *r)
{
        return r->reserve.target > 0 && r->reserve.n <= r->reserve.target / 2;
}

bool registry_refill(struct registry *r, unsigned max)
{
        for (; max > 0 && reserve_missing(&r->reserve) > 0; max--) {
                struct reserve_entry e = { .id = r->next_id };
                struct stat st;

                e.fd = heap_fresh(e.id);
                if (e.fd < 0)
                        return false;
                if (fstat(e.fd, &st) < 0) {
                        safe_close(e.fd);
                        return false;
                }
                r->next_id++; /* its name says this id: never given to another */
                e.dev = st.st_dev;
                e.ino = st.st_ino;
                reserve_put(&r->reserve, &e);
        }
        return reserve_missing(&r->reserve) > 0;
}

void registry_holder_init(struct registry *r, struct holder *h, pid_t pid, uid_t uid, gid_t gid,
                          const char *comm)
{
        memset(h, 0, sizeof(*h));
        h->id = r->next_holder_id++;
        h->pid = pid;
        h->uid = uid;
        h->gid = gid;
        snprintf(h->comm, sizeof(h->comm), "%s", comm ? comm : "");
        list_init(&h->refs);
        list_init(&h->fences);
        list_init(&h->waiters);
}

struct charge_usage registry_uid_usage(struct registry *r, uid_t uid)
{
        return charge_usage_of(&r->charge, uid);
}

/* ---- buffers in and out of the indexes ---------------------------- */

static void buffer_free(struct buffer *b)
{
        if (!b)
                return;
        safe_close(b->fd);
        free(b);
}

void registry_close_slow(struct registry *r, uid_t uid, int fd)
{
        if (fd < 0)
                return;
        if (r->close_slow)
                r->close_slow(r->close_slow_ctx, uid, fd);
        else
                safe_close(fd);
}

void registry_close_later(struct registry *r, int fd)
{
        if (r->n_closing == r->closing_cap) {
                unsigned cap = r->closing_cap ? 2 * r->closing_cap : 64;
                int *c = realloc(r->closing, cap * sizeof(*c));
                if (!c) {
                        safe_close(fd);
                        return;
                }
                r->closing = c;
                r->closing_cap = cap;
        }
        r->closing[r->n_closing++] = fd;
}

/* Free @b but keep its fd for registry_flush(). */
static void buffer_free_later(struct registry *r, struct buffer *b)
{
        registry_close_later(r, b->fd);
        b->fd = -EBADF;
        free(b);
}

void registry_flush(struct registry *r)
{
        for (unsigned i = 0; i < r->n_closing; i++)
                safe_close(r->closing[i]);
        r->n_closing = 0;
        /* after a spike of releases, give the list's memory back */
        if (r->closing_cap > 1024) {
                free(r->closing);
                r->closing = NULL;
                r->closing_cap = 0;
        }
}

static struct buffer *buffer_new(int fd, const struct buffer_ident *ident, bool readonly_inode)
{
        struct buffer *b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        b->fd = fd;
        b->ident = *ident;
        b->readonly_inode = readonly_inode;
        b->payer = NO_PAYER;
        list_init(&b->refs);
        list_init(&b->readonly_refs);
        list_init(&b->cpu_refs);
        list_init(&b->attachments);
        return b;
}

/* Put @b into both indexes and make @payer pay for it; on error none of
 * it is done. Limits were checked by the caller. */
static int buffer_index(struct registry *r, struct buffer *b, uid_t payer)
{
        int ret = hashmap_put(&r->by_id, id_key(b->ident.id), b);
        if (ret < 0)
                return ret;
        ret = hashmap_put(&r->by_inode, inode_key(b->ident.dev, b->ident.ino), b);
        if (ret < 0)
                goto err_by_id;
        ret = charge_pay(&r->charge, payer, b->ident.size);
        if (ret < 0)
                goto err_by_inode;
        b->payer = payer;
        r->n_buffers++;
        r->n_bytes += b->ident.size;
        return 0;

err_by_inode:
        hashmap_remove(&r->by_inode, inode_key(b->ident.dev, b->ident.ino));
err_by_id:
        hashmap_remove(&r->by_id, id_key(b->ident.id));
        return ret;
}

static void buffer_unindex(struct registry *r, struct buffer *b)
{
        hashmap_remove(&r->by_id, id_key(b->ident.id));
        hashmap_remove(&r->by_inode, inode_key(b->ident.dev, b->ident.ino));
        if (b->payer != NO_PAYER)
                charge_refund(&r->charge, b->payer, b->ident.size);
        r->n_buffers--;
        r->n_bytes -= b->ident.size;
}

/* The only way out of the registry (STYLE D2). */
static void buffer_maybe_release(struct registry *r, struct buffer *b)
{
        uid_t payer = b->payer;

        if (b->n_refs > 0)
                return;
        if (r->hooks && r->hooks->buffer_gone)
                r->hooks->buffer_gone(r, b);
        buffer_unindex(r, b);
        released_remember(&r->released, payer, &b->ident);
        r->stats.released++;
        if (r->observer.released)
                r->observer.released(r->observer.userdata, &b->ident);
        log_debug("buffer %llu released (last reference gone)", (unsigned long long)b->ident.id);
        buffer_free_later(r, b);
}

/* ---- who pays ------------------------------------------------------ */

/* Move @b's charge to @uid, within limits or not (see charge.h). */
static void payer_move(struct registry *r, struct buffer *b, uid_t uid)
{
        if (b->payer == uid)
                return;
        if (b->payer != NO_PAYER)
                charge_refund(&r->charge, b->payer, b->ident.size);
        b->payer = charge_pay(&r->charge, uid, b->ident.size) < 0 ? NO_PAYER : uid;
}

/* The uid that should pay for @b once a holder of @gone_uid left it:
 * the exporter's while one of its clients holds it, else the longest
 * holder's (the oldest reference: b->refs is in order of arrival). */
static void payer_after_leave(struct registry *r, struct buffer *b, uid_t gone_uid)
{
        if (b->n_holders == 0 || b->payer != gone_uid ||
            charge_holders(&r->charge, b->ident.id, gone_uid) > 0)
                return;
        if (charge_holders(&r->charge, b->ident.id, b->ident.exporter_uid) > 0)
                payer_move(r, b, b->ident.exporter_uid);
        else
                payer_move(r, b, container_of(b->refs.next, struct ref, buffer_link)->holder->uid);
}

/* ---- references ---------------------------------------------------- */

struct ref *registry_ref_find(struct registry *r, const struct buffer *b, const struct holder *h)
{
        return hashmap_get(&r->refs, ref_key(b->ident.id, h->id));
}

struct ref *registry_ref_of(struct registry *r, const struct holder *h, uint64_t id)
{
        return id ? hashmap_get(&r->refs, ref_key(id, h->id)) : NULL;
}

bool ref_writable(const struct ref *ref)
{
        return ref && ref->count > ref->ro_count;
}

/* Check that @h may take its first reference on @b: its own limit, and,
 * when that makes the exporter's uid pay again, that uid's quota. */
static int ref_admit(struct registry *r, const struct buffer *b, const struct holder *h)
{
        int ret = limits_check_buffers(r->limits, h->n_buffers);

        if (ret < 0)
                return ret;
        if (h->uid == b->ident.exporter_uid && b->payer != h->uid)
                return charge_check(&r->charge, r->limits, h->uid, b->ident.size);
        return 0;
}

/* One more reference for @h on @b. Limits are the caller's (ref_admit()),
 * but a count never wraps: -EOVERFLOW (b->n_refs is the sum of every
 * holder's count, so it bounds them all). */
static int ref_add(struct registry *r, struct buffer *b, struct holder *h, bool readonly)
{
        struct ref *ref = registry_ref_find(r, b, h);
        int ret;

        if (b->n_refs == UINT32_MAX)
                return -EOVERFLOW;
        if (!ref) {
                ref = calloc(1, sizeof(*ref));
                if (!ref)
                        return -ENOMEM;
                ref->buffer = b;
                ref->holder = h;
                list_init(&ref->attachments);
                list_init(&ref->readonly_link);
                list_init(&ref->cpu_link);
                ret = hashmap_put(&r->refs, ref_key(b->ident.id, h->id), ref);
                if (ret < 0) {
                        free(ref);
                        return ret;
                }
                ret = charge_hold(&r->charge, b->ident.id, h->uid);
                if (ret < 0) {
                        hashmap_remove(&r->refs, ref_key(b->ident.id, h->id));
                        free(ref);
                        return ret;
                }
                list_insert_tail(&b->refs, &ref->buffer_link);
                list_insert_tail(&h->refs, &ref->holder_link);
                h->n_buffers++;
                b->n_holders++;
                if (h->uid == b->ident.exporter_uid)
                        payer_move(r, b, h->uid);
        }
        ref->count++;
        b->n_refs++;
        if (readonly && ref->ro_count++ == 0) {
                list_insert_tail(&b->readonly_refs, &ref->readonly_link);
                b->n_readonly++;
        }
        return 0;
}

/* A reference for @h on a buffer it may or may not hold already: its
 * first one is admitted against its limits. */
static int ref_take(struct registry *r, struct buffer *b, struct holder *h, bool readonly)
{
        int ret = registry_ref_find(r, b, h) ? 0 : ref_admit(r, b, h);
        return ret < 0 ? ret : ref_add(r, b, h, readonly);
}

static struct hm_key attachment_key(uint64_t id)
{
        return id_key(id);
}

/* An attachment ends with its detach or with its reference: freeing it
 * is part of a reference's teardown, so it lives here (attachment.c
 * makes, finds and maps them, and calls this to detach). */
void attachment_free(struct registry *r, struct attachment *a)
{
        hashmap_remove(&r->attachments, attachment_key(a->id));
        list_remove(&a->ref_link);
        list_remove(&a->buffer_link);
        a->ref->buffer->n_attachments--;
        a->ref->holder->n_attachments--;
        free(a);
}

static void attachments_drop_ref(struct registry *r, struct ref *ref)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &ref->attachments)
                attachment_free(r, container_of(pos, struct attachment, ref_link));
}

static void ref_cpu_update(struct ref *ref, bool was_inside)
{
        bool inside = ref->cpu_read || ref->cpu_write;

        if (inside == was_inside)
                return;
        if (inside) {
                list_insert_tail(&ref->buffer->cpu_refs, &ref->cpu_link);
                ref->buffer->n_cpu_access++;
        } else {
                list_remove(&ref->cpu_link);
                ref->buffer->n_cpu_access--;
        }
}

/* Drop @n of @ref's references, @n_ro of them read-only; when none is
 * left, @ref goes with its CPU access and attachments. */
static void ref_drop(struct registry *r, struct ref *ref, unsigned n, unsigned n_ro)
{
        struct buffer *b = ref->buffer;
        struct holder *h = ref->holder;

        ref->count -= n;
        b->n_refs -= n;
        if (n_ro && (ref->ro_count -= n_ro) == 0) {
                list_remove(&ref->readonly_link);
                b->n_readonly--;
        }
        if (ref->count == 0) {
                if (r->hooks && r->hooks->ref_gone)
                        r->hooks->ref_gone(r, ref);
                attachments_drop_ref(r, ref);
                if (ref->cpu_read || ref->cpu_write) {
                        ref->cpu_read = ref->cpu_write = 0;
                        ref_cpu_update(ref, true);
                }
                hashmap_remove(&r->refs, ref_key(b->ident.id, h->id));
                list_remove(&ref->buffer_link);
                list_remove(&ref->holder_link);
                h->n_buffers--;
                b->n_holders--;
                free(ref);
                charge_unhold(&r->charge, b->ident.id, h->uid);
                payer_after_leave(r, b, h->uid);
        }
        buffer_maybe_release(r, b);
}

/* ---- new buffers ---------------------------------------------------- */

static void ident_set_exporter(struct buffer_ident *id, const struct holder *h)
{
        id->exporter_pid = h->pid;
        id->exporter_uid = h->uid;
        memcpy(id->exporter_comm, h->comm, sizeof(id->exporter_comm));
        id->created_ns = now_realtime_ns();
}

/* buffer_register() without telling the observer: a batch tells it
 * once every buffer of the batch is in. */
static int buffer_register_quiet(struct registry *r, struct holder *h, int *fd, const struct buffer_ident *ident,
                                 bool readonly_inode, bool readonly_ref, struct buffer **ret)
{
        struct buffer *b = buffer_new(*fd, ident, readonly_inode);
        int ret_;

        if (!b)
                return -ENOMEM;
        ret_ = buffer_index(r, b, h->uid);
        if (ret_ < 0)
                goto err_free;
        ret_ = ref_add(r, b, h, readonly_ref);
        if (ret_ < 0)
                goto err_unindex;
        if (ident->id == r->next_id)
                r->next_id++;
        *fd = -EBADF; /* the buffer owns it now */
        *ret = b;
        return 0;

err_unindex:
        buffer_unindex(r, b);
err_free:
        b->fd = -EBADF; /* still the caller's */
        buffer_free(b);
        return ret_;
}

/* Register a buffer for @ident on @fd (taken on success), paid for by
 * @h's uid, with @h's first reference. Limits were checked by the caller. */
static int buffer_register(struct registry *r, struct holder *h, int *fd, const struct buffer_ident *ident,
                           bool readonly_inode, bool readonly_ref, struct buffer **ret)
{
        int ret_ = buffer_register_quiet(r, h, fd, ident, readonly_inode, readonly_ref, ret);

        if (ret_ == 0 && r->observer.created)
                r->observer.created(r->observer.userdata, *ret);
        return ret_;
}

/* Undo buffer_register_quiet() of @b, whose only reference is @h's
 * first: nothing remembers it. Its fd goes back to the caller. */
static int buffer_unregister(struct registry *r, struct holder *h, struct buffer *b)
{
        struct ref *ref = registry_ref_find(r, b, h);
        int fd = b->fd;

        hashmap_remove(&r->refs, ref_key(b->ident.id, h->id));
        list_remove(&ref->buffer_link);
        list_remove(&ref->holder_link);
        h->n_buffers--;
        b->n_holders--;
        charge_unhold(&r->charge, b->ident.id, h->uid);
        free(ref);
        buffer_unindex(r, b);
        b->fd = -EBADF;
        buffer_free(b);
        return fd;
}

/* A sized, sealed memfd for a new buffer of @rounded bytes from @heap,
 * and its id, dev and ino in @id: the reserve's oldest when it serves
 * @heap and has one, else made now. */
static int export_memfd(struct registry *r, const char *heap, uint64_t size, uint64_t rounded,
                        struct buffer_ident *id, int *ret_fd)
{
        _cleanup_close_ int fd = -EBADF;
        struct reserve_entry e;
        struct stat st;
        int ret_;

        if (heap_fresh_serves(heap) && reserve_take(&r->reserve, &e) == 0) {
                fd = e.fd;
                ret_ = heap_finish(fd, rounded);
                if (ret_ < 0)
                        return ret_; /* its id is burnt, as its name says it */
                id->id = e.id;
                id->size = rounded;
                id->dev = e.dev;
                id->ino = e.ino;
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        id->id = r->next_id;
        ret_ = heap_alloc(heap, id->id, size, &fd, &id->size);
        if (ret_ < 0)
                return ret_;
        r->next_id++;
        if (fstat(fd, &st) < 0)
                return -errno;
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* @count new buffers of @size bytes from @heap, named @name and described
 * by @desc (may be NULL), into @ret: all or none (registry.h). */
static int export_buffers(struct registry *r, struct holder *h, uint64_t size, const char *heap,
                          const char *name, const struct bs_wire_description *desc, unsigned count,
                          struct buffer **ret)
{
        int fds[BS_WIRE_BATCH_MAX];
        struct buffer_ident ids[BS_WIRE_BATCH_MAX];
        struct buffer_ident id = {};
        uint64_t rounded;
        unsigned made = 0, in = 0;
        int ret_;

        if (!heap[0] || count == 0 || count > BS_WIRE_BATCH_MAX)
                return -EINVAL; /* a missing field, not an unknown heap */
        ret_ = heap_lookup(heap);
        if (ret_ < 0)
                return ret_;
        ret_ = limits_check_size(r->limits, size);
        if (ret_ < 0)
                return ret_;
        if (bs_string_set(id.name, sizeof(id.name), name) < 0)
                return -EINVAL;
        /* against the size asked for: the rounded one is never smaller */
        if (desc && bs_image_wire_check(desc, size) < 0)
                return -EINVAL;
        if (desc)
                id.desc = *desc;
        /* a heap_lookup()ed name: it fits (a copy, no snprintf() per export) */
        memcpy(id.heap, heap, strnlen(heap, sizeof(id.heap) - 1));
        ret_ = heap_round(heap, size, &rounded);
        if (ret_ < 0)
                return ret_;
        /* refused before anything is allocated, at the size it will have
         * (the size limit too); every limit holds for each buffer of a
         * batch: checked for all of them before the first is made */
        ret_ = limits_check_size(r->limits, rounded);
        if (ret_ < 0)
                return ret_;
        ret_ = limits_check_buffers(r->limits, h->n_buffers + count - 1);
        if (ret_ < 0)
                return ret_;
        ret_ = charge_check_n(&r->charge, r->limits, h->uid, count, rounded);
        if (ret_ < 0)
                return ret_;

        for (; made < count; made++) {
                ids[made] = id;
                ret_ = export_memfd(r, heap, size, rounded, &ids[made], &fds[made]);
                if (ret_ < 0)
                        goto fail;
                ident_set_exporter(&ids[made], h);
        }
        for (; in < count; in++) {
                ret_ = buffer_register_quiet(r, h, &fds[in], &ids[in], true /* heap_fresh() made it 0444 */,
                                             false, &ret[in]);
                if (ret_ < 0)
                        goto fail;
        }
        for (unsigned i = 0; i < count; i++)
                if (r->observer.created)
                        r->observer.created(r->observer.userdata, ret[i]);
        r->stats.exported += count;
        return 0;

fail:
        /* nothing of the batch stays: the buffers made go as if never
         * made (their ids are burnt, as their memfds' names say them) */
        while (in > 0) {
                in--;
                fds[in] = buffer_unregister(r, h, ret[in]);
        }
        for (unsigned i = 0; i < made; i++)
                safe_close(fds[i]);
        return ret_;
}

int registry_export_batch(struct registry *r, struct holder *h, uint64_t size, const char *heap,
                          const char *name, unsigned count, struct buffer **ret)
{
        return export_buffers(r, h, size, heap, name, NULL, count, ret);
}

int registry_export_described(struct registry *r, struct holder *h, uint64_t size, const char *heap,
                              const char *name, const struct bs_wire_description *desc, struct buffer **ret)
{
        return export_buffers(r, h, size, heap, name, desc, 1, ret);
}

int registry_export(struct registry *r, struct holder *h, uint64_t size, const char *heap,
                    const char *name, struct buffer **ret)
{
        return export_buffers(r, h, size, heap, name, NULL, 1, ret);
}

/* The checks every admitted memfd passes before it changes (admission.h):
 * its size, the client's buffers and the uid's quota. */
static int admit_limits(struct registry *r, const struct holder *h, const struct admission *a)
{
        int ret = limits_check_size(r->limits, a->size);

        if (ret == 0)
                ret = limits_check_buffers(r->limits, h->n_buffers);
        if (ret == 0)
                ret = charge_check(&r->charge, r->limits, h->uid, a->size);
        return ret;
}

/*
 * Admit the memfd @fd the registry does not host, as @ident (whose id,
 * name and heap the caller set), for @h, imported or adopted (@adopt: it
 * must be writable): every check first, then the seals, then the mode. A memfd refused before admission_seal() is left
 * as it was; one that grew meanwhile is checked again at its real size.
 */
static int buffer_admit(struct registry *r, struct holder *h, int *fd, struct buffer_ident *ident,
                        bool readonly_ref, bool adopt, struct buffer **ret)
{
        struct admission a;
        int ret_;

        ret_ = admission_check(*fd, &a);
        if (ret_ < 0)
                return ret_;
        if (adopt && !a.writable)
                return -EACCES; /* an exporter must be able to write it */
        ret_ = admit_limits(r, h, &a);
        if (ret_ < 0)
                return ret_;
        ret_ = admission_seal(*fd, &a);
        if (ret_ > 0) /* its creator grew it while we looked */
                ret_ = admit_limits(r, h, &a);
        if (ret_ < 0)
                return ret_;
        if (ident->size && ident->size != a.size)
                return -ESTALE; /* a remembered identity of another size */
        admission_protect(*fd, &a);
        if (readonly_ref && !a.readonly_inode) {
                admission_unprotect(*fd, &a);
                return -EPERM; /* this inode could be reopened writable */
        }
        ident->size = a.size;
        ident->dev = a.dev;
        ident->ino = a.ino;
        ret_ = buffer_register(r, h, fd, ident, a.readonly_inode, readonly_ref, ret);
        if (ret_ < 0)
                admission_unprotect(*fd, &a);
        return ret_;
}

/* Register the buffer behind @fd, which the registry does not host: with
 * its old identity if it was released recently (and still carries its
 * name, an inode number can be reused), else as adopted. */
static int buffer_revive(struct registry *r, struct holder *h, int *fd, const struct stat *st,
                         bool readonly, struct buffer **ret)
{
        struct buffer_ident id = {};
        uint64_t memfd_id = 0;
        bool old = false;
        uid_t old_payer;
        int ret_ = 0;

        if (released_take(&r->released, st->st_dev, st->st_ino, &id, &old_payer) == 0) {
                old = memfd_bufshare_id(*fd, &memfd_id) == 0 && memfd_id == id.id &&
                      (uint64_t)st->st_size == id.size;
                if (old)
                        ret_ = buffer_admit(r, h, fd, &id, readonly, false, ret);
                if (!old || ret_ < 0) {
                        /* not ours after all, or refused: remember it as it was */
                        released_remember(&r->released, old_payer, &id);
                        if (old)
                                return ret_;
                }
        }
        if (!old) {
                memset(&id, 0, sizeof(id));
                id.id = r->next_id;
                snprintf(id.heap, sizeof(id.heap), "adopted");
                ident_set_exporter(&id, h);
                ret_ = buffer_admit(r, h, fd, &id, readonly, false, ret);
                if (ret_ < 0)
                        return ret_;
        }
        r->stats.revived++;
        /* a client can make this happen at every request: not for the
         * default level, which must not let a client flood the log */
        log_debug("buffer %llu registered again from an imported fd (%s)", (unsigned long long)id.id,
                 old ? "recently released" : "adopted");
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
                return fd == -EBADFD ? -EBADFD : -EBADF; /* what the front end found */
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fstat(fd, &st) < 0)
                return -errno;
        if ((fl & O_PATH) || (fl & O_ACCMODE) == O_WRONLY)
                return -EBADF; /* grants no read access: not a capability */
        /* the fd is the capability: a read-only fd gives a read-only reference */
        readonly = (fl & O_ACCMODE) == O_RDONLY;
        b = hashmap_get(&r->by_inode, inode_key(st.st_dev, st.st_ino));
        if (!b) {
                ret_ = buffer_revive(r, h, &fd, &st, readonly, &b);
        } else if (readonly && !memfd_inode_readonly(fd)) {
                /* this inode could be reopened writable: as it is now, its
                 * owner may have chmod'ed it since admission */
                ret_ = -EPERM;
        } else {
                ret_ = ref_take(r, b, h, readonly);
        }
        if (ret_ < 0)
                return ret_;
        r->stats.imported++;
        *ret = b;
        *ret_readonly = readonly;
        return 0;
}

int registry_export_memfd(struct registry *r, struct holder *h, int fd_, const char *name,
                          struct buffer **ret)
{
        _cleanup_close_ int fd = fd_;
        struct buffer_ident id = { .id = r->next_id };
        struct stat st;
        int ret_;

        if (fd < 0)
                return fd == -EBADFD ? -EBADFD : -EBADF; /* what the front end found */
        if (bs_string_set(id.name, sizeof(id.name), name) < 0)
                return -EINVAL;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (hashmap_get(&r->by_inode, inode_key(st.st_dev, st.st_ino)))
                return -EEXIST;
        snprintf(id.heap, sizeof(id.heap), "adopted");
        ident_set_exporter(&id, h);
        ret_ = buffer_admit(r, h, &fd, &id, false, true, ret);
        if (ret_ == 0)
                r->stats.adopted++;
        return ret_;
}

/* ---- references, CPU access, names, info ---------------------------- */

int registry_held(struct registry *r, const struct holder *h, uint64_t id, struct buffer **ret)
{
        struct ref *ref = registry_ref_of(r, h, id);

        if (!ref)
                return -ENOENT;
        *ret = ref->buffer;
        return 0;
}

int registry_grant(struct registry *r, const struct holder *from, uint64_t id, struct holder *h,
                   struct buffer **ret)
{
        struct ref *from_ref = registry_ref_of(r, from, id);
        struct buffer *b;
        int ret_;

        if (!ref_writable(from_ref))
                return -ENOENT;
        b = from_ref->buffer;
        ret_ = ref_take(r, b, h, false);
        if (ret_ < 0)
                return ret_;
        r->stats.imported++;
        *ret = b;
        return 0;
}


int registry_release(struct registry *r, struct holder *h, uint64_t id, bool readonly)
{
        struct ref *ref = registry_ref_of(r, h, id);

        if (!ref || (readonly ? ref->ro_count == 0 : !ref_writable(ref)))
                return -ENOENT;
        ref_drop(r, ref, 1, readonly ? 1 : 0);
        return 0;
}

#define SYNC_VALID (BS_WIRE_SYNC_READ | BS_WIRE_SYNC_WRITE)

int registry_cpu_access(struct registry *r, struct holder *h, uint64_t id, uint32_t flags,
                        enum cpu_access_op op)
{
        struct ref *ref = registry_ref_of(r, h, id);
        bool was_inside;

        if (flags == 0 || (flags & ~SYNC_VALID))
                return -EINVAL;
        if (!ref)
                return -ENOENT;
        was_inside = ref->cpu_read || ref->cpu_write;
        if (op == CPU_ACCESS_END) {
                if (((flags & BS_WIRE_SYNC_READ) && ref->cpu_read == 0) ||
                    ((flags & BS_WIRE_SYNC_WRITE) && ref->cpu_write == 0))
                        return -EINVAL; /* no matching begin */
                if (flags & BS_WIRE_SYNC_READ)
                        ref->cpu_read--;
                if (flags & BS_WIRE_SYNC_WRITE)
                        ref->cpu_write--;
                ref_cpu_update(ref, was_inside);
                return 0;
        }
        if ((flags & BS_WIRE_SYNC_WRITE) && !ref_writable(ref))
                return -EACCES;
        /* the client waits on a sync file, then asks again (DESIGN §2) */
        if (op == CPU_ACCESS_BEGIN_IDLE && r->hooks && r->hooks->buffer_busy &&
            r->hooks->buffer_busy(ref->buffer, flags))
                return -EBUSY;
        /* Several readers and writers may be inside at once, as with
         * dma-buf: begin/end bracket CPU access for synchronisation, they
         * don't lock. The counts are bounded by what a 32-bit counter
         * holds: past that, -EOVERFLOW. */
        if (((flags & BS_WIRE_SYNC_READ) && ref->cpu_read == UINT32_MAX) ||
            ((flags & BS_WIRE_SYNC_WRITE) && ref->cpu_write == UINT32_MAX))
                return -EOVERFLOW;
        if (flags & BS_WIRE_SYNC_READ)
                ref->cpu_read++;
        if (flags & BS_WIRE_SYNC_WRITE)
                ref->cpu_write++;
        ref_cpu_update(ref, was_inside);
        return 0;
}

int registry_find(struct registry *r, const struct holder *h, uint64_t id, struct buffer **ret)
{
        struct buffer *b = hashmap_get(&r->by_id, id_key(id));

        if (!b)
                return -ENOENT;
        if (h->uid != 0 && h->uid != b->ident.exporter_uid && !registry_ref_find(r, b, h))
                return -ENOENT;
        *ret = b;
        return 0;
}

int registry_set_name(struct registry *r, struct holder *h, uint64_t id, const char *name)
{
        struct ref *ref = registry_ref_of(r, h, id);

        if (!ref)
                return -ENOENT;
        if (!ref_writable(ref))
                return -EACCES;
        return bs_string_set(ref->buffer->ident.name, sizeof(ref->buffer->ident.name), name);
}

int registry_set_description(struct registry *r, struct holder *h, uint64_t id,
                             const struct bs_wire_description *desc)
{
        struct ref *ref = registry_ref_of(r, h, id);

        if (!ref)
                return -ENOENT;
        if (!ref_writable(ref))
                return -EACCES;
        if (bs_image_wire_check(desc, ref->buffer->ident.size) < 0)
                return -EINVAL;
        ref->buffer->ident.desc = *desc;
        return 0;
}

int registry_get_info(struct registry *r, const struct holder *h, uint64_t id, struct registry_info *ret)
{
        struct buffer *b;
        struct list *pos;
        unsigned n;
        int ret_;

        ret_ = registry_find(r, h, id, &b);
        if (ret_ < 0)
                return ret_;
        memset(ret, 0, sizeof(*ret));
        ret->ident = b->ident;
        ret->payer = b->payer;
        ret->n_refs = b->n_refs;
        ret->n_holders = b->n_holders;
        ret->n_readonly = b->n_readonly;
        ret->n_cpu_access = b->n_cpu_access;
        ret->n_attachments = b->n_attachments;

        n = 0;
        for (pos = b->readonly_refs.next; pos != &b->readonly_refs && n < REGISTRY_INFO_MAX; pos = pos->next)
                ret->readonly[n++] = container_of(pos, struct ref, readonly_link)->holder->pid;
        n = 0;
        for (pos = b->cpu_refs.next; pos != &b->cpu_refs && n < REGISTRY_INFO_MAX; pos = pos->next, n++) {
                const struct ref *ref = container_of(pos, struct ref, cpu_link);
                ret->cpu_access[n].pid = ref->holder->pid;
                ret->cpu_access[n].flags = (ref->cpu_read ? BS_WIRE_SYNC_READ : 0) |
                                           (ref->cpu_write ? BS_WIRE_SYNC_WRITE : 0);
        }
        n = 0;
        for (pos = b->attachments.next; pos != &b->attachments && n < REGISTRY_INFO_MAX; pos = pos->next, n++) {
                const struct attachment *a = container_of(pos, struct attachment, buffer_link);
                memcpy(ret->attachments[n].device, a->device, sizeof(a->device));
                ret->attachments[n].pid = a->ref->holder->pid;
                ret->attachments[n].mapped = a->mapped;
                ret->attachments[n].direction = a->mapped ? a->direction : 0;
        }
        return 0;
}

/* ---- read-only views ---------------------------------------------- */

const struct buffer *registry_lookup(const struct registry *r, uint64_t id)
{
        return hashmap_get(&r->by_id, id_key(id));
}

const struct buffer *registry_next_buffer(const struct registry *r, size_t *cursor)
{
        return hashmap_next(&r->by_id, cursor);
}

unsigned registry_buffer_holders(const struct buffer *b, struct registry_holder_info *ret, unsigned n)
{
        const struct list *pos;
        unsigned i = 0;

        for (pos = b->refs.next; pos != &b->refs && i < n; pos = pos->next, i++) {
                const struct ref *ref = container_of(pos, struct ref, buffer_link);
                ret[i] = (struct registry_holder_info){
                        .holder_id = ref->holder->id,
                        .pid = ref->holder->pid,
                        .uid = ref->holder->uid,
                        .refs = ref->count,
                        .readonly_refs = ref->ro_count,
                };
                memcpy(ret[i].comm, ref->holder->comm, sizeof(ret[i].comm));
        }
        return b->n_holders;
}

int registry_get_info_admin(struct registry *r, uint64_t id, struct registry_info *ret)
{
        /* root sees every buffer (registry_find) */
        static const struct holder admin = { .uid = 0 };

        return registry_get_info(r, &admin, id, ret);
}

unsigned registry_n_payers(const struct registry *r)
{
        return (unsigned)r->charge.usage.len;
}

/* ---- holders going away, and the end ------------------------------- */

void registry_holder_drop(struct registry *r, struct holder *h)
{
        struct list *pos, *tmp;

        /* fences first: what its death ends is an error (-EPIPE), not
         * the end of a read that dropping its references would mean */
        if (r->hooks && r->hooks->holder_drop)
                r->hooks->holder_drop(r, h);
        list_for_each_safe(pos, tmp, &h->refs) {
                struct ref *ref = container_of(pos, struct ref, holder_link);
                ref_drop(r, ref, ref->count, ref->ro_count);
        }
}

void registry_done(struct registry *r)
{
        /* holders were dropped first, so every buffer is gone already;
         * whatever is left (a front end that didn't) is freed here */
        for (size_t i = 0; i < r->refs.cap; i++) {
                struct ref *ref = r->refs.slots[i].value;
                struct list *pos, *tmp;

                if (!ref)
                        continue;
                list_for_each_safe(pos, tmp, &ref->attachments)
                        free(container_of(pos, struct attachment, ref_link));
                list_remove(&ref->holder_link);
                free(ref);
        }
        for (size_t i = 0; i < r->by_id.cap; i++)
                buffer_free(r->by_id.slots[i].value);
        /* every fence belonged to a holder, and dropping it signalled
         * them all, so every node has fired */
        if (r->n_nodes)
                log_warn("%llu fences or sync files left at exit", (unsigned long long)r->n_nodes);
        hashmap_done(&r->fences);
        hashmap_done(&r->waiters);
        hashmap_done(&r->links);
        hashmap_done(&r->refs);
        hashmap_done(&r->attachments);
        hashmap_done(&r->by_id);
        hashmap_done(&r->by_inode);
        charge_done(&r->charge);
        released_done(&r->released);
        reserve_done(&r->reserve);
        registry_flush(r);
        free(r->closing);
        r->closing = NULL;
        r->closing_cap = 0;
}
