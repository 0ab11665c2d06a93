/* cli_args.c — option parsing of tide's commands, from one table of every option. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>

#include "common/strbuf.h"

/* One option any command may accept. Options with a short name keep it for every command
 * that accepts them. */
struct option_def {
        const char *long_name;
        char short_name; /* 0: none */
        bool has_arg;
        const char *metavar;
        const char *help;
        const char *old_name; /* a second long name it is also known by, or NULL */
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
        [CLI_OPT_PRIORITY] = { "priority", 0, true, "N|low|normal|high",
                               "1-1000 (CPU shares under contention); low 250, normal 500 (default), high 750; 'default' resets" },
        [CLI_OPT_HA] = { "ha", 0, false, NULL, "restart the instance on another host when its host fails" },
        [CLI_OPT_WAIT] = { "wait", 0, false, NULL, "wait until the operation has finished" },
        [CLI_OPT_TIMEOUT] = { "timeout", 0, true, "SECONDS", "give up waiting after this long (default 300)" },
        [CLI_OPT_FOLLOW] = { "follow", 0, false, NULL, "keep printing new output until interrupted" },
        [CLI_OPT_INSTANCE] = { "instance", 0, true, "NAME", "only events of this instance (name or id)" },
        [CLI_OPT_LIMIT] = { "limit", 0, true, "N", "at most N events (1-1000, default 100)" },
        [CLI_OPT_CPU_POLICY] = { "cpu-policy", 0, true, "shared|dedicated",
                                 "dedicated: each vCPU pinned to a host CPU of its own (default shared)" },
        [CLI_OPT_HUGEPAGES] = { "hugepages", 0, false, NULL, "back the VM's memory with the host's hugepages" },
        [CLI_OPT_HINT] = { "hint", 0, true, "KEY=VALUE",
                           "a host must match: host=NAME or a label (repeatable, at most 8)" },
        [CLI_OPT_SERVER_GROUP] = { "server-group", 0, true, "NAME", "server group to join (old name: --group)",
                                   "group" },
        [CLI_OPT_DRY_RUN] = { "dry-run", 0, false, NULL, "only show where the instance would go, host by host" },
        [CLI_OPT_CPU_RATIO] = { "cpu-ratio", 0, true, "X|default", "vCPUs per CPU (overcommit)" },
        [CLI_OPT_RAM_RATIO] = { "ram-ratio", 0, true, "X|default", "RAM overcommit ratio" },
        [CLI_OPT_DISK_RATIO] = { "disk-ratio", 0, true, "X|default", "disk overcommit ratio" },
        [CLI_OPT_RESERVED_CPUS] = { "reserved-cpus", 0, true, "N|default", "CPUs kept for the host" },
        [CLI_OPT_RESERVED_RAM] = { "reserved-ram", 0, true, "MIB|default", "memory kept for the host, in MiB" },
        [CLI_OPT_MODE] = { "mode", 0, true, "spread|pack", "spread instances over hosts, or pack them" },
        [CLI_OPT_WEIGHT] = { "weight", 0, true, "NAME=X|NAME=default",
                             "weigher multiplier; NAME: ram, cpu, load, numa, soft_affinity (repeatable)" },
        [CLI_OPT_POLICY] = { "policy", 0, true, "POLICY",
                             "affinity, anti-affinity, soft-affinity or soft-anti-affinity" },
        [CLI_OPT_LABEL] = { "label", 0, true, "KEY=VALUE", "set a label (repeatable)" },
        [CLI_OPT_UNLABEL] = { "unlabel", 0, true, "KEY", "remove a label (repeatable)" },
        [CLI_OPT_DRAIN] = { "drain", 0, false, NULL, "take no new instances" },
        [CLI_OPT_UNDRAIN] = { "undrain", 0, false, NULL, "take new instances again" },
        [CLI_OPT_CPU_RESERVATION] = { "cpu-reservation", 0, true, "CORES",
                                      "CPU guaranteed to the instance, in cores, up to the flavor's max vCPUs ('default' resets)" },
        [CLI_OPT_CPU_LIMIT] = { "cpu-limit", 0, true, "CORES",
                                "CPU the instance may use at most, in cores ('default' resets)" },
        [CLI_OPT_MEM_RESERVATION] = { "mem-reservation", 0, true, "MIB",
                                      "memory the balloon never takes the instance below ('default' resets)" },
        [CLI_OPT_MEM_LIMIT] = { "mem-limit", 0, true, "MIB",
                                "memory the instance may have at most, up to the flavor's max RAM ('default' resets)" },
        [CLI_OPT_ELASTIC] = { "elastic", 0, true, "on|off|default",
                              "off: the elastic loop leaves the resources as defined" },
        [CLI_OPT_STATS_LIMIT] = { "limit", 0, true, "N",
                                  "history entries, the newest (1-10000; default 10 for the table, tided's 60 for json)" },
        [CLI_OPT_MIN_SIZE] = { "min", 0, true, "N", "the fewest members (0-1000; a new group's default 1)" },
        [CLI_OPT_MAX_SIZE] = { "max", 0, true, "N",
                               "the most members (1-1000; a new group's default: the larger of --min and --desired)" },
        [CLI_OPT_DESIRED] = { "desired", 0, true, "N",
                              "the members wanted now, from --min to --max (a new group's default: --min)" },
        [CLI_OPT_NO_SPREAD] = { "no-spread", 0, false, NULL,
                                "do not spread the members over the hosts (soft anti-affinity)" },
        [CLI_OPT_METRIC] = { "metric", 0, true, "cpu|memory|FIGURE",
                             "cpu: % of a member's vCPUs busy; memory: % of its memory in use; or a figure of instance stats" },
        [CLI_OPT_ABOVE] = { "above", 0, true, "X", "act when the metric is above X" },
        [CLI_OPT_BELOW] = { "below", 0, true, "X", "act when the metric is below X" },
        [CLI_OPT_ADJUST] = { "adjust", 0, true, "+N|-N|=N|+N%|-N%",
                             "change the desired size by N members, to N, or by N percent" },
        [CLI_OPT_STAT] = { "stat", 0, true, "avg|max|min", "how the members' values are combined (default avg)" },
        [CLI_OPT_FOR] = { "for", 0, true, "DURATION",
                          "how long the condition must hold: 90, 90s, 5m, 1h (0-24h; default 5m)" },
        [CLI_OPT_COOLDOWN] = { "cooldown", 0, true, "DURATION",
                               "how long the policy waits after it acted (0-24h; default 5m)" },
        [CLI_OPT_VICTIM] = { "victim", 0, true, "WHICH",
                             "the members that go first when the group shrinks: newest (default), oldest or least-loaded" },
        [CLI_OPT_POLICY_NAME] = { "name", 0, true, "NAME", "the policy's name (default policy-N)" },
        [CLI_OPT_TEMPLATE] = { "template", 0, true, "FILE", "a Heat template (HOT, YAML; at most 1 MiB)" },
        [CLI_OPT_PARAMETER] = { "parameter", 0, true, "KEY=VALUE", "a template parameter (repeatable, at most 64)" },
        [CLI_OPT_FROM_HOST_PATH] = { "from-host-path", 0, false, NULL,
                                     "the files are paths on tided's host, read there (default: upload them)" },
        [CLI_OPT_SCALING_GROUP] = { "scaling-group", 0, true, "NAME",
                                    "only events of this scaling group, name or id (old name: --group)", "group" },
        [CLI_OPT_TO] = { "to", 0, true, "HOST", "the target host (default: placement chooses)" },
        [CLI_OPT_BANDWIDTH] = { "bandwidth", 0, true, "MIB_S",
                                "the most MiB/s the migration may use (default unlimited)" },
        [CLI_OPT_MAX_DOWNTIME] = { "max-downtime", 0, true, "MS",
                                   "the longest pause of the guest at the switch, in ms (default QEMU's 300)" },
        [CLI_OPT_CANCEL] = { "cancel", 0, false, NULL, "stop the migration under way; the VM stays where it runs" },
        [CLI_OPT_CIDR] = { "cidr", 0, true, "A.B.C.D/N", "the network's IPv4 subnet (prefix /8 to /30)" },
        [CLI_OPT_GATEWAY] = { "gateway", 0, true, "IP|none",
                              "the subnet's router, kept from ports (default: its first address; none: no gateway)" },
        [CLI_OPT_DNS] = { "dns", 0, true, "IP", "a DNS server for the guests (repeatable, at most 4)" },
        [CLI_OPT_NET_TYPE] = { "type", 0, true, "vxlan|vlan|flat",
                               "vxlan: an overlay between the hosts; vlan: a VLAN on --physdev; flat: the hosts' --bridge" },
        [CLI_OPT_VNI] = { "vni", 0, true, "N",
                          "the VXLAN network identifier, 1-16777215 (default: the lowest free one of the configured range)" },
        [CLI_OPT_VLAN] = { "vlan", 0, true, "ID",
                           "the VLAN ID, 1-4094 (default: the lowest free one of the configured range on --physdev)" },
        [CLI_OPT_PHYSDEV] = { "physdev", 0, true, "IF", "the hosts' physical interface that carries the VLAN" },
        [CLI_OPT_BRIDGE] = { "bridge", 0, true, "BR", "the hosts' existing bridge a flat network joins (e.g. br0)" },
        [CLI_OPT_NETWORK] = { "network", 0, true, "NAME[:ip=A.B.C.D]",
                              "a port on this network, at this address or a free one (repeatable, at most 8)" },
};

