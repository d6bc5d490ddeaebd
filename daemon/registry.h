/* SPDX-License-Identifier: MIT */
/*
 * The registry: every buffer the daemon hosts and who holds references
 * to it. It knows nothing of sockets: the socket protocol, and later the
 * CUSE device and D-Bus, all call it on behalf of a struct holder.
 *
 * Lifecycle (dma-buf's words in brackets):
 *   registry_export()   a new sealed memfd and the exporter's reference
 *   registry_import()   a reference for whoever presents the fd  [dma_buf_get]
 *   registry_release()  drops one reference                       [dma_buf_put]
 *   registry_holder_drop() drops everything of a holder that went away
 * A buffer leaves the registry when its last reference goes
 * [dma_buf_release]; fds and mappings that processes hold stay valid.
 *
 * Cost: no operation walks a list a client can grow. References are
 * found through a table keyed by (buffer, holder); info reads counters
 * and the first few entries of per-kind lists; a holder that goes away
 * walks only its own objects, each bounded by a limit.
 *
 * Files: registry.c (buffers, references, CPU access, who pays),
 * attachment.c (attachments), fence.c (fences, sync files, pools: see
 * fence.h), released.c (identities of released buffers), charge.c
 * (per-uid accounting), admission.c (memfds the daemon did not create).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "charge.h"
#include "hashmap.h"
#include "ident.h"
#include "limits.h"
#include "list.h"
#include "released.h"
#include "reserve.h"
#include "wire.h"

/* Whoever holds references: a socket connection, an open CUSE file. */
struct holder {
        uint64_t id; /* unique while the daemon runs: set by registry_holder_init() */
        pid_t pid;
        uid_t uid;
        gid_t gid;
        char comm[BS_COMM_LEN];
        struct list refs;        /* struct ref.holder_link */
        unsigned n_buffers;      /* distinct buffers referenced */
        unsigned n_attachments;
        struct list fences;      /* struct fence.owner_link: fences it signals */
        unsigned n_fences;       /* fences it created and did not destroy */
        struct list waiters;     /* struct waiter.owner_link: its pending sync files */
        unsigned n_waiters;
};

struct batch;
struct fence;

struct buffer {
        struct buffer_ident ident;
        int fd;              /* the daemon's own fd on the memfd */
        bool readonly_inode; /* mode 0444 at admission (imports look at the inode as it is) */
        uid_t payer;         /* the one uid charged for it (charge.h) */
        unsigned n_refs;     /* every reference of every holder */
        unsigned n_holders;  /* holders with at least one */
        struct list refs;    /* struct ref.buffer_link, oldest first */
        /* what info lists, kept as it changes so that info walks nothing */
        struct list readonly_refs; /* refs with ro_count > 0 */
        struct list cpu_refs;      /* refs inside CPU access */
        struct list attachments;   /* struct attachment.buffer_link */
        unsigned n_readonly, n_cpu_access, n_attachments;
        /* pending fences, as dma_resv keeps them (fence.h): per class,
         * the batch still taking fences and the last one sealed */
        struct batch *open[2], *last[2];
};

/* One holder's references on one buffer, its CPU access and attachments. */
struct ref {
        struct buffer *buffer;
        struct holder *holder;
        unsigned count;    /* all references, read-only ones included */
        unsigned ro_count; /* those from a read-only fd */
        unsigned cpu_read, cpu_write; /* open begin_cpu_access per flag */
        struct list buffer_link, holder_link, readonly_link, cpu_link;
        struct list attachments; /* struct attachment.ref_link */
        struct fence *read_fence; /* pending read fence SUBMIT gave its holder */
};

/* A "device" attached to a buffer by a holder of a reference on it. */
struct attachment {
        uint64_t id;
        struct ref *ref;
        char device[BS_NAME_LEN];
        uint64_t max_segment;
        bool mapped;
        uint8_t direction; /* enum dma_data_direction, while mapped */
        struct list ref_link, buffer_link;
};

enum dma_direction { /* the kernel's enum dma_data_direction values */
        DIR_BIDIRECTIONAL = 0,
        DIR_TO_DEVICE = 1,
        DIR_FROM_DEVICE = 2,
};

