/* SPDX-License-Identifier: MIT */
/*
 * wayland-show: show a bufshare buffer in a Wayland window, the layout
 * taken from its image description.
 *
 * The buffer is a sealed memfd, which is what wl_shm wants: the pool's
 * fd is a writable fd on the buffer, and wl_shm_pool_create_buffer()
 * takes the description's offset, width, height, stride and format. Two
 * buffers take turns, so that the compositor releases the first once the
 * second is shown (wl_buffer.release).
 *
 * It prints what happens, one line each ("configured", "frame 1 done",
 * "buffer 1 released", "shown"), then keeps the window up until stdin
 * closes, so that a screenshot can be taken.
 *
 * Usage: wayland-show [--readonly]   (WAYLAND_DISPLAY, BUFSHARE_SOCKET)
 * --readonly passes a read-only view to wl_shm instead: the compositor
 * can't map it read-write and answers with a protocol error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bufshare/bufshare.h>
#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

#define WIDTH 320
#define HEIGHT 240

struct app {
        struct wl_compositor *compositor;
        struct wl_shm *shm;
        struct xdg_wm_base *wm_base;
        struct wl_callback *frame; /* the frame callback not yet done */
        bool configured, frame_done;
        int released[2];
};

/* ---- the Wayland objects we need, found in the registry ---- */

static void registry_global(void *data, struct wl_registry *registry, uint32_t name, const char *interface,
                            uint32_t version)
{
        struct app *app = data;

        if (strcmp(interface, wl_compositor_interface.name) == 0)
                app->compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
        else if (strcmp(interface, wl_shm_interface.name) == 0)
                app->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
        else if (strcmp(interface, xdg_wm_base_interface.name) == 0)
                app->wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
}

static void registry_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = { registry_global, registry_global_remove };

static void wm_base_ping(void *data, struct xdg_wm_base *wm_base, uint32_t serial)
{
        xdg_wm_base_pong(wm_base, serial);
}

static const struct xdg_wm_base_listener wm_base_listener = { wm_base_ping };

static void surface_configure(void *data, struct xdg_surface *surface, uint32_t serial)
{
        struct app *app = data;

        xdg_surface_ack_configure(surface, serial);
        app->configured = true;
}

static const struct xdg_surface_listener surface_listener = { surface_configure };

static void frame_done(void *data, struct wl_callback *cb, uint32_t time)
{
        struct app *app = data;

        app->frame_done = true;
        wl_callback_destroy(cb);
        app->frame = NULL;
}

static const struct wl_callback_listener frame_listener = { frame_done };

static void buffer_release(void *data, struct wl_buffer *buffer)
{
        (*(int *)data)++;
}

static const struct wl_buffer_listener buffer_listener = { buffer_release };

/* ---- bufshare: a described buffer, and a wl_buffer made from it ---- */

/* Four quadrants, red, green, blue and white, written through the
 * description: pixel (x, y) is at offset + y * stride + x * 4. */
static int export_picture(struct bs_client *c, struct bs_buffer **ret)
{
        struct bs_image_description d = {
                .fourcc = BS_FORMAT_XRGB8888,
                .n_planes = 1,
                .modifier = BS_FORMAT_MOD_LINEAR,
                .width = WIDTH,
                .height = HEIGHT,
                /* not packed, to show that wl_shm follows the description */
                .planes = { { .offset = 4096, .stride = WIDTH * 4 + 256 } },
        };
        static const uint32_t colours[4] = { 0xffff0000, 0xff00ff00, 0xff0000ff, 0xffffffff };
        uint8_t *p;
        int r;

        r = bs_buffer_export_described(c, 4096 + (uint64_t)HEIGHT * d.planes[0].stride, NULL, "wayland-show", &d, ret);
        if (r == 0)
                r = bs_buffer_vmap(*ret, (void **)&p);
        if (r < 0)
                return r;
        for (uint32_t y = 0; y < HEIGHT; y++) {
                uint32_t *row = (uint32_t *)(p + d.planes[0].offset + (uint64_t)y * d.planes[0].stride);
                for (uint32_t x = 0; x < WIDTH; x++)
                        row[x] = colours[(y >= HEIGHT / 2) * 2 + (x >= WIDTH / 2)];
        }
        return bs_buffer_vunmap(*ret, p);
}

/* A wl_buffer on @b, laid out as its description (asked of the daemon,
 * as any process holding @b would) says. */
static struct wl_buffer *wl_buffer_of(struct app *app, struct bs_buffer *b, int fd_flags)
{
        struct bs_image_description d;
        struct wl_shm_pool *pool;
        struct wl_buffer *buffer;
        uint32_t format;
        int fd;

