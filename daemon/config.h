/* SPDX-License-Identifier: MIT */
/*
 * The config file of --config: the limits, one per line as
 *
 *     # a comment
 *     max-buffer-size = 64M
 *     max-clients = 512
 *
 * with keys named like the long options (limits.h's limits_table) and
 * values as those options take them. Blank lines and lines starting
 * with '#' are skipped; a key given twice takes the last value. Read at
 * start and again on SIGHUP; the command line's flags win over the file.
 */
#pragma once

#include <stddef.h>

#include "limits.h"

/* The largest config file read, in bytes: past it, -EFBIG. */
#define CONFIG_MAX_SIZE (64u * 1024u)

/*
 * Read @path into @ret (zeroed first). On error @ret is untouched and
 * @err (of @err_len bytes) says why in one line naming the file and the
 * line: -ENOENT and the like from open, -EINVAL for a line that is not
 * "key = value", an unknown key or a bad value, -EFBIG for a file over
 * CONFIG_MAX_SIZE.
 */
int config_read_limits(const char *path, struct limits_overrides *ret, char *err, size_t err_len);
