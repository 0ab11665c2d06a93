/* sched_place.c — the placement stages over a snapshot of hosts: filters (state, hint,
 * affinity, cpu, ram, disk, dedicated, numa, hugepages), weighers (ram, cpu, load, numa, soft
 * affinity), the NUMA node and CPUs of the winner, claims and releases, and the invariant check.
 *
 * sched_place() is the hot path: one pass over the hosts array, no allocation, cheap filters
 * first, per-node work only for VMs that need a NUMA node, and (spread mode) hosts skipped on
 * their 32-byte upper bound when it cannot reach the best score so far. The formulas are in
 * sched.h; explanations and the no-valid-host message are built here too. */
#include "sched.h"

#include <math.h>
#include <stdio.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"

#define CPU_WORDS (SCHED_MAX_CPUS / 64)
#define _hot_ inline __attribute__((always_inline))   /* the per-host steps of the scan */
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

/* num / den within 0..1 (NaN gives 0). */
static _hot_ double frac(double num, double den) {
        double q = num / den;
        q = q > 0 ? q : 0;
        return q < 1 ? q : 1;
}

/* x as a float no smaller (float_up) or no greater (float_down) than x. */
static float float_up(double x) {
        float f = (float) x;
        return (double) f < x ? nextafterf(f, HUGE_VALF) : f;
}

static float float_down(double x) {
        float f = (float) x;
        return (double) f > x ? nextafterf(f, -HUGE_VALF) : f;
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

        struct sched_host_totals t = {
                .valid = true,
                .overrides = h->cpu_ratio >= 0 || h->ram_ratio >= 0 || h->disk_ratio >= 0 || h->reserved_cpus >= 0 ||
                             h->reserved_ram_mib >= 0,
                .n_pinned = sched_cpuset_count(&h->pinned),
        };
        int big = -1;
        sched_cpuset all = {};
        for (int k = 0; k < h->n_numa; k++)
                for (int w = 0; w < CPU_WORDS; w++) {
                        all.w[w] |= h->numa[k].cpus.w[w];
                        if (h->numa[k].cpus.w[w] && w + 1 > t.cpu_words)
                                t.cpu_words = w + 1;
                }
        for (int k = 0; k < h->n_numa; k++) {
                const struct sched_numa_node *nd = &h->numa[k];
                struct sched_node_totals *nt = &t.node[k];
                for (int w = 0; w < t.cpu_words; w++) {
                        nt->cpus += __builtin_popcountll(nd->cpus.w[w]);
                        nt->free_cpus += __builtin_popcountll(nd->cpus.w[w] & ~h->pinned.w[w]);
                }
                nt->free_mib = nd->mem_mib - nd->hugepages_mib - nd->bound_ram_mib;
                nt->free_hugepages_mib = nd->hugepages_mib - nd->hugepages_used_mib;
                if (big < 0 || nt->cpus > t.node[big].cpus) {
                        big = k;
                        t.big_node_cpus = nt->cpus;
                        t.big_node_mem_mib = (double) (nd->mem_mib - nd->hugepages_mib);
                }
                t.bound_ram_mib += nd->bound_ram_mib;
                t.hugepages_mib += nd->hugepages_mib;
                t.hugepages_used_mib += nd->hugepages_used_mib;
        }
        t.shared_cpus = (double) (h->cpus - t.n_pinned);
        t.cpus = (double) h->cpus;
        t.small_mib = (double) (h->mem_mib - t.hugepages_mib);
        t.pool_mib = (double) (h->mem_mib - t.hugepages_mib - t.bound_ram_mib);
        t.used_vcpus = (double) h->used_vcpus;
        t.used_ram_mib = (double) h->used_ram_mib;
        t.used_disk_gib = (double) h->used_disk_gib;
        t.disk_gib = (double) h->disk_gib;
        t.load_part = h->load >= 0 ? 1 - (h->load < 1 ? h->load : 1) : 0.5;
        h->bound = (struct sched_host_bound) {};
        if (t.small_mib > 0 && t.cpus > 0 && !t.overrides)
                h->bound = (struct sched_host_bound) {
                        .ram = float_up(t.pool_mib / t.small_mib),
                        .ram_used = float_down(t.used_ram_mib / t.small_mib),
                        .ram_inv = float_down(1 / t.small_mib),
                        .cpu = float_up(t.shared_cpus / t.cpus),
                        .cpu_used = float_down(t.used_vcpus / t.cpus),
                        .cpu_inv = float_down(1 / t.cpus),
                        .load = float_up(t.load_part),
                        .hugepages = t.hugepages_mib > 0
                                             ? float_up((double) (t.hugepages_mib - t.hugepages_used_mib) / (double) t.hugepages_mib)
                                             : 0,
                };
        for (int w = 0; w < t.cpu_words && t.n_low < SCHED_LOW_CPUS; w++)
                for (uint64_t x = all.w[w]; x && t.n_low < SCHED_LOW_CPUS; x &= x - 1) {
                        int cpu = w * 64 + __builtin_ctzll(x);
                        for (int k = 0; k < h->n_numa; k++)
                                if (sched_cpuset_has(&h->numa[k].cpus, cpu))
                                        t.low_node[t.n_low] = (uint8_t) k;
                        if (sched_cpuset_has(&h->pinned, cpu))
                                t.low_pinned |= (uint8_t) (1u << t.n_low);
                        t.n_low++;
                }
        t.name_hash = hash_str(h->name);
        for (int i = 0; i < h->n_labels; i++)
                if (h->labels[i].key && h->labels[i].value)
                        t.label_bloom |= bloom_bit(hash_label(h->labels[i].key, h->labels[i].value));
        h->sum = t;
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
        bool dedicated, hugepages, numa_vm, pack;
        int reserved;              /* the cluster's reserves, >= 0 */
        double reserved_ram;
        double vcpus, ram_mib, disk_gib;   /* the request's, as doubles */
        int n_hints;
        struct hint hints[SCHED_MAX_HINTS];
        bool group;                /* a policy, and members to look at */
        struct group_table members;
        bool prune;                /* hosts whose upper bound cannot win may be skipped */
        bool soft_affinity;        /* the group's policy is soft-affinity */
        double inv_rr, inv_cr;     /* 1 / the cluster's ratios */
        double numa_bound;         /* the numa part's bound */
};

