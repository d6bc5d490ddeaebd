/* SPDX-License-Identifier: MIT */
/*
 * Torture (issue 7's standing defence): N_CLIENTS clients in forked
 * processes, each doing random export, import of fds the others pass
 * around (read-only views among them), adoption of their own memfds,
 * bs_buffer_fd, mmap + write + read, set_name + info,
 * attach + map + detach, begin + end CPU access, put and disconnect, for
 * $BUFSHARE_TORTURE_SECONDS, while the test SIGKILLs random clients
 * mid-request and starts new ones in their place. Clients pass fds
 * through a few shared mailboxes (SOCK_SEQPACKET socketpairs every client
 * holds both ends of), so an fd often outlives every reference on its
 * buffer and comes back through the daemon's revival path.
 *
 * Checked, each against a deadline, never by sleeping:
 *  - every surviving client was served throughout: each of its calls
 *    returned an expected result (a timeout, a broken connection or a
 *    wrong byte fails it) and it exits 0 after its last sync;
 *  - a probe connection of the test is answered throughout, each export
 *    + release round trip within PROBE_LIMIT_MS;
 *  - afterwards the registry is empty: over the protocol, INFO on every
 *    id the daemon ever gave (ids are never reused, so 1 .. the id of a
 *    last export) answers -ENOENT, and the daemon's SIGUSR1 status line
 *    counts 0 buffers and 1 connection (the probe's);
 *  - its fd count is back at its baseline, and its RSS (VmRSS) has grown
 *    by at most RSS_GROWTH_MAX_KB since it started.
 *
 * The seed comes from the clock and is printed; BUFSHARE_TORTURE_SEED
 * replays one (the same choices; timing still differs).
 * BUFSHARE_TORTURE_CLIENTS changes the number of clients.
 */
#include "harness.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "bufshare/bufshare.h"
#include "message.h"
#include "msgio.h"

#define N_CLIENTS 200
#define N_MAILBOXES 8
#define MAX_HELD 8             /* buffers one client holds at most */
#define MAX_PAGES 16           /* largest buffer, in pages */
#define PAGE 4096
#define KILL_EVERY_MS 30       /* plus up to 120 ms at random */
#define PROBE_EVERY_MS 250
#define PROBE_LIMIT_MS 10000   /* the probe's round trip, at the worst */
#define SETTLE_MS 30000        /* for the daemon to see every hang-up */
#define INFO_WINDOW 32         /* INFO requests in flight during the scan */

/* How much the daemon's resident memory may grow over the run: the hash
 * tables give memory back after a spike, and what the allocator keeps
 * is bounded. ASan's allocator keeps freed memory in quarantine (bounded
 * by ASAN_OPTIONS quarantine_size_mb, which tests/torture/meson.build
 * sets), so a sanitized build has its own bound. Also in docs/testing.md. */
#ifdef TORTURE_SANITIZED
#define RSS_GROWTH_MAX_KB (96 * 1024)
#else
#define RSS_GROWTH_MAX_KB (16 * 1024)
#endif

/* ---- randomness -------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
        /* xorshift64* */
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * 2685821657736338717ull;
}

static unsigned rng_below(uint64_t *s, unsigned n)
{
        return (unsigned)(rng_next(s) % n);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
        const char *s = getenv(name);
        return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/* ---- fds through the mailboxes ----------------------------------------- */

/* Send @fd (a copy) through @sock without waiting: 0, or -EAGAIN when full. */
static int mailbox_send(int sock, int fd)
{
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } ctl = {};
        struct iovec iov = { .iov_base = (void *)"F", .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                             .msg_controllen = sizeof(ctl.buf) };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        return sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

/* An fd from @sock without waiting: the fd, or -EAGAIN when empty. */
static int mailbox_recv(int sock)
{
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } ctl;
        char byte;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                             .msg_controllen = sizeof(ctl.buf) };
        struct cmsghdr *cm;
        int fd;

        if (recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
                return -errno;
        cm = CMSG_FIRSTHDR(&mh);
        if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)) ||
            (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                return -EBADMSG;
        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        return fd;
}

