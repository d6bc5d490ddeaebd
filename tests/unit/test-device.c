/* SPDX-License-Identifier: MIT */
/* /dev/bufshare's behaviour (daemon/device.c) without CUSE: open files as
 * holders, the ioctls, tokens handed to a socket holder, read/write
 * through a binding as CUSE delivers them (offsets within one syscall),
 * poll on the bound buffer's fences with the wake-ups it owes, and what a
 * close takes with it. The same over a real kernel is tests/vm/test-cuse.c. */
#include "harness.h"

#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <string.h>

#include "bufshare/bufshare-ioctl.h"
#include "device.h"
#include "fence.h"

#define PAGE 4096
#define POLL_READ (POLLIN | POLLRDNORM)
#define POLL_WRITE (POLLOUT | POLLWRNORM)

/* A poll handle as the front end would pass it: what happened to it. */
struct poller {
        unsigned notified, released;
};

static void poller_notify(void *handle)
{
        struct poller *p = handle;

        assert_int_equal(p->released, 0); /* never after it was given back */
        p->notified++;
}

static void poller_release(void *handle)
{
        struct poller *p = handle;

        assert_int_equal(p->released, 0);
        p->released++;
}

static const struct device_poll_ops poller_ops = {
        .notify = poller_notify,
        .release = poller_release,
};

/* A request a SYNC start waits with, as the front end keeps it. */
struct request {
        unsigned answered;
        int status;
};

static void request_answer(void *handle, int status)
{
        struct request *q = handle;

        assert_int_equal(q->answered, 0); /* exactly once */
        q->answered++;
        q->status = status;
}

static const struct device_sync_ops request_ops = {
        .answer = request_answer,
};

struct fx {
        int fds_before;
        struct limits limits;
        struct registry reg;
        struct token_table tokens;
        struct device dev;
        struct event_base *base;
        struct holder sock; /* a socket client of uid 1000 */
        unsigned char out[DEVICE_IOCTL_OUT_MAX];
};

static int setup(void **state)
{
        struct fx *fx = calloc(1, sizeof(*fx));

        alarm(TEST_TIMEOUT_S);
        fx->fds_before = test_count_open_fds();
        limits_init_default(&fx->limits, 20000);
        fx->limits.max_buffer_size = 1 << 20;
        fx->limits.max_buffers_per_client = 4;
        fx->limits.max_clients = 3;
        fx->limits.max_connections_per_uid = 2;
        registry_init(&fx->reg, &fx->limits);
        fence_setup(&fx->reg);
        token_table_init(&fx->tokens, 5000);
        device_init(&fx->dev, &fx->reg, &fx->tokens, &fx->limits);
        fx->base = event_base_new();
        assert_non_null(fx->base);
        device_set_poll(&fx->dev, fx->base, &poller_ops);
        device_set_sync(&fx->dev, &request_ops);
        registry_holder_init(&fx->reg, &fx->sock, 300, 1000, 1000, "client");
        *state = fx;
        return 0;
}

static int teardown(void **state)
{
        struct fx *fx = *state;
        int leaked;

        device_done(&fx->dev);
        registry_holder_drop(&fx->reg, &fx->sock);
        token_table_done(&fx->tokens);
        registry_flush(&fx->reg);
        leaked = fx->reg.n_nodes != 0; /* no fence, batch or sync file left */
        registry_done(&fx->reg);
        event_base_free(fx->base);
        leaked |= test_count_open_fds() != fx->fds_before;
        free(fx);
        alarm(0);
        return leaked ? -1 : 0;
}

static int dioctl(struct fx *fx, struct dev_file *f, uint32_t cmd, void *arg)
{
        size_t out_len = 0;
        int r = device_ioctl(&fx->dev, f, cmd, arg, (_IOC_DIR(cmd) & _IOC_WRITE) ? _IOC_SIZE(cmd) : 0, fx->out,
                             &out_len, NULL, NULL);
        if (r == 0 && out_len)
                memcpy(arg, fx->out, out_len);
        return r;
}

static struct bufshare_alloc alloc_or_die(struct fx *fx, struct dev_file *f, uint64_t size)
{
        struct bufshare_alloc a = { .size = size };
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_ALLOC, &a), 0);
        return a;
}

static void open_files_are_limited_like_connections(void **state)
{
        struct fx *fx = *state;
        struct dev_file *f[3];

        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f[0]), 0);
        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f[1]), 0);
        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f[2]), -EUSERS); /* per uid */
        assert_int_equal(device_open(&fx->dev, 2, 2000, 2000, &f[2]), 0);
        assert_int_equal(device_open(&fx->dev, 3, 3000, 3000, &f[2]), -EUSERS); /* in all */
        device_close(&fx->dev, f[0]);
        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f[0]), 0);
}