/* Effective settings of a host: its own, else the cluster's. */
struct eff {
        int reserved;              /* CPUs, at most the host's */
        double res_cpus;           /* the same */
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
                .pack = cfg->mode == SCHED_PACK,
                .reserved = cfg->reserved_cpus > 0 ? cfg->reserved_cpus : 0,
                .reserved_ram = cfg->reserved_ram_mib > 0 ? (double) cfg->reserved_ram_mib : 0,
                .vcpus = req->vcpus,
                .ram_mib = (double) req->ram_mib,
                .disk_gib = (double) req->disk_gib,
                .n_hints = req->n_hints,
                .group = req->group_policy != SCHED_GROUP_NONE && req->n_group_hosts > 0,
                /* The bounds hold for spread's parts with multipliers that are not negative. */
                .prune = cfg->mode == SCHED_SPREAD && cfg->w_ram >= 0 && cfg->w_cpu >= 0 && cfg->w_load >= 0 &&
                         cfg->ram_ratio > 0 && cfg->cpu_ratio > 0,
                .inv_rr = cfg->ram_ratio > 0 ? 1 / cfg->ram_ratio : 0,
                .inv_cr = cfg->cpu_ratio > 0 ? 1 / cfg->cpu_ratio : 0,
                .numa_bound = cfg->w_numa > 0 ? cfg->w_numa : 0,
        };
        c->soft_affinity = c->group && req->group_policy == SCHED_GROUP_SOFT_AFFINITY;
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
                memset(slots, 0, want * sizeof *slots);
        } else
                c->members.slots = heap = xcalloc(want, sizeof *heap);
        c->members.mask = want - 1;
        for (size_t i = 0; i < c->req->n_group_hosts; i++)
                members_add(&c->members, c->req->group_hosts[i]);
        return heap;
}

