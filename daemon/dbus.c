/* SPDX-License-Identifier: MIT */
#include "dbus.h"

#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "connection.h"
#include "log.h"
#include "registry.h"
#include "server.h"
#include "utf8.h"
#include "util.h"

#define DBUS_ERROR_NO_SUCH_BUFFER "org.bufshare1.Error.NoSuchBuffer"
#define DBUS_ERROR_NO_SUCH_LIMIT "org.bufshare1.Error.NoSuchLimit"
/* How long a call the daemon makes may take (RequestName, the sender's
 * credentials): the loop must not hang on a stuck bus. */
#define DBUS_CALL_TIMEOUT_USEC (5ull * 1000000ull)
#define NSEC_PER_SEC 1000000000ull

struct dbus {
        sd_bus *bus;
        sd_bus_slot *vtable_slot, *name_slot;
        struct event *rev, *wev, *tev;
        struct dbus_context ctx;
        bool settled;
        bool drop; /* leave the bus once sd_bus_process() returns */
        const char *bus_name; /* "system" or "session", for the log */
        /* the signal budget: a token bucket in nanosignals */
        uint64_t budget, budget_ns;
        uint64_t pending_dropped; /* events dropped since the last EventsDropped */
        struct event *dropped_ev;
        uint64_t signals_sent, signals_dropped;
};

