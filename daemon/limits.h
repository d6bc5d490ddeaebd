/* SPDX-License-Identifier: MIT */
/*
 * The daemon's limits (DESIGN.md §7). Every request is checked against
 * them before anything is touched: nothing else is evicted, moved or
 * slowed, and the daemon goes on serving everyone else.
 *
 * Each object a client can make the daemon keep has a limit: references
 * (buffers per client), what a uid pays for (bytes and buffers), its
 * connections, attachments, fences and sync-file waiters (per connection,
 * and per uid: a pending sync file outlives its maker). The defaults
 * are cut from the daemon's own fd limit, because buffers, connections
 * and waiters each cost the daemon one fd: no client and no uid can take
 * every fd, however it spreads its requests over connections.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct limits {
        uint64_t max_buffer_size;            /* bytes in one buffer: -EFBIG */
        uint64_t max_bytes_per_uid;          /* bytes a uid pays for: -EDQUOT */
        uint32_t max_buffers_per_client;     /* buffers one connection references: -EMFILE */
        uint32_t max_buffers_per_uid;        /* buffers a uid pays for: -EDQUOT */
        uint32_t max_clients;                /* connections in all, counted at accept: -EUSERS */
        uint32_t max_connections_per_uid;    /* connections of one uid: -EUSERS */
        uint32_t max_attachments_per_client; /* attachments of one connection: -EMFILE */
        uint32_t max_fences_per_client;      /* fences of one connection not yet destroyed: -EMFILE */
        uint32_t max_fences_per_uid;         /* fences a uid's connections made and did not
                                                destroy: -EDQUOT */
        uint32_t max_waiters_per_client;     /* pending sync files of one connection: -EMFILE */
        uint32_t max_waiters_per_fence;      /* pending sync files on one fence: -ENOSPC */
        uint32_t max_sync_files_per_uid;     /* pending sync files a uid's connections made,
                                                connected still or not: -EDQUOT */
        uint32_t max_fds_in_flight_per_uid;  /* fds sent on a uid's connections, not yet
                                                received: its connections are not read */
        uint32_t hello_timeout_ms;           /* from accept to HELLO, else disconnected */
};

#define LIMITS_DEFAULT_MAX_BUFFER_SIZE (4ull << 30) /* 4 GiB */
#define LIMITS_DEFAULT_MAX_CLIENTS 4096u             /* at most; less with few fds */
#define LIMITS_DEFAULT_MAX_ATTACHMENTS_PER_CLIENT 1024u
#define LIMITS_DEFAULT_MAX_FENCES_PER_CLIENT 4096u
/* max_fences_per_uid is this many times max_fences_per_client */
#define LIMITS_FENCES_PER_UID_CLIENTS 4u
#define LIMITS_DEFAULT_HELLO_TIMEOUT_MS 10000u
/* fds the daemon keeps for itself: listener, event loop, signals, log, D-Bus, CUSE */
#define LIMITS_FD_RESERVE 64u
/* and for its reserve of fresh memfds (reserve.h): made while idle, so
 * that an export only sizes and seals one */
#define LIMITS_MEMFD_RESERVE 16u
/* every fd no client can make the daemon spend */
#define LIMITS_FD_KEPT (LIMITS_FD_RESERVE + LIMITS_MEMFD_RESERVE)

/*
 * The defaults for a daemon that may open @fd_limit fds (its
 * RLIMIT_NOFILE), with F = @fd_limit - LIMITS_FD_KEPT:
 *   max_clients                 min(4096, F / 8)
 *   max_connections_per_uid     max_clients / 2
 *   max_buffers_per_client      F / 4
 *   max_buffers_per_uid         F / 2
 *   max_waiters_per_client      F / 16
 *   max_waiters_per_fence       F / 8
 *   max_sync_files_per_uid      F / 8
 *   max_fds_in_flight_per_uid   F / 8
 * and the machine's RAM plus swap as max_bytes_per_uid. Each is at least 1.
 * A fence costs memory, not an fd: max_fences_per_uid is
 * LIMITS_FENCES_PER_UID_CLIENTS times max_fences_per_client (16384).
 */
