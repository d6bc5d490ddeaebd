/* SPDX-License-Identifier: MIT */
#include "image.h"

#include <errno.h>
#include <string.h>

#include "bufshare/bufshare.h"
#include "util.h"

static const struct bs_image_format formats[] = {
        { BS_FORMAT_XRGB8888, 1, { 4 }, 1, 1 },
        { BS_FORMAT_ARGB8888, 1, { 4 }, 1, 1 },
        { BS_FORMAT_XBGR8888, 1, { 4 }, 1, 1 },
        { BS_FORMAT_ABGR8888, 1, { 4 }, 1, 1 },
        { BS_FORMAT_RGB565, 1, { 2 }, 1, 1 },
        { BS_FORMAT_R8, 1, { 1 }, 1, 1 },
        { BS_FORMAT_YUYV, 1, { 2 }, 1, 1 },
        { BS_FORMAT_NV12, 2, { 1, 2 }, 2, 2 },
        { BS_FORMAT_NV21, 2, { 1, 2 }, 2, 2 },
        { BS_FORMAT_P010, 2, { 2, 4 }, 2, 2 },
        { BS_FORMAT_YUV420, 3, { 1, 1, 1 }, 2, 2 },
        { BS_FORMAT_YVU420, 3, { 1, 1, 1 }, 2, 2 },
};

const struct bs_image_format *bs_image_format_lookup(uint32_t fourcc)
{
        for (size_t i = 0; i < ELEMENTSOF(formats); i++)
                if (formats[i].fourcc == fourcc)
                        return &formats[i];
        return NULL;
}

bool bs_image_wire_is_none(const struct bs_wire_description *d)
{
        static const struct bs_wire_description none;
        return memcmp(d, &none, sizeof(none)) == 0;
}

static uint32_t div_round_up(uint32_t v, uint32_t d)
{
        return v / d + (v % d != 0);
}

/* Width in pixels and rows of plane @i of @f (NULL: unknown, full size). */
static void plane_extent(const struct bs_image_format *f, unsigned i, uint32_t width, uint32_t height,
                         uint32_t *ret_w, uint32_t *ret_h)
{
        bool sub = f && i > 0;

        *ret_w = sub ? div_round_up(width, f->hsub) : width;
        *ret_h = sub ? div_round_up(height, f->vsub) : height;
}

int bs_image_wire_check(const struct bs_wire_description *d, uint64_t size)
{
        const struct bs_image_format *f;

        if (bs_image_wire_is_none(d))
                return 0;
        if (d->fourcc == 0 || d->width == 0 || d->height == 0 || d->n_planes == 0 ||
            d->n_planes > BS_WIRE_MAX_PLANES)
                return -EINVAL;
        f = bs_image_format_lookup(d->fourcc);
        if (f && d->n_planes != f->n_planes)
                return -EINVAL;
        for (unsigned i = d->n_planes; i < BS_WIRE_MAX_PLANES; i++)
                if (d->planes[i].offset || d->planes[i].stride || d->planes[i].reserved)
                        return -EINVAL;
        for (unsigned i = 0; i < d->n_planes; i++) {
                const struct bs_wire_plane *p = &d->planes[i];
                uint64_t row, last, end;
                uint32_t w, h;

                plane_extent(f, i, d->width, d->height, &w, &h);
                /* the bytes of one row: known, or the stride itself */
                if (f) {
                        if (__builtin_mul_overflow((uint64_t)w, (uint64_t)f->cpp[i], &row))
                                return -EINVAL;
                } else {
                        row = p->stride;
                }
                if (row == 0 || p->stride < row)
                        return -EINVAL;
                /* offset + (h - 1) * stride + row <= size, as DRM checks */
                if (__builtin_mul_overflow((uint64_t)(h - 1), (uint64_t)p->stride, &last) ||
                    __builtin_add_overflow(last, row, &end) || __builtin_add_overflow(end, p->offset, &end) ||
                    end > size)
                        return -EINVAL;
        }
        return 0;
}

static int round_up(uint64_t v, uint64_t align, uint64_t *ret)
{
        if (__builtin_add_overflow(v, align - 1, ret))
                return -EOVERFLOW;
        *ret &= ~(align - 1);
        return 0;
}

int bs_image_wire_layout(uint32_t fourcc, uint32_t width, uint32_t height, uint32_t align,
                    struct bs_wire_description *ret, uint64_t *ret_size)
{
        const struct bs_image_format *f = bs_image_format_lookup(fourcc);
        struct bs_wire_description d = { .fourcc = fourcc, .width = width, .height = height };
        uint64_t end = 0, a = align ? align : 1;

        if (!f || width == 0 || height == 0 || a > 65536 || (a & (a - 1)))
                return -EINVAL;
        d.n_planes = f->n_planes;
        d.modifier = BS_FORMAT_MOD_LINEAR;
        for (unsigned i = 0; i < f->n_planes; i++) {
                uint64_t row, stride, offset, bytes;
                uint32_t w, h;

                plane_extent(f, i, width, height, &w, &h);
                row = (uint64_t)w * f->cpp[i]; /* at most 2^32 * 4: no overflow */
                if (round_up(row, a, &stride) < 0 || stride > UINT32_MAX)
                        return -EOVERFLOW;
                if (round_up(end, a, &offset) < 0 || __builtin_mul_overflow(stride, (uint64_t)h, &bytes) ||
                    __builtin_add_overflow(offset, bytes, &end))
                        return -EOVERFLOW;
                d.planes[i].offset = offset;
                d.planes[i].stride = (uint32_t)stride;
        }
        *ret = d;
        *ret_size = end;
        return 0;
}