static void alloc_gives_a_token_the_socket_redeems(void **state)
{
        struct fx *fx = *state;
        struct dev_file *f;
        struct bufshare_alloc a;
        struct token *tok;
        struct buffer *b;

        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f), 0);
        a = alloc_or_die(fx, f, 5000);
        assert_int_equal(a.size, 2 * PAGE);
        assert_int_equal(token_find(&fx->tokens, (uint64_t[]){ a.token[0], a.token[1] }, 1000, token_now_ns(),
                                    &tok),
                         0);
        assert_int_equal(registry_grant(&fx->reg, tok->origin, tok->buffer_id, &fx->sock, &b), 0);
        token_consume(&fx->tokens, tok);
        assert_int_equal(b->ident.id, a.id);
        assert_int_equal(b->n_refs, 2);
        /* the file closes: the socket's reference keeps the buffer */
        device_close(&fx->dev, f);
        assert_int_equal(registry_held(&fx->reg, &fx->sock, a.id, &b), 0);
        assert_int_equal(b->n_refs, 1);
}

static void close_and_release_take_buffers_and_tokens(void **state)
{
        struct fx *fx = *state;
        struct dev_file *f, *g;
        struct bufshare_alloc a, c;
        struct bufshare_release rel = { 0 };
        struct bufshare_info info = { 0 };

        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f), 0);
        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &g), 0);
        a = alloc_or_die(fx, f, PAGE);
        c = alloc_or_die(fx, f, PAGE);
        assert_int_equal(fx->tokens.n_tokens, 2);
        rel.id = a.id;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_RELEASE, &rel), 0);
        assert_int_equal(fx->tokens.n_tokens, 1);
        info.id = a.id;
        assert_int_equal(dioctl(fx, g, BUFSHARE_IOCTL_INFO, &info), -ENOENT);
        info.id = c.id;
        assert_int_equal(dioctl(fx, g, BUFSHARE_IOCTL_INFO, &info), 0); /* same uid sees it */
        device_close(&fx->dev, f);
        assert_int_equal(fx->tokens.n_tokens, 0);
        assert_int_equal(fx->reg.n_buffers, 0);
        memset(&info, 0, sizeof(info));
        info.id = c.id;
        assert_int_equal(dioctl(fx, g, BUFSHARE_IOCTL_INFO, &info), -ENOENT);
}

static void limits_answer_as_the_socket_does(void **state)
{
        struct fx *fx = *state;
        struct dev_file *f;
        struct bufshare_alloc a = { .size = (1 << 20) + 1 };

        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f), 0);
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_ALLOC, &a), -EFBIG);
        for (int i = 0; i < 4; i++)
                alloc_or_die(fx, f, PAGE);
        a.size = PAGE;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_ALLOC, &a), -EMFILE);
        a.size = 0;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_ALLOC, &a), -EINVAL);
}

static void read_and_write_follow_cuse_offsets(void **state)
{
        struct fx *fx = *state;
        struct dev_file *f;
        struct bufshare_alloc a;
        struct bufshare_bind bind = { 0 };
        char buf[3 * PAGE], back[3 * PAGE];

        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f), 0);
        a = alloc_or_die(fx, f, 2 * PAGE);
        assert_int_equal(device_read(&fx->dev, f, 0, back, 16), -ENXIO);
        assert_int_equal(device_poll(&fx->dev, f, 0, NULL), POLLERR);
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (char)(i * 31);
        bind.id = a.id;
        bind.offset = 100;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_BIND, &bind), 0);
        assert_int_equal(device_poll(&fx->dev, f, 0, NULL), POLL_READ | POLL_WRITE);
        /* one write(2) of 3 pages from 100, in CUSE requests of a page each:
         * offsets 0, 4096, 8192 within the syscall; the third is cut short */
        assert_int_equal(device_write(&fx->dev, f, 0, buf, PAGE), PAGE);
        assert_int_equal(device_write(&fx->dev, f, PAGE, buf + PAGE, PAGE), PAGE - 100);
        assert_int_equal(device_write(&fx->dev, f, 0, buf, 1), -ENOSPC); /* the next syscall */
        bind.offset = 100;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_BIND, &bind), 0);
        assert_int_equal(device_read(&fx->dev, f, 0, back, PAGE), PAGE);
        assert_int_equal(device_read(&fx->dev, f, PAGE, back + PAGE, PAGE), PAGE - 100);
        assert_int_equal(device_read(&fx->dev, f, 2 * PAGE - 100, back, PAGE), 0);
        assert_int_equal(device_read(&fx->dev, f, 0, back, PAGE), 0); /* at the end: EOF */
        bind.offset = 100;
        dioctl(fx, f, BUFSHARE_IOCTL_BIND, &bind);
        assert_int_equal(device_read(&fx->dev, f, 0, back, sizeof(back)), 2 * PAGE - 100);
        assert_memory_equal(back, buf, 2 * PAGE - 100);
}

