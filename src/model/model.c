/* model.c — names, states and request validation of tide's objects. Pure: no I/O. */
#include "model.h"
#include "model_net.h"
#include "model_priv.h"

#include <ctype.h>

#include "common/errors.h"
#include "common/util.h"

static const char *const kind_plural[MODEL_KIND_MAX] = { "flavors", "images", "instances", "server-groups",
                                                         "groups",  "stacks", "networks" };
static const char *const kind_singular[MODEL_KIND_MAX] = { "flavor",        "image", "instance", "server group",
                                                           "scaling group", "stack", "network" };
static const char *const status_names[MODEL_INSTANCE_STATUS_MAX] = {
        [MODEL_INSTANCE_BUILDING] = "building", [MODEL_INSTANCE_RUNNING] = "running",
        [MODEL_INSTANCE_STOPPED] = "stopped",   [MODEL_INSTANCE_ERROR] = "error",
        [MODEL_INSTANCE_DELETING] = "deleting",
};
static const char *const desired_names[MODEL_DESIRED_MAX] = {
        [MODEL_DESIRED_RUNNING] = "running",
        [MODEL_DESIRED_STOPPED] = "stopped",
        [MODEL_DESIRED_DELETED] = "deleted",
};
static const char *const task_names[MODEL_TASK_MAX] = {
        [MODEL_TASK_NONE] = NULL,           [MODEL_TASK_CREATING] = "creating",   [MODEL_TASK_STARTING] = "starting",
        [MODEL_TASK_STOPPING] = "stopping", [MODEL_TASK_REBOOTING] = "rebooting", [MODEL_TASK_DELETING] = "deleting",
};

const char *model_kind_plural(enum model_kind k) {
        return kind_plural[k];
}
const char *model_kind_singular(enum model_kind k) {
        return kind_singular[k];
}

/* Index of s in names[0..n), or -EINVAL (every state enum's _INVALID). */
static int lookup(const char *const *names, int n, const char *s) {
        for (int i = 0; s && i < n; i++)
                if (names[i] && streq(s, names[i]))
                        return i;
        return -EINVAL;
}

const char *model_instance_status_to_string(enum model_instance_status s) {
        return s >= 0 && s < MODEL_INSTANCE_STATUS_MAX ? status_names[s] : NULL;
}

const char *model_instance_desired_to_string(enum model_instance_desired d) {
        return d >= 0 && d < MODEL_DESIRED_MAX ? desired_names[d] : NULL;
}

const char *model_instance_task_to_string(enum model_instance_task t) {
        return t >= 0 && t < MODEL_TASK_MAX ? task_names[t] : NULL;
}

enum model_instance_status model_instance_status_from_string(const char *s) {
        return lookup(status_names, MODEL_INSTANCE_STATUS_MAX, s);
}

enum model_instance_desired model_instance_desired_from_string(const char *s) {
        return lookup(desired_names, MODEL_DESIRED_MAX, s);
}

enum model_instance_task model_instance_task_from_string(const char *s) {
        return lookup(task_names, MODEL_TASK_MAX, s);
}

enum model_instance_status model_instance_get_status(const json_t *inst) {
        return model_instance_status_from_string(tide_json_str(inst, "status", NULL));
}

enum model_instance_desired model_instance_get_desired(const json_t *inst) {
        return model_instance_desired_from_string(tide_json_str(inst, "desired", "running"));
}

bool model_instance_settled(const json_t *inst) {
        return json_is_null(json_object_get(inst, "task"));
}

bool model_leader_superseded(int64_t leader_rev, int64_t mod_rev, int64_t current_rev) {
        return leader_rev > 0 && current_rev > 0 && leader_rev < current_rev && mod_rev > current_rev;
}

/* The state's string, or null (a task that is none). */
static json_t *state_json(const char *s) {
        return s ? json_string(s) : json_null();
}

void model_instance_set_status(json_t *inst, enum model_instance_status s) {
        json_object_set_new(inst, "status", state_json(model_instance_status_to_string(s)));
}

void model_instance_set_desired(json_t *inst, enum model_instance_desired d) {
        json_object_set_new(inst, "desired", state_json(model_instance_desired_to_string(d)));
}

