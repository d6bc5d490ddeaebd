/* SPDX-License-Identifier: MIT */
/* daemon/fence.c's bookkeeping, without sockets to the daemon: fences,
 * a buffer's batches, sync files, SUBMIT and RELEASE_READ, what a
 * holder's departure does, and every limit. Each test ends with no node
 * left behind (the teardown checks registry.n_nodes). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "charge.h"
#include "fence.h"
#include "registry-internal.h"
#include "registry.h"
#include "util.h"

#define PENDING 1 /* what sync_status() says of an unsignalled sync file */

struct fx {
        int fds_before;
        struct limits limits;
        struct registry reg;
        struct holder a, b;
        struct buffer *buf; /* a's, b imports it */
};

static int setup(void **state)
{
        struct fx *fx = calloc(1, sizeof(*fx));
        bool ro;
        int fd;

        alarm(TEST_TIMEOUT_S);
        fx->fds_before = test_count_open_fds();
        limits_init_default(&fx->limits, 20000);
        fx->limits.max_fences_per_client = 8;
        fx->limits.max_waiters_per_client = 8;
        fx->limits.max_waiters_per_fence = 4;
        if (registry_init(&fx->reg, &fx->limits) < 0)
                return -1;
        fence_setup(&fx->reg);
        registry_holder_init(&fx->reg, &fx->a, 100, 1000, 1000, "producer");
        registry_holder_init(&fx->reg, &fx->b, 200, 1000, 1000, "consumer");
        if (registry_export(&fx->reg, &fx->a, 4096, "system", "frame", &fx->buf) < 0)
                return -1;
        fd = fcntl(fx->buf->fd, F_DUPFD_CLOEXEC, 3);
        if (registry_import(&fx->reg, &fx->b, fd, &fx->buf, &ro) < 0)
                return -1;
        *state = fx;
        return 0;
}

static int teardown(void **state)
{
        struct fx *fx = *state;
        int leaked;

        registry_holder_drop(&fx->reg, &fx->a);
        registry_holder_drop(&fx->reg, &fx->b);
        leaked = fx->reg.n_nodes != 0;
        if (leaked)
                fprintf(stderr, "%llu nodes left\n", (unsigned long long)fx->reg.n_nodes);
        registry_done(&fx->reg);
        leaked |= test_count_open_fds() != fx->fds_before;
        free(fx);
        alarm(0);
        return leaked ? -1 : 0;
}

/* PENDING, or the status a signalled sync file carries (peeked, so it
 * can be asked again). */
static int sync_status(int fd)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int32_t s;

        if (poll(&p, 1, 0) == 0)
                return PENDING;
        assert_int_equal(recv(fd, &s, sizeof(s), MSG_PEEK | MSG_DONTWAIT), (ssize_t)sizeof(s));
        return s;
}

static uint64_t new_fence(struct fx *fx, struct holder *h)
{
        uint64_t id = 0;

        assert_int_equal(registry_fence_create(&fx->reg, h, false, &id, &(int){ -1 }), 0);
        assert_true(id != 0);
        return id;
}

static int export_sync(struct fx *fx, struct holder *h, uint32_t flags)
{
        int fd = -1;

        assert_int_equal(registry_export_sync_file(&fx->reg, h, fx->buf->ident.id, flags, &fd), 0);
        assert_true(fd >= 0);
        return fd;
}

static void no_fence_means_signalled_at_once(void **state)
{
        struct fx *fx = *state;
        int r = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ), w = export_sync(fx, &fx->b, BS_WIRE_SYNC_WRITE);

        assert_int_equal(sync_status(r), 0);
        assert_int_equal(sync_status(w), 0);
        assert_int_equal(fx->b.n_waiters, 0); /* nothing waits */
        close(r);
        close(w);
}

static void a_write_fence_holds_both_kinds_of_sync_file(void **state)
{
        struct fx *fx = *state;
        uint64_t f = new_fence(fx, &fx->a);
        int r, w;

        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
        r = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        w = export_sync(fx, &fx->b, BS_WIRE_SYNC_WRITE);
        assert_int_equal(sync_status(r), PENDING);
        assert_int_equal(sync_status(w), PENDING);
        assert_int_equal(fx->b.n_waiters, 2);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, 0), 0);
        assert_int_equal(sync_status(r), 0);
        assert_int_equal(sync_status(w), 0);
        assert_int_equal(fx->b.n_waiters, 0);
        assert_null(fx->buf->open[0]);
        assert_null(fx->buf->last[1]);
        close(r);
        close(w);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f), 0);
}

static void a_read_fence_holds_writers_only(void **state)
{
        struct fx *fx = *state;
        uint64_t f = new_fence(fx, &fx->b);
        int r, w;

        assert_int_equal(registry_fence_attach(&fx->reg, &fx->b, fx->buf->ident.id, f, BS_WIRE_SYNC_READ), 0);
        r = export_sync(fx, &fx->a, BS_WIRE_SYNC_READ);
        w = export_sync(fx, &fx->a, BS_WIRE_SYNC_WRITE);
        assert_int_equal(sync_status(r), 0);
        assert_int_equal(sync_status(w), PENDING);
        assert_true(fx->reg.hooks->buffer_busy(fx->buf, BS_WIRE_SYNC_WRITE));
        assert_false(fx->reg.hooks->buffer_busy(fx->buf, BS_WIRE_SYNC_READ));
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->b, f, 0), 0);
        assert_int_equal(sync_status(w), 0);
        assert_false(fx->reg.hooks->buffer_busy(fx->buf, BS_WIRE_SYNC_WRITE));
        close(r);
        close(w);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->b, f), 0);
}

/* A sync file waits for what was pending when it was made, never for a
 * fence attached after it (the open batch was sealed). */
static void a_sync_file_waits_for_what_was_pending_then(void **state)
{
        struct fx *fx = *state;
        uint64_t f1 = new_fence(fx, &fx->a), f2 = new_fence(fx, &fx->a);
        int early, late;

        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f1, BS_WIRE_SYNC_WRITE), 0);
        early = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f2, BS_WIRE_SYNC_WRITE), 0);
        late = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f1, 0), 0);
        assert_int_equal(sync_status(early), 0);
        assert_int_equal(sync_status(late), PENDING); /* f2 too */
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f2, 0), 0);
        assert_int_equal(sync_status(late), 0);
        close(early);
        close(late);
        /* and the other order: the later fence signalled first */
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f1), 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f2), 0);
        f1 = new_fence(fx, &fx->a);
        f2 = new_fence(fx, &fx->a);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f1, BS_WIRE_SYNC_WRITE), 0);
        early = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f2, BS_WIRE_SYNC_WRITE), 0);
        late = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f2, 0), 0);
        assert_int_equal(sync_status(early), PENDING);
        assert_int_equal(sync_status(late), PENDING); /* f1 still */
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f1, 0), 0);
        assert_int_equal(sync_status(early), 0);
        assert_int_equal(sync_status(late), 0);
        close(early);
        close(late);
}

