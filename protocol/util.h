/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every part of bufshare: cleanup attributes that
 * keep errno, explicit fd ownership transfer, and argument checks.
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Public entry points validate and return; they never crash (STYLE C2). */
#define bs_return_if(cond, err)                                                \
        do {                                                                   \
                if (cond)                                                      \
                        return (err);                                          \
        } while (0)

/* Close @fd, keeping errno; -EBADF (any negative value) means "no fd". */
static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd)
{
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void freep(void *p)
{
        int saved = errno;
        free(*(void **)p);
        errno = saved;
}
#define _cleanup_free_ _cleanup_(freep)

/* Move ownership of an fd out of a cleanup variable. */
static inline int take_fd(int *fd)
{
        int r = *fd;
        *fd = -EBADF;
        return r;
}
#define TAKE_FD(fd) take_fd(&(fd))

static inline void *take_ptr(void **p)
{
        void *r = *p;
        *p = NULL;
        return r;
}
#define TAKE_PTR(p) take_ptr((void **)&(p))

/* true if @s (of array size @len) holds a NUL and only zeroes after it. */
static inline int bs_string_valid(const char *s, size_t len)
{
        static const char zeroes[64];
        const char *nul = memchr(s, '\0', len);
        size_t rest;

        if (!nul)
                return 0;
        /* the padding compared at once, not a byte at a time: names are
         * checked on every export and import */
        for (rest = (size_t)(s + len - nul); rest > sizeof(zeroes); rest -= sizeof(zeroes), nul += sizeof(zeroes))
                if (memcmp(nul, zeroes, sizeof(zeroes)) != 0)
                        return 0;
        return memcmp(nul, zeroes, rest) == 0;
}

/* Copy @src into a fixed wire field of @len bytes, zero-padded.
 * Returns -EINVAL if it doesn't fit with its NUL: names are never truncated. */
static inline int bs_string_set(char *dst, size_t len, const char *src)
{
        size_t n = src ? strlen(src) : 0;
        if (n >= len)
                return -EINVAL;
        memset(dst, 0, len);
        if (n)
                memcpy(dst, src, n);
        return 0;
}
