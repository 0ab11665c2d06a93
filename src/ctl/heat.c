/* heat.c — Heat templates (HOT) into tide's autoscaling groups; heat.h gives the subset and its
 * rules. Pure: the template is parsed into a libyaml document (nodes keep their marks, so every
 * error names its line), read in passes (parameters, resources, groups, policies, alarms) and
 * assembled only when every pass succeeded. The document's nodes and the values in them
 * (intrinsic functions, properties) are heat_values.c's (heat_priv.h). */
#include "ctl/heat.h"
#include "ctl/heat_priv.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <yaml.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"

static const char *const hot_versions[] = {
        "2013-05-23", "2014-10-16", "2015-04-30", "2015-10-15", "2016-04-08", "2016-10-14",
        "2017-02-24", "2017-09-01", "2018-03-02", "2018-08-31", "2021-04-16", "newton",
        "ocata",      "pike",       "queens",     "rocky",      "wallaby",    NULL,
};

/* ---- sections ---- */

static int read_version(struct ctx *c, yaml_node_t *root) {
        yaml_node_t *k = NULL, *v = ht_map_get(c, root, "heat_template_version", &k);
        if (!v)
                return ht_fail(c, ht_line_of(root),
                               "heat_template_version is required (e.g. heat_template_version: 2018-08-31)");
        if (!ht_is_scalar(v) || !ht_in_list(ht_text(v), hot_versions))
                return ht_fail(c, ht_line_of(v),
                               "heat_template_version '%.32s' is not a HOT version: 2013-05-23 ... "
                               "2018-08-31, 2021-04-16 or newton ... wallaby",
                               ht_is_scalar(v) ? ht_text(v) : "?");
        return 0;
}

static int read_params(struct ctx *c, yaml_node_t *root) {
        static const char *const keys[] = {
                "type", "default", "description", "label", "hidden", "constraints", "immutable", "tags", NULL,
        };
        static const char *const types[] = { "string", "number", "boolean", "comma_delimited_list", "json", NULL };
        yaml_node_t *sec_key = NULL, *sec = ht_map_get(c, root, "parameters", &sec_key);
        int r;
        if (sec && !ht_is_null(sec) && !ht_is_map(sec))
                return ht_fail(c, ht_line_of(sec_key),
                               "parameters must be a mapping of parameter names to their declarations");
        size_t n = ht_is_map(sec) ? ht_map_size(sec) : 0;
        if (n > PARAMS_MAX)
                return ht_fail(c, ht_line_of(sec_key), "a template has at most %d parameters", PARAMS_MAX);
        /* Every --parameter must be one the template declares (before a missing one is reported:
         * a misspelt name explains both). */
        const char *given_name;
        json_t *v;
        json_object_foreach(c->given, given_name, v)
                if (!ht_map_get(c, sec, given_name, NULL)) {
                        struct strbuf names = STRBUF_INIT(0);
                        for (size_t i = 0; i < n; i++) {
                                yaml_node_t *k = ht_node_at(c, sec->data.mapping.pairs.start[i].key);
                                strbuf_printf(&names, "%s%s", i ? ", " : "", ht_is_scalar(k) ? ht_text(k) : "?");
                        }
                        r = ht_fail(c, 0, "unknown parameter '%s': the template declares %s", given_name,
                                    n ? strbuf_str(&names) : "none");
                        strbuf_clear(&names);
                        return r;
                }
        c->params = xcalloc(n ? n : 1, sizeof *c->params);
        for (size_t i = 0; i < n; i++) {
                yaml_node_t *k = ht_node_at(c, sec->data.mapping.pairs.start[i].key);
                yaml_node_t *decl = ht_node_at(c, sec->data.mapping.pairs.start[i].value);
                if (!ht_is_scalar(k) || ht_is_null(k))
                        return ht_fail(c, ht_line_of(k), "a parameter's name must be a string");
                const char *name = ht_text(k);
                if (ht_param_find(c, name))
                        return ht_fail(c, ht_line_of(k), "parameter '%s' is declared twice", name);
                if (!ht_is_map(decl))
                        return ht_fail(c, ht_line_of(k), "parameter '%s' must be a mapping with its type", name);
                if ((r = ht_check_keys(c, decl, keys, "parameter key", NULL)) < 0)
                        return r;
                yaml_node_t *type = ht_map_get(c, decl, "type", NULL);
                if (!type)
                        return ht_fail(c, ht_line_of(k), "parameter '%s' has no type", name);
                if (!ht_is_scalar(type) || !ht_in_list(ht_text(type), types))
                        return ht_fail(c, ht_line_of(type),
                                       "parameter '%s': type must be string, number, boolean, "
                                       "comma_delimited_list or json",
                                       name);
                struct param *p = &c->params[c->n_params++];
                *p = (struct param) { .name = name, .type = ht_text(type) };
                bool scalar = streq(p->type, "string") || streq(p->type, "number") || streq(p->type, "boolean");
                json_t *given = json_object_get(c->given, name);
                yaml_node_t *def = ht_map_get(c, decl, "default", NULL);
                size_t line = ht_line_of(k);
                if (given) {
                        if (!json_is_string(given))
                                return ht_fail(c, 0, "--parameter %s: the value must be a string", name);
                        p->value = json_string_value(given);
                } else if (def && !ht_is_null(def)) {
                        if (scalar && !ht_is_scalar(def))
                                return ht_fail(c, ht_line_of(def),
                                               "parameter '%s': the default of a %s must be a single value", name,
                                               p->type);
                        p->value = ht_is_scalar(def) ? ht_text(def) : NULL;
                        line = ht_line_of(def);
                } else
                        return ht_fail(c, ht_line_of(k),
                                       "parameter '%s' has no default: give it with --parameter %s=VALUE", name, name);
                if (!scalar)
                        p->value = NULL;
                double d;
                if (streq(p->type, "number") && !ht_number_text(p->value, &d))
                        return ht_fail(c, given ? 0 : line, "parameter '%s' is a number: got '%.32s'", name, p->value);
                if (streq(p->type, "boolean") && ht_bool_text(p->value) < 0)
                        return ht_fail(c, given ? 0 : line, "parameter '%s' is a boolean: got '%.32s'", name, p->value);
        }
        return 0;
}

