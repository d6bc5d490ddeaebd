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
 * Handing a buffer to a peer over a unix socket of your own is one call
 * each side: bs_buffer_send() and bs_buffer_receive(), which also imports
 * it. A buffer may carry an image description (DRM fourcc, modifier,
 * size, planes) stored by the daemon, so a frame's layout travels with
 * its fd: bs_buffer_export_described(), bs_buffer_set_description(),
 * bs_buffer_get_description(), and bs_image_layout() for packed layouts.
 *
 * The daemon frees a buffer when its last reference is gone; fds and
 * mappings processes still hold stay valid (the kernel keeps the memfd).
 * Holding the fd is always enough to import it again.
 *
 * Synchronisation is explicit, as with dma-fence and sync_file (protocol
 * version 2; a version 1 daemon answers these calls -EOPNOTSUPP):
 *
 *   1. bs_fence_create()          a fence of this connection's   [dma_fence_init]
 *   2. bs_fence_attach()          pending on a buffer, as a read or a write
 *                                 fence                           [dma_resv_add_fence]
 *   3. bs_buffer_export_sync_file() an fd of the waiter's own, readable
 *                                 once what it waits for is signalled
 *                                                    [DMA_BUF_IOCTL_EXPORT_SYNC_FILE]
 *   4. bs_sync_file_wait()        poll() it, or hand it to any event loop
 *   5. bs_fence_signal()          by its creator, once, with a status
 *                                                    [dma_fence_signal]
 * A connection that closes signals its unsignalled fences with -EPIPE at
 * once. bs_buffer_begin_cpu_access() waits for the conflicting fences.
 *
 * A pool (bs_pool_create()) recycles N buffers mapped once: each
 * bs_pool_submit() gives every other holder of the buffer a read fence
 * of its own, which it signals with bs_buffer_release_read() when it has
 * read the frame (or by dying: -EPIPE), and bs_pool_acquire() hands out
 * only a buffer whose readers are all done. How consumers learn that a
 * frame is ready is the application's business (a socket, a pipe, a
 * counter in shared memory): bufshare orders the buffers, not the frames.
 *
 * Errors: every function returns 0 (or a non-negative value) on success
 * and a negative errno on failure; no error path leaks an fd, a mapping
 * or a reference. Once the connection to the daemon breaks, every call
 * that needs it returns the same sticky error (-EPIPE, -ECONNRESET,
 * -EPROTO, or -ETIMEDOUT for a daemon that stopped answering); handles
 * stay valid to put, and mappings stay valid.
 *
 * Blocking: a call that talks to the daemon waits for its reply at most
 * the client's timeout (bs_client_set_timeout(), 25 s by default, or
 * $BUFSHARE_TIMEOUT_MS), connecting included; bs_buffer_put() and
 * bs_buffer_ref() never wait for anything.
 *
 * Threads: one bs_client may be used by many threads at once. Requests
 * are pipelined and every reply is matched to its request by serial, and
 * only its own caller is woken; a buffer's reference count is atomic. A
 * handle must not be put by one thread while another still uses it.
 * The library never logs and never raises signals (SIGPIPE included),
 * except on request: with BUFSHARE_DEBUG=1 in the environment, each call
 * that fails prints one line to stderr with its arguments, its error and
 * the reason (the daemon's answer, or the library's own check).
 */
#ifndef BUFSHARE_H
#define BUFSHARE_H

#include <stddef.h>
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

/** Flags of bs_buffer_begin_cpu_access(), like DMA_BUF_SYNC_READ/WRITE. */
#define BS_SYNC_READ 0x1
#define BS_SYNC_WRITE 0x2

/** Entries of each list in struct bs_buffer_info. */
#define BS_INFO_LIST_MAX 8

/** The kernel's enum dma_data_direction, same values. */
enum bs_data_direction {
        BS_DMA_BIDIRECTIONAL = 0, /**< the device reads and writes */
        BS_DMA_TO_DEVICE = 1,     /**< the device only reads */
        BS_DMA_FROM_DEVICE = 2,   /**< the device writes */
};

/**
 * DRM pixel formats (drm_fourcc.h's values, so that no libdrm header is
 * needed): bytes in memory order from the least significant, e.g.
 * XRGB8888 is a little-endian 32-bit word [31:0] x:R:G:B.
 */
#define BS_FOURCC(a, b, c, d)                                                  \
        ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define BS_FORMAT_XRGB8888 BS_FOURCC('X', 'R', '2', '4') /**< DRM_FORMAT_XRGB8888 */
#define BS_FORMAT_ARGB8888 BS_FOURCC('A', 'R', '2', '4') /**< DRM_FORMAT_ARGB8888 */
#define BS_FORMAT_XBGR8888 BS_FOURCC('X', 'B', '2', '4') /**< DRM_FORMAT_XBGR8888 */
#define BS_FORMAT_ABGR8888 BS_FOURCC('A', 'B', '2', '4') /**< DRM_FORMAT_ABGR8888 */
#define BS_FORMAT_RGB565 BS_FOURCC('R', 'G', '1', '6')   /**< DRM_FORMAT_RGB565 */
#define BS_FORMAT_R8 BS_FOURCC('R', '8', ' ', ' ')       /**< DRM_FORMAT_R8 */
#define BS_FORMAT_YUYV BS_FOURCC('Y', 'U', 'Y', 'V')     /**< DRM_FORMAT_YUYV, packed 4:2:2 */
#define BS_FORMAT_NV12 BS_FOURCC('N', 'V', '1', '2')     /**< DRM_FORMAT_NV12: Y, then CbCr 2x2 subsampled */
#define BS_FORMAT_NV21 BS_FOURCC('N', 'V', '2', '1')     /**< DRM_FORMAT_NV21: Y, then CrCb */
#define BS_FORMAT_P010 BS_FOURCC('P', '0', '1', '0')     /**< DRM_FORMAT_P010: NV12 with 16-bit samples */
#define BS_FORMAT_YUV420 BS_FOURCC('Y', 'U', '1', '2')   /**< DRM_FORMAT_YUV420: Y, Cb, Cr planes */
#define BS_FORMAT_YVU420 BS_FOURCC('Y', 'V', '1', '2')   /**< DRM_FORMAT_YVU420: Y, Cr, Cb planes */
/** DRM_FORMAT_MOD_LINEAR: rows one after the other. */
#define BS_FORMAT_MOD_LINEAR 0ull
/** DRM_FORMAT_MOD_INVALID: "no explicit modifier" (implicit layout). */
#define BS_FORMAT_MOD_INVALID 0x00ffffffffffffffull

