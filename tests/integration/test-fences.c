/* SPDX-License-Identifier: MIT */
/*
 * Fences, sync files, CPU access and pools against the real bufshared,
 * across real processes. Each rule is its own test; nothing sleeps:
 * every wait is on an fd, with a deadline.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "bufshare/bufshare.h"
#include "fdpass.h"
#include "message.h"
#include "msgio.h"
#include "peer.h"

#define SIZE (64 * 1024)
#define DEADLINE_MS 10000

struct fx {
        int fds_before;
        struct test_daemon daemon;
        struct bs_client *c;
        struct bs_buffer *b;
};

static int setup_args(void **state, const char *const *args)
{
        struct fx *fx = calloc(1, sizeof(*fx));

        alarm(TEST_TIMEOUT_S);
        fx->fds_before = test_count_open_fds();
        if (test_daemon_start(&fx->daemon, args) < 0 || bs_client_connect(fx->daemon.socket, &fx->c) < 0 ||
            bs_buffer_export(fx->c, SIZE, NULL, "fenced", &fx->b) < 0)
                return -1;
        *state = fx;
        return 0;
}

static int setup(void **state)
{
        return setup_args(state, NULL);
}

static int setup_small_limits(void **state)
{
        static const char *const args[] = { "--max-fences-per-client", "4", "--max-waiters-per-client", "4",
                                            "--max-waiters-per-fence", "3", NULL };
        return setup_args(state, args);
}

#define UID_SYNC_FILES 6 /* --max-sync-files-per-uid of the tests below */

static int setup_sync_files_per_uid(void **state)
{
        static const char *const args[] = { "--max-sync-files-per-uid", "6", "--max-waiters-per-client", "4",
                                            "--max-waiters-per-fence", "64", NULL };
        return setup_args(state, args);
}

#define UID_FENCES 6 /* --max-fences-per-uid of the tests below, 4 a client */

static int setup_fences_per_uid(void **state)
{
        static const char *const args[] = { "--max-fences-per-client", "4", "--max-fences-per-uid", "6", NULL };
        return setup_args(state, args);
}

static int setup_three_sync_files_per_uid(void **state)
{
        static const char *const args[] = { "--max-sync-files-per-uid", "3", NULL };
        return setup_args(state, args);
}

static int teardown(void **state)
{
        struct fx *fx = *state;
        int r, leaked;

        bs_buffer_put(fx->b);
        bs_client_unref(fx->c);
        r = test_daemon_stop(&fx->daemon);
        leaked = test_count_open_fds() != fx->fds_before;
        if (leaked)
                fprintf(stderr, "fd leak: %d before, %d after\n", fx->fds_before, test_count_open_fds());
        free(fx);
        alarm(0);
        return (r != 0 || leaked) ? -1 : 0;
}

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct bs_fence *fence_on(struct fx *fx, struct bs_buffer *b, unsigned usage)
{
        struct bs_fence *f = NULL;

        assert_int_equal(bs_fence_create(fx->c, &f), 0);
        assert_int_equal(bs_fence_attach(f, b, usage), 0);
        return f;
}

static int export_sync(struct bs_buffer *b, unsigned flags)
{
        int fd = bs_buffer_export_sync_file(b, flags);

        assert_true(fd >= 0);
        return fd;
}

/* Read one int the child sends, within the deadline. */
static int read_int(int sock)
{
        int v = 0x7fffffff;

        assert_int_equal(test_wait_readable(sock, DEADLINE_MS), 0);
        assert_int_equal(read(sock, &v, sizeof(v)), (ssize_t)sizeof(v));
        return v;
}

/* ---- a waiter in another process ---- */

struct child {
        pid_t pid;
        int sock;  /* the test's end */
        int other; /* the child's end */
};

static void child_start(struct child *ch, int (*fn)(void *), void *arg_unused)
{
        int sv[2];

        (void)arg_unused;
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        ch->sock = sv[0];
        ch->other = sv[1];
        ch->pid = test_fork(fn, ch);
        assert_true(ch->pid > 0);
}

static void child_end(struct child *ch, int expect_status)
{
        assert_int_equal(test_wait(ch->pid), expect_status);
        close(ch->sock);
        close(ch->other);
}

/* Receive a sync file, wait for it (not by sleeping), send the result. */
static int wait_in_child(void *arg)
{
        struct child *ch = arg;
        int fd = test_recv_fd(ch->other), r;

        child_check(fd >= 0);
        r = bs_sync_file_wait(fd, DEADLINE_MS);
        child_check(write(ch->other, &r, sizeof(r)) == (ssize_t)sizeof(r));
        close(fd);
        return 0;
}

static void waiter_child(struct child *ch, int fd)
{
        child_start(ch, wait_in_child, NULL);
        assert_int_equal(test_send_fd(ch->sock, fd), 0);
}

/* ---- READ and WRITE, both ways ---- */

static void a_read_sync_file_waits_for_write_fences_only(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *reader = fence_on(fx, fx->b, BS_SYNC_READ);
        int rd = export_sync(fx->b, BS_SYNC_READ), wr = export_sync(fx->b, BS_SYNC_WRITE);
        struct child ch;

        assert_int_equal(bs_sync_file_status(rd), 1); /* readers don't wait for readers */
        assert_int_equal(bs_sync_file_status(wr), 0); /* a writer does */
        waiter_child(&ch, wr);
        assert_int_equal(bs_fence_signal(reader, 0), 0);
        assert_int_equal(read_int(ch.sock), 0);
        child_end(&ch, 0);
        assert_int_equal(bs_sync_file_status(wr), 1);
        close(rd);
        close(wr);
        bs_fence_destroy(reader);
}

static void a_write_fence_holds_readers_and_writers(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *writer = fence_on(fx, fx->b, BS_SYNC_WRITE);
        int rd = export_sync(fx->b, BS_SYNC_READ), wr = export_sync(fx->b, BS_SYNC_WRITE);
        struct child ch;

        assert_int_equal(bs_sync_file_status(rd), 0);
        assert_int_equal(bs_sync_file_status(wr), 0);
        waiter_child(&ch, rd);
        assert_int_equal(bs_fence_signal(writer, 0), 0);
        assert_int_equal(read_int(ch.sock), 0);
        child_end(&ch, 0);
        assert_int_equal(bs_sync_file_wait(wr, DEADLINE_MS), 0);
        close(rd);
        close(wr);
        bs_fence_destroy(writer);
}

static void no_fence_means_signalled_at_once(void **state)
{
        struct fx *fx = *state;
        int rd = export_sync(fx->b, BS_SYNC_READ), wr = export_sync(fx->b, BS_SYNC_READ | BS_SYNC_WRITE);

        assert_int_equal(bs_sync_file_status(rd), 1);
        assert_int_equal(bs_sync_file_wait(wr, 0), 0);
        /* a signalled fence holds nobody up either */
        struct bs_fence *f = NULL;
        assert_int_equal(bs_fence_create(fx->c, &f), 0);
        assert_int_equal(bs_fence_signal(f, 0), 0);
        assert_int_equal(bs_fence_attach(f, fx->b, BS_SYNC_WRITE), 0);
        close(rd);
        rd = export_sync(fx->b, BS_SYNC_READ);
        assert_int_equal(bs_sync_file_status(rd), 1);
        close(rd);
        close(wr);
        bs_fence_destroy(f);
        assert_int_equal(bs_sync_file_status(-1), -EBADF);
        assert_int_equal(bs_buffer_export_sync_file(fx->b, 0), -EINVAL);
        assert_int_equal(bs_buffer_export_sync_file(fx->b, 4), -EINVAL);
}

static void an_error_reaches_the_waiter_as_itself(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *writer = fence_on(fx, fx->b, BS_SYNC_WRITE);
        int rd = export_sync(fx->b, BS_SYNC_READ);
        struct child ch;

        waiter_child(&ch, rd);
        assert_int_equal(bs_fence_signal(writer, -EIO), 0);
        assert_int_equal(read_int(ch.sock), -EIO);
        child_end(&ch, 0);
        /* the status stays in the fd for every asker */
        assert_int_equal(bs_sync_file_status(rd), -EIO);
        assert_int_equal(bs_sync_file_wait(rd, 0), -EIO);
        assert_int_equal(bs_fence_signal(writer, 0), -EALREADY);
        assert_int_equal(bs_fence_signal(writer, 1), -EINVAL);
        close(rd);
        bs_fence_destroy(writer);
}

static void waiting_times_out_with_etime(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *writer = fence_on(fx, fx->b, BS_SYNC_WRITE);
        int rd = export_sync(fx->b, BS_SYNC_READ);
        struct bs_buffer_info info;

        assert_int_equal(bs_sync_file_wait(rd, 20), -ETIME);
        assert_int_equal(bs_sync_file_wait(rd, 0), -ETIME);
        assert_int_equal(bs_buffer_begin_cpu_access_timeout(fx->b, BS_SYNC_READ, 20), -ETIME);
        assert_int_equal(bs_buffer_begin_cpu_access_timeout(fx->b, BS_SYNC_WRITE, 0), -ETIME);
        assert_int_equal(bs_buffer_get_info(fx->b, &info), 0);
        assert_int_equal(info.n_cpu_access, 0); /* nothing begun */
        assert_int_equal(bs_fence_signal(writer, 0), 0);
        assert_int_equal(bs_sync_file_wait(rd, DEADLINE_MS), 0);
        assert_int_equal(bs_buffer_begin_cpu_access_timeout(fx->b, BS_SYNC_WRITE, 0), 0);
        assert_int_equal(bs_buffer_end_cpu_access(fx->b, BS_SYNC_WRITE), 0);
        close(rd);
        bs_fence_destroy(writer);
}