static void an_error_reaches_every_waiter(void **state)
{
        struct fx *fx = *state;
        uint64_t f = new_fence(fx, &fx->a);
        int r;

        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
        r = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, -EIO), 0);
        assert_int_equal(sync_status(r), -EIO);
        close(r);
        /* signalled: no longer pending, so a new sync file is clean */
        r = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(sync_status(r), 0);
        close(r);
}

/* A sync file made after a fence failed doesn't report it, even while
 * another fence keeps what it waits for pending. */
static void an_error_before_the_export_is_not_reported(void **state)
{
        struct fx *fx = *state;
        uint64_t f1 = new_fence(fx, &fx->a), f2 = new_fence(fx, &fx->a);
        int before, after;

        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f1, BS_WIRE_SYNC_WRITE), 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f2, BS_WIRE_SYNC_WRITE), 0);
        before = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f2, -EIO), 0);
        after = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ); /* the same sealed batch */
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f1, 0), 0);
        assert_int_equal(sync_status(before), -EIO);
        assert_int_equal(sync_status(after), 0);
        close(before);
        close(after);
}

/* An error at the head of a chain of batches reaches the sync files of
 * every later batch that were made before it, and none made after; each
 * learns it when its own batch fires, not by a walk of the chain. */
static void an_error_reaches_later_batches_made_before_it(void **state)
{
        struct fx *fx = *state;
        uint64_t head = new_fence(fx, &fx->a), late = new_fence(fx, &fx->a), f;
        int fds[3], after;

        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, head, BS_WIRE_SYNC_WRITE), 0);
        for (unsigned i = 0; i < 3; i++) {
                fds[i] = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
                f = new_fence(fx, &fx->b);
                assert_int_equal(registry_fence_attach(&fx->reg, &fx->b, fx->buf->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
                assert_int_equal(registry_fence_signal(&fx->reg, &fx->b, f, 0), 0);
                assert_int_equal(registry_fence_destroy(&fx->reg, &fx->b, f), 0);
        }
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, late, BS_WIRE_SYNC_WRITE), 0);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, head, -EIO), 0);
        /* made after the head's error, waiting on the chain still */
        after = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        for (unsigned i = 0; i < 3; i++)
                assert_int_equal(sync_status(fds[i]), -EIO);
        assert_int_equal(sync_status(after), PENDING);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, late, -EPIPE), 0);
        assert_int_equal(sync_status(after), -EPIPE); /* the head's came before it */
        for (unsigned i = 0; i < 3; i++)
                close(fds[i]);
        close(after);
}

static void only_the_creator_signals_once_with_an_errno(void **state)
{
        struct fx *fx = *state;
        uint64_t f = new_fence(fx, &fx->a);

        assert_int_equal(registry_fence_signal(&fx->reg, &fx->b, f, 0), -ENOENT);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f + 1000, 0), -ENOENT);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, 0, 0), -ENOENT);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, 1), -EINVAL);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, -4096), -EINVAL);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, -4095), 0);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, 0), -EALREADY);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->b, f), -ENOENT);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f), 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f), -ENOENT);
        assert_int_equal(fx->a.n_fences, 0);
}

static void attach_needs_a_reference_and_a_usage(void **state)
{
        struct fx *fx = *state;
        struct holder c;
        struct buffer *ro_buf;
        uint64_t f, fc;
        bool ro;
        char path[64];
        int fd;

        registry_holder_init(&fx->reg, &c, 300, 3000, 3000, "reader");
        f = new_fence(fx, &fx->a);
        fc = new_fence(fx, &c);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f, 0), -EINVAL);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f, 4), -EINVAL);
        assert_int_equal(registry_fence_attach(&fx->reg, &c, fx->buf->ident.id, fc, BS_WIRE_SYNC_READ), -ENOENT);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->b, fx->buf->ident.id, f, BS_WIRE_SYNC_READ), -ENOENT);
        /* a read-only reference attaches read fences only */
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fx->buf->fd);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_int_equal(registry_import(&fx->reg, &c, fd, &ro_buf, &ro), 0);
        assert_true(ro);
        assert_int_equal(registry_fence_attach(&fx->reg, &c, fx->buf->ident.id, fc, BS_WIRE_SYNC_WRITE), -EACCES);
        assert_int_equal(registry_fence_attach(&fx->reg, &c, fx->buf->ident.id, fc, BS_WIRE_SYNC_READ), 0);
        /* twice in a row changes nothing */
        assert_int_equal(registry_fence_attach(&fx->reg, &c, fx->buf->ident.id, fc, BS_WIRE_SYNC_READ), 0);
        registry_holder_drop(&fx->reg, &c);
        assert_false(fx->reg.hooks->buffer_busy(fx->buf, BS_WIRE_SYNC_WRITE)); /* its fence: -EPIPE */
}

static void a_holder_that_goes_signals_its_fences_with_epipe(void **state)
{
        struct fx *fx = *state;
        uint64_t f1 = new_fence(fx, &fx->a), f2 = new_fence(fx, &fx->a);
        int w, r;

        new_fence(fx, &fx->a); /* attached to nothing */
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f1, BS_WIRE_SYNC_WRITE), 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f2, BS_WIRE_SYNC_READ), 0);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f2, -EIO), 0);
        w = export_sync(fx, &fx->b, BS_WIRE_SYNC_WRITE);
        r = export_sync(fx, &fx->a, BS_WIRE_SYNC_READ); /* a's own sync file outlives a */
        registry_holder_drop(&fx->reg, &fx->a);
        assert_int_equal(sync_status(w), -EPIPE);
        assert_int_equal(sync_status(r), -EPIPE);
        assert_int_equal(fx->a.n_fences, 0);
        assert_int_equal(fx->reg.n_nodes, 0);
        close(w);
        close(r);
}

