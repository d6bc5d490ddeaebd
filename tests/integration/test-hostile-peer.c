/* SPDX-License-Identifier: MIT */
/*
 * Hostile peers write raw bytes at the real bufshared (STYLE F3). Each
 * malformed message gets an -EPROTO reply where a header could be read,
 * then the disconnect; a well-behaved client keeps working throughout,
 * and the daemon's open fd count returns to its baseline.
 */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "bufshare/bufshare.h"
#include "fdpass.h"
#include "message.h"
#include "msgio.h"
#include "util.h"

struct fx {
        int fds_before;
        struct test_daemon daemon;
        struct bs_client *good;
        int daemon_fds_baseline;
};

static int setup(void **state)
{
        struct fx *fx = calloc(1, sizeof(*fx));

        alarm(TEST_TIMEOUT_S);
        fx->fds_before = test_count_open_fds();
        if (test_daemon_start(&fx->daemon, NULL) < 0)
                return -1;
        if (bs_client_connect(fx->daemon.socket, &fx->good) < 0)
                return -1;
        fx->daemon_fds_baseline = test_count_fds_of(fx->daemon.pid);
        *state = fx;
        return 0;
}

/* The daemon's fd count once it has seen every hang-up. Connections that
 * simply closed (no EOF was awaited) are noticed asynchronously, so ask
 * with round trips until the count settles or the deadline passes. */
static int daemon_fds_settled(struct fx *fx)
{
        uint64_t deadline = test_now_ms() + 10000;
        int n;

        /* the good client's own last put rides on its next request */
        bs_client_sync(fx->good);
        while ((n = test_count_fds_of(fx->daemon.pid)) != fx->daemon_fds_baseline &&
               test_now_ms() < deadline)
                bs_client_sync(fx->good);
        return n;
}

static int teardown(void **state)
{
        struct fx *fx = *state;
        int fds_now = daemon_fds_settled(fx), leaked, r;

        if (fds_now != fx->daemon_fds_baseline)
                fprintf(stderr, "bufshared holds %d fds, %d at the start\n", fds_now,
                        fx->daemon_fds_baseline);
        bs_client_unref(fx->good);
        r = test_daemon_stop(&fx->daemon);
        leaked = test_count_open_fds() != fx->fds_before;
        leaked |= fds_now != fx->daemon_fds_baseline;
        free(fx);
        alarm(0);
        return (r != 0 || leaked) ? -1 : 0;
}

/* The good client still gets served: export, map, write, read back, put. */
static void assert_good_client_served(struct fx *fx)
{
        struct bs_buffer *b = NULL;
        uint8_t *map;

        assert_int_equal(bs_buffer_export(fx->good, 4096, NULL, "good", &b), 0);
        assert_int_equal(bs_buffer_mmap(b, 0, 4096, BS_PROT_READ | BS_PROT_WRITE, (void **)&map), 0);
        map[0] = 0x42;
        assert_int_equal(map[0], 0x42);
        bs_buffer_munmap(b, map, 4096);
        bs_buffer_put(b);
}

static void raw_send(int sock, const void *data, size_t len, const int *fds, unsigned n)
{
        assert_int_equal(bs_fdpass_send(sock, data, len, fds, n), 0);
}

/*
 * After a bad message: an error reply with @expect_status (0: no reply,
 * the header was unreadable), then end of file. EOF means the daemon has
 * closed its end, and with it every fd the message carried.
 */
static void assert_refused_and_closed(int sock, int expect_status, uint32_t serial)
{
        struct bs_msg m;
        int r;

        if (expect_status) {
                r = test_raw_recv(sock, &m);
                assert_int_equal(r, 0);
                assert_true(m.hdr.flags & BS_MSG_REPLY);
                assert_int_equal(m.hdr.serial, serial);
                assert_int_equal(m.body.status.status, expect_status);
                bs_msg_clear(&m);
        }
        r = test_raw_recv(sock, &m);
        assert_int_equal(r, -ECONNRESET);
}

static int hello_conn(struct fx *fx)
{
        int s = test_raw_connect_hello(fx->daemon.socket);
        assert_true(s >= 0);
        return s;
}

static size_t info_request(uint8_t *buf, uint32_t serial)
{
        struct bs_msg m;

        bs_msg_request(&m, BS_OP_INFO, serial);
        m.body.id_req.id = 1;
        return (size_t)bs_msg_encode(&m, buf, BS_MSG_MAX_SIZE);
}

static void garbage_bytes(void **state)
{
        struct fx *fx = *state;
        uint8_t junk[50];
        int s = hello_conn(fx);

        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (uint8_t)(i * 37 + 11);
        /* reads as a header with size 0x..: refused; its serial is echoed */
        raw_send(s, junk, sizeof(junk), NULL, 0);
        struct bs_msg_header h;
        memcpy(&h, junk, sizeof(h));
        assert_refused_and_closed(s, -EPROTO, h.serial);
        close(s);
        assert_good_client_served(fx);
}

static void truncated_header(void **state)
{
        struct fx *fx = *state;
        uint8_t buf[BS_MSG_MAX_SIZE];
        int s = hello_conn(fx);

        info_request(buf, 3);
        raw_send(s, buf, 10, NULL, 0);
        assert_refused_and_closed(s, 0, 0);
        close(s);
        assert_good_client_served(fx);
}

static void oversized_message(void **state)
{
        struct fx *fx = *state;
        uint8_t big[BS_MSG_MAX_SIZE * 4] = { 0 };
        int s = hello_conn(fx), fd = memfd_create("stray", MFD_CLOEXEC);

        info_request(big, 4);
        ((struct bs_msg_header *)big)->size = sizeof(big);
        ((struct bs_msg_header *)big)->n_fds = 1;
        raw_send(s, big, sizeof(big), &fd, 1); /* MSG_TRUNC at the daemon */
        close(fd);
        /* the header arrived: PROTOCOL.md promises an -EPROTO reply */
        assert_refused_and_closed(s, -EPROTO, 4);
        close(s);
        assert_good_client_served(fx);
}

static void lying_size_field(void **state)
{
        struct fx *fx = *state;
        uint8_t buf[BS_MSG_MAX_SIZE];
        size_t len = info_request(buf, 5);
        int s = hello_conn(fx);

        ((struct bs_msg_header *)buf)->size = 200;
        raw_send(s, buf, len, NULL, 0);
        assert_refused_and_closed(s, -EPROTO, 5);
        close(s);
        assert_good_client_served(fx);
}

static void unknown_opcode(void **state)
{
        struct fx *fx = *state;
        uint8_t buf[BS_MSG_MAX_SIZE];
        size_t len = info_request(buf, 6);
        int s = hello_conn(fx);

        ((struct bs_msg_header *)buf)->opcode = 0x4242;
        raw_send(s, buf, len, NULL, 0);
        assert_refused_and_closed(s, -EPROTO, 6);
        close(s);
        assert_good_client_served(fx);
}

