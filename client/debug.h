/* SPDX-License-Identifier: MIT */
/*
 * BUFSHARE_DEBUG=1: each public call that fails prints one line to
 * stderr: the call, its arguments, the error, and the reason: the
 * daemon's refusal of a request (what its errno means for that request,
 * as PROTOCOL.md says), the broken connection, or the library's own
 * check. Without the variable the library prints nothing, ever (C6).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* Whether BUFSHARE_DEBUG is set to a value other than 0 (read once). */
bool debug_enabled(void);

/* A public call starts: forget the daemon's answers to earlier calls of
 * this thread. */
void debug_begin(void);

/* The daemon answered request @opcode with @status < 0 (client_call()). */
void debug_note_refusal(uint16_t opcode, int status);

/* A check of the library's own refused with @err: the condition @cond,
 * as written, is the reason BUFSHARE_DEBUG's line gives for @err, until
 * this thread's next public call. */
void debug_note_check(const char *cond, int err);

/* bs_return_if() for the library's own checks: one that refuses is
 * named by BUFSHARE_DEBUG's line (debug_note_check()). */
#define lib_return_if(cond, err)                                               \
        do {                                                                   \
                if (cond) {                                                    \
                        debug_note_check(#cond, (err));                        \
                        return (err);                                          \
                }                                                              \
        } while (0)

/* @call failed with @r: print it with its arguments (@fmt) and the
 * reason, if debugging. Returns @r. */
int debug_fail(int r, const char *call, const char *fmt, ...) _printf_(3, 4);

/* Return @r from public call @call, reporting it first if it failed. */
#define DEBUG_RETURN(r, call, ...) ((r) < 0 ? debug_fail((int)(r), call, __VA_ARGS__) : (r))