/*
 * What the registry tells the layer built on it (fence.c) as its own
 * objects end, and asks it: an ops table, as dma_buf_ops is dma-buf's,
 * so that nothing in registry.c calls up into the files above it. Each
 * member may be NULL.
 */
struct registry;
struct registry_hooks {
        /* @h goes away: end what it made, before its references drop */
        void (*holder_drop)(struct registry *r, struct holder *h);
        /* the last of @ref's references goes */
        void (*ref_gone)(struct registry *r, struct ref *ref);
        /* @b leaves the registry */
        void (*buffer_gone)(struct registry *r, struct buffer *b);
        /* would CPU access with BS_WIRE_SYNC_* @flags have to wait? */
        bool (*buffer_busy)(const struct buffer *b, uint32_t flags);
};

/* Told of buffers arriving and leaving (D-Bus signals, statistics). */
struct registry_observer {
        void (*created)(void *userdata, const struct buffer *b);
        void (*released)(void *userdata, const struct buffer_ident *ident);
        void *userdata;
};

/* Counters since the daemon started. */
struct registry_stats {
        uint64_t exported, imported, adopted, revived, released;
        uint64_t refused; /* requests answered with an error */
};

struct registry {
        const struct limits *limits;
        struct hashmap by_id;       /* {id, 0} -> struct buffer */
        struct hashmap by_inode;    /* {dev, ino} -> struct buffer */
        struct hashmap refs;        /* {buffer id, holder id} -> struct ref */
        struct hashmap attachments; /* {id, 0} -> struct attachment */
        struct hashmap fences;      /* {id, 0} -> struct fence a client named */
        struct hashmap waiters;     /* {dev, ino} of the client's end -> struct waiter */
        struct hashmap links;       /* {fence node id, batch node id} -> struct sync_link */
        struct charge charge;
        struct released_table released;
        uint64_t next_id, next_attachment_id, next_holder_id, next_node_id;
        uint64_t n_nodes; /* fences, batches and sync files alive */
        struct list firing; /* nodes about to fire (fence.c) */
        uint64_t fence_errors; /* errors that reached a batch: their clock (fence.c) */
        uint64_t n_buffers, n_bytes;
        struct registry_stats stats;
        struct registry_observer observer;
        const struct registry_hooks *hooks; /* set by the layer above (fence_setup()) */
        /* fds of released buffers and signalled sync files, closed by
         * registry_flush() once the reply is on its way: freeing a
         * memfd's inode costs ~2 us, a socket's end about as much, that
         * no client and no waiter should wait for */
        int *closing;
        unsigned n_closing, closing_cap;
        /* closes an fd whose queue a client could have filled with fds
         * whose release may wait (a fence's ready-made sync file): the
         * server's closer thread once it runs, on @uid's account (the
         * uid that could fill it), else close() */
        void (*close_slow)(void *ctx, uid_t uid, int fd);
        void *close_slow_ctx;
        /* fresh memfds made while idle (reserve.h); off until
         * registry_reserve() */
        struct reserve reserve;
};

int registry_init(struct registry *r, const struct limits *limits);
/* Frees every buffer; holders must have been dropped first. */
void registry_done(struct registry *r);

/* A holder with no references yet, and its id. */
void registry_holder_init(struct registry *r, struct holder *h, pid_t pid, uid_t uid, gid_t gid,
                          const char *comm);
/* Drop everything @h holds: it went away. Costs what @h holds, nothing more. */
void registry_holder_drop(struct registry *r, struct holder *h);

/*
 * A new buffer of @size bytes from @heap, named @name, and @h's reference
 * on it, paid for by @h's uid. -EINVAL for size 0, no heap or a long
 * name; -EFBIG over the size limit; -ENOENT for an unknown heap; -EMFILE
 * over the client's buffers; -EDQUOT over its uid's; -ENFILE when the
 * daemon is out of fds; on error nothing is created.
 */
int registry_export(struct registry *r, struct holder *h, uint64_t size, const char *heap,
                    const char *name, struct buffer **ret);
/* registry_export() with the image description @desc (image.h), checked
 * against @size before anything is allocated: -EINVAL if it doesn't fit. */
int registry_export_described(struct registry *r, struct holder *h, uint64_t size, const char *heap,
                              const char *name, const struct bs_wire_description *desc, struct buffer **ret);