/* A type naming a template file or URL: a nested stack. */
static bool nested_type(const char *t) {
        return strchr(t, '/') || endswith(t, ".yaml") || endswith(t, ".yml") || endswith(t, ".template") ||
               endswith(t, ".json");
}

static int read_resources(struct ctx *c, yaml_node_t *root) {
        static const char *const keys[] = {
                "type", "properties", "metadata", "depends_on", "update_policy", "deletion_policy", "description", NULL,
        };
        yaml_node_t *key = NULL, *sec = ht_map_get(c, root, "resources", &key);
        int r;
        if (!sec)
                return ht_fail(c, ht_line_of(root), "resources is required");
        if (!ht_is_map(sec) || ht_map_size(sec) == 0)
                return ht_fail(c, ht_line_of(key), "resources must be a mapping of resource names to resources");
        size_t n = ht_map_size(sec), groups = 0;
        if (n > RESOURCES_MAX)
                return ht_fail(c, ht_line_of(key), "a template has at most %d resources", RESOURCES_MAX);
        c->res = xcalloc(n, sizeof *c->res);
        for (size_t i = 0; i < n; i++) {
                yaml_node_t *k = ht_node_at(c, sec->data.mapping.pairs.start[i].key);
                yaml_node_t *def = ht_node_at(c, sec->data.mapping.pairs.start[i].value);
                if (!ht_is_scalar(k) || ht_is_null(k))
                        return ht_fail(c, ht_line_of(k), "a resource's name must be a string");
                for (size_t j = 0; j < c->n_res; j++)
                        if (streq(c->res[j].name, ht_text(k)))
                                return ht_fail(c, ht_line_of(k), "resource '%s' is declared twice", ht_text(k));
                struct resource *res = &c->res[c->n_res++];
                *res = (struct resource) { .name = ht_text(k), .line = ht_line_of(k), .cooldown = -1 };
                c->cur = res->name;
                if (!ht_is_map(def))
                        return ht_fail(c, ht_line_of(k), "a resource must be a mapping with its type");
                if ((r = ht_check_keys(c, def, keys, "resource key", NULL)) < 0)
                        return r;
                yaml_node_t *type = ht_map_get(c, def, "type", NULL);
                if (!type)
                        return ht_fail(c, ht_line_of(k), "the resource has no type");
                if (!ht_is_scalar(type) || ht_is_null(type))
                        return ht_fail(c, ht_line_of(type), "the type must be a resource type's name");
                const char *t = ht_text(type);
                c->cur = NULL;
                if (streq(t, "OS::Heat::AutoScalingGroup"))
                        res->kind = K_GROUP;
                else if (streq(t, "OS::Heat::ScalingPolicy"))
                        res->kind = K_POLICY;
                else if (streq(t, "OS::Aodh::Alarm") || streq(t, "OS::Ceilometer::Alarm"))
                        res->kind = K_ALARM;
                else if (nested_type(t))
                        return ht_fail(c, res->line, "resource '%s' of type %s: nested templates are not supported",
                                       res->name, t);
                else
                        return ht_fail(c, res->line, "resource '%s' of type %s is not supported (" TYPES_SUPPORTED ")",
                                       res->name, t);
                c->cur = res->name;
                yaml_node_t *props = ht_map_get(c, def, "properties", NULL);
                if (props && !ht_is_null(props) && !ht_is_map(props))
                        return ht_fail(c, ht_line_of(props), "properties must be a mapping");
                res->props = ht_is_map(props) ? props : NULL;
                groups += res->kind == K_GROUP;
                c->cur = NULL;
        }
        if (!groups)
                return ht_fail(c, ht_line_of(key), "the template has no OS::Heat::AutoScalingGroup: nothing to create");
        return 0;
}

