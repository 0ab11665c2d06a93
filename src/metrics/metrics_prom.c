/* metrics_prom.c — the Prometheus text exposition (format 0.0.4) of struct metrics.
 *
 * Families are declared in tables below, printed one family at a time (all its series
 * together, as the format requires), hosts sorted by name and VMs by host, name and id so that
 * the text of one state is always the same (golden files, diffs between scrapes). A family
 * with no series is left out entirely.
 *
 * libvirt_domain_* keeps the names of prometheus-libvirt-exporter (Debian's package, the kumina
 * exporter: domain_info, block_stats, interface_stats) and, for what that one lacks (per-vCPU
 * time and wait, memory statistics), the names its successor libvirt-exporter uses. Like the
 * exporter, they cover running domains only. See docs/metrics.md. */
#include "metrics/metrics_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "common/domain_name.h"
#include "common/strbuf.h"
#include "common/util.h"

/* A scrape of thousands of VMs with many vCPUs stays far below this; past it something is
 * wrong and the caller gets -E2BIG instead of a runaway allocation. */
#define PROM_MAX_BYTES (256u << 20)

struct prom {
        struct strbuf out;
        int r;           /* first error; once set, nothing more is written */
        bool header_due; /* the current family's HELP and TYPE are not out yet */
        const char *name, *type, *help;
};

static void put(struct prom *p, const char *s, size_t n) {
        if (!p->r)
                p->r = strbuf_append(&p->out, s, n);
}

static void puts_(struct prom *p, const char *s) {
        put(p, s, strlen(s));
}

/* A label value: backslash, double quote and newline escaped as the format says. Prometheus
 * refuses a whole scrape over one label value that is not UTF-8, so a byte that does not
 * belong to a valid sequence becomes U+FFFD rather than breaking every other series. */
static void put_label_value(struct prom *p, const char *s) {
        const unsigned char *u = (const unsigned char *) s;
        for (size_t i = 0; u[i];) {
                size_t n = metrics_utf8_len(u + i);
                if (n == 0) {
                        put(p, "\xef\xbf\xbd", 3);
                        i++;
                        continue;
                }
                if (u[i] == '\\')
                        puts_(p, "\\\\");
                else if (u[i] == '"')
                        puts_(p, "\\\"");
                else if (u[i] == '\n')
                        puts_(p, "\\n");
                else
                        put(p, s + i, n);
                i += n;
        }
}

struct label {
        const char *name;
        const char *prefix; /* written before value, unescaped; NULL for none */
        const char *value;
};

static void put_int(struct prom *p, int64_t v) {
        char b[24];
        int n = snprintf(b, sizeof b, "%" PRId64, v);
        put(p, b, (size_t) n);
}

static void put_double(struct prom *p, double v) {
        if (isnan(v))
                puts_(p, "NaN");
        else if (isinf(v))
                puts_(p, v > 0 ? "+Inf" : "-Inf");
        else {
                char b[32];
                int n = snprintf(b, sizeof b, "%.9g", v == 0 ? 0.0 : v); /* no "-0" */
                put(p, b, (size_t) n);
        }
}

/* Nanoseconds as seconds, exactly: "12.5" for 12500000000, never a rounded double. */
static void put_ns_as_seconds(struct prom *p, int64_t ns) {
        char b[32];
        uint64_t u = ns < 0 ? -(uint64_t) ns : (uint64_t) ns;
        int n = snprintf(b, sizeof b, "%s%" PRIu64 ".%09" PRIu64, ns < 0 ? "-" : "", u / 1000000000u, u % 1000000000u);
        while (b[n - 1] == '0')
                n--;
        if (b[n - 1] == '.')
                n--;
        put(p, b, (size_t) n);
}

enum value_kind { VALUE_INT, VALUE_DOUBLE, VALUE_NS };

struct value {
        enum value_kind kind;
        int64_t i;
        double d;
};

static void family_begin(struct prom *p, const char *name, const char *type, const char *help) {
        p->name = name;
        p->type = type;
        p->help = help;
        p->header_due = true;
}