static const char *const weight_names[CLI_WEIGHT_MAX] = {
        [CLI_WEIGHT_RAM] = "ram",
        [CLI_WEIGHT_CPU] = "cpu",
        [CLI_WEIGHT_LOAD] = "load",
        [CLI_WEIGHT_NUMA] = "numa",
        [CLI_WEIGHT_SOFT_AFFINITY] = "soft_affinity",
};

static const char *const group_policies[] = {
        "affinity",
        "anti-affinity",
        "soft-affinity",
        "soft-anti-affinity",
};
static const char *const policy_stats[] = { "avg", "max", "min" };
static const char *const policy_victims[] = { "newest", "oldest", "least-loaded" };

const char *cli_weight_name(enum cli_weight w) {
        return w >= 0 && w < CLI_WEIGHT_MAX ? weight_names[w] : NULL;
}

/* getopt_long's value for an option without a short name: past every char. */
#define LONG_ONLY_BASE 0x100
#define VAL_HELP 'h'

int cli_parse_priority(const char *s, int64_t *ret) {
        static const struct {
                const char *name;
                int64_t value;
        } names[] = {
                { "low", 250 },
                { "normal", 500 },
                { "high", 750 },
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i].name)) {
                        *ret = names[i].value;
                        return 0;
                }
        return parse_int64(s, 1, 1000, ret);
}

