/* SPDX-License-Identifier: MIT */
/* cuse.h in a build without libfuse (-Dcuse=disabled): the socket alone. */
#include "cuse.h"

#include <errno.h>
#include <stdio.h>

int cuse_start(struct event_base *base, struct device *dev, const struct cuse_options *o, struct cuse **ret,
               char *why, size_t why_len)
{
        (void)base;
        (void)dev;
        (void)o;
        (void)ret;
        snprintf(why, why_len, "built without libfuse (-Dcuse=disabled)");
        return -EOPNOTSUPP;
}

void cuse_stop(struct cuse *c)
{
        (void)c;
}
