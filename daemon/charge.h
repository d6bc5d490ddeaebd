/* SPDX-License-Identifier: MIT */
/*
 * Who pays for a buffer (DESIGN.md §2): exactly one uid is charged for
 * each live buffer, the exporter's while one of its clients holds a
 * reference, otherwise the longest holder's. A uid never pays for a
 * buffer none of its clients holds. This file keeps the two tables that
 * rule needs, both O(1): what each uid pays for, and how many holders of
 * each uid a buffer has. The registry decides who the payer is.
 *
 * It also counts the pending sync files each uid's connections made
 * (fence.c): each costs the daemon an fd for as long as it is pending,
 * whether its maker is still connected or not, so the uid that made it
 * is charged until the daemon closes its end. And the fences: those its
 * connections made, until destroyed, and those they imported, until
 * signalled (memory, not fds, but a uid may have many connections).
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "hashmap.h"
#include "limits.h"

struct charge {
        struct hashmap usage; /* {uid, 0} -> struct charge_usage */
        struct hashmap holds; /* {buffer id, uid} -> struct charge_hold */
        /* {uid, CHARGE_FD_*} -> struct charge_hold: fds the daemon holds
         * for what a uid's connections made */
        struct hashmap fds;
};

struct charge_usage {
        uint64_t bytes;   /* bytes of the buffers the uid pays for */
        uint32_t buffers; /* how many */
};

void charge_init(struct charge *c);
void charge_done(struct charge *c);

/* What @uid pays for now (zeroes for a uid that pays for nothing). */
struct charge_usage charge_usage_of(const struct charge *c, uid_t uid);

/* -EDQUOT if @uid may not pay for one more buffer of @bytes. */
int charge_check(const struct charge *c, const struct limits *l, uid_t uid, uint64_t bytes);
/* -EDQUOT if @uid may not pay for @n more buffers of @bytes each. */
int charge_check_n(const struct charge *c, const struct limits *l, uid_t uid, unsigned n, uint64_t bytes);

/* Make @uid pay for a buffer of @bytes, within limits or not (a payer
 * that changes because others left can't be refused). 0 or -ENOMEM. */
int charge_pay(struct charge *c, uid_t uid, uint64_t bytes);
/* Stop @uid paying for a buffer of @bytes. */
void charge_refund(struct charge *c, uid_t uid, uint64_t bytes);

/* One more holder of @uid on buffer @id: the new count, or -ENOMEM. */
int charge_hold(struct charge *c, uint64_t id, uid_t uid);
/* One holder of @uid fewer on buffer @id: how many are left. */
unsigned charge_unhold(struct charge *c, uint64_t id, uid_t uid);
/* How many holders of @uid buffer @id has. */
unsigned charge_holders(const struct charge *c, uint64_t id, uid_t uid);

enum charge_fd {
        CHARGE_FD_SYNC_FILE = 0, /* pending sync files */
        CHARGE_FD_FENCE = 1,     /* fences' ready-made sync files */
        /* imported sync files' fences, pending: no fd, but memory that
         * outlives the connection; charge_fd_check() leaves them out,
         * charge_imported_check() has their own bound */
        CHARGE_FD_IMPORTED = 2,
        /* fences its connections made (FENCE_CREATE) and did not destroy:
         * no fd either, memory from FENCE_CREATE to FENCE_DESTROY or the
         * connection's end; charge_fence_check() has their bound */
        CHARGE_FD_USER_FENCE = 3,
};

/* How many fds of @kind the daemon holds for what @uid's connections made. */
unsigned charge_fds_of(const struct charge *c, uid_t uid, enum charge_fd kind);
/* -EDQUOT if @uid may not pay for @n (>= 1) more fds of either kind:
 * both share limits_check_sync_files()'s bound, max_sync_files_per_uid. */
int charge_fd_check(const struct charge *c, const struct limits *l, uid_t uid, unsigned n);
/* -EDQUOT if @uid's connections may not import one more pending sync
 * file: as many as max_sync_files_per_uid may be pending. */
int charge_imported_check(const struct charge *c, const struct limits *l, uid_t uid);
/* -EDQUOT if @uid's connections may not make one more fence: as many as
 * max_fences_per_uid may be made and not destroyed. */
int charge_fence_check(const struct charge *c, const struct limits *l, uid_t uid);
/* @n more of @kind for @uid: 0 or -ENOMEM. */
int charge_fd_add(struct charge *c, uid_t uid, enum charge_fd kind, unsigned n);
/* @n fewer. */
void charge_fd_drop(struct charge *c, uid_t uid, enum charge_fd kind, unsigned n);
