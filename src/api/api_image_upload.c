/* api_image_upload.c — POST /v1/images with a multipart/form-data body: an image's files
 * uploaded to tided (docs/api.md), so a client on any machine can create an image.
 *
 * The form's fields are "name" and "cmdline" (text) and the files "disk" (required), "kernel"
 * and "initrd", the text fields first. Each file is written as it arrives into the image's
 * staging directory (api_images.h) and hashed on the way; the body is never held in memory.
 * A body announced over the size limit is refused before it is sent (413, so a client that
 * waits for "100 Continue" sends nothing); one that grows over it while streaming has its
 * connection closed. At the end the disk is checked with qemu-img and the image committed; on
 * any failure, and when the client goes away, the staging directory is removed. */
#include "api.h"
#include "api/api_images.h"
#include "api/api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/fs_private.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"

#define FIELD_MAX 8192                 /* a text field's bytes */
#define POST_BUFFER (64 * 1024)        /* the post processor's buffer */
#define FORM_OVERHEAD (64 * 1024)      /* what a form adds to its files' bytes, at most */
#define UPLOAD_DISK_NAME "disk.upload" /* the disk before its format is known */

enum { FILE_DISK, FILE_KERNEL, FILE_INITRD, FILE_MAX };

static const struct {
        const char *field, *name;
} upload_files[FILE_MAX] = {
        [FILE_DISK] = { "disk", UPLOAD_DISK_NAME },
        [FILE_KERNEL] = { "kernel", MODEL_IMAGE_KERNEL },
        [FILE_INITRD] = { "initrd", MODEL_IMAGE_INITRD },
};

struct upload_file {
        int fd; /* -1: not (or no longer) open */
        bool seen;
        int64_t size;
        struct sha256 sha;
};

struct api_image_upload {
        const struct api_config *cfg;
        struct store *store;
        struct MHD_PostProcessor *pp;
        struct api_image_stage stage;
        struct strbuf name, cmdline;
        struct upload_file files[FILE_MAX];
        int current; /* the file being written, or -1 */
        bool name_checked;
        int64_t total;        /* file bytes received */
        char *disk_filename;  /* the disk's file name as the client gave it */
        struct api_reply err; /* the first error; the rest of the body is then discarded */
        bool failed;
        bool over_limit; /* the connection is to be closed */
};

