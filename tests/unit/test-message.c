/* SPDX-License-Identifier: MIT */
/* Every decoding rule of the protocol (protocol/message.c), one test each. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "message.h"
#include "util.h"

/* A valid request of @op in wire form, in @buf; returns its length. */
static size_t valid_request(enum bs_opcode op, uint8_t *buf, unsigned *n_fds)
{
        struct bs_msg m;

        bs_msg_request(&m, op, 7);
        switch (op) {
        case BS_OP_HELLO:
                m.body.hello_req.version_min = 1;
                m.body.hello_req.version_max = 1;
                strcpy(m.body.hello_req.client_name, "test");
                break;
        case BS_OP_EXPORT:
                m.body.export_req.size = 4096;
                strcpy(m.body.export_req.heap, "system");
                strcpy(m.body.export_req.name, "frame");
                break;
        case BS_OP_EXPORT_DESCRIBED:
                m.body.export_described_req.export_req.size = 4096;
                strcpy(m.body.export_described_req.export_req.heap, "system");
                m.body.export_described_req.desc.fourcc = 0x34325258;
                m.body.export_described_req.desc.n_planes = 1;
                break;
        case BS_OP_SET_DESCRIPTION:
                m.body.set_description_req.id = 3;
                m.body.set_description_req.desc.n_planes = 1;
                break;
        case BS_OP_IMPORT:
        case BS_OP_IMPORT_DESCRIBED:
        case BS_OP_EXPORT_MEMFD:
                m.hdr.n_fds = 1;
                break;
        case BS_OP_IMPORT_SYNC_FILE:
                m.hdr.n_fds = 1;
                m.body.sync_file_req.buffer_id = 3;
                m.body.sync_file_req.flags = BS_WIRE_SYNC_READ;
                break;
        case BS_OP_SYNC_FILE_MERGE:
                m.hdr.n_fds = 2;
                break;
        case BS_OP_FENCE_CREATE:
                break;
        case BS_OP_FENCE_ATTACH:
                m.body.fence_attach_req.buffer_id = 3;
                m.body.fence_attach_req.fence_id = 4;
                m.body.fence_attach_req.usage = BS_WIRE_SYNC_WRITE;
                break;
        case BS_OP_FENCE_SIGNAL:
                m.body.fence_signal_req.fence_id = 4;
                m.body.fence_signal_req.status = -EIO;
                break;
        case BS_OP_RELEASE_READ:
                m.body.release_read_req.buffer_id = 3;
                m.body.release_read_req.status = -EIO;
                break;
        case BS_OP_LIST_HEAPS:
        case BS_OP_SYNC:
        case BS_OP_LIMITS:
                break;
        case BS_OP_EXPORT_BATCH:
                m.body.export_batch_req.size = 4096;
                m.body.export_batch_req.count = 3;
                strcpy(m.body.export_batch_req.heap, "system");
                break;
        case BS_OP_ATTACH:
                m.body.attach_req.id = 3;
                strcpy(m.body.attach_req.device, "gpu0");
                break;
        case BS_OP_SET_NAME:
                strcpy(m.body.set_name_req.name, "x");
                /* fall through */
        default:
                m.body.id_req.id = 3;
                break;
        }
        *n_fds = m.hdr.n_fds;
        return (size_t)bs_msg_encode(&m, buf, BS_MSG_MAX_SIZE);
}

