/* SPDX-License-Identifier: MIT */
/* 7. throughput: operations per second from several client processes. */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "bench.h"

static int throughput_worker(int w, int import, double seconds, struct shared_run *sr)
{
        struct bs_client *c = NULL;
        struct bs_buffer *src = NULL;
        uint64_t end;
        int fd = -1;

        if (bs_client_connect(B.daemon.socket, &c) < 0)
                return 1;
        if (import) {
                if (bs_buffer_export(c, 4 * KiB, NULL, NULL, &src) < 0)
                        return 1;
                fd = bs_buffer_fd(src, O_RDWR | O_CLOEXEC);
        }
        end = now_ns() + (uint64_t)(seconds * 1e9);
        while (now_ns() < end) {
                struct bs_buffer *b = NULL;
                int r = import ? bs_buffer_import(c, fd, &b) : bs_buffer_export(c, 4 * KiB, NULL, NULL, &b);
                if (r < 0)
                        sr->errors[w]++;
                bs_buffer_put(b);
                sr->ops[w]++;
        }
        if (bs_client_sync(c) < 0)
                sr->errors[w]++;
        if (fd >= 0)
                close(fd);
        bs_buffer_put(src);
        bs_client_unref(c);
        return 0;
}

void bench_throughput(struct bs_client *c)
{
        static const int procs[] = { 1, 2, 4 };
        double seconds = B.quick ? 0.05 : 1.0;

        printf("\n== 7. throughput: operations per second from client processes (unpinned); placement: the "
               "daemon against the first process, looked at every 10 ms\n");
        for (int import = 0; import <= 1; import++)
                for (size_t pi = 0; pi < 3; pi++) {
                        struct shared_run sr = { NULL, shared_alloc(64 * sizeof(int)), shared_alloc(64 * sizeof(long)) };
                        long ops = 0;
                        int errors, looks, coloc;
                        pid_t pids[4];
                        char variant[32];
                        uint64_t t0 = now_ns();

                        for (int w = 0; w < procs[pi]; w++) {
                                fflush(stdout);
                                pids[w] = fork();
                                if (pids[w] == 0)
                                        _exit(throughput_worker(w, import, seconds, &sr));
                        }
                        errors = wait_workers(pids, procs[pi], B.daemon.pid, &looks, &coloc);
                        for (int w = 0; w < procs[pi]; w++) {
                                ops += sr.ops[w];
                                errors += sr.errors[w];
                        }
                        double rate = (double)ops / ((double)(now_ns() - t0) / 1e9);
                        printf("%-22s %-16s %d process(es): %.0f ops/s%s\n", "throughput",
                               import ? "import+put" : "export+put", procs[pi], rate, errors ? " (ERRORS)" : "");
                        json_record("\"scenario\": \"throughput\", \"variant\": \"%s\", \"processes\": %d, "
                                    "\"ops_per_s\": %.1f, \"errors\": %d",
                                    import ? "import+put" : "export+put", procs[pi], rate, errors);
                        snprintf(variant, sizeof(variant), "%s %d", import ? "import+put" : "export+put", procs[pi]);
                        report_placement(PIN_FREE, "throughput", variant, "samples", looks, "daemon", coloc, NULL);
                        B.failures += errors;
                        munmap(sr.errors, 64 * sizeof(int));
                        munmap(sr.ops, 64 * sizeof(long));
                }
}
