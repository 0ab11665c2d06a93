/* test_hv_libvirt.c — the libvirt driver against real libvirt and QEMU (embedded driver).
 *
 * Boots the tiny guest (TIDE_GUEST_DIR: tiny.qcow2, vmlinuz, initrd.img, cmdline; see
 * scripts/mkimage) under a temporary state directory and walks it through the driver's
 * whole lifecycle. The phases that talk to libvirt run in child processes, because the
 * embedded driver stays bound to its root (and holds its lock) until the process exits:
 *
 *   A  opens the embedded driver, reads the host's NUMA topology, times define+start, starts
 *      a domain pinned to the last CPU and bound to the first NUMA node (and checks its vCPU
 *      threads' affinity), checks what start() refuses, moves a floating and a pinned domain
 *      between CPU sets with set_cpuset() (checking every QEMU thread's affinity), defines
 *      and starts the test domain, then dies by SIGTERM without closing anything (an agent
 *      being killed);
 *   -  the parent sees the guest print TIDE-GUEST-READY on its console log;
 *   B  a new process adopts the running domain, checks list/domain_info, its statistics and
 *      the host's (and times stats() with one and three guests), hot-adds a vCPU (and
 *      removes it where the accelerator allows), moves the balloon and sets CPU shares and
 *      quota, each seen from inside the guest or read back, moves it to CPU 0, resets it,
 *      shuts it down by ACPI, checks idempotence, restarts it with the vCPUs and memory set,
 *      undefines it;
 *   -  the parent checks no QEMU of the test is left, and removes the directory.
 *
 * Exit 77 (skipped) without a guest, without root or without QEMU. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/hv.h"
#include "common/errors.h"
#include "common/proc.h"
#include "common/util.h"

#define READY_MARKER "TIDE-GUEST-READY"
#define BOOT_TIMEOUT_MS 90000
#define SHUTDOWN_TIMEOUT_MS 60000
#define BENCH_ROUNDS 5

static char *state_dir, *uri, *guest_dir, *disk, *console_log, *kernel, *initrd, *cmdline;
static char *uuid, *name;

#define CHECK(cond) \
        do { \
                if (!(cond)) { \
                        fprintf(stderr, "%s:%d: check failed: %s (last hypervisor error: %s)\n", __FILE__, __LINE__, \
                                #cond, hv_last_error()); \
                        exit(1); \
                } \
        } while (0)

#define CHECK_R(expr, expected) \
        do { \
                int _r = (expr); \
                if (_r != (expected)) { \
                        fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n", __FILE__, __LINE__, #expr, \
                                _r, hv_last_error(), (expected), tide_strerror(expected)); \
                        exit(1); \
                } \
        } while (0)

static void sleep_ms(int ms) {
        nanosleep(&(struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L }, NULL);
}

static int count_markers(void) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (read_file(console_log, 16u << 20, &text, &len) < 0)
                return 0;
        int n = 0;
        for (const char *p = text; (p = strstr(p, READY_MARKER)); p += strlen(READY_MARKER))
                n++;
        return n;
}

static bool wait_markers(int n) {
        int64_t deadline = mono_ms() + BOOT_TIMEOUT_MS;
        while (mono_ms() < deadline) {
                if (count_markers() >= n)
                        return true;
                sleep_ms(200);
        }
        return false;
}

static struct hv_domain_spec spec_for(const char *id, const char *dom_name, const char *disk_path) {
        return (struct hv_domain_spec) {
                .uuid = id,
                .name = dom_name,
                .vcpus = 1,
                .max_vcpus = 2,
                .ram_mib = 192,
                .max_ram_mib = 256,
                .disk_path = disk_path,
                .kernel = kernel,
                .initrd = initrd,
                .cmdline = cmdline,
                .console_log = console_log,
                .balloon_period_s = 2,
        };
}

static int create_overlay(const char *path) {
        _cleanup_free_ char *image = xasprintf("%s/tiny.qcow2", guest_dir);
        char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image, (char *) path, NULL };
        _cleanup_free_ char *err = NULL;
        int r = proc_run(argv, 60000, NULL, &err);
        if (r != 0)
                fprintf(stderr, "qemu-img: %d: %s\n", r, err ? err : "");
        return r == 0 ? 0 : -EIO;
}

static bool list_has(struct hv_conn *c, const char *id, enum hv_state *ret_state) {
        const struct hv_driver *d = hv_conn_driver(c);
        struct hv_domain_info *l = NULL;
        size_t n = 0;
        CHECK_R(d->list(c, &l, &n), 0);
        bool found = false;
        for (size_t i = 0; i < n; i++) {
                CHECK(startswith(l[i].name, DOMAIN_NAME_PREFIX));
                if (streq(l[i].uuid, id)) {
                        found = true;
                        if (ret_state)
                                *ret_state = l[i].state;
                }
        }
        hv_domain_info_array_free(l, n);
        return found;
}

static int cmp_int64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

/* Define+start of a throwaway domain, BENCH_ROUNDS times; prints the median. */
static void bench_define_start(struct hv_conn *c) {
        const struct hv_driver *d = hv_conn_driver(c);
        _cleanup_free_ char *id = id_new_uuid();
        _cleanup_free_ char *bname = xasprintf("%s-bench", name);
        _cleanup_free_ char *bdisk = xasprintf("%s/bench.qcow2", state_dir);
        CHECK(create_overlay(bdisk) == 0);
        struct hv_domain_spec s = spec_for(id, bname, bdisk);
        _cleanup_free_ char *blog = xasprintf("%s/bench-console.log", state_dir);
        s.console_log = blog;
        int64_t def_us[BENCH_ROUNDS], start_us[BENCH_ROUNDS], total_us[BENCH_ROUNDS];
        for (int i = 0; i < BENCH_ROUNDS; i++) {
                int64_t t0 = mono_us();
                CHECK_R(d->define(c, &s), 0);
                int64_t t1 = mono_us();
                CHECK_R(d->start(c, id), 0);
                int64_t t2 = mono_us();
                def_us[i] = t1 - t0;
                start_us[i] = t2 - t1;
                total_us[i] = t2 - t0;
                CHECK_R(d->undefine(c, id), 0);
        }
        qsort(def_us, BENCH_ROUNDS, sizeof def_us[0], cmp_int64);
        qsort(start_us, BENCH_ROUNDS, sizeof start_us[0], cmp_int64);
        qsort(total_us, BENCH_ROUNDS, sizeof total_us[0], cmp_int64);
        printf("define+start median of %d: %.1f ms (define %.1f ms, start %.1f ms; min %.1f, max %.1f)\n", BENCH_ROUNDS,
               total_us[BENCH_ROUNDS / 2] / 1000.0, def_us[BENCH_ROUNDS / 2] / 1000.0,
               start_us[BENCH_ROUNDS / 2] / 1000.0, total_us[0] / 1000.0, total_us[BENCH_ROUNDS - 1] / 1000.0);
        fflush(stdout);
}

