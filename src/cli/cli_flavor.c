/* cli_flavor.c — tide flavor create|list|show|delete. */
#include "cli/cli.h"

#include "common/tide_json.h"

static const struct cli_column flavor_columns[] = {
        { "NAME", "name", NULL },
        { "VCPUS", "vcpus", NULL },
        { "RAM", "ram_mib", cli_cell_mib },
        { "DISK", "disk_gib", cli_cell_gib },
        { "MAX_VCPUS", "max_vcpus", NULL },
        { "MAX_RAM", "max_ram_mib", cli_cell_mib },
        { "CPU_POLICY", "cpu_policy", NULL },
        { "HUGEPAGES", "hugepages", NULL },
        { "ID", "id", NULL },
};

int cli_flavor_create(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_json_ json_t *body = json_pack("{s:s, s:I, s:I, s:I}", "name", a->name, "vcpus", (json_int_t) a->vcpus,
                                                "ram_mib", (json_int_t) a->ram_mib, "disk_gib",
                                                (json_int_t) a->disk_gib);
        if (!body) {
                /* The only input that can make json_pack fail is a name that is not UTF-8. */
                cli_error("NAME must be UTF-8");
                return CLI_EXIT_FAILURE;
        }
        if (a->given & CLI_F(CLI_OPT_MAX_VCPUS))
                json_object_set_new(body, "max_vcpus", json_integer(a->max_vcpus));
        if (a->given & CLI_F(CLI_OPT_MAX_RAM))
                json_object_set_new(body, "max_ram_mib", json_integer(a->max_ram_mib));
        if (a->cpu_policy)
                json_object_set_new(body, "cpu_policy", json_string(a->cpu_policy));
        if (a->hugepages)
                json_object_set_new(body, "hugepages", json_true());

        _cleanup_json_ json_t *flavor = NULL;
        if (cli_api_call(ctx, "POST", "/v1/flavors", body, 0, 0, &flavor) < 0)
                return CLI_EXIT_FAILURE;
        return cli_print_answer(ctx, flavor, a->format);
}

int cli_flavor_list(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_list(ctx, "/v1/flavors", "flavors", flavor_columns, ELEMENTSOF(flavor_columns), a->format);
}

int cli_flavor_show(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_show(ctx, "flavors", a->name, a->format);
}

int cli_flavor_delete(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_delete(ctx, "flavors", a->name);
}