/* Records the first error; later data is discarded. Returns MHD_NO to stop the iteration. */
static enum MHD_Result upload_fail(struct api_image_upload *u, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static enum MHD_Result upload_fail(struct api_image_upload *u, int code, const char *fmt, ...) {
        if (u->failed)
                return MHD_NO;
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        u->failed = true;
        api_error(&u->err, code, "%s", msg);
        return MHD_NO;
}

/* The name comes before the files: checked when the first file begins, so that a taken name
 * is refused before the disk is stored (and again, for good, at the commit). */
static enum MHD_Result check_name(struct api_image_upload *u) {
        u->name_checked = true;
        const char *name = strbuf_str(&u->name);
        if (!*name)
                return upload_fail(u, TIDE_E_INVALID, "the form's field 'name' must come before its files");
        if (!model_name_valid(name))
                return upload_fail(u, TIDE_E_INVALID, "'%.64s' is not a valid image name", name);
        _cleanup_json_ json_t *existing = NULL;
        if (model_obj_get(u->store, MODEL_IMAGE, name, &existing, NULL) >= 0)
                return upload_fail(u, TIDE_E_EXISTS, "image '%s' already exists", name);
        return MHD_YES;
}

static enum MHD_Result file_begin(struct api_image_upload *u, const char *key, const char *filename) {
        int k = -1;
        for (int i = 0; i < FILE_MAX; i++)
                if (streq(key, upload_files[i].field))
                        k = i;
        if (k < 0)
                return upload_fail(u, TIDE_E_INVALID, "unknown file '%.32s' in the form: disk, kernel or initrd", key);
        if (u->files[k].seen)
                return upload_fail(u, TIDE_E_INVALID, "the form holds two files '%s'", key);
        if (!u->name_checked && check_name(u) == MHD_NO)
                return MHD_NO;
        _cleanup_free_ char *path = xasprintf("%s/%s", u->stage.tmp, upload_files[k].name);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        int r = fd < 0 ? -errno : fs_private_fix_fd(fd);
        if (r < 0) {
                if (fd >= 0)
                        close(fd);
                return upload_fail(u, TIDE_E_BACKEND, "creating %s: %s", path, tide_strerror(r));
        }
        u->files[k] = (struct upload_file) { .fd = fd, .seen = true };
        if (k == FILE_DISK && filename && *filename)
                u->disk_filename = xstrndup(filename, 128);
        sha256_init(&u->files[k].sha);
        u->current = k;
        return MHD_YES;
}

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
                                size_t size) {
        struct api_image_upload *u = cls;
        if (u->failed)
                return MHD_NO;
        if (!filename) {
                struct strbuf *b = streq(key, "name") ? &u->name : streq(key, "cmdline") ? &u->cmdline : NULL;
                if (!b)
                        return upload_fail(u, TIDE_E_INVALID, "unknown field '%.32s' in the form: name or cmdline",
                                           key);
                if (u->current >= 0 || (b == &u->name && u->name_checked))
                        return upload_fail(u, TIDE_E_INVALID, "the form's text fields must come before its files");
                if (strbuf_append(b, data, size) < 0)
                        return upload_fail(u, TIDE_E_TOO_LARGE, "the field '%s' is over %d bytes", key, FIELD_MAX);
                return MHD_YES;
        }
        if (off == 0 &&
            (u->current < 0 || !streq(key, upload_files[u->current].field) || u->files[u->current].size > 0) &&
            file_begin(u, key, filename) == MHD_NO)
                return MHD_NO;
        if (size == 0)
                return MHD_YES;
        struct upload_file *f = &u->files[u->current];
        u->total += (int64_t) size;
        if (u->total > api_image_max(u->cfg)) {
                u->over_limit = true;
                return upload_fail(u, TIDE_E_TOO_LARGE, "the image is over this tided's size limit (%lld MiB)",
                                   (long long) (api_image_max(u->cfg) >> 20));
        }
        int r = write_all(f->fd, data, size);
        if (r < 0)
                return upload_fail(u, TIDE_E_BACKEND, "writing the upload: %s", tide_strerror(r));
        sha256_update(&f->sha, data, size);
        f->size += (int64_t) size;
        return MHD_YES;
}

void api_image_upload_free(struct api_image_upload *u) {
        if (!u)
                return;
        if (u->pp)
                MHD_destroy_post_processor(u->pp);
        for (int i = 0; i < FILE_MAX; i++)
                if (u->files[i].fd >= 0)
                        close(u->files[i].fd);
        api_image_stage_clear(&u->stage);
        strbuf_clear(&u->name);
        strbuf_clear(&u->cmdline);
        free(u->disk_filename);
        json_decref(u->err.json);
        free(u);
}

bool api_image_upload_wanted(const char *method, const char *url, struct MHD_Connection *conn) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        return streq(method, "POST") && streq(url, "/v1/images") && ct &&
               startswith(ct, MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA);
}

int api_image_upload_new(const struct api_config *cfg, struct MHD_Connection *conn, struct api_image_upload **ret,
                         struct api_reply *rep) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        int64_t n;
        if (cl && parse_int64(cl, 0, INT64_MAX, &n) >= 0 && n > api_image_max(cfg) + FORM_OVERHEAD)
                return api_error(rep, TIDE_E_TOO_LARGE, "the image is over this tided's size limit (%lld MiB)",
                                 (long long) (api_image_max(cfg) >> 20));
        struct api_image_upload *u = xcalloc(1, sizeof *u);
        u->cfg = cfg;
        u->store = cfg->store;
        u->current = -1;
        u->name.max = FIELD_MAX;
        u->cmdline.max = FIELD_MAX;
        for (int i = 0; i < FILE_MAX; i++)
                u->files[i].fd = -1;
        u->pp = MHD_create_post_processor(conn, POST_BUFFER, on_field, u);
        int r = 0;
        if (!u->pp)
                r = api_error(rep, TIDE_E_INVALID, "the multipart/form-data body has no boundary");
        else
                r = api_image_stage_begin(cfg, &u->stage, rep);
        if (r < 0) {
                api_image_upload_free(u);
                return r;
        }
        *ret = u;
        return 0;
}

