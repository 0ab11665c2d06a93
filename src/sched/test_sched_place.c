/* Unit tests of the placement engine: each filter and weigher, pinning and NUMA, hugepages,
 * groups, hints, ties, the no-valid-host message, explanations and the JSON forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "sched/sched.h"

/* A snapshot of hosts from JSON; the hosts point into f->j. */
struct fixture {
        json_t *j;
        struct sched_host *hosts;
        size_t n;
        struct sched_config cfg;
};

static void load(struct fixture *f, const char *hosts_json) {
        json_error_t err;
        f->j = json_loads(hosts_json, 0, &err);
        if (!f->j)
                fail_msg("bad test JSON: %s", err.text);
        f->n = json_array_size(f->j);
        f->hosts = xcalloc(f->n ? f->n : 1, sizeof *f->hosts);
        for (size_t i = 0; i < f->n; i++) {
                char *e = NULL;
                if (sched_host_from_json(json_array_get(f->j, i), &f->hosts[i], &e) < 0)
                        fail_msg("host %zu: %s", i, e);
        }
        sched_config_default(&f->cfg);
}

static void unload(struct fixture *f) {
        free(f->hosts);
        json_decref(f->j);
}

/* A request from JSON; *holder keeps its strings. */
static struct sched_request request(const char *s, json_t **holder) {
        struct sched_request r;
        char *e = NULL;
        *holder = json_loads(s, 0, NULL);
        assert_non_null(*holder);
        if (sched_request_from_json(*holder, &r, &e) < 0)
                fail_msg("request: %s", e);
        return r;
}

/* Places the request; returns the host's name, or the error reason (in a static buffer). When
 * claim is true the decision is booked. d, when non-NULL, gets the decision. */
static const char *place_d(struct fixture *f, const char *req_json, bool claim, struct sched_decision *d) {
        static char out[512];
        json_t *holder;
        struct sched_request r = request(req_json, &holder);
        struct sched_decision dec = {};
        char *reason = NULL;
        int k = sched_place(&f->cfg, f->hosts, f->n, &r, &dec, NULL, &reason);
        if (k == 0) {
                snprintf(out, sizeof out, "%s", f->hosts[dec.host].name);
                if (claim)
                        sched_claim(&f->hosts[dec.host], &r, &dec);
                if (d)
                        *d = dec;
        } else {
                assert_int_equal(k, TIDE_E_NO_HOST);
                snprintf(out, sizeof out, "%s", reason);
                free(reason);
        }
        sched_request_clear(&r);
        json_decref(holder);
        return out;
}

static const char *place(struct fixture *f, const char *req_json) {
        return place_d(f, req_json, false, NULL);
}

static const char *place_claim(struct fixture *f, const char *req_json) {
        return place_d(f, req_json, true, NULL);
}

static void assert_checks(struct fixture *f) {
        for (size_t i = 0; i < f->n; i++) {
                char *why = NULL;
                if (sched_host_check(&f->cfg, &f->hosts[i], &why) < 0)
                        fail_msg("check: %s", why);
        }
}

#define H(name, rest) "{\"name\":\"" name "\",\"cpus\":8,\"mem_mib\":8192,\"disk_gib\":100" rest "}"
#define SMALL "{\"vcpus\":1,\"ram_mib\":512,\"disk_gib\":1}"

/* Filters. */

static void state_rejects_down_hosts(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"state\":\"down\"") "," H("b", "") "]");
        assert_string_equal(place(&f, SMALL), "b");
        f.hosts[1].up = false;
        assert_string_equal(place(&f, SMALL), "no valid host: 2 hosts; 2 rejected by state");
        unload(&f);
}

static void state_rejects_draining_hosts(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"draining\":true") "," H("b", ",\"mem_mib\":1024") "]");
        assert_string_equal(place(&f, SMALL), "b");
        unload(&f);
}

static void hint_host_picks_that_host(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "," H("b", ",\"mem_mib\":1024") "]");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"hints\":[\"host=b\"]}"), "b");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"hints\":[\"host=zz\"]}"),
                            "no valid host: 2 hosts; 2 rejected by hint");
        unload(&f);
}

static void hint_label_picks_matching_hosts(void **state) {
        struct fixture f;
        load(&f,
             "[" H("a", ",\"labels\":{\"zone\":\"hk-a\"}") "," H(
                     "b",
                     ",\"labels\":{\"zone\":\"hk-b\"},\"mem_mib\":1024") "," H("c",
                                                                               ",\"labels\":{\"zonex\":\"hk-b\"}") "]");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"hints\":[\"zone=hk-b\"]}"), "b");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"hints\":[\"zone=hk\"]}"),
                            "no valid host: 3 hosts; 3 rejected by hint");
        unload(&f);
}

static void hints_must_all_match(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"labels\":{\"zone\":\"z1\",\"ssd\":\"yes\"},\"mem_mib\":1024") "," H(
                         "b", ",\"labels\":{\"zone\":\"z1\"}") "]");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"hints\":[\"zone=z1\",\"ssd=yes\"]}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"hints\":[\"zone=z1\",\"host=a\",\"ssd=no\"]}"),
                            "no valid host: 2 hosts; 2 rejected by hint");
        unload(&f);
}

static void affinity_goes_where_a_member_is(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "," H("b", ",\"mem_mib\":1024") "]");
        assert_string_equal(place(&f,
                                  "{\"vcpus\":1,\"ram_mib\":1,\"group_policy\":\"affinity\",\"group_hosts\":[\"b\"]}"),
                            "b");
        unload(&f);
}

static void affinity_without_members_takes_any_host(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "," H("b", ",\"mem_mib\":1024") "]");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"group_policy\":\"affinity\",\"group_hosts\":[]}"),
                            "a");
        unload(&f);
}

