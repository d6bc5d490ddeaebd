/* SPDX-License-Identifier: MIT */
/*
 * Image descriptions (DESIGN.md §2): the pixel formats bufshare knows,
 * the check every description passes before the daemon stores it, and
 * the packed layouts the library computes. Pure: no I/O, unit-tested.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

/* What the checks know of a DRM format (drm_fourcc.h, drm_format_info). */
struct bs_image_format {
        uint32_t fourcc;
        uint8_t n_planes;
        uint8_t cpp[3]; /* bytes per pixel of each plane (a 2x1 pair for YUYV: 2 per pixel) */
        uint8_t hsub;   /* planes after the first: width / hsub, rounded up */
        uint8_t vsub;   /* and height / vsub, rounded up */
};

/* The format @fourcc, or NULL if the table doesn't know it. */
const struct bs_image_format *bs_image_format_lookup(uint32_t fourcc);

/* true if @d is all zeroes: "no description". */
bool bs_image_wire_is_none(const struct bs_wire_description *d);

/*
 * Check @d against a buffer of @size bytes. Every plane must lie inside
 * the buffer, with DRM's own rule (drm_framebuffer.c): offset + (rows - 1)
 * * stride + row bytes <= size, and stride >= row bytes. Known formats
 * use their plane count, bytes per pixel and subsampling; an unknown
 * fourcc is checked as if each plane had @d->height rows of stride bytes.
 * Every sum and product is overflow-checked. Modifiers are not
 * interpreted: a tiled layout must fit the same bounds.
 * Returns 0 (also for "no description"), or -EINVAL.
 */
int bs_image_wire_check(const struct bs_wire_description *d, uint64_t size);

/*
 * The packed layout of a @width x @height image of @fourcc (a format of
 * the table), LINEAR: each plane's stride is its row bytes rounded up to
 * @align, each plane starts where the previous one ends rounded up to
 * @align, and *@ret_size is where the last plane ends.
 * @align: 0 or 1 for none, else a power of two up to 65536.
 * Returns 0, -EINVAL (unknown format, zero size, bad @align) or
 * -EOVERFLOW (a stride past 32 bits or a size past 64).
 */
int bs_image_wire_layout(uint32_t fourcc, uint32_t width, uint32_t height, uint32_t align,
                    struct bs_wire_description *ret, uint64_t *ret_size);
