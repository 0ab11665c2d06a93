/* test_store_concurrency.c — unit tests of the store under concurrent writers (threads sharing
 * a handle or with their own, and processes) incrementing counters by CAS, and of the
 * durability of acknowledged writes when the writing process is killed. They run on SQLite (test
 * store_concurrency) and on a real etcd (store_concurrency_etcd). */
#include "test_store_helpers.h"

static void test_threads_incrementing_by_cas_lose_no_update(void **state) {
        struct fixture *f = *state;
        enum { THREADS = 6, N = 60 };
        put(f->s, "/counter", "0");
        put(f->s, "/counter2", "0");
        struct incrementer inc[THREADS];
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++) {
                /* Half share the fixture's handle, half have their own connection. */
                inc[i] = (struct incrementer) { .path = f->path, .shared = i % 2 ? f->s : NULL, .n = N };
                assert_int_equal(pthread_create(&t[i], NULL, incrementer_run, &inc[i]), 0);
        }
        int retries = 0;
        for (int i = 0; i < THREADS; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(inc[i].error, 0);
                retries += inc[i].retries;
        }
        printf("# %d threads x %d x 2 increments: %d CAS retries\n", THREADS, N, retries);
        assert_counter(f->s, "/counter", THREADS * N);
        assert_counter(f->s, "/counter2", THREADS * N);
}

static void test_processes_incrementing_by_cas_lose_no_update(void **state) {
        struct fixture *f = *state;
        enum { PROCS = 4, N = 60 };
        put(f->s, "/counter", "0");
        put(f->s, "/counter2", "0");
        pid_t pids[PROCS];
        char n[16];
        snprintf(n, sizeof n, "%d", N);
        for (int i = 0; i < PROCS; i++)
                pids[i] = spawn_child(-1, "increment", f->path, n, NULL);
        for (int i = 0; i < PROCS; i++)
                assert_child_exits_0(pids[i]);
        assert_counter(f->s, "/counter", PROCS * N);
        assert_counter(f->s, "/counter2", PROCS * N);
}

/* ---- reads of several prefixes at one revision ---- */

struct pair_writer {
        const char *path;
        volatile bool stop;
        int written;
        int error;
};

/* Writes /pa/k and /pb/k with one counter value in one transaction, again and again, through
 * its own handle. */
static void *pair_writer_run(void *p) {
        struct pair_writer *w = p;
        struct store *s = NULL;
        w->error = store_open(w->path, &s);
        for (int i = 1; w->error >= 0 && !w->stop; i++) {
                char v[16];
                snprintf(v, sizeof v, "%d", i);
                struct store_op ops[] = {
                        { .type = STORE_OP_PUT, .key = "/pa/k", .value = v },
                        { .type = STORE_OP_PUT, .key = "/pb/k", .value = v },
                };
                const struct store_txn txn = { .success = ops, .n_success = 2 };
                w->error = store_txn(s, &txn, NULL, NULL);
                w->written = i;
        }
        store_free(s);
        return NULL;
}

/* While another connection changes both keys in each transaction, every read of the two
 * prefixes sees them with one value: the read is at one revision, not one per prefix. */
static void test_range_many_sees_no_torn_write(void **state) {
        struct fixture *f = *state;
        enum { READS = 300 };
        struct pair_writer w = { .path = f->path };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, pair_writer_run, &w), 0);
        const char *const prefixes[] = { "/pa/", "/pb/" };
        int torn = 0, seen = 0, reads = 0;
        int64_t deadline = mono_ms() + 20000;
        while (w.written < 1 && w.error >= 0 && mono_ms() < deadline)
                usleep(1000);
        int first = w.written;
        /* At least READS reads, and on until 100 writes happened among them. */
        for (; reads < READS || (w.written - first < 100 && w.error >= 0 && mono_ms() < deadline); reads++) {
                struct store_kvs kvs[2] = {};
                int64_t rev = 0;
                assert_int_equal(store_range_many(f->s, prefixes, 2, kvs, &rev), 0);
                if (kvs[0].n == 1 && kvs[1].n == 1) {
                        seen++;
                        if (!streq(kvs[0].items[0].value, kvs[1].items[0].value) ||
                            kvs[0].items[0].mod_rev != kvs[1].items[0].mod_rev || kvs[0].items[0].mod_rev > rev)
                                torn++;
                } else if (kvs[0].n != kvs[1].n) {
                        torn++;
                }
                store_kvs_clear(&kvs[0]);
                store_kvs_clear(&kvs[1]);
        }
        w.stop = true;
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(w.error, 0);
        printf("# %d reads of 2 prefixes during %d writes: %d torn\n", reads, w.written - first, torn);
        assert_true(w.written - first >= 100);
        assert_true(seen > reads / 2);
        assert_int_equal(torn, 0);
}

