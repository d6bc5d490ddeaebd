/* SPDX-License-Identifier: MIT */
/*
 * 4b. a fresh buffer per frame, what a new user writes first: export an
 * 8 MiB buffer, map it, touch every page, send its fd to the consumer,
 * which imports, maps and touches every page; against a plain memfd
 * handed over the same way (memfd_create + ftruncate + seals, send, mmap,
 * touch), and against bufshare's map-once handover in the same run. Each
 * row is the whole frame (frame.h's cycle): from the producer starting
 * on it to the consumer done with it, its mapping and its reference.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "fdpass.h" /* the floors' own SCM_RIGHTS; bufshare's side uses the public API */
#include "frame.h"

static int connect_daemon(struct frame_end *e)
{
        return bs_client_connect(B.daemon.socket, &e->c);
}

static int bufshare_write(struct frame_end *e, uint8_t v)
{
        int r = bs_buffer_export(e->c, e->size, NULL, "frame", &e->b);

        if (r == 0)
                r = bs_buffer_mmap(e->b, 0, e->size, BS_PROT_READ | BS_PROT_WRITE, (void **)&e->map[0]);
        if (r < 0) {
                e->b = bs_buffer_put(e->b);
                return r;
        }
        frame_fill(e, e->map[0], v);
        return 0;
}

/* The producer lets go once the fd is sent, as a producer that makes a
 * buffer per frame would. */
static int bufshare_publish(struct frame_end *e)
{
        int r = bs_buffer_send(e->b, e->link, O_RDWR, "F", 1);

        bs_buffer_munmap(e->b, e->map[0], e->size);
        e->b = bs_buffer_put(e->b);
        return r;
}

static int bufshare_take(struct frame_end *e, const uint8_t **ret_p)
{
        char byte;
        int r = bs_buffer_receive(e->c, e->link, &byte, 1, NULL, &e->b, NULL);

        if (r == -ECONNRESET)
                return -EPIPE; /* the producer is gone: the normal end */
        if (r == 0)
                r = bs_buffer_mmap(e->b, 0, e->size, BS_PROT_READ, (void **)ret_p);
        if (r < 0)
                e->b = bs_buffer_put(e->b);
        return r;
}

static void bufshare_release(struct frame_end *e, const uint8_t *p)
{
        bs_buffer_munmap(e->b, (void *)p, e->size);
        e->b = bs_buffer_put(e->b);
}

static const struct frame_method fresh_bufshare = {
        .name = "bufshare per frame",
        .producer_init = connect_daemon,
        .write = bufshare_write,
        .publish = bufshare_publish,
        .consumer_init = connect_daemon,
        .take = bufshare_take,
        .release = bufshare_release,
};

static int memfd_write(struct frame_end *e, uint8_t v)
{
        void *p;

        e->data = floor_memfd(e->size);
        if (e->data < 0)
                return e->data;
        p = mmap(NULL, e->size, PROT_READ | PROT_WRITE, MAP_SHARED, e->data, 0);
        if (p == MAP_FAILED) {
                int r = -errno;
                close(e->data);
                return r;
        }
        e->map[0] = p;
        frame_fill(e, p, v);
        return 0;
}

static int memfd_publish(struct frame_end *e)
{
        int r = bs_fdpass_send(e->link, "M", 1, &e->data, 1);

        munmap(e->map[0], e->size);
        close(e->data);
        return r;
}

static int memfd_take(struct frame_end *e, const uint8_t **ret_p)
{
        char byte;
        void *p;
        int fd, r = frame_recv(e->link, &byte, 1, &fd, 1);

        if (r < 0)
                return r;
        p = mmap(NULL, e->size, PROT_READ, MAP_SHARED, fd, 0);
        r = p == MAP_FAILED ? -errno : 0;
        close(fd);
        *ret_p = p;
        return r;
}

static void memfd_release(struct frame_end *e, const uint8_t *p)
{
        munmap((void *)p, e->size);
}

static const struct frame_method fresh_memfd = {
        .name = "memfd per frame",
        .write = memfd_write,
        .publish = memfd_publish,
        .take = memfd_take,
        .release = memfd_release,
};

enum { F_BUFSHARE, F_MEMFD, F_MAP_ONCE, F_COUNT };

static void report(enum pin p, struct frame_pair *fps)
{
        struct frame_pair *b = &fps[F_BUFSHARE], *m = &fps[F_MEMFD], *once = &fps[F_MAP_ONCE];

        result("frame-fresh", "8 MiB bufshare per frame", p, &b->cycle, fresh_memfd.name, &m->cycle, NULL, 0);
        report_placement(p, "frame-fresh", "8 MiB bufshare per frame", "frames", b->frames, "consumer",
                         b->colocated, "daemon", b->server_colocated, "floor_consumer", m->colocated, NULL);
        result("frame-fresh", "8 MiB map once", p, &once->cycle, fresh_bufshare.name, &b->cycle, NULL, 0);
        report_placement(p, "frame-fresh", "8 MiB map once", "frames", once->frames, "consumer", once->colocated,
                         NULL);
}

void bench_frame_fresh(struct bs_client *c)
{
        const struct frame_method *methods[F_COUNT] = { &fresh_bufshare, &fresh_memfd, &frame_bufshare };
        struct frame_pair fps[F_COUNT] = { 0 };
        size_t size = 8 * MiB, started = 0;
        int n = B.quick ? 3 : 100, r = 0;
        enum pin p;

        header("4b. a fresh 8 MiB buffer per frame: producer exports, maps, touches every page, sends the fd; "
               "consumer imports, maps, touches every page, unmaps, puts. Whole frame, against a plain sealed "
               "memfd the same way; then bufshare mapped once, against that (\"two\": producer cpu 0, "
               "consumer and daemon cpu 1)");
        for (; started < F_COUNT && r == 0; started++)
                r = frame_pair_start(&fps[started], methods[started], size, FRAME_PAGES,
                                     started == F_BUFSHARE ? B.daemon.pid : 0);
        FOR_EACH_PIN(p) {
                if (r == 0)
                        r = frame_pairs_compare(fps, F_COUNT, p, n, B.quick ? 1 : 5);
                if (r == 0)
                        report(p, fps);
        }
        pin(PIN_FREE, B.daemon.pid);
        while (started > 0)
                if (frame_pair_stop(&fps[--started]) < 0 && r == 0)
                        r = -ECHILD;
        CHECK(r);
}
