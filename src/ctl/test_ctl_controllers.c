/* Unit tests of the controllers' runner (ctl_controllers.h) stepped on an injected clock: which
 * passes run when, with the time given, the store and the election revision they get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "ctl/ctl_controllers.h"
#include "store/store.h"

#define T0 1700000000000LL /* an epoch time in ms */
#define MAX_CALLS 64

struct probe {
        int64_t calls[MAX_CALLS]; /* now_ms of each pass */
        size_t n;
        struct store *store;
        int64_t election_rev;
        int fail; /* returned by each pass */
};

static int probe_pass(struct ctl_pass_ctx *ctx, int64_t now_ms) {
        struct probe *p = ctx->state;
        assert_true(p->n < MAX_CALLS);
        p->calls[p->n++] = now_ms;
        p->store = ctx->store;
        p->election_rev = ctx->election_rev;
        return p->fail;
}

static struct store *store_of_test(char **dir) {
        const char *tmp = getenv("TMPDIR");
        *dir = xasprintf("%s/tide-test-ctl-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(*dir));
        _cleanup_free_ char *url = xasprintf("sqlite:%s/store.db", *dir);
        struct store *s = NULL;
        assert_int_equal(store_open(url, &s), 0);
        return s;
}

static void test_passes_on_their_periods(void **state) {
        (void) state;
        _cleanup_free_ char *dir = NULL;
        struct store *s = store_of_test(&dir);
        struct probe fast = {}, slow = {};
        const struct ctl_controller table[] = {
                { .name = "fast", .period_ms = 100, .pass = probe_pass, .state = &fast },
                { .name = "slow", .period_ms = 1000, .pass = probe_pass, .state = &slow },
        };
        struct ctl_runner *r = NULL;
        assert_int_equal(ctl_runner_new(table, 2, s, 42, &r), 0);

        /* Both at once at the start; then fast every 100 ms, slow every second. */
        assert_int_equal(ctl_runner_step(r, T0), 100);
        assert_int_equal(fast.n, 1);
        assert_int_equal(slow.n, 1);
        assert_true(fast.store == s && fast.election_rev == 42);
        for (int64_t t = T0 + 10; t <= T0 + 1000; t += 10)
                (void) ctl_runner_step(r, t);
        assert_int_equal(fast.n, 11); /* T0, T0+100, ..., T0+1000 */
        assert_int_equal(slow.n, 2);  /* T0, T0+1000 */
        for (size_t i = 0; i < fast.n; i++)
                assert_int_equal(fast.calls[i], T0 + 100 * (int64_t) i);
        assert_int_equal(slow.calls[1], T0 + 1000);
        /* What is left until the next one is due. */
        assert_int_equal(ctl_runner_step(r, T0 + 1050), 50);
        ctl_runner_free(r);
        store_free(s);
        (void) rm_rf(dir);
}

/* A controller that fell behind (a long pass, a stalled machine) runs once, not once per missed
 * period, and keeps its period from then on; a failing pass does not stop the others. */
static void test_no_burst_after_a_stall(void **state) {
        (void) state;
        _cleanup_free_ char *dir = NULL;
        struct store *s = store_of_test(&dir);
        struct probe p = {}, failing = { .fail = TIDE_E_BACKEND };
        const struct ctl_controller table[] = {
                { .name = "p", .period_ms = 100, .pass = probe_pass, .state = &p },
                { .name = "failing", .period_ms = 100, .pass = probe_pass, .state = &failing },
        };
        struct ctl_runner *r = NULL;
        assert_int_equal(ctl_runner_new(table, 2, s, 0, &r), 0);
        (void) ctl_runner_step(r, T0);
        (void) ctl_runner_step(r, T0 + 5000); /* 49 periods missed */
        assert_int_equal(p.n, 2);
        assert_int_equal(ctl_runner_step(r, T0 + 5000), 100);
        (void) ctl_runner_step(r, T0 + 5099);
        assert_int_equal(p.n, 2);
        (void) ctl_runner_step(r, T0 + 5100);
        assert_int_equal(p.n, 3);
        assert_int_equal(failing.n, 3);
        ctl_runner_free(r);
        store_free(s);
        (void) rm_rf(dir);
}

static void test_refuses_bad_entries(void **state) {
        (void) state;
        struct probe p = {};
        struct ctl_runner *r = NULL;
        struct store *fake = (struct store *) &p; /* never used: refused before */
        const struct ctl_controller no_period = { .name = "x", .period_ms = 0, .pass = probe_pass, .state = &p };
        const struct ctl_controller no_pass = { .name = "x", .period_ms = 10, .state = &p };
        assert_int_equal(ctl_runner_new(&no_period, 1, fake, 0, &r), TIDE_E_INVALID);
        assert_int_equal(ctl_runner_new(&no_pass, 1, fake, 0, &r), TIDE_E_INVALID);
        assert_null(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_passes_on_their_periods),
                cmocka_unit_test(test_no_burst_after_a_stall),
                cmocka_unit_test(test_refuses_bad_entries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
