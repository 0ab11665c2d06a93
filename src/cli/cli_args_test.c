/* cli_args_test.c — unit tests of the tide client's option parsing (cli_args.c) and of
 * cli_escape(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli/cli.h"

static int run_nothing(struct cli_ctx *ctx, const struct cli_args *a) {
        return 0;
}

static const struct cli_command create_cmd = {
        "instance",
        "create",
        run_nothing,
        "NAME",
        CLI_F(CLI_OPT_FLAVOR) | CLI_F(CLI_OPT_IMAGE) | CLI_F(CLI_OPT_PRIORITY) | CLI_F(CLI_OPT_HA) |
                CLI_F(CLI_OPT_WAIT) | CLI_F(CLI_OPT_TIMEOUT) | CLI_F(CLI_OPT_FORMAT) | CLI_F(CLI_OPT_USER_DATA),
        CLI_F(CLI_OPT_FLAVOR) | CLI_F(CLI_OPT_IMAGE),
        "NAME --flavor F --image I",
        "test",
        0,
};

static const struct cli_command list_cmd = {
        "event", "list", run_nothing, NULL, CLI_F(CLI_OPT_FORMAT) | CLI_F(CLI_OPT_LIMIT) | CLI_F(CLI_OPT_INSTANCE),
        0,       "",     "test",      0,
};

static const struct cli_command flavor_cmd = {
        "flavor",
        "create",
        run_nothing,
        "NAME",
        CLI_F(CLI_OPT_VCPUS) | CLI_F(CLI_OPT_RAM) | CLI_F(CLI_OPT_DISK_GIB) | CLI_F(CLI_OPT_MAX_RAM),
        CLI_F(CLI_OPT_VCPUS) | CLI_F(CLI_OPT_RAM) | CLI_F(CLI_OPT_DISK_GIB),
        "",
        "test",
        0,
};

static const struct cli_command image_cmd = {
        "image",
        "create",
        run_nothing,
        "NAME",
        CLI_F(CLI_OPT_DISK_FILE) | CLI_F(CLI_OPT_KERNEL) | CLI_F(CLI_OPT_INITRD) | CLI_F(CLI_OPT_CMDLINE),
        CLI_F(CLI_OPT_DISK_FILE),
        "",
        "test",
        0,
};

static const struct cli_command instance_create_cmd = {
        "instance",
        "create",
        run_nothing,
        "NAME",
        CLI_F(CLI_OPT_FLAVOR) | CLI_F(CLI_OPT_IMAGE) | CLI_F(CLI_OPT_HINT) | CLI_F(CLI_OPT_SERVER_GROUP) |
                CLI_F(CLI_OPT_DRY_RUN) | CLI_F(CLI_OPT_WAIT),
        CLI_F(CLI_OPT_FLAVOR) | CLI_F(CLI_OPT_IMAGE),
        "",
        "test",
        0,
};

#define SETTINGS \
        (CLI_F(CLI_OPT_CPU_RATIO) | CLI_F(CLI_OPT_RAM_RATIO) | CLI_F(CLI_OPT_RESERVED_CPUS) | \
         CLI_F(CLI_OPT_RESERVED_RAM))

static const struct cli_command host_set_cmd = {
        "host",
        "set",
        run_nothing,
        "NAME",
        SETTINGS | CLI_F(CLI_OPT_LABEL) | CLI_F(CLI_OPT_UNLABEL) | CLI_F(CLI_OPT_DRAIN) | CLI_F(CLI_OPT_UNDRAIN) |
                CLI_F(CLI_OPT_FORMAT),
        0,
        "",
        "test",
        SETTINGS | CLI_F(CLI_OPT_LABEL) | CLI_F(CLI_OPT_UNLABEL) | CLI_F(CLI_OPT_DRAIN) | CLI_F(CLI_OPT_UNDRAIN),
};

static const struct cli_command migrate_cmd = {
        "instance",
        "migrate",
        run_nothing,
        "NAME",
        CLI_F(CLI_OPT_TO) | CLI_F(CLI_OPT_BANDWIDTH) | CLI_F(CLI_OPT_MAX_DOWNTIME) | CLI_F(CLI_OPT_CANCEL) |
                CLI_F(CLI_OPT_WAIT) | CLI_F(CLI_OPT_TIMEOUT) | CLI_F(CLI_OPT_FORMAT),
        0,
        "",
        "test",
        0,
};

static const struct cli_command config_set_cmd = {
        "placement",
        "config set",
        run_nothing,
        NULL,
        SETTINGS | CLI_F(CLI_OPT_MODE) | CLI_F(CLI_OPT_WEIGHT),
        0,
        "",
        "test",
        SETTINGS | CLI_F(CLI_OPT_MODE) | CLI_F(CLI_OPT_WEIGHT),
};

#define POLICY \
        (CLI_F(CLI_OPT_PRIORITY) | CLI_F(CLI_OPT_CPU_RESERVATION) | CLI_F(CLI_OPT_CPU_LIMIT) | \
         CLI_F(CLI_OPT_MEM_RESERVATION) | CLI_F(CLI_OPT_MEM_LIMIT) | CLI_F(CLI_OPT_ELASTIC))

static const struct cli_command instance_set_cmd = {
        "instance", "set", run_nothing, "NAME", POLICY | CLI_F(CLI_OPT_FORMAT), 0, "", "test", POLICY,
};

static const struct cli_command stats_cmd = {
        "instance", "stats", run_nothing, "NAME", CLI_F(CLI_OPT_STATS_LIMIT) | CLI_F(CLI_OPT_FORMAT), 0, "", "test", 0,
};

#define GROUP_SIZES (CLI_F(CLI_OPT_MIN_SIZE) | CLI_F(CLI_OPT_MAX_SIZE) | CLI_F(CLI_OPT_DESIRED))

static const struct cli_command group_set_cmd = {
        "group", "set", run_nothing, "NAME", GROUP_SIZES | CLI_F(CLI_OPT_FORMAT), 0, "", "test", GROUP_SIZES,
};

#define SCALING \
        (CLI_F(CLI_OPT_METRIC) | CLI_F(CLI_OPT_ABOVE) | CLI_F(CLI_OPT_BELOW) | CLI_F(CLI_OPT_ADJUST) | \
         CLI_F(CLI_OPT_STAT) | CLI_F(CLI_OPT_FOR) | CLI_F(CLI_OPT_COOLDOWN) | CLI_F(CLI_OPT_VICTIM) | \
         CLI_F(CLI_OPT_POLICY_NAME))

static const struct cli_command policy_add_cmd = {
        "group", "policy add", run_nothing, "GROUP", SCALING, CLI_F(CLI_OPT_METRIC) | CLI_F(CLI_OPT_ADJUST),
        "",      "test",       0,
};

static const struct cli_command policy_delete_cmd = {
        "group", "policy delete", run_nothing, "GROUP POLICY", 0, 0, "GROUP POLICY", "test", 0,
};

static const struct cli_command event_list_cmd = {
        "event",
        "list",
        run_nothing,
        NULL,
        CLI_F(CLI_OPT_INSTANCE) | CLI_F(CLI_OPT_SCALING_GROUP) | CLI_F(CLI_OPT_LIMIT),
        0,
        "",
        "test",
        0,
};

static const struct cli_command metrics_cmd = {
        "metrics", "", run_nothing, NULL, 0, 0, "", "Print the metrics.", 0,
};

/* Parses a NULL-terminated list of words (copied: getopt permutes argv). */
static int parse(const struct cli_command *cmd, struct cli_args *a, char **err, ...) {
        static char *argv[64];
        static char store[64][128];
        int argc = 0;
        va_list ap;
        va_start(ap, err);
        for (const char *w; (w = va_arg(ap, const char *));) {
                snprintf(store[argc], sizeof store[argc], "%s", w);
                argv[argc] = store[argc];
                argc++;
        }
        va_end(ap);
        argv[argc] = NULL;
        *err = NULL;
        return cli_args_parse(cmd, argc, argv, a, err);
}

