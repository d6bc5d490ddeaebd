/* SPDX-License-Identifier: MIT */
/*
 * Fences, batches and sync files (fence.h has the model). Every node
 * fires exactly once, when its last input is signalled; firing frees
 * what nobody can name any more, so a node's memory lasts from the
 * request that made it to the signal that ends it.
 */
#include "fence.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "registry-internal.h"
#include "util.h"

#define SYNC_VALID (BS_WIRE_SYNC_READ | BS_WIRE_SYNC_WRITE)
#define STATUS_VALID(s) ((s) <= 0 && (s) >= -4095)

static struct hm_key id_key(uint64_t id)
{
        return (struct hm_key){ id, 0 };
}

static struct hm_key link_key(const struct sync_node *from, const struct sync_node *to)
{
        return (struct hm_key){ from->id, to->id };
}

/* ---- nodes and links ------------------------------------------------ */

static void node_init(struct registry *r, struct sync_node *n, enum node_kind kind)
{
        n->id = r->next_node_id++;
        n->kind = (uint8_t)kind;
        list_init(&n->in);
        list_init(&n->out);
        list_init(&n->work);
        r->n_nodes++;
}

static void node_free(struct registry *r, struct sync_node *n)
{
        r->n_nodes--;
        free(n); /* the node is the first member of each kind */
}

/* @to waits for @from from now on. */
static int link_add(struct registry *r, struct sync_node *from, struct sync_node *to, bool keyed)
{
        struct sync_link *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        l->from = from;
        l->to = to;
        l->keyed = keyed;
        if (keyed && hashmap_put(&r->links, link_key(from, to), l) < 0) {
                free(l);
                return -ENOMEM;
        }
        list_insert_tail(&from->out, &l->from_link);
        list_insert_tail(&to->in, &l->to_link);
        from->n_out++;
        to->pending++;
        return 0;
}

/* Undo link_add(); the caller settles to->pending. */
static void link_free(struct registry *r, struct sync_link *l)
{
        if (l->keyed)
                hashmap_remove(&r->links, link_key(l->from, l->to));
        list_remove(&l->from_link);
        list_remove(&l->to_link);
        l->from->n_out--;
        free(l);
}

static void node_fired(struct registry *r, struct sync_node *n);

/* A fence of @bt's ended with @error: recorded, when it came. */
static void batch_error_add(struct registry *r, struct batch *bt, int error)
{
        struct batch_error e = { ++r->fence_errors, error };

        if (bt->first_error.at == 0)
                bt->first_error = e;
        bt->last_error = e;
}

/*
 * @bt fired: what waits on it hears of the errors it recorded. The next
 * batch of its chain takes them on (the earliest first error, the latest
 * last one); a sync file takes the first that came after it was made,
 * or the last if only that one did, and none if none did: a sync file
 * reports no fence that ended before it was made. The chain is linear,
 * so each error costs a record a batch, never a walk of the chain.
 */
static void batch_error_pass(const struct batch *bt, struct sync_node *to)
{
        if (bt->last_error.at == 0)
                return;
        if (to->kind == NODE_BATCH) {
                struct batch *next = container_of(to, struct batch, node);

                if (next->first_error.at == 0 || bt->first_error.at < next->first_error.at)
                        next->first_error = bt->first_error;
                if (bt->last_error.at > next->last_error.at)
                        next->last_error = bt->last_error;
        } else if (to->kind == NODE_WAITER && to->status == 0) {
                uint64_t made = container_of(to, struct waiter, node)->made_at;

                if (bt->first_error.at > made)
                        to->status = bt->first_error.status;
                else if (bt->last_error.at > made)
                        to->status = bt->last_error.status;
        }
}

/*
 * @first has no pending input left: fire it, and every node that this
 * leaves with none, breadth first (no recursion, however long a chain of
 * batches is). Each node fires once; the work is what was linked.
 */