static size_t valid_reply(enum bs_opcode op, uint8_t *buf, unsigned *n_fds)
{
        struct bs_msg_header req = { .opcode = op, .serial = 9 };
        struct bs_msg m;

        bs_msg_reply(&m, &req);
        switch (op) {
        case BS_OP_HELLO:
                m.body.hello_rep.version = 1;
                m.body.hello_rep.max_buffer_size = 1 << 20;
                break;
        case BS_OP_EXPORT:
        case BS_OP_EXPORT_DESCRIBED:
        case BS_OP_REDEEM:
                m.hdr.n_fds = 1;
                /* fall through */
        case BS_OP_EXPORT_MEMFD:
                m.body.export_rep.id = 1;
                m.body.export_rep.size = 4096;
                break;
        case BS_OP_ATTACH:
                m.body.attach_rep.attachment_id = 1;
                break;
        case BS_OP_LIST_HEAPS:
                m.body.list_heaps_rep.n_heaps = 1;
                strcpy(m.body.list_heaps_rep.names[0], "system");
                break;
        case BS_OP_IMPORT:
                m.body.import_rep.id = 1;
                m.body.import_rep.size = 4096;
                break;
        case BS_OP_INFO:
        case BS_OP_INFO_DESCRIBED: /* the info comes first */
                m.body.info_rep.id = 1;
                m.body.info_rep.size = 4096;
                strcpy(m.body.info_rep.heap, "system");
                break;
        case BS_OP_IMPORT_DESCRIBED:
                m.body.import_described_rep.import_rep.id = 1;
                m.body.import_described_rep.import_rep.size = 4096;
                m.body.import_described_rep.desc.fourcc = 0x3231564e;
                break;
        case BS_OP_EXPORT_BATCH:
                m.hdr.n_fds = 3;
                m.body.export_batch_rep.count = 3;
                m.body.export_batch_rep.size = 4096;
                for (unsigned i = 0; i < 3; i++)
                        m.body.export_batch_rep.ids[i] = 10 + i;
                break;
        case BS_OP_FENCE_CREATE:
                m.body.fence_create_rep.fence_id = 5;
                break;
        case BS_OP_EXPORT_SYNC_FILE:
        case BS_OP_SYNC_FILE_MERGE:
                m.hdr.n_fds = 1;
                break;
        case BS_OP_SUBMIT:
                m.body.submit_rep.n_readers = 2;
                break;
        case BS_OP_SUBMIT_SYNC_FILE:
                m.hdr.n_fds = 1;
                m.body.submit_sync_file_rep.n_readers = 2;
                m.body.submit_sync_file_rep.flags = BS_WIRE_SUBMIT_SYNC_FILE;
                break;
        default:
                break;
        }
        *n_fds = m.hdr.n_fds;
        return (size_t)bs_msg_encode(&m, buf, BS_MSG_MAX_SIZE);
}

static int decode(const uint8_t *buf, size_t len, unsigned n_fds)
{
        struct bs_msg m;
        return bs_msg_decode(&m, buf, len, n_fds);
}

static struct bs_msg_header *hdr_of(uint8_t *buf)
{
        return (struct bs_msg_header *)buf;
}

static void valid_messages_decode_and_reencode(void **state)
{
        for (int op = BS_OP_HELLO; op < BS_OP_COUNT; op++) {
                if (!bs_op_lookup((uint16_t)op))
                        continue; /* another feature's opcode */
                uint8_t buf[BS_MSG_MAX_SIZE], again[BS_MSG_MAX_SIZE];
                unsigned n_fds;
                struct bs_msg m;
                size_t len;

                if (!bs_op_lookup(op))
                        continue; /* a gap: 26..29 */

                len = valid_request(op, buf, &n_fds);
                assert_int_equal(bs_msg_decode(&m, buf, len, n_fds), 0);
                assert_int_equal(bs_msg_encode(&m, again, sizeof(again)), (int)len);
                assert_memory_equal(buf, again, len);

                len = valid_reply(op, buf, &n_fds);
                assert_int_equal(bs_msg_decode(&m, buf, len, n_fds), 0);
                assert_int_equal(bs_msg_encode(&m, again, sizeof(again)), (int)len);
                assert_memory_equal(buf, again, len);
        }
}

static void short_header_is_refused(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;

        valid_request(BS_OP_INFO, buf, &n_fds);
        for (size_t len = 0; len < sizeof(struct bs_msg_header); len++)
                assert_int_equal(decode(buf, len, 0), -EPROTO);
}

