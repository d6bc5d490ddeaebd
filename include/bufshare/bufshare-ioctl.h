/* SPDX-License-Identifier: MIT */
/**
 * @file bufshare-ioctl.h
 * The ioctl ABI of /dev/bufshare, bufshared's CUSE character device.
 *
 * The device is a second control plane beside the socket, for programs
 * that would rather open a device node (DESIGN.md §5). Every open file
 * is a client of its own: buffers allocated through it are released when
 * it closes, however it closes (kill -9 included).
 *
 *   1. open("/dev/bufshare", O_RDWR)
 *   2. BUFSHARE_IOCTL_ALLOC        a buffer, its id and a one-time token
 *   3. redeem the token on the daemon's socket (REDEEM, opcode 30) for the
 *      buffer's fd: CUSE can't install an fd in the caller. The redeeming
 *      connection must have the uid of the process that opened the
 *      device; the token is good once, for BUFSHARE_TOKEN_LIFETIME_MS
 *      (or what VERSION reports), and dies with the device file.
 *      libbufshare's bs_device_alloc() does 2 and 3 in one call.
 *   4. INFO, SET_NAME, SYNC (begin/end CPU access), RELEASE by id.
 *      A SYNC start waits, as DMA_BUF_IOCTL_SYNC's does, until no
 *      conflicting fence is pending on the buffer (a READ start for
 *      write fences, a WRITE or RW start for every fence), like the
 *      socket's begin, then records the access and returns 0. A fence
 *      signalled with an error ends the wait too. A signal interrupts
 *      the wait: -EINTR, nothing begun. -ENOENT if the file releases the
 *      buffer meanwhile; -EPIPE if the daemon stops; -EMFILE, -EDQUOT,
 *      -ENOSPC or -ENFILE at once where the daemon can't wait for it
 *      (its --max-waiters-per-client, --max-sync-files-per-uid,
 *      --max-waiters-per-fence, or its fds).
 *   5. BIND: read(2)/write(2) on the open file then reach the bound
 *      buffer's bytes, from the offset BIND set; past the end a read is
 *      short (0 at the end) and a write is short, then -ENOSPC: a buffer
 *      never grows.
 *
 * Offsets: CUSE hands the daemon no file offset (the kernel passes 0 for
 * every read and write, fs/fuse/cuse.c) and its lseek does nothing. So
 * the open file is a stream: the daemon keeps its position, BIND sets
 * it, and each read or write moves it on. pread(2)/pwrite(2) work but
 * their offset argument is lost on the way: position with BIND.
 *
 * poll(2) on a bound file reports the bound buffer's fences the way
 * dma-buf's poll (dma_buf_poll) does: POLLIN|POLLRDNORM while no write
 * fence is pending, POLLOUT|POLLWRNORM while no fence at all is. A
 * waiter in poll, select or epoll is woken when that changes, and when
 * the file is unbound or its buffer released under it; an unbound file
 * reports POLLERR. So does a poll the daemon can't watch for (its
 * fence has --max-waiters-per-fence waiters, the file's uid has
 * --max-sync-files-per-uid pending sync files, or the daemon is out of
 * fds), rather than leave the caller asleep. Fences themselves are made,
 * attached and signalled over the socket (bufshare.h).
 *
 * Encoding rules, all checked:
 *  - Every number is _IOR/_IOW/_IOWR ("restricted" ioctls: CUSE copies
 *    exactly _IOC_SIZE bytes in and/or out), on the magic 'x', sequence
 *    numbers 0x00-0x1f. 'x' has no entry in the kernel's
 *    Documentation/userspace-api/ioctl/ioctl-number.rst, so a bufshare
 *    ioctl sent to another driver by mistake meets -ENOTTY rather than
 *    some other driver's command (dma-buf's 'b' and dma-heap's 'H' are
 *    both shared with other drivers there).
 *  - Structs hold __u64/__u32 (and fixed char arrays), explicitly
 *    padded, with no pointers: the same bytes on 32- and 64-bit. 32-bit
 *    callers (FUSE_IOCTL_COMPAT) are refused all the same, with -ENOTTY.
 *  - The struct size is in the ioctl number, as with dma-heap: a caller
 *    built against an older, shorter struct is zero-extended; a newer,
 *    longer one is accepted only if every byte past this version's struct
 *    is zero, else -E2BIG (the rule of the kernel's copy_struct_from_user;
 *    dma-heap itself ignores such a tail). Output is copied back up to
 *    the caller's size: a longer struct gets zeroes in its tail.
 *  - Reserved fields and unknown flags must be 0: -EINVAL. Fields marked
 *    "out" are ignored on input.
 *  - An unknown command, or a known one with another direction: -ENOTTY.
 *
 * Limits are the socket's (see bufshared --help), with the same errnos:
 * -EFBIG for one buffer too large, -EMFILE for too many buffers in one
 * open file, -EDQUOT for the uid's bytes, -EUSERS for too many open files.
 */