/* The pid of the QEMU running dom_name, from the embedded driver's pid file; -1 if none. */
static pid_t qemu_pid_of(const char *dom_name) {
        _cleanup_free_ char *path = xasprintf("%s/libvirt/run/qemu/%s.pid", state_dir, dom_name);
        _cleanup_free_ char *text = NULL;
        size_t len;
        int64_t pid;
        if (read_file(path, 64, &text, &len) < 0)
                return -1;
        text[strcspn(text, "\n")] = '\0';
        return parse_int64(text, 1, INT32_MAX, &pid) < 0 ? -1 : (pid_t) pid;
}

static pid_t qemu_pid(void) {
        return qemu_pid_of(name);
}

/* The CPU affinity list of the QEMU thread named thread_name ("CPU 0/TCG"), or NULL. */
static char *thread_affinity(pid_t pid, const char *thread_name) {
        _cleanup_free_ char *dir_path = xasprintf("/proc/%d/task", (int) pid);
        DIR *dir = opendir(dir_path);
        if (!dir)
                return NULL;
        char *found = NULL;
        struct dirent *de;
        while (!found && (de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *comm_path = xasprintf("%s/%s/comm", dir_path, de->d_name);
                _cleanup_free_ char *status_path = xasprintf("%s/%s/status", dir_path, de->d_name);
                _cleanup_free_ char *comm = NULL, *status = NULL;
                size_t len;
                if (read_file(comm_path, 256, &comm, &len) < 0 || read_file(status_path, 1 << 16, &status, &len) < 0)
                        continue;
                comm[strcspn(comm, "\n")] = '\0';
                const char *p = strstr(status, "Cpus_allowed_list:");
                if (!streq(comm, thread_name) || !p)
                        continue;
                p += strlen("Cpus_allowed_list:");
                p += strspn(p, " \t");
                found = xstrndup(p, strcspn(p, "\n"));
        }
        closedir(dir);
        return found;
}

/* Pinning and NUMA binding under the embedded driver: a domain with every vCPU on the
 * host's last CPU and its memory strictly on the first node starts, and its vCPU thread
 * runs only there. start() refuses a CPU or node the host lacks, and hugepages where none
 * are set up. */
static void check_placement(struct hv_conn *c, const struct hv_host_info *hi) {
        const struct hv_driver *d = hv_conn_driver(c);
        _cleanup_free_ char *id = id_new_uuid();
        _cleanup_free_ char *pname = xasprintf("%s-pinned", name);
        _cleanup_free_ char *pdisk = xasprintf("%s/pinned.qcow2", state_dir);
        _cleanup_free_ char *plog = xasprintf("%s/pinned-console.log", state_dir);
        CHECK(create_overlay(pdisk) == 0);
        int last = hi->cpus - 1;
        const int pins[2] = { last, last };
        struct hv_domain_spec s = spec_for(id, pname, pdisk);
        s.console_log = plog;
        s.pin_cpus = pins;
        s.n_pin_cpus = 2;
        s.has_numa_node = true;
        s.numa_node = hi->numa[0].id;
        CHECK_R(d->define(c, &s), 0);
        CHECK_R(d->start(c, id), 0);
        struct hv_domain_info di = {};
        CHECK_R(d->domain_info(c, id, &di), 0);
        CHECK(di.state == HV_STATE_RUNNING);
        hv_domain_info_clear(&di);
        pid_t pid = qemu_pid_of(pname);
        CHECK(pid > 0);
        _cleanup_free_ char *thread = xasprintf("CPU 0/%s", streq(hi->accel, "kvm") ? "KVM" : "TCG");
        _cleanup_free_ char *want = xasprintf("%d", last);
        _cleanup_free_ char *aff = thread_affinity(pid, thread);
        CHECK(aff && streq(aff, want));
        printf("pinned domain runs: vCPU 0 (thread '%s') on CPU %s, memory strictly on node %d\n", thread, aff,
               s.numa_node);
        CHECK_R(d->undefine(c, id), 0);

        /* What the host lacks fails at start, not at define. */
        const int beyond[2] = { hi->cpus, hi->cpus };
        s.pin_cpus = beyond;
        CHECK_R(d->define(c, &s), 0);
        CHECK_R(d->start(c, id), TIDE_E_BACKEND);
        printf("pinned to CPU %d: %s\n", hi->cpus, hv_last_error());
        s.pin_cpus = pins;
        s.numa_node = hi->numa[hi->n_numa - 1].id + 1;
        CHECK_R(d->define(c, &s), 0);
        CHECK_R(d->start(c, id), TIDE_E_BACKEND);
        printf("bound to NUMA node %d: %s\n", s.numa_node, hv_last_error());
        int64_t huge = 0;
        for (int i = 0; i < hi->n_numa; i++)
                huge += hi->numa[i].hugepages_mib;
        if (huge == 0) {
                s.numa_node = hi->numa[0].id;
                s.hugepages = true;
                s.ram_mib = s.max_ram_mib;
                CHECK_R(d->define(c, &s), 0);
                CHECK_R(d->start(c, id), TIDE_E_BACKEND);
                printf("hugepages on a host without them: %s\n", hv_last_error());
        }
        CHECK_R(d->undefine(c, id), 0);

        /* A name belongs to one UUID. */
        _cleanup_free_ char *other = id_new_uuid();
        struct hv_domain_spec clash = spec_for(other, pname, pdisk);
        clash.console_log = plog;
        CHECK_R(d->define(c, &s), 0);
        CHECK_R(d->define(c, &clash), TIDE_E_EXISTS);
        CHECK(*hv_last_error());
        CHECK_R(d->undefine(c, id), 0);
        CHECK_R(d->define(c, &clash), 0);
        CHECK_R(d->undefine(c, other), 0);
}

/* Whether every thread of QEMU pid may run exactly where it should: its vCPU threads
 * ("CPU n/TCG", "CPU n/KVM") on vcpu_want, the others (the emulator: main loop, I/O, RCU,
 * workers) on emu_want, as Cpus_allowed_list writes CPU lists. Prints what differs. */
static bool threads_on(pid_t pid, const char *vcpu_want, const char *emu_want) {
        _cleanup_free_ char *dir_path = xasprintf("/proc/%d/task", (int) pid);
        DIR *dir = opendir(dir_path);
        if (!dir)
                return false;
        bool ok = true;
        int n_vcpu = 0, n_emu = 0;
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *comm_path = xasprintf("%s/%s/comm", dir_path, de->d_name);
                _cleanup_free_ char *status_path = xasprintf("%s/%s/status", dir_path, de->d_name);
                _cleanup_free_ char *comm = NULL, *status = NULL;
                size_t len;
                if (read_file(comm_path, 256, &comm, &len) < 0 || read_file(status_path, 1 << 16, &status, &len) < 0)
                        continue; /* the thread ended meanwhile */
                comm[strcspn(comm, "\n")] = '\0';
                const char *p = strstr(status, "Cpus_allowed_list:");
                if (!p)
                        continue;
                p += strlen("Cpus_allowed_list:");
                p += strspn(p, " \t");
                _cleanup_free_ char *aff = xstrndup(p, strcspn(p, "\n"));
                bool vcpu = startswith(comm, "CPU ") && (endswith(comm, "/TCG") || endswith(comm, "/KVM"));
                const char *want = vcpu ? vcpu_want : emu_want;
                if (vcpu)
                        n_vcpu++;
                else
                        n_emu++;
                if (!streq(aff, want)) {
                        fprintf(stderr, "thread %s '%s' may run on CPUs %s, not %s\n", de->d_name, comm, aff, want);
                        ok = false;
                }
        }
        closedir(dir);
        return ok && n_vcpu > 0 && n_emu > 0;
}

