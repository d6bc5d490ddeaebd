/* SPDX-License-Identifier: MIT */
/*
 * 11. pipeline: one thread on one connection past one round trip
 *    (bs_buffer_export_many()), against the daemon's ceiling from many
 *    connections, and against one export at a time.
 * 12. threads: 4 threads sharing one connection against 4 threads with
 *    a connection each.
 * Each is a rate (exports + puts per second) of a forked process; the
 * variants alternate in rounds of one second, and each row is the median
 * of the rounds with their min-max.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "bench.h"

#define MAX_BATCH 128
/* What a worker reports: ops, errors, and its voluntary and involuntary
 * context switches while its threads ran. */
#define OUT_LONGS 4

struct rate_job {
        int threads;  /* in the worker process */
        int clients;  /* 1: the threads share one; else one each */
        int batch;    /* 0: bs_buffer_export(); else bs_buffer_export_many() of this many */
        double seconds;
};

struct rate_thread {
        const struct rate_job *job;
        struct bs_client *c;
        uint64_t end;
        long ops;
        int errors;
};

static void *rate_thread_main(void *arg)
{
        struct rate_thread *t = arg;
        struct bs_buffer *b[MAX_BATCH];

        while (now_ns() < t->end) {
                if (t->job->batch == 0) {
                        struct bs_buffer *one = NULL;
                        if (bs_buffer_export(t->c, 4 * KiB, NULL, NULL, &one) < 0)
                                t->errors++;
                        bs_buffer_put(one);
                        t->ops++;
                        continue;
                }
                if (bs_buffer_export_many(t->c, (unsigned)t->job->batch, 4 * KiB, NULL, NULL, b) < 0) {
                        t->errors++;
                        continue;
                }
                for (int i = 0; i < t->job->batch; i++)
                        bs_buffer_put(b[i]);
                t->ops += t->job->batch;
        }
        return NULL;
}

/* In the forked worker: run @job, and write ops, errors and context
 * switches to @out. */
static int rate_worker(const struct rate_job *job, long *out)
{
        struct rate_thread t[8] = { 0 };
        pthread_t th[8];
        struct bs_client *shared = NULL;
        struct rusage ru0, ru1;
        uint64_t end;
        int failed = 0;

        if (job->clients == 1 && bs_client_connect(B.daemon.socket, &shared) < 0)
                return 1;
        for (int i = 0; i < job->threads; i++) {
                t[i].job = job;
                t[i].c = shared ? bs_client_ref(shared) : NULL;
                if (!t[i].c && bs_client_connect(B.daemon.socket, &t[i].c) < 0)
                        return 1;
        }
        end = now_ns() + (uint64_t)(job->seconds * 1e9);
        getrusage(RUSAGE_SELF, &ru0);
        for (int i = 0; i < job->threads; i++) {
                t[i].end = end;
                pthread_create(&th[i], NULL, rate_thread_main, &t[i]);
        }
        for (int i = 0; i < job->threads; i++)
                pthread_join(th[i], NULL);
        getrusage(RUSAGE_SELF, &ru1);
        out[2] = ru1.ru_nvcsw - ru0.ru_nvcsw;
        out[3] = ru1.ru_nivcsw - ru0.ru_nivcsw;
        for (int i = 0; i < job->threads; i++) {
                out[0] += t[i].ops;
                out[1] += t[i].errors;
                if (bs_client_sync(t[i].c) < 0)
                        failed = 1;
                bs_client_unref(t[i].c);
        }
        bs_client_unref(shared);
        return failed;
}

struct variant {
        const char *name;
        struct rate_job job;
        int procs;
        struct samples rates;
        int looks, colocated; /* the daemon against the first worker, every 10 ms */
        long ops, vcsw, ivcsw; /* over all rounds, of all workers */
};

/* Exports + puts per second of @v->procs processes each running
 * @v->job; errors are added to *@errors. */
static double rate_of(struct variant *v, int *errors)
{
        const struct rate_job *job = &v->job;
        int procs = v->procs;
        long *out = shared_alloc(64 * OUT_LONGS * sizeof(long));
        pid_t pids[16];
        long ops = 0;
        int looks, coloc;
        uint64_t t0 = now_ns();

        if (!out) {
                (*errors)++;
                return 0;
        }
        for (int w = 0; w < procs; w++) {
                fflush(stdout);
                pids[w] = fork();
                if (pids[w] == 0)
                        _exit(rate_worker(job, out + OUT_LONGS * w));
        }
        *errors += wait_workers(pids, procs, B.daemon.pid, &looks, &coloc);
        v->looks += looks;
        v->colocated += coloc;
        for (int w = 0; w < procs; w++) {
                ops += out[OUT_LONGS * w];
                *errors += (int)out[OUT_LONGS * w + 1];
                v->vcsw += out[OUT_LONGS * w + 2];
                v->ivcsw += out[OUT_LONGS * w + 3];
        }
        v->ops += ops;
        munmap(out, 64 * OUT_LONGS * sizeof(long));
        return (double)ops / ((double)(now_ns() - t0) / 1e9);
}