static void sync_and_names_reach_the_registry(void **state)
{
        struct fx *fx = *state;
        struct dev_file *f;
        struct bufshare_alloc a;
        struct bufshare_sync s = { 0 };
        struct bufshare_set_name n = { 0 };
        struct bufshare_info info = { 0 };

        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f), 0);
        a = alloc_or_die(fx, f, PAGE);
        s.id = a.id;
        s.flags = BUFSHARE_SYNC_START | BUFSHARE_SYNC_WRITE;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_SYNC, &s), 0);
        s.flags = BUFSHARE_SYNC_END | BUFSHARE_SYNC_READ;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_SYNC, &s), -EINVAL);
        s.flags = BUFSHARE_SYNC_END | BUFSHARE_SYNC_WRITE;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_SYNC, &s), 0);
        n.id = a.id;
        strcpy(n.name, "named");
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_SET_NAME, &n), 0);
        info.id = a.id;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_INFO, &info), 0);
        assert_string_equal(info.name, "named");
        assert_string_equal(info.heap, "system");
        assert_int_equal(info.exporter_uid, 1000);
}

/* ---- poll: the bound buffer's fences, and the wake-ups owed -------------- */

/* A device file bound to a buffer the socket client holds too, so that
 * the client can attach fences to it. */
static struct dev_file *bound_file(struct fx *fx, uint64_t *ret_id)
{
        struct bufshare_bind bind = { 0 };
        struct bufshare_alloc a;
        struct dev_file *f;
        struct buffer *b;

        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f), 0);
        a = alloc_or_die(fx, f, PAGE);
        assert_int_equal(registry_grant(&fx->reg, &f->holder, a.id, &fx->sock, &b), 0);
        bind.id = a.id;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_BIND, &bind), 0);
        *ret_id = a.id;
        return f;
}

/* A fence of the socket client's, pending on @id for @usage. */
static uint64_t fence_on(struct fx *fx, uint64_t id, uint32_t usage)
{
        uint64_t fence;

        assert_int_equal(registry_fence_create(&fx->reg, &fx->sock, false, &fence, &(int){ -1 }), 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->sock, id, fence, usage), 0);
        return fence;
}

/* One turn of the loop, which has nothing to wait for. */
static void run_loop(struct fx *fx)
{
        assert_true(event_base_loop(fx->base, EVLOOP_NONBLOCK) >= 0);
}

/* The client signals @fence, as its request would, and the loop runs
 * what that made ready (nothing sleeps: the sync file is readable). */
static void signal_and_run(struct fx *fx, uint64_t fence)
{
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->sock, fence, 0), 0);
        registry_flush(&fx->reg);
        run_loop(fx);
}

static void poll_waits_for_a_write_fence(void **state)
{
        struct fx *fx = *state;
        struct poller p = { 0 }, q = { 0 };
        uint64_t id, fence;
        struct dev_file *f = bound_file(fx, &id);

        fence = fence_on(fx, id, BS_WIRE_SYNC_WRITE);
        /* neither readable nor writable: the handle is kept, a sync file taken */
        assert_int_equal(device_poll(&fx->dev, f, POLLIN | POLLOUT, &p), 0);
        assert_int_equal(p.released, 0);
        assert_true(f->watch.fd >= 0);
        assert_int_equal(f->watch.flags, BS_WIRE_SYNC_READ); /* the first change: POLLIN */
        assert_int_equal(f->holder.n_waiters, 1);
        run_loop(fx);
        assert_int_equal(p.notified, 0); /* nothing signalled yet */
        /* a second poll of the file: one watch still, the new handle in it */
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, &q), 0);
        assert_int_equal(p.released, 1);
        assert_int_equal(p.notified, 0);
        assert_int_equal(f->holder.n_waiters, 1);
        signal_and_run(fx, fence);
        assert_int_equal(q.notified, 1);
        assert_int_equal(q.released, 1);
        assert_int_equal(f->watch.fd, -EBADF);
        assert_int_equal(f->holder.n_waiters, 0);
        /* the kernel polls again: ready now, and the handle goes back at once */
        memset(&p, 0, sizeof(p));
        assert_int_equal(device_poll(&fx->dev, f, POLLIN | POLLOUT, &p), POLL_READ | POLL_WRITE);
        assert_int_equal(p.released, 1);
        assert_int_equal(p.notified, 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, fence), 0);
}

