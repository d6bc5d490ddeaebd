/* SPDX-License-Identifier: MIT */
/* Who a buffer is: what the registry remembers after its release too. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

struct buffer_ident {
        uint64_t id;
        uint64_t size;
        dev_t dev;
        ino_t ino;
        char name[BS_NAME_LEN];
        char heap[BS_NAME_LEN];
        pid_t exporter_pid;
        uid_t exporter_uid;
        char exporter_comm[BS_COMM_LEN];
        uint64_t created_ns;
        struct bs_wire_description desc; /* all zero: none (image.h) */
};