static void node_fire(struct registry *r, struct sync_node *first)
{
        struct list *work = &r->firing; /* empty between calls */

        list_insert_tail(work, &first->work);
        while (!list_empty(work)) {
                struct sync_node *n = container_of(work->next, struct sync_node, work);
                struct list *pos, *tmp;

                list_remove(&n->work);
                n->signalled = true;
                list_for_each_safe(pos, tmp, &n->out) {
                        struct sync_link *l = container_of(pos, struct sync_link, from_link);
                        struct sync_node *to = l->to;

                        if (n->kind == NODE_BATCH)
                                batch_error_pass(container_of(n, struct batch, node), to);
                        else if (n->status < 0 && to->kind == NODE_BATCH)
                                batch_error_add(r, container_of(to, struct batch, node), n->status);
                        else if (n->status < 0 && to->status == 0)
                                to->status = n->status; /* the first error wins */
                        link_free(r, l);
                        if (--to->pending == 0)
                                list_insert_tail(work, &to->work);
                }
                node_fired(r, n);
        }
}

/* ---- fences ----------------------------------------------------------- */

static struct fence *fence_new(struct registry *r, enum fence_type type, struct holder *owner)
{
        struct fence *f = calloc(1, sizeof(*f));

        if (!f)
                return NULL;
        node_init(r, &f->node, NODE_FENCE);
        f->type = (uint8_t)type;
        f->pair[0] = f->pair[1] = -EBADF;
        f->owner = owner;
        list_init(&f->owner_link);
        if (owner)
                list_insert_tail(&owner->fences, &f->owner_link);
        return f;
}

/* A user fence's record goes (it was signalled): its creator's uid pays
 * no more. */
static void fence_forget(struct registry *r, struct fence *f)
{
        hashmap_remove(&r->fences, id_key(f->node.id));
        list_remove(&f->owner_link);
        f->owner->n_fences--;
        charge_fd_drop(&r->charge, f->owner->uid, CHARGE_FD_USER_FENCE, 1);
        node_free(r, &f->node);
}

/* @f's ready-made sync file, if nobody took it, goes: its uid pays no more. */
static void fence_pair_release(struct registry *r, struct fence *f)
{
        if (f->pair[0] < 0)
                return;
        /* its creator could send fds into it: closed off the loop, and
         * its uid's until then (its connections are not read while the
         * closer holds too many of its fds), for the charge goes now */
        registry_close_slow(r, f->pair_uid, TAKE_FD(f->pair[0]));
        registry_close_later(r, TAKE_FD(f->pair[1]));
        charge_fd_drop(&r->charge, f->pair_uid, CHARGE_FD_FENCE, 2);
}

/* Signal @f (unsignalled, with no inputs but its own signal). */
static void fence_signal(struct registry *r, struct fence *f, int status)
{
        fence_pair_release(r, f); /* before firing may free @f */
        f->node.status = status;
        f->node.pending = 0;
        node_fire(r, &f->node);
}

static void fence_fired(struct registry *r, struct fence *f)
{
        switch (f->type) {
        case FENCE_USER:
                return; /* its creator destroys the record */
        case FENCE_SUBMIT:
                if (f->ref)
                        f->ref->read_fence = NULL;
                list_remove(&f->owner_link);
                break;
        case FENCE_IMPORTED:
                charge_fd_drop(&r->charge, f->importer_uid, CHARGE_FD_IMPORTED, 1);
                break;
        }
        node_free(r, &f->node);
}

static struct fence *fence_of(struct registry *r, const struct holder *h, uint64_t id)
{
        struct fence *f = id ? hashmap_get(&r->fences, id_key(id)) : NULL;

        return f && f->owner == h ? f : NULL;
}

/* ---- batches: a buffer's pending fences ------------------------------ */

static void batch_fired(struct registry *r, struct batch *bt)
{
        struct buffer *b = bt->buffer;

        if (b) {
                if (b->open[bt->cls] == bt)
                        b->open[bt->cls] = NULL;
                if (b->last[bt->cls] == bt)
                        b->last[bt->cls] = NULL;
        }
        node_free(r, &bt->node);
}

/* The batch of @b's class @cls that takes fences now, made if needed. */
static int batch_open(struct registry *r, struct buffer *b, enum fence_class cls, struct batch **ret)
{
        struct batch *bt = b->open[cls];
        int ret_;

        if (!bt) {
                bt = calloc(1, sizeof(*bt));
                if (!bt)
                        return -ENOMEM;
                node_init(r, &bt->node, NODE_BATCH);
                bt->cls = (uint8_t)cls;
                if (b->last[cls]) {
                        /* it ends after what was pending before it */
                        ret_ = link_add(r, &b->last[cls]->node, &bt->node, false);
                        if (ret_ < 0) {
                                node_free(r, &bt->node);
                                return ret_;
                        }
                }
                bt->buffer = b;
                b->open[cls] = bt;
        }
        *ret = bt;
        return 0;
}

