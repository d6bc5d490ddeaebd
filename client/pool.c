/* SPDX-License-Identifier: MIT */
/*
 * A pool: N buffers of one size, exported and mapped once, recycled.
 * The daemon makes it race-free: SUBMIT gives every other holder of the
 * buffer a read fence of its own, which it signals when it has read the
 * frame (bs_buffer_release_read()) or by dying (-EPIPE); acquire hands
 * out only a buffer with no fence pending, which it learns from a WRITE
 * sync file per buffer. wl_buffer.release, explicit and per consumer.
 *
 * That sync file comes with the submit's reply (SUBMIT_SYNC_FILE), so
 * that acquiring a buffer whose readers are done asks the daemon
 * nothing: one poll() of an fd the pool already holds.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "client-private.h"
#include "util.h"

struct pool_slot {
        struct bs_buffer *buffer;
        void *map;
        bool acquired;     /* the producer's, between acquire and submit */
        uint64_t submitted; /* when it was last submitted: oldest first */
        int sync_fd;       /* a WRITE sync file from its last submit or check, or -1 */
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
                struct pool_slot *s = &p->slots[i];

                safe_close(s->sync_fd);
                if (s->map)
                        buffer_vunmap(s->buffer, s->map);
                bs_buffer_put(s->buffer);
        }
        bs_client_unref(p->client);
        free(p);
        return NULL;
}

int pool_create(struct bs_client *c, unsigned n, uint64_t size, const char *heap, const char *name,
                            struct bs_pool **ret_pool)
{
        struct bs_pool *p;
        int r;

        lib_return_if(!c || !ret_pool || n == 0 || n > BS_POOL_MAX || size == 0, -EINVAL);
        lib_return_if(name && strlen(name) + 4 > BS_NAME_MAX - 1, -EINVAL); /* room for "-NNN" */
        lib_return_if(client_need_v2(c) < 0, -EOPNOTSUPP);
        p = calloc(1, sizeof(*p) + n * sizeof(p->slots[0]));
        if (!p)
                return -ENOMEM;
        p->client = bs_client_ref(c);
        p->n = n;
        for (unsigned i = 0; i < n; i++)
                p->slots[i].sync_fd = -EBADF;
        for (unsigned i = 0; i < n; i++) {
                char slot_name[BS_NAME_MAX];

                snprintf(slot_name, sizeof(slot_name), "%s-%u", name ? name : "pool", i);
                r = buffer_export(c, size, heap, slot_name, &p->slots[i].buffer);
                if (r == 0)
                        r = buffer_vmap(p->slots[i].buffer, &p->slots[i].map);
                if (r < 0) {
                        p->n = i + 1; /* what destroy undoes */
                        bs_pool_destroy(p);
                        return r;
                }
        }
        *ret_pool = p;
        return 0;
}

int pool_get_buffer(struct bs_pool *p, unsigned index, struct bs_buffer **ret_buffer, void **ret_map)
{
        lib_return_if(!p || index >= p->n, -EINVAL);
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

/* Slot @i is free (0) or still read (1); the slot's sync file, which
 * stays its own, is what to poll while it is read. Without one (the
 * first time, or when the daemon could not make one at the submit) the
 * daemon is asked for one, and so it is when the one it has ended with
 * no status: the daemon went away (a broken connection is the caller's
 * to hear of), or it was no sync file; and so it is when it ended with
 * -EPIPE, which a reader's death leaves, but also a daemon stopping
 * while the reader lives on. A reader that released with an error, or
 * died, is done with it all the same. */
static int slot_check(struct bs_pool *p, unsigned i)
{
        struct pool_slot *s = &p->slots[i];
        int r;

        for (unsigned tries = 0; tries < 2; tries++) {
                if (s->sync_fd < 0) {
                        r = buffer_export_sync_file(s->buffer, BS_SYNC_WRITE);
                        if (r < 0)
                                return r;
                        s->sync_fd = r;
                }
                r = sync_file_status(s->sync_fd);
                if (r == -EPIPE && tries == 0)
                        ; /* a reader died, or the daemon is going, which ends every fence so: ask it */
                else if (r != -EINVAL || sync_file_has_status(s->sync_fd)) /* -EINVAL may be a reader's */
                        return r == 0 ? 1 : 0;
                s->sync_fd = safe_close(s->sync_fd);
        }
        return -EPROTO; /* the daemon's own sync file says nothing */
}

int pool_acquire(struct bs_pool *p, int timeout_ms, unsigned *ret_index)
{
        unsigned order[BS_POOL_MAX], n, asked = 0;
        struct pollfd fds[BS_POOL_MAX];
        uint64_t deadline;
        int r = 0, found = -1, refused = 0;

        lib_return_if(!p || !ret_index || timeout_ms < -1, -EINVAL);
        deadline = timeout_ms < 0 ? UINT64_MAX : client_now_ms() + (uint64_t)timeout_ms;
        n = pool_order(p, order);
        if (n == 0)
                return -EBUSY; /* every buffer acquired, none submitted */
        /* the oldest is the likeliest to be free: look at one at a time */
        for (; asked < n && found < 0; asked++) {
                r = slot_check(p, order[asked]);
                if (r == 0)
                        found = (int)order[asked];
                else if (r < 0 && refused == 0)
                        refused = r; /* a later one may still be free */
                fds[asked] = (struct pollfd){ .fd = r == 1 ? p->slots[order[asked]].sync_fd : -1, .events = POLLIN };
        }
        if (found < 0 && refused < 0)
                return refused; /* none free, and one could not be looked at */
        while (found < 0) {
                int k = poll(fds, asked, client_ms_left(deadline));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -ETIME;
                for (unsigned i = 0; i < asked && found < 0; i++) {
                        if (!fds[i].revents)
                                continue;
                        r = slot_check(p, order[i]); /* woken with a status, or not */
                        if (r < 0)
                                return r;
                        if (r == 0)
                                found = (int)order[i];
                        else
                                fds[i].fd = p->slots[order[i]].sync_fd;
                }
        }
        /* its sync file is spent: the next submit brings a new one */
        p->slots[found].sync_fd = safe_close(p->slots[found].sync_fd);
        p->slots[found].acquired = true;
        *ret_index = (unsigned)found;
        return 0;
}

int pool_submit(struct bs_pool *p, unsigned index)
{
        struct pool_slot *s;
        struct bs_msg req, rep;
        int r;

        lib_return_if(!p || index >= p->n || !p->slots[index].acquired, -EINVAL);
        s = &p->slots[index];
        bs_msg_request(&req, BS_OP_SUBMIT_SYNC_FILE, 0);
        req.body.submit_req.buffer_id = s->buffer->id;
        r = client_call(p->client, &req, &rep);
        if (r < 0)
                return r;
        if (rep.n_fds == 1) /* else the daemon could not make one: acquire asks again */
                s->sync_fd = TAKE_FD(rep.fds[0]);
        s->acquired = false;
        s->submitted = ++p->n_submits;
        return (int)rep.body.submit_sync_file_rep.n_readers;
}
