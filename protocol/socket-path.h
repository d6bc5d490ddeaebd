/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/*
 * The daemon's socket path when none is given: $BUFSHARE_SOCKET, else
 * $XDG_RUNTIME_DIR/bufshare/socket, else /run/bufshare/socket for root.
 * Returns 0, -ENXIO when none applies, -ENAMETOOLONG past @len.
 */
int bs_socket_path_default(char *buf, size_t len);

/* Fill a sockaddr_un for @path. Returns its length or -ENAMETOOLONG. */
struct sockaddr_un;
int bs_sockaddr_un_set(struct sockaddr_un *sa, const char *path);
