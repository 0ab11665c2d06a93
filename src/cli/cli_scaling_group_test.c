/* cli_scaling_group_test.c — unit tests of the tide client's scaling groups: the request
 * bodies from the options, a policy's condition, the table of `tide scaling-group show`, and
 * `tide group`, the old name, finding the same commands. */
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

static int run_nothing(struct cli_ctx *ctx, const struct cli_args *a) {
        return 0;
}

#define O(x) CLI_F(CLI_OPT_##x)

static const struct cli_command create_cmd = {
        "scaling-group",
        "create",
        run_nothing,
        "NAME",
        O(FLAVOR) | O(IMAGE) | O(USER_DATA) | O(MIN_SIZE) | O(MAX_SIZE) | O(DESIRED) | O(PRIORITY) | O(ELASTIC) |
                O(NO_SPREAD),
        O(FLAVOR) | O(IMAGE),
        "",
        "test",
        0,
};

static const struct cli_command set_cmd = {
        "scaling-group",
        "set",
        run_nothing,
        "NAME",
        O(MIN_SIZE) | O(MAX_SIZE) | O(DESIRED),
        0,
        "",
        "test",
        O(MIN_SIZE) | O(MAX_SIZE) | O(DESIRED),
};

static const struct cli_command policy_add_cmd = {
        "scaling-group",
        "policy add",
        run_nothing,
        "GROUP",
        O(METRIC) | O(ABOVE) | O(BELOW) | O(ADJUST) | O(STAT) | O(FOR) | O(COOLDOWN) | O(VICTIM) | O(POLICY_NAME),
        O(METRIC) | O(ADJUST),
        "",
        "test",
        0,
};

/* Parses a NULL-terminated list of words (copied: getopt permutes argv); fails the test on
 * anything but success. */
static void parse(const struct cli_command *cmd, struct cli_args *a, ...) {
        static char *argv[64];
        static char store[64][128];
        int argc = 0;
        va_list ap;
        va_start(ap, a);
        for (const char *w; (w = va_arg(ap, const char *));) {
                snprintf(store[argc], sizeof store[argc], "%s", w);
                argv[argc] = store[argc];
                argc++;
        }
        va_end(ap);
        argv[argc] = NULL;
        char *err = NULL;
        if (cli_args_parse(cmd, argc, argv, a, &err) != CLI_ARGS_OK)
                fail_msg("parse: %s", err ? err : "?");
}

static json_t *load(const char *text) {
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        if (!j)
                fail_msg("bad test JSON: %s", e.text);
        return j;
}

/* Compares j (taken) with want, keys sorted. */
static void assert_json(json_t *j, const char *want) {
        assert_non_null(j);
        char *got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(got, want);
        free(got);
        json_decref(j);
}

static void test_create_body_sends_what_was_given(void **state) {
        struct cli_args a;
        parse(&create_cmd, &a, "create", "web", "--flavor", "small", "--image", "tiny", NULL);
        assert_json(cli_scaling_group_body(&a, false), "{\"flavor\":\"small\",\"image\":\"tiny\",\"name\":\"web\"}");
}

static void test_create_body_every_option(void **state) {
        struct cli_args a;
        parse(&create_cmd, &a, "create", "web", "--flavor", "small", "--image", "tiny", "--min", "2", "--max", "10",
              "--desired", "3", "--priority", "high", "--elastic", "off", "--no-spread", NULL);
        assert_json(cli_scaling_group_body(&a, false),
                    "{\"desired\":3,\"elastic\":false,\"flavor\":\"small\",\"image\":\"tiny\","
                    "\"max\":10,\"min\":2,\"name\":\"web\",\"priority\":750,\"spread\":false}");
}

static void test_create_body_default_sends_nothing(void **state) {
        struct cli_args a;
        parse(&create_cmd, &a, "create", "web", "--flavor", "f", "--image", "i", "--priority", "default", "--elastic",
              "default", NULL);
        assert_json(cli_scaling_group_body(&a, false), "{\"flavor\":\"f\",\"image\":\"i\",\"name\":\"web\"}");
}

