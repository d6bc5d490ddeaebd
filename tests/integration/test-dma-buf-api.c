/* SPDX-License-Identifier: MIT */
/*
 * The dma-buf API of libbufshare against the real bufshared: access
 * modes, CPU access, vmap/kmap, attachments, adopted memfds, heaps,
 * names, limits and threads. One test per contract row, each asserting
 * the exact errno.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "bufshare/bufshare.h"
#include "message.h"
#include "peer.h"

#define PAGE 4096
#define NOBODY 65534

static struct bs_client *connect_to(struct test_daemon *d)
{
        struct bs_client *c = NULL;
        assert_int_equal(bs_client_connect(d->socket, &c), 0);
        return c;
}

static struct bs_client *connect_or_die(void **state)
{
        return connect_to(&((struct fx_daemon *)*state)->daemon);
}

static struct bs_buffer *export_or_die(struct bs_client *c, uint64_t size)
{
        struct bs_buffer *b = NULL;
        assert_int_equal(bs_buffer_export(c, size, NULL, NULL, &b), 0);
        return b;
}

/* Import @b into @c through a fd opened with @flags. */
static struct bs_buffer *import_via(struct bs_client *c, struct bs_buffer *b, int flags)
{
        struct bs_buffer *ret = NULL;
        int fd = bs_buffer_fd(b, flags);

        assert_true(fd >= 0);
        assert_int_equal(bs_buffer_import(c, fd, &ret), 0);
        close(fd);
        return ret;
}

/* ---- access modes ---- */

static void readonly_view_gives_a_readonly_reference(void **state)
{
        struct bs_client *c = connect_or_die(state), *c2 = connect_or_die(state);
        struct bs_buffer *b = export_or_die(c, 2 * PAGE), *ro;
        struct bs_buffer_info info;
        void *addr = NULL;
        uint8_t *rw;
        int fd;

        assert_int_equal(bs_buffer_vmap(b, (void **)&rw), 0);
        rw[5] = 0x77;
        ro = import_via(c2, b, O_RDONLY | O_CLOEXEC);
        assert_int_equal(bs_buffer_is_readonly(ro), 1);
        assert_int_equal(bs_buffer_is_readonly(b), 0);

        /* through the library */
        assert_int_equal(bs_buffer_mmap(ro, 0, PAGE, BS_PROT_READ | BS_PROT_WRITE, &addr), -EACCES);
        assert_null(addr);
        assert_int_equal(bs_buffer_fd(ro, O_RDWR), -EACCES);
        assert_int_equal(bs_buffer_mmap(ro, 0, PAGE, BS_PROT_READ, &addr), 0);
        assert_int_equal(((uint8_t *)addr)[5], 0x77);
        bs_buffer_munmap(ro, addr, PAGE);

        /* and through the kernel, with a plain fd */
        fd = bs_buffer_fd(ro, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal((fcntl(fd, F_GETFL) & O_ACCMODE), O_RDONLY);
        assert_ptr_equal(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
        assert_int_equal(errno, EACCES);
        assert_int_equal(write(fd, "x", 1), -1);
        assert_int_equal(errno, EBADF);
        assert_int_equal(ftruncate(fd, PAGE), -1);
        close(fd);

        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.n_refs, 2);
        assert_int_equal(info.n_readonly, 1);
        assert_int_equal(info.readonly[0].pid, getpid());

        ro = bs_buffer_put(ro);
        assert_int_equal(bs_client_sync(c2), 0); /* puts don't wait */
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.n_readonly, 0);
        assert_int_equal(info.n_refs, 1);
        bs_buffer_vunmap(b, rw);
        bs_buffer_put(b);
        bs_client_unref(c2);
        bs_client_unref(c);
}

static void fd_access_flags(void **state)
{
        struct bs_client *c = connect_or_die(state);
        struct bs_buffer *b = export_or_die(c, PAGE);
        int fd;

        assert_int_equal(bs_buffer_fd(b, O_WRONLY), -EINVAL);
        assert_int_equal(bs_buffer_fd(b, O_ACCMODE), -EINVAL);
        assert_int_equal(bs_buffer_fd(b, O_RDWR | O_NONBLOCK), -EINVAL);
        assert_int_equal(bs_buffer_fd(b, O_RDONLY | O_TRUNC), -EINVAL);
        fd = bs_buffer_fd(b, O_RDONLY);
        assert_false(fcntl(fd, F_GETFD) & FD_CLOEXEC); /* only when asked */
        assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
        close(fd);
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
        close(fd);
        bs_buffer_put(b);
        bs_client_unref(c);
}

