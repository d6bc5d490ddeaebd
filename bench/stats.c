/* SPDX-License-Identifier: MIT */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

int samples_init(struct samples *s, size_t cap)
{
        s->v = calloc(cap ? cap : 1, sizeof(*s->v));
        s->n = 0;
        s->cap = cap ? cap : 1;
        s->sorted = 0;
        return s->v ? 0 : -ENOMEM;
}

void samples_free(struct samples *s)
{
        free(s->v);
        s->v = NULL;
        s->n = s->cap = 0;
}

void samples_add(struct samples *s, double us)
{
        if (s->n == s->cap) {
                double *v = realloc(s->v, 2 * s->cap * sizeof(*v));
                if (!v)
                        return;
                s->v = v;
                s->cap *= 2;
        }
        s->v[s->n++] = us;
        s->sorted = 0;
}

static int cmp(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

double samples_pct(struct samples *s, double p)
{
        size_t rank;

        if (s->n == 0)
                return 0;
        if (!s->sorted) {
                qsort(s->v, s->n, sizeof(*s->v), cmp);
                s->sorted = 1;
        }
        rank = (size_t)ceil(p / 100.0 * (double)s->n);
        if (rank < 1)
                rank = 1;
        if (rank > s->n)
                rank = s->n;
        return s->v[rank - 1];
}

int samples_have_pct(const struct samples *s, double p)
{
        return p < 100 && (double)s->n * (1 - p / 100.0) >= 10 - 1e-9;
}

double samples_max(struct samples *s)
{
        return samples_pct(s, 100);
}

uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
