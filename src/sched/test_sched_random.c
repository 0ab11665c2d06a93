/* Randomised correctness of placement: with fixed seeds, thousands of creates, deletes and
 * resizes (release, then place at a new size, on the same host or elsewhere) over mixed hosts,
 * flavors and server groups. After every step:
 *   - every host passes sched_host_check (no ratio exceeded, bound RAM within nodes, ...);
 *   - no CPU is pinned by two instances, and each host's pinned set and usage are exactly what
 *     its live instances add up to;
 *   - no two members of a hard anti-affinity group share a host, and the live members of a
 *     hard affinity group are on one host;
 *   - the decision equals the one of a pass that skips no host (the explain pass).
 * At the end everything is released: usage is exactly zero and a full re-fill decides exactly
 * as the same fill did at the start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "sched/sched.h"

#define N_HOSTS 24
#define MAX_LIVE 1024
#define N_GROUPS 6

struct flavor {
        int vcpus;
        int64_t ram_mib, disk_gib;
        bool dedicated, hugepages;
};

static const struct flavor flavors[] = {
        { 1, 512, 5, false, false },    { 2, 2048, 10, false, false },
        { 4, 4096, 20, false, false },  { 8, 16384, 40, false, false },
        { 1, 1024, 5, true, false },    { 3, 3072, 10, true, false },
        { 6, 6000, 10, true, false },   /* more vCPUs than small nodes: spreads there */
        { 12, 12000, 10, true, false }, /* spreads on most hosts */
        { 1, 5000, 5, true, false },    /* more RAM than small nodes have */
        { 2, 1024, 5, false, true },    { 2, 2048, 5, true, true },
        { 1, 3000, 5, false, true }, /* more hugepages than small nodes have */
};
#define N_FLAVORS ((int) ELEMENTSOF(flavors))

static const enum sched_group_policy group_policy[N_GROUPS] = {
        SCHED_GROUP_ANTI_AFFINITY, SCHED_GROUP_ANTI_AFFINITY,      SCHED_GROUP_AFFINITY,
        SCHED_GROUP_SOFT_AFFINITY, SCHED_GROUP_SOFT_ANTI_AFFINITY, SCHED_GROUP_NONE,
};

static const char *const zone_hints[] = { "zone=a", "zone=b" };

struct inst {
        int flavor, group, hint; /* hint: -1 none */
        struct sched_decision d;
};

struct world {
        uint64_t rng;
        json_t *j;
        struct sched_host hosts[N_HOSTS];
        struct sched_config cfg;
        struct inst live[MAX_LIVE];
        int n_live;
        long placed, refused;
};

static uint64_t rnd(struct world *w) {
        w->rng ^= w->rng >> 12;
        w->rng ^= w->rng << 25;
        w->rng ^= w->rng >> 27;
        return w->rng * 0x2545f4914f6cdd1dull;
}

static int below(struct world *w, int n) {
        return (int) (rnd(w) % (uint64_t) n);
}

/* Hosts of mixed shapes, as JSON (the engine's own parser builds them). */
static void world_init(struct world *w, uint64_t seed) {
        *w = (struct world) { .rng = seed * 0x9e3779b97f4a7c15ull + 1 };
        sched_config_default(&w->cfg);
        w->j = json_array();
        for (int i = 0; i < N_HOSTS; i++) {
                int nodes = 1 << below(w, 3);  /* 1, 2 or 4 */
                int per = 2 + 2 * below(w, 4); /* 2..8 CPUs per node */
                int cpus = nodes * per;
                int64_t node_mem = 2048 * (1 + below(w, 4));
                json_t *numa = json_array();
                bool huge = below(w, 3) == 0;
                for (int k = 0; k < nodes; k++) {
                        char set[32];
                        snprintf(set, sizeof set, "%d-%d", k * per, (k + 1) * per - 1);
                        json_array_append_new(numa, json_pack("{s:s, s:I, s:I}", "cpus", set, "mem_mib",
                                                              (json_int_t) node_mem, "hugepages_mib",
                                                              (json_int_t) (huge ? node_mem / 2 : 0)));
                }
                char name[16];
                snprintf(name, sizeof name, "h%02d", i);
                json_t *h = json_pack("{s:s, s:i, s:I, s:I, s:o, s:{s:s}}", "name", name, "cpus", cpus, "mem_mib",
                                      (json_int_t) (node_mem * nodes), "disk_gib",
                                      (json_int_t) (100 + 50 * below(w, 4)), "numa", numa, "labels", "zone",
                                      i % 2 ? "a" : "b");
                if (below(w, 4) == 0)
                        json_object_set_new(h, "reserved_cpus", json_integer(1));
                if (below(w, 6) == 0)
                        json_object_set_new(h, "cpu_ratio", json_real(1.0));
                if (below(w, 2) == 0)
                        json_object_set_new(h, "load", json_real((double) below(w, 100) / 100));
                json_array_append_new(w->j, h);
        }
        for (int i = 0; i < N_HOSTS; i++) {
                char *err = NULL;
                if (sched_host_from_json(json_array_get(w->j, (size_t) i), &w->hosts[i], &err) < 0)
                        fail_msg("host %d: %s", i, err);
        }
}

