/* SPDX-License-Identifier: MIT */
#define FUSE_USE_VERSION 35
#include "cuse.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse3/cuse_lowlevel.h>
#include <fuse3/fuse_lowlevel.h>

#include "device.h"
#include "log.h"
#include "util.h"

/* Requests handled per wake-up before the socket's clients get a turn. */
#define CUSE_BATCH 32

struct cuse {
        struct fuse_session *se;
        struct event *ev;
        struct fuse_buf buf; /* the request being handled, kept between wake-ups */
        struct device *dev;
        char path[80];       /* /dev/NAME */
        struct cuse_options opts;
        bool ready;          /* CUSE_INIT answered: the node exists */
        bool failed;         /* the kernel dropped us: serving the socket alone */
        void *io;            /* read(2) replies are built here */
        size_t io_len;
        unsigned char ioctl_out[DEVICE_IOCTL_OUT_MAX];
};

static struct dev_file *file_of(const struct fuse_file_info *fi)
{
        return (struct dev_file *)(uintptr_t)fi->fh;
}

static void cuse_ll_open(fuse_req_t req, struct fuse_file_info *fi)
{
        struct cuse *c = fuse_req_userdata(req);
        const struct fuse_ctx *ctx = fuse_req_ctx(req);
        struct dev_file *f;
        int r;

        r = device_open(c->dev, ctx->pid, ctx->uid, ctx->gid, &f);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        fi->fh = (uintptr_t)f;
        /* -ENOENT: the open was interrupted and no release will come */
        if (fuse_reply_open(req, fi) == -ENOENT)
                device_close(c->dev, f);
}

static void cuse_ll_release(fuse_req_t req, struct fuse_file_info *fi)
{
        struct cuse *c = fuse_req_userdata(req);

        device_close(c->dev, file_of(fi));
        fuse_reply_err(req, 0);
}

static void cuse_ll_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
        struct cuse *c = fuse_req_userdata(req);
        ssize_t n;

        if (size > c->io_len) {
                void *p = realloc(c->io, size);
                if (!p) {
                        fuse_reply_err(req, ENOMEM);
                        return;
                }
                c->io = p;
                c->io_len = size;
        }
        n = device_read(c->dev, file_of(fi), (uint64_t)off, c->io, size);
        if (n < 0)
                fuse_reply_err(req, (int)-n);
        else
                fuse_reply_buf(req, c->io, (size_t)n);
}

static void cuse_ll_write(fuse_req_t req, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
        struct cuse *c = fuse_req_userdata(req);
        ssize_t n = device_write(c->dev, file_of(fi), (uint64_t)off, buf, size);

        if (n < 0)
                fuse_reply_err(req, (int)-n);
        else
                fuse_reply_write(req, (size_t)n);
}

/* libfuse's interrupt callback, with @req locked: the device answers it
 * from the loop, never from in here. */
static void cuse_sync_interrupted(fuse_req_t req, void *data)
{
        struct cuse *c = fuse_req_userdata(req);

        device_sync_interrupt(c->dev, data);
}

static void cuse_sync_answer(void *handle, int status)
{
        fuse_req_t req = handle;

        /* the request is freed either way; -ENOENT: its caller went */
        if (status < 0)
                (void)fuse_reply_err(req, -status);
        else
                (void)fuse_reply_ioctl(req, 0, NULL, 0);
}

static const struct device_sync_ops cuse_sync_ops = {
        .answer = cuse_sync_answer,
};

static void cuse_ll_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi, unsigned flags,
                          const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
        struct cuse *c = fuse_req_userdata(req);
        struct dev_wait *w = NULL;
        size_t out_len = 0;
        int r;

        (void)arg;
        /* the structs are the same for 32-bit callers, but the ABI promises
         * them nothing: refused, as libfuse's example does */
        if (flags & FUSE_IOCTL_COMPAT) {
                fuse_reply_err(req, ENOTTY);
                return;
        }
        r = device_ioctl(c->dev, file_of(fi), (uint32_t)cmd, in_buf, in_bufsz, c->ioctl_out, &out_len, req,
                         &w);
        if (r == DEVICE_IOCTL_WAITING) {
                /* a SYNC start waiting for fences: the device answers it
                 * from the loop; a signal to the caller ends it (the
                 * kernel's FUSE_INTERRUPT), as it ends dma-buf's wait */
                fuse_req_interrupt_func(req, cuse_sync_interrupted, w);
                return;
        }
        if (r < 0)
                fuse_reply_err(req, -r);
        else if (out_len > out_bufsz)
                fuse_reply_err(req, EINVAL); /* the kernel gave less room than the number says */
        else
                fuse_reply_ioctl(req, 0, out_len ? c->ioctl_out : NULL, out_len);
}

static void cuse_ll_poll(fuse_req_t req, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
        struct cuse *c = fuse_req_userdata(req);

        /* ph comes when the kernel has a poller to wake: the device keeps
         * it while the events asked for are not ready */
        fuse_reply_poll(req, device_poll(c->dev, file_of(fi), fi->poll_events, ph));
}

static void cuse_poll_notify(void *handle)
{
        /* -ENOENT: the kernel forgot the file (its pollers are gone) */
        (void)fuse_lowlevel_notify_poll(handle);
}

static void cuse_poll_release(void *handle)
{
        fuse_pollhandle_destroy(handle);
}

static const struct device_poll_ops cuse_poll_ops = {
        .notify = cuse_poll_notify,
        .release = cuse_poll_release,
};

/* The node exists now (devtmpfs makes it as the kernel registers the
 * device): give it the mode and group asked for. */
