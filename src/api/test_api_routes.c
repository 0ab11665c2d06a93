/* Unit tests of the API's route tables (api_internal.h): /v1/groups, the old name of
 * /v1/scaling-groups, answers every request the new name does, with the same handler. No
 * server runs and no handler is called: a route is found as api_dispatch() finds it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "api/api_internal.h"
#include "common/util.h"

/* The handler api_dispatch() would run for method and path: the first route of that method
 * whose pattern matches, in the order of the tables; NULL when none does. */
static api_handler handler_of(const char *method, const char *path) {
        const char *params[4];
        char buf[1024];
        for (size_t t = 0; t < api_n_route_tables; t++)
                for (const struct api_route *r = api_route_tables[t]; r->method; r++)
                        if (streq(r->method, method) && api_route_match(r->pattern, path, params, buf, sizeof buf))
                                return r->handler;
        return NULL;
}

static const struct {
        const char *method, *path; /* under /v1/scaling-groups and, the alias, /v1/groups */
} scaling_group_requests[] = {
        { "GET", "" },
        { "POST", "" },
        { "GET", "/web" },
        { "PATCH", "/web" },
        { "DELETE", "/web" },
        { "POST", "/web/policies" },
        { "DELETE", "/web/policies/out" },
};

static void groups_answers_as_scaling_groups_does(void **state) {
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(scaling_group_requests); i++) {
                const char *m = scaling_group_requests[i].method, *p = scaling_group_requests[i].path;
                _cleanup_free_ char *primary = xasprintf("/v1/scaling-groups%s", p);
                _cleanup_free_ char *alias = xasprintf("/v1/groups%s", p);
                api_handler h = handler_of(m, primary);
                assert_non_null(h);
                assert_ptr_equal(handler_of(m, alias), h);
        }
}

static void the_two_names_take_nothing_else(void **state) {
        (void) state;
        /* No verb the one accepts that the other refuses, and no route under the old name beyond
         * the seven of the new one. */
        assert_null(handler_of("PUT", "/v1/scaling-groups/web"));
        assert_null(handler_of("PUT", "/v1/groups/web"));
        assert_null(handler_of("GET", "/v1/groups/web/policies"));
        assert_null(handler_of("GET", "/v1/scaling-groups/web/policies"));
        size_t primary = 0, alias = 0;
        for (size_t t = 0; t < api_n_route_tables; t++)
                for (const struct api_route *r = api_route_tables[t]; r->method; r++) {
                        primary += startswith(r->pattern, "/v1/scaling-groups");
                        alias += startswith(r->pattern, "/v1/groups");
                }
        assert_int_equal(primary, ELEMENTSOF(scaling_group_requests));
        assert_int_equal(alias, ELEMENTSOF(scaling_group_requests));
}

static void server_groups_are_not_scaling_groups(void **state) {
        (void) state;
        api_handler sg = handler_of("GET", "/v1/server-groups/web");
        assert_non_null(sg);
        assert_true(sg != handler_of("GET", "/v1/scaling-groups/web"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(groups_answers_as_scaling_groups_does),
                cmocka_unit_test(the_two_names_take_nothing_else),
                cmocka_unit_test(server_groups_are_not_scaling_groups),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