static int other_uid_importer(void *arg)
{
        struct test_peer *a = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        int fd = test_recv_fd(a->sock), control, rfd;
        char path[64];

        child_check(fd >= 0);
        child_check(bs_client_connect(a->socket, &c) == 0);
        /* a control: a plain memfd (mode 0777) stays reopenable, which
         * shows that /proc/self/fd itself is reachable after setresuid */
        control = memfd_create("control", MFD_CLOEXEC);
        child_check(control >= 0);
        child_check(setresgid(NOBODY, NOBODY, NOBODY) == 0);
        child_check(setresuid(NOBODY, NOBODY, NOBODY) == 0);
        child_check(prctl(PR_SET_DUMPABLE, 1) == 0);

        child_check(bs_buffer_import(c, fd, &b) == 0);
        child_check(bs_buffer_is_readonly(b) == 1);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", control);
        rfd = open(path, O_RDWR | O_CLOEXEC);
        child_check(rfd >= 0);
        close(rfd);

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        child_check(open(path, O_RDWR | O_CLOEXEC) == -1 && errno == EACCES);
        child_check(fchmod(fd, 0666) == -1 && errno == EPERM);
        child_check(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
        bs_buffer_put(b);
        bs_client_unref(c);
        close(fd);
        close(control);
        return 0;
}

static void readonly_importer_of_another_uid_cannot_escalate(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = connect_or_die(state);
        struct bs_buffer *b = export_or_die(c, PAGE);
        struct test_peer a;
        pid_t pid;

        pid = test_peer_start(&a, fx->daemon.socket, other_uid_importer, b, O_RDONLY | O_CLOEXEC);
        assert_true(pid > 0);
        assert_int_equal(test_wait(pid), 0);
        test_peer_close(&a);
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* A daemon of another uid can't chmod the caller's memfd, so it can't
 * give read-only views of it: -EPERM, from the library and the daemon. */
static void readonly_view_of_an_unchmodable_adopted_memfd_is_eperm(void **state)
{
        struct test_daemon d = { .run_as = NOBODY };
        struct bs_client *c;
        struct bs_buffer *b = NULL, *ro = NULL;
        struct bs_msg req, rep;
        char path[64];
        int memfd, rofd, raw;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        c = connect_to(&d);
        memfd = memfd_create("mine", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        assert_int_equal(ftruncate(memfd, PAGE), 0);
        assert_int_equal(fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
        assert_int_equal(bs_buffer_export_memfd(c, memfd, "adopted", &b), 0);
        assert_int_equal(bs_buffer_fd(b, O_RDONLY), -EPERM);

        /* a hand-made read-only fd is refused by the daemon as well */
        snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
        rofd = open(path, O_RDONLY | O_CLOEXEC);
        assert_int_equal(bs_buffer_import(c, rofd, &ro), -EPERM);
        assert_null(ro);
        raw = test_raw_connect_hello(d.socket);
        bs_msg_request(&req, BS_OP_IMPORT, 3);
        bs_msg_add_fd(&req, rofd);
        assert_int_equal(test_raw_call(raw, &req, &rep), -EPERM);
        bs_msg_clear(&req);
        close(raw);

        close(memfd);
        bs_buffer_put(b);
        bs_client_unref(c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- CPU access ---- */

static void cpu_access_contract(void **state)
{
        struct bs_client *c = connect_or_die(state), *c2 = connect_or_die(state);
        struct bs_buffer *b = export_or_die(c, PAGE), *ro;
        struct bs_buffer_info info;

        ro = import_via(c2, b, O_RDONLY | O_CLOEXEC);
        assert_int_equal(bs_buffer_begin_cpu_access(b, 0), -EINVAL);
        assert_int_equal(bs_buffer_begin_cpu_access(b, 4), -EINVAL);
        assert_int_equal(bs_buffer_begin_cpu_access(b, BS_SYNC_READ | 8), -EINVAL);
        assert_int_equal(bs_buffer_end_cpu_access(b, BS_SYNC_READ), -EINVAL); /* no begin */
        assert_int_equal(bs_buffer_begin_cpu_access(ro, BS_SYNC_WRITE), -EACCES);
        assert_int_equal(bs_buffer_begin_cpu_access(ro, BS_SYNC_READ | BS_SYNC_WRITE), -EACCES);

        assert_int_equal(bs_buffer_begin_cpu_access(b, BS_SYNC_READ | BS_SYNC_WRITE), 0);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.n_cpu_access, 1);
        assert_int_equal(info.cpu_access[0].pid, getpid());
        assert_int_equal(info.cpu_access[0].flags, BS_SYNC_READ | BS_SYNC_WRITE);
        assert_int_equal(bs_buffer_end_cpu_access(b, BS_SYNC_READ), 0);
        assert_int_equal(bs_buffer_end_cpu_access(b, BS_SYNC_READ), -EINVAL);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.cpu_access[0].flags, BS_SYNC_WRITE);
        assert_int_equal(bs_buffer_end_cpu_access(b, BS_SYNC_WRITE), 0);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.n_cpu_access, 0);

        assert_int_equal(bs_buffer_begin_cpu_access(ro, BS_SYNC_READ), 0);
        assert_int_equal(bs_buffer_end_cpu_access(ro, BS_SYNC_READ), 0);

        /* the daemon checks too: a raw request with unknown flags */
        int raw = test_raw_connect_hello(((struct fx_daemon *)*state)->daemon.socket);
        struct bs_msg req, rep;
        bs_msg_request(&req, BS_OP_BEGIN_CPU_ACCESS, 4);
        req.body.cpu_access_req.id = (uint64_t)bs_buffer_id(b);
        req.body.cpu_access_req.flags = 4;
        assert_int_equal(test_raw_call(raw, &req, &rep), -EINVAL);
        close(raw);

        bs_buffer_put(ro);
        bs_buffer_put(b);
        bs_client_unref(c2);
        bs_client_unref(c);
}

/* Imports the fd it is sent, begins read access, attaches and maps a
 * "gpu", says so, then waits for a word (or its death). */
static int reader_peer(void *arg)
{
        struct test_peer *a = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        struct bs_attachment *att = NULL;
        const struct bs_sg_table *t;
        char go;

        child_check(test_peer_import(a, &c, &b) == 0);
        child_check(bs_buffer_begin_cpu_access(b, BS_SYNC_READ) == 0);
        child_check(bs_buffer_attach(b, "gpu", &att) == 0);
        child_check(bs_attachment_map(att, BS_DMA_BIDIRECTIONAL, &t) == 0);
        child_check(write(a->sock, "r", 1) == 1);
        child_check(test_wait_readable(a->sock, 20000) == 0 && read(a->sock, &go, 1) == 1);
        child_check(bs_attachment_unmap(att, t) == 0);
        child_check(bs_buffer_detach(b, att) == 0);
        child_check(bs_buffer_end_cpu_access(b, BS_SYNC_READ) == 0);
        bs_buffer_put(b);
        bs_client_unref(c);
        return 0;
}

/* A reader_peer, once it says it is inside read access and mapped. */
static pid_t start_reader(void **state, struct bs_buffer *b, struct test_peer *a)
{
        pid_t pid = test_peer_start(a, ((struct fx_daemon *)*state)->daemon.socket, reader_peer, b,
                                    O_RDWR | O_CLOEXEC);
        char ready;

        assert_true(pid > 0);
        assert_int_equal(test_wait_readable(a->parent, 20000), 0);
        assert_int_equal(read(a->parent, &ready, 1), 1);
        return pid;
}

static void two_processes_in_cpu_access_at_once(void **state)
{
        struct bs_client *c = connect_or_die(state);
        struct bs_buffer *b = export_or_die(c, PAGE);
        struct bs_buffer_info info;
        struct test_peer a;
        pid_t pid;

        assert_int_equal(bs_buffer_begin_cpu_access(b, BS_SYNC_READ), 0);
        pid = start_reader(state, b, &a);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.n_cpu_access, 2); /* read + read: both inside */
        assert_true((info.cpu_access[0].pid == getpid() && info.cpu_access[1].pid == pid) ||
                    (info.cpu_access[1].pid == getpid() && info.cpu_access[0].pid == pid));
        assert_int_equal(info.cpu_access[0].flags, BS_SYNC_READ);
        assert_int_equal(info.cpu_access[1].flags, BS_SYNC_READ);
        assert_int_equal(write(a.parent, "g", 1), 1);
        assert_int_equal(test_wait(pid), 0);
        assert_int_equal(bs_buffer_end_cpu_access(b, BS_SYNC_READ), 0);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.n_cpu_access, 0);
        assert_int_equal(info.n_attachments, 0);
        test_peer_close(&a);
        bs_buffer_put(b);
        bs_client_unref(c);
}

static void killed_inside_cpu_access_and_attached_leaves_nothing(void **state)
{
        struct bs_client *c = connect_or_die(state);
        struct bs_buffer *b = export_or_die(c, PAGE);
        struct bs_buffer_info info;
        struct test_peer a;
        pid_t pid;

        pid = start_reader(state, b, &a);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.n_cpu_access, 1);
        assert_int_equal(info.n_attachments, 1);
        assert_string_equal(info.attachments[0].device, "gpu");
        assert_int_equal(info.attachments[0].mapped, 1);
        assert_int_equal(info.attachments[0].direction, BS_DMA_BIDIRECTIONAL);
        assert_int_equal(info.attachments[0].pid, pid);

        kill(pid, SIGKILL);
        assert_int_equal(test_wait(pid), 128 + SIGKILL);
        assert_int_equal(test_info_until_refs(b, 1, &info), 0);
        assert_int_equal(info.n_cpu_access, 0);
        assert_int_equal(info.n_attachments, 0);
        assert_int_equal(info.n_refs, 1);
        test_peer_close(&a);
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* DESIGN §3: synchronisation is never implied by mapping or faulting.
 * While this process is inside write CPU access, another maps, reads,
 * writes and begins read access at once: nothing waits (and the
 * per-test alarm would fail it if anything did). */
static int mapper_peer(void *arg)
{
        struct test_peer *a = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        volatile uint8_t *p;

        child_check(test_peer_import(a, &c, &b) == 0);
        child_check(bs_buffer_mmap(b, 0, PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&p) == 0);
        child_check(p[0] == 0x5a); /* the writer's byte, no sync in between */
        p[1] = 0xa5;
        child_check(bs_buffer_begin_cpu_access(b, BS_SYNC_READ) == 0);
        child_check(bs_buffer_end_cpu_access(b, BS_SYNC_READ) == 0);
        bs_buffer_munmap(b, (void *)p, PAGE);
        bs_buffer_put(b);
        bs_client_unref(c);
        return 0;
}

static void mapping_never_waits_for_cpu_access(void **state)
{
        struct bs_client *c = connect_or_die(state);
        struct bs_buffer *b = export_or_die(c, PAGE);
        volatile uint8_t *p;
        struct test_peer a;
        pid_t pid;

        assert_int_equal(bs_buffer_vmap(b, (void **)&p), 0);
        assert_int_equal(bs_buffer_begin_cpu_access(b, BS_SYNC_WRITE), 0);
        p[0] = 0x5a;
        pid = test_peer_start(&a, ((struct fx_daemon *)*state)->daemon.socket, mapper_peer, b, O_RDWR | O_CLOEXEC);
        assert_true(pid > 0);
        assert_int_equal(test_wait(pid), 0);
        assert_int_equal(p[1], 0xa5);
        assert_int_equal(bs_buffer_end_cpu_access(b, BS_SYNC_WRITE), 0);
        test_peer_close(&a);
        bs_buffer_vunmap(b, (void *)p);
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* ---- vmap / kmap ---- */

static void vmap_and_kmap(void **state)
{
        struct bs_client *c = connect_or_die(state);
        struct bs_buffer *b = export_or_die(c, 3 * PAGE);
        uint8_t *whole, *p2;
        void *none = NULL;

        assert_int_equal(bs_buffer_vmap(b, (void **)&whole), 0);
        whole[2 * PAGE + 7] = 0x3c;
        assert_int_equal(bs_buffer_kmap(b, 2, (void **)&p2), 0);
        assert_int_equal(p2[7], 0x3c);
        p2[8] = 0xc3;
        assert_int_equal(whole[2 * PAGE + 8], 0xc3);
        assert_int_equal(bs_buffer_kmap(b, 3, &none), -EINVAL); /* past the last page */
        assert_int_equal(bs_buffer_kmap(b, UINT64_MAX, &none), -EINVAL);
        assert_null(none);
        assert_int_equal(bs_buffer_kunmap(b, 2, p2), 0);
        assert_int_equal(bs_buffer_kunmap(b, 3, p2), -EINVAL);
        assert_int_equal(bs_buffer_vunmap(b, whole), 0);
        assert_int_equal(bs_buffer_vmap(NULL, &none), -EINVAL);
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* ---- attachments ---- */

static void attachment_contract(void **state)
{
        struct bs_client *c = connect_or_die(state), *c2 = connect_or_die(state);
        struct bs_buffer *b = export_or_die(c, 10 * PAGE), *ro;
        struct bs_attachment *att = NULL, *att2 = NULL, *rat = NULL;
        const struct bs_sg_table *t = NULL, *t2 = NULL;
        struct bs_buffer_info info;
        uint64_t covered = 0;

        assert_int_equal(bs_buffer_attach(b, "", &att), -EINVAL);
        assert_int_equal(bs_buffer_attach(b, "0123456789012345678901234567890123", &att), -EINVAL);
        assert_int_equal(bs_buffer_attach_segmented(b, "isp", 100, &att), -EINVAL); /* not a page multiple */
        assert_null(att);
        assert_int_equal(bs_buffer_attach_segmented(b, "isp", 4 * PAGE, &att), 0);
        assert_int_equal(bs_buffer_attach(b, "encoder", &att2), 0);

        assert_int_equal(bs_attachment_map(att, 3 /* DMA_NONE */, &t), -EINVAL);
        assert_int_equal(bs_attachment_map(att, -1, &t), -EINVAL);
        assert_int_equal(bs_attachment_map(att, BS_DMA_FROM_DEVICE, &t), 0);
        assert_int_equal(t->n_segments, 3); /* 4 + 4 + 2 pages */
        for (uint32_t i = 0; i < t->n_segments; i++) {
                assert_int_equal(t->segments[i].offset, covered);
                assert_int_equal(t->segments[i].offset % PAGE, 0);
                assert_int_equal(t->segments[i].length % PAGE, 0);
                assert_true(t->segments[i].length <= 4 * PAGE);
                covered += t->segments[i].length;
        }
        assert_int_equal(covered, 10 * PAGE);
        assert_int_equal(bs_attachment_map(att, BS_DMA_TO_DEVICE, &t2), -EBUSY);
        assert_int_equal(bs_attachment_map(att2, BS_DMA_TO_DEVICE, &t2), 0);
        assert_int_equal(t2->n_segments, 1);
        assert_int_equal(t2->segments[0].length, 10 * PAGE);

        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.n_attachments, 2);
        assert_string_equal(info.attachments[0].device, "isp");
        assert_int_equal(info.attachments[0].mapped, 1);
        assert_int_equal(info.attachments[0].direction, BS_DMA_FROM_DEVICE);
        assert_string_equal(info.attachments[1].device, "encoder");

        assert_int_equal(bs_attachment_unmap(att, t), 0);
        assert_int_equal(bs_attachment_unmap(att, t), -EINVAL); /* not mapped */
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.attachments[0].mapped, 0);

        /* a read-only reference: the device may only read */
        ro = import_via(c2, b, O_RDONLY | O_CLOEXEC);
        assert_int_equal(bs_buffer_attach(ro, "viewer", &rat), 0);
        assert_int_equal(bs_attachment_map(rat, BS_DMA_FROM_DEVICE, &t), -EACCES);
        assert_int_equal(bs_attachment_map(rat, BS_DMA_BIDIRECTIONAL, &t), -EACCES);
        assert_int_equal(bs_attachment_map(rat, BS_DMA_TO_DEVICE, &t), 0);
        assert_int_equal(bs_buffer_detach(b, rat), -EINVAL); /* not b's */
        assert_int_equal(bs_buffer_detach(ro, rat), 0);      /* mapped: unmapped first */

        assert_int_equal(bs_buffer_detach(b, att2), 0); /* mapped too */
        assert_int_equal(bs_buffer_detach(b, att), 0);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.n_attachments, 0);
        bs_buffer_put(ro);
        bs_buffer_put(b);
        bs_client_unref(c2);
        bs_client_unref(c);
}

