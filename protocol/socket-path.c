/* SPDX-License-Identifier: MIT */
#include "socket-path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int bs_socket_path_default(char *buf, size_t len)
{
        const char *env = getenv("BUFSHARE_SOCKET");
        int n;

        if (env && *env)
                n = snprintf(buf, len, "%s", env);
        else if ((env = getenv("XDG_RUNTIME_DIR")) && *env)
                n = snprintf(buf, len, "%s/bufshare/socket", env);
        else if (geteuid() == 0)
                n = snprintf(buf, len, "/run/bufshare/socket");
        else
                return -ENXIO;
        if (n < 0 || (size_t)n >= len)
                return -ENAMETOOLONG;
        return 0;
}

int bs_sockaddr_un_set(struct sockaddr_un *sa, const char *path)
{
        size_t n = strlen(path);

        if (n == 0)
                return -EINVAL;
        if (n >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        memcpy(sa->sun_path, path, n);
        return (int)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}
