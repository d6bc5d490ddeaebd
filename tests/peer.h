/* SPDX-License-Identifier: MIT */
/* Helpers for integration tests that use libbufshare across processes. */
#pragma once

#include "bufshare/bufshare.h"
#include "harness.h"

/*
 * Start @fn(@a) in a child with a socketpair to it, and send it an fd on
 * @b opened with @fd_flags. Returns the child's pid, or -errno. Undo with
 * test_peer_close() once the child is waited for.
 */
pid_t test_peer_start(struct test_peer *a, const char *socket, int (*fn)(void *arg), struct bs_buffer *b,
                      int fd_flags);
void test_peer_close(struct test_peer *a);

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

/*
 * The daemon @d's open fd count once it equals @want, asking with round
 * trips on @c (what it closes after a reply, or on its closer thread,
 * lands a moment later), within 10 s: the count then, whatever it is.
 */
int test_daemon_fds_settle(struct test_daemon *d, struct bs_client *c, int want);
