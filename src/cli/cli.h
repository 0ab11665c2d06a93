/* cli.h — the tide command-line client: commands, their options, and the API context.
 *
 * A command is one row of a declarative table (tide.c): a noun, a verb, the handler, the
 * options it accepts and requires, its usage line and its help. cli_args_parse() turns a
 * command's argv into a struct cli_args with getopt_long, without I/O, so that parsing is
 * unit-tested; handlers then talk to tided through cli_api_*() (cli_api.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/cli_output.h"

/* Process exit statuses. Handlers return one of these, not -errno: the exit status is the
 * CLI's contract with scripts, and every failure has already been reported on stderr. */
enum cli_exit {
        CLI_EXIT_OK = 0,
        CLI_EXIT_FAILURE = 1, /* an API, connection, wait or local error (reported) */
        CLI_EXIT_USAGE = 2,   /* unknown command or option, missing or bad argument */
};

/* Every option any command knows; a command accepts a subset (a cli_optmask). Two
 * options may share a long name ("--disk" is GiB for flavors, a file for images) as long as
 * no command accepts both; so may an option and another's old name (--group was the server
 * group of instance create and the scaling group of event list). */
enum cli_opt {
        CLI_OPT_FORMAT,
        CLI_OPT_VCPUS,
        CLI_OPT_RAM,
        CLI_OPT_DISK_GIB,
        CLI_OPT_MAX_VCPUS,
        CLI_OPT_MAX_RAM,
        CLI_OPT_DISK_FILE,
        CLI_OPT_KERNEL,
        CLI_OPT_INITRD,
        CLI_OPT_CMDLINE,
        CLI_OPT_FLAVOR,
        CLI_OPT_IMAGE,
        CLI_OPT_USER_DATA,
        CLI_OPT_PRIORITY,
        CLI_OPT_HA,
        CLI_OPT_WAIT,
        CLI_OPT_TIMEOUT,
        CLI_OPT_FOLLOW,
        CLI_OPT_INSTANCE,
        CLI_OPT_LIMIT,
        CLI_OPT_CPU_POLICY,
        CLI_OPT_HUGEPAGES,
        CLI_OPT_HINT,
        CLI_OPT_SERVER_GROUP, /* --server-group of instance create (old name --group) */
        CLI_OPT_DRY_RUN,
        CLI_OPT_CPU_RATIO,
        CLI_OPT_RAM_RATIO,
        CLI_OPT_DISK_RATIO,
        CLI_OPT_RESERVED_CPUS,
        CLI_OPT_RESERVED_RAM,
        CLI_OPT_MODE,
        CLI_OPT_WEIGHT,
        CLI_OPT_POLICY,
        CLI_OPT_LABEL,
        CLI_OPT_UNLABEL,
        CLI_OPT_DRAIN,
        CLI_OPT_UNDRAIN,
        CLI_OPT_CPU_RESERVATION,
        CLI_OPT_CPU_LIMIT,
        CLI_OPT_MEM_RESERVATION,
        CLI_OPT_MEM_LIMIT,
        CLI_OPT_ELASTIC,
        CLI_OPT_STATS_LIMIT, /* --limit of the stats: history entries, up to 10000 */
        /* Scaling groups. */
        CLI_OPT_MIN_SIZE, /* --min, --max, --desired: members */
        CLI_OPT_MAX_SIZE,
        CLI_OPT_DESIRED,
        CLI_OPT_NO_SPREAD,
        CLI_OPT_METRIC,
        CLI_OPT_ABOVE,
        CLI_OPT_BELOW,
        CLI_OPT_ADJUST,
        CLI_OPT_STAT,
        CLI_OPT_FOR,
        CLI_OPT_COOLDOWN,
        CLI_OPT_VICTIM,
        CLI_OPT_POLICY_NAME,    /* --name of a scaling policy */
        CLI_OPT_SCALING_GROUP,  /* --scaling-group of event list (old name --group) */
        CLI_OPT_TEMPLATE,       /* --template of stack create */
        CLI_OPT_PARAMETER,      /* --parameter KEY=VALUE of stack create */
        CLI_OPT_FROM_HOST_PATH, /* image create: files are paths on tided's host */
        /* Live migration. */
        CLI_OPT_TO,           /* --to HOST */
        CLI_OPT_BANDWIDTH,    /* --bandwidth MIB_S */
        CLI_OPT_MAX_DOWNTIME, /* --max-downtime MS */
        CLI_OPT_CANCEL,       /* --cancel */
        /* Networks. */
        CLI_OPT_CIDR,     /* --cidr A.B.C.D/N */
        CLI_OPT_GATEWAY,  /* --gateway IP|none */
        CLI_OPT_DNS,      /* --dns IP (repeatable) */
        CLI_OPT_NET_TYPE, /* --type vxlan|vlan|flat */
        CLI_OPT_VNI,      /* --vni N */
        CLI_OPT_VLAN,     /* --vlan ID */
        CLI_OPT_PHYSDEV,  /* --physdev IF */
        CLI_OPT_BRIDGE,   /* --bridge BR */
        CLI_OPT_NETWORK,  /* --network NAME[:ip=A.B.C.D] (repeatable) */
        CLI_OPT_MAX,
};