static void anti_affinity_avoids_member_hosts(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "," H("b", ",\"mem_mib\":1024") "," H("c", ",\"mem_mib\":512") "]");
        assert_string_equal(
                place(&f,
                      "{\"vcpus\":1,\"ram_mib\":1,\"group_policy\":\"anti-affinity\",\"group_hosts\":[\"a\",\"a\"]}"),
                "b");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"group_policy\":\"anti-affinity\","
                                      "\"group_hosts\":[\"a\",\"b\",\"c\"]}"),
                            "no valid host: 3 hosts; 3 rejected by affinity");
        unload(&f);
}

static void cpu_overcommits_up_to_the_ratio(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "]"); /* 8 CPUs x 2.0 = 16 vCPUs */
        assert_string_equal(place_claim(&f, "{\"vcpus\":12,\"ram_mib\":1}"), "a");
        assert_string_equal(place_claim(&f, "{\"vcpus\":4,\"ram_mib\":1}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1}"), "no valid host: 1 host; 1 rejected by cpu");
        assert_checks(&f);
        unload(&f);
}

static void cpu_reserved_cpus_shrink_capacity(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"reserved_cpus\":2") "]"); /* (8 - 2) x 2.0 = 12 */
        assert_string_equal(place(&f, "{\"vcpus\":12,\"ram_mib\":1}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":13,\"ram_mib\":1}"), "no valid host: 1 host; 1 rejected by cpu");
        unload(&f);
}

static void cpu_host_ratio_overrides_the_cluster(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"cpu_ratio\":1.0") "," H("b", "") "]");
        f.cfg.cpu_ratio = 4.0;
        assert_string_equal(place(&f, "{\"vcpus\":9,\"ram_mib\":1,\"hints\":[\"host=a\"]}"),
                            "no valid host: 2 hosts; 1 rejected by hint, 1 by cpu");
        assert_string_equal(place(&f, "{\"vcpus\":32,\"ram_mib\":1}"), "b");
        unload(&f);
}

static void ram_overcommits_up_to_the_ratio(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"mem_mib\":1000") "]"); /* 1000 x 1.5 */
        assert_string_equal(place_claim(&f, "{\"vcpus\":1,\"ram_mib\":1000}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":500}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":501}"), "no valid host: 1 host; 1 rejected by ram");
        unload(&f);
}

static void ram_reserve_shrinks_capacity(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"mem_mib\":1000") "]");
        f.cfg.reserved_ram_mib = 200; /* (1000 - 200) x 1.5 = 1200 */
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1200}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1201}"), "no valid host: 1 host; 1 rejected by ram");
        unload(&f);
}

static void ram_of_dedicated_vms_is_not_overcommitted(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"mem_mib\":1000") "]");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1000,\"cpu_policy\":\"dedicated\"}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1001,\"cpu_policy\":\"dedicated\"}"),
                            "no valid host: 1 host; 1 rejected by ram");
        unload(&f);
}

static void bound_ram_shrinks_the_shared_pool(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"mem_mib\":1000") "]");
        assert_string_equal(place_claim(&f, "{\"vcpus\":1,\"ram_mib\":400,\"cpu_policy\":\"dedicated\"}"), "a");
        /* (1000 - 400) x 1.5 = 900 left for shared VMs */
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":900}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":901}"), "no valid host: 1 host; 1 rejected by ram");
        unload(&f);
}

static void dedicated_ram_must_not_squeeze_shared_vms(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"mem_mib\":1000") "]");
        assert_string_equal(place_claim(&f, "{\"vcpus\":1,\"ram_mib\":900}"), "a"); /* needs 600 physical */
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":400,\"cpu_policy\":\"dedicated\"}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":401,\"cpu_policy\":\"dedicated\"}"),
                            "no valid host: 1 host; 1 rejected by ram");
        unload(&f);
}

static void hugepages_vms_leave_small_pages_alone(void **state) {
        struct fixture f;
        load(&f,
             "[" H("a", ",\"mem_mib\":2000,\"numa\":[{\"cpus\":\"0-7\",\"mem_mib\":2000,\"hugepages_mib\":1000}]") "]");
        /* small pages: (2000 - 1000) x 1.5 = 1500 */
        assert_string_equal(place_claim(&f, "{\"vcpus\":1,\"ram_mib\":1000,\"hugepages\":true}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1500}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1501}"), "no valid host: 1 host; 1 rejected by ram");
        assert_checks(&f);
        unload(&f);
}

static void disk_is_checked_with_its_ratio(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "]");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"disk_gib\":100}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"disk_gib\":101}"),
                            "no valid host: 1 host; 1 rejected by disk");
        f.cfg.disk_ratio = 2.0;
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"disk_gib\":200}"), "a");
        unload(&f);
}

static void dedicated_needs_enough_free_cpus(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "]");
        assert_string_equal(place_claim(&f, "{\"vcpus\":6,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":3,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}"),
                            "no valid host: 1 host; 1 rejected by dedicated");
        assert_string_equal(place(&f, "{\"vcpus\":2,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}"), "a");
        unload(&f);
}

static void dedicated_keeps_room_for_the_shared_vcpus(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "]");
        assert_string_equal(place_claim(&f, "{\"vcpus\":10,\"ram_mib\":1}"), "a"); /* needs 5 CPUs at 2.0 */
        assert_string_equal(place(&f, "{\"vcpus\":3,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}"), "a");
        assert_string_equal(place(&f, "{\"vcpus\":4,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}"),
                            "no valid host: 1 host; 1 rejected by cpu");
        unload(&f);
}

#define TWO_NODES ",\"mem_mib\":4096,\"numa\":[{\"cpus\":\"0-3\",\"mem_mib\":2048},{\"cpus\":\"4-7\",\"mem_mib\":2048}]"