static void nonzero_reserved(void **state)
{
        struct fx *fx = *state;
        uint8_t buf[BS_MSG_MAX_SIZE];
        size_t len = info_request(buf, 7);
        int s = hello_conn(fx);

        ((struct bs_msg_header *)buf)->reserved[1] = 9;
        raw_send(s, buf, len, NULL, 0);
        assert_refused_and_closed(s, -EPROTO, 7);
        close(s);
        assert_good_client_served(fx);
}

static void declared_fds_not_sent(void **state)
{
        struct fx *fx = *state;
        struct bs_msg m;
        uint8_t buf[BS_MSG_MAX_SIZE];
        int s = hello_conn(fx), len;

        bs_msg_request(&m, BS_OP_IMPORT, 8);
        m.hdr.n_fds = 1; /* claims an fd, sends none */
        len = bs_msg_encode(&m, buf, sizeof(buf));
        raw_send(s, buf, (size_t)len, NULL, 0);
        assert_refused_and_closed(s, -EPROTO, 8);
        close(s);
        assert_good_client_served(fx);
}

static void stray_fds_on_a_request_without_fds(void **state)
{
        struct fx *fx = *state;
        uint8_t buf[BS_MSG_MAX_SIZE];
        size_t len = info_request(buf, 9);
        int s = hello_conn(fx), fds[2];

        fds[0] = memfd_create("stray0", MFD_CLOEXEC);
        fds[1] = memfd_create("stray1", MFD_CLOEXEC);
        ((struct bs_msg_header *)buf)->n_fds = 2;
        raw_send(s, buf, len, fds, 2);
        close(fds[0]);
        close(fds[1]);
        assert_refused_and_closed(s, -EPROTO, 9);
        close(s);
        assert_good_client_served(fx);
}

static void more_fds_than_the_protocol_allows(void **state)
{
        struct fx *fx = *state;
        uint8_t buf[BS_MSG_MAX_SIZE];
        size_t len = info_request(buf, 10);
        int s = hello_conn(fx), fds[BS_MAX_FDS + 3];

        for (unsigned i = 0; i < ELEMENTSOF(fds); i++)
                fds[i] = memfd_create("flood", MFD_CLOEXEC);
        raw_send(s, buf, len, fds, ELEMENTSOF(fds)); /* MSG_CTRUNC at the daemon */
        for (unsigned i = 0; i < ELEMENTSOF(fds); i++)
                close(fds[i]);
        assert_refused_and_closed(s, -EPROTO, 10);
        close(s);
        assert_good_client_served(fx);
}

static void import_of_something_else_is_an_error_not_a_disconnect(void **state)
{
        struct fx *fx = *state;
        struct bs_msg req, rep;
        int s = hello_conn(fx);

        bs_msg_request(&req, BS_OP_IMPORT, 11);
        bs_msg_add_fd(&req, open("/dev/null", O_RDONLY | O_CLOEXEC));
        assert_int_equal(test_raw_call(s, &req, &rep), -EBADFD);
        bs_msg_clear(&req);
        bs_msg_clear(&rep);
        /* a well-formed request with a bad fd is no protocol error */
        assert_int_equal(test_raw_info(s, 12345, NULL), -ENOENT);
        close(s);
        assert_good_client_served(fx);
}

static void request_before_hello(void **state)
{
        struct fx *fx = *state;
        uint8_t buf[BS_MSG_MAX_SIZE];
        size_t len = info_request(buf, 12);
        int s = test_raw_connect(fx->daemon.socket);

        raw_send(s, buf, len, NULL, 0);
        assert_refused_and_closed(s, -EPROTO, 12);
        close(s);
        assert_good_client_served(fx);
}

static void second_hello(void **state)
{
        struct fx *fx = *state;
        struct bs_msg req;
        int s = hello_conn(fx);

        bs_msg_request(&req, BS_OP_HELLO, 13);
        req.body.hello_req.version_min = 1;
        req.body.hello_req.version_max = 1;
        assert_int_equal(bs_msg_send(s, &req), 0);
        assert_refused_and_closed(s, -EPROTO, 13);
        close(s);
        assert_good_client_served(fx);
}

static void unsupported_version(void **state)
{
        struct fx *fx = *state;
        struct bs_msg req;
        int s = test_raw_connect(fx->daemon.socket);

        bs_msg_request(&req, BS_OP_HELLO, 14);
        req.body.hello_req.version_min = BS_PROTOCOL_VERSION + 1;
        req.body.hello_req.version_max = BS_PROTOCOL_VERSION + 5;
        assert_int_equal(bs_msg_send(s, &req), 0);
        assert_refused_and_closed(s, -EPROTONOSUPPORT, 14);
        close(s);
        assert_good_client_served(fx);
}

static void reply_sent_to_the_daemon(void **state)
{
        struct fx *fx = *state;
        struct bs_msg_header req = { .opcode = BS_OP_RELEASE, .serial = 15 };
        struct bs_msg m;
        int s = hello_conn(fx);

        bs_msg_reply(&m, &req);
        assert_int_equal(bs_msg_send(s, &m), 0);
        assert_refused_and_closed(s, -EPROTO, 15);
        close(s);
        assert_good_client_served(fx);
}

static void client_that_never_reads_does_not_block_others(void **state)
{
        struct fx *fx = *state;
        uint8_t buf[BS_MSG_MAX_SIZE];
        struct bs_msg m;
        int s = hello_conn(fx), sent = 0, replies = 0, r;
        struct bs_msg req;
        size_t len;

        bs_msg_request(&req, BS_OP_INFO, 16);
        req.body.id_req.id = 999999;
        len = (size_t)bs_msg_encode(&req, buf, sizeof(buf));

        /* flood requests without reading a reply until our socket is full:
         * the daemon's replies back up and it stops reading from us */
        assert_int_equal(fcntl(s, F_SETFL, O_NONBLOCK), 0);
        for (;;) {
                ssize_t n = send(s, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        assert_int_equal(errno, EAGAIN);
                        break;
                }
                sent++;
        }
        assert_true(sent > 0);
        assert_good_client_served(fx);

        /* now read: every request gets its one reply, then the daemon sees
         * our end of file and closes (EOF here means it has) */
        assert_int_equal(shutdown(s, SHUT_WR), 0);
        while ((r = test_raw_recv(s, &m)) == 0) {
                assert_int_equal(m.hdr.serial, 16);
                assert_int_equal(m.body.status.status, -ENOENT);
                replies++;
        }
        assert_int_equal(r, -ECONNRESET);
        assert_int_equal(replies, sent);
        close(s);
        assert_good_client_served(fx);
}

/* ---- the table: every opcode's daemon-side rules, raw ------------------ */

/* What a row's connection holds before its message: a writable buffer,
 * a read-only reference on another, and an attachment. */
struct held {
        uint64_t buffer, ro_buffer, attachment;
        int memfd; /* a fd of @buffer, for rows that send one */
};

