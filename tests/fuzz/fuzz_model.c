/* fuzz_model.c — the API's request validation (src/model/model.h) on arbitrary bodies.
 *
 * Input: a request body as tided receives it. It is parsed as api_server.c does (json_loadb with
 * JSON_REJECT_DUPLICATES; an empty body is no body, NULL, which the handlers pass on as it is),
 * and the same body goes through every validator a handler calls it with:
 * model_flavor_from_request, model_image_from_request, model_instance_from_request,
 * model_instance_policy_merge (into a fixed instance), model_server_group_from_request,
 * model_scaling_group_from_request, model_scaling_policy_from_request (+
 * model_scaling_group_policy_add, as POST /v1/scaling-groups/{}/policies does),
 * model_scaling_group_set_merge (into a fixed group and into the group the body made, if any),
 * model_host_config_merge and model_placement_config_merge (into nothing and into fixed
 * settings). A body that is not JSON ends there, as tided answers 400.
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks the validators' contract: a
 * failure is TIDE_E_INVALID with a message and leaves *ret and the merged-into object alone; a
 * success gives an object, no message, and serialises; and the canonical flavor, image and
 * server group are valid requests themselves that validate to the same object. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_MAX (1024 * 1024) /* API_BODY_MAX: tided refuses more before parsing */

static void fail(const char *fn, const char *what, const char *detail) {
        fprintf(stderr, "fuzz_model: %s: %s%s%s\n", fn, what, detail ? ": " : "", detail ? detail : "");
        abort();
}

/* Checks one validator's outcome; returns ret on success (owned), NULL on failure. */
static json_t *outcome(const char *fn, int r, json_t *ret, char *err) {
        if (r < 0) {
                if (r != TIDE_E_INVALID)
                        fail(fn, "a failure other than TIDE_E_INVALID", tide_strerror(r));
                if (!err)
                        fail(fn, "a failure without a message", NULL);
                if (ret)
                        fail(fn, "a failure that set *ret", NULL);
                if (!fuzz_message_ok(err))
                        fail(fn, "a message that is not valid UTF-8", err);
                free(err);
                return NULL;
        }
        if (err)
                fail(fn, "a success with a message", err);
        if (!json_is_object(ret))
                fail(fn, "a success without an object", NULL);
        free(tide_json_dump(ret)); /* aborts when it does not serialise */
        return ret;
}

/* A merge into obj: obj must be unchanged on failure. */
static void merge_outcome(const char *fn, int r, json_t *obj, json_t *before, char *err) {
        if (r < 0) {
                if (r != TIDE_E_INVALID)
                        fail(fn, "a failure other than TIDE_E_INVALID", tide_strerror(r));
                if (!err)
                        fail(fn, "a failure without a message", NULL);
                if (!json_equal(obj, before))
                        fail(fn, "a failure that changed the object", NULL);
                if (!fuzz_message_ok(err))
                        fail(fn, "a message that is not valid UTF-8", err);
                free(err);
                return;
        }
        if (err)
                fail(fn, "a success with a message", err);
        free(tide_json_dump(obj));
}

typedef int (*from_request_fn)(json_t *body, json_t **ret, char **ret_err);

/* The canonical object of a flavor, image or server group is itself a valid request for the
 * same object (clients send back what they read, e.g. to copy a flavor). */
static void round_trip(const char *fn, from_request_fn f, json_t *canonical) {
        json_t *again = NULL;
        char *err = NULL;
        int r = f(canonical, &again, &err);
        if (r < 0) {
                char *s = tide_json_dump(canonical);
                fprintf(stderr, "fuzz_model: %s of %s\n", fn, s);
                free(s);
                fail(fn, "refuses its own canonical object", err);
        }
        if (!json_equal(again, canonical))
                fail(fn, "its canonical object validates to a different one", NULL);
        json_decref(again);
}

