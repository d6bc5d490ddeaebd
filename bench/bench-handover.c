/* SPDX-License-Identifier: MIT */
/* 4. frame handover: from the producer done writing a frame to the
 * consumer able to read it, bufshare against copies and shm per frame. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "fdpass.h"
#include "bench.h"

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
                struct bs_buffer_info info;
                fd_set set;
                FD_ZERO(&set);
                FD_SET(h->ctl, &set);
                select(h->ctl + 1, &set, NULL, NULL, NULL);
                if (bs_fdpass_recv(h->ctl, &byte, 1, &fd, 1, &n_fds) != 1 || n_fds != 1 ||
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

void bench_handover(struct bs_client *c, FILE *plot)
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
