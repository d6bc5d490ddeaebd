/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bufshare/bufshare.h"
#include "message.h"

#define _public_ __attribute__((visibility("default")))

struct bs_client {
        atomic_uint refs;
        int fd;
        pthread_mutex_t lock; /* one request in flight: serial matching is exact */
        uint32_t next_serial;
        int error; /* sticky: once set, every call returns it (STYLE C4) */
        uint32_t version;
        uint64_t max_buffer_size;
};

struct bs_buffer {
        atomic_uint refs;
        struct bs_client *client; /* a reference */
        int fd;                   /* the library's own fd on the memfd */
        uint64_t id;
        uint64_t size;
};

/*
 * Send @req (its fds stay @req's) and wait for its reply in @rep.
 * Returns the reply's status (0, or the daemon's negative errno), or the
 * client's sticky error when the connection broke. On success @rep owns
 * any fds the reply carried.
 */
int client_call(struct bs_client *c, struct bs_msg *req, struct bs_msg *rep);
