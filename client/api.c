/* SPDX-License-Identifier: MIT */
/*
 * The public entry points, one line each: the implementation (api.h),
 * and with BUFSHARE_DEBUG=1 a line on stderr when it fails (debug.h).
 */
#include <stdio.h>

#include "api.h"
#include "client-private.h"
#include "debug.h"
#include "socket-path.h"

#define STR(s) ((s) ? (s) : "(null)")

_public_ int bs_client_connect(const char *socket_path, struct bs_client **ret_client)
{
        char path[108] = "(no default)";
        int r;

        debug_begin();
        r = client_connect(socket_path, ret_client);
        if (r < 0 && debug_enabled() && !socket_path)
                bs_socket_path_default(path, sizeof(path));
        return DEBUG_RETURN(r, "bs_client_connect", "socket_path=%s%s%s", STR(socket_path),
                            socket_path ? "" : ", the default: ", socket_path ? "" : path);
}

_public_ int bs_client_sync(struct bs_client *c)
{
        debug_begin();
        int r = client_sync(c);
        return DEBUG_RETURN(r, "bs_client_sync", "c=%p", (void *)c);
}

_public_ int bs_client_set_timeout(struct bs_client *c, int timeout_ms)
{
        int r = client_set_timeout(c, timeout_ms);
        return DEBUG_RETURN(r, "bs_client_set_timeout", "c=%p, timeout_ms=%d", (void *)c, timeout_ms);
}

_public_ int bs_client_get_limits(struct bs_client *c, struct bs_limits *ret_limits)
{
        debug_begin();
        int r = client_get_limits(c, ret_limits);
        return DEBUG_RETURN(r, "bs_client_get_limits", "c=%p, ret_limits=%p", (void *)c, (void *)ret_limits);
}

_public_ int64_t bs_client_max_buffer_size(struct bs_client *c)
{
        int64_t r = client_max_buffer_size(c);
        return DEBUG_RETURN(r, "bs_client_max_buffer_size", "c=%p", (void *)c);
}

_public_ int bs_client_list_heaps(struct bs_client *c, char names[][BS_NAME_MAX], unsigned n_names)
{
        debug_begin();
        int r = client_list_heaps(c, names, n_names);
        return DEBUG_RETURN(r, "bs_client_list_heaps", "c=%p, names=%p, n_names=%u", (void *)c, (void *)names,
                            n_names);
}

_public_ int bs_buffer_export(struct bs_client *c, uint64_t size, const char *heap, const char *name,
                              struct bs_buffer **ret_buffer)
{
        debug_begin();
        int r = buffer_export(c, size, heap, name, ret_buffer);
        return DEBUG_RETURN(r, "bs_buffer_export", "c=%p, size=%llu, heap=%s, name=%s", (void *)c,
                            (unsigned long long)size, STR(heap), STR(name));
}

_public_ int bs_buffer_export_many(struct bs_client *c, unsigned n, uint64_t size, const char *heap,
                                   const char *name, struct bs_buffer **ret_buffers)
{
        debug_begin();
        int r = buffer_export_many(c, n, size, heap, name, ret_buffers);
        return DEBUG_RETURN(r, "bs_buffer_export_many", "c=%p, n=%u, size=%llu, heap=%s, name=%s", (void *)c, n,
                            (unsigned long long)size, STR(heap), STR(name));
}

static void print_description(char *buf, size_t len, const struct bs_image_description *d)
{
        char fourcc[5] = "none";

        if (!d) {
                snprintf(buf, len, "(null)");
                return;
        }
        if (d->fourcc)
                for (unsigned i = 0; i < 4; i++)
                        fourcc[i] = (char)(d->fourcc >> (8 * i));
        snprintf(buf, len,
                 "{%.4s %ux%u, modifier %#llx, %u planes: %llu+%u %llu+%u %llu+%u %llu+%u}",
                 fourcc, d->width, d->height, (unsigned long long)d->modifier, d->n_planes,
                 (unsigned long long)d->planes[0].offset, d->planes[0].stride,
                 (unsigned long long)d->planes[1].offset, d->planes[1].stride,
                 (unsigned long long)d->planes[2].offset, d->planes[2].stride,
                 (unsigned long long)d->planes[3].offset, d->planes[3].stride);
}

