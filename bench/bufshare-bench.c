/* SPDX-License-Identifier: MIT */
/*
 * bufshare-bench: bufshare's speed beside its floors, measured in one run.
 *
 * It starts its own bufshared on a private socket, runs each scenario
 * after a warm-up, interleaving bufshare and its floor in rounds so that
 * drift hits both alike, and prints p50, p99, p99.9 and the ratio to the
 * floor's p50. Pinning is said on every row: "same" (this process and
 * the server on cpu 0), "two" (this process on cpu 0, the server on cpu
 * 1), "free" (unpinned, what users get).
 *
 * Usage: bufshare-bench [--quick] [--json FILE] [--plot-dir DIR] [--daemon PATH]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "bench-fence.h"
#include "fdpass.h"
#include "floor.h"
#include "spawn.h"
#include "stats.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define ROUNDS 10 /* bufshare and floor alternate this many times */

enum pin { PIN_SAME, PIN_TWO, PIN_FREE };
static const char *const pin_names[] = { "same", "two", "free" };
/* Unpinned first: a process's last cpu steers where the scheduler wakes
 * it, so "free" is measured before pinning gives either side a history. */
static const enum pin pin_order[] = { PIN_FREE, PIN_SAME, PIN_TWO };
#define FOR_EACH_PIN(p) \
        for (size_t p##_i = 0; p##_i < 3 && ((p) = pin_order[p##_i], 1); p##_i++)

static struct {
        int quick;
        FILE *json;
        const char *plot_dir;
        struct test_daemon daemon;
        struct floor_server floor;
        int n_results;
        int failures;
} B;

/* ---- pinning ---- */

static void pin_pid(pid_t pid, int cpu)
{
        cpu_set_t set;

        CPU_ZERO(&set);
        if (cpu < 0) {
                for (int i = 0; i < CPU_SETSIZE && i < sysconf(_SC_NPROCESSORS_ONLN); i++)
                        CPU_SET(i, &set);
        } else {
                CPU_SET(cpu, &set);
        }
        sched_setaffinity(pid, sizeof(set), &set);
}

/* Pin this process and @server for @p. Unpinned, both first start from
 * cpu 0, so that the daemon and the floor's helper begin every round from
 * the same placement and the scheduler's choices, not their histories,
 * decide where they go. */
static void pin(enum pin p, pid_t server)
{
        int two = sysconf(_SC_NPROCESSORS_ONLN) > 1;

        if (p == PIN_FREE) {
                pin_pid(0, 0);
                pin_pid(server, 0);
                pin_pid(server, -1);
                pin_pid(0, -1);
                return;
        }
        pin_pid(0, 0);
        pin_pid(server, p == PIN_TWO && two ? 1 : 0);
}

/* The cpu @pid last ran on (field 39 of /proc/PID/stat), or -1. */
static int last_cpu(pid_t pid)
{
        char path[64], buf[1024], *p;
        int cpu = -1, field = 1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')'))) {
                /* fields after the command: state is field 3 */
                for (p += 2, field = 3; *p && field < 39; p++)
                        if (*p == ' ')
                                field++;
                cpu = atoi(p);
        }
        fclose(f);
        return cpu;
}

/* Unpinned, where the scheduler runs the server decides the cost: count
 * the rounds that ended with it on the client's cpu. */
static int colocated(pid_t server)
{
        return last_cpu(server) == sched_getcpu();
}

/* ---- results ---- */