static void limits_refuse_with_their_errno(void **state)
{
        struct fx *fx = *state;
        uint64_t ids[8], f, extra;
        int fds[8], fd = -1;

        for (unsigned i = 0; i < 8; i++)
                ids[i] = new_fence(fx, &fx->a);
        assert_int_equal(registry_fence_create(&fx->reg, &fx->a, false, &extra, &(int){ -1 }), -EMFILE);
        assert_int_equal(registry_fence_create(&fx->reg, &fx->b, false, &extra, &(int){ -1 }), 0); /* b is not a */
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, ids[7]), 0);
        assert_int_equal(registry_fence_create(&fx->reg, &fx->a, false, &ids[7], &(int){ -1 }), 0);

        /* waiters per fence: 4 */
        f = ids[0];
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
        for (unsigned i = 0; i < 4; i++)
                fds[i] = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(registry_export_sync_file(&fx->reg, &fx->b, fx->buf->ident.id, BS_WIRE_SYNC_READ, &fd),
                         -ENOSPC);
        /* waiters per client: 8 (4 more on the other class) */
        for (unsigned i = 4; i < 8; i++)
                fds[i] = export_sync(fx, &fx->b, BS_WIRE_SYNC_WRITE);
        assert_int_equal(fx->b.n_waiters, 8);
        assert_int_equal(registry_export_sync_file(&fx->reg, &fx->b, fx->buf->ident.id, BS_WIRE_SYNC_WRITE, &fd),
                         -EMFILE);
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, fds[0], fds[1], &fd), -EMFILE);
        assert_int_equal(fd, -1); /* written only on success */
        /* another client is served */
        {
                struct buffer *other;
                assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "other", &other), 0);
                assert_int_equal(registry_export_sync_file(&fx->reg, &fx->a, other->ident.id,
                                                           BS_WIRE_SYNC_WRITE, &fd), 0);
                close(fd);
                assert_int_equal(registry_release(&fx->reg, &fx->a, other->ident.id, false), 0);
        }
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, 0), 0);
        for (unsigned i = 0; i < 8; i++) {
                assert_int_equal(sync_status(fds[i]), 0);
                close(fds[i]);
        }
        assert_int_equal(fx->b.n_waiters, 0);
}

static void merge_takes_the_first_error_and_waits_for_both(void **state)
{
        struct fx *fx = *state;
        uint64_t f1 = new_fence(fx, &fx->a), f2 = new_fence(fx, &fx->a);
        int s1, s2, none, m, m2, m3;
        struct buffer *other;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "other", &other), 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f1, BS_WIRE_SYNC_WRITE), 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, other->ident.id, f2, BS_WIRE_SYNC_WRITE), 0);
        s1 = export_sync(fx, &fx->a, BS_WIRE_SYNC_READ);
        assert_int_equal(registry_export_sync_file(&fx->reg, &fx->a, other->ident.id, BS_WIRE_SYNC_READ, &s2), 0);
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, s1, s2, &m), 0);
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, m, m, &m2), 0); /* itself */
        assert_int_equal(sync_status(m), PENDING);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f2, -EIO), 0);
        assert_int_equal(sync_status(s2), -EIO);
        assert_int_equal(sync_status(m), PENDING);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f1, -ENOMEM), 0);
        assert_int_equal(sync_status(m), -EIO); /* the first error */
        assert_int_equal(sync_status(m2), -EIO);
        /* signalled ones merge too: status peeked from the fd */
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, s1, s2, &m3), 0);
        assert_int_equal(sync_status(m3), -ENOMEM);
        close(m3);
        assert_int_equal(registry_export_sync_file(&fx->reg, &fx->a, other->ident.id, BS_WIRE_SYNC_WRITE, &none),
                         0);
        assert_int_equal(sync_status(none), 0);
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, none, s2, &m3), 0);
        assert_int_equal(sync_status(m3), -EIO);
        close(m3);
        close(s1);
        close(s2);
        close(none);
        close(m);
        close(m2);
        assert_int_equal(registry_release(&fx->reg, &fx->a, other->ident.id, false), 0);
}

static void what_is_not_our_sync_file_is_refused(void **state)
{
        struct fx *fx = *state;
        int sv[2], efd = eventfd(0, EFD_CLOEXEC), p[2], good, m = -1, consumed;
        int32_t s;

        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        good = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, good, efd, &m), -EINVAL);
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, p[0], good, &m), -EINVAL);
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, sv[0], good, &m), -EINVAL); /* peer open */
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, good, -1, &m), -EINVAL);
        assert_int_equal(registry_import_sync_file(&fx->reg, &fx->b, fx->buf->ident.id, BS_WIRE_SYNC_READ, efd),
                         -EINVAL);
        assert_int_equal(m, -1);
        /* one whose holder read its status out is no sync file any more */
        consumed = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(recv(consumed, &s, sizeof(s), 0), (ssize_t)sizeof(s));
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, consumed, good, &m), -EINVAL);
        close(consumed);
        close(good);
        close(efd);
        close(sv[0]);
        close(sv[1]);
        close(p[0]);
        close(p[1]);
}

static void an_imported_sync_file_is_a_fence_on_the_buffer(void **state)
{
        struct fx *fx = *state;
        uint64_t f = new_fence(fx, &fx->a);
        struct buffer *other;
        int src, w;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "other", &other), 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, other->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
        assert_int_equal(registry_export_sync_file(&fx->reg, &fx->a, other->ident.id, BS_WIRE_SYNC_READ, &src), 0);
        assert_int_equal(registry_import_sync_file(&fx->reg, &fx->b, fx->buf->ident.id, BS_WIRE_SYNC_WRITE, src),
                         0);
        assert_true(fx->reg.hooks->buffer_busy(fx->buf, BS_WIRE_SYNC_READ));
        w = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        /* the importer going away leaves it pending: only the source ends it */
        registry_holder_drop(&fx->reg, &fx->b);
        assert_int_equal(sync_status(w), PENDING);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, -EIO), 0);
        assert_int_equal(sync_status(w), -EIO);
        /* a signalled sync file adds nothing */
        assert_int_equal(registry_import_sync_file(&fx->reg, &fx->a, fx->buf->ident.id, BS_WIRE_SYNC_WRITE, src),
                         0);
        assert_false(fx->reg.hooks->buffer_busy(fx->buf, BS_WIRE_SYNC_WRITE));
        close(src);
        close(w);
        assert_int_equal(registry_release(&fx->reg, &fx->a, other->ident.id, false), 0);
}

