/* SPDX-License-Identifier: MIT */
/* What registry.c gives the files built on it (attachment.c). */
#pragma once

#include "registry.h"

/* @h's references on @b, or NULL: one table lookup. */
struct ref *registry_ref_find(struct registry *r, const struct buffer *b, const struct holder *h);

/* The buffer @id if @h holds a reference on it, with that reference. */
struct ref *registry_ref_of(struct registry *r, const struct holder *h, uint64_t id);

/* true if @ref includes a reference from a writable fd. */
bool ref_writable(const struct ref *ref);

/* Free @a (a detach); a reference's teardown frees its attachments too. */
void attachment_free(struct registry *r, struct attachment *a);