static void result(const char *scenario, const char *variant, enum pin p, struct samples *s,
                   const char *floor_name, struct samples *f, const char *extra_key, double extra)
{
        double p50 = samples_pct(s, 50), p99 = samples_pct(s, 99), p999 = samples_pct(s, 99.9);
        double f50 = f ? samples_pct(f, 50) : 0;

        printf("%-22s %-16s %-5s %9.1f %9.1f %9.1f  %-18s %9.1f %6.2f", scenario, variant, pin_names[p], p50,
               p99, p999, floor_name ? floor_name : "-", f50, f && f50 > 0 ? p50 / f50 : 0);
        if (extra_key)
                printf("  %s=%.3g", extra_key, extra);
        printf("\n");
        fflush(stdout);
        if (B.json) {
                fprintf(B.json,
                        "%s  {\"scenario\": \"%s\", \"variant\": \"%s\", \"pin\": \"%s\", \"n\": %zu, "
                        "\"p50_us\": %.3f, \"p99_us\": %.3f, \"p999_us\": %.3f",
                        B.n_results ? ",\n" : "", scenario, variant, pin_names[p], s->n, p50, p99, p999);
                if (f)
                        fprintf(B.json,
                                ", \"floor\": \"%s\", \"floor_p50_us\": %.3f, \"floor_p99_us\": %.3f, "
                                "\"ratio_p50\": %.4f, \"ratio_p99_to_floor_p50\": %.4f",
                                floor_name, f50, samples_pct(f, 99), f50 > 0 ? p50 / f50 : 0,
                                f50 > 0 ? p99 / f50 : 0);
                if (extra_key)
                        fprintf(B.json, ", \"%s\": %.6g", extra_key, extra);
                fprintf(B.json, "}");
        }
        B.n_results++;
}

static void header(const char *title)
{
        printf("\n== %s\n%-22s %-16s %-5s %9s %9s %9s  %-18s %9s %6s\n", title, "scenario", "variant", "pin",
               "p50 us", "p99 us", "p99.9 us", "floor", "floor p50", "ratio");
}

#define CHECK(expr)                                                                        \
        do {                                                                               \
                int r_ = (expr);                                                           \
                if (r_ < 0) {                                                              \
                        fprintf(stderr, "bufshare-bench: %s failed: %s\n", #expr, strerror(-r_)); \
                        B.failures++;                                                      \
                        return;                                                            \
                }                                                                          \
        } while (0)

/* ---- 1. export ---- */

static int export_cycle(struct bs_client *c, uint64_t size)
{
        struct bs_buffer *b = NULL;
        volatile uint8_t *p;
        int r = bs_buffer_export(c, size, NULL, NULL, &b);

        if (r < 0)
                return r;
        r = bs_buffer_mmap(b, 0, size, BS_PROT_READ | BS_PROT_WRITE, (void **)&p);
        if (r == 0) {
                p[0] = 1;
                bs_buffer_munmap(b, (void *)p, size);
        }
        bs_buffer_put(b);
        return r;
}

static int export_floor_cycle(uint64_t size)
{
        volatile uint8_t *p;
        int fd = floor_export(&B.floor, size);

        if (fd < 0)
                return fd;
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                close(fd);
                return -errno;
        }
        p[0] = 1;
        munmap((void *)p, size);
        close(fd);
        return 0;
}

