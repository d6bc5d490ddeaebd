/* SPDX-License-Identifier: MIT */
/* bufsharectl over D-Bus: org.bufshare1.Manager (bufshared(8), D-BUS). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-backends.h"
#include "util.h"

#ifdef HAVE_DBUS
#include <systemd/sd-bus.h>
#include <time.h>

#define NAME "org.bufshare1"
#define PATH "/org/bufshare1"
#define INTERFACE "org.bufshare1.Manager"

/* Say what went wrong with @method, or -EHOSTDOWN quietly when no daemon
 * owns the name (so that the caller may ask the socket instead). */
static int call_failed(const char *method, const sd_bus_error *e, int r)
{
        if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                return -EHOSTDOWN;
        if (sd_bus_error_has_name(e, "org.bufshare1.Error.NoSuchBuffer")) {
                fprintf(stderr, "bufsharectl: %s\n", e->message);
                return -ENOENT;
        }
        fprintf(stderr, "bufsharectl: %s: %s\n", method,
                sd_bus_error_is_set(e) && e->message ? e->message : strerror(-r));
        return r == -ENOENT ? -EIO : r; /* 4 is for buffers only */
}

static int call(struct ctl *ctl, const char *method, sd_bus_message **reply, const char *types, ...)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(ctl->bus, &m, NAME, PATH, INTERFACE, method);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_call(ctl->bus, m, 0, &e, reply);
        if (r < 0)
                r = call_failed(method, &e, r);
        sd_bus_error_free(&e);
        return r;
}

static int bad_reply(const char *method, int r)
{
        fprintf(stderr, "bufsharectl: %s: unexpected reply: %s\n", method, strerror(-r));
        return r;
}

/* Room for one more item of @size in *@list (of *@cap, @n used): 0 or -ENOMEM. */
static int grow(void **list, size_t *cap, size_t n, size_t size)
{
        void *l;

        if (n < *cap)
                return 0;
        l = realloc(*list, (*cap ? 2 * *cap : 16) * size);
        if (!l)
                return -ENOMEM;
        *list = l;
        *cap = *cap ? 2 * *cap : 16;
        return 0;
}

static void copy(char *dst, size_t len, const char *s)
{
        snprintf(dst, len, "%s", s ? s : "");
}

int ctl_bus_open(struct ctl *ctl)
{
        sd_bus *bus = NULL;
        int r = ctl->user_bus ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);

        if (r < 0) {
                fprintf(stderr, "bufsharectl: connecting to the %s bus: %s\n", ctl->user_bus ? "session" : "system",
                        strerror(-r));
                return -EHOSTDOWN;
        }
        ctl->bus = bus;
        return 0;
}

void ctl_bus_close(struct ctl *ctl)
{
        ctl->bus = sd_bus_flush_close_unref(ctl->bus);
}

