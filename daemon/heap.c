/* SPDX-License-Identifier: MIT */
#include "heap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U /* Linux 6.3 */
#endif

int heap_lookup(const char *name)
{
        return strcmp(name, "system") == 0 ? 0 : -ENOENT;
}

static int memfd_new(const char *name)
{
        int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
        if (fd < 0 && errno == EINVAL) /* a kernel before 6.3 */
                fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        return fd < 0 ? -errno : fd;
}

int heap_alloc(const char *heap, uint64_t id, uint64_t size, int *ret_fd, uint64_t *ret_size)
{
        _cleanup_close_ int fd = -EBADF;
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t rounded;
        char name[64];
        int r;

        r = heap_lookup(heap);
        if (r < 0)
                return r;
        if (size == 0 || size > (uint64_t)INT64_MAX - page)
                return -EINVAL;
        rounded = (size + page - 1) & ~(page - 1);

        snprintf(name, sizeof(name), "bufshare:%llu", (unsigned long long)id);
        fd = memfd_new(name);
        if (fd < 0)
                return fd;
        if (ftruncate(fd, (off_t)rounded) < 0)
                return -errno;
        /* a read-only view must not be reopenable for writing by another uid */
        if (fchmod(fd, 0444) < 0)
                return -errno;
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return -errno;

        *ret_fd = TAKE_FD(fd);
        *ret_size = rounded;
        return 0;
}

/* The memfd's name, from the /proc/self/fd link "/memfd:NAME (deleted)". */
static int memfd_name(int fd, char *buf, size_t len)
{
        static const char prefix[] = "/memfd:";
        char path[64], link[256];
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, link, sizeof(link) - 1);
        if (n < 0)
                return errno == ENOENT ? -EBADF : -errno;
        link[n] = '\0';
        if (strncmp(link, prefix, sizeof(prefix) - 1) != 0)
                return -EBADFD;
        snprintf(buf, len, "%s", link + sizeof(prefix) - 1);
        return 0;
}

int heap_memfd_id(int fd, uint64_t *ret_id)
{
        unsigned long long id;
        char name[256];
        int r, end = 0;

        r = memfd_name(fd, name, sizeof(name));
        if (r < 0)
                return r;
        if (sscanf(name, "bufshare:%llu%n", &id, &end) < 1 || id == 0 ||
            (name[end] != '\0' && strcmp(name + end, " (deleted)") != 0))
                return -ENOENT;
        *ret_id = id;
        return 0;
}

int heap_check_sealed(int fd, uint64_t *ret_size, dev_t *ret_dev, ino_t *ret_ino)
{
        struct stat st;
        char name[256];
        int seals, r;

        r = memfd_name(fd, name, sizeof(name));
        if (r < 0)
                return r;
        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0)
                return errno == EINVAL ? -EBADFD : -errno; /* not a memfd */
        if ((seals & HEAP_SEALS_REQUIRED) != HEAP_SEALS_REQUIRED)
                return -EINVAL;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size <= 0)
                return -EINVAL;
        *ret_size = (uint64_t)st.st_size;
        *ret_dev = st.st_dev;
        *ret_ino = st.st_ino;
        return 0;
}