static void bench_export(struct bs_client *c)
{
        static const uint64_t sizes[] = { 4 * KiB, 1 * MiB, 64 * MiB };
        int n = B.quick ? 20 : 3000;

        enum pin p;

        header("1. export + map + touch one byte + unmap + put, against memfd+seals+SCM_RIGHTS from a helper");
        FOR_EACH_PIN(p) {
                for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                        struct samples s, f;
                        char variant[32];

                        int with_daemon = 0, with_floor = 0;

                        samples_init(&s, n);
                        samples_init(&f, n);
                        for (int w = 0; w < n / 10 + 1; w++) { /* warm-up */
                                CHECK(export_cycle(c, sizes[i]));
                                CHECK(export_floor_cycle(sizes[i]));
                        }
                        for (int round = 0; round < ROUNDS; round++) {
                                pin(p, B.daemon.pid);
                                for (int k = 0; k < n / ROUNDS; k++) {
                                        uint64_t t = now_ns();
                                        CHECK(export_cycle(c, sizes[i]));
                                        samples_add(&s, (double)(now_ns() - t) / 1000.0);
                                }
                                with_daemon += colocated(B.daemon.pid);
                                pin(p, B.floor.pid);
                                for (int k = 0; k < n / ROUNDS; k++) {
                                        uint64_t t = now_ns();
                                        CHECK(export_floor_cycle(sizes[i]));
                                        samples_add(&f, (double)(now_ns() - t) / 1000.0);
                                }
                                with_floor += colocated(B.floor.pid);
                        }
                        snprintf(variant, sizeof(variant), "%llu KiB", (unsigned long long)(sizes[i] / KiB));
                        result("export", variant, p, &s, "memfd+seal+fd", &f, p == PIN_FREE ? "rounds_colocated_daemon" : NULL,
                               with_daemon);
                        if (p == PIN_FREE) {
                                printf("%-22s unpinned placement: the daemon ended %d of %d rounds on the client's "
                                       "cpu, the floor's helper %d of %d\n", "", with_daemon, ROUNDS, with_floor,
                                       ROUNDS);
                                if (B.json)
                                        fprintf(B.json, ",\n  {\"scenario\": \"export-placement\", \"variant\": \"%s\", "
                                                "\"rounds\": %d, \"daemon_colocated\": %d, \"floor_colocated\": %d}",
                                                variant, ROUNDS, with_daemon, with_floor);
                        }
                        samples_free(&s);
                        samples_free(&f);
                }
        }
        pin(PIN_FREE, B.daemon.pid);
        pin(PIN_FREE, B.floor.pid);
}

/* ---- 2. import, 3. info / set-name ---- */

static void bench_roundtrips(struct bs_client *c)
{
        int n = B.quick ? 20 : 5000;
        struct bs_buffer *b = NULL;
        int fd;

        CHECK(bs_buffer_export(c, 4 * KiB, NULL, "bench", &b));
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        enum pin p;

        header("2. import + put of a received fd, against an SCM_RIGHTS round trip with one fd; "
               "3. info / set-name, against a 64-byte ping-pong");
        FOR_EACH_PIN(p) {
                struct samples si, fi, sn, sm, fp;

                samples_init(&si, n);
                samples_init(&fi, n);
                samples_init(&sn, n);
                samples_init(&sm, n);
                samples_init(&fp, n);
                for (int round = 0; round < ROUNDS + 1; round++) {
                        int count = round == 0 ? n / 10 + 1 : n / ROUNDS; /* round 0: warm-up */

                        pin(p, B.daemon.pid);
                        for (int k = 0; k < count; k++) {
                                struct bs_buffer *imp = NULL;
                                struct bs_buffer_info info;
                                uint64_t t = now_ns();

                                CHECK(bs_buffer_import(c, fd, &imp));
                                bs_buffer_put(imp);
                                uint64_t t2 = now_ns();
                                CHECK(bs_buffer_get_info(b, &info));
                                uint64_t t3 = now_ns();
                                CHECK(bs_buffer_set_name(b, k & 1 ? "odd" : "even"));
                                uint64_t t4 = now_ns();
                                if (round) {
                                        samples_add(&si, (double)(t2 - t) / 1000.0);
                                        samples_add(&sn, (double)(t3 - t2) / 1000.0);
                                        samples_add(&sm, (double)(t4 - t3) / 1000.0);
                                }
                        }
                        pin(p, B.floor.pid);
                        for (int k = 0; k < count; k++) {
                                uint64_t t = now_ns();
                                CHECK(floor_import(&B.floor, fd));
                                uint64_t t2 = now_ns();
                                CHECK(floor_ping(&B.floor));
                                uint64_t t3 = now_ns();
                                if (round) {
                                        samples_add(&fi, (double)(t2 - t) / 1000.0);
                                        samples_add(&fp, (double)(t3 - t2) / 1000.0);
                                }
                        }
                }
                result("import", "4 KiB", p, &si, "fd round trip", &fi, NULL, 0);
                result("info", "-", p, &sn, "64 B ping-pong", &fp, NULL, 0);
                result("set-name", "-", p, &sm, "64 B ping-pong", &fp, NULL, 0);
                samples_free(&si);
                samples_free(&fi);
                samples_free(&sn);
                samples_free(&sm);
                samples_free(&fp);
        }
        pin(PIN_FREE, B.daemon.pid);
        pin(PIN_FREE, B.floor.pid);
        close(fd);
        bs_buffer_put(b);
}

