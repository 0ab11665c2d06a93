/* sched_place_priv.h — what the parts of placement share: the request prepared once per
 * decision (struct req_ctx), a host's effective settings (struct eff) and verdict (struct eval),
 * the hashes of names and labels, and the NUMA steps that sched_host.c borrows. For
 * sched_place.c, the stages it compiles (sched_filter.h, sched_weigh.h, sched_numa.h,
 * sched_explain.h) and sched_host.c; not for other modules. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sched.h"

#include "common/util.h"

#define CPU_WORDS (SCHED_MAX_CPUS / 64)
#define _hot_ inline __attribute__((always_inline)) /* the per-host steps of the scan */

/* Hashing (FNV-1a): names and labels are compared by hash first, by strcmp to be sure. */

#define HASH_INIT 0xcbf29ce484222325ull

static inline uint64_t hash_add(uint64_t h, const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char) s[i]) * 0x100000001b3ull;
        return h;
}

static inline uint64_t hash_str(const char *s) {
        return s ? hash_add(HASH_INIT, s, strlen(s)) : 0;
}

static inline uint64_t bloom_bit(uint64_t hash) {
        return 1ull << (hash >> 58);
}

/* The request, prepared once per decision. */

struct hint {
        bool host; /* host=NAME, else a label key=value */
        const char *key;
        size_t key_len;
        const char *value;
        uint64_t hash; /* of the name, or of "key=value" */
};

struct member {
        uint64_t hash;
        const char *name; /* NULL: empty slot */
        uint32_t count;
};

struct group_table {
        struct member *slots;
        size_t mask;
};

struct req_ctx {
        const struct sched_config *cfg;
        const struct sched_request *req;
        bool dedicated, hugepages, numa_vm, pack;
        int reserved; /* the cluster's reserves, >= 0 */
        double reserved_ram;
        double vcpus, ram_mib, disk_gib; /* the request's, as doubles */
        int n_hints;
        struct hint hints[SCHED_MAX_HINTS];
        bool group; /* a policy, and members to look at */
        struct group_table members;
        bool prune;            /* hosts whose upper bound cannot win may be skipped */
        bool soft_affinity;    /* the group's policy is soft-affinity */
        double inv_rr, inv_cr; /* 1 / the cluster's ratios */
        double numa_bound;     /* the numa part's bound */
};

/* Effective settings of a host: its own, else the cluster's. */
struct eff {
        int reserved;    /* CPUs, at most the host's */
        double res_cpus; /* the same */
        double res_ram;
        double cr, rr, dr;
};

static inline double ratio_of(double host, double cluster) {
        return host >= 0 ? host : cluster;
}

static _hot_ void eff_get(const struct req_ctx *c, const struct sched_host *h, struct eff *f) {
        const struct sched_config *cfg = c->cfg;
        int r = c->reserved;
        f->res_ram = c->reserved_ram;
        f->cr = cfg->cpu_ratio;
        f->rr = cfg->ram_ratio;
        f->dr = cfg->disk_ratio;
        if (__builtin_expect(h->sum.overrides, 0)) {
                r = h->reserved_cpus >= 0 ? h->reserved_cpus : r;
                f->res_ram = h->reserved_ram_mib >= 0 ? (double) h->reserved_ram_mib : f->res_ram;
                f->cr = ratio_of(h->cpu_ratio, f->cr);
                f->rr = ratio_of(h->ram_ratio, f->rr);
                f->dr = ratio_of(h->disk_ratio, f->dr);
        }
        f->reserved = r < h->cpus ? r : h->cpus > 0 ? h->cpus : 0;
        f->res_cpus = f->reserved;
}

static inline uint32_t members_on(const struct group_table *t, uint64_t hash, const char *name) {
        for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
                const struct member *m = &t->slots[i];
                if (!m->name)
                        return 0;
                if (m->hash == hash && streq(m->name, name))
                        return m->count;
        }
}

/* The per-host verdict, and what the weighers and the explanation need from the filters. */
struct eval {
        int filter;                    /* the first filter that rejected the host, -1 when it passed */
        int members;                   /* group members on the host */
        int node;                      /* index of the NUMA node chosen (numa VMs), -1 for none */
        bool spread;                   /* dedicated VM spread over nodes */
        int free_pin;                  /* free CPUs to pin (dedicated VMs) */
        const struct sched_host *host; /* the host judged: the one given, or a synced copy */
};

/* NUMA steps that claims and the invariant check share (sched_place.c, from sched_numa.h). */

/* Into *ret, the lowest r CPUs of h's nodes. */
void sched_reserved_set(const struct sched_host *h, int r, struct cpuset *ret);
/* RAM shares per node of a dedicated VM spread over nodes, from its pinned CPUs, into share[]. */
void sched_spread_shares(const struct sched_host *h, int64_t ram, const int *pinned, int n_pinned, int64_t share[]);
