/* test_store.c — unit tests of the store's data model: opening, keys and revisions, prefix ranges,
 * transactions and their compares, create and CAS, limits, leases. The same tests run on SQLite
 * (test store) and on a real etcd (test store_etcd; test_store_helpers.h). */
#include "test_store_helpers.h"

#include <netinet/in.h>
#include <sys/socket.h>

/* ---- opening ---- */

static void test_open_accepts_sqlite_url_and_plain_path(void **state) {
        struct fixture *f = *state;
        SKIP_UNLESS_SQLITE();
        assert_string_equal(store_backend_name(f->s), "sqlite");
        put(f->s, "/k", "v");

        _cleanup_free_ char *url = xasprintf("sqlite:%s", f->path);
        struct store *s2 = NULL;
        assert_int_equal(store_open(url, &s2), 0);
        assert_value(s2, "/k", "v");
        store_free(s2);
}

static void test_open_rejects_malformed_urls(void **state) {
        static const char *const bad[] = {
                "sqlite:",
                "etcd:",
                "etcd:127.0.0.1:2379",
                "etcd:ftp://127.0.0.1:2379",
                "etcd:http://",
                "etcd:http://127.0.0.1:2379/v3",
                "etcd:,,",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct store *s = NULL;
                if (store_open(bad[i], &s) != TIDE_E_INVALID)
                        fail_msg("%s was not refused as invalid", bad[i]);
                assert_null(s);
        }
}

static void test_open_etcd_with_no_member_answering_fails_at_once(void **state) {
        struct store *s = NULL;
        int64_t t0 = mono_ms();
        /* Port 1 on loopback refuses: nothing listens there. */
        assert_int_equal(store_open("etcd:http://127.0.0.1:1,http://127.0.0.1:1/", &s), TIDE_E_BACKEND);
        assert_null(s);
        assert_true(mono_ms() - t0 < 2000);
}

static void test_open_accepts_etcd_url_and_fails_over(void **state) {
        struct fixture *f = *state;
        SKIP_UNLESS_ETCD();
        assert_string_equal(store_backend_name(f->s), "etcd");
        put(f->s, "/k", "v");

        /* A dead endpoint first: the next one answers, and is remembered. */
        _cleanup_free_ char *url = xasprintf("etcd:http://127.0.0.1:1,%s", f->path + strlen("etcd:"));
        struct store *s2 = NULL;
        assert_int_equal(store_open(url, &s2), 0);
        assert_string_equal(store_backend_name(s2), "etcd");
        int64_t t0 = mono_ms();
        for (int i = 0; i < 20; i++)
                assert_value(s2, "/k", "v");
        assert_true(mono_ms() - t0 < 2000);
        store_free(s2);
}

/* A member that accepts connections but never answers (stopped, or its disk hung) costs one
 * call's timeout once; then the handle stays on the member that answered. */
static void test_open_etcd_passes_over_a_member_that_does_not_answer(void **state) {
        struct fixture *f = *state;
        SKIP_UNLESS_ETCD();
        put(f->s, "/k", "v");
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        assert_int_equal(listen(fd, 16), 0); /* the kernel completes connections; nobody reads */

        _cleanup_free_ char *url = xasprintf("etcd:http://127.0.0.1:%d,%s", ntohs(a.sin_port),
                                             f->path + strlen("etcd:"));
        struct store *s2 = NULL;
        int64_t t0 = mono_ms();
        assert_int_equal(store_open(url, &s2), 0);
        int64_t took = mono_ms() - t0;
        printf("# opening past a silent member took %" PRId64 " ms\n", took);
        assert_true(took < 5000);
        t0 = mono_ms();
        for (int i = 0; i < 20; i++)
                assert_value(s2, "/k", "v");
        assert_true(mono_ms() - t0 < 1000 || slow_mode());
        store_free(s2);
}

/* An endpoint's address served by another etcd cluster (a member's port reused by another
 * cluster's member, or a wrong address in the URL) never answers for this store: after the first
 * answer fixed the cluster, the other's replies and watch events are refused as if it were
 * down. */
static void test_etcd_refuses_another_clusters_member(void **state) {
        SKIP_UNLESS_ETCD();
        struct store_etcd_launch *a = NULL, *b = NULL;
        assert_int_equal(store_etcd_launch_start(1, &a), 0);
        assert_int_equal(store_etcd_launch_start(1, &b), 0);
        _cleanup_free_ char *url = xasprintf("etcd:%s,%s", store_etcd_launch_endpoint(a, 0),
                                             store_etcd_launch_endpoint(b, 0));
        struct store *s = NULL, *other = NULL;
        assert_int_equal(store_open(url, &s), 0);
        assert_int_equal(store_open(store_etcd_launch_url(b), &other), 0);
        int64_t rev = put(s, "/k", "a");
        struct store_watch *w = NULL;
        assert_int_equal(store_watch_new(s, "/k", rev, &w), 0);

        assert_int_equal(store_etcd_launch_kill(a, 0), 0);
        put(other, "/k", "b");
        put(other, "/k", "c");
        struct store_kv kv = {};
        assert_int_equal(store_get(s, "/k", &kv), TIDE_E_BACKEND);
        struct store_events ev = {};
        int r = store_watch_next(w, 1500, &ev);
        assert_true(r <= 0);
        assert_int_equal(ev.n, 0);

        store_watch_free(w);
        store_free(s);
        store_free(other);
        store_etcd_launch_free(a);
        store_etcd_launch_free(b);
}

