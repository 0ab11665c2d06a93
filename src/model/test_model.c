/* Unit tests of request validation, names, instance states and the layout of keys and paths (pure code). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"

static void names_accept_plain_words(void **state) {
        assert_true(model_name_valid("web-1"));
        assert_true(model_name_valid("db.primary_2"));
        assert_true(model_name_valid("A"));
}

static void names_refuse_paths_quotes_and_shell(void **state) {
        const char *bad[] = { "",    "a/b", "..",    "a..b", ".hidden", "-x",  "it's", "a\"b", "<b>",
                              "a&b", "a;b", "$(rm)", "a b",  "a\nb",    "`x`", "a|b",  "é" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(model_name_valid(bad[i]));
        char longname[80];
        memset(longname, 'a', sizeof longname - 1);
        longname[sizeof longname - 1] = 0;
        assert_false(model_name_valid(longname));
}

static void ids_are_lowercase_uuids(void **state) {
        _cleanup_free_ char *id = id_new_uuid();
        assert_true(model_id_valid(id));
        assert_false(model_id_valid("1C6F0000-0000-4000-8000-000000000000"));
        assert_false(model_id_valid("web-1"));
}

static int flavor(const char *text, json_t **ret, char **ret_err) {
        json_t *body = json_loads(text, 0, NULL);
        int r = model_flavor_from_request(body, ret, ret_err);
        json_decref(body);
        return r;
}

static void flavor_defaults_maxima_to_its_size(void **state) {
        json_t *f;
        char *err = NULL;
        assert_int_equal(flavor("{\"name\":\"small\",\"vcpus\":2,\"ram_mib\":256,\"disk_gib\":1}", &f, &err), 0);
        assert_int_equal(tide_json_int(f, "max_vcpus", 0), 2);
        assert_int_equal(tide_json_int(f, "max_ram_mib", 0), 256);
        json_decref(f);
}

static void flavor_refuses_negative_absurd_and_mistyped_sizes(void **state) {
        const char *bad[] = {
                "{\"name\":\"x\",\"vcpus\":-1,\"ram_mib\":256,\"disk_gib\":1}",
                "{\"name\":\"x\",\"vcpus\":1,\"ram_mib\":99999999999,\"disk_gib\":1}",
                "{\"name\":\"x\",\"vcpus\":\"2\",\"ram_mib\":256,\"disk_gib\":1}",
                "{\"name\":\"x\",\"vcpus\":1.5,\"ram_mib\":256,\"disk_gib\":1}",
                "{\"name\":\"x\",\"vcpus\":4,\"ram_mib\":256,\"disk_gib\":1,\"max_vcpus\":2}",
                "{\"name\":\"x\",\"vcpus\":1,\"ram_mib\":256}",
                "{\"name\":\"a/b\",\"vcpus\":1,\"ram_mib\":256,\"disk_gib\":1}",
                "{\"name\":\"x\",\"vcpus\":1,\"ram_mib\":256,\"disk_gib\":1,\"color\":\"red\"}",
                "{\"name\":\"x\",\"vcpus\":2,\"ram_mib\":256,\"disk_gib\":1,\"max_vcpus\":4,\"cpu_policy\":\"dedicated\"}",
                "{\"name\":\"x\",\"vcpus\":1,\"ram_mib\":256,\"disk_gib\":1,\"cpu_policy\":\"pinned\"}",
                "{\"name\":\"x\",\"vcpus\":1,\"ram_mib\":256,\"disk_gib\":1,\"max_ram_mib\":512,\"hugepages\":true}",
                "{\"name\":\"x\",\"vcpus\":1,\"ram_mib\":255,\"disk_gib\":1,\"hugepages\":true}",
                "[1,2]",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_t *f = NULL;
                char *err = NULL;
                assert_int_equal(flavor(bad[i], &f, &err), TIDE_E_INVALID);
                assert_non_null(err);
                assert_null(f);
                free(err);
        }
}

static void instance_request_needs_flavor_and_image(void **state) {
        json_t *body = json_loads("{\"name\":\"web\",\"image\":\"tiny\"}", 0, NULL), *inst = NULL;
        char *err = NULL;
        assert_int_equal(model_instance_from_request(body, &inst, &err), TIDE_E_INVALID);
        assert_non_null(strstr(err, "flavor"));
        free(err);
        json_decref(body);
}

static void instance_request_gets_defaults(void **state) {
        json_t *body = json_loads("{\"name\":\"web\",\"flavor\":\"small\",\"image\":\"tiny\"}", 0, NULL), *inst;
        char *err = NULL;
        assert_int_equal(model_instance_from_request(body, &inst, &err), 0);
        assert_int_equal(tide_json_int(inst, "priority", 0), MODEL_PRIORITY_DEFAULT);
        assert_false(tide_json_bool(inst, "ha", true));
        json_decref(inst);
        json_decref(body);
}

static void instance_user_data_is_bounded(void **state) {
        char *big = xmalloc(MODEL_USER_DATA_MAX + 2);
        memset(big, 'x', MODEL_USER_DATA_MAX + 1);
        big[MODEL_USER_DATA_MAX + 1] = 0;
        json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "name", "web", "flavor", "small", "image", "tiny", "user_data",
                                 big);
        json_t *inst = NULL;
        char *err = NULL;
        assert_int_equal(model_instance_from_request(body, &inst, &err), TIDE_E_INVALID);
        free(err);
        free(big);
        json_decref(body);
}

static void image_request_needs_absolute_paths(void **state) {
        json_t *body = json_loads("{\"name\":\"tiny\",\"disk\":\"relative.qcow2\"}", 0, NULL), *img = NULL;
        char *err = NULL;
        assert_int_equal(model_image_from_request(body, &img, &err), TIDE_E_INVALID);
        free(err);
        json_decref(body);
        body = json_loads("{\"name\":\"tiny\",\"disk\":\"/a.qcow2\",\"initrd\":\"/i\"}", 0, NULL);
        assert_int_equal(model_image_from_request(body, &img, &err), TIDE_E_INVALID);
        free(err);
        json_decref(body);
}

static void hints_must_be_key_value_labels(void **state) {
        const char *bad[] = {
                "[\"zone\"]",
                "[\"=a\"]",
                "[\"zone=\"]",
                "[\"zone=a b\"]",
                "[1]",
                "\"zone=a\"",
                "[\"a=1\",\"b=2\",\"c=3\",\"d=4\",\"e=5\",\"f=6\",\"g=7\",\"h=8\",\"i=9\"]",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *text = xasprintf("{\"name\":\"w\",\"flavor\":\"f\",\"image\":\"i\","
                                                      "\"hints\":%s}",
                                                      bad[i]);
                json_t *body = json_loads(text, 0, NULL), *inst = NULL;
                char *err = NULL;
                assert_non_null(body);
                assert_int_equal(model_instance_from_request(body, &inst, &err), TIDE_E_INVALID);
                free(err);
                json_decref(body);
        }
}

static void server_group_policy_is_one_of_four(void **state) {
        json_t *body = json_loads("{\"name\":\"g\",\"policy\":\"anti-affinity\"}", 0, NULL), *g;
        char *err = NULL;
        assert_int_equal(model_server_group_from_request(body, &g, &err), 0);
        json_decref(g);
        json_decref(body);
        body = json_loads("{\"name\":\"g\",\"policy\":\"apart\"}", 0, NULL);
        assert_int_equal(model_server_group_from_request(body, &g, &err), TIDE_E_INVALID);
        free(err);
        json_decref(body);
}

static void host_config_merges_labels_and_resets_with_null(void **state) {
        json_t *cur = json_loads("{\"labels\":{\"zone\":\"a\",\"rack\":\"r1\"},\"cpu_ratio\":3.0}", 0, NULL);
        json_t *body = json_loads("{\"labels\":{\"rack\":null,\"tier\":\"gold\"},\"cpu_ratio\":null,"
                                  "\"draining\":true}",
                                  0, NULL);
        json_t *out;
        char *err = NULL;
        assert_int_equal(model_host_config_merge(cur, body, &out, &err), 0);
        assert_string_equal(tide_json_str(json_object_get(out, "labels"), "zone", ""), "a");
        assert_string_equal(tide_json_str(json_object_get(out, "labels"), "tier", ""), "gold");
        assert_null(json_object_get(json_object_get(out, "labels"), "rack"));
        assert_null(json_object_get(out, "cpu_ratio"));
        assert_true(tide_json_bool(out, "draining", false));
        json_decref(out);
        json_decref(body);
        body = json_loads("{\"cpu_ratio\":-1}", 0, NULL);
        assert_int_equal(model_host_config_merge(cur, body, &out, &err), TIDE_E_INVALID);
        free(err);
        json_decref(body);
        json_decref(cur);
}

static void placement_config_refuses_unknown_weights_and_modes(void **state) {
        const char *bad[] = { "{\"mode\":\"random\"}", "{\"weights\":{\"luck\":1}}", "{\"ram_ratio\":\"2\"}",
                              "{\"colour\":1}" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_t *body = json_loads(bad[i], 0, NULL), *out = NULL;
                char *err = NULL;
                assert_int_equal(model_placement_config_merge(NULL, body, &out, &err), TIDE_E_INVALID);
                free(err);
                json_decref(body);
        }
}

static void policy_limits_stay_above_reservations(void **state) {
        json_t *inst = json_loads("{\"name\":\"db\",\"vcpus\":2,\"max_vcpus\":4,\"ram_mib\":512,"
                                  "\"max_ram_mib\":1024,\"cpu_reservation\":2.0}",
                                  0, NULL);
        json_t *body = json_loads("{\"cpu_limit\":1.5}", 0, NULL);
        char *err = NULL;
        assert_int_equal(model_instance_policy_merge(inst, body, &err), TIDE_E_INVALID);
        assert_null(json_object_get(inst, "cpu_limit")); /* unchanged on failure */
        free(err);
        json_decref(body);
        body = json_loads("{\"cpu_limit\":3.5,\"mem_reservation\":256,\"elastic\":false,\"priority\":750}", 0, NULL);
        assert_int_equal(model_instance_policy_merge(inst, body, &err), 0);
        assert_true(json_number_value(json_object_get(inst, "cpu_limit")) == 3.5);
        assert_false(tide_json_bool(inst, "elastic", true));
        json_decref(body);
        body = json_loads("{\"mem_reservation\":null}", 0, NULL);
        assert_int_equal(model_instance_policy_merge(inst, body, &err), 0);
        assert_null(json_object_get(inst, "mem_reservation"));
        json_decref(body);
        json_decref(inst);
}