/* An open batch that waits for nothing (its first fence could not be
 * linked) goes at once: it would look pending for ever. */
static void batch_drop_if_idle(struct registry *r, struct buffer *b, enum fence_class cls)
{
        struct batch *bt = b->open[cls];

        if (bt && bt->node.pending == 0) {
                b->open[cls] = NULL;
                node_free(r, &bt->node);
        }
}

/* What a sync file of @cls exported now waits for: the open batch is
 * sealed (later fences go to a new one) and becomes the last. */
static struct batch *batch_seal(struct buffer *b, enum fence_class cls)
{
        if (b->open[cls]) {
                if (b->last[cls])
                        b->last[cls]->buffer = NULL; /* the open one waits for it */
                b->last[cls] = b->open[cls];
                b->open[cls] = NULL;
        }
        return b->last[cls];
}

static enum fence_class class_of_access(uint32_t flags)
{
        return (flags & BS_WIRE_SYNC_WRITE) ? FENCE_CLASS_ALL : FENCE_CLASS_WRITE;
}

/* Make the unsignalled @f pending on @b as a write fence (@write: in
 * both classes) or a read fence. On error, nothing changed. */
static int fence_add_to_buffer(struct registry *r, struct fence *f, struct buffer *b, bool write)
{
        static const enum fence_class classes[2] = { FENCE_CLASS_ALL, FENCE_CLASS_WRITE };
        struct sync_link *added[2] = { NULL, NULL };
        unsigned n_classes = write ? 2 : 1, needed = 0;
        int ret = 0;

        for (unsigned i = 0; i < n_classes; i++)
                needed += !b->open[classes[i]] ||
                          !hashmap_get(&r->links, link_key(&f->node, &b->open[classes[i]]->node));
        if (f->node.n_out + needed > r->limits->max_waiters_per_fence)
                return -ENOSPC;
        for (unsigned i = 0; i < n_classes; i++) {
                struct batch *bt;

                ret = batch_open(r, b, classes[i], &bt);
                if (ret < 0)
                        break;
                if (hashmap_get(&r->links, link_key(&f->node, &bt->node)))
                        continue; /* pending there already */
                ret = link_add(r, &f->node, &bt->node, true);
                if (ret < 0) {
                        batch_drop_if_idle(r, b, classes[i]);
                        break;
                }
                added[i] = hashmap_get(&r->links, link_key(&f->node, &bt->node));
        }
        if (ret < 0)
                for (unsigned i = 0; i < n_classes; i++)
                        if (added[i]) {
                                added[i]->to->pending--;
                                link_free(r, added[i]);
                                batch_drop_if_idle(r, b, classes[i]);
                        }
        return ret;
}

bool registry_buffer_busy(const struct buffer *b, uint32_t flags)
{
        enum fence_class cls = class_of_access(flags);

        return b->open[cls] || b->last[cls];
}

/* @b leaves the registry; its pending fences still signal their waiters. */
static void fence_buffer_gone(struct registry *r, struct buffer *b)
{
        (void)r;
        for (unsigned c = 0; c < 2; c++) {
                if (b->open[c])
                        b->open[c]->buffer = NULL;
                if (b->last[c])
                        b->last[c]->buffer = NULL;
                b->open[c] = b->last[c] = NULL;
        }
}

/* ---- sync files ---------------------------------------------------- */

static struct hm_key inode_key(dev_t dev, ino_t ino)
{
        return (struct hm_key){ (uint64_t)dev, (uint64_t)ino };
}

/* Tell the waiter on @fd: one datagram, its status; the end of it (the
 * close) comes with registry_flush(), so that the next waiter isn't
 * kept waiting for it: the datagram alone makes a sync file readable. */
