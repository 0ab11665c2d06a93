/* cli_commands.c — the tide client's command table: every command, its handler, the options
 * it accepts and requires, its usage and help (declarative, as cli.h describes a row), and the
 * lookups by noun. tide.c dispatches over it. */
#include "cli/cli.h"

#include "common/util.h"

/* The table is laid out by hand, a row a command with its options as a reader scans them
 * (haproxy's rule zero): clang-format would pack them. */
/* clang-format off */
#define O(x) CLI_F(CLI_OPT_##x)
#define FORMAT_USAGE "[-f table|json]"
#define WAIT_USAGE "[--wait [--timeout SECONDS]]"
#define RATIO_USAGE "[--cpu-ratio X] [--ram-ratio X] [--disk-ratio X] [--reserved-cpus N] " \
        "[--reserved-ram MIB]"
#define RATIO_OPTIONS (O(CPU_RATIO) | O(RAM_RATIO) | O(DISK_RATIO) | O(RESERVED_CPUS) | \
                       O(RESERVED_RAM))
#define HOST_SET_OPTIONS (O(LABEL) | O(UNLABEL) | RATIO_OPTIONS | O(DRAIN) | O(UNDRAIN) | \
                          O(ELASTIC))
#define POLICY_USAGE "[--cpu-reservation CORES] [--cpu-limit CORES] [--mem-reservation MIB] " \
        "[--mem-limit MIB] [--elastic on|off]"
#define POLICY_OPTIONS (O(CPU_RESERVATION) | O(CPU_LIMIT) | O(MEM_RESERVATION) | O(MEM_LIMIT) | \
                        O(ELASTIC))
#define STATS_USAGE "[--limit N] " FORMAT_USAGE
#define PLACEMENT_SET_OPTIONS (RATIO_OPTIONS | O(MODE) | O(WEIGHT))
#define GROUP_SIZE_USAGE "[--min N] [--max N] [--desired N]"
#define GROUP_SIZE_OPTIONS (O(MIN_SIZE) | O(MAX_SIZE) | O(DESIRED))
#define SCALING_OPTIONS (O(METRIC) | O(ABOVE) | O(BELOW) | O(ADJUST) | O(STAT) | O(FOR) | \
                         O(COOLDOWN) | O(VICTIM) | O(POLICY_NAME))

/* Rows: noun, verb ("" for a noun with no verbs), handler, operands (NULL: none), options
 * accepted, options required, usage, help,
 * and the options at least one of which a settings change needs (0: none). */