#define SERVER_HINT \
        ": ignoring it would change the members (tide reads image, flavor, user_data, user_data_format and " \
        "networks, and ignores key_name, metadata, name, tags, config_drive, diskConfig, " \
        "software_config_transport and the *_update_policy properties)"
#define NETWORK_HINT ": tide reads network (a name or id) and gives each member a port on it at a free address"
#define NETWORKS_MAX 8 /* per server: tide's ports per instance */

/* The server's networks: [{network: NAME}, ...] into body's "networks", each with the line
 * that names it (heat.h). */
static int read_networks(struct ctx *c, yaml_node_t *props, json_t *body) {
        static const char *const keys[] = { "network", NULL };
        yaml_node_t *key = NULL, *nets = ht_map_get(c, props, "networks", &key);
        int r;
        if (!nets || ht_is_null(nets))
                return 0;
        if (!ht_is_seq(nets))
                return ht_fail(c, ht_line_of(nets), "networks must be a list of {network: NAME}");
        if (ht_seq_size(nets) > NETWORKS_MAX)
                return ht_fail(c, ht_line_of(nets), "at most %d networks per server", NETWORKS_MAX);
        json_t *list = json_array();
        json_object_set_new(body, "networks", list);
        for (size_t i = 0; i < ht_seq_size(nets); i++) {
                yaml_node_t *item = ht_seq_item(c, nets, i);
                if (!ht_is_map(item))
                        return ht_fail(c, ht_line_of(item ? item : nets), "a network must be {network: NAME}");
                if ((r = ht_check_keys(c, item, keys, "network property", NETWORK_HINT)) < 0)
                        return r;
                _cleanup_val_ struct val v = { 0 };
                if ((r = ht_prop(c, item, "network", &v)) < 0)
                        return r;
                if (r == 0)
                        return ht_fail(c, ht_line_of(item), "a network needs 'network': its name or id");
                if (!ht_tide_name_valid(v.s))
                        return ht_fail(c, v.line,
                                       "network must be a name or id of 1-%d characters of A-Z a-z 0-9 . _ - "
                                       "starting with a letter or digit: got '%.64s'",
                                       TIDE_NAME_LEN_MAX, v.s);
                json_array_append_new(list, json_pack("{s:s, s:I}", "network", v.s, "line", (json_int_t) v.line));
        }
        return 0;
}

/* The group's OS::Nova::Server: image, flavor, user_data and networks into body. */
static int read_server(struct ctx *c, struct resource *g, json_t *body) {
        static const char *const keys[] = { "type", "properties", "metadata", NULL };
        static const char *const props_known[] = {
                "image",
                "flavor",
                "user_data",
                "user_data_format",
                "networks",
                /* ignored: they do not change what the members run */
                "key_name",
                "metadata",
                "name",
                "tags",
                "config_drive",
                "diskConfig",
                "software_config_transport",
                "flavor_update_policy",
                "image_update_policy",
                "user_data_update_policy",
                NULL,
        };
        yaml_node_t *key = NULL, *res = ht_map_get(c, g->props, "resource", &key);
        int r;
        if (!res || ht_is_null(res))
                return ht_fail(c, g->line, "'resource' is required: {type: OS::Nova::Server, properties: {...}}");
        if (!ht_is_map(res))
                return ht_fail(c, ht_line_of(res), "'resource' must be {type: OS::Nova::Server, properties: {...}}");
        if ((r = ht_check_keys(c, res, keys, "group resource key", NULL)) < 0)
                return r;
        yaml_node_t *type = ht_map_get(c, res, "type", NULL);
        if (!ht_is_scalar(type))
                return ht_fail(c, ht_line_of(type ? type : key), "the group's resource needs type: OS::Nova::Server");
        if (nested_type(ht_text(type)))
                return ht_fail(c, ht_line_of(type), "the group's resource is %s: nested templates are not supported",
                               ht_text(type));
        if (!streq(ht_text(type), "OS::Nova::Server"))
                return ht_fail(c, ht_line_of(type), "the group's resource must be an OS::Nova::Server, not %s",
                               ht_text(type));
        yaml_node_t *props = ht_map_get(c, res, "properties", NULL);
        if (!ht_is_map(props))
                return ht_fail(c, ht_line_of(props ? props : type), "the server needs properties: image and flavor");
        if ((r = ht_check_keys(c, props, props_known, "server property", SERVER_HINT)) < 0)
                return r;
        const char *refs[] = { "flavor", "image" };
        for (size_t i = 0; i < ELEMENTSOF(refs); i++) {
                _cleanup_val_ struct val v = { 0 };
                if ((r = ht_prop(c, props, refs[i], &v)) < 0)
                        return r;
                if (r == 0)
                        return ht_fail(c, ht_line_of(type), "server property '%s' is required", refs[i]);
                if (!ht_tide_name_valid(v.s))
                        return ht_fail(c, v.line,
                                       "'%s' must be a name or id of 1-%d characters of A-Z a-z 0-9 . _ - "
                                       "starting with a letter or digit: got '%.64s'",
                                       refs[i], TIDE_NAME_LEN_MAX, v.s);
                json_object_set_new(body, refs[i], json_string(v.s));
        }
        _cleanup_val_ struct val ud = { 0 }, fmt = { 0 };
        if ((r = ht_prop(c, props, "user_data_format", &fmt)) < 0)
                return r;
        if (fmt.s && !streq(fmt.s, "RAW"))
                return ht_fail(c, fmt.line,
                               "user_data_format %.32s is not supported: tide passes user_data as it is "
                               "(RAW)",
                               fmt.s);
        if ((r = ht_prop(c, props, "user_data", &ud)) < 0)
                return r;
        if (ud.s && strlen(ud.s) > USER_DATA_MAX)
                return ht_fail(c, ud.line, "user_data is %zu bytes; tide takes at most %d", strlen(ud.s),
                               USER_DATA_MAX);
        json_object_set_new(body, "user_data", json_string(ud.s ? ud.s : ""));
        return read_networks(c, props, body);
}

