/* Unit tests of the arithmetic under the elastic plan: weighted max-min water-filling within
 * floors and caps (elastic_share) and the CPU shares that keep reservations (elastic_shares). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/util.h"
#include "ctl/elastic.h"

#define assert_near(a, b) assert_true(fabs((double) (a) - (double) (b)) < 1e-9)

/* ---- water-filling ---- */

static void share_equal_weights_split_evenly(void **s) {
        double f[3] = { 0 }, c[3] = { 8, 8, 8 }, w[3] = { 1, 1, 1 }, r[3];
        elastic_share(6, f, c, w, 3, r);
        for (int i = 0; i < 3; i++)
                assert_near(r[i], 2);
}

static void share_weights_split_in_proportion(void **s) {
        double f[2] = { 0 }, c[2] = { 8, 8 }, w[2] = { 750, 500 }, r[2];
        elastic_share(8, f, c, w, 2, r);
        assert_near(r[0], 4.8);
        assert_near(r[1], 3.2);
}

static void share_what_one_does_not_want_goes_to_the_others(void **s) {
        double f[3] = { 0 }, c[3] = { 1, 8, 8 }, w[3] = { 1, 1, 2 }, r[3];
        elastic_share(7, f, c, w, 3, r);
        assert_near(r[0], 1);
        assert_near(r[1], 2);
        assert_near(r[2], 4);
}

static void share_leftover_is_forced_on_no_one(void **s) {
        double f[2] = { 0 }, c[2] = { 1, 2 }, w[2] = { 1, 1 }, r[2];
        elastic_share(8, f, c, w, 2, r);
        assert_near(r[0], 1);
        assert_near(r[1], 2);
}

static void share_floor_is_a_lower_bound_not_a_bonus(void **s) {
        /* db's fair part (4.8) is above its floor (4): it gets 4.8, not 4 + 0.6 * 4 */
        double f[2] = { 4, 0 }, c[2] = { 8, 8 }, w[2] = { 750, 500 }, r[2];
        elastic_share(8, f, c, w, 2, r);
        assert_near(r[0], 4.8);
        assert_near(r[1], 3.2);
        /* a low priority with a large floor: the floor binds, the rest goes to the other */
        double f2[2] = { 6, 0 }, w2[2] = { 100, 900 };
        elastic_share(8, f2, c, w2, 2, r);
        assert_near(r[0], 6);
        assert_near(r[1], 2);
}

static void share_floors_over_capacity_scale_down(void **s) {
        double f[2] = { 6, 4 }, c[2] = { 8, 8 }, w[2] = { 1, 1 }, r[2];
        elastic_share(5, f, c, w, 2, r);
        assert_near(r[0], 3);
        assert_near(r[1], 2);
}

static void share_floor_above_cap_counts_as_cap(void **s) {
        double f[2] = { 4, 0 }, c[2] = { 1, 8 }, w[2] = { 1, 1 }, r[2];
        elastic_share(8, f, c, w, 2, r);
        assert_near(r[0], 1);
        assert_near(r[1], 7);
}

static void share_zero_weight_gets_its_floor_only(void **s) {
        double f[2] = { 1, 0 }, c[2] = { 8, 8 }, w[2] = { 0, 1 }, r[2];
        elastic_share(6, f, c, w, 2, r);
        assert_near(r[0], 1);
        assert_near(r[1], 5);
}

static uint64_t rng_state = 88172645463325252ull;
static double rnd(void) {   /* xorshift64, in [0, 1) */
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (double) (rng_state >> 11) / 9007199254740992.0;
}

static double clampd(double x, double lo, double hi) {
        return x < lo ? lo : x > hi ? hi : x;
}

