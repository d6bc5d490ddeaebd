/* SPDX-License-Identifier: MIT */
/* daemon/config.c and the limits table: the config file of --config,
 * and how defaults, file and flags combine. Also protocol/utf8.c. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "config.h"
#include "limits.h"
#include "utf8.h"
#include "util.h"

/* Write @text to a fresh file; its path into @path (64 bytes). */
static void write_config(char *path, const char *text)
{
        int fd;

        snprintf(path, 64, "/tmp/bufshare-config-XXXXXX");
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static void a_good_file_sets_what_it_names(void **state)
{
        struct limits_overrides o;
        char path[64], err[256] = "";

        write_config(path, "# limits\n\n  max-buffer-size = 64M  \nmax-clients=12\n"
                           "hello-timeout = 500\nmax-clients = 13\n");
        assert_int_equal(config_read_limits(path, &o, err, sizeof(err)), 0);
        unlink(path);
        assert_int_equal(o.values.max_buffer_size, 64u << 20);
        assert_int_equal(o.values.max_clients, 13); /* the last one wins */
        assert_int_equal(o.values.hello_timeout_ms, 500);
        assert_int_equal(o.given, (1u << (limits_lookup("max-buffer-size") - limits_table)) |
                                          (1u << (limits_lookup("max-clients") - limits_table)) |
                                          (1u << (limits_lookup("hello-timeout") - limits_table)));
}

static void a_bad_file_says_where_and_changes_nothing(void **state)
{
        static const struct {
                const char *text, *says;
        } cases[] = {
                { "max-clients 12\n", ":1: not \"key = value\"" },
                { "\n# x\nmax-cleints = 12\n", ":3: unknown key \"max-cleints\"" },
                { "max-clients = 0\n", ":1: max-clients = \"0\": not a count" },
                { "max-clients = 4294967296\n", "not a count" },
                { "max-buffer-size = 12Q\n", "not a size" },
                { "max-buffer-size = 0\n", "not a size" },
                { "max-clients = \n", "not a count" },
        };
        struct limits_overrides o = { .given = 0xad };
        char path[64], err[256];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                write_config(path, cases[i].text);
                err[0] = '\0';
                assert_int_equal(config_read_limits(path, &o, err, sizeof(err)), -EINVAL);
                unlink(path);
                if (!strstr(err, cases[i].says) || !strstr(err, path))
                        fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].says);
                assert_int_equal(o.given, 0xad);
        }
        assert_int_equal(config_read_limits("/nonexistent/bufshare.conf", &o, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "/nonexistent/bufshare.conf"));
}

static void flags_win_over_the_file(void **state)
{
        struct limits_overrides file = {}, flags = {};
        const struct limits_overrides *layers[] = { &file, &flags };
        struct limits l, defaults;

        limits_init_default(&defaults, 20000);
        assert_int_equal(limits_override(&file, limits_lookup("max-buffer-size"), 1 << 20), 0);
        assert_int_equal(limits_override(&file, limits_lookup("max-clients"), 100), 0);
        assert_int_equal(limits_override(&flags, limits_lookup("max-buffer-size"), 2 << 20), 0);
        limits_compose(&l, 20000, layers, 2);
        assert_int_equal(l.max_buffer_size, 2 << 20);
        assert_int_equal(l.max_clients, 100);
        /* max-clients alone also bounds each uid's share */
        assert_int_equal(l.max_connections_per_uid, 100);
        assert_int_equal(l.max_buffers_per_client, defaults.max_buffers_per_client);

        assert_int_equal(limits_override(&flags, limits_lookup("max-connections-per-uid"), 7), 0);
        limits_compose(&l, 20000, layers, 2);
        assert_int_equal(l.max_connections_per_uid, 7);

        /* max-fences-per-client alone moves each uid's bound with it */
        assert_int_equal(l.max_fences_per_uid, defaults.max_fences_per_uid);
        assert_int_equal(limits_override(&file, limits_lookup("max-fences-per-client"), 10), 0);
        limits_compose(&l, 20000, layers, 2);
        assert_int_equal(l.max_fences_per_client, 10);
        assert_int_equal(l.max_fences_per_uid, 40);
        assert_int_equal(limits_override(&flags, limits_lookup("max-fences-per-client"), 1u << 31), 0);
        limits_compose(&l, 20000, layers, 2);
        assert_int_equal(l.max_fences_per_uid, UINT32_MAX); /* no overflow */
        assert_int_equal(limits_override(&file, limits_lookup("max-fences-per-uid"), 5), 0);
        limits_compose(&l, 20000, layers, 2);
        assert_int_equal(l.max_fences_per_uid, 5); /* given, from any layer, it stands */
}

static void every_limit_has_a_name_and_a_range(void **state)
{
        struct limits l;

        limits_init_default(&l, 20000);
        for (unsigned i = 0; i < limits_table_len; i++) {
                const struct limit_desc *d = &limits_table[i];
                uint64_t before = limits_get(&l, d), v = 0;

                assert_ptr_equal(limits_lookup(d->name), d);
                assert_int_equal(limits_set(&l, d, 0), -ERANGE);
                assert_int_equal(limits_get(&l, d), before);
                assert_int_equal(limits_set(&l, d, 3), 0);
                assert_int_equal(limits_get(&l, d), 3);
                assert_int_equal(limits_parse(d, "4096", &v), 0);
                assert_int_equal(v, 4096);
                if (d->kind == LIMIT_COUNT)
                        assert_int_equal(limits_set(&l, d, 1ull << 32), -ERANGE);
                else
                        assert_int_equal(limits_set(&l, d, 1ull << 40), 0);
        }
        assert_null(limits_lookup("max-nothing"));
}

static void utf8_is_checked_strictly(void **state)
{
        assert_true(bs_utf8_valid(""));
        assert_true(bs_utf8_valid("frame"));
        assert_true(bs_utf8_valid("cam\xc3\xa9ra \xe2\x82\xac \xf0\x9f\x8e\xa5"));
        assert_false(bs_utf8_valid("\xc3"));             /* cut short */
        assert_false(bs_utf8_valid("\xc0\xaf"));         /* overlong */
        assert_false(bs_utf8_valid("\xe0\x80\xaf"));     /* overlong */
        assert_false(bs_utf8_valid("\xed\xa0\x80"));     /* a surrogate */
        assert_false(bs_utf8_valid("\xf4\x90\x80\x80")); /* past U+10FFFF */
        assert_false(bs_utf8_valid("\xff"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(a_good_file_sets_what_it_names),
                T(a_bad_file_says_where_and_changes_nothing),
                T(flags_win_over_the_file),
                T(every_limit_has_a_name_and_a_range),
                T(utf8_is_checked_strictly),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
