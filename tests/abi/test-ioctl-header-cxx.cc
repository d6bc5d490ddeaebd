// The ioctl header alone, compiled as C++ (STYLE F6).
#include <bufshare/bufshare-ioctl.h>

int main()
{
        bufshare_info info = {};
        unsigned long cmd = BUFSHARE_IOCTL_INFO;
        return static_cast<int>(info.size) + (cmd == 0);
}
