/* SPDX-License-Identifier: MIT */
/*
 * 9. and 10.: fences and pools beside their floors, in the same run,
 * bufshare and its floor alternating in rounds:
 *
 *   fence-wake        one fence signalled by this process, one sync file
 *                     polled by a waiter process: signal -> wake, against
 *                     an eventfd write -> poll wake between the same two
 *   fence-wake-1000   the same with 1,000 sync files on one fence in the
 *                     waiter (epoll): signal -> the last wake, against
 *                     1,000 eventfd writes
 *   pool-pipeline     8 MiB frames through a pool of 3 to a consumer
 *                     process that reads every byte: frames per second and
 *                     per-frame latency (acquire to the end of the read),
 *                     against 3 plain memfds mapped once and a "done"
 *                     message back on a socket
 *
 * Placement: "same" puts this process, its peer and the daemon on cpu 0;
 * "two" this process and the daemon on cpu 0, the peer on cpu 1, so that
 * each side has one wake-up across cpus; "free" pins nothing. The daemon
 * is one more hop than an eventfd: the ratio shows what that hop costs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bufshare/bufshare.h"
#include "fdpass.h"

#define MANY 1000
#define WAIT_MS 30000
#define FRAME (8u << 20)
#define POOL_N 3

#define FAIL(...)                                                              \
        do {                                                                   \
                fprintf(stderr, "bufshare-bench: " __VA_ARGS__);               \
                fprintf(stderr, "\n");                                         \
                B.failures++;                                                  \
        } while (0)

/* This process and the daemon on cpu 0, @peer on cpu 0 ("same") or 1
 * ("two"): one wake-up across cpus on either side; or nothing pinned,
 * everyone starting from cpu 0, as pin_pair() does. */
static void place(enum pin p, pid_t peer)
{
        int two = sysconf(_SC_NPROCESSORS_ONLN) > 1;

        if (p == PIN_FREE) {
                pin_pid(0, 0);
                pin_pid(peer, 0);
                pin_pid(B.daemon.pid, 0);
                pin_pid(peer, -1);
                pin_pid(B.daemon.pid, -1);
                pin_pid(0, -1);
                return;
        }
        pin_pid(0, 0);
        pin_pid(B.daemon.pid, 0);
        pin_pid(peer, p == PIN_TWO && two ? 1 : 0);
}

static void unplace(pid_t peer)
{
        place(PIN_FREE, peer);
}

/* Where the scheduler left the daemon and @peer after an unpinned round:
 * on this process's cpu or not. */
static void count_placement(pid_t peer, int *daemon_with_us, int *peer_with_us)
{
        *daemon_with_us += colocated(B.daemon.pid);
        *peer_with_us += colocated(peer);
}