static void policy_is_bounded_by_the_flavor_maxima(void **state) {
        json_t *inst = json_loads("{\"name\":\"db\",\"vcpus\":2,\"max_vcpus\":4,\"ram_mib\":512,"
                                  "\"max_ram_mib\":1024}",
                                  0, NULL);
        const char *bad[] = { "{\"cpu_reservation\":5}", "{\"mem_limit\":2048}", "{\"mem_reservation\":1.5}",
                              "{\"elastic\":\"off\"}",   "{\"vcpus\":3}",        "{\"priority\":0}" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_t *body = json_loads(bad[i], 0, NULL);
                char *err = NULL;
                assert_int_equal(model_instance_policy_merge(inst, body, &err), TIDE_E_INVALID);
                free(err);
                json_decref(body);
        }
        json_decref(inst);
}

static int group(const char *text, json_t **ret, char **ret_err) {
        json_t *body = json_loads(text, 0, NULL);
        assert_non_null(body);
        int r = model_scaling_group_from_request(body, ret, ret_err);
        json_decref(body);
        return r;
}

static void scaling_groups_default_their_sizes_and_keep_policies(void **state) {
        json_t *g;
        char *err = NULL;
        assert_int_equal(group("{\"name\":\"web\",\"flavor\":\"s\",\"image\":\"tiny\"}", &g, &err), 0);
        assert_int_equal(tide_json_int(g, "min", -1), 1);
        assert_int_equal(tide_json_int(g, "max", -1), 1);
        assert_int_equal(tide_json_int(g, "desired", -1), 1);
        assert_true(tide_json_bool(g, "spread", false));
        json_decref(g);
        assert_int_equal(group("{\"name\":\"web\",\"flavor\":\"s\",\"image\":\"tiny\",\"min\":2,\"max\":10,"
                               "\"policies\":[{\"metric\":\"cpu\",\"above\":80,\"for_s\":300,\"adjust\":\"+50%\"},"
                               "{\"name\":\"in\",\"metric\":\"memory\",\"stat\":\"max\",\"below\":20,\"adjust\":\"-1\","
                               "\"victim\":\"least-loaded\"}]}",
                               &g, &err),
                         0);
        assert_int_equal(tide_json_int(g, "desired", -1), 2);
        json_t *p0 = json_array_get(json_object_get(g, "policies"), 0),
               *p1 = json_array_get(json_object_get(g, "policies"), 1);
        assert_string_equal(tide_json_str(p0, "name", ""), "policy-1");
        assert_string_equal(tide_json_str(p0, "adjust_type", ""), "percent");
        assert_int_equal(tide_json_int(p0, "adjustment", 0), 50);
        assert_string_equal(tide_json_str(p0, "op", ""), "above");
        assert_string_equal(tide_json_str(p1, "adjust_type", ""), "change");
        assert_int_equal(tide_json_int(p1, "adjustment", 0), -1);
        assert_int_equal(tide_json_int(p1, "cooldown_s", 0), 300);
        assert_string_equal(tide_json_str(p1, "victim", ""), "least-loaded");
        json_decref(g);
}

