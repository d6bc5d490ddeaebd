/* SPDX-License-Identifier: MIT */
/* Latency samples and their percentiles, for the benchmarks. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct samples {
        double *v; /* microseconds */
        size_t n, cap;
        int sorted;
};

int samples_init(struct samples *s, size_t cap);
void samples_free(struct samples *s);
void samples_add(struct samples *s, double us);
/* The @p-th percentile (0..100), nearest rank; 0 when empty. */
double samples_pct(struct samples *s, double p);

/* Whether @s has enough samples to state its @p-th percentile: at least 10
 * beyond it, so n >= 1,000 for p99 and n >= 10,000 for p99.9. Below that
 * a "p99" is one or two samples, the max in all but name. */
int samples_have_pct(const struct samples *s, double p);
/* The max, 0 when empty. */
double samples_max(struct samples *s);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);
