/* SPDX-License-Identifier: MIT */
/*
 * Admitting a memfd the daemon did not create, whether a client adopts it
 * (EXPORT_MEMFD, as udmabuf does) or imports it (IMPORT of an fd whose
 * buffer the daemon does not host): one set of rules and errors for both
 * (DESIGN.md §3). Checks first, changes after: admission_check() touches
 * nothing, so a memfd refused by it or by any limit checked before
 * admission_seal() is left exactly as it was.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct admission {
        uint64_t size;       /* bytes, a non-zero page multiple */
        dev_t dev;
        ino_t ino;
        mode_t mode;         /* the inode's permission bits as found */
        bool writable;       /* the fd is open read-write */
        bool needs_seals;    /* F_SEAL_GROW or F_SEAL_SEAL still to add */
        bool readonly_inode; /* set by admission_protect() */
};

/*
 * Check @fd against the rules, changing nothing:
 *   -EBADF   not open for reading (O_PATH, O_WRONLY)
 *   -EBADFD  not a memfd
 *   -EINVAL  without F_SEAL_SHRINK; with F_SEAL_WRITE or F_SEAL_FUTURE_WRITE;
 *            F_SEAL_SEAL without F_SEAL_GROW (it can grow and takes no seal);
 *            size 0 or not a multiple of the page size
 *   -EACCES  seals still to add through a read-only fd
 */
int admission_check(int fd, struct admission *ret);

/*
 * Add F_SEAL_GROW and F_SEAL_SEAL where missing, so the size is final and
 * no one can add a write seal later and lock the other holders out, then
 * read the seals and the size again. Returns 1 if the size changed since
 * admission_check() (its creator grew it meanwhile: @a holds the new
 * size, and every check on the size must be made again), 0 if not,
 * -EINVAL if its creator added a write seal meanwhile, or -errno. The
 * seals can't be taken back.
 */
int admission_seal(int fd, struct admission *a);

/* Make the inode mode 0444 if the daemon may (it owns it, or is root),
 * so that read-only views of it are safe; sets a->readonly_inode. */
void admission_protect(int fd, struct admission *a);

/* Give the inode back the mode admission_check() found. */
void admission_unprotect(int fd, const struct admission *a);
