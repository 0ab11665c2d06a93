/* api_flavors.c — /v1/flavors. */
#include "api.h"

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"

static int flavor_list(struct api_request *req, struct api_reply *rep) {
        json_t *a;
        int r = model_obj_list(api_store(req), MODEL_FLAVOR, &a);
        if (r < 0)
                return api_error(rep, r, "listing flavors: %s", tide_strerror(r));
        return api_json(rep, 200, json_pack("{s:o}", "flavors", a));
}

static int flavor_create(struct api_request *req, struct api_reply *rep) {
        json_t *f;
        _cleanup_free_ char *err = NULL;
        int r = model_flavor_from_request(req->body, &f, &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);
        _cleanup_free_ char *id = id_new_uuid();
        _cleanup_free_ char *created = time_format_ms(now_ms());
        json_object_set_new(f, "id", json_string(id));
        json_object_set_new(f, "created", json_string(created));
        r = model_obj_create(api_store(req), MODEL_FLAVOR, f, NULL);
        if (r < 0) {
                api_error(rep, r, r == TIDE_E_EXISTS ? "flavor '%s' already exists" : "creating flavor '%s': %s",
                          tide_json_str(f, "name", ""), tide_strerror(r));
                json_decref(f);
                return r;
        }
        return api_json(rep, 201, f);
}

static int flavor_show(struct api_request *req, struct api_reply *rep) {
        json_t *f;
        int r = model_obj_get(api_store(req), MODEL_FLAVOR, req->params[0], &f, NULL);
        if (r < 0)
                return api_error(rep, r, "flavor '%.64s': %s", req->params[0], tide_strerror(r));
        return api_json(rep, 200, f);
}

int api_count_users(struct api_request *req, const char *key, const char *id, size_t *ret, char **ret_example) {
        json_t *all;
        int r = model_obj_list(api_store(req), MODEL_INSTANCE, &all);
        if (r < 0)
                return r;
        size_t i, n = 0;
        json_t *inst;
        const char *example = NULL;
        json_array_foreach(all, i, inst) {
                if (!streq(tide_json_str(inst, key, ""), id))
                        continue;
                if (n++ == 0)
                        example = tide_json_str(inst, "name", "");
        }
        if (ret_example)
                *ret_example = example ? xstrdup(example) : NULL;
        json_decref(all);
        *ret = n;
        return 0;
}

static int flavor_delete(struct api_request *req, struct api_reply *rep) {
        json_t *f;
        int64_t rev;
        int r = model_obj_get(api_store(req), MODEL_FLAVOR, req->params[0], &f, &rev);
        if (r < 0)
                return api_error(rep, r, "flavor '%.64s': %s", req->params[0], tide_strerror(r));
        size_t users;
        r = api_count_users(req, "flavor_id", tide_json_str(f, "id", ""), &users, NULL);
        if (r >= 0 && users > 0)
                r = api_error(rep, TIDE_E_IN_USE, "flavor '%s' is used by %zu instance(s)",
                              tide_json_str(f, "name", ""), users);
        else if (r >= 0 && (r = model_obj_delete(api_store(req), MODEL_FLAVOR, f, rev)) < 0)
                api_error(rep, r, "deleting flavor '%s': %s", tide_json_str(f, "name", ""), tide_strerror(r));
        json_decref(f);
        if (r >= 0)
                rep->status = 204;
        return r;
}

const struct api_route api_flavor_routes[] = {
        { "GET", "/v1/flavors", flavor_list },
        { "POST", "/v1/flavors", flavor_create },
        { "GET", "/v1/flavors/{}", flavor_show },
        { "DELETE", "/v1/flavors/{}", flavor_delete },
        {},
};