static void test_create_all_options_any_order(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "--flavor", "small", "web-1", "--image=tiny",
                               "--priority", "high", "--ha", "--wait", "--timeout", "30", "-f", "json", NULL),
                         CLI_ARGS_OK);
        assert_string_equal(a.name, "web-1");
        assert_string_equal(a.flavor, "small");
        assert_string_equal(a.image, "tiny");
        assert_int_equal(a.priority, 750);
        assert_true(a.ha);
        assert_true(a.wait);
        assert_int_equal(a.timeout_s, 30);
        assert_int_equal(a.format, CLI_FORMAT_JSON);
        assert_true(a.given & CLI_F(CLI_OPT_PRIORITY));
        assert_null(err);
}

static void test_defaults(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image", "i", NULL),
                         CLI_ARGS_OK);
        assert_int_equal(a.format, CLI_FORMAT_TABLE);
        assert_int_equal(a.timeout_s, CLI_WAIT_TIMEOUT_DEFAULT_S);
        assert_false(a.wait);
        assert_false(a.ha);
        assert_false(a.given & CLI_F(CLI_OPT_PRIORITY));
        assert_null(a.user_data_file);
}

static void test_missing_required_option(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "w", "--flavor", "f", NULL), -EINVAL);
        assert_non_null(strstr(err, "--image"));
        free(err);
}

static void test_missing_name(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "--flavor", "f", "--image", "i", NULL), -EINVAL);
        assert_string_equal(err, "missing NAME");
        free(err);
}

static void test_extra_operand(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "oops", NULL), -EINVAL);
        assert_string_equal(err, "unexpected argument 'oops'");
        free(err);
}

static void test_unknown_long_option(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "--bogus=1", NULL), -EINVAL);
        assert_string_equal(err, "unknown option '--bogus'");
        free(err);
}

static void test_option_of_another_command_is_unknown(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "--wait", NULL), -EINVAL);
        assert_string_equal(err, "unknown option '--wait'");
        free(err);
}

static void test_unknown_short_option(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "-x", NULL), -EINVAL);
        assert_string_equal(err, "unknown option '-x'");
        free(err);
}

static void test_option_missing_argument(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "--limit", NULL), -EINVAL);
        assert_string_equal(err, "option '--limit' needs an argument");
        free(err);
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "-f", NULL), -EINVAL);
        assert_string_equal(err, "option '-f' needs an argument");
        free(err);
}

static void test_flag_with_argument(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image", "i", "--wait=yes",
                               NULL),
                         -EINVAL);
        assert_string_equal(err, "option '--wait' takes no argument");
        free(err);
}

static void test_help_wins_over_errors(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "--help", NULL), CLI_ARGS_HELP);
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "x", "y", "-h", NULL), CLI_ARGS_HELP);
}

static void test_bad_format(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "--format", "xml", NULL), -EINVAL);
        assert_non_null(strstr(err, "'xml'"));
        free(err);
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "--format=json", NULL), CLI_ARGS_OK);
        assert_int_equal(a.format, CLI_FORMAT_JSON);
}

static void test_numbers_checked(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&flavor_cmd, &a, &err, "create", "s", "--vcpus", "2x", "--ram", "256", "--disk", "1",
                               NULL),
                         -EINVAL);
        assert_string_equal(err, "--vcpus needs a whole number, not '2x'");
        free(err);
        assert_int_equal(parse(&flavor_cmd, &a, &err, "create", "s", "--vcpus", "0", "--ram", "256", "--disk", "1",
                               NULL),
                         -EINVAL);
        free(err);
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "--limit", "1001", NULL), -EINVAL);
        assert_string_equal(err, "--limit must be between 1 and 1000, not '1001'");
        free(err);
        assert_int_equal(parse(&flavor_cmd, &a, &err, "create", "s", "--vcpus", "2", "--ram", "256", "--disk", "1",
                               "--max-ram", "1024", NULL),
                         CLI_ARGS_OK);
        assert_int_equal(a.vcpus, 2);
        assert_int_equal(a.ram_mib, 256);
        assert_int_equal(a.disk_gib, 1);
        assert_int_equal(a.max_ram_mib, 1024);
        assert_false(a.given & CLI_F(CLI_OPT_MAX_VCPUS));
}

