/* SPDX-License-Identifier: MIT */
/*
 * The trust boundary (issue 7): one test per hole an attacker found,
 * each against the real bufshared in real processes. Every one of them
 * failed on the daemon before the fix it names.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "bufshare/bufshare.h"
#include "message.h"
#include "msgio.h"
#include "peer.h"
#include "util.h"

#define PAGE 4096
#define NOBODY 65534

static struct bs_client *connect_to(const struct test_daemon *d)
{
        struct bs_client *c = NULL;

        assert_int_equal(bs_client_connect(d->socket, &c), 0);
        return c;
}

/* ---- hole 1: adoption is atomic against the memfd's creator ---------- */

struct grower {
        int fd;
        volatile bool go;
};

static void *grow_to_8g(void *arg)
{
        struct grower *g = arg;

        while (!g->go)
                ;
        (void)ftruncate(g->fd, 8ll << 30);
        return NULL;
}

/* A creator growing its memfd while it is adopted: the daemon records the
 * real size or refuses, never a smaller one (before: 8 GiB recorded as
 * 4 KiB in 253 of 300 tries, the size limit and the quota bypassed). */
static void adoption_races_with_its_creator_and_loses(void **state)
{
        static const char *const args[] = { "--max-buffer-size", "64M", NULL };
        struct test_daemon d = {};
        struct bs_client *c;
        int refused = 0, adopted = 0;

        assert_int_equal(test_daemon_start(&d, args), 0);
        c = connect_to(&d);
        for (int i = 0; i < 300; i++) {
                struct grower g = { .fd = test_memfd_with(PAGE, F_SEAL_SHRINK) };
                struct bs_buffer *b = NULL;
                struct bs_buffer_info info;
                pthread_t t;
                struct stat st;
                int r;

                assert_int_equal(pthread_create(&t, NULL, grow_to_8g, &g), 0);
                g.go = true;
                r = bs_buffer_export_memfd(c, g.fd, "racer", &b);
                pthread_join(t, NULL);
                assert_int_equal(fstat(g.fd, &st), 0);
                if (r == 0) {
                        assert_int_equal(bs_buffer_get_info(b, &info), 0);
                        assert_int_equal(info.size, (uint64_t)st.st_size);
                        assert_true(info.size <= 64 << 20);
                        adopted++;
                        bs_buffer_put(b);
                } else {
                        assert_int_equal(r, -EFBIG);
                        refused++;
                }
                close(g.fd);
        }
        assert_int_equal(adopted + refused, 300);
        bs_client_unref(c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- hole 4: attachments are bounded ---------------------------------- */

/* The attacker, in a process of its own: attach until refused, say how
 * many, and vanish without a word. */
static int attach_until_refused(void *arg)
{
        struct test_peer *a = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        struct bs_attachment *att;
        int n = 0, r;
        char byte;

        child_check(test_peer_import(a, &c, &b) == 0);
        while ((r = bs_buffer_attach(b, "gpu", &att)) == 0)
                n++;
        child_check(r == -EMFILE);
        child_check(write(a->sock, &n, sizeof(n)) == sizeof(n));
        child_check(read(a->sock, &byte, 1) == 1);
        _exit(0); /* no detach, no put: the connection just closes */
}

/* Attachments are bounded per client, and the attacker's disconnect
 * frees exactly its own (before: 2,000,000 of them grew the daemon by
 * 317 MB and their disconnect stalled every client for half a second). */
static void attachments_are_bounded_and_cost_only_their_maker(void **state)
{
        static const char *const args[] = { "--max-attachments-per-client", "500", NULL };
        struct test_daemon d = {};
        struct bs_client *victim;
        struct bs_buffer *vb;
        struct bs_buffer_info info;
        struct test_peer a;
        int n = 0;
        pid_t pid;

        assert_int_equal(test_daemon_start(&d, args), 0);
        victim = connect_to(&d);
        assert_int_equal(bs_buffer_export(victim, PAGE, NULL, "shared", &vb), 0);
        pid = test_peer_start(&a, d.socket, attach_until_refused, vb, O_RDWR | O_CLOEXEC);
        assert_true(pid > 0);
        assert_int_equal(test_wait_readable(a.parent, 10000), 0);
        assert_int_equal(read(a.parent, &n, sizeof(n)), sizeof(n));
        assert_int_equal(n, 500);
        /* the victim is served, and info counts them all */
        assert_int_equal(bs_buffer_get_info(vb, &info), 0);
        assert_int_equal(info.n_attachments, 500);
        assert_int_equal(info.n_refs, 2);
        /* the attacker goes: its attachments go with it, nothing else */
        assert_int_equal(write(a.parent, "g", 1), 1);
        assert_int_equal(test_wait(pid), 0);
        test_peer_close(&a);
        assert_int_equal(test_info_until_refs(vb, 1, &info), 0);
        assert_int_equal(info.n_attachments, 0);
        assert_string_equal(info.name, "shared");
        bs_buffer_put(vb);
        bs_client_unref(victim);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- hole 5: an import while the daemon is out of fds ---------------- */

/* The fd of an import can't be received: -EMFILE, and the client keeps
 * its connection and everything it holds (before: disconnected, all its
 * references dropped). */
static void import_while_the_daemon_is_out_of_fds_is_emfile(void **state)
{
        static const char *const args[] = { "--max-buffers-per-client", "1000", "--max-buffers-per-uid",
                                            "1000", NULL };
        struct test_daemon d = { .nofile = 64 };
        struct bs_client *filler, *c;
        struct bs_buffer *bufs[64] = { 0 }, *mine, *imp = NULL;
        struct bs_buffer_info info;
        int n = 0, r, fd;

        assert_int_equal(test_daemon_start(&d, args), 0);
        filler = connect_to(&d);
        c = connect_to(&d);
        assert_int_equal(bs_buffer_export(c, PAGE, NULL, "mine", &mine), 0);
        while (n < 64 && (r = bs_buffer_export(filler, PAGE, NULL, NULL, &bufs[n])) == 0)
                n++;
        assert_int_equal(r, -EMFILE);

        fd = bs_buffer_fd(bufs[0], O_RDWR | O_CLOEXEC);
        assert_int_equal(bs_buffer_import(c, fd, &imp), -EMFILE);
        assert_null(imp);
        /* still connected, still holding what it held */
        assert_int_equal(bs_buffer_get_info(mine, &info), 0);
        assert_string_equal(info.name, "mine");
        assert_int_equal(info.n_refs, 1);

        /* fds free again: the same import works */
        for (int i = 1; i < n; i++)
                bufs[i] = bs_buffer_put(bufs[i]);
        assert_int_equal(bs_client_sync(filler), 0);
        assert_int_equal(bs_buffer_import(c, fd, &imp), 0);
        assert_int_equal(bs_buffer_id(imp), bs_buffer_id(bufs[0]));
        close(fd);
        bs_buffer_put(imp);
        bs_buffer_put(bufs[0]);
        bs_buffer_put(mine);
        bs_client_unref(c);
        bs_client_unref(filler);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- hole 6: connections before HELLO, pipelining, timeouts ---------- */

/* Connections count from accept; one that never says HELLO is closed at
 * the deadline (before: uncounted, never closed, and 4,000 of them made
 * a real client's HELLO wait over 3 s). */
static void idle_connections_count_and_expire(void **state)
{
        static const char *const args[] = { "--max-clients", "4", "--hello-timeout", "300", NULL };
        struct test_daemon d = {};
        struct bs_client *c = NULL;
        struct bs_msg m;
        int idle[4];

        assert_int_equal(test_daemon_start(&d, args), 0);
        for (int i = 0; i < 4; i++)
                assert_true((idle[i] = test_raw_connect(d.socket)) >= 0);
        assert_int_equal(bs_client_connect(d.socket, &c), -EUSERS);
        assert_null(c);
        /* at the deadline the daemon hangs up on each of them */
        for (int i = 0; i < 4; i++) {
                assert_int_equal(test_raw_recv(idle[i], &m), -ECONNRESET);
                close(idle[i]);
        }
        /* and has room again (it may see the hang-ups just after) */
        uint64_t deadline = test_now_ms() + 5000;
        int r;
        while ((r = bs_client_connect(d.socket, &c)) == -EUSERS && test_now_ms() < deadline)
                ;
        assert_int_equal(r, 0);
        bs_client_unref(c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

static int connect_as_nobody(void *arg)
{
        const char *socket_path = arg;
        struct bs_client *c = NULL;

        child_check(setresuid(NOBODY, NOBODY, NOBODY) == 0);
        child_check(bs_client_connect(socket_path, &c) == 0);
        bs_client_unref(c);
        return 0;
}

/* One uid can't take every connection: its own share is refused with
 * -EUSERS, other uids are still served. */
static void connections_are_limited_per_uid(void **state)
{
        static const char *const args[] = { "--max-clients", "10", "--max-connections-per-uid", "2", NULL };
        struct test_daemon d = {};
        struct bs_client *a, *b, *c = NULL;
        pid_t pid;

        test_skip_unless(geteuid() == 0, "not root: a process of another uid can't be forked");
        assert_int_equal(test_daemon_start(&d, args), 0);
        assert_int_equal(chmod(d.dir, 0755), 0); /* nobody may reach the socket */
        a = connect_to(&d);
        b = connect_to(&d);
        assert_int_equal(bs_client_connect(d.socket, &c), -EUSERS);
        pid = test_fork(connect_as_nobody, d.socket);
        assert_int_equal(test_wait(pid), 0);
        bs_client_unref(a);
        bs_client_unref(b);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* A client that pipelines exports without reading a reply is no longer
 * read from after about CONN_REPLIES_IN_FLIGHT of them (before: ~280
 * buffers per connection, so ~70 connections took every fd). */
static void pipelining_without_reading_is_bounded(void **state)
{
        struct test_daemon d = {};
        struct bs_msg req;
        int s, baseline, sent = 0, held, flags, r;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        s = test_raw_connect_hello(d.socket);
        assert_true(s >= 0);
        baseline = test_count_fds_of(d.pid);
        flags = fcntl(s, F_GETFL);
        assert_int_equal(fcntl(s, F_SETFL, flags | O_NONBLOCK), 0);
        /* send until our socket stays full: the daemon stopped reading */
        for (; sent < 100000; sent++) {
                bs_msg_request(&req, BS_OP_EXPORT, (uint32_t)sent + 10);
                req.body.export_req.size = PAGE;
                strcpy(req.body.export_req.heap, "system");
                r = bs_msg_send(s, &req);
                if (r == -EAGAIN) {
                        struct pollfd p = { .fd = s, .events = POLLOUT };
                        if (poll(&p, 1, 1000) == 0)
                                break;
                        sent--;
                        continue;
                }
                assert_int_equal(r, 0);
        }
        assert_true(sent < 100000);
        held = test_count_fds_of(d.pid) - baseline;
        printf("pipelined %d requests without reading; the daemon made %d buffers\n", sent, held);
        assert_true(held > 0);
        assert_true(held <= 2 * 64);
        close(s);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* A stopped daemon can't hang its clients: calls and connects give
 * -ETIMEDOUT, and puts never block. */
static void a_stopped_daemon_times_out_its_clients(void **state)
{
        struct test_daemon d = {};
        struct bs_client *c, *late = NULL;
        struct bs_buffer *b, *b2 = NULL;
        uint64_t t0;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        c = connect_to(&d);
        assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, &b), 0);
        assert_int_equal(bs_client_set_timeout(c, 300), 0);
        assert_int_equal(bs_client_set_timeout(c, -2), -EINVAL);
        assert_int_equal(kill(d.pid, SIGSTOP), 0);

        t0 = test_now_ms();
        assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, &b2), -ETIMEDOUT);
        assert_true(test_now_ms() - t0 < 5000);
        assert_null(b2);
        assert_int_equal(bs_client_sync(c), -ETIMEDOUT); /* sticky */
        bs_buffer_put(b); /* returns at once */

        setenv("BUFSHARE_TIMEOUT_MS", "300", 1);
        t0 = test_now_ms();
        assert_int_equal(bs_client_connect(d.socket, &late), -ETIMEDOUT);
        unsetenv("BUFSHARE_TIMEOUT_MS");
        assert_true(test_now_ms() - t0 < 5000);
        assert_null(late);

        assert_int_equal(kill(d.pid, SIGCONT), 0);
        bs_client_unref(c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- hole 7: who pays ---------------------------------------------------- */

struct handover {
        const char *socket;
        int sock; /* the child's end */
};

/* uid nobody: import what arrives, say so, hold it until told to go. */
static int nobody_holds(void *arg)
{
        struct handover *h = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        char byte;
        int fd;

        child_check(setresuid(NOBODY, NOBODY, NOBODY) == 0);
        fd = test_recv_fd(h->sock);
        child_check(fd >= 0);
        child_check(bs_client_connect(h->socket, &c) == 0);
        child_check(bs_buffer_import(c, fd, &b) == 0);
        close(fd);
        child_check(write(h->sock, "i", 1) == 1);
        child_check(read(h->sock, &byte, 1) == 1);
        bs_buffer_put(b);
        bs_client_unref(c);
        return 0;
}

/* Root exports to its quota, hands the fd to uid nobody and releases it:
 * root must no longer pay (before: root's next export failed -EDQUOT for
 * a buffer it no longer held), both while nobody holds the live buffer
 * and when nobody imports it after its release. */
static void a_uid_never_pays_for_what_it_no_longer_holds(void **state)
{
        static const char *const args[] = { "--max-bytes-per-uid", "1M", NULL };
        struct test_daemon d = {};
        struct bs_client *c;
        struct bs_buffer *b, *b2 = NULL;

        test_skip_unless(geteuid() == 0, "not root: a process of another uid can't be forked");
        assert_int_equal(test_daemon_start(&d, args), 0);
        assert_int_equal(chmod(d.dir, 0755), 0); /* nobody may reach the socket */
        c = connect_to(&d);
        for (int released_first = 0; released_first < 2; released_first++) {
                int sv[2], fd;
                struct handover h = { .socket = d.socket };
                char byte;
                pid_t pid;

                assert_int_equal(bs_buffer_export(c, 1 << 20, NULL, "handed", &b), 0);
                assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, &b2), -EDQUOT);
                assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
                h.sock = sv[1];
                pid = test_fork(nobody_holds, &h);
                fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
                if (released_first) { /* the buffer leaves the registry while the fd travels */
                        b = bs_buffer_put(b);
                        assert_int_equal(bs_client_sync(c), 0);
                }
                assert_int_equal(test_send_fd(sv[0], fd), 0);
                close(fd);
                assert_int_equal(test_wait_readable(sv[0], 10000), 0);
                assert_int_equal(read(sv[0], &byte, 1), 1);
                bs_buffer_put(b);
                assert_int_equal(bs_client_sync(c), 0);
                /* nobody pays now: root has its whole quota again */
                assert_int_equal(bs_buffer_export(c, 1 << 20, NULL, NULL, &b2), 0);
                b2 = bs_buffer_put(b2);
                assert_int_equal(write(sv[0], "g", 1), 1);
                assert_int_equal(test_wait(pid), 0);
                close(sv[0]);
                close(sv[1]);
                assert_int_equal(bs_client_sync(c), 0);
        }
        bs_client_unref(c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- hole 8: a put frees the memory by the time sync returns -------- */

static void sync_returns_after_the_memory_is_freed(void **state)
{
        struct test_daemon d = {};
        struct bs_client *c;
        struct bs_buffer *b;
        int baseline;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        c = connect_to(&d);
        assert_int_equal(bs_client_sync(c), 0);
        baseline = test_count_fds_of(d.pid);
        for (int i = 0; i < 400; i++) {
                assert_int_equal(bs_buffer_export(c, 64 * PAGE, NULL, NULL, &b), 0);
                bs_buffer_put(b);
                assert_int_equal(bs_client_sync(c), 0);
                /* the daemon's fd on the memfd is closed: its pages are gone */
                assert_int_equal(test_count_fds_of(d.pid), baseline);
        }
        bs_client_unref(c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- hole 9: a daemon that stops reading ---------------------------- */

struct fake_daemon {
        int listen_fd;
        int done_pipe; /* written by the test when the fake may exit */
};

/* Answers HELLO and EXPORTs (with one memfd) until a SYNC, then never
 * reads again until the test is done. */
static int fake_daemon_run(void *arg)
{
        struct fake_daemon *f = arg;
        int s = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC), memfd = test_memfd_with(PAGE, 0);
        uint64_t next_id = 1;
        char byte;

        child_check(s >= 0);
        for (;;) {
                struct bs_msg req, rep;
                child_check(test_raw_recv(s, &req) == 0);
                if (req.hdr.opcode == BS_OP_SYNC)
                        break;
                bs_msg_reply(&rep, &req.hdr);
                if (req.hdr.opcode == BS_OP_HELLO) {
                        rep.body.hello_rep.version = 2;
                } else if (req.hdr.opcode == BS_OP_EXPORT) {
                        rep.body.export_rep.id = next_id++;
                        rep.body.export_rep.size = PAGE;
                        bs_msg_lend_fd(&rep, memfd);
                }
                child_check(bs_msg_send(s, &rep) == 0);
                bs_msg_clear(&req);
        }
        child_check(read(f->done_pipe, &byte, 1) >= 0); /* stopped reading */
        close(s);
        return 0;
}

/* Puts never block and calls end at the timeout, against a daemon that
 * stopped reading (before: bs_buffer_put() blocked in sendmsg() holding
 * the connection's lock, and every thread with it). */
static void a_daemon_that_stops_reading_blocks_no_put(void **state)
{
        struct fake_daemon f;
        struct sockaddr_un sa;
        char dir[] = "/tmp/bufshare-fake-XXXXXX";
        struct bs_buffer *bufs[2000];
        struct bs_client *c;
        int done[2];
        uint64_t t0;
        pid_t pid;

        f.listen_fd = test_listen_private(dir, &sa);
        assert_int_equal(pipe2(done, O_CLOEXEC), 0);
        f.done_pipe = done[0];
        pid = test_fork(fake_daemon_run, &f);

        assert_int_equal(bs_client_connect(sa.sun_path, &c), 0);
        for (int i = 0; i < 2000; i++)
                assert_int_equal(bs_buffer_export(c, PAGE, NULL, NULL, &bufs[i]), 0);
        assert_int_equal(bs_client_set_timeout(c, 300), 0);
        assert_int_equal(bs_client_sync(c), -ETIMEDOUT); /* the fake stops reading here */

        /* 2000 puts fill the socket many times over, and each returns */
        t0 = test_now_ms();
        for (int i = 0; i < 2000; i++)
                bs_buffer_put(bufs[i]);
        assert_true(test_now_ms() - t0 < 2000);

        assert_int_equal(write(done[1], "x", 1), 1);
        assert_int_equal(test_wait(pid), 0);
        bs_client_unref(c);
        close(done[0]);
        close(done[1]);
        close(f.listen_fd);
        unlink(sa.sun_path);
        rmdir(dir);
}

/* ---- hole 10: --socket never clobbers ----------------------------------- */

static void socket_path_never_clobbers(void **state)
{
        char dir[] = "/tmp/bufshare-clobber-XXXXXX", path[64], missing[160], buf[8] = { 0 };
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct test_daemon d = {};
        struct stat st;
        int fd, lfd, c;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/socket", dir);

        /* a regular file: refused, its bytes kept */
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_int_equal(write(fd, "data", 4), 4);
        close(fd);
        assert_int_not_equal(test_run_daemon((const char *const[]){ "--socket", path, NULL }), 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_int_equal(read(fd, buf, sizeof(buf)), 4);
        assert_string_equal(buf, "data");
        close(fd);
        unlink(path);

        /* a live listener of another type: refused, still listening */
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(lfd, 4), 0);
        assert_int_not_equal(test_run_daemon((const char *const[]){ "--socket", path, NULL }), 0);
        c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(c);
        close(lfd);

        /* the listener gone, its socket file is stale: that one is replaced */
        assert_int_equal(test_daemon_start(&d, (const char *const[]){ "--socket", path, NULL }), 0);
        struct bs_client *bc = NULL;
        assert_int_equal(bs_client_connect(path, &bc), 0);

        /* SIGHUP, SIGUSR1 and SIGUSR2 don't stop it */
        assert_int_equal(kill(d.pid, SIGHUP), 0);
        assert_int_equal(kill(d.pid, SIGUSR1), 0);
        assert_int_equal(kill(d.pid, SIGUSR2), 0);
        assert_int_equal(bs_client_sync(bc), 0);
        bs_client_unref(bc);
        bc = NULL;
        assert_int_equal(bs_client_connect(path, &bc), 0);
        bs_client_unref(bc);
        assert_int_equal(test_daemon_stop(&d), 0);
        unlink(path);

        /* folders are not made up: a missing one is an error */
        snprintf(missing, sizeof(missing), "%s/no/such/dir/socket", dir);
        assert_int_not_equal(test_run_daemon((const char *const[]){ "--socket", missing, NULL }), 0);
        snprintf(missing, sizeof(missing), "%s/no", dir);
        assert_int_equal(stat(missing, &st), -1);
        assert_int_equal(rmdir(dir), 0);
}

/* ---- hole 12: the smaller ones ------------------------------------------ */

/* Replies that wait in the daemon's queue own their fds: each one is the
 * buffer its reply names, however long it waited. */
static void queued_export_replies_carry_their_own_buffers(void **state)
{
        struct test_daemon d = {};
        struct bs_msg req, rep;
        int s, sent = 0, got = 0, flags;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        s = test_raw_connect_hello(d.socket);
        flags = fcntl(s, F_GETFL);
        assert_int_equal(fcntl(s, F_SETFL, flags | O_NONBLOCK), 0);
        for (; sent < 400; sent++) {
                bs_msg_request(&req, BS_OP_EXPORT, (uint32_t)sent + 10);
                req.body.export_req.size = PAGE * (1 + (uint64_t)sent % 7);
                strcpy(req.body.export_req.heap, "system");
                if (bs_msg_send(s, &req) < 0)
                        break;
        }
        assert_int_equal(fcntl(s, F_SETFL, flags), 0);
        while (got < sent) {
                char path[64], link[128];
                struct stat st;
                ssize_t n;

                assert_int_equal(test_raw_recv(s, &rep), 0);
                assert_int_equal(rep.body.status.status, 0);
                assert_int_equal(rep.hdr.serial, (uint32_t)got + 10);
                assert_int_equal(rep.n_fds, 1);
                snprintf(path, sizeof(path), "/proc/self/fd/%d", rep.fds[0]);
                n = readlink(path, link, sizeof(link) - 1);
                assert_true(n > 0);
                link[n] = '\0';
                char want[64];
                snprintf(want, sizeof(want), "/memfd:bufshare:%llu (deleted)",
                         (unsigned long long)rep.body.export_rep.id);
                assert_string_equal(link, want);
                assert_int_equal(fstat(rep.fds[0], &st), 0);
                assert_int_equal((uint64_t)st.st_size, rep.body.export_rep.size);
                assert_int_equal(rep.body.export_rep.size, PAGE * (1 + (uint64_t)got % 7));
                bs_msg_clear(&rep);
                got++;
        }
        close(s);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* Names a client chose reach the log escaped: no raw CR, LF or ESC. */
static void client_names_reach_the_log_escaped(void **state)
{
        struct test_daemon d = { .capture_log = true };
        struct bs_msg req, rep;
        char line[1024];
        bool seen = false;
        FILE *log;
        int s;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        s = test_raw_connect_hello(d.socket);
        /* a second HELLO, named to forge a line: logged as a bug */
        bs_msg_request(&req, BS_OP_HELLO, 2);
        req.body.hello_req.version_min = 1;
        req.body.hello_req.version_max = 2;
        strcpy(req.body.hello_req.client_name, "x\r\nbufshared: \x1b[31mforged");
        assert_int_equal(test_raw_call(s, &req, &rep), -EPROTO);
        close(s);
        log = fopen(d.log_path, "re"); /* logged before the reply was sent */
        assert_non_null(log);
        while (fgets(line, sizeof(line), log)) {
                assert_null(strchr(line, '\x1b'));
                assert_null(strchr(line, '\r'));
                assert_true(strncmp(line, "bufshared: \x1b", 12) != 0);
                if (strstr(line, "second HELLO"))
                        seen = true;
        }
        fclose(log);
        assert_true(seen);
        assert_int_equal(test_daemon_stop(&d), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(adoption_races_with_its_creator_and_loses),
                T(attachments_are_bounded_and_cost_only_their_maker),
                T(import_while_the_daemon_is_out_of_fds_is_emfile),
                T(idle_connections_count_and_expire),
                T(connections_are_limited_per_uid),
                T(pipelining_without_reading_is_bounded),
                T(a_stopped_daemon_times_out_its_clients),
                T(a_uid_never_pays_for_what_it_no_longer_holds),
                T(sync_returns_after_the_memory_is_freed),
                T(a_daemon_that_stops_reading_blocks_no_put),
                T(socket_path_never_clobbers),
                T(queued_export_replies_carry_their_own_buffers),
                T(client_names_reach_the_log_escaped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
