/* tide.c — the tide command-line client: global options, the command table, dispatch.
 *
 *   tide [--url URL] [--token TOKEN] [--socket PATH] NOUN VERB [ARGS]
 *
 * Exit status: 0 success, 1 failure (reported on stderr), 2 usage error. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>

#include "cli/cli.h"
#include "cli/cli_http.h"
#include "common/errors.h"

#ifndef TIDE_VERSION
#define TIDE_VERSION "0.1.0"
#endif

#define DEFAULT_STATE_DIR "/var/lib/tide"
#define TOKEN_FILE_MAX 4096

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
static const struct cli_command commands[] = {
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
          O(DISK_FILE) | O(KERNEL) | O(INITRD) | O(CMDLINE) | O(FORMAT), O(DISK_FILE),
          "NAME --disk FILE [--kernel FILE [--initrd FILE] [--cmdline STR]] " FORMAT_USAGE,
          "Register an image: tided copies the files (read on its host) into its image store.",
          0 },
        { "image", "list", cli_image_list, NULL, O(FORMAT), 0, FORMAT_USAGE,
          "List the images.", 0 },
        { "image", "show", cli_image_show, "NAME", O(FORMAT), 0, "NAME " FORMAT_USAGE,
          "Show one image, by name or id.", 0 },
        { "image", "delete", cli_image_delete, "NAME", 0, 0, "NAME",
          "Delete an image that no instance uses.", 0 },

        { "instance", "create", cli_instance_create, "NAME",
          O(FLAVOR) | O(IMAGE) | O(USER_DATA) | O(PRIORITY) | POLICY_OPTIONS | O(HA) | O(HINT) |
                  O(GROUP) | O(DRY_RUN) | O(WAIT) | O(TIMEOUT) | O(FORMAT),
          O(FLAVOR) | O(IMAGE),
          "NAME --flavor FLAVOR --image IMAGE [--user-data FILE] "
          "[--priority N|low|normal|high] " POLICY_USAGE " [--ha] [--hint KEY=VALUE]... "
          "[--group NAME] [--dry-run | --wait [--timeout SECONDS]] " FORMAT_USAGE,
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
        { "instance", "delete", cli_instance_delete, "NAME", O(WAIT) | O(TIMEOUT), 0,
          "NAME " WAIT_USAGE, "Delete an instance and its disk.", 0 },
        { "instance", "console", cli_instance_console, "NAME", O(FOLLOW), 0, "NAME [--follow]",
          "Print the instance's serial console log.", 0 },

        { "host", "list", cli_host_list, NULL, O(FORMAT), 0, FORMAT_USAGE,
          "List the hosts.", 0 },
        { "host", "show", cli_host_show, "NAME", O(FORMAT), 0, "NAME " FORMAT_USAGE,
          "Show one host: its NUMA nodes, settings and allocation.", 0 },
        { "host", "set", cli_host_set, "NAME", HOST_SET_OPTIONS | O(FORMAT), 0,
          "NAME [--label KEY=VALUE]... [--unlabel KEY]... " RATIO_USAGE " [--drain|--undrain] "
          "[--elastic on|off] " FORMAT_USAGE,
          "Change a host's labels, ratios, reserves, draining or elastic loop.",
          HOST_SET_OPTIONS },
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

        { "group", "create", cli_group_create, "NAME",
          O(FLAVOR) | O(IMAGE) | O(USER_DATA) | GROUP_SIZE_OPTIONS | O(PRIORITY) | O(ELASTIC) |
                  O(NO_SPREAD) | O(FORMAT),
          O(FLAVOR) | O(IMAGE),
          "NAME --flavor FLAVOR --image IMAGE [--user-data FILE] " GROUP_SIZE_USAGE " "
          "[--priority N|low|normal|high] [--elastic on|off] [--no-spread] " FORMAT_USAGE,
          "Create an autoscaling group: tided keeps its desired number of members, NAME-1, ...",
          0 },
        { "group", "list", cli_group_list, NULL, O(FORMAT), 0, FORMAT_USAGE,
          "List the autoscaling groups.", 0 },
        { "group", "show", cli_group_show, "NAME", O(FORMAT), 0, "NAME " FORMAT_USAGE,
          "Show a group: members, policies as the autoscaler sees them, decisions, events.",
          0 },
        { "group", "set", cli_group_set, "NAME", GROUP_SIZE_OPTIONS | O(FORMAT), 0,
          "NAME " GROUP_SIZE_USAGE " " FORMAT_USAGE,
          "Change a group's size: its bounds, or the members wanted now.", GROUP_SIZE_OPTIONS },
        { "group", "delete", cli_group_delete, "NAME", 0, 0, "NAME",
          "Delete a group and its members.", 0 },
        { "group", "policy add", cli_group_policy_add, "GROUP", SCALING_OPTIONS | O(FORMAT),
          O(METRIC) | O(ADJUST),
          "GROUP --metric cpu|memory|FIGURE --above X|--below X --adjust +N|-N|=N|+N%|-N% "
          "[--stat avg|max|min] [--for DURATION] [--cooldown DURATION] "
          "[--victim newest|oldest|least-loaded] [--name NAME] " FORMAT_USAGE,
          "Add a scaling policy: when the members' metric stays above or below X, resize.", 0 },
        { "group", "policy delete", cli_group_policy_delete, "GROUP POLICY", 0, 0,
          "GROUP POLICY", "Delete a group's scaling policy.", 0 },

        { "stack", "create", cli_stack_create, "NAME", O(TEMPLATE) | O(PARAMETER) | O(FORMAT), O(TEMPLATE),
          "NAME --template FILE [--parameter KEY=VALUE]... " FORMAT_USAGE,
          "Create the autoscaling groups of a Heat template (named NAME-<resource>), all or none.", 0 },
        { "stack", "list", cli_stack_list, NULL, O(FORMAT), 0, FORMAT_USAGE, "List the stacks.", 0 },
        { "stack", "show", cli_stack_show, "NAME", O(FORMAT), 0, "NAME " FORMAT_USAGE,
          "Show a stack: its parameters and its groups.", 0 },
        { "stack", "delete", cli_stack_delete, "NAME", 0, 0, "NAME", "Delete a stack with its groups and their members.",
          0 },
        { "event", "list", cli_event_list, NULL,
          O(INSTANCE) | O(EVENT_GROUP) | O(LIMIT) | O(FORMAT), 0,
          "[--instance NAME | --group NAME] [--limit N] " FORMAT_USAGE,
          "List events, oldest first.", 0 },

        /* A noun's own command: no verb. */
        { "metrics", "", cli_metrics, NULL, 0, 0, "",
          "Print tided's Prometheus metrics (GET /metrics) as they are.", 0 },
};

