/* test_hv_sim.c — the simulated hypervisor driver: its URI, host model, lifecycle and locking. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>

#include "agent/hv.h"
#include "common/errors.h"
#include "common/util.h"

static const struct hv_driver *const d = &hv_sim_driver;

#define UUID1 "2f1c4a9e-3b7d-4c8e-9a1f-0123456789ab"
#define UUID2 "2f1c4a9e-3b7d-4c8e-9a1f-0123456789ac"

/* clang-format off: one line per group of fields or of cases reads better here */
static struct hv_domain_spec spec(const char *uuid, const char *name) {
        return (struct hv_domain_spec) {
                .uuid = uuid,
                .name = name,
                .vcpus = 2,
                .max_vcpus = 4,
                .ram_mib = 512,
                .max_ram_mib = 1024,
        };
}
/* clang-format on */

static struct hv_conn *open_ok(const char *uri) {
        struct hv_conn *c = NULL;
        int r = d->open(uri, NULL, &c);
        if (r < 0)
                fail_msg("open(%s): %s (%s)", uri, tide_strerror(r), hv_last_error());
        assert_ptr_equal(hv_conn_driver(c), d);
        return c;
}

/* The URI's parameters become the host: CPUs, memory and hugepages split over the nodes. */
static void test_open_host_shape(void **state) {
        struct hv_conn *c = open_ok("sim:///rack1-h07?cpus=64&numa=2&mem_mib=262144&hugepages_mib=8192&disk_gib=2000");
        struct hv_host_info h = {};
        assert_int_equal(d->host_info(c, &h), 0);
        assert_string_equal(h.hostname, "rack1-h07");
        assert_string_equal(h.accel, "sim");
        assert_string_equal(h.uri, "sim:///rack1-h07?cpus=64&numa=2&mem_mib=262144&hugepages_mib=8192&disk_gib=2000");
        assert_int_equal(h.cpus, 64);
        assert_int_equal(h.sockets, 2);
        assert_int_equal(h.cores, 32);
        assert_int_equal(h.threads, 1);
        assert_int_equal(h.mem_mib, 262144);
        assert_int_equal(h.disk_gib, 2000);
        assert_int_equal(h.n_numa, 2);
        assert_int_equal(h.numa_nodes, 2);
        assert_int_equal(h.numa[0].id, 0);
        assert_string_equal(h.numa[0].cpus, "0-31");
        assert_int_equal(h.numa[0].mem_mib, 131072);
        assert_int_equal(h.numa[0].hugepages_mib, 4096);
        assert_int_equal(h.numa[1].id, 1);
        assert_string_equal(h.numa[1].cpus, "32-63");
        assert_int_equal(h.numa[1].mem_mib, 131072);
        assert_int_equal(h.numa[1].hugepages_mib, 4096);
        hv_host_info_clear(&h);
        d->close(c);
}

/* Missing parameters take the defaults; the URI reported names them all. */
static void test_open_defaults(void **state) {
        struct hv_conn *c = open_ok("sim:///h1");
        struct hv_host_info h = {};
        assert_int_equal(d->host_info(c, &h), 0);
        assert_string_equal(h.uri, "sim:///h1?cpus=64&numa=1&mem_mib=262144&hugepages_mib=0&disk_gib=2000");
        assert_int_equal(h.n_numa, 1);
        assert_string_equal(h.numa[0].cpus, "0-63");
        assert_int_equal(h.numa[0].hugepages_mib, 0);
        hv_host_info_clear(&h);
        d->close(c);

        c = open_ok("sim:///h2?numa=4&mem_mib=1026&hugepages_mib=6&cpus=4");
        assert_int_equal(d->host_info(c, &h), 0);
        assert_int_equal(h.n_numa, 4);
        assert_string_equal(h.numa[3].cpus, "3");
        /* Remainders go to the lowest nodes, in MiB and in whole 2 MiB pages. */
        assert_int_equal(h.numa[0].mem_mib, 257);
        assert_int_equal(h.numa[1].mem_mib, 257);
        assert_int_equal(h.numa[2].mem_mib, 256);
        assert_int_equal(h.numa[0].hugepages_mib, 2);
        assert_int_equal(h.numa[2].hugepages_mib, 2);
        assert_int_equal(h.numa[3].hugepages_mib, 0);
        hv_host_info_clear(&h);
        d->close(c);
}

/* Malformed URIs and out-of-range values fail with TIDE_E_INVALID and a message. */
static void test_open_bad_uris(void **state) {
        /* clang-format off */
        static const char *const bad[] = {
                "sim://h1", "qemu:///system", "sim:///", "sim:///?cpus=4", "sim:///a/b", "sim:///a b",
                "sim:///h1?cpus=0", "sim:///h1?cpus=1025", "sim:///h1?cpus=-4", "sim:///h1?cpus=4x",
                "sim:///h1?cpus=", "sim:///h1?cpus", "sim:///h1?cpus=4&cpus=8", "sim:///h1?gpus=1",
                "sim:///h1?cpus=6&numa=4", "sim:///h1?numa=0", "sim:///h1?numa=65", "sim:///h1?mem_mib=100",
                "sim:///h1?mem_mib=4096&hugepages_mib=4098", "sim:///h1?hugepages_mib=3",
                "sim:///h1?disk_gib=-1", "sim:///h1?cpus=4&", "sim:///h1?&cpus=4",
                "sim:///h1?cpus=99999999999999999999",
                "sim:///0123456789012345678901234567890123456789012345678901234567890123",
        };
        /* clang-format on */
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct hv_conn *c = (struct hv_conn *) 0x1;
                int r = d->open(bad[i], "/tmp", &c);
                if (r != TIDE_E_INVALID)
                        fail_msg("open(%s) returned %d, not TIDE_E_INVALID", bad[i], r);
                assert_ptr_equal(c, (struct hv_conn *) 0x1);
                assert_true(*hv_last_error());
        }
        struct hv_conn *c = NULL;
        assert_int_equal(d->open(NULL, "/tmp", &c), TIDE_E_INVALID);
        assert_null(c);
}

