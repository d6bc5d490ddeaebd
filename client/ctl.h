/* SPDX-License-Identifier: MIT */
/*
 * What bufsharectl asks a daemon, and where: org.bufshare1 on D-Bus
 * (ctl-bus.c) or the daemon's socket (ctl-socket.c), which answers only
 * the limits and one buffer's info.
 */
#pragma once

#include "ctl-model.h"

/* Reach the daemon for @command: its socket at @socket_path if given,
 * else its bus. 0 or -errno (said on stderr). */
int ctl_open(struct ctl *ctl, const char *socket_path, bool user_bus, const char *command);
void ctl_close(struct ctl *ctl);

/* Each 0, -ENOENT (no such buffer), or another -errno, said on stderr.
 * Lists are the caller's to free(). */
int ctl_list_buffers(struct ctl *ctl, struct ctl_buffer **ret, size_t *ret_n);
int ctl_describe_buffer(struct ctl *ctl, uint64_t id, struct ctl_buffer *ret);
int ctl_list_clients(struct ctl *ctl, struct ctl_client **ret, size_t *ret_n);
int ctl_get_stats(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n);
int ctl_get_limits(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n);
/* Print events as they come until @count of them (0: until killed). */
int ctl_monitor(struct ctl *ctl, bool json, unsigned count);