static void print_commands(FILE *f, const char *noun) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                const struct cli_command *c = &commands[i];
                if (noun && !streq(c->noun, noun))
                        continue;
                fprintf(f, "  tide %s%s%s%s%s\n", c->noun, *c->verb ? " " : "", c->verb,
                        *c->usage ? " " : "", c->usage);
        }
}

static void main_help(FILE *f) {
        fputs("Usage: tide [--url URL] [--token TOKEN] [--socket PATH] COMMAND ...\n"
              "\n"
              "The command-line client of tided, the tide VM pool daemon.\n"
              "\n"
              "Commands:\n", f);
        print_commands(f, NULL);
        fputs("\n"
              "Options:\n"
              "  --url URL       tided's API over TCP, e.g. http://127.0.0.1:7480 (env TIDE_URL)\n"
              "  --token TOKEN   bearer token for --url (env TIDE_TOKEN; default: the contents\n"
              "                  of $TIDE_STATE_DIR/admin.token or " DEFAULT_STATE_DIR "/admin.token)\n"
              "  --socket PATH   tided's unix socket when no URL is given (env TIDE_SOCKET;\n"
              "                  default $TIDE_STATE_DIR/tided.sock or " DEFAULT_STATE_DIR "/tided.sock)\n"
              "  --version       print the version\n"
              "  -h, --help      show this help\n"
              "\n"
              "Run 'tide NOUN VERB --help' for a command's options.\n", f);
}

