/* api_scaling_groups.c — /v1/scaling-groups: scaling groups (autoscaling groups) and their
 * scaling policies; /v1/groups, their old name, answers the same (deprecated). The API records
 * what is wanted (min, max, desired, policies); the autoscaler (src/ctl/autoscaler.c) creates
 * and removes the members. */
#include "api.h"

#include "common/errors.h"
#include "common/util.h"
#include "ctl/autoscaler.h"
#include "model/model.h"

#define SCALING_GROUP_EVENTS 10

/* The group's members: [{"name", "status", "host", "leaving"}], by name; and their count. */
static json_t *members_of(struct api_request *req, json_t *g, size_t *ret_active) {
        json_t *all, *m = json_array();
        size_t active = 0;
        if (model_obj_list(api_store(req), MODEL_INSTANCE, &all) >= 0) {
                size_t i;
                json_t *inst;
                json_array_foreach(all, i, inst) {
                        if (!streq(tide_json_str(inst, "asg_id", ""), tide_json_str(g, "id", "")))
                                continue;
                        bool leaving = tide_json_int(inst, "asg_leaving_ms", 0) > 0 ||
                                       model_instance_get_desired(inst) == MODEL_DESIRED_DELETED;
                        active += !leaving;
                        json_array_append_new(m,
                                              json_pack("{s:s, s:s, s:O, s:b}", "name", tide_json_str(inst, "name", ""),
                                                        "status", tide_json_str(inst, "status", ""), "host",
                                                        json_object_get(inst, "host") ?: json_null(), "leaving",
                                                        leaving));
                }
                json_decref(all);
        }
        if (ret_active)
                *ret_active = active;
        return m;
}

static int scaling_group_list(struct api_request *req, struct api_reply *rep) {
        json_t *a;
        int r = model_obj_list(api_store(req), MODEL_SCALING_GROUP, &a);
        if (r < 0)
                return api_error(rep, r, "listing scaling groups: %s", tide_strerror(r));
        size_t i, active;
        json_t *g;
        json_array_foreach(a, i, g) {
                json_decref(members_of(req, g, &active));
                json_object_set_new(g, "member_count", json_integer((json_int_t) active));
                json_object_set_new(g, "policy_count",
                                    json_integer((json_int_t) json_array_size(json_object_get(g, "policies"))));
                json_object_del(g, "policies");
                json_object_del(g, "user_data");
                json_object_del(g, "decisions");
                json_object_del(g, "shrink_victim");
                json_object_del(g, "server_group");
        }
        return api_json(rep, 200, json_pack("{s:o}", "groups", a));
}

/* The group as `tide scaling-group show` wants it: members, each policy with what the
 * autoscaler sees now (value, how long the condition has held, cooldown left), the last
 * decisions and events. */
static json_t *scaling_group_view(struct api_request *req, json_t *g) {
        json_object_set_new(g, "user_data_size", json_integer((json_int_t) strlen(tide_json_str(g, "user_data", ""))));
        json_object_del(g, "user_data");
        /* The autoscaler's bookkeeping is not the user's: the victim rule of the last shrink is
         * in its decision, and the spread server group is shown by name. */
        json_object_del(g, "shrink_victim");
        json_t *sg;
        if (tide_json_str(g, "server_group", NULL) &&
            model_obj_get(api_store(req), MODEL_SERVER_GROUP, tide_json_str(g, "server_group", ""), &sg, NULL) >= 0) {
                json_object_set_new(g, "server_group", json_string(tide_json_str(sg, "name", "")));
                json_decref(sg);
        }
        json_object_set_new(g, "members", members_of(req, g, NULL));
        /* What the autoscaler saw at its last pass, from the store: it may run in another tided. */
        json_t *status = NULL;
        (void) autoscaler_scaling_group_status(api_store(req), tide_json_str(g, "id", ""), &status);
        int64_t now = now_ms();
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(g, "policies"), i, p) {
                json_t *seen = NULL, *sp;
                size_t k;
                json_array_foreach(json_object_get(status, "policies"), k, sp)
                        if (streq(tide_json_str(sp, "name", ""), tide_json_str(p, "name", "")))
                                seen = sp;
                json_object_set(p, "value", seen ? json_object_get(seen, "value") : json_null());
                json_object_set(p, "holding", seen ? json_object_get(seen, "holding") : json_false());
                json_object_set_new(p, "held_s", seen ? json_incref(json_object_get(seen, "held_s")) : json_real(0));
                int64_t last = tide_json_int(p, "last_action_ms", 0);
                int64_t left = last > 0 ? last + tide_json_int(p, "cooldown_s", 0) * 1000 - now : 0;
                json_object_set_new(p, "cooldown_left_s", json_real(left > 0 ? (double) left / 1000.0 : 0.0));
        }
        json_decref(status);
        json_t *events;
        int r = model_scaling_group_event_list(api_store(req), tide_json_str(g, "id", ""), SCALING_GROUP_EVENTS,
                                               &events);
        if (r >= 0)
                json_object_set_new(g, "events", events);
        if (!json_object_get(g, "decisions"))
                json_object_set_new(g, "decisions", json_array());
        return g;
}

