/* SPDX-License-Identifier: MIT */
/* Helpers for integration tests that use libbufshare across processes. */
#pragma once

#include "bufshare/bufshare.h"
#include "harness.h"

/*
 * In a child: receive the fd the test sends over @a->sock, connect to the
 * daemon and import it. Returns 0 with both, or -errno with neither.
 */
int test_peer_import(const struct test_peer *a, struct bs_client **ret_client, struct bs_buffer **ret_buffer);

/*
 * Ask @b's info until at most @n_refs references are left, with a 10 s
 * deadline. A killed peer's hang-up and our requests arrive on different
 * sockets, which epoll doesn't order, so the daemon may see it a little
 * later; each ask is a round trip, not a sleep. Returns 0 or -errno.
 */
int test_info_until_refs(struct bs_buffer *b, uint32_t n_refs, struct bs_buffer_info *ret_info);