/* ---- a client ---------------------------------------------------------- */

struct client_ctx {
        const char *socket;
        int mailbox_in[N_MAILBOXES], mailbox_out[N_MAILBOXES];
        int probe_fd; /* the test's own connection: not the client's */
        unsigned slot;
        uint64_t rng;
        uint64_t deadline_ms;
};

struct held {
        struct bs_buffer *b;
        uint64_t size;
        bool readonly;
        bool shared; /* its fd left this process: others may write it */
};

struct client {
        struct client_ctx *ctx;
        struct bs_client *c;
        struct held held[MAX_HELD];
        unsigned n_held;
        unsigned op; /* for messages */
};

#define client_fail(cl, what, r)                                                                  \
        do {                                                                                      \
                fprintf(stderr, "torture: client %u (pid %d), op %u: %s: %d (%s)\n",             \
                        (cl)->ctx->slot, (int)getpid(), (cl)->op, (what), (r), strerror(-(r)));  \
                _exit(1);                                                                         \
        } while (0)

#define client_expect(cl, what, r, cond)                                                          \
        do {                                                                                      \
                int r_ = (r);                                                                     \
                if (!(cond))                                                                      \
                        client_fail(cl, what, r_);                                                \
        } while (0)

static void client_connect(struct client *cl)
{
        int r = bs_client_connect(cl->ctx->socket, &cl->c);
        client_expect(cl, "connect", r, r == 0);
}

static void held_drop(struct client *cl, unsigned i)
{
        bs_buffer_put(cl->held[i].b);
        cl->held[i] = cl->held[--cl->n_held];
}

static void held_add(struct client *cl, struct bs_buffer *b, bool shared)
{
        struct held *h = &cl->held[cl->n_held++];

        h->b = b;
        h->size = (uint64_t)bs_buffer_size(b);
        h->readonly = bs_buffer_is_readonly(b) == 1;
        h->shared = shared;
}

/* One of the buffers held, at random, or NULL if none is. */
static struct held *held_pick(struct client *cl)
{
        return cl->n_held > 0 ? &cl->held[rng_below(&cl->ctx->rng, cl->n_held)] : NULL;
}

/* @fd, imported or adopted as @b with result @r, is closed: @b is held. */
static void held_from_fd(struct client *cl, const char *what, int fd, int r, struct bs_buffer *b,
                         bool shared)
{
        close(fd);
        client_expect(cl, what, r, r == 0);
        held_add(cl, b, shared);
}

static void client_disconnect(struct client *cl)
{
        int r;

        while (cl->n_held > 0)
                held_drop(cl, 0);
        r = bs_client_sync(cl->c);
        client_expect(cl, "sync", r, r == 0);
        cl->c = bs_client_unref(cl->c);
}

static void op_export(struct client *cl)
{
        uint64_t size = (1 + rng_below(&cl->ctx->rng, MAX_PAGES)) * PAGE - rng_below(&cl->ctx->rng, 2);
        struct bs_buffer *b = NULL;
        uint8_t *map;
        int r;

        if (cl->n_held == MAX_HELD)
                return;
        r = bs_buffer_export(cl->c, size, "system", "torture", &b);
        client_expect(cl, "export", r, r == 0);
        /* a new buffer reads back all zeroes */
        r = bs_buffer_mmap(b, 0, (uint64_t)bs_buffer_size(b), BS_PROT_READ, (void **)&map);
        client_expect(cl, "mmap a new buffer", r, r == 0);
        for (int64_t i = 0; i < bs_buffer_size(b); i += 512)
                client_expect(cl, "a new buffer is zero", map[i], map[i] == 0);
        bs_buffer_munmap(b, map, (uint64_t)bs_buffer_size(b));
        held_add(cl, b, false);
}

