/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the daemon's request handling in process (STYLE F5): a registry,
 * a struct dispatch and N_SESSIONS sessions of different uids, driven by
 * dispatch_request() with a sequence of requests decoded from the input.
 * Stateful: the fds of EXPORT replies go to a pool that later IMPORTs and
 * EXPORT_MEMFDs send back (as they are, reopened read-only, write-only
 * or O_PATH), beside fresh memfds of fuzz-chosen sizes, seals and modes,
 * and fds that are no memfd at all; ids and attachment ids the replies
 * name are what later requests most often name. A /dev/bufshare file
 * (device.c, of uid 1000) allocates buffers whose tokens REDEEM spends.
 * Fences the sessions create are attached, signalled and destroyed; the
 * sync files EXPORT_SYNC_FILE and SYNC_FILE_MERGE give join the pool of
 * fds that IMPORT_SYNC_FILE and SYNC_FILE_MERGE send back.
 * Image descriptions (EXPORT_DESCRIBED, SET_DESCRIPTION) are packed
 * layouts of known formats, moved to the buffer's end and a byte past it,
 * or hostile fields; every description the registry keeps must fit its
 * buffer. EXPORT_BATCH asks for 0 to 40 buffers: each of the reply's fds
 * joins the pool or is closed. A reserve of fresh memfds (reserve.h), made
 * at the idle turns the input asks for, serves exports as in the daemon.
 *
 * Each request goes through the codec first, as on the socket, and every
 * reply must be one a client accepts. After each step the registry's
 * books must agree with each other (invariants_check()); after each input
 * every session is dropped and the registry must be empty, every uid's
 * charge zero, and no fd left open.
 *
 * Input: one byte of limits, then steps of { session, op, details... };
 * a read past the end yields zeroes, so every input is a valid program.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bufshare/bufshare-ioctl.h"
#include "bufshare/bufshare.h" /* BS_FORMAT_* */
#include "device.h"
#include "dispatch.h"
#include "fence.h"
#include "image.h"
#include "log.h"
#include "message.h"
#include "registry.h"
#include "session.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_SESSIONS 4
#define POOL_MAX 16
#define IDS_MAX 16
#define MAX_STEPS 96
#define PAGE 4096u
#define RESERVE_TARGET 4

static const uid_t session_uids[N_SESSIONS] = { 0, 1000, 1000, 65534 };

/* The target's own plumbing is not what is fuzzed: reading the input,
 * sending a request through the codec, checking the books. Without
 * libFuzzer's instrumentation (a callback for each comparison of every
 * loop turn) it costs a fraction of the time; the daemon's code it calls
 * is instrumented and counted as ever. */
#if defined(__clang__)
#define NOT_FUZZED __attribute__((no_sanitize("coverage")))
#else
#define NOT_FUZZED
#endif

struct input {
        const uint8_t *p;
        size_t n;
};

NOT_FUZZED static uint64_t take(struct input *in, unsigned bytes)
{
        uint64_t v = 0;

        for (unsigned i = 0; i < bytes && in->n > 0; i++, in->p++, in->n--)
                v |= (uint64_t)*in->p << (8 * i);
        return v;
}

static uint8_t take8(struct input *in)
{
        return (uint8_t)take(in, 1);
}

struct fuzz {
        struct limits limits;
        struct registry registry;
        struct dispatch dispatch;
        struct session sessions[N_SESSIONS];
        int pool[POOL_MAX]; /* fds a client holds: from EXPORT replies, new memfds */
        unsigned n_pool;
        uint64_t ids[IDS_MAX], attachments[IDS_MAX], fences[IDS_MAX]; /* what replies named */
        unsigned n_ids, n_attachments, n_fences;
        struct token_table tokens;
        struct device device;
        struct dev_file *file; /* an open /dev/bufshare file, of uid 1000 */
        uint64_t token[IDS_MAX][2]; /* a ring of what ALLOC gave */
        unsigned n_tokens;
        uint32_t serial;
};

/* ---- the registry's books --------------------------------------------- */

