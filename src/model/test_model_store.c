/* Unit tests of the model's store I/O on a real SQLite store in $TMPDIR: the read-modify-write
 * helpers (model_obj_modify, model_json_modify, model_merge_change). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"

struct fixture {
        char *dir;
        struct store *s;
};

static int setup(void **state) {
        struct fixture *f = xcalloc(1, sizeof *f);
        const char *tmp = getenv("TMPDIR");
        f->dir = xasprintf("%s/tide-test-model-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        _cleanup_free_ char *url = xasprintf("sqlite:%s/store.db", f->dir);
        assert_int_equal(store_open(url, &f->s), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        store_free(f->s);
        (void) rm_rf(f->dir);
        free(f->dir);
        free(f);
        return 0;
}

/* Stores instance "web" with a fresh id; ret_id gets the id. */
static void create_instance(struct store *s, char **ret_id) {
        char *id = id_new_uuid();
        _cleanup_json_ json_t *inst = json_pack("{s:s, s:s, s:s, s:n}", "id", id, "name", "web", "status", "running",
                                                "task");
        assert_int_equal(model_obj_create(s, MODEL_INSTANCE, inst, NULL), 0);
        *ret_id = id;
}

struct counting {
        struct store *s;
        const char *key; /* written behind the modify's back while interfere > 0 */
        int interfere;
        int calls;
        int answer;
};

/* Counts its calls and sets "n"; while interfere lasts it first rewrites the object in the
 * store, so that the compare-and-swap to come loses. */
static int count_change(json_t *o, void *userdata) {
        struct counting *c = userdata;
        c->calls++;
        if (c->interfere > 0) {
                c->interfere--;
                _cleanup_free_ char *value = tide_json_dump(o);
                assert_int_equal(store_put(c->s, c->key, value, 0, NULL), 0);
        }
        json_object_set_new(o, "n", json_integer(c->calls));
        return c->answer;
}

static void modify_writes_and_stamps_updated(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *id = NULL;
        create_instance(f->s, &id);
        struct counting c = { .s = f->s };
        _cleanup_json_ json_t *o = NULL, *stored = NULL;
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, "web", count_change, &c, &o), MODEL_CHANGE_WRITE);
        assert_int_equal(c.calls, 1);
        assert_int_equal(tide_json_int(o, "n", 0), 1);
        assert_non_null(tide_json_str(o, "updated", NULL));
        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, id, &stored, NULL), 0);
        assert_int_equal(tide_json_int(stored, "n", 0), 1);
}

static void modify_starts_again_after_a_lost_race(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *id = NULL;
        create_instance(f->s, &id);
        _cleanup_free_ char *key = model_obj_key(MODEL_INSTANCE, id);
        struct counting c = { .s = f->s, .key = key, .interfere = 3 };
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, id, count_change, &c, NULL), MODEL_CHANGE_WRITE);
        assert_int_equal(c.calls, 4);
        _cleanup_json_ json_t *stored = NULL;
        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, id, &stored, NULL), 0);
        assert_int_equal(tide_json_int(stored, "n", 0), 4);
}

static void modify_gives_up_after_its_retry_limit(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *id = NULL;
        create_instance(f->s, &id);
        _cleanup_free_ char *key = model_obj_key(MODEL_INSTANCE, id);
        struct counting c = { .s = f->s, .key = key, .interfere = MODEL_MODIFY_RETRIES + 10 };
        json_t *o = NULL;
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, id, count_change, &c, &o), TIDE_E_CONFLICT);
        assert_int_equal(c.calls, MODEL_MODIFY_RETRIES);
        assert_null(o);
}

