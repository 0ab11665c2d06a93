/* cli_placement_test.c — unit tests of the tide client's placement printers (explanations,
 * decisions, CPU lists), of the host and server-group tables, and of flattened fields. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli/cli.h"

#define CAPTURE(out, call) \
        do { \
                size_t _n; \
                FILE *f = open_memstream(&(out), &_n); \
                assert_non_null(f); \
                call; \
                fclose(f); \
        } while (0)

static json_t *parse(const char *text) {
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        if (!j)
                fail_msg("bad test JSON: %s", e.text);
        return j;
}

/* docs/api.md's example of a dry run's answer. */
static const char dry_run_answer[] =
        "{\"instance\": \"web-1\", \"decision\": {\"host\": \"node2\", \"numa_node\": null, "
        "\"pinned\": [], \"score\": 0.61}, \"error\": null, \"hosts\": ["
        "{\"host\": \"node1\", \"passed\": false, \"filter\": \"ram\", "
        "\"detail\": \"needs 4096 MiB, 1024 free\"},"
        "{\"host\": \"node2\", \"passed\": true, \"score\": 0.61, \"weights\": "
        "{\"ram\": 0.4, \"cpu\": 0.2, \"load\": 0, \"numa\": 0.01}}]}";

static void test_dry_run_table(void **state) {
        json_t *j = parse(dry_run_answer);
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_placement_print(f, CLI_FORMAT_TABLE, j));
        assert_int_equal(r, 0);
        assert_string_equal(out, "FIELD     VALUE\n"
                                 "instance  web-1\n"
                                 "decision  host node2, NUMA node -, pinned CPUs -, score 0.61\n"
                                 "\n"
                                 "HOST   RESULT    FILTER  SCORE  DETAIL\n"
                                 "node1  rejected  ram     -      needs 4096 MiB, 1024 free\n"
                                 "node2  passed    -       0.61   ram 0.4, cpu 0.2, load 0, numa 0.01\n");
        assert_true(cli_placement_found(j));
        free(out);
        json_decref(j);
}

/* tided's sched_explain_to_json form: "rejected_by" for "passed" and "filter", weights null
 * and detail "" for rejected hosts. */
static void test_explain_rejected_by_form(void **state) {
        json_t *j = parse("{\"instance\": \"w\", \"decision\": {\"host\": \"b\", "
                          "\"numa_node\": 0, \"pinned\": [2, 3], \"score\": 1.25}, "
                          "\"error\": null, \"hosts\": ["
                          "{\"host\": \"b\", \"rejected_by\": null, \"score\": 1.25, "
                          "\"weights\": {\"ram\": 1, \"cpu\": 0.25, \"load\": 0, "
                          "\"numa\": 0}, \"detail\": \"\"},"
                          "{\"host\": \"a\", \"rejected_by\": \"dedicated\", "
                          "\"score\": null, \"weights\": null, "
                          "\"detail\": \"needs 4 free CPUs, 2 free\"}]}");
        char *out = NULL;
        CAPTURE(out, cli_placement_print(f, CLI_FORMAT_TABLE, j));
        assert_string_equal(out, "FIELD     VALUE\n"
                                 "instance  w\n"
                                 "decision  host b, NUMA node 0, pinned CPUs 2-3, score 1.25\n"
                                 "\n"
                                 "HOST  RESULT    FILTER     SCORE  DETAIL\n"
                                 "b     passed    -          1.25   ram 1, cpu 0.25, load 0, numa 0\n"
                                 "a     rejected  dedicated  -      needs 4 free CPUs, 2 free\n");
        free(out);
        json_decref(j);
}

static void test_no_valid_host_prints_reason_and_is_not_found(void **state) {
        json_t *j = parse("{\"instance\": \"big\", \"decision\": null, "
                          "\"error\": \"no valid host: 1 host; 1 rejected by ram\", "
                          "\"hosts\": [{\"host\": \"node1\", \"passed\": false, "
                          "\"filter\": \"ram\"}]}");
        char *out = NULL;
        CAPTURE(out, cli_placement_print(f, CLI_FORMAT_TABLE, j));
        assert_string_equal(out, "FIELD     VALUE\n"
                                 "instance  big\n"
                                 "decision  no valid host: 1 host; 1 rejected by ram\n"
                                 "\n"
                                 "HOST   RESULT    FILTER  SCORE  DETAIL\n"
                                 "node1  rejected  ram     -      -\n");
        assert_false(cli_placement_found(j));
        free(out);
        json_decref(j);
}

