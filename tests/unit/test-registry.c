/* SPDX-License-Identifier: MIT */
/* The registry (daemon/registry.c, attachment.c, released.c, charge.c,
 * admission.c): reference counting, release, holders going away,
 * importing back an fd whose buffer was released, admitting foreign
 * memfds, who pays, and every per-client bound. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "admission.h"
#include "heap.h"
#include "memfd.h"
#include "registry-internal.h"
#include "registry.h"
#include "util.h"

struct fx {
        int fds_before;
        struct limits limits;
        struct registry reg;
        struct holder a, b;
};

static int setup(void **state)
{
        struct fx *fx = calloc(1, sizeof(*fx));

        alarm(TEST_TIMEOUT_S);
        fx->fds_before = test_count_open_fds();
        limits_init_default(&fx->limits, 20000);
        fx->limits.max_buffer_size = 1 << 20;
        if (registry_init(&fx->reg, &fx->limits) < 0)
                return -1;
        registry_holder_init(&fx->reg, &fx->a, 100, 1000, 1000, "alice");
        registry_holder_init(&fx->reg, &fx->b, 200, 2000, 2000, "bob");
        *state = fx;
        return 0;
}

static int teardown(void **state)
{
        struct fx *fx = *state;
        int leaked;

        registry_holder_drop(&fx->reg, &fx->a);
        registry_holder_drop(&fx->reg, &fx->b);
        registry_done(&fx->reg);
        leaked = test_count_open_fds() != fx->fds_before;
        free(fx);
        alarm(0);
        return leaked ? -1 : 0;
}

static bool ro;

static bool kernel_has_noexec_seal(void)
{
        int fd = memfd_create("probe", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);

        if (fd < 0)
                return false;
        close(fd);
        return true;
}

static void export_creates_one_reference_on_a_sealed_memfd(void **state)
{
        struct fx *fx = *state;
        struct buffer *b;
        struct stat st;
        uint64_t id;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 100, "system", "cam0", &b), 0);
        assert_int_equal(b->ident.size, 4096); /* rounded up to the page */
        assert_int_equal(b->n_refs, 1);
        assert_string_equal(b->ident.name, "cam0");
        assert_string_equal(b->ident.exporter_comm, "alice");
        assert_int_equal(fcntl(b->fd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL | F_SEAL_WRITE),
                         F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
        /* and F_SEAL_EXEC wherever the kernel has MFD_NOEXEC_SEAL (6.3) */
        assert_int_equal(!!(fcntl(b->fd, F_GET_SEALS) & F_SEAL_EXEC), kernel_has_noexec_seal());
        assert_int_equal(fstat(b->fd, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0444);
        assert_int_equal(memfd_bufshare_id(b->fd, &id), 0);
        assert_int_equal(id, b->ident.id);
        assert_int_equal(fx->reg.n_buffers, 1);
        assert_int_equal(fx->a.n_buffers, 1);
}

static void import_adds_and_release_drops_references(void **state)
{
        struct fx *fx = *state;
        struct buffer *b, *b2;
        uint64_t id;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
        id = b->ident.id;
        assert_int_equal(registry_import(&fx->reg, &fx->b, fcntl(b->fd, F_DUPFD_CLOEXEC, 3), &b2, &ro), 0);
        assert_ptr_equal(b, b2);
        assert_int_equal(b->n_refs, 2);
        assert_int_equal(registry_import(&fx->reg, &fx->b, fcntl(b->fd, F_DUPFD_CLOEXEC, 3), &b2, &ro), 0);
        assert_int_equal(b->n_refs, 3);
        assert_int_equal(fx->b.n_buffers, 1); /* one buffer, counted once */

        assert_int_equal(registry_release(&fx->reg, &fx->a, id, false), 0);
        assert_int_equal(registry_release(&fx->reg, &fx->a, id, false), -ENOENT);
        assert_int_equal(registry_release(&fx->reg, &fx->b, id, false), 0);
        assert_int_equal(fx->reg.n_buffers, 1); /* b still holds one */
        assert_int_equal(registry_release(&fx->reg, &fx->b, id, false), 0);
        assert_int_equal(fx->reg.n_buffers, 0);
        assert_int_equal(registry_release(&fx->reg, &fx->b, id, false), -ENOENT);
}

static void holder_drop_releases_everything_it_held(void **state)
{
        struct fx *fx = *state;
        struct buffer *b1, *b2, *tmp;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b1), 0);
        assert_int_equal(registry_export(&fx->reg, &fx->a, 8192, "system", "", &b2), 0);
        assert_int_equal(registry_import(&fx->reg, &fx->a, fcntl(b1->fd, F_DUPFD_CLOEXEC, 3), &tmp, &ro), 0);
        assert_int_equal(registry_import(&fx->reg, &fx->b, fcntl(b2->fd, F_DUPFD_CLOEXEC, 3), &tmp, &ro), 0);
        assert_int_equal(fx->reg.n_bytes, 4096 + 8192);

        registry_holder_drop(&fx->reg, &fx->a);
        assert_int_equal(fx->reg.n_buffers, 1); /* b2 is still bob's */
        assert_int_equal(fx->reg.n_bytes, 8192);
        assert_int_equal(b2->n_refs, 1);
        assert_true(list_empty(&fx->a.refs));
        assert_int_equal(fx->a.n_buffers, 0);
}