static void test_disk_means_file_for_images(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&image_cmd, &a, &err, "create", "tiny", "--disk", "root.qcow2", NULL), CLI_ARGS_OK);
        assert_string_equal(a.disk_file, "root.qcow2");
        assert_int_equal(a.disk_gib, 0);
}

static void test_initrd_needs_kernel(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&image_cmd, &a, &err, "create", "tiny", "--disk", "d", "--initrd", "i", NULL), -EINVAL);
        free(err);
        assert_int_equal(parse(&image_cmd, &a, &err, "create", "tiny", "--disk", "d", "--kernel", "k", "--initrd", "i",
                               "--cmdline", "console=ttyS0", NULL),
                         CLI_ARGS_OK);
        assert_string_equal(a.cmdline, "console=ttyS0");
}

static void test_timeout_needs_wait(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image", "i", "--timeout", "5",
                               NULL),
                         -EINVAL);
        assert_string_equal(err, "--timeout needs --wait");
        free(err);
}

static void test_operand_after_double_dash(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "--flavor", "f", "--image", "i", "--", "-odd", NULL),
                         CLI_ARGS_OK);
        assert_string_equal(a.name, "-odd");
}

static void test_parse_twice_resets_getopt(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "--limit", "5", NULL), CLI_ARGS_OK);
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "--limit", "7", NULL), CLI_ARGS_OK);
        assert_int_equal(a.limit, 7);
}

static void test_priority_names_and_numbers(void **state) {
        int64_t p;
        assert_int_equal(cli_parse_priority("low", &p), 0);
        assert_int_equal(p, 250);
        assert_int_equal(cli_parse_priority("normal", &p), 0);
        assert_int_equal(p, 500);
        assert_int_equal(cli_parse_priority("high", &p), 0);
        assert_int_equal(p, 750);
        assert_int_equal(cli_parse_priority("1", &p), 0);
        assert_int_equal(p, 1);
        assert_int_equal(cli_parse_priority("1000", &p), 0);
        assert_int_equal(p, 1000);
        assert_int_equal(cli_parse_priority("0", &p), -ERANGE);
        assert_int_equal(cli_parse_priority("1001", &p), -ERANGE);
        assert_int_equal(cli_parse_priority("HIGH", &p), -EINVAL);
        assert_int_equal(cli_parse_priority("", &p), -EINVAL);
}

static void test_escape(void **state) {
        char *s = cli_escape("web-1_a.b~");
        assert_string_equal(s, "web-1_a.b~");
        free(s);
        s = cli_escape("a b/c?d&e%");
        assert_string_equal(s, "a%20b%2Fc%3Fd%26e%25");
        free(s);
        s = cli_escape("..");
        assert_string_equal(s, "%2E%2E");
        free(s);
        s = cli_escape("\xc3\xa9");
        assert_string_equal(s, "%C3%A9");
        free(s);
}

static void test_hints_repeat_in_order(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&instance_create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image", "i", "--hint",
                               "zone=hk-a", "--hint=host=node1", "--server-group", "web", NULL),
                         CLI_ARGS_OK);
        assert_int_equal(a.n_hints, 2);
        assert_string_equal(a.hints[0], "zone=hk-a");
        assert_string_equal(a.hints[1], "host=node1");
        assert_string_equal(a.server_group, "web");
        assert_false(a.dry_run);
}

/* --group, the old name of --server-group, is the same option. */
static void test_server_group_old_name(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&instance_create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image", "i",
                               "--group=web", NULL),
                         CLI_ARGS_OK);
        assert_string_equal(a.server_group, "web");
        assert_true(a.given & CLI_F(CLI_OPT_SERVER_GROUP));
        assert_int_equal(parse(&instance_create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image", "i",
                               "--group", NULL),
                         -EINVAL);
        assert_string_equal(err, "option '--group' needs an argument");
        free(err);
}

static void test_at_most_eight_hints(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&instance_create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image", "i", "--hint",
                               "a=1", "--hint", "b=2", "--hint", "c=3", "--hint", "d=4", "--hint", "e=5", "--hint",
                               "f=6", "--hint", "g=7", "--hint", "h=8", NULL),
                         CLI_ARGS_OK);
        assert_int_equal(a.n_hints, 8);
        assert_int_equal(parse(&instance_create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image", "i", "--hint",
                               "a=1", "--hint", "b=2", "--hint", "c=3", "--hint", "d=4", "--hint", "e=5", "--hint",
                               "f=6", "--hint", "g=7", "--hint", "h=8", "--hint", "i=9", NULL),
                         -EINVAL);
        assert_string_equal(err, "at most 8 --hint options");
        free(err);
}

static void test_hint_must_be_key_value(void **state) {
        static const char *const bad[] = { "zone",
                                           "=a",
                                           "zone=",
                                           "zo ne=a",
                                           "zone=a=b",
                                           "zone=\xc3\xa9",
                                           ("k=0123456789012345678901234567890123456789"
                                            "012345678901234567890123") };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct cli_args a;
                char *err;
                assert_int_equal(parse(&instance_create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image", "i",
                                       "--hint", bad[i], NULL),
                                 -EINVAL);
                assert_non_null(strstr(err, "--hint must be KEY=VALUE"));
                free(err);
        }
}

static void test_dry_run_excludes_wait(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&instance_create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image", "i",
                               "--dry-run", NULL),
                         CLI_ARGS_OK);
        assert_true(a.dry_run);
        assert_int_equal(parse(&instance_create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image", "i",
                               "--dry-run", "--wait", NULL),
                         -EINVAL);
        free(err);
}

