/* SPDX-License-Identifier: MIT */
/*
 * libbufshare against the real bufshared, across real processes: export
 * and import, coherence, the seed's mmap contract, reference lifetimes,
 * seals, and the errors of bad requests.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bufshare/bufshare.h"
#include "message.h"
#include "msgio.h"
#include "peer.h"

#define PAGE 4096

static struct fx_daemon *fxd(void **state)
{
        return *state;
}

static struct bs_client *connect_or_die(struct fx_daemon *fx)
{
        struct bs_client *c = NULL;
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c), 0);
        return c;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t)(seed + i * 13);
}

static int check_fill(const uint8_t *p, size_t n, uint8_t seed)
{
        for (size_t i = 0; i < n; i++)
                if (p[i] != (uint8_t)(seed + i * 13))
                        return 0;
        return 1;
}

/* ---- export in one process, import in another ---- */

struct importer_args {
        const char *socket;
        int sock;         /* receives the fd */
        uint64_t id;      /* expected */
        uint64_t size;    /* expected */
        const char *name; /* expected */
};

static int importer(void *arg)
{
        struct importer_args *a = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        struct bs_buffer_info info;
        uint8_t *map;
        int fd;

        fd = test_recv_fd(a->sock);
        child_check(fd >= 0);
        child_check(bs_client_connect(a->socket, &c) == 0);
        child_check(bs_buffer_import(c, fd, &b) == 0);
        close(fd);
        child_check((uint64_t)bs_buffer_id(b) == a->id);
        child_check((uint64_t)bs_buffer_size(b) == a->size);
        child_check(bs_buffer_get_info(b, &info) == 0);
        child_check(strcmp(info.name, a->name) == 0);
        child_check(bs_buffer_mmap(b, 0, a->size, BS_PROT_READ, (void **)&map) == 0);
        child_check(check_fill(map, a->size, 42));
        child_check(bs_buffer_munmap(b, map, a->size) == 0);
        bs_buffer_put(b);
        bs_client_unref(c);
        return 0;
}

static void export_in_one_process_import_in_another(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;
        uint8_t *map;
        int sv[2], fd;
        pid_t pid;

        assert_int_equal(bs_buffer_export(c, 3 * PAGE + 1, "system", "frame-0", &b), 0);
        assert_int_equal(bs_buffer_size(b), 4 * PAGE);
        assert_int_equal(bs_buffer_mmap(b, 0, 4 * PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&map), 0);
        fill(map, 4 * PAGE, 42);

        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        struct importer_args a = { fx->daemon.socket, sv[1], (uint64_t)bs_buffer_id(b), 4 * PAGE, "frame-0" };
        pid = test_fork(importer, &a);
        assert_true(pid > 0);
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(test_send_fd(sv[0], fd), 0);
        close(fd);
        assert_int_equal(test_wait(pid), 0);

        close(sv[0]);
        close(sv[1]);
        assert_int_equal(bs_buffer_munmap(b, map, 4 * PAGE), 0);
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* ---- coherence both ways, no call in between ---- */

/* The peer gets the fd, then one byte each way is the go signal. */
static int coherence_peer(void *arg)
{
        struct test_peer *a = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        volatile uint8_t *map;
        char go;

        child_check(test_peer_import(a, &c, &b) == 0);
        child_check(bs_buffer_mmap(b, 0, PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&map) == 0);
        map[100] = 'C'; /* the parent reads it through its own mapping */
        child_check(write(a->sock, "w", 1) == 1);
        child_check(test_wait_readable(a->sock, 10000) == 0 && read(a->sock, &go, 1) == 1);
        child_check(map[200] == 'P'); /* written by the parent */
        bs_buffer_munmap(b, (void *)map, PAGE);
        bs_buffer_put(b);
        bs_client_unref(c);
        return 0;
}

static void mappings_are_coherent_both_ways(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;
        volatile uint8_t *map;
        struct test_peer a;
        char go;
        pid_t pid;

        assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, &b), 0);
        assert_int_equal(bs_buffer_mmap(b, 0, PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&map), 0);
        pid = test_peer_start(&a, fx->daemon.socket, coherence_peer, b, O_RDWR | O_CLOEXEC);
        assert_true(pid > 0);

        assert_int_equal(test_wait_readable(a.parent, 10000), 0);
        assert_int_equal(read(a.parent, &go, 1), 1);
        assert_int_equal(map[100], 'C');
        map[200] = 'P';
        assert_int_equal(write(a.parent, "p", 1), 1);
        assert_int_equal(test_wait(pid), 0);

        test_peer_close(&a);
        bs_buffer_munmap(b, (void *)map, PAGE);
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* ---- the seed's mmap contract, as a table (STYLE F4) ---- */