static void sync_file_signal(struct registry *r, int fd, int status)
{
        int32_t s = status;
        int unread = 0;

        /* the waiter's end receives nothing else, so there is room; if
         * its holder shut it down, it was its own to break. A fence's
         * ready-made one may hold its creator's datagram already: the
         * status is told once */
        if (ioctl(fd, SIOCOUTQ, &unread) < 0 || unread == 0)
                (void)send(fd, &s, sizeof(s), MSG_DONTWAIT | MSG_NOSIGNAL);
        registry_close_later(r, fd);
}

/*
 * Whether @h may make one more pending sync file: -EMFILE over its own
 * max_waiters_per_client, -EDQUOT over its uid's max_sync_files_per_uid
 * (what its uid's connections made, gone ones too: the daemon holds an
 * fd for each until it signals, wherever its fd went). Both O(1).
 */
static int waiter_allowed(struct registry *r, struct holder *h)
{
        if (h->n_waiters >= r->limits->max_waiters_per_client)
                return -EMFILE;
        return charge_fd_check(&r->charge, r->limits, h->uid, 1);
}

/* The daemon's end of @w goes (signalled, or given up): its uid pays no more. */
static void waiter_unlink(struct registry *r, struct waiter *w)
{
        hashmap_remove(&r->waiters, inode_key(w->dev, w->ino));
        if (w->owner) {
                list_remove(&w->owner_link);
                w->owner->n_waiters--;
        }
        charge_fd_drop(&r->charge, w->uid, CHARGE_FD_SYNC_FILE, 1);
}

static void waiter_fired(struct registry *r, struct waiter *w)
{
        waiter_unlink(r, w);
        sync_file_signal(r, w->fd, w->node.status);
        node_free(r, &w->node);
}

/* The record of a sync file of @h's whose ends are @daemon_end (kept;
 * it only sends) and @waiter_end, both taken on success. */
static int waiter_record(struct registry *r, struct holder *h, int daemon_end, int waiter_end, struct waiter **ret)
{
        struct waiter *w = calloc(1, sizeof(*w));
        struct stat st;
        int ret_;

        if (!w)
                return -ENOMEM;
        if (fstat(waiter_end, &st) < 0) {
                ret_ = -errno;
                free(w);
                return ret_;
        }
        w->fd = daemon_end;
        w->dev = st.st_dev;
        w->ino = st.st_ino;
        w->uid = h->uid;
        w->made_at = r->fence_errors; /* it hears of no error before */
        ret_ = charge_fd_add(&r->charge, w->uid, CHARGE_FD_SYNC_FILE, 1);
        if (ret_ < 0) {
                free(w);
                return ret_;
        }
        ret_ = hashmap_put(&r->waiters, inode_key(w->dev, w->ino), w);
        if (ret_ < 0) {
                charge_fd_drop(&r->charge, w->uid, CHARGE_FD_SYNC_FILE, 1);
                free(w);
                return ret_;
        }
        node_init(r, &w->node, NODE_WAITER);
        w->owner = h;
        list_insert_tail(&h->waiters, &w->owner_link);
        h->n_waiters++;
        *ret = w;
        return 0;
}

/*
 * A sync file for @h that waits for nothing yet: its record, and the
 * waiter's end in *@ret_fd. The caller links its inputs, then calls
 * waiter_start(); waiter_abort() undoes it.
 */
static int waiter_new(struct registry *r, struct holder *h, struct waiter **ret, int *ret_fd)
{
        int sv[2], ret_;

        ret_ = waiter_allowed(r, h);
        if (ret_ < 0)
                return ret_;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        /* the daemon's end only sends: nothing the holder sends (fds
         * whose close could block) can wait in it for the daemon to close */
        if (shutdown(sv[0], SHUT_RD) < 0)
                ret_ = -errno;
        else
                ret_ = waiter_record(r, h, sv[0], sv[1], ret);
        if (ret_ < 0) {
                safe_close(sv[0]);
                safe_close(sv[1]);
                return ret_;
        }
        *ret_fd = sv[1];
        return 0;
}

/* Whether nothing waits to be read in the socket @fd. */
static bool socket_empty(int fd)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };

        return poll(&p, 1, 0) == 0;
}

/* waiter_new() with @f's ready-made sync file (fence.h): its creator
 * signals it itself. -ENOENT if it has none. */
