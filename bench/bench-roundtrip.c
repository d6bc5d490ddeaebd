/* SPDX-License-Identifier: MIT */
/* 2. import and 3. info / set-name: one round trip each, against the
 * floor's fd round trip and 64-byte ping-pong. */
#include <fcntl.h>
#include <unistd.h>

#include "bufshare/bufshare.h"
#include "bench.h"

void bench_roundtrips(struct bs_client *c)
{
        int n = B.quick ? 20 : 5000;
        struct bs_buffer *b = NULL;
        int fd;

        CHECK(bs_buffer_export(c, 4 * KiB, NULL, "bench", &b));
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        enum pin p;

        header("2. import + put of a received fd, against an SCM_RIGHTS round trip with one fd; "
               "3. info / set-name, against a 64-byte ping-pong");
        FOR_EACH_PIN(p) {
                struct samples si, fi, sn, sm, fp;

                samples_init(&si, n);
                samples_init(&fi, n);
                samples_init(&sn, n);
                samples_init(&sm, n);
                samples_init(&fp, n);
                for (int round = 0; round < ROUNDS + 1; round++) {
                        int count = round == 0 ? n / 10 + 1 : n / ROUNDS; /* round 0: warm-up */

                        pin(p, B.daemon.pid);
                        for (int k = 0; k < count; k++) {
                                struct bs_buffer *imp = NULL;
                                struct bs_buffer_info info;
                                uint64_t t = now_ns();

                                CHECK(bs_buffer_import(c, fd, &imp));
                                bs_buffer_put(imp);
                                uint64_t t2 = now_ns();
                                CHECK(bs_buffer_get_info(b, &info));
                                uint64_t t3 = now_ns();
                                CHECK(bs_buffer_set_name(b, k & 1 ? "odd" : "even"));
                                uint64_t t4 = now_ns();
                                if (round) {
                                        samples_add(&si, (double)(t2 - t) / 1000.0);
                                        samples_add(&sn, (double)(t3 - t2) / 1000.0);
                                        samples_add(&sm, (double)(t4 - t3) / 1000.0);
                                }
                        }
                        pin(p, B.floor.pid);
                        for (int k = 0; k < count; k++) {
                                uint64_t t = now_ns();
                                CHECK(floor_import(&B.floor, fd));
                                uint64_t t2 = now_ns();
                                CHECK(floor_ping(&B.floor));
                                uint64_t t3 = now_ns();
                                if (round) {
                                        samples_add(&fi, (double)(t2 - t) / 1000.0);
                                        samples_add(&fp, (double)(t3 - t2) / 1000.0);
                                }
                        }
                }
                result("import", "4 KiB", p, &si, "fd round trip", &fi, NULL, 0);
                result("info", "-", p, &sn, "64 B ping-pong", &fp, NULL, 0);
                result("set-name", "-", p, &sm, "64 B ping-pong", &fp, NULL, 0);
                samples_free(&si);
                samples_free(&fi);
                samples_free(&sn);
                samples_free(&sm);
                samples_free(&fp);
        }
        pin(PIN_FREE, B.daemon.pid);
        pin(PIN_FREE, B.floor.pid);
        close(fd);
        bs_buffer_put(b);
}
