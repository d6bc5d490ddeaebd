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

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(many_threads_on_one_client_are_all_answered),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
