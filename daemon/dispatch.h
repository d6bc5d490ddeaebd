/* SPDX-License-Identifier: MIT */
/*
 * Requests to registry calls: one handler per opcode, exactly one reply
 * per request. Handlers run only on messages message.c has validated.
 */
#pragma once

#include "message.h"
#include "server.h"

/*
 * Handle @req from @c and fill @rep. Returns 0 when the connection may go
 * on (the reply may still carry an error status), or a negative errno when
 * the request broke the protocol and the connection must close after the
 * reply is sent.
 */
int dispatch_request(struct conn *c, struct bs_msg *req, struct bs_msg *rep);
