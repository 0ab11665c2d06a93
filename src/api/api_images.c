/* api_images.c — /v1/images: the image store's records, imports from tided's host by path, and the
 * staging and commit of new images that imports and uploads share (api_images.h). */
#include "api.h"
#include "api/api_images.h"
#include "api/api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/fs_private.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"

#define QEMU_IMG_TIMEOUT_MS 30000
#define COPY_CHUNK (1 << 20)

static int image_list(struct api_request *req, struct api_reply *rep) {
        json_t *a;
        int r = model_obj_list(api_store(req), MODEL_IMAGE, &a);
        if (r < 0)
                return api_error(rep, r, "listing images: %s", tide_strerror(r));
        return api_json(rep, 200, json_pack("{s:o}", "images", a));
}

static int image_show(struct api_request *req, struct api_reply *rep) {
        json_t *i;
        int r = model_obj_get(api_store(req), MODEL_IMAGE, req->params[0], &i, NULL);
        if (r < 0)
                return api_error(rep, r, "image '%.64s': %s", req->params[0], tide_strerror(r));
        return api_json(rep, 200, i);
}

int api_image_info_check(const char *path, int status, const char *out, const char *err, struct api_reply *rep,
                         json_t **ret) {
        int r = 0;
        if (status != 0)
                return api_error(rep, TIDE_E_INVALID, "'%s' is not a readable disk image: %.300s", path,
                                 err && *err ? err : "qemu-img failed");
        _cleanup_json_ json_t *info = out ? json_loads(out, 0, NULL) : NULL;
        if (!json_is_object(info))
                return api_error(rep, TIDE_E_BACKEND, "qemu-img gave no JSON for '%s'", path);
        const char *fmt = tide_json_str(info, "format", "");
        if (!streq(fmt, "qcow2") && !streq(fmt, "raw"))
                r = api_error(rep, TIDE_E_INVALID, "'%s' is in format '%s'; qcow2 or raw is needed", path, fmt);
        else if (json_object_get(info, "backing-filename") || json_object_get(info, "full-backing-filename"))
                r = api_error(rep, TIDE_E_INVALID, "'%s' names a backing file; a self-contained disk is needed", path);
        else if (json_object_get(json_object_get(json_object_get(info, "format-specific"), "data"), "data-file"))
                r = api_error(rep, TIDE_E_INVALID,
                              "'%s' names an external data file; a self-contained disk "
                              "is needed",
                              path);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(info);
        return 0;
}

const char *api_files_base(const struct api_config *cfg) {
        return cfg->shared_dir ? cfg->shared_dir : cfg->state_dir;
}

int64_t api_image_max(const struct api_config *cfg) {
        return cfg->image_max_bytes > 0 ? cfg->image_max_bytes : API_IMAGE_MAX_DEFAULT;
}

int api_image_inspect(const char *path, const char *format, const char *shown, struct api_reply *rep, json_t **ret) {
        char *argv[] = { "qemu-img", "info", "--output=json", NULL, NULL, NULL, NULL };
        size_t n = 3;
        _cleanup_free_ char *fmtarg = format ? xasprintf("-f%s", format) : NULL;
        if (fmtarg)
                argv[n++] = fmtarg;
        else
                argv[n++] = "-U"; /* no lock needed to read a header */
        argv[n++] = (char *) path;
        _cleanup_free_ char *out = NULL, *err = NULL;
        int r = proc_run(argv, QEMU_IMG_TIMEOUT_MS, &out, &err);
        if (r < 0)
                return api_error(rep, TIDE_E_BACKEND, "running qemu-img: %s", tide_strerror(r));
        _cleanup_json_ json_t *info = NULL;
        r = api_image_info_check(shown ? shown : path, r, out, err, rep, &info);
        if (r < 0)
                return r;
        /* Any bytes probe as raw (qemu-img rounds their size up): a disk at least comes in
         * whole sectors. */
        struct stat st;
        if (streq(tide_json_str(info, "format", ""), "raw") && (stat(path, &st) < 0 || st.st_size % 512 != 0))
                return api_error(rep, TIDE_E_INVALID, "'%s' is not a disk image: raw, but not whole 512-byte sectors",
                                 shown ? shown : path);
        *ret = TAKE_PTR(info);
        return 0;
}

