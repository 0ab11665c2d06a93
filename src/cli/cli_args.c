/* cli_args.c — option parsing of tide's commands, from one table of every option. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>

/* One option any command may accept. Options with a short name keep it for every command
 * that accepts them. */
struct option_def {
        const char *long_name;
        char short_name;    /* 0: none */
        bool has_arg;
        const char *metavar;
        const char *help;
};

static const struct option_def option_defs[CLI_OPT_MAX] = {
        [CLI_OPT_FORMAT] = { "format", 'f', true, "table|json", "output format (default table)" },
        [CLI_OPT_VCPUS] = { "vcpus", 0, true, "N", "virtual CPUs" },
        [CLI_OPT_RAM] = { "ram", 0, true, "MIB", "memory in MiB" },
        [CLI_OPT_DISK_GIB] = { "disk", 0, true, "GIB", "root disk size in GiB" },
        [CLI_OPT_MAX_VCPUS] = { "max-vcpus", 0, true, "N", "vCPUs the VM may grow to (default --vcpus)" },
        [CLI_OPT_MAX_RAM] = { "max-ram", 0, true, "MIB", "memory the VM may grow to (default --ram)" },
        [CLI_OPT_DISK_FILE] = { "disk", 0, true, "FILE", "root disk image, qcow2 or raw" },
        [CLI_OPT_KERNEL] = { "kernel", 0, true, "FILE", "kernel for direct kernel boot" },
        [CLI_OPT_INITRD] = { "initrd", 0, true, "FILE", "initrd for direct kernel boot" },
        [CLI_OPT_CMDLINE] = { "cmdline", 0, true, "STR", "kernel command line" },
        [CLI_OPT_FLAVOR] = { "flavor", 0, true, "FLAVOR", "flavor name or id" },
        [CLI_OPT_IMAGE] = { "image", 0, true, "IMAGE", "image name or id" },
        [CLI_OPT_USER_DATA] = { "user-data", 0, true, "FILE", "user-data script for the guest (at most 64 KiB)" },
        [CLI_OPT_PRIORITY] = { "priority", 0, true, "N|low|normal|high", "1-1000; low 250, normal 500 (default), high 750" },
        [CLI_OPT_HA] = { "ha", 0, false, NULL, "restart the instance on another host when its host fails" },
        [CLI_OPT_WAIT] = { "wait", 0, false, NULL, "wait until the operation has finished" },
        [CLI_OPT_TIMEOUT] = { "timeout", 0, true, "SECONDS", "give up waiting after this long (default 300)" },
        [CLI_OPT_FOLLOW] = { "follow", 0, false, NULL, "keep printing new output until interrupted" },
        [CLI_OPT_INSTANCE] = { "instance", 0, true, "NAME", "only events of this instance (name or id)" },
        [CLI_OPT_LIMIT] = { "limit", 0, true, "N", "at most N events (1-1000, default 100)" },
};

/* getopt_long's value for an option without a short name: past every char. */
#define LONG_ONLY_BASE 0x100
#define VAL_HELP 'h'

int cli_parse_priority(const char *s, int64_t *ret) {
        static const struct { const char *name; int64_t value; } names[] = {
                { "low", 250 }, { "normal", 500 }, { "high", 750 },
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i].name)) {
                        *ret = names[i].value;
                        return 0;
                }
        return parse_int64(s, 1, 1000, ret);
}

static int option_value(enum cli_opt id) {
        return option_defs[id].short_name ? option_defs[id].short_name
                                          : LONG_ONLY_BASE + (int) id;
}

static int parse_number(const char *s, int64_t min, int64_t max, int64_t *ret, char **ret_error,
                        const char *opt) {
        int r = parse_int64(s, min, max, ret);
        if (r < 0) {
                *ret_error = r == -ERANGE
                        ? xasprintf("--%s must be between %" PRId64 " and %" PRId64 ", not '%s'",
                                    opt, min, max, s)
                        : xasprintf("--%s needs a whole number, not '%s'", opt, s);
                return -EINVAL;
        }
        return 0;
}

/* Stores one option's value. The server checks the API's exact limits; here only what
 * cannot be meaningful is refused, and the limits that the CLI itself documents. */
