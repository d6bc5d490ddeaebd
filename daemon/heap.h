/* SPDX-License-Identifier: MIT */
/*
 * Heaps allocate buffer memory: a memfd created, sized and sealed before
 * its fd leaves the daemon (STYLE D4). Sealing is a contract, not a hint:
 * a memfd that can't be sealed is an error.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define HEAP_SEALS_REQUIRED (F_SEAL_SHRINK | F_SEAL_GROW)

/*
 * The heaps, like dma-heap's: "system" (memfd) and "system-huge" (memfd
 * on hugetlbfs; sizes round up to the huge page).
 */
extern const char *const heap_names[];
extern const unsigned heap_count;

/* Whether @name is a heap this daemon serves: 0 or -ENOENT. */
int heap_lookup(const char *name);

/*
 * A new memfd named "bufshare:@id" of @size bytes rounded up to the heap's
 * page, mode 0444, sealed against shrink, grow and further seals.
 * Returns 0 with the fd and the rounded size, or -errno; nothing leaks.
 * "system-huge" without enough free huge pages is -ENOMEM, logged once
 * with the numbers, never a fallback to small pages. When the daemon is
 * out of fds the error is -ENFILE, whatever the kernel said, so that it
 * can't be mistaken for a client's -EMFILE limit.
 */
int heap_alloc(const char *heap, uint64_t id, uint64_t size, int *ret_fd, uint64_t *ret_size);

/*
 * Adopt a caller's memfd, with udmabuf's rules: -EBADFD if @fd is no
 * memfd; -EACCES if it is not open read-write; -EINVAL without F_SEAL_SHRINK, with F_SEAL_WRITE or
 * F_SEAL_FUTURE_WRITE, with a size that is 0 or not a page multiple, or
 * when it can still grow but takes no more seals. Then F_SEAL_GROW and
 * F_SEAL_SEAL are added (so no writable importer can add a write seal
 * and lock the exporter out) and the inode is made 0444 if the daemon
 * may. Returns 0 with size, inode, and whether the inode is read-only.
 * @max_size is checked before anything is changed (-EFBIG).
 */
int heap_adopt(int fd, uint64_t max_size, uint64_t *ret_size, dev_t *ret_dev, ino_t *ret_ino,
               bool *ret_readonly_inode);

/* true if no one but root and the owner can reopen @fd writable. */
bool heap_inode_readonly(int fd);

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
