/* SPDX-License-Identifier: MIT */
/*
 * The physical floors bufshare is compared with, measured in the same run
 * by a helper process of raw syscalls (no bufshare code):
 *   export  64-byte request -> memfd_create + ftruncate + seals + fchmod
 *           0444 -> fd back
 *   import  64-byte request + 1 fd -> fstat -> close -> 64-byte reply
 *   ping    64-byte SOCK_SEQPACKET ping-pong
 *   fd      64-byte request -> an fd that exists already -> the client closes it
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

struct floor_server {
        pid_t pid;
        int sock;
};

int floor_start(struct floor_server *f);
void floor_stop(struct floor_server *f);

/* What the helper does for an export, here: memfd_create, ftruncate,
 * seals against grow, shrink and more seals. Returns the fd or -errno. */
int floor_memfd(uint64_t size);

/* A sealed memfd of @size bytes, mode 0444, from the helper. Returns the
 * fd or -errno. */
int floor_export(struct floor_server *f, uint64_t size);
/* Send @fd to the helper, which fstats and closes it, and wait. */
int floor_import(struct floor_server *f, int fd);
/* One 64-byte round trip. */
int floor_ping(struct floor_server *f);
/* A round trip whose reply carries one fd (the same memfd each time):
 * what any daemon handing out an fd pays at least. The fd (the caller
 * closes it) or -errno. */
int floor_fd_roundtrip(struct floor_server *f);
