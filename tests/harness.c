/* SPDX-License-Identifier: MIT */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <grp.h>

#include "fdpass.h"
#include "msgio.h"




void test_require(bool ok, const char *what)
{
        const char *ci = getenv("CI");
        bool in_ci = ci && strcmp(ci, "true") == 0;

        if (ok)
                return;
        printf("%s: %s\n", in_ci ? "FAIL (CI=true: prerequisites are required)" : "SKIP", what);
        fflush(stdout);
        exit(in_ci ? 1 : 77);
}

int test_lingering_socket(int linger_s, int *ret_peer)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct linger lg = { .l_onoff = 1, .l_linger = linger_s };
        socklen_t alen = sizeof(a);
        static char junk[65536];
        int l, s, peer;

        l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(l >= 0);
        assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(l, 1), 0);
        assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(s >= 0);
        assert_true(connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS);
        peer = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        assert_true(peer >= 0);
        close(l);
        while (write(s, junk, sizeof(junk)) > 0)
                ;
        assert_int_equal(errno, EAGAIN);
        assert_int_equal(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
        *ret_peer = peer;
        return s;
}

int test_count_lines(const char *path, const char *needle)
{
        char line[1024];
        int n = 0;
        FILE *f = fopen(path, "re");

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                n += !needle || strstr(line, needle) != NULL;
        fclose(f);
        return n;
}

int test_daemon_stop_read_log(struct test_daemon *d, char *buf, size_t len)
{
        int fd, status;
        ssize_t n;

        kill(d->pid, SIGTERM);
        status = test_daemon_wait(d);
        fd = open(d->log_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, len - 1);
        close(fd);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return status;
}

int test_notify_wait(int fd, const char *want, int timeout_ms, char *buf, size_t len)
{
        uint64_t deadline = test_now_ms() + (uint64_t)timeout_ms;

        for (;;) {
                uint64_t now = test_now_ms();
                ssize_t n;

                if (now >= deadline || test_wait_readable(fd, (int)(deadline - now)) < 0)
                        return -ETIMEDOUT;
                n = recv(fd, buf, len - 1, MSG_DONTWAIT);
                if (n < 0)
                        continue;
                buf[n] = '\0';
                for (const char *p = buf; (p = strstr(p, want)); p++)
                        if ((p == buf || p[-1] == '\n') && (p[strlen(want)] == '\0' || p[strlen(want)] == '\n'))
                                return 0;
        }
}

int fx_base_setup(void **state)
{
        struct fx_base *fx = calloc(1, sizeof(*fx));

        if (!fx)
                return -1;
        alarm(TEST_TIMEOUT_S); /* SIGALRM kills a hung test, failing the run */
        fx->fds_before = test_count_open_fds();
        *state = fx;
        return 0;
}

int fx_base_teardown(void **state)
{
        struct fx_base *fx = *state;

        if (test_daemon_kill_all() > 0)
                fprintf(stderr, "a daemon the test started was left running: killed\n");
        int now = test_count_open_fds(), leaked = now != fx->fds_before;

        if (leaked)
                fprintf(stderr, "fd leak: %d open before the test, %d after\n", fx->fds_before, now);
        free(fx);
        alarm(0);
        return leaked ? -1 : 0;
}





int fx_daemon_setup_args(void **state, const char *const *args)
{
        struct fx_daemon *fx = calloc(1, sizeof(*fx));

        if (!fx)
                return -1;
        alarm(TEST_TIMEOUT_S);
        fx->fds_before = test_count_open_fds();
        if (test_daemon_start(&fx->daemon, args) < 0) {
                free(fx);
                return -1;
        }
        *state = fx;
        return 0;
}

int fx_daemon_setup(void **state)
{
        return fx_daemon_setup_args(state, NULL);
}