static void size_field_must_equal_datagram(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_request(BS_OP_INFO, buf, &n_fds);

        hdr_of(buf)->size = (uint32_t)len + 1;
        assert_int_equal(decode(buf, len, 0), -EPROTO);
        hdr_of(buf)->size = (uint32_t)len - 1;
        assert_int_equal(decode(buf, len, 0), -EPROTO);
        hdr_of(buf)->size = 0xffffffff;
        assert_int_equal(decode(buf, len, 0), -EPROTO);
}

static void oversized_datagram_is_refused(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE + 64] = { 0 };
        unsigned n_fds;

        valid_request(BS_OP_EXPORT, buf, &n_fds);
        hdr_of(buf)->size = sizeof(buf);
        assert_int_equal(decode(buf, sizeof(buf), 0), -EPROTO);
}

static void unknown_flags_are_refused(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_request(BS_OP_INFO, buf, &n_fds);

        for (int bit = 1; bit < 16; bit++) {
                hdr_of(buf)->flags = (uint16_t)(1u << bit);
                assert_int_equal(decode(buf, len, 0), -EPROTO);
        }
}

static void reserved_header_bytes_must_be_zero(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_request(BS_OP_INFO, buf, &n_fds);

        for (int i = 0; i < 3; i++) {
                hdr_of(buf)->reserved[i] = 1;
                assert_int_equal(decode(buf, len, 0), -EPROTO);
                hdr_of(buf)->reserved[i] = 0;
        }
        assert_int_equal(decode(buf, len, 0), 0);
}

static void unknown_opcodes_are_refused(void **state)
{
        /* 26 and 29: the gap below REDEEM (30) */
        static const uint16_t bad[] = { 0, 26, 29, BS_OP_COUNT, BS_OP_COUNT + 1, 0x7fff, 0xffff };
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_request(BS_OP_INFO, buf, &n_fds);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                hdr_of(buf)->opcode = bad[i];
                assert_int_equal(decode(buf, len, 0), -EPROTO);
        }
}

static void error_reply_to_an_unknown_opcode_decodes(void **state)
{
        struct bs_msg_header req = { .opcode = 0x4242, .serial = 3 };
        uint8_t buf[BS_MSG_MAX_SIZE];
        struct bs_msg m;
        int len;

        bs_msg_reply_error(&m, &req, -EPROTO);
        len = bs_msg_encode(&m, buf, sizeof(buf));
        assert_int_equal(decode(buf, (size_t)len, 0), 0);
        /* but a success reply to it does not */
        ((struct bs_status_rep *)(buf + sizeof(struct bs_msg_header)))->status = 0;
        assert_int_equal(decode(buf, (size_t)len, 0), -EPROTO);
}

static void declared_fds_must_equal_received(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_request(BS_OP_IMPORT, buf, &n_fds);

        assert_int_equal(n_fds, 1);
        assert_int_equal(decode(buf, len, 0), -EPROTO); /* claims 1, none came */
        assert_int_equal(decode(buf, len, 2), -EPROTO); /* claims 1, 2 came */
        hdr_of(buf)->n_fds = 2;
        assert_int_equal(decode(buf, len, 2), -EPROTO); /* 2 on both sides, op wants 1 */
}

static void stray_fds_are_refused(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_request(BS_OP_INFO, buf, &n_fds);

        hdr_of(buf)->n_fds = 1;
        assert_int_equal(decode(buf, len, 1), -EPROTO);
}

static void request_body_size_must_be_exact(void **state)
{
        for (int op = BS_OP_HELLO; op < BS_OP_COUNT; op++) {
                if (!bs_op_lookup((uint16_t)op))
                        continue;
                uint8_t buf[BS_MSG_MAX_SIZE + 8] = { 0 };
                unsigned n_fds;
                size_t len;

                if (!bs_op_lookup(op))
                        continue;
                len = valid_request(op, buf, &n_fds);
                hdr_of(buf)->size = (uint32_t)len - 1;
                assert_int_equal(decode(buf, len - 1, n_fds), -EPROTO);
                hdr_of(buf)->size = (uint32_t)len + 8;
                assert_int_equal(decode(buf, len + 8, n_fds), -EPROTO);
        }
}