static void test_explain_shows_recorded_placement(void **state) {
        json_t *j = parse("{\"instance\": \"db\", \"status\": \"running\", \"reason\": null, "
                          "\"host\": \"node1\", \"placement\": {\"host\": \"node1\", "
                          "\"numa_node\": 1, \"pinned\": [8, 9, 10, 12], \"score\": 0.8249}, "
                          "\"decision\": {\"host\": \"node1\", \"numa_node\": 1, "
                          "\"pinned\": [8, 9, 10, 12], \"score\": 0.8249}, \"error\": null, "
                          "\"hosts\": [{\"host\": \"node1\", \"passed\": true, \"score\": 0.8249,"
                          " \"detail\": \"NUMA node 1\", \"weights\": {\"ram\": 0.5}}]}");
        char *out = NULL;
        CAPTURE(out, cli_placement_print(f, CLI_FORMAT_TABLE, j));
        assert_string_equal(out, "FIELD      VALUE\n"
                                 "instance   db\n"
                                 "status     running\n"
                                 "reason     -\n"
                                 "placement  host node1, NUMA node 1, pinned CPUs 8-10,12, score 0.825\n"
                                 "decision   host node1, NUMA node 1, pinned CPUs 8-10,12, score 0.825\n"
                                 "\n"
                                 "HOST   RESULT  FILTER  SCORE  DETAIL\n"
                                 "node1  passed  -       0.825  NUMA node 1; ram 0.5\n");
        free(out);
        json_decref(j);
}

static void test_explain_of_unplaced_instance(void **state) {
        json_t *j = parse("{\"instance\": \"x\", \"status\": \"error\", "
                          "\"reason\": \"no valid host: 0 hosts\", \"host\": null, "
                          "\"placement\": null, \"decision\": null, "
                          "\"error\": \"no valid host: 0 hosts\", \"hosts\": []}");
        char *out = NULL;
        CAPTURE(out, cli_placement_print(f, CLI_FORMAT_TABLE, j));
        assert_string_equal(out, "FIELD      VALUE\n"
                                 "instance   x\n"
                                 "status     error\n"
                                 "reason     no valid host: 0 hosts\n"
                                 "placement  -\n"
                                 "decision   no valid host: 0 hosts\n"
                                 "\n"
                                 "HOST  RESULT  FILTER  SCORE  DETAIL\n");
        free(out);
        json_decref(j);
}

static void test_explain_missing_members_are_dashes(void **state) {
        /* A host entry with nothing but its name, and an answer without "instance". */
        json_t *j = parse("{\"hosts\": [{\"host\": \"n\"}, {}], \"host\": \"old\", "
                          "\"status\": \"running\"}");
        char *out = NULL;
        CAPTURE(out, cli_placement_print(f, CLI_FORMAT_TABLE, j));
        assert_string_equal(out, "FIELD      VALUE\n"
                                 "instance   -\n"
                                 "status     running\n"
                                 "reason     -\n"
                                 "placement  host old\n"
                                 "decision   -\n"
                                 "\n"
                                 "HOST  RESULT  FILTER  SCORE  DETAIL\n"
                                 "n     -       -       -      -\n"
                                 "-     -       -       -      -\n");
        free(out);
        json_decref(j);
}

static void test_explain_sanitizes_server_text(void **state) {
        json_t *j = parse("{\"decision\": null, \"error\": \"bad\\u001b[2J\", \"hosts\": "
                          "[{\"host\": \"a\\nb\", \"passed\": false, \"detail\": \"\\u0007\"}]}");
        char *out = NULL;
        CAPTURE(out, cli_placement_print(f, CLI_FORMAT_TABLE, j));
        assert_null(strchr(out, '\033'));
        assert_null(strchr(out, '\a'));
        assert_non_null(strstr(out, "a?b"));
        free(out);
        json_decref(j);
}

static void test_explain_json_is_the_answer(void **state) {
        json_t *j = parse(dry_run_answer);
        char *out = NULL;
        CAPTURE(out, cli_placement_print(f, CLI_FORMAT_JSON, j));
        json_t *back = parse(out);
        assert_true(json_equal(back, j));
        json_decref(back);
        free(out);
        json_decref(j);
        assert_int_equal(cli_placement_print(stdout, CLI_FORMAT_TABLE, NULL), -EINVAL);
}