static void scaling_groups_refuse_bad_sizes_policies_and_names(void **state) {
        const char *bad[] = {
                "{\"name\":\"web\",\"flavor\":\"s\",\"image\":\"tiny\",\"min\":3,\"max\":2}",
                "{\"name\":\"web\",\"flavor\":\"s\",\"image\":\"tiny\",\"max\":2,\"desired\":3}",
                "{\"name\":\"web\",\"flavor\":\"s\",\"image\":\"tiny\",\"max\":1001}",
                "{\"name\":\"web\",\"flavor\":\"s\",\"image\":\"tiny\",\"min\":-1}",
                "{\"name\":\"a/b\",\"flavor\":\"s\",\"image\":\"tiny\"}",
                "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"flavor\":\"s\",\"image\":\"tiny\"}",
                "{\"name\":\"web\",\"image\":\"tiny\"}",
                "{\"name\":\"web\",\"flavor\":\"s\",\"image\":\"tiny\",\"colour\":1}",
                "{\"name\":\"web\",\"flavor\":\"s\",\"image\":\"tiny\",\"policies\":{}}",
        };
        const char *bad_policies[] = {
                "{\"metric\":\"cpu\",\"adjust\":\"+1\"}",
                "{\"metric\":\"cpu\",\"above\":1,\"below\":2,\"adjust\":\"+1\"}",
                "{\"metric\":\"disk\",\"above\":1,\"adjust\":\"+1\"}",
                "{\"metric\":\"cpu\",\"above\":1,\"adjust\":\"1\"}",
                "{\"metric\":\"cpu\",\"above\":1,\"adjust\":\"+0\"}",
                "{\"metric\":\"cpu\",\"above\":1,\"adjust\":\"=5%\"}",
                "{\"metric\":\"cpu\",\"above\":1,\"adjust\":\"=1001\"}",
                "{\"metric\":\"cpu\",\"above\":1,\"adjust\":\"+x\"}",
                "{\"metric\":\"cpu\",\"above\":\"80\",\"adjust\":\"+1\"}",
                "{\"metric\":\"cpu\",\"above\":1,\"adjust\":\"+1\",\"stat\":\"p99\"}",
                "{\"metric\":\"cpu\",\"above\":1,\"adjust\":\"+1\",\"victim\":\"random\"}",
                "{\"metric\":\"cpu\",\"above\":1,\"adjust\":\"+1\",\"for_s\":86401}",
        };
        json_t *g = NULL;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *err = NULL;
                assert_int_equal(group(bad[i], &g, &err), TIDE_E_INVALID);
                assert_non_null(err);
                free(err);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad_policies); i++) {
                json_t *body = json_loads(bad_policies[i], 0, NULL), *p = NULL;
                char *err = NULL;
                assert_int_equal(model_scaling_policy_from_request(body, &p, &err), TIDE_E_INVALID);
                assert_non_null(err);
                free(err);
                json_decref(body);
        }
}

