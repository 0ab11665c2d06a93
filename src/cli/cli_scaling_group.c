/* cli_scaling_group.c — tide scaling-group create|list|show|set|delete and scaling-group
 * policy add|delete: scaling groups, i.e. autoscaling groups (/v1/scaling-groups). */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "common/errors.h"
#include "common/tide_json.h"

static const struct cli_column scaling_group_columns[] = {
        { "NAME", "name", NULL },
        { "FLAVOR", "flavor", NULL },
        { "IMAGE", "image", NULL },
        { "MIN", "min", NULL },
        { "MAX", "max", NULL },
        { "DESIRED", "desired", NULL },
        { "MEMBERS", "member_count", NULL },
        { "POLICIES", "policy_count", NULL },
};

static char *scaling_group_path(const char *group, const char *policy) {
        _cleanup_free_ char *g = cli_escape(group);
        if (!policy)
                return xasprintf("/v1/scaling-groups/%s", g);
        _cleanup_free_ char *p = cli_escape(policy);
        return xasprintf("/v1/scaling-groups/%s/policies/%s", g, p);
}

/* Sets key to a string; false when it is not UTF-8. */
static bool set_string(json_t *o, const char *key, const char *value) {
        json_t *s = json_string(value);
        if (!s)
                return false;
        json_object_set_new(o, key, s);
        return true;
}

json_t *cli_scaling_group_body(const struct cli_args *a, bool sizes_only) {
        json_t *body = json_object();
        if (!sizes_only && (!set_string(body, "name", a->name) || !set_string(body, "flavor", a->flavor) ||
                            !set_string(body, "image", a->image))) {
                json_decref(body);
                return NULL;
        }
        if (a->given & CLI_F(CLI_OPT_MIN_SIZE))
                json_object_set_new(body, "min", json_integer(a->min_size));
        if (a->given & CLI_F(CLI_OPT_MAX_SIZE))
                json_object_set_new(body, "max", json_integer(a->max_size));
        if (a->given & CLI_F(CLI_OPT_DESIRED))
                json_object_set_new(body, "desired", json_integer(a->desired));
        if (sizes_only)
                return body;
        /* "default" sends nothing: a new group gets the default anyway. */
        if ((a->given & CLI_F(CLI_OPT_PRIORITY)) && !(a->reset & CLI_F(CLI_OPT_PRIORITY)))
                json_object_set_new(body, "priority", json_integer(a->priority));
        if ((a->given & CLI_F(CLI_OPT_ELASTIC)) && !(a->reset & CLI_F(CLI_OPT_ELASTIC)))
                json_object_set_new(body, "elastic", json_boolean(a->elastic));
        if (a->no_spread)
                json_object_set_new(body, "spread", json_false());
        if (a->n_networks > 0) {
                json_t *nets = json_array();
                for (size_t i = 0; i < a->n_networks; i++)
                        json_array_append_new(nets, cli_network_request(a->networks[i]));
                json_object_set_new(body, "networks", nets);
        }
        return body;
}

json_t *cli_scaling_policy_body(const struct cli_args *a) {
        /* metric, adjust, stat and victim were checked: ASCII. */
        json_t *body = json_pack("{s:s, s:s, s:f}", "metric", a->metric, "adjust", a->adjust,
                                 a->given & CLI_F(CLI_OPT_ABOVE) ? "above" : "below", a->threshold);
        if (!body)
                abort();
        if (a->stat)
                json_object_set_new(body, "stat", json_string(a->stat));
        if (a->given & CLI_F(CLI_OPT_FOR))
                json_object_set_new(body, "for_s", json_integer(a->for_s));
        if (a->given & CLI_F(CLI_OPT_COOLDOWN))
                json_object_set_new(body, "cooldown_s", json_integer(a->cooldown_s));
        if (a->victim)
                json_object_set_new(body, "victim", json_string(a->victim));
        if (a->policy_name && !set_string(body, "name", a->policy_name)) {
                json_decref(body);
                return NULL;
        }
        return body;
}

/* A JSON number of seconds as whole seconds, "42s", rounded up or down; with dash_zero, "-"
 * for 0. Anything else as the generic cell ("-" for null). */
