/* bench/sched.c — the placement engine's speed, printed as one JSON object per line:
 *   {"hosts":N,"decisions_per_s":..,"p50_us":..,"p99_us":..,"durable_placements_per_s":..,
 *    "durable_placements_per_s_1":..,"uncached_placements_per_s":..,"store_txn_per_s":..,...}
 *
 * For each host count (default 1,000, 10,000 and 100,000): N in-memory hosts of mixed shapes
 * (32-128 CPUs, 2 or 4 NUMA nodes, a quarter with hugepages, four zones, half with a measured
 * load) are filled to about half (of their CPUs or their RAM, whichever fills first) by placing
 * a mixed flavor stream on random hosts;
 * then, on one core, a stream of decisions over all N hosts (shared small/medium/large,
 * dedicated, hugepages, some in anti-affinity or affinity groups, some with a zone hint) is
 * timed one by one: each decision is claimed and a random earlier instance released, so the
 * fill stays where it is. decisions_per_s counts decide + claim + release.
 *
 * The durable figures are measured on a real SQLite store (synchronous writes) in $TMPDIR (or
 * /tmp), holding the N hosts as tided holds them: each host's record /tide/hosts/<name> as its
 * agent registers it, its liveness key on a lease (with its load when it has one), its zone
 * label in /tide/hostconf/<name>, and its usage after the fill in /tide/alloc/<name>. Then:
 *   store_txn_per_s            the bare transaction of a create with no decision (on a random
 *                              host: its allocation's revision compared, its allocation, a name
 *                              key and a placed instance's record put), repeated from one
 *                              thread: the ceiling the disk's fsync rate sets for one writer
 *                              (concurrent writers of one handle share commits: group commit);
 *   uncached_placements_per_s  sched_store_create with no cache: each placement reads and
 *                              parses every host (the path tided took before the cache), at
 *                              least one, for TIDE_BENCH_SECONDS;
 *   cache_load_ms              a sched_cache's first read of every host;
 *   durable_placements_per_s_1 sched_store_create on that cache (what POST /v1/instances and the
 *                              autoscaler do) from one thread: catch up with the store's watches,
 *                              decide over the N hosts, book the claim in flight, commit it with
 *                              one transaction comparing the host's allocation revision (and the
 *                              group's members), end the claim; the same flavor, group and hint
 *                              stream as above, groups as server groups;
 *   durable_placements_per_s   the same from CREATORS (4) threads sharing the store handle and
 *                              the cache, as tided's API threads do: one decides while another's
 *                              transaction runs (sched_cache.h); durable_retries counts claims
 *                              that lost a race (rolled back, decided again), durable_waits
 *                              decisions that chose a host with a claim in flight and waited,
 *                              durable_lagging decisions made without catching up first.
 * The same durable figures are then measured on a one-member etcd that the benchmark starts on
 * 127.0.0.1 (store_etcd_launch.h; skipped where /usr/bin/etcd is missing), with the keys
 * durable_placements_per_s_etcd (CREATORS creators, or TIDE_BENCH_CREATORS_ETCD),
 * durable_placements_per_s_1_etcd, uncached_placements_per_s_etcd, store_txn_per_s_etcd,
 * cache_load_ms_etcd, durable_retries_etcd and durable_waits_etcd, and etcd's own control figures
 * with the same client: etcd_put_per_s_1 (plain 600-byte puts from one thread), etcd_put_per_s
 * (from as many threads as creators) and etcd_txn_per_s (a placement's shape, three compares and
 * three puts, from as many threads, without decisions). etcd runs on the same two cores, and its
 * JSON gateway costs it about a core at these rates.
 * The decisions run on one core; the durable phases on every core the process may use.
 * Measured on the development machine (2 vCPUs of an AMD EPYC under KVM, ext4; no VM running),
 * TIDE_BENCH_SECONDS=2 sched 1000 10000, three runs (the 10,000-host durable figure moves by a
 * quarter between runs with the machine's other tenants):
 *   {"hosts":1000,"decisions_per_s":138321,"p50_us":6.0,...,"durable_placements_per_s":3460,
 *    "durable_placements_per_s_1":2815,"store_txn_per_s":3757,...,"durable_retries":1,...}
 *   {"hosts":10000,"decisions_per_s":11317,"p50_us":83.1,...,"durable_placements_per_s":2239,
 *    "durable_placements_per_s_1":1920,"store_txn_per_s":3183,...,"durable_retries":0,...}
 *   {"hosts":10000,...,"durable_placements_per_s":2344,"durable_placements_per_s_1":1827,...}
 *   {"hosts":10000,...,"durable_placements_per_s":2957,"durable_placements_per_s_1":1954,...}
 * On etcd (same machine, load average 2.5-5 from other work; five runs, 4 creators):
 *   1,000 hosts:  durable_placements_per_s_etcd 785-1484, _1_etcd 470-667, etcd_put_per_s 1331-2819,
 *                 etcd_txn_per_s 1643
 *   10,000 hosts: durable_placements_per_s_etcd 714-1323, _1_etcd 451-613, etcd_put_per_s_1 1169-1452,
 *                 etcd_put_per_s 1539-2781, etcd_txn_per_s 2024-2762 (8 creators: 1051 in a run where 4
 *                 gave 714). The low ends are the busiest moments; etcd takes ~0.75 core, the bench ~0.4.
 * Before group commit in the store and huge pages for the cache's hosts: 6,500 decisions/s
 * (145 us) and 1,601-2,180 durable placements/s at 10,000 hosts. docs/placement.md has the table.
 *
 * Usage: sched [N...]; TIDE_BENCH_SECONDS (default 2) bounds each timed phase. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/errors.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched.h"
#include "sched/sched_cache.h"
#include "store/store.h"
#include "store/store_etcd_launch.h"

#define GROUP_MAX 8 /* members of a bench group */
#define ZONES 4