NOT_FUZZED static void invariants_check(struct fuzz *f)
{
        struct registry *r = &f->registry;
        uint64_t bytes = 0, paid_bytes = 0, paid_buffers = 0;
        size_t refs = 0, attachments = 0, sync_files = 0, fence_fds = 0, fence_fds_charged = 0, fences = 0;

        assert(r->n_buffers == r->by_id.len);
        assert(r->by_inode.len == r->by_id.len);
        for (size_t i = 0; i < r->by_id.cap; i++) {
                const struct buffer *b = r->by_id.slots[i].value;

                if (!b)
                        continue;
                bytes += b->ident.size;
                assert(b->fd >= 0);
                assert(b->n_holders > 0 && b->n_refs >= b->n_holders);
                assert(b->n_readonly <= b->n_holders && b->n_cpu_access <= b->n_holders);
                /* who pays: a uid that holds it, the exporter's while it does */
                assert(charge_holders(&r->charge, b->ident.id, b->payer) > 0);
                if (charge_holders(&r->charge, b->ident.id, b->ident.exporter_uid) > 0)
                        assert(b->payer == b->ident.exporter_uid);
                /* every description the registry keeps fits its buffer */
                assert(bs_image_wire_check(&b->ident.desc, b->ident.size) == 0);
        }
        assert(bytes == r->n_bytes);
        /* the reserve's memfds are named for ids no buffer has, nor will */
        for (unsigned i = 0; i < r->reserve.n; i++) {
                const struct reserve_entry *e = &r->reserve.e[(r->reserve.head + i) % RESERVE_MAX];
                assert(e->fd >= 0 && e->id < r->next_id);
                assert(!hashmap_get(&r->by_id, (struct hm_key){ e->id, 0 }));
        }
        assert(r->reserve.n <= r->reserve.target);
        for (size_t i = 0; i < r->charge.usage.cap; i++) {
                const struct charge_usage *u = r->charge.usage.slots[i].value;

                if (!u)
                        continue;
                assert(u->buffers > 0);
                paid_bytes += u->bytes;
                paid_buffers += u->buffers;
        }
        assert(paid_bytes == r->n_bytes && paid_buffers == r->n_buffers);
        for (unsigned i = 0; i < N_SESSIONS; i++) {
                const struct holder *h = &f->sessions[i].holder;

                assert(h->n_buffers <= f->limits.max_buffers_per_client);
                assert(h->n_attachments <= f->limits.max_attachments_per_client);
                assert(h->n_fences <= f->limits.max_fences_per_client);
                assert(h->n_waiters <= f->limits.max_waiters_per_client);
                refs += h->n_buffers;
                attachments += h->n_attachments;
        }
        if (f->file) {
                refs += f->file->holder.n_buffers;
                attachments += f->file->holder.n_attachments;
        }
        assert(refs == r->refs.len);
        assert(attachments == r->attachments.len);
        /* every pending sync file is charged to its maker's uid, whether
         * its maker is still there or not, and only those are */
        for (size_t i = 0; i < r->waiters.cap; i++) {
                const struct waiter *w = r->waiters.slots[i].value;

                if (w)
                        assert(charge_fds_of(&r->charge, w->uid, CHARGE_FD_SYNC_FILE) > 0);
        }
        /* and every fence's ready-made sync file, two fds, to its creator's */
        for (size_t i = 0; i < r->fences.cap; i++) {
                const struct fence *fe = r->fences.slots[i].value;

                if (fe && fe->pair[0] >= 0) {
                        assert(charge_fds_of(&r->charge, fe->pair_uid, CHARGE_FD_FENCE) >= 2);
                        fence_fds += 2;
                }
        }
        for (size_t i = 0; i < r->charge.fds.cap; i++) {
                const struct hm_slot *slot = &r->charge.fds.slots[i];
                unsigned n;

                if (!slot->value)
                        continue;
                n = charge_fds_of(&r->charge, (uid_t)slot->key.a, (enum charge_fd)slot->key.b);
                assert(n > 0);
                switch ((enum charge_fd)slot->key.b) {
                case CHARGE_FD_SYNC_FILE:
                case CHARGE_FD_FENCE:
                        /* both kinds share the one bound */
                        assert(charge_fds_of(&r->charge, (uid_t)slot->key.a, CHARGE_FD_SYNC_FILE) +
                                       charge_fds_of(&r->charge, (uid_t)slot->key.a, CHARGE_FD_FENCE) <=
                               f->limits.max_sync_files_per_uid);
                        if (slot->key.b == CHARGE_FD_SYNC_FILE)
                                sync_files += n;
                        else
                                fence_fds_charged += n;
                        break;
                case CHARGE_FD_IMPORTED:
                        assert(n <= f->limits.max_sync_files_per_uid);
                        break;
                case CHARGE_FD_USER_FENCE:
                        /* the fences a uid's sessions made, gone ones' too, within its bound */
                        assert(n <= f->limits.max_fences_per_uid);
                        fences += n;
                        break;
                default:
                        assert(!"a kind of charge unknown here");
                }
        }
        assert(sync_files == r->waiters.len);
        assert(fence_fds == fence_fds_charged);
        /* every fence record the registry keeps is paid for by its creator's uid, and only those */
        assert(fences == r->fences.len);
}

/* FUZZ_DISPATCH_TRACE=1: one line per request, to read what an input does. */
static bool trace;

NOT_FUZZED static int count_open_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = 0;

        assert(d);
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1; /* the one opendir() holds */
}

/* ---- sessions ---------------------------------------------------------- */

static void session_start(struct fuzz *f, unsigned i)
{
        struct session *s = &f->sessions[i];

        memset(s, 0, sizeof(*s));
        registry_holder_init(&f->registry, &s->holder, 100 + (pid_t)i, session_uids[i],
                             session_uids[i], "fuzz");
}

/* The connection closed: what conn_free() does. */
static void session_drop(struct fuzz *f, unsigned i)
{
        registry_holder_drop(&f->registry, &f->sessions[i].holder);
        registry_flush(&f->registry);
        session_start(f, i);
}

/* ---- what replies named, and what requests name ------------------------ */

static void remember(uint64_t *ring, unsigned *n, uint64_t v)
{
        ring[*n % IDS_MAX] = v;
        (*n)++;
}

/* Mostly one a reply named, sometimes a small raw one (0 included). */
static uint64_t pick(struct input *in, const uint64_t *ring, unsigned n)
{
        uint8_t sel = take8(in);

        if (n > 0 && sel < 224)
                return ring[sel % (n < IDS_MAX ? n : IDS_MAX)];
        if (sel == 0xff)
                return take(in, 8);
        return sel & 15;
}

static void pool_add(struct fuzz *f, int fd)
{
        if (fd < 0)
                return;
        if (f->n_pool == POOL_MAX) {
                close(fd);
                return;
        }
        f->pool[f->n_pool++] = fd;
}

static void pool_close(struct fuzz *f, struct input *in)
{
        unsigned i;

        if (f->n_pool == 0)
                return;
        i = take8(in) % f->n_pool;
        close(f->pool[i]);
        f->pool[i] = f->pool[--f->n_pool];
}