/* define, start, shutdown, destroy, reboot and undefine with hv.h's idempotence and codes. */
static void test_lifecycle(void **state) {
        struct hv_conn *c = open_ok("sim:///h1?cpus=8");
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        struct hv_domain_info di = {};

        assert_int_equal(d->start(c, UUID1), TIDE_E_NOT_FOUND);
        assert_int_equal(d->shutdown(c, UUID1, 0), TIDE_E_NOT_FOUND);
        assert_int_equal(d->destroy(c, UUID1), TIDE_E_NOT_FOUND);
        assert_int_equal(d->reboot(c, UUID1), TIDE_E_NOT_FOUND);
        assert_int_equal(d->domain_info(c, UUID1, &di), TIDE_E_NOT_FOUND);
        assert_int_equal(d->undefine(c, UUID1), 0);

        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->domain_info(c, UUID1, &di), 0);
        assert_string_equal(di.uuid, UUID1);
        assert_string_equal(di.name, "tide-a");
        assert_int_equal(di.state, HV_STATE_SHUTOFF);
        assert_true(di.persistent);
        assert_int_equal(di.vcpus, 2);
        assert_int_equal(di.mem_kib, 512 * 1024);
        assert_int_equal(di.max_mem_kib, 1024 * 1024);
        hv_domain_info_clear(&di);

        assert_int_equal(d->reboot(c, UUID1), TIDE_E_CONFLICT);
        assert_int_equal(d->shutdown(c, UUID1, 1000), 0);
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(d->start(c, UUID1), 0);
        assert_int_equal(d->start(c, UUID1), 0);
        assert_int_equal(d->domain_info(c, UUID1, &di), 0);
        assert_int_equal(di.state, HV_STATE_RUNNING);
        assert_int_equal(di.cpu_time_ns, 0);
        hv_domain_info_clear(&di);
        assert_int_equal(d->reboot(c, UUID1), 0);
        assert_int_equal(d->shutdown(c, UUID1, -1), TIDE_E_INVALID);
        assert_int_equal(d->shutdown(c, UUID1, 0), 0); /* the guest obeyed */
        assert_int_equal(d->domain_info(c, UUID1, &di), 0);
        assert_int_equal(di.state, HV_STATE_SHUTOFF);
        hv_domain_info_clear(&di);
        assert_int_equal(d->start(c, UUID1), 0);
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(d->start(c, UUID1), 0);
        assert_int_equal(d->undefine(c, UUID1), 0); /* running: powered off first */
        assert_int_equal(d->undefine(c, UUID1), 0);
        assert_int_equal(d->domain_info(c, UUID1, &di), TIDE_E_NOT_FOUND);
        assert_int_equal(d->start(c, NULL), TIDE_E_INVALID);
        d->close(c);
}

/* A running domain keeps what it was started with until it is next started. */
static void test_redefine_applies_at_next_start(void **state) {
        struct hv_conn *c = open_ok("sim:///h1?cpus=8&numa=2");
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->start(c, UUID1), 0);
        static const int pins[2] = { 6, 7 };
        s.vcpus = s.max_vcpus = 2;
        s.pin_cpus = pins;
        s.n_pin_cpus = 2;
        s.has_numa_node = true;
        s.numa_node = 1;
        assert_int_equal(d->define(c, &s), 0);

        struct hv_sim_domain sd;
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);
        assert_int_equal(sd.state, HV_STATE_RUNNING);
        assert_int_equal(sd.max_vcpus, 4);
        assert_int_equal(sd.n_pin_cpus, 0);
        assert_false(sd.has_numa_node);

        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0); /* off: the definition */
        assert_int_equal(sd.state, HV_STATE_SHUTOFF);
        assert_int_equal(sd.n_pin_cpus, 2);
        assert_int_equal(d->start(c, UUID1), 0);
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);
        assert_int_equal(sd.max_vcpus, 2);
        assert_int_equal(sd.n_pin_cpus, 2);
        assert_int_equal(sd.pin_cpus[0], 6);
        assert_int_equal(sd.pin_cpus[1], 7);
        assert_true(sd.has_numa_node);
        assert_int_equal(sd.numa_node, 1);
        assert_false(sd.hugepages);
        assert_int_equal(sd.ram_mib, 512);
        d->close(c);
}

/* The spec is copied: the caller's pin array can go away after define(). */
static void test_define_copies_spec(void **state) {
        struct hv_conn *c = open_ok("sim:///h1?cpus=8");
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        int *pins = xmalloc(4 * sizeof *pins);
        for (int i = 0; i < 4; i++)
                pins[i] = 4 + i;
        s.pin_cpus = pins;
        s.n_pin_cpus = 4;
        assert_int_equal(d->define(c, &s), 0);
        free(pins);
        assert_int_equal(d->start(c, UUID1), 0);
        struct hv_sim_domain sd;
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);
        assert_int_equal(sd.pin_cpus[3], 7);
        d->close(c);
}

/* define() validates as hv_domain_xml() does, but needs no files; names and UUIDs are unique. */
static void test_define_invalid_and_clashes(void **state) {
        struct hv_conn *c = open_ok("sim:///h1");
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        s.name = "a";
        assert_int_equal(d->define(c, &s), TIDE_E_INVALID);
        s = spec(UUID1, "tide-a");
        s.numa_node = 1; /* without has_numa_node */
        assert_int_equal(d->define(c, &s), TIDE_E_INVALID);
        s = spec(UUID1, "tide-a");
        s.disk_path = "relative"; /* ignored by a virtual driver */
        assert_int_equal(d->define(c, &s), 0);

        struct hv_domain_spec other = spec(UUID2, "tide-a");
        assert_int_equal(d->define(c, &other), TIDE_E_EXISTS);
        other = spec(UUID1, "tide-b");
        assert_int_equal(d->define(c, &other), TIDE_E_EXISTS);
        other = spec(UUID2, "tide-b");
        assert_int_equal(d->define(c, &other), 0);
        assert_int_equal(hv_sim_domain_get(c, UUID2, &(struct hv_sim_domain) {}), 0);
        assert_int_equal(hv_sim_domain_get(c, "nope", &(struct hv_sim_domain) {}), TIDE_E_NOT_FOUND);
        d->close(c);
}

