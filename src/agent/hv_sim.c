/* hv_sim.c — the simulated hypervisor driver: one host and its domains, in memory.
 *
 * Lets the scheduler, the controllers and the agent run against thousands of hosts in one
 * process, without QEMU and deterministically. A connection is a host; its domains sit in an
 * array sorted by UUID (binary search to find one; list() comes out in UUID order, the same
 * on every run). Each domain keeps its definition and, while it runs, the configuration it
 * was started with, as libvirt does. The error codes and idempotence are those hv.h gives
 * every driver. No I/O, no threads, nothing logs: every call takes the connection's mutex. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "agent/hv.h"
#include "agent/hv_sim_priv.h"
#include "common/errors.h"
#include "common/fairshare.h"
#include "common/util.h"

#define SIM_SCHEME "sim:///"
#define SIM_NAME_MAX 63
#define SIM_MAX_MEM_MIB (INT64_C(64) * 1024 * 1024) /* 64 TiB */
#define SIM_MAX_DISK_GIB (INT64_C(1) << 30)
#define SIM_URI_MAX 1024
#define SIM_PERIOD_DEFAULT_US INT64_C(100000) /* the kernel's CFS period */
#define NS_PER_S 1000000000.0

int hv_sim_fail_with(int error, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        hv_set_last_errorv(fmt, ap);
        va_end(ap);
        return error;
}

/* ---- the URI ---- */

static bool name_ok(const char *s, size_t n) {
        if (n == 0 || n > SIM_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                      ch == '_' || ch == '-'))
                        return false;
        }
        return true;
}

struct sim_param {
        const char *key;
        int64_t min, max, def;
};

enum { P_CPUS, P_NUMA, P_MEM, P_HUGE, P_DISK, P_MAX };

static const struct sim_param params[P_MAX] = {
        [P_CPUS] = { "cpus", 1, HV_MAX_CPUS, 64 },
        [P_NUMA] = { "numa", 1, HV_MAX_NUMA_NODES, 1 },
        [P_MEM] = { "mem_mib", 256, SIM_MAX_MEM_MIB, 262144 },
        [P_HUGE] = { "hugepages_mib", 0, SIM_MAX_MEM_MIB, 0 },
        [P_DISK] = { "disk_gib", 0, SIM_MAX_DISK_GIB, 2000 },
};

/* Parses uri into name (allocated) and the parameter values; TIDE_E_INVALID with a message
 * for anything else: unknown or repeated keys, values out of range or not decimal. */
static int parse_uri(const char *uri, char **ret_name, int64_t v[P_MAX]) {
        if (!uri)
                return hv_sim_fail_with(TIDE_E_INVALID, "the simulator needs a URI: sim:///NAME?cpus=...");
        if (strlen(uri) > SIM_URI_MAX)
                return hv_sim_fail_with(TIDE_E_INVALID, "simulator URI longer than %d bytes", SIM_URI_MAX);
        if (!startswith(uri, SIM_SCHEME))
                return hv_sim_fail_with(TIDE_E_INVALID, "simulator URI does not start with %s", SIM_SCHEME);
        const char *p = uri + strlen(SIM_SCHEME);
        size_t n = strcspn(p, "?");
        if (!name_ok(p, n))
                return hv_sim_fail_with(TIDE_E_INVALID, "simulated host name must be 1 to %d of [A-Za-z0-9._-]",
                                        SIM_NAME_MAX);
        _cleanup_free_ char *name = xstrndup(p, n);
        p += n;

        bool seen[P_MAX] = {};
        for (int i = 0; i < P_MAX; i++)
                v[i] = params[i].def;
        if (*p == '?')
                p++;
        while (*p) {
                size_t len = strcspn(p, "&");
                _cleanup_free_ char *pair = xstrndup(p, len);
                p += len;
                if (*p == '&' && !*++p)
                        return hv_sim_fail_with(TIDE_E_INVALID, "simulator URI ends with '&'");
                char *eq = strchr(pair, '=');
                if (!eq)
                        return hv_sim_fail_with(TIDE_E_INVALID, "simulator URI parameter '%s' without a value", pair);
                *eq = '\0';
                int k = 0;
                while (k < P_MAX && !streq(pair, params[k].key))
                        k++;
                if (k == P_MAX)
                        return hv_sim_fail_with(TIDE_E_INVALID, "unknown simulator URI parameter '%s'", pair);
                if (seen[k])
                        return hv_sim_fail_with(TIDE_E_INVALID, "simulator URI parameter '%s' given twice", pair);
                seen[k] = true;
                if (parse_int64(eq + 1, params[k].min, params[k].max, &v[k]) < 0)
                        return hv_sim_fail_with(TIDE_E_INVALID,
                                                "simulator URI: %s must be an integer in [%" PRId64 ", %" PRId64 "]",
                                                pair, params[k].min, params[k].max);
        }
        if (v[P_CPUS] % v[P_NUMA] != 0)
                return hv_sim_fail_with(TIDE_E_INVALID,
                                        "simulator URI: cpus (%" PRId64 ") must be a multiple of numa (%" PRId64 ")",
                                        v[P_CPUS], v[P_NUMA]);
        if (v[P_MEM] < v[P_NUMA])
                return hv_sim_fail_with(TIDE_E_INVALID, "simulator URI: less than 1 MiB of memory per NUMA node");
        if (v[P_HUGE] > v[P_MEM] || v[P_HUGE] % 2 != 0)
                return hv_sim_fail_with(TIDE_E_INVALID,
                                        "simulator URI: hugepages_mib must be even and at most mem_mib");
        *ret_name = TAKE_PTR(name);
        return 0;
}

