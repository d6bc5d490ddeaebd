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

#define BS_PROTOCOL_VERSION 2 /* highest version this build speaks */
#define BS_MAX_FDS 32         /* more fds than this in one message: -EPROTO */
#define BS_NAME_LEN 32        /* like DMA_BUF_NAME_LEN, NUL included */
#define BS_COMM_LEN 16        /* like TASK_COMM_LEN */

enum bs_opcode {
        BS_OP_HELLO = 1,
        BS_OP_EXPORT = 2,
        BS_OP_IMPORT = 3,
        BS_OP_RELEASE = 4,
        BS_OP_INFO = 5,
        BS_OP_SET_NAME = 6,
        BS_OP_EXPORT_MEMFD = 7,
        BS_OP_BEGIN_CPU_ACCESS = 8,
        BS_OP_END_CPU_ACCESS = 9,
        BS_OP_ATTACH = 10,
        BS_OP_DETACH = 11,
        BS_OP_MAP_ATTACHMENT = 12,
        BS_OP_UNMAP_ATTACHMENT = 13,
        BS_OP_LIST_HEAPS = 14,
        /* version 2 */
        BS_OP_SYNC = 15,
        BS_OP_LIMITS = 16,
        /* version 2: fences, sync files and pools (PROTOCOL.md) */
        BS_OP_FENCE_CREATE = 17,
        BS_OP_FENCE_ATTACH = 18,
        BS_OP_FENCE_SIGNAL = 19,
        BS_OP_FENCE_DESTROY = 20,
        BS_OP_EXPORT_SYNC_FILE = 21,
        BS_OP_IMPORT_SYNC_FILE = 22,
        BS_OP_SYNC_FILE_MERGE = 23,
        BS_OP_SUBMIT = 24,
        BS_OP_RELEASE_READ = 25,
        /* 26..29: free */
        BS_OP_REDEEM = 30, /* version 2: a /dev/bufshare token for its buffer's fd */
        /* version 2: image descriptions */
        BS_OP_EXPORT_DESCRIBED = 31,
        BS_OP_IMPORT_DESCRIBED = 32,
        BS_OP_SET_DESCRIPTION = 33,
        BS_OP_INFO_DESCRIBED = 34,
        BS_OP_GET_DESCRIPTION = 35,
        /* version 2: many buffers in one message */
        BS_OP_EXPORT_BATCH = 36,
        /* version 2: a SUBMIT and the WRITE sync file after it, in one message */
        BS_OP_SUBMIT_SYNC_FILE = 37,
        BS_OP_COUNT,
};

/* Values of API arguments carried in bodies. Out-of-range values are the
 * caller's error (-EINVAL), not a protocol error. */
#define BS_WIRE_SYNC_READ (1u << 0)
#define BS_WIRE_SYNC_WRITE (1u << 1)
/* EXPORT_SYNC_FILE: a sync file only the daemon signals, never a fence's
 * ready-made one: when it wakes, the daemon knows why (a CPU access
 * asking again finds the fence gone) */
#define BS_WIRE_SYNC_DAEMON (1u << 2)
/* FENCE_CREATE: the request asks for, and the reply carries (1 fd), the
 * sending end of the fence's first sync file */
#define BS_WIRE_FENCE_PAIR (1u << 0)
/* SUBMIT_SYNC_FILE's reply: it carries 1 fd, the WRITE sync file */
#define BS_WIRE_SUBMIT_SYNC_FILE (1u << 0)
#define BS_WIRE_REF_READONLY (1u << 0) /* import reply, RELEASE, info */
#define BS_WIRE_MAX_HEAPS 8
#define BS_WIRE_INFO_MAX 8 /* entries of each list in an INFO reply */
#define BS_WIRE_BATCH_MAX 32 /* buffers in one EXPORT_BATCH */

enum bs_msg_flags {
        BS_MSG_REPLY = 1u << 0, /* a reply; its serial is its request's */
        /* bit 1 was version 1's "releases follow the body": refused */
        BS_MSG_NO_REPLY = 1u << 2, /* since 2, RELEASE, FENCE_SIGNAL, FENCE_DESTROY, RELEASE_READ: answer nothing */
};
#define BS_MSG_FLAGS_VALID (BS_MSG_REPLY | BS_MSG_NO_REPLY)

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
        uint32_t flags; /* BS_WIRE_REF_READONLY: the fd was read-only */
        uint64_t id;
        uint64_t size;
        char name[BS_NAME_LEN];
};
_Static_assert(sizeof(struct bs_import_rep) == 56, "wire layout");

struct bs_id_req { /* INFO, DETACH, UNMAP_ATTACHMENT */
        uint64_t id;
};
_Static_assert(sizeof(struct bs_id_req) == 8, "wire layout");