/* ---- 4. frame handover ---- */

enum method { M_BUFSHARE, M_STREAM, M_PIPE, M_SHM, M_COUNT };
static const char *const method_names[] = { "bufshare", "unix-stream copy", "pipe copy", "shm_open+mmap" };

static int write_full(int fd, const uint8_t *p, size_t n)
{
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -errno;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
        while (n) {
                ssize_t r = read(fd, p, n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return r == 0 ? -EPIPE : -errno;
                p += r;
                n -= (size_t)r;
        }
        return 0;
}

static uint64_t sum_bytes(const volatile uint8_t *p, size_t n)
{
        const volatile uint64_t *q = (const volatile uint64_t *)p;
        uint64_t s = 0;

        for (size_t i = 0; i < n / 8; i++)
                s += q[i];
        return s;
}

struct handover {
        enum method m;
        size_t size;
        int frames;
        int ctl;      /* SEQPACKET: fds, names, "go" and acks */
        int data;     /* stream socket or pipe end */
        uint8_t *buf; /* a mapping, or a local buffer */
};

/* The consumer: gets each frame, reads every byte, acks with the time it
 * could start reading. */
static int consumer_main(struct handover *h, const char *socket_path)
{
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        uint8_t *local = NULL;
        unsigned n_fds;
        int fd = -1;

        pin_pid(0, sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0);
        if (h->m == M_BUFSHARE) {
                char byte;
                int damage;
                struct bs_buffer_info info;
                fd_set set;
                FD_ZERO(&set);
                FD_SET(h->ctl, &set);
                select(h->ctl + 1, &set, NULL, NULL, NULL);
                if (bs_fdpass_recv(h->ctl, &byte, 1, &fd, 1, &n_fds, &damage) != 1 || damage < 0 || n_fds != 1 ||
                    bs_client_connect(socket_path, &c) < 0 || bs_buffer_import(c, fd, &b) < 0 ||
                    bs_buffer_vmap(b, (void **)&h->buf) < 0 || bs_buffer_get_info(b, &info) < 0)
                        return 1;
                close(fd);
                sum_bytes(h->buf, h->size); /* map once, fault once */
        } else if (h->m != M_SHM) {
                local = malloc(h->size);
                memset(local, 0, h->size);
        }
        for (int f = 0; f < h->frames; f++) {
                char name[64];
                uint64_t t1, s;
                ssize_t n;

                do
                        n = recv(h->ctl, name, sizeof(name), 0);
                while (n < 0 && errno == EINTR);
                if (n <= 0)
                        return 1;
                if (h->m == M_BUFSHARE) {
                        t1 = now_ns();
                        s = sum_bytes(h->buf, h->size);
                } else if (h->m == M_SHM) {
                        int sfd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
                        uint8_t *p = sfd < 0 ? MAP_FAILED : mmap(NULL, h->size, PROT_READ, MAP_SHARED, sfd, 0);
                        if (p == MAP_FAILED)
                                return 1;
                        t1 = now_ns();
                        s = sum_bytes(p, h->size);
                        munmap(p, h->size);
                        close(sfd);
                        shm_unlink(name);
                } else {
                        if (read_full(h->data, local, h->size) < 0)
                                return 1;
                        t1 = now_ns();
                        s = sum_bytes(local, h->size);
                }
                uint64_t ack[2] = { t1, s };
                if (send(h->ctl, ack, sizeof(ack), MSG_NOSIGNAL) != sizeof(ack))
                        return 1;
        }
        if (b)
                bs_buffer_vunmap(b, h->buf);
        bs_buffer_put(b);
        bs_client_unref(c);
        free(local);
        return 0;
}

/* One method at one size: latency samples and throughput in GB/s. */
static int run_handover(struct bs_client *c, enum method m, size_t size, int frames, struct samples *lat,
                        double *gbps)
{
        struct handover h = { .m = m, .size = size, .frames = frames, .data = -1 };
        struct bs_buffer *b = NULL;
        int sv[2], dv[2] = { -1, -1 }, status, r = 0;
        uint64_t total = 0;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        if (m == M_STREAM && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dv) < 0)
                return -errno;
        if (m == M_PIPE) {
                if (pipe2(dv, O_CLOEXEC) < 0)
                        return -errno;
                fcntl(dv[1], F_SETPIPE_SZ, 1 << 20);
                int t = dv[0]; /* dv[1] is the producer's, as with the socketpair */
                dv[0] = dv[1];
                dv[1] = t;
        }
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
                close(sv[0]);
                if (dv[0] >= 0)
                        close(dv[0]);
                h.ctl = sv[1];
                h.data = dv[1];
                _exit(consumer_main(&h, B.daemon.socket));
        }
        close(sv[1]);
        if (dv[1] >= 0)
                close(dv[1]);
        h.ctl = sv[0];
        h.data = dv[0];
        pin_pid(0, 0);

        if (m == M_BUFSHARE) {
                /* export once, map once, pass the fd once */
                r = bs_buffer_export(c, size, NULL, "frame", &b);
                if (r == 0)
                        r = bs_buffer_vmap(b, (void **)&h.buf);
                if (r == 0) {
                        int fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
                        memset(h.buf, 0, size);
                        r = bs_fdpass_send(h.ctl, "F", 1, &fd, 1);
                        close(fd);
                }
        } else if (m != M_SHM) {
                h.buf = malloc(size);
                memset(h.buf, 0, size);
        }
        for (int f = 0; r == 0 && f < frames; f++) {
                char name[64] = "frame";
                uint64_t start = now_ns(), t0, ack[2];

                if (m == M_SHM) {
                        snprintf(name, sizeof(name), "/bufshare-bench-%d-%d", (int)getpid(), f);
                        int sfd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
                        uint8_t *p = MAP_FAILED;
                        if (sfd >= 0 && ftruncate(sfd, (off_t)size) == 0)
                                p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
                        if (p == MAP_FAILED) {
                                r = -errno;
                                break;
                        }
                        memset(p, f + 1, size);
                        munmap(p, size);
                        close(sfd);
                        t0 = now_ns();
                        send(h.ctl, name, strlen(name) + 1, MSG_NOSIGNAL);
                } else {
                        memset(h.buf, f + 1, size);
                        t0 = now_ns();
                        send(h.ctl, name, strlen(name) + 1, MSG_NOSIGNAL);
                        if (m != M_BUFSHARE && write_full(h.data, h.buf, size) < 0) {
                                r = -EPIPE;
                                break;
                        }
                }
                if (recv(h.ctl, ack, sizeof(ack), 0) != sizeof(ack)) {
                        r = -EPIPE;
                        break;
                }
                uint64_t expect = (uint64_t)(uint8_t)(f + 1) * 0x0101010101010101ull * (size / 8);
                if (ack[1] != expect) /* the consumer read the bytes of this frame */
                        r = -EBADMSG;
                samples_add(lat, (double)(ack[0] - t0) / 1000.0);
                total += now_ns() - start;
        }
        close(h.ctl);
        if (h.data >= 0)
                close(h.data);
        waitpid(pid, &status, 0);
        if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                r = -ECHILD;
        if (m == M_BUFSHARE) {
                if (h.buf)
                        bs_buffer_vunmap(b, h.buf);
                bs_buffer_put(b);
        } else {
                free(m == M_SHM ? NULL : h.buf);
        }
        pin_pid(0, -1);
        *gbps = total ? (double)size * frames / (double)total : 0; /* bytes per ns = GB/s */
        return r;
}

