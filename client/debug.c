/* SPDX-License-Identifier: MIT */
#include "debug.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

/* The daemon's last refusal on this thread, since its call began. */
static __thread struct {
        uint16_t opcode;
        int status;
} refusal;

/* The library's last check that refused, on this thread, since its
 * call began. */
static __thread struct {
        const char *cond;
        int err;
} check;

bool debug_enabled(void)
{
        static int enabled = -1; /* a race only sets the same value twice */

        if (enabled < 0) {
                const char *s = getenv("BUFSHARE_DEBUG");
                enabled = s && *s && strcmp(s, "0") != 0;
        }
        return enabled;
}

void debug_begin(void)
{
        if (debug_enabled()) {
                refusal.opcode = 0;
                check.cond = NULL;
        }
}

void debug_note_check(const char *cond, int err)
{
        if (debug_enabled()) {
                check.cond = cond;
                check.err = err;
        }
}

void debug_note_refusal(uint16_t opcode, int status)
{
        if (debug_enabled()) {
                refusal.opcode = opcode;
                refusal.status = status;
        }
}

/* What an errno means as the daemon's answer to one request (PROTOCOL.md). */
struct reason {
        uint16_t opcode; /* 0: any */
        int status;
        const char *text;
};

static const struct reason daemon_reasons[] = {
        { BS_OP_REDEEM, -EPERM, "the token belongs to the uid that opened the device file, not this one" },
        { BS_OP_REDEEM, -ENOENT, "an unknown token, one redeemed already, or one past --token-lifetime" },
        { BS_OP_HELLO, -EPROTONOSUPPORT, "the daemon speaks no protocol version this library speaks" },
        { BS_OP_HELLO, -EUSERS, "the daemon serves as many connections as it may (--max-clients, --max-connections-per-uid)" },
        { BS_OP_EXPORT, -EINVAL, "size 0" },
        { BS_OP_EXPORT_DESCRIBED, -EINVAL, "size 0, or the description does not fit the size" },
        { 0, -EFBIG, "the size is over the daemon's --max-buffer-size" },
        { BS_OP_EXPORT, -ENOENT, "no such heap (bs_client_list_heaps() lists them)" },
        { BS_OP_EXPORT_DESCRIBED, -ENOENT, "no such heap (bs_client_list_heaps() lists them)" },
        { BS_OP_EXPORT_SYNC_FILE, -EMFILE, "this client has --max-waiters-per-client pending sync files, or the daemon is out of fds" },
        { BS_OP_SYNC_FILE_MERGE, -EMFILE, "this client has --max-waiters-per-client pending sync files, or the daemon is out of fds" },
        { BS_OP_EXPORT_SYNC_FILE, -EDQUOT, "this uid's clients, connected still or not, made --max-sync-files-per-uid pending sync files" },
        { BS_OP_SYNC_FILE_MERGE, -EDQUOT, "this uid's clients, connected still or not, made --max-sync-files-per-uid pending sync files" },
        { BS_OP_FENCE_CREATE, -EDQUOT, "this uid's clients have --max-fences-per-uid fences they did not destroy" },
        { BS_OP_IMPORT_SYNC_FILE, -EDQUOT, "this uid's clients imported --max-sync-files-per-uid sync files that are still pending" },
        { 0, -EMFILE, "this client holds --max-buffers-per-client buffers (or attachments), or the daemon is out of fds" },
        { 0, -EDQUOT, "this uid would pay for more than --max-bytes-per-uid bytes or --max-buffers-per-uid buffers" },
        { 0, -ENOMEM, "the daemon is out of memory (or of huge pages, for system-huge)" },
        { BS_OP_IMPORT, -EBADF, "the fd is not open for reading (O_PATH or O_WRONLY)" },
        { BS_OP_IMPORT_DESCRIBED, -EBADF, "the fd is not open for reading (O_PATH or O_WRONLY)" },
        { 0, -EBADFD, "the fd is not a memfd, so not a buffer" },
        { BS_OP_IMPORT, -EINVAL, "a memfd the daemon does not host, refused by the adoption rules (F_SEAL_SHRINK missing, a write seal, size 0 or not a page multiple)" },
        { BS_OP_IMPORT_DESCRIBED, -EINVAL, "a memfd the daemon does not host, refused by the adoption rules (F_SEAL_SHRINK missing, a write seal, size 0 or not a page multiple)" },
        { BS_OP_EXPORT_MEMFD, -EINVAL, "F_SEAL_SHRINK missing, a write seal, size 0 or not a page multiple" },
        { BS_OP_EXPORT_MEMFD, -EACCES, "the memfd is open read-only" },
        { BS_OP_EXPORT_MEMFD, -EEXIST, "the daemon hosts this memfd already: import it" },
        { 0, -EPERM, "a read-only fd on an inode that others could reopen writable" },
        { BS_OP_IMPORT, -EACCES, "a read-only fd on a memfd the daemon would have to seal" },
        { BS_OP_IMPORT_DESCRIBED, -EACCES, "a read-only fd on a memfd the daemon would have to seal" },
        { BS_OP_SET_DESCRIPTION, -EINVAL, "the description does not fit the buffer" },
        { 0, -EACCES, "this client holds only read-only references on the buffer" },
        { 0, -ENOENT, "this client holds no reference on it (or the daemon no longer has it)" },
        { BS_OP_BEGIN_CPU_ACCESS, -EINVAL, "empty or unknown flags" },
        { BS_OP_END_CPU_ACCESS, -EINVAL, "no matching begin for one of the flags" },
        { BS_OP_MAP_ATTACHMENT, -EBUSY, "the attachment is mapped already" },
        { BS_OP_UNMAP_ATTACHMENT, -EINVAL, "the attachment is not mapped" },
        { 0, -EOPNOTSUPP, "the daemon speaks an older protocol version, without this request" },
        { 0, -EPROTO, "the daemon found the request malformed and closed the connection" },
};

