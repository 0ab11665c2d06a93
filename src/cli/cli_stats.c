/* cli_stats.c — tide instance stats, tide host stats and tide metrics: what the agent
 * measured, as FIELD VALUE rows of the newest sample and a short history table. */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "common/tide_json.h"

/* Rows of history the table form asks for when --limit is not given: a screenful. */
#define STATS_TABLE_LIMIT 10

/* How one figure of a sample is shown. */
enum stat_kind {
        STAT_TEXT,      /* the value as it is */
        STAT_YES_NO,    /* a boolean as yes/no */
        STAT_CORES,     /* a rate in cores: "2.5 cores" */
        STAT_NUMBER,    /* a number for people: "2.5" */
        STAT_PERCENT,   /* a ratio 0-1 as a percentage: "95%" */
        STAT_PAIR,      /* key/key2: "3/4" */
        STAT_MIB,       /* KiB as whole MiB: "1998 MiB" */
        STAT_MIB_SHORT, /* KiB as whole MiB in a history cell: "1998MiB" */
        STAT_MIB_PAIR,  /* KiB key of KiB key2: "2048 / 4096 MiB" */
        STAT_LOAD,      /* load1 load5 load15 */
        STAT_AGO,       /* t_ms relative to the newest sample: "-3s" */
        STAT_KIND_MAX,
};

struct stat_field {
        const char *label; /* a FIELD row's name, or a history column's header */
        enum stat_kind kind;
        const char *key;
        const char *key2; /* STAT_PAIR, STAT_MIB_PAIR */
};

static const struct stat_field instance_fields[] = {
        { "running", STAT_YES_NO, "running", NULL },
        { "cpu used", STAT_CORES, "cpu_cores", NULL },
        { "cpu ready", STAT_CORES, "ready_cores", NULL },
        { "busiest vcpu", STAT_PERCENT, "vcpu_busy_max", NULL },
        { "vcpus", STAT_PAIR, "vcpus", "vcpus_max" },
        { "balloon", STAT_MIB_PAIR, "balloon_kib", "balloon_max_kib" },
        { "guest usable", STAT_MIB, "mem_usable_kib", NULL },
        { "guest available", STAT_MIB, "mem_available_kib", NULL },
        { "guest unused", STAT_MIB, "mem_unused_kib", NULL },
        { "host rss", STAT_MIB, "mem_rss_kib", NULL },
        { "demand", STAT_CORES, "demand_cores", NULL },
        { "entitlement", STAT_CORES, "entitlement_cores", NULL },
};

static const struct stat_field instance_history[] = {
        { "TIME", STAT_AGO, "t_ms", NULL },
        { "CPU", STAT_NUMBER, "cpu_cores", NULL },
        { "READY", STAT_NUMBER, "ready_cores", NULL },
        { "VCPUS", STAT_PAIR, "vcpus", "vcpus_max" },
        { "BALLOON", STAT_MIB_SHORT, "balloon_kib", NULL },
        { "USABLE", STAT_MIB_SHORT, "mem_usable_kib", NULL },
};

static const struct stat_field host_fields[] = {
        { "cpus", STAT_TEXT, "cpus", NULL },
        { "cpu busy", STAT_CORES, "cpu_busy_cores", NULL },
        { "cpu idle", STAT_CORES, "cpu_idle_cores", NULL },
        { "cpu iowait", STAT_CORES, "cpu_iowait_cores", NULL },
        { "mem total", STAT_MIB, "mem_total_kib", NULL },
        { "mem available", STAT_MIB, "mem_available_kib", NULL },
        { "mem free", STAT_MIB, "mem_free_kib", NULL },
        { "load", STAT_LOAD, NULL, NULL },
        { "vms", STAT_TEXT, "vms", NULL },
};

static const struct stat_field host_history[] = {
        { "TIME", STAT_AGO, "t_ms", NULL },
        { "BUSY", STAT_NUMBER, "cpu_busy_cores", NULL },
        { "IDLE", STAT_NUMBER, "cpu_idle_cores", NULL },
        { "IOWAIT", STAT_NUMBER, "cpu_iowait_cores", NULL },
        { "AVAILABLE", STAT_MIB_SHORT, "mem_available_kib", NULL },
        { "LOAD1", STAT_NUMBER, "load1", NULL },
};

char *cli_format_relative(int64_t ms) {
        /* Whole seconds, rounded half away from zero; "0s" has no sign. */
        uint64_t mag = ms < 0 ? (uint64_t) - (ms + 1) + 1 : (uint64_t) ms;
        uint64_t s = (mag + 500) / 1000;
        const char *sign = s == 0 ? "" : ms < 0 ? "-" : "+";
        if (s < 60)
                return xasprintf("%s%" PRIu64 "s", sign, s);
        if (s < 3600)
                return xasprintf("%s%" PRIu64 "m%02" PRIu64 "s", sign, s / 60, s % 60);
        return xasprintf("%s%" PRIu64 "h%02" PRIu64 "m", sign, s / 3600, s / 60 % 60);
}