#ifndef BUFSHARE_IOCTL_H
#define BUFSHARE_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define BUFSHARE_IOCTL_BASE 'x'
/** What BUFSHARE_IOCTL_VERSION reports as api_version. */
#define BUFSHARE_IOCTL_API_VERSION 1
/** Longest name and heap name, NUL included (DMA_BUF_NAME_LEN). */
#define BUFSHARE_NAME_LEN 32
/** Longest process name in INFO, NUL included (TASK_COMM_LEN). */
#define BUFSHARE_COMM_LEN 16
/** A token's default lifetime; VERSION reports the daemon's own. */
#define BUFSHARE_TOKEN_LIFETIME_MS 5000

/** What the daemon speaks. */
struct bufshare_version {
        __u32 api_version;       /**< out: BUFSHARE_IOCTL_API_VERSION */
        __u32 protocol_version;  /**< out: the socket protocol, for REDEEM */
        __u64 features;          /**< out: none defined yet, 0 */
        __u32 token_lifetime_ms; /**< out: how long an ALLOC token lives */
        __u32 reserved;          /**< out: 0 */
};

/** ALLOC: a new buffer held by this open file, and a token for its fd. */
/* What every version must say comes first, as with dma-heap's: so the
 * outputs come before the optional inputs, and a caller built against a
 * struct that ends after flags (40 bytes) allocates from "system",
 * unnamed, and still gets its id and token. */
struct bufshare_alloc {
        __u64 size;     /**< in: bytes (not 0); out: rounded up to the page size */
        __u64 id;       /**< out: the buffer's id, as the socket's */
        __u64 token[2]; /**< out: 128 random bits to redeem over the socket */
        __u64 flags;    /**< in: none defined, 0 */
        char heap[BUFSHARE_NAME_LEN]; /**< in: "system", "system-huge"; "" for "system" */
        char name[BUFSHARE_NAME_LEN]; /**< in: "" or a name (NUL-terminated) */
};

/** INFO: what the daemon knows of a buffer this file holds. */
struct bufshare_info {
        __u64 id;         /**< in */
        __u64 size;       /**< out: bytes, fixed for life */
        __u64 created_ns; /**< out: CLOCK_REALTIME of the allocation */
        __s32 exporter_pid;
        __u32 exporter_uid;
        __u32 n_refs; /**< out: references of every client, socket ones included */
        __u32 flags;  /**< out: BUFSHARE_INFO_BOUND if bound to this file */
        char heap[BUFSHARE_NAME_LEN];
        char name[BUFSHARE_NAME_LEN];
        char exporter_comm[BUFSHARE_COMM_LEN];
};
#define BUFSHARE_INFO_BOUND (1u << 0)

/** SET_NAME: rename a buffer this file holds. */
struct bufshare_set_name {
        __u64 id;
        char name[BUFSHARE_NAME_LEN]; /**< NUL-terminated, zero after the NUL */
};