static void scaling_group_set_keeps_desired_within_bounds(void **state) {
        json_t *g = json_pack("{s:i, s:i, s:i}", "min", 1, "max", 5, "desired", 4), *b;
        char *err = NULL;
        b = json_pack("{s:i}", "max", 3);
        assert_int_equal(model_scaling_group_set_merge(g, b, &err), 0);
        assert_int_equal(tide_json_int(g, "desired", 0), 3);
        json_decref(b);
        b = json_pack("{s:i}", "desired", 7);
        assert_int_equal(model_scaling_group_set_merge(g, b, &err), TIDE_E_INVALID);
        free(err);
        err = NULL;
        assert_int_equal(tide_json_int(g, "desired", 0), 3); /* unchanged */
        json_decref(b);
        b = json_object();
        assert_int_equal(model_scaling_group_set_merge(g, b, &err), TIDE_E_INVALID);
        free(err);
        json_decref(b);
        json_decref(g);
}

static void scaling_policy_names_are_unique(void **state) {
        json_t *g = json_object(), *body = json_pack("{s:s, s:f, s:s}", "metric", "cpu", "above", 80.0, "adjust", "+1"),
               *p;
        char *err = NULL;
        for (int i = 0; i < MODEL_SCALING_GROUP_POLICIES_MAX; i++) {
                assert_int_equal(model_scaling_policy_from_request(body, &p, &err), 0);
                assert_int_equal(model_scaling_group_policy_add(g, p, &err), 0);
                json_decref(p);
        }
        assert_string_equal(tide_json_str(json_array_get(json_object_get(g, "policies"), 15), "name", ""), "policy-16");
        assert_int_equal(model_scaling_policy_from_request(body, &p, &err), 0);
        assert_int_equal(model_scaling_group_policy_add(g, p, &err), TIDE_E_INVALID); /* too many */
        free(err);
        json_decref(p);
        json_decref(g);
        g = json_object();
        json_object_set_new(body, "name", json_string("out"));
        assert_int_equal(model_scaling_policy_from_request(body, &p, &err), 0);
        assert_int_equal(model_scaling_group_policy_add(g, p, &err), 0);
        assert_int_equal(model_scaling_group_policy_add(g, p, &err), TIDE_E_INVALID); /* taken */
        free(err);
        json_decref(p);
        json_decref(g);
        json_decref(body);
}

