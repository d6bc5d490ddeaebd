/* SPDX-License-Identifier: MIT */
/*
 * Image descriptions and the hand-over helpers against the real daemon,
 * across real processes: what a description promises (checked, stored,
 * returned by info, import and receive, set later only by a writable
 * holder), what bs_buffer_receive() refuses (no fd, two fds, a long
 * payload, a stream socket, a closed peer) with no fd left behind, and
 * what BUFSHARE_DEBUG prints.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bufshare/bufshare.h"
#include "fdpass.h"

static struct bs_client *connect_or_die(struct fx_daemon *fx)
{
        struct bs_client *c = NULL;
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c), 0);
        return c;
}

static struct bs_image_description nv12_640x480(uint64_t *ret_size)
{
        struct bs_image_description d;
        assert_int_equal(bs_image_layout(BS_FORMAT_NV12, 640, 480, 64, &d, ret_size), 0);
        return d;
}

static void export_described_returns_it_everywhere(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = connect_or_die(fx);
        struct bs_image_description d, got;
        struct bs_buffer_info info;
        struct bs_buffer *b = NULL;
        uint64_t size;

        d = nv12_640x480(&size);
        assert_int_equal(size, 640 * 480 * 3 / 2);
        assert_int_equal(bs_buffer_export_described(c, size, NULL, "nv12", &d, &b), 0);
        assert_int_equal(bs_buffer_get_description(b, &got), 0);
        assert_memory_equal(&got, &d, sizeof(d));
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_memory_equal(&info.description, &d, sizeof(d));

        /* removed, then set again by the exporter (a writable holder) */
        assert_int_equal(bs_buffer_set_description(b, NULL), 0);
        assert_int_equal(bs_buffer_get_description(b, &got), -ENODATA);
        assert_int_equal(bs_buffer_get_info(b, &info), 0);
        assert_int_equal(info.description.fourcc, 0);
        assert_int_equal(bs_buffer_set_description(b, &d), 0);
        assert_int_equal(bs_buffer_get_description(b, &got), 0);
        assert_memory_equal(&got, &d, sizeof(d));
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* Boundaries the daemon checks too: the library refuses them first, and
 * a raw description past it would get the daemon's -EINVAL. */
