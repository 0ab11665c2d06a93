/* sched_numa.h — the NUMA and pinning stage of placement: the free CPUs of each node once the
 * reserved CPUs are set aside, the filters dedicated, hugepages and numa with the node a VM gets
 * (or its CPUs spread over nodes), the CPUs a dedicated VM pins, and how its RAM is shared
 * among nodes.
 *
 * Static functions, compiled into sched_place.c alone (which says why); nothing else includes
 * this file. */
#pragma once

#include "sched_place_priv.h"

/* The lowest r CPUs of h's nodes. */
static void reserved_set(const struct sched_host *h, int r, struct cpuset *ret) {
        *ret = (struct cpuset) {};
        for (int w = 0; w < h->sum.cpu_words && r > 0; w++) {
                uint64_t u = 0;
                for (int k = 0; k < h->n_numa; k++)
                        u |= h->numa[k].cpus.w[w];
                for (; u && r > 0; u &= u - 1, r--)
                        ret->w[w] |= u & -u;
        }
}

/* Free CPUs of each node (neither pinned nor among the lowest r) and the CPUs it could give at
 * all (not reserved); returns the total free. From the totals when they know the lowest r
 * CPUs, else from the cpusets. */
static int node_free(const struct sched_host *h, int r, int free[], int usable[]) {
        const struct sched_host_totals *t = &h->sum;
        int total = 0;
        if (r <= t->n_low || t->n_low < SCHED_LOW_CPUS) {
                for (int k = 0; k < h->n_numa; k++) {
                        free[k] = t->node[k].free_cpus;
                        usable[k] = t->node[k].cpus;
                }
                for (int j = 0; j < r && j < t->n_low; j++) {
                        usable[t->low_node[j]]--;
                        if (!(t->low_pinned >> j & 1))
                                free[t->low_node[j]]--;
                }
        } else {
                struct cpuset res;
                reserved_set(h, r, &res);
                for (int k = 0; k < h->n_numa; k++) {
                        const struct cpuset *cs = &h->numa[k].cpus;
                        free[k] = usable[k] = 0;
                        for (int w = 0; w < t->cpu_words; w++) {
                                uint64_t x = cs->w[w] & ~res.w[w];
                                usable[k] += __builtin_popcountll(x);
                                free[k] += __builtin_popcountll(x & ~h->pinned.w[w]);
                        }
                }
        }
        for (int k = 0; k < h->n_numa; k++)
                total += free[k];
        return total;
}

/* The order in which a spread VM takes nodes: most free CPUs first, then lowest index. */
static int spread_order(int n_numa, const int free[], int order[]) {
        for (int k = 0; k < n_numa; k++) {
                int j = k;
                for (; j > 0 && free[order[j - 1]] < free[k]; j--)
                        order[j] = order[j - 1];
                order[j] = k;
        }
        return n_numa;
}

/* RAM shares of a spread VM from its vCPUs per node (count[]): in proportion, the remainder to
 * node first (that of vCPU 0). */
static void shares_of(int n_numa, int64_t ram, const int count[], int vcpus, int first, int64_t share[]) {
        int64_t given = 0;
        for (int k = 0; k < n_numa; k++) {
                share[k] = vcpus > 0 ? ram * count[k] / vcpus : 0;
                given += share[k];
        }
        if (first >= 0)
                share[first] += ram - given;
}

/* The same from a decision's pinned CPUs, for claims and releases. */
static void spread_shares(const struct sched_host *h, int64_t ram, const int *pinned, int n_pinned, int64_t share[]) {
        int count[SCHED_MAX_NUMA] = {}, first = -1;
        for (int i = 0; i < n_pinned; i++)
                for (int k = 0; k < h->n_numa; k++)
                        if (pinned[i] >= 0 && pinned[i] < SCHED_MAX_CPUS && cpuset_has(&h->numa[k].cpus, pinned[i])) {
                                count[k]++;
                                if (first < 0)
                                        first = k;
                                break;
                        }
        shares_of(h->n_numa, ram, count, n_pinned, first, share);
}

/* Picks a dedicated VM's CPUs into pinned[] (vCPU order): the lowest free CPUs of node `node`,
 * or of the nodes in spread order. Returns how many it found. */
