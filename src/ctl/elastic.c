/* elastic.c — one pass of the host's elastic loop as a pure plan, in named stages:
 *   demand       what each VM asks of the host: use + ready, within vcpus_max and its limit
 *   entitlement  weighted max-min fair split of the shared pool within reservations
 *   shares       CPU shares that make the kernel keep reservations and priorities
 *   quota        the CFS quota of a CPU limit
 *   vcpus        hot-add under saturation with idle host CPU, hot-remove after lasting idleness
 *   memory       balloon: return at once when the guest runs low, reclaim when the host does
 * docs/elasticity.md gives the model and the reasons behind each threshold. */
#include "ctl/elastic.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/errors.h"
#include "common/fairshare.h"
#include "common/util.h"

/* A VM at least this close below a whole number of cores counts as entitled to it. */
#define EPS 1e-6

void elastic_params_default(struct elastic_params *p) {
        *p = (struct elastic_params) {
                .vcpu_busy_add = 0.85,
                .host_idle_add_cores = 0.5,
                .vcpu_idle_remove = 0.3,
                .add_cooldown_ms = 5000,
                .remove_after_ms = 20000,
                .min_change_interval_ms = 10000,
                .mem_low_host_ratio = 0.10,
                .mem_free_keep_ratio = 0.25,
                .mem_grow_below_ratio = 0.20,
                .mem_step_min_mib = 32,
                .mem_settle_ms = 3000,
        };
}

const char *elastic_action_kind_name(enum elastic_action_kind k) {
        static const char *const names[ELASTIC_ACTION_KIND_MAX] = {
                [ELASTIC_SHARES] = "shares",
                [ELASTIC_QUOTA] = "quota",
                [ELASTIC_VCPUS] = "vcpus",
                [ELASTIC_MEMORY] = "memory",
        };
        return (unsigned) k < ELASTIC_ACTION_KIND_MAX ? names[k] : NULL;
}

struct plan {
        const struct elastic_params *p;
        const struct elastic_host *host;
        struct elastic_vm *vms;
        size_t n;
        int64_t now;
        double *demand, *ent;
        struct elastic_action *act;
        size_t n_act, alloc_act;
};

static const char *vm_name(const struct elastic_vm *v) {
        return v->name ? v->name : v->id ? v->id : "vm";
}

/* Tuned by the plan: elastic and on the shared pool. */
static bool tuned(const struct elastic_vm *v) {
        return v->elastic && !v->dedicated;
}

/* A measured figure: negatives (rounding in the sampler's differences) count as 0. */
static double measured(double x) {
        return x > 0 ? x : 0;
}

/* Cuts s (of length len) back to the last whole UTF-8 character. */
static void utf8_trim(char *s, size_t len) {
        if (len == 0)
                return;
        size_t j = len - 1;
        while (j > 0 && ((unsigned char) s[j] & 0xC0) == 0x80)
                j--;
        unsigned char lead = (unsigned char) s[j];
        size_t want = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (j + want > len)
                s[j] = 0;
}

static _printf_(6, 7) void add_action(struct plan *pl, size_t vm, enum elastic_action_kind kind, int64_t value,
                                      int64_t old_value, const char *fmt, ...) {
        if (pl->n_act == pl->alloc_act) {
                pl->alloc_act = pl->alloc_act ? 2 * pl->alloc_act : 8;
                pl->act = xrealloc(pl->act, pl->alloc_act * sizeof *pl->act);
        }
        struct elastic_action *a = &pl->act[pl->n_act++];
        *a = (struct elastic_action) { .vm = vm, .kind = kind, .value = value, .old_value = old_value };
        va_list ap;
        va_start(ap, fmt);
        int r = vsnprintf(a->reason, sizeof a->reason, fmt, ap);
        va_end(ap);
        if (r >= (int) sizeof a->reason)
                utf8_trim(a->reason, sizeof a->reason - 1);
}

static int cmp_action(const void *x, const void *y) {
        const struct elastic_action *a = x, *b = y;
        if (a->vm != b->vm)
                return a->vm < b->vm ? -1 : 1;
        return (int) a->kind - (int) b->kind;
}