static int send_all(int sock, const void *p, size_t n)
{
        return send(sock, p, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -EIO;
}

/* One message of exactly @n bytes within WAIT_MS. */
static int recv_all(int sock, void *p, size_t n)
{
        struct pollfd pfd = { .fd = sock, .events = POLLIN };

        if (poll(&pfd, 1, WAIT_MS) != 1)
                return -ETIMEDOUT;
        return recv(sock, p, n, 0) == (ssize_t)n ? 0 : -EIO;
}

/* ---- the waiter process: 1 and 1,000 wakes ---- */

/* What the waiter tells of a wake: when, and on which cpu. */
struct woken {
        uint64_t ns;
        int32_t cpu;
        int32_t pad;
};

struct waiter_ctx {
        int sock;
        int efd;          /* the floor's single eventfd */
        int *efds;        /* the floor's MANY eventfds */
        struct bs_buffer *b;
};

/* Wait until @n distinct fds of @fds (all in @ep) have had an event. */
static int wait_all(int ep, int n)
{
        static unsigned char seen[MANY];
        struct epoll_event ev[64];
        int count = 0;

        memset(seen, 0, sizeof(seen));
        while (count < n) {
                int k = epoll_wait(ep, ev, 64, WAIT_MS);

                if (k <= 0)
                        return -ETIMEDOUT;
                for (int i = 0; i < k; i++)
                        if (!seen[ev[i].data.u32]) {
                                seen[ev[i].data.u32] = 1;
                                count++;
                        }
        }
        return 0;
}

static int waiter_one(struct waiter_ctx *w, char cmd)
{
        struct pollfd p = { .events = POLLIN };
        struct woken t1 = { 0 };
        uint64_t v;
        int fd = -1;

        if (cmd == 'E') {
                fd = bs_buffer_export_sync_file(w->b, BS_SYNC_READ);
                if (fd < 0)
                        return fd;
        }
        p.fd = cmd == 'E' ? fd : w->efd;
        if (send_all(w->sock, "A", 1) < 0 || poll(&p, 1, WAIT_MS) != 1)
                return -ETIMEDOUT;
        t1.ns = now_ns();
        t1.cpu = sched_getcpu();
        if (cmd == 'E')
                close(fd);
        else if (read(w->efd, &v, sizeof(v)) != sizeof(v))
                return -EIO;
        return send_all(w->sock, &t1, sizeof(t1));
}

static int waiter_many(struct waiter_ctx *w, char cmd, int floor_ep)
{
        static int fds[MANY];
        int ep = floor_ep, r;
        struct woken t1 = { 0 };
        uint64_t v;

        if (cmd == 'M') {
                ep = epoll_create1(EPOLL_CLOEXEC);
                for (int i = 0; i < MANY; i++) {
                        struct epoll_event e = { .events = EPOLLIN | EPOLLET, .data.u32 = (uint32_t)i };

                        fds[i] = bs_buffer_export_sync_file(w->b, BS_SYNC_READ);
                        if (fds[i] < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) < 0)
                                return -EIO;
                }
        }
        if (send_all(w->sock, "A", 1) < 0)
                return -EIO;
        r = wait_all(ep, MANY);
        t1.ns = now_ns();
        t1.cpu = sched_getcpu();
        if (cmd == 'M') {
                for (int i = 0; i < MANY; i++)
                        close(fds[i]);
                close(ep);
        } else {
                for (int i = 0; i < MANY; i++)
                        if (read(w->efds[i], &v, sizeof(v)) != sizeof(v))
                                return -EIO;
        }
        return r < 0 ? r : send_all(w->sock, &t1, sizeof(t1));
}

static int waiter_main(int sock, int efd, int *efds)
{
        struct waiter_ctx w = { .sock = sock, .efd = efd, .efds = efds };
        struct bs_client *c = NULL;
        unsigned n_fds = 0;
        int fd = -1, damage = 0, ep;
        char cmd;

        ep = epoll_create1(EPOLL_CLOEXEC);
        for (int i = 0; i < MANY; i++) {
                struct epoll_event e = { .events = EPOLLIN | EPOLLET, .data.u32 = (uint32_t)i };
                if (epoll_ctl(ep, EPOLL_CTL_ADD, efds[i], &e) < 0)
                        return 1;
        }
        {
                struct pollfd p = { .fd = sock, .events = POLLIN };
                if (poll(&p, 1, WAIT_MS) != 1 || bs_fdpass_recv(sock, &cmd, 1, &fd, 1, &n_fds, &damage) != 1 ||
                    damage < 0 || n_fds != 1)
                        return 1;
        }
        if (bs_client_connect(B.daemon.socket, &c) < 0 || bs_buffer_import(c, fd, &w.b) < 0)
                return 1;
        close(fd);
        for (;;) {
                int r;

                if (recv_all(sock, &cmd, 1) < 0)
                        return 1;
                if (cmd == 'Q')
                        break;
                r = (cmd == 'E' || cmd == 'F') ? waiter_one(&w, cmd) : waiter_many(&w, cmd, ep);
                if (r < 0)
                        return 1;
        }
        bs_buffer_put(w.b);
        bs_client_unref(c);
        return 0;
}

/* ---- this side: signal and time ---- */

struct wake_run {
        struct bs_client *c;
        struct bs_buffer *b;
        int sock;
        int efd;
        int *efds;
};

/* One signal -> wake (or MANY), bufshare (@floor 0) or eventfds: us, and
 * whether the waiter woke on another cpu than the signaller's. */