/* Adopt a memfd of our own, as udmabuf does. */
static void op_export_memfd(struct client *cl)
{
        uint64_t size = (1 + rng_below(&cl->ctx->rng, MAX_PAGES)) * PAGE;
        struct bs_buffer *b = NULL;
        int fd, r;

        if (cl->n_held == MAX_HELD)
                return;
        fd = memfd_create("torture-adopted", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        client_expect(cl, "memfd_create", -errno, fd >= 0);
        r = ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0 ? -errno : 0;
        client_expect(cl, "sizing and sealing a memfd", r, r == 0);
        r = bs_buffer_export_memfd(cl->c, fd, "adopted", &b);
        held_from_fd(cl, "export_memfd", fd, r, b, false);
}

static void op_send_fd(struct client *cl)
{
        struct held *h = held_pick(cl);
        int fd, flags, box;

        if (!h)
                return;
        flags = (rng_below(&cl->ctx->rng, 3) == 0 ? O_RDONLY : O_RDWR) | O_CLOEXEC;
        fd = bs_buffer_fd(h->b, flags);
        if (h->readonly && (flags & O_ACCMODE) == O_RDWR) {
                client_expect(cl, "a writable fd of a read-only reference", fd, fd == -EACCES);
                return;
        }
        client_expect(cl, "bs_buffer_fd", fd, fd >= 0);
        box = cl->ctx->mailbox_out[rng_below(&cl->ctx->rng, N_MAILBOXES)];
        /* a full mailbox drops it: the fd just closes */
        if (mailbox_send(box, fd) == 0)
                h->shared = true;
        close(fd);
}

static void op_import(struct client *cl)
{
        int box = cl->ctx->mailbox_in[rng_below(&cl->ctx->rng, N_MAILBOXES)];
        struct bs_buffer *b = NULL;
        int fd, r;

        if (cl->n_held == MAX_HELD)
                return;
        fd = mailbox_recv(box);
        if (fd == -EAGAIN)
                return;
        client_expect(cl, "receiving from a mailbox", fd, fd >= 0);
        r = bs_buffer_import(cl->c, fd, &b);
        held_from_fd(cl, "import", fd, r, b, true);
}

static void op_map(struct client *cl)
{
        struct held *h = held_pick(cl);
        uint64_t pages, pgoff, len;
        volatile uint8_t *map;
        int r;

        if (!h)
                return;
        pages = h->size / PAGE;
        pgoff = rng_below(&cl->ctx->rng, (unsigned)pages);
        len = (1 + rng_below(&cl->ctx->rng, (unsigned)(pages - pgoff))) * PAGE;
        r = bs_buffer_mmap(h->b, pgoff, len, BS_PROT_READ | (h->readonly ? 0 : BS_PROT_WRITE),
                           (void **)&map);
        client_expect(cl, "mmap", r, r == 0);
        if (!h->readonly) {
                uint64_t at = rng_next(&cl->ctx->rng) % len;
                uint8_t v = (uint8_t)(1 + rng_below(&cl->ctx->rng, 255));
                map[at] = v;
                /* only this process writes a buffer it never shared */
                client_expect(cl, "a byte written reads back", map[at], h->shared || map[at] == v);
        } else {
                (void)map[rng_next(&cl->ctx->rng) % len];
        }
        r = bs_buffer_munmap(h->b, (void *)map, len);
        client_expect(cl, "munmap", r, r == 0);
}

static void op_attach(struct client *cl)
{
        struct held *h = held_pick(cl);
        static const enum bs_data_direction dirs[] = { BS_DMA_BIDIRECTIONAL, BS_DMA_TO_DEVICE,
                                                       BS_DMA_FROM_DEVICE };
        const struct bs_sg_table *sgt = NULL;
        struct bs_attachment *a = NULL;
        enum bs_data_direction dir;
        int r;

        if (!h)
                return;
        r = bs_buffer_attach_segmented(h->b, "torture-dev", PAGE * (uint64_t)rng_below(&cl->ctx->rng, 3),
                                       &a);
        client_expect(cl, "attach", r, r == 0);
        dir = dirs[rng_below(&cl->ctx->rng, 3)];
        r = bs_attachment_map(a, dir, &sgt);
        if (h->readonly && dir != BS_DMA_TO_DEVICE) {
                client_expect(cl, "a device writing a read-only reference", r, r == -EACCES);
        } else {
                client_expect(cl, "map attachment", r, r == 0 && sgt);
                if (rng_below(&cl->ctx->rng, 2)) { /* else detach unmaps it */
                        r = bs_attachment_unmap(a, sgt);
                        client_expect(cl, "unmap attachment", r, r == 0);
                }
        }
        r = bs_buffer_detach(h->b, a);
        client_expect(cl, "detach", r, r == 0);
}

static void op_cpu_access(struct client *cl)
{
        struct held *h = held_pick(cl);
        unsigned flags = 1 + rng_below(&cl->ctx->rng, 3);
        int r;

        if (!h)
                return;
        r = bs_buffer_begin_cpu_access(h->b, flags);
        if (h->readonly && (flags & BS_SYNC_WRITE)) {
                client_expect(cl, "CPU write access to a read-only reference", r, r == -EACCES);
                return;
        }
        client_expect(cl, "begin CPU access", r, r == 0);
        r = bs_buffer_end_cpu_access(h->b, flags);
        client_expect(cl, "end CPU access", r, r == 0);
}

static void op_info(struct client *cl)
{
        struct held *h = held_pick(cl);
        struct bs_buffer_info info;
        int r;

        if (!h)
                return;
        /* a read-only handle may rename when its connection also holds a
         * writable reference (bufshare.h: -EACCES if only read-only ones) */
        r = bs_buffer_set_name(h->b, "renamed");
        client_expect(cl, "set_name", r, r == 0 || (h->readonly && r == -EACCES));
        r = bs_buffer_get_info(h->b, &info);
        client_expect(cl, "info", r, r == 0 && info.n_refs >= 1);
}

static void op_put(struct client *cl)
{
        if (cl->n_held > 0)
                held_drop(cl, rng_below(&cl->ctx->rng, cl->n_held));
}

static void op_reconnect(struct client *cl)
{
        client_disconnect(cl);
        client_connect(cl);
}

static void op_vanish(struct client *cl)
{
        if (rng_below(&cl->ctx->rng, 10) == 0)
                _exit(0); /* gone with everything held: the daemon cleans up */
}

/* What a client does, and how often: the per mille up to each entry. */
static const struct {
        unsigned upto;
        void (*fn)(struct client *cl);
} client_ops[] = {
        { 120, op_export },     { 150, op_export_memfd }, { 300, op_send_fd },
        { 450, op_import },     { 600, op_map },          { 700, op_attach },
        { 800, op_cpu_access }, { 950, op_put },          { 975, op_info },
        { 998, op_reconnect },  { 1000, op_vanish },
};

static int client_main(void *arg)
{
        struct client cl = { .ctx = arg };

        close(cl.ctx->probe_fd);
        client_connect(&cl);
        while (test_now_ms() < cl.ctx->deadline_ms) {
                unsigned dice = rng_below(&cl.ctx->rng, 1000), k = 0;

                while (dice >= client_ops[k].upto)
                        k++;
                cl.op++;
                client_ops[k].fn(&cl);
        }
        client_disconnect(&cl);
        return 0;
}

/* ---- the daemon, seen from outside -------------------------------------- */

/* The number on the "@key:   N kB" line of /proc/PID/status, or -errno. */
static long proc_status_kb(pid_t pid, const char *key)
{
        char path[64], text[4096], want[32], *at;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        snprintf(want, sizeof(want), "\n%s:", key);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, text, sizeof(text) - 1); /* the whole file: about 1.5 kB */
        close(fd);
        if (n <= 0)
                return -EIO;
        text[n] = '\0';
        at = strstr(text, want);
        return at ? strtol(at + strlen(want), NULL, 10) : -ENOENT;
}