static void released_fd_imports_back_with_its_id_and_name(void **state)
{
        struct fx *fx = *state;
        struct buffer *b;
        uint64_t id;
        int keep;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "in-transit", &b), 0);
        id = b->ident.id;
        keep = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
        assert_int_equal(registry_release(&fx->reg, &fx->a, id, false), 0);
        assert_int_equal(fx->reg.n_buffers, 0);

        assert_int_equal(registry_import(&fx->reg, &fx->b, keep, &b, &ro), 0);
        assert_int_equal(b->ident.id, id);
        assert_string_equal(b->ident.name, "in-transit");
        assert_string_equal(b->ident.exporter_comm, "alice");
        assert_string_equal(b->ident.heap, "system");
        assert_int_equal(b->n_refs, 1);
}

/* Bob imports a sealed memfd the registry never hosted, of @size bytes. */
static struct buffer *export_adopted(struct fx *fx, off_t size)
{
        struct buffer *b;
        int fd = memfd_create("outsider", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, size), 0);
        assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
        assert_int_equal(registry_import(&fx->reg, &fx->b, fd, &b, &ro), 0);
        return b;
}

static void unknown_sealed_memfd_is_adopted_with_a_new_id(void **state)
{
        struct fx *fx = *state;
        struct buffer *b = export_adopted(fx, 8192);

        assert_int_equal(b->ident.size, 8192);
        assert_string_equal(b->ident.heap, "adopted");
        assert_int_equal(b->ident.exporter_pid, 200);
}

static void import_refuses_what_is_not_a_sealed_memfd(void **state)
{
        struct fx *fx = *state;
        struct buffer *b = NULL;
        int fd;

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_int_equal(registry_import(&fx->reg, &fx->a, fd, &b, &ro), -EBADFD);

        fd = memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        assert_int_equal(ftruncate(fd, 4096), 0);
        assert_int_equal(registry_import(&fx->reg, &fx->a, fd, &b, &ro), -EINVAL);

        assert_null(b);
        assert_int_equal(fx->reg.n_buffers, 0);
        /* every fd was consumed: the fixture checks none leaked */
}

static void export_errors_create_nothing(void **state)
{
        struct fx *fx = *state;
        struct buffer *b = NULL;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 0, "system", "", &b), -EINVAL);
        assert_int_equal(registry_export(&fx->reg, &fx->a, (1 << 20) + 1, "system", "", &b), -EFBIG);
        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "no-such-heap", "", &b), -ENOENT);
        assert_null(b);
        assert_int_equal(fx->reg.n_buffers, 0);
        assert_int_equal(fx->a.n_buffers, 0);
        assert_int_equal(registry_export(&fx->reg, &fx->a, 1 << 20, "system", "", &b), 0);
}

/* The size limit holds for the buffer as made, rounded up to its page
 * (a huge page for "system-huge"), not only for the size asked. */
static void the_size_limit_holds_after_rounding(void **state)
{
        struct fx *fx = *state;
        struct buffer *b = NULL;

        fx->limits.max_buffer_size = 4096 + 100;
        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096 + 1, "system", "", &b), -EFBIG);
        assert_null(b);
        assert_int_equal(fx->reg.n_buffers, 0);
        assert_int_equal(registry_uid_usage(&fx->reg, 1000).bytes, 0);
        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
        assert_int_equal(b->ident.size, 4096);
}