static void share_matches_bisection_on_random_cases(void **s) {
        for (int t = 0; t < 2000; t++) {
                size_t n = 1 + (size_t) (rnd() * 12);
                double f[12], c[12], w[12], r[12], cap = rnd() * 40, sum_f = 0, sum_c = 0;
                for (size_t i = 0; i < n; i++) {
                        c[i] = rnd() < 0.1 ? 0 : rnd() * 10;
                        f[i] = rnd() < 0.5 ? 0 : fmin(c[i], rnd() * 4);
                        w[i] = 1 + floor(rnd() * 1000);
                        sum_f += f[i];
                        sum_c += c[i];
                }
                elastic_share(cap, f, c, w, n, r);
                double got = 0;
                for (size_t i = 0; i < n; i++) {
                        assert_true(r[i] <= c[i] + 1e-9);
                        got += r[i];
                }
                if (sum_f >= cap || sum_c <= cap) {
                        assert_true(fabs(got - fmin(fmax(cap, 0), sum_c)) < 1e-6 || sum_f >= cap);
                        continue;
                }
                assert_true(fabs(got - cap) < 1e-6);
                double lo = 0, hi = 1e6;
                for (int k = 0; k < 200; k++) {
                        double mid = (lo + hi) / 2, g = 0;
                        for (size_t i = 0; i < n; i++)
                                g += clampd(mid * w[i], f[i], c[i]);
                        if (g < cap)
                                lo = mid;
                        else
                                hi = mid;
                }
                for (size_t i = 0; i < n; i++)
                        assert_true(fabs(r[i] - clampd(hi * w[i], f[i], c[i])) < 1e-6);
        }
}

/* ---- shares ---- */

static void shares_follow_priority_without_reservations(void **s) {
        int prio[4] = { 500, 750, 250, 1 }, r[4];
        double res[4] = { 0 };
        bool fixed[4] = { false };
        elastic_shares(8, prio, res, fixed, 4, r);
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
        elastic_shares(8, prio, res, fixed, 2, r);
        assert_int_equal(r[1], 1536);
        assert_true((double) r[0] / (r[0] + r[1]) >= 0.5);
        assert_int_equal(r[0], 1536);
}

static void shares_leave_priority_alone_when_it_covers_the_reservation(void **s) {
        int prio[2] = { 750, 500 }, r[2];
        double res[2] = { 4, 0 };
        bool fixed[2] = { false };
        elastic_shares(8, prio, res, fixed, 2, r);
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
                elastic_shares(cpus, prio, res, fixed, n, r);
                double sum = 0, top = 0;
                for (size_t i = 0; i < n; i++) {
                        assert_true(r[i] >= ELASTIC_SHARES_MIN && r[i] <= ELASTIC_SHARES_MAX);
                        sum += r[i];
                        if (!fixed[i])
                                top = fmax(top, r[i]);
                }
                if (top >= ELASTIC_SHARES_MAX)
                        continue;   /* scaled: guaranteed among the tuned ones only */
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
        elastic_shares(8, prio, res, fixed, 3, r);
        assert_int_equal(r[0], ELASTIC_SHARES_MAX);
        assert_true((double) r[0] / (r[0] + r[1] + r[2]) >= 7.5 / 8 - 1e-3);
        assert_int_equal(r[1], r[2]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(share_equal_weights_split_evenly),
                cmocka_unit_test(share_weights_split_in_proportion),
                cmocka_unit_test(share_what_one_does_not_want_goes_to_the_others),
                cmocka_unit_test(share_leftover_is_forced_on_no_one),
                cmocka_unit_test(share_floor_is_a_lower_bound_not_a_bonus),
                cmocka_unit_test(share_floors_over_capacity_scale_down),
                cmocka_unit_test(share_floor_above_cap_counts_as_cap),
                cmocka_unit_test(share_zero_weight_gets_its_floor_only),
                cmocka_unit_test(share_matches_bisection_on_random_cases),
                cmocka_unit_test(shares_follow_priority_without_reservations),
                cmocka_unit_test(shares_keep_a_reservation_under_full_contention),
                cmocka_unit_test(shares_leave_priority_alone_when_it_covers_the_reservation),
                cmocka_unit_test(shares_guarantee_every_reservation_on_random_hosts),
                cmocka_unit_test(shares_scale_into_range_keeping_ratios),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
