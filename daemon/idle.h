/* SPDX-License-Identifier: MIT */
/*
 * What the daemon does while no client waits for it: refilling the
 * reserve of fresh memfds (reserve.h). One libevent event of the lowest
 * priority: libevent runs it only in a loop iteration where no other
 * event was ready, so a request that arrives meanwhile goes first, and
 * each run makes at most IDLE_STEP memfds (~3.5 us each here) before the
 * loop looks at the sockets again.
 */
#pragma once

struct event_base;
struct registry;
struct idle;

/* Memfds made per idle run. */
#define IDLE_STEP 8

/*
 * The idle work of @r on @base. Call it right after event_base_new(),
 * before any other event exists: it gives the base its priorities (0
 * and 1 for everything else, 1 by default; 2 for this). Returns 0 or
 * -ENOMEM.
 */
int idle_new(struct event_base *base, struct registry *r, struct idle **ret);
void idle_free(struct idle *i);

/* After a batch of requests: schedule the idle work if there is any.
 * NULL-safe (a daemon core without a loop, as in tests). */
void idle_kick(struct idle *i);