_public_ int bs_buffer_export_described(struct bs_client *c, uint64_t size, const char *heap, const char *name,
                                        const struct bs_image_description *desc, struct bs_buffer **ret_buffer)
{
        char d[160] = "";

        debug_begin();
        int r = buffer_export_described(c, size, heap, name, desc, ret_buffer);
        if (r < 0 && debug_enabled())
                print_description(d, sizeof(d), desc);
        return DEBUG_RETURN(r, "bs_buffer_export_described", "c=%p, size=%llu, heap=%s, name=%s, desc=%s",
                            (void *)c, (unsigned long long)size, STR(heap), STR(name), d);
}

_public_ int bs_buffer_import(struct bs_client *c, int fd, struct bs_buffer **ret_buffer)
{
        debug_begin();
        int r = buffer_import(c, fd, ret_buffer);
        return DEBUG_RETURN(r, "bs_buffer_import", "c=%p, fd=%d", (void *)c, fd);
}

_public_ int bs_buffer_export_memfd(struct bs_client *c, int memfd, const char *name, struct bs_buffer **ret_buffer)
{
        debug_begin();
        int r = buffer_export_memfd(c, memfd, name, ret_buffer);
        return DEBUG_RETURN(r, "bs_buffer_export_memfd", "c=%p, memfd=%d, name=%s", (void *)c, memfd, STR(name));
}

_public_ int bs_buffer_fd(struct bs_buffer *b, int flags)
{
        int r = buffer_fd(b, flags);
        return DEBUG_RETURN(r, "bs_buffer_fd", "b=%p, flags=%#o", (void *)b, (unsigned)flags);
}

_public_ int bs_buffer_is_readonly(struct bs_buffer *b)
{
        int r = buffer_is_readonly(b);
        return DEBUG_RETURN(r, "bs_buffer_is_readonly", "b=%p", (void *)b);
}

_public_ int bs_buffer_get_info(struct bs_buffer *b, struct bs_buffer_info *ret_info)
{
        debug_begin();
        int r = buffer_get_info(b, ret_info);
        return DEBUG_RETURN(r, "bs_buffer_get_info", "b=%p, ret_info=%p", (void *)b, (void *)ret_info);
}

_public_ int64_t bs_buffer_size(struct bs_buffer *b)
{
        int64_t r = buffer_size(b);
        return DEBUG_RETURN(r, "bs_buffer_size", "b=%p", (void *)b);
}

_public_ int64_t bs_buffer_id(struct bs_buffer *b)
{
        int64_t r = buffer_id(b);
        return DEBUG_RETURN(r, "bs_buffer_id", "b=%p", (void *)b);
}

_public_ int bs_buffer_set_name(struct bs_buffer *b, const char *name)
{
        debug_begin();
        int r = buffer_set_name(b, name);
        return DEBUG_RETURN(r, "bs_buffer_set_name", "b=%p, name=%s", (void *)b, STR(name));
}

_public_ int bs_buffer_set_description(struct bs_buffer *b, const struct bs_image_description *desc)
{
        char d[160] = "";

        debug_begin();
        int r = buffer_set_description(b, desc);
        if (r < 0 && debug_enabled())
                print_description(d, sizeof(d), desc);
        return DEBUG_RETURN(r, "bs_buffer_set_description", "b=%p (size %lld), desc=%s", (void *)b,
                            b ? (long long)b->size : -1ll, d);
}

_public_ int bs_buffer_get_description(struct bs_buffer *b, struct bs_image_description *ret_desc)
{
        debug_begin();
        int r = buffer_get_description(b, ret_desc);
        return DEBUG_RETURN(r, "bs_buffer_get_description", "b=%p, ret_desc=%p", (void *)b, (void *)ret_desc);
}

