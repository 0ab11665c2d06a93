/* sched_place.c — the placement stages over a snapshot of hosts: filters (state, hint,
 * affinity, cpu, ram, disk, dedicated, numa, hugepages), weighers (ram, cpu, load, numa, soft
 * affinity), the NUMA node and CPUs of the winner, claims and releases, and the invariant check.
 *
 * sched_place() is the hot path: one pass over the hosts array, no allocation, cheap filters
 * first, and the per-node work only for VMs that need a NUMA node. The formulas are in sched.h;
 * explain output and the no-valid-host message are built here too. */
#include "sched.h"

#include <math.h>
#include <stdio.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"

#define CPU_WORDS (SCHED_MAX_CPUS / 64)
#define GROUP_STACK_HOSTS 256   /* distinct member hosts held in the stack table */

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

const char *sched_filter_name(enum sched_filter f) {
        return (unsigned) f < SCHED_F_MAX ? filter_names[f] : NULL;
}

static const char *const policy_names[SCHED_GROUP_POLICY_MAX] = {
        [SCHED_GROUP_NONE] = "none",
        [SCHED_GROUP_AFFINITY] = "affinity",
        [SCHED_GROUP_ANTI_AFFINITY] = "anti-affinity",
        [SCHED_GROUP_SOFT_AFFINITY] = "soft-affinity",
        [SCHED_GROUP_SOFT_ANTI_AFFINITY] = "soft-anti-affinity",
};

const char *sched_group_policy_name(enum sched_group_policy p) {
        return (unsigned) p < SCHED_GROUP_POLICY_MAX ? policy_names[p] : NULL;
}

int sched_group_policy_from_string(const char *s) {
        for (int i = 0; s && i < SCHED_GROUP_POLICY_MAX; i++)
                if (streq(s, policy_names[i]))
                        return i;
        return -1;
}

void sched_config_default(struct sched_config *c) {
        *c = (struct sched_config) {
                .cpu_ratio = 2.0,
                .ram_ratio = 1.5,
                .disk_ratio = 1.0,
                .reserved_cpus = 0,
                .reserved_ram_mib = 0,
                .mode = SCHED_SPREAD,
                .w_ram = 1.0,
                .w_cpu = 1.0,
                .w_load = 0.5,
                .w_numa = 0.2,
                .w_soft_affinity = 10.0,
        };
}

/* Hashing (FNV-1a): names and labels are compared by hash first, by strcmp to be sure. */

#define HASH_INIT 0xcbf29ce484222325ull

static uint64_t hash_add(uint64_t h, const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char) s[i]) * 0x100000001b3ull;
        return h;
}

static uint64_t hash_str(const char *s) {
        return s ? hash_add(HASH_INIT, s, strlen(s)) : 0;
}

static uint64_t hash_label(const char *key, const char *value) {
        uint64_t h = hash_add(HASH_INIT, key, strlen(key));
        h = hash_add(h, "=", 1);
        return hash_add(h, value, strlen(value));
}

static inline uint64_t bloom_bit(uint64_t hash) {
        return 1ull << (hash >> 58);
}

void sched_host_sync(struct sched_host *h) {
        if (h->n_numa <= 0) {
                h->n_numa = 1;
                h->numa[0] = (struct sched_numa_node) { .id = 0, .mem_mib = h->mem_mib };
                for (int c = 0; c < h->cpus && c < SCHED_MAX_CPUS; c++)
                        sched_cpuset_set(&h->numa[0].cpus, c);
        }
        if (h->n_numa > SCHED_MAX_NUMA)
                h->n_numa = SCHED_MAX_NUMA;
        if (h->n_labels > SCHED_MAX_LABELS)
                h->n_labels = SCHED_MAX_LABELS;

        struct sched_host_totals t = { .valid = true, .n_pinned = sched_cpuset_count(&h->pinned) };
        for (int k = 0; k < h->n_numa; k++) {
                const struct sched_numa_node *nd = &h->numa[k];
                int c = sched_cpuset_count(&nd->cpus);
                if (c > t.big_node_cpus || (k == 0 && c == 0)) {
                        t.big_node_cpus = c;
                        t.big_node_mem_mib = nd->mem_mib - nd->hugepages_mib;
                }
                t.bound_ram_mib += nd->bound_ram_mib;
                t.hugepages_mib += nd->hugepages_mib;
                t.hugepages_used_mib += nd->hugepages_used_mib;
        }
        t.name_hash = hash_str(h->name);
        for (int i = 0; i < h->n_labels; i++)
                if (h->labels[i].key && h->labels[i].value)
                        t.label_bloom |= bloom_bit(hash_label(h->labels[i].key, h->labels[i].value));
        h->sum = t;
}

/* Effective settings of a host: its own, else the cluster's. */

static inline double ratio_of(double host, double cluster) {
        return host >= 0 ? host : cluster;
}

static inline int reserved_cpus_of(const struct sched_host *h, const struct sched_config *cfg) {
        int r = h->reserved_cpus >= 0 ? h->reserved_cpus : cfg->reserved_cpus;
        return r < 0 ? 0 : r > h->cpus ? h->cpus : r;
}

