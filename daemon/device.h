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

struct dev_file {
        struct holder holder;
        struct list tokens;  /* struct token.origin_link */
        struct list link;    /* struct device.files */
        uint64_t bound_id;   /* 0: nothing bound */
        uint64_t pos;        /* where the next read or write of a syscall starts */
        uint64_t start;      /* the position at the start of the current syscall */
        void *frontend;      /* cuse.c's per-file state (its poll handle) */
};

struct device {
        struct registry *registry;
        struct token_table *tokens;
        const struct limits *limits;
        uint32_t protocol_version;
        struct list files;
        unsigned n_files;
        struct hashmap uid_files; /* {uid, 0} -> (uintptr_t) count */
};

/* A device name (--device-name): one or more path components under /dev
 * of [A-Za-z0-9._-], none "." or "..", at most 64 bytes. */
bool device_name_valid(const char *name);

void device_init(struct device *d, struct registry *r, struct token_table *t, const struct limits *l);
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

/* poll(2)'s events: see bufshare-ioctl.h. */
unsigned device_poll(struct device *d, struct dev_file *f);
