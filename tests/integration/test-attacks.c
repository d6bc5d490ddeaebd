/* SPDX-License-Identifier: MIT */
/*
 * The second look at the trust boundary: what an attacker with the
 * source at hand still found after issue 7. One test per hole, each
 * against the real bufshared in real processes; each failed before the
 * commit that carries it.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <grp.h>
#include <poll.h>

#include "bufshare/bufshare.h"
#include "fdpass.h"
#include "message.h"
#include "msgio.h"
#include "peer.h"
#include "util.h"

#define PAGE 4096

static struct bs_client *connect_to(const struct test_daemon *d)
{
        struct bs_client *c = NULL;

        assert_int_equal(bs_client_connect(d->socket, &c), 0);
        return c;
}

/* ---- the client library: many threads on one connection -------------- */

#define CALLERS 500

struct caller {
        struct bs_client *c;
        pthread_barrier_t *start;
        atomic_int *started;
        int result;
};

static void *call_once(void *arg)
{
        struct caller *k = arg;

        pthread_barrier_wait(k->start);
        atomic_fetch_add(k->started, 1);
        k->result = bs_client_sync(k->c);
        return NULL;
}

/* true when no thread of this process but the calling one can run: each
 * waits in the kernel for something only the daemon can cause. */
static bool other_threads_all_wait(void)
{
        char path[300], buf[256];
        struct dirent *e;
        bool all = true;
        DIR *dir = opendir("/proc/self/task");

        assert_non_null(dir);
        while (all && (e = readdir(dir))) {
                FILE *f;
                char *p;

                if (e->d_name[0] == '.' || atoi(e->d_name) == (int)gettid())
                        continue;
                snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue; /* it just ended */
                p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
                fclose(f);
                all = p && p[1] == ' ' && p[2] == 'S';
        }
        closedir(dir);
        return all;
}

/* More threads call at once on one client than the two sockets hold in
 * flight: some callers wait for room to send, which only reading the
 * daemon's replies makes (the daemon stops reading a client that leaves
 * its replies unread). Every call must still be answered. (Before: the
 * reader handed its role to the newest request, whose caller was still
 * waiting to send; no one read any more, and every call ended in
 * -ETIMEDOUT, or hung for ever without a timeout.) */