static void instance_states_round_trip_through_their_strings(void **state) {
        for (int i = 0; i < MODEL_INSTANCE_STATUS_MAX; i++)
                assert_int_equal(model_instance_status_from_string(model_instance_status_to_string(i)), i);
        for (int i = 0; i < MODEL_DESIRED_MAX; i++)
                assert_int_equal(model_instance_desired_from_string(model_instance_desired_to_string(i)), i);
        for (int i = MODEL_TASK_NONE + 1; i < MODEL_TASK_MAX; i++)
                assert_int_equal(model_instance_task_from_string(model_instance_task_to_string(i)), i);
        /* The API's strings: stored records and clients depend on them. */
        assert_string_equal(model_instance_status_to_string(MODEL_INSTANCE_RUNNING), "running");
        assert_string_equal(model_instance_status_to_string(MODEL_INSTANCE_DELETING), "deleting");
        assert_string_equal(model_instance_desired_to_string(MODEL_DESIRED_DELETED), "deleted");
        assert_string_equal(model_instance_task_to_string(MODEL_TASK_REBOOTING), "rebooting");
        assert_null(model_instance_task_to_string(MODEL_TASK_NONE));
        assert_null(model_instance_status_to_string(MODEL_INSTANCE_STATUS_MAX));
        assert_int_equal(model_instance_status_from_string("shutoff"), MODEL_INSTANCE_STATUS_INVALID);
        assert_int_equal(model_instance_status_from_string(NULL), MODEL_INSTANCE_STATUS_INVALID);
        assert_int_equal(model_instance_desired_from_string("deleting"), MODEL_DESIRED_INVALID);
}

static void instance_record_states_read_and_write_its_members(void **state) {
        json_t *inst = json_object();
        assert_int_equal(model_instance_get_status(inst), MODEL_INSTANCE_STATUS_INVALID);
        assert_int_equal(model_instance_get_desired(inst), MODEL_DESIRED_RUNNING); /* absent: run */
        assert_false(model_instance_settled(inst));                                /* absent: not settled */
        model_instance_set_status(inst, MODEL_INSTANCE_STOPPED);
        model_instance_set_task(inst, MODEL_TASK_NONE);
        assert_string_equal(tide_json_str(inst, "status", ""), "stopped");
        assert_true(json_is_null(json_object_get(inst, "task")));
        assert_true(model_instance_settled(inst));
        assert_int_equal(model_instance_mark_deleting(inst, NULL), MODEL_CHANGE_WRITE);
        assert_string_equal(tide_json_str(inst, "desired", ""), "deleted");
        assert_string_equal(tide_json_str(inst, "status", ""), "deleting");
        assert_string_equal(tide_json_str(inst, "task", ""), "deleting");
        assert_int_equal(model_instance_get_desired(inst), MODEL_DESIRED_DELETED);
        json_object_set_new(inst, "desired", json_string("paused"));
        assert_int_equal(model_instance_get_desired(inst), MODEL_DESIRED_INVALID);
        json_decref(inst);
}