/* start() refuses what the host lacks, as libvirt does: CPUs, NUMA nodes, hugepages. */
static void test_start_checks_host(void **state) {
        struct hv_conn *c = open_ok("sim:///h1?cpus=8&numa=2&mem_mib=8192&hugepages_mib=2048");
        static const int pins[4] = { 0, 1, 2, 8 };
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        s.pin_cpus = pins;
        s.n_pin_cpus = 4;
        assert_int_equal(d->define(c, &s), 0); /* define does not look at the host */
        assert_int_equal(d->start(c, UUID1), TIDE_E_BACKEND);
        assert_non_null(strstr(hv_last_error(), "CPU 8"));

        s = spec(UUID1, "tide-a");
        s.has_numa_node = true;
        s.numa_node = 2;
        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->start(c, UUID1), TIDE_E_BACKEND);

        /* 1 GiB of hugepages per node: a bound domain takes from its node only. */
        s.numa_node = 1;
        s.hugepages = true;
        s.ram_mib = s.max_ram_mib = 1024;
        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->start(c, UUID1), 0);
        struct hv_domain_spec s2 = spec(UUID2, "tide-b");
        s2.has_numa_node = true;
        s2.numa_node = 1;
        s2.hugepages = true;
        s2.ram_mib = s2.max_ram_mib = 16;
        assert_int_equal(d->define(c, &s2), 0);
        assert_int_equal(d->start(c, UUID2), TIDE_E_BACKEND);
        assert_int_equal(d->destroy(c, UUID1), 0); /* gives them back */
        assert_int_equal(d->start(c, UUID2), 0);
        assert_int_equal(d->start(c, UUID1), TIDE_E_BACKEND);
        assert_int_equal(d->undefine(c, UUID2), 0); /* so does undefine */
        assert_int_equal(d->start(c, UUID1), 0);

        /* An unbound domain takes from the nodes in order: node 0's 1 GiB and 512 MiB more. */
        assert_int_equal(d->destroy(c, UUID1), 0);
        s2 = spec(UUID2, "tide-b");
        s2.hugepages = true;
        s2.ram_mib = s2.max_ram_mib = 1536;
        assert_int_equal(d->define(c, &s2), 0);
        assert_int_equal(d->start(c, UUID2), 0);
        assert_int_equal(d->start(c, UUID1), TIDE_E_BACKEND); /* node 1 has 512 MiB left */
        assert_int_equal(d->shutdown(c, UUID2, 0), 0);
        assert_int_equal(d->start(c, UUID1), 0);
        d->close(c);
}

static const char *cpuset_of(struct hv_conn *c, const char *uuid, struct hv_sim_domain *sd) {
        assert_int_equal(hv_sim_domain_get(c, uuid, sd), 0);
        return sd->cpuset;
}

/* The spec's cpuset is kept (copied), and set_cpuset() changes it in the definition and, while
 * the domain runs, in its running configuration; idempotent. */
static void test_set_cpuset(void **state) {
        struct hv_conn *c = open_ok("sim:///h1?cpus=8");
        struct hv_sim_domain sd;
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        char *list = xstrdup("0-3");
        s.cpuset = list;
        assert_int_equal(d->define(c, &s), 0);
        free(list);
        assert_string_equal(cpuset_of(c, UUID1, &sd), "0-3");

        assert_int_equal(d->set_cpuset(c, UUID1, "4-7"), 0); /* off: the definition */
        assert_string_equal(cpuset_of(c, UUID1, &sd), "4-7");
        assert_int_equal(d->start(c, UUID1), 0);
        assert_string_equal(cpuset_of(c, UUID1, &sd), "4-7");
        assert_int_equal(d->set_cpuset(c, UUID1, "2,5-6"), 0); /* running: moved at once */
        assert_string_equal(cpuset_of(c, UUID1, &sd), "2,5-6");
        assert_int_equal(d->set_cpuset(c, UUID1, "2,5-6"), 0);
        assert_string_equal(cpuset_of(c, UUID1, &sd), "2,5-6");
        assert_int_equal(d->destroy(c, UUID1), 0); /* and kept in the definition */
        assert_string_equal(cpuset_of(c, UUID1, &sd), "2,5-6");

        /* A redefinition replaces it, and applies at the next start as the rest does. */
        assert_int_equal(d->start(c, UUID1), 0);
        s.cpuset = NULL;
        assert_int_equal(d->define(c, &s), 0);
        assert_string_equal(cpuset_of(c, UUID1, &sd), "2,5-6");
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_string_equal(cpuset_of(c, UUID1, &sd), "");
        d->close(c);
}

/* A pinned domain keeps its pins: only its emulator's list changes. */
static void test_set_cpuset_pinned(void **state) {
        struct hv_conn *c = open_ok("sim:///h1?cpus=8");
        static const int pins[4] = { 4, 5, 6, 7 };
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        s.pin_cpus = pins;
        s.n_pin_cpus = 4;
        s.cpuset = "0-3";
        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->start(c, UUID1), 0);
        assert_int_equal(d->set_cpuset(c, UUID1, "0-2"), 0);
        struct hv_sim_domain sd;
        assert_string_equal(cpuset_of(c, UUID1, &sd), "0-2");
        assert_int_equal(sd.n_pin_cpus, 4);
        assert_int_equal(sd.pin_cpus[0], 4);
        assert_int_equal(sd.pin_cpus[3], 7);
        d->close(c);
}

/* Bad lists, unknown domains and CPUs the host lacks fail, and nothing changes. */
static void test_set_cpuset_errors(void **state) {
        struct hv_conn *c = open_ok("sim:///h1?cpus=8");
        struct hv_sim_domain sd;
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        s.cpuset = "1";
        assert_int_equal(d->set_cpuset(c, UUID1, "0"), TIDE_E_NOT_FOUND);
        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->set_cpuset(c, UUID1, NULL), TIDE_E_INVALID);
        assert_int_equal(d->set_cpuset(c, UUID1, ""), TIDE_E_INVALID);
        assert_int_equal(d->set_cpuset(c, UUID1, "1-"), TIDE_E_INVALID);
        assert_int_equal(d->set_cpuset(c, UUID1, "1024"), TIDE_E_INVALID);
        assert_int_equal(d->set_cpuset(c, NULL, "0"), TIDE_E_INVALID);
        assert_int_equal(d->set_cpuset(c, UUID1, "0,8"), TIDE_E_BACKEND); /* off too */
        assert_non_null(strstr(hv_last_error(), "CPU 8"));
        assert_string_equal(cpuset_of(c, UUID1, &sd), "1");
        assert_int_equal(d->start(c, UUID1), 0);
        assert_int_equal(d->set_cpuset(c, UUID1, "7-8"), TIDE_E_BACKEND);
        assert_string_equal(cpuset_of(c, UUID1, &sd), "1");
        assert_int_equal(d->set_cpuset(c, UUID1, "7"), 0);
        assert_string_equal(cpuset_of(c, UUID1, &sd), "7");

        /* start() refuses a spec's list with a CPU the host lacks, as libvirt does. */
        struct hv_domain_spec s2 = spec(UUID2, "tide-b");
        s2.cpuset = "6-9";
        assert_int_equal(d->define(c, &s2), 0);
        assert_int_equal(d->start(c, UUID2), TIDE_E_BACKEND);
        s2.cpuset = "6-7";
        assert_int_equal(d->define(c, &s2), 0);
        assert_int_equal(d->start(c, UUID2), 0);
        s2.cpuset = "0-3,x";
        assert_int_equal(d->define(c, &s2), TIDE_E_INVALID);
        d->close(c);
}

