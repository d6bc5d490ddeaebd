/* SPDX-License-Identifier: MIT */
#include "ioctl-args.h"

#include <errno.h>
#include <string.h>

#include "bufshare/bufshare-ioctl.h"

#define DESC(cmd_, type_) { .name = #cmd_, .cmd = cmd_, .size = sizeof(struct type_) }

static const struct ioctl_desc descs[] = {
        DESC(BUFSHARE_IOCTL_VERSION, bufshare_version),
        DESC(BUFSHARE_IOCTL_ALLOC, bufshare_alloc),
        DESC(BUFSHARE_IOCTL_INFO, bufshare_info),
        DESC(BUFSHARE_IOCTL_SET_NAME, bufshare_set_name),
        DESC(BUFSHARE_IOCTL_SYNC, bufshare_sync),
        DESC(BUFSHARE_IOCTL_BIND, bufshare_bind),
        DESC(BUFSHARE_IOCTL_RELEASE, bufshare_release),
};

_Static_assert(sizeof(struct bufshare_info) <= IOCTL_ARG_MAX, "IOCTL_ARG_MAX");
_Static_assert(sizeof(struct bufshare_alloc) <= IOCTL_ARG_MAX, "IOCTL_ARG_MAX");

/* Everything but the size: direction, magic and sequence number. */
#define CMD_SANS_SIZE(cmd) ((cmd) & ~((uint32_t)_IOC_SIZEMASK << _IOC_SIZESHIFT))

const struct ioctl_desc *ioctl_lookup(uint32_t cmd)
{
        for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
                if (CMD_SANS_SIZE(descs[i].cmd) == CMD_SANS_SIZE(cmd))
                        return &descs[i];
        return NULL;
}

int ioctl_copy_in(const struct ioctl_desc *d, uint32_t cmd, const void *in, size_t in_len, void *karg)
{
        size_t want = (_IOC_DIR(cmd) & _IOC_WRITE) ? _IOC_SIZE(cmd) : 0;
        const unsigned char *p = in;

        if (in_len != want)
                return -EINVAL;
        memset(karg, 0, IOCTL_ARG_MAX);
        for (size_t i = d->size; i < in_len; i++)
                if (p[i])
                        return -E2BIG;
        if (in_len)
                memcpy(karg, in, in_len < d->size ? in_len : d->size);
        return 0;
}

size_t ioctl_out_size(uint32_t cmd)
{
        return (_IOC_DIR(cmd) & _IOC_READ) ? _IOC_SIZE(cmd) : 0;
}
