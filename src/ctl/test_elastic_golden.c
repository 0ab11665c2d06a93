/* Golden-file tests of the elastic plan (Pacemaker's scheduler cases).
 *
 * Each tests/elastic/<case>.json is
 *   {"doc": TEXT, "params": {...}?, "host": {...}, "vms": [{...}], "passes": [{...}]?}
 * with the members of struct elastic_params, elastic_host and elastic_vm by name (a VM's
 * "state" holds struct elastic_vm_state's). The passes run in order on one set of VMs; a pass
 * is {"now_ms": T, "host": {...}?, "vms": {NAME: {...}}?}, whose members override what the
 * host and the named VMs had. Between passes the actions are applied (vcpus, mem_mib); shares
 * and quota live in the states. Without "passes" one pass runs at 0. <case>.expected holds one
 * JSON line per pass: demand and entitlement per VM and the actions with their reasons.
 *
 * With TIDE_GOLDEN_UPDATE=1 the expected files are rewritten from what the plan decides. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/golden.h"
#include "common/util.h"
#include "ctl/elastic.h"

#ifndef TIDE_ELASTIC_GOLDEN_DIR
#error "TIDE_ELASTIC_GOLDEN_DIR must name tests/elastic"
#endif

#define MAX_VMS 64

enum field_type { F_DOUBLE, F_INT, F_INT64, F_BOOL };

struct field {
        const char *name;
        enum field_type type;
        size_t offset;
};

#define FIELD(s, m, t) \
        { #m, t, offsetof(struct s, m) }

static const struct field params_fields[] = {
        FIELD(elastic_params, vcpu_busy_add, F_DOUBLE),        FIELD(elastic_params, host_idle_add_cores, F_DOUBLE),
        FIELD(elastic_params, vcpu_idle_remove, F_DOUBLE),     FIELD(elastic_params, add_cooldown_ms, F_INT64),
        FIELD(elastic_params, remove_after_ms, F_INT64),       FIELD(elastic_params, min_change_interval_ms, F_INT64),
        FIELD(elastic_params, mem_low_host_ratio, F_DOUBLE),   FIELD(elastic_params, mem_free_keep_ratio, F_DOUBLE),
        FIELD(elastic_params, mem_grow_below_ratio, F_DOUBLE), FIELD(elastic_params, mem_step_min_mib, F_INT64),
        FIELD(elastic_params, mem_settle_ms, F_INT64),         { NULL, 0, 0 },
};

static const struct field host_fields[] = {
        FIELD(elastic_host, cpus, F_DOUBLE),
        FIELD(elastic_host, idle_cores, F_DOUBLE),
        FIELD(elastic_host, mem_total_mib, F_INT64),
        FIELD(elastic_host, mem_available_mib, F_INT64),
        { NULL, 0, 0 },
};

static const struct field vm_fields[] = {
        FIELD(elastic_vm, elastic, F_BOOL),
        FIELD(elastic_vm, dedicated, F_BOOL),
        FIELD(elastic_vm, priority, F_INT),
        FIELD(elastic_vm, cpu_reservation, F_DOUBLE),
        FIELD(elastic_vm, cpu_limit, F_DOUBLE),
        FIELD(elastic_vm, mem_reservation_mib, F_INT64),
        FIELD(elastic_vm, mem_limit_mib, F_INT64),
        FIELD(elastic_vm, vcpus, F_INT),
        FIELD(elastic_vm, vcpus_min, F_INT),
        FIELD(elastic_vm, vcpus_max, F_INT),
        FIELD(elastic_vm, mem_mib, F_INT64),
        FIELD(elastic_vm, mem_min_mib, F_INT64),
        FIELD(elastic_vm, mem_max_mib, F_INT64),
        FIELD(elastic_vm, cpu_cores, F_DOUBLE),
        FIELD(elastic_vm, ready_cores, F_DOUBLE),
        FIELD(elastic_vm, vcpu_busy_max, F_DOUBLE),
        FIELD(elastic_vm, has_guest_mem, F_BOOL),
        FIELD(elastic_vm, guest_usable_mib, F_INT64),
        { NULL, 0, 0 },
};

static const struct field state_fields[] = {
        FIELD(elastic_vm_state, has_vcpu_change, F_BOOL),
        FIELD(elastic_vm_state, last_vcpu_change_ms, F_INT64),
        FIELD(elastic_vm_state, has_mem_change, F_BOOL),
        FIELD(elastic_vm_state, last_mem_change_ms, F_INT64),
        FIELD(elastic_vm_state, mem_target_mib, F_INT64),
        FIELD(elastic_vm_state, idle, F_BOOL),
        FIELD(elastic_vm_state, idle_since_ms, F_INT64),
        FIELD(elastic_vm_state, shares_applied, F_INT),
        FIELD(elastic_vm_state, has_quota, F_BOOL),
        FIELD(elastic_vm_state, quota_applied_us, F_INT64),
        { NULL, 0, 0 },
};

/* Sets the fields of obj named in j; other members than those and the extra names fail. */
static void read_fields(const char *path, json_t *j, const struct field *fields, void *obj, const char *const *extra) {
        const char *key;
        json_t *val;
        if (!json_is_object(j))
                fail_msg("%s: an object expected", path);
        json_object_foreach(j, key, val) {
                bool known = false;
                for (size_t k = 0; extra && extra[k]; k++)
                        known = known || streq(extra[k], key);
                if (known)
                        continue;
                const struct field *f = fields;
                while (f->name && !streq(f->name, key))
                        f++;
                if (!f->name)
                        fail_msg("%s: unknown member \"%s\"", path, key);
                char *at = (char *) obj + f->offset;
                switch (f->type) {
                case F_DOUBLE:
                        if (!json_is_number(val))
                                fail_msg("%s: %s: a number expected", path, key);
                        *(double *) at = json_number_value(val);
                        break;
                case F_INT:
                case F_INT64:
                        if (!json_is_integer(val))
                                fail_msg("%s: %s: an integer expected", path, key);
                        if (f->type == F_INT)
                                *(int *) at = (int) json_integer_value(val);
                        else
                                *(int64_t *) at = json_integer_value(val);
                        break;
                case F_BOOL:
                        if (!json_is_boolean(val))
                                fail_msg("%s: %s: true or false expected", path, key);
                        *(bool *) at = json_is_true(val);
                        break;
                }
        }
}