/*
 * The daemon's own count of buffers and connections: its SIGUSR1 status
 * line, read from its captured log. Waits for the line with inotify on
 * the log, up to 10 s. Returns 0 or -errno.
 */
static int daemon_status(const struct test_daemon *d, uint64_t *ret_buffers, unsigned *ret_conns)
{
        uint64_t deadline = test_now_ms() + 10000;
        char buf[4096];
        int in, log, r = -ETIMEDOUT;
        off_t off;

        in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        log = open(d->log_path, O_RDONLY | O_CLOEXEC);
        if (in < 0 || log < 0 || inotify_add_watch(in, d->log_path, IN_MODIFY) < 0) {
                r = -errno;
                goto out;
        }
        off = lseek(log, 0, SEEK_END);
        kill(d->pid, SIGUSR1);
        while (test_now_ms() < deadline) {
                ssize_t n = pread(log, buf, sizeof(buf) - 1, off);
                char *line;

                if (n > 0) {
                        buf[n] = '\0';
                        line = strstr(buf, "status: ");
                        if (line && strchr(line, '\n')) {
                                unsigned long long buffers;
                                r = sscanf(line, "status: %llu buffers, %*u bytes, %u connections", &buffers,
                                           ret_conns) == 2 ? 0 : -EBADMSG;
                                *ret_buffers = buffers;
                                break;
                        }
                        if (!line && strrchr(buf, '\n')) /* other lines: skip them */
                                off += strrchr(buf, '\n') + 1 - buf;
                }
                if (test_wait_readable(in, (int)(deadline - test_now_ms())) == 0)
                        while (read(in, buf, sizeof(buf)) > 0)
                                ;
        }
out:
        if (in >= 0)
                close(in);
        if (log >= 0)
                close(log);
        return r;
}