static void test_labels_and_unlabels(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&host_set_cmd, &a, &err, "set", "node1", "--label", "zone=hk-a", "--unlabel", "rack",
                               "--label", "ssd=true", "--drain", NULL),
                         CLI_ARGS_OK);
        assert_string_equal(a.name, "node1");
        assert_int_equal(a.n_labels, 2);
        assert_string_equal(a.labels[0], "zone=hk-a");
        assert_string_equal(a.labels[1], "ssd=true");
        assert_int_equal(a.n_unlabels, 1);
        assert_string_equal(a.unlabels[0], "rack");
        assert_true(a.drain);
}

static void test_label_key_once(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&host_set_cmd, &a, &err, "set", "n", "--label", "zone=a", "--label", "zone=b", NULL),
                         -EINVAL);
        assert_string_equal(err, "label 'zone' given twice");
        free(err);
        assert_int_equal(parse(&host_set_cmd, &a, &err, "set", "n", "--unlabel", "zone", "--label", "zone=b", NULL),
                         -EINVAL);
        assert_string_equal(err, "label 'zone' given twice");
        free(err);
        /* A key that is a prefix of another is another key. */
        assert_int_equal(parse(&host_set_cmd, &a, &err, "set", "n", "--label", "zone=a", "--unlabel", "zon", NULL),
                         CLI_ARGS_OK);
        assert_int_equal(parse(&host_set_cmd, &a, &err, "set", "n", "--unlabel", "a=b", NULL), -EINVAL);
        assert_non_null(strstr(err, "--unlabel needs a KEY"));
        free(err);
}

static void test_drain_and_undrain_conflict(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&host_set_cmd, &a, &err, "set", "n", "--drain", "--undrain", NULL), -EINVAL);
        assert_string_equal(err, "give --drain or --undrain, not both");
        free(err);
}

/* migrate's options are read; --cancel takes none of the others; numbers are checked. */
static void test_migrate_options(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&migrate_cmd, &a, &err, "migrate", "web", "--to", "h2", "--bandwidth", "100",
                               "--max-downtime", "50", "--wait", NULL),
                         CLI_ARGS_OK);
        assert_string_equal(a.to, "h2");
        assert_int_equal(a.bandwidth_mib_s, 100);
        assert_int_equal(a.max_downtime_ms, 50);
        assert_true(a.wait);
        assert_false(a.cancel);
        assert_int_equal(parse(&migrate_cmd, &a, &err, "migrate", "web", "--cancel", NULL), CLI_ARGS_OK);
        assert_true(a.cancel);
        assert_int_equal(parse(&migrate_cmd, &a, &err, "migrate", "web", "--cancel", "--to", "h2", NULL), -EINVAL);
        assert_non_null(strstr(err, "--cancel takes no"));
        free(err);
        assert_int_equal(parse(&migrate_cmd, &a, &err, "migrate", "web", "--bandwidth", "0", NULL), -EINVAL);
        free(err);
        assert_int_equal(parse(&migrate_cmd, &a, &err, "migrate", "web", "--max-downtime", "x", NULL), -EINVAL);
        free(err);
}

static void test_set_needs_a_change(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&host_set_cmd, &a, &err, "set", "n", "-f", "json", NULL), -EINVAL);
        assert_string_equal(err, "nothing to change: give at least one option");
        free(err);
        assert_int_equal(parse(&config_set_cmd, &a, &err, "set", NULL), -EINVAL);
        free(err);
        /* --help still works. */
        assert_int_equal(parse(&config_set_cmd, &a, &err, "set", "--help", NULL), CLI_ARGS_HELP);
}

static void test_ratios_are_checked_doubles(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&host_set_cmd, &a, &err, "set", "n", "--cpu-ratio", "4", "--ram-ratio", "1.25",
                               "--reserved-cpus", "2", "--reserved-ram", "default", NULL),
                         CLI_ARGS_OK);
        assert_true(a.cpu_ratio == 4.0);
        assert_true(a.ram_ratio == 1.25);
        assert_int_equal(a.reserved_cpus, 2);
        assert_true(a.reset & CLI_F(CLI_OPT_RESERVED_RAM));
        assert_false(a.reset & CLI_F(CLI_OPT_CPU_RATIO));
        assert_true(a.given & CLI_F(CLI_OPT_RESERVED_RAM));

        static const char *const bad[] = { "", "x", "1.5x", " 1", "0", "-1", "nan", "inf", "1e999", "0x10", "1,5" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(parse(&host_set_cmd, &a, &err, "set", "n", "--cpu-ratio", bad[i], NULL), -EINVAL);
                assert_non_null(strstr(err, "--cpu-ratio must be a number above 0"));
                free(err);
        }
        assert_int_equal(parse(&host_set_cmd, &a, &err, "set", "n", "--reserved-cpus", "-1", NULL), -EINVAL);
        free(err);
}

static void test_policy_options(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&instance_set_cmd, &a, &err, "set", "web", "--cpu-reservation", "0.5", "--cpu-limit",
                               "2", "--mem-reservation", "0", "--mem-limit", "1024", "--elastic", "off", "--priority",
                               "high", NULL),
                         CLI_ARGS_OK);
        assert_true(a.cpu_reservation == 0.5);
        assert_true(a.cpu_limit == 2.0);
        assert_int_equal(a.mem_reservation_mib, 0);
        assert_int_equal(a.mem_limit_mib, 1024);
        assert_false(a.elastic);
        assert_int_equal(a.priority, 750);
        assert_int_equal(a.given & POLICY, POLICY);
        assert_int_equal(a.reset, 0);
        assert_int_equal(parse(&instance_set_cmd, &a, &err, "set", "web", "--elastic", "on", NULL), CLI_ARGS_OK);
        assert_true(a.elastic);
}

