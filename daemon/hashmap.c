/* SPDX-License-Identifier: MIT */
#include "hashmap.h"

#include <errno.h>
#include <stdlib.h>

static uint64_t mix(uint64_t x)
{
        /* splitmix64's finaliser */
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebull;
        x ^= x >> 31;
        return x;
}

static size_t slot_of(const struct hashmap *h, struct hm_key k)
{
        return (size_t)(mix(k.a ^ mix(k.b)) & (h->cap - 1));
}

static int key_eq(struct hm_key x, struct hm_key y)
{
        return x.a == y.a && x.b == y.b;
}

void hashmap_init(struct hashmap *h)
{
        h->slots = NULL;
        h->cap = 0;
        h->len = 0;
}

void hashmap_done(struct hashmap *h)
{
        free(h->slots);
        hashmap_init(h);
}

#define HASHMAP_MIN_CAP 64

static int resize(struct hashmap *h, size_t ncap)
{
        struct hm_slot *old = h->slots;
        size_t ocap = h->cap;

        h->slots = calloc(ncap, sizeof(*h->slots));
        if (!h->slots) {
                h->slots = old;
                return -ENOMEM;
        }
        h->cap = ncap;
        for (size_t i = 0; i < ocap; i++) {
                if (!old[i].value)
                        continue;
                size_t j = slot_of(h, old[i].key);
                while (h->slots[j].value)
                        j = (j + 1) & (ncap - 1);
                h->slots[j] = old[i];
        }
        free(old);
        return 0;
}

int hashmap_put(struct hashmap *h, struct hm_key k, void *value)
{
        size_t i;

        if (!value)
                return -EINVAL;
        /* keep the load factor under 1/2 so probes stay short */
        if ((h->len + 1) * 2 > h->cap) {
                int r = resize(h, h->cap ? h->cap * 2 : HASHMAP_MIN_CAP);
                if (r < 0)
                        return r;
        }
        for (i = slot_of(h, k); h->slots[i].value; i = (i + 1) & (h->cap - 1))
                if (key_eq(h->slots[i].key, k))
                        return -EEXIST;
        h->slots[i].key = k;
        h->slots[i].value = value;
        h->len++;
        return 0;
}

static size_t find(const struct hashmap *h, struct hm_key k)
{
        if (h->cap == 0)
                return SIZE_MAX;
        for (size_t i = slot_of(h, k); h->slots[i].value; i = (i + 1) & (h->cap - 1))
                if (key_eq(h->slots[i].key, k))
                        return i;
        return SIZE_MAX;
}

void *hashmap_get(const struct hashmap *h, struct hm_key k)
{
        size_t i = find(h, k);
        return i == SIZE_MAX ? NULL : h->slots[i].value;
}

void *hashmap_remove(struct hashmap *h, struct hm_key k)
{
        size_t i = find(h, k), mask = h->cap - 1;
        void *value;

        if (i == SIZE_MAX)
                return NULL;
        value = h->slots[i].value;
        h->slots[i].value = NULL;
        h->len--;
        /* backward-shift: move later members of the run into the hole when
         * their home slot is not between the hole and themselves */
        for (size_t j = (i + 1) & mask; h->slots[j].value; j = (j + 1) & mask) {
                size_t home = slot_of(h, h->slots[j].key);
                if (((j - home) & mask) >= ((j - i) & mask)) {
                        h->slots[i] = h->slots[j];
                        h->slots[j].value = NULL;
                        i = j;
                }
        }
        /* give memory back after a spike: halve below 1/8 full (not 1/4,
         * so that a map at the edge doesn't resize on every put and remove);
         * without memory for the smaller table, keep the larger one */
        if (h->cap > HASHMAP_MIN_CAP && h->len * 8 < h->cap)
                (void)resize(h, h->cap / 2);
        return value;
}

void *hashmap_next(const struct hashmap *h, size_t *pos)
{
        while (*pos < h->cap) {
                void *v = h->slots[(*pos)++].value;
                if (v)
                        return v;
        }
        return NULL;
}
