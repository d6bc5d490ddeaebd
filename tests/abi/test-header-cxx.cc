// The public header alone, compiled as C++ (STYLE F6).
#include <bufshare/bufshare.h>

int main()
{
        bs_buffer_info info = {};
        auto export_fn = &bs_buffer_export;
        struct bs_client *c = nullptr;
        c = bs_client_unref(c);
        return static_cast<int>(info.size) + (export_fn == nullptr) + (c != nullptr);
}
