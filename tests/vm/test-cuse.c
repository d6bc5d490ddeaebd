/* SPDX-License-Identifier: MIT */
/*
 * /dev/bufshare against a real kernel's CUSE, in the VM (cuse.sh starts
 * the daemon). Every check prints one result line for the harness:
 *     @@bsvm@@ ok NAME       @@bsvm@@ not ok NAME # got X, wanted Y
 *
 * Usage: test-cuse SOCKET DEVICE            every check
 *        test-cuse --bench SOCKET DEVICE    the side-by-side timings
 *        test-cuse --socket-only SOCKET     exit 0 if the socket serves an export
 * The daemon runs as root with --token-lifetime 2000 --max-buffer-size 64M
 * --max-bytes-per-uid 160M --max-buffers-per-client 16 --max-clients 6:
 * the limits below are those.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "bufshare/bufshare-ioctl.h"
#include "bufshare/bufshare.h"

#define PAGE 4096
#define NOBODY 65534
#define TOKEN_LIFETIME_MS 2000

static const char *sock_path, *dev_path;
static int failures;

static void result(const char *name, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void result(const char *name, bool ok, const char *fmt, ...)
{
        char why[200] = "";
        va_list ap;

        if (!ok) {
                va_start(ap, fmt);
                vsnprintf(why, sizeof(why), fmt, ap);
                va_end(ap);
        }
        printf("@@bsvm@@ %s %s%s%s\n", ok ? "ok" : "not ok", name, ok ? "" : " # ", why);
        fflush(stdout);
        failures += !ok;
}

/* @got must be @want (errnos as negative numbers). */
#define CHECK_EQ(name, got, want)                                                                      \
        do {                                                                                           \
                long long g_ = (long long)(got), w_ = (long long)(want);                               \
                result(name, g_ == w_, "%s is %lld (%s), wanted %lld", #got, g_,                       \
                       g_ < 0 ? strerror((int)-g_) : "", w_);                                          \
        } while (0)
#define CHECK(name, cond) result(name, (cond), "%s", #cond)