static int wake_once(struct wake_run *w, int many, int floor, double *ret_us, int *ret_crossed)
{
        struct bs_fence *f = NULL;
        struct woken t1;
        uint64_t t0, one = 1;
        int cpu = -1;
        char cmd = many ? (floor ? 'N' : 'M') : (floor ? 'F' : 'E'), ack;
        int r = 0;

        if (!floor) {
                r = bs_fence_create(w->c, &f);
                if (r == 0)
                        r = bs_fence_attach(f, w->b, BS_SYNC_WRITE);
        }
        if (r == 0)
                r = send_all(w->sock, &cmd, 1);
        if (r == 0)
                r = recv_all(w->sock, &ack, 1);
        if (r == 0) {
                t0 = now_ns();
                cpu = sched_getcpu();
                if (!floor)
                        r = bs_fence_signal(f, 0);
                else if (!many)
                        r = write(w->efd, &one, sizeof(one)) == sizeof(one) ? 0 : -EIO;
                else
                        for (int i = 0; i < MANY && r == 0; i++)
                                r = write(w->efds[i], &one, sizeof(one)) == sizeof(one) ? 0 : -EIO;
        }
        if (r == 0)
                r = recv_all(w->sock, &t1, sizeof(t1));
        if (r == 0) {
                *ret_us = (double)(t1.ns - t0) / 1000.0;
                *ret_crossed = t1.cpu != cpu;
        }
        bs_fence_destroy(f);
        return r;
}

static void wake_scenario(struct wake_run *w, pid_t peer, int many)
{
        int n = B.quick ? (many ? 1 : 4) : many ? 40 : 4000, rounds = B.quick ? 1 : ROUNDS;
        const char *scenario = many ? "fence-wake-1000" : "fence-wake";
        const char *variant = many ? "last of 1000" : "1 waiter";
        enum pin p;

        FOR_EACH_PIN(p) {
                int daemon_with_us = 0, peer_with_us = 0, crossed = 0, floor_crossed = 0;
                struct samples s, f, s_near, f_near;
                int r = 0;

                samples_init(&s, (size_t)n);
                samples_init(&f, (size_t)n);
                samples_init(&s_near, (size_t)n);
                samples_init(&f_near, (size_t)n);
                place(p, peer);
                for (int k = 0; k < n / 10 + 1 && r == 0; k++) { /* warm-up */
                        double us;
                        int x;
                        r = wake_once(w, many, 0, &us, &x);
                        if (r == 0)
                                r = wake_once(w, many, 1, &us, &x);
                }
                for (int round = 0; round < rounds && r == 0; round++) {
                        place(p, peer);
                        for (int k = 0; k < n / rounds && r == 0; k++) {
                                double us;
                                int x = 0;
                                r = wake_once(w, many, 0, &us, &x);
                                samples_add(&s, us);
                                crossed += x;
                                if (!x)
                                        samples_add(&s_near, us);
                        }
                        for (int k = 0; k < n / rounds && r == 0; k++) {
                                double us;
                                int x = 0;
                                r = wake_once(w, many, 1, &us, &x);
                                samples_add(&f, us);
                                floor_crossed += x;
                                if (!x)
                                        samples_add(&f_near, us);
                        }
                        count_placement(peer, &daemon_with_us, &peer_with_us);
                }
                if (r < 0) {
                        FAIL("%s: %s", scenario, strerror(-r));
                } else {
                        result(scenario, variant, p, &s, many ? "1000 eventfd writes" : "eventfd wake", &f, NULL, 0);
                        report_placement(p, scenario, variant, "rounds", rounds, "daemon", daemon_with_us, "waiter",
                                         peer_with_us, NULL);
                        /* where each wake landed, seen by both sides at the time */
                        if (p == PIN_FREE && s_near.n && f_near.n)
                                printf("%-22s %-24s woke on another cpu than the signal's: bufshare %d of %zu, "
                                       "floor %d of %zu; on the same cpu, p50 %.1f against %.1f: %.2f\n",
                                       "", "", crossed, s.n, floor_crossed, f.n, samples_pct(&s_near, 50),
                                       samples_pct(&f_near, 50), samples_pct(&s_near, 50) / samples_pct(&f_near, 50));
                        else if (p == PIN_FREE)
                                printf("%-22s %-24s woke on another cpu than the signal's: bufshare %d of %zu, "
                                       "floor %d of %zu\n",
                                       "", "", crossed, s.n, floor_crossed, f.n);
                }
                samples_free(&s);
                samples_free(&f);
                samples_free(&s_near);
                samples_free(&f_near);
                if (r < 0)
                        break;
        }
        unplace(peer);
}

