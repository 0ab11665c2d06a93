/* api_server_groups.c — /v1/server-groups: affinity and anti-affinity groups, hard and soft. */
#include "api.h"

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"

/* Adds "members": {instance name: host} from the instances of the group. */
static void add_members(struct api_request *req, json_t *g) {
        json_t *all, *m = json_object();
        if (model_obj_list(api_store(req), MODEL_INSTANCE, &all) >= 0) {
                size_t i;
                json_t *inst;
                json_array_foreach(all, i, inst)
                        if (streq(tide_json_str(inst, "group_id", ""), tide_json_str(g, "id", "")))
                                json_object_set(m, tide_json_str(inst, "name", ""), json_object_get(inst, "host"));
                json_decref(all);
        }
        json_object_set_new(g, "members", m);
}

static int server_group_list(struct api_request *req, struct api_reply *rep) {
        json_t *a;
        int r = model_obj_list(api_store(req), MODEL_SERVER_GROUP, &a);
        if (r < 0)
                return api_error(rep, r, "listing server groups: %s", tide_strerror(r));
        size_t i;
        json_t *g;
        json_array_foreach(a, i, g)
                add_members(req, g);
        return api_json(rep, 200, json_pack("{s:o}", "server_groups", a));
}

static int server_group_create(struct api_request *req, struct api_reply *rep) {
        json_t *g;
        _cleanup_free_ char *err = NULL;
        int r = model_server_group_from_request(req->body, &g, &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);
        _cleanup_free_ char *id = id_new_uuid(), *created = time_format_ms(now_ms());
        json_object_set_new(g, "id", json_string(id));
        json_object_set_new(g, "created", json_string(created));
        r = model_obj_create(api_store(req), MODEL_SERVER_GROUP, g, NULL);
        if (r < 0) {
                api_error(rep, r,
                          r == TIDE_E_EXISTS ? "server group '%s' already exists" : "creating server group '%s': %s",
                          tide_json_str(g, "name", ""), tide_strerror(r));
                json_decref(g);
                return r;
        }
        json_object_set_new(g, "members", json_object());
        return api_json(rep, 201, g);
}

static int server_group_show(struct api_request *req, struct api_reply *rep) {
        json_t *g;
        int r = model_obj_get(api_store(req), MODEL_SERVER_GROUP, req->params[0], &g, NULL);
        if (r < 0)
                return api_error(rep, r, "server group '%.64s': %s", req->params[0], tide_strerror(r));
        add_members(req, g);
        return api_json(rep, 200, g);
}

static int server_group_delete(struct api_request *req, struct api_reply *rep) {
        json_t *g;
        int64_t rev;
        int r = model_obj_get(api_store(req), MODEL_SERVER_GROUP, req->params[0], &g, &rev);
        if (r < 0)
                return api_error(rep, r, "server group '%.64s': %s", req->params[0], tide_strerror(r));
        size_t users;
        r = api_count_users(req, "group_id", tide_json_str(g, "id", ""), &users, NULL);
        if (r >= 0 && users > 0)
                r = api_error(rep, TIDE_E_IN_USE, "server group '%s' has %zu member(s)", tide_json_str(g, "name", ""),
                              users);
        else if (r >= 0 && (r = model_obj_delete(api_store(req), MODEL_SERVER_GROUP, g, rev)) < 0)
                api_error(rep, r, "deleting server group '%s': %s", tide_json_str(g, "name", ""), tide_strerror(r));
        json_decref(g);
        if (r >= 0)
                rep->status = 204;
        return r;
}

const struct api_route api_server_group_routes[] = {
        { "GET", "/v1/server-groups", server_group_list },
        { "POST", "/v1/server-groups", server_group_create },
        { "GET", "/v1/server-groups/{}", server_group_show },
        { "DELETE", "/v1/server-groups/{}", server_group_delete },
        {},
};
