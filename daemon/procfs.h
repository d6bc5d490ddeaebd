/* SPDX-License-Identifier: MIT */
/* What /proc tells about a peer process. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* @pid's comm (/proc/PID/comm) in @buf, or "" if it can't be read. */
void procfs_comm(pid_t pid, char *buf, size_t len);