static inline int64_t reserved_ram_of(const struct sched_host *h, const struct sched_config *cfg) {
        int64_t r = h->reserved_ram_mib >= 0 ? h->reserved_ram_mib : cfg->reserved_ram_mib;
        return r < 0 ? 0 : r;
}

/* The lowest r CPUs of h's nodes. */
static void reserved_set(const struct sched_host *h, int r, sched_cpuset *ret) {
        *ret = (sched_cpuset) {};
        for (int w = 0; w < CPU_WORDS && r > 0; w++) {
                uint64_t u = 0;
                for (int k = 0; k < h->n_numa; k++)
                        u |= h->numa[k].cpus.w[w];
                while (u && r > 0) {
                        uint64_t low = u & -u;
                        ret->w[w] |= low;
                        u &= u - 1;
                        r--;
                }
        }
}

/* The request, prepared once per decision. */

struct hint {
        bool host;                 /* host=NAME, else a label key=value */
        const char *key;
        size_t key_len;
        const char *value;
        uint64_t hash;             /* of the name, or of "key=value" */
};

struct member {
        uint64_t hash;
        const char *name;          /* NULL: empty slot */
        uint32_t count;
};

struct group_table {
        struct member *slots;
        size_t mask;
};

struct req_ctx {
        const struct sched_config *cfg;
        const struct sched_request *req;
        bool dedicated, hugepages, numa_vm;
        int n_hints;
        struct hint hints[SCHED_MAX_HINTS];
        bool group;                /* a policy with members to look at */
        struct group_table members;
};

static uint32_t members_on(const struct group_table *t, uint64_t hash, const char *name) {
        for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
                const struct member *m = &t->slots[i];
                if (!m->name)
                        return 0;
                if (m->hash == hash && streq(m->name, name))
                        return m->count;
        }
}

static void members_add(struct group_table *t, const char *name) {
        uint64_t hash = hash_str(name);
        for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
                struct member *m = &t->slots[i];
                if (!m->name) {
                        *m = (struct member) { .hash = hash, .name = name, .count = 1 };
                        return;
                }
                if (m->hash == hash && streq(m->name, name)) {
                        m->count++;
                        return;
                }
        }
}

static int invalid(char **ret_reason, const char *what) {
        if (ret_reason)
                *ret_reason = xasprintf("invalid placement request: %s", what);
        return TIDE_E_INVALID;
}

/* Checks req and fills c (but not its group table). */
static int req_prepare(const struct sched_config *cfg, const struct sched_request *req, struct req_ctx *c,
                       char **ret_reason) {
        if (req->vcpus < 1)
                return invalid(ret_reason, "vcpus must be at least 1");
        if (req->ram_mib < 0 || req->disk_gib < 0)
                return invalid(ret_reason, "sizes must not be negative");
        if (req->dedicated && req->vcpus > SCHED_MAX_PINNED)
                return invalid(ret_reason, "a dedicated VM has at most 256 vCPUs");
        if ((unsigned) req->group_policy >= SCHED_GROUP_POLICY_MAX)
                return invalid(ret_reason, "unknown group policy");
        if (req->n_group_hosts > 0 && !req->group_hosts)
                return invalid(ret_reason, "group hosts missing");
        for (size_t i = 0; i < req->n_group_hosts; i++)
                if (!req->group_hosts[i])
                        return invalid(ret_reason, "a group host is NULL");
        if (req->n_hints < 0 || req->n_hints > SCHED_MAX_HINTS)
                return invalid(ret_reason, "too many hints");

        *c = (struct req_ctx) {
                .cfg = cfg,
                .req = req,
                .dedicated = req->dedicated,
                .hugepages = req->hugepages,
                .numa_vm = req->dedicated || req->hugepages,
                .n_hints = req->n_hints,
                .group = req->group_policy != SCHED_GROUP_NONE && req->n_group_hosts > 0,
        };
        for (int i = 0; i < req->n_hints; i++) {
                const char *s = req->hints[i], *eq = s ? strchr(s, '=') : NULL;
                if (!eq || eq == s)
                        return invalid(ret_reason, "a hint is key=value");
                struct hint *h = &c->hints[i];
                h->key = s;
                h->key_len = (size_t) (eq - s);
                h->value = eq + 1;
                h->host = h->key_len == 4 && strncmp(s, "host", 4) == 0;
                h->hash = h->host ? hash_str(h->value) : hash_str(s);
        }
        return 0;
}

/* The per-host verdict, and what the weighers and the explanation need from the filters. */
struct eval {
        int filter;                /* the first filter that rejected the host, -1 when it passed */
        int reserved;              /* effective reserved CPUs */
        int members;               /* group members on the host */
        int node;                  /* index of the NUMA node chosen (numa VMs), -1 for none */
        bool spread;               /* dedicated VM spread over nodes */
        int free_pin;              /* free CPUs to pin (dedicated VMs) */
        double cpu_ratio, ram_ratio, disk_ratio;
        int64_t pool;              /* small-page RAM for VMs: mem - reserved - hugepages */
        const struct sched_host_totals *sum;
        const struct sched_host *host;   /* the host judged: the one given, or a synced copy */
};

