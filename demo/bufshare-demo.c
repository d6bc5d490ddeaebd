/* SPDX-License-Identifier: MIT */
/*
 * bufshare-demo: one producer, two consumer processes.
 *
 * The producer exports buffers of a few sizes, fills them with a pattern
 * and hands their fds to each consumer over a socketpair of its own, plus
 * a read-only view of the first. Each consumer imports and maps them,
 * checks the pattern inside CPU access, writes an answer into a slot of
 * its own, attaches a "display" device to the largest and maps it, shows
 * that the read-only view refuses writes, and releases everything. The
 * producer then reads the answers through the mapping it had all along:
 * no copy, no call between the write and the read (coherence).
 *
 * With --pool, the second mode instead (demo-pool.c): a 1080p producer
 * and two consumers, one deliberately slow, through a pool of three
 * buffers synchronised by fences, every frame checked.
 *
 * Usage: bufshare-demo [--socket PATH] [--pool [--frames N]]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "demo.h"
#include "fdpass.h"

#define N_BUFFERS 3
#define N_CONSUMERS 2
#define ANSWER_LEN 64

static const uint64_t sizes[N_BUFFERS] = { 4096, 1 << 20, 16 << 20 };
static int failures;

static uint8_t pattern(uint64_t i, unsigned buffer)
{
        return (uint8_t)(i * 31 + buffer * 7 + 1);
}

/* Consumer @k's answer slot: near the end, one slot per consumer. */
static uint64_t answer_offset(uint64_t size, unsigned k)
{
        return size - (uint64_t)(k + 1) * ANSWER_LEN;
}

/* Attach a "display" that reads the buffer in segments of 1 MiB at most. */
static int show_attachment(const char *who, struct bs_buffer *b)
{
        const struct bs_sg_table *table;
        struct bs_attachment *att = NULL;
        struct bs_buffer_info info;
        int r;

        r = bs_buffer_attach_segmented(b, "display", 1 << 20, &att);
        if (r == 0)
                r = bs_attachment_map(att, BS_DMA_TO_DEVICE, &table);
        if (r < 0) {
                step(who, "attaching a display failed: %s", strerror(-r));
                if (att)
                        bs_buffer_detach(b, att);
                return 0;
        }
        bs_buffer_get_info(b, &info);
        step(who, "attached \"display\" to buffer %lld, mapped to-device: %u segments of <= 1 MiB; "
             "info shows %u attachment(s), the first \"%s\" %s", (long long)bs_buffer_id(b),
             table->n_segments, info.n_attachments, info.attachments[0].device,
             info.attachments[0].mapped ? "mapped" : "unmapped");
        bs_attachment_unmap(att, table);
        bs_buffer_detach(b, att);
        return 1;
}

/* Import the read-only view: reads work, every way of writing is refused. */
static int show_readonly_view(const char *who, struct bs_client *c, int fd)
{
        struct bs_buffer *b = NULL;
        void *map;
        uint8_t *view;
        int r, w;

        r = bs_buffer_import(c, fd, &b);
        if (r < 0) {
                step(who, "importing the read-only view failed: %s", strerror(-r));
                return 0;
        }
        w = bs_buffer_mmap(b, 0, 4096, BS_PROT_READ | BS_PROT_WRITE, &map);
        r = bs_buffer_vmap(b, (void **)&view);
        step(who, "imported a read-only view of buffer %lld: read-only %d, writable map %s, "
             "write CPU access %s, first byte reads %u",
             (long long)bs_buffer_id(b), bs_buffer_is_readonly(b), strerror(-w),
             strerror(-bs_buffer_begin_cpu_access(b, BS_SYNC_WRITE)), r == 0 ? view[1] : 0);
        if (r == 0)
                bs_buffer_vunmap(b, view);
        r = w == -EACCES && bs_buffer_is_readonly(b) == 1;
        bs_buffer_put(b);
        return r;
}

