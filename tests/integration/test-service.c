/* SPDX-License-Identifier: MIT */
/*
 * bufshared as a systemd service, without systemd: socket activation
 * through systemd-socket-activate (and a passed socket of the wrong type
 * refused), READY=1 and STATUS= on a NOTIFY_SOCKET of the test's own,
 * WATCHDOG=1 pings with WATCHDOG_USEC set, and SIGHUP reloading --config.
 */
#include "harness.h"

#include <bufshare/bufshare.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "util.h"

static const char *socket_activate;

static void export_gives(const char *socket, uint64_t size, int expect)
{
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;

        assert_int_equal(bs_client_connect(socket, &c), 0);
        assert_int_equal(bs_buffer_export(c, size, "system", "t", &b), expect);
        bs_buffer_put(b);
        bs_client_unref(c);
}

static void ready_then_status_with_live_counts(void **state)
{
        struct test_daemon d = { .keep_notify = true };
        struct bs_client *c = NULL;
        struct bs_buffer *b[2] = {};
        char buf[512];

        alarm(TEST_TIMEOUT_S);
        assert_int_equal(test_daemon_start(&d, NULL), 0); /* it waited for READY=1 */
        assert_true(d.notify_fd >= 0);
        assert_int_equal(bs_client_connect(d.socket, &c), 0);
        assert_int_equal(bs_buffer_export(c, 4096, "system", "a", &b[0]), 0);
        assert_int_equal(bs_buffer_export(c, 8192, "system", "b", &b[1]), 0);
        /* at most a second later, the status has the new counts */
        assert_int_equal(test_notify_wait(d.notify_fd, "STATUS=1 clients, 2 buffers, 12.0 KiB", 5000, buf,
                                          sizeof(buf)),
                         0);
        bs_buffer_put(b[0]);
        bs_buffer_put(b[1]);
        bs_client_unref(c);
        assert_int_equal(test_notify_wait(d.notify_fd, "STATUS=0 clients, 0 buffers, 0 B", 5000, buf, sizeof(buf)),
                         0);
        kill(d.pid, SIGTERM);
        assert_int_equal(test_notify_wait(d.notify_fd, "STOPPING=1", 5000, buf, sizeof(buf)), 0);
        /* stopping already: a second SIGTERM now would kill it outright */
        assert_int_equal(test_daemon_wait(&d), 0);
        close(d.notify_fd);
        assert_int_equal(test_daemon_stop(&d), 0);
}

static void watchdog_pings_come_from_the_loop(void **state)
{
        struct test_daemon d = { .keep_notify = true, .capture_log = true };
        char buf[512];
        uint64_t start;
        unsigned pings = 0;

        alarm(TEST_TIMEOUT_S);
        setenv("WATCHDOG_USEC", "200000", 1); /* 200 ms: a ping every 100 ms */
        assert_int_equal(test_daemon_start(&d, NULL), 0);
        unsetenv("WATCHDOG_USEC");
        start = test_now_ms();
        while (pings < 5 && test_now_ms() - start < 5000)
                if (test_notify_wait(d.notify_fd, "WATCHDOG=1", 1000, buf, sizeof(buf)) == 0)
                        pings++;
        assert_int_equal(pings, 5);
        /* every 100 ms: five take about half a second, not the whole wait */
        assert_true(test_now_ms() - start < 3000);
        close(d.notify_fd);
        assert_int_equal(test_daemon_stop(&d), 0);
}

