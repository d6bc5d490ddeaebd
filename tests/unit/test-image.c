/* SPDX-License-Identifier: MIT */
/* Image descriptions (protocol/image.c): the check's boundaries, as
 * tables (STYLE F4), and the packed layouts of the common formats. */
#include "harness.h"

#include <errno.h>
#include <string.h>

#include "bufshare/bufshare.h"
#include "image.h"
#include "util.h"

static struct bs_wire_description one_plane(uint32_t fourcc, uint32_t w, uint32_t h, uint64_t offset,
                                            uint32_t stride)
{
        struct bs_wire_description d = { .fourcc = fourcc, .n_planes = 1, .width = w, .height = h };
        d.planes[0].offset = offset;
        d.planes[0].stride = stride;
        return d;
}

/* DRM's rule: offset + (h - 1) * stride + w * cpp <= size, stride >= w * cpp. */
static void single_plane_bounds(void **state)
{
        static const struct {
                uint32_t w, h;
                uint64_t offset;
                uint32_t stride;
                uint64_t size;
                int expect;
        } t[] = {
                { 16, 16, 0, 64, 16 * 64, 0 },                 /* exact fit */
                { 16, 16, 0, 64, 16 * 64 - 1, -EINVAL },       /* one byte short */
                { 16, 16, 0, 80, 15 * 80 + 64, 0 },            /* the last row needs only its pixels */
                { 16, 16, 0, 63, 1 << 20, -EINVAL },           /* stride shorter than a row */
                { 16, 16, 4096, 64, 4096 + 16 * 64, 0 },       /* offset counted */
                { 16, 16, 4097, 64, 4096 + 16 * 64, -EINVAL },
                { 16, 16, UINT64_MAX - 100, 64, UINT64_MAX, -EINVAL }, /* offset + bytes wraps */
                { 1, UINT32_MAX, 0, UINT32_MAX, UINT64_MAX, 0 },        /* (h - 1) * stride: 64-bit, no wrap */
                { UINT32_MAX, 2, 0, UINT32_MAX, UINT64_MAX, -EINVAL }, /* w * 4 over the 32-bit stride */
                { 0, 16, 0, 64, 1 << 20, -EINVAL },            /* no width */
                { 16, 0, 0, 64, 1 << 20, -EINVAL },            /* no height */
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct bs_wire_description d = one_plane(BS_FORMAT_XRGB8888, t[i].w, t[i].h, t[i].offset, t[i].stride);
                if (bs_image_wire_check(&d, t[i].size) != t[i].expect)
                        fail_msg("row %zu: %d, expected %d", i, bs_image_wire_check(&d, t[i].size), t[i].expect);
        }
}

static void plane_counts_and_unused_planes(void **state)
{
        struct bs_wire_description d = one_plane(BS_FORMAT_XRGB8888, 4, 4, 0, 16), none = { 0 };

        assert_int_equal(bs_image_wire_check(&none, 4096), 0); /* "no description" */
        d.n_planes = 2;                                          /* XRGB8888 has one */
        assert_int_equal(bs_image_wire_check(&d, 4096), -EINVAL);
        d.n_planes = 1;
        d.planes[2].stride = 1; /* an unused plane must be zero */
        assert_int_equal(bs_image_wire_check(&d, 4096), -EINVAL);
        d.planes[2].stride = 0;
        d.n_planes = 5;
        assert_int_equal(bs_image_wire_check(&d, 4096), -EINVAL);
        d = one_plane(0, 4, 4, 0, 16); /* no fourcc, but fields */
        assert_int_equal(bs_image_wire_check(&d, 4096), -EINVAL);
}

/* A fourcc the table doesn't know: every plane height rows of stride bytes. */
static void unknown_formats_are_checked_at_full_height(void **state)
{
        struct bs_wire_description d = one_plane(BS_FOURCC('Z', 'Z', '9', '9'), 8, 8, 0, 10);

        assert_int_equal(bs_image_wire_check(&d, 80), 0);
        assert_int_equal(bs_image_wire_check(&d, 79), -EINVAL);
        d.planes[0].stride = 0;
        assert_int_equal(bs_image_wire_check(&d, 80), -EINVAL);
}

static void packed_layouts(void **state)
{
        static const struct {
                uint32_t fourcc, w, h, align;
                unsigned n_planes;
                uint64_t offsets[3];
                uint32_t strides[3];
                uint64_t size;
        } t[] = {
                { BS_FORMAT_XRGB8888, 1920, 1080, 0, 1, { 0 }, { 7680 }, 7680ull * 1080 },
                { BS_FORMAT_ARGB8888, 33, 2, 64, 1, { 0 }, { 192 }, 384 },
                { BS_FORMAT_NV12, 1920, 1080, 0, 2, { 0, 1920 * 1080 }, { 1920, 1920 }, 1920 * 1080 * 3 / 2 },
                { BS_FORMAT_NV12, 5, 3, 0, 2, { 0, 15 }, { 5, 6 }, 15 + 12 },           /* odd: chroma rounds up */
                { BS_FORMAT_YUV420, 640, 480, 0, 3, { 0, 307200, 384000 }, { 640, 320, 320 }, 460800 },
                { BS_FORMAT_YUV420, 100, 10, 64, 3, { 0, 1280, 1600 }, { 128, 64, 64 }, 1920 },
                { BS_FORMAT_P010, 1280, 720, 0, 2, { 0, 1280 * 720 * 2 }, { 2560, 2560 }, 1280 * 720 * 3 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct bs_wire_description d;
                uint64_t size;

                assert_int_equal(bs_image_wire_layout(t[i].fourcc, t[i].w, t[i].h, t[i].align, &d, &size), 0);
                assert_int_equal(d.n_planes, t[i].n_planes);
                assert_int_equal(d.modifier, BS_FORMAT_MOD_LINEAR);
                for (unsigned p = 0; p < t[i].n_planes; p++) {
                        assert_int_equal(d.planes[p].offset, t[i].offsets[p]);
                        assert_int_equal(d.planes[p].stride, t[i].strides[p]);
                }
                assert_int_equal(size, t[i].size);
                /* a layout fits the size it says; a packed one not one byte less
                 * (a padded one's last row needs no padding) */
                assert_int_equal(bs_image_wire_check(&d, size), 0);
                if (t[i].align == 0)
                        assert_int_equal(bs_image_wire_check(&d, size - 1), -EINVAL);
        }
}

static void layout_refusals(void **state)
{
        struct bs_wire_description d;
        uint64_t size;

        assert_int_equal(bs_image_wire_layout(BS_FOURCC('Z', 'Z', '9', '9'), 4, 4, 0, &d, &size), -EINVAL);
        assert_int_equal(bs_image_wire_layout(BS_FORMAT_NV12, 0, 4, 0, &d, &size), -EINVAL);
        assert_int_equal(bs_image_wire_layout(BS_FORMAT_NV12, 4, 4, 48, &d, &size), -EINVAL); /* not a power of two */
        assert_int_equal(bs_image_wire_layout(BS_FORMAT_NV12, 4, 4, 1 << 17, &d, &size), -EINVAL);
        assert_int_equal(bs_image_wire_layout(BS_FORMAT_ARGB8888, UINT32_MAX, 1, 0, &d, &size), -EOVERFLOW);
        assert_int_equal(bs_image_wire_layout(BS_FORMAT_R8, UINT32_MAX, UINT32_MAX, 0, &d, &size), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(single_plane_bounds),
                T(plane_counts_and_unused_planes),
                T(unknown_formats_are_checked_at_full_height),
                T(packed_layouts),
                T(layout_refusals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