static struct sched_request request_of(const struct inst *in) {
        const struct flavor *f = &flavors[in->flavor];
        struct sched_request r = { .vcpus = f->vcpus,
                                   .ram_mib = f->ram_mib,
                                   .disk_gib = f->disk_gib,
                                   .dedicated = f->dedicated,
                                   .hugepages = f->hugepages };
        if (in->hint >= 0)
                r.hints[r.n_hints++] = zone_hints[in->hint];
        return r;
}

static bool same_decision(const struct sched_decision *a, const struct sched_decision *b) {
        if (a->host != b->host || a->numa_node != b->numa_node || a->n_pinned != b->n_pinned || a->score != b->score)
                return false;
        for (int i = 0; i < a->n_pinned; i++)
                if (a->pinned[i] != b->pinned[i])
                        return false;
        return true;
}

/* Places in (its group's other members taken from the live ones, except skip); on success the
 * decision is claimed and true returned. Checks the decision against a pass skipping nothing. */
static bool place(struct world *w, struct inst *in, int skip) {
        struct sched_request r = request_of(in);
        const char *members[MAX_LIVE];
        size_t n_members = 0;
        if (in->group >= 0 && group_policy[in->group] != SCHED_GROUP_NONE) {
                for (int i = 0; i < w->n_live; i++)
                        if (i != skip && w->live[i].group == in->group)
                                members[n_members++] = w->hosts[w->live[i].d.host].name;
                r.group_policy = group_policy[in->group];
                r.group_hosts = members;
                r.n_group_hosts = n_members;
        }
        struct sched_decision d, full;
        struct sched_explain ex[N_HOSTS];
        int k = sched_place(&w->cfg, w->hosts, N_HOSTS, &r, &d, NULL, NULL);
        int k2 = sched_place(&w->cfg, w->hosts, N_HOSTS, &r, &full, ex, NULL);
        assert_int_equal(k, k2);
        if (k == TIDE_E_NO_HOST) {
                w->refused++;
                return false;
        }
        assert_int_equal(k, 0);
        if (!same_decision(&d, &full))
                fail_msg("a pass skipping hosts chose %s (%.17g), the full pass %s (%.17g)", w->hosts[d.host].name,
                         d.score, w->hosts[full.host].name, full.score);
        if (r.group_policy == SCHED_GROUP_ANTI_AFFINITY)
                for (size_t i = 0; i < n_members; i++)
                        assert_string_not_equal(members[i], w->hosts[d.host].name);
        if (r.group_policy == SCHED_GROUP_AFFINITY && n_members > 0)
                assert_string_equal(members[0], w->hosts[d.host].name);
        sched_claim(&w->hosts[d.host], &r, &d);
        in->d = d;
        w->placed++;
        return true;
}

static void release(struct world *w, const struct inst *in) {
        struct sched_request r = request_of(in);
        sched_release(&w->hosts[in->d.host], &r, &in->d);
}