enum row_fd {
        FD_NONE,
        FD_DEVNULL,
        FD_PIPE,
        FD_BUFFER_RO,     /* O_RDONLY reopen of held.buffer */
        FD_BUFFER_OPATH,  /* O_PATH reopen of held.buffer */
        FD_MEMFD_UNSEALED,
        FD_MEMFD_WSEALED, /* F_SEAL_WRITE */
        FD_MEMFD_ODD,     /* 5000 bytes */
        FD_FOREIGN_RO,    /* O_RDONLY reopen of a shrink-sealed memfd the daemon doesn't host */
        FD_FOREIGN_OPATH, /* O_PATH reopen of the same */
};

struct row {
        const char *what;
        enum bs_opcode op;
        void (*fill)(struct bs_msg *m, const struct held *h);
        enum row_fd fd;
        int expect;      /* the reply's status */
        bool kept;       /* the connection survives */
        uint32_t version; /* of the session, 0: the newest */
};

static void f_none(struct bs_msg *m, const struct held *h) { (void)m; (void)h; }
static void f_export_size0(struct bs_msg *m, const struct held *h) { (void)h; strcpy(m->body.export_req.heap, "system"); }
static void f_export_huge(struct bs_msg *m, const struct held *h) { (void)h; m->body.export_req.size = 1ull << 62; strcpy(m->body.export_req.heap, "system"); }
static void f_export_noheap(struct bs_msg *m, const struct held *h) { (void)h; m->body.export_req.size = 4096; }
static void f_export_badheap(struct bs_msg *m, const struct held *h) { (void)h; m->body.export_req.size = 4096; strcpy(m->body.export_req.heap, "nope"); }
static void f_export_flags(struct bs_msg *m, const struct held *h) { f_export_badheap(m, h); strcpy(m->body.export_req.heap, "system"); m->body.export_req.flags = 1; }
static void f_export_name(struct bs_msg *m, const struct held *h) { f_export_flags(m, h); m->body.export_req.flags = 0; memset(m->body.export_req.name, 'n', BS_NAME_LEN); }
static void f_batch(struct bs_msg *m, uint64_t size, uint32_t count, const char *heap) { m->body.export_batch_req.size = size; m->body.export_batch_req.count = count; strcpy(m->body.export_batch_req.heap, heap); }
static void f_batch_count0(struct bs_msg *m, const struct held *h) { (void)h; f_batch(m, 4096, 0, "system"); }
static void f_batch_count_over(struct bs_msg *m, const struct held *h) { (void)h; f_batch(m, 4096, BS_WIRE_BATCH_MAX + 1, "system"); }
static void f_batch_size0(struct bs_msg *m, const struct held *h) { (void)h; f_batch(m, 0, 2, "system"); }
static void f_batch_huge(struct bs_msg *m, const struct held *h) { (void)h; f_batch(m, 1ull << 62, 2, "system"); }
static void f_batch_badheap(struct bs_msg *m, const struct held *h) { (void)h; f_batch(m, 4096, 2, "nope"); }
static void f_batch_noheap(struct bs_msg *m, const struct held *h) { (void)h; f_batch(m, 4096, 2, ""); }
static void f_batch_flags(struct bs_msg *m, const struct held *h) { (void)h; f_batch(m, 4096, 2, "system"); m->body.export_batch_req.flags = 1; }
static void f_batch_name(struct bs_msg *m, const struct held *h) { (void)h; f_batch(m, 4096, 2, "system"); memset(m->body.export_batch_req.name, 'n', BS_NAME_LEN); }
static void f_batch_oneway(struct bs_msg *m, const struct held *h) { f_batch_count0(m, h); m->hdr.flags = BS_MSG_NO_REPLY; }
static void f_release_unknown(struct bs_msg *m, const struct held *h) { (void)h; m->body.release_req.id = 999999; }
static void f_release_flags(struct bs_msg *m, const struct held *h) { m->body.release_req.id = h->buffer; m->body.release_req.flags = 2; }
static void f_release_ro_of_rw(struct bs_msg *m, const struct held *h) { m->body.release_req.id = h->buffer; m->body.release_req.flags = BS_WIRE_REF_READONLY; }
static void f_release_rw_of_ro(struct bs_msg *m, const struct held *h) { m->body.release_req.id = h->ro_buffer; }
static void f_release_oneway(struct bs_msg *m, const struct held *h) { m->hdr.flags = BS_MSG_NO_REPLY; m->body.release_req.id = h->buffer; }
static void f_id_unknown(struct bs_msg *m, const struct held *h) { (void)h; m->body.id_req.id = 999999; }
static void f_id_zero(struct bs_msg *m, const struct held *h) { (void)h; m->body.id_req.id = 0; }
static void f_info_oneway(struct bs_msg *m, const struct held *h) { m->hdr.flags = BS_MSG_NO_REPLY; m->body.id_req.id = h->buffer; }
static void f_name_unknown(struct bs_msg *m, const struct held *h) { (void)h; m->body.set_name_req.id = 999999; }
static void f_name_ro(struct bs_msg *m, const struct held *h) { m->body.set_name_req.id = h->ro_buffer; strcpy(m->body.set_name_req.name, "x"); }
static void f_name_unterminated(struct bs_msg *m, const struct held *h) { m->body.set_name_req.id = h->buffer; memset(m->body.set_name_req.name, 'x', BS_NAME_LEN); }
static void f_name_padding(struct bs_msg *m, const struct held *h) { m->body.set_name_req.id = h->buffer; m->body.set_name_req.name[5] = 'x'; }
static void f_memfd_flags(struct bs_msg *m, const struct held *h) { (void)h; m->body.export_memfd_req.flags = 1; }
static void f_cpu(struct bs_msg *m, const struct held *h, uint64_t id, uint32_t flags) { (void)h; m->body.cpu_access_req.id = id; m->body.cpu_access_req.flags = flags; }
static void f_cpu_zero(struct bs_msg *m, const struct held *h) { f_cpu(m, h, h->buffer, 0); }
static void f_cpu_unknown_flag(struct bs_msg *m, const struct held *h) { f_cpu(m, h, h->buffer, 4); }
static void f_cpu_unknown_id(struct bs_msg *m, const struct held *h) { f_cpu(m, h, 999999, BS_WIRE_SYNC_READ); }
static void f_cpu_write_ro(struct bs_msg *m, const struct held *h) { f_cpu(m, h, h->ro_buffer, BS_WIRE_SYNC_WRITE); }
static void f_cpu_reserved(struct bs_msg *m, const struct held *h) { f_cpu(m, h, h->buffer, BS_WIRE_SYNC_READ); m->body.cpu_access_req.reserved = 1; }
static void f_cpu_end_unbegun(struct bs_msg *m, const struct held *h) { f_cpu(m, h, h->buffer, BS_WIRE_SYNC_WRITE); }
static void f_attach_nodev(struct bs_msg *m, const struct held *h) { m->body.attach_req.id = h->buffer; }
static void f_attach_seg(struct bs_msg *m, const struct held *h) { f_attach_nodev(m, h); strcpy(m->body.attach_req.device, "gpu"); m->body.attach_req.max_segment = 100; }
static void f_attach_unknown(struct bs_msg *m, const struct held *h) { f_attach_seg(m, h); m->body.attach_req.id = 999999; m->body.attach_req.max_segment = 0; }
static void f_detach_foreign(struct bs_msg *m, const struct held *h) { (void)h; m->body.id_req.id = 1; /* another connection's */ }
static void f_map_dir(struct bs_msg *m, const struct held *h) { m->body.map_attachment_req.attachment_id = h->attachment; m->body.map_attachment_req.direction = 3; }
static void f_map_unknown(struct bs_msg *m, const struct held *h) { (void)h; m->body.map_attachment_req.attachment_id = 999999; }
static void f_map_reserved(struct bs_msg *m, const struct held *h) { m->body.map_attachment_req.attachment_id = h->attachment; m->body.map_attachment_req.reserved = 9; }
static void f_unmap_unmapped(struct bs_msg *m, const struct held *h) { m->body.id_req.id = h->attachment; }
static void f_flags64(struct bs_msg *m, const struct held *h) { (void)h; m->body.list_heaps_req.flags = 1; /* same place in SYNC, LIMITS, IMPORT */ }