static void modify_keeps_or_fails_without_writing(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *id = NULL;
        create_instance(f->s, &id);
        int64_t rev0, rev;
        _cleanup_json_ json_t *o = NULL, *kept = NULL, *stored = NULL;
        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, id, &o, &rev0), 0);
        struct counting c = { .s = f->s, .answer = MODEL_CHANGE_KEEP };
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, id, count_change, &c, &kept), MODEL_CHANGE_KEEP);
        assert_int_equal(tide_json_int(kept, "n", 0), 1); /* what change made of it, unwritten */
        c.answer = TIDE_E_INVALID;
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, id, count_change, &c, NULL), TIDE_E_INVALID);
        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, id, &stored, &rev), 0);
        assert_int_equal(rev, rev0);
        assert_null(json_object_get(stored, "n"));
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, "nobody", count_change, &c, NULL), TIDE_E_NOT_FOUND);
}

static void mark_deleting_through_modify(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *id = NULL;
        create_instance(f->s, &id);
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, id, model_instance_mark_deleting, NULL, NULL),
                         MODEL_CHANGE_WRITE);
        _cleanup_json_ json_t *stored = NULL;
        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, id, &stored, NULL), 0);
        assert_int_equal(model_instance_get_desired(stored), MODEL_DESIRED_DELETED);
        assert_int_equal(model_instance_get_status(stored), MODEL_INSTANCE_DELETING);
        assert_string_equal(tide_json_str(stored, "task", ""), "deleting");
}

static void json_modify_creates_an_absent_key_and_retries(void **state) {
        struct fixture *f = *state;
        const char *key = "/tide/test/settings";
        struct counting c = { .s = f->s, .key = key, .interfere = 1 };
        _cleanup_json_ json_t *o = NULL, *stored = NULL;
        /* The first round finds no key and loses the create to the interfering put. */
        assert_int_equal(model_json_modify(f->s, key, count_change, &c, &o), MODEL_CHANGE_WRITE);
        assert_int_equal(c.calls, 2);
        assert_null(json_object_get(o, "updated"));
        int64_t rev;
        assert_int_equal(model_json_get(f->s, key, &stored, &rev), 0);
        assert_true(rev > 0);
        assert_int_equal(tide_json_int(stored, "n", 0), 2);
}

/* A merge change writes the merged settings; a refused body writes nothing and says why. */
static void merge_change_merges_or_refuses(void **state) {
        struct fixture *f = *state;
        const char *key = "/tide/hostconf/h1";
        _cleanup_json_ json_t *ok = json_pack("{s:f, s:{s:s}}", "cpu_ratio", 2.0, "labels", "zone", "a");
        struct model_merge_change c = { .merge = model_host_config_merge, .body = ok };
        _cleanup_json_ json_t *got = NULL;
        assert_int_equal(model_json_modify(f->s, key, model_merge_change, &c, &got), MODEL_CHANGE_WRITE);
        assert_null(c.err);
        assert_true(json_real_value(json_object_get(got, "cpu_ratio")) == 2.0);
        assert_string_equal(tide_json_str(json_object_get(got, "labels"), "zone", ""), "a");
        int64_t rev0 = 0, rev1 = 0;
        _cleanup_json_ json_t *before = NULL, *after = NULL;
        assert_int_equal(model_json_get(f->s, key, &before, &rev0), 0);

        _cleanup_json_ json_t *bad = json_pack("{s:f}", "cpu_ratio", -1.0);
        struct model_merge_change b = { .merge = model_host_config_merge, .body = bad };
        assert_true(model_json_modify(f->s, key, model_merge_change, &b, NULL) < 0);
        assert_non_null(b.err);
        free(b.err);
        assert_int_equal(model_json_get(f->s, key, &after, &rev1), 0);
        assert_int_equal(rev1, rev0);
        assert_true(json_equal(before, after));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(modify_writes_and_stamps_updated, setup, teardown),
                cmocka_unit_test_setup_teardown(modify_starts_again_after_a_lost_race, setup, teardown),
                cmocka_unit_test_setup_teardown(modify_gives_up_after_its_retry_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(modify_keeps_or_fails_without_writing, setup, teardown),
                cmocka_unit_test_setup_teardown(mark_deleting_through_modify, setup, teardown),
                cmocka_unit_test_setup_teardown(json_modify_creates_an_absent_key_and_retries, setup, teardown),
                cmocka_unit_test_setup_teardown(merge_change_merges_or_refuses, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
