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

struct dev_file {
        struct holder holder;
        struct device *device;
        struct list tokens;  /* struct token.origin_link */
        struct list link;    /* struct device.files */
        uint64_t bound_id;   /* 0: nothing bound */
        uint64_t pos;        /* where the next read or write of a syscall starts */
        uint64_t start;      /* the position at the start of the current syscall */
        struct dev_watch watch;
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
};

/* A device name (--device-name): one or more path components under /dev
 * of [A-Za-z0-9._-], none "." or "..", at most 64 bytes. */
bool device_name_valid(const char *name);

void device_init(struct device *d, struct registry *r, struct token_table *t, const struct limits *l);
/* Let pollers wait: watches on @base, wake-ups through @ops (kept). */
void device_set_poll(struct device *d, struct event_base *base, const struct device_poll_ops *ops);
/* Close every file still open. */
void device_done(struct device *d);

/* A new open file for process @pid of @uid/@gid. -EUSERS over the
 * connection limits, -ENOMEM. */
int device_open(struct device *d, pid_t pid, uid_t uid, gid_t gid, struct dev_file **ret);
/* The file closed: its buffers, CPU access, binding and tokens go. */
void device_close(struct device *d, struct dev_file *f);

/* The most bytes an ioctl copies back (_IOC_SIZEMASK). */
#define DEVICE_IOCTL_OUT_MAX 16383u

/*
 * Run ioctl @cmd with the @in_len bytes the kernel copied in. On success
 * returns 0 with the bytes to copy back in @out (room for
 * DEVICE_IOCTL_OUT_MAX) and their count in *@out_len. -ENOTTY for an
 * unknown command, else the command's errno.
 */
int device_ioctl(struct device *d, struct dev_file *f, uint32_t cmd, const void *in, size_t in_len,
                 void *out, size_t *out_len);

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
