/* SPDX-License-Identifier: MIT */
/* Names come from clients as bytes; D-Bus and JSON want UTF-8. */
#pragma once

#include <stdbool.h>

/* true if the NUL-terminated @s is valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF). */
bool bs_utf8_valid(const char *s);