/*
 * @count (1..BS_WIRE_BATCH_MAX) buffers as registry_export() makes them,
 * all of @size bytes and named @name, into @ret[0..count): all or none.
 * Every limit applies to each buffer (the client's buffers, its uid's
 * buffers and bytes), checked for the whole batch before the first is
 * made. Errors as registry_export()'s, and -EINVAL for a count out of
 * range; on error nothing is created and the observer hears nothing.
 */
int registry_export_batch(struct registry *r, struct holder *h, uint64_t size, const char *heap,
                          const char *name, unsigned count, struct buffer **ret);

/*
 * A reference for @h on the buffer whose memfd @fd is. A front end
 * passes only fds that closer_vet() took (fstat() of a client's file can
 * wait on a FUSE server), or the -EBADF or -EBADFD it returned, which
 * comes back as it is. @fd is consumed:
 * kept if the buffer must be registered, closed otherwise. A read-only
 * fd gives a read-only reference (-EPERM if the inode could be reopened
 * writable). A buffer the registry does not host (released while the fd
 * travelled, or never hosted) is admitted under admission.h's rules and
 * paid for by @h's uid: with its old identity if its uid's recent
 * releases have it, else as an adopted buffer with a new id.
 * -EBADF for an fd not open for reading; -EMFILE, -EDQUOT over a limit;
 * -EOVERFLOW when the buffer's reference count would wrap.
 */
int registry_import(struct registry *r, struct holder *h, int fd, struct buffer **ret,
                    bool *ret_readonly);

/*
 * Adopt the caller's memfd @fd as a new buffer (udmabuf's rules,
 * admission.h), and @h's reference on it. @fd is consumed; as for
 * registry_import(), a vetted fd or closer_vet()'s errno. -EACCES if it
 * is not open read-write, -EEXIST if the registry hosts it already
 * (import it instead). A refused memfd is left as it was.
 */
int registry_export_memfd(struct registry *r, struct holder *h, int fd, const char *name,
                          struct buffer **ret);

/* The buffer @id if @h holds a reference on it; -ENOENT otherwise. */
int registry_held(struct registry *r, const struct holder *h, uint64_t id, struct buffer **ret);

/*
 * A writable reference for @h on @id, which @from holds writable: how a
 * redeemed token hands a buffer allocated through a device file to a
 * socket client, with no fd to present. -ENOENT unless @from holds it;
 * -EMFILE, -EDQUOT over @h's limits, as an import.
 */
int registry_grant(struct registry *r, const struct holder *from, uint64_t id, struct holder *h,
                   struct buffer **ret);

/* Drop one of @h's references on @id, a read-only one if @readonly.
 * -ENOENT if @h holds none of that kind. The last reference of @h also
 * ends its CPU access and detaches its attachments. */
int registry_release(struct registry *r, struct holder *h, uint64_t id, bool readonly);

enum cpu_access_op {
        CPU_ACCESS_END = 0,
        CPU_ACCESS_BEGIN = 1,
        /* begin only if no conflicting fence is pending, else -EBUSY and
         * nothing recorded: a write conflicts with every fence, a read
         * with write fences (protocol version 2) */
        CPU_ACCESS_BEGIN_IDLE = 2,
};

/*
 * Begin or end CPU access to @id with BS_WIRE_SYNC_* @flags, as @op says.
 * -EINVAL for empty or unknown flags, or an end without a matching
 * begin; -EACCES for write access without a writable reference;
 * -ENOENT without any reference; -EBUSY (CPU_ACCESS_BEGIN_IDLE) while a
 * conflicting fence is pending.
 */
int registry_cpu_access(struct registry *r, struct holder *h, uint64_t id, uint32_t flags,
                        enum cpu_access_op op);

/* Attach @device to @id (@h must hold a reference). -EINVAL for an empty
 * name or a @max_segment that is not a page multiple; -EMFILE over the
 * client's attachments. */
int registry_attach(struct registry *r, struct holder *h, uint64_t id, const char *device,
                    uint64_t max_segment, struct attachment **ret);
/* Detach (unmapping first if mapped). -ENOENT unless @h made it. */
int registry_detach(struct registry *r, struct holder *h, uint64_t attachment_id);
/* Map for @direction: -EINVAL for another direction, -EACCES when the
 * device would write (from-device, bidirectional) through a read-only
 * reference, -EBUSY if already mapped. */
