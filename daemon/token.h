/* SPDX-License-Identifier: MIT */
/*
 * One-time tokens: how a buffer allocated through /dev/bufshare reaches
 * its caller as an fd. CUSE can't install an fd in the caller, so ALLOC
 * answers with a token and the caller redeems it on the socket (REDEEM).
 *
 * The rules:
 *  - 128 bits from getrandom(): not guessable, so knowing one is the
 *    proof of having made the ALLOC (or having been told by its maker);
 *  - redeemable only by a client of the uid that opened the device file
 *    (the socket's SO_PEERCRED against fuse_req_ctx() at open): another
 *    uid gets -EPERM and the token stays good for its owner;
 *  - single use, and good for a lifetime fixed at start (5 s by default);
 *  - gone with the device file that made it, and with that file's
 *    reference on the buffer (RELEASE);
 *  - unknown, used, expired, dropped: all -ENOENT, so that a probe
 *    learns nothing about which.
 * Tokens are bounded by the buffers their files hold: one per ALLOC, gone
 * when the buffer's reference goes. Expired ones are dropped lazily,
 * oldest first, whenever the table is used.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hashmap.h"
#include "list.h"

struct holder;

struct token {
        uint64_t value[2];
        uint64_t buffer_id;
        uid_t uid;               /* who may redeem it */
        struct holder *origin;   /* the device file's holder, which holds the buffer */
        uint64_t expires_ns;     /* CLOCK_MONOTONIC */
        struct list expiry_link; /* the table's list, oldest first */
        struct list origin_link; /* the origin's list */
};

struct token_table {
        struct hashmap by_value; /* {value[0], value[1]} -> struct token */
        struct list by_expiry;   /* every token, in issue (and expiry) order */
        uint64_t lifetime_ns;
        uint64_t n_tokens;
};

#define TOKEN_DEFAULT_LIFETIME_MS 5000u

void token_table_init(struct token_table *t, unsigned lifetime_ms);
/* Frees every token (origins must not use their lists after this). */
void token_table_done(struct token_table *t);

/* CLOCK_MONOTONIC in ns: the clock of expiry. */
uint64_t token_now_ns(void);

/*
 * A new token for @buffer_id, held by @origin (in @origin_list, the
 * origin's list of tokens), redeemable by @uid until @now_ns + the
 * lifetime. Its value goes to @ret_value. 0, -ENOMEM, or -errno from
 * getrandom().
 */
int token_issue(struct token_table *t, struct list *origin_list, struct holder *origin, uid_t uid,
                uint64_t buffer_id, uint64_t now_ns, uint64_t ret_value[2]);

/*
 * The live token @value, if @uid may redeem it at @now_ns: -ENOENT for
 * an unknown, used, dropped or expired one; -EPERM for another uid. The
 * token stays until token_consume(): redeeming can still fail after this.
 */
int token_find(struct token_table *t, const uint64_t value[2], uid_t uid, uint64_t now_ns,
               struct token **ret);
/* Spend @tok: it is freed. */
void token_consume(struct token_table *t, struct token *tok);

/* Drop every token in @origin_list (its file closed). */
void token_drop_origin(struct token_table *t, struct list *origin_list);
/* Drop the tokens of @origin_list for @buffer_id (its reference went). */
void token_drop_buffer(struct token_table *t, struct list *origin_list, uint64_t buffer_id);
/* Drop tokens expired at @now_ns. */
void token_expire(struct token_table *t, uint64_t now_ns);
