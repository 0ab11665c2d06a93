/* cli_output_test.c — unit tests of the tide client's tables and JSON output
 * (cli_output.c) and of the --wait decision (cli_wait_check()). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli/cli.h"

/* Runs print into a memory stream and returns what it wrote (caller frees). */
#define CAPTURE(out, call) \
        do { \
                size_t _n; \
                FILE *f = open_memstream(&(out), &_n); \
                assert_non_null(f); \
                call; \
                fclose(f); \
        } while (0)

static json_t *parse(const char *text) {
        json_t *j = json_loads(text, 0, NULL);
        assert_non_null(j);
        return j;
}

static void test_table_aligns_columns(void **state) {
        static const char *const headers[] = { "NAME", "STATUS", "HOST" };
        struct cli_table *t = cli_table_new(3, headers);
        char *r1[] = { xstrdup("web-1"), xstrdup("running"), xstrdup("node1") };
        char *r2[] = { xstrdup("db"), xstrdup("-"), xstrdup("-") };
        cli_table_add_row(t, r1);
        cli_table_add_row(t, r2);
        char *out = NULL;
        CAPTURE(out, cli_table_print(t, f));
        assert_string_equal(out, "NAME   STATUS   HOST\n"
                                 "web-1  running  node1\n"
                                 "db     -        -\n");
        free(out);
        cli_table_free(t);
}

static void test_table_counts_utf8_characters(void **state) {
        static const char *const headers[] = { "A", "B" };
        struct cli_table *t = cli_table_new(2, headers);
        char *r1[] = { xstrdup("d\xc3\xa9j\xc3\xa0"), xstrdup("x") }; /* "déjà": 4 columns */
        cli_table_add_row(t, r1);
        char *out = NULL;
        CAPTURE(out, cli_table_print(t, f));
        assert_string_equal(out, "A     B\nd\xc3\xa9j\xc3\xa0  x\n");
        free(out);
        cli_table_free(t);
}

static void test_cells(void **state) {
        json_t *j = parse("[\"a\\u001b[31m\", null, 42, 1.5, true, false, [1, 2], {\"k\": \"v\"}]");
        static const char *const want[] = { "a?[31m", "-", "42", "1.5", "true", "false", "[1,2]", "{\"k\":\"v\"}" };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                char *s = cli_cell_value(json_array_get(j, i));
                assert_string_equal(s, want[i]);
                free(s);
        }
        char *s = cli_cell_value(NULL);
        assert_string_equal(s, "-");
        free(s);
        json_decref(j);
}

static void test_sizes(void **state) {
        static const struct {
                uint64_t bytes;
                const char *text;
        } cases[] = {
                { 0, "0B" },
                { 512, "512B" },
                { 1024, "1KiB" },
                { 1536, "1.5KiB" },
                { 134217728, "128MiB" },
                { 21233664, "20.3MiB" },
                { 1ull << 40, "1TiB" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *s = cli_format_size(cases[i].bytes);
                assert_string_equal(s, cases[i].text);
                free(s);
        }
        json_t *mib = json_integer(1536), *gib = json_integer(20), *neg = json_integer(-1);
        char *a = cli_cell_mib(mib), *b = cli_cell_gib(gib), *c = cli_cell_bytes(neg);
        assert_string_equal(a, "1.5GiB");
        assert_string_equal(b, "20GiB");
        assert_string_equal(c, "-1");
        free(a);
        free(b);
        free(c);
        json_decref(mib);
        json_decref(gib);
        json_decref(neg);
}

static const struct cli_column cols[] = {
        { "NAME", "name", NULL },
        { "RAM", "ram_mib", cli_cell_mib },
        { "TASK", "task", NULL },
};

static void test_list_as_table(void **state) {
        json_t *list = parse("[{\"name\": \"web-1\", \"ram_mib\": 256, \"task\": null},"
                             " {\"name\": \"database\", \"ram_mib\": 4096, \"task\": \"starting\"},"
                             " {\"name\": \"x\"}]");
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_print_list(f, CLI_FORMAT_TABLE, list, cols, ELEMENTSOF(cols)));
        assert_int_equal(r, 0);
        assert_string_equal(out, "NAME      RAM     TASK\n"
                                 "web-1     256MiB  -\n"
                                 "database  4GiB    starting\n"
                                 "x         -       -\n");
        free(out);
        json_decref(list);
}

static void test_empty_list_prints_header(void **state) {
        json_t *list = parse("[]");
        char *out = NULL;
        CAPTURE(out, cli_print_list(f, CLI_FORMAT_TABLE, list, cols, ELEMENTSOF(cols)));
        assert_string_equal(out, "NAME  RAM  TASK\n");
        free(out);
        json_decref(list);
}

static void test_list_as_json_is_the_array(void **state) {
        json_t *list = parse("[{\"name\": \"a\"}]");
        char *out = NULL;
        CAPTURE(out, cli_print_list(f, CLI_FORMAT_JSON, list, cols, ELEMENTSOF(cols)));
        assert_string_equal(out, "[\n  {\n    \"name\": \"a\"\n  }\n]\n");
        free(out);
        json_decref(list);
}