static const char *const zones[ZONES] = { "z0", "z1", "z2", "z3" };
static const char *const zone_hints[ZONES] = { "zone=z0", "zone=z1", "zone=z2", "zone=z3" };

struct flavor {
        const char *name;
        int vcpus;
        int64_t ram_mib, disk_gib;
        bool dedicated, hugepages;
        int weight;
};

static const struct flavor flavors[] = {
        { "small", 1, 2048, 20, false, false, 25 },         { "small2", 2, 4096, 40, false, false, 20 },
        { "medium", 4, 8192, 80, false, false, 15 },        { "medium-mem", 2, 8192, 40, false, false, 10 },
        { "large", 8, 32768, 160, false, false, 8 },        { "xlarge", 16, 65536, 320, false, false, 2 },
        { "dedicated-small", 2, 8192, 40, true, false, 6 }, { "dedicated-large", 8, 32768, 80, true, false, 3 },
        { "hugepages", 4, 16384, 80, false, true, 4 },      { "dedicated-hugepages", 4, 16384, 80, true, true, 2 },
};
#define N_FLAVORS ((int) ELEMENTSOF(flavors))

static _Thread_local uint64_t rng_state = 0x9e3779b97f4a7c15ull; /* a creator thread seeds its own */

static uint64_t rnd(void) { /* xorshift64*: the same stream on every run */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545f4914f6cdd1dull;
}

static int rnd_below(int n) {
        return (int) (rnd() % (uint64_t) n);
}

static int pick_flavor(void) {
        static int total;
        if (!total)
                for (int i = 0; i < N_FLAVORS; i++)
                        total += flavors[i].weight;
        int x = rnd_below(total);
        for (int i = 0; i < N_FLAVORS; i++) {
                if (x < flavors[i].weight)
                        return i;
                x -= flavors[i].weight;
        }
        return 0;
}

static void die(const char *what, int r) {
        fprintf(stderr, "sched bench: %s: %s\n", what, tide_strerror(r));
        exit(1);
}

/* The pool: hosts, and the instances on them. */

struct live {
        int host;
        int8_t flavor;
        int8_t numa_node;
        int16_t group;   /* -1: none */
        int16_t *pinned; /* dedicated: CPUs of vCPU i */
};

struct group {
        enum sched_group_policy policy;
        int n;
        int members[GROUP_MAX];       /* indexes into pool.live */
        const char *hosts[GROUP_MAX]; /* their hosts' names, for requests */
};

struct pool {
        size_t n;
        struct sched_host *hosts;
        char *names;
        struct live *live;
        size_t n_live, cap_live;
        struct group *groups;
        int n_groups;
        double ram_used, ram_total; /* physical MiB: shared RAM counted / ratio */
        double cpu_used, cpu_total; /* physical CPUs: shared vCPUs counted / ratio */
        struct sched_config cfg;
};

static void pool_init(struct pool *p, size_t n) {
        static const struct {
                int cpus, nodes;
        } shapes[] = { { 32, 2 }, { 48, 2 }, { 64, 2 }, { 64, 4 }, { 96, 4 }, { 128, 4 } };
        *p = (struct pool) { .n = n };
        sched_config_default(&p->cfg);
        p->hosts = xcalloc(n, sizeof *p->hosts);
        mem_advise_huge(p->hosts, n * sizeof *p->hosts); /* as sched_cache does */
        p->names = xcalloc(n, 16);
        for (size_t i = 0; i < n; i++) {
                struct sched_host *h = &p->hosts[i];
                int s = rnd_below((int) ELEMENTSOF(shapes));
                int cpus = shapes[s].cpus, nodes = shapes[s].nodes;
                int64_t per_cpu = rnd_below(2) ? 8192 : 4096;
                bool huge = rnd_below(4) == 0;
                snprintf(p->names + 16 * i, 16, "host-%07u", (unsigned) (i % 10000000));
                *h = (struct sched_host) {
                        .name = p->names + 16 * i,
                        .up = true,
                        .cpus = cpus,
                        .mem_mib = cpus * per_cpu,
                        .disk_gib = 2000 + 1000 * rnd_below(3),
                        .cpu_ratio = -1,
                        .ram_ratio = -1,
                        .disk_ratio = -1,
                        .reserved_cpus = -1,
                        .reserved_ram_mib = -1,
                        .load = rnd_below(2) ? (double) rnd_below(1000) / 1000.0 : -1,
                        .n_labels = 1,
                        .labels = { { "zone", zones[i % ZONES] } },
                        .n_numa = nodes,
                };
                for (int k = 0; k < nodes; k++) {
                        struct sched_numa_node *nd = &h->numa[k];
                        nd->id = k;
                        nd->mem_mib = h->mem_mib / nodes;
                        nd->hugepages_mib = huge ? nd->mem_mib / 4 : 0;
                        for (int c = k * (cpus / nodes); c < (k + 1) * (cpus / nodes); c++)
                                cpuset_set(&nd->cpus, c);
                }
                sched_host_sync(h);
                p->ram_total += (double) h->mem_mib;
                p->cpu_total += cpus;
        }
        p->n_groups = (int) (n / 20 > 16 ? n / 20 : 16);
        p->groups = xcalloc((size_t) p->n_groups, sizeof *p->groups);
        for (int g = 0; g < p->n_groups; g++)
                p->groups[g].policy = g % 10 == 0   ? SCHED_GROUP_AFFINITY
                                      : g % 10 == 1 ? SCHED_GROUP_SOFT_ANTI_AFFINITY
                                                    : SCHED_GROUP_ANTI_AFFINITY;
}