static void merge_of_signalled_pending_and_errored(void **state)
{
        struct fx *fx = *state;
        struct bs_buffer *other = NULL, *idle = NULL;
        struct bs_fence *fa, *fb;
        int pending, errored, signalled, m1, m2, m3, m4;

        assert_int_equal(bs_buffer_export(fx->c, SIZE, NULL, "other", &other), 0);
        assert_int_equal(bs_buffer_export(fx->c, SIZE, NULL, "idle", &idle), 0);
        fa = fence_on(fx, fx->b, BS_SYNC_WRITE);
        fb = fence_on(fx, other, BS_SYNC_WRITE);
        pending = export_sync(fx->b, BS_SYNC_READ);
        errored = export_sync(other, BS_SYNC_READ);
        signalled = export_sync(idle, BS_SYNC_WRITE);
        assert_int_equal(bs_fence_signal(fb, -EIO), 0);
        assert_int_equal(bs_sync_file_wait(errored, DEADLINE_MS), -EIO);

        m1 = bs_sync_file_merge(fx->c, signalled, pending);
        m2 = bs_sync_file_merge(fx->c, errored, pending);
        m3 = bs_sync_file_merge(fx->c, signalled, errored);
        m4 = bs_sync_file_merge(fx->c, signalled, signalled);
        assert_true(m1 >= 0 && m2 >= 0 && m3 >= 0 && m4 >= 0);
        assert_int_equal(bs_sync_file_status(m1), 0);
        assert_int_equal(bs_sync_file_status(m2), 0); /* pending, though one part failed */
        assert_int_equal(bs_sync_file_status(m3), -EIO);
        assert_int_equal(bs_sync_file_status(m4), 1);
        assert_int_equal(bs_fence_signal(fa, 0), 0);
        assert_int_equal(bs_sync_file_wait(m1, DEADLINE_MS), 0);
        assert_int_equal(bs_sync_file_wait(m2, DEADLINE_MS), -EIO);
        assert_int_equal(bs_sync_file_merge(fx->c, m1, -1), -EBADF);
        close(m1);
        close(m2);
        close(m3);
        close(m4);
        close(pending);
        close(errored);
        close(signalled);
        bs_fence_destroy(fa);
        bs_fence_destroy(fb);
        bs_buffer_put(other);
        bs_buffer_put(idle);
}

static void an_imported_sync_file_holds_the_buffer(void **state)
{
        struct fx *fx = *state;
        struct bs_buffer *src = NULL;
        struct bs_fence *f;
        int s, rd, efd = eventfd(0, EFD_CLOEXEC);
        struct child ch;

        assert_int_equal(bs_buffer_export(fx->c, SIZE, NULL, "source", &src), 0);
        f = fence_on(fx, src, BS_SYNC_WRITE);
        s = export_sync(src, BS_SYNC_READ);
        assert_int_equal(bs_buffer_import_sync_file(fx->b, BS_SYNC_WRITE, s), 0);
        rd = export_sync(fx->b, BS_SYNC_READ); /* waits for the imported fence */
        assert_int_equal(bs_sync_file_status(rd), 0);
        waiter_child(&ch, rd);
        assert_int_equal(bs_fence_signal(f, -EIO), 0);
        assert_int_equal(read_int(ch.sock), -EIO);
        child_end(&ch, 0);
        /* what isn't a sync file of this daemon */
        int memfd = bs_buffer_fd(src, O_RDWR | O_CLOEXEC);
        assert_int_equal(bs_buffer_import_sync_file(fx->b, BS_SYNC_READ, efd), -EINVAL);
        assert_int_equal(bs_buffer_import_sync_file(fx->b, BS_SYNC_READ, memfd), -EINVAL);
        assert_int_equal(bs_buffer_import_sync_file(fx->b, 0, s), -EINVAL);
        close(memfd);
        close(efd);
        close(s);
        close(rd);
        bs_fence_destroy(f);
        bs_buffer_put(src);
}

/* ---- 1,000 waiters, one fence ---- */

#define N_WAITERS 1000

/* Import the buffer, make N_WAITERS sync files on it, say so, then wait
 * for every one with epoll and send how many were signalled without error. */
static int thousand_waiters(void *arg)
{
        struct test_peer *a = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        static int fds[N_WAITERS];
        struct epoll_event ev[64];
        int ep = epoll_create1(EPOLL_CLOEXEC), woken = 0, ok = 0;
        uint64_t deadline = test_now_ms() + DEADLINE_MS;

        child_check(ep >= 0 && test_peer_import(a, &c, &b) == 0);
        for (int i = 0; i < N_WAITERS; i++) {
                struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

                fds[i] = bs_buffer_export_sync_file(b, BS_SYNC_WRITE);
                child_check(fds[i] >= 0);
                child_check(bs_sync_file_status(fds[i]) == 0);
                child_check(epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) == 0);
        }
        child_check(write(a->sock, "R", 1) == 1);
        while (woken < N_WAITERS && test_now_ms() < deadline) {
                int n = epoll_wait(ep, ev, 64, (int)(deadline - test_now_ms()));

                for (int i = 0; i < n; i++) {
                        int fd = fds[ev[i].data.u32];

                        ok += bs_sync_file_status(fd) == 1;
                        child_check(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) == 0);
                        woken++;
                }
        }
        child_check(write(a->sock, &ok, sizeof(ok)) == (ssize_t)sizeof(ok));
        for (int i = 0; i < N_WAITERS; i++)
                close(fds[i]);
        close(ep);
        bs_buffer_put(b);
        bs_client_unref(c);
        return 0;
}

static void a_thousand_waiters_on_one_fence_all_wake(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_READ);
        struct test_peer a;
        char ready;
        pid_t pid;

        pid = test_peer_start(&a, fx->daemon.socket, thousand_waiters, fx->b, O_RDWR | O_CLOEXEC);
        assert_true(pid > 0);
        assert_int_equal(test_wait_readable(a.parent, 2 * DEADLINE_MS), 0);
        assert_int_equal(read(a.parent, &ready, 1), 1);
        assert_int_equal(bs_fence_signal(f, 0), 0);
        assert_int_equal(read_int(a.parent), N_WAITERS);
        assert_int_equal(test_wait(pid), 0);
        test_peer_close(&a);
        bs_fence_destroy(f);
}

/* ---- the creator dies ---- */

/* Import the buffer, attach a write and a read fence of its own, say so,
 * then wait to be killed. */
static int fence_creator(void *arg)
{
        struct test_peer *a = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        struct bs_fence *w = NULL, *r = NULL;
        char byte;

        child_check(test_peer_import(a, &c, &b) == 0);
        child_check(bs_fence_create(c, &w) == 0 && bs_fence_attach(w, b, BS_SYNC_WRITE) == 0);
        child_check(bs_fence_create(c, &r) == 0 && bs_fence_attach(r, b, BS_SYNC_READ) == 0);
        child_check(write(a->sock, "R", 1) == 1);
        (void)read(a->sock, &byte, 1); /* until SIGKILL */
        return 1;
}

/* fence_creator() in a peer of @a, once it made its fences: its pid. */
static pid_t fence_creator_ready(struct fx *fx, struct test_peer *a)
{
        pid_t pid = test_peer_start(a, fx->daemon.socket, fence_creator, fx->b, O_RDWR | O_CLOEXEC);
        char ready;

        assert_true(pid > 0);
        assert_int_equal(test_wait_readable(a->parent, DEADLINE_MS), 0);
        assert_int_equal(read(a->parent, &ready, 1), 1);
        return pid;
}

static void a_killed_creator_wakes_every_waiter_with_epipe(void **state)
{
        struct fx *fx = *state;
        struct test_peer a;
        struct child ch;
        int rd, wr, merged;
        uint64_t t0;
        pid_t pid = fence_creator_ready(fx, &a);

        rd = export_sync(fx->b, BS_SYNC_READ);
        wr = export_sync(fx->b, BS_SYNC_WRITE);
        merged = bs_sync_file_merge(fx->c, rd, wr);
        assert_true(merged >= 0);
        assert_int_equal(bs_sync_file_status(rd), 0);
        waiter_child(&ch, rd);

        t0 = test_now_ms();
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(test_wait(pid), 128 + SIGKILL);
        /* at once: no heartbeat, no timeout in the daemon */
        assert_int_equal(bs_sync_file_wait(wr, DEADLINE_MS), -EPIPE);
        assert_int_equal(bs_sync_file_wait(merged, DEADLINE_MS), -EPIPE);
        assert_int_equal(read_int(ch.sock), -EPIPE);
        assert_true(test_now_ms() - t0 < DEADLINE_MS);
        child_end(&ch, 0);
        /* no longer pending: a new sync file is clean */
        close(rd);
        rd = export_sync(fx->b, BS_SYNC_WRITE);
        assert_int_equal(bs_sync_file_status(rd), 1);
        close(rd);
        close(wr);
        close(merged);
        test_peer_close(&a);
}

