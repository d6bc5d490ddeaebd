/* SPDX-License-Identifier: MIT */
/*
 * The daemon on a host without CUSE (this machine's kernel has none):
 * one log line says so and the socket is served alone; --no-device says
 * nothing at all; REDEEM answers -ENOENT where no token was ever made;
 * bad device options stop the daemon at start. The device itself is
 * tested in the VM (tests/vm/cuse.sh).
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bufshare/bufshare.h"

static void serve_an_export(const char *socket)
{
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;

        assert_int_equal(bs_client_connect(socket, &c), 0);
        assert_int_equal(bs_buffer_export(c, 4096, NULL, "no-cuse", &b), 0);
        bs_buffer_put(b);
        bs_client_unref(c);
}

static void without_dev_cuse_one_line_and_the_socket_alone(void **state)
{
        struct test_daemon d = { .capture_log = true };
        struct stat st;

        /* this test is about a machine without it; tests/vm covers the device */
        test_skip_unless(stat("/dev/cuse", &st) != 0, "this host has /dev/cuse: tests/vm covers the device here");
        assert_int_equal(test_daemon_start(&d, NULL), 0);
        serve_an_export(d.socket);
        /* logged before READY=1: complete by now (stop removes the log) */
        assert_int_equal(test_count_lines(d.log_path, "CUSE"), 1);
        /* the reason: no /dev/cuse here, or a build without libfuse */
        assert_int_equal(test_count_lines(d.log_path, "CUSE: /dev/cuse: No such file or directory: no /dev/bufshare, "
                                                 "serving the socket alone") +
                                 test_count_lines(d.log_path, "CUSE: built without libfuse (-Dcuse=disabled): no "
                                                         "/dev/bufshare, serving the socket alone"),
                         1);
        assert_int_equal(test_daemon_stop(&d), 0);
}

static void no_device_says_nothing_of_cuse(void **state)
{
        static const char *const args[] = { "--no-device", NULL };
        struct test_daemon d = { .capture_log = true };

        assert_int_equal(test_daemon_start(&d, args), 0);
        serve_an_export(d.socket);
        assert_int_equal(test_count_lines(d.log_path, "CUSE"), 0);
        assert_int_equal(test_daemon_stop(&d), 0);
}

static void redeem_without_a_device_is_enoent(void **state)
{
        struct fx_daemon *fx = *state;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        const uint64_t token[2] = { 0x0123456789abcdefull, 0xfedcba9876543210ull };

        assert_int_equal(bs_client_connect(fx->daemon.socket, &c), 0);
        assert_int_equal(bs_client_redeem(c, token, &b), -ENOENT);
        assert_null(b);
        assert_int_equal(bs_client_redeem(c, NULL, &b), -EINVAL);
        /* the connection is still good */
        assert_int_equal(bs_buffer_export(c, 4096, NULL, NULL, &b), 0);
        bs_buffer_put(b);
        bs_client_unref(c);
}

/* bufshared's exit status with @flag @value. */
static int daemon_exit_status(const char *flag, const char *value)
{
        const char *bin = getenv("BUFSHARED");
        int status;
        pid_t pid;

        assert_non_null(bin);
        pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                dup2(null, STDERR_FILENO);
                execl(bin, bin, "--socket", "/nonexistent/socket", flag, value, (char *)NULL);
                _exit(127);
        }
        assert_true(pid > 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void bad_device_options_stop_the_daemon(void **state)
{
        assert_int_equal(daemon_exit_status("--device-name", "../etc/x"), 2);
        assert_int_equal(daemon_exit_status("--device-name", ""), 2);
        assert_int_equal(daemon_exit_status("--device-mode", "0999"), 2);
        assert_int_equal(daemon_exit_status("--device-mode", "rw"), 2);
        assert_int_equal(daemon_exit_status("--device-group", "no-such-group-here"), 2);
        assert_int_equal(daemon_exit_status("--token-lifetime", "0"), 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)
#define TD(f) cmocka_unit_test_setup_teardown(f, fx_daemon_setup, fx_daemon_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(without_dev_cuse_one_line_and_the_socket_alone),
                T(no_device_says_nothing_of_cuse),
                TD(redeem_without_a_device_is_enoent),
                T(bad_device_options_stop_the_daemon),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