/* ---- adopting a memfd (udmabuf rules) ---- */

static void adopt_rules(void **state)
{
        static const struct {
                uint64_t size;
                int seals, expect;
        } rows[] = {
                { PAGE, 0, -EINVAL },                                   /* no F_SEAL_SHRINK */
                { PAGE, F_SEAL_GROW, -EINVAL },                         /* no F_SEAL_SHRINK */
                { PAGE, F_SEAL_SHRINK | F_SEAL_WRITE, -EINVAL },
                { PAGE, F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE, -EINVAL },
                { 0, F_SEAL_SHRINK, -EINVAL },                          /* empty */
                { PAGE + 1, F_SEAL_SHRINK, -EINVAL },                   /* not a page multiple */
                { PAGE, F_SEAL_SHRINK | F_SEAL_SEAL, -EINVAL },         /* can grow, takes no seals */
                { PAGE, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, 0 }, /* sealed for good: fine */
                { 2 * PAGE, F_SEAL_SHRINK, 0 },
        };
        struct bs_client *c = connect_or_die(state);
        struct bs_buffer *b = NULL;
        int pipefd[2], fd;

        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        assert_int_equal(bs_buffer_export_memfd(c, fd, NULL, &b), -EBADFD);
        close(fd);
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        assert_int_equal(bs_buffer_export_memfd(c, pipefd[0], NULL, &b), -EBADFD);
        close(pipefd[0]);
        close(pipefd[1]);
        assert_int_equal(bs_buffer_export_memfd(c, -1, NULL, &b), -EBADF);
        assert_null(b);

        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                int r;

                fd = test_memfd_with(rows[i].size, rows[i].seals);
                r = bs_buffer_export_memfd(c, fd, "row", &b);
                if (r != rows[i].expect)
                        fail_msg("row %zu: got %d, want %d", i, r, rows[i].expect);
                if (r == 0) {
                        int seals = fcntl(fd, F_GET_SEALS);
                        assert_int_equal(seals & (F_SEAL_GROW | F_SEAL_SEAL), F_SEAL_GROW | F_SEAL_SEAL);
                        assert_int_equal(bs_buffer_size(b), (int64_t)rows[i].size);
                        b = bs_buffer_put(b);
                }
                close(fd);
        }
        bs_client_unref(c);
}

