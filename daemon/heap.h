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
 * heap_alloc() in the steps the daemon's reserve of fresh memfds
 * (reserve.h) splits between idle time and the request:
 *   heap_round()   -EINVAL/-ENOENT/-ENOMEM as heap_alloc(), else the
 *                  size a buffer of @size bytes gets from @heap;
 *   heap_fresh()   an empty "system" memfd named "bufshare:@id", mode
 *                  0444, unsealed: the size-independent ~3.5 us; its fd
 *                  or -errno (-ENFILE when the daemon is out of fds);
 *   heap_finish()  size it to @rounded and seal it: 0 or -errno.
 */
int heap_round(const char *heap, uint64_t size, uint64_t *ret_size);
int heap_fresh(uint64_t id);
/* Whether heap_fresh() memfds serve @heap ("system" only). */
bool heap_fresh_serves(const char *heap);
int heap_finish(int fd, uint64_t rounded);
