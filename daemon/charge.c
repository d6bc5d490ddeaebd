/* SPDX-License-Identifier: MIT */
#include "charge.h"

#include <errno.h>
#include <stdlib.h>

struct charge_hold {
        unsigned n;
};

static struct hm_key uid_key(uid_t uid)
{
        return (struct hm_key){ uid, 0 };
}

static struct hm_key hold_key(uint64_t id, uid_t uid)
{
        return (struct hm_key){ id, uid };
}

/* @h's entry for @k, made zeroed (@size bytes) if it has none: NULL
 * when out of memory. */
static void *entry_get_or_new(struct hashmap *h, struct hm_key k, size_t size)
{
        void *e = hashmap_get(h, k);

        if (e)
                return e;
        e = calloc(1, size);
        if (e && hashmap_put(h, k, e) < 0) {
                free(e);
                return NULL;
        }
        return e;
}

void charge_init(struct charge *c)
{
        hashmap_init(&c->usage);
        hashmap_init(&c->holds);
        hashmap_init(&c->fds);
}

static void free_values(struct hashmap *h)
{
        for (size_t i = 0; i < h->cap; i++)
                free(h->slots[i].value);
        hashmap_done(h);
}

void charge_done(struct charge *c)
{
        free_values(&c->usage);
        free_values(&c->holds);
        free_values(&c->fds);
}

struct charge_usage charge_usage_of(const struct charge *c, uid_t uid)
{
        const struct charge_usage *u = hashmap_get(&c->usage, uid_key(uid));
        return u ? *u : (struct charge_usage){ 0, 0 };
}

int charge_check(const struct charge *c, const struct limits *l, uid_t uid, uint64_t bytes)
{
        struct charge_usage u = charge_usage_of(c, uid);
        return limits_check_bytes(l, u.bytes, u.buffers, bytes);
}

int charge_check_n(const struct charge *c, const struct limits *l, uid_t uid, unsigned n, uint64_t bytes)
{
        struct charge_usage u = charge_usage_of(c, uid);

        if (n == 0)
                return 0;
        if (bytes > UINT64_MAX / n)
                return -EDQUOT;
        return limits_check_bytes(l, u.bytes, u.buffers + n - 1, bytes * n);
}

int charge_pay(struct charge *c, uid_t uid, uint64_t bytes)
{
        struct charge_usage *u = entry_get_or_new(&c->usage, uid_key(uid), sizeof(*u));

        if (!u)
                return -ENOMEM;
        u->bytes += bytes;
        u->buffers++;
        return 0;
}

void charge_refund(struct charge *c, uid_t uid, uint64_t bytes)
{
        struct charge_usage *u = hashmap_get(&c->usage, uid_key(uid));

        if (!u)
                return;
        u->bytes -= bytes;
        u->buffers--;
        if (u->buffers == 0)
                free(hashmap_remove(&c->usage, uid_key(uid)));
}

int charge_hold(struct charge *c, uint64_t id, uid_t uid)
{
        struct charge_hold *h = entry_get_or_new(&c->holds, hold_key(id, uid), sizeof(*h));

        if (!h)
                return -ENOMEM;
        return (int)++h->n;
}

unsigned charge_unhold(struct charge *c, uint64_t id, uid_t uid)
{
        struct charge_hold *h = hashmap_get(&c->holds, hold_key(id, uid));
        unsigned n;

        if (!h)
                return 0;
        n = --h->n;
        if (n == 0)
                free(hashmap_remove(&c->holds, hold_key(id, uid)));
        return n;
}

unsigned charge_holders(const struct charge *c, uint64_t id, uid_t uid)
{
        const struct charge_hold *h = hashmap_get(&c->holds, hold_key(id, uid));
        return h ? h->n : 0;
}

static struct hm_key fd_key(uid_t uid, enum charge_fd kind)
{
        return (struct hm_key){ uid, kind };
}

unsigned charge_fds_of(const struct charge *c, uid_t uid, enum charge_fd kind)
{
        const struct charge_hold *h = hashmap_get(&c->fds, fd_key(uid, kind));
        return h ? h->n : 0;
}

int charge_fd_check(const struct charge *c, const struct limits *l, uid_t uid, unsigned n)
{
        unsigned held = charge_fds_of(c, uid, CHARGE_FD_SYNC_FILE) + charge_fds_of(c, uid, CHARGE_FD_FENCE);

        return limits_check_sync_files(l, held + n - 1);
}

int charge_imported_check(const struct charge *c, const struct limits *l, uid_t uid)
{
        return limits_check_sync_files(l, charge_fds_of(c, uid, CHARGE_FD_IMPORTED));
}

int charge_fence_check(const struct charge *c, const struct limits *l, uid_t uid)
{
        return limits_check_fences(l, charge_fds_of(c, uid, CHARGE_FD_USER_FENCE));
}

int charge_fd_add(struct charge *c, uid_t uid, enum charge_fd kind, unsigned n)
{
        struct charge_hold *h = entry_get_or_new(&c->fds, fd_key(uid, kind), sizeof(*h));

        if (!h)
                return -ENOMEM;
        h->n += n;
        return 0;
}

void charge_fd_drop(struct charge *c, uid_t uid, enum charge_fd kind, unsigned n)
{
        struct charge_hold *h = hashmap_get(&c->fds, fd_key(uid, kind));

        if (!h)
                return;
        h->n = h->n > n ? h->n - n : 0;
        if (h->n == 0)
                free(hashmap_remove(&c->fds, fd_key(uid, kind)));
}