static char *cell_seconds(const json_t *v, bool up, bool dash_zero) {
        if (!json_is_number(v))
                return cli_cell_value(v);
        double d = up ? ceil(json_number_value(v)) : floor(json_number_value(v));
        if (!(d >= 0 && d < 1e15))
                return cli_cell_value(v);
        if (dash_zero && d == 0)
                return xstrdup("-");
        return xasprintf("%.0fs", d);
}

char *cli_scaling_policy_condition(const json_t *p) {
        const char *op = json_string_value(json_object_get(p, "op"));
        const char *sym = op && streq(op, "above") ? ">" : op && streq(op, "below") ? "<" : "?";
        _cleanup_free_ char *metric = cli_cell_value(json_object_get(p, "metric"));
        _cleanup_free_ char *stat = cli_cell_value(json_object_get(p, "stat"));
        const json_t *th = json_object_get(p, "threshold");
        _cleanup_free_ char *threshold = json_is_number(th) ? cli_format_number(json_number_value(th))
                                                            : cli_cell_value(th);
        const json_t *for_s = json_object_get(p, "for_s");
        if (json_is_integer(for_s) && json_integer_value(for_s) == 0)
                return xasprintf("%s %s %s %s", metric, stat, sym, threshold);
        _cleanup_free_ char *during = cell_seconds(for_s, false, false);
        return xasprintf("%s %s %s %s for %s", metric, stat, sym, threshold, during);
}

/* Prints a blank line and a table of one row per object of list, of its members keys[]. */
static void print_rows(FILE *f, const json_t *list, size_t ncols, const char *const *headers, const char *const *keys) {
        _cleanup_table_ struct cli_table *t = cli_table_new(ncols, headers);
        size_t i;
        json_t *o;
        json_array_foreach(list, i, o) {
                _cleanup_free_ char **row = xcalloc(ncols, sizeof *row);
                for (size_t c = 0; c < ncols; c++)
                        row[c] = cli_cell_value(json_object_get(o, keys[c]));
                cli_table_add_row(t, row);
        }
        fputc('\n', f);
        cli_table_print(t, f);
}

static void print_policies(FILE *f, const json_t *policies) {
        static const char *const headers[] = {
                "POLICY", "CONDITION", "ADJUST", "COOLDOWN", "VALUE", "HELD", "COOLDOWN_LEFT",
        };
        _cleanup_table_ struct cli_table *t = cli_table_new(ELEMENTSOF(headers), headers);
        size_t i;
        json_t *p;
        json_array_foreach(policies, i, p) {
                const json_t *value = json_object_get(p, "value");
                char *row[ELEMENTSOF(headers)] = {
                        cli_cell_value(json_object_get(p, "name")),
                        cli_scaling_policy_condition(p),
                        cli_cell_value(json_object_get(p, "adjust")),
                        cell_seconds(json_object_get(p, "cooldown_s"), false, false),
                        json_is_number(value) ? cli_format_number(json_number_value(value)) : cli_cell_value(value),
                        /* How long the condition has held; "-" while it does not. */
                        json_is_true(json_object_get(p, "holding"))
                                ? cell_seconds(json_object_get(p, "held_s"), false, false)
                                : xstrdup("-"),
                        cell_seconds(json_object_get(p, "cooldown_left_s"), true, true),
                };
                cli_table_add_row(t, row);
        }
        fputc('\n', f);
        cli_table_print(t, f);
}

int cli_scaling_group_print(FILE *f, enum cli_format format, const json_t *group) {
        if (!json_is_object(group))
                return -EINVAL;
        if (format == CLI_FORMAT_JSON)
                return cli_print_json(f, group);

        static const char *const skip[] = { "members", "policies", "decisions", "events", NULL };
        static const char *const headers[] = { "FIELD", "VALUE" };
        _cleanup_table_ struct cli_table *t = cli_table_new(2, headers);
        cli_table_add_fields(t, NULL, group, skip);
        cli_table_print(t, f);

        static const char *const member_headers[] = { "MEMBER", "STATUS", "HOST", "LEAVING" };
        static const char *const member_keys[] = { "name", "status", "host", "leaving" };
        print_rows(f, json_object_get(group, "members"), ELEMENTSOF(member_keys), member_headers, member_keys);

        print_policies(f, json_object_get(group, "policies"));

        static const char *const decision_headers[] = { "TIME", "POLICY", "FROM", "TO", "REASON" };
        static const char *const decision_keys[] = { "time", "policy", "from", "to", "reason" };
        print_rows(f, json_object_get(group, "decisions"), ELEMENTSOF(decision_keys), decision_headers, decision_keys);

        static const char *const event_headers[] = { "TIME", "TYPE", "INSTANCE", "MESSAGE" };
        static const char *const event_keys[] = { "time", "type", "instance", "message" };
        print_rows(f, json_object_get(group, "events"), ELEMENTSOF(event_keys), event_headers, event_keys);
        return ferror(f) ? -EIO : 0;
}