static bool hint_matches(const struct hint *hint, const struct sched_host *h, const struct sched_host_totals *t) {
        if (hint->host)
                return h->name && t->name_hash == hint->hash && streq(h->name, hint->value);
        if (!(t->label_bloom & bloom_bit(hint->hash)))
                return false;
        for (int i = 0; i < h->n_labels; i++) {
                const struct sched_label *l = &h->labels[i];
                if (l->key && l->value && strncmp(l->key, hint->key, hint->key_len) == 0 &&
                    l->key[hint->key_len] == 0 && streq(l->value, hint->value))
                        return true;
        }
        return false;
}

/* Free CPUs of each node (not pinned, not reserved) and CPUs it could give at all (not
 * reserved); returns the total free. */
static int node_cpus(const struct sched_host *h, const sched_cpuset *res, int free[], int usable[]) {
        int total = 0;
        for (int k = 0; k < h->n_numa; k++) {
                const sched_cpuset *cs = &h->numa[k].cpus;
                int f = 0, u = 0;
                for (int w = 0; w < CPU_WORDS; w++) {
                        uint64_t x = cs->w[w] & ~res->w[w];
                        u += __builtin_popcountll(x);
                        f += __builtin_popcountll(x & ~h->pinned.w[w]);
                }
                free[k] = f;
                usable[k] = u;
                total += f;
        }
        return total;
}

/* The order in which a spread VM takes nodes: most free CPUs first, then lowest index. */
static int spread_order(const struct sched_host *h, const int free[], int order[]) {
        int n = 0;
        for (int k = 0; k < h->n_numa; k++) {
                int j = n++;
                while (j > 0 && free[order[j - 1]] < free[k]) {
                        order[j] = order[j - 1];
                        j--;
                }
                order[j] = k;
        }
        return n;
}

/* RAM shares of a spread dedicated VM: by the vCPUs on each node (pinned[i] is vCPU i's CPU),
 * the remainder to the node of vCPU 0. share[] has n_numa entries. */
static void spread_shares(const struct sched_host *h, int64_t ram, const int *pinned, int n_pinned, int64_t share[]) {
        int count[SCHED_MAX_NUMA] = {}, first = -1;
        for (int i = 0; i < n_pinned; i++)
                for (int k = 0; k < h->n_numa; k++)
                        if (pinned[i] >= 0 && pinned[i] < SCHED_MAX_CPUS && sched_cpuset_has(&h->numa[k].cpus, pinned[i])) {
                                count[k]++;
                                if (first < 0)
                                        first = k;
                                break;
                        }
        int64_t given = 0;
        for (int k = 0; k < h->n_numa; k++) {
                share[k] = n_pinned > 0 ? ram * count[k] / n_pinned : 0;
                given += share[k];
        }
        if (first >= 0)
                share[first] += ram - given;
}

/* Picks the CPUs of a dedicated VM into pinned[] (vCPU order): the lowest free CPUs of node
 * `node`, or of the nodes in spread order. Returns how many it found. */
static int pick_cpus(const struct sched_host *h, const sched_cpuset *res, int vcpus, int node, bool spread,
                     const int free[], int pinned[]) {
        int order[SCHED_MAX_NUMA], n_order = 1, n = 0;
        if (spread)
                n_order = spread_order(h, free, order);
        else
                order[0] = node;
        for (int o = 0; o < n_order && n < vcpus; o++) {
                const sched_cpuset *cs = &h->numa[order[o]].cpus;
                for (int w = 0; w < CPU_WORDS && n < vcpus; w++) {
                        uint64_t x = cs->w[w] & ~res->w[w] & ~h->pinned.w[w];
                        while (x && n < vcpus) {
                                pinned[n++] = w * 64 + __builtin_ctzll(x);
                                x &= x - 1;
                        }
                }
        }
        return n;
}

/* Stages dedicated, numa and hugepages for a VM that needs a NUMA node: sets e->node,
 * e->spread and e->free_pin, and returns the first of the three filters that rejects h, or -1. */