static void adopted_memfd_is_served_like_any_buffer(void **state)
{
        struct bs_client *c = connect_or_die(state), *c2 = connect_or_die(state);
        struct bs_buffer *b = NULL, *imp, *again = NULL;
        struct bs_buffer_info info;
        uint8_t *mine, *theirs;
        int fd = test_memfd_with(4 * PAGE, F_SEAL_SHRINK);

        mine = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        assert_true(mine != MAP_FAILED);
        mine[3 * PAGE] = 0x99;
        assert_int_equal(bs_buffer_export_memfd(c, fd, "camera", &b), 0);
        assert_int_equal(bs_buffer_export_memfd(c, fd, "twice", &again), -EEXIST);
        imp = import_via(c2, b, O_RDWR | O_CLOEXEC);
        assert_int_equal(bs_buffer_id(imp), bs_buffer_id(b));
        assert_int_equal(bs_buffer_vmap(imp, (void **)&theirs), 0);
        assert_int_equal(theirs[3 * PAGE], 0x99);
        theirs[7] = 0x11;
        assert_int_equal(mine[7], 0x11); /* the exporter's own mapping sees it */
        assert_int_equal(ftruncate(fd, 8 * PAGE), -1); /* F_SEAL_GROW added */
        assert_int_equal(errno, EPERM);
        assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1); /* F_SEAL_SEAL added */

        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_string_equal(info.heap, "adopted");
        assert_string_equal(info.name, "camera");
        assert_int_equal(info.n_refs, 2);
        bs_buffer_vunmap(imp, theirs);
        munmap(mine, 4 * PAGE);
        close(fd);
        bs_buffer_put(imp);
        bs_buffer_put(b);
        bs_client_unref(c2);
        bs_client_unref(c);
}

