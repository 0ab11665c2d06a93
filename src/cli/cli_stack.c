/* cli_stack.c — tide stack create|list|show|delete: autoscaling groups made from a Heat
 * template (/v1/stacks). */
#include "cli/cli.h"

#include <errno.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/tide_json.h"

/* The names of a stack's groups, comma-separated. */
static char *cell_groups(const json_t *v) {
        struct strbuf b = STRBUF_INIT(0);
        size_t i;
        json_t *g;
        json_array_foreach(v, i, g) {
                _cleanup_free_ char *n = cli_sanitize(json_string_value(json_object_get(g, "name")) ?: "?");
                strbuf_printf(&b, "%s%s", i ? "," : "", n);
        }
        if (b.len == 0) {
                strbuf_clear(&b);
                return xstrdup("-");
        }
        return strbuf_steal(&b);
}

static const struct cli_column stack_columns[] = {
        { "NAME", "name", NULL },
        { "GROUPS", "groups", cell_groups },
        { "CREATED", "created", NULL },
        { "ID", "id", NULL },
};

int cli_stack_print(FILE *f, enum cli_format format, const json_t *stack) {
        if (!json_is_object(stack))
                return -EINVAL;
        if (format == CLI_FORMAT_JSON)
                return cli_print_json(f, stack);
        static const char *const skip[] = { "groups", NULL };
        static const char *const headers[] = { "FIELD", "VALUE" };
        _cleanup_table_ struct cli_table *t = cli_table_new(2, headers);
        cli_table_add_fields(t, NULL, stack, skip);
        cli_table_print(t, f);

        static const char *const gh[] = { "GROUP", "MIN", "MAX", "DESIRED", "MEMBERS", "POLICIES" };
        static const char *const keys[] = { "name", "min", "max", "desired", "member_count", "policy_count" };
        _cleanup_table_ struct cli_table *g = cli_table_new(ELEMENTSOF(gh), gh);
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(stack, "groups"), i, o) {
                char *row[ELEMENTSOF(keys)];
                for (size_t c = 0; c < ELEMENTSOF(keys); c++)
                        row[c] = cli_cell_value(json_object_get(o, keys[c]));
                cli_table_add_row(g, row);
        }
        fputc('\n', f);
        cli_table_print(g, f);
        return ferror(f) ? -EIO : 0;
}

static int print_stack(const json_t *stack, enum cli_format format) {
        int r = cli_stack_print(stdout, format, stack);
        if (r < 0) {
                cli_error("cannot print the answer: %s", r == -EINVAL ? "not an object" : strerror(-r));
                return CLI_EXIT_FAILURE;
        }
        return CLI_EXIT_OK;
}

int cli_stack_create(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file(a->template_file, CLI_TEMPLATE_MAX, &text, &len);
        if (r < 0) {
                cli_error("template '%s': %s", a->template_file, r == -EFBIG ? "larger than 1 MiB" : tide_strerror(r));
                return CLI_EXIT_FAILURE;
        }
        _cleanup_json_ json_t *tmpl = memchr(text, 0, len) ? NULL : json_stringn(text, len);
        if (!tmpl) {
                cli_error("template '%s': not UTF-8 text", a->template_file);
                return CLI_EXIT_FAILURE;
        }
        _cleanup_json_ json_t *params = json_object();
        for (size_t i = 0; i < a->n_parameters; i++) {
                const char *eq = strchr(a->parameters[i], '=');
                _cleanup_free_ char *key = xstrndup(a->parameters[i], (size_t) (eq - a->parameters[i]));
                json_t *v = json_string(eq + 1);
                if (!v || json_object_set_new(params, key, v) < 0) {
                        cli_error("--parameter '%s' must be UTF-8", a->parameters[i]);
                        return CLI_EXIT_FAILURE;
                }
        }
        /* "o" takes tmpl and params, also when json_pack fails (jansson 2.11 and later). */
        _cleanup_json_ json_t *body = json_pack("{s:s, s:o, s:o}", "name", a->name, "template", TAKE_PTR(tmpl),
                                                "parameters", TAKE_PTR(params));
        if (!body) {
                cli_error("NAME must be UTF-8");
                return CLI_EXIT_FAILURE;
        }
        _cleanup_json_ json_t *stack = NULL;
        if (cli_api_call(ctx, "POST", "/v1/stacks", body, 0, 0, &stack) < 0)
                return CLI_EXIT_FAILURE;
        return print_stack(stack, a->format);
}

int cli_stack_list(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_list(ctx, "/v1/stacks", "stacks", stack_columns, ELEMENTSOF(stack_columns), a->format);
}

int cli_stack_show(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *e = cli_escape(a->name);
        _cleanup_free_ char *path = xasprintf("/v1/stacks/%s", e);
        _cleanup_json_ json_t *stack = NULL;
        if (cli_api_call(ctx, "GET", path, NULL, 0, 0, &stack) < 0)
                return CLI_EXIT_FAILURE;
        return print_stack(stack, a->format);
}

int cli_stack_delete(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_delete(ctx, "stacks", a->name);
}
