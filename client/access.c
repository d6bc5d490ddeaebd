/* SPDX-License-Identifier: MIT */
/*
 * begin/end CPU access, as DMA_BUF_IOCTL_SYNC's START and END. Mappings
 * are coherent, so these exist to wait for fences and to tell the daemon
 * who is inside, never to flush caches. A version 2 daemon answers a
 * begin with -EBUSY while a conflicting fence is pending; the library
 * then waits on a sync file and asks again (client_begin_cpu_access()).
 */
#include <errno.h>

#include "api.h"
#include "client-private.h"
#include "util.h"

#define BS_SYNC_VALID (BS_SYNC_READ | BS_SYNC_WRITE)
_Static_assert(BS_SYNC_READ == BS_WIRE_SYNC_READ && BS_SYNC_WRITE == BS_WIRE_SYNC_WRITE, "sync bits");

int buffer_begin_cpu_access_timeout(struct bs_buffer *b, unsigned flags, int timeout_ms)
{
        lib_return_if(!b, -EINVAL);
        lib_return_if(flags == 0 || (flags & ~BS_SYNC_VALID), -EINVAL);
        lib_return_if(timeout_ms < -1, -EINVAL);
        lib_return_if((flags & BS_SYNC_WRITE) && b->readonly, -EACCES);
        return client_begin_cpu_access(b, flags, timeout_ms);
}

int buffer_begin_cpu_access(struct bs_buffer *b, unsigned flags)
{
        lib_return_if(!b, -EINVAL);
        return buffer_begin_cpu_access_timeout(b, flags, client_timeout(b->client));
}

int buffer_end_cpu_access(struct bs_buffer *b, unsigned flags)
{
        struct bs_msg req;

        lib_return_if(!b, -EINVAL);
        lib_return_if(flags == 0 || (flags & ~BS_SYNC_VALID), -EINVAL);
        bs_msg_request(&req, BS_OP_END_CPU_ACCESS, 0);
        req.body.cpu_access_req.id = b->id;
        req.body.cpu_access_req.flags = flags;
        return client_call_status(b->client, &req);
}