/* Whether the file at path (under the embedded root) contains every string of want. */
static bool file_has(const char *path, const char *const *want, size_t n) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (read_file(path, 1 << 20, &text, &len) < 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strstr(text, want[i])) {
                        fprintf(stderr, "%s lacks %s\n", path, want[i]);
                        return false;
                }
        return true;
}

/* The shared pool moves: set_cpuset() moves a floating domain's vCPUs (the offline one too)
 * and emulator live and in its definition, or only its definition while it is off, and only
 * the emulator of a pinned domain. Needs two CPUs. */
static void check_cpuset(struct hv_conn *c, const struct hv_host_info *hi) {
        if (hi->cpus < 2) {
                printf("set_cpuset not checked: the host has one CPU\n");
                return;
        }
        const struct hv_driver *d = hv_conn_driver(c);
        _cleanup_free_ char *id = id_new_uuid();
        _cleanup_free_ char *fname = xasprintf("%s-floating", name);
        _cleanup_free_ char *fdisk = xasprintf("%s/floating.qcow2", state_dir);
        _cleanup_free_ char *flog = xasprintf("%s/floating-console.log", state_dir);
        _cleanup_free_ char *config = xasprintf("%s/libvirt/etc/qemu/%s.xml", state_dir, fname);
        _cleanup_free_ char *status = xasprintf("%s/libvirt/run/qemu/%s.xml", state_dir, fname);
        CHECK(create_overlay(fdisk) == 0);
        struct hv_domain_spec s = spec_for(id, fname, fdisk); /* vCPU 0 online, vCPU 1 not */
        s.console_log = flog;
        s.cpuset = "0";
        CHECK_R(d->define(c, &s), 0);
        CHECK_R(d->start(c, id), 0);
        pid_t pid = qemu_pid_of(fname);
        CHECK(pid > 0);
        CHECK(threads_on(pid, "0", "0"));

        CHECK_R(d->set_cpuset(c, id, "1"), 0);
        CHECK(threads_on(pid, "1", "1"));
        static const char *const moved[] = { "<vcpupin vcpu='0' cpuset='1'/>", "<vcpupin vcpu='1' cpuset='1'/>",
                                             "<emulatorpin cpuset='1'/>" };
        CHECK(file_has(config, moved, ELEMENTSOF(moved))); /* the persistent definition */
        CHECK(file_has(status, moved, ELEMENTSOF(moved))); /* the running one, offline vCPU 1 too */
        printf("floating domain moved live from CPU 0 to CPU 1, its definition too\n");
        CHECK_R(d->set_cpuset(c, id, "1"), 0); /* idempotent */
        CHECK(threads_on(pid, "1", "1"));

        CHECK_R(d->set_cpuset(c, id, NULL), TIDE_E_INVALID);
        CHECK_R(d->set_cpuset(c, id, "1-"), TIDE_E_INVALID);
        CHECK_R(d->set_cpuset(c, id, ""), TIDE_E_INVALID);
        _cleanup_free_ char *other = id_new_uuid();
        CHECK_R(d->set_cpuset(c, other, "0"), TIDE_E_NOT_FOUND);
        _cleanup_free_ char *beyond = xasprintf("0,%d", hi->cpus);
        CHECK_R(d->set_cpuset(c, id, beyond), TIDE_E_BACKEND); /* and nothing changes */
        printf("set_cpuset %s: %s\n", beyond, hv_last_error());
        CHECK(threads_on(pid, "1", "1"));
        CHECK(file_has(config, moved, ELEMENTSOF(moved)));

        /* Off: only the definition changes, and the next start follows it. */
        CHECK_R(d->destroy(c, id), 0);
        CHECK_R(d->set_cpuset(c, id, "0"), 0);
        static const char *const back[] = { "<vcpupin vcpu='1' cpuset='0'/>", "<emulatorpin cpuset='0'/>" };
        CHECK(file_has(config, back, ELEMENTSOF(back)));
        CHECK_R(d->start(c, id), 0);
        pid = qemu_pid_of(fname);
        CHECK(pid > 0);
        CHECK(threads_on(pid, "0", "0"));
        _cleanup_free_ char *all = xasprintf("0-%d", hi->cpus - 1);
        CHECK_R(d->set_cpuset(c, id, all), 0);
        CHECK(threads_on(pid, all, all));
        printf("set while off, started on CPU 0, then moved to %s\n", all);
        CHECK_R(d->undefine(c, id), 0);
        CHECK_R(d->set_cpuset(c, id, "0"), TIDE_E_NOT_FOUND);

        /* A dedicated domain: vCPUs on CPU 1, the emulator on the pool; a new pool moves
         * only the emulator. */
        const int pins[2] = { 1, 1 };
        s.pin_cpus = pins;
        s.n_pin_cpus = 2;
        CHECK_R(d->define(c, &s), 0);
        CHECK_R(d->start(c, id), 0);
        pid = qemu_pid_of(fname);
        CHECK(pid > 0);
        CHECK(threads_on(pid, "1", "0"));
        CHECK_R(d->set_cpuset(c, id, "0-1"), 0);
        CHECK(threads_on(pid, "1", "0-1"));
        static const char *const pinned[] = { "<vcpupin vcpu='0' cpuset='1'/>", "<vcpupin vcpu='1' cpuset='1'/>",
                                              "<emulatorpin cpuset='0-1'/>" };
        CHECK(file_has(config, pinned, ELEMENTSOF(pinned)));
        printf("pinned domain: vCPUs stay on CPU 1, emulator moved from CPU 0 to 0-1\n");
        CHECK_R(d->undefine(c, id), 0);

        /* A cpuset with a CPU the host lacks fails at start, as a pinned CPU does. */
        s.pin_cpus = NULL;
        s.n_pin_cpus = 0;
        s.cpuset = beyond;
        CHECK_R(d->define(c, &s), 0);
        CHECK_R(d->start(c, id), TIDE_E_BACKEND);
        printf("cpuset %s at start: %s\n", beyond, hv_last_error());
        CHECK_R(d->undefine(c, id), 0);
}