/* ---- heaps ---- */

static uint64_t meminfo(const char *key)
{
        char line[128];
        uint64_t v = 0;
        FILE *f = fopen("/proc/meminfo", "re");

        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, key, strlen(key)) == 0)
                        v = strtoull(line + strlen(key) + 1, NULL, 10);
        if (f)
                fclose(f);
        return v;
}

static void heaps(void **state)
{
        struct bs_client *c = connect_or_die(state);
        char names[4][BS_NAME_MAX];
        struct bs_buffer *b = NULL;
        uint64_t huge = meminfo("Hugepagesize") * 1024, free_huge = meminfo("HugePages_Free");
        int n, r;

        n = bs_client_list_heaps(c, names, 4);
        assert_int_equal(n, 2);
        assert_string_equal(names[0], "system");
        assert_string_equal(names[1], "system-huge");
        assert_int_equal(bs_client_list_heaps(c, NULL, 0), 2);
        assert_int_equal(bs_buffer_export(c, PAGE, "no-such-heap", NULL, &b), -ENOENT);

        r = bs_buffer_export(c, 1, "system-huge", "huge", &b);
        if (free_huge >= 1) {
                struct bs_buffer_info info;
                uint8_t *p;

                print_message("system-huge: %llu free huge pages, expecting success\n",
                              (unsigned long long)free_huge);
                assert_int_equal(r, 0);
                assert_int_equal(bs_buffer_size(b), (int64_t)huge); /* rounded to the huge page */
                assert_int_equal(bs_buffer_get_info(b, &info), 0);
                assert_string_equal(info.heap, "system-huge");
                assert_int_equal(bs_buffer_vmap(b, (void **)&p), 0);
                p[0] = 1;
                bs_buffer_vunmap(b, p);
                bs_buffer_put(b);
        } else {
                print_message("system-huge: no free huge pages (vm.nr_hugepages), expecting -ENOMEM\n");
                assert_int_equal(r, -ENOMEM);
                assert_null(b);
        }
        bs_client_unref(c);
}

