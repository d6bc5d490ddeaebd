/* SPDX-License-Identifier: MIT */
/*
 * /dev/bufshare on CUSE (libfuse3's low-level CUSE API), served from the
 * daemon's one libevent loop: /dev/cuse is opened here and handed to
 * libfuse as the "/dev/fd/N" mount point, its fd is an event on the loop,
 * and each readable wake-up receives and processes requests with
 * fuse_session_receive_buf()/fuse_session_process_buf(). No thread, no
 * daemonising, no libfuse signal handlers. Requests go to device.c.
 *
 * Where CUSE can't be had (no /dev/cuse, no permission, a kernel that
 * refuses the device), the caller logs one line and serves the socket
 * alone; the same holds for a build without libfuse (-Dcuse=disabled),
 * where cuse_start() always fails with -EOPNOTSUPP.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct event_base;
struct device;
struct cuse;

struct cuse_options {
        const char *name;  /* the node's name under /dev: "bufshare" */
        mode_t mode;       /* applied to the node once it appears */
        gid_t gid;         /* with group_set: its group */
        bool group_set;
};

/*
 * Open /dev/cuse and start serving /dev/@o->name on @base for @dev. The
 * device appears once the kernel's CUSE_INIT is answered, from the loop.
 * Returns 0 with *@ret, or -errno with a reason for the log in @why.
 * If the kernel refuses the device later (its name taken), the loop
 * logs one line, stops CUSE and goes on serving the socket.
 */
int cuse_start(struct event_base *base, struct device *dev, const struct cuse_options *o, struct cuse **ret,
               char *why, size_t why_len);
/* Stop serving: every open file is dropped by device_done() after. */
void cuse_stop(struct cuse *c);
