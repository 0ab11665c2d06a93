/* autoscaler_scaling_groups.c — creating and deleting scaling groups in the store
 * (autoscaler.h): what the API and stacks do; the autoscaler then makes and removes the members. */
#include "ctl/autoscaler.h"

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"

int autoscaler_scaling_group_create(struct store *s, json_t *body, json_t *extra, json_t **ret, char **ret_err) {
        json_t *g = NULL, *flavor = NULL, *image = NULL, *sg = NULL;
        _cleanup_free_ char *id = NULL, *sg_name = NULL, *sg_id = NULL;
        int r = model_scaling_group_from_request(body, &g, ret_err);
        if (r < 0)
                return r;
        if ((r = model_obj_get(s, MODEL_FLAVOR, tide_json_str(g, "flavor", ""), &flavor, NULL)) < 0) {
                *ret_err = xasprintf("flavor '%s': %s", tide_json_str(g, "flavor", ""), tide_strerror(r));
                goto out;
        }
        if ((r = model_obj_get(s, MODEL_IMAGE, tide_json_str(g, "image", ""), &image, NULL)) < 0) {
                *ret_err = xasprintf("image '%s': %s", tide_json_str(g, "image", ""), tide_strerror(r));
                goto out;
        }
        size_t ni;
        json_t *nr;
        json_array_foreach(json_object_get(g, "networks"), ni, nr) {
                json_t *net = NULL;
                if ((r = model_obj_get(s, MODEL_NETWORK, tide_json_str(nr, "network", ""), &net, NULL)) < 0) {
                        *ret_err = xasprintf("network '%s': %s", tide_json_str(nr, "network", ""), tide_strerror(r));
                        goto out;
                }
                json_decref(net);
        }
        json_object_set_new(g, "flavor", json_string(tide_json_str(flavor, "name", "")));
        json_object_set_new(g, "image", json_string(tide_json_str(image, "name", "")));
        id = id_new_uuid();
        json_object_set_new(g, "id", json_string(id));
        model_set_now(g, "created");
        model_set_now(g, "updated");
        if (extra)
                json_object_update(g, extra);
        if (model_obj_get(s, MODEL_SCALING_GROUP, tide_json_str(g, "name", ""), &sg, NULL) >= 0) {
                json_decref(TAKE_PTR(sg));
                *ret_err = xasprintf("scaling group '%s' already exists", tide_json_str(g, "name", ""));
                r = TIDE_E_EXISTS;
                goto out;
        }
        if (tide_json_bool(g, "spread", true)) {
                /* A soft-anti-affinity server group spreads the members over the hosts. */
                sg_name = xasprintf("asg-%s", tide_json_str(g, "name", ""));
                sg_id = id_new_uuid();
                _cleanup_free_ char *created = time_format_ms(now_ms());
                sg = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "name", sg_name, "policy", "soft-anti-affinity", "id",
                               sg_id, "created", created, "created_ms", (json_int_t) now_ms(), "asg_id", id);
                if ((r = model_obj_create(s, MODEL_SERVER_GROUP, sg, NULL)) < 0) {
                        *ret_err = r == TIDE_E_EXISTS
                                           ? xasprintf("server group '%s' (which spreads the members) already exists",
                                                       sg_name)
                                           : xasprintf("creating server group '%s': %s", sg_name, tide_strerror(r));
                        goto out;
                }
                json_object_set_new(g, "server_group", json_string(sg_id));
        }
        r = model_obj_create(s, MODEL_SCALING_GROUP, g, NULL);
        if (r < 0) {
                *ret_err = r == TIDE_E_EXISTS
                                   ? xasprintf("scaling group '%s' already exists", tide_json_str(g, "name", ""))
                                   : xasprintf("creating scaling group '%s': %s", tide_json_str(g, "name", ""),
                                               tide_strerror(r));
                /* Nothing half-made: the spread group goes again. */
                if (sg)
                        (void) model_obj_delete(s, MODEL_SERVER_GROUP, sg, 0);
                goto out;
        }
        model_scaling_group_event_emit(
                s, "info", "group.created", g, NULL, NULL,
                "scaling group '%s' created: %lld member(s) of flavor '%s', min %lld, max %lld, %zu policies",
                tide_json_str(g, "name", ""), (long long) tide_json_int(g, "desired", 0),
                tide_json_str(g, "flavor", ""), (long long) tide_json_int(g, "min", 0),
                (long long) tide_json_int(g, "max", 0), json_array_size(json_object_get(g, "policies")));
        *ret = TAKE_PTR(g);
out:
        json_decref(g);
        json_decref(sg);
        json_decref(flavor);
        json_decref(image);
        return r;
}

int autoscaler_scaling_group_delete(struct store *s, json_t *g, int64_t rev) {
        json_t *all = NULL, *inst;
        int r = model_obj_delete(s, MODEL_SCALING_GROUP, g, rev);
        if (r < 0)
                return r;
        size_t n = 0, i;
        if (model_obj_list(s, MODEL_INSTANCE, &all) >= 0)
                json_array_foreach(all, i, inst)
                        if (streq(tide_json_str(inst, "asg_id", ""), tide_json_str(g, "id", ""))) {
                                (void) model_obj_modify(s, MODEL_INSTANCE, tide_json_str(inst, "id", ""),
                                                        model_instance_mark_deleting, NULL, NULL);
                                n++;
                        }
        json_decref(all);
        model_scaling_group_event_emit(s, "info", "group.deleted", g, NULL, NULL,
                                       "scaling group '%s' deleted with its %zu member(s)",
                                       tide_json_str(g, "name", ""), n);
        return 0;
}
