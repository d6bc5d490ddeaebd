/* SPDX-License-Identifier: MIT */
/*
 * The daemon's limits (DESIGN.md §7). Every request is checked against
 * them before anything is touched: nothing else is evicted or slowed.
 */
#pragma once

#include <stdint.h>

struct limits {
        uint64_t max_buffer_size; /* bytes in one buffer: -EFBIG above */
};

#define LIMITS_DEFAULT_MAX_BUFFER_SIZE (4ull << 30) /* 4 GiB */

void limits_init_default(struct limits *l);

/* -EINVAL for an empty buffer, -EFBIG for one over the size limit. */
int limits_check_size(const struct limits *l, uint64_t size);

/* Parse "64M", "4096", "2G" (binary suffixes K, M, G, T). 0 or -EINVAL/-ERANGE. */
int limits_parse_size(const char *s, uint64_t *ret);
