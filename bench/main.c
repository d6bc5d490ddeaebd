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

#ifndef HAVE_ICEORYX
void bench_iceoryx(struct bs_client *c)
{
        printf("\n== 8. iceoryx: not built (meson found no libiceoryx-binding-c-dev; make bench installs it)\n");
}
#endif

static const struct scenario {
        const char *name;
        void (*run)(struct bs_client *c);
        int not_quick; /* left out of --quick unless named by --only */
} scenarios[] = {
        { "export", bench_export, 0 },
        { "import", bench_import, 0 },
        { "info", bench_info, 0 },
        { "handover", bench_handover, 0 },
        { "frame-fresh", bench_frame_fresh, 0 },
        { "bandwidth", bench_bandwidth, 0 },
        { "export-at-scale", bench_live_buffers, 0 },
        { "concurrent-clients", bench_concurrent_clients, 0 },
        { "throughput", bench_throughput, 0 },
        { "pipeline", bench_pipeline, 0 },
        { "threads", bench_threads, 0 },
        { "fence-wake", bench_fence_wake, 0 },
        { "pool-pipeline", bench_fence_pool, 0 },
        /* RouDi is one per machine, and make test runs in parallel with
         * other checkouts: the smoke run leaves it to make bench */
        { "iceoryx", bench_iceoryx, 1 },
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: bufshare-bench [--quick] [--json FILE] [--plot-dir DIR] [--daemon PATH] [--only LIST]\n"
                   "  --quick       every scenario once with tiny counts (a smoke test; not iceoryx)\n"
                   "  --json FILE   also write the results as JSON\n"
                   "  --plot-dir D  write scale.dat and handover.dat for bench/plot.gp\n"
                   "  --daemon P    the bufshared binary (default: the one built beside this)\n"
                   "  --only LIST   only these scenarios, comma-separated:");
        for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
                fprintf(f, "%s %s", i ? "," : "", scenarios[i].name);
        fprintf(f, "\n");
}

/* Whether @name is in the comma-separated @list. */
static int listed(const char *list, const char *name)
{
        size_t len = strlen(name);

        for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0'))
                        return 1;
        return 0;
}

static FILE *open_dat(const char *name, const char *columns)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", B.plot_dir, name);
        f = fopen(path, "we");
        if (f)
                fprintf(f, "# %s\n", columns);
        return f;
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "quick", no_argument, NULL, 'q' },     { "json", required_argument, NULL, 'j' },
                { "plot-dir", required_argument, NULL, 'p' }, { "daemon", required_argument, NULL, 'd' },
                { "only", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *daemon_path = getenv("BUFSHARED") ? getenv("BUFSHARED") : DEFAULT_BUFSHARED;
        const char *only = NULL;
        struct bs_client *c = NULL;
        struct rlimit rl;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "qj:p:d:o:h", longopts, NULL)) >= 0) {
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
                case 'o': only = optarg; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        for (const char *p = only; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
                size_t i = 0, len = strcspn(p, ",");
                while (i < sizeof(scenarios) / sizeof(scenarios[0]) &&
                       (strlen(scenarios[i].name) != len || strncmp(p, scenarios[i].name, len)))
                        i++;
                if (i == sizeof(scenarios) / sizeof(scenarios[0])) {
                        fprintf(stderr, "bufshare-bench: no scenario %.*s\n", (int)len, p);
                        usage(stderr);
                        return 2;
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
        /* the scale scenario holds 15,000 buffers in one client: more
         * than the daemon's default share of its fds for one client */
        static const char *const daemon_args[] = { "--max-buffers-per-client", "20000",
                                                   "--max-buffers-per-uid", "20000", NULL };
        r = test_daemon_start(&B.daemon, daemon_args);
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
                B.scale_dat = open_dat("scale.dat", "live_buffers export_p50_us export_p99_us "
                                                    "(the max below 1000 samples) export_free_p50_us");
                B.handover_dat = open_dat("handover.dat", "frame_MiB bufshare_p50_us unix_stream_p50_us pipe_p50_us "
                                                          "shm_p50_us memfd_pool_p50_us");
        }
        if (B.json)
                fprintf(B.json, "{\"machine\": {\"cpus\": %ld, \"quick\": %s},\n \"results\": [\n",
                        sysconf(_SC_NPROCESSORS_ONLN), B.quick ? "true" : "false");
        printf("bufshare-bench: %s daemon pid %d, %ld cpus; times in microseconds; pin: same = both on cpu 0, "
               "two = client cpu 0 / server cpu 1, free = unpinned\n",
               B.quick ? "quick run," : "", (int)B.daemon.pid, sysconf(_SC_NPROCESSORS_ONLN));

        for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
                if (only ? !listed(only, scenarios[i].name) : B.quick && scenarios[i].not_quick) {
                        if (!only)
                                printf("\n== %s: not in a quick run (make bench runs it)\n", scenarios[i].name);
                        continue;
                }
                scenarios[i].run(c);
        }

        if (B.json) {
                fprintf(B.json, "\n ],\n \"failures\": %d}\n", B.failures);
                if (B.json != stdout)
                        fclose(B.json);
        }
        if (B.scale_dat)
                fclose(B.scale_dat);
        if (B.handover_dat)
                fclose(B.handover_dat);
        bs_client_unref(c);
        floor_stop(&B.floor);
        r = test_daemon_stop(&B.daemon);
        printf("\nbufshare-bench: %d failure(s), daemon exit status %d\n", B.failures, r);
        return B.failures || r ? 1 : 0;
}