/* The end of the daemon's captured log, on stderr. */
static void log_tail(const struct test_daemon *d)
{
        char buf[4096];
        int fd = open(d->log_path, O_RDONLY | O_CLOEXEC);
        off_t end;
        ssize_t n;

        if (fd < 0)
                return;
        end = lseek(fd, 0, SEEK_END);
        n = pread(fd, buf, sizeof(buf), end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0);
        if (n > 0) {
                fprintf(stderr, "torture: the end of the daemon's log:\n");
                fwrite(buf, 1, (size_t)n, stderr);
        }
        close(fd);
}

/* One EXPORT + RELEASE round trip on the test's own connection: its time
 * in ms, or -errno. */
static int probe(int sock, uint32_t *serial)
{
        uint64_t start = test_now_ms(), id;
        struct bs_msg req, rep;
        int r;

        bs_msg_request(&req, BS_OP_EXPORT, ++*serial);
        req.body.export_req.size = PAGE;
        snprintf(req.body.export_req.heap, sizeof(req.body.export_req.heap), "system");
        r = test_raw_call(sock, &req, &rep);
        id = rep.body.export_rep.id;
        bs_msg_clear(&rep);
        if (r < 0)
                return r;
        bs_msg_request(&req, BS_OP_RELEASE, ++*serial);
        req.body.release_req.id = id;
        r = test_raw_call(sock, &req, &rep);
        bs_msg_clear(&rep);
        return r < 0 ? r : (int)(test_now_ms() - start);
}

/* A SYNC round trip: 0 or -errno. */
static int roundtrip(int sock, uint32_t *serial)
{
        struct bs_msg req, rep;
        int r;

        bs_msg_request(&req, BS_OP_SYNC, ++*serial);
        r = test_raw_call(sock, &req, &rep);
        bs_msg_clear(&rep);
        return r;
}

/* INFO on every id from 1 to @last, INFO_WINDOW at a time: how many the
 * registry still has (each printed), or -errno. */
