/* api_stacks.c — /v1/stacks: scaling groups made from a Heat template (HOT, the subset of
 * src/ctl/heat.h). A stack is its template, its parameters and the groups made from them; it
 * is created whole or not at all, and deleted with its groups. */
#include "api.h"

#include "common/errors.h"
#include "common/util.h"
#include "ctl/autoscaler.h"
#include "ctl/heat.h"
#include "model/model.h"

/* The stack with its groups' sizes: [{"name", "min", "max", "desired", "member_count"}]. */
static json_t *stack_view(struct api_request *req, json_t *st) {
        json_object_set_new(st, "template_size", json_integer((json_int_t) strlen(tide_json_str(st, "template", ""))));
        json_object_del(st, "template");
        json_t *groups = json_array(), *all = NULL, *inst;
        size_t i, k;
        json_t *name;
        if (model_obj_list(api_store(req), MODEL_INSTANCE, &all) < 0)
                all = json_array();
        json_array_foreach(json_object_get(st, "groups"), i, name) {
                json_t *g;
                if (model_obj_get(api_store(req), MODEL_SCALING_GROUP, json_string_value(name) ?: "", &g, NULL) < 0)
                        continue;
                size_t n = 0;
                json_array_foreach(all, k, inst)
                        n += streq(tide_json_str(inst, "asg_id", ""), tide_json_str(g, "id", "")) &&
                             !tide_json_int(inst, "asg_leaving_ms", 0) &&
                             model_instance_get_desired(inst) != MODEL_DESIRED_DELETED;
                json_array_append_new(groups,
                                      json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "name", tide_json_str(g, "name", ""),
                                                "min", (json_int_t) tide_json_int(g, "min", 0), "max",
                                                (json_int_t) tide_json_int(g, "max", 0), "desired",
                                                (json_int_t) tide_json_int(g, "desired", 0), "member_count",
                                                (json_int_t) n, "policy_count",
                                                (json_int_t) json_array_size(json_object_get(g, "policies"))));
                json_decref(g);
        }
        json_decref(all);
        json_object_set_new(st, "groups", groups);
        return st;
}

static int stack_list(struct api_request *req, struct api_reply *rep) {
        json_t *a;
        int r = model_obj_list(api_store(req), MODEL_STACK, &a);
        if (r < 0)
                return api_error(rep, r, "listing stacks: %s", tide_strerror(r));
        size_t i;
        json_t *st;
        json_array_foreach(a, i, st)
                stack_view(req, st);
        return api_json(rep, 200, json_pack("{s:o}", "stacks", a));
}

static int stack_show(struct api_request *req, struct api_reply *rep) {
        json_t *st;
        int r = model_obj_get(api_store(req), MODEL_STACK, req->params[0], &st, NULL);
        if (r < 0)
                return api_error(rep, r, "stack '%.64s': %s", req->params[0], tide_strerror(r));
        return api_json(rep, 200, stack_view(req, st));
}

/* Deletes the groups named in names (a JSON array), and their members. */
static void delete_groups(struct api_request *req, json_t *names) {
        size_t i;
        json_t *name;
        json_array_foreach(names, i, name) {
                json_t *g;
                if (model_obj_get(api_store(req), MODEL_SCALING_GROUP, json_string_value(name) ?: "", &g, NULL) >= 0) {
                        (void) autoscaler_scaling_group_delete(api_store(req), g, 0);
                        json_decref(g);
                }
        }
}

