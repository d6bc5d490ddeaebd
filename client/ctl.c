/* SPDX-License-Identifier: MIT */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socket-path.h"

void ctl_pair_set(struct ctl_pair *p, const char *name, uint64_t value, bool is_bytes)
{
        snprintf(p->name, sizeof(p->name), "%s", name);
        snprintf(p->json_key, sizeof(p->json_key), "%s", name);
        for (char *c = p->json_key; *c; c++)
                if (*c == '-')
                        *c = '_';
        p->value = value;
        p->is_bytes = is_bytes;
}

/* The commands the socket can answer. */
static bool socket_can(const char *command)
{
        return strcmp(command, "limits") == 0 || strcmp(command, "info") == 0;
}

static int open_default_socket(struct ctl *ctl, const char *why)
{
        char path[108];
        int r = bs_socket_path_default(path, sizeof(path));

        if (r < 0) {
                fprintf(stderr, "bufsharectl: %s, and no socket path: %s\n", why, strerror(-r));
                return r;
        }
        fprintf(stderr, "bufsharectl: %s: asking the socket %s\n", why, path);
        return ctl_socket_open(ctl, path);
}

int ctl_open(struct ctl *ctl, const char *socket_path, bool user_bus, const char *command)
{
        int r;

        memset(ctl, 0, sizeof(*ctl));
        ctl->sock = -1;
        ctl->user_bus = user_bus;
        if (socket_path) {
                if (!socket_can(command)) {
                        fprintf(stderr, "bufsharectl: %s needs D-Bus; the socket answers only limits and info\n",
                                command);
                        return -EOPNOTSUPP;
                }
                return ctl_socket_open(ctl, socket_path);
        }
        r = ctl_bus_open(ctl);
        if (r == -EHOSTDOWN && socket_can(command))
                return open_default_socket(ctl, "no D-Bus");
        return r;
}

void ctl_close(struct ctl *ctl)
{
        ctl_bus_close(ctl);
        ctl_socket_close(ctl);
}

/* A bus call that found no daemon on the bus: the socket, if it can answer. */
static int fall_back(struct ctl *ctl, int r)
{
        if (r != -EHOSTDOWN)
                return r;
        ctl_bus_close(ctl);
        return open_default_socket(ctl, "no bufshared on D-Bus");
}

static int no_daemon(int r)
{
        if (r == -EHOSTDOWN)
                fprintf(stderr, "bufsharectl: no bufshared on the bus (org.bufshare1 has no owner)\n");
        return r;
}

int ctl_list_buffers(struct ctl *ctl, struct ctl_buffer **ret, size_t *ret_n)
{
        return no_daemon(ctl_bus_list_buffers(ctl, ret, ret_n));
}

int ctl_describe_buffer(struct ctl *ctl, uint64_t id, struct ctl_buffer *ret)
{
        int r;

        if (ctl->bus) {
                r = fall_back(ctl, ctl_bus_describe_buffer(ctl, id, ret));
                if (r != 0 || ctl->bus)
                        return r;
        }
        return ctl_socket_describe_buffer(ctl, id, ret);
}

void ctl_buffer_done(struct ctl_buffer *b)
{
        free(b->holders);
        b->holders = NULL;
}

int ctl_list_clients(struct ctl *ctl, struct ctl_client **ret, size_t *ret_n)
{
        return no_daemon(ctl_bus_list_clients(ctl, ret, ret_n));
}

int ctl_get_stats(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n)
{
        return no_daemon(ctl_bus_get_stats(ctl, ret, ret_n));
}

int ctl_get_limits(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n)
{
        int r;

        if (ctl->bus) {
                r = fall_back(ctl, ctl_bus_get_limits(ctl, ret, ret_n));
                if (r != 0 || ctl->bus)
                        return r;
        }
        return ctl_socket_get_limits(ctl, ret, ret_n);
}

int ctl_monitor(struct ctl *ctl, bool json, unsigned count)
{
        return no_daemon(ctl_bus_monitor(ctl, json, count));
}

/* ---- JSON ---- */

void ctl_buffer_json_fields(struct json *j, const struct ctl_buffer *b)
{
        json_kv_uint(j, "id", b->id);
        json_kv_string(j, "name", b->name);
        json_kv_string(j, "heap", b->heap);
        json_kv_uint(j, "size", b->size);
        json_kv_uint(j, "created_usec", b->created_usec);
        json_kv_uint(j, "exporter_pid", b->exporter_pid);
        json_kv_uint(j, "exporter_uid", b->exporter_uid);
        json_kv_string(j, "exporter_comm", b->exporter_comm);
        json_key(j, "payer_uid");
        if (b->has_payer)
                json_uint(j, b->payer_uid);
        else
                json_null(j);
        json_kv_uint(j, "refs", b->n_refs);
        json_key(j, "n_holders");
        if (b->holders_known)
                json_uint(j, b->n_holders);
        else
                json_null(j);
}

void ctl_info_json_fields(struct json *j, const struct ctl_buffer *b)
{
        ctl_buffer_json_fields(j, b);
        json_kv_uint(j, "n_readonly", b->n_readonly);
        json_kv_uint(j, "n_attachments", b->n_attachments);
        json_kv_uint(j, "n_cpu_access", b->n_cpu_access);
        json_key(j, "holders");
        if (b->holders_known) {
                json_array_begin(j);
                for (size_t i = 0; i < b->n_holder_list; i++) {
                        const struct ctl_holder *h = &b->holders[i];
                        json_object_begin(j);
                        json_kv_uint(j, "client_id", h->client_id);
                        json_kv_uint(j, "pid", h->pid);
                        json_kv_uint(j, "uid", h->uid);
                        json_kv_string(j, "comm", h->comm);
                        json_kv_uint(j, "refs", h->refs);
                        json_kv_uint(j, "readonly_refs", h->readonly_refs);
                        json_object_end(j);
                }
                json_array_end(j);
        } else {
                json_null(j);
        }
        json_key(j, "attachments");
        json_array_begin(j);
        for (size_t i = 0; i < b->n_attachment_list; i++) {
                static const char *const dirs[] = { "bidirectional", "to-device", "from-device" };
                const struct ctl_attachment *a = &b->attachments[i];
                json_object_begin(j);
                json_kv_string(j, "device", a->device);
                json_kv_uint(j, "pid", a->pid);
                json_key(j, "mapped");
                json_bool(j, a->mapped);
                json_key(j, "direction");
                if (a->mapped && a->direction < 3)
                        json_string(j, dirs[a->direction]);
                else
                        json_null(j);
                json_object_end(j);
        }
        json_array_end(j);
        json_key(j, "cpu_access");
        json_array_begin(j);
        for (size_t i = 0; i < b->n_cpu_list; i++) {
                json_object_begin(j);
                json_kv_uint(j, "pid", b->cpu[i].pid);
                json_key(j, "read");
                json_bool(j, b->cpu[i].flags & 1);
                json_key(j, "write");
                json_bool(j, b->cpu[i].flags & 2);
                json_object_end(j);
        }
        json_array_end(j);
}

void ctl_client_json_fields(struct json *j, const struct ctl_client *c)
{
        json_kv_uint(j, "client_id", c->id);
        json_kv_uint(j, "pid", c->pid);
        json_kv_uint(j, "uid", c->uid);
        json_kv_uint(j, "gid", c->gid);
        json_kv_string(j, "comm", c->comm);
        json_kv_string(j, "name", c->name);
        json_kv_uint(j, "protocol_version", c->version);
        json_kv_uint(j, "buffers", c->n_buffers);
        json_kv_uint(j, "attachments", c->n_attachments);
}