/* ---- names ---- */

static void names_need_a_writable_reference_and_memfd_name_stays(void **state)
{
        struct bs_client *c = connect_or_die(state), *c2 = connect_or_die(state);
        struct bs_buffer *b = NULL, *ro;
        struct bs_buffer_info info;
        char link[128], expect[64], path[64];
        ssize_t n;
        int fd;

        assert_int_equal(bs_buffer_export(c, PAGE, NULL, "first", &b), 0);
        ro = import_via(c2, b, O_RDONLY | O_CLOEXEC);
        assert_int_equal(bs_buffer_set_name(ro, "reader"), -EACCES);
        assert_int_equal(bs_buffer_set_name(b, "second"), 0);
        assert_int_equal(bs_buffer_get_info(ro, &info), 0);
        assert_string_equal(info.name, "second");

        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, link, sizeof(link) - 1);
        assert_true(n > 0);
        link[n] = '\0';
        snprintf(expect, sizeof(expect), "/memfd:bufshare:%lld (deleted)", (long long)bs_buffer_id(b));
        assert_string_equal(link, expect);
        close(fd);
        bs_buffer_put(ro);
        bs_buffer_put(b);
        bs_client_unref(c2);
        bs_client_unref(c);
}

/* ---- limits ---- */

static int setup_limits(void **state)
{
        static const char *const args[] = { "--max-buffers-per-client", "3", "--max-bytes-per-uid", "64K",
                                             "--max-clients", "4", NULL };
        return fx_daemon_setup_args(state, args);
}

static void limits_are_reported_in_hello(void **state)
{
        struct bs_client *c = connect_or_die(state);
        struct bs_limits l;

        assert_int_equal(bs_client_get_limits(c, &l), 0);
        assert_int_equal(l.max_buffers_per_client, 3);
        assert_int_equal(l.max_bytes_per_uid, 64 * 1024);
        assert_int_equal(l.max_clients, 4);
        assert_int_equal(l.max_buffer_size, 4ull << 30);
        /* the rest, from LIMITS: --max-clients alone bounds a uid too */
        assert_int_equal(l.max_connections_per_uid, 4);
        assert_int_equal(l.max_attachments_per_client, 1024);
        assert_true(l.max_buffers_per_uid > 0);
        assert_true(l.max_fences_per_client > 0);
        assert_true(l.max_waiters_per_client > 0 && l.max_waiters_per_fence > 0);
        bs_client_unref(c);
}

/* What a uid pays for is counted in buffers too, across its clients:
 * -EDQUOT, while the buffers already made are served. */
