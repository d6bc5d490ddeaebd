/* SPDX-License-Identifier: MIT */
/* 1. export: export + map + touch one byte + unmap + put, against a sealed
 * memfd handed over by the floor's helper. */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "bench.h"

int export_cycle(struct bs_client *c, uint64_t size)
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

struct export_arg {
        struct bs_client *c;
        uint64_t size;
};

static int export_op(void *arg)
{
        struct export_arg *a = arg;

        return export_cycle(a->c, a->size);
}

static int export_floor_op(void *arg)
{
        struct export_arg *a = arg;
        volatile uint8_t *p;
        int fd = floor_export(&B.floor, a->size);

        if (fd < 0)
                return fd;
        p = mmap(NULL, a->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                close(fd);
                return -errno;
        }
        p[0] = 1;
        munmap((void *)p, a->size);
        close(fd);
        return 0;
}

void bench_export(struct bs_client *c)
{
        static const uint64_t sizes[] = { 4 * KiB, 1 * MiB, 64 * MiB };
        int n = B.quick ? 20 : 3000;
        enum pin p;

        header("1. export + map + touch one byte + unmap + put, against memfd+seals+SCM_RIGHTS from a helper");
        FOR_EACH_PIN(p) {
                for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                        struct export_arg arg = { c, sizes[i] };
                        struct side s = { .op = export_op, .arg = &arg, .server = B.daemon.pid };
                        struct side f = { .op = export_floor_op, .arg = &arg, .server = B.floor.pid };
                        char variant[32];
                        int r = compare_rounds(p, &s, &f, n);

                        snprintf(variant, sizeof(variant), "%llu KiB", (unsigned long long)(sizes[i] / KiB));
                        if (r == 0) {
                                result("export", variant, p, &s.s, "memfd+seal+fd", &f.s,
                                       p == PIN_FREE ? "rounds_colocated_daemon" : NULL, s.colocated);
                                report_placement(p, "export", variant, "rounds", ROUNDS, "daemon", s.colocated,
                                                 "floor", f.colocated, NULL);
                        }
                        samples_free(&s.s);
                        samples_free(&f.s);
                        CHECK(r);
                }
        }
        pin(PIN_FREE, B.daemon.pid);
        pin(PIN_FREE, B.floor.pid);
}