/* ---- group commit ---- */

enum { GC_THREADS = 8, GC_N = 40 };

struct gc_writer {
        struct store *s;
        int index;
        int64_t dead_lease;
        int64_t revs[GC_N]; /* each put's revision; 0 for the transactions meant to fail */
        int error;
};

/* Puts /gc/<index>/<i>; every fifth transaction also puts /gcbad/<index>/<i>, then a key on a
 * revoked lease, so that it fails as a whole (TIDE_E_LEASE) amid the others. */
static void *gc_writer_run(void *p) {
        struct gc_writer *w = p;
        for (int i = 0; i < GC_N && !w->error; i++) {
                char key[48], bad[48];
                snprintf(key, sizeof key, "/gc/%d/%03d", w->index, i);
                snprintf(bad, sizeof bad, "/gcbad/%d/%03d", w->index, i);
                bool ok = false;
                int64_t rev = 0;
                if (i % 5 == 4) {
                        struct store_op ops[2] = {
                                { .type = STORE_OP_PUT, .key = bad, .value = "x" },
                                { .type = STORE_OP_PUT, .key = key, .value = "x", .lease = w->dead_lease },
                        };
                        struct store_txn txn = { .success = ops, .n_success = 2 };
                        int r = store_txn(w->s, &txn, &ok, &rev);
                        if (r != TIDE_E_LEASE)
                                w->error = r < 0 ? r : TIDE_E_BACKEND;
                        w->revs[i] = 0;
                        continue;
                }
                /* Created once: the compare fails if anything wrote the key before. */
                struct store_cmp cmp = { .key = key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = 0 };
                struct store_op op = { .type = STORE_OP_PUT, .key = key, .value = key };
                struct store_txn txn = { .cmps = &cmp, .n_cmps = 1, .success = &op, .n_success = 1 };
                int r = store_txn(w->s, &txn, &ok, &rev);
                if (r < 0 || !ok)
                        w->error = r < 0 ? r : TIDE_E_CONFLICT;
                w->revs[i] = rev;
        }
        return NULL;
}

/* Threads sharing a handle commit together (fewer syncs than transactions), yet each
 * transaction is its own revision, one that fails leaves nothing, and the history a watch
 * reads is every revision once, in order, with the key that was written at it. */
