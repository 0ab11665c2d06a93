/* test_store_watch.c — unit tests of store watches: events after a revision, prefix filtering,
 * deletions and lease expiry, batching, compaction, and wake-up latency for a commit in another
 * thread and in another process. They run on SQLite (test store_watch) and on a real etcd (test
 * store_watch_etcd), which also resumes a broken stream and meets compaction on resuming. */
#include "test_store_helpers.h"

/* ---- watches ---- */

static void test_watch_returns_events_after_revision(void **state) {
        struct fixture *f = *state;
        put(f->s, "/w/a", "1");
        int64_t rev = put(f->s, "/w/b", "2");
        put(f->s, "/w/c", "3");
        put(f->s, "/w/a", "4");

        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/w/", rev, &w), 0);
        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 1000, &ev), 2);
        assert_int_equal(ev.n, 2);
        assert_int_equal(ev.items[0].type, STORE_EVENT_PUT);
        assert_string_equal(ev.items[0].kv.key, "/w/c");
        assert_string_equal(ev.items[0].kv.value, "3");
        assert_int_equal(ev.items[0].kv.mod_rev, f->rev0 + 3);
        assert_string_equal(ev.items[1].kv.key, "/w/a");
        assert_int_equal(ev.items[1].kv.mod_rev, f->rev0 + 4);
        assert_int_equal(ev.items[1].kv.create_rev, f->rev0 + 1);
        assert_int_equal(ev.items[1].kv.version, 2);
        store_events_clear(&ev);

        /* The position moved: nothing more until a new change. */
        assert_int_equal(store_watch_next(w, 0, &ev), 0);
        assert_int_equal(ev.n, 0);
        put(f->s, "/w/d", "5");
        assert_int_equal(store_watch_next(w, 1000, &ev), 1);
        assert_string_equal(ev.items[0].kv.key, "/w/d");
        store_events_clear(&ev);
        store_watch_free(w);
}

static void test_watch_filters_by_prefix(void **state) {
        struct fixture *f = *state;
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/w/", f->rev0, &w), 0);
        put(f->s, "/x/1", "no");
        put(f->s, "/w", "no");
        put(f->s, "/w/1", "yes");
        put(f->s, "/wz", "no");
        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 1000, &ev), 1);
        assert_string_equal(ev.items[0].kv.key, "/w/1");
        store_events_clear(&ev);
        assert_int_equal(store_watch_next(w, 50, &ev), 0);
        store_watch_free(w);
}

static void test_watch_reports_delete_events(void **state) {
        struct fixture *f = *state;
        int64_t rev = put(f->s, "/w/a", "1");
        put(f->s, "/w/b", "2");
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/w/", rev + 1, &w), 0);
        assert_int_equal(store_delete(f->s, "/w/a", NULL), 0);
        const struct store_op op = { .type = STORE_OP_DELETE_PREFIX, .key = "/w/" };
        const struct store_txn txn = { .success = &op, .n_success = 1 };
        int64_t rev2;
        assert_int_equal(store_txn(f->s, &txn, NULL, &rev2), 0);

        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 1000, &ev), 2);
        assert_int_equal(ev.items[0].type, STORE_EVENT_DELETE);
        assert_string_equal(ev.items[0].kv.key, "/w/a");
        assert_null(ev.items[0].kv.value);
        assert_int_equal(ev.items[0].kv.mod_rev, rev + 2);
        assert_int_equal(ev.items[1].type, STORE_EVENT_DELETE);
        assert_string_equal(ev.items[1].kv.key, "/w/b");
        assert_int_equal(ev.items[1].kv.mod_rev, rev2);
        store_events_clear(&ev);
        store_watch_free(w);
}

static void test_watch_reports_lease_expiry_without_other_traffic(void **state) {
        struct fixture *f = *state;
        int64_t id, rev;
        int64_t t0 = mono_ms();
        assert_int_equal(store_lease_grant(f->s, 1, &id), 0);
        assert_int_equal(store_put(f->s, "/hosts/h1", "alive", id, &rev), 0);
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/hosts/", rev, &w), 0);

        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 3000, &ev), 1);
        int64_t waited = mono_ms() - t0;
        assert_int_equal(ev.items[0].type, STORE_EVENT_DELETE);
        assert_string_equal(ev.items[0].kv.key, "/hosts/h1");
        assert_true(waited >= 1000);
        assert_true(waited < 1000 + STORE_LEASE_EXPIRY_LAG_MS + 200 || slow_mode());
        store_events_clear(&ev);
        store_watch_free(w);
}

static void test_watch_times_out_with_no_events(void **state) {
        struct fixture *f = *state;
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/w/", f->rev0, &w), 0);
        int64_t t0 = mono_ms();
        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 120, &ev), 0);
        int64_t waited = mono_ms() - t0;
        assert_int_equal(ev.n, 0);
        assert_null(ev.items);
        assert_true(waited >= 120);
        assert_true(waited < 400 || slow_mode());
        store_watch_free(w);
}