static void mmap_bounds_contract(void **state)
{
        static const struct {
                uint64_t pgoff, len;
                int prot, expect;
        } rows[] = {
                { 0, 4 * PAGE, BS_PROT_READ, 0 },               /* exact fit */
                { 3, PAGE, BS_PROT_READ, 0 },                   /* last page */
                { 1, 1, BS_PROT_READ | BS_PROT_WRITE, 0 },      /* one byte, rounded to a page */
                { 0, 4 * PAGE + 1, BS_PROT_READ, -EINVAL },     /* one byte past the end */
                { 3, 2 * PAGE, BS_PROT_READ, -EINVAL },         /* runs past the end */
                { 4, PAGE, BS_PROT_READ, -EINVAL },             /* starts at the end */
                { 1000, PAGE, BS_PROT_READ, -EINVAL },          /* far past */
                { UINT64_MAX, PAGE, BS_PROT_READ, -EOVERFLOW }, /* pgoff + 1 wraps */
                { UINT64_MAX - 2, 4 * PAGE, BS_PROT_READ, -EOVERFLOW },
                { UINT64_MAX - 3, 4 * PAGE, BS_PROT_READ, -EOVERFLOW }, /* ends at 2^64: wraps to 0 */
                { UINT64_MAX - 4, 4 * PAGE, BS_PROT_READ, -EINVAL }, /* ends at UINT64_MAX: past the end */
                { UINT64_MAX - (1ull << 40), UINT64_MAX, BS_PROT_READ, -EOVERFLOW }, /* huge length wraps */
                { 2, UINT64_MAX, BS_PROT_READ, -EINVAL },       /* huge length, no wrap */
                { 0, 0, BS_PROT_READ, -EINVAL },                /* zero length */
                { 0, PAGE, 0, -EINVAL },                        /* no access */
                { 0, PAGE, 0x4 /* PROT_EXEC */, -EINVAL },      /* outside the allowed set */
        };
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;

        assert_int_equal(bs_buffer_export(c, 4 * PAGE, NULL, NULL, &b), 0);
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                void *addr = (void *)0x1;
                int r = bs_buffer_mmap(b, rows[i].pgoff, rows[i].len, rows[i].prot, &addr);

                if (r != rows[i].expect)
                        fail_msg("row %zu: pgoff %llu len %llu: got %d, want %d", i,
                                 (unsigned long long)rows[i].pgoff, (unsigned long long)rows[i].len, r,
                                 rows[i].expect);
                if (r == 0)
                        assert_int_equal(bs_buffer_munmap(b, addr, rows[i].len), 0);
                else
                        assert_ptr_equal(addr, (void *)0x1); /* untouched on failure */
        }
        bs_buffer_put(b);
        bs_client_unref(c);
}

static void partial_maps_coexist_and_plain_mmap_works(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;
        uint8_t *whole, *p1, *p3, *plain;
        int fd;

        assert_int_equal(bs_buffer_export(c, 4 * PAGE, NULL, NULL, &b), 0);
        assert_int_equal(bs_buffer_mmap(b, 0, 4 * PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&whole), 0);
        assert_int_equal(bs_buffer_mmap(b, 1, PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&p1), 0);
        assert_int_equal(bs_buffer_mmap(b, 3, PAGE, BS_PROT_READ, (void **)&p3), 0);
        fd = bs_buffer_fd(b, O_RDWR);
        assert_true(fd >= 0);
        assert_false(fcntl(fd, F_GETFD) & FD_CLOEXEC); /* only when asked */
        plain = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        assert_true(plain != MAP_FAILED);
        close(fd);

        p1[5] = 0xa5;
        assert_int_equal(whole[PAGE + 5], 0xa5);
        assert_int_equal(plain[PAGE + 5], 0xa5);
        plain[3 * PAGE + 9] = 0x5a;
        assert_int_equal(p3[9], 0x5a);

        munmap(plain, 4 * PAGE);
        bs_buffer_munmap(b, p3, PAGE);
        bs_buffer_munmap(b, p1, PAGE);
        bs_buffer_munmap(b, whole, 4 * PAGE);
        bs_buffer_put(b);
        bs_client_unref(c);
}

