/* SPDX-License-Identifier: MIT */
/* daemon/log.c: the rate limit that keeps hostile peers from flooding the log. */
#include "harness.h"

#include "log.h"

static void burst_then_suppressed(void **state)
{
        struct ratelimit rl = { 0 };
        int allowed = 0;

        for (int i = 0; i < 100; i++)
                allowed += ratelimit_allow(&rl);
        /* a burst of 10, and within the same second nothing more */
        assert_int_equal(allowed, 10);
        assert_int_equal(rl.suppressed, 90);
}

static void limiters_are_independent(void **state)
{
        struct ratelimit a = { 0 }, b = { 0 };

        for (int i = 0; i < 10; i++)
                assert_true(ratelimit_allow(&a));
        assert_false(ratelimit_allow(&a));
        assert_true(ratelimit_allow(&b));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(burst_then_suppressed, fx_base_setup, fx_base_teardown),
                cmocka_unit_test_setup_teardown(limiters_are_independent, fx_base_setup, fx_base_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
