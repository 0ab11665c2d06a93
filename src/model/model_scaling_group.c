/* model_scaling_group.c — scaling groups (autoscaling groups) and their scaling policies:
 * validation of requests into the stored form (docs/autoscaling.md, docs/api.md). Pure. */
#include "model.h"
#include "model_net.h"
#include "model_priv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "common/errors.h"
#include "common/util.h"

static const char *const group_metrics[] = {
        "cpu",
        "memory",
        "memory_mib",
        "cpu_cores",
        "ready_cores",
        "vcpu_busy_max",
        "demand_cores",
        "entitlement_cores",
        "vcpus",
        "balloon_kib",
        "mem_usable_kib",
        "mem_unused_kib",
        "mem_available_kib",
        NULL,
};

bool model_scaling_metric_valid(const char *m) {
        for (const char *const *p = group_metrics; m && *p; p++)
                if (streq(*p, m))
                        return true;
        return false;
}

/* "+2", "-1" (change), "=4" (exact), "+50%", "-25%" (percent). */
static int parse_adjust(const char *s, const char **ret_type, int64_t *ret_value) {
        if (!s || !*s)
                return TIDE_E_INVALID;
        const char *type = "change";
        const char *p = s;
        if (*p == '=') {
                type = "exact";
                p++;
        } else if (*p != '+' && *p != '-')
                return TIDE_E_INVALID;
        size_t len = strlen(p);
        _cleanup_free_ char *num = NULL;
        if (len > 1 && p[len - 1] == '%') {
                if (streq(type, "exact"))
                        return TIDE_E_INVALID;
                type = "percent";
                num = xstrndup(p, len - 1);
        } else
                num = xstrdup(p);
        if (streq(type, "exact") && (num[0] == '+' || num[0] == '-'))
                return TIDE_E_INVALID; /* "=N": a size, unsigned */
        const char *digits = num + (num[0] == '+' || num[0] == '-');
        if (!*digits || strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 6)
                return TIDE_E_INVALID;
        int64_t v = strtoll(num, NULL, 10);
        if (v == 0 && !streq(type, "exact"))
                return TIDE_E_INVALID;
        if (streq(type, "exact") && v > MODEL_SCALING_GROUP_MEMBERS_MAX)
                return TIDE_E_INVALID;
        *ret_type = type;
        *ret_value = v;
        return 0;
}

int model_scaling_policy_from_request(json_t *body, json_t **ret, char **ret_err) {
        static const char *const allowed[] = {
                "name", "metric", "stat", "above", "below", "for_s", "adjust", "cooldown_s", "victim", NULL,
        };
        static const char *const stats[] = { "avg", "max", "min" };
        static const char *const victims[] = { "newest", "oldest", "least-loaded" };
        int r;
        if ((r = model_check_members(body, allowed, ret_err)) < 0)
                return r;
        json_t *name = json_object_get(body, "name");
        if (name && (!json_is_string(name) || !model_name_valid(json_string_value(name))))
                return model_fail(ret_err,
                                  "policy name must be 1-%d characters of A-Z a-z 0-9 . _ - starting "
                                  "with a letter or digit",
                                  MODEL_NAME_MAX);
        const char *metric = tide_json_str(body, "metric", NULL);
        if (!metric)
                return model_fail(ret_err, "'metric' is required: cpu, memory or a metric's name");
        if (!model_scaling_metric_valid(metric))
                return model_fail(
                        ret_err,
                        "unknown metric '%.64s': cpu, memory, memory_mib, cpu_cores, ready_cores, vcpu_busy_max, "
                        "demand_cores, entitlement_cores, vcpus, balloon_kib, mem_usable_kib, "
                        "mem_unused_kib or mem_available_kib",
                        metric);
        const char *stat = tide_json_str(body, "stat", "avg");
        bool ok = false;
        for (size_t i = 0; i < ELEMENTSOF(stats); i++)
                ok = ok || streq(stat, stats[i]);
        if (!ok || (json_object_get(body, "stat") && !json_is_string(json_object_get(body, "stat"))))
                return model_fail(ret_err, "'stat' must be avg, max or min");
        json_t *above = json_object_get(body, "above"), *below = json_object_get(body, "below");
        if (!!above == !!below)
                return model_fail(ret_err, "one of 'above' and 'below' (the threshold) is required");
        json_t *th = above ? above : below;
        if (!json_is_number(th) || !isfinite(json_number_value(th)))
                return model_fail(ret_err, "'%s' must be a number", above ? "above" : "below");
        int64_t for_s, cooldown_s;
        if ((r = model_get_int(body, "for_s", 0, 86400, 300, ret_err, &for_s)) < 0 ||
            (r = model_get_int(body, "cooldown_s", 0, 86400, 300, ret_err, &cooldown_s)) < 0)
                return r;
        const char *adjust = tide_json_str(body, "adjust", NULL), *type;
        int64_t value;
        if (!adjust)
                return model_fail(ret_err, "'adjust' is required: +N, -N, =N or +-N%%");
        if (parse_adjust(adjust, &type, &value) < 0)
                return model_fail(ret_err,
                                  "'adjust' must be +N or -N (members), =N (exactly N members, at most %d) or "
                                  "+N%% / -N%% (of the desired size); N not 0: got '%.32s'",
                                  MODEL_SCALING_GROUP_MEMBERS_MAX, adjust);
        const char *victim = tide_json_str(body, "victim", "newest");
        ok = false;
        for (size_t i = 0; i < ELEMENTSOF(victims); i++)
                ok = ok || streq(victim, victims[i]);
        if (!ok)
                return model_fail(ret_err, "'victim' must be newest, oldest or least-loaded");
        *ret = json_pack("{s:s, s:s, s:s, s:f, s:I, s:s, s:s, s:I, s:I, s:s}", "metric", metric, "stat", stat, "op",
                         above ? "above" : "below", "threshold", json_number_value(th), "for_s", (json_int_t) for_s,
                         "adjust", adjust, "adjust_type", type, "adjustment", (json_int_t) value, "cooldown_s",
                         (json_int_t) cooldown_s, "victim", victim);
        if (name)
                json_object_set(*ret, "name", name);
        return 0;
}

