/* sched_weigh.h — the weighers of placement: ram, cpu, load, numa and soft affinity, their
 * parts multiplied and summed into a host's score (the formulas are in sched.h). weigh_host()
 * inlines into the scan.
 *
 * Static functions, compiled into sched_place.c alone (which says why); nothing else includes
 * this file. */
#pragma once

#include "sched_place_priv.h"

/* num / den within 0..1 (NaN gives 0). */
static _hot_ double frac(double num, double den) {
        double q = num / den;
        q = q > 0 ? q : 0;
        return q < 1 ? q : 1;
}

/* The weighers: parts[] gets ram, cpu, load, numa (multiplied); returns the score. The one
 * arithmetic for every path, so that a decision and its explanation agree to the bit. */
static _hot_ double weigh_host(const struct req_ctx *c, const struct sched_host *h, const struct eff *f,
                               const struct eval *e, double parts[4], bool numa_vm) {
        bool ded = numa_vm && c->dedicated, hp = numa_vm && c->hugepages;
        const struct sched_request *req = c->req;
        const struct sched_config *cfg = c->cfg;
        const struct sched_host_totals *t = &h->sum;
        double ram, cpu, numa, soft = 0;

        if (hp)
                ram = frac((double) (t->hugepages_mib - t->hugepages_used_mib) - c->ram_mib, (double) t->hugepages_mib);
        else if (ded)
                ram = frac((t->pool_mib - f->res_ram - c->ram_mib) * f->rr - t->used_ram_mib,
                           (t->small_mib - f->res_ram) * f->rr);
        else
                ram = frac((t->pool_mib - f->res_ram) * f->rr - (t->used_ram_mib + c->ram_mib),
                           (t->small_mib - f->res_ram) * f->rr);
        if (ded)
                cpu = frac((t->shared_cpus - f->res_cpus - c->vcpus) * f->cr - t->used_vcpus,
                           (t->cpus - f->res_cpus) * f->cr);
        else
                cpu = frac((t->shared_cpus - f->res_cpus) * f->cr - (t->used_vcpus + c->vcpus),
                           (t->cpus - f->res_cpus) * f->cr);
        if (c->pack) {
                ram = 1 - ram;
                cpu = 1 - cpu;
        }
        if (numa_vm)
                numa = e->spread ? 0 : 1;
        else
                numa = (double) ((c->vcpus <= t->big_node_cpus) & (c->ram_mib <= t->big_node_mem_mib));

        parts[0] = cfg->w_ram * ram;
        parts[1] = cfg->w_cpu * cpu;
        parts[2] = cfg->w_load * t->load_part;
        parts[3] = cfg->w_numa * numa;
        if (c->group) {
                double share = (double) e->members / (double) req->n_group_hosts;
                if (req->group_policy == SCHED_GROUP_SOFT_AFFINITY)
                        soft = cfg->w_soft_affinity * share;
                else if (req->group_policy == SCHED_GROUP_SOFT_ANTI_AFFINITY)
                        soft = -cfg->w_soft_affinity * share;
        }
        return parts[0] + parts[1] + parts[2] + parts[3] + soft;
}