static void buffers_per_uid_is_edquot_across_clients(void **state)
{
        static const char *const args[] = { "--max-buffers-per-uid", "2", NULL };
        struct test_daemon d = {};
        struct bs_client *a, *b;
        struct bs_buffer *ba, *bb, *x = NULL;
        struct bs_buffer_info info;

        assert_int_equal(test_daemon_start(&d, args), 0);
        assert_int_equal(bs_client_connect(d.socket, &a), 0);
        assert_int_equal(bs_client_connect(d.socket, &b), 0);
        assert_int_equal(bs_buffer_export(a, PAGE, NULL, "a", &ba), 0);
        assert_int_equal(bs_buffer_export(b, PAGE, NULL, "b", &bb), 0);
        assert_int_equal(bs_buffer_export(a, PAGE, NULL, NULL, &x), -EDQUOT);
        assert_int_equal(bs_buffer_export(b, PAGE, NULL, NULL, &x), -EDQUOT);
        assert_null(x);
        assert_int_equal(bs_buffer_get_info(ba, &info), 0);
        assert_string_equal(info.name, "a");
        ba = bs_buffer_put(ba);
        assert_int_equal(bs_client_sync(a), 0);
        assert_int_equal(bs_buffer_export(b, PAGE, NULL, NULL, &x), 0); /* room again */
        bs_buffer_put(x);
        bs_buffer_put(bb);
        bs_client_unref(a);
        bs_client_unref(b);
        assert_int_equal(test_daemon_stop(&d), 0);
}

static void buffers_per_client_is_emfile_and_others_go_on(void **state)
{
        struct bs_client *a = connect_or_die(state), *other = connect_or_die(state);
        struct bs_buffer *held[3], *b = NULL, *ob = NULL;

        for (int i = 0; i < 3; i++)
                held[i] = export_or_die(a, PAGE);
        for (int round = 0; round < 5; round++) {
                /* a stays at its limit while the other client works */
                assert_int_equal(bs_buffer_export(a, PAGE, NULL, NULL, &b), -EMFILE);
                assert_null(b);
                assert_int_equal(bs_buffer_export(other, PAGE, NULL, NULL, &ob), 0);
                ob = bs_buffer_put(ob);
        }
        /* importing a fourth buffer is over the limit too */
        ob = export_or_die(other, PAGE);
        int fd = bs_buffer_fd(ob, O_RDWR | O_CLOEXEC);
        assert_int_equal(bs_buffer_import(a, fd, &b), -EMFILE);
        /* but another reference on a buffer it holds is not a new buffer */
        int fd2 = bs_buffer_fd(held[0], O_RDWR | O_CLOEXEC);
        assert_int_equal(bs_buffer_import(a, fd2, &b), 0);
        b = bs_buffer_put(b);
        close(fd2);
        close(fd);
        held[0] = bs_buffer_put(held[0]);
        assert_int_equal(bs_buffer_export(a, PAGE, NULL, NULL, &b), 0); /* room again */
        bs_buffer_put(b);
        bs_buffer_put(ob);
        bs_buffer_put(held[1]);
        bs_buffer_put(held[2]);
        bs_client_unref(other);
        bs_client_unref(a);
}

static void bytes_per_uid_is_edquot(void **state)
{
        struct bs_client *c = connect_or_die(state);
        struct bs_buffer *big = NULL, *b = NULL;

        assert_int_equal(bs_buffer_export(c, 64 * 1024 + 1, NULL, NULL, &b), -EDQUOT);
        assert_int_equal(bs_buffer_export(c, 48 * 1024, NULL, NULL, &big), 0);
        assert_int_equal(bs_buffer_export(c, 32 * 1024, NULL, NULL, &b), -EDQUOT);
        assert_null(b);
        assert_int_equal(bs_buffer_export(c, 16 * 1024, NULL, NULL, &b), 0); /* exactly the limit */
        bs_buffer_put(b);
        bs_buffer_put(big);
        assert_int_equal(bs_buffer_export(c, 64 * 1024, NULL, NULL, &b), 0); /* released: room */
        bs_buffer_put(b);
        bs_client_unref(c);
}

static void clients_in_all_is_eusers(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c[4], *extra = NULL;
        struct bs_buffer *b;
        struct bs_msg req, rep;
        int raw;

        for (int i = 0; i < 4; i++)
                c[i] = connect_or_die(state);
        assert_int_equal(bs_client_connect(fx->daemon.socket, &extra), -EUSERS);
        assert_null(extra);

        /* raw: the HELLO reply says -EUSERS, then the connection closes */
        raw = test_raw_connect(fx->daemon.socket);
        bs_msg_request(&req, BS_OP_HELLO, 9);
        req.body.hello_req.version_min = req.body.hello_req.version_max = 1;
        assert_int_equal(test_raw_call(raw, &req, &rep), -EUSERS);
        assert_int_equal(test_raw_recv(raw, &rep), -ECONNRESET);
        close(raw);

        b = export_or_die(c[3], PAGE); /* those served go on */
        bs_buffer_put(b);
        c[0] = bs_client_unref(c[0]);
        /* a place freed, once the daemon has seen the hang-up: it comes
         * on another socket, so try with a deadline, each try a connect */
        uint64_t deadline = test_now_ms() + 10000;
        int r;
        while ((r = bs_client_connect(fx->daemon.socket, &extra)) == -EUSERS && test_now_ms() < deadline)
                ;
        assert_int_equal(r, 0);
        bs_client_unref(extra);
        for (int i = 1; i < 4; i++)
                bs_client_unref(c[i]);
}

