/* SPDX-License-Identifier: MIT */
/*
 * A fence's ready-made sync file (FENCE_CREATE with PAIR), as an attacker
 * holding the creator's sending end sees it: against the real bufshared,
 * from raw connections. Until it is handed out, the daemon holds the
 * waiter's end, and the creator can queue anything in it, fds whose
 * release blocks included.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bufshare/bufshare.h"
#include "fdpass.h"
#include "message.h"
#include "msgio.h"
#include "peer.h"
#include "util.h"

#define PAGE 4096

static int hello(const struct test_daemon *d)
{
        int s = test_raw_connect_hello(d->socket);

        assert_true(s >= 0);
        return s;
}

/* A page-sized buffer exported on @s: its id, its fd in *@ret_fd. */
static uint64_t raw_export(int s, int *ret_fd)
{
        struct bs_msg req, rep;
        uint64_t id;

        bs_msg_request(&req, BS_OP_EXPORT, 20);
        req.body.export_req.size = PAGE;
        strcpy(req.body.export_req.heap, "system");
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        assert_int_equal(rep.n_fds, 1);
        id = rep.body.export_rep.id;
        *ret_fd = TAKE_FD(rep.fds[0]);
        bs_msg_clear(&rep);
        return id;
}

static uint64_t raw_import(int s, int fd)
{
        struct bs_msg req, rep;
        uint64_t id;

        bs_msg_request(&req, BS_OP_IMPORT, 21);
        bs_msg_add_fd(&req, fcntl(fd, F_DUPFD_CLOEXEC, 3));
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        id = rep.body.import_rep.id;
        bs_msg_clear(&req);
        bs_msg_clear(&rep);
        return id;
}

/* A fence of @s's made with PAIR: its id, the sending end in *@ret_end. */
static uint64_t raw_paired_fence(int s, int *ret_end)
{
        struct bs_msg req, rep;
        uint64_t id;

        bs_msg_request(&req, BS_OP_FENCE_CREATE, 22);
        req.body.fence_create_req.flags = BS_WIRE_FENCE_PAIR;
        assert_int_equal(test_raw_call(s, &req, &rep), 0);
        id = rep.body.fence_create_rep.fence_id;
        *ret_end = rep.n_fds == 1 ? TAKE_FD(rep.fds[0]) : -EBADF;
        bs_msg_clear(&rep);
        return id;
}

static int raw_fence(int s, enum bs_opcode op, uint64_t buffer_id, uint64_t fence_id, uint32_t usage)
{
        struct bs_msg req, rep;
        int r;

        bs_msg_request(&req, op, 23);
        if (op == BS_OP_FENCE_ATTACH) {
                req.body.fence_attach_req.buffer_id = buffer_id;
                req.body.fence_attach_req.fence_id = fence_id;
                req.body.fence_attach_req.usage = usage;
        } else {
                req.body.id_req.id = fence_id; /* FENCE_DESTROY */
        }
        r = test_raw_call(s, &req, &rep);
        bs_msg_clear(&rep);
        return r;
}

/* The daemon's fd count once it stays put for 300 ms (its reserve of
 * memfds is made while it is idle). */
static int daemon_fds_steady(struct test_daemon *d, struct bs_client *c)
{
        uint64_t since = test_now_ms();
        int n = test_count_fds_of(d->pid);

        while (test_now_ms() - since < 300) {
                int m;

                usleep(20000);
                assert_int_equal(bs_client_sync(c), 0);
                m = test_count_fds_of(d->pid);
                if (m != n) {
                        n = m;
                        since = test_now_ms();
                }
        }
        return n;
}

/*
 * The creator parks a lingering TCP socket in its fence's ready-made sync
 * file; a connection of its own then asks for that sync file and hangs up
 * before the reply can be sent. The reply (and the waiter's end, the last
 * copy of it) is dropped on the event loop, whose close releases the
 * parked socket there: the daemon's one thread sleeps for the linger time
 * and no client is served.
 */
