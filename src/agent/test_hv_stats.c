/* test_hv_stats.c — the pure helpers of the hypervisor statistics (hv_stats.c): libvirt's
 * figures by name, fair shares, /proc texts and CPU tuning limits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/hv.h"
#include "common/errors.h"
#include "common/util.h"

struct figure {
        const char *name;
        uint64_t value;
};

/* What libvirt 9.0's virConnectGetAllDomainStats gave for the tiny guest under TCG (one
 * vCPU of two online, guest memory statistics every second), with a second disk and a NIC
 * added. */
static const struct figure tcg_guest[] = {
        { "state.state", 1 },
        { "state.reason", 1 },
        { "cpu.time", 5104145000 },
        { "cpu.user", 4494387000 },
        { "cpu.system", 609757000 },
        { "cpu.cache.monitor.count", 0 },
        { "cpu.haltpoll.success.time", 0 },
        { "balloon.current", 196608 },
        { "balloon.maximum", 262144 },
        { "balloon.swap_in", 0 },
        { "balloon.swap_out", 0 },
        { "balloon.major_fault", 18 },
        { "balloon.minor_fault", 15448 },
        { "balloon.unused", 128612 },
        { "balloon.available", 157804 },
        { "balloon.usable", 133524 },
        { "balloon.last-update", 1795319049 },
        { "balloon.disk_caches", 2136 },
        { "balloon.hugetlb_pgalloc", 0 },
        { "balloon.hugetlb_pgfail", 0 },
        { "balloon.rss", 216420 },
        { "vcpu.current", 1 },
        { "vcpu.maximum", 2 },
        { "vcpu.0.state", 1 },
        { "vcpu.0.time", 4700000000 },
        { "vcpu.0.wait", 0 },
        { "vcpu.0.delay", 33014836 },
        { "net.count", 1 },
        { "net.0.rx.bytes", 1000 },
        { "net.0.rx.pkts", 10 },
        { "net.0.rx.errs", 3 },
        { "net.0.tx.bytes", 2000 },
        { "net.0.tx.pkts", 20 },
        { "block.count", 2 },
        { "block.0.backingIndex", 1 },
        { "block.0.rd.reqs", 58 },
        { "block.0.rd.bytes", 2129408 },
        { "block.0.rd.times", 18725027 },
        { "block.0.wr.reqs", 55 },
        { "block.0.wr.bytes", 23752704 },
        { "block.0.capacity", 386924544 },
        { "block.1.rd.reqs", 2 },
        { "block.1.rd.bytes", 4096 },
        { "block.1.wr.reqs", 0 },
        { "block.1.wr.bytes", 0 },
        { "dirtyrate.calc_status", 0 },
};

static void add_all(struct hv_domain_stats *s, const struct figure *f, size_t n) {
        for (size_t i = 0; i < n; i++)
                hv_domain_stats_add(s, f[i].name, f[i].value);
        hv_domain_stats_finish(s);
}

