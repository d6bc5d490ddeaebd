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
#define BS_FDPASS_SEND_MAX 16

/*
 * Send @len bytes and @n_fds fds in one datagram. The fds stay the
 * caller's. MSG_NOSIGNAL: a dead peer gives -EPIPE, never SIGPIPE.
 * Returns 0, -EAGAIN on a full non-blocking socket, or another -errno.
 */
int bs_fdpass_send(int sock, const void *data, size_t len, const int *fds, unsigned n_fds);

/*
 * Receive one datagram of at most @len bytes and at most @max_fds fds.
 * On success returns the byte count (0 means the peer closed) and stores
 * the fds, which the caller then owns, in @fds and their count in
 * @ret_n_fds. A truncated datagram or fd list (MSG_TRUNC, MSG_CTRUNC),
 * more fds than @max_fds, or a control message other than SCM_RIGHTS is
 * -EPROTO. It blocks on a blocking socket (one syscall for a client
 * waiting for its reply); a non-blocking one gives -EAGAIN when nothing
 * is queued.
 */
ssize_t bs_fdpass_recv(int sock, void *data, size_t len, int *fds, unsigned max_fds,
                       unsigned *ret_n_fds);