static void submit_gives_each_other_holder_a_read_fence(void **state)
{
        struct fx *fx = *state;
        struct holder c;
        uint32_t n = 99;
        bool ro;
        int w, fd;

        registry_holder_init(&fx->reg, &c, 300, 1000, 1000, "reader2");
        fd = fcntl(fx->buf->fd, F_DUPFD_CLOEXEC, 3);
        assert_int_equal(registry_import(&fx->reg, &c, fd, &fx->buf, &ro), 0);
        assert_int_equal(registry_submit(&fx->reg, &fx->a, fx->buf->ident.id, &n), 0);
        assert_int_equal(n, 2);
        assert_false(fx->reg.hooks->buffer_busy(fx->buf, BS_WIRE_SYNC_READ)); /* readers don't wait */
        w = export_sync(fx, &fx->a, BS_WIRE_SYNC_WRITE);
        /* a second submit before they read keeps one fence each */
        assert_int_equal(registry_submit(&fx->reg, &fx->a, fx->buf->ident.id, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(registry_release_read(&fx->reg, &fx->b, fx->buf->ident.id, 0), 0);
        assert_int_equal(registry_release_read(&fx->reg, &fx->b, fx->buf->ident.id, 0), -ENOENT);
        assert_int_equal(registry_release_read(&fx->reg, &fx->a, fx->buf->ident.id, 0), -ENOENT);
        assert_int_equal(registry_release_read(&fx->reg, &fx->b, fx->buf->ident.id, 7), -EINVAL);
        assert_int_equal(sync_status(w), PENDING); /* c has not read it */
        /* c dropping its reference ends its read (status 0) */
        assert_int_equal(registry_release(&fx->reg, &c, fx->buf->ident.id, false), 0);
        assert_int_equal(sync_status(w), 0);
        close(w);
        /* a holder that dies before reading: -EPIPE */
        assert_int_equal(registry_submit(&fx->reg, &fx->a, fx->buf->ident.id, &n), 0);
        assert_int_equal(n, 1);
        w = export_sync(fx, &fx->a, BS_WIRE_SYNC_WRITE);
        registry_holder_drop(&fx->reg, &fx->b);
        assert_int_equal(sync_status(w), -EPIPE);
        close(w);
        registry_holder_drop(&fx->reg, &c);
}

static void submit_needs_a_writable_reference(void **state)
{
        struct fx *fx = *state;
        struct holder c;
        struct buffer *b;
        uint32_t n;
        bool ro;
        char path[64];
        int fd;

        registry_holder_init(&fx->reg, &c, 300, 1000, 1000, "viewer");
        assert_int_equal(registry_submit(&fx->reg, &c, fx->buf->ident.id, &n), -ENOENT);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fx->buf->fd);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_int_equal(registry_import(&fx->reg, &c, fd, &b, &ro), 0);
        assert_int_equal(registry_submit(&fx->reg, &c, fx->buf->ident.id, &n), -EACCES);
        registry_holder_drop(&fx->reg, &c);
}

static void cpu_access_is_busy_only_on_a_conflict(void **state)
{
        struct fx *fx = *state;
        uint64_t rf = new_fence(fx, &fx->b), wf = new_fence(fx, &fx->a);
        uint64_t id = fx->buf->ident.id;

        assert_int_equal(registry_fence_attach(&fx->reg, &fx->b, id, rf, BS_WIRE_SYNC_READ), 0);
        assert_int_equal(registry_cpu_access(&fx->reg, &fx->a, id, BS_WIRE_SYNC_WRITE, CPU_ACCESS_BEGIN_IDLE),
                         -EBUSY);
        assert_int_equal(fx->buf->n_cpu_access, 0); /* nothing recorded */
        assert_int_equal(registry_cpu_access(&fx->reg, &fx->a, id, BS_WIRE_SYNC_READ, CPU_ACCESS_BEGIN_IDLE), 0);
        assert_int_equal(registry_cpu_access(&fx->reg, &fx->a, id, BS_WIRE_SYNC_READ, CPU_ACCESS_END), 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, id, wf, BS_WIRE_SYNC_WRITE), 0);
        assert_int_equal(registry_cpu_access(&fx->reg, &fx->b, id, BS_WIRE_SYNC_READ, CPU_ACCESS_BEGIN_IDLE),
                         -EBUSY);
        /* version 1's begin doesn't look */
        assert_int_equal(registry_cpu_access(&fx->reg, &fx->b, id, BS_WIRE_SYNC_READ, CPU_ACCESS_BEGIN), 0);
        assert_int_equal(registry_cpu_access(&fx->reg, &fx->b, id, BS_WIRE_SYNC_READ, CPU_ACCESS_END), 0);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, wf, 0), 0);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->b, rf, 0), 0);
        assert_int_equal(registry_cpu_access(&fx->reg, &fx->a, id, BS_WIRE_SYNC_WRITE, CPU_ACCESS_BEGIN_IDLE), 0);
        assert_int_equal(registry_cpu_access(&fx->reg, &fx->a, id, BS_WIRE_SYNC_WRITE, CPU_ACCESS_END), 0);
}

/* The last reference goes while fences and sync files are pending: they
 * still end, and nothing points at the freed buffer. */
static void a_released_buffer_still_signals_its_waiters(void **state)
{
        struct fx *fx = *state;
        uint64_t f = new_fence(fx, &fx->a);
        struct buffer *other;
        int w1, w2;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "short", &other), 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, other->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
        assert_int_equal(registry_export_sync_file(&fx->reg, &fx->a, other->ident.id, BS_WIRE_SYNC_READ, &w1), 0);
        assert_int_equal(registry_export_sync_file(&fx->reg, &fx->a, other->ident.id, BS_WIRE_SYNC_WRITE, &w2), 0);
        assert_int_equal(registry_release(&fx->reg, &fx->a, other->ident.id, false), 0);
        registry_flush(&fx->reg);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, 0), 0);
        assert_int_equal(sync_status(w1), 0);
        assert_int_equal(sync_status(w2), 0);
        close(w1);
        close(w2);
}