/* A set of options: one bit per option (CLI_F), 128 of them. An integer type, so that the
 * command table's masks stay constant expressions built with |; unsigned __int128 is GCC's
 * and Clang's, the compilers tide builds with. */
typedef unsigned __int128 cli_optmask;
#define CLI_F(opt) ((cli_optmask) 1 << (opt))
_Static_assert(CLI_OPT_MAX <= 128, "cli_optmask holds 128 options");

/* The placement weighers --weight NAME=X names, in the API's order. */
enum cli_weight {
        CLI_WEIGHT_RAM,
        CLI_WEIGHT_CPU,
        CLI_WEIGHT_LOAD,
        CLI_WEIGHT_NUMA,
        CLI_WEIGHT_SOFT_AFFINITY,
        CLI_WEIGHT_MAX,
};

/* "ram", "cpu", "load", "numa", "soft_affinity": the API's names. */
const char *cli_weight_name(enum cli_weight w);

/* The API's limits on repeatable options: hints per instance, labels per host. */
#define CLI_HINTS_MAX 8
#define CLI_LABELS_MAX 16
/* Keys and values of hints and labels: 1-63 characters of A-Z a-z 0-9 . _ - (the API's). */
#define CLI_LABEL_MAX 63
/* The word that resets a setting (ratio, reserve, weight, elastic policy) to the cluster's or
 * the default. */
#define CLI_RESET_WORD "default"

/* Default for --timeout, in seconds. */
#define CLI_WAIT_TIMEOUT_DEFAULT_S 300
/* The API's limit on user_data, in bytes. */
#define CLI_USER_DATA_MAX (64 * 1024)
/* A Heat template: at most 1 MiB (tided's limit); at most 64 --parameter options. */
#define CLI_TEMPLATE_MAX (1024 * 1024)
#define CLI_PARAMETERS_MAX 64
/* The API's limit on a scaling group's members (--min, --max, --desired, --adjust =N). */
#define CLI_SCALING_GROUP_MEMBERS_MAX 1000
/* The API's limit on a scaling policy's --for and --cooldown, in seconds (a day). */
#define CLI_DURATION_MAX_S 86400
/* The API's limits: networks (ports) per instance, DNS servers per network. */
#define CLI_NETWORKS_MAX 8
#define CLI_DNS_MAX 4
/* The word of --gateway for a network without one. */
#define CLI_GATEWAY_NONE "none"
/* Operands a command may take (NAME; GROUP POLICY). */
#define CLI_OPERANDS_MAX 2

/* The parsed arguments of one command. Strings point into the argv that was parsed. A
 * numeric option that was not given is 0; `given` has the bit of every option seen. */
