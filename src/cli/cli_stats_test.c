/* cli_stats_test.c — unit tests of the tide client's stats printers (cli_stats.c): the tables
 * of `instance stats` and `host stats` from canned answers, and relative times. */
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

/* The newest sample below is at NOW - 2 s. */
#define NOW 1700000012000

static json_t *parse(const char *text) {
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        if (!j)
                fail_msg("bad test JSON: %s", e.text);
        return j;
}

/* docs/metrics.md's instance answer, with three history entries. */
static const char instance_answer[] =
        "{\"id\": \"6f1c2a9e\", \"name\": \"web\", \"host\": \"node-1\","
        " \"current\": {\"t_ms\": 1700000010000, \"running\": true, \"vcpus\": 3, \"vcpus_max\": 4,"
        "             \"balloon_kib\": 2097152, \"balloon_max_kib\": 4194304,"
        "             \"cpu_cores\": 2.5, \"ready_cores\": 0.75, \"vcpu_busy_max\": 0.95,"
        "             \"mem_available_kib\": 2045952, \"mem_unused_kib\": 1047552, \"mem_usable_kib\": 1572864,"
        "             \"mem_rss_kib\": 2138112, \"demand_cores\": 3.25, \"entitlement_cores\": 3},"
        " \"actions\": {\"shares\": 2, \"vcpus\": 1},"
        " \"history\": [{\"t_ms\": 1700000004000, \"running\": true, \"vcpus\": 2, \"vcpus_max\": 4, \"balloon_kib\": 2097152, \"balloon_max_kib\": 4194304, \"cpu_cores\": 1.0, \"ready_cores\": 0.0, \"vcpu_busy_max\": 0.5},"
        "             {\"t_ms\": 1700000007000, \"running\": true, \"vcpus\": 2, \"vcpus_max\": 4, \"balloon_kib\": 1048576, \"balloon_max_kib\": 4194304, \"cpu_cores\": 2.0, \"ready_cores\": 0.4, \"vcpu_busy_max\": 1.0, \"mem_usable_kib\": 524288},"
        "             {\"t_ms\": 1700000010000, \"running\": true, \"vcpus\": 3, \"vcpus_max\": 4, \"balloon_kib\": 2097152, \"balloon_max_kib\": 4194304, \"cpu_cores\": 2.5, \"ready_cores\": 0.75, \"vcpu_busy_max\": 0.95, \"mem_usable_kib\": 1572864}]}";

static const char host_answer[] =
        "{\"host\": \"node-1\","
        " \"current\": {\"t_ms\": 1700000010000, \"cpus\": 8, \"mem_total_kib\": 33554432,"
        "             \"mem_free_kib\": 20971520, \"mem_available_kib\": 25165824,"
        "             \"load1\": 2.75, \"load5\": 1.75, \"load15\": 0.5,"
        "             \"cpu_busy_cores\": 2.5, \"cpu_idle_cores\": 5.5, \"cpu_iowait_cores\": 0.01, \"vms\": 3},"
        " \"history\": [{\"t_ms\": 1700000008500, \"cpus\": 8, \"mem_total_kib\": 33554432, \"mem_free_kib\": 20971520, \"mem_available_kib\": 25165824, \"load1\": 2.5, \"load5\": 1.75, \"load15\": 0.5, \"cpu_busy_cores\": 1, \"cpu_idle_cores\": 7, \"cpu_iowait_cores\": 0},"
        "             {\"t_ms\": 1700000010000, \"cpus\": 8, \"mem_total_kib\": 33554432, \"mem_free_kib\": 20971520, \"mem_available_kib\": 25165824, \"load1\": 2.75, \"load5\": 1.75, \"load15\": 0.5, \"cpu_busy_cores\": 2.5, \"cpu_idle_cores\": 5.5, \"cpu_iowait_cores\": 0.01}]}";

static void test_instance_table(void **state) {
        json_t *j = parse(instance_answer);
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_stats_print_instance(f, CLI_FORMAT_TABLE, j, NOW));
        assert_int_equal(r, 0);
        assert_string_equal(out, "FIELD            VALUE\n"
                                 "name             web\n"
                                 "id               6f1c2a9e\n"
                                 "host             node-1\n"
                                 "sampled          2023-11-14T22:13:30.000Z (2s ago)\n"
                                 "running          yes\n"
                                 "cpu used         2.5 cores\n"
                                 "cpu ready        0.75 cores\n"
                                 "busiest vcpu     95%\n"
                                 "vcpus            3/4\n"
                                 "balloon          2048 / 4096 MiB\n"
                                 "guest usable     1536 MiB\n"
                                 "guest available  1998 MiB\n"
                                 "guest unused     1023 MiB\n"
                                 "host rss         2088 MiB\n"
                                 "demand           3.25 cores\n"
                                 "entitlement      3 cores\n"
                                 "elastic actions  shares 2, vcpus 1\n"
                                 "\n"
                                 "TIME  CPU  READY  VCPUS  BALLOON  USABLE\n"
                                 "-6s   1    0      2/4    2048MiB  -\n"
                                 "-3s   2    0.4    2/4    1024MiB  512MiB\n"
                                 "0s    2.5  0.75   3/4    2048MiB  1536MiB\n");
        free(out);
        json_decref(j);
}