/* A chain of batches, one per export, fires in one go, without recursion. */
static void a_chain_of_batches_fires_at_once(void **state)
{
        struct fx *fx = *state;
        uint64_t first = new_fence(fx, &fx->a), f;
        int fds[5];

        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, first, BS_WIRE_SYNC_WRITE), 0);
        for (unsigned i = 0; i < 5; i++) {
                fds[i] = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
                f = new_fence(fx, &fx->b);
                assert_int_equal(registry_fence_attach(&fx->reg, &fx->b, fx->buf->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
                assert_int_equal(registry_fence_signal(&fx->reg, &fx->b, f, 0), 0);
                assert_int_equal(registry_fence_destroy(&fx->reg, &fx->b, f), 0);
                assert_int_equal(sync_status(fds[i]), PENDING); /* first still */
        }
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, first, 0), 0);
        for (unsigned i = 0; i < 5; i++) {
                assert_int_equal(sync_status(fds[i]), 0);
                close(fds[i]);
        }
        assert_null(fx->buf->last[FENCE_CLASS_WRITE]);
        assert_null(fx->buf->open[FENCE_CLASS_WRITE]);
}

static void a_pending_sync_file_closed_by_its_holder_is_gone(void **state)
{
        struct fx *fx = *state;
        uint64_t f = new_fence(fx, &fx->a);
        uint64_t nodes;
        int w, other, merged, done;

        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f, BS_WIRE_SYNC_READ), 0);
        assert_false(registry_buffer_busy(fx->buf, BS_WIRE_SYNC_READ)); /* a reader goes on */
        assert_true(registry_buffer_busy(fx->buf, BS_WIRE_SYNC_WRITE));
        w = export_sync(fx, &fx->b, BS_WIRE_SYNC_WRITE);
        nodes = fx->reg.n_nodes;
        /* not b's: only closed, it still waits */
        other = fcntl(w, F_DUPFD_CLOEXEC, 3);
        registry_sync_file_close(&fx->reg, &fx->a, other);
        assert_int_equal(fx->b.n_waiters, 1);
        assert_int_equal(fx->reg.n_nodes, nodes);
        /* b's, pending: its record goes, and its waiter slot */
        registry_sync_file_close(&fx->reg, &fx->b, w);
        assert_int_equal(fx->b.n_waiters, 0);
        assert_int_equal(fx->reg.n_nodes, nodes - 1);
        /* one a merge waits for fires as it would */
        w = export_sync(fx, &fx->b, BS_WIRE_SYNC_WRITE);
        other = export_sync(fx, &fx->b, BS_WIRE_SYNC_WRITE);
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, w, other, &merged), 0);
        registry_sync_file_close(&fx->reg, &fx->b, w);
        assert_int_equal(fx->b.n_waiters, 3);
        /* a signalled one: only closed */
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, 0), 0);
        assert_int_equal(sync_status(merged), 0);
        done = export_sync(fx, &fx->b, BS_WIRE_SYNC_WRITE);
        registry_sync_file_close(&fx->reg, &fx->b, done);
        registry_sync_file_close(&fx->reg, &fx->b, other);
        registry_sync_file_close(&fx->reg, &fx->b, merged);
        registry_sync_file_close(&fx->reg, &fx->b, -EBADF);
        assert_int_equal(fx->b.n_waiters, 0);
        registry_flush(&fx->reg);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f), 0);
}

/* A holder of uid @uid that imports fx->buf. */
static void holder_with_buffer(struct fx *fx, struct holder *h, uid_t uid)
{
        struct buffer *b;
        bool ro;

        registry_holder_init(&fx->reg, h, 300 + (pid_t)uid, uid, uid, "other");
        assert_int_equal(registry_import(&fx->reg, h, fcntl(fx->buf->fd, F_DUPFD_CLOEXEC, 3), &b, &ro), 0);
        assert_ptr_equal(b, fx->buf);
}

/* A pending sync file costs the daemon an fd until it signals, and
 * outlives its maker: its maker's uid pays for it from its making to
 * the daemon's letting go of it (signalled, closed by its holder, its
 * fence destroyed), whether the maker is still connected or not. Over
 * max_sync_files_per_uid: -EDQUOT, for that uid only. */
static void sync_files_are_charged_to_their_makers_uid(void **state)
{
        struct fx *fx = *state;
        uint64_t f = new_fence(fx, &fx->a);
        struct holder gone, stranger;
        int fds[6], fd = -1;

        fx->limits.max_sync_files_per_uid = 3;
        holder_with_buffer(fx, &gone, 1000);
        holder_with_buffer(fx, &stranger, 2000);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
        fds[0] = export_sync(fx, &gone, BS_WIRE_SYNC_READ);
        fds[1] = export_sync(fx, &gone, BS_WIRE_SYNC_READ);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_SYNC_FILE), 2);
        /* its maker goes: they are pending still, and still its uid's */
        registry_holder_drop(&fx->reg, &gone);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_SYNC_FILE), 2);
        assert_int_equal(sync_status(fds[0]), PENDING);
        fds[2] = export_sync(fx, &fx->b, BS_WIRE_SYNC_WRITE);
        assert_int_equal(registry_export_sync_file(&fx->reg, &fx->b, fx->buf->ident.id, BS_WIRE_SYNC_WRITE, &fd),
                         -EDQUOT);
        assert_int_equal(registry_sync_file_merge(&fx->reg, &fx->b, fds[0], fds[1], &fd), -EDQUOT);
        assert_int_equal(fd, -1);
        assert_int_equal(fx->b.n_waiters, 1); /* b itself is far from max_waiters_per_client */
        /* another uid is served */
        fds[3] = export_sync(fx, &stranger, BS_WIRE_SYNC_WRITE);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 2000, CHARGE_FD_SYNC_FILE), 1);
        /* its holder closes one: the daemon lets go of it, its uid pays no more */
        registry_sync_file_close(&fx->reg, &fx->b, fds[2]);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_SYNC_FILE), 2);
        fds[2] = export_sync(fx, &fx->b, BS_WIRE_SYNC_WRITE);
        /* signalled: none counts any more */
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, 0), 0);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_SYNC_FILE), 0);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 2000, CHARGE_FD_SYNC_FILE), 0);
        for (unsigned i = 0; i < 4; i++) {
                assert_int_equal(sync_status(fds[i]), 0);
                close(fds[i]);
        }
        /* a destroyed fence lets go of its sync files too */
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f), 0);
        f = new_fence(fx, &fx->a);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
        for (unsigned i = 0; i < 3; i++)
                fds[i] = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_SYNC_FILE), 3);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f), 0);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_SYNC_FILE), 0);
        for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(sync_status(fds[i]), -ECANCELED);
                close(fds[i]);
        }
        registry_holder_drop(&fx->reg, &stranger);
        registry_flush(&fx->reg);
}

/* A fence costs the daemon memory from FENCE_CREATE until its creator
 * destroys it or goes: its creator's uid pays for it until then, and
 * past max_fences_per_uid of them, whichever of its holders asks, is
 * refused -EDQUOT with nothing made. Signalled, a fence still counts
 * until destroyed; another uid pays for its own. */