/* KiB as whole MiB, rounded; NULL when v is not a non-negative integer. */
static char *kib_to_mib(const json_t *v, const char *suffix) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return NULL;
        return xasprintf("%" JSON_INTEGER_FORMAT "%s", (json_integer_value(v) + 512) / 1024, suffix);
}

static char *number(const json_t *v, const char *suffix) {
        if (!json_is_number(v))
                return NULL;
        _cleanup_free_ char *n = cli_format_number(json_number_value(v));
        return xasprintf("%s%s", n, suffix);
}

/* One figure of sample, or NULL when the sample does not have it. ref_ms is the newest
 * sample's time (STAT_AGO). */
static char *format_stat(const struct stat_field *fd, const json_t *sample, int64_t ref_ms) {
        const json_t *v = fd->key ? json_object_get(sample, fd->key) : NULL;
        const json_t *v2 = fd->key2 ? json_object_get(sample, fd->key2) : NULL;
        switch (fd->kind) {
        case STAT_TEXT:
                return v && !json_is_null(v) ? cli_cell_value(v) : NULL;
        case STAT_YES_NO:
                return json_is_boolean(v) ? xstrdup(json_is_true(v) ? "yes" : "no") : NULL;
        case STAT_CORES: {
                /* "1 core", not "1 cores". */
                bool one = json_is_number(v) && json_number_value(v) == 1;
                return number(v, one ? " core" : " cores");
        }
        case STAT_NUMBER:
                return number(v, "");
        case STAT_PERCENT:
                return json_is_number(v) ? xasprintf("%.0f%%", json_number_value(v) * 100) : NULL;
        case STAT_PAIR: {
                _cleanup_free_ char *a = number(v, ""), *b = number(v2, "");
                return a ? xasprintf("%s/%s", a, b ? b : "-") : NULL;
        }
        case STAT_MIB:
                return kib_to_mib(v, " MiB");
        case STAT_MIB_SHORT:
                return kib_to_mib(v, "MiB");
        case STAT_MIB_PAIR: {
                _cleanup_free_ char *a = kib_to_mib(v, ""), *b = kib_to_mib(v2, "");
                return a ? xasprintf("%s / %s MiB", a, b ? b : "-") : NULL;
        }
        case STAT_LOAD: {
                _cleanup_free_ char *l1 = number(json_object_get(sample, "load1"), "");
                _cleanup_free_ char *l5 = number(json_object_get(sample, "load5"), "");
                _cleanup_free_ char *l15 = number(json_object_get(sample, "load15"), "");
                return l1 ? xasprintf("%s %s %s", l1, l5 ? l5 : "-", l15 ? l15 : "-") : NULL;
        }
        case STAT_AGO:
                return json_is_integer(v) ? cli_format_relative(json_integer_value(v) - ref_ms) : NULL;
        case STAT_KIND_MAX:
                break;
        }
        abort();
}

static void add_row(struct cli_table *t, const char *label, char *value) {
        char *row[2] = { xstrdup(label), value ? value : xstrdup("-") };
        cli_table_add_row(t, row);
}

/* The "sampled" row: the newest sample's wall-clock time and, when now_ms is known, its age. */
static char *format_sampled(const json_t *t_ms, int64_t now_ms) {
        if (!json_is_integer(t_ms) || json_integer_value(t_ms) <= 0)
                return NULL;
        int64_t t = json_integer_value(t_ms);
        _cleanup_free_ char *when = time_format_ms(t);
        if (now_ms <= 0 || now_ms < t)
                return TAKE_PTR(when); /* no clock, or the agent's is ahead: no age */
        _cleanup_free_ char *age = cli_format_relative(now_ms - t);
        return xasprintf("%s (%s ago)", when, age + (age[0] == '+'));
}

/* Prints the FIELD VALUE rows (head: members of the answer itself, then the sample's time,
 * then fields of `current`) and, when there is any, the history table. */
