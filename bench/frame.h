/* SPDX-License-Identifier: MIT */
/*
 * Frames handed from a producer process to a consumer process, the same
 * way for every method (bufshare, a memfd pool, copies, iceoryx...), so
 * that methods differ only in what they do, never in how they are timed.
 *
 * Each method runs as a pair of forked processes joined by a SEQPACKET
 * "link" (frames one way, acks back). Per frame the producer writes the
 * frame (write), stamps t0 and hands it over (publish); the consumer
 * waits for it (take), stamps t1, reads it (every byte, or one byte a
 * page), releases it and acks with t1, its checksum and its cpu. The
 * producer waits for the ack before the next frame, so every handover
 * starts with the consumer idle. The bench process only steers: it pins
 * both ends for each round and collects the samples.
 *
 *   latency = t1 - t0                  producer done -> consumer may read
 *   cycle   = ack received - write     the whole frame, end to end
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

#define FRAME_SLOTS 2       /* pool depth of the methods that keep a pool */
#define FRAME_RUN_MAX 256   /* frames per run of a pair; longer runs are split */

enum frame_touch {
        FRAME_ALL,   /* write and read every byte */
        FRAME_PAGES, /* one byte a page: the cost of getting the pages, not of the bytes */
};

/* One end of a pair, in its own process. */
struct frame_end {
        int link;               /* SEQPACKET to the other end */
        size_t size;
        enum frame_touch touch;
        const char *tag;        /* unique to the pair in this run */
        /* for the methods' own use */
        struct bs_client *c;
        struct bs_buffer *b;
        uint8_t *map[FRAME_SLOTS];
        unsigned slot;
        int data;               /* a stream socket or pipe end */
        uint8_t *local;
        char name[64];
};

/* A way to hand frames over. Every function returns 0 or -errno. */
struct frame_method {
        const char *name;
        int (*producer_init)(struct frame_end *e); /* may be NULL */
        /* Make the next frame ready, filled with frame_fill(e, p, v). */
        int (*write)(struct frame_end *e, uint8_t v);
        /* Hand it over. */
        int (*publish)(struct frame_end *e);
        int (*consumer_init)(struct frame_end *e); /* may be NULL */
        /* Wait for a frame; *ret_p stays readable until release.
         * -EPIPE once the producer is gone. */
        int (*take)(struct frame_end *e, const uint8_t **ret_p);
        /* May be NULL. */
        void (*release)(struct frame_end *e, const uint8_t *p);
        /* How an end's process leaves with its status; NULL: _exit(). */
        void (*leave)(int status);
};

/* bufshare's map-once handover (bench-handover.c): one buffer exported,
 * mapped and passed once; a frame is a one-byte message. */
extern const struct frame_method frame_bufshare;

/* Fill @p (e->size bytes) with @v as e->touch says. */
void frame_fill(const struct frame_end *e, uint8_t *p, uint8_t v);
/* Read @p as e->touch says; the sum of what was read. */
uint64_t frame_sum(const struct frame_end *e, const uint8_t *p);
/* One datagram of at most @len bytes carrying exactly @n_fds fds (the
 * caller's then). Returns the byte count, -EPIPE once the other end is
 * gone, -EPROTO on another fd count, or -errno. */
int frame_recv(int link, void *buf, size_t len, int *fds, unsigned n_fds);

/* A pair of processes running one method, steered from the bench. */
struct frame_pair {
        const struct frame_method *m;
        pid_t producer, consumer;
        pid_t server;           /* pinned like the consumer (the daemon, where it is on the path), or 0 */
        int ctl;                /* SEQPACKET to the producer */
        char tag[32];
        struct samples lat, cycle;
        int frames;             /* kept so far */
        int colocated;          /* frames the consumer took on the producer's cpu */
        int server_colocated;   /* frames that ended with the server on the producer's cpu */
};

/* Fork both ends of @m for frames of @size bytes and wait until the
 * producer is ready. Returns 0 or -errno (then nothing is left running). */
int frame_pair_start(struct frame_pair *fp, const struct frame_method *m, size_t size, enum frame_touch touch,
                     pid_t server);
/* Pin both ends (and the server) for @p, run @frames frames, and keep
 * their samples if @keep. Returns 0 or -errno. */
int frame_pair_run(struct frame_pair *fp, enum pin p, int frames, int keep);
/* Stop both ends and free the samples. Returns 0, or -ECHILD if an end
 * failed or had to be killed. */
int frame_pair_stop(struct frame_pair *fp);

/* Warm every pair up with @warmup frames, then ROUNDS rounds (fewer if
 * @frames is smaller) running @frames / ROUNDS frames of each pair in
 * turn, all under @p; the samples of earlier calls are dropped. Returns 0
 * or -errno. */
int frame_pairs_compare(struct frame_pair *fps, size_t n, enum pin p, int frames, int warmup);

/* Mean cycle time as GB/s of frames of @size bytes. */
double frame_pair_gbps(const struct frame_pair *fp, size_t size);
