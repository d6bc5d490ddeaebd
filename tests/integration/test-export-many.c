/* SPDX-License-Identifier: MIT */
/*
 * bs_buffer_export_many() against the real bufshared: many buffers per
 * request (EXPORT_BATCH), several requests in flight for a larger count,
 * all or nothing, every limit applied to each buffer of a batch, and
 * nothing left behind in the daemon when a batch fails half-way.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "bufshare/bufshare.h"
#include "message.h"
#include "msgio.h"

#define PAGE 4096

static struct bs_client *connect_or_die(struct fx_daemon *fx)
{
        struct bs_client *c = NULL;
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c), 0);
        return c;
}

/* The daemon's fds once it has applied every put and refilled its
 * reserve of fresh memfds (bs_client_sync()). */
static int daemon_fds(struct fx_daemon *fx, struct bs_client *c)
{
        assert_int_equal(bs_client_sync(c), 0);
        return test_count_fds_of(fx->daemon.pid);
}

static void put_all(struct bs_buffer **b, unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                b[i] = bs_buffer_put(b[i]);
}

static void assert_all_null(struct bs_buffer **b, unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                assert_null(b[i]);
}

/* Each buffer is a buffer of its own: sealed, zeroed, its size rounded,
 * its id new, writable through its own mapping only. */