static void bad_descriptions_are_refused_and_create_nothing(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = connect_or_die(fx);
        struct bs_image_description d, bad;
        struct bs_buffer *b = (struct bs_buffer *)0x1;
        uint64_t size;

        d = nv12_640x480(&size);
        bad = d;
        bad.planes[1].offset += 1; /* the chroma plane's last byte past the end */
        assert_int_equal(bs_buffer_export_described(c, size - 4095, NULL, NULL, &bad, &b), -EINVAL);
        bad = d;
        bad.planes[1].offset = UINT64_MAX - 10; /* wraps */
        assert_int_equal(bs_buffer_export_described(c, size, NULL, NULL, &bad, &b), -EINVAL);
        bad = d;
        bad.n_planes = 3; /* NV12 has two */
        assert_int_equal(bs_buffer_export_described(c, size, NULL, NULL, &bad, &b), -EINVAL);
        bad = d;
        bad.planes[0].reserved = 1;
        assert_int_equal(bs_buffer_export_described(c, size, NULL, NULL, &bad, &b), -EINVAL);
        memset(&bad, 0, sizeof(bad)); /* "none" is said with NULL */
        assert_int_equal(bs_buffer_export_described(c, size, NULL, NULL, &bad, &b), -EINVAL);
        assert_ptr_equal(b, (struct bs_buffer *)0x1); /* never written on failure */

        /* a description that fits the page-rounded size, not the one asked:
         * refused at export, accepted later on the buffer's real size */
        assert_int_equal(bs_buffer_export(c, 1, NULL, NULL, &b), 0);
        bad = d;
        bad.width = 8;
        bad.height = 8;
        bad.planes[0].stride = 8;
        bad.planes[1].offset = 64;
        bad.planes[1].stride = 8;
        assert_int_equal(bs_buffer_set_description(b, &bad), 0);
        bad.planes[1].offset = 4096 - 31; /* 4 rows of 8: 32 bytes needed */
        assert_int_equal(bs_buffer_set_description(b, &bad), -EINVAL);
        assert_int_equal(bs_client_sync(c), 0); /* the connection survived every refusal */
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* ---- hand-over between processes ---- */

struct receiver_args {
        const char *socket;
        int sock;
        int expect_readonly;
        struct bs_image_description expect;
};

static int receiver(void *arg)
{
        struct receiver_args *a = arg;
        struct bs_image_description desc;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        char payload[64];
        size_t len = 0;
        uint8_t *map;

        child_check(bs_client_connect(a->socket, &c) == 0);
        child_check(bs_buffer_receive(c, a->sock, payload, sizeof(payload), &len, &b, &desc) == 0);
        child_check(len == 6 && memcmp(payload, "frame1", 6) == 0);
        child_check(memcmp(&desc, &a->expect, sizeof(desc)) == 0);
        child_check(bs_buffer_is_readonly(b) == a->expect_readonly);
        child_check(bs_buffer_vmap(b, (void **)&map) == 0);
        child_check(map[0] == 0x5a);
        if (!a->expect_readonly) {
                map[1] = 0xa5; /* the sender sees it */
                child_check(bs_buffer_set_description(b, NULL) == 0);
        } else {
                child_check(bs_buffer_set_description(b, NULL) == -EACCES);
        }
        bs_buffer_vunmap(b, map);
        bs_buffer_put(b);
        bs_client_unref(c);
        return send(a->sock, "k", 1, MSG_NOSIGNAL) == 1 ? 0 : 1;
}

static void send_and_receive(struct fx_daemon *fx, int flags)
{
        struct receiver_args a = { .socket = fx->daemon.socket, .expect_readonly = flags == O_RDONLY };
        struct bs_client *c = connect_or_die(fx);
        struct bs_image_description got;
        struct bs_buffer *b = NULL;
        uint8_t *map;
        uint64_t size;
        int sv[2];
        char ack;
        pid_t pid;

        a.expect = nv12_640x480(&size);
        assert_int_equal(bs_buffer_export_described(c, size, NULL, "handed", &a.expect, &b), 0);
        assert_int_equal(bs_buffer_vmap(b, (void **)&map), 0);
        map[0] = 0x5a;
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        a.sock = sv[1];
        pid = test_fork(receiver, &a);
        close(sv[1]);
        assert_int_equal(bs_buffer_send(b, sv[0], flags, "frame1", 6), 0);
        assert_int_equal(recv(sv[0], &ack, 1, 0), 1);
        assert_int_equal(test_wait(pid), 0);
        if (flags == O_RDWR) {
                assert_int_equal(map[1], 0xa5);
                assert_int_equal(bs_buffer_get_description(b, &got), -ENODATA); /* the receiver removed it */
        } else {
                assert_int_equal(map[1], 0);
                assert_int_equal(bs_buffer_get_description(b, &got), 0);
        }
        close(sv[0]);
        bs_buffer_vunmap(b, map);
        bs_buffer_put(b);
        bs_client_unref(c);
}

static void writable_handover(void **state)
{
        send_and_receive(*state, O_RDWR);
}

static void readonly_view_handover(void **state)
{
        send_and_receive(*state, O_RDONLY);
}

/* What a peer may send that bs_buffer_receive() must refuse, each with
 * every fd closed (the fixture counts them) and the message consumed. */
static void receive_refuses_what_the_daemon_would(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = connect_or_die(fx);
        struct bs_buffer *b = NULL, *got = (struct bs_buffer *)0x1;
        int sv[2], st[2], fds[2], devnull;
        char payload[8];
        size_t len = 99;

        assert_int_equal(bs_buffer_export(c, 4096, NULL, NULL, &b), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        fds[0] = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        fds[1] = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

        /* no fd */
        assert_int_equal(bs_fdpass_send(sv[0], "x", 1, NULL, 0), 0);
        assert_int_equal(bs_buffer_receive(c, sv[1], payload, sizeof(payload), &len, &got, NULL), -EPROTO);
        /* two fds */
        assert_int_equal(bs_fdpass_send(sv[0], "x", 1, fds, 2), 0);
        assert_int_equal(bs_buffer_receive(c, sv[1], payload, sizeof(payload), &len, &got, NULL), -EPROTO);
        /* a payload longer than the receiver takes */
        assert_int_equal(bs_buffer_send(b, sv[0], O_RDWR, "123456789", 9), 0);
        assert_int_equal(bs_buffer_receive(c, sv[1], payload, sizeof(payload), &len, &got, NULL), -EMSGSIZE);
        /* longer than any sender may send */
        {
                static char big[BS_HANDOVER_PAYLOAD_MAX + 100];
                char *huge = malloc(BS_HANDOVER_PAYLOAD_MAX + 1);

                assert_int_equal(bs_buffer_send(b, sv[0], O_RDWR, big, sizeof(big)), -EMSGSIZE);
                assert_int_equal(bs_fdpass_send(sv[0], big, sizeof(big), fds, 1), 0);
                assert_int_equal(bs_buffer_receive(c, sv[1], huge, BS_HANDOVER_PAYLOAD_MAX + 1, &len, &got, NULL),
                                 -EPROTO);
                free(huge);
        }
        /* not a buffer: the daemon's answer */
        assert_int_equal(bs_fdpass_send(sv[0], "x", 1, &devnull, 1), 0);
        assert_int_equal(bs_buffer_receive(c, sv[1], payload, sizeof(payload), &len, &got, NULL), -EBADFD);
        /* an empty payload is fine */
        assert_int_equal(bs_buffer_send(b, sv[0], O_RDWR, NULL, 0), 0);
        assert_int_equal(bs_buffer_receive(c, sv[1], NULL, 0, &len, &got, NULL), 0);
        assert_int_equal(len, 0);
        assert_int_equal(bs_buffer_id(got), bs_buffer_id(b));
        got = bs_buffer_put(got);
        /* nothing queued on a non-blocking socket */
        assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
        assert_int_equal(bs_buffer_receive(c, sv[1], payload, sizeof(payload), &len, &got, NULL), -EAGAIN);
        /* the peer is gone */
        close(sv[0]);
        assert_int_equal(bs_buffer_receive(c, sv[1], payload, sizeof(payload), &len, &got, NULL), -ECONNRESET);
        assert_null(got);
        assert_int_equal(len, 0); /* written by the one success only */
        close(sv[1]);

        /* a stream socket keeps no message bounds */
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st), 0);
        assert_int_equal(bs_buffer_send(b, st[0], O_RDWR, "x", 1), -EPROTOTYPE);
        assert_int_equal(bs_buffer_receive(c, st[1], payload, sizeof(payload), &len, &got, NULL), -EPROTOTYPE);
        assert_int_equal(bs_buffer_send(b, devnull, O_RDWR, "x", 1), -ENOTSOCK);
        assert_int_equal(bs_buffer_send(b, st[0], O_WRONLY, "x", 1), -EINVAL);
        close(st[0]);
        close(st[1]);
        close(fds[0]);
        close(fds[1]);
        close(devnull);
        assert_int_equal(bs_client_sync(c), 0);
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* ---- BUFSHARE_DEBUG, in a process of its own (read once) ---- */

static int debug_child(const char *socket)
{
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        bs_client_connect("/nonexistent/bufshare.sock", &c);
        if (bs_client_connect(socket, &c) < 0)
                return 1;
        bs_buffer_import(c, fd, &b);     /* the daemon refuses: not a memfd */
        bs_buffer_export(c, 0, NULL, NULL, &b); /* the library refuses */
        bs_client_unref(c);
        close(fd);
        return 0;
}

/* Run this test binary again as the debug child, with @debug as
 * BUFSHARE_DEBUG; its stderr in @out. */
static int run_debug_child(const char *socket, const char *debug, char *out, size_t len)
{
        int pv[2], status;
        size_t got = 0;
        ssize_t n;
        pid_t pid;

        if (pipe2(pv, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid == 0) {
                dup2(pv[1], 2);
                if (debug)
                        setenv("BUFSHARE_DEBUG", debug, 1);
                else
                        unsetenv("BUFSHARE_DEBUG");
                execl("/proc/self/exe", "test-handover", "--debug-child", socket, (char *)NULL);
                _exit(127);
        }
        close(pv[1]);
        while (got + 1 < len && (n = read(pv[0], out + got, len - 1 - got)) > 0)
                got += (size_t)n;
        out[got] = '\0';
        close(pv[0]);
        waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void debug_output_only_on_request(void **state)
{
        struct fx_daemon *fx = *state;
        static char out[8192];

        assert_int_equal(run_debug_child(fx->daemon.socket, NULL, out, sizeof(out)), 0);
        assert_string_equal(out, ""); /* the library never prints by itself */
        assert_int_equal(run_debug_child(fx->daemon.socket, "1", out, sizeof(out)), 0);
        fputs(out, stdout);
        assert_non_null(strstr(out, "bufshare: bs_client_connect(socket_path=/nonexistent/bufshare.sock) = -ENOENT"));
        assert_non_null(strstr(out, "nothing listens on the socket"));
        assert_non_null(strstr(out, "bs_buffer_import(c=0x"));
        assert_non_null(strstr(out, "= -EBADFD (File descriptor in bad state): the daemon refused import: the fd is "
                                    "not a memfd"));
        assert_non_null(strstr(out, "bs_buffer_export(c=0x"));
        assert_non_null(strstr(out, "size=0, heap=(null), name=(null)) = -EINVAL"));
        assert_non_null(strstr(out, "the library's own check refused it: size == 0"));
}

int main(int argc, char **argv)
{
        if (argc == 3 && strcmp(argv[1], "--debug-child") == 0)
                return debug_child(argv[2]);

        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, fx_daemon_setup, fx_daemon_teardown)
                T(export_described_returns_it_everywhere),
                T(bad_descriptions_are_refused_and_create_nothing),
                T(writable_handover),
                T(readonly_view_handover),
                T(receive_refuses_what_the_daemon_would),
                T(debug_output_only_on_request),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