int api_image_upload_feed(struct api_image_upload *u, const char *data, size_t size) {
        if (u->failed)
                return u->over_limit ? TIDE_E_TOO_LARGE : 0;
        if (MHD_post_process(u->pp, data, size) != MHD_YES && !u->failed)
                upload_fail(u, TIDE_E_INVALID, "the multipart/form-data body is malformed");
        return u->over_limit ? TIDE_E_TOO_LARGE : 0;
}

/* The record's start: what the form asked for, checked as a request that names files would be
 * (model_image_from_request), with where the files came from. */
static int request_of_form(struct api_image_upload *u, struct api_reply *rep, json_t **ret) {
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s}", "name", strbuf_str(&u->name), "disk", "/upload");
        if (!body)
                return api_error(rep, TIDE_E_INVALID, "the image's name must be UTF-8");
        if (u->files[FILE_KERNEL].seen)
                json_object_set_new(body, "kernel", json_string("/upload"));
        if (u->files[FILE_INITRD].seen)
                json_object_set_new(body, "initrd", json_string("/upload"));
        if (u->cmdline.len > 0) {
                json_t *c = json_stringn(u->cmdline.buf, u->cmdline.len);
                if (!c)
                        return api_error(rep, TIDE_E_INVALID, "'cmdline' must be UTF-8");
                json_object_set_new(body, "cmdline", c);
        }
        _cleanup_json_ json_t *img = NULL;
        _cleanup_free_ char *err = NULL;
        int r = model_image_from_request(body, &img, &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);
        json_t *src = json_pack("{s:s}", "upload", "disk");
        json_object_set_new(img, "source", src);
        json_object_del(img, "disk");
        if (json_object_get(img, "kernel"))
                json_object_set_new(img, "kernel", json_true());
        if (json_object_get(img, "initrd"))
                json_object_set_new(img, "initrd", json_true());
        *ret = TAKE_PTR(img);
        return 0;
}

int api_image_upload_finish(struct api_image_upload *u, struct api_request *req, struct api_reply *rep) {
        if (!u->failed && MHD_post_process(u->pp, NULL, 0) != MHD_YES && !u->failed)
                upload_fail(u, TIDE_E_INVALID, "the multipart/form-data body is malformed");
        if (!u->failed && !u->files[FILE_DISK].seen)
                upload_fail(u, TIDE_E_INVALID, "the form has no file 'disk'");
        if (u->failed) {
                *rep = u->err;
                u->err = (struct api_reply) {};
                return TIDE_E_INVALID;
        }
        char hex[SHA256_HEX_SIZE], disk_hex[SHA256_HEX_SIZE];
        for (int i = 0; i < FILE_MAX; i++) {
                struct upload_file *f = &u->files[i];
                if (!f->seen)
                        continue;
                if (fsync(f->fd) < 0 || close(f->fd) < 0) {
                        f->fd = -1;
                        return api_error(rep, TIDE_E_BACKEND, "writing the upload: %s", strerror(errno));
                }
                f->fd = -1;
                /* The disk is named after its format once qemu-img has said what it is. */
                sha256_final_hex(&f->sha, i == FILE_DISK ? disk_hex : hex);
                if (i != FILE_DISK)
                        api_image_stage_add(&u->stage, upload_files[i].name, f->size, hex);
        }
        _cleanup_json_ json_t *img = NULL, *info = NULL;
        int r = request_of_form(u, rep, &img);
        if (r < 0)
                return r;
        _cleanup_free_ char *received = xasprintf("%s/%s", u->stage.tmp, UPLOAD_DISK_NAME);
        /* Errors name the file as the client called it, not the staging copy. */
        _cleanup_free_ char *shown = xasprintf("%s (uploaded)", u->disk_filename ? u->disk_filename : "disk");
        if ((r = api_image_inspect(received, NULL, shown, rep, &info)) < 0)
                return r;
        _cleanup_free_ char *disk_name = model_image_disk_name(tide_json_str(info, "format", ""));
        _cleanup_free_ char *named = xasprintf("%s/%s", u->stage.tmp, disk_name);
        if (rename(received, named) < 0)
                return api_error(rep, TIDE_E_BACKEND, "renaming %s: %s", received, strerror(errno));
        api_image_stage_add(&u->stage, disk_name, u->files[FILE_DISK].size, disk_hex);
        return api_image_commit(req, &u->stage, TAKE_PTR(img), info, rep);
}
