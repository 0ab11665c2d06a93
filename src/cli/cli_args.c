/* cli_args.c — option parsing of tide's commands, from one table of every option. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>

_Static_assert(CLI_OPT_MAX <= 64, "option masks are 64 bits");

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
        [CLI_OPT_PRIORITY] = { "priority", 0, true, "N|low|normal|high", "1-1000 (CPU shares under contention); low 250, normal 500 (default), high 750; 'default' resets" },
        [CLI_OPT_HA] = { "ha", 0, false, NULL, "restart the instance on another host when its host fails" },
        [CLI_OPT_WAIT] = { "wait", 0, false, NULL, "wait until the operation has finished" },
        [CLI_OPT_TIMEOUT] = { "timeout", 0, true, "SECONDS", "give up waiting after this long (default 300)" },
        [CLI_OPT_FOLLOW] = { "follow", 0, false, NULL, "keep printing new output until interrupted" },
        [CLI_OPT_INSTANCE] = { "instance", 0, true, "NAME", "only events of this instance (name or id)" },
        [CLI_OPT_LIMIT] = { "limit", 0, true, "N", "at most N events (1-1000, default 100)" },
        [CLI_OPT_CPU_POLICY] = { "cpu-policy", 0, true, "shared|dedicated", "dedicated: each vCPU pinned to a host CPU of its own (default shared)" },
        [CLI_OPT_HUGEPAGES] = { "hugepages", 0, false, NULL, "back the VM's memory with the host's hugepages" },
        [CLI_OPT_HINT] = { "hint", 0, true, "KEY=VALUE", "a host must match: host=NAME or a label (repeatable, at most 8)" },
        [CLI_OPT_GROUP] = { "group", 0, true, "NAME", "server group to join" },
        [CLI_OPT_DRY_RUN] = { "dry-run", 0, false, NULL, "only show where the instance would go, host by host" },
        [CLI_OPT_CPU_RATIO] = { "cpu-ratio", 0, true, "X|default", "vCPUs per CPU (overcommit)" },
        [CLI_OPT_RAM_RATIO] = { "ram-ratio", 0, true, "X|default", "RAM overcommit ratio" },
        [CLI_OPT_DISK_RATIO] = { "disk-ratio", 0, true, "X|default", "disk overcommit ratio" },
        [CLI_OPT_RESERVED_CPUS] = { "reserved-cpus", 0, true, "N|default", "CPUs kept for the host" },
        [CLI_OPT_RESERVED_RAM] = { "reserved-ram", 0, true, "MIB|default", "memory kept for the host, in MiB" },
        [CLI_OPT_MODE] = { "mode", 0, true, "spread|pack", "spread instances over hosts, or pack them" },
        [CLI_OPT_WEIGHT] = { "weight", 0, true, "NAME=X|NAME=default", "weigher multiplier; NAME: ram, cpu, load, numa, soft_affinity (repeatable)" },
        [CLI_OPT_POLICY] = { "policy", 0, true, "POLICY", "affinity, anti-affinity, soft-affinity or soft-anti-affinity" },
        [CLI_OPT_LABEL] = { "label", 0, true, "KEY=VALUE", "set a label (repeatable)" },
        [CLI_OPT_UNLABEL] = { "unlabel", 0, true, "KEY", "remove a label (repeatable)" },
        [CLI_OPT_DRAIN] = { "drain", 0, false, NULL, "take no new instances" },
        [CLI_OPT_UNDRAIN] = { "undrain", 0, false, NULL, "take new instances again" },
        [CLI_OPT_CPU_RESERVATION] = { "cpu-reservation", 0, true, "CORES", "CPU guaranteed to the instance, in cores, up to the flavor's max vCPUs ('default' resets)" },
        [CLI_OPT_CPU_LIMIT] = { "cpu-limit", 0, true, "CORES", "CPU the instance may use at most, in cores ('default' resets)" },
        [CLI_OPT_MEM_RESERVATION] = { "mem-reservation", 0, true, "MIB", "memory the balloon never takes the instance below ('default' resets)" },
        [CLI_OPT_MEM_LIMIT] = { "mem-limit", 0, true, "MIB", "memory the instance may have at most, up to the flavor's max RAM ('default' resets)" },
        [CLI_OPT_ELASTIC] = { "elastic", 0, true, "on|off|default", "off: the elastic loop leaves the resources as defined" },
        [CLI_OPT_STATS_LIMIT] = { "limit", 0, true, "N", "history entries, the newest (1-10000; default 10 for the table, tided's 60 for json)" },
};

static const char *const weight_names[CLI_WEIGHT_MAX] = {
        [CLI_WEIGHT_RAM] = "ram",
        [CLI_WEIGHT_CPU] = "cpu",
        [CLI_WEIGHT_LOAD] = "load",
        [CLI_WEIGHT_NUMA] = "numa",
        [CLI_WEIGHT_SOFT_AFFINITY] = "soft_affinity",
};

static const char *const group_policies[] = {
        "affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity",
};

const char *cli_weight_name(enum cli_weight w) {
        return w >= 0 && w < CLI_WEIGHT_MAX ? weight_names[w] : NULL;
}

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

int cli_parse_double(const char *s, double *ret) {
        if (!s || !*s)
                return -EINVAL;
        /* strtod would also take leading space, hex floats, "inf" and "nan": none of them is
         * what anyone means by a ratio or a weight. */
        for (const char *p = s; *p; p++)
                if (!strchr("0123456789.eE+-", *p))
                        return -EINVAL;
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || *end)
                return -EINVAL;
        if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
                return -ERANGE;
        if (!isfinite(d))
                return -ERANGE;
        /* An underflow (1e-400) comes back as 0 or a denormal with ERANGE: it is still the
         * nearest number, and the limits below or the server's refuse it. */
        *ret = d;
        return 0;
}