static void bench_handover(struct bs_client *c, FILE *plot)
{
        static const size_t sizes[] = { 4 * KiB, 1 * MiB, 64 * MiB };
        int frames[] = { 2000, 200, 12 };

        header("4. frame handover (producer cpu 0 writes, consumer cpu 1 reads every byte): "
               "latency from producer done to consumer may read; ratio = method / bufshare");
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                struct samples s[M_COUNT];
                double gbps[M_COUNT];
                char variant[48];
                int n = B.quick ? 3 : frames[i];

                for (enum method m = 0; m < M_COUNT; m++) {
                        samples_init(&s[m], n);
                        CHECK(run_handover(c, m, sizes[i], n, &s[m], &gbps[m]));
                }
                for (enum method m = 0; m < M_COUNT; m++) {
                        snprintf(variant, sizeof(variant), "%zu KiB %s", (size_t)(sizes[i] / KiB), method_names[m]);
                        result("handover", variant, PIN_TWO, &s[m], m == M_BUFSHARE ? NULL : "bufshare",
                               m == M_BUFSHARE ? NULL : &s[M_BUFSHARE], "GBps", gbps[m]);
                }
                if (plot)
                        fprintf(plot, "%g %g %g %g %g\n", (double)sizes[i] / (double)MiB, samples_pct(&s[0], 50),
                                samples_pct(&s[1], 50), samples_pct(&s[2], 50), samples_pct(&s[3], 50));
                for (enum method m = 0; m < M_COUNT; m++)
                        samples_free(&s[m]);
        }
}

