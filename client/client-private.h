/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bufshare/bufshare.h"
#include "message.h"

#define _public_ __attribute__((visibility("default")))

/* A request waiting for its reply, matched by serial. */
struct pending {
        uint32_t serial;
        uint16_t opcode;
        bool done;
        struct bs_msg *rep;
        struct pending *next;
};

struct bs_client {
        atomic_uint refs;
        int fd;
        /* Any number of threads may have requests in flight. Each sends
         * under the lock; whichever finds no reader becomes the reader
         * and hands every reply to its waiter by serial (the xcb model). */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool reading;
        struct pending *pending;
        uint32_t next_serial;
        unsigned n_async; /* requests sent without a waiter: their replies are dropped */
        /* puts not yet told: they ride on the next request (BS_MSG_RELEASES) */
        struct bs_release_item deferred[BS_MAX_RELEASES];
        unsigned n_deferred;
        int error; /* sticky: once set, every call returns it (STYLE C4) */
        uint32_t version;
        struct bs_limits limits;
};

struct bs_buffer {
        atomic_uint refs;
        struct bs_client *client; /* a reference */
        int fd;                   /* the library's own fd on the memfd */
        bool readonly;            /* imported from a read-only fd */
        uint64_t id;
        uint64_t size;
};

struct bs_attachment {
        struct bs_buffer *buffer; /* a reference */
        uint64_t id;
        uint64_t max_segment;
        bool mapped;
        struct bs_sg_table table;
        struct bs_segment *segments;
};

/* The page size, cached. */
uint64_t client_page_size(void);

/*
 * Send @req (its fds stay @req's) and wait for its reply in @rep.
 * Returns the reply's status (0, or the daemon's negative errno), or the
 * client's sticky error when the connection broke. On success @rep owns
 * any fds the reply carried.
 */
int client_call(struct bs_client *c, struct bs_msg *req, struct bs_msg *rep);

/* client_call() for requests whose reply is a status and nothing else. */
int client_call_status(struct bs_client *c, struct bs_msg *req);

/*
 * A put: the release rides on the client's next request, so it costs no
 * datagram and no wake-up of the daemon of its own. When BS_MAX_RELEASES
 * are waiting, they go at once in a RELEASE whose reply nobody waits for
 * (whoever reads next drops it; past CLIENT_ASYNC_MAX unread, the sender
 * reads them itself, so a client that only puts never fills the socket).
 */
#define CLIENT_ASYNC_MAX 64
void client_release(struct bs_client *c, uint64_t id, uint32_t flags);