static void ids_are_never_reused(void **state)
{
        struct fx *fx = *state;
        uint64_t last = 0;

        for (int i = 0; i < 50; i++) {
                struct buffer *b;
                assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
                assert_true(b->ident.id > last);
                last = b->ident.id;
                assert_int_equal(registry_release(&fx->reg, &fx->a, b->ident.id, false), 0);
        }
}

static void find_shows_a_buffer_only_to_who_may_see_it(void **state)
{
        struct fx *fx = *state;
        struct holder root;
        struct buffer *b, *found = NULL;

        registry_holder_init(&fx->reg, &root, 1, 0, 0, "root");
        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
        assert_int_equal(registry_find(&fx->reg, &fx->a, b->ident.id, &found), 0);
        assert_ptr_equal(found, b);
        assert_int_equal(registry_find(&fx->reg, &fx->b, b->ident.id, &found), -ENOENT);
        assert_int_equal(registry_find(&fx->reg, &root, b->ident.id, &found), 0);
        assert_int_equal(registry_find(&fx->reg, &fx->a, 999999, &found), -ENOENT);
}

static void set_name_needs_a_reference_and_a_short_name(void **state)
{
        struct fx *fx = *state;
        char long_name[BS_NAME_LEN + 1];
        struct buffer *b;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "old", &b), 0);
        memset(long_name, 'n', BS_NAME_LEN);
        long_name[BS_NAME_LEN] = '\0'; /* 32 bytes, 33 with the NUL */
        assert_int_equal(registry_set_name(&fx->reg, &fx->a, b->ident.id, long_name), -EINVAL);
        assert_string_equal(b->ident.name, "old");
        assert_int_equal(registry_set_name(&fx->reg, &fx->b, b->ident.id, "mine"), -ENOENT);
        long_name[BS_NAME_LEN - 1] = '\0'; /* 31 bytes + NUL = 32: fits */
        assert_int_equal(registry_set_name(&fx->reg, &fx->a, b->ident.id, long_name), 0);
        assert_string_equal(b->ident.name, long_name);
}

static int reopen(int fd, int flags)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        return open(path, flags | O_CLOEXEC);
}

/* Hole 3: a memfd the daemon never hosted is admitted under the
 * adoption rules, whether it comes by import or by adoption. */
static void import_of_a_foreign_memfd_follows_the_adoption_rules(void **state)
{
        struct fx *fx = *state;
        struct buffer *b = NULL;
        int fd, keep;

        /* write-sealed: refused, never a writable reference */
        fd = test_memfd_with(4096, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
        assert_int_equal(registry_import(&fx->reg, &fx->a, fd, &b, &ro), -EINVAL);
        fd = test_memfd_with(4096, F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE);
        assert_int_equal(registry_import(&fx->reg, &fx->a, fd, &b, &ro), -EINVAL);
        /* not a page multiple */
        fd = test_memfd_with(5000, F_SEAL_SHRINK | F_SEAL_GROW);
        assert_int_equal(registry_import(&fx->reg, &fx->a, fd, &b, &ro), -EINVAL);
        /* sealed for good but still able to grow */
        fd = test_memfd_with(4096, F_SEAL_SHRINK | F_SEAL_SEAL);
        assert_int_equal(registry_import(&fx->reg, &fx->a, fd, &b, &ro), -EINVAL);
        /* an O_PATH fd grants nothing */
        keep = test_memfd_with(4096, F_SEAL_SHRINK | F_SEAL_GROW);
        assert_int_equal(registry_import(&fx->reg, &fx->a, reopen(keep, O_PATH), &b, &ro), -EBADF);
        /* a read-only fd that needs sealing: the seals can't be added through it */
        assert_int_equal(registry_import(&fx->reg, &fx->a, reopen(keep, O_RDONLY), &b, &ro), -EACCES);
        assert_null(b);
        assert_int_equal(fx->reg.n_buffers, 0);

        /* accepted: the daemon adds F_SEAL_GROW and F_SEAL_SEAL, so nobody
         * can add a write seal later and lock the other holders out */
        fd = test_memfd_with(8192, F_SEAL_SHRINK);
        assert_int_equal(registry_import(&fx->reg, &fx->a, fcntl(fd, F_DUPFD_CLOEXEC, 3), &b, &ro), 0);
        assert_int_equal(fcntl(fd, F_GET_SEALS) & (F_SEAL_GROW | F_SEAL_SEAL), F_SEAL_GROW | F_SEAL_SEAL);
        assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
        assert_int_equal(errno, EPERM);
        assert_int_equal(b->ident.size, 8192);
        close(fd);
        close(keep);
}

static void assert_untouched(int fd, int seals, mode_t mode)
{
        struct stat st;

        assert_int_equal(fcntl(fd, F_GET_SEALS), seals);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_mode & 07777, mode);
}