static void test_create_body_not_utf8(void **state) {
        struct cli_args a;
        parse(&create_cmd, &a, "create", "web\xff", "--flavor", "f", "--image", "i", NULL);
        assert_null(cli_scaling_group_body(&a, false));
}

static void test_set_body_sizes_only(void **state) {
        struct cli_args a;
        parse(&set_cmd, &a, "set", "web", "--desired", "0", NULL);
        assert_json(cli_scaling_group_body(&a, true), "{\"desired\":0}");
        parse(&set_cmd, &a, "set", "web", "--min", "1", "--max", "4", NULL);
        assert_json(cli_scaling_group_body(&a, true), "{\"max\":4,\"min\":1}");
}

static void test_policy_body(void **state) {
        struct cli_args a;
        parse(&policy_add_cmd, &a, "add", "web", "--metric", "cpu", "--above", "80", "--adjust", "+2", "--stat", "max",
              "--for", "5m", "--cooldown", "0", "--victim", "oldest", "--name", "out", NULL);
        assert_json(cli_scaling_policy_body(&a),
                    "{\"above\":80.0,\"adjust\":\"+2\",\"cooldown_s\":0,\"for_s\":300,"
                    "\"metric\":\"cpu\",\"name\":\"out\",\"stat\":\"max\",\"victim\":\"oldest\"}");
        /* Only what was given: tided has the defaults. */
        parse(&policy_add_cmd, &a, "add", "web", "--metric", "memory", "--below", "20.5", "--adjust", "-25%", NULL);
        assert_json(cli_scaling_policy_body(&a), "{\"adjust\":\"-25%\",\"below\":20.5,\"metric\":\"memory\"}");
}

