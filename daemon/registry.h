/* SPDX-License-Identifier: MIT */
/*
 * The registry: every buffer the daemon hosts, who holds references to
 * it, and the recently released ones. It knows nothing of sockets: the
 * socket server, and later the CUSE and D-Bus front ends, all call it on
 * behalf of a struct holder.
 *
 * Lifecycle (dma-buf's words in brackets):
 *   registry_export()   a new sealed memfd and the exporter's reference
 *   registry_import()   a reference for whoever presents the fd  [dma_buf_get]
 *   registry_release()  drops one reference                       [dma_buf_put]
 *   registry_holder_drop() drops every reference of a holder that went away
 * A buffer leaves the registry when its last reference goes
 * [dma_buf_release]; fds and mappings that processes hold stay valid.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hashmap.h"
#include "limits.h"
#include "list.h"
#include "wire.h"

/* Whoever holds references: a socket connection, later an open CUSE file. */
struct holder {
        pid_t pid;
        uid_t uid;
        gid_t gid;
        char comm[BS_COMM_LEN];
        struct list refs;        /* struct ref.holder_link */
        struct list attachments; /* struct attachment.holder_link */
        unsigned n_buffers;      /* distinct buffers referenced */
};

/* Who a buffer is: what the registry remembers after its release too. */
struct buffer_ident {
        uint64_t id;
        uint64_t size;
        dev_t dev;
        ino_t ino;
        char name[BS_NAME_LEN];
        char heap[BS_NAME_LEN];
        pid_t exporter_pid;
        uid_t exporter_uid;
        char exporter_comm[BS_COMM_LEN];
        uint64_t created_ns;
};

struct buffer {
        struct buffer_ident ident;
        int fd;                  /* the daemon's own fd on the memfd */
        bool readonly_inode;     /* mode 0444: read-only views are safe */
        unsigned n_refs;         /* sum of every ref's count */
        struct list refs;        /* struct ref.buffer_link */
        struct list attachments; /* struct attachment.buffer_link */
};

/* One holder's references on one buffer, and its CPU access. */
struct ref {
        struct buffer *buffer;
        struct holder *holder;
        unsigned count;    /* all references, read-only ones included */
        unsigned ro_count; /* those from a read-only fd */
        unsigned cpu_read, cpu_write; /* open begin_cpu_access per flag */
        struct list buffer_link, holder_link;
};

/* A "device" attached to a buffer by a holder of a reference on it. */
struct attachment {
        uint64_t id;
        struct buffer *buffer;
        struct holder *holder;
        char device[BS_NAME_LEN];
        uint64_t max_segment;
        bool mapped;
        uint8_t direction; /* enum dma_data_direction, while mapped */
        struct list buffer_link, holder_link;
};

enum dma_direction { /* the kernel's enum dma_data_direction values */
        DIR_BIDIRECTIONAL = 0,
        DIR_TO_DEVICE = 1,
        DIR_FROM_DEVICE = 2,
};

/* What the registry remembers of a buffer after its release, so that an
 * fd still in transit can import it back under its id and name. id 0
 * marks an entry that was taken back or replaced. */
struct released {
        struct buffer_ident ident;
};

#define REGISTRY_RELEASED_MAX 1024

struct registry {
        const struct limits *limits;
        struct hashmap by_id;       /* {id, 0} -> struct buffer */
        struct hashmap by_inode;    /* {dev, ino} -> struct buffer */
        struct hashmap attachments; /* {id, 0} -> struct attachment */
        struct hashmap uid_bytes;   /* {uid, 0} -> struct uid_usage */
        uint64_t next_id;
        uint64_t next_attachment_id;
        uint64_t n_buffers;
        uint64_t n_bytes;
        /* a ring of recently released buffers, and its index by inode */
        struct released *released;
        unsigned released_head, released_len;
        struct hashmap released_by_inode;
        /* fds of released buffers, closed by registry_flush() once the
         * reply that released them is on its way: freeing a memfd's
         * inode costs ~2 us that no client should wait for */
        int *closing;
        unsigned n_closing, closing_cap;
};

int registry_init(struct registry *r, const struct limits *limits);
/* Frees every buffer; holders must have been dropped first. */
void registry_done(struct registry *r);

void holder_init(struct holder *h, pid_t pid, uid_t uid, gid_t gid, const char *comm);

/*
 * A new buffer of @size bytes from @heap, named @name, and @h's reference
 * on it. -EINVAL for size 0 or no heap, -EFBIG over the limit, -ENOENT for
 * an unknown heap, or the allocation's -errno; on error nothing is created.
 */
int registry_export(struct registry *r, struct holder *h, uint64_t size, const char *heap,
                    const char *name, struct buffer **ret);

/*
 * A reference for @h on the buffer whose memfd @fd is. @fd is consumed:
 * kept if the buffer must be registered again, closed otherwise.
 * A buffer unknown to the registry is registered again (with its old id
 * and name if it was released recently, else with a new id) provided @fd
 * is a memfd sealed against shrink and grow: -EBADFD if it is no memfd,
 * -EINVAL without the seals.
 */
int registry_import(struct registry *r, struct holder *h, int fd, struct buffer **ret,
                    bool *ret_readonly);

/*
 * Adopt the caller's memfd @fd as a new buffer (udmabuf's rules, see
 * heap_adopt()), and @h's reference on it. @fd is consumed. -EEXIST if
 * the registry already has this memfd: import it instead.
 */
int registry_export_memfd(struct registry *r, struct holder *h, int fd, const char *name,
                          struct buffer **ret);

/* Drop one of @h's references on @id, a read-only one if @readonly.
 * -ENOENT if @h holds none of that kind. The last reference of @h also
 * ends its CPU access and detaches its attachments. */
int registry_release(struct registry *r, struct holder *h, uint64_t id, bool readonly);

/*
 * Begin (@begin) or end CPU access to @id with BS_WIRE_SYNC_* @flags.
 * -EINVAL for empty or unknown flags, or an end without a matching
 * begin; -EACCES for write access without a writable reference;
 * -ENOENT without any reference. Fences, once they exist, are waited
 * for here and only here: a write waits for all, a read for writers.
 */
int registry_cpu_access(struct registry *r, struct holder *h, uint64_t id, uint32_t flags, bool begin);

/* Attach @device to @id (@h must hold a reference). -EINVAL for an empty
 * name or a @max_segment that is not a page multiple. */
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

/* Bytes of live buffers charged to @uid. */
uint64_t registry_uid_bytes(struct registry *r, uid_t uid);

/*
 * The buffer @id as @h may see it: @h holds a reference, or is root, or
 * has the exporter's uid. -ENOENT otherwise (an id alone grants nothing).
 */
int registry_find(struct registry *r, const struct holder *h, uint64_t id, struct buffer **ret);

/* Rename @id; @h must hold a reference (-ENOENT), a writable one (-EACCES). */
int registry_set_name(struct registry *r, struct holder *h, uint64_t id, const char *name);

/* Drop every reference @h holds: it went away. */
void registry_holder_drop(struct registry *r, struct holder *h);

/* Close the fds of buffers released since the last call. */
void registry_flush(struct registry *r);