/* A 32-row XRGB8888 image of 32 pixels in 4096 bytes: exactly the held
 * buffer; @rows more rows no longer fit. */
static void desc_fill(struct bs_wire_description *d, uint32_t rows)
{
        d->fourcc = 0x34325258; /* XR24 */
        d->n_planes = 1;
        d->width = 32;
        d->height = 32 + rows;
        d->planes[0].stride = 128;
}
static void f_desc_outside(struct bs_msg *m, const struct held *h) { m->body.set_description_req.id = h->buffer; desc_fill(&m->body.set_description_req.desc, 1); }
static void f_desc_ro(struct bs_msg *m, const struct held *h) { m->body.set_description_req.id = h->ro_buffer; desc_fill(&m->body.set_description_req.desc, 0); }
static void f_desc_unknown(struct bs_msg *m, const struct held *h) { f_desc_ro(m, h); m->body.set_description_req.id = 999999; }
static void f_desc_reserved(struct bs_msg *m, const struct held *h) { f_desc_ro(m, h); m->body.set_description_req.id = h->buffer; m->body.set_description_req.desc.planes[3].reserved = 1; }
static void f_desc_wrap(struct bs_msg *m, const struct held *h) { f_desc_ro(m, h); m->body.set_description_req.id = h->buffer; m->body.set_description_req.desc.planes[0].offset = UINT64_MAX - 64; }
static void f_export_described_big(struct bs_msg *m, const struct held *h) { (void)h; m->body.export_described_req.export_req.size = 4096; strcpy(m->body.export_described_req.export_req.heap, "system"); desc_fill(&m->body.export_described_req.desc, 1); }

