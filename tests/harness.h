/* SPDX-License-Identifier: MIT */
/*
 * The shared test harness (STYLE F2): every test runs under a fixture that
 * fails it if it leaves an fd open, and under an alarm that kills a test
 * that hangs. Integration tests start the real bufshared per test on a
 * private socket and wait for its sd_notify READY=1, never by sleeping.
 */
#pragma once

#ifdef NDEBUG
#error "tests need assert()"
#endif

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "spawn.h"

#define TEST_TIMEOUT_S 60

/* Open fds of this process. */
int test_count_open_fds(void);

/* The plain fixture: counts fds before, fails the test if any leaked. */
struct fx_base {
        int fds_before;
};
int fx_base_setup(void **state);
int fx_base_teardown(void **state);


/* The fixture for integration tests: a daemon plus the fd check. */
struct fx_daemon {
        int fds_before;
        struct test_daemon daemon;
};
int fx_daemon_setup(void **state);
/* fx_daemon_setup() with daemon flags @args (NULL-terminated). */
int fx_daemon_setup_args(void **state, const char *const *args);
int fx_daemon_teardown(void **state);

/*
 * Run @fn(@arg) in a child process; it returns the child's exit code. The
 * child must not use cmocka's assertions (they would unwind into a copy of
 * the runner): use child_check().
 */
pid_t test_fork(int (*fn)(void *arg), void *arg);
/* Wait for @pid: its exit code, 128 + signal if killed, -errno. */
int test_wait(pid_t pid);

/* A SOCK_SEQPACKET socket listening at @dir/socket, @dir made from its
 * mkdtemp() template and @sa set to the path: the listening fd. For fake
 * daemons; the caller unlinks @sa's path and removes @dir. */
struct sockaddr_un;
int test_listen_private(char *dir, struct sockaddr_un *sa);

/* Run $BUFSHARED with @args (NULL-terminated) to its end, stderr to
 * /dev/null and no socket passed: its exit status, as test_wait(). */
int test_run_daemon(const char *const *args);

/* A memfd "outsider" of @size bytes with @seals added (0: none), open
 * read-write: one the daemon did not make. */
int test_memfd_with(uint64_t size, int seals);

#define child_check(cond)                                                      \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: child check failed: %s\n",     \
                                __FILE__, __LINE__, #cond);                    \
                        _exit(1);                                              \
                }                                                              \
        } while (0)



/* What a test's child process gets: the daemon's socket, and its end of a
 * socketpair with the test. */
struct test_peer {
        const char *socket;
        int sock;   /* the child's end */
        int parent; /* the test's end */
};

/* Send @fd over @sock in a 1-byte message; receive one the same way. */
int test_send_fd(int sock, int fd);
int test_recv_fd(int sock);

/* The test can't run here without @what (a program, root...): exit 77,
 * "skipped", saying why; under CI=true a missing prerequisite is a
 * failure instead (exit 1). Returns only if @ok. */
void test_require(bool ok, const char *what);

/* test_require() for one cmocka test of many: unless @ok, print
 * "SKIP: @what" and skip this test only; under CI=true, fail it instead.
 * Returns only if @ok. */
void test_skip_unless(bool ok, const char *what);

/* A TCP socket whose close(2) waits up to @linger_s seconds: its send
 * buffer is full, its peer (*@ret_peer, the caller's to close) reads
 * nothing, and SO_LINGER is on. Closing the peer ends the wait. The fd a
 * hostile client sends for the daemon to close. */
int test_lingering_socket(int linger_s, int *ret_peer);

/* Lines of the file at @path that hold @needle (every line with NULL),
 * or -errno if it can't be read. */
int test_count_lines(const char *path, const char *needle);

/* SIGTERM a daemon started with capture_log, wait for it to exit, and
 * read its log into @buf (@len bytes, NUL-terminated): its exit status,
 * or -errno. test_daemon_stop() then removes what is left. */
int test_daemon_stop_read_log(struct test_daemon *d, char *buf, size_t len);

/* Read sd_notify messages from @fd until one holds @want (a line such as
 * "READY=1"), for up to @timeout_ms: 0 with that message in @buf (@len
 * bytes), or -ETIMEDOUT. */
int test_notify_wait(int fd, const char *want, int timeout_ms, char *buf, size_t len);

/* Raw protocol access for tests that speak to bufshared without the
 * library: a connected SOCK_SEQPACKET socket (or -errno). */
int test_raw_connect(const char *path);
/* Receive one message within 10 s: bs_msg_recv's result or -ETIMEDOUT. */
struct bs_msg;
int test_raw_recv(int sock, struct bs_msg *m);
/* Send @req (serial as given) and receive its reply: the reply's status,
 * or a transport error. */
int test_raw_call(int sock, struct bs_msg *req, struct bs_msg *rep);
/* A raw connection that has said HELLO, or -errno. */
int test_raw_connect_hello(const char *path);
/* INFO on @id over a raw connection: status, and the reply in @ret. */
struct bs_info_rep;
int test_raw_info(int sock, uint64_t id, struct bs_info_rep *ret);