/* ---- validation ---- */

static bool finite_nonneg(double x) {
        return isfinite(x) && x >= 0;
}

static int params_check(const struct elastic_params *p) {
        if (!(isfinite(p->vcpu_busy_add) && p->vcpu_busy_add > 0 && p->vcpu_busy_add <= 1) ||
            !finite_nonneg(p->host_idle_add_cores) || !finite_nonneg(p->vcpu_idle_remove) || p->add_cooldown_ms < 0 ||
            p->remove_after_ms < 0 || p->min_change_interval_ms < 0 ||
            !(finite_nonneg(p->mem_low_host_ratio) && p->mem_low_host_ratio < 0.5) ||
            !(finite_nonneg(p->mem_free_keep_ratio) && p->mem_free_keep_ratio < 1) ||
            /* Growth must stop short of what a reclaim leaves free, or the two would take turns. */
            !(finite_nonneg(p->mem_grow_below_ratio) && p->mem_grow_below_ratio < p->mem_free_keep_ratio) ||
            p->mem_step_min_mib < 0 || p->mem_settle_ms < 0)
                return TIDE_E_INVALID;
        return 0;
}

static int vm_check(const struct elastic_vm *v) {
        if (v->priority < 1 || v->priority > 1000 || !finite_nonneg(v->cpu_reservation) ||
            !finite_nonneg(v->cpu_limit) || v->mem_reservation_mib < 0 || v->mem_limit_mib < 0 || v->vcpus < 0 ||
            v->vcpus_min < 0 || v->vcpus_max < 1 || v->vcpus_min > v->vcpus_max || v->mem_mib < 0 ||
            v->mem_min_mib < 0 || v->mem_max_mib < v->mem_min_mib || !isfinite(v->cpu_cores) ||
            !isfinite(v->ready_cores) || !isfinite(v->vcpu_busy_max) || (tuned(v) && !v->state))
                return TIDE_E_INVALID;
        return 0;
}

/* ---- stages ---- */

static void stage_demand(struct plan *pl) {
        for (size_t i = 0; i < pl->n; i++) {
                const struct elastic_vm *v = &pl->vms[i];
                double d = measured(v->cpu_cores) + measured(v->ready_cores);
                d = fmin(d, v->vcpus_max);
                if (v->cpu_limit > 0)
                        d = fmin(d, v->cpu_limit);
                pl->demand[i] = d;
        }
}

/* The shared pool goes to the VMs on it; a dedicated VM runs on CPUs of its own, so it is
 * entitled to its demand and takes nothing from the pool. A VM tide does not tune runs with
 * the base shares (priority 500's weight) and its reservation is not enforced: no floor. */
static void stage_entitlement(struct plan *pl) {
        size_t m = 0;
        double *floor = xcalloc(pl->n ? pl->n : 1, sizeof *floor);
        double *cap = xcalloc(pl->n ? pl->n : 1, sizeof *cap);
        double *weight = xcalloc(pl->n ? pl->n : 1, sizeof *weight);
        double *got = xcalloc(pl->n ? pl->n : 1, sizeof *got);
        size_t *idx = xcalloc(pl->n ? pl->n : 1, sizeof *idx);
        for (size_t i = 0; i < pl->n; i++) {
                const struct elastic_vm *v = &pl->vms[i];
                if (v->dedicated) {
                        pl->ent[i] = pl->demand[i];
                        continue;
                }
                idx[m] = i;
                cap[m] = pl->demand[i];
                floor[m] = v->elastic ? fmin(v->cpu_reservation, pl->demand[i]) : 0;
                weight[m] = v->elastic ? v->priority : ELASTIC_PRIORITY_BASE;
                m++;
        }
        fairshare_split(pl->host->cpus, floor, cap, weight, m, got);
        for (size_t k = 0; k < m; k++)
                pl->ent[idx[k]] = got[k];
        free(floor);
        free(cap);
        free(weight);
        free(got);
        free(idx);
}

