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

/* --pool: a 1080p producer and two consumers (one slow) through a pool of
 * three, @n_frames frames, every one checked. Returns the exit code. */
int demo_pool(const char *socket_path, unsigned n_frames);
