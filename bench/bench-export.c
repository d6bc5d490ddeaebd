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

static int export_floor_cycle(uint64_t size)
{
        volatile uint8_t *p;
        int fd = floor_export(&B.floor, size);

        if (fd < 0)
                return fd;
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                close(fd);
                return -errno;
        }
        p[0] = 1;
        munmap((void *)p, size);
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
                        struct samples s, f;
                        char variant[32];

                        int with_daemon = 0, with_floor = 0;

                        samples_init(&s, n);
                        samples_init(&f, n);
                        for (int w = 0; w < n / 10 + 1; w++) { /* warm-up */
                                CHECK(export_cycle(c, sizes[i]));
                                CHECK(export_floor_cycle(sizes[i]));
                        }
                        for (int round = 0; round < ROUNDS; round++) {
                                pin(p, B.daemon.pid);
                                for (int k = 0; k < n / ROUNDS; k++) {
                                        uint64_t t = now_ns();
                                        CHECK(export_cycle(c, sizes[i]));
                                        samples_add(&s, (double)(now_ns() - t) / 1000.0);
                                }
                                with_daemon += colocated(B.daemon.pid);
                                pin(p, B.floor.pid);
                                for (int k = 0; k < n / ROUNDS; k++) {
                                        uint64_t t = now_ns();
                                        CHECK(export_floor_cycle(sizes[i]));
                                        samples_add(&f, (double)(now_ns() - t) / 1000.0);
                                }
                                with_floor += colocated(B.floor.pid);
                        }
                        snprintf(variant, sizeof(variant), "%llu KiB", (unsigned long long)(sizes[i] / KiB));
                        result("export", variant, p, &s, "memfd+seal+fd", &f, p == PIN_FREE ? "rounds_colocated_daemon" : NULL,
                               with_daemon);
                        if (p == PIN_FREE) {
                                printf("%-22s unpinned placement: the daemon ended %d of %d rounds on the client's "
                                       "cpu, the floor's helper %d of %d\n", "", with_daemon, ROUNDS, with_floor,
                                       ROUNDS);
                                json_record("\"scenario\": \"export-placement\", \"variant\": \"%s\", "
                                            "\"rounds\": %d, \"daemon_colocated\": %d, \"floor_colocated\": %d",
                                            variant, ROUNDS, with_daemon, with_floor);
                        }
                        samples_free(&s);
                        samples_free(&f);
                }
        }
        pin(PIN_FREE, B.daemon.pid);
        pin(PIN_FREE, B.floor.pid);
}
