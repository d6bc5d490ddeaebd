/* SPDX-License-Identifier: MIT */
#include "limits.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

void limits_init_default(struct limits *l)
{
        l->max_buffer_size = LIMITS_DEFAULT_MAX_BUFFER_SIZE;
}

int limits_check_size(const struct limits *l, uint64_t size)
{
        if (size == 0)
                return -EINVAL;
        if (size > l->max_buffer_size)
                return -EFBIG;
        return 0;
}

int limits_parse_size(const char *s, uint64_t *ret)
{
        unsigned long long v;
        unsigned shift = 0;
        char *end;

        if (!s || !isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -errno;
        switch (*end) {
        case '\0': break;
        case 'K': case 'k': shift = 10; end++; break;
        case 'M': case 'm': shift = 20; end++; break;
        case 'G': case 'g': shift = 30; end++; break;
        case 'T': case 't': shift = 40; end++; break;
        default: return -EINVAL;
        }
        if (*end)
                return -EINVAL;
        if (shift && v > (~0ull >> shift))
                return -ERANGE;
        *ret = (uint64_t)v << shift;
        return 0;
}