static void run_variants(const char *scenario, struct variant *v, size_t n, int ref, int rounds)
{
        int errors = 0;

        for (size_t i = 0; i < n; i++)
                samples_init(&v[i].rates, (size_t)rounds);
        for (int r = 0; r < rounds; r++)
                for (size_t i = 0; i < n; i++)
                        samples_add(&v[i].rates, rate_of(&v[i], &errors));
        for (size_t i = 0; i < n; i++) {
                double med = samples_pct(&v[i].rates, 50), ref_med = samples_pct(&v[ref].rates, 50);
                printf("%-22s %-40s %8.0f ops/s (min %.0f, max %.0f, %d rounds)  x%.2f of %s\n", scenario, v[i].name,
                       med, samples_pct(&v[i].rates, 0), samples_max(&v[i].rates), rounds,
                       ref_med > 0 ? med / ref_med : 0, v[ref].name);
                json_record("\"scenario\": \"%s\", \"variant\": \"%s\", \"ops_per_s\": %.1f, \"ops_per_s_min\": %.1f, "
                            "\"ops_per_s_max\": %.1f, \"rounds\": %d, \"ratio_to\": \"%s\", \"ratio\": %.4f, "
                            "\"client_vcsw_per_op\": %.3f, \"client_ivcsw_per_op\": %.3f",
                            scenario, v[i].name, med, samples_pct(&v[i].rates, 0), samples_max(&v[i].rates), rounds,
                            v[ref].name, ref_med > 0 ? med / ref_med : 0,
                            v[i].ops > 0 ? (double)v[i].vcsw / (double)v[i].ops : 0,
                            v[i].ops > 0 ? (double)v[i].ivcsw / (double)v[i].ops : 0);
                report_placement(PIN_FREE, scenario, v[i].name, "samples", v[i].looks, "daemon", v[i].colocated,
                                 NULL);
                if (v[i].ops > 0)
                        printf("%-22s context switches per op in the client: %.2f voluntary, %.2f involuntary\n", "",
                               (double)v[i].vcsw / (double)v[i].ops, (double)v[i].ivcsw / (double)v[i].ops);
        }
        for (size_t i = 0; i < n; i++)
                samples_free(&v[i].rates);
        if (errors) {
                printf("%-22s %d errors\n", scenario, errors);
                B.failures++;
        }
}

void bench_pipeline(struct bs_client *c)
{
        double s = B.quick ? 0.05 : 1.0;
        int rounds = B.quick ? 1 : 5;
        struct variant v[] = {
                { .name = "ceiling: 4 processes, export+put", .job = { 1, 1, 0, s }, .procs = 4 },
                { .name = "1 thread, export+put", .job = { 1, 1, 0, s }, .procs = 1 },
                { .name = "1 thread, export_many(32)+puts", .job = { 1, 1, 32, s }, .procs = 1 },
                { .name = "1 thread, export_many(128)+puts", .job = { 1, 1, 128, s }, .procs = 1 },
        };
        (void)c;

        printf("\n== 11. pipeline: exports + puts per second from one thread on one connection, with "
               "bs_buffer_export_many(), against the daemon's ceiling from 4 connections (unpinned; the variants "
               "alternate, 1 s each; median of the rounds)\n");
        run_variants("pipeline", v, sizeof(v) / sizeof(v[0]), 0, rounds);
}

void bench_threads(struct bs_client *c)
{
        double s = B.quick ? 0.05 : 1.0;
        int rounds = B.quick ? 1 : 5;
        struct variant v[] = {
                { .name = "4 threads, 4 connections", .job = { 4, 4, 0, s }, .procs = 1 },
                { .name = "4 threads, 1 shared connection", .job = { 4, 1, 0, s }, .procs = 1 },
        };
        (void)c;

        printf("\n== 12. threads: exports + puts per second from 4 threads of one process, sharing one connection "
               "or with one each (unpinned; alternating, 1 s each; median of the rounds)\n");
        run_variants("threads", v, sizeof(v) / sizeof(v[0]), 0, rounds);
}
