/* test_hv_xml.c — golden-file tests of hv_domain_xml() and its spec validation.
 *
 * Each case's XML is compared byte for byte with tests/hv/<case>.xml. After a deliberate
 * change to the XML, regenerate the files with TIDE_UPDATE_GOLDEN=1 and review the diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/hv.h"
#include "common/errors.h"
#include "common/util.h"

#ifndef TIDE_HV_GOLDEN_DIR
#error "TIDE_HV_GOLDEN_DIR must name the directory of the expected XML files"
#endif

static const struct hv_domain_spec base = {
        .uuid = "2f1c4a9e-3b7d-4c8e-9a1f-0123456789ab",
        .name = "tide-web-1",
        .vcpus = 2,
        .max_vcpus = 8,
        .ram_mib = 512,
        .max_ram_mib = 2048,
        .disk_path = "/var/lib/tide/instances/2f1c4a9e-3b7d-4c8e-9a1f-0123456789ab/disk.qcow2",
        .seed_path = "/var/lib/tide/instances/2f1c4a9e-3b7d-4c8e-9a1f-0123456789ab/seed.iso",
        .kernel = "/var/lib/tide/images/tiny/vmlinuz",
        .initrd = "/var/lib/tide/images/tiny/initrd.img",
        .cmdline = "console=ttyS0 root=/dev/vda rw panic=-1 quiet",
        .console_log = "/var/lib/tide/instances/2f1c4a9e-3b7d-4c8e-9a1f-0123456789ab/console.log",
        .balloon_period_s = 5,
};

static void check_golden(const struct hv_domain_spec *spec, const char *type, const char *name) {
        _cleanup_free_ char *xml = NULL;
        assert_int_equal(hv_domain_xml(spec, type, &xml), 0);
        assert_non_null(xml);

        _cleanup_free_ char *path = xasprintf("%s/%s.xml", TIDE_HV_GOLDEN_DIR, name);
        const char *update = getenv("TIDE_UPDATE_GOLDEN");
        if (update && streq(update, "1"))
                assert_int_equal(write_file_atomic(path, xml, strlen(xml), 0644), 0);

        _cleanup_free_ char *expected = NULL;
        size_t len;
        int r = read_file(path, 1 << 20, &expected, &len);
        if (r < 0)
                fail_msg("cannot read %s (%s); TIDE_UPDATE_GOLDEN=1 writes it", path, tide_strerror(r));
        if (!streq(expected, xml))
                fail_msg("%s differs from the XML built:\n%s", path, xml);
}

/* Direct kernel boot with a config drive, software emulation. */
static void test_kernel_boot_tcg(void **state) {
        check_golden(&base, "qemu", "kernel-boot-tcg");
}

/* Boot from the disk, no config drive, no balloon statistics, KVM, all vCPUs online. */
static void test_disk_boot_kvm(void **state) {
        struct hv_domain_spec s = base;
        s.seed_path = s.kernel = s.initrd = s.cmdline = NULL;
        s.balloon_period_s = 0;
        s.vcpus = s.max_vcpus = 4;
        s.ram_mib = s.max_ram_mib = 1024;
        check_golden(&s, "kvm", "disk-boot-kvm");
}

/* Names, paths and the command line are data: markup characters come out escaped. */
static void test_escaping(void **state) {
        struct hv_domain_spec s = base;
        s.name = "tide-<b>&'\"caf\xc3\xa9";
        s.disk_path = "/srv/a&b/<disk>.qcow2";
        s.seed_path = NULL;
        s.cmdline = "console=ttyS0 tide.msg=\"a<b&c>'d\"";
        s.console_log = "/srv/x\"y'/console.log";
        check_golden(&s, "qemu", "escaping");
}

static const int pins8[8] = { 4, 5, 6, 7, 12, 13, 14, 15 };

/* Every vCPU pinned to its host CPU: <cputune> with one <vcpupin> per vCPU, offline ones too. */
static void test_pinned(void **state) {
        struct hv_domain_spec s = base;
        s.pin_cpus = pins8;
        s.n_pin_cpus = 8;
        check_golden(&s, "kvm", "pinned");
}

/* Memory bound strictly to one NUMA node: <numatune>. */
static void test_numa_node(void **state) {
        struct hv_domain_spec s = base;
        s.has_numa_node = true;
        s.numa_node = 1;
        check_golden(&s, "qemu", "numa-node");
}

/* Node 0 is a binding too when has_numa_node says so. */
static void test_numa_node_zero(void **state) {
        struct hv_domain_spec s = base;
        _cleanup_free_ char *with = NULL, *without = NULL;
        s.has_numa_node = true;
        assert_int_equal(hv_domain_xml(&s, "qemu", &with), 0);
        assert_non_null(strstr(with, "<memory mode=\"strict\" nodeset=\"0\"/>"));
        s.has_numa_node = false;
        assert_int_equal(hv_domain_xml(&s, "qemu", &without), 0);
        assert_null(strstr(without, "numatune"));
}