static void many_threads_on_one_client_are_all_answered(void **state)
{
        struct test_daemon d = {};
        struct caller callers[CALLERS];
        pthread_t threads[CALLERS];
        pthread_barrier_t start;
        atomic_int started = 0;
        struct bs_client *c;
        int failed = 0, first_error = 0;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        c = connect_to(&d);
        /* long enough for a slow sanitized build, short enough for a failure to show */
        assert_int_equal(bs_client_set_timeout(c, 15000), 0);
        assert_int_equal(pthread_barrier_init(&start, NULL, CALLERS), 0);
        /* a stopped daemon lets the requests pile up: both sockets fill */
        assert_int_equal(kill(d.pid, SIGSTOP), 0);
        for (int i = 0; i < CALLERS; i++) {
                callers[i] = (struct caller){ .c = c, .start = &start, .started = &started };
                assert_int_equal(pthread_create(&threads[i], NULL, call_once, &callers[i]), 0);
        }
        while (atomic_load(&started) < CALLERS || !other_threads_all_wait())
                sched_yield();
        assert_int_equal(kill(d.pid, SIGCONT), 0);
        for (int i = 0; i < CALLERS; i++) {
                pthread_join(threads[i], NULL);
                if (callers[i].result != 0) {
                        failed++;
                        first_error = first_error ? first_error : callers[i].result;
                }
        }
        pthread_barrier_destroy(&start);
        if (failed)
                fprintf(stderr, "%d of %d threads failed, the first with %s\n", failed, CALLERS,
                        strerror(-first_error));
        assert_int_equal(failed, 0);
        bs_client_unref(c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

struct timeout_setter {
        struct bs_client *c;
        atomic_bool stop;
};

static void *set_timeouts(void *arg)
{
        struct timeout_setter *t = arg;

        struct bs_limits l;

        assert_int_equal(bs_client_get_limits(t->c, &l), 0);
        for (int i = 0; !atomic_load(&t->stop); i++)
                assert_int_equal(bs_client_set_timeout(t->c, 10000 + i % 2), 0);
        return NULL;
}

/* bs_client_set_timeout() and bs_client_get_limits() while other threads
 * call: the header allows any thread any call. (Before: data races, a
 * call read the timeout, and the first bs_client_get_limits() the
 * limits, without the lock their writers hold; ThreadSanitizer reports
 * them on this test.) */
static void the_timeout_may_change_while_others_call(void **state)
{
        struct timeout_setter t = { 0 };
        struct test_daemon d = {};
        struct bs_limits l;
        pthread_t setter;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        t.c = connect_to(&d);
        assert_int_equal(pthread_create(&setter, NULL, set_timeouts, &t), 0);
        assert_int_equal(bs_client_get_limits(t.c, &l), 0);
        for (int i = 0; i < 200; i++)
                assert_int_equal(bs_client_sync(t.c), 0);
        atomic_store(&t.stop, true);
        pthread_join(setter, NULL);
        bs_client_unref(t.c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

struct sync_call {
        struct bs_client *c;
        atomic_bool in;
        int result;
};

static void *sync_in_thread(void *arg)
{
        struct sync_call *k = arg;

        atomic_store(&k->in, true);
        k->result = bs_client_sync(k->c);
        return NULL;
}

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A call that waits while another thread reads keeps its own deadline:
 * it sleeps on a futex with that deadline, not on the reader's. */
static void a_waiting_call_times_out_on_its_own_deadline(void **state)
{
        struct sync_call reader = { 0 }, waiter = { 0 };
        struct test_daemon d = {};
        pthread_t r, w;
        uint64_t t0;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        reader.c = waiter.c = connect_to(&d);
        assert_int_equal(kill(d.pid, SIGSTOP), 0);
        assert_int_equal(bs_client_set_timeout(reader.c, 20000), 0);
        assert_int_equal(pthread_create(&r, NULL, sync_in_thread, &reader), 0);
        while (!atomic_load(&reader.in) || !other_threads_all_wait())
                sched_yield();
        /* the reader sleeps in recvmsg() until 20 s from now; this one's
         * timeout is 300 ms */
        assert_int_equal(bs_client_set_timeout(waiter.c, 300), 0);
        t0 = now_ms();
        assert_int_equal(pthread_create(&w, NULL, sync_in_thread, &waiter), 0);
        pthread_join(w, NULL);
        assert_int_equal(waiter.result, -ETIMEDOUT);
        assert_true(now_ms() - t0 >= 300);
        assert_true(now_ms() - t0 < 10000);
        assert_int_equal(kill(d.pid, SIGCONT), 0);
        pthread_join(r, NULL);
        /* the connection failed with the waiter's timeout: every call says so */
        assert_int_equal(bs_client_sync(reader.c), -ETIMEDOUT);
        bs_client_unref(reader.c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- memfds the daemon did not make ----------------------------------- */

/* What thread @tid of this process does: its state letter, and the
 * system call it is in (-1 if none, or if it ended). */
static char thread_state(pid_t tid, long *ret_syscall)
{
        char path[64], buf[256], *p;
        FILE *f;

        *ret_syscall = -1;
        snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (fgets(buf, sizeof(buf), f) && buf[0] >= '0' && buf[0] <= '9')
                *ret_syscall = strtol(buf, NULL, 10);
        fclose(f);
        snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
        fclose(f);
        return p && p[1] == ' ' ? p[2] : 0;
}

struct creator {
        int fd;
        atomic_int tid;
        atomic_bool done;
};

/* Hold the memfd's inode lock for a while: a large fallocate takes it. */
static void *hold_the_inode_lock(void *arg)
{
        struct creator *k = arg;

        atomic_store(&k->tid, (int)gettid());
        (void)fallocate(k->fd, FALLOC_FL_KEEP_SIZE, 0, 64ll << 20);
        atomic_store(&k->done, true);
        return NULL;
}

/* Add a write seal: F_ADD_SEALS waits for the inode lock. */
static void *add_a_write_seal(void *arg)
{
        struct creator *k = arg;

        atomic_store(&k->tid, (int)gettid());
        (void)fcntl(k->fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE);
        return NULL;
}

/* Wait until thread @k sleeps in system call @nr, or @other is done.
 * true if it does. */
static bool wait_asleep_in(struct creator *k, long nr, struct creator *other)
{
        long sys;

        while (atomic_load(&k->tid) == 0)
                sched_yield();
        while (!(thread_state(atomic_load(&k->tid), &sys) == 'D' && sys == nr)) {
                if (atomic_load(&other->done))
                        return false;
                sched_yield();
        }
        return true;
}

/* A creator adding a write seal while its memfd is adopted: refused, or
 * adopted without one, never adopted with one. The creator holds the
 * inode lock with a long fallocate and queues its F_ADD_SEALS behind it:
 * the daemon checks the seals (no lock needed), then queues its own
 * F_ADD_SEALS behind the creator's. (Before: adopted with
 * F_SEAL_FUTURE_WRITE, so no holder could ever map it writable, the very
 * lock-out the daemon's F_SEAL_SEAL is there to prevent.) */
static void adoption_races_a_write_seal_and_wins(void **state)
{
        struct test_daemon d = {};
        struct bs_client *c;
        int raced = 0;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        c = connect_to(&d);
        for (int i = 0; i < 20 && raced < 3; i++) {
                int fd = test_memfd_with(PAGE, F_SEAL_SHRINK);
                struct creator locker = { .fd = fd }, sealer = { .fd = fd };
                struct bs_buffer *b = NULL;
                pthread_t t1, t2;
                bool queued;
                int r;

                assert_int_equal(pthread_create(&t1, NULL, hold_the_inode_lock, &locker), 0);
                while (atomic_load(&locker.tid) == 0)
                        sched_yield();
                assert_int_equal(pthread_create(&t2, NULL, add_a_write_seal, &sealer), 0);
                /* asleep in fcntl: the fallocate holds the lock */
                queued = wait_asleep_in(&sealer, SYS_fcntl, &locker);
                r = bs_buffer_export_memfd(c, fd, "racer", &b);
                pthread_join(t2, NULL);
                pthread_join(t1, NULL);
                /* whatever the timing: adopted means writable by every holder */
                if (r == 0) {
                        void *p = NULL;

                        assert_int_equal(fcntl(fd, F_GET_SEALS) & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE), 0);
                        assert_int_equal(bs_buffer_mmap(b, 0, PAGE, BS_PROT_READ | BS_PROT_WRITE, &p), 0);
                        assert_int_equal(bs_buffer_munmap(b, p, PAGE), 0);
                        bs_buffer_put(b);
                } else {
                        assert_int_equal(r, -EINVAL);
                }
                raced += queued;
                close(fd);
        }
        printf("the write seal was queued before the daemon's seals %d times\n", raced);
        assert_true(raced > 0);
        bs_client_unref(c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- fds whose close blocks -------------------------------------------- */

enum carrier {
        IN_AN_IMPORT,
        IN_A_MALFORMED_MESSAGE,
        ONE_FD_TOO_MANY,
        AS_A_SYNC_FILE,
        IN_A_SOCKET_SENT_AS_A_SYNC_FILE, /* queued in it: closed with it */
        UNREAD_WHEN_THE_DAEMON_HANGS_UP, /* a refused connection's second message */
        INTO_A_SYNC_FILE,                /* queued in the daemon's end of one */
        PAST_THE_RECEIVERS_ROOM,         /* after more fds than the daemon makes room for */
};

/* Send one datagram of @len bytes with @fd on @sock. */
static void send_with_fd(int sock, const void *data, size_t len, int fd)
{
        assert_int_equal(bs_fdpass_send(sock, data, len, &fd, 1), 0);
}

/* Send @fd to the daemon as @how says, from the raw connection @sock:
 * false if it could not be sent (then the caller's copy is the last). */
static bool send_the_fd(int sock, int fd, enum carrier how)
{
        struct bs_msg m;
        int fds[BS_FDPASS_SEND_MAX], sv[2], null;

        switch (how) {
        case IN_AN_IMPORT:
                bs_msg_request(&m, BS_OP_IMPORT, 7);
                m.fds[0] = fd;
                m.n_fds = m.hdr.n_fds = 1;
                assert_int_equal(bs_msg_send(sock, &m), 0);
                break;
        case IN_A_MALFORMED_MESSAGE: /* a SYNC carries no fd */
                bs_msg_request(&m, BS_OP_SYNC, 7);
                m.fds[0] = fd;
                m.n_fds = m.hdr.n_fds = 1;
                assert_int_equal(bs_msg_send(sock, &m), 0);
                break;
        case ONE_FD_TOO_MANY:
                bs_msg_request(&m, BS_OP_IMPORT, 7);
                m.hdr.n_fds = 1;
                for (unsigned i = 0; i < BS_MAX_FDS + 1; i++)
                        fds[i] = fd;
                assert_int_equal(bs_fdpass_send(sock, &m, m.hdr.size, fds, BS_MAX_FDS + 1), 0);
                break;
        case PAST_THE_RECEIVERS_ROOM:
                /* the kernel closes what doesn't fit the receiver's control
                 * buffer itself, in the receiver's thread: ours comes last */
                bs_msg_request(&m, BS_OP_IMPORT, 7);
                m.hdr.n_fds = 1;
                null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                assert_true(null >= 0);
                for (unsigned i = 0; i < ELEMENTSOF(fds) - 1; i++)
                        fds[i] = null;
                fds[ELEMENTSOF(fds) - 1] = fd;
                assert_int_equal(bs_fdpass_send(sock, &m, m.hdr.size, fds, ELEMENTSOF(fds)), 0);
                close(null);
                break;
        case AS_A_SYNC_FILE:
                bs_msg_request(&m, BS_OP_IMPORT_SYNC_FILE, 7);
                m.body.sync_file_req.buffer_id = 1;
                m.body.sync_file_req.flags = BS_WIRE_SYNC_READ;
                m.fds[0] = fd;
                m.n_fds = m.hdr.n_fds = 1;
                assert_int_equal(bs_msg_send(sock, &m), 0);
                break;
        case IN_A_SOCKET_SENT_AS_A_SYNC_FILE:
                assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
                send_with_fd(sv[0], "x", 1, fd);
                close(sv[0]);
                send_the_fd(sock, sv[1], AS_A_SYNC_FILE);
                close(sv[1]);
                break;
        case UNREAD_WHEN_THE_DAEMON_HANGS_UP: /* @sock is refused: HELLO, then the fd */
                bs_msg_request(&m, BS_OP_HELLO, 6);
                m.body.hello_req.version_min = 1;
                m.body.hello_req.version_max = BS_PROTOCOL_VERSION;
                assert_int_equal(bs_msg_send(sock, &m), 0);
                send_the_fd(sock, fd, IN_AN_IMPORT);
                break;
        case INTO_A_SYNC_FILE: /* @sock is a pending sync file */
                return bs_fdpass_send(sock, "x", 1, &fd, 1) == 0;
        }
        return true;
}

/*
 * A connection of this uid, once the daemon has counted the last one out:
 * a connection it hung up on counts against --max-connections-per-uid
 * until its socket is closed, and that close is the closer thread's,
 * which the loop hears of a moment after the fd is gone. Round trips of
 * @c give it that moment. -EUSERS still after 10 s fails.
 */
static int connect_hello_once_counted_out(struct test_daemon *d, struct bs_client *c)
{
        uint64_t deadline = test_now_ms() + 10000;
        int s;

        while ((s = test_raw_connect_hello(d->socket)) == -EUSERS && test_now_ms() < deadline)
                assert_int_equal(bs_client_sync(c), 0);
        return s;
}

/* A client sends an fd whose close(2) blocks for as long as it wants (a
 * TCP socket lingering over a full window; a FUSE file whose FLUSH is
 * never answered does the same): the daemon answers it, serves everyone
 * else meanwhile, and closes the fd once it can. Whichever way the fd
 * comes: as an import, in a malformed message, one fd too many, as a sync
 * file, queued in a socket sent as a sync file, unread in a connection
 * the daemon hangs up on, queued in the daemon's end of a sync file, or
 * after more fds than the daemon's receive makes room for (the kernel
 * closes those in the receiving thread: before, the 35th of a message
 * held the daemon's one thread for the whole linger time).
 * (Before: the daemon's one thread sat in close() for the whole linger
 * time, 60 s here, any time the sender likes, and no client was served.) */
static void an_fd_whose_close_blocks_stalls_no_one(void **state)
{
        static const char *const args[] = { "--max-clients", "2", "--max-connections-per-uid", "2", NULL };
        static const enum carrier carriers[] = {
                IN_AN_IMPORT, IN_A_MALFORMED_MESSAGE, ONE_FD_TOO_MANY, AS_A_SYNC_FILE,
                IN_A_SOCKET_SENT_AS_A_SYNC_FILE, UNREAD_WHEN_THE_DAEMON_HANGS_UP, INTO_A_SYNC_FILE,
                PAST_THE_RECEIVERS_ROOM,
        };
        static const int want_status[] = { -EBADFD, -EPROTO, -EPROTO, -ENOENT, -ENOENT, -EUSERS, 0, -EPROTO };
        struct test_daemon d = {};
        struct bs_client *victim;
        struct bs_buffer *b;
        int baseline;

        assert_int_equal(test_daemon_start(&d, args), 0);
        victim = connect_to(&d);
        assert_int_equal(bs_client_set_timeout(victim, 5000), 0);
        assert_int_equal(bs_buffer_export(victim, PAGE, NULL, "fenced", &b), 0);
        assert_int_equal(bs_client_sync(victim), 0);
        baseline = test_count_fds_of(d.pid);
        for (unsigned i = 0; i < ELEMENTSOF(carriers); i++) {
                struct bs_fence *f = NULL;
                int attacker, peer, s, held = -1, sync_file = -1;
                struct bs_msg rep, req;

                if (carriers[i] == UNREAD_WHEN_THE_DAEMON_HANGS_UP) {
                        /* the victim and this one take both slots: the next is refused */
                        held = connect_hello_once_counted_out(&d, victim);
                        assert_true(held >= 0);
                        attacker = test_raw_connect(d.socket);
                } else if (carriers[i] == INTO_A_SYNC_FILE) {
                        assert_int_equal(bs_fence_create(victim, &f), 0);
                        assert_int_equal(bs_fence_attach(f, b, BS_SYNC_WRITE), 0);
                        sync_file = bs_buffer_export_sync_file(b, BS_SYNC_READ);
                        assert_true(sync_file >= 0);
                        attacker = sync_file;
                } else {
                        attacker = connect_hello_once_counted_out(&d, victim);
                }
                assert_true(attacker >= 0);
                s = test_lingering_socket(60, &peer);
                /* the daemon's copy must be the last one: sent while it sleeps */
                assert_int_equal(kill(d.pid, SIGSTOP), 0);
                if (!send_the_fd(attacker, s, carriers[i])) {
                        /* refused (the daemon's end of a sync file takes
                         * nothing): ours is the last copy, let it go */
                        struct linger off = { 0, 0 };
                        assert_int_equal(setsockopt(s, SOL_SOCKET, SO_LINGER, &off, sizeof(off)), 0);
                }
                close(s);
                assert_int_equal(kill(d.pid, SIGCONT), 0);

                /* the attacker is answered, and the victim served, at once */
                if (f) {
                        assert_int_equal(bs_fence_signal(f, 0), 0); /* the daemon lets go of its end */
                        assert_int_equal(bs_sync_file_wait(sync_file, 5000), 0);
                        f = bs_fence_destroy(f);
                } else {
                        int r = test_raw_recv(attacker, &rep);

                        /* a refused client that sent more than its first
                         * request may see the hang-up before -EUSERS */
                        if (!(r == -ECONNRESET && carriers[i] == UNREAD_WHEN_THE_DAEMON_HANGS_UP)) {
                                assert_int_equal(r, 0);
                                assert_int_equal(rep.body.status.status, want_status[i]);
                        }
                        bs_msg_clear(&rep);
                }
                for (int k = 0; k < 10; k++)
                        assert_int_equal(bs_client_sync(victim), 0);

                /* the peer goes: the close ends, and the daemon let go of the fd */
                close(peer);
                if (carriers[i] == IN_AN_IMPORT) {
                        /* it reads the attacker again: its fds are closed */
                        bs_msg_request(&req, BS_OP_SYNC, 8);
                        assert_int_equal(test_raw_call(attacker, &req, &rep), 0);
                        bs_msg_clear(&rep);
                }
                close(attacker);
                if (held >= 0)
                        close(held);
                assert_int_equal(test_daemon_fds_settle(&d, victim, baseline), baseline);
        }
        bs_buffer_put(b);
        bs_client_unref(victim);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- EXPORT_BATCH replies left unread ---------------------------------- */

#define LIMITS_REPLY_BYTES (sizeof(struct bs_msg_header) + sizeof(struct bs_limits_rep))

/* Bytes of replies waiting in @s to be read (SIOCINQ sums a SEQPACKET
 * socket's whole queue). */
static int unread_bytes(int s)
{
        int n = 0;

        assert_int_equal(ioctl(s, SIOCINQ, &n), 0);
        return n;
}

/* Wait until @s holds @bytes of unread replies, or its count stops
 * growing for 300 ms: what it holds then. */
static int unread_settles(int s, int bytes)
{
        uint64_t still_since = test_now_ms(), deadline = test_now_ms() + 10000;
        int n = unread_bytes(s), last = n;

        while (n != bytes && test_now_ms() < deadline && test_now_ms() - still_since < 300) {
                usleep(2000);
                n = unread_bytes(s);
                if (n != last) {
                        last = n;
                        still_since = test_now_ms();
                }
        }
        return n;
}

/* Pipeline @n LIMITS requests on the raw connection @s. */
static void send_limits(int s, int n)
{
        struct bs_msg req;

        for (int i = 0; i < n; i++) {
                bs_msg_request(&req, BS_OP_LIMITS, (uint32_t)i + 1);
                assert_int_equal(bs_msg_send(s, &req), 0);
        }
}

/* A batch costs the daemon's turn what its buffers cost, not one
 * message: a client pipelining batches while the daemon was busy gets one
 * of them made before another ready client is served, not every one (up
 * to 32 batches, 1,024 memfds, at once). Checked with the daemon stopped
 * while both send, so that both are ready at its next wake-up, the
 * batches first, and by creation times, not by what has arrived where. */
static void a_batch_costs_the_loops_turn_its_buffers(void **state)
{
        enum { N_BATCHES = 8 };
        uint64_t ids[N_BATCHES][BS_EXPORT_BATCH_MAX], b_id;
        struct bs_info_rep info;
        struct test_daemon d = {};
        struct bs_msg req, rep;
        uint64_t b_created;
        int a, b, before = 0;
        (void)state;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        b = test_raw_connect_hello(d.socket);
        a = test_raw_connect_hello(d.socket);
        assert_true(a >= 0 && b >= 0);

        assert_int_equal(kill(d.pid, SIGSTOP), 0);
        for (int i = 0; i < N_BATCHES; i++) {
                bs_msg_request(&req, BS_OP_EXPORT_BATCH, 100 + (uint32_t)i);
                req.body.export_batch_req.size = PAGE;
                req.body.export_batch_req.count = BS_EXPORT_BATCH_MAX;
                strcpy(req.body.export_batch_req.heap, "system");
                assert_int_equal(bs_msg_send(a, &req), 0);
        }
        bs_msg_request(&req, BS_OP_EXPORT, 7);
        req.body.export_req.size = PAGE;
        strcpy(req.body.export_req.heap, "system");
        assert_int_equal(bs_msg_send(b, &req), 0);
        assert_int_equal(kill(d.pid, SIGCONT), 0);

        assert_int_equal(test_raw_recv(b, &rep), 0);
        assert_int_equal(rep.body.status.status, 0);
        b_id = rep.body.export_rep.id;
        bs_msg_clear(&rep);
        /* every batch is made in the end */
        for (int i = 0; i < N_BATCHES; i++) {
                assert_int_equal(test_raw_recv(a, &rep), 0);
                assert_int_equal(rep.body.status.status, 0);
                assert_int_equal(rep.n_fds, BS_EXPORT_BATCH_MAX);
                memcpy(ids[i], rep.body.export_batch_rep.ids, sizeof(ids[i]));
                bs_msg_clear(&rep);
        }

        /* how many of the batches' buffers were made before the other
         * client's (by their creation times: ids come from the reserve
         * out of order): one batch, or two if the other client's turn
         * came just after the second */
        assert_int_equal(test_raw_info(b, b_id, &info), 0);
        b_created = info.created_ns;
        for (int i = 0; i < N_BATCHES; i++)
                for (int k = 0; k < BS_EXPORT_BATCH_MAX; k++) {
                        assert_int_equal(test_raw_info(a, ids[i][k], &info), 0);
                        before += info.created_ns < b_created;
                }
        assert_true(before <= 2 * BS_EXPORT_BATCH_MAX);
        close(a);
        close(b);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* A client fills its socket with small replies it never reads, then asks
 * for a batch: the batch's reply waits in the daemon. It must not cost
 * the daemon an fd per buffer more than the buffers themselves (which
 * the uid's quota bounds): one uid exporting until it is refused must be
 * refused by its quota (-EDQUOT), not find the daemon out of fds. (Before:
 * a queued reply dup'ed its 32 fds, so one uid held the fds of its whole
 * quota twice, all of the daemon's fd budget and more: -EMFILE, for every
 * uid.) Limits are the defaults of a daemon with 4096 fds. */
static void unread_batch_replies_cost_no_fds_beyond_the_quota(void **state)
{
        struct test_daemon d = { .nofile = 4096 };
        struct bs_client *c;
        struct bs_limits lim;
        struct bs_buffer **mine;
        int conns[512], n_conns = 0, per_socket, n_batches, n_mine = 0, r = 0;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        c = connect_to(&d);
        assert_int_equal(bs_client_get_limits(c, &lim), 0);
        assert_true(lim.max_connections_per_uid <= ELEMENTSOF(conns));
        assert_true(lim.max_buffers_per_client >= BS_EXPORT_BATCH_MAX);

        /* how many small replies fill the daemon's side of a connection */
        conns[n_conns] = test_raw_connect_hello(d.socket);
        assert_true(conns[n_conns] >= 0);
        send_limits(conns[n_conns], 150);
        per_socket = unread_settles(conns[n_conns], 150 * (int)LIMITS_REPLY_BYTES) / (int)LIMITS_REPLY_BYTES;
        assert_true(per_socket > 8 && per_socket < 150);
        n_conns++;

        /* the uid's connections: idle ones first, then as many as the
         * uid's buffers allow that each leave a batch's reply waiting */
        n_batches = (int)(lim.max_buffers_per_uid / BS_EXPORT_BATCH_MAX);
        assert_true(n_batches + 2 < (int)lim.max_connections_per_uid);
        while (n_conns + n_batches + 1 < (int)lim.max_connections_per_uid) {
                conns[n_conns] = test_raw_connect_hello(d.socket);
                assert_true(conns[n_conns] >= 0);
                n_conns++;
        }
        for (int i = 0; i < n_batches; i++) {
                struct bs_msg req;
                int s = test_raw_connect_hello(d.socket);

                assert_true(s >= 0);
                conns[n_conns++] = s;
                send_limits(s, per_socket);
                assert_int_equal(unread_settles(s, per_socket * (int)LIMITS_REPLY_BYTES),
                                 per_socket * (int)LIMITS_REPLY_BYTES);
                bs_msg_request(&req, BS_OP_EXPORT_BATCH, 1000);
                req.body.export_batch_req.size = PAGE;
                req.body.export_batch_req.count = BS_EXPORT_BATCH_MAX;
                strcpy(req.body.export_batch_req.heap, "system");
                assert_int_equal(bs_msg_send(s, &req), 0);
        }
        assert_int_equal(bs_client_sync(c), 0); /* every request above is handled */

        /* the rest of the uid's quota: refused by the quota, not for lack of fds */
        mine = calloc(lim.max_buffers_per_uid + 1, sizeof(*mine));
        assert_non_null(mine);
        while (n_mine <= (int)lim.max_buffers_per_uid &&
               (r = bs_buffer_export(c, PAGE, NULL, NULL, &mine[n_mine])) == 0)
                n_mine++;
        assert_int_equal(r, -EDQUOT);

        for (int i = 0; i < n_mine; i++)
                bs_buffer_put(mine[i]);
        free(mine);
        for (int i = 0; i < n_conns; i++)
                close(conns[i]);
        bs_client_unref(c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

#define NOBODY 65534

/* In a child, as another uid: connect and export one buffer. */
static int export_as_nobody(void *arg)
{
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;

        child_check(setenv("BUFSHARE_TIMEOUT_MS", "5000", 1) == 0);
        child_check(setresuid(NOBODY, NOBODY, NOBODY) == 0);
        child_check(bs_client_connect(arg, &c) == 0);
        child_check(bs_buffer_export(c, PAGE, NULL, NULL, &b) == 0);
        bs_buffer_put(b);
        bs_client_unref(c);
        return 0;
}

/* One uid sends fds whose close blocks, 64 a message, on connection after
 * connection: the daemon holds a bounded number of them for that uid (its
 * connections aren't read while it has UID_CLOSING_MAX waiting), not all
 * it can, and another uid is served. (Before: each connection was held
 * back only while its own fds waited, and one that hung up, or that the
 * daemon hung up on after a malformed message, made room for the next: a
 * single lingering close at the head of the closer's queue let one client
 * fill every fd of the daemon within a few messages.) */
static void a_uid_can_not_fill_the_closer(void **state)
{
        struct test_daemon d = { .nofile = 512 };
        int conns[12], peer, ling, null, fds[BS_FDPASS_SEND_MAX], before, now, other;
        uint64_t still_since;

        test_skip_unless(geteuid() == 0, "not root: a client of another uid (nobody) can't be made");
        assert_int_equal(test_daemon_start(&d, NULL), 0);
        assert_int_equal(chmod(d.dir, 0755), 0); /* nobody may reach the socket */
        ling = test_lingering_socket(60, &peer);
        null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(null >= 0);
        for (unsigned k = 0; k < ELEMENTSOF(conns); k++) {
                struct bs_msg m;

                /* the daemon's copy of the lingering socket must be the
                 * last one (else this process's close lingers): the first
                 * message goes while the daemon sleeps, ours is closed then */
                if (k == 0)
                        assert_int_equal(kill(d.pid, SIGSTOP), 0);
                conns[k] = test_raw_connect(d.socket);
                assert_true(conns[k] >= 0);
                bs_msg_request(&m, BS_OP_HELLO, 1);
                m.body.hello_req.version_min = 1;
                m.body.hello_req.version_max = BS_PROTOCOL_VERSION;
                assert_int_equal(bs_msg_send(conns[k], &m), 0);
                for (unsigned i = 0; i < ELEMENTSOF(fds); i++)
                        fds[i] = null;
                if (k == 0)
                        fds[0] = ling; /* the closer waits on it; the rest queue behind */
                bs_msg_request(&m, BS_OP_IMPORT, 2);
                m.hdr.n_fds = 1;
                assert_int_equal(bs_fdpass_send(conns[k], &m, m.hdr.size, fds, ELEMENTSOF(fds)), 0);
                if (k == 0) {
                        close(ling);
                        assert_int_equal(kill(d.pid, SIGCONT), 0);
                }
        }
        /* what the daemon took of it, once it stops growing */
        before = test_count_fds_of(d.pid);
        still_since = test_now_ms();
        while (test_now_ms() - still_since < 300) {
                usleep(10000);
                now = test_count_fds_of(d.pid);
                if (now != before) {
                        before = now;
                        still_since = test_now_ms();
                }
        }
        other = test_wait(test_fork(export_as_nobody, d.socket));

        close(peer); /* the lingering close ends */
        for (unsigned k = 0; k < ELEMENTSOF(conns); k++)
                close(conns[k]);
        close(null);
        assert_int_equal(test_daemon_stop(&d), 0);
        printf("the daemon held %d fds\n", before);
        assert_true(before < 400);
        assert_int_equal(other, 0);
}

/* ---- fds in transit ------------------------------------------------------ */

/* uids of the daemon and of the client that reads its replies: none that
 * another test's daemon runs as, since the kernel counts fds in transit
 * per user, and unprivileged, since it exempts CAP_SYS_RESOURCE */
#define TRANSIT_DAEMON_UID 61234
#define TRANSIT_READER_UID 61235
/* the daemon's RLIMIT_NOFILE: the kernel refuses its sendmsg() with
 * ETOOMANYREFS past this many fds in transit */
#define TRANSIT_NOFILE 1024
/* max-fds-in-flight-per-uid by default: (nofile - LIMITS_FD_KEPT) / 8
 * (daemon/limits.h) */
#define TRANSIT_PER_UID ((TRANSIT_NOFILE - 80) / 8)
#define TRANSIT_ROUNDS 40

/* In a child, as TRANSIT_READER_UID: an export and a batch, each fd
 * received and a memfd of the right size. */
static int export_and_read_everything(void *arg)
{
        struct bs_buffer *one = NULL, *many[BS_EXPORT_BATCH_MAX] = { NULL };
        struct bs_client *c = NULL;
        struct stat st;
        int fd;

        child_check(setenv("BUFSHARE_TIMEOUT_MS", "5000", 1) == 0);
        child_check(setgroups(0, NULL) == 0);
        child_check(setresgid(TRANSIT_READER_UID, TRANSIT_READER_UID, TRANSIT_READER_UID) == 0);
        child_check(setresuid(TRANSIT_READER_UID, TRANSIT_READER_UID, TRANSIT_READER_UID) == 0);
        child_check(bs_client_connect(arg, &c) == 0);
        child_check(bs_buffer_export(c, PAGE, NULL, "reader", &one) == 0);
        child_check(bs_buffer_export_many(c, BS_EXPORT_BATCH_MAX, PAGE, NULL, "reader", many) == 0);
        fd = bs_buffer_fd(many[BS_EXPORT_BATCH_MAX - 1], O_CLOEXEC);
        child_check(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == PAGE);
        close(fd);
        for (int i = 0; i < BS_EXPORT_BATCH_MAX; i++)
                bs_buffer_put(many[i]);
        bs_buffer_put(one);
        bs_client_unref(c);
        return 0;
}

/* Wait up to @timeout_ms for the daemon to hang up on @s, whose replies
 * stay unread: true if it did. */
static bool hung_up(int s, int timeout_ms)
{
        struct pollfd p = { .fd = s, .events = POLLRDHUP };

        return poll(&p, 1, timeout_ms) == 1 && (p.revents & (POLLHUP | POLLRDHUP));
}

/* Every fd waiting in @s, taken and closed: how many. */
static int drain_fds(int s)
{
        struct bs_msg m;
        int n = 0;

        while (bs_msg_recv_flags(s, &m, MSG_DONTWAIT, NULL) >= 0) {
                n += (int)m.n_fds;
                bs_msg_clear(&m);
        }
        return n;
}

/* One uid's attack, on @conns (TRANSIT_ROUNDS, *@n_conns set to those
 * opened): on connection after connection, a batch whose reply it never
 * reads, and something malformed so that the daemon hangs up and drops
 * the buffers (the uid's quota is free again, the fds stay in transit),
 * until the daemon stops hanging up. Returns how many times it did. */
static int fill_transit(const char *socket, int *conns, int *n_conns)
{
        const struct bs_msg_header bad = { .size = sizeof(bad), .opcode = 0x4242, .serial = 3 };
        struct bs_msg m;
        int hung = 0, r;

        *n_conns = 0;
        while (*n_conns < TRANSIT_ROUNDS) {
                int s = test_raw_connect(socket);

                assert_true(s >= 0);
                conns[(*n_conns)++] = s;
                bs_msg_request(&m, BS_OP_HELLO, 1);
                m.body.hello_req.version_min = 1;
                m.body.hello_req.version_max = BS_PROTOCOL_VERSION;
                assert_int_equal(bs_msg_send(s, &m), 0);
                bs_msg_request(&m, BS_OP_EXPORT_BATCH, 2);
                m.body.export_batch_req.size = PAGE;
                m.body.export_batch_req.count = BS_EXPORT_BATCH_MAX;
                strcpy(m.body.export_batch_req.heap, "system");
                assert_int_equal(bs_msg_send(s, &m), 0);
                /* an unknown opcode: -EPROTO, then the hang-up (which may
                 * come first, if the batch's reply could not be sent) */
                r = bs_fdpass_send(s, &bad, sizeof(bad), NULL, 0);
                assert_true(r == 0 || r == -EPIPE || r == -ECONNRESET);
                /* the daemon answers and hangs up at once, unless it stopped
                 * reading this uid or sending to it: then nothing comes */
                if (!hung_up(s, 5000))
                        break;
                hung++;
        }
        printf("the daemon hung up %d times of %d\n", hung, *n_conns);
        return hung;
}

/* The kernel counts every fd the daemon sent and its peer did not receive
 * yet against the daemon's user, and refuses more (ETOOMANYREFS) past its
 * RLIMIT_NOFILE. One uid asks for batches on connection after connection,
 * never reads the replies, and sends something malformed each time so that
 * the daemon hangs up and drops the buffers (the uid's quota is free again,
 * the fds stay in transit). Its connections stop being read at
 * max-fds-in-flight-per-uid, hung up on or not (the daemon keeps a socket
 * it hangs up on, shut down, until what it sent there is read), and a
 * client of another uid still gets every fd it asks for. (Before: after
 * 32 rounds, every reply carrying an fd failed, for every uid, and its
 * client was disconnected.) */
static void unread_fds_in_transit_are_bounded_per_uid(void **state)
{
        struct test_daemon d = { .run_as = TRANSIT_DAEMON_UID, .nofile = TRANSIT_NOFILE };
        int conns[TRANSIT_ROUNDS], n_conns = 0, hung, reader, unread = 0;
        struct bs_msg m, rep;
        (void)state;

        test_skip_unless(geteuid() == 0, "not root: the daemon and a client can't be run as other uids");
        assert_int_equal(test_daemon_start(&d, NULL), 0);
        assert_int_equal(chmod(d.dir, 0755), 0); /* the reader may reach the socket */

        hung = fill_transit(d.socket, conns, &n_conns);

        assert_int_equal(test_wait(test_fork(export_and_read_everything, d.socket)), 0);

        for (int i = 0; i < n_conns; i++) {
                unread += drain_fds(conns[i]);
                close(conns[i]);
        }
        printf("%d fds were in transit to the uid that did not read\n", unread);
        assert_true(hung < TRANSIT_ROUNDS);
        assert_true(unread >= TRANSIT_PER_UID);
        assert_true(unread < TRANSIT_PER_UID + BS_EXPORT_BATCH_MAX);

        /* once read, the uid is served again */
        reader = test_raw_connect_hello(d.socket);
        assert_true(reader >= 0);
        bs_msg_request(&m, BS_OP_EXPORT_BATCH, 4);
        m.body.export_batch_req.size = PAGE;
        m.body.export_batch_req.count = BS_EXPORT_BATCH_MAX;
        strcpy(m.body.export_batch_req.heap, "system");
        assert_int_equal(test_raw_call(reader, &m, &rep), 0);
        assert_int_equal(rep.n_fds, BS_EXPORT_BATCH_MAX);
        bs_msg_clear(&rep);
        close(reader);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* With max-fds-in-flight-per-uid above the daemon's fd limit (as many
 * uids together could be), the kernel refuses a reply's fds itself
 * (ETOOMANYREFS): the reply waits, its client is kept, and it gets the
 * reply whole once fds in transit are received; said once in the log,
 * with the count. (Before: the client was disconnected.) */
static void a_reply_the_kernel_refuses_waits_and_loses_nothing(void **state)
{
        struct test_daemon d = { .run_as = TRANSIT_DAEMON_UID, .nofile = TRANSIT_NOFILE, .capture_log = true };
        int conns[TRANSIT_ROUNDS], n_conns = 0, client, fd;
        struct bs_msg m, rep;
        struct stat st;
        char log[8192];
        (void)state;

        test_skip_unless(geteuid() == 0, "not root: the daemon can't be run as another uid");
        assert_int_equal(test_daemon_start(&d, (const char *const[]){ "--max-fds-in-flight-per-uid", "100000", NULL }),
                         0);
        client = test_raw_connect_hello(d.socket);
        assert_true(client >= 0);
        assert_true(fill_transit(d.socket, conns, &n_conns) < TRANSIT_ROUNDS);
        assert_int_equal(test_count_lines(d.log_path, "too many fds in transit"), 1);

        bs_msg_request(&m, BS_OP_EXPORT, 7);
        m.body.export_req.size = PAGE;
        strcpy(m.body.export_req.heap, "system");
        assert_int_equal(bs_msg_send(client, &m), 0);
        /* nothing can come while the kernel refuses: the fds stay unread */
        assert_int_equal(test_wait_readable(client, 300), -ETIMEDOUT);

        for (int i = 0; i < n_conns; i++) {
                drain_fds(conns[i]);
                close(conns[i]);
        }
        assert_int_equal(test_raw_recv(client, &rep), 0);
        assert_int_equal(rep.body.status.status, 0);
        assert_int_equal(rep.hdr.serial, 7);
        assert_int_equal(rep.n_fds, 1);
        fd = rep.fds[0];
        assert_true(fstat(fd, &st) == 0 && st.st_size == PAGE);
        bs_msg_clear(&rep);
        /* and the connection goes on */
        bs_msg_request(&m, BS_OP_LIMITS, 8);
        assert_int_equal(test_raw_call(client, &m, &rep), 0);
        bs_msg_clear(&rep);
        close(client);
        assert_int_equal(test_daemon_stop_read_log(&d, log, sizeof(log)), 0);
        assert_non_null(strstr(log, "its fd limit 1024"));
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- the log ------------------------------------------------------------ */

/* A client can't make the daemon write a line per request: importing a
 * memfd the daemon never hosted and releasing it, over and over, logs
 * no more than a client's misbehaviour may (before: one line per import
 * at the default level, as fast as a client can ask, on a blocking
 * stderr that a slow journal turns into a stall of every client). */
static void importing_foreign_memfds_does_not_flood_the_log(void **state)
{
        struct test_daemon d = { .capture_log = true };
        struct bs_client *c;
        int fd, before;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        c = connect_to(&d);
        assert_int_equal(bs_client_sync(c), 0);
        before = test_count_lines(d.log_path, NULL);
        fd = test_memfd_with(PAGE, F_SEAL_SHRINK | F_SEAL_GROW);
        for (int i = 0; i < 500; i++) {
                struct bs_buffer *b = NULL;

                assert_int_equal(bs_buffer_import(c, fd, &b), 0);
                bs_buffer_put(b);
        }
        assert_int_equal(bs_client_sync(c), 0);
        printf("500 imports logged %d lines\n", test_count_lines(d.log_path, NULL) - before);
        assert_true(test_count_lines(d.log_path, NULL) - before <= 20);
        close(fd);
        bs_client_unref(c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- what the header says each call returns ---------------------------- */

/* Past a few connections over its limits the daemon hangs up at once
 * rather than answer -EUSERS (server.h): bs_client_connect() says so with
 * -ECONNRESET or -EPIPE, as its header now lists (it listed -EUSERS only). */
static void connect_past_the_refused_ones_is_a_hang_up(void **state)
{
        static const char *const args[] = { "--max-clients", "1", NULL };
        struct test_daemon d = {};
        struct bs_client *c = NULL;
        int held, refused[16], r;

        assert_int_equal(test_daemon_start(&d, args), 0);
        held = test_raw_connect_hello(d.socket);
        assert_true(held >= 0);
        /* these wait (a second) to be told -EUSERS: every slot for that is taken */
        for (unsigned i = 0; i < ELEMENTSOF(refused); i++)
                assert_true((refused[i] = test_raw_connect(d.socket)) >= 0);
        r = bs_client_connect(d.socket, &c);
        assert_true(r == -ECONNRESET || r == -EPIPE);
        assert_null(c);
        for (unsigned i = 0; i < ELEMENTSOF(refused); i++)
                close(refused[i]);
        close(held);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- the daemon as a program ------------------------------------------ */

/* --socket in a folder that is missing, in one that exists: an error,
 * and no folder made (only the default runtime folder ever is). (Before:
 * whether it was made depended on what was on main()'s stack: the flag
 * saying "the default path" was left unset with --socket; the sanitized
 * build reads it as 253 and makes the folder.) */
static void a_missing_socket_folder_is_not_made(void **state)
{
        char dir[] = "/tmp/bufshare-missing-XXXXXX", path[96], missing[64];
        struct stat st;

        assert_non_null(mkdtemp(dir));
        snprintf(missing, sizeof(missing), "%s/missing", dir);
        snprintf(path, sizeof(path), "%s/socket", missing);
        assert_int_not_equal(test_run_daemon((const char *const[]){ "--socket", path, NULL }), 0);
        assert_int_equal(stat(missing, &st), -1);
        assert_int_equal(errno, ENOENT);
        assert_int_equal(rmdir(dir), 0);
}


/* ---- fences: errors along a chain of batches ------------------------- */

/* One raw request of @op on @s, its reply's status; the reply's fds closed. */
static int raw_fence_call(int s, uint16_t op, const void *body, size_t len, uint64_t *ret_id)
{
        struct bs_msg req, rep;
        int r;

        bs_msg_request(&req, op, 1);
        memcpy(&req.body, body, len);
        r = test_raw_call(s, &req, &rep);
        if (r == 0 && ret_id)
                *ret_id = rep.body.fence_create_rep.fence_id;
        bs_msg_clear(&rep);
        return r;
}

static uint64_t raw_fence_new(int s, uint64_t buffer_id)
{
        struct bs_fence_attach_req a = { .buffer_id = buffer_id, .usage = BS_WIRE_SYNC_READ };
        struct bs_fence_create_req c = { 0 };

        assert_int_equal(raw_fence_call(s, BS_OP_FENCE_CREATE, &c, sizeof(c), &a.fence_id), 0);
        assert_int_equal(raw_fence_call(s, BS_OP_FENCE_ATTACH, &a, sizeof(a), NULL), 0);
        return a.fence_id;
}

/* @n fences of the raw connection @s pending on @buffer_id, pipelined. */
static void raw_fences_pending(int s, uint64_t buffer_id, unsigned n)
{
        enum { WINDOW = 16 };
        struct bs_msg req, rep;

        for (unsigned done = 0; done < n; done += WINDOW) {
                uint64_t ids[WINDOW];
                unsigned k = n - done < WINDOW ? n - done : WINDOW;

                for (unsigned i = 0; i < k; i++) {
                        bs_msg_request(&req, BS_OP_FENCE_CREATE, i + 1);
                        assert_int_equal(bs_msg_send(s, &req), 0);
                }
                for (unsigned i = 0; i < k; i++) {
                        assert_int_equal(test_raw_recv(s, &rep), 0);
                        assert_int_equal(rep.body.status.status, 0);
                        ids[i] = rep.body.fence_create_rep.fence_id;
                }
                for (unsigned i = 0; i < k; i++) {
                        bs_msg_request(&req, BS_OP_FENCE_ATTACH, i + 1);
                        req.body.fence_attach_req.buffer_id = buffer_id;
                        req.body.fence_attach_req.fence_id = ids[i];
                        req.body.fence_attach_req.usage = BS_WIRE_SYNC_READ;
                        assert_int_equal(bs_msg_send(s, &req), 0);
                }
                for (unsigned i = 0; i < k; i++) {
                        assert_int_equal(test_raw_recv(s, &rep), 0);
                        assert_int_equal(rep.body.status.status, 0);
                }
        }
}

/* The raw connection @s imports @fd: the buffer's id. */
static uint64_t raw_import(int s, int fd)
{
        struct bs_msg req, rep;
        uint64_t id;

        bs_msg_request(&req, BS_OP_IMPORT, 1);
        bs_msg_lend_fd(&req, fd);
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        id = rep.body.import_rep.id;
        bs_msg_clear(&rep);
        return id;
}

/*
 * An export seals the fences attached since the last one into a batch,
 * which waits for the batch before it. A fence that ends with an error
 * reaches every sync file waiting on its batch or a later one; it once
 * did so by walking every later batch of the chain, each time, so that
 * a client with many fences at the head of a long chain (a fence and an
 * export per link, the fence signalled at once, the sync file dropped)
 * made each of them cost the daemon the chain's length: hanging up, the
 * whole of it at once, on the one thread, while every other client
 * waited (seconds, with the defaults of a daemon with 20,000 fds).
 */
static void a_long_chain_of_batches_costs_an_error_no_walk(void **state)
{
        enum { ATTACKERS = 24, FENCES = 4096, LINKS = 2400 };
        /* the uid's fences, past --max-fences-per-uid's default now: an
         * error's cost must not hang on that bound, so it is lifted */
        static const char *const args[] = { "--max-fences-per-uid", "131072", NULL };
        struct test_daemon d = { .nofile = 20000 };
        int attackers[ATTACKERS], builder[2];
        struct bs_client *good;
        struct bs_buffer *b;
        uint64_t id, t0, took;
        int fd;
        (void)state;

        assert_int_equal(test_daemon_start(&d, args), 0);
        good = connect_to(&d);
        assert_int_equal(bs_buffer_export(good, PAGE, NULL, "chain", &b), 0);
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);

        /* the head: many fences, every one pending */
        for (int i = 0; i < ATTACKERS; i++) {
                attackers[i] = test_raw_connect_hello(d.socket);
                assert_true(attackers[i] >= 0);
                id = raw_import(attackers[i], fd);
                raw_fences_pending(attackers[i], id, FENCES);
        }
        /* the chain: a fence and an export a link, the fence signalled */
        for (int k = 0; k < 2; k++) {
                builder[k] = test_raw_connect_hello(d.socket);
                assert_true(builder[k] >= 0);
                id = raw_import(builder[k], fd);
        }
        for (int i = 0; i < LINKS; i++) {
                int s = builder[i % 2];
                struct bs_sync_file_req e = { .buffer_id = id, .flags = BS_WIRE_SYNC_WRITE };
                struct bs_fence_signal_req sig = { .fence_id = raw_fence_new(s, id) };
                struct bs_id_req destroy = { .id = sig.fence_id };

                assert_int_equal(raw_fence_call(s, BS_OP_EXPORT_SYNC_FILE, &e, sizeof(e), NULL), 0);
                assert_int_equal(raw_fence_call(s, BS_OP_FENCE_SIGNAL, &sig, sizeof(sig), NULL), 0);
                assert_int_equal(raw_fence_call(s, BS_OP_FENCE_DESTROY, &destroy, sizeof(destroy), NULL), 0);
        }
        assert_int_equal(bs_client_sync(good), 0);

        /* every head fence ends with -EPIPE at once */
        t0 = test_now_ms();
        for (int i = 0; i < ATTACKERS; i++)
                close(attackers[i]);
        /* the hang-ups may come in the loop's turn after the first */
        assert_int_equal(bs_client_sync(good), 0);
        assert_int_equal(bs_client_sync(good), 0);
        took = test_now_ms() - t0;
        print_message("the hang-ups held the daemon %llu ms\n", (unsigned long long)took);
        assert_true(took < 1000);

        close(builder[0]);
        close(builder[1]);
        close(fd);
        bs_buffer_put(b);
        bs_client_unref(good);
        assert_int_equal(test_daemon_stop(&d), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(many_threads_on_one_client_are_all_answered),
                T(the_timeout_may_change_while_others_call),
                T(a_waiting_call_times_out_on_its_own_deadline),
                T(adoption_races_a_write_seal_and_wins),
                T(importing_foreign_memfds_does_not_flood_the_log),
                T(an_fd_whose_close_blocks_stalls_no_one),
                T(a_missing_socket_folder_is_not_made),
                T(connect_past_the_refused_ones_is_a_hang_up),
                T(unread_batch_replies_cost_no_fds_beyond_the_quota),
                T(a_batch_costs_the_loops_turn_its_buffers),
                T(a_uid_can_not_fill_the_closer),
                T(unread_fds_in_transit_are_bounded_per_uid),
                T(a_reply_the_kernel_refuses_waits_and_loses_nothing),
                T(a_long_chain_of_batches_costs_an_error_no_walk),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
