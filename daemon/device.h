/* SPDX-License-Identifier: MIT */
/*
 * /dev/bufshare's behaviour, apart from CUSE: what an open file is, what
 * each ioctl (bufshare-ioctl.h) does, and read/write/poll on a bound
 * file. cuse.c only carries requests between libfuse and these calls, so
 * everything here is unit-tested on a host without CUSE.
 *
 * Each open file is a client of its own: a struct holder in the one
 * registry the socket uses, with the opener's pid/uid/gid. What it
 * allocates it holds; device_close() drops it all, with its tokens.
 * Open files are counted in all and per uid against the socket's
 * connection limits (-EUSERS), separately from the socket's connections.
 *
 * poll(2) is dma_buf_poll()'s: a bound file is readable while no write
 * fence is pending on its buffer, writable while no fence at all is.
 * When a poller must wait, the file takes a sync file of its own on the
 * buffer (registry_export_sync_file(), as its holder, so within its
 * max_waiters_per_client and its uid's max_sync_files_per_uid) and
 * watches it on the loop; once it signals,
 * the front end's poll handle is notified and the kernel polls again.
 * One watch per file at most: the kernel keys its wake-ups by file, so
 * one notification wakes every poller of it. Unbinding, releasing the
 * bound buffer or closing the file ends the watch and frees its sync
 * file at once.
 *
 * A SYNC start is DMA_BUF_IOCTL_SYNC's: like dma_buf_begin_cpu_access(),
 * it waits until no conflicting fence is pending (a READ start for write
 * fences, a WRITE or RW start for every fence), as the socket's begin
 * does. The registry is asked with CPU_ACCESS_BEGIN_IDLE; while it
 * answers -EBUSY the start is a struct dev_wait: it takes the front end's
 * request (device_ioctl()'s @handle) and a sync file on the buffer, the
 * same kind of watch as poll's, and asks again each time that sync file
 * signals, whatever its status (a fence signalled with an error no longer
 * conflicts: dma-buf's begin then succeeds too). Only then is the request
 * answered, through device_sync_ops.answer, exactly once: 0 or the
 * registry's errno once no fence conflicts; -EINTR once the front end
 * says the caller was interrupted (device_sync_interrupt()); -ENOENT once
 * the file no longer holds the buffer (RELEASE); -EBADF when the file
 * closes; the status device_sync_cancel() gives (the daemon stopping).
 * A start that can't wait (its sync file over a limit, no fds, no memory)
 * is answered at once with that errno, never left asleep.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "hashmap.h"
#include "limits.h"
#include "list.h"
#include "registry.h"
#include "token.h"

struct event;
struct event_base;
struct device;

/* What the front end serving the files (cuse.c) does with the handle it
 * passes to device_poll() when a poller waits (libfuse's struct
 * fuse_pollhandle). */
struct device_poll_ops {
        void (*notify)(void *handle);  /* wake the file's pollers: fuse_lowlevel_notify_poll() */
        void (*release)(void *handle); /* done with it: fuse_pollhandle_destroy() */
};

/* A file's pending wake-up: its sync file on the bound buffer. */
struct dev_watch {
        int fd;             /* the sync file, readable once signalled; -EBADF: no watch */
        struct event *ev;   /* EV_READ on @fd */
        uint32_t flags;     /* BS_WIRE_SYNC_READ: waits for write fences (POLLIN); _WRITE: all (POLLOUT) */
        void *handle;       /* the front end's, notified when @fd signals */
};

/* What the front end does with the request a SYNC start waits with
 * (libfuse's fuse_req_t). */
struct device_sync_ops {
        /* answer it, once: 0 (nothing to copy back: SYNC is _IOW) or -errno */
        void (*answer)(void *handle, int status);
};

/* A SYNC start waiting for the conflicting fences on its buffer. */
struct dev_wait {
        struct list link;     /* struct dev_file.waits */
        struct dev_file *file;
        uint64_t id;          /* the buffer */
        uint32_t flags;       /* BS_WIRE_SYNC_READ/_WRITE of the start */
        int fd;               /* its sync file: waits for what conflicts */
        struct event *ev;     /* EV_READ on @fd; made active to end the wait early */
        void *handle;         /* the front end's request */
        int ending;           /* 0, or the errno to answer with at the next wake-up */
};

struct dev_file {
        struct holder holder;
        struct device *device;
        struct list tokens;  /* struct token.origin_link */
        struct list link;    /* struct device.files */
        uint64_t bound_id;   /* 0: nothing bound */
        uint64_t pos;        /* where the next read or write of a syscall starts */
        uint64_t start;      /* the position at the start of the current syscall */
        struct dev_watch watch;
        struct list waits;   /* struct dev_wait.link */
};

