/* SPDX-License-Identifier: MIT */
/**
 * @file bufshare.h
 * libbufshare: dma-buf for userspace.
 *
 * A buffer is a sealed memfd hosted by the bufshared daemon. Its size is
 * fixed for life, every mapping of it is coherent, and holding its fd is
 * what grants access, as with a dma-buf fd. The lifecycle mirrors
 * dma-buf's:
 *
 *   1. bs_client_connect()   connect to bufshared
 *   2. bs_buffer_export()    a new buffer and a reference on it  [dma_buf_export]
 *   3. bs_buffer_fd()        a new fd to hand to another process [dma_buf_fd]
 *   4. bs_buffer_import()    the other process takes a reference [dma_buf_get]
 *   5. bs_buffer_mmap()      map pages of it, bounds checked     [dma_buf_mmap]
 *   6. bs_buffer_put()       drop the reference                  [dma_buf_put]
 *
 * The daemon frees a buffer when its last reference is gone; fds and
 * mappings processes still hold stay valid (the kernel keeps the memfd).
 * Holding the fd is always enough to import it again.
 *
 * Errors: every function returns 0 (or a non-negative value) on success
 * and a negative errno on failure; no error path leaks an fd, a mapping
 * or a reference. Once the connection to the daemon breaks, every call
 * that needs it returns the same sticky error (-EPIPE, -ECONNRESET or
 * -EPROTO); handles stay valid to put, and mappings stay valid.
 *
 * Threads: calls on one bs_client are serialised by the library, so one
 * client may be shared by threads; a buffer's reference count is atomic.
 * The library never logs and never raises signals (SIGPIPE included).
 */
#ifndef BUFSHARE_H
#define BUFSHARE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest buffer name, NUL included (like DMA_BUF_NAME_LEN). */
#define BS_NAME_MAX 32
/** Longest process name reported in info, NUL included. */
#define BS_COMM_MAX 16

/** Flags of bs_buffer_mmap(): what the mapping allows. */
#define BS_PROT_READ 0x1  /**< same value as PROT_READ */
#define BS_PROT_WRITE 0x2 /**< same value as PROT_WRITE */

struct bs_client;
struct bs_buffer;

/** What the daemon knows of a buffer (like a line of dma-buf's bufinfo). */
struct bs_buffer_info {
        uint64_t id;         /**< never reused while the daemon runs */
        uint64_t size;       /**< bytes, page-rounded, fixed for life */
        uint64_t created_ns; /**< CLOCK_REALTIME of the export */
        int32_t exporter_pid;
        uint32_t exporter_uid;
        uint32_t n_refs;          /**< references held by all clients */
        char heap[BS_NAME_MAX];   /**< "system", or "adopted" */
        char name[BS_NAME_MAX];   /**< empty if never named */
        char exporter_comm[BS_COMM_MAX];
};

/**
 * Connect to bufshared.
 * @param socket_path  the daemon's socket, or NULL for the default:
 *                     $BUFSHARE_SOCKET, else $XDG_RUNTIME_DIR/bufshare/socket,
 *                     else /run/bufshare/socket for root.
 * @param ret_client   the new client, written only on success; release it
 *                     with bs_client_unref().
 * @retval 0 connected and greeted
 * @retval -EINVAL ret_client is NULL
 * @retval -ENXIO no path given and no default applies
 * @retval -ENAMETOOLONG the path does not fit a unix socket address
 * @retval -ENOENT,-ECONNREFUSED no daemon at the path
 * @retval -EPROTONOSUPPORT the daemon speaks no common protocol version
 * @retval -EPROTO the daemon answered nonsense
 * @retval -ENOMEM out of memory
 */
int bs_client_connect(const char *socket_path, struct bs_client **ret_client);

/** Take a reference on @p c. Returns @p c. */
struct bs_client *bs_client_ref(struct bs_client *c);

/**
 * Drop a reference on @p c; NULL-safe. The connection closes when the last
 * reference goes; buffers hold one each, so it outlives them.
 * @return NULL, always: `c = bs_client_unref(c);`
 */
struct bs_client *bs_client_unref(struct bs_client *c);

/**
 * The largest buffer the daemon accepts, from its HELLO reply.
 * @retval >0 bytes   @retval -EINVAL c is NULL
 */
int64_t bs_client_max_buffer_size(struct bs_client *c);