/* ---- statistics and elastic controls ---- */

#define ELASTIC_TIMEOUT_MS 20000

/* The last heartbeat the guest printed after byte from of its console log. */
struct heartbeat {
        int64_t seq, cpus, mem_avail_kib, mem_total_kib;
        int64_t mem_kib; /* what the guest can use: MemTotal less what the balloon holds
                             * (with deflate-on-OOM the balloon leaves MemTotal alone) */
};

static size_t console_size(void) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        return read_file(console_log, 16u << 20, &text, &len) < 0 ? 0 : len;
}

static int64_t field_of(const char *line, const char *key) {
        const char *p = strstr(line, key);
        int64_t v = -1;
        if (!p)
                return -1;
        p += strlen(key);
        _cleanup_free_ char *num = xstrndup(p, strspn(p, "0123456789"));
        return parse_int64(num, 0, INT64_MAX, &v) < 0 ? -1 : v;
}

static bool last_heartbeat(size_t from, struct heartbeat *ret) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (read_file(console_log, 16u << 20, &text, &len) < 0 || from >= len)
                return false;
        bool found = false;
        for (char *line = text + from; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                if (startswith(line, "TIDE-HEARTBEAT ") && strchr(line, '\r')) { /* a whole line */
                        struct heartbeat hb = {
                                .seq = field_of(line, " seq="),
                                .cpus = field_of(line, " cpus="),
                                .mem_avail_kib = field_of(line, " mem_avail_kib="),
                                .mem_total_kib = field_of(line, " mem_total_kib="),
                        };
                        int64_t balloon = field_of(line, " balloon_kib=");
                        hb.mem_kib = hb.mem_total_kib - (balloon > 0 ? balloon : 0);
                        if (hb.seq > 0 && hb.cpus > 0 && hb.mem_total_kib > 0 && balloon >= 0) {
                                *ret = hb;
                                found = true;
                        }
                }
                line = nl ? nl + 1 : NULL;
        }
        return found;
}

/* Waits for a heartbeat after from with cpus == want_cpus (when > 0) and mem_kib
 * below mem_below (when > 0) or above mem_above (when > 0); the ms it took, or -1. */
static int64_t wait_heartbeat(size_t from, int64_t want_cpus, int64_t mem_below, int64_t mem_above,
                              struct heartbeat *ret) {
        int64_t t0 = mono_ms();
        while (mono_ms() - t0 < ELASTIC_TIMEOUT_MS) {
                struct heartbeat hb;
                if (last_heartbeat(from, &hb) && (want_cpus <= 0 || hb.cpus == want_cpus) &&
                    (mem_below <= 0 || hb.mem_kib < mem_below) && (mem_above <= 0 || hb.mem_kib > mem_above)) {
                        if (ret)
                                *ret = hb;
                        return mono_ms() - t0;
                }
                sleep_ms(100);
        }
        return -1;
}

/* stats() of the domain id, into ret (caller clears); false when it is not listed. Every
 * domain listed is one of tide's. */
static bool stats_of(struct hv_conn *c, const char *id, struct hv_domain_stats *ret) {
        struct hv_domain_stats *all = NULL;
        size_t n = 0;
        CHECK_R(hv_conn_driver(c)->stats(c, &all, &n), 0);
        bool found = false;
        for (size_t i = 0; i < n; i++) {
                CHECK(startswith(all[i].name, DOMAIN_NAME_PREFIX) && all[i].sample_ns > 0);
                if (streq(all[i].uuid, id)) {
                        *ret = all[i];
                        all[i] = (struct hv_domain_stats) {};
                        found = true;
                }
        }
        hv_domain_stats_array_free(all, n);
        return found;
}

static void print_stats(const struct hv_domain_stats *s) {
        printf("  stats of %s: state %s, cpu %.2f s (user/system %s), vCPUs %d of %d, vcpu.N.wait %s, "
               "vcpu.N.delay %s, ready %.3f s; balloon %lld of %lld KiB; guest memory %s",
               s->name, hv_state_to_string(s->state), s->cpu_time_ns / 1e9, s->has_cpu_split ? "given" : "absent",
               s->vcpus_current, s->vcpus_max, s->has_vcpu_wait ? "present" : "absent",
               s->has_vcpu_delay ? "present" : "absent", s->ready_ns / 1e9, (long long) s->balloon_current_kib,
               (long long) s->balloon_maximum_kib, s->has_guest_mem ? "present" : "absent");
        if (s->has_guest_mem)
                printf(" (available %lld, unused %lld, usable %lld KiB)", (long long) s->available_kib,
                       (long long) s->unused_kib, (long long) s->usable_kib);
        printf("; rss %s %lld KiB; block %s (%lld B read, %lld B written); net %s\n", s->has_rss ? "present" : "absent",
               (long long) s->rss_kib, s->has_block ? "present" : "absent", (long long) s->block_rd_bytes,
               (long long) s->block_wr_bytes, s->has_net ? "present" : "absent");
        for (int i = 0; i < s->n_vcpu; i++)
                printf("    vCPU %d: %s, time %.2f s, wait %lld ns, delay %lld ns\n", i,
                       s->vcpu[i].online ? "online" : "offline", s->vcpu[i].time_ns / 1e9,
                       (long long) s->vcpu[i].wait_ns, (long long) s->vcpu[i].delay_ns);
}

