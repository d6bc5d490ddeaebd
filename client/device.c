/* SPDX-License-Identifier: MIT */
/* The CUSE device's calls: ioctls on the device file, and REDEEM. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "bufshare/bufshare-ioctl.h"
#include "api.h"
#include "client-private.h"
#include "util.h"

struct bs_device {
        int fd;
};

static int dev_ioctl(struct bs_device *dev, unsigned long cmd, void *arg)
{
        return ioctl(dev->fd, cmd, arg) < 0 ? -errno : 0;
}

int device_open(const char *path, struct bs_device **ret_device)
{
        struct bufshare_version v = { 0 };
        struct bs_device *dev;
        int r;

        lib_return_if(!ret_device, -EINVAL);
        dev = calloc(1, sizeof(*dev));
        if (!dev)
                return -ENOMEM;
        dev->fd = open(path ? path : BS_DEVICE_PATH, O_RDWR | O_CLOEXEC);
        if (dev->fd < 0) {
                r = -errno;
                free(dev);
                return r;
        }
        r = dev_ioctl(dev, BUFSHARE_IOCTL_VERSION, &v);
        if (r == 0 && v.api_version != BUFSHARE_IOCTL_API_VERSION)
                r = -EPROTONOSUPPORT;
        if (r < 0) {
                bs_device_close(dev);
                return r == -EINVAL ? -ENOTTY : r; /* some drivers say EINVAL */
        }
        *ret_device = dev;
        return 0;
}

_public_ struct bs_device *bs_device_close(struct bs_device *dev)
{
        if (dev) {
                safe_close(dev->fd);
                free(dev);
        }
        return NULL;
}

int device_fd(struct bs_device *dev)
{
        lib_return_if(!dev, -EINVAL);
        return dev->fd;
}

int client_redeem(struct bs_client *c, const uint64_t token[2], struct bs_buffer **ret_buffer)
{
        struct bs_msg req, rep;
        int r;

        lib_return_if(!c || !token || !ret_buffer, -EINVAL);
        bs_msg_request(&req, BS_OP_REDEEM, 0);
        req.body.redeem_req.token[0] = token[0];
        req.body.redeem_req.token[1] = token[1];
        r = client_call(c, &req, &rep);
        explicit_bzero(&req.body.redeem_req, sizeof(req.body.redeem_req));
        if (r < 0)
                return r;
        return client_buffer_from_reply(c, &rep, ret_buffer);
}

int device_alloc(struct bs_device *dev, struct bs_client *c, uint64_t size, const char *heap,
                             const char *name, struct bs_buffer **ret_buffer)
{
        struct bufshare_alloc a = { .size = size };
        uint64_t token[2];
        int r;

        lib_return_if(!dev || !c || !ret_buffer, -EINVAL);
        lib_return_if(size == 0, -EINVAL);
        r = bs_string_set(a.heap, sizeof(a.heap), heap ? heap : "system");
        if (r < 0)
                return r;
        r = bs_string_set(a.name, sizeof(a.name), name);
        if (r < 0)
                return r;
        r = dev_ioctl(dev, BUFSHARE_IOCTL_ALLOC, &a);
        if (r < 0)
                return r;
        token[0] = a.token[0];
        token[1] = a.token[1];
        r = client_redeem(c, token, ret_buffer);
        explicit_bzero(token, sizeof(token));
        if (r < 0) {
                /* nothing half-made: the buffer goes with the file's reference */
                struct bufshare_release rel = { .id = a.id };
                dev_ioctl(dev, BUFSHARE_IOCTL_RELEASE, &rel);
        }
        explicit_bzero(&a, sizeof(a));
        return r;
}

int device_bind(struct bs_device *dev, uint64_t id, uint64_t offset)
{
        struct bufshare_bind b = { .id = id, .offset = offset };

        lib_return_if(!dev, -EINVAL);
        return dev_ioctl(dev, BUFSHARE_IOCTL_BIND, &b);
}

int device_release(struct bs_device *dev, uint64_t id)
{
        struct bufshare_release rel = { .id = id };

        lib_return_if(!dev, -EINVAL);
        return dev_ioctl(dev, BUFSHARE_IOCTL_RELEASE, &rel);
}
