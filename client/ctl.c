/* SPDX-License-Identifier: MIT */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-backends.h"
#include "socket-path.h"

/* The commands the socket can answer. */
static bool socket_can(const char *command)
{
        return strcmp(command, "limits") == 0 || strcmp(command, "info") == 0;
}

static int open_default_socket(struct ctl *ctl, const char *why)
{
        char path[108];
        int r = bs_socket_path_default(path, sizeof(path));

        if (r < 0) {
                fprintf(stderr, "bufsharectl: %s, and no socket path: %s\n", why, strerror(-r));
                return r;
        }
        fprintf(stderr, "bufsharectl: %s: asking the socket %s\n", why, path);
        return ctl_socket_open(ctl, path);
}

int ctl_open(struct ctl *ctl, const char *socket_path, bool user_bus, const char *command)
{
        int r;

        memset(ctl, 0, sizeof(*ctl));
        ctl->sock = -1;
        ctl->user_bus = user_bus;
        if (socket_path) {
                if (!socket_can(command)) {
                        fprintf(stderr, "bufsharectl: %s needs D-Bus; the socket answers only limits and info\n",
                                command);
                        return -EOPNOTSUPP;
                }
                return ctl_socket_open(ctl, socket_path);
        }
        r = ctl_bus_open(ctl);
        if (r == -EHOSTDOWN && socket_can(command))
                return open_default_socket(ctl, "no D-Bus");
        return r;
}

void ctl_close(struct ctl *ctl)
{
        ctl_bus_close(ctl);
        ctl_socket_close(ctl);
}

/* A bus call that found no daemon on the bus: the socket, if it can answer. */
static int fall_back(struct ctl *ctl, int r)
{
        if (r != -EHOSTDOWN)
                return r;
        ctl_bus_close(ctl);
        return open_default_socket(ctl, "no bufshared on D-Bus");
}

static int no_daemon(int r)
{
        if (r == -EHOSTDOWN)
                fprintf(stderr, "bufsharectl: no bufshared on the bus (org.bufshare1 has no owner)\n");
        return r;
}

static int buffer_id_cmp(const void *a, const void *b)
{
        uint64_t x = ((const struct ctl_buffer *)a)->id, y = ((const struct ctl_buffer *)b)->id;

        return x < y ? -1 : x > y;
}

/* The daemon lists in its own order (a hash table's): oldest id first. */
int ctl_list_buffers(struct ctl *ctl, struct ctl_buffer **ret, size_t *ret_n)
{
        int r = no_daemon(ctl_bus_list_buffers(ctl, ret, ret_n));

        if (r >= 0 && *ret_n > 1)
                qsort(*ret, *ret_n, sizeof(**ret), buffer_id_cmp);
        return r;
}

int ctl_describe_buffer(struct ctl *ctl, uint64_t id, struct ctl_buffer *ret)
{
        int r;

        if (ctl->bus) {
                r = fall_back(ctl, ctl_bus_describe_buffer(ctl, id, ret));
                if (r != 0 || ctl->bus)
                        return r;
        }
        return ctl_socket_describe_buffer(ctl, id, ret);
}

int ctl_list_clients(struct ctl *ctl, struct ctl_client **ret, size_t *ret_n)
{
        return no_daemon(ctl_bus_list_clients(ctl, ret, ret_n));
}

int ctl_get_stats(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n)
{
        return no_daemon(ctl_bus_get_stats(ctl, ret, ret_n));
}

int ctl_get_limits(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n)
{
        int r;

        if (ctl->bus) {
                r = fall_back(ctl, ctl_bus_get_limits(ctl, ret, ret_n));
                if (r != 0 || ctl->bus)
                        return r;
        }
        return ctl_socket_get_limits(ctl, ret, ret_n);
}

int ctl_monitor(struct ctl *ctl, bool json, unsigned count)
{
        return no_daemon(ctl_bus_monitor(ctl, json, count));
}

/* ---- JSON ---- */

