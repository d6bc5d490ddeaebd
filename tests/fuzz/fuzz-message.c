/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the message decoder (STYLE F5). The first input byte is the number
 * of fds "received" (0..BS_MAX_FDS), the rest is the datagram. A message
 * the decoder accepts must re-encode to the same bytes; the only allowed
 * rejection is -EPROTO.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t again[BS_MSG_MAX_SIZE];
        struct bs_msg m;
        unsigned n_fds;
        int r;

        if (size < 1)
                return 0;
        n_fds = data[0] % (BS_MAX_FDS + 1);
        data++;
        size--;

        r = bs_msg_decode(&m, data, size, n_fds);
        if (r < 0) {
                assert(r == -EPROTO);
                return 0;
        }
        assert(m.hdr.size == size);
        assert(m.hdr.n_fds == n_fds);
        /* only an error reply may carry an opcode this side doesn't know */
        assert(bs_op_lookup(m.hdr.opcode) != NULL ||
               ((m.hdr.flags & BS_MSG_REPLY) && m.body.status.status < 0 && n_fds == 0));
        r = bs_msg_encode(&m, again, sizeof(again));
        assert(r == (int)size);
        assert(memcmp(again, data, size) == 0);
        return 0;
}
