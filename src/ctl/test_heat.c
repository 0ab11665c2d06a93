/* Unit tests of the Heat translation (heat.h).
 *
 * Golden cases: each tests/heat/<case>.yaml is translated for the stack "web" with the
 * --parameter values of <case>.params (a JSON object of strings; none when absent), and the
 * result must equal <case>.expected: {"groups": [...]} or {"error": MESSAGE}, compared as JSON
 * (exactly: integers are not reals). Every group body must also pass the model's validation of
 * POST /v1/scaling-groups. With TIDE_GOLDEN_UPDATE=1 the expected files are rewritten.
 *
 * The tests below them cover what files cannot show: the stack's name, the caller's parameters,
 * limits, ownership on failure. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/golden.h"
#include "common/util.h"
#include "ctl/heat.h"
#include "model/model.h"

#ifndef TIDE_HEAT_CASES_DIR
#error "TIDE_HEAT_CASES_DIR must name tests/heat"
#endif

/* heat.c keeps its own copies of the model's limits; they must agree. */
_Static_assert(HEAT_GROUP_NAME_MAX == MODEL_NAME_MAX - 5, "group name limit");

/* Runs heat_translate; returns {"groups"} or {"error"} (and checks the contract either way). */
static json_t *run(const char *yaml, json_t *params, const char *stack) {
        json_t *out = (json_t *) 0x1; /* must stay untouched on failure */
        char *err = NULL;
        int r = heat_translate(yaml, strlen(yaml), params, stack, &out, &err);
        if (r < 0) {
                assert_int_equal(r, TIDE_E_INVALID);
                assert_ptr_equal(out, (json_t *) 0x1);
                assert_non_null(err);
                json_t *e = json_pack("{s:s}", "error", err);
                free(err);
                return e;
        }
        assert_int_equal(r, 0);
        assert_null(err);
        assert_true(json_is_array(json_object_get(out, "groups")));
        return out;
}

static const char *error_of(json_t *res) {
        return json_string_value(json_object_get(res, "error"));
}

/* Every body is one POST /v1/scaling-groups accepts. */
static bool model_accepts(const char *name, json_t *res) {
        size_t i;
        json_t *body;
        bool ok = true;
        json_array_foreach(json_object_get(res, "groups"), i, body) {
                json_t *g = NULL;
                char *err = NULL;
                if (model_scaling_group_from_request(body, &g, &err) < 0) {
                        printf("%s: group %zu is refused by the model: %s\n", name, i, err);
                        ok = false;
                }
                free(err);
                json_decref(g);
        }
        return ok;
}

/* A case: <case>.yaml with <case>.params (--parameter values, optional) in the stack "web"; its
 * text is the answer, indented JSON. A translated group the model refuses counts as a failure
 * (userdata: the count). */
static char *golden_case(const char *path, const char *name, void *userdata) {
        int *refused = userdata;
        _cleanup_free_ char *params_path = xasprintf("%.*s.params", (int) (strlen(path) - 5), path);
        _cleanup_free_ char *yaml = NULL;
        size_t len;
        if (read_file(path, HEAT_TEMPLATE_MAX, &yaml, &len) < 0)
                fail_msg("reading %s", path);
        json_error_t jerr;
        json_t *params = NULL;
        if (access(params_path, F_OK) == 0 && !(params = json_load_file(params_path, 0, &jerr)))
                fail_msg("%s: %s (line %d)", params_path, jerr.text, jerr.line);
        json_t *got = run(yaml, params, "web");
        json_decref(params);
        if (!error_of(got) && !model_accepts(name, got))
                (*refused)++;
        _cleanup_free_ char *g = json_dumps(got, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(got);
        return xasprintf("%s\n", g);
}

static void every_case_translates_as_expected(void **state) {
        int refused = 0;
        assert_int_equal(golden_run(TIDE_HEAT_CASES_DIR, ".yaml", 20, golden_case, &refused), 0);
        assert_int_equal(refused, 0);
}

/* A template with one group (resource "grp") whose policy is parameterised. */
static char *one_group(const char *extra_params, const char *user_data) {
        return xasprintf("heat_template_version: 2018-08-31\n"
                         "parameters:\n"
                         "  flavor: {type: string, default: m1.small}\n"
                         "%s"
                         "resources:\n"
                         "  grp:\n"
                         "    type: OS::Heat::AutoScalingGroup\n"
                         "    properties:\n"
                         "      min_size: 1\n"
                         "      max_size: 4\n"
                         "      resource:\n"
                         "        type: OS::Nova::Server\n"
                         "        properties:\n"
                         "          image: cirros\n"
                         "          flavor: {get_param: flavor}\n"
                         "          user_data: %s\n",
                         extra_params ? extra_params : "", user_data ? user_data : "''");
}

static void group_is_named_stack_dash_resource_up_to_58(void **state) {
        _cleanup_free_ char *t = one_group(NULL, NULL);
        /* "grp" and the dash take 4: a 54-character stack makes exactly 58. */
        char stack[64];
        memset(stack, 's', 54);
        stack[54] = 0;
        json_t *ok = run(t, NULL, stack);
        assert_null(error_of(ok));
        assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(json_object_get(ok, "groups"), 0),
                                                                  "name"))),
                         58);
        json_decref(ok);
        stack[54] = 's';
        stack[55] = 0;
        json_t *bad = run(t, NULL, stack);
        assert_non_null(strstr(error_of(bad), "line 5: resource 'grp': the group's name"));
        assert_non_null(strstr(error_of(bad), "has 59 characters; at most 58"));
        json_decref(bad);
}