/** Planes of an image description at most (EGL and DRM take four). */
#define BS_MAX_PLANES 4

/** One plane: where its first row starts and how far apart rows are. */
struct bs_plane {
        uint64_t offset;   /**< bytes from the buffer's start */
        uint32_t stride;   /**< bytes from one row to the next (DRM's pitch) */
        uint32_t reserved; /**< 0 */
};

/**
 * How an image lies in a buffer, in DRM's terms (docs/api.md maps each
 * field to EGL_EXT_image_dma_buf_import and drmModeAddFB2WithModifiers).
 * All zero (fourcc 0) means "no description". Checked by the daemon:
 * n_planes planes, the rest zero; each plane inside the buffer, as DRM
 * checks a framebuffer: offset + (rows - 1) * stride + row bytes <= size,
 * stride >= row bytes, for the format's plane count, bytes per pixel and
 * subsampling (formats bufshare doesn't know: every plane height rows of
 * stride bytes). The modifier is stored, not interpreted.
 */
struct bs_image_description {
        uint32_t fourcc;   /**< BS_FORMAT_* or any DRM fourcc; 0: none */
        uint32_t n_planes; /**< 1 to BS_MAX_PLANES (the format's own count if bufshare knows it) */
        uint64_t modifier; /**< BS_FORMAT_MOD_LINEAR, or another DRM format modifier */
        uint32_t width;    /**< pixels, > 0 */
        uint32_t height;   /**< rows, > 0 */
        struct bs_plane planes[BS_MAX_PLANES];
};

/** The largest payload bs_buffer_send() carries with a buffer. */
#define BS_HANDOVER_PAYLOAD_MAX 4096

struct bs_client;
struct bs_buffer;
struct bs_attachment;
struct bs_fence;
struct bs_pool;

/** The most buffers in one pool. */
#define BS_POOL_MAX 64

/** One segment of a mapped attachment: page-aligned bytes of the buffer. */
struct bs_segment {
        uint64_t offset;
        uint64_t length;
};

/** The segments of a mapped attachment, in order, covering the buffer. */
struct bs_sg_table {
        uint32_t n_segments;
        uint32_t reserved;
        const struct bs_segment *segments;
};

/** A process in a list of struct bs_buffer_info. */
struct bs_info_holder {
        int32_t pid;
        uint32_t flags; /**< BS_SYNC_* for CPU access; 0 otherwise */
};

/** An attachment, as struct bs_buffer_info lists it. */
struct bs_info_attachment {
        char device[BS_NAME_MAX];
        int32_t pid;        /**< who attached it */
        uint32_t mapped;    /**< 1 while mapped */
        uint32_t direction; /**< enum bs_data_direction while mapped */
};