_public_ int bs_image_layout(uint32_t fourcc, uint32_t width, uint32_t height, uint32_t stride_align,
                             struct bs_image_description *ret_desc, uint64_t *ret_size)
{
        int r = image_layout(fourcc, width, height, stride_align, ret_desc, ret_size);
        return DEBUG_RETURN(r, "bs_image_layout", "fourcc=%#x, width=%u, height=%u, stride_align=%u", fourcc,
                            width, height, stride_align);
}

_public_ int bs_buffer_mmap(struct bs_buffer *b, uint64_t pgoff, uint64_t len, int prot, void **ret_addr)
{
        int r = buffer_mmap(b, pgoff, len, prot, ret_addr);
        return DEBUG_RETURN(r, "bs_buffer_mmap", "b=%p (size %lld), pgoff=%llu, len=%llu, prot=%#x", (void *)b,
                            b ? (long long)b->size : -1ll, (unsigned long long)pgoff, (unsigned long long)len,
                            (unsigned)prot);
}

_public_ int bs_buffer_munmap(struct bs_buffer *b, void *addr, uint64_t len)
{
        int r = buffer_munmap(b, addr, len);
        return DEBUG_RETURN(r, "bs_buffer_munmap", "b=%p, addr=%p, len=%llu", (void *)b, addr,
                            (unsigned long long)len);
}

_public_ int bs_buffer_vmap(struct bs_buffer *b, void **ret_addr)
{
        int r = buffer_vmap(b, ret_addr);
        return DEBUG_RETURN(r, "bs_buffer_vmap", "b=%p", (void *)b);
}

_public_ int bs_buffer_vunmap(struct bs_buffer *b, void *addr)
{
        int r = buffer_vunmap(b, addr);
        return DEBUG_RETURN(r, "bs_buffer_vunmap", "b=%p, addr=%p", (void *)b, addr);
}

_public_ int bs_buffer_kmap(struct bs_buffer *b, uint64_t page_num, void **ret_addr)
{
        int r = buffer_kmap(b, page_num, ret_addr);
        return DEBUG_RETURN(r, "bs_buffer_kmap", "b=%p, page_num=%llu", (void *)b, (unsigned long long)page_num);
}

_public_ int bs_buffer_kunmap(struct bs_buffer *b, uint64_t page_num, void *addr)
{
        int r = buffer_kunmap(b, page_num, addr);
        return DEBUG_RETURN(r, "bs_buffer_kunmap", "b=%p, page_num=%llu, addr=%p", (void *)b,
                            (unsigned long long)page_num, addr);
}

_public_ int bs_buffer_begin_cpu_access(struct bs_buffer *b, unsigned flags)
{
        debug_begin();
        int r = buffer_begin_cpu_access(b, flags);
        return DEBUG_RETURN(r, "bs_buffer_begin_cpu_access", "b=%p, flags=%#x", (void *)b, flags);
}

_public_ int bs_buffer_end_cpu_access(struct bs_buffer *b, unsigned flags)
{
        debug_begin();
        int r = buffer_end_cpu_access(b, flags);
        return DEBUG_RETURN(r, "bs_buffer_end_cpu_access", "b=%p, flags=%#x", (void *)b, flags);
}

_public_ int bs_buffer_attach(struct bs_buffer *b, const char *device, struct bs_attachment **ret_attachment)
{
        debug_begin();
        int r = buffer_attach(b, device, ret_attachment);
        return DEBUG_RETURN(r, "bs_buffer_attach", "b=%p, device=%s", (void *)b, STR(device));
}

_public_ int bs_buffer_attach_segmented(struct bs_buffer *b, const char *device, uint64_t max_segment,
                                        struct bs_attachment **ret_attachment)
{
        debug_begin();
        int r = buffer_attach_segmented(b, device, max_segment, ret_attachment);
        return DEBUG_RETURN(r, "bs_buffer_attach_segmented", "b=%p, device=%s, max_segment=%llu", (void *)b,
                            STR(device), (unsigned long long)max_segment);
}

