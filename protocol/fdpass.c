/* SPDX-License-Identifier: MIT */
#include "fdpass.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"
#include "wire.h"

/* tests send a few fds more than the protocol allows, on purpose; the
 * kernel takes at most 253 (SCM_MAX_FD) */
_Static_assert(BS_FDPASS_SEND_MAX >= BS_MAX_FDS + 8 && BS_FDPASS_SEND_MAX <= 253, "room to send too many");
_Static_assert(BS_FDPASS_RECV_ROOM > BS_MAX_FDS, "a peer sending one too many is told from an install failure");

int bs_fdpass_send(int sock, const void *data, size_t len, const int *fds, unsigned n_fds)
{
        return bs_fdpass_send_flags(sock, data, len, fds, n_fds, 0);
}

int bs_fdpass_send_flags(int sock, const void *data, size_t len, const int *fds, unsigned n_fds, int flags)
{
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(BS_FDPASS_SEND_MAX * sizeof(int))];
        } ctl;
        struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (n_fds > BS_FDPASS_SEND_MAX)
                return -EINVAL;
        if (n_fds > 0) {
                struct cmsghdr *c;

                memset(&ctl, 0, sizeof(ctl));
                mh.msg_control = ctl.buf;
                mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
                memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
        }

        do
                n = sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t)n != len) /* SOCK_SEQPACKET sends all or nothing */
                return -EIO;
        return 0;
}

void bs_fd_closer_close(const struct bs_fd_closer *closer, int fd)
{
        if (fd < 0)
                return;
        if (closer && closer->close_fd)
                closer->close_fd(closer->userdata, fd);
        else
                safe_close(fd);
}

/* Close every fd carried by every SCM_RIGHTS cmsg of @mh. */
static void close_all_fds(struct msghdr *mh, const struct bs_fd_closer *closer)
{
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        bs_fd_closer_close(closer, fd);
                }
        }
}

ssize_t bs_fdpass_recv(int sock, void *data, size_t len, int *fds, unsigned max_fds,
                       unsigned *ret_n_fds, int *ret_damage)
{
        return bs_fdpass_recv_flags(sock, data, len, fds, max_fds, ret_n_fds, ret_damage, 0, NULL);
}

ssize_t bs_fdpass_recv_flags(int sock, void *data, size_t len, int *fds, unsigned max_fds,
                             unsigned *ret_n_fds, int *ret_damage, int flags, const struct bs_fd_closer *closer)
{
        union {
                struct cmsghdr align;
                /* room for every fd one datagram can carry (the kernel's
                 * SCM_MAX_FD), however few are allowed: the kernel closes
                 * the fds that don't fit itself, in this thread, on the
                 * way out of recvmsg(), and the close of a peer's fd can
                 * block for as long as the peer likes (closer.h). Those
                 * that fit are installed, and closed as @closer says. A
                 * peer that sends too many is then told apart from an
                 * install failure, which leaves room unused (see below). */
                char buf[CMSG_SPACE(BS_FDPASS_RECV_ROOM * sizeof(int))];
        } ctl;
        struct iovec iov = { .iov_base = data, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf };
        unsigned n_fds = 0, installed = 0, room;
        bool bad = false;
        ssize_t n;

        if (max_fds > BS_MAX_FDS)
                max_fds = BS_MAX_FDS;
        mh.msg_controllen = sizeof(ctl.buf);
        room = (unsigned)((mh.msg_controllen - CMSG_LEN(0)) / sizeof(int));
        *ret_n_fds = 0;
        *ret_damage = 0;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
                        bad = true;
                        continue;
                }
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                installed += (unsigned)k;
                if (n_fds + k > max_fds) {
                        bad = true;
                        continue;
                }
                memcpy(fds + n_fds, CMSG_DATA(c), k * sizeof(int));
                n_fds += (unsigned)k;
        }
        /* The kernel sets MSG_CTRUNC both when more fds came than fit and
         * when it could not install one in this process (EMFILE): it stops
         * at the first failure, so a failure leaves room unused. */
        if ((mh.msg_flags & MSG_CTRUNC) && !(mh.msg_flags & MSG_TRUNC) && !bad && installed < room)
                *ret_damage = -EMFILE;
        else if (bad || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                *ret_damage = -EPROTO;
        if (*ret_damage < 0) {
                close_all_fds(&mh, closer);
                for (unsigned i = 0; i < n_fds; i++)
                        fds[i] = -EBADF;
                return n;
        }
        *ret_n_fds = n_fds;
        return n;
}