static int read_group(struct ctx *c, struct resource *g) {
        static const char *const keys[] = {
                "min_size", "max_size", "desired_capacity", "cooldown", "resource", "rolling_updates", NULL,
        };
        int64_t min = 0, max = 0, desired, cooldown = -1;
        int r;
        c->cur = g->name;
        _cleanup_free_ char *name = xasprintf("%s-%s", c->stack, g->name);
        if (strlen(name) > HEAT_GROUP_NAME_MAX)
                return ht_fail(c, g->line,
                               "the group's name '%s' has %zu characters; at most %d (members are named "
                               "<group>-<n>): shorten the stack's or the resource's name",
                               name, strlen(name), HEAT_GROUP_NAME_MAX);
        if (!ht_tide_name_valid(name))
                return ht_fail(c, g->line, "the group's name '%s' may only have A-Z a-z 0-9 . _ -", name);
        if (!g->props)
                return ht_fail(c, g->line, "properties min_size, max_size and resource are required");
        if ((r = ht_check_keys(c, g->props, keys, "property", NULL)) < 0 ||
            (r = ht_prop_int(c, g->props, "min_size", 0, MEMBERS_MAX, g->line, true, &min)) < 0 ||
            (r = ht_prop_int(c, g->props, "max_size", 1, MEMBERS_MAX, g->line, true, &max)) < 0)
                return r;
        if (min > max)
                return ht_fail(c, ht_line_of(ht_map_get(c, g->props, "min_size", NULL)),
                               "min_size %lld is above max_size %lld", (long long) min, (long long) max);
        desired = min;
        if ((r = ht_prop_int(c, g->props, "desired_capacity", min, max, 0, false, &desired)) < 0 ||
            (r = ht_prop_int(c, g->props, "cooldown", 0, SECONDS_MAX, 0, false, &cooldown)) < 0)
                return r;
        g->cooldown = cooldown;
        g->body = json_pack("{s:s}", "name", name);
        if ((r = read_server(c, g, g->body)) < 0)
                return r;
        json_object_set_new(g->body, "min", json_integer(min));
        json_object_set_new(g->body, "max", json_integer(max));
        json_object_set_new(g->body, "desired", json_integer(desired));
        json_object_set_new(g->body, "policies", json_array());
        c->cur = NULL;
        return 0;
}

/* The resource n references with {get_resource: NAME}; NULL when n is not that form. */
static struct resource *get_resource_ref(struct ctx *c, yaml_node_t *n, const char **ret_name) {
        if (!ht_is_map(n) || ht_map_size(n) != 1)
                return NULL;
        yaml_node_t *k = ht_node_at(c, n->data.mapping.pairs.start[0].key),
                    *v = ht_node_at(c, n->data.mapping.pairs.start[0].value);
        if (!ht_is_scalar(k) || !streq(ht_text(k), "get_resource") || !ht_is_scalar(v))
                return NULL;
        *ret_name = ht_text(v);
        for (size_t i = 0; i < c->n_res; i++)
                if (streq(c->res[i].name, ht_text(v)))
                        return &c->res[i];
        return NULL;
}

