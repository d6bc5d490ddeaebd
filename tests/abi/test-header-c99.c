/* The public header alone, under -std=c99 -pedantic -Werror (STYLE F6). */
#include <bufshare/bufshare.h>

int main(void)
{
        struct bs_buffer_info info = { 0 };
        int (*export_fn)(struct bs_client *, uint64_t, const char *, const char *, struct bs_buffer **) =
                bs_buffer_export;
        return (int)info.size + (export_fn == 0);
}