/* RAM in hugepages: <memoryBacking><hugepages/>. */
static void test_hugepages(void **state) {
        struct hv_domain_spec s = base;
        s.hugepages = true;
        s.ram_mib = s.max_ram_mib = 1024;
        check_golden(&s, "qemu", "hugepages");
}

/* A dedicated VM as the scheduler places it: pinned inside one node, bound to it, hugepages,
 * its emulator on the shared pool (every CPU but its own, here, and 0-1 reserved). */
static void test_dedicated(void **state) {
        static const int pins2[2] = { 9, 11 };
        struct hv_domain_spec s = base;
        s.vcpus = s.max_vcpus = 2;
        s.ram_mib = s.max_ram_mib = 2048;
        s.pin_cpus = pins2;
        s.n_pin_cpus = 2;
        s.has_numa_node = true;
        s.numa_node = 1;
        s.hugepages = true;
        s.cpuset = "2-8,10,12-15";
        check_golden(&s, "kvm", "dedicated");
}

/* A shared VM kept on the shared pool: <vcpu cpuset> for the vCPUs, <emulatorpin> for the
 * emulator, no <vcpupin>; marked floating for set_cpuset(). */
static void test_shared(void **state) {
        struct hv_domain_spec s = base;
        s.cpuset = "2-7,10";
        check_golden(&s, "qemu", "shared");
}

/* Pinned without a cpuset: the vCPUs are pinned, the emulator floats; marked pinned. */
static void test_pinned_without_cpuset(void **state) {
        static const int pins2[2] = { 9, 11 };
        struct hv_domain_spec s = base;
        s.vcpus = s.max_vcpus = 2;
        s.pin_cpus = pins2;
        s.n_pin_cpus = 2;
        _cleanup_free_ char *xml = NULL;
        assert_int_equal(hv_domain_xml(&s, "qemu", &xml), 0);
        assert_non_null(strstr(xml, "<tide:vcpus>pinned</tide:vcpus>"));
        assert_non_null(strstr(xml, "<vcpu placement=\"static\" current=\"2\">2</vcpu>"));
        assert_non_null(strstr(xml, "<vcpupin vcpu=\"1\" cpuset=\"11\"/>"));
        assert_null(strstr(xml, "emulatorpin"));
}

/* The list goes into the XML as given: libvirt reads the same syntax. */
static void test_cpuset_as_given(void **state) {
        struct hv_domain_spec s = base;
        s.cpuset = "7,0-3,2";
        _cleanup_free_ char *xml = NULL;
        assert_int_equal(hv_domain_xml(&s, "qemu", &xml), 0);
        assert_non_null(strstr(xml, "<vcpu placement=\"static\" cpuset=\"7,0-3,2\" current=\"2\">8</vcpu>"));
        assert_non_null(strstr(xml, "<emulatorpin cpuset=\"7,0-3,2\"/>"));
}

/* A zero-initialised placement adds nothing: the XML of the base case. */
static void test_no_placement(void **state) {
        _cleanup_free_ char *xml = NULL;
        assert_int_equal(hv_domain_xml(&base, "qemu", &xml), 0);
        assert_null(strstr(xml, "cputune"));
        assert_null(strstr(xml, "numatune"));
        assert_null(strstr(xml, "memoryBacking"));
        assert_null(strstr(xml, "cpuset"));
        assert_non_null(strstr(xml, "<tide:vcpus>floating</tide:vcpus>"));
}

/* A virtual driver's spec needs no files; the same spec fails hv_domain_xml(). */
static void test_validate_without_files(void **state) {
        struct hv_domain_spec s = base;
        s.disk_path = s.seed_path = s.kernel = s.console_log = NULL;
        assert_int_equal(hv_domain_spec_validate(&s, false), 0);
        assert_int_equal(hv_domain_spec_validate(&s, true), TIDE_E_INVALID);
        s.initrd = "relative"; /* file fields are not looked at */
        assert_int_equal(hv_domain_spec_validate(&s, false), 0);
        s.vcpus = 0; /* the rest is */
        assert_int_equal(hv_domain_spec_validate(&s, false), TIDE_E_INVALID);
        assert_int_equal(hv_domain_spec_validate(NULL, false), TIDE_E_INVALID);
        assert_int_equal(hv_domain_spec_validate(&base, true), 0);
}