_public_ int bs_attachment_map(struct bs_attachment *a, enum bs_data_direction direction,
                               const struct bs_sg_table **ret_table)
{
        debug_begin();
        int r = attachment_map(a, direction, ret_table);
        return DEBUG_RETURN(r, "bs_attachment_map", "a=%p, direction=%d", (void *)a, (int)direction);
}

_public_ int bs_attachment_unmap(struct bs_attachment *a, const struct bs_sg_table *table)
{
        debug_begin();
        int r = attachment_unmap(a, table);
        return DEBUG_RETURN(r, "bs_attachment_unmap", "a=%p, table=%p", (void *)a, (const void *)table);
}

_public_ int bs_buffer_detach(struct bs_buffer *b, struct bs_attachment *a)
{
        debug_begin();
        int r = buffer_detach(b, a);
        return DEBUG_RETURN(r, "bs_buffer_detach", "b=%p, a=%p", (void *)b, (void *)a);
}

_public_ int bs_buffer_send(struct bs_buffer *b, int sock, int flags, const void *payload, size_t payload_len)
{
        int r = buffer_send(b, sock, flags, payload, payload_len);
        return DEBUG_RETURN(r, "bs_buffer_send", "b=%p, sock=%d, flags=%#o, payload=%p, payload_len=%zu", (void *)b,
                            sock, (unsigned)flags, payload, payload_len);
}

_public_ int bs_buffer_receive(struct bs_client *c, int sock, void *payload, size_t payload_max,
                               size_t *ret_payload_len, struct bs_buffer **ret_buffer,
                               struct bs_image_description *ret_desc)
{
        debug_begin();
        int r = buffer_receive(c, sock, payload, payload_max, ret_payload_len, ret_buffer, ret_desc);
        return DEBUG_RETURN(r, "bs_buffer_receive", "c=%p, sock=%d, payload=%p, payload_max=%zu", (void *)c, sock,
                            payload, payload_max);
}

_public_ int bs_device_open(const char *path, struct bs_device **ret_device)
{
        int r = device_open(path, ret_device);
        return DEBUG_RETURN(r, "bs_device_open", "path=%s", STR(path));
}

_public_ int bs_device_fd(struct bs_device *dev)
{
        int r = device_fd(dev);
        return DEBUG_RETURN(r, "bs_device_fd", "dev=%p", (void *)dev);
}

_public_ int bs_client_redeem(struct bs_client *c, const uint64_t token[2], struct bs_buffer **ret_buffer)
{
        debug_begin();
        int r = client_redeem(c, token, ret_buffer);
        return DEBUG_RETURN(r, "bs_client_redeem", "c=%p, token=%p", (void *)c, (const void *)token);
}

_public_ int bs_device_alloc(struct bs_device *dev, struct bs_client *c, uint64_t size, const char *heap,
                             const char *name, struct bs_buffer **ret_buffer)
{
        debug_begin();
        int r = device_alloc(dev, c, size, heap, name, ret_buffer);
        return DEBUG_RETURN(r, "bs_device_alloc", "dev=%p, c=%p, size=%llu, heap=%s, name=%s", (void *)dev, (void *)c,
                            (unsigned long long)size, STR(heap), STR(name));
}

_public_ int bs_device_bind(struct bs_device *dev, uint64_t id, uint64_t offset)
{
        int r = device_bind(dev, id, offset);
        return DEBUG_RETURN(r, "bs_device_bind", "dev=%p, id=%llu, offset=%llu", (void *)dev, (unsigned long long)id,
                            (unsigned long long)offset);
}

_public_ int bs_device_release(struct bs_device *dev, uint64_t id)
{
        int r = device_release(dev, id);
        return DEBUG_RETURN(r, "bs_device_release", "dev=%p, id=%llu", (void *)dev, (unsigned long long)id);
}

_public_ int bs_buffer_begin_cpu_access_timeout(struct bs_buffer *b, unsigned flags, int timeout_ms)
{
        debug_begin();
        int r = buffer_begin_cpu_access_timeout(b, flags, timeout_ms);
        return DEBUG_RETURN(r, "bs_buffer_begin_cpu_access_timeout", "b=%p, flags=%#x, timeout_ms=%d", (void *)b,
                            flags, timeout_ms);
}

