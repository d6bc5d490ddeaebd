/* SPDX-License-Identifier: MIT */
#include "idle.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>

#include "registry.h"

#define IDLE_PRIORITIES 3
#define IDLE_PRIORITY (IDLE_PRIORITIES - 1)

struct idle {
        struct event *ev;
        struct registry *registry;
};

static void idle_cb(evutil_socket_t fd, short what, void *data)
{
        struct idle *i = data;
        (void)fd;
        (void)what;

        if (registry_refill(i->registry, IDLE_STEP))
                event_active(i->ev, 0, 0); /* more at the next idle turn */
}

int idle_new(struct event_base *base, struct registry *r, struct idle **ret)
{
        struct idle *i;

        /* events made from now on default to priority 1 (3 / 2) */
        if (event_base_priority_init(base, IDLE_PRIORITIES) < 0)
                return -ENOMEM;
        i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        i->registry = r;
        i->ev = event_new(base, -1, 0, idle_cb, i);
        if (!i->ev || event_priority_set(i->ev, IDLE_PRIORITY) < 0) {
                idle_free(i);
                return -ENOMEM;
        }
        *ret = i;
        return 0;
}

void idle_free(struct idle *i)
{
        if (!i)
                return;
        if (i->ev)
                event_free(i->ev);
        free(i);
}

void idle_kick(struct idle *i)
{
        if (i && registry_reserve_low(i->registry))
                event_active(i->ev, 0, 0);
}