static void from_request(const char *fn, from_request_fn f, json_t *body, bool check_round_trip) {
        json_t *ret = NULL;
        char *err = NULL;
        int r = f(body, &ret, &err);
        json_t *o = outcome(fn, r, ret, err);
        if (o && check_round_trip)
                round_trip(fn, f, o);
        json_decref(o);
}

/* An instance as model_instance_policy_merge finds it: the flavor's sizes copied in. */
static json_t *fixed_instance(void) {
        return json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:b, s:f, s:i}", "name", "web-1", "flavor", "small",
                         "image", "tiny", "vcpus", 2, "max_vcpus", 4, "ram_mib", 512, "max_ram_mib", 1024, "priority",
                         500, "ha", 0, "cpu_reservation", 0.5, "mem_limit", 768);
}

static json_t *fixed_group(void) {
        return json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:[{s:s, s:s, s:s, s:s, s:f, s:i, "
                         "s:s, s:s, s:i, s:i, s:s}]}",
                         "name", "web", "flavor", "small", "image", "tiny", "user_data", "", "spread", 1, "priority",
                         500, "min", 1, "max", 3, "desired", 2, "policies", "name", "out", "metric", "cpu", "stat",
                         "avg", "op", "above", "threshold", 60.0, "for_s", 10, "adjust", "+2", "adjust_type", "change",
                         "adjustment", 2, "cooldown_s", 20, "victim", "newest");
}

static void instance_policy_merge(json_t *body) {
        json_t *inst = fixed_instance(), *before = json_deep_copy(inst);
        char *err = NULL;
        int r = model_instance_policy_merge(inst, body, &err);
        merge_outcome("model_instance_policy_merge", r, inst, before, err);
        json_decref(inst);
        json_decref(before);
}

static void scaling_group_set_merge(json_t *group, json_t *body) {
        json_t *before = json_deep_copy(group);
        char *err = NULL;
        int r = model_scaling_group_set_merge(group, body, &err);
        merge_outcome("model_scaling_group_set_merge", r, group, before, err);
        if (r >= 0) {
                int64_t min = tide_json_int(group, "min", -1), max = tide_json_int(group, "max", -1);
                int64_t desired = tide_json_int(group, "desired", -1);
                if (!(0 <= min && min <= desired && desired <= max && max <= MODEL_SCALING_GROUP_MEMBERS_MAX))
                        fail("model_scaling_group_set_merge", "sizes out of order after a success", NULL);
        }
        json_decref(before);
}

/* A stored policy is what model.h says: an adjustment the autoscaler can apply as documented
 * (docs/api.md: "+N" and "-N" not 0, "=N" 0-1000, "+N%" and "-N%" not 0). */
static void check_policy(const char *fn, json_t *p) {
        const char *type = tide_json_str(p, "adjust_type", ""), *op = tide_json_str(p, "op", "");
        int64_t adj = tide_json_int(p, "adjustment", 0);
        json_t *th = json_object_get(p, "threshold");
        if (!model_scaling_metric_valid(tide_json_str(p, "metric", NULL)) ||
            (!streq(op, "above") && !streq(op, "below")) || !json_is_number(th) || !isfinite(json_number_value(th)))
                fail(fn, "a policy without a valid metric, op or threshold", tide_json_str(p, "adjust", ""));
        if (streq(type, "exact")) {
                if (adj < 0 || adj > MODEL_SCALING_GROUP_MEMBERS_MAX)
                        fail(fn, "an exact adjustment outside 0-1000", tide_json_str(p, "adjust", ""));
        } else if (streq(type, "change") || streq(type, "percent")) {
                if (adj == 0)
                        fail(fn, "a change of 0", tide_json_str(p, "adjust", ""));
        } else
                fail(fn, "an unknown adjust_type", type);
        for (size_t i = 0; i < 2; i++) {
                int64_t v = tide_json_int(p, i ? "cooldown_s" : "for_s", -1);
                if (v < 0 || v > 86400)
                        fail(fn, "a duration outside 0-86400 s", NULL);
        }
}

/* POST /v1/scaling-groups/{}/policies: validate, then add to the group. */
static void scaling_policy(json_t *group, json_t *body) {
        json_t *p = NULL;
        char *err = NULL;
        int r = model_scaling_policy_from_request(body, &p, &err);
        p = outcome("model_scaling_policy_from_request", r, p, err);
        if (!p)
                return;
        check_policy("model_scaling_policy_from_request", p);
        err = NULL;
        r = model_scaling_group_policy_add(group, p, &err);
        if (r < 0) {
                if (!err)
                        fail("model_scaling_group_policy_add", "a failure without a message", NULL);
                free(err);
        } else if (err)
                fail("model_scaling_group_policy_add", "a success with a message", err);
        json_decref(p);
}

static void scaling_group(json_t *body) {
        json_t *g = NULL;
        char *err = NULL;
        int r = model_scaling_group_from_request(body, &g, &err);
        g = outcome("model_scaling_group_from_request", r, g, err);
        if (!g)
                return;
        int64_t min = tide_json_int(g, "min", -1), max = tide_json_int(g, "max", -1),
                desired = tide_json_int(g, "desired", -1);
        if (!(0 <= min && min <= desired && desired <= max && max <= MODEL_SCALING_GROUP_MEMBERS_MAX))
                fail("model_scaling_group_from_request", "sizes out of order after a success", NULL);
        if (json_array_size(json_object_get(g, "policies")) > MODEL_SCALING_GROUP_POLICIES_MAX)
                fail("model_scaling_group_from_request", "more policies than MODEL_SCALING_GROUP_POLICIES_MAX", NULL);
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(g, "policies"), i, p)
                check_policy("model_scaling_group_from_request", p);
        /* PATCH and POST .../policies on the group this body made. */
        scaling_group_set_merge(g, body);
        scaling_policy(g, body);
        json_decref(g);
}

