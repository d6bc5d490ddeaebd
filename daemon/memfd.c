/* SPDX-License-Identifier: MIT */
#include "memfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int memfd_seals(int fd)
{
        char name[256];
        int seals, r;

        r = memfd_name(fd, name, sizeof(name));
        if (r < 0)
                return r;
        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0) /* EBADF on an O_PATH fd: it is not a usable memfd */
                return errno == EINVAL || errno == EBADF ? -EBADFD : -errno;
        return seals;
}

int memfd_bufshare_id(int fd, uint64_t *ret_id)
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

bool memfd_inode_readonly(int fd)
{
        struct stat st;
        return fstat(fd, &st) == 0 && !(st.st_mode & 0222);
}