/** What the daemon knows of a buffer (like a line of dma-buf's bufinfo). */
struct bs_buffer_info {
        uint64_t id;         /**< never reused while the daemon runs */
        uint64_t size;       /**< bytes, page-rounded, fixed for life */
        uint64_t created_ns; /**< CLOCK_REALTIME of the export */
        int32_t exporter_pid;
        uint32_t exporter_uid;
        uint32_t n_refs;          /**< references held by all clients */
        char heap[BS_NAME_MAX];   /**< "system", "system-huge" or "adopted" */
        char name[BS_NAME_MAX];   /**< empty if never named */
        char exporter_comm[BS_COMM_MAX];
        uint32_t n_readonly;    /**< clients holding read-only references */
        uint32_t n_attachments; /**< attachments of all clients */
        uint32_t n_cpu_access;  /**< clients inside CPU access */
        struct bs_info_holder readonly[BS_INFO_LIST_MAX];     /**< the first n_readonly */
        struct bs_info_attachment attachments[BS_INFO_LIST_MAX]; /**< the first n_attachments */
        struct bs_info_holder cpu_access[BS_INFO_LIST_MAX];   /**< the first n_cpu_access */
        struct bs_image_description description; /**< all zero if it has none */
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
 * @retval -ETIMEDOUT the daemon did not answer within the timeout
 *         ($BUFSHARE_TIMEOUT_MS, or 25 s)
 * @retval -EPROTONOSUPPORT the daemon speaks no common protocol version
 * @retval -EUSERS the daemon serves as many connections as it may, in
 *         all or of this uid (--max-clients, --max-connections-per-uid)
 * @retval -ECONNRESET,-EPIPE the daemon hung up at once: it does so with
 *         more connections over its limits than it keeps to tell -EUSERS
 * @retval -EACCES the socket is not this process's to connect to
 * @retval -EPROTO the daemon answered nonsense
 * @retval -ENOMEM out of memory
 */
int bs_client_connect(const char *socket_path, struct bs_client **ret_client);

/**
 * Wait until the daemon has processed every request this client sent
 * before, and every bs_buffer_put() so far, and has freed what they
 * released (its own fds on buffers nobody holds any more are closed).
 * Use it when another connection must see the effect, as
 * wl_display_roundtrip().
 * @retval 0 done  @retval -EINVAL c is NULL
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_client_sync(struct bs_client *c);

/**
 * How long each call waits for the daemon's reply before the connection
 * is given up with -ETIMEDOUT (sticky). Default: $BUFSHARE_TIMEOUT_MS,
 * else 25000 ms.
 * @param timeout_ms  milliseconds, 0 for calls that only succeed when the
 *                    reply is there at once, -1 to wait forever
 * @retval 0 done  @retval -EINVAL c is NULL or timeout_ms < -1
 */
int bs_client_set_timeout(struct bs_client *c, int timeout_ms);

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
 * The daemon's limits. A uid pays for each buffer one of its clients
 * exported while it holds it, else for the buffers its clients hold
 * longest (see README, "Who pays"). The fields after max_clients are 0
 * from a daemon that speaks protocol version 1 only. The daemon's
 * --max-sync-files-per-uid and --max-fences-per-uid are not here (the
 * protocol's LIMITS reply has no room for them): their D-Bus properties
 * MaxSyncFilesPerUid and MaxFencesPerUid tell them.
 */
struct bs_limits {
        uint64_t max_buffer_size;        /**< one buffer: -EFBIG above */
        uint64_t max_bytes_per_uid;      /**< bytes one uid pays for: -EDQUOT */
        uint32_t max_buffers_per_client; /**< buffers one client holds: -EMFILE */
        uint32_t max_clients;            /**< connections in all: -EUSERS */
        uint32_t max_buffers_per_uid;    /**< buffers one uid pays for: -EDQUOT */
        uint32_t max_connections_per_uid; /**< connections of one uid: -EUSERS */
        uint32_t max_attachments_per_client; /**< attachments of one client: -EMFILE */
        uint32_t max_fences_per_client;  /**< fences of one client not yet destroyed: -EMFILE */
        uint32_t max_waiters_per_client; /**< pending sync files of one client: -EMFILE */
        uint32_t max_waiters_per_fence;  /**< pending sync files on one fence: -ENOSPC */
};

/**
 * Fill @p ret_limits (the first call asks the daemon).
 * @retval 0 done @retval -EINVAL a NULL argument
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_client_get_limits(struct bs_client *c, struct bs_limits *ret_limits);

/**
 * Export a new buffer: a zero-filled sealed memfd of @p size bytes rounded
 * up to the page size, hosted by the daemon. The caller holds one
 * reference.
 * @param heap  "system" (memfd) or "system-huge" (memfd on hugetlbfs, the
 *              size rounded to the huge page); NULL means "system".
 * @param name  at most BS_NAME_MAX - 1 bytes, or NULL for none.
 * @retval 0 done, *ret_buffer set
 * @retval -EINVAL size 0, a NULL argument, or a name or heap of
 *         BS_NAME_MAX bytes or more (never truncated)
 * @retval -EFBIG size over the daemon's --max-buffer-size
 * @retval -ENOENT unknown heap
 * @retval -EMFILE this client holds --max-buffers-per-client buffers, or
 *         the daemon ran out of file descriptors
 * @retval -EDQUOT the uid would pay for more than --max-bytes-per-uid
 *         bytes or --max-buffers-per-uid buffers
 * @retval -ENOMEM out of memory (here or in the daemon), or for
 *         "system-huge", not enough free huge pages (vm.nr_hugepages)
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_export(struct bs_client *c, uint64_t size, const char *heap, const char *name,
                     struct bs_buffer **ret_buffer);

/** Buffers one request of bs_buffer_export_many() carries. */
#define BS_EXPORT_BATCH_MAX 32

/**
 * Export @p n buffers of @p size bytes each, as @p n bs_buffer_export()
 * calls would, with far fewer round trips: up to BS_EXPORT_BATCH_MAX
 * buffers travel in one request and its reply (their fds together), and
 * for a larger @p n several such requests are kept in flight at once.
 * All or nothing: on error no buffer is left (the daemon makes none of a
 * request it refuses, and the library puts those of the others), and
 * every entry of @p ret_buffers is NULL. Every limit applies to each
 * buffer, as if they came one by one.
 * @param n            how many, at least 1
 * @param heap         as for bs_buffer_export(); NULL means "system"
 * @param name         every buffer's name, or NULL for none
 * @param ret_buffers  an array of @p n, filled on success; each buffer is
 *                     put on its own with bs_buffer_put()
 * @retval 0 done, ret_buffers[0..n) set
 * @retval -EINVAL n or size is 0, a NULL argument, or a long name
 * @retval -EFBIG,-ENOENT,-EMFILE,-EDQUOT,-ENOMEM as bs_buffer_export(),
 *         when any one of the buffers would get it
 * @retval -EOPNOTSUPP the daemon speaks only protocol version 1
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_export_many(struct bs_client *c, unsigned n, uint64_t size, const char *heap, const char *name,
                          struct bs_buffer **ret_buffers);

/**
 * Import the buffer behind @p fd (a reference on it, like dma_buf_get()).
 * @p fd stays the caller's. Works even if every other reference was
 * dropped while the fd travelled: the daemon registers the buffer again,
 * with its id and name if its uid released it recently, and this
 * client's uid pays for it. A memfd the daemon never hosted is admitted
 * under exactly the rules of bs_buffer_export_memfd(), except that a
 * read-only fd is fine when it needs no seal added.
 * A read-only fd (see bs_buffer_fd()) gives a read-only reference.
 * @retval 0 done, *ret_buffer set
 * @retval -EBADF fd is not open, or not open for reading (O_PATH, O_WRONLY)
 * @retval -EBADFD fd is not a memfd
 * @retval -EINVAL a NULL argument; or a memfd the daemon does not host
 *         without F_SEAL_SHRINK, with F_SEAL_WRITE or F_SEAL_FUTURE_WRITE,
 *         sealed with F_SEAL_SEAL but not F_SEAL_GROW, or whose size is 0
 *         or not a multiple of the page size
 * @retval -EACCES a read-only fd on a memfd the daemon would have to seal
 * @retval -EPERM a read-only fd on an inode that others could reopen writable
 * @retval -EFBIG a memfd over the size limit
 * @retval -EMFILE,-EDQUOT over a limit, as for bs_buffer_export()
 * @retval -EOVERFLOW the buffer has 2^32 - 1 references already
 * @retval -ENOMEM out of memory, here or in the daemon
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_import(struct bs_client *c, int fd, struct bs_buffer **ret_buffer);

/**
 * Adopt the caller's memfd as a buffer, as udmabuf does: the whole file,
 * since an fd can't be narrowed to a range. The daemon adds F_SEAL_GROW
 * and F_SEAL_SEAL, so no writable importer can add a write seal later and
 * lock the exporter out, and makes the inode mode 0444 if it may. Every
 * check comes first: a refused memfd is left exactly as it was (one that
 * its creator grows during the call is sealed, then checked at its real
 * size).
 * @p memfd stays the caller's (opened read-write).
 * @retval 0 done, *ret_buffer set (heap "adopted")
 * @retval -EBADFD memfd is not a memfd
 * @retval -EINVAL without F_SEAL_SHRINK; with F_SEAL_WRITE or
 *         F_SEAL_FUTURE_WRITE; size 0 or not a multiple of the page size;
 *         can still grow but takes no more seals; a NULL argument or a
 *         name of BS_NAME_MAX bytes or more
 * @retval -EBADF not open, or an O_PATH or O_WRONLY fd
 * @retval -EACCES memfd is open read-only
 * @retval -EEXIST the daemon already hosts this memfd: import it
 * @retval -EFBIG,-EMFILE,-EDQUOT over a limit
 * @retval -ENOMEM out of memory, here or in the daemon
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_export_memfd(struct bs_client *c, int memfd, const char *name,
                           struct bs_buffer **ret_buffer);

/**
 * The heaps the daemon allocates from, like /dev/dma_heap/.
 * @param names    receives up to @p n_names names
 * @retval >=0 the number of heaps (may exceed n_names)
 * @retval -EINVAL c is NULL, or names is NULL with n_names > 0
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_client_list_heaps(struct bs_client *c, char names[][BS_NAME_MAX], unsigned n_names);

/** Take another reference on @p b (library side only). Returns @p b. */
struct bs_buffer *bs_buffer_ref(struct bs_buffer *b);

/**
 * Drop a reference on @p b; NULL-safe. The last one closes the library's
 * fd and tells the daemon at once, in one message that gets no reply.
 * Like dma_buf_put() it never blocks: if the daemon's socket has no room
 * (a daemon that stopped reading), the release waits in the library and
 * goes before this client's next message. After bs_client_sync() the
 * daemon has applied it and freed what it released. Closing the
 * connection releases everything. Mappings stay valid until
 * bs_buffer_munmap().
 * @return NULL, always: `b = bs_buffer_put(b);`
 */
struct bs_buffer *bs_buffer_put(struct bs_buffer *b);

/**
 * A new fd on @p b for the caller (to send to another process).
 * @param flags  O_RDWR for a writable fd, O_RDONLY for a read-only view
 *               (as DRM PRIME's DRM_RDWR), or'ed with O_CLOEXEC when
 *               wanted: the fd is close-on-exec only when asked, as with
 *               dma_buf_fd(). A read-only view is a new open file on the
 *               inode: the kernel refuses writes and writable shared maps
 *               through it, and importing it gives a read-only reference.
 *               The daemon makes its memfds mode 0444, so a process of
 *               another uid can't reopen the view writable; root and the
 *               inode's owner (the daemon's uid) always can.
 * @retval >=0 the fd, owned by the caller
 * @retval -EINVAL b is NULL, O_WRONLY, or flags has another bit
 * @retval -EACCES O_RDWR on a read-only reference
 * @retval -EPERM O_RDONLY on an inode others could reopen writable (an
 *         adopted memfd the daemon could not make read-only)
 * @retval -EMFILE out of fds
 */
int bs_buffer_fd(struct bs_buffer *b, int flags);

/** Whether @p b is a read-only reference. @retval 1 yes @retval 0 no @retval -EINVAL NULL */
int bs_buffer_is_readonly(struct bs_buffer *b);

/** The buffer's size in bytes. @retval >0 size  @retval -EINVAL b is NULL */
int64_t bs_buffer_size(struct bs_buffer *b);

/** The buffer's id. @retval >0 id  @retval -EINVAL b is NULL */
int64_t bs_buffer_id(struct bs_buffer *b);

/**
 * Ask the daemon what it knows of @p b, its image description included
 * (from a daemon of protocol version 1: none).
 * @retval 0 *ret_info filled
 * @retval -EINVAL a NULL argument
 * @retval -ENOENT the daemon no longer has it
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_get_info(struct bs_buffer *b, struct bs_buffer_info *ret_info);

/**
 * Name @p b (like DMA_BUF_SET_NAME); any holder of a writable reference
 * may. The memfd's own name stays "bufshare:ID".
 * @param name  at most BS_NAME_MAX - 1 bytes; "" clears it.
 * @retval 0 done
 * @retval -EINVAL NULL, or BS_NAME_MAX bytes or more (never truncated)
 * @retval -EACCES this client holds only read-only references to it (a
 *         writable one held by the same client, through any handle, is
 *         enough)
 * @retval -ENOENT the daemon no longer has it
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
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
 * @retval -EACCES BS_PROT_WRITE on a read-only reference
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

/**
 * Map the whole buffer (like dma_buf_vmap()): read-write, or read-only
 * for a read-only reference. Undo with bs_buffer_vunmap().
 * @retval 0 done  @retval -EINVAL NULL  @retval -ENOMEM no address space
 */
int bs_buffer_vmap(struct bs_buffer *b, void **ret_addr);

/** Unmap what bs_buffer_vmap() mapped. @retval 0 @retval -EINVAL bad arguments */
int bs_buffer_vunmap(struct bs_buffer *b, void *addr);

/**
 * Map one page, @p page_num, of the buffer (like the old dma_buf_kmap()).
 * @retval 0 done  @retval -EINVAL NULL, or page_num past the last page
 */
int bs_buffer_kmap(struct bs_buffer *b, uint64_t page_num, void **ret_addr);

/** Unmap what bs_buffer_kmap(@p page_num) mapped. @retval 0 @retval -EINVAL bad arguments */
int bs_buffer_kunmap(struct bs_buffer *b, uint64_t page_num, void *addr);

/**
 * Begin CPU access (DMA_BUF_IOCTL_SYNC with DMA_BUF_SYNC_START). Mappings
 * are coherent: this waits for the conflicting fences pending on @p b (a
 * write for all of them, a read for write fences), at most the client's
 * timeout (bs_client_set_timeout()), then tells the daemon who is inside,
 * as info shows. Several processes may be inside at once. A connection
 * that closes inside CPU access is ended by the daemon. A fence of this
 * very process conflicts too: signal it before beginning, or this waits
 * for the timeout. A version 1 daemon does not wait.
 * @param flags  a non-empty set of BS_SYNC_READ and BS_SYNC_WRITE
 * @retval 0 done
 * @retval -EINVAL NULL, empty or unknown flags
 * @retval -EACCES BS_SYNC_WRITE on a read-only reference
 * @retval -ENOENT the daemon no longer has it
 * @retval -EOVERFLOW 2^32 - 1 begins of this flag are open already
 * @retval -ETIME a conflicting fence is still pending after the timeout:
 *         nothing begun (the connection is fine)
 * @retval <0 the error a conflicting fence was signalled with (-EPIPE if
 *         its creator died): nothing begun; a retry succeeds, since that
 *         fence is no longer pending
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_begin_cpu_access(struct bs_buffer *b, unsigned flags);

/**
 * bs_buffer_begin_cpu_access() waiting at most @p timeout_ms for the
 * conflicting fences: 0 to begin only if none is pending, -1 for ever.
 * @retval -EINVAL also for timeout_ms < -1
 */
int bs_buffer_begin_cpu_access_timeout(struct bs_buffer *b, unsigned flags, int timeout_ms);

/**
 * End CPU access (DMA_BUF_SYNC_END).
 * @retval 0 done
 * @retval -EINVAL NULL, empty or unknown flags, or no matching begin for
 *         one of the flags
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_end_cpu_access(struct bs_buffer *b, unsigned flags);

/**
 * Attach a device to @p b (like dma_buf_attach()); the attachment holds a
 * reference on @p b until bs_buffer_detach().
 * @param device  a name, 1 to BS_NAME_MAX - 1 bytes
 * @retval 0 done  @retval -EINVAL NULL, empty or long name
 * @retval -ENOENT the daemon no longer has it
 * @retval -EMFILE this client has --max-attachments-per-client attachments
 * @retval -ENOMEM out of memory, here or in the daemon
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_attach(struct bs_buffer *b, const char *device, struct bs_attachment **ret_attachment);

/**
 * bs_buffer_attach() for a device whose segments can be at most
 * @p max_segment bytes (like dma_set_max_seg_size()); 0: no limit.
 * @retval -EINVAL also when max_segment is not a multiple of the page size
 */
int bs_buffer_attach_segmented(struct bs_buffer *b, const char *device, uint64_t max_segment,
                               struct bs_attachment **ret_attachment);

/**
 * Map an attachment for @p direction (like dma_buf_map_attachment()): a
 * segment table of page-aligned (offset, length) pairs covering the
 * buffer, owned by the attachment until bs_attachment_unmap().
 * @retval 0 done, *ret_table set
 * @retval -EINVAL NULL, or a direction outside enum bs_data_direction
 * @retval -EACCES BS_DMA_FROM_DEVICE or BS_DMA_BIDIRECTIONAL (the device
 *         would write) on a read-only reference
 * @retval -EBUSY already mapped
 * @retval -ENOMEM out of memory for the table
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_attachment_map(struct bs_attachment *a, enum bs_data_direction direction,
                      const struct bs_sg_table **ret_table);

/**
 * Unmap (like dma_buf_unmap_attachment()); unmapped unless this returns -EINVAL.
 * @retval 0 done  @retval -EINVAL NULL, not mapped, or another table
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_attachment_unmap(struct bs_attachment *a, const struct bs_sg_table *table);

/**
 * Detach and free @p a (like dma_buf_detach()); a mapped attachment is
 * unmapped first. @p a is gone unless this returns -EINVAL.
 * @retval 0 done  @retval -EINVAL NULL, or @p a is not @p b's
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_detach(struct bs_buffer *b, struct bs_attachment *a);

/**
 * Export a new buffer, as bs_buffer_export(), that carries the image
 * description @p desc from the start (no other process can see the
 * buffer before it is described).
 * @param desc  the layout (see struct bs_image_description), checked
 *              against @p size; bs_image_layout() computes packed ones
 * @retval 0 done, *ret_buffer set
 * @retval -EINVAL a NULL argument, size 0, or a description that does not
 *         fit @p size (a plane outside it, a stride shorter than a row, a
 *         plane count the format doesn't have, a zero width or height)
 * @retval -EOPNOTSUPP the daemon speaks protocol version 1 only
 * @retval -EFBIG,-ENOENT,-EMFILE,-EDQUOT,-ENOMEM as bs_buffer_export()
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_export_described(struct bs_client *c, uint64_t size, const char *heap, const char *name,
                               const struct bs_image_description *desc, struct bs_buffer **ret_buffer);

/**
 * Describe @p b's image, replacing any description it had; any holder of
 * a writable reference may. Every holder sees it from then on
 * (bs_buffer_get_description(), bs_buffer_get_info(), bs_buffer_receive()).
 * @param desc  the new description, or NULL to remove it
 * @retval 0 done
 * @retval -EINVAL b is NULL, or the description doesn't fit the buffer
 *         (see bs_buffer_export_described())
 * @retval -EACCES only read-only references are held
 * @retval -ENOENT the daemon no longer has it
 * @retval -EOPNOTSUPP the daemon speaks protocol version 1 only
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_set_description(struct bs_buffer *b, const struct bs_image_description *desc);

/**
 * Ask the daemon for @p b's image description (one round trip: ask once
 * per buffer, not per frame).
 * @retval 0 *ret_desc filled
 * @retval -ENODATA the buffer has no description (*ret_desc untouched)
 * @retval -EINVAL a NULL argument
 * @retval -ENOENT the daemon no longer has it
 * @retval -EOPNOTSUPP the daemon speaks protocol version 1 only
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_get_description(struct bs_buffer *b, struct bs_image_description *ret_desc);

/**
 * The packed, LINEAR layout of a @p width x @p height image of @p fourcc,
 * and the bytes it needs. The rules: plane 0 has width x height pixels;
 * the chroma planes of NV12, NV21, P010, YUV420 and YVU420 have
 * ceil(width / 2) x ceil(height / 2) (odd sizes round up, as DRM's
 * drm_format_info_plane_width() does); each plane's stride is its row
 * bytes (pixels x bytes per pixel: 4 for the 8888 formats, 2 for RGB565
 * and YUYV, 1 for R8 and each 8-bit YUV plane, 2 and 4 for P010's Y and
 * CbCr) rounded up to @p stride_align; each plane starts where the one
 * before ends, rounded up to @p stride_align; *ret_size is where the last
 * one ends (bs_buffer_export() then rounds it up to the page).
 * Hardware often wants strides of 64 or 256 bytes; wl_shm takes any.
 * @param fourcc        one of the BS_FORMAT_* above
 * @param stride_align  0 (packed), or a power of two up to 65536
 * @retval 0 *ret_desc and *ret_size set
 * @retval -EINVAL a NULL argument, a format not listed above, width or
 *         height 0, or a bad stride_align
 * @retval -EOVERFLOW a stride over 32 bits or a size over 64
 */
int bs_image_layout(uint32_t fourcc, uint32_t width, uint32_t height, uint32_t stride_align,
                    struct bs_image_description *ret_desc, uint64_t *ret_size);

/**
 * Hand @p b to the process at the other end of @p sock, a connected unix
 * socket of the caller's (SOCK_SEQPACKET or SOCK_DGRAM, so that the
 * message keeps its bounds): one message of @p payload_len bytes of
 * @p payload carrying one new fd on the buffer, writable or a read-only
 * view (see bs_buffer_fd()). The peer takes it with bs_buffer_receive(),
 * or any recvmsg() that takes SCM_RIGHTS (Python's socket.recv_fds()).
 * Blocks as the socket does; never raises SIGPIPE. The fd sent is this
 * call's own, closed once sent: the receiver holds the only copy.
 * @param flags    O_RDWR for a writable fd, O_RDONLY for a read-only view
 * @param payload  caller-defined bytes (a frame number, a timestamp...);
 *                 may be NULL when @p payload_len is 0
 * @retval 0 sent
 * @retval -EINVAL b is NULL, sock is negative, flags is neither O_RDWR
 *         nor O_RDONLY, or payload is NULL with a length
 * @retval -EMSGSIZE payload_len over BS_HANDOVER_PAYLOAD_MAX
 * @retval -EPROTOTYPE sock is a SOCK_STREAM socket (no message bounds)
 * @retval -ENOTSOCK sock is not a socket
 * @retval -EACCES O_RDWR on a read-only reference
 * @retval -EPERM O_RDONLY on an inode others could reopen writable
 * @retval -EAGAIN a non-blocking socket is full
 * @retval -EPIPE,-ECONNRESET,-ENOTCONN the peer is gone
 * @retval -EMFILE out of fds
 */
int bs_buffer_send(struct bs_buffer *b, int sock, int flags, const void *payload, size_t payload_len);

/**
 * Receive one buffer that a peer sent over @p sock (bs_buffer_send()), and
 * import it through @p c. As strict as the daemon with its own socket:
 * the message must carry exactly one fd and nothing else, must not be
 * cut short, and its payload must fit @p payload_max (and
 * BS_HANDOVER_PAYLOAD_MAX); every fd that came with a refused message is
 * closed, and a refused message is consumed. Fds are received
 * close-on-exec. The fd must be a buffer the daemon accepts to import
 * (see bs_buffer_import()): the daemon's own limits bound its size.
 * Blocks as the socket does.
 * @param payload      receives the payload; may be NULL when payload_max is 0
 * @param ret_payload_len  the payload's length, may be NULL
 * @param ret_buffer   the imported buffer (a read-only reference for a view)
 * @param ret_desc     its image description (all zero if none), may be NULL
 * @retval 0 done; the ret_ arguments are written only then
 * @retval -EINVAL c, sock or ret_buffer bad, or payload NULL with a size
 * @retval -EAGAIN a non-blocking socket has nothing queued
 * @retval -ECONNRESET the peer closed the socket
 * @retval -EPROTO the message carried no fd, more than one, or something
 *         other than fds, or was longer than BS_HANDOVER_PAYLOAD_MAX
 * @retval -EMSGSIZE the payload was longer than payload_max
 * @retval -EPROTOTYPE sock is a SOCK_STREAM socket
 * @retval -ENOTSOCK sock is not a socket
 * @retval -EMFILE this process is out of fds
 * @retval -EBADF,-EBADFD,-EINVAL,-EACCES,-EPERM,-EFBIG,-EMFILE,-EDQUOT
 *         the daemon refused the fd, as for bs_buffer_import()
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection to the
 *         daemon is broken
 */
int bs_buffer_receive(struct bs_client *c, int sock, void *payload, size_t payload_max,
                      size_t *ret_payload_len, struct bs_buffer **ret_buffer,
                      struct bs_image_description *ret_desc);

/* ---- fences and sync files ------------------------------------------- */

/**
 * A sync file for @p b, like DMA_BUF_IOCTL_EXPORT_SYNC_FILE: an fd that
 * becomes readable (poll()) once the fences pending on @p b now are all
 * signalled; fences attached later don't hold it up. The fd is the
 * caller's own, close-on-exec: reading or writing it affects nobody else,
 * and it may be sent to another process.
 * @param flags  BS_SYNC_READ: wait for the write fences (before reading);
 *               BS_SYNC_WRITE (or both): wait for every fence (before
 *               writing)
 * @retval >=0 the sync file; signalled already if nothing was pending
 * @retval -EINVAL NULL, empty or unknown flags
 * @retval -ENOENT the daemon no longer has it
 * @retval -EMFILE this client has --max-waiters-per-client pending sync
 *         files, or the daemon or this process is out of fds
 * @retval -EDQUOT the clients of this uid, connected still or not, made
 *         --max-sync-files-per-uid pending sync files
 * @retval -ENOSPC what it would wait for has --max-waiters-per-fence waiters
 * @retval -EOPNOTSUPP the daemon speaks protocol version 1
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_buffer_export_sync_file(struct bs_buffer *b, unsigned flags);

/**
 * Make the sync file @p fd pending on @p b as a fence of @p usage, like
 * DMA_BUF_IOCTL_IMPORT_SYNC_FILE: it signals when the sync file does,
 * with its status, even if the importer goes away first. A signalled
 * sync file adds nothing. @p fd stays the caller's.
 * @param usage  BS_SYNC_READ: a read fence; BS_SYNC_WRITE (or both): a
 *               write fence
 * @retval 0 done
 * @retval -EINVAL NULL, empty or unknown usage, or @p fd is not a sync
 *         file of this daemon (or its status was read out of it)
 * @retval -EBADF fd < 0
 * @retval -EACCES BS_SYNC_WRITE on a read-only reference
 * @retval -ENOSPC the sync file has --max-waiters-per-fence waiters
 * @retval -ENOENT,-EOPNOTSUPP,-EPIPE,... as bs_buffer_export_sync_file()
 */
int bs_buffer_import_sync_file(struct bs_buffer *b, unsigned usage, int fd);

/**
 * A new sync file signalled once both @p fd1 and @p fd2 are (SYNC_IOC_MERGE),
 * with the first error among them. Both stay the caller's; they may be
 * the same fd.
 * @retval >=0 the merged sync file
 * @retval -EINVAL @p c is NULL, or an fd is not a sync file of this daemon
 * @retval -EBADF an fd < 0
 * @retval -EMFILE,-ENOSPC,-EOPNOTSUPP,-EPIPE,... as bs_buffer_export_sync_file()
 */
int bs_sync_file_merge(struct bs_client *c, int fd1, int fd2);

/**
 * Wait until the sync file @p fd is signalled, without the daemon: poll()
 * and a peek at its status, which stays in the fd for the next asker.
 * Polled directly, a sync file is readable (POLLIN) once it is
 * signalled, often with POLLHUP (the daemon let go of its other end):
 * POLLHUP is no error there. It is readable too, with POLLHUP, when the
 * daemon went away without signalling it; this call and
 * bs_sync_file_status() tell which (that one is -EINVAL).
 * @param timeout_ms  0 to ask only, -1 to wait for ever
 * @retval 0 signalled, and every fence it waited for succeeded
 * @retval <0 signalled with that error: the first error among its fences
 *         (-EPIPE: a fence's creator died)
 * @retval -ETIME still pending after @p timeout_ms
 * @retval -EINVAL not a sync file (or its status was read out of it, or
 *         it ended with none: the daemon went away), or timeout_ms < -1; an fd that isn't even a unix SOCK_SEQPACKET
 *         socket (a pipe, an eventfd) says so at once, without waiting
 * @retval -EBADF fd is not open
 */
int bs_sync_file_wait(int fd, int timeout_ms);

/**
 * The state of the sync file @p fd, at once (SYNC_IOC_FILE_INFO's status).
 * @retval 1 signalled without error
 * @retval 0 pending
 * @retval <0 signalled with that error; or -EINVAL, -EBADF as bs_sync_file_wait()
 */
int bs_sync_file_status(int fd);

/**
 * A new fence of this connection's, unsignalled (dma_fence_init()). Only
 * this connection can signal it; if it closes first, the fence is
 * signalled with -EPIPE.
 * @retval 0 done, *ret_fence set; free it with bs_fence_destroy()
 * @retval -EINVAL a NULL argument
 * @retval -EMFILE this client has --max-fences-per-client fences
 * @retval -EDQUOT the clients of this uid have --max-fences-per-uid fences
 *         they did not destroy
 * @retval -EOPNOTSUPP,-EPIPE,... as bs_buffer_export_sync_file()
 */
int bs_fence_create(struct bs_client *c, struct bs_fence **ret_fence);

/**
 * Make @p f pending on @p b until it is signalled (dma_resv_add_fence()).
 * Attaching a signalled fence, or one pending there already, changes
 * nothing. @p b must belong to the client that made @p f.
 * @param usage  BS_SYNC_READ: a read fence (writers wait for it);
 *               BS_SYNC_WRITE (or both): a write fence (everyone waits)
 * @retval 0 done
 * @retval -EINVAL NULL, empty or unknown usage, or @p b of another client
 * @retval -EACCES BS_SYNC_WRITE on a read-only reference
 * @retval -ENOSPC the fence has --max-waiters-per-fence waiters (buffers
 *         count as one each per kind of fence)
 * @retval -ENOENT the daemon no longer has the buffer
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_fence_attach(struct bs_fence *f, struct bs_buffer *b, unsigned usage);

/**
 * Signal @p f with @p status (dma_fence_set_error() + dma_fence_signal()):
 * every sync file waiting for it, and for nothing else, becomes readable.
 * Sent in one message that gets no reply: like bs_buffer_put(), it never
 * waits for the daemon. The fence's first sync file that waits for it
 * alone is woken from here, before the daemon hears of it; the call then
 * yields the cpu once, so that a waiter woken on it runs first.
 * @param status  0, or a negative errno (-4095..-1) the waiters will see
 * @retval 0 sent (or queued, if the daemon's socket is full)
 * @retval -EINVAL NULL, or status outside 0 and -4095..-1
 * @retval -EALREADY signalled already
 */
int bs_fence_signal(struct bs_fence *f, int status);

/**
 * Free @p f; NULL-safe. An unsignalled fence is signalled with -ECANCELED
 * first, since nobody could signal it any more. Never waits.
 * @return NULL, always: `f = bs_fence_destroy(f);`
 */
struct bs_fence *bs_fence_destroy(struct bs_fence *f);

/* ---- pools ------------------------------------------------------------- */

/**
 * A pool of @p n buffers of @p size bytes, exported and mapped
 * (read-write) once, named "NAME-0" to "NAME-(n-1)".
 * @param heap  as bs_buffer_export()
 * @param name  at most BS_NAME_MAX - 5 bytes, or NULL for "pool"
 * @retval 0 done, *ret_pool set; free it with bs_pool_destroy()
 * @retval -EINVAL a NULL argument, n 0 or over BS_POOL_MAX, size 0, or a
 *         long name
 * @retval -EOPNOTSUPP the daemon speaks protocol version 1
 * @retval <0 what bs_buffer_export() or bs_buffer_vmap() returned
 */
int bs_pool_create(struct bs_client *c, unsigned n, uint64_t size, const char *heap, const char *name,
                   struct bs_pool **ret_pool);

/**
 * Unmap and put every buffer of @p p and free it; NULL-safe. Consumers
 * keep their own references and mappings.
 * @return NULL, always: `p = bs_pool_destroy(p);`
 */
struct bs_pool *bs_pool_destroy(struct bs_pool *p);

/**
 * Buffer @p index of @p p (to send its fd to consumers with bs_buffer_fd())
 * and its mapping; both stay the pool's. Either out parameter may be NULL.
 * @retval 0 done  @retval -EINVAL NULL, or index out of range
 */
int bs_pool_get_buffer(struct bs_pool *p, unsigned index, struct bs_buffer **ret_buffer, void **ret_map);

/**
 * A buffer of @p p that no consumer still reads and no fence holds up,
 * the least recently submitted first, waiting at most @p timeout_ms.
 * It is the caller's to fill until bs_pool_submit(). A consumer that
 * released it with an error, or died (-EPIPE), is done with it all the
 * same: the status reaches sync files exported before the release.
 * What it waits for is what was pending on the buffer right after its
 * submit (every consumer's read fence, and any fence attached before),
 * as the WRITE sync file the submit brought back says: a buffer whose
 * consumers are done is handed out with no request to the daemon
 * (unless one died: -EPIPE is also what a daemon stopping leaves, so
 * the daemon is asked whether it is still there). A
 * fence attached to a submitted buffer later is its attacher's to wait
 * for (bs_buffer_begin_cpu_access()).
 * @retval 0 done, *ret_index set
 * @retval -ETIME every buffer is still read after @p timeout_ms
 * @retval -EBUSY every buffer is acquired and none submitted
 * @retval -EINVAL NULL, or timeout_ms < -1
 * @retval -EMFILE,-EDQUOT,-ENOSPC it had to ask for a sync file (the
 *         buffer's first acquire, or a submit that brought none back)
 *         and was refused one, as bs_buffer_export_sync_file(), and no
 *         other buffer was free
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_pool_acquire(struct bs_pool *p, int timeout_ms, unsigned *ret_index);

/**
 * The frame in buffer @p index is ready: every other holder of a
 * reference on it gets a read fence of its own, which it signals with
 * bs_buffer_release_read() (a second submit before that keeps its one
 * fence). Then tell the consumers, on a channel of the application's.
 * Every holder of the buffer but the producer counts as a consumer, and
 * only those holding it at the submit: a consumer that imports the buffer
 * later gets no read fence for this frame, so set consumers up (import,
 * then tell the producer) before the first submit; the return value says
 * how many there were.
 * One round trip, which also brings back the sync file the next
 * bs_pool_acquire() of this buffer polls (or, when the uid holds all
 * the sync files it may or this process has no fd for it, none: that
 * acquire then asks for one, and says why it can't).
 * @retval >=0 how many consumers now read it
 * @retval -EINVAL NULL, index out of range, or not acquired
 * @retval -EPIPE,-ECONNRESET,-EPROTO,-ETIMEDOUT the connection is broken
 */
int bs_pool_submit(struct bs_pool *p, unsigned index);

/**
 * A consumer is done with the frame in @p b: the read fence
 * bs_pool_submit() gave it is signalled with @p status, and the producer
 * may write the buffer again once every consumer has done so. Sent in one
 * message that gets no reply, like bs_fence_signal(); a release with no
 * frame to release is logged by the daemon and ignored.
 * @param status  0, or a negative errno (-4095..-1) that sync files
 *                waiting on the buffer's fences report
 * @retval 0 sent (or queued)
 * @retval -EINVAL NULL, or a status outside 0 and -4095..-1
 * @retval -EOPNOTSUPP the daemon speaks protocol version 1
 */
int bs_buffer_release_read(struct bs_buffer *b, int status);
/*
 * The CUSE device, /dev/bufshare: a second control plane beside the
 * socket (bufshare-ioctl.h has its ioctls). Each open device file is a
 * client of its own: buffers allocated through it are released when it
 * closes. A buffer's fd can't come back through an ioctl, so allocating
 * through the device gives a one-time token that the same uid redeems
 * on the socket; bs_device_alloc() does both, so that
 *
 *     bs_buffer_export(c, size, "system", "frame", &b);
 *
 * and
 *
 *     bs_device_alloc(dev, c, size, "system", "frame", &b);
 *
 * give the same kind of bs_buffer. The device file holds a reference of
 * its own besides @c's, until bs_device_release() or bs_device_close().
 */
struct bs_device;

/** The device node's default path. */
#define BS_DEVICE_PATH "/dev/bufshare"

/**
 * Open the bufshare device.
 * @param path  the node, or NULL for BS_DEVICE_PATH
 * @param ret_device  the open device, written only on success; close it
 *                    with bs_device_close()
 * @retval 0 open
 * @retval -EINVAL ret_device is NULL
 * @retval -ENOENT no such node (no CUSE on this machine, or bufshared runs
 *         with --no-device): use the socket
 * @retval -EACCES the node's mode (--device-mode, --device-group)
 * @retval -EUSERS as many device files are open as the daemon allows
 * @retval -ENOTTY the node is not a bufshare device
 * @retval -EPROTONOSUPPORT a bufshare device of another ioctl API version
 */
int bs_device_open(const char *path, struct bs_device **ret_device);

/**
 * Close the device file: every buffer allocated through it loses the
 * file's reference (buffers also held through a client live on).
 * @return NULL, always
 */
struct bs_device *bs_device_close(struct bs_device *dev);

/**
 * The device file's fd, owned by @p dev: for poll(), read() and write()
 * once a buffer is bound, or for the ioctls of bufshare-ioctl.h.
 * @retval >=0 the fd  @retval -EINVAL dev is NULL
 */
int bs_device_fd(struct bs_device *dev);

/**
 * Allocate a buffer through the device (BUFSHARE_IOCTL_ALLOC) and redeem
 * its token over @p c: a bs_buffer on @p c, as bs_buffer_export() makes.
 * @p c must be a connection of the uid that opened @p dev.
 * @param heap  "system", "system-huge", or NULL for "system"
 * @param name  NULL or a name shorter than BS_NAME_MAX
 * @retval 0 done, *ret_buffer set
 * @retval -EINVAL NULL, size 0, a long name
 * @retval -ENOENT an unknown heap
 * @retval -EFBIG,-EMFILE,-EDQUOT over a limit, as bs_buffer_export()
 * @retval -EPERM @p c is of another uid than the device file's opener
 * @retval otherwise @p c's error (its connection broke)
 */
int bs_device_alloc(struct bs_device *dev, struct bs_client *c, uint64_t size, const char *heap,
                    const char *name, struct bs_buffer **ret_buffer);

/**
 * Redeem a token from BUFSHARE_IOCTL_ALLOC (made by this process or
 * handed over by another of the same uid) for a reference and the fd.
 * @retval 0 done, *ret_buffer set
 * @retval -EINVAL NULL
 * @retval -ENOENT an unknown, used, expired or dropped token (its device
 *         file closed or released the buffer)
 * @retval -EPERM the token was made through a device file opened by
 *         another uid
 * @retval -EMFILE,-EDQUOT over a limit of @p c's
 */
int bs_client_redeem(struct bs_client *c, const uint64_t token[2], struct bs_buffer **ret_buffer);

/**
 * Bind buffer @p id, which @p dev holds, to the device file: read() and
 * write() on bs_device_fd() then reach its bytes from @p offset on.
 * A read past the end is short (0 at the end), a write short and then
 * -ENOSPC: a buffer never grows. CUSE passes no file offset, so the
 * offsets of pread()/pwrite() are lost: position with this call.
 * @param id  the buffer, or 0 to unbind (with offset 0)
 * @retval 0 done
 * @retval -ENOENT @p dev holds no such buffer
 * @retval -EINVAL NULL, or @p offset past the buffer's size
 */
int bs_device_bind(struct bs_device *dev, uint64_t id, uint64_t offset);

/**
 * Drop the device file's reference on buffer @p id (and its binding and
 * unredeemed token), as closing the file would.
 * @retval 0 done  @retval -ENOENT @p dev holds no such buffer
 * @retval -EINVAL dev is NULL
 */
int bs_device_release(struct bs_device *dev, uint64_t id);

#ifdef __cplusplus
}
#endif

#endif /* BUFSHARE_H */