static void stack_name_must_be_a_tide_name(void **state) {
        _cleanup_free_ char *t = one_group(NULL, NULL);
        const char *bad[] = { "", "-web", "web stack", "web/1" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_t *r = run(t, NULL, bad[i]);
                assert_non_null(strstr(error_of(r), "the stack's name must be"));
                json_decref(r);
        }
}

static void parameters_override_defaults_and_must_be_strings(void **state) {
        _cleanup_free_ char *t = one_group(NULL, NULL);
        json_t *p = json_pack("{s:s}", "flavor", "m1.large");
        json_t *r = run(t, p, "web");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "groups"), 0),
                                                              "flavor")),
                            "m1.large");
        json_decref(r);
        json_decref(p);

        p = json_pack("{s:i}", "flavor", 2);
        r = run(t, p, "web");
        assert_string_equal(error_of(r), "--parameter flavor: the value must be a string");
        json_decref(r);
        json_decref(p);

        p = json_pack("{s:s, s:s}", "flavor", "m1.large", "flavour", "x");
        r = run(t, p, "web");
        assert_string_equal(error_of(r), "unknown parameter 'flavour': the template declares flavor");
        json_decref(r);
        json_decref(p);
}

static void number_parameters_are_checked(void **state) {
        _cleanup_free_ char *t = one_group("  size: {type: number, default: 2}\n", NULL);
        json_t *p = json_pack("{s:s}", "size", "two");
        json_t *r = run(t, p, "web");
        assert_string_equal(error_of(r), "parameter 'size' is a number: got 'two'");
        json_decref(r);
        json_decref(p);
}

static void str_replace_prefers_longer_keys_and_does_not_rescan(void **state) {
        _cleanup_free_ char *t = one_group("  greeting: {type: string, default: hello}\n",
                                           "{str_replace: {template: '$a $ab $stack', params: {$a: '$ab', $ab: "
                                           "{get_param: greeting}, $stack: {get_param: OS::stack_name}}}}");
        json_t *r = run(t, NULL, "web");
        assert_null(error_of(r));
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "groups"), 0),
                                                              "user_data")),
                            "$ab hello web");
        json_decref(r);
}

static void str_replace_strict_wants_every_key_used(void **state) {
        _cleanup_free_ char *t = one_group(NULL, "{str_replace_strict: {template: 'x=$x', params: {$x: 1, $y: 2}}}");
        json_t *r = run(t, NULL, "web");
        assert_string_equal(error_of(r), "line 15: resource 'grp': 'user_data': str_replace_strict's param '$y' is not "
                                         "in the template");
        json_decref(r);
}

static void self_referencing_anchor_is_refused_not_followed(void **state) {
        _cleanup_free_ char *t = one_group(NULL, "&ud {str_replace: {template: *ud, params: {}}}");
        json_t *r = run(t, NULL, "web");
        assert_non_null(strstr(error_of(r), "functions nested more than 8 deep"));
        json_decref(r);
}

static void every_hot_version_is_accepted(void **state) {
        const char *v[] = { "2013-05-23",   "2014-10-16", "2015-04-30", "2015-10-15", "2016-04-08", "2016-10-14",
                            "'2017-02-24'", "2017-09-01", "2018-03-02", "2018-08-31", "2021-04-16", "newton",
                            "ocata",        "pike",       "queens",     "rocky",      "wallaby" };
        _cleanup_free_ char *base = one_group(NULL, NULL);
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                _cleanup_free_ char *t = xasprintf("heat_template_version: %s\n%s", v[i], strchr(base, '\n') + 1);
                json_t *r = run(t, NULL, "web");
                if (error_of(r))
                        fail_msg("%s: %s", v[i], error_of(r));
                json_decref(r);
        }
        _cleanup_free_ char *t = xasprintf("heat_template_version: 2012-12-12\n%s", strchr(base, '\n') + 1);
        json_t *r = run(t, NULL, "web");
        assert_non_null(strstr(error_of(r), "line 1: heat_template_version '2012-12-12' is not a HOT version"));
        json_decref(r);
}