static void test_watch_delivers_large_revision_in_batches(void **state) {
        struct fixture *f = *state;
        enum { N = 2500 };
        for (int i = 0; i < N; i += 100) {
                struct store_op ops[100];
                char keys[100][32];
                for (int j = 0; j < 100; j++) {
                        snprintf(keys[j], sizeof keys[j], "/big/%05d", i + j);
                        ops[j] = (struct store_op) { .type = STORE_OP_PUT, .key = keys[j], .value = "x" };
                }
                const struct store_txn txn = { .success = ops, .n_success = 100 };
                assert_int_equal(store_txn(f->s, &txn, NULL, NULL), 0);
        }
        int64_t rev = revision(f->s);
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/big/", rev, &w), 0);
        const struct store_op op = { .type = STORE_OP_DELETE_PREFIX, .key = "/big/" };
        const struct store_txn txn = { .success = &op, .n_success = 1 };
        assert_int_equal(store_txn(f->s, &txn, NULL, NULL), 0);

        int seen = 0;
        while (seen < N) {
                struct store_events ev = {};
                int r = store_watch_next(w, 1000, &ev);
                assert_true(r > 0);
                for (size_t i = 0; i < ev.n; i++, seen++) {
                        char key[32];
                        snprintf(key, sizeof key, "/big/%05d", seen);
                        assert_string_equal(ev.items[i].kv.key, key);
                        assert_int_equal(ev.items[i].kv.mod_rev, rev + 1);
                }
                store_events_clear(&ev);
        }
        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 0, &ev), 0);
        store_watch_free(w);
}

static void test_watch_before_compacted_revision_is_compacted(void **state) {
        struct fixture *f = *state;
        SKIP_UNLESS_SQLITE();
        store_sqlite_set_history_keep(f->s, 5);
        for (int i = 0; i < 20; i++)
                put(f->s, "/c/k", "v");
        /* History now holds revisions 16..20. */
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/c/", 1, &w), TIDE_E_COMPACTED);
        assert_int_equal(store_watch_new(f->s, "/c/", 14, &w), TIDE_E_COMPACTED);
        assert_int_equal(store_watch_new(f->s, "/c/", 15, &w), 0);
        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 1000, &ev), 5);
        assert_int_equal(ev.items[0].kv.mod_rev, 16);
        store_events_clear(&ev);
        store_watch_free(w);
}

static void test_watch_left_behind_by_compaction_is_compacted(void **state) {
        struct fixture *f = *state;
        SKIP_UNLESS_SQLITE();
        store_sqlite_set_history_keep(f->s, 5);
        put(f->s, "/c/k", "v");
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/c/", 1, &w), 0);
        for (int i = 0; i < 10; i++)
                put(f->s, "/c/k", "v");
        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 1000, &ev), TIDE_E_COMPACTED);
        store_watch_free(w);
}

/* etcd: the history before a compaction's revision is gone (/v3/kv/compaction). */
static void test_etcd_watch_before_compacted_revision_is_compacted(void **state) {
        struct fixture *f = *state;
        SKIP_UNLESS_ETCD();
        for (int i = 0; i < 20; i++)
                put(f->s, "/c/k", "v");
        assert_int_equal(store_etcd_compact(f->s, f->rev0 + 16), 0);
        /* History now holds revisions rev0+16 .. rev0+20. */
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/c/", f->rev0, &w), TIDE_E_COMPACTED);
        assert_int_equal(store_watch_new(f->s, "/c/", f->rev0 + 14, &w), TIDE_E_COMPACTED);
        assert_int_equal(store_watch_new(f->s, "/c/", f->rev0 + 15, &w), 0);
        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 1000, &ev), 5);
        assert_int_equal(ev.items[0].kv.mod_rev, f->rev0 + 16);
        store_events_clear(&ev);
        store_watch_free(w);
}

/* etcd: a watch whose stream broke resumes after the last revision it delivered, without a gap
 * or a repeat. */
static void test_etcd_watch_resumes_after_a_broken_stream(void **state) {
        struct fixture *f = *state;
        SKIP_UNLESS_ETCD();
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/r/", f->rev0, &w), 0);
        put(f->s, "/r/1", "a");
        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 1000, &ev), 1);
        store_events_clear(&ev);
        store_etcd_watch_break(w);
        put(f->s, "/r/2", "b");
        put(f->s, "/r/3", "c");
        int64_t next = f->rev0 + 2;
        while (next <= f->rev0 + 3) {
                assert_true(store_watch_next(w, 2000, &ev) > 0);
                for (size_t i = 0; i < ev.n; i++, next++)
                        assert_int_equal(ev.items[i].kv.mod_rev, next);
                store_events_clear(&ev);
        }
        assert_int_equal(store_watch_next(w, 100, &ev), 0);
        store_watch_free(w);
}

/* etcd: a watch cut off while the history it needs is compacted reports TIDE_E_COMPACTED when
 * it resumes (its events up to the break were delivered). */
