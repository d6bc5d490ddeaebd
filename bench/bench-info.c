/* SPDX-License-Identifier: MIT */
/* 3. info and set-name: one request and its reply each, against the
 * floor's 64-byte SOCK_SEQPACKET ping-pong. */
#include "bufshare/bufshare.h"
#include "bench.h"

static int info_op(void *arg)
{
        struct bs_buffer_info info;

        return bs_buffer_get_info(arg, &info);
}

static int set_name_op(void *arg)
{
        static unsigned k;

        return bs_buffer_set_name(arg, k++ & 1 ? "odd" : "even");
}

static int ping_op(void *arg)
{
        return floor_ping(&B.floor);
}

void bench_info(struct bs_client *c)
{
        static const struct {
                const char *name;
                int (*op)(void *arg);
        } ops[] = { { "info", info_op }, { "set-name", set_name_op } };
        int n = B.quick ? 20 : 5000;
        struct bs_buffer *b = NULL;
        enum pin p;

        header("3. info / set-name, against a 64-byte ping-pong");
        CHECK(bs_buffer_export(c, 4 * KiB, NULL, "bench", &b));
        FOR_EACH_PIN(p) {
                for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
                        struct side s = { .op = ops[i].op, .arg = b, .server = B.daemon.pid };
                        struct side f = { .op = ping_op, .arg = NULL, .server = B.floor.pid };
                        int r = compare_rounds(p, &s, &f, n);

                        if (r == 0) {
                                result(ops[i].name, "-", p, &s.s, "64 B ping-pong", &f.s, NULL, 0);
                                report_placement(p, ops[i].name, "-", "rounds", ROUNDS, "daemon", s.colocated,
                                                 "floor", f.colocated, NULL);
                        }
                        samples_free(&s.s);
                        samples_free(&f.s);
                        if (r < 0) {
                                fprintf(stderr, "bufshare-bench: %s: %s\n", ops[i].name, strerror(-r));
                                B.failures++;
                                bs_buffer_put(b);
                                return;
                        }
                }
        }
        pin(PIN_FREE, B.daemon.pid);
        pin(PIN_FREE, B.floor.pid);
        bs_buffer_put(b);
}
