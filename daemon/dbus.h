/* SPDX-License-Identifier: MIT */
/*
 * org.bufshare1 on D-Bus (sd-bus), on the daemon's one libevent loop: an
 * event on sd_bus_get_fd() runs sd_bus_process() until it returns 0 (or
 * a budget is spent, so that a caller flooding the bus can't starve the
 * socket's clients), then re-arms from sd_bus_get_events() and
 * sd_bus_get_timeout(). No second loop, no thread.
 *
 * Object /org/bufshare1, interface org.bufshare1.Manager: buffers,
 * clients, counters and limits to read, SetLimit() for root, and the
 * signals BufferCreated, BufferReleased and EventsDropped, bounded to
 * DBUS_SIGNAL_RATE a second (bursts of DBUS_SIGNAL_BURST): past that,
 * events are counted and one EventsDropped(count) is sent when the
 * budget allows. The full API is in bufshared(8).
 *
 * A bus that is missing, refuses the name or goes away costs one log
 * line: the daemon goes on serving its socket.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "limits.h"
#include "log.h"

struct event_base;
struct registry;
struct server;

#define DBUS_NAME "org.bufshare1"
#define DBUS_PATH "/org/bufshare1"
#define DBUS_INTERFACE "org.bufshare1.Manager"

#define DBUS_SIGNAL_RATE 100u  /* signals a second, on average */
#define DBUS_SIGNAL_BURST 200u /* signals at once after a quiet spell */
#define DBUS_PROCESS_BUDGET 64 /* sd_bus_process() calls per wake-up */

enum dbus_bus {
        DBUS_BUS_AUTO,    /* the system bus as root or as a system service, else the session bus */
        DBUS_BUS_SYSTEM,
        DBUS_BUS_SESSION,
        DBUS_BUS_NONE,
};

/* "auto", "system", "session", "none": 0, or -EINVAL. */
static inline int dbus_bus_from_string(const char *s, enum dbus_bus *ret)
{
        static const char *const names[] = { "auto", "system", "session", "none" };

        for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(s, names[i]) == 0) {
                        *ret = (enum dbus_bus)i;
                        return 0;
                }
        return -EINVAL;
}

/* What the D-Bus interface shows and changes. */
struct dbus_context {
        struct registry *registry;
        struct server *server;
        struct limits *limits; /* changed in place by SetLimit() */
        /* told when the bus is settled: the name is ours, or D-Bus is off */
        void (*settled)(void *userdata);
        void *userdata;
};

struct dbus;

#ifdef HAVE_DBUS
/*
 * Connect to @bus and ask for the name, asynchronously: @ctx->settled
 * runs from the loop once that is decided (also when D-Bus is off, then
 * before this returns). Sets itself as @ctx->registry's observer.
 * Returns 0 with *@ret (NULL when D-Bus is off), or -ENOMEM.
 */
int dbus_new(struct event_base *base, enum dbus_bus bus, const struct dbus_context *ctx, struct dbus **ret);
/* Leave the bus (flushing what is queued) and stop observing. NULL-safe. */
struct dbus *dbus_free(struct dbus *d);
/* The limits changed from @old (a reload): PropertiesChanged. */
void dbus_limits_changed(struct dbus *d, const struct limits *old);
#else
static inline int dbus_new(struct event_base *base, enum dbus_bus bus, const struct dbus_context *ctx,
                           struct dbus **ret)
{
        (void)base;
        if (bus != DBUS_BUS_NONE && bus != DBUS_BUS_AUTO)
                log_warn("D-Bus: this bufshared was built without it (-Ddbus=disabled)");
        *ret = NULL;
        ctx->settled(ctx->userdata);
        return 0;
}
static inline struct dbus *dbus_free(struct dbus *d)
{
        (void)d;
        return NULL;
}
static inline void dbus_limits_changed(struct dbus *d, const struct limits *old)
{
        (void)d;
        (void)old;
}
#endif
