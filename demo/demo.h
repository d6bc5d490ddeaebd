/* SPDX-License-Identifier: MIT */
/* What the demo's two modes share. */
#pragma once

#include <stdio.h>

/* One line of the story, said by @who. */
#define step(who, ...)                                                         \
        do {                                                                   \
                printf("[%-10s] ", who);                                       \
                printf(__VA_ARGS__);                                           \
                printf("\n");                                                  \
                fflush(stdout);                                                \
        } while (0)

#include <sys/types.h>

/* Fork consumer @k running @fn(@socket_path, @k, its end of a new
 * socketpair) and exiting with its result; the test's end in *@ret_sock.
 * Returns the pid, or -1 after saying why. */
pid_t demo_fork(int (*fn)(const char *socket_path, unsigned k, int sock), const char *socket_path, unsigned k,
                int *ret_sock);

/* --pool: a 1080p producer and two consumers (one slow) through a pool of
 * three, @n_frames frames, every one checked. Returns the exit code. */
int demo_pool(const char *socket_path, unsigned n_frames);