int registry_map_attachment(struct registry *r, struct holder *h, uint64_t attachment_id,
                            uint32_t direction);
/* -EINVAL if not mapped. */
int registry_unmap_attachment(struct registry *r, struct holder *h, uint64_t attachment_id);

/*
 * The buffer @id as @h may see it: @h holds a reference, or is root, or
 * has the exporter's uid. -ENOENT otherwise (an id alone grants nothing).
 */
int registry_find(struct registry *r, const struct holder *h, uint64_t id, struct buffer **ret);

/* Rename @id; @h must hold a reference (-ENOENT), a writable one (-EACCES). */
int registry_set_name(struct registry *r, struct holder *h, uint64_t id, const char *name);

/* Describe @id's image, or remove its description (all zero). @h must
 * hold a reference (-ENOENT), a writable one (-EACCES); the description
 * must fit the buffer (-EINVAL, image.h). */
int registry_set_description(struct registry *r, struct holder *h, uint64_t id,
                             const struct bs_wire_description *desc);

/* What info reports of a buffer: counters, and the first entries of each list. */
#define REGISTRY_INFO_MAX BS_WIRE_INFO_MAX
struct registry_info {
        struct buffer_ident ident;
        uid_t payer;
        uint32_t n_refs, n_holders;
        uint32_t n_readonly, n_attachments, n_cpu_access;
        pid_t readonly[REGISTRY_INFO_MAX];
        struct {
                pid_t pid;
                uint32_t flags; /* BS_WIRE_SYNC_* */
        } cpu_access[REGISTRY_INFO_MAX];
        struct {
                char device[BS_NAME_LEN];
                pid_t pid;
                bool mapped;
                uint8_t direction;
        } attachments[REGISTRY_INFO_MAX];
};
/* registry_find() and then fill @ret; never walks more than
 * REGISTRY_INFO_MAX entries of any list. */
int registry_get_info(struct registry *r, const struct holder *h, uint64_t id, struct registry_info *ret);

/* Read-only views for management (D-Bus): nothing here changes the
 * registry, and the registry must not change while a walk is going on. */

/* The buffer @id, or NULL: the daemon's own view, with no access check. */
const struct buffer *registry_lookup(const struct registry *r, uint64_t id);

/* Walk every buffer, in no particular order: start with *@cursor = 0;
 * NULL at the end. */
const struct buffer *registry_next_buffer(const struct registry *r, size_t *cursor);

/* One holder of a buffer, as the management view shows it. */
struct registry_holder_info {
        uint64_t holder_id;
        pid_t pid;
        uid_t uid;
        char comm[BS_COMM_LEN];
        uint32_t refs, readonly_refs;
};
/* The first @n holders of @b, oldest first, into @ret; returns how many
 * holders @b has (which may be more than @n). */
unsigned registry_buffer_holders(const struct buffer *b, struct registry_holder_info *ret, unsigned n);

/* registry_get_info() for the daemon's own management view: every
 * buffer is visible. -ENOENT for an unknown id. */
int registry_get_info_admin(struct registry *r, uint64_t id, struct registry_info *ret);

/* How many uids pay for something now. */
unsigned registry_n_payers(const struct registry *r);

/* What @uid pays for now. */
struct charge_usage registry_uid_usage(struct registry *r, uid_t uid);

/* Close the fds of buffers released, and the daemon's ends of sync files
 * signalled, since the last call. */
void registry_flush(struct registry *r);

/* Keep a reserve of @n fresh memfds (at most RESERVE_MAX; 0: none) for
 * exports from "system" to take. Nothing is made until registry_refill(). */
void registry_reserve(struct registry *r, unsigned n);
/* Whether the reserve is low enough to be worth refilling now: at most
 * half full. */
bool registry_reserve_low(const struct registry *r);
/* Make up to @max memfds for the reserve, each taking the next id.
 * Returns true if more are missing and another call could make them;
 * false when it is full, or when making one failed (out of fds: an
 * export then makes its memfd itself, and says -EMFILE if it can't). */
bool registry_refill(struct registry *r, unsigned max);