/* Hole 2: a refused adoption or import changes nothing, whatever refused it. */
static void a_refused_memfd_is_left_as_it_was(void **state)
{
        struct fx *fx = *state;
        struct buffer *b, *b2;
        struct stat st;
        int fd;

        fd = test_memfd_with(8192, F_SEAL_SHRINK);
        assert_int_equal(fstat(fd, &st), 0);

        fx->limits.max_buffer_size = 4096; /* -EFBIG */
        assert_int_equal(registry_export_memfd(&fx->reg, &fx->a, fcntl(fd, F_DUPFD_CLOEXEC, 3), "", &b), -EFBIG);
        assert_int_equal(registry_import(&fx->reg, &fx->a, fcntl(fd, F_DUPFD_CLOEXEC, 3), &b, &ro), -EFBIG);
        assert_untouched(fd, F_SEAL_SHRINK, st.st_mode & 07777);
        fx->limits.max_buffer_size = 1 << 20;

        fx->limits.max_bytes_per_uid = 4096; /* -EDQUOT */
        assert_int_equal(registry_export_memfd(&fx->reg, &fx->a, fcntl(fd, F_DUPFD_CLOEXEC, 3), "", &b), -EDQUOT);
        assert_untouched(fd, F_SEAL_SHRINK, st.st_mode & 07777);
        fx->limits.max_bytes_per_uid = 1ull << 40;

        fx->limits.max_buffers_per_client = 1; /* -EMFILE */
        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b2), 0);
        assert_int_equal(registry_export_memfd(&fx->reg, &fx->a, fcntl(fd, F_DUPFD_CLOEXEC, 3), "", &b), -EMFILE);
        assert_untouched(fd, F_SEAL_SHRINK, st.st_mode & 07777);
        fx->limits.max_buffers_per_client = 100;

        /* -EEXIST: the daemon hosts it already */
        assert_int_equal(registry_export_memfd(&fx->reg, &fx->a, fcntl(fd, F_DUPFD_CLOEXEC, 3), "", &b), 0);
        assert_int_equal(registry_export_memfd(&fx->reg, &fx->b, fcntl(fd, F_DUPFD_CLOEXEC, 3), "", &b2), -EEXIST);
        assert_int_equal(fx->reg.n_buffers, 2);
        close(fd);
}

/* Hole 1: the size is read again once it can no longer change, and every
 * check on it is made on that size. */
static void a_memfd_grown_during_admission_is_checked_at_its_real_size(void **state)
{
        struct admission a;
        int fd = test_memfd_with(4096, F_SEAL_SHRINK);

        assert_int_equal(admission_check(fd, &a), 0);
        assert_int_equal(a.size, 4096);
        /* its creator grows it between the check and the seal */
        assert_int_equal(ftruncate(fd, 8ll << 30), 0);
        assert_int_equal(admission_seal(fd, &a), 1);
        assert_int_equal(a.size, 8ull << 30);
        assert_int_equal(ftruncate(fd, 16ll << 30), -1); /* and now it can't */
        close(fd);
}

/* A creator adding a write seal between the check and the daemon's
 * F_SEAL_SEAL: the memfd is refused, never registered with a write seal
 * that would lock every other holder out of writable maps. */
static void a_memfd_write_sealed_during_admission_is_refused(void **state)
{
        static const int write_seals[] = { F_SEAL_FUTURE_WRITE, F_SEAL_WRITE };
        struct fx *fx = *state;

        for (unsigned i = 0; i < ELEMENTSOF(write_seals); i++) {
                struct admission a;
                int fd = test_memfd_with(4096, F_SEAL_SHRINK);

                assert_int_equal(admission_check(fd, &a), 0);
                assert_int_equal(fcntl(fd, F_ADD_SEALS, write_seals[i]), 0);
                assert_int_equal(admission_seal(fd, &a), -EINVAL);
                close(fd);
        }
        assert_int_equal(fx->reg.n_buffers, 0);
}