static int waiter_from_pair(struct registry *r, struct holder *h, struct fence *f, struct waiter **ret,
                            int *ret_fd)
{
        int ret_;

        if (!f || f->pair[0] < 0)
                return -ENOENT;
        if (!socket_empty(f->pair[0])) {
                /* its creator sent there before any waiter had it: a
                 * signal the daemon will hear of, or junk (fds whose close
                 * could wait): the daemon's own sync file instead */
                fence_pair_release(r, f);
                return -ENOENT;
        }
        ret_ = waiter_allowed(r, h);
        if (ret_ < 0)
                return ret_;
        ret_ = waiter_record(r, h, f->pair[1], f->pair[0], ret);
        if (ret_ < 0)
                return ret_;
        *ret_fd = TAKE_FD(f->pair[0]);
        f->pair[1] = -EBADF;
        charge_fd_drop(&r->charge, f->pair_uid, CHARGE_FD_FENCE, 2);
        return 0;
}

/* Its inputs are linked: one with none left fires now. */
static void waiter_start(struct registry *r, struct waiter *w)
{
        if (w->node.pending == 0)
                node_fire(r, &w->node);
}

static void waiter_abort(struct registry *r, struct waiter *w, int fd)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &w->node.in)
                link_free(r, container_of(pos, struct sync_link, to_link));
        waiter_unlink(r, w);
        safe_close(w->fd);
        safe_close(fd);
        node_free(r, &w->node);
}

/*
 * What the sync file @fd is: a pending one of ours (its node in
 * *@ret_node), or a signalled one of ours (*@ret_node NULL, its status in
 * *@ret_status): a SOCK_SEQPACKET socket whose peer is this process, with
 * exactly a 4-byte status waiting in it (no connection to the daemon
 * ever has: replies are longer). Anything else, and a sync file whose
 * holder read its status out, is -EINVAL.
 */
static int sync_file_resolve(struct registry *r, int fd, struct sync_node **ret_node, int *ret_status)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int type = 0, domain = 0;
        socklen_t tlen = sizeof(type), dlen = sizeof(domain);
        struct waiter *w;
        struct stat st;
        int32_t status;
        ssize_t n;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
                return -EINVAL;
        w = hashmap_get(&r->waiters, inode_key(st.st_dev, st.st_ino));
        if (w) {
                *ret_node = &w->node;
                return 0;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0 || domain != AF_UNIX ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_SEQPACKET ||
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid != getpid() ||
            cred.uid != geteuid())
                return -EINVAL;
        if (poll(&p, 1, 0) != 1)
                return -EINVAL; /* nothing waiting in it */
        /* no control buffer: fds queued in a forged message are not installed here */
        n = recv(fd, &status, sizeof(status), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
        if (n != (ssize_t)sizeof(status) || !STATUS_VALID(status))
                return -EINVAL;
        *ret_node = NULL;
        *ret_status = status;
        return 0;
}

/* ---- the requests ---------------------------------------------------- */

/*
 * @f's first sync file, made ready (fence.h): the waiter's end and the
 * daemon's sending end in f->pair, a copy of the latter for the creator
 * in *@ret_fd. -EDQUOT when @h's uid holds max_sync_files_per_uid such
 * fds, -errno when the daemon is out of them.
 */
static int fence_pair_new(struct registry *r, struct holder *h, struct fence *f, int *ret_fd)
{
        int sv[2], fd, ret;

        ret = charge_fd_check(&r->charge, r->limits, h->uid, 2);
        if (ret < 0)
                return ret;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        /* the sending end only sends: nothing a waiter sends can wait in it */
        if (shutdown(sv[1], SHUT_RD) < 0 || (fd = fcntl(sv[1], F_DUPFD_CLOEXEC, 3)) < 0) {
                ret = -errno;
                goto err;
        }
        if (charge_fd_add(&r->charge, h->uid, CHARGE_FD_FENCE, 2) < 0) {
                ret = -ENOMEM;
                safe_close(fd);
                goto err;
        }
        f->pair[0] = sv[0];
        f->pair[1] = sv[1];
        f->pair_uid = h->uid;
        *ret_fd = fd;
        return 0;

err:
        safe_close(sv[0]);
        safe_close(sv[1]);
        return ret;
}