int cli_parse_duration(const char *s, int64_t *ret) {
        static const struct {
                char unit;
                int64_t seconds;
        } units[] = {
                { 's', 1 },
                { 'm', 60 },
                { 'h', 3600 },
        };
        size_t digits = s ? strspn(s, "0123456789") : 0;
        if (digits == 0)
                return -EINVAL;
        const char *unit = s + digits;
        int64_t mult = *unit ? 0 : 1;
        for (size_t i = 0; i < ELEMENTSOF(units) && *unit && !unit[1]; i++)
                if (*unit == units[i].unit)
                        mult = units[i].seconds;
        if (mult == 0)
                return -EINVAL;
        /* The digits alone (no sign, no space: strtoll would take them), as a number. */
        _cleanup_free_ char *num = xstrndup(s, digits);
        int64_t v;
        int r = parse_int64(num, 0, CLI_DURATION_MAX_S, &v);
        if (r < 0)
                return r;
        if (v * mult > CLI_DURATION_MAX_S)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

int cli_parse_adjust(const char *s) {
        if (!s || (*s != '+' && *s != '-' && *s != '='))
                return -EINVAL;
        bool exact = *s == '=';
        const char *p = s + 1;
        size_t digits = strspn(p, "0123456789");
        bool percent = p[digits] == '%' && !p[digits + 1];
        if (digits == 0 || digits > 6 || (p[digits] && !percent) || (exact && percent))
                return -EINVAL;
        int64_t v = 0;
        for (size_t i = 0; i < digits; i++)
                v = v * 10 + (p[i] - '0');
        /* A change of 0 does nothing: surely a mistake. =0 empties the group (min 0). */
        if (exact ? v > CLI_SCALING_GROUP_MEMBERS_MAX : v == 0)
                return -EINVAL;
        return 0;
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
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}

int cli_parse_label(const char *s, size_t *ret_key_len) {
        const char *eq = strchr(s, '=');
        if (!eq || !label_chars_valid(s, (size_t) (eq - s)) || !label_chars_valid(eq + 1, strlen(eq + 1)))
                return -EINVAL;
        *ret_key_len = (size_t) (eq - s);
        return 0;
}

int cli_parse_label_key(const char *s) {
        return label_chars_valid(s, strlen(s)) ? 0 : -EINVAL;
}

const struct cli_command *cli_command_find(const struct cli_command *table, size_t n, const char *noun, int nwords,
                                           char *const *words, int *ret_nwords) {
        if (nwords < 1)
                return NULL;
        /* A two-word verb is two words: "config show" as one argument is no command. */
        for (size_t i = 0; i < n; i++)
                if (streq(table[i].noun, noun) && !strchr(words[0], ' ') && streq(table[i].verb, words[0])) {
                        *ret_nwords = 1;
                        return &table[i];
                }
        if (nwords < 2)
                return NULL;
        size_t len = strlen(words[0]);
        for (size_t i = 0; i < n; i++) {
                const char *v = table[i].verb;
                if (streq(table[i].noun, noun) && strncmp(v, words[0], len) == 0 && v[len] == ' ' &&
                    streq(v + len + 1, words[1])) {
                        *ret_nwords = 2;
                        return &table[i];
                }
        }
        return NULL;
}

bool cli_verb_is_first_word(const struct cli_command *table, size_t n, const char *noun, const char *word) {
        size_t len = strlen(word);
        for (size_t i = 0; i < n; i++)
                if (streq(table[i].noun, noun) && len > 0 && strncmp(table[i].verb, word, len) == 0 &&
                    table[i].verb[len] == ' ')
                        return true;
        return false;
}

static int option_value(enum cli_opt id) {
        return option_defs[id].short_name ? option_defs[id].short_name : LONG_ONLY_BASE + (int) id;
}

static int parse_number(const char *s, int64_t min, int64_t max, int64_t *ret, char **ret_error, const char *opt) {
        int r = parse_int64(s, min, max, ret);
        if (r < 0) {
                *ret_error = r == -ERANGE ? xasprintf("--%s must be between %" PRId64 " and %" PRId64 ", not '%s'", opt,
                                                      min, max, s)
                                          : xasprintf("--%s needs a whole number, not '%s'", opt, s);
                return -EINVAL;
        }
        return 0;
}

#define LABEL_RULE "1-63 characters of A-Z a-z 0-9 . _ -"

static int store_hint(const char *arg, struct cli_args *a, char **ret_error) {
        size_t klen;
        if (cli_parse_label(arg, &klen) < 0) {
                *ret_error = xasprintf("--hint must be KEY=VALUE, KEY and VALUE " LABEL_RULE ", not '%s'", arg);
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
static int store_ratio(enum cli_opt id, const char *arg, double *ret, struct cli_args *a, char **ret_error) {
        if (streq(arg, CLI_RESET_WORD)) {
                a->reset |= CLI_F(id);
                return 0;
        }
        double d;
        if (cli_parse_double(arg, &d) < 0 || !(d > 0)) {
                *ret_error = xasprintf("--%s must be a number above 0 or '" CLI_RESET_WORD "', not '%s'",
                                       option_defs[id].long_name, arg);
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
                                       "or soft_affinity, not '%s'",
                                       arg);
                return -EINVAL;
        }
        if (a->weights_given & (1u << w)) {
                *ret_error = xasprintf("--weight %s given twice", weight_names[w]);
                return -EINVAL;
        }
        if (streq(eq + 1, CLI_RESET_WORD))
                a->weights_reset |= 1u << w;
        else if (cli_parse_double(eq + 1, &a->weights[w]) < 0) {
                *ret_error = xasprintf("--weight %s needs a number or '" CLI_RESET_WORD "', not '%s'", weight_names[w],
                                       eq + 1);
                return -EINVAL;
        }
        a->weights_given |= 1u << w;
        return 0;
}

/* Whether labels[0..n) has one whose key (up to '=' or the end) is key[0..klen). */
static bool has_label_key(const char *const *labels, size_t n, const char *key, size_t klen) {
        for (size_t i = 0; i < n; i++)
                if (strncmp(labels[i], key, klen) == 0 && (labels[i][klen] == '=' || labels[i][klen] == 0))
                        return true;
        return false;
}

/* --label KEY=VALUE and --unlabel KEY: each key once in all of them, since the API's labels
 * object can say only one thing of a key. */
static int store_label(enum cli_opt id, const char *arg, struct cli_args *a, char **ret_error) {
        bool set = id == CLI_OPT_LABEL;
        size_t klen = strlen(arg);
        if (set ? cli_parse_label(arg, &klen) < 0 : cli_parse_label_key(arg) < 0) {
                *ret_error = set ? xasprintf("--label must be KEY=VALUE, KEY and VALUE " LABEL_RULE ", not '%s'", arg)
                                 : xasprintf("--unlabel needs a KEY of " LABEL_RULE ", not '%s'", arg);
                return -EINVAL;
        }
        if (has_label_key(a->labels, a->n_labels, arg, klen) || has_label_key(a->unlabels, a->n_unlabels, arg, klen)) {
                *ret_error = xasprintf("label '%.*s' given twice", (int) klen, arg);
                return -EINVAL;
        }
        size_t *n = set ? &a->n_labels : &a->n_unlabels;
        if (*n == CLI_LABELS_MAX) {
                *ret_error = xasprintf("at most %d --%s options", CLI_LABELS_MAX, option_defs[id].long_name);
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
                        *ret_error = xasprintf("--%s must be a number of cores %s or '" CLI_RESET_WORD "', not '%s'", n,
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
                        *ret_error = xasprintf("--elastic must be 'on', 'off' or '" CLI_RESET_WORD "', not '%s'", arg);
                        return -EINVAL;
                }
                a->elastic = streq(arg, "on");
                return 0;
        default:
                abort();
        }
}

/* "a", "a or b", "a, b or c": words[0..n), each after prefix. A new string. */
static char *word_list(const char *prefix, const char *const *words, size_t n) {
        struct strbuf b = STRBUF_INIT(0);
        for (size_t i = 0; i < n; i++)
                strbuf_printf(&b, "%s%s%s", i == 0 ? "" : i + 1 < n ? ", " : " or ", prefix, words[i]);
        return strbuf_steal(&b);
}

/* One word of a closed list, or an error naming them all. */
static int store_word(enum cli_opt id, const char *arg, const char *const *words, size_t n, const char **ret,
                      char **ret_error) {
        for (size_t i = 0; i < n; i++)
                if (streq(arg, words[i])) {
                        *ret = arg;
                        return 0;
                }
        _cleanup_free_ char *list = word_list("", words, n);
        *ret_error = xasprintf("--%s must be %s, not '%s'", option_defs[id].long_name, list, arg);
        return -EINVAL;
}

/* The options of scaling policies: the threshold, the adjustment, a metric's name, durations.
 * tided knows the metrics; here a name is only checked to be one. */
static int store_scaling(enum cli_opt id, const char *arg, struct cli_args *a, char **ret_error) {
        const char *n = option_defs[id].long_name;
        int r;
        switch (id) {
        case CLI_OPT_METRIC:
                if (!*arg || strlen(arg) > CLI_LABEL_MAX ||
                    strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(arg)) {
                        *ret_error = xasprintf("--metric must be cpu, memory or a figure's "
                                               "name (a-z 0-9 _), not '%s'",
                                               arg);
                        return -EINVAL;
                }
                a->metric = arg;
                return 0;
        case CLI_OPT_ABOVE:
        case CLI_OPT_BELOW:
                if (cli_parse_double(arg, &a->threshold) < 0) {
                        *ret_error = xasprintf("--%s needs a number, not '%s'", n, arg);
                        return -EINVAL;
                }
                return 0;
        case CLI_OPT_ADJUST:
                if (cli_parse_adjust(arg) < 0) {
                        *ret_error = xasprintf("--adjust must be +N or -N (members), =N (exactly "
                                               "N members, at most %d) or +N%% or -N%% (of the "
                                               "desired size), N not 0, not '%s'",
                                               CLI_SCALING_GROUP_MEMBERS_MAX, arg);
                        return -EINVAL;
                }
                a->adjust = arg;
                return 0;
        case CLI_OPT_FOR:
        case CLI_OPT_COOLDOWN:
                r = cli_parse_duration(arg, id == CLI_OPT_FOR ? &a->for_s : &a->cooldown_s);
                if (r == -ERANGE)
                        *ret_error = xasprintf("--%s must be at most 24h (%d seconds), not '%s'", n, CLI_DURATION_MAX_S,
                                               arg);
                else if (r < 0)
                        *ret_error = xasprintf("--%s must be a whole number of seconds, "
                                               "optionally with a unit s, m or h (90, 90s, 5m, "
                                               "1h), not '%s'",
                                               n, arg);
                return r < 0 ? -EINVAL : 0;
        case CLI_OPT_STAT:
                return store_word(id, arg, policy_stats, ELEMENTSOF(policy_stats), &a->stat, ret_error);
        case CLI_OPT_VICTIM:
                return store_word(id, arg, policy_victims, ELEMENTSOF(policy_victims), &a->victim, ret_error);
        default:
                abort();
        }
}

/* Stores one option's value. The server checks the API's exact limits; here only what
 * cannot be meaningful is refused, and the limits that the CLI itself documents. */
/* Stores an option that is a flag or whose value is kept as given. */
static int store_plain(enum cli_opt id, const char *arg, struct cli_args *a) {
        switch (id) {
        case CLI_OPT_DISK_FILE:
                a->disk_file = arg;
                return 0;
        case CLI_OPT_KERNEL:
                a->kernel = arg;
                return 0;
        case CLI_OPT_INITRD:
                a->initrd = arg;
                return 0;
        case CLI_OPT_CMDLINE:
                a->cmdline = arg;
                return 0;
        case CLI_OPT_FLAVOR:
                a->flavor = arg;
                return 0;
        case CLI_OPT_IMAGE:
                a->image = arg;
                return 0;
        case CLI_OPT_USER_DATA:
                a->user_data_file = arg;
                return 0;
        case CLI_OPT_HA:
                a->ha = true;
                return 0;
        case CLI_OPT_FROM_HOST_PATH:
                a->from_host_path = true;
                return 0;
        case CLI_OPT_WAIT:
                a->wait = true;
                return 0;
        case CLI_OPT_FOLLOW:
                a->follow = true;
                return 0;
        case CLI_OPT_INSTANCE:
                a->instance = arg;
                return 0;
        case CLI_OPT_HUGEPAGES:
                a->hugepages = true;
                return 0;
        case CLI_OPT_SERVER_GROUP:
                a->server_group = arg;
                return 0;
        case CLI_OPT_DRY_RUN:
                a->dry_run = true;
                return 0;
        case CLI_OPT_DRAIN:
                a->drain = true;
                return 0;
        case CLI_OPT_UNDRAIN:
                a->undrain = true;
                return 0;
        case CLI_OPT_NO_SPREAD:
                a->no_spread = true;
                return 0;
        case CLI_OPT_POLICY_NAME:
                a->policy_name = arg;
                return 0;
        case CLI_OPT_SCALING_GROUP:
                a->scaling_group = arg;
                return 0;
        case CLI_OPT_TEMPLATE:
                a->template_file = arg;
                return 0;
        case CLI_OPT_TO:
                a->to = arg;
                return 0;
        case CLI_OPT_CANCEL:
                a->cancel = true;
                return 0;
        default:
                abort();
        }
}

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
        case CLI_OPT_PRIORITY:
                if (streq(arg, CLI_RESET_WORD)) {
                        a->reset |= CLI_F(id);
                        return 0;
                }
                if (cli_parse_priority(arg, &a->priority) < 0) {
                        *ret_error = xasprintf("--priority must be 1-1000, low, normal, high or '" CLI_RESET_WORD
                                               "', not '%s'",
                                               arg);
                        return -EINVAL;
                }
                a->reset &= ~CLI_F(id);
                return 0;
        case CLI_OPT_TIMEOUT:
                /* Capped so that the milliseconds fit any int64 arithmetic of the waiter. */
                return parse_number(arg, 1, INT32_MAX, &a->timeout_s, ret_error, n);
        case CLI_OPT_LIMIT:
                return parse_number(arg, 1, 1000, &a->limit, ret_error, n);
        case CLI_OPT_CPU_POLICY:
                if (!streq(arg, "shared") && !streq(arg, "dedicated")) {
                        *ret_error = xasprintf("--cpu-policy must be 'shared' or 'dedicated', "
                                               "not '%s'",
                                               arg);
                        return -EINVAL;
                }
                a->cpu_policy = arg;
                return 0;
        case CLI_OPT_HINT:
                return store_hint(arg, a, ret_error);
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
                                    id == CLI_OPT_RESERVED_CPUS ? &a->reserved_cpus : &a->reserved_ram_mib, ret_error,
                                    n);
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
                                       "or soft-anti-affinity, not '%s'",
                                       arg);
                return -EINVAL;
        case CLI_OPT_LABEL:
        case CLI_OPT_UNLABEL:
                return store_label(id, arg, a, ret_error);
        case CLI_OPT_CPU_RESERVATION:
        case CLI_OPT_CPU_LIMIT:
        case CLI_OPT_MEM_RESERVATION:
        case CLI_OPT_MEM_LIMIT:
        case CLI_OPT_ELASTIC:
                return store_policy(id, arg, a, ret_error);
        case CLI_OPT_STATS_LIMIT:
                return parse_number(arg, 1, 10000, &a->stats_limit, ret_error, n);
        case CLI_OPT_BANDWIDTH:
                return parse_number(arg, 1, 1000000, &a->bandwidth_mib_s, ret_error, n);
        case CLI_OPT_MAX_DOWNTIME:
                return parse_number(arg, 1, 600000, &a->max_downtime_ms, ret_error, n);
        case CLI_OPT_MIN_SIZE:
                return parse_number(arg, 0, CLI_SCALING_GROUP_MEMBERS_MAX, &a->min_size, ret_error, n);
        case CLI_OPT_MAX_SIZE:
                return parse_number(arg, 1, CLI_SCALING_GROUP_MEMBERS_MAX, &a->max_size, ret_error, n);
        case CLI_OPT_DESIRED:
                return parse_number(arg, 0, CLI_SCALING_GROUP_MEMBERS_MAX, &a->desired, ret_error, n);
        case CLI_OPT_METRIC:
        case CLI_OPT_ABOVE:
        case CLI_OPT_BELOW:
        case CLI_OPT_ADJUST:
        case CLI_OPT_STAT:
        case CLI_OPT_FOR:
        case CLI_OPT_COOLDOWN:
        case CLI_OPT_VICTIM:
                return store_scaling(id, arg, a, ret_error);
        case CLI_OPT_PARAMETER:
                if (!strchr(arg, '=') || arg[0] == '=') {
                        *ret_error = xasprintf("--parameter must be KEY=VALUE, not '%s'", arg);
                        return -EINVAL;
                }
                if (a->n_parameters == CLI_PARAMETERS_MAX) {
                        *ret_error = xasprintf("at most %d --parameter options", CLI_PARAMETERS_MAX);
                        return -EINVAL;
                }
                a->parameters[a->n_parameters++] = arg;
                return 0;
        case CLI_OPT_CIDR:
        case CLI_OPT_GATEWAY:
        case CLI_OPT_DNS:
        case CLI_OPT_NET_TYPE:
        case CLI_OPT_VNI:
        case CLI_OPT_VLAN:
        case CLI_OPT_PHYSDEV:
        case CLI_OPT_BRIDGE:
        case CLI_OPT_NETWORK:
                return cli_network_option(id, arg, a, ret_error);
        default:
                return store_plain(id, arg, a);
        }
}