static int numa_stage(const struct req_ctx *c, const struct sched_host *h, struct eval *e) {
        const struct sched_request *req = c->req;
        const struct sched_host_totals *t = e->sum;
        int free[SCHED_MAX_NUMA] = {}, usable[SCHED_MAX_NUMA] = {};
        sched_cpuset res = {};

        if (c->dedicated) {
                /* Free pinnable CPUs are at most the unreserved, unpinned ones. */
                if (h->cpus - e->reserved - t->n_pinned < req->vcpus) {
                        e->free_pin = h->cpus - e->reserved - t->n_pinned;
                        return SCHED_F_DEDICATED;
                }
                reserved_set(h, e->reserved, &res);
                e->free_pin = node_cpus(h, &res, free, usable);
                if (e->free_pin < req->vcpus)
                        return SCHED_F_DEDICATED;
        }
        if (c->hugepages && t->hugepages_mib - t->hugepages_used_mib < req->ram_mib)
                return SCHED_F_HUGEPAGES;

        int64_t need_mem = c->dedicated && !c->hugepages ? req->ram_mib : 0;
        int64_t need_hp = c->hugepages ? req->ram_mib : 0;
        int need_cpus = c->dedicated ? req->vcpus : 0;
        int best = -1, best_hp = -1, max_usable = 0;
        int64_t best_key_hp = 0;
        for (int k = 0; k < h->n_numa; k++) {
                const struct sched_numa_node *nd = &h->numa[k];
                int64_t free_mem = nd->mem_mib - nd->hugepages_mib - nd->bound_ram_mib;
                int64_t free_hp = nd->hugepages_mib - nd->hugepages_used_mib;
                if (usable[k] > max_usable)
                        max_usable = usable[k];
                if (free_hp >= need_hp && need_hp > 0 &&
                    (best_hp < 0 || free_hp < h->numa[best_hp].hugepages_mib - h->numa[best_hp].hugepages_used_mib))
                        best_hp = k;
                if (free[k] < need_cpus || free_mem < need_mem || free_hp < need_hp)
                        continue;
                /* Dedicated: the fewest free CPUs that fit (pack pinned VMs); hugepages: then
                 * the fewest free hugepages; then the lowest index. */
                int64_t key_hp = need_hp > 0 ? free_hp : 0;
                if (best < 0 || free[k] < free[best] || (free[k] == free[best] && key_hp < best_key_hp)) {
                        best = k;
                        best_key_hp = key_hp;
                }
        }
        if (best >= 0) {
                e->node = best;
                return -1;
        }
        if (!c->dedicated || req->vcpus <= max_usable)
                return SCHED_F_NUMA;    /* it would fit one node, but none has room now */

        /* More vCPUs than any node has: spread the CPUs over nodes. */
        if (c->hugepages) {
                if (best_hp < 0)
                        return SCHED_F_NUMA;
                e->node = best_hp;
                e->spread = true;
                return -1;
        }
        int pinned[SCHED_MAX_PINNED];
        int64_t share[SCHED_MAX_NUMA];
        int n = pick_cpus(h, &res, req->vcpus, -1, true, free, pinned);
        spread_shares(h, req->ram_mib, pinned, n, share);
        for (int k = 0; k < h->n_numa; k++)
                if (share[k] > h->numa[k].mem_mib - h->numa[k].hugepages_mib - h->numa[k].bound_ram_mib)
                        return SCHED_F_NUMA;
        e->node = -1;
        e->spread = true;
        return -1;
}

/* Runs the filters on one host, in enum order. */
static inline int filter_host(const struct req_ctx *c, const struct sched_host *h, struct sched_host *tmp,
                              struct eval *e) {
        const struct sched_request *req = c->req;
        const struct sched_config *cfg = c->cfg;
        const struct sched_host_totals *t;

        e->node = -1;
        e->spread = false;
        e->members = 0;
        e->host = h;
        if (!h->up || h->draining)
                return SCHED_F_STATE;
        if (__builtin_expect(!h->sum.valid, 0)) {
                /* Filled by hand: judge a synced copy. */
                *tmp = *h;
                sched_host_sync(tmp);
                h = e->host = tmp;
        }
        t = e->sum = &h->sum;

        for (int i = 0; i < c->n_hints; i++)
                if (!hint_matches(&c->hints[i], h, t))
                        return SCHED_F_HINT;

        if (c->group) {
                e->members = h->name ? (int) members_on(&c->members, t->name_hash, h->name) : 0;
                if (req->group_policy == SCHED_GROUP_AFFINITY && e->members == 0)
                        return SCHED_F_AFFINITY;
                if (req->group_policy == SCHED_GROUP_ANTI_AFFINITY && e->members > 0)
                        return SCHED_F_AFFINITY;
        }

        e->reserved = reserved_cpus_of(h, cfg);
        e->cpu_ratio = ratio_of(h->cpu_ratio, cfg->cpu_ratio);
        int shared_cpus = h->cpus - e->reserved - t->n_pinned;
        if (c->dedicated) {
                int left = shared_cpus - req->vcpus;
                if ((double) h->used_vcpus > (double) (left > 0 ? left : 0) * e->cpu_ratio)
                        return SCHED_F_CPU;
        } else if ((double) (h->used_vcpus + req->vcpus) > (double) shared_cpus * e->cpu_ratio)
                return SCHED_F_CPU;

        e->ram_ratio = ratio_of(h->ram_ratio, cfg->ram_ratio);
        e->pool = h->mem_mib - reserved_ram_of(h, cfg) - t->hugepages_mib;
        if (c->hugepages) {
                /* from hugepages: the small-page pool is untouched */
        } else if (c->dedicated) {
                int64_t left = e->pool - t->bound_ram_mib - req->ram_mib;
                if (left < 0 || (double) h->used_ram_mib > (double) left * e->ram_ratio)
                        return SCHED_F_RAM;
        } else if ((double) (h->used_ram_mib + req->ram_mib) > (double) (e->pool - t->bound_ram_mib) * e->ram_ratio)
                return SCHED_F_RAM;

        e->disk_ratio = ratio_of(h->disk_ratio, cfg->disk_ratio);
        if ((double) (h->used_disk_gib + req->disk_gib) > (double) h->disk_gib * e->disk_ratio)
                return SCHED_F_DISK;

        if (c->numa_vm)
                return numa_stage(c, h, e);
        return -1;
}

