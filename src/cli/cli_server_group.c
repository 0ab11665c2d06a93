/* cli_server_group.c — tide server-group create|list|show|delete. */
#include "cli/cli.h"

#include <errno.h>

#include "common/tide_json.h"

/* The number of members ({instance: host}), "-" when the answer has none. */
static char *cell_count(const json_t *v) {
        if (json_is_object(v))
                return xasprintf("%zu", json_object_size(v));
        if (json_is_array(v))
                return xasprintf("%zu", json_array_size(v));
        return xstrdup("-");
}

static const struct cli_column group_columns[] = {
        { "NAME", "name", NULL },
        { "POLICY", "policy", NULL },
        { "MEMBERS", "members", cell_count },
        { "ID", "id", NULL },
};

int cli_server_group_print(FILE *f, enum cli_format format, const json_t *group) {
        if (!json_is_object(group))
                return -EINVAL;
        if (format == CLI_FORMAT_JSON)
                return cli_print_json(f, group);

        static const char *const skip[] = { "members", NULL };
        static const char *const headers[] = { "FIELD", "VALUE" };
        _cleanup_table_ struct cli_table *t = cli_table_new(2, headers);
        cli_table_add_fields(t, NULL, group, skip);
        cli_table_print(t, f);

        static const char *const member_headers[] = { "INSTANCE", "HOST" };
        _cleanup_table_ struct cli_table *m = cli_table_new(2, member_headers);
        const char *name;
        json_t *host;
        json_object_foreach(json_object_get(group, "members"), name, host) {
                char *row[2] = { cli_sanitize(name), cli_cell_value(host) };
                cli_table_add_row(m, row);
        }
        fputc('\n', f);
        cli_table_print(m, f);
        return ferror(f) ? -EIO : 0;
}

static int print_group(const json_t *group, enum cli_format format) {
        int r = cli_server_group_print(stdout, format, group);
        if (r < 0) {
                cli_error("cannot print the answer: %s", r == -EINVAL ? "not an object" : strerror(-r));
                return CLI_EXIT_FAILURE;
        }
        return CLI_EXIT_OK;
}

int cli_server_group_create(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s}", "name", a->name, "policy", a->policy);
        if (!body) {
                cli_error("NAME must be UTF-8");
                return CLI_EXIT_FAILURE;
        }
        _cleanup_json_ json_t *group = NULL;
        if (cli_api_call(ctx, "POST", "/v1/server-groups", body, 0, 0, &group) < 0)
                return CLI_EXIT_FAILURE;
        return print_group(group, a->format);
}

int cli_server_group_list(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_list(ctx, "/v1/server-groups", "server_groups", group_columns, ELEMENTSOF(group_columns),
                            a->format);
}

int cli_server_group_show(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *e = cli_escape(a->name);
        _cleanup_free_ char *path = xasprintf("/v1/server-groups/%s", e);
        _cleanup_json_ json_t *group = NULL;
        if (cli_api_call(ctx, "GET", path, NULL, 0, 0, &group) < 0)
                return CLI_EXIT_FAILURE;
        return print_group(group, a->format);
}

int cli_server_group_delete(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_delete(ctx, "server-groups", a->name);
}