static void numa_rejects_a_vm_that_fits_a_node_but_finds_no_room(void **state) {
        struct fixture f;
        load(&f, "[" H("a", TWO_NODES) "]");
        assert_string_equal(place_claim(&f, "{\"vcpus\":3,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}"), "a");
        assert_string_equal(place_claim(&f, "{\"vcpus\":3,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}"), "a");
        /* one free CPU on each node: 2 vCPUs fit a node by size, but no node has room */
        assert_string_equal(place(&f, "{\"vcpus\":2,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}"),
                            "no valid host: 1 host; 1 rejected by numa");
        assert_string_equal(place(&f, "{\"vcpus\":3,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}"),
                            "no valid host: 1 host; 1 rejected by dedicated");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}"), "a");
        unload(&f);
}

static void numa_rejects_when_cpus_and_ram_are_on_different_nodes(void **state) {
        struct fixture f;
        load(&f, "[" H("a", TWO_NODES) "]");
        struct sched_decision d;
        assert_string_equal(place_d(&f, "{\"vcpus\":4,\"ram_mib\":100,\"cpu_policy\":\"dedicated\"}", true, &d), "a");
        assert_int_equal(d.numa_node, 0);
        assert_string_equal(place_d(&f, "{\"vcpus\":1,\"ram_mib\":1900,\"cpu_policy\":\"dedicated\"}", true, &d), "a");
        assert_int_equal(d.numa_node, 1);
        /* node 0: no CPUs; node 1: 3 CPUs, 148 MiB */
        assert_string_equal(place(&f, "{\"vcpus\":2,\"ram_mib\":1000,\"cpu_policy\":\"dedicated\"}"),
                            "no valid host: 1 host; 1 rejected by numa");
        unload(&f);
}

static void hugepages_rejects_hosts_without_them(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "]");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":512,\"hugepages\":true}"),
                            "no valid host: 1 host; 1 rejected by hugepages");
        unload(&f);
}

#define HP_NODES \
        ",\"mem_mib\":8192,\"numa\":[{\"cpus\":\"0-3\",\"mem_mib\":4096,\"hugepages_mib\":1024}," \
        "{\"cpus\":\"4-7\",\"mem_mib\":4096,\"hugepages_mib\":2048}]"

static void hugepages_rejects_when_not_enough_are_free(void **state) {
        struct fixture f;
        load(&f, "[" H("a", HP_NODES) "]");
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":3073,\"hugepages\":true}"),
                            "no valid host: 1 host; 1 rejected by hugepages");
        unload(&f);
}

static void hugepages_must_fit_one_node(void **state) {
        struct fixture f;
        load(&f, "[" H("a", HP_NODES) "]");
        /* 3072 free in all, but at most 2048 in one node */
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":3000,\"hugepages\":true}"),
                            "no valid host: 1 host; 1 rejected by numa");
        unload(&f);
}

static void hugepages_vm_binds_to_the_tightest_node(void **state) {
        struct fixture f;
        struct sched_decision d;
        load(&f, "[" H("a", HP_NODES) "]");
        assert_string_equal(place_d(&f, "{\"vcpus\":1,\"ram_mib\":1024,\"hugepages\":true}", true, &d), "a");
        assert_int_equal(d.numa_node, 0);
        assert_int_equal(d.n_pinned, 0);
        assert_int_equal(f.hosts[0].numa[0].hugepages_used_mib, 1024);
        assert_int_equal(f.hosts[0].used_vcpus, 1);
        assert_int_equal(f.hosts[0].used_ram_mib, 0);
        assert_string_equal(place_d(&f, "{\"vcpus\":1,\"ram_mib\":1024,\"hugepages\":true}", true, &d), "a");
        assert_int_equal(d.numa_node, 1);
        assert_checks(&f);
        unload(&f);
}

/* Pinning and NUMA. */

static void pinned_cpus_are_never_shared(void **state) {
        struct fixture f;
        struct sched_decision d1, d2;
        load(&f, "[" H("a", "") "]");
        place_d(&f, "{\"vcpus\":3,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}", true, &d1);
        place_d(&f, "{\"vcpus\":3,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}", true, &d2);
        assert_int_equal(d1.n_pinned, 3);
        assert_int_equal(d2.n_pinned, 3);
        for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                        assert_int_not_equal(d1.pinned[i], d2.pinned[j]);
        assert_int_equal(cpuset_count(&f.hosts[0].pinned), 6);
        unload(&f);
}

static void reserved_cpus_are_never_pinned(void **state) {
        struct fixture f;
        struct sched_decision d;
        load(&f, "[" H("a", ",\"reserved_cpus\":2") "]");
        place_d(&f, "{\"vcpus\":6,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}", true, &d);
        for (int i = 0; i < d.n_pinned; i++)
                assert_true(d.pinned[i] >= 2);
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}"),
                            "no valid host: 1 host; 1 rejected by dedicated");
        assert_checks(&f);
        unload(&f);
}

static void reserved_cpus_are_the_lowest_numbered(void **state) {
        struct fixture f;
        struct sched_decision d;
        load(&f, "[" H("a", TWO_NODES) "]");
        f.cfg.reserved_cpus = 1;
        place_d(&f, "{\"vcpus\":3,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}", true, &d);
        assert_int_equal(d.numa_node, 0); /* node 0 has 3 usable CPUs: the fullest that fits */
        assert_int_equal(d.pinned[0], 1);
        assert_int_equal(d.pinned[1], 2);
        assert_int_equal(d.pinned[2], 3);
        unload(&f);
}

static void shared_capacity_shrinks_as_cpus_get_pinned(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "]");
        assert_string_equal(place(&f, "{\"vcpus\":16,\"ram_mib\":1}"), "a");
        place_claim(&f, "{\"vcpus\":2,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}");
        assert_int_equal(f.hosts[0].used_vcpus, 0);
        assert_string_equal(place(&f, "{\"vcpus\":12,\"ram_mib\":1}"), "a"); /* (8 - 2) x 2.0 */
        assert_string_equal(place(&f, "{\"vcpus\":13,\"ram_mib\":1}"), "no valid host: 1 host; 1 rejected by cpu");
        unload(&f);
}

