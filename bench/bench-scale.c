/* SPDX-License-Identifier: MIT */
/* 6. scale: export with many live buffers held, the daemon's metadata per
 * buffer, and many concurrent clients. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "bench.h"

static long daemon_rss_bytes(void)
{
        char path[64], line[128];
        long kb = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)B.daemon.pid);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                        break;
        if (f)
                fclose(f);
        return kb * 1024;
}

void bench_live_buffers(struct bs_client *c, FILE *plot)
{
        static const int levels_full[] = { 10, 1000, 5000, 15000 };
        static const int levels_quick[] = { 10, 100 };
        const int *levels = B.quick ? levels_quick : levels_full;
        int n_levels = B.quick ? 2 : 4, held = 0, n = B.quick ? 20 : 3000;
        int top = levels[n_levels - 1];
        struct bs_buffer **bufs = calloc((size_t)top, sizeof(*bufs));
        struct samples base;
        long rss0;
        int fds0;

        header("6a. export p50 with live buffers held (one client, same cpu); ratio = p50 / p50 at 10");
        CHECK(bs_client_sync(c));
        rss0 = daemon_rss_bytes();
        fds0 = test_count_fds_of(B.daemon.pid);
        samples_init(&base, 1);
        pin(PIN_SAME, B.daemon.pid);
        for (int l = 0; l < n_levels; l++) {
                struct samples s;
                char variant[32];

                while (held < levels[l])
                        CHECK(bs_buffer_export(c, 4 * KiB, NULL, NULL, &bufs[held++]));
                samples_init(&s, n);
                for (int k = 0; k < n / 10; k++) /* warm-up */
                        CHECK(export_cycle(c, 4 * KiB));
                for (int k = 0; k < n; k++) {
                        uint64_t t = now_ns();
                        CHECK(export_cycle(c, 4 * KiB));
                        samples_add(&s, (double)(now_ns() - t) / 1000.0);
                }
                if (l == 0)
                        for (size_t i = 0; i < s.n; i++)
                                samples_add(&base, s.v[i]);
                snprintf(variant, sizeof(variant), "%d live", levels[l]);
                result("export-at-scale", variant, PIN_SAME, &s, "export at 10 live", &base, NULL, 0);
                if (plot)
                        fprintf(plot, "%d %g %g\n", levels[l], samples_pct(&s, 50),
                                samples_have_pct(&s, 99) ? samples_pct(&s, 99) : samples_max(&s));
                samples_free(&s);
        }
        pin(PIN_FREE, B.daemon.pid);
        CHECK(bs_client_sync(c));
        {
                long rss = daemon_rss_bytes();
                int fds = test_count_fds_of(B.daemon.pid);
                double per = (double)(rss - rss0) / held;

                printf("%-22s daemon at %d buffers: RSS %.1f MiB (+%.1f MiB), %d fds (+%d): %.0f bytes of "
                       "metadata per buffer\n", "daemon-metadata", held, rss / 1048576.0,
                       (rss - rss0) / 1048576.0, fds, fds - fds0, per);
                json_record("\"scenario\": \"daemon-metadata\", \"buffers\": %d, \"rss_bytes\": %ld, "
                            "\"rss_growth_bytes\": %ld, \"fds\": %d, \"fd_growth\": %d, \"bytes_per_buffer\": %.1f",
                            held, rss, rss - rss0, fds, fds - fds0, per);
        }
        for (int i = 0; i < held; i++)
                bs_buffer_put(bufs[i]);
        free(bufs);
        samples_free(&base);
        CHECK(bs_client_sync(c));
}

/* Worker processes, each with its own clients, doing export/import/put
 * cycles; latencies go to a shared array. */

static int cycle_export_import_put(struct bs_client *c)
{
        struct bs_buffer *b = NULL, *imp = NULL;
        int fd, r = bs_buffer_export(c, 4 * KiB, NULL, NULL, &b);

        if (r < 0)
                return r;
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        r = fd < 0 ? fd : bs_buffer_import(c, fd, &imp);
        if (fd >= 0)
                close(fd);
        bs_buffer_put(imp);
        bs_buffer_put(b);
        return r;
}

static int worker_clients(int w, int n_clients, int cycles, struct shared_run *sr)
{
        struct bs_client **cs = calloc((size_t)n_clients, sizeof(*cs));

        for (int i = 0; i < n_clients; i++)
                if (bs_client_connect(B.daemon.socket, &cs[i]) < 0)
                        sr->errors[w]++;
        for (int k = 0; k < cycles; k++)
                for (int i = 0; i < n_clients; i++) {
                        uint64_t t = now_ns();
                        if (!cs[i] || cycle_export_import_put(cs[i]) < 0)
                                sr->errors[w]++;
                        sr->lat[((size_t)w * n_clients + i) * cycles + k] = (double)(now_ns() - t) / 1000.0;
                        sr->ops[w]++;
                }
        for (int i = 0; i < n_clients; i++)
                if (cs[i] && bs_client_sync(cs[i]) < 0)
                        sr->errors[w]++;
        for (int i = 0; i < n_clients; i++)
                bs_client_unref(cs[i]);
        free(cs);
        return 0;
}

void bench_concurrent_clients(void)
{
        static const int counts_full[] = { 1, 10, 100, 1000 };
        static const int counts_quick[] = { 1, 10 };
        const int *counts = B.quick ? counts_quick : counts_full;
        int n_counts = B.quick ? 2 : 4;

        header("6b. concurrent clients, each doing export + import + put cycles (unpinned); "
               "latency per cycle, ops/s in all");
        for (int ci = 0; ci < n_counts; ci++) {
                int n = counts[ci], workers = n < 20 ? n : 20, per = n / workers;
                int cycles = B.quick ? 2 : (n >= 1000 ? 3 : 4000 / n > 2 ? 4000 / n : 2);
                size_t slots = (size_t)workers * per * cycles;
                struct shared_run sr = { shared_alloc(slots * sizeof(double)), shared_alloc(64 * sizeof(int)),
                                         shared_alloc(64 * sizeof(long)) };
                struct samples s;
                pid_t pids[20];
                long ops = 0;
                int errors = 0;
                char variant[32];
                uint64_t t0 = now_ns();

                for (int w = 0; w < workers; w++) {
                        fflush(stdout);
                        pids[w] = fork();
                        if (pids[w] == 0)
                                _exit(worker_clients(w, per, cycles, &sr));
                }
                for (int w = 0; w < workers; w++) {
                        int status;
                        waitpid(pids[w], &status, 0);
                        if (!WIFEXITED(status) || WEXITSTATUS(status))
                                errors++;
                }
                uint64_t wall = now_ns() - t0;
                samples_init(&s, slots);
                for (int w = 0; w < workers; w++) {
                        ops += sr.ops[w];
                        errors += sr.errors[w];
                }
                for (size_t i = 0; i < slots; i++)
                        samples_add(&s, sr.lat[i]);
                snprintf(variant, sizeof(variant), "%d clients", workers * per);
                result("concurrent-clients", variant, PIN_FREE, &s, NULL, NULL, "ops_per_s",
                       (double)ops / ((double)wall / 1e9));
                if (errors) {
                        printf("%-22s %d errors with %d clients\n", "", errors, n);
                        B.failures++;
                }
                json_record("\"scenario\": \"concurrent-clients-errors\", \"clients\": %d, \"errors\": %d",
                            workers * per, errors);
                samples_free(&s);
                munmap(sr.lat, slots * sizeof(double));
                munmap(sr.errors, 64 * sizeof(int));
                munmap(sr.ops, 64 * sizeof(long));
        }
}
