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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "bufshare/bufshare.h"
#include "peer.h"

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

/* ---- memfds the daemon did not make ----------------------------------- */

static int memfd_with(uint64_t size, int seals)
{
        int fd = memfd_create("outsider", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)size), 0);
        if (seals)
                assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
        return fd;
}

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
                int fd = memfd_with(PAGE, F_SEAL_SHRINK);
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

/* ---- the log ------------------------------------------------------------ */

/* Lines in the file at @path. */
static int count_lines(const char *path)
{
        char line[1024];
        int n = 0;
        FILE *f = fopen(path, "re");

        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                n++;
        fclose(f);
        return n;
}

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
        before = count_lines(d.log_path);
        fd = memfd_with(PAGE, F_SEAL_SHRINK | F_SEAL_GROW);
        for (int i = 0; i < 500; i++) {
                struct bs_buffer *b = NULL;

                assert_int_equal(bs_buffer_import(c, fd, &b), 0);
                bs_buffer_put(b);
        }
        assert_int_equal(bs_client_sync(c), 0);
        printf("500 imports logged %d lines\n", count_lines(d.log_path) - before);
        assert_true(count_lines(d.log_path) - before <= 20);
        close(fd);
        bs_client_unref(c);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* ---- the daemon as a program ------------------------------------------ */

/* Run bufshared with @args to its end: its exit status. */
static int run_daemon(const char *const *args)
{
        const char *argv[16] = { getenv("BUFSHARED") };
        int n = 1, devnull;
        pid_t pid;

        for (; *args; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        pid = fork();
        if (pid == 0) {
                devnull = open("/dev/null", O_WRONLY);
                dup2(devnull, STDERR_FILENO);
                unsetenv("LISTEN_FDS");
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        return test_wait(pid);
}

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
        assert_int_not_equal(run_daemon((const char *const[]){ "--socket", path, NULL }), 0);
        assert_int_equal(stat(missing, &st), -1);
        assert_int_equal(errno, ENOENT);
        assert_int_equal(rmdir(dir), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(many_threads_on_one_client_are_all_answered),
                T(adoption_races_a_write_seal_and_wins),
                T(importing_foreign_memfds_does_not_flood_the_log),
                T(a_missing_socket_folder_is_not_made),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
