/* SPDX-License-Identifier: MIT */
/*
 * Heaps allocate buffer memory: a memfd created, sized and sealed before
 * its fd leaves the daemon (STYLE D4). Sealing is a contract, not a hint:
 * a memfd that can't be sealed is an error.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#define HEAP_SEALS_REQUIRED (F_SEAL_SHRINK | F_SEAL_GROW)

/* Whether @name is a heap this daemon serves: 0 or -ENOENT. */
int heap_lookup(const char *name);

/*
 * A new memfd named "bufshare:@id" of @size bytes rounded up to the page,
 * mode 0444, sealed against shrink, grow and further seals.
 * Returns 0 with the fd and the rounded size, or -errno; nothing leaks.
 */
int heap_alloc(const char *heap, uint64_t id, uint64_t size, int *ret_fd, uint64_t *ret_size);

/*
 * Check that @fd is a memfd whose size can't change (it carries
 * F_SEAL_SHRINK and F_SEAL_GROW), the rule for importing a buffer the
 * registry doesn't know. Returns 0 with its size, device and inode;
 * -EBADFD for anything but a memfd; -EINVAL if it lacks the seals.
 */
int heap_check_sealed(int fd, uint64_t *ret_size, dev_t *ret_dev, ino_t *ret_ino);

/*
 * The id in the name of a memfd the daemon created ("bufshare:ID").
 * Returns 0 with the id, -EBADFD if @fd is no memfd, -ENOENT if it is a
 * memfd of another name.
 */
int heap_memfd_id(int fd, uint64_t *ret_id);