/* A reference count can't wrap: the import that would overflow it is
 * refused. (Before: 2^32 imports of one fd wrapped the holder's count to
 * 0, and the buffer was freed under a reference still in the table, a
 * use-after-free when that holder went away.) */
static void reference_counts_never_wrap(void **state)
{
        struct fx *fx = *state;
        struct buffer *b, *tmp;
        struct ref *ref;
        int keep;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
        keep = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
        assert_int_equal(registry_import(&fx->reg, &fx->b, fcntl(keep, F_DUPFD_CLOEXEC, 3), &tmp, &ro), 0);
        assert_int_equal(registry_release(&fx->reg, &fx->a, b->ident.id, false), 0);
        /* as if bob had imported it 2^32 - 1 times */
        ref = registry_ref_find(&fx->reg, b, &fx->b);
        assert_non_null(ref);
        ref->count = UINT32_MAX;
        b->n_refs = UINT32_MAX;
        assert_int_equal(registry_import(&fx->reg, &fx->b, fcntl(keep, F_DUPFD_CLOEXEC, 3), &tmp, &ro), -EOVERFLOW);
        assert_int_equal(ref->count, UINT32_MAX);
        assert_int_equal(b->n_refs, UINT32_MAX);
        /* nor can another holder's */
        assert_int_equal(registry_import(&fx->reg, &fx->a, fcntl(keep, F_DUPFD_CLOEXEC, 3), &tmp, &ro), -EOVERFLOW);
        assert_int_equal(fx->a.n_buffers, 0);
        /* back to one, for the teardown */
        ref->count = 1;
        b->n_refs = 1;
        close(keep);
}

/* A read-only view is refused for an inode others could reopen writable
 * as it is now, not as it was at admission: an adopted memfd's owner may
 * chmod it back. (Before: the mode seen at admission decided, and a
 * read-only reference was given on an inode anyone could reopen
 * writable, where docs/security.md promises -EPERM.) */
static void a_readonly_view_is_checked_against_the_mode_of_now(void **state)
{
        struct fx *fx = *state;
        struct buffer *b, *tmp = NULL;
        int fd = test_memfd_with(4096, F_SEAL_SHRINK), view;
        struct stat st;

        assert_int_equal(registry_export_memfd(&fx->reg, &fx->a, fcntl(fd, F_DUPFD_CLOEXEC, 3), "", &b), 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0444); /* made read-only: views are safe */
        view = reopen(fd, O_RDONLY);
        assert_int_equal(registry_import(&fx->reg, &fx->b, fcntl(view, F_DUPFD_CLOEXEC, 3), &tmp, &ro), 0);
        assert_true(ro);
        /* its owner makes it writable for all again */
        assert_int_equal(fchmod(fd, 0666), 0);
        tmp = NULL;
        assert_int_equal(registry_import(&fx->reg, &fx->b, fcntl(view, F_DUPFD_CLOEXEC, 3), &tmp, &ro), -EPERM);
        assert_null(tmp);
        close(view);
        close(fd);
}

/* Hole 4: attachments are bounded per client, and a holder going away
 * frees exactly its own. */
