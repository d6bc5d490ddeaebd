/* SPDX-License-Identifier: MIT */
#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int test_count_dir(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *e;
        int n = 0;

        if (!d)
                return -errno;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

int test_count_fds_of(pid_t pid)
{
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        return test_count_dir(path);
}

uint64_t test_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int test_wait_readable(int fd, int timeout_ms)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r;

        do
                r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

/* Copy the file @from to @to (a new file, mode @mode). Returns 0 or -errno. */
static int copy_file(const char *from, const char *to, mode_t mode)
{
        int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, r = 0;
        ssize_t n;

        if (in < 0)
                return -errno;
        out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (out < 0)
                r = -errno;
        while (r == 0 && (n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) != 0)
                if (n < 0)
                        r = -errno;
        close(in);
        if (out >= 0 && close(out) < 0 && r == 0)
                r = -errno;
        if (r < 0)
                unlink(to);
        return r;
}

/* Daemons started and not yet stopped. */
static pid_t live[16];

static void live_add(pid_t pid)
{
        for (unsigned i = 0; i < sizeof(live) / sizeof(live[0]); i++)
                if (live[i] == 0) {
                        live[i] = pid;
                        return;
                }
}

static void live_remove(pid_t pid)
{
        for (unsigned i = 0; i < sizeof(live) / sizeof(live[0]); i++)
                if (live[i] == pid)
                        live[i] = 0;
}

int test_daemon_kill_all(void)
{
        int n = 0;

        for (unsigned i = 0; i < sizeof(live) / sizeof(live[0]); i++)
                if (live[i] > 0) {
                        kill(live[i], SIGKILL);
                        waitpid(live[i], NULL, 0);
                        live[i] = 0;
                        n++;
                }
        return n;
}

/*
 * $BUFSHARED_WRAPPER: words to run the daemon under, split at spaces
 * (meson test --setup=valgrind sets it to valgrind and its options).
 * Adds them to @argv and returns how many; a wrapped daemon gets
 * BUFSHARED_WRAPPER_READY_S (default 60) to become ready.
 */
static int wrapper_args(const char **argv, int max, char *words, size_t len)
{
        const char *w = getenv("BUFSHARED_WRAPPER");
        char *save = NULL, *tok;
        int n = 0;

        if (!w || !*w)
                return 0;
        snprintf(words, len, "%s", w);
        for (tok = strtok_r(words, " ", &save); tok && n < max; tok = strtok_r(NULL, " ", &save))
                argv[n++] = tok;
        return n;
}

static int ready_timeout_ms(bool wrapped)
{
        const char *s = getenv("BUFSHARED_WRAPPER_READY_S");

        if (!wrapped)
                return 10000;
        return s && atoi(s) > 0 ? atoi(s) * 1000 : 60000;
}

/* The runtime folder's bufshare/ that a daemon of socket_from_xdg made. */
static void rmdir_socket_folder(const struct test_daemon *d)
{
        char path[sizeof(d->dir) + 16];

        if (!d->socket_from_xdg)
                return;
        snprintf(path, sizeof(path), "%s/bufshare", d->dir);
        rmdir(path);
}