/* Operand i's name, a word of cmd->operands ("GROUP POLICY"), with its length in *ret_len;
 * NULL past the last. */
static const char *operand_word(const struct cli_command *cmd, size_t i, size_t *ret_len) {
        const char *p = cmd->operands ? cmd->operands + strspn(cmd->operands, " ") : "";
        for (; *p && i > 0; i--) {
                p += strcspn(p, " ");
                p += strspn(p, " ");
        }
        *ret_len = strcspn(p, " ");
        return *p ? p : NULL;
}

static size_t operand_count(const struct cli_command *cmd) {
        size_t n = 0, len;
        while (operand_word(cmd, n, &len))
                n++;
        if (n > CLI_OPERANDS_MAX)
                abort(); /* a command table that this parser cannot serve */
        return n;
}

/* "nothing to change": with the options to give, when they are few enough to list. */
static char *nothing_to_change(cli_optmask one_of) {
        enum { LIST_MAX = 3 };
        const char *names[LIST_MAX];
        size_t n = 0;
        for (int id = 0; id < CLI_OPT_MAX; id++)
                if (one_of & CLI_F(id)) {
                        if (n == LIST_MAX)
                                return xstrdup("nothing to change: give at least one option");
                        names[n++] = option_defs[id].long_name;
                }
        _cleanup_free_ char *list = word_list("--", names, n);
        return xasprintf("nothing to change: give %s", list);
}

