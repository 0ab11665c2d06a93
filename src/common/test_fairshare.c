/* Unit tests of fairshare.c: weighted max-min water-filling within floors and caps, the one
 * implementation under the elastic plan's entitlements and the simulator's contention model
 * (both sets of cases that the two former implementations had are here). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/fairshare.h"
#include "common/util.h"

#define assert_near(a, b) assert_true(fabs((double) (a) - (double) (b)) < 1e-9)

/* ---- water-filling ---- */

static void share_equal_weights_split_evenly(void **s) {
        double f[3] = { 0 }, c[3] = { 8, 8, 8 }, w[3] = { 1, 1, 1 }, r[3];
        fairshare_split(6, f, c, w, 3, r);
        for (int i = 0; i < 3; i++)
                assert_near(r[i], 2);
}

static void share_weights_split_in_proportion(void **s) {
        double f[2] = { 0 }, c[2] = { 8, 8 }, w[2] = { 750, 500 }, r[2];
        fairshare_split(8, f, c, w, 2, r);
        assert_near(r[0], 4.8);
        assert_near(r[1], 3.2);
}

static void share_what_one_does_not_want_goes_to_the_others(void **s) {
        double f[3] = { 0 }, c[3] = { 1, 8, 8 }, w[3] = { 1, 1, 2 }, r[3];
        fairshare_split(7, f, c, w, 3, r);
        assert_near(r[0], 1);
        assert_near(r[1], 2);
        assert_near(r[2], 4);
}

static void share_leftover_is_forced_on_no_one(void **s) {
        double f[2] = { 0 }, c[2] = { 1, 2 }, w[2] = { 1, 1 }, r[2];
        fairshare_split(8, f, c, w, 2, r);
        assert_near(r[0], 1);
        assert_near(r[1], 2);
}

static void share_floor_is_a_lower_bound_not_a_bonus(void **s) {
        /* db's fair part (4.8) is above its floor (4): it gets 4.8, not 4 + 0.6 * 4 */
        double f[2] = { 4, 0 }, c[2] = { 8, 8 }, w[2] = { 750, 500 }, r[2];
        fairshare_split(8, f, c, w, 2, r);
        assert_near(r[0], 4.8);
        assert_near(r[1], 3.2);
        /* a low priority with a large floor: the floor binds, the rest goes to the other */
        double f2[2] = { 6, 0 }, w2[2] = { 100, 900 };
        fairshare_split(8, f2, c, w2, 2, r);
        assert_near(r[0], 6);
        assert_near(r[1], 2);
}

static void share_floors_over_capacity_scale_down(void **s) {
        double f[2] = { 6, 4 }, c[2] = { 8, 8 }, w[2] = { 1, 1 }, r[2];
        fairshare_split(5, f, c, w, 2, r);
        assert_near(r[0], 3);
        assert_near(r[1], 2);
}

static void share_floor_above_cap_counts_as_cap(void **s) {
        double f[2] = { 4, 0 }, c[2] = { 1, 8 }, w[2] = { 1, 1 }, r[2];
        fairshare_split(8, f, c, w, 2, r);
        assert_near(r[0], 1);
        assert_near(r[1], 7);
}

static void share_zero_weight_gets_its_floor_only(void **s) {
        double f[2] = { 1, 0 }, c[2] = { 8, 8 }, w[2] = { 0, 1 }, r[2];
        fairshare_split(6, f, c, w, 2, r);
        assert_near(r[0], 1);
        assert_near(r[1], 5);
}