int test_daemon_start(struct test_daemon *d, const char *const *argv_extra)
{
        const char *bin = getenv("BUFSHARED");
        char notify_path[108], buf[256], wrapper[512];
        const char *argv[48];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int nfd, argc = 0, r, n_wrapper;
        ssize_t n;

        if (!bin) {
                fprintf(stderr, "BUFSHARED is not set: run the tests with meson test\n");
                return -ENOENT;
        }
        snprintf(d->dir, sizeof(d->dir), "/tmp/bufshare-test-XXXXXX");
        if (!mkdtemp(d->dir))
                return -errno;
        snprintf(d->socket, sizeof(d->socket), d->socket_from_xdg ? "%s/bufshare/socket" : "%s/socket", d->dir);
        snprintf(d->log_path, sizeof(d->log_path), "%s/log", d->dir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", d->dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", notify_path);

        nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (nfd < 0)
                return -errno;
        if (bind(nfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                r = -errno;
                close(nfd);
                return r;
        }
        /* a daemon of another uid needs its folder and the notify socket */
        if (d->run_as && (chown(d->dir, d->run_as, (gid_t)-1) < 0 || chmod(notify_path, 0666) < 0)) {
                r = -errno;
                close(nfd);
                return r;
        }
        /* and a binary it may reach: the build may sit in a folder only we
         * may enter (a checkout under a mode-0700 mktemp -d, as CI's may) */
        if (d->run_as) {
                snprintf(d->bin_copy, sizeof(d->bin_copy), "%s/bufshared", d->dir);
                r = copy_file(bin, d->bin_copy, 0755);
                if (r < 0) {
                        close(nfd);
                        return r;
                }
                bin = d->bin_copy;
        }

        n_wrapper = argc = wrapper_args(argv, 16, wrapper, sizeof(wrapper));
        argv[argc++] = bin;
        argv[argc++] = "--bus";
        argv[argc++] = d->bus ? d->bus : "none";
        if (!d->socket_from_env && !d->socket_from_xdg) {
                argv[argc++] = "--socket";
                argv[argc++] = d->socket;
        }
        for (; argv_extra && *argv_extra && argc < 46; argv_extra++)
                argv[argc++] = *argv_extra;
        argv[argc] = NULL;

        d->pid = fork();
        if (d->pid < 0) {
                r = -errno;
                close(nfd);
                return r;
        }
        if (d->pid == 0) {
                /* a test or benchmark killed half-way leaves no daemon running */
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                setenv("NOTIFY_SOCKET", notify_path, 1);
                if (d->socket_from_env)
                        setenv("BUFSHARE_SOCKET", d->socket, 1);
                if (d->socket_from_xdg) {
                        unsetenv("BUFSHARE_SOCKET");
                        setenv("XDG_RUNTIME_DIR", d->dir, 1);
                }
                if (d->capture_log) {
                        int lfd = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                        if (lfd < 0 || dup2(lfd, STDERR_FILENO) < 0)
                                _exit(127);
                }
                if (d->nofile) {
                        struct rlimit rl = { d->nofile, d->nofile };
                        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                                _exit(127);
                }
                if (d->run_as && (setgroups(0, NULL) < 0 || setresgid(d->run_as, d->run_as, d->run_as) < 0 ||
                                  setresuid(d->run_as, d->run_as, d->run_as) < 0)) {
                        fprintf(stderr, "running bufshared as uid %u: %s\n", (unsigned)d->run_as, strerror(errno));
                        _exit(127);
                }
                unsetenv("LISTEN_FDS");
                if (n_wrapper > 0)
                        execvp(argv[0], (char *const *)argv);
                else
                        execv(bin, (char *const *)argv);
                fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }

        /* wait for READY=1 (sd_notify); the daemon may send STATUS too */
        for (;;) {
                r = test_wait_readable(nfd, ready_timeout_ms(n_wrapper > 0));
                if (r < 0)
                        break;
                n = recv(nfd, buf, sizeof(buf) - 1, 0);
                if (n < 0) {
                        r = -errno;
                        break;
                }
                buf[n] = '\0';
                if (strstr(buf, "READY=1")) {
                        r = 0;
                        break;
                }
        }
        d->notify_fd = -1;
        if (r == 0 && d->keep_notify) {
                d->notify_fd = nfd; /* its path stays until test_daemon_stop() */
        } else {
                close(nfd);
                unlink(notify_path);
        }
        live_add(d->pid);
        if (r < 0) {
                live_remove(d->pid);
                fprintf(stderr, "bufshared did not become ready: %s\n", strerror(-r));
                kill(d->pid, SIGKILL);
                waitpid(d->pid, NULL, 0);
                d->pid = 0;
                /* its folder goes, but for a captured log, which may say why */
                unlink(d->socket);
                if (d->bin_copy[0])
                        unlink(d->bin_copy);
                rmdir_socket_folder(d);
                rmdir(d->dir);
                return r;
        }
        return 0;
}

int test_daemon_wait(struct test_daemon *d)
{
        int status;

        if (waitpid(d->pid, &status, 0) < 0)
                return -errno;
        live_remove(d->pid);
        d->pid = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int test_daemon_stop(struct test_daemon *d)
{
        int status, r = 0;
        struct stat st;

        if (d->pid > 0) { /* else the test already stopped it */
                kill(d->pid, SIGTERM);
                if (waitpid(d->pid, &status, 0) < 0)
                        return -errno;
                live_remove(d->pid);
                d->pid = 0;
                r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (r == 0 && stat(d->socket, &st) == 0) {
                fprintf(stderr, "bufshared left its socket %s behind\n", d->socket);
                r = -EEXIST;
        }
        unlink(d->socket);
        unlink(d->log_path);
        if (d->keep_notify) {
                char notify_path[108];
                snprintf(notify_path, sizeof(notify_path), "%s/notify", d->dir);
                unlink(notify_path);
        }
        if (d->bin_copy[0])
                unlink(d->bin_copy);
        rmdir_socket_folder(d);
        rmdir(d->dir);
        return r;
}