/* ---- domains ---- */

void hv_sim_config_clear(struct sim_config *cfg) {
        free(cfg->pin_cpus);
        free(cfg->cpuset);
        *cfg = (struct sim_config) {};
}

void hv_sim_config_copy(struct sim_config *dst, const struct sim_config *src) {
        *dst = *src;
        if (src->n_pin_cpus > 0) {
                dst->pin_cpus = xmalloc((size_t) src->n_pin_cpus * sizeof *dst->pin_cpus);
                memcpy(dst->pin_cpus, src->pin_cpus, (size_t) src->n_pin_cpus * sizeof *dst->pin_cpus);
        }
        dst->cpuset = src->cpuset ? xstrdup(src->cpuset) : NULL;
}

/* How many cores the vCPUs of a domain so placed can use at once; 0: no limit. */
int hv_sim_config_cores(const struct sim_config *cfg) {
        struct cpuset set = {};
        if (cfg->n_pin_cpus > 0) {
                for (int i = 0; i < cfg->n_pin_cpus; i++)
                        cpuset_set(&set, cfg->pin_cpus[i]);
                return cpuset_count(&set);
        }
        int n = cfg->cpuset ? cpuset_parse(cfg->cpuset, &set) : 0;
        return n > 0 ? n : 0;
}

static void config_from_spec(struct sim_config *cfg, const struct hv_domain_spec *s) {
        struct sim_config from = {
                .vcpus = s->vcpus,
                .max_vcpus = s->max_vcpus,
                .ram_mib = s->ram_mib,
                .max_ram_mib = s->max_ram_mib,
                .n_pin_cpus = s->n_pin_cpus,
                .pin_cpus = (int *) s->pin_cpus,
                .has_numa_node = s->has_numa_node,
                .numa_node = s->numa_node,
                .hugepages = s->hugepages,
                .cpuset = (char *) s->cpuset,
                /* What a domain gets from libvirt until its CPU tuning is set. */
                .tune = { .shares = HV_SHARES_DEFAULT, .period_us = SIM_PERIOD_DEFAULT_US },
        };
        from.cores = hv_sim_config_cores(&from);
        hv_sim_config_copy(cfg, &from);
}

static void domain_free(struct sim_domain *d) {
        if (!d)
                return;
        free(d->name);
        hv_sim_config_clear(&d->def);
        hv_sim_config_clear(&d->live);
        free(d->huge_mib);
        free(d->vcpu_time_ns);
        free(d->vcpu_ready_ns);
        free(d);
}

