/* SPDX-License-Identifier: MIT */
/*
 * One bufshare message in or out of a SOCK_SEQPACKET socket: fdpass for
 * the transport, message.c for the rules.
 */
#pragma once

#include "message.h"

/*
 * Receive and decode one message into @m (initialised here). Returns 0;
 * -EAGAIN when nothing is queued; -ECONNRESET when the peer closed;
 * -EPROTO for a malformed message; -EMFILE when its fds could not be
 * installed because this process is out of fds (not the peer's fault).
 * On -EPROTO and -EMFILE every fd it carried is closed, no fd number is
 * left in @m, and m->hdr (unchecked) is usable for an error reply when
 * m->len >= sizeof(m->hdr).
 */
int bs_msg_recv(int sock, struct bs_msg *m);
/* bs_msg_recv() with recvmsg() @flags (MSG_DONTWAIT on a blocking socket),
 * that closes the fds of a refused message with @closer (fdpass.h; NULL:
 * close(2)). */
struct bs_fd_closer;
int bs_msg_recv_flags(int sock, struct bs_msg *m, int flags, const struct bs_fd_closer *closer);

/* Send @m with its fds. The fds stay @m's: bs_msg_clear() closes them. */
int bs_msg_send(int sock, const struct bs_msg *m);
/* bs_msg_send() with sendmsg() @flags (MSG_DONTWAIT on a blocking socket). */
int bs_msg_send_flags(int sock, const struct bs_msg *m, int flags);