static const struct row rows[] = {
        { "describe with a row past the end", BS_OP_SET_DESCRIPTION, f_desc_outside, FD_NONE, -EINVAL, true, 0 },
        { "describe with an offset that wraps", BS_OP_SET_DESCRIPTION, f_desc_wrap, FD_NONE, -EINVAL, true, 0 },
        { "describe through a read-only ref", BS_OP_SET_DESCRIPTION, f_desc_ro, FD_NONE, -EACCES, true, 0 },
        { "describe an unknown id", BS_OP_SET_DESCRIPTION, f_desc_unknown, FD_NONE, -ENOENT, true, 0 },
        { "describe with reserved bits", BS_OP_SET_DESCRIPTION, f_desc_reserved, FD_NONE, -EPROTO, false, 0 },
        { "describe in version 1", BS_OP_SET_DESCRIPTION, f_desc_ro, FD_NONE, -EOPNOTSUPP, true, 1 },
        { "export described, too small", BS_OP_EXPORT_DESCRIBED, f_export_described_big, FD_NONE, -EINVAL, true, 0 },
        { "import described of /dev/null", BS_OP_IMPORT_DESCRIBED, f_none, FD_DEVNULL, -EBADFD, true, 0 },
        { "description of an unknown id", BS_OP_GET_DESCRIPTION, f_id_unknown, FD_NONE, -ENOENT, true, 0 },
        { "info described of an unknown id", BS_OP_INFO_DESCRIBED, f_id_unknown, FD_NONE, -ENOENT, true, 0 },
        { "export of 0 bytes", BS_OP_EXPORT, f_export_size0, FD_NONE, -EINVAL, true, 0 },
        { "export past the size limit", BS_OP_EXPORT, f_export_huge, FD_NONE, -EFBIG, true, 0 },
        { "export without a heap", BS_OP_EXPORT, f_export_noheap, FD_NONE, -EINVAL, true, 0 },
        { "export from an unknown heap", BS_OP_EXPORT, f_export_badheap, FD_NONE, -ENOENT, true, 0 },
        { "export with flags", BS_OP_EXPORT, f_export_flags, FD_NONE, -EPROTO, false, 0 },
        { "export with an unterminated name", BS_OP_EXPORT, f_export_name, FD_NONE, -EPROTO, false, 0 },
        { "import of /dev/null", BS_OP_IMPORT, f_none, FD_DEVNULL, -EBADFD, true, 0 },
        { "import of a pipe", BS_OP_IMPORT, f_none, FD_PIPE, -EBADFD, true, 0 },
        { "import of an O_PATH fd", BS_OP_IMPORT, f_none, FD_BUFFER_OPATH, -EBADF, true, 0 },
        { "import of an unsealed memfd", BS_OP_IMPORT, f_none, FD_MEMFD_UNSEALED, -EINVAL, true, 0 },
        { "import of a write-sealed memfd", BS_OP_IMPORT, f_none, FD_MEMFD_WSEALED, -EINVAL, true, 0 },
        { "import of a 5000-byte memfd", BS_OP_IMPORT, f_none, FD_MEMFD_ODD, -EINVAL, true, 0 },
        { "import without its fd", BS_OP_IMPORT, f_none, FD_NONE, -EPROTO, false, 0 },
        { "import with flags", BS_OP_IMPORT, f_flags64, FD_DEVNULL, -EPROTO, false, 0 },
        { "release of an unknown id", BS_OP_RELEASE, f_release_unknown, FD_NONE, -ENOENT, true, 0 },
        { "release with unknown flags", BS_OP_RELEASE, f_release_flags, FD_NONE, -EPROTO, false, 0 },
        { "read-only release of a writable ref", BS_OP_RELEASE, f_release_ro_of_rw, FD_NONE, -ENOENT, true, 0 },
        { "writable release of a read-only ref", BS_OP_RELEASE, f_release_rw_of_ro, FD_NONE, -ENOENT, true, 0 },
        { "release asking no reply, version 1", BS_OP_RELEASE, f_release_oneway, FD_NONE, -EPROTO, false, 1 },
        { "info on an unknown id", BS_OP_INFO, f_id_unknown, FD_NONE, -ENOENT, true, 0 },
        { "info on id 0", BS_OP_INFO, f_id_zero, FD_NONE, -ENOENT, true, 0 },
        { "info asking no reply", BS_OP_INFO, f_info_oneway, FD_NONE, -EPROTO, false, 0 },
        { "set-name of an unknown id", BS_OP_SET_NAME, f_name_unknown, FD_NONE, -ENOENT, true, 0 },
        { "set-name through a read-only ref", BS_OP_SET_NAME, f_name_ro, FD_NONE, -EACCES, true, 0 },
        { "set-name unterminated", BS_OP_SET_NAME, f_name_unterminated, FD_NONE, -EPROTO, false, 0 },
        { "set-name with bytes after its NUL", BS_OP_SET_NAME, f_name_padding, FD_NONE, -EPROTO, false, 0 },
        { "import a read-only fd needing seals", BS_OP_IMPORT, f_none, FD_FOREIGN_RO, -EACCES, true, 0 },
        { "adopt a read-only fd", BS_OP_EXPORT_MEMFD, f_none, FD_FOREIGN_RO, -EACCES, true, 0 },
        { "adopt /dev/null", BS_OP_EXPORT_MEMFD, f_none, FD_DEVNULL, -EBADFD, true, 0 },
        { "adopt an O_PATH fd", BS_OP_EXPORT_MEMFD, f_none, FD_FOREIGN_OPATH, -EBADF, true, 0 },
        { "adopt what the daemon hosts", BS_OP_EXPORT_MEMFD, f_none, FD_BUFFER_RO, -EEXIST, true, 0 },
        { "adopt a write-sealed memfd", BS_OP_EXPORT_MEMFD, f_none, FD_MEMFD_WSEALED, -EINVAL, true, 0 },
        { "adopt with flags", BS_OP_EXPORT_MEMFD, f_memfd_flags, FD_MEMFD_ODD, -EPROTO, false, 0 },
        { "cpu access with no flag", BS_OP_BEGIN_CPU_ACCESS, f_cpu_zero, FD_NONE, -EINVAL, true, 0 },
        { "cpu access with an unknown flag", BS_OP_BEGIN_CPU_ACCESS, f_cpu_unknown_flag, FD_NONE, -EINVAL, true, 0 },
        { "cpu access to an unknown id", BS_OP_BEGIN_CPU_ACCESS, f_cpu_unknown_id, FD_NONE, -ENOENT, true, 0 },
        { "cpu write through a read-only ref", BS_OP_BEGIN_CPU_ACCESS, f_cpu_write_ro, FD_NONE, -EACCES, true, 0 },
        { "cpu access with reserved bits", BS_OP_BEGIN_CPU_ACCESS, f_cpu_reserved, FD_NONE, -EPROTO, false, 0 },
        { "end of cpu access never begun", BS_OP_END_CPU_ACCESS, f_cpu_end_unbegun, FD_NONE, -EINVAL, true, 0 },
        { "attach without a device", BS_OP_ATTACH, f_attach_nodev, FD_NONE, -EINVAL, true, 0 },
        { "attach with an odd segment", BS_OP_ATTACH, f_attach_seg, FD_NONE, -EINVAL, true, 0 },
        { "attach to an unknown id", BS_OP_ATTACH, f_attach_unknown, FD_NONE, -ENOENT, true, 0 },
        { "detach another's attachment", BS_OP_DETACH, f_detach_foreign, FD_NONE, -ENOENT, true, 0 },
        { "map for an unknown direction", BS_OP_MAP_ATTACHMENT, f_map_dir, FD_NONE, -EINVAL, true, 0 },
        { "map an unknown attachment", BS_OP_MAP_ATTACHMENT, f_map_unknown, FD_NONE, -ENOENT, true, 0 },
        { "map with reserved bits", BS_OP_MAP_ATTACHMENT, f_map_reserved, FD_NONE, -EPROTO, false, 0 },
        { "unmap what isn't mapped", BS_OP_UNMAP_ATTACHMENT, f_unmap_unmapped, FD_NONE, -EINVAL, true, 0 },
        { "list heaps with flags", BS_OP_LIST_HEAPS, f_flags64, FD_NONE, -EPROTO, false, 0 },
        { "sync with flags", BS_OP_SYNC, f_flags64, FD_NONE, -EPROTO, false, 0 },
        { "limits with flags", BS_OP_LIMITS, f_flags64, FD_NONE, -EPROTO, false, 0 },
        { "sync in version 1", BS_OP_SYNC, f_none, FD_NONE, -EOPNOTSUPP, true, 1 },
        { "export-batch of no buffer", BS_OP_EXPORT_BATCH, f_batch_count0, FD_NONE, -EINVAL, true, 0 },
        { "export-batch of 33 buffers", BS_OP_EXPORT_BATCH, f_batch_count_over, FD_NONE, -EINVAL, true, 0 },
        { "export-batch of 0 bytes each", BS_OP_EXPORT_BATCH, f_batch_size0, FD_NONE, -EINVAL, true, 0 },
        { "export-batch past the size limit", BS_OP_EXPORT_BATCH, f_batch_huge, FD_NONE, -EFBIG, true, 0 },
        { "export-batch from an unknown heap", BS_OP_EXPORT_BATCH, f_batch_badheap, FD_NONE, -ENOENT, true, 0 },
        { "export-batch without a heap", BS_OP_EXPORT_BATCH, f_batch_noheap, FD_NONE, -EINVAL, true, 0 },
        { "export-batch with flags", BS_OP_EXPORT_BATCH, f_batch_flags, FD_NONE, -EPROTO, false, 0 },
        { "export-batch with an unterminated name", BS_OP_EXPORT_BATCH, f_batch_name, FD_NONE, -EPROTO, false, 0 },
        { "export-batch asking no reply", BS_OP_EXPORT_BATCH, f_batch_oneway, FD_NONE, -EPROTO, false, 0 },
        { "export-batch in version 1", BS_OP_EXPORT_BATCH, f_batch_count0, FD_NONE, -EOPNOTSUPP, true, 1 },
        { "limits in version 1", BS_OP_LIMITS, f_none, FD_NONE, -EOPNOTSUPP, true, 1 },
};

