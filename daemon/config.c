/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static int fail(char *err, size_t len, int r, const char *fmt, ...) _printf_(4, 5);
static int fail(char *err, size_t len, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
        return r;
}

static char *strip(char *s)
{
        char *end;

        while (isspace((unsigned char)*s))
                s++;
        end = s + strlen(s);
        while (end > s && isspace((unsigned char)end[-1]))
                *--end = '\0';
        return s;
}

/* The whole file into @buf (NUL-terminated), at most CONFIG_MAX_SIZE bytes. */
static int read_file(const char *path, char *buf, size_t len, char *err, size_t err_len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t n = 0;
        ssize_t k;

        if (fd < 0)
                return fail(err, err_len, -errno, "%s: %s", path, strerror(errno));
        for (;;) {
                k = read(fd, buf + n, len - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return fail(err, err_len, -errno, "%s: %s", path, strerror(errno));
                if (k == 0)
                        break;
                n += (size_t)k;
                if (n == len)
                        return fail(err, err_len, -EFBIG, "%s: larger than %u bytes", path, CONFIG_MAX_SIZE);
        }
        buf[n] = '\0';
        if (memchr(buf, '\0', n))
                return fail(err, err_len, -EINVAL, "%s: holds a NUL byte, not a text file", path);
        return 0;
}

int config_read_limits(const char *path, struct limits_overrides *ret, char *err, size_t err_len)
{
        static char buf[CONFIG_MAX_SIZE + 1];
        struct limits_overrides o = {};
        char *line, *next;
        unsigned lineno = 0;
        int r;

        r = read_file(path, buf, sizeof(buf), err, err_len);
        if (r < 0)
                return r;
        for (line = buf; line; line = next) {
                const struct limit_desc *d;
                char *eq, *key, *value;
                uint64_t v;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                lineno++;
                line = strip(line);
                if (!*line || *line == '#')
                        continue;
                eq = strchr(line, '=');
                if (!eq)
                        return fail(err, err_len, -EINVAL, "%s:%u: not \"key = value\"", path, lineno);
                *eq = '\0';
                key = strip(line);
                value = strip(eq + 1);
                d = limits_lookup(key);
                if (!d)
                        return fail(err, err_len, -EINVAL, "%s:%u: unknown key \"%.64s\"", path, lineno, key);
                if (limits_parse(d, value, &v) < 0 || limits_override(&o, d, v) < 0)
                        return fail(err, err_len, -EINVAL, "%s:%u: %s = \"%.64s\": not %s", path, lineno, key,
                                    value, d->kind == LIMIT_SIZE ? "a size (e.g. 4096, 64M, 2G)" :
                                                                   "a count from 1 to 4294967295");
        }
        *ret = o;
        return 0;
}
