/* SPDX-License-Identifier: MIT */
/*
 * 4. frame handover: from the producer done writing a frame to the
 * consumer able to read it (frame.h), bufshare against the floor a
 * shared-memory user would write (a pre-mapped memfd pool and a one-byte
 * message), copies through a socket and a pipe, and shm_open per frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "fdpass.h" /* the floors' own SCM_RIGHTS; bufshare's side uses the public API */
#include "frame.h"

/* ---- frames in place: write, then say which slot ---- */

static int slots_write(struct frame_end *e, uint8_t v)
{
        frame_fill(e, e->map[e->slot], v);
        return 0;
}

static int slots_publish(struct frame_end *e)
{
        uint8_t slot = (uint8_t)e->slot;

        e->slot = e->slot + 1 < FRAME_SLOTS && e->map[e->slot + 1] ? e->slot + 1 : 0;
        return send(e->link, &slot, 1, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

static int slots_take(struct frame_end *e, const uint8_t **ret_p)
{
        uint8_t slot;
        int r = frame_recv(e->link, &slot, 1, NULL, 0);

        if (r < 0)
                return r;
        if (slot >= FRAME_SLOTS || !e->map[slot])
                return -EPROTO;
        *ret_p = e->map[slot];
        return 0;
}

/* bufshare, as its docs say to use it, with its public API only: one
 * buffer exported, mapped and handed over once (bs_buffer_send() and
 * bs_buffer_receive()); then each frame is a one-byte message (there is
 * no fence or pool API yet to say "frame ready"). */
static int bufshare_producer_init(struct frame_end *e)
{
        int r = bs_client_connect(B.daemon.socket, &e->c);

        if (r == 0)
                r = bs_buffer_export(e->c, e->size, NULL, "frame", &e->b);
        if (r == 0)
                r = bs_buffer_vmap(e->b, (void **)&e->map[0]);
        if (r < 0)
                return r;
        memset(e->map[0], 0, e->size); /* every page faulted before timing */
        return bs_buffer_send(e->b, e->link, O_RDWR, "B", 1);
}

static int bufshare_consumer_init(struct frame_end *e)
{
        char byte;
        int r = bs_client_connect(B.daemon.socket, &e->c);

        if (r == 0)
                r = bs_buffer_receive(e->c, e->link, &byte, 1, NULL, &e->b, NULL);
        if (r == 0)
                r = bs_buffer_vmap(e->b, (void **)&e->map[0]);
        if (r == 0)
                frame_sum(e, e->map[0]); /* map once, fault once */
        return r;
}

const struct frame_method frame_bufshare = {
        .name = "bufshare",
        .producer_init = bufshare_producer_init,
        .write = slots_write,
        .publish = slots_publish,
        .consumer_init = bufshare_consumer_init,
        .take = slots_take,
};

/* The floor: FRAME_SLOTS sealed memfds, mapped on both sides once. */
static int pool_producer_init(struct frame_end *e)
{
        int fds[FRAME_SLOTS], r = 0;
        unsigned n;

        for (n = 0; n < FRAME_SLOTS; n++) {
                void *p;

                fds[n] = floor_memfd(e->size);
                if (fds[n] < 0) {
                        r = fds[n];
                        break;
                }
                p = mmap(NULL, e->size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[n], 0);
                if (p == MAP_FAILED) {
                        r = -errno;
                        n++; /* close this one too */
                        break;
                }
                memset(p, 0, e->size);
                e->map[n] = p;
        }
        if (r == 0)
                r = bs_fdpass_send(e->link, "P", 1, fds, FRAME_SLOTS);
        while (n > 0)
                close(fds[--n]);
        return r;
}

static int pool_consumer_init(struct frame_end *e)
{
        int fds[FRAME_SLOTS], r;
        char byte;

        r = frame_recv(e->link, &byte, 1, fds, FRAME_SLOTS);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < FRAME_SLOTS; i++) {
                void *p = mmap(NULL, e->size, PROT_READ, MAP_SHARED, fds[i], 0);

                if (p == MAP_FAILED)
                        r = -errno;
                else
                        frame_sum(e, e->map[i] = p);
                close(fds[i]);
        }
        return r < 0 ? r : 0;
}

static const struct frame_method frame_pool = {
        .name = "memfd pool+1B",
        .producer_init = pool_producer_init,
        .write = slots_write,
        .publish = slots_publish,
        .consumer_init = pool_consumer_init,
        .take = slots_take,
};

/* ---- copies: a one-byte message, then the frame through a socket or a pipe ---- */

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

static int local_buffer(struct frame_end *e)
{
        e->local = malloc(e->size);
        if (!e->local)
                return -ENOMEM;
        memset(e->local, 0, e->size);
        return 0;
}

/* @fds[0] stays here (the producer writes it), @fds[1] goes to the consumer. */
static int copy_producer_init(struct frame_end *e, int fds[2])
{
        int r = bs_fdpass_send(e->link, "C", 1, &fds[1], 1);

        close(fds[1]);
        e->data = fds[0];
        return r < 0 ? r : local_buffer(e);
}

static int stream_producer_init(struct frame_end *e)
{
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        return copy_producer_init(e, sv);
}

static int pipe_producer_init(struct frame_end *e)
{
        int pv[2];

        if (pipe2(pv, O_CLOEXEC) < 0)
                return -errno;
        fcntl(pv[1], F_SETPIPE_SZ, 1 << 20);
        return copy_producer_init(e, (int[]){ pv[1], pv[0] });
}

static int copy_write(struct frame_end *e, uint8_t v)
{
        frame_fill(e, e->local, v);
        return 0;
}

static int copy_publish(struct frame_end *e)
{
        int r = bs_fdpass_send(e->link, "C", 1, NULL, 0);

        return r < 0 ? r : write_full(e->data, e->local, e->size);
}

static int copy_consumer_init(struct frame_end *e)
{
        char byte;
        int r = frame_recv(e->link, &byte, 1, &e->data, 1);

        return r < 0 ? r : local_buffer(e);
}

static int copy_take(struct frame_end *e, const uint8_t **ret_p)
{
        char byte;
        int r = frame_recv(e->link, &byte, 1, NULL, 0);

        if (r >= 0)
                r = read_full(e->data, e->local, e->size);
        *ret_p = e->local;
        return r < 0 ? r : 0;
}

static const struct frame_method frame_stream = {
        .name = "unix-stream copy",
        .producer_init = stream_producer_init,
        .write = copy_write,
        .publish = copy_publish,
        .consumer_init = copy_consumer_init,
        .take = copy_take,
};

static const struct frame_method frame_pipe = {
        .name = "pipe copy",
        .producer_init = pipe_producer_init,
        .write = copy_write,
        .publish = copy_publish,
        .consumer_init = copy_consumer_init,
        .take = copy_take,
};

/* ---- shm_open per frame: a new object, mapped on both sides, every frame ---- */

static int shm_write(struct frame_end *e, uint8_t v)
{
        static unsigned n;
        uint8_t *p = MAP_FAILED;
        int fd, r = 0;

        snprintf(e->name, sizeof(e->name), "/bufshare-bench-%s-%u", e->tag, n++);
        fd = shm_open(e->name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0 && ftruncate(fd, (off_t)e->size) == 0)
                p = mmap(NULL, e->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                r = -errno;
                shm_unlink(e->name);
        } else {
                frame_fill(e, p, v);
                munmap(p, e->size);
        }
        if (fd >= 0)
                close(fd);
        return r;
}

static int shm_publish(struct frame_end *e)
{
        return bs_fdpass_send(e->link, e->name, strlen(e->name) + 1, NULL, 0);
}

static int shm_take(struct frame_end *e, const uint8_t **ret_p)
{
        uint8_t *p = MAP_FAILED;
        int fd, r = frame_recv(e->link, e->name, sizeof(e->name) - 1, NULL, 0);

        if (r < 0)
                return r;
        e->name[r] = '\0';
        fd = shm_open(e->name, O_RDONLY | O_CLOEXEC, 0);
        if (fd >= 0)
                p = mmap(NULL, e->size, PROT_READ, MAP_SHARED, fd, 0);
        r = p == MAP_FAILED ? -errno : 0;
        if (fd >= 0)
                close(fd);
        *ret_p = p;
        return r;
}

static void shm_release(struct frame_end *e, const uint8_t *p)
{
        munmap((void *)p, e->size);
        shm_unlink(e->name);
}

static const struct frame_method frame_shm = {
        .name = "shm_open+mmap",
        .write = shm_write,
        .publish = shm_publish,
        .take = shm_take,
        .release = shm_release,
};

/* ---- the scenario ---- */

enum method { M_BUFSHARE, M_STREAM, M_PIPE, M_SHM, M_POOL, M_COUNT }; /* handover.dat's column order */
static const struct frame_method *const methods[M_COUNT] = { &frame_bufshare, &frame_stream, &frame_pipe,
                                                             &frame_shm, &frame_pool };

static void report_size(size_t size, enum pin p, struct frame_pair *fps, FILE *plot)
{
        for (enum method m = 0; m < M_COUNT; m++) {
                struct frame_pair *fp = &fps[m];
                const char *floor_name = m == M_BUFSHARE ? frame_pool.name : m == M_POOL ? NULL : "bufshare";
                struct samples *f = m == M_BUFSHARE ? &fps[M_POOL].lat : m == M_POOL ? NULL : &fps[M_BUFSHARE].lat;
                char variant[48];

                snprintf(variant, sizeof(variant), "%zu KiB %s", (size_t)(size / KiB), fp->m->name);
                result("handover", variant, p, &fp->lat, floor_name, f, "GBps", frame_pair_gbps(fp, size));
                report_placement(p, "handover", variant, "frames", fp->frames, "consumer", fp->colocated, NULL);
        }
        if (plot && p == PIN_TWO)
                fprintf(plot, "%g %g %g %g %g %g\n", (double)size / (double)MiB, samples_pct(&fps[M_BUFSHARE].lat, 50),
                        samples_pct(&fps[M_STREAM].lat, 50), samples_pct(&fps[M_PIPE].lat, 50),
                        samples_pct(&fps[M_SHM].lat, 50), samples_pct(&fps[M_POOL].lat, 50));
}

void bench_handover(struct bs_client *c)
{
        static const size_t sizes[] = { 4 * KiB, 1 * MiB, 64 * MiB };
        static const int frames[] = { 2000, 200, 30 };
        static const enum pin pins[] = { PIN_FREE, PIN_TWO };

        header("4. frame handover (producer writes every byte, consumer reads every byte; \"two\": producer cpu 0, "
               "consumer cpu 1): latency from producer done to consumer may read; bufshare against a pre-mapped "
               "memfd pool + 1-byte message, the others against bufshare");
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                struct frame_pair fps[M_COUNT] = { 0 };
                int n = B.quick ? 3 : frames[i], r = 0;
                size_t started = 0;

                for (; started < M_COUNT && r == 0; started++)
                        r = frame_pair_start(&fps[started], methods[started], sizes[i], FRAME_ALL, 0);
                for (size_t k = 0; k < sizeof(pins) / sizeof(pins[0]) && r == 0; k++) {
                        r = frame_pairs_compare(fps, M_COUNT, pins[k], n, n / 10 + 1);
                        if (r == 0)
                                report_size(sizes[i], pins[k], fps, B.handover_dat);
                }
                while (started > 0)
                        if (frame_pair_stop(&fps[--started]) < 0 && r == 0)
                                r = -ECHILD;
                CHECK(r);
        }
}