static int row_fd(enum row_fd kind, const struct held *h)
{
        char path[64];
        int fd = -1, p[2];

        switch (kind) {
        case FD_NONE:
                return -1;
        case FD_DEVNULL:
                return open("/dev/null", O_RDWR | O_CLOEXEC);
        case FD_PIPE:
                assert_int_equal(pipe2(p, O_CLOEXEC), 0);
                close(p[1]);
                return p[0];
        case FD_BUFFER_RO:
        case FD_BUFFER_OPATH:
                snprintf(path, sizeof(path), "/proc/self/fd/%d", h->memfd);
                return open(path, (kind == FD_BUFFER_RO ? O_RDONLY : O_PATH) | O_CLOEXEC);
        case FD_MEMFD_UNSEALED:
        case FD_MEMFD_WSEALED:
        case FD_MEMFD_ODD:
                fd = memfd_create("row", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                assert_int_equal(ftruncate(fd, kind == FD_MEMFD_ODD ? 5000 : 4096), 0);
                if (kind != FD_MEMFD_UNSEALED)
                        assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
                                                                    (kind == FD_MEMFD_WSEALED ? F_SEAL_WRITE : 0)), 0);
                return fd;
        case FD_FOREIGN_RO:
        case FD_FOREIGN_OPATH:
                fd = memfd_create("foreign", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                assert_int_equal(ftruncate(fd, 4096), 0);
                assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                p[0] = open(path, (kind == FD_FOREIGN_RO ? O_RDONLY : O_PATH) | O_CLOEXEC);
                close(fd);
                return p[0];
        }
        return -1;
}

/* A connection of protocol @version that holds what a row may need. */
static int row_conn(struct fx *fx, uint32_t version, struct held *h)
{
        struct bs_msg req, rep;
        int s = test_raw_connect(fx->daemon.socket), ro;
        char path[64];

        assert_true(s >= 0);
        bs_msg_request(&req, BS_OP_HELLO, 1);
        req.body.hello_req.version_min = 1;
        req.body.hello_req.version_max = version;
        assert_int_equal(test_raw_call(s, &req, &rep), 0);

        bs_msg_request(&req, BS_OP_EXPORT, 2);
        req.body.export_req.size = 4096;
        strcpy(req.body.export_req.heap, "system");
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        h->buffer = rep.body.export_rep.id;
        h->memfd = TAKE_FD(rep.fds[0]);
        bs_msg_clear(&rep);

        bs_msg_request(&req, BS_OP_EXPORT, 3);
        req.body.export_req.size = 4096;
        strcpy(req.body.export_req.heap, "system");
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", rep.fds[0]);
        ro = open(path, O_RDONLY | O_CLOEXEC);
        bs_msg_clear(&rep);
        bs_msg_request(&req, BS_OP_IMPORT, 4);
        bs_msg_add_fd(&req, ro);
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        h->ro_buffer = rep.body.import_rep.id;
        bs_msg_clear(&req);
        bs_msg_request(&req, BS_OP_RELEASE, 5); /* keep only the read-only reference */
        req.body.release_req.id = h->ro_buffer;
        assert_int_equal(test_raw_call(s, &req, &rep), 0);

        bs_msg_request(&req, BS_OP_ATTACH, 6);
        req.body.attach_req.id = h->buffer;
        strcpy(req.body.attach_req.device, "gpu");
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        h->attachment = rep.body.attach_rep.attachment_id;
        return s;
}

/* Every row, each on a connection of its own: the status it must get,
 * whether the connection survives it (then it still answers), and the
 * good client served all along (STYLE F3). */
static void every_opcode_validates_what_the_library_would_not_send(void **state)
{
        struct fx *fx = *state;

        /* an attachment id of another connection, for "detach another's" */
        struct held other;
        int other_s = row_conn(fx, BS_PROTOCOL_VERSION, &other);

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const struct row *row = &rows[i];
                uint32_t version = row->version ? row->version : BS_PROTOCOL_VERSION;
                struct held h;
                struct bs_msg req, rep;
                int s = row_conn(fx, version, &h), fd, r;

                bs_msg_request(&req, row->op, 100 + (uint32_t)i);
                row->fill(&req, &h);
                if (row->op == BS_OP_DETACH)
                        req.body.id_req.id = other.attachment;
                fd = row_fd(row->fd, &h);
                if (fd >= 0)
                        bs_msg_add_fd(&req, fd);
                if (row->fd == FD_NONE && bs_op_lookup(row->op)->req_fds)
                        req.hdr.n_fds = 0; /* says no fd, as it sends none */
                r = bs_msg_send(s, &req);
                bs_msg_clear(&req);
                assert_int_equal(r, 0);
                r = test_raw_recv(s, &rep);
                if (r != 0 || rep.body.status.status != row->expect)
                        fail_msg("row %zu (%s): receive %d, status %d, want %d", i, row->what, r,
                                 r == 0 ? rep.body.status.status : 0, row->expect);
                assert_int_equal(rep.hdr.serial, 100 + (uint32_t)i);
                bs_msg_clear(&rep);
                if (row->kept) {
                        r = test_raw_info(s, h.buffer, NULL);
                        if (r != 0)
                                fail_msg("row %zu (%s): the connection did not survive (%d)", i, row->what, r);
                } else {
                        r = test_raw_recv(s, &rep);
                        if (r != -ECONNRESET)
                                fail_msg("row %zu (%s): the connection was kept (%d)", i, row->what, r);
                }
                close(s);
                close(h.memfd);
        }
        close(other_s);
        close(other.memfd);
        assert_good_client_served(fx);
}

static void everything_at_once_then_fd_count_is_back(void **state)
{
        struct fx *fx = *state;

        /* many clients, each exporting and vanishing without a word */
        for (int i = 0; i < 20; i++) {
                struct bs_client *c = NULL;
                struct bs_buffer *b = NULL;

                assert_int_equal(bs_client_connect(fx->daemon.socket, &c), 0);
                assert_int_equal(bs_buffer_export(c, 4096, NULL, NULL, &b), 0);
                /* deliberately no put: closing the connection drops it */
                int fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
                close(fd);
                bs_client_unref(c); /* b still holds the client */
                bs_buffer_put(b);
        }
        garbage_bytes(state);
        stray_fds_on_a_request_without_fds(state);
        more_fds_than_the_protocol_allows(state);
        /* the teardown compares the daemon's fd count with the baseline */
        assert_good_client_served(fx);
}

/* ---- fences, sync files and pools (opcodes 17-25) ---- */

/* A raw request of @op on @s with @serial; the reply's status. The reply's
 * fds are closed; *@ret_u64 gets the reply's first u64 after the status. */
static int raw_op(int s, struct bs_msg *req, uint64_t *ret_u64)
{
        struct bs_msg rep;
        int r = test_raw_call(s, req, &rep);

        if (r == 0 && ret_u64)
                memcpy(ret_u64, (const char *)&rep.body + 8, sizeof(*ret_u64));
        bs_msg_clear(&rep);
        return r;
}

static uint64_t raw_export(int s)
{
        struct bs_msg req;
        uint64_t id = 0;

        bs_msg_request(&req, BS_OP_EXPORT, 100);
        req.body.export_req.size = 4096;
        strcpy(req.body.export_req.heap, "system");
        assert_int_equal(raw_op(s, &req, &id), 0);
        return id;
}

