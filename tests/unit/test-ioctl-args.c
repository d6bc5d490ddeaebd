/* SPDX-License-Identifier: MIT */
/* The size rules of /dev/bufshare's ioctls (daemon/ioctl-args.c), as
 * dma-heap has them: the size is in the number, shorter structs are
 * zero-extended, longer ones need a zero tail (-E2BIG otherwise). */
#include "harness.h"

#include <errno.h>
#include <string.h>

#include "bufshare/bufshare-ioctl.h"
#include "ioctl-args.h"
#include "util.h"

/* @cmd with its size field set to @size. */
static uint32_t resized(uint32_t cmd, size_t size)
{
        return (cmd & ~((uint32_t)_IOC_SIZEMASK << _IOC_SIZESHIFT)) | ((uint32_t)size << _IOC_SIZESHIFT);
}

static void every_command_is_found_at_any_size(void **state)
{
        static const uint32_t cmds[] = { BUFSHARE_IOCTL_VERSION, BUFSHARE_IOCTL_ALLOC, BUFSHARE_IOCTL_INFO,
                                         BUFSHARE_IOCTL_SET_NAME, BUFSHARE_IOCTL_SYNC, BUFSHARE_IOCTL_BIND,
                                         BUFSHARE_IOCTL_RELEASE };

        for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
                const struct ioctl_desc *d = ioctl_lookup(cmds[i]);
                assert_non_null(d);
                assert_int_equal(d->cmd, cmds[i]);
                assert_int_equal(d->size, _IOC_SIZE(cmds[i]));
                assert_ptr_equal(ioctl_lookup(resized(cmds[i], 8)), d);
                assert_ptr_equal(ioctl_lookup(resized(cmds[i], 4000)), d);
        }
}

static void unknown_numbers_are_not_found(void **state)
{
        assert_null(ioctl_lookup(_IOWR('x', 0x07, struct bufshare_bind))); /* next free number */
        assert_null(ioctl_lookup(_IOWR('x', 0xff, struct bufshare_bind)));
        assert_null(ioctl_lookup(_IOWR('b', 0x01, struct bufshare_alloc))); /* another magic */
        assert_null(ioctl_lookup(_IOW('x', 0x01, struct bufshare_alloc)));  /* another direction */
        assert_null(ioctl_lookup(_IOR('x', 0x01, struct bufshare_alloc)));
        assert_null(ioctl_lookup(_IO('x', 0x01)));
        assert_null(ioctl_lookup(0));
}

static void shorter_structs_are_zero_extended(void **state)
{
        const struct ioctl_desc *d = ioctl_lookup(BUFSHARE_IOCTL_ALLOC);
        unsigned char in[40], k[IOCTL_ARG_MAX];
        struct bufshare_alloc a;
        uint32_t cmd = resized(BUFSHARE_IOCTL_ALLOC, sizeof(in));

        memset(in, 0x11, sizeof(in));
        memset(k, 0xee, sizeof(k));
        assert_int_equal(ioctl_copy_in(d, cmd, in, sizeof(in), k), 0);
        memcpy(&a, k, sizeof(a));
        assert_memory_equal(&a, in, sizeof(in));
        for (size_t i = sizeof(in); i < IOCTL_ARG_MAX; i++)
                assert_int_equal(k[i], 0);
        assert_int_equal(ioctl_out_size(cmd), sizeof(in)); /* the caller gets its 40 bytes back */
        /* size 0: every field zero */
        assert_int_equal(ioctl_copy_in(d, resized(BUFSHARE_IOCTL_ALLOC, 0), NULL, 0, k), 0);
        for (size_t i = 0; i < IOCTL_ARG_MAX; i++)
                assert_int_equal(k[i], 0);
}

static void longer_structs_need_a_zero_tail(void **state)
{
        const struct ioctl_desc *d = ioctl_lookup(BUFSHARE_IOCTL_SYNC);
        unsigned char in[64] = { 0 }, k[IOCTL_ARG_MAX];
        uint32_t cmd = resized(BUFSHARE_IOCTL_SYNC, sizeof(in));

        in[0] = 5;
        in[15] = 9; /* last byte of this version's struct */
        assert_int_equal(ioctl_copy_in(d, cmd, in, sizeof(in), k), 0);
        assert_int_equal(k[0], 5);
        assert_int_equal(k[15], 9);
        assert_int_equal(k[16], 0);
        for (size_t i = 16; i < sizeof(in); i++) {
                in[i] = 1;
                assert_int_equal(ioctl_copy_in(d, cmd, in, sizeof(in), k), -E2BIG);
                in[i] = 0;
        }
        assert_int_equal(ioctl_out_size(cmd), 0); /* _IOW: nothing copied back */
}

static void the_kernel_must_copy_what_the_number_says(void **state)
{
        const struct ioctl_desc *d = ioctl_lookup(BUFSHARE_IOCTL_BIND);
        unsigned char in[16] = { 0 }, k[IOCTL_ARG_MAX];

        assert_int_equal(ioctl_copy_in(d, BUFSHARE_IOCTL_BIND, in, 8, k), -EINVAL);
        assert_int_equal(ioctl_copy_in(d, BUFSHARE_IOCTL_BIND, in, 16, k), 0);
        /* _IOR: nothing comes in */
        d = ioctl_lookup(BUFSHARE_IOCTL_VERSION);
        assert_int_equal(ioctl_copy_in(d, BUFSHARE_IOCTL_VERSION, NULL, 0, k), 0);
        assert_int_equal(ioctl_out_size(BUFSHARE_IOCTL_VERSION), sizeof(struct bufshare_version));
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(every_command_is_found_at_any_size),
                T(unknown_numbers_are_not_found),
                T(shorter_structs_are_zero_extended),
                T(longer_structs_need_a_zero_tail),
                T(the_kernel_must_copy_what_the_number_says),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
