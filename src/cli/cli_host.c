/* cli_host.c — tide host list|show|set|drain|undrain (stats: cli_stats.c). */
#include "cli/cli.h"

#include <errno.h>
#include <time.h>

#include "common/tide_json.h"

/* "yes" for the host whose tided leads the controllers, "-" for the others. */
static char *cell_leader(const json_t *v) {
        return xstrdup(json_is_true(v) ? "yes" : "-");
}

static const struct cli_column host_columns[] = {
        { "NAME", "name", NULL },
        { "STATE", "state", NULL },
        { "LEADER", "leader", cell_leader },
        { "CPUS", "cpus", NULL },
        { "MEM", "mem_mib", cli_cell_mib },
        { "ACCEL", "accel", NULL },
        { "HYPERVISOR", "hypervisor", NULL },
        { "INSTANCES", "instances", NULL },
        { "VCPUS_USED", "vcpus_used", NULL },
        { "RAM_USED", "ram_mib_used", cli_cell_mib },
};

/* The NUMA table: the host's nodes (numa[i]: id?, cpus, mem_mib, hugepages_mib) beside what
 * placement has bound on each (allocation.numa[i]: bound_ram_mib, hugepages_used_mib). */
static void print_numa(FILE *f, const json_t *numa, const json_t *used) {
        size_t n = json_array_size(numa);
        if (json_array_size(used) > n)
                n = json_array_size(used);
        if (n == 0)
                return;
        static const char *const headers[] = { "NUMA", "CPUS", "MEM", "HUGEPAGES", "BOUND_RAM", "HUGEPAGES_USED" };
        _cleanup_table_ struct cli_table *t = cli_table_new(ELEMENTSOF(headers), headers);
        for (size_t i = 0; i < n; i++) {
                const json_t *node = json_array_get(numa, i), *u = json_array_get(used, i);
                const json_t *id = json_object_get(node, "id");
                char *row[] = {
                        json_is_integer(id) ? cli_cell_value(id) : xasprintf("%zu", i),
                        cli_cell_value(json_object_get(node, "cpus")),
                        cli_cell_mib(json_object_get(node, "mem_mib")),
                        cli_cell_mib(json_object_get(node, "hugepages_mib")),
                        cli_cell_mib(json_object_get(u, "bound_ram_mib")),
                        cli_cell_mib(json_object_get(u, "hugepages_used_mib")),
                };
                cli_table_add_row(t, row);
        }
        fputc('\n', f);
        cli_table_print(t, f);
}

/* A section of settings or usage: NAME VALUE rows, or one "-" row when there are none. */
static void print_section(FILE *f, const char *title, const json_t *obj, const char *const *skip) {
        const char *headers[] = { title, "VALUE" };
        _cleanup_table_ struct cli_table *t = cli_table_new(2, headers);
        cli_table_add_fields(t, NULL, obj, skip);
        if (cli_table_rows(t) == 0) {
                char *row[2] = { xstrdup("-"), xstrdup("-") };
                cli_table_add_row(t, row);
        }
        fputc('\n', f);
        cli_table_print(t, f);
}

int cli_host_print(FILE *f, enum cli_format format, const json_t *host) {
        if (!json_is_object(host))
                return -EINVAL;
        if (format == CLI_FORMAT_JSON)
                return cli_print_json(f, host);

        static const char *const skip_host[] = { "numa", "config", "allocation", "drain", NULL };
        static const char *const skip_alloc[] = { "numa", NULL };
        static const char *const headers[] = { "FIELD", "VALUE" };
        _cleanup_table_ struct cli_table *t = cli_table_new(2, headers);
        cli_table_add_fields(t, NULL, host, skip_host);
        cli_table_print(t, f);

        const json_t *config = json_object_get(host, "config");
        const json_t *alloc = json_object_get(host, "allocation");
        print_numa(f, json_object_get(host, "numa"), json_object_get(alloc, "numa"));
        if (json_is_object(config))
                print_section(f, "CONFIG", config, NULL);
        if (json_is_object(alloc))
                print_section(f, "ALLOCATION", alloc, skip_alloc);
        const json_t *drain = json_object_get(host, "drain");
        if (json_is_object(drain))
                print_section(f, "DRAIN", drain, NULL);
        return ferror(f) ? -EIO : 0;
}

static int print_host(const json_t *host, enum cli_format format) {
        int r = cli_host_print(stdout, format, host);
        if (r < 0) {
                cli_error("cannot print the answer: %s", r == -EINVAL ? "not an object" : strerror(-r));
                return CLI_EXIT_FAILURE;
        }
        return CLI_EXIT_OK;
}

