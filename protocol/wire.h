/* SPDX-License-Identifier: MIT */
/*
 * The bufshare wire protocol: every message that crosses the daemon's
 * socket, laid out byte for byte. See PROTOCOL.md for the prose.
 *
 * Fixed-width fields only, native byte order (both ends are on one host),
 * explicit padding, and a static assertion on every layout.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define BS_PROTOCOL_VERSION 1 /* highest version this build speaks */
#define BS_MAX_FDS 4          /* more fds than this in one message: -EPROTO */
#define BS_NAME_LEN 32        /* like DMA_BUF_NAME_LEN, NUL included */
#define BS_COMM_LEN 16        /* like TASK_COMM_LEN */

enum bs_opcode {
        BS_OP_HELLO = 1,
        BS_OP_EXPORT = 2,
        BS_OP_IMPORT = 3,
        BS_OP_RELEASE = 4,
        BS_OP_INFO = 5,
        BS_OP_SET_NAME = 6,
        BS_OP_COUNT,
};

enum bs_msg_flags {
        BS_MSG_REPLY = 1u << 0, /* a reply; its serial is its request's */
};
#define BS_MSG_FLAGS_VALID (BS_MSG_REPLY)

/* HELLO reply: what the daemon can do. No optional features in version 1. */
#define BS_FEATURES_VALID 0ull

struct bs_msg_header {
        uint32_t size;   /* whole datagram, header included */
        uint16_t opcode; /* enum bs_opcode */
        uint16_t flags;  /* enum bs_msg_flags */
        uint32_t serial; /* chosen by the client, echoed in the reply */
        uint8_t n_fds;   /* must equal the number of SCM_RIGHTS fds */
        uint8_t reserved[3];
};
_Static_assert(sizeof(struct bs_msg_header) == 16, "wire layout");
_Static_assert(offsetof(struct bs_msg_header, serial) == 8, "wire layout");
_Static_assert(offsetof(struct bs_msg_header, n_fds) == 12, "wire layout");

/* Every error reply, and the whole body of RELEASE and SET_NAME replies. */
struct bs_status_rep {
        int32_t status; /* 0 or a negative errno */
        uint32_t reserved;
};
_Static_assert(sizeof(struct bs_status_rep) == 8, "wire layout");

struct bs_hello_req {
        uint32_t version_min;
        uint32_t version_max;
        char client_name[BS_NAME_LEN];
};
_Static_assert(sizeof(struct bs_hello_req) == 40, "wire layout");

struct bs_hello_rep {
        int32_t status;
        uint32_t version; /* the version both sides speak from now on */
        uint64_t features;
        uint64_t max_buffer_size;
        uint64_t max_bytes_per_uid;
        uint32_t max_buffers_per_client;
        uint32_t max_clients;
};
_Static_assert(sizeof(struct bs_hello_rep) == 40, "wire layout");
_Static_assert(offsetof(struct bs_hello_rep, max_buffers_per_client) == 32, "wire layout");

struct bs_export_req {
        uint64_t size;  /* bytes; the daemon rounds up to its heap's page */
        uint64_t flags; /* none defined: must be 0 */
        char heap[BS_NAME_LEN];
        char name[BS_NAME_LEN];
};
_Static_assert(sizeof(struct bs_export_req) == 80, "wire layout");

struct bs_export_rep { /* carries the buffer's fd */
        int32_t status;
        uint32_t reserved;
        uint64_t id;
        uint64_t size; /* the rounded size: fixed for the buffer's life */
};
_Static_assert(sizeof(struct bs_export_rep) == 24, "wire layout");

struct bs_import_req { /* carries the buffer's fd */
        uint64_t flags; /* none defined: must be 0 */
};
_Static_assert(sizeof(struct bs_import_req) == 8, "wire layout");

struct bs_import_rep {
        int32_t status;
        uint32_t reserved;
        uint64_t id;
        uint64_t size;
        char name[BS_NAME_LEN];
};
_Static_assert(sizeof(struct bs_import_rep) == 56, "wire layout");

struct bs_id_req { /* RELEASE and INFO */
        uint64_t id;
};
_Static_assert(sizeof(struct bs_id_req) == 8, "wire layout");

struct bs_info_rep {
        int32_t status;
        uint32_t reserved;
        uint64_t id;
        uint64_t size;
        uint64_t created_ns; /* CLOCK_REALTIME, nanoseconds */
        int32_t exporter_pid;
        uint32_t exporter_uid;
        uint32_t n_refs;
        uint32_t reserved2;
        char heap[BS_NAME_LEN];
        char name[BS_NAME_LEN];
        char exporter_comm[BS_COMM_LEN];
};
_Static_assert(sizeof(struct bs_info_rep) == 128, "wire layout");
_Static_assert(offsetof(struct bs_info_rep, heap) == 48, "wire layout");

struct bs_set_name_req {
        uint64_t id;
        char name[BS_NAME_LEN];
};
_Static_assert(sizeof(struct bs_set_name_req) == 40, "wire layout");

union bs_msg_body {
        struct bs_status_rep status;
        struct bs_hello_req hello_req;
        struct bs_hello_rep hello_rep;
        struct bs_export_req export_req;
        struct bs_export_rep export_rep;
        struct bs_import_req import_req;
        struct bs_import_rep import_rep;
        struct bs_id_req id_req;
        struct bs_info_rep info_rep;
        struct bs_set_name_req set_name_req;
};

/* The largest message either side may send. */
#define BS_MSG_MAX_SIZE (sizeof(struct bs_msg_header) + sizeof(union bs_msg_body))
