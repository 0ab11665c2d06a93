/* Unit tests of the scaling policies' decisions: aggregation, adjustments, windows, cooldowns,
 * several policies, victims and member names; and a flapping load that never acts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/scaling_policy.h"

static struct as_policy out_policy(void) {
        return (struct as_policy) { .name = "out",
                                    .metric = "cpu",
                                    .stat = AS_STAT_AVG,
                                    .above = true,
                                    .threshold = 80,
                                    .for_ms = 300000,
                                    .adjust = AS_ADJUST_CHANGE,
                                    .adjustment = 2,
                                    .cooldown_ms = 300000,
                                    .victim = AS_VICTIM_NEWEST };
}

static struct as_policy in_policy(void) {
        return (struct as_policy) { .name = "in",
                                    .metric = "cpu",
                                    .stat = AS_STAT_AVG,
                                    .above = false,
                                    .threshold = 20,
                                    .for_ms = 300000,
                                    .adjust = AS_ADJUST_CHANGE,
                                    .adjustment = -1,
                                    .cooldown_ms = 300000,
                                    .victim = AS_VICTIM_OLDEST };
}

static void aggregate_skips_unmeasured(void **s) {
        double v[] = { 10, NAN, 30, 50 };
        assert_true(fabs(as_aggregate(AS_STAT_AVG, v, 4) - 30) < 1e-9);
        assert_true(as_aggregate(AS_STAT_MAX, v, 4) == 50);
        assert_true(as_aggregate(AS_STAT_MIN, v, 4) == 10);
        double none[] = { NAN, NAN };
        assert_true(isnan(as_aggregate(AS_STAT_AVG, none, 2)));
        assert_true(isnan(as_aggregate(AS_STAT_MAX, NULL, 0)));
}

static void adjustments_like_heat(void **s) {
        assert_int_equal(as_adjusted(AS_ADJUST_CHANGE, 2, 3, 1, 10), 5);
        assert_int_equal(as_adjusted(AS_ADJUST_CHANGE, -1, 3, 1, 10), 2);
        assert_int_equal(as_adjusted(AS_ADJUST_CHANGE, 5, 8, 1, 10), 10); /* clamped to max */
        assert_int_equal(as_adjusted(AS_ADJUST_CHANGE, -5, 3, 2, 10), 2); /* and to min */
        assert_int_equal(as_adjusted(AS_ADJUST_EXACT, 4, 9, 1, 10), 4);
        assert_int_equal(as_adjusted(AS_ADJUST_EXACT, 40, 9, 1, 10), 10);
        assert_int_equal(as_adjusted(AS_ADJUST_PERCENT, 50, 4, 1, 10), 6);
        assert_int_equal(as_adjusted(AS_ADJUST_PERCENT, 50, 3, 1, 10), 4); /* 1.5 → 1 */
        assert_int_equal(as_adjusted(AS_ADJUST_PERCENT, 10, 3, 1, 10), 4); /* 0.3 → at least 1 */
        assert_int_equal(as_adjusted(AS_ADJUST_PERCENT, -10, 3, 1, 10), 2);
        assert_int_equal(as_adjusted(AS_ADJUST_PERCENT, -50, 5, 1, 10), 3); /* -2.5 → -2 */
}

static void acts_only_after_the_whole_window(void **s) {
        struct as_policy p = out_policy();
        struct as_policy_state st = { 0 };
        struct as_decision d;
        double hot = 91.3;
        for (int64_t t = 0; t < 300000; t += 1000) {
                as_evaluate(&p, &st, &hot, 1, 2, 1, 10, t, &d);
                assert_false(d.act);
        }
        as_evaluate(&p, &st, &hot, 1, 2, 1, 10, 300000, &d);
        assert_true(d.act);
        assert_int_equal(d.from, 2);
        assert_int_equal(d.to, 4);
        assert_string_equal(d.reason, "out: cpu avg 91.3 > 80 for 300 s: desired 2→4");
}

static void a_gap_in_the_condition_restarts_the_window(void **s) {
        struct as_policy p = out_policy();
        struct as_policy_state st = { 0 };
        struct as_decision d;
        double hot = 90, cool = 70, none = NAN;
        as_evaluate(&p, &st, &hot, 1, 2, 1, 10, 0, &d);
        as_evaluate(&p, &st, &cool, 1, 2, 1, 10, 200000, &d);
        as_evaluate(&p, &st, &hot, 1, 2, 1, 10, 201000, &d);
        as_evaluate(&p, &st, &hot, 1, 2, 1, 10, 400000, &d);
        assert_false(d.act);
        as_evaluate(&p, &st, &none, 1, 2, 1, 10, 450000, &d); /* no measurement: not holding */
        assert_false(st.holding);
        as_evaluate(&p, &st, &hot, 1, 2, 1, 10, 451000, &d);
        as_evaluate(&p, &st, &hot, 1, 2, 1, 10, 751000, &d);
        assert_true(d.act);
}

