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

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);