void bench_fence_wake(struct bs_client *c)
{
        struct wake_run w = { .c = c, .sock = -1, .efd = -1 };
        struct bs_limits lim;
        int sv[2], efds[MANY], fd, many_ok;
        pid_t pid;

        header("9. fence signal -> waiter wake, one waiter and 1,000, against eventfd writes "
                  "between the same two processes");
        if (bs_buffer_export(c, 4096, NULL, "bench-fence", &w.b) < 0 ||
            socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                FAIL("fence-wake: setting up failed");
                bs_buffer_put(w.b);
                return;
        }
        w.efd = eventfd(0, EFD_CLOEXEC);
        for (int i = 0; i < MANY; i++)
                efds[i] = eventfd(0, EFD_CLOEXEC);
        w.efds = efds;
        many_ok = bs_client_get_limits(c, &lim) == 0 && lim.max_waiters_per_client >= MANY &&
                  lim.max_waiters_per_fence >= MANY;
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
                close(sv[0]);
                _exit(waiter_main(sv[1], w.efd, efds));
        }
        close(sv[1]);
        w.sock = sv[0];
        fd = bs_buffer_fd(w.b, O_RDWR | O_CLOEXEC);
        if (pid < 0 || fd < 0 || bs_fdpass_send(w.sock, "B", 1, &fd, 1) < 0) {
                FAIL("fence-wake: starting the waiter failed");
        } else {
                wake_scenario(&w, pid, 0);
                if (many_ok)
                        wake_scenario(&w, pid, 1);
                else
                        printf("fence-wake-1000: skipped, the daemon allows fewer than %d sync files per "
                               "client or fence (its fd limit)\n", MANY);
        }
        if (fd >= 0)
                close(fd);
        send_all(w.sock, "Q", 1);
        if (pid > 0) {
                int status;
                waitpid(pid, &status, 0);
                if (!WIFEXITED(status) || WEXITSTATUS(status))
                        FAIL("fence-wake: the waiter failed (status %d)", status);
        }
        close(w.sock);
        close(w.efd);
        for (int i = 0; i < MANY; i++)
                close(efds[i]);
        bs_buffer_put(w.b);
}

/* ---- the pool pipeline ---- */

struct note {
        uint32_t index, seq; /* seq: SEQ_SYNC asks for an answer, SEQ_QUIT ends */
};
#define SEQ_SYNC 0xfffffffeu
#define SEQ_QUIT 0xffffffffu

/* Frames timed, in shared memory: the producer writes starts, the
 * consumer ends. */
struct pipe_times {
        uint64_t *start, *end;
        unsigned cap;
};

/* What the consumers read, kept so that the reads can't be left out. */
static volatile uint64_t sink;

static uint64_t read_frame(const volatile uint64_t *p)
{
        uint64_t sum = 0;

        for (size_t i = 0; i < FRAME / 8; i++)
                sum += p[i];
        return sum;
}

/* The consumer: reads every note's frame, records when it finished,
 * then releases it (bufshare: a read fence; floor: a "done" message). */
static int pipe_consumer(int sock, struct bs_buffer **bufs, void **maps, struct pipe_times *t)
{
        struct note n;

        for (;;) {
                if (recv_all(sock, &n, sizeof(n)) < 0)
                        return 1;
                if (n.seq == SEQ_QUIT)
                        return 0;
                if (n.seq == SEQ_SYNC) {
                        if (send_all(sock, &n, sizeof(n)) < 0)
                                return 1;
                        continue;
                }
                sink += read_frame(maps[n.index]);
                t->end[n.seq % t->cap] = now_ns();
                if (bufs)
                        bs_buffer_release_read(bufs[n.index], 0);
                else if (send_all(sock, &n, sizeof(n)) < 0)
                        return 1;
        }
}