/* A group's --min, --max and --desired, when given together, must be in order; tided checks
 * them against the group's others. */
static int check_sizes(const struct cli_args *a, char **ret_error) {
        bool min = a->given & CLI_F(CLI_OPT_MIN_SIZE), max = a->given & CLI_F(CLI_OPT_MAX_SIZE);
        bool desired = a->given & CLI_F(CLI_OPT_DESIRED);
        if (min && max && a->min_size > a->max_size)
                *ret_error = xasprintf("--min (%" PRId64 ") is above --max (%" PRId64 ")", a->min_size, a->max_size);
        else if (min && desired && a->desired < a->min_size)
                *ret_error = xasprintf("--desired (%" PRId64 ") is below --min (%" PRId64 ")", a->desired, a->min_size);
        else if (max && desired && a->desired > a->max_size)
                *ret_error = xasprintf("--desired (%" PRId64 ") is above --max (%" PRId64 ")", a->desired, a->max_size);
        else
                return 0;
        return -EINVAL;
}

/* Names the option getopt could not take, for the message. */
static char *bad_option_name(int argc, char **argv, int opt_char) {
        if (opt_char > 0 && opt_char < LONG_ONLY_BASE)
                return xasprintf("-%c", opt_char);
        if (opt_char >= LONG_ONLY_BASE && opt_char < LONG_ONLY_BASE + CLI_OPT_MAX) {
                const struct option_def *d = &option_defs[opt_char - LONG_ONLY_BASE];
                /* By its old name when that is the word given (getopt has stepped past it). */
                if (d->old_name && optind > 0 && optind <= argc) {
                        const char *s = argv[optind - 1];
                        size_t n = strcspn(s, "=");
                        if (startswith(s, "--") && n == 2 + strlen(d->old_name) &&
                            strncmp(s + 2, d->old_name, n - 2) == 0)
                                return xasprintf("--%s", d->old_name);
                }
                return xasprintf("--%s", d->long_name);
        }
        /* An unknown long option: getopt has stepped past it. */
        if (optind > 0 && optind <= argc) {
                const char *s = argv[optind - 1];
                return xstrndup(s, strcspn(s, "="));
        }
        return xstrdup("?");
}