/* ---- 5. mapped bandwidth ---- */

static void bench_bandwidth(struct bs_client *c)
{
        size_t size = 64 * MiB;
        int reps = B.quick ? 2 : 20;
        struct samples w, r, f;
        struct bs_buffer *b = NULL;
        uint8_t *map, *src, *dst;

        header("5. mapped bandwidth, 64 MiB: memcpy into / out of a bufshare mapping, against memcpy "
               "between two private buffers");
        CHECK(bs_buffer_export(c, size, NULL, "bandwidth", &b));
        CHECK(bs_buffer_vmap(b, (void **)&map));
        src = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        /* the same page size on both sides: shmem has no transparent huge pages */
        madvise(src, size, MADV_NOHUGEPAGE);
        madvise(dst, size, MADV_NOHUGEPAGE);
        memset(src, 1, size);
        memset(dst, 2, size);
        memset(map, 3, size); /* every page faulted before timing */
        samples_init(&w, reps);
        samples_init(&r, reps);
        samples_init(&f, reps);
        pin_pid(0, 0);
        for (int i = 0; i < reps; i++) {
                uint64_t t0 = now_ns();
                memcpy(map, src, size);
                uint64_t t1 = now_ns();
                memcpy(dst, map, size);
                uint64_t t2 = now_ns();
                memcpy(dst, src, size);
                uint64_t t3 = now_ns();
                samples_add(&w, (double)(t1 - t0) / 1000.0);
                samples_add(&r, (double)(t2 - t1) / 1000.0);
                samples_add(&f, (double)(t3 - t2) / 1000.0);
        }
        pin_pid(0, -1);
        result("bandwidth", "write 64 MiB", PIN_SAME, &w, "memcpy", &f, "GBps", (double)size / (samples_pct(&w, 50) * 1000));
        result("bandwidth", "read 64 MiB", PIN_SAME, &r, "memcpy", &f, "GBps", (double)size / (samples_pct(&r, 50) * 1000));
        printf("%-22s memcpy floor: %.2f GB/s (ratio above is time: bandwidth ratio = 1 / ratio)\n", "",
               (double)size / (samples_pct(&f, 50) * 1000));
        samples_free(&w);
        samples_free(&r);
        samples_free(&f);
        munmap(src, size);
        munmap(dst, size);
        bs_buffer_vunmap(b, map);
        bs_buffer_put(b);
}

/* ---- 6. scale ---- */

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