static void attachments_are_bounded_per_client(void **state)
{
        struct fx *fx = *state;
        struct buffer *b, *tmp;
        struct attachment *att;
        struct registry_info info;

        fx->limits.max_attachments_per_client = 3;
        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
        assert_int_equal(registry_import(&fx->reg, &fx->b, fcntl(b->fd, F_DUPFD_CLOEXEC, 3), &tmp, &ro), 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(registry_attach(&fx->reg, &fx->a, b->ident.id, "gpu", 0, &att), 0);
        assert_int_equal(registry_attach(&fx->reg, &fx->a, b->ident.id, "gpu", 0, &att), -EMFILE);
        assert_int_equal(registry_attach(&fx->reg, &fx->b, b->ident.id, "display", 0, &att), 0);
        assert_int_equal(registry_get_info(&fx->reg, &fx->b, b->ident.id, &info), 0);
        assert_int_equal(info.n_attachments, 4);
        registry_holder_drop(&fx->reg, &fx->a);
        assert_int_equal(registry_get_info(&fx->reg, &fx->b, b->ident.id, &info), 0);
        assert_int_equal(info.n_attachments, 1);
        assert_string_equal(info.attachments[0].device, "display");
        assert_int_equal(fx->a.n_attachments, 0);
}

/* Hole 7: a uid never pays for a buffer none of its clients holds. */
static void the_payer_follows_the_holders(void **state)
{
        struct fx *fx = *state;
        struct buffer *b, *tmp;
        struct holder c;
        uint64_t id;
        int keep;

        registry_holder_init(&fx->reg, &c, 300, 3000, 3000, "carol");
        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
        id = b->ident.id;
        keep = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
        assert_int_equal(registry_uid_usage(&fx->reg, 1000).bytes, 4096);
        assert_int_equal(registry_import(&fx->reg, &fx->b, fcntl(keep, F_DUPFD_CLOEXEC, 3), &tmp, &ro), 0);
        assert_int_equal(registry_import(&fx->reg, &c, fcntl(keep, F_DUPFD_CLOEXEC, 3), &tmp, &ro), 0);
        /* the exporter pays while it holds it */
        assert_int_equal(registry_uid_usage(&fx->reg, 1000).bytes, 4096);
        assert_int_equal(registry_uid_usage(&fx->reg, 2000).bytes, 0);
        /* then the longest holder */
        assert_int_equal(registry_release(&fx->reg, &fx->a, id, false), 0);
        assert_int_equal(registry_uid_usage(&fx->reg, 1000).bytes, 0);
        assert_int_equal(registry_uid_usage(&fx->reg, 2000).bytes, 4096);
        assert_int_equal(registry_uid_usage(&fx->reg, 3000).bytes, 0);
        registry_holder_drop(&fx->reg, &fx->b);
        assert_int_equal(registry_uid_usage(&fx->reg, 2000).bytes, 0);
        assert_int_equal(registry_uid_usage(&fx->reg, 3000).bytes, 4096);
        /* the exporter's uid takes it back when one of its clients holds it again */
        assert_int_equal(registry_import(&fx->reg, &fx->a, fcntl(keep, F_DUPFD_CLOEXEC, 3), &tmp, &ro), 0);
        assert_int_equal(registry_uid_usage(&fx->reg, 1000).bytes, 4096);
        assert_int_equal(registry_uid_usage(&fx->reg, 3000).bytes, 0);
        registry_holder_drop(&fx->reg, &fx->a);
        registry_holder_drop(&fx->reg, &c);
        assert_int_equal(fx->reg.n_buffers, 0);
        assert_int_equal(registry_uid_usage(&fx->reg, 3000).bytes, 0);

        /* released while in transit: whoever imports it now pays, and
         * the uid that released it doesn't */
        assert_int_equal(registry_import(&fx->reg, &fx->b, keep, &b, &ro), 0);
        assert_int_equal(b->ident.id, id);
        assert_int_equal(registry_uid_usage(&fx->reg, 2000).bytes, 4096);
        assert_int_equal(registry_uid_usage(&fx->reg, 1000).bytes, 0);
        assert_int_equal(registry_uid_usage(&fx->reg, 3000).bytes, 0);
}

/* A buffer revived for a uid over its quota is refused, and its identity
 * kept for a later import. */
static void a_revival_over_quota_is_refused_and_forgets_nothing(void **state)
{
        struct fx *fx = *state;
        struct buffer *b, *b2;
        uint64_t id;
        int keep;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 8192, "system", "kept", &b), 0);
        id = b->ident.id;
        keep = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
        assert_int_equal(registry_release(&fx->reg, &fx->a, id, false), 0);
        fx->limits.max_bytes_per_uid = 4096;
        assert_int_equal(registry_import(&fx->reg, &fx->b, fcntl(keep, F_DUPFD_CLOEXEC, 3), &b2, &ro), -EDQUOT);
        fx->limits.max_bytes_per_uid = 1ull << 40;
        assert_int_equal(registry_import(&fx->reg, &fx->b, keep, &b2, &ro), 0);
        assert_int_equal(b2->ident.id, id);
        assert_string_equal(b2->ident.name, "kept");
}

