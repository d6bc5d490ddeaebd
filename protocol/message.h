/* SPDX-License-Identifier: MIT */
/*
 * Encoding and strict decoding of bufshare messages. Pure: no I/O here,
 * so every rule is unit-tested and fuzzed without a socket.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* One message and the fds that travel with it. The message owns its fds:
 * bs_msg_clear() closes whatever is left; a handler that keeps one takes it
 * with TAKE_FD(m->fds[i]). */
struct bs_msg {
        struct bs_msg_header hdr;
        union bs_msg_body body;
        int fds[BS_MAX_FDS];
        unsigned n_fds;
        unsigned borrowed; /* bit i: fds[i] is only lent, bs_msg_clear() leaves it open */
        size_t len; /* bytes received; >= sizeof(hdr) means hdr is usable */
};
_Static_assert(offsetof(struct bs_msg, body) == sizeof(struct bs_msg_header),
               "header and body are contiguous on the wire");
_Static_assert(BS_MAX_FDS <= 32, "bs_msg.borrowed has a bit per fd");

/* What the descriptor table says about one opcode (STYLE G3). */
struct bs_op_desc {
        const char *name;
        uint16_t since;    /* first protocol version with this opcode */
        uint16_t req_size; /* body bytes of the request */
        uint16_t rep_size; /* body bytes of a successful reply */
        uint8_t req_fds;   /* fds the request carries */
        uint8_t rep_fds;   /* fds a successful reply carries (at most, with rep_n_fds) */
        /* when set, the exact fd count of a successful reply, from its body */
        unsigned (*rep_n_fds)(const union bs_msg_body *b);
        bool oneway_ok;    /* the request may carry BS_MSG_NO_REPLY */
        bool (*req_valid)(const union bs_msg_body *b);
        bool (*rep_valid)(const union bs_msg_body *b);
};

/* The descriptor of @opcode, or NULL when it is unknown. */
const struct bs_op_desc *bs_op_lookup(uint16_t opcode);
const char *bs_op_name(uint16_t opcode);

/* An empty message with no fds. */
void bs_msg_init(struct bs_msg *m);
/* Close every fd @m still owns; @m is then empty. */
void bs_msg_clear(struct bs_msg *m);

/* A zeroed request of @op with its size set. */
void bs_msg_request(struct bs_msg *m, enum bs_opcode op, uint32_t serial);
/* A zeroed successful reply to the request header @req. */
void bs_msg_reply(struct bs_msg *m, const struct bs_msg_header *req);
/* An error reply (@status < 0) to the request header @req: status only. */
void bs_msg_reply_error(struct bs_msg *m, const struct bs_msg_header *req, int status);
/* Attach @fd (ownership moves to @m). Returns -E2BIG when full, and then
 * closes @fd so that it never leaks. */
int bs_msg_add_fd(struct bs_msg *m, int fd);
/* Attach @fd without ownership: it must stay open until @m is sent or
 * cleared, and bs_msg_clear() leaves it open. Saves a dup and a close
 * when the sender keeps the fd anyway (SCM_RIGHTS copies it). */
int bs_msg_lend_fd(struct bs_msg *m, int fd);

/*
 * Decode @len bytes that arrived with @n_fds fds into @ret (hdr, body and
 * len; fds are the caller's business). Strict: exact sizes, zero reserved
 * fields, known opcode and flags, NUL-terminated zero-padded strings, the
 * declared fd count equal to @n_fds and to the opcode's.
 * Returns 0, or -EPROTO for any malformed message.
 */
int bs_msg_decode(struct bs_msg *ret, const void *data, size_t len, unsigned n_fds);

/* Copy whatever of a header and body @data holds into @ret, unchecked,
 * and set ret->len: for answering a message that can't be decoded. */
void bs_msg_peek(struct bs_msg *ret, const void *data, size_t len);

/* Copy the wire form of @m into @buf. Returns the byte count, or -ENOBUFS. */
int bs_msg_encode(const struct bs_msg *m, void *buf, size_t len);