static int read_policy(struct ctx *c, struct resource *p) {
        static const char *const keys[] = {
                "auto_scaling_group_id", "adjustment_type",
                "scaling_adjustment",    "cooldown",
                "min_adjustment_step",   NULL,
        };
        int r;
        c->cur = p->name;
        if (!ht_tide_name_valid(p->name))
                return ht_fail(c, p->line,
                               "a policy's name must be 1-%d characters of A-Z a-z 0-9 . _ - starting with a "
                               "letter or digit",
                               TIDE_NAME_LEN_MAX);
        if (!p->props)
                return ht_fail(c, p->line,
                               "properties auto_scaling_group_id, adjustment_type and scaling_adjustment are "
                               "required");
        if ((r = ht_check_keys(c, p->props, keys, "property", NULL)) < 0)
                return r;
        yaml_node_t *gid = ht_map_get(c, p->props, "auto_scaling_group_id", NULL);
        const char *gname = NULL;
        struct resource *g = get_resource_ref(c, gid, &gname);
        if (!gid)
                return ht_fail(c, p->line, "'auto_scaling_group_id' is required: {get_resource: GROUP}");
        if (!gname)
                return ht_fail(c, ht_line_of(gid),
                               "auto_scaling_group_id must be {get_resource: GROUP}, a group of this "
                               "template");
        if (!g || g->kind != K_GROUP)
                return ht_fail(c, ht_line_of(gid),
                               "auto_scaling_group_id names '%s', which is not an "
                               "OS::Heat::AutoScalingGroup of this template",
                               gname);
        p->group = (size_t) (g - c->res);

        _cleanup_val_ struct val type = { 0 };
        if ((r = ht_prop(c, p->props, "adjustment_type", &type)) < 0)
                return r;
        if (r == 0)
                return ht_fail(c, p->line, "'adjustment_type' is required");
        bool change = streq(type.s, "change_in_capacity"), exact = streq(type.s, "exact_capacity");
        bool percent = streq(type.s, "percent_change_in_capacity");
        if (!change && !exact && !percent)
                return ht_fail(c, type.line,
                               "adjustment_type must be change_in_capacity, exact_capacity or "
                               "percent_change_in_capacity: got '%.40s'",
                               type.s);
        int64_t n = 0, step = -1, cooldown = g->cooldown >= 0 ? g->cooldown : COOLDOWN_DEFAULT_S;
        int64_t lim = exact ? MEMBERS_MAX : percent ? 10000 : MEMBERS_MAX;
        if ((r = ht_prop_int(c, p->props, "scaling_adjustment", exact ? 0 : -lim, lim, p->line, true, &n)) < 0)
                return r;
        if (n == 0 && !exact)
                return ht_fail(c, ht_line_of(ht_map_get(c, p->props, "scaling_adjustment", NULL)),
                               "scaling_adjustment 0 does nothing");
        if ((r = ht_prop_int(c, p->props, "min_adjustment_step", 0, MEMBERS_MAX, 0, false, &step)) < 0)
                return r;
        if (r > 0 && !percent)
                return ht_fail(c, ht_line_of(ht_map_get(c, p->props, "min_adjustment_step", NULL)),
                               "min_adjustment_step only goes with percent_change_in_capacity");
        if (step > 1)
                return ht_fail(c, ht_line_of(ht_map_get(c, p->props, "min_adjustment_step", NULL)),
                               "min_adjustment_step %lld is not supported: tide moves a percent policy by at least one "
                               "member, not more",
                               (long long) step);
        if ((r = ht_prop_int(c, p->props, "cooldown", 0, SECONDS_MAX, 0, false, &cooldown)) < 0)
                return r;
        p->cooldown_s = cooldown;
        p->adjust = exact ? xasprintf("=%lld", (long long) n) : xasprintf("%+lld%s", (long long) n, percent ? "%" : "");
        c->cur = NULL;
        return 0;
}

/* The policy an alarm_actions entry names: {get_attr: [POLICY, alarm_url|signal_url]} or
 * {get_resource: POLICY}. */
static int action_policy(struct ctx *c, yaml_node_t *n, struct resource **ret) {
        static const char *const form = "an alarm_actions entry must be {get_attr: [POLICY, alarm_url]} naming an "
                                        "OS::Heat::ScalingPolicy of this template";
        const char *name = NULL;
        struct resource *p = get_resource_ref(c, n, &name);
        if (!name && ht_is_map(n) && ht_map_size(n) == 1) {
                yaml_node_t *k = ht_node_at(c, n->data.mapping.pairs.start[0].key);
                yaml_node_t *args = ht_node_at(c, n->data.mapping.pairs.start[0].value);
                if (ht_is_scalar(k) && streq(ht_text(k), "get_attr")) {
                        if (!ht_is_seq(args) || ht_seq_size(args) != 2 || !ht_is_scalar(ht_seq_item(c, args, 0)) ||
                            !ht_is_scalar(ht_seq_item(c, args, 1)))
                                return ht_fail(c, ht_line_of(n), "%s", form);
                        const char *attr = ht_text(ht_seq_item(c, args, 1));
                        if (!streq(attr, "alarm_url") && !streq(attr, "signal_url"))
                                return ht_fail(c, ht_line_of(n),
                                               "alarm_actions: get_attr of a policy's '%.32s' is not supported "
                                               "(alarm_url, signal_url)",
                                               attr);
                        name = ht_text(ht_seq_item(c, args, 0));
                        for (size_t i = 0; i < c->n_res; i++)
                                if (streq(c->res[i].name, name))
                                        p = &c->res[i];
                }
        }
        if (!name)
                return ht_fail(c, ht_line_of(n), "%s", form);
        if (!p || p->kind != K_POLICY)
                return ht_fail(c, ht_line_of(n),
                               "alarm_actions names '%s', which is not an OS::Heat::ScalingPolicy of this "
                               "template",
                               name);
        *ret = p;
        return 0;
}

