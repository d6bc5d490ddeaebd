/* SPDX-License-Identifier: MIT */
/* /dev/bufshare's behaviour (daemon/device.c) without CUSE: open files as
 * holders, the ioctls, tokens handed to a socket holder, read/write
 * through a binding as CUSE delivers them (offsets within one syscall),
 * and what a close takes with it. The same over a real kernel is
 * tests/vm/test-cuse.c. */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "bufshare/bufshare-ioctl.h"
#include "device.h"

#define PAGE 4096

struct fx {
        int fds_before;
        struct limits limits;
        struct registry reg;
        struct token_table tokens;
        struct device dev;
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
        token_table_init(&fx->tokens, 5000);
        device_init(&fx->dev, &fx->reg, &fx->tokens, &fx->limits);
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
        registry_done(&fx->reg);
        leaked = test_count_open_fds() != fx->fds_before;
        free(fx);
        alarm(0);
        return leaked ? -1 : 0;
}

static int dioctl(struct fx *fx, struct dev_file *f, uint32_t cmd, void *arg)
{
        size_t out_len = 0;
        int r = device_ioctl(&fx->dev, f, cmd, arg, (_IOC_DIR(cmd) & _IOC_WRITE) ? _IOC_SIZE(cmd) : 0, fx->out,
                             &out_len);
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
        assert_int_equal(device_poll(&fx->dev, f), POLLERR);
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (char)(i * 31);
        bind.id = a.id;
        bind.offset = 100;
        assert_int_equal(dioctl(fx, f, BUFSHARE_IOCTL_BIND, &bind), 0);
        assert_int_equal(device_poll(&fx->dev, f), POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);
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
                T(device_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
