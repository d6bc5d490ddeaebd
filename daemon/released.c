/* SPDX-License-Identifier: MIT */
#include "released.h"

#include <errno.h>
#include <stdlib.h>

#include "list.h"

struct released_ring {
        uid_t uid;
        struct list entries; /* oldest first */
        unsigned n;
};

struct released_entry {
        struct released_ring *ring;
        struct list link;
        struct buffer_ident ident;
};

static struct hm_key inode_key(dev_t dev, ino_t ino)
{
        return (struct hm_key){ (uint64_t)dev, (uint64_t)ino };
}

static struct hm_key uid_key(uid_t uid)
{
        return (struct hm_key){ uid, 0 };
}

void released_init(struct released_table *t, unsigned per_uid_max)
{
        hashmap_init(&t->by_inode);
        hashmap_init(&t->rings);
        t->per_uid_max = per_uid_max ? per_uid_max : 1;
        t->n_entries = 0;
}

/* Unlink @e from its ring and the index and free it; a ring left empty
 * goes too. */
static void entry_drop(struct released_table *t, struct released_entry *e)
{
        struct released_ring *ring = e->ring;

        hashmap_remove(&t->by_inode, inode_key(e->ident.dev, e->ident.ino));
        list_remove(&e->link);
        free(e);
        t->n_entries--;
        if (--ring->n == 0) {
                hashmap_remove(&t->rings, uid_key(ring->uid));
                free(ring);
        }
}

void released_done(struct released_table *t)
{
        for (size_t i = 0; i < t->rings.cap; i++) {
                struct released_ring *ring = t->rings.slots[i].value;
                struct list *pos, *tmp;

                if (!ring)
                        continue;
                list_for_each_safe(pos, tmp, &ring->entries)
                        free(container_of(pos, struct released_entry, link));
                free(ring);
        }
        hashmap_done(&t->rings);
        hashmap_done(&t->by_inode);
        t->n_entries = 0;
}

static struct released_ring *ring_get(struct released_table *t, uid_t uid)
{
        struct released_ring *ring = hashmap_get(&t->rings, uid_key(uid));

        if (ring)
                return ring;
        ring = calloc(1, sizeof(*ring));
        if (!ring)
                return NULL;
        ring->uid = uid;
        list_init(&ring->entries);
        if (hashmap_put(&t->rings, uid_key(uid), ring) < 0) {
                free(ring);
                return NULL;
        }
        return ring;
}

void released_remember(struct released_table *t, uid_t uid, const struct buffer_ident *ident)
{
        struct released_entry *e, *old;
        struct released_ring *ring;

        /* an older entry for a reused inode number is stale */
        old = hashmap_get(&t->by_inode, inode_key(ident->dev, ident->ino));
        if (old)
                entry_drop(t, old);
        ring = ring_get(t, uid);
        if (!ring)
                return;
        if (ring->n == t->per_uid_max) {
                /* full: forget this uid's oldest, and take its memory (a
                 * ring is full in a steady state: one free and calloc
                 * less per release) */
                e = container_of(ring->entries.next, struct released_entry, link);
                hashmap_remove(&t->by_inode, inode_key(e->ident.dev, e->ident.ino));
                list_remove(&e->link);
                ring->n--;
                t->n_entries--;
        } else {
                e = calloc(1, sizeof(*e));
        }
        if (!e || hashmap_put(&t->by_inode, inode_key(ident->dev, ident->ino), e) < 0) {
                free(e);
                if (ring->n == 0) {
                        hashmap_remove(&t->rings, uid_key(uid));
                        free(ring);
                }
                return;
        }
        e->ring = ring;
        e->ident = *ident;
        list_insert_tail(&ring->entries, &e->link);
        ring->n++;
        t->n_entries++;
}

int released_take(struct released_table *t, dev_t dev, ino_t ino, struct buffer_ident *ret,
                  uid_t *ret_uid)
{
        struct released_entry *e = hashmap_get(&t->by_inode, inode_key(dev, ino));

        if (!e)
                return -ENOENT;
        *ret = e->ident;
        *ret_uid = e->ring->uid;
        entry_drop(t, e);
        return 0;
}