static void strings_must_be_nul_terminated(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_request(BS_OP_EXPORT, buf, &n_fds);
        struct bs_export_req *e = (struct bs_export_req *)(buf + sizeof(struct bs_msg_header));

        memset(e->name, 'a', sizeof(e->name));
        assert_int_equal(decode(buf, len, 0), -EPROTO);
}

static void bytes_after_the_nul_must_be_zero(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_request(BS_OP_EXPORT, buf, &n_fds);
        struct bs_export_req *e = (struct bs_export_req *)(buf + sizeof(struct bs_msg_header));

        e->heap[sizeof(e->heap) - 1] = 'x';
        assert_int_equal(decode(buf, len, 0), -EPROTO);
}

/* bs_string_valid() on its boundaries: the NUL first and last, a byte
 * set just after it and at the end, and fields longer than the zeroes it
 * compares with at once (64 bytes) */
static void string_padding_table(void **state)
{
        static const struct {
                size_t len, nul, bad; /* bad == len: all zero after the NUL */
                int expect;
        } t[] = {
                { 1, 0, 1, 1 },    { 32, 0, 32, 1 },  { 32, 31, 32, 1 }, { 32, 0, 1, 0 },
                { 32, 0, 31, 0 },  { 32, 30, 31, 0 }, { 64, 0, 63, 0 },  { 65, 0, 64, 0 },
                { 65, 0, 65, 1 },  { 100, 3, 100, 1 }, { 100, 3, 67, 0 }, { 100, 3, 68, 0 },
                { 100, 3, 99, 0 }, { 129, 0, 128, 0 }, { 129, 0, 129, 1 },
        };
        (void)state;

        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                char s[129];

                memset(s, 'a', sizeof(s));
                memset(s + t[i].nul, 0, t[i].len - t[i].nul);
                if (t[i].bad < t[i].len)
                        s[t[i].bad] = 'x';
                assert_int_equal(bs_string_valid(s, t[i].len), t[i].expect);
        }
        {
                char full[32];
                memset(full, 'a', sizeof(full));
                assert_int_equal(bs_string_valid(full, sizeof(full)), 0); /* no NUL */
        }
}

static void unknown_body_flags_are_refused(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_request(BS_OP_EXPORT, buf, &n_fds);
        struct bs_export_req *e = (struct bs_export_req *)(buf + sizeof(struct bs_msg_header));
        struct bs_import_req *im;

        e->flags = 1;
        assert_int_equal(decode(buf, len, 0), -EPROTO);

        len = valid_request(BS_OP_IMPORT, buf, &n_fds);
        im = (struct bs_import_req *)(buf + sizeof(struct bs_msg_header));
        im->flags = 1ull << 63;
        assert_int_equal(decode(buf, len, 1), -EPROTO);
}

static void hello_versions_must_be_a_range(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_request(BS_OP_HELLO, buf, &n_fds);
        struct bs_hello_req *h = (struct bs_hello_req *)(buf + sizeof(struct bs_msg_header));

        h->version_min = 0;
        assert_int_equal(decode(buf, len, 0), -EPROTO);
        h->version_min = 3;
        h->version_max = 2;
        assert_int_equal(decode(buf, len, 0), -EPROTO);
}

static void reply_status_must_be_zero_or_negative_errno(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_reply(BS_OP_RELEASE, buf, &n_fds);
        struct bs_status_rep *s = (struct bs_status_rep *)(buf + sizeof(struct bs_msg_header));

        s->status = 1;
        assert_int_equal(decode(buf, len, 0), -EPROTO);
        s->status = -5000;
        assert_int_equal(decode(buf, len, 0), -EPROTO);
        s->status = -ENOENT;
        assert_int_equal(decode(buf, len, 0), 0);
        s->reserved = 1;
        assert_int_equal(decode(buf, len, 0), -EPROTO);
}