static void one_document_only(void **state) {
        _cleanup_free_ char *base = one_group(NULL, NULL);
        _cleanup_free_ char *t = xasprintf("%s---\nresources: {}\n", base);
        json_t *r = run(t, NULL, "web");
        assert_string_equal(error_of(r), "line 17: a template is one YAML document; a second one starts here");
        json_decref(r);
}

static void empty_and_oversized_templates_are_refused(void **state) {
        json_t *r = run("", NULL, "web");
        assert_string_equal(error_of(r), "the template is empty");
        json_decref(r);
        r = run("# only a comment\n", NULL, "web");
        assert_string_equal(error_of(r), "the template is empty");
        json_decref(r);

        json_t *out = NULL;
        char *err = NULL;
        _cleanup_free_ char *big = xmalloc(HEAT_TEMPLATE_MAX + 2);
        memset(big, '#', HEAT_TEMPLATE_MAX + 1);
        big[HEAT_TEMPLATE_MAX + 1] = 0;
        assert_int_equal(heat_translate(big, HEAT_TEMPLATE_MAX + 1, NULL, "web", &out, &err), TIDE_E_INVALID);
        assert_null(out);
        assert_string_equal(err, "the template must be at most 1048576 bytes");
        free(err);
}

static void text_need_not_be_nul_terminated(void **state) {
        _cleanup_free_ char *t = one_group(NULL, NULL);
        size_t len = strlen(t);
        char *copy = xmalloc(len); /* exactly len bytes: valgrind sees any read past them */
        memcpy(copy, t, len);
        json_t *out = NULL;
        char *err = NULL;
        assert_int_equal(heat_translate(copy, len, NULL, "web", &out, &err), 0);
        assert_null(err);
        json_decref(out);
        free(copy);
}

static void nul_inside_a_string_is_refused(void **state) {
        _cleanup_free_ char *t = one_group(NULL, "\"a\\0b\"");
        json_t *r = run(t, NULL, "web");
        assert_string_equal(error_of(r), "line 15: a NUL character in a string");
        json_decref(r);
}

static void invalid_utf8_names_its_line(void **state) {
        _cleanup_free_ char *t = one_group(NULL, "\"caf\xe9\"");
        json_t *r = run(t, NULL, "web");
        assert_non_null(strstr(error_of(r), "line 15: YAML syntax: invalid"));
        json_decref(r);
}

static void a_group_has_at_most_16_policies(void **state) {
        struct strbuf b = STRBUF_INIT(0);
        _cleanup_free_ char *base = one_group(NULL, NULL);
        strbuf_puts(&b, base);
        for (int i = 1; i <= 17; i++)
                strbuf_printf(&b,
                              "  p%d:\n"
                              "    type: OS::Heat::ScalingPolicy\n"
                              "    properties: {adjustment_type: exact_capacity, scaling_adjustment: 2, "
                              "auto_scaling_group_id: {get_resource: grp}}\n"
                              "  a%d:\n"
                              "    type: OS::Aodh::Alarm\n"
                              "    properties: {meter_name: cpu_util, threshold: %d, comparison_operator: gt, "
                              "alarm_actions: [{get_attr: [p%d, alarm_url]}]}\n",
                              i, i, i, i);
        json_t *r = run(strbuf_str(&b), NULL, "web");
        assert_string_equal(error_of(r), "line 112: resource 'grp': a group has at most 16 policies");
        json_decref(r);
        strbuf_clear(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(every_case_translates_as_expected),
                cmocka_unit_test(group_is_named_stack_dash_resource_up_to_58),
                cmocka_unit_test(stack_name_must_be_a_tide_name),
                cmocka_unit_test(parameters_override_defaults_and_must_be_strings),
                cmocka_unit_test(number_parameters_are_checked),
                cmocka_unit_test(str_replace_prefers_longer_keys_and_does_not_rescan),
                cmocka_unit_test(str_replace_strict_wants_every_key_used),
                cmocka_unit_test(self_referencing_anchor_is_refused_not_followed),
                cmocka_unit_test(every_hot_version_is_accepted),
                cmocka_unit_test(one_document_only),
                cmocka_unit_test(empty_and_oversized_templates_are_refused),
                cmocka_unit_test(text_need_not_be_nul_terminated),
                cmocka_unit_test(nul_inside_a_string_is_refused),
                cmocka_unit_test(invalid_utf8_names_its_line),
                cmocka_unit_test(a_group_has_at_most_16_policies),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