static uint64_t raw_fence(int s)
{
        struct bs_msg req;
        uint64_t id = 0;

        bs_msg_request(&req, BS_OP_FENCE_CREATE, 101);
        assert_int_equal(raw_op(s, &req, &id), 0);
        return id;
}

static int raw_sync_file(int s, enum bs_opcode op, uint64_t buffer_id, uint32_t flags, int fd)
{
        struct bs_msg req;
        int r;

        bs_msg_request(&req, op, 102);
        req.body.sync_file_req.buffer_id = buffer_id;
        req.body.sync_file_req.flags = flags;
        if (fd >= 0)
                bs_msg_lend_fd(&req, fd);
        r = raw_op(s, &req, NULL);
        return r;
}

static int raw_fence_op(int s, enum bs_opcode op, uint64_t buffer_id, uint64_t fence_id, int32_t value)
{
        struct bs_msg req;

        bs_msg_request(&req, op, 103);
        switch (op) {
        case BS_OP_FENCE_ATTACH:
                req.body.fence_attach_req.buffer_id = buffer_id;
                req.body.fence_attach_req.fence_id = fence_id;
                req.body.fence_attach_req.usage = (uint32_t)value;
                break;
        case BS_OP_FENCE_SIGNAL:
                req.body.fence_signal_req.fence_id = fence_id;
                req.body.fence_signal_req.status = value;
                break;
        case BS_OP_RELEASE_READ:
                req.body.release_read_req.buffer_id = buffer_id;
                req.body.release_read_req.status = value;
                break;
        case BS_OP_SUBMIT:
        case BS_OP_SUBMIT_SYNC_FILE:
                req.body.submit_req.buffer_id = buffer_id;
                break;
        default: /* FENCE_DESTROY */
                req.body.id_req.id = fence_id;
                break;
        }
        return raw_op(s, &req, NULL);
}

/* Bad values, unknown ids, someone else's fence, fds that are no sync
 * files: each an error reply, never a disconnect, never a crash. */
static void fence_requests_with_bad_values_are_errors(void **state)
{
        struct fx *fx = *state;
        int s = hello_conn(fx), other = hello_conn(fx);
        int memfd = memfd_create("not-a-sync-file", MFD_CLOEXEC), e1 = eventfd(0, EFD_CLOEXEC);
        int e2 = eventfd(0, EFD_CLOEXEC);
        uint64_t buf = raw_export(s), mine = raw_fence(s), theirs = raw_fence(other);
        struct bs_msg req;

        assert_int_equal(raw_sync_file(s, BS_OP_EXPORT_SYNC_FILE, buf, 0, -1), -EINVAL);
        assert_int_equal(raw_sync_file(s, BS_OP_EXPORT_SYNC_FILE, buf, 0x10, -1), -EINVAL);
        assert_int_equal(raw_sync_file(s, BS_OP_EXPORT_SYNC_FILE, 999999, BS_WIRE_SYNC_READ, -1), -ENOENT);
        assert_int_equal(raw_sync_file(s, BS_OP_IMPORT_SYNC_FILE, buf, BS_WIRE_SYNC_READ, memfd), -EINVAL);
        assert_int_equal(raw_sync_file(s, BS_OP_IMPORT_SYNC_FILE, buf, BS_WIRE_SYNC_READ, e1), -EINVAL);
        assert_int_equal(raw_sync_file(s, BS_OP_IMPORT_SYNC_FILE, buf, 0, e1), -EINVAL);
        assert_int_equal(raw_sync_file(other, BS_OP_IMPORT_SYNC_FILE, buf, BS_WIRE_SYNC_READ, e1), -ENOENT);
        bs_msg_request(&req, BS_OP_SYNC_FILE_MERGE, 104);
        bs_msg_lend_fd(&req, e1);
        bs_msg_lend_fd(&req, e2);
        assert_int_equal(raw_op(s, &req, NULL), -EINVAL);

        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_ATTACH, buf, mine, 0), -EINVAL);
        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_ATTACH, buf, mine, 0x100), -EINVAL);
        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_ATTACH, buf, 0, BS_WIRE_SYNC_READ), -ENOENT);
        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_ATTACH, 999999, mine, BS_WIRE_SYNC_READ), -ENOENT);
        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_SIGNAL, 0, mine, 7), -EINVAL);
        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_SIGNAL, 0, mine, -5000), -EINVAL);
        /* someone else's fence is no fence of ours */
        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_ATTACH, buf, theirs, BS_WIRE_SYNC_WRITE), -ENOENT);
        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_SIGNAL, 0, theirs, 0), -ENOENT);
        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_DESTROY, 0, theirs, 0), -ENOENT);
        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_DESTROY, 0, 424242, 0), -ENOENT);
        /* pools: no reference, no frame to release, a bad status */
        assert_int_equal(raw_fence_op(other, BS_OP_SUBMIT, buf, 0, 0), -ENOENT);
        assert_int_equal(raw_fence_op(other, BS_OP_SUBMIT_SYNC_FILE, buf, 0, 0), -ENOENT);
        assert_int_equal(raw_fence_op(s, BS_OP_SUBMIT_SYNC_FILE, 999999, 0, 0), -ENOENT);
        assert_int_equal(raw_fence_op(s, BS_OP_RELEASE_READ, buf, 0, 0), -ENOENT);
        assert_int_equal(raw_fence_op(s, BS_OP_RELEASE_READ, buf, 0, 1), -EINVAL);
        /* twice the same signal */
        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_SIGNAL, 0, mine, 0), 0);
        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_SIGNAL, 0, mine, 0), -EALREADY);
        /* still connected, both of them */
        assert_int_equal(test_raw_info(s, buf, NULL), 0);
        assert_int_equal(raw_fence_op(other, BS_OP_FENCE_SIGNAL, 0, theirs, -EIO), 0);
        close(memfd);
        close(e1);
        close(e2);
        close(s);
        close(other); /* its fence, signalled or not, goes with it */
        assert_good_client_served(fx);
}

/* The message's shape: fd counts, reserved fields and must-be-0 flags
 * are protocol errors: -EPROTO, then the disconnect. */