static inline double clamp01(double x) {
        return x > 1 ? 1 : x > 0 ? x : 0;   /* NaN gives 0 */
}

/* The weighers: parts[] gets ram, cpu, load, numa (multiplied); returns the score. */
static inline double weigh_host(const struct req_ctx *c, const struct sched_host *h, const struct eval *e,
                                double parts[4]) {
        const struct sched_request *req = c->req;
        const struct sched_config *cfg = c->cfg;
        const struct sched_host_totals *t = e->sum;
        double ram, cpu, load, numa, soft = 0;

        if (c->hugepages)
                ram = t->hugepages_mib > 0
                              ? (double) (t->hugepages_mib - t->hugepages_used_mib - req->ram_mib) / (double) t->hugepages_mib
                              : 0;
        else {
                int64_t bound = t->bound_ram_mib + (c->dedicated ? req->ram_mib : 0);
                int64_t used = h->used_ram_mib + (c->dedicated ? 0 : req->ram_mib);
                double denom = (double) e->pool * e->ram_ratio;
                ram = denom > 0 ? ((double) (e->pool - bound) * e->ram_ratio - (double) used) / denom : 0;
        }
        {
                int usable = h->cpus - e->reserved;
                int pinned = t->n_pinned + (c->dedicated ? req->vcpus : 0);
                int64_t used = h->used_vcpus + (c->dedicated ? 0 : req->vcpus);
                double denom = (double) usable * e->cpu_ratio;
                cpu = denom > 0 ? ((double) (usable - pinned) * e->cpu_ratio - (double) used) / denom : 0;
        }
        ram = clamp01(ram);
        cpu = clamp01(cpu);
        if (cfg->mode == SCHED_PACK) {
                ram = 1 - ram;
                cpu = 1 - cpu;
        }
        load = h->load >= 0 ? 1 - clamp01(h->load) : 0.5;
        if (c->numa_vm)
                numa = e->spread ? 0 : 1;
        else
                numa = req->vcpus <= t->big_node_cpus && req->ram_mib <= t->big_node_mem_mib ? 1 : 0;

        parts[0] = cfg->w_ram * ram;
        parts[1] = cfg->w_cpu * cpu;
        parts[2] = cfg->w_load * load;
        parts[3] = cfg->w_numa * numa;
        if (c->group && req->n_group_hosts > 0) {
                double share = (double) e->members / (double) req->n_group_hosts;
                if (req->group_policy == SCHED_GROUP_SOFT_AFFINITY)
                        soft = cfg->w_soft_affinity * share;
                else if (req->group_policy == SCHED_GROUP_SOFT_ANTI_AFFINITY)
                        soft = -cfg->w_soft_affinity * share;
        }
        return parts[0] + parts[1] + parts[2] + parts[3] + soft;
}

