/* The ioctl header alone, under -std=c99 -pedantic -Werror (STYLE F6):
 * its layout checks must compile without C11's _Static_assert. */
#include <bufshare/bufshare-ioctl.h>

int main(void)
{
        struct bufshare_alloc a = { 0 };
        unsigned long cmd = BUFSHARE_IOCTL_ALLOC;
        return (int)a.size + (cmd == 0);
}
