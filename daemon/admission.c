/* SPDX-License-Identifier: MIT */
#include "admission.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memfd.h"

#define SEALS_ADDED (F_SEAL_GROW | F_SEAL_SEAL)

int admission_check(int fd, struct admission *ret)
{
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        int fl, seals;
        struct stat st;

        fl = fcntl(fd, F_GETFL);
        if (fl < 0)
                return -errno;
        if ((fl & O_PATH) || (fl & O_ACCMODE) == O_WRONLY)
                return -EBADF; /* it grants no read access: not a capability */
        seals = memfd_seals(fd);
        if (seals < 0)
                return seals;
        if (!(seals & F_SEAL_SHRINK) || (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
                return -EINVAL;
        if ((seals & F_SEAL_SEAL) && !(seals & F_SEAL_GROW))
                return -EINVAL;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size <= 0 || (uint64_t)st.st_size % page != 0)
                return -EINVAL;
        ret->writable = (fl & O_ACCMODE) == O_RDWR;
        ret->needs_seals = (seals & SEALS_ADDED) != SEALS_ADDED;
        if (ret->needs_seals && !ret->writable)
                return -EACCES; /* the kernel takes seals through writable fds only */
        ret->size = (uint64_t)st.st_size;
        ret->dev = st.st_dev;
        ret->ino = st.st_ino;
        ret->mode = st.st_mode & 07777;
        ret->readonly_inode = !(st.st_mode & 0222);
        return 0;
}

int admission_seal(int fd, struct admission *a)
{
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        struct stat st;

        if (a->needs_seals) {
                int seals = fcntl(fd, F_GET_SEALS);
                if (seals < 0)
                        return -errno;
                /* F_SEAL_SEAL last: it forbids every seal after it */
                if (!(seals & F_SEAL_GROW) && fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) < 0)
                        return -errno;
                if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) < 0)
                        return -errno;
                a->needs_seals = false;
                /* its creator may have added a write seal since
                 * admission_check(): only now are the seals final */
                seals = fcntl(fd, F_GET_SEALS);
                if (seals < 0)
                        return -errno;
                if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))
                        return -EINVAL;
        }
        /* only now is the size final: the creator may have grown it
         * between admission_check() and F_SEAL_GROW (shrinking was sealed) */
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t)st.st_size == a->size)
                return 0;
        if ((uint64_t)st.st_size % page != 0)
                return -EINVAL;
        a->size = (uint64_t)st.st_size;
        return 1;
}

void admission_protect(int fd, struct admission *a)
{
        /* best effort: an inode the daemon can't chmod just can't give
         * read-only views (-EPERM when one is asked for) */
        if (a->mode & 0222)
                (void)fchmod(fd, 0444);
        a->readonly_inode = memfd_inode_readonly(fd);
}

void admission_unprotect(int fd, const struct admission *a)
{
        if (a->mode & 0222)
                (void)fchmod(fd, a->mode);
}