/* The layout is what the agent and the API agree on, and what an operator finds on disk. */
static void keys_and_paths_follow_the_layout(void **state) {
        _cleanup_free_ char *k1 = model_obj_key(MODEL_INSTANCE, "i1"), *k2 = model_name_key(MODEL_SERVER_GROUP, "g");
        _cleanup_free_ char *k3 = model_key_kind(MODEL_INSTANCE), *k4 = model_key_hostconf("h1");
        _cleanup_free_ char *k5 = model_key_alloc("h1"), *k6 = model_key_groupmembers("g1");
        assert_string_equal(k1, "/tide/instances/i1");
        assert_string_equal(k2, "/tide/names/server-groups/g");
        assert_string_equal(k3, "/tide/instances/");
        assert_string_equal(k4, "/tide/hostconf/h1");
        assert_string_equal(k5, "/tide/alloc/h1");
        assert_string_equal(k6, "/tide/groupmembers/g1");
        assert_true(startswith(MODEL_KEY_HOSTS, MODEL_KEY_HOST_ANY) &&
                    startswith(MODEL_KEY_HOSTLIVE, MODEL_KEY_HOST_ANY) &&
                    startswith(MODEL_KEY_HOSTCONF, MODEL_KEY_HOST_ANY));
        _cleanup_free_ char *p1 = model_instance_path("/var/lib/tide", "i1", NULL);
        _cleanup_free_ char *p2 = model_instance_path("/var/lib/tide", "i1", MODEL_INSTANCE_CONSOLE);
        _cleanup_free_ char *p3 = model_image_path("/var/lib/tide", "m1", MODEL_IMAGE_KERNEL);
        _cleanup_free_ char *d = model_image_disk_name("raw");
        assert_string_equal(p1, "/var/lib/tide/instances/i1");
        assert_string_equal(p2, "/var/lib/tide/instances/i1/console.log");
        assert_string_equal(p3, "/var/lib/tide/images/m1/vmlinuz");
        assert_string_equal(d, "disk.raw");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(names_accept_plain_words),
                cmocka_unit_test(names_refuse_paths_quotes_and_shell),
                cmocka_unit_test(ids_are_lowercase_uuids),
                cmocka_unit_test(flavor_defaults_maxima_to_its_size),
                cmocka_unit_test(flavor_refuses_negative_absurd_and_mistyped_sizes),
                cmocka_unit_test(instance_request_needs_flavor_and_image),
                cmocka_unit_test(instance_request_gets_defaults),
                cmocka_unit_test(instance_user_data_is_bounded),
                cmocka_unit_test(image_request_needs_absolute_paths),
                cmocka_unit_test(hints_must_be_key_value_labels),
                cmocka_unit_test(server_group_policy_is_one_of_four),
                cmocka_unit_test(host_config_merges_labels_and_resets_with_null),
                cmocka_unit_test(placement_config_refuses_unknown_weights_and_modes),
                cmocka_unit_test(policy_limits_stay_above_reservations),
                cmocka_unit_test(policy_is_bounded_by_the_flavor_maxima),
                cmocka_unit_test(scaling_groups_default_their_sizes_and_keep_policies),
                cmocka_unit_test(scaling_groups_refuse_bad_sizes_policies_and_names),
                cmocka_unit_test(scaling_group_set_keeps_desired_within_bounds),
                cmocka_unit_test(scaling_policy_names_are_unique),
                cmocka_unit_test(instance_states_round_trip_through_their_strings),
                cmocka_unit_test(instance_record_states_read_and_write_its_members),
                cmocka_unit_test(keys_and_paths_follow_the_layout),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