/* A new fd on @fd's file: the same one, or reopened with another access. */
static int reopen(int fd, uint8_t how)
{
        static const int modes[] = { O_RDONLY, O_PATH, O_WRONLY, O_RDWR };
        char path[64];

        if (how % 5 == 0)
                return fcntl(fd, F_DUPFD_CLOEXEC, 3);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        return open(path, modes[how % 5 - 1] | O_CLOEXEC);
}

/* A memfd of the input's size, seals, mode and name. */
static int memfd_make(struct fuzz *f, struct input *in)
{
        static const mode_t mode_of[] = { 0644, 0444, 0600, 0666 };
        static const int seal_of[] = { F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE, F_SEAL_FUTURE_WRITE };
        uint8_t cfg = take8(in), sz = take8(in), seals = take8(in);
        char name[48] = "fuzz";
        uint64_t size;
        int fd;

        if (cfg & 0x10) /* a name that claims to be a buffer of ours */
                snprintf(name, sizeof(name), "bufshare:%llu",
                         (unsigned long long)pick(in, f->ids, f->n_ids));
        fd = memfd_create(name, MFD_CLOEXEC | ((cfg & 1) ? 0 : MFD_ALLOW_SEALING));
        if (fd < 0)
                return -errno;
        size = sz < 200 ? (uint64_t)(sz % 9) * PAGE : take(in, 2);
        if (ftruncate(fd, (off_t)size) < 0 || fchmod(fd, mode_of[(cfg >> 1) & 3]) < 0) {
                close(fd);
                return -EIO;
        }
        for (unsigned i = 0; i < ELEMENTSOF(seal_of); i++)
                if (seals & (1u << i))
                        (void)fcntl(fd, F_ADD_SEALS, seal_of[i]);
        if (seals & 0x10) /* last: it forbids every seal after it */
                (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL);
        return fd;
}

/* The fd a request carries: one the client holds, a new memfd, or no
 * memfd at all; the client keeps a copy of what it made. */
static int fd_source(struct fuzz *f, struct input *in)
{
        uint8_t sel = take8(in), how = take8(in);
        int fd, fds[2];

        switch (sel % 4) {
        case 0:
        case 1:
                if (f->n_pool > 0)
                        return reopen(f->pool[take8(in) % f->n_pool], how);
                __attribute__((fallthrough)); /* nothing held yet: make one */
        case 2:
                fd = memfd_make(f, in);
                if (fd < 0)
                        return fd;
                pool_add(f, fcntl(fd, F_DUPFD_CLOEXEC, 3));
                if (how % 5 != 0) {
                        int other = reopen(fd, how);
                        close(fd);
                        fd = other;
                }
                return fd;
        default:
                if (how & 1)
                        return open("/dev/null", O_RDWR | O_CLOEXEC);
                if (pipe2(fds, O_CLOEXEC) < 0)
                        return -errno;
                close(fds[1]);
                return fds[0];
        }
}

static void name_fill(struct input *in, char *dst, size_t len)
{
        static const char *const names[] = { "", "frame", "camera-0", "gpu", "x" };
        uint8_t sel = take8(in);

        memset(dst, 0, len);
        if (sel < 250)
                snprintf(dst, len, "%s", names[sel % ELEMENTSOF(names)]);
        else /* a full-length one: BS_NAME_LEN - 1 bytes */
                memset(dst, 'a' + (sel & 7), len - 1);
}

/* ---- image descriptions ------------------------------------------------ */

/* The size of buffer @id, or one page if the registry has no such buffer. */
static uint64_t buffer_size(struct fuzz *f, uint64_t id)
{
        const struct buffer *b = hashmap_get(&f->registry.by_id, (struct hm_key){ id, 0 });
        return b ? b->ident.size : PAGE;
}

/* Where plane @i of a @fourcc image of @width x @height ends at the
 * least (DRM's bound, image.h): (rows - 1) * stride + row bytes from its
 * offset. 0 if the format is unknown or the sum overflows. */
static uint64_t plane_span(uint32_t fourcc, unsigned i, uint32_t width, uint32_t height, uint32_t stride)
{
        const struct bs_image_format *fmt = bs_image_format_lookup(fourcc);
        uint64_t w = width, h = height;

        if (!fmt || i >= fmt->n_planes || h == 0)
                return 0;
        if (i > 0) {
                w = (w + fmt->hsub - 1) / fmt->hsub;
                h = (h + fmt->vsub - 1) / fmt->vsub;
        }
        return (h - 1) * stride + w * fmt->cpp[i]; /* < 2^33 * 2^32: no overflow */
}

/*
 * A description for a buffer of @size bytes: none; a packed one of a
 * format the daemon knows (bs_image_wire_layout), as it is, with its last
 * plane moved to end exactly at the buffer's end or a byte past it, or
 * with a stride a byte short of a row; or fields of plausible and hostile
 * values (unknown fourccs, plane counts past 4, offsets and strides near
 * the end and at the limits of their types, for the overflow checks).
 * Rarely a reserved field set: the decoder refuses it.
 */