static void test_condition(void **state) {
        static const struct {
                const char *policy, *want;
        } cases[] = {
                { "{\"metric\":\"cpu\",\"stat\":\"avg\",\"op\":\"above\",\"threshold\":80.0,"
                  "\"for_s\":300}",
                  "cpu avg > 80 for 300s" },
                { "{\"metric\":\"ready_cores\",\"stat\":\"max\",\"op\":\"below\","
                  "\"threshold\":0.25,\"for_s\":90}",
                  "ready_cores max < 0.25 for 90s" },
                /* Acting at once: no "for". */
                { "{\"metric\":\"memory\",\"stat\":\"min\",\"op\":\"below\",\"threshold\":-5,"
                  "\"for_s\":0}",
                  "memory min < -5" },
                /* What a newer or older tided may send. */
                { "{\"metric\":\"cpu\",\"op\":\"sideways\",\"threshold\":\"x\"}", "cpu - ? x for -" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_t *p = load(cases[i].policy);
                char *c = cli_scaling_policy_condition(p);
                assert_string_equal(c, cases[i].want);
                free(c);
                json_decref(p);
        }
}

/* The answer of GET /v1/scaling-groups/web, as api_scaling_groups.c builds it. */
static const char group_answer[] =
        "{\"name\":\"web\",\"flavor\":\"small\",\"image\":\"tiny\",\"spread\":true,"
        "\"priority\":500,\"policies\":["
        "{\"metric\":\"cpu\",\"stat\":\"avg\",\"op\":\"above\",\"threshold\":80.0,"
        "\"for_s\":300,\"adjust\":\"+2\",\"adjust_type\":\"change\",\"adjustment\":2,"
        "\"cooldown_s\":300,\"victim\":\"newest\",\"name\":\"out\",\"last_action_ms\":1,"
        "\"value\":91.25,\"holding\":true,\"held_s\":42.9,\"cooldown_left_s\":12.2},"
        "{\"metric\":\"cpu\",\"stat\":\"avg\",\"op\":\"below\",\"threshold\":20.0,"
        "\"for_s\":600,\"adjust\":\"-1\",\"adjust_type\":\"change\",\"adjustment\":-1,"
        "\"cooldown_s\":300,\"victim\":\"oldest\",\"name\":\"in\",\"value\":null,"
        "\"holding\":false,\"held_s\":0.0,\"cooldown_left_s\":0.0}],"
        "\"min\":2,\"max\":10,\"desired\":4,\"id\":\"4b81\","
        "\"created\":\"2026-11-22T05:36:33.062Z\","
        "\"server_group\":\"ffbd\",\"user_data_size\":18,"
        "\"members\":[{\"name\":\"web-1\",\"status\":\"running\",\"host\":\"node1\","
        "\"leaving\":false},{\"name\":\"web-5\",\"status\":\"building\",\"host\":null,"
        "\"leaving\":false}],"
        "\"decisions\":[{\"time\":\"2026-11-22T05:40:00.000Z\",\"policy\":\"out\",\"from\":2,"
        "\"to\":4,\"reason\":\"out: cpu avg 91.3 > 80 for 300 s: desired 2\u21924\"}],"
        "\"events\":[{\"id\":\"1\",\"time\":\"2026-11-22T05:40:00.001Z\",\"severity\":\"info\","
        "\"type\":\"group.member_added\",\"instance\":\"web-5\",\"message\":\"member 'web-5' "
        "added\",\"group\":\"web\"}]}";

static void test_show_table(void **state) {
        json_t *g = load(group_answer);
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_scaling_group_print(f, CLI_FORMAT_TABLE, g));
        assert_int_equal(r, 0);
        assert_string_equal(out, "FIELD           VALUE\n"
                                 "name            web\n"
                                 "flavor          small\n"
                                 "image           tiny\n"
                                 "spread          true\n"
                                 "priority        500\n"
                                 "min             2\n"
                                 "max             10\n"
                                 "desired         4\n"
                                 "id              4b81\n"
                                 "created         2026-11-22T05:36:33.062Z\n"
                                 "server_group    ffbd\n"
                                 "user_data_size  18\n"
                                 "\n"
                                 "MEMBER  STATUS    HOST   LEAVING\n"
                                 "web-1   running   node1  false\n"
                                 "web-5   building  -      false\n"
                                 "\n"
                                 "POLICY  CONDITION              ADJUST  COOLDOWN  VALUE  HELD  COOLDOWN_LEFT\n"
                                 "out     cpu avg > 80 for 300s  +2      300s      91.25  42s   13s\n"
                                 "in      cpu avg < 20 for 600s  -1      300s      -      -     -\n"
                                 "\n"
                                 "TIME                      POLICY  FROM  TO  REASON\n"
                                 "2026-11-22T05:40:00.000Z  out     2     4   "
                                 "out: cpu avg 91.3 > 80 for 300 s: desired 2\u21924\n"
                                 "\n"
                                 "TIME                      TYPE                INSTANCE  MESSAGE\n"
                                 "2026-11-22T05:40:00.001Z  group.member_added  web-5     member 'web-5' added\n");
        free(out);
        json_decref(g);
}

/* A group tided has not filled in (no lists): every table is there, empty. */
static void test_show_table_empty_lists(void **state) {
        json_t *g = load("{\"name\":\"web\",\"min\":0}");
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_scaling_group_print(f, CLI_FORMAT_TABLE, g));
        assert_int_equal(r, 0);
        assert_string_equal(out, "FIELD  VALUE\n"
                                 "name   web\n"
                                 "min    0\n"
                                 "\n"
                                 "MEMBER  STATUS  HOST  LEAVING\n"
                                 "\n"
                                 "POLICY  CONDITION  ADJUST  COOLDOWN  VALUE  HELD  COOLDOWN_LEFT\n"
                                 "\n"
                                 "TIME  POLICY  FROM  TO  REASON\n"
                                 "\n"
                                 "TIME  TYPE  INSTANCE  MESSAGE\n");
        free(out);
        json_decref(g);
}

static void test_show_json_as_is(void **state) {
        json_t *g = load("{\"name\":\"web\",\"members\":[]}");
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_scaling_group_print(f, CLI_FORMAT_JSON, g));
        assert_int_equal(r, 0);
        assert_string_equal(out, "{\n  \"name\": \"web\",\n  \"members\": []\n}\n");
        free(out);
        json_decref(g);
}

