/* cli_image.c — tide image create|list|show|delete. */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#include "cli/cli_http.h"
#include "common/tide_json.h"

static const struct cli_column image_columns[] = {
        { "NAME", "name", NULL },
        { "FORMAT", "format", NULL },
        { "VIRTUAL_SIZE", "virtual_size", cli_cell_bytes },
        { "SIZE", "size", cli_cell_bytes },
        { "KERNEL", "kernel", NULL },
        { "INITRD", "initrd", NULL },
        { "ID", "id", NULL },
};

/* Makes path absolute (for tided, which reads it from its own working directory with
 * --from-host-path) and checks that it names a regular file here. Returns 0 with *ret a new string, or -errno (reported). */
static int absolute_file(const char *what, const char *path, char **ret) {
        _cleanup_free_ char *abs = realpath(path, NULL);
        if (!abs) {
                int r = -errno;
                cli_error("%s '%s': %s", what, path, strerror(-r));
                return r;
        }
        struct stat st;
        if (stat(abs, &st) < 0) {
                int r = -errno;
                cli_error("%s '%s': %s", what, path, strerror(-r));
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                cli_error("%s '%s': not a regular file", what, path);
                return -EINVAL;
        }
        *ret = TAKE_PTR(abs);
        return 0;
}

/* A path on tided's host: an absolute one goes as given (tided may run elsewhere), a relative
 * one is taken as this directory's (absolute_file). */
static int host_path(const char *what, const char *path, char **ret) {
        if (path[0] == '/') {
                *ret = xstrdup(path);
                return 0;
        }
        return absolute_file(what, path, ret);
}

/* --from-host-path: the paths go to tided, which reads the files on its own host. */
static int create_from_host_path(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *disk = NULL, *kernel = NULL, *initrd = NULL;
        if (host_path("disk", a->disk_file, &disk) < 0)
                return CLI_EXIT_FAILURE;
        if (a->kernel && host_path("kernel", a->kernel, &kernel) < 0)
                return CLI_EXIT_FAILURE;
        if (a->initrd && host_path("initrd", a->initrd, &initrd) < 0)
                return CLI_EXIT_FAILURE;

        _cleanup_json_ json_t *body = json_pack("{s:s, s:s}", "name", a->name, "disk", disk);
        if (!body) {
                /* The only input that can make json_pack fail is a string that is not UTF-8. */
                cli_error("the name and the disk path must be UTF-8");
                return CLI_EXIT_FAILURE;
        }
        int r = 0;
        if (kernel)
                r |= json_object_set_new(body, "kernel", json_string(kernel));
        if (initrd)
                r |= json_object_set_new(body, "initrd", json_string(initrd));
        if (a->cmdline)
                r |= json_object_set_new(body, "cmdline", json_string(a->cmdline));
        if (r < 0) {
                cli_error("paths and the command line must be UTF-8");
                return CLI_EXIT_FAILURE;
        }

        _cleanup_json_ json_t *image = NULL;
        if (cli_api_call(ctx, "POST", "/v1/images", body, 0, 0, &image) < 0)
                return CLI_EXIT_FAILURE;
        return cli_print_answer(ctx, image, a->format);
}

int cli_image_create(struct cli_ctx *ctx, const struct cli_args *a) {
        if (a->from_host_path)
                return create_from_host_path(ctx, a);
        /* Checked here for a clear message before anything is sent; the name is the form's
         * first field, so tided can refuse a taken one before it stores the disk. */
        _cleanup_free_ char *disk = NULL, *kernel = NULL, *initrd = NULL;
        if (absolute_file("disk", a->disk_file, &disk) < 0)
                return CLI_EXIT_FAILURE;
        if (a->kernel && absolute_file("kernel", a->kernel, &kernel) < 0)
                return CLI_EXIT_FAILURE;
        if (a->initrd && absolute_file("initrd", a->initrd, &initrd) < 0)
                return CLI_EXIT_FAILURE;
        struct cli_http_part parts[5] = { { .name = "name", .value = a->name } };
        size_t n = 1;
        if (a->cmdline)
                parts[n++] = (struct cli_http_part) { .name = "cmdline", .value = a->cmdline };
        parts[n++] = (struct cli_http_part) { .name = "disk", .file = disk };
        if (kernel)
                parts[n++] = (struct cli_http_part) { .name = "kernel", .file = kernel };
        if (initrd)
                parts[n++] = (struct cli_http_part) { .name = "initrd", .file = initrd };
        _cleanup_json_ json_t *image = NULL;
        if (cli_api_upload(ctx, "/v1/images", parts, n, &image) < 0)
                return CLI_EXIT_FAILURE;
        return cli_print_answer(ctx, image, a->format);
}

int cli_image_list(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_list(ctx, "/v1/images", "images", image_columns, ELEMENTSOF(image_columns), a->format);
}

int cli_image_show(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_show(ctx, "images", a->name, a->format);
}

int cli_image_delete(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_delete(ctx, "images", a->name);
}