static void noun_help(FILE *f, const char *noun) {
        fprintf(f, "Usage: tide %s VERB ...\n\nCommands:\n", noun);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].noun, noun))
                        fprintf(f, "  %-14s %s\n", commands[i].verb, commands[i].help);
        fprintf(f, "\nRun 'tide %s VERB --help' for a command's options.\n", noun);
}

/* The command of a noun that has no verbs ("tide metrics"), or NULL. */
static const struct cli_command *noun_command(const char *noun) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].noun, noun) && !*commands[i].verb)
                        return &commands[i];
        return NULL;
}

static bool noun_exists(const char *noun) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].noun, noun))
                        return true;
        return false;
}

static const char *env(const char *name) {
        const char *v = getenv(name);
        return v && *v ? v : NULL;
}

/* The admin token tided leaves in its state directory, when this user may read it. */
static char *load_token(void) {
        const char *dir = env("TIDE_STATE_DIR") ?: DEFAULT_STATE_DIR;
        _cleanup_free_ char *path = xasprintf("%s/admin.token", dir);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (read_file(path, TOKEN_FILE_MAX, &data, &len) < 0)
                return NULL;  /* no token then: tided's 401 tells the user, with a hint */
        while (len > 0 && strchr(" \t\r\n", data[len - 1]))
                data[--len] = 0;
        return len > 0 && !memchr(data, 0, len) ? TAKE_PTR(data) : NULL;
}

static _printf_(1, 2) int usage_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        fprintf(stderr, "tide: %s\nRun 'tide --help' for usage.\n", msg);
        return CLI_EXIT_USAGE;
}

/* Finds the command that words[1..] names for the noun words[0]. Sets *ret_cmd and
 * *ret_nwords (the words of its verb) when there is one; otherwise prints the noun's help,
 * on stdout when it was asked for (returns CLI_EXIT_OK) or on stderr with the problem
 * (returns CLI_EXIT_USAGE), and leaves *ret_cmd alone. */
static int find_verb(int nwords, char **words, const struct cli_command **ret_cmd,
                     int *ret_nwords) {
        const char *noun = words[0];
        if (nwords < 2) {
                fprintf(stderr, "tide %s: missing command\n", noun);
                noun_help(stderr, noun);
                return CLI_EXIT_USAGE;
        }
        const char *verb = words[1];
        if (streq(verb, "-h") || streq(verb, "--help")) {
                noun_help(stdout, noun);
                return CLI_EXIT_OK;
        }
        const struct cli_command *cmd = cli_command_find(commands, ELEMENTSOF(commands), noun,
                                                         nwords - 1, words + 1, ret_nwords);
        if (!cmd && cli_verb_is_group(commands, ELEMENTSOF(commands), noun, verb)) {
                /* "tide placement config", "... config --help", "... config bogus" */
                const char *next = nwords > 2 ? words[2] : NULL;
                if (next && (streq(next, "-h") || streq(next, "--help"))) {
                        noun_help(stdout, noun);
                        return CLI_EXIT_OK;
                }
                if (next)
                        fprintf(stderr, "tide %s %s: unknown command '%s'\n", noun, verb, next);
                else
                        fprintf(stderr, "tide %s %s: missing command\n", noun, verb);
                noun_help(stderr, noun);
                return CLI_EXIT_USAGE;
        }
        if (!cmd) {
                fprintf(stderr, "tide %s: unknown command '%s'\n", noun, verb);
                noun_help(stderr, noun);
                return CLI_EXIT_USAGE;
        }
        *ret_cmd = cmd;
        return CLI_EXIT_OK;
}