struct cli_args {
        const char *name;  /* the first operand (NAME), for commands that take one */
        const char *name2; /* the second operand (POLICY of policy delete) */
        cli_optmask given; /* CLI_F(opt) for each option seen */
        cli_optmask reset; /* CLI_F(opt) of settings given as "default" */
        enum cli_format format;
        int64_t vcpus, ram_mib, disk_gib, max_vcpus, max_ram_mib;
        const char *disk_file, *kernel, *initrd, *cmdline;
        bool from_host_path;
        const char *flavor, *image, *user_data_file;
        int64_t priority;
        bool ha, wait, follow;
        int64_t timeout_s; /* CLI_WAIT_TIMEOUT_DEFAULT_S unless --timeout */
        const char *instance;
        int64_t limit;
        /* Placement. Repeatable options keep their words in order; KEY=VALUE words have been
         * checked (cli_parse_label()). */
        const char *cpu_policy; /* "shared" or "dedicated" */
        bool hugepages, dry_run, drain, undrain;
        const char *hints[CLI_HINTS_MAX];
        size_t n_hints;
        const char *server_group; /* --server-group of instance create */
        double cpu_ratio, ram_ratio, disk_ratio;
        int64_t reserved_cpus, reserved_ram_mib;
        const char *mode; /* "spread" or "pack" */
        double weights[CLI_WEIGHT_MAX];
        unsigned weights_given;             /* 1u << enum cli_weight of each --weight */
        unsigned weights_reset;             /* of those, the ones given as NAME=default */
        const char *policy;                 /* a server group policy */
        const char *labels[CLI_LABELS_MAX]; /* "KEY=VALUE" */
        size_t n_labels;
        const char *unlabels[CLI_LABELS_MAX]; /* "KEY" */
        size_t n_unlabels;
        /* The elastic policy (instances) and --elastic (instances, hosts); "default" sets the
         * option's bit in `reset` instead. */
        double cpu_reservation, cpu_limit; /* cores */
        int64_t mem_reservation_mib, mem_limit_mib;
        bool elastic;        /* --elastic on */
        int64_t stats_limit; /* --limit of the stats */
        /* Scaling groups and their scaling policies. */
        int64_t min_size, max_size, desired; /* members */
        bool no_spread;
        const char *metric;        /* checked: 1-63 of a-z 0-9 _ */
        double threshold;          /* of --above or --below, whichever was given */
        const char *adjust;        /* checked (cli_parse_adjust()) */
        const char *stat;          /* "avg", "max" or "min" */
        int64_t for_s, cooldown_s; /* seconds */
        const char *victim;        /* "newest", "oldest" or "least-loaded" */
        const char *policy_name;
        const char *scaling_group; /* --scaling-group of event list */
        /* Live migration. */
        const char *to;
        int64_t bandwidth_mib_s, max_downtime_ms;
        bool cancel;
        /* Networks. */
        const char *cidr, *gateway, *net_type, *physdev, *bridge;
        int64_t vni, vlan;
        const char *dns[CLI_DNS_MAX];
        size_t n_dns;
        const char *networks[CLI_NETWORKS_MAX]; /* NAME[:ip=A.B.C.D], checked */
        size_t n_networks;
        /* Stacks. */
        const char *template_file;
        const char *parameters[CLI_PARAMETERS_MAX]; /* "KEY=VALUE", KEY not empty */
        size_t n_parameters;
};

struct cli_ctx;

/* One command. Its verb is one word ("list") or two separated by one space ("config show":
 * `tide placement config show`); cli_command_find() matches either against the command line.
 * A noun with no verbs has one command of verb "" (`tide metrics`). */
struct cli_command {
        const char *noun;
        const char *verb;
        int (*run)(struct cli_ctx *ctx, const struct cli_args *args);
        const char *operands; /* the operands it takes, each of them required, by the
                                       * names the usage and the errors give them: "NAME",
                                       * "GROUP POLICY" (at most CLI_OPERANDS_MAX); NULL: none */
        cli_optmask options;  /* CLI_F() of the options accepted (-h always is) */
        cli_optmask required; /* CLI_F() of the options that must be given */
        const char *usage;    /* what follows "tide NOUN VERB" */
        const char *help;     /* one line */
        cli_optmask one_of;   /* CLI_F() of options at least one of which must be given
                                       * (0: no such rule); for commands that change settings */
};

/* Finds the command of table[0..n) that names noun and whose verb is the first word, or the
 * first two words, of words[0..nwords) (the command line after the noun). A one-word verb is
 * tried before a two-word one. Returns the command with *ret_nwords set to the words its verb
 * took (1 or 2), or NULL. Pure. */
const struct cli_command *cli_command_find(const struct cli_command *table, size_t n, const char *noun, int nwords,
                                           char *const *words, int *ret_nwords);
/* Whether word is the first word of a two-word verb of noun ("config" for "config show"). */
bool cli_verb_is_first_word(const struct cli_command *table, size_t n, const char *noun, const char *word);