int api_image_stage_begin(const struct api_config *cfg, struct api_image_stage *st, struct api_reply *rep) {
        _cleanup_free_ char *root = model_image_path(api_files_base(cfg), NULL, NULL);
        *st = (struct api_image_stage) { .id = id_new_uuid(), .files = json_object() };
        _cleanup_free_ char *dir = model_image_path(api_files_base(cfg), st->id, NULL);
        int r = fs_private_mkdir(root);
        if (r >= 0) {
                st->tmp = xasprintf("%s.tmp", dir);
                r = fs_private_mkdir(st->tmp);
        }
        if (r < 0)
                return api_error(rep, TIDE_E_BACKEND, "creating a directory in %s: %s", root, tide_strerror(r));
        return 0;
}

void api_image_stage_add(struct api_image_stage *st, const char *name, int64_t size, const char *sha256_hex) {
        json_object_set_new(st->files, name, json_pack("{s:I, s:s}", "size", (json_int_t) size, "sha256", sha256_hex));
}

void api_image_stage_clear(struct api_image_stage *st) {
        if (st->tmp && !st->committed)
                (void) rm_rf(st->tmp);
        free(st->id);
        free(st->tmp);
        json_decref(st->files);
        *st = (struct api_image_stage) {};
}

/* Copies src into the staging directory as name after checking it is a regular file within
 * the size limit, hashing what it copies. */
static int copy_in(const struct api_config *cfg, const char *src, struct api_image_stage *st, const char *name,
                   struct api_reply *rep) {
        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
        struct stat st_in;
        if (in < 0 || fstat(in, &st_in) < 0)
                return api_error(rep, TIDE_E_INVALID, "cannot read '%s': %s", src, strerror(errno));
        if (!S_ISREG(st_in.st_mode))
                return api_error(rep, TIDE_E_INVALID, "'%s' is not a regular file", src);
        if (st_in.st_size > api_image_max(cfg))
                return api_error(rep, TIDE_E_TOO_LARGE, "'%s' is over this tided's image size limit (%lld MiB)", src,
                                 (long long) (api_image_max(cfg) >> 20));
        _cleanup_free_ char *dst = xasprintf("%s/%s", st->tmp, name);
        /* Created unreadable by others from the start, then given QEMU's group. */
        _cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        int r = out < 0 ? -errno : fs_private_fix_fd(out);
        struct sha256 h;
        sha256_init(&h);
        int64_t size = 0;
        _cleanup_free_ char *buf = xmalloc(COPY_CHUNK);
        while (r >= 0) {
                ssize_t k = read(in, buf, COPY_CHUNK);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = k < 0 ? -errno : 0;
                        break;
                }
                size += k;
                if (size > api_image_max(cfg))
                        return api_error(rep, TIDE_E_TOO_LARGE, "'%s' grew over the image size limit", src);
                sha256_update(&h, buf, (size_t) k);
                r = write_all(out, buf, (size_t) k);
        }
        if (r >= 0 && fsync(out) < 0)
                r = -errno;
        if (r < 0)
                return api_error(rep, TIDE_E_BACKEND, "copying '%s': %s", src, tide_strerror(r));
        char hex[SHA256_HEX_SIZE];
        sha256_final_hex(&h, hex);
        api_image_stage_add(st, name, size, hex);
        return 0;
}