static void write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static void sighup_reloads_the_config_file(void **state)
{
        struct test_daemon d = { .keep_notify = true };
        char config[] = "/tmp/bufshare-test-config-XXXXXX", buf[512];
        const char *args[] = { "--config", config, "--max-clients", "50", NULL };
        int fd = mkstemp(config);

        alarm(TEST_TIMEOUT_S);
        assert_true(fd >= 0);
        close(fd);
        write_file(config, "max-buffer-size = 1M\nmax-clients = 3\n");
        assert_int_equal(test_daemon_start(&d, args), 0);
        export_gives(d.socket, 2 << 20, -EFBIG);

        write_file(config, "# bigger\nmax-buffer-size = 4M\n");
        kill(d.pid, SIGHUP);
        assert_int_equal(test_notify_wait(d.notify_fd, "RELOADING=1", 5000, buf, sizeof(buf)), 0);
        assert_int_equal(test_notify_wait(d.notify_fd, "READY=1", 5000, buf, sizeof(buf)), 0);
        export_gives(d.socket, 2 << 20, 0);
        export_gives(d.socket, 5 << 20, -EFBIG);

        /* a bad file: the limits in force stay, and the status says why */
        write_file(config, "max-buffer-size = 8M\nmax-clients = 0\n");
        kill(d.pid, SIGHUP);
        assert_int_equal(test_notify_wait(d.notify_fd, "READY=1", 5000, buf, sizeof(buf)), 0);
        assert_non_null(strstr(buf, "STATUS=reload failed, old limits kept: "));
        assert_non_null(strstr(buf, ":2: max-clients"));
        export_gives(d.socket, 5 << 20, -EFBIG);
        export_gives(d.socket, 4 << 20, 0);

        unlink(config);
        close(d.notify_fd);
        assert_int_equal(test_daemon_stop(&d), 0);
}

static void sighup_without_a_config_changes_nothing(void **state)
{
        struct test_daemon d = { .capture_log = true };
        const char *args[] = { "--max-buffer-size", "1M", NULL };
        char log[4096] = "";

        alarm(TEST_TIMEOUT_S);
        assert_int_equal(test_daemon_start(&d, args), 0);
        kill(d.pid, SIGHUP);
        export_gives(d.socket, 2 << 20, -EFBIG);
        export_gives(d.socket, 1 << 20, 0);
        /* SIGTERM comes after SIGHUP: by the exit, the log has its line */
        assert_int_equal(test_daemon_stop_read_log(&d, log, sizeof(log)), 0);
        assert_non_null(strstr(log, "SIGHUP: no --config file, nothing to reload"));
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* systemd-socket-activate listening on @dir/socket (@seqpacket or a
 * stream socket), bufshared behind it. Returns its pid once it listens;
 * its stderr (that of bufshared, which it becomes) is in *@ret_log. */
static pid_t activate_as(const char *dir, bool seqpacket, uid_t uid, int *ret_log)
{
        char sock[128], line[512];
        int pipefd[2];
        ssize_t n = 0, k;
        pid_t pid;

        snprintf(sock, sizeof(sock), "%s/socket", dir);
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (dup2(pipefd[1], STDERR_FILENO) < 0)
                        _exit(127);
                if (uid) {
                        /* systemd-socket-activate execs setpriv, which execs
                         * a copy of bufshared the user may reach: one pid */
                        char bin[128], uidarg[32];
                        snprintf(bin, sizeof(bin), "%s/bufshared", dir);
                        snprintf(uidarg, sizeof(uidarg), "%u", (unsigned)uid);
                        execl(socket_activate, socket_activate, "--seqpacket", "-l", sock, "setpriv", "--reuid",
                              uidarg, "--regid", uidarg, "--clear-groups", bin, "--bus=none", (char *)NULL);
                        _exit(127);
                }
                if (seqpacket)
                        execl(socket_activate, socket_activate, "--seqpacket", "-l", sock, getenv("BUFSHARED"),
                              "--bus=none", "--socket", "/nonexistent/unused", (char *)NULL);
                else
                        execl(socket_activate, socket_activate, "-l", sock, getenv("BUFSHARED"), "--bus=none",
                              (char *)NULL);
                _exit(127);
        }
        close(pipefd[1]);
        /* it says "Listening on" once it listens */
        while (!memmem(line, (size_t)n, "Listening on", 12)) {
                assert_true(n < (ssize_t)sizeof(line) - 1);
                assert_int_equal(test_wait_readable(pipefd[0], 10000), 0);
                k = read(pipefd[0], line + n, sizeof(line) - 1 - (size_t)n);
                assert_true(k > 0);
                n += k;
        }
        *ret_log = pipefd[0];
        return pid;
}

