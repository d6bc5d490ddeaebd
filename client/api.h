/* SPDX-License-Identifier: MIT */
/*
 * The implementations behind the public entry points. api.c defines each
 * bs_* function as a call to its implementation here, so that one place
 * reports failures when BUFSHARE_DEBUG asks (debug.h). The names are the
 * public ones without the prefix; the arguments and errors are theirs
 * (include/bufshare/bufshare.h).
 */
#pragma once

#include "bufshare/bufshare.h"
#include "wire.h"

int client_connect(const char *socket_path, struct bs_client **ret_client);
int client_sync(struct bs_client *c);
int client_set_timeout(struct bs_client *c, int timeout_ms);
int64_t client_max_buffer_size(struct bs_client *c);
int client_get_limits(struct bs_client *c, struct bs_limits *ret_limits);
int client_list_heaps(struct bs_client *c, char names[][BS_NAME_MAX], unsigned n_names);

int buffer_export(struct bs_client *c, uint64_t size, const char *heap, const char *name,
                  struct bs_buffer **ret_buffer);
int buffer_export_described(struct bs_client *c, uint64_t size, const char *heap, const char *name,
                            const struct bs_image_description *desc, struct bs_buffer **ret_buffer);
int buffer_export_many(struct bs_client *c, unsigned n, uint64_t size, const char *heap, const char *name,
                       struct bs_buffer **ret_buffers);
int buffer_import(struct bs_client *c, int fd, struct bs_buffer **ret_buffer);
/* Import @fd, which is consumed (it becomes the buffer's own fd, or is
 * closed), with its description in @ret_desc (may be NULL). */
int buffer_import_owned(struct bs_client *c, int fd, struct bs_buffer **ret_buffer,
                        struct bs_image_description *ret_desc);
int buffer_export_memfd(struct bs_client *c, int memfd, const char *name, struct bs_buffer **ret_buffer);
int buffer_fd(struct bs_buffer *b, int flags);
int buffer_is_readonly(struct bs_buffer *b);
int64_t buffer_size(struct bs_buffer *b);
int64_t buffer_id(struct bs_buffer *b);
int buffer_get_info(struct bs_buffer *b, struct bs_buffer_info *ret_info);
int buffer_set_name(struct bs_buffer *b, const char *name);
int buffer_set_description(struct bs_buffer *b, const struct bs_image_description *desc);
int buffer_get_description(struct bs_buffer *b, struct bs_image_description *ret_desc);

int buffer_mmap(struct bs_buffer *b, uint64_t pgoff, uint64_t len, int prot, void **ret_addr);
int buffer_munmap(struct bs_buffer *b, void *addr, uint64_t len);
int buffer_vmap(struct bs_buffer *b, void **ret_addr);
int buffer_vunmap(struct bs_buffer *b, void *addr);
int buffer_kmap(struct bs_buffer *b, uint64_t page_num, void **ret_addr);
int buffer_kunmap(struct bs_buffer *b, uint64_t page_num, void *addr);
int buffer_begin_cpu_access(struct bs_buffer *b, unsigned flags);
int buffer_end_cpu_access(struct bs_buffer *b, unsigned flags);

int buffer_attach(struct bs_buffer *b, const char *device, struct bs_attachment **ret_attachment);
int buffer_attach_segmented(struct bs_buffer *b, const char *device, uint64_t max_segment,
                            struct bs_attachment **ret_attachment);
int attachment_map(struct bs_attachment *a, enum bs_data_direction direction, const struct bs_sg_table **ret_table);
int attachment_unmap(struct bs_attachment *a, const struct bs_sg_table *table);
int buffer_detach(struct bs_buffer *b, struct bs_attachment *a);

int image_layout(uint32_t fourcc, uint32_t width, uint32_t height, uint32_t stride_align,
                 struct bs_image_description *ret_desc, uint64_t *ret_size);
/* The public description @d as the wire's, checked against a buffer of
 * @size bytes (image.h): -EINVAL for one the daemon would refuse, for
 * non-zero reserved fields, and for all zeroes. */
int image_to_wire(const struct bs_image_description *d, uint64_t size, struct bs_wire_description *ret);
/* The wire's description as the public struct; NULL gives all zeroes. */
void image_from_wire(const struct bs_wire_description *w, struct bs_image_description *ret);

int device_open(const char *path, struct bs_device **ret_device);
int device_fd(struct bs_device *dev);
int client_redeem(struct bs_client *c, const uint64_t token[2], struct bs_buffer **ret_buffer);
int device_alloc(struct bs_device *dev, struct bs_client *c, uint64_t size, const char *heap, const char *name,
                 struct bs_buffer **ret_buffer);
int device_bind(struct bs_device *dev, uint64_t id, uint64_t offset);
int device_release(struct bs_device *dev, uint64_t id);

int buffer_begin_cpu_access_timeout(struct bs_buffer *b, unsigned flags, int timeout_ms);
int buffer_export_sync_file(struct bs_buffer *b, unsigned flags);
int buffer_import_sync_file(struct bs_buffer *b, unsigned usage, int fd);
int sync_file_merge(struct bs_client *c, int fd1, int fd2);
int sync_file_wait(int fd, int timeout_ms);
int sync_file_status(int fd);
int sync_file_has_status(int fd);
int fence_create(struct bs_client *c, struct bs_fence **ret_fence);
int fence_attach(struct bs_fence *f, struct bs_buffer *b, unsigned usage);
int fence_signal(struct bs_fence *f, int status);
int buffer_release_read(struct bs_buffer *b, int status);
int pool_create(struct bs_client *c, unsigned n, uint64_t size, const char *heap, const char *name,
                struct bs_pool **ret_pool);
int pool_get_buffer(struct bs_pool *p, unsigned index, struct bs_buffer **ret_buffer, void **ret_map);
int pool_acquire(struct bs_pool *p, int timeout_ms, unsigned *ret_index);
int pool_submit(struct bs_pool *p, unsigned index);

int buffer_send(struct bs_buffer *b, int sock, int flags, const void *payload, size_t payload_len);
int buffer_receive(struct bs_client *c, int sock, void *payload, size_t payload_max, size_t *ret_payload_len,
                   struct bs_buffer **ret_buffer, struct bs_image_description *ret_desc);
