/* SPDX-License-Identifier: MIT */
#include "peer.h"

#include <errno.h>
#include <unistd.h>

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