/* Explanation of one host's verdict (not on the hot path). */
static void explain_detail(const struct req_ctx *c, const struct sched_host *h, const struct eval *e, char *buf,
                           size_t size) {
        const struct sched_request *req = c->req;
        const struct sched_host_totals *t = e->sum;
        long long ram = (long long) req->ram_mib;
        switch (e->filter) {
        case -1:
                if (c->numa_vm && e->spread && e->node >= 0)
                        snprintf(buf, size, "CPUs spread over NUMA nodes, memory on node %d", h->numa[e->node].id);
                else if (c->numa_vm && e->spread)
                        snprintf(buf, size, "CPUs spread over NUMA nodes, memory not bound");
                else if (c->numa_vm)
                        snprintf(buf, size, "NUMA node %d", h->numa[e->node].id);
                else
                        snprintf(buf, size, "fits");
                break;
        case SCHED_F_STATE:
                snprintf(buf, size, "host is %s", !h->up ? "down" : "draining");
                break;
        case SCHED_F_HINT:
                for (int i = 0; i < c->n_hints; i++)
                        if (!hint_matches(&c->hints[i], h, t)) {
                                snprintf(buf, size, "does not match hint %.80s", req->hints[i]);
                                break;
                        }
                break;
        case SCHED_F_AFFINITY:
                if (req->group_policy == SCHED_GROUP_AFFINITY)
                        snprintf(buf, size, "affinity: no member of the group here");
                else
                        snprintf(buf, size, "anti-affinity: %d member%s of the group here", e->members,
                                 e->members == 1 ? "" : "s");
                break;
        case SCHED_F_CPU: {
                int shared = h->cpus - e->reserved - t->n_pinned;
                if (c->dedicated) {
                        int left = shared - req->vcpus;
                        snprintf(buf, size, "pinning %d CPUs leaves room for %lld shared vCPUs, %lld in use", req->vcpus,
                                 (long long) floor((left > 0 ? left : 0) * e->cpu_ratio), (long long) h->used_vcpus);
                } else {
                        long long cap = (long long) floor(shared * e->cpu_ratio);
                        snprintf(buf, size, "needs %d vCPUs, %lld of %lld free", req->vcpus, cap - (long long) h->used_vcpus,
                                 cap);
                }
                break;
        }
        case SCHED_F_RAM:
                if (c->dedicated) {
                        long long free = (long long) (e->pool - t->bound_ram_mib) -
                                         (long long) ceil((double) h->used_ram_mib / (e->ram_ratio > 0 ? e->ram_ratio : 1));
                        snprintf(buf, size, "needs %lld MiB not overcommitted, %lld of %lld free", ram, free,
                                 (long long) e->pool);
                } else {
                        long long cap = (long long) floor((double) (e->pool - t->bound_ram_mib) * e->ram_ratio);
                        snprintf(buf, size, "needs %lld MiB, %lld of %lld free", ram, cap - (long long) h->used_ram_mib, cap);
                }
                break;
        case SCHED_F_DISK: {
                long long cap = (long long) floor((double) h->disk_gib * e->disk_ratio);
                snprintf(buf, size, "needs %lld GiB, %lld of %lld free", (long long) req->disk_gib,
                         cap - (long long) h->used_disk_gib, cap);
                break;
        }
        case SCHED_F_DEDICATED:
                snprintf(buf, size, "needs %d free CPUs to pin, %d free", req->vcpus, e->free_pin);
                break;
        case SCHED_F_NUMA:
                if (c->dedicated && c->hugepages)
                        snprintf(buf, size, "no NUMA node has %d free CPUs and %lld MiB of free hugepages", req->vcpus, ram);
                else if (c->dedicated)
                        snprintf(buf, size, "no NUMA node has %d free CPUs and %lld MiB free", req->vcpus, ram);
                else
                        snprintf(buf, size, "no NUMA node has %lld MiB of free hugepages", ram);
                break;
        case SCHED_F_HUGEPAGES:
                if (t->hugepages_mib == 0)
                        snprintf(buf, size, "no hugepages");
                else
                        snprintf(buf, size, "needs %lld MiB of hugepages, %lld free", ram,
                                 (long long) (t->hugepages_mib - t->hugepages_used_mib));
                break;
        default:
                buf[0] = 0;
        }
}

static char *no_host_reason(size_t n, const size_t rejected[SCHED_F_MAX]) {
        struct strbuf b = STRBUF_INIT(0);
        strbuf_printf(&b, "no valid host: %zu host%s", n, n == 1 ? "" : "s");
        bool first = true;
        for (int f = 0; f < SCHED_F_MAX; f++) {
                if (!rejected[f])
                        continue;
                strbuf_printf(&b, first ? "; %zu rejected by %s" : ", %zu by %s", rejected[f], filter_names[f]);
                first = false;
        }
        return strbuf_steal(&b);
}

/* Fills c's group table: on the stack (slots) when the members are on few hosts, else on the
 * heap (returned, the caller frees). */
static struct member *group_prepare(struct req_ctx *c, struct member *slots, size_t n_slots) {
        struct member *heap = NULL;
        size_t want = 16;
        if (!c->group)
                return NULL;
        while (want < 2 * c->req->n_group_hosts)
                want *= 2;
        if (want <= n_slots) {
                c->members.slots = slots;
                c->members.mask = want - 1;
                memset(slots, 0, want * sizeof *slots);
        } else {
                heap = xcalloc(want, sizeof *heap);
                c->members.slots = heap;
                c->members.mask = want - 1;
        }
        for (size_t i = 0; i < c->req->n_group_hosts; i++)
                members_add(&c->members, c->req->group_hosts[i]);
        return heap;
}

