/* SPDX-License-Identifier: MIT */
/*
 * Attachments (dma_buf_attach() and dma_buf_map_attachment() in the
 * daemon's books): each hangs off the reference of the holder that made
 * it, so detaching everything of a holder costs only what it made, and
 * each holder may make at most max_attachments_per_client.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry-internal.h"

static struct hm_key id_key(uint64_t id)
{
        return (struct hm_key){ id, 0 };
}

int registry_attach(struct registry *r, struct holder *h, uint64_t id, const char *device,
                    uint64_t max_segment, struct attachment **ret)
{
        struct ref *ref = registry_ref_of(r, h, id);
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        struct attachment *a;
        int ret_;

        if (!ref)
                return -ENOENT;
        if (!device[0] || strlen(device) >= BS_NAME_LEN || max_segment % page != 0)
                return -EINVAL;
        ret_ = limits_check_attachments(r->limits, h->n_attachments);
        if (ret_ < 0)
                return ret_;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->id = r->next_attachment_id;
        a->ref = ref;
        a->max_segment = max_segment;
        snprintf(a->device, sizeof(a->device), "%s", device);
        ret_ = hashmap_put(&r->attachments, id_key(a->id), a);
        if (ret_ < 0) {
                free(a);
                return ret_;
        }
        r->next_attachment_id++;
        list_insert_tail(&ref->attachments, &a->ref_link);
        list_insert_tail(&ref->buffer->attachments, &a->buffer_link);
        ref->buffer->n_attachments++;
        h->n_attachments++;
        *ret = a;
        return 0;
}

static struct attachment *attachment_find(struct registry *r, struct holder *h, uint64_t id)
{
        struct attachment *a = hashmap_get(&r->attachments, id_key(id));
        return a && a->ref->holder == h ? a : NULL;
}

int registry_detach(struct registry *r, struct holder *h, uint64_t attachment_id)
{
        struct attachment *a = attachment_find(r, h, attachment_id);

        if (!a)
                return -ENOENT;
        attachment_free(r, a);
        return 0;
}

int registry_map_attachment(struct registry *r, struct holder *h, uint64_t attachment_id,
                            uint32_t direction)
{
        struct attachment *a = attachment_find(r, h, attachment_id);

        if (!a)
                return -ENOENT;
        if (direction > DIR_FROM_DEVICE)
                return -EINVAL;
        if (a->mapped)
                return -EBUSY;
        /* a device that writes needs a writable reference */
        if (direction != DIR_TO_DEVICE && !ref_writable(a->ref))
                return -EACCES;
        a->mapped = true;
        a->direction = (uint8_t)direction;
        return 0;
}

int registry_unmap_attachment(struct registry *r, struct holder *h, uint64_t attachment_id)
{
        struct attachment *a = attachment_find(r, h, attachment_id);

        if (!a)
                return -ENOENT;
        if (!a->mapped)
                return -EINVAL;
        a->mapped = false;
        return 0;
}
