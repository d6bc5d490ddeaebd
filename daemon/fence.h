/* SPDX-License-Identifier: MIT */
/*
 * Fences and sync files: dma-fence, dma_resv and sync_file in the
 * daemon's books (DESIGN.md §2 "Fence" and "Pool").
 *
 * Lifecycle, as a producer and its consumers see it:
 *   1. registry_fence_create()    a fence of the caller's  [dma_fence_init]
 *   2. registry_fence_attach()    pending on a buffer as a read or write
 *                                 fence                    [dma_resv_add_fence]
 *   3. registry_export_sync_file() a waiter's own fd that becomes readable
 *                                 when what it waits for is signalled
 *                                                          [DMA_BUF_IOCTL_EXPORT_SYNC_FILE]
 *   4. registry_fence_signal()    by its creator only, once [dma_fence_signal]
 * A connection that closes signals its unsignalled fences with -EPIPE at
 * once. SUBMIT and RELEASE_READ make a pool race-free: SUBMIT gives every
 * other holder of the buffer a read fence of its own, which that holder
 * signals when it has read the frame (or dies: -EPIPE).
 *
 * Everything that waits is a node of one graph: a fence waits for its
 * signal, a batch for the fences attached to a buffer between two
 * exports (and for the batch before it), a sync file for a batch or, once
 * merged, for other sync files; an imported sync file is a fence that
 * waits for a sync file. A node whose inputs are all signalled fires and
 * wakes what waits on it. A sync file reports an error of the fences
 * pending when it was made, the first one when none of theirs came
 * before it was made: a batch records the first and the last error of
 * its fences and of the batches before it, each with the time it came,
 * passes them on to the next batch when it fires, and to each sync file
 * the one that came after that sync file was made, if one did. So an
 * error costs one record however long the chain behind it, and a sync
 * file made after an error never sees it (dma_resv forgets signalled
 * fences).
 *
 * Why batches: a buffer keeps, per class (write fences; all fences), the
 * batch still taking fences and the last one sealed; an export seals the
 * open one and waits on it, and each batch waits on the one before. So an
 * export never walks the buffer's fences, which other clients add to:
 * it costs one link, whatever the buffer carries. Nothing walks a list
 * that another client can grow, except SUBMIT, which walks the buffer's
 * holders (one entry per connection). A node's own waiters are bounded
 * by max_waiters_per_fence, a client's fences by max_fences_per_client,
 * its pending sync files by max_waiters_per_client, and those of all the
 * connections of a uid, connected or gone, by max_sync_files_per_uid: a
 * pending sync file outlives its maker (its fd may be anywhere), and the
 * daemon's end of it is an fd the daemon holds until it signals.
 *
 * A sync file is one end of a SOCK_SEQPACKET socketpair; the daemon keeps
 * the other. Signalling sends one datagram, the int32 status, and closes
 * the daemon's end: the waiter's end then stays readable, the status can
 * be peeked without consuming it, and nothing the waiter does to its own
 * end reaches anyone else. Each end has its own inode, so the daemon
 * knows a pending one by (st_dev, st_ino) when it comes back for a merge
 * or an import, and a signalled one by its peer (the daemon itself) and
 * the status waiting in it.
 *
 * A fence may come with its first sync file made at once (FENCE_CREATE
 * with BS_WIRE_FENCE_PAIR), its sending end shared with the creator: the
 * first export that waits for that fence alone hands it out, and the
 * creator wakes that waiter by sending the status itself, with no daemon
 * in between; the daemon, told by FENCE_SIGNAL as ever, sends nothing
 * more where that status waits unread. A sync file the daemon waits on
 * itself, or that a client will ask the daemon about (CPU access), is
 * never that one (BS_WIRE_SYNC_DAEMON): it wakes when the books say so.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "list.h"
#include "registry.h"

enum fence_class {
        FENCE_CLASS_WRITE = 0, /* write fences: what a reader waits for */
        FENCE_CLASS_ALL = 1,   /* every fence: what a writer waits for */
};

enum node_kind { NODE_FENCE, NODE_BATCH, NODE_WAITER };