/* ---- the creator's own wake-up ---- */

/*
 * A fence's first sync file is made ready with the fence, and its
 * creator signals it itself: the waiter wakes, with the status, while
 * the daemon is stopped. A second sync file, the daemon's, waits for the
 * daemon, which then tells the first nothing more.
 */
static void the_creator_wakes_its_first_waiter_without_the_daemon(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        int first = export_sync(fx->b, BS_SYNC_READ), second = export_sync(fx->b, BS_SYNC_READ);
        int32_t s;
        int r, n = 0;

        assert_int_equal(bs_client_sync(fx->c), 0);
        assert_int_equal(kill(fx->daemon.pid, SIGSTOP), 0);
        assert_int_equal(bs_fence_signal(f, -EIO), 0);
        r = bs_sync_file_wait(first, DEADLINE_MS);
        assert_int_equal(bs_sync_file_status(second), 0); /* pending: the daemon sleeps */
        assert_int_equal(kill(fx->daemon.pid, SIGCONT), 0);
        assert_int_equal(r, -EIO);
        assert_int_equal(bs_sync_file_wait(second, DEADLINE_MS), -EIO);
        assert_int_equal(bs_client_sync(fx->c), 0);
        while (recv(first, &s, sizeof(s), MSG_DONTWAIT) == (ssize_t)sizeof(s))
                n++;
        assert_int_equal(n, 1);
        close(first);
        close(second);
        bs_fence_destroy(f);
}

/* An fd that is not a sync file is -EINVAL at once, whatever its kind:
 * one that never becomes readable (a pipe, an eventfd, a socket of
 * another type) must not read as pending, or wait for ever. */
static void what_is_not_a_sync_file_is_einval_at_once(void **state)
{
        int p[2], st[2], dg[2], ev;

        (void)state;
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg), 0);
        ev = eventfd(0, EFD_CLOEXEC);
        assert_true(ev >= 0);
        int fds[] = { p[0], p[1], st[0], dg[0], ev };
        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
                assert_int_equal(bs_sync_file_status(fds[i]), -EINVAL);
                assert_int_equal(bs_sync_file_wait(fds[i], 0), -EINVAL);
                uint64_t start = test_now_ms();
                assert_int_equal(bs_sync_file_wait(fds[i], -1), -EINVAL); /* not for ever */
                assert_true(test_now_ms() - start < DEADLINE_MS);
        }
        close(p[0]);
        close(p[1]);
        close(st[0]);
        close(st[1]);
        close(dg[0]);
        close(dg[1]);
        close(ev);
        assert_int_equal(bs_sync_file_wait(ev, 0), -EBADF); /* closed */
}

/* ---- what a waiter does to its own fd ---- */

static void a_waiter_playing_with_its_own_fd_signals_nobody(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        int mine = export_sync(fx->b, BS_SYNC_READ), theirs = export_sync(fx->b, BS_SYNC_READ);
        int32_t fake = 0;
        char byte;

        /* the daemon's end takes nothing (what waited in it, fds too,
         * would be closed by the daemon): writes to it are refused */
        assert_int_equal(send(mine, &fake, sizeof(fake), MSG_DONTWAIT | MSG_NOSIGNAL), -1);
        assert_int_equal(errno, EPIPE);
        assert_int_equal(send(mine, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL), -1);
        assert_int_equal(errno, EPIPE);
        assert_int_equal(recv(mine, &byte, 1, MSG_DONTWAIT), -1);
        assert_int_equal(errno, EAGAIN);
        assert_int_equal(bs_sync_file_status(mine), 0);
        assert_int_equal(bs_sync_file_status(theirs), 0);
        /* breaking its own end harms only itself */
        assert_int_equal(shutdown(mine, SHUT_RDWR), 0);
        assert_int_equal(bs_sync_file_status(mine), -EINVAL);
        assert_int_equal(bs_sync_file_status(theirs), 0);
        assert_int_equal(bs_fence_signal(f, 0), 0);
        assert_int_equal(bs_sync_file_wait(theirs, DEADLINE_MS), 0);
        close(mine);
        close(theirs);
        bs_fence_destroy(f);
}

/* ---- begin_cpu_access waits ---- */

struct begin_report {
        int status;       /* the first begin */
        int retry_status; /* a second begin, if the first failed */
        uint8_t marker;
        uint64_t returned_ns;
};

/* Import, say "beginning", begin a read (it must wait for the parent's
 * write fence), and report when it returned and what it read. */
static int begin_reader(void *arg)
{
        struct test_peer *a = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        struct begin_report rep = { 0 };
        uint8_t *map;

        child_check(test_peer_import(a, &c, &b) == 0);
        child_check(bs_buffer_mmap(b, 0, SIZE, BS_PROT_READ, (void **)&map) == 0);
        child_check(write(a->sock, "B", 1) == 1);
        rep.status = bs_buffer_begin_cpu_access(b, BS_SYNC_READ);
        rep.returned_ns = now_ns();
        rep.marker = map[0];
        if (rep.status < 0)
                rep.retry_status = bs_buffer_begin_cpu_access(b, BS_SYNC_READ);
        child_check(bs_buffer_end_cpu_access(b, BS_SYNC_READ) == 0);
        child_check(write(a->sock, &rep, sizeof(rep)) == (ssize_t)sizeof(rep));
        bs_buffer_munmap(b, map, SIZE);
        bs_buffer_put(b);
        bs_client_unref(c);
        return 0;
}

/*
 * Start begin_reader() while @f (a write fence on fx->b) is pending, see
 * it wait, write the marker, signal @f with @status, and collect the
 * report. The reader is waiting once the daemon holds its sync file's
 * end: one fd more than before, besides the reader's connection (asked
 * with round trips, never by sleeping), and info shows nobody inside
 * CPU access.
 */
static void run_begin_reader(struct fx *fx, struct bs_fence *f, int status, struct begin_report *rep,
                             uint64_t *ret_signalled_ns)
{
        struct bs_buffer_info info;
        struct test_peer a;
        uint64_t deadline;
        uint8_t *map;
        int baseline;
        char byte;
        pid_t pid;

        assert_int_equal(bs_buffer_mmap(fx->b, 0, SIZE, BS_PROT_READ | BS_PROT_WRITE, (void **)&map), 0);
        assert_int_equal(bs_client_sync(fx->c), 0);
        baseline = test_count_fds_of(fx->daemon.pid);
        pid = test_peer_start(&a, fx->daemon.socket, begin_reader, fx->b, O_RDWR | O_CLOEXEC);
        assert_true(pid > 0);
        assert_int_equal(test_wait_readable(a.parent, DEADLINE_MS), 0);
        assert_int_equal(read(a.parent, &byte, 1), 1);
        deadline = test_now_ms() + DEADLINE_MS;
        /* exactly two more, the reader's connection and its sync file's
         * end: while it answers the export, the daemon also holds the
         * waiter's end for a moment. Not the fence's ready-made sync
         * file (that would be none more): a CPU access waits for the
         * daemon's word, or, asking again, it could find the fence still
         * pending and report its error twice */
        while (test_count_fds_of(fx->daemon.pid) != baseline + 2 && test_now_ms() < deadline)
                assert_int_equal(bs_client_sync(fx->c), 0);
        assert_int_equal(test_count_fds_of(fx->daemon.pid), baseline + 2);
        assert_int_equal(bs_buffer_get_info(fx->b, &info), 0);
        assert_int_equal(info.n_cpu_access, 0);

        map[0] = 0x5a; /* the write the fence stood for */
        *ret_signalled_ns = now_ns();
        assert_int_equal(bs_fence_signal(f, status), 0);
        assert_int_equal(test_wait_readable(a.parent, DEADLINE_MS), 0);
        assert_int_equal(read(a.parent, rep, sizeof(*rep)), (ssize_t)sizeof(*rep));
        assert_int_equal(test_wait(pid), 0);
        test_peer_close(&a);
        bs_buffer_munmap(fx->b, map, SIZE);
}

static void begin_cpu_access_blocks_until_the_fence_signals(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        struct begin_report rep;
        uint64_t signalled_ns;

        run_begin_reader(fx, f, 0, &rep, &signalled_ns);
        assert_int_equal(rep.status, 0);
        assert_true(rep.returned_ns >= signalled_ns);
        assert_int_equal(rep.marker, 0x5a);
        bs_fence_destroy(f);
}

/* A read fence holds writers only: a read begins beside it at once, a
 * write (or read-write) waits for it (DESIGN §2: a write waits on all
 * fences, a read on write fences). */
