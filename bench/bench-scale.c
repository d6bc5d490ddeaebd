/* SPDX-License-Identifier: MIT */
/* 6. scale: export with many live buffers held, the daemon's metadata per
 * buffer, and many concurrent clients. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
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

static int export_4k(void *c)
{
        return export_cycle(c, 4 * KiB);
}

void bench_live_buffers(struct bs_client *c)
{
        static const int levels_full[] = { 10, 1000, 5000, 15000 };
        static const int levels_quick[] = { 10, 100 };
        static const enum pin pins[] = { PIN_FREE, PIN_SAME };
        const int *levels = B.quick ? levels_quick : levels_full;
        int n_levels = B.quick ? 2 : 4, held = 0, n = B.quick ? 20 : 3000;
        int top = levels[n_levels - 1];
        struct bs_buffer **bufs = calloc((size_t)top, sizeof(*bufs));
        struct samples base[2] = { 0 }; /* at 10 live, per pin */
        double p50[2] = { 0 }, p99 = 0;
        long rss0;
        int fds0, r = 0;

        header("6a. export + map + touch + unmap + put (4 KiB) with live buffers held by the client; "
               "ratio = p50 / p50 at 10 live with the same pinning");
        samples_init(&base[0], 1);
        samples_init(&base[1], 1);
        CHECK(bs_client_sync(c));
        rss0 = daemon_rss_bytes();
        fds0 = test_count_fds_of(B.daemon.pid);
        for (int l = 0; l < n_levels && r == 0; l++) {
                char variant[32];

                while (held < levels[l] && r == 0)
                        if ((r = bs_buffer_export(c, 4 * KiB, NULL, NULL, &bufs[held])) == 0)
                                held++;
                snprintf(variant, sizeof(variant), "%d live", levels[l]);
                for (size_t k = 0; k < 2 && r == 0; k++) {
                        struct side s = { .op = export_4k, .arg = c, .server = B.daemon.pid };

                        r = compare_rounds(pins[k], &s, NULL, n);
                        if (r == 0 && l == 0)
                                for (size_t i = 0; i < s.s.n; i++)
                                        samples_add(&base[k], s.s.v[i]);
                        if (r == 0) {
                                result("export-at-scale", variant, pins[k], &s.s, "export at 10 live", &base[k],
                                       NULL, 0);
                                report_placement(pins[k], "export-at-scale", variant, "rounds", ROUNDS, "daemon",
                                                 s.colocated, NULL);
                                p50[k] = samples_pct(&s.s, 50);
                                p99 = samples_have_pct(&s.s, 99) ? samples_pct(&s.s, 99) : samples_max(&s.s);
                        }
                        samples_free(&s.s);
                }
                if (B.scale_dat && r == 0)
                        fprintf(B.scale_dat, "%d %g %g %g\n", levels[l], p50[1], p99, p50[0]);
        }
        pin(PIN_FREE, B.daemon.pid);
        if (r == 0)
                r = bs_client_sync(c);
        if (r == 0) {
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
        samples_free(&base[0]);
        samples_free(&base[1]);
        CHECK(r);
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

void bench_concurrent_clients(struct bs_client *c)
{
        static const int counts_full[] = { 1, 10, 100, 1000 };
        static const int counts_quick[] = { 1, 10 };
        const int *counts = B.quick ? counts_quick : counts_full;
        int n_counts = B.quick ? 2 : 4;

        header("6b. concurrent clients (20 processes at most), each doing export + import + put cycles "
               "(unpinned); latency per cycle, ops/s in all; placement: the daemon against the first process, "
               "looked at every 10 ms");
        for (int ci = 0; ci < n_counts; ci++) {
                int n = counts[ci], workers = n < 20 ? n : 20, per = n / workers;
                int cycles = B.quick ? 2 : (n >= 1000 ? 3 : 4000 / n > 2 ? 4000 / n : 2);
                size_t slots = (size_t)workers * per * cycles;
                struct shared_run sr = { shared_alloc(slots * sizeof(double)), shared_alloc(64 * sizeof(int)),
                                         shared_alloc(64 * sizeof(long)) };
                struct samples s;
                pid_t pids[20];
                long ops = 0;
                int errors, looks, coloc;
                char variant[32];
                uint64_t t0 = now_ns();

                for (int w = 0; w < workers; w++) {
                        fflush(stdout);
                        pids[w] = fork();
                        if (pids[w] == 0)
                                _exit(worker_clients(w, per, cycles, &sr));
                }
                errors = wait_workers(pids, workers, B.daemon.pid, &looks, &coloc);
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
                report_placement(PIN_FREE, "concurrent-clients", variant, "samples", looks, "daemon", coloc, NULL);
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
