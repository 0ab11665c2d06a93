/* test_store_helpers.h — what the store's test programs share: a fresh store per test, assertions
 * on keys, CAS counters, and child processes.
 *
 * The backend is SQLite (a store file per test in a temporary directory) unless TIDE_TEST_STORE
 * says "etcd" (the program starts a one-member etcd of its own, store_etcd_launch.h; exit 77
 * when etcd is not installed), "etcd3-lost-follower" or "etcd3-lost-leader" (three members, of
 * which the program kills one that does not lead, or the leader, before the tests: they run on
 * the two left, through a URL that names the dead member first), or "etcd:URL" (an etcd that
 * runs already: its keys are deleted).
 * On etcd every test starts on an empty key space (store_etcd_reset), but the revision goes on:
 * tests count revisions from the fixture's rev0, the store's revision when the test began.
 *
 * Other processes are the test program run again with "--child ROLE ..." (posix_spawn, not a
 * bare fork): they start with no inherited SQLite connection, which SQLite forbids using across
 * fork, and they are checked like any program under valgrind --trace-children=yes. Each test
 * program includes this header once, in its only file. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "store/store.h"
#include "store/store_backend.h"
#include "store/store_etcd_launch.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))

static char *test_dir;
static unsigned test_counter;
static char self_path[4096];
static struct store_etcd_launch *test_etcd; /* the etcd this program started */
static char *test_etcd_url;                 /* the etcd store's URL; NULL: SQLite */

extern char **environ;

struct fixture {
        char *path; /* what store_open takes: a file (SQLite) or the etcd URL */
        struct store *s;
        int64_t rev0; /* the store's revision when the test began: 0 on SQLite */
};

static inline const char *test_store_kind(void) {
        const char *k = getenv("TIDE_TEST_STORE");
        return k && *k ? k : "sqlite";
}

static inline bool test_on_etcd(void) {
        return startswith(test_store_kind(), "etcd");
}

/* Skips a test that only means something on one backend. */
#define SKIP_UNLESS_SQLITE() \
        do { \
                if (test_on_etcd()) \
                        skip(); \
        } while (0)
#define SKIP_UNLESS_ETCD() \
        do { \
                if (!test_on_etcd()) \
                        skip(); \
        } while (0)

/* Three members (leases of 1 s possible), one of them killed: the URL names it first. */
static inline int start_etcd3_less_one(bool kill_leader) {
        if (store_etcd_launch_start_timed(3, 25, &test_etcd) < 0)
                return -1;
        size_t leader;
        if (store_etcd_launch_leader(test_etcd, &leader) < 0)
                return -1;
        size_t dead = kill_leader ? leader : (leader + 1) % 3;
        if (store_etcd_launch_kill(test_etcd, dead) < 0)
                return -1;
        test_etcd_url = xasprintf("etcd:%s,%s,%s", store_etcd_launch_endpoint(test_etcd, dead),
                                  store_etcd_launch_endpoint(test_etcd, (dead + 1) % 3),
                                  store_etcd_launch_endpoint(test_etcd, (dead + 2) % 3));
        fprintf(stderr, "# three etcd members, m%zu (%s) killed\n", dead, kill_leader ? "the leader" : "a follower");
        /* The two left have (re)elected a leader before the first test. */
        int64_t t0 = mono_ms();
        while (store_etcd_launch_leader(test_etcd, &leader) < 0) {
                if (mono_ms() - t0 > 10000)
                        return -1;
                nanosleep(&(struct timespec) { .tv_nsec = 50000000 }, NULL);
        }
        return 0;
}