static void begin_cpu_access_waits_for_a_read_fence_only_to_write(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_READ);
        struct bs_buffer_info info;

        assert_int_equal(bs_buffer_begin_cpu_access_timeout(fx->b, BS_SYNC_READ, 0), 0);
        assert_int_equal(bs_buffer_end_cpu_access(fx->b, BS_SYNC_READ), 0);
        assert_int_equal(bs_buffer_begin_cpu_access_timeout(fx->b, BS_SYNC_WRITE, 20), -ETIME);
        assert_int_equal(bs_buffer_begin_cpu_access_timeout(fx->b, BS_SYNC_READ | BS_SYNC_WRITE, 0), -ETIME);
        assert_int_equal(bs_buffer_get_info(fx->b, &info), 0);
        assert_int_equal(info.n_cpu_access, 0); /* nothing begun */
        assert_int_equal(bs_fence_signal(f, 0), 0);
        assert_int_equal(bs_buffer_begin_cpu_access_timeout(fx->b, BS_SYNC_WRITE, DEADLINE_MS), 0);
        assert_int_equal(bs_buffer_end_cpu_access(fx->b, BS_SYNC_WRITE), 0);
        bs_fence_destroy(f);
}

/* A failed fence: begin reports its error and begins nothing; asked
 * again, it begins (that fence is no longer pending). */
static void begin_cpu_access_reports_a_failed_fence_once(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        struct begin_report rep;
        uint64_t signalled_ns;

        run_begin_reader(fx, f, -ENODEV, &rep, &signalled_ns);
        assert_int_equal(rep.status, -ENODEV);
        assert_true(rep.returned_ns >= signalled_ns);
        assert_int_equal(rep.retry_status, 0);
        bs_fence_destroy(f);
}

/* ---- the pool ---- */

#define POOL_N 3
#define POOL_FRAMES 10000
#define POOL_FRAME (64 * 1024)
#define POOL_WORDS (POOL_FRAME / 4)

struct frame_note {
        uint32_t index, seq; /* seq UINT32_MAX: the end */
};

struct consumer_report {
        uint32_t frames, errors;
};

static uint32_t word_of(uint32_t seq, uint32_t i)
{
        return seq * 2654435761u + i;
}

/* Every word of the frame still is frame @seq's. */
static uint32_t frame_errors(const volatile uint32_t *w, uint32_t seq)
{
        uint32_t bad = 0;

        for (uint32_t i = 0; i < POOL_WORDS; i++)
                bad += w[i] != word_of(seq, i);
        return bad;
}

/* Spin (work, not a sleep) for about @us microseconds. */
static void busy_for_us(unsigned us)
{
        uint64_t end = now_ns() + (uint64_t)us * 1000;

        while (now_ns() < end)
                ;
}

/* A consumer: import the pool's buffers once, map them once, then for
 * each note check the frame, take a while if slow (randomly), check it
 * again (the producer must not have touched it meanwhile), release. */
static int pool_consumer(void *arg)
{
        struct child *ch = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *bufs[POOL_N];
        const uint32_t *maps[POOL_N];
        struct consumer_report rep = { 0 };
        unsigned n_fds = 0, seed = (unsigned)getpid();
        int fds[POOL_N], damage = 0;
        bool slow;
        char byte;

        child_check(test_wait_readable(ch->other, DEADLINE_MS) == 0);
        child_check(bs_fdpass_recv(ch->other, &byte, 1, fds, POOL_N, &n_fds, &damage) == 1 && damage == 0 &&
                    n_fds == POOL_N);
        slow = byte == 'S';
        child_check(bs_client_connect(getenv("POOL_SOCKET"), &c) == 0);
        for (unsigned i = 0; i < POOL_N; i++) {
                child_check(bs_buffer_import(c, fds[i], &bufs[i]) == 0);
                child_check(bs_buffer_mmap(bufs[i], 0, POOL_FRAME, BS_PROT_READ, (void **)&maps[i]) == 0);
                close(fds[i]);
        }
        child_check(write(ch->other, "R", 1) == 1);
        for (;;) {
                struct frame_note note;

                child_check(test_wait_readable(ch->other, DEADLINE_MS) == 0);
                child_check(read(ch->other, &note, sizeof(note)) == (ssize_t)sizeof(note));
                if (note.seq == UINT32_MAX)
                        break;
                child_check(note.index < POOL_N);
                rep.errors += frame_errors(maps[note.index], note.seq) != 0;
                if (slow) /* mostly short, now and then much longer */
                        busy_for_us(rand_r(&seed) % 16 == 0 ? 500 : rand_r(&seed) % 100);
                rep.errors += frame_errors(maps[note.index], note.seq) != 0;
                child_check(bs_buffer_release_read(bufs[note.index], 0) == 0);
                rep.frames++;
        }
        child_check(write(ch->other, &rep, sizeof(rep)) == (ssize_t)sizeof(rep));
        for (unsigned i = 0; i < POOL_N; i++) {
                bs_buffer_munmap(bufs[i], (void *)maps[i], POOL_FRAME);
                bs_buffer_put(bufs[i]);
        }
        bs_client_unref(c);
        return 0;
}

static void the_pool_never_hands_out_a_buffer_still_read(void **state)
{
        struct fx *fx = *state;
        struct bs_pool *pool = NULL;
        struct child ch[2];
        int fds[POOL_N];
        char byte;

        setenv("POOL_SOCKET", fx->daemon.socket, 1);
        assert_int_equal(bs_pool_create(fx->c, POOL_N, POOL_FRAME, NULL, "frames", &pool), 0);
        for (unsigned k = 0; k < 2; k++) {
                child_start(&ch[k], pool_consumer, NULL);
                for (unsigned i = 0; i < POOL_N; i++) {
                        struct bs_buffer *b;
                        assert_int_equal(bs_pool_get_buffer(pool, i, &b, NULL), 0);
                        fds[i] = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
                }
                assert_int_equal(bs_fdpass_send(ch[k].sock, k ? "S" : "F", 1, fds, POOL_N), 0);
                for (unsigned i = 0; i < POOL_N; i++)
                        close(fds[i]);
        }
        for (unsigned k = 0; k < 2; k++) {
                assert_int_equal(test_wait_readable(ch[k].sock, DEADLINE_MS), 0);
                assert_int_equal(read(ch[k].sock, &byte, 1), 1);
        }
        for (uint32_t seq = 0; seq < POOL_FRAMES; seq++) {
                struct frame_note note = { .seq = seq };
                uint32_t *w;

                assert_int_equal(bs_pool_acquire(pool, DEADLINE_MS, &note.index), 0);
                assert_int_equal(bs_pool_get_buffer(pool, note.index, NULL, (void **)&w), 0);
                for (uint32_t i = 0; i < POOL_WORDS; i++)
                        w[i] = word_of(seq, i);
                assert_int_equal(bs_pool_submit(pool, note.index), 2);
                for (unsigned k = 0; k < 2; k++)
                        assert_int_equal(write(ch[k].sock, &note, sizeof(note)), (ssize_t)sizeof(note));
        }
        for (unsigned k = 0; k < 2; k++) {
                struct frame_note end = { .seq = UINT32_MAX };
                struct consumer_report rep;

                assert_int_equal(write(ch[k].sock, &end, sizeof(end)), (ssize_t)sizeof(end));
                assert_int_equal(test_wait_readable(ch[k].sock, DEADLINE_MS), 0);
                assert_int_equal(read(ch[k].sock, &rep, sizeof(rep)), (ssize_t)sizeof(rep));
                assert_int_equal(rep.frames, POOL_FRAMES);
                assert_int_equal(rep.errors, 0);
                child_end(&ch[k], 0);
        }
        pool = bs_pool_destroy(pool);
        assert_null(pool);
}

static void pool_acquire_waits_and_times_out(void **state)
{
        struct fx *fx = *state;
        struct bs_pool *pool = NULL;
        struct bs_buffer *b, *imp = NULL;
        unsigned i0, i1, i;
        int fd;

        assert_int_equal(bs_pool_create(fx->c, 2, 4096, NULL, NULL, &pool), 0);
        assert_int_equal(bs_pool_acquire(pool, 0, &i0), 0);
        assert_int_equal(bs_pool_acquire(pool, 0, &i1), 0);
        assert_int_not_equal(i0, i1);
        assert_int_equal(bs_pool_acquire(pool, 0, &i), -EBUSY); /* both the producer's */
        /* a consumer of buffer i0 on another connection */
        assert_int_equal(bs_pool_get_buffer(pool, i0, &b, NULL), 0);
        struct bs_client *c2 = NULL;
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c2), 0);
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        assert_int_equal(bs_buffer_import(c2, fd, &imp), 0);
        close(fd);
        assert_int_equal(bs_pool_submit(pool, i0), 1);
        assert_int_equal(bs_pool_submit(pool, i0), -EINVAL); /* not acquired */
        assert_int_equal(bs_pool_acquire(pool, 20, &i), -ETIME); /* i0 read, i1 acquired */
        assert_int_equal(bs_buffer_release_read(imp, -EIO), 0);
        assert_int_equal(bs_client_sync(c2), 0);
        /* a reader that failed is done with it all the same */
        assert_int_equal(bs_pool_acquire(pool, DEADLINE_MS, &i), 0);
        assert_int_equal(i, i0);
        assert_int_equal(bs_pool_get_buffer(pool, 2, NULL, NULL), -EINVAL);
        assert_int_equal(bs_pool_create(fx->c, 0, 4096, NULL, NULL, &pool), -EINVAL);
        assert_int_equal(bs_pool_create(fx->c, 2, 4096, NULL, "a-name-that-is-too-long-for-it", &pool), -EINVAL);
        bs_buffer_put(imp);
        bs_client_unref(c2);
        bs_pool_destroy(pool);
}

