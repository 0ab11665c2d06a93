/* Unit tests of a live migration's bookkeeping (sched_migrate.h) on a real SQLite store: the
 * target's claim taken with the record, the switch after success and the release after failure,
 * each atomic; the refusals with their reasons; pinned VMs get CPUs on the target; a server
 * group's anti-affinity holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched_migrate.h"
#include "sched/sched_store.h"
#include "store/store_backend.h"

struct fixture {
        char *dir, *url;
        struct store *s;
};

static void put(struct store *s, const char *key, const char *value) {
        int r = store_put(s, key, value, 0, NULL);
        if (r < 0)
                fail_msg("put %s: %s", key, tide_strerror(r));
}

/* A simulated host as its agent registers it, up. */
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
        f->dir = xasprintf("%s/tide-test-sched-migrate-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        f->url = xasprintf("sqlite:%s/store.db", f->dir);
        assert_int_equal(store_open(f->url, &f->s), 0);
        put_host(f->s, "h1", 8, 16384);
        put_host(f->s, "h2", 8, 16384);
        put_host(f->s, "h3", 4, 2048);
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

static int set_running(json_t *inst, void *userdata) {
        model_instance_set_status(inst, MODEL_INSTANCE_RUNNING);
        model_instance_set_task(inst, MODEL_TASK_NONE);
        return MODEL_CHANGE_WRITE;
}

/* Places and stores an instance on host (a hint), running; group may be NULL. */
static void create(struct fixture *f, const char *name, const char *host, int vcpus, int64_t ram_mib,
                   const char *policy, json_t *group) {
        static int seq;
        _cleanup_free_ char *id = xasprintf("00000000-0000-4000-8000-%012d", ++seq);
        _cleanup_free_ char *hint = xasprintf("host=%s", host);
        _cleanup_json_ json_t *inst = json_pack("{s:s, s:s, s:i, s:I, s:i, s:s, s:[s]}", "id", id, "name", name,
                                                "vcpus", vcpus, "ram_mib", (json_int_t) ram_mib, "disk_gib", 1,
                                                "cpu_policy", policy, "hints", hint);
        if (group)
                json_object_set_new(inst, "group_id", json_string(tide_json_str(group, "id", "")));
        _cleanup_free_ char *reason = NULL;
        int r = sched_store_create(f->s, NULL, inst, group, &reason);
        if (r < 0)
                fail_msg("placing %s: %s (%s)", name, tide_strerror(r), reason ? reason : "");
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, name, set_running, NULL, NULL), MODEL_CHANGE_WRITE);
}

static json_t *get(struct fixture *f, const char *name) {
        json_t *inst = NULL;
        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, name, &inst, NULL), 0);
        return inst;
}

/* The used vCPUs and instances in a host's allocation. */
static void assert_alloc(struct fixture *f, const char *host, int64_t vcpus, int64_t instances) {
        _cleanup_free_ char *key = model_key_alloc(host);
        _cleanup_json_ json_t *a = NULL;
        int64_t rev;
        assert_int_equal(model_json_get(f->s, key, &a, &rev), 0);
        if (tide_json_int(a, "vcpus", 0) != vcpus || tide_json_int(a, "instances", 0) != instances) {
                _cleanup_free_ char *text = tide_json_dump(a);
                fail_msg("host %s: allocation %s, wanted %lld vCPUs, %lld instances", host, text, (long long) vcpus,
                         (long long) instances);
        }
}

/* The target's claim comes with the record; success moves the instance and frees the source. */
static void test_begin_and_succeed(void **state) {
        struct fixture *f = *state;
        create(f, "web", "h1", 2, 512, "shared", NULL);
        assert_alloc(f, "h1", 2, 1);
        struct sched_migrate_request req = { .bandwidth_mib_s = 100, .t_request_ms = 1 };
        _cleanup_free_ char *err = NULL;
        _cleanup_json_ json_t *inst = NULL;
        assert_int_equal(sched_migrate_begin(f->s, "web", &req, &inst, &err), 0);
        json_t *m = json_object_get(inst, "migration");
        /* h3 is smaller: spread picks h2. */
        assert_string_equal(tide_json_str(m, "target", ""), "h2");
        assert_string_equal(tide_json_str(m, "source", ""), "h1");
        assert_string_equal(tide_json_str(m, "state", ""), "preparing");
        assert_string_equal(tide_json_str(m, "target_uri", ""), "sim:///h2");
        assert_int_equal(tide_json_int(m, "bandwidth_mib_s", 0), 100);
        assert_alloc(f, "h1", 2, 1);
        assert_alloc(f, "h2", 2, 1);
        /* Twice: refused, nothing more claimed. */
        free(err);
        err = NULL;
        assert_int_equal(sched_migrate_begin(f->s, "web", &req, NULL, &err), TIDE_E_CONFLICT);
        assert_non_null(strstr(err, "already migrating"));
        assert_alloc(f, "h2", 2, 1);

        _cleanup_json_ json_t *result = json_pack("{s:I, s:I}", "downtime_ms", (json_int_t) 12, "total_ms", 800);
        assert_int_equal(sched_migrate_finish(f->s, tide_json_str(inst, "id", ""), true, result), 0);
        _cleanup_json_ json_t *after = get(f, "web");
        assert_string_equal(tide_json_str(after, "host", ""), "h2");
        assert_null(json_object_get(after, "migration"));
        json_t *last = json_object_get(after, "last_migration");
        assert_string_equal(tide_json_str(last, "state", ""), "succeeded");
        assert_int_equal(tide_json_int(last, "downtime_ms", 0), 12);
        assert_alloc(f, "h1", 0, 0);
        assert_alloc(f, "h2", 2, 1);
        /* Finishing again finds nothing to end. */
        assert_int_equal(sched_migrate_finish(f->s, tide_json_str(inst, "id", ""), false, NULL), 0);
        assert_alloc(f, "h2", 2, 1);
}

