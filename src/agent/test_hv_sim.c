/* test_hv_sim.c — the simulated hypervisor driver: its URI, host model, lifecycle and locking. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/hv.h"
#include "common/errors.h"
#include "common/util.h"

static const struct hv_driver *const d = &hv_sim_driver;

#define UUID1 "2f1c4a9e-3b7d-4c8e-9a1f-0123456789ab"
#define UUID2 "2f1c4a9e-3b7d-4c8e-9a1f-0123456789ac"

static struct hv_domain_spec spec(const char *uuid, const char *name) {
        return (struct hv_domain_spec) {
                .uuid = uuid, .name = name,
                .vcpus = 2, .max_vcpus = 4, .ram_mib = 512, .max_ram_mib = 1024,
        };
}

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
        assert_int_equal(d->shutdown(c, UUID1, 0), 0);   /* the guest obeyed */
        assert_int_equal(d->domain_info(c, UUID1, &di), 0);
        assert_int_equal(di.state, HV_STATE_SHUTOFF);
        hv_domain_info_clear(&di);
        assert_int_equal(d->start(c, UUID1), 0);
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(d->destroy(c, UUID1), 0);
        assert_int_equal(d->start(c, UUID1), 0);
        assert_int_equal(d->undefine(c, UUID1), 0);       /* running: powered off first */
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
        assert_int_equal(hv_sim_domain_get(c, UUID1, &sd), 0);   /* off: the definition */
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
        s.numa_node = 1;   /* without has_numa_node */
        assert_int_equal(d->define(c, &s), TIDE_E_INVALID);
        s = spec(UUID1, "tide-a");
        s.disk_path = "relative";   /* ignored by a virtual driver */
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
        assert_int_equal(d->define(c, &s), 0);   /* define does not look at the host */
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
        assert_int_equal(d->destroy(c, UUID1), 0);     /* gives them back */
        assert_int_equal(d->start(c, UUID2), 0);
        assert_int_equal(d->start(c, UUID1), TIDE_E_BACKEND);
        assert_int_equal(d->undefine(c, UUID2), 0);    /* so does undefine */
        assert_int_equal(d->start(c, UUID1), 0);

        /* An unbound domain takes from the nodes in order: node 0's 1 GiB and 512 MiB more. */
        assert_int_equal(d->destroy(c, UUID1), 0);
        s2 = spec(UUID2, "tide-b");
        s2.hugepages = true;
        s2.ram_mib = s2.max_ram_mib = 1536;
        assert_int_equal(d->define(c, &s2), 0);
        assert_int_equal(d->start(c, UUID2), 0);
        assert_int_equal(d->start(c, UUID1), TIDE_E_BACKEND);   /* node 1 has 512 MiB left */
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

        assert_int_equal(d->set_cpuset(c, UUID1, "4-7"), 0);   /* off: the definition */
        assert_string_equal(cpuset_of(c, UUID1, &sd), "4-7");
        assert_int_equal(d->start(c, UUID1), 0);
        assert_string_equal(cpuset_of(c, UUID1, &sd), "4-7");
        assert_int_equal(d->set_cpuset(c, UUID1, "2,5-6"), 0);   /* running: moved at once */
        assert_string_equal(cpuset_of(c, UUID1, &sd), "2,5-6");
        assert_int_equal(d->set_cpuset(c, UUID1, "2,5-6"), 0);
        assert_string_equal(cpuset_of(c, UUID1, &sd), "2,5-6");
        assert_int_equal(d->destroy(c, UUID1), 0);               /* and kept in the definition */
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
        assert_int_equal(d->set_cpuset(c, UUID1, "0,8"), TIDE_E_BACKEND);   /* off too */
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
        d->close(c);   /* forgets the domains; nothing leaks */
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
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