struct bs_release_req {
        uint64_t id;
        uint32_t flags; /* BS_WIRE_REF_READONLY: drop a read-only reference */
        uint32_t reserved;
};
_Static_assert(sizeof(struct bs_release_req) == 16, "wire layout");

struct bs_export_memfd_req { /* carries the caller's memfd */
        uint64_t flags; /* none defined: must be 0 */
        char name[BS_NAME_LEN];
};
_Static_assert(sizeof(struct bs_export_memfd_req) == 40, "wire layout");

struct bs_cpu_access_req { /* BEGIN_ and END_CPU_ACCESS */
        uint64_t id;
        uint32_t flags; /* BS_WIRE_SYNC_* */
        uint32_t reserved;
};
_Static_assert(sizeof(struct bs_cpu_access_req) == 16, "wire layout");

struct bs_attach_req {
        uint64_t id;
        uint64_t max_segment; /* 0: no constraint; else a page multiple */
        char device[BS_NAME_LEN];
};
_Static_assert(sizeof(struct bs_attach_req) == 48, "wire layout");

struct bs_attach_rep {
        int32_t status;
        uint32_t reserved;
        uint64_t attachment_id;
};
_Static_assert(sizeof(struct bs_attach_rep) == 16, "wire layout");

struct bs_map_attachment_req {
        uint64_t attachment_id;
        uint32_t direction; /* enum dma_data_direction: 0 bidi, 1 to, 2 from device */
        uint32_t reserved;
};
_Static_assert(sizeof(struct bs_map_attachment_req) == 16, "wire layout");

struct bs_list_heaps_req {
        uint64_t flags; /* must be 0 */
};
_Static_assert(sizeof(struct bs_list_heaps_req) == 8, "wire layout");

struct bs_list_heaps_rep {
        int32_t status;
        uint32_t n_heaps;
        char names[BS_WIRE_MAX_HEAPS][BS_NAME_LEN];
};
_Static_assert(sizeof(struct bs_list_heaps_rep) == 8 + 8 * 32, "wire layout");

struct bs_wire_info_holder { /* a read-only importer, or a process in CPU access */
        int32_t pid;
        uint32_t flags; /* BS_WIRE_SYNC_* for CPU access */
};
_Static_assert(sizeof(struct bs_wire_info_holder) == 8, "wire layout");

struct bs_wire_info_attachment {
        char device[BS_NAME_LEN];
        int32_t pid;
        uint8_t mapped;
        uint8_t direction;
        uint8_t reserved[2];
};
_Static_assert(sizeof(struct bs_wire_info_attachment) == 40, "wire layout");

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
        /* totals; the arrays below hold the first BS_WIRE_INFO_MAX */
        uint32_t n_readonly;
        uint32_t n_attachments;
        uint32_t n_cpu_access;
        uint32_t reserved3;
        struct bs_wire_info_holder readonly[BS_WIRE_INFO_MAX];
        struct bs_wire_info_attachment attachments[BS_WIRE_INFO_MAX];
        struct bs_wire_info_holder cpu_access[BS_WIRE_INFO_MAX];
};
_Static_assert(sizeof(struct bs_info_rep) == 592, "wire layout");
_Static_assert(offsetof(struct bs_info_rep, heap) == 48, "wire layout");
_Static_assert(offsetof(struct bs_info_rep, readonly) == 144, "wire layout");

struct bs_set_name_req {
        uint64_t id;
        char name[BS_NAME_LEN];
};
_Static_assert(sizeof(struct bs_set_name_req) == 40, "wire layout");

struct bs_sync_req { /* since 2 */
        uint64_t flags; /* must be 0 */
};
_Static_assert(sizeof(struct bs_sync_req) == 8, "wire layout");

struct bs_limits_req { /* since 2 */
        uint64_t flags; /* must be 0 */
};
_Static_assert(sizeof(struct bs_limits_req) == 8, "wire layout");

/* Every limit the daemon enforces (DESIGN.md §7); 0 = not limited. */
struct bs_limits_rep { /* since 2 */
        int32_t status;
        uint32_t reserved;
        uint64_t max_buffer_size;            /* one buffer: -EFBIG */
        uint64_t max_bytes_per_uid;          /* bytes a uid pays for: -EDQUOT */
        uint32_t max_buffers_per_client;     /* references of one connection: -EMFILE */
        uint32_t max_buffers_per_uid;        /* buffers a uid pays for: -EDQUOT */
        uint32_t max_clients;                /* connections in all: -EUSERS */
        uint32_t max_connections_per_uid;    /* connections of one uid: -EUSERS */
        uint32_t max_attachments_per_client; /* attachments of one connection: -EMFILE */
        uint32_t max_fences_per_client;      /* unsignalled fences of one connection: -EMFILE */
        uint32_t max_waiters_per_client;     /* pending sync files of one connection: -EMFILE */
        uint32_t max_waiters_per_fence;      /* pending sync files on one fence: -ENOSPC */
        uint32_t hello_timeout_ms;           /* a connection's time to say HELLO */
        uint32_t reserved2;
};
_Static_assert(sizeof(struct bs_limits_rep) == 64, "wire layout");