static void poll_out_waits_for_read_fences_too(void **state)
{
        struct fx *fx = *state;
        struct poller p = { 0 }, q = { 0 }, r = { 0 };
        uint64_t id, fence;
        struct dev_file *f = bound_file(fx, &id);

        fence = fence_on(fx, id, BS_WIRE_SYNC_READ);
        /* a reader goes on: POLLIN alone needs no watch */
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, &p), POLL_READ);
        assert_int_equal(p.released, 1);
        assert_int_equal(f->watch.fd, -EBADF);
        /* a writer waits */
        assert_int_equal(device_poll(&fx->dev, f, POLLOUT, &q), POLL_READ);
        assert_int_equal(f->watch.flags, BS_WIRE_SYNC_WRITE);
        /* no handle (a poll that does not sleep): nothing kept, nothing owed */
        assert_int_equal(device_poll(&fx->dev, f, POLLOUT, NULL), POLL_READ);
        assert_int_equal(f->holder.n_waiters, 1);
        /* a kernel that does not say which events: both */
        assert_int_equal(device_poll(&fx->dev, f, 0, &r), POLL_READ);
        assert_int_equal(q.released, 1);
        signal_and_run(fx, fence);
        assert_int_equal(r.notified, 1);
        assert_int_equal(r.released, 1);
        assert_int_equal(device_poll(&fx->dev, f, POLLOUT, NULL), POLL_READ | POLL_WRITE);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, fence), 0);
}

static void poll_in_replaces_a_watch_that_fires_later(void **state)
{
        struct fx *fx = *state;
        struct poller p = { 0 }, q = { 0 }, r = { 0 };
        uint64_t id, wfence, rfence;
        struct dev_file *f = bound_file(fx, &id);

        wfence = fence_on(fx, id, BS_WIRE_SYNC_WRITE);
        rfence = fence_on(fx, id, BS_WIRE_SYNC_READ);
        assert_int_equal(device_poll(&fx->dev, f, POLLOUT, &p), 0);
        assert_int_equal(f->watch.flags, BS_WIRE_SYNC_WRITE);
        /* a reader's poll: the write fence alone decides; the watch for
         * every fence would wake it too late and goes */
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, &q), 0);
        assert_int_equal(f->watch.flags, BS_WIRE_SYNC_READ);
        assert_int_equal(p.released, 1);
        assert_int_equal(p.notified, 0);
        assert_int_equal(f->holder.n_waiters, 1);
        signal_and_run(fx, wfence);
        assert_int_equal(q.notified, 1);
        /* polled again: readable, and a writer still waits for the read fence */
        assert_int_equal(device_poll(&fx->dev, f, POLLIN | POLLOUT, &r), POLL_READ);
        assert_int_equal(f->watch.flags, BS_WIRE_SYNC_WRITE);
        signal_and_run(fx, rfence);
        assert_int_equal(r.notified, 1);
        assert_int_equal(r.released, 1);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, wfence), 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, rfence), 0);
}