static void an_undelivered_ready_made_sync_file_stalls_no_one(void **state)
{
        struct test_daemon d = {};
        struct bs_client *victim;
        int a, w, buf_fd, end, s, peer, baseline;
        uint64_t a_id, w_id, fence;
        struct bs_msg req;
        int r = 0;
        (void)state;

        assert_int_equal(test_daemon_start(&d, NULL), 0);
        assert_int_equal(bs_client_connect(d.socket, &victim), 0);
        assert_int_equal(bs_client_set_timeout(victim, 5000), 0);
        baseline = daemon_fds_steady(&d, victim);

        a = hello(&d);
        w = hello(&d);
        a_id = raw_export(a, &buf_fd);
        w_id = raw_import(w, buf_fd);
        fence = raw_paired_fence(a, &end);
        assert_true(end >= 0);
        assert_int_equal(raw_fence(a, BS_OP_FENCE_ATTACH, a_id, fence, BS_WIRE_SYNC_WRITE), 0);

        /* parked: the daemon's end is the last one holding it */
        s = test_lingering_socket(60, &peer);
        assert_int_equal(bs_fdpass_send(end, "junk", 4, &s, 1), 0);
        close(s);

        /* the export, from a connection that is gone when it is answered */
        assert_int_equal(kill(d.pid, SIGSTOP), 0);
        bs_msg_request(&req, BS_OP_EXPORT_SYNC_FILE, 24);
        req.body.sync_file_req.buffer_id = w_id;
        req.body.sync_file_req.flags = BS_WIRE_SYNC_READ;
        assert_int_equal(bs_msg_send(w, &req), 0);
        close(w);
        assert_int_equal(kill(d.pid, SIGCONT), 0);

        /* everyone else is served at once */
        for (int k = 0; k < 10 && r == 0; k++)
                r = bs_client_sync(victim);

        close(peer); /* the linger ends */
        assert_int_equal(raw_fence(a, BS_OP_FENCE_DESTROY, 0, fence, 0), 0);
        close(end);
        close(buf_fd);
        close(a);
        assert_int_equal(bs_client_set_timeout(victim, 70000), 0);
        assert_int_equal(test_daemon_fds_settle(&d, victim, baseline), baseline);
        bs_client_unref(victim);
        assert_int_equal(test_daemon_stop(&d), 0);
        assert_int_equal(r, 0); /* -ETIMEDOUT: the daemon slept in close() */
}

/*
 * The closer thread is held by one parked fd; then the creator makes and
 * destroys paired fences in a loop. Each destroy hands the waiter's end
 * to the closer, uncharged (the uid's fence fds were dropped already) and
 * on no uid's closer account: the daemon's fds grew with every round,
 * past --max-sync-files-per-uid and with no bound at all. They are the
 * uid's on the closer now: past UID_CLOSING_MAX (128), its connections
 * are not read until the closer catches up.
 */
static void a_held_closer_lets_no_uid_pile_up_fence_fds(void **state)
{
        static const char *const args[] = { "--max-sync-files-per-uid", "8", NULL };
        enum { ROUNDS = 300 };
        struct test_daemon d = {};
        struct bs_client *victim;
        struct timeval tv = { 0, 300000 };
        int a, end, s, peer, baseline, grown;
        uint64_t fence;
        (void)state;

        assert_int_equal(test_daemon_start(&d, args), 0);
        assert_int_equal(bs_client_connect(d.socket, &victim), 0);
        assert_int_equal(bs_client_set_timeout(victim, 5000), 0);
        baseline = daemon_fds_steady(&d, victim);
        a = hello(&d);

        /* the closer's thread sleeps in the linger */
        fence = raw_paired_fence(a, &end);
        assert_true(end >= 0);
        s = test_lingering_socket(60, &peer);
        assert_int_equal(bs_fdpass_send(end, "junk", 4, &s, 1), 0);
        close(s);
        close(end);
        assert_int_equal(raw_fence(a, BS_OP_FENCE_DESTROY, 0, fence, 0), 0);

        /* a uid whose fds wait for the closer may find its connections
         * no longer read: then it is done */
        assert_int_equal(setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        for (int i = 0; i < ROUNDS; i++) {
                struct bs_msg req, rep;

                bs_msg_request(&req, BS_OP_FENCE_CREATE, 22);
                req.body.fence_create_req.flags = BS_WIRE_FENCE_PAIR;
                if (test_raw_call(a, &req, &rep) < 0)
                        break;
                fence = rep.body.fence_create_rep.fence_id;
                bs_msg_clear(&rep);
                bs_msg_request(&req, BS_OP_FENCE_DESTROY, 23);
                req.body.id_req.id = fence;
                if (test_raw_call(a, &req, &rep) < 0)
                        break;
                bs_msg_clear(&rep);
        }
        usleep(100000);
        grown = test_count_fds_of(d.pid) - baseline - 1; /* not @a's connection */
        printf("the daemon holds %d more fds after %d paired fences came and went\n", grown, ROUNDS);

        close(peer);
        close(a);
        assert_int_equal(test_daemon_fds_settle(&d, victim, baseline), baseline);
        bs_client_unref(victim);
        assert_int_equal(test_daemon_stop(&d), 0);
        /* what a uid makes the daemon hold stays within its quota */
        assert_true(grown <= 128 + 8);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(an_undelivered_ready_made_sync_file_stalls_no_one),
                T(a_held_closer_lets_no_uid_pile_up_fence_fds),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
