/* SPDX-License-Identifier: MIT */
/* daemon/hashmap.c against a plain array, through growth and deletions. */
#include "harness.h"

#include <errno.h>

#include "hashmap.h"

#define N 5000

static void matches_a_reference_model(void **state)
{
        static char present[N];
        static int values[N];
        struct hashmap h;
        uint64_t x = 88172645463325252ull;

        hashmap_init(&h);
        for (int i = 0; i < N; i++)
                values[i] = i;
        for (int step = 0; step < 200000; step++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
                int k = (int)(x % N);
                struct hm_key key = { (uint64_t)k * 4096, (uint64_t)k & 3 };

                if ((x >> 32) % 3 == 0) {
                        void *v = hashmap_remove(&h, key);
                        assert_ptr_equal(v, present[k] ? &values[k] : NULL);
                        present[k] = 0;
                } else if (present[k]) {
                        assert_int_equal(hashmap_put(&h, key, &values[k]), -EEXIST);
                } else {
                        assert_int_equal(hashmap_put(&h, key, &values[k]), 0);
                        present[k] = 1;
                }
        }
        size_t n = 0;
        for (int k = 0; k < N; k++) {
                struct hm_key key = { (uint64_t)k * 4096, (uint64_t)k & 3 };
                assert_ptr_equal(hashmap_get(&h, key), present[k] ? &values[k] : NULL);
                n += present[k];
        }
        assert_int_equal(h.len, n);
        hashmap_done(&h);
}

static void null_values_are_refused(void **state)
{
        struct hashmap h;

        hashmap_init(&h);
        assert_int_equal(hashmap_put(&h, (struct hm_key){ 1, 2 }, NULL), -EINVAL);
        assert_null(hashmap_get(&h, (struct hm_key){ 1, 2 }));
        assert_null(hashmap_remove(&h, (struct hm_key){ 1, 2 }));
        hashmap_done(&h);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(matches_a_reference_model, fx_base_setup, fx_base_teardown),
                cmocka_unit_test_setup_teardown(null_values_are_refused, fx_base_setup, fx_base_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