/* The per-host verdict, and what the weighers and the explanation need from the filters. */
struct eval {
        int filter;                /* the first filter that rejected the host, -1 when it passed */
        int members;               /* group members on the host */
        int node;                  /* index of the NUMA node chosen (numa VMs), -1 for none */
        bool spread;               /* dedicated VM spread over nodes */
        int free_pin;              /* free CPUs to pin (dedicated VMs) */
        const struct sched_host *host;   /* the host judged: the one given, or a synced copy */
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

/* NUMA: CPUs per node. */

/* The lowest r CPUs of h's nodes. */
static void reserved_set(const struct sched_host *h, int r, sched_cpuset *ret) {
        *ret = (sched_cpuset) {};
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
                sched_cpuset res;
                reserved_set(h, r, &res);
                for (int k = 0; k < h->n_numa; k++) {
                        const sched_cpuset *cs = &h->numa[k].cpus;
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
                        if (pinned[i] >= 0 && pinned[i] < SCHED_MAX_CPUS && sched_cpuset_has(&h->numa[k].cpus, pinned[i])) {
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
        sched_cpuset res;
        reserved_set(h, reserved, &res);
        if (spread)
                n_order = spread_order(h->n_numa, free, order);
        else
                order[0] = node;
        for (int o = 0; o < n_order && n < vcpus; o++) {
                const sched_cpuset *cs = &h->numa[order[o]].cpus;
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
                e->free_pin = (int) (t->shared_cpus - f->res_cpus);   /* an upper bound, without the node reads */
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
                return SCHED_F_NUMA;    /* it would fit one node, but none has room now */

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
                ram_ok = true;   /* from hugepages: the small-page pool is untouched */
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
static _hot_ int filter_host(const struct req_ctx *c, const struct sched_host *h, struct sched_host *tmp,
                              struct eff *f, struct eval *e, bool numa_vm) {
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
                ram = frac((t->pool_mib - f->res_ram - c->ram_mib) * f->rr - t->used_ram_mib, (t->small_mib - f->res_ram) * f->rr);
        else
                ram = frac((t->pool_mib - f->res_ram) * f->rr - (t->used_ram_mib + c->ram_mib), (t->small_mib - f->res_ram) * f->rr);
        if (ded)
                cpu = frac((t->shared_cpus - f->res_cpus - c->vcpus) * f->cr - t->used_vcpus, (t->cpus - f->res_cpus) * f->cr);
        else
                cpu = frac((t->shared_cpus - f->res_cpus) * f->cr - (t->used_vcpus + c->vcpus), (t->cpus - f->res_cpus) * f->cr);
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

/* Explanation of one host's verdict (not on the hot path). */
static void explain_detail(const struct req_ctx *c, const struct sched_host *h, const struct eff *f,
                           const struct eval *e, char *buf, size_t size) {
        const struct sched_request *req = c->req;
        const struct sched_host_totals *t = &h->sum;
        long long ram = (long long) req->ram_mib;
        double pool = t->pool_mib - f->res_ram;
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
                        if (!hint_matches(&c->hints[i], h)) {
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
                int shared = h->cpus - f->reserved - t->n_pinned;
                if (c->dedicated) {
                        int left = shared - req->vcpus;
                        snprintf(buf, size, "pinning %d CPU%s leaves room for %lld shared vCPUs, %lld in use", req->vcpus,
                                 req->vcpus == 1 ? "" : "s", (long long) floor((left > 0 ? left : 0) * f->cr),
                                 (long long) h->used_vcpus);
                } else {
                        long long cap = (long long) floor(shared * f->cr);
                        snprintf(buf, size, "needs %d vCPU%s, %lld of %lld free", req->vcpus, req->vcpus == 1 ? "" : "s",
                                 cap - (long long) h->used_vcpus, cap);
                }
                break;
        }
        case SCHED_F_RAM:
                if (c->dedicated)
                        snprintf(buf, size, "needs %lld MiB not overcommitted, %lld free", ram,
                                 (long long) pool - (long long) ceil((double) h->used_ram_mib / (f->rr > 0 ? f->rr : 1)));
                else {
                        long long cap = (long long) floor(pool * f->rr);
                        snprintf(buf, size, "needs %lld MiB, %lld of %lld free", ram, cap - (long long) h->used_ram_mib, cap);
                }
                break;
        case SCHED_F_DISK: {
                long long cap = (long long) floor((double) h->disk_gib * f->dr);
                snprintf(buf, size, "needs %lld GiB, %lld of %lld free", (long long) req->disk_gib,
                         cap - (long long) h->used_disk_gib, cap);
                break;
        }
        case SCHED_F_DEDICATED:
                snprintf(buf, size, "needs %d free CPU%s to pin, %d free", req->vcpus, req->vcpus == 1 ? "" : "s", e->free_pin);
                break;
        case SCHED_F_NUMA:
                if (c->dedicated && c->hugepages)
                        snprintf(buf, size, "no NUMA node has %d free CPU%s and %lld MiB of free hugepages", req->vcpus,
                                 req->vcpus == 1 ? "" : "s", ram);
                else if (c->dedicated)
                        snprintf(buf, size, "no NUMA node has %d free CPU%s and %lld MiB free", req->vcpus,
                                 req->vcpus == 1 ? "" : "s", ram);
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

static inline bool name_before(const struct sched_host *a, const struct sched_host *b) {
        return strcmp(a->name ? a->name : "", b->name ? b->name : "") < 0;
}

/* The winner so far. */
struct best {
        ssize_t i;
        double score;
        struct eval e;
        struct eff f;
};

/* One pass over the hosts. Inlined into sched_place with constant numa_vm and explain, so
 * that the usual loop (a shared VM, no explanation) is straight-line code. */
static inline __attribute__((always_inline)) void scan(const struct req_ctx *c, const struct sched_host *hosts,
                                                       size_t n, struct sched_explain *explain, size_t rejected[],
                                                       struct best *b, bool numa_vm, bool explaining) {
        const struct sched_config *cfg = c->cfg;
        bool prune = c->prune && !explaining, ded = numa_vm && c->dedicated, hp = numa_vm && c->hugepages;
        struct sched_host tmp;
        for (size_t i = 0; i < n; i++) {
                const struct sched_host *h;
                struct eval e;
                struct eff f;
                double parts[4];
                /* Hosts are far apart in memory: fetch the bound a few hosts ahead. */
                __builtin_prefetch(&hosts[i + 16 < n ? i + 16 : i].bound);
                if (prune && b->i >= 0 && __builtin_expect(hosts[i].bound.ram_inv > 0, 1)) {
                        /* The weighers' parts from above (sched.h, struct sched_host_bound; the
                         * numa part at best, soft affinity as it is): a host whose bound is below
                         * the best, with room for rounding, can neither win nor tie. A host the
                         * filters would reject may be skipped too: a best exists. */
                        const struct sched_host_bound *u = &hosts[i].bound;
                        double ram, cpu;
                        if (hp)
                                ram = u->hugepages;
                        else if (ded)
                                ram = u->ram - (double) u->ram_used * c->inv_rr - c->ram_mib * u->ram_inv;
                        else
                                ram = u->ram - ((double) u->ram_used + c->ram_mib * u->ram_inv) * c->inv_rr;
                        if (ded)
                                cpu = u->cpu - (double) u->cpu_used * c->inv_cr - c->vcpus * u->cpu_inv;
                        else
                                cpu = u->cpu - ((double) u->cpu_used + c->vcpus * u->cpu_inv) * c->inv_cr;
                        double ub = cfg->w_ram * ram + cfg->w_cpu * cpu + cfg->w_load * (double) u->load + c->numa_bound;
                        if (c->soft_affinity && hosts[i].name)
                                ub += cfg->w_soft_affinity * members_on(&c->members, hosts[i].sum.name_hash, hosts[i].name) /
                                      (double) c->req->n_group_hosts;
                        if (ub + 1e-9 * (1 + fabs(b->score)) < b->score)
                                continue;
                }
                e.filter = filter_host(c, &hosts[i], &tmp, &f, &e, numa_vm);
                h = e.host;
                if (e.filter >= 0) {
                        rejected[e.filter]++;
                        if (explaining) {
                                explain[i] = (struct sched_explain) { .rejected_by = e.filter };
                                explain_detail(c, h, &f, &e, explain[i].detail, sizeof explain[i].detail);
                        }
                        continue;
                }
                double score = weigh_host(c, h, &f, &e, parts, numa_vm);
                if (explaining) {
                        explain[i] = (struct sched_explain) {
                                .rejected_by = -1,
                                .score = score,
                                .weights = { parts[0], parts[1], parts[2], parts[3] },
                        };
                        explain_detail(c, h, &f, &e, explain[i].detail, sizeof explain[i].detail);
                }
                if (__builtin_expect(score >= b->score, 0) &&
                    (score > b->score || (b->i >= 0 && name_before(&hosts[i], &hosts[b->i])))) {
                        b->i = (ssize_t) i;
                        b->score = score;
                        b->e = e;
                        b->f = f;
                }
        }
}

int sched_place(const struct sched_config *cfg, const struct sched_host *hosts, size_t n,
                const struct sched_request *req, struct sched_decision *ret,
                struct sched_explain *explain, char **ret_reason) {
        struct req_ctx c;
        struct member slots[2 * GROUP_STACK_HOSTS];
        size_t rejected[SCHED_F_MAX] = {};
        int r = req_prepare(cfg, req, &c, ret_reason);
        if (r < 0)
                return r;
        /* Held only to be freed: group_prepare() spills here past the slots on the stack. */
        _cleanup_free_ __attribute__((unused)) struct member *heap = group_prepare(&c, slots, ELEMENTSOF(slots));

        struct best b = { .i = -1, .score = -HUGE_VAL };
        if (explain) {
                if (c.numa_vm)
                        scan(&c, hosts, n, explain, rejected, &b, true, true);
                else
                        scan(&c, hosts, n, explain, rejected, &b, false, true);
        } else if (c.numa_vm)
                scan(&c, hosts, n, NULL, rejected, &b, true, false);
        else
                scan(&c, hosts, n, NULL, rejected, &b, false, false);
        if (b.i < 0) {
                if (ret_reason)
                        *ret_reason = no_host_reason(n, rejected);
                return TIDE_E_NO_HOST;
        }

        /* The winner's NUMA node and CPUs. */
        struct sched_host tmp;
        const struct sched_host *h = &hosts[b.i];
        if (!h->sum.valid) {
                tmp = *h;
                sched_host_sync(&tmp);
                h = &tmp;
        }
        ret->host = (int) b.i;
        ret->numa_node = b.e.node >= 0 ? h->numa[b.e.node].id : -1;
        ret->n_pinned = 0;
        ret->score = b.score;
        if (c.dedicated) {
                int free[SCHED_MAX_NUMA], usable[SCHED_MAX_NUMA];
                node_free(h, b.f.reserved, free, usable);
                ret->n_pinned = pick_cpus(h, b.f.reserved, req->vcpus, b.e.node, b.e.spread, free, ret->pinned);
                if (ret->n_pinned != req->vcpus) {
                        if (ret_reason)
                                *ret_reason = xasprintf("host %s: its totals are out of date", h->name ? h->name : "?");
                        return TIDE_E_CONFLICT;
                }
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

/* v += d on a claim; v -= d, never below zero, on a release. */
static void add(int64_t *v, int64_t d, bool claim) {
        if (claim)
                *v += d;
        else
                *v = *v > d ? *v - d : 0;
}

static void book(struct sched_host *h, const struct sched_request *req, const struct sched_decision *d, bool claim) {
        if (h->n_numa <= 0)
                sched_host_sync(h);     /* the node of a host without NUMA data */
        add(&h->instances, 1, claim);
        add(&h->used_disk_gib, req->disk_gib, claim);
        if (req->dedicated) {
                for (int i = 0; i < d->n_pinned && i < SCHED_MAX_PINNED; i++) {
                        int cpu = d->pinned[i];
                        if (cpu < 0 || cpu >= SCHED_MAX_CPUS)
                                continue;
                        if (claim)
                                sched_cpuset_set(&h->pinned, cpu);
                        else
                                sched_cpuset_clear(&h->pinned, cpu);
                }
        } else
                add(&h->used_vcpus, req->vcpus, claim);

        int k = d->numa_node >= 0 ? node_index(h, d->numa_node) : -1;
        if (req->hugepages) {
                if (k >= 0)
                        add(&h->numa[k].hugepages_used_mib, req->ram_mib, claim);
        } else if (req->dedicated) {
                int64_t share[SCHED_MAX_NUMA] = {};
                if (k >= 0)
                        share[k] = req->ram_mib;
                else
                        spread_shares(h, req->ram_mib, d->pinned, d->n_pinned < SCHED_MAX_PINNED ? d->n_pinned : SCHED_MAX_PINNED,
                                      share);
                for (int j = 0; j < h->n_numa; j++)
                        add(&h->numa[j].bound_ram_mib, share[j], claim);
        } else
                add(&h->used_ram_mib, req->ram_mib, claim);
        sched_host_sync(h);
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

static bool totals_equal(const struct sched_host_totals *a, const struct sched_host_totals *b, int n_numa) {
        if (a->shared_cpus != b->shared_cpus || a->cpus != b->cpus || a->pool_mib != b->pool_mib ||
            a->small_mib != b->small_mib || a->used_vcpus != b->used_vcpus || a->used_ram_mib != b->used_ram_mib ||
            a->used_disk_gib != b->used_disk_gib || a->disk_gib != b->disk_gib || a->load_part != b->load_part ||
            a->big_node_cpus != b->big_node_cpus || a->big_node_mem_mib != b->big_node_mem_mib ||
            a->overrides != b->overrides || a->n_pinned != b->n_pinned || a->bound_ram_mib != b->bound_ram_mib ||
            a->hugepages_mib != b->hugepages_mib || a->hugepages_used_mib != b->hugepages_used_mib ||
            a->name_hash != b->name_hash || a->label_bloom != b->label_bloom || a->cpu_words != b->cpu_words ||
            a->n_low != b->n_low || a->low_pinned != b->low_pinned || memcmp(a->low_node, b->low_node, sizeof a->low_node) != 0)
                return false;
        for (int k = 0; k < n_numa; k++)
                if (a->node[k].cpus != b->node[k].cpus || a->node[k].free_cpus != b->node[k].free_cpus ||
                    a->node[k].free_mib != b->node[k].free_mib || a->node[k].free_hugepages_mib != b->node[k].free_hugepages_mib)
                        return false;
        return true;
}

int sched_host_check(const struct sched_config *cfg, const struct sched_host *h, char **ret_reason) {
        struct sched_host s = *h;
        const char *name = h->name ? h->name : "?";
        sched_host_sync(&s);
        if (h->sum.valid && (h->n_numa != s.n_numa || !totals_equal(&h->sum, &s.sum, s.n_numa) ||
                             memcmp(&h->bound, &s.bound, sizeof s.bound) != 0))
                return conflict(ret_reason, "%s: derived totals out of date", name);
        if (h->used_vcpus < 0 || h->used_ram_mib < 0 || h->used_disk_gib < 0 || h->instances < 0)
                return conflict(ret_reason, "%s: negative usage", name);

        struct req_ctx c = { .cfg = cfg, .reserved = cfg->reserved_cpus > 0 ? cfg->reserved_cpus : 0,
                             .reserved_ram = cfg->reserved_ram_mib > 0 ? (double) cfg->reserved_ram_mib : 0 };
        struct eff f;
        eff_get(&c, &s, &f);
        sched_cpuset res, nodes = {};
        reserved_set(&s, f.reserved, &res);
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
        int shared = s.cpus - f.reserved - s.sum.n_pinned;
        if (shared < 0)
                return conflict(ret_reason, "%s: %d CPUs pinned, %d not reserved", name, s.sum.n_pinned, s.cpus - f.reserved);
        if (h->used_vcpus > 0 && (double) h->used_vcpus > (double) shared * f.cr)
                return conflict(ret_reason, "%s: %lld shared vCPUs on %d CPUs at ratio %g", name,
                                (long long) h->used_vcpus, shared, f.cr);
        double pool = s.sum.pool_mib - f.res_ram;
        if (s.sum.bound_ram_mib > 0 && pool < 0)
                return conflict(ret_reason, "%s: %lld MiB bound, more than the host has", name,
                                (long long) s.sum.bound_ram_mib);
        if (h->used_ram_mib > 0 && (double) h->used_ram_mib > pool * f.rr)
                return conflict(ret_reason, "%s: %lld MiB shared RAM in %.0f MiB at ratio %g", name,
                                (long long) h->used_ram_mib, pool, f.rr);
        if (h->used_disk_gib > 0 && (double) h->used_disk_gib > (double) h->disk_gib * f.dr)
                return conflict(ret_reason, "%s: %lld GiB disk in %lld GiB at ratio %g", name,
                                (long long) h->used_disk_gib, (long long) h->disk_gib, f.dr);
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