static void pool_free(struct pool *p) {
        for (size_t i = 0; i < p->n_live; i++)
                free(p->live[i].pinned);
        free(p->live);
        free(p->groups);
        free(p->hosts);
        free(p->names);
}

static struct sched_request flavor_request(int f) {
        const struct flavor *fl = &flavors[f];
        return (struct sched_request) { .id = fl->name,
                                        .vcpus = fl->vcpus,
                                        .ram_mib = fl->ram_mib,
                                        .disk_gib = fl->disk_gib,
                                        .dedicated = fl->dedicated,
                                        .hugepages = fl->hugepages };
}

static double physical_ram(const struct pool *p, int f) {
        const struct flavor *fl = &flavors[f];
        return fl->dedicated || fl->hugepages ? (double) fl->ram_mib : (double) fl->ram_mib / p->cfg.ram_ratio;
}

static double physical_cpus(const struct pool *p, int f) {
        const struct flavor *fl = &flavors[f];
        return fl->dedicated ? fl->vcpus : fl->vcpus / p->cfg.cpu_ratio;
}

/* The pool's use: the fuller of its CPUs and its RAM, 0..1. */
static double pool_fill(const struct pool *p) {
        double c = p->cpu_used / p->cpu_total, r = p->ram_used / p->ram_total;
        return c > r ? c : r;
}

/* Books decision d of flavor f (in group g, or -1) and records the instance. */
static void pool_add(struct pool *p, int f, int g, const struct sched_decision *d) {
        struct sched_request r = flavor_request(f);
        sched_claim(&p->hosts[d->host], &r, d);
        if (p->n_live == p->cap_live) {
                p->cap_live = p->cap_live ? 2 * p->cap_live : 1024;
                p->live = xrealloc(p->live, p->cap_live * sizeof *p->live);
        }
        struct live *l = &p->live[p->n_live];
        *l = (struct live) {
                .host = d->host, .flavor = (int8_t) f, .numa_node = (int8_t) d->numa_node, .group = (int16_t) g
        };
        if (d->n_pinned) {
                l->pinned = xmalloc((size_t) d->n_pinned * sizeof *l->pinned);
                for (int i = 0; i < d->n_pinned; i++)
                        l->pinned[i] = (int16_t) d->pinned[i];
        }
        if (g >= 0) {
                struct group *gr = &p->groups[g];
                gr->members[gr->n] = (int) p->n_live;
                gr->hosts[gr->n] = p->hosts[d->host].name;
                gr->n++;
        }
        p->n_live++;
        p->ram_used += physical_ram(p, f);
        p->cpu_used += physical_cpus(p, f);
}

/* Gives instance i back and forgets it (the last one takes its index). */
static void pool_remove(struct pool *p, size_t i) {
        struct live *l = &p->live[i];
        struct sched_request r = flavor_request(l->flavor);
        struct sched_decision d = { .host = l->host, .numa_node = l->numa_node };
        if (l->pinned) {
                d.n_pinned = flavors[l->flavor].vcpus;
                for (int k = 0; k < d.n_pinned; k++)
                        d.pinned[k] = l->pinned[k];
        }
        sched_release(&p->hosts[l->host], &r, &d);
        p->ram_used -= physical_ram(p, l->flavor);
        p->cpu_used -= physical_cpus(p, l->flavor);
        free(l->pinned);
        if (l->group >= 0) {
                struct group *gr = &p->groups[l->group];
                for (int k = 0; k < gr->n; k++)
                        if (gr->members[k] == (int) i) {
                                gr->n--;
                                gr->members[k] = gr->members[gr->n];
                                gr->hosts[k] = gr->hosts[gr->n];
                                break;
                        }
        }
        size_t last = --p->n_live;
        if (i != last) {
                p->live[i] = p->live[last];
                if (p->live[i].group >= 0) {
                        struct group *gr = &p->groups[p->live[i].group];
                        for (int k = 0; k < gr->n; k++)
                                if (gr->members[k] == (int) last)
                                        gr->members[k] = (int) i;
                }
        }
}

/* Fills the pool to about half its CPUs or RAM (the fuller): each instance goes on a random host that passes the
 * filters (a one-host placement), so warming costs O(1) per instance. */
