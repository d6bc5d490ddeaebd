/* SPDX-License-Identifier: MIT */
/*
 * A pool: N buffers of one size, exported and mapped once, recycled.
 * The daemon makes it race-free: SUBMIT gives every other holder of the
 * buffer a read fence of its own, which it signals when it has read the
 * frame (bs_buffer_release_read()) or by dying (-EPIPE); acquire hands
 * out only a buffer with no fence pending, which it learns from a WRITE
 * sync file per buffer. wl_buffer.release, explicit and per consumer.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-private.h"
#include "util.h"

struct pool_slot {
        struct bs_buffer *buffer;
        void *map;
        bool acquired;     /* the producer's, between acquire and submit */
        uint64_t submitted; /* when it was last submitted: oldest first */
};

struct bs_pool {
        struct bs_client *client;
        unsigned n;
        uint64_t n_submits;
        struct pool_slot slots[];
};

_public_ struct bs_pool *bs_pool_destroy(struct bs_pool *p)
{
        if (!p)
                return NULL;
        for (unsigned i = 0; i < p->n; i++) {
                if (p->slots[i].map)
                        bs_buffer_vunmap(p->slots[i].buffer, p->slots[i].map);
                bs_buffer_put(p->slots[i].buffer);
        }
        bs_client_unref(p->client);
        free(p);
        return NULL;
}

_public_ int bs_pool_create(struct bs_client *c, unsigned n, uint64_t size, const char *heap, const char *name,
                            struct bs_pool **ret_pool)
{
        struct bs_pool *p;
        int r;

        bs_return_if(!c || !ret_pool || n == 0 || n > BS_POOL_MAX || size == 0, -EINVAL);
        bs_return_if(name && strlen(name) + 4 > BS_NAME_MAX - 1, -EINVAL); /* room for "-NNN" */
        bs_return_if(client_need_v2(c) < 0, -EOPNOTSUPP);
        p = calloc(1, sizeof(*p) + n * sizeof(p->slots[0]));
        if (!p)
                return -ENOMEM;
        p->client = bs_client_ref(c);
        p->n = n;
        for (unsigned i = 0; i < n; i++) {
                char slot_name[BS_NAME_MAX];

                snprintf(slot_name, sizeof(slot_name), "%s-%u", name ? name : "pool", i);
                r = bs_buffer_export(c, size, heap, slot_name, &p->slots[i].buffer);
                if (r == 0)
                        r = bs_buffer_vmap(p->slots[i].buffer, &p->slots[i].map);
                if (r < 0) {
                        p->n = i + 1; /* what destroy undoes */
                        bs_pool_destroy(p);
                        return r;
                }
        }
        *ret_pool = p;
        return 0;
}

_public_ int bs_pool_get_buffer(struct bs_pool *p, unsigned index, struct bs_buffer **ret_buffer, void **ret_map)
{
        bs_return_if(!p || index >= p->n, -EINVAL);
        if (ret_buffer)
                *ret_buffer = p->slots[index].buffer;
        if (ret_map)
                *ret_map = p->slots[index].map;
        return 0;
}

/* Candidates for acquire, least recently submitted first. */
static unsigned pool_order(const struct bs_pool *p, unsigned *order)
{
        unsigned n = 0;

        for (unsigned i = 0; i < p->n; i++) {
                unsigned j;

                if (p->slots[i].acquired)
                        continue;
                for (j = n; j > 0 && p->slots[order[j - 1]].submitted > p->slots[i].submitted; j--)
                        order[j] = order[j - 1];
                order[j] = i;
                n++;
        }
        return n;
}

/* Slot @i is free (0) or still read (1); *@fd is a WRITE sync file on
 * it, to poll while it is read. A reader that released with an error,
 * or died, is done with it all the same. */
static int slot_check(struct bs_pool *p, unsigned i, int *fd)
{
        *fd = bs_buffer_export_sync_file(p->slots[i].buffer, BS_SYNC_WRITE);
        if (*fd < 0)
                return *fd;
        return bs_sync_file_status(*fd) == 0 ? 1 : 0;
}

_public_ int bs_pool_acquire(struct bs_pool *p, int timeout_ms, unsigned *ret_index)
{
        unsigned order[BS_POOL_MAX], n, asked = 0;
        struct pollfd fds[BS_POOL_MAX];
        uint64_t deadline;
        int r = 0, found = -1;

        bs_return_if(!p || !ret_index || timeout_ms < -1, -EINVAL);
        deadline = timeout_ms < 0 ? UINT64_MAX : client_now_ms() + (uint64_t)timeout_ms;
        n = pool_order(p, order);
        if (n == 0)
                return -EBUSY; /* every buffer acquired, none submitted */
        /* the oldest is the likeliest to be free: ask one at a time */
        for (; asked < n && found < 0; asked++) {
                fds[asked] = (struct pollfd){ .events = POLLIN };
                r = slot_check(p, order[asked], &fds[asked].fd);
                if (r == 1)
                        continue;
                found = (int)order[asked];
                if (r < 0)
                        break;
        }
        while (found < 0 && r >= 0) {
                int k = poll(fds, asked, client_ms_left(deadline));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0) {
                        r = -ETIME;
                        break;
                }
                for (unsigned i = 0; i < asked; i++)
                        if (fds[i].revents) {
                                found = (int)order[i];
                                break;
                        }
        }
        for (unsigned i = 0; i < asked; i++)
                safe_close(fds[i].fd);
        if (r < 0)
                return r;
        p->slots[found].acquired = true;
        *ret_index = (unsigned)found;
        return 0;
}

_public_ int bs_pool_submit(struct bs_pool *p, unsigned index)
{
        struct bs_msg req, rep;
        int r;

        bs_return_if(!p || index >= p->n || !p->slots[index].acquired, -EINVAL);
        bs_msg_request(&req, BS_OP_SUBMIT, 0);
        req.body.submit_req.buffer_id = p->slots[index].buffer->id;
        r = client_call(p->client, &req, &rep);
        if (r < 0)
                return r;
        p->slots[index].acquired = false;
        p->slots[index].submitted = ++p->n_submits;
        return (int)rep.body.submit_rep.n_readers;
}
