/* SPDX-License-Identifier: MIT */
/* The registry (daemon/registry.c): reference counting, release, holders
 * going away, importing back an fd whose buffer was released. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "heap.h"
#include "registry.h"

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
        limits_init_default(&fx->limits);
        fx->limits.max_buffer_size = 1 << 20;
        if (registry_init(&fx->reg, &fx->limits) < 0)
                return -1;
        holder_init(&fx->a, 100, 1000, 1000, "alice");
        holder_init(&fx->b, 200, 2000, 2000, "bob");
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
        /* F_SEAL_EXEC may come on top, from MFD_NOEXEC_SEAL */
        assert_int_equal(fcntl(b->fd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL | F_SEAL_WRITE),
                         F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
        assert_int_equal(fstat(b->fd, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0444);
        assert_int_equal(heap_memfd_id(b->fd, &id), 0);
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

static void unknown_sealed_memfd_is_adopted_with_a_new_id(void **state)
{
        struct fx *fx = *state;
        struct buffer *b;
        int fd = memfd_create("outsider", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 8192), 0);
        assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
        assert_int_equal(registry_import(&fx->reg, &fx->b, fd, &b, &ro), 0);
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

        fd = memfd_create("shrink-only", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        assert_int_equal(ftruncate(fd, 4096), 0);
        assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
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

        holder_init(&root, 1, 0, 0, "root");
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

static void released_table_is_bounded(void **state)
{
        struct fx *fx = *state;
        struct buffer *b;
        uint64_t first_id = 0;
        int first_fd = -1;

        for (int i = 0; i < REGISTRY_RELEASED_MAX + 1; i++) {
                assert_int_equal(registry_export(&fx->reg, &fx->a, 4096, "system", "", &b), 0);
                if (i == 0) {
                        first_id = b->ident.id;
                        first_fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
                }
                assert_int_equal(registry_release(&fx->reg, &fx->a, b->ident.id, false), 0);
        }
        assert_int_equal(fx->reg.released_len, REGISTRY_RELEASED_MAX);
        /* the oldest was forgotten: it comes back adopted, under a new id */
        assert_int_equal(registry_import(&fx->reg, &fx->b, first_fd, &b, &ro), 0);
        assert_true(b->ident.id != first_id);
        assert_string_equal(b->ident.heap, "adopted");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

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
                T(ids_are_never_reused),
                T(find_shows_a_buffer_only_to_who_may_see_it),
                T(set_name_needs_a_reference_and_a_short_name),
                T(released_table_is_bounded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
