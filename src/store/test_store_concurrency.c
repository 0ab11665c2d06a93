/* test_store_concurrency.c — unit tests of the store under concurrent writers (threads sharing
 * a handle or with their own, and processes) incrementing counters by CAS, and of the
 * durability of acknowledged writes when the writing process is killed. */
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
                T(test_acknowledged_writes_survive_sigkill),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