static void desc_fill(struct input *in, struct bs_wire_description *d, uint64_t size)
{
        static const uint32_t fourccs[] = {
                BS_FORMAT_NV12, BS_FORMAT_XRGB8888, BS_FORMAT_YUV420, BS_FORMAT_P010, BS_FORMAT_YUYV,
                BS_FORMAT_RGB565, BS_FORMAT_R8, BS_FORMAT_ARGB8888, BS_FORMAT_NV21, BS_FORMAT_YVU420,
                BS_FORMAT_XBGR8888, BS_FORMAT_ABGR8888,
                BS_FOURCC('A', 'B', '3', '0'), /* a DRM format the table doesn't know */
                0,
        };
        static const uint32_t dims[] = { 0, 1, 2, 3, 7, 16, 64, 65, 1920, 1080, 0x8000, 0x7fffffff,
                                         0x80000000, UINT32_MAX };
        static const uint64_t mods[] = { BS_FORMAT_MOD_LINEAR, BS_FORMAT_MOD_INVALID,
                                         0x0100000000000001ull /* I915_FORMAT_MOD_X_TILED */, UINT64_MAX };
        static const uint32_t aligns[] = { 0, 1, 64, 256, 4096 };
        uint8_t sel = take8(in);

        memset(d, 0, sizeof(*d));
        if (sel % 4 == 0)
                return; /* none */
        if (sel % 4 != 3) { /* packed, of a known format */
                uint32_t fourcc = fourccs[take8(in) % 12];
                uint32_t w = 1 + take8(in), h = 1 + take8(in) % 64, last;
                uint8_t tweak = take8(in);
                uint64_t end, span;

                if (bs_image_wire_layout(fourcc, w, h, aligns[tweak % ELEMENTSOF(aligns)], d, &end) < 0) {
                        d->fourcc = fourcc; /* no planes: refused */
                        return;
                }
                last = d->n_planes - 1;
                switch ((tweak >> 4) % 4) {
                case 1: /* the last plane ends at the buffer's end, or a byte past it */
                        span = plane_span(fourcc, last, w, h, d->planes[last].stride);
                        if (span <= size)
                                d->planes[last].offset = size - span + ((tweak >> 6) & 1);
                        break;
                case 2: { /* a stride a byte short of the row */
                        unsigned i = take8(in) % d->n_planes;
                        d->planes[i].stride = (uint32_t)plane_span(fourcc, i, w, 1, 0) - 1;
                        break;
                }
                case 3: /* the width or height one more than the planes hold */
                        if (tweak & 0x40)
                                d->width += 1;
                        else
                                d->height += 1;
                        break;
                default:
                        break;
                }
        } else { /* raw */
                static const uint64_t offsets[] = { 0, 1, PAGE, 0, 0, 0, UINT64_MAX, UINT64_MAX - PAGE + 1 };
                static const uint32_t strides[] = { 0, 1, 64, 256, PAGE, 7680, 0x80000000u, UINT32_MAX };
                uint8_t np = take8(in);
                unsigned filled;

                d->fourcc = fourccs[take8(in) % ELEMENTSOF(fourccs)];
                d->n_planes = (np & 7) % 6; /* 6 and 7: 0 and 1 */
                filled = d->n_planes < BS_WIRE_MAX_PLANES ? d->n_planes : BS_WIRE_MAX_PLANES;
                if ((np & 0x80) && filled < BS_WIRE_MAX_PLANES)
                        filled++; /* a plane past n_planes */
                d->modifier = mods[(np >> 3) % ELEMENTSOF(mods)];
                d->width = dims[take8(in) % ELEMENTSOF(dims)];
                d->height = dims[take8(in) % ELEMENTSOF(dims)];
                for (unsigned i = 0; i < filled; i++) {
                        uint8_t o = take8(in), st = take8(in);
                        struct bs_wire_plane *p = &d->planes[i];

                        switch (o % 8) {
                        case 3: p->offset = size / 2; break;
                        case 4: p->offset = size - (o >> 3); break; /* near the end, maybe past it */
                        case 5: p->offset = size; break;
                        default: p->offset = offsets[o % 8]; break;
                        }
                        p->stride = (st & 0xf8) == 0xf8 ? (uint32_t)take(in, 4) : strides[st % 8];
                }
                if (sel == 0xff) /* the message's shape: -EPROTO from the decoder */
                        d->planes[take8(in) % BS_WIRE_MAX_PLANES].reserved = 1;
        }
}

/* ---- the device file: ALLOC gives tokens, RELEASE drops them ---------- */

static void device_reopen(struct fuzz *f)
{
        if (f->file)
                device_close(&f->device, f->file);
        f->file = NULL;
        assert(device_open(&f->device, 200, 1000, 1000, &f->file) == 0);
}

static void device_step(struct fuzz *f, struct input *in, uint8_t op)
{
        static uint8_t out[DEVICE_IOCTL_OUT_MAX];
        size_t out_len = 0;
        int r;

        if (op == 0) {
                struct bufshare_alloc a = { .size = (uint64_t)(take8(in) % 5) * PAGE };
                r = device_ioctl(&f->device, f->file, BUFSHARE_IOCTL_ALLOC, &a, sizeof(a), out, &out_len, NULL,
                                 NULL);
                if (r == 0) {
                        assert(out_len == sizeof(a));
                        memcpy(&a, out, sizeof(a));
                        remember(f->ids, &f->n_ids, a.id);
                        memcpy(f->token[f->n_tokens++ % IDS_MAX], a.token, sizeof(a.token));
                }
        } else if (op == 1) {
                struct bufshare_release rel = { .id = pick(in, f->ids, f->n_ids) };
                r = device_ioctl(&f->device, f->file, BUFSHARE_IOCTL_RELEASE, &rel, sizeof(rel), out,
                                 &out_len, NULL, NULL);
        } else {
                device_reopen(f); /* the file closed: its buffers and tokens go */
                r = 0;
        }
        registry_flush(&f->registry);
        if (trace)
                fprintf(stderr, "device file: %s -> %s\n", op == 0 ? "alloc" : op == 1 ? "release" : "reopen",
                        strerror(-r));
        invariants_check(f);
}