static void stage_shares(struct plan *pl) {
        size_t m = 0;
        int *prio = xcalloc(pl->n ? pl->n : 1, sizeof *prio);
        double *res = xcalloc(pl->n ? pl->n : 1, sizeof *res);
        bool *fixed = xcalloc(pl->n ? pl->n : 1, sizeof *fixed);
        int *shares = xcalloc(pl->n ? pl->n : 1, sizeof *shares);
        size_t *idx = xcalloc(pl->n ? pl->n : 1, sizeof *idx);
        for (size_t i = 0; i < pl->n; i++) {
                const struct elastic_vm *v = &pl->vms[i];
                if (v->dedicated)
                        continue;
                idx[m] = i;
                prio[m] = v->priority;
                res[m] = v->cpu_reservation;
                fixed[m] = !v->elastic;
                m++;
        }
        elastic_cpu_shares(pl->host->cpus, prio, res, fixed, m, shares);
        for (size_t k = 0; k < m; k++) {
                struct elastic_vm *v = &pl->vms[idx[k]];
                if (!tuned(v) || v->state->shares_applied == shares[k])
                        continue;
                char old[24], resv[80] = "";
                if (v->state->shares_applied)
                        snprintf(old, sizeof old, "%d", v->state->shares_applied);
                else
                        snprintf(old, sizeof old, "unset");
                if (v->cpu_reservation > 0)
                        snprintf(resv, sizeof resv, ", reservation %.1f of %.4g cores", v->cpu_reservation,
                                 pl->host->cpus);
                add_action(pl, idx[k], ELASTIC_SHARES, shares[k], v->state->shares_applied,
                           "%s: shares %s→%d, priority %d%s", vm_name(v), old, shares[k], v->priority, resv);
                v->state->shares_applied = shares[k];
        }
        free(prio);
        free(res);
        free(fixed);
        free(shares);
        free(idx);
}

static int64_t quota_of(double limit) {
        if (!(limit > 0))
                return 0;
        double q = round(limit * (double) ELASTIC_QUOTA_PERIOD_US);
        return q < 1000 ? 1000 : (int64_t) q; /* the kernel's smallest quota */
}

static void stage_quota(struct plan *pl) {
        for (size_t i = 0; i < pl->n; i++) {
                struct elastic_vm *v = &pl->vms[i];
                if (!tuned(v))
                        continue;
                struct elastic_vm_state *st = v->state;
                int64_t q = quota_of(v->cpu_limit);
                if (st->has_quota && st->quota_applied_us == q)
                        continue;
                char old[32], now[32];
                if (!st->has_quota)
                        snprintf(old, sizeof old, "unset");
                else if (st->quota_applied_us == 0)
                        snprintf(old, sizeof old, "none");
                else
                        snprintf(old, sizeof old, "%" PRId64, st->quota_applied_us);
                if (q)
                        snprintf(now, sizeof now, "%" PRId64 " µs per 100 ms", q);
                else
                        snprintf(now, sizeof now, "none");
                if (q)
                        add_action(pl, i, ELASTIC_QUOTA, q, st->has_quota ? st->quota_applied_us : -1,
                                   "%s: quota %s→%s, limit %.2f cores", vm_name(v), old, now, v->cpu_limit);
                else
                        add_action(pl, i, ELASTIC_QUOTA, q, st->has_quota ? st->quota_applied_us : -1,
                                   "%s: quota %s→%s, no limit", vm_name(v), old, now);
                st->has_quota = true;
                st->quota_applied_us = q;
        }
}

/* The most vCPUs worth having: the flavor's maximum, or the cores of the limit. */
static int vcpu_cap(const struct elastic_vm *v) {
        int cap = v->vcpus_max;
        if (v->cpu_limit > 0) {
                double c = ceil(v->cpu_limit - EPS);
                if (c < cap)
                        cap = (int) c;
        }
        return cap < v->vcpus_min ? v->vcpus_min : cap;
}

static bool since(const struct plan *pl, bool has, int64_t at, int64_t ms) {
        return !has || pl->now - at >= ms;
}