static int scaling_group_create(struct api_request *req, struct api_reply *rep) {
        json_t *g;
        _cleanup_free_ char *err = NULL;
        int r = autoscaler_scaling_group_create(api_store(req), req->body, NULL, &g, &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);
        return api_json(rep, 201, scaling_group_view(req, g));
}

static int scaling_group_show(struct api_request *req, struct api_reply *rep) {
        json_t *g;
        int r = model_obj_get(api_store(req), MODEL_SCALING_GROUP, req->params[0], &g, NULL);
        if (r < 0)
                return api_error(rep, r, "scaling group '%.64s': %s", req->params[0], tide_strerror(r));
        return api_json(rep, 200, scaling_group_view(req, g));
}

typedef int (*scaling_group_fn)(json_t *g, struct api_request *req, struct api_reply *rep, char *what, size_t what_len);

struct scaling_group_change {
        scaling_group_fn fn;
        struct api_request *req;
        struct api_reply *rep;
        char what[256]; /* what changed, for the event */
        bool refused;   /* fn refused: the reply says why */
};

static int scaling_group_change(json_t *g, void *userdata) {
        struct scaling_group_change *c = userdata;
        c->what[0] = 0;
        int r = c->fn(g, c->req, c->rep, c->what, sizeof c->what);
        c->refused = r < 0;
        return r < 0 ? r : MODEL_CHANGE_WRITE;
}

/* Applies fn to the stored group (model_obj_modify: retried when the autoscaler changed it in
 * between); an event says what changed. */
static int mutate(struct api_request *req, struct api_reply *rep, scaling_group_fn fn, int status) {
        struct store *s = api_store(req);
        struct scaling_group_change c = { .fn = fn, .req = req, .rep = rep };
        json_t *g;
        int r = model_obj_modify(s, MODEL_SCALING_GROUP, req->params[0], scaling_group_change, &c, &g);
        if (c.refused)
                return r;
        if (r == TIDE_E_CONFLICT)
                return api_error(rep, r, "scaling group '%.64s' keeps changing; try again", req->params[0]);
        if (r == TIDE_E_NOT_FOUND)
                return api_error(rep, r, "scaling group '%.64s': %s", req->params[0], tide_strerror(r));
        if (r < 0)
                return api_error(rep, r, "updating scaling group '%.64s': %s", req->params[0], tide_strerror(r));
        model_scaling_group_event_emit(s, "info", "group.updated", g, NULL, NULL, "scaling group '%s': %s",
                                       tide_json_str(g, "name", ""), c.what);
        return api_json(rep, status, scaling_group_view(req, g));
}

static int do_set(json_t *g, struct api_request *req, struct api_reply *rep, char *what, size_t what_len) {
        _cleanup_free_ char *err = NULL;
        int r = model_scaling_group_set_merge(g, req->body, &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);
        snprintf(what, what_len, "min %lld, max %lld, desired %lld", (long long) tide_json_int(g, "min", 0),
                 (long long) tide_json_int(g, "max", 0), (long long) tide_json_int(g, "desired", 0));
        return 0;
}

