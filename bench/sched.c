/* bench/sched.c — the placement engine's speed, printed as one JSON object per line:
 *   {"hosts":N,"decisions_per_s":..,"p50_us":..,"p99_us":..,"durable_placements_per_s":..,...}
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
 * durable_placements_per_s is measured for each host count on a real SQLite store (synchronous
 * writes): every host's allocation is first written to /tide/alloc/<host> (the JSON of
 * sched_host_usage_to_json); then each placement is a decision over the N hosts, a claim, and
 * one transaction that compares the mod_rev of the chosen host's allocation key and puts the
 * new allocation and the instance's key /tide/instances/<id>. The store lives in $TMPDIR (or
 * /tmp); its figure is bounded by the fsync rate there.
 *
 * Usage: sched [N...]; TIDE_BENCH_SECONDS (default 2) bounds each timed phase. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/errors.h"
#include "common/util.h"
#include "sched/sched.h"
#include "store/store.h"

#define GROUP_MAX 8        /* members of a bench group */
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
        { "small", 1, 2048, 20, false, false, 25 },
        { "small2", 2, 4096, 40, false, false, 20 },
        { "medium", 4, 8192, 80, false, false, 15 },
        { "medium-mem", 2, 8192, 40, false, false, 10 },
        { "large", 8, 32768, 160, false, false, 8 },
        { "xlarge", 16, 65536, 320, false, false, 2 },
        { "dedicated-small", 2, 8192, 40, true, false, 6 },
        { "dedicated-large", 8, 32768, 80, true, false, 3 },
        { "hugepages", 4, 16384, 80, false, true, 4 },
        { "dedicated-hugepages", 4, 16384, 80, true, true, 2 },
};
#define N_FLAVORS ((int) ELEMENTSOF(flavors))

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) {   /* xorshift64*: the same stream on every run */
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
        int16_t group;             /* -1: none */
        int16_t *pinned;           /* dedicated: CPUs of vCPU i */
};

struct group {
        enum sched_group_policy policy;
        int n;
        int members[GROUP_MAX];            /* indexes into pool.live */
        const char *hosts[GROUP_MAX];      /* their hosts' names, for requests */
};

struct pool {
        size_t n;
        struct sched_host *hosts;
        char *names;
        struct live *live;
        size_t n_live, cap_live;
        struct group *groups;
        int n_groups;
        double ram_used, ram_total;       /* physical MiB: shared RAM counted / ratio */
        double cpu_used, cpu_total;       /* physical CPUs: shared vCPUs counted / ratio */
        struct sched_config cfg;
};

static void pool_init(struct pool *p, size_t n) {
        static const struct { int cpus, nodes; } shapes[] = { { 32, 2 }, { 48, 2 }, { 64, 2 }, { 64, 4 }, { 96, 4 }, { 128, 4 } };
        *p = (struct pool) { .n = n };
        sched_config_default(&p->cfg);
        p->hosts = xcalloc(n, sizeof *p->hosts);
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
                        .cpu_ratio = -1, .ram_ratio = -1, .disk_ratio = -1,
                        .reserved_cpus = -1, .reserved_ram_mib = -1,
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
                                sched_cpuset_set(&nd->cpus, c);
                }
                sched_host_sync(h);
                p->ram_total += (double) h->mem_mib;
                p->cpu_total += cpus;
        }
        p->n_groups = (int) (n / 20 > 16 ? n / 20 : 16);
        p->groups = xcalloc((size_t) p->n_groups, sizeof *p->groups);
        for (int g = 0; g < p->n_groups; g++)
                p->groups[g].policy = g % 10 == 0 ? SCHED_GROUP_AFFINITY
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
        return (struct sched_request) { .id = fl->name, .vcpus = fl->vcpus, .ram_mib = fl->ram_mib, .disk_gib = fl->disk_gib,
                                        .dedicated = fl->dedicated, .hugepages = fl->hugepages };
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
        *l = (struct live) { .host = d->host, .flavor = (int8_t) f, .numa_node = (int8_t) d->numa_node, .group = (int16_t) g };
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
                        pool_remove(p, (size_t) gr->members[0]);   /* a full group loses its oldest-listed member */
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
                        if (!evicted)   /* one in, one out: the fill stays */
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