static void test_etcd_watch_resuming_into_compaction_is_compacted(void **state) {
        struct fixture *f = *state;
        SKIP_UNLESS_ETCD();
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/c/", f->rev0, &w), 0);
        put(f->s, "/c/k", "v");
        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 1000, &ev), 1);
        store_events_clear(&ev);
        store_etcd_watch_break(w);
        for (int i = 0; i < 10; i++)
                put(f->s, "/c/k", "v");
        assert_int_equal(store_etcd_compact(f->s, revision(f->s)), 0);
        assert_int_equal(store_watch_next(w, 2000, &ev), TIDE_E_COMPACTED);
        store_watch_free(w);
}

struct latency_watcher {
        struct store *s;
        int64_t after_rev;
        int n;
        int64_t *recv_us;
        int error;
};

static void *latency_watcher_run(void *p) {
        struct latency_watcher *lw = p;
        struct store_watch *w = NULL;
        int r = store_watch_new(lw->s, "/lat/", lw->after_rev, &w);
        for (int got = 0; r >= 0 && got < lw->n;) {
                struct store_events ev = {};
                r = store_watch_next(w, 5000, &ev);
                int64_t t = mono_us();
                if (r == 0)
                        r = TIDE_E_TIMEOUT;
                for (size_t i = 0; r > 0 && i < ev.n; i++, got++)
                        lw->recv_us[got] = t;
                store_events_clear(&ev);
        }
        lw->error = r < 0 ? r : 0;
        store_watch_free(w);
        return NULL;
}

static void test_watch_wakes_within_5ms_of_a_commit_in_another_thread(void **state) {
        struct fixture *f = *state;
        enum { N = 50 };
        int64_t before_us[N], acked_us[N], recv_us[N];
        struct latency_watcher lw = { .s = f->s, .after_rev = revision(f->s), .n = N, .recv_us = recv_us };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, latency_watcher_run, &lw), 0);
        sleep_ms(50);
        for (int i = 0; i < N; i++) {
                before_us[i] = mono_us();
                put(f->s, "/lat/k", "v");
                acked_us[i] = mono_us();
                sleep_ms(5); /* the watcher is back waiting */
        }
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(lw.error, 0);

        /* From the return of the commit (notification happens just before it) and from the
         * start of the put (including its fsync) to the watcher holding the event. */
        int64_t after_ack[N], after_start[N];
        for (int i = 0; i < N; i++) {
                after_ack[i] = MAX(recv_us[i] - acked_us[i], 0);
                after_start[i] = recv_us[i] - before_us[i];
        }
        qsort(after_ack, N, sizeof after_ack[0], cmp_i64);
        qsort(after_start, N, sizeof after_start[0], cmp_i64);
        printf("# watch wake-up after commit: p50 %" PRId64 " us, p90 %" PRId64 " us, max %" PRId64
               " us; from put start: p50 %" PRId64 " us, max %" PRId64 " us\n",
               after_ack[N / 2], after_ack[N * 9 / 10], after_ack[N - 1], after_start[N / 2], after_start[N - 1]);
        assert_true(after_ack[N * 9 / 10] < 5000 || slow_mode());
}

static void test_watch_sees_commits_of_another_process(void **state) {
        struct fixture *f = *state;
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(f->s, "/x/", revision(f->s), &w), 0);

        pid_t pid = spawn_child(-1, "put", f->path, "/x/from-child", "hi", NULL);
        struct store_events ev = {};
        assert_int_equal(store_watch_next(w, 10000, &ev), 1);
        int64_t seen_us = mono_us();
        assert_string_equal(ev.items[0].kv.key, "/x/from-child");
        store_events_clear(&ev);
        store_watch_free(w);
        assert_child_exits_0(pid);

        /* The child put the time its put returned into /acked, outside the watched prefix. */
        struct store_kv kv = {};
        assert_int_equal(store_get(f->s, "/acked", &kv), 0);
        int64_t acked_us = 0;
        assert_int_equal(parse_int64(kv.value, 0, INT64_MAX, &acked_us), 0);
        store_kv_clear(&kv);
        int64_t latency_us = seen_us - acked_us;
        printf("# watch saw another process's commit after %" PRId64 " us\n", latency_us);
        /* At most one poll interval, plus scheduling. */
        assert_true(latency_us < 100000 || slow_mode());
}

int main(int argc, char **argv) {
        int r;
        if (test_store_prologue(argc, argv, &r))
                return r;
        const struct CMUnitTest tests[] = {
                T(test_watch_returns_events_after_revision),
                T(test_watch_filters_by_prefix),
                T(test_watch_reports_delete_events),
                T(test_watch_reports_lease_expiry_without_other_traffic),
                T(test_watch_times_out_with_no_events),
                T(test_watch_delivers_large_revision_in_batches),
                T(test_watch_before_compacted_revision_is_compacted),
                T(test_watch_left_behind_by_compaction_is_compacted),
                T(test_etcd_watch_before_compacted_revision_is_compacted),
                T(test_etcd_watch_resumes_after_a_broken_stream),
                T(test_etcd_watch_resuming_into_compaction_is_compacted),
                T(test_watch_wakes_within_5ms_of_a_commit_in_another_thread),
                T(test_watch_sees_commits_of_another_process),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
