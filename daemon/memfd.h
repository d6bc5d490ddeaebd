/* SPDX-License-Identifier: MIT */
/*
 * Looking at a memfd without changing it: is it one, its name, its
 * seals, whether its inode can be reopened writable by others.
 */
#pragma once

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

/* Linux 6.3's, for older headers */
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

/* The memfd's seals, or -EBADFD if @fd is no memfd (another file, a
 * socket, an O_PATH fd on one), -EBADF if it is not open. */
int memfd_seals(int fd);

/*
 * The id in the name of a memfd the daemon created ("bufshare:ID").
 * Returns 0 with the id, -EBADFD if @fd is no memfd, -ENOENT if it is a
 * memfd of another name.
 */
int memfd_bufshare_id(int fd, uint64_t *ret_id);

/* true if no one but root and the owner can reopen @fd writable. */
bool memfd_inode_readonly(int fd);