int fx_daemon_teardown(void **state)
{
        struct fx_daemon *fx = *state;
        int r = test_daemon_stop(&fx->daemon), now = test_count_open_fds();
        int leaked = now != fx->fds_before;

        if (r != 0)
                fprintf(stderr, "bufshared exited with status %d\n", r);
        if (leaked)
                fprintf(stderr, "fd leak: %d open before the test, %d after\n", fx->fds_before, now);
        free(fx);
        alarm(0);
        return (r != 0 || leaked) ? -1 : 0;
}

pid_t test_fork(int (*fn)(void *arg), void *arg)
{
        pid_t pid;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid == 0)
                _exit(fn(arg));
        return pid;
}

int test_wait(pid_t pid)
{
        int status;

        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void test_skip_unless(bool ok, const char *what)
{
        const char *ci = getenv("CI");

        if (ok)
                return;
        printf("SKIP: %s\n", what);
        fflush(stdout);
        if (ci && strcmp(ci, "true") == 0)
                fail_msg("%s (CI=true: prerequisites are required)", what);
        skip();
}

int test_listen_private(char *dir, struct sockaddr_un *sa)
{
        int fd;

        assert_non_null(mkdtemp(dir));
        *sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
        assert_true((size_t)snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/socket", dir) < sizeof(sa->sun_path));
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
        assert_int_equal(listen(fd, 4), 0);
        return fd;
}

int test_run_daemon(const char *const *args)
{
        const char *argv[16] = { getenv("BUFSHARED") };
        int n = 1, devnull;
        pid_t pid;

        for (; *args && n < 15; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                devnull = open("/dev/null", O_WRONLY);
                dup2(devnull, STDERR_FILENO);
                unsetenv("LISTEN_FDS");
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        return test_wait(pid);
}

int test_memfd_with(uint64_t size, int seals)
{
        int fd = memfd_create("outsider", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)size), 0);
        if (seals)
                assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
        return fd;
}

int test_send_fd(int sock, int fd)
{
        return bs_fdpass_send(sock, "F", 1, &fd, 1);
}

int test_recv_fd(int sock)
{
        unsigned n_fds = 0;
        char byte;
        ssize_t n;
        int fd = -EBADF, r, damage;

        r = test_wait_readable(sock, 10000);
        if (r < 0)
                return r;
        n = bs_fdpass_recv(sock, &byte, 1, &fd, 1, &n_fds, &damage);
        if (n < 0)
                return (int)n;
        if (damage < 0)
                return damage;
        if (n_fds != 1)
                return -EBADMSG;
        return fd;
}

int test_raw_connect(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r;

        if (fd < 0)
                return -errno;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int test_raw_recv(int sock, struct bs_msg *m)
{
        int r = test_wait_readable(sock, 10000);

        if (r < 0) {
                bs_msg_init(m);
                return r;
        }
        return bs_msg_recv(sock, m);
}

int test_raw_call(int sock, struct bs_msg *req, struct bs_msg *rep)
{
        int r = bs_msg_send(sock, req);

        if (r < 0)
                return r;
        r = test_raw_recv(sock, rep);
        if (r < 0)
                return r;
        return rep->body.status.status;
}

int test_raw_connect_hello(const char *path)
{
        struct bs_msg req, rep;
        int fd = test_raw_connect(path), r;

        if (fd < 0)
                return fd;
        bs_msg_request(&req, BS_OP_HELLO, 1);
        req.body.hello_req.version_min = 1;
        req.body.hello_req.version_max = BS_PROTOCOL_VERSION;
        r = test_raw_call(fd, &req, &rep);
        bs_msg_clear(&rep);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

int test_raw_info(int sock, uint64_t id, struct bs_info_rep *ret)
{
        struct bs_msg req, rep;
        int r;

        bs_msg_request(&req, BS_OP_INFO, 2);
        req.body.id_req.id = id;
        r = test_raw_call(sock, &req, &rep);
        if (r == 0 && ret)
                *ret = rep.body.info_rep;
        bs_msg_clear(&rep);
        return r;
}

int test_count_open_fds(void)
{
        return test_count_dir("/proc/self/fd") - 1; /* opendir's own fd */
}