static void dedicated_prefers_the_fullest_node_that_fits(void **state) {
        struct fixture f;
        struct sched_decision d;
        load(&f, "[" H("a", TWO_NODES) "]");
        place_d(&f, "{\"vcpus\":1,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}", true, &d);
        assert_int_equal(d.numa_node, 0);
        place_d(&f, "{\"vcpus\":2,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}", true, &d);
        assert_int_equal(d.numa_node, 0); /* node 0 has 3 free, node 1 has 4 */
        assert_int_equal(d.pinned[0], 1);
        assert_int_equal(d.pinned[1], 2);
        place_d(&f, "{\"vcpus\":2,\"ram_mib\":1,\"cpu_policy\":\"dedicated\"}", true, &d);
        assert_int_equal(d.numa_node, 1); /* node 0 has 1 free only */
        assert_int_equal(d.pinned[0], 4);
        unload(&f);
}

static void dedicated_binds_its_memory_to_the_node(void **state) {
        struct fixture f;
        struct sched_decision d;
        load(&f, "[" H("a", TWO_NODES) "]");
        place_d(&f, "{\"vcpus\":4,\"ram_mib\":1024,\"cpu_policy\":\"dedicated\"}", true, &d);
        assert_int_equal(f.hosts[0].numa[d.numa_node].bound_ram_mib, 1024);
        assert_int_equal(f.hosts[0].used_ram_mib, 0);
        assert_int_equal(f.hosts[0].sum.bound_ram_mib, 1024);
        unload(&f);
}

static void dedicated_spreads_only_when_bigger_than_any_node(void **state) {
        struct fixture f;
        struct sched_decision d;
        load(&f, "[" H("a", TWO_NODES) "]");
        place_d(&f, "{\"vcpus\":6,\"ram_mib\":600,\"cpu_policy\":\"dedicated\"}", true, &d);
        assert_int_equal(d.numa_node, -1);
        assert_int_equal(d.n_pinned, 6);
        /* both nodes have 4 free: node 0 first (lowest index), then 2 CPUs of node 1 */
        int want[] = { 0, 1, 2, 3, 4, 5 };
        for (int i = 0; i < 6; i++)
                assert_int_equal(d.pinned[i], want[i]);
        /* RAM accounted by vCPUs per node: 400 and 200 */
        assert_int_equal(f.hosts[0].numa[0].bound_ram_mib, 400);
        assert_int_equal(f.hosts[0].numa[1].bound_ram_mib, 200);
        assert_checks(&f);
        unload(&f);
}

static void spread_needs_each_nodes_share_of_ram(void **state) {
        struct fixture f;
        load(&f, "[" H("a", TWO_NODES) "]");
        place_claim(&f, "{\"vcpus\":1,\"ram_mib\":1900,\"cpu_policy\":\"dedicated\"}"); /* on node 0 */
        /* 6 vCPUs: 4 on node 1 (most free CPUs first), 2 on node 0, which has 148 MiB left:
         * a third of 1200 does not fit there, a third of 290 does */
        assert_string_equal(place(&f, "{\"vcpus\":6,\"ram_mib\":1200,\"cpu_policy\":\"dedicated\"}"),
                            "no valid host: 1 host; 1 rejected by numa");
        assert_string_equal(place(&f, "{\"vcpus\":6,\"ram_mib\":290,\"cpu_policy\":\"dedicated\"}"), "a");
        unload(&f);
}

static void release_gives_everything_back(void **state) {
        struct fixture f;
        load(&f, "[" H("a", HP_NODES) "]");
        const char *reqs[] = {
                "{\"vcpus\":1,\"ram_mib\":300,\"disk_gib\":5}",
                "{\"vcpus\":2,\"ram_mib\":300,\"cpu_policy\":\"dedicated\"}",
                "{\"vcpus\":5,\"ram_mib\":700,\"cpu_policy\":\"dedicated\"}",
                "{\"vcpus\":1,\"ram_mib\":1024,\"hugepages\":true}",
        };
        struct sched_decision d[4];
        json_t *holder[4];
        struct sched_request r[4];
        for (int i = 0; i < 4; i++) {
                r[i] = request(reqs[i], &holder[i]);
                assert_int_equal(sched_place(&f.cfg, f.hosts, f.n, &r[i], &d[i], NULL, NULL), 0);
                sched_claim(&f.hosts[0], &r[i], &d[i]);
                assert_checks(&f);
        }
        for (int i = 3; i >= 0; i--) {
                sched_release(&f.hosts[0], &r[i], &d[i]);
                sched_request_clear(&r[i]);
                json_decref(holder[i]);
        }
        const struct sched_host *h = &f.hosts[0];
        assert_int_equal(h->used_vcpus + h->used_ram_mib + h->used_disk_gib + h->instances, 0);
        assert_int_equal(cpuset_count(&h->pinned), 0);
        for (int k = 0; k < h->n_numa; k++)
                assert_int_equal(h->numa[k].bound_ram_mib + h->numa[k].hugepages_used_mib, 0);
        assert_checks(&f);
        unload(&f);
}

/* Weighers. */

static void spread_prefers_free_ram(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"used\":{\"ram_mib\":4000}") "," H("b", ",\"used\":{\"ram_mib\":2000}") "]");
        assert_string_equal(place(&f, SMALL), "b");
        unload(&f);
}

static void spread_prefers_free_cpu(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"used\":{\"vcpus\":2}") "," H("b", ",\"used\":{\"vcpus\":6}") "]");
        assert_string_equal(place(&f, SMALL), "a");
        unload(&f);
}