static void cooldown_and_a_new_window_after_acting(void **s) {
        struct as_policy p = out_policy();
        p.for_ms = 60000;
        p.cooldown_ms = 120000;
        struct as_policy_state st = { 0 };
        struct as_decision d;
        double hot = 95;
        int64_t desired = 1, acted = 0;
        for (int64_t t = 0; t <= 600000; t += 1000) {
                as_evaluate(&p, &st, &hot, 1, desired, 1, 100, t, &d);
                if (d.act) {
                        assert_true(acted == 0 || t - acted >= 120000);
                        desired = d.to;
                        acted = t;
                }
        }
        /* at 60 s, then every 120 s (the cooldown outlasts the 60 s window): 60, 180, 300, 420, 540 */
        assert_int_equal(desired, 1 + 5 * 2);
}

static void nothing_at_the_bound_and_no_cooldown_spent(void **s) {
        struct as_policy p = out_policy();
        p.for_ms = 0;
        struct as_policy_state st = { 0 };
        struct as_decision d;
        double hot = 95;
        as_evaluate(&p, &st, &hot, 1, 10, 1, 10, 1000, &d);
        assert_false(d.act);
        assert_false(st.has_last);
        as_evaluate(&p, &st, &hot, 1, 9, 1, 10, 2000, &d); /* room again (a member went) */
        assert_true(d.act);
        assert_int_equal(d.to, 10);
}

static void growth_wins_over_shrinking(void **s) {
        struct as_policy p[3] = { in_policy(), out_policy(), out_policy() };
        p[0].for_ms = p[1].for_ms = p[2].for_ms = 0;
        p[0].above = true; /* a (silly) shrink policy that also fires */
        p[0].threshold = 50;
        p[2].name = "out-big";
        p[2].adjust = AS_ADJUST_EXACT;
        p[2].adjustment = 8;
        struct as_policy_state st[3] = { 0 };
        double v[3] = { 95, 95, 95 };
        struct as_decision d;
        as_evaluate(p, st, v, 3, 3, 1, 10, 0, &d);
        assert_true(d.act);
        assert_int_equal(d.policy, 2);
        assert_int_equal(d.to, 8);
        assert_false(st[0].has_last); /* only the one that acted starts its cooldown */
        assert_false(st[1].has_last);
}

static void a_flapping_load_never_acts(void **s) {
        /* The load alternates every 4 minutes; the window is 5 minutes. */
        struct as_policy p[2] = { out_policy(), in_policy() };
        struct as_policy_state st[2] = { 0 };
        struct as_decision d;
        int decisions = 0;
        for (int64_t t = 0; t < 3600000; t += 1000) {
                bool high = (t / 240000) % 2 == 0;
                double v[2] = { high ? 95 : 5, high ? 95 : 5 };
                as_evaluate(p, st, v, 2, 2, 1, 10, t, &d);
                decisions += d.act;
        }
        assert_int_equal(decisions, 0);
}

static void victims_by_rule(void **s) {
        int64_t created[] = { 100, 300, 200, 300 };
        int64_t index[] = { 1, 2, 3, 4 };
        double load[] = { 50, NAN, 10, 90 };
        size_t v[4];
        assert_int_equal(as_victims(AS_VICTIM_NEWEST, created, index, load, 4, 2, v), 2);
        assert_int_equal(v[0], 3); /* created 300, index 4 */
        assert_int_equal(v[1], 1);
        assert_int_equal(as_victims(AS_VICTIM_OLDEST, created, index, load, 4, 3, v), 1);
        assert_int_equal(v[0], 0);
        assert_int_equal(as_victims(AS_VICTIM_LEAST_LOADED, created, index, load, 4, 2, v), 2);
        assert_int_equal(v[0], 1); /* unmeasured first */
        assert_int_equal(v[1], 2);
        assert_int_equal(as_victims(AS_VICTIM_NEWEST, created, index, NULL, 4, 4, v), 0);
}

static void next_index_fills_gaps(void **s) {
        assert_int_equal(as_next_index(NULL, 0), 1);
        int64_t a[] = { 3, 1, 2 };
        assert_int_equal(as_next_index(a, 3), 4);
        int64_t b[] = { 4, 2 };
        assert_int_equal(as_next_index(b, 2), 1);
        int64_t c[] = { 1, 1, 3 };
        assert_int_equal(as_next_index(c, 3), 2);
}

static void names_round_trip(void **s) {
        for (int i = 0; i < AS_STAT_MAX_; i++)
                assert_int_equal(as_stat_from_string(as_stat_name(i)), i);
        for (int i = 0; i < AS_ADJUST_MAX_; i++)
                assert_int_equal(as_adjust_from_string(as_adjust_name(i)), i);
        for (int i = 0; i < AS_VICTIM_MAX_; i++)
                assert_int_equal(as_victim_from_string(as_victim_name(i)), i);
        assert_int_equal(as_stat_from_string("mean"), -1);
        assert_int_equal(as_victim_from_string(NULL), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(aggregate_skips_unmeasured),
                cmocka_unit_test(adjustments_like_heat),
                cmocka_unit_test(acts_only_after_the_whole_window),
                cmocka_unit_test(a_gap_in_the_condition_restarts_the_window),
                cmocka_unit_test(cooldown_and_a_new_window_after_acting),
                cmocka_unit_test(nothing_at_the_bound_and_no_cooldown_spent),
                cmocka_unit_test(growth_wins_over_shrinking),
                cmocka_unit_test(a_flapping_load_never_acts),
                cmocka_unit_test(victims_by_rule),
                cmocka_unit_test(next_index_fills_gaps),
                cmocka_unit_test(names_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