/* Prints the group tided answered with; an enum cli_exit. */
static int print_scaling_group(const json_t *group, enum cli_format format) {
        int r = cli_scaling_group_print(stdout, format, group);
        if (r < 0) {
                cli_error("cannot print the answer: %s", r == -EINVAL ? "not an object" : strerror(-r));
                return CLI_EXIT_FAILURE;
        }
        return CLI_EXIT_OK;
}


/* Sends body (taken; NULL: a string was not UTF-8, reported as what) and prints the group
 * tided answers with. */
static int send_scaling_group(struct cli_ctx *ctx, const char *method, const char *path, json_t *body, const char *what,
                              enum cli_format format) {
        if (!body) {
                cli_error("%s must be UTF-8", what);
                return CLI_EXIT_FAILURE;
        }
        _cleanup_json_ json_t *group = NULL;
        int r = cli_api_call(ctx, method, path, body, 0, 0, &group);
        json_decref(body);
        if (r < 0)
                return CLI_EXIT_FAILURE;
        return print_scaling_group(group, format);
}

json_t *cli_read_user_data(const char *path) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_file(path, CLI_USER_DATA_MAX, &data, &len);
        if (r == -EFBIG) {
                cli_error("user-data '%s': larger than %d KiB", path, CLI_USER_DATA_MAX / 1024);
                return NULL;
        }
        if (r < 0) {
                cli_error("user-data '%s': %s", path, tide_strerror(r));
                return NULL;
        }
        json_t *s = memchr(data, 0, len) ? NULL : json_stringn(data, len);
        if (!s)
                cli_error("user-data '%s': not UTF-8 text", path);
        return s;
}

int cli_scaling_group_create(struct cli_ctx *ctx, const struct cli_args *a) {
        json_t *body = cli_scaling_group_body(a, false);
        if (body && a->user_data_file) {
                json_t *ud = cli_read_user_data(a->user_data_file);
                if (!ud) {
                        json_decref(body);
                        return CLI_EXIT_FAILURE;
                }
                json_object_set_new(body, "user_data", ud);
        }
        return send_scaling_group(ctx, "POST", "/v1/scaling-groups", body, "NAME, --flavor and --image", a->format);
}

int cli_scaling_group_list(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_list(ctx, "/v1/scaling-groups", "groups", scaling_group_columns,
                            ELEMENTSOF(scaling_group_columns), a->format);
}

int cli_scaling_group_show(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *path = scaling_group_path(a->name, NULL);
        _cleanup_json_ json_t *group = NULL;
        if (cli_api_call(ctx, "GET", path, NULL, 0, 0, &group) < 0)
                return CLI_EXIT_FAILURE;
        return print_scaling_group(group, a->format);
}

int cli_scaling_group_set(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *path = scaling_group_path(a->name, NULL);
        return send_scaling_group(ctx, "PATCH", path, cli_scaling_group_body(a, true), "NAME", a->format);
}

int cli_scaling_group_delete(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_delete(ctx, "scaling-groups", a->name);
}

int cli_scaling_group_policy_add(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *group = scaling_group_path(a->name, NULL);
        _cleanup_free_ char *path = xasprintf("%s/policies", group);
        return send_scaling_group(ctx, "POST", path, cli_scaling_policy_body(a), "--name", a->format);
}

int cli_scaling_group_policy_delete(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *path = scaling_group_path(a->name, a->name2);
        if (cli_api_call(ctx, "DELETE", path, NULL, 0, 0, NULL) < 0)
                return CLI_EXIT_FAILURE;
        return CLI_EXIT_OK;
}