static void cuse_ll_init_done(void *userdata)
{
        struct cuse *c = userdata;
        struct pollfd p = { .fd = fuse_session_fd(c->se), .events = POLLIN };

        /* the kernel handled the answer as it was written: a device it
         * refused (a name taken) has aborted the connection already, and
         * cuse_read_cb() says so in the one line */
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR))
                return;
        c->ready = true;
        if (chmod(c->path, c->opts.mode) < 0)
                log_warn("CUSE: %s: setting mode %04o failed: %s", c->path, (unsigned)c->opts.mode,
                         strerror(errno));
        else if (c->opts.group_set && chown(c->path, (uid_t)-1, c->opts.gid) < 0)
                log_warn("CUSE: %s: setting group %u failed: %s", c->path, (unsigned)c->opts.gid,
                         strerror(errno));
        log_info("serving %s (CUSE), mode %04o", c->path, (unsigned)c->opts.mode);
}

static const struct cuse_lowlevel_ops cuse_ops = {
        .init_done = cuse_ll_init_done,
        .open = cuse_ll_open,
        .read = cuse_ll_read,
        .write = cuse_ll_write,
        .release = cuse_ll_release,
        .ioctl = cuse_ll_ioctl,
        .poll = cuse_ll_poll,
};

/* The kernel dropped the connection: before CUSE_INIT's answer took, the
 * device could not be set up; after, it went away. Either way, one line,
 * and the socket goes on alone. */
static void cuse_lost(struct cuse *c, int r)
{
        if (c->ready)
                log_warn("CUSE: %s went away (%s): serving the socket alone", c->path,
                         r < 0 ? strerror(-r) : "connection closed");
        else
                log_warn("CUSE: the kernel refused %s (is the name taken?): serving the socket alone",
                         c->path);
        c->failed = true;
        event_del(c->ev);
        /* every open file went with the connection */
        device_done(c->dev);
}

static void cuse_read_cb(evutil_socket_t fd, short what, void *data)
{
        struct cuse *c = data;

        (void)fd;
        (void)what;
        for (int i = 0; i < CUSE_BATCH; i++) {
                int r = fuse_session_receive_buf(c->se, &c->buf);
                if (r == -EAGAIN || r == -EINTR)
                        return;
                if (r <= 0 || fuse_session_exited(c->se)) {
                        cuse_lost(c, r);
                        return;
                }
                fuse_session_process_buf(c->se, &c->buf);
        }
}

/* libfuse's own messages, into the daemon's log. */
__attribute__((format(printf, 2, 0)))
static void cuse_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
        char line[256];
        size_t n;

        vsnprintf(line, sizeof(line), fmt, ap);
        n = strlen(line);
        if (n && line[n - 1] == '\n')
                line[n - 1] = '\0';
        log_msg(level <= FUSE_LOG_ERR ? LOG_LVL_WARN : LOG_LVL_DEBUG, "libfuse: %s", line);
}

int cuse_start(struct event_base *base, struct device *dev, const struct cuse_options *o, struct cuse **ret,
               char *why, size_t why_len)
{
        char devname[96], mountpoint[32];
        const char *dev_info[] = { devname };
        char *argv[] = { (char *)"bufshared", NULL };
        struct fuse_args args = FUSE_ARGS_INIT(1, argv);
        struct cuse_info ci = {
                .dev_info_argc = 1,
                .dev_info_argv = dev_info,
                /* restricted ioctls: the kernel copies _IOC_SIZE bytes */
                .flags = 0,
        };
        _cleanup_close_ int fd = -EBADF;
        struct cuse *c;
        int r;

        snprintf(devname, sizeof(devname), "DEVNAME=%s", o->name);
        fd = open("/dev/cuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                snprintf(why, why_len, "/dev/cuse: %s", strerror(errno));
                return r;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                snprintf(why, why_len, "out of memory");
                return -ENOMEM;
        }
        c->dev = dev;
        c->opts = *o;
        snprintf(c->path, sizeof(c->path), "/dev/%s", o->name);
        fuse_set_log_func(cuse_log);
        c->se = cuse_lowlevel_new(&args, &ci, &cuse_ops, c);
        if (!c->se) {
                snprintf(why, why_len, "libfuse could not make a CUSE session");
                r = -ENOMEM;
                goto err_free;
        }
        /* the fd is the session's from here: fuse_session_destroy() closes it */
        snprintf(mountpoint, sizeof(mountpoint), "/dev/fd/%d", fd);
        if (fuse_session_mount(c->se, mountpoint) < 0) {
                snprintf(why, why_len, "libfuse refused %s as the CUSE connection", mountpoint);
                r = -EIO;
                goto err_session;
        }
        TAKE_FD(fd);
        c->ev = event_new(base, fuse_session_fd(c->se), EV_READ | EV_PERSIST, cuse_read_cb, c);
        if (!c->ev || event_add(c->ev, NULL) < 0) {
                snprintf(why, why_len, "out of memory");
                r = -ENOMEM;
                goto err_session;
        }
        device_set_poll(dev, base, &cuse_poll_ops);
        device_set_sync(dev, &cuse_sync_ops);
        *ret = c;
        return 0;

err_session:
        if (c->ev)
                event_free(c->ev);
        fuse_session_destroy(c->se);
err_free:
        free(c);
        return r;
}

void cuse_stop(struct cuse *c)
{
        if (!c)
                return;
        if (c->ev)
                event_free(c->ev);
        /* SYNC starts still waiting hold requests of the session: answer
         * them while it lives, as a stopping daemon's socket answers its
         * clients (-EPIPE); none can come after */
        device_sync_cancel(c->dev, -EPIPE);
        device_set_sync(c->dev, NULL);
        /* closing the connection removes the node; open files see ENODEV */
        fuse_session_destroy(c->se);
        free(c->buf.mem);
        free(c->io);
        free(c);
}