static void fence_requests_with_wrong_fds_or_fields_are_protocol_errors(void **state)
{
        struct fx *fx = *state;
        uint8_t buf[BS_MSG_MAX_SIZE];
        struct bs_msg m;
        int s, fd, len;

        /* IMPORT_SYNC_FILE that claims its fd and sends none */
        s = hello_conn(fx);
        bs_msg_request(&m, BS_OP_IMPORT_SYNC_FILE, 20);
        m.body.sync_file_req.flags = BS_WIRE_SYNC_READ;
        m.hdr.n_fds = 1;
        len = bs_msg_encode(&m, buf, sizeof(buf));
        raw_send(s, buf, (size_t)len, NULL, 0);
        assert_refused_and_closed(s, -EPROTO, 20);
        close(s);

        /* SYNC_FILE_MERGE with one fd of two */
        s = hello_conn(fx);
        fd = eventfd(0, EFD_CLOEXEC);
        bs_msg_request(&m, BS_OP_SYNC_FILE_MERGE, 21);
        m.hdr.n_fds = 1;
        len = bs_msg_encode(&m, buf, sizeof(buf));
        raw_send(s, buf, (size_t)len, &fd, 1);
        close(fd);
        assert_refused_and_closed(s, -EPROTO, 21);
        close(s);

        /* EXPORT_SYNC_FILE carrying a stray fd */
        s = hello_conn(fx);
        fd = memfd_create("stray", MFD_CLOEXEC);
        bs_msg_request(&m, BS_OP_EXPORT_SYNC_FILE, 22);
        m.body.sync_file_req.flags = BS_WIRE_SYNC_READ;
        m.hdr.n_fds = 1;
        len = bs_msg_encode(&m, buf, sizeof(buf));
        raw_send(s, buf, (size_t)len, &fd, 1);
        close(fd);
        assert_refused_and_closed(s, -EPROTO, 22);
        close(s);

        /* FENCE_SIGNAL with a reserved field set */
        s = hello_conn(fx);
        bs_msg_request(&m, BS_OP_FENCE_SIGNAL, 23);
        m.body.fence_signal_req.fence_id = 1;
        m.body.fence_signal_req.reserved = 1;
        assert_int_equal(bs_msg_send(s, &m), 0);
        assert_refused_and_closed(s, -EPROTO, 23);
        close(s);

        /* SUBMIT (both kinds) and FENCE_CREATE with flags no version defines */
        static const uint16_t submits[] = { BS_OP_SUBMIT, BS_OP_SUBMIT_SYNC_FILE };
        for (size_t k = 0; k < ELEMENTSOF(submits); k++) {
                s = hello_conn(fx);
                bs_msg_request(&m, submits[k], 24);
                m.body.submit_req.flags = 1;
                assert_int_equal(bs_msg_send(s, &m), 0);
                assert_refused_and_closed(s, -EPROTO, 24);
                close(s);
        }
        s = hello_conn(fx);
        bs_msg_request(&m, BS_OP_FENCE_CREATE, 25);
        m.body.fence_create_req.flags = 1ull << 40;
        assert_int_equal(bs_msg_send(s, &m), 0);
        assert_refused_and_closed(s, -EPROTO, 25);
        close(s);

        /* a request that must be answered, asking for no reply */
        s = hello_conn(fx);
        bs_msg_request(&m, BS_OP_EXPORT_SYNC_FILE, 26);
        m.hdr.flags = BS_MSG_NO_REPLY;
        m.body.sync_file_req.flags = BS_WIRE_SYNC_READ;
        assert_int_equal(bs_msg_send(s, &m), 0);
        assert_refused_and_closed(s, -EPROTO, 26);
        close(s);
        assert_good_client_served(fx);
}

/*
 * A creator can send anything on its fence's ready-made sync file, fds
 * too, while the daemon still holds the waiter's end: that is its own
 * fence's waiters' business. When the fence goes, the daemon lets them
 * go (the end is closed on its closer thread, since releasing a parked
 * fd could wait) and keeps none: the teardown counts its fds.
 */
static void fds_a_creator_parks_in_its_sync_file_are_let_go(void **state)
{
        struct fx *fx = *state;
        struct bs_msg req, rep;
        struct pollfd p;
        int s = hello_conn(fx), pipefd[2], end;
        uint64_t id;
        char byte;

        bs_msg_request(&req, BS_OP_FENCE_CREATE, 30);
        req.body.fence_create_req.flags = BS_WIRE_FENCE_PAIR;
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        assert_int_equal(rep.body.fence_create_rep.flags, BS_WIRE_FENCE_PAIR);
        assert_int_equal(rep.n_fds, 1);
        id = rep.body.fence_create_rep.fence_id;
        end = TAKE_FD(rep.fds[0]);
        bs_msg_clear(&rep);
        /* its sending end takes nothing from the waiter's side */
        assert_int_equal(recv(end, &byte, 1, MSG_DONTWAIT), 0);

        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        for (int i = 0; i < 8; i++)
                raw_send(end, "junk", 4, &pipefd[1], 1);
        close(pipefd[1]); /* the write end lives on only in the sync file */
        p = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
        assert_int_equal(poll(&p, 1, 0), 0);

        assert_int_equal(raw_fence_op(s, BS_OP_FENCE_DESTROY, 0, id, 0), 0);
        /* let go: the pipe's last writer is gone, so its reader sees the end */
        assert_int_equal(poll(&p, 1, 10000), 1);
        assert_true(p.revents & POLLHUP);
        close(pipefd[0]);
        close(end);
        close(s);
        assert_good_client_served(fx);
}

/* A one-way signal of someone else's fence fails in silence (logged),
 * and the connection's next request is answered in order. */
static void a_failed_one_way_signal_gets_no_reply(void **state)
{
        struct fx *fx = *state;
        int s = hello_conn(fx), other = hello_conn(fx);
        uint64_t theirs = raw_fence(other);
        struct bs_msg m;

        bs_msg_request(&m, BS_OP_FENCE_SIGNAL, 30);
        m.hdr.flags = BS_MSG_NO_REPLY;
        m.body.fence_signal_req.fence_id = theirs;
        assert_int_equal(bs_msg_send(s, &m), 0);
        bs_msg_request(&m, BS_OP_RELEASE_READ, 31);
        m.hdr.flags = BS_MSG_NO_REPLY;
        m.body.release_read_req.buffer_id = 12345;
        assert_int_equal(bs_msg_send(s, &m), 0);
        assert_int_equal(test_raw_info(s, 999999, NULL), -ENOENT); /* the first reply */
        /* and their fence was not signalled: they still may */
        assert_int_equal(raw_fence_op(other, BS_OP_FENCE_SIGNAL, 0, theirs, 0), 0);
        close(s);
        close(other);
        assert_good_client_served(fx);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(garbage_bytes),
                T(truncated_header),
                T(oversized_message),
                T(lying_size_field),
                T(unknown_opcode),
                T(nonzero_reserved),
                T(declared_fds_not_sent),
                T(stray_fds_on_a_request_without_fds),
                T(more_fds_than_the_protocol_allows),
                T(import_of_something_else_is_an_error_not_a_disconnect),
                T(request_before_hello),
                T(second_hello),
                T(unsupported_version),
                T(reply_sent_to_the_daemon),
                T(client_that_never_reads_does_not_block_others),
                T(every_opcode_validates_what_the_library_would_not_send),
                T(everything_at_once_then_fd_count_is_back),
                T(fence_requests_with_bad_values_are_errors),
                T(fence_requests_with_wrong_fds_or_fields_are_protocol_errors),
                T(fds_a_creator_parks_in_its_sync_file_are_let_go),
                T(a_failed_one_way_signal_gets_no_reply),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