static void fd_flags_other_than_cloexec_are_einval(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;
        int fd;

        assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, &b), 0);
        assert_int_equal(bs_buffer_fd(b, O_NONBLOCK), -EINVAL);
        assert_int_equal(bs_buffer_fd(b, O_CLOEXEC | O_APPEND), -EINVAL);
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* ---- lifetimes ---- */

static void info_lives_while_any_reference_does(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *exporter = connect_or_die(fx), *importer_c = connect_or_die(fx);
        struct bs_buffer *b = NULL, *imported = NULL;
        struct bs_buffer_info info;
        struct bs_info_rep raw;
        int observer, fd;
        uint64_t id;

        observer = test_raw_connect_hello(fx->daemon.socket);
        assert_true(observer >= 0);
        assert_int_equal(bs_buffer_export(exporter, PAGE, NULL, "shared", &b), 0);
        id = (uint64_t)bs_buffer_id(b);
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        assert_int_equal(bs_buffer_import(importer_c, fd, &imported), 0);
        close(fd);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.n_refs, 2);

        b = bs_buffer_put(b);
        assert_null(b);
        assert_int_equal(bs_client_sync(exporter), 0); /* puts don't wait */
        assert_int_equal(bs_buffer_get_info(imported, &info), 0);
        assert_int_equal(info.n_refs, 1);
        assert_string_equal(info.name, "shared");
        assert_int_equal(test_raw_info(observer, id, &raw), 0);
        assert_int_equal(raw.n_refs, 1);

        imported = bs_buffer_put(imported);
        assert_int_equal(bs_client_sync(importer_c), 0);
        assert_int_equal(test_raw_info(observer, id, &raw), -ENOENT);

        close(observer);
        bs_client_unref(importer_c);
        bs_client_unref(exporter);
}

/* Export, send the fd, drop every hold at once: like closing a dma-buf
 * right after sending it. */
static int send_and_drop_producer(void *arg)
{
        struct test_peer *a = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        uint8_t *map;
        int fd;

        child_check(bs_client_connect(a->socket, &c) == 0);
        child_check(bs_buffer_export(c, 2 * PAGE, NULL, "dropped", &b) == 0);
        child_check(bs_buffer_mmap(b, 0, 2 * PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&map) == 0);
        fill(map, 2 * PAGE, 7);
        bs_buffer_munmap(b, map, 2 * PAGE);
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        child_check(fd >= 0);
        child_check(bs_buffer_id(b) > 0);
        uint64_t id = (uint64_t)bs_buffer_id(b);
        bs_buffer_put(b);
        child_check(bs_client_sync(c) == 0); /* the daemon has forgotten it */
        bs_client_unref(c);
        child_check(write(a->sock, &id, sizeof(id)) == sizeof(id));
        child_check(test_send_fd(a->sock, fd) == 0);
        close(fd);
        return 0;
}

static void fd_in_transit_outlives_the_producers_hold(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;
        struct bs_buffer_info info;
        uint64_t id = 0;
        uint8_t *map;
        int sv[2], fd;

        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        struct test_peer a = { fx->daemon.socket, sv[1], sv[0] };
        assert_int_equal(test_wait(test_fork(send_and_drop_producer, &a)), 0);
        assert_int_equal(read(sv[0], &id, sizeof(id)), sizeof(id));
        fd = test_recv_fd(sv[0]);
        assert_true(fd >= 0);

        assert_int_equal(bs_buffer_import(c, fd, &b), 0);
        close(fd);
        assert_int_equal(bs_buffer_id(b), (int64_t)id); /* the same buffer, back */
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_string_equal(info.name, "dropped");
        assert_int_equal(info.n_refs, 1);
        assert_int_equal(bs_buffer_mmap(b, 0, 2 * PAGE, BS_PROT_READ, (void **)&map), 0);
        assert_true(check_fill(map, 2 * PAGE, 7)); /* bytes intact */
        bs_buffer_munmap(b, map, 2 * PAGE);

        close(sv[0]);
        close(sv[1]);
        bs_buffer_put(b);
        bs_client_unref(c);
}

