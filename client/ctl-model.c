/* SPDX-License-Identifier: MIT */
#include "ctl-model.h"

#include <stdio.h>
#include <stdlib.h>

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

void ctl_buffer_done(struct ctl_buffer *b)
{
        free(b->holders);
        b->holders = NULL;
}

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