static int node_of(const struct sched_host *h, int cpu) {
        for (int k = 0; k < h->n_numa; k++)
                if (cpuset_has(&h->numa[k].cpus, cpu))
                        return k;
        return -1;
}

static int node_index(const struct sched_host *h, int id) {
        for (int k = 0; k < h->n_numa; k++)
                if (h->numa[k].id == id)
                        return k;
        return -1;
}

/* Every invariant, recomputed from the live instances. */
static void check_world(struct world *w) {
        struct {
                int64_t vcpus, ram, disk, instances, bound, hp[SCHED_MAX_NUMA];
                struct cpuset pinned;
        } want[N_HOSTS] = {};
        int anti_host[N_GROUPS][N_HOSTS] = {}, affinity_host[N_GROUPS];
        for (int g = 0; g < N_GROUPS; g++)
                affinity_host[g] = -1;

        for (int i = 0; i < w->n_live; i++) {
                const struct inst *in = &w->live[i];
                const struct flavor *f = &flavors[in->flavor];
                const struct sched_host *h = &w->hosts[in->d.host];
                int hi = in->d.host;
                want[hi].instances++;
                want[hi].disk += f->disk_gib;
                if (f->dedicated) {
                        assert_int_equal(in->d.n_pinned, f->vcpus);
                        for (int p = 0; p < in->d.n_pinned; p++) {
                                int cpu = in->d.pinned[p];
                                if (cpuset_has(&want[hi].pinned, cpu))
                                        fail_msg("%s: CPU %d pinned twice", h->name, cpu);
                                cpuset_set(&want[hi].pinned, cpu);
                                assert_true(node_of(h, cpu) >= 0);
                                /* inside its node when it has one (and is not spread) */
                                if (in->d.numa_node >= 0 && !f->hugepages)
                                        assert_int_equal(h->numa[node_of(h, cpu)].id, in->d.numa_node);
                        }
                } else
                        want[hi].vcpus += f->vcpus;
                if (f->hugepages) {
                        int k = node_index(h, in->d.numa_node);
                        assert_true(k >= 0);
                        want[hi].hp[k] += f->ram_mib;
                } else if (f->dedicated)
                        want[hi].bound += f->ram_mib;
                else
                        want[hi].ram += f->ram_mib;
                switch (group_policy[in->group >= 0 ? in->group : N_GROUPS - 1]) {
                case SCHED_GROUP_ANTI_AFFINITY:
                        if (anti_host[in->group][hi]++)
                                fail_msg("two members of anti-affinity group %d on %s", in->group, h->name);
                        break;
                case SCHED_GROUP_AFFINITY:
                        if (affinity_host[in->group] >= 0 && affinity_host[in->group] != hi)
                                fail_msg("affinity group %d on %s and %s", in->group,
                                         w->hosts[affinity_host[in->group]].name, h->name);
                        affinity_host[in->group] = hi;
                        break;
                default:
                        break;
                }
        }
        for (int i = 0; i < N_HOSTS; i++) {
                const struct sched_host *h = &w->hosts[i];
                char *why = NULL;
                if (sched_host_check(&w->cfg, h, &why) < 0)
                        fail_msg("%s", why);
                assert_int_equal(h->used_vcpus, want[i].vcpus);
                assert_int_equal(h->used_ram_mib, want[i].ram);
                assert_int_equal(h->used_disk_gib, want[i].disk);
                assert_int_equal(h->instances, want[i].instances);
                assert_memory_equal(&h->pinned, &want[i].pinned, sizeof h->pinned);
                int64_t bound = 0;
                for (int k = 0; k < h->n_numa; k++) {
                        bound += h->numa[k].bound_ram_mib;
                        assert_int_equal(h->numa[k].hugepages_used_mib, want[i].hp[k]);
                }
                assert_int_equal(bound, want[i].bound);
        }
}

/* A fixed fill from empty: every flavor in turn, some in groups, until 200 placements are tried.
 * Leaves the instances live; returns the decisions in order in ret (NULL ones refused). */
