/* SPDX-License-Identifier: MIT */
#include "limits.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "util.h"

static uint32_t at_least_one(uint64_t v)
{
        return v == 0 ? 1 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static uint32_t fences_per_uid(uint32_t per_client)
{
        return at_least_one((uint64_t)per_client * LIMITS_FENCES_PER_UID_CLIENTS);
}

void limits_init_default(struct limits *l, uint64_t fd_limit)
{
        uint64_t f = fd_limit > 2 * LIMITS_FD_KEPT ? fd_limit - LIMITS_FD_KEPT : LIMITS_FD_RESERVE;
        struct sysinfo si;

        l->max_buffer_size = LIMITS_DEFAULT_MAX_BUFFER_SIZE;
        l->max_clients = at_least_one(f / 8 < LIMITS_DEFAULT_MAX_CLIENTS ? f / 8 : LIMITS_DEFAULT_MAX_CLIENTS);
        l->max_connections_per_uid = at_least_one(l->max_clients / 2);
        l->max_buffers_per_client = at_least_one(f / 4);
        l->max_buffers_per_uid = at_least_one(f / 2);
        l->max_attachments_per_client = LIMITS_DEFAULT_MAX_ATTACHMENTS_PER_CLIENT;
        l->max_fences_per_client = LIMITS_DEFAULT_MAX_FENCES_PER_CLIENT;
        /* memory, not fds: a few connections' worth, so that a client of
         * several connections keeps every one's share, and a uid of many
         * does not hold each one's (fences_per_uid()) */
        l->max_fences_per_uid = fences_per_uid(l->max_fences_per_client);
        l->max_waiters_per_client = at_least_one(f / 16);
        l->max_waiters_per_fence = at_least_one(f / 8);
        /* a uid's buffers (F/2), connections (F/16) and these stay
         * under F together */
        l->max_sync_files_per_uid = at_least_one(f / 8);
        /* not the daemon's fds but its user's: the kernel refuses to send
         * more than its fd limit in transit (inflight.h) */
        l->max_fds_in_flight_per_uid = at_least_one(f / 8);
        l->hello_timeout_ms = LIMITS_DEFAULT_HELLO_TIMEOUT_MS;
        if (sysinfo(&si) == 0)
                l->max_bytes_per_uid = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
        else
                l->max_bytes_per_uid = 16ull << 30;
}

/* The decimal number @s starts with; @ret_end points past it. */
static int parse_number(const char *s, unsigned long long *ret, char **ret_end)
{
        if (!s || !isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        *ret = strtoull(s, ret_end, 10);
        return errno ? -errno : 0;
}

int limits_check_buffers(const struct limits *l, unsigned n_buffers)
{
        return n_buffers >= l->max_buffers_per_client ? -EMFILE : 0;
}

int limits_check_bytes(const struct limits *l, uint64_t used, uint32_t n_buffers, uint64_t size)
{
        if (n_buffers >= l->max_buffers_per_uid)
                return -EDQUOT;
        return used > l->max_bytes_per_uid || size > l->max_bytes_per_uid - used ? -EDQUOT : 0;
}

int limits_check_connections(const struct limits *l, unsigned n_conns, unsigned n_uid_conns)
{
        return n_conns >= l->max_clients || n_uid_conns >= l->max_connections_per_uid ? -EUSERS : 0;
}

int limits_check_attachments(const struct limits *l, unsigned n)
{
        return n >= l->max_attachments_per_client ? -EMFILE : 0;
}

int limits_check_sync_files(const struct limits *l, unsigned n)
{
        return n >= l->max_sync_files_per_uid ? -EDQUOT : 0;
}

int limits_check_fences(const struct limits *l, unsigned n)
{
        return n >= l->max_fences_per_uid ? -EDQUOT : 0;
}

int limits_parse_count(const char *s, uint32_t *ret)
{
        unsigned long long v;
        char *end;
        int r = parse_number(s, &v, &end);

        if (r < 0)
                return r;
        if (*end)
                return -EINVAL;
        if (v == 0 || v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t)v;
        return 0;
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
        int r = parse_number(s, &v, &end);

        if (r < 0)
                return r;
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

#define LIMIT(n, p, k, f) { .name = n, .property = p, .kind = k, .offset = offsetof(struct limits, f) }
const struct limit_desc limits_table[] = {
        LIMIT("max-buffer-size", "MaxBufferSize", LIMIT_SIZE, max_buffer_size),
        LIMIT("max-bytes-per-uid", "MaxBytesPerUid", LIMIT_SIZE, max_bytes_per_uid),
        LIMIT("max-buffers-per-client", "MaxBuffersPerClient", LIMIT_COUNT, max_buffers_per_client),
        LIMIT("max-buffers-per-uid", "MaxBuffersPerUid", LIMIT_COUNT, max_buffers_per_uid),
        LIMIT("max-clients", "MaxClients", LIMIT_COUNT, max_clients),
        LIMIT("max-connections-per-uid", "MaxConnectionsPerUid", LIMIT_COUNT, max_connections_per_uid),
        LIMIT("max-attachments-per-client", "MaxAttachmentsPerClient", LIMIT_COUNT, max_attachments_per_client),
        LIMIT("max-fences-per-client", "MaxFencesPerClient", LIMIT_COUNT, max_fences_per_client),
        LIMIT("max-fences-per-uid", "MaxFencesPerUid", LIMIT_COUNT, max_fences_per_uid),
        LIMIT("max-waiters-per-client", "MaxWaitersPerClient", LIMIT_COUNT, max_waiters_per_client),
        LIMIT("max-waiters-per-fence", "MaxWaitersPerFence", LIMIT_COUNT, max_waiters_per_fence),
        LIMIT("max-sync-files-per-uid", "MaxSyncFilesPerUid", LIMIT_COUNT, max_sync_files_per_uid),
        LIMIT("max-fds-in-flight-per-uid", "MaxFdsInFlightPerUid", LIMIT_COUNT, max_fds_in_flight_per_uid),
        LIMIT("hello-timeout", "HelloTimeout", LIMIT_COUNT, hello_timeout_ms),
};
#undef LIMIT
const unsigned limits_table_len = ELEMENTSOF(limits_table);
_Static_assert(ELEMENTSOF(limits_table) <= 32, "limits_overrides.given has 32 bits");

const struct limit_desc *limits_lookup(const char *name)
{
        for (unsigned i = 0; i < limits_table_len; i++)
                if (strcmp(limits_table[i].name, name) == 0)
                        return &limits_table[i];
        return NULL;
}

uint64_t limits_get(const struct limits *l, const struct limit_desc *d)
{
        const char *p = (const char *)l + d->offset;

        return d->kind == LIMIT_SIZE ? *(const uint64_t *)p : *(const uint32_t *)p;
}

int limits_set(struct limits *l, const struct limit_desc *d, uint64_t v)
{
        char *p = (char *)l + d->offset;

        if (v == 0 || (d->kind == LIMIT_COUNT && v > UINT32_MAX))
                return -ERANGE;
        if (d->kind == LIMIT_SIZE)
                *(uint64_t *)p = v;
        else
                *(uint32_t *)p = (uint32_t)v;
        return 0;
}

int limits_parse(const struct limit_desc *d, const char *s, uint64_t *ret)
{
        uint32_t count;
        uint64_t size;
        int r;

        if (d->kind == LIMIT_COUNT) {
                r = limits_parse_count(s, &count);
                if (r == 0)
                        *ret = count;
                return r;
        }
        r = limits_parse_size(s, &size);
        if (r == 0 && size == 0)
                r = -ERANGE;
        if (r == 0)
                *ret = size;
        return r;
}

int limits_override(struct limits_overrides *o, const struct limit_desc *d, uint64_t v)
{
        int r = limits_set(&o->values, d, v);

        if (r == 0)
                o->given |= 1u << (d - limits_table);
        return r;
}

/* Whether the limit @name is among @given and the limit @other is not. */
static bool given_without(uint32_t given, const char *name, const char *other)
{
        return (given & (1u << (limits_lookup(name) - limits_table))) &&
               !(given & (1u << (limits_lookup(other) - limits_table)));
}

void limits_compose(struct limits *ret, uint64_t fd_limit, const struct limits_overrides *const *layers,
                    unsigned n)
{
        uint32_t given = 0;

        limits_init_default(ret, fd_limit);
        for (unsigned i = 0; i < n; i++) {
                for (unsigned j = 0; j < limits_table_len; j++)
                        if (layers[i]->given & (1u << j))
                                limits_set(ret, &limits_table[j], limits_get(&layers[i]->values, &limits_table[j]));
                given |= layers[i]->given;
        }
        if (given_without(given, "max-clients", "max-connections-per-uid"))
                ret->max_connections_per_uid = ret->max_clients;
        if (given_without(given, "max-fences-per-client", "max-fences-per-uid"))
                ret->max_fences_per_uid = fences_per_uid(ret->max_fences_per_client);
}