/* What the running test domain reports, and the host. */
static void check_stats(struct hv_conn *c) {
        const struct hv_driver *d = hv_conn_driver(c);
        struct hv_domain_stats s = {};
        /* The guest reports its memory every balloon_period_s (2 s). */
        int64_t t0 = mono_ms();
        for (;;) {
                CHECK(stats_of(c, uuid, &s));
                if (s.has_guest_mem || mono_ms() - t0 > ELASTIC_TIMEOUT_MS)
                        break;
                hv_domain_stats_clear(&s);
                sleep_ms(200);
        }
        print_stats(&s);
        CHECK(s.state == HV_STATE_RUNNING && s.has_cpu && s.cpu_time_ns > 0);
        CHECK(s.vcpus_current == 1 && s.vcpus_max == 2 && s.n_vcpu == 2);
        CHECK(s.vcpu[0].online && !s.vcpu[1].online && s.vcpu[0].time_ns > 0);
        CHECK(s.vcpu_time_ns <= s.cpu_time_ns); /* the domain's total has the emulator too */
        CHECK(s.has_balloon && s.balloon_current_kib == 192 * 1024 && s.balloon_maximum_kib == 256 * 1024);
        CHECK(s.has_guest_mem && s.available_kib > 0 &&
              s.available_kib <= s.balloon_maximum_kib); /* may still be inflating */
        CHECK(s.usable_kib > 0 && s.usable_kib <= s.available_kib && s.unused_kib <= s.available_kib);
        CHECK(s.has_rss && s.rss_kib > 0);
        CHECK(s.has_block && s.block_rd_bytes > 0 && s.block_rd_reqs > 0);
        CHECK(s.has_net && s.net_rx_bytes == 0); /* no NIC */
        int64_t cpu0 = s.cpu_time_ns;
        hv_domain_stats_clear(&s);
        sleep_ms(1000);
        CHECK(stats_of(c, uuid, &s));
        CHECK(s.cpu_time_ns > cpu0);
        hv_domain_stats_clear(&s);

        struct hv_host_stats h = {}, h2 = {};
        CHECK_R(d->host_stats(c, &h), 0);
        sleep_ms(500);
        CHECK_R(d->host_stats(c, &h2), 0);
        printf("  host: %d CPUs, user %.1f s, system %.1f s, idle %.1f s, iowait %.1f s; memory %lld KiB, free %lld, "
               "available %lld, cached %lld, buffers %lld; load %.2f %.2f %.2f\n",
               h.cpus, h.cpu_user_ns / 1e9, h.cpu_system_ns / 1e9, h.cpu_idle_ns / 1e9, h.cpu_iowait_ns / 1e9,
               (long long) h.mem_total_kib, (long long) h.mem_free_kib, (long long) h.mem_available_kib,
               (long long) h.mem_cached_kib, (long long) h.mem_buffers_kib, h.load1, h.load5, h.load15);
        CHECK(h.cpus > 0 && h.mem_total_kib > 0 && h.mem_free_kib > 0 && h.mem_free_kib <= h.mem_total_kib);
        CHECK(h.mem_available_kib >= h.mem_free_kib && h.mem_available_kib <= h.mem_total_kib);
        CHECK(h.cpu_user_ns > 0 && h.cpu_idle_ns > 0 && h.load1 >= 0 && h.load15 >= 0);
        int64_t busy = (h2.cpu_user_ns + h2.cpu_system_ns + h2.cpu_idle_ns + h2.cpu_iowait_ns) -
                       (h.cpu_user_ns + h.cpu_system_ns + h.cpu_idle_ns + h.cpu_iowait_ns);
        int64_t wall = h2.sample_ns - h.sample_ns;
        printf("  host CPU time over %.0f ms: %.2f CPUs' worth\n", wall / 1e6, (double) busy / (double) wall);
        CHECK(busy > 0 && busy <= (int64_t) h.cpus * wall * 3 / 2); /* jiffies are coarse */
}

/* The median of BENCH_ROUNDS * 4 stats() calls with n_extra more guests running. */
static void bench_stats(struct hv_conn *c, int n_extra) {
        const struct hv_driver *d = hv_conn_driver(c);
        char *ids[2] = {};
        for (int i = 0; i < n_extra; i++) {
                ids[i] = id_new_uuid();
                _cleanup_free_ char *xname = xasprintf("%s-extra%d", name, i);
                _cleanup_free_ char *xdisk = xasprintf("%s/extra%d.qcow2", state_dir, i);
                _cleanup_free_ char *xlog = xasprintf("%s/extra%d-console.log", state_dir, i);
                CHECK(create_overlay(xdisk) == 0);
                struct hv_domain_spec s = spec_for(ids[i], xname, xdisk);
                s.console_log = xlog;
                CHECK_R(d->define(c, &s), 0);
                CHECK_R(d->start(c, ids[i]), 0);
        }
        sleep_ms(n_extra > 0 ? 3000 : 0); /* their balloon drivers come up */
        enum { N = BENCH_ROUNDS * 4 };
        int64_t us[N];
        size_t n_doms = 0;
        for (int i = 0; i < N; i++) {
                struct hv_domain_stats *all = NULL;
                int64_t t0 = mono_us();
                CHECK_R(d->stats(c, &all, &n_doms), 0);
                us[i] = mono_us() - t0;
                hv_domain_stats_array_free(all, n_doms);
                sleep_ms(50);
        }
        qsort(us, N, sizeof us[0], cmp_int64);
        struct hv_host_stats h;
        int64_t t0 = mono_us();
        CHECK_R(d->host_stats(c, &h), 0);
        printf("stats() with %zu running guests, %d calls: median %.2f ms, min %.2f, max %.2f; host_stats() %.2f ms\n",
               n_doms, N, us[N / 2] / 1000.0, us[0] / 1000.0, us[N - 1] / 1000.0, (mono_us() - t0) / 1000.0);
        CHECK(n_doms == (size_t) (1 + n_extra));
        for (int i = 0; i < n_extra; i++) {
                CHECK_R(d->undefine(c, ids[i]), 0);
                free(ids[i]);
        }
}

/* vCPUs, balloon and CPU tuning of the running test domain, checked inside the guest. Leaves
 * it with its vCPU count in *ret_vcpus (2 where vCPUs cannot be hot-removed) and 192 MiB. */