/* The loop was idle: idle.c's work, refilling the reserve (a few memfds
 * per turn, as IDLE_STEP). */
static void idle_turn(struct fuzz *f, struct input *in)
{
        unsigned n = 1 + take8(in) % RESERVE_TARGET;

        registry_refill(&f->registry, n);
        if (trace)
                fprintf(stderr, "idle: reserve refilled by up to %u, %u memfds\n", n, f->registry.reserve.n);
        invariants_check(f);
}

/* ---- one request, from the codec to the reply -------------------------- */

static bool errno_expected(int status)
{
        switch (-status) {
        case 0:
        case EINVAL: case ENOENT: case EFBIG: case EMFILE: case EDQUOT: case EBADF:
        case EBADFD: case EACCES: case EPERM: case EEXIST: case ESTALE: case EBUSY:
        case EOVERFLOW: case EPROTO: case EOPNOTSUPP: case EPROTONOSUPPORT: case ENOMEM:
        case EALREADY: case ENOSPC: /* a fence signalled already; its waiters full */
                return true;
        default:
                return false;
        }
}

/* What a client learns from a reply: ids and fds to use later. */
static void reply_harvest(struct fuzz *f, const struct bs_msg *rep)
{
        if (rep->body.status.status < 0)
                return;
        switch (rep->hdr.opcode) {
        case BS_OP_EXPORT_SYNC_FILE:
        case BS_OP_SYNC_FILE_MERGE:
                assert(rep->n_fds == 1 && rep->fds[0] >= 0);
                pool_add(f, fcntl(rep->fds[0], F_DUPFD_CLOEXEC, 3));
                break;
        case BS_OP_SUBMIT_SYNC_FILE: /* the sync file, unless the uid had none left */
                assert(rep->n_fds == ((rep->body.submit_sync_file_rep.flags & BS_WIRE_SUBMIT_SYNC_FILE) ? 1u : 0u));
                if (rep->n_fds == 1)
                        pool_add(f, fcntl(rep->fds[0], F_DUPFD_CLOEXEC, 3));
                break;
        case BS_OP_FENCE_CREATE:
                remember(f->fences, &f->n_fences, rep->body.fence_create_rep.fence_id);
                /* the sending end of its ready-made sync file: an fd to
                 * hand back where sync files go */
                assert(rep->n_fds == ((rep->body.fence_create_rep.flags & BS_WIRE_FENCE_PAIR) ? 1u : 0u));
                if (rep->n_fds == 1)
                        pool_add(f, fcntl(rep->fds[0], F_DUPFD_CLOEXEC, 3));
                break;
        case BS_OP_EXPORT_BATCH: {
                const struct bs_export_batch_rep *w = &rep->body.export_batch_rep;

                /* every fd taken, in the order of the ids, which grow */
                assert(w->count >= 1 && w->count <= BS_WIRE_BATCH_MAX && rep->n_fds == w->count);
                for (unsigned i = 0; i < w->count; i++) {
                        assert(rep->fds[i] >= 0);
                        assert(i == 0 || w->ids[i] > w->ids[i - 1]);
                        pool_add(f, fcntl(rep->fds[i], F_DUPFD_CLOEXEC, 3));
                        remember(f->ids, &f->n_ids, w->ids[i]);
                }
                break;
        }
        case BS_OP_EXPORT:
        case BS_OP_EXPORT_DESCRIBED:
        case BS_OP_REDEEM:
                assert(rep->n_fds == 1 && rep->fds[0] >= 0);
                pool_add(f, fcntl(rep->fds[0], F_DUPFD_CLOEXEC, 3));
                __attribute__((fallthrough));
        case BS_OP_EXPORT_MEMFD:
                remember(f->ids, &f->n_ids, rep->body.export_rep.id);
                break;
        case BS_OP_IMPORT_DESCRIBED:
                assert(bs_image_wire_check(&rep->body.import_described_rep.desc,
                                           rep->body.import_rep.size) == 0);
                __attribute__((fallthrough));
        case BS_OP_IMPORT:
                remember(f->ids, &f->n_ids, rep->body.import_rep.id);
                break;
        case BS_OP_INFO_DESCRIBED:
                assert(bs_image_wire_check(&rep->body.info_described_rep.desc,
                                           rep->body.info_rep.size) == 0);
                break;
        case BS_OP_ATTACH:
                remember(f->attachments, &f->n_attachments, rep->body.attach_rep.attachment_id);
                break;
        default:
                break;
        }
}

/* The reply must be one a client's decoder accepts, to that request. */
NOT_FUZZED static void reply_check(const struct bs_msg *req, const struct bs_msg *rep)
{
        uint8_t wire[BS_MSG_MAX_SIZE];
        struct bs_msg back;
        int len;

        len = bs_msg_encode(rep, wire, sizeof(wire));
        assert(len > 0);
        bs_msg_init(&back);
        assert(bs_msg_decode(&back, wire, (size_t)len, rep->n_fds) == 0);
        assert(back.hdr.flags & BS_MSG_REPLY);
        assert(back.hdr.serial == req->hdr.serial && back.hdr.opcode == req->hdr.opcode);
        assert(errno_expected(back.body.status.status));
}

/* Send @m (its fds are consumed) from session @si, as the socket would:
 * through the decoder, then dispatch, then flush. */