static bool wants_vcpu(const struct plan *pl, size_t i) {
        const struct elastic_params *p = pl->p;
        const struct elastic_vm *v = &pl->vms[i];
        return measured(v->vcpu_busy_max) >= p->vcpu_busy_add &&
               measured(v->cpu_cores) >= v->vcpus * p->vcpu_busy_add &&
               measured(pl->host->idle_cores) >= p->host_idle_add_cores && pl->ent[i] > v->vcpus - 0.5 &&
               v->vcpus >= v->vcpus_min && v->vcpus < vcpu_cap(v) &&
               since(pl, v->state->has_vcpu_change, v->state->last_vcpu_change_ms, p->add_cooldown_ms);
}

static void vcpu_changed(struct plan *pl, struct elastic_vm *v) {
        v->state->has_vcpu_change = true;
        v->state->last_vcpu_change_ms = pl->now;
}

static void stage_vcpus(struct plan *pl) {
        const struct elastic_params *p = pl->p;
        size_t n = pl->n ? pl->n : 1;
        double *floor = xcalloc(n, sizeof *floor), *room = xcalloc(n, sizeof *room);
        double *weight = xcalloc(n, sizeof *weight), *idle = xcalloc(n, sizeof *idle);
        size_t *idx = xcalloc(n, sizeof *idx), m = 0;
        bool *added = xcalloc(n, sizeof *added);

        /* The host's idle CPU is split among the VMs that ask for more vCPUs, by priority and
         * up to what each may still have; each jumps to the vCPUs its entitlement and its part
         * of the idle CPU make (at least one more). */
        for (size_t i = 0; i < pl->n; i++)
                if (tuned(&pl->vms[i]) && wants_vcpu(pl, i)) {
                        idx[m] = i;
                        room[m] = fmax(0, vcpu_cap(&pl->vms[i]) - pl->ent[i]);
                        weight[m] = pl->vms[i].priority;
                        m++;
                }
        fairshare_split(measured(pl->host->idle_cores), floor, room, weight, m, idle);
        for (size_t k = 0; k < m; k++) {
                size_t i = idx[k];
                struct elastic_vm *v = &pl->vms[i];
                double t = ceil(pl->ent[i] + idle[k] - EPS);
                int target = t > vcpu_cap(v) ? vcpu_cap(v) : (int) t;
                if (target <= v->vcpus)
                        target = v->vcpus + 1;
                add_action(pl, i, ELASTIC_VCPUS, target, v->vcpus, "%s: vcpus %d→%d, demand %.1f cores, host idle %.1f",
                           vm_name(v), v->vcpus, target, pl->demand[i], measured(pl->host->idle_cores));
                vcpu_changed(pl, v);
                v->state->idle = false;
                added[i] = true;
        }

        for (size_t i = 0; i < pl->n; i++) {
                struct elastic_vm *v = &pl->vms[i];
                if (!tuned(v) || added[i])
                        continue;
                struct elastic_vm_state *st = v->state;
                if (v->vcpus < v->vcpus_min || v->vcpus > v->vcpus_max) {
                        int target = v->vcpus < v->vcpus_min ? v->vcpus_min : v->vcpus_max;
                        add_action(pl, i, ELASTIC_VCPUS, target, v->vcpus,
                                   "%s: vcpus %d→%d, outside the flavor's %d..%d", vm_name(v), v->vcpus, target,
                                   v->vcpus_min, v->vcpus_max);
                        vcpu_changed(pl, v);
                        st->idle = false;
                        continue;
                }
                /* Idle enough that, one vCPU fewer, it would still be vcpu_idle_remove cores below
                 * where it would ask for that vCPU back: demand (use + ready, so a VM held back by
                 * contention is not idle) < (vcpus - 1) * vcpu_busy_add - vcpu_idle_remove. */
                bool idle_now = v->vcpus > v->vcpus_min &&
                                pl->demand[i] < (v->vcpus - 1) * p->vcpu_busy_add - p->vcpu_idle_remove;
                if (!idle_now) {
                        st->idle = false;
                        continue;
                }
                if (!st->idle) {
                        st->idle = true;
                        st->idle_since_ms = pl->now;
                }
                if (pl->now - st->idle_since_ms < p->remove_after_ms ||
                    !since(pl, st->has_vcpu_change, st->last_vcpu_change_ms, p->min_change_interval_ms))
                        continue;
                add_action(pl, i, ELASTIC_VCPUS, v->vcpus - 1, v->vcpus,
                           "%s: vcpus %d→%d, demand %.1f cores, idle %" PRId64 " s", vm_name(v), v->vcpus, v->vcpus - 1,
                           pl->demand[i], (pl->now - st->idle_since_ms) / 1000);
                vcpu_changed(pl, v);
        }
        free(floor);
        free(room);
        free(weight);
        free(idle);
        free(idx);
        free(added);
}