int model_scaling_group_policy_add(json_t *group, json_t *policy, char **ret_err) {
        json_t *list = json_object_get(group, "policies");
        if (!json_is_array(list)) {
                list = json_array();
                json_object_set_new(group, "policies", list);
        }
        if (json_array_size(list) >= MODEL_SCALING_GROUP_POLICIES_MAX)
                return model_fail(ret_err, "a scaling group has at most %d policies", MODEL_SCALING_GROUP_POLICIES_MAX);
        const char *name = tide_json_str(policy, "name", NULL);
        _cleanup_free_ char *gen = NULL;
        if (!name) {
                /* policy-1, policy-2, ...: the first free one. */
                for (int n = 1; !name; n++) {
                        free(gen);
                        gen = xasprintf("policy-%d", n);
                        bool used = false;
                        size_t i;
                        json_t *p;
                        json_array_foreach(list, i, p)
                                used = used || streq(tide_json_str(p, "name", ""), gen);
                        if (!used)
                                name = gen;
                }
                json_object_set_new(policy, "name", json_string(name));
        }
        size_t i;
        json_t *p;
        json_array_foreach(list, i, p)
                if (streq(tide_json_str(p, "name", ""), name))
                        return model_fail(ret_err, "the scaling group already has a policy '%s'", name);
        json_array_append(list, policy);
        return 0;
}

/* min <= desired <= max, given or kept; an unset desired follows min and max. */
static int merge_sizes(json_t *group, json_t *body, char **ret_err) {
        int64_t min, max, desired;
        int r;
        if ((r = model_get_int(body, "min", 0, MODEL_SCALING_GROUP_MEMBERS_MAX, tide_json_int(group, "min", 1), ret_err,
                               &min)) < 0)
                return r;
        /* A new group's max defaults to the larger of min and desired. */
        int64_t max_def = min > 1 ? min : 1, d = tide_json_int(body, "desired", 0);
        if (json_is_integer(json_object_get(body, "desired")) && d > max_def && d <= MODEL_SCALING_GROUP_MEMBERS_MAX)
                max_def = d;
        if ((r = model_get_int(body, "max", 1, MODEL_SCALING_GROUP_MEMBERS_MAX, tide_json_int(group, "max", max_def),
                               ret_err, &max)) < 0)
                return r;
        if (min > max)
                return model_fail(ret_err, "'min' (%lld) is above 'max' (%lld)", (long long) min, (long long) max);
        int64_t keep = tide_json_int(group, "desired", min);
        keep = keep < min ? min : keep > max ? max : keep;
        if ((r = model_get_int(body, "desired", 0, MODEL_SCALING_GROUP_MEMBERS_MAX, keep, ret_err, &desired)) < 0)
                return r;
        if (desired < min || desired > max)
                return model_fail(ret_err, "'desired' (%lld) must be between 'min' (%lld) and 'max' (%lld)",
                                  (long long) desired, (long long) min, (long long) max);
        json_object_set_new(group, "min", json_integer(min));
        json_object_set_new(group, "max", json_integer(max));
        json_object_set_new(group, "desired", json_integer(desired));
        return 0;
}

