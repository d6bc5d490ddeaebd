/* SPDX-License-Identifier: MIT */
/*
 * Starting and stopping a real bufshared for tests and benchmarks: a
 * private socket in a fresh folder, readiness from its sd_notify
 * READY=1 on a NOTIFY_SOCKET of our own, never from sleeping.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A bufshared process of our own. */
struct test_daemon {
        pid_t pid;
        char dir[64];
        char socket[108];
        bool socket_from_env; /* set before start: BUFSHARE_SOCKET, no --socket */
        bool socket_from_xdg; /* set before start: no --socket nor BUFSHARE_SOCKET, but
                               * XDG_RUNTIME_DIR=dir, so socket is dir/bufshare/socket */
        uid_t run_as;         /* set before start: run the daemon as this uid, if not 0 */
        unsigned nofile;      /* set before start: its RLIMIT_NOFILE (soft and hard), if not 0 */
        bool capture_log;     /* set before start: its stderr goes to log_path */
        const char *bus;      /* set before start: its --bus (default "none": no D-Bus) */
        bool keep_notify;     /* set before start: leave notify_fd open after READY=1 */
        int notify_fd;        /* with keep_notify: its NOTIFY_SOCKET, ours to read and close */
        char log_path[96];
        char bin_copy[96];    /* with run_as: the copy of bufshared it runs */
};

/* Start bufshared with @argv_extra (NULL-terminated, may be NULL) and wait
 * until it is ready. Returns 0 or -errno. */
int test_daemon_start(struct test_daemon *d, const char *const *argv_extra);
/* SIGTERM it and wait: returns its exit status (0 for a clean exit), and
 * checks that it removed its socket file (-EEXIST otherwise). */
int test_daemon_stop(struct test_daemon *d);

/* Wait for a daemon the test stopped itself (its log stays for reading
 * until test_daemon_stop()): its exit status as test_daemon_stop's. */
int test_daemon_wait(struct test_daemon *d);

/* SIGKILL every daemon started and not stopped: for teardowns, so that a
 * test failing half-way leaves no daemon behind. Returns how many. */
int test_daemon_kill_all(void);

/* Entries of a folder but . and .., or -errno. */
int test_count_dir(const char *path);

/* Open fds of process @pid, or -errno. */
int test_count_fds_of(pid_t pid);

/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
uint64_t test_now_ms(void);

/* Wait up to @timeout_ms for @fd to be readable: 0, or -ETIMEDOUT. */
int test_wait_readable(int fd, int timeout_ms);
