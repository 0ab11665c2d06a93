/* Unit tests of the CPU shares that keep reservations under the elastic plan (elastic_cpu_shares);
 * the water-filling under it is common/fairshare.c's (test_fairshare.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/util.h"
#include "ctl/elastic.h"

static uint64_t rng_state = 88172645463325252ull;
static double rnd(void) { /* xorshift64, in [0, 1) */
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (double) (rng_state >> 11) / 9007199254740992.0;
}

/* ---- shares ---- */

static void shares_follow_priority_without_reservations(void **s) {
        int prio[4] = { 500, 750, 250, 1 }, r[4];
        double res[4] = { 0 };
        bool fixed[4] = { false };
        elastic_cpu_shares(8, prio, res, fixed, 4, r);
        assert_int_equal(r[0], 1024);
        assert_int_equal(r[1], 1536);
        assert_int_equal(r[2], 512);
        assert_int_equal(r[3], 2);
}

static void shares_keep_a_reservation_under_full_contention(void **s) {
        /* a normal db reserving half against a high web: shares make the split 50/50 */
        int prio[2] = { 500, 750 }, r[2];
        double res[2] = { 4, 0 };
        bool fixed[2] = { false };
        elastic_cpu_shares(8, prio, res, fixed, 2, r);
        assert_int_equal(r[1], 1536);
        assert_true((double) r[0] / (r[0] + r[1]) >= 0.5);
        assert_int_equal(r[0], 1536);
}

static void shares_leave_priority_alone_when_it_covers_the_reservation(void **s) {
        int prio[2] = { 750, 500 }, r[2];
        double res[2] = { 4, 0 };
        bool fixed[2] = { false };
        elastic_cpu_shares(8, prio, res, fixed, 2, r);
        assert_int_equal(r[0], 1536);
        assert_int_equal(r[1], 1024);
}

static void shares_guarantee_every_reservation_on_random_hosts(void **s) {
        for (int t = 0; t < 500; t++) {
                size_t n = 1 + (size_t) (rnd() * 10);
                int prio[10], r[10];
                double res[10], cpus = 4 + floor(rnd() * 60), left = cpus * 0.9;
                bool fixed[10];
                for (size_t i = 0; i < n; i++) {
                        prio[i] = 1 + (int) (rnd() * 1000);
                        fixed[i] = rnd() < 0.2;
                        res[i] = fixed[i] || rnd() < 0.5 ? 0 : fmin(left, rnd() * cpus / 3);
                        left -= res[i];
                }
                elastic_cpu_shares(cpus, prio, res, fixed, n, r);
                double sum = 0, top = 0;
                for (size_t i = 0; i < n; i++) {
                        assert_true(r[i] >= ELASTIC_SHARES_MIN && r[i] <= ELASTIC_SHARES_MAX);
                        sum += r[i];
                        if (!fixed[i])
                                top = fmax(top, r[i]);
                }
                if (top >= ELASTIC_SHARES_MAX)
                        continue; /* scaled: guaranteed among the tuned ones only */
                for (size_t i = 0; i < n; i++) {
                        if (fixed[i])
                                assert_int_equal(r[i], ELASTIC_SHARES_BASE);
                        else
                                assert_true(r[i] / sum >= res[i] / cpus - 1e-9);
                }
        }
}

static void shares_scale_into_range_keeping_ratios(void **s) {
        int prio[3] = { 1000, 1000, 1000 }, r[3];
        double res[3] = { 7.5, 0, 0 };
        bool fixed[3] = { false };
        elastic_cpu_shares(8, prio, res, fixed, 3, r);
        assert_int_equal(r[0], ELASTIC_SHARES_MAX);
        assert_true((double) r[0] / (r[0] + r[1] + r[2]) >= 7.5 / 8 - 1e-3);
        assert_int_equal(r[1], r[2]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(shares_follow_priority_without_reservations),
                cmocka_unit_test(shares_keep_a_reservation_under_full_contention),
                cmocka_unit_test(shares_leave_priority_alone_when_it_covers_the_reservation),
                cmocka_unit_test(shares_guarantee_every_reservation_on_random_hosts),
                cmocka_unit_test(shares_scale_into_range_keeping_ratios),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
