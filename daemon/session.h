/* SPDX-License-Identifier: MIT */
/*
 * One client of the socket protocol, as dispatch sees it: its holder in
 * the registry, the protocol version it agreed in HELLO, its name, and
 * its budget of log lines. The connection that carries it owns it.
 */
#pragma once

#include <stdint.h>

#include "log.h"
#include "registry.h"
#include "util.h"

struct session {
        struct holder holder;
        uint32_t version; /* 0 until HELLO */
        char name[BS_NAME_LEN];
        struct ratelimit log_rl;
};

/* Log @s's misbehaviour: one line, rate-limited per client and for all
 * clients together, naming the client with its names escaped. */
void session_log_bug(struct session *s, const char *fmt, ...) _printf_(2, 3);