static pid_t activate(const char *dir, bool seqpacket, int *ret_log)
{
        return activate_as(dir, seqpacket, 0, ret_log);
}

static void socket_activation_serves_the_first_client(void **state)
{
        char dir[] = "/tmp/bufshare-test-XXXXXX", sock[128];
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        int log;
        pid_t pid;

        alarm(TEST_TIMEOUT_S);
        assert_non_null(mkdtemp(dir));
        snprintf(sock, sizeof(sock), "%s/socket", dir);
        pid = activate(dir, true, &log); /* open to the end: it logs more */
        /* the first connection starts bufshared with the listening socket */
        assert_int_equal(bs_client_connect(sock, &c), 0);
        assert_int_equal(bs_buffer_export(c, 4096, "system", "activated", &b), 0);
        bs_buffer_put(b);
        bs_client_unref(c);
        kill(pid, SIGTERM);
        assert_int_equal(test_wait(pid), 0);
        close(log);
        unlink(sock); /* systemd's to remove, not the daemon's */
        rmdir(dir);
}

/* A system service of its own user has no XDG_RUNTIME_DIR, and needs
 * none: it never looks for a path of its own. */
static void socket_activation_as_a_user_without_a_runtime_dir(void **state)
{
        char dir[] = "/tmp/bufshare-test-XXXXXX", sock[100], cmd[512];
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        int log;
        pid_t pid;

        alarm(TEST_TIMEOUT_S);
        test_skip_unless(geteuid() == 0, "not root: can't run bufshared as another user");
        assert_non_null(mkdtemp(dir));
        assert_int_equal(chmod(dir, 0755), 0);
        snprintf(sock, sizeof(sock), "%s/socket", dir);
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s/bufshared'", getenv("BUFSHARED"), dir);
        assert_int_equal(system(cmd), 0);
        pid = activate_as(dir, true, 65534, &log);
        assert_int_equal(bs_client_connect(sock, &c), 0);
        assert_int_equal(bs_buffer_export(c, 4096, "system", "as-nobody", &b), 0);
        bs_buffer_put(b);
        bs_client_unref(c);
        kill(pid, SIGTERM);
        assert_int_equal(test_wait(pid), 0);
        close(log);
        unlink(sock);
        snprintf(cmd, sizeof(cmd), "%s/bufshared", dir);
        unlink(cmd);
        rmdir(dir);
}

static void a_stream_socket_is_refused(void **state)
{
        char dir[] = "/tmp/bufshare-test-XXXXXX", sock[100], log[4096] = "";
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = 0;
        ssize_t k;
        int fd, lfd;
        pid_t pid;

        alarm(TEST_TIMEOUT_S);
        assert_non_null(mkdtemp(dir));
        snprintf(sock, sizeof(sock), "%s/socket", dir);
        pid = activate(dir, false, &lfd);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        while (n < sizeof(log) - 1 && test_wait_readable(lfd, 10000) == 0 &&
               (k = read(lfd, log + n, sizeof(log) - 1 - n)) > 0)
                n += (size_t)k;
        close(lfd);
        assert_int_equal(test_wait(pid), 1); /* refused, not served */
        close(fd);
        assert_non_null(strstr(log, "not a listening AF_UNIX SOCK_SEQPACKET socket"));
        unlink(sock);
        rmdir(dir);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_base_setup, fx_base_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(ready_then_status_with_live_counts),
                T(watchdog_pings_come_from_the_loop),
                T(sighup_reloads_the_config_file),
                T(sighup_without_a_config_changes_nothing),
                T(socket_activation_serves_the_first_client),
                T(socket_activation_as_a_user_without_a_runtime_dir),
                T(a_stream_socket_is_refused),
        };

        socket_activate = "/usr/bin/systemd-socket-activate";
        test_require(access(socket_activate, X_OK) == 0,
                     "no /usr/bin/systemd-socket-activate (Debian package systemd)");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