/* A fence: FENCE_CREATE's reply; FENCE_DESTROY takes a bs_id_req. */
struct bs_fence_create_req { /* since 2 */
        uint64_t flags; /* 0 or BS_WIRE_FENCE_PAIR */
};
_Static_assert(sizeof(struct bs_fence_create_req) == 8, "wire layout");

struct bs_fence_create_rep { /* since 2 */
        int32_t status;
        uint32_t flags; /* BS_WIRE_FENCE_PAIR: 1 fd, its first sync file's sending end */
        uint64_t fence_id; /* this connection's to attach, signal and destroy */
};
_Static_assert(sizeof(struct bs_fence_create_rep) == 16, "wire layout");

struct bs_fence_attach_req { /* since 2 */
        uint64_t buffer_id;
        uint64_t fence_id;
        uint32_t usage; /* BS_WIRE_SYNC_READ or _WRITE (both: write) */
        uint32_t reserved;
};
_Static_assert(sizeof(struct bs_fence_attach_req) == 24, "wire layout");

struct bs_fence_signal_req { /* since 2; may carry BS_MSG_NO_REPLY */
        uint64_t fence_id;
        int32_t status; /* 0, or a negative errno -4095..-1 */
        uint32_t reserved;
};
_Static_assert(sizeof(struct bs_fence_signal_req) == 16, "wire layout");

/* EXPORT_SYNC_FILE (reply: status, 1 fd) and IMPORT_SYNC_FILE (+ 1 fd). */
struct bs_sync_file_req { /* since 2 */
        uint64_t buffer_id;
        uint32_t flags; /* BS_WIRE_SYNC_*: export: what to wait for; import: the usage */
        uint32_t reserved;
};
_Static_assert(sizeof(struct bs_sync_file_req) == 16, "wire layout");

struct bs_sync_file_merge_req { /* since 2; carries 2 fds, the reply 1 */
        uint64_t flags; /* must be 0 */
};
_Static_assert(sizeof(struct bs_sync_file_merge_req) == 8, "wire layout");

struct bs_submit_req { /* since 2 */
        uint64_t buffer_id;
        uint64_t flags; /* must be 0 */
};
_Static_assert(sizeof(struct bs_submit_req) == 16, "wire layout");

struct bs_submit_rep { /* since 2 */
        int32_t status;
        uint32_t n_readers; /* other holders now with a pending read fence on it */
};
_Static_assert(sizeof(struct bs_submit_rep) == 8, "wire layout");

/* SUBMIT_SYNC_FILE's request is SUBMIT's. */
struct bs_submit_sync_file_rep { /* since 2 */
        int32_t status;
        uint32_t n_readers; /* as SUBMIT's */
        uint32_t flags;     /* BS_WIRE_SUBMIT_SYNC_FILE: 1 fd, else none */
        uint32_t reserved;  /* 0 */
};
_Static_assert(sizeof(struct bs_submit_sync_file_rep) == 16, "wire layout");

struct bs_release_read_req { /* since 2; may carry BS_MSG_NO_REPLY */
        uint64_t buffer_id;
        int32_t status; /* 0, or a negative errno -4095..-1 */
        uint32_t reserved;
};
_Static_assert(sizeof(struct bs_release_read_req) == 16, "wire layout");

/* REDEEM: the token /dev/bufshare's ALLOC gave, for the buffer's fd and a
 * reference. Only a client of the uid that opened the device file may
 * redeem it (-EPERM), once, before it expires (-ENOENT). The reply is
 * EXPORT's: bs_export_rep and the buffer's fd. */
struct bs_redeem_req { /* since 2 */
        uint64_t token[2];
        uint64_t flags; /* must be 0 */
};
_Static_assert(sizeof(struct bs_redeem_req) == 24, "wire layout");

/*
 * An image description (since 2): how a frame lies in a buffer, in DRM's
 * terms (drm_fourcc.h). fourcc 0 and every other field 0: no description.
 * The values are the caller's (checked by the daemon, -EINVAL); only the
 * reserved fields are the message's shape (-EPROTO).
 */
#define BS_WIRE_MAX_PLANES 4

struct bs_wire_plane {
        uint64_t offset; /* bytes from the start of the buffer */
        uint32_t stride; /* bytes from one row to the next (DRM's pitch) */
        uint32_t reserved;
};
_Static_assert(sizeof(struct bs_wire_plane) == 16, "wire layout");