static void pool_warm(struct pool *p) {
        int misses = 0;
        while (pool_fill(p) < 0.5 && misses < 1000) {
                int f = pick_flavor();
                struct sched_request r = flavor_request(f);
                struct sched_decision d;
                size_t h = (size_t) rnd() % p->n;
                if (sched_place(&p->cfg, &p->hosts[h], 1, &r, &d, NULL, NULL) < 0) {
                        misses++;
                        continue;
                }
                misses = 0;
                d.host = (int) h;
                pool_add(p, f, -1, &d);
        }
}

/* The next request of the timed stream; *ret_group gets its group or -1, *ret_evicted whether
 * an instance was released to make room in a full group. */
static struct sched_request next_request(struct pool *p, int *ret_f, int *ret_group, bool *ret_evicted) {
        int f = pick_flavor(), g = -1, x = rnd_below(100);
        struct sched_request r = flavor_request(f);
        *ret_evicted = false;
        if (x < 10) {
                g = rnd_below(p->n_groups);
                struct group *gr = &p->groups[g];
                *ret_evicted = gr->n == GROUP_MAX;
                if (gr->n == GROUP_MAX)
                        pool_remove(p, (size_t) gr->members[0]); /* a full group loses its oldest-listed member */
                r.group_policy = gr->policy;
                r.group_hosts = gr->hosts;
                r.n_group_hosts = (size_t) gr->n;
        } else if (x < 20) {
                r.hints[r.n_hints++] = zone_hints[rnd_below(ZONES)];
        }
        *ret_f = f;
        *ret_group = g;
        return r;
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct figures {
        double decisions_per_s, p50_us, p99_us, fill;
        size_t decisions, no_host;
};

static void run_decisions(struct pool *p, double seconds, size_t max, struct figures *fig) {
        int64_t *lat = xcalloc(max, sizeof *lat);
        size_t n = 0, no_host = 0;
        int64_t t0 = now_ns(), deadline = t0 + (int64_t) (seconds * 1e9);
        while (n < max && (n < 200 || now_ns() < deadline)) {
                int f, g;
                bool evicted;
                struct sched_request r = next_request(p, &f, &g, &evicted);
                struct sched_decision d;
                int64_t a = now_ns();
                int k = sched_place(&p->cfg, p->hosts, p->n, &r, &d, NULL, NULL);
                if (k == 0) {
                        pool_add(p, f, g, &d);
                        if (!evicted) /* one in, one out: the fill stays */
                                pool_remove(p, (size_t) rnd() % p->n_live);
                } else if (k == TIDE_E_NO_HOST)
                        no_host++;
                else
                        die("place", k);
                lat[n++] = now_ns() - a;
        }
        int64_t total = now_ns() - t0;
        qsort(lat, n, sizeof *lat, cmp_i64);
        fig->decisions = n;
        fig->no_host = no_host;
        fig->decisions_per_s = (double) n * 1e9 / (double) total;
        fig->p50_us = (double) lat[n / 2] / 1000.0;
        fig->p99_us = (double) lat[n * 99 / 100] / 1000.0;
        fig->fill = pool_fill(p);
        free(lat);
}

/* ---- durable placements on a SQLite store ---- */

struct durable {
        double txn_per_s;      /* the bare transaction: the disk's ceiling */
        double uncached_per_s; /* sched_store_create on a fresh snapshot per placement */
        size_t uncached;       /* how many were timed */
        double cached_per_s;   /* sched_store_create on a sched_cache, CREATORS threads */
        size_t cached, no_host;
        double cached1_per_s; /* the same, one creator */
        size_t cached1;
        struct sched_cache_stats st1, st; /* the cache's counters over each run */
        double cache_load_ms;             /* the cache's first read of every host */
        double put1_per_s, put_per_s;     /* etcd: plain puts, one thread and the creators' number */
        double txn_conc_per_s;            /* etcd: placement-shaped transactions, as many threads */
};

/* The host's record as its agent registers it (model.h's /tide/hosts/<name>). */
static json_t *host_record(const struct sched_host *h) {
        json_t *numa = json_array();
        for (int k = 0; k < h->n_numa; k++) {
                _cleanup_free_ char *cpus = cpuset_format(&h->numa[k].cpus);
                json_array_append_new(numa, json_pack("{s:i, s:s, s:I, s:I}", "id", h->numa[k].id, "cpus", cpus,
                                                      "mem_mib", (json_int_t) h->numa[k].mem_mib, "hugepages_mib",
                                                      (json_int_t) h->numa[k].hugepages_mib));
        }
        return json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:I, s:s, s:s, s:s, s:s, s:o, s:I}", "name", h->name, "cpus",
                         h->cpus, "sockets", h->n_numa, "cores", h->cpus / h->n_numa, "threads", 1, "numa_nodes",
                         h->n_numa, "mem_mib", (json_int_t) h->mem_mib, "accel", "kvm", "hypervisor", "sim", "uri",
                         "sim:///bench", "started", "2026-01-01T00:00:00.000Z", "numa", numa, "disk_gib",
                         (json_int_t) h->disk_gib);
}

/* Writes every host of the pool as an agent and an operator would: its record, its liveness
 * key on a lease (with its measured load, when it has one), its zone label in its settings,
 * and its allocation (the pool's usage after warming); 32 hosts (128 keys) per transaction.
 * ret_alloc gets each host's allocation value, ret_alloc_rev its mod_rev. */