/* tide's command table (cli_commands.c): cli_n_commands rows, in the order the help lists
 * them. */
extern const struct cli_command cli_commands[];
extern const size_t cli_n_commands;
/* The old names of nouns, kept as aliases: `tide group ...` is `tide scaling-group ...`.
 * cli_n_noun_aliases rows; the help lists them after the commands. */
struct cli_noun_alias {
        const char *alias;
        const char *noun;
};
extern const struct cli_noun_alias cli_noun_aliases[];
extern const size_t cli_n_noun_aliases;
/* The noun that word names: the noun of its alias, or word itself. Pure. */
const char *cli_noun_resolve(const char *word);
/* The command of a noun that has no verbs ("tide metrics"), or NULL. */
const struct cli_command *cli_noun_command(const char *noun);
/* Whether some command has that noun. */
bool cli_noun_exists(const char *noun);

/* What cli_args_parse() found besides plain success. */
enum {
        CLI_ARGS_OK = 0,
        CLI_ARGS_HELP = 1, /* -h/--help was given: print help, exit 0 */
};

/* Parses argv of one command (argv[0] is the verb; options and the operands follow in any
 * order) against cmd's operands and its accepted and required options. Uses getopt_long
 * (resetting its state) with its own messages turned off. Returns CLI_ARGS_OK with *ret filled,
 * CLI_ARGS_HELP, or -EINVAL with *ret_error a new string naming the problem (caller frees).
 * Does no I/O. */
int cli_args_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *ret, char **ret_error);

/* Parses a duration: a whole number with an optional unit s, m or h ("90", "90s", "5m",
 * "1h"), 0 to CLI_DURATION_MAX_S seconds. Returns 0 with *ret set in seconds, -EINVAL (not a
 * duration) or -ERANGE (too long). Pure. */
int cli_parse_duration(const char *s, int64_t *ret);

/* Checks a scaling policy's adjustment: +N or -N (members), =N (exactly N members, at most
 * CLI_SCALING_GROUP_MEMBERS_MAX), +N% or -N% (of the desired size); N of 1-6 digits, not 0
 * but for =0. The API's rule. Returns 0 or -EINVAL. Pure. */
int cli_parse_adjust(const char *s);

/* Parses a priority: an integer 1-1000 or low (250), normal (500), high (750).
 * Returns 0 with *ret set, or -EINVAL / -ERANGE. */
int cli_parse_priority(const char *s, int64_t *ret);

/* Parses a decimal number (strtod): the whole string, finite, no leading space, no hex, inf
 * or nan. Returns 0 with *ret set, -EINVAL (not a number) or -ERANGE (overflows). */
int cli_parse_double(const char *s, double *ret);

/* Checks a KEY=VALUE word (a hint or a label): KEY and VALUE 1-63 characters of A-Z a-z 0-9
 * . _ -. Returns 0 with *ret_key_len the length of KEY, or -EINVAL. */
int cli_parse_label(const char *s, size_t *ret_key_len);
/* Checks a label KEY alone (--unlabel). Returns 0 or -EINVAL. */
int cli_parse_label_key(const char *s);

/* Prints "Usage: tide NOUN VERB USAGE", the help line and the accepted options to f. */
void cli_command_help(FILE *f, const struct cli_command *cmd);

/* The connection to tided that handlers use; built by main() from the global options. */
struct cli_ctx {
        struct cli_http *http;
};

/* Flags of cli_api_call(). */
enum {
        CLI_API_QUIET_NOT_FOUND = 1u << 0, /* a 404 is expected: return it without a message */
};

/* Prints "tide: error: MESSAGE" on stderr. */
void cli_error(const char *fmt, ...) _printf_(1, 2);

struct cli_http_part;
/* POSTs a multipart/form-data body of parts[0..n) (files streamed from disk: cli_http.h) to
 * path, without a deadline. Answers and failures as cli_api_call(); a file that cannot be read
 * is reported and -EINVAL. */