int api_image_commit(struct api_request *req, struct api_image_stage *st, json_t *img_in, json_t *info,
                     struct api_reply *rep) {
        _cleanup_json_ json_t *img = img_in;
        const char *name = tide_json_str(img, "name", "");
        const char *format = tide_json_str(info, "format", "");
        const char *root = api_files_base(api_config(req));
        _cleanup_free_ char *dir = model_image_path(root, st->id, NULL);
        _cleanup_free_ char *disk_name = model_image_disk_name(format);
        _cleanup_free_ char *final_path = model_image_path(root, st->id, disk_name);
        _cleanup_free_ char *created = time_format_ms(now_ms());

        if (rename(st->tmp, dir) < 0)
                return api_error(rep, TIDE_E_BACKEND, "renaming %s: %s", st->tmp, strerror(errno));
        st->committed = true;
        json_object_set_new(img, "id", json_string(st->id));
        json_object_set_new(img, "format", json_string(format));
        json_object_set_new(img, "virtual_size", json_integer(tide_json_int(info, "virtual-size", 0)));
        json_object_set_new(img, "size", json_integer(tide_json_int(info, "actual-size", 0)));
        json_object_set_new(img, "path", json_string(final_path));
        json_object_set(img, "files", st->files);
        json_object_set_new(img, "hosts", json_pack("[s]", api_config(req)->host_name ?: ""));
        json_object_set_new(img, "created", json_string(created));
        int r = model_obj_create(api_store(req), MODEL_IMAGE, img, NULL);
        if (r < 0) {
                api_error(rep, r, r == TIDE_E_EXISTS ? "image '%s' already exists" : "storing image '%s': %s", name,
                          tide_strerror(r));
                (void) rm_rf(dir);
                return r;
        }
        model_event_emit(api_store(req), "info", "image.created", NULL, NULL, "image '%s' created (%s, %lld bytes)",
                         name, format, (long long) tide_json_int(img, "virtual_size", 0));
        return api_json(rep, 201, TAKE_PTR(img));
}

/* POST /v1/images with a JSON body: files read from tided's own host by path (admins only:
 * docs/api.md). The upload of their content is api_image_upload.c. */
static int image_create(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *img = NULL, *existing = NULL, *info = NULL;
        _cleanup_free_ char *err = NULL;
        int r = model_image_from_request(req->body, &img, &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);

        const char *name = tide_json_str(img, "name", "");
        if (model_obj_get(api_store(req), MODEL_IMAGE, name, &existing, NULL) >= 0)
                return api_error(rep, TIDE_E_EXISTS, "image '%s' already exists", name);

        /* The source is probed once to learn its format; the copy is checked again with that
         * format given explicitly, so a file changed between the two cannot slip through. */
        r = api_image_inspect(tide_json_str(img, "disk", ""), NULL, NULL, rep, &info);
        if (r < 0)
                return r;
        _cleanup_free_ char *format = xstrdup(tide_json_str(info, "format", ""));
        json_decref(TAKE_PTR(info));

        _cleanup_(api_image_stage_clear) struct api_image_stage st = {};
        if ((r = api_image_stage_begin(api_config(req), &st, rep)) < 0)
                return r;
        _cleanup_free_ char *disk_name = model_image_disk_name(format);
        if ((r = copy_in(api_config(req), tide_json_str(img, "disk", ""), &st, disk_name, rep)) < 0)
                return r;
        if (json_object_get(img, "kernel") &&
            (r = copy_in(api_config(req), tide_json_str(img, "kernel", ""), &st, MODEL_IMAGE_KERNEL, rep)) < 0)
                return r;
        if (json_object_get(img, "initrd") &&
            (r = copy_in(api_config(req), tide_json_str(img, "initrd", ""), &st, MODEL_IMAGE_INITRD, rep)) < 0)
                return r;
        _cleanup_free_ char *copied = xasprintf("%s/%s", st.tmp, disk_name);
        if ((r = api_image_inspect(copied, format, NULL, rep, &info)) < 0)
                return r;

        json_t *src = json_pack("{s:s}", "disk", tide_json_str(img, "disk", ""));
        json_object_set_new(img, "source", src);
        json_object_del(img, "disk");
        if (json_object_get(img, "kernel")) {
                json_object_set(src, "kernel", json_object_get(img, "kernel"));
                json_object_set_new(img, "kernel", json_true());
        }
        if (json_object_get(img, "initrd")) {
                json_object_set(src, "initrd", json_object_get(img, "initrd"));
                json_object_set_new(img, "initrd", json_true());
        }
        return api_image_commit(req, &st, TAKE_PTR(img), info, rep);
}

