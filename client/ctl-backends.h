/* SPDX-License-Identifier: MIT */
/* The two ways bufsharectl reaches a daemon, under ctl.c's choice. */
#pragma once

#include "ctl-model.h"

/* The bus ones return -EHOSTDOWN when no daemon owns
 * org.bufshare1 there, without a message. */
int ctl_bus_open(struct ctl *ctl);
void ctl_bus_close(struct ctl *ctl);
int ctl_bus_list_buffers(struct ctl *ctl, struct ctl_buffer **ret, size_t *ret_n);
int ctl_bus_describe_buffer(struct ctl *ctl, uint64_t id, struct ctl_buffer *ret);
int ctl_bus_list_clients(struct ctl *ctl, struct ctl_client **ret, size_t *ret_n);
int ctl_bus_get_stats(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n);
int ctl_bus_get_limits(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n);
int ctl_bus_monitor(struct ctl *ctl, bool json, unsigned count);

int ctl_socket_open(struct ctl *ctl, const char *path);
void ctl_socket_close(struct ctl *ctl);
int ctl_socket_describe_buffer(struct ctl *ctl, uint64_t id, struct ctl_buffer *ret);
int ctl_socket_get_limits(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n);