static void a_batch_is_that_many_buffers(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b[5];
        struct bs_buffer_info info;
        int baseline = daemon_fds(fx, c);

        assert_int_equal(bs_buffer_export_many(c, 5, 100, NULL, "many", b), 0);
        for (unsigned i = 0; i < 5; i++) {
                uint8_t *p;
                int fd;

                assert_non_null(b[i]);
                assert_int_equal(bs_buffer_size(b[i]), PAGE);
                if (i > 0)
                        assert_true(bs_buffer_id(b[i]) > bs_buffer_id(b[i - 1]));
                assert_int_equal(bs_buffer_get_info(b[i], &info), 0);
                assert_string_equal(info.name, "many");
                assert_string_equal(info.heap, "system");
                assert_int_equal(info.n_refs, 1);
                assert_int_equal(bs_buffer_vmap(b[i], (void **)&p), 0);
                assert_int_equal(p[0], 0);
                p[0] = (uint8_t)(i + 1);
                assert_int_equal(bs_buffer_vunmap(b[i], p), 0);
                fd = bs_buffer_fd(b[i], O_RDWR | O_CLOEXEC);
                assert_true(fd >= 0);
                assert_int_equal(fcntl(fd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
                                 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
                close(fd);
        }
        for (unsigned i = 0; i < 5; i++) { /* no two share memory */
                uint8_t *p;
                assert_int_equal(bs_buffer_vmap(b[i], (void **)&p), 0);
                assert_int_equal(p[0], i + 1);
                bs_buffer_vunmap(b[i], p);
        }
        assert_int_equal(daemon_fds(fx, c), baseline + 5);
        put_all(b, 5);
        assert_int_equal(daemon_fds(fx, c), baseline);
        bs_client_unref(c);
}

/* More than one request's worth: several requests in flight, every
 * buffer there once. */
static void more_than_a_batch_keeps_requests_in_flight(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = connect_or_die(fx);
        static struct bs_buffer *b[300];
        int baseline = daemon_fds(fx, c);

        for (int round = 0; round < 3; round++) {
                assert_int_equal(bs_buffer_export_many(c, 300, 2 * PAGE, "system", NULL, b), 0);
                for (unsigned i = 0; i < 300; i++) {
                        assert_non_null(b[i]);
                        assert_int_equal(bs_buffer_size(b[i]), 2 * PAGE);
                        if (i > 0)
                                assert_true(bs_buffer_id(b[i]) > bs_buffer_id(b[i - 1]));
                }
                assert_int_equal(daemon_fds(fx, c), baseline + 300);
                put_all(b, 300);
                assert_int_equal(daemon_fds(fx, c), baseline);
        }
        bs_client_unref(c);
}

static void bad_arguments_are_einval(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b[2] = { (void *)1, (void *)1 };
        char long_name[BS_NAME_MAX + 1];

        memset(long_name, 'n', BS_NAME_MAX);
        long_name[BS_NAME_MAX] = '\0';
        assert_int_equal(bs_buffer_export_many(NULL, 2, PAGE, NULL, NULL, b), -EINVAL);
        assert_int_equal(bs_buffer_export_many(c, 2, PAGE, NULL, NULL, NULL), -EINVAL);
        assert_int_equal(bs_buffer_export_many(c, 0, PAGE, NULL, NULL, b), -EINVAL);
        assert_int_equal(bs_buffer_export_many(c, 2, 0, NULL, NULL, b), -EINVAL);
        assert_int_equal(bs_buffer_export_many(c, 2, PAGE, NULL, long_name, b), -EINVAL);
        assert_all_null(b, 2);
        assert_int_equal(bs_buffer_export_many(c, 2, PAGE, "no-such-heap", NULL, b), -ENOENT);
        assert_all_null(b, 2);
        bs_client_unref(c);
}

static int setup_limits(void **state)
{
        static const char *const args[] = { "--max-buffers-per-client", "40", "--max-bytes-per-uid", "100M",
                                            "--max-buffer-size", "1M", NULL };
        return fx_daemon_setup_args(state, args);
}

/* Each buffer of a batch counts against every limit, and a batch that
 * would pass one fails whole: the daemon makes none of it, and what the
 * library's other requests made is put again. */
static void limits_apply_to_each_buffer_and_a_failed_batch_leaves_nothing(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = connect_or_die(fx);
        static struct bs_buffer *b[64], *held[40];
        int baseline = daemon_fds(fx, c);

        /* one request: 36 held + 5 > 40 buffers of this client */
        assert_int_equal(bs_buffer_export_many(c, 36, PAGE, NULL, "held", held), 0);
        assert_int_equal(bs_buffer_export_many(c, 5, PAGE, NULL, NULL, b), -EMFILE);
        assert_all_null(b, 5);
        assert_int_equal(daemon_fds(fx, c), baseline + 36);
        assert_int_equal(bs_buffer_export_many(c, 4, PAGE, NULL, NULL, b), 0); /* exactly up to it */
        put_all(b, 4);
        put_all(held, 36);
        assert_int_equal(daemon_fds(fx, c), baseline);

        /* two requests (32 + 18): the second is refused, the first's 32
         * buffers are put before the call returns */
        assert_int_equal(bs_buffer_export_many(c, 50, PAGE, NULL, NULL, b), -EMFILE);
        assert_all_null(b, 50);
        assert_int_equal(daemon_fds(fx, c), baseline);

        /* the size limit for each buffer */
        assert_int_equal(bs_buffer_export_many(c, 2, (1 << 20) + 1, NULL, NULL, b), -EFBIG);
        assert_all_null(b, 2);
        assert_int_equal(bs_buffer_export_many(c, 3, 1 << 20, NULL, NULL, b), 0);
        put_all(b, 3);
        /* 40 in two requests is exactly the client's limit; one more is not */
        assert_int_equal(bs_buffer_export_many(c, 40, PAGE, NULL, NULL, held), 0);
        assert_int_equal(bs_buffer_export_many(c, 1, PAGE, NULL, NULL, b), -EMFILE);
        put_all(held, 40);
        assert_int_equal(daemon_fds(fx, c), baseline);
        bs_client_unref(c);
}

/* In a child of its own: a process with room for 4 more fds asks for 32
 * buffers. Their reply can't be received whole: -EMFILE, and the library
 * gives back every reference the daemon made, so the next batch of 32
 * fits under the 40 buffers this client may hold. */
static int out_of_fds_child(void *arg)
{
        const char *socket = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b[32];
        struct rlimit rl, low;

        child_check(bs_client_connect(socket, &c) == 0);
        child_check(getrlimit(RLIMIT_NOFILE, &rl) == 0);
        low = rl;
        low.rlim_cur = (rlim_t)test_count_open_fds() + 4;
        child_check(setrlimit(RLIMIT_NOFILE, &low) == 0);
        child_check(bs_buffer_export_many(c, 32, PAGE, NULL, NULL, b) == -EMFILE);
        child_check(setrlimit(RLIMIT_NOFILE, &rl) == 0);
        for (unsigned i = 0; i < 32; i++)
                child_check(b[i] == NULL);
        child_check(bs_client_sync(c) == 0);
        child_check(bs_buffer_export_many(c, 32, PAGE, NULL, NULL, b) == 0);
        put_all(b, 32);
        child_check(bs_client_sync(c) == 0);
        bs_client_unref(c);
        return 0;
}

static void a_reply_the_client_cannot_take_gives_everything_back(void **state)
{
        struct fx_daemon *fx = *state;

        assert_int_equal(test_wait(test_fork(out_of_fds_child, fx->daemon.socket)), 0);
}

static int setup_bytes(void **state)
{
        static const char *const args[] = { "--max-bytes-per-uid", "40K", NULL };
        return fx_daemon_setup_args(state, args);
}

/* The uid's bytes: 10 pages fit, 11 pages don't, and the refused batch
 * takes nothing from the quota. */
static void a_batch_over_the_quota_is_edquot(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b[11];
        int baseline = daemon_fds(fx, c);

        assert_int_equal(bs_buffer_export_many(c, 11, PAGE, NULL, NULL, b), -EDQUOT);
        assert_all_null(b, 11);
        assert_int_equal(daemon_fds(fx, c), baseline);
        assert_int_equal(bs_buffer_export_many(c, 10, PAGE, NULL, NULL, b), 0);
        assert_int_equal(bs_buffer_export_many(c, 1, PAGE, NULL, NULL, b + 10), -EDQUOT);
        put_all(b, 10);
        assert_int_equal(daemon_fds(fx, c), baseline);
        bs_client_unref(c);
}

/* Threads of one client mixing batches and single calls: each gets its
 * own buffers, nothing is lost or left. */
struct mix_args {
        struct bs_client *c;
        int failures;
};

static void *mix_thread(void *arg)
{
        struct mix_args *a = arg;

        for (int k = 0; k < 30; k++) {
                struct bs_buffer *b[40] = { 0 }, *one = NULL;
                unsigned n = 1 + (unsigned)(k * 7) % 40;

                if (bs_buffer_export_many(a->c, n, PAGE, NULL, NULL, b) < 0)
                        a->failures++;
                if (bs_buffer_export(a->c, PAGE, NULL, NULL, &one) < 0)
                        a->failures++;
                for (unsigned i = 0; i < n; i++)
                        if (!b[i] || (i > 0 && bs_buffer_id(b[i]) <= bs_buffer_id(b[i - 1])))
                                a->failures++;
                put_all(b, n);
                bs_buffer_put(one);
        }
        return NULL;
}

static void threads_mix_batches_and_single_calls(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = connect_or_die(fx);
        struct mix_args a[4];
        pthread_t t[4];
        int baseline = daemon_fds(fx, c);

        for (int i = 0; i < 4; i++) {
                a[i] = (struct mix_args){ .c = c };
                assert_int_equal(pthread_create(&t[i], NULL, mix_thread, &a[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                assert_int_equal(a[i].failures, 0);
        }
        assert_int_equal(daemon_fds(fx, c), baseline);
        bs_client_unref(c);
}

/* A call ends at the timeout it started with, whatever another thread
 * sets meanwhile. (Before: the socket's SO_RCVTIMEO, which wakes a
 * reader to look at its deadline, followed bs_client_set_timeout() at
 * once; set to -1 it made the reader's recvmsg() wait for ever, and its
 * call with it, against a daemon that stopped.) */
struct timed_call {
        struct bs_client *c;
        atomic_bool calling;
        int result;
        uint64_t took_ms;
};

static void *sync_timed(void *arg)
{
        struct timed_call *t = arg;
        uint64_t t0 = test_now_ms();

        atomic_store(&t->calling, true);
        t->result = bs_client_sync(t->c);
        t->took_ms = test_now_ms() - t0;
        return NULL;
}

static void a_call_ends_at_its_own_timeout_whatever_is_set_meanwhile(void **state)
{
        struct fx_daemon *fx = *state;
        struct timed_call t = { .c = connect_or_die(fx) };
        struct timespec until;
        pthread_t thread;
        int joined;

        assert_int_equal(bs_client_set_timeout(t.c, 300), 0);
        assert_int_equal(kill(fx->daemon.pid, SIGSTOP), 0);
        assert_int_equal(pthread_create(&thread, NULL, sync_timed, &t), 0);
        while (!atomic_load(&t.calling))
                usleep(1000);
        usleep(100 * 1000); /* it waits for the reply by now */
        assert_int_equal(bs_client_set_timeout(t.c, -1), 0);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 5;
        joined = pthread_timedjoin_np(thread, NULL, &until);
        assert_int_equal(kill(fx->daemon.pid, SIGCONT), 0);
        if (joined != 0)
                pthread_join(thread, NULL);
        assert_int_equal(joined, 0);
        assert_int_equal(t.result, -ETIMEDOUT);
        assert_true(t.took_ms < 2000);
        bs_client_unref(t.c);
}

/* A daemon that answers a batch with another count than asked: the reply
 * is malformed, so the connection is unusable (PROTOCOL.md), as after any
 * malformed reply, and the buffers that reply named are not left held
 * behind the caller's back on a connection that goes on. (Before: the
 * call said -EPROTO, but the connection went on, holding the references
 * the daemon made for it, out of the caller's reach.) */
struct fake_daemon {
        int listen_fd;
};

/* Answers HELLO, each EXPORT_BATCH with one buffer fewer than asked, and
 * SYNC; exits at the hang-up with the number of SYNCs it answered. */
static int fake_daemon_run(void *arg)
{
        struct fake_daemon *f = arg;
        int s = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC), memfd = memfd_create("fake", MFD_CLOEXEC);
        int syncs = 0;

        child_check(s >= 0 && memfd >= 0 && ftruncate(memfd, PAGE) == 0);
        for (;;) {
                struct bs_msg req, rep;
                int r = test_raw_recv(s, &req);

                if (r == -ECONNRESET)
                        break;
                child_check(r == 0);
                if (req.hdr.flags & BS_MSG_NO_REPLY)
                        continue;
                bs_msg_reply(&rep, &req.hdr);
                if (req.hdr.opcode == BS_OP_HELLO) {
                        rep.body.hello_rep.version = 2;
                } else if (req.hdr.opcode == BS_OP_EXPORT_BATCH) {
                        struct bs_export_batch_rep *w = &rep.body.export_batch_rep;

                        child_check(req.body.export_batch_req.count > 1);
                        w->count = req.body.export_batch_req.count - 1;
                        w->size = PAGE;
                        for (unsigned i = 0; i < w->count; i++) {
                                w->ids[i] = i + 1;
                                bs_msg_lend_fd(&rep, memfd);
                        }
                } else if (req.hdr.opcode == BS_OP_SYNC) {
                        syncs++;
                }
                child_check(bs_msg_send(s, &rep) == 0);
                bs_msg_clear(&req);
        }
        close(s);
        return syncs;
}

static void a_batch_answered_with_another_count_breaks_the_connection(void **state)
{
        struct sockaddr_un sa;
        char dir[] = "/tmp/bufshare-fake-XXXXXX";
        struct bs_buffer *b[4] = { 0 };
        struct fake_daemon f;
        struct bs_client *c;
        pid_t pid;

        f.listen_fd = test_listen_private(dir, &sa);
        pid = test_fork(fake_daemon_run, &f);

        assert_int_equal(bs_client_connect(sa.sun_path, &c), 0);
        assert_int_equal(bs_client_set_timeout(c, 5000), 0);
        assert_int_equal(bs_buffer_export_many(c, 4, PAGE, NULL, NULL, b), -EPROTO);
        assert_all_null(b, 4);
        assert_int_equal(bs_client_sync(c), -EPROTO); /* never sent */
        bs_client_unref(c);

        assert_int_equal(test_wait(pid), 0);
        close(f.listen_fd);
        unlink(sa.sun_path);
        rmdir(dir);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_daemon_setup, fx_daemon_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(a_batch_is_that_many_buffers),
                T(more_than_a_batch_keeps_requests_in_flight),
                T(bad_arguments_are_einval),
                cmocka_unit_test_setup_teardown(limits_apply_to_each_buffer_and_a_failed_batch_leaves_nothing,
                                                setup_limits, fx_daemon_teardown),
                cmocka_unit_test_setup_teardown(a_batch_over_the_quota_is_edquot, setup_bytes,
                                                fx_daemon_teardown),
                T(threads_mix_batches_and_single_calls),
                T(a_call_ends_at_its_own_timeout_whatever_is_set_meanwhile),
                cmocka_unit_test_setup_teardown(a_reply_the_client_cannot_take_gives_everything_back, setup_limits,
                                                fx_daemon_teardown),
                cmocka_unit_test_setup_teardown(a_batch_answered_with_another_count_breaks_the_connection,
                                                fx_base_setup, fx_base_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
