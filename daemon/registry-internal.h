/* SPDX-License-Identifier: MIT */
/* What registry.c gives the files built on it (attachment.c, fence.c),
 * and what fence.c gives registry.c back. */
#pragma once

#include "registry.h"

/* @h's references on @b, or NULL: one table lookup. */
struct ref *registry_ref_find(struct registry *r, const struct buffer *b, const struct holder *h);

/* The buffer @id if @h holds a reference on it, with that reference. */
struct ref *registry_ref_of(struct registry *r, const struct holder *h, uint64_t id);

/* Close @fd at the next registry_flush(), once the reply is on its way
 * (now, if the list can't grow). */
void registry_close_later(struct registry *r, int fd);

/* true if @ref includes a reference from a writable fd. */
bool ref_writable(const struct ref *ref);

/* Free @a (a detach); a reference's teardown frees its attachments too. */
void attachment_free(struct registry *r, struct attachment *a);

/* fence.c's part in a holder's, a reference's and a buffer's life. */
void fence_holder_init(struct holder *h);
/* @h went away: its unsignalled fences are signalled with -EPIPE, its
 * fence records freed, its pending sync files left to whoever holds them. */
void fence_holder_drop(struct registry *r, struct holder *h);
/* @ref's holder dropped its last reference: it reads no more (status 0). */
void fence_ref_gone(struct registry *r, struct ref *ref);
/* @b leaves the registry; its pending fences still signal their waiters. */
void fence_buffer_gone(struct registry *r, struct buffer *b);
/* true if a fence that access with BS_WIRE_SYNC_* @flags waits for is
 * pending on @b. */
bool fence_buffer_busy(const struct buffer *b, uint32_t flags);
