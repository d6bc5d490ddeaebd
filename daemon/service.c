/* SPDX-License-Identifier: MIT */
#include "service.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"

static void send_status(struct service *s, bool always)
{
        char line[SERVICE_STATUS_LEN];

        s->status(s->userdata, line, sizeof(line));
        if (!always && strcmp(line, s->last_status) == 0)
                return;
        memcpy(s->last_status, line, sizeof(line));
        sd_notifyf(0, "STATUS=%s", line);
}

static void status_cb(evutil_socket_t fd, short what, void *data)
{
        (void)fd;
        (void)what;
        send_status(data, false);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *data)
{
        (void)fd;
        (void)what;
        (void)data;
        sd_notify(0, "WATCHDOG=1");
}

int service_init(struct service *s, struct event_base *base, service_status_fn status, void *userdata)
{
        const char *e = getenv("NOTIFY_SOCKET");
        uint64_t usec = 0;

        memset(s, 0, sizeof(*s));
        s->status = status;
        s->userdata = userdata;
        s->notify = e && *e;
        if (!s->notify)
                return 0;
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
                s->watchdog_usec = usec;
                s->watchdog_ev = event_new(base, -1, EV_PERSIST, watchdog_cb, s);
                if (!s->watchdog_ev)
                        return -ENOMEM;
        }
        s->status_ev = event_new(base, -1, EV_PERSIST, status_cb, s);
        return s->status_ev ? 0 : -ENOMEM;
}

void service_done(struct service *s)
{
        if (s->status_ev)
                event_free(s->status_ev);
        if (s->watchdog_ev)
                event_free(s->watchdog_ev);
        s->status_ev = s->watchdog_ev = NULL;
}

void service_ready(struct service *s)
{
        struct timeval status_tv = { SERVICE_STATUS_INTERVAL_MS / 1000, (SERVICE_STATUS_INTERVAL_MS % 1000) * 1000 };

        if (s->ready)
                return;
        s->ready = true;
        if (!s->notify)
                return;
        s->status(s->userdata, s->last_status, sizeof(s->last_status));
        sd_notifyf(0, "READY=1\nSTATUS=%s", s->last_status);
        event_add(s->status_ev, &status_tv);
        if (s->watchdog_ev) {
                /* half the interval, as sd_watchdog_enabled(3) advises */
                struct timeval tv = { (time_t)(s->watchdog_usec / 2 / 1000000),
                                      (suseconds_t)(s->watchdog_usec / 2 % 1000000) };
                sd_notify(0, "WATCHDOG=1");
                event_add(s->watchdog_ev, &tv);
                log_info("watchdog: pinging systemd every %llu ms", (unsigned long long)s->watchdog_usec / 2000);
        }
}

void service_reloading(struct service *s)
{
        if (s->notify)
                sd_notify(0, "RELOADING=1\nSTATUS=reloading");
}

void service_reloaded(struct service *s, const char *error)
{
        if (!s->notify)
                return;
        if (error) {
                snprintf(s->last_status, sizeof(s->last_status), "reload failed, old limits kept: %s", error);
                sd_notifyf(0, "READY=1\nSTATUS=%s", s->last_status);
        } else {
                s->status(s->userdata, s->last_status, sizeof(s->last_status));
                sd_notifyf(0, "READY=1\nSTATUS=%s", s->last_status);
        }
}

void service_stopping(struct service *s)
{
        if (s->notify)
                sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