static uint64_t now_ns(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void dbus_settle(struct dbus *d)
{
        if (d->settled)
                return;
        d->settled = true;
        d->ctx.settled(d->ctx.userdata);
}

/* Leave the bus: D-Bus is off from now on. */
static void dbus_drop_bus(struct dbus *d, bool flush)
{
        if (!d->bus)
                return;
        if (d->rev)
                event_del(d->rev);
        if (d->wev)
                event_del(d->wev);
        event_del(d->tev);
        event_del(d->dropped_ev);
        d->name_slot = sd_bus_slot_unref(d->name_slot);
        d->vtable_slot = sd_bus_slot_unref(d->vtable_slot);
        d->bus = flush ? sd_bus_flush_close_unref(d->bus) : sd_bus_close_unref(d->bus);
}

static void dbus_lost(struct dbus *d, int r)
{
        log_warn("D-Bus: the %s bus connection failed (%s): management over D-Bus is off", d->bus_name,
                 strerror(-r));
        dbus_drop_bus(d, false);
        dbus_settle(d);
}

/* Wait for what sd-bus waits for. */
static void dbus_arm(struct dbus *d)
{
        uint64_t until, now;
        struct timeval tv;
        int events;

        if (!d->bus)
                return;
        events = sd_bus_get_events(d->bus);
        if (events < 0) {
                dbus_lost(d, events);
                return;
        }
        if (events & POLLIN)
                event_add(d->rev, NULL);
        else
                event_del(d->rev);
        if (events & POLLOUT)
                event_add(d->wev, NULL);
        else
                event_del(d->wev);
        if (sd_bus_get_timeout(d->bus, &until) < 0 || until == UINT64_MAX) {
                event_del(d->tev);
                return;
        }
        /* until is CLOCK_MONOTONIC in microseconds; 0 means "process now" */
        now = now_ns(CLOCK_MONOTONIC) / 1000;
        until = until > now ? until - now : 0;
        tv.tv_sec = (time_t)(until / 1000000);
        tv.tv_usec = (suseconds_t)(until % 1000000);
        event_add(d->tev, &tv);
}

/* Process what the bus has, up to a budget: the rest waits behind the
 * socket's clients (a zero timeout from sd_bus_get_timeout() brings us
 * back after the loop has polled them). */
static void dbus_io_cb(evutil_socket_t fd, short what, void *data)
{
        struct dbus *d = data;
        (void)fd;
        (void)what;

        for (int i = 0; d->bus && i < DBUS_PROCESS_BUDGET; i++) {
                int r = sd_bus_process(d->bus, NULL);
                if (r < 0) {
                        dbus_lost(d, r);
                        return;
                }
                if (r == 0 || d->drop)
                        break;
        }
        if (d->drop) {
                d->drop = false;
                dbus_drop_bus(d, false);
                dbus_settle(d);
                return;
        }
        dbus_arm(d);
}

/* ---- strings from clients -------------------------------------------- */

/* Names and process names come from clients: D-Bus strings must be
 * UTF-8, so anything else is sent escaped as the log writes it. */
static const char *bus_string(const char *s, char *buf, size_t len)
{
        if (bs_utf8_valid(s))
                return s;
        log_escape(buf, len, s);
        return buf;
}

#define BUS_NAME_BUF (4 * BS_NAME_LEN)

/* ---- signals ---------------------------------------------------------- */

/* One signal's worth of budget, if there is one. */
static bool signal_budget_take(struct dbus *d)
{
        uint64_t now = now_ns(CLOCK_MONOTONIC), cap = DBUS_SIGNAL_BURST * NSEC_PER_SEC;

        d->budget += (now - d->budget_ns) * DBUS_SIGNAL_RATE;
        if (d->budget > cap)
                d->budget = cap;
        d->budget_ns = now;
        if (d->budget < NSEC_PER_SEC)
                return false;
        d->budget -= NSEC_PER_SEC;
        return true;
}

static void signal_emit(struct dbus *d, int r)
{
        if (r < 0) {
                d->signals_dropped++;
                return;
        }
        d->signals_sent++;
        dbus_arm(d);
}

/* Tell of the events dropped since the last time, if the budget allows;
 * else try again when it will. */
static bool signal_flush_dropped(struct dbus *d)
{
        struct timeval tv = { 0, 1000000 / DBUS_SIGNAL_RATE };

        if (d->pending_dropped == 0)
                return true;
        if (!signal_budget_take(d)) {
                event_add(d->dropped_ev, &tv);
                return false;
        }
        signal_emit(d, sd_bus_emit_signal(d->bus, DBUS_PATH, DBUS_INTERFACE, "EventsDropped", "t",
                                          d->pending_dropped));
        d->pending_dropped = 0;
        return true;
}

static void dropped_cb(evutil_socket_t fd, short what, void *data)
{
        (void)fd;
        (void)what;
        signal_flush_dropped(data);
}

/* May one more event go out now? Counts it as dropped if not. Events
 * are never reordered: a drop notice goes before the next event. */
static bool signal_admit(struct dbus *d)
{
        if (!d->bus)
                return false;
        if (signal_flush_dropped(d) && signal_budget_take(d))
                return true;
        d->pending_dropped++;
        d->signals_dropped++;
        signal_flush_dropped(d); /* arms the timer */
        return false;
}

static void on_created(void *userdata, const struct buffer *b)
{
        struct dbus *d = userdata;
        char name[BUS_NAME_BUF], heap[BUS_NAME_BUF], comm[BUS_NAME_BUF];

        if (!signal_admit(d))
                return;
        signal_emit(d, sd_bus_emit_signal(d->bus, DBUS_PATH, DBUS_INTERFACE, "BufferCreated", "tsstuus",
                                          b->ident.id, bus_string(b->ident.name, name, sizeof(name)),
                                          bus_string(b->ident.heap, heap, sizeof(heap)), b->ident.size,
                                          (uint32_t)b->ident.exporter_pid, (uint32_t)b->ident.exporter_uid,
                                          bus_string(b->ident.exporter_comm, comm, sizeof(comm))));
}

static void on_released(void *userdata, const struct buffer_ident *ident)
{
        struct dbus *d = userdata;
        char name[BUS_NAME_BUF];

        if (!signal_admit(d))
                return;
        signal_emit(d, sd_bus_emit_signal(d->bus, DBUS_PATH, DBUS_INTERFACE, "BufferReleased", "tst", ident->id,
                                          bus_string(ident->name, name, sizeof(name)), ident->size));
}

/* ---- methods ---------------------------------------------------------- */

static int method_list_buffers(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct dbus *d = userdata;
        const struct buffer *b;
        size_t cursor = 0;
        int r;

        (void)error;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(tssttuusuuu)");
        while (r >= 0 && (b = registry_next_buffer(d->ctx.registry, &cursor))) {
                char name[BUS_NAME_BUF], heap[BUS_NAME_BUF], comm[BUS_NAME_BUF];
                r = sd_bus_message_append(reply, "(tssttuusuuu)", b->ident.id,
                                          bus_string(b->ident.name, name, sizeof(name)),
                                          bus_string(b->ident.heap, heap, sizeof(heap)), b->ident.size,
                                          b->ident.created_ns / 1000, (uint32_t)b->ident.exporter_pid,
                                          (uint32_t)b->ident.exporter_uid,
                                          bus_string(b->ident.exporter_comm, comm, sizeof(comm)),
                                          (uint32_t)b->payer, b->n_refs, b->n_holders);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int append_holders(sd_bus_message *reply, struct registry *reg, uint64_t id)
{
        const struct buffer *b = registry_lookup(reg, id);
        struct registry_holder_info *h = NULL;
        unsigned n = 0;
        int r;

        if (b && b->n_holders) {
                h = calloc(b->n_holders, sizeof(*h));
                if (!h)
                        return -ENOMEM;
                n = registry_buffer_holders(b, h, b->n_holders);
        }
        r = sd_bus_message_open_container(reply, 'a', "(tuusuu)");
        for (unsigned i = 0; r >= 0 && i < n; i++) {
                char comm[BUS_NAME_BUF];
                r = sd_bus_message_append(reply, "(tuusuu)", h[i].holder_id, (uint32_t)h[i].pid,
                                          (uint32_t)h[i].uid, bus_string(h[i].comm, comm, sizeof(comm)),
                                          h[i].refs, h[i].readonly_refs);
        }
        free(h);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int method_describe_buffer(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct dbus *d = userdata;
        struct registry_info info;
        char name[BUS_NAME_BUF], heap[BUS_NAME_BUF], comm[BUS_NAME_BUF];
        uint64_t id;
        int r;

        r = sd_bus_message_read(m, "t", &id);
        if (r < 0)
                return r;
        if (registry_get_info_admin(d->ctx.registry, id, &info) < 0)
                return sd_bus_error_setf(error, DBUS_ERROR_NO_SUCH_BUFFER, "No buffer %llu", (unsigned long long)id);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "tssttuusuuuuuu", info.ident.id,
                                  bus_string(info.ident.name, name, sizeof(name)),
                                  bus_string(info.ident.heap, heap, sizeof(heap)), info.ident.size,
                                  info.ident.created_ns / 1000, (uint32_t)info.ident.exporter_pid,
                                  (uint32_t)info.ident.exporter_uid,
                                  bus_string(info.ident.exporter_comm, comm, sizeof(comm)), (uint32_t)info.payer,
                                  info.n_refs, info.n_holders, info.n_readonly, info.n_attachments,
                                  info.n_cpu_access);
        if (r >= 0)
                r = append_holders(reply, d->ctx.registry, id);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(suby)");
        for (unsigned i = 0; r >= 0 && i < info.n_attachments && i < REGISTRY_INFO_MAX; i++)
                r = sd_bus_message_append(reply, "(suby)",
                                          bus_string(info.attachments[i].device, name, sizeof(name)),
                                          (uint32_t)info.attachments[i].pid, (int)info.attachments[i].mapped,
                                          info.attachments[i].direction);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(uu)");
        for (unsigned i = 0; r >= 0 && i < info.n_cpu_access && i < REGISTRY_INFO_MAX; i++)
                r = sd_bus_message_append(reply, "(uu)", (uint32_t)info.cpu_access[i].pid, info.cpu_access[i].flags);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list_clients(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct dbus *d = userdata;
        const struct conn *c = NULL;
        int r;

        (void)error;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(tuuussuuu)");
        while (r >= 0 && (c = server_next_conn(d->ctx.server, c))) {
                const struct session *s = &c->session;
                char comm[BUS_NAME_BUF], name[BUS_NAME_BUF];
                r = sd_bus_message_append(reply, "(tuuussuuu)", s->holder.id, (uint32_t)s->holder.pid,
                                          (uint32_t)s->holder.uid, (uint32_t)s->holder.gid,
                                          bus_string(s->holder.comm, comm, sizeof(comm)),
                                          bus_string(s->name, name, sizeof(name)), s->version,
                                          s->holder.n_buffers, s->holder.n_attachments);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_stats(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct dbus *d = userdata;
        const struct registry *reg = d->ctx.registry;
        const struct {
                const char *key;
                uint64_t value;
        } stats[] = {
                { "buffers", reg->n_buffers },
                { "bytes", reg->n_bytes },
                { "clients", d->ctx.server->n_conns },
                { "paying_uids", registry_n_payers(reg) },
                { "exported", reg->stats.exported },
                { "imported", reg->stats.imported },
                { "adopted", reg->stats.adopted },
                { "revived", reg->stats.revived },
                { "released", reg->stats.released },
                { "refused", reg->stats.refused },
                { "signals_sent", d->signals_sent },
                { "signals_dropped", d->signals_dropped },
        };
        int r;

        (void)error;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{st}");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(stats); i++)
                r = sd_bus_message_append(reply, "{st}", stats[i].key, stats[i].value);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static const struct limit_desc *limit_by_either_name(const char *name)
{
        const struct limit_desc *l = limits_lookup(name);

        for (unsigned i = 0; !l && i < limits_table_len; i++)
                if (strcmp(limits_table[i].property, name) == 0)
                        l = &limits_table[i];
        return l;
}

/* Root only: the sender's effective uid, as the bus saw it connect.
 * Asking the bus for it is a short synchronous call (sd-bus can't take
 * credentials from a dbus-daemon message); it is bounded by
 * DBUS_CALL_TIMEOUT_USEC and only SetLimit() pays it. */
static int check_root(sd_bus_message *m, const char *what, sd_bus_error *error, pid_t *ret_pid)
{
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t euid;
        pid_t pid = 0;
        int r;

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &euid);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s is for root only, and the caller's uid is unknown", what);
        if (euid != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s is for root only; the caller's uid is %u", what, (unsigned)euid);
        (void)sd_bus_creds_get_pid(creds, &pid);
        *ret_pid = pid;
        return 0;
}

static int method_set_limit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct dbus *d = userdata;
        const struct limit_desc *l;
        struct limits next;
        const char *name;
        uint64_t value;
        pid_t pid = 0;
        int r;

        r = sd_bus_message_read(m, "st", &name, &value);
        if (r < 0)
                return r;
        r = check_root(m, "SetLimit", error, &pid);
        if (r < 0)
                return r;
        l = limit_by_either_name(name);
        if (!l)
                return sd_bus_error_setf(error, DBUS_ERROR_NO_SUCH_LIMIT, "No limit called \"%.64s\"", name);
        next = *d->ctx.limits;
        if (limits_set(&next, l, value) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s must be %s", l->name,
                                         l->kind == LIMIT_SIZE ? "a size of at least 1 byte" :
                                                                 "a count from 1 to 4294967295");
        /* one assignment on the loop's only thread: every reader of the
         * limits (registry, dispatch, server) sees the old or the new */
        *d->ctx.limits = next;
        log_info("limit %s set to %llu over D-Bus by root (pid %d); a reload goes back to the configuration",
                 l->name, (unsigned long long)value, (int)pid);
        sd_bus_emit_properties_changed(d->bus, DBUS_PATH, DBUS_INTERFACE, l->property, NULL);
        return sd_bus_reply_method_return(m, NULL);
}

/* ---- properties ------------------------------------------------------- */

static int property_get_limit(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        struct dbus *d = userdata;
        const struct limit_desc *l = limit_by_either_name(property);
        uint64_t v;

        (void)bus;
        (void)path;
        (void)interface;
        (void)error;
        if (!l)
                return -ENOENT;
        v = limits_get(d->ctx.limits, l);
        return l->kind == LIMIT_SIZE ? sd_bus_message_append(reply, "t", v)
                                     : sd_bus_message_append(reply, "u", (uint32_t)v);
}

static int property_get_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        struct dbus *d = userdata;

        (void)bus;
        (void)path;
        (void)interface;
        (void)error;
        if (strcmp(property, "Buffers") == 0)
                return sd_bus_message_append(reply, "t", d->ctx.registry->n_buffers);
        if (strcmp(property, "Bytes") == 0)
                return sd_bus_message_append(reply, "t", d->ctx.registry->n_bytes);
        return sd_bus_message_append(reply, "u", d->ctx.server->n_conns);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        (void)bus;
        (void)path;
        (void)interface;
        (void)property;
        (void)userdata;
        (void)error;
        return sd_bus_message_append(reply, "s", BUFSHARE_VERSION);
}

#define LIMIT_PROPERTY(p, sig) SD_BUS_PROPERTY(p, sig, property_get_limit, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Buffers", "t", property_get_count, 0, 0),
        SD_BUS_PROPERTY("Bytes", "t", property_get_count, 0, 0),
        SD_BUS_PROPERTY("Clients", "u", property_get_count, 0, 0),
        LIMIT_PROPERTY("MaxBufferSize", "t"),
        LIMIT_PROPERTY("MaxBytesPerUid", "t"),
        LIMIT_PROPERTY("MaxBuffersPerClient", "u"),
        LIMIT_PROPERTY("MaxBuffersPerUid", "u"),
        LIMIT_PROPERTY("MaxClients", "u"),
        LIMIT_PROPERTY("MaxConnectionsPerUid", "u"),
        LIMIT_PROPERTY("MaxAttachmentsPerClient", "u"),
        LIMIT_PROPERTY("MaxFencesPerClient", "u"),
        LIMIT_PROPERTY("MaxFencesPerUid", "u"),
        LIMIT_PROPERTY("MaxWaitersPerClient", "u"),
        LIMIT_PROPERTY("MaxWaitersPerFence", "u"),
        LIMIT_PROPERTY("MaxSyncFilesPerUid", "u"),
        LIMIT_PROPERTY("MaxFdsInFlightPerUid", "u"),
        LIMIT_PROPERTY("HelloTimeout", "u"),
        SD_BUS_METHOD_WITH_ARGS("ListBuffers", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(tssttuusuuu)", buffers), method_list_buffers,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DescribeBuffer", SD_BUS_ARGS("t", id),
                                SD_BUS_RESULT("t", id, "s", name, "s", heap, "t", size, "t", created_usec,
                                              "u", exporter_pid, "u", exporter_uid, "s", exporter_comm,
                                              "u", payer_uid, "u", n_refs, "u", n_holders, "u", n_readonly,
                                              "u", n_attachments, "u", n_cpu_access, "a(tuusuu)", holders,
                                              "a(suby)", attachments, "a(uu)", cpu_access),
                                method_describe_buffer, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListClients", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(tuuussuuu)", clients),
                                method_list_clients, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetStats", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{st}", stats), method_get_stats,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetLimit", SD_BUS_ARGS("s", name, "t", value), SD_BUS_NO_RESULT,
                                method_set_limit, SD_BUS_VTABLE_UNPRIVILEGED /* check_root() decides */),
        SD_BUS_SIGNAL_WITH_ARGS("BufferCreated",
                                SD_BUS_ARGS("t", id, "s", name, "s", heap, "t", size, "u", exporter_pid,
                                            "u", exporter_uid, "s", exporter_comm),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("BufferReleased", SD_BUS_ARGS("t", id, "s", name, "t", size), 0),
        SD_BUS_SIGNAL_WITH_ARGS("EventsDropped", SD_BUS_ARGS("t", count), 0),
        SD_BUS_VTABLE_END,
};

void dbus_limits_changed(struct dbus *d, const struct limits *old)
{
        const char *names[32 + 1];
        unsigned n = 0;

        if (!d || !d->bus)
                return;
        for (unsigned i = 0; i < limits_table_len; i++)
                if (limits_get(old, &limits_table[i]) != limits_get(d->ctx.limits, &limits_table[i]))
                        names[n++] = limits_table[i].property;
        names[n] = NULL;
        if (n)
                sd_bus_emit_properties_changed_strv(d->bus, DBUS_PATH, DBUS_INTERFACE, (char **)names);
        dbus_arm(d);
}

/* ---- the connection ---------------------------------------------------- */

static int name_acquired(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct dbus *d = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        uint32_t result = 0;

        (void)ret_error;
        d->name_slot = sd_bus_slot_unref(d->name_slot);
        if (e) {
                log_warn("D-Bus: %s is not ours on the %s bus (%s): management over D-Bus is off", DBUS_NAME,
                         d->bus_name, e->message ? e->message : e->name);
                d->drop = true; /* not from inside sd_bus_process() */
                return 0;
        }
        (void)sd_bus_message_read(m, "u", &result);
        log_info("D-Bus: %s on the %s bus", DBUS_NAME, d->bus_name);
        dbus_settle(d);
        return 0;
}

static enum dbus_bus bus_auto(void)
{
        const char *invocation = getenv("INVOCATION_ID");

        if (geteuid() == 0)
                return DBUS_BUS_SYSTEM;
        /* a system service of its own user: the system manager (PID 1)
         * started it; a user manager's services have it as parent */
        if (invocation && *invocation && getppid() == 1)
                return DBUS_BUS_SYSTEM;
        return DBUS_BUS_SESSION;
}

static int dbus_connect(struct dbus *d, enum dbus_bus which)
{
        int r;

        d->bus_name = which == DBUS_BUS_SYSTEM ? "system" : "session";
        r = which == DBUS_BUS_SYSTEM ? sd_bus_open_system_with_description(&d->bus, "bufshared")
                                     : sd_bus_open_user_with_description(&d->bus, "bufshared");
        if (r < 0)
                return r;
        r = sd_bus_set_method_call_timeout(d->bus, DBUS_CALL_TIMEOUT_USEC);
        if (r >= 0)
                r = sd_bus_add_object_vtable(d->bus, &d->vtable_slot, DBUS_PATH, DBUS_INTERFACE, manager_vtable, d);
        if (r >= 0)
                r = sd_bus_request_name_async(d->bus, &d->name_slot, DBUS_NAME, 0, name_acquired, d);
        return r < 0 ? r : sd_bus_get_fd(d->bus);
}

int dbus_new(struct event_base *base, enum dbus_bus which, const struct dbus_context *ctx, struct dbus **ret)
{
        struct dbus *d;
        int fd;

        *ret = NULL;
        if (which == DBUS_BUS_NONE) {
                ctx->settled(ctx->userdata);
                return 0;
        }
        if (which == DBUS_BUS_AUTO)
                which = bus_auto();
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->ctx = *ctx;
        d->budget = (uint64_t)DBUS_SIGNAL_BURST * NSEC_PER_SEC;
        d->budget_ns = now_ns(CLOCK_MONOTONIC);
        d->tev = evtimer_new(base, dbus_io_cb, d);
        d->dropped_ev = evtimer_new(base, dropped_cb, d);
        if (!d->tev || !d->dropped_ev) {
                dbus_free(d);
                return -ENOMEM;
        }
        fd = dbus_connect(d, which);
        if (fd < 0) {
                log_warn("D-Bus: no %s bus (%s): management over D-Bus is off", d->bus_name, strerror(-fd));
                dbus_drop_bus(d, false);
                dbus_free(d);
                ctx->settled(ctx->userdata);
                return 0;
        }
        d->rev = event_new(base, fd, EV_READ | EV_PERSIST, dbus_io_cb, d);
        d->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, dbus_io_cb, d);
        if (!d->rev || !d->wev) {
                dbus_free(d);
                return -ENOMEM;
        }
        ctx->registry->observer = (struct registry_observer){
                .created = on_created,
                .released = on_released,
                .userdata = d,
        };
        dbus_arm(d);
        *ret = d;
        return 0;
}

struct dbus *dbus_free(struct dbus *d)
{
        if (!d)
                return NULL;
        if (d->ctx.registry && d->ctx.registry->observer.userdata == d)
                d->ctx.registry->observer = (struct registry_observer){};
        if (d->bus)
                dbus_drop_bus(d, true);
        if (d->rev)
                event_free(d->rev);
        if (d->wev)
                event_free(d->wev);
        if (d->tev)
                event_free(d->tev);
        if (d->dropped_ev)
                event_free(d->dropped_ev);
        free(d);
        return NULL;
}