static int image_delete(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *img = NULL;
        int64_t rev;
        int r = model_obj_get(api_store(req), MODEL_IMAGE, req->params[0], &img, &rev);
        if (r < 0)
                return api_error(rep, r, "image '%.64s': %s", req->params[0], tide_strerror(r));
        size_t users;
        _cleanup_free_ char *user = NULL;
        r = api_count_users(req, "image_id", tide_json_str(img, "id", ""), &users, &user);
        if (r >= 0 && users > 1)
                r = api_error(rep, TIDE_E_IN_USE, "image '%s' is used by instance '%s' and %zu more",
                              tide_json_str(img, "name", ""), user, users - 1);
        else if (r >= 0 && users == 1)
                r = api_error(rep, TIDE_E_IN_USE, "image '%s' is used by instance '%s'", tide_json_str(img, "name", ""),
                              user);
        else if (r >= 0 && (r = model_obj_delete(api_store(req), MODEL_IMAGE, img, rev)) < 0)
                api_error(rep, r, "deleting image '%s': %s", tide_json_str(img, "name", ""), tide_strerror(r));
        if (r >= 0) {
                _cleanup_free_ char *dir = model_image_path(api_files_base(api_config(req)),
                                                            tide_json_str(img, "id", ""), NULL);
                if (rm_rf(dir) < 0)
                        log_warning("removing %s failed; remove it by hand", dir);
                model_event_emit(api_store(req), "info", "image.deleted", NULL, NULL, "image '%s' deleted",
                                 tide_json_str(img, "name", ""));
                rep->status = 204;
        }
        return r;
}

/* GET /v1/images/{ref}/files/{file}: one file of the image as this host holds it, streamed;
 * hosts that lack an image copy it from here (agent_image.c). Only the files the record lists
 * are served. */
static int image_file(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *img = NULL;
        int r = model_obj_get(api_store(req), MODEL_IMAGE, req->params[0], &img, NULL);
        if (r < 0)
                return api_error(rep, r, "image '%.64s': %s", req->params[0], tide_strerror(r));
        const char *file = req->params[1];
        if (!json_object_get(json_object_get(img, "files"), file))
                return api_error(rep, TIDE_E_NOT_FOUND, "image '%s' has no file '%.64s'",
                                 tide_json_str(img, "name", ""), file);
        _cleanup_free_ char *path = model_image_path(api_files_base(api_config(req)), tide_json_str(img, "id", ""),
                                                     file);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 && errno == ENOENT)
                return api_error(rep, TIDE_E_NOT_FOUND, "host '%s' holds no copy of image '%s'",
                                 api_config(req)->host_name ?: "", tide_json_str(img, "name", ""));
        if (fd < 0 || fstat(fd, &st) < 0)
                return api_error(rep, TIDE_E_BACKEND, "reading %s: %s", path, strerror(errno));
        rep->status = 200;
        rep->has_file = true;
        rep->file_size = (uint64_t) st.st_size;
        rep->file_fd = TAKE_FD(fd);
        return 0;
}

const struct api_route api_image_routes[] = {
        { "GET", "/v1/images", image_list },         { "POST", "/v1/images", image_create },
        { "GET", "/v1/images/{}", image_show },      { "GET", "/v1/images/{}/files/{}", image_file },
        { "DELETE", "/v1/images/{}", image_delete }, {},
};