static void bench_live_buffers(struct bs_client *c, FILE *plot)
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
                        fprintf(plot, "%d %g %g\n", levels[l], samples_pct(&s, 50), samples_pct(&s, 99));
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
                if (B.json)
                        fprintf(B.json,
                                ",\n  {\"scenario\": \"daemon-metadata\", \"buffers\": %d, \"rss_bytes\": %ld, "
                                "\"rss_growth_bytes\": %ld, \"fds\": %d, \"fd_growth\": %d, "
                                "\"bytes_per_buffer\": %.1f}",
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
struct shared_run {
        double *lat; /* MAP_SHARED, one slot per cycle */
        int *errors; /* MAP_SHARED, one per worker */
        long *ops;   /* MAP_SHARED, one per worker */
};

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

static void *shared_alloc(size_t bytes)
{
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
}

static void bench_concurrent_clients(void)
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
                if (B.json)
                        fprintf(B.json, ",\n  {\"scenario\": \"concurrent-clients-errors\", \"clients\": %d, "
                                "\"errors\": %d}", workers * per, errors);
                samples_free(&s);
                munmap(sr.lat, slots * sizeof(double));
                munmap(sr.errors, 64 * sizeof(int));
                munmap(sr.ops, 64 * sizeof(long));
        }
}

/* ---- 7. throughput ---- */

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

static void bench_throughput(void)
{
        static const int procs[] = { 1, 2, 4 };
        double seconds = B.quick ? 0.05 : 1.0;

        printf("\n== 7. throughput: operations per second from client processes (unpinned)\n");
        for (int import = 0; import <= 1; import++)
                for (size_t pi = 0; pi < 3; pi++) {
                        struct shared_run sr = { NULL, shared_alloc(64 * sizeof(int)), shared_alloc(64 * sizeof(long)) };
                        long ops = 0;
                        int errors = 0;
                        pid_t pids[4];
                        uint64_t t0 = now_ns();

                        for (int w = 0; w < procs[pi]; w++) {
                                fflush(stdout);
                                pids[w] = fork();
                                if (pids[w] == 0)
                                        _exit(throughput_worker(w, import, seconds, &sr));
                        }
                        for (int w = 0; w < procs[pi]; w++) {
                                int status;
                                waitpid(pids[w], &status, 0);
                                errors += !WIFEXITED(status) || WEXITSTATUS(status);
                                ops += sr.ops[w];
                                errors += sr.errors[w];
                        }
                        double rate = (double)ops / ((double)(now_ns() - t0) / 1e9);
                        printf("%-22s %-16s %d process(es): %.0f ops/s%s\n", "throughput",
                               import ? "import+put" : "export+put", procs[pi], rate, errors ? " (ERRORS)" : "");
                        if (B.json)
                                fprintf(B.json, ",\n  {\"scenario\": \"throughput\", \"variant\": \"%s\", "
                                        "\"processes\": %d, \"ops_per_s\": %.1f, \"errors\": %d}",
                                        import ? "import+put" : "export+put", procs[pi], rate, errors);
                        B.failures += errors;
                        munmap(sr.errors, 64 * sizeof(int));
                        munmap(sr.ops, 64 * sizeof(long));
                }
}

/* ---- 9, 10: fences and pools (bench-fence.c) ---- */

static void result_any_pin(const char *scenario, const char *variant, int p, struct samples *s,
                           const char *floor_name, struct samples *f, const char *extra_key, double extra)
{
        result(scenario, variant, (enum pin)p, s, floor_name, f, extra_key, extra);
}

static void bench_fences(struct bs_client *c)
{
        const struct fence_bench_env env = {
                .quick = B.quick, .socket = B.daemon.socket, .daemon = B.daemon.pid, .pin_pid = pin_pid,
                .header = header, .result = result_any_pin, .failures = &B.failures,
        };

        bench_fence_wake(c, &env);
        bench_fence_pool(c, &env);
}

/* ---- main ---- */

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
                        fprintf(scale_dat, "# live_buffers export_p50_us export_p99_us\n");
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
        bench_roundtrips(c);
        bench_handover(c, handover_dat);
        bench_bandwidth(c);
        bench_live_buffers(c, scale_dat);
        bench_concurrent_clients();
        bench_throughput();
        bench_fences(c);

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
