/* scaling_policy.c — the pure decisions of scaling groups' policies (scaling_policy.h). */
#include "ctl/scaling_policy.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"

static const char *const stat_names[AS_STAT_MAX_] = { "avg", "max", "min" };
static const char *const adjust_names[AS_ADJUST_MAX_] = { "change", "exact", "percent" };
static const char *const victim_names[AS_VICTIM_MAX_] = { "newest", "oldest", "least-loaded" };

static int index_of(const char *const *names, int n, const char *s) {
        for (int i = 0; s && i < n; i++)
                if (streq(names[i], s))
                        return i;
        return -1;
}

const char *as_stat_name(enum as_stat s) {
        return (unsigned) s < AS_STAT_MAX_ ? stat_names[s] : NULL;
}
int as_stat_from_string(const char *s) {
        return index_of(stat_names, AS_STAT_MAX_, s);
}
const char *as_adjust_name(enum as_adjust a) {
        return (unsigned) a < AS_ADJUST_MAX_ ? adjust_names[a] : NULL;
}
int as_adjust_from_string(const char *s) {
        return index_of(adjust_names, AS_ADJUST_MAX_, s);
}
const char *as_victim_name(enum as_victim v) {
        return (unsigned) v < AS_VICTIM_MAX_ ? victim_names[v] : NULL;
}
int as_victim_from_string(const char *s) {
        return index_of(victim_names, AS_VICTIM_MAX_, s);
}

double as_aggregate(enum as_stat stat, const double *values, size_t n) {
        double acc = NAN;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                double v = values[i];
                if (isnan(v))
                        continue;
                if (k++ == 0)
                        acc = v;
                else if (stat == AS_STAT_MAX)
                        acc = fmax(acc, v);
                else if (stat == AS_STAT_MIN)
                        acc = fmin(acc, v);
                else
                        acc += v;
        }
        return stat == AS_STAT_AVG && k > 0 ? acc / (double) k : acc;
}

int64_t as_adjusted(enum as_adjust adjust, double adjustment, int64_t desired, int64_t min, int64_t max) {
        int64_t to;
        switch (adjust) {
        case AS_ADJUST_EXACT:
                to = (int64_t) llround(adjustment);
                break;
        case AS_ADJUST_PERCENT: {
                double delta = (double) desired * adjustment / 100.0;
                int64_t step = (int64_t) trunc(delta);
                if (step == 0 && adjustment != 0)
                        step = adjustment > 0 ? 1 : -1;
                to = desired + step;
                break;
        }
        default:
                to = desired + (int64_t) llround(adjustment);
                break;
        }
        return to < min ? min : to > max ? max : to;
}

static bool condition(const struct as_policy *p, double v) {
        return !isnan(v) && (p->above ? v > p->threshold : v < p->threshold);
}

void as_evaluate(const struct as_policy *policies, struct as_policy_state *states, const double *values, size_t n,
                 int64_t desired, int64_t min, int64_t max, int64_t now_ms, struct as_decision *ret) {
        *ret = (struct as_decision) { .from = desired, .to = desired };
        size_t best = SIZE_MAX;
        int64_t best_to = desired;
        for (size_t i = 0; i < n; i++) {
                const struct as_policy *p = &policies[i];
                struct as_policy_state *st = &states[i];
                st->has_value = !isnan(values[i]);
                st->value = st->has_value ? values[i] : 0;
                if (!condition(p, values[i])) {
                        st->holding = false;
                        continue;
                }
                if (!st->holding) {
                        st->holding = true;
                        st->since_ms = now_ms;
                }
                if (now_ms - st->since_ms < p->for_ms)
                        continue;
                if (st->has_last && now_ms - st->last_ms < p->cooldown_ms)
                        continue;
                int64_t to = as_adjusted(p->adjust, p->adjustment, desired, min, max);
                if (to == desired)
                        continue; /* at its bound: nothing to do, no cooldown spent */
                /* Growth wins over shrinking; the larger growth, then the first listed. */
                bool better = best == SIZE_MAX || (to > desired && (best_to < desired || to > best_to));
                if (better) {
                        best = i;
                        best_to = to;
                }
        }
        if (best == SIZE_MAX)
                return;
        const struct as_policy *p = &policies[best];
        struct as_policy_state *st = &states[best];
        *ret = (struct as_decision) {
                .act = true, .policy = best, .from = desired, .to = best_to, .victim = p->victim
        };
        snprintf(ret->reason, sizeof ret->reason,
                 "%s: %s %s %.1f %s %g for %" PRId64 " s: desired %" PRId64 "→%" PRId64, p->name ? p->name : "policy",
                 p->metric ? p->metric : "metric", as_stat_name(p->stat) ?: "?", st->value, p->above ? ">" : "<",
                 p->threshold, (now_ms - st->since_ms) / 1000, desired, best_to);
        st->has_last = true;
        st->last_ms = now_ms;
        st->since_ms = now_ms; /* the next decision needs a whole new window */
}

struct victim_key {
        size_t i;
        int64_t created, index;
        double load;
};

static int newer_first(const struct victim_key *a, const struct victim_key *b) {
        if (a->created != b->created)
                return a->created > b->created ? -1 : 1;
        if (a->index != b->index)
                return a->index > b->index ? -1 : 1;
        return a->i < b->i ? -1 : a->i > b->i;
}

static int cmp_newest(const void *x, const void *y) {
        return newer_first(x, y);
}
static int cmp_oldest(const void *x, const void *y) {
        return -newer_first(x, y);
}

static int cmp_least_loaded(const void *x, const void *y) {
        const struct victim_key *a = x, *b = y;
        double la = isnan(a->load) ? -INFINITY : a->load, lb = isnan(b->load) ? -INFINITY : b->load;
        if (la != lb)
                return la < lb ? -1 : 1;
        return newer_first(a, b);
}

size_t as_victims(enum as_victim v, const int64_t *created_ms, const int64_t *index, const double *load, size_t n,
                  size_t keep, size_t *ret) {
        if (keep >= n)
                return 0;
        struct victim_key *k = xcalloc(n, sizeof *k);
        for (size_t i = 0; i < n; i++)
                k[i] = (struct victim_key) {
                        .i = i, .created = created_ms[i], .index = index[i], .load = load ? load[i] : NAN
                };
        qsort(k, n, sizeof *k,
              v == AS_VICTIM_OLDEST         ? cmp_oldest
              : v == AS_VICTIM_LEAST_LOADED ? cmp_least_loaded
                                            : cmp_newest);
        size_t go = n - keep;
        for (size_t j = 0; j < go; j++)
                ret[j] = k[j].i;
        free(k);
        return go;
}

static int cmp_i64(const void *x, const void *y) {
        int64_t a = *(const int64_t *) x, b = *(const int64_t *) y;
        return a < b ? -1 : a > b;
}

int64_t as_next_index(const int64_t *used, size_t n) {
        if (n == 0)
                return 1;
        int64_t *s = xmalloc(n * sizeof *s);
        memcpy(s, used, n * sizeof *s);
        qsort(s, n, sizeof *s, cmp_i64);
        int64_t next = 1;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == next)
                        next++;
                else if (s[i] > next)
                        break;
        }
        free(s);
        return next;
}