static int consumer(const char *socket_path, unsigned k, int sock)
{
        char who[16];
        struct bs_client *c = NULL;
        int fds[N_BUFFERS + 1], ok = 1, r;
        unsigned n_fds = 0;
        int damage = 0;
        char byte;
        ssize_t n;

        snprintf(who, sizeof(who), "consumer %u", k);
        struct pollfd p = { .fd = sock, .events = POLLIN };
        poll(&p, 1, 10000); /* bs_fdpass_recv doesn't block */
        n = bs_fdpass_recv(sock, &byte, 1, fds, N_BUFFERS + 1, &n_fds, &damage);
        if (n <= 0 || damage < 0 || n_fds != N_BUFFERS + 1) {
                step(who, "receiving the fds failed: %s (%zd bytes, %u fds)", n < 0 ? strerror((int)-n) : "short", n, n_fds);
                return 1;
        }
        step(who, "received %u buffer fds from the producer (pid %d)", n_fds, (int)getppid());

        r = bs_client_connect(socket_path, &c);
        if (r < 0) {
                step(who, "connecting to %s failed: %s", socket_path, strerror(-r));
                return 1;
        }
        for (unsigned i = 0; i < N_BUFFERS; i++) {
                struct bs_buffer *b = NULL;
                uint8_t *map = NULL;
                uint64_t bad = 0, size;

                r = bs_buffer_import(c, fds[i], &b);
                close(fds[i]);
                fds[i] = -1;
                if (r < 0) {
                        step(who, "import of buffer %u failed: %s", i, strerror(-r));
                        ok = 0;
                        continue;
                }
                size = (uint64_t)bs_buffer_size(b);
                r = bs_buffer_mmap(b, 0, size, BS_PROT_READ | BS_PROT_WRITE, (void **)&map);
                if (r < 0) {
                        step(who, "map of buffer %lld failed: %s", (long long)bs_buffer_id(b), strerror(-r));
                        b = bs_buffer_put(b);
                        ok = 0;
                        continue;
                }
                bs_buffer_begin_cpu_access(b, BS_SYNC_READ | BS_SYNC_WRITE);
                for (uint64_t j = 0; j < answer_offset(size, N_CONSUMERS - 1); j++)
                        bad += map[j] != pattern(j, i);
                snprintf((char *)map + answer_offset(size, k), ANSWER_LEN,
                         "consumer %u (pid %d) checked %llu bytes", k, (int)getpid(),
                         (unsigned long long)size);
                bs_buffer_end_cpu_access(b, BS_SYNC_READ | BS_SYNC_WRITE);
                step(who, "imported buffer %lld (%llu bytes), mapped it, pattern %s, answer written "
                     "inside CPU access", (long long)bs_buffer_id(b), (unsigned long long)size,
                     bad ? "WRONG" : "intact");
                if (bad)
                        ok = 0;
                if (i == N_BUFFERS - 1)
                        ok &= show_attachment(who, b);
                bs_buffer_munmap(b, map, size);
                b = bs_buffer_put(b);
        }
        ok &= show_readonly_view(who, c, fds[N_BUFFERS]);
        close(fds[N_BUFFERS]);
        step(who, "released its references, done");
        bs_client_unref(c);
        return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "socket", required_argument, NULL, 's' },
                { "pool", no_argument, NULL, 'p' },
                { "frames", required_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *socket_path = NULL;
        bool pool_mode = false;
        unsigned frames = 120;
        struct bs_buffer *bufs[N_BUFFERS] = {};
        uint8_t *maps[N_BUFFERS] = {};
        struct bs_client *c = NULL;
        pid_t pids[N_CONSUMERS];
        int opt, r;

        while ((opt = getopt_long(argc, argv, "s:pf:h", longopts, NULL)) >= 0) {
                switch (opt) {
                case 's':
                        socket_path = optarg;
                        break;
                case 'p':
                        pool_mode = true;
                        break;
                case 'f':
                        frames = (unsigned)strtoul(optarg, NULL, 10);
                        if (frames == 0 || frames > 1000000) {
                                fprintf(stderr, "bufshare-demo: --frames %s: 1 to 1000000\n", optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        printf("Usage: bufshare-demo [--socket PATH] [--pool [--frames N]]\n"
                               "  --pool      a 1080p producer and two consumers (one slow) through a\n"
                               "              pool of three buffers, every frame checked\n"
                               "  --frames N  frames in --pool mode (default 120)\n");
                        return 0;
                default:
                        return 2;
                }
        }
        if (pool_mode)
                return demo_pool(socket_path, frames);

        r = bs_client_connect(socket_path, &c);
        if (r < 0) {
                fprintf(stderr, "bufshare-demo: connecting to bufshared failed: %s\n", strerror(-r));
                return 1;
        }
        step("producer", "connected to bufshared (pid %d)", (int)getpid());

        for (unsigned i = 0; i < N_BUFFERS; i++) {
                char name[BS_NAME_MAX];

                snprintf(name, sizeof(name), "demo-frame-%u", i);
                r = bs_buffer_export(c, sizeof(uint8_t) * sizes[i], "system", name, &bufs[i]);
                if (r < 0) {
                        fprintf(stderr, "bufshare-demo: export of %llu bytes failed: %s\n",
                                (unsigned long long)sizes[i], strerror(-r));
                        return 1;
                }
                r = bs_buffer_mmap(bufs[i], 0, sizes[i], BS_PROT_READ | BS_PROT_WRITE, (void **)&maps[i]);
                if (r < 0) {
                        fprintf(stderr, "bufshare-demo: map failed: %s\n", strerror(-r));
                        return 1;
                }
                for (uint64_t j = 0; j < sizes[i]; j++)
                        maps[i][j] = pattern(j, i);
                step("producer", "exported buffer %lld \"%s\", %llu bytes, wrote the pattern",
                     (long long)bs_buffer_id(bufs[i]), name, (unsigned long long)sizes[i]);
        }

        for (unsigned k = 0; k < N_CONSUMERS; k++) {
                int sock, fds[N_BUFFERS + 1];

                pids[k] = demo_fork(consumer, socket_path, k, &sock);
                if (pids[k] < 0)
                        return 1;
                for (unsigned i = 0; i < N_BUFFERS; i++)
                        fds[i] = bs_buffer_fd(bufs[i], O_RDWR | O_CLOEXEC);
                fds[N_BUFFERS] = bs_buffer_fd(bufs[0], O_RDONLY | O_CLOEXEC); /* a read-only view */
                r = bs_fdpass_send(sock, "F", 1, fds, N_BUFFERS + 1);
                for (unsigned i = 0; i <= N_BUFFERS; i++)
                        close(fds[i]);
                close(sock);
                if (r < 0) {
                        fprintf(stderr, "bufshare-demo: sending fds failed: %s\n", strerror(-r));
                        return 1;
                }
                step("producer", "sent %d buffer fds and a read-only view to consumer %u (pid %d)",
                     N_BUFFERS, k, (int)pids[k]);
        }

        for (unsigned k = 0; k < N_CONSUMERS; k++) {
                int status = 0;
                waitpid(pids[k], &status, 0);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        step("producer", "consumer %u failed (status %d)", k, status);
                        failures++;
                }
        }

        for (unsigned i = 0; i < N_BUFFERS; i++) {
                struct bs_buffer_info info;

                for (unsigned k = 0; k < N_CONSUMERS; k++) {
                        const char *answer = (const char *)maps[i] + answer_offset(sizes[i], k);
                        char expect[32];

                        snprintf(expect, sizeof(expect), "consumer %u ", k);
                        if (strncmp(answer, expect, strlen(expect)) != 0) {
                                step("producer", "buffer %lld: no answer from consumer %u",
                                     (long long)bs_buffer_id(bufs[i]), k);
                                failures++;
                        } else {
                                step("producer", "buffer %lld reads back \"%.*s\"",
                                     (long long)bs_buffer_id(bufs[i]), ANSWER_LEN, answer);
                        }
                }
                r = bs_buffer_get_info(bufs[i], &info);
                if (r == 0)
                        step("producer", "buffer %llu info: name \"%s\", heap %s, exporter %s[%d], %u reference(s)",
                             (unsigned long long)info.id, info.name, info.heap, info.exporter_comm,
                             (int)info.exporter_pid, info.n_refs);
                bs_buffer_munmap(bufs[i], maps[i], sizes[i]);
                bufs[i] = bs_buffer_put(bufs[i]);
        }
        bs_client_unref(c);

        printf("summary: %d buffers, %d consumers, %s\n", N_BUFFERS, N_CONSUMERS,
               failures ? "FAILED" : "every consumer saw the producer's bytes and the producer saw theirs");
        return failures ? 1 : 0;
}