NOT_FUZZED static void request(struct fuzz *f, unsigned si, struct bs_msg *m)
{
        struct session *s = &f->sessions[si];
        uint8_t wire[BS_MSG_MAX_SIZE];
        struct bs_msg req, rep;
        int len, r;

        len = bs_msg_encode(m, wire, sizeof(wire));
        assert(len > 0);
        bs_msg_init(&req);
        if (bs_msg_decode(&req, wire, (size_t)len, m->n_fds) < 0) {
                bs_msg_clear(m); /* a protocol error: the connection closes */
                session_drop(f, si);
                return;
        }
        for (unsigned i = 0; i < m->n_fds; i++)
                req.fds[i] = TAKE_FD(m->fds[i]);
        req.n_fds = m->n_fds;
        bs_msg_clear(m);

        r = dispatch_request(&f->dispatch, s, &req, &rep);
        bs_msg_clear(&req);
        assert(r == DISPATCH_REPLY || r == DISPATCH_SILENT || (r < 0 && rep.body.status.status == r));
        if (trace)
                fprintf(stderr, "session %u (uid %u): %s%s -> %s\n", si, (unsigned)s->holder.uid,
                        bs_op_name(req.hdr.opcode), req.n_fds ? " with an fd" : "",
                        r == DISPATCH_SILENT ? "(no reply)" : strerror(-rep.body.status.status));
        if (r == DISPATCH_SILENT) {
                assert(req.hdr.flags & BS_MSG_NO_REPLY);
                assert(rep.n_fds == 0);
        } else {
                reply_check(&req, &rep);
                reply_harvest(f, &rep);
        }
        bs_msg_clear(&rep);
        registry_flush(&f->registry);
        if (r < 0)
                session_drop(f, si);
        invariants_check(f);
}

/* The size an export asks for: mostly multiples of 1000 up to 16,000,
 * around the limit of 16 pages; sometimes any. */
static uint64_t export_size(struct input *in)
{
        uint8_t sz = take8(in);
        return sz < 240 ? (uint64_t)(sz % 17) * 1000 : take(in, 8);
}

