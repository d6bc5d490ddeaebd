/* SPDX-License-Identifier: MIT */
/*
 * An open-addressing hash map from a 128-bit key to a pointer, with linear
 * probing and backward-shift deletion: O(1) lookup, insert and remove, no
 * tombstones. It doubles when half full and halves when under 1/8 full,
 * so the memory of a spike is given back. The registry keys buffers by id
 * ({id, 0}) and by inode ({st_dev, st_ino}).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct hm_key {
        uint64_t a, b;
};

struct hm_slot {
        struct hm_key key;
        void *value; /* NULL marks an empty slot */
};

struct hashmap {
        struct hm_slot *slots;
        size_t cap; /* a power of two, or 0 before the first insert */
        size_t len;
};

void hashmap_init(struct hashmap *h);
void hashmap_done(struct hashmap *h);
/* Returns 0, -EEXIST if @k is present, -ENOMEM. @value must not be NULL. */
int hashmap_put(struct hashmap *h, struct hm_key k, void *value);
void *hashmap_get(const struct hashmap *h, struct hm_key k);
/* Returns the removed value, or NULL if @k was absent. Slots may move:
 * don't remove while walking h->slots. */
void *hashmap_remove(struct hashmap *h, struct hm_key k);
/* Walk the values: start with *@pos = 0; returns the next value, or NULL
 * at the end. The map must not change during the walk. */
void *hashmap_next(const struct hashmap *h, size_t *pos);