static bool label_chars_valid(const char *s, size_t n) {
        if (n == 0 || n > CLI_LABEL_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return true;
}

int cli_parse_label(const char *s, size_t *ret_key_len) {
        const char *eq = strchr(s, '=');
        if (!eq || !label_chars_valid(s, (size_t) (eq - s)) ||
            !label_chars_valid(eq + 1, strlen(eq + 1)))
                return -EINVAL;
        *ret_key_len = (size_t) (eq - s);
        return 0;
}

int cli_parse_label_key(const char *s) {
        return label_chars_valid(s, strlen(s)) ? 0 : -EINVAL;
}

const struct cli_command *cli_command_find(const struct cli_command *table, size_t n,
                                           const char *noun, int nwords, char *const *words,
                                           int *ret_nwords) {
        if (nwords < 1)
                return NULL;
        /* A two-word verb is two words: "config show" as one argument is no command. */
        for (size_t i = 0; i < n; i++)
                if (streq(table[i].noun, noun) && !strchr(words[0], ' ') &&
                    streq(table[i].verb, words[0])) {
                        *ret_nwords = 1;
                        return &table[i];
                }
        if (nwords < 2)
                return NULL;
        size_t len = strlen(words[0]);
        for (size_t i = 0; i < n; i++) {
                const char *v = table[i].verb;
                if (streq(table[i].noun, noun) && strncmp(v, words[0], len) == 0 &&
                    v[len] == ' ' && streq(v + len + 1, words[1])) {
                        *ret_nwords = 2;
                        return &table[i];
                }
        }
        return NULL;
}

bool cli_verb_is_group(const struct cli_command *table, size_t n, const char *noun,
                       const char *word) {
        size_t len = strlen(word);
        for (size_t i = 0; i < n; i++)
                if (streq(table[i].noun, noun) && len > 0 &&
                    strncmp(table[i].verb, word, len) == 0 && table[i].verb[len] == ' ')
                        return true;
        return false;
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

#define LABEL_RULE "1-63 characters of A-Z a-z 0-9 . _ -"

static int store_hint(const char *arg, struct cli_args *a, char **ret_error) {
        size_t klen;
        if (cli_parse_label(arg, &klen) < 0) {
                *ret_error = xasprintf("--hint must be KEY=VALUE, KEY and VALUE " LABEL_RULE
                                       ", not '%s'", arg);
                return -EINVAL;
        }
        if (a->n_hints == CLI_HINTS_MAX) {
                *ret_error = xasprintf("at most %d --hint options", CLI_HINTS_MAX);
                return -EINVAL;
        }
        a->hints[a->n_hints++] = arg;
        return 0;
}

/* A ratio: a number above 0, or "default" to go back to the cluster's (or the default). The
 * server checks its range. */
static int store_ratio(enum cli_opt id, const char *arg, double *ret, struct cli_args *a,
                       char **ret_error) {
        if (streq(arg, CLI_RESET_WORD)) {
                a->reset |= CLI_F(id);
                return 0;
        }
        double d;
        if (cli_parse_double(arg, &d) < 0 || !(d > 0)) {
                *ret_error = xasprintf("--%s must be a number above 0 or '" CLI_RESET_WORD
                                       "', not '%s'", option_defs[id].long_name, arg);
                return -EINVAL;
        }
        a->reset &= ~CLI_F(id);
        *ret = d;
        return 0;
}

static int store_weight(const char *arg, struct cli_args *a, char **ret_error) {
        const char *eq = strchr(arg, '=');
        int w = -1;
        for (int i = 0; eq && i < CLI_WEIGHT_MAX; i++)
                if (strlen(weight_names[i]) == (size_t) (eq - arg) &&
                    strncmp(arg, weight_names[i], (size_t) (eq - arg)) == 0)
                        w = i;
        if (w < 0) {
                *ret_error = xasprintf("--weight must be NAME=X with NAME ram, cpu, load, numa "
                                       "or soft_affinity, not '%s'", arg);
                return -EINVAL;
        }
        if (a->weights_given & (1u << w)) {
                *ret_error = xasprintf("--weight %s given twice", weight_names[w]);
                return -EINVAL;
        }
        if (streq(eq + 1, CLI_RESET_WORD))
                a->weights_reset |= 1u << w;
        else if (cli_parse_double(eq + 1, &a->weights[w]) < 0) {
                *ret_error = xasprintf("--weight %s needs a number or '" CLI_RESET_WORD
                                       "', not '%s'", weight_names[w], eq + 1);
                return -EINVAL;
        }
        a->weights_given |= 1u << w;
        return 0;
}

/* Whether labels[0..n) has one whose key (up to '=' or the end) is key[0..klen). */
static bool has_label_key(const char *const *labels, size_t n, const char *key, size_t klen) {
        for (size_t i = 0; i < n; i++)
                if (strncmp(labels[i], key, klen) == 0 &&
                    (labels[i][klen] == '=' || labels[i][klen] == 0))
                        return true;
        return false;
}

/* --label KEY=VALUE and --unlabel KEY: each key once in all of them, since the API's labels
 * object can say only one thing of a key. */
static int store_label(enum cli_opt id, const char *arg, struct cli_args *a, char **ret_error) {
        bool set = id == CLI_OPT_LABEL;
        size_t klen = strlen(arg);
        if (set ? cli_parse_label(arg, &klen) < 0 : cli_parse_label_key(arg) < 0) {
                *ret_error = set ? xasprintf("--label must be KEY=VALUE, KEY and VALUE "
                                             LABEL_RULE ", not '%s'", arg)
                                 : xasprintf("--unlabel needs a KEY of " LABEL_RULE
                                             ", not '%s'", arg);
                return -EINVAL;
        }
        if (has_label_key(a->labels, a->n_labels, arg, klen) ||
            has_label_key(a->unlabels, a->n_unlabels, arg, klen)) {
                *ret_error = xasprintf("label '%.*s' given twice", (int) klen, arg);
                return -EINVAL;
        }
        size_t *n = set ? &a->n_labels : &a->n_unlabels;
        if (*n == CLI_LABELS_MAX) {
                *ret_error = xasprintf("at most %d --%s options", CLI_LABELS_MAX,
                                       option_defs[id].long_name);
                return -EINVAL;
        }
        (set ? a->labels : a->unlabels)[(*n)++] = arg;
        return 0;
}

/* One member of the elastic policy: cores (a number, 0 or more; a limit above 0), MiB (a
 * whole number; a limit above 0), on|off; or "default" to reset it. tided checks them
 * against the flavor's maxima and each other. */
static int store_policy(enum cli_opt id, const char *arg, struct cli_args *a, char **ret_error) {
        const char *n = option_defs[id].long_name;
        if (streq(arg, CLI_RESET_WORD)) {
                a->reset |= CLI_F(id);
                return 0;
        }
        a->reset &= ~CLI_F(id);
        switch (id) {
        case CLI_OPT_CPU_RESERVATION:
        case CLI_OPT_CPU_LIMIT: {
                bool limit = id == CLI_OPT_CPU_LIMIT;
                double d;
                if (cli_parse_double(arg, &d) < 0 || d < 0 || (limit && d == 0)) {
                        *ret_error = xasprintf("--%s must be a number of cores %s or '"
                                               CLI_RESET_WORD "', not '%s'", n,
                                               limit ? "above 0" : "(0 or more)", arg);
                        return -EINVAL;
                }
                *(limit ? &a->cpu_limit : &a->cpu_reservation) = d;
                return 0;
        }
        case CLI_OPT_MEM_RESERVATION:
                return parse_number(arg, 0, INT64_MAX, &a->mem_reservation_mib, ret_error, n);
        case CLI_OPT_MEM_LIMIT:
                return parse_number(arg, 1, INT64_MAX, &a->mem_limit_mib, ret_error, n);
        case CLI_OPT_ELASTIC:
                if (!streq(arg, "on") && !streq(arg, "off")) {
                        *ret_error = xasprintf("--elastic must be 'on', 'off' or '" CLI_RESET_WORD
                                               "', not '%s'", arg);
                        return -EINVAL;
                }
                a->elastic = streq(arg, "on");
                return 0;
        default:
                abort();
        }
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
                if (streq(arg, CLI_RESET_WORD)) {
                        a->reset |= CLI_F(id);
                        return 0;
                }
                if (cli_parse_priority(arg, &a->priority) < 0) {
                        *ret_error = xasprintf("--priority must be 1-1000, low, normal, high or '"
                                               CLI_RESET_WORD "', not '%s'", arg);
                        return -EINVAL;
                }
                a->reset &= ~CLI_F(id);
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
        case CLI_OPT_CPU_POLICY:
                if (!streq(arg, "shared") && !streq(arg, "dedicated")) {
                        *ret_error = xasprintf("--cpu-policy must be 'shared' or 'dedicated', "
                                               "not '%s'", arg);
                        return -EINVAL;
                }
                a->cpu_policy = arg;
                return 0;
        case CLI_OPT_HUGEPAGES: a->hugepages = true; return 0;
        case CLI_OPT_HINT:
                return store_hint(arg, a, ret_error);
        case CLI_OPT_GROUP: a->group = arg; return 0;
        case CLI_OPT_DRY_RUN: a->dry_run = true; return 0;
        case CLI_OPT_CPU_RATIO:
                return store_ratio(id, arg, &a->cpu_ratio, a, ret_error);
        case CLI_OPT_RAM_RATIO:
                return store_ratio(id, arg, &a->ram_ratio, a, ret_error);
        case CLI_OPT_DISK_RATIO:
                return store_ratio(id, arg, &a->disk_ratio, a, ret_error);
        case CLI_OPT_RESERVED_CPUS:
        case CLI_OPT_RESERVED_RAM:
                if (streq(arg, CLI_RESET_WORD)) {
                        a->reset |= CLI_F(id);
                        return 0;
                }
                a->reset &= ~CLI_F(id);
                return parse_number(arg, 0, id == CLI_OPT_RESERVED_CPUS ? INT32_MAX : INT64_MAX,
                                    id == CLI_OPT_RESERVED_CPUS ? &a->reserved_cpus
                                                                : &a->reserved_ram_mib,
                                    ret_error, n);
        case CLI_OPT_MODE:
                if (!streq(arg, "spread") && !streq(arg, "pack")) {
                        *ret_error = xasprintf("--mode must be 'spread' or 'pack', not '%s'", arg);
                        return -EINVAL;
                }
                a->mode = arg;
                return 0;
        case CLI_OPT_WEIGHT:
                return store_weight(arg, a, ret_error);
        case CLI_OPT_POLICY:
                for (size_t i = 0; i < ELEMENTSOF(group_policies); i++)
                        if (streq(arg, group_policies[i])) {
                                a->policy = arg;
                                return 0;
                        }
                *ret_error = xasprintf("--policy must be affinity, anti-affinity, soft-affinity "
                                       "or soft-anti-affinity, not '%s'", arg);
                return -EINVAL;
        case CLI_OPT_LABEL:
        case CLI_OPT_UNLABEL:
                return store_label(id, arg, a, ret_error);
        case CLI_OPT_DRAIN: a->drain = true; return 0;
        case CLI_OPT_UNDRAIN: a->undrain = true; return 0;
        case CLI_OPT_CPU_RESERVATION:
        case CLI_OPT_CPU_LIMIT:
        case CLI_OPT_MEM_RESERVATION:
        case CLI_OPT_MEM_LIMIT:
        case CLI_OPT_ELASTIC:
                return store_policy(id, arg, a, ret_error);
        case CLI_OPT_STATS_LIMIT:
                return parse_number(arg, 1, 10000, &a->stats_limit, ret_error, n);
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
        if (a.dry_run && a.wait) {
                *ret_error = xstrdup("--dry-run creates nothing to --wait for");
                return -EINVAL;
        }
        if (a.drain && a.undrain) {
                *ret_error = xstrdup("give --drain or --undrain, not both");
                return -EINVAL;
        }
        if (cmd->one_of && !(a.given & cmd->one_of)) {
                *ret_error = xstrdup("nothing to change: give at least one option");
                return -EINVAL;
        }

        *ret = a;
        return CLI_ARGS_OK;
}

void cli_command_help(FILE *f, const struct cli_command *cmd) {
        /* A noun's own command ("tide metrics") has an empty verb. */
        fprintf(f, "Usage: tide %s%s%s%s%s\n\n%s\n", cmd->noun, *cmd->verb ? " " : "",
                cmd->verb, cmd->usage && *cmd->usage ? " " : "", cmd->usage ? cmd->usage : "",
                cmd->help);
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