int sched_place(const struct sched_config *cfg, const struct sched_host *hosts, size_t n,
                const struct sched_request *req, struct sched_decision *ret,
                struct sched_explain *explain, char **ret_reason) {
        struct req_ctx c;
        struct member slots[2 * GROUP_STACK_HOSTS];
        size_t rejected[SCHED_F_MAX] = {};
        struct sched_host tmp;
        int r = req_prepare(cfg, req, &c, ret_reason);
        if (r < 0)
                return r;
        _cleanup_free_ struct member *heap = group_prepare(&c, slots, ELEMENTSOF(slots));

        ssize_t best = -1;
        double best_score = 0;
        struct eval best_eval = {};
        for (size_t i = 0; i < n; i++) {
                const struct sched_host *h = &hosts[i];
                struct eval e;
                double parts[4];
                __builtin_prefetch(&hosts[i + 4 < n ? i + 4 : i]);
                e.filter = filter_host(&c, h, &tmp, &e);
                h = e.host;
                if (e.filter >= 0) {
                        rejected[e.filter]++;
                        if (explain) {
                                explain[i] = (struct sched_explain) { .rejected_by = e.filter };
                                explain_detail(&c, h, &e, explain[i].detail, sizeof explain[i].detail);
                        }
                        continue;
                }
                double score = weigh_host(&c, h, &e, parts);
                if (explain) {
                        explain[i] = (struct sched_explain) {
                                .rejected_by = -1,
                                .score = score,
                                .weights = { parts[0], parts[1], parts[2], parts[3] },
                        };
                        explain_detail(&c, h, &e, explain[i].detail, sizeof explain[i].detail);
                }
                if (best < 0 || score > best_score ||
                    (score == best_score && strcmp(h->name ? h->name : "", hosts[best].name ? hosts[best].name : "") < 0)) {
                        best = (ssize_t) i;
                        best_score = score;
                        best_eval = e;
                }
        }
        if (best < 0) {
                if (ret_reason)
                        *ret_reason = no_host_reason(n, rejected);
                return TIDE_E_NO_HOST;
        }

        /* The winner's NUMA node and CPUs. */
        const struct sched_host *h = &hosts[best];
        ret->host = (int) best;
        ret->numa_node = best_eval.node >= 0 ? h->numa[best_eval.node].id : -1;
        ret->n_pinned = 0;
        ret->score = best_score;
        if (c.dedicated) {
                int free[SCHED_MAX_NUMA] = {}, usable[SCHED_MAX_NUMA];
                sched_cpuset res;
                const struct sched_host *hh = h;
                if (!h->sum.valid) {
                        tmp = *h;
                        sched_host_sync(&tmp);
                        hh = &tmp;
                }
                reserved_set(hh, reserved_cpus_of(hh, cfg), &res);
                node_cpus(hh, &res, free, usable);
                ret->n_pinned = pick_cpus(hh, &res, req->vcpus, best_eval.node, best_eval.spread, free, ret->pinned);
        }
        return 0;
}

/* Claims. */

static int node_index(const struct sched_host *h, int id) {
        for (int k = 0; k < h->n_numa; k++)
                if (h->numa[k].id == id)
                        return k;
        return -1;
}

/* v -= d, never below zero; returns what was taken. */
static int64_t take(int64_t *v, int64_t d) {
        int64_t t = d < *v ? d : *v;
        if (t < 0)
                t = 0;
        *v -= t;
        return t;
}

static void book(struct sched_host *h, const struct sched_request *req, const struct sched_decision *d, bool claim) {
        if (!h->sum.valid)
                sched_host_sync(h);
        struct sched_host_totals *t = &h->sum;
        int64_t ram = req->ram_mib;
        if (claim) {
                h->instances++;
                h->used_disk_gib += req->disk_gib;
        } else {
                take(&h->instances, 1);
                take(&h->used_disk_gib, req->disk_gib);
        }

        if (req->dedicated) {
                for (int i = 0; i < d->n_pinned && i < SCHED_MAX_PINNED; i++) {
                        int cpu = d->pinned[i];
                        if (cpu < 0 || cpu >= SCHED_MAX_CPUS || sched_cpuset_has(&h->pinned, cpu) == claim)
                                continue;
                        if (claim)
                                sched_cpuset_set(&h->pinned, cpu);
                        else
                                sched_cpuset_clear(&h->pinned, cpu);
                        t->n_pinned += claim ? 1 : -1;
                }
        } else if (claim)
                h->used_vcpus += req->vcpus;
        else
                take(&h->used_vcpus, req->vcpus);

        int k = d->numa_node >= 0 ? node_index(h, d->numa_node) : -1;
        if (req->hugepages) {
                if (k < 0)
                        return;
                if (claim) {
                        h->numa[k].hugepages_used_mib += ram;
                        t->hugepages_used_mib += ram;
                } else
                        t->hugepages_used_mib -= take(&h->numa[k].hugepages_used_mib, ram);
        } else if (req->dedicated) {
                int64_t share[SCHED_MAX_NUMA] = {};
                if (k >= 0)
                        share[k] = ram;
                else
                        spread_shares(h, ram, d->pinned, d->n_pinned < SCHED_MAX_PINNED ? d->n_pinned : SCHED_MAX_PINNED,
                                      share);
                for (int j = 0; j < h->n_numa; j++) {
                        if (claim) {
                                h->numa[j].bound_ram_mib += share[j];
                                t->bound_ram_mib += share[j];
                        } else
                                t->bound_ram_mib -= take(&h->numa[j].bound_ram_mib, share[j]);
                }
        } else if (claim)
                h->used_ram_mib += ram;
        else
                take(&h->used_ram_mib, ram);
}

void sched_claim(struct sched_host *h, const struct sched_request *req, const struct sched_decision *d) {
        book(h, req, d, true);
}

void sched_release(struct sched_host *h, const struct sched_request *req, const struct sched_decision *d) {
        book(h, req, d, false);
}

/* The invariant check. */

