/* SPDX-License-Identifier: MIT */
/*
 * The size rules of /dev/bufshare's ioctls (bufshare-ioctl.h), as
 * dma-heap's dma_heap_ioctl() applies them, apart from any device: the
 * caller's struct size is in the ioctl number; a shorter struct is
 * zero-extended to this version's, a longer one is taken only if its
 * tail past this version's struct is all zero (copy_struct_from_user's
 * rule, -E2BIG). Pure functions, unit-tested without CUSE.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* One ioctl of this version. */
struct ioctl_desc {
        const char *name;
        uint32_t cmd;  /* the number with this version's size */
        size_t size;   /* sizeof this version's struct */
};

/* The largest struct of this version: the size of a kernel-side copy. */
#define IOCTL_ARG_MAX 128

/*
 * The ioctl @cmd names, whatever struct size it was built with: its
 * magic, sequence number and direction must be one of ours. NULL for
 * anything else (answer -ENOTTY).
 */
const struct ioctl_desc *ioctl_lookup(uint32_t cmd);

/*
 * Copy the caller's @in_len bytes of @in into @karg (IOCTL_ARG_MAX bytes)
 * as this version's struct: zero-extended when shorter; when longer, the
 * tail past d->size must be zero. @in_len must be what @cmd says the
 * kernel copied in (0 for _IOR). Returns 0, -E2BIG for a non-zero tail,
 * -EINVAL if @in_len disagrees with @cmd.
 */
int ioctl_copy_in(const struct ioctl_desc *d, uint32_t cmd, const void *in, size_t in_len, void *karg);

/* The bytes to copy back to the caller of @cmd: its own struct size if it
 * reads anything (_IOR, _IOWR), else 0. The daemon's struct is zero
 * beyond d->size, so a longer caller struct gets a zero tail. */
size_t ioctl_out_size(uint32_t cmd);