static int victim(void *arg)
{
        struct test_peer *a = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *own[3], *imported = NULL;
        uint64_t ids[3];

        child_check(test_peer_import(a, &c, &imported) == 0);
        for (int i = 0; i < 3; i++) {
                child_check(bs_buffer_export(c, PAGE, NULL, "victim", &own[i]) == 0);
                ids[i] = (uint64_t)bs_buffer_id(own[i]);
        }
        child_check(write(a->sock, ids, sizeof(ids)) == sizeof(ids));
        pause(); /* until SIGKILL */
        return 1;
}

static void killed_client_loses_all_its_references(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;
        struct bs_buffer_info info;
        struct bs_info_rep raw;
        uint64_t ids[3];
        struct test_peer a;
        int observer;
        pid_t pid;

        observer = test_raw_connect_hello(fx->daemon.socket);
        assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, &b), 0);
        pid = test_peer_start(&a, fx->daemon.socket, victim, b, O_RDWR | O_CLOEXEC);
        assert_true(pid > 0);
        assert_int_equal(test_wait_readable(a.parent, 10000), 0);
        assert_int_equal(read(a.parent, ids, sizeof(ids)), sizeof(ids));

        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.n_refs, 2);
        for (int i = 0; i < 3; i++)
                assert_int_equal(test_raw_info(observer, ids[i], &raw), 0);

        kill(pid, SIGKILL);
        assert_int_equal(test_wait(pid), 128 + SIGKILL);
        assert_int_equal(test_info_until_refs(b, 1, &info), 0);
        assert_int_equal(info.n_refs, 1);
        for (int i = 0; i < 3; i++)
                assert_int_equal(test_raw_info(observer, ids[i], &raw), -ENOENT);

        close(observer);
        test_peer_close(&a);
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* Releases don't wait for their replies; a client that puts many buffers
 * in a row drains them itself, so it never blocks, and after a sync the
 * daemon holds nothing. */
static void many_puts_in_a_row_then_sync(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        static struct bs_buffer *bufs[1000];
        int baseline = test_count_fds_of(fx->daemon.pid);

        for (int i = 0; i < 1000; i++)
                assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, &bufs[i]), 0);
        assert_int_equal(bs_client_sync(c), 0);
        assert_int_equal(test_count_fds_of(fx->daemon.pid), baseline + 1000);
        for (int i = 0; i < 1000; i++)
                bufs[i] = bs_buffer_put(bufs[i]);
        assert_int_equal(bs_client_sync(c), 0);
        /* the daemon closes released memfds just after its reply: one
         * more round trip makes sure it has */
        assert_int_equal(bs_client_sync(c), 0);
        assert_int_equal(test_count_fds_of(fx->daemon.pid), baseline);
        bs_client_unref(c);
}

/* Hole 8: a put reaches the daemon at once, while its client makes no
 * other call; and a put that asks for no reply gets none. */
