/* SPDX-License-Identifier: MIT */
#include "utf8.h"

#include <stdint.h>

bool bs_utf8_valid(const char *s)
{
        const unsigned char *p = (const unsigned char *)s;

        while (*p) {
                unsigned n, c = *p;
                uint32_t cp;

                if (c < 0x80) {
                        p++;
                        continue;
                } else if (c >= 0xc2 && c <= 0xdf) {
                        n = 1, cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        n = 2, cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        n = 3, cp = c & 0x07;
                } else {
                        return false;
                }
                for (unsigned i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
                    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
                        return false;
                p += n + 1;
        }
        return true;
}
