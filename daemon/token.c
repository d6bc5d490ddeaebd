/* SPDX-License-Identifier: MIT */
#include "token.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static struct hm_key value_key(const uint64_t v[2])
{
        return (struct hm_key){ v[0], v[1] };
}

void token_table_init(struct token_table *t, unsigned lifetime_ms)
{
        memset(t, 0, sizeof(*t));
        hashmap_init(&t->by_value);
        list_init(&t->by_expiry);
        t->lifetime_ns = (uint64_t)lifetime_ms * 1000000u;
}

static void token_free(struct token_table *t, struct token *tok)
{
        hashmap_remove(&t->by_value, value_key(tok->value));
        list_remove(&tok->expiry_link);
        list_remove(&tok->origin_link);
        t->n_tokens--;
        /* the value is a secret: don't leave it in freed memory */
        explicit_bzero(tok->value, sizeof(tok->value));
        free(tok);
}

void token_table_done(struct token_table *t)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &t->by_expiry)
                token_free(t, container_of(pos, struct token, expiry_link));
        hashmap_done(&t->by_value);
}

uint64_t token_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void token_expire(struct token_table *t, uint64_t now_ns)
{
        /* issued with one lifetime, so the oldest expires first */
        while (!list_empty(&t->by_expiry)) {
                struct token *tok = container_of(t->by_expiry.next, struct token, expiry_link);
                if (tok->expires_ns > now_ns)
                        break;
                token_free(t, tok);
        }
}

int token_issue(struct token_table *t, struct list *origin_list, struct holder *origin, uid_t uid,
                uint64_t buffer_id, uint64_t now_ns, uint64_t ret_value[2])
{
        struct token *tok;
        int r;

        token_expire(t, now_ns);
        tok = calloc(1, sizeof(*tok));
        if (!tok)
                return -ENOMEM;
        /* blocks only until the kernel's random pool is first ready, once
         * per boot; a collision of 128 random bits is retried, not trusted */
        do {
                if (getrandom(tok->value, sizeof(tok->value), 0) != (ssize_t)sizeof(tok->value)) {
                        r = errno ? -errno : -EIO;
                        free(tok);
                        return r;
                }
                r = hashmap_put(&t->by_value, value_key(tok->value), tok);
        } while (r == -EEXIST);
        if (r < 0) {
                free(tok);
                return r;
        }
        tok->buffer_id = buffer_id;
        tok->uid = uid;
        tok->origin = origin;
        tok->expires_ns = now_ns + t->lifetime_ns;
        list_insert_tail(&t->by_expiry, &tok->expiry_link);
        list_insert_tail(origin_list, &tok->origin_link);
        t->n_tokens++;
        memcpy(ret_value, tok->value, sizeof(tok->value));
        return 0;
}

int token_find(struct token_table *t, const uint64_t value[2], uid_t uid, uint64_t now_ns,
               struct token **ret)
{
        struct token *tok;

        token_expire(t, now_ns);
        tok = hashmap_get(&t->by_value, value_key(value));
        if (!tok)
                return -ENOENT;
        if (tok->uid != uid)
                return -EPERM;
        *ret = tok;
        return 0;
}

void token_consume(struct token_table *t, struct token *tok)
{
        token_free(t, tok);
}

void token_drop_origin(struct token_table *t, struct list *origin_list)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, origin_list)
                token_free(t, container_of(pos, struct token, origin_link));
}

void token_drop_buffer(struct token_table *t, struct list *origin_list, uint64_t buffer_id)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, origin_list) {
                struct token *tok = container_of(pos, struct token, origin_link);
                if (tok->buffer_id == buffer_id)
                        token_free(t, tok);
        }
}