/* Durable placements: decision, claim, one transaction on the host's allocation revision. */
static double run_durable(struct pool *p, double seconds, size_t max) {
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *dir = xasprintf("%s/tide-sched-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir))
                die("mkdtemp", -errno);
        _cleanup_free_ char *url = xasprintf("sqlite:%s/store.db", dir);
        struct store *s = NULL;
        int r = store_open(url, &s);
        if (r < 0)
                die("store_open", r);

        /* Every host's allocation, 100 hosts per transaction. */
        int64_t *rev = xcalloc(p->n, sizeof *rev);
        char **keys = xcalloc(p->n, sizeof *keys);
        for (size_t i = 0; i < p->n; i++)
                keys[i] = xasprintf("/tide/alloc/%s", p->hosts[i].name);
        for (size_t i = 0; i < p->n; i += 100) {
                struct store_op ops[100];
                char *vals[100];
                size_t m = p->n - i < 100 ? p->n - i : 100;
                for (size_t j = 0; j < m; j++) {
                        json_t *u = sched_host_usage_to_json(&p->hosts[i + j]);
                        vals[j] = json_dumps(u, JSON_COMPACT);
                        json_decref(u);
                        ops[j] = (struct store_op) { .type = STORE_OP_PUT, .key = keys[i + j], .value = vals[j] };
                }
                struct store_txn txn = { .success = ops, .n_success = m };
                int64_t rv;
                if ((r = store_txn(s, &txn, NULL, &rv)) < 0)
                        die("txn", r);
                for (size_t j = 0; j < m; j++) {
                        rev[i + j] = rv;
                        free(vals[j]);
                }
        }

        size_t n = 0;
        int64_t t0 = now_ns(), deadline = t0 + (int64_t) (seconds * 1e9);
        while (n < max && (n < 50 || now_ns() < deadline)) {
                int f, g;
                bool evicted;
                struct sched_request req = next_request(p, &f, &g, &evicted);
                struct sched_decision d;
                r = sched_place(&p->cfg, p->hosts, p->n, &req, &d, NULL, NULL);
                if (r == TIDE_E_NO_HOST)
                        continue;
                if (r < 0)
                        die("place", r);
                pool_add(p, f, g, &d);
                json_t *u = sched_host_usage_to_json(&p->hosts[d.host]);
                char *alloc = json_dumps(u, JSON_COMPACT);
                json_decref(u);
                json_t *inst = json_pack("{s:s, s:s, s:o}", "flavor", flavors[f].name, "host", p->hosts[d.host].name,
                                         "placement", sched_decision_to_json(p->hosts, &d));
                char *inst_value = json_dumps(inst, JSON_COMPACT);
                json_decref(inst);
                char ikey[64];
                snprintf(ikey, sizeof ikey, "/tide/instances/bench-%08zu", n);
                struct store_cmp cmp = { .key = keys[d.host], .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL,
                                         .number = rev[d.host] };
                struct store_op ops[2] = {
                        { .type = STORE_OP_PUT, .key = keys[d.host], .value = alloc },
                        { .type = STORE_OP_PUT, .key = ikey, .value = inst_value },
                };
                struct store_txn txn = { .cmps = &cmp, .n_cmps = 1, .success = ops, .n_success = 2 };
                bool ok = false;
                int64_t rv;
                if ((r = store_txn(s, &txn, &ok, &rv)) < 0)
                        die("txn", r);
                if (!ok)
                        die("txn compare", TIDE_E_CONFLICT);   /* one writer: never */
                rev[d.host] = rv;
                free(alloc);
                free(inst_value);
                n++;
        }
        double per_s = (double) n * 1e9 / (double) (now_ns() - t0);

        store_free(s);
        for (size_t i = 0; i < p->n; i++)
                free(keys[i]);
        free(keys);
        free(rev);
        (void) rm_rf(dir);
        return per_s;
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
        /* One core (the one it starts on): the figures are per core. */
        cpu_set_t one;
        int cpu = sched_getcpu();
        CPU_ZERO(&one);
        CPU_SET(cpu >= 0 ? cpu : 0, &one);
        (void) sched_setaffinity(0, sizeof one, &one);

        for (int c = 0; c < n_counts; c++) {
                struct pool p;
                struct figures fig;
                pool_init(&p, counts[c]);
                pool_warm(&p);
                run_decisions(&p, seconds, 200000, &fig);
                double durable = run_durable(&p, seconds, 20000);
                printf("{\"hosts\":%zu,\"decisions_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
                       "\"durable_placements_per_s\":%.0f,\"decisions\":%zu,\"no_valid_host\":%zu,\"fill\":%.2f,"
                       "\"instances\":%zu}\n",
                       counts[c], fig.decisions_per_s, fig.p50_us, fig.p99_us, durable, fig.decisions, fig.no_host, fig.fill,
                       p.n_live);
                fflush(stdout);
                pool_free(&p);
        }
        return 0;
}
