/* SPDX-License-Identifier: MIT */
/* An intrusive doubly-linked list, as in libwayland's wl_list. */
#pragma once

#include <stddef.h>

struct list {
        struct list *prev, *next;
};

static inline void list_init(struct list *l)
{
        l->prev = l->next = l;
}

static inline int list_empty(const struct list *l)
{
        return l->next == l;
}

static inline void list_insert_tail(struct list *head, struct list *e)
{
        e->prev = head->prev;
        e->next = head;
        head->prev->next = e;
        head->prev = e;
}

static inline void list_remove(struct list *e)
{
        e->prev->next = e->next;
        e->next->prev = e->prev;
        list_init(e);
}

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define list_for_each_safe(pos, tmp, head)                                     \
        for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)
