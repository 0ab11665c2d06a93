/* Unit tests of the status the autoscaler publishes to the store for the API
 * (MODEL_KEY_GROUPSTATUS, autoscaler_scaling_group_status) on a real SQLite store: the controller
 * runs every 20 ms on groups without members (min 0), so nothing is placed or measured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "ctl/autoscaler.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "store/store.h"

#define PERIOD_MS 20
#define WAIT_MS 5000

struct fixture {
        char *dir;
        struct store *s;
        struct autoscaler *a;
        struct ctl_runner *runner;
};

static void sleep_ms(int64_t ms) {
        nanosleep(&(struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L }, NULL);
}

static int setup(void **state) {
        struct fixture *f = xcalloc(1, sizeof *f);
        const char *tmp = getenv("TMPDIR");
        f->dir = xasprintf("%s/tide-test-autoscaler-status-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        _cleanup_free_ char *url = xasprintf("sqlite:%s/store.db", f->dir);
        assert_int_equal(store_open(url, &f->s), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        ctl_runner_free(f->runner);
        autoscaler_free(f->a);
        store_free(f->s);
        (void) rm_rf(f->dir);
        free(f->dir);
        free(f);
        return 0;
}

static void start(struct fixture *f) {
        assert_int_equal(autoscaler_new(&(struct autoscaler_config) { .period_ms = PERIOD_MS }, &f->a), 0);
        struct ctl_controller entry = autoscaler_controller(f->a);
        assert_int_equal(ctl_runner_new(&entry, 1, f->s, 0, &f->runner), 0);
        assert_int_equal(ctl_runner_start(f->runner), 0);
}

/* A group record as the API stores it, without members. */
static json_t *put_group(struct fixture *f, const char *name, const char *policies) {
        _cleanup_free_ char *text =
                xasprintf("{\"name\": \"%s\", \"flavor\": \"small\", \"image\": \"img\", \"min\": 0,"
                          " \"max\": 2, \"policies\": %s}",
                          name, policies);
        json_t *body = json_loads(text, 0, NULL), *g = NULL;
        _cleanup_free_ char *err = NULL;
        if (model_scaling_group_from_request(body, &g, &err) < 0)
                fail_msg("group %s: %s", name, err);
        json_decref(body);
        _cleanup_free_ char *id = id_new_uuid();
        json_object_set_new(g, "id", json_string(id));
        assert_int_equal(model_obj_create(f->s, MODEL_SCALING_GROUP, g, NULL), 0);
        return g;
}

static int64_t status_rev(struct fixture *f, const char *group_id) {
        _cleanup_free_ char *key = model_key_groupstatus(group_id);
        struct store_kv kv = {};
        int r = store_get(f->s, key, &kv);
        int64_t rev = r >= 0 ? kv.mod_rev : 0;
        store_kv_clear(&kv);
        return rev;
}

/* Waits until the group's status is there (want true) or gone. */
static void wait_status(struct fixture *f, const char *group_id, bool want) {
        int64_t t0 = mono_ms();
        while ((status_rev(f, group_id) > 0) != want) {
                if (mono_ms() - t0 > WAIT_MS)
                        fail_msg("the status of %s is %s after %d ms", group_id, want ? "not there" : "still there",
                                 WAIT_MS);
                sleep_ms(PERIOD_MS / 2);
        }
}

/* A pass publishes what it saw of each policy: no member measured, so no value and the
 * condition does not hold; the API's form has held_s 0 and the cooldown's last action. Then it
 * is not written again while nothing changes. */
static void published_once_and_read_back(void **state) {
        struct fixture *f = *state;
        json_t *g = put_group(f, "web",
                              "[{\"name\": \"out\", \"metric\": \"cpu\", \"above\": 80, \"adjust\": \"+1\"},"
                              " {\"name\": \"in\", \"metric\": \"cpu\", \"below\": 20, \"adjust\": \"-1\"}]");
        const char *id = tide_json_str(g, "id", "");
        json_t *st = NULL;
        assert_int_equal(autoscaler_scaling_group_status(f->s, id, &st), TIDE_E_NOT_FOUND);
        start(f);
        wait_status(f, id, true);
        int64_t rev = status_rev(f, id);
        assert_int_equal(autoscaler_scaling_group_status(f->s, id, &st), 0);
        json_t *pols = json_object_get(st, "policies");
        assert_int_equal(json_array_size(pols), 2);
        assert_string_equal(tide_json_str(json_array_get(pols, 0), "name", ""), "out");
        assert_string_equal(tide_json_str(json_array_get(pols, 1), "name", ""), "in");
        for (size_t i = 0; i < 2; i++) {
                json_t *p = json_array_get(pols, i);
                assert_true(json_is_null(json_object_get(p, "value")));
                assert_true(json_is_false(json_object_get(p, "holding")));
                assert_true(json_number_value(json_object_get(p, "held_s")) == 0);
                assert_true(json_is_null(json_object_get(p, "last_action_ms")));
        }
        int64_t t = tide_json_int(st, "t_ms", 0);
        assert_true(t > 0 && t <= now_ms());
        json_decref(st);
        sleep_ms(10 * PERIOD_MS);
        assert_int_equal(status_rev(f, id), rev);
        json_decref(g);
}