static void poll_watch_goes_with_unbind_release_and_close(void **state)
{
        struct fx *fx = *state;
        struct poller p = { 0 }, q = { 0 }, r = { 0 }, s = { 0 };
        struct bufshare_bind bind = { 0 };
        struct bufshare_release rel = { 0 };
        struct bufshare_alloc other;
        uint64_t id, fence, nodes;
        struct dev_file *f = bound_file(fx, &id);
        struct buffer *b;

        fence = fence_on(fx, id, BS_WIRE_SYNC_WRITE);
        nodes = fx->reg.n_nodes;
        /* unbind: the poller is woken to find POLLERR; the sync file is gone */
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, &p), 0);
        assert_int_equal(fx->reg.n_nodes, nodes + 1);
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_BIND, &bind), 0);
        assert_int_equal(p.notified, 1);
        assert_int_equal(p.released, 1);
        assert_int_equal(f->holder.n_waiters, 0);
        assert_int_equal(fx->reg.n_nodes, nodes);
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, NULL), POLLERR);

        /* BIND to another buffer: woken as well */
        bind.id = id;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_BIND, &bind), 0);
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, &q), 0);
        bind.offset = 8; /* the same buffer: the watch stays */
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_BIND, &bind), 0);
        assert_int_equal(q.notified, 0);
        other = alloc_or_die(fx, f, PAGE);
        bind.id = other.id;
        bind.offset = 0;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_BIND, &bind), 0);
        assert_int_equal(q.notified, 1);
        assert_int_equal(q.released, 1);
        assert_int_equal(fx->reg.n_nodes, nodes);

        /* RELEASE of the bound buffer unbinds: woken */
        bind.id = id;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_BIND, &bind), 0);
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, &r), 0);
        rel.id = id;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_RELEASE, &rel), 0);
        assert_int_equal(r.notified, 1);
        assert_int_equal(r.released, 1);
        assert_int_equal(fx->reg.n_nodes, nodes);

        /* close (kill -9 of the poller included): freed, nobody to wake */
        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f), 0);
        assert_int_equal(registry_grant(&fx->reg, &fx->sock, id, &f->holder, &b), 0);
        bind.id = id;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_BIND, &bind), 0);
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, &s), 0);
        assert_int_equal(fx->reg.n_nodes, nodes + 1);
        device_close(&fx->dev, f);
        assert_int_equal(s.notified, 0);
        assert_int_equal(s.released, 1);
        assert_int_equal(fx->reg.n_nodes, nodes);
        /* and the fence signals with no one left to tell */
        signal_and_run(fx, fence);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, fence), 0);
}

static void poll_watch_stays_within_the_holders_limits(void **state)
{
        struct fx *fx = *state;
        struct poller p = { 0 }, q = { 0 }, r = { 0 };
        uint64_t id, wfence, rfence;
        struct dev_file *f = bound_file(fx, &id);
        int sync_fd[2];

        /* with one sync file allowed, a watch still replaces the one there */
        fx->limits.max_waiters_per_client = 1;
        wfence = fence_on(fx, id, BS_WIRE_SYNC_WRITE);
        rfence = fence_on(fx, id, BS_WIRE_SYNC_READ);
        assert_int_equal(device_poll(&fx->dev, f, POLLOUT, &p), 0);
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, &q), 0);
        assert_int_equal(f->holder.n_waiters, 1);
        assert_int_equal(p.released, 1);
        signal_and_run(fx, rfence);
        assert_int_equal(q.notified, 0); /* the write fence is what it waits for */

        /* the write fences' batch has all the waiters a fence may have (a
         * socket client's sync files): no watch can be had, so POLLERR,
         * and the pollers are woken rather than left asleep */
        device_close(&fx->dev, f);
        assert_int_equal(q.released, 1);
        signal_and_run(fx, wfence);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, wfence), 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, rfence), 0);
        fx->limits.max_waiters_per_client = 2;
        fx->limits.max_waiters_per_fence = 2;
        f = bound_file(fx, &id);
        wfence = fence_on(fx, id, BS_WIRE_SYNC_WRITE);
        for (int i = 0; i < 2; i++)
                assert_int_equal(registry_export_sync_file(&fx->reg, &fx->sock, id, BS_WIRE_SYNC_READ, &sync_fd[i]),
                                 0);
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, &r), POLLERR);
        assert_int_equal(r.notified, 1);
        assert_int_equal(r.released, 1);
        assert_int_equal(f->holder.n_waiters, 0);
        assert_int_equal(f->watch.fd, -EBADF);
        signal_and_run(fx, wfence);
        close(sync_fd[0]);
        close(sync_fd[1]);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, wfence), 0);
}

/* ---- SYNC starts wait for the conflicting fences -------------------------- */

/* SYNC on @id with @flags as CUSE sends it, with request @q: 0, -errno or
 * DEVICE_IOCTL_WAITING (the wait in *@ret_wait, if asked for). */
static int dsync(struct fx *fx, struct dev_file *f, uint64_t id, uint64_t flags, struct request *q,
                 struct dev_wait **ret_wait)
{
        struct bufshare_sync s = { .id = id, .flags = flags };
        struct dev_wait *w = NULL;
        size_t out_len = 0;
        int r = device_ioctl(&fx->dev, f, BUFSHARE_IOCTL_SYNC, &s, sizeof(s), fx->out, &out_len, q, &w);

        assert_true(r != DEVICE_IOCTL_WAITING || w != NULL);
        if (ret_wait)
                *ret_wait = w;
        return r;
}

/* How many CPU accesses the registry records on @id (all holders). */
static unsigned cpu_accesses(struct fx *fx, uint64_t id)
{
        struct registry_info info;

        assert_int_equal(registry_get_info(&fx->reg, &fx->sock, id, &info), 0);
        return info.n_cpu_access;
}