static void store_hosts(struct store *s, const struct pool *p, char ***ret_alloc, int64_t **ret_alloc_rev) {
        char **alloc = xcalloc(p->n, sizeof *alloc);
        int64_t *alloc_rev = xcalloc(p->n, sizeof *alloc_rev);
        int64_t lease;
        int r = store_lease_grant(s, STORE_LEASE_TTL_MAX, &lease);
        if (r < 0)
                die("lease", r);
        for (size_t i = 0; i < p->n; i += 32) {
                struct store_op ops[128];
                char *keys[128], *vals[128];
                size_t m = p->n - i < 32 ? p->n - i : 32, n = 0;
                for (size_t j = 0; j < m; j++) {
                        const struct sched_host *h = &p->hosts[i + j];
                        _cleanup_json_ json_t *rec = host_record(h), *used = sched_host_usage_to_json(h);
                        _cleanup_json_ json_t *conf = json_pack("{s:{s:s}}", "labels", "zone", zones[(i + j) % ZONES]);
                        keys[n] = xasprintf("/tide/hosts/%s", h->name);
                        vals[n] = tide_json_dump(rec);
                        ops[n] = (struct store_op) { .type = STORE_OP_PUT, .key = keys[n], .value = vals[n] };
                        n++;
                        keys[n] = xasprintf("/tide/hostlive/%s", h->name);
                        vals[n] = h->load >= 0 ? xasprintf("{\"load\":%.3f}", h->load) : xstrdup("up");
                        ops[n] = (struct store_op) {
                                .type = STORE_OP_PUT, .key = keys[n], .value = vals[n], .lease = lease
                        };
                        n++;
                        keys[n] = model_key_hostconf(h->name);
                        vals[n] = tide_json_dump(conf);
                        ops[n] = (struct store_op) { .type = STORE_OP_PUT, .key = keys[n], .value = vals[n] };
                        n++;
                        keys[n] = model_key_alloc(h->name);
                        vals[n] = tide_json_dump(used);
                        alloc[i + j] = xstrdup(vals[n]);
                        ops[n] = (struct store_op) { .type = STORE_OP_PUT, .key = keys[n], .value = vals[n] };
                        n++;
                }
                struct store_txn txn = { .success = ops, .n_success = n };
                int64_t rev;
                if ((r = store_txn(s, &txn, NULL, &rev)) < 0)
                        die("storing hosts", r);
                for (size_t j = 0; j < n; j++) {
                        free(keys[j]);
                        free(vals[j]);
                }
                for (size_t j = 0; j < m; j++)
                        alloc_rev[i + j] = rev;
        }
        *ret_alloc = alloc;
        *ret_alloc_rev = alloc_rev;
}

/* The server groups of the durable stream: records as the API stores them (id, name, policy). */
static json_t **store_groups(const struct pool *p) {
        json_t **g = xcalloc((size_t) p->n_groups, sizeof *g);
        for (int k = 0; k < p->n_groups; k++) {
                char id[32];
                snprintf(id, sizeof id, "bench-group-%d", k);
                g[k] = json_pack("{s:s, s:s, s:s}", "id", id, "name", id, "policy",
                                 sched_group_policy_name(p->groups[k].policy));
        }
        return g;
}

/* The next instance of the durable stream (the in-memory one's flavors, groups and hints);
 * *ret_group gets its server group or NULL. */
static json_t *next_instance(const struct pool *p, json_t **groups, const char *tag, size_t i, json_t **ret_group) {
        const struct flavor *fl = &flavors[pick_flavor()];
        char id[64];
        snprintf(id, sizeof id, "bench-%s-%08zu", tag, i);
        json_t *inst = json_pack("{s:s, s:s, s:i, s:I, s:I, s:s, s:b, s:[]}", "id", id, "name", id, "vcpus", fl->vcpus,
                                 "ram_mib", (json_int_t) fl->ram_mib, "disk_gib", (json_int_t) fl->disk_gib,
                                 "cpu_policy", fl->dedicated ? "dedicated" : "shared", "hugepages", fl->hugepages,
                                 "hints");
        int x = rnd_below(100);
        *ret_group = NULL;
        if (x < 10)
                *ret_group = groups[rnd_below(p->n_groups)];
        else if (x < 20)
                json_array_append_new(json_object_get(inst, "hints"), json_string(zone_hints[rnd_below(ZONES)]));
        return inst;
}

/* Timed sched_store_create calls (with cache, or a fresh snapshot each when NULL) for about
 * seconds, at least min_n of them and at most max_n; returns per second. */
static double run_creates(struct store *s, struct sched_cache *cache, const struct pool *p, json_t **groups,
                          const char *tag, double seconds, size_t min_n, size_t max_n, size_t *ret_n,
                          size_t *ret_no_host) {
        size_t n = 0, no_host = 0;
        int64_t t0 = now_ns(), deadline = t0 + (int64_t) (seconds * 1e9);
        while (n < max_n && (n < min_n || now_ns() < deadline)) {
                json_t *group;
                _cleanup_json_ json_t *inst = next_instance(p, groups, tag, n, &group);
                _cleanup_free_ char *reason = NULL;
                int r = sched_store_create(s, cache, inst, group, &reason);
                if (r == TIDE_E_NO_HOST)
                        no_host++;
                else if (r < 0)
                        die("sched_store_create", r);
                n++;
        }
        double per_s = (double) n * 1e9 / (double) (now_ns() - t0);
        *ret_n = n;
        if (ret_no_host)
                *ret_no_host = no_host;
        return per_s;
}

