/* SPDX-License-Identifier: MIT */
/* bufsharectl over the daemon's socket: HELLO, then LIMITS or INFO. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl-backends.h"
#include "msgio.h"
#include "socket-path.h"
#include "util.h"

/* How long the daemon may take to answer. */
#define CTL_SOCKET_TIMEOUT_S 5

static int call(struct ctl *ctl, struct bs_msg *req, struct bs_msg *rep)
{
        int r = bs_msg_send(ctl->sock, req);

        if (r >= 0)
                r = bs_msg_recv(ctl->sock, rep);
        if (r == -EAGAIN)
                r = -ETIMEDOUT;
        if (r < 0)
                return r;
        if (rep->hdr.opcode != req->hdr.opcode || rep->hdr.serial != req->hdr.serial) {
                bs_msg_clear(rep);
                return -EPROTO;
        }
        return rep->body.status.status;
}

int ctl_socket_open(struct ctl *ctl, const char *path)
{
        struct timeval tv = { CTL_SOCKET_TIMEOUT_S, 0 };
        struct sockaddr_un sa;
        struct bs_msg req, rep;
        int len, r;

        ctl->socket_path = path;
        len = bs_sockaddr_un_set(&sa, path);
        if (len < 0) {
                fprintf(stderr, "bufsharectl: %s: %s\n", path, strerror(-len));
                return len;
        }
        ctl->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (ctl->sock < 0 || setsockopt(ctl->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            connect(ctl->sock, (struct sockaddr *)&sa, (socklen_t)len) < 0) {
                fprintf(stderr, "bufsharectl: connecting to %s: %s\n", path, strerror(errno));
                /* no daemon there: not connect()'s -ENOENT, which main()
                 * would take for "no such buffer" (exit 4) */
                return -EHOSTDOWN;
        }
        bs_msg_request(&req, BS_OP_HELLO, 1);
        req.body.hello_req.version_min = 2; /* LIMITS is new in 2 */
        req.body.hello_req.version_max = BS_PROTOCOL_VERSION;
        snprintf(req.body.hello_req.client_name, sizeof(req.body.hello_req.client_name), "bufsharectl");
        r = call(ctl, &req, &rep);
        bs_msg_clear(&rep);
        if (r < 0)
                fprintf(stderr, "bufsharectl: %s: HELLO failed: %s\n", path, strerror(-r));
        return r < 0 ? r : 0;
}

void ctl_socket_close(struct ctl *ctl)
{
        if (ctl->sock >= 0)
                close(ctl->sock);
        ctl->sock = -1;
}

/* A fixed-size wire string into @dst, never reading past it. */
static void wire_string(char *dst, size_t len, const char *src, size_t src_len)
{
        size_t n = strnlen(src, src_len);

        if (n >= len)
                n = len - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
}

int ctl_socket_describe_buffer(struct ctl *ctl, uint64_t id, struct ctl_buffer *ret)
{
        const struct bs_info_rep *i;
        struct bs_msg req, rep;
        int r;

        bs_msg_request(&req, BS_OP_INFO, 2);
        req.body.id_req.id = id;
        r = call(ctl, &req, &rep);
        if (r == -ENOENT) {
                fprintf(stderr, "bufsharectl: no buffer %llu (or not visible to this uid over the socket)\n",
                        (unsigned long long)id);
                return r;
        }
        if (r < 0) {
                fprintf(stderr, "bufsharectl: INFO %llu: %s\n", (unsigned long long)id, strerror(-r));
                return r;
        }
        i = &rep.body.info_rep;
        memset(ret, 0, sizeof(*ret));
        ret->id = i->id;
        ret->size = i->size;
        ret->created_usec = i->created_ns / 1000;
        wire_string(ret->name, sizeof(ret->name), i->name, sizeof(i->name));
        wire_string(ret->heap, sizeof(ret->heap), i->heap, sizeof(i->heap));
        wire_string(ret->exporter_comm, sizeof(ret->exporter_comm), i->exporter_comm, sizeof(i->exporter_comm));
        ret->exporter_pid = (uint32_t)i->exporter_pid;
        ret->exporter_uid = i->exporter_uid;
        ret->n_refs = i->n_refs;
        ret->n_readonly = i->n_readonly;
        ret->n_attachments = i->n_attachments;
        ret->n_cpu_access = i->n_cpu_access;
        for (unsigned k = 0; k < BS_WIRE_INFO_MAX && k < i->n_attachments; k++) {
                struct ctl_attachment *a = &ret->attachments[ret->n_attachment_list++];
                wire_string(a->device, sizeof(a->device), i->attachments[k].device,
                            sizeof(i->attachments[k].device));
                a->pid = (uint32_t)i->attachments[k].pid;
                a->mapped = i->attachments[k].mapped;
                a->direction = i->attachments[k].direction;
        }
        for (unsigned k = 0; k < BS_WIRE_INFO_MAX && k < i->n_cpu_access; k++) {
                ret->cpu[k].pid = (uint32_t)i->cpu_access[k].pid;
                ret->cpu[k].flags = i->cpu_access[k].flags;
                ret->n_cpu_list++;
        }
        bs_msg_clear(&rep);
        return 0;
}

int ctl_socket_get_limits(struct ctl *ctl, struct ctl_pair ret[CTL_MAX_PAIRS], size_t *ret_n)
{
#define FIELD(n, f, bytes) { n, offsetof(struct bs_limits_rep, f), sizeof(((struct bs_limits_rep *)0)->f), bytes }
        static const struct {
                const char *name;
                size_t offset, size;
                bool bytes;
        } fields[] = {
                FIELD("max-buffer-size", max_buffer_size, true),
                FIELD("max-bytes-per-uid", max_bytes_per_uid, true),
                FIELD("max-buffers-per-client", max_buffers_per_client, false),
                FIELD("max-buffers-per-uid", max_buffers_per_uid, false),
                FIELD("max-clients", max_clients, false),
                FIELD("max-connections-per-uid", max_connections_per_uid, false),
                FIELD("max-attachments-per-client", max_attachments_per_client, false),
                FIELD("max-fences-per-client", max_fences_per_client, false),
                FIELD("max-waiters-per-client", max_waiters_per_client, false),
                FIELD("max-waiters-per-fence", max_waiters_per_fence, false),
                FIELD("hello-timeout", hello_timeout_ms, false),
        };
#undef FIELD
        struct bs_msg req, rep;
        int r;

        bs_msg_request(&req, BS_OP_LIMITS, 2);
        r = call(ctl, &req, &rep);
        if (r < 0) {
                fprintf(stderr, "bufsharectl: LIMITS: %s\n", strerror(-r));
                return r;
        }
        for (size_t k = 0; k < ELEMENTSOF(fields); k++) {
                const char *p = (const char *)&rep.body.limits_rep + fields[k].offset;
                uint64_t v = 0;
                uint32_t v32;
                if (fields[k].size == 8) {
                        memcpy(&v, p, 8);
                } else {
                        memcpy(&v32, p, 4);
                        v = v32;
                }
                ctl_pair_set(&ret[k], fields[k].name, v, fields[k].bytes);
        }
        *ret_n = ELEMENTSOF(fields);
        bs_msg_clear(&rep);
        return 0;
}
