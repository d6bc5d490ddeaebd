/* SPDX-License-Identifier: MIT */
/*
 * The daemon's limits (DESIGN.md §7). Every request is checked against
 * them before anything is touched: nothing else is evicted, moved or
 * slowed, and the daemon goes on serving everyone else.
 */
#pragma once

#include <stdint.h>

struct limits {
        uint64_t max_buffer_size;        /* bytes in one buffer: -EFBIG */
        uint32_t max_buffers_per_client; /* buffers one client holds: -EMFILE */
        uint32_t max_clients;            /* connections in all: -EUSERS */
        uint64_t max_bytes_per_uid;      /* bytes of live buffers per uid: -EDQUOT */
};

#define LIMITS_DEFAULT_MAX_BUFFER_SIZE (4ull << 30) /* 4 GiB */
#define LIMITS_DEFAULT_MAX_BUFFERS_PER_CLIENT 65536u
#define LIMITS_DEFAULT_MAX_CLIENTS 4096u
/* the default bytes per uid is the machine's RAM plus swap */

void limits_init_default(struct limits *l);

/* -EINVAL for an empty buffer, -EFBIG for one over the size limit. */
int limits_check_size(const struct limits *l, uint64_t size);
/* -EMFILE if a client holding @n_buffers may not take one more. */
int limits_check_buffers(const struct limits *l, unsigned n_buffers);
/* -EDQUOT if a uid using @used bytes may not take @size more. */
int limits_check_bytes(const struct limits *l, uint64_t used, uint64_t size);
/* -EUSERS if @n_clients connections are already served. */
int limits_check_clients(const struct limits *l, unsigned n_clients);

/* Parse "64M", "4096", "2G" (binary suffixes K, M, G, T). 0 or -EINVAL/-ERANGE. */
int limits_parse_size(const char *s, uint64_t *ret);
/* Parse a count, 1 .. UINT32_MAX. 0 or -EINVAL/-ERANGE. */
int limits_parse_count(const char *s, uint32_t *ret);