/* The limits themselves are accepted. */
static void test_limits_accepted(void **state) {
        struct hv_domain_spec s = base;
        _cleanup_free_ char *a = NULL, *b = NULL;
        s.vcpus = s.max_vcpus = HV_MAX_VCPUS;
        s.ram_mib = HV_MIN_RAM_MIB;
        s.max_ram_mib = HV_MAX_RAM_MIB;
        assert_int_equal(hv_domain_xml(&s, "qemu", &a), 0);
        s.vcpus = s.max_vcpus = 1;
        s.ram_mib = s.max_ram_mib = HV_MIN_RAM_MIB;
        assert_int_equal(hv_domain_xml(&s, "kvm", &b), 0);

        _cleanup_free_ char *c = NULL;
        int pins[HV_MAX_VCPUS];
        for (int i = 0; i < HV_MAX_VCPUS; i++)
                pins[i] = HV_MAX_CPUS - 1 - i;
        s.vcpus = s.max_vcpus = s.n_pin_cpus = HV_MAX_VCPUS;
        s.pin_cpus = pins;
        s.has_numa_node = true;
        s.numa_node = HV_MAX_NUMA_NODES - 1;
        s.hugepages = true;
        s.cpuset = "0-1023";
        assert_int_equal(hv_domain_xml(&s, "kvm", &c), 0);
        assert_non_null(strstr(c, "<vcpupin vcpu=\"254\" cpuset=\"769\"/>"));
        assert_non_null(strstr(c, "<emulatorpin cpuset=\"0-1023\"/>"));
}

static void expect_invalid(const struct hv_domain_spec *s, const char *type) {
        char *xml = (char *) 0x1; /* must stay untouched */
        assert_int_equal(hv_domain_xml(s, type, &xml), TIDE_E_INVALID);
        assert_ptr_equal(xml, (char *) 0x1);
}

#define INVALID(field_assignment) \
        do { \
                struct hv_domain_spec s = base; \
                field_assignment; \
                expect_invalid(&s, "qemu"); \
        } while (0)