static void test_cpu_lists(void **state) {
        static const struct {
                const char *json, *text;
        } cases[] = {
                { "[]", "-" },
                { "[4]", "4" },
                { "[4, 5]", "4-5" },
                { "[0, 1, 2, 5, 7, 8]", "0-2,5,7-8" },
                { "[3, 2, 1]", "3,2,1" },
                { "[1, \"x\"]", "-" },
                { "{}", "-" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_t *j = parse(cases[i].json);
                char *s = cli_format_cpu_list(j);
                assert_string_equal(s, cases[i].text);
                free(s);
                json_decref(j);
        }
        char *s = cli_format_cpu_list(NULL);
        assert_string_equal(s, "-");
        free(s);
}

static void test_numbers(void **state) {
        static const struct {
                double d;
                const char *text;
        } cases[] = {
                { 0, "0" },     { 2, "2" },       { 0.61, "0.61" }, { 0.8249, "0.825" }, { -0.125, "-0.125" },
                { 1.5, "1.5" }, { -0.0001, "0" }, { 10.0, "10" },   { 0.01, "0.01" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *s = cli_format_number(cases[i].d);
                assert_string_equal(s, cases[i].text);
                free(s);
        }
}

static void test_describe_decision(void **state) {
        json_t *j = parse("{\"host\": \"n1\", \"numa_node\": 0, \"pinned\": [4, 5], "
                          "\"score\": 1}");
        char *s = cli_placement_describe(j);
        assert_string_equal(s, "host n1, NUMA node 0, pinned CPUs 4-5, score 1");
        free(s);
        json_decref(j);
        s = cli_placement_describe(NULL);
        assert_string_equal(s, "-");
        free(s);
}

static void test_fields_flatten_nested_objects(void **state) {
        json_t *j = parse("{\"cpu_ratio\": 2.0, \"mode\": \"spread\", \"weights\": "
                          "{\"ram\": 1.0, \"soft_affinity\": 10.0}, \"empty\": {}, \"s\": \"\"}");
        char *out = NULL;
        CAPTURE(out, cli_print_fields(f, CLI_FORMAT_TABLE, j));
        assert_string_equal(out, "FIELD                  VALUE\n"
                                 "cpu_ratio              2\n"
                                 "mode                   spread\n"
                                 "weights.ram            1\n"
                                 "weights.soft_affinity  10\n"
                                 "empty                  -\n"
                                 "s                      -\n");
        free(out);
        json_decref(j);
}

static void test_host_table(void **state) {
        json_t *j = parse("{\"name\": \"node1\", \"state\": \"up\", \"cpus\": 16, "
                          "\"numa\": [{\"cpus\": \"0-7\", \"mem_mib\": 32768, \"hugepages_mib\": 1024},"
                          "           {\"cpus\": \"8-15\", \"mem_mib\": 32768, \"hugepages_mib\": 0}],"
                          "\"config\": {\"labels\": {\"zone\": \"hk-a\"}, \"cpu_ratio\": 4, "
                          "             \"draining\": true},"
                          "\"allocation\": {\"vcpus\": 2, \"pinned\": \"\", \"numa\": "
                          "  [{\"bound_ram_mib\": 512, \"hugepages_used_mib\": 512}, "
                          "   {\"bound_ram_mib\": 0, \"hugepages_used_mib\": 0}]}}");
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_host_print(f, CLI_FORMAT_TABLE, j));
        assert_int_equal(r, 0);
        assert_string_equal(out, "FIELD  VALUE\n"
                                 "name   node1\n"
                                 "state  up\n"
                                 "cpus   16\n"
                                 "\n"
                                 "NUMA  CPUS  MEM    HUGEPAGES  BOUND_RAM  HUGEPAGES_USED\n"
                                 "0     0-7   32GiB  1GiB       512MiB     512MiB\n"
                                 "1     8-15  32GiB  0MiB       0MiB       0MiB\n"
                                 "\n"
                                 "CONFIG       VALUE\n"
                                 "labels.zone  hk-a\n"
                                 "cpu_ratio    4\n"
                                 "draining     true\n"
                                 "\n"
                                 "ALLOCATION  VALUE\n"
                                 "vcpus       2\n"
                                 "pinned      -\n");
        free(out);
        json_decref(j);
}

static void test_host_without_placement_data(void **state) {
        /* An older tided: no numa, config or allocation: only the fields. */
        json_t *j = parse("{\"name\": \"n\", \"config\": {}}");
        char *out = NULL;
        CAPTURE(out, cli_host_print(f, CLI_FORMAT_TABLE, j));
        assert_string_equal(out, "FIELD  VALUE\n"
                                 "name   n\n"
                                 "\n"
                                 "CONFIG  VALUE\n"
                                 "-       -\n");
        free(out);
        json_decref(j);
}

static void test_server_group_table(void **state) {
        json_t *j = parse("{\"name\": \"web\", \"policy\": \"anti-affinity\", "
                          "\"members\": {\"web-1\": \"node1\", \"web-2\": null}}");
        char *out = NULL;
        CAPTURE(out, cli_server_group_print(f, CLI_FORMAT_TABLE, j));
        assert_string_equal(out, "FIELD   VALUE\n"
                                 "name    web\n"
                                 "policy  anti-affinity\n"
                                 "\n"
                                 "INSTANCE  HOST\n"
                                 "web-1     node1\n"
                                 "web-2     -\n");
        free(out);
        json_decref(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dry_run_table),
                cmocka_unit_test(test_explain_rejected_by_form),
                cmocka_unit_test(test_no_valid_host_prints_reason_and_is_not_found),
                cmocka_unit_test(test_explain_shows_recorded_placement),
                cmocka_unit_test(test_explain_of_unplaced_instance),
                cmocka_unit_test(test_explain_missing_members_are_dashes),
                cmocka_unit_test(test_explain_sanitizes_server_text),
                cmocka_unit_test(test_explain_json_is_the_answer),
                cmocka_unit_test(test_cpu_lists),
                cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_describe_decision),
                cmocka_unit_test(test_fields_flatten_nested_objects),
                cmocka_unit_test(test_host_table),
                cmocka_unit_test(test_host_without_placement_data),
                cmocka_unit_test(test_server_group_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
