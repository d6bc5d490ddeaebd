/* SPDX-License-Identifier: MIT */
/*
 * Recently released buffers, so that an fd still in transit when the
 * last reference went can be imported back under its id, name and
 * exporter (DESIGN.md §2, "holding the fd is always enough").
 *
 * How long an identity survives: for the last RELEASED_PER_UID releases
 * of the uid that paid for the buffer. Each uid has a ring of its own, so
 * no uid's releases can push out another uid's entries: a client that
 * exports and releases in a loop forgets only what its own uid released.
 * Every operation is O(1).
 */
#pragma once

#include <stdbool.h>

#include "hashmap.h"
#include "ident.h"

#define RELEASED_PER_UID 1024

struct released_table {
        struct hashmap by_inode; /* {dev, ino} -> struct released_entry */
        struct hashmap rings;    /* {uid, 0} -> struct released_ring */
        unsigned per_uid_max;
        unsigned n_entries;
};

void released_init(struct released_table *t, unsigned per_uid_max);
void released_done(struct released_table *t);

/* Remember @ident, paid for by @uid, forgetting @uid's oldest if its ring
 * is full, and any older entry of the same inode. Out of memory, it is
 * just not remembered: the fd then comes back as an adopted buffer. */
void released_remember(struct released_table *t, uid_t uid, const struct buffer_ident *ident);

/* Take the entry of inode @dev/@ino out of the table. 0 with the
 * identity and the uid that paid, or -ENOENT. */
int released_take(struct released_table *t, dev_t dev, ino_t ino, struct buffer_ident *ret,
                  uid_t *ret_uid);