static void test_policy_default_resets(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&instance_set_cmd, &a, &err, "set", "web", "--cpu-limit", "default", "--elastic",
                               "default", "--priority", "default", "--mem-limit", "512", NULL),
                         CLI_ARGS_OK);
        assert_int_equal(a.reset, CLI_F(CLI_OPT_CPU_LIMIT) | CLI_F(CLI_OPT_ELASTIC) | CLI_F(CLI_OPT_PRIORITY));
        /* The last word wins: a value after "default" takes the reset back. */
        assert_int_equal(parse(&instance_set_cmd, &a, &err, "set", "web", "--cpu-limit", "default", "--cpu-limit",
                               "1.5", NULL),
                         CLI_ARGS_OK);
        assert_int_equal(a.reset, 0);
        assert_true(a.cpu_limit == 1.5);
}

static void test_policy_values_checked(void **state) {
        static const char *const bad[][2] = {
                { "--cpu-reservation", "-1" }, { "--cpu-reservation", "x" },  { "--cpu-limit", "0" },
                { "--cpu-limit", "nan" },      { "--mem-reservation", "-1" }, { "--mem-reservation", "1.5" },
                { "--mem-limit", "0" },        { "--elastic", "yes" },        { "--elastic", "" },
                { "--priority", "1001" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct cli_args a;
                char *err;
                assert_int_equal(parse(&instance_set_cmd, &a, &err, "set", "web", bad[i][0], bad[i][1], NULL), -EINVAL);
                assert_non_null(strstr(err, bad[i][0]));
                free(err);
        }
}

static void test_instance_set_needs_a_change(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&instance_set_cmd, &a, &err, "set", "web", "-f", "json", NULL), -EINVAL);
        assert_string_equal(err, "nothing to change: give at least one option");
        free(err);
}

static void assert_json(json_t *j, const char *want) {
        char *got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(got, want);
        free(got);
        json_decref(j);
}

static void test_policy_body(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&instance_set_cmd, &a, &err, "set", "web", "--cpu-reservation", "0.5", "--cpu-limit",
                               "default", "--mem-reservation", "256", "--mem-limit", "default", "--elastic", "on",
                               "--priority", "low", NULL),
                         CLI_ARGS_OK);
        /* A PATCH resets with null; a create leaves a reset out. */
        assert_json(cli_policy_body(&a, true), "{\"cpu_limit\":null,\"cpu_reservation\":0.5,\"elastic\":true,"
                                               "\"mem_limit\":null,\"mem_reservation\":256,\"priority\":250}");
        assert_json(cli_policy_body(&a, false), "{\"cpu_reservation\":0.5,\"elastic\":true,\"mem_reservation\":256,"
                                                "\"priority\":250}");
        /* Only what was given. */
        assert_int_equal(parse(&instance_set_cmd, &a, &err, "set", "web", "--elastic", "off", NULL), CLI_ARGS_OK);
        assert_json(cli_policy_body(&a, true), "{\"elastic\":false}");
        /* Cores are reals even when whole: the API takes a number either way. */
        assert_int_equal(parse(&instance_set_cmd, &a, &err, "set", "web", "--cpu-limit", "2", NULL), CLI_ARGS_OK);
        assert_json(cli_policy_body(&a, true), "{\"cpu_limit\":2.0}");
}

static void test_stats_limit_range(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&stats_cmd, &a, &err, "stats", "web", "--limit", "10000", NULL), CLI_ARGS_OK);
        assert_int_equal(a.stats_limit, 10000);
        assert_true(a.given & CLI_F(CLI_OPT_STATS_LIMIT));
        assert_int_equal(parse(&stats_cmd, &a, &err, "stats", "web", "--limit", "10001", NULL), -EINVAL);
        assert_string_equal(err, "--limit must be between 1 and 10000, not '10001'");
        free(err);
        assert_int_equal(parse(&stats_cmd, &a, &err, "stats", "web", "--limit", "0", NULL), -EINVAL);
        free(err);
        /* The events' --limit keeps its own range. */
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "--limit", "1001", NULL), -EINVAL);
        assert_string_equal(err, "--limit must be between 1 and 1000, not '1001'");
        free(err);
}

static void test_noun_command(void **state) {
        struct cli_args a;
        char *err;
        /* The parser's argv[0] is the noun itself. */
        assert_int_equal(parse(&metrics_cmd, &a, &err, "metrics", NULL), CLI_ARGS_OK);
        assert_int_equal(parse(&metrics_cmd, &a, &err, "metrics", "--help", NULL), CLI_ARGS_HELP);
        assert_int_equal(parse(&metrics_cmd, &a, &err, "metrics", "extra", NULL), -EINVAL);
        assert_string_equal(err, "unexpected argument 'extra'");
        free(err);
        assert_int_equal(parse(&metrics_cmd, &a, &err, "metrics", "-f", "json", NULL), -EINVAL);
        free(err);

        char *out = NULL;
        size_t n;
        FILE *f = open_memstream(&out, &n);
        cli_command_help(f, &metrics_cmd);
        fclose(f);
        assert_string_equal(out, "Usage: tide metrics\n\nPrint the metrics.\n\nOptions:\n"
                                 "  -h, --help                         show this help\n");
        free(out);
}

static void test_parse_double(void **state) {
        double d;
        assert_int_equal(cli_parse_double("2.5", &d), 0);
        assert_true(d == 2.5);
        assert_int_equal(cli_parse_double("-1e-3", &d), 0);
        assert_true(d == -1e-3);
        assert_int_equal(cli_parse_double("1e999", &d), -ERANGE);
        assert_int_equal(cli_parse_double("-1e999", &d), -ERANGE);
        assert_int_equal(cli_parse_double("", &d), -EINVAL);
        assert_int_equal(cli_parse_double("1.", &d), 0);
        assert_int_equal(cli_parse_double(".", &d), -EINVAL);
        assert_int_equal(cli_parse_double("e5", &d), -EINVAL);
        assert_int_equal(cli_parse_double("1e", &d), -EINVAL);
        assert_int_equal(cli_parse_double("INF", &d), -EINVAL);
        assert_int_equal(cli_parse_double("1 ", &d), -EINVAL);
}