/* A pool, and one consumer of its buffer 0. */
struct pool_pair {
        struct bs_pool *pool;
        struct bs_client *c2;  /* the consumer's connection */
        struct bs_buffer *imp; /* its read-only import of buffer 0 */
};

/* A pool of @n buffers whose buffer 0 a consumer on a connection of its
 * own reads. */
static struct pool_pair pool_with_consumer(struct fx *fx, unsigned n)
{
        struct pool_pair pp = { .pool = NULL };
        struct bs_buffer *b;
        int fd;

        assert_int_equal(bs_pool_create(fx->c, n, 4096, NULL, NULL, &pp.pool), 0);
        assert_int_equal(bs_pool_get_buffer(pp.pool, 0, &b, NULL), 0);
        assert_int_equal(bs_client_connect(fx->daemon.socket, &pp.c2), 0);
        fd = bs_buffer_fd(b, O_RDONLY | O_CLOEXEC);
        assert_int_equal(bs_buffer_import(pp.c2, fd, &pp.imp), 0);
        close(fd);
        return pp;
}

static void pool_pair_free(struct pool_pair *pp)
{
        bs_buffer_put(pp->imp);
        bs_client_unref(pp->c2);
        bs_pool_destroy(pp->pool);
}

/* bs_pool_acquire() while the daemon is SIGSTOPped: what acquire does
 * without asking it (asking would fail, with a short client timeout). */
static int acquire_with_daemon_stopped(struct fx *fx, struct bs_pool *pool, unsigned *ret_index)
{
        int r;

        assert_int_equal(kill(fx->daemon.pid, SIGSTOP), 0);
        r = bs_pool_acquire(pool, DEADLINE_MS, ret_index);
        assert_int_equal(kill(fx->daemon.pid, SIGCONT), 0);
        return r;
}

/* Pending sync files of @b's into @kept (at most 8) until the uid may
 * make no more: how many; the refusal must be -EDQUOT. */
static int sync_files_until_refused(struct bs_buffer *b, int kept[8])
{
        int n = 0, r;

        while ((r = bs_buffer_export_sync_file(b, BS_SYNC_READ)) >= 0 && n < 8)
                kept[n++] = r;
        assert_int_equal(r, -EDQUOT);
        return n;
}

/* The submit's reply brings the WRITE sync file acquire polls: once the
 * consumer has released the frame with @status, acquire needs no daemon
 * at all. */
static void release_then_acquire_without_the_daemon(struct fx *fx, int status)
{
        struct pool_pair pp = pool_with_consumer(fx, 1);
        unsigned i;

        assert_int_equal(bs_client_set_timeout(fx->c, 2000), 0); /* asking would fail -ETIMEDOUT */
        assert_int_equal(bs_pool_acquire(pp.pool, 0, &i), 0);
        assert_int_equal(bs_pool_submit(pp.pool, i), 1);
        assert_int_equal(bs_pool_acquire(pp.pool, 0, &i), -ETIME); /* read */
        assert_int_equal(bs_buffer_release_read(pp.imp, status), 0);
        assert_int_equal(bs_client_sync(pp.c2), 0); /* the daemon has seen the release */
        assert_int_equal(acquire_with_daemon_stopped(fx, pp.pool, &i), 0);
        assert_int_equal(i, 0);
        /* and the connection is as good as before */
        assert_int_equal(bs_pool_submit(pp.pool, i), 1);
        assert_int_equal(bs_pool_acquire(pp.pool, 0, &i), -ETIME);
        pool_pair_free(&pp);
}

static void pool_acquire_after_the_release_asks_the_daemon_nothing(void **state)
{
        release_then_acquire_without_the_daemon(*state, 0);
}

/* -EINVAL is a status a consumer may release with like any other (a
 * frame it found bad): the sync file that carries it is signalled, and
 * acquire hands the buffer out without asking the daemon, as for 0. */
static void pool_acquire_after_a_release_with_einval_asks_the_daemon_nothing(void **state)
{
        release_then_acquire_without_the_daemon(*state, -EINVAL);
}

/* A consumer reads buffer 0 when the daemon ends by @sig (exiting with
 * @exit_status): acquire reports the broken connection, as any call
 * would, and for good, whatever the submit's sync file then says. */
static void acquire_after_the_daemon_ends(struct fx *fx, int sig, int exit_status)
{
        struct pool_pair pp = pool_with_consumer(fx, 1);
        unsigned i;
        int r;

        assert_int_equal(bs_pool_acquire(pp.pool, 0, &i), 0);
        assert_int_equal(bs_pool_submit(pp.pool, i), 1);
        assert_int_equal(kill(fx->daemon.pid, sig), 0);
        assert_int_equal(test_daemon_wait(&fx->daemon), exit_status);
        if (sig == SIGKILL)
                unlink(fx->daemon.socket); /* a killed daemon leaves it */
        r = bs_pool_acquire(pp.pool, DEADLINE_MS, &i);
        assert_true(r == -EPIPE || r == -ECONNRESET);
        assert_int_equal(bs_pool_acquire(pp.pool, 0, &i), r); /* sticky */
        pool_pair_free(&pp);
}

/* Polled directly, a signalled sync file is readable (POLLHUP may come
 * with it); so is one the daemon left unsignalled, by dying, with
 * POLLHUP, and that one says -EINVAL: no status, now or ever. (The
 * fence's first waiter gets its ready-made sync file, whose other end
 * is the fence creator's, alive here: the second is the daemon's alone.) */
static void a_sync_file_the_daemon_left_unsignalled_is_einval(void **state)
{
        struct fx *fx = *state;
        int done = export_sync(fx->b, BS_SYNC_READ);
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        int first = export_sync(fx->b, BS_SYNC_READ), pending = export_sync(fx->b, BS_SYNC_READ);
        struct pollfd p[2] = { { .fd = done, .events = POLLIN }, { .fd = pending, .events = POLLIN } };

        assert_int_equal(poll(p, 2, 0), 1);
        assert_true(p[0].revents & POLLIN);
        assert_int_equal(p[1].revents, 0);
        assert_int_equal(kill(fx->daemon.pid, SIGKILL), 0);
        assert_int_equal(test_daemon_wait(&fx->daemon), 128 + SIGKILL);
        unlink(fx->daemon.socket);
        assert_int_equal(poll(&p[1], 1, DEADLINE_MS), 1);
        assert_int_equal(p[1].revents & (POLLIN | POLLHUP), POLLIN | POLLHUP);
        assert_int_equal(bs_sync_file_wait(pending, DEADLINE_MS), -EINVAL);
        assert_int_equal(bs_sync_file_status(pending), -EINVAL);
        assert_int_equal(bs_sync_file_status(done), 1); /* what it said stays */
        close(done);
        close(first);
        close(pending);
        bs_fence_destroy(f);
}

/* The daemon dies while a consumer reads: the sync file the submit
 * brought back ends with no status, which frees no buffer. */
static void pool_acquire_after_the_daemon_died_reports_it(void **state)
{
        acquire_after_the_daemon_ends(*state, SIGKILL, 128 + SIGKILL);
}

/* The daemon is stopped (a restart) while a consumer, alive, reads: on
 * its way out it ends every connection's fences with -EPIPE, which is
 * what the submit's sync file then says, as if the consumer had died.
 * The consumer did not: acquire must not hand the buffer out. */
static void pool_acquire_after_the_daemon_stopped_reports_it(void **state)
{
        acquire_after_the_daemon_ends(*state, SIGTERM, 0);
}

/* In a child of its own: a producer with no fd to spare submits. Its
 * reply's sync file can't be received, but the submit stood (the
 * consumer has its read fence): bs_pool_submit() says so, the slot is
 * no longer the producer's, and the next acquire asks for a sync file. */
static int submit_out_of_fds_child(void *arg)
{
        const char *socket = arg;
        struct bs_client *c = NULL, *c2 = NULL;
        struct bs_buffer *b, *imp = NULL;
        struct bs_pool *pool = NULL;
        struct rlimit rl, low;
        int fd, fillers[64], n_fillers = 0, r;
        unsigned i;

        child_check(bs_client_connect(socket, &c) == 0);
        child_check(bs_client_connect(socket, &c2) == 0);
        child_check(bs_pool_create(c, 1, 4096, NULL, NULL, &pool) == 0);
        child_check(bs_pool_get_buffer(pool, 0, &b, NULL) == 0);
        fd = bs_buffer_fd(b, O_RDONLY | O_CLOEXEC);
        child_check(fd >= 0 && bs_buffer_import(c2, fd, &imp) == 0);
        close(fd);
        child_check(bs_pool_acquire(pool, 0, &i) == 0);
        child_check(getrlimit(RLIMIT_NOFILE, &rl) == 0);
        low = rl;
        low.rlim_cur = (rlim_t)test_count_open_fds() + 1;
        child_check(setrlimit(RLIMIT_NOFILE, &low) == 0);
        while (n_fillers < 64 && (fd = dup(0)) >= 0) /* no fd left at all */
                fillers[n_fillers++] = fd;
        child_check(fd < 0 && errno == EMFILE);
        r = bs_pool_submit(pool, i);
        for (int k = 0; k < n_fillers; k++)
                close(fillers[k]);
        child_check(setrlimit(RLIMIT_NOFILE, &rl) == 0);
        child_check(r == 1);
        child_check(bs_pool_acquire(pool, 0, &i) == -ETIME); /* read */
        child_check(bs_buffer_release_read(imp, 0) == 0);
        child_check(bs_client_sync(c2) == 0);
        child_check(bs_pool_acquire(pool, DEADLINE_MS, &i) == 0 && i == 0);
        child_check(bs_pool_submit(pool, i) == 1);
        bs_buffer_put(imp);
        bs_client_unref(c2);
        bs_pool_destroy(pool);
        bs_client_unref(c);
        return 0;
}