static void test_show_not_an_object(void **state) {
        json_t *g = load("[1]");
        char *out = NULL;
        int r;
        CAPTURE(out, r = cli_scaling_group_print(f, CLI_FORMAT_TABLE, g));
        assert_int_equal(r, -EINVAL);
        free(out);
        json_decref(g);
}

/* The words of a verb, split at its one space ("policy add"), into buf. */
static int verb_words(const char *verb, char buf[2][32], char **ret) {
        size_t n = strcspn(verb, " ");
        snprintf(buf[0], sizeof buf[0], "%.*s", (int) n, verb);
        ret[0] = buf[0];
        if (!verb[n])
                return 1;
        snprintf(buf[1], sizeof buf[1], "%s", verb + n + 1);
        ret[1] = buf[1];
        return 2;
}

static void test_group_is_the_old_name_of_scaling_group(void **state) {
        assert_string_equal(cli_noun_resolve("group"), "scaling-group");
        assert_string_equal(cli_noun_resolve("scaling-group"), "scaling-group");
        /* Server groups are another thing, and no noun is itself an old name. */
        assert_string_equal(cli_noun_resolve("server-group"), "server-group");
        assert_string_equal(cli_noun_resolve("groups"), "groups");
        for (size_t i = 0; i < cli_n_noun_aliases; i++) {
                assert_true(cli_noun_exists(cli_noun_aliases[i].noun));
                assert_false(cli_noun_exists(cli_noun_aliases[i].alias));
        }
}

/* Every scaling-group command, looked up as `tide group VERB` is (the noun resolved as run()
 * resolves it), is the very row of `tide scaling-group VERB`. */
static void test_group_finds_every_scaling_group_command(void **state) {
        size_t n = 0;
        for (size_t i = 0; i < cli_n_commands; i++) {
                if (!streq(cli_commands[i].noun, "scaling-group"))
                        continue;
                char buf[2][32], *words[2];
                int nwords = verb_words(cli_commands[i].verb, buf, words), took = 0;
                const struct cli_command *c = cli_command_find(cli_commands, cli_n_commands, cli_noun_resolve("group"),
                                                               nwords, words, &took);
                assert_ptr_equal(c, &cli_commands[i]);
                assert_int_equal(took, nwords);
                n++;
        }
        assert_int_equal(n, 7); /* create list show set delete, policy add, policy delete */
        char buf[2][32], *words[2];
        int took;
        verb_words("create", buf, words);
        assert_null(cli_command_find(cli_commands, cli_n_commands, "group", 1, words, &took));
}

/* `tide group create` parses its options as `tide scaling-group create` does. */
static void test_group_create_parses_as_scaling_group_create(void **state) {
        char buf[2][32], *words[2];
        int took;
        verb_words("create", buf, words);
        const struct cli_command *c = cli_command_find(cli_commands, cli_n_commands, cli_noun_resolve("group"), 1,
                                                       words, &took);
        assert_non_null(c);
        struct cli_args a;
        parse(c, &a, "create", "web", "--flavor", "small", "--image", "tiny", "--min", "2", "--no-spread", NULL);
        assert_json(cli_scaling_group_body(&a, false),
                    "{\"flavor\":\"small\",\"image\":\"tiny\",\"min\":2,\"name\":\"web\","
                    "\"spread\":false}");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_body_sends_what_was_given),
                cmocka_unit_test(test_create_body_every_option),
                cmocka_unit_test(test_create_body_default_sends_nothing),
                cmocka_unit_test(test_create_body_not_utf8),
                cmocka_unit_test(test_set_body_sizes_only),
                cmocka_unit_test(test_policy_body),
                cmocka_unit_test(test_condition),
                cmocka_unit_test(test_show_table),
                cmocka_unit_test(test_show_table_empty_lists),
                cmocka_unit_test(test_show_json_as_is),
                cmocka_unit_test(test_show_not_an_object),
                cmocka_unit_test(test_group_is_the_old_name_of_scaling_group),
                cmocka_unit_test(test_group_finds_every_scaling_group_command),
                cmocka_unit_test(test_group_create_parses_as_scaling_group_create),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
