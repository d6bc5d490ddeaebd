/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define RATELIMIT_BURST 10

static enum log_level max_level = LOG_LVL_INFO;

static const char *const level_names[] = {
        [LOG_LVL_ERROR] = "error",
        [LOG_LVL_WARN] = "warning",
        [LOG_LVL_INFO] = "info",
        [LOG_LVL_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
        max_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
        char line[512];
        va_list ap;
        int saved = errno;

        if (level > max_level)
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        /* the last line of defence: one event is one line, and no byte
         * of it reaches a terminal as a control character */
        for (char *p = line; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        fprintf(stderr, "bufshared: %s: %s\n", level_names[level], line);
        errno = saved;
}

int ratelimit_allow(struct ratelimit *rl)
{
        struct timespec ts;
        uint64_t now;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        if (rl->last_ns == 0 || now - rl->last_ns >= 1000000000ull) {
                uint64_t refill = rl->last_ns ? (now - rl->last_ns) / 1000000000ull : RATELIMIT_BURST;
                rl->tokens = refill >= RATELIMIT_BURST ? RATELIMIT_BURST : rl->tokens + (unsigned)refill;
                if (rl->tokens > RATELIMIT_BURST)
                        rl->tokens = RATELIMIT_BURST;
                rl->last_ns = now;
        }
        if (rl->tokens == 0) {
                rl->suppressed++;
                return 0;
        }
        rl->tokens--;
        return 1;
}

int log_client_allowed(struct ratelimit *rl)
{
        static struct ratelimit all_clients;
        return ratelimit_allow(rl) && ratelimit_allow(&all_clients);
}

void log_escape(char *dst, size_t len, const char *src)
{
        size_t o = 0;

        if (len == 0)
                return;
        for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
                bool plain = *p >= 0x20 && *p < 0x7f && *p != '\\';
                size_t need = plain ? 1 : 4;
                if (o + need >= len)
                        break;
                if (plain)
                        dst[o++] = (char)*p;
                else
                        o += (size_t)snprintf(dst + o, len - o, "\\x%02x", *p);
        }
        dst[o] = '\0';
}