static double rounded(double x) {
        return round(x * 10000) / 10000;
}

/* Runs one case; returns the expected-file text it produces. */
static char *run_case(const char *path) {
        json_error_t jerr;
        json_t *c = json_load_file(path, 0, &jerr);
        if (!c)
                fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
        static const char *const case_extra[] = { "doc", "params", "host", "vms", "passes", NULL };
        read_fields(path, c, (const struct field[]) { { NULL, 0, 0 } }, NULL, case_extra);

        struct elastic_params p;
        elastic_params_default(&p);
        if (json_object_get(c, "params"))
                read_fields(path, json_object_get(c, "params"), params_fields, &p, NULL);
        struct elastic_host host = { 0 };
        read_fields(path, json_object_get(c, "host"), host_fields, &host, NULL);

        json_t *vj = json_object_get(c, "vms");
        assert_true(json_is_array(vj) && json_array_size(vj) <= MAX_VMS);
        size_t n = json_array_size(vj);
        struct elastic_vm vms[MAX_VMS];
        struct elastic_vm_state st[MAX_VMS];
        static const char *const vm_extra[] = { "name", "state", NULL };
        for (size_t i = 0; i < n; i++) {
                json_t *x = json_array_get(vj, i);
                st[i] = (struct elastic_vm_state) { 0 };
                vms[i] = (struct elastic_vm) {
                        .elastic = true,
                        .priority = 500,
                        .vcpus = 1,
                        .vcpus_min = 1,
                        .vcpus_max = 1,
                        .mem_mib = 1024,
                        .mem_min_mib = 1024,
                        .mem_max_mib = 1024,
                        .state = &st[i],
                };
                vms[i].name = vms[i].id = json_string_value(json_object_get(x, "name"));
                if (!vms[i].name)
                        fail_msg("%s: vm %zu has no name", path, i);
                read_fields(path, x, vm_fields, &vms[i], vm_extra);
                if (json_object_get(x, "state"))
                        read_fields(path, json_object_get(x, "state"), state_fields, &st[i], NULL);
        }

        json_t *passes = json_object_get(c, "passes");
        json_t *one = NULL;
        if (!passes)
                passes = one = json_pack("[{s:i}]", "now_ms", 0);
        assert_true(json_is_array(passes));
        struct strbuf out = STRBUF_INIT(0);
        static const char *const pass_extra[] = { "now_ms", "host", "vms", NULL };
        for (size_t k = 0; k < json_array_size(passes); k++) {
                json_t *pj = json_array_get(passes, k);
                read_fields(path, pj, (const struct field[]) { { NULL, 0, 0 } }, NULL, pass_extra);
                int64_t now = json_integer_value(json_object_get(pj, "now_ms"));
                if (json_object_get(pj, "host"))
                        read_fields(path, json_object_get(pj, "host"), host_fields, &host, NULL);
                const char *name;
                json_t *o;
                json_object_foreach(json_object_get(pj, "vms"), name, o) {
                        size_t i = 0;
                        while (i < n && !streq(vms[i].name, name))
                                i++;
                        if (i == n)
                                fail_msg("%s: pass %zu: no vm \"%s\"", path, k, name);
                        read_fields(path, o, vm_fields, &vms[i], NULL);
                }

                double demand[MAX_VMS], ent[MAX_VMS];
                struct elastic_action *act = NULL;
                size_t n_act = 0;
                int r = elastic_plan(&p, &host, vms, n, now, demand, ent, &act, &n_act);
                json_t *line = json_pack("{s:I}", "now_ms", (json_int_t) now);
                if (r < 0) {
                        json_object_set_new(line, "error", json_string(tide_strerror(r)));
                } else {
                        json_t *dj = json_object(), *ej = json_object(), *aj = json_array();
                        for (size_t i = 0; i < n; i++) {
                                json_object_set_new(dj, vms[i].name, json_real(rounded(demand[i])));
                                json_object_set_new(ej, vms[i].name, json_real(rounded(ent[i])));
                        }
                        for (size_t a = 0; a < n_act; a++) {
                                json_array_append_new(aj,
                                                      json_pack("{s:s, s:s, s:I, s:I, s:s}", "vm", vms[act[a].vm].name,
                                                                "kind", elastic_action_kind_name(act[a].kind), "value",
                                                                (json_int_t) act[a].value, "old",
                                                                (json_int_t) act[a].old_value, "reason",
                                                                act[a].reason));
                                if (act[a].kind == ELASTIC_VCPUS)
                                        vms[act[a].vm].vcpus = (int) act[a].value;
                                if (act[a].kind == ELASTIC_MEMORY)
                                        vms[act[a].vm].mem_mib = act[a].value;
                        }
                        json_object_set_new(line, "demand", dj);
                        json_object_set_new(line, "entitlement", ej);
                        json_object_set_new(line, "actions", aj);
                }
                free(act);
                char *s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
                strbuf_printf(&out, "%s\n", s);
                free(s);
                json_decref(line);
        }
        json_decref(one);
        json_decref(c);
        return strbuf_steal(&out);
}

static char *golden_case(const char *path, const char *name, void *userdata) {
        return run_case(path);
}

static void every_case_plans_as_expected(void **state) {
        assert_int_equal(golden_run(TIDE_ELASTIC_GOLDEN_DIR, ".json", 8, golden_case, NULL), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(every_case_plans_as_expected),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
