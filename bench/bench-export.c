/* SPDX-License-Identifier: MIT */
/* 1. export: export + map + touch one byte + unmap + put, against a sealed
 * memfd of mode 0444 handed over by the floor's helper. */
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
        struct bs_buffer *b; /* export alone: put after the timing */
        int fd;              /* the fd round trip's: closed after the timing */
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

/* export alone, its put untimed: against the plainest reply carrying an
 * fd, whose close is untimed too */
static int export_alone_op(void *arg)
{
        struct export_arg *a = arg;

        return bs_buffer_export(a->c, a->size, NULL, NULL, &a->b);
}

static void put_after(void *arg)
{
        struct export_arg *a = arg;

        a->b = bs_buffer_put(a->b);
}

static int fd_roundtrip_op(void *arg)
{
        struct export_arg *a = arg;

        a->fd = floor_fd_roundtrip(&B.floor);
        return a->fd < 0 ? a->fd : 0;
}

static void close_after(void *arg)
{
        struct export_arg *a = arg;

        close(a->fd);
        a->fd = -1;
}

/* The servers' cpu time per call: the daemon's (its idle refills
 * included) against the floor's helper's. */
static void report_cpu(const char *scenario, const char *variant, enum pin p, const struct side *s,
                       const struct side *f)
{
        double d = s->s.n ? (double)s->server_cpu_ns / 1000.0 / (double)s->s.n : 0;
        double h = f->s.n ? (double)f->server_cpu_ns / 1000.0 / (double)f->s.n : 0;

        printf("%-22s server cpu per call: daemon %.2f us, floor's helper %.2f us, ratio %.2f\n", "", d, h,
               h > 0 ? d / h : 0);
        json_record("\"scenario\": \"%s-cpu\", \"variant\": \"%s\", \"pin\": \"%s\", \"daemon_cpu_us\": %.3f, "
                    "\"floor_cpu_us\": %.3f, \"ratio\": %.4f",
                    scenario, variant, pin_names[p], d, h, h > 0 ? d / h : 0);
}

void bench_export(struct bs_client *c)
{
        static const uint64_t sizes[] = { 4 * KiB, 1 * MiB, 64 * MiB };
        int n = B.quick ? 20 : 3000;
        enum pin p;

        header("1. export + map + touch one byte + unmap + put, against memfd+seals+fchmod 0444+SCM_RIGHTS from a helper; "
               "then the export alone (its put after the timing) against a request whose reply carries an fd that "
               "exists already (its close after the timing)");
        FOR_EACH_PIN(p) {
                for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                        struct export_arg arg = { c, sizes[i], NULL, -1 };
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
                                if (i == 0)
                                        report_cpu("export", variant, p, &s, &f);
                        }
                        samples_free(&s.s);
                        samples_free(&f.s);
                        CHECK(r);
                }
        }
        FOR_EACH_PIN(p) {
                struct export_arg arg = { c, 4 * KiB, NULL, -1 };
                struct side s = { .op = export_alone_op, .after = put_after, .arg = &arg, .server = B.daemon.pid };
                struct side f = { .op = fd_roundtrip_op, .after = close_after, .arg = &arg, .server = B.floor.pid };
                int r = compare_rounds(p, &s, &f, n);

                if (r == 0) {
                        result("export alone", "4 KiB", p, &s.s, "request, fd reply", &f.s,
                               p == PIN_FREE ? "rounds_colocated_daemon" : NULL, s.colocated);
                        report_placement(p, "export alone", "4 KiB", "rounds", ROUNDS, "daemon", s.colocated,
                                         "floor", f.colocated, NULL);
                }
                samples_free(&s.s);
                samples_free(&f.s);
                CHECK(r);
        }
        pin(PIN_FREE, B.daemon.pid);
        pin(PIN_FREE, B.floor.pid);
}