void model_instance_set_task(json_t *inst, enum model_instance_task t) {
        json_object_set_new(inst, "task", state_json(model_instance_task_to_string(t)));
}

int model_instance_mark_deleting(json_t *inst, void *userdata) {
        model_instance_set_desired(inst, MODEL_DESIRED_DELETED);
        model_instance_set_status(inst, MODEL_INSTANCE_DELETING);
        model_instance_set_task(inst, MODEL_TASK_DELETING);
        return MODEL_CHANGE_WRITE;
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


void model_set_now(json_t *o, const char *key) {
        _cleanup_free_ char *t = time_format_ms(now_ms());
        json_object_set_new(o, key, json_string(t));
}


static int merge_number(json_t *o, json_t *body, const char *key, double min, double max, bool integer, char **ret_err);
int model_fail(char **ret_err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        *ret_err = xvasprintf(fmt, ap);
        va_end(ap);
        return TIDE_E_INVALID;
}

/* Checks that body is an object whose members are all in allowed. */
int model_check_members(json_t *body, const char *const *allowed, char **ret_err) {
        if (!json_is_object(body))
                return model_fail(ret_err, "the body must be a JSON object");
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
                bool ok = false;
                for (const char *const *a = allowed; *a; a++)
                        ok = ok || streq(*a, key);
                if (!ok)
                        return model_fail(ret_err, "unknown field '%.64s'", key);
        }
        return 0;
}

int model_check_launch(json_t *body, char **ret_err) {
        const char *refs[] = { "flavor", "image" };
        for (size_t i = 0; i < ELEMENTSOF(refs); i++) {
                json_t *v = json_object_get(body, refs[i]);
                if (!v)
                        return model_fail(ret_err, "'%s' is required", refs[i]);
                if (!json_is_string(v) ||
                    (!model_name_valid(json_string_value(v)) && !model_id_valid(json_string_value(v))))
                        return model_fail(ret_err, "'%s' must be a %s name or id", refs[i], refs[i]);
        }
        json_t *ud = json_object_get(body, "user_data");
        if (ud && !json_is_null(ud) && (!json_is_string(ud) || json_string_length(ud) > MODEL_USER_DATA_MAX))
                return model_fail(ret_err, "'user_data' must be a string of at most %d bytes", MODEL_USER_DATA_MAX);
        return 0;
}

int model_get_name(json_t *body, const char *what, char **ret_err, const char **ret) {
        json_t *v = json_object_get(body, "name");
        if (!v)
                return model_fail(ret_err, "%s: 'name' is required", what);
        if (!json_is_string(v) || !model_name_valid(json_string_value(v)))
                return model_fail(ret_err,
                                  "%s name must be 1-%d characters of A-Z a-z 0-9 . _ - starting "
                                  "with a letter or digit",
                                  what, MODEL_NAME_MAX);
        *ret = json_string_value(v);
        return 0;
}

/* An integer field in [min, max]; def < min means required. */
int model_get_int(json_t *body, const char *key, int64_t min, int64_t max, int64_t def, char **ret_err, int64_t *ret) {
        json_t *v = json_object_get(body, key);
        if (!v) {
                if (def < min)
                        return model_fail(ret_err, "'%s' is required", key);
                *ret = def;
                return 0;
        }
        if (!json_is_integer(v))
                return model_fail(ret_err, "'%s' must be an integer", key);
        json_int_t n = json_integer_value(v);
        if (n < min || n > max)
                return model_fail(ret_err, "'%s' must be between %lld and %lld", key, (long long) min, (long long) max);
        *ret = n;
        return 0;
}

