/* SPDX-License-Identifier: MIT */
/*
 * What the service manager hears from the daemon (sd_notify), all from
 * the one event loop: READY=1 once it serves; STATUS= with live counts,
 * sent at most once per SERVICE_STATUS_INTERVAL_MS and only when they
 * changed; WATCHDOG=1 every half of WatchdogSec= (so a stuck loop stops
 * the pings and systemd restarts the service); RELOADING=1 and READY=1
 * around a reload; STOPPING=1 at the end. Without $NOTIFY_SOCKET all of
 * this costs nothing: no timer runs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct event;

#define SERVICE_STATUS_INTERVAL_MS 1000
#define SERVICE_STATUS_LEN 256

/* Fills @buf (@len bytes) with the status line of the moment. */
typedef void (*service_status_fn)(void *userdata, char *buf, size_t len);

struct service {
        bool notify;           /* $NOTIFY_SOCKET is set */
        bool ready;
        uint64_t watchdog_usec; /* 0: no watchdog */
        struct event *status_ev, *watchdog_ev;
        service_status_fn status;
        void *userdata;
        char last_status[SERVICE_STATUS_LEN];
};

/* Set up @s on @base; timers start with service_ready(). 0 or -ENOMEM. */
int service_init(struct service *s, struct event_base *base, service_status_fn status, void *userdata);
void service_done(struct service *s);

/* The daemon serves: READY=1 with the first status, and the timers. */
void service_ready(struct service *s);
/* A reload begins (RELOADING=1) / ended, with @error NULL or why it failed. */
void service_reloading(struct service *s);
void service_reloaded(struct service *s, const char *error);
/* The loop ended: STOPPING=1. */
void service_stopping(struct service *s);
