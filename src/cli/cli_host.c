/* cli_host.c — tide host list|show. */
#include "cli/cli.h"

static const struct cli_column host_columns[] = {
        { "NAME", "name", NULL },
        { "STATE", "state", NULL },
        { "CPUS", "cpus", NULL },
        { "MEM", "mem_mib", cli_cell_mib },
        { "ACCEL", "accel", NULL },
        { "HYPERVISOR", "hypervisor", NULL },
        { "INSTANCES", "instances", NULL },
        { "VCPUS_USED", "vcpus_used", NULL },
        { "RAM_USED", "ram_mib_used", cli_cell_mib },
};

int cli_host_list(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_list(ctx, "/v1/hosts", "hosts", host_columns, ELEMENTSOF(host_columns),
                            a->format);
}

int cli_host_show(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_show(ctx, "hosts", a->name, a->format);
}