/* One series: name{labels} value. The family's HELP and TYPE go out before its first one. */
static void series(struct prom *p, const struct label *labels, size_t n_labels, const struct value *v) {
        if (p->header_due) {
                /* help texts are ours and constant: nothing in them needs escaping */
                puts_(p, "# HELP ");
                puts_(p, p->name);
                puts_(p, " ");
                puts_(p, p->help);
                puts_(p, "\n# TYPE ");
                puts_(p, p->name);
                puts_(p, " ");
                puts_(p, p->type);
                puts_(p, "\n");
                p->header_due = false;
        }
        puts_(p, p->name);
        if (n_labels) {
                puts_(p, "{");
                for (size_t i = 0; i < n_labels; i++) {
                        if (i)
                                puts_(p, ",");
                        puts_(p, labels[i].name);
                        puts_(p, "=\"");
                        if (labels[i].prefix)
                                puts_(p, labels[i].prefix);
                        put_label_value(p, labels[i].value);
                        puts_(p, "\"");
                }
                puts_(p, "}");
        }
        puts_(p, " ");
        switch (v->kind) {
        case VALUE_INT:
                put_int(p, v->i);
                break;
        case VALUE_DOUBLE:
                put_double(p, v->d);
                break;
        case VALUE_NS:
                put_ns_as_seconds(p, v->i);
                break;
        }
        puts_(p, "\n");
}

/* --- VM families --------------------------------------------------------------------------- */

#define VM_LABELS 4 /* domain, host, name, uuid: on every per-VM series, in that order */

static size_t vm_labels(const struct metrics_vm *vm, struct label *l) {
        l[0] = (struct label) { "domain", DOMAIN_NAME_PREFIX, vm->name };
        l[1] = (struct label) { "host", NULL, vm->host->name };
        l[2] = (struct label) { "name", NULL, vm->name };
        l[3] = (struct label) { "uuid", NULL, vm->id };
        return VM_LABELS;
}

/* A getter fills ret and returns true when the VM has the series. */
typedef bool (*vm_get_fn)(const struct metrics_vm *vm, const struct metrics_vm_point *pt, struct value *ret);

#define KIB_BYTES(x) ((x) *INT64_C(1024))

#define VM_INT(fn, expr, cond) \
        static bool fn(const struct metrics_vm *vm, const struct metrics_vm_point *pt, struct value *ret) { \
                (void) vm, (void) pt; \
                *ret = (struct value) { .kind = VALUE_INT, .i = (expr) }; \
                return (cond); \
        }
#define VM_NS(fn, expr) \
        static bool fn(const struct metrics_vm *vm, const struct metrics_vm_point *pt, struct value *ret) { \
                (void) pt; \
                *ret = (struct value) { .kind = VALUE_NS, .i = (expr) }; \
                return true; \
        }
#define VM_DOUBLE(fn, expr, cond) \
        static bool fn(const struct metrics_vm *vm, const struct metrics_vm_point *pt, struct value *ret) { \
                (void) vm, (void) pt; \
                *ret = (struct value) { .kind = VALUE_DOUBLE, .d = (expr) }; \
                return (cond); \
        }

VM_INT(get_max_mem, KIB_BYTES(vm->last.balloon_max_kib), true)
VM_INT(get_cur_mem, KIB_BYTES(vm->last.balloon_current_kib), true)
VM_INT(get_vcpus, vm->last.vcpus, true)
VM_INT(get_vcpus_max, vm->last.vcpus_max, true)
VM_NS(get_cpu_time, vm->last.cpu_time_ns)
VM_INT(get_mem_available, KIB_BYTES(vm->last.mem_available_kib), vm->last.has_guest_mem)
VM_INT(get_mem_unused, KIB_BYTES(vm->last.mem_unused_kib), vm->last.has_guest_mem)
VM_INT(get_mem_usable, KIB_BYTES(vm->last.mem_usable_kib), vm->last.has_guest_mem)
VM_INT(get_mem_rss, KIB_BYTES(vm->last.mem_rss_kib), vm->last.mem_rss_kib > 0)
VM_INT(get_block_rd_bytes, vm->last.block_rd_bytes, true)
VM_INT(get_block_rd_reqs, vm->last.block_rd_reqs, true)
VM_INT(get_block_wr_bytes, vm->last.block_wr_bytes, true)
VM_INT(get_block_wr_reqs, vm->last.block_wr_reqs, true)
VM_INT(get_net_rx_bytes, vm->last.net_rx_bytes, true)
VM_INT(get_net_rx_packets, vm->last.net_rx_packets, true)
VM_INT(get_net_tx_bytes, vm->last.net_tx_bytes, true)
VM_INT(get_net_tx_packets, vm->last.net_tx_packets, true)
VM_INT(get_running, vm->last.running ? 1 : 0, true)
VM_DOUBLE(get_cpu_cores, pt->cpu_cores, pt->has_rates)
VM_DOUBLE(get_ready_cores, pt->ready_cores, pt->has_rates)
VM_DOUBLE(get_busy_max, pt->vcpu_busy_max, pt->has_rates)
VM_DOUBLE(get_demand, vm->demand_cores, vm->has_elastic)
VM_DOUBLE(get_entitlement, vm->entitlement_cores, vm->has_elastic)

