/* SPDX-License-Identifier: MIT */
#include "session.h"

#include <stdarg.h>
#include <stdio.h>

void session_log_bug(struct session *s, const char *fmt, ...)
{
        char line[256], comm[4 * BS_COMM_LEN], name[4 * BS_NAME_LEN];
        va_list ap;

        if (!log_client_allowed(&s->log_rl))
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        log_escape(comm, sizeof(comm), s->holder.comm);
        log_escape(name, sizeof(name), s->name);
        log_warn("client %llu (pid %d, uid %u, %s%s%s): %s", (unsigned long long)s->holder.id,
                 (int)s->holder.pid, (unsigned)s->holder.uid, comm, name[0] ? ", " : "", name, line);
}