#define CREATORS 4 /* concurrent creators: tided's API threads */
#define CREATORS_MAX 16

/* The creators of the concurrent run: CREATORS, or TIDE_BENCH_CREATORS_ETCD on etcd. */
static int creators_for(struct store *s) {
        const char *e = getenv("TIDE_BENCH_CREATORS_ETCD");
        int64_t n;
        if (streq(store_backend_name(s), "etcd") && e && parse_int64(e, 1, CREATORS_MAX, &n) >= 0)
                return (int) n;
        return CREATORS;
}

struct creator {
        struct store *s;
        struct sched_cache *cache;
        const struct pool *p;
        json_t **groups;
        int index;
        int64_t deadline;
        size_t n, no_host;
};

static void *creator_run(void *arg) {
        struct creator *cr = arg;
        char tag[16];
        rng_state ^= 0x2545f4914f6cdd1dull * (uint64_t) (cr->index + 1);
        (void) rnd();
        snprintf(tag, sizeof tag, "cc%d", cr->index);
        while (cr->n < 10 || now_ns() < cr->deadline) {
                json_t *group;
                _cleanup_json_ json_t *inst = next_instance(cr->p, cr->groups, tag, cr->n, &group);
                _cleanup_free_ char *reason = NULL;
                int r = sched_store_create(cr->s, cr->cache, inst, group, &reason);
                if (r == TIDE_E_NO_HOST)
                        cr->no_host++;
                else if (r < 0)
                        die("sched_store_create", r);
                cr->n++;
        }
        return NULL;
}

/* CREATORS threads calling sched_store_create on one store handle and one cache (as tided's
 * API threads do) for about seconds; returns placements per second. */
static double run_concurrent_creates(struct store *s, struct sched_cache *cache, const struct pool *p, json_t **groups,
                                     double seconds, size_t *ret_n, size_t *ret_no_host) {
        int creators = creators_for(s);
        pthread_t t[CREATORS_MAX];
        struct creator cr[CREATORS_MAX];
        int64_t t0 = now_ns();
        for (int k = 0; k < creators; k++) {
                cr[k] = (struct creator) { .s = s,
                                           .cache = cache,
                                           .p = p,
                                           .groups = groups,
                                           .index = k,
                                           .deadline = t0 + (int64_t) (seconds * 1e9) };
                int r = pthread_create(&t[k], NULL, creator_run, &cr[k]);
                if (r != 0)
                        die("pthread_create", -r);
        }
        size_t n = 0, no_host = 0;
        for (int k = 0; k < creators; k++) {
                pthread_join(t[k], NULL);
                n += cr[k].n;
                no_host += cr[k].no_host;
        }
        *ret_n = n;
        *ret_no_host = no_host;
        return (double) n * 1e9 / (double) (now_ns() - t0);
}

static void stats_delta(const struct sched_cache_stats *a, const struct sched_cache_stats *b,
                        struct sched_cache_stats *ret) {
        *ret = (struct sched_cache_stats) { .reads = b->reads - a->reads,
                                            .lagging = b->lagging - a->lagging,
                                            .waits = b->waits - a->waits,
                                            .rollbacks = b->rollbacks - a->rollbacks };
}

/* The bare transaction of a create, with no decision: on a random host, compare its
 * allocation's revision, put its allocation, the instance's name key and a placed instance's
 * record (as sched_store_create's). What the disk allows this workload: the ceiling. */
static double run_bare_txns(struct store *s, const struct pool *p, json_t **groups, char **alloc, int64_t *alloc_rev,
                            double seconds) {
        json_t *group;
        _cleanup_json_ json_t *inst = next_instance(p, groups, "bare", 0, &group);
        json_object_set_new(inst, "host", json_string(p->hosts[0].name));
        json_object_set_new(inst, "placement",
                            json_pack("{s:s, s:n, s:[], s:f}", "host", p->hosts[0].name, "numa_node", "pinned", "score",
                                      1.234567));
        json_object_set_new(inst, "status", json_string("building"));
        json_object_set_new(inst, "task", json_string("creating"));
        json_object_set_new(inst, "error", json_null());
        _cleanup_free_ char *value = tide_json_dump(inst);
        size_t n = 0;
        int64_t t0 = now_ns(), deadline = t0 + (int64_t) (seconds * 1e9);
        while (n < 50 || now_ns() < deadline) {
                size_t h = (size_t) rnd() % p->n;
                char akey[64], ikey[64], nkey[64];
                snprintf(akey, sizeof akey, MODEL_KEY_ALLOC "%s", p->hosts[h].name);
                snprintf(ikey, sizeof ikey, "/tide/instances/bench-bare-%08zu", n);
                snprintf(nkey, sizeof nkey, "/tide/names/instances/bench-bare-%08zu", n);
                struct store_cmp cmps[3] = {
                        { .key = akey, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = alloc_rev[h] },
                        { .key = nkey, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = 0 },
                        { .key = ikey, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = 0 },
                };
                struct store_op ops[3] = {
                        { .type = STORE_OP_PUT, .key = akey, .value = alloc[h] },
                        { .type = STORE_OP_PUT, .key = nkey, .value = ikey },
                        { .type = STORE_OP_PUT, .key = ikey, .value = value },
                };
                struct store_txn txn = { .cmps = cmps, .n_cmps = 3, .success = ops, .n_success = 3 };
                bool ok = false;
                int r = store_txn(s, &txn, &ok, &alloc_rev[h]);
                if (r < 0)
                        die("txn", r);
                if (!ok)
                        die("txn compare", TIDE_E_CONFLICT); /* one writer: never */
                n++;
        }
        return (double) n * 1e9 / (double) (now_ns() - t0);
}