/* The bufshare consumer: its own connection, the pool imported and mapped once. */
static int pool_consumer_main(int sock, struct pipe_times *t)
{
        struct bs_client *c = NULL;
        struct bs_buffer *bufs[POOL_N];
        void *maps[POOL_N];
        int fds[POOL_N], damage = 0, r;
        unsigned n_fds = 0;
        struct pollfd p = { .fd = sock, .events = POLLIN };
        char byte;

        if (poll(&p, 1, WAIT_MS) != 1 || bs_fdpass_recv(sock, &byte, 1, fds, POOL_N, &n_fds, &damage) != 1 ||
            damage < 0 || n_fds != POOL_N || bs_client_connect(B.daemon.socket, &c) < 0)
                return 1;
        for (unsigned i = 0; i < POOL_N; i++) {
                if (bs_buffer_import(c, fds[i], &bufs[i]) < 0 ||
                    bs_buffer_mmap(bufs[i], 0, FRAME, BS_PROT_READ, &maps[i]) < 0)
                        return 1;
                close(fds[i]);
        }
        if (send_all(sock, "R", 1) < 0)
                return 1;
        r = pipe_consumer(sock, bufs, maps, t);
        for (unsigned i = 0; i < POOL_N; i++) {
                bs_buffer_munmap(bufs[i], maps[i], FRAME);
                bs_buffer_put(bufs[i]);
        }
        bs_client_unref(c);
        return r;
}

struct pipe_side {
        int sock;
        pid_t pid;
        void *maps[POOL_N];
};

/* Wait until the consumer has read every frame sent so far. */
static int pipe_sync(int sock, int floor)
{
        struct note n = { .seq = SEQ_SYNC };

        if (send_all(sock, &n, sizeof(n)) < 0)
                return -EIO;
        for (;;) { /* the floor's consumer may still send "done"s first */
                if (recv_all(sock, &n, sizeof(n)) < 0)
                        return -ETIMEDOUT;
                if (n.seq == SEQ_SYNC)
                        return 0;
                if (!floor)
                        return -EPROTO;
        }
}

/* @frames frames starting at @seq0, through the pool (@pool) or the
 * floor's memfds (@pool NULL). Fills @lat (us) and returns the fps. */
static double pipe_run(struct bs_pool *pool, struct pipe_side *side, struct pipe_times *t, uint32_t seq0,
                       unsigned frames, struct samples *lat, int *ret)
{
        unsigned free_list[POOL_N] = { 0, 1, 2 }, n_free = POOL_N;
        uint64_t first, last;
        int r = 0;

        for (uint32_t k = 0; k < frames && r == 0; k++) {
                uint32_t seq = seq0 + k;
                struct note n = { .seq = seq };
                void *map;

                t->start[seq % t->cap] = now_ns();
                if (pool) {
                        r = bs_pool_acquire(pool, WAIT_MS, &n.index);
                        if (r == 0)
                                r = bs_pool_get_buffer(pool, n.index, NULL, &map);
                } else {
                        /* take what "done"s arrived; wait for one if none is free */
                        while (r == 0) {
                                struct note d;
                                ssize_t got = recv(side->sock, &d, sizeof(d), n_free ? MSG_DONTWAIT : 0);

                                if (got < 0 && errno == EAGAIN)
                                        break;
                                if (got != sizeof(d))
                                        r = -EIO;
                                else
                                        free_list[n_free++] = d.index;
                        }
                        n.index = free_list[--n_free];
                        map = side->maps[n.index];
                }
                if (r < 0)
                        break;
                memset(map, (int)(seq & 0xff), FRAME);
                if (pool && (r = bs_pool_submit(pool, n.index)) >= 0)
                        r = 0;
                if (r == 0)
                        r = send_all(side->sock, &n, sizeof(n));
        }
        if (r == 0)
                r = pipe_sync(side->sock, pool == NULL);
        *ret = r;
        if (r < 0)
                return 0;
        for (uint32_t k = 0; k < frames; k++) {
                uint32_t i = (seq0 + k) % t->cap;
                samples_add(lat, (double)(t->end[i] - t->start[i]) / 1000.0);
        }
        first = t->start[seq0 % t->cap];
        last = t->end[(seq0 + frames - 1) % t->cap];
        return last > first ? frames / ((double)(last - first) / 1e9) : 0;
}

/* Cpu time (main threads, /proc/PID/schedstat) one side's processes
 * spent in the timed rounds: where a gap in frames per second goes. */
struct pipe_cpu {
        uint64_t producer, consumer, daemon;
        unsigned frames;
};