struct bs_wire_description {
        uint32_t fourcc;   /* DRM_FORMAT_*; 0: none */
        uint32_t n_planes; /* 1 to BS_WIRE_MAX_PLANES; the rest are zero */
        uint64_t modifier; /* DRM_FORMAT_MOD_*; 0 is LINEAR */
        uint32_t width;    /* pixels */
        uint32_t height;   /* rows */
        struct bs_wire_plane planes[BS_WIRE_MAX_PLANES];
};
_Static_assert(sizeof(struct bs_wire_description) == 88, "wire layout");
_Static_assert(offsetof(struct bs_wire_description, planes) == 24, "wire layout");

struct bs_export_described_req { /* since 2 */
        struct bs_export_req export_req;
        struct bs_wire_description desc;
};
_Static_assert(sizeof(struct bs_export_described_req) == 168, "wire layout");

struct bs_import_described_rep { /* since 2 */
        struct bs_import_rep import_rep;
        struct bs_wire_description desc;
};
_Static_assert(sizeof(struct bs_import_described_rep) == 144, "wire layout");

struct bs_set_description_req { /* since 2 */
        uint64_t id;
        struct bs_wire_description desc; /* all zero: remove it */
};
_Static_assert(sizeof(struct bs_set_description_req) == 96, "wire layout");

struct bs_info_described_rep { /* since 2 */
        struct bs_info_rep info;
        struct bs_wire_description desc;
};
_Static_assert(sizeof(struct bs_info_described_rep) == 680, "wire layout");

struct bs_get_description_rep { /* since 2 */
        int32_t status;
        uint32_t reserved;
        struct bs_wire_description desc;
};
_Static_assert(sizeof(struct bs_get_description_rep) == 96, "wire layout");

/* EXPORT_BATCH: @count buffers of @size bytes each, all or none. */
struct bs_export_batch_req { /* since 2 */
        uint64_t size;   /* bytes of each; rounded up as EXPORT's */
        uint32_t count;  /* 1..BS_WIRE_BATCH_MAX, else -EINVAL */
        uint32_t flags;  /* none defined: must be 0 */
        char heap[BS_NAME_LEN];
        char name[BS_NAME_LEN]; /* every buffer's */
};
_Static_assert(sizeof(struct bs_export_batch_req) == 80, "wire layout");

struct bs_export_batch_rep { /* since 2; carries @count fds, in the order of @ids */
        int32_t status;
        uint32_t count;
        uint64_t size; /* the rounded size of each */
        uint64_t ids[BS_WIRE_BATCH_MAX]; /* the first @count; the rest 0 */
};
_Static_assert(sizeof(struct bs_export_batch_rep) == 272, "wire layout");
_Static_assert(BS_WIRE_BATCH_MAX <= BS_MAX_FDS, "a batch's fds fit one message");

union bs_msg_body {
        struct bs_status_rep status;
        struct bs_hello_req hello_req;
        struct bs_hello_rep hello_rep;
        struct bs_export_req export_req;
        struct bs_export_rep export_rep;
        struct bs_import_req import_req;
        struct bs_import_rep import_rep;
        struct bs_id_req id_req;
        struct bs_release_req release_req;
        struct bs_info_rep info_rep;
        struct bs_set_name_req set_name_req;
        struct bs_export_memfd_req export_memfd_req;
        struct bs_cpu_access_req cpu_access_req;
        struct bs_attach_req attach_req;
        struct bs_attach_rep attach_rep;
        struct bs_map_attachment_req map_attachment_req;
        struct bs_list_heaps_req list_heaps_req;
        struct bs_list_heaps_rep list_heaps_rep;
        struct bs_sync_req sync_req;
        struct bs_limits_req limits_req;
        struct bs_limits_rep limits_rep;
        struct bs_fence_create_req fence_create_req;
        struct bs_fence_create_rep fence_create_rep;
        struct bs_fence_attach_req fence_attach_req;
        struct bs_fence_signal_req fence_signal_req;
        struct bs_sync_file_req sync_file_req;
        struct bs_sync_file_merge_req sync_file_merge_req;
        struct bs_submit_req submit_req;
        struct bs_submit_rep submit_rep;
        struct bs_submit_sync_file_rep submit_sync_file_rep;
        struct bs_release_read_req release_read_req;
        struct bs_redeem_req redeem_req;

        struct bs_export_described_req export_described_req;
        struct bs_import_described_rep import_described_rep;
        struct bs_set_description_req set_description_req;
        struct bs_info_described_rep info_described_rep;
        struct bs_get_description_rep get_description_rep;
        struct bs_export_batch_req export_batch_req;
        struct bs_export_batch_rep export_batch_rep;
};

/* The largest message either side may send. */
#define BS_MSG_MAX_SIZE (sizeof(struct bs_msg_header) + sizeof(union bs_msg_body))
