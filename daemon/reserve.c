/* SPDX-License-Identifier: MIT */
#include "reserve.h"

#include <errno.h>
#include <string.h>

#include "util.h"

void reserve_init(struct reserve *res, unsigned target)
{
        memset(res, 0, sizeof(*res));
        res->target = target < RESERVE_MAX ? target : RESERVE_MAX;
}

void reserve_done(struct reserve *res)
{
        struct reserve_entry e;

        while (reserve_take(res, &e) == 0)
                safe_close(e.fd);
}

int reserve_take(struct reserve *res, struct reserve_entry *ret)
{
        if (res->n == 0)
                return -ENOENT;
        *ret = res->e[res->head];
        res->head = (res->head + 1) % RESERVE_MAX;
        res->n--;
        return 0;
}

void reserve_put(struct reserve *res, const struct reserve_entry *e)
{
        if (res->n == RESERVE_MAX) { /* never: the caller checks */
                safe_close(e->fd);
                return;
        }
        res->e[(res->head + res->n) % RESERVE_MAX] = *e;
        res->n++;
}
