/* SPDX-License-Identifier: MIT */
/*
 * Requests to registry calls: one handler per opcode, at most one reply
 * per request. Handlers run only on messages message.c has validated.
 * Dispatch knows nothing of sockets: it is handed the session and what
 * every request may need, and says what to do with the reply.
 */
#pragma once

#include <stdbool.h>

#include "closer.h"
#include "limits.h"
#include "message.h"
#include "registry.h"
#include "session.h"
#include "token.h"

struct idle;

/* What every request may need; set up once by main. */
struct dispatch {
        struct registry *registry;
        const struct limits *limits;
        struct idle *idle; /* work for idle turns of the loop; may be NULL */
        struct token_table *tokens; /* /dev/bufshare's, redeemed by REDEEM */
        bool fd_exhaustion_logged; /* until an export succeeds again */
};

enum dispatch_result {
        DISPATCH_REPLY = 0, /* send @rep (it may carry an error status) */
        DISPATCH_SILENT = 1 /* the request asked for no reply */
};

/*
 * Handle @req from @s and fill @rep. Returns an enum dispatch_result, or
 * a negative errno when the request broke the protocol: then send @rep
 * (an error reply) and close the connection.
 */
int dispatch_request(struct dispatch *d, struct session *s, struct bs_msg *req, struct bs_msg *rep);

/* What @req, a received request, costs of a connection's turn on the
 * loop, in messages: an EXPORT_BATCH of n buffers costs n (1..32, however
 * it is answered), everything else 1. */
unsigned dispatch_request_cost(const struct bs_msg *req);

/* What the fds of a request of @opcode must be (closer.h): sync files
 * are sockets; every other fd a request carries is a buffer's memfd. */
enum closer_want dispatch_fd_want(uint16_t opcode);

/* Fill @rep to answer @req, whose fds could not be received because the
 * daemon is out of fds: -EMFILE, logged once per shortage. */
void dispatch_out_of_fds(struct dispatch *d, struct session *s, const struct bs_msg *req,
                         struct bs_msg *rep);
