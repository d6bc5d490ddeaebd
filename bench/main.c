/* SPDX-License-Identifier: MIT */
/*
 * bufshare-bench: bufshare's speed beside its floors, measured in one run.
 *
 * It starts its own bufshared on a private socket and the floor's helper
 * of raw syscalls, runs the scenarios (bench-*.c, see bench.h) and prints
 * p50, p99 and p99.9 (or the max, labelled so, where there are too few
 * samples for them) and the ratio to the floor's p50.
 *
 * Usage: bufshare-bench [--quick] [--json FILE] [--plot-dir DIR] [--daemon PATH]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "bench.h"

struct bench B;

static void usage(FILE *f)
{
        fprintf(f, "Usage: bufshare-bench [--quick] [--json FILE] [--plot-dir DIR] [--daemon PATH]\n"
                   "  --quick       every scenario once with tiny counts (a smoke test)\n"
                   "  --json FILE   also write the results as JSON\n"
                   "  --plot-dir D  write scale.dat and handover.dat for bench/plot.gp\n"
                   "  --daemon P    the bufshared binary (default: the one built beside this)\n");
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "quick", no_argument, NULL, 'q' },     { "json", required_argument, NULL, 'j' },
                { "plot-dir", required_argument, NULL, 'p' }, { "daemon", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },      {},
        };
        const char *daemon_path = getenv("BUFSHARED") ? getenv("BUFSHARED") : DEFAULT_BUFSHARED;
        FILE *scale_dat = NULL, *handover_dat = NULL;
        struct bs_client *c = NULL;
        struct rlimit rl;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "qj:p:d:h", longopts, NULL)) >= 0) {
                switch (opt) {
                case 'q': B.quick = 1; break;
                case 'j':
                        B.json = strcmp(optarg, "-") ? fopen(optarg, "we") : stdout;
                        if (!B.json) {
                                fprintf(stderr, "bufshare-bench: %s: %s\n", optarg, strerror(errno));
                                return 2;
                        }
                        break;
                case 'p': B.plot_dir = optarg; break;
                case 'd': daemon_path = optarg; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        signal(SIGPIPE, SIG_IGN);
        /* 15,000 buffers held means 15,000 fds here too */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        setenv("BUFSHARED", daemon_path, 1);
        if (floor_start(&B.floor) < 0) {
                fprintf(stderr, "bufshare-bench: starting the floor's helper failed\n");
                return 1;
        }
        r = test_daemon_start(&B.daemon, NULL);
        if (r < 0) {
                fprintf(stderr, "bufshare-bench: starting %s failed: %s\n", daemon_path, strerror(-r));
                floor_stop(&B.floor);
                return 1;
        }
        if (bs_client_connect(B.daemon.socket, &c) < 0) {
                fprintf(stderr, "bufshare-bench: setting up failed\n");
                test_daemon_stop(&B.daemon);
                return 1;
        }
        if (B.plot_dir) {
                char path[512];
                snprintf(path, sizeof(path), "%s/scale.dat", B.plot_dir);
                scale_dat = fopen(path, "we");
                snprintf(path, sizeof(path), "%s/handover.dat", B.plot_dir);
                handover_dat = fopen(path, "we");
                if (scale_dat)
                        fprintf(scale_dat, "# live_buffers export_p50_us export_p99_us (the max below 1000 samples)\n");
                if (handover_dat)
                        fprintf(handover_dat, "# frame_MiB bufshare_p50_us unix_stream_p50_us pipe_p50_us shm_p50_us\n");
        }
        if (B.json)
                fprintf(B.json, "{\"machine\": {\"cpus\": %ld, \"quick\": %s},\n \"results\": [\n",
                        sysconf(_SC_NPROCESSORS_ONLN), B.quick ? "true" : "false");
        printf("bufshare-bench: %s daemon pid %d, %ld cpus; times in microseconds; pin: same = both on cpu 0, "
               "two = client cpu 0 / server cpu 1, free = unpinned\n",
               B.quick ? "quick run," : "", (int)B.daemon.pid, sysconf(_SC_NPROCESSORS_ONLN));

        bench_export(c);
        bench_import(c);
        bench_info(c);
        bench_handover(c, handover_dat);
        bench_bandwidth(c);
        bench_live_buffers(c, scale_dat);
        bench_concurrent_clients();
        bench_throughput();

        if (B.json) {
                fprintf(B.json, "\n ],\n \"failures\": %d}\n", B.failures);
                if (B.json != stdout)
                        fclose(B.json);
        }
        if (scale_dat)
                fclose(scale_dat);
        if (handover_dat)
                fclose(handover_dat);
        bs_client_unref(c);
        floor_stop(&B.floor);
        r = test_daemon_stop(&B.daemon);
        printf("\nbufshare-bench: %d failure(s), daemon exit status %d\n", B.failures, r);
        return B.failures || r ? 1 : 0;
}