static void check_elastic(struct hv_conn *c, int *ret_vcpus) {
        const struct hv_driver *d = hv_conn_driver(c);
        struct hv_host_info hi = {};
        CHECK_R(d->host_info(c, &hi), 0);
        bool unplug = hi.vcpu_unplug;
        hv_host_info_clear(&hi);
        _cleanup_free_ char *config = xasprintf("%s/libvirt/etc/qemu/%s.xml", state_dir, name);
        struct heartbeat hb;
        size_t from = console_size();
        CHECK(wait_heartbeat(from, 1, 0, 0, &hb) >= 0); /* the guest runs and has 1 CPU */

        /* Hot-add: the guest brings the new CPU online by itself. */
        int64_t t0 = mono_ms();
        from = console_size();
        CHECK_R(d->set_vcpus(c, uuid, 2), 0);
        int64_t call_ms = mono_ms() - t0;
        int64_t seen_ms = wait_heartbeat(from, 2, 0, 0, &hb);
        CHECK(seen_ms >= 0);
        printf("set_vcpus(2): %lld ms, the guest's heartbeat shows cpus=2 %lld ms later\n", (long long) call_ms,
               (long long) seen_ms);
        struct hv_domain_stats s = {};
        CHECK(stats_of(c, uuid, &s));
        CHECK(s.vcpus_current == 2 && s.vcpu[1].online);
        hv_domain_stats_clear(&s);
        static const char *const two[] = { "<vcpu id='1' enabled='yes' hotpluggable='yes'" };
        CHECK(file_has(config, two, 1));      /* the definition follows */
        CHECK_R(d->set_vcpus(c, uuid, 2), 0); /* idempotent */
        CHECK_R(d->set_vcpus(c, uuid, 3), TIDE_E_INVALID);
        CHECK_R(d->set_vcpus(c, uuid, 0), TIDE_E_INVALID);

        /* Hot-remove where the accelerator allows it. */
        from = console_size();
        if (unplug) {
                t0 = mono_ms();
                CHECK_R(d->set_vcpus(c, uuid, 1), 0);
                call_ms = mono_ms() - t0;
                seen_ms = wait_heartbeat(from, 1, 0, 0, &hb);
                CHECK(seen_ms >= 0);
                printf("set_vcpus(1): %lld ms, the guest's heartbeat shows cpus=1 %lld ms later\n", (long long) call_ms,
                       (long long) seen_ms);
                *ret_vcpus = 1;
        } else {
                CHECK_R(d->set_vcpus(c, uuid, 1), TIDE_E_UNSUPPORTED);
                printf("set_vcpus(1) refused: %s\n", hv_last_error());
                sleep_ms(1500);
                CHECK(last_heartbeat(from, &hb) && hb.cpus == 2);
                *ret_vcpus = 2;
        }

        /* The balloon: the guest's memory drops, and comes back; MemTotal stays (deflate-on-OOM). */
        CHECK(wait_heartbeat(console_size(), 0, 0, 0, &hb) >= 0);
        int64_t total0 = hb.mem_kib, memtotal0 = hb.mem_total_kib;
        from = console_size();
        t0 = mono_ms();
        CHECK_R(d->set_memory(c, uuid, 128), 0);
        call_ms = mono_ms() - t0;
        seen_ms = wait_heartbeat(from, 0, total0 - 48 * 1024, 0, &hb);
        CHECK(seen_ms >= 0);
        printf("set_memory(128): %lld ms, the guest's memory (MemTotal less the balloon) %lld -> %lld KiB %lld ms later\n",
               (long long) call_ms, (long long) total0, (long long) hb.mem_kib, (long long) seen_ms);
        CHECK(hb.mem_total_kib == memtotal0);
        t0 = mono_ms();
        for (;;) { /* libvirt hears of the balloon's new size from QEMU */
                CHECK(stats_of(c, uuid, &s));
                bool done = s.balloon_current_kib == 128 * 1024;
                hv_domain_stats_clear(&s);
                if (done)
                        break;
                CHECK(mono_ms() - t0 < ELASTIC_TIMEOUT_MS);
                sleep_ms(200);
        }
        static const char *const small[] = { "<currentMemory unit='KiB'>131072</currentMemory>" };
        CHECK(file_has(config, small, 1));
        CHECK_R(d->set_memory(c, uuid, 257), TIDE_E_INVALID);
        CHECK_R(d->set_memory(c, uuid, 8), TIDE_E_INVALID);
        from = console_size();
        CHECK_R(d->set_memory(c, uuid, 192), 0);
        seen_ms = wait_heartbeat(from, 0, 0, total0 - 16 * 1024, &hb);
        CHECK(seen_ms >= 0);
        printf("set_memory(192): the guest's memory back to %lld KiB %lld ms later\n", (long long) hb.mem_kib,
               (long long) seen_ms);

        /* Shares and a limit of half a core for the whole domain. */
        struct hv_cpu_tune t = {}, want = { .shares = 512, .period_us = 100000, .quota_us = 50000 };
        CHECK_R(d->get_cpu_tune(c, uuid, &t), 0);
        printf("CPU tuning before: shares %d, period %lld us, quota %lld us\n", t.shares, (long long) t.period_us,
               (long long) t.quota_us);
        CHECK(t.quota_us == 0);
        t0 = mono_ms();
        CHECK_R(d->set_cpu_tune(c, uuid, &want), 0);
        call_ms = mono_ms() - t0;
        CHECK_R(d->get_cpu_tune(c, uuid, &t), 0);
        CHECK(t.shares == want.shares && t.period_us == want.period_us && t.quota_us == want.quota_us);
        static const char *const tuned[] = { "<shares>512</shares>", "<global_period>100000</global_period>",
                                             "<global_quota>50000</global_quota>" };
        CHECK(file_has(config, tuned, ELEMENTSOF(tuned)));
        CHECK_R(d->set_cpu_tune(c, uuid, &want), 0); /* idempotent */
        printf("set_cpu_tune(shares 512, 50000 us per 100000 us): %lld ms, read back through the scheduler "
               "parameters\n",
               (long long) call_ms);
        CHECK_R(d->set_cpu_tune(c, uuid, &(struct hv_cpu_tune) { .shares = 1 }), TIDE_E_INVALID);
        CHECK_R(d->set_cpu_tune(c, uuid, &(struct hv_cpu_tune) { .shares = 1024 }), 0);
        CHECK_R(d->get_cpu_tune(c, uuid, &t), 0);
        CHECK(t.shares == 1024 && t.quota_us == 0);
        _cleanup_free_ char *other = id_new_uuid();
        CHECK_R(d->set_vcpus(c, other, 1), TIDE_E_NOT_FOUND);
        CHECK_R(d->set_memory(c, other, 128), TIDE_E_NOT_FOUND);
        CHECK_R(d->set_cpu_tune(c, other, &want), TIDE_E_NOT_FOUND);
        CHECK_R(d->get_cpu_tune(c, other, &t), TIDE_E_NOT_FOUND);
}