static void a_put_reaches_the_daemon_without_another_call(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *a = connect_or_die(fx), *other = connect_or_die(fx);
        struct bs_buffer *b = NULL, *imp;
        struct bs_buffer_info info;
        struct bs_msg req, rep;
        int fd, raw;

        assert_int_equal(bs_buffer_export(a, PAGE, NULL, NULL, &b), 0);
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        assert_int_equal(bs_buffer_import(other, fd, &imp), 0);
        close(fd);
        b = bs_buffer_put(b);
        /* a stays silent from here on: only other asks, until a deadline */
        assert_int_equal(test_info_until_refs(imp, 1, &info), 0);
        assert_int_equal(info.n_refs, 1);

        /* a raw peer releasing, without a reply, what it doesn't hold: no
         * reply, the connection kept, the next request answered */
        raw = test_raw_connect_hello(fx->daemon.socket);
        bs_msg_request(&req, BS_OP_RELEASE, 7);
        req.hdr.flags = BS_MSG_NO_REPLY;
        req.body.release_req.id = (uint64_t)bs_buffer_id(imp);
        assert_int_equal(bs_msg_send(raw, &req), 0);
        bs_msg_request(&req, BS_OP_LIST_HEAPS, 8);
        assert_int_equal(test_raw_call(raw, &req, &rep), 0);
        assert_int_equal(rep.hdr.serial, 8);
        assert_int_equal(rep.body.list_heaps_rep.n_heaps, 2);
        close(raw);
        assert_int_equal(bs_buffer_get_info(imp, &info), 0);
        assert_int_equal(info.n_refs, 1);

        bs_buffer_put(imp);
        bs_client_unref(other);
        bs_client_unref(a);
}

/* ---- seals, sizes, zeroes, names ---- */

static void sealed_size_cannot_be_changed_by_a_client(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;
        volatile uint8_t *map;
        struct stat st;
        int fd;

        assert_int_equal(bs_buffer_export(c, 2 * PAGE, NULL, NULL, &b), 0);
        assert_int_equal(bs_buffer_mmap(b, 0, 2 * PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&map), 0);
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        assert_int_equal(ftruncate(fd, PAGE), -1);
        assert_int_equal(errno, EPERM);
        assert_int_equal(ftruncate(fd, 4 * PAGE), -1);
        assert_int_equal(errno, EPERM);
        assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1); /* F_SEAL_SEAL */
        assert_int_equal(errno, EPERM);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_size, 2 * PAGE);
        map[2 * PAGE - 1] = 1; /* the last page is still there: no SIGBUS */
        assert_int_equal(map[2 * PAGE - 1], 1);
        close(fd);
        bs_buffer_munmap(b, (void *)map, 2 * PAGE);
        bs_buffer_put(b);
        bs_client_unref(c);
}

static void size_zero_is_einval(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;

        assert_int_equal(bs_buffer_export(c, 0, NULL, NULL, &b), -EINVAL);
        assert_null(b);
        assert_int_equal(bs_buffer_export(c, PAGE, "no-such-heap", NULL, &b), -ENOENT);
        assert_null(b);
        assert_int_equal(bs_buffer_export(NULL, PAGE, NULL, NULL, &b), -EINVAL);
        assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, NULL), -EINVAL);
        bs_client_unref(c);
}

/* DESIGN §3: an export with a missing or invalid field is -EINVAL and
 * creates nothing, checked by the daemon too (a raw peer). */
static void export_with_a_missing_field_creates_nothing(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *first = NULL, *next = NULL;
        struct bs_msg req, rep;
        int raw = test_raw_connect_hello(fx->daemon.socket);

        assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, &first), 0);
        bs_msg_request(&req, BS_OP_EXPORT, 3);
        req.body.export_req.size = 0; /* missing size */
        strcpy(req.body.export_req.heap, "system");
        assert_int_equal(test_raw_call(raw, &req, &rep), -EINVAL);
        bs_msg_request(&req, BS_OP_EXPORT, 4);
        req.body.export_req.size = PAGE; /* missing heap */
        assert_int_equal(test_raw_call(raw, &req, &rep), -EINVAL);
        assert_int_equal(rep.n_fds, 0);
        close(raw);
        assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, &next), 0);
        assert_int_equal(bs_buffer_id(next), bs_buffer_id(first) + 1); /* nothing was created */
        bs_buffer_put(next);
        bs_buffer_put(first);
        bs_client_unref(c);
}

static int setup_small_limit(void **state)
{
        static const char *const args[] = { "--max-buffer-size", "1M", NULL };
        return fx_daemon_setup_args(state, args);
}