#define START_READ (BUFSHARE_SYNC_START | BUFSHARE_SYNC_READ)
#define START_WRITE (BUFSHARE_SYNC_START | BUFSHARE_SYNC_WRITE)
#define START_RW (BUFSHARE_SYNC_START | BUFSHARE_SYNC_RW)

static void sync_start_waits_for_conflicting_fences(void **state)
{
        struct fx *fx = *state;
        struct request q = { 0 }, q2 = { 0 }, q3 = { 0 };
        uint64_t id, wfence, rfence;
        struct dev_file *f = bound_file(fx, &id);

        /* a write fence holds a READ start: the request is kept, nothing
         * recorded, a sync file taken */
        wfence = fence_on(fx, id, BS_WIRE_SYNC_WRITE);
        assert_int_equal(dsync(fx, f, id, START_READ, &q, NULL), DEVICE_IOCTL_WAITING);
        assert_int_equal(cpu_accesses(fx, id), 0);
        assert_int_equal(f->holder.n_waiters, 1);
        run_loop(fx);
        assert_int_equal(q.answered, 0);
        /* signalled: answered 0, and the access begun */
        signal_and_run(fx, wfence);
        assert_int_equal(q.answered, 1);
        assert_int_equal(q.status, 0);
        assert_int_equal(cpu_accesses(fx, id), 1);
        assert_int_equal(f->holder.n_waiters, 0);
        assert_int_equal(dsync(fx, f, id, BUFSHARE_SYNC_END | BUFSHARE_SYNC_READ, NULL, NULL), 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, wfence), 0);
        registry_flush(&fx->reg);

        /* a read fence: a READ start goes on at once, a WRITE or RW start waits */
        rfence = fence_on(fx, id, BS_WIRE_SYNC_READ);
        assert_int_equal(dsync(fx, f, id, START_READ, &q2, NULL), 0);
        assert_int_equal(q2.answered, 0); /* answered by the return, not kept */
        assert_int_equal(dsync(fx, f, id, BUFSHARE_SYNC_END | BUFSHARE_SYNC_READ, NULL, NULL), 0);
        assert_int_equal(dsync(fx, f, id, START_RW, &q3, NULL), DEVICE_IOCTL_WAITING);
        assert_int_equal(cpu_accesses(fx, id), 0);
        /* a fence signalled with an error ends the wait all the same: it no
         * longer conflicts, and dma-buf's begin_cpu_access then succeeds */
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->sock, rfence, -EIO), 0);
        registry_flush(&fx->reg);
        run_loop(fx);
        assert_int_equal(q3.answered, 1);
        assert_int_equal(q3.status, 0);
        assert_int_equal(cpu_accesses(fx, id), 1);
        assert_int_equal(dsync(fx, f, id, BUFSHARE_SYNC_END | BUFSHARE_SYNC_RW, NULL, NULL), 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, rfence), 0);
        registry_flush(&fx->reg);
        assert_int_equal(f->holder.n_waiters, 0);
}

static void sync_start_waits_again_for_a_fence_attached_meanwhile(void **state)
{
        struct fx *fx = *state;
        struct request q = { 0 };
        uint64_t id, f1, f2;
        struct dev_file *f = bound_file(fx, &id);

        f1 = fence_on(fx, id, BS_WIRE_SYNC_WRITE);
        assert_int_equal(dsync(fx, f, id, START_WRITE, &q, NULL), DEVICE_IOCTL_WAITING);
        /* a read fence comes before the write fence signals: asked again,
         * the registry says busy, and the start waits on */
        f2 = fence_on(fx, id, BS_WIRE_SYNC_READ);
        signal_and_run(fx, f1);
        assert_int_equal(q.answered, 0);
        assert_int_equal(cpu_accesses(fx, id), 0);
        assert_int_equal(f->holder.n_waiters, 1);
        signal_and_run(fx, f2);
        assert_int_equal(q.answered, 1);
        assert_int_equal(q.status, 0);
        assert_int_equal(cpu_accesses(fx, id), 1);
        assert_int_equal(f->holder.n_waiters, 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, f1), 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, f2), 0);
}

/* A file of its own holding @id (granted by the socket client). */
static struct dev_file *holding_file(struct fx *fx, uint64_t id)
{
        struct dev_file *f;
        struct buffer *b;

        assert_int_equal(device_open(&fx->dev, 1, 1000, 1000, &f), 0);
        assert_int_equal(registry_grant(&fx->reg, &fx->sock, id, &f->holder, &b), 0);
        return f;
}

