/* SPDX-License-Identifier: MIT */
/*
 * Attachments: dma_buf_attach(), dma_buf_map_attachment() and their
 * undoing. The daemon records the device and whether it is mapped; the
 * segment table describes the memfd's pages, cut at the attachment's
 * max segment size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "client-private.h"
#include "util.h"

_Static_assert(BS_DMA_BIDIRECTIONAL == 0 && BS_DMA_TO_DEVICE == 1 && BS_DMA_FROM_DEVICE == 2,
               "the kernel's enum dma_data_direction values");

int buffer_attach_segmented(struct bs_buffer *b, const char *device, uint64_t max_segment,
                                        struct bs_attachment **ret_attachment)
{
        struct bs_attachment *a;
        struct bs_msg req, rep;
        int r;

        lib_return_if(!b || !device || !ret_attachment, -EINVAL);
        lib_return_if(!device[0], -EINVAL);
        lib_return_if(max_segment % client_page_size() != 0, -EINVAL);
        bs_msg_request(&req, BS_OP_ATTACH, 0);
        req.body.attach_req.id = b->id;
        req.body.attach_req.max_segment = max_segment;
        r = bs_string_set(req.body.attach_req.device, BS_NAME_LEN, device);
        if (r < 0)
                return r;

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        r = client_call(b->client, &req, &rep);
        if (r < 0) {
                free(a);
                return r;
        }
        a->buffer = bs_buffer_ref(b);
        a->id = rep.body.attach_rep.attachment_id;
        a->max_segment = max_segment;
        *ret_attachment = a;
        return 0;
}

int buffer_attach(struct bs_buffer *b, const char *device, struct bs_attachment **ret_attachment)
{
        return buffer_attach_segmented(b, device, 0, ret_attachment);
}

/* The buffer's pages, in segments of at most max_segment bytes. */
static int table_build(struct bs_attachment *a)
{
        uint64_t size = a->buffer->size;
        uint64_t seg = a->max_segment ? a->max_segment : size;
        uint64_t n = size / seg + (size % seg != 0);

        a->segments = calloc(n, sizeof(*a->segments));
        if (!a->segments)
                return -ENOMEM;
        for (uint64_t i = 0; i < n; i++) {
                a->segments[i].offset = i * seg;
                a->segments[i].length = i + 1 < n ? seg : size - i * seg;
        }
        a->table.n_segments = (uint32_t)n;
        a->table.segments = a->segments;
        return 0;
}

static void table_free(struct bs_attachment *a)
{
        free(a->segments);
        a->segments = NULL;
        memset(&a->table, 0, sizeof(a->table));
}

int attachment_map(struct bs_attachment *a, enum bs_data_direction direction,
                               const struct bs_sg_table **ret_table)
{
        struct bs_msg req;
        int r;

        lib_return_if(!a || !ret_table, -EINVAL);
        lib_return_if((unsigned)direction > BS_DMA_FROM_DEVICE, -EINVAL);
        lib_return_if(a->mapped, -EBUSY);
        lib_return_if(direction != BS_DMA_TO_DEVICE && a->buffer->readonly, -EACCES);
        r = table_build(a);
        if (r < 0)
                return r;
        bs_msg_request(&req, BS_OP_MAP_ATTACHMENT, 0);
        req.body.map_attachment_req.attachment_id = a->id;
        req.body.map_attachment_req.direction = (uint32_t)direction;
        r = client_call_status(a->buffer->client, &req);
        if (r < 0) {
                table_free(a);
                return r;
        }
        a->mapped = true;
        *ret_table = &a->table;
        return 0;
}

int attachment_unmap(struct bs_attachment *a, const struct bs_sg_table *table)
{
        struct bs_msg req;
        int r;

        lib_return_if(!a || !table, -EINVAL);
        lib_return_if(!a->mapped || table != &a->table, -EINVAL);
        bs_msg_request(&req, BS_OP_UNMAP_ATTACHMENT, 0);
        req.body.id_req.id = a->id;
        r = client_call_status(a->buffer->client, &req);
        /* unmapped either way: a broken connection unmapped everything */
        a->mapped = false;
        table_free(a);
        return r;
}

int buffer_detach(struct bs_buffer *b, struct bs_attachment *a)
{
        struct bs_msg req;
        int r;

        lib_return_if(!b || !a || a->buffer != b, -EINVAL);
        /* the daemon unmaps a mapped attachment as it detaches it */
        bs_msg_request(&req, BS_OP_DETACH, 0);
        req.body.id_req.id = a->id;
        r = client_call_status(b->client, &req);
        table_free(a);
        bs_buffer_put(a->buffer);
        free(a);
        return r;
}
