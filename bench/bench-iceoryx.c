/* SPDX-License-Identifier: MIT */
/*
 * 8. a real peer in the same run: Eclipse iceoryx 2.0.3 (its C binding).
 * An 8 MiB frame goes from a publisher to a subscriber through iceoryx
 * (loan, write, publish; the subscriber, woken by a waitset, takes it,
 * reads it, releases it) and through bufshare (frame_bufshare: a buffer
 * exported and mapped once, a one-byte message per frame, the consumer
 * reading through its own mapping), in interleaved rounds under the same
 * pinning. Both report frame.h's latency: producer done -> consumer has
 * the frame.
 *
 * RouDi, iceoryx's daemon, is started here with a configuration of 8 MiB
 * chunks (the built-in one stops at 4 MiB), in a process group of its
 * own, and stopped at the end or when this process exits or dies. The
 * applications never call iox_runtime_shutdown() (it can hang in 2.0.3)
 * and leave by _exit().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/wait_set.h>

#include "frame.h"

#define ROUDI_READY "RouDi is ready for clients"
#define ROUDI_READY_MS 10000  /* it takes 110-220 ms here */
#define CONNECT_MS 5000       /* publisher and subscriber finding each other */
#define CHUNKS 4

/* ---- RouDi ---- */

static struct roudi {
        pid_t pid;       /* also its process group */
        pid_t owner;     /* the process that started it */
        int out;         /* its stdout and stderr */
        char dir[64];
        char config[96];
        char tail[2048]; /* the end of what it said, for errors */
} roudi = { .out = -1 };

/* Keep the end of what RouDi says, to show it when something fails. */
static void tail_append(const char *buf, size_t n)
{
        size_t len = strlen(roudi.tail), cap = sizeof(roudi.tail) - 1;

        if (n > cap) {
                buf += n - cap;
                n = cap;
        }
        if (len + n > cap) {
                memmove(roudi.tail, roudi.tail + (len + n - cap), cap - n);
                len = cap - n;
        }
        memcpy(roudi.tail + len, buf, n);
        roudi.tail[len + n] = '\0';
}

/* Read what RouDi said since (it must never block on a full pipe). */
static void roudi_drain(void)
{
        char buf[1024];
        ssize_t n;

        while (roudi.out >= 0 && (n = read(roudi.out, buf, sizeof(buf))) > 0)
                tail_append(buf, (size_t)n);
}

static void config_remove(void)
{
        unlink(roudi.config);
        rmdir(roudi.dir);
}

/* SIGTERM to its group, then SIGKILL if it lingers. Returns its exit
 * status: not 0 when it aborted, which leaves its shared memory behind
 * (the next RouDi cleans it up). */
static int roudi_stop(void)
{
        int status;

        if (roudi.pid <= 0 || roudi.owner != getpid())
                return 0;
        kill(-roudi.pid, SIGTERM);
        status = wait_or_kill(roudi.pid, 5000, 1);
        roudi.pid = 0;
        roudi_drain();
        close(roudi.out);
        roudi.out = -1;
        config_remove();
        if (status != 0)
                fprintf(stderr, "bufshare-bench: RouDi ended with status %d; it said:\n%s\n", status, roudi.tail);
        return status;
}

static void roudi_stop_at_exit(void)
{
        roudi_stop();
}

static int write_config(void)
{
        FILE *f;
        int r;

        snprintf(roudi.dir, sizeof(roudi.dir), "/tmp/bufshare-bench-roudi-XXXXXX");
        if (!mkdtemp(roudi.dir))
                return -errno;
        snprintf(roudi.config, sizeof(roudi.config), "%s/roudi.toml", roudi.dir);
        f = fopen(roudi.config, "we");
        if (!f) {
                r = -errno;
                config_remove();
                return r;
        }
        /* a chunk holds the payload plus iceoryx's chunk header */
        fprintf(f, "[general]\nversion = 1\n\n[[segment]]\n\n"
                   "[[segment.mempool]]\nsize = 128\ncount = 64\n\n"
                   "[[segment.mempool]]\nsize = %llu\ncount = %d\n",
                8 * MiB + 4096, CHUNKS);
        if (fclose(f) == 0)
                return 0;
        r = -errno;
        config_remove();
        return r;
}