struct mem_move {
        size_t i;
        int64_t target;
        int64_t amount; /* growth wanted, or excess to reclaim */
        int priority;
        int why; /* enum mem_why */
};

enum mem_why {
        MEM_GUEST_LOW,   /* the guest runs low: give back */
        MEM_BELOW_FLOOR, /* under its reservation or minimum */
        MEM_ABOVE_CAP,   /* over its limit or maximum */
        MEM_RECLAIM,     /* the host needs memory and the guest has it free */
};

static int cmp_grow(const void *x, const void *y) {
        const struct mem_move *a = x, *b = y;
        if (a->priority != b->priority)
                return a->priority > b->priority ? -1 : 1;
        return a->i < b->i ? -1 : a->i > b->i;
}

static int cmp_reclaim(const void *x, const void *y) {
        const struct mem_move *a = x, *b = y;
        if (a->priority != b->priority)
                return a->priority < b->priority ? -1 : 1;
        if (a->amount != b->amount)
                return a->amount > b->amount ? -1 : 1;
        return a->i < b->i ? -1 : a->i > b->i;
}

static int64_t mem_floor(const struct elastic_vm *v) {
        return v->mem_reservation_mib > v->mem_min_mib ? v->mem_reservation_mib : v->mem_min_mib;
}

static int64_t mem_cap(const struct elastic_vm *v) {
        int64_t cap = v->mem_max_mib;
        if (v->mem_limit_mib > 0 && v->mem_limit_mib < cap)
                cap = v->mem_limit_mib;
        int64_t fl = mem_floor(v);
        return cap < fl ? fl : cap;
}

static int host_pct(const struct elastic_host *h) {
        return h->mem_total_mib > 0 ? (int) llround(100.0 * (double) h->mem_available_mib / (double) h->mem_total_mib)
                                    : 0;
}

static void mem_apply(struct plan *pl, const struct mem_move *mv) {
        struct elastic_vm *v = &pl->vms[mv->i];
        int64_t cur = v->mem_mib, usable = v->guest_usable_mib < 0     ? 0
                                           : v->guest_usable_mib > cur ? cur
                                                                       : v->guest_usable_mib;
        int pct = cur > 0 ? (int) llround(100.0 * (double) usable / (double) cur) : 0;
        const char *name = vm_name(v);
        switch ((enum mem_why) mv->why) {
        case MEM_GUEST_LOW:
                add_action(pl, mv->i, ELASTIC_MEMORY, mv->target, cur,
                           "%s: memory %" PRId64 "→%" PRId64 " MiB, guest free %" PRId64 " MiB (%d %%)", name, cur,
                           mv->target, usable, pct);
                break;
        case MEM_BELOW_FLOOR:
                add_action(pl, mv->i, ELASTIC_MEMORY, mv->target, cur,
                           "%s: memory %" PRId64 "→%" PRId64 " MiB, below its floor of %" PRId64 " MiB", name, cur,
                           mv->target, mem_floor(v));
                break;
        case MEM_ABOVE_CAP:
                add_action(pl, mv->i, ELASTIC_MEMORY, mv->target, cur,
                           "%s: memory %" PRId64 "→%" PRId64 " MiB, above its limit of %" PRId64 " MiB", name, cur,
                           mv->target, mem_cap(v));
                break;
        case MEM_RECLAIM:
                add_action(pl, mv->i, ELASTIC_MEMORY, mv->target, cur,
                           "%s: memory %" PRId64 "→%" PRId64 " MiB, guest free %" PRId64 " MiB, host available %d %%",
                           name, cur, mv->target, usable, host_pct(pl->host));
                break;
        }
        v->state->has_mem_change = true;
        v->state->last_mem_change_ms = pl->now;
        v->state->mem_target_mib = mv->target;
}