static void fences_are_charged_to_their_creators_uid(void **state)
{
        struct fx *fx = *state;
        uint64_t f[3], id = 0, nodes;
        struct holder gone, stranger;

        fx->limits.max_fences_per_uid = 3;
        holder_with_buffer(fx, &gone, 1000);
        holder_with_buffer(fx, &stranger, 2000);
        f[0] = new_fence(fx, &fx->a);
        f[1] = new_fence(fx, &gone);
        f[2] = new_fence(fx, &gone);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_USER_FENCE), 3);
        nodes = fx->reg.n_nodes;
        assert_int_equal(registry_fence_create(&fx->reg, &fx->b, false, &id, &(int){ -1 }), -EDQUOT);
        assert_int_equal(fx->reg.n_nodes, nodes); /* refused: nothing made */
        assert_int_equal(fx->b.n_fences, 0);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_USER_FENCE), 3);
        /* another uid is served */
        new_fence(fx, &stranger);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 2000, CHARGE_FD_USER_FENCE), 1);
        /* signalled, it still counts: its record is kept */
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f[0], 0), 0);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_USER_FENCE), 3);
        /* destroyed, it no longer does */
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f[0]), 0);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_USER_FENCE), 2);
        f[0] = new_fence(fx, &fx->b);
        /* its creator gone, its fences (signalled or not) go with it */
        assert_int_equal(registry_fence_signal(&fx->reg, &gone, f[1], 0), 0);
        registry_holder_drop(&fx->reg, &gone);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_USER_FENCE), 1);
        f[1] = new_fence(fx, &fx->a);
        f[2] = new_fence(fx, &fx->a);
        assert_int_equal(registry_fence_create(&fx->reg, &fx->a, false, &id, &(int){ -1 }), -EDQUOT);
        registry_holder_drop(&fx->reg, &stranger);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 2000, CHARGE_FD_USER_FENCE), 0);
        for (unsigned i = 0; i < 3; i++)
                assert_int_equal(registry_fence_destroy(&fx->reg, i == 0 ? &fx->b : &fx->a, f[i]), 0);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_USER_FENCE), 0);
}

/* ---- a fence's ready-made sync file ---- */

/* A fence of @h's with its first sync file made ready: *@ret_end is its
 * creator's sending end, or -EBADF. */
static uint64_t new_paired_fence(struct fx *fx, struct holder *h, int *ret_end)
{
        uint64_t id = 0;

        assert_int_equal(registry_fence_create(&fx->reg, h, true, &id, ret_end), 0);
        return id;
}

/* A paired fence of a's, pending as a write on the buffer, and the sync
 * file b exports for a read: the ready-made one, in *@ret_fd. */
static uint64_t paired_fence_and_waiter(struct fx *fx, int *ret_end, int *ret_fd)
{
        uint64_t f = new_paired_fence(fx, &fx->a, ret_end);

        assert_true(*ret_end >= 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
        *ret_fd = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        return f;
}

/* How many datagrams wait in @fd, read out. */
static int datagrams_in(int fd)
{
        int32_t s;
        int n = 0;

        while (recv(fd, &s, sizeof(s), MSG_DONTWAIT) == (ssize_t)sizeof(s))
                n++;
        return n;
}

static void the_creator_signals_its_first_waiter_itself(void **state)
{
        struct fx *fx = *state;
        int end, mine, other;
        int32_t s = -EIO;
        uint64_t f = paired_fence_and_waiter(fx, &end, &mine);

        other = export_sync(fx, &fx->b, BS_WIRE_SYNC_WRITE); /* the daemon's own */
        assert_int_equal(sync_status(mine), PENDING);
        assert_int_equal(sync_status(other), PENDING);
        /* the creator's send alone: the daemon knows nothing yet */
        assert_int_equal(send(end, &s, sizeof(s), MSG_DONTWAIT), (ssize_t)sizeof(s));
        assert_int_equal(sync_status(mine), -EIO);
        assert_int_equal(sync_status(other), PENDING);
        /* then the daemon is told, and tells the others, once each */
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, -EIO), 0);
        registry_flush(&fx->reg);
        assert_int_equal(sync_status(other), -EIO);
        assert_int_equal(datagrams_in(mine), 1);
        assert_int_equal(datagrams_in(other), 1);
        assert_int_equal(fx->b.n_waiters, 0);
        close(mine);
        close(other);
        close(end);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f), 0);
}

static void a_ready_made_sync_file_still_hears_the_daemon(void **state)
{
        struct fx *fx = *state;
        int end, fd;

        paired_fence_and_waiter(fx, &end, &fd);
        /* its creator goes without a word: -EPIPE, from the daemon */
        close(end);
        registry_holder_drop(&fx->reg, &fx->a);
        registry_holder_init(&fx->reg, &fx->a, 100, 1000, 1000, "producer");
        registry_flush(&fx->reg);
        assert_int_equal(sync_status(fd), -EPIPE);
        assert_int_equal(datagrams_in(fd), 1);
        close(fd);
}

static void only_a_fence_alone_hands_out_its_sync_file(void **state)
{
        struct fx *fx = *state;
        int end, fd, fd2, end2;
        uint64_t f = new_paired_fence(fx, &fx->a, &end);
        uint64_t g = new_paired_fence(fx, &fx->a, &end2);
        int32_t s = 0;

        assert_true(end >= 0 && end2 >= 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, g, BS_WIRE_SYNC_WRITE), 0);
        fd = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ); /* two fences: the daemon's */
        assert_int_equal(send(end, &s, sizeof(s), MSG_DONTWAIT), (ssize_t)sizeof(s));
        assert_int_equal(send(end2, &s, sizeof(s), MSG_DONTWAIT), (ssize_t)sizeof(s));
        assert_int_equal(sync_status(fd), PENDING); /* neither creator's send reaches it */
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, 0), 0);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, g, 0), 0);
        assert_int_equal(sync_status(fd), 0);
        /* signalled, their ready-made ones are closed with the reply */
        fd2 = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(sync_status(fd2), 0);
        close(fd);
        close(fd2);
        close(end);
        close(end2);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f), 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, g), 0);
}

/* Nothing a waiter sends on its end reaches the creator's: it is shut
 * for reading, so the creator's copy can't be filled up either. */
