/* model.c — names, states and request validation of tide's objects. Pure: no I/O. */
#include "model.h"

#include <ctype.h>

#include "common/errors.h"
#include "common/util.h"

static const char *const kind_plural[MODEL_KIND_MAX] = { "flavors", "images", "instances" };
static const char *const kind_singular[MODEL_KIND_MAX] = { "flavor", "image", "instance" };
static const char *const status_names[INSTANCE_STATUS_MAX] = {
        "building", "running", "stopped", "error", "deleting",
};

const char *model_kind_plural(enum model_kind k) { return kind_plural[k]; }
const char *model_kind_singular(enum model_kind k) { return kind_singular[k]; }

const char *instance_status_to_string(enum instance_status s) {
        return s < INSTANCE_STATUS_MAX ? status_names[s] : "unknown";
}

int instance_status_from_string(const char *s) {
        for (int i = 0; i < INSTANCE_STATUS_MAX; i++)
                if (s && streq(s, status_names[i]))
                        return i;
        return -1;
}

bool model_name_valid(const char *name) {
        if (!name || !*name || strlen(name) > MODEL_NAME_MAX)
                return false;
        if (!isalnum((unsigned char) name[0]))
                return false;
        for (const char *p = name; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '.' && *p != '_' && *p != '-')
                        return false;
        /* ".." cannot start a name, but "a..b" could still be taken for a path step by a tool. */
        return !strstr(name, "..");
}

bool model_id_valid(const char *id) {
        if (!id || strlen(id) != 36)
                return false;
        for (int i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (id[i] != '-')
                                return false;
                } else if (!isdigit((unsigned char) id[i]) && !(id[i] >= 'a' && id[i] <= 'f'))
                        return false;
        }
        return true;
}

const char *json_str(json_t *o, const char *key, const char *def) {
        json_t *v = json_object_get(o, key);
        return json_is_string(v) ? json_string_value(v) : def;
}

int64_t json_int(json_t *o, const char *key, int64_t def) {
        json_t *v = json_object_get(o, key);
        return json_is_integer(v) ? (int64_t) json_integer_value(v) : def;
}

bool json_bool(json_t *o, const char *key, bool def) {
        json_t *v = json_object_get(o, key);
        return json_is_boolean(v) ? json_is_true(v) : def;
}

char *json_dump_compact(json_t *o) {
        char *s = json_dumps(o, JSON_COMPACT);
        if (!s)
                abort(); /* only fails on allocation */
        return s;
}

static int fail(char **ret_err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **ret_err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        *ret_err = xvasprintf(fmt, ap);
        va_end(ap);
        return TIDE_E_INVALID;
}

/* Checks that body is an object whose members are all in allowed. */
static int check_members(json_t *body, const char *const *allowed, char **ret_err) {
        if (!json_is_object(body))
                return fail(ret_err, "the body must be a JSON object");
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
                bool ok = false;
                for (const char *const *a = allowed; *a; a++)
                        ok = ok || streq(*a, key);
                if (!ok)
                        return fail(ret_err, "unknown field '%.64s'", key);
        }
        return 0;
}

static int get_name(json_t *body, const char *what, char **ret_err, const char **ret) {
        json_t *v = json_object_get(body, "name");
        if (!v)
                return fail(ret_err, "%s: 'name' is required", what);
        if (!json_is_string(v) || !model_name_valid(json_string_value(v)))
                return fail(ret_err, "%s name must be 1-%d characters of A-Z a-z 0-9 . _ - starting "
                            "with a letter or digit", what, MODEL_NAME_MAX);
        *ret = json_string_value(v);
        return 0;
}

/* An integer field in [min, max]; def < min means required. */
static int get_int(json_t *body, const char *key, int64_t min, int64_t max, int64_t def,
                   char **ret_err, int64_t *ret) {
        json_t *v = json_object_get(body, key);
        if (!v) {
                if (def < min)
                        return fail(ret_err, "'%s' is required", key);
                *ret = def;
                return 0;
        }
        if (!json_is_integer(v))
                return fail(ret_err, "'%s' must be an integer", key);
        json_int_t n = json_integer_value(v);
        if (n < min || n > max)
                return fail(ret_err, "'%s' must be between %lld and %lld", key, (long long) min,
                            (long long) max);
        *ret = n;
        return 0;
}