static int stamp_old(json_t *inst, void *userdata) {
        json_object_set_new(inst, MODEL_LEADER_REV, json_integer(3));
        return MODEL_CHANGE_WRITE;
}

/* A migration the leader asks for (the drain) carries its stamp; one asked by anybody else
 * drops an earlier leader's, so that agents never take it for a superseded leader's work. */
static void test_leader_stamp(void **state) {
        struct fixture *f = *state;
        create(f, "a", "h1", 1, 256, "shared", NULL);
        create(f, "b", "h1", 1, 256, "shared", NULL);
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, "a", stamp_old, NULL, NULL), 0);
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, "b", stamp_old, NULL, NULL), 0);
        struct sched_migrate_request by_leader = { .reason = "drain", .t_request_ms = 1, .leader_rev = 9 };
        struct sched_migrate_request by_user = { .t_request_ms = 1 };
        _cleanup_json_ json_t *a = NULL, *b = NULL;
        assert_int_equal(sched_migrate_begin(f->s, "a", &by_leader, &a, NULL), 0);
        assert_int_equal(sched_migrate_begin(f->s, "b", &by_user, &b, NULL), 0);
        _cleanup_json_ json_t *a_stored = get(f, "a"), *b_stored = get(f, "b");
        assert_int_equal(tide_json_int(a_stored, MODEL_LEADER_REV, 0), 9);
        assert_null(json_object_get(b_stored, MODEL_LEADER_REV));
}

/* A failure (or cancel) gives the target's claim back and leaves the instance on its source. */
static void test_fail_releases_target(void **state) {
        struct fixture *f = *state;
        create(f, "db", "h1", 4, 1024, "shared", NULL);
        struct sched_migrate_request req = { .to = "h2" };
        _cleanup_json_ json_t *inst = NULL;
        assert_int_equal(sched_migrate_begin(f->s, "db", &req, &inst, NULL), 0);
        assert_alloc(f, "h2", 4, 1);
        assert_int_equal(sched_migrate_cancel(f->s, "db", NULL, NULL), 0);
        _cleanup_json_ json_t *cancelled = get(f, "db");
        assert_true(json_is_true(json_object_get(json_object_get(cancelled, "migration"), "cancel")));
        _cleanup_json_ json_t *result = json_pack("{s:s, s:s}", "state", "cancelled", "error", "cancelled by request");
        assert_int_equal(sched_migrate_finish(f->s, tide_json_str(inst, "id", ""), false, result), 0);
        _cleanup_json_ json_t *after = get(f, "db");
        assert_string_equal(tide_json_str(after, "host", ""), "h1");
        assert_null(json_object_get(after, "migration"));
        assert_string_equal(tide_json_str(json_object_get(after, "last_migration"), "state", ""), "cancelled");
        assert_alloc(f, "h1", 4, 1);
        assert_alloc(f, "h2", 0, 0);
        _cleanup_free_ char *err = NULL;
        assert_int_equal(sched_migrate_cancel(f->s, "db", NULL, &err), TIDE_E_CONFLICT);
        assert_non_null(strstr(err, "not migrating"));
}

static void expect_refusal(struct fixture *f, const char *name, const char *to, int error, const char *words) {
        struct sched_migrate_request req = { .to = to };
        _cleanup_free_ char *err = NULL;
        int r = sched_migrate_begin(f->s, name, &req, NULL, &err);
        if (r != error || !err || !strstr(err, words))
                fail_msg("migrate %s to %s: %d (%s), wanted %d with '%s'", name, to ? to : "(any)", r, err ? err : "",
                         error, words);
}