void limits_init_default(struct limits *l, uint64_t fd_limit);

/* -EINVAL for an empty buffer, -EFBIG for one over the size limit. */
int limits_check_size(const struct limits *l, uint64_t size);
/* -EMFILE if a client holding @n_buffers may not take one more. */
int limits_check_buffers(const struct limits *l, unsigned n_buffers);
/* -EDQUOT if a uid paying for @used bytes in @n_buffers buffers may not
 * pay for one more of @size bytes. */
int limits_check_bytes(const struct limits *l, uint64_t used, uint32_t n_buffers, uint64_t size);
/* -EUSERS if @n_conns connections in all, or @n_uid_conns of one uid, are
 * open already. */
int limits_check_connections(const struct limits *l, unsigned n_conns, unsigned n_uid_conns);
/* -EMFILE if a client with @n attachments may not make one more. */
int limits_check_attachments(const struct limits *l, unsigned n);
/* -EDQUOT if a uid whose connections made @n pending sync files may not
 * make one more. */
int limits_check_sync_files(const struct limits *l, unsigned n);
/* -EDQUOT if a uid whose connections made @n fences they did not destroy
 * may not make one more. */
int limits_check_fences(const struct limits *l, unsigned n);

/* Parse "64M", "4096", "2G" (binary suffixes K, M, G, T). 0 or -EINVAL/-ERANGE. */
int limits_parse_size(const char *s, uint64_t *ret);
/* Parse a count, 1 .. UINT32_MAX. 0 or -EINVAL/-ERANGE. */
int limits_parse_count(const char *s, uint32_t *ret);

/*
 * Every limit by name, for the places that name them: the command line
 * and the config file ("max-buffer-size"), D-Bus (its property,
 * "MaxBufferSize"), and run-time changes. Sizes are uint64_t bytes,
 * counts uint32_t from 1; 0 is never a valid value of either.
 */
enum limit_kind { LIMIT_SIZE, LIMIT_COUNT };

struct limit_desc {
        const char *name;     /* long option and config key */
        const char *property; /* D-Bus property of org.bufshare1.Manager */
        enum limit_kind kind;
        size_t offset; /* in struct limits */
};

extern const struct limit_desc limits_table[];
extern const unsigned limits_table_len;

/* The limit called @name (its option name), or NULL. */
const struct limit_desc *limits_lookup(const char *name);
uint64_t limits_get(const struct limits *l, const struct limit_desc *d);
/* Set @d in @l to @v: 0, or -ERANGE for 0 or a count over UINT32_MAX
 * (then @l is untouched). */
int limits_set(struct limits *l, const struct limit_desc *d, uint64_t v);
/* Parse @s as @d's kind: a size with a binary suffix, or a count. */
int limits_parse(const struct limit_desc *d, const char *s, uint64_t *ret);

/* Limits given somewhere (the command line, a config file): the values,
 * and which of them were given, one bit per limits_table index. */
struct limits_overrides {
        struct limits values;
        uint32_t given;
};

/* Record @v for @d in @o (checked as limits_set() does). */
int limits_override(struct limits_overrides *o, const struct limit_desc *d, uint64_t v);

/*
 * The limits in force: the defaults for @fd_limit, then each of
 * @layers[0..@n) in order, later ones winning. A max-clients given
 * without max-connections-per-uid also bounds each uid's share of it; a
 * max-fences-per-client given without max-fences-per-uid moves the
 * latter with it (LIMITS_FENCES_PER_UID_CLIENTS times as many).
 */
void limits_compose(struct limits *ret, uint64_t fd_limit, const struct limits_overrides *const *layers,
                    unsigned n);
