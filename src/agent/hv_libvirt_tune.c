/* hv_libvirt_tune.c — the libvirt driver's statistics (every domain in one bulk call, the
 * host's CPU and memory) and its elastic controls (vCPUs, balloon, CPU shares and quota). Library
 * code: nothing here logs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "agent/hv.h"
#include "agent/hv_libvirt_priv.h"
#include "common/errors.h"
#include "common/util.h"


/* The balloon's current size in KiB, or -1. Asking for it also takes a libvirt job on the
 * domain, which waits until the embedded driver has finished reconnecting to a QEMU started
 * by an earlier process: until then virDomainGetInfo() reports the state saved on disk, e.g.
 * "running" for a QEMU that died meanwhile. */
int64_t lv_balloon_kib(virDomainPtr d) {
        virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
        int n = virDomainMemoryStats(d, st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
        for (int i = 0; i < n; i++)
                if (st[i].tag == VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON)
                        return (int64_t) st[i].val;
        return -1; /* failure included: the domain stopped, or there is no balloon */
}

/* ---- statistics ---- */

static int64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A typed parameter's value as an unsigned figure; false for other types and negatives
 * (libvirt writes no negative counters; QEMU's -1 "unknown" never reaches here). */
static bool param_value(const virTypedParameter *p, uint64_t *ret) {
        switch (p->type) {
        case VIR_TYPED_PARAM_ULLONG:
                *ret = p->value.ul;
                return true;
        case VIR_TYPED_PARAM_UINT:
                *ret = p->value.ui;
                return true;
        case VIR_TYPED_PARAM_LLONG:
                *ret = (uint64_t) p->value.l;
                return p->value.l >= 0;
        case VIR_TYPED_PARAM_INT:
                *ret = (uint64_t) p->value.i;
                return p->value.i >= 0;
        default:
                return false;
        }
}

/* One record of virConnectGetAllDomainStats into ret; false when the record is not one of
 * tide's domains. */
static bool record_stats(const virDomainStatsRecord *rec, int64_t sample_ns, struct hv_domain_stats *ret) {
        const char *name = virDomainGetName(rec->dom);
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (!name || !startswith(name, DOMAIN_NAME_PREFIX) || virDomainGetUUIDString(rec->dom, uuid) < 0)
                return false;
        struct hv_domain_stats s = {
                .uuid = xstrdup(uuid),
                .name = xstrdup(name),
                .state = HV_STATE_NOSTATE,
                .sample_ns = sample_ns,
        };
        for (int i = 0; i < rec->nparams; i++) {
                uint64_t v;
                if (param_value(&rec->params[i], &v))
                        hv_domain_stats_add(&s, rec->params[i].field, v);
        }
        hv_domain_stats_finish(&s);
        *ret = s;
        return true;
}

/* One virConnectGetAllDomainStats for every domain, then the tide ones. NOWAIT: a domain
 * busy with a job (a migration, a vCPU unplug waiting for its guest, the reconnect of a
 * domain an earlier process started) reports what needs no job (state, CPU times from the
 * cgroup, vCPU times from /proc) at once instead of holding the whole sample up. */
int lv_stats(struct hv_conn *c, struct hv_domain_stats **ret, size_t *ret_n) {
        const unsigned types = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |
                               VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;
        virDomainStatsRecordPtr *recs = NULL;
        int64_t t0 = mono_ns();
        int n = virConnectGetAllDomainStats(c->vc, types, &recs, VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
        if (n < 0)
                return lv_fail();
        /* The records are read one after the other: the middle of the call is nearest to
         * each on average. */
        int64_t sample_ns = t0 + (mono_ns() - t0) / 2;
        struct hv_domain_stats *out = n > 0 ? xcalloc((size_t) n, sizeof *out) : NULL;
        size_t k = 0;
        for (int i = 0; i < n; i++)
                if (record_stats(recs[i], sample_ns, &out[k]))
                        k++;
        virDomainStatsRecordListFree(recs);
        *ret = out;
        *ret_n = k;
        return 0;
}

/* The field of libvirt's node statistics (CPU or memory: same layout) named name; 0 when
 * absent. */
static int64_t node_field(const void *params, size_t size, int n, const char *name, const char *(*field)(const void *p),
                          uint64_t (*value)(const void *p)) {
        for (int i = 0; i < n; i++) {
                const void *p = (const char *) params + (size_t) i * size;
                if (streq(field(p), name)) {
                        uint64_t v = value(p);
                        return v > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) v;
                }
        }
        return 0;
}

static const char *cpu_field(const void *p) {
        return ((const virNodeCPUStats *) p)->field;
}
static uint64_t cpu_value(const void *p) {
        return ((const virNodeCPUStats *) p)->value;
}
static const char *mem_field(const void *p) {
        return ((const virNodeMemoryStats *) p)->field;
}
static uint64_t mem_value(const void *p) {
        return ((const virNodeMemoryStats *) p)->value;
}

#define HV_NODE_STATS_MAX 16 /* Linux gives 4 CPU and 4 memory figures */

/* The host's CPU times and memory from libvirt; load averages and MemAvailable from this
 * host's /proc when the hypervisor runs here (elsewhere loads stay 0 and available is free
 * plus buffers plus cache). */
int lv_host_stats(struct hv_conn *c, struct hv_host_stats *ret) {
        int64_t t0 = mono_ns();
        /* libvirt wants exactly as many slots as it has figures: ask how many first. */
        virNodeCPUStats cpu[HV_NODE_STATS_MAX];
        int n_cpu = 0;
        if (virNodeGetCPUStats(c->vc, VIR_NODE_CPU_STATS_ALL_CPUS, NULL, &n_cpu, 0) < 0)
                return lv_fail();
        if (n_cpu < 0 || n_cpu > HV_NODE_STATS_MAX)
                return lv_fail_with(TIDE_E_BACKEND, "unexpected number of host CPU statistics");
        if (n_cpu > 0 && virNodeGetCPUStats(c->vc, VIR_NODE_CPU_STATS_ALL_CPUS, cpu, &n_cpu, 0) < 0)
                return lv_fail();
        virNodeMemoryStats mem[HV_NODE_STATS_MAX];
        int n_mem = 0;
        if (virNodeGetMemoryStats(c->vc, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n_mem, 0) < 0)
                return lv_fail();
        if (n_mem < 0 || n_mem > HV_NODE_STATS_MAX)
                return lv_fail_with(TIDE_E_BACKEND, "unexpected number of host memory statistics");
        if (n_mem > 0 && virNodeGetMemoryStats(c->vc, VIR_NODE_MEMORY_STATS_ALL_CELLS, mem, &n_mem, 0) < 0)
                return lv_fail();
        unsigned online = 0;
        if (virNodeGetCPUMap(c->vc, NULL, &online, 0) < 0)
                return lv_fail();
        struct hv_host_stats h = {
                .sample_ns = t0 + (mono_ns() - t0) / 2,
                .cpus = (int) online,
                .cpu_user_ns = node_field(cpu, sizeof *cpu, n_cpu, VIR_NODE_CPU_STATS_USER, cpu_field, cpu_value),
                .cpu_system_ns = node_field(cpu, sizeof *cpu, n_cpu, VIR_NODE_CPU_STATS_KERNEL, cpu_field, cpu_value),
                .cpu_idle_ns = node_field(cpu, sizeof *cpu, n_cpu, VIR_NODE_CPU_STATS_IDLE, cpu_field, cpu_value),
                .cpu_iowait_ns = node_field(cpu, sizeof *cpu, n_cpu, VIR_NODE_CPU_STATS_IOWAIT, cpu_field, cpu_value),
                .mem_total_kib = node_field(mem, sizeof *mem, n_mem, VIR_NODE_MEMORY_STATS_TOTAL, mem_field, mem_value),
                .mem_free_kib = node_field(mem, sizeof *mem, n_mem, VIR_NODE_MEMORY_STATS_FREE, mem_field, mem_value),
                .mem_buffers_kib = node_field(mem, sizeof *mem, n_mem, VIR_NODE_MEMORY_STATS_BUFFERS, mem_field,
                                              mem_value),
                .mem_cached_kib = node_field(mem, sizeof *mem, n_mem, VIR_NODE_MEMORY_STATS_CACHED, mem_field,
                                             mem_value),
        };
        h.mem_available_kib = h.mem_free_kib + h.mem_buffers_kib + h.mem_cached_kib;
        if (c->local) {
                _cleanup_free_ char *text = NULL;
                size_t len;
                double load[3];
                if (read_file("/proc/loadavg", 4096, &text, &len) == 0 && hv_parse_loadavg(text, load) == 0) {
                        h.load1 = load[0];
                        h.load5 = load[1];
                        h.load15 = load[2];
                }
                free(text);
                text = NULL;
                int64_t avail;
                if (read_file("/proc/meminfo", 1 << 16, &text, &len) == 0 &&
                    hv_parse_meminfo(text, "MemAvailable", &avail) == 0)
                        h.mem_available_kib = avail;
        }
        *ret = h;
        return 0;
}

/* ---- elastic controls ---- */

/* Runs op on d; if libvirt refuses because the domain's cgroups are not connected yet (the
 * embedded driver reconnecting, in its own thread and job, to a QEMU an earlier process
 * started: until then calls that take no job, like the scheduler parameters, find no
 * cgroup), waits for that job by asking for the balloon (which takes one) and tries once
 * more. */
static int with_settled(virDomainPtr d, int (*op)(virDomainPtr d, void *arg), void *arg) {
        if (op(d, arg) == 0)
                return 0;
        virErrorPtr e = virGetLastError();
        if (!e || e->code != VIR_ERR_OPERATION_INVALID || lv_is_active(d) != 1)
                return lv_fail();
        (void) lv_balloon_kib(d);
        return op(d, arg) == 0 ? 0 : lv_fail();
}

/* The scope of a change to d: the running domain (when active) and its definition (when
 * persistent). */
static int change_scope(virDomainPtr d, bool *ret_live, bool *ret_config) {
        int active = virDomainIsActive(d), persistent = active >= 0 ? virDomainIsPersistent(d) : -1;
        if (active < 0 || persistent < 0)
                return lv_fail();
        *ret_live = active > 0;
        *ret_config = persistent > 0;
        return 0;
}

int lv_set_vcpus(struct hv_conn *c, const char *uuid, int n) {
        if (n < 1 || n > HV_MAX_VCPUS)
                return lv_fail_with(TIDE_E_INVALID, "vCPU count out of range");
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lv_lookup(c, uuid, &d);
        if (r < 0)
                return r;
        bool live = false, config = false;
        if ((r = change_scope(d, &live, &config)) < 0)
                return r;
        /* Both maxima first: nothing changes when either refuses n. */
        int live_max = live ? virDomainGetVcpusFlags(d, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_VCPU_MAXIMUM)
                            : HV_MAX_VCPUS;
        int config_max = config ? virDomainGetVcpusFlags(d, VIR_DOMAIN_AFFECT_CONFIG | VIR_DOMAIN_VCPU_MAXIMUM)
                                : HV_MAX_VCPUS;
        if (live_max < 0 || config_max < 0) {
                r = lv_fail();
                if (lv_is_active(d) != 0)
                        return r;
                live = false; /* stopped meanwhile */
                if (config_max < 0)
                        return r;
        }
        if (n > (live ? live_max : HV_MAX_VCPUS) || n > config_max) {
                hv_set_last_error("%d vCPUs is more than the domain's maximum of %d", n,
                                  live && live_max < config_max ? live_max : config_max);
                return TIDE_E_INVALID;
        }
        int current = live ? virDomainGetVcpusFlags(d, VIR_DOMAIN_AFFECT_LIVE) : n;
        if (current < 0) {
                r = lv_fail();
                if (lv_is_active(d) != 0)
                        return r;
                live = false;
        } else if (live && n < current && !c->vcpu_unplug)
                return lv_fail_with(TIDE_E_UNSUPPORTED, "vCPUs cannot be hot-removed under TCG: QEMU does not confirm "
                                                        "the unplug and aborts when a vCPU is plugged in again");
        if (live && current != n && virDomainSetVcpusFlags(d, (unsigned) n, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                virErrorPtr e = virGetLastError();
                bool timeout = e && e->code == VIR_ERR_OPERATION_TIMEOUT;
                r = lv_fail();
                if (lv_is_active(d) != 0)
                        return timeout ? TIDE_E_TIMEOUT : r;
                /* Stopped meanwhile: only the definition is left to change. */
        }
        /* HOTPLUGGABLE: vCPUs the definition gains stay hot-pluggable (hv_domain_xml() makes
         * every vCPU but the first so); without it libvirt would fix them in place. */
        if (config && virDomainGetVcpusFlags(d, VIR_DOMAIN_AFFECT_CONFIG) != n &&
            virDomainSetVcpusFlags(d, (unsigned) n, VIR_DOMAIN_AFFECT_CONFIG | VIR_DOMAIN_VCPU_HOTPLUGGABLE) < 0)
                return lv_fail();
        return 0;
}

int lv_set_memory(struct hv_conn *c, const char *uuid, int64_t mib) {
        if (mib < HV_MIN_RAM_MIB || mib > HV_MAX_RAM_MIB)
                return lv_fail_with(TIDE_E_INVALID, "memory size out of range");
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lv_lookup(c, uuid, &d);
        if (r < 0)
                return r;
        bool live = false, config = false;
        if ((r = change_scope(d, &live, &config)) < 0)
                return r;
        unsigned long kib = (unsigned long) mib * 1024;
        /* The maximum of the running domain, else of the definition. */
        unsigned long max = virDomainGetMaxMemory(d);
        if (max == 0)
                return lv_fail();
        if (kib > max) {
                hv_set_last_error("%lld MiB is more than the domain's maximum of %lu MiB", (long long) mib, max / 1024);
                return TIDE_E_INVALID;
        }
        if (live && virDomainSetMemoryFlags(d, kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                r = lv_fail();
                if (lv_is_active(d) != 0)
                        return r;
        }
        /* A definition with a smaller maximum (redefined meanwhile) refuses: TIDE_E_INVALID. */
        if (config && virDomainSetMemoryFlags(d, kib, VIR_DOMAIN_AFFECT_CONFIG) < 0)
                return lv_fail();
        return 0;
}

/* libvirt's global quota for "no limit": any negative value. */
#define HV_QUOTA_NONE INT64_C(-1)
/* Quotas from here up are the kernel's "no limit" as libvirt reports it (its maximum,
 * 2^44 - 1 us, and the cgroup v2 "max"). */
#define HV_QUOTA_INFINITE INT64_C(17592186044415)

struct tune_args {
        const struct hv_cpu_tune *t;
        unsigned flags;
};

static int set_sched(virDomainPtr d, void *arg) {
        const struct tune_args *a = arg;
        virTypedParameter params[3] = {};
        int n = 0;
        params[n] = (virTypedParameter) { .type = VIR_TYPED_PARAM_ULLONG,
                                          .value.ul = (unsigned long long) a->t->shares };
        snprintf(params[n++].field, VIR_TYPED_PARAM_FIELD_LENGTH, "%s", VIR_DOMAIN_SCHEDULER_CPU_SHARES);
        if (a->t->quota_us > 0) {
                params[n] = (virTypedParameter) { .type = VIR_TYPED_PARAM_ULLONG,
                                                  .value.ul = (unsigned long long) a->t->period_us };
                snprintf(params[n++].field, VIR_TYPED_PARAM_FIELD_LENGTH, "%s", VIR_DOMAIN_SCHEDULER_GLOBAL_PERIOD);
        }
        params[n] = (virTypedParameter) { .type = VIR_TYPED_PARAM_LLONG,
                                          .value.l = a->t->quota_us > 0 ? a->t->quota_us : HV_QUOTA_NONE };
        snprintf(params[n++].field, VIR_TYPED_PARAM_FIELD_LENGTH, "%s", VIR_DOMAIN_SCHEDULER_GLOBAL_QUOTA);
        return virDomainSetSchedulerParametersFlags(d, params, n, a->flags);
}

/* Shares through cpu_shares; the limit through global_period and global_quota, the
 * domain's top cgroup (every thread: vCPUs, emulator, I/O), rather than vcpu_quota, which
 * limits each vCPU alone and would have to follow the vCPU count. */
int lv_set_cpu_tune(struct hv_conn *c, const char *uuid, const struct hv_cpu_tune *t) {
        if (hv_cpu_tune_validate(t) < 0)
                return lv_fail_with(TIDE_E_INVALID, "CPU shares, period or quota out of range");
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lv_lookup(c, uuid, &d);
        if (r < 0)
                return r;
        bool live = false, config = false;
        if ((r = change_scope(d, &live, &config)) < 0)
                return r;
        if (live && (r = with_settled(d, set_sched, &(struct tune_args) { t, VIR_DOMAIN_AFFECT_LIVE })) < 0 &&
            lv_is_active(d) != 0)
                return r;
        if (config && (r = with_settled(d, set_sched, &(struct tune_args) { t, VIR_DOMAIN_AFFECT_CONFIG })) < 0)
                return r;
        return 0;
}

struct get_args {
        virTypedParameter params[HV_NODE_STATS_MAX];
        int n;
        unsigned flags;
};

static int get_sched(virDomainPtr d, void *arg) {
        struct get_args *a = arg;
        a->n = HV_NODE_STATS_MAX;
        return virDomainGetSchedulerParametersFlags(d, a->params, &a->n, a->flags);
}

int lv_get_cpu_tune(struct hv_conn *c, const char *uuid, struct hv_cpu_tune *ret) {
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lv_lookup(c, uuid, &d);
        if (r < 0)
                return r;
        bool live = false, config = false;
        if ((r = change_scope(d, &live, &config)) < 0)
                return r;
        struct get_args a = { .flags = live ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG };
        if ((r = with_settled(d, get_sched, &a)) < 0)
                return r;
        struct hv_cpu_tune t = {};
        bool have_shares = false;
        for (int i = 0; i < a.n; i++) {
                const virTypedParameter *p = &a.params[i];
                uint64_t v = 0;
                if (streq(p->field, VIR_DOMAIN_SCHEDULER_GLOBAL_QUOTA)) {
                        int64_t q = p->type == VIR_TYPED_PARAM_LLONG ? p->value.l : -1;
                        t.quota_us = q > 0 && q < HV_QUOTA_INFINITE ? q : 0;
                } else if (!param_value(p, &v))
                        continue;
                else if (streq(p->field, VIR_DOMAIN_SCHEDULER_CPU_SHARES)) {
                        t.shares = v > INT32_MAX ? INT32_MAX : (int) v;
                        have_shares = true;
                } else if (streq(p->field, VIR_DOMAIN_SCHEDULER_GLOBAL_PERIOD))
                        t.period_us = v > INT64_MAX ? INT64_MAX : (int64_t) v;
        }
        if (!have_shares)
                return lv_fail_with(TIDE_E_BACKEND, "the hypervisor reports no CPU shares for the domain");
        *ret = t;
        return 0;
}

/* The libvirt driver (hv.h). Idempotent where hv.h says so; errors map VIR_ERR_NO_DOMAIN to
 * TIDE_E_NOT_FOUND, VIR_ERR_INVALID_ARG to TIDE_E_INVALID and everything else to
 * TIDE_E_BACKEND, with libvirt's text in hv_last_error(). The first use of a fresh embedded
 * root probes QEMU's capabilities (seconds); libvirt caches them under the root.
 * set_cpuset() pins through libvirt, then (QEMU on this host: embedded or qemu:///system)
 * sets the affinity of QEMU's emulator threads itself, which libvirt cannot fully do. */