/* ---- threads ---- */

#define N_THREADS 8
#define OPS_PER_THREAD 1250 /* 10,000 in all */

struct thread_args {
        struct bs_client *c;
        unsigned seed;
        int failures;
        int done;
};

static void *thread_main(void *arg)
{
        struct thread_args *t = arg;
        struct bs_buffer *held[4] = { 0 };

        for (int i = 0; i < OPS_PER_THREAD; i++) {
                unsigned slot = (t->seed = t->seed * 1103515245 + 12345) >> 16;
                unsigned op = slot % 4;
                slot = (slot / 4) % 4;

                if (!held[slot]) {
                        /* export, with a size that tells the reply apart */
                        uint64_t size = (uint64_t)(1 + (i % 7)) * PAGE;
                        if (bs_buffer_export(t->c, size, NULL, NULL, &held[slot]) < 0 ||
                            bs_buffer_size(held[slot]) != (int64_t)size)
                                t->failures++;
                } else if (op == 0) {
                        struct bs_buffer_info info;
                        if (bs_buffer_get_info(held[slot], &info) < 0 ||
                            info.id != (uint64_t)bs_buffer_id(held[slot]) ||
                            info.size != (uint64_t)bs_buffer_size(held[slot]))
                                t->failures++;
                } else if (op == 1) {
                        struct bs_buffer *imp = NULL;
                        int fd = bs_buffer_fd(held[slot], O_RDWR | O_CLOEXEC);
                        if (bs_buffer_import(t->c, fd, &imp) < 0 || bs_buffer_id(imp) != bs_buffer_id(held[slot]))
                                t->failures++;
                        close(fd);
                        bs_buffer_put(imp);
                } else if (op == 2) {
                        char name[BS_NAME_MAX];
                        snprintf(name, sizeof(name), "t%u-%d", t->seed % 1000, i);
                        if (bs_buffer_set_name(held[slot], name) < 0)
                                t->failures++;
                } else {
                        held[slot] = bs_buffer_put(held[slot]);
                }
                t->done++;
        }
        for (int i = 0; i < 4; i++)
                bs_buffer_put(held[i]);
        return NULL;
}

static void threads_share_one_client(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = connect_or_die(state);
        struct thread_args t[N_THREADS];
        pthread_t th[N_THREADS];
        int baseline = test_count_fds_of(fx->daemon.pid), total = 0;
        struct bs_buffer *probe;
        struct bs_buffer_info info;

        for (int i = 0; i < N_THREADS; i++) {
                t[i] = (struct thread_args){ .c = c, .seed = 7u * (unsigned)i + 1 };
                assert_int_equal(pthread_create(&th[i], NULL, thread_main, &t[i]), 0);
        }
        for (int i = 0; i < N_THREADS; i++) {
                pthread_join(th[i], NULL);
                assert_int_equal(t[i].failures, 0);
                total += t[i].done;
        }
        assert_int_equal(total, N_THREADS * OPS_PER_THREAD);
        /* nothing leaked: the daemon holds only the probe's fd more (once
         * a sync has let it refill its reserve of fresh memfds) */
        probe = export_or_die(c, PAGE);
        assert_int_equal(bs_buffer_get_info(probe, &info), 0);
        assert_int_equal(info.n_refs, 1);
        assert_int_equal(bs_client_sync(c), 0);
        assert_int_equal(test_count_fds_of(fx->daemon.pid), baseline + 1);
        bs_buffer_put(probe);
        bs_client_unref(c);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_daemon_setup, fx_daemon_teardown)
#define TL(f) cmocka_unit_test_setup_teardown(f, setup_limits, fx_daemon_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(readonly_view_gives_a_readonly_reference),
                T(fd_access_flags),
                T(readonly_importer_of_another_uid_cannot_escalate),
                cmocka_unit_test_setup_teardown(readonly_view_of_an_unchmodable_adopted_memfd_is_eperm,
                                                fx_base_setup, fx_base_teardown),
                T(cpu_access_contract),
                T(two_processes_in_cpu_access_at_once),
                T(killed_inside_cpu_access_and_attached_leaves_nothing),
                T(mapping_never_waits_for_cpu_access),
                T(vmap_and_kmap),
                T(attachment_contract),
                T(adopt_rules),
                T(adopted_memfd_is_served_like_any_buffer),
                T(heaps),
                T(names_need_a_writable_reference_and_memfd_name_stays),
                TL(limits_are_reported_in_hello),
                TL(buffers_per_client_is_emfile_and_others_go_on),
                TL(bytes_per_uid_is_edquot),
                cmocka_unit_test_setup_teardown(buffers_per_uid_is_edquot_across_clients, fx_base_setup,
                                                fx_base_teardown),
                TL(clients_in_all_is_eusers),
                T(threads_share_one_client),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