static void pack_prefers_the_fullest_host(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"used\":{\"ram_mib\":4000,\"vcpus\":4}") "," H("b", ",\"used\":{\"ram_mib\":2000}") "]");
        f.cfg.mode = SCHED_PACK;
        assert_string_equal(place(&f, SMALL), "a");
        unload(&f);
}

static void load_prefers_the_less_loaded_host(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"load\":0.9") "," H("b", ",\"load\":0.2") "]");
        assert_string_equal(place(&f, SMALL), "b");
        unload(&f);
}

static void load_unknown_counts_as_half(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"load\":0.6") "," H("b", "") "," H("c", ",\"load\":0.4") "]");
        assert_string_equal(place(&f, SMALL), "c");
        f.hosts[2].load = 0.55;
        sched_host_sync(&f.hosts[2]);
        assert_string_equal(place(&f, SMALL), "b");
        unload(&f);
}

static void numa_weigher_prefers_a_host_where_the_vm_fits_one_node(void **state) {
        struct fixture f;
        /* b has more free RAM but its nodes are too small for 4 vCPUs */
        load(&f, "[" H("a", ",\"used\":{\"ram_mib\":100}") "," H(
                         "b", ",\"numa\":[{\"cpus\":\"0-1\",\"mem_mib\":2048},{\"cpus\":\"2-3\",\"mem_mib\":2048},"
                              "{\"cpus\":\"4-5\",\"mem_mib\":2048},{\"cpus\":\"6-7\",\"mem_mib\":2048}]") "]");
        assert_string_equal(place(&f, "{\"vcpus\":4,\"ram_mib\":1024}"), "a");
        f.cfg.w_numa = 0;
        assert_string_equal(place(&f, "{\"vcpus\":4,\"ram_mib\":1024}"), "b");
        unload(&f);
}

static void soft_affinity_prefers_member_hosts(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "," H("b", ",\"used\":{\"ram_mib\":6000}") "]");
        assert_string_equal(
                place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"group_policy\":\"soft-affinity\",\"group_hosts\":[\"b\"]}"),
                "b");
        unload(&f);
}

static void soft_anti_affinity_avoids_member_hosts(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "," H("b", ",\"used\":{\"ram_mib\":6000}") "]");
        assert_string_equal(
                place(&f,
                      "{\"vcpus\":1,\"ram_mib\":1,\"group_policy\":\"soft-anti-affinity\",\"group_hosts\":[\"a\"]}"),
                "b");
        /* but a host is still allowed when every host has a member */
        assert_string_equal(place(&f, "{\"vcpus\":1,\"ram_mib\":1,\"group_policy\":\"soft-anti-affinity\","
                                      "\"group_hosts\":[\"a\",\"b\",\"b\"]}"),
                            "a");
        unload(&f);
}

static void a_zero_multiplier_turns_a_weigher_off(void **state) {
        struct fixture f;
        load(&f, "[" H("b", ",\"used\":{\"ram_mib\":4000}") "," H("a", ",\"used\":{\"ram_mib\":2000}") "," H(
                         "c", ",\"used\":{\"vcpus\":4}") "]");
        f.cfg.w_ram = 0;
        f.cfg.w_cpu = 0;
        assert_string_equal(place(&f, SMALL), "a"); /* all tie: lowest name */
        unload(&f);
}

static void ties_go_to_the_lowest_name(void **state) {
        struct fixture f;
        load(&f, "[" H("n2", "") "," H("n10", "") "," H("n1", "") "]");
        assert_string_equal(place(&f, SMALL), "n1");
        unload(&f);
}

static void decisions_do_not_depend_on_host_order(void **state) {
        struct fixture f, g;
        load(&f, "[" H("x", "") "," H("y", "") "]");
        load(&g, "[" H("y", "") "," H("x", "") "]");
        for (int i = 0; i < 6; i++) {
                char a[64];
                snprintf(a, sizeof a, "%s", place_claim(&f, "{\"vcpus\":1,\"ram_mib\":700}"));
                assert_string_equal(a, place_claim(&g, "{\"vcpus\":1,\"ram_mib\":700}"));
        }
        unload(&f);
        unload(&g);
}

/* The no-valid-host message and explanations. */

static void reason_counts_hosts_under_their_first_failing_filter(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"mem_mib\":100") "," H("b", ",\"mem_mib\":100,\"cpus\":1") "," H("c", TWO_NODES) "]");
        /* c: 3 pinned on node 0, 2 on node 1: 3 CPUs free, at most 2 in a node */
        place_claim(&f, "{\"vcpus\":3,\"ram_mib\":1,\"cpu_policy\":\"dedicated\",\"hints\":[\"host=c\"]}");
        place_claim(&f, "{\"vcpus\":2,\"ram_mib\":1,\"cpu_policy\":\"dedicated\",\"hints\":[\"host=c\"]}");
        assert_string_equal(place(&f, "{\"vcpus\":3,\"ram_mib\":1024,\"cpu_policy\":\"dedicated\"}"),
                            "no valid host: 3 hosts; 2 rejected by ram, 1 by numa");
        unload(&f);
}

static void reason_with_one_host_and_with_none(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"state\":\"down\"") "]");
        assert_string_equal(place(&f, SMALL), "no valid host: 1 host; 1 rejected by state");
        f.n = 0;
        assert_string_equal(place(&f, SMALL), "no valid host: 0 hosts");
        unload(&f);
}

