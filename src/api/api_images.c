/* api_images.c — /v1/images: copies checked disks (and kernels, initrds) into the image store. */
#include "api.h"
#include "api/api_internal.h"

#include <errno.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "common/fs_private.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"

#define QEMU_IMG_TIMEOUT_MS 30000
#define IMAGE_FILE_MAX (1LL << 40) /* 1 TiB: a sanity bound on what is copied */

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

/* Runs qemu-img info on path (format probed when format is NULL, else explicit) and checks
 * that the disk is qcow2 or raw without a backing file or an external data file
 * (api_image_info_check). */
static int inspect_disk(const char *path, const char *format, struct api_reply *rep, json_t **ret) {
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
        return api_image_info_check(path, r, out, err, rep, ret);
}

/* Copies src into dir/name after checking it is a regular file. */
static int copy_in(const char *src, const char *dir, const char *name, struct api_reply *rep) {
        struct stat st;
        if (stat(src, &st) < 0)
                return api_error(rep, TIDE_E_INVALID, "cannot read '%s': %s", src, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return api_error(rep, TIDE_E_INVALID, "'%s' is not a regular file", src);
        if (st.st_size > IMAGE_FILE_MAX)
                return api_error(rep, TIDE_E_INVALID, "'%s' is over 1 TiB", src);
        _cleanup_free_ char *dst = xasprintf("%s/%s", dir, name);
        /* Created unreadable by others from the start, then given QEMU's group. */
        int r = copy_file(src, dst, 0600);
        if (r >= 0)
                r = fs_private_fix(dst);
        if (r < 0)
                return api_error(rep, TIDE_E_BACKEND, "copying '%s': %s", src, tide_strerror(r));
        return 0;
}

static int image_create(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *img = NULL, *existing = NULL;
        _cleanup_free_ char *err = NULL;
        int r = model_image_from_request(req->body, &img, &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);

        const char *name = tide_json_str(img, "name", "");
        if (model_obj_get(api_store(req), MODEL_IMAGE, name, &existing, NULL) >= 0)
                return api_error(rep, TIDE_E_EXISTS, "image '%s' already exists", name);

        _cleanup_free_ char *id = id_new_uuid();
        _cleanup_free_ char *dir = model_image_path(api_config(req)->state_dir, id, NULL);
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", dir);
        _cleanup_free_ char *root = model_image_path(api_config(req)->state_dir, NULL, NULL);
        _cleanup_free_ char *format = NULL, *disk_name = NULL, *copied = NULL, *created = NULL;
        _cleanup_free_ char *final_path = NULL;
        _cleanup_json_ json_t *info = NULL;
        json_t *src = NULL;
        bool made = false;

        /* The source is probed once to learn its format; the copy is checked again with that
         * format given explicitly, so a file changed between the two cannot slip through. */
        r = inspect_disk(tide_json_str(img, "disk", ""), NULL, rep, &info);
        if (r < 0)
                goto out;
        format = xstrdup(tide_json_str(info, "format", ""));
        json_decref(TAKE_PTR(info));

        r = fs_private_mkdir(root);
        if (r >= 0)
                r = fs_private_mkdir(tmp);
        if (r < 0) {
                api_error(rep, TIDE_E_BACKEND, "creating %s: %s", tmp, tide_strerror(r));
                goto out;
        }
        made = true;
        disk_name = model_image_disk_name(format);
        if ((r = copy_in(tide_json_str(img, "disk", ""), tmp, disk_name, rep)) < 0)
                goto out;
        if (json_object_get(img, "kernel") &&
            (r = copy_in(tide_json_str(img, "kernel", ""), tmp, MODEL_IMAGE_KERNEL, rep)) < 0)
                goto out;
        if (json_object_get(img, "initrd") &&
            (r = copy_in(tide_json_str(img, "initrd", ""), tmp, MODEL_IMAGE_INITRD, rep)) < 0)
                goto out;
        copied = xasprintf("%s/%s", tmp, disk_name);
        r = inspect_disk(copied, format, rep, &info);
        if (r < 0)
                goto out;
        if (rename(tmp, dir) < 0) {
                r = api_error(rep, TIDE_E_BACKEND, "renaming %s: %s", tmp, strerror(errno));
                goto out;
        }

        created = time_format_ms(now_ms());
        src = json_pack("{s:s}", "disk", tide_json_str(img, "disk", ""));
        json_object_set_new(img, "source", src);
        json_object_del(img, "disk");
        json_object_set_new(img, "id", json_string(id));
        json_object_set_new(img, "format", json_string(format));
        json_object_set_new(img, "virtual_size", json_integer(tide_json_int(info, "virtual-size", 0)));
        json_object_set_new(img, "size", json_integer(tide_json_int(info, "actual-size", 0)));
        final_path = model_image_path(api_config(req)->state_dir, id, disk_name);
        json_object_set_new(img, "path", json_string(final_path));
        if (json_object_get(img, "kernel")) {
                json_object_set(src, "kernel", json_object_get(img, "kernel"));
                json_object_set_new(img, "kernel", json_true());
        }
        if (json_object_get(img, "initrd")) {
                json_object_set(src, "initrd", json_object_get(img, "initrd"));
                json_object_set_new(img, "initrd", json_true());
        }
        json_object_set_new(img, "created", json_string(created));
        r = model_obj_create(api_store(req), MODEL_IMAGE, img, NULL);
        if (r < 0) {
                api_error(rep, r, r == TIDE_E_EXISTS ? "image '%s' already exists" : "storing image '%s': %s", name,
                          tide_strerror(r));
                (void) rm_rf(dir);
                goto out;
        }
        model_event_emit(api_store(req), "info", "image.created", NULL, NULL, "image '%s' created (%s, %lld bytes)",
                         name, format, (long long) tide_json_int(img, "virtual_size", 0));
        api_json(rep, 201, TAKE_PTR(img));
        r = 0;
out:
        if (made)
                (void) rm_rf(tmp);
        return r;
}

static int image_delete(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *img = NULL;
        int64_t rev;
        int r = model_obj_get(api_store(req), MODEL_IMAGE, req->params[0], &img, &rev);
        if (r < 0)
                return api_error(rep, r, "image '%.64s': %s", req->params[0], tide_strerror(r));
        size_t users;
        r = api_count_users(req, "image_id", tide_json_str(img, "id", ""), &users);
        if (r >= 0 && users > 0)
                r = api_error(rep, TIDE_E_IN_USE, "image '%s' is used by %zu instance(s)",
                              tide_json_str(img, "name", ""), users);
        else if (r >= 0 && (r = model_obj_delete(api_store(req), MODEL_IMAGE, img, rev)) < 0)
                api_error(rep, r, "deleting image '%s': %s", tide_json_str(img, "name", ""), tide_strerror(r));
        if (r >= 0) {
                _cleanup_free_ char *dir = model_image_path(api_config(req)->state_dir, tide_json_str(img, "id", ""),
                                                            NULL);
                if (rm_rf(dir) < 0)
                        log_warning("removing %s failed; remove it by hand", dir);
                model_event_emit(api_store(req), "info", "image.deleted", NULL, NULL, "image '%s' deleted",
                                 tide_json_str(img, "name", ""));
                rep->status = 204;
        }
        return r;
}

const struct api_route api_image_routes[] = {
        { "GET", "/v1/images", image_list },
        { "POST", "/v1/images", image_create },
        { "GET", "/v1/images/{}", image_show },
        { "DELETE", "/v1/images/{}", image_delete },
        {},
};