static void test_reopen_keeps_keys_and_revision(void **state) {
        struct fixture *f = *state;
        put(f->s, "/a", "1");
        int64_t rev = put(f->s, "/b", "2");
        store_free(f->s);
        assert_int_equal(store_open(f->path, &f->s), 0);
        assert_int_equal(revision(f->s), rev);
        assert_value(f->s, "/a", "1");
        assert_value(f->s, "/b", "2");
}

/* ---- keys ---- */

static void test_put_then_get_returns_value(void **state) {
        struct fixture *f = *state;
        put(f->s, "/tide/instances/1", "{\"name\":\"web\"}");
        assert_value(f->s, "/tide/instances/1", "{\"name\":\"web\"}");
}

static void test_get_absent_is_not_found(void **state) {
        struct fixture *f = *state;
        assert_absent(f->s, "/nothing");
}

static void test_empty_value_round_trips(void **state) {
        struct fixture *f = *state;
        put(f->s, "/empty", "");
        assert_value(f->s, "/empty", "");
}

static void test_put_sets_create_rev_mod_rev_and_version(void **state) {
        struct fixture *f = *state;
        assert_int_equal(revision(f->s), f->rev0);
        int64_t r1 = put(f->s, "/k", "a");
        int64_t r2 = put(f->s, "/other", "x");
        int64_t r3 = put(f->s, "/k", "b");
        assert_int_equal(r1, f->rev0 + 1);
        assert_int_equal(r2, f->rev0 + 2);
        assert_int_equal(r3, f->rev0 + 3);

        struct store_kv kv = {};
        assert_int_equal(store_get(f->s, "/k", &kv), 0);
        assert_int_equal(kv.create_rev, f->rev0 + 1);
        assert_int_equal(kv.mod_rev, f->rev0 + 3);
        assert_int_equal(kv.version, 2);
        assert_int_equal(kv.lease, 0);
        store_kv_clear(&kv);
}

static void test_recreated_key_starts_a_new_life(void **state) {
        struct fixture *f = *state;
        put(f->s, "/k", "a");
        put(f->s, "/k", "b");
        assert_int_equal(store_delete(f->s, "/k", NULL), 0);
        int64_t rev = put(f->s, "/k", "c");

        struct store_kv kv = {};
        assert_int_equal(store_get(f->s, "/k", &kv), 0);
        assert_int_equal(kv.create_rev, rev);
        assert_int_equal(kv.version, 1);
        store_kv_clear(&kv);
}

static void test_range_returns_prefix_in_key_order(void **state) {
        struct fixture *f = *state;
        put(f->s, "/a/2", "2");
        put(f->s, "/a0", "outside");
        put(f->s, "/a/1", "1");
        put(f->s, "/a", "outside too");
        put(f->s, "/a/3/x", "3");
        put(f->s, "/b/1", "outside");

        struct store_kvs kvs = {};
        int64_t rev = -1;
        assert_int_equal(store_range(f->s, "/a/", 0, &kvs, &rev), 0);
        assert_int_equal(rev, f->rev0 + 6);
        assert_int_equal(kvs.n, 3);
        assert_string_equal(kvs.items[0].key, "/a/1");
        assert_string_equal(kvs.items[1].key, "/a/2");
        assert_string_equal(kvs.items[2].key, "/a/3/x");
        assert_string_equal(kvs.items[2].value, "3");
        store_kvs_clear(&kvs);
}

