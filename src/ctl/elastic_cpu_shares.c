/* elastic_cpu_shares.c — the CPU shares (cgroup cpu.shares) that make the kernel keep
 * reservations (elastic_cpu_shares()). The plan's other piece of arithmetic, weighted max-min
 * fair shares within floors and caps, is common/fairshare.c's. Pure. */
#include "ctl/elastic.h"

#include <math.h>

#include "common/util.h"

static double nonneg(double x) {
        return isfinite(x) && x > 0 ? x : 0;
}

/* Reservations may add up to at most this much of the pool in the shares' fixed point; past it
 * they are scaled down together (placement should never let them get there). */
#define RESERVED_FRACTION_MAX 0.95

struct ratio {
        double r; /* reserved fraction per unit of base shares */
        size_t i;
};

static int cmp_ratio_desc(const void *a, const void *b) {
        const struct ratio *x = a, *y = b;
        if (x->r != y->r)
                return x->r > y->r ? -1 : 1;
        return x->i < y->i ? -1 : x->i > y->i;
}

void elastic_cpu_shares(double cpus, const int *priority, const double *reservation, const bool *fixed, size_t n,
                        int *ret) {
        if (n == 0)
                return;
        double *base = xcalloc(n, sizeof *base), *rho = xcalloc(n, sizeof *rho);
        struct ratio *order = xcalloc(n, sizeof *order);
        double sum_rho = 0, sum_base = 0;
        for (size_t i = 0; i < n; i++) {
                int prio = priority[i] < 1 ? 1 : priority[i];
                base[i] = fixed[i] ? ELASTIC_SHARES_BASE : (double) prio * ELASTIC_SHARES_BASE / ELASTIC_PRIORITY_BASE;
                rho[i] = fixed[i] || !(cpus > 0) ? 0 : nonneg(reservation[i]) / cpus;
                sum_rho += rho[i];
                sum_base += base[i];
        }
        if (sum_rho > RESERVED_FRACTION_MAX)
                for (size_t i = 0; i < n; i++)
                        rho[i] *= RESERVED_FRACTION_MAX / sum_rho;

        /* Fractions of contended CPU f_i = max(base_i * lambda, rho_i) adding up to 1: the
         * claimants bound by their reservation are those with the largest rho_i / base_i. Take
         * them in that order until the next one's ratio is at or below the level the others
         * leave. Shares are then f_i / lambda: base_i for the unbound, rho_i / lambda for the
         * bound, and 1 / lambda in all. */
        for (size_t i = 0; i < n; i++)
                order[i] = (struct ratio) { .r = rho[i] / base[i], .i = i };
        qsort(order, n, sizeof *order, cmp_ratio_desc);
        double bound_rho = 0, free_base = sum_base, lambda = 1 / sum_base;
        for (size_t k = 0; k < n; k++) {
                lambda = (1 - bound_rho) / free_base;
                if (order[k].r <= lambda)
                        break;
                bound_rho += rho[order[k].i];
                free_base -= base[order[k].i];
                /* Cannot run out: with every rho_i the sum is at most 0.95 < 1, so the last
                 * claimant's ratio is always at or below the level the others leave. */
        }

        double total = 0;
        for (size_t i = 0; i < n; i++) {
                base[i] = fmax(round(base[i]), ceil(rho[i] / lambda - 1e-9));
                total += base[i];
        }
        /* Whole shares move the fixed point a little: raise any claimant still short,
         * s_i >= rho_i * (S - s_i) / (1 - rho_i), until none is (a round or two; monotone, and
         * bounded since the reservations leave at least 5 % of the pool). */
        for (int round_ = 0; round_ < 64; round_++) {
                bool raised = false;
                for (size_t i = 0; i < n; i++) {
                        if (rho[i] <= 0)
                                continue;
                        double need = ceil(rho[i] * (total - base[i]) / (1 - rho[i]) - 1e-9);
                        if (need > base[i]) {
                                total += need - base[i];
                                base[i] = need;
                                raised = true;
                        }
                }
                if (!raised)
                        break;
        }
        double top = 0;
        for (size_t i = 0; i < n; i++)
                if (!fixed[i] && base[i] > top)
                        top = base[i];
        /* Past the range, scale the tuned ones down together: their ratios, and so the
         * guarantee among them, hold; against untuned domains it weakens (a rare host with
         * many VMs and a large reservation). */
        double scale = top > ELASTIC_SHARES_MAX ? ELASTIC_SHARES_MAX / top : 1;
        for (size_t i = 0; i < n; i++) {
                double s = fixed[i] ? ELASTIC_SHARES_BASE : round(base[i] * scale);
                if (s < ELASTIC_SHARES_MIN)
                        s = ELASTIC_SHARES_MIN;
                if (s > ELASTIC_SHARES_MAX)
                        s = ELASTIC_SHARES_MAX;
                ret[i] = (int) s;
        }
        free(order);
        free(base);
        free(rho);
}