typedef int (*config_merge_fn)(json_t *current, json_t *body, json_t **ret, char **ret_err);

static void config_merge(const char *fn, config_merge_fn f, json_t *current, json_t *body) {
        json_t *before = current ? json_deep_copy(current) : NULL, *ret = NULL;
        char *err = NULL;
        int r = f(current, body, &ret, &err);
        json_decref(outcome(fn, r, ret, err));
        if (current && !json_equal(current, before))
                fail(fn, "changed the current settings (they are only read)", NULL);
        json_decref(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > BODY_MAX)
                return 0;
        json_t *body = NULL;
        if (size > 0) {
                json_error_t jerr;
                body = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, &jerr);
                if (!body)
                        return 0;
        }

        from_request("model_flavor_from_request", model_flavor_from_request, body, true);
        from_request("model_image_from_request", model_image_from_request, body, true);
        from_request("model_instance_from_request", model_instance_from_request, body, false);
        from_request("model_server_group_from_request", model_server_group_from_request, body, true);
        instance_policy_merge(body);
        scaling_group(body);

        json_t *g = fixed_group();
        scaling_group_set_merge(g, body);
        scaling_policy(g, body);
        json_decref(g);

        json_t *host = json_pack("{s:{s:s, s:s}, s:f, s:i, s:b}", "labels", "zone", "hk-a", "rack", "r1", "cpu_ratio",
                                 4.0, "reserved_cpus", 1, "draining", 1);
        config_merge("model_host_config_merge", model_host_config_merge, NULL, body);
        config_merge("model_host_config_merge", model_host_config_merge, host, body);
        json_decref(host);

        json_t *placement = json_pack("{s:s, s:f, s:{s:f, s:f}}", "mode", "pack", "ram_ratio", 1.5, "weights", "ram",
                                      2.0, "numa", 0.0);
        config_merge("model_placement_config_merge", model_placement_config_merge, NULL, body);
        config_merge("model_placement_config_merge", model_placement_config_merge, placement, body);
        json_decref(placement);

        json_decref(body);
        return 0;
}