/* ok_actions and the like: absent, null or an empty list. */
static int absent_or_empty(struct ctx *c, yaml_node_t *m, const char *key, const char *why) {
        yaml_node_t *n = ht_map_get(c, m, key, NULL);
        if (!n || ht_is_null(n) || (ht_is_seq(n) && ht_seq_size(n) == 0))
                return 0;
        return ht_fail(c, ht_line_of(n), "%s is not supported: %s", key, why);
}

static int read_alarm(struct ctx *c, struct resource *a) {
        static const char *const keys[] = {
                "meter_name",
                "statistic",
                "period",
                "evaluation_periods",
                "threshold",
                "comparison_operator",
                "alarm_actions",
                "ok_actions",
                "insufficient_data_actions",
                "time_constraints",
                "enabled",
                /* ignored */
                "repeat_actions",
                "matching_metadata",
                "query",
                "description",
                "severity",
                NULL,
        };
        int r;
        c->cur = a->name;
        if (!a->props)
                return ht_fail(c, a->line,
                               "properties meter_name, threshold, comparison_operator and alarm_actions are "
                               "required");
        if ((r = ht_check_keys(c, a->props, keys, "property", NULL)) < 0 ||
            (r = absent_or_empty(c, a->props, "ok_actions", "a tide policy acts only when its condition holds")) < 0 ||
            (r = absent_or_empty(c, a->props, "insufficient_data_actions",
                                 "a tide policy acts only when its condition holds")) < 0 ||
            (r = absent_or_empty(c, a->props, "time_constraints", "tide's policies hold at all times")) < 0)
                return r;

        yaml_node_t *actions = ht_map_get(c, a->props, "alarm_actions", NULL);
        struct resource *p = NULL;
        if (!actions || ht_is_null(actions) || (ht_is_seq(actions) && ht_seq_size(actions) == 0))
                return ht_fail(c, actions ? ht_line_of(actions) : a->line,
                               "the alarm has no alarm_actions: it must name the "
                               "OS::Heat::ScalingPolicy it triggers, e.g. [{get_attr: [POLICY, alarm_url]}]");
        if (!ht_is_seq(actions))
                return ht_fail(c, ht_line_of(actions), "alarm_actions must be a list");
        if (ht_seq_size(actions) > 1)
                return ht_fail(c, ht_line_of(actions),
                               "alarm_actions has %zu entries; tide's policy carries its condition, "
                               "so an alarm triggers exactly one OS::Heat::ScalingPolicy",
                               ht_seq_size(actions));
        if ((r = action_policy(c, ht_seq_item(c, actions, 0), &p)) < 0)
                return r;
        if (p->alarm)
                return ht_fail(c, ht_line_of(actions),
                               "policy '%s' is already triggered by alarm '%s'; a tide policy has one "
                               "condition: give each its own ScalingPolicy",
                               p->name, p->alarm->name);

        _cleanup_val_ struct val meter = { 0 }, stat = { 0 }, th = { 0 }, op = { 0 }, enabled = { 0 };
        if ((r = ht_prop(c, a->props, "enabled", &enabled)) < 0)
                return r;
        if (r > 0 && ht_bool_text(enabled.s) != 1)
                return ht_fail(c, enabled.line, "enabled: %.16s is not supported: a tide policy is always on",
                               enabled.s);
        if ((r = ht_prop(c, a->props, "meter_name", &meter)) < 0)
                return r;
        if (r == 0)
                return ht_fail(c, a->line, "'meter_name' is required");
        const char *metric = NULL;
        if (streq(meter.s, "cpu_util"))
                metric = "cpu";
        else if (streq(meter.s, "memory_util") || streq(meter.s, "memory.util"))
                metric = "memory";
        else if (streq(meter.s, "memory") || streq(meter.s, "memory.usage"))
                /* In MB: the memory the guest uses, in MiB (with the balloon, what a member is
                 * given follows what it uses). */
                metric = "memory_mib";
        else
                return ht_fail(c, meter.line,
                               "meter %.64s is not supported (cpu_util, memory_util, memory, memory.usage)", meter.s);
        if ((r = ht_prop(c, a->props, "statistic", &stat)) < 0)
                return r;
        if (stat.s && !streq(stat.s, "avg") && !streq(stat.s, "max") && !streq(stat.s, "min"))
                return ht_fail(c, stat.line, "statistic %.32s is not supported (avg, max, min)", stat.s);
        int64_t period = PERIOD_DEFAULT_S, periods = EVALUATION_PERIODS_DEFAULT;
        if ((r = ht_prop_int(c, a->props, "period", 1, SECONDS_MAX, 0, false, &period)) < 0 ||
            (r = ht_prop_int(c, a->props, "evaluation_periods", 1, SECONDS_MAX, 0, false, &periods)) < 0)
                return r;
        if (period * periods > SECONDS_MAX)
                return ht_fail(c, ht_line_of(ht_map_get(c, a->props, "period", NULL)),
                               "period x evaluation_periods is %lld s; "
                               "at most %d",
                               (long long) (period * periods), SECONDS_MAX);
        if ((r = ht_prop(c, a->props, "threshold", &th)) < 0)
                return r;
        double threshold;
        int64_t ithreshold;
        if (r == 0)
                return ht_fail(c, a->line, "'threshold' is required");
        if (!ht_number_text(th.s, &threshold))
                return ht_fail(c, th.line, "threshold must be a number: got '%.32s'", th.s);
        if ((r = ht_prop(c, a->props, "comparison_operator", &op)) < 0)
                return r;
        if (r == 0)
                return ht_fail(c, a->line,
                               "'comparison_operator' is required: gt, ge, lt or le (Aodh's default eq is not "
                               "supported)");
        bool above = streq(op.s, "gt") || streq(op.s, "ge"), below = streq(op.s, "lt") || streq(op.s, "le");
        if (!above && !below)
                return ht_fail(c, op.line, "comparison_operator %.16s is not supported (gt, ge, lt, le)", op.s);

        json_t *thj = ht_int_text(th.s) && parse_int64(th.s, -(INT64_C(1) << 53), INT64_C(1) << 53, &ithreshold) == 0
                              ? json_integer(ithreshold)
                              : json_real(threshold);
        p->alarm = a;
        p->cond = json_pack("{s:s, s:s, s:o, s:I}", "metric", metric, "stat", stat.s ? stat.s : "avg",
                            above ? "above" : "below", thj, "for_s", (json_int_t) (period * periods));
        c->cur = NULL;
        return 0;
}