static void explain_names_the_filter_and_why(void **state) {
        struct fixture f;
        json_t *holder;
        load(&f, "[" H("a", ",\"mem_mib\":1000") "," H("b", ",\"state\":\"down\"") "," H("c", "") "]");
        struct sched_request r = request("{\"vcpus\":1,\"ram_mib\":2000}", &holder);
        struct sched_explain ex[3];
        struct sched_decision d;
        assert_int_equal(sched_place(&f.cfg, f.hosts, f.n, &r, &d, ex, NULL), 0);
        assert_int_equal(ex[0].rejected_by, SCHED_F_RAM);
        assert_string_equal(ex[0].detail, "needs 2000 MiB, 1500 of 1500 free");
        assert_int_equal(ex[1].rejected_by, SCHED_F_STATE);
        assert_string_equal(ex[1].detail, "host is down");
        assert_int_equal(ex[2].rejected_by, -1);
        assert_true(ex[2].score == d.score);
        assert_true(ex[2].weights[0] > 0 && ex[2].weights[1] > 0);
        sched_request_clear(&r);
        json_decref(holder);
        unload(&f);
}

static void explain_scores_add_up(void **state) {
        struct fixture f;
        json_t *holder;
        load(&f, "[" H("a", ",\"used\":{\"ram_mib\":4096,\"vcpus\":4},\"load\":0.5") "]");
        struct sched_request r = request("{\"vcpus\":4,\"ram_mib\":2048}", &holder);
        struct sched_explain ex[1];
        struct sched_decision d;
        assert_int_equal(sched_place(&f.cfg, f.hosts, f.n, &r, &d, ex, NULL), 0);
        /* RAM: 8192 x 1.5 = 12288, 6144 used after: 0.5; CPU: 16, 8 used after: 0.5 */
        assert_float_equal(ex[0].weights[0], 0.5, 1e-9);
        assert_float_equal(ex[0].weights[1], 0.5, 1e-9);
        assert_float_equal(ex[0].weights[2], 0.25, 1e-9);
        assert_float_equal(ex[0].weights[3], 0.2, 1e-9);
        assert_float_equal(ex[0].score, 1.45, 1e-9);
        sched_request_clear(&r);
        json_decref(holder);
        unload(&f);
}

static void explain_json_lists_passed_hosts_first(void **state) {
        struct fixture f;
        json_t *holder;
        load(&f, "[" H("a", ",\"state\":\"down\"") "," H("b", ",\"used\":{\"ram_mib\":4000}") "," H("c", "") "]");
        struct sched_request r = request(SMALL, &holder);
        struct sched_explain ex[3];
        struct sched_decision d;
        assert_int_equal(sched_place(&f.cfg, f.hosts, f.n, &r, &d, ex, NULL), 0);
        json_t *j = sched_explain_to_json(f.hosts, f.n, ex);
        assert_int_equal(json_array_size(j), 3);
        assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "host")), "c");
        assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "host")), "b");
        json_t *last = json_array_get(j, 2);
        assert_string_equal(json_string_value(json_object_get(last, "rejected_by")), "state");
        assert_true(json_is_null(json_object_get(last, "score")));
        json_decref(j);
        sched_request_clear(&r);
        json_decref(holder);
        unload(&f);
}

/* Requests, hosts by hand, the check. */

static void malformed_requests_are_invalid(void **state) {
        struct fixture f;
        load(&f, "[" H("a", "") "]");
        struct sched_request r = { .vcpus = 0, .ram_mib = 1 };
        struct sched_decision d;
        char *why = NULL;
        assert_int_equal(sched_place(&f.cfg, f.hosts, f.n, &r, &d, NULL, &why), TIDE_E_INVALID);
        free(why);
        r = (struct sched_request) { .vcpus = 1, .n_hints = 1, .hints = { "zone" } };
        assert_int_equal(sched_place(&f.cfg, f.hosts, f.n, &r, &d, NULL, NULL), TIDE_E_INVALID);
        r = (struct sched_request) { .vcpus = 300, .dedicated = true };
        assert_int_equal(sched_place(&f.cfg, f.hosts, f.n, &r, &d, NULL, NULL), TIDE_E_INVALID);
        unload(&f);
}

static void a_host_filled_by_hand_places_like_a_synced_one(void **state) {
        struct fixture f;
        load(&f, "[" H("a", ",\"used\":{\"ram_mib\":4000}") "," H("b", "") "]");
        struct sched_host byhand[2] = {
                { .name = "a",
                  .up = true,
                  .cpus = 8,
                  .mem_mib = 8192,
                  .disk_gib = 100,
                  .cpu_ratio = -1,
                  .ram_ratio = -1,
                  .disk_ratio = -1,
                  .reserved_cpus = -1,
                  .reserved_ram_mib = -1,
                  .load = -1,
                  .used_ram_mib = 4000 },
                { .name = "b",
                  .up = true,
                  .cpus = 8,
                  .mem_mib = 8192,
                  .disk_gib = 100,
                  .cpu_ratio = -1,
                  .ram_ratio = -1,
                  .disk_ratio = -1,
                  .reserved_cpus = -1,
                  .reserved_ram_mib = -1,
                  .load = -1 },
        };
        struct sched_request r = { .vcpus = 2, .ram_mib = 100, .dedicated = true };
        struct sched_decision d1, d2;
        assert_int_equal(sched_place(&f.cfg, f.hosts, f.n, &r, &d1, NULL, NULL), 0);
        assert_int_equal(sched_place(&f.cfg, byhand, 2, &r, &d2, NULL, NULL), 0);
        assert_int_equal(d1.host, d2.host);
        assert_true(d1.score == d2.score);
        assert_int_equal(d1.n_pinned, d2.n_pinned);
        assert_int_equal(d1.pinned[0], d2.pinned[0]);
        unload(&f);
}

static void check_reports_overcommit(void **state) {
        struct fixture f;
        char *why = NULL;
        load(&f, "[" H("a", ",\"used\":{\"vcpus\":17}") "]");
        assert_int_equal(sched_host_check(&f.cfg, &f.hosts[0], &why), TIDE_E_CONFLICT);
        assert_string_equal(why, "a: 17 shared vCPUs on 8 CPUs at ratio 2");
        free(why);
        unload(&f);
}