static void a_submit_stands_when_the_producer_cannot_take_its_sync_file(void **state)
{
        struct fx *fx = *state;

        assert_int_equal(test_wait(test_fork(submit_out_of_fds_child, fx->daemon.socket)), 0);
}

/* A buffer acquire can't ask about (the uid holds all the sync files it
 * may) doesn't hide one whose kept sync file says it is free. */
static void pool_acquire_hands_out_a_free_buffer_past_one_it_cannot_ask_about(void **state)
{
        struct fx *fx = *state;
        struct pool_pair pp = pool_with_consumer(fx, 2);
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        int kept[8], n_kept;
        unsigned i;

        assert_int_equal(bs_pool_acquire(pp.pool, 0, &i), 0);
        assert_int_equal(i, 0); /* the one the consumer reads */
        assert_int_equal(bs_pool_submit(pp.pool, 0), 1);
        assert_int_equal(bs_buffer_release_read(pp.imp, 0), 0);
        assert_int_equal(bs_client_sync(pp.c2), 0);
        /* the uid at its bound: the never-used buffer can't be asked about */
        n_kept = sync_files_until_refused(fx->b, kept);
        assert_int_equal(bs_pool_acquire(pp.pool, 0, &i), 0);
        assert_int_equal(i, 0);
        /* and with none free, the refusal is the answer */
        assert_int_equal(bs_pool_acquire(pp.pool, 0, &i), -EDQUOT);
        assert_int_equal(bs_fence_signal(f, 0), 0);
        for (int k = 0; k < n_kept; k++)
                close(kept[k]);
        bs_fence_destroy(f);
        pool_pair_free(&pp);
}

/* No sync file can be made for the uid: the submit stands all the same
 * (the consumer has its read fence), and the acquire that has to ask for
 * one says why it can't, and loses nothing. */
static void a_submit_stands_when_its_sync_file_cannot_be_made(void **state)
{
        struct fx *fx = *state;
        struct pool_pair pp = pool_with_consumer(fx, 1);
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        int kept[8], n_kept;
        unsigned i;

        assert_int_equal(bs_pool_acquire(pp.pool, 0, &i), 0);
        n_kept = sync_files_until_refused(fx->b, kept); /* the uid holds all it may */
        assert_int_equal(bs_pool_submit(pp.pool, i), 1);
        assert_int_equal(bs_pool_acquire(pp.pool, 0, &i), -EDQUOT);
        /* the consumer's read fence exists: releasing it is no error */
        assert_int_equal(bs_buffer_release_read(pp.imp, 0), 0);
        assert_int_equal(bs_client_sync(pp.c2), 0);
        assert_int_equal(bs_fence_signal(f, 0), 0);
        for (int k = 0; k < n_kept; k++) {
                assert_int_equal(bs_sync_file_wait(kept[k], DEADLINE_MS), 0);
                close(kept[k]);
        }
        assert_int_equal(bs_pool_acquire(pp.pool, DEADLINE_MS, &i), 0);
        assert_int_equal(i, 0);
        bs_fence_destroy(f);
        pool_pair_free(&pp);
}

/* ---- limits, each refused while another client is served ---- */

static void assert_other_client_served(struct fx *fx)
{
        struct bs_client *c2 = NULL;
        struct bs_buffer *b = NULL;
        struct bs_fence *f = NULL;
        int fd;

        assert_int_equal(bs_client_connect(fx->daemon.socket, &c2), 0);
        assert_int_equal(bs_buffer_export(c2, 4096, NULL, "other", &b), 0);
        assert_int_equal(bs_fence_create(c2, &f), 0);
        assert_int_equal(bs_fence_attach(f, b, BS_SYNC_WRITE), 0);
        fd = export_sync(b, BS_SYNC_READ);
        assert_int_equal(bs_sync_file_status(fd), 0);
        assert_int_equal(bs_fence_signal(f, 0), 0);
        assert_int_equal(bs_sync_file_wait(fd, DEADLINE_MS), 0);
        close(fd);
        bs_fence_destroy(f);
        bs_buffer_put(b);
        bs_client_unref(c2);
}

static void fences_per_client_are_limited_with_emfile(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f[4], *extra = NULL;

        for (unsigned i = 0; i < 4; i++)
                assert_int_equal(bs_fence_create(fx->c, &f[i]), 0);
        assert_int_equal(bs_fence_create(fx->c, &extra), -EMFILE);
        assert_null(extra);
        assert_other_client_served(fx);
        f[0] = bs_fence_destroy(f[0]);
        assert_int_equal(bs_client_sync(fx->c), 0); /* the destroy went one way */
        assert_int_equal(bs_fence_create(fx->c, &f[0]), 0);
        for (unsigned i = 0; i < 4; i++)
                bs_fence_destroy(f[i]);
}

static void waiters_per_client_are_limited_with_emfile(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        int fds[4];

        for (unsigned i = 0; i < 3; i++)
                fds[i] = export_sync(fx->b, BS_SYNC_READ);
        fds[3] = export_sync(fx->b, BS_SYNC_WRITE);
        assert_int_equal(bs_buffer_export_sync_file(fx->b, BS_SYNC_WRITE), -EMFILE);
        assert_int_equal(bs_sync_file_merge(fx->c, fds[0], fds[1]), -EMFILE);
        assert_other_client_served(fx);
        assert_int_equal(bs_fence_signal(f, 0), 0);
        for (unsigned i = 0; i < 4; i++) {
                assert_int_equal(bs_sync_file_wait(fds[i], DEADLINE_MS), 0);
                close(fds[i]);
        }
        /* signalled sync files no longer count */
        fds[0] = export_sync(fx->b, BS_SYNC_WRITE);
        close(fds[0]);
        bs_fence_destroy(f);
}

static void waiters_per_fence_are_limited_with_enospc(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        struct bs_client *c2 = NULL;
        struct bs_buffer *b2 = NULL;
        int fds[3], fd = bs_buffer_fd(fx->b, O_RDWR | O_CLOEXEC);

        assert_int_equal(bs_client_connect(fx->daemon.socket, &c2), 0);
        assert_int_equal(bs_buffer_import(c2, fd, &b2), 0);
        close(fd);
        for (unsigned i = 0; i < 3; i++)
                fds[i] = export_sync(fx->b, BS_SYNC_READ);
        /* whoever asks: the fence has as many waiters as it may */
        assert_int_equal(bs_buffer_export_sync_file(b2, BS_SYNC_READ), -ENOSPC);
        assert_other_client_served(fx);
        assert_int_equal(bs_fence_signal(f, 0), 0);
        for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(bs_sync_file_wait(fds[i], DEADLINE_MS), 0);
                close(fds[i]);
        }
        bs_buffer_put(b2);
        bs_client_unref(c2);
        bs_fence_destroy(f);
}

/* ---- sync files a uid leaves behind ---- */

#define NOBODY 65534

/* In a child, as another uid: export a buffer, a sync file pending on a
 * fence of its own, signal it and see it signalled. */
static int sync_file_as_nobody(void *arg)
{
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        struct bs_fence *f = NULL;
        int fd;

        child_check(setenv("BUFSHARE_TIMEOUT_MS", "5000", 1) == 0);
        child_check(setresuid(NOBODY, NOBODY, NOBODY) == 0);
        child_check(bs_client_connect(arg, &c) == 0);
        child_check(bs_buffer_export(c, 4096, NULL, "nobody's", &b) == 0);
        child_check(bs_fence_create(c, &f) == 0);
        child_check(bs_fence_attach(f, b, BS_SYNC_WRITE) == 0);
        fd = bs_buffer_export_sync_file(b, BS_SYNC_READ);
        child_check(fd >= 0);
        child_check(bs_sync_file_status(fd) == 0); /* pending: it cost the daemon an fd */
        child_check(bs_fence_signal(f, 0) == 0);
        child_check(bs_sync_file_wait(fd, DEADLINE_MS) == 0);
        close(fd);
        bs_fence_destroy(f);
        bs_buffer_put(b);
        bs_client_unref(c);
        return 0;
}

/* The daemon's open fds once they stop changing for 200 ms (its closer
 * thread closes hung-up connections a little after the hang-up). */
static int settled_fds_of(pid_t pid)
{
        int n = test_count_fds_of(pid), now;
        uint64_t since = test_now_ms(), start = since;

        while (test_now_ms() - since < 200 && test_now_ms() - start < DEADLINE_MS) {
                usleep(10000);
                now = test_count_fds_of(pid);
                if (now != n) {
                        n = now;
                        since = test_now_ms();
                }
        }
        return n;
}