static int store_option(enum cli_opt id, const char *arg, struct cli_args *a, char **ret_error) {
        const char *n = option_defs[id].long_name;
        switch (id) {
        case CLI_OPT_FORMAT:
                if (cli_format_from_string(arg, &a->format) < 0) {
                        *ret_error = xasprintf("--format must be 'table' or 'json', not '%s'", arg);
                        return -EINVAL;
                }
                return 0;
        case CLI_OPT_VCPUS:
                return parse_number(arg, 1, INT32_MAX, &a->vcpus, ret_error, n);
        case CLI_OPT_RAM:
                return parse_number(arg, 1, INT64_MAX, &a->ram_mib, ret_error, n);
        case CLI_OPT_DISK_GIB:
                return parse_number(arg, 1, INT64_MAX, &a->disk_gib, ret_error, n);
        case CLI_OPT_MAX_VCPUS:
                return parse_number(arg, 1, INT32_MAX, &a->max_vcpus, ret_error, n);
        case CLI_OPT_MAX_RAM:
                return parse_number(arg, 1, INT64_MAX, &a->max_ram_mib, ret_error, n);
        case CLI_OPT_DISK_FILE: a->disk_file = arg; return 0;
        case CLI_OPT_KERNEL: a->kernel = arg; return 0;
        case CLI_OPT_INITRD: a->initrd = arg; return 0;
        case CLI_OPT_CMDLINE: a->cmdline = arg; return 0;
        case CLI_OPT_FLAVOR: a->flavor = arg; return 0;
        case CLI_OPT_IMAGE: a->image = arg; return 0;
        case CLI_OPT_USER_DATA: a->user_data_file = arg; return 0;
        case CLI_OPT_PRIORITY:
                if (cli_parse_priority(arg, &a->priority) < 0) {
                        *ret_error = xasprintf("--priority must be 1-1000, low, normal or high, "
                                               "not '%s'", arg);
                        return -EINVAL;
                }
                return 0;
        case CLI_OPT_HA: a->ha = true; return 0;
        case CLI_OPT_WAIT: a->wait = true; return 0;
        case CLI_OPT_TIMEOUT:
                /* Capped so that the milliseconds fit any int64 arithmetic of the waiter. */
                return parse_number(arg, 1, INT32_MAX, &a->timeout_s, ret_error, n);
        case CLI_OPT_FOLLOW: a->follow = true; return 0;
        case CLI_OPT_INSTANCE: a->instance = arg; return 0;
        case CLI_OPT_LIMIT:
                return parse_number(arg, 1, 1000, &a->limit, ret_error, n);
        case CLI_OPT_MAX:
                break;
        }
        abort();
}

/* Names the option getopt could not take, for the message. */
static char *bad_option_name(int argc, char **argv, int opt_char) {
        if (opt_char > 0 && opt_char < LONG_ONLY_BASE)
                return xasprintf("-%c", opt_char);
        if (opt_char >= LONG_ONLY_BASE && opt_char < LONG_ONLY_BASE + CLI_OPT_MAX)
                return xasprintf("--%s", option_defs[opt_char - LONG_ONLY_BASE].long_name);
        /* An unknown long option: getopt has stepped past it. */
        if (optind > 0 && optind <= argc) {
                const char *s = argv[optind - 1];
                return xstrndup(s, strcspn(s, "="));
        }
        return xstrdup("?");
}