struct device {
        struct registry *registry;
        struct token_table *tokens;
        const struct limits *limits;
        uint32_t protocol_version;
        struct list files;
        unsigned n_files;
        struct hashmap uid_files; /* {uid, 0} -> (uintptr_t) count */
        struct event_base *base;  /* where watches wait; NULL: pollers are never woken */
        const struct device_poll_ops *poll_ops;
        const struct device_sync_ops *sync_ops; /* NULL: a SYNC start can't wait (-EAGAIN) */
};

/* A device name (--device-name): one or more path components under /dev
 * of [A-Za-z0-9._-], none "." or "..", at most 64 bytes. */
bool device_name_valid(const char *name);

void device_init(struct device *d, struct registry *r, struct token_table *t, const struct limits *l);
/* Let pollers wait: watches on @base, wake-ups through @ops (kept). */
void device_set_poll(struct device *d, struct event_base *base, const struct device_poll_ops *ops);
/* Let SYNC starts wait: on the base device_set_poll() gave, answered
 * through @ops (kept). */
void device_set_sync(struct device *d, const struct device_sync_ops *ops);
/* Answer every waiting SYNC start with @status (-EPIPE: the daemon is
 * stopping), before the front end goes. */
void device_sync_cancel(struct device *d, int status);
/* Close every file still open. */
void device_done(struct device *d);

/* A new open file for process @pid of @uid/@gid. -EUSERS over the
 * connection limits, -ENOMEM. */
int device_open(struct device *d, pid_t pid, uid_t uid, gid_t gid, struct dev_file **ret);
/* The file closed: its buffers, CPU access, binding and tokens go. */
void device_close(struct device *d, struct dev_file *f);

/* The most bytes an ioctl copies back (_IOC_SIZEMASK). */
#define DEVICE_IOCTL_OUT_MAX 16383u

/* device_ioctl(): the request is the device's now, answered later. */
#define DEVICE_IOCTL_WAITING 1

/*
 * Run ioctl @cmd with the @in_len bytes the kernel copied in. On success
 * returns 0 with the bytes to copy back in @out (room for
 * DEVICE_IOCTL_OUT_MAX) and their count in *@out_len. -ENOTTY for an
 * unknown command, else the command's errno.
 *
 * @handle is the front end's request, or NULL where none can wait. A
 * SYNC start that must wait for fences keeps it and returns
 * DEVICE_IOCTL_WAITING with the wait in *@ret_wait: the request is
 * answered through device_sync_ops.answer, once, and @ret_wait lives
 * until then (give it to device_sync_interrupt()). Without @handle or
 * sync ops, such a start is -EAGAIN.
 */
int device_ioctl(struct device *d, struct dev_file *f, uint32_t cmd, const void *in, size_t in_len,
                 void *out, size_t *out_len, void *handle, struct dev_wait **ret_wait);

/*
 * The caller waiting in @w was interrupted by a signal: @w is answered
 * -EINTR from the loop, with nothing begun. Never answers from inside
 * this call (libfuse calls its interrupt callback with the request
 * locked, and may call it from fuse_req_interrupt_func() itself).
 */
void device_sync_interrupt(struct device *d, struct dev_wait *w);

/*
 * read(2) or write(2) of @size bytes at the position: CUSE passes the
 * offset within the current syscall only (0 for its first request), so
 * @off == 0 starts a syscall at the file's position. Bytes read or
 * written, or -ENXIO (nothing bound), -ENOSPC (a write at or past the
 * end), -errno. Never grows a buffer.
 */
ssize_t device_read(struct device *d, struct dev_file *f, uint64_t off, void *buf, size_t size);
ssize_t device_write(struct device *d, struct dev_file *f, uint64_t off, const void *buf, size_t size);

/*
 * poll(2) on @f (bufshare-ioctl.h): POLLIN|POLLRDNORM while no write
 * fence is pending on the bound buffer, POLLOUT|POLLWRNORM while no fence
 * is; POLLERR on an unbound file. @events are the POLL* bits the poller
 * asked for (0: a kernel that does not say, taken as both). @handle, if
 * not NULL, is the front end's, the device's from now on: when an event
 * asked for is not ready, the file's watch keeps it and notifies it once
 * that may have changed; otherwise it is released at once. Where no
 * watch can be had (a limit, no fds), POLLERR too, and @handle is
 * notified so that no poller sleeps on.
 */
unsigned device_poll(struct device *d, struct dev_file *f, unsigned events, void *handle);