/* Every figure tide uses lands in its field, with its group marked present. */
static void test_add_libvirt_record(void **state) {
        struct hv_domain_stats s = {};
        add_all(&s, tcg_guest, ELEMENTSOF(tcg_guest));
        assert_int_equal(s.state, HV_STATE_RUNNING);
        assert_true(s.has_cpu && s.has_cpu_split);
        assert_int_equal(s.cpu_time_ns, 5104145000);
        assert_int_equal(s.cpu_user_ns, 4494387000);
        assert_int_equal(s.cpu_system_ns, 609757000);
        assert_int_equal(s.vcpus_current, 1);
        assert_int_equal(s.vcpus_max, 2);
        assert_int_equal(s.n_vcpu, 2); /* the offline vCPU 1 too */
        assert_true(s.vcpu[0].online);
        assert_int_equal(s.vcpu[0].time_ns, 4700000000);
        assert_int_equal(s.vcpu[0].wait_ns, 0);
        assert_int_equal(s.vcpu[0].delay_ns, 33014836);
        assert_false(s.vcpu[1].online);
        assert_int_equal(s.vcpu[1].time_ns, 0);
        assert_true(s.has_vcpu_wait && s.has_vcpu_delay);
        assert_int_equal(s.vcpu_time_ns, 4700000000);
        assert_int_equal(s.ready_ns, 33014836); /* delay, not the empty wait */
        assert_true(s.has_balloon);
        assert_int_equal(s.balloon_current_kib, 196608);
        assert_int_equal(s.balloon_maximum_kib, 262144);
        assert_true(s.has_guest_mem);
        assert_int_equal(s.available_kib, 157804);
        assert_int_equal(s.unused_kib, 128612);
        assert_int_equal(s.usable_kib, 133524);
        assert_int_equal(s.disk_caches_kib, 2136);
        assert_int_equal(s.major_faults, 18);
        assert_int_equal(s.minor_faults, 15448);
        assert_int_equal(s.guest_mem_updated_s, 1795319049);
        assert_true(s.has_rss);
        assert_int_equal(s.rss_kib, 216420);
        assert_true(s.has_block);
        assert_int_equal(s.block_rd_reqs, 60);
        assert_int_equal(s.block_rd_bytes, 2129408 + 4096);
        assert_int_equal(s.block_wr_reqs, 55);
        assert_int_equal(s.block_wr_bytes, 23752704);
        assert_true(s.has_net);
        assert_int_equal(s.net_rx_bytes, 1000);
        assert_int_equal(s.net_rx_packets, 10);
        assert_int_equal(s.net_tx_bytes, 2000);
        assert_int_equal(s.net_tx_packets, 20);
        hv_domain_stats_clear(&s);
        assert_null(s.vcpu);
        assert_int_equal(s.n_vcpu, 0);
        hv_domain_stats_clear(NULL);
}

/* A domain that is off: its state, vCPU counts and balloon; no other group. */
static void test_add_domain_off(void **state) {
        static const struct figure off[] = {
                { "state.state", 5 },          { "state.reason", 2 }, { "balloon.current", 131072 },
                { "balloon.maximum", 262144 }, { "vcpu.current", 1 }, { "vcpu.maximum", 4 },
        };
        struct hv_domain_stats s = {};
        add_all(&s, off, ELEMENTSOF(off));
        assert_int_equal(s.state, HV_STATE_SHUTOFF);
        assert_false(s.has_cpu || s.has_cpu_split || s.has_guest_mem || s.has_rss || s.has_block || s.has_net ||
                     s.has_vcpu_wait || s.has_vcpu_delay);
        assert_true(s.has_balloon);
        assert_int_equal(s.n_vcpu, 4);
        for (int i = 0; i < 4; i++)
                assert_false(s.vcpu[i].online);
        assert_int_equal(s.ready_ns, 0);
        hv_domain_stats_clear(&s);
}

/* Device counts alone (libvirt skipped QEMU's counters: the domain was busy with a job) do
 * not make block or network figures; no device at all does. */
static void test_add_device_counts(void **state) {
        static const struct figure skipped[] = { { "block.count", 2 }, { "block.0.name", 0 }, { "net.count", 1 } };
        struct hv_domain_stats s = {};
        add_all(&s, skipped, ELEMENTSOF(skipped));
        assert_false(s.has_block || s.has_net);
        hv_domain_stats_clear(&s);
        static const struct figure none[] = { { "block.count", 0 }, { "net.count", 0 } };
        add_all(&s, none, ELEMENTSOF(none));
        assert_true(s.has_block && s.has_net);
        hv_domain_stats_clear(&s);
}

