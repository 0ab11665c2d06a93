/* Unit tests of the drain controller (ctl_drain.h) on a real SQLite store, its pass stepped by
 * hand and migrations ended by hand (sched_migrate_finish, as the agents would): a few at a
 * time, highest priority first; what cannot move (no host fits, not running, a failed move) is
 * reported with its reason and stays; done when the host is empty; undrain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "ctl/ctl_drain.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched_migrate.h"
#include "sched/sched_store.h"
#include "store/store_backend.h"

struct fixture {
        char *dir, *url;
        struct store *s;
        int64_t now;
};

static void put(struct store *s, const char *key, const char *value) {
        int r = store_put(s, key, value, 0, NULL);
        if (r < 0)
                fail_msg("put %s: %s", key, tide_strerror(r));
}

static void put_host(struct store *s, const char *name, int cpus, int64_t mem_mib) {
        _cleanup_free_ char *list = xasprintf("0-%d", cpus - 1), *uri = xasprintf("sim:///%s", name);
        _cleanup_json_ json_t *rec = json_pack("{s:s, s:i, s:I, s:i, s:s, s:s, s:[{s:i, s:s, s:I, s:i}]}", "name", name,
                                               "cpus", cpus, "mem_mib", (json_int_t) mem_mib, "disk_gib", 1000,
                                               "hypervisor", "sim", "uri", uri, "numa", "id", 0, "cpus", list,
                                               "mem_mib", (json_int_t) mem_mib, "hugepages_mib", 0);
        _cleanup_free_ char *key = xasprintf(MODEL_KEY_HOSTS "%s", name), *value = tide_json_dump(rec);
        _cleanup_free_ char *live = xasprintf(MODEL_KEY_HOSTLIVE "%s", name);
        put(s, key, value);
        put(s, live, "up");
}

static int setup(void **state) {
        struct fixture *f = xcalloc(1, sizeof *f);
        const char *tmp = getenv("TMPDIR");
        f->dir = xasprintf("%s/tide-test-ctl-drain-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        f->url = xasprintf("sqlite:%s/store.db", f->dir);
        assert_int_equal(store_open(f->url, &f->s), 0);
        put_host(f->s, "h1", 8, 16384);
        put_host(f->s, "h2", 8, 4096);
        f->now = INT64_C(1800000000000);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        store_free(f->s);
        (void) rm_rf(f->dir);
        free(f->dir);
        free(f->url);
        free(f);
        return 0;
}

struct status {
        enum model_instance_status status;
        enum model_instance_desired desired;
};

static int set_status(json_t *inst, void *userdata) {
        struct status *st = userdata;
        model_instance_set_status(inst, st->status);
        model_instance_set_desired(inst, st->desired);
        model_instance_set_task(inst, MODEL_TASK_NONE);
        return MODEL_CHANGE_WRITE;
}

/* An instance placed on h1 with that priority, running (or stopped). */
static void create(struct fixture *f, const char *name, int64_t ram_mib, int priority, bool running) {
        static int seq;
        _cleanup_free_ char *id = xasprintf("00000000-0000-4000-8000-%012d", ++seq);
        _cleanup_json_ json_t *inst = json_pack("{s:s, s:s, s:i, s:I, s:i, s:i, s:[s]}", "id", id, "name", name,
                                                "vcpus", 1, "ram_mib", (json_int_t) ram_mib, "disk_gib", 1, "priority",
                                                priority, "hints", "host=h1");
        _cleanup_free_ char *reason = NULL;
        int r = sched_store_create(f->s, NULL, inst, NULL, &reason);
        if (r < 0)
                fail_msg("placing %s: %s (%s)", name, tide_strerror(r), reason ? reason : "");
        struct status st = { running ? MODEL_INSTANCE_RUNNING : MODEL_INSTANCE_STOPPED,
                             running ? MODEL_DESIRED_RUNNING : MODEL_DESIRED_STOPPED };
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, name, set_status, &st, NULL), MODEL_CHANGE_WRITE);
}

static void pass(struct fixture *f) {
        f->now += CTL_DRAIN_PERIOD_MS;
        struct ctl_pass_ctx ctx = { .store = f->s };
        assert_int_equal(ctl_drain_pass(&ctx, f->now), 0);
}

static json_t *drain_record(struct fixture *f) {
        json_t *rec = NULL;
        int64_t rev = 0;
        assert_int_equal(model_json_get(f->s, MODEL_KEY_DRAIN "h1", &rec, &rev), 0);
        return rec;
}

static bool migrating(struct fixture *f, const char *name) {
        _cleanup_json_ json_t *inst = NULL;
        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, name, &inst, NULL), 0);
        return json_is_object(json_object_get(inst, "migration"));
}

static void end_move(struct fixture *f, const char *name, bool success) {
        _cleanup_json_ json_t *inst = NULL, *result = NULL;
        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, name, &inst, NULL), 0);
        result = success ? NULL : json_pack("{s:s, s:s}", "state", "failed", "error", "target lost");
        assert_int_equal(sched_migrate_finish(f->s, tide_json_str(inst, "id", ""), success, result), 0);
}

