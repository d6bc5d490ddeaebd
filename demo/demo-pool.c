/* SPDX-License-Identifier: MIT */
/*
 * bufshare-demo --pool: a 1920x1080 RGBA producer and two consumer
 * processes through a pool of three buffers, mapped once by everyone.
 *
 * The producer acquires a buffer no consumer still reads, paints a frame
 * into it, submits it (each consumer gets a read fence of its own) and
 * tells the consumers on its own socketpair which buffer holds which
 * frame. Each consumer checks every pixel inside CPU access, and releases
 * its read. Consumer 1 is deliberately slow: it checks each frame twice,
 * a few milliseconds apart, and would see it change if the producer ever
 * painted over a frame it still reads. The producer waits for it instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "demo.h"
#include "fdpass.h"

#define POOL_N 3
#define WIDTH 1920
#define HEIGHT 1080
#define FRAME_BYTES ((uint64_t)WIDTH * HEIGHT * 4)
#define SLOW_US 4000 /* consumer 1's extra time per frame */

struct note {
        uint32_t index, seq; /* seq UINT32_MAX: no more frames */
};

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The pixel at (@x, @y) of frame @seq: a moving gradient, alpha opaque. */
static uint32_t pixel(uint32_t seq, uint32_t x, uint32_t y)
{
        return 0xff000000u | ((x + seq) & 0xff) << 16 | ((y + 2 * seq) & 0xff) << 8 | (seq & 0xff);
}

static void paint(uint32_t *p, uint32_t seq)
{
        for (uint32_t y = 0; y < HEIGHT; y++, p += WIDTH)
                for (uint32_t x = 0; x < WIDTH; x++)
                        p[x] = pixel(seq, x, y);
}

/* Pixels of @p that are not frame @seq's. */
static uint64_t wrong_pixels(const volatile uint32_t *p, uint32_t seq)
{
        uint64_t bad = 0;

        for (uint32_t y = 0; y < HEIGHT; y++, p += WIDTH)
                for (uint32_t x = 0; x < WIDTH; x++)
                        bad += p[x] != pixel(seq, x, y);
        return bad;
}

static int consumer(const char *socket_path, unsigned k, int sock)
{
        char who[16];
        struct bs_client *c = NULL;
        struct bs_buffer *bufs[POOL_N] = {};
        const uint32_t *maps[POOL_N] = {};
        unsigned n_fds = 0, frames = 0, bad_frames = 0;
        int fds[POOL_N], damage = 0, r;
        struct pollfd p = { .fd = sock, .events = POLLIN };
        uint64_t busy_us = 0;
        char byte;

        snprintf(who, sizeof(who), "consumer %u", k);
        poll(&p, 1, 10000);
        if (bs_fdpass_recv(sock, &byte, 1, fds, POOL_N, &n_fds, &damage) != 1 || damage < 0 || n_fds != POOL_N) {
                step(who, "receiving the pool's fds failed");
                return 1;
        }
        r = bs_client_connect(socket_path, &c);
        for (unsigned i = 0; i < POOL_N && r == 0; i++) {
                r = bs_buffer_import(c, fds[i], &bufs[i]);
                if (r == 0)
                        r = bs_buffer_mmap(bufs[i], 0, FRAME_BYTES, BS_PROT_READ, (void **)&maps[i]);
        }
        for (unsigned i = 0; i < POOL_N; i++)
                close(fds[i]);
        if (r < 0) {
                step(who, "importing the pool failed: %s", strerror(-r));
                return 1;
        }
        step(who, "imported and mapped the %d pool buffers once%s", POOL_N,
             k == 1 ? "; this one is slow on purpose" : "");
        if (write(sock, "R", 1) != 1)
                return 1;

        for (;;) {
                struct note n;
                uint64_t bad;

                p.revents = 0;
                if (poll(&p, 1, 30000) != 1 || read(sock, &n, sizeof(n)) != (ssize_t)sizeof(n)) {
                        step(who, "no word from the producer");
                        return 1;
                }
                if (n.seq == UINT32_MAX)
                        break;
                /* no write fence is pending on a submitted frame: at once */
                r = bs_buffer_begin_cpu_access(bufs[n.index], BS_SYNC_READ);
                if (r < 0) {
                        step(who, "begin_cpu_access failed: %s", strerror(-r));
                        return 1;
                }
                bad = wrong_pixels(maps[n.index], n.seq);
                if (k == 1) {
                        uint64_t t0 = now_us();

                        while (now_us() - t0 < SLOW_US)
                                ; /* work, deliberately slow */
                        busy_us += now_us() - t0;
                        bad += wrong_pixels(maps[n.index], n.seq); /* still the same frame? */
                }
                bs_buffer_end_cpu_access(bufs[n.index], BS_SYNC_READ);
                bs_buffer_release_read(bufs[n.index], 0);
                frames++;
                if (bad) {
                        bad_frames++;
                        step(who, "frame %u in buffer %u: %llu wrong pixels", n.seq, n.index,
                             (unsigned long long)bad);
                }
        }
        step(who, "checked every pixel of %u frames: %u intact, %u damaged%s", frames, frames - bad_frames,
             bad_frames, k == 1 ? " (each one twice, 4 ms apart)" : "");
        for (unsigned i = 0; i < POOL_N; i++) {
                bs_buffer_munmap(bufs[i], (void *)maps[i], FRAME_BYTES);
                bs_buffer_put(bufs[i]);
        }
        bs_client_unref(c);
        (void)busy_us;
        return bad_frames ? 1 : 0;
}