static void test_weights_repeat(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&config_set_cmd, &a, &err, "set", "--weight", "ram=2", "--weight", "soft_affinity=-1.5",
                               "--weight", "numa=default", "--mode", "pack", NULL),
                         CLI_ARGS_OK);
        assert_int_equal(a.weights_given,
                         (1u << CLI_WEIGHT_RAM) | (1u << CLI_WEIGHT_SOFT_AFFINITY) | (1u << CLI_WEIGHT_NUMA));
        assert_int_equal(a.weights_reset, 1u << CLI_WEIGHT_NUMA);
        assert_true(a.weights[CLI_WEIGHT_RAM] == 2.0);
        assert_true(a.weights[CLI_WEIGHT_SOFT_AFFINITY] == -1.5);
        assert_string_equal(a.mode, "pack");
        assert_string_equal(cli_weight_name(CLI_WEIGHT_SOFT_AFFINITY), "soft_affinity");
}

static void test_weight_errors(void **state) {
        static const struct {
                const char *arg, *msg;
        } cases[] = {
                { "disk=1", "--weight must be NAME=X" },       { "ram", "--weight must be NAME=X" },
                { "ra=1", "--weight must be NAME=X" },         { "ram=", "--weight ram needs a number" },
                { "ram=lots", "--weight ram needs a number" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct cli_args a;
                char *err;
                assert_int_equal(parse(&config_set_cmd, &a, &err, "set", "--weight", cases[i].arg, NULL), -EINVAL);
                assert_non_null(strstr(err, cases[i].msg));
                free(err);
        }
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&config_set_cmd, &a, &err, "set", "--weight", "cpu=1", "--weight", "cpu=2", NULL),
                         -EINVAL);
        assert_string_equal(err, "--weight cpu given twice");
        free(err);
        assert_int_equal(parse(&config_set_cmd, &a, &err, "set", "--mode", "fill", NULL), -EINVAL);
        free(err);
}

static void test_group_sizes(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&group_set_cmd, &a, &err, "set", "web", "--min", "0", "--max", "1000", "--desired", "3",
                               NULL),
                         CLI_ARGS_OK);
        assert_string_equal(a.name, "web");
        assert_int_equal(a.min_size, 0);
        assert_int_equal(a.max_size, 1000);
        assert_int_equal(a.desired, 3);
        assert_int_equal(a.given & GROUP_SIZES, GROUP_SIZES);
        /* Only what was given. */
        assert_int_equal(parse(&group_set_cmd, &a, &err, "set", "web", "--desired", "0", NULL), CLI_ARGS_OK);
        assert_int_equal(a.given, CLI_F(CLI_OPT_DESIRED));
}

static void test_group_sizes_checked(void **state) {
        static const struct {
                const char *opt, *arg, *msg;
        } cases[] = {
                { "--min", "-1", "--min must be between 0 and 1000, not '-1'" },
                { "--min", "1001", "--min must be between 0 and 1000, not '1001'" },
                { "--max", "0", "--max must be between 1 and 1000, not '0'" },
                { "--desired", "two", "--desired needs a whole number, not 'two'" },
                { "--desired", "1.5", "--desired needs a whole number, not '1.5'" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct cli_args a;
                char *err;
                assert_int_equal(parse(&group_set_cmd, &a, &err, "set", "web", cases[i].opt, cases[i].arg, NULL),
                                 -EINVAL);
                assert_string_equal(err, cases[i].msg);
                free(err);
        }
}

static void test_group_sizes_in_order(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&group_set_cmd, &a, &err, "set", "web", "--min", "3", "--max", "2", NULL), -EINVAL);
        assert_string_equal(err, "--min (3) is above --max (2)");
        free(err);
        assert_int_equal(parse(&group_set_cmd, &a, &err, "set", "web", "--min", "3", "--desired", "2", NULL), -EINVAL);
        assert_string_equal(err, "--desired (2) is below --min (3)");
        free(err);
        assert_int_equal(parse(&group_set_cmd, &a, &err, "set", "web", "--max", "3", "--desired", "4", NULL), -EINVAL);
        assert_string_equal(err, "--desired (4) is above --max (3)");
        free(err);
        /* Alone, each may be anything in its range: tided checks it against the group. */
        assert_int_equal(parse(&group_set_cmd, &a, &err, "set", "web", "--desired", "40", NULL), CLI_ARGS_OK);
        assert_int_equal(parse(&group_set_cmd, &a, &err, "set", "web", "--min", "2", "--max", "2", "--desired", "2",
                               NULL),
                         CLI_ARGS_OK);
}

static void test_group_set_names_its_options(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&group_set_cmd, &a, &err, "set", "web", "-f", "json", NULL), -EINVAL);
        assert_string_equal(err, "nothing to change: give --min, --max or --desired");
        free(err);
}

static void test_two_operands(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&policy_delete_cmd, &a, &err, "delete", "web", "out", NULL), CLI_ARGS_OK);
        assert_string_equal(a.name, "web");
        assert_string_equal(a.name2, "out");
        assert_int_equal(parse(&policy_delete_cmd, &a, &err, "delete", "web", NULL), -EINVAL);
        assert_string_equal(err, "missing POLICY");
        free(err);
        assert_int_equal(parse(&policy_delete_cmd, &a, &err, "delete", NULL), -EINVAL);
        assert_string_equal(err, "missing GROUP");
        free(err);
        assert_int_equal(parse(&policy_delete_cmd, &a, &err, "delete", "web", "", NULL), -EINVAL);
        assert_string_equal(err, "POLICY must not be empty");
        free(err);
        assert_int_equal(parse(&policy_delete_cmd, &a, &err, "delete", "web", "out", "in", NULL), -EINVAL);
        assert_string_equal(err, "unexpected argument 'in'");
        free(err);
        /* One operand: NULL for the second. */
        assert_int_equal(parse(&group_set_cmd, &a, &err, "set", "web", "--min", "1", NULL), CLI_ARGS_OK);
        assert_null(a.name2);
}