/* One thing that waits, and may be waited for. */
struct sync_node {
        uint64_t id;      /* unique while the daemon runs; a fence's is its id */
        uint8_t kind;     /* enum node_kind */
        bool signalled;
        int status;       /* 0, or the first error among its inputs (never a batch's) */
        unsigned pending; /* inputs not signalled yet (a fence: its own signal) */
        struct list in;   /* struct sync_link.to_link: what it waits for */
        struct list out;  /* struct sync_link.from_link: what waits for it */
        unsigned n_out;
        struct list work; /* while queued to fire */
};

/* @to waits for @from. */
struct sync_link {
        struct sync_node *from, *to;
        struct list from_link, to_link;
        bool keyed; /* in registry.links: a fence's link to a batch */
};

enum fence_type {
        FENCE_USER,     /* FENCE_CREATE: its creator signals it; destroyed by name */
        FENCE_SUBMIT,   /* SUBMIT: a consumer's read of one frame; freed once signalled */
        FENCE_IMPORTED, /* IMPORT_SYNC_FILE: signals with a sync file; freed then */
};

struct fence {
        struct sync_node node;
        uint8_t type;            /* enum fence_type */
        struct holder *owner;    /* who signals it; NULL for an imported one */
        struct list owner_link;  /* owner->fences */
        struct ref *ref;         /* FENCE_SUBMIT: the reference it reads through */
        /* FENCE_USER: its first sync file, ready to hand out (the
         * waiter's end, and the sending end, a copy of which its creator
         * has), until one is exported, or -EBADF; paid for by pair_uid */
        int pair[2];
        uid_t pair_uid;
        uid_t importer_uid; /* FENCE_IMPORTED: who pays for it until it fires */
};

/* An error that reached a batch, and when (registry.fence_errors): 0, none. */
struct batch_error {
        uint64_t at;
        int status;
};

/* Fences attached to one buffer between two seals, of one class. */
struct batch {
        struct sync_node node;
        struct buffer *buffer; /* while it is the buffer's open or last batch */
        uint8_t cls;           /* enum fence_class */
        /* the first and the last error of its fences and of the batches
         * before it (theirs come when they fire) */
        struct batch_error first_error, last_error;
};

/* A pending sync file: the daemon's end of its socketpair. */
struct waiter {
        struct sync_node node;
        int fd;
        dev_t dev; /* of the waiter's end */
        ino_t ino;
        struct holder *owner;   /* who made it; NULL once that client left */
        struct list owner_link; /* owner->waiters */
        uid_t uid;              /* its maker's, charged for it until the daemon closes its end */
        uint64_t made_at;       /* registry.fence_errors when it was made */
};

/* Put fences on top of @r (right after registry_init()): what the
 * registry does as holders, references and buffers end (registry_hooks). */
void fence_setup(struct registry *r);

/*
 * A new fence of @h's, unsignalled, its id in *@ret_id.
 * -EMFILE when @h has max_fences_per_client fences; -EDQUOT when the
 * connections of @h's uid have max_fences_per_uid (each connection's
 * fences count until it destroys them or closes, and @h's uid pays for
 * each until then).
 *
 * With @want_pair, the fence's first sync file is made now, and kept
 * ready: the first export that waits for this fence alone hands out its
 * waiter's end, and *@ret_fd is a copy of its sending end, the
 * creator's, which signals that waiter by sending the status on it, with
 * no daemon in between (the daemon signals it too when it must, unless
 * that status waits in it already). *@ret_fd is -EBADF when @h's uid
 * holds max_sync_files_per_uid such fds (two a fence) or the daemon is
 * out of fds: the fence is made all the same.
 */
int registry_fence_create(struct registry *r, struct holder *h, bool want_pair, uint64_t *ret_id, int *ret_fd);

/*
 * Make @h's fence @fence_id pending on buffer @buffer_id with @usage
 * (BS_WIRE_SYNC_READ, _WRITE, or both: a write). A signalled fence, or
 * one pending there already, changes nothing. -EINVAL for empty or
 * unknown usage bits; -ENOENT unless @h holds a reference on the buffer
 * and made the fence; -EACCES for a write fence through read-only
 * references; -ENOSPC when the fence has max_waiters_per_fence waiters.
 */
int registry_fence_attach(struct registry *r, struct holder *h, uint64_t buffer_id, uint64_t fence_id,
                          uint32_t usage);