static void sync_wait_ends_every_other_way(void **state)
{
        struct fx *fx = *state;
        struct request q = { 0 }, r = { 0 }, s = { 0 }, t = { 0 };
        struct bufshare_release rel = { 0 };
        struct dev_wait *w;
        uint64_t id, fence, nodes;
        struct dev_file *f = bound_file(fx, &id);

        fence = fence_on(fx, id, BS_WIRE_SYNC_WRITE);
        nodes = fx->reg.n_nodes;

        /* interrupted: answered -EINTR from the loop, never from inside
         * the call (libfuse holds the request locked there) */
        assert_int_equal(dsync(fx, f, id, START_WRITE, &q, &w), DEVICE_IOCTL_WAITING);
        assert_int_equal(fx->reg.n_nodes, nodes + 1);
        device_sync_interrupt(&fx->dev, w);
        assert_int_equal(q.answered, 0);
        run_loop(fx);
        assert_int_equal(q.answered, 1);
        assert_int_equal(q.status, -EINTR);
        assert_int_equal(cpu_accesses(fx, id), 0);
        assert_int_equal(f->holder.n_waiters, 0);
        assert_int_equal(fx->reg.n_nodes, nodes);

        /* the file releases the buffer it waits on: -ENOENT, as a start now */
        assert_int_equal(dsync(fx, f, id, START_READ, &r, NULL), DEVICE_IOCTL_WAITING);
        rel.id = id;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_RELEASE, &rel), 0);
        assert_int_equal(r.answered, 1);
        assert_int_equal(r.status, -ENOENT);
        assert_int_equal(f->holder.n_waiters, 0);
        assert_int_equal(fx->reg.n_nodes, nodes);
        run_loop(fx); /* nothing left to fire */
        assert_int_equal(r.answered, 1);

        /* the file closes under it (the connection went): answered, freed */
        f = holding_file(fx, id);
        assert_int_equal(dsync(fx, f, id, START_WRITE, &s, NULL), DEVICE_IOCTL_WAITING);
        device_close(&fx->dev, f);
        assert_int_equal(s.answered, 1);
        assert_int_equal(s.status, -EBADF);
        assert_int_equal(fx->reg.n_nodes, nodes);
        assert_int_equal(cpu_accesses(fx, id), 0);

        /* the daemon stops: every wait answered with what it is given */
        f = holding_file(fx, id);
        assert_int_equal(dsync(fx, f, id, START_WRITE, &t, NULL), DEVICE_IOCTL_WAITING);
        device_sync_cancel(&fx->dev, -EPIPE);
        assert_int_equal(t.answered, 1);
        assert_int_equal(t.status, -EPIPE);
        assert_int_equal(fx->reg.n_nodes, nodes);
        assert_int_equal(cpu_accesses(fx, id), 0);
        signal_and_run(fx, fence);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, fence), 0);
}

/* Many starts of one file wait at once; interrupts, a poll watch, an
 * unbind and the fence's signal all come before the loop turns, some
 * twice: each start is answered once, with what ended it first, and
 * each sync file is given back (at most the file's waiters: one more
 * start is refused at once). */