static void a_waiter_sends_nothing_to_the_creator(void **state)
{
        struct fx *fx = *state;
        int end, fd;
        uint64_t f = paired_fence_and_waiter(fx, &end, &fd);

        assert_int_equal(send(fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL), -1);
        assert_int_equal(errno, EPIPE);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, 0), 0);
        registry_flush(&fx->reg);
        assert_int_equal(sync_status(fd), 0);
        close(fd);
        close(end);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f), 0);
}

static void ready_made_sync_files_are_charged_to_their_uid(void **state)
{
        struct fx *fx = *state;
        int end[3];
        uint64_t f[3];

        fx->limits.max_sync_files_per_uid = 4; /* two fences' worth */
        for (unsigned i = 0; i < 3; i++)
                f[i] = new_paired_fence(fx, &fx->a, &end[i]);
        assert_true(end[0] >= 0 && end[1] >= 0);
        assert_int_equal(end[2], -EBADF); /* the fence is made all the same */
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_FENCE), 4);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f[0]), 0);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_FENCE), 2);
        for (unsigned i = 1; i < 3; i++)
                assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f[i]), 0);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_FENCE), 0);
        for (unsigned i = 0; i < 3; i++)
                safe_close(end[i]);
}

/* A uid's ready-made sync files and its pending sync files share one
 * bound, max_sync_files_per_uid: the fds the daemon holds for it. */
static void ready_made_and_pending_sync_files_share_the_uids_bound(void **state)
{
        struct fx *fx = *state;
        int end, end2, fds[2], fd = -1;
        uint64_t paired, g, paired2;

        fx->limits.max_sync_files_per_uid = 4;
        paired = new_paired_fence(fx, &fx->a, &end); /* two */
        assert_true(end >= 0);
        assert_int_equal(registry_fence_create(&fx->reg, &fx->a, false, &g, &(int){ -1 }), 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, g, BS_WIRE_SYNC_WRITE), 0);
        fds[0] = export_sync(fx, &fx->a, BS_WIRE_SYNC_READ); /* three, four */
        fds[1] = export_sync(fx, &fx->a, BS_WIRE_SYNC_WRITE);
        assert_int_equal(registry_export_sync_file(&fx->reg, &fx->a, fx->buf->ident.id, BS_WIRE_SYNC_READ, &fd),
                         -EDQUOT);
        paired2 = new_paired_fence(fx, &fx->a, &end2);
        assert_int_equal(end2, -EBADF); /* made, without one */
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, paired), 0);
        fd = export_sync(fx, &fx->a, BS_WIRE_SYNC_READ); /* room again */
        for (unsigned i = 0; i < 2; i++)
                close(fds[i]);
        close(fd);
        close(end);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, g), 0);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, paired2), 0);
}

/* What the creator sent on its end before any waiter took the sync file
 * (a signal early, or junk) is nobody's: the export gets the daemon's
 * own sync file, pending until the daemon is told, and the ready-made
 * one goes (its fds with it). */
static void a_ready_made_sync_file_written_first_is_not_handed_out(void **state)
{
        struct fx *fx = *state;
        int end, fd;
        uint64_t f = new_paired_fence(fx, &fx->a, &end);

        assert_true(end >= 0);
        assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f, BS_WIRE_SYNC_WRITE), 0);
        assert_int_equal(send(end, "junk", 4, MSG_DONTWAIT), 4);
        fd = export_sync(fx, &fx->b, BS_WIRE_SYNC_READ);
        assert_int_equal(sync_status(fd), PENDING);
        assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_FENCE), 0);
        assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f, -EIO), 0);
        registry_flush(&fx->reg);
        assert_int_equal(sync_status(fd), -EIO);
        close(fd);
        close(end);
        assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f), 0);
}

/* Random orders of fence attach/signal/destroy, exports and imports on one
 * buffer, against a model: every sync file fires exactly once its fences
 * pending when it was made are signalled; its status is 0 iff none of them
 * failed, else one of their errors, the first when nothing failed before
 * it was made; the uid's fence and import charges equal what is live. */
#define MAXF 64
#define MAXS 64
struct mf { uint64_t id; bool live, attached_r, attached_w, signalled, imported; int status; unsigned when; int src; };
struct ms { int fd; bool fired; bool is_read; unsigned made; int pset[MAXF]; int np; int status; bool err_before; };