/**
 * Export a new buffer: a zero-filled sealed memfd of @p size bytes rounded
 * up to the page size, hosted by the daemon. The caller holds one
 * reference.
 * @param heap  "system" (memfd); NULL means "system".
 * @param name  at most BS_NAME_MAX - 1 bytes, or NULL for none.
 * @retval 0 done, *ret_buffer set
 * @retval -EINVAL size 0, a NULL argument, or a name of BS_NAME_MAX bytes
 *         or more (never truncated)
 * @retval -EFBIG size over the daemon's --max-buffer-size
 * @retval -ENOENT unknown heap
 * @retval -EMFILE the daemon ran out of file descriptors
 * @retval -ENOMEM out of memory (here or in the daemon)
 * @retval -EPIPE,-ECONNRESET,-EPROTO the connection is broken
 */
int bs_buffer_export(struct bs_client *c, uint64_t size, const char *heap, const char *name,
                     struct bs_buffer **ret_buffer);

/**
 * Import the buffer behind @p fd (a reference on it, like dma_buf_get()).
 * @p fd stays the caller's. Works even if every other reference was
 * dropped while the fd travelled: the daemon registers the buffer again.
 * @retval 0 done, *ret_buffer set
 * @retval -EBADF fd is not open
 * @retval -EBADFD fd is not a memfd
 * @retval -EINVAL a NULL argument, or a memfd not sealed against shrink and grow
 * @retval -EFBIG an adopted memfd over the size limit
 * @retval -EPIPE,-ECONNRESET,-EPROTO the connection is broken
 */
int bs_buffer_import(struct bs_client *c, int fd, struct bs_buffer **ret_buffer);

/** Take another reference on @p b (library side only). Returns @p b. */
struct bs_buffer *bs_buffer_ref(struct bs_buffer *b);

/**
 * Drop a reference on @p b; NULL-safe. The last one tells the daemon
 * (RELEASE) and closes the library's fd. Mappings stay valid until
 * bs_buffer_munmap().
 * @return NULL, always: `b = bs_buffer_put(b);`
 */
struct bs_buffer *bs_buffer_put(struct bs_buffer *b);

/**
 * A new fd on @p b for the caller (to send to another process).
 * @param flags  0 or O_CLOEXEC; the fd is close-on-exec only when asked,
 *               as with dma_buf_fd().
 * @retval >=0 the fd, owned by the caller
 * @retval -EINVAL b is NULL or flags has another bit
 * @retval -EMFILE out of fds
 */
int bs_buffer_fd(struct bs_buffer *b, int flags);

/** The buffer's size in bytes. @retval >0 size  @retval -EINVAL b is NULL */
int64_t bs_buffer_size(struct bs_buffer *b);

/** The buffer's id. @retval >0 id  @retval -EINVAL b is NULL */
int64_t bs_buffer_id(struct bs_buffer *b);

/**
 * Ask the daemon what it knows of @p b.
 * @retval 0 *ret_info filled
 * @retval -EINVAL a NULL argument
 * @retval -ENOENT the daemon no longer has it
 * @retval -EPIPE,-ECONNRESET,-EPROTO the connection is broken
 */
int bs_buffer_get_info(struct bs_buffer *b, struct bs_buffer_info *ret_info);

/**
 * Name @p b (like DMA_BUF_SET_NAME). The memfd's own name stays
 * "bufshare:ID".
 * @param name  at most BS_NAME_MAX - 1 bytes; "" clears it.
 * @retval 0 done
 * @retval -EINVAL NULL, or BS_NAME_MAX bytes or more (never truncated)
 * @retval -ENOENT the daemon no longer has it
 * @retval -EPIPE,-ECONNRESET,-EPROTO the connection is broken
 */
int bs_buffer_set_name(struct bs_buffer *b, const char *name);

/**
 * Map @p len bytes of @p b starting at page @p pgoff, shared and coherent
 * (a store through any mapping is visible through every other one at
 * once). Any number of partial maps is allowed. The seed's contract:
 * pages pgoff .. pgoff + n, with n = len in pages rounded up.
 * Map once and reuse the mapping: each new mapping pays its page faults.
 * @param prot  a non-empty set of BS_PROT_READ and BS_PROT_WRITE
 * @retval 0 done, *ret_addr is the mapping
 * @retval -EINVAL NULL argument, len 0, bad prot, or pgoff + n past the
 *         end of the buffer
 * @retval -EOVERFLOW pgoff + n wraps around
 * @retval -ENOMEM no address space left
 */
int bs_buffer_mmap(struct bs_buffer *b, uint64_t pgoff, uint64_t len, int prot, void **ret_addr);

/**
 * Unmap a mapping bs_buffer_mmap() returned.
 * @retval 0 done
 * @retval -EINVAL NULL arguments, addr not page-aligned, or len 0
 */
int bs_buffer_munmap(struct bs_buffer *b, void *addr, uint64_t len);

#ifdef __cplusplus
}
#endif

#endif /* BUFSHARE_H */