struct vm_family {
        const char *name, *type, *help;
        bool running_only; /* the exporter's families: active domains only */
        vm_get_fn get;     /* one series per VM ... */
        size_t vcpu_array; /* ... or, when get is NULL, one per vCPU from this array of
                                 * struct metrics_vm_sample (nanoseconds) */
};

static const struct vm_family vm_families[] = {
        { "libvirt_domain_info_maximum_memory_bytes", "gauge", "Maximum allowed memory of the domain, in bytes.", true,
          get_max_mem, 0 },
        { "libvirt_domain_info_memory_usage_bytes", "gauge",
          "Memory usage of the domain (its current balloon size), in bytes.", true, get_cur_mem, 0 },
        { "libvirt_domain_info_virtual_cpus", "gauge", "Number of virtual CPUs for the domain (online now).", true,
          get_vcpus, 0 },
        { "libvirt_domain_info_cpu_time_seconds_total", "counter", "Amount of CPU time used by the domain, in seconds.",
          true, get_cpu_time, 0 },
        { "libvirt_domain_vcpu_current", "gauge", "Number of online vCPUs of the domain.", true, get_vcpus, 0 },
        { "libvirt_domain_vcpu_maximum", "gauge", "Number of vCPUs the domain can have online.", true, get_vcpus_max,
          0 },
        { "libvirt_domain_vcpu_time_seconds_total", "counter", "CPU time used by one vCPU of the domain, in seconds.",
          true, NULL, offsetof(struct metrics_vm_sample, vcpu_time_ns) },
        { "libvirt_domain_vcpu_wait_seconds_total", "counter",
          "Time one vCPU of the domain was runnable but not running (waiting for a host CPU), in seconds.", true, NULL,
          offsetof(struct metrics_vm_sample, vcpu_wait_ns) },
        { "libvirt_domain_memory_stats_actual_balloon_bytes", "gauge", "Current balloon size of the domain, in bytes.",
          true, get_cur_mem, 0 },
        { "libvirt_domain_memory_stats_available_bytes", "gauge",
          "Total memory the guest sees as usable, in bytes (reported by the guest).", true, get_mem_available, 0 },
        { "libvirt_domain_memory_stats_unused_bytes", "gauge",
          "Memory the guest leaves completely unused, in bytes (reported by the guest).", true, get_mem_unused, 0 },
        { "libvirt_domain_memory_stats_usable_bytes", "gauge",
          "Memory the guest could give back without swapping (its MemAvailable), in bytes.", true, get_mem_usable, 0 },
        { "libvirt_domain_memory_stats_rss_bytes", "gauge",
          "Resident set size of the domain's process on the host, in bytes.", true, get_mem_rss, 0 },
        { "libvirt_domain_block_stats_read_bytes_total", "counter",
          "Number of bytes read from the domain's block devices (all of them), in bytes.", true, get_block_rd_bytes,
          0 },
        { "libvirt_domain_block_stats_read_requests_total", "counter",
          "Number of read requests from the domain's block devices (all of them).", true, get_block_rd_reqs, 0 },
        { "libvirt_domain_block_stats_write_bytes_total", "counter",
          "Number of bytes written to the domain's block devices (all of them), in bytes.", true, get_block_wr_bytes,
          0 },
        { "libvirt_domain_block_stats_write_requests_total", "counter",
          "Number of write requests to the domain's block devices (all of them).", true, get_block_wr_reqs, 0 },
        { "libvirt_domain_interface_stats_receive_bytes_total", "counter",
          "Number of bytes received on the domain's network interfaces (all of them), in bytes.", true,
          get_net_rx_bytes, 0 },
        { "libvirt_domain_interface_stats_receive_packets_total", "counter",
          "Number of packets received on the domain's network interfaces (all of them).", true, get_net_rx_packets, 0 },
        { "libvirt_domain_interface_stats_transmit_bytes_total", "counter",
          "Number of bytes transmitted on the domain's network interfaces (all of them), in bytes.", true,
          get_net_tx_bytes, 0 },
        { "libvirt_domain_interface_stats_transmit_packets_total", "counter",
          "Number of packets transmitted on the domain's network interfaces (all of them).", true, get_net_tx_packets,
          0 },
};