/* list() returns every domain, in UUID order, with its state. */
static void test_list(void **state) {
        struct hv_conn *c = open_ok("sim:///h1");
        struct hv_domain_info *l = (struct hv_domain_info *) 0x1;
        size_t n = 99;
        assert_int_equal(d->list(c, &l, &n), 0);
        assert_int_equal(n, 0);
        hv_domain_info_array_free(l, n);

        enum { N = 300 };
        char *ids[N];
        for (int i = 0; i < N; i++) {
                ids[i] = id_new_uuid();
                _cleanup_free_ char *name = xasprintf("tide-vm%d", i);
                struct hv_domain_spec s = spec(ids[i], name);
                assert_int_equal(d->define(c, &s), 0);
                if (i % 3 == 0)
                        assert_int_equal(d->start(c, ids[i]), 0);
        }
        for (int i = 0; i < N; i += 10)
                assert_int_equal(d->undefine(c, ids[i]), 0);
        assert_int_equal(d->list(c, &l, &n), 0);
        assert_int_equal(n, N - N / 10);
        for (size_t k = 0; k < n; k++) {
                if (k > 0)
                        assert_true(strcmp(l[k - 1].uuid, l[k].uuid) < 0);
                int i = 0;
                while (!streq(ids[i], l[k].uuid))
                        i++;
                assert_int_not_equal(i % 10, 0);
                assert_int_equal(l[k].state, i % 3 == 0 ? HV_STATE_RUNNING : HV_STATE_SHUTOFF);
                _cleanup_free_ char *name = xasprintf("tide-vm%d", i);
                assert_string_equal(l[k].name, name);
        }
        hv_domain_info_array_free(l, n);
        for (int i = 0; i < N; i++)
                free(ids[i]);
        d->close(c); /* forgets the domains; nothing leaks */
}

/* Connections are separate hosts, even with the same name. */
static void test_hosts_are_separate(void **state) {
        struct hv_conn *a = open_ok("sim:///h1"), *b = open_ok("sim:///h1");
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        assert_int_equal(d->define(a, &s), 0);
        assert_int_equal(d->start(b, UUID1), TIDE_E_NOT_FOUND);
        d->close(a);
        d->close(b);
        d->close(NULL);
}

/* The accessor refuses connections of other drivers. */
static void test_domain_get_needs_sim(void **state) {
        struct hv_conn_base fake = { .driver = &hv_libvirt_driver };
        struct hv_sim_domain sd;
        assert_int_equal(hv_sim_domain_get((struct hv_conn *) &fake, UUID1, &sd), TIDE_E_INVALID);
        assert_int_equal(hv_sim_domain_get(NULL, UUID1, &sd), TIDE_E_INVALID);
}

/* Smoke test of the locking: threads define, start, stop and list on one host at once. */
struct worker {
        struct hv_conn *c;
        int id;
        int errors;
};

static void *worker_main(void *arg) {
        struct worker *w = arg;
        for (int i = 0; i < 200; i++) {
                char uuid[37];
                snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%04d%08d", w->id, i);
                _cleanup_free_ char *name = xasprintf("tide-w%d-%d", w->id, i);
                struct hv_domain_spec s = spec(uuid, name);
                struct hv_domain_info *l = NULL;
                size_t n = 0;
                if (d->define(w->c, &s) < 0 || d->start(w->c, uuid) < 0 || d->list(w->c, &l, &n) < 0 ||
                    d->set_cpuset(w->c, uuid, i % 3 ? "0-31" : "32-63") < 0)
                        w->errors++;
                hv_domain_info_array_free(l, n);
                if (i % 2 == 0 && (d->shutdown(w->c, uuid, 0) < 0 || d->undefine(w->c, uuid) < 0))
                        w->errors++;
        }
        return NULL;
}

static void test_threads(void **state) {
        struct hv_conn *c = open_ok("sim:///h1");
        enum { T = 8 };
        struct worker w[T];
        pthread_t t[T];
        for (int i = 0; i < T; i++) {
                w[i] = (struct worker) { .c = c, .id = i };
                assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
        }
        for (int i = 0; i < T; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(w[i].errors, 0);
        }
        struct hv_domain_info *l = NULL;
        size_t n = 0;
        assert_int_equal(d->list(c, &l, &n), 0);
        assert_int_equal(n, T * 100);
        for (size_t k = 0; k < n; k++)
                assert_int_equal(l[k].state, HV_STATE_RUNNING);
        hv_domain_info_array_free(l, n);
        d->close(c);
}

/* Thousands of hosts in one process, each with a few domains, open and close quickly. */
static void test_many_hosts(void **state) {
        enum { H = 2000 };
        struct hv_conn **hosts = xcalloc(H, sizeof *hosts);
        int64_t t0 = mono_us();
        for (int i = 0; i < H; i++) {
                _cleanup_free_ char *uri = xasprintf("sim:///h%d?cpus=128&numa=4&mem_mib=1048576", i);
                hosts[i] = open_ok(uri);
                for (int k = 0; k < 5; k++) {
                        char uuid[37];
                        snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012d", k);
                        _cleanup_free_ char *name = xasprintf("tide-vm%d", k);
                        struct hv_domain_spec s = spec(uuid, name);
                        assert_int_equal(d->define(hosts[i], &s), 0);
                        assert_int_equal(d->start(hosts[i], uuid), 0);
                }
        }
        for (int i = 0; i < H; i++)
                d->close(hosts[i]);
        free(hosts);
        /* Generous: this is about complexity, not a benchmark (ASan builds are slow). */
        assert_true(mono_us() - t0 < 10 * 1000 * 1000);
}