int model_flavor_from_request(json_t *body, json_t **ret, char **ret_err) {
        static const char *const allowed[] = {
                "name", "vcpus", "ram_mib", "disk_gib", "max_vcpus", "max_ram_mib", "cpu_policy", "hugepages", NULL,
        };
        const char *name;
        int64_t vcpus, ram, disk, max_vcpus, max_ram;
        int r;

        if ((r = model_check_members(body, allowed, ret_err)) < 0 ||
            (r = model_get_name(body, "flavor", ret_err, &name)) < 0 ||
            (r = model_get_int(body, "vcpus", 1, 256, -1, ret_err, &vcpus)) < 0 ||
            (r = model_get_int(body, "ram_mib", 16, 4194304, -1, ret_err, &ram)) < 0 ||
            (r = model_get_int(body, "disk_gib", 1, 65536, -1, ret_err, &disk)) < 0 ||
            (r = model_get_int(body, "max_vcpus", vcpus, 256, vcpus, ret_err, &max_vcpus)) < 0 ||
            (r = model_get_int(body, "max_ram_mib", ram, 4194304, ram, ret_err, &max_ram)) < 0)
                return r;

        const char *policy = tide_json_str(body, "cpu_policy", "shared");
        if (json_object_get(body, "cpu_policy") && !json_is_string(json_object_get(body, "cpu_policy")))
                return model_fail(ret_err, "'cpu_policy' must be \"shared\" or \"dedicated\"");
        if (!streq(policy, "shared") && !streq(policy, "dedicated"))
                return model_fail(ret_err, "'cpu_policy' must be \"shared\" or \"dedicated\"");
        json_t *hp = json_object_get(body, "hugepages");
        if (hp && !json_is_boolean(hp))
                return model_fail(ret_err, "'hugepages' must be true or false");
        if (streq(policy, "dedicated") && max_vcpus != vcpus)
                return model_fail(ret_err, "a dedicated flavor cannot grow: 'max_vcpus' must equal 'vcpus'");
        if (hp && json_is_true(hp) && (max_ram != ram || ram % 2 != 0))
                return model_fail(ret_err, "a hugepages flavor's memory cannot be ballooned: 'max_ram_mib' must equal "
                                           "'ram_mib', an even number of MiB");

        *ret = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:b}", "name", name, "vcpus", (json_int_t) vcpus,
                         "ram_mib", (json_int_t) ram, "disk_gib", (json_int_t) disk, "max_vcpus",
                         (json_int_t) max_vcpus, "max_ram_mib", (json_int_t) max_ram, "cpu_policy", policy, "hugepages",
                         hp && json_is_true(hp));
        return 0;
}

