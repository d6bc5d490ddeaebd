/* SPDX-License-Identifier: MIT */
#include "msgio.h"

#include <errno.h>

#include "fdpass.h"
#include "util.h"

int bs_msg_recv(int sock, struct bs_msg *m)
{
        return bs_msg_recv_flags(sock, m, 0, NULL);
}

int bs_msg_recv_flags(int sock, struct bs_msg *m, int flags, const struct bs_fd_closer *closer)
{
        /* one byte more than any valid message, so an oversized datagram
         * shows as MSG_TRUNC or as a size mismatch, never as valid */
        union {
                struct bs_msg_header hdr;
                char bytes[BS_MSG_MAX_SIZE + 1];
        } buf;
        unsigned n_fds = 0;
        int damage, r;
        ssize_t n;

        bs_msg_init(m);
        n = bs_fdpass_recv_flags(sock, buf.bytes, sizeof(buf.bytes), m->fds, BS_MAX_FDS, &n_fds, &damage, flags,
                                 closer);
        if (n < 0)
                return (int)n;
        if (damage < 0) {
                bs_msg_peek(m, buf.bytes, (size_t)n);
                return damage;
        }
        m->n_fds = n_fds;
        if (n == 0 && n_fds == 0)
                return -ECONNRESET;

        r = bs_msg_decode(m, buf.bytes, (size_t)n, n_fds);
        if (r < 0) {
                for (unsigned i = 0; i < n_fds; i++)
                        bs_fd_closer_close(closer, TAKE_FD(m->fds[i]));
                bs_msg_clear(m);
                return r;
        }
        return 0;
}

int bs_msg_send(int sock, const struct bs_msg *m)
{
        return bs_msg_send_flags(sock, m, 0);
}

int bs_msg_send_flags(int sock, const struct bs_msg *m, int flags)
{
        char buf[BS_MSG_MAX_SIZE];
        int n = bs_msg_encode(m, buf, sizeof(buf));

        if (n < 0)
                return n;
        if (m->hdr.n_fds != m->n_fds)
                return -EINVAL;
        return bs_fdpass_send_flags(sock, buf, (size_t)n, m->fds, m->n_fds, flags);
}