/*
 * Signal @h's fence @fence_id with @status (0 or -4095..-1): every sync
 * file waiting for it, and for nothing else, becomes readable.
 * -EINVAL for another status; -ENOENT unless @h made it; -EALREADY if
 * it is signalled already.
 */
int registry_fence_signal(struct registry *r, struct holder *h, uint64_t fence_id, int status);

/* Forget @h's fence @fence_id, signalling it with -ECANCELED first if it
 * is not signalled. -ENOENT unless @h made it. */
int registry_fence_destroy(struct registry *r, struct holder *h, uint64_t fence_id);

/*
 * A sync file for buffer @buffer_id (@h must hold a reference): with
 * BS_WIRE_SYNC_READ it waits for the write fences pending now, with
 * _WRITE for every fence pending now; with none pending it is signalled
 * (status 0) already. The waiter's end is in *@ret_fd, the caller's.
 * -EINVAL for empty or unknown flags; -ENOENT; -EMFILE when @h has
 * max_waiters_per_client pending sync files; -EDQUOT when the connections
 * of @h's uid, live or gone, made max_sync_files_per_uid pending sync
 * files; -ENOSPC when what it would
 * wait for has max_waiters_per_fence waiters; -ENFILE/-EMFILE when the
 * daemon is out of fds.
 */
int registry_export_sync_file(struct registry *r, struct holder *h, uint64_t buffer_id, uint32_t flags,
                              int *ret_fd);

/*
 * Close @h's sync file @fd (consumed). One still pending goes with it,
 * as if it had never been made: it is unlinked from what it waited for,
 * the daemon's end is closed, and it no longer counts against @h's
 * max_waiters_per_client nor its uid's max_sync_files_per_uid. Any other fd (signalled, not @h's pending
 * sync file, or one that a merge or an import waits for) is only closed. For a waiter that gives up: the device's
 * poll watch.
 */
void registry_sync_file_close(struct registry *r, struct holder *h, int fd);

/*
 * true while a fence that access with BS_WIRE_SYNC_* @flags waits for is
 * pending on @b: with _READ a write fence, with _WRITE any fence. What
 * dma_buf_poll() tests for EPOLLIN and EPOLLOUT; costs two loads.
 */
bool registry_buffer_busy(const struct buffer *b, uint32_t flags);

/*
 * Make the sync file @fd (the caller's; not consumed) pending on buffer
 * @buffer_id as a fence of @usage, as DMA_BUF_IOCTL_IMPORT_SYNC_FILE: it
 * signals when the sync file does, with its status. A signalled sync
 * file adds nothing. -EINVAL for bad usage or an fd that is not a sync
 * file of this daemon; -ENOENT, -EACCES as registry_fence_attach();
 * -ENOSPC when the sync file has max_waiters_per_fence waiters; -EDQUOT
 * when the connections of @h's uid, live or gone, imported
 * max_sync_files_per_uid sync files still pending (each is a fence of
 * nobody's that lasts until the sync file signals, paid for by @h's uid).
 */
int registry_import_sync_file(struct registry *r, struct holder *h, uint64_t buffer_id, uint32_t usage,
                              int fd);

/*
 * A sync file signalled when both @fd1 and @fd2 are (the caller's; not
 * consumed), with the first error among them, in *@ret_fd.
 * -EINVAL when one is not a sync file of this daemon; -EMFILE, -EDQUOT,
 * -ENOSPC as registry_export_sync_file().
 */
int registry_sync_file_merge(struct registry *r, struct holder *h, int fd1, int fd2, int *ret_fd);

/*
 * A frame in buffer @buffer_id is ready: every other holder of a
 * reference on it gets a pending read fence of its own (or keeps the one
 * it has not signalled yet), which it signals with
 * registry_release_read() or by going away (-EPIPE). *@ret_n_readers is
 * how many have one. -ENOENT without a reference; -EACCES without a
 * writable one.
 */
int registry_submit(struct registry *r, struct holder *h, uint64_t buffer_id, uint32_t *ret_n_readers);

/*
 * @h has read the frame in buffer @buffer_id: signal the read fence
 * SUBMIT gave it there with @status (0 or -4095..-1). -EINVAL for
 * another status; -ENOENT without a reference or a pending read fence.
 */
int registry_release_read(struct registry *r, struct holder *h, uint64_t buffer_id, int status);
