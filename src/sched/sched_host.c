/* sched_host.c — a host's bookkeeping for placement: the derived totals and upper bounds the
 * scan reads (sched_host_sync), claims and releases of a decision, and the invariant check. */
#include "sched_place_priv.h"

#include <math.h>
#include <stdarg.h>

#include "common/errors.h"
#include "common/util.h"

static uint64_t hash_label(const char *key, const char *value) {
        uint64_t h = hash_add(HASH_INIT, key, strlen(key));
        h = hash_add(h, "=", 1);
        return hash_add(h, value, strlen(value));
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
                        cpuset_set(&h->numa[0].cpus, c);
        }
        if (h->n_numa > SCHED_MAX_NUMA)
                h->n_numa = SCHED_MAX_NUMA;
        if (h->n_labels > SCHED_MAX_LABELS)
                h->n_labels = SCHED_MAX_LABELS;

        struct sched_host_totals t = {
                .valid = true,
                .overrides = h->cpu_ratio >= 0 || h->ram_ratio >= 0 || h->disk_ratio >= 0 || h->reserved_cpus >= 0 ||
                             h->reserved_ram_mib >= 0,
                .n_pinned = cpuset_count(&h->pinned),
        };
        int big = -1;
        struct cpuset all = {};
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
                        .hugepages = t.hugepages_mib > 0 ? float_up((double) (t.hugepages_mib - t.hugepages_used_mib) /
                                                                    (double) t.hugepages_mib)
                                                         : 0,
                };
        for (int w = 0; w < t.cpu_words && t.n_low < SCHED_LOW_CPUS; w++)
                for (uint64_t x = all.w[w]; x && t.n_low < SCHED_LOW_CPUS; x &= x - 1) {
                        int cpu = w * 64 + __builtin_ctzll(x);
                        for (int k = 0; k < h->n_numa; k++)
                                if (cpuset_has(&h->numa[k].cpus, cpu))
                                        t.low_node[t.n_low] = (uint8_t) k;
                        if (cpuset_has(&h->pinned, cpu))
                                t.low_pinned |= (uint8_t) (1u << t.n_low);
                        t.n_low++;
                }
        t.name_hash = hash_str(h->name);
        for (int i = 0; i < h->n_labels; i++)
                if (h->labels[i].key && h->labels[i].value)
                        t.label_bloom |= bloom_bit(hash_label(h->labels[i].key, h->labels[i].value));
        h->sum = t;
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
                sched_host_sync(h); /* the node of a host without NUMA data */
        add(&h->instances, 1, claim);
        add(&h->used_disk_gib, req->disk_gib, claim);
        if (req->dedicated) {
                for (int i = 0; i < d->n_pinned && i < SCHED_MAX_PINNED; i++) {
                        int cpu = d->pinned[i];
                        if (cpu < 0 || cpu >= SCHED_MAX_CPUS)
                                continue;
                        if (claim)
                                cpuset_set(&h->pinned, cpu);
                        else
                                cpuset_clear(&h->pinned, cpu);
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
                        sched_spread_shares(h, req->ram_mib, d->pinned,
                                            d->n_pinned < SCHED_MAX_PINNED ? d->n_pinned : SCHED_MAX_PINNED, share);
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
            a->n_low != b->n_low || a->low_pinned != b->low_pinned ||
            memcmp(a->low_node, b->low_node, sizeof a->low_node) != 0)
                return false;
        for (int k = 0; k < n_numa; k++)
                if (a->node[k].cpus != b->node[k].cpus || a->node[k].free_cpus != b->node[k].free_cpus ||
                    a->node[k].free_mib != b->node[k].free_mib ||
                    a->node[k].free_hugepages_mib != b->node[k].free_hugepages_mib)
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

        struct req_ctx c = { .cfg = cfg,
                             .reserved = cfg->reserved_cpus > 0 ? cfg->reserved_cpus : 0,
                             .reserved_ram = cfg->reserved_ram_mib > 0 ? (double) cfg->reserved_ram_mib : 0 };
        struct eff f;
        eff_get(&c, &s, &f);
        struct cpuset res, nodes = {};
        sched_reserved_set(&s, f.reserved, &res);
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
                return conflict(ret_reason, "%s: %d CPUs pinned, %d not reserved", name, s.sum.n_pinned,
                                s.cpus - f.reserved);
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
                                        (long long) nd->bound_ram_mib, nd->id,
                                        (long long) (nd->mem_mib - nd->hugepages_mib));
                if (nd->hugepages_used_mib > nd->hugepages_mib)
                        return conflict(ret_reason, "%s: %lld MiB hugepages used on NUMA node %d of %lld MiB", name,
                                        (long long) nd->hugepages_used_mib, nd->id, (long long) nd->hugepages_mib);
        }
        return 0;
}