static const char *blocked_reason(json_t *rec, const char *name) {
        return tide_json_str(json_object_get(rec, "blocked"), name, "");
}

static bool has_event(struct fixture *f, const char *type) {
        _cleanup_json_ json_t *events = NULL;
        assert_int_equal(model_event_list(f->s, NULL, 1000, &events), 0);
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e)
                if (streq(tide_json_str(e, "type", ""), type))
                        return true;
        return false;
}

/* Two at a time, by priority; a VM no host can take, one that is off and one whose move failed
 * are reported and stay; the rest leaves. */
static void test_drain_incomplete(void **state) {
        struct fixture *f = *state;
        create(f, "low", 256, 100, true);
        create(f, "mid", 256, 500, true);
        create(f, "high", 256, 900, true);
        create(f, "huge", 8000, 500, true); /* h2 holds 4096 * 1.5 = 6144 MiB */
        create(f, "off", 256, 1000, false);
        assert_int_equal(ctl_drain_start(f->s, "h1", 2, f->now, NULL), 0);
        _cleanup_json_ json_t *conf = NULL;
        int64_t rev;
        assert_int_equal(model_json_get(f->s, MODEL_KEY_HOSTCONF "h1", &conf, &rev), 0);
        assert_true(json_is_true(json_object_get(conf, "draining")));

        pass(f);
        assert_true(migrating(f, "high"));
        assert_true(migrating(f, "mid"));
        assert_false(migrating(f, "low"));
        assert_false(migrating(f, "huge"));
        _cleanup_json_ json_t *r1 = drain_record(f);
        assert_string_equal(tide_json_str(r1, "state", ""), "draining");
        assert_non_null(strstr(blocked_reason(r1, "huge"), "no host can take instance 'huge'"));
        assert_non_null(strstr(blocked_reason(r1, "off"), "not running"));
        assert_string_equal(blocked_reason(r1, "low"), "waiting for its turn");
        assert_int_equal(json_array_size(json_object_get(r1, "moving")), 2);
        assert_true(has_event(f, "host.drain_move"));

        /* Nothing changes while both still move. */
        pass(f);
        assert_false(migrating(f, "low"));

        end_move(f, "high", true);
        end_move(f, "mid", false);
        pass(f);
        assert_true(migrating(f, "low"));
        _cleanup_json_ json_t *r2 = drain_record(f);
        assert_non_null(strstr(blocked_reason(r2, "mid"), "target lost"));
        assert_int_equal(json_array_size(json_object_get(r2, "moved")), 1);

        end_move(f, "low", true);
        pass(f);
        _cleanup_json_ json_t *r3 = drain_record(f);
        assert_string_equal(tide_json_str(r3, "state", ""), "incomplete");
        assert_int_equal(json_array_size(json_object_get(r3, "moved")), 2);
        assert_int_equal(json_object_size(json_object_get(r3, "blocked")), 3); /* huge, off, mid */
        assert_false(migrating(f, "mid"));                                     /* a failed drain move is not retried */
        assert_true(has_event(f, "host.drain_incomplete"));

        assert_int_equal(ctl_drain_stop(f->s, "h1"), 0);
        _cleanup_json_ json_t *gone = NULL;
        assert_int_equal(model_json_get(f->s, MODEL_KEY_DRAIN "h1", &gone, &rev), 0);
        assert_int_equal(rev, 0);
        _cleanup_json_ json_t *conf2 = NULL;
        assert_int_equal(model_json_get(f->s, MODEL_KEY_HOSTCONF "h1", &conf2, &rev), 0);
        assert_false(json_is_true(json_object_get(conf2, "draining")));
}

/* Everything moves: done, with an event. */
static void test_drain_done(void **state) {
        struct fixture *f = *state;
        create(f, "a", 256, 500, true);
        create(f, "b", 256, 700, true);
        create(f, "c", 256, 600, true);
        assert_int_equal(ctl_drain_start(f->s, "h1", 1, f->now, NULL), 0);
        const char *order[] = { "b", "c", "a" };
        for (size_t i = 0; i < 3; i++) {
                pass(f);
                for (size_t k = 0; k < 3; k++)
                        assert_int_equal(migrating(f, order[k]), k == i);
                end_move(f, order[i], true);
        }
        pass(f);
        _cleanup_json_ json_t *rec = drain_record(f);
        assert_string_equal(tide_json_str(rec, "state", ""), "done");
        assert_int_equal(json_array_size(json_object_get(rec, "moved")), 3);
        assert_true(has_event(f, "host.drained"));
        assert_int_equal(ctl_drain_start(f->s, "h1", CTL_DRAIN_CONCURRENCY_MAX + 1, f->now, NULL), TIDE_E_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_drain_incomplete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_drain_done, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