static void test_host_table(void **state) {
        json_t *j = parse(host_answer);
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_stats_print_host(f, CLI_FORMAT_TABLE, j, NOW));
        assert_int_equal(r, 0);
        assert_string_equal(out, "FIELD          VALUE\n"
                                 "host           node-1\n"
                                 "sampled        2023-11-14T22:13:30.000Z (2s ago)\n"
                                 "cpus           8\n"
                                 "cpu busy       2.5 cores\n"
                                 "cpu idle       5.5 cores\n"
                                 "cpu iowait     0.01 cores\n"
                                 "mem total      32768 MiB\n"
                                 "mem available  24576 MiB\n"
                                 "mem free       20480 MiB\n"
                                 "load           2.75 1.75 0.5\n"
                                 "vms            3\n"
                                 "\n"
                                 "TIME  BUSY  IDLE  IOWAIT  AVAILABLE  LOAD1\n"
                                 "-2s   1     7     0       24576MiB   2.5\n"
                                 "0s    2.5   5.5   0.01    24576MiB   2.75\n");
        free(out);
        json_decref(j);
}

/* An instance's very first sample: no rates, no guest figures, no history, no actions yet. */
static void test_first_sample_has_dashes_and_no_history(void **state) {
        json_t *j = parse("{\"id\": \"i\", \"name\": \"vm\", \"host\": \"h\", \"current\": "
                          "{\"t_ms\": 1700000012000, \"running\": false, \"vcpus\": 1, "
                          "\"vcpus_max\": 1, \"balloon_kib\": 262144, "
                          "\"balloon_max_kib\": 262144}, \"actions\": {}, \"history\": []}");
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_stats_print_instance(f, CLI_FORMAT_TABLE, j, NOW));
        assert_int_equal(r, 0);
        assert_string_equal(out, "FIELD            VALUE\n"
                                 "name             vm\n"
                                 "id               i\n"
                                 "host             h\n"
                                 "sampled          2023-11-14T22:13:32.000Z (0s ago)\n"
                                 "running          no\n"
                                 "cpu used         -\n"
                                 "cpu ready        -\n"
                                 "busiest vcpu     -\n"
                                 "vcpus            1/1\n"
                                 "balloon          256 / 256 MiB\n"
                                 "guest usable     -\n"
                                 "guest available  -\n"
                                 "guest unused     -\n"
                                 "host rss         -\n"
                                 "demand           -\n"
                                 "entitlement      -\n"
                                 "elastic actions  -\n");
        free(out);
        json_decref(j);
}

/* Without a clock, or with the agent's ahead of ours, the sample's time has no age. */
static void test_sampled_without_age(void **state) {
        json_t *j = parse("{\"host\": \"h\", \"current\": {\"t_ms\": 1700000012000}, "
                          "\"history\": []}");
        char *out = NULL;
        CAPTURE(out, cli_stats_print_host(f, CLI_FORMAT_TABLE, j, 0));
        assert_non_null(strstr(out, "sampled        2023-11-14T22:13:32.000Z\n"));
        free(out);
        CAPTURE(out, cli_stats_print_host(f, CLI_FORMAT_TABLE, j, NOW - 5000));
        assert_non_null(strstr(out, "sampled        2023-11-14T22:13:32.000Z\n"));
        /* Every missing figure is a dash, the load too. */
        assert_non_null(strstr(out, "load           -\n"));
        free(out);
        json_decref(j);
}

static void test_json_is_the_answer(void **state) {
        json_t *j = parse(instance_answer);
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_stats_print_instance(f, CLI_FORMAT_JSON, j, NOW));
        assert_int_equal(r, 0);
        json_t *back = parse(out);
        assert_true(json_equal(j, back));
        json_decref(back);
        free(out);
        json_decref(j);
}

static void test_not_an_object(void **state) {
        json_t *j = parse("[1]");
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_stats_print_host(f, CLI_FORMAT_TABLE, j, NOW));
        assert_int_equal(r, -EINVAL);
        free(out);
        CAPTURE(out, r = cli_stats_print_instance(f, CLI_FORMAT_JSON, j, NOW));
        assert_int_equal(r, -EINVAL);
        free(out);
        json_decref(j);
}

/* What came from the server reaches the terminal without control characters. */
static void test_text_sanitized(void **state) {
        json_t *j = parse("{\"id\": \"i\", \"name\": \"a\\u001b[2Jb\", \"host\": \"h\", "
                          "\"current\": {}, \"actions\": {\"x\\u0007\": 1}, "
                          "\"history\": []}");
        char *out = NULL;
        CAPTURE(out, cli_stats_print_instance(f, CLI_FORMAT_TABLE, j, NOW));
        assert_non_null(strstr(out, "name             a?[2Jb\n"));
        assert_non_null(strstr(out, "elastic actions  x? 1\n"));
        assert_null(strchr(out, 0x1b));
        free(out);
        json_decref(j);
}

static void test_relative_times(void **state) {
        static const struct {
                int64_t ms;
                const char *want;
        } cases[] = {
                { 0, "0s" },
                { -499, "0s" },
                { 499, "0s" },
                { -500, "-1s" },
                { -3000, "-3s" },
                { -2999, "-3s" },
                { 12000, "+12s" },
                { -59499, "-59s" },
                { -59500, "-1m00s" },
                { -125000, "-2m05s" },
                { -3600000, "-1h00m" },
                { -3780000, "-1h03m" },
                { INT64_MIN, "-2562047788015h12m" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *s = cli_format_relative(cases[i].ms);
                assert_string_equal(s, cases[i].want);
                free(s);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_instance_table),
                cmocka_unit_test(test_host_table),
                cmocka_unit_test(test_first_sample_has_dashes_and_no_history),
                cmocka_unit_test(test_sampled_without_age),
                cmocka_unit_test(test_json_is_the_answer),
                cmocka_unit_test(test_not_an_object),
                cmocka_unit_test(test_text_sanitized),
                cmocka_unit_test(test_relative_times),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
