/* SPDX-License-Identifier: MIT */
/*
 * The listening socket: one the daemon binds itself, or the one systemd
 * passes (socket activation).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/*
 * A listening SOCK_SEQPACKET socket at @path, mode @mode. Never clobbers:
 * an existing file that is not a socket is -EEXIST; a socket someone
 * listens on (of any type), or one of another uid, is -EADDRINUSE; only a
 * stale socket of ours (nobody listening, our uid) is replaced. With
 * @create_dir, the folder holding @path is created (mode 0755) if it is
 * missing, but not its parents; otherwise a missing folder is -ENOENT.
 * The file appears only once the socket listens, so its existence means
 * a client can connect. Returns the fd or -errno.
 */
int listen_path(const char *path, bool create_dir, mode_t mode);

/*
 * The socket systemd passed, if any: 0 when none was passed, the fd when
 * one listening AF_UNIX SOCK_SEQPACKET socket was, -EINVAL for anything
 * else (several sockets, another type or family, not listening).
 */
int listen_systemd(void);
