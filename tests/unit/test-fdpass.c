/* SPDX-License-Identifier: MIT */
/* SCM_RIGHTS transport (protocol/fdpass.c, msgio.c): fds arrive CLOEXEC,
 * and on every refusal every fd that arrived is closed. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "fdpass.h"
#include "message.h"
#include "msgio.h"
#include "util.h"

static void pair(int sv[2])
{
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static int devnull(void)
{
        return open("/dev/null", O_RDONLY); /* no CLOEXEC on purpose */
}

/* sendmsg with any number of fds, bypassing bs_fdpass_send's cap. */
static void raw_send(int sock, const void *data, size_t len, const int *fds, unsigned n)
{
        assert_int_equal(bs_fdpass_send(sock, data, len, fds, n), 0);
}

static void fds_arrive_cloexec(void **state)
{
        int sv[2], fds[2] = { devnull(), devnull() }, got[BS_MAX_FDS];
        unsigned n = 0;
        int damage = 0;
        char buf[8];

        pair(sv);
        assert_int_equal(bs_fdpass_send(sv[0], "hi", 2, fds, 2), 0);
        assert_int_equal(bs_fdpass_recv(sv[1], buf, sizeof(buf), got, BS_MAX_FDS, &n, &damage), 2);
        assert_int_equal(damage, 0);
        assert_int_equal(n, 2);
        for (unsigned i = 0; i < n; i++) {
                assert_true(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
                close(got[i]);
        }
        close(fds[0]);
        close(fds[1]);
        close(sv[0]);
        close(sv[1]);
}

static void too_many_fds_is_eproto_and_all_closed(void **state)
{
        int sv[2], fds[BS_MAX_FDS + 2], got[BS_MAX_FDS];
        unsigned n = 0;
        int damage = 0;
        char buf[8];

        pair(sv);
        for (unsigned i = 0; i < ELEMENTSOF(fds); i++)
                fds[i] = devnull();
        raw_send(sv[0], "x", 1, fds, ELEMENTSOF(fds));
        for (unsigned i = 0; i < ELEMENTSOF(fds); i++)
                close(fds[i]);
        assert_int_equal(bs_fdpass_recv(sv[1], buf, sizeof(buf), got, BS_MAX_FDS, &n, &damage), 1);
        assert_int_equal(damage, -EPROTO);
        assert_int_equal(n, 0);
        close(sv[0]);
        close(sv[1]);
        /* the fixture fails the test if any received fd stayed open */
}

static void fds_beyond_the_callers_max_are_eproto(void **state)
{
        int sv[2], fds[2] = { devnull(), devnull() }, got[1];
        unsigned n = 0;
        int damage = 0;
        char buf[8];

        pair(sv);
        assert_int_equal(bs_fdpass_send(sv[0], "x", 1, fds, 2), 0);
        assert_int_equal(bs_fdpass_recv(sv[1], buf, sizeof(buf), got, 1, &n, &damage), 1);
        assert_int_equal(damage, -EPROTO);
        assert_int_equal(n, 0);
        close(fds[0]);
        close(fds[1]);
        close(sv[0]);
        close(sv[1]);
}

static void truncated_datagram_is_eproto_and_fds_closed(void **state)
{
        int sv[2], fd = devnull(), got[BS_MAX_FDS];
        char big[256] = { 0 }, buf[16];
        unsigned n = 0;
        int damage = 0;

        pair(sv);
        assert_int_equal(bs_fdpass_send(sv[0], big, sizeof(big), &fd, 1), 0);
        close(fd);
        /* the bytes that fit still come back, so a reply can name the serial */
        assert_int_equal(bs_fdpass_recv(sv[1], buf, sizeof(buf), got, BS_MAX_FDS, &n, &damage), sizeof(buf));
        assert_int_equal(damage, -EPROTO);
        assert_int_equal(n, 0);
        close(sv[0]);
        close(sv[1]);
}

/* The kernel says MSG_CTRUNC both for a peer that sent too many fds and
 * for a receiver that is out of fds: the second is -EMFILE, not the
 * peer's fault, and the bytes still arrive. */
static void out_of_fds_is_emfile_not_eproto(void **state)
{
        int sv[2], fd = devnull(), got[BS_MAX_FDS], damage = 0;
        struct rlimit old, low;
        unsigned n = 7;
        char buf[8];

        pair(sv);
        assert_int_equal(bs_fdpass_send(sv[0], "abc", 3, &fd, 1), 0);
        close(fd);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
        low = old;
        int lowest_free = fcntl(sv[0], F_DUPFD_CLOEXEC, 0);
        assert_true(lowest_free >= 0);
        close(lowest_free);
        low.rlim_cur = (rlim_t)lowest_free; /* no fd number left to give */
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        ssize_t r = bs_fdpass_recv(sv[1], buf, sizeof(buf), got, BS_MAX_FDS, &n, &damage);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
        assert_int_equal(r, 3);
        assert_int_equal(damage, -EMFILE);
        assert_int_equal(n, 0);
        assert_memory_equal(buf, "abc", 3);
        close(sv[0]);
        close(sv[1]);
}

static void credentials_cmsg_is_eproto(void **state)
{
        int sv[2], one = 1, got[BS_MAX_FDS];
        unsigned n = 0;
        int damage = 0;
        char buf[8];

        pair(sv);
        assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
        assert_int_equal(bs_fdpass_send(sv[0], "x", 1, NULL, 0), 0);
        /* with SO_PASSCRED the kernel attaches SCM_CREDENTIALS, which the
         * control buffer sized for fds alone can't hold */
        assert_int_equal(bs_fdpass_recv(sv[1], buf, sizeof(buf), got, BS_MAX_FDS, &n, &damage), 1);
        assert_int_equal(damage, -EPROTO);
        assert_int_equal(n, 0);
        close(sv[0]);
        close(sv[1]);
}

static void peer_close_reads_as_zero(void **state)
{
        int sv[2], got[BS_MAX_FDS];
        unsigned n = 0;
        int damage = 0;
        char buf[8];

        pair(sv);
        close(sv[0]);
        assert_int_equal(bs_fdpass_recv(sv[1], buf, sizeof(buf), got, BS_MAX_FDS, &n, &damage), 0);
        assert_int_equal(damage, 0);
        close(sv[1]);
}

static void empty_nonblocking_socket_is_eagain(void **state)
{
        int sv[2], got[BS_MAX_FDS];
        unsigned n = 0;
        int damage = 0;
        char buf[8];

        pair(sv);
        assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
        assert_int_equal(bs_fdpass_recv(sv[1], buf, sizeof(buf), got, BS_MAX_FDS, &n, &damage), -EAGAIN);
        assert_int_equal(damage, 0);
        close(sv[0]);
        close(sv[1]);
}

static void msg_recv_closes_fds_of_a_malformed_message(void **state)
{
        int sv[2], fd = devnull();
        struct bs_msg m;

        pair(sv);
        /* a valid INFO request header but carrying a stray fd */
        bs_msg_request(&m, BS_OP_INFO, 5);
        m.body.id_req.id = 1;
        assert_int_equal(bs_msg_add_fd(&m, fd), 0);
        assert_int_equal(bs_msg_send(sv[0], &m), 0);
        bs_msg_clear(&m);

        assert_int_equal(bs_msg_recv(sv[1], &m), -EPROTO);
        assert_true(m.len >= sizeof(m.hdr)); /* header usable for the error reply */
        assert_int_equal(m.hdr.serial, 5);
        assert_int_equal(m.n_fds, 0);
        close(sv[0]);
        close(sv[1]);
}

static void msg_roundtrip_with_fd(void **state)
{
        int sv[2];
        struct bs_msg m, got;

        pair(sv);
        bs_msg_request(&m, BS_OP_IMPORT, 11);
        assert_int_equal(bs_msg_add_fd(&m, devnull()), 0);
        assert_int_equal(bs_msg_send(sv[0], &m), 0);
        bs_msg_clear(&m);
        assert_int_equal(bs_msg_recv(sv[1], &got), 0);
        assert_int_equal(got.hdr.opcode, BS_OP_IMPORT);
        assert_int_equal(got.hdr.serial, 11);
        assert_int_equal(got.n_fds, 1);
        assert_true(got.fds[0] >= 0);
        bs_msg_clear(&got);
        close(sv[0]);
        close(sv[1]);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(fds_arrive_cloexec),
                T(too_many_fds_is_eproto_and_all_closed),
                T(fds_beyond_the_callers_max_are_eproto),
                T(truncated_datagram_is_eproto_and_fds_closed),
                T(out_of_fds_is_emfile_not_eproto),
                T(credentials_cmsg_is_eproto),
                T(peer_close_reads_as_zero),
                T(empty_nonblocking_socket_is_eagain),
                T(msg_recv_closes_fds_of_a_malformed_message),
                T(msg_roundtrip_with_fd),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