int model_scaling_group_from_request(json_t *body, json_t **ret, char **ret_err) {
        static const char *const allowed[] = {
                "name",   "flavor",   "image",   "user_data", "min",      "max", "desired",
                "spread", "priority", "elastic", "policies",  "networks", NULL,
        };
        const char *name;
        int64_t priority;
        int r;
        if ((r = model_check_members(body, allowed, ret_err)) < 0 ||
            (r = model_get_name(body, "scaling group", ret_err, &name)) < 0 ||
            (r = model_get_int(body, "priority", 1, 1000, MODEL_PRIORITY_DEFAULT, ret_err, &priority)) < 0)
                return r;
        /* Members are named <name>-<n>: leave room for the number. */
        if (strlen(name) > MODEL_NAME_MAX - 5)
                return model_fail(ret_err,
                                  "scaling group name must be at most %d characters (members are named NAME-<n>)",
                                  MODEL_NAME_MAX - 5);
        if ((r = model_check_launch(body, ret_err)) < 0)
                return r;
        json_t *ud = json_object_get(body, "user_data"); /* checked: absent, null or a string */
        json_t *spread = json_object_get(body, "spread"), *elastic = json_object_get(body, "elastic");
        if (spread && !json_is_boolean(spread))
                return model_fail(ret_err, "'spread' must be true or false");
        if (elastic && !json_is_boolean(elastic))
                return model_fail(ret_err, "'elastic' must be true or false");
        /* Each member gets a port on each network, at a free address: an address of its own
         * would be one address for every member. */
        json_t *networks = json_object_get(body, "networks"), *nr;
        size_t ni;
        if ((r = model_port_requests_check(networks, ret_err)) < 0)
                return r;
        json_array_foreach(networks, ni, nr)
                if (json_object_get(nr, "ip") && !json_is_null(json_object_get(nr, "ip")))
                        return model_fail(ret_err,
                                          "network '%s': a scaling group's members get free addresses ('ip' is "
                                          "not allowed)",
                                          tide_json_str(nr, "network", ""));
        json_t *g = json_pack("{s:s, s:O, s:O, s:s, s:b, s:I, s:[]}", "name", name, "flavor",
                              json_object_get(body, "flavor"), "image", json_object_get(body, "image"), "user_data",
                              ud && json_is_string(ud) ? json_string_value(ud) : "", "spread",
                              !spread || json_is_true(spread), "priority", (json_int_t) priority, "policies");
        json_t *policies = json_object_get(body, "policies"), *pb;
        size_t i;
        if (elastic)
                json_object_set(g, "elastic", elastic);
        if (json_array_size(networks) > 0)
                json_object_set_new(g, "networks", json_deep_copy(networks));
        if ((r = merge_sizes(g, body, ret_err)) < 0)
                goto fail;
        if (policies && !json_is_array(policies)) {
                r = model_fail(ret_err, "'policies' must be an array of policies");
                goto fail;
        }
        json_array_foreach(policies, i, pb) {
                json_t *p;
                _cleanup_free_ char *e = NULL;
                if ((r = model_scaling_policy_from_request(pb, &p, &e)) < 0) {
                        r = model_fail(ret_err, "policy %zu: %s", i + 1, e);
                        goto fail;
                }
                r = model_scaling_group_policy_add(g, p, ret_err);
                json_decref(p);
                if (r < 0)
                        goto fail;
        }
        *ret = g;
        return 0;
fail:
        json_decref(g);
        return r;
}

int model_scaling_group_set_merge(json_t *group, json_t *body, char **ret_err) {
        static const char *const allowed[] = { "min", "max", "desired", NULL };
        int r = model_check_members(body, allowed, ret_err);
        if (r < 0)
                return r;
        if (json_object_size(body) == 0)
                return model_fail(ret_err, "nothing to change: give min, max or desired");
        json_t *o = json_deep_copy(group);
        r = merge_sizes(o, body, ret_err);
        if (r >= 0)
                json_object_update(group, o);
        json_decref(o);
        return r;
}