static int conflict(char **ret_reason, const char *fmt, ...) _printf_(2, 3);
static int conflict(char **ret_reason, const char *fmt, ...) {
        if (ret_reason) {
                va_list ap;
                va_start(ap, fmt);
                *ret_reason = xvasprintf(fmt, ap);
                va_end(ap);
        }
        return TIDE_E_CONFLICT;
}

int sched_host_check(const struct sched_config *cfg, const struct sched_host *h, char **ret_reason) {
        struct sched_host s = *h;
        const char *name = h->name ? h->name : "?";
        sched_host_sync(&s);
        const struct sched_host_totals *a = &h->sum, *b = &s.sum;
        if (a->valid && (a->n_pinned != b->n_pinned || a->big_node_cpus != b->big_node_cpus ||
                         a->big_node_mem_mib != b->big_node_mem_mib || a->bound_ram_mib != b->bound_ram_mib ||
                         a->hugepages_mib != b->hugepages_mib || a->hugepages_used_mib != b->hugepages_used_mib ||
                         a->name_hash != b->name_hash || a->label_bloom != b->label_bloom))
                return conflict(ret_reason, "%s: derived totals out of date", name);
        if (h->used_vcpus < 0 || h->used_ram_mib < 0 || h->used_disk_gib < 0 || h->instances < 0)
                return conflict(ret_reason, "%s: negative usage", name);

        int reserved = reserved_cpus_of(&s, cfg);
        double cr = ratio_of(h->cpu_ratio, cfg->cpu_ratio), rr = ratio_of(h->ram_ratio, cfg->ram_ratio),
               dr = ratio_of(h->disk_ratio, cfg->disk_ratio);
        sched_cpuset res, nodes = {};
        reserved_set(&s, reserved, &res);
        for (int k = 0; k < s.n_numa; k++)
                for (int w = 0; w < CPU_WORDS; w++) {
                        if (nodes.w[w] & s.numa[k].cpus.w[w])
                                return conflict(ret_reason, "%s: a CPU is in two NUMA nodes", name);
                        nodes.w[w] |= s.numa[k].cpus.w[w];
                }
        for (int w = 0; w < CPU_WORDS; w++) {
                if (s.pinned.w[w] & res.w[w])
                        return conflict(ret_reason, "%s: CPU %d is reserved and pinned", name,
                                        w * 64 + __builtin_ctzll(s.pinned.w[w] & res.w[w]));
                if (s.pinned.w[w] & ~nodes.w[w])
                        return conflict(ret_reason, "%s: CPU %d is pinned outside the NUMA nodes", name,
                                        w * 64 + __builtin_ctzll(s.pinned.w[w] & ~nodes.w[w]));
        }
        int shared = s.cpus - reserved - s.sum.n_pinned;
        if (shared < 0)
                return conflict(ret_reason, "%s: %d CPUs pinned, %d not reserved", name, s.sum.n_pinned, s.cpus - reserved);
        if (h->used_vcpus > 0 && (double) h->used_vcpus > (double) shared * cr)
                return conflict(ret_reason, "%s: %lld shared vCPUs on %d CPUs at ratio %g", name,
                                (long long) h->used_vcpus, shared, cr);
        int64_t pool = s.mem_mib - reserved_ram_of(&s, cfg) - s.sum.hugepages_mib - s.sum.bound_ram_mib;
        if (s.sum.bound_ram_mib > 0 && pool < 0)
                return conflict(ret_reason, "%s: %lld MiB bound, more than the host has", name,
                                (long long) s.sum.bound_ram_mib);
        if (h->used_ram_mib > 0 && (double) h->used_ram_mib > (double) pool * rr)
                return conflict(ret_reason, "%s: %lld MiB shared RAM in %lld MiB at ratio %g", name,
                                (long long) h->used_ram_mib, (long long) pool, rr);
        if (h->used_disk_gib > 0 && (double) h->used_disk_gib > (double) h->disk_gib * dr)
                return conflict(ret_reason, "%s: %lld GiB disk in %lld GiB at ratio %g", name,
                                (long long) h->used_disk_gib, (long long) h->disk_gib, dr);
        for (int k = 0; k < s.n_numa; k++) {
                const struct sched_numa_node *nd = &s.numa[k];
                if (nd->bound_ram_mib < 0 || nd->hugepages_used_mib < 0)
                        return conflict(ret_reason, "%s: negative usage on NUMA node %d", name, nd->id);
                if (nd->bound_ram_mib > nd->mem_mib - nd->hugepages_mib)
                        return conflict(ret_reason, "%s: %lld MiB bound to NUMA node %d of %lld MiB", name,
                                        (long long) nd->bound_ram_mib, nd->id, (long long) (nd->mem_mib - nd->hugepages_mib));
                if (nd->hugepages_used_mib > nd->hugepages_mib)
                        return conflict(ret_reason, "%s: %lld MiB hugepages used on NUMA node %d of %lld MiB", name,
                                        (long long) nd->hugepages_used_mib, nd->id, (long long) nd->hugepages_mib);
        }
        return 0;
}