int registry_fence_create(struct registry *r, struct holder *h, bool want_pair, uint64_t *ret_id, int *ret_fd)
{
        struct fence *f;
        int ret;

        *ret_fd = -EBADF;
        if (h->n_fences >= r->limits->max_fences_per_client)
                return -EMFILE;
        ret = charge_fence_check(&r->charge, r->limits, h->uid);
        if (ret < 0)
                return ret;
        f = fence_new(r, FENCE_USER, h);
        if (!f)
                return -ENOMEM;
        f->node.pending = 1; /* its signal */
        ret = charge_fd_add(&r->charge, h->uid, CHARGE_FD_USER_FENCE, 1);
        if (ret == 0 && hashmap_put(&r->fences, id_key(f->node.id), f) < 0) {
                charge_fd_drop(&r->charge, h->uid, CHARGE_FD_USER_FENCE, 1);
                ret = -ENOMEM;
        }
        if (ret < 0) {
                list_remove(&f->owner_link);
                node_free(r, &f->node);
                return ret;
        }
        h->n_fences++;
        if (want_pair) {
                /* none to spare: the daemon tells every waiter itself */
                ret = fence_pair_new(r, h, f, ret_fd);
                if (ret < 0)
                        log_debug("fence %llu: no ready-made sync file: %s", (unsigned long long)f->node.id,
                                  strerror(-ret));
        }
        *ret_id = f->node.id;
        return 0;
}

/* @h's reference on @buffer_id for access @usage: -EINVAL, -ENOENT, -EACCES. */
static int ref_for_usage(struct registry *r, struct holder *h, uint64_t buffer_id, uint32_t usage,
                         struct ref **ret)
{
        struct ref *ref;

        if (usage == 0 || (usage & ~SYNC_VALID))
                return -EINVAL;
        ref = registry_ref_of(r, h, buffer_id);
        if (!ref)
                return -ENOENT;
        if ((usage & BS_WIRE_SYNC_WRITE) && !ref_writable(ref))
                return -EACCES;
        *ret = ref;
        return 0;
}

int registry_fence_attach(struct registry *r, struct holder *h, uint64_t buffer_id, uint64_t fence_id,
                          uint32_t usage)
{
        struct ref *ref;
        struct fence *f;
        int ret = ref_for_usage(r, h, buffer_id, usage, &ref);

        if (ret < 0)
                return ret;
        f = fence_of(r, h, fence_id);
        if (!f)
                return -ENOENT;
        if (f->node.signalled)
                return 0; /* as dma_resv: a signalled fence holds nobody up */
        return fence_add_to_buffer(r, f, ref->buffer, usage & BS_WIRE_SYNC_WRITE);
}

int registry_fence_signal(struct registry *r, struct holder *h, uint64_t fence_id, int status)
{
        struct fence *f;

        if (!STATUS_VALID(status))
                return -EINVAL;
        f = fence_of(r, h, fence_id);
        if (!f)
                return -ENOENT;
        if (f->node.signalled)
                return -EALREADY;
        fence_signal(r, f, status);
        return 0;
}

int registry_fence_destroy(struct registry *r, struct holder *h, uint64_t fence_id)
{
        struct fence *f = fence_of(r, h, fence_id);

        if (!f)
                return -ENOENT;
        if (!f->node.signalled)
                fence_signal(r, f, -ECANCELED); /* nobody could signal it any more */
        fence_forget(r, f);
        return 0;
}

/* The one fence @bt (or NULL) still waits for, if that is all. */
static struct fence *batch_sole_fence(struct batch *bt)
{
        struct sync_node *from;

        if (!bt || bt->node.pending != 1 || list_empty(&bt->node.in))
                return NULL;
        from = container_of(bt->node.in.next, struct sync_link, to_link)->from;
        return from->kind == NODE_FENCE ? container_of(from, struct fence, node) : NULL;
}