static int pick_cpus(const struct sched_host *h, int reserved, int vcpus, int node, bool spread, const int free[],
                     int pinned[]) {
        int order[SCHED_MAX_NUMA], n_order = 1, n = 0;
        struct cpuset res;
        reserved_set(h, reserved, &res);
        if (spread)
                n_order = spread_order(h->n_numa, free, order);
        else
                order[0] = node;
        for (int o = 0; o < n_order && n < vcpus; o++) {
                const struct cpuset *cs = &h->numa[order[o]].cpus;
                for (int w = 0; w < h->sum.cpu_words && n < vcpus; w++)
                        for (uint64_t x = cs->w[w] & ~res.w[w] & ~h->pinned.w[w]; x && n < vcpus; x &= x - 1)
                                pinned[n++] = w * 64 + __builtin_ctzll(x);
        }
        return n;
}

/* Stages dedicated, numa and hugepages for a VM that needs a NUMA node: sets e->node,
 * e->spread and e->free_pin, and returns the first of the three filters that rejects h, or -1. */
static int numa_stage(const struct req_ctx *c, const struct sched_host *h, const struct eff *f, struct eval *e) {
        const struct sched_request *req = c->req;
        const struct sched_host_totals *t = &h->sum;
        int free[SCHED_MAX_NUMA] = {}, usable[SCHED_MAX_NUMA] = {};

        if (c->dedicated) {
                e->free_pin = (int) (t->shared_cpus - f->res_cpus); /* an upper bound, without the node reads */
                if (e->free_pin < req->vcpus)
                        return SCHED_F_DEDICATED;
                e->free_pin = node_free(h, f->reserved, free, usable);
                if (e->free_pin < req->vcpus)
                        return SCHED_F_DEDICATED;
        }
        if (c->hugepages && t->hugepages_mib - t->hugepages_used_mib < req->ram_mib)
                return SCHED_F_HUGEPAGES;

        int64_t need_mem = c->dedicated && !c->hugepages ? req->ram_mib : 0;
        int64_t need_hp = c->hugepages ? req->ram_mib : 0;
        int need_cpus = c->dedicated ? req->vcpus : 0;
        int best = -1, best_hp = -1, max_usable = 0;
        int64_t best_key = 0;
        for (int k = 0; k < h->n_numa; k++) {
                const struct sched_node_totals *nt = &t->node[k];
                if (usable[k] > max_usable)
                        max_usable = usable[k];
                if (need_hp > 0 && nt->free_hugepages_mib >= need_hp &&
                    (best_hp < 0 || nt->free_hugepages_mib < t->node[best_hp].free_hugepages_mib))
                        best_hp = k;
                if (free[k] < need_cpus || nt->free_mib < need_mem || nt->free_hugepages_mib < need_hp)
                        continue;
                /* The fewest free CPUs that fit (pinned VMs pack, big holes stay); for hugepages
                 * then the fewest free hugepages; then the lowest index. */
                int64_t key = need_hp > 0 ? nt->free_hugepages_mib : 0;
                if (best < 0 || free[k] < free[best] || (free[k] == free[best] && key < best_key)) {
                        best = k;
                        best_key = key;
                }
        }
        if (best >= 0) {
                e->node = best;
                return -1;
        }
        if (!c->dedicated || req->vcpus <= max_usable)
                return SCHED_F_NUMA; /* it would fit one node, but none has room now */

        /* More vCPUs than any node has: the CPUs spread over nodes. A hugepages VM keeps its
         * memory on one node; another has its RAM accounted to the nodes by vCPUs. */
        if (c->hugepages) {
                if (best_hp < 0)
                        return SCHED_F_NUMA;
                e->node = best_hp;
                e->spread = true;
                return -1;
        }
        int order[SCHED_MAX_NUMA], count[SCHED_MAX_NUMA] = {}, left = req->vcpus;
        int64_t share[SCHED_MAX_NUMA];
        spread_order(h->n_numa, free, order);
        for (int o = 0; o < h->n_numa && left > 0; o++) {
                count[order[o]] = free[order[o]] < left ? free[order[o]] : left;
                left -= count[order[o]];
        }
        shares_of(h->n_numa, req->ram_mib, count, req->vcpus, order[0], share);
        for (int k = 0; k < h->n_numa; k++)
                if (share[k] > t->node[k].free_mib)
                        return SCHED_F_NUMA;
        e->node = -1;
        e->spread = true;
        return -1;
}
