/* SPDX-License-Identifier: MIT */
/*
 * What bufsharectl knows of a daemon, whichever way it asked (ctl-bus.c
 * or ctl-socket.c): buffers, clients and named numbers, and their JSON
 * fields. The answers are the same structures either way, with what the
 * socket can't tell marked unknown.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl-output.h"

#define CTL_NAME_LEN 128 /* a name, after the daemon escaped what is not UTF-8 */
#define CTL_MAX_PAIRS 32
#define CTL_INFO_MAX 8 /* attachments and CPU access listed, as INFO has them */

struct ctl_holder {
        uint64_t client_id;
        uint32_t pid, uid;
        char comm[CTL_NAME_LEN];
        uint32_t refs, readonly_refs;
};

struct ctl_attachment {
        char device[CTL_NAME_LEN];
        uint32_t pid;
        bool mapped;
        uint8_t direction; /* enum dma_data_direction */
};

struct ctl_buffer {
        uint64_t id, size, created_usec;
        char name[CTL_NAME_LEN], heap[CTL_NAME_LEN], exporter_comm[CTL_NAME_LEN];
        uint32_t exporter_pid, exporter_uid;
        bool has_payer; /* the socket doesn't say who pays */
        uint32_t payer_uid;
        uint32_t n_refs, n_holders, n_readonly, n_attachments, n_cpu_access;
        bool holders_known; /* n_holders and holders: D-Bus only */
        struct ctl_holder *holders; /* info only; owned */
        size_t n_holder_list;
        struct ctl_attachment attachments[CTL_INFO_MAX];
        size_t n_attachment_list;
        struct {
                uint32_t pid, flags; /* flags: 1 read, 2 write */
        } cpu[CTL_INFO_MAX];
        size_t n_cpu_list;
};

struct ctl_client {
        uint64_t id;
        uint32_t pid, uid, gid;
        char comm[CTL_NAME_LEN], name[CTL_NAME_LEN];
        uint32_t version, n_buffers, n_attachments;
};

/* A named number: a counter or a limit. */
struct ctl_pair {
        char name[48];     /* as a table shows it: "max-buffer-size" */
        char json_key[48]; /* "max_buffer_size" */
        uint64_t value;
        bool is_bytes;
};

struct ctl {
        void *bus; /* sd_bus, or NULL */
        int sock;  /* the socket protocol, or -1 */
        const char *socket_path;
        bool user_bus;
};

/* Free what ctl_describe_buffer() gave @b. */
void ctl_buffer_done(struct ctl_buffer *b);

/* The JSON fields of each (bufsharectl(1) names them). */
void ctl_buffer_json_fields(struct json *j, const struct ctl_buffer *b);
void ctl_info_json_fields(struct json *j, const struct ctl_buffer *b);
void ctl_client_json_fields(struct json *j, const struct ctl_client *c);

/* A pair named @name ("max-buffer-size"), its JSON key made from it. */
void ctl_pair_set(struct ctl_pair *p, const char *name, uint64_t value, bool is_bytes);
