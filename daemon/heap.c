/* SPDX-License-Identifier: MIT */
#include "heap.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "memfd.h"
#include "util.h"

const char *const heap_names[] = { "system", "system-huge" };
const unsigned heap_count = ELEMENTSOF(heap_names);

enum { HEAP_SYSTEM, HEAP_SYSTEM_HUGE };

static int heap_index(const char *name)
{
        for (unsigned i = 0; i < heap_count; i++)
                if (strcmp(name, heap_names[i]) == 0)
                        return (int)i;
        return -ENOENT;
}

int heap_lookup(const char *name)
{
        int r = heap_index(name);
        return r < 0 ? r : 0;
}

static int memfd_new(const char *name, unsigned extra)
{
        int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | extra);
        if (fd < 0 && errno == EINVAL) /* a kernel before 6.3 */
                fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | extra);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE))
                return -ENFILE; /* the daemon's own fds ran out: see heap.h */
        return fd < 0 ? -errno : fd;
}

/* A "Name:  N kB" or "Name: N" line of /proc/meminfo; 0 if absent. */
static uint64_t meminfo_value(const char *key)
{
        char line[128];
        uint64_t v = 0;
        size_t klen = strlen(key);
        FILE *f = fopen("/proc/meminfo", "re");

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
                        v = strtoull(line + klen + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

/* Refuse a huge-page buffer the reserved pool can't hold, with numbers. */
static int huge_pages_check(uint64_t size, uint64_t huge)
{
        static bool logged;
        uint64_t free_pages = meminfo_value("HugePages_Free");
        uint64_t need = size / huge;

        if (need <= free_pages)
                return 0;
        if (!logged)
                log_warn("system-huge: %llu huge pages of %llu kB needed, %llu free "
                         "(HugePages_Total %llu; reserve more with vm.nr_hugepages): -ENOMEM",
                         (unsigned long long)need, (unsigned long long)huge / 1024,
                         (unsigned long long)free_pages,
                         (unsigned long long)meminfo_value("HugePages_Total"));
        logged = true;
        return -ENOMEM;
}

int heap_round(const char *heap, uint64_t size, uint64_t *ret_size)
{
        static uint64_t small_page;
        uint64_t page;
        int which = heap_index(heap);

        if (!small_page)
                small_page = (uint64_t)sysconf(_SC_PAGESIZE);
        page = small_page;

        if (which < 0)
                return which;
        if (which == HEAP_SYSTEM_HUGE) {
                page = meminfo_value("Hugepagesize") * 1024;
                if (page == 0)
                        return -ENOMEM; /* no hugetlbfs at all */
        }
        if (size == 0 || size > (uint64_t)INT64_MAX - page)
                return -EINVAL;
        *ret_size = (size + page - 1) & ~(page - 1);
        return 0;
}

/* "bufshare:@id" into @buf (at least 30 bytes): by hand, as it is on
 * every export's path, where snprintf() took ~8 % of the daemon's
 * instructions per export + put (callgrind, docs/performance.md) */
static void memfd_name_of(char *buf, uint64_t id)
{
        static const char prefix[] = "bufshare:";
        char digits[20];
        unsigned n = 0;

        do
                digits[n++] = (char)('0' + id % 10);
        while ((id /= 10) != 0);
        memcpy(buf, prefix, sizeof(prefix) - 1);
        buf += sizeof(prefix) - 1;
        while (n > 0)
                *buf++ = digits[--n];
        *buf = '\0';
}

static int memfd_fresh(uint64_t id, unsigned extra)
{
        _cleanup_close_ int fd = -EBADF;
        char name[64];

        memfd_name_of(name, id);
        fd = memfd_new(name, extra);
        if (fd < 0)
                return fd;
        /* a read-only view must not be reopenable for writing by another uid */
        if (fchmod(fd, 0444) < 0)
                return -errno;
        return TAKE_FD(fd);
}

bool heap_fresh_serves(const char *heap)
{
        return heap_index(heap) == HEAP_SYSTEM;
}

int heap_fresh(uint64_t id)
{
        return memfd_fresh(id, 0);
}

int heap_finish(int fd, uint64_t rounded)
{
        if (ftruncate(fd, (off_t)rounded) < 0)
                return -errno;
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return -errno;
        return 0;
}

int heap_alloc(const char *heap, uint64_t id, uint64_t size, int *ret_fd, uint64_t *ret_size)
{
        _cleanup_close_ int fd = -EBADF;
        uint64_t rounded;
        int r, which;

        r = heap_round(heap, size, &rounded);
        if (r < 0)
                return r;
        which = heap_index(heap);
        if (which == HEAP_SYSTEM_HUGE) {
                r = huge_pages_check(rounded, meminfo_value("Hugepagesize") * 1024);
                if (r < 0)
                        return r;
        }
        fd = memfd_fresh(id, which == HEAP_SYSTEM_HUGE ? MFD_HUGETLB : 0);
        if (fd < 0)
                return fd;
        r = heap_finish(fd, rounded);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        *ret_size = rounded;
        return 0;
}
