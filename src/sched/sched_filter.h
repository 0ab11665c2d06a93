/* sched_filter.h — the filters of placement, run on each host in enum order: state, hint,
 * affinity, then the capacity filters cpu, ram and disk, then (a VM that needs a NUMA node) the
 * NUMA stage's dedicated, hugepages and numa (sched_numa.h). filter_host() inlines into the scan.
 *
 * Static functions, compiled into sched_place.c alone (which says why); nothing else includes
 * this file. */
#pragma once

#include "sched_place_priv.h"
#include "sched_numa.h"

/* What explanations, the API and the JSON forms call them (sched_filter_name()). */
static const char *const filter_names[SCHED_F_MAX] = {
        [SCHED_F_STATE] = "state",
        [SCHED_F_HINT] = "hint",
        [SCHED_F_AFFINITY] = "affinity",
        [SCHED_F_CPU] = "cpu",
        [SCHED_F_RAM] = "ram",
        [SCHED_F_DISK] = "disk",
        [SCHED_F_DEDICATED] = "dedicated",
        [SCHED_F_NUMA] = "numa",
        [SCHED_F_HUGEPAGES] = "hugepages",
};

static bool hint_matches(const struct hint *hint, const struct sched_host *h) {
        if (hint->host)
                return h->name && h->sum.name_hash == hint->hash && streq(h->name, hint->value);
        if (!(h->sum.label_bloom & bloom_bit(hint->hash)))
                return false;
        for (int i = 0; i < h->n_labels; i++) {
                const struct sched_label *l = &h->labels[i];
                if (l->key && l->value && strncmp(l->key, hint->key, hint->key_len) == 0 &&
                    l->key[hint->key_len] == 0 && streq(l->value, hint->value))
                        return true;
        }
        return false;
}

/* The capacity filters cpu, ram and disk, in that order; -1 when all pass. One branch for the
 * usual case of a host that passes all three. */
static _hot_ int capacity_filters(const struct req_ctx *c, const struct sched_host *h, const struct eff *f, bool ded,
                                  bool hp) {
        const struct sched_host_totals *t = &h->sum;
        double shared = t->shared_cpus - f->res_cpus;
        double pool = t->pool_mib - f->res_ram;
        bool cpu_ok, ram_ok, disk_ok;
        if (ded) {
                double left = shared - c->vcpus;
                cpu_ok = t->used_vcpus <= (left > 0 ? left : 0) * f->cr;
        } else
                cpu_ok = t->used_vcpus + c->vcpus <= shared * f->cr;
        if (hp)
                ram_ok = true; /* from hugepages: the small-page pool is untouched */
        else if (ded)
                ram_ok = (pool - c->ram_mib >= 0) & (t->used_ram_mib <= (pool - c->ram_mib) * f->rr);
        else
                ram_ok = t->used_ram_mib + c->ram_mib <= pool * f->rr;
        disk_ok = t->used_disk_gib + c->disk_gib <= t->disk_gib * f->dr;
        if (__builtin_expect(cpu_ok & ram_ok & disk_ok, 1))
                return -1;
        return !cpu_ok ? SCHED_F_CPU : !ram_ok ? SCHED_F_RAM : SCHED_F_DISK;
}

/* Runs the filters on one host, in enum order. */
static _hot_ int filter_host(const struct req_ctx *c, const struct sched_host *h, struct sched_host *tmp, struct eff *f,
                             struct eval *e, bool numa_vm) {
        bool ded = numa_vm && c->dedicated, hp = numa_vm && c->hugepages;
        const struct sched_request *req = c->req;
        int r;

        e->node = -1;
        e->spread = false;
        e->members = 0;
        e->host = h;
        if (__builtin_expect(!h->up | h->draining, 0))
                return SCHED_F_STATE;
        if (__builtin_expect(!h->sum.valid, 0)) {
                /* Filled by hand: judge a synced copy. */
                *tmp = *h;
                sched_host_sync(tmp);
                h = e->host = tmp;
        }
        for (int i = 0; i < c->n_hints; i++)
                if (!hint_matches(&c->hints[i], h))
                        return SCHED_F_HINT;
        if (c->group) {
                e->members = h->name ? (int) members_on(&c->members, h->sum.name_hash, h->name) : 0;
                if ((req->group_policy == SCHED_GROUP_AFFINITY && e->members == 0) ||
                    (req->group_policy == SCHED_GROUP_ANTI_AFFINITY && e->members > 0))
                        return SCHED_F_AFFINITY;
        }
        eff_get(c, h, f);
        if ((r = capacity_filters(c, h, f, ded, hp)) >= 0)
                return r;
        return numa_vm ? numa_stage(c, h, f, e) : -1;
}