int cli_args_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *ret,
                   char **ret_error) {
        struct option longopts[CLI_OPT_MAX + 2];
        /* "-": operands come back in order as value 1, even under POSIXLY_CORRECT.
         * ":": a missing argument is ':' rather than '?'. */
        char shortopts[3 + 2 * CLI_OPT_MAX + 2] = "-:h";
        size_t nl = 0, ns = strlen(shortopts);

        for (int id = 0; id < CLI_OPT_MAX; id++) {
                if (!(cmd->options & CLI_F(id)))
                        continue;
                const struct option_def *d = &option_defs[id];
                longopts[nl++] = (struct option) {
                        .name = d->long_name,
                        .has_arg = d->has_arg ? required_argument : no_argument,
                        .val = option_value((enum cli_opt) id),
                };
                if (d->short_name) {
                        shortopts[ns++] = d->short_name;
                        if (d->has_arg)
                                shortopts[ns++] = ':';
                }
        }
        longopts[nl++] = (struct option) { .name = "help", .val = VAL_HELP };
        longopts[nl] = (struct option) {};
        shortopts[ns] = 0;

        struct cli_args a = {
                .format = CLI_FORMAT_TABLE,
                .timeout_s = CLI_WAIT_TIMEOUT_DEFAULT_S,
        };
        const char *extra = NULL;
        bool help = false;

        opterr = 0;
        optind = 0;  /* glibc: re-initialise completely, argv is a new vector */
        for (;;) {
                int c = getopt_long(argc, argv, shortopts, longopts, NULL);
                if (c == -1)
                        break;
                if (c == VAL_HELP) {
                        help = true;
                        continue;
                }
                if (c == 1) {
                        if (cmd->takes_name && !a.name)
                                a.name = optarg;
                        else if (!extra)
                                extra = optarg;
                        continue;
                }
                if (c == '?' || c == ':') {
                        _cleanup_free_ char *o = bad_option_name(argc, argv, optopt);
                        if (c == ':')
                                *ret_error = xasprintf("option '%s' needs an argument", o);
                        else if (optopt >= LONG_ONLY_BASE)  /* "--wait=x" */
                                *ret_error = xasprintf("option '%s' takes no argument", o);
                        else
                                *ret_error = xasprintf("unknown option '%s'", o);
                        return -EINVAL;
                }
                enum cli_opt id = CLI_OPT_MAX;
                for (int i = 0; i < CLI_OPT_MAX; i++)
                        if ((cmd->options & CLI_F(i)) && option_value((enum cli_opt) i) == c)
                                id = (enum cli_opt) i;
                if (id == CLI_OPT_MAX)
                        abort();  /* getopt returned a value we did not give it */
                if (store_option(id, optarg, &a, ret_error) < 0)
                        return -EINVAL;
                a.given |= CLI_F(id);
        }
        /* Operands after "--". */
        for (int i = optind; i < argc; i++) {
                if (cmd->takes_name && !a.name)
                        a.name = argv[i];
                else if (!extra)
                        extra = argv[i];
        }

        /* Help wins over every other complaint: "tide x y --help" must always work. */
        if (help)
                return CLI_ARGS_HELP;

        if (extra) {
                *ret_error = xasprintf("unexpected argument '%s'", extra);
                return -EINVAL;
        }
        if (cmd->takes_name && !a.name) {
                *ret_error = xstrdup("missing NAME");
                return -EINVAL;
        }
        if (cmd->takes_name && !*a.name) {
                *ret_error = xstrdup("NAME must not be empty");
                return -EINVAL;
        }
        for (int id = 0; id < CLI_OPT_MAX; id++)
                if ((cmd->required & CLI_F(id)) && !(a.given & CLI_F(id))) {
                        *ret_error = xasprintf("missing --%s %s", option_defs[id].long_name,
                                               option_defs[id].metavar);
                        return -EINVAL;
                }
        if ((a.given & (CLI_F(CLI_OPT_INITRD) | CLI_F(CLI_OPT_CMDLINE))) &&
            !(a.given & CLI_F(CLI_OPT_KERNEL))) {
                *ret_error = xstrdup("--initrd and --cmdline need --kernel");
                return -EINVAL;
        }
        if ((a.given & CLI_F(CLI_OPT_TIMEOUT)) && (cmd->options & CLI_F(CLI_OPT_WAIT)) && !a.wait) {
                *ret_error = xstrdup("--timeout needs --wait");
                return -EINVAL;
        }

        *ret = a;
        return CLI_ARGS_OK;
}

void cli_command_help(FILE *f, const struct cli_command *cmd) {
        fprintf(f, "Usage: tide %s %s%s%s\n\n%s\n", cmd->noun, cmd->verb,
                cmd->usage && *cmd->usage ? " " : "", cmd->usage ? cmd->usage : "", cmd->help);
        fputs("\nOptions:\n", f);
        for (int id = 0; id < CLI_OPT_MAX; id++) {
                if (!(cmd->options & CLI_F(id)))
                        continue;
                const struct option_def *d = &option_defs[id];
                _cleanup_free_ char *spec = xasprintf("%c%c%c --%s%s%s",
                        d->short_name ? '-' : ' ', d->short_name ? d->short_name : ' ',
                        d->short_name ? ',' : ' ', d->long_name, d->has_arg ? " " : "",
                        d->has_arg ? d->metavar : "");
                fprintf(f, "  %-34s %s%s\n", spec, d->help,
                        cmd->required & CLI_F(id) ? " (required)" : "");
        }
        fprintf(f, "  %-34s %s\n", "-h, --help", "show this help");
}
