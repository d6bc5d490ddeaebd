/* SPDX-License-Identifier: MIT */
/* 5. mapped bandwidth: memcpy into and out of a bufshare mapping, against
 * memcpy between private buffers. */
#include <sys/mman.h>

#include "bufshare/bufshare.h"
#include "bench.h"

void bench_bandwidth(struct bs_client *c)
{
        static const enum pin pins[] = { PIN_FREE, PIN_SAME };
        size_t size = 64 * MiB;
        int reps = B.quick ? 2 : 20;
        struct samples w, r, f;
        struct bs_buffer *b = NULL;
        uint8_t *map, *src, *dst;

        header("5. mapped bandwidth, 64 MiB: memcpy into / out of a bufshare mapping, against memcpy "
               "between two private buffers (one process: no server to place; \"same\" = on cpu 0)");
        CHECK(bs_buffer_export(c, size, NULL, "bandwidth", &b));
        CHECK(bs_buffer_vmap(b, (void **)&map));
        src = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        /* the same page size on both sides: shmem has no transparent huge pages */
        madvise(src, size, MADV_NOHUGEPAGE);
        madvise(dst, size, MADV_NOHUGEPAGE);
        memset(src, 1, size);
        memset(dst, 2, size);
        memset(map, 3, size); /* every page faulted before timing */
        for (size_t k = 0; k < sizeof(pins) / sizeof(pins[0]); k++) {
                samples_init(&w, reps);
                samples_init(&r, reps);
                samples_init(&f, reps);
                pin_pid(0, 0);
                if (pins[k] == PIN_FREE)
                        pin_pid(0, -1);
                for (int i = 0; i < reps; i++) {
                        uint64_t t0 = now_ns();
                        memcpy(map, src, size);
                        uint64_t t1 = now_ns();
                        memcpy(dst, map, size);
                        uint64_t t2 = now_ns();
                        memcpy(dst, src, size);
                        uint64_t t3 = now_ns();
                        samples_add(&w, (double)(t1 - t0) / 1000.0);
                        samples_add(&r, (double)(t2 - t1) / 1000.0);
                        samples_add(&f, (double)(t3 - t2) / 1000.0);
                }
                pin_pid(0, -1);
                result("bandwidth", "write 64 MiB", pins[k], &w, "memcpy", &f, "GBps",
                       (double)size / (samples_pct(&w, 50) * 1000));
                result("bandwidth", "read 64 MiB", pins[k], &r, "memcpy", &f, "GBps",
                       (double)size / (samples_pct(&r, 50) * 1000));
                printf("%-22s memcpy floor: %.2f GB/s (ratio above is time: bandwidth ratio = 1 / ratio)\n", "",
                       (double)size / (samples_pct(&f, 50) * 1000));
                samples_free(&w);
                samples_free(&r);
                samples_free(&f);
        }
        munmap(src, size);
        munmap(dst, size);
        bs_buffer_vunmap(b, map);
        bs_buffer_put(b);
}