static void check_reports_a_reserved_cpu_pinned(void **state) {
        struct fixture f;
        char *why = NULL;
        load(&f, "[" H("a", ",\"reserved_cpus\":2,\"used\":{\"pinned\":\"1-2\"}") "]");
        assert_int_equal(sched_host_check(&f.cfg, &f.hosts[0], &why), TIDE_E_CONFLICT);
        assert_string_equal(why, "a: CPU 1 is reserved and pinned");
        free(why);
        unload(&f);
}

/* JSON forms. */

static void host_json_defaults_to_one_node(void **state) {
        struct fixture f;
        load(&f, "[{\"name\":\"a\",\"cpus\":4,\"mem_mib\":100}]");
        const struct sched_host *h = &f.hosts[0];
        assert_true(h->up);
        assert_int_equal(h->n_numa, 1);
        assert_int_equal(cpuset_count(&h->numa[0].cpus), 4);
        assert_int_equal(h->numa[0].mem_mib, 100);
        assert_int_equal(h->disk_gib, 0);
        assert_true(h->cpu_ratio < 0 && h->reserved_cpus < 0 && h->load < 0);
        unload(&f);
}

static void host_json_rejects_bad_members(void **state) {
        const char *bad[] = {
                "{\"cpus\":4,\"mem_mib\":1}",
                "{\"name\":\"a\",\"mem_mib\":1}",
                "{\"name\":\"a\",\"cpus\":4,\"mem_mib\":1,\"state\":\"sideways\"}",
                "{\"name\":\"a\",\"cpus\":4,\"mem_mib\":1,\"numa\":[{\"cpus\":\"0-1\",\"mem_mib\":1},{\"cpus\":\"1\",\"mem_mib\":1}]}",
                "{\"name\":\"a\",\"cpus\":4,\"mem_mib\":1,\"numa\":[{\"cpus\":\"0-1\",\"mem_mib\":1,\"hugepages_mib\":2}]}",
                "{\"name\":\"a\",\"cpus\":4,\"mem_mib\":1,\"labels\":{\"zone\":3}}",
                "{\"name\":\"a\",\"cpus\":4,\"mem_mib\":1,\"used\":{\"pinned\":\"x\"}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_t *j = json_loads(bad[i], 0, NULL);
                struct sched_host h;
                char *err = NULL;
                assert_int_equal(sched_host_from_json(j, &h, &err), TIDE_E_INVALID);
                assert_non_null(err);
                free(err);
                json_decref(j);
        }
}

static void usage_json_round_trips(void **state) {
        struct fixture f;
        load(&f, "[" H("a", HP_NODES) "]");
        place_claim(&f, "{\"vcpus\":2,\"ram_mib\":300,\"cpu_policy\":\"dedicated\",\"disk_gib\":3}");
        place_claim(&f, "{\"vcpus\":1,\"ram_mib\":100,\"hugepages\":true}");
        place_claim(&f, "{\"vcpus\":3,\"ram_mib\":700}");
        json_t *u = sched_host_usage_to_json(&f.hosts[0]);
        char *s = json_dumps(u, JSON_COMPACT);
        assert_string_equal(s, "{\"vcpus\":4,\"ram_mib\":700,\"disk_gib\":3,\"pinned\":\"0-1\",\"instances\":3,"
                               "\"numa\":[{\"bound_ram_mib\":300,\"hugepages_used_mib\":100},"
                               "{\"bound_ram_mib\":0,\"hugepages_used_mib\":0}]}");
        json_t *h = json_deep_copy(json_array_get(f.j, 0));
        json_object_set(h, "used", u);
        struct sched_host back;
        assert_int_equal(sched_host_from_json(h, &back, NULL), 0);
        json_t *u2 = sched_host_usage_to_json(&back);
        assert_true(json_equal(u, u2));
        assert_int_equal(back.sum.bound_ram_mib, 300);
        assert_int_equal(back.sum.n_pinned, 2);
        free(s);
        json_decref(u);
        json_decref(u2);
        json_decref(h);
        unload(&f);
}

static void decisions_round_trip_through_json(void **state) {
        struct fixture f;
        struct sched_decision d, back;
        load(&f, "[" H("a", TWO_NODES) "]");
        place_d(&f, "{\"vcpus\":2,\"ram_mib\":300,\"cpu_policy\":\"dedicated\"}", false, &d);
        json_t *j = sched_decision_to_json(f.hosts, &d);
        assert_string_equal(json_string_value(json_object_get(j, "host")), "a");
        assert_int_equal(sched_decision_from_json(j, &back), 0);
        assert_int_equal(back.host, -1);
        assert_int_equal(back.numa_node, d.numa_node);
        assert_int_equal(back.n_pinned, 2);
        assert_int_equal(back.pinned[1], d.pinned[1]);
        json_decref(j);
        unload(&f);
}

static void numa_node_ids_are_the_hosts_own(void **state) {
        struct fixture f;
        struct sched_decision d;
        load(&f, "[" H("a", ",\"numa\":[{\"id\":2,\"cpus\":\"0-7\",\"mem_mib\":8192}]") "]");
        place_d(&f, "{\"vcpus\":2,\"ram_mib\":300,\"cpu_policy\":\"dedicated\"}", true, &d);
        assert_int_equal(d.numa_node, 2);
        assert_int_equal(f.hosts[0].numa[0].bound_ram_mib, 300);
        unload(&f);
}