/* ---- statistics, elastic controls and the load model ---- */

#define S_NS INT64_C(1000000000)

/* stats() of one domain, by UUID; fails the test when it is not there. */
static struct hv_domain_stats stats_of(struct hv_conn *c, const char *uuid) {
        struct hv_domain_stats *all = NULL, found = {};
        size_t n = 0;
        assert_int_equal(d->stats(c, &all, &n), 0);
        bool seen = false;
        for (size_t i = 0; i < n; i++)
                if (streq(all[i].uuid, uuid)) {
                        found = all[i];
                        all[i] = (struct hv_domain_stats) {}; /* handed out */
                        seen = true;
                }
        hv_domain_stats_array_free(all, n);
        if (!seen)
                fail_msg("no stats for %s", uuid);
        return found;
}

/* A host on manual time with domain tide-a (UUID1: 2 of 4 vCPUs, 512 of 1024 MiB) running. */
static struct hv_conn *host_with_domain(const char *uri) {
        struct hv_conn *c = open_ok(uri);
        assert_int_equal(hv_sim_advance(c, 0), 0);
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->start(c, UUID1), 0);
        return c;
}

/* A domain that is off reports its definition; a running one every group, at 0 before any
 * time passed and with no demand. */
static void test_stats_shapes(void **state) {
        struct hv_conn *c = open_ok("sim:///h1?cpus=8");
        assert_int_equal(hv_sim_advance(c, 0), 0);
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        assert_int_equal(d->define(c, &s), 0);
        struct hv_domain_stats st = stats_of(c, UUID1);
        assert_string_equal(st.name, "tide-a");
        assert_int_equal(st.state, HV_STATE_SHUTOFF);
        assert_int_equal(st.vcpus_current, 2);
        assert_int_equal(st.vcpus_max, 4);
        assert_true(st.has_balloon);
        assert_int_equal(st.balloon_current_kib, 512 * 1024);
        assert_int_equal(st.balloon_maximum_kib, 1024 * 1024);
        assert_false(st.has_cpu || st.has_guest_mem || st.has_rss || st.has_block || st.has_net || st.has_vcpu_delay);
        hv_domain_stats_clear(&st);

        assert_int_equal(d->start(c, UUID1), 0);
        st = stats_of(c, UUID1);
        assert_int_equal(st.state, HV_STATE_RUNNING);
        assert_true(st.has_cpu && st.has_cpu_split && st.has_vcpu_wait && st.has_vcpu_delay && st.has_guest_mem &&
                    st.has_rss && st.has_block && st.has_net);
        assert_int_equal(st.n_vcpu, 4);
        assert_true(st.vcpu[0].online && st.vcpu[1].online && !st.vcpu[2].online && !st.vcpu[3].online);
        assert_int_equal(st.cpu_time_ns, 0);
        assert_int_equal(st.available_kib, 512 * 1024);
        assert_int_equal(st.usable_kib, 512 * 1024);
        assert_int_equal(st.rss_kib, 0);
        assert_int_equal(st.sample_ns, 0);
        hv_domain_stats_clear(&st);
        d->close(c);
}

/* Demand within the vCPUs on an idle host is served in full, spread over the vCPUs. */
static void test_model_demand_served(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=8");
        assert_int_equal(hv_sim_set_demand(c, UUID1, 1.5, 0), 0);
        assert_int_equal(hv_sim_advance(c, 10 * S_NS), 0);
        assert_int_equal(hv_sim_now(c), 10 * S_NS);
        struct hv_domain_stats st = stats_of(c, UUID1);
        assert_int_equal(st.sample_ns, 10 * S_NS);
        assert_int_equal(st.cpu_time_ns, 15 * S_NS);
        assert_int_equal(st.cpu_user_ns, 15 * S_NS);
        assert_int_equal(st.vcpu[0].time_ns, 7500000000);
        assert_int_equal(st.vcpu[1].time_ns, 7500000000);
        assert_int_equal(st.vcpu_time_ns, 15 * S_NS);
        assert_int_equal(st.ready_ns, 0);
        hv_domain_stats_clear(&st);

        struct hv_domain_info di = {};
        assert_int_equal(d->domain_info(c, UUID1, &di), 0);
        assert_int_equal(di.cpu_time_ns, 15 * S_NS);
        hv_domain_info_clear(&di);

        struct hv_host_stats h = {};
        assert_int_equal(d->host_stats(c, &h), 0);
        assert_int_equal(h.sample_ns, 10 * S_NS);
        assert_int_equal(h.cpus, 8);
        assert_int_equal(h.cpu_user_ns, 15 * S_NS);
        assert_int_equal(h.cpu_idle_ns, 65 * S_NS);
        assert_int_equal(h.cpu_system_ns, 0);
        d->close(c);
}

/* Demand beyond the vCPUs saturates them and is invisible as ready time, as on a real host;
 * hot-added vCPUs take more of it. */
static void test_model_demand_beyond_vcpus(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=8");
        assert_int_equal(hv_sim_set_demand(c, UUID1, 3.7, 0), 0);
        assert_int_equal(hv_sim_advance(c, S_NS), 0);
        struct hv_domain_stats st = stats_of(c, UUID1);
        assert_int_equal(st.cpu_time_ns, 2 * S_NS);
        assert_int_equal(st.ready_ns, 0);
        hv_domain_stats_clear(&st);
        assert_int_equal(d->set_vcpus(c, UUID1, 4), 0);
        assert_int_equal(hv_sim_advance(c, S_NS), 0);
        st = stats_of(c, UUID1);
        assert_int_equal(st.cpu_time_ns, 2 * S_NS + 3700000000);
        assert_int_equal(st.vcpu[3].time_ns, 925000000);
        assert_int_equal(st.vcpu[0].time_ns, S_NS + 925000000);
        assert_int_equal(st.vcpus_current, 4);
        hv_domain_stats_clear(&st);
        d->close(c);
}

