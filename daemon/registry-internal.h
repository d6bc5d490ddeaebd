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

/* Close @fd, which a client of @uid may have filled, off the loop
 * (close_slow), counted as that uid's until it is closed. */
void registry_close_slow(struct registry *r, uid_t uid, int fd);

/* true if @ref includes a reference from a writable fd. */
bool ref_writable(const struct ref *ref);

/* Free @a (a detach); a reference's teardown frees its attachments too. */
void attachment_free(struct registry *r, struct attachment *a);