static int translate(struct ctx *c, json_t **ret) {
        static const char *const sections[] = {
                "heat_template_version", "description", "parameter_groups", "parameters", "resources", "outputs", NULL,
        };
        yaml_node_t *root = yaml_document_get_root_node(c->doc);
        int r;
        if (!root || ht_is_null(root))
                return ht_fail(c, 0, "the template is empty");
        if (!ht_is_map(root))
                return ht_fail(c, ht_line_of(root),
                               "a template is a mapping: heat_template_version, parameters, resources, ...");
        if (ht_map_get(c, root, "AWSTemplateFormatVersion", NULL) ||
            ht_map_get(c, root, "HeatTemplateFormatVersion", NULL))
                return ht_fail(c, ht_line_of(root),
                               "CloudFormation templates are not supported: write HOT "
                               "(heat_template_version)");
        if ((r = ht_check_keys(c, root, sections, "section", NULL)) < 0 || (r = read_version(c, root)) < 0 ||
            (r = read_params(c, root)) < 0 || (r = read_resources(c, root)) < 0)
                return r;
        for (enum kind k = K_GROUP; k <= K_ALARM; k++)
                for (size_t i = 0; i < c->n_res; i++) {
                        struct resource *x = &c->res[i];
                        if (x->kind != k)
                                continue;
                        r = k == K_GROUP ? read_group(c, x) : k == K_POLICY ? read_policy(c, x) : read_alarm(c, x);
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < c->n_res; i++)
                if (c->res[i].kind == K_POLICY && !c->res[i].alarm) {
                        c->cur = c->res[i].name;
                        return ht_fail(c, c->res[i].line,
                                       "policy '%s' has no alarm: a tide policy carries its condition; "
                                       "add an OS::Aodh::Alarm with alarm_actions [{get_attr: [%s, alarm_url]}]",
                                       c->res[i].name, c->res[i].name);
                }

        json_t *groups = json_array();
        for (size_t i = 0; i < c->n_res; i++) {
                struct resource *g = &c->res[i];
                if (g->kind != K_GROUP)
                        continue;
                json_t *list = json_object_get(g->body, "policies");
                for (size_t j = 0; j < c->n_res; j++) {
                        struct resource *p = &c->res[j];
                        if (p->kind != K_POLICY || p->group != i)
                                continue;
                        if (json_array_size(list) == POLICIES_MAX) {
                                c->cur = g->name;
                                json_decref(groups);
                                return ht_fail(c, p->line, "a group has at most %d policies", POLICIES_MAX);
                        }
                        json_t *pj = json_pack("{s:s}", "name", p->name);
                        json_object_update(pj, p->cond);
                        json_object_set_new(pj, "adjust", json_string(p->adjust));
                        json_object_set_new(pj, "cooldown_s", json_integer(p->cooldown_s));
                        json_object_set_new(pj, "victim", json_string(VICTIM));
                        json_array_append_new(list, pj);
                }
                json_array_append(groups, g->body);
        }
        /* The lines that name networks, apart from the groups (which the API posts as they are). */
        json_t *net_lines = json_array();
        size_t gi, k;
        json_t *gb, *n;
        json_array_foreach(groups, gi, gb)
                json_array_foreach(json_object_get(gb, "networks"), k, n) {
                        json_array_append_new(net_lines,
                                              json_pack("{s:O, s:O, s:O}", "group", json_object_get(gb, "name"),
                                                        "network", json_object_get(n, "network"), "line",
                                                        json_object_get(n, "line")));
                        json_object_del(n, "line");
                }
        *ret = json_pack("{s:o}", "groups", groups);
        if (json_array_size(net_lines) > 0)
                json_object_set_new(*ret, "networks", net_lines);
        else
                json_decref(net_lines);
        return 0;
}