/* A quota caps what runs; the rest of what the vCPUs could run waits (throttled). */
static void test_model_quota(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=8");
        assert_int_equal(hv_sim_set_demand(c, UUID1, 2, 0), 0);
        struct hv_cpu_tune t = { .shares = 1024, .period_us = 100000, .quota_us = 50000 };
        assert_int_equal(d->set_cpu_tune(c, UUID1, &t), 0);
        assert_int_equal(hv_sim_advance(c, 4 * S_NS), 0);
        struct hv_domain_stats st = stats_of(c, UUID1);
        assert_int_equal(st.cpu_time_ns, 2 * S_NS);
        assert_int_equal(st.ready_ns, 6 * S_NS);
        assert_int_equal(st.vcpu[0].wait_ns, 3 * S_NS);
        assert_int_equal(st.vcpu[0].delay_ns, 3 * S_NS);
        hv_domain_stats_clear(&st);
        /* No quota: full speed again from now on. */
        t.quota_us = 0;
        assert_int_equal(d->set_cpu_tune(c, UUID1, &t), 0);
        assert_int_equal(hv_sim_advance(c, S_NS), 0);
        st = stats_of(c, UUID1);
        assert_int_equal(st.cpu_time_ns, 4 * S_NS);
        assert_int_equal(st.ready_ns, 6 * S_NS);
        hv_domain_stats_clear(&st);
        d->close(c);
}

/* Two domains wanting more than the host has share it by their shares; what one does not
 * want goes to the other. */
static void test_model_contention_by_shares(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=3");
        struct hv_domain_spec s = spec(UUID2, "tide-b");
        s.vcpus = 4;
        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->start(c, UUID2), 0);
        assert_int_equal(d->set_vcpus(c, UUID1, 4), 0);
        assert_int_equal(d->set_cpu_tune(c, UUID1, &(struct hv_cpu_tune) { .shares = 2048 }), 0);
        assert_int_equal(hv_sim_set_demand(c, UUID1, 4, 0), 0);
        assert_int_equal(hv_sim_set_demand(c, UUID2, 4, 0), 0);
        assert_int_equal(hv_sim_advance(c, 3 * S_NS), 0);
        struct hv_domain_stats a = stats_of(c, UUID1), b = stats_of(c, UUID2);
        assert_int_equal(a.cpu_time_ns, 6 * S_NS); /* 2 of 3 CPUs */
        assert_int_equal(a.ready_ns, 6 * S_NS);    /* wanted 4 */
        assert_int_equal(b.cpu_time_ns, 3 * S_NS); /* 1 of 3 */
        assert_int_equal(b.ready_ns, 9 * S_NS);
        hv_domain_stats_clear(&a);
        hv_domain_stats_clear(&b);

        /* The high-share domain idles down to half a core: the other gets the rest. */
        assert_int_equal(hv_sim_set_demand(c, UUID1, 0.5, 0), 0);
        assert_int_equal(hv_sim_advance(c, 2 * S_NS), 0);
        a = stats_of(c, UUID1);
        b = stats_of(c, UUID2);
        assert_int_equal(a.cpu_time_ns, 7 * S_NS);
        assert_int_equal(a.ready_ns, 6 * S_NS);
        assert_int_equal(b.cpu_time_ns, 8 * S_NS);
        assert_int_equal(b.ready_ns, 12 * S_NS);
        hv_domain_stats_clear(&a);
        hv_domain_stats_clear(&b);

        struct hv_host_stats h = {};
        assert_int_equal(d->host_stats(c, &h), 0);
        assert_int_equal(h.cpu_user_ns, 15 * S_NS);
        assert_int_equal(h.cpu_idle_ns, 0);
        d->close(c);
}

/* A cpuset or pins limit a domain to the cores they hold. */
static void test_model_cpuset_limits(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=8");
        assert_int_equal(hv_sim_set_demand(c, UUID1, 2, 0), 0);
        assert_int_equal(d->set_cpuset(c, UUID1, "3"), 0);
        assert_int_equal(hv_sim_advance(c, S_NS), 0);
        struct hv_domain_stats st = stats_of(c, UUID1);
        assert_int_equal(st.cpu_time_ns, S_NS);
        assert_int_equal(st.ready_ns, S_NS);
        hv_domain_stats_clear(&st);

        static const int pins[4] = { 5, 6, 6, 5 };
        struct hv_domain_spec s = spec(UUID2, "tide-b");
        s.vcpus = 4;
        s.pin_cpus = pins;
        s.n_pin_cpus = 4;
        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->start(c, UUID2), 0);
        assert_int_equal(hv_sim_set_demand(c, UUID2, 4, 0), 0);
        assert_int_equal(hv_sim_advance(c, S_NS), 0);
        st = stats_of(c, UUID2);
        assert_int_equal(st.cpu_time_ns, 2 * S_NS); /* two distinct CPUs */
        hv_domain_stats_clear(&st);
        d->close(c);
}

/* The guest's memory follows its demand within the balloon; set_memory() moves the balloon
 * at once, and the host's free memory with the domains' use. */
static void test_model_memory(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=8&mem_mib=4096");
        assert_int_equal(hv_sim_set_demand(c, UUID1, 0, 200), 0);
        struct hv_domain_stats st = stats_of(c, UUID1);
        assert_int_equal(st.balloon_current_kib, 512 * 1024);
        assert_int_equal(st.available_kib, 512 * 1024);
        assert_int_equal(st.usable_kib, 312 * 1024);
        assert_int_equal(st.unused_kib, 312 * 1024);
        assert_int_equal(st.rss_kib, 200 * 1024);
        hv_domain_stats_clear(&st);
        struct hv_host_stats h = {};
        assert_int_equal(d->host_stats(c, &h), 0);
        assert_int_equal(h.mem_total_kib, 4096 * 1024);
        assert_int_equal(h.mem_free_kib, (4096 - 200) * 1024);
        assert_int_equal(h.mem_available_kib, (4096 - 200) * 1024);

        assert_int_equal(d->set_memory(c, UUID1, 256), 0);
        assert_int_equal(hv_sim_set_demand(c, UUID1, 0, 300), 0); /* more than it has */
        st = stats_of(c, UUID1);
        assert_int_equal(st.balloon_current_kib, 256 * 1024);
        assert_int_equal(st.available_kib, 256 * 1024);
        assert_int_equal(st.usable_kib, 0);
        assert_int_equal(st.rss_kib, 256 * 1024);
        hv_domain_stats_clear(&st);
        struct hv_sim_domain sd;
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);
        assert_int_equal(sd.ram_mib, 256);
        assert_int_equal(sd.mem_demand_mib, 300);
        d->close(c);
}