const struct cli_command cli_commands[] = {
        { "flavor", "create", cli_flavor_create, "NAME",
          O(VCPUS) | O(RAM) | O(DISK_GIB) | O(MAX_VCPUS) | O(MAX_RAM) | O(CPU_POLICY) |
                  O(HUGEPAGES) | O(FORMAT),
          O(VCPUS) | O(RAM) | O(DISK_GIB),
          "NAME --vcpus N --ram MIB --disk GIB [--max-vcpus N] [--max-ram MIB] "
          "[--cpu-policy shared|dedicated] [--hugepages] " FORMAT_USAGE,
          "Create a flavor: a VM size, the maxima a VM of it may grow to, and its placement.",
          0 },
        { "flavor", "list", cli_flavor_list, NULL, O(FORMAT), 0, FORMAT_USAGE,
          "List the flavors.", 0 },
        { "flavor", "show", cli_flavor_show, "NAME", O(FORMAT), 0, "NAME " FORMAT_USAGE,
          "Show one flavor, by name or id.", 0 },
        { "flavor", "delete", cli_flavor_delete, "NAME", 0, 0, "NAME",
          "Delete a flavor that no instance uses.", 0 },

        { "image", "create", cli_image_create, "NAME",
          O(DISK_FILE) | O(KERNEL) | O(INITRD) | O(CMDLINE) | O(FROM_HOST_PATH) | O(FORMAT), O(DISK_FILE),
          "NAME --disk FILE [--kernel FILE [--initrd FILE] [--cmdline STR]] [--from-host-path] " FORMAT_USAGE,
          "Register an image: the files are uploaded to tided, which checks the disk (qcow2 or raw) and keeps "
          "them in its image store. With --from-host-path they are paths that tided reads on its own host.",
          0 },
        { "image", "list", cli_image_list, NULL, O(FORMAT), 0, FORMAT_USAGE,
          "List the images.", 0 },
        { "image", "show", cli_image_show, "NAME", O(FORMAT), 0, "NAME " FORMAT_USAGE,
          "Show one image, by name or id.", 0 },
        { "image", "delete", cli_image_delete, "NAME", 0, 0, "NAME",
          "Delete an image that no instance uses.", 0 },

        { "instance", "create", cli_instance_create, "NAME",
          O(FLAVOR) | O(IMAGE) | O(USER_DATA) | O(PRIORITY) | POLICY_OPTIONS | O(HA) | O(HINT) |
                  O(SERVER_GROUP) | O(NETWORK) | O(DRY_RUN) | O(WAIT) | O(TIMEOUT) | O(FORMAT),
          O(FLAVOR) | O(IMAGE),
          "NAME --flavor FLAVOR --image IMAGE [--user-data FILE] "
          "[--priority N|low|normal|high] " POLICY_USAGE " [--ha] [--hint KEY=VALUE]... "
          "[--server-group NAME] [--network NAME[:ip=A.B.C.D]]... "
          "[--dry-run | --wait [--timeout SECONDS]] " FORMAT_USAGE,
          "Create and start an instance; with --dry-run, only show where it would go.", 0 },
        { "instance", "list", cli_instance_list, NULL, O(FORMAT), 0, FORMAT_USAGE,
          "List the instances.", 0 },
        { "instance", "show", cli_instance_show, "NAME", O(FORMAT), 0, "NAME " FORMAT_USAGE,
          "Show one instance, by name or id.", 0 },
        { "instance", "set", cli_instance_set, "NAME", O(PRIORITY) | POLICY_OPTIONS | O(FORMAT), 0,
          "NAME [--priority N|low|normal|high] " POLICY_USAGE " " FORMAT_USAGE,
          "Change an instance's elastic policy; 'default' as a value resets one.",
          O(PRIORITY) | POLICY_OPTIONS },
        { "instance", "stats", cli_instance_stats, "NAME", O(STATS_LIMIT) | O(FORMAT), 0,
          "NAME " STATS_USAGE,
          "Show an instance's measured CPU and memory, then its recent history.", 0 },
        { "instance", "start", cli_instance_start, "NAME", O(WAIT) | O(TIMEOUT) | O(FORMAT), 0,
          "NAME " WAIT_USAGE " " FORMAT_USAGE, "Start a stopped instance.", 0 },
        { "instance", "stop", cli_instance_stop, "NAME", O(WAIT) | O(TIMEOUT) | O(FORMAT), 0,
          "NAME " WAIT_USAGE " " FORMAT_USAGE, "Stop an instance.", 0 },
        { "instance", "reboot", cli_instance_reboot, "NAME", O(WAIT) | O(TIMEOUT) | O(FORMAT), 0,
          "NAME " WAIT_USAGE " " FORMAT_USAGE, "Reboot an instance.", 0 },
        { "instance", "migrate", cli_instance_migrate, "NAME",
          O(TO) | O(BANDWIDTH) | O(MAX_DOWNTIME) | O(CANCEL) | O(WAIT) | O(TIMEOUT) | O(FORMAT), 0,
          "NAME [--to HOST] [--bandwidth MIB_S] [--max-downtime MS] " WAIT_USAGE " " FORMAT_USAGE
          " | NAME --cancel",
          "Move a running instance live to another host (placement chooses it unless --to); "
          "--cancel stops a move under way.",
          0 },
        { "instance", "delete", cli_instance_delete, "NAME", O(WAIT) | O(TIMEOUT), 0,
          "NAME " WAIT_USAGE, "Delete an instance and its disk.", 0 },
        { "instance", "console", cli_instance_console, "NAME", O(FOLLOW), 0, "NAME [--follow]",
          "Print the instance's serial console log.", 0 },

        { "instance", "port add", cli_instance_port_add, "NAME", O(NETWORK) | O(FORMAT), O(NETWORK),
          "NAME --network NETWORK[:ip=A.B.C.D] " FORMAT_USAGE,
          "Give an instance a port on a network: a MAC and an address (the one given, or a free one).", 0 },
        { "instance", "port remove", cli_instance_port_remove, "NAME", O(NETWORK), O(NETWORK),
          "NAME --network NETWORK[:ip=A.B.C.D]",
          "Remove an instance's port on a network (the one at that address, when it has several); its "
          "address goes back to the network's pool.", 0 },

        { "network", "create", cli_network_create, "NAME",
          O(CIDR) | O(NET_TYPE) | O(GATEWAY) | O(DNS) | O(VNI) | O(VLAN) | O(PHYSDEV) | O(BRIDGE) | O(FORMAT),
          O(CIDR) | O(NET_TYPE),
          "NAME --cidr A.B.C.D/N [--gateway IP|none] [--dns IP]... "
          "(--type vxlan [--vni N] | --type vlan [--vlan ID] --physdev IF | --type flat --bridge BR) " FORMAT_USAGE,
          "Create a network: an IPv4 subnet whose addresses tide gives to ports, isolated as a VXLAN or a VLAN, "
          "or the hosts' own bridge (flat).", 0 },
        { "network", "list", cli_network_list, NULL, O(FORMAT), 0, FORMAT_USAGE,
          "List the networks.", 0 },
        { "network", "show", cli_network_show, "NAME", O(FORMAT), 0, "NAME " FORMAT_USAGE,
          "Show one network, by name or id, with its ports.", 0 },
        { "network", "delete", cli_network_delete, "NAME", 0, 0, "NAME",
          "Delete a network that has no ports.", 0 },

        { "host", "list", cli_host_list, NULL, O(FORMAT), 0, FORMAT_USAGE,
          "List the hosts.", 0 },
        { "host", "show", cli_host_show, "NAME", O(FORMAT), 0, "NAME " FORMAT_USAGE,
          "Show one host: its NUMA nodes, settings and allocation.", 0 },
        { "host", "set", cli_host_set, "NAME", HOST_SET_OPTIONS | O(FORMAT), 0,
          "NAME [--label KEY=VALUE]... [--unlabel KEY]... " RATIO_USAGE " [--drain|--undrain] "
          "[--elastic on|off] " FORMAT_USAGE,
          "Change a host's labels, ratios, reserves, draining or elastic loop.",
          HOST_SET_OPTIONS },
        { "host", "drain", cli_host_drain, "NAME", O(WAIT) | O(TIMEOUT) | O(FORMAT), 0,
          "NAME " WAIT_USAGE " " FORMAT_USAGE,
          "Keep new VMs away from a host and move its instances off live, two at a time, high "
          "priority first; --wait until done (exit 1 when some cannot move: each is named with "
          "the reason and keeps running there).",
          0 },
        { "host", "undrain", cli_host_undrain, "NAME", O(FORMAT), 0, "NAME " FORMAT_USAGE,
          "End a host's drain: it takes new VMs again.", 0 },
        { "host", "stats", cli_host_stats, "NAME", O(STATS_LIMIT) | O(FORMAT), 0,
          "NAME " STATS_USAGE,
          "Show a host's measured CPU, memory and load, then their recent history.", 0 },

        { "placement", "explain", cli_placement_explain, "NAME", O(FORMAT), 0,
          "NAME " FORMAT_USAGE,
          "Show an instance's placement, and where it would go now, host by host.", 0 },
        { "placement", "config show", cli_placement_config_show, NULL, O(FORMAT), 0,
          FORMAT_USAGE, "Show the cluster's placement settings.", 0 },
        { "placement", "config set", cli_placement_config_set, NULL,
          PLACEMENT_SET_OPTIONS | O(FORMAT), 0,
          RATIO_USAGE " [--mode spread|pack] [--weight NAME=X]... " FORMAT_USAGE,
          "Change the cluster's placement settings.", PLACEMENT_SET_OPTIONS },

        { "server-group", "create", cli_server_group_create, "NAME", O(POLICY) | O(FORMAT),
          O(POLICY), "NAME --policy affinity|anti-affinity|soft-affinity|soft-anti-affinity "
          FORMAT_USAGE, "Create a server group, whose members are kept together or apart.", 0 },
        { "server-group", "list", cli_server_group_list, NULL, O(FORMAT), 0, FORMAT_USAGE,
          "List the server groups.", 0 },
        { "server-group", "show", cli_server_group_show, "NAME", O(FORMAT), 0,
          "NAME " FORMAT_USAGE, "Show a server group and where its members are.", 0 },
        { "server-group", "delete", cli_server_group_delete, "NAME", 0, 0, "NAME",
          "Delete a server group that has no members.", 0 },

        { "scaling-group", "create", cli_scaling_group_create, "NAME",
          O(FLAVOR) | O(IMAGE) | O(USER_DATA) | GROUP_SIZE_OPTIONS | O(PRIORITY) | O(ELASTIC) |
                  O(NO_SPREAD) | O(NETWORK) | O(FORMAT),
          O(FLAVOR) | O(IMAGE),
          "NAME --flavor FLAVOR --image IMAGE [--user-data FILE] " GROUP_SIZE_USAGE " "
          "[--priority N|low|normal|high] [--elastic on|off] [--no-spread] [--network NAME]... " FORMAT_USAGE,
          "Create a scaling group: tided keeps its desired number of members, NAME-1, ...",
          0 },
        { "scaling-group", "list", cli_scaling_group_list, NULL, O(FORMAT), 0, FORMAT_USAGE,
          "List the scaling groups.", 0 },
        { "scaling-group", "show", cli_scaling_group_show, "NAME", O(FORMAT), 0,
          "NAME " FORMAT_USAGE,
          "Show a scaling group: members, policies seen by the autoscaler, decisions, events.",
          0 },
        { "scaling-group", "set", cli_scaling_group_set, "NAME", GROUP_SIZE_OPTIONS | O(FORMAT), 0,
          "NAME " GROUP_SIZE_USAGE " " FORMAT_USAGE,
          "Change a scaling group's size: its bounds, or the members wanted now.",
          GROUP_SIZE_OPTIONS },
        { "scaling-group", "delete", cli_scaling_group_delete, "NAME", 0, 0, "NAME",
          "Delete a scaling group and its members.", 0 },
        { "scaling-group", "policy add", cli_scaling_group_policy_add, "GROUP",
          SCALING_OPTIONS | O(FORMAT), O(METRIC) | O(ADJUST),
          "GROUP --metric cpu|memory|FIGURE --above X|--below X --adjust +N|-N|=N|+N%|-N% "
          "[--stat avg|max|min] [--for DURATION] [--cooldown DURATION] "
          "[--victim newest|oldest|least-loaded] [--name NAME] " FORMAT_USAGE,
          "Add a scaling policy: when the members' metric stays above or below X, resize.", 0 },
        { "scaling-group", "policy delete", cli_scaling_group_policy_delete, "GROUP POLICY", 0, 0,
          "GROUP POLICY", "Delete a scaling group's scaling policy.", 0 },

        { "stack", "create", cli_stack_create, "NAME", O(TEMPLATE) | O(PARAMETER) | O(FORMAT), O(TEMPLATE),
          "NAME --template FILE [--parameter KEY=VALUE]... " FORMAT_USAGE,
          "Create the scaling groups of a Heat template (named NAME-<resource>), all or none.", 0 },
        { "stack", "list", cli_stack_list, NULL, O(FORMAT), 0, FORMAT_USAGE, "List the stacks.", 0 },
        { "stack", "show", cli_stack_show, "NAME", O(FORMAT), 0, "NAME " FORMAT_USAGE,
          "Show a stack: its parameters and its scaling groups.", 0 },
        { "stack", "delete", cli_stack_delete, "NAME", 0, 0, "NAME",
          "Delete a stack with its scaling groups and their members.", 0 },
        { "event", "list", cli_event_list, NULL,
          O(INSTANCE) | O(SCALING_GROUP) | O(LIMIT) | O(FORMAT), 0,
          "[--instance NAME | --scaling-group NAME] [--limit N] " FORMAT_USAGE,
          "List events, oldest first.", 0 },

        /* A noun's own command: no verb. */
        { "metrics", "", cli_metrics, NULL, 0, 0, "",
          "Print tided's Prometheus metrics (GET /metrics) as they are.", 0 },
};
/* clang-format on */

const size_t cli_n_commands = ELEMENTSOF(cli_commands);

/* "group" was the scaling groups' noun before "server group" and "scaling group" were told
 * apart; scripts that say it keep working. */
const struct cli_noun_alias cli_noun_aliases[] = {
        { "group", "scaling-group" },
};
const size_t cli_n_noun_aliases = ELEMENTSOF(cli_noun_aliases);

const char *cli_noun_resolve(const char *word) {
        for (size_t i = 0; i < cli_n_noun_aliases; i++)
                if (streq(cli_noun_aliases[i].alias, word))
                        return cli_noun_aliases[i].noun;
        return word;
}

const struct cli_command *cli_noun_command(const char *noun) {
        for (size_t i = 0; i < cli_n_commands; i++)
                if (streq(cli_commands[i].noun, noun) && !*cli_commands[i].verb)
                        return &cli_commands[i];
        return NULL;
}

bool cli_noun_exists(const char *noun) {
        for (size_t i = 0; i < cli_n_commands; i++)
                if (streq(cli_commands[i].noun, noun))
                        return true;
        return false;
}