_public_ int bs_buffer_export_sync_file(struct bs_buffer *b, unsigned flags)
{
        debug_begin();
        int r = buffer_export_sync_file(b, flags);
        return DEBUG_RETURN(r, "bs_buffer_export_sync_file", "b=%p, flags=%#x", (void *)b, flags);
}

_public_ int bs_buffer_import_sync_file(struct bs_buffer *b, unsigned usage, int fd)
{
        debug_begin();
        int r = buffer_import_sync_file(b, usage, fd);
        return DEBUG_RETURN(r, "bs_buffer_import_sync_file", "b=%p, usage=%#x, fd=%d", (void *)b, usage, fd);
}

_public_ int bs_sync_file_merge(struct bs_client *c, int fd1, int fd2)
{
        debug_begin();
        int r = sync_file_merge(c, fd1, fd2);
        return DEBUG_RETURN(r, "bs_sync_file_merge", "c=%p, fd1=%d, fd2=%d", (void *)c, fd1, fd2);
}

_public_ int bs_sync_file_wait(int fd, int timeout_ms)
{
        int r = sync_file_wait(fd, timeout_ms);
        return DEBUG_RETURN(r, "bs_sync_file_wait", "fd=%d, timeout_ms=%d", fd, timeout_ms);
}

_public_ int bs_sync_file_status(int fd)
{
        int r = sync_file_status(fd);
        return DEBUG_RETURN(r, "bs_sync_file_status", "fd=%d", fd);
}

_public_ int bs_fence_create(struct bs_client *c, struct bs_fence **ret_fence)
{
        debug_begin();
        int r = fence_create(c, ret_fence);
        return DEBUG_RETURN(r, "bs_fence_create", "c=%p", (void *)c);
}

_public_ int bs_fence_attach(struct bs_fence *f, struct bs_buffer *b, unsigned usage)
{
        debug_begin();
        int r = fence_attach(f, b, usage);
        return DEBUG_RETURN(r, "bs_fence_attach", "f=%p, b=%p, usage=%#x", (void *)f, (void *)b, usage);
}

_public_ int bs_fence_signal(struct bs_fence *f, int status)
{
        int r = fence_signal(f, status);
        return DEBUG_RETURN(r, "bs_fence_signal", "f=%p, status=%d", (void *)f, status);
}

_public_ int bs_buffer_release_read(struct bs_buffer *b, int status)
{
        int r = buffer_release_read(b, status);
        return DEBUG_RETURN(r, "bs_buffer_release_read", "b=%p, status=%d", (void *)b, status);
}

_public_ int bs_pool_create(struct bs_client *c, unsigned n, uint64_t size, const char *heap, const char *name,
                            struct bs_pool **ret_pool)
{
        debug_begin();
        int r = pool_create(c, n, size, heap, name, ret_pool);
        return DEBUG_RETURN(r, "bs_pool_create", "c=%p, n=%u, size=%llu, heap=%s, name=%s", (void *)c, n,
                            (unsigned long long)size, STR(heap), STR(name));
}

_public_ int bs_pool_get_buffer(struct bs_pool *p, unsigned index, struct bs_buffer **ret_buffer, void **ret_map)
{
        int r = pool_get_buffer(p, index, ret_buffer, ret_map);
        return DEBUG_RETURN(r, "bs_pool_get_buffer", "p=%p, index=%u", (void *)p, index);
}

_public_ int bs_pool_acquire(struct bs_pool *p, int timeout_ms, unsigned *ret_index)
{
        debug_begin();
        int r = pool_acquire(p, timeout_ms, ret_index);
        return DEBUG_RETURN(r, "bs_pool_acquire", "p=%p, timeout_ms=%d", (void *)p, timeout_ms);
}

_public_ int bs_pool_submit(struct bs_pool *p, unsigned index)
{
        debug_begin();
        int r = pool_submit(p, index);
        return DEBUG_RETURN(r, "bs_pool_submit", "p=%p, index=%u", (void *)p, index);
}