int cli_api_upload(struct cli_ctx *ctx, const char *path, const struct cli_http_part *parts, size_t n, json_t **ret);
/* Sends METHOD PATH with body (NULL for none; not stolen) to tided and waits at most
 * timeout_ms (0: no limit) for the answer. On a 2xx answer returns its status and sets *ret
 * (may be NULL) to the parsed JSON body, or to NULL when there is none (204); the caller
 * owns it. Every failure is reported on stderr ("tide: error: MESSAGE (CODE)" for API
 * errors) and returned: TIDE_E_NOT_FOUND for 404 (silent with CLI_API_QUIET_NOT_FOUND),
 * -EPROTO for other API errors and malformed answers, the transport's -errno otherwise. */
int cli_api_call(struct cli_ctx *ctx, const char *method, const char *path, const json_t *body, unsigned flags,
                 int64_t timeout_ms, json_t **ret);

/* GETs path and hands its raw body out (*ret_body NUL-terminated, caller frees; *ret_len
 * its length). Errors as cli_api_call(). */
int cli_api_get_text(struct cli_ctx *ctx, const char *path, char **ret_body, size_t *ret_len);

/* Percent-encodes s for use as one path segment or query value: everything but RFC 3986's
 * unreserved characters, and the dots of "." and "..". Returns a new string. */
char *cli_escape(const char *s);

/* The generic verbs, each returning an enum cli_exit after reporting any failure.
 * cli_run_list GETs path and prints the array under key (as cols, or JSON); cli_run_show
 * GETs /v1/COLLECTION/NAME and prints it; cli_run_delete DELETEs it and prints nothing;
 * cli_print_answer prints an object the API answered with. */
int cli_run_list(struct cli_ctx *ctx, const char *path, const char *key, const struct cli_column *cols, size_t ncols,
                 enum cli_format format);
int cli_run_show(struct cli_ctx *ctx, const char *collection, const char *name, enum cli_format format);
int cli_run_delete(struct cli_ctx *ctx, const char *collection, const char *name);
int cli_print_answer(struct cli_ctx *ctx, const json_t *obj, enum cli_format format);

/* How far a waited-for instance operation is (cli_wait_check()). */
enum cli_wait_state {
        CLI_WAIT_PENDING,
        CLI_WAIT_DONE,
        CLI_WAIT_FAILED,
};

/* Decides, from one GET of an instance, whether the operation whose end state is want
 * ("running", "stopped" or "deleted") has finished. It has when `task` is null: DONE if
 * `status` is want; FAILED, with *ret_reason a new string, if `status` is `error` (the
 * reason is the instance's `error`) or if `desired` is no longer want (someone asked for
 * something else). While a task runs it is PENDING, even in status `error` (a start may be
 * retrying an instance that failed before). For "deleted" an instance that still exists is
 * PENDING unless it is in status `error` with no task: deletion is seen as a 404 by the
 * caller. Pure. */
enum cli_wait_state cli_wait_check(const json_t *instance, const char *want, char **ret_reason);