static int run(int argc, char **argv) {
        enum { ARG_URL = 0x100, ARG_TOKEN, ARG_SOCKET, ARG_VERSION };
        static const struct option options[] = {
                { "url", required_argument, NULL, ARG_URL },
                { "token", required_argument, NULL, ARG_TOKEN },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "version", no_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *url = NULL, *token = NULL, *socket_path = NULL;

        opterr = 0;
        optind = 0;
        /* "+": stop at the command, whose options are its own. */
        for (int c; (c = getopt_long(argc, argv, "+:h", options, NULL)) != -1;) {
                switch (c) {
                case ARG_URL: url = optarg; break;
                case ARG_TOKEN: token = optarg; break;
                case ARG_SOCKET: socket_path = optarg; break;
                case ARG_VERSION:
                        printf("tide %s\n", TIDE_VERSION);
                        return CLI_EXIT_OK;
                case 'h':
                        main_help(stdout);
                        return CLI_EXIT_OK;
                case ':':
                        return usage_error("option '%s' needs an argument", argv[optind - 1]);
                default:
                        return usage_error("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (url && socket_path)
                return usage_error("give --url or --socket, not both");

        if (optind >= argc) {
                fputs("tide: missing command\n", stderr);
                main_help(stderr);
                return CLI_EXIT_USAGE;
        }
        const char *noun = argv[optind];
        if (!noun_exists(noun))
                return usage_error("unknown command '%s'", noun);
        const struct cli_command *cmd = noun_command(noun);
        int nwords = 0;
        if (!cmd) {
                int status = find_verb(argc - optind, argv + optind, &cmd, &nwords);
                if (!cmd)
                        return status;  /* reported, or the noun's help printed */
        }
        _cleanup_free_ char *cmd_name = *cmd->verb ? xasprintf("%s %s", noun, cmd->verb)
                                                   : xstrdup(noun);

        struct cli_args args;
        _cleanup_free_ char *err = NULL;
        /* The parser's argv[0] is the verb's last word (the noun for a noun's own command);
         * options and operands follow it. */
        int skip = optind + nwords;
        int r = cli_args_parse(cmd, argc - skip, argv + skip, &args, &err);
        if (r == CLI_ARGS_HELP) {
                cli_command_help(stdout, cmd);
                return CLI_EXIT_OK;
        }
        if (r < 0) {
                fprintf(stderr, "tide %s: %s\nUsage: tide %s%s%s\n"
                        "Run 'tide %s --help' for more.\n", cmd_name, err, cmd_name,
                        *cmd->usage ? " " : "", cmd->usage, cmd_name);
                return CLI_EXIT_USAGE;
        }

        /* The command line beats the environment: an explicit --socket overrides TIDE_URL. */
        if (!url && !socket_path)
                url = env("TIDE_URL");
        _cleanup_free_ char *socket_default = NULL;
        if (!url && !socket_path)
                socket_path = env("TIDE_SOCKET");
        if (!url && !socket_path) {
                socket_default = xasprintf("%s/tided.sock",
                                           env("TIDE_STATE_DIR") ?: DEFAULT_STATE_DIR);
                socket_path = socket_default;
        }
        if (!token)
                token = env("TIDE_TOKEN");
        _cleanup_free_ char *token_file = NULL;
        if (!token && url)
                token = token_file = load_token();

        struct cli_ctx ctx = {};
        r = cli_http_new(url, url ? NULL : socket_path, token, &ctx.http);
        if (r < 0) {
                cli_error("cannot set up the HTTP client: %s", tide_strerror(r));
                return CLI_EXIT_FAILURE;
        }
        r = cmd->run(&ctx, &args);
        cli_http_free(ctx.http);
        return r;
}

int main(int argc, char **argv) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                cli_error("cannot initialise libcurl");
                return CLI_EXIT_FAILURE;
        }
        int r = run(argc, argv);
        curl_global_cleanup();

        /* Output that could not be written is a failure, not silence (a full disk, a pipe). */
        errno = 0;
        if (fflush(stdout) == EOF || ferror(stdout)) {
                if (errno != EPIPE)
                        cli_error("cannot write the output%s%s", errno ? ": " : "",
                                  errno ? strerror(errno) : "");
                return CLI_EXIT_FAILURE;
        }
        return r;
}