static void test_list_refuses_non_array(void **state) {
        json_t *obj = parse("{}");
        assert_int_equal(cli_print_list(stdout, CLI_FORMAT_TABLE, obj, cols, 1), -EINVAL);
        json_decref(obj);
}

static void test_object_rows_in_key_order(void **state) {
        json_t *obj = parse("{\"name\": \"web-1\", \"status\": \"running\", \"error\": null, "
                            "\"ha\": false}");
        char *out = NULL;
        CAPTURE(out, cli_print_object(f, CLI_FORMAT_TABLE, obj));
        assert_string_equal(out, "FIELD   VALUE\n"
                                 "name    web-1\n"
                                 "status  running\n"
                                 "error   -\n"
                                 "ha      false\n");
        free(out);
        CAPTURE(out, cli_print_object(f, CLI_FORMAT_JSON, obj));
        assert_string_equal(out, "{\n  \"name\": \"web-1\",\n  \"status\": \"running\",\n"
                                 "  \"error\": null,\n  \"ha\": false\n}\n");
        free(out);
        json_decref(obj);
}

static void test_format_names(void **state) {
        enum cli_format f;
        assert_int_equal(cli_format_from_string("json", &f), 0);
        assert_int_equal(f, CLI_FORMAT_JSON);
        assert_int_equal(cli_format_from_string("table", &f), 0);
        assert_int_equal(f, CLI_FORMAT_TABLE);
        assert_int_equal(cli_format_from_string("yaml", &f), -EINVAL);
}

static enum cli_wait_state check(const char *text, const char *want, char **reason) {
        json_t *j = parse(text);
        *reason = NULL;
        enum cli_wait_state s = cli_wait_check(j, want, reason);
        json_decref(j);
        return s;
}

static void test_wait_pending_while_task_runs(void **state) {
        char *reason;
        assert_int_equal(check("{\"status\": \"building\", \"task\": \"creating\"}", "running", &reason),
                         CLI_WAIT_PENDING);
        /* A start of an instance that failed before: still in error, but working on it. */
        assert_int_equal(check("{\"status\": \"error\", \"task\": \"starting\", \"error\": \"x\"}", "running", &reason),
                         CLI_WAIT_PENDING);
        assert_null(reason);
}

static void test_wait_done_when_task_null_and_status_reached(void **state) {
        char *reason;
        assert_int_equal(check("{\"status\": \"stopped\", \"task\": null}", "stopped", &reason), CLI_WAIT_DONE);
        assert_null(reason);
}

static void test_wait_failed_on_error_gives_reason(void **state) {
        char *reason;
        assert_int_equal(check("{\"status\": \"error\", \"task\": null, "
                               "\"error\": \"qemu-img failed\"}",
                               "running", &reason),
                         CLI_WAIT_FAILED);
        assert_string_equal(reason, "qemu-img failed");
        free(reason);
}

static void test_wait_failed_when_desire_changed(void **state) {
        char *reason;
        assert_int_equal(check("{\"status\": \"stopped\", \"desired\": \"stopped\", "
                               "\"task\": null}",
                               "running", &reason),
                         CLI_WAIT_FAILED);
        assert_non_null(strstr(reason, "'stopped'"));
        free(reason);
}

static void test_wait_pending_while_still_desired(void **state) {
        char *reason = NULL;
        assert_int_equal(check("{\"status\": \"stopped\", \"desired\": \"running\", "
                               "\"task\": null}",
                               "running", &reason),
                         CLI_WAIT_PENDING);
        assert_null(reason);
}

static void test_wait_for_delete(void **state) {
        char *reason;
        assert_int_equal(check("{\"status\": \"deleting\", \"task\": \"deleting\"}", "deleted", &reason),
                         CLI_WAIT_PENDING);
        assert_int_equal(check("{\"status\": \"deleting\", \"task\": null}", "deleted", &reason), CLI_WAIT_PENDING);
        assert_int_equal(check("{\"status\": \"error\", \"task\": null, \"error\": \"stuck\"}", "deleted", &reason),
                         CLI_WAIT_FAILED);
        assert_string_equal(reason, "stuck");
        free(reason);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_aligns_columns),
                cmocka_unit_test(test_table_counts_utf8_characters),
                cmocka_unit_test(test_cells),
                cmocka_unit_test(test_sizes),
                cmocka_unit_test(test_list_as_table),
                cmocka_unit_test(test_empty_list_prints_header),
                cmocka_unit_test(test_list_as_json_is_the_array),
                cmocka_unit_test(test_list_refuses_non_array),
                cmocka_unit_test(test_object_rows_in_key_order),
                cmocka_unit_test(test_format_names),
                cmocka_unit_test(test_wait_pending_while_task_runs),
                cmocka_unit_test(test_wait_done_when_task_null_and_status_reached),
                cmocka_unit_test(test_wait_failed_on_error_gives_reason),
                cmocka_unit_test(test_wait_failed_when_desire_changed),
                cmocka_unit_test(test_wait_pending_while_still_desired),
                cmocka_unit_test(test_wait_for_delete),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
