/* cli_placement.c — tide placement explain|config show|config set, and the printer of
 * placement explanations that `tide instance create --dry-run` shares. */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>

#include "common/strbuf.h"
#include "common/tide_json.h"

char *cli_format_number(double d) {
        if (!isfinite(d))
                return xasprintf("%g", d);
        if (d == floor(d) && fabs(d) < 1e15)
                return xasprintf("%.0f", d);
        char *s = xasprintf("%.3f", d);
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '0')
                s[--n] = 0;
        if (n > 0 && s[n - 1] == '.')
                s[--n] = 0;
        /* -0.0004 rounds to "-0". */
        if (streq(s, "-0")) {
                free(s);
                return xstrdup("0");
        }
        return s;
}

/* A JSON number as cli_format_number(), anything else as the generic cell. */
static char *cell_number(const json_t *v) {
        return json_is_number(v) ? cli_format_number(json_number_value(v)) : cli_cell_value(v);
}

char *cli_format_cpu_list(const json_t *cpus) {
        if (!json_is_array(cpus) || json_array_size(cpus) == 0)
                return xstrdup("-");
        size_t n = json_array_size(cpus);
        for (size_t i = 0; i < n; i++)
                if (!json_is_integer(json_array_get(cpus, i)))
                        return xstrdup("-");

        /* In the API's order (the host CPU of vCPU 0, 1, ...); runs of consecutive numbers
         * become ranges. */
        struct strbuf b = STRBUF_INIT(0);
        for (size_t i = 0; i < n;) {
                json_int_t first = json_integer_value(json_array_get(cpus, i)), last = first;
                size_t j = i + 1;
                while (j < n && json_integer_value(json_array_get(cpus, j)) == last + 1) {
                        last++;
                        j++;
                }
                strbuf_printf(&b, "%s%" JSON_INTEGER_FORMAT, i ? "," : "", first);
                if (last != first)
                        strbuf_printf(&b, "-%" JSON_INTEGER_FORMAT, last);
                i = j;
        }
        return strbuf_steal(&b);
}

char *cli_placement_describe(const json_t *decision) {
        if (!json_is_object(decision))
                return xstrdup("-");
        _cleanup_free_ char *host = cli_cell_value(json_object_get(decision, "host"));
        _cleanup_free_ char *numa = cli_cell_value(json_object_get(decision, "numa_node"));
        _cleanup_free_ char *pinned = cli_format_cpu_list(json_object_get(decision, "pinned"));
        _cleanup_free_ char *score = cell_number(json_object_get(decision, "score"));
        return xasprintf("host %s, NUMA node %s, pinned CPUs %s, score %s", host, numa, pinned, score);
}

bool cli_placement_found(const json_t *answer) {
        return json_is_object(json_object_get(answer, "decision"));
}

/* A host's DETAIL: its "detail", then its weights ("ram 0.4, cpu 0.2, ..."), "-" for none. */
static char *host_detail(const json_t *h) {
        struct strbuf b = STRBUF_INIT(0);
        const json_t *detail = json_object_get(h, "detail");
        if (json_is_string(detail) && *json_string_value(detail)) {
                _cleanup_free_ char *d = cli_sanitize(json_string_value(detail));
                strbuf_puts(&b, d);
        }
        const json_t *weights = json_object_get(h, "weights");
        const char *key;
        json_t *w;
        bool first = true;
        json_object_foreach((json_t *) weights, key, w) {
                _cleanup_free_ char *k = cli_sanitize(key), *v = cell_number(w);
                strbuf_printf(&b, "%s%s %s", first ? (b.len ? "; " : "") : ", ", k, v);
                first = false;
        }
        if (b.len == 0)
                strbuf_puts(&b, "-");
        return strbuf_steal(&b);
}

/* docs/api.md names a host's outcome "passed" and its filter "filter"; tided's explain
 * (sched_explain_to_json) says only "rejected_by": the filter, or null when it passed. Both
 * are read, the documented members first. */
static const json_t *host_filter(const json_t *h) {
        const json_t *f = json_object_get(h, "filter");
        return f ? f : json_object_get(h, "rejected_by");
}

static char *host_result(const json_t *h) {
        const json_t *passed = json_object_get(h, "passed");
        if (json_is_boolean(passed))
                return xstrdup(json_is_true(passed) ? "passed" : "rejected");
        const json_t *by = json_object_get(h, "rejected_by");
        if (json_is_null(by))
                return xstrdup("passed");
        if (json_is_string(by))
                return xstrdup("rejected");
        return xstrdup("-");
}

static void add_field(struct cli_table *t, const char *name, char *value) {
        char *row[2] = { xstrdup(name), value };
        cli_table_add_row(t, row);
}