/* Without vcpu.N.delay (an older libvirt), ready time is the schedstats wait. */
static void test_ready_falls_back_to_wait(void **state) {
        static const struct figure f[] = {
                { "vcpu.current", 2 }, { "vcpu.maximum", 2 }, { "vcpu.0.state", 1 }, { "vcpu.0.time", 10 },
                { "vcpu.0.wait", 7 },  { "vcpu.1.state", 2 }, { "vcpu.1.time", 20 }, { "vcpu.1.wait", 8 },
        };
        struct hv_domain_stats s = {};
        add_all(&s, f, ELEMENTSOF(f));
        assert_true(s.has_vcpu_wait);
        assert_false(s.has_vcpu_delay);
        assert_true(s.vcpu[1].online); /* blocked (idle in the guest) is online */
        assert_int_equal(s.vcpu_time_ns, 30);
        assert_int_equal(s.ready_ns, 15);
        hv_domain_stats_clear(&s);
}

/* Names tide does not know, malformed numbers and out-of-range values change nothing. */
static void test_add_ignores_the_unknown(void **state) {
        static const struct figure f[] = {
                { "vcpu.01.time", 5 },    { "vcpu.255.time", 5 }, { "vcpu.x.time", 5 },     { "vcpu..time", 5 },
                { "vcpu.0", 5 },          { "vcpu.0.halted", 1 }, { "block.1rd.bytes", 5 }, { "block.0.rd", 5 },
                { "net.-1.rx.bytes", 5 }, { "cpu.timex", 5 },     { "balloon", 5 },         { "", 5 },
                { "state.state", 8 },     { "perf.cmt", 5 },      { "iothread.count", 1 },
        };
        struct hv_domain_stats s = {};
        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                hv_domain_stats_add(&s, f[i].name, f[i].value);
        /* "vcpu.0.halted" is vCPU 0, an unknown figure of it: the array grows, nothing else. */
        assert_int_equal(s.n_vcpu, 1);
        assert_int_equal(s.vcpu[0].time_ns, 0);
        assert_int_equal(s.state, HV_STATE_NOSTATE);
        assert_false(s.has_cpu || s.has_block || s.has_net || s.has_balloon);
        assert_int_equal(s.block_rd_bytes, 0);
        hv_domain_stats_clear(&s);

        /* Beyond INT64_MAX: clamped, and sums saturate. */
        hv_domain_stats_add(&s, "cpu.time", UINT64_MAX);
        assert_int_equal(s.cpu_time_ns, INT64_MAX);
        hv_domain_stats_add(&s, "block.0.rd.bytes", (uint64_t) INT64_MAX);
        hv_domain_stats_add(&s, "block.1.rd.bytes", 10);
        assert_int_equal(s.block_rd_bytes, INT64_MAX);
        hv_domain_stats_add(&s, "vcpu.maximum", 100000);
        assert_int_equal(s.vcpus_max, HV_MAX_VCPUS);
        hv_domain_stats_add(&s, "vcpu.254.time", 3);
        assert_int_equal(s.n_vcpu, HV_MAX_VCPUS);
        hv_domain_stats_finish(&s);
        assert_int_equal(s.vcpu_time_ns, 3);
        hv_domain_stats_clear(&s);
}

static void test_parse_loadavg(void **state) {
        double l[3] = { -1, -1, -1 };
        assert_int_equal(hv_parse_loadavg("0.62 0.55 0.69 1/88 7139\n", l), 0);
        assert_true(l[0] == 0.62 && l[1] == 0.55 && l[2] == 0.69);
        assert_int_equal(hv_parse_loadavg("12.00 3 0\n", l), 0);
        assert_true(l[0] == 12 && l[1] == 3 && l[2] == 0);
        static const char *const bad[] = {
                "", "0.1 0.2", "0.1 0.2 x", "-1 0 0 1/1 1", "nan 0 0 1/1 1", "inf 0 0 1/1 1", "0.1,0.2,0.3"
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                l[0] = 42;
                assert_int_equal(hv_parse_loadavg(bad[i], l), TIDE_E_INVALID);
                assert_true(l[0] == 42); /* untouched */
        }
        assert_int_equal(hv_parse_loadavg(NULL, l), TIDE_E_INVALID);
}