static void error_reply_is_status_only(void **state)
{
        struct bs_msg_header req = { .opcode = BS_OP_EXPORT, .serial = 4 };
        uint8_t buf[BS_MSG_MAX_SIZE] = { 0 };
        struct bs_msg m;
        int len;

        bs_msg_reply_error(&m, &req, -EFBIG);
        len = bs_msg_encode(&m, buf, sizeof(buf));
        assert_int_equal(len, sizeof(struct bs_msg_header) + sizeof(struct bs_status_rep));
        assert_int_equal(decode(buf, (size_t)len, 0), 0);

        /* an error reply with a body or an fd is malformed */
        hdr_of(buf)->size = (uint32_t)len + 8;
        assert_int_equal(decode(buf, (size_t)len + 8, 0), -EPROTO);
        hdr_of(buf)->size = (uint32_t)len;
        hdr_of(buf)->n_fds = 1;
        assert_int_equal(decode(buf, (size_t)len, 1), -EPROTO);
}

static void success_reply_needs_its_fds_and_size(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_reply(BS_OP_EXPORT, buf, &n_fds);

        hdr_of(buf)->n_fds = 0;
        assert_int_equal(decode(buf, len, 0), -EPROTO); /* export without its fd */
        hdr_of(buf)->n_fds = 1;
        hdr_of(buf)->size = (uint32_t)len - 8;
        assert_int_equal(decode(buf, len - 8, 1), -EPROTO);
}

static void reply_fields_are_checked(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len = valid_reply(BS_OP_EXPORT, buf, &n_fds);
        struct bs_export_rep *e = (struct bs_export_rep *)(buf + sizeof(struct bs_msg_header));
        struct bs_info_rep *i;

        e->id = 0;
        assert_int_equal(decode(buf, len, 1), -EPROTO);
        e->id = 1;
        e->reserved = 2;
        assert_int_equal(decode(buf, len, 1), -EPROTO);

        len = valid_reply(BS_OP_INFO, buf, &n_fds);
        i = (struct bs_info_rep *)(buf + sizeof(struct bs_msg_header));
        i->reserved2 = 1;
        assert_int_equal(decode(buf, len, 0), -EPROTO);
        i->reserved2 = 0;
        memset(i->exporter_comm, 'c', sizeof(i->exporter_comm));
        assert_int_equal(decode(buf, len, 0), -EPROTO);
}

/* A put is a RELEASE that asks for no reply (since version 2); no other
 * request may ask that, no reply may carry it, and version 1's bit 1
 * ("releases follow") is refused. */
static void no_reply_rules(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        struct bs_msg m;
        int len;

        bs_msg_request(&m, BS_OP_RELEASE, 5);
        m.hdr.flags = BS_MSG_NO_REPLY;
        m.body.release_req.id = 9;
        len = bs_msg_encode(&m, buf, sizeof(buf));
        assert_int_equal(decode(buf, (size_t)len, 0), 0);
        hdr_of(buf)->flags = BS_MSG_NO_REPLY | BS_MSG_REPLY;
        assert_int_equal(decode(buf, (size_t)len, 0), -EPROTO);
        hdr_of(buf)->flags = 1u << 1;
        assert_int_equal(decode(buf, (size_t)len, 0), -EPROTO);

        bs_msg_request(&m, BS_OP_INFO, 5);
        m.hdr.flags = BS_MSG_NO_REPLY;
        len = bs_msg_encode(&m, buf, sizeof(buf));
        assert_int_equal(decode(buf, (size_t)len, 0), -EPROTO);
}

static void version_2_opcodes_say_since(void **state)
{
        assert_int_equal(bs_op_lookup(BS_OP_LIST_HEAPS)->since, 1);
        assert_int_equal(bs_op_lookup(BS_OP_SYNC)->since, 2);
        assert_int_equal(bs_op_lookup(BS_OP_LIMITS)->since, 2);
        assert_int_equal(bs_op_lookup(BS_OP_REDEEM)->since, 2);
        assert_int_equal(BS_OP_REDEEM, 30);
        assert_null(bs_op_lookup(BS_OP_COUNT));
        for (uint16_t op = BS_OP_EXPORT_DESCRIBED; op <= BS_OP_GET_DESCRIPTION; op++)
                assert_int_equal(bs_op_lookup(op)->since, 2);
        assert_null(bs_op_lookup(BS_OP_EXPORT_DESCRIBED - 2)); /* 29: kept for features to come */
}

