/* Golden-file tests of placement decisions (Pacemaker's scheduler cases).
 *
 * Each tests/sched/<case>.json is {"config":{...}?, "hosts":[...], "requests":[...]}. Requests
 * run in order on one snapshot, each decision claimed before the next. A request may also carry
 *   "group": NAME   — its group_hosts are the hosts of the earlier placed requests of that group
 *   "explain": true — the line gets the explanation of every host too
 * and an item {"release": i} gives back the claim of request i. <case>.expected holds one JSON
 * line per item: the decision, {"error": reason}, or {"released": i}. After every item each
 * host must pass sched_host_check.
 *
 * With TIDE_GOLDEN_UPDATE=1 the expected files are rewritten from what the engine decides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/golden.h"
#include "common/util.h"
#include "sched/sched.h"

#ifndef TIDE_SCHED_GOLDEN_DIR
#error "TIDE_SCHED_GOLDEN_DIR must name tests/sched"
#endif

#define MAX_ITEMS 256

struct item {
        json_t *req_json; /* NULL for a release */
        struct sched_request req;
        struct sched_decision d;
        bool placed, released;
        const char *group;
};

static char *dump(json_t *j) {
        return json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
}

/* Runs one case; returns the expected-file text it produces. */
static char *run_case(const char *path) {
        json_error_t jerr;
        json_t *c = json_load_file(path, 0, &jerr);
        if (!c)
                fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
        struct sched_config cfg;
        char *err = NULL;
        json_t *cj = json_object_get(c, "config");
        if (cj) {
                if (sched_config_from_json(cj, &cfg, &err) < 0)
                        fail_msg("%s: config: %s", path, err);
        } else
                sched_config_default(&cfg);

        json_t *hj = json_object_get(c, "hosts"), *rj = json_object_get(c, "requests");
        assert_true(json_is_array(hj) && json_is_array(rj));
        size_t n = json_array_size(hj), n_items = json_array_size(rj);
        assert_true(n_items <= MAX_ITEMS);
        struct sched_host *hosts = xcalloc(n ? n : 1, sizeof *hosts);
        for (size_t i = 0; i < n; i++)
                if (sched_host_from_json(json_array_get(hj, i), &hosts[i], &err) < 0)
                        fail_msg("%s: host %zu: %s", path, i, err);

        struct item *items = xcalloc(n_items ? n_items : 1, sizeof *items);
        struct strbuf out = STRBUF_INIT(0);
        for (size_t k = 0; k < n_items; k++) {
                json_t *x = json_array_get(rj, k), *line;
                struct item *it = &items[k];
                json_t *rel = json_object_get(x, "release");
                if (rel) {
                        size_t j = (size_t) json_integer_value(rel);
                        if (j >= k || !items[j].placed || items[j].released)
                                fail_msg("%s: item %zu releases %zu, which holds nothing", path, k, j);
                        sched_release(&hosts[items[j].d.host], &items[j].req, &items[j].d);
                        items[j].released = true;
                        line = json_pack("{s:I}", "released", (json_int_t) j);
                } else {
                        it->req_json = x;
                        if (sched_request_from_json(x, &it->req, &err) < 0)
                                fail_msg("%s: request %zu: %s", path, k, err);
                        it->group = json_string_value(json_object_get(x, "group"));
                        const char *members[MAX_ITEMS];
                        size_t n_members = 0;
                        if (it->group) {
                                for (size_t j = 0; j < k; j++)
                                        if (items[j].placed && !items[j].released && items[j].group &&
                                            streq(items[j].group, it->group))
                                                members[n_members++] = hosts[items[j].d.host].name;
                                sched_request_clear(&it->req);
                                it->req.group_hosts = members;
                                it->req.n_group_hosts = n_members;
                        }
                        bool explaining = json_is_true(json_object_get(x, "explain"));
                        struct sched_explain *ex = explaining ? xcalloc(n ? n : 1, sizeof *ex) : NULL;
                        char *reason = NULL;
                        int r = sched_place(&cfg, hosts, n, &it->req, &it->d, ex, &reason);
                        if (r == 0) {
                                line = sched_decision_to_json(hosts, &it->d);
                                sched_claim(&hosts[it->d.host], &it->req, &it->d);
                                it->placed = true;
                        } else {
                                if (r != TIDE_E_NO_HOST && r != TIDE_E_INVALID)
                                        fail_msg("%s: request %zu: %s", path, k, tide_strerror(r));
                                line = json_pack("{s:s}", "error", reason);
                        }
                        free(reason);
                        if (ex)
                                json_object_set_new(line, "explain", sched_explain_to_json(hosts, n, ex));
                        free(ex);
                        /* members[] lives in this block only; the claim is booked already */
                        it->req.group_hosts = NULL;
                        it->req.n_group_hosts = 0;
                }
                char *s = dump(line);
                strbuf_printf(&out, "%s\n", s);
                free(s);
                json_decref(line);
                for (size_t i = 0; i < n; i++) {
                        char *why = NULL;
                        if (sched_host_check(&cfg, &hosts[i], &why) < 0)
                                fail_msg("%s: after item %zu: %s", path, k, why);
                }
        }
        for (size_t k = 0; k < n_items; k++)
                sched_request_clear(&items[k].req);
        free(items);
        free(hosts);
        json_decref(c);
        return strbuf_steal(&out);
}

static char *golden_case(const char *path, const char *name, void *userdata) {
        return run_case(path);
}

static void every_case_decides_as_expected(void **state) {
        assert_int_equal(golden_run(TIDE_SCHED_GOLDEN_DIR, ".json", 12, golden_case, NULL), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(every_case_decides_as_expected),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