/* pipe_run(), adding to @cpu (NULL: a warm-up) what it cost. */
static double pipe_run_counted(struct bs_pool *pool, struct pipe_side *side, struct pipe_times *t, uint32_t seq0,
                               unsigned frames, struct samples *lat, int *ret, struct pipe_cpu *cpu)
{
        uint64_t p0 = cpu_ns_of(getpid()), c0 = cpu_ns_of(side->pid), d0 = pool ? cpu_ns_of(B.daemon.pid) : 0;
        double fps = pipe_run(pool, side, t, seq0, frames, lat, ret);

        if (cpu && *ret == 0) {
                cpu->producer += cpu_ns_of(getpid()) - p0;
                cpu->consumer += cpu_ns_of(side->pid) - c0;
                if (pool)
                        cpu->daemon += cpu_ns_of(B.daemon.pid) - d0;
                cpu->frames += frames;
        }
        return fps;
}

static double per_frame_us(uint64_t ns, unsigned frames)
{
        return frames ? (double)ns / 1000.0 / frames : 0;
}

void bench_fence_pool(struct bs_client *c)
{
        unsigned frames = B.quick ? 8 : 50, rounds = B.quick ? 1 : 12;
        struct pipe_side bs = { .sock = -1, .pid = -1 }, fl = { .sock = -1, .pid = -1 };
        struct pipe_times t = { .cap = 4096 };
        struct bs_pool *pool = NULL;
        int sv[2], fds[POOL_N], r = 0;
        uint32_t seq = 0;
        char byte;

        header("10. pool pipeline: 8 MiB frames, pool of 3, a consumer process reading every byte; "
                  "per-frame latency (acquire to the end of the read) and fps, against 3 memfds and a "
                  "socket \"done\"");
        t.start = mmap(NULL, 2 * t.cap * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);
        if (t.start == MAP_FAILED || bs_pool_create(c, POOL_N, FRAME, NULL, "bench-pool", &pool) < 0) {
                FAIL("pool-pipeline: setting up failed");
                if (t.start != MAP_FAILED)
                        munmap(t.start, 2 * t.cap * sizeof(uint64_t));
                return;
        }
        t.end = t.start + t.cap;

        /* the floor: memfds mapped once, before the fork, by both */
        for (unsigned i = 0; i < POOL_N && r == 0; i++) {
                int fd = memfd_create("bench-floor-frame", MFD_CLOEXEC);

                if (fd < 0 || ftruncate(fd, FRAME) < 0)
                        r = -errno;
                fl.maps[i] = r == 0 ? mmap(NULL, FRAME, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
                if (fl.maps[i] == MAP_FAILED)
                        r = -ENOMEM;
                if (fd >= 0)
                        close(fd);
        }
        if (r == 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
                fflush(stdout);
                fl.pid = fork();
                if (fl.pid == 0) {
                        close(sv[0]);
                        _exit(pipe_consumer(sv[1], NULL, fl.maps, &t));
                }
                close(sv[1]);
                fl.sock = sv[0];
        }
        if (r == 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
                fflush(stdout);
                bs.pid = fork();
                if (bs.pid == 0) {
                        close(sv[0]);
                        _exit(pool_consumer_main(sv[1], &t));
                }
                close(sv[1]);
                bs.sock = sv[0];
                for (unsigned i = 0; i < POOL_N; i++) {
                        struct bs_buffer *b;
                        bs_pool_get_buffer(pool, i, &b, NULL);
                        fds[i] = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
                }
                r = bs_fdpass_send(bs.sock, "P", 1, fds, POOL_N);
                for (unsigned i = 0; i < POOL_N; i++)
                        close(fds[i]);
                if (r == 0)
                        r = recv_all(bs.sock, &byte, 1);
        }
        if (r < 0 || fl.pid < 0 || bs.pid < 0)
                FAIL("pool-pipeline: starting the consumers failed");

        enum pin p;

        FOR_EACH_PIN(p) {
                int daemon_with_us = 0, consumer_with_us = 0, floor_with_us = 0;
                struct samples ls, lf;
                double fps_b = 0, fps_f = 0;

                if (r < 0)
                        break;

                struct pipe_cpu cb = { 0 }, cf = { 0 };

                samples_init(&ls, frames * rounds);
                samples_init(&lf, frames * rounds);
                for (unsigned round = 0; round <= rounds && r == 0; round++) { /* round 0: warm-up */
                        struct samples *sb = &ls, *sf = &lf, tmp;
                        double fb, ff;

                        if (round == 0) {
                                samples_init(&tmp, frames);
                                sb = sf = &tmp;
                        }
                        /* in turns, each first every other round: what a
                         * round's start pays (placement, caches) falls on both */
                        fb = ff = 0;
                        for (unsigned k = 0; k < 2 && r == 0; k++) {
                                if ((k + round) % 2 == 0) {
                                        place(p, bs.pid);
                                        fb = pipe_run_counted(pool, &bs, &t, seq, frames, sb, &r, round ? &cb : NULL);
                                        count_placement(bs.pid, &daemon_with_us, &consumer_with_us);
                                } else {
                                        place(p, fl.pid);
                                        ff = pipe_run_counted(NULL, &fl, &t, seq, frames, sf, &r, round ? &cf : NULL);
                                        floor_with_us += colocated(fl.pid);
                                }
                                seq += frames;
                        }
                        if (r == 0 && round) {
                                fps_b += fb / rounds;
                                fps_f += ff / rounds;
                        }
                        if (round == 0)
                                samples_free(&tmp);
                }
                if (r < 0) {
                        FAIL("pool-pipeline: %s", strerror(-r));
                } else {
                        result("pool-pipeline", "8 MiB, pool of 3", p, &ls, "memfds + done msg", &lf, "fps_ratio",
                               fps_f > 0 ? fps_b / fps_f : 0);
                        printf("%-22s fps: bufshare %.0f, floor %.0f, ratio %.3f\n", "", fps_b, fps_f,
                               fps_f > 0 ? fps_b / fps_f : 0);
                        json_record("\"scenario\": \"pool-pipeline-fps\", \"pin\": \"%s\", \"bufshare_fps\": %.1f, "
                                    "\"floor_fps\": %.1f, \"fps_ratio\": %.4f", pin_names[p], fps_b, fps_f,
                                    fps_f > 0 ? fps_b / fps_f : 0);
                        printf("%-22s cpu a frame, us (bufshare / floor): producer %.0f / %.0f, consumer %.0f / %.0f, "
                               "daemon %.0f\n", "", per_frame_us(cb.producer, cb.frames),
                               per_frame_us(cf.producer, cf.frames), per_frame_us(cb.consumer, cb.frames),
                               per_frame_us(cf.consumer, cf.frames), per_frame_us(cb.daemon, cb.frames));
                        json_record("\"scenario\": \"pool-pipeline-cpu-a-frame\", \"pin\": \"%s\", \"producer_us\": %.1f, "
                                    "\"floor_producer_us\": %.1f, \"consumer_us\": %.1f, \"floor_consumer_us\": %.1f, "
                                    "\"daemon_us\": %.1f", pin_names[p], per_frame_us(cb.producer, cb.frames),
                                    per_frame_us(cf.producer, cf.frames), per_frame_us(cb.consumer, cb.frames),
                                    per_frame_us(cf.consumer, cf.frames), per_frame_us(cb.daemon, cb.frames));
                        report_placement(p, "pool-pipeline", "8 MiB, pool of 3", "rounds", (int)rounds + 1, "daemon",
                                         daemon_with_us, "consumer", consumer_with_us, "floor_consumer",
                                         floor_with_us, NULL);
                }
                samples_free(&ls);
                samples_free(&lf);
        }
        unplace(bs.pid);
        unplace(fl.pid);
        for (int k = 0; k < 2; k++) {
                struct pipe_side *s = k ? &fl : &bs;
                struct note q = { .seq = SEQ_QUIT };
                int status;

                if (s->sock >= 0) {
                        send_all(s->sock, &q, sizeof(q));
                        close(s->sock);
                }
                if (s->pid > 0) {
                        waitpid(s->pid, &status, 0);
                        if (!WIFEXITED(status) || WEXITSTATUS(status))
                                FAIL("pool-pipeline: a consumer failed (status %d)", status);
                }
        }
        for (unsigned i = 0; i < POOL_N; i++)
                if (fl.maps[i] && fl.maps[i] != MAP_FAILED)
                        munmap(fl.maps[i], FRAME);
        bs_pool_destroy(pool);
        munmap(t.start, 2 * t.cap * sizeof(uint64_t));
}