        if (bs_buffer_get_description(b, &d) < 0 || d.n_planes != 1)
                return NULL;
        /* wl_shm's codes are the DRM fourccs, but for its two oldest */
        format = d.fourcc == BS_FORMAT_XRGB8888 ? WL_SHM_FORMAT_XRGB8888
                 : d.fourcc == BS_FORMAT_ARGB8888 ? WL_SHM_FORMAT_ARGB8888 : d.fourcc;
        fd = bs_buffer_fd(b, fd_flags | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        pool = wl_shm_create_pool(app->shm, fd, (int32_t)bs_buffer_size(b));
        close(fd); /* the compositor has its own now */
        buffer = wl_shm_pool_create_buffer(pool, (int32_t)d.planes[0].offset, (int32_t)d.width, (int32_t)d.height,
                                           (int32_t)d.planes[0].stride, format);
        wl_shm_pool_destroy(pool);
        return buffer;
}

/* Dispatch until *@flag is set; false when the connection broke. */
static bool wait_for(struct wl_display *display, const bool *flag)
{
        while (!*flag)
                if (wl_display_dispatch(display) < 0)
                        return false;
        return true;
}

static int protocol_error(struct wl_display *display)
{
        const struct wl_interface *interface = NULL;
        uint32_t id;
        int code = wl_display_get_protocol_error(display, &interface, &id);

        printf("protocol error: %s code %d\n", interface ? interface->name : "(none)", code);
        return 3;
}

int main(int argc, char **argv)
{
        bool readonly = argc > 1 && strcmp(argv[1], "--readonly") == 0;
        struct bs_buffer *bufs[2] = { NULL, NULL };
        struct wl_buffer *wl_bufs[2] = { NULL, NULL };
        struct app app = { 0 };
        struct bs_client *c = NULL;
        struct wl_display *display;
        struct wl_registry *registry;
        struct wl_surface *surface = NULL;
        struct xdg_surface *xdg = NULL;
        struct xdg_toplevel *toplevel = NULL;
        char line[16];
        int r, status = 1;

        display = wl_display_connect(NULL);
        if (!display) {
                fprintf(stderr, "wayland-show: no Wayland display: %s\n", strerror(errno));
                return 1;
        }
        r = bs_client_connect(NULL, &c);
        for (int i = 0; i < 2 && r == 0; i++)
                r = export_picture(c, &bufs[i]);
        if (r < 0) {
                fprintf(stderr, "wayland-show: bufshare: %s\n", strerror(-r));
                goto out;
        }

        registry = wl_display_get_registry(display);
        wl_registry_add_listener(registry, &registry_listener, &app);
        wl_display_roundtrip(display);
        if (!app.compositor || !app.shm || !app.wm_base) {
                fprintf(stderr, "wayland-show: the compositor lacks wl_compositor, wl_shm or xdg_wm_base\n");
                goto out_registry;
        }
        xdg_wm_base_add_listener(app.wm_base, &wm_base_listener, &app);

        /* a fullscreen toplevel: at the output's origin, nothing around it */
        surface = wl_compositor_create_surface(app.compositor);
        xdg = xdg_wm_base_get_xdg_surface(app.wm_base, surface);
        xdg_surface_add_listener(xdg, &surface_listener, &app);
        toplevel = xdg_surface_get_toplevel(xdg);
        xdg_toplevel_set_title(toplevel, "bufshare");
        xdg_toplevel_set_fullscreen(toplevel, NULL);
        wl_surface_commit(surface);
        if (!wait_for(display, &app.configured))
                goto protocol_error;
        printf("configured\n");

        for (int i = 0; i < 2; i++) {
                wl_bufs[i] = wl_buffer_of(&app, bufs[i], readonly ? O_RDONLY : O_RDWR);
                if (!wl_bufs[i]) {
                        fprintf(stderr, "wayland-show: no wl_buffer for buffer %d\n", i + 1);
                        goto out_surface;
                }
                wl_buffer_add_listener(wl_bufs[i], &buffer_listener, &app.released[i]);
        }
        /* show buffer 1, then buffer 2: the compositor gives 1 back */
        for (int i = 0; i < 2; i++) {
                app.frame_done = false;
                wl_surface_attach(surface, wl_bufs[i], 0, 0);
                wl_surface_damage(surface, 0, 0, WIDTH, HEIGHT);
                app.frame = wl_surface_frame(surface);
                wl_callback_add_listener(app.frame, &frame_listener, &app);
                wl_surface_commit(surface);
                if (!wait_for(display, &app.frame_done))
                        goto protocol_error;
                printf("frame %d done\n", i + 1);
        }
        while (!app.released[0])
                if (wl_display_dispatch(display) < 0)
                        goto protocol_error;
        printf("buffer 1 released\nshown\n");
        fflush(stdout);

        /* keep the window up until told to go (stdin closes) */
        while (fgets(line, sizeof(line), stdin))
                ;
        status = 0;
        goto out_surface;

protocol_error:
        status = protocol_error(display);
out_surface:
        if (app.frame) /* never done: the connection broke first */
                wl_callback_destroy(app.frame);
        for (int i = 0; i < 2; i++)
                if (wl_bufs[i])
                        wl_buffer_destroy(wl_bufs[i]);
        xdg_toplevel_destroy(toplevel);
        xdg_surface_destroy(xdg);
        wl_surface_destroy(surface);
out_registry:
        if (app.wm_base)
                xdg_wm_base_destroy(app.wm_base);
        if (app.shm)
                wl_shm_destroy(app.shm);
        if (app.compositor)
                wl_compositor_destroy(app.compositor);
        wl_registry_destroy(registry);
out:
        for (int i = 0; i < 2; i++)
                bs_buffer_put(bufs[i]);
        bs_client_unref(c);
        wl_display_disconnect(display);
        return status;
}