/* tide's own per-VM families come after the host ones. */
static const struct vm_family tide_vm_families[] = {
        { "tide_vm_running", "gauge", "Whether the instance's domain is running (1) or not (0).", false, get_running,
          0 },
        { "tide_vm_vcpus", "gauge", "Online vCPUs of the instance.", false, get_vcpus, 0 },
        { "tide_vm_vcpus_max", "gauge", "Most vCPUs the instance can have online (its flavor's maximum).", false,
          get_vcpus_max, 0 },
        { "tide_vm_cpu_usage_cores", "gauge", "CPU the instance used over the last sampling interval, in cores.", false,
          get_cpu_cores, 0 },
        { "tide_vm_cpu_ready_cores", "gauge",
          "Time the instance's vCPUs waited for a host CPU over the last sampling interval, in cores: demand not served.",
          false, get_ready_cores, 0 },
        { "tide_vm_vcpu_busy_max_ratio", "gauge",
          "Use of the instance's busiest vCPU over the last sampling interval, 0 to 1.", false, get_busy_max, 0 },
        { "tide_vm_demand_cores", "gauge",
          "CPU the elastic loop estimates the instance wants (use plus ready time), in cores.", false, get_demand, 0 },
        { "tide_vm_entitlement_cores", "gauge", "CPU the elastic loop entitles the instance to, in cores.", false,
          get_entitlement, 0 },
};

static void vm_family_print(struct prom *p, const struct vm_family *f, struct metrics_vm **vms, size_t n, size_t cap) {
        family_begin(p, f->name, f->type, f->help);
        for (size_t k = 0; k < n; k++) {
                const struct metrics_vm *vm = vms[k];
                if (f->running_only && !vm->last.running)
                        continue;
                struct label l[VM_LABELS + 1];
                size_t nl = vm_labels(vm, l);
                struct value v;
                if (f->get) {
                        if (f->get(vm, metrics_vm_latest(vm, cap), &v))
                                series(p, l, nl, &v);
                        continue;
                }
                const int64_t *a = (const int64_t *) ((const char *) &vm->last + f->vcpu_array);
                for (int i = 0; i < vm->last.n_vcpu; i++) {
                        char idx[16];
                        snprintf(idx, sizeof idx, "%d", i);
                        l[nl] = (struct label) { "vcpu", NULL, idx };
                        v = (struct value) { .kind = VALUE_NS, .i = a[i] };
                        series(p, l, nl + 1, &v);
                }
        }
}

static void actions_print(struct prom *p, struct metrics_vm **vms, size_t n) {
        family_begin(p, "tide_elastic_actions_total", "counter",
                     "Changes the elastic loop made to the instance, by kind (vcpus, shares, quota, balloon).");
        for (size_t k = 0; k < n; k++) {
                const struct metrics_vm *vm = vms[k];
                for (size_t i = 0; i < vm->n_actions; i++) {
                        struct label l[VM_LABELS + 1];
                        size_t nl = vm_labels(vm, l);
                        /* "kind" sorts between "host" and "name": keep the labels sorted */
                        l[4] = l[3];
                        l[3] = l[2];
                        l[2] = (struct label) { "kind", NULL, vm->actions[i].kind };
                        struct value v = { .kind = VALUE_INT, .i = (int64_t) vm->actions[i].count };
                        series(p, l, nl + 1, &v);
                }
        }
}

/* --- host families ------------------------------------------------------------------------- */

typedef bool (*host_get_fn)(const struct metrics_host *h, const struct metrics_host_point *pt, struct value *ret);

#define HOST_INT(fn, expr) \
        static bool fn(const struct metrics_host *h, const struct metrics_host_point *pt, struct value *ret) { \
                (void) h, (void) pt; \
                *ret = (struct value) { .kind = VALUE_INT, .i = (expr) }; \
                return true; \
        }
#define HOST_DOUBLE(fn, expr, cond) \
        static bool fn(const struct metrics_host *h, const struct metrics_host_point *pt, struct value *ret) { \
                (void) h, (void) pt; \
                *ret = (struct value) { .kind = VALUE_DOUBLE, .d = (expr) }; \
                return (cond); \
        }