static const char *daemon_reason(uint16_t opcode, int status)
{
        for (size_t i = 0; i < ELEMENTSOF(daemon_reasons); i++)
                if (daemon_reasons[i].status == status &&
                    (daemon_reasons[i].opcode == opcode || daemon_reasons[i].opcode == 0))
                        return daemon_reasons[i].text;
        return "see PROTOCOL.md for what this errno means for the request";
}

/* Why a call failed without the daemon refusing anything. */
static void local_reason(FILE *f, int r, const char *call)
{
        switch (r) {
        case -EPIPE:
        case -ECONNRESET:
                fprintf(f, "the connection to bufshared is broken (the daemon exited, or closed it after a "
                           "protocol error); every later call of this client says the same");
                return;
        case -ETIMEDOUT:
                fprintf(f, "bufshared did not answer within the client's timeout (bs_client_set_timeout(), "
                           "BUFSHARE_TIMEOUT_MS); the connection is given up");
                return;
        case -EPROTO:
                fprintf(f, "a malformed message (from the daemon, or from the peer of a hand-over)");
                return;
        }
        if (strcmp(call, "bs_client_connect") == 0) {
                if (r == -ENXIO) {
                        fprintf(f, "no socket path: BUFSHARE_SOCKET and XDG_RUNTIME_DIR are unset and this "
                                   "process is not root; pass the path bufshared listens on, or set "
                                   "BUFSHARE_SOCKET or XDG_RUNTIME_DIR");
                        return;
                }
                if (r == -ENOENT || r == -ECONNREFUSED) {
                        fprintf(f, "nothing listens on the socket: is bufshared running there?");
                        return;
                }
                if (r == -EACCES) {
                        fprintf(f, "no permission on the socket or its folder");
                        return;
                }
        }
        if (check.cond && check.err == r)
                fprintf(f, "the library's own check refused it: %s (see bufshare.h for this call's errors)",
                        check.cond);
        else
                fprintf(f, "the library's own check (see bufshare.h for this call's errors)");
}

int debug_fail(int r, const char *call, const char *fmt, ...)
{
        const char *name;
        va_list ap;

        if (!debug_enabled())
                return r;
        name = strerrorname_np(-r);
        flockfile(stderr);
        fprintf(stderr, "bufshare: %s(", call);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, ") = -%s (%s): ", name ? name : "?", strerror(-r));
        if (refusal.opcode && refusal.status == r)
                fprintf(stderr, "the daemon refused %s: %s", bs_op_name(refusal.opcode),
                        daemon_reason(refusal.opcode, r));
        else
                local_reason(stderr, r, call);
        fputc('\n', stderr);
        funlockfile(stderr);
        return r;
}