static int stack_create(struct api_request *req, struct api_reply *rep) {
        static const char *const allowed[] = { "name", "template", "parameters" };
        struct store *s = api_store(req);
        json_t *body = req->body, *translated = NULL, *st = NULL, *made = json_array(), *gb, *v, *extra = NULL;
        json_t *tmpl = json_object_get(body, "template"), *params = json_object_get(body, "parameters");
        _cleanup_free_ char *err = NULL, *id = NULL, *created = NULL;
        const char *key, *name = tide_json_str(body, "name", NULL);
        size_t i;
        int r = TIDE_E_INVALID;
        if (!json_is_object(body)) {
                api_error(rep, r, "the body must be a JSON object");
                goto out;
        }
        json_object_foreach(body, key, v) {
                bool ok = false;
                for (i = 0; i < ELEMENTSOF(allowed); i++)
                        ok = ok || streq(key, allowed[i]);
                if (!ok) {
                        api_error(rep, r, "unknown field '%.64s'", key);
                        goto out;
                }
        }
        if (!name || !model_name_valid(name)) {
                api_error(rep, r,
                          "stack name must be 1-%d characters of A-Z a-z 0-9 . _ - starting with a letter or digit",
                          MODEL_NAME_MAX);
                goto out;
        }
        if (!json_is_string(tmpl) || json_string_length(tmpl) > HEAT_TEMPLATE_MAX) {
                api_error(rep, r, "'template' must be the template's text, at most %d bytes", HEAT_TEMPLATE_MAX);
                goto out;
        }
        if (params && !json_is_object(params)) {
                api_error(rep, r, "'parameters' must be an object of strings");
                goto out;
        }
        json_object_foreach(params, key, v)
                if (!json_is_string(v)) {
                        api_error(rep, r, "parameter '%.64s' must be a string", key);
                        goto out;
                }
        if ((r = heat_translate(json_string_value(tmpl), json_string_length(tmpl), params, name, &translated, &err)) <
            0) {
                api_error(rep, r, "template: %s", err);
                goto out;
        }
        /* The networks the servers name must exist: an unknown one is the template's error, at
         * its line (heat.h), before anything is created. */
        json_array_foreach(json_object_get(translated, "networks"), i, gb) {
                _cleanup_json_ json_t *net = NULL;
                const char *nname = json_string_value(json_object_get(gb, "network"));
                if ((r = model_obj_get(s, MODEL_NETWORK, nname ? nname : "", &net, NULL)) < 0) {
                        api_error(rep, r == TIDE_E_NOT_FOUND ? TIDE_E_INVALID : r,
                                  "template: line %lld: network '%s' does not exist%s%s",
                                  (long long) json_integer_value(json_object_get(gb, "line")), nname ? nname : "",
                                  r == TIDE_E_NOT_FOUND ? "" : ": ", r == TIDE_E_NOT_FOUND ? "" : tide_strerror(r));
                        if (r == TIDE_E_NOT_FOUND)
                                r = TIDE_E_INVALID;
                        goto out;
                }
        }
        /* The stack first (its name is taken or not), then its groups; any failure undoes all. */
        id = id_new_uuid();
        created = time_format_ms(now_ms());
        st = json_pack("{s:s, s:s, s:O, s:O, s:s, s:[]}", "name", name, "id", id, "template", tmpl, "parameters",
                       params ?: json_object(), "created", created, "groups");
        if (!params)
                json_object_set_new(st, "parameters", json_object());
        json_array_foreach(json_object_get(translated, "groups"), i, gb)
                json_array_append_new(json_object_get(st, "groups"), json_string(tide_json_str(gb, "name", "")));
        if ((r = model_obj_create(s, MODEL_STACK, st, NULL)) < 0) {
                api_error(rep, r, r == TIDE_E_EXISTS ? "stack '%s' already exists" : "creating stack '%s': %s", name,
                          tide_strerror(r));
                goto out;
        }
        extra = json_pack("{s:s, s:s}", "stack", name, "stack_id", id);
        json_array_foreach(json_object_get(translated, "groups"), i, gb) {
                json_t *g;
                _cleanup_free_ char *gerr = NULL;
                r = autoscaler_scaling_group_create(s, gb, extra, &g, &gerr);
                if (r < 0) {
                        api_error(rep, r, "scaling group '%s': %s", tide_json_str(gb, "name", ""), gerr);
                        break;
                }
                json_array_append_new(made, json_string(tide_json_str(g, "name", "")));
                json_decref(g);
        }
        if (r < 0) {
                delete_groups(req, made);
                (void) model_obj_delete(s, MODEL_STACK, st, 0);
                goto out;
        }
        api_json(rep, 201, stack_view(req, TAKE_PTR(st)));
        r = 0;
out:
        json_decref(extra);
        json_decref(translated);
        json_decref(st);
        json_decref(made);
        return r;
}

static int stack_delete(struct api_request *req, struct api_reply *rep) {
        json_t *st;
        int64_t rev;
        int r = model_obj_get(api_store(req), MODEL_STACK, req->params[0], &st, &rev);
        if (r < 0)
                return api_error(rep, r, "stack '%.64s': %s", req->params[0], tide_strerror(r));
        if ((r = model_obj_delete(api_store(req), MODEL_STACK, st, rev)) < 0)
                api_error(rep, r, "deleting stack '%s': %s", tide_json_str(st, "name", ""), tide_strerror(r));
        else {
                delete_groups(req, json_object_get(st, "groups"));
                rep->status = 204;
        }
        json_decref(st);
        return r;
}

const struct api_route api_stack_routes[] = {
        { "GET", "/v1/stacks", stack_list },
        { "POST", "/v1/stacks", stack_create },
        { "GET", "/v1/stacks/{}", stack_show },
        { "DELETE", "/v1/stacks/{}", stack_delete },
        {},
};