static int xioctl(int fd, unsigned long cmd, void *arg)
{
        return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static int dev_open(void)
{
        int fd = open(dev_path, O_RDWR | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int alloc(int fd, uint64_t size, const char *name, struct bufshare_alloc *a)
{
        memset(a, 0, sizeof(*a));
        a->size = size;
        snprintf(a->name, sizeof(a->name), "%s", name);
        return xioctl(fd, BUFSHARE_IOCTL_ALLOC, a);
}

static int info(int fd, uint64_t id, struct bufshare_info *i)
{
        memset(i, 0, sizeof(*i));
        i->id = id;
        return xioctl(fd, BUFSHARE_IOCTL_INFO, i);
}

static int bind_at(int fd, uint64_t id, uint64_t offset)
{
        struct bufshare_bind b = { .id = id, .offset = offset };
        return xioctl(fd, BUFSHARE_IOCTL_BIND, &b);
}

static int release(int fd, uint64_t id)
{
        struct bufshare_release r = { .id = id };
        return xioctl(fd, BUFSHARE_IOCTL_RELEASE, &r);
}

static int sync_flags(int fd, uint64_t id, uint64_t flags)
{
        struct bufshare_sync s = { .id = id, .flags = flags };
        return xioctl(fd, BUFSHARE_IOCTL_SYNC, &s);
}

static int redeem(struct bs_client *c, const struct bufshare_alloc *a, struct bs_buffer **ret)
{
        uint64_t token[2] = { a->token[0], a->token[1] };
        return bs_client_redeem(c, token, ret);
}

static struct bs_client *connect_or_die(void)
{
        struct bs_client *c = NULL;
        int r = bs_client_connect(sock_path, &c);
        if (r < 0) {
                result("connect to bufshared", false, "%s", strerror(-r));
                exit(1);
        }
        return c;
}

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Run @fn in a child as uid/gid @uid; its exit code (0: passed). */
static int as_uid(uid_t uid, int (*fn)(void *), void *arg)
{
        int status;
        pid_t pid = fork();

        if (pid == 0) {
                if (setgid(uid) < 0 || setuid(uid) < 0)
                        _exit(99);
                _exit(fn(arg));
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- every ioctl and its errors -------------------------------------- */

static void test_version_and_unknown(int fd)
{
        struct bufshare_version v;
        char big[64] = { 0 };

        memset(&v, 0xff, sizeof(v));
        CHECK_EQ("VERSION answers", xioctl(fd, BUFSHARE_IOCTL_VERSION, &v), 0);
        CHECK_EQ("VERSION: api_version", v.api_version, BUFSHARE_IOCTL_API_VERSION);
        CHECK_EQ("VERSION: protocol_version", v.protocol_version, 2);
        CHECK_EQ("VERSION: token_lifetime_ms", v.token_lifetime_ms, TOKEN_LIFETIME_MS);
        CHECK_EQ("VERSION: features and reserved are 0", v.features | v.reserved, 0);
        CHECK_EQ("unknown sequence number: -ENOTTY", xioctl(fd, _IOWR('x', 0x1f, struct bufshare_bind), big),
                 -ENOTTY);
        CHECK_EQ("another magic (dma-buf's): -ENOTTY", xioctl(fd, _IOW('b', 0, struct bufshare_sync), big),
                 -ENOTTY);
        CHECK_EQ("ALLOC with the wrong direction: -ENOTTY",
                 xioctl(fd, _IOW('x', 0x01, struct bufshare_alloc), big), -ENOTTY);
        CHECK_EQ("a plain _IO number: -ENOTTY", xioctl(fd, _IO('x', 0x05), NULL), -ENOTTY);
}

static void test_alloc_errors(int fd)
{
        struct bufshare_alloc a;
        int big_fd;

        CHECK_EQ("ALLOC size 0: -EINVAL", alloc(fd, 0, "", &a), -EINVAL);
        memset(&a, 0, sizeof(a));
        a.size = PAGE;
        a.flags = 1;
        CHECK_EQ("ALLOC unknown flags: -EINVAL", xioctl(fd, BUFSHARE_IOCTL_ALLOC, &a), -EINVAL);
        memset(&a, 0, sizeof(a));
        a.size = PAGE;
        strcpy(a.heap, "nope");
        CHECK_EQ("ALLOC unknown heap: -ENOENT", xioctl(fd, BUFSHARE_IOCTL_ALLOC, &a), -ENOENT);
        memset(&a, 0, sizeof(a));
        a.size = PAGE;
        memset(a.name, 'n', sizeof(a.name));
        CHECK_EQ("ALLOC name without NUL: -EINVAL", xioctl(fd, BUFSHARE_IOCTL_ALLOC, &a), -EINVAL);
        memset(&a, 0, sizeof(a));
        a.size = PAGE;
        a.name[0] = 'x';
        a.name[5] = 'y'; /* a byte after the NUL */
        CHECK_EQ("ALLOC name with bytes after its NUL: -EINVAL", xioctl(fd, BUFSHARE_IOCTL_ALLOC, &a), -EINVAL);
        CHECK_EQ("ALLOC over --max-buffer-size: -EFBIG", alloc(fd, (64u << 20) + 1, "", &a), -EFBIG);
        CHECK_EQ("ALLOC of a huge size (2^63): -EFBIG", alloc(fd, 1ull << 63, "", &a), -EFBIG);
        CHECK_EQ("ALLOC of UINT64_MAX: -EFBIG", alloc(fd, UINT64_MAX, "", &a), -EFBIG);

        /* 160M per uid: two 64M buffers fit, a third does not (pages
         * never touched cost nothing) */
        big_fd = dev_open();
        struct bufshare_alloc b1, b2, b3;
        CHECK_EQ("ALLOC 64M", alloc(big_fd, 64u << 20, "big1", &b1), 0);
        CHECK_EQ("ALLOC another 64M", alloc(big_fd, 64u << 20, "big2", &b2), 0);
        CHECK_EQ("ALLOC over the uid's bytes: -EDQUOT", alloc(big_fd, 64u << 20, "big3", &b3), -EDQUOT);
        close(big_fd);
        CHECK_EQ("closing the file gave the uid's bytes back", alloc(fd, 64u << 20, "big4", &b3), 0);
        CHECK_EQ("RELEASE it", release(fd, b3.id), 0);
}

static void test_buffers_per_file(void)
{
        struct bufshare_alloc a;
        int fd = dev_open(), r = 0, n = 0;

        while (n < 32 && (r = alloc(fd, PAGE, "", &a)) == 0)
                n++;
        CHECK_EQ("ALLOC past --max-buffers-per-client: -EMFILE", r, -EMFILE);
        CHECK_EQ("... after exactly the limit", n, 16);
        close(fd);
}

static void test_open_files_limit(void)
{
        int fds[8], n = 0, r = 0;

        /* --max-clients 6, one device file open already (main's) */
        while (n < 8 && (r = dev_open()) >= 0)
                fds[n++] = r;
        CHECK_EQ("open past --max-clients: -EUSERS", r, -EUSERS);
        CHECK_EQ("... after exactly the limit", n, 5);
        while (n > 0)
                close(fds[--n]);
        r = dev_open();
        CHECK("open works again once files closed", r >= 0);
        if (r >= 0)
                close(r);
}

static void test_info_name_sync_release(int fd, struct bs_client *c)
{
        struct bufshare_alloc a;
        struct bufshare_info i;
        struct bufshare_set_name n = { 0 };
        struct bs_buffer *b = NULL;
        struct bs_buffer_info bi;

        CHECK_EQ("ALLOC a named buffer", alloc(fd, 5000, "frame", &a), 0);
        CHECK_EQ("ALLOC rounds the size up to pages", a.size, 2 * PAGE);
        CHECK("ALLOC gives an id and a token", a.id != 0 && (a.token[0] | a.token[1]) != 0);
        CHECK_EQ("INFO", info(fd, a.id, &i), 0);
        CHECK("INFO: size, heap, name, exporter", i.size == 2 * PAGE && !strcmp(i.heap, "system") &&
                                                        !strcmp(i.name, "frame") && i.exporter_pid == getpid() &&
                                                        i.exporter_uid == 0 && i.n_refs == 1 && i.flags == 0);
        CHECK_EQ("INFO of an unknown id: -ENOENT", info(fd, 999999, &i), -ENOENT);
        CHECK_EQ("INFO of id 0: -ENOENT", info(fd, 0, &i), -ENOENT);

        n.id = a.id;
        strcpy(n.name, "renamed");
        CHECK_EQ("SET_NAME", xioctl(fd, BUFSHARE_IOCTL_SET_NAME, &n), 0);
        info(fd, a.id, &i);
        CHECK("SET_NAME shows in INFO", !strcmp(i.name, "renamed"));
        memset(n.name, 'z', sizeof(n.name));
        CHECK_EQ("SET_NAME without NUL: -EINVAL", xioctl(fd, BUFSHARE_IOCTL_SET_NAME, &n), -EINVAL);
        memset(&n, 0, sizeof(n));
        n.id = 999999;
        strcpy(n.name, "x");
        CHECK_EQ("SET_NAME of an unknown id: -ENOENT", xioctl(fd, BUFSHARE_IOCTL_SET_NAME, &n), -ENOENT);

        CHECK_EQ("SYNC start RW", sync_flags(fd, a.id, BUFSHARE_SYNC_START | BUFSHARE_SYNC_RW), 0);
        CHECK_EQ("redeem the token", redeem(c, &a, &b), 0);
        if (b) {
                CHECK_EQ("the socket sees the device's name and CPU access", bs_buffer_get_info(b, &bi), 0);
                CHECK("... renamed, 2 references, 1 inside CPU access",
                      !strcmp(bi.name, "renamed") && bi.n_refs == 2 && bi.n_cpu_access == 1);
        }
        CHECK_EQ("SYNC end RW", sync_flags(fd, a.id, BUFSHARE_SYNC_END | BUFSHARE_SYNC_RW), 0);
        CHECK_EQ("SYNC end without a begin: -EINVAL", sync_flags(fd, a.id, BUFSHARE_SYNC_END | BUFSHARE_SYNC_READ),
                 -EINVAL);
        CHECK_EQ("SYNC without READ or WRITE: -EINVAL", sync_flags(fd, a.id, BUFSHARE_SYNC_START), -EINVAL);
        CHECK_EQ("SYNC with unknown flags: -EINVAL", sync_flags(fd, a.id, 8 | BUFSHARE_SYNC_READ), -EINVAL);
        CHECK_EQ("SYNC of an unknown id: -ENOENT", sync_flags(fd, 999999, BUFSHARE_SYNC_READ), -ENOENT);

        struct bufshare_release rel = { .id = a.id, .flags = 1 };
        CHECK_EQ("RELEASE with flags: -EINVAL", xioctl(fd, BUFSHARE_IOCTL_RELEASE, &rel), -EINVAL);
        CHECK_EQ("RELEASE", release(fd, a.id), 0);
        CHECK_EQ("RELEASE again: -ENOENT", release(fd, a.id), -ENOENT);
        if (b) {
                bs_buffer_get_info(b, &bi);
                CHECK_EQ("the socket client's reference outlives the device file's", bi.n_refs, 1);
                bs_buffer_put(b);
        }
        bs_client_sync(c);
        CHECK_EQ("gone once both references are", info(fd, a.id, &i), -ENOENT);
}

/* ---- struct sizes: older and newer than this version's ----------------- */

struct alloc_v0 { /* a caller built before heap and name existed */
        __u64 size, id, token[2], flags;
};
struct alloc_v2 { /* a caller built against a later, longer struct */
        struct bufshare_alloc a;
        __u64 more;
};
struct set_name_v2 {
        struct bufshare_set_name n;
        __u64 more[2];
};

static void test_struct_sizes(int fd, struct bs_client *c)
{
        struct alloc_v0 v0 = { .size = PAGE };
        struct alloc_v2 v2 = { .a.size = PAGE };
        struct set_name_v2 sn = { 0 };
        struct bufshare_info i;
        struct bs_buffer *b = NULL;
        struct info_v0 {
                __u64 id;
        } short_info = { 0 };
        uint64_t token[2];

        CHECK_EQ("an older, shorter ALLOC struct (40 bytes)",
                 xioctl(fd, _IOWR('x', 0x01, struct alloc_v0), &v0), 0);
        CHECK("... is zero-extended: system heap, no name, an id and a token",
              v0.id != 0 && (v0.token[0] | v0.token[1]) && info(fd, v0.id, &i) == 0 && !strcmp(i.heap, "system") &&
                      i.name[0] == '\0');
        token[0] = v0.token[0];
        token[1] = v0.token[1];
        CHECK_EQ("... and its token redeems", bs_client_redeem(c, token, &b), 0);
        b = bs_buffer_put(b);
        release(fd, v0.id);

        strcpy(v2.a.name, "newer");
        CHECK_EQ("a newer, longer ALLOC struct with a zero tail",
                 xioctl(fd, _IOWR('x', 0x01, struct alloc_v2), &v2), 0);
        CHECK("... works, and its tail comes back zero", v2.a.id != 0 && v2.more == 0 && v2.a.size == PAGE);
        release(fd, v2.a.id);
        memset(&v2, 0, sizeof(v2));
        v2.a.size = PAGE;
        v2.more = 1;
        CHECK_EQ("a newer ALLOC struct with a non-zero tail: -E2BIG",
                 xioctl(fd, _IOWR('x', 0x01, struct alloc_v2), &v2), -E2BIG);

        alloc(fd, PAGE, "", &v2.a);
        sn.n.id = v2.a.id;
        strcpy(sn.n.name, "tail");
        CHECK_EQ("a longer SET_NAME with a zero tail", xioctl(fd, _IOW('x', 0x03, struct set_name_v2), &sn), 0);
        sn.more[1] = 1ull << 63;
        CHECK_EQ("a longer SET_NAME with a non-zero tail: -E2BIG",
                 xioctl(fd, _IOW('x', 0x03, struct set_name_v2), &sn), -E2BIG);
        short_info.id = v2.a.id;
        CHECK_EQ("a shorter INFO struct (8 bytes)", xioctl(fd, _IOWR('x', 0x02, struct info_v0), &short_info),
                 0);
        CHECK_EQ("... gets only its own bytes back", short_info.id, v2.a.id);
        release(fd, v2.a.id);
}

/* ---- dma-heap's selftest, replayed against ALLOC ------------------------- */

static void test_dma_heap_cases(int fd, struct bs_client *c)
{
        struct bufshare_alloc a;
        struct bs_buffer *b = NULL, *bufs[8] = { NULL };
        uint64_t ids[8];
        uint8_t *p;
        bool zero = true;

        /* test_alloc_and_import: allocate, get the fd, mmap, touch */
        CHECK_EQ("dma-heap: allocate 1M", alloc(fd, 1 << 20, "heap-test", &a), 0);
        CHECK_EQ("dma-heap: its fd (redeemed)", redeem(c, &a, &b), 0);
        if (b && bs_buffer_mmap(b, 0, 1 << 20, BS_PROT_READ | BS_PROT_WRITE, (void **)&p) == 0) {
                memset(p, 1, 1 << 20);
                CHECK("dma-heap: mmap and write it", p[0] == 1 && p[(1 << 20) - 1] == 1);
                bs_buffer_munmap(b, p, 1 << 20);
        } else {
                CHECK("dma-heap: mmap and write it", false);
        }
        if (b) {
                int bfd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
                void *m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, bfd, 0);
                CHECK("dma-heap: a plain mmap() of the fd works too", m != MAP_FAILED && ((uint8_t *)m)[0] == 1);
                if (m != MAP_FAILED)
                        munmap(m, PAGE);
                close(bfd);
        }
        bs_buffer_put(b);
        release(fd, a.id);

        /* test_alloc_zeroed: dirty buffers, free them, new ones read zero */
        for (int i = 0; i < 8; i++) {
                bufs[i] = NULL;
                if (alloc(fd, PAGE, "", &a) == 0 && redeem(c, &a, &bufs[i]) == 0 &&
                    bs_buffer_mmap(bufs[i], 0, PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&p) == 0) {
                        memset(p, 0xff, PAGE);
                        bs_buffer_munmap(bufs[i], p, PAGE);
                }
                ids[i] = a.id;
        }
        for (int i = 0; i < 8; i++) {
                bufs[i] = bs_buffer_put(bufs[i]);
                release(fd, ids[i]);
        }
        for (int i = 0; i < 8; i++) {
                if (alloc(fd, PAGE, "", &a) < 0 || redeem(c, &a, &bufs[i]) < 0 ||
                    bs_buffer_mmap(bufs[i], 0, PAGE, BS_PROT_READ, (void **)&p) < 0) {
                        zero = false;
                        continue;
                }
                for (int k = 0; k < PAGE; k++)
                        zero &= p[k] == 0;
                bs_buffer_munmap(bufs[i], p, PAGE);
                bufs[i] = bs_buffer_put(bufs[i]);
                release(fd, a.id);
        }
        CHECK("dma-heap: new buffers read zero after dirty ones were freed", zero);
}

/* ---- tokens -------------------------------------------------------------- */

struct token_arg {
        uint64_t token[2];
};

static int redeem_as_other(void *arg)
{
        struct token_arg *t = arg;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        int r = bs_client_connect(sock_path, &c);

        if (r < 0)
                return 10;
        r = bs_client_redeem(c, t->token, &b);
        bs_buffer_put(b);
        bs_client_unref(c);
        return r == -EPERM ? 0 : 11;
}

static void test_tokens(int fd, struct bs_client *c)
{
        struct bufshare_alloc a;
        struct token_arg t;
        struct bs_buffer *b = NULL, *b2 = NULL;
        int fd2;

        alloc(fd, PAGE, "tok", &a);
        t.token[0] = a.token[0];
        t.token[1] = a.token[1];
        CHECK_EQ("a token redeemed by another uid: -EPERM", as_uid(NOBODY, redeem_as_other, &t), 0);
        CHECK_EQ("... and it still redeems for its own uid", bs_client_redeem(c, t.token, &b), 0);
        CHECK_EQ("a second redemption: -ENOENT", bs_client_redeem(c, t.token, &b2), -ENOENT);
        bs_buffer_put(b);
        t.token[1] ^= 1;
        CHECK_EQ("a made-up token: -ENOENT", bs_client_redeem(c, t.token, &b2), -ENOENT);
        release(fd, a.id);

        alloc(fd, PAGE, "late", &a);
        usleep((TOKEN_LIFETIME_MS + 200) * 1000); /* the lifetime itself is what is tested */
        CHECK_EQ("an expired token: -ENOENT", redeem(c, &a, &b2), -ENOENT);
        release(fd, a.id);

        alloc(fd, PAGE, "released", &a);
        release(fd, a.id);
        CHECK_EQ("the token of a released buffer: -ENOENT", redeem(c, &a, &b2), -ENOENT);

        fd2 = dev_open();
        alloc(fd2, PAGE, "closed", &a);
        close(fd2);
        CHECK_EQ("the token of a closed device file: -ENOENT", redeem(c, &a, &b2), -ENOENT);
}

/* ---- lifetime: close and kill -9 ---------------------------------------- */

/* fork() with a pipe from the child back: in the child 0 with the
 * pipe's writing end in *@ret_pipe, in the parent the child's pid with
 * its reading end; or -errno. */
static pid_t fork_with_pipe(int *ret_pipe)
{
        int p[2], r;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        close(p[pid == 0 ? 0 : 1]);
        *ret_pipe = p[pid == 0 ? 1 : 0];
        return pid;
}

/* Kill -9 a child of fork_with_pipe(), close its pipe and reap it. */
static void child_kill(pid_t pid, int pipe_fd)
{
        kill(pid, SIGKILL);
        close(pipe_fd);
        waitpid(pid, NULL, 0);
}

static int alloc_and_wait(void *arg)
{
        int *pipe_w = arg, fd = dev_open();
        struct bufshare_alloc a;

        if (fd < 0 || alloc(fd, PAGE, "doomed", &a) < 0)
                return 1;
        if (write(*pipe_w, &a.id, sizeof(a.id)) != sizeof(a.id))
                return 2;
        pause(); /* until SIGKILL */
        return 3;
}

static void test_lifetime(int fd)
{
        struct bufshare_alloc a;
        struct bufshare_info i;
        int fd2 = dev_open(), p, status;
        uint64_t id = 0;
        pid_t pid;

        alloc(fd2, PAGE, "closing", &a);
        CHECK_EQ("a buffer of another open file is seen (same uid)", info(fd, a.id, &i), 0);
        close(fd2);
        CHECK_EQ("closing the device file released its buffer", info(fd, a.id, &i), -ENOENT);

        pid = fork_with_pipe(&p);
        if (pid < 0)
                return;
        if (pid == 0)
                _exit(alloc_and_wait(&p));
        CHECK_EQ("a child allocates", read(p, &id, sizeof(id)), (ssize_t)sizeof(id));
        close(p);
        CHECK_EQ("... its buffer exists", info(fd, id, &i), 0);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        CHECK_EQ("kill -9 released its buffer", info(fd, id, &i), -ENOENT);
}

/* ---- BIND: read and write through the device file ------------------------ */

static void test_bind(int fd, struct bs_client *c)
{
        struct bufshare_alloc a;
        struct bufshare_info i;
        struct bs_buffer *b = NULL;
        const size_t size = 512 * 1024; /* more than CUSE's 128K per read request */
        uint8_t *map = NULL, *buf = malloc(size + PAGE), *back = malloc(size + PAGE);
        struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLOUT };
        bool same = true;

        for (size_t k = 0; k < size + PAGE; k++)
                buf[k] = (uint8_t)(k * 7 + k / 4096);
        alloc(fd, size, "bound", &a);
        redeem(c, &a, &b);
        if (b)
                bs_buffer_mmap(b, 0, size, BS_PROT_READ | BS_PROT_WRITE, (void **)&map);

        CHECK_EQ("read on an unbound file: -ENXIO", read(fd, back, 16) < 0 ? -errno : 0, -ENXIO);
        CHECK_EQ("write on an unbound file: -ENXIO", write(fd, buf, 16) < 0 ? -errno : 0, -ENXIO);
        CHECK_EQ("poll on an unbound file: POLLERR", poll(&pfd, 1, 1000) == 1 ? pfd.revents & POLLERR : -1,
                 POLLERR);
        CHECK_EQ("BIND an unknown id: -ENOENT", bind_at(fd, 999999, 0), -ENOENT);
        CHECK_EQ("BIND past the end: -EINVAL", bind_at(fd, a.id, size + 1), -EINVAL);
        CHECK_EQ("unbind with an offset: -EINVAL", bind_at(fd, 0, 1), -EINVAL);
        CHECK_EQ("BIND", bind_at(fd, a.id, 0), 0);
        CHECK("INFO says bound", info(fd, a.id, &i) == 0 && (i.flags & BUFSHARE_INFO_BOUND));
        pfd.revents = 0;
        CHECK_EQ("poll on a bound file without fences: readable and writable",
                 poll(&pfd, 1, 1000) == 1 ? pfd.revents : -1, POLLIN | POLLOUT);

        CHECK_EQ("write 512K in one call (several CUSE requests)", write(fd, buf, size), (ssize_t)size);
        CHECK("... the socket client's mapping sees every byte", map && !memcmp(map, buf, size));
        CHECK_EQ("write at the end: -ENOSPC", write(fd, buf, 1) < 0 ? -errno : 0, -ENOSPC);
        bind_at(fd, a.id, 0);
        memset(back, 0, size);
        CHECK_EQ("read 512K in one call", read(fd, back, size + PAGE), (ssize_t)size);
        CHECK("... the same bytes", !memcmp(back, buf, size));
        CHECK_EQ("read at the end: 0", read(fd, back, 16), 0);

        if (map)
                memset(map + size - 10, 0xab, 10);
        bind_at(fd, a.id, size - 10);
        CHECK_EQ("pread across the end: short", pread(fd, back, 20, 0), 10);
        for (int k = 0; k < 10; k++)
                same &= back[k] == 0xab;
        CHECK("... the mapping's last bytes", same);
        CHECK_EQ("pread at the end: 0", pread(fd, back, 20, 0), 0);
        bind_at(fd, a.id, size - 10);
        CHECK_EQ("pwrite across the end: short", pwrite(fd, buf, 20, 0), 10);
        CHECK("... the mapping sees them", map && !memcmp(map + size - 10, buf, 10));
        CHECK_EQ("pwrite at the end: -ENOSPC", pwrite(fd, buf, 20, 0) < 0 ? -errno : 0, -ENOSPC);
        bind_at(fd, a.id, PAGE);
        CHECK_EQ("pread at the first byte of page 1", pread(fd, back, 4, 0), 4);
        CHECK("... pread's own offset is lost (CUSE passes none): BIND placed it",
              map && !memcmp(back, map + PAGE, 4));
        CHECK_EQ("lseek succeeds and does nothing (CUSE's noop_llseek)", lseek(fd, 100, SEEK_SET), 0);
        CHECK("the buffer never grew", info(fd, a.id, &i) == 0 && i.size == size);

        CHECK_EQ("unbind", bind_at(fd, 0, 0), 0);
        CHECK_EQ("read after unbind: -ENXIO", read(fd, back, 1) < 0 ? -errno : 0, -ENXIO);
        bind_at(fd, a.id, 0);
        release(fd, a.id);
        CHECK_EQ("RELEASE unbinds: -ENXIO", read(fd, back, 1) < 0 ? -errno : 0, -ENXIO);
        if (map)
                bs_buffer_munmap(b, map, size);
        bs_buffer_put(b);
        free(buf);
        free(back);
}

/* ---- poll: the bound buffer's fences, as dma-buf's poll -------------------- */

/* How long a woken poller may take: TCG on a loaded machine is slow, and
 * a wake-up that never comes would take all of it. */
#define POLL_DEADLINE_MS 10000

struct poll_result {
        int ret;      /* poll()'s, or epoll_wait()'s; -errno */
        int revents;  /* POLL* (EPOLL* are the same bits) */
        int ms;       /* how long it slept */
};

/* Poll @fd for @events in a child for at most POLL_DEADLINE_MS: with
 * poll(2), or with @epoll after arming it (epoll_ctl polls the device
 * once: the daemon has its watch when "armed" comes). The result comes
 * back on *@ret_pipe. */
static pid_t poller_start(int fd, short events, bool epoll, int *ret_pipe)
{
        int p;
        pid_t pid = fork_with_pipe(&p);

        if (pid == 0) {
                struct poll_result res = { 0 };
                struct pollfd pfd = { .fd = fd, .events = events };
                struct epoll_event ev = { .events = (uint32_t)events }, got = { 0 };
                uint64_t t0;
                int ep = -1;

                if (epoll) {
                        ep = epoll_create1(EPOLL_CLOEXEC);
                        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                                _exit(20);
                        if (epoll_wait(ep, &got, 1, 0) != 0)
                                _exit(21); /* ready already: nothing to wait for */
                        if (write(p, "a", 1) != 1)
                                _exit(22);
                }
                t0 = now_ns();
                if (epoll) {
                        res.ret = epoll_wait(ep, &got, 1, POLL_DEADLINE_MS);
                        res.revents = (int)got.events;
                } else {
                        res.ret = poll(&pfd, 1, POLL_DEADLINE_MS);
                        res.revents = pfd.revents;
                }
                if (res.ret < 0)
                        res.ret = -errno;
                res.ms = (int)((now_ns() - t0) / 1000000u);
                _exit(write(p, &res, sizeof(res)) == sizeof(res) ? 0 : 23);
        }
        if (pid < 0)
                return pid;
        *ret_pipe = p;
        if (epoll) {
                char armed;
                if (read(p, &armed, 1) != 1) {
                        close(p);
                        waitpid(pid, NULL, 0);
                        return -EIO;
                }
        }
        return pid;
}

/* What the child's poll gave; it is reaped. */
static struct poll_result poller_result(pid_t pid, int pipe_fd)
{
        struct poll_result res = { .ret = -EIO };

        if (read(pipe_fd, &res, sizeof(res)) != sizeof(res))
                res.ret = -EIO;
        close(pipe_fd);
        waitpid(pid, NULL, 0);
        return res;
}

/* true once @pid sleeps inside poll(2) itself, its answer from the
 * daemon had (waiting for that answer, it sleeps in FUSE instead): what
 * the kernel says in /proc/PID/wchan. Checked for, never slept on. */
static bool sleeps_in_poll(pid_t pid, char *wchan, size_t len)
{
        static const char *const in_poll[] = { "poll_schedule_timeout", "do_sys_poll", "do_poll" };
        char path[64];
        uint64_t end = now_ns() + (uint64_t)POLL_DEADLINE_MS * 1000000u;

        snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
        do {
                FILE *f = fopen(path, "re");
                size_t n = f ? fread(wchan, 1, len - 1, f) : 0;

                if (f)
                        fclose(f);
                wchan[n] = '\0';
                for (size_t i = 0; i < sizeof(in_poll) / sizeof(in_poll[0]); i++)
                        if (!strncmp(wchan, in_poll[i], strlen(in_poll[i])))
                                return true;
                sched_yield();
        } while (now_ns() < end);
        return false;
}

/* The daemon's pid: its listening socket's credentials. */
static pid_t daemon_pid(void)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ucred cred = { 0 };
        socklen_t len = sizeof(cred);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                cred.pid = -1;
        if (fd >= 0)
                close(fd);
        return cred.pid;
}

/* How many fds @pid has open. */
static int fds_of(pid_t pid)
{
        char path[64];
        struct dirent *e;
        DIR *d;
        int n = 0;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        d = opendir(path);
        if (!d)
                return -errno;
        while ((e = readdir(d)))
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

/* Until @pid has @want fds open, or POLL_DEADLINE_MS; the last count. */
static int fds_become(pid_t pid, int want)
{
        uint64_t end = now_ns() + (uint64_t)POLL_DEADLINE_MS * 1000000u;
        int n;

        while ((n = fds_of(pid)) != want && now_ns() < end)
                sched_yield();
        return n;
}

/* A device file of its own, bound to a buffer of PAGE bytes that @c
 * holds too (so it can attach fences): its fd, the buffer in *@ret. */
static int polled_file(struct bs_client *c, struct bs_buffer **ret)
{
        struct bufshare_alloc a;
        int fd = dev_open();

        *ret = NULL;
        if (fd < 0 || alloc(fd, PAGE, "polled", &a) < 0 || redeem(c, &a, ret) < 0 ||
            bind_at(fd, a.id, 0) < 0) {
                result("a bound device file for poll", false, "fd %d", fd);
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        return fd;
}

static struct bs_fence *fence_on(struct bs_client *c, struct bs_buffer *b, unsigned usage)
{
        struct bs_fence *f = NULL;

        if (bs_fence_create(c, &f) < 0 || bs_fence_attach(f, b, usage) < 0)
                f = bs_fence_destroy(f);
        return f;
}

/* poll(fd, @events, 0): the events ready now. */
static int ready_now(int fd, short events)
{
        struct pollfd pfd = { .fd = fd, .events = events };
        int r = poll(&pfd, 1, 0);

        return r < 0 ? -errno : r == 0 ? 0 : pfd.revents;
}

#define CHECK_WOKEN(name, res, want)                                                                   \
        result(name, (res).ret == 1 && ((res).revents & (want)) == (want) && (res).ms < POLL_DEADLINE_MS, \
               "ret %d, revents %#x, after %d ms (deadline %d ms)", (res).ret, (unsigned)(res).revents,   \
               (res).ms, POLL_DEADLINE_MS)

static void test_poll(struct bs_client *c)
{
        struct bs_buffer *b = NULL;
        struct bs_fence *wf, *rf;
        struct poll_result res;
        char wchan[64] = "";
        int fd, pipe_fd, n0;
        pid_t pid, dpid = daemon_pid();

        fd = polled_file(c, &b);
        if (fd < 0)
                return;
        CHECK_EQ("poll without fences: readable and writable at once", ready_now(fd, POLLIN | POLLOUT),
                 POLLIN | POLLOUT);

        /* a write fence: readers and writers wait; a poller in poll(2) is
         * woken when the socket client signals it */
        wf = fence_on(c, b, BS_SYNC_WRITE);
        CHECK("a socket client attaches a write fence", wf != NULL);
        bs_client_sync(c);
        CHECK_EQ("a pending write fence: neither readable nor writable", ready_now(fd, POLLIN | POLLOUT), 0);
        pid = poller_start(fd, POLLIN, false, &pipe_fd);
        CHECK("another process polls for POLLIN", pid > 0);
        if (pid > 0) {
                result("... and sleeps in poll(2)", sleeps_in_poll(pid, wchan, sizeof(wchan)), "wchan %s",
                       wchan);
                CHECK_EQ("the socket client signals the write fence", bs_fence_signal(wf, 0), 0);
                res = poller_result(pid, pipe_fd);
                CHECK_WOKEN("... the poller wakes with POLLIN within the deadline", res, POLLIN);
        }
        wf = bs_fence_destroy(wf);
        bs_client_sync(c);
        CHECK_EQ("signalled: readable and writable again", ready_now(fd, POLLIN | POLLOUT), POLLIN | POLLOUT);

        /* a read fence: readers go on, writers wait; the same through epoll */
        rf = fence_on(c, b, BS_SYNC_READ);
        CHECK("a socket client attaches a read fence", rf != NULL);
        bs_client_sync(c);
        CHECK_EQ("a pending read fence: readable, not writable", ready_now(fd, POLLIN | POLLOUT), POLLIN);
        pid = poller_start(fd, POLLOUT, true, &pipe_fd);
        CHECK("another process waits for EPOLLOUT in epoll", pid > 0);
        if (pid > 0) {
                CHECK_EQ("the socket client signals the read fence", bs_fence_signal(rf, 0), 0);
                res = poller_result(pid, pipe_fd);
                CHECK_WOKEN("... the epoll waiter wakes with EPOLLOUT within the deadline", res, EPOLLOUT);
        }
        rf = bs_fence_destroy(rf);

        /* unbinding wakes the poller, to find POLLERR */
        wf = fence_on(c, b, BS_SYNC_WRITE);
        bs_client_sync(c);
        pid = poller_start(fd, POLLIN, false, &pipe_fd);
        if (pid > 0) {
                result("a poller waits on a write fence", sleeps_in_poll(pid, wchan, sizeof(wchan)), "wchan %s",
                       wchan);
                CHECK_EQ("unbind the file it polls", bind_at(fd, 0, 0), 0);
                res = poller_result(pid, pipe_fd);
                CHECK_WOKEN("... the poller wakes with POLLERR", res, POLLERR);
        }

        /* kill -9 of a poller on a file of its own: its watch (two fds
         * in the daemon, its sync file's ends) goes with the file */
        close(fd);
        wf = bs_fence_destroy(wf);
        bs_buffer_put(b);
        fd = polled_file(c, &b);
        if (fd < 0)
                return;
        wf = fence_on(c, b, BS_SYNC_WRITE);
        bs_client_sync(c);
        n0 = fds_of(dpid);
        pid = poller_start(fd, POLLIN, false, &pipe_fd);
        close(fd); /* the child's is the file's last fd */
        if (pid > 0) {
                struct bs_buffer_info bi;

                result("a poller on a file of its own sleeps in poll(2)", sleeps_in_poll(pid, wchan, sizeof(wchan)),
                       "wchan %s", wchan);
                CHECK_EQ("... its watch holds two fds in the daemon", fds_of(dpid), n0 + 2);
                child_kill(pid, pipe_fd);
                CHECK_EQ("kill -9 of the poller frees its watch", fds_become(dpid, n0), n0);
                CHECK("... the socket client's reference stays",
                      bs_buffer_get_info(b, &bi) == 0 && bi.n_refs == 1);
        }
        bs_fence_destroy(wf);
        bs_buffer_put(b);
}

/* ---- SYNC starts wait for the conflicting fences, as dma-buf's ----------- */

struct sync_result {
        int ret;       /* the SYNC start's: 0 or -errno; -ETIME: no answer by the deadline */
        int flag;      /* the shared flag when it returned */
        int end;       /* SYNC END of the same access after it: 0 if it began, -EINVAL if not */
};

static void on_usr1(int sig)
{
        (void)sig;
}

/* A child in a SYNC start of @flags on buffer @id of device file @fd.
 * SIGUSR1 interrupts it (a handler without SA_RESTART). When the ioctl
 * returns, the child reads *@flag, ends the access it may have begun,
 * and sends all that on *@ret_pipe. */
static pid_t syncer_start(int fd, uint64_t id, uint64_t flags, volatile int *flag, int *ret_pipe)
{
        int p;
        pid_t pid = fork_with_pipe(&p);

        if (pid == 0) {
                struct sigaction sa = { .sa_handler = on_usr1 };
                struct sync_result res;

                sigaction(SIGUSR1, &sa, NULL);
                res.ret = sync_flags(fd, id, flags);
                res.flag = *flag;
                res.end = sync_flags(fd, id, BUFSHARE_SYNC_END | (flags & BUFSHARE_SYNC_RW));
                _exit(write(p, &res, sizeof(res)) == sizeof(res) ? 0 : 23);
        }
        if (pid > 0)
                *ret_pipe = p;
        return pid;
}

/* true if the child has answered already (its result is on the pipe). */
static bool syncer_returned(int pipe_fd)
{
        struct pollfd pfd = { .fd = pipe_fd, .events = POLLIN };
        return poll(&pfd, 1, 0) == 1;
}

/* The child's result within POLL_DEADLINE_MS (else -ETIME, and it is
 * killed); it is reaped. */
static struct sync_result syncer_result(pid_t pid, int pipe_fd)
{
        struct sync_result res = { .ret = -ETIME };
        struct pollfd pfd = { .fd = pipe_fd, .events = POLLIN };

        if (poll(&pfd, 1, POLL_DEADLINE_MS) != 1 || read(pipe_fd, &res, sizeof(res)) != sizeof(res)) {
                res = (struct sync_result){ .ret = -ETIME };
                kill(pid, SIGKILL);
        }
        close(pipe_fd);
        waitpid(pid, NULL, 0);
        return res;
}

/* A device file of its own holding a new buffer of PAGE bytes that @c
 * holds too (to attach fences): its fd; the buffer and id in *@ret, *@ret_id. */
static int synced_file(struct bs_client *c, struct bs_buffer **ret, uint64_t *ret_id)
{
        struct bufshare_alloc a;
        int fd = dev_open();

        *ret = NULL;
        if (fd < 0 || alloc(fd, PAGE, "synced", &a) < 0 || redeem(c, &a, ret) < 0) {
                result("a device file for SYNC", false, "fd %d", fd);
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        *ret_id = a.id;
        return fd;
}

static int cpu_accesses(struct bs_buffer *b)
{
        struct bs_buffer_info bi;
        int r = bs_buffer_get_info(b, &bi);
        return r < 0 ? r : (int)bi.n_cpu_access;
}

#define START_READ (BUFSHARE_SYNC_START | BUFSHARE_SYNC_READ)
#define START_WRITE (BUFSHARE_SYNC_START | BUFSHARE_SYNC_WRITE)

/* The start in child @pid waits (the daemon holds its sync file, two fds
 * over @n0, and has neither answered nor begun it) until fence @f is
 * signalled with @status, then returns 0 with the access begun. */
static void check_start_waits_for(const char *what, pid_t pid, int pipe_fd, pid_t dpid, int n0, struct bs_buffer *b,
                                  struct bs_fence *f, int status, volatile int *flag)
{
        struct sync_result res;

        CHECK_EQ(what, fds_become(dpid, n0 + 2), n0 + 2);
        CHECK("... and is not answered", !syncer_returned(pipe_fd));
        CHECK_EQ("... nor its access recorded", cpu_accesses(b), 0);
        *flag = 1; /* from here on, the fence is (being) signalled */
        CHECK_EQ("its fence is signalled", bs_fence_signal(f, status), 0);
        res = syncer_result(pid, pipe_fd);
        CHECK_EQ("... the start returns 0", res.ret, 0);
        CHECK_EQ("... only after the signal", res.flag, 1);
        CHECK_EQ("... with the access begun (its END succeeds)", res.end, 0);
}

static void test_sync_waits(struct bs_client *c)
{
        struct bs_buffer *b = NULL;
        struct bs_fence *wf, *rf;
        struct sync_result res;
        struct bs_buffer_info bi;
        volatile int *flag;
        uint64_t id;
        int fd, pipe_fd, n0;
        pid_t pid, dpid = daemon_pid();

        flag = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (flag == MAP_FAILED) {
                result("a shared flag", false, "%s", strerror(errno));
                return;
        }
        fd = synced_file(c, &b, &id);
        if (fd < 0)
                goto out_unmap;

        /* a write fence held by this process over the socket: another
         * process's READ start sleeps until it is signalled */
        wf = fence_on(c, b, BS_SYNC_WRITE);
        CHECK("a socket client holds a write fence", wf != NULL);
        bs_client_sync(c);
        n0 = fds_of(dpid);
        *flag = 0;
        pid = syncer_start(fd, id, START_READ, flag, &pipe_fd);
        CHECK("another process starts a READ access through the device", pid > 0);
        if (pid > 0)
                check_start_waits_for("... the daemon keeps it waiting on a sync file", pid, pipe_fd, dpid, n0, b,
                                      wf, 0, flag);
        wf = bs_fence_destroy(wf);

        /* a read fence: a READ start goes on at once, a WRITE start waits */
        rf = fence_on(c, b, BS_SYNC_READ);
        CHECK("a socket client holds a read fence", rf != NULL);
        bs_client_sync(c);
        n0 = fds_of(dpid);
        *flag = 0;
        pid = syncer_start(fd, id, START_READ, flag, &pipe_fd);
        if (pid > 0) {
                res = syncer_result(pid, pipe_fd);
                CHECK_EQ("a READ start with only a read fence pending returns at once", res.ret, 0);
                CHECK_EQ("... with the access begun", res.end, 0);
        }
        pid = syncer_start(fd, id, START_WRITE, flag, &pipe_fd);
        if (pid > 0) /* an error status ends the wait too: begun, as dma-buf's */
                check_start_waits_for("a WRITE start waits for the read fence (signalled -EIO)", pid, pipe_fd, dpid,
                                      n0, b, rf, -EIO, flag);
        rf = bs_fence_destroy(rf);

        /* a signal interrupts the wait: EINTR, nothing begun */
        wf = fence_on(c, b, BS_SYNC_WRITE);
        bs_client_sync(c);
        n0 = fds_of(dpid);
        pid = syncer_start(fd, id, START_WRITE, flag, &pipe_fd);
        if (pid > 0) {
                CHECK_EQ("a WRITE start waits for a write fence", fds_become(dpid, n0 + 2), n0 + 2);
                CHECK_EQ("SIGUSR1 to the waiting process", kill(pid, SIGUSR1), 0);
                res = syncer_result(pid, pipe_fd);
                CHECK_EQ("... its SYNC start fails with EINTR", res.ret, -EINTR);
                CHECK_EQ("... with nothing begun (END: EINVAL)", res.end, -EINVAL);
                CHECK_EQ("... no CPU access recorded in the daemon", cpu_accesses(b), 0);
                CHECK_EQ("... its sync file freed", fds_become(dpid, n0), n0);
        }

        /* the waiting process dies (kill -9): its file closes, and nothing
         * of it stays in the daemon */
        close(fd);
        bs_buffer_put(b);
        wf = bs_fence_destroy(wf);
        fd = synced_file(c, &b, &id);
        if (fd < 0)
                goto out_unmap;
        wf = fence_on(c, b, BS_SYNC_WRITE);
        bs_client_sync(c);
        n0 = fds_of(dpid);
        pid = syncer_start(fd, id, START_WRITE, flag, &pipe_fd);
        close(fd); /* the child's is the file's last fd */
        if (pid > 0) {
                CHECK_EQ("a process of its own waits in a WRITE start", fds_become(dpid, n0 + 2), n0 + 2);
                child_kill(pid, pipe_fd);
                CHECK_EQ("kill -9 of it frees its sync file", fds_become(dpid, n0), n0);
                CHECK("... its file's reference went, the socket client's stays",
                      bs_buffer_get_info(b, &bi) == 0 && bi.n_refs == 1);
                CHECK_EQ("... no CPU access recorded", cpu_accesses(b), 0);
        }
        bs_fence_destroy(wf);
        bs_buffer_put(b);
out_unmap:
        munmap((void *)flag, sizeof(int));
}

/* ---- the device and the socket on one buffer ---------------------------- */

static void test_both_planes(struct bs_client *c)
{
        struct bs_device *dev = NULL;
        struct bs_client *other = connect_or_die();
        struct bs_buffer *b = NULL, *imported = NULL;
        struct bs_buffer_info bi;
        uint8_t *p = NULL, *q = NULL, back[8];
        int fd;

        CHECK_EQ("bs_device_open", bs_device_open(dev_path, &dev), 0);
        if (!dev)
                return;
        CHECK_EQ("bs_device_alloc", bs_device_alloc(dev, c, 3 * PAGE, NULL, "both", &b), 0);
        if (!b)
                goto out;
        CHECK_EQ("... its size", bs_buffer_size(b), 3 * PAGE);
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        CHECK_EQ("another socket client imports its fd", bs_buffer_import(other, fd, &imported), 0);
        close(fd);
        CHECK_EQ("... the same id", imported ? bs_buffer_id(imported) : -1, bs_buffer_id(b));
        bs_buffer_mmap(b, 0, 3 * PAGE, BS_PROT_READ | BS_PROT_WRITE, (void **)&p);
        if (imported)
                bs_buffer_mmap(imported, 0, 3 * PAGE, BS_PROT_READ, (void **)&q);
        CHECK_EQ("BIND through bs_device_bind", bs_device_bind(dev, (uint64_t)bs_buffer_id(b), PAGE), 0);
        CHECK_EQ("write through the device", write(bs_device_fd(dev), "through", 8), 8);
        CHECK("both socket clients' mappings see it", p && q && !memcmp(p + PAGE, "through", 8) &&
                                                             !memcmp(q + PAGE, "through", 8));
        if (p)
                memcpy(p + 2 * PAGE, "mapped!", 8);
        bs_device_bind(dev, (uint64_t)bs_buffer_id(b), 2 * PAGE);
        CHECK("the device reads what a mapping wrote", read(bs_device_fd(dev), back, 8) == 8 &&
                                                            !memcmp(back, "mapped!", 8));
        CHECK_EQ("socket info counts all three holders", bs_buffer_get_info(b, &bi), 0);
        CHECK_EQ("... 3 references", bi.n_refs, 3);
        CHECK_EQ("bs_device_release", bs_device_release(dev, (uint64_t)bs_buffer_id(b)), 0);
        CHECK_EQ("bs_device_release again: -ENOENT", bs_device_release(dev, (uint64_t)bs_buffer_id(b)), -ENOENT);
        bs_buffer_get_info(b, &bi);
        CHECK_EQ("... the socket's references stay", bi.n_refs, 2);
        if (p)
                bs_buffer_munmap(b, p, 3 * PAGE);
        if (q)
                bs_buffer_munmap(imported, q, 3 * PAGE);
out:
        bs_buffer_put(imported);
        bs_buffer_put(b);
        bs_client_unref(other);
        dev = bs_device_close(dev);
}

static int wrong_uid_alloc(void *arg)
{
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        struct bs_device *dev = arg;

        /* the device file was opened by root; this connection is nobody's */
        if (bs_client_connect(sock_path, &c) < 0)
                return 10;
        int r = bs_device_alloc(dev, c, PAGE, NULL, NULL, &b);
        bs_buffer_put(b);
        bs_client_unref(c);
        return r == -EPERM ? 0 : 11;
}

static void test_library_errors(void)
{
        struct bs_device *dev = NULL;

        CHECK_EQ("bs_device_open of a missing node: -ENOENT", bs_device_open("/dev/no-such-node", &dev), -ENOENT);
        CHECK_EQ("bs_device_open of another device: -ENOTTY", bs_device_open("/dev/null", &dev), -ENOTTY);
        if (bs_device_open(dev_path, &dev) == 0) {
                CHECK_EQ("bs_device_alloc with a client of another uid: -EPERM",
                         as_uid(NOBODY, wrong_uid_alloc, dev), 0);
                bs_device_close(dev);
        }
}

/* ---- the side-by-side timings -------------------------------------------- */

static double per_op_us(uint64_t t0, unsigned n)
{
        return (double)(now_ns() - t0) / 1000.0 / n;
}

static int bench(void)
{
        enum { N = 200, WRITES = 400, CHUNK = 64 * 1024 };
        struct bs_client *c = connect_or_die();
        struct bs_device *dev = NULL;
        struct bs_buffer *b;
        double t_dev, t_sock, t_bind, t_memfd;
        char *chunk = calloc(1, CHUNK);
        uint64_t t0;
        int fd, dfd;

        if (bs_device_open(dev_path, &dev) < 0)
                return 1;
        /* warm both paths */
        for (int i = 0; i < 20; i++) {
                bs_device_alloc(dev, c, PAGE, NULL, NULL, &b);
                bs_device_release(dev, (uint64_t)bs_buffer_id(b));
                bs_buffer_put(b);
                bs_buffer_export(c, PAGE, NULL, NULL, &b);
                bs_buffer_put(b);
        }
        t0 = now_ns();
        for (int i = 0; i < N; i++) {
                bs_device_alloc(dev, c, PAGE, NULL, NULL, &b);
                bs_device_release(dev, (uint64_t)bs_buffer_id(b));
                bs_buffer_put(b);
        }
        t_dev = per_op_us(t0, N);
        t0 = now_ns();
        for (int i = 0; i < N; i++) {
                bs_buffer_export(c, PAGE, NULL, NULL, &b);
                bs_buffer_put(b);
        }
        t_sock = per_op_us(t0, N);

        bs_device_alloc(dev, c, CHUNK, NULL, NULL, &b);
        dfd = bs_device_fd(dev);
        fd = bs_buffer_fd(b, O_RDWR | O_CLOEXEC);
        t0 = now_ns();
        for (int i = 0; i < WRITES; i++) {
                bs_device_bind(dev, (uint64_t)bs_buffer_id(b), 0);
                if (pwrite(dfd, chunk, CHUNK, 0) != CHUNK)
                        return 2;
        }
        t_bind = per_op_us(t0, WRITES);
        t0 = now_ns();
        for (int i = 0; i < WRITES; i++)
                if (pwrite(fd, chunk, CHUNK, 0) != CHUNK)
                        return 3;
        t_memfd = per_op_us(t0, WRITES);
        close(fd);
        bs_buffer_put(b);
        bs_device_close(dev);
        bs_client_unref(c);
        free(chunk);

        printf("bench: ALLOC+redeem %.1f us, socket export %.1f us: ratio %.2f (%d each, 4 KiB)\n", t_dev,
               t_sock, t_dev / t_sock, N);
        printf("bench: BIND+pwrite %.1f us, pwrite on the memfd %.1f us: ratio %.2f (%d each, 64 KiB)\n", t_bind,
               t_memfd, t_bind / t_memfd, WRITES);
        result("bench: ALLOC + redeem beside socket export", true, "%s", "");
        result("bench: BIND + pwrite beside pwrite on the memfd", true, "%s", "");
        return 0;
}

int main(int argc, char **argv)
{
        struct bs_client *c;
        int fd;

        if (argc == 3 && !strcmp(argv[1], "--socket-only")) {
                struct bs_buffer *b = NULL;
                sock_path = argv[2];
                c = connect_or_die();
                fd = bs_buffer_export(c, PAGE, NULL, "socket-only", &b);
                bs_buffer_put(b);
                bs_client_unref(c);
                return fd < 0 ? 1 : 0;
        }
        if (argc == 4 && !strcmp(argv[1], "--bench")) {
                sock_path = argv[2];
                dev_path = argv[3];
                return bench();
        }
        if (argc != 3) {
                fprintf(stderr, "usage: test-cuse [--bench] SOCKET DEVICE\n");
                return 2;
        }
        sock_path = argv[1];
        dev_path = argv[2];
        signal(SIGPIPE, SIG_IGN);
        c = connect_or_die();
        fd = dev_open();
        if (fd < 0) {
                result("open the device", false, "%s: %s", dev_path, strerror(-fd));
                return 1;
        }
        test_version_and_unknown(fd);
        test_alloc_errors(fd);
        test_buffers_per_file();
        test_open_files_limit();
        test_info_name_sync_release(fd, c);
        test_struct_sizes(fd, c);
        test_dma_heap_cases(fd, c);
        test_tokens(fd, c);
        test_lifetime(fd);
        test_bind(fd, c);
        test_poll(c);
        test_sync_waits(c);
        test_both_planes(c);
        test_library_errors();
        close(fd);
        bs_client_unref(c);
        return failures ? 1 : 0;
}