/* Handlers (cli_cmd_*.c). Each returns an enum cli_exit. */
int cli_flavor_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_flavor_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_flavor_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_flavor_delete(struct cli_ctx *ctx, const struct cli_args *a);
int cli_image_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_image_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_image_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_image_delete(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_start(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_stop(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_reboot(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_migrate(struct cli_ctx *ctx, const struct cli_args *a);
int cli_host_drain(struct cli_ctx *ctx, const struct cli_args *a);
int cli_host_undrain(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_delete(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_set(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_stats(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_console(struct cli_ctx *ctx, const struct cli_args *a);
int cli_host_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_host_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_host_set(struct cli_ctx *ctx, const struct cli_args *a);
int cli_host_stats(struct cli_ctx *ctx, const struct cli_args *a);
int cli_metrics(struct cli_ctx *ctx, const struct cli_args *a);
int cli_placement_explain(struct cli_ctx *ctx, const struct cli_args *a);
int cli_placement_config_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_placement_config_set(struct cli_ctx *ctx, const struct cli_args *a);
int cli_server_group_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_server_group_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_server_group_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_server_group_delete(struct cli_ctx *ctx, const struct cli_args *a);
int cli_scaling_group_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_scaling_group_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_scaling_group_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_scaling_group_set(struct cli_ctx *ctx, const struct cli_args *a);
int cli_scaling_group_delete(struct cli_ctx *ctx, const struct cli_args *a);
int cli_scaling_group_policy_add(struct cli_ctx *ctx, const struct cli_args *a);
int cli_scaling_group_policy_delete(struct cli_ctx *ctx, const struct cli_args *a);
int cli_stack_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_stack_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_stack_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_stack_delete(struct cli_ctx *ctx, const struct cli_args *a);

int cli_network_create(struct cli_ctx *ctx, const struct cli_args *a);
int cli_network_list(struct cli_ctx *ctx, const struct cli_args *a);
int cli_network_show(struct cli_ctx *ctx, const struct cli_args *a);
int cli_network_delete(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_port_add(struct cli_ctx *ctx, const struct cli_args *a);
int cli_instance_port_remove(struct cli_ctx *ctx, const struct cli_args *a);

/* Networks (cli_network.c). */
/* Stores the value of a network option (CLI_OPT_CIDR .. CLI_OPT_NETWORK) into a, after the
 * checks the CLI can make alone (the form of a --network word, the counts of --dns and
 * --network, the ranges of --vni and --vlan); tided checks the rest. 0, or -EINVAL with
 * *ret_error a new message. Pure. */
int cli_network_option(enum cli_opt id, const char *arg, struct cli_args *a, char **ret_error);
/* Parses a --network word, NAME or NAME:ip=A.B.C.D (NAME: 1-63 characters of A-Z a-z 0-9 .
 * _ -, or an id). Returns 0 with *ret_name_len the length of NAME and *ret_ip the address
 * (pointing into s) or NULL; -EINVAL when malformed. Pure. */
int cli_parse_network_spec(const char *s, size_t *ret_name_len, const char **ret_ip);
/* {"network": NAME, "ip": A.B.C.D (when given)} of a checked --network word. New object. */
json_t *cli_network_request(const char *spec);

/* Reads a user-data file: UTF-8 text without NUL bytes, at most CLI_USER_DATA_MAX bytes.
 * Returns a new JSON string, or NULL after reporting the problem on stderr. */
json_t *cli_read_user_data(const char *path);

/* The members of a settings PATCH that host set and placement config set share: cpu_ratio,
 * ram_ratio, disk_ratio, reserved_cpus and reserved_ram_mib, for each option given, null for
 * those given as "default". Returns a new object. */
json_t *cli_settings_body(const struct cli_args *a);

/* The elastic policy of an instance create or set: priority, cpu_reservation, cpu_limit (cores,
 * reals), mem_reservation, mem_limit (MiB, integers) and elastic (a boolean), for each option
 * given. An option given as "default" is null when resets is true (a PATCH resets it), and
 * left out otherwise (a create gets the default anyway). Returns a new object. Pure. */
json_t *cli_policy_body(const struct cli_args *a, bool resets);

/* Prints the answer of GET /v1/instances/{name}/stats: FIELD VALUE rows (name, id, host, when
 * the newest sample was taken and, when now_ms > 0, how long before now_ms; then its figures:
 * CPU used and ready in cores, the busiest vCPU, vCPUs online/max, the balloon and its
 * maximum, the guest's usable, available and unused memory and the host's RSS in MiB,
 * demand, entitlement, the elastic loop's actions), a figure the sample lacks printed as
 * "-"; then, when `history` has entries, a blank line and TIME CPU READY VCPUS BALLOON
 * USABLE rows, TIME relative to the newest sample ("-3s"). With CLI_FORMAT_JSON the answer
 * as it is. Returns 0, -EINVAL (not an object) or -EIO. Pure. */
int cli_stats_print_instance(FILE *f, enum cli_format format, const json_t *answer, int64_t now_ms);
/* Prints the answer of GET /v1/hosts/{name}/stats as cli_stats_print_instance() does: host,
 * sample time, CPUs, busy, idle and iowait cores, memory total, available and free in MiB,
 * the load averages, the VMs; then TIME BUSY IDLE IOWAIT AVAILABLE LOAD1 rows. Pure. */
int cli_stats_print_host(FILE *f, enum cli_format format, const json_t *answer, int64_t now_ms);
/* A time offset in milliseconds as whole seconds for people, rounded: "0s", "-3s", "+12s",
 * "-2m05s", "-1h03m". New string. */
char *cli_format_relative(int64_t ms);

/* Prints a host (GET /v1/hosts/{name}) in table form: its own members as FIELD VALUE rows,
 * then its NUMA nodes (NODE CPUS MEM HUGEPAGES BOUND_RAM HUGEPAGES_USED, usage from
 * allocation.numa), its settings (`config`, labels as labels.KEY) and its allocation; with
 * CLI_FORMAT_JSON the host as it is. Returns 0, -EINVAL (not an object) or -EIO. Pure. */
int cli_host_print(FILE *f, enum cli_format format, const json_t *host);
/* Prints a server group: its members as FIELD VALUE rows, then INSTANCE HOST rows of its
 * `members`; or the group as JSON. Returns 0, -EINVAL (not an object) or -EIO. Pure. */
int cli_server_group_print(FILE *f, enum cli_format format, const json_t *group);

/* A scaling group (an autoscaling group), pure (cli_scaling_group.c).
 *
 * cli_scaling_group_body() is the POST /v1/scaling-groups body of scaling-group create: name,
 * flavor and image, and min, max, desired, priority and elastic when given (a "default"
 * priority or elastic sends nothing), spread false with --no-spread; not user_data, which the
 * caller reads. With sizes_only, the PATCH body of scaling-group set: min, max and desired,
 * those given. Returns a new object, or NULL when a string is not UTF-8. */
json_t *cli_scaling_group_body(const struct cli_args *a, bool sizes_only);
/* The POST /v1/scaling-groups/NAME/policies body: metric, adjust, above or below (a real),
 * and stat, for_s, cooldown_s, victim and name when given. Returns a new object, or NULL when
 * a string is not UTF-8. */
json_t *cli_scaling_policy_body(const struct cli_args *a);
/* A policy's condition for people: "cpu avg > 80 for 300s" ("for" left out when for_s is 0).
 * New string. */
char *cli_scaling_policy_condition(const json_t *policy);
/* Prints a scaling group (GET /v1/scaling-groups/NAME): its fields as FIELD VALUE rows (not
 * the lists), then MEMBER STATUS HOST LEAVING rows, POLICY CONDITION ADJUST COOLDOWN VALUE HELD
 * COOLDOWN_LEFT rows (what the autoscaler sees now: the aggregate value, how long the condition
 * has held, "-" when it does not, the cooldown left in whole seconds rounded up, "-" when
 * none), the last decisions (TIME POLICY FROM TO REASON) and the last events (TIME TYPE
 * INSTANCE MESSAGE), each table after a blank line. With CLI_FORMAT_JSON the group as it is.
 * Returns 0, -EINVAL (not an object) or -EIO. */
int cli_scaling_group_print(FILE *f, enum cli_format format, const json_t *group);
/* A stack as tide stack show prints it: its fields, then its scaling groups (GROUP MIN MAX
 * DESIRED MEMBERS POLICIES). 0, -EINVAL for a non-object, -EIO. */
int cli_stack_print(FILE *f, enum cli_format format, const json_t *stack);

/* Pure printers of the placement answers (cli_placement.c), unit-tested.
 *
 * cli_placement_print() prints a placement explanation, the answer of a dry run or of GET
 * /v1/instances/{ref}/placement: FIELD VALUE rows (instance; for the recorded placement also
 * status, reason and placement; then the decision placing it now would make, or the
 * no-valid-host reason), a blank line, and one row per host: HOST RESULT FILTER SCORE
 * DETAIL, a missing member printed as "-". With CLI_FORMAT_JSON the answer as it is. Returns
 * 0, -EINVAL (not an object) or -EIO. */
int cli_placement_print(FILE *f, enum cli_format format, const json_t *answer);
/* Whether the answer holds a decision (a host was found). */
bool cli_placement_found(const json_t *answer);
/* A decision {"host","numa_node","pinned","score"} as one line: "host node2, NUMA node 0,
 * pinned CPUs 4-5, score 0.82"; "-" for NULL or null. New string. */
char *cli_placement_describe(const json_t *decision);
/* A list of CPU numbers as ranges: [0,1,2,5,7,8] -> "0-2,5,7-8"; "-" when empty or not a
 * list of integers. New string. */
char *cli_format_cpu_list(const json_t *cpus);
/* A number for people: whole numbers without decimals, others with at most 3, trailing
 * zeros dropped (0.61, 2, -0.125). New string. */
char *cli_format_number(double d);
int cli_event_list(struct cli_ctx *ctx, const struct cli_args *a);