static void test_invalid_specs(void **state) {
        expect_invalid(NULL, "qemu");
        expect_invalid(&base, NULL);
        expect_invalid(&base, "xen");
        expect_invalid(&base, "");

        INVALID(s.uuid = NULL);
        INVALID(s.uuid = "");
        INVALID(s.uuid = "2f1c4a9e-3b7d-4c8e-9a1f-0123456789a");  /* short */
        INVALID(s.uuid = "2F1C4A9E-3B7D-4C8E-9A1F-0123456789AB"); /* not canonical */
        INVALID(s.uuid = "2f1c4a9e+3b7d-4c8e-9a1f-0123456789ab");
        INVALID(s.uuid = "2f1c4a9e-3b7d-4c8e-9a1f-0123456789ag");

        INVALID(s.name = NULL);
        INVALID(s.name = "");
        INVALID(s.name = "web-1");            /* no prefix */
        INVALID(s.name = DOMAIN_NAME_PREFIX); /* prefix only */
        INVALID(s.name = "tide-a/b");
        INVALID(s.name = "tide-a\nb");
        INVALID(s.name = "tide-\xc3\x28"); /* bad UTF-8 */

        INVALID(s.vcpus = 0);
        INVALID(s.vcpus = -1);
        INVALID((s.vcpus = 9, s.max_vcpus = 8));
        INVALID(s.max_vcpus = HV_MAX_VCPUS + 1);

        INVALID(s.ram_mib = HV_MIN_RAM_MIB - 1);
        INVALID((s.ram_mib = 4096, s.max_ram_mib = 2048));
        INVALID(s.max_ram_mib = HV_MAX_RAM_MIB + 1);

        INVALID(s.disk_path = NULL);
        INVALID(s.disk_path = "");
        INVALID(s.disk_path = "disk.qcow2");
        INVALID(s.console_log = NULL);
        INVALID(s.console_log = "console.log");
        INVALID(s.seed_path = "seed.iso");
        INVALID(s.kernel = "vmlinuz");
        INVALID(s.initrd = "initrd.img");
        INVALID(s.disk_path = "/a\tb");

        INVALID((s.kernel = NULL, s.cmdline = NULL)); /* initrd without a kernel */
        INVALID((s.kernel = NULL, s.initrd = NULL));  /* cmdline without a kernel */
        INVALID(s.cmdline = "console=ttyS0\r\n");

        INVALID(s.balloon_period_s = -1);
        INVALID(s.balloon_period_s = 3601);

        static const int pins[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
        static const int bad_pin[8] = { 0, 1, 2, 3, 4, 5, 6, HV_MAX_CPUS };
        static const int neg_pin[8] = { 0, 1, 2, 3, 4, 5, -1, 7 };
        INVALID(s.pin_cpus = pins);                     /* n_pin_cpus 0 */
        INVALID(s.n_pin_cpus = 8);                      /* no array */
        INVALID((s.pin_cpus = pins, s.n_pin_cpus = 2)); /* vcpus, not max_vcpus */
        INVALID((s.pin_cpus = pins, s.n_pin_cpus = -8));
        INVALID((s.pin_cpus = bad_pin, s.n_pin_cpus = 8));
        INVALID((s.pin_cpus = neg_pin, s.n_pin_cpus = 8));
        INVALID(s.numa_node = 1); /* without has_numa_node */
        INVALID((s.has_numa_node = true, s.numa_node = -1));
        INVALID((s.has_numa_node = true, s.numa_node = HV_MAX_NUMA_NODES));
        INVALID((s.hugepages = true, s.max_ram_mib = 2047)); /* not whole 2 MiB pages */
        INVALID(s.cpuset = "");                              /* NULL for any CPU */
        INVALID(s.cpuset = "2-7,");
        INVALID(s.cpuset = "7-2");
        INVALID(s.cpuset = "0-1024"); /* beyond HV_MAX_CPUS */
        INVALID(s.cpuset = "0-3\"/><x");
        INVALID((s.pin_cpus = pins, s.n_pin_cpus = 8, s.cpuset = "all"));

        _cleanup_free_ char *long_line = xmalloc(4096);
        memset(long_line, 'x', 4095);
        long_line[4095] = '\0';
        INVALID(s.cmdline = long_line);
}

static void test_state_names(void **state) {
        assert_string_equal(hv_state_to_string(HV_STATE_RUNNING), "running");
        assert_string_equal(hv_state_to_string(HV_STATE_SHUTOFF), "shutoff");
        assert_string_equal(hv_state_to_string(HV_STATE_PMSUSPENDED), "pmsuspended");
        for (int s = 0; s < HV_STATE_MAX; s++)
                assert_non_null(hv_state_to_string((enum hv_state) s));
        assert_string_equal(hv_state_to_string(HV_STATE_MAX), "unknown");
        assert_string_equal(hv_state_to_string((enum hv_state) - 1), "unknown");
}

static void test_clear_accepts_null(void **state) {
        hv_host_info_clear(NULL);
        hv_domain_info_clear(NULL);
        hv_domain_info_array_free(NULL, 3);

        struct hv_domain_info *a = xcalloc(2, sizeof *a);
        a[0].uuid = xstrdup(base.uuid);
        a[1].name = xstrdup(base.name);
        hv_domain_info_array_free(a, 2); /* no leak under valgrind/ASan */

        struct hv_host_info h = { .hostname = xstrdup("h"), .n_numa = 2, .numa_nodes = 2 };
        h.numa = xcalloc(2, sizeof *h.numa);
        h.numa[0].cpus = xstrdup("0-3");
        h.numa[1].cpus = NULL;
        hv_host_info_clear(&h); /* frees the nodes too */
        assert_null(h.numa);
        assert_int_equal(h.n_numa, 0);
}

/* The table: libvirt first, the simulator second; sim: URIs choose the simulator. */
static void test_driver_table(void **state) {
        assert_ptr_equal(hv_drivers[0], &hv_libvirt_driver);
        assert_ptr_equal(hv_drivers[1], &hv_sim_driver);
        assert_null(hv_drivers[2]);
        assert_false(hv_libvirt_driver.virtual);
        assert_true(hv_sim_driver.virtual);
        assert_ptr_equal(hv_driver_for_uri("sim:///h1?cpus=4"), &hv_sim_driver);
        assert_ptr_equal(hv_driver_for_uri("qemu:///system"), &hv_libvirt_driver);
        assert_ptr_equal(hv_driver_for_uri(NULL), &hv_libvirt_driver);
}

static void test_detect_accel(void **state) {
        const char *why = NULL;
        const char *accel = hv_detect_accel(&why);
        assert_true(streq(accel, "kvm") || streq(accel, "tcg"));
        assert_non_null(why);
        if (access("/sys/module/kvm_pvm", F_OK) == 0)
                assert_string_equal(accel, "tcg");
        assert_string_equal(hv_detect_accel(NULL), accel);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kernel_boot_tcg),
                cmocka_unit_test(test_disk_boot_kvm),
                cmocka_unit_test(test_escaping),
                cmocka_unit_test(test_pinned),
                cmocka_unit_test(test_numa_node),
                cmocka_unit_test(test_numa_node_zero),
                cmocka_unit_test(test_hugepages),
                cmocka_unit_test(test_dedicated),
                cmocka_unit_test(test_shared),
                cmocka_unit_test(test_pinned_without_cpuset),
                cmocka_unit_test(test_cpuset_as_given),
                cmocka_unit_test(test_no_placement),
                cmocka_unit_test(test_validate_without_files),
                cmocka_unit_test(test_limits_accepted),
                cmocka_unit_test(test_invalid_specs),
                cmocka_unit_test(test_state_names),
                cmocka_unit_test(test_clear_accepts_null),
                cmocka_unit_test(test_detect_accel),
                cmocka_unit_test(test_driver_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