/* Each refusal says why and claims nothing. */
static void test_refusals(void **state) {
        struct fixture *f = *state;
        create(f, "big", "h1", 4, 4096, "shared", NULL);
        expect_refusal(f, "big", "h1", TIDE_E_INVALID, "already runs on 'h1'");
        expect_refusal(f, "big", "nowhere", TIDE_E_NOT_FOUND, "host 'nowhere' is unknown");
        expect_refusal(f, "big", "h3", TIDE_E_NO_HOST, "host 'h3' cannot take instance 'big': rejected by ram");
        expect_refusal(f, "nosuch", NULL, TIDE_E_NOT_FOUND, "nosuch");
        put(f->s, MODEL_KEY_HOSTCONF "h2", "{\"draining\":true}");
        expect_refusal(f, "big", "h2", TIDE_E_CONFLICT, "host 'h2' is draining");
        /* Without h2, only h3 is left and it is too small. */
        expect_refusal(f, "big", NULL, TIDE_E_NO_HOST, "no host can take instance 'big'");
        assert_int_equal(store_delete(f->s, MODEL_KEY_HOSTCONF "h2", NULL), 0);
        assert_int_equal(store_delete(f->s, MODEL_KEY_HOSTLIVE "h2", NULL), 0);
        expect_refusal(f, "big", "h2", TIDE_E_CONFLICT, "host 'h2' is down");
        assert_alloc(f, "h2", 0, 0);
        assert_alloc(f, "h3", 0, 0);
        struct sched_migrate_request bad = { .bandwidth_mib_s = -1 };
        _cleanup_free_ char *err = NULL;
        assert_int_equal(sched_migrate_begin(f->s, "big", &bad, NULL, &err), TIDE_E_INVALID);
}

static int set_stopped(json_t *inst, void *userdata) {
        model_instance_set_status(inst, MODEL_INSTANCE_STOPPED);
        model_instance_set_desired(inst, MODEL_DESIRED_STOPPED);
        return MODEL_CHANGE_WRITE;
}

static void test_not_running(void **state) {
        struct fixture *f = *state;
        create(f, "off", "h1", 1, 256, "shared", NULL);
        assert_int_equal(model_obj_modify(f->s, MODEL_INSTANCE, "off", set_stopped, NULL, NULL), MODEL_CHANGE_WRITE);
        expect_refusal(f, "off", NULL, TIDE_E_CONFLICT, "is not running");
}

/* A dedicated VM gets CPUs of its own on the target; they are booked there. */
static void test_pinned_gets_new_pins(void **state) {
        struct fixture *f = *state;
        create(f, "rt-a", "h2", 2, 512, "dedicated", NULL); /* takes h2's CPUs 0-1 */
        create(f, "rt-b", "h1", 2, 512, "dedicated", NULL);
        struct sched_migrate_request req = { .to = "h2" };
        _cleanup_json_ json_t *inst = NULL;
        assert_int_equal(sched_migrate_begin(f->s, "rt-b", &req, &inst, NULL), 0);
        json_t *pinned = json_object_get(json_object_get(json_object_get(inst, "migration"), "placement"), "pinned");
        assert_int_equal(json_array_size(pinned), 2);
        assert_int_equal(json_integer_value(json_array_get(pinned, 0)), 2);
        assert_int_equal(json_integer_value(json_array_get(pinned, 1)), 3);
        assert_int_equal(sched_migrate_finish(f->s, tide_json_str(inst, "id", ""), true, NULL), 0);
        _cleanup_json_ json_t *after = get(f, "rt-b");
        json_t *now = json_object_get(json_object_get(after, "placement"), "pinned");
        assert_int_equal(json_integer_value(json_array_get(now, 0)), 2);
        _cleanup_free_ char *key = model_key_alloc("h1");
        _cleanup_json_ json_t *a1 = NULL;
        int64_t rev;
        assert_int_equal(model_json_get(f->s, key, &a1, &rev), 0);
        _cleanup_free_ char *text = tide_json_dump(a1);
        /* h1 pins nothing any more. */
        assert_null(strstr(text, "\"pinned\":\"0"));
}

/* Hard anti-affinity: a member never joins another member's host, and the group follows. */
static void test_anti_affinity(void **state) {
        struct fixture *f = *state;
        _cleanup_json_ json_t *group = json_pack("{s:s, s:s, s:s}", "id", "00000000-0000-4000-8000-0000000000aa",
                                                 "name", "spread", "policy", "anti-affinity");
        assert_int_equal(model_obj_create(f->s, MODEL_SERVER_GROUP, group, NULL), 0);
        create(f, "a", "h1", 1, 256, "shared", group);
        create(f, "b", "h2", 1, 256, "shared", group);
        expect_refusal(f, "a", "h2", TIDE_E_NO_HOST, "rejected by affinity");
        struct sched_migrate_request req = {};
        _cleanup_json_ json_t *inst = NULL;
        assert_int_equal(sched_migrate_begin(f->s, "a", &req, &inst, NULL), 0);
        assert_string_equal(tide_json_str(json_object_get(inst, "migration"), "target", ""), "h3");
        assert_int_equal(sched_migrate_finish(f->s, tide_json_str(inst, "id", ""), true, NULL), 0);
        _cleanup_free_ char *gkey = model_key_groupmembers("00000000-0000-4000-8000-0000000000aa");
        _cleanup_json_ json_t *members = NULL;
        int64_t rev;
        assert_int_equal(model_json_get(f->s, gkey, &members, &rev), 0);
        assert_string_equal(tide_json_str(members, tide_json_str(inst, "id", ""), ""), "h3");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_begin_and_succeed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_leader_stamp, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fail_releases_target, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_running, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pinned_gets_new_pins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_anti_affinity, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