/* Hole 11: each uid has its own ring of released identities. */
static void released_identities_are_kept_per_uid(void **state)
{
        struct fx *fx = *state;
        struct buffer *b;
        uint64_t victim_id, first_id = 0;
        int victim_fd, first_fd = -1;

        assert_int_equal(registry_export(&fx->reg, &fx->b, 4096, "system", "victim", &b), 0);
        victim_id = b->ident.id;
        victim_fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
        assert_int_equal(registry_release(&fx->reg, &fx->b, victim_id, false), 0);

        /* another uid releases more than a ring holds */
        for (int i = 0; i < RELEASED_PER_UID + 1; i++) {
                assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
                if (i == 0) {
                        first_id = b->ident.id;
                        first_fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
                }
                assert_int_equal(registry_release(&fx->reg, &fx->a, b->ident.id, false), 0);
        }
        assert_int_equal(fx->reg.released.n_entries, RELEASED_PER_UID + 1);
        /* its own oldest was forgotten: it comes back adopted */
        assert_int_equal(registry_import(&fx->reg, &fx->a, first_fd, &b, &ro), 0);
        assert_true(b->ident.id != first_id);
        assert_string_equal(b->ident.heap, "adopted");
        /* the victim's was not */
        assert_int_equal(registry_import(&fx->reg, &fx->b, victim_fd, &b, &ro), 0);
        assert_int_equal(b->ident.id, victim_id);
        assert_string_equal(b->ident.name, "victim");
}

/* Info reads counters and the first entries: the totals are right past
 * what it lists. */
static void info_counts_past_what_it_lists(void **state)
{
        struct fx *fx = *state;
        struct holder h[REGISTRY_INFO_MAX + 2];
        struct registry_info info;
        struct buffer *b, *tmp;
        int ro_fd;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
        ro_fd = reopen(b->fd, O_RDONLY);
        for (unsigned i = 0; i < ELEMENTSOF(h); i++) {
                registry_holder_init(&fx->reg, &h[i], 1000 + (pid_t)i, 5000, 5000, "ro");
                assert_int_equal(registry_import(&fx->reg, &h[i], fcntl(ro_fd, F_DUPFD_CLOEXEC, 3), &tmp, &ro), 0);
                assert_true(ro);
                assert_int_equal(registry_cpu_access(&fx->reg, &h[i], b->ident.id, BS_WIRE_SYNC_READ, CPU_ACCESS_BEGIN), 0);
        }
        assert_int_equal(registry_get_info(&fx->reg, &fx->a, b->ident.id, &info), 0);
        assert_int_equal(info.n_readonly, ELEMENTSOF(h));
        assert_int_equal(info.n_cpu_access, ELEMENTSOF(h));
        assert_int_equal(info.readonly[0], 1000);
        assert_int_equal(info.cpu_access[REGISTRY_INFO_MAX - 1].pid, 1000 + REGISTRY_INFO_MAX - 1);
        for (unsigned i = 0; i < ELEMENTSOF(h); i++)
                registry_holder_drop(&fx->reg, &h[i]);
        assert_int_equal(registry_get_info(&fx->reg, &fx->a, b->ident.id, &info), 0);
        assert_int_equal(info.n_readonly, 0);
        assert_int_equal(info.n_cpu_access, 0);
        close(ro_fd);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)


/* ---- the reserve of fresh memfds (reserve.h) ---- */

/* An export takes the reserve's oldest memfd: its id is what the memfd's
 * name says, made sized, sealed and 0444 like any other. */