static void many_waits_on_one_file_end_once_each(void **state)
{
        struct fx *fx = *state;
        struct request q[6] = { 0 }, extra = { 0 };
        struct dev_wait *w[6];
        struct bufshare_bind unbind = { 0 };
        struct bufshare_release rel = { 0 };
        struct poller p = { 0 };
        uint64_t id, fence, nodes;
        struct dev_file *f = bound_file(fx, &id);

        fence = fence_on(fx, id, BS_WIRE_SYNC_WRITE);
        nodes = fx->reg.n_nodes;
        fx->limits.max_waiters_per_client = 7;
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, &p), 0);
        for (unsigned i = 0; i < 6; i++)
                assert_int_equal(dsync(fx, f, id, i % 2 ? START_READ : START_RW, &q[i], &w[i]),
                                 DEVICE_IOCTL_WAITING);
        assert_int_equal(f->holder.n_waiters, 7);
        assert_int_equal(dsync(fx, f, id, START_READ, &extra, NULL), -EMFILE);
        assert_int_equal(extra.answered, 0);
        /* unbinding ends poll's watch only */
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_BIND, &unbind), 0);
        assert_int_equal(p.released, 1);
        /* interrupts, twice for some, before any turn of the loop */
        device_sync_interrupt(&fx->dev, w[0]);
        device_sync_interrupt(&fx->dev, w[0]);
        device_sync_interrupt(&fx->dev, w[1]);
        for (unsigned i = 0; i < 6; i++)
                assert_int_equal(q[i].answered, 0);
        /* the fence signals before the loop runs: the interrupted ones
         * still say -EINTR, the others begin */
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->sock, fence, 0), 0);
        registry_flush(&fx->reg);
        /* an interrupted one released before the loop turns: answered
         * -ENOENT now, with every other start on the buffer */
        device_sync_interrupt(&fx->dev, w[2]);
        rel.id = id;
        assert_int_equal(registry_grant(&fx->reg, &fx->sock, id, &f->holder, &(struct buffer *){ NULL }), 0);
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_RELEASE, &rel), 0); /* one reference stays */
        for (unsigned i = 0; i < 6; i++)
                assert_int_equal(q[i].answered, 0);
        run_loop(fx);
        run_loop(fx);
        for (unsigned i = 0; i < 6; i++) {
                assert_int_equal(q[i].answered, 1);
                assert_int_equal(q[i].status, i < 3 ? -EINTR : 0);
        }
        assert_int_equal(cpu_accesses(fx, id), 1); /* the file's one reference, inside */
        assert_int_equal(f->holder.n_waiters, 0);
        assert_int_equal(fx->reg.n_nodes, nodes - 2); /* its two batches fired, its record stays */
        device_close(&fx->dev, f);
        assert_int_equal(cpu_accesses(fx, id), 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, fence), 0);
}

static void sync_start_that_cannot_wait_is_answered_at_once(void **state)
{
        struct fx *fx = *state;
        struct poller p = { 0 };
        struct request q = { 0 };
        uint64_t id, fence;
        struct dev_file *f = bound_file(fx, &id);
        struct bufshare_sync s = { .id = 0, .flags = START_WRITE };

        fence = fence_on(fx, id, BS_WIRE_SYNC_WRITE);
        /* its one sync file is poll's already: the start gets the
         * registry's errno, and its request is not kept */
        fx->limits.max_waiters_per_client = 1;
        assert_int_equal(device_poll(&fx->dev, f, POLLIN, &p), 0);
        assert_int_equal(dsync(fx, f, id, START_WRITE, &q, NULL), -EMFILE);
        assert_int_equal(q.answered, 0);
        assert_int_equal(cpu_accesses(fx, id), 0);
        /* no request to keep (a front end that can't defer): -EAGAIN */
        s.id = id;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_SYNC, &s), -EAGAIN);
        assert_int_equal(cpu_accesses(fx, id), 0);
        /* the same checks as ever come first */
        assert_int_equal(dsync(fx, f, id, BUFSHARE_SYNC_START, &q, NULL), -EINVAL);
        assert_int_equal(dsync(fx, f, id + 100, START_WRITE, &q, NULL), -ENOENT);
        assert_int_equal(q.answered, 0);
        signal_and_run(fx, fence);
        assert_int_equal(p.notified, 1);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->sock, fence), 0);
}

static void device_names(void **state)
{
        assert_true(device_name_valid("bufshare"));
        assert_true(device_name_valid("dri/bufshare-1.0_x"));
        assert_false(device_name_valid(""));
        assert_false(device_name_valid("/bufshare"));
        assert_false(device_name_valid("bufshare/"));
        assert_false(device_name_valid("a//b"));
        assert_false(device_name_valid(".."));
        assert_false(device_name_valid("a/../b"));
        assert_false(device_name_valid("./a"));
        assert_false(device_name_valid("a b"));
        assert_true(device_name_valid(".hidden"));
        assert_true(device_name_valid("a..b"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(open_files_are_limited_like_connections),
                T(alloc_gives_a_token_the_socket_redeems),
                T(close_and_release_take_buffers_and_tokens),
                T(limits_answer_as_the_socket_does),
                T(read_and_write_follow_cuse_offsets),
                T(sync_and_names_reach_the_registry),
                T(poll_waits_for_a_write_fence),
                T(poll_out_waits_for_read_fences_too),
                T(poll_in_replaces_a_watch_that_fires_later),
                T(poll_watch_goes_with_unbind_release_and_close),
                T(poll_watch_stays_within_the_holders_limits),
                T(sync_start_waits_for_conflicting_fences),
                T(sync_start_waits_again_for_a_fence_attached_meanwhile),
                T(sync_wait_ends_every_other_way),
                T(sync_start_that_cannot_wait_is_answered_at_once),
                T(many_waits_on_one_file_end_once_each),
                T(device_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
