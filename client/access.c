/* SPDX-License-Identifier: MIT */
/*
 * begin/end CPU access, as DMA_BUF_IOCTL_SYNC's START and END. Mappings
 * are coherent, so these exist to wait for fences and to tell the daemon
 * who is inside, never to flush caches.
 */
#include <errno.h>

#include "api.h"
#include "client-private.h"
#include "util.h"

#define BS_SYNC_VALID (BS_SYNC_READ | BS_SYNC_WRITE)
_Static_assert(BS_SYNC_READ == BS_WIRE_SYNC_READ && BS_SYNC_WRITE == BS_WIRE_SYNC_WRITE, "sync bits");

static int cpu_access(struct bs_buffer *b, unsigned flags, enum bs_opcode op)
{
        struct bs_msg req;

        bs_return_if(!b, -EINVAL);
        bs_return_if(flags == 0 || (flags & ~BS_SYNC_VALID), -EINVAL);
        bs_return_if(op == BS_OP_BEGIN_CPU_ACCESS && (flags & BS_SYNC_WRITE) && b->readonly, -EACCES);
        bs_msg_request(&req, op, 0);
        req.body.cpu_access_req.id = b->id;
        req.body.cpu_access_req.flags = flags;
        return client_call_status(b->client, &req);
}

int buffer_begin_cpu_access(struct bs_buffer *b, unsigned flags)
{
        return cpu_access(b, flags, BS_OP_BEGIN_CPU_ACCESS);
}

int buffer_end_cpu_access(struct bs_buffer *b, unsigned flags)
{
        return cpu_access(b, flags, BS_OP_END_CPU_ACCESS);
}