/* A description's plane reserved fields are the message's shape. */
static void description_reserved_fields_must_be_zero(void **state)
{
        static const enum bs_opcode ops[] = { BS_OP_EXPORT_DESCRIBED, BS_OP_SET_DESCRIPTION };

        for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
                uint8_t buf[BS_MSG_MAX_SIZE];
                unsigned n_fds;
                size_t len = valid_request(ops[i], buf, &n_fds);
                struct bs_wire_description *d =
                        ops[i] == BS_OP_EXPORT_DESCRIBED
                                ? &((struct bs_export_described_req *)(buf + sizeof(struct bs_msg_header)))->desc
                                : &((struct bs_set_description_req *)(buf + sizeof(struct bs_msg_header)))->desc;

                assert_int_equal(decode(buf, len, n_fds), 0);
                d->planes[3].reserved = 1;
                assert_int_equal(decode(buf, len, n_fds), -EPROTO);
        }
}

/* Fences, sync files and pools: since 2, their fd counts, the requests
 * that may go one way, their reserved fields and must-be-0 flags. */
static void fence_opcodes_are_version_2_with_their_fds(void **state)
{
        static const struct {
                uint16_t op;
                uint8_t req_fds, rep_fds;
                bool oneway;
        } rows[] = {
                { BS_OP_FENCE_CREATE, 0, 1, false },     { BS_OP_FENCE_ATTACH, 0, 0, false },
                { BS_OP_FENCE_SIGNAL, 0, 0, true },      { BS_OP_FENCE_DESTROY, 0, 0, true },
                { BS_OP_EXPORT_SYNC_FILE, 0, 1, false }, { BS_OP_IMPORT_SYNC_FILE, 1, 0, false },
                { BS_OP_SYNC_FILE_MERGE, 2, 1, false },  { BS_OP_SUBMIT, 0, 0, false },
                { BS_OP_RELEASE_READ, 0, 0, true },
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const struct bs_op_desc *d = bs_op_lookup(rows[i].op);

                assert_non_null(d);
                assert_int_equal(d->since, 2);
                assert_int_equal(d->req_fds, rows[i].req_fds);
                assert_int_equal(d->rep_fds, rows[i].rep_fds);
                assert_int_equal(d->oneway_ok, rows[i].oneway);
        }
        for (uint16_t op = 26; op < 30 && op < BS_OP_COUNT; op++)
                assert_null(bs_op_lookup(op)); /* gaps are unknown opcodes */
}