/* One new connection of the test's uid holding fx->b: its sync files
 * (up to four, --max-waiters-per-client) go to @kept until the daemon
 * refuses one; that refusal, or 0. Then it disconnects. */
static int sync_files_then_disconnect(struct fx *fx, int *kept, int *n_kept, int max_kept)
{
        struct bs_client *c2 = NULL;
        struct bs_buffer *b2 = NULL;
        int fd = bs_buffer_fd(fx->b, O_RDWR | O_CLOEXEC), r = 0;

        assert_int_equal(bs_client_connect(fx->daemon.socket, &c2), 0);
        assert_int_equal(bs_buffer_import(c2, fd, &b2), 0);
        close(fd);
        for (unsigned i = 0; i < 4 && r == 0; i++) {
                int s = bs_buffer_export_sync_file(b2, BS_SYNC_READ);

                if (s < 0) {
                        r = s;
                        break;
                }
                assert_true(*n_kept < max_kept);
                assert_int_equal(bs_sync_file_status(s), 0); /* pending */
                kept[(*n_kept)++] = s;
        }
        bs_buffer_put(b2);
        bs_client_unref(c2);
        return r;
}

/* An imported sync file is a fence that belongs to no connection and
 * lives until the sync file signals: each cost the daemon memory with no
 * bound but every pending sync file's max_waiters_per_fence, so a uid's
 * pending sync files, each imported that many times (onto its own
 * buffers, connection after connection), made the daemon keep the
 * square of the limit. The importer's uid pays for each until it
 * signals, within --max-sync-files-per-uid (-EDQUOT), whatever
 * connection imported it. */
static void imported_sync_files_per_uid_are_limited_with_edquot(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        int fd = export_sync(fx->b, BS_SYNC_WRITE), imported = 0, r = 0;
        struct bs_client *c2 = NULL;
        struct bs_buffer *b2 = NULL;

        /* counted apart from the uid's sync files, within the same bound */
        while (imported < 60 && (r = bs_buffer_import_sync_file(fx->b, BS_SYNC_READ, fd)) == 0)
                imported++;
        assert_int_equal(r, -EDQUOT);
        assert_int_equal(imported, UID_SYNC_FILES);
        /* a new connection of the uid is no way round it */
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c2), 0);
        assert_int_equal(bs_buffer_export(c2, 4096, NULL, "other", &b2), 0);
        assert_int_equal(bs_buffer_import_sync_file(b2, BS_SYNC_READ, fd), -EDQUOT);
        /* signalled, they count no more */
        assert_int_equal(bs_fence_signal(f, 0), 0);
        assert_int_equal(bs_sync_file_wait(fd, DEADLINE_MS), 0);
        close(fd);
        bs_fence_destroy(f);
        f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        fd = export_sync(fx->b, BS_SYNC_WRITE);
        assert_int_equal(bs_buffer_import_sync_file(b2, BS_SYNC_READ, fd), 0);
        assert_int_equal(bs_fence_signal(f, 0), 0);
        close(fd);
        bs_fence_destroy(f);
        bs_buffer_put(b2);
        bs_client_unref(c2);
}

/*
 * A pending sync file outlives the connection that made it (its fd may
 * be anywhere by then), so sync files are bounded per uid, whether or not
 * their makers are still connected: one uid that makes sync files on a
 * fence another of its connections keeps pending, keeps them and
 * reconnects, again and again, gets -EDQUOT once it has
 * --max-sync-files-per-uid, on every connection; the daemon's fds stay
 * bounded; another uid still exports and makes sync files; and once the
 * fence signals, the uid may make as many again. (Before: each new
 * connection made --max-waiters-per-client more, each an fd of the
 * daemon's until the fence signalled, until the daemon had none left.)
 */
static void sync_files_per_uid_outlive_connections_and_are_limited_with_edquot(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE); /* fx->c keeps it pending */
        struct bs_client *c3 = NULL;
        struct bs_buffer *b3 = NULL;
        int kept[UID_SYNC_FILES], n_kept = 0, before, during, after, refused = 0, other = -1, fd;

        assert_int_equal(bs_client_sync(fx->c), 0);
        before = settled_fds_of(fx->daemon.pid);
        for (unsigned round = 0; round < 16; round++) {
                int r = sync_files_then_disconnect(fx, kept, &n_kept, UID_SYNC_FILES);

                if (r == 0)
                        continue;
                assert_int_equal(r, -EDQUOT);
                refused++;
        }
        assert_int_equal(n_kept, UID_SYNC_FILES);
        assert_int_equal(refused, 15); /* round 1 made four, round 2 two, then none */
        /* the uid's live connection, which made none, is refused as well */
        assert_int_equal(bs_buffer_export_sync_file(fx->b, BS_SYNC_READ), -EDQUOT);
        assert_int_equal(bs_sync_file_merge(fx->c, kept[0], kept[1]), -EDQUOT);
        assert_int_equal(bs_client_sync(fx->c), 0);
        during = settled_fds_of(fx->daemon.pid);
        printf("daemon fds: %d before, %d with the uid at its bound\n", before, during);
        assert_true(during <= before + UID_SYNC_FILES + 2);

        /* another uid is served: exports, and a pending sync file */
        if (getuid() == 0) {
                assert_int_equal(chmod(fx->daemon.dir, 0755), 0); /* nobody may reach the socket */
                other = test_wait(test_fork(sync_file_as_nobody, fx->daemon.socket));
        }

        /* the fence signals: every sync file kept says so, and none counts any more */
        assert_int_equal(bs_fence_signal(f, 0), 0);
        for (int i = 0; i < n_kept; i++) {
                assert_int_equal(bs_sync_file_wait(kept[i], DEADLINE_MS), 0);
                close(kept[i]);
        }
        bs_fence_destroy(f);
        f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        n_kept = 0;
        assert_int_equal(sync_files_then_disconnect(fx, kept, &n_kept, UID_SYNC_FILES), 0);
        /* two more from a live connection reach the bound again, exactly */
        fd = bs_buffer_fd(fx->b, O_RDWR | O_CLOEXEC);
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c3), 0);
        assert_int_equal(bs_buffer_import(c3, fd, &b3), 0);
        close(fd);
        kept[n_kept++] = export_sync(b3, BS_SYNC_READ);
        kept[n_kept++] = export_sync(fx->b, BS_SYNC_READ);
        assert_int_equal(bs_buffer_export_sync_file(b3, BS_SYNC_READ), -EDQUOT);
        /* a destroyed fence lets its sync files go too (-ECANCELED) */
        bs_fence_destroy(f);
        for (int i = 0; i < n_kept; i++) {
                assert_int_equal(bs_sync_file_wait(kept[i], DEADLINE_MS), -ECANCELED);
                close(kept[i]);
        }
        f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        fd = export_sync(b3, BS_SYNC_READ);
        assert_int_equal(bs_fence_signal(f, 0), 0);
        assert_int_equal(bs_sync_file_wait(fd, DEADLINE_MS), 0);
        close(fd);
        bs_fence_destroy(f);
        bs_buffer_put(b3);
        bs_client_unref(c3);
        assert_int_equal(bs_client_sync(fx->c), 0);
        after = settled_fds_of(fx->daemon.pid);
        printf("daemon fds: %d once the fence signalled\n", after);
        assert_true(after <= before + 2);
        test_skip_unless(geteuid() == 0, "not root: the other uid's part needs setresuid to nobody");
        assert_int_equal(other, 0);
}

/* ---- fences a uid makes ---- */

/* @n fences of @c's into @f: each must be made. */
static void fences_made(struct bs_client *c, struct bs_fence **f, unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                assert_int_equal(bs_fence_create(c, &f[i]), 0);
}

/* Whether @c is refused one more fence with @want, and gets none. */
static void fence_refused(struct bs_client *c, int want)
{
        struct bs_fence *extra = NULL;

        assert_int_equal(bs_fence_create(c, &extra), want);
        assert_null(extra);
}

/* In a child, as another uid: as many fences as a client of its own may
 * make, whatever the test's uid holds. */
static int fences_as_nobody(void *arg)
{
        struct bs_client *c = NULL;
        struct bs_fence *f[4] = { NULL }, *extra = NULL;

        child_check(setenv("BUFSHARE_TIMEOUT_MS", "5000", 1) == 0);
        child_check(setresuid(NOBODY, NOBODY, NOBODY) == 0);
        child_check(bs_client_connect(arg, &c) == 0);
        for (unsigned i = 0; i < 4; i++)
                child_check(bs_fence_create(c, &f[i]) == 0);
        child_check(bs_fence_create(c, &extra) == -EMFILE); /* its client's bound, not a uid's */
        for (unsigned i = 0; i < 4; i++)
                bs_fence_destroy(f[i]);
        bs_client_unref(c);
        return 0;
}

/*
 * A fence costs the daemon memory until its creator destroys it or
 * closes, and was bounded per connection only: one uid, with as many
 * connections as --max-connections-per-uid, made the daemon keep that
 * many times --max-fences-per-client (some 5 million, a gigabyte, at a
 * 20,000-fd limit) and left other uids without memory. The uid's
 * connections together now make at most --max-fences-per-uid: past it,
 * FENCE_CREATE is refused -EDQUOT, on any of them or a new one, and
 * makes nothing. A signalled fence counts until it is destroyed (its
 * record is kept till then, as for --max-fences-per-client); destroyed,
 * it counts no more. Another uid is not refused.
 */