static void size_over_the_limit_is_efbig_and_touches_nothing(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *keep = NULL, *b = NULL;
        struct bs_buffer_info before, after;
        uint8_t *map;

        assert_int_equal(bs_client_max_buffer_size(c), 1 << 20);
        assert_int_equal(bs_buffer_export(c, 8 * PAGE, NULL, "bystander", &keep), 0);
        assert_int_equal(bs_buffer_mmap(keep, 0, 8 * PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&map), 0);
        fill(map, 8 * PAGE, 99);
        assert_int_equal(bs_buffer_get_info(keep, &before), 0);

        assert_int_equal(bs_buffer_export(c, (1 << 20) + 1, NULL, NULL, &b), -EFBIG);
        assert_null(b);
        assert_int_equal(bs_buffer_export(c, UINT64_MAX, NULL, NULL, &b), -EFBIG);

        assert_int_equal(bs_buffer_get_info(keep, &after), 0);
        assert_memory_equal(&before, &after, sizeof(before));
        assert_true(check_fill(map, 8 * PAGE, 99));
        assert_int_equal(bs_buffer_export(c, 1 << 20, NULL, NULL, &b), 0); /* the limit itself is fine */
        assert_int_equal((uint64_t)bs_buffer_id(b), before.id + 1); /* the refusals used no id */

        bs_buffer_munmap(keep, map, 8 * PAGE);
        bs_buffer_put(b);
        bs_buffer_put(keep);
        bs_client_unref(c);
}

static void new_buffer_reads_back_zeroes(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;
        uint8_t *map;
        size_t size = 1 << 20;

        assert_int_equal(bs_buffer_export(c, size, NULL, NULL, &b), 0);
        assert_int_equal(bs_buffer_mmap(b, 0, size, BS_PROT_READ, (void **)&map), 0);
        for (size_t i = 0; i < size; i++)
                if (map[i])
                        fail_msg("byte %zu is %u", i, map[i]);
        bs_buffer_munmap(b, map, size);
        bs_buffer_put(b);
        bs_client_unref(c);
}

static void names_of_32_bytes_or_more_are_einval(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;
        struct bs_buffer_info info;
        char name[40];

        memset(name, 'n', sizeof(name));
        name[32] = '\0'; /* 32 bytes + NUL */
        assert_int_equal(bs_buffer_export(c, PAGE, NULL, name, &b), -EINVAL);
        assert_null(b);
        name[31] = '\0'; /* 31 + NUL = 32: the longest allowed */
        assert_int_equal(bs_buffer_export(c, PAGE, NULL, name, &b), 0);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_string_equal(info.name, name);

        name[31] = 'm';
        assert_int_equal(bs_buffer_set_name(b, name), -EINVAL);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(strlen(info.name), 31); /* unchanged, never truncated */
        assert_int_equal(bs_buffer_set_name(b, "renamed"), 0);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_string_equal(info.name, "renamed");
        bs_buffer_put(b);
        bs_client_unref(c);
}

static void info_reports_the_exporter(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL;
        struct bs_buffer_info info;

        assert_int_equal(bs_buffer_export(c, 5000, NULL, "cam", &b), 0);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.id, (uint64_t)bs_buffer_id(b));
        assert_int_equal(info.size, 2 * PAGE);
        assert_int_equal(info.exporter_pid, getpid());
        assert_int_equal(info.exporter_uid, getuid());
        assert_string_equal(info.heap, "system");
        assert_true(info.created_ns > 0);
        bs_buffer_put(b);
        bs_client_unref(c);
}

static void dead_daemon_gives_a_sticky_error(void **state)
{
        struct fx_daemon *fx = fxd(state);
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL, *b2 = NULL;
        uint8_t *map;
        int r;

        assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, &b), 0);
        assert_int_equal(bs_buffer_mmap(b, 0, PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&map), 0);
        assert_int_equal(test_daemon_stop(&fx->daemon), 0);

        r = bs_buffer_export(c, PAGE, NULL, NULL, &b2);
        assert_true(r == -EPIPE || r == -ECONNRESET);
        assert_int_equal(bs_buffer_set_name(b, "x"), r); /* the same error, sticky */
        map[0] = 1; /* the mapping outlives the daemon */
        assert_int_equal(map[0], 1);
        bs_buffer_munmap(b, map, PAGE);
        bs_buffer_put(b); /* inert handles can still be put */
        bs_client_unref(c);
}

