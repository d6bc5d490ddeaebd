/* SPDX-License-Identifier: MIT */
/*
 * Image descriptions on the library's side: the public struct to and from
 * the wire, checked here first (the daemon checks again) so that a bad
 * one costs no round trip, and the packed layouts of bs_image_layout().
 */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "client-private.h"
#include "image.h"
#include "util.h"

_Static_assert(BS_MAX_PLANES == BS_WIRE_MAX_PLANES, "plane count");

int image_to_wire(const struct bs_image_description *d, uint64_t size, struct bs_wire_description *ret)
{
        struct bs_wire_description w = {
                .fourcc = d->fourcc,
                .n_planes = d->n_planes,
                .modifier = d->modifier,
                .width = d->width,
                .height = d->height,
        };

        for (unsigned i = 0; i < BS_MAX_PLANES; i++) {
                /* a reserved bit on the wire would be a protocol error,
                 * fatal to the connection: the caller's mistake is -EINVAL */
                if (d->planes[i].reserved)
                        return -EINVAL;
                w.planes[i].offset = d->planes[i].offset;
                w.planes[i].stride = d->planes[i].stride;
        }
        if (bs_image_wire_is_none(&w) || bs_image_wire_check(&w, size) < 0)
                return -EINVAL; /* "none" is said with NULL, never by zeroes */
        *ret = w;
        return 0;
}

void image_from_wire(const struct bs_wire_description *w, struct bs_image_description *ret)
{
        memset(ret, 0, sizeof(*ret));
        if (!w)
                return;
        ret->fourcc = w->fourcc;
        ret->n_planes = w->n_planes;
        ret->modifier = w->modifier;
        ret->width = w->width;
        ret->height = w->height;
        for (unsigned i = 0; i < BS_MAX_PLANES; i++) {
                ret->planes[i].offset = w->planes[i].offset;
                ret->planes[i].stride = w->planes[i].stride;
        }
}

int image_layout(uint32_t fourcc, uint32_t width, uint32_t height, uint32_t stride_align,
                 struct bs_image_description *ret_desc, uint64_t *ret_size)
{
        struct bs_wire_description w;
        uint64_t size;
        int r;

        lib_return_if(!ret_desc || !ret_size, -EINVAL);
        r = bs_image_wire_layout(fourcc, width, height, stride_align, &w, &size);
        if (r < 0)
                return r;
        image_from_wire(&w, ret_desc);
        *ret_size = size;
        return 0;
}