static inline int group_setup(void **state) {
        if (streq(test_store_kind(), "etcd")) {
                if (store_etcd_launch_start(1, &test_etcd) < 0)
                        return -1;
                test_etcd_url = xstrdup(store_etcd_launch_url(test_etcd));
        } else if (streq(test_store_kind(), "etcd3-lost-follower") || streq(test_store_kind(), "etcd3-lost-leader")) {
                if (start_etcd3_less_one(streq(test_store_kind(), "etcd3-lost-leader")) < 0)
                        return -1;
        } else if (startswith(test_store_kind(), "etcd:"))
                test_etcd_url = xstrdup(test_store_kind());
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *templ = xasprintf("%s/tide-store-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(templ))
                return -1;
        test_dir = TAKE_PTR(templ);
        return 0;
}

static inline int group_teardown(void **state) {
        int r = rm_rf(test_dir);
        free(test_dir);
        test_dir = NULL;
        store_etcd_launch_free(test_etcd);
        test_etcd = NULL;
        free(test_etcd_url);
        test_etcd_url = NULL;
        return r < 0 ? -1 : 0;
}

static inline int setup(void **state) {
        struct fixture *f = xcalloc(1, sizeof *f);
        f->path = test_etcd_url ? xstrdup(test_etcd_url) : xasprintf("%s/store-%u.db", test_dir, ++test_counter);
        if (store_open(f->path, &f->s) < 0) {
                free(f->path);
                free(f);
                return -1;
        }
        if (test_etcd_url) {
                store_etcd_reset(f->s);
                if (store_revision(f->s, &f->rev0) < 0)
                        return -1;
        }
        *state = f;
        return 0;
}

static inline int teardown(void **state) {
        struct fixture *f = *state;
        store_free(f->s);
        free(f->path);
        free(f);
        return 0;
}

/* Valgrind slows everything ~20x: timing assertions are relaxed there. */
static inline bool slow_mode(void) {
        const char *p = getenv("LD_PRELOAD");
        return (p && strstr(p, "vgpreload")) || getenv("TIDE_TEST_SLOW");
}

static inline int64_t put(struct store *s, const char *key, const char *value) {
        int64_t rev = -1;
        assert_int_equal(store_put(s, key, value, 0, &rev), 0);
        return rev;
}

static inline int64_t revision(struct store *s) {
        int64_t rev = -1;
        assert_int_equal(store_revision(s, &rev), 0);
        return rev;
}

static inline void assert_value(struct store *s, const char *key, const char *value) {
        struct store_kv kv = {};
        assert_int_equal(store_get(s, key, &kv), 0);
        assert_string_equal(kv.key, key);
        assert_string_equal(kv.value, value);
        assert_int_equal(kv.value_len, strlen(value));
        store_kv_clear(&kv);
}

static inline void assert_absent(struct store *s, const char *key) {
        struct store_kv kv = {};
        assert_int_equal(store_get(s, key, &kv), TIDE_E_NOT_FOUND);
}

static inline void sleep_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static inline int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

/* Starts this program as "--child" with the given arguments (NULL-terminated), its stdout on
 * stdout_fd when that is >= 0. */
static inline pid_t spawn_child(int stdout_fd, ...) {
        char *argv[16] = { self_path, (char *) "--child" };
        size_t n = 2;
        va_list ap;
        va_start(ap, stdout_fd);
        for (char *a; n < ELEMENTSOF(argv) - 1 && (a = va_arg(ap, char *));)
                argv[n++] = a;
        va_end(ap);
        argv[n] = NULL;

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        if (stdout_fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, stdout_fd, STDOUT_FILENO);
        pid_t pid = -1;
        int r = posix_spawn(&pid, self_path, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        assert_int_equal(r, 0);
        return pid;
}

static inline void assert_child_exits_0(pid_t pid) {
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- concurrent writers ---- */

/* Increments the decimal counter at key by CAS, retrying on conflict. Returns 0 or an error;
 * *retries counts lost races. */
static inline int increment(struct store *s, const char *key, int *retries) {
        for (;;) {
                struct store_kv kv = {};
                int r = store_get(s, key, &kv);
                if (r < 0)
                        return r;
                int64_t n;
                r = parse_int64(kv.value, 0, INT64_MAX, &n);
                int64_t mod_rev = kv.mod_rev;
                store_kv_clear(&kv);
                if (r < 0)
                        return r;
                char buf[32];
                snprintf(buf, sizeof buf, "%" PRId64, n + 1);
                r = store_cas(s, key, buf, mod_rev, NULL);
                if (r != TIDE_E_CONFLICT)
                        return r;
                (*retries)++;
        }
}

struct incrementer {
        const char *path;
        struct store *shared; /* NULL: opens its own handle */
        int n;
        int retries;
        int error;
};

static inline void *incrementer_run(void *p) {
        struct incrementer *inc = p;
        struct store *s = inc->shared;
        int r = 0;
        if (!s)
                r = store_open(inc->path, &s);
        for (int i = 0; r >= 0 && i < inc->n; i++) {
                r = increment(s, "/counter", &inc->retries);
                if (r >= 0)
                        r = increment(s, "/counter2", &inc->retries);
        }
        inc->error = r < 0 ? r : 0;
        if (!inc->shared)
                store_free(s);
        return NULL;
}

static inline void assert_counter(struct store *s, const char *key, int64_t expected) {
        struct store_kv kv = {};
        assert_int_equal(store_get(s, key, &kv), 0);
        int64_t n = -1;
        assert_int_equal(parse_int64(kv.value, 0, INT64_MAX, &n), 0);
        assert_int_equal(n, expected);
        assert_int_equal(kv.version, expected + 1);
        store_kv_clear(&kv);
}

/* ---- child roles ---- */

/* put PATH KEY VALUE: puts KEY after a pause, then /acked = the monotonic time (us) at which
 * that put returned. */
static inline int child_put(char **argv) {
        struct store *s = NULL;
        sleep_ms(100);
        int r = store_open(argv[0], &s);
        if (r >= 0)
                r = store_put(s, argv[1], argv[2], 0, NULL);
        if (r >= 0) {
                char buf[32];
                snprintf(buf, sizeof buf, "%" PRId64, mono_us());
                r = store_put(s, "/acked", buf, 0, NULL);
        }
        store_free(s);
        return r;
}

/* increment PATH N: N increments of /counter and of /counter2, by CAS. */
static inline int child_increment(char **argv) {
        int64_t n;
        int r = parse_int64(argv[1], 1, 1000000, &n);
        if (r < 0)
                return r;
        struct incrementer inc = { .path = argv[0], .n = (int) n };
        incrementer_run(&inc);
        return inc.error;
}

/* stream PATH: puts /crash/<i> = "value of <i>" for i = 0, 1, ... and writes i (int32_t) to
 * stdout after each put has returned, until killed. */
static inline int child_stream(char **argv) {
        struct store *s = NULL;
        int r = store_open(argv[0], &s);
        for (int32_t i = 0; r >= 0; i++) {
                char key[32], value[64];
                snprintf(key, sizeof key, "/crash/%07d", i);
                snprintf(value, sizeof value, "value of %d", i);
                r = store_put(s, key, value, 0, NULL);
                /* Acknowledged only now that the put has returned. */
                if (r >= 0 && write(STDOUT_FILENO, &i, sizeof i) != sizeof i)
                        r = -EPIPE;
        }
        store_free(s);
        return r;
}

static inline int child_main(int argc, char **argv) {
        static const struct {
                const char *role;
                int (*run)(char **argv);
                int argc;
        } roles[] = {
                { "put", child_put, 3 },
                { "increment", child_increment, 2 },
                { "stream", child_stream, 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(roles); i++)
                if (argc == roles[i].argc + 1 && streq(argv[0], roles[i].role)) {
                        int r = roles[i].run(argv + 1);
                        if (r < 0)
                                fprintf(stderr, "child %s: %s\n", argv[0], tide_strerror(r));
                        return r < 0 ? 1 : 0;
                }
        fprintf(stderr, "unknown child role\n");
        return 2;
}

/* Runs a --child invocation (returns true and its exit status in *ret), or finds this
 * program's path for spawn_child (returns false). */
static inline bool test_store_prologue(int argc, char **argv, int *ret) {
        if (argc >= 2 && streq(argv[1], "--child")) {
                *ret = child_main(argc - 2, argv + 2);
                return true;
        }
        if (test_on_etcd() && !startswith(test_store_kind(), "etcd:") && !store_etcd_launch_available()) {
                fprintf(stderr, "%s is not installed: skipped\n", STORE_ETCD_BINARY);
                *ret = 77;
                return true;
        }
        ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
        if (n <= 0) {
                *ret = 1;
                return true;
        }
        self_path[n] = 0;
        return false;
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