/** SYNC: begin or end CPU access, with struct dma_buf_sync's flags. */
struct bufshare_sync {
        __u64 id;
        __u64 flags; /**< BUFSHARE_SYNC_READ/WRITE/RW | BUFSHARE_SYNC_START/END */
};
#define BUFSHARE_SYNC_READ (1 << 0)  /* DMA_BUF_SYNC_READ */
#define BUFSHARE_SYNC_WRITE (2 << 0) /* DMA_BUF_SYNC_WRITE */
#define BUFSHARE_SYNC_RW (BUFSHARE_SYNC_READ | BUFSHARE_SYNC_WRITE)
#define BUFSHARE_SYNC_START (0 << 2) /* DMA_BUF_SYNC_START */
#define BUFSHARE_SYNC_END (1 << 2)   /* DMA_BUF_SYNC_END */
#define BUFSHARE_SYNC_VALID_FLAGS_MASK (BUFSHARE_SYNC_RW | BUFSHARE_SYNC_END)

/** BIND: read/write on this file reach buffer @id from @offset on. */
struct bufshare_bind {
        __u64 id;     /**< a buffer this file holds; 0 unbinds */
        __u64 offset; /**< the position of the next read or write, <= size */
};

/** RELEASE: drop this file's reference (and binding, and token). */
struct bufshare_release {
        __u64 id;
        __u64 flags; /**< none defined, 0 */
};

#define BUFSHARE_IOCTL_VERSION _IOR(BUFSHARE_IOCTL_BASE, 0x00, struct bufshare_version)
#define BUFSHARE_IOCTL_ALLOC _IOWR(BUFSHARE_IOCTL_BASE, 0x01, struct bufshare_alloc)
#define BUFSHARE_IOCTL_INFO _IOWR(BUFSHARE_IOCTL_BASE, 0x02, struct bufshare_info)
#define BUFSHARE_IOCTL_SET_NAME _IOW(BUFSHARE_IOCTL_BASE, 0x03, struct bufshare_set_name)
#define BUFSHARE_IOCTL_SYNC _IOW(BUFSHARE_IOCTL_BASE, 0x04, struct bufshare_sync)
#define BUFSHARE_IOCTL_BIND _IOW(BUFSHARE_IOCTL_BASE, 0x05, struct bufshare_bind)
#define BUFSHARE_IOCTL_RELEASE _IOW(BUFSHARE_IOCTL_BASE, 0x06, struct bufshare_release)

/* The layout is the ABI: any change is a new struct size. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define BUFSHARE_LAYOUT(cond, msg) static_assert(cond, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define BUFSHARE_LAYOUT(cond, msg) _Static_assert(cond, msg)
#else /* C99: a negative array size fails the build */
#define BUFSHARE_LAYOUT_CAT_(a, b) a##b
#define BUFSHARE_LAYOUT_CAT(a, b) BUFSHARE_LAYOUT_CAT_(a, b)
#define BUFSHARE_LAYOUT(cond, msg) \
        typedef char BUFSHARE_LAYOUT_CAT(bufshare_layout_, __LINE__)[(cond) ? 1 : -1]
#endif
BUFSHARE_LAYOUT(sizeof(struct bufshare_version) == 24, "ioctl ABI");
BUFSHARE_LAYOUT(sizeof(struct bufshare_alloc) == 104, "ioctl ABI");
BUFSHARE_LAYOUT(sizeof(struct bufshare_info) == 120, "ioctl ABI");
BUFSHARE_LAYOUT(sizeof(struct bufshare_set_name) == 40, "ioctl ABI");
BUFSHARE_LAYOUT(sizeof(struct bufshare_sync) == 16, "ioctl ABI");
BUFSHARE_LAYOUT(sizeof(struct bufshare_bind) == 16, "ioctl ABI");
BUFSHARE_LAYOUT(sizeof(struct bufshare_release) == 16, "ioctl ABI");

#endif /* BUFSHARE_IOCTL_H */