/* Index of uuid in c->doms, or where it would go (ret_found false). */
size_t hv_sim_find(struct hv_conn *c, const char *uuid, bool *ret_found) {
        size_t lo = 0, hi = c->n_doms;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int cmp = strcmp(c->doms[mid]->uuid, uuid);
                if (cmp == 0) {
                        *ret_found = true;
                        return mid;
                }
                if (cmp < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_found = false;
        return lo;
}

/* The domain, or NULL with TIDE_E_NOT_FOUND (or TIDE_E_INVALID for no UUID) in *ret_r. */
struct sim_domain *hv_sim_lookup(struct hv_conn *c, const char *uuid, int *ret_r) {
        if (!uuid) {
                *ret_r = hv_sim_fail_with(TIDE_E_INVALID, "no domain UUID");
                return NULL;
        }
        bool found;
        size_t i = hv_sim_find(c, uuid, &found);
        if (!found) {
                *ret_r = hv_sim_fail_with(TIDE_E_NOT_FOUND, "no domain with UUID '%s'", uuid);
                return NULL;
        }
        return c->doms[i];
}

/* Powers d off, giving its hugepages back. */
static void power_off(struct hv_conn *c, struct sim_domain *d) {
        if (d->state != HV_STATE_RUNNING)
                return;
        for (int i = 0; d->huge_mib && i < c->n_numa; i++)
                c->nodes[i].hugepages_used_mib -= d->huge_mib[i];
        free(d->huge_mib);
        d->huge_mib = NULL;
        hv_sim_config_clear(&d->live);
        d->state = HV_STATE_SHUTOFF;
        free(d->vcpu_time_ns);
        free(d->vcpu_ready_ns);
        d->vcpu_time_ns = d->vcpu_ready_ns = NULL;
        d->cpu_time_ns = 0;
}

/* ---- the load model (hv.h) ---- */

static int64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The cores domain d's vCPUs want to run now (its demand within its vCPUs) into
 * *ret_runnable, and what they may run: within its placement and quota too. */
static double may_run(const struct hv_conn *c, const struct sim_domain *d, double *ret_runnable) {
        const struct sim_config *cfg = &d->live;
        double runnable = fmin(d->cpu_demand, (double) cfg->vcpus);
        *ret_runnable = runnable;
        double cap = fmin(runnable, (double) (cfg->cores > 0 ? cfg->cores : c->cpus));
        if (cfg->tune.quota_us > 0)
                cap = fmin(cap, (double) cfg->tune.quota_us / (double) cfg->tune.period_us);
        return cap;
}

/* Runs the model dt_ns forward with everything as it is now. */
static void accrue(struct hv_conn *c, int64_t dt_ns) {
        if (dt_ns <= 0)
                return;
        size_t n = c->n_doms;
        _cleanup_free_ double *want = n > 0 ? xcalloc(n, sizeof *want) : NULL;
        _cleanup_free_ double *weight = n > 0 ? xcalloc(n, sizeof *weight) : NULL;
        _cleanup_free_ double *runnable = n > 0 ? xcalloc(n, sizeof *runnable) : NULL;
        _cleanup_free_ double *served = n > 0 ? xcalloc(n, sizeof *served) : NULL;
        for (size_t i = 0; i < n; i++) {
                const struct sim_domain *d = c->doms[i];
                if (d->state != HV_STATE_RUNNING)
                        continue;
                want[i] = may_run(c, d, &runnable[i]);
                weight[i] = d->live.tune.shares;
        }
        fairshare_split((double) c->cpus, NULL, want, weight, n, served);
        double dt = (double) dt_ns, total_runnable = 0;
        int64_t busy = 0;
        for (size_t i = 0; i < n; i++) {
                struct sim_domain *d = c->doms[i];
                if (d->state != HV_STATE_RUNNING || d->live.vcpus < 1)
                        continue;
                int v = d->live.vcpus;
                int64_t run = llround(served[i] / v * dt);
                int64_t ready = llround(fmax(runnable[i] - served[i], 0) / v * dt);
                for (int k = 0; k < v; k++) {
                        d->vcpu_time_ns[k] += run;
                        d->vcpu_ready_ns[k] += ready;
                }
                d->cpu_time_ns += run * v;
                busy += run * v;
                total_runnable += runnable[i];
        }
        int64_t all = llround((double) c->cpus * dt);
        c->host_busy_ns += busy;
        c->host_idle_ns += all > busy ? all - busy : 0;
        /* Linux's load averages are exponentially damped over 1, 5 and 15 minutes. */
        static const double window_s[3] = { 60, 300, 900 };
        for (int k = 0; k < 3; k++) {
                double e = exp(-dt / NS_PER_S / window_s[k]);
                c->load[k] = c->load[k] * e + total_runnable * (1 - e);
        }
        c->now_ns += dt_ns;
}

/* On real time, runs the model up to the present. Every call that reads or changes it
 * comes here first, under the lock, so each interval runs with what held during it. */
void hv_sim_sync_clock(struct hv_conn *c) {
        if (c->manual_clock)
                return;
        int64_t t = mono_ns();
        accrue(c, t - c->real_ns);
        c->real_ns = t;
}

/* Takes the hugepages of cfg (from its node, or from the nodes in order) into ret_taken;
 * TIDE_E_BACKEND when they are not free. */
int hv_sim_take_hugepages(struct hv_conn *c, const struct sim_config *cfg, int64_t **ret_taken) {
        int64_t need = cfg->max_ram_mib;
        int64_t *taken = xcalloc((size_t) c->n_numa, sizeof *taken);
        int first = cfg->has_numa_node ? cfg->numa_node : 0;
        int last = cfg->has_numa_node ? cfg->numa_node : c->n_numa - 1;
        for (int i = first; i <= last && need > 0; i++) {
                int64_t avail = c->nodes[i].hugepages_mib - c->nodes[i].hugepages_used_mib;
                taken[i] = avail < need ? avail : need;
                need -= taken[i];
        }
        if (need > 0) {
                free(taken);
                return hv_sim_fail_with(TIDE_E_BACKEND, "not enough free hugepages for %" PRId64 " MiB%s",
                                        cfg->max_ram_mib, cfg->has_numa_node ? " on the bound NUMA node" : "");
        }
        for (int i = 0; i < c->n_numa; i++)
                c->nodes[i].hugepages_used_mib += taken[i];
        *ret_taken = taken;
        return 0;
}

static void fill_info(const struct sim_domain *d, struct hv_domain_info *ret) {
        const struct sim_config *cfg = d->state == HV_STATE_RUNNING ? &d->live : &d->def;
        *ret = (struct hv_domain_info) {
                .uuid = xstrdup(d->uuid),
                .name = xstrdup(d->name),
                .state = d->state,
                .vcpus = cfg->vcpus,
                .mem_kib = cfg->ram_mib * 1024,
                .max_mem_kib = cfg->max_ram_mib * 1024,
                .persistent = true,
                .cpu_time_ns = d->state == HV_STATE_RUNNING ? d->cpu_time_ns : 0,
        };
}

/* ---- the driver ---- */

static int sim_open(const char *uri, const char *state_dir, struct hv_conn **ret) {
        _cleanup_free_ char *name = NULL;
        int64_t v[P_MAX];
        int r = parse_uri(uri, &name, v);
        if (r < 0)
                return r;

        struct hv_conn *c = xcalloc(1, sizeof *c);
        c->base.driver = &hv_sim_driver;
        pthread_mutex_init(&c->lock, NULL);
        c->real_ns = mono_ns();
        c->cpus = (int) v[P_CPUS];
        c->n_numa = (int) v[P_NUMA];
        c->mem_mib = v[P_MEM];
        c->hugepages_mib = v[P_HUGE];
        c->disk_gib = v[P_DISK];
        /* Canonical: every parameter, so the URI alone says what the host is. */
        c->uri = xasprintf(SIM_SCHEME "%s?cpus=%d&numa=%d&mem_mib=%" PRId64 "&hugepages_mib=%" PRId64
                                      "&disk_gib=%" PRId64,
                           name, c->cpus, c->n_numa, c->mem_mib, c->hugepages_mib, c->disk_gib);
        c->name = TAKE_PTR(name);
        c->nodes = xcalloc((size_t) c->n_numa, sizeof *c->nodes);
        int per_node = c->cpus / c->n_numa;
        int64_t pages = c->hugepages_mib / 2; /* 2 MiB pages */
        for (int i = 0; i < c->n_numa; i++) {
                struct sim_node *n = &c->nodes[i];
                n->cpu_first = i * per_node;
                n->n_cpus = per_node;
                n->mem_mib = c->mem_mib / c->n_numa + (i < c->mem_mib % c->n_numa);
                n->hugepages_mib = 2 * (pages / c->n_numa + (i < pages % c->n_numa));
        }
        c->migrate_rate_mib_s = HV_SIM_MIGRATE_RATE_MIB_S;
        c->migrate_fail_percent = -1;
        hv_sim_registry_add(c);
        *ret = c;
        return 0;
}

/* Closes the connection and forgets its domains. NULL is fine. */
static void sim_close(struct hv_conn *c) {
        if (!c)
                return;
        hv_sim_registry_remove(c);
        for (size_t i = 0; i < c->n_doms; i++)
                domain_free(c->doms[i]);
        free(c->doms);
        free(c->nodes);
        free(c->name);
        free(c->uri);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

static char *cpu_range(int first, int n) {
        return n == 1 ? xasprintf("%d", first) : xasprintf("%d-%d", first, first + n - 1);
}

static int sim_host_info(struct hv_conn *c, struct hv_host_info *ret) {
        /* Everything read here is fixed at open: no lock needed. */
        struct hv_numa_node *numa = xcalloc((size_t) c->n_numa, sizeof *numa);
        for (int i = 0; i < c->n_numa; i++)
                numa[i] = (struct hv_numa_node) {
                        .id = i,
                        .cpus = cpu_range(c->nodes[i].cpu_first, c->nodes[i].n_cpus),
                        .mem_mib = c->nodes[i].mem_mib,
                        .hugepages_mib = c->nodes[i].hugepages_mib,
                };
        *ret = (struct hv_host_info) {
                .hostname = xstrdup(c->name),
                .cpus = c->cpus,
                .sockets = c->n_numa,
                .cores = c->cpus / c->n_numa,
                .threads = 1,
                .numa_nodes = c->n_numa,
                .mem_mib = c->mem_mib,
                .disk_gib = c->disk_gib,
                .accel = xstrdup("sim"),
                .vcpu_unplug = true,
                .uri = xstrdup(c->uri),
                .n_numa = c->n_numa,
                .numa = numa,
        };
        return 0;
}

/* define() under the lock. */
static int define_locked(struct hv_conn *c, const struct hv_domain_spec *spec) {
        /* libvirt's rules: a name belongs to one UUID, a UUID to one name. */
        for (size_t i = 0; i < c->n_doms; i++)
                if (streq(c->doms[i]->name, spec->name) && !streq(c->doms[i]->uuid, spec->uuid))
                        return hv_sim_fail_with(TIDE_E_EXISTS, "domain '%s' already exists with UUID %s", spec->name,
                                                c->doms[i]->uuid);
        bool found;
        size_t at = hv_sim_find(c, spec->uuid, &found);
        if (found) {
                struct sim_domain *d = c->doms[at];
                if (!streq(d->name, spec->name))
                        return hv_sim_fail_with(TIDE_E_EXISTS, "UUID %s is already defined as domain '%s'", spec->uuid,
                                                d->name);
                hv_sim_config_clear(&d->def);
                config_from_spec(&d->def, spec);
                return 0;
        }
        struct sim_domain *d = xcalloc(1, sizeof *d);
        snprintf(d->uuid, sizeof d->uuid, "%s", spec->uuid);
        d->name = xstrdup(spec->name);
        d->state = HV_STATE_SHUTOFF;
        config_from_spec(&d->def, spec);
        if (c->n_doms == c->cap_doms) {
                c->cap_doms = c->cap_doms ? 2 * c->cap_doms : 16;
                c->doms = xrealloc(c->doms, c->cap_doms * sizeof *c->doms);
        }
        memmove(&c->doms[at + 1], &c->doms[at], (c->n_doms - at) * sizeof *c->doms);
        c->doms[at] = d;
        c->n_doms++;
        return 0;
}

static int sim_define(struct hv_conn *c, const struct hv_domain_spec *spec) {
        if (hv_domain_spec_validate(spec, false) < 0)
                return hv_sim_fail_with(TIDE_E_INVALID, "invalid domain spec");
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = define_locked(c, spec);
        pthread_mutex_unlock(&c->lock);
        return r;
}

/* Whether every CPU of cpuset (valid, or NULL) is one the host has; TIDE_E_BACKEND as
 * libvirt fails to set such an affinity (a cgroup's cpuset.cpus refuses it). */
static int check_cpuset(struct hv_conn *c, const char *cpuset) {
        struct cpuset set;
        if (!cpuset || cpuset_parse(cpuset, &set) < 0)
                return 0;
        for (int cpu = c->cpus; cpu < HV_MAX_CPUS; cpu++)
                if (cpuset_has(&set, cpu))
                        return hv_sim_fail_with(TIDE_E_BACKEND, "CPU %d of the list '%s' is beyond the host's %d CPUs",
                                                cpu, cpuset, c->cpus);
        return 0;
}

/* Whether the host has what cfg asks for; TIDE_E_BACKEND as libvirt fails at start. */
int hv_sim_check_host(struct hv_conn *c, const struct sim_config *cfg) {
        for (int i = 0; i < cfg->n_pin_cpus; i++)
                if (cfg->pin_cpus[i] >= c->cpus)
                        return hv_sim_fail_with(TIDE_E_BACKEND, "vCPU %d pinned to CPU %d, the host has %d CPUs", i,
                                                cfg->pin_cpus[i], c->cpus);
        if (cfg->has_numa_node && cfg->numa_node >= c->n_numa)
                return hv_sim_fail_with(TIDE_E_BACKEND, "NUMA node %d is unavailable", cfg->numa_node);
        return check_cpuset(c, cfg->cpuset);
}

static int sim_start(struct hv_conn *c, const char *uuid) {
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (!d || d->state == HV_STATE_RUNNING)
                goto out;
        if ((r = hv_sim_check_host(c, &d->def)) < 0)
                goto out;
        if (d->def.hugepages && (r = hv_sim_take_hugepages(c, &d->def, &d->huge_mib)) < 0)
                goto out;
        hv_sim_config_copy(&d->live, &d->def);
        d->state = HV_STATE_RUNNING;
        d->vcpu_time_ns = xcalloc((size_t) d->live.max_vcpus, sizeof *d->vcpu_time_ns);
        d->vcpu_ready_ns = xcalloc((size_t) d->live.max_vcpus, sizeof *d->vcpu_ready_ns);
out:
        pthread_mutex_unlock(&c->lock);
        return r;
}

/* Simulated guests obey the power button at once: 0, never 1. */
static int sim_shutdown(struct hv_conn *c, const char *uuid, int timeout_ms) {
        if (timeout_ms < 0)
                return hv_sim_fail_with(TIDE_E_INVALID, "negative shutdown timeout");
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (d)
                power_off(c, d);
        pthread_mutex_unlock(&c->lock);
        return r;
}

static int sim_destroy(struct hv_conn *c, const char *uuid) {
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (d)
                power_off(c, d);
        pthread_mutex_unlock(&c->lock);
        return r;
}

static int sim_reboot(struct hv_conn *c, const char *uuid) {
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (d && d->state != HV_STATE_RUNNING)
                r = hv_sim_fail_with(TIDE_E_CONFLICT, "domain is not running");
        /* A reset keeps the running configuration, as QEMU does. */
        pthread_mutex_unlock(&c->lock);
        return r;
}

static int sim_undefine(struct hv_conn *c, const char *uuid) {
        if (!uuid)
                return hv_sim_fail_with(TIDE_E_INVALID, "no domain UUID");
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        bool found;
        size_t at = hv_sim_find(c, uuid, &found);
        if (found) {
                struct sim_domain *d = c->doms[at];
                power_off(c, d);
                domain_free(d);
                memmove(&c->doms[at], &c->doms[at + 1], (c->n_doms - at - 1) * sizeof *c->doms);
                c->n_doms--;
        }
        pthread_mutex_unlock(&c->lock);
        return 0;
}

static int sim_domain_info(struct hv_conn *c, const char *uuid, struct hv_domain_info *ret) {
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (d)
                fill_info(d, ret);
        pthread_mutex_unlock(&c->lock);
        return r;
}

static int sim_list(struct hv_conn *c, struct hv_domain_info **ret, size_t *ret_n) {
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        size_t n = c->n_doms;
        struct hv_domain_info *out = n > 0 ? xcalloc(n, sizeof *out) : NULL;
        for (size_t i = 0; i < n; i++)
                fill_info(c->doms[i], &out[i]);
        pthread_mutex_unlock(&c->lock);
        *ret = out;
        *ret_n = n;
        return 0;
}

/* Records cpuset in the definition and, when running, in the running configuration: the
 * simulator has no threads to move. A list with CPUs beyond the host's changes nothing. */
static int sim_set_cpuset(struct hv_conn *c, const char *uuid, const char *cpuset) {
        struct cpuset set;
        if (cpuset_parse(cpuset, &set) <= 0)
                return hv_sim_fail_with(TIDE_E_INVALID, "invalid CPU list");
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (!d || (r = check_cpuset(c, cpuset)) < 0)
                goto out;
        if (d->state == HV_STATE_RUNNING) {
                free(d->live.cpuset);
                d->live.cpuset = xstrdup(cpuset);
                d->live.cores = hv_sim_config_cores(&d->live);
        }
        free(d->def.cpuset);
        d->def.cpuset = xstrdup(cpuset);
        d->def.cores = hv_sim_config_cores(&d->def);
out:
        pthread_mutex_unlock(&c->lock);
        return r;
}

/* ---- statistics and elastic controls ---- */

static void fill_stats(const struct hv_conn *c, const struct sim_domain *d, struct hv_domain_stats *ret) {
        bool running = d->state == HV_STATE_RUNNING;
        const struct sim_config *cfg = running ? &d->live : &d->def;
        struct hv_domain_stats s = {
                .uuid = xstrdup(d->uuid),
                .name = xstrdup(d->name),
                .state = d->state,
                .sample_ns = c->now_ns,
                .vcpus_current = cfg->vcpus,
                .vcpus_max = cfg->max_vcpus,
                .has_balloon = true,
                .balloon_current_kib = cfg->ram_mib * 1024,
                .balloon_maximum_kib = cfg->max_ram_mib * 1024,
        };
        if (running) {
                s.has_cpu = s.has_cpu_split = true;
                s.cpu_time_ns = s.cpu_user_ns = d->cpu_time_ns;
                s.has_vcpu_wait = s.has_vcpu_delay = true;
                s.n_vcpu = cfg->max_vcpus;
                s.vcpu = xcalloc((size_t) s.n_vcpu, sizeof *s.vcpu);
                for (int k = 0; k < cfg->vcpus; k++)
                        s.vcpu[k] = (struct hv_vcpu_stats) {
                                .online = true,
                                .time_ns = d->vcpu_time_ns[k],
                                .wait_ns = d->vcpu_ready_ns[k],
                                .delay_ns = d->vcpu_ready_ns[k],
                        };
                int64_t used = d->mem_demand_mib < cfg->ram_mib ? d->mem_demand_mib : cfg->ram_mib;
                s.has_guest_mem = true;
                s.available_kib = cfg->ram_mib * 1024;
                s.unused_kib = s.usable_kib = (cfg->ram_mib - used) * 1024;
                s.guest_mem_updated_s = c->now_ns / 1000000000;
                s.has_rss = true;
                s.rss_kib = used * 1024;
                s.has_block = s.has_net = true; /* simulated guests do no I/O */
        }
        hv_domain_stats_finish(&s);
        *ret = s;
}

static int sim_stats(struct hv_conn *c, struct hv_domain_stats **ret, size_t *ret_n) {
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        size_t n = c->n_doms;
        struct hv_domain_stats *out = n > 0 ? xcalloc(n, sizeof *out) : NULL;
        for (size_t i = 0; i < n; i++)
                fill_stats(c, c->doms[i], &out[i]);
        pthread_mutex_unlock(&c->lock);
        *ret = out;
        *ret_n = n;
        return 0;
}

static int sim_host_stats(struct hv_conn *c, struct hv_host_stats *ret) {
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int64_t used_kib = 0;
        for (size_t i = 0; i < c->n_doms; i++) {
                const struct sim_domain *d = c->doms[i];
                if (d->state != HV_STATE_RUNNING)
                        continue;
                int64_t mib = d->live.hugepages                     ? d->live.max_ram_mib
                              : d->mem_demand_mib < d->live.ram_mib ? d->mem_demand_mib
                                                                    : d->live.ram_mib;
                used_kib += mib * 1024;
        }
        int64_t total = c->mem_mib * 1024, free_kib = total > used_kib ? total - used_kib : 0;
        *ret = (struct hv_host_stats) {
                .sample_ns = c->now_ns,
                .cpus = c->cpus,
                .cpu_user_ns = c->host_busy_ns,
                .cpu_idle_ns = c->host_idle_ns,
                .mem_total_kib = total,
                .mem_free_kib = free_kib,
                .mem_available_kib = free_kib,
                .load1 = c->load[0],
                .load5 = c->load[1],
                .load15 = c->load[2],
        };
        pthread_mutex_unlock(&c->lock);
        return 0;
}

/* Hot-adds or hot-removes vCPUs at once (the highest go first, their counters with them,
 * as a real vCPU's thread goes), and keeps the definition in step. */
static int sim_set_vcpus(struct hv_conn *c, const char *uuid, int n) {
        if (n < 1 || n > HV_MAX_VCPUS)
                return hv_sim_fail_with(TIDE_E_INVALID, "vCPU count out of range");
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        bool running = d && d->state == HV_STATE_RUNNING;
        if (!d)
                goto out;
        if (n > d->def.max_vcpus || (running && n > d->live.max_vcpus)) {
                r = hv_sim_fail_with(TIDE_E_INVALID, "%d vCPUs is more than the domain's maximum of %d", n,
                                     running && d->live.max_vcpus < d->def.max_vcpus ? d->live.max_vcpus
                                                                                     : d->def.max_vcpus);
                goto out;
        }
        if (running) {
                for (int k = n; k < d->live.vcpus; k++)
                        d->vcpu_time_ns[k] = d->vcpu_ready_ns[k] = 0;
                d->live.vcpus = n;
        }
        d->def.vcpus = n;
out:
        pthread_mutex_unlock(&c->lock);
        return r;
}

/* The balloon reaches its target at once. */
static int sim_set_memory(struct hv_conn *c, const char *uuid, int64_t mib) {
        if (mib < HV_MIN_RAM_MIB || mib > HV_MAX_RAM_MIB)
                return hv_sim_fail_with(TIDE_E_INVALID, "memory size out of range");
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        bool running = d && d->state == HV_STATE_RUNNING;
        if (!d)
                goto out;
        if (mib > d->def.max_ram_mib || (running && mib > d->live.max_ram_mib)) {
                r = hv_sim_fail_with(TIDE_E_INVALID, "%" PRId64 " MiB is more than the domain's maximum", mib);
                goto out;
        }
        if (running)
                d->live.ram_mib = mib;
        d->def.ram_mib = mib;
out:
        pthread_mutex_unlock(&c->lock);
        return r;
}

static void tune_apply(struct hv_cpu_tune *dst, const struct hv_cpu_tune *t) {
        dst->shares = t->shares;
        dst->quota_us = t->quota_us;
        if (t->quota_us > 0) /* without a quota the period stays as it was, as in libvirt */
                dst->period_us = t->period_us;
}

static int sim_set_cpu_tune(struct hv_conn *c, const char *uuid, const struct hv_cpu_tune *t) {
        if (hv_cpu_tune_validate(t) < 0)
                return hv_sim_fail_with(TIDE_E_INVALID, "CPU shares, period or quota out of range");
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (d) {
                if (d->state == HV_STATE_RUNNING)
                        tune_apply(&d->live.tune, t);
                tune_apply(&d->def.tune, t);
        }
        pthread_mutex_unlock(&c->lock);
        return r;
}

static int sim_get_cpu_tune(struct hv_conn *c, const char *uuid, struct hv_cpu_tune *ret) {
        pthread_mutex_lock(&c->lock);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (d)
                *ret = d->state == HV_STATE_RUNNING ? d->live.tune : d->def.tune;
        pthread_mutex_unlock(&c->lock);
        return r;
}

static bool is_sim(struct hv_conn *c) {
        return c && hv_conn_driver(c) == &hv_sim_driver;
}

int hv_sim_set_demand(struct hv_conn *c, const char *uuid, double cpu_cores, int64_t mem_mib) {
        if (!is_sim(c))
                return hv_sim_fail_with(TIDE_E_INVALID, "not a simulator connection");
        if (!(cpu_cores >= 0 && cpu_cores <= HV_MAX_VCPUS) || mem_mib < 0 || mem_mib > HV_MAX_RAM_MIB)
                return hv_sim_fail_with(TIDE_E_INVALID, "demand out of range");
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (d) {
                d->cpu_demand = cpu_cores;
                d->mem_demand_mib = mem_mib;
        }
        pthread_mutex_unlock(&c->lock);
        return r;
}

int hv_sim_advance(struct hv_conn *c, int64_t ns) {
        if (!is_sim(c))
                return hv_sim_fail_with(TIDE_E_INVALID, "not a simulator connection");
        if (ns < 0)
                return hv_sim_fail_with(TIDE_E_INVALID, "the simulated clock cannot go back");
        pthread_mutex_lock(&c->lock);
        /* The real time since the last call that moved the clock is dropped: opened and
         * switched at once, a connection's clock starts at exactly 0. */
        c->manual_clock = true;
        accrue(c, ns);
        pthread_mutex_unlock(&c->lock);
        return 0;
}

int64_t hv_sim_now(struct hv_conn *c) {
        if (!is_sim(c))
                return -1;
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int64_t t = c->now_ns;
        pthread_mutex_unlock(&c->lock);
        return t;
}

/* The running configuration of a running domain, else its definition (hv.h). */
int hv_sim_domain_get(struct hv_conn *c, const char *uuid, struct hv_sim_domain *ret) {
        if (!c || hv_conn_driver(c) != &hv_sim_driver)
                return hv_sim_fail_with(TIDE_E_INVALID, "not a simulator connection");
        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (d) {
                const struct sim_config *cfg = d->state == HV_STATE_RUNNING ? &d->live : &d->def;
                *ret = (struct hv_sim_domain) {
                        .state = d->state,
                        .vcpus = cfg->vcpus,
                        .max_vcpus = cfg->max_vcpus,
                        .ram_mib = cfg->ram_mib,
                        .max_ram_mib = cfg->max_ram_mib,
                        .n_pin_cpus = cfg->n_pin_cpus,
                        .has_numa_node = cfg->has_numa_node,
                        .numa_node = cfg->numa_node,
                        .hugepages = cfg->hugepages,
                        .tune = cfg->tune,
                        .cpu_demand = d->cpu_demand,
                        .mem_demand_mib = d->mem_demand_mib,
                };
                if (cfg->n_pin_cpus > 0)
                        memcpy(ret->pin_cpus, cfg->pin_cpus, (size_t) cfg->n_pin_cpus * sizeof *cfg->pin_cpus);
                /* Validated: at most CPUSET_TEXT_MAX bytes. */
                snprintf(ret->cpuset, sizeof ret->cpuset, "%s", cfg->cpuset ? cfg->cpuset : "");
        }
        pthread_mutex_unlock(&c->lock);
        return r;
}

/* The simulator (hv.h, "the simulator"). virtual: it needs none of the agent's files. */
const struct hv_driver hv_sim_driver = {
        .name = "sim",
        .virtual = true,
        .open = sim_open,
        .close = sim_close,
        .host_info = sim_host_info,
        .define = sim_define,
        .start = sim_start,
        .shutdown = sim_shutdown,
        .destroy = sim_destroy,
        .reboot = sim_reboot,
        .undefine = sim_undefine,
        .domain_info = sim_domain_info,
        .list = sim_list,
        .set_cpuset = sim_set_cpuset,
        .stats = sim_stats,
        .host_stats = sim_host_stats,
        .set_vcpus = sim_set_vcpus,
        .set_memory = sim_set_memory,
        .set_cpu_tune = sim_set_cpu_tune,
        .get_cpu_tune = sim_get_cpu_tune,
        .migrate = hv_sim_migrate,
        .migrate_abort = hv_sim_migrate_abort,
        .domain_state_at = hv_sim_domain_state_at,
};
