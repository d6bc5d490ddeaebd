/* SPDX-License-Identifier: MIT */
#include "peer.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

pid_t test_peer_start(struct test_peer *a, const char *socket, int (*fn)(void *arg), struct bs_buffer *b,
                      int fd_flags)
{
        int sv[2], fd, r;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        *a = (struct test_peer){ .socket = socket, .sock = sv[1], .parent = sv[0] };
        pid = test_fork(fn, a);
        if (pid < 0)
                return -errno;
        fd = bs_buffer_fd(b, fd_flags);
        if (fd < 0)
                return fd;
        r = test_send_fd(a->parent, fd);
        close(fd);
        return r < 0 ? r : pid;
}

void test_peer_close(struct test_peer *a)
{
        close(a->sock);
        close(a->parent);
}

int test_peer_import(const struct test_peer *a, struct bs_client **ret_client, struct bs_buffer **ret_buffer)
{
        struct bs_client *c = NULL;
        int fd = test_recv_fd(a->sock), r;

        if (fd < 0)
                return fd;
        r = bs_client_connect(a->socket, &c);
        if (r == 0)
                r = bs_buffer_import(c, fd, ret_buffer);
        close(fd);
        if (r < 0) {
                bs_client_unref(c);
                return r;
        }
        *ret_client = c;
        return 0;
}

int test_info_until_refs(struct bs_buffer *b, uint32_t n_refs, struct bs_buffer_info *ret_info)
{
        uint64_t deadline = test_now_ms() + 10000;
        int r;

        do
                r = bs_buffer_get_info(b, ret_info);
        while (r == 0 && ret_info->n_refs > n_refs && test_now_ms() < deadline);
        return r;
}

int test_daemon_fds_settle(struct test_daemon *d, struct bs_client *c, int want)
{
        uint64_t deadline = test_now_ms() + 10000;
        int n;

        while ((n = test_count_fds_of(d->pid)) != want && test_now_ms() < deadline)
                if (bs_client_sync(c) < 0)
                        break;
        return n;
}