static void test_group_commit_keeps_transactions_apart(void **state) {
        struct fixture *f = *state;
        int64_t dead = 0;
        assert_int_equal(store_lease_grant(f->s, 60, &dead), 0);
        assert_int_equal(store_lease_revoke(f->s, dead), 0);
        int64_t rev0 = revision(f->s);
        uint64_t txns0 = 0, commits0 = 0, txns1 = 0, commits1 = 0;
        bool sqlite = streq(store_backend_name(f->s), "sqlite");
        if (sqlite)
                store_sqlite_commit_stats(f->s, &txns0, &commits0);

        struct gc_writer w[GC_THREADS];
        pthread_t t[GC_THREADS];
        for (int k = 0; k < GC_THREADS; k++) {
                w[k] = (struct gc_writer) { .s = f->s, .index = k, .dead_lease = dead };
                assert_int_equal(pthread_create(&t[k], NULL, gc_writer_run, &w[k]), 0);
        }
        for (int k = 0; k < GC_THREADS; k++) {
                assert_int_equal(pthread_join(t[k], NULL), 0);
                assert_int_equal(w[k].error, 0);
        }
        /* Group commit is SQLite's (etcd batches its own way, out of sight). */
        if (sqlite) {
                store_sqlite_commit_stats(f->s, &txns1, &commits1);
                printf("# %" PRIu64 " transactions in %" PRIu64 " commits\n", txns1 - txns0, commits1 - commits0);
                assert_int_equal(txns1 - txns0, GC_THREADS * GC_N);
                assert_true(commits1 - commits0 < txns1 - txns0);
        }

        /* Every successful put: its own revision, the one its key has now. */
        enum { GOOD = GC_THREADS * (GC_N - GC_N / 5) };
        int64_t revs[GOOD];
        size_t n = 0;
        for (int k = 0; k < GC_THREADS; k++)
                for (int i = 0; i < GC_N; i++) {
                        if (i % 5 == 4)
                                continue;
                        char key[48];
                        snprintf(key, sizeof key, "/gc/%d/%03d", k, i);
                        struct store_kv kv = {};
                        assert_int_equal(store_get(f->s, key, &kv), 0);
                        assert_int_equal(kv.mod_rev, w[k].revs[i]);
                        store_kv_clear(&kv);
                        revs[n++] = w[k].revs[i];
                }
        assert_int_equal(n, GOOD);
        qsort(revs, n, sizeof *revs, cmp_i64);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(revs[i], rev0 + 1 + (int64_t) i); /* distinct, and nothing between */
        assert_int_equal(revision(f->s), rev0 + GOOD);

        /* The failed ones left nothing. */
        struct store_kvs kvs = {};
        assert_int_equal(store_range(f->s, "/gcbad/", 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, 0);
        store_kvs_clear(&kvs);

        /* The history: one event per revision, in order, naming the key put at it. */
        struct store_watch *wt = NULL;
        assert_int_equal(store_watch_new(f->s, "/gc/", rev0, &wt), 0);
        int64_t next = rev0 + 1;
        while (next <= rev0 + GOOD) {
                struct store_events ev = {};
                assert_true(store_watch_next(wt, 5000, &ev) >= 0);
                assert_true(ev.n > 0);
                for (size_t i = 0; i < ev.n; i++) {
                        assert_int_equal(ev.items[i].kv.mod_rev, next);
                        assert_string_equal(ev.items[i].kv.value, ev.items[i].kv.key);
                        next++;
                }
                store_events_clear(&ev);
        }
        store_watch_free(wt);
}

/* ---- durability ---- */

static void test_acknowledged_writes_survive_sigkill(void **state) {
        struct fixture *f = *state;
        store_free(f->s);
        f->s = NULL;

        int fds[2];
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid_t pid = spawn_child(fds[1], "stream", f->path, NULL);
        close(fds[1]);

        enum { KILL_AFTER = 300 };
        int32_t acked = -1, i;
        while (read(fds[0], &i, sizeof i) == sizeof i) {
                assert_int_equal(i, acked + 1);
                acked = i;
                if (acked == KILL_AFTER)
                        assert_int_equal(kill(pid, SIGKILL), 0);
        }
        close(fds[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        assert_true(acked >= KILL_AFTER);

        assert_int_equal(store_open(f->path, &f->s), 0);
        for (i = 0; i <= acked; i++) {
                char key[32], value[64];
                snprintf(key, sizeof key, "/crash/%07d", i);
                snprintf(value, sizeof value, "value of %d", i);
                assert_value(f->s, key, value);
        }
        /* At most the one write in flight at the kill is there unacknowledged. */
        struct store_kvs kvs = {};
        assert_int_equal(store_range(f->s, "/crash/", 0, &kvs, NULL), 0);
        assert_true(kvs.n == (size_t) acked + 1 || kvs.n == (size_t) acked + 2);
        store_kvs_clear(&kvs);
        assert_true(revision(f->s) >= acked + 1);
}

int main(int argc, char **argv) {
        int r;
        if (test_store_prologue(argc, argv, &r))
                return r;
        const struct CMUnitTest tests[] = {
                T(test_threads_incrementing_by_cas_lose_no_update),
                T(test_processes_incrementing_by_cas_lose_no_update),
                T(test_range_many_sees_no_torn_write),
                T(test_group_commit_keeps_transactions_apart),
                T(test_acknowledged_writes_survive_sigkill),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