static void stage_memory(struct plan *pl) {
        const struct elastic_params *p = pl->p;
        const struct elastic_host *h = pl->host;
        size_t n = pl->n ? pl->n : 1;
        struct mem_move *grow = xcalloc(n, sizeof *grow), *shrink = xcalloc(n, sizeof *shrink);
        size_t n_grow = 0, n_shrink = 0;
        bool host_low = h->mem_total_mib > 0 &&
                        (double) h->mem_available_mib < p->mem_low_host_ratio * (double) h->mem_total_mib;

        for (size_t i = 0; i < pl->n; i++) {
                struct elastic_vm *v = &pl->vms[i];
                if (!tuned(v) || !v->has_guest_mem)
                        continue;
                int64_t cur = v->mem_mib, fl = mem_floor(v), cap = mem_cap(v);
                int64_t usable = v->guest_usable_mib < 0 ? 0 : v->guest_usable_mib > cur ? cur : v->guest_usable_mib;
                int64_t used = cur - usable;
                double keep = p->mem_free_keep_ratio * (double) cur;
                struct mem_move mv = { .i = i, .priority = v->priority };

                if ((double) usable < p->mem_grow_below_ratio * (double) cur && cur < cap) {
                        /* Right after a balloon change the VM's size and the guest's free memory
                         * are read at different moments (QEMU reports the size at most once a
                         * second, the guest its figures once a period) while the balloon moves:
                         * an inflating VM can look short of memory it is not short of. Wait
                         * for them to settle, unless the guest is out (it also deflates the
                         * balloon itself before its OOM killer would act). */
                        if (v->state->has_mem_change && pl->now - v->state->last_mem_change_ms < p->mem_settle_ms &&
                            usable >= p->mem_step_min_mib)
                                continue;
                        /* Give back at once, no cooldown: twice the free memory it should keep less
                         * what it has (what is missing plus the keep again), so that one step
                         * leaves it well above the trigger; a guest that is out of memory (less
                         * free than the smallest step) gets all it may have, since how much its
                         * programs ask for cannot be seen. */
                        int64_t step = (int64_t) ceil(2 * keep - (double) usable);
                        if (step < p->mem_step_min_mib)
                                step = p->mem_step_min_mib;
                        mv.target = usable < p->mem_step_min_mib || cur + step > cap ? cap : cur + step;
                        mv.why = MEM_GUEST_LOW;
                        if (mv.target < fl)
                                mv.target = fl;
                        if (v->state->has_mem_change && pl->now - v->state->last_mem_change_ms < p->mem_settle_ms &&
                            v->state->mem_target_mib >= mv.target)
                                continue; /* the balloon is still on its way there */
                        mv.amount = mv.target - cur;
                        grow[n_grow++] = mv;
                } else if (cur < fl) {
                        mv.target = fl;
                        mv.why = MEM_BELOW_FLOOR;
                        mv.amount = fl - cur;
                        grow[n_grow++] = mv;
                } else if (!since(pl, v->state->has_mem_change, v->state->last_mem_change_ms,
                                  p->min_change_interval_ms)) {
                        continue; /* shrinking waits for the cooldown */
                } else if (cur > cap) {
                        mv.target = cap;
                        mv.why = MEM_ABOVE_CAP;
                        mv.amount = cur - cap;
                        mem_apply(pl, &mv);
                } else if (host_low) {
                        /* Leave it used / (1 - keep ratio): after the change keep ratio of its
                         * memory is free, in one step rather than creeping towards it. */
                        int64_t t = (int64_t) ceil((double) used / (1 - p->mem_free_keep_ratio));
                        if (t < fl)
                                t = fl;
                        if (cur - t < p->mem_step_min_mib || cur - t <= 0)
                                continue;
                        mv.target = t;
                        mv.why = MEM_RECLAIM;
                        mv.amount = cur - t;
                        shrink[n_shrink++] = mv;
                }
        }

        /* Growth, highest priority first, out of what the host has available; a step smaller
         * than the smallest worth making is skipped unless it brings the VM to its cap or floor. */
        qsort(grow, n_grow, sizeof *grow, cmp_grow);
        int64_t budget = h->mem_available_mib > 0 ? h->mem_available_mib : 0;
        for (size_t k = 0; k < n_grow; k++) {
                struct mem_move *mv = &grow[k];
                const struct elastic_vm *v = &pl->vms[mv->i];
                if (mv->amount > budget) {
                        mv->amount = budget;
                        mv->target = v->mem_mib + budget;
                }
                if (mv->amount <= 0 ||
                    (mv->amount < p->mem_step_min_mib && mv->target != mem_cap(v) && mv->target != mem_floor(v)))
                        continue;
                budget -= mv->amount;
                mem_apply(pl, mv);
        }

        /* Reclaim, lowest priority and largest excess first, until the host would have twice
         * its low mark available: hysteresis, so that the next pass does not start again.
         * Balloons still inflating towards a recent target count as available already: a
         * balloon takes seconds, and the host's figure lags behind it. */
        qsort(shrink, n_shrink, sizeof *shrink, cmp_reclaim);
        double need = 2 * p->mem_low_host_ratio * (double) h->mem_total_mib - (double) h->mem_available_mib;
        for (size_t i = 0; i < pl->n; i++) {
                const struct elastic_vm *v = &pl->vms[i];
                if (tuned(v) && v->state->has_mem_change &&
                    pl->now - v->state->last_mem_change_ms < p->min_change_interval_ms &&
                    v->mem_mib > v->state->mem_target_mib)
                        need -= (double) (v->mem_mib - v->state->mem_target_mib);
        }
        for (size_t k = 0; k < n_shrink && need > 0; k++) {
                mem_apply(pl, &shrink[k]);
                need -= (double) shrink[k].amount;
        }
        free(grow);
        free(shrink);
}