static int64_t ids_still_registered(int sock, uint32_t *serial, uint64_t last)
{
        int64_t found = 0;

        for (uint64_t next = 1; next <= last;) {
                unsigned n = 0;

                for (; n < INFO_WINDOW && next <= last; n++, next++) {
                        struct bs_msg req;
                        int r;

                        bs_msg_request(&req, BS_OP_INFO, ++*serial);
                        req.body.id_req.id = next;
                        r = bs_msg_send(sock, &req);
                        if (r < 0)
                                return r;
                }
                for (; n > 0; n--) {
                        struct bs_msg rep;
                        int r = test_raw_recv(sock, &rep);

                        if (r < 0)
                                return r;
                        if (rep.body.status.status == 0) {
                                fprintf(stderr, "torture: buffer %" PRIu64 " is still registered (%u refs)\n",
                                        rep.body.info_rep.id, rep.body.info_rep.n_refs);
                                found++;
                        } else if (rep.body.status.status != -ENOENT) {
                                r = rep.body.status.status;
                                bs_msg_clear(&rep);
                                return r;
                        }
                        bs_msg_clear(&rep);
                }
        }
        return found;
}

/* ---- the run ------------------------------------------------------------ */

struct slot {
        pid_t pid; /* 0: free */
        bool killed;
};

struct run {
        struct test_daemon daemon;
        struct client_ctx ctx;
        struct slot *slots;
        unsigned n_slots, live;
        uint64_t rng, seed;
        uint64_t spawned, killed, exited, failed;
        bool daemon_died;
};

static void spawn(struct run *run, unsigned i)
{
        run->ctx.slot = i;
        run->ctx.rng = run->seed ^ ((uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull) ^ (run->spawned << 40);
        rng_next(&run->ctx.rng);
        run->slots[i].pid = test_fork(client_main, &run->ctx);
        run->slots[i].killed = false;
        if (run->slots[i].pid < 0) {
                fprintf(stderr, "torture: fork: %s\n", strerror(errno));
                run->slots[i].pid = 0;
                run->failed++;
                return;
        }
        run->spawned++;
        run->live++;
}

/* Wait for whatever exited; start a new client in its place if @respawn. */
static void reap(struct run *run, bool respawn)
{
        int status;
        pid_t pid;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                unsigned i;

                if (pid == run->daemon.pid) {
                        fprintf(stderr, "torture: the daemon died: status 0x%x\n", status);
                        run->daemon.pid = 0;
                        run->daemon_died = true;
                        continue;
                }
                for (i = 0; i < run->n_slots && run->slots[i].pid != pid; i++)
                        ;
                if (i == run->n_slots)
                        continue;
                if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && run->slots[i].killed) {
                        run->killed++;
                } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                        run->exited++;
                } else {
                        fprintf(stderr, "torture: client %u (pid %d) failed: %s %d\n", i, (int)pid,
                                WIFEXITED(status) ? "exit" : "signal",
                                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
                        run->failed++;
                }
                run->slots[i].pid = 0;
                run->live--;
                if (respawn)
                        spawn(run, i);
        }
}

static void kill_one(struct run *run)
{
        unsigned i = rng_below(&run->rng, run->n_slots);

        if (run->slots[i].pid > 0 && !run->slots[i].killed) {
                run->slots[i].killed = true;
                kill(run->slots[i].pid, SIGKILL);
        }
}

static uint64_t min3(uint64_t a, uint64_t b, uint64_t c)
{
        return a < b ? (a < c ? a : c) : (b < c ? b : c);
}

#define CHECK(cond, ...)                                                       \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "torture: FAILED: " __VA_ARGS__);      \
                        fputc('\n', stderr);                                   \
                        ok = false;                                            \
                }                                                              \
        } while (0)