HOST_INT(get_host_cpus, h->last.cpus)
HOST_DOUBLE(get_host_busy, pt->cpu_busy_cores, pt->has_rates)
HOST_DOUBLE(get_host_idle, pt->cpu_idle_cores, pt->has_rates)
HOST_INT(get_host_mem_total, KIB_BYTES(h->last.mem_total_kib))
HOST_INT(get_host_mem_free, KIB_BYTES(h->last.mem_free_kib))
HOST_INT(get_host_mem_available, KIB_BYTES(h->last.mem_available_kib))
HOST_DOUBLE(get_host_load1, h->last.load1, true)
HOST_DOUBLE(get_host_load5, h->last.load5, true)
HOST_DOUBLE(get_host_load15, h->last.load15, true)
HOST_INT(get_host_vms, (int64_t) h->n_vms)

struct host_family {
        const char *name, *type, *help;
        host_get_fn get; /* NULL: the CPU time by mode */
};

static const struct host_family host_families[] = {
        { "tide_host_cpus", "gauge", "CPUs of the host.", get_host_cpus },
        { "tide_host_cpu_seconds_total", "counter",
          "CPU time the host spent in each mode (user, system, idle, iowait), in seconds.", NULL },
        { "tide_host_cpu_busy_cores", "gauge",
          "CPU the host used (user plus system) over the last sampling interval, in cores.", get_host_busy },
        { "tide_host_cpu_idle_cores", "gauge", "CPU the host left idle over the last sampling interval, in cores.",
          get_host_idle },
        { "tide_host_memory_total_bytes", "gauge", "Memory of the host, in bytes.", get_host_mem_total },
        { "tide_host_memory_free_bytes", "gauge", "Memory of the host unused, in bytes.", get_host_mem_free },
        { "tide_host_memory_available_bytes", "gauge",
          "Memory of the host available for new allocations without swapping (MemAvailable), in bytes.",
          get_host_mem_available },
        { "tide_host_load1", "gauge", "The host's load average over 1 minute.", get_host_load1 },
        { "tide_host_load5", "gauge", "The host's load average over 5 minutes.", get_host_load5 },
        { "tide_host_load15", "gauge", "The host's load average over 15 minutes.", get_host_load15 },
        { "tide_host_vms", "gauge", "Instances the host's agent reported in its last sample.", get_host_vms },
};

static void host_family_print(struct prom *p, const struct host_family *f, struct metrics_host **hosts, size_t n,
                              size_t cap) {
        family_begin(p, f->name, f->type, f->help);
        for (size_t k = 0; k < n; k++) {
                const struct metrics_host *h = hosts[k];
                struct label l[2] = { { "host", NULL, h->name } };
                struct value v;
                if (f->get) {
                        if (f->get(h, metrics_host_latest(h, cap), &v))
                                series(p, l, 1, &v);
                        continue;
                }
                const struct {
                        const char *mode;
                        int64_t ns;
                } modes[] = {
                        /* sorted by mode */
                        { "idle", h->last.cpu_idle_ns },
                        { "iowait", h->last.cpu_iowait_ns },
                        { "system", h->last.cpu_system_ns },
                        { "user", h->last.cpu_user_ns },
                };
                for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                        l[1] = (struct label) { "mode", NULL, modes[i].mode };
                        v = (struct value) { .kind = VALUE_NS, .i = modes[i].ns };
                        series(p, l, 2, &v);
                }
        }
}

int metrics_prometheus(struct metrics *m, char **ret) {
        struct prom p = { .out = STRBUF_INIT(PROM_MAX_BYTES) };
        pthread_mutex_lock(&m->lock);
        _cleanup_free_ struct metrics_vm **vms = NULL;
        _cleanup_free_ struct metrics_host **hosts = NULL;
        size_t n_vms, n_hosts;
        metrics_sorted_vms(m, &vms, &n_vms);
        metrics_sorted_hosts(m, &hosts, &n_hosts);
        for (size_t i = 0; i < ELEMENTSOF(vm_families); i++)
                vm_family_print(&p, &vm_families[i], vms, n_vms, m->history);
        for (size_t i = 0; i < ELEMENTSOF(host_families); i++)
                host_family_print(&p, &host_families[i], hosts, n_hosts, m->history);
        for (size_t i = 0; i < ELEMENTSOF(tide_vm_families); i++)
                vm_family_print(&p, &tide_vm_families[i], vms, n_vms, m->history);
        actions_print(&p, vms, n_vms);
        pthread_mutex_unlock(&m->lock);
        if (p.r < 0) {
                strbuf_clear(&p.out);
                return p.r;
        }
        *ret = strbuf_steal(&p.out);
        return 0;
}
