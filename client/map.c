/* SPDX-License-Identifier: MIT */
/*
 * buffer_mmap(): dma_buf_mmap()'s bounds checks from the 2012 seed,
 * applied before mmap(2) so a bad request never reaches the kernel:
 * -EOVERFLOW when pgoff + pages wraps, -EINVAL past the end.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api.h"
#include "client-private.h"
#include "util.h"

#define BS_PROT_VALID (BS_PROT_READ | BS_PROT_WRITE)
_Static_assert(BS_PROT_READ == PROT_READ && BS_PROT_WRITE == PROT_WRITE, "prot bits");

int buffer_mmap(struct bs_buffer *b, uint64_t pgoff, uint64_t len, int prot, void **ret_addr)
{
        uint64_t page = client_page_size();
        uint64_t npages, end;
        void *addr;

        lib_return_if(!b || !ret_addr, -EINVAL);
        lib_return_if(len == 0, -EINVAL);
        lib_return_if(prot == 0 || (prot & ~BS_PROT_VALID), -EINVAL);
        lib_return_if((prot & BS_PROT_WRITE) && b->readonly, -EACCES);

        npages = len / page + (len % page != 0);
        end = pgoff + npages;
        if (end < pgoff)
                return -EOVERFLOW;
        if (end > b->size / page)
                return -EINVAL;
        if (len > SIZE_MAX)
                return -ENOMEM;

        addr = mmap(NULL, (size_t)len, prot, MAP_SHARED, b->fd, (off_t)(pgoff * page));
        if (addr == MAP_FAILED)
                return -errno;
        *ret_addr = addr;
        return 0;
}

int buffer_munmap(struct bs_buffer *b, void *addr, uint64_t len)
{
        uint64_t page = client_page_size();

        lib_return_if(!b || !addr || len == 0, -EINVAL);
        lib_return_if((uintptr_t)addr % page != 0, -EINVAL);
        lib_return_if(len > b->size, -EINVAL);
        if (munmap(addr, (size_t)len) < 0)
                return -errno;
        return 0;
}

/* The whole buffer, writable unless the reference is read-only. */
int buffer_vmap(struct bs_buffer *b, void **ret_addr)
{
        lib_return_if(!b || !ret_addr, -EINVAL);
        return buffer_mmap(b, 0, b->size, b->readonly ? BS_PROT_READ : BS_PROT_READ | BS_PROT_WRITE,
                              ret_addr);
}

int buffer_vunmap(struct bs_buffer *b, void *addr)
{
        lib_return_if(!b, -EINVAL);
        return buffer_munmap(b, addr, b->size);
}

int buffer_kmap(struct bs_buffer *b, uint64_t page_num, void **ret_addr)
{
        lib_return_if(!b || !ret_addr, -EINVAL);
        lib_return_if(page_num >= b->size / client_page_size(), -EINVAL);
        return buffer_mmap(b, page_num, client_page_size(),
                              b->readonly ? BS_PROT_READ : BS_PROT_READ | BS_PROT_WRITE, ret_addr);
}

int buffer_kunmap(struct bs_buffer *b, uint64_t page_num, void *addr)
{
        lib_return_if(!b, -EINVAL);
        lib_return_if(page_num >= b->size / client_page_size(), -EINVAL);
        return buffer_munmap(b, addr, client_page_size());
}