static void config_json_sets_what_it_names(void **state) {
        struct sched_config c;
        json_t *j = json_loads("{\"cpu_ratio\":4,\"mode\":\"pack\",\"weights\":{\"load\":2.5},\"other\":1}", 0, NULL);
        assert_int_equal(sched_config_from_json(j, &c, NULL), 0);
        assert_float_equal(c.cpu_ratio, 4.0, 0);
        assert_float_equal(c.ram_ratio, 1.5, 0);
        assert_int_equal(c.mode, SCHED_PACK);
        assert_float_equal(c.w_load, 2.5, 0);
        assert_float_equal(c.w_soft_affinity, 10.0, 0);
        json_decref(j);
        j = json_loads("{\"mode\":\"random\"}", 0, NULL);
        char *err = NULL;
        assert_int_equal(sched_config_from_json(j, &c, &err), TIDE_E_INVALID);
        free(err);
        json_decref(j);
}

static void names_of_filters_and_policies(void **state) {
        const char *want[] = { "state", "hint", "affinity", "cpu", "ram", "disk", "dedicated", "numa", "hugepages" };
        for (int f = 0; f < SCHED_F_MAX; f++)
                assert_string_equal(sched_filter_name(f), want[f]);
        assert_int_equal(sched_group_policy_from_string("soft-anti-affinity"), SCHED_GROUP_SOFT_ANTI_AFFINITY);
        assert_string_equal(sched_group_policy_name(SCHED_GROUP_ANTI_AFFINITY), "anti-affinity");
        assert_int_equal(sched_group_policy_from_string("nope"), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(state_rejects_down_hosts),
                cmocka_unit_test(state_rejects_draining_hosts),
                cmocka_unit_test(hint_host_picks_that_host),
                cmocka_unit_test(hint_label_picks_matching_hosts),
                cmocka_unit_test(hints_must_all_match),
                cmocka_unit_test(affinity_goes_where_a_member_is),
                cmocka_unit_test(affinity_without_members_takes_any_host),
                cmocka_unit_test(anti_affinity_avoids_member_hosts),
                cmocka_unit_test(cpu_overcommits_up_to_the_ratio),
                cmocka_unit_test(cpu_reserved_cpus_shrink_capacity),
                cmocka_unit_test(cpu_host_ratio_overrides_the_cluster),
                cmocka_unit_test(ram_overcommits_up_to_the_ratio),
                cmocka_unit_test(ram_reserve_shrinks_capacity),
                cmocka_unit_test(ram_of_dedicated_vms_is_not_overcommitted),
                cmocka_unit_test(bound_ram_shrinks_the_shared_pool),
                cmocka_unit_test(dedicated_ram_must_not_squeeze_shared_vms),
                cmocka_unit_test(hugepages_vms_leave_small_pages_alone),
                cmocka_unit_test(disk_is_checked_with_its_ratio),
                cmocka_unit_test(dedicated_needs_enough_free_cpus),
                cmocka_unit_test(dedicated_keeps_room_for_the_shared_vcpus),
                cmocka_unit_test(numa_rejects_a_vm_that_fits_a_node_but_finds_no_room),
                cmocka_unit_test(numa_rejects_when_cpus_and_ram_are_on_different_nodes),
                cmocka_unit_test(hugepages_rejects_hosts_without_them),
                cmocka_unit_test(hugepages_rejects_when_not_enough_are_free),
                cmocka_unit_test(hugepages_must_fit_one_node),
                cmocka_unit_test(hugepages_vm_binds_to_the_tightest_node),
                cmocka_unit_test(pinned_cpus_are_never_shared),
                cmocka_unit_test(reserved_cpus_are_never_pinned),
                cmocka_unit_test(reserved_cpus_are_the_lowest_numbered),
                cmocka_unit_test(shared_capacity_shrinks_as_cpus_get_pinned),
                cmocka_unit_test(dedicated_prefers_the_fullest_node_that_fits),
                cmocka_unit_test(dedicated_binds_its_memory_to_the_node),
                cmocka_unit_test(dedicated_spreads_only_when_bigger_than_any_node),
                cmocka_unit_test(spread_needs_each_nodes_share_of_ram),
                cmocka_unit_test(release_gives_everything_back),
                cmocka_unit_test(spread_prefers_free_ram),
                cmocka_unit_test(spread_prefers_free_cpu),
                cmocka_unit_test(pack_prefers_the_fullest_host),
                cmocka_unit_test(load_prefers_the_less_loaded_host),
                cmocka_unit_test(load_unknown_counts_as_half),
                cmocka_unit_test(numa_weigher_prefers_a_host_where_the_vm_fits_one_node),
                cmocka_unit_test(soft_affinity_prefers_member_hosts),
                cmocka_unit_test(soft_anti_affinity_avoids_member_hosts),
                cmocka_unit_test(a_zero_multiplier_turns_a_weigher_off),
                cmocka_unit_test(ties_go_to_the_lowest_name),
                cmocka_unit_test(decisions_do_not_depend_on_host_order),
                cmocka_unit_test(reason_counts_hosts_under_their_first_failing_filter),
                cmocka_unit_test(reason_with_one_host_and_with_none),
                cmocka_unit_test(explain_names_the_filter_and_why),
                cmocka_unit_test(explain_scores_add_up),
                cmocka_unit_test(explain_json_lists_passed_hosts_first),
                cmocka_unit_test(malformed_requests_are_invalid),
                cmocka_unit_test(a_host_filled_by_hand_places_like_a_synced_one),
                cmocka_unit_test(check_reports_overcommit),
                cmocka_unit_test(check_reports_a_reserved_cpu_pinned),
                cmocka_unit_test(host_json_defaults_to_one_node),
                cmocka_unit_test(host_json_rejects_bad_members),
                cmocka_unit_test(usage_json_round_trips),
                cmocka_unit_test(decisions_round_trip_through_json),
                cmocka_unit_test(numa_node_ids_are_the_hosts_own),
                cmocka_unit_test(config_json_sets_what_it_names),
                cmocka_unit_test(names_of_filters_and_policies),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