int elastic_plan(const struct elastic_params *p, const struct elastic_host *host, struct elastic_vm *vms, size_t n,
                 int64_t now_ms, double *ret_demand, double *ret_entitlement, struct elastic_action **ret,
                 size_t *ret_n) {
        if (!p || !host || (n && !vms) || !ret || !ret_n || params_check(p) < 0 || !isfinite(host->cpus) ||
            host->cpus <= 0 || !isfinite(host->idle_cores) || host->mem_total_mib < 0 || host->mem_available_mib < 0)
                return TIDE_E_INVALID;
        for (size_t i = 0; i < n; i++)
                if (vm_check(&vms[i]) < 0)
                        return TIDE_E_INVALID;

        struct plan pl = {
                .p = p,
                .host = host,
                .vms = vms,
                .n = n,
                .now = now_ms,
                .demand = xcalloc(n ? n : 1, sizeof(double)),
                .ent = xcalloc(n ? n : 1, sizeof(double)),
        };
        /* A VM the plan does not tune forgets what was applied: if it becomes elastic again,
         * everything is applied afresh (the agent may have put its definition back). */
        for (size_t i = 0; i < n; i++)
                if (!tuned(&vms[i]) && vms[i].state)
                        *vms[i].state = (struct elastic_vm_state) {};

        stage_demand(&pl);
        stage_entitlement(&pl);
        stage_shares(&pl);
        stage_quota(&pl);
        stage_vcpus(&pl);
        stage_memory(&pl);

        if (pl.n_act > 1)
                qsort(pl.act, pl.n_act, sizeof *pl.act, cmp_action);
        if (ret_demand && n)
                memcpy(ret_demand, pl.demand, n * sizeof(double));
        if (ret_entitlement && n)
                memcpy(ret_entitlement, pl.ent, n * sizeof(double));
        free(pl.demand);
        free(pl.ent);
        *ret = pl.n_act ? pl.act : NULL;
        if (!pl.n_act)
                free(pl.act);
        *ret_n = pl.n_act;
        return 0;
}