int registry_export_sync_file(struct registry *r, struct holder *h, uint64_t buffer_id, uint32_t flags,
                              int *ret_fd)
{
        struct batch *target;
        struct waiter *w;
        struct ref *ref;
        int ret, fd;

        if ((flags & SYNC_VALID) == 0 || (flags & ~(SYNC_VALID | BS_WIRE_SYNC_DAEMON)))
                return -EINVAL;
        ref = registry_ref_of(r, h, buffer_id);
        if (!ref)
                return -ENOENT;
        ret = waiter_allowed(r, h); /* before the seal: refused means untouched */
        if (ret < 0)
                return ret;
        target = batch_seal(ref->buffer, class_of_access(flags));
        if (target && target->node.n_out >= r->limits->max_waiters_per_fence)
                return -ENOSPC;
        ret = (flags & BS_WIRE_SYNC_DAEMON) ? -ENOENT : waiter_from_pair(r, h, batch_sole_fence(target), &w, &fd);
        if (ret == -ENOENT)
                ret = waiter_new(r, h, &w, &fd);
        if (ret < 0)
                return ret;
        if (target) {
                ret = link_add(r, &target->node, &w->node, false);
                if (ret < 0) {
                        waiter_abort(r, w, fd);
                        return ret;
                }
        }
        waiter_start(r, w); /* nothing pending: signalled with 0 at once */
        *ret_fd = fd;
        return 0;
}

void registry_sync_file_close(struct registry *r, struct holder *h, int fd)
{
        struct waiter *w = NULL;
        struct stat st;

        if (fd < 0)
                return;
        if (fstat(fd, &st) == 0)
                w = hashmap_get(&r->waiters, inode_key(st.st_dev, st.st_ino));
        /* one that something waits for (a merge, an import) fires as it would */
        if (w && w->owner == h && w->node.n_out == 0)
                waiter_abort(r, w, fd); /* unlinked from what it waited for, both ends closed */
        else
                safe_close(fd);
}

int registry_import_sync_file(struct registry *r, struct holder *h, uint64_t buffer_id, uint32_t usage,
                              int fd)
{
        struct sync_node *source;
        struct ref *ref;
        struct fence *f;
        int ret, status;

        ret = ref_for_usage(r, h, buffer_id, usage, &ref);
        if (ret < 0)
                return ret;
        ret = sync_file_resolve(r, fd, &source, &status);
        if (ret < 0)
                return ret;
        if (!source)
                return 0; /* signalled: nothing to wait for */
        if (source->n_out >= r->limits->max_waiters_per_fence)
                return -ENOSPC;
        ret = charge_imported_check(&r->charge, r->limits, h->uid);
        if (ret < 0)
                return ret;
        f = fence_new(r, FENCE_IMPORTED, NULL);
        if (!f)
                return -ENOMEM;
        f->importer_uid = h->uid;
        ret = charge_fd_add(&r->charge, h->uid, CHARGE_FD_IMPORTED, 1);
        if (ret < 0) {
                node_free(r, &f->node);
                return ret;
        }
        ret = link_add(r, source, &f->node, false);
        if (ret == 0)
                ret = fence_add_to_buffer(r, f, ref->buffer, usage & BS_WIRE_SYNC_WRITE);
        if (ret < 0) {
                struct list *pos, *tmp;

                list_for_each_safe(pos, tmp, &f->node.in)
                        link_free(r, container_of(pos, struct sync_link, to_link));
                charge_fd_drop(&r->charge, h->uid, CHARGE_FD_IMPORTED, 1);
                node_free(r, &f->node); /* linked to no batch: fence_add_to_buffer undid it */
                return ret;
        }
        return 0;
}

int registry_sync_file_merge(struct registry *r, struct holder *h, int fd1, int fd2, int *ret_fd)
{
        struct sync_node *in[2];
        int status[2] = { 0, 0 }, ret, fd;
        struct waiter *w;

        ret = waiter_allowed(r, h);
        if (ret < 0)
                return ret;
        ret = sync_file_resolve(r, fd1, &in[0], &status[0]);
        if (ret == 0)
                ret = sync_file_resolve(r, fd2, &in[1], &status[1]);
        if (ret < 0)
                return ret;
        for (unsigned i = 0; i < 2; i++)
                if (in[i] && in[i]->n_out + (in[0] == in[1] ? 2 : 1) > r->limits->max_waiters_per_fence)
                        return -ENOSPC;
        ret = waiter_new(r, h, &w, &fd);
        if (ret < 0)
                return ret;
        for (unsigned i = 0; i < 2; i++) {
                if (!in[i]) {
                        if (status[i] < 0 && w->node.status == 0)
                                w->node.status = status[i];
                        continue;
                }
                ret = link_add(r, in[i], &w->node, false);
                if (ret < 0) {
                        waiter_abort(r, w, fd);
                        return ret;
                }
        }
        waiter_start(r, w);
        *ret_fd = fd;
        return 0;
}