static void test_policy_add_options(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&policy_add_cmd, &a, &err, "add", "web", "--metric", "cpu", "--above", "80.5",
                               "--adjust", "+2", "--stat", "max", "--for", "5m", "--cooldown", "90", "--victim",
                               "least-loaded", "--name", "out", NULL),
                         CLI_ARGS_OK);
        assert_string_equal(a.name, "web");
        assert_string_equal(a.metric, "cpu");
        assert_true(a.threshold == 80.5);
        assert_true(a.given & CLI_F(CLI_OPT_ABOVE));
        assert_string_equal(a.adjust, "+2");
        assert_string_equal(a.stat, "max");
        assert_int_equal(a.for_s, 300);
        assert_int_equal(a.cooldown_s, 90);
        assert_string_equal(a.victim, "least-loaded");
        assert_string_equal(a.policy_name, "out");
        /* Values that begin with '-' are values, not options. */
        assert_int_equal(parse(&policy_add_cmd, &a, &err, "add", "web", "--metric", "ready_cores", "--below", "-0.5",
                               "--adjust", "-25%", NULL),
                         CLI_ARGS_OK);
        assert_true(a.threshold == -0.5);
        assert_string_equal(a.adjust, "-25%");
        assert_null(a.stat);
        assert_false(a.given & CLI_F(CLI_OPT_FOR));
}

static void test_above_or_below(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&policy_add_cmd, &a, &err, "add", "web", "--metric", "cpu", "--adjust", "+1", NULL),
                         -EINVAL);
        assert_string_equal(err, "missing --above X or --below X");
        free(err);
        assert_int_equal(parse(&policy_add_cmd, &a, &err, "add", "web", "--metric", "cpu", "--adjust", "+1", "--above",
                               "1", "--below", "2", NULL),
                         -EINVAL);
        assert_string_equal(err, "give --above or --below, not both");
        free(err);
        assert_int_equal(parse(&policy_add_cmd, &a, &err, "add", "web", "--metric", "cpu", "--adjust", "+1", "--above",
                               "nan", NULL),
                         -EINVAL);
        assert_string_equal(err, "--above needs a number, not 'nan'");
        free(err);
        assert_int_equal(parse(&policy_add_cmd, &a, &err, "add", "web", "--above", "1", "--adjust", "+1", NULL),
                         -EINVAL);
        assert_string_equal(err, "missing --metric cpu|memory|FIGURE");
        free(err);
}

