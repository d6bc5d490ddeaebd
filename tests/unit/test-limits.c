/* SPDX-License-Identifier: MIT */
/* daemon/limits.c: parsing and each limit's boundary and errno. */
#include "harness.h"

#include <errno.h>

#include "limits.h"
#include "util.h"

static void sizes_parse_with_binary_suffixes(void **state)
{
        uint64_t v = 0xad;

        assert_int_equal(limits_parse_size("4096", &v), 0);
        assert_int_equal(v, 4096);
        assert_int_equal(limits_parse_size("64K", &v), 0);
        assert_int_equal(v, 64 << 10);
        assert_int_equal(limits_parse_size("2G", &v), 0);
        assert_int_equal(v, 2ull << 30);
        v = 0xad;
        assert_int_equal(limits_parse_size("", &v), -EINVAL);
        assert_int_equal(limits_parse_size("-1", &v), -EINVAL);
        assert_int_equal(limits_parse_size("12Q", &v), -EINVAL);
        assert_int_equal(limits_parse_size("1KB", &v), -EINVAL);
        assert_int_equal(limits_parse_size("99999999999999999999", &v), -ERANGE);
        assert_int_equal(limits_parse_size("17000000000T", &v), -ERANGE);
        assert_int_equal(v, 0xad); /* never clobbered on failure */
}

static void counts_parse_from_one(void **state)
{
        uint32_t v = 0xad;

        assert_int_equal(limits_parse_count("3", &v), 0);
        assert_int_equal(v, 3);
        v = 0xad;
        assert_int_equal(limits_parse_count("0", &v), -ERANGE);
        assert_int_equal(limits_parse_count("4294967296", &v), -ERANGE);
        assert_int_equal(limits_parse_count("3x", &v), -EINVAL);
        assert_int_equal(v, 0xad);
}

static void each_limit_at_its_boundary(void **state)
{
        struct limits l = { .max_buffer_size = 100, .max_buffers_per_client = 2, .max_clients = 2,
                            .max_connections_per_uid = 1, .max_bytes_per_uid = 1000,
                            .max_buffers_per_uid = 3, .max_attachments_per_client = 4,
                            .max_sync_files_per_uid = 5, .max_fences_per_uid = 6 };

        assert_int_equal(limits_check_size(&l, 0), -EINVAL);
        assert_int_equal(limits_check_size(&l, 100), 0);
        assert_int_equal(limits_check_size(&l, 101), -EFBIG);
        assert_int_equal(limits_check_buffers(&l, 1), 0);
        assert_int_equal(limits_check_buffers(&l, 2), -EMFILE);
        assert_int_equal(limits_check_connections(&l, 1, 0), 0);
        assert_int_equal(limits_check_connections(&l, 2, 0), -EUSERS);
        assert_int_equal(limits_check_connections(&l, 1, 1), -EUSERS);
        assert_int_equal(limits_check_bytes(&l, 600, 2, 400), 0);
        assert_int_equal(limits_check_bytes(&l, 600, 2, 401), -EDQUOT);
        assert_int_equal(limits_check_bytes(&l, 600, 3, 1), -EDQUOT); /* the uid's buffer count */
        assert_int_equal(limits_check_bytes(&l, 0, 0, UINT64_MAX), -EDQUOT); /* no overflow */
        assert_int_equal(limits_check_attachments(&l, 3), 0);
        assert_int_equal(limits_check_attachments(&l, 4), -EMFILE);
        assert_int_equal(limits_check_sync_files(&l, 4), 0);
        assert_int_equal(limits_check_sync_files(&l, 5), -EDQUOT);
        assert_int_equal(limits_check_fences(&l, 5), 0);
        assert_int_equal(limits_check_fences(&l, 6), -EDQUOT);
}

static void defaults_are_sane(void **state)
{
        struct limits l;

        limits_init_default(&l, 20000);
        assert_int_equal(l.max_buffer_size, LIMITS_DEFAULT_MAX_BUFFER_SIZE);
        assert_true(l.max_clients >= 1000);
        assert_true(l.max_bytes_per_uid >= (1ull << 30));
        assert_true(l.hello_timeout_ms > 0);
}

/* A fence costs memory, not an fd: a uid's connections may make a few
 * connections' worth, whatever the fd limit, and not each one's. */
static void fences_per_uid_are_a_few_clients_worth(void **state)
{
        static const uint64_t fd_limits[] = { 256, 20000, 1u << 20 };

        for (unsigned i = 0; i < ELEMENTSOF(fd_limits); i++) {
                struct limits l;

                limits_init_default(&l, fd_limits[i]);
                assert_int_equal(l.max_fences_per_client, LIMITS_DEFAULT_MAX_FENCES_PER_CLIENT);
                assert_int_equal(l.max_fences_per_uid, 4 * LIMITS_DEFAULT_MAX_FENCES_PER_CLIENT);
                assert_true(l.max_fences_per_uid < (uint64_t)l.max_fences_per_client * l.max_connections_per_uid ||
                            l.max_connections_per_uid <= 4);
        }
}

/* Buffers, connections and waiters each cost the daemon an fd: the
 * defaults must leave every fd budget out of reach of one client and of
 * one uid, at any fd limit. */
static void defaults_fit_the_fd_limit(void **state)
{
        static const uint64_t fd_limits[] = { 256, 1024, 20000, 1u << 20 };

        for (unsigned i = 0; i < ELEMENTSOF(fd_limits); i++) {
                uint64_t f = fd_limits[i], budget = f - LIMITS_FD_KEPT;
                struct limits l;

                limits_init_default(&l, f);
                assert_true(l.max_buffers_per_client >= 1 && l.max_buffers_per_client < budget / 2);
                assert_true(l.max_buffers_per_uid < budget);
                assert_true(l.max_clients <= budget / 8 && l.max_clients <= LIMITS_DEFAULT_MAX_CLIENTS);
                assert_true(l.max_connections_per_uid < l.max_clients || l.max_clients == 1);
                assert_true(l.max_waiters_per_client < budget / 8);
                /* a uid's sync files bound those its gone connections left,
                 * and leave each connection its own share */
                assert_true(l.max_sync_files_per_uid >= l.max_waiters_per_client);
                assert_true(l.max_sync_files_per_uid <= budget / 8);
                /* fds in transit count against the daemon's user, whose fd
                 * limit is the kernel's bound on them: one uid gets a share */
                assert_true(l.max_fds_in_flight_per_uid >= 1 && l.max_fds_in_flight_per_uid <= budget / 8);
                /* one uid's buffers, connections and sync files together */
                assert_true((uint64_t)l.max_buffers_per_uid + l.max_connections_per_uid +
                                    l.max_sync_files_per_uid < budget);
        }
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(sizes_parse_with_binary_suffixes),
                T(counts_parse_from_one),
                T(each_limit_at_its_boundary),
                T(defaults_are_sane),
                T(defaults_fit_the_fd_limit),
                T(fences_per_uid_are_a_few_clients_worth),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