int registry_submit(struct registry *r, struct holder *h, uint64_t buffer_id, uint32_t *ret_n_readers)
{
        struct ref *ref = registry_ref_of(r, h, buffer_id);
        struct list *pos;
        uint32_t n = 0;
        int ret;

        if (!ref)
                return -ENOENT;
        if (!ref_writable(ref))
                return -EACCES;
        /* one entry per connection holding the buffer: bounded by max_clients */
        for (pos = ref->buffer->refs.next; pos != &ref->buffer->refs; pos = pos->next) {
                struct ref *reader = container_of(pos, struct ref, buffer_link);
                struct fence *f;

                if (reader == ref)
                        continue;
                if (!reader->read_fence) {
                        f = fence_new(r, FENCE_SUBMIT, reader->holder);
                        if (!f)
                                return -ENOMEM;
                        f->node.pending = 1; /* its holder's RELEASE_READ */
                        ret = fence_add_to_buffer(r, f, ref->buffer, false);
                        if (ret < 0) {
                                list_remove(&f->owner_link);
                                node_free(r, &f->node);
                                return ret;
                        }
                        f->ref = reader;
                        reader->read_fence = f;
                }
                n++;
        }
        *ret_n_readers = n;
        return 0;
}

int registry_release_read(struct registry *r, struct holder *h, uint64_t buffer_id, int status)
{
        struct ref *ref;

        if (!STATUS_VALID(status))
                return -EINVAL;
        ref = registry_ref_of(r, h, buffer_id);
        if (!ref || !ref->read_fence)
                return -ENOENT;
        fence_signal(r, ref->read_fence, status);
        return 0;
}

/* ---- holders and references going away ------------------------------ */

/* @h went away: its unsignalled fences are signalled with -EPIPE, its
 * fence records freed, its pending sync files left to whoever holds them. */
static void fence_holder_drop(struct registry *r, struct holder *h)
{
        struct list *pos, *tmp;

        /* signalling one fence fires only what waits for it, never
         * another fence of @h's: the walk's next entry stays valid */
        list_for_each_safe(pos, tmp, &h->fences) {
                struct fence *f = container_of(pos, struct fence, owner_link);
                bool user = f->type == FENCE_USER;

                if (!f->node.signalled)
                        fence_signal(r, f, -EPIPE); /* a submit fence goes with it */
                if (user)
                        fence_forget(r, f);
        }
        /* sync files outlive their maker: their fds may be anywhere now;
         * its uid pays for them until they signal (max_sync_files_per_uid) */
        list_for_each_safe(pos, tmp, &h->waiters) {
                struct waiter *w = container_of(pos, struct waiter, owner_link);

                list_remove(&w->owner_link);
                w->owner = NULL;
        }
        h->n_waiters = 0;
}

/* @ref's holder dropped its last reference: it reads no more (status 0). */
static void fence_ref_gone(struct registry *r, struct ref *ref)
{
        if (ref->read_fence)
                fence_signal(r, ref->read_fence, 0); /* it reads no more */
}

static void node_fired(struct registry *r, struct sync_node *n)
{
        switch (n->kind) {
        case NODE_FENCE:
                fence_fired(r, container_of(n, struct fence, node));
                break;
        case NODE_BATCH:
                batch_fired(r, container_of(n, struct batch, node));
                break;
        case NODE_WAITER:
                waiter_fired(r, container_of(n, struct waiter, node));
                break;
        }
}

static const struct registry_hooks fence_hooks = {
        .holder_drop = fence_holder_drop,
        .ref_gone = fence_ref_gone,
        .buffer_gone = fence_buffer_gone,
        .buffer_busy = registry_buffer_busy,
};

void fence_setup(struct registry *r)
{
        r->hooks = &fence_hooks;
}