/* Load averages are Linux's exponential averages of the runnable cores. */
static void test_model_load_average(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=8");
        assert_int_equal(hv_sim_set_demand(c, UUID1, 2, 0), 0);
        assert_int_equal(hv_sim_advance(c, 30 * S_NS), 0);
        assert_int_equal(hv_sim_advance(c, 30 * S_NS), 0); /* in steps or at once: the same */
        struct hv_host_stats h = {};
        assert_int_equal(d->host_stats(c, &h), 0);
        assert_float_equal(h.load1, 2 * (1 - exp(-1.0)), 1e-9);
        assert_float_equal(h.load5, 2 * (1 - exp(-60.0 / 300)), 1e-9);
        assert_float_equal(h.load15, 2 * (1 - exp(-60.0 / 900)), 1e-9);
        d->close(c);
}

/* Counters start at 0 with every start; the demand stays with the domain. */
static void test_model_restart(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=8");
        assert_int_equal(hv_sim_set_demand(c, UUID1, 1, 64), 0);
        assert_int_equal(hv_sim_advance(c, S_NS), 0);
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(hv_sim_advance(c, S_NS), 0); /* off: nothing accrues */
        assert_int_equal(d->start(c, UUID1), 0);
        struct hv_domain_stats st = stats_of(c, UUID1);
        assert_int_equal(st.cpu_time_ns, 0);
        hv_domain_stats_clear(&st);
        assert_int_equal(hv_sim_advance(c, S_NS), 0);
        st = stats_of(c, UUID1);
        assert_int_equal(st.cpu_time_ns, S_NS);
        assert_int_equal(st.rss_kib, 64 * 1024);
        hv_domain_stats_clear(&st);
        struct hv_host_stats h = {};
        assert_int_equal(d->host_stats(c, &h), 0);
        assert_int_equal(h.cpu_user_ns, 2 * S_NS);
        assert_int_equal(h.cpu_idle_ns, 22 * S_NS);
        d->close(c);
}

/* On real time, the clock follows CLOCK_MONOTONIC until hv_sim_advance() takes it over. */
static void test_model_real_time(void **state) {
        struct hv_conn *c = open_ok("sim:///h1?cpus=8");
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->start(c, UUID1), 0);
        assert_int_equal(hv_sim_set_demand(c, UUID1, 1, 0), 0);
        int64_t t0 = hv_sim_now(c);
        nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        struct hv_domain_stats st = stats_of(c, UUID1);
        assert_true(st.sample_ns - t0 >= 50 * 1000 * 1000);
        assert_true(st.cpu_time_ns >= 50 * 1000 * 1000);
        assert_true(st.cpu_time_ns <= st.sample_ns); /* one core at most */
        hv_domain_stats_clear(&st);

        assert_int_equal(hv_sim_advance(c, 0), 0);
        int64_t frozen = hv_sim_now(c);
        nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        assert_int_equal(hv_sim_now(c), frozen);
        assert_int_equal(hv_sim_advance(c, 5), 0);
        assert_int_equal(hv_sim_now(c), frozen + 5);
        d->close(c);
}

/* set_vcpus() hot-adds and hot-removes within the maximum, taking the removed vCPUs'
 * counters with them, and keeps the definition in step; off, only the definition. */
static void test_set_vcpus(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=8");
        struct hv_sim_domain sd;
        assert_int_equal(hv_sim_set_demand(c, UUID1, 4, 0), 0);
        assert_int_equal(d->set_vcpus(c, UUID1, 4), 0);
        assert_int_equal(hv_sim_advance(c, S_NS), 0);
        assert_int_equal(d->set_vcpus(c, UUID1, 1), 0);
        assert_int_equal(d->set_vcpus(c, UUID1, 1), 0); /* idempotent */
        struct hv_domain_stats st = stats_of(c, UUID1);
        assert_int_equal(st.vcpus_current, 1);
        assert_int_equal(st.cpu_time_ns, 4 * S_NS); /* the domain's total keeps it */
        assert_int_equal(st.vcpu_time_ns, S_NS);    /* the vCPUs left only their own */
        assert_false(st.vcpu[1].online);
        assert_int_equal(st.vcpu[1].time_ns, 0);
        hv_domain_stats_clear(&st);
        assert_int_equal(d->set_vcpus(c, UUID1, 0), TIDE_E_INVALID);
        assert_int_equal(d->set_vcpus(c, UUID1, 5), TIDE_E_INVALID);
        assert_true(*hv_last_error());
        assert_int_equal(d->set_vcpus(c, UUID1, HV_MAX_VCPUS + 1), TIDE_E_INVALID);
        assert_int_equal(d->set_vcpus(c, UUID2, 1), TIDE_E_NOT_FOUND);
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);
        assert_int_equal(sd.vcpus, 1);

        /* A restart keeps the count. */
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);
        assert_int_equal(sd.vcpus, 1);
        assert_int_equal(d->set_vcpus(c, UUID1, 3), 0); /* off: the definition */
        assert_int_equal(d->start(c, UUID1), 0);
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);
        assert_int_equal(sd.vcpus, 3);
        d->close(c);
}

/* set_memory() moves the balloon within the domain's maximum, in the definition too. */
static void test_set_memory(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=8");
        struct hv_sim_domain sd;
        assert_int_equal(d->set_memory(c, UUID1, 1024), 0);
        assert_int_equal(d->set_memory(c, UUID1, 1024), 0);
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);
        assert_int_equal(sd.ram_mib, 1024);
        assert_int_equal(d->set_memory(c, UUID1, 1025), TIDE_E_INVALID);
        assert_int_equal(d->set_memory(c, UUID1, HV_MIN_RAM_MIB - 1), TIDE_E_INVALID);
        assert_int_equal(d->set_memory(c, UUID2, 512), TIDE_E_NOT_FOUND);
        assert_int_equal(d->set_memory(c, UUID1, 300), 0);
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);
        assert_int_equal(sd.ram_mib, 300);
        assert_int_equal(d->set_memory(c, UUID1, 400), 0);
        assert_int_equal(d->start(c, UUID1), 0);
        struct hv_domain_stats st = stats_of(c, UUID1);
        assert_int_equal(st.balloon_current_kib, 400 * 1024);
        hv_domain_stats_clear(&st);
        d->close(c);
}

