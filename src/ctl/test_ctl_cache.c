/* Unit tests of the watch-fed cache (ctl_cache.h) on a real store: the first sync reads the
 * prefix, later ones apply puts and deletes, keys outside the prefix stay out, another handle's
 * (another process's) writes arrive, and a watch left behind by compaction reads the prefix again
 * and ends up right (SQLite only: its history is cut short here). The store is SQLite unless
 * TIDE_TEST_STORE=etcd: then a one-member etcd this program starts (exit 77 without etcd), its
 * keys under /tide/ deleted after each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "ctl/ctl_cache.h"
#include "store/store.h"
#include "store/store_backend.h" /* store_sqlite_set_history_keep */
#include "store/store_etcd_launch.h"

static struct store_etcd_launch *etcd; /* TIDE_TEST_STORE=etcd */

struct fixture {
        char *dir;
        struct store *s, *other;
        struct ctl_cache *c;
};

static int setup(void **state) {
        struct fixture *f = xcalloc(1, sizeof *f);
        const char *tmp = getenv("TMPDIR");
        f->dir = xasprintf("%s/tide-test-ctl-cache-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        _cleanup_free_ char *url = etcd ? xstrdup(store_etcd_launch_url(etcd))
                                        : xasprintf("sqlite:%s/store.db", f->dir);
        assert_int_equal(store_open(url, &f->s), 0);
        assert_int_equal(store_open(url, &f->other), 0);
        f->c = ctl_cache_new(f->s, "/tide/x/");
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        ctl_cache_free(f->c);
        if (etcd) {
                struct store_op op = { .type = STORE_OP_DELETE_PREFIX, .key = "/tide/" };
                struct store_txn txn = { .success = &op, .n_success = 1 };
                assert_int_equal(store_txn(f->s, &txn, NULL, NULL), 0);
        }
        store_free(f->other);
        store_free(f->s);
        (void) rm_rf(f->dir);
        free(f->dir);
        free(f);
        return 0;
}

static void put(struct store *s, const char *key, const char *value) {
        assert_int_equal(store_put(s, key, value, 0, NULL), 0);
}

static int64_t num(struct ctl_cache *c, const char *key) {
        json_t *v = ctl_cache_get(c, key, NULL);
        return v ? tide_json_int(v, "n", -1) : -1;
}

static void test_range_then_watch(void **state) {
        struct fixture *f = *state;
        put(f->s, "/tide/x/b", "{\"n\": 2}");
        put(f->s, "/tide/x/a", "{\"n\": 1}");
        put(f->s, "/tide/y/a", "{\"n\": 9}");
        assert_int_equal(ctl_cache_sync(f->c, 0), 2);
        assert_int_equal(ctl_cache_size(f->c), 2);
        int64_t rev0 = ctl_cache_revision(f->c), mod = 0;
        assert_true(rev0 > 0);
        assert_int_equal(num(f->c, "/tide/x/a"), 1);
        assert_non_null(ctl_cache_get(f->c, "/tide/x/b", &mod));
        assert_true(mod > 0 && mod <= rev0);
        assert_null(ctl_cache_get(f->c, "/tide/y/a", &mod));
        assert_int_equal(mod, 0);
        /* Nothing new: nothing changes. */
        assert_int_equal(ctl_cache_sync(f->c, 0), 0);

        put(f->s, "/tide/x/a", "{\"n\": 10}");
        put(f->s, "/tide/x/c", "not json");
        assert_int_equal(store_delete(f->s, "/tide/x/b", NULL), 0);
        put(f->s, "/tide/y/b", "{\"n\": 9}");
        assert_int_equal(ctl_cache_sync(f->c, 1000), 3);
        assert_int_equal(ctl_cache_size(f->c), 2);
        assert_int_equal(num(f->c, "/tide/x/a"), 10);
        assert_int_equal(num(f->c, "/tide/x/b"), -1);
        assert_null(ctl_cache_get(f->c, "/tide/x/c", &mod)); /* held, not JSON */
        assert_true(mod > rev0);
        assert_true(ctl_cache_revision(f->c) > rev0);
        json_t *all = ctl_cache_values(f->c);
        assert_int_equal(json_array_size(all), 1); /* the JSON ones */
        json_decref(all);
}

/* What another handle (another process) writes arrives within the wait. */
static void test_other_writers_arrive(void **state) {
        struct fixture *f = *state;
        assert_int_equal(ctl_cache_sync(f->c, 0), 0);
        put(f->other, "/tide/x/a", "{\"n\": 5}");
        int64_t t0 = mono_ms();
        int n = 0;
        while (n == 0 && mono_ms() - t0 < 2000)
                n = ctl_cache_sync(f->c, 200);
        assert_int_equal(n, 1);
        assert_int_equal(num(f->c, "/tide/x/a"), 5);
}

/* A watch left behind by compaction: the next sync reads the prefix again. */
static void test_compaction_rereads(void **state) {
        struct fixture *f = *state;
        if (etcd)
                skip();
        store_sqlite_set_history_keep(f->s, 5);
        put(f->s, "/tide/x/a", "{\"n\": 1}");
        put(f->s, "/tide/x/b", "{\"n\": 2}");
        assert_int_equal(ctl_cache_sync(f->c, 0), 2);
        for (int i = 0; i < 10; i++) {
                _cleanup_free_ char *v = xasprintf("{\"n\": %d}", 100 + i);
                put(f->s, "/tide/x/a", v);
        }
        assert_int_equal(store_delete(f->s, "/tide/x/b", NULL), 0);
        put(f->s, "/tide/x/c", "{\"n\": 3}");
        int r = ctl_cache_sync(f->c, 1000);
        assert_true(r >= 2);
        assert_int_equal(ctl_cache_size(f->c), 2);
        assert_int_equal(num(f->c, "/tide/x/a"), 109);
        assert_int_equal(num(f->c, "/tide/x/b"), -1);
        assert_int_equal(num(f->c, "/tide/x/c"), 3);
        int64_t rev;
        assert_int_equal(store_revision(f->s, &rev), 0);
        assert_int_equal(ctl_cache_revision(f->c), rev);
        /* And it goes on from there. */
        put(f->s, "/tide/x/d", "{\"n\": 4}");
        assert_int_equal(ctl_cache_sync(f->c, 1000), 1);
        assert_int_equal(num(f->c, "/tide/x/d"), 4);
}

/* ctl_cache_resync: the slow safety net reads everything again. */
static void test_resync(void **state) {
        struct fixture *f = *state;
        put(f->s, "/tide/x/a", "{\"n\": 1}");
        assert_int_equal(ctl_cache_sync(f->c, 0), 1);
        ctl_cache_resync(f->c);
        assert_int_equal(ctl_cache_sync(f->c, 0), 1);
        assert_int_equal(num(f->c, "/tide/x/a"), 1);
}

int main(void) {
        const char *kind = getenv("TIDE_TEST_STORE");
        if (kind && streq(kind, "etcd")) {
                if (!store_etcd_launch_available()) {
                        printf("SKIP: etcd is not installed\n");
                        return 77;
                }
                if (store_etcd_launch_start(1, &etcd) < 0) {
                        fprintf(stderr, "starting etcd failed\n");
                        return 1;
                }
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_range_then_watch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_other_writers_arrive, setup, teardown),
                cmocka_unit_test_setup_teardown(test_compaction_rereads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_resync, setup, teardown),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        store_etcd_launch_free(etcd);
        return r;
}
