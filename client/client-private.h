/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bufshare/bufshare.h"
#include "debug.h"
#include "message.h"

#define _public_ __attribute__((visibility("default")))

/* Requests bs_buffer_export_many() keeps in flight: enough for the daemon
 * to always have the next one, few enough that their replies (up to 32
 * fds each) fit the daemon's socket buffer, so it never stops reading. */
#define BS_EXPORT_MANY_IN_FLIGHT 4

/* The default of every call's timeout; BUFSHARE_TIMEOUT_MS overrides it. */
#define CLIENT_DEFAULT_TIMEOUT_MS 25000

/* A request that gets no reply (a put, a fence signal, the end of a
 * read), as the send queue keeps it when the socket has no room. */
struct oneway {
        uint16_t opcode;
        union {
                struct bs_release_req release;
                struct bs_id_req id;
                struct bs_fence_signal_req fence_signal;
                struct bs_release_read_req release_read;
        } body;
};

/* A request waiting for its reply, matched by serial. */
/* Threads a holder of the client's lock may wake after letting it go;
 * past that, it wakes them with the lock held. */
#define CLIENT_WAKE_MAX 8

struct pending {
        uint32_t serial;
        uint16_t opcode;
        bool queued;  /* in the client's list: sent, or being sent */
        bool done;
        bool waiting; /* its thread sleeps on wake */
        int status;   /* set with done when the reply can't be handed over */
        uint64_t deadline;
        struct bs_msg *rep;
        /* a futex its thread sleeps on: 1 once woken for this request's
         * reply, or for the reader's role */
        atomic_uint wake;
        struct pending *next;
};

struct bs_client {
        atomic_uint refs;
        int fd; /* non-blocking */
        /*
         * The socket blocks: sends say MSG_DONTWAIT, the reader sleeps in
         * recvmsg() itself (one system call per reply).
         * Two locks, neither ever held while waiting for the daemon:
         *  - lock: the pending requests, who reads, the sticky error.
         *    Any number of threads may have requests in flight; whichever
         *    finds no reader becomes the reader and hands each reply to its
         *    own waiter (the xcb model), waking only that one.
         *  - send_lock: the socket's sending side and the one-way requests
         *    that could not be sent yet. Held only around non-blocking
         *    sends, so that bs_buffer_put() never waits for anything.
         */
        pthread_mutex_t lock;
        bool reading;
        /* threads to wake once the lock is let go (unlock_and_wake()) */
        atomic_uint *to_wake[CLIENT_WAKE_MAX];
        unsigned n_to_wake;
        struct pending *pending;
        uint32_t next_serial;
        int error; /* sticky: once set, every call returns it (STYLE C4) */
        int timeout_ms; /* each call's, < 0: none */
        int rcvtimeo_ms; /* the socket's SO_RCVTIMEO: a receive looks at its deadline this often */

        pthread_mutex_t send_lock;
        struct oneway *queued; /* one-way requests the socket had no room for */
        unsigned n_queued, queued_cap;

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
 * Send @req (its fds stay @req's) and wait for its reply in @rep, at most
 * the client's timeout. Returns the reply's status (0, or the daemon's
 * negative errno), or the client's sticky error when the connection broke
 * (-ETIMEDOUT when the daemon did not answer in time). On success @rep
 * owns any fds the reply carried.
 */
int client_call(struct bs_client *c, struct bs_msg *req, struct bs_msg *rep);

/*
 * client_call() in two halves, so that one thread can keep several
 * requests in flight: start sends @req (a serial, @self in the list of
 * pending requests; its timeout starts now), finish waits for its reply.
 * Every start must be followed by its finish, which returns what
 * client_call() would. start returns 0 or the error finish will report.
 */
int client_call_start(struct bs_client *c, struct pending *self, struct bs_msg *req, struct bs_msg *rep);
int client_call_finish(struct bs_client *c, struct pending *self);
/* A buffer of a successful EXPORT or REDEEM reply @rep (its id, size and
 * fd, which moves to the buffer). 0, or -ENOMEM with the reference given
 * back and the fd closed. */
int client_buffer_from_reply(struct bs_client *c, struct bs_msg *rep, struct bs_buffer **ret_buffer);

/* client_call() for requests whose reply is a status and nothing else. */
int client_call_status(struct bs_client *c, struct bs_msg *req);

/* A reply only its caller can tell is malformed (a batch's count): the
 * connection is unusable from now on, as after any malformed reply
 * (STYLE C4). Returns the sticky error, @error or an earlier one. */
int client_broken(struct bs_client *c, int error);

/*
 * A request that asks for no reply (@ow: RELEASE, FENCE_SIGNAL,
 * FENCE_DESTROY, RELEASE_READ), sent at once with one non-blocking
 * sendmsg. If the socket has no room (a daemon that stopped reading), it
 * is queued and goes, in order, before this client's next message.
 * Never blocks.
 */
void client_oneway(struct bs_client *c, const struct oneway *ow);

/* A put: client_oneway() of a RELEASE. */
void client_release(struct bs_client *c, uint64_t id, uint32_t flags);

/* 0 if @c speaks protocol version 2 (fences, sync files, pools), else
 * -EOPNOTSUPP. */
int client_need_v2(const struct bs_client *c);

/* Begin CPU access to @b with valid @flags, waiting at most @timeout_ms
 * (-1: for ever) for conflicting fences: 0, -ETIME, a fence's error, or
 * the daemon's. */
int client_begin_cpu_access(struct bs_buffer *b, unsigned flags, int timeout_ms);

/* The client's timeout for one call, in ms (-1: none). */
int client_timeout(struct bs_client *c);

/* CLOCK_MONOTONIC in ms, and the ms left until @deadline (UINT64_MAX:
 * none, -1) for poll(). */
uint64_t client_now_ms(void);
int client_ms_left(uint64_t deadline);

/* Wait until @fd has @events or @deadline passes: 0, -ETIMEDOUT, -errno. */
int client_wait_fd(int fd, short events, uint64_t deadline);