static void connect_without_daemon_fails_cleanly(void **state)
{
        struct bs_client *c = NULL;
        char long_path[200];

        assert_int_equal(bs_client_connect("/nonexistent/bufshare.sock", &c), -ENOENT);
        assert_null(c);
        memset(long_path, 'p', sizeof(long_path));
        long_path[sizeof(long_path) - 1] = '\0';
        assert_int_equal(bs_client_connect(long_path, &c), -ENAMETOOLONG);
        assert_int_equal(bs_client_connect(NULL, NULL), -EINVAL);
}

/* Every buffer costs the daemon an fd. Out of them, it answers -EMFILE,
 * logs it once, and serves everyone else; released buffers make room. */
static void daemon_out_of_fds_answers_emfile_and_serves_the_rest(void **state)
{
        static const char *const args[] = { "--max-buffers-per-client", "1000", "--max-buffers-per-uid",
                                            "1000", NULL };
        struct test_daemon d = { .nofile = 64, .capture_log = true };
        struct bs_client *c, *other;
        struct bs_buffer *bufs[64] = { 0 }, *b = NULL, *ob = NULL;
        struct bs_buffer_info info;
        char line[512];
        int n = 0, r = 0, logged = 0;
        FILE *log;

        /* limits above what 64 fds allow: the fds run out first */
        assert_int_equal(test_daemon_start(&d, args), 0);
        assert_int_equal(bs_client_connect(d.socket, &c), 0);
        assert_int_equal(bs_client_connect(d.socket, &other), 0);
        assert_int_equal(bs_buffer_export(other, PAGE, NULL, "other", &ob), 0);
        while (n < 64 && (r = bs_buffer_export(c, PAGE, NULL, NULL, &bufs[n])) == 0)
                n++;
        assert_int_equal(r, -EMFILE);
        /* 64 minus what the daemon itself holds (its loop, its reserve
         * of fresh memfds) and, under valgrind, valgrind's own fds */
        assert_true(n > 32);
        for (int i = 0; i < 3; i++) /* again and again: still -EMFILE, one log line */
                assert_int_equal(bs_buffer_export(other, PAGE, NULL, NULL, &b), -EMFILE);
        assert_null(b);

        /* everyone else is still served */
        assert_int_equal(bs_buffer_get_info(ob, &info), 0);
        assert_string_equal(info.name, "other");
        assert_int_equal(bs_buffer_set_name(bufs[0], "still-here"), 0);

        /* a release makes room */
        bufs[n - 1] = bs_buffer_put(bufs[n - 1]);
        assert_int_equal(bs_client_sync(c), 0);
        assert_int_equal(bs_buffer_export(other, PAGE, NULL, NULL, &b), 0);

        bs_buffer_put(b);
        for (int i = 0; i < n; i++)
                bs_buffer_put(bufs[i]);
        bs_buffer_put(ob);
        bs_client_unref(other);
        bs_client_unref(c);
        log = fopen(d.log_path, "re");
        assert_non_null(log);
        while (fgets(line, sizeof(line), log))
                logged += strstr(line, "out of file descriptors") != NULL;
        fclose(log);
        assert_int_equal(logged, 1);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* The default socket path: BUFSHARE_SOCKET for both sides, then SIGINT
 * stops the daemon cleanly and removes the socket. */
static void default_socket_from_the_environment_and_sigint(void **state)
{
        struct test_daemon d = { .socket_from_env = true };
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        assert_int_equal(setenv("BUFSHARE_SOCKET", d.socket, 1), 0);
        assert_int_equal(bs_client_connect(NULL, &c), 0);
        unsetenv("BUFSHARE_SOCKET");
        assert_int_equal(bs_buffer_export(c, 4096, NULL, NULL, &b), 0);
        bs_buffer_put(b);
        bs_client_unref(c);

        kill(d.pid, SIGINT);
        /* wait for its exit without reaping it: test_daemon_stop() does */
        siginfo_t si;
        assert_int_equal(waitid(P_PID, (id_t)d.pid, &si, WEXITED | WNOWAIT), 0);
        assert_int_equal(si.si_code, CLD_EXITED);
        assert_int_equal(si.si_status, 0);
        assert_int_equal(access(d.socket, F_OK), -1); /* removed */
        assert_int_equal(errno, ENOENT);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* Run as a user with neither BUFSHARE_SOCKET nor XDG_RUNTIME_DIR: no
 * default path, and the library says so before touching anything. */
static int connect_without_a_runtime_dir(void *arg)
{
        struct bs_client *c = NULL;

        (void)arg;
        unsetenv("BUFSHARE_SOCKET");
        unsetenv("XDG_RUNTIME_DIR");
        if (geteuid() == 0)
                child_check(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0);
        child_check(bs_client_connect(NULL, &c) == -ENXIO);
        child_check(c == NULL);
        return 0;
}

/* DESIGN §6: without --socket or BUFSHARE_SOCKET, the daemon binds
 * $XDG_RUNTIME_DIR/bufshare/socket, making the bufshare folder, and the
 * library finds it there; a non-root user with no runtime dir has no
 * default (-ENXIO). */
static void default_socket_under_the_runtime_dir(void **state)
{
        struct test_daemon d = { .socket_from_xdg = true };
        const char *env_socket = getenv("BUFSHARE_SOCKET"), *env_xdg = getenv("XDG_RUNTIME_DIR");
        char *saved_socket = env_socket ? strdup(env_socket) : NULL;
        char *saved_xdg = env_xdg ? strdup(env_xdg) : NULL;
        char want[sizeof(d.dir) + 32];
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        struct stat st;

        (void)state;
        assert_int_equal(test_daemon_start(&d, NULL), 0);
        snprintf(want, sizeof(want), "%s/bufshare/socket", d.dir);
        assert_string_equal(d.socket, want);
        assert_int_equal(stat(want, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));

        assert_int_equal(unsetenv("BUFSHARE_SOCKET"), 0);
        assert_int_equal(setenv("XDG_RUNTIME_DIR", d.dir, 1), 0);
        assert_int_equal(bs_client_connect(NULL, &c), 0);
        assert_int_equal(bs_buffer_export(c, 4096, NULL, "by-default", &b), 0);
        bs_buffer_put(b);
        bs_client_unref(c);

        assert_int_equal(test_wait(test_fork(connect_without_a_runtime_dir, NULL)), 0);

        if (saved_socket)
                setenv("BUFSHARE_SOCKET", saved_socket, 1);
        if (saved_xdg)
                setenv("XDG_RUNTIME_DIR", saved_xdg, 1);
        else
                unsetenv("XDG_RUNTIME_DIR");
        free(saved_socket);
        free(saved_xdg);
        assert_int_equal(test_daemon_stop(&d), 0); /* and its socket is gone */
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_daemon_setup, fx_daemon_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(export_in_one_process_import_in_another),
                T(mappings_are_coherent_both_ways),
                T(mmap_bounds_contract),
                T(partial_maps_coexist_and_plain_mmap_works),
                T(fd_flags_other_than_cloexec_are_einval),
                T(info_lives_while_any_reference_does),
                T(fd_in_transit_outlives_the_producers_hold),
                T(killed_client_loses_all_its_references),
                T(many_puts_in_a_row_then_sync),
                T(a_put_reaches_the_daemon_without_another_call),
                T(sealed_size_cannot_be_changed_by_a_client),
                T(size_zero_is_einval),
                T(export_with_a_missing_field_creates_nothing),
                cmocka_unit_test_setup_teardown(size_over_the_limit_is_efbig_and_touches_nothing,
                                                setup_small_limit, fx_daemon_teardown),
                T(new_buffer_reads_back_zeroes),
                T(names_of_32_bytes_or_more_are_einval),
                T(info_reports_the_exporter),
                T(dead_daemon_gives_a_sticky_error),
                cmocka_unit_test_setup_teardown(connect_without_daemon_fails_cleanly, fx_base_setup,
                                                fx_base_teardown),
                cmocka_unit_test_setup_teardown(daemon_out_of_fds_answers_emfile_and_serves_the_rest,
                                                fx_base_setup, fx_base_teardown),
                cmocka_unit_test_setup_teardown(default_socket_from_the_environment_and_sigint,
                                                fx_base_setup, fx_base_teardown),
                cmocka_unit_test_setup_teardown(default_socket_under_the_runtime_dir, fx_base_setup,
                                                fx_base_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