int main(void)
{
        static const char *const args[] = { "--max-clients", "2048", "--max-connections-per-uid", "2048",
                                            NULL };
        struct run run = { .daemon = { .capture_log = true, .nofile = 16384 } };
        unsigned seconds = (unsigned)env_u64("BUFSHARE_TORTURE_SECONDS", 60);
        uint64_t now, deadline, next_kill, next_probe, wait_until, buffers = UINT64_MAX, last_id;
        long rss_base, rss_after, rss_peak;
        int fds_base, fds_after = -1, sfd, probe_fd, probe_max = 0, r;
        unsigned probes = 0, conns = 0;
        uint32_t serial = 1;
        int64_t still = -1;
        struct rlimit rl;
        sigset_t chld;
        bool ok = true;

        run.seed = env_u64("BUFSHARE_TORTURE_SEED", 0);
        if (run.seed == 0) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                run.seed = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^ (uint64_t)getpid();
        }
        run.rng = run.seed;
        run.n_slots = (unsigned)env_u64("BUFSHARE_TORTURE_CLIENTS", N_CLIENTS);
        printf("torture: %u clients for %u s, seed %" PRIu64 " (replay with BUFSHARE_TORTURE_SEED=%" PRIu64 ")\n",
               run.n_slots, seconds, run.seed, run.seed);
        fflush(stdout);
        signal(SIGPIPE, SIG_IGN);
        run.slots = calloc(run.n_slots, sizeof(*run.slots));
        assert(run.slots);
        /* limits cut from a known fd limit, whatever this machine's is (within
         * the hard limit, which only root may raise) */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < run.daemon.nofile)
                run.daemon.nofile = (unsigned)rl.rlim_max;

        if (test_daemon_start(&run.daemon, args) < 0)
                return 1;
        probe_fd = test_raw_connect_hello(run.daemon.socket);
        if (probe_fd < 0) {
                fprintf(stderr, "torture: connecting the probe: %s\n", strerror(-probe_fd));
                test_daemon_stop(&run.daemon);
                return 1;
        }
        fds_base = test_count_fds_of(run.daemon.pid);
        rss_base = proc_status_kb(run.daemon.pid, "VmRSS");

        run.ctx.socket = run.daemon.socket;
        run.ctx.probe_fd = probe_fd;
        for (unsigned i = 0; i < N_MAILBOXES; i++) {
                int sv[2];
                r = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv);
                assert(r == 0);
                run.ctx.mailbox_in[i] = sv[0];
                run.ctx.mailbox_out[i] = sv[1];
        }
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
        assert(sfd >= 0);

        now = test_now_ms();
        deadline = now + seconds * 1000ull;
        run.ctx.deadline_ms = deadline;
        next_kill = now + KILL_EVERY_MS;
        next_probe = now;
        for (unsigned i = 0; i < run.n_slots; i++)
                spawn(&run, i);

        /* the run: kill at random, start new clients, probe */
        while ((now = test_now_ms()) < deadline && !run.daemon_died) {
                struct signalfd_siginfo si;

                if (test_wait_readable(sfd, (int)(min3(next_kill, next_probe, deadline) - now)) == 0)
                        while (read(sfd, &si, sizeof(si)) > 0)
                                ;
                reap(&run, test_now_ms() + 1000 < deadline);
                now = test_now_ms();
                if (now >= next_kill) {
                        kill_one(&run);
                        next_kill = now + KILL_EVERY_MS + rng_below(&run.rng, 120);
                }
                if (now >= next_probe) {
                        r = probe(probe_fd, &serial);
                        CHECK(r >= 0 && r <= PROBE_LIMIT_MS, "probe %u: %d (%s)", probes, r,
                              r < 0 ? strerror(-r) : "ms");
                        if (r > probe_max)
                                probe_max = r;
                        probes++;
                        next_probe = test_now_ms() + PROBE_EVERY_MS;
                }
        }

        /* every client stops at the deadline by itself, after a sync */
        wait_until = deadline + (seconds >= 60 ? 30000 : 60000);
        while (run.live > 0 && (now = test_now_ms()) < wait_until && !run.daemon_died) {
                struct signalfd_siginfo si;
                if (test_wait_readable(sfd, (int)(wait_until - now)) == 0)
                        while (read(sfd, &si, sizeof(si)) > 0)
                                ;
                reap(&run, false);
        }
        for (unsigned i = 0; i < run.n_slots; i++)
                if (run.slots[i].pid > 0) {
                        fprintf(stderr, "torture: client %u (pid %d) did not finish in time\n", i,
                                (int)run.slots[i].pid);
                        kill(run.slots[i].pid, SIGKILL);
                        waitpid(run.slots[i].pid, NULL, 0);
                        run.failed++;
                }
        close(sfd);
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
        CHECK(!run.daemon_died, "the daemon died");
        CHECK(run.failed == 0, "%" PRIu64 " clients were not served as expected", run.failed);

        /* fds in transit in the mailboxes: the kernel holds them, not the daemon */
        for (unsigned i = 0; i < N_MAILBOXES; i++) {
                while ((r = mailbox_recv(run.ctx.mailbox_in[i])) >= 0)
                        close(r);
                close(run.ctx.mailbox_in[i]);
                close(run.ctx.mailbox_out[i]);
        }

        if (!run.daemon_died) {
                /* the daemon sees the hang-ups in its own time: ask, one round
                 * trip at a time, until its fds are back at the baseline */
                uint64_t settle = test_now_ms() + SETTLE_MS;
                while ((fds_after = test_count_fds_of(run.daemon.pid)) != fds_base && test_now_ms() < settle)
                        if (roundtrip(probe_fd, &serial) < 0)
                                break;
                CHECK(fds_after == fds_base, "the daemon has %d fds open, %d at the start", fds_after, fds_base);

                /* ids are never reused: a last export's is the highest ever */
                {
                        struct bs_msg req, rep;
                        bs_msg_request(&req, BS_OP_EXPORT, ++serial);
                        req.body.export_req.size = PAGE;
                        snprintf(req.body.export_req.heap, sizeof(req.body.export_req.heap), "system");
                        r = test_raw_call(probe_fd, &req, &rep);
                        last_id = rep.body.export_rep.id;
                        bs_msg_clear(&rep);
                        CHECK(r == 0, "the last export: %d", r);
                        bs_msg_request(&req, BS_OP_RELEASE, ++serial);
                        req.body.release_req.id = last_id;
                        r = test_raw_call(probe_fd, &req, &rep);
                        bs_msg_clear(&rep);
                        CHECK(r == 0, "releasing the last export: %d", r);
                }
                still = ids_still_registered(probe_fd, &serial, last_id);
                CHECK(still == 0, "INFO over ids 1..%" PRIu64 ": %" PRId64 " still registered", last_id, still);
                r = daemon_status(&run.daemon, &buffers, &conns);
                CHECK(r == 0 && buffers == 0 && conns == 1,
                      "the daemon's status line: %d, %" PRIu64 " buffers, %u connections", r, buffers, conns);

                rss_after = proc_status_kb(run.daemon.pid, "VmRSS");
                rss_peak = proc_status_kb(run.daemon.pid, "VmHWM");
                CHECK(rss_after >= 0 && rss_after - rss_base <= RSS_GROWTH_MAX_KB,
                      "the daemon's RSS grew from %ld kB to %ld kB (at most %d kB more)", rss_base, rss_after,
                      RSS_GROWTH_MAX_KB);
                printf("torture: %" PRIu64 " clients started, %" PRIu64 " killed, %" PRIu64
                       " exited by themselves; ids 1..%" PRIu64 " given, %" PRId64 " left; "
                       "%u probes, slowest %d ms; daemon fds %d -> %d, RSS %ld -> %ld kB (peak %ld kB)\n",
                       run.spawned, run.killed, run.exited, last_id, still, probes, probe_max, fds_base,
                       fds_after, rss_base, rss_after, rss_peak);
        }
        close(probe_fd);
        if (!ok) /* the daemon's last words, before its log goes with it */
                log_tail(&run.daemon);
        r = run.daemon_died ? 0 : test_daemon_stop(&run.daemon);
        CHECK(r == 0, "the daemon's exit status: %d", r);
        free(run.slots);
        printf("torture: %s (seed %" PRIu64 ")\n", ok ? "passed" : "FAILED", run.seed);
        return ok ? 0 : 1;
}