struct putter {
        struct store *s;
        int index;
        const char *value;
        int64_t deadline;
        bool txn; /* a placement-shaped transaction instead of a put */
        size_t n;
};

static void *putter_run(void *arg) {
        struct putter *pt = arg;
        while (pt->n < 10 || now_ns() < pt->deadline) {
                char key[64], key2[64], key3[64];
                snprintf(key, sizeof key, "/bench/put/%d/%08zu", pt->index, pt->n);
                int r;
                if (!pt->txn)
                        r = store_put(pt->s, key, pt->value, 0, NULL);
                else {
                        /* A placement's shape: three keys created if absent (compares on their
                         * mod_rev), two small values and the record. */
                        snprintf(key2, sizeof key2, "/bench/put2/%d/%08zu", pt->index, pt->n);
                        snprintf(key3, sizeof key3, "/bench/put3/%d/%08zu", pt->index, pt->n);
                        struct store_cmp cmps[3] = {
                                { .key = key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL },
                                { .key = key2, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL },
                                { .key = key3, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL },
                        };
                        struct store_op ops[3] = {
                                { .type = STORE_OP_PUT, .key = key, .value = pt->value },
                                { .type = STORE_OP_PUT, .key = key2, .value = key },
                                { .type = STORE_OP_PUT, .key = key3, .value = key },
                        };
                        struct store_txn txn = { .cmps = cmps, .n_cmps = 3, .success = ops, .n_success = 3 };
                        r = store_txn(pt->s, &txn, NULL, NULL);
                }
                if (r < 0)
                        die("put", r);
                pt->n++;
        }
        return NULL;
}

/* Plain puts of a placed instance's size (about 600 bytes) to fresh keys from threads threads
 * sharing the handle: what the store itself allows, with no compare and no decision. */
static double run_plain_puts(struct store *s, int threads, bool txn, double seconds) {
        _cleanup_free_ char *value = xmalloc(601);
        memset(value, 'v', 600);
        value[600] = 0;
        pthread_t t[16];
        struct putter pt[16];
        int64_t t0 = now_ns();
        for (int k = 0; k < threads && k < 16; k++) {
                pt[k] = (struct putter) {
                        .s = s, .index = k, .value = value, .deadline = t0 + (int64_t) (seconds * 1e9)
                };
                int r = pthread_create(&t[k], NULL, putter_run, &pt[k]);
                if (r != 0)
                        die("pthread_create", -r);
        }
        size_t n = 0;
        for (int k = 0; k < threads && k < 16; k++) {
                pthread_join(t[k], NULL);
                n += pt[k].n;
        }
        return (double) n * 1e9 / (double) (now_ns() - t0);
}

/* The durable figures on the store at url. */
static void run_durable(struct pool *p, const char *url, double seconds, struct durable *out) {
        struct store *s = NULL;
        struct sched_cache *cache = NULL;
        int r = store_open(url, &s);
        if (r < 0)
                die("store_open", r);
        char **alloc;
        int64_t *alloc_rev;
        store_hosts(s, p, &alloc, &alloc_rev);
        json_t **groups = store_groups(p);
        *out = (struct durable) {};

        out->txn_per_s = run_bare_txns(s, p, groups, alloc, alloc_rev, seconds);
        for (size_t i = 0; i < p->n; i++)
                free(alloc[i]);
        free(alloc);
        free(alloc_rev);
        /* The old path reads and parses every host for each placement: one is enough. */
        out->uncached_per_s = run_creates(s, NULL, p, groups, "fresh", seconds, 1, 20000, &out->uncached, NULL);

        (void) sched_cache_new(s, &cache);
        struct sched_snapshot *view;
        int64_t t0 = now_ns();
        if ((r = sched_cache_acquire(cache, &view)) < 0)
                die("sched_cache_acquire", r);
        if (view->n != p->n)
                die("the cache's hosts", TIDE_E_CONFLICT);
        sched_cache_release(cache);
        out->cache_load_ms = (double) (now_ns() - t0) / 1e6;
        struct sched_cache_stats a, b, c;
        sched_cache_stats(cache, &a);
        out->cached1_per_s = run_creates(s, cache, p, groups, "cached", seconds, 50, 20000, &out->cached1, NULL);
        sched_cache_stats(cache, &b);
        out->cached_per_s = run_concurrent_creates(s, cache, p, groups, seconds, &out->cached, &out->no_host);
        sched_cache_stats(cache, &c);
        stats_delta(&a, &b, &out->st1);
        stats_delta(&b, &c, &out->st);

        if (streq(store_backend_name(s), "etcd")) {
                out->put1_per_s = run_plain_puts(s, 1, false, seconds);
                out->put_per_s = run_plain_puts(s, creators_for(s), false, seconds);
                out->txn_conc_per_s = run_plain_puts(s, creators_for(s), true, seconds);
        }

        sched_cache_free(cache);
        store_free(s);
        for (int k = 0; k < p->n_groups; k++)
                json_decref(groups[k]);
        free(groups);
}