static void test_policy_words_checked(void **state) {
        static const struct {
                const char *opt, *arg, *msg;
        } cases[] = {
                { "--stat", "mean", "--stat must be avg, max or min, not 'mean'" },
                { "--victim", "random", "--victim must be newest, oldest or least-loaded, not 'random'" },
                { "--metric", "CPU", "--metric must be cpu, memory or a figure's name" },
                { "--metric", "", "--metric must be" },
                { "--metric", "cpu load", "--metric must be" },
                { "--adjust", "2", "--adjust must be +N or -N" },
                { "--for", "5d", "--for must be a whole number of seconds" },
                { "--cooldown", "25h", "--cooldown must be at most 24h (86400 seconds)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct cli_args a;
                char *err;
                assert_int_equal(parse(&policy_add_cmd, &a, &err, "add", "web", "--metric", "cpu", "--above", "1",
                                       "--adjust", "+1", cases[i].opt, cases[i].arg, NULL),
                                 -EINVAL);
                assert_non_null(strstr(err, cases[i].msg));
                free(err);
        }
}

static void test_parse_duration(void **state) {
        static const struct {
                const char *s;
                int r;
                int64_t v;
        } cases[] = {
                { "0", 0, 0 },           { "90", 0, 90 },         { "90s", 0, 90 },
                { "5m", 0, 300 },        { "1h", 0, 3600 },       { "24h", 0, 86400 },
                { "1440m", 0, 86400 },   { "086400", 0, 86400 },  { "86400s", 0, 86400 },
                { "86401", -ERANGE, 0 }, { "25h", -ERANGE, 0 },   { "99999999999999999999h", -ERANGE, 0 },
                { "", -EINVAL, 0 },      { "s", -EINVAL, 0 },     { "-5", -EINVAL, 0 },
                { "+5", -EINVAL, 0 },    { " 5", -EINVAL, 0 },    { "5 ", -EINVAL, 0 },
                { "5d", -EINVAL, 0 },    { "5ms", -EINVAL, 0 },   { "1.5h", -EINVAL, 0 },
                { "5M", -EINVAL, 0 },    { "1h30m", -EINVAL, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int64_t v = -1;
                int r = cli_parse_duration(cases[i].s, &v);
                if (r != cases[i].r)
                        fail_msg("'%s': %d, not %d", cases[i].s, r, cases[i].r);
                if (r == 0)
                        assert_int_equal(v, cases[i].v);
                else
                        assert_int_equal(v, -1);
        }
}

static void test_parse_adjust(void **state) {
        static const char *const good[] = {
                "+1", "-1", "+2", "=0", "=1000", "+50%", "-25%", "+999999", "-100%",
        };
        static const char *const bad[] = {
                "",  "1",        "+",   "-",   "=",    "+0",  "-0",  "+0%", "=1001", "=5%",  "+5%%",
                "%", "+1234567", "++1", "+-1", "+1.5", "+ 1", "+1 ", "x",   "=-1",   "+1e2",
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (cli_parse_adjust(good[i]) != 0)
                        fail_msg("'%s' refused", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (cli_parse_adjust(bad[i]) != -EINVAL)
                        fail_msg("'%s' taken", bad[i]);
}

static void test_event_scaling_group(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&event_list_cmd, &a, &err, "list", "--scaling-group", "web", "--limit", "3", NULL),
                         CLI_ARGS_OK);
        assert_string_equal(a.scaling_group, "web");
        /* The server group of instance create is another option. */
        assert_null(a.server_group);
        /* --group, its old name, is the same option. */
        assert_int_equal(parse(&event_list_cmd, &a, &err, "list", "--group", "db", NULL), CLI_ARGS_OK);
        assert_string_equal(a.scaling_group, "db");
        assert_int_equal(parse(&event_list_cmd, &a, &err, "list", "--group", "web", "--instance", "web-1", NULL),
                         -EINVAL);
        assert_string_equal(err, "give --instance or --scaling-group, not both");
        free(err);
}

static const struct cli_command table[] = {
        { "placement", "explain", run_nothing, "NAME", CLI_F(CLI_OPT_FORMAT), 0, "", "", 0 },
        { "placement", "config show", run_nothing, NULL, CLI_F(CLI_OPT_FORMAT), 0, "", "", 0 },
        { "placement", "config set", run_nothing, NULL, CLI_F(CLI_OPT_MODE), 0, "", "", 0 },
        { "host", "show", run_nothing, "NAME", 0, 0, "", "", 0 },
};

static void test_three_word_commands(void **state) {
        char *w1[] = { "config", "show", "-f", "json" };
        int n = 0;
        const struct cli_command *c = cli_command_find(table, ELEMENTSOF(table), "placement", 4, w1, &n);
        assert_ptr_equal(c, &table[1]);
        assert_int_equal(n, 2);
        /* The parser gets the words from the verb's last one on. */
        struct cli_args a;
        char *err = NULL;
        assert_int_equal(cli_args_parse(c, 4 - n + 1, w1 + n - 1, &a, &err), CLI_ARGS_OK);
        assert_int_equal(a.format, CLI_FORMAT_JSON);

        char *w2[] = { "config", "set", "--mode", "pack" };
        c = cli_command_find(table, ELEMENTSOF(table), "placement", 4, w2, &n);
        assert_ptr_equal(c, &table[2]);
        assert_int_equal(n, 2);

        char *w3[] = { "explain", "web-1" };
        c = cli_command_find(table, ELEMENTSOF(table), "placement", 2, w3, &n);
        assert_ptr_equal(c, &table[0]);
        assert_int_equal(n, 1);
}

static void test_three_word_misses(void **state) {
        int n = 0;
        char *w1[] = { "config" };
        assert_null(cli_command_find(table, ELEMENTSOF(table), "placement", 1, w1, &n));
        char *w2[] = { "config", "bogus" };
        assert_null(cli_command_find(table, ELEMENTSOF(table), "placement", 2, w2, &n));
        char *w3[] = { "conf", "show" };
        assert_null(cli_command_find(table, ELEMENTSOF(table), "placement", 2, w3, &n));
        char *w4[] = { "config show" }; /* one argument with a space is not two words */
        assert_null(cli_command_find(table, ELEMENTSOF(table), "placement", 1, w4, &n));
        char *w5[] = { "config", "show" };
        assert_null(cli_command_find(table, ELEMENTSOF(table), "host", 2, w5, &n));
        assert_true(cli_verb_is_first_word(table, ELEMENTSOF(table), "placement", "config"));
        assert_false(cli_verb_is_first_word(table, ELEMENTSOF(table), "placement", "conf"));
        assert_false(cli_verb_is_first_word(table, ELEMENTSOF(table), "placement", "explain"));
        assert_false(cli_verb_is_first_word(table, ELEMENTSOF(table), "host", "config"));
        assert_false(cli_verb_is_first_word(table, ELEMENTSOF(table), "placement", ""));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_all_options_any_order),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_missing_required_option),
                cmocka_unit_test(test_missing_name),
                cmocka_unit_test(test_extra_operand),
                cmocka_unit_test(test_unknown_long_option),
                cmocka_unit_test(test_option_of_another_command_is_unknown),
                cmocka_unit_test(test_unknown_short_option),
                cmocka_unit_test(test_option_missing_argument),
                cmocka_unit_test(test_flag_with_argument),
                cmocka_unit_test(test_help_wins_over_errors),
                cmocka_unit_test(test_bad_format),
                cmocka_unit_test(test_numbers_checked),
                cmocka_unit_test(test_disk_means_file_for_images),
                cmocka_unit_test(test_initrd_needs_kernel),
                cmocka_unit_test(test_timeout_needs_wait),
                cmocka_unit_test(test_operand_after_double_dash),
                cmocka_unit_test(test_parse_twice_resets_getopt),
                cmocka_unit_test(test_priority_names_and_numbers),
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_hints_repeat_in_order),
                cmocka_unit_test(test_server_group_old_name),
                cmocka_unit_test(test_at_most_eight_hints),
                cmocka_unit_test(test_hint_must_be_key_value),
                cmocka_unit_test(test_dry_run_excludes_wait),
                cmocka_unit_test(test_labels_and_unlabels),
                cmocka_unit_test(test_label_key_once),
                cmocka_unit_test(test_drain_and_undrain_conflict),
                cmocka_unit_test(test_migrate_options),
                cmocka_unit_test(test_set_needs_a_change),
                cmocka_unit_test(test_ratios_are_checked_doubles),
                cmocka_unit_test(test_policy_options),
                cmocka_unit_test(test_policy_default_resets),
                cmocka_unit_test(test_policy_values_checked),
                cmocka_unit_test(test_instance_set_needs_a_change),
                cmocka_unit_test(test_policy_body),
                cmocka_unit_test(test_stats_limit_range),
                cmocka_unit_test(test_noun_command),
                cmocka_unit_test(test_parse_double),
                cmocka_unit_test(test_weights_repeat),
                cmocka_unit_test(test_weight_errors),
                cmocka_unit_test(test_three_word_commands),
                cmocka_unit_test(test_three_word_misses),
                cmocka_unit_test(test_group_sizes),
                cmocka_unit_test(test_group_sizes_checked),
                cmocka_unit_test(test_group_sizes_in_order),
                cmocka_unit_test(test_group_set_names_its_options),
                cmocka_unit_test(test_two_operands),
                cmocka_unit_test(test_policy_add_options),
                cmocka_unit_test(test_above_or_below),
                cmocka_unit_test(test_policy_words_checked),
                cmocka_unit_test(test_parse_duration),
                cmocka_unit_test(test_parse_adjust),
                cmocka_unit_test(test_event_scaling_group),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