/* set_cpu_tune() and get_cpu_tune(): libvirt's defaults first, a quota of 0 keeps the
 * period, a redefinition resets the definition's. */
static void test_cpu_tune(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=8");
        struct hv_cpu_tune t = {};
        assert_int_equal(d->get_cpu_tune(c, UUID1, &t), 0);
        assert_int_equal(t.shares, HV_SHARES_DEFAULT);
        assert_int_equal(t.quota_us, 0);
        assert_int_equal(t.period_us, 100000);
        struct hv_cpu_tune want = { .shares = 512, .period_us = 50000, .quota_us = 75000 };
        assert_int_equal(d->set_cpu_tune(c, UUID1, &want), 0);
        assert_int_equal(d->set_cpu_tune(c, UUID1, &want), 0);
        assert_int_equal(d->get_cpu_tune(c, UUID1, &t), 0);
        assert_memory_equal(&t, &want, sizeof t);
        struct hv_sim_domain sd;
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);
        assert_memory_equal(&sd.tune, &want, sizeof want);
        assert_int_equal(d->set_cpu_tune(c, UUID1, &(struct hv_cpu_tune) { .shares = 300, .period_us = 7 }), 0);
        assert_int_equal(d->get_cpu_tune(c, UUID1, &t), 0);
        assert_int_equal(t.shares, 300);
        assert_int_equal(t.quota_us, 0);
        assert_int_equal(t.period_us, 50000);
        assert_int_equal(d->set_cpu_tune(c, UUID1, &(struct hv_cpu_tune) { .shares = 1 }), TIDE_E_INVALID);
        assert_int_equal(d->set_cpu_tune(c, UUID1, NULL), TIDE_E_INVALID);
        assert_int_equal(d->set_cpu_tune(c, UUID2, &want), TIDE_E_NOT_FOUND);
        assert_int_equal(d->get_cpu_tune(c, UUID2, &t), TIDE_E_NOT_FOUND);

        /* Kept across a restart; a redefinition applies at the next start. */
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(d->get_cpu_tune(c, UUID1, &t), 0);
        assert_int_equal(t.shares, 300);
        assert_int_equal(d->start(c, UUID1), 0);
        struct hv_domain_spec s = spec(UUID1, "tide-a");
        assert_int_equal(d->define(c, &s), 0);
        assert_int_equal(d->get_cpu_tune(c, UUID1, &t), 0);
        assert_int_equal(t.shares, 300);
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(d->get_cpu_tune(c, UUID1, &t), 0);
        assert_int_equal(t.shares, HV_SHARES_DEFAULT);
        d->close(c);
}

/* The test hooks check their arguments and their connection. */
static void test_model_hooks_errors(void **state) {
        struct hv_conn *c = host_with_domain("sim:///h1?cpus=8");
        assert_int_equal(hv_sim_set_demand(c, UUID1, -0.1, 0), TIDE_E_INVALID);
        assert_int_equal(hv_sim_set_demand(c, UUID1, NAN, 0), TIDE_E_INVALID);
        assert_int_equal(hv_sim_set_demand(c, UUID1, HV_MAX_VCPUS + 1, 0), TIDE_E_INVALID);
        assert_int_equal(hv_sim_set_demand(c, UUID1, 1, -1), TIDE_E_INVALID);
        assert_int_equal(hv_sim_set_demand(c, UUID1, 1, HV_MAX_RAM_MIB + 1), TIDE_E_INVALID);
        assert_int_equal(hv_sim_set_demand(c, UUID2, 1, 0), TIDE_E_NOT_FOUND);
        assert_int_equal(hv_sim_set_demand(c, NULL, 1, 0), TIDE_E_INVALID);
        assert_int_equal(hv_sim_advance(c, -1), TIDE_E_INVALID);
        struct hv_conn_base fake = { .driver = &hv_libvirt_driver };
        assert_int_equal(hv_sim_set_demand((struct hv_conn *) &fake, UUID1, 1, 0), TIDE_E_INVALID);
        assert_int_equal(hv_sim_advance((struct hv_conn *) &fake, 1), TIDE_E_INVALID);
        assert_int_equal(hv_sim_now((struct hv_conn *) &fake), -1);
        assert_int_equal(hv_sim_advance(NULL, 1), TIDE_E_INVALID);
        /* The demand of a domain that is off is kept for its next start. */
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(hv_sim_set_demand(c, UUID1, 0.25, 10), 0);
        struct hv_sim_domain sd;
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);
        assert_true(sd.cpu_demand == 0.25);
        d->close(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_open_host_shape),
                cmocka_unit_test(test_open_defaults),
                cmocka_unit_test(test_open_bad_uris),
                cmocka_unit_test(test_lifecycle),
                cmocka_unit_test(test_redefine_applies_at_next_start),
                cmocka_unit_test(test_define_copies_spec),
                cmocka_unit_test(test_define_invalid_and_clashes),
                cmocka_unit_test(test_start_checks_host),
                cmocka_unit_test(test_set_cpuset),
                cmocka_unit_test(test_set_cpuset_pinned),
                cmocka_unit_test(test_set_cpuset_errors),
                cmocka_unit_test(test_list),
                cmocka_unit_test(test_hosts_are_separate),
                cmocka_unit_test(test_domain_get_needs_sim),
                cmocka_unit_test(test_threads),
                cmocka_unit_test(test_many_hosts),
                cmocka_unit_test(test_stats_shapes),
                cmocka_unit_test(test_model_demand_served),
                cmocka_unit_test(test_model_demand_beyond_vcpus),
                cmocka_unit_test(test_model_quota),
                cmocka_unit_test(test_model_contention_by_shares),
                cmocka_unit_test(test_model_cpuset_limits),
                cmocka_unit_test(test_model_memory),
                cmocka_unit_test(test_model_load_average),
                cmocka_unit_test(test_model_restart),
                cmocka_unit_test(test_model_real_time),
                cmocka_unit_test(test_set_vcpus),
                cmocka_unit_test(test_set_memory),
                cmocka_unit_test(test_cpu_tune),
                cmocka_unit_test(test_model_hooks_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
