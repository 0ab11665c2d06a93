/* fairshare.c — weighted max-min fair shares within floors and caps (fairshare.h). */
#include "common/fairshare.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct share_event {
        double at; /* water level where it happens */
        size_t i;
        bool start; /* claimant i starts rising above its floor (else reaches its cap) */
};

static int cmp_event(const void *a, const void *b) {
        const struct share_event *x = a, *y = b;
        if (x->at != y->at)
                return x->at < y->at ? -1 : 1;
        if (x->i != y->i)
                return x->i < y->i ? -1 : 1;
        return (int) y->start - (int) x->start;
}

static double nonneg(double x) {
        return isfinite(x) && x > 0 ? x : 0;
}

/* The water level L where sum clamp(L * w_i, f_i, c_i) = capacity, for sum f < capacity <
 * sum c. g(L) is piecewise linear and non-decreasing, with kinks where a claimant leaves its
 * floor (f_i / w_i) and reaches its cap (c_i / w_i). Sweep the kinks in order, keeping
 * g(L) = base + slope * L, and solve on the piece where g crosses capacity: exact, O(n log n)
 * for the sort. Rounding may leave the sweep without a crossing: then INFINITY (all at cap). */
static double water_level(double capacity, const double *f, const double *c, const double *weight, size_t n,
                          double sum_f) {
        _cleanup_free_ struct share_event *ev = xcalloc(2 * n, sizeof *ev);
        size_t n_ev = 0;
        for (size_t i = 0; i < n; i++) {
                double w = nonneg(weight[i]);
                if (w <= 0 || c[i] <= f[i])
                        continue;
                ev[n_ev++] = (struct share_event) { .at = f[i] / w, .i = i, .start = true };
                ev[n_ev++] = (struct share_event) { .at = c[i] / w, .i = i, .start = false };
        }
        qsort(ev, n_ev, sizeof *ev, cmp_event);

        double base = sum_f, slope = 0;
        for (size_t k = 0; k < n_ev; k++) {
                if (slope > 0 && base + slope * ev[k].at >= capacity)
                        return (capacity - base) / slope;
                double w = nonneg(weight[ev[k].i]);
                if (ev[k].start) {
                        base -= f[ev[k].i];
                        slope += w;
                } else {
                        base += c[ev[k].i];
                        slope -= w;
                }
        }
        return INFINITY;
}

void fairshare_split(double capacity, const double *floor, const double *cap, const double *weight, size_t n,
                     double *ret) {
        if (n == 0)
                return;
        /* +infinity is no limit; every other non-finite or negative capacity is none. */
        capacity = capacity == INFINITY ? INFINITY : nonneg(capacity);
        _cleanup_free_ double *f = xcalloc(n, sizeof *f), *c = xcalloc(n, sizeof *c);
        double sum_f = 0, sum_c = 0;
        for (size_t i = 0; i < n; i++) {
                c[i] = nonneg(cap[i]);
                f[i] = floor ? fmin(nonneg(floor[i]), c[i]) : 0;
                /* No weight, no part of the capacity: the floor is all, even uncontended. */
                if (nonneg(weight[i]) <= 0)
                        c[i] = f[i];
                sum_f += f[i];
                sum_c += c[i];
        }

        if (sum_f >= capacity) {
                /* The floors alone take it all (reservations over the pool): in proportion. */
                for (size_t i = 0; i < n; i++)
                        ret[i] = sum_f > 0 ? f[i] * (capacity / sum_f) : 0;
        } else if (sum_c <= capacity) {
                memcpy(ret, c, n * sizeof *c);
        } else {
                double level = water_level(capacity, f, c, weight, n, sum_f);
                for (size_t i = 0; i < n; i++) {
                        double w = nonneg(weight[i]);
                        ret[i] = w > 0 ? fmin(fmax(level * w, f[i]), c[i]) : f[i];
                }
        }
}