/* Phase A: a first agent process. Ends by SIGTERM, leaving the guest running. */
static void phase_define_start(void) {
        const struct hv_driver *d = &hv_libvirt_driver;
        struct hv_conn *c = NULL;
        int64_t t0 = mono_ms();
        CHECK_R(d->open(uri, state_dir, &c), 0);
        printf("open (embedded, first in this root): %lld ms\n", (long long) (mono_ms() - t0));
        CHECK(hv_conn_driver(c) == d);

        struct hv_host_info hi = {};
        CHECK_R(d->host_info(c, &hi), 0);
        CHECK(hi.cpus > 0 && hi.mem_mib > 0 && hi.numa_nodes >= 1 && hi.sockets >= 1);
        CHECK(hi.hostname && *hi.hostname);
        CHECK(startswith(hi.uri, "qemu:///embed"));
        const char *why;
        CHECK(streq(hi.accel, hv_detect_accel(&why)));
        printf("host: %d cpus, %d NUMA nodes, %lld MiB, %lld GiB disk, accel %s (%s)\n", hi.cpus, hi.numa_nodes,
               (long long) hi.mem_mib, (long long) hi.disk_gib, hi.accel, why);
        CHECK(hi.n_numa == hi.numa_nodes && hi.numa && hi.disk_gib > 0);
        int64_t node_mem = 0;
        for (int i = 0; i < hi.n_numa; i++) {
                const struct hv_numa_node *nn = &hi.numa[i];
                printf("  node %d: cpus %s, %lld MiB, %lld MiB in hugepages\n", nn->id, nn->cpus,
                       (long long) nn->mem_mib, (long long) nn->hugepages_mib);
                CHECK(nn->cpus && *nn->cpus && nn->mem_mib > 0 && nn->hugepages_mib >= 0);
                CHECK(i == 0 || nn->id > hi.numa[i - 1].id);
                node_mem += nn->mem_mib;
        }
        /* The nodes' memory is the host's, give or take rounding per node. */
        CHECK(node_mem <= hi.mem_mib + hi.n_numa && node_mem >= hi.mem_mib - hi.n_numa);

        check_placement(c, &hi);
        check_cpuset(c, &hi);
        hv_host_info_clear(&hi);

        CHECK_R(d->start(c, uuid), TIDE_E_NOT_FOUND);
        CHECK_R(d->domain_info(c, uuid, &(struct hv_domain_info) {}), TIDE_E_NOT_FOUND);
        CHECK(!list_has(c, uuid, NULL));

        bench_define_start(c);

        struct hv_domain_spec s = spec_for(uuid, name, disk);
        CHECK_R(d->define(c, &s), 0);
        CHECK_R(d->define(c, &s), 0); /* redefining is fine */
        struct hv_domain_info di = {};
        CHECK_R(d->domain_info(c, uuid, &di), 0);
        CHECK(di.state == HV_STATE_SHUTOFF && di.persistent);
        CHECK(streq(di.uuid, uuid) && streq(di.name, name));
        CHECK(di.max_mem_kib == 256 * 1024 && di.mem_kib == 192 * 1024 && di.vcpus == 1);
        hv_domain_info_clear(&di);

        CHECK_R(d->start(c, uuid), 0);
        CHECK_R(d->start(c, uuid), 0); /* already running */
        enum hv_state st;
        CHECK(list_has(c, uuid, &st) && st == HV_STATE_RUNNING);
        fflush(stdout);
        /* No close: an agent killed by its service manager. QEMU must live on. */
        raise(SIGTERM);
        _exit(3);
}