int model_flavor_from_request(json_t *body, json_t **ret, char **ret_err) {
        static const char *const allowed[] = {
                "name", "vcpus", "ram_mib", "disk_gib", "max_vcpus", "max_ram_mib", NULL,
        };
        const char *name;
        int64_t vcpus, ram, disk, max_vcpus, max_ram;
        int r;

        if ((r = check_members(body, allowed, ret_err)) < 0 ||
            (r = get_name(body, "flavor", ret_err, &name)) < 0 ||
            (r = get_int(body, "vcpus", 1, 256, -1, ret_err, &vcpus)) < 0 ||
            (r = get_int(body, "ram_mib", 16, 4194304, -1, ret_err, &ram)) < 0 ||
            (r = get_int(body, "disk_gib", 1, 65536, -1, ret_err, &disk)) < 0 ||
            (r = get_int(body, "max_vcpus", vcpus, 256, vcpus, ret_err, &max_vcpus)) < 0 ||
            (r = get_int(body, "max_ram_mib", ram, 4194304, ram, ret_err, &max_ram)) < 0)
                return r;

        *ret = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "name", name, "vcpus", (json_int_t) vcpus,
                         "ram_mib", (json_int_t) ram, "disk_gib", (json_int_t) disk, "max_vcpus",
                         (json_int_t) max_vcpus, "max_ram_mib", (json_int_t) max_ram);
        return 0;
}

static int get_path(json_t *body, const char *key, bool required, char **ret_err, const char **ret) {
        json_t *v = json_object_get(body, key);
        if (!v || json_is_null(v)) {
                if (required)
                        return fail(ret_err, "'%s' is required", key);
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return fail(ret_err, "'%s' must be a string", key);
        const char *p = json_string_value(v);
        if (p[0] != '/' || strlen(p) > 4096)
                return fail(ret_err, "'%s' must be an absolute path on tided's host", key);
        *ret = p;
        return 0;
}

int model_image_from_request(json_t *body, json_t **ret, char **ret_err) {
        static const char *const allowed[] = { "name", "disk", "kernel", "initrd", "cmdline", NULL };
        const char *name, *disk, *kernel, *initrd;
        int r;

        if ((r = check_members(body, allowed, ret_err)) < 0 ||
            (r = get_name(body, "image", ret_err, &name)) < 0 ||
            (r = get_path(body, "disk", true, ret_err, &disk)) < 0 ||
            (r = get_path(body, "kernel", false, ret_err, &kernel)) < 0 ||
            (r = get_path(body, "initrd", false, ret_err, &initrd)) < 0)
                return r;
        if (initrd && !kernel)
                return fail(ret_err, "'initrd' needs 'kernel'");

        json_t *cmdline = json_object_get(body, "cmdline");
        if (cmdline && !json_is_null(cmdline)) {
                if (!json_is_string(cmdline) || json_string_length(cmdline) > MODEL_CMDLINE_MAX)
                        return fail(ret_err, "'cmdline' must be a string of at most %d bytes",
                                    MODEL_CMDLINE_MAX);
                if (!kernel)
                        return fail(ret_err, "'cmdline' needs 'kernel'");
                for (const char *p = json_string_value(cmdline); *p; p++)
                        if ((unsigned char) *p < 0x20)
                                return fail(ret_err, "'cmdline' must not hold control characters");
        }

        json_t *o = json_pack("{s:s, s:s}", "name", name, "disk", disk);
        if (kernel)
                json_object_set_new(o, "kernel", json_string(kernel));
        if (initrd)
                json_object_set_new(o, "initrd", json_string(initrd));
        if (cmdline && json_is_string(cmdline))
                json_object_set(o, "cmdline", cmdline);
        *ret = o;
        return 0;
}

int model_instance_from_request(json_t *body, json_t **ret, char **ret_err) {
        static const char *const allowed[] = {
                "name", "flavor", "image", "user_data", "priority", "ha", NULL,
        };
        const char *name;
        int64_t priority;
        int r;

        if ((r = check_members(body, allowed, ret_err)) < 0 ||
            (r = get_name(body, "instance", ret_err, &name)) < 0 ||
            (r = get_int(body, "priority", 1, 1000, MODEL_PRIORITY_DEFAULT, ret_err, &priority)) < 0)
                return r;

        const char *refs[] = { "flavor", "image" };
        for (size_t i = 0; i < ELEMENTSOF(refs); i++) {
                json_t *v = json_object_get(body, refs[i]);
                if (!v)
                        return fail(ret_err, "'%s' is required", refs[i]);
                if (!json_is_string(v) || (!model_name_valid(json_string_value(v)) &&
                                            !model_id_valid(json_string_value(v))))
                        return fail(ret_err, "'%s' must be a %s name or id", refs[i], refs[i]);
        }

        json_t *ud = json_object_get(body, "user_data");
        if (ud && !json_is_null(ud) &&
            (!json_is_string(ud) || json_string_length(ud) > MODEL_USER_DATA_MAX))
                return fail(ret_err, "'user_data' must be a string of at most %d bytes",
                            MODEL_USER_DATA_MAX);
        json_t *ha = json_object_get(body, "ha");
        if (ha && !json_is_boolean(ha))
                return fail(ret_err, "'ha' must be true or false");

        *ret = json_pack("{s:s, s:O, s:O, s:s, s:I, s:b}", "name", name, "flavor",
                         json_object_get(body, "flavor"), "image", json_object_get(body, "image"),
                         "user_data", ud && json_is_string(ud) ? json_string_value(ud) : "",
                         "priority", (json_int_t) priority, "ha", ha && json_is_true(ha));
        return 0;
}