int demo_pool(const char *socket_path, unsigned n_frames)
{
        struct bs_client *c = NULL;
        struct bs_pool *pool = NULL;
        int socks[2] = { -1, -1 }, failures = 0, r;
        pid_t pids[2] = { -1, -1 };
        uint64_t t0, waited_us = 0, max_wait_us = 0;
        unsigned waits = 0;

        r = bs_client_connect(socket_path, &c);
        if (r < 0) {
                fprintf(stderr, "bufshare-demo: connecting to bufshared failed: %s\n", strerror(-r));
                return 1;
        }
        r = bs_pool_create(c, POOL_N, FRAME_BYTES, NULL, "demo-frame", &pool);
        if (r < 0) {
                fprintf(stderr, "bufshare-demo: creating the pool failed: %s\n", strerror(-r));
                bs_client_unref(c);
                return 1;
        }
        step("producer", "pool of %d buffers of %dx%d RGBA (%llu bytes), exported and mapped once", POOL_N, WIDTH,
             HEIGHT, (unsigned long long)FRAME_BYTES);

        for (unsigned k = 0; k < 2; k++) {
                int fds[POOL_N];

                pids[k] = demo_fork(consumer, socket_path, k, &socks[k]);
                if (pids[k] < 0)
                        return 1;
                for (unsigned i = 0; i < POOL_N; i++) {
                        struct bs_buffer *b;

                        bs_pool_get_buffer(pool, i, &b, NULL);
                        fds[i] = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
                }
                r = bs_fdpass_send(socks[k], "P", 1, fds, POOL_N);
                for (unsigned i = 0; i < POOL_N; i++)
                        close(fds[i]);
                if (r < 0) {
                        fprintf(stderr, "bufshare-demo: sending the pool failed: %s\n", strerror(-r));
                        return 1;
                }
        }
        for (unsigned k = 0; k < 2; k++) {
                struct pollfd p = { .fd = socks[k], .events = POLLIN };
                char byte;

                if (poll(&p, 1, 10000) != 1 || read(socks[k], &byte, 1) != 1) {
                        step("producer", "consumer %u did not get ready", k);
                        failures++;
                }
        }

        t0 = now_us();
        for (uint32_t seq = 0; seq < n_frames && !failures; seq++) {
                struct note n = { .seq = seq };
                uint64_t a0 = now_us(), dt;
                uint32_t *px;

                r = bs_pool_acquire(pool, 10000, &n.index);
                if (r < 0) {
                        step("producer", "acquire of frame %u failed: %s", seq, strerror(-r));
                        failures++;
                        break;
                }
                dt = now_us() - a0;
                if (dt > 1000) { /* it waited for a consumer */
                        waits++;
                        waited_us += dt;
                }
                if (dt > max_wait_us)
                        max_wait_us = dt;
                bs_pool_get_buffer(pool, n.index, NULL, (void **)&px);
                paint(px, seq);
                r = bs_pool_submit(pool, n.index);
                if (r != 2) {
                        step("producer", "submit of frame %u: %s", seq, r < 0 ? strerror(-r) : "not 2 readers");
                        failures++;
                        break;
                }
                for (unsigned k = 0; k < 2; k++)
                        if (write(socks[k], &n, sizeof(n)) != (ssize_t)sizeof(n))
                                failures++;
        }
        {
                double s = (double)(now_us() - t0) / 1e6;

                step("producer", "painted and submitted %u frames in %.2f s (%.0f fps); acquire waited for a "
                     "consumer %u times, %.1f ms in all, %.1f ms at most", n_frames, s, n_frames / s, waits,
                     waited_us / 1000.0, max_wait_us / 1000.0);
        }
        for (unsigned k = 0; k < 2; k++) {
                struct note end = { .seq = UINT32_MAX };
                int status = 0;

                if (write(socks[k], &end, sizeof(end)) != (ssize_t)sizeof(end))
                        failures++;
                waitpid(pids[k], &status, 0);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        step("producer", "consumer %u failed (status %d)", k, status);
                        failures++;
                }
                close(socks[k]);
        }
        bs_pool_destroy(pool);
        bs_client_unref(c);
        printf("pool summary: %u frames of %dx%d through a pool of %d, 2 consumers (one slow), %s\n", n_frames,
               WIDTH, HEIGHT, POOL_N,
               failures ? "FAILED" : "every frame intact: no buffer was painted while a consumer read it");
        return failures ? 1 : 0;
}