static int get_path(json_t *body, const char *key, bool required, char **ret_err, const char **ret) {
        json_t *v = json_object_get(body, key);
        if (!v || json_is_null(v)) {
                if (required)
                        return model_fail(ret_err, "'%s' is required", key);
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return model_fail(ret_err, "'%s' must be a string", key);
        const char *p = json_string_value(v);
        if (p[0] != '/' || strlen(p) > 4096)
                return model_fail(ret_err, "'%s' must be an absolute path on tided's host", key);
        *ret = p;
        return 0;
}

int model_image_from_request(json_t *body, json_t **ret, char **ret_err) {
        static const char *const allowed[] = { "name", "disk", "kernel", "initrd", "cmdline", NULL };
        const char *name, *disk, *kernel, *initrd;
        int r;

        if ((r = model_check_members(body, allowed, ret_err)) < 0 ||
            (r = model_get_name(body, "image", ret_err, &name)) < 0 ||
            (r = get_path(body, "disk", true, ret_err, &disk)) < 0 ||
            (r = get_path(body, "kernel", false, ret_err, &kernel)) < 0 ||
            (r = get_path(body, "initrd", false, ret_err, &initrd)) < 0)
                return r;
        if (initrd && !kernel)
                return model_fail(ret_err, "'initrd' needs 'kernel'");

        json_t *cmdline = json_object_get(body, "cmdline");
        if (cmdline && !json_is_null(cmdline)) {
                if (!json_is_string(cmdline) || json_string_length(cmdline) > MODEL_CMDLINE_MAX)
                        return model_fail(ret_err, "'cmdline' must be a string of at most %d bytes", MODEL_CMDLINE_MAX);
                if (!kernel)
                        return model_fail(ret_err, "'cmdline' needs 'kernel'");
                for (const char *p = json_string_value(cmdline); *p; p++)
                        if ((unsigned char) *p < 0x20)
                                return model_fail(ret_err, "'cmdline' must not hold control characters");
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
                "name",  "flavor",          "image",     "user_data",       "priority",  "ha",      "hints",
                "group", "cpu_reservation", "cpu_limit", "mem_reservation", "mem_limit", "elastic", "networks",
                NULL,
        };
        const char *name;
        int64_t priority;
        int r;

        if ((r = model_check_members(body, allowed, ret_err)) < 0 ||
            (r = model_get_name(body, "instance", ret_err, &name)) < 0 ||
            (r = model_get_int(body, "priority", 1, 1000, MODEL_PRIORITY_DEFAULT, ret_err, &priority)) < 0)
                return r;

        if ((r = model_check_launch(body, ret_err)) < 0)
                return r;
        json_t *ud = json_object_get(body, "user_data"); /* checked: absent, null or a string */
        json_t *ha = json_object_get(body, "ha");
        if (ha && !json_is_boolean(ha))
                return model_fail(ret_err, "'ha' must be true or false");

        json_t *hints = json_object_get(body, "hints");
        if (hints && !json_is_array(hints))
                return model_fail(ret_err, "'hints' must be an array of \"key=value\" strings");
        if (json_array_size(hints) > MODEL_HINTS_MAX)
                return model_fail(ret_err, "at most %d hints", MODEL_HINTS_MAX);
        size_t hi;
        json_t *h;
        json_array_foreach(hints, hi, h) {
                const char *t = json_is_string(h) ? json_string_value(h) : NULL;
                const char *eq = t ? strchr(t, '=') : NULL;
                if (!eq || eq == t || !eq[1] || strlen(t) > 128)
                        return model_fail(ret_err, "hint %zu must be \"key=value\" (at most 128 characters)", hi + 1);
                _cleanup_free_ char *key = xstrndup(t, (size_t) (eq - t));
                if (!model_label_valid(key) || !model_label_valid(eq + 1))
                        return model_fail(ret_err,
                                          "hint '%.64s': keys and values are 1-63 characters of "
                                          "A-Z a-z 0-9 . _ -",
                                          t);
        }
        json_t *group = json_object_get(body, "group");
        if (group && !json_is_null(group) &&
            (!json_is_string(group) ||
             (!model_name_valid(json_string_value(group)) && !model_id_valid(json_string_value(group)))))
                return model_fail(ret_err, "'group' must be a server group name or id");

        if ((r = model_port_requests_check(json_object_get(body, "networks"), ret_err)) < 0)
                return r;

        *ret = json_pack("{s:s, s:O, s:O, s:s, s:I, s:b}", "name", name, "flavor", json_object_get(body, "flavor"),
                         "image", json_object_get(body, "image"), "user_data",
                         ud && json_is_string(ud) ? json_string_value(ud) : "", "priority", (json_int_t) priority, "ha",
                         ha && json_is_true(ha));
        json_object_set_new(*ret, "hints", hints ? json_deep_copy(hints) : json_array());
        if (group && json_is_string(group))
                json_object_set(*ret, "group", group);
        if (json_array_size(json_object_get(body, "networks")) > 0)
                json_object_set_new(*ret, "networks", json_deep_copy(json_object_get(body, "networks")));
        /* The elastic policy is checked against the flavor by model_instance_policy_merge once
         * the flavor is known; here only its members are carried over. */
        static const char *const policy[] = { "cpu_reservation", "cpu_limit", "mem_reservation", "mem_limit",
                                              "elastic" };
        json_t *p = json_object();
        for (size_t i = 0; i < ELEMENTSOF(policy); i++)
                if (json_object_get(body, policy[i]))
                        json_object_set(p, policy[i], json_object_get(body, policy[i]));
        json_object_set_new(*ret, "_policy", p);
        return 0;
}

int model_instance_policy_merge(json_t *inst, json_t *body, char **ret_err) {
        static const char *const allowed[] = {
                "priority", "cpu_reservation", "cpu_limit", "mem_reservation", "mem_limit", "elastic", NULL,
        };
        int r = model_check_members(body, allowed, ret_err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *o = json_deep_copy(inst);
        json_t *e, *cl, *ml;
        int64_t max_vcpus = tide_json_int(inst, "max_vcpus", tide_json_int(inst, "vcpus", 1));
        int64_t max_ram = tide_json_int(inst, "max_ram_mib", tide_json_int(inst, "ram_mib", 0));
        if ((r = merge_number(o, body, "priority", 1, 1000, true, ret_err)) < 0 ||
            (r = merge_number(o, body, "cpu_reservation", 0, (double) max_vcpus, false, ret_err)) < 0 ||
            (r = merge_number(o, body, "cpu_limit", 0.01, (double) max_vcpus, false, ret_err)) < 0 ||
            (r = merge_number(o, body, "mem_reservation", 0, (double) max_ram, true, ret_err)) < 0 ||
            (r = merge_number(o, body, "mem_limit", 16, (double) max_ram, true, ret_err)) < 0)
                return r;
        e = json_object_get(body, "elastic");
        if (e && !json_is_boolean(e) && !json_is_null(e))
                return model_fail(ret_err, "'elastic' must be true or false");
        if (e && json_is_null(e))
                json_object_del(o, "elastic");
        else if (e)
                json_object_set(o, "elastic", e);
        cl = json_object_get(o, "cpu_limit");
        ml = json_object_get(o, "mem_limit");
        if (cl && json_number_value(cl) < json_number_value(json_object_get(o, "cpu_reservation")))
                return model_fail(ret_err, "'cpu_limit' (%g) is below 'cpu_reservation' (%g)", json_number_value(cl),
                                  json_number_value(json_object_get(o, "cpu_reservation")));
        if (ml && json_integer_value(ml) < tide_json_int(o, "mem_reservation", 0))
                return model_fail(ret_err, "'mem_limit' (%lld) is below 'mem_reservation' (%lld)",
                                  (long long) json_integer_value(ml),
                                  (long long) tide_json_int(o, "mem_reservation", 0));
        json_object_update(inst, o);
        /* A member reset with null was removed from o: remove it from inst too. */
        for (const char *const *k = allowed; *k; k++)
                if (!json_object_get(o, *k))
                        json_object_del(inst, *k);
        return 0;
}

bool model_label_valid(const char *s) {
        if (!s || !*s || strlen(s) > MODEL_NAME_MAX)
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '.' && *p != '_' && *p != '-')
                        return false;
        return true;
}

int model_server_group_from_request(json_t *body, json_t **ret, char **ret_err) {
        static const char *const allowed[] = { "name", "policy", NULL };
        static const char *const policies[] = {
                "affinity",
                "anti-affinity",
                "soft-affinity",
                "soft-anti-affinity",
        };
        const char *name;
        int r;
        if ((r = model_check_members(body, allowed, ret_err)) < 0 ||
            (r = model_get_name(body, "server group", ret_err, &name)) < 0)
                return r;
        const char *policy = tide_json_str(body, "policy", NULL);
        bool ok = false;
        for (size_t i = 0; policy && i < ELEMENTSOF(policies); i++)
                ok = ok || streq(policy, policies[i]);
        if (!ok)
                return model_fail(ret_err,
                                  "'policy' must be affinity, anti-affinity, soft-affinity or soft-anti-affinity");
        *ret = json_pack("{s:s, s:s}", "name", name, "policy", policy);
        return 0;
}

/* A number member in [min, max] merged into o; null removes it (back to the default). */
static int merge_number(json_t *o, json_t *body, const char *key, double min, double max, bool integer,
                        char **ret_err) {
        json_t *v = json_object_get(body, key);
        if (!v)
                return 0;
        if (json_is_null(v)) {
                json_object_del(o, key);
                return 0;
        }
        if (integer ? !json_is_integer(v) : !json_is_number(v))
                return model_fail(ret_err, "'%s' must be %s", key, integer ? "an integer" : "a number");
        double d = json_number_value(v);
        if (d < min || d > max)
                return model_fail(ret_err, "'%s' must be between %g and %g", key, min, max);
        json_object_set(o, key, v);
        return 0;
}

static int merge_ratios(json_t *o, json_t *body, char **ret_err) {
        int r;
        if ((r = merge_number(o, body, "cpu_ratio", 0.1, 64, false, ret_err)) < 0 ||
            (r = merge_number(o, body, "ram_ratio", 0.1, 16, false, ret_err)) < 0 ||
            (r = merge_number(o, body, "disk_ratio", 0.1, 16, false, ret_err)) < 0 ||
            (r = merge_number(o, body, "reserved_cpus", 0, 1023, true, ret_err)) < 0 ||
            (r = merge_number(o, body, "reserved_ram_mib", 0, 4194304, true, ret_err)) < 0)
                return r;
        return 0;
}

int model_host_config_merge(json_t *current, json_t *body, json_t **ret, char **ret_err) {
        static const char *const allowed[] = {
                "labels",           "cpu_ratio", "ram_ratio", "disk_ratio", "reserved_cpus",
                "reserved_ram_mib", "draining",  "elastic",   NULL,
        };
        int r = model_check_members(body, allowed, ret_err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *o = current ? json_deep_copy(current) : json_object();
        json_t *d, *labels;
        if ((r = merge_ratios(o, body, ret_err)) < 0)
                return r;
        for (size_t i = 0; i < 2; i++) {
                const char *key = i == 0 ? "draining" : "elastic";
                d = json_object_get(body, key);
                if (!d)
                        continue;
                if (!json_is_boolean(d) && !json_is_null(d))
                        return model_fail(ret_err, "'%s' must be true or false", key);
                if (json_is_null(d))
                        json_object_del(o, key);
                else
                        json_object_set(o, key, d);
        }
        labels = json_object_get(body, "labels");
        if (labels) {
                if (!json_is_object(labels))
                        return model_fail(ret_err, "'labels' must be an object of \"key\": \"value\"");
                json_t *cur = json_object_get(o, "labels");
                if (!json_is_object(cur)) {
                        cur = json_object();
                        json_object_set_new(o, "labels", cur);
                }
                const char *k;
                json_t *v;
                json_object_foreach(labels, k, v) {
                        if (!model_label_valid(k) ||
                            (!json_is_null(v) && (!json_is_string(v) || !model_label_valid(json_string_value(v)))))
                                return model_fail(ret_err,
                                                  "label '%.64s': keys and values are 1-63 characters of "
                                                  "A-Z a-z 0-9 . _ -",
                                                  k);
                        if (json_is_null(v))
                                json_object_del(cur, k);
                        else
                                json_object_set(cur, k, v);
                }
                if (json_object_size(cur) > MODEL_LABELS_MAX)
                        return model_fail(ret_err, "at most %d labels", MODEL_LABELS_MAX);
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int model_placement_config_merge(json_t *current, json_t *body, json_t **ret, char **ret_err) {
        static const char *const allowed[] = {
                "cpu_ratio", "ram_ratio", "disk_ratio", "reserved_cpus", "reserved_ram_mib", "mode", "weights", NULL,
        };
        static const char *const weights[] = { "ram", "cpu", "load", "numa", "soft_affinity" };
        int r = model_check_members(body, allowed, ret_err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *o = current ? json_deep_copy(current) : json_object();
        json_t *mode, *w;
        if ((r = merge_ratios(o, body, ret_err)) < 0)
                return r;
        mode = json_object_get(body, "mode");
        if (mode) {
                if (!json_is_string(mode) ||
                    (!streq(json_string_value(mode), "spread") && !streq(json_string_value(mode), "pack")))
                        return model_fail(ret_err, "'mode' must be spread or pack");
                json_object_set(o, "mode", mode);
        }
        w = json_object_get(body, "weights");
        if (w) {
                if (!json_is_object(w))
                        return model_fail(ret_err, "'weights' must be an object");
                json_t *cur = json_object_get(o, "weights");
                if (!json_is_object(cur)) {
                        cur = json_object();
                        json_object_set_new(o, "weights", cur);
                }
                const char *k;
                json_t *v;
                json_object_foreach(w, k, v) {
                        bool known = false;
                        for (size_t i = 0; i < ELEMENTSOF(weights); i++)
                                known = known || streq(k, weights[i]);
                        if (!known)
                                return model_fail(ret_err,
                                                  "unknown weight '%.32s': ram, cpu, load, numa or soft_affinity", k);
                        if ((r = merge_number(cur, w, k, -100, 100, false, ret_err)) < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(o);
        return 0;
}