/* The durable figures on a fresh SQLite store in $TMPDIR. */
static void run_durable_sqlite(struct pool *p, double seconds, struct durable *out) {
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *dir = xasprintf("%s/tide-sched-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir))
                die("mkdtemp", -errno);
        _cleanup_free_ char *url = xasprintf("sqlite:%s/store.db", dir);
        run_durable(p, url, seconds, out);
        (void) rm_rf(dir);
}

/* The same on a one-member etcd of its own (false where etcd is not installed). */
static bool run_durable_etcd(struct pool *p, double seconds, struct durable *out) {
        if (!store_etcd_launch_available())
                return false;
        struct store_etcd_launch *l = NULL;
        int r = store_etcd_launch_start(1, &l);
        if (r < 0)
                die("starting etcd", r);
        run_durable(p, store_etcd_launch_url(l), seconds, out);
        store_etcd_launch_free(l);
        return true;
}

int main(int argc, char **argv) {
        size_t counts[16] = { 1000, 10000, 100000 };
        int n_counts = 3;
        double seconds = 2;
        const char *env = getenv("TIDE_BENCH_SECONDS");
        if (env && *env && (seconds = strtod(env, NULL)) <= 0)
                seconds = 2;
        if (argc > 1) {
                n_counts = 0;
                for (int i = 1; i < argc && n_counts < (int) ELEMENTSOF(counts); i++) {
                        int64_t v;
                        if (parse_int64(argv[i], 1, 10000000, &v) < 0)
                                die(argv[i], TIDE_E_INVALID);
                        counts[n_counts++] = (size_t) v;
                }
        }
        /* The decisions on one core (the one it starts on): those figures are per core. The
         * durable placements on every core the process may use, as tided runs: concurrent
         * creators decide on one core while another's transaction runs on the other. */
        cpu_set_t one, all;
        int cpu = sched_getcpu();
        CPU_ZERO(&one);
        CPU_SET(cpu >= 0 ? cpu : 0, &one);
        if (sched_getaffinity(0, sizeof all, &all) < 0)
                all = one;

        for (int c = 0; c < n_counts; c++) {
                struct pool p;
                struct figures fig;
                pool_init(&p, counts[c]);
                (void) sched_setaffinity(0, sizeof one, &one);
                pool_warm(&p);
                run_decisions(&p, seconds, 200000, &fig);
                struct durable dur;
                (void) sched_setaffinity(0, sizeof all, &all);
                run_durable_sqlite(&p, seconds, &dur);
                struct durable ed;
                bool etcd = run_durable_etcd(&p, seconds, &ed);
                printf("{\"hosts\":%zu,\"decisions_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
                       "\"durable_placements_per_s\":%.0f,\"durable_placements_per_s_1\":%.0f,"
                       "\"uncached_placements_per_s\":%.1f,\"store_txn_per_s\":%.0f,"
                       "\"cache_load_ms\":%.0f,\"creators\":%d,\"durable_placements\":%zu,\"durable_no_valid_host\":%zu,"
                       "\"durable_retries\":%" PRIu64 ",\"durable_waits\":%" PRIu64 ",\"durable_lagging\":%" PRIu64 ","
                       "\"durable_placements_1\":%zu,\"durable_retries_1\":%" PRIu64 ","
                       "\"uncached_placements\":%zu,\"decisions\":%zu,\"no_valid_host\":%zu,\"fill\":%.2f,"
                       "\"instances\":%zu",
                       counts[c], fig.decisions_per_s, fig.p50_us, fig.p99_us, dur.cached_per_s, dur.cached1_per_s,
                       dur.uncached_per_s, dur.txn_per_s, dur.cache_load_ms, CREATORS, dur.cached, dur.no_host,
                       dur.st.rollbacks, dur.st.waits, dur.st.lagging, dur.cached1, dur.st1.rollbacks, dur.uncached,
                       fig.decisions, fig.no_host, fig.fill, p.n_live);
                if (etcd)
                        printf(",\"durable_placements_per_s_etcd\":%.0f,"
                               "\"durable_placements_per_s_1_etcd\":%.0f,\"uncached_placements_per_s_etcd\":%.1f,"
                               "\"store_txn_per_s_etcd\":%.0f,\"etcd_put_per_s_1\":%.0f,\"etcd_put_per_s\":%.0f,\"etcd_txn_per_s\":%.0f,"
                               "\"cache_load_ms_etcd\":%.0f,\"durable_placements_etcd\":%zu,"
                               "\"durable_retries_etcd\":%" PRIu64 ",\"durable_waits_etcd\":%" PRIu64,
                               ed.cached_per_s, ed.cached1_per_s, ed.uncached_per_s, ed.txn_per_s, ed.put1_per_s,
                               ed.put_per_s, ed.txn_conc_per_s, ed.cache_load_ms, ed.cached, ed.st.rollbacks,
                               ed.st.waits);
                printf("}\n");
                fflush(stdout);
                pool_free(&p);
        }
        return 0;
}