static void test_range_stops_at_limit(void **state) {
        struct fixture *f = *state;
        for (int i = 0; i < 10; i++) {
                char key[32];
                snprintf(key, sizeof key, "/l/%02d", i);
                put(f->s, key, "v");
        }
        struct store_kvs kvs = {};
        assert_int_equal(store_range(f->s, "/l/", 4, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 4);
        assert_string_equal(kvs.items[3].key, "/l/03");
        store_kvs_clear(&kvs);
}

/* More keys than one etcd reply holds (store_etcd.c reads them in pages, at one revision). */
static void test_range_of_many_keys_returns_all_in_order(void **state) {
        struct fixture *f = *state;
        enum { N = 2500 };
        for (int i = 0; i < N; i += 100) {
                struct store_op ops[100];
                char keys[100][32];
                for (int j = 0; j < 100; j++) {
                        snprintf(keys[j], sizeof keys[j], "/many/%05d", i + j);
                        ops[j] = (struct store_op) { .type = STORE_OP_PUT, .key = keys[j], .value = keys[j] };
                }
                const struct store_txn txn = { .success = ops, .n_success = 100 };
                assert_int_equal(store_txn(f->s, &txn, NULL, NULL), 0);
        }
        int64_t rev = revision(f->s);
        put(f->s, "/many/99999", "after the read");
        struct store_kvs kvs = {};
        int64_t read_rev = -1;
        assert_int_equal(store_range(f->s, "/many/", 0, &kvs, &read_rev), 0);
        assert_int_equal(read_rev, rev + 1);
        assert_int_equal(kvs.n, N + 1);
        for (int i = 0; i < N; i++) {
                char key[32];
                snprintf(key, sizeof key, "/many/%05d", i);
                assert_string_equal(kvs.items[i].key, key);
                assert_string_equal(kvs.items[i].value, key);
        }
        store_kvs_clear(&kvs);
        assert_int_equal(store_range(f->s, "/many/", 1500, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 1500);
        assert_string_equal(kvs.items[1499].key, "/many/01499");
        store_kvs_clear(&kvs);
}

/* Several prefixes at one revision, each read whole (past one etcd page) and in key order. */
static void test_range_many_reads_each_prefix_at_one_revision(void **state) {
        struct fixture *f = *state;
        enum { N = 1200 };
        for (int i = 0; i < N; i += 100) {
                struct store_op ops[100];
                char keys[100][32];
                for (int j = 0; j < 100; j++) {
                        snprintf(keys[j], sizeof keys[j], "/rm/b/%05d", i + j);
                        ops[j] = (struct store_op) { .type = STORE_OP_PUT, .key = keys[j], .value = keys[j] };
                }
                const struct store_txn txn = { .success = ops, .n_success = 100 };
                assert_int_equal(store_txn(f->s, &txn, NULL, NULL), 0);
        }
        put(f->s, "/rm/a/2", "a2");
        put(f->s, "/rm/a/1", "a1");
        int64_t rev = revision(f->s);
        const char *const prefixes[] = { "/rm/a/", "/rm/b/", "/rm/none/" };
        struct store_kvs kvs[3] = {};
        int64_t read_rev = -1;
        assert_int_equal(store_range_many(f->s, prefixes, 3, kvs, &read_rev), 0);
        assert_int_equal(read_rev, rev);
        assert_int_equal(kvs[0].n, 2);
        assert_string_equal(kvs[0].items[0].key, "/rm/a/1");
        assert_string_equal(kvs[0].items[1].value, "a2");
        assert_int_equal(kvs[1].n, N);
        assert_string_equal(kvs[1].items[N - 1].key, "/rm/b/01199");
        assert_int_equal(kvs[2].n, 0);
        for (int i = 0; i < 3; i++)
                store_kvs_clear(&kvs[i]);
        assert_int_equal(store_range_many(f->s, prefixes, 0, kvs, NULL), TIDE_E_INVALID);
        const char *const bad[] = { "/rm/a/", NULL };
        assert_int_equal(store_range_many(f->s, bad, 2, kvs, NULL), TIDE_E_INVALID);
}

static void test_range_empty_prefix_returns_every_key(void **state) {
        struct fixture *f = *state;
        put(f->s, "/x", "1");
        put(f->s, "a", "2");
        put(f->s, "\xff\xff", "3");
        struct store_kvs kvs = {};
        assert_int_equal(store_range(f->s, "", 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 3);
        assert_string_equal(kvs.items[2].key, "\xff\xff");
        store_kvs_clear(&kvs);
}

static void test_range_prefix_ending_in_0xff_bytes(void **state) {
        struct fixture *f = *state;
        put(f->s, "a\xff", "in");
        put(f->s,
            "a\xff\xff"
            "b",
            "in");
        put(f->s, "b", "out");
        put(f->s, "a\xfe", "out");
        struct store_kvs kvs = {};
        assert_int_equal(store_range(f->s, "a\xff", 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 2);
        assert_string_equal(kvs.items[0].key, "a\xff");
        assert_string_equal(kvs.items[1].key, "a\xff\xff"
                                              "b");
        store_kvs_clear(&kvs);
}

static void test_range_of_absent_prefix_is_empty(void **state) {
        struct fixture *f = *state;
        put(f->s, "/a/1", "1");
        struct store_kvs kvs = {};
        assert_int_equal(store_range(f->s, "/z/", 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 0);
        store_kvs_clear(&kvs);
}

static void test_delete_removes_key(void **state) {
        struct fixture *f = *state;
        put(f->s, "/k", "v");
        int64_t rev = -1;
        assert_int_equal(store_delete(f->s, "/k", &rev), 0);
        assert_int_equal(rev, f->rev0 + 2);
        assert_absent(f->s, "/k");
}

static void test_delete_absent_is_not_found_and_writes_nothing(void **state) {
        struct fixture *f = *state;
        put(f->s, "/k", "v");
        assert_int_equal(store_delete(f->s, "/nothing", NULL), TIDE_E_NOT_FOUND);
        assert_int_equal(revision(f->s), f->rev0 + 1);
}

static void test_delete_prefix_removes_only_that_prefix(void **state) {
        struct fixture *f = *state;
        put(f->s, "/p/1", "1");
        put(f->s, "/p/2", "2");
        put(f->s, "/p", "stays");
        put(f->s, "/q/1", "stays");
        const struct store_op op = { .type = STORE_OP_DELETE_PREFIX, .key = "/p/" };
        const struct store_txn txn = { .success = &op, .n_success = 1 };
        int64_t rev = -1;
        assert_int_equal(store_txn(f->s, &txn, NULL, &rev), 0);
        assert_int_equal(rev, f->rev0 + 5);
        assert_absent(f->s, "/p/1");
        assert_absent(f->s, "/p/2");
        assert_value(f->s, "/p", "stays");
        assert_value(f->s, "/q/1", "stays");
}

/* ---- transactions ---- */

static void test_txn_applies_all_ops_at_one_revision(void **state) {
        struct fixture *f = *state;
        put(f->s, "/gone", "x");
        const struct store_op ops[] = {
                { .type = STORE_OP_PUT, .key = "/a", .value = "1" },
                { .type = STORE_OP_PUT, .key = "/b", .value = "2" },
                { .type = STORE_OP_DELETE, .key = "/gone" },
        };
        const struct store_txn txn = { .success = ops, .n_success = 3 };
        bool ok = false;
        int64_t rev = -1;
        assert_int_equal(store_txn(f->s, &txn, &ok, &rev), 0);
        assert_true(ok);
        assert_int_equal(rev, f->rev0 + 2);

        struct store_kvs kvs = {};
        assert_int_equal(store_range(f->s, "/", 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 2);
        assert_int_equal(kvs.items[0].mod_rev, f->rev0 + 2);
        assert_int_equal(kvs.items[1].mod_rev, f->rev0 + 2);
        store_kvs_clear(&kvs);
}

static void test_txn_runs_failure_branch_when_a_compare_fails(void **state) {
        struct fixture *f = *state;
        put(f->s, "/k", "v");
        const struct store_cmp cmps[] = {
                { .key = "/k", .target = STORE_CMP_VERSION, .op = STORE_CMP_EQUAL, .number = 1 },
                { .key = "/k", .target = STORE_CMP_VALUE, .op = STORE_CMP_EQUAL, .value = "other" },
        };
        const struct store_op yes = { .type = STORE_OP_PUT, .key = "/yes", .value = "1" };
        const struct store_op no = { .type = STORE_OP_PUT, .key = "/no", .value = "1" };
        const struct store_txn txn = {
                .cmps = cmps,
                .n_cmps = 2,
                .success = &yes,
                .n_success = 1,
                .failure = &no,
                .n_failure = 1,
        };
        bool ok = true;
        assert_int_equal(store_txn(f->s, &txn, &ok, NULL), 0);
        assert_false(ok);
        assert_absent(f->s, "/yes");
        assert_value(f->s, "/no", "1");
}

static void test_txn_without_writes_keeps_revision(void **state) {
        struct fixture *f = *state;
        put(f->s, "/k", "v");
        const struct store_cmp cmp = {
                .key = "/k",
                .target = STORE_CMP_VALUE,
                .op = STORE_CMP_EQUAL,
                .value = "v",
        };
        const struct store_op del = { .type = STORE_OP_DELETE, .key = "/absent" };
        const struct store_op delp = { .type = STORE_OP_DELETE_PREFIX, .key = "/none/" };
        const struct store_op ops[] = { del, delp };
        const struct store_txn only_cmp = { .cmps = &cmp, .n_cmps = 1 };
        const struct store_txn absent = { .cmps = &cmp, .n_cmps = 1, .success = ops, .n_success = 2 };
        bool ok = false;
        int64_t rev = -1;
        assert_int_equal(store_txn(f->s, &only_cmp, &ok, &rev), 0);
        assert_true(ok);
        assert_int_equal(rev, f->rev0 + 1);
        assert_int_equal(store_txn(f->s, &absent, &ok, &rev), 0);
        assert_int_equal(rev, f->rev0 + 1);
        assert_int_equal(revision(f->s), f->rev0 + 1);
}

struct cmp_case {
        enum store_cmp_target target;
        enum store_cmp_op op;
        int64_t number;
        const char *value;
        bool expected;
};

/* Runs each case against key and checks which branch ran; the cases' revisions count from base
 * (their version numbers do not). */
static void check_cmp_cases(struct store *s, const char *key, int64_t base, const struct cmp_case *cases, size_t n) {
        for (size_t i = 0; i < n; i++) {
                bool is_rev = cases[i].target == STORE_CMP_MOD_REV || cases[i].target == STORE_CMP_CREATE_REV;
                const struct store_cmp cmp = {
                        .key = key,
                        .target = cases[i].target,
                        .op = cases[i].op,
                        .number = cases[i].number + (is_rev ? base : 0),
                        .value = cases[i].value,
                };
                const struct store_txn txn = { .cmps = &cmp, .n_cmps = 1 };
                bool ok = !cases[i].expected;
                assert_int_equal(store_txn(s, &txn, &ok, NULL), 0);
                if (ok != cases[i].expected)
                        fail_msg("case %zu: target %d op %d gave %d", i, cases[i].target, cases[i].op, ok);
        }
}

static void test_txn_compares_revisions_and_version(void **state) {
        struct fixture *f = *state;
        put(f->s, "/k", "a");     /* rev 1: create_rev 1 */
        put(f->s, "/other", "x"); /* rev 2 */
        put(f->s, "/k", "b");     /* rev 3: mod_rev 3, version 2 */
        static const struct cmp_case cases[] = {
                { STORE_CMP_MOD_REV, STORE_CMP_EQUAL, 3, NULL, true },
                { STORE_CMP_MOD_REV, STORE_CMP_EQUAL, 2, NULL, false },
                { STORE_CMP_MOD_REV, STORE_CMP_NOT_EQUAL, 2, NULL, true },
                { STORE_CMP_MOD_REV, STORE_CMP_NOT_EQUAL, 3, NULL, false },
                { STORE_CMP_MOD_REV, STORE_CMP_LESS, 4, NULL, true },
                { STORE_CMP_MOD_REV, STORE_CMP_LESS, 3, NULL, false },
                { STORE_CMP_MOD_REV, STORE_CMP_GREATER, 2, NULL, true },
                { STORE_CMP_MOD_REV, STORE_CMP_GREATER, 3, NULL, false },
                { STORE_CMP_CREATE_REV, STORE_CMP_EQUAL, 1, NULL, true },
                { STORE_CMP_CREATE_REV, STORE_CMP_EQUAL, 3, NULL, false },
                { STORE_CMP_CREATE_REV, STORE_CMP_NOT_EQUAL, 3, NULL, true },
                { STORE_CMP_CREATE_REV, STORE_CMP_LESS, 2, NULL, true },
                { STORE_CMP_CREATE_REV, STORE_CMP_LESS, 1, NULL, false },
                { STORE_CMP_CREATE_REV, STORE_CMP_GREATER, 0, NULL, true },
                { STORE_CMP_CREATE_REV, STORE_CMP_GREATER, 1, NULL, false },
                { STORE_CMP_VERSION, STORE_CMP_EQUAL, 2, NULL, true },
                { STORE_CMP_VERSION, STORE_CMP_EQUAL, 1, NULL, false },
                { STORE_CMP_VERSION, STORE_CMP_NOT_EQUAL, 1, NULL, true },
                { STORE_CMP_VERSION, STORE_CMP_NOT_EQUAL, 2, NULL, false },
                { STORE_CMP_VERSION, STORE_CMP_LESS, 3, NULL, true },
                { STORE_CMP_VERSION, STORE_CMP_LESS, 2, NULL, false },
                { STORE_CMP_VERSION, STORE_CMP_GREATER, 1, NULL, true },
                { STORE_CMP_VERSION, STORE_CMP_GREATER, 2, NULL, false },
        };
        check_cmp_cases(f->s, "/k", f->rev0, cases, ELEMENTSOF(cases));
}

static void test_txn_compares_values_bytewise(void **state) {
        struct fixture *f = *state;
        put(f->s, "/k", "bcd");
        static const struct cmp_case cases[] = {
                { STORE_CMP_VALUE, STORE_CMP_EQUAL, 0, "bcd", true },
                { STORE_CMP_VALUE, STORE_CMP_EQUAL, 0, "bc", false },
                { STORE_CMP_VALUE, STORE_CMP_NOT_EQUAL, 0, "bcde", true },
                { STORE_CMP_VALUE, STORE_CMP_NOT_EQUAL, 0, "bcd", false },
                { STORE_CMP_VALUE, STORE_CMP_LESS, 0, "bce", true },
                { STORE_CMP_VALUE, STORE_CMP_LESS, 0, "bcde", true },
                { STORE_CMP_VALUE, STORE_CMP_LESS, 0, "bc", false },
                { STORE_CMP_VALUE, STORE_CMP_LESS, 0, "bcd", false },
                { STORE_CMP_VALUE, STORE_CMP_GREATER, 0, "bc", true },
                { STORE_CMP_VALUE, STORE_CMP_GREATER, 0, "a\xff", true },
                { STORE_CMP_VALUE, STORE_CMP_GREATER, 0, "bcd", false },
                { STORE_CMP_VALUE, STORE_CMP_GREATER, 0, "c", false },
        };
        check_cmp_cases(f->s, "/k", 0, cases, ELEMENTSOF(cases));
}

static void test_txn_compares_absent_key_as_zero_and_no_value(void **state) {
        struct fixture *f = *state;
        static const struct cmp_case cases[] = {
                { STORE_CMP_MOD_REV, STORE_CMP_EQUAL, 0, NULL, true },
                { STORE_CMP_CREATE_REV, STORE_CMP_EQUAL, 0, NULL, true },
                { STORE_CMP_VERSION, STORE_CMP_EQUAL, 0, NULL, true },
                { STORE_CMP_VERSION, STORE_CMP_GREATER, 0, NULL, false },
                { STORE_CMP_MOD_REV, STORE_CMP_LESS, 1, NULL, true },
                { STORE_CMP_VALUE, STORE_CMP_EQUAL, 0, "", false },
                { STORE_CMP_VALUE, STORE_CMP_NOT_EQUAL, 0, "x", false },
        };
        check_cmp_cases(f->s, "/absent", 0, cases, ELEMENTSOF(cases));
}

static void test_txn_naming_a_key_twice_is_invalid(void **state) {
        struct fixture *f = *state;
        const struct store_op twice[] = {
                { .type = STORE_OP_PUT, .key = "/a", .value = "1" },
                { .type = STORE_OP_PUT, .key = "/a", .value = "2" },
        };
        const struct store_op overlap[] = {
                { .type = STORE_OP_PUT, .key = "/p/a", .value = "1" },
                { .type = STORE_OP_DELETE_PREFIX, .key = "/p/" },
        };
        const struct store_txn t1 = { .success = twice, .n_success = 2 };
        const struct store_txn t2 = { .failure = overlap, .n_failure = 2 };
        assert_int_equal(store_txn(f->s, &t1, NULL, NULL), TIDE_E_INVALID);
        assert_int_equal(store_txn(f->s, &t2, NULL, NULL), TIDE_E_INVALID);
        assert_int_equal(revision(f->s), f->rev0);
}

static void test_txn_with_too_many_ops_is_too_large(void **state) {
        struct fixture *f = *state;
        struct store_op ops[STORE_TXN_OPS_MAX + 1];
        char keys[STORE_TXN_OPS_MAX + 1][16];
        for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
                snprintf(keys[i], sizeof keys[i], "/k%zu", i);
                ops[i] = (struct store_op) { .type = STORE_OP_PUT, .key = keys[i], .value = "v" };
        }
        struct store_txn txn = { .success = ops, .n_success = STORE_TXN_OPS_MAX + 1 };
        assert_int_equal(store_txn(f->s, &txn, NULL, NULL), TIDE_E_TOO_LARGE);
        txn.n_success = STORE_TXN_OPS_MAX;
        assert_int_equal(store_txn(f->s, &txn, NULL, NULL), 0);
}

static void test_create_of_existing_key_is_exists(void **state) {
        struct fixture *f = *state;
        int64_t rev = -1;
        assert_int_equal(store_create(f->s, "/k", "first", 0, &rev), 0);
        assert_int_equal(rev, f->rev0 + 1);
        assert_int_equal(store_create(f->s, "/k", "second", 0, &rev), TIDE_E_EXISTS);
        assert_value(f->s, "/k", "first");
        assert_int_equal(revision(f->s), f->rev0 + 1);
}

static void test_cas_with_current_mod_rev_replaces(void **state) {
        struct fixture *f = *state;
        int64_t rev = put(f->s, "/k", "1"), rev2 = -1;
        assert_int_equal(store_cas(f->s, "/k", "2", rev, &rev2), 0);
        assert_int_equal(rev2, rev + 1);
        assert_value(f->s, "/k", "2");
}

static void test_cas_with_stale_mod_rev_is_conflict(void **state) {
        struct fixture *f = *state;
        int64_t rev = put(f->s, "/k", "1");
        put(f->s, "/k", "2");
        assert_int_equal(store_cas(f->s, "/k", "3", rev, NULL), TIDE_E_CONFLICT);
        assert_value(f->s, "/k", "2");
}

static void test_cas_of_deleted_key_is_conflict(void **state) {
        struct fixture *f = *state;
        int64_t rev = put(f->s, "/k", "1");
        assert_int_equal(store_delete(f->s, "/k", NULL), 0);
        assert_int_equal(store_cas(f->s, "/k", "2", rev, NULL), TIDE_E_CONFLICT);
        assert_absent(f->s, "/k");
}

/* ---- limits ---- */

static void test_key_over_limit_is_too_large(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *key = xmalloc(STORE_KEY_MAX + 2);
        memset(key, 'k', STORE_KEY_MAX + 1);
        key[STORE_KEY_MAX + 1] = 0;
        assert_int_equal(store_put(f->s, key, "v", 0, NULL), TIDE_E_TOO_LARGE);
        struct store_kv kv = {};
        assert_int_equal(store_get(f->s, key, &kv), TIDE_E_TOO_LARGE);
        key[STORE_KEY_MAX] = 0;
        put(f->s, key, "v");
        assert_value(f->s, key, "v");
}

static void test_value_over_limit_is_too_large(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *value = xmalloc(STORE_VALUE_MAX + 2);
        memset(value, 'v', STORE_VALUE_MAX + 1);
        value[STORE_VALUE_MAX + 1] = 0;
        assert_int_equal(store_put(f->s, "/big", value, 0, NULL), TIDE_E_TOO_LARGE);
        value[STORE_VALUE_MAX] = 0;
        put(f->s, "/big", value);
        struct store_kv kv = {};
        assert_int_equal(store_get(f->s, "/big", &kv), 0);
        assert_int_equal(kv.value_len, STORE_VALUE_MAX);
        store_kv_clear(&kv);
}

/* etcd limits a whole request (--max-request-bytes, 3 MiB in these tests): a transaction of
 * several large values can pass it while each value is within STORE_VALUE_MAX. */
static void test_etcd_txn_over_request_limit_is_too_large(void **state) {
        struct fixture *f = *state;
        SKIP_UNLESS_ETCD();
        _cleanup_free_ char *value = xmalloc(STORE_VALUE_MAX);
        memset(value, 'v', STORE_VALUE_MAX - 1);
        value[STORE_VALUE_MAX - 1] = 0;
        const struct store_op ops[] = {
                { .type = STORE_OP_PUT, .key = "/big/1", .value = value },
                { .type = STORE_OP_PUT, .key = "/big/2", .value = value },
                { .type = STORE_OP_PUT, .key = "/big/3", .value = value },
        };
        const struct store_txn txn = { .success = ops, .n_success = 3 };
        assert_int_equal(store_txn(f->s, &txn, NULL, NULL), TIDE_E_TOO_LARGE);
        assert_absent(f->s, "/big/1");
        assert_int_equal(revision(f->s), f->rev0);
}

/* A range whose values add up to more than one request may hold. */
static void test_range_of_large_values_returns_them_all(void **state) {
        struct fixture *f = *state;
        enum { N = 6 };
        _cleanup_free_ char *value = xmalloc(STORE_VALUE_MAX);
        memset(value, 'v', STORE_VALUE_MAX - 1);
        value[STORE_VALUE_MAX - 1] = 0;
        for (int i = 0; i < N; i++) {
                char key[32];
                snprintf(key, sizeof key, "/large/%d", i);
                put(f->s, key, value);
        }
        struct store_kvs kvs = {};
        assert_int_equal(store_range(f->s, "/large/", 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, N);
        for (int i = 0; i < N; i++)
                assert_int_equal(kvs.items[i].value_len, STORE_VALUE_MAX - 1);
        store_kvs_clear(&kvs);
}

static void test_empty_or_null_key_is_invalid(void **state) {
        struct fixture *f = *state;
        struct store_kv kv = {};
        assert_int_equal(store_put(f->s, "", "v", 0, NULL), TIDE_E_INVALID);
        assert_int_equal(store_get(f->s, "", &kv), TIDE_E_INVALID);
        assert_int_equal(store_delete(f->s, NULL, NULL), TIDE_E_INVALID);
        assert_int_equal(store_put(f->s, "/k", NULL, 0, NULL), TIDE_E_INVALID);
        const struct store_op op = { .type = STORE_OP_DELETE_PREFIX, .key = "" };
        const struct store_txn txn = { .success = &op, .n_success = 1 };
        assert_int_equal(store_txn(f->s, &txn, NULL, NULL), TIDE_E_INVALID);
}

/* ---- leases ---- */

static void test_lease_grant_returns_positive_id(void **state) {
        struct fixture *f = *state;
        int64_t a = 0, b = 0;
        assert_int_equal(store_lease_grant(f->s, 10, &a), 0);
        assert_int_equal(store_lease_grant(f->s, 10, &b), 0);
        assert_true(a > 0);
        assert_true(b > 0);
        assert_true(a != b);
}

static void test_lease_ttl_out_of_range_is_invalid(void **state) {
        struct fixture *f = *state;
        int64_t id;
        assert_int_equal(store_lease_grant(f->s, 0, &id), TIDE_E_INVALID);
        assert_int_equal(store_lease_grant(f->s, STORE_LEASE_TTL_MAX + 1, &id), TIDE_E_INVALID);
}

static void test_put_with_unknown_lease_is_lease_error(void **state) {
        struct fixture *f = *state;
        assert_int_equal(store_put(f->s, "/k", "v", 12345, NULL), TIDE_E_LEASE);
        assert_absent(f->s, "/k");
        assert_int_equal(revision(f->s), f->rev0);
}

static void test_put_records_lease_on_key(void **state) {
        struct fixture *f = *state;
        int64_t id;
        assert_int_equal(store_lease_grant(f->s, 10, &id), 0);
        assert_int_equal(store_put(f->s, "/k", "v", id, NULL), 0);
        struct store_kv kv = {};
        assert_int_equal(store_get(f->s, "/k", &kv), 0);
        assert_int_equal(kv.lease, id);
        store_kv_clear(&kv);
}

static void test_leased_keys_vanish_after_expiry(void **state) {
        struct fixture *f = *state;
        int64_t id;
        int64_t t0 = mono_ms();
        assert_int_equal(store_lease_grant(f->s, 1, &id), 0);
        assert_int_equal(store_put(f->s, "/host/a", "up", id, NULL), 0);
        assert_int_equal(store_put(f->s, "/host/b", "up", id, NULL), 0);
        put(f->s, "/host/c", "no lease");
        int64_t before = revision(f->s);

        /* Gone once the TTL has passed, within STORE_LEASE_EXPIRY_LAG_MS. */
        struct store_kv kv = {};
        int r;
        while ((r = store_get(f->s, "/host/a", &kv)) == 0 && mono_ms() - t0 < 5000) {
                store_kv_clear(&kv);
                sleep_ms(20);
        }
        int64_t waited = mono_ms() - t0;
        assert_int_equal(r, TIDE_E_NOT_FOUND);
        assert_true(waited >= 1000);
        assert_true(waited < 1000 + STORE_LEASE_EXPIRY_LAG_MS + 200 || slow_mode());
        struct store_kvs kvs = {};
        assert_int_equal(store_range(f->s, "/host/", 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 1);
        assert_string_equal(kvs.items[0].key, "/host/c");
        store_kvs_clear(&kvs);
        /* Both deletions share one revision of their own. */
        assert_int_equal(revision(f->s), before + 1);
        assert_int_equal(store_lease_keepalive(f->s, id), TIDE_E_LEASE);
        assert_int_equal(store_put(f->s, "/host/a", "up", id, NULL), TIDE_E_LEASE);
}

static void test_keepalive_keeps_leased_keys(void **state) {
        struct fixture *f = *state;
        int64_t id;
        assert_int_equal(store_lease_grant(f->s, 1, &id), 0);
        assert_int_equal(store_put(f->s, "/host/a", "up", id, NULL), 0);
        for (int i = 0; i < 5; i++) {
                sleep_ms(400);
                assert_int_equal(store_lease_keepalive(f->s, id), 0);
        }
        assert_value(f->s, "/host/a", "up");
}

static void test_keepalive_of_unknown_lease_is_lease_error(void **state) {
        struct fixture *f = *state;
        assert_int_equal(store_lease_keepalive(f->s, 777), TIDE_E_LEASE);
        assert_int_equal(store_lease_revoke(f->s, 777), TIDE_E_LEASE);
}

static void test_revoke_deletes_leased_keys(void **state) {
        struct fixture *f = *state;
        int64_t id;
        assert_int_equal(store_lease_grant(f->s, 60, &id), 0);
        assert_int_equal(store_put(f->s, "/a", "1", id, NULL), 0);
        assert_int_equal(store_put(f->s, "/b", "2", id, NULL), 0);
        put(f->s, "/c", "3");
        int64_t rev = revision(f->s);

        assert_int_equal(store_lease_revoke(f->s, id), 0);
        assert_absent(f->s, "/a");
        assert_absent(f->s, "/b");
        assert_value(f->s, "/c", "3");
        assert_int_equal(revision(f->s), rev + 1);
        assert_int_equal(store_lease_revoke(f->s, id), TIDE_E_LEASE);
}

static void test_put_without_lease_detaches_key(void **state) {
        struct fixture *f = *state;
        int64_t id;
        assert_int_equal(store_lease_grant(f->s, 60, &id), 0);
        assert_int_equal(store_put(f->s, "/a", "1", id, NULL), 0);
        put(f->s, "/a", "2");
        assert_int_equal(store_lease_revoke(f->s, id), 0);
        assert_value(f->s, "/a", "2");
}

int main(int argc, char **argv) {
        int r;
        if (test_store_prologue(argc, argv, &r))
                return r;
        const struct CMUnitTest tests[] = {
                T(test_open_accepts_sqlite_url_and_plain_path),
                T(test_open_rejects_malformed_urls),
                T(test_open_etcd_with_no_member_answering_fails_at_once),
                T(test_open_accepts_etcd_url_and_fails_over),
                T(test_open_etcd_passes_over_a_member_that_does_not_answer),
                T(test_reopen_keeps_keys_and_revision),
                T(test_put_then_get_returns_value),
                T(test_get_absent_is_not_found),
                T(test_empty_value_round_trips),
                T(test_put_sets_create_rev_mod_rev_and_version),
                T(test_recreated_key_starts_a_new_life),
                T(test_range_returns_prefix_in_key_order),
                T(test_range_stops_at_limit),
                T(test_range_of_many_keys_returns_all_in_order),
                T(test_range_many_reads_each_prefix_at_one_revision),
                T(test_range_empty_prefix_returns_every_key),
                T(test_range_prefix_ending_in_0xff_bytes),
                T(test_range_of_absent_prefix_is_empty),
                T(test_delete_removes_key),
                T(test_delete_absent_is_not_found_and_writes_nothing),
                T(test_delete_prefix_removes_only_that_prefix),
                T(test_txn_applies_all_ops_at_one_revision),
                T(test_txn_runs_failure_branch_when_a_compare_fails),
                T(test_txn_without_writes_keeps_revision),
                T(test_txn_compares_revisions_and_version),
                T(test_txn_compares_values_bytewise),
                T(test_txn_compares_absent_key_as_zero_and_no_value),
                T(test_txn_naming_a_key_twice_is_invalid),
                T(test_txn_with_too_many_ops_is_too_large),
                T(test_create_of_existing_key_is_exists),
                T(test_cas_with_current_mod_rev_replaces),
                T(test_cas_with_stale_mod_rev_is_conflict),
                T(test_cas_of_deleted_key_is_conflict),
                T(test_key_over_limit_is_too_large),
                T(test_value_over_limit_is_too_large),
                T(test_etcd_txn_over_request_limit_is_too_large),
                T(test_etcd_refuses_another_clusters_member),
                T(test_range_of_large_values_returns_them_all),
                T(test_empty_or_null_key_is_invalid),
                T(test_lease_grant_returns_positive_id),
                T(test_lease_ttl_out_of_range_is_invalid),
                T(test_put_with_unknown_lease_is_lease_error),
                T(test_put_records_lease_on_key),
                T(test_leased_keys_vanish_after_expiry),
                T(test_keepalive_keeps_leased_keys),
                T(test_keepalive_of_unknown_lease_is_lease_error),
                T(test_revoke_deletes_leased_keys),
                T(test_put_without_lease_detaches_key),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