static uint64_t rng_state = 88172645463325252ull;
static double rnd(void) { /* xorshift64, in [0, 1) */
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
                fairshare_split(cap, f, c, w, n, r);
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

/* ---- without floors (the simulator's use) ---- */

static void check_shares(size_t n, const double *want, const double *weight, double capacity, const double *expect) {
        double got[8];
        fairshare_split(capacity, NULL, want, weight, n, got);
        for (size_t i = 0; i < n; i++)
                if (fabs(got[i] - expect[i]) > 1e-9)
                        fail_msg("claimant %zu got %.12g, expected %.12g", i, got[i], expect[i]);
}

/* Enough for everyone: every claim is met. */
static void nofloor_no_contention(void **state) {
        check_shares(3, (double[]) { 1, 2, 0.5 }, (double[]) { 1024, 512, 100 }, 4, (double[]) { 1, 2, 0.5 });
        check_shares(2, (double[]) { 2, 2 }, (double[]) { 1, 1 }, 4, (double[]) { 2, 2 }); /* exactly */
}

/* Contended: in proportion to the weights. */
static void nofloor_by_weight(void **state) {
        check_shares(2, (double[]) { 4, 4 }, (double[]) { 1, 1 }, 4, (double[]) { 2, 2 });
        check_shares(2, (double[]) { 4, 4 }, (double[]) { 2048, 1024 }, 4, (double[]) { 8.0 / 3, 4.0 / 3 });
        check_shares(3, (double[]) { 10, 10, 10 }, (double[]) { 1, 2, 5 }, 8, (double[]) { 1, 2, 5 });
}

/* What a small claim leaves goes to the others, by weight again. */
static void nofloor_water_filling(void **state) {
        check_shares(2, (double[]) { 1, 4 }, (double[]) { 1, 1 }, 4, (double[]) { 1, 3 });
        /* Weight 3 alone would get 3 of 4; it wants 1: the others share 3 as 1:2. */
        check_shares(3, (double[]) { 1, 8, 8 }, (double[]) { 3, 1, 2 }, 4, (double[]) { 1, 1, 2 });
        /* Claims met in order of want/weight, not of want. */
        check_shares(3, (double[]) { 2, 1.5, 8 }, (double[]) { 4, 1, 1 }, 4, (double[]) { 2, 1, 1 });
}

/* Nothing wanted, no weight or no capacity: nothing given. */
static void nofloor_edges(void **state) {
        check_shares(3, (double[]) { 0, 2, -1 }, (double[]) { 1, 0, 1 }, 4, (double[]) { 0, 0, 0 });
        check_shares(2, (double[]) { 1, 1 }, (double[]) { 1, 1 }, 0, (double[]) { 0, 0 });
        check_shares(2, (double[]) { 1, 1 }, (double[]) { 1, 1 }, -3, (double[]) { 0, 0 });
        fairshare_split(4, NULL, NULL, NULL, 0, NULL);
}

/* ---- inputs the two former implementations disagreed on ---- */

/* An infinite weight: the simulator's water-filling gave every other claimant NaN (infinity
 * minus infinity in its remaining weight), the elastic plan's counted it as 0. Now it counts
 * as 0: that claimant gets its floor, the others share the rest. */
static void infinite_weight_counts_as_zero(void **s) {
        double f[3] = { 0.5, 0, 0 }, c[3] = { 4, 4, 4 }, w[3] = { INFINITY, 1, 3 }, r[3];
        fairshare_split(4, f, c, w, 3, r);
        assert_near(r[0], 0.5);
        assert_near(r[1], 0.875);
        assert_near(r[2], 2.625);
        fairshare_split(4, NULL, c, w, 3, r);
        assert_near(r[0], 0);
        assert_near(r[1], 1);
        assert_near(r[2], 3);
}

/* A claimant without weight when there is enough for all: the elastic plan's gave it its cap
 * (its "weight 0 gets its floor only" held under contention only), the simulator's nothing.
 * Now it gets its floor, contended or not. */
static void zero_weight_gets_its_floor_uncontended_too(void **s) {
        double f[3] = { 0.5, 0, 0 }, c[3] = { 2, 2, 1 }, w[3] = { 0, 0, 1 }, r[3];
        fairshare_split(8, f, c, w, 3, r);
        assert_near(r[0], 0.5);
        assert_near(r[1], 0);
        assert_near(r[2], 1);
}

/* An infinite capacity: the simulator's gave every claim in full, the elastic plan's nothing
 * at all (a non-finite capacity counted as 0). Now it is no limit: every cap is met. NaN and
 * negative capacities are none. */
static void infinite_capacity_meets_every_cap(void **s) {
        double f[2] = { 1, 0 }, c[2] = { 2, 5 }, w[2] = { 1, 1 }, r[2];
        fairshare_split(INFINITY, f, c, w, 2, r);
        assert_near(r[0], 2);
        assert_near(r[1], 5);
        fairshare_split(NAN, NULL, c, w, 2, r);
        assert_near(r[0], 0);
        assert_near(r[1], 0);
        fairshare_split(-INFINITY, NULL, c, w, 2, r);
        assert_near(r[0], 0);
        assert_near(r[1], 0);
}

/* Non-finite caps and floors count as 0 as well. */
static void non_finite_caps_and_floors_count_as_zero(void **s) {
        double f[3] = { NAN, INFINITY, 0 }, c[3] = { INFINITY, 3, NAN }, w[3] = { 1, 1, 1 }, r[3];
        fairshare_split(2, f, c, w, 3, r);
        assert_near(r[0], 0);
        assert_near(r[1], 2);
        assert_near(r[2], 0);
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
                cmocka_unit_test(nofloor_no_contention),
                cmocka_unit_test(nofloor_by_weight),
                cmocka_unit_test(nofloor_water_filling),
                cmocka_unit_test(nofloor_edges),
                cmocka_unit_test(infinite_weight_counts_as_zero),
                cmocka_unit_test(zero_weight_gets_its_floor_uncontended_too),
                cmocka_unit_test(infinite_capacity_meets_every_cap),
                cmocka_unit_test(non_finite_caps_and_floors_count_as_zero),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