static void test_parse_meminfo(void **state) {
        static const char text[] = "MemTotal:       24683656 kB\n"
                                   "MemFree:        23856868 kB\n"
                                   "MemAvailable:   23778000 kB\n"
                                   "HugePages_Total:       0\n"
                                   "Odd:            12 MB\n"
                                   "Cached:           436232 kB"; /* no final newline */
        int64_t v = -1;
        assert_int_equal(hv_parse_meminfo(text, "MemAvailable", &v), 0);
        assert_int_equal(v, 23778000);
        assert_int_equal(hv_parse_meminfo(text, "MemTotal", &v), 0);
        assert_int_equal(v, 24683656);
        assert_int_equal(hv_parse_meminfo(text, "Cached", &v), 0);
        assert_int_equal(v, 436232);
        v = -1;
        assert_int_equal(hv_parse_meminfo(text, "Mem", &v), TIDE_E_NOT_FOUND); /* a prefix is not a key */
        assert_int_equal(hv_parse_meminfo(text, "SwapTotal", &v), TIDE_E_NOT_FOUND);
        assert_int_equal(hv_parse_meminfo(text, "HugePages_Total", &v), TIDE_E_INVALID);
        assert_int_equal(hv_parse_meminfo(text, "Odd", &v), TIDE_E_INVALID);
        assert_int_equal(v, -1);
        assert_int_equal(hv_parse_meminfo("MemFree: -5 kB\n", "MemFree", &v), TIDE_E_INVALID);
        assert_int_equal(hv_parse_meminfo("", "MemFree", &v), TIDE_E_NOT_FOUND);
        assert_int_equal(hv_parse_meminfo(text, "", &v), TIDE_E_INVALID);
        assert_int_equal(hv_parse_meminfo(NULL, "MemFree", &v), TIDE_E_INVALID);
}

static void test_cpu_tune_validate(void **state) {
        assert_int_equal(hv_cpu_tune_validate(&(struct hv_cpu_tune) { .shares = 1024 }), 0);
        assert_int_equal(hv_cpu_tune_validate(&(struct hv_cpu_tune) { .shares = 2, .period_us = -5 }), 0);
        assert_int_equal(hv_cpu_tune_validate(&(struct hv_cpu_tune) {
                                 .shares = 10000, .quota_us = 1000, .period_us = 1000 }),
                         0);
        assert_int_equal(hv_cpu_tune_validate(&(struct hv_cpu_tune) {
                                 .shares = 100, .quota_us = HV_MAX_CPUS * INT64_C(1000000), .period_us = 1000000 }),
                         0);
        static const struct hv_cpu_tune bad[] = {
                { .shares = 1 },
                { .shares = 10001 },
                { .shares = 0 },
                { .shares = 1024, .quota_us = -1 },
                { .shares = 1024, .quota_us = 999, .period_us = 100000 },
                { .shares = 1024, .quota_us = 50000, .period_us = 999 },
                { .shares = 1024, .quota_us = 50000, .period_us = 1000001 },
                { .shares = 1024, .quota_us = HV_MAX_CPUS * INT64_C(100000) + 1, .period_us = 100000 },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(hv_cpu_tune_validate(&bad[i]), TIDE_E_INVALID);
        assert_int_equal(hv_cpu_tune_validate(NULL), TIDE_E_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_add_libvirt_record),      cmocka_unit_test(test_add_domain_off),
                cmocka_unit_test(test_add_device_counts),       cmocka_unit_test(test_ready_falls_back_to_wait),
                cmocka_unit_test(test_add_ignores_the_unknown), cmocka_unit_test(test_parse_loadavg),
                cmocka_unit_test(test_parse_meminfo),           cmocka_unit_test(test_cpu_tune_validate),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