int cli_placement_print(FILE *f, enum cli_format format, const json_t *answer) {
        if (!json_is_object(answer))
                return -EINVAL;
        if (format == CLI_FORMAT_JSON)
                return cli_print_json(f, answer);

        static const char *const field_headers[] = { "FIELD", "VALUE" };
        _cleanup_table_ struct cli_table *fields = cli_table_new(2, field_headers);
        add_field(fields, "instance", cli_cell_value(json_object_get(answer, "instance")));
        /* The recorded side, which only GET .../placement has. */
        if (json_object_get(answer, "status")) {
                add_field(fields, "status", cli_cell_value(json_object_get(answer, "status")));
                add_field(fields, "reason", cli_cell_value(json_object_get(answer, "reason")));
                const json_t *placement = json_object_get(answer, "placement");
                const json_t *host = json_object_get(answer, "host");
                if (json_is_object(placement))
                        add_field(fields, "placement", cli_placement_describe(placement));
                else if (json_is_string(host)) {
                        /* Placed before decisions were recorded. */
                        _cleanup_free_ char *h = cli_sanitize(json_string_value(host));
                        add_field(fields, "placement", xasprintf("host %s", h));
                } else
                        add_field(fields, "placement", xstrdup("-"));
        }
        const json_t *decision = json_object_get(answer, "decision");
        const json_t *error = json_object_get(answer, "error");
        if (json_is_object(decision))
                add_field(fields, "decision", cli_placement_describe(decision));
        else if (json_is_string(error))
                add_field(fields, "decision", cli_sanitize(json_string_value(error)));
        else
                add_field(fields, "decision", xstrdup("-"));
        cli_table_print(fields, f);

        static const char *const host_headers[] = { "HOST", "RESULT", "FILTER", "SCORE", "DETAIL" };
        _cleanup_table_ struct cli_table *t = cli_table_new(5, host_headers);
        size_t i;
        json_t *h;
        json_array_foreach(json_object_get(answer, "hosts"), i, h) {
                char *row[5] = {
                        cli_cell_value(json_object_get(h, "host")), host_result(h), cli_cell_value(host_filter(h)),
                        cell_number(json_object_get(h, "score")),   host_detail(h),
                };
                cli_table_add_row(t, row);
        }
        fputc('\n', f);
        cli_table_print(t, f);
        return ferror(f) ? -EIO : 0;
}

int cli_placement_explain(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *e = cli_escape(a->name);
        _cleanup_free_ char *path = xasprintf("/v1/instances/%s/placement", e);
        _cleanup_json_ json_t *j = NULL;
        if (cli_api_call(ctx, "GET", path, NULL, 0, 0, &j) < 0)
                return CLI_EXIT_FAILURE;
        int r = cli_placement_print(stdout, a->format, j);
        if (r < 0) {
                cli_error("cannot print the answer: %s", r == -EINVAL ? "not an object" : strerror(-r));
                return CLI_EXIT_FAILURE;
        }
        return CLI_EXIT_OK;
}

static int print_config(const json_t *cfg, enum cli_format format) {
        int r = cli_print_fields(stdout, format, cfg);
        if (r < 0) {
                cli_error("cannot print the answer: %s", r == -EINVAL ? "not an object" : strerror(-r));
                return CLI_EXIT_FAILURE;
        }
        return CLI_EXIT_OK;
}

int cli_placement_config_show(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_json_ json_t *j = NULL;
        if (cli_api_call(ctx, "GET", "/v1/placement/config", NULL, 0, 0, &j) < 0)
                return CLI_EXIT_FAILURE;
        return print_config(j, a->format);
}

/* Sets key to a number, or to null ("default": back to the cluster's or the default). */
static void set_setting(json_t *body, const struct cli_args *a, enum cli_opt opt, const char *key, json_t *value) {
        if (!(a->given & CLI_F(opt))) {
                json_decref(value);
                return;
        }
        if (a->reset & CLI_F(opt)) {
                json_decref(value);
                value = json_null();
        }
        json_object_set_new(body, key, value);
}

json_t *cli_settings_body(const struct cli_args *a) {
        json_t *body = json_object();
        set_setting(body, a, CLI_OPT_CPU_RATIO, "cpu_ratio", json_real(a->cpu_ratio));
        set_setting(body, a, CLI_OPT_RAM_RATIO, "ram_ratio", json_real(a->ram_ratio));
        set_setting(body, a, CLI_OPT_DISK_RATIO, "disk_ratio", json_real(a->disk_ratio));
        set_setting(body, a, CLI_OPT_RESERVED_CPUS, "reserved_cpus", json_integer(a->reserved_cpus));
        set_setting(body, a, CLI_OPT_RESERVED_RAM, "reserved_ram_mib", json_integer(a->reserved_ram_mib));
        return body;
}

int cli_placement_config_set(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_json_ json_t *body = cli_settings_body(a);
        if (a->mode)
                json_object_set_new(body, "mode", json_string(a->mode));
        if (a->weights_given) {
                json_t *w = json_object();
                for (int i = 0; i < CLI_WEIGHT_MAX; i++) {
                        if (!(a->weights_given & (1u << i)))
                                continue;
                        json_object_set_new(w, cli_weight_name((enum cli_weight) i),
                                            a->weights_reset & (1u << i) ? json_null() : json_real(a->weights[i]));
                }
                json_object_set_new(body, "weights", w);
        }

        _cleanup_json_ json_t *j = NULL;
        if (cli_api_call(ctx, "PATCH", "/v1/placement/config", body, 0, 0, &j) < 0)
                return CLI_EXIT_FAILURE;
        return print_config(j, a->format);
}