static int roudi_start(void)
{
        static int registered;
        uint64_t deadline;
        int pv[2], r;

        if ((r = write_config()) < 0)
                return r;
        if (pipe2(pv, O_CLOEXEC) < 0) {
                r = -errno;
                config_remove();
                return r;
        }
        if (!registered++)
                atexit(roudi_stop_at_exit);
        fflush(stdout);
        fflush(stderr);
        roudi.owner = getpid();
        roudi.pid = fork();
        if (roudi.pid < 0) {
                r = -errno;
                close(pv[0]);
                close(pv[1]);
                config_remove();
                return r;
        }
        if (roudi.pid == 0) {
                /* its own group, so that the bench can kill all of it; gone with the bench */
                setpgid(0, 0);
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                dup2(pv[1], STDOUT_FILENO);
                dup2(pv[1], STDERR_FILENO);
                close_fds_except(NULL, 0);
                execlp("iox-roudi", "iox-roudi", "-c", roudi.config, "-l", "info", (char *)NULL);
                fprintf(stderr, "exec iox-roudi: %s\n", strerror(errno));
                _exit(127);
        }
        setpgid(roudi.pid, roudi.pid); /* whichever of the two runs first */
        close(pv[1]);
        roudi.out = pv[0];
        roudi.tail[0] = '\0';
        fcntl(roudi.out, F_SETPIPE_SZ, 1 << 20);
        deadline = now_ns() + ROUDI_READY_MS * 1000000ull;
        for (;;) {
                int left = (int)((deadline - now_ns()) / 1000000);
                struct pollfd p = { .fd = roudi.out, .events = POLLIN };
                char buf[512];
                ssize_t n;

                if (now_ns() >= deadline || poll(&p, 1, left > 0 ? left : 0) <= 0) {
                        r = -ETIMEDOUT;
                        break;
                }
                n = read(roudi.out, buf, sizeof(buf));
                if (n <= 0) { /* it exited: another RouDi on this machine, for one */
                        r = -ESRCH;
                        break;
                }
                tail_append(buf, (size_t)n);
                if (strstr(roudi.tail, ROUDI_READY)) {
                        fcntl(roudi.out, F_SETFL, O_NONBLOCK);
                        return 0;
                }
        }
        fprintf(stderr, "bufshare-bench: RouDi was not ready (%s)\n", r == -ETIMEDOUT ? "timed out" : "it exited");
        if (roudi_stop() == 0) /* else that said what it said */
                fprintf(stderr, "RouDi said:\n%s\n", roudi.tail);
        return r;
}

/* ---- the iceoryx method ---- */

static struct iox_end {
        iox_pub_storage_t pub_storage;
        iox_sub_storage_t sub_storage;
        iox_ws_storage_t ws_storage;
        iox_pub_t pub;
        iox_sub_t sub;
        iox_ws_t ws;
        void *chunk;
} X;

static void runtime_init(const char *role)
{
        char name[64];

        iox_set_loglevel(Iceoryx_LogLevel_Warn);
        snprintf(name, sizeof(name), "bufshare-bench-%s-%d", role, (int)getpid()); /* unique */
        iox_runtime_init(name);
}

/* iceoryx says nothing when the two find each other: ask, with a deadline. */
static int wait_until(bool (*ready)(void), int timeout_ms)
{
        uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;

        while (!ready()) {
                if (now_ns() > deadline)
                        return -ETIMEDOUT;
                poll(NULL, 0, 1);
        }
        return 0;
}

static bool has_subscribers(void)
{
        return iox_pub_has_subscribers(X.pub);
}

static bool subscribed(void)
{
        return iox_sub_get_subscription_state(X.sub) == SubscribeState_SUBSCRIBED;
}

static int iox_producer_init(struct frame_end *e)
{
        iox_pub_options_t options;

        runtime_init("pub");
        iox_pub_options_init(&options);
        options.historyCapacity = 0;
        X.pub = iox_pub_init(&X.pub_storage, "bufshare-bench", "frame", e->tag, &options);
        return X.pub ? wait_until(has_subscribers, CONNECT_MS) : -ENOMEM;
}

static int iox_write(struct frame_end *e, uint8_t v)
{
        enum iox_AllocationResult r = iox_pub_loan_chunk(X.pub, &X.chunk, (uint32_t)e->size);

        if (r != AllocationResult_SUCCESS)
                return -ENOBUFS;
        frame_fill(e, X.chunk, v);
        return 0;
}

static int iox_publish(struct frame_end *e)
{
        iox_pub_publish_chunk(X.pub, X.chunk);
        return 0;
}