static void fences_per_uid_are_limited_with_edquot(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f[UID_FENCES];
        struct bs_client *c2 = NULL, *c3 = NULL;
        int fd, other = -1;

        fences_made(fx->c, f, 4);
        fence_refused(fx->c, -EMFILE); /* the connection's own bound comes first */
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c2), 0);
        fences_made(c2, f + 4, UID_FENCES - 4);
        /* c2 has two, under its own bound: its uid has no more */
        fence_refused(c2, -EDQUOT);
        /* a new connection of the uid is no way round it */
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c3), 0);
        fence_refused(c3, -EDQUOT);
        /* refused, nothing lost: the uid's fences work as before */
        assert_int_equal(bs_fence_attach(f[0], fx->b, BS_SYNC_WRITE), 0);
        fd = export_sync(fx->b, BS_SYNC_READ);
        assert_int_equal(bs_sync_file_status(fd), 0);
        assert_int_equal(bs_fence_signal(f[0], 0), 0);
        assert_int_equal(bs_sync_file_wait(fd, DEADLINE_MS), 0);
        close(fd);
        /* signalled, not destroyed: its record is kept, and counts */
        fence_refused(c3, -EDQUOT);

        /* another uid is served */
        if (getuid() == 0) {
                assert_int_equal(chmod(fx->daemon.dir, 0755), 0); /* nobody may reach the socket */
                other = test_wait(test_fork(fences_as_nobody, fx->daemon.socket));
        }

        /* destroyed, it counts no more: one more, exactly */
        f[0] = bs_fence_destroy(f[0]);
        assert_int_equal(bs_client_sync(fx->c), 0); /* the destroy went one way */
        assert_int_equal(bs_fence_create(c3, &f[0]), 0);
        fence_refused(c3, -EDQUOT);
        fence_refused(fx->c, -EDQUOT);
        /* an unsignalled one destroyed (-ECANCELED) gives its share back too */
        f[5] = bs_fence_destroy(f[5]);
        assert_int_equal(bs_client_sync(c2), 0);
        assert_int_equal(bs_fence_create(fx->c, &f[5]), 0);
        fence_refused(c2, -EDQUOT);
        for (unsigned i = 0; i < UID_FENCES; i++)
                bs_fence_destroy(f[i]);
        bs_client_unref(c3);
        bs_client_unref(c2);
        test_skip_unless(geteuid() == 0, "not root: the other uid's part needs setresuid to nobody");
        assert_int_equal(other, 0);
}

/* A connection that closes takes its fences with it (its unsignalled
 * ones signalled -EPIPE): their share of its uid's bound comes back. */
static void a_closing_connection_gives_its_uids_fences_back(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f[UID_FENCES];
        struct bs_client *c2 = NULL;
        struct test_peer a;
        int wr;
        /* a process of the same uid makes two fences on the buffer */
        pid_t pid = fence_creator_ready(fx, &a);

        fences_made(fx->c, f, 4);
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c2), 0);
        fence_refused(c2, -EDQUOT);
        wr = export_sync(fx->b, BS_SYNC_WRITE); /* waits for the peer's fences */

        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(test_wait(pid), 128 + SIGKILL);
        /* once the daemon saw it go, its two fences count no more */
        assert_int_equal(bs_sync_file_wait(wr, DEADLINE_MS), -EPIPE);
        close(wr);
        fences_made(c2, f + 4, UID_FENCES - 4);
        fence_refused(c2, -EDQUOT);
        for (unsigned i = 0; i < UID_FENCES; i++)
                bs_fence_destroy(f[i]);
        bs_client_unref(c2);
        test_peer_close(&a);
}

/* The daemon's first log line of limits names the uid's fences. */
static void the_limits_log_line_names_the_fences_per_uid(void **state)
{
        struct test_daemon d = { .capture_log = true };
        const char *args[] = { "--max-fences-per-client", "3", NULL };
        char log[4096] = "", *per_uid;

        (void)state;
        alarm(TEST_TIMEOUT_S);
        assert_int_equal(test_daemon_start(&d, args), 0);
        assert_int_equal(test_daemon_stop_read_log(&d, log, sizeof(log)), 0);
        per_uid = strstr(log, "per uid ");
        assert_non_null(per_uid);
        /* a --max-fences-per-client alone moves the uid's bound with it */
        assert_non_null(strstr(per_uid, " connections, 12 fences, "));
        assert_int_equal(test_daemon_stop(&d), 0);
        alarm(0);
}

/* ---- version 1 ---- */

static void version_1_sessions_keep_their_behaviour(void **state)
{
        struct fx *fx = *state;
        struct bs_fence *f = fence_on(fx, fx->b, BS_SYNC_WRITE);
        struct bs_msg req, rep;
        uint64_t id;
        int s = test_raw_connect(fx->daemon.socket);

        assert_true(s >= 0);
        bs_msg_request(&req, BS_OP_HELLO, 1);
        req.body.hello_req.version_min = 1;
        req.body.hello_req.version_max = 1;
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        assert_int_equal(rep.body.hello_rep.version, 1);
        bs_msg_request(&req, BS_OP_IMPORT, 2);
        bs_msg_add_fd(&req, bs_buffer_fd(fx->b, O_RDWR | O_CLOEXEC));
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        bs_msg_clear(&req);
        id = rep.body.import_rep.id;
        /* a write fence is pending: version 1's begin doesn't wait */
        bs_msg_request(&req, BS_OP_BEGIN_CPU_ACCESS, 3);
        req.body.cpu_access_req.id = id;
        req.body.cpu_access_req.flags = BS_SYNC_READ;
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        /* and knows no fences */
        bs_msg_request(&req, BS_OP_FENCE_CREATE, 4);
        assert_int_equal(test_raw_call(s, &req, &rep), -EOPNOTSUPP);
        bs_msg_request(&req, BS_OP_EXPORT_SYNC_FILE, 5);
        req.body.sync_file_req.buffer_id = id;
        req.body.sync_file_req.flags = BS_SYNC_READ;
        assert_int_equal(test_raw_call(s, &req, &rep), -EOPNOTSUPP);
        close(s);
        bs_fence_destroy(f);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define T_LIMITS(f) cmocka_unit_test_setup_teardown(f, setup_small_limits, teardown)
#define T_UID(f) cmocka_unit_test_setup_teardown(f, setup_sync_files_per_uid, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(a_read_sync_file_waits_for_write_fences_only),
                T(a_write_fence_holds_readers_and_writers),
                T(no_fence_means_signalled_at_once),
                T(an_error_reaches_the_waiter_as_itself),
                T(waiting_times_out_with_etime),
                T(merge_of_signalled_pending_and_errored),
                T(an_imported_sync_file_holds_the_buffer),
                T(a_thousand_waiters_on_one_fence_all_wake),
                T(a_killed_creator_wakes_every_waiter_with_epipe),
                T(a_waiter_playing_with_its_own_fd_signals_nobody),
                T(what_is_not_a_sync_file_is_einval_at_once),
                T(the_creator_wakes_its_first_waiter_without_the_daemon),
                T(begin_cpu_access_blocks_until_the_fence_signals),
                T(begin_cpu_access_reports_a_failed_fence_once),
                T(begin_cpu_access_waits_for_a_read_fence_only_to_write),
                T(the_pool_never_hands_out_a_buffer_still_read),
                T(pool_acquire_waits_and_times_out),
                T(pool_acquire_after_the_release_asks_the_daemon_nothing),
                T(pool_acquire_after_a_release_with_einval_asks_the_daemon_nothing),
                T(a_sync_file_the_daemon_left_unsignalled_is_einval),
                T(pool_acquire_after_the_daemon_died_reports_it),
                T(pool_acquire_after_the_daemon_stopped_reports_it),
                T(a_submit_stands_when_the_producer_cannot_take_its_sync_file),
                cmocka_unit_test_setup_teardown(a_submit_stands_when_its_sync_file_cannot_be_made,
                                                setup_three_sync_files_per_uid, teardown),
                cmocka_unit_test_setup_teardown(pool_acquire_hands_out_a_free_buffer_past_one_it_cannot_ask_about,
                                                setup_three_sync_files_per_uid, teardown),
                T_LIMITS(fences_per_client_are_limited_with_emfile),
                T_LIMITS(waiters_per_client_are_limited_with_emfile),
                T_LIMITS(waiters_per_fence_are_limited_with_enospc),
                T_UID(sync_files_per_uid_outlive_connections_and_are_limited_with_edquot),
                T_UID(imported_sync_files_per_uid_are_limited_with_edquot),
                cmocka_unit_test_setup_teardown(fences_per_uid_are_limited_with_edquot, setup_fences_per_uid,
                                                teardown),
                cmocka_unit_test_setup_teardown(a_closing_connection_gives_its_uids_fences_back,
                                                setup_fences_per_uid, teardown),
                cmocka_unit_test(the_limits_log_line_names_the_fences_per_uid),
                T(version_1_sessions_keep_their_behaviour),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