/* A request of opcode @op with its fields from the input. */
static void request_build(struct fuzz *f, struct input *in, unsigned si, uint16_t op)
{
        static const char *const heaps[] = { "system", "system", "system-huge", "", "nope" };
        static const int32_t statuses[] = { 0, 0, -EIO, -ECANCELED, -4095, -4096, 1 };
        uint8_t flags = take8(in);
        union bs_msg_body *b;
        struct bs_msg m;

        if (op == BS_OP_SUBMIT && flags < 0xc0 && (flags & 0x20))
                op = BS_OP_SUBMIT_SYNC_FILE; /* SUBMIT's request, with the sync file */
        bs_msg_request(&m, (enum bs_opcode)op, ++f->serial);
        b = &m.body;
        /* rarely, flags a request must not carry (a protocol error) */
        if (flags >= 0xf0)
                m.hdr.flags = flags & 0x0f;
        else if (flags >= 0xc0)
                m.hdr.flags = BS_MSG_NO_REPLY;
        /* first the fds the opcode carries: memfds, sync files, anything */
        for (unsigned i = 0; i < bs_op_lookup(op)->req_fds; i++) {
                int fd = fd_source(f, in);
                if (fd < 0) {
                        bs_msg_clear(&m);
                        return;
                }
                bs_msg_add_fd(&m, fd);
        }
        /* these bodies start with the u64 id of a buffer */
        switch (op) {
        case BS_OP_RELEASE: case BS_OP_INFO: case BS_OP_SET_NAME: case BS_OP_BEGIN_CPU_ACCESS:
        case BS_OP_END_CPU_ACCESS: case BS_OP_ATTACH: case BS_OP_FENCE_ATTACH: case BS_OP_SUBMIT:
        case BS_OP_SUBMIT_SYNC_FILE:
        case BS_OP_EXPORT_SYNC_FILE: case BS_OP_IMPORT_SYNC_FILE: case BS_OP_RELEASE_READ:
        case BS_OP_SET_DESCRIPTION: case BS_OP_INFO_DESCRIBED: case BS_OP_GET_DESCRIPTION:
                b->id_req.id = pick(in, f->ids, f->n_ids);
                break;
        default:
                break;
        }
        switch (op) {
        case BS_OP_HELLO:
                b->hello_req.version_min = 1 + take8(in) % 3;
                b->hello_req.version_max = b->hello_req.version_min + take8(in) % 2;
                name_fill(in, b->hello_req.client_name, sizeof(b->hello_req.client_name));
                break;
        case BS_OP_EXPORT:
        case BS_OP_EXPORT_DESCRIBED: /* its body starts with EXPORT's */
                b->export_req.size = export_size(in);
                snprintf(b->export_req.heap, sizeof(b->export_req.heap), "%s",
                         heaps[take8(in) % ELEMENTSOF(heaps)]);
                name_fill(in, b->export_req.name, sizeof(b->export_req.name));
                if (op == BS_OP_EXPORT_DESCRIBED)
                        desc_fill(in, &b->export_described_req.desc, b->export_req.size);
                break;
        case BS_OP_SET_DESCRIPTION:
                desc_fill(in, &b->set_description_req.desc, buffer_size(f, b->set_description_req.id));
                break;
        case BS_OP_EXPORT_BATCH: {
                uint8_t count = take8(in);
                b->export_batch_req.size = export_size(in);
                b->export_batch_req.count = count % 41; /* 0 and past BS_WIRE_BATCH_MAX too */
                b->export_batch_req.flags = count == 0xff; /* -EPROTO from the decoder */
                snprintf(b->export_batch_req.heap, sizeof(b->export_batch_req.heap), "%s",
                         heaps[take8(in) % ELEMENTSOF(heaps)]);
                name_fill(in, b->export_batch_req.name, sizeof(b->export_batch_req.name));
                break;
        }
        case BS_OP_EXPORT_MEMFD:
                name_fill(in, b->export_memfd_req.name, sizeof(b->export_memfd_req.name));
                break;
        case BS_OP_RELEASE:
                b->release_req.flags = take8(in) & BS_WIRE_REF_READONLY;
                break;
        case BS_OP_SET_NAME:
                name_fill(in, b->set_name_req.name, sizeof(b->set_name_req.name));
                break;
        case BS_OP_BEGIN_CPU_ACCESS:
        case BS_OP_END_CPU_ACCESS:
                b->cpu_access_req.flags = take8(in) % 5; /* 4: an unknown flag */
                break;
        case BS_OP_ATTACH: {
                static const uint64_t segs[] = { 0, PAGE, 2 * PAGE, 1, PAGE + 1, UINT64_MAX };
                b->attach_req.max_segment = segs[take8(in) % ELEMENTSOF(segs)];
                name_fill(in, b->attach_req.device, sizeof(b->attach_req.device));
                break;
        }
        case BS_OP_DETACH:
        case BS_OP_UNMAP_ATTACHMENT:
                b->id_req.id = pick(in, f->attachments, f->n_attachments);
                break;
        case BS_OP_MAP_ATTACHMENT:
                b->map_attachment_req.attachment_id = pick(in, f->attachments, f->n_attachments);
                b->map_attachment_req.direction = take8(in) % 4; /* 3: unknown */
                break;
        case BS_OP_FENCE_ATTACH:
                b->fence_attach_req.fence_id = pick(in, f->fences, f->n_fences);
                b->fence_attach_req.usage = take8(in) % 5;
                break;
        case BS_OP_FENCE_SIGNAL:
                b->fence_signal_req.fence_id = pick(in, f->fences, f->n_fences);
                b->fence_signal_req.status = statuses[take8(in) % ELEMENTSOF(statuses)];
                break;
        case BS_OP_FENCE_DESTROY:
                b->id_req.id = pick(in, f->fences, f->n_fences);
                break;
        case BS_OP_FENCE_CREATE:
                b->fence_create_req.flags = take8(in) & BS_WIRE_FENCE_PAIR;
                break;
        case BS_OP_EXPORT_SYNC_FILE:
        case BS_OP_IMPORT_SYNC_FILE:
                b->sync_file_req.flags = take8(in) % 8; /* 4: DAEMON alone, -EINVAL */
                break;
        case BS_OP_RELEASE_READ:
                b->release_read_req.status = statuses[take8(in) % ELEMENTSOF(statuses)];
                break;
        case BS_OP_REDEEM: {
                uint8_t sel = take8(in);
                unsigned n = f->n_tokens < IDS_MAX ? f->n_tokens : IDS_MAX;
                if (n > 0 && sel < 224) {
                        memcpy(b->redeem_req.token, f->token[sel % n], sizeof(b->redeem_req.token));
                } else {
                        b->redeem_req.token[0] = take(in, 8);
                        b->redeem_req.token[1] = take(in, 8);
                }
                break;
        }
        default: /* the id, the fds or flags 0 only */
                break;
        }
        request(f, si, &m);
}

/* Raw bytes as a message, with fds: mostly refused by the decoder, and
 * then the session is dropped as its connection would be. */
static void request_raw(struct fuzz *f, struct input *in, unsigned si)
{
        uint8_t wire[BS_MSG_MAX_SIZE];
        size_t len = take8(in) % (sizeof(wire) + 1);
        unsigned n_fds = take8(in) % (BS_MAX_FDS + 1);
        struct bs_msg m;

        bs_msg_init(&m);
        for (size_t i = 0; i < len; i++)
                wire[i] = take8(in);
        bs_msg_peek(&m, wire, len);
        m.hdr.size = (uint32_t)len;
        if (len < sizeof(m.hdr) || m.hdr.size > BS_MSG_MAX_SIZE) {
                session_drop(f, si);
                return;
        }
        for (unsigned i = 0; i < n_fds; i++) {
                int fd = fd_source(f, in);
                if (fd >= 0)
                        bs_msg_add_fd(&m, fd);
        }
        m.hdr.n_fds = (uint8_t)m.n_fds;
        m.hdr.serial = ++f->serial;
        request(f, si, &m);
}

/* ---- one input --------------------------------------------------------- */