static void exports_take_the_reserve_and_their_ids_follow_the_names(void **state)
{
        struct fx *fx = *state;
        struct buffer *b;
        struct stat st;
        uint64_t name_id, reserved_first;

        registry_reserve(&fx->reg, 4);
        assert_true(registry_reserve_low(&fx->reg)); /* empty */
        assert_false(registry_refill(&fx->reg, 100));
        assert_int_equal(fx->reg.reserve.n, 4);
        assert_false(registry_reserve_low(&fx->reg));
        reserved_first = fx->reg.reserve.e[fx->reg.reserve.head].id;

        assert_int_equal(registry_export(&fx->reg, &fx->a, 100, "system", "cam0", &b), 0);
        assert_int_equal(fx->reg.reserve.n, 3);
        assert_int_equal(b->ident.id, reserved_first);
        assert_int_equal(memfd_bufshare_id(b->fd, &name_id), 0);
        assert_int_equal(name_id, b->ident.id);
        assert_int_equal(b->ident.size, 4096);
        assert_int_equal(fcntl(b->fd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL | F_SEAL_WRITE),
                         F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
        assert_int_equal(fstat(b->fd, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0444);
        assert_int_equal(st.st_ino, b->ident.ino);

        /* a refused export leaves the reserve as it was */
        assert_int_equal(registry_export(&fx->reg, &fx->a, (1 << 20) + 1, "system", "", &b), -EFBIG);
        assert_int_equal(fx->reg.reserve.n, 3);
        /* system-huge never takes one */
        registry_export(&fx->reg, &fx->a, 4096, "system-huge", "", &b);
        assert_int_equal(fx->reg.reserve.n, 3);
        /* two taken: now at most half full */
        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
        assert_true(registry_reserve_low(&fx->reg));
}

/* Ids are taken when a memfd is made for the reserve, so an adoption in
 * between gets a higher one than the next export: every id still belongs
 * to one buffer only, and exports' ids still grow. */
static void ids_stay_unique_across_the_reserve_and_adoptions(void **state)
{
        struct fx *fx = *state;
        uint64_t ids[64], last_export = 0;
        unsigned n = 0;

        registry_reserve(&fx->reg, 4);
        for (int round = 0; round < 12; round++) {
                struct buffer *b;

                if (round % 3 == 0)
                        registry_refill(&fx->reg, 2);
                assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
                assert_true(b->ident.id > last_export);
                last_export = b->ident.id;
                ids[n++] = b->ident.id;
                b = export_adopted(fx, 4096);
                ids[n++] = b->ident.id;
        }
        for (unsigned i = 0; i < n; i++)
                for (unsigned j = i + 1; j < n; j++)
                        assert_true(ids[i] != ids[j]);
        /* the reserve's memfds that were never taken hold ids nobody gets */
        registry_refill(&fx->reg, 4);
        for (unsigned k = 0; k < fx->reg.reserve.n; k++) {
                uint64_t id = fx->reg.reserve.e[(fx->reg.reserve.head + k) % RESERVE_MAX].id;
                for (unsigned i = 0; i < n; i++)
                        assert_true(ids[i] != id);
        }
}

/* A buffer made from the reserve and released while its fd travelled
 * comes back under its id and name, as any export does. */
static void a_reserve_buffer_released_imports_back(void **state)
{
        struct fx *fx = *state;
        struct buffer *b;
        uint64_t id;
        int keep;

        registry_reserve(&fx->reg, 2);
        registry_refill(&fx->reg, 2);
        assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "in-transit", &b), 0);
        assert_int_equal(fx->reg.reserve.n, 1);
        id = b->ident.id;
        keep = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
        assert_int_equal(registry_release(&fx->reg, &fx->a, id, false), 0);
        registry_flush(&fx->reg);
        assert_int_equal(registry_import(&fx->reg, &fx->b, keep, &b, &ro), 0);
        assert_int_equal(b->ident.id, id);
        assert_string_equal(b->ident.name, "in-transit");
        assert_string_equal(b->ident.heap, "system");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(export_creates_one_reference_on_a_sealed_memfd),
                T(import_adds_and_release_drops_references),
                T(holder_drop_releases_everything_it_held),
                T(released_fd_imports_back_with_its_id_and_name),
                T(unknown_sealed_memfd_is_adopted_with_a_new_id),
                T(import_refuses_what_is_not_a_sealed_memfd),
                T(export_errors_create_nothing),
                T(the_size_limit_holds_after_rounding),
                T(ids_are_never_reused),
                T(find_shows_a_buffer_only_to_who_may_see_it),
                T(set_name_needs_a_reference_and_a_short_name),
                T(import_of_a_foreign_memfd_follows_the_adoption_rules),
                T(a_refused_memfd_is_left_as_it_was),
                T(a_memfd_grown_during_admission_is_checked_at_its_real_size),
                T(a_memfd_write_sealed_during_admission_is_refused),
                T(reference_counts_never_wrap),
                T(a_readonly_view_is_checked_against_the_mode_of_now),
                T(attachments_are_bounded_per_client),
                T(the_payer_follows_the_holders),
                T(a_revival_over_quota_is_refused_and_forgets_nothing),
                T(released_identities_are_kept_per_uid),
                T(info_counts_past_what_it_lists),
                T(exports_take_the_reserve_and_their_ids_follow_the_names),
                T(ids_stay_unique_across_the_reserve_and_adoptions),
                T(a_reserve_buffer_released_imports_back),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