static char *host_path(const char *name) {
        _cleanup_free_ char *e = cli_escape(name);
        return xasprintf("/v1/hosts/%s", e);
}

int cli_host_list(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_list(ctx, "/v1/hosts", "hosts", host_columns, ELEMENTSOF(host_columns), a->format);
}

int cli_host_show(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *path = host_path(a->name);
        _cleanup_json_ json_t *j = NULL;
        if (cli_api_call(ctx, "GET", path, NULL, 0, 0, &j) < 0)
                return CLI_EXIT_FAILURE;
        return print_host(j, a->format);
}

int cli_host_set(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_json_ json_t *body = cli_settings_body(a);
        if (a->n_labels > 0 || a->n_unlabels > 0) {
                /* The words were checked: ASCII keys and values, each key once. */
                json_t *labels = json_object();
                for (size_t i = 0; i < a->n_labels; i++) {
                        const char *eq = strchr(a->labels[i], '=');
                        _cleanup_free_ char *key = xstrndup(a->labels[i], (size_t) (eq - a->labels[i]));
                        json_object_set_new(labels, key, json_string(eq + 1));
                }
                for (size_t i = 0; i < a->n_unlabels; i++)
                        json_object_set_new(labels, a->unlabels[i], json_null());
                json_object_set_new(body, "labels", labels);
        }
        if (a->drain || a->undrain)
                json_object_set_new(body, "draining", json_boolean(a->drain));
        if (a->given & CLI_F(CLI_OPT_ELASTIC))
                json_object_set_new(body, "elastic",
                                    a->reset & CLI_F(CLI_OPT_ELASTIC) ? json_null() : json_boolean(a->elastic));

        _cleanup_free_ char *path = host_path(a->name);
        _cleanup_json_ json_t *j = NULL;
        if (cli_api_call(ctx, "PATCH", path, body, 0, 0, &j) < 0)
                return CLI_EXIT_FAILURE;
        return print_host(j, a->format);
}

/* Polls the host until its drain has ended ("done" or "incomplete"); *host is replaced by the
 * latest answer. OK when done; FAILURE, with what could not move and why, when incomplete,
 * undrained meanwhile or timed out. */
static int wait_drained(struct cli_ctx *ctx, const char *name, json_t **host, int64_t timeout_s) {
        _cleanup_free_ char *path = host_path(name);
        int64_t deadline = mono_ms() + timeout_s * 1000;
        for (;;) {
                const json_t *drain = json_object_get(*host, "drain");
                const char *state = json_string_value(json_object_get(drain, "state"));
                if (!state) {
                        cli_error("host '%s' is no longer draining (undrained meanwhile?)", name);
                        return CLI_EXIT_FAILURE;
                }
                if (streq(state, "done"))
                        return CLI_EXIT_OK;
                if (streq(state, "incomplete")) {
                        const char *inst;
                        const json_t *why;
                        json_object_foreach((json_t *) json_object_get(drain, "blocked"), inst, why)
                                cli_error("host '%s': instance '%s' stays: %s", name, inst, json_string_value(why));
                        return CLI_EXIT_FAILURE;
                }
                int64_t left = deadline - mono_ms();
                if (left <= 0) {
                        cli_error("timed out after %lld s waiting for host '%s' to drain", (long long) timeout_s, name);
                        return CLI_EXIT_FAILURE;
                }
                struct timespec ts = { .tv_sec = 0, .tv_nsec = 500 * 1000000L };
                nanosleep(&ts, NULL);
                _cleanup_json_ json_t *next = NULL;
                if (cli_api_call(ctx, "GET", path, NULL, 0, 0, &next) < 0)
                        return CLI_EXIT_FAILURE;
                if (!json_is_object(next)) {
                        cli_error("malformed answer for host '%s': not an object", name);
                        return CLI_EXIT_FAILURE;
                }
                json_decref(*host);
                *host = TAKE_PTR(next);
        }
}

int cli_host_drain(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *base = host_path(a->name), *path = xasprintf("%s/drain", base);
        _cleanup_json_ json_t *body = json_object(), *j = NULL;
        if (cli_api_call(ctx, "POST", path, body, 0, 0, &j) < 0)
                return CLI_EXIT_FAILURE;
        int r = a->wait ? wait_drained(ctx, a->name, &j, a->timeout_s) : CLI_EXIT_OK;
        int p = print_host(j, a->format);
        return r != CLI_EXIT_OK ? r : p;
}

int cli_host_undrain(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *base = host_path(a->name), *path = xasprintf("%s/undrain", base);
        _cleanup_json_ json_t *j = NULL;
        if (cli_api_call(ctx, "POST", path, NULL, 0, 0, &j) < 0)
                return CLI_EXIT_FAILURE;
        return print_host(j, a->format);
}
