/* scaling_policy.h — the decisions of a scaling group's policies as pure functions: whether a
 * policy's condition has held for its whole window, what the group's desired size becomes when
 * it fires (within min and max, respecting cooldowns), which members go when it shrinks, and the
 * name of the next member. The controller (autoscaler.h) measures, keeps the per-policy state
 * between passes and applies what these decide; docs/autoscaling.md gives the semantics. No I/O.
 * Its prefix is as_ (autoscaling). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum as_stat { AS_STAT_AVG, AS_STAT_MAX, AS_STAT_MIN, AS_STAT_MAX_ };
enum as_adjust { AS_ADJUST_CHANGE, AS_ADJUST_EXACT, AS_ADJUST_PERCENT, AS_ADJUST_MAX_ };
enum as_victim { AS_VICTIM_NEWEST, AS_VICTIM_OLDEST, AS_VICTIM_LEAST_LOADED, AS_VICTIM_MAX_ };

/* "avg", "max", "min" / "change", "exact", "percent" / "newest", "oldest", "least-loaded";
 * the _from_string functions return -1 for anything else. */
const char *as_stat_name(enum as_stat s);
int as_stat_from_string(const char *s);
const char *as_adjust_name(enum as_adjust a);
int as_adjust_from_string(const char *s);
const char *as_victim_name(enum as_victim v);
int as_victim_from_string(const char *s);

struct as_policy {
        const char *name;   /* in reasons */
        const char *metric; /* in reasons: "cpu", "memory" or a metric's name */
        enum as_stat stat;
        bool above; /* condition: value > threshold (else value < threshold) */
        double threshold;
        int64_t for_ms; /* the condition holds this long before the policy acts */
        enum as_adjust adjust;
        double adjustment;     /* change: +-n members; exact: n; percent: +-p % of desired */
        int64_t cooldown_ms;   /* after the policy acted, it waits this long */
        enum as_victim victim; /* which members go when it shrinks the group */
};

/* What the controller keeps per policy between passes; zero for a new policy (or after a
 * restart, with has_last and last_ms restored from the group's record: cooldowns survive). */
struct as_policy_state {
        bool holding;     /* the condition held at the last pass ... */
        int64_t since_ms; /* ... continuously since then (a new window after acting) */
        bool has_value;
        double value; /* the aggregate at the last pass */
        bool has_last;
        int64_t last_ms; /* when the policy last acted */
};

/* The stat of n values (NaN entries are left out); NaN when none is left. */
double as_aggregate(enum as_stat stat, const double *values, size_t n);

/* The desired size after applying adjustment to desired, clamped to [min, max]. A percent
 * change that rounds to zero moves by one (a policy that fires always does something). */
int64_t as_adjusted(enum as_adjust adjust, double adjustment, int64_t desired, int64_t min, int64_t max);

struct as_decision {
        bool act;              /* false: no policy acts in this pass */
        size_t policy;         /* the one that acted */
        int64_t from, to;      /* desired before and after */
        enum as_victim victim; /* the policy's (for a shrink) */
        char reason[256];      /* "web-out: cpu avg 91.3 > 80 for 300 s: desired 2→4" */
};

/* One evaluation pass at now_ms (any monotonic clock, the same every pass). values[i] is
 * policy i's aggregate now (NaN: no member measured — the condition does not hold). Updates
 * every state (holding, since, value) and, when one acts, its last_ms and a new window.
 * A policy acts when its condition has held for for_ms, it is not cooling down and its
 * adjustment changes desired within [min, max]; of several, one that grows the group wins over
 * one that shrinks it (the larger growth, then the first listed). At most one decision per pass.
 * Pure; states may not be NULL when n > 0. */
void as_evaluate(const struct as_policy *policies, struct as_policy_state *states, const double *values, size_t n,
                 int64_t desired, int64_t min, int64_t max, int64_t now_ms, struct as_decision *ret);

/* The members that go when a group of n healthy members shrinks to keep: n - keep indices
 * into the members' arrays, written to ret (room for n), in the order they go. created_ms
 * orders newest/oldest (ties: the greater name index is newer); load (NaN for unmeasured,
 * which counts as least loaded) orders least-loaded (ties: newest first). Returns the count. */
size_t as_victims(enum as_victim v, const int64_t *created_ms, const int64_t *index, const double *load, size_t n,
                  size_t keep, size_t *ret);

/* The smallest index >= 1 not in used[0..n) — members are named "<group>-<index>". */
int64_t as_next_index(const int64_t *used, size_t n);
