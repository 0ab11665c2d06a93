/* cli_args_test.c — unit tests of the tide client's option parsing (cli_args.c) and of
 * cli_escape(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli/cli.h"

static int run_nothing(struct cli_ctx *ctx, const struct cli_args *a) { return 0; }

static const struct cli_command create_cmd = {
        "instance", "create", run_nothing, true,
        CLI_F(CLI_OPT_FLAVOR) | CLI_F(CLI_OPT_IMAGE) | CLI_F(CLI_OPT_PRIORITY) | CLI_F(CLI_OPT_HA) |
                CLI_F(CLI_OPT_WAIT) | CLI_F(CLI_OPT_TIMEOUT) | CLI_F(CLI_OPT_FORMAT) |
                CLI_F(CLI_OPT_USER_DATA),
        CLI_F(CLI_OPT_FLAVOR) | CLI_F(CLI_OPT_IMAGE),
        "NAME --flavor F --image I", "test",
};

static const struct cli_command list_cmd = {
        "event", "list", run_nothing, false,
        CLI_F(CLI_OPT_FORMAT) | CLI_F(CLI_OPT_LIMIT) | CLI_F(CLI_OPT_INSTANCE), 0, "", "test",
};

static const struct cli_command flavor_cmd = {
        "flavor", "create", run_nothing, true,
        CLI_F(CLI_OPT_VCPUS) | CLI_F(CLI_OPT_RAM) | CLI_F(CLI_OPT_DISK_GIB) | CLI_F(CLI_OPT_MAX_RAM),
        CLI_F(CLI_OPT_VCPUS) | CLI_F(CLI_OPT_RAM) | CLI_F(CLI_OPT_DISK_GIB), "", "test",
};

static const struct cli_command image_cmd = {
        "image", "create", run_nothing, true,
        CLI_F(CLI_OPT_DISK_FILE) | CLI_F(CLI_OPT_KERNEL) | CLI_F(CLI_OPT_INITRD) |
                CLI_F(CLI_OPT_CMDLINE),
        CLI_F(CLI_OPT_DISK_FILE), "", "test",
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
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "--flavor", "small", "web-1",
                               "--image=tiny", "--priority", "high", "--ha", "--wait",
                               "--timeout", "30", "-f", "json", NULL), CLI_ARGS_OK);
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
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image",
                               "i", NULL), CLI_ARGS_OK);
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
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "w", "--flavor", "f", NULL),
                         -EINVAL);
        assert_non_null(strstr(err, "--image"));
        free(err);
}

static void test_missing_name(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "--flavor", "f", "--image", "i",
                               NULL), -EINVAL);
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
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image",
                               "i", "--wait=yes", NULL), -EINVAL);
        assert_string_equal(err, "option '--wait' takes no argument");
        free(err);
}

static void test_help_wins_over_errors(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "--help", NULL), CLI_ARGS_HELP);
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "x", "y", "-h", NULL),
                         CLI_ARGS_HELP);
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
        assert_int_equal(parse(&flavor_cmd, &a, &err, "create", "s", "--vcpus", "2x", "--ram",
                               "256", "--disk", "1", NULL), -EINVAL);
        assert_string_equal(err, "--vcpus needs a whole number, not '2x'");
        free(err);
        assert_int_equal(parse(&flavor_cmd, &a, &err, "create", "s", "--vcpus", "0", "--ram",
                               "256", "--disk", "1", NULL), -EINVAL);
        free(err);
        assert_int_equal(parse(&list_cmd, &a, &err, "list", "--limit", "1001", NULL), -EINVAL);
        assert_string_equal(err, "--limit must be between 1 and 1000, not '1001'");
        free(err);
        assert_int_equal(parse(&flavor_cmd, &a, &err, "create", "s", "--vcpus", "2", "--ram",
                               "256", "--disk", "1", "--max-ram", "1024", NULL), CLI_ARGS_OK);
        assert_int_equal(a.vcpus, 2);
        assert_int_equal(a.ram_mib, 256);
        assert_int_equal(a.disk_gib, 1);
        assert_int_equal(a.max_ram_mib, 1024);
        assert_false(a.given & CLI_F(CLI_OPT_MAX_VCPUS));
}

static void test_disk_means_file_for_images(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&image_cmd, &a, &err, "create", "tiny", "--disk", "root.qcow2",
                               NULL), CLI_ARGS_OK);
        assert_string_equal(a.disk_file, "root.qcow2");
        assert_int_equal(a.disk_gib, 0);
}

static void test_initrd_needs_kernel(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&image_cmd, &a, &err, "create", "tiny", "--disk", "d",
                               "--initrd", "i", NULL), -EINVAL);
        free(err);
        assert_int_equal(parse(&image_cmd, &a, &err, "create", "tiny", "--disk", "d",
                               "--kernel", "k", "--initrd", "i", "--cmdline", "console=ttyS0",
                               NULL), CLI_ARGS_OK);
        assert_string_equal(a.cmdline, "console=ttyS0");
}

static void test_timeout_needs_wait(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "w", "--flavor", "f", "--image",
                               "i", "--timeout", "5", NULL), -EINVAL);
        assert_string_equal(err, "--timeout needs --wait");
        free(err);
}

static void test_operand_after_double_dash(void **state) {
        struct cli_args a;
        char *err;
        assert_int_equal(parse(&create_cmd, &a, &err, "create", "--flavor", "f", "--image", "i",
                               "--", "-odd", NULL), CLI_ARGS_OK);
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
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
