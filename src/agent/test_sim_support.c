/* test_sim_support.c — shared by the in-process tests on simulated hosts (test_sim_support.h). */
#include "agent/test_sim_support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "model/model.h"

static void (*dump_hook)(void), (*cleanup_hook)(void);

void sim_test_hooks(void (*dump)(void), void (*cleanup)(void)) {
        dump_hook = dump;
        cleanup_hook = cleanup;
}

_Noreturn void sim_test_fail_at(const char *file, int line, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s:%d: FAIL: ", file, line);
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        if (dump_hook)
                dump_hook();
        if (cleanup_hook)
                cleanup_hook();
        exit(1);
}

json_t *sim_test_json(const char *text) {
        json_error_t err;
        json_t *j = json_loads(text, 0, &err);
        if (!j)
                FAIL("bad JSON in the test: %s", err.text);
        return j;
}

void sim_test_flavor(struct store *s, const char *body_text) {
        json_t *body = sim_test_json(body_text), *f;
        _cleanup_free_ char *err = NULL, *id = id_new_uuid(), *created = time_format_ms(now_ms());
        if (model_flavor_from_request(body, &f, &err) < 0)
                FAIL("flavor %s: %s", body_text, err);
        json_decref(body);
        json_object_set_new(f, "id", json_string(id));
        json_object_set_new(f, "created", json_string(created));
        CHECK_OK(model_obj_create(s, MODEL_FLAVOR, f, NULL));
        json_decref(f);
}

void sim_test_image(struct store *s, const char *dir, const char *name) {
        const int64_t size = INT64_C(16) << 20;
        _cleanup_free_ char *src = xasprintf("%s/disk.raw", dir), *id = id_new_uuid();
        _cleanup_free_ char *idir = xasprintf("%s/images/%s", dir, id), *path = xasprintf("%s/disk.raw", idir);
        _cleanup_free_ char *body_text = xasprintf("{\"name\": \"%s\", \"disk\": \"%s\"}", name, src);
        _cleanup_free_ char *err = NULL, *created = time_format_ms(now_ms());
        _cleanup_close_ int fd = open(src, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || ftruncate(fd, size) < 0)
                FAIL("creating %s: %s", src, strerror(errno));
        CHECK_OK(mkdir_p(idir, 0755));
        CHECK_OK(copy_file(src, path, 0644));

        json_t *body = sim_test_json(body_text), *img;
        if (model_image_from_request(body, &img, &err) < 0)
                FAIL("image %s: %s", body_text, err);
        json_decref(body);
        json_object_set_new(img, "source", json_pack("{s:s}", "disk", src));
        json_object_del(img, "disk");
        json_object_set_new(img, "id", json_string(id));
        json_object_set_new(img, "format", json_string("raw"));
        json_object_set_new(img, "virtual_size", json_integer(size));
        json_object_set_new(img, "size", json_integer(0));
        json_object_set_new(img, "path", json_string(path));
        json_object_set_new(img, "created", json_string(created));
        CHECK_OK(model_obj_create(s, MODEL_IMAGE, img, NULL));
        json_decref(img);
}
