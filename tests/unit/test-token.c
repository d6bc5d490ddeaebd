/* SPDX-License-Identifier: MIT */
/* One-time tokens (daemon/token.c): single use, one uid, a lifetime,
 * gone with their file or their buffer; time is passed in, so expiry is
 * tested without waiting. */
#include "harness.h"

#include <errno.h>
#include <string.h>

#include "token.h"

#define MS 1000000ull

/* A table with a 500 ms lifetime, and one file's list of tokens. */
struct fx {
        int fds_before;
        struct token_table t;
        struct list mine;
};

static int setup(void **state)
{
        struct fx *fx = calloc(1, sizeof(*fx));

        fx->fds_before = test_count_open_fds();
        token_table_init(&fx->t, 500);
        list_init(&fx->mine);
        *state = fx;
        return 0;
}

static int teardown(void **state)
{
        struct fx *fx = *state;
        int leaked = test_count_open_fds() != fx->fds_before;

        token_table_done(&fx->t);
        free(fx);
        return leaked ? -1 : 0;
}


static void issue_find_consume_once(void **state)
{
        struct fx *fx = *state;
        struct token_table *t = &fx->t;
        struct list *mine = &fx->mine;
        uint64_t v[2], w[2];
        struct token *tok;

        assert_int_equal(token_issue(t, mine, NULL, 1000, 7, 0, v), 0);
        assert_int_equal(token_issue(t, mine, NULL, 1000, 8, 0, w), 0);
        assert_true(v[0] != w[0] || v[1] != w[1]);
        assert_int_equal(token_find(t, v, 1000, 1 * MS, &tok), 0);
        assert_int_equal(tok->buffer_id, 7);
        token_consume(t, tok);
        assert_int_equal(token_find(t, v, 1000, 2 * MS, &tok), -ENOENT);
        assert_int_equal(token_find(t, w, 1000, 2 * MS, &tok), 0);
        assert_int_equal(tok->buffer_id, 8);
        assert_int_equal(t->n_tokens, 1);
}

static void another_uid_is_refused_and_the_token_stays(void **state)
{
        struct fx *fx = *state;
        struct token_table *t = &fx->t;
        struct list *mine = &fx->mine;
        uint64_t v[2];
        struct token *tok;

        assert_int_equal(token_issue(t, mine, NULL, 1000, 7, 0, v), 0);
        assert_int_equal(token_find(t, v, 2000, 0, &tok), -EPERM);
        assert_int_equal(token_find(t, v, 0, 0, &tok), -EPERM); /* root too: the opener's uid only */
        assert_int_equal(token_find(t, v, 1000, 0, &tok), 0);
}

static void expiry_is_the_lifetime_to_the_nanosecond(void **state)
{
        struct fx *fx = *state;
        struct token_table *t = &fx->t;
        struct list *mine = &fx->mine;
        uint64_t v[2], w[2];
        struct token *tok;

        assert_int_equal(token_issue(t, mine, NULL, 1000, 7, 100 * MS, v), 0);
        assert_int_equal(token_issue(t, mine, NULL, 1000, 8, 300 * MS, w), 0);
        assert_int_equal(token_find(t, v, 1000, 600 * MS - 1, &tok), 0);
        assert_int_equal(token_find(t, v, 1000, 600 * MS, &tok), -ENOENT); /* expired: as unknown */
        assert_int_equal(t->n_tokens, 1); /* and dropped */
        assert_int_equal(token_find(t, w, 1000, 799 * MS, &tok), 0);
        token_expire(t, 800 * MS);
        assert_int_equal(t->n_tokens, 0);
        assert_true(list_empty(mine));
}

static void dropped_with_their_file_or_buffer(void **state)
{
        struct fx *fx = *state;
        struct token_table *t = &fx->t;
        struct list a, b;
        uint64_t v1[2], v2[2], v3[2];
        struct token *tok;

        list_init(&a);
        list_init(&b);
        assert_int_equal(token_issue(t, &a, NULL, 1000, 1, 0, v1), 0);
        assert_int_equal(token_issue(t, &a, NULL, 1000, 2, 0, v2), 0);
        assert_int_equal(token_issue(t, &b, NULL, 1000, 3, 0, v3), 0);
        token_drop_buffer(t, &a, 2);
        assert_int_equal(token_find(t, v2, 1000, 0, &tok), -ENOENT);
        assert_int_equal(token_find(t, v1, 1000, 0, &tok), 0);
        token_drop_origin(t, &a);
        assert_int_equal(token_find(t, v1, 1000, 0, &tok), -ENOENT);
        assert_int_equal(token_find(t, v3, 1000, 0, &tok), 0); /* another file's stays */
        assert_int_equal(t->n_tokens, 1);
        /* b's file closes too: the teardown must not unlink a token from
         * a list on this function's stack, gone by then */
        token_drop_origin(t, &b);
        assert_int_equal(t->n_tokens, 0);
}

static void made_up_tokens_are_unknown(void **state)
{
        struct fx *fx = *state;
        struct token_table *t = &fx->t;
        struct list *mine = &fx->mine;
        uint64_t v[2], zero[2] = { 0, 0 };
        struct token *tok;

        assert_int_equal(token_issue(t, mine, NULL, 1000, 7, 0, v), 0);
        assert_int_equal(token_find(t, zero, 1000, 0, &tok), -ENOENT);
        v[1] ^= 1;
        assert_int_equal(token_find(t, v, 1000, 0, &tok), -ENOENT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(issue_find_consume_once),
                T(another_uid_is_refused_and_the_token_stays),
                T(expiry_is_the_lifetime_to_the_nanosecond),
                T(dropped_with_their_file_or_buffer),
                T(made_up_tokens_are_unknown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
