/* sched_instance.c — a new instance from a create request, placed and stored: what
 * POST /v1/instances does, and what the autoscaler does for each member it adds. */
#include "sched/sched_store.h"

#include "common/errors.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "model/model.h"

/* What an instance copies from its flavor, so that it keeps its size whatever becomes of it. */
static const char *const flavor_fields[] = {
        "vcpus", "max_vcpus", "ram_mib", "max_ram_mib", "disk_gib", "cpu_policy", "hugepages",
};

int sched_instance_place_and_store(struct store *s, struct sched_cache *cache, json_t *body, json_t *extra,
                                   bool dry_run, int64_t t_request_ms, json_t **ret, char **ret_err) {
        _cleanup_json_ json_t *inst = NULL, *flavor = NULL, *image = NULL, *group = NULL;
        json_t *policy;
        _cleanup_free_ char *err = NULL, *reason = NULL, *id = NULL;
        int r = model_instance_from_request(body, &inst, &err);
        if (r < 0) {
                *ret_err = TAKE_PTR(err);
                return r;
        }
        if ((r = model_obj_get(s, MODEL_FLAVOR, tide_json_str(inst, "flavor", ""), &flavor, NULL)) < 0) {
                *ret_err = xasprintf("flavor '%s': %s", tide_json_str(inst, "flavor", ""), tide_strerror(r));
                return r;
        }
        if ((r = model_obj_get(s, MODEL_IMAGE, tide_json_str(inst, "image", ""), &image, NULL)) < 0) {
                *ret_err = xasprintf("image '%s': %s", tide_json_str(inst, "image", ""), tide_strerror(r));
                return r;
        }
        if (json_object_get(inst, "group") &&
            (r = model_obj_get(s, MODEL_SERVER_GROUP, tide_json_str(inst, "group", ""), &group, NULL)) < 0) {
                *ret_err = xasprintf("server group '%s': %s", tide_json_str(inst, "group", ""), tide_strerror(r));
                return r;
        }
        id = id_new_uuid();
        json_object_set_new(inst, "id", json_string(id));
        json_object_set_new(inst, "flavor", json_string(tide_json_str(flavor, "name", "")));
        json_object_set_new(inst, "flavor_id", json_string(tide_json_str(flavor, "id", "")));
        json_object_set_new(inst, "image", json_string(tide_json_str(image, "name", "")));
        json_object_set_new(inst, "image_id", json_string(tide_json_str(image, "id", "")));
        if (group) {
                json_object_set_new(inst, "group", json_string(tide_json_str(group, "name", "")));
                json_object_set_new(inst, "group_id", json_string(tide_json_str(group, "id", "")));
        }
        for (size_t i = 0; i < ELEMENTSOF(flavor_fields); i++)
                if (json_object_get(flavor, flavor_fields[i]))
                        json_object_set(inst, flavor_fields[i], json_object_get(flavor, flavor_fields[i]));
        policy = json_object_get(inst, "_policy");
        if (policy && (r = model_instance_policy_merge(inst, policy, &err)) < 0) {
                *ret_err = TAKE_PTR(err);
                return r;
        }
        json_object_del(inst, "_policy");
        model_instance_set_desired(inst, MODEL_DESIRED_RUNNING);
        json_object_set_new(inst, "reboot_seq", json_integer(0));
        json_object_set_new(inst, "error", json_null());
        json_object_set_new(inst, "t_request_ms", json_integer(t_request_ms));
        model_set_now(inst, "created");
        model_set_now(inst, "updated");
        if (extra)
                json_object_update(inst, extra);

        if (dry_run) {
                /* Nothing is stored: the answer is what placing it now would do. */
                json_t *ex;
                r = sched_store_explain(s, cache, inst, group, &ex);
                if (r < 0) {
                        *ret_err = xasprintf("placing: %s", tide_strerror(r));
                        return r;
                }
                json_object_set_new(ex, "instance", json_string(tide_json_str(inst, "name", "")));
                *ret = ex;
                return 0;
        }

        r = sched_store_create(s, cache, inst, group, &reason);
        if (r < 0 && r != TIDE_E_NO_HOST && reason) {
                /* A port that could not be made: the reason names the network. */
                *ret_err = TAKE_PTR(reason);
                return r;
        }
        if (r < 0 && r != TIDE_E_NO_HOST) {
                *ret_err = r == TIDE_E_EXISTS
                                   ? xasprintf("instance '%s' already exists", tide_json_str(inst, "name", ""))
                                   : xasprintf("storing instance '%s': %s", tide_json_str(inst, "name", ""),
                                               tide_strerror(r));
                return r;
        }
        if (r >= 0)
                model_event_emit(s, "info", "instance.created", inst, tide_json_str(inst, "host", ""),
                                 "instance '%s' placed on host '%s'", tide_json_str(inst, "name", ""),
                                 tide_json_str(inst, "host", ""));
        else {
                /* No valid host is not bad input: the instance exists, in error, with the reason. */
                model_event_emit(s, "error", "instance.error", inst, NULL, "instance '%s': %s",
                                 tide_json_str(inst, "name", ""), reason);
                *ret_err = TAKE_PTR(reason);
        }
        *ret = TAKE_PTR(inst);
        return r;
}