static void fence_request_fields_are_checked(void **state)
{
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len;

        len = valid_request(BS_OP_FENCE_ATTACH, buf, &n_fds);
        ((struct bs_fence_attach_req *)(buf + sizeof(struct bs_msg_header)))->reserved = 1;
        assert_int_equal(decode(buf, len, n_fds), -EPROTO);
        len = valid_request(BS_OP_FENCE_SIGNAL, buf, &n_fds);
        ((struct bs_fence_signal_req *)(buf + sizeof(struct bs_msg_header)))->reserved = 1;
        assert_int_equal(decode(buf, len, n_fds), -EPROTO);
        len = valid_request(BS_OP_FENCE_CREATE, buf, &n_fds);
        ((struct bs_fence_create_req *)(buf + sizeof(struct bs_msg_header)))->flags = 2; /* unknown */
        assert_int_equal(decode(buf, len, n_fds), -EPROTO);
        len = valid_request(BS_OP_SYNC_FILE_MERGE, buf, &n_fds);
        assert_int_equal(decode(buf, len, 1), -EPROTO); /* one fd short */
        ((struct bs_sync_file_merge_req *)(buf + sizeof(struct bs_msg_header)))->flags = 1;
        assert_int_equal(decode(buf, len, n_fds), -EPROTO);
        len = valid_request(BS_OP_SUBMIT, buf, &n_fds);
        ((struct bs_submit_req *)(buf + sizeof(struct bs_msg_header)))->flags = 1;
        assert_int_equal(decode(buf, len, n_fds), -EPROTO);
        len = valid_request(BS_OP_RELEASE_READ, buf, &n_fds);
        ((struct bs_release_read_req *)(buf + sizeof(struct bs_msg_header)))->reserved = 1;
        assert_int_equal(decode(buf, len, n_fds), -EPROTO);
        /* values that are the caller's choice are the daemon's to refuse */
        len = valid_request(BS_OP_FENCE_SIGNAL, buf, &n_fds);
        ((struct bs_fence_signal_req *)(buf + sizeof(struct bs_msg_header)))->status = 5;
        assert_int_equal(decode(buf, len, n_fds), 0);
        len = valid_request(BS_OP_EXPORT_SYNC_FILE, buf, &n_fds);
        ((struct bs_sync_file_req *)(buf + sizeof(struct bs_msg_header)))->flags = 0xff;
        assert_int_equal(decode(buf, len, n_fds), 0);
}

/* EXPORT_BATCH (36, since 2): its reply carries as many fds as it names
 * buffers, each id set up to count and none after; the count itself is
 * the caller's choice (the daemon says -EINVAL), not the message's shape. */
static void export_batch_reply_fds_follow_its_count(void **state)
{
        struct bs_export_batch_rep *w;
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len;

        assert_int_equal(bs_op_lookup(BS_OP_EXPORT_BATCH)->since, 2);
        assert_null(bs_op_lookup(26)); /* a gap: unknown here */
        assert_null(bs_op_lookup(29));
        len = valid_reply(BS_OP_EXPORT_BATCH, buf, &n_fds);
        w = (struct bs_export_batch_rep *)(buf + sizeof(struct bs_msg_header));
        assert_int_equal(decode(buf, len, 3), 0);
        hdr_of(buf)->n_fds = 2;
        assert_int_equal(decode(buf, len, 2), -EPROTO); /* fewer fds than buffers */
        hdr_of(buf)->n_fds = 4;
        assert_int_equal(decode(buf, len, 4), -EPROTO); /* more */
        hdr_of(buf)->n_fds = 3;
        w->ids[3] = 99;
        assert_int_equal(decode(buf, len, 3), -EPROTO); /* an id past count */
        w->ids[3] = 0;
        w->ids[1] = 0;
        assert_int_equal(decode(buf, len, 3), -EPROTO); /* a missing id */
        w->ids[1] = 11;
        w->count = 0;
        hdr_of(buf)->n_fds = 0;
        assert_int_equal(decode(buf, len, 0), -EPROTO); /* a success with no buffer */
        w->count = BS_WIRE_BATCH_MAX + 1;
        assert_int_equal(decode(buf, len, 0), -EPROTO);

        /* the request: flags must be 0; a count of 0 or 1000 is well-formed */
        len = valid_request(BS_OP_EXPORT_BATCH, buf, &n_fds);
        ((struct bs_export_batch_req *)(buf + sizeof(struct bs_msg_header)))->count = 1000;
        assert_int_equal(decode(buf, len, 0), 0);
        ((struct bs_export_batch_req *)(buf + sizeof(struct bs_msg_header)))->flags = 1;
        assert_int_equal(decode(buf, len, 0), -EPROTO);
}

/* SUBMIT_SYNC_FILE (37, since 2): SUBMIT's request; its reply carries
 * the WRITE sync file exactly when its flag says so, and nothing else. */
