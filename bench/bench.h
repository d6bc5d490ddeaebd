/* SPDX-License-Identifier: MIT */
/*
 * bufshare-bench's shared parts: the run's state, where processes run
 * (place.c), results as a table and JSON (report.c), and the scenarios
 * main.c runs, one file each (bench-*.c).
 *
 * Every scenario measures bufshare beside a floor in the same run,
 * alternating the two in ROUNDS rounds after a warm-up so that drift hits
 * both alike. Pinning is said on every row: "same" (client and server on
 * cpu 0), "two" (client cpu 0, server cpu 1), "free" (unpinned, what users
 * get; the row says where the scheduler put the server).
 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "floor.h"
#include "spawn.h"
#include "stats.h"

struct bs_client;

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define ROUNDS 10 /* bufshare and floor alternate this many times */

enum pin { PIN_SAME, PIN_TWO, PIN_FREE };
extern const char *const pin_names[];
/* Unpinned first: a process's last cpu steers where the scheduler wakes
 * it, so "free" is measured before pinning gives either side a history. */
extern const enum pin pin_order[3];
#define FOR_EACH_PIN(p) \
        for (size_t p##_i = 0; p##_i < 3 && ((p) = pin_order[p##_i], 1); p##_i++)

/* The run. */
struct bench {
        int quick;
        FILE *json;
        const char *plot_dir;
        FILE *scale_dat, *handover_dat; /* for plot.gp, with --plot-dir */
        struct test_daemon daemon;
        struct floor_server floor;
        int n_json;
        int failures;
};
extern struct bench B;

/* ---- place.c: pinning and placement ---- */

/* Pin @pid (0: this process) to @cpu, or to every cpu if @cpu < 0. */
void pin_pid(pid_t pid, int cpu);
/* Pin @client (0: this process) to cpu 0 and @server to cpu 0 ("same") or
 * 1 ("two"); for "free", both to cpu 0 and then to every cpu. */
void pin_pair(enum pin p, pid_t client, pid_t server);
/* pin_pair() with this process as the client. */
void pin(enum pin p, pid_t server);
/* The cpu @pid last ran on, or -1. */
int last_cpu(pid_t pid);
/* 1 if @server last ran on the cpu this process runs on. */
int colocated(pid_t server);

/* One side of a comparison: an operation, timed one call at a time. */
struct side {
        int (*op)(void *arg); /* 0 or -errno */
        void (*after)(void *arg); /* if set, run after each op, untimed */
        void *arg;
        pid_t server;         /* pinned with this process for each of its rounds */
        struct samples s;     /* microseconds, one per call */
        int colocated;        /* rounds that ended with the server on this process's cpu */
        uint64_t server_cpu_ns; /* cpu time the server used during the timed calls */
};

/* Nanoseconds @pid has run on a cpu (/proc/PID/schedstat), or 0. */
uint64_t cpu_ns_of(pid_t pid);

/*
 * Time @a and @b (may be NULL) @n times each under @p: a warm-up of
 * n/10 + 1 calls of each, then ROUNDS rounds of n/ROUNDS calls of @a and
 * of @b, pinning before each (for "free": both start from this process's
 * cpu, then the scheduler decides). Initializes the sides' samples (the
 * caller frees them, also on failure). Returns 0 or the first -errno.
 */
int compare_rounds(enum pin p, struct side *a, struct side *b, int n);

/* In a forked child: close every fd from 3 up but the @n (at most 8) in @keep. */
void close_fds_except(const int *keep, size_t n);
/* Wait up to @timeout_ms for the child @pid to end, else SIGKILL it (its
 * process group if @group) and reap it. Returns its exit status (128 +
 * signal if killed by one), -ETIMEDOUT if it had to be killed, or -errno. */
int wait_or_kill(pid_t pid, int timeout_ms, int group);

/* Reap the @n (at most 64) forked workers in @pids, meanwhile looking
 * every 10 ms where the scheduler runs @server: *ret_samples looks, in
 * *ret_colocated of which it was on the first worker's cpu. Returns how
 * many workers failed (killed, or a non-zero exit). */
int wait_workers(const pid_t *pids, int n, pid_t server, int *ret_samples, int *ret_colocated);

/* Shared anonymous memory, inherited by forked workers; NULL on failure. */
void *shared_alloc(size_t bytes);

/* What forked workers report, in shared_alloc() memory. */
struct shared_run {
        double *lat; /* one slot per cycle */
        int *errors; /* one per worker */
        long *ops;   /* one per worker */
};

/* ---- report.c: results ---- */

/* A section's title and the table's column names. */
void header(const char *title);
/* One row of the table and one JSON record: @s against the floor @f
 * (may be NULL), with an optional extra figure. */
void result(const char *scenario, const char *variant, enum pin p, struct samples *s, const char *floor_name,
            struct samples *f, const char *extra_key, double extra);
/* Under "free", where the scheduler put each server: a line under the
 * table and a JSON record "@scenario-placement" with "@unit": @total, then
 * for each (const char *key, int count) pair up to a NULL key,
 * "key_colocated": count, the @unit that ended with that server on the
 * client's cpu. Nothing for pinned runs. */
void report_placement(enum pin p, const char *scenario, const char *variant, const char *unit, int total, ...)
        __attribute__((sentinel));
/* A JSON record of its own: @fmt gives the fields between the braces. */
void json_record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CHECK(expr)                                                                        \
        do {                                                                               \
                int r_ = (expr);                                                           \
                if (r_ < 0) {                                                              \
                        fprintf(stderr, "bufshare-bench: %s failed: %s\n", #expr, strerror(-r_)); \
                        B.failures++;                                                      \
                        return;                                                            \
                }                                                                          \
        } while (0)

/* ---- the scenarios (main.c lists them, in the order they run) ---- */

void bench_export(struct bs_client *c);
void bench_import(struct bs_client *c);
void bench_info(struct bs_client *c);
void bench_handover(struct bs_client *c);
void bench_frame_fresh(struct bs_client *c);
void bench_bandwidth(struct bs_client *c);
void bench_live_buffers(struct bs_client *c);
void bench_concurrent_clients(struct bs_client *c);
void bench_throughput(struct bs_client *c);
void bench_iceoryx(struct bs_client *c);
void bench_pipeline(struct bs_client *c);
void bench_threads(struct bs_client *c);
/* bench-fence.c: signal -> wake, 1 and 1,000 waiters, against eventfds;
 * the pool pipeline against memfds and a socket "done" */
void bench_fence_wake(struct bs_client *c);
void bench_fence_pool(struct bs_client *c);

/* export + map + touch one byte + unmap + put: one cycle of scenario 1,
 * also what scenario 6 measures at scale. */
int export_cycle(struct bs_client *c, uint64_t size);