int ctl_bus_list_buffers(struct ctl *ctl, struct ctl_buffer **ret, size_t *ret_n)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct ctl_buffer *list = NULL;
        size_t n = 0, cap = 0;
        int r;

        r = call(ctl, "ListBuffers", &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(tssttuusuuu)");
        while (r >= 0) {
                const char *name, *heap, *comm;
                struct ctl_buffer *b;

                r = grow((void **)&list, &cap, n, sizeof(*list));
                if (r < 0)
                        break;
                b = memset(&list[n], 0, sizeof(*b));
                r = sd_bus_message_read(reply, "(tssttuusuuu)", &b->id, &name, &heap, &b->size, &b->created_usec,
                                        &b->exporter_pid, &b->exporter_uid, &comm, &b->payer_uid, &b->n_refs,
                                        &b->n_holders);
                if (r <= 0)
                        break;
                copy(b->name, sizeof(b->name), name);
                copy(b->heap, sizeof(b->heap), heap);
                copy(b->exporter_comm, sizeof(b->exporter_comm), comm);
                b->has_payer = b->holders_known = true;
                n++;
        }
        if (r < 0) {
                free(list);
                return bad_reply("ListBuffers", r);
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

static int read_holders(sd_bus_message *reply, struct ctl_buffer *b)
{
        size_t cap = 0;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(tuusuu)");
        while (r >= 0) {
                struct ctl_holder h = {};
                const char *comm;

                r = sd_bus_message_read(reply, "(tuusuu)", &h.client_id, &h.pid, &h.uid, &comm, &h.refs,
                                        &h.readonly_refs);
                if (r <= 0)
                        break;
                copy(h.comm, sizeof(h.comm), comm);
                if (grow((void **)&b->holders, &cap, b->n_holder_list, sizeof(*b->holders)) < 0)
                        return -ENOMEM;
                b->holders[b->n_holder_list++] = h;
        }
        return r < 0 ? r : sd_bus_message_exit_container(reply);
}

int ctl_bus_describe_buffer(struct ctl *ctl, uint64_t id, struct ctl_buffer *ret)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name, *heap, *comm;
        struct ctl_buffer b = {};
        int r;

        r = call(ctl, "DescribeBuffer", &reply, "t", id);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "tssttuusuuuuuu", &b.id, &name, &heap, &b.size, &b.created_usec,
                                &b.exporter_pid, &b.exporter_uid, &comm, &b.payer_uid, &b.n_refs, &b.n_holders,
                                &b.n_readonly, &b.n_attachments, &b.n_cpu_access);
        if (r >= 0) {
                copy(b.name, sizeof(b.name), name);
                copy(b.heap, sizeof(b.heap), heap);
                copy(b.exporter_comm, sizeof(b.exporter_comm), comm);
                b.has_payer = b.holders_known = true;
                r = read_holders(reply, &b);
        }
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(suby)");
        while (r >= 0) {
                struct ctl_attachment a = {};
                const char *device;
                int mapped;

                r = sd_bus_message_read(reply, "(suby)", &device, &a.pid, &mapped, &a.direction);
                if (r <= 0)
                        break;
                copy(a.device, sizeof(a.device), device);
                a.mapped = mapped;
                if (b.n_attachment_list < CTL_INFO_MAX)
                        b.attachments[b.n_attachment_list++] = a;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(uu)");
        while (r >= 0 && b.n_cpu_list < CTL_INFO_MAX) {
                r = sd_bus_message_read(reply, "(uu)", &b.cpu[b.n_cpu_list].pid, &b.cpu[b.n_cpu_list].flags);
                if (r <= 0)
                        break;
                b.n_cpu_list++;
        }
        if (r < 0) {
                ctl_buffer_done(&b);
                return bad_reply("DescribeBuffer", r);
        }
        *ret = b;
        return 0;
}

int ctl_bus_list_clients(struct ctl *ctl, struct ctl_client **ret, size_t *ret_n)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct ctl_client *list = NULL;
        size_t n = 0, cap = 0;
        int r;

        r = call(ctl, "ListClients", &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(tuuussuuu)");
        while (r >= 0) {
                const char *comm, *name;
                struct ctl_client *c;

                r = grow((void **)&list, &cap, n, sizeof(*list));
                if (r < 0)
                        break;
                c = memset(&list[n], 0, sizeof(*c));
                r = sd_bus_message_read(reply, "(tuuussuuu)", &c->id, &c->pid, &c->uid, &c->gid, &comm, &name,
                                        &c->version, &c->n_buffers, &c->n_attachments);
                if (r <= 0)
                        break;
                copy(c->comm, sizeof(c->comm), comm);
                copy(c->name, sizeof(c->name), name);
                n++;
        }
        if (r < 0) {
                free(list);
                return bad_reply("ListClients", r);
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int ctl_bus_get_stats(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        size_t n = 0;
        int r;

        r = call(ctl, "GetStats", &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "{st}");
        while (r >= 0 && n < CTL_MAX_PAIRS) {
                const char *key;
                uint64_t v;

                r = sd_bus_message_read(reply, "{st}", &key, &v);
                if (r <= 0)
                        break;
                ctl_pair_set(&ret[n++], key, v, strcmp(key, "bytes") == 0);
        }
        if (r < 0)
                return bad_reply("GetStats", r);
        *ret_n = n;
        return 0;
}

/* "MaxBytesPerUid" -> "max-bytes-per-uid" */
static void kebab(char *dst, size_t len, const char *camel)
{
        size_t n = 0;

        for (const char *c = camel; *c && n + 2 < len; c++) {
                if (*c >= 'A' && *c <= 'Z') {
                        if (c != camel)
                                dst[n++] = '-';
                        dst[n++] = (char)(*c - 'A' + 'a');
                } else {
                        dst[n++] = *c;
                }
        }
        dst[n] = '\0';
}

int ctl_bus_get_limits(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        size_t n = 0;
        int r;

        r = sd_bus_call_method(ctl->bus, NAME, PATH, "org.freedesktop.DBus.Properties", "GetAll", &e, &reply, "s",
                               INTERFACE);
        if (r < 0) {
                r = call_failed("GetAll", &e, r);
                sd_bus_error_free(&e);
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && n < CTL_MAX_PAIRS) {
                const char *property, *contents;
                char name[48];
                char type;
                uint64_t v = 0;
                uint32_t v32;

                r = sd_bus_message_enter_container(reply, 'e', "sv");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(reply, "s", &property);
                if (r >= 0)
                        r = sd_bus_message_peek_type(reply, &type, &contents);
                if (r < 0)
                        break;
                bool limit = strncmp(property, "Max", 3) == 0 || strcmp(property, "HelloTimeout") == 0;
                if (!limit || (strcmp(contents, "t") != 0 && strcmp(contents, "u") != 0)) {
                        r = sd_bus_message_skip(reply, "v");
                } else {
                        r = sd_bus_message_enter_container(reply, 'v', contents);
                        if (r >= 0 && contents[0] == 't')
                                r = sd_bus_message_read(reply, "t", &v);
                        else if (r >= 0 && (r = sd_bus_message_read(reply, "u", &v32)) >= 0)
                                v = v32;
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                        kebab(name, sizeof(name), property);
                        ctl_pair_set(&ret[n++], name, v, contents[0] == 't');
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return bad_reply("GetAll", r);
        *ret_n = n;
        return 0;
}

/* ---- monitor ---- */

struct monitor {
        bool json;
        unsigned count, seen;
};

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct monitor *mon = userdata;
        const char *member = sd_bus_message_get_member(m);
        const char *name = "", *heap = "", *comm = "";
        uint64_t id = 0, size = 0, count = 0;
        uint32_t pid = 0, uid = 0;
        struct timespec ts;
        char sz[16], ename[4 * CTL_NAME_LEN], ecomm[4 * CTL_NAME_LEN];
        int r, kind;
        struct json j;

        (void)error;
        if (strcmp(member, "BufferCreated") == 0) {
                kind = 0;
                r = sd_bus_message_read(m, "tsstuus", &id, &name, &heap, &size, &pid, &uid, &comm);
        } else if (strcmp(member, "BufferReleased") == 0) {
                kind = 1;
                r = sd_bus_message_read(m, "tst", &id, &name, &size);
        } else if (strcmp(member, "EventsDropped") == 0) {
                kind = 2;
                r = sd_bus_message_read(m, "t", &count);
        } else {
                return 0;
        }
        if (r < 0)
                return 0;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (mon->json) {
                static const char *const events[] = { "created", "released", "dropped" };
                json_init(&j, stdout);
                json_object_begin(&j);
                json_kv_string(&j, "event", events[kind]);
                json_kv_uint(&j, "time_usec", (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
                if (kind == 2) {
                        json_kv_uint(&j, "count", count);
                } else {
                        json_kv_uint(&j, "id", id);
                        json_kv_string(&j, "name", name);
                        json_kv_uint(&j, "size", size);
                }
                if (kind == 0) {
                        json_kv_string(&j, "heap", heap);
                        json_kv_uint(&j, "exporter_pid", pid);
                        json_kv_uint(&j, "exporter_uid", uid);
                        json_kv_string(&j, "exporter_comm", comm);
                }
                json_object_end(&j);
        } else {
                text_escape(ename, sizeof(ename), name);
                text_escape(ecomm, sizeof(ecomm), comm);
                format_bytes(sz, sizeof(sz), size);
                if (kind == 0)
                        printf("created  %llu \"%s\" %s %s by %s[%u] uid %u\n", (unsigned long long)id, ename, sz,
                               heap, ecomm, pid, uid);
                else if (kind == 1)
                        printf("released %llu \"%s\" %s\n", (unsigned long long)id, ename, sz);
                else
                        printf("dropped  %llu events (the daemon bounds its signals)\n", (unsigned long long)count);
        }
        fflush(stdout);
        mon->seen++;
        return 0;
}

int ctl_bus_monitor(struct ctl *ctl, bool json, unsigned count)
{
        struct monitor mon = { .json = json, .count = count };
        sd_bus_slot *slot = NULL;
        int r;

        r = sd_bus_match_signal(ctl->bus, &slot, NAME, PATH, INTERFACE, NULL, on_signal, &mon);
        if (r < 0) {
                fprintf(stderr, "bufsharectl: subscribing to the signals: %s\n", strerror(-r));
                return r;
        }
        /* the match is in place (the call above waited for it): from
         * here on no event is missed */
        fprintf(stderr, "Monitoring %s; press Ctrl-C to stop.\n", NAME);
        while (count == 0 || mon.seen < count) {
                r = sd_bus_process(ctl->bus, NULL);
                if (r < 0)
                        break;
                if (r > 0)
                        continue;
                r = sd_bus_wait(ctl->bus, UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        break;
        }
        sd_bus_slot_unref(slot);
        if (r < 0 && (count == 0 || mon.seen < count)) {
                fprintf(stderr, "bufsharectl: the bus connection failed: %s\n", strerror(-r));
                return r;
        }
        return 0;
}

#else /* !HAVE_DBUS */

int ctl_bus_open(struct ctl *ctl)
{
        (void)ctl;
        fprintf(stderr, "bufsharectl: built without D-Bus (-Ddbus=disabled)\n");
        return -EHOSTDOWN;
}

void ctl_bus_close(struct ctl *ctl)
{
        ctl->bus = NULL;
}

#define NO_BUS(decl) \
        decl \
        { \
                return -EHOSTDOWN; \
        }
NO_BUS(int ctl_bus_list_buffers(struct ctl *ctl, struct ctl_buffer **ret, size_t *ret_n))
NO_BUS(int ctl_bus_describe_buffer(struct ctl *ctl, uint64_t id, struct ctl_buffer *ret))
NO_BUS(int ctl_bus_list_clients(struct ctl *ctl, struct ctl_client **ret, size_t *ret_n))
NO_BUS(int ctl_bus_get_stats(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n))
NO_BUS(int ctl_bus_get_limits(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n))
NO_BUS(int ctl_bus_monitor(struct ctl *ctl, bool json, unsigned count))
#endif