static void submit_sync_file_reply_fd_follows_its_flag(void **state)
{
        struct bs_submit_sync_file_rep *w;
        uint8_t buf[BS_MSG_MAX_SIZE];
        unsigned n_fds;
        size_t len;

        assert_int_equal(bs_op_lookup(BS_OP_SUBMIT_SYNC_FILE)->since, 2);
        assert_int_equal(bs_op_lookup(BS_OP_SUBMIT_SYNC_FILE)->req_fds, 0);
        assert_false(bs_op_lookup(BS_OP_SUBMIT_SYNC_FILE)->oneway_ok);
        len = valid_reply(BS_OP_SUBMIT_SYNC_FILE, buf, &n_fds);
        w = (struct bs_submit_sync_file_rep *)(buf + sizeof(struct bs_msg_header));
        assert_int_equal(decode(buf, len, 1), 0);
        hdr_of(buf)->n_fds = 0;
        assert_int_equal(decode(buf, len, 0), -EPROTO); /* the flag without its fd */
        w->flags = 0;
        assert_int_equal(decode(buf, len, 0), 0); /* no sync file: the submit stands */
        hdr_of(buf)->n_fds = 1;
        assert_int_equal(decode(buf, len, 1), -EPROTO); /* an fd the flag does not name */
        w->flags = BS_WIRE_SUBMIT_SYNC_FILE | 2;
        assert_int_equal(decode(buf, len, 1), -EPROTO); /* an unknown flag */
        w->flags = BS_WIRE_SUBMIT_SYNC_FILE;
        w->reserved = 1;
        assert_int_equal(decode(buf, len, 1), -EPROTO);

        len = valid_request(BS_OP_SUBMIT_SYNC_FILE, buf, &n_fds);
        assert_int_equal(decode(buf, len, 0), 0);
        ((struct bs_submit_req *)(buf + sizeof(struct bs_msg_header)))->flags = 1;
        assert_int_equal(decode(buf, len, 0), -EPROTO);
}

static void add_fd_past_the_limit_closes_it(void **state)
{
        struct bs_msg m;
        int fd;

        bs_msg_init(&m);
        for (int i = 0; i < BS_MAX_FDS; i++)
                assert_int_equal(bs_msg_add_fd(&m, open("/dev/null", O_RDONLY | O_CLOEXEC)), 0);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_int_equal(bs_msg_add_fd(&m, fd), -E2BIG);
        assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed, not leaked */
        assert_int_equal(m.hdr.n_fds, BS_MAX_FDS);
        bs_msg_clear(&m); /* the fixture checks that all were closed */
}

static void encode_refuses_small_buffers(void **state)
{
        uint8_t buf[8];
        struct bs_msg m;

        bs_msg_request(&m, BS_OP_INFO, 1);
        assert_int_equal(bs_msg_encode(&m, buf, sizeof(buf)), -ENOBUFS);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(valid_messages_decode_and_reencode),
                T(export_batch_reply_fds_follow_its_count),
                T(submit_sync_file_reply_fd_follows_its_flag),
                T(short_header_is_refused),
                T(size_field_must_equal_datagram),
                T(oversized_datagram_is_refused),
                T(unknown_flags_are_refused),
                T(reserved_header_bytes_must_be_zero),
                T(unknown_opcodes_are_refused),
                T(error_reply_to_an_unknown_opcode_decodes),
                T(declared_fds_must_equal_received),
                T(stray_fds_are_refused),
                T(request_body_size_must_be_exact),
                T(strings_must_be_nul_terminated),
                T(bytes_after_the_nul_must_be_zero),
                T(string_padding_table),
                T(unknown_body_flags_are_refused),
                T(hello_versions_must_be_a_range),
                T(reply_status_must_be_zero_or_negative_errno),
                T(error_reply_is_status_only),
                T(success_reply_needs_its_fds_and_size),
                T(reply_fields_are_checked),
                T(no_reply_rules),
                T(version_2_opcodes_say_since),
                T(description_reserved_fields_must_be_zero),
                T(fence_opcodes_are_version_2_with_their_fds),
                T(fence_request_fields_are_checked),
                T(add_fd_past_the_limit_closes_it),
                T(encode_refuses_small_buffers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