static int iox_consumer_init(struct frame_end *e)
{
        iox_sub_options_t options;

        runtime_init("sub");
        iox_sub_options_init(&options);
        options.queueCapacity = 1;
        options.historyRequest = 0;
        X.sub = iox_sub_init(&X.sub_storage, "bufshare-bench", "frame", e->tag, &options);
        X.ws = iox_ws_init(&X.ws_storage);
        if (!X.sub || !X.ws ||
            iox_ws_attach_subscriber_state(X.ws, X.sub, SubscriberState_HAS_DATA, 0, NULL) != WaitSetResult_SUCCESS)
                return -ENOMEM;
        return wait_until(subscribed, CONNECT_MS);
}

/* The producer hung up: its end of the link reads as closed. */
static int link_closed(int link)
{
        struct pollfd p = { .fd = link, .events = POLLIN };
        char byte;

        return poll(&p, 1, 0) == 1 && recv(link, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static int iox_take(struct frame_end *e, const uint8_t **ret_p)
{
        for (;;) {
                iox_notification_info_t info[1];
                uint64_t missed = 0;
                const void *p;

                /* woken by the waitset; a timeout only to notice the end */
                if (iox_ws_timed_wait(X.ws, (struct timespec){ .tv_nsec = 100000000 }, info, 1, &missed) > 0) {
                        enum iox_ChunkReceiveResult r = iox_sub_take_chunk(X.sub, &p);

                        if (r == ChunkReceiveResult_SUCCESS) {
                                *ret_p = p;
                                return 0;
                        }
                        if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE)
                                return -EIO;
                } else if (link_closed(e->link)) {
                        return -EPIPE;
                }
        }
}

static void iox_release(struct frame_end *e, const uint8_t *p)
{
        iox_sub_release_chunk(X.sub, p);
}

static const struct frame_method frame_iceoryx = {
        .name = "iceoryx",
        .producer_init = iox_producer_init,
        .write = iox_write,
        .publish = iox_publish,
        .consumer_init = iox_consumer_init,
        .take = iox_take,
        .release = iox_release,
        /* exit(), not _exit(): the runtime must deregister from RouDi,
         * which aborts at its own shutdown (leaving its shared memory
         * behind) if it finds an application gone without a word */
        .leave = exit,
};

/* ---- the scenario ---- */

void bench_iceoryx(struct bs_client *c)
{
        enum { I_BUFSHARE, I_ICEORYX, I_COUNT };
        const struct frame_method *methods[I_COUNT] = { &frame_bufshare, &frame_iceoryx };
        struct frame_pair fps[I_COUNT] = { 0 };
        size_t size = 8 * MiB, started = 0;
        int n = B.quick ? 3 : 1000, r;
        double ratio;
        enum pin p;

        header("8. iceoryx 2.0.3 beside bufshare, 8 MiB frames (producer writes every byte, consumer reads every "
               "byte; \"two\": producer cpu 0, consumer cpu 1): latency from producer done to consumer has the "
               "frame; ratio = bufshare / iceoryx");
        r = roudi_start();
        for (; started < I_COUNT && r == 0; started++)
                r = frame_pair_start(&fps[started], methods[started], size, FRAME_ALL, 0);
        FOR_EACH_PIN(p) {
                if (r == 0)
                        r = frame_pairs_compare(fps, I_COUNT, p, n, B.quick ? 1 : 20);
                roudi_drain();
                if (r < 0)
                        break;
                result("iceoryx", "8 MiB bufshare", p, &fps[I_BUFSHARE].lat, "iceoryx", &fps[I_ICEORYX].lat,
                       "GBps", frame_pair_gbps(&fps[I_BUFSHARE], size));
                report_placement(p, "iceoryx", "8 MiB bufshare", "frames", fps[I_BUFSHARE].frames, "consumer",
                                 fps[I_BUFSHARE].colocated, NULL);
                result("iceoryx", "8 MiB iceoryx", p, &fps[I_ICEORYX].lat, NULL, NULL, "GBps",
                       frame_pair_gbps(&fps[I_ICEORYX], size));
                report_placement(p, "iceoryx", "8 MiB iceoryx", "frames", fps[I_ICEORYX].frames, "subscriber",
                                 fps[I_ICEORYX].colocated, NULL);
                ratio = samples_pct(&fps[I_BUFSHARE].lat, 50) / samples_pct(&fps[I_ICEORYX].lat, 50);
                printf("%-22s bufshare p50 = %.2fx iceoryx p50 (target: at most 1.5x): %s\n", "", ratio,
                       ratio <= 1.5 ? "met" : "missed");
        }
        while (started > 0)
                if (frame_pair_stop(&fps[--started]) < 0 && r == 0)
                        r = -ECHILD;
        if (roudi_stop() != 0 && r == 0)
                r = -ECHILD;
        CHECK(r);
}
