/* metrics.h — what the agents measure: a short history of samples per VM and per host, the
 * rates derived from them, and the Prometheus text exposition of it all.
 *
 * The agent samples its hypervisor about once a second (one bulk call for every domain) and
 * records one host sample with the samples of the VMs on that host; readers (the API's /metrics
 * and stats routes, the elastic loop) ask for rates, histories and text. No I/O and no logging;
 * a struct metrics may be used from several threads (it has its own lock). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_VCPUS 256
#define METRICS_HISTORY_DEFAULT 120 /* samples kept per VM and per host */

struct metrics_vm_sample {
        const char *id;   /* instance id (the domain's UUID) */
        const char *name; /* instance name */
        const char *host; /* ignored: the VM is on the host of the record it is in */
        bool running;
        int64_t cpu_time_ns; /* whole domain, cumulative */
        int vcpus;           /* online now */
        int vcpus_max;
        int n_vcpu;                              /* entries in the arrays below (at most METRICS_MAX_VCPUS) */
        int64_t vcpu_time_ns[METRICS_MAX_VCPUS]; /* cumulative */
        int64_t vcpu_wait_ns[METRICS_MAX_VCPUS]; /* cumulative time runnable but not running ("ready") */
        int64_t balloon_current_kib;
        int64_t balloon_max_kib;
        bool has_guest_mem;        /* the guest reported the figures below */
        int64_t mem_available_kib; /* guest's total usable RAM as it sees it */
        int64_t mem_unused_kib;    /* free */
        int64_t mem_usable_kib;    /* could be reclaimed without swapping (MemAvailable) */
        int64_t mem_rss_kib;       /* resident on the host */
        int64_t block_rd_bytes, block_wr_bytes, block_rd_reqs, block_wr_reqs;
        int64_t net_rx_bytes, net_tx_bytes, net_rx_packets, net_tx_packets;
};

struct metrics_host_sample {
        const char *host;
        int cpus;
        int64_t cpu_user_ns, cpu_system_ns, cpu_idle_ns, cpu_iowait_ns; /* cumulative */
        int64_t mem_total_kib, mem_free_kib, mem_available_kib;
        double load1, load5, load15;
};

/* Rates over the last two samples (zero until there are two). A counter that went back (a
 * restarted or migrated domain) gives rate 0 for that interval; so does a domain whose total
 * cpu_time_ns went back, for all its rates. */
struct metrics_vm_rates {
        int64_t t_ms;         /* time of the latest sample */
        double cpu_cores;     /* CPU used, in cores */
        double ready_cores;   /* vCPU wait, in cores: demand not served */
        double vcpu_busy_max; /* the busiest online vCPU's use, 0..1 */
        int vcpus, vcpus_max;
        int64_t balloon_kib, balloon_max_kib;
        bool has_guest_mem;
        int64_t mem_usable_kib, mem_unused_kib, mem_available_kib;
};

struct metrics_host_rates {
        int64_t t_ms;
        int cpus;
        double cpu_busy_cores; /* user + system */
        double cpu_idle_cores;
        int64_t mem_total_kib, mem_available_kib;
        double load1;
};

struct metrics;

/* history: samples kept per VM and host (0: METRICS_HISTORY_DEFAULT). metrics_free accepts NULL. */
struct metrics *metrics_new(size_t history);
void metrics_free(struct metrics *m);

/* Records one sample of a host and of the VMs on it at t_ms (monotonic or realtime, but the
 * same clock every time; realtime lets readers show the times: see metrics_vm_json). host and
 * host->host must not be NULL; VMs with a NULL id are skipped, an id listed twice counts once.
 * VMs of that host not in vms are forgotten (with their elastic figures); a VM last seen on
 * another host moves to this one. A sample no later than the one before gives no rates.
 * Strings are copied. O(n_vms) plus the VMs dropped. */
void metrics_record(struct metrics *m, int64_t t_ms, const struct metrics_host_sample *host,
                    const struct metrics_vm_sample *vms, size_t n_vms);

/* Latest rates; TIDE_E_NOT_FOUND when the VM or host is unknown or has one sample only
 * (then ret is zeroed, vcpus and memory figures still filled when known). */
int metrics_vm_rates(struct metrics *m, const char *id, struct metrics_vm_rates *ret);
int metrics_host_rates(struct metrics *m, const char *host, struct metrics_host_rates *ret);

/* What the elastic loop decided, exposed as tide_* series: demand and entitlement in cores, and
 * a counter of actions by kind ("vcpus", "shares", "quota", "balloon"; any string is taken).
 * Both are ignored for a VM not recorded (yet, or any more). NaN and infinities count as 0. */
void metrics_set_elastic(struct metrics *m, const char *id, double demand_cores, double entitlement_cores);
void metrics_count_action(struct metrics *m, const char *id, const char *kind);

/* The last `limit` samples (0: all kept) as rates, oldest first, for `tide instance stats` and
 * `tide host stats`. ret gets a new object (caller decrefs); TIDE_E_NOT_FOUND when unknown.
 *   VM:   {"id","name","host","current":{...},"actions":{"vcpus":N,...},"history":[{...}, ...]}
 *         an entry: "t_ms", "running", "vcpus", "vcpus_max", "balloon_kib", "balloon_max_kib";
 *         "cpu_cores", "ready_cores", "vcpu_busy_max" when it has rates; "mem_available_kib",
 *         "mem_unused_kib", "mem_usable_kib" when the guest reported them; "mem_rss_kib" when
 *         known; "current" adds "demand_cores" and "entitlement_cores" once the loop set them.
 *   host: {"host","current":{...},"history":[{...}, ...]}
 *         an entry: "t_ms", "cpus", "mem_total_kib", "mem_free_kib", "mem_available_kib",
 *         "load1", "load5", "load15"; "cpu_busy_cores", "cpu_idle_cores", "cpu_iowait_cores"
 *         when it has rates; "current" adds "vms".
 * "t_ms" is the stamp given to metrics_record, as given (milliseconds on the caller's clock).
 * "current" is the latest sample; "history" holds only samples with rates (not a VM's first). */
int metrics_vm_json(struct metrics *m, const char *id, size_t limit, json_t **ret);
int metrics_host_json(struct metrics *m, const char *host, size_t limit, json_t **ret);

/* Prometheus text format (version 0.0.4) of the latest samples: the series of
 * prometheus-libvirt-exporter (libvirt_domain_*, running domains only) and tide's own (tide_*);
 * docs/metrics.md lists them. ret gets the text (caller frees); -E2BIG past 256 MiB. */
int metrics_prometheus(struct metrics *m, char **ret);
