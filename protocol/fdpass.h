/* SPDX-License-Identifier: MIT */
/*
 * Datagrams with file descriptors over AF_UNIX sockets (SCM_RIGHTS).
 * Received fds are always O_CLOEXEC; on every error path every received
 * fd is closed before returning.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* The most fds one send takes. The protocol's own limit, BS_MAX_FDS, is
 * the codec's business; tests send more on purpose. */
#define BS_FDPASS_SEND_MAX 64
/* The fds a receive makes room for: the most one datagram can carry
 * (SCM_MAX_FD), so that the kernel never closes one itself. */
#define BS_FDPASS_RECV_ROOM 253

/*
 * Send @len bytes and @n_fds fds in one datagram. The fds stay the
 * caller's. MSG_NOSIGNAL: a dead peer gives -EPIPE, never SIGPIPE.
 * Returns 0, -EAGAIN on a full non-blocking socket, or another -errno.
 */
int bs_fdpass_send(int sock, const void *data, size_t len, const int *fds, unsigned n_fds);
/* bs_fdpass_send() with more sendmsg() @flags (MSG_DONTWAIT). */
int bs_fdpass_send_flags(int sock, const void *data, size_t len, const int *fds, unsigned n_fds, int flags);

/*
 * Receive one datagram of at most @len bytes and at most @max_fds fds
 * (at most BS_MAX_FDS). Returns the byte count (0 means the peer closed)
 * or a transport error: -EAGAIN on a non-blocking socket with nothing
 * queued, another -errno. It blocks on a blocking socket.
 * *@ret_damage says whether the datagram arrived whole:
 *   0        the fds are in @fds, their count in *@ret_n_fds; the caller owns them;
 *   -EPROTO  truncated (MSG_TRUNC, MSG_CTRUNC), more fds than @max_fds, or a
 *            control message other than SCM_RIGHTS: the peer's fault;
 *   -EMFILE  this process ran out of fds while the kernel installed them.
 * When damaged, every fd that arrived is closed already and *@ret_n_fds is 0,
 * but the bytes are returned, so that a reply can still name the serial.
 */
ssize_t bs_fdpass_recv(int sock, void *data, size_t len, int *fds, unsigned max_fds,
                       unsigned *ret_n_fds, int *ret_damage);

/*
 * How a receiver closes the fds a peer sent that it does not keep. Closing
 * a peer's fd can block for as long as the peer wants (a TCP socket with
 * SO_LINGER over a window kept full waits in close(2); a FUSE file waits
 * for its server to answer FLUSH): a receiver that must never wait for a
 * peer closes them its own way. NULL means close(2).
 */
struct bs_fd_closer {
        void (*close_fd)(void *userdata, int fd);
        void *userdata;
};

/* Close @fd, a peer's, the way @closer says (close(2) if NULL). */
void bs_fd_closer_close(const struct bs_fd_closer *closer, int fd);

/* bs_fdpass_recv() with more recvmsg() @flags (MSG_DONTWAIT), that closes
 * a damaged datagram's fds with @closer. */
ssize_t bs_fdpass_recv_flags(int sock, void *data, size_t len, int *fds, unsigned max_fds,
                             unsigned *ret_n_fds, int *ret_damage, int flags, const struct bs_fd_closer *closer);
