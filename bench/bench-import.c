/* SPDX-License-Identifier: MIT */
/* 2. import: import + put of a received fd, against the floor's SCM_RIGHTS
 * round trip with one fd (the helper fstats and closes it). */
#include <fcntl.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "bench.h"

struct import_arg {
        struct bs_client *c;
        int fd;
};

/* The put rides on the next request (the next import), so each import
 * here also pays for the release of the one before: import + put. */
static int import_op(void *arg)
{
        struct import_arg *a = arg;
        struct bs_buffer *imp = NULL;
        int r = bs_buffer_import(a->c, a->fd, &imp);

        bs_buffer_put(imp);
        return r;
}

static int import_floor_op(void *arg)
{
        struct import_arg *a = arg;

        return floor_import(&B.floor, a->fd);
}

void bench_import(struct bs_client *c)
{
        int n = B.quick ? 20 : 5000;
        struct bs_buffer *b = NULL;
        struct import_arg arg = { c, -1 };
        enum pin p;

        header("2. import + put of a received fd, against an SCM_RIGHTS round trip with one fd");
        CHECK(bs_buffer_export(c, 4 * KiB, NULL, "bench", &b));
        arg.fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        FOR_EACH_PIN(p) {
                struct side s = { .op = import_op, .arg = &arg, .server = B.daemon.pid };
                struct side f = { .op = import_floor_op, .arg = &arg, .server = B.floor.pid };
                int r = arg.fd < 0 ? arg.fd : compare_rounds(p, &s, &f, n);

                if (r == 0) {
                        result("import", "4 KiB", p, &s.s, "fd round trip", &f.s, NULL, 0);
                        report_placement(p, "import", "4 KiB", "rounds", ROUNDS, "daemon", s.colocated, "floor",
                                         f.colocated, NULL);
                }
                samples_free(&s.s);
                samples_free(&f.s);
                if (r < 0) {
                        fprintf(stderr, "bufshare-bench: import: %s\n", strerror(-r));
                        B.failures++;
                        break;
                }
        }
        pin(PIN_FREE, B.daemon.pid);
        pin(PIN_FREE, B.floor.pid);
        if (arg.fd >= 0)
                close(arg.fd);
        bs_buffer_put(b);
}