/* The stored form: since_ms while the condition holds, and held_s is how long it has, now. */
static void held_s_is_from_since_ms(void **state) {
        struct fixture *f = *state;
        const char *id = "00000000-0000-4000-8000-000000000001";
        int64_t since = now_ms() - 4000;
        _cleanup_free_ char *value = xasprintf("{\"policies\": [{\"name\": \"in\", \"value\": 3.5, \"holding\": true,"
                                               " \"since_ms\": %lld, \"last_action_ms\": 1700000000000},"
                                               " {\"name\": \"out\", \"value\": 3.5, \"holding\": false,"
                                               " \"since_ms\": null, \"last_action_ms\": null}], \"t_ms\": 42}",
                                               (long long) since);
        assert_int_equal(store_put(f->s, MODEL_KEY_GROUPSTATUS "00000000-0000-4000-8000-000000000001", value, 0, NULL),
                         0);
        json_t *st;
        assert_int_equal(autoscaler_scaling_group_status(f->s, id, &st), 0);
        json_t *in = json_array_get(json_object_get(st, "policies"), 0),
               *out = json_array_get(json_object_get(st, "policies"), 1);
        assert_true(json_real_value(json_object_get(in, "value")) == 3.5);
        assert_true(json_is_true(json_object_get(in, "holding")));
        double held = json_number_value(json_object_get(in, "held_s"));
        assert_true(held >= 4.0 && held < 5.0);
        assert_int_equal(tide_json_int(in, "last_action_ms", 0), 1700000000000);
        assert_true(json_number_value(json_object_get(out, "held_s")) == 0);
        assert_true(json_is_null(json_object_get(out, "last_action_ms")));
        assert_int_equal(tide_json_int(st, "t_ms", 0), 42);
        json_decref(st);
}

/* A group that goes, one without policies and a status left by an earlier leader for a group
 * that is no more: the next pass deletes their statuses. */
static void statuses_of_groups_gone_are_deleted(void **state) {
        struct fixture *f = *state;
        json_t *g = put_group(f, "web",
                              "[{\"name\": \"out\", \"metric\": \"cpu\", \"above\": 80, \"adjust\": \"+1\"}]");
        json_t *bare = put_group(f, "bare", "[]");
        const char *stale = MODEL_KEY_GROUPSTATUS "00000000-0000-4000-8000-000000000002";
        assert_int_equal(store_put(f->s, stale, "{\"policies\": [], \"t_ms\": 1}", 0, NULL), 0);
        _cleanup_free_ char *bare_key = model_key_groupstatus(tide_json_str(bare, "id", ""));
        assert_int_equal(store_put(f->s, bare_key, "{\"policies\": [], \"t_ms\": 1}", 0, NULL), 0);
        start(f);
        wait_status(f, tide_json_str(g, "id", ""), true);
        wait_status(f, "00000000-0000-4000-8000-000000000002", false);
        wait_status(f, tide_json_str(bare, "id", ""), false);
        assert_int_equal(model_obj_delete(f->s, MODEL_SCALING_GROUP, g, 0), 0);
        wait_status(f, tide_json_str(g, "id", ""), false);
        json_decref(g);
        json_decref(bare);
}

/* The autoscaler stepped on an injected clock through a leader's fenced handle: it publishes
 * while its election holds; once another leader was elected, its pass writes nothing (the
 * store refuses the superseded leader's writes). */
static void superseded_leader_writes_nothing(void **state) {
        struct fixture *f = *state;
        int64_t lease, rev_a;
        assert_int_equal(store_lease_grant(f->s, 60, &lease), 0);
        assert_int_equal(store_create(f->s, MODEL_KEY_LEADER, "{\"host\":\"a\"}", lease, &rev_a), 0);
        struct store *fenced = NULL;
        assert_int_equal(store_fence_new(f->s, MODEL_KEY_LEADER, rev_a, &fenced), 0);
        assert_int_equal(autoscaler_new(&(struct autoscaler_config) { .period_ms = 1000 }, &f->a), 0);
        struct ctl_controller entry = autoscaler_controller(f->a);
        assert_int_equal(ctl_runner_new(&entry, 1, fenced, rev_a, &f->runner), 0);

        json_t *g = put_group(f, "web",
                              "[{\"name\": \"out\", \"metric\": \"cpu\", \"above\": 80, \"adjust\": \"+1\"}]");
        int64_t t = 1700000000000LL;
        (void) ctl_runner_step(f->runner, t);
        assert_true(status_rev(f, tide_json_str(g, "id", "")) > 0);

        /* Another leader: a's lease revoked, b's key created. */
        assert_int_equal(store_lease_revoke(f->s, lease), 0);
        assert_int_equal(store_create(f->s, MODEL_KEY_LEADER, "{\"host\":\"b\"}", 0, NULL), 0);
        json_t *g2 = put_group(f, "api",
                               "[{\"name\": \"out\", \"metric\": \"cpu\", \"above\": 80, \"adjust\": \"+1\"}]");
        (void) ctl_runner_step(f->runner, t + 1000);
        assert_int_equal(status_rev(f, tide_json_str(g2, "id", "")), 0);
        ctl_runner_free(TAKE_PTR(f->runner));
        store_free(fenced);
        json_decref(g);
        json_decref(g2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(published_once_and_read_back, setup, teardown),
                cmocka_unit_test_setup_teardown(held_s_is_from_since_ms, setup, teardown),
                cmocka_unit_test_setup_teardown(superseded_leader_writes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(statuses_of_groups_gone_are_deleted, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
