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
        struct list refs; /* struct ref.holder_link */
        unsigned n_buffers; /* distinct buffers referenced */
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
        int fd;           /* the daemon's own fd on the memfd */
        unsigned n_refs;  /* sum of every ref's count */
        struct list refs; /* struct ref.buffer_link */
};

/* One holder's references on one buffer. */
struct ref {
        struct buffer *buffer;
        struct holder *holder;
        unsigned count;
        struct list buffer_link, holder_link;
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
        struct hashmap by_id;    /* {id, 0} -> struct buffer */
        struct hashmap by_inode; /* {dev, ino} -> struct buffer */
        uint64_t next_id;
        uint64_t n_buffers;
        uint64_t n_bytes;
        /* a ring of recently released buffers, and its index by inode */
        struct released *released;
        unsigned released_head, released_len;
        struct hashmap released_by_inode;
};

int registry_init(struct registry *r, const struct limits *limits);
/* Frees every buffer; holders must have been dropped first. */
void registry_done(struct registry *r);

void holder_init(struct holder *h, pid_t pid, uid_t uid, gid_t gid, const char *comm);

/*
 * A new buffer of @size bytes from @heap, named @name, and @h's reference
 * on it. -EINVAL for size 0, -EFBIG over the limit, -ENOENT for an unknown
 * heap, or the allocation's -errno; on error nothing is created.
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
int registry_import(struct registry *r, struct holder *h, int fd, struct buffer **ret);

/* Drop one of @h's references on @id. -ENOENT if @h holds none. */
int registry_release(struct registry *r, struct holder *h, uint64_t id);

/*
 * The buffer @id as @h may see it: @h holds a reference, or is root, or
 * has the exporter's uid. -ENOENT otherwise (an id alone grants nothing).
 */
int registry_find(struct registry *r, const struct holder *h, uint64_t id, struct buffer **ret);

/* Rename @id; @h must hold a reference (-ENOENT). */
int registry_set_name(struct registry *r, struct holder *h, uint64_t id, const char *name);

/* Drop every reference @h holds: it went away. */
void registry_holder_drop(struct registry *r, struct holder *h);