static void model_random_orders(void **state)
{
        struct fx *fx = *state;
        unsigned seed = 1;
        const char *env = getenv("MODEL_SEED");
        unsigned rounds = getenv("MODEL_ROUNDS") ? (unsigned)atoi(getenv("MODEL_ROUNDS")) : 300;
        if (env) seed = (unsigned)atoi(env);
        fx->limits.max_fences_per_client = 1000;
        fx->limits.max_waiters_per_client = 1000;
        fx->limits.max_waiters_per_fence = 1000;
        for (unsigned round = 0; round < rounds; round++) {
                struct mf f[MAXF] = { 0 };
                struct ms s[MAXS] = { 0 };
                int nf = 0, ns = 0;
                unsigned clock = 0;
                bool any_err = false;
                srand(seed + round);
                for (int step = 0; step < 60; step++) {
                        int op = rand() % 10;
                        clock++;
                        if (op <= 1 && nf < MAXF) {
                                f[nf] = (struct mf){ .id = new_fence(fx, &fx->a), .live = true, .src = -1 };
                                nf++;
                        } else if (op <= 3 && nf) {
                                int i = rand() % nf;
                                bool w = rand() % 2;
                                if (!f[i].live || f[i].imported) continue;
                                assert_int_equal(registry_fence_attach(&fx->reg, &fx->a, fx->buf->ident.id, f[i].id,
                                                                        w ? BS_WIRE_SYNC_WRITE : BS_WIRE_SYNC_READ), 0);
                                if (!f[i].signalled) { if (w) f[i].attached_w = true; else f[i].attached_r = true; }
                        } else if (op <= 5 && nf) {
                                int i = rand() % nf;
                                int st = rand() % 3 ? 0 : -(1 + rand() % 100);
                                if (!f[i].live || f[i].imported || f[i].signalled) continue;
                                assert_int_equal(registry_fence_signal(&fx->reg, &fx->a, f[i].id, st), 0);
                                f[i].signalled = true; f[i].status = st; f[i].when = clock;
                        } else if (op == 6 && nf) {
                                int i = rand() % nf;
                                if (!f[i].live || f[i].imported) continue;
                                assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f[i].id), 0);
                                if (!f[i].signalled) { f[i].signalled = true; f[i].status = -ECANCELED; f[i].when = clock; }
                                f[i].live = false;
                        } else if (op <= 8 && ns < MAXS) {
                                bool rd = rand() % 2;
                                struct ms *m = &s[ns];
                                m->is_read = rd;
                                m->made = clock;
                                m->fd = export_sync(fx, &fx->b, rd ? BS_WIRE_SYNC_READ : BS_WIRE_SYNC_WRITE);
                                m->err_before = any_err;
                                for (int i = 0; i < nf; i++)
                                        if (!f[i].signalled && (f[i].attached_w || (!rd && f[i].attached_r)))
                                                m->pset[m->np++] = i;
                                ns++;
                        } else if (op == 9 && ns && nf < MAXF) {
                                /* import a pending sync file as a write or read fence */
                                int j = rand() % ns;
                                bool w = rand() % 2;
                                if (s[j].fired) continue;
                                assert_int_equal(registry_import_sync_file(&fx->reg, &fx->b, fx->buf->ident.id,
                                                                           w ? BS_WIRE_SYNC_WRITE : BS_WIRE_SYNC_READ, s[j].fd), 0);
                                f[nf] = (struct mf){ .live = true, .imported = true, .src = j };
                                if (w) f[nf].attached_w = true; else f[nf].attached_r = true;
                                nf++;
                        }
                        /* propagate in the model */
                        for (bool changed = true; changed;) {
                                changed = false;
                                for (int j = 0; j < ns; j++) {
                                        bool all = true;
                                        if (s[j].fired) continue;
                                        for (int k = 0; k < s[j].np; k++) all &= f[s[j].pset[k]].signalled;
                                        if (!all) continue;
                                        s[j].fired = true; changed = true;
                                        for (int i = 0; i < nf; i++)
                                                if (f[i].imported && f[i].src == j && !f[i].signalled) {
                                                        int st = sync_status(s[j].fd);
                                                        f[i].signalled = true; f[i].status = st; f[i].when = clock;
                                                }
                                }
                        }
                        for (int i = 0; i < nf; i++) if (f[i].signalled && f[i].status < 0 && f[i].when == clock) any_err = true;
                        /* check */
                        for (int j = 0; j < ns; j++) {
                                int st = sync_status(s[j].fd);
                                if (!s[j].fired) {
                                        if (st != PENDING) fprintf(stderr, "seed %u step %d: sync %d fired early (%d)\n", seed + round, step, j, st);
                                        assert_int_equal(st, PENDING);
                                        continue;
                                }
                                if (st == PENDING) fprintf(stderr, "seed %u step %d: sync %d not fired\n", seed + round, step, j);
                                assert_int_not_equal(st, PENDING);
                                {
                                        bool has_err = false, in = st == 0, first_ok;
                                        unsigned first_when = ~0u; int first_st = 0, n_at_first = 0;
                                        for (int k = 0; k < s[j].np; k++) {
                                                struct mf *g = &f[s[j].pset[k]];
                                                if (g->status < 0) {
                                                        has_err = true;
                                                        if (g->status == st) in = true;
                                                        if (g->when < first_when) { first_when = g->when; first_st = g->status; n_at_first = 1; }
                                                        else if (g->when == first_when) n_at_first++;
                                                }
                                        }
                                        first_ok = s[j].err_before || n_at_first != 1 || st == first_st;
                                        if (has_err != (st < 0) || !in || !first_ok)
                                                fprintf(stderr, "seed %u step %d: sync %d (%s, made %u, err_before %d) status %d; has_err %d first %d@%u\n",
                                                        seed + round, step, j, s[j].is_read ? "R" : "W", s[j].made, s[j].err_before, st, has_err, first_st, first_when);
                                        assert_true(has_err == (st < 0));
                                        assert_true(in);
                                        assert_true(first_ok);
                                }
                        }
                        {
                                unsigned live = 0, imp = 0;
                                for (int i = 0; i < nf; i++) {
                                        live += f[i].live && !f[i].imported;
                                        imp += f[i].imported && !f[i].signalled;
                                }
                                assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_USER_FENCE), live);
                                assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_IMPORTED), imp);
                        }
                }
                for (int i = 0; i < nf; i++)
                        if (f[i].live && !f[i].imported)
                                assert_int_equal(registry_fence_destroy(&fx->reg, &fx->a, f[i].id), 0);
                for (int j = 0; j < ns; j++) {
                        assert_int_not_equal(sync_status(s[j].fd), PENDING);
                        close(s[j].fd);
                }
                registry_flush(&fx->reg);
                assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_IMPORTED), 0);
                assert_int_equal(charge_fds_of(&fx->reg.charge, 1000, CHARGE_FD_USER_FENCE), 0);
                assert_int_equal(fx->reg.n_nodes, 0);
        }
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(model_random_orders),
                T(no_fence_means_signalled_at_once),
                T(a_write_fence_holds_both_kinds_of_sync_file),
                T(a_read_fence_holds_writers_only),
                T(a_sync_file_waits_for_what_was_pending_then),
                T(an_error_reaches_every_waiter),
                T(an_error_reaches_later_batches_made_before_it),
                T(an_error_before_the_export_is_not_reported),
                T(only_the_creator_signals_once_with_an_errno),
                T(attach_needs_a_reference_and_a_usage),
                T(a_holder_that_goes_signals_its_fences_with_epipe),
                T(limits_refuse_with_their_errno),
                T(merge_takes_the_first_error_and_waits_for_both),
                T(what_is_not_our_sync_file_is_refused),
                T(an_imported_sync_file_is_a_fence_on_the_buffer),
                T(submit_gives_each_other_holder_a_read_fence),
                T(submit_needs_a_writable_reference),
                T(cpu_access_is_busy_only_on_a_conflict),
                T(a_released_buffer_still_signals_its_waiters),
                T(a_chain_of_batches_fires_at_once),
                T(a_pending_sync_file_closed_by_its_holder_is_gone),
                T(sync_files_are_charged_to_their_makers_uid),
                T(fences_are_charged_to_their_creators_uid),
                T(the_creator_signals_its_first_waiter_itself),
                T(a_ready_made_sync_file_still_hears_the_daemon),
                T(only_a_fence_alone_hands_out_its_sync_file),
                T(a_waiter_sends_nothing_to_the_creator),
                T(ready_made_sync_files_are_charged_to_their_uid),
                T(ready_made_and_pending_sync_files_share_the_uids_bound),
                T(a_ready_made_sync_file_written_first_is_not_handed_out),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