static int fill(struct world *w, struct sched_decision *ret, bool *ok) {
        int n = 0;
        for (int k = 0; k < 200 && w->n_live < MAX_LIVE; k++) {
                struct inst in = { .flavor = k % N_FLAVORS, .group = k % 7 == 0 ? (k / 7) % N_GROUPS : -1, .hint = -1 };
                ok[n] = place(w, &in, -1);
                if (ok[n]) {
                        w->live[w->n_live++] = in;
                        ret[n] = in.d;
                }
                n++;
        }
        return n;
}

static void release_all(struct world *w) {
        while (w->n_live > 0)
                release(w, &w->live[--w->n_live]);
}

static void run(uint64_t seed, int steps, void (*tweak)(struct world *)) {
        static struct world w;
        static struct sched_decision first[256], again[256];
        static bool ok1[256], ok2[256];
        world_init(&w, seed);
        if (tweak)
                tweak(&w);

        int n1 = fill(&w, first, ok1);
        check_world(&w);
        release_all(&w);

        for (int step = 0; step < steps; step++) {
                int op = below(&w, 10);
                if (op < 5 || w.n_live == 0) { /* create */
                        if (w.n_live >= MAX_LIVE)
                                continue;
                        struct inst in = { .flavor = below(&w, N_FLAVORS),
                                           .group = below(&w, 3) == 0 ? below(&w, N_GROUPS) : -1,
                                           .hint = below(&w, 10) == 0 ? below(&w, 2) : -1 };
                        if (place(&w, &in, -1))
                                w.live[w.n_live++] = in;
                } else if (op < 8) { /* delete */
                        int i = below(&w, w.n_live);
                        release(&w, &w.live[i]);
                        w.live[i] = w.live[--w.n_live];
                } else { /* resize */
                        int i = below(&w, w.n_live);
                        struct inst old = w.live[i], in = old;
                        release(&w, &old);
                        in.flavor = below(&w, N_FLAVORS);
                        if (!place(&w, &in, i)) {
                                /* A failed resize keeps the instance as it was: its old claim
                                 * is booked again, exactly (check_world proves it fits). */
                                struct sched_request r = request_of(&old);
                                sched_claim(&w.hosts[old.d.host], &r, &old.d);
                                in = old;
                        }
                        w.live[i] = in;
                }
                check_world(&w);
        }
        assert_true(w.placed > steps / 4);
        if (getenv("TIDE_TEST_VERBOSE"))
                printf("seed %llu: %ld placed, %ld refused, %d live at the end\n", (unsigned long long) seed, w.placed,
                       w.refused, w.n_live);

        release_all(&w);
        check_world(&w);
        for (int i = 0; i < N_HOSTS; i++) {
                const struct sched_host *h = &w.hosts[i];
                assert_int_equal(h->used_vcpus + h->used_ram_mib + h->used_disk_gib + h->instances, 0);
                assert_int_equal(cpuset_count(&h->pinned), 0);
                for (int k = 0; k < h->n_numa; k++)
                        assert_int_equal(h->numa[k].bound_ram_mib + h->numa[k].hugepages_used_mib, 0);
        }
        int n2 = fill(&w, again, ok2);
        assert_int_equal(n1, n2);
        for (int k = 0; k < n1; k++) {
                assert_int_equal(ok1[k], ok2[k]);
                if (ok1[k] && !same_decision(&first[k], &again[k]))
                        fail_msg("seed %llu: fill item %d decided differently after the run", (unsigned long long) seed,
                                 k);
        }
        release_all(&w);
        json_decref(w.j);
}

static void pack(struct world *w) {
        w->cfg.mode = SCHED_PACK;
}

static void reserves(struct world *w) {
        w->cfg.reserved_cpus = 1;
        w->cfg.reserved_ram_mib = 512;
        w->cfg.w_load = 2.0;
}

static void spread_stays_within_policy(void **state) {
        for (uint64_t seed = 1; seed <= 4; seed++)
                run(seed, 800, NULL);
}

static void pack_stays_within_policy(void **state) {
        run(11, 800, pack);
}

static void cluster_reserves_stay_within_policy(void **state) {
        run(21, 800, reserves);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(spread_stays_within_policy),
                cmocka_unit_test(pack_stays_within_policy),
                cmocka_unit_test(cluster_reserves_stay_within_policy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