static void fuzz_init(struct fuzz *f, struct input *in)
{
        uint8_t l = take8(in);

        memset(f, 0, sizeof(*f));
        limits_init_default(&f->limits, 1024);
        /* small limits, so that inputs reach them; or room for a full
         * EXPORT_BATCH (32 buffers, their fds in one reply) */
        f->limits.max_buffers_per_client = (l & 7) == 7 ? 40 : 1 + (l & 7);
        f->limits.max_attachments_per_client = 1 + ((l >> 3) & 3);
        f->limits.max_buffers_per_uid = ((l >> 5) & 3) == 3 ? 64 : 2 + ((l >> 5) & 3) * 2;
        f->limits.max_buffer_size = 16 * PAGE;
        f->limits.max_bytes_per_uid = (l & 0x80) ? 24 * PAGE : 256 * PAGE;
        if (l & 0x40) {
                f->limits.max_sync_files_per_uid = 3; /* across sessions, gone ones too */
                f->limits.max_fences_per_uid = 3;
        }
        assert(registry_init(&f->registry, &f->limits) == 0);
        fence_setup(&f->registry); /* as main.c does: fences on the registry's hooks */
        /* a reserve of fresh memfds for exports, as main.c keeps, but of
         * RESERVE_TARGET, not 16, and made only by SYNC and by the idle
         * turns the input asks for (0xef): a refill costs a memfd_create()
         * per memfd, and most inputs then pay nothing */
        registry_reserve(&f->registry, RESERVE_TARGET);
        f->dispatch.registry = &f->registry;
        f->dispatch.limits = &f->limits;
        token_table_init(&f->tokens, TOKEN_DEFAULT_LIFETIME_MS);
        f->dispatch.tokens = &f->tokens;
        device_init(&f->device, &f->registry, &f->tokens, &f->limits);
        for (unsigned i = 0; i < N_SESSIONS; i++)
                session_start(f, i);
        device_reopen(f);
}

static void fuzz_done(struct fuzz *f)
{
        struct registry *r = &f->registry;

        for (unsigned i = 0; i < N_SESSIONS; i++)
                session_drop(f, i);
        device_close(&f->device, f->file);
        f->file = NULL;
        registry_flush(r);
        invariants_check(f);
        assert(f->tokens.n_tokens == 0 && f->tokens.by_value.len == 0);
        assert(r->n_buffers == 0 && r->n_bytes == 0);
        assert(r->by_id.len == 0 && r->by_inode.len == 0);
        assert(r->refs.len == 0 && r->attachments.len == 0);
        assert(r->fences.len == 0 && r->waiters.len == 0 && r->links.len == 0 && r->n_nodes == 0);
        assert(r->charge.usage.len == 0 && r->charge.holds.len == 0);
        assert(r->n_closing == 0);
        while (f->n_pool > 0)
                close(f->pool[--f->n_pool]);
        device_done(&f->device);
        token_table_done(&f->tokens);
        registry_done(r);
}

/* Every opcode a client may send (REDEEM, then the fences' in wire.h's
 * order, then the descriptions' and EXPORT_BATCH; SUBMIT_SYNC_FILE is
 * SUBMIT's with 0x20 in its flags byte). */
static const uint16_t opcodes[] = {
        BS_OP_HELLO, BS_OP_EXPORT, BS_OP_IMPORT, BS_OP_RELEASE, BS_OP_INFO, BS_OP_SET_NAME,
        BS_OP_EXPORT_MEMFD, BS_OP_BEGIN_CPU_ACCESS, BS_OP_END_CPU_ACCESS, BS_OP_ATTACH, BS_OP_DETACH,
        BS_OP_MAP_ATTACHMENT, BS_OP_UNMAP_ATTACHMENT, BS_OP_LIST_HEAPS, BS_OP_SYNC, BS_OP_LIMITS,
        BS_OP_REDEEM, BS_OP_FENCE_CREATE, BS_OP_FENCE_ATTACH, BS_OP_FENCE_SIGNAL, BS_OP_FENCE_DESTROY,
        BS_OP_EXPORT_SYNC_FILE, BS_OP_IMPORT_SYNC_FILE, BS_OP_SYNC_FILE_MERGE, BS_OP_SUBMIT,
        BS_OP_RELEASE_READ, BS_OP_EXPORT_DESCRIBED, BS_OP_IMPORT_DESCRIBED, BS_OP_SET_DESCRIPTION,
        BS_OP_INFO_DESCRIBED, BS_OP_GET_DESCRIPTION, BS_OP_EXPORT_BATCH,
};
/* 32 of them: an op byte is its index, and 0x80 + index the same one. */
_Static_assert(ELEMENTSOF(opcodes) == 32, "the seeds' op bytes (gen-corpus-dispatch.py)");

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static bool quiet;
        struct input in = { data, size };
        struct fuzz f;
        int fds_before = count_open_fds();

        if (!quiet) {
                log_set_level(LOG_LVL_ERROR); /* client bugs are the point here */
                trace = getenv("FUZZ_DISPATCH_TRACE") != NULL;
                quiet = true;
        }
        fuzz_init(&f, &in);
        for (unsigned step = 0; step < MAX_STEPS && in.n > 0; step++) {
                unsigned si = take8(&in) % N_SESSIONS;
                uint8_t op = take8(&in);

                /* a session says HELLO first unless the input insists */
                if (f.sessions[si].version == 0 && op < 0xe0) {
                        struct bs_msg m;
                        bs_msg_request(&m, BS_OP_HELLO, ++f.serial);
                        m.body.hello_req.version_min = 1;
                        m.body.hello_req.version_max = op & 0x80 ? 1 : 2; /* 1: no version 2 opcodes */
                        request(&f, si, &m);
                }
                if (op >= 0xfc)
                        session_drop(&f, si); /* the connection closed */
                else if (op >= 0xf8)
                        pool_close(&f, &in); /* the client closed an fd */
                else if (op >= 0xf0)
                        request_raw(&f, &in, si);
                else if (op == 0xef)
                        idle_turn(&f, &in);
                else if (op >= 0xe8)
                        device_step(&f, &in, (uint8_t)((op - 0xe8) % 3));
                else
                        request_build(&f, &in, si, opcodes[op % ELEMENTSOF(opcodes)]);
        }
        fuzz_done(&f);
        assert(count_open_fds() == fds_before);
        return 0;
}
