/* SPDX-License-Identifier: MIT */
/*
 * The daemon's log: one line per event on stderr, "bufshared: level: ...".
 * Client misbehaviour goes through log_client(), rate-limited per client so
 * a hostile peer can't flood the journal (STYLE C6).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* A token bucket: at most @burst lines, refilled one per second. */
struct ratelimit {
        uint64_t last_ns;
        unsigned tokens;
        unsigned suppressed;
};

/* true if one more line may be logged now (and counts it). */
int ratelimit_allow(struct ratelimit *rl);

/* true if a line about a client's misbehaviour may be logged: within
 * its own budget @rl and within one budget for all clients together, so
 * that a peer reconnecting for a fresh budget still can't flood the log. */
int log_client_allowed(struct ratelimit *rl);

/* Copy @src into @dst (@len bytes) with every byte outside printable
 * ASCII, and the backslash, written as \xHH: names and process names
 * come from clients and must not forge log lines or send escapes to a
 * terminal. Truncates to fit; always NUL-terminated. */
void log_escape(char *dst, size_t len, const char *src);