/* libyaml's error with its line; a reader error (bad UTF-8) has only an offset. */
static int syntax_error(struct ctx *c, const yaml_parser_t *p, const char *text_, size_t len) {
        if (p->error == YAML_MEMORY_ERROR)
                abort();
        size_t line = p->problem_mark.line + 1;
        if (p->error == YAML_READER_ERROR) {
                line = 1;
                for (size_t i = 0; i < p->problem_offset && i < len; i++)
                        line += text_[i] == '\n';
        }
        if (p->context)
                return ht_fail(c, line, "YAML syntax: %s, %s from line %zu", p->problem ? p->problem : "error",
                               p->context, p->context_mark.line + 1);
        return ht_fail(c, line, "YAML syntax: %s", p->problem ? p->problem : "error");
}

/* Scalars with a NUL inside (a "\0" escape) would be cut short by everything after the parser. */
static int check_nul(struct ctx *c) {
        for (yaml_node_t *n = c->doc->nodes.start; n < c->doc->nodes.top; n++)
                if (n->type == YAML_SCALAR_NODE && strlen(ht_text(n)) != n->data.scalar.length)
                        return ht_fail(c, ht_line_of(n), "a NUL character in a string");
        return 0;
}

static void ctx_clear(struct ctx *c) {
        for (size_t i = 0; i < c->n_res; i++) {
                json_decref(c->res[i].body);
                json_decref(c->res[i].cond);
                free(c->res[i].adjust);
        }
        free(c->res);
        free(c->params);
}

int heat_translate(const char *yaml_text, size_t len, json_t *parameters, const char *stack_name, json_t **ret,
                   char **ret_err) {
        struct ctx c = { .stack = stack_name, .given = parameters };
        yaml_parser_t parser;
        yaml_document_t doc, extra;
        json_t *out = NULL;
        int r;

        if (!stack_name || !ht_tide_name_valid(stack_name))
                r = ht_fail(&c, 0,
                            "the stack's name must be 1-%d characters of A-Z a-z 0-9 . _ - starting with a letter "
                            "or digit",
                            TIDE_NAME_LEN_MAX);
        else if (parameters && !json_is_object(parameters))
                r = ht_fail(&c, 0, "the parameters must be an object of strings");
        else if (!yaml_text || len > HEAT_TEMPLATE_MAX)
                r = ht_fail(&c, 0, "the template must be at most %d bytes", HEAT_TEMPLATE_MAX);
        else {
                if (!yaml_parser_initialize(&parser))
                        abort();
                yaml_parser_set_input_string(&parser, (const unsigned char *) yaml_text, len);
                if (!yaml_parser_load(&parser, &doc))
                        r = syntax_error(&c, &parser, yaml_text, len);
                else {
                        c.doc = &doc;
                        if (!yaml_parser_load(&parser, &extra))
                                r = syntax_error(&c, &parser, yaml_text, len);
                        else {
                                yaml_node_t *second = yaml_document_get_root_node(&extra);
                                r = second ? ht_fail(&c, ht_line_of(second),
                                                     "a template is one YAML document; a second one "
                                                     "starts here")
                                           : 0;
                                yaml_document_delete(&extra);
                        }
                        if (r >= 0)
                                r = check_nul(&c);
                        if (r >= 0)
                                r = translate(&c, &out);
                        yaml_document_delete(&doc);
                }
                yaml_parser_delete(&parser);
        }
        ctx_clear(&c);
        if (r < 0) {
                *ret_err = c.err;
                return r;
        }
        *ret = out;
        return 0;
}
