/* SPDX-License-Identifier: MIT */
/*
 * Fences, sync files and pools in bufshare-bench (bench-fence.c), beside
 * their floors: an eventfd wake between the same two processes, 1,000
 * eventfd writes, and a pool pipeline hand-rolled on plain memfds.
 *
 * The scenarios take what they need from the benchmark's main through
 * struct fence_bench_env, so that they don't depend on how main keeps
 * its state.
 */
#pragma once

#include <sys/types.h>

#include "stats.h"

struct bs_client;

/* Placements, in the order of bufshare-bench's enum pin. */
enum fence_bench_pin { FB_PIN_SAME = 0, FB_PIN_TWO = 1, FB_PIN_FREE = 2 };

struct fence_bench_env {
        int quick;
        const char *socket; /* the daemon's */
        pid_t daemon;
        /* pin @pid (0: this process) to @cpu, or to every cpu if @cpu < 0 */
        void (*pin_pid)(pid_t pid, int cpu);
        void (*header)(const char *title);
        /* a row of the table and a JSON record, as bufshare-bench's result() */
        void (*result)(const char *scenario, const char *variant, int pin, struct samples *s, const char *floor_name,
                       struct samples *f, const char *extra_key, double extra);
        int *failures;
};

/* Signal -> wake, 1 and 1,000 waiters, against eventfds. */
void bench_fence_wake(struct bs_client *c, const struct fence_bench_env *env);
/* The pool pipeline (8 MiB frames, pool of 3) against memfds and a socket "done". */
void bench_fence_pool(struct bs_client *c, const struct fence_bench_env *env);
