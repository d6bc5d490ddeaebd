/* SPDX-License-Identifier: MIT */
/*
 * A small reserve of fresh memfds, made while the daemon's loop is idle,
 * so that an export pays only for what needs its size: ftruncate and the
 * seals (~1.3 us), not memfd_create and fchmod and fstat (~4 us here,
 * ../shared/notes/floors.md 1d-g and 5a).
 *
 * Each memfd is named "bufshare:ID" when it is made, so its id is taken
 * then, from the registry's counter: the buffer it becomes has that id,
 * and an fd of it imported after its release is recognised by that name,
 * as for any other export (released.h). Entries leave in the order they
 * were made, so export ids still grow; ids skipped by an adoption made in
 * between, or by a memfd closed unused, are never reused.
 *
 * Bounded: at most RESERVE_MAX memfds (LIMITS_MEMFD_RESERVE fds, counted
 * in the daemon's fd budget, limits.h), each empty: ~1.3 KB of kernel
 * slab and no pages (floors.md 8e), ~21 KB in all.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "limits.h"

#define RESERVE_MAX LIMITS_MEMFD_RESERVE

struct reserve_entry {
        int fd; /* empty, unsealed, mode 0444 */
        uint64_t id;
        dev_t dev;
        ino_t ino;
};

struct reserve {
        struct reserve_entry e[RESERVE_MAX]; /* a ring, oldest at head */
        unsigned head, n;
        unsigned target; /* refilled up to this many; 0: no reserve */
};

/* An empty reserve that wants @target memfds (at most RESERVE_MAX). */
void reserve_init(struct reserve *res, unsigned target);
/* Close every memfd left. */
void reserve_done(struct reserve *res);

/* How many memfds are missing. */
static inline unsigned reserve_missing(const struct reserve *res)
{
        return res->target > res->n ? res->target - res->n : 0;
}

/* Take the oldest memfd: 0 with it in *@ret (the fd is the caller's), or
 * -ENOENT when the reserve is empty. */
int reserve_take(struct reserve *res, struct reserve_entry *ret);

/* Add @e (its fd is the reserve's). The caller checked reserve_missing(). */
void reserve_put(struct reserve *res, const struct reserve_entry *e);