int cli_args_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *ret, char **ret_error) {
        struct option longopts[2 * CLI_OPT_MAX + 2]; /* each option, its old name, --help */
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
                if (d->old_name) {
                        longopts[nl] = longopts[nl - 1];
                        longopts[nl++].name = d->old_name;
                }
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
        /* The operands, in order; one past those the command takes is one too many. */
        const char *ops[CLI_OPERANDS_MAX + 1] = {};
        size_t nops = 0, want = operand_count(cmd);
        bool help = false;

        opterr = 0;
        optind = 0; /* glibc: re-initialise completely, argv is a new vector */
        for (;;) {
                int c = getopt_long(argc, argv, shortopts, longopts, NULL);
                if (c == -1)
                        break;
                if (c == VAL_HELP) {
                        help = true;
                        continue;
                }
                if (c == 1) {
                        if (nops <= want)
                                ops[nops++] = optarg;
                        continue;
                }
                if (c == '?' || c == ':') {
                        _cleanup_free_ char *o = bad_option_name(argc, argv, optopt);
                        if (c == ':')
                                *ret_error = xasprintf("option '%s' needs an argument", o);
                        else if (optopt >= LONG_ONLY_BASE) /* "--wait=x" */
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
                        abort(); /* getopt returned a value we did not give it */
                if (store_option(id, optarg, &a, ret_error) < 0)
                        return -EINVAL;
                a.given |= CLI_F(id);
        }
        /* Operands after "--". */
        for (int i = optind; i < argc && nops <= want; i++)
                ops[nops++] = argv[i];

        /* Help wins over every other complaint: "tide x y --help" must always work. */
        if (help)
                return CLI_ARGS_HELP;

        if (nops > want) {
                *ret_error = xasprintf("unexpected argument '%s'", ops[want]);
                return -EINVAL;
        }
        for (size_t i = 0; i < want; i++)
                if (i >= nops || !*ops[i]) {
                        size_t len;
                        const char *o = operand_word(cmd, i, &len);
                        *ret_error = i >= nops ? xasprintf("missing %.*s", (int) len, o)
                                               : xasprintf("%.*s must not be empty", (int) len, o);
                        return -EINVAL;
                }
        a.name = ops[0];
        a.name2 = ops[1];
        for (int id = 0; id < CLI_OPT_MAX; id++)
                if ((cmd->required & CLI_F(id)) && !(a.given & CLI_F(id))) {
                        *ret_error = xasprintf("missing --%s %s", option_defs[id].long_name, option_defs[id].metavar);
                        return -EINVAL;
                }
        if ((a.given & (CLI_F(CLI_OPT_INITRD) | CLI_F(CLI_OPT_CMDLINE))) && !(a.given & CLI_F(CLI_OPT_KERNEL))) {
                *ret_error = xstrdup("--initrd and --cmdline need --kernel");
                return -EINVAL;
        }
        if (a.cancel && (a.given & (CLI_F(CLI_OPT_TO) | CLI_F(CLI_OPT_BANDWIDTH) | CLI_F(CLI_OPT_MAX_DOWNTIME) |
                                    CLI_F(CLI_OPT_WAIT)))) {
                *ret_error = xstrdup("--cancel takes no --to, --bandwidth, --max-downtime or --wait");
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
                *ret_error = nothing_to_change(cmd->one_of);
                return -EINVAL;
        }
        if ((cmd->options & CLI_F(CLI_OPT_ABOVE)) &&
            !!(a.given & CLI_F(CLI_OPT_ABOVE)) == !!(a.given & CLI_F(CLI_OPT_BELOW))) {
                *ret_error = xstrdup(a.given & CLI_F(CLI_OPT_ABOVE) ? "give --above or --below, not both"
                                                                    : "missing --above X or --below X");
                return -EINVAL;
        }
        if (check_sizes(&a, ret_error) < 0)
                return -EINVAL;
        if (a.instance && a.scaling_group) {
                *ret_error = xstrdup("give --instance or --scaling-group, not both");
                return -EINVAL;
        }

        *ret = a;
        return CLI_ARGS_OK;
}

void cli_command_help(FILE *f, const struct cli_command *cmd) {
        /* A noun's own command ("tide metrics") has an empty verb. */
        fprintf(f, "Usage: tide %s%s%s%s%s\n\n%s\n", cmd->noun, *cmd->verb ? " " : "", cmd->verb,
                cmd->usage && *cmd->usage ? " " : "", cmd->usage ? cmd->usage : "", cmd->help);
        fputs("\nOptions:\n", f);
        for (int id = 0; id < CLI_OPT_MAX; id++) {
                if (!(cmd->options & CLI_F(id)))
                        continue;
                const struct option_def *d = &option_defs[id];
                _cleanup_free_ char *spec = xasprintf("%c%c%c --%s%s%s", d->short_name ? '-' : ' ',
                                                      d->short_name ? d->short_name : ' ', d->short_name ? ',' : ' ',
                                                      d->long_name, d->has_arg ? " " : "",
                                                      d->has_arg ? d->metavar : "");
                fprintf(f, "  %-34s %s%s\n", spec, d->help, cmd->required & CLI_F(id) ? " (required)" : "");
        }
        fprintf(f, "  %-34s %s\n", "-h, --help", "show this help");
}