static int print_stats(FILE *f, enum cli_format format, const json_t *answer, const char *const *head,
                       const struct stat_field *fields, size_t nfields, const struct stat_field *hist, size_t nhist,
                       bool actions, int64_t now_ms) {
        if (!json_is_object(answer))
                return -EINVAL;
        if (format == CLI_FORMAT_JSON)
                return cli_print_json(f, answer);

        const json_t *cur = json_object_get(answer, "current");
        const json_t *ref = json_object_get(cur, "t_ms");
        int64_t ref_ms = json_is_integer(ref) ? json_integer_value(ref) : 0;

        static const char *const headers[] = { "FIELD", "VALUE" };
        _cleanup_table_ struct cli_table *t = cli_table_new(2, headers);
        for (; *head; head++) {
                const json_t *v = json_object_get(answer, *head);
                add_row(t, *head, v && !json_is_null(v) ? cli_cell_value(v) : NULL);
        }
        add_row(t, "sampled", format_sampled(ref, now_ms));
        for (size_t i = 0; i < nfields; i++)
                add_row(t, fields[i].label, format_stat(&fields[i], cur, ref_ms));
        if (actions) {
                /* {"shares": 2, "vcpus": 1} -> "shares 2, vcpus 1" */
                const json_t *acts = json_object_get(answer, "actions");
                _cleanup_free_ char *s = NULL;
                const char *kind;
                json_t *n;
                json_object_foreach((json_t *) acts, kind, n) {
                        _cleanup_free_ char *k = cli_sanitize(kind), *c = cli_cell_value(n);
                        char *next = xasprintf("%s%s%s %s", s ? s : "", s ? ", " : "", k, c);
                        free(s);
                        s = next;
                }
                add_row(t, "elastic actions", TAKE_PTR(s));
        }
        cli_table_print(t, f);

        const json_t *history = json_object_get(answer, "history");
        if (json_array_size(history) > 0) {
                _cleanup_free_ const char **hh = xcalloc(nhist, sizeof *hh);
                for (size_t c = 0; c < nhist; c++)
                        hh[c] = hist[c].label;
                _cleanup_table_ struct cli_table *ht = cli_table_new(nhist, hh);
                size_t i;
                const json_t *sample;
                json_array_foreach(history, i, sample) {
                        _cleanup_free_ char **row = xcalloc(nhist, sizeof *row);
                        for (size_t c = 0; c < nhist; c++) {
                                row[c] = format_stat(&hist[c], sample, ref_ms);
                                if (!row[c])
                                        row[c] = xstrdup("-");
                        }
                        cli_table_add_row(ht, row);
                }
                fputc('\n', f);
                cli_table_print(ht, f);
        }
        return ferror(f) ? -EIO : 0;
}

int cli_stats_print_instance(FILE *f, enum cli_format format, const json_t *answer, int64_t now_ms) {
        static const char *const head[] = { "name", "id", "host", NULL };
        return print_stats(f, format, answer, head, instance_fields, ELEMENTSOF(instance_fields), instance_history,
                           ELEMENTSOF(instance_history), true, now_ms);
}

int cli_stats_print_host(FILE *f, enum cli_format format, const json_t *answer, int64_t now_ms) {
        static const char *const head[] = { "host", NULL };
        return print_stats(f, format, answer, head, host_fields, ELEMENTSOF(host_fields), host_history,
                           ELEMENTSOF(host_history), false, now_ms);
}

/* GETs /v1/COLLECTION/NAME/stats and prints it with print. */
static int run_stats(struct cli_ctx *ctx, const struct cli_args *a, const char *collection,
                     int (*print)(FILE *, enum cli_format, const json_t *, int64_t)) {
        _cleanup_free_ char *e = cli_escape(a->name);
        int64_t limit = a->given & CLI_F(CLI_OPT_STATS_LIMIT) ? a->stats_limit
                        : a->format == CLI_FORMAT_TABLE       ? STATS_TABLE_LIMIT
                                                              : 0;
        _cleanup_free_ char *path = limit ? xasprintf("/v1/%s/%s/stats?limit=%" PRId64, collection, e, limit)
                                          : xasprintf("/v1/%s/%s/stats", collection, e);
        _cleanup_json_ json_t *j = NULL;
        if (cli_api_call(ctx, "GET", path, NULL, 0, 0, &j) < 0)
                return CLI_EXIT_FAILURE;
        int r = print(stdout, a->format, j, now_ms());
        if (r < 0) {
                cli_error("cannot print the answer: %s", r == -EINVAL ? "not an object" : strerror(-r));
                return CLI_EXIT_FAILURE;
        }
        return CLI_EXIT_OK;
}

int cli_instance_stats(struct cli_ctx *ctx, const struct cli_args *a) {
        return run_stats(ctx, a, "instances", cli_stats_print_instance);
}

int cli_host_stats(struct cli_ctx *ctx, const struct cli_args *a) {
        return run_stats(ctx, a, "hosts", cli_stats_print_host);
}

int cli_metrics(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        if (cli_api_get_text(ctx, "/metrics", &text, &len) < 0)
                return CLI_EXIT_FAILURE;
        /* As it is: the exposition format is for promtool and scrapers; tided escapes its
         * label values. A failed write is reported by main(). */
        fwrite(text, 1, len, stdout);
        return CLI_EXIT_OK;
}
