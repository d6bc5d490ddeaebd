/* SPDX-License-Identifier: MIT */
/*
 * fds in transit (daemon/inflight.c): a uid's account fills, stops its
 * connections, and empties again once its peers have received, on a
 * real socketpair, a real epoll set and a real libevent loop.
 */
#include "harness.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inflight.h"
#include "limits.h"

#define LIMIT 2

struct fx {
        int fds_before;
        struct event_base *base;
        struct limits limits;
        struct inflight in;
        struct inflight_account *account;
        struct inflight_sock *sock;
        int daemon_end, peer_end;
        unsigned resumed;
};

static void resumed(void *userdata)
{
        struct fx *fx = userdata;
        fx->resumed++;
}

static int setup(void **state)
{
        struct fx *fx = calloc(1, sizeof(*fx));
        int sv[2];

        fx->fds_before = test_count_open_fds();
        fx->base = event_base_new();
        limits_init_default(&fx->limits, 1024);
        fx->limits.max_fds_in_flight_per_uid = LIMIT;
        if (!fx->base || inflight_init(&fx->in, fx->base, &fx->limits) < 0 ||
            socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -1;
        fx->daemon_end = sv[0];
        fx->peer_end = sv[1];
        fx->account = inflight_account_new(&fx->in, NULL, NULL);
        fx->sock = inflight_sock_new(fx->account, fx->daemon_end, resumed, fx);
        if (!fx->account || !fx->sock)
                return -1;
        *state = fx;
        return 0;
}

static int teardown(void **state)
{
        struct fx *fx = *state;
        int leaked;

        inflight_sock_close(fx->sock, fx->daemon_end, NULL);
        inflight_account_free(fx->account);
        inflight_done(&fx->in);
        event_base_free(fx->base);
        close(fx->peer_end);
        leaked = test_count_open_fds() != fx->fds_before;
        free(fx);
        return leaked ? -1 : 0;
}

/* The daemon's side: a reply carrying one fd, counted as sent. */
static void send_one_fd(struct fx *fx)
{
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(test_send_fd(fx->daemon_end, fd), 0);
        close(fd);
        inflight_sock_sent(fx->sock, 1);
}

/* Run the loop for @ms milliseconds. */
static void run_for(struct fx *fx, int ms)
{
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

        assert_int_equal(event_base_loopexit(fx->base, &tv), 0);
        assert_int_equal(event_base_dispatch(fx->base), 0);
}

static void an_account_fills_and_empties_as_its_peer_reads(void **state)
{
        struct fx *fx = *state;

        send_one_fd(fx);
        assert_false(inflight_account_full(fx->account));
        send_one_fd(fx);
        assert_true(inflight_account_full(fx->account));
        assert_true(inflight_sock_blocked(fx->sock));
        for (int i = 0; i < LIMIT; i++) {
                int fd = test_recv_fd(fx->peer_end);
                assert_true(fd >= 0);
                close(fd);
        }
        run_for(fx, 50);
        assert_false(inflight_account_full(fx->account));
        assert_true(fx->resumed >= 1);
        assert_false(inflight_sock_blocked(fx->sock));
}

/* The kernel wakes the set from inside the free of the skb the peer
 * read, a moment before the socket's unread count falls: a look at the
 * set in that moment takes the wake-up and still finds the fds unread,
 * and no other wake-up comes. Here the wake-ups are taken away by hand
 * after the peer read everything; the account must empty all the same. */
static void an_account_empties_when_its_wake_up_came_too_early(void **state)
{
        struct fx *fx = *state;
        struct epoll_event evs[4];

        send_one_fd(fx);
        send_one_fd(fx);
        assert_true(inflight_account_full(fx->account));
        for (int i = 0; i < LIMIT; i++) {
                int fd = test_recv_fd(fx->peer_end);
                assert_true(fd >= 0);
                close(fd);
        }
        while (epoll_wait(fx->in.epfd, evs, 4, 0) > 0)
                ; /* as if a look at the set had taken them too early */
        run_for(fx, 400);
        assert_false(inflight_account_full(fx->account));
        assert_true(fx->resumed >= 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(an_account_fills_and_empties_as_its_peer_reads, setup, teardown),
                cmocka_unit_test_setup_teardown(an_account_empties_when_its_wake_up_came_too_early, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