/* Alive and not a zombie waiting for init to reap it. */
static bool process_alive(pid_t pid) {
        _cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int) pid);
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (read_file(path, 4096, &text, &len) < 0)
                return false;
        const char *p = strrchr(text, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Any process whose command line names the test's domains (guest=<name>...). */
static bool any_test_qemu(void) {
        _cleanup_free_ char *needle = xasprintf("guest=%s", name);
        DIR *dir = opendir("/proc");
        if (!dir)
                return false;
        bool found = false;
        struct dirent *de;
        while (!found && (de = readdir(dir))) {
                int64_t pid;
                if (parse_int64(de->d_name, 1, INT32_MAX, &pid) < 0 || !process_alive((pid_t) pid))
                        continue;
                _cleanup_free_ char *path = xasprintf("/proc/%s/cmdline", de->d_name);
                _cleanup_free_ char *text = NULL;
                size_t len;
                if (read_file(path, 1 << 20, &text, &len) < 0)
                        continue;
                for (size_t i = 0; i < len; i++)
                        if (text[i] == '\0')
                                text[i] = ' ';
                found = strstr(text, needle) != NULL;
        }
        closedir(dir);
        return found;
}

/* Phase B: a second agent process adopts the guest and takes it through the rest. */
static void phase_adopt_and_finish(void) {
        const struct hv_driver *d = &hv_libvirt_driver;
        struct hv_conn *c = NULL;
        int64_t t0 = mono_ms();
        CHECK_R(d->open(uri, state_dir, &c), 0);
        printf("open (embedded, adopting): %lld ms\n", (long long) (mono_ms() - t0));

        struct hv_domain_info di = {};
        CHECK_R(d->domain_info(c, uuid, &di), 0);
        CHECK(di.state == HV_STATE_RUNNING);
        CHECK(di.cpu_time_ns > 0 && di.vcpus == 1 && di.max_mem_kib == 256 * 1024);
        hv_domain_info_clear(&di);
        enum hv_state st;
        CHECK(list_has(c, uuid, &st) && st == HV_STATE_RUNNING);
        CHECK_R(d->start(c, uuid), 0);

        check_stats(c);
        bench_stats(c, 0);
        bench_stats(c, 2);
        int vcpus = 0;
        t0 = mono_ms();
        check_elastic(c, &vcpus);
        printf("elastic controls checked in %lld ms\n", (long long) (mono_ms() - t0));

        /* A domain defined without a cpuset, adopted from another process, moves too. */
        CHECK_R(d->set_cpuset(c, uuid, "0"), 0);
        CHECK(threads_on(qemu_pid(), "0", "0"));
        printf("adopted domain moved to CPU 0\n");

        /* reboot: a reset; the guest boots again into the same console log. */
        int before = count_markers();
        CHECK_R(d->reboot(c, uuid), 0);
        CHECK(wait_markers(before + 1));
        printf("rebooted\n");

        t0 = mono_ms();
        CHECK_R(d->shutdown(c, uuid, SHUTDOWN_TIMEOUT_MS), 0); /* 0: the guest obeyed ACPI */
        printf("ACPI shutdown: %lld ms\n", (long long) (mono_ms() - t0));
        CHECK_R(d->domain_info(c, uuid, &di), 0);
        CHECK(di.state == HV_STATE_SHUTOFF);
        hv_domain_info_clear(&di);
        CHECK_R(d->shutdown(c, uuid, 1000), 0);
        CHECK_R(d->destroy(c, uuid), 0);
        CHECK_R(d->reboot(c, uuid), TIDE_E_CONFLICT);

        /* Start again (with the vCPUs and balloon set_vcpus() and set_memory() left in the
         * definition), power off at once, and undefine a running domain. */
        CHECK_R(d->start(c, uuid), 0);
        CHECK_R(d->domain_info(c, uuid, &di), 0);
        CHECK(di.vcpus == vcpus && di.max_mem_kib == 256 * 1024);
        hv_domain_info_clear(&di);
        struct hv_cpu_tune tune = {};
        CHECK_R(d->get_cpu_tune(c, uuid, &tune), 0);
        CHECK(tune.shares == 1024 && tune.quota_us == 0);
        CHECK_R(d->destroy(c, uuid), 0);
        CHECK_R(d->start(c, uuid), 0);
        CHECK_R(d->undefine(c, uuid), 0);
        CHECK_R(d->undefine(c, uuid), 0);
        CHECK_R(d->domain_info(c, uuid, &di), TIDE_E_NOT_FOUND);
        CHECK_R(d->start(c, uuid), TIDE_E_NOT_FOUND);
        CHECK_R(d->destroy(c, uuid), TIDE_E_NOT_FOUND);
        CHECK_R(d->shutdown(c, uuid, 0), TIDE_E_NOT_FOUND);
        CHECK(!list_has(c, uuid, NULL));

        /* Closing stops the event loop thread; opening again in the same process restarts it. */
        d->close(c);
        CHECK_R(d->open(uri, state_dir, &c), 0);
        struct hv_domain_info *l = NULL;
        size_t n = 1;
        CHECK_R(d->list(c, &l, &n), 0);
        CHECK(n == 0); /* the bench domain is gone too */
        hv_domain_info_array_free(l, n);

        d->close(c);
        fflush(stdout);
        _exit(0);
}

static int run_phase(void (*fn)(void), int *ret_signal) {
        fflush(stdout);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
                fn(); /* never returns */
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        *ret_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* On a failed check (exit(1) in the main process) the guests this test started would outlive
 * it: end every QEMU of its state directory (the embedded driver's pid files). The state
 * directory itself is kept, and named, for a look at the consoles. */
static pid_t main_pid;

static void kill_leftover_qemu(void) {
        if (getpid() != main_pid || !state_dir)
                return;
        _cleanup_free_ char *dir_path = xasprintf("%s/libvirt/run/qemu", state_dir);
        DIR *dir = opendir(dir_path);
        if (!dir)
                return;
        struct dirent *de;
        while ((de = readdir(dir))) {
                size_t l = strlen(de->d_name);
                if (l <= 4 || !streq(de->d_name + l - 4, ".pid"))
                        continue;
                _cleanup_free_ char *dom = xstrndup(de->d_name, l - 4);
                pid_t pid = qemu_pid_of(dom);
                if (pid > 0 && kill(pid, SIGKILL) == 0)
                        fprintf(stderr, "killed QEMU %d (%s) left by the failed test\n", (int) pid, dom);
        }
        closedir(dir);
        if (access(state_dir, F_OK) == 0)
                fprintf(stderr, "state kept in %s\n", state_dir);
}

static bool have_guest(void) {
        const char *files[] = { "tiny.qcow2", "vmlinuz", "initrd.img", "cmdline" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", guest_dir, files[i]);
                if (access(p, R_OK) < 0)
                        return false;
        }
        return true;
}

int main(void) {
        guest_dir = getenv("TIDE_GUEST_DIR");
        if (!guest_dir || !*guest_dir || !have_guest()) {
                printf("SKIP: TIDE_GUEST_DIR unset or without tiny.qcow2, vmlinuz, initrd.img, cmdline\n");
                return 77;
        }
        if (geteuid() != 0) {
                printf("SKIP: the embedded QEMU driver runs QEMU as root and needs root\n");
                return 77;
        }
        char *probe[] = { "qemu-system-x86_64", "--version", NULL };
        if (proc_run(probe, 10000, NULL, NULL) != 0) {
                printf("SKIP: no qemu-system-x86_64\n");
                return 77;
        }

        char tmpl[] = "/tmp/tide-hv-XXXXXX";
        CHECK(mkdtemp(tmpl));
        state_dir = tmpl;
        main_pid = getpid();
        CHECK(atexit(kill_leftover_qemu) == 0);
        /* Explicitly embedded, even where a libvirtd runs. */
        uri = xasprintf("qemu:///embed?root=%s/libvirt", state_dir);
        uuid = id_new_uuid();
        name = xasprintf("tide-hvtest-%d", (int) getpid());
        disk = xasprintf("%s/disk.qcow2", state_dir);
        console_log = xasprintf("%s/console.log", state_dir);
        kernel = xasprintf("%s/vmlinuz", guest_dir);
        initrd = xasprintf("%s/initrd.img", guest_dir);
        _cleanup_free_ char *cmdline_path = xasprintf("%s/cmdline", guest_dir);
        size_t len;
        CHECK(read_file(cmdline_path, 4096, &cmdline, &len) == 0);
        cmdline[strcspn(cmdline, "\n")] = '\0';
        CHECK(create_overlay(disk) == 0);
        printf("state dir %s, domain %s (%s)\n", state_dir, name, uuid);

        int sig, rc = run_phase(phase_define_start, &sig);
        CHECK(rc == -1 && sig == SIGTERM); /* phase A died as intended, after all its checks */

        pid_t qpid = qemu_pid();
        CHECK(qpid > 0 && process_alive(qpid));
        int64_t t0 = mono_ms();
        CHECK(wait_markers(1));
        printf("guest ready on the console %lld ms after its agent died; QEMU pid %d lives on\n",
               (long long) (mono_ms() - t0), (int) qpid);
        CHECK(process_alive(qpid));

        rc = run_phase(phase_adopt_and_finish, &sig);
        CHECK(rc == 0);

        /* The QEMU processes end at once; init reaps them in its own time. */
        int64_t deadline = mono_ms() + 30000;
        while ((process_alive(qpid) || any_test_qemu()) && mono_ms() < deadline)
                sleep_ms(100);
        CHECK(!process_alive(qpid));
        CHECK(!any_test_qemu());

        CHECK(rm_rf(state_dir) == 0);
        state_dir = NULL;
        printf("PASS\n");
        return 0;
}
