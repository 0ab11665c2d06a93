/* sched_place.c — a placement decision over a snapshot of hosts: the request checked and
 * prepared, then one scan that takes each host through the filters (sched_filter.h, with the
 * NUMA stage of sched_numa.h) and the weighers (sched_weigh.h), the winner, and its NUMA node and
 * CPUs; explanations on request (sched_explain.h). Also the names of filters and group policies
 * and the cluster's default settings. A host's totals, claims and invariant check are in
 * sched_host.c.
 *
 * sched_place() is the hot path: one pass over the hosts array, no allocation, cheap filters
 * first, per-node work only for VMs that need a NUMA node, and (spread mode) hosts skipped on
 * their 32-byte upper bound when it cannot reach the best score so far.
 *
 * The stages are headers of static functions, compiled here and nowhere else: in sched_place()'s
 * translation unit GCC sees the bodies of everything it calls, and its code is the same as when
 * placement was one file. As .c files of their own (filter_host() and weigh_host() still inlined
 * into the scan) they cost some 5 % of the decisions per second at 1,000 hosts (bench/sched:
 * 131,000-135,000 against 140,000-144,000). */
#include "sched_place_priv.h"

#include <math.h>

#include "common/errors.h"
#include "common/util.h"
#include "sched_numa.h"
#include "sched_filter.h"
#include "sched_weigh.h"
#include "sched_explain.h"

#define GROUP_STACK_HOSTS 256 /* distinct member hosts held in the stack table */

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

/* The request, prepared once per decision. */

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

/* The NUMA steps that claims and the invariant check share (sched_host.c). */

void sched_reserved_set(const struct sched_host *h, int r, struct cpuset *ret) {
        reserved_set(h, r, ret);
}

void sched_spread_shares(const struct sched_host *h, int64_t ram, const int *pinned, int n_pinned, int64_t share[]) {
        spread_shares(h, ram, pinned, n_pinned, share);
}

/* The scan. */

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
                        double ub = cfg->w_ram * ram + cfg->w_cpu * cpu + cfg->w_load * (double) u->load +
                                    c->numa_bound;
                        if (c->soft_affinity && hosts[i].name)
                                ub += cfg->w_soft_affinity *
                                      members_on(&c->members, hosts[i].sum.name_hash, hosts[i].name) /
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
                const struct sched_request *req, struct sched_decision *ret, struct sched_explain *explain,
                char **ret_reason) {
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