static int do_policy_add(json_t *g, struct api_request *req, struct api_reply *rep, char *what, size_t what_len) {
        json_t *p;
        _cleanup_free_ char *err = NULL;
        int r = model_scaling_policy_from_request(req->body, &p, &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);
        r = model_scaling_group_policy_add(g, p, &err);
        if (r >= 0)
                snprintf(what, what_len, "policy '%s' added: %s %s %s %g for %llds: %s, cooldown %llds",
                         tide_json_str(p, "name", ""), tide_json_str(p, "metric", ""), tide_json_str(p, "stat", ""),
                         tide_json_str(p, "op", ""), json_number_value(json_object_get(p, "threshold")),
                         (long long) tide_json_int(p, "for_s", 0), tide_json_str(p, "adjust", ""),
                         (long long) tide_json_int(p, "cooldown_s", 0));
        json_decref(p);
        return r < 0 ? api_error(rep, r, "%s", err) : 0;
}

static int do_policy_delete(json_t *g, struct api_request *req, struct api_reply *rep, char *what, size_t what_len) {
        json_t *list = json_object_get(g, "policies");
        size_t i;
        json_t *p;
        json_array_foreach(list, i, p)
                if (streq(tide_json_str(p, "name", ""), req->params[1])) {
                        snprintf(what, what_len, "policy '%s' deleted", req->params[1]);
                        json_array_remove(list, i);
                        return 0;
                }
        return api_error(rep, TIDE_E_NOT_FOUND, "scaling group '%s' has no policy '%.64s'",
                         tide_json_str(g, "name", ""), req->params[1]);
}

static int scaling_group_update(struct api_request *req, struct api_reply *rep) {
        return mutate(req, rep, do_set, 200);
}

static int policy_add(struct api_request *req, struct api_reply *rep) {
        return mutate(req, rep, do_policy_add, 201);
}

static int policy_delete(struct api_request *req, struct api_reply *rep) {
        int r = mutate(req, rep, do_policy_delete, 200);
        if (r >= 0) {
                json_decref(rep->json);
                rep->json = NULL;
                rep->status = 204;
        }
        return r;
}

/* The group goes at once; its members are deleted (the agents tear them down) and the server
 * group that spread them goes with the last of them (the autoscaler sees to it). */
static int scaling_group_delete(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *g = NULL;
        int64_t rev;
        int r = model_obj_get(api_store(req), MODEL_SCALING_GROUP, req->params[0], &g, &rev);
        if (r < 0)
                return api_error(rep, r, "scaling group '%.64s': %s", req->params[0], tide_strerror(r));
        if (tide_json_str(g, "stack", NULL))
                r = api_error(rep, TIDE_E_IN_USE, "scaling group '%s' belongs to stack '%s': delete the stack",
                              tide_json_str(g, "name", ""), tide_json_str(g, "stack", ""));
        else if ((r = autoscaler_scaling_group_delete(api_store(req), g, rev)) < 0)
                api_error(rep, r,
                          r == TIDE_E_CONFLICT ? "scaling group '%s' changed meanwhile; try again"
                                               : "deleting scaling group '%s': %s",
                          tide_json_str(g, "name", ""), tide_strerror(r));
        if (r >= 0)
                rep->status = 204;
        return r;
}

const struct api_route api_scaling_group_routes[] = {
        { "GET", "/v1/scaling-groups", scaling_group_list },
        { "POST", "/v1/scaling-groups", scaling_group_create },
        { "GET", "/v1/scaling-groups/{}", scaling_group_show },
        { "PATCH", "/v1/scaling-groups/{}", scaling_group_update },
        { "DELETE", "/v1/scaling-groups/{}", scaling_group_delete },
        { "POST", "/v1/scaling-groups/{}/policies", policy_add },
        { "DELETE", "/v1/scaling-groups/{}/policies/{}", policy_delete },
        /* The old name, kept as an alias (deprecated in docs/api.md): the same routes, the same
         * handlers (test_api_routes.c checks that they stay twins). */
        { "GET", "/v1/groups", scaling_group_list },
        { "POST", "/v1/groups", scaling_group_create },
        { "GET", "/v1/groups/{}", scaling_group_show },
        { "PATCH", "/v1/groups/{}", scaling_group_update },
        { "DELETE", "/v1/groups/{}", scaling_group_delete },
        { "POST", "/v1/groups/{}/policies", policy_add },
        { "DELETE", "/v1/groups/{}/policies/{}", policy_delete },
        {},
};
