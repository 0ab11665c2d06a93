/* hv.h — the hypervisor driver interface: a table of functions per implementation.
 *
 * Implementations (hv_drivers[]): hv_libvirt (libvirt's QEMU driver, real VMs) and hv_sim
 * (simulated hosts in memory, for the scheduler and controllers at scale). The agent owns
 * everything around a domain (its disk overlay, config drive and console log files); a driver
 * only defines, starts, stops and inspects domains. Domains are identified by the instance's UUID, which is also the domain
 * UUID, and named DOMAIN_NAME_PREFIX + the instance's name.
 *
 * All functions return >= 0 on success or a negative error (errors.h): TIDE_E_NOT_FOUND for a
 * domain the hypervisor does not know, TIDE_E_BACKEND for a hypervisor failure (the driver
 * keeps the hypervisor's message: hv_last_error()). A libvirt connection may be used from
 * several threads at once (libvirt serialises the operations on one domain itself). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cpuset.h"      /* CPU lists: cpuset_parse() */
#include "common/domain_name.h" /* DOMAIN_NAME_PREFIX */

/* Limits of a domain spec (hv_domain_xml() refuses anything outside them). 255 vCPUs is the
 * most QEMU's 'pc' (i440fx) machine takes. */
#define HV_MAX_VCPUS 255
#define HV_MIN_RAM_MIB INT64_C(16)
#define HV_MAX_RAM_MIB (INT64_C(4) * 1024 * 1024) /* 4 TiB */
#define HV_MAX_CPUS CPUSET_MAX_CPUS               /* host CPUs: pinned CPU numbers are 0 .. HV_MAX_CPUS - 1 */
#define HV_MAX_NUMA_NODES 64                      /* NUMA node numbers are 0 .. HV_MAX_NUMA_NODES - 1 */

/* The namespace of tide's <metadata> in the domain XML (hv_domain_xml()). */
#define HV_XMLNS_INSTANCE "https://tide.dev/xmlns/instance/1"

enum hv_state {
        HV_STATE_NOSTATE,
        HV_STATE_RUNNING,
        HV_STATE_BLOCKED,
        HV_STATE_PAUSED,
        HV_STATE_SHUTDOWN, /* being shut down */
        HV_STATE_SHUTOFF,
        HV_STATE_CRASHED,
        HV_STATE_PMSUSPENDED,
        HV_STATE_MAX,
};

const char *hv_state_to_string(enum hv_state s);

/* One NUMA node (a libvirt capabilities <cell>). */
struct hv_numa_node {
        int id;                /* the node's number, as numatune's nodeset names it */
        char *cpus;            /* its CPUs as a list of ranges: "0-7,16-23" */
        int64_t mem_mib;       /* its memory, hugepages included */
        int64_t hugepages_mib; /* of which in hugepages (2 MiB and 1 GiB pages), all of
                                  * them, free or not */
};

struct hv_host_info {
        char *hostname;
        int cpus; /* logical CPUs online */
        int sockets, cores, threads;
        int numa_nodes;            /* == n_numa; kept for the callers written before numa[] */
        int64_t mem_mib;           /* total memory */
        int64_t disk_gib;          /* size of the filesystem for instance disks; 0 when unknown */
        char *accel;               /* "kvm", "tcg" or "sim" */
        bool vcpu_unplug;          /* set_vcpus() can hot-remove vCPUs: not under TCG (QEMU 7.2
                              * never confirms a TCG vCPU's unplug to libvirt, and aborts
                              * when one is plugged in again: its translation contexts,
                              * one per vCPU thread ever started, are never given back) */
        char *uri;                 /* the connection's URI, e.g. qemu:///embed?root=... */
        int n_numa;                /* >= 1: a host that reports no topology has one node with every
                              * CPU and all the memory */
        struct hv_numa_node *numa; /* n_numa nodes, by increasing id */
};

/* Frees the strings and nodes of h and zeroes it; NULL is fine. */
void hv_host_info_clear(struct hv_host_info *h);

/* What a domain is made of. Paths are absolute; strings are data (never interpreted) but must
 * be UTF-8 without control characters. uuid is in lowercase canonical form. */
struct hv_domain_spec {
        const char *uuid;        /* instance id; becomes the domain UUID */
        const char *name;        /* domain name: DOMAIN_NAME_PREFIX + instance name */
        int vcpus;               /* online at boot */
        int max_vcpus;           /* >= vcpus; the rest can be hot-added */
        int64_t ram_mib;         /* current memory (balloon target at boot) */
        int64_t max_ram_mib;     /* >= ram_mib */
        const char *disk_path;   /* qcow2 overlay, the root disk (vda) */
        const char *seed_path;   /* NoCloud ISO (label cidata) as vdb, read-only; NULL for none */
        const char *kernel;      /* direct kernel boot; NULL boots from the disk */
        const char *initrd;      /* NULL for none */
        const char *cmdline;     /* NULL for none */
        const char *console_log; /* serial console appended to this file */
        int balloon_period_s;    /* balloon statistics period; 0 for none */

        /* Placement on the host. A zero-initialised spec pins nothing, binds to no NUMA node
         * and uses normal pages. */
        const int *pin_cpus; /* NULL, or the host CPU (0 .. HV_MAX_CPUS - 1) of each vCPU:
                                    * pin_cpus[i] for vCPU i, for every vCPU the domain can
                                    * ever have, so n_pin_cpus == max_vcpus (hot-added vCPUs
                                    * must not float over CPUs given to others). A CPU may
                                    * appear twice. Emits <cputune><vcpupin/>. */
        int n_pin_cpus;      /* 0 with pin_cpus NULL, else max_vcpus */
        bool has_numa_node;  /* false: memory on any node. true: memory strictly on
                                    * numa_node (<numatune><memory mode='strict'/>) */
        int numa_node;       /* 0 .. HV_MAX_NUMA_NODES - 1; must be 0 unless has_numa_node */
        bool hugepages;      /* guest RAM in the host's default-size hugepages
                                    * (<memoryBacking><hugepages/>); max_ram_mib must then be a
                                    * multiple of 2. The balloon cannot give hugepages back to
                                    * the host: such a domain should have ram_mib == max_ram_mib. */
        const char *cpuset;  /* NULL: the domain's threads may run on any host CPU. Else
                                    * a CPU list of at least one CPU (cpuset_parse()) its
                                    * floating threads are kept on, normally the host's shared
                                    * pool (every CPU neither pinned to a dedicated VM nor
                                    * reserved). Without pin_cpus, the vCPUs and the emulator
                                    * threads (QEMU's main loop, I/O, RCU) float over it; with
                                    * pin_cpus, each vCPU stays on its own CPU and only the
                                    * emulator threads use cpuset, so give a dedicated VM the
                                    * shared pool too: its emulator then never steals time
                                    * from its own vCPUs. Emits <vcpu cpuset> and
                                    * <cputune><emulatorpin>; the pool changes later with
                                    * set_cpuset(). */
};

struct hv_domain_info {
        char *uuid;
        char *name;
        enum hv_state state;
        int vcpus;       /* current */
        int64_t mem_kib; /* current */
        int64_t max_mem_kib;
        bool persistent;
        int64_t cpu_time_ns;
};

void hv_domain_info_clear(struct hv_domain_info *d);
void hv_domain_info_array_free(struct hv_domain_info *d, size_t n);

/* ---- statistics ----
 *
 * Counters (times, bytes, requests, packets, faults) count from the start of the domain's
 * current QEMU process (libvirt) or of its current run (hv_sim): a restart sets them back to
 * 0. Rates come from the difference of two samples over the difference of their sample_ns.
 * A group a driver could not read this time has its has_ flag false and zeros: a domain that
 * is off has only its state, vCPU counts and balloon figures from its definition; the libvirt
 * driver also skips the groups that need QEMU's monitor (guest memory, rss, block) while the
 * domain is busy with a job rather than wait for it: a migration, a vCPU unplug waiting for
 * the guest, or, right after open(), the embedded driver reconnecting to a domain an
 * earlier process started (the first sample of a new agent often lacks them).
 *
 * Sums over vCPUs (vcpu_time_ns, ready_ns) count the vCPUs present: they drop when a vCPU
 * is hot-removed; take rates per vCPU, over the vCPUs online in both samples. */

/* One vCPU of a running domain. */
struct hv_vcpu_stats {
        bool online;      /* false: not plugged in (or not reported); the rest is 0 */
        int64_t time_ns;  /* CPU time the vCPU's thread ran */
        int64_t wait_ns;  /* libvirt's vcpu.N.wait: runnable but waiting for a host CPU, from
                                * the kernel's schedstats; 0 on kernels that keep none
                                * (CONFIG_SCHEDSTATS off or kernel.sched_schedstats=0, the
                                * usual default) */
        int64_t delay_ns; /* libvirt's vcpu.N.delay: queued on a host runqueue without
                                * running (the kernel's schedstat run_delay, kept by every
                                * Linux; CFS quota throttling counts too; the guest sees it as
                                * steal time) */
};

struct hv_domain_stats {
        char *uuid;
        char *name;
        enum hv_state state;
        int64_t sample_ns; /* when sampled, on the driver's clock: CLOCK_MONOTONIC (libvirt)
                                * or simulated time (hv_sim); only differences mean anything */

        bool has_cpu;
        int64_t cpu_time_ns; /* every thread of the domain: vCPUs and emulator */
        bool has_cpu_split;  /* cpu_user_ns and cpu_system_ns were reported */
        int64_t cpu_user_ns, cpu_system_ns;

        int vcpus_current;          /* online vCPUs */
        int vcpus_max;              /* the most it can have (hot-add up to this) */
        int n_vcpu;                 /* entries of vcpu[]: vcpus_max, or more when the hypervisor
                                * reported higher vCPU numbers */
        struct hv_vcpu_stats *vcpu; /* by vCPU number; NULL when n_vcpu == 0 */
        bool has_vcpu_wait;         /* some vCPU reported wait_ns (even as 0) */
        bool has_vcpu_delay;        /* some vCPU reported delay_ns */
        int64_t vcpu_time_ns;       /* sum of vcpu[].time_ns */
        int64_t ready_ns;           /* "ready" time, summed over the vCPUs: delay_ns where reported,
                                * else wait_ns. Demand = use + ready. */

        bool has_balloon;
        int64_t balloon_current_kib; /* the balloon's size: what the guest has now */
        int64_t balloon_maximum_kib; /* the most it can be given (the domain's memory) */
        bool has_guest_mem;          /* the guest's balloon driver reported its memory statistics
                                * (needs <memballoon><stats period>, i.e. balloon_period_s) */
        int64_t available_kib;       /* the guest's total memory (its MemTotal) */
        int64_t unused_kib;          /* left completely unused by the guest (MemFree) */
        int64_t usable_kib;          /* available to the guest's programs without swapping
                                * (MemAvailable); 0 with an older guest that does not tell */
        int64_t disk_caches_kib;     /* the guest's page cache, which it could drop */
        int64_t swap_in_kib, swap_out_kib;
        int64_t major_faults, minor_faults;
        int64_t guest_mem_updated_s; /* when the guest last reported, seconds since the
                                        * Epoch (libvirt) or simulated seconds (hv_sim) */
        bool has_rss;
        int64_t rss_kib; /* resident memory of the domain's process on the host */

        bool has_block; /* block figures read (or the domain has no disk) */
        int64_t block_rd_bytes, block_wr_bytes, block_rd_reqs, block_wr_reqs; /* all disks */
        bool has_net; /* network figures read (or the domain has no NIC) */
        int64_t net_rx_bytes, net_tx_bytes, net_rx_packets, net_tx_packets; /* all NICs */
};

/* Frees what d holds and zeroes it; NULL is fine. */
void hv_domain_stats_clear(struct hv_domain_stats *d);
void hv_domain_stats_array_free(struct hv_domain_stats *d, size_t n);

/* The host as a whole. */
struct hv_host_stats {
        int64_t sample_ns; /* on the driver's clock, as hv_domain_stats.sample_ns */
        int cpus;          /* online CPUs */
        /* Summed over all CPUs since the host booted (hv_sim: since open). */
        int64_t cpu_user_ns, cpu_system_ns, cpu_idle_ns, cpu_iowait_ns;
        int64_t mem_total_kib, mem_free_kib;
        int64_t mem_available_kib; /* MemAvailable: free plus what the kernel could reclaim */
        int64_t mem_cached_kib, mem_buffers_kib;
        double load1, load5, load15; /* run-queue load averages */
};

/* ---- CPU tuning ---- */

/* Shares: the weight of a domain's CPU claim against the host's other domains when CPUs
 * are contended (libvirt's cpu_shares: cgroup v1 cpu.shares, cgroup v2 cpu.weight). The
 * range is the one both cgroup versions accept. A domain tide never tuned has the cgroup
 * default: 1024 under cgroup v1 but 100 under v2, so set shares on every domain of a host. */
#define HV_SHARES_MIN 2
#define HV_SHARES_MAX 10000
#define HV_SHARES_DEFAULT 1024
#define HV_PERIOD_MIN_US INT64_C(1000) /* CFS bandwidth period limits (the kernel's) */
#define HV_PERIOD_MAX_US INT64_C(1000000)
#define HV_QUOTA_MIN_US INT64_C(1000)

struct hv_cpu_tune {
        int shares;        /* HV_SHARES_MIN .. HV_SHARES_MAX */
        int64_t quota_us;  /* CPU time all the domain's threads (vCPUs and emulator) may
                                * use per period, over all host CPUs: 150000 per 100000 is 1.5
                                * cores. 0: no limit. Else HV_QUOTA_MIN_US .. HV_MAX_CPUS *
                                * period_us */
        int64_t period_us; /* HV_PERIOD_MIN_US .. HV_PERIOD_MAX_US with a quota; with
                                * quota_us 0 it is ignored by set_cpu_tune() (any value) and
                                * reported as the hypervisor keeps it */
};

/* 0 when t is within the limits above, else TIDE_E_INVALID. Pure. */
int hv_cpu_tune_validate(const struct hv_cpu_tune *t);

/* ---- live migration ---- */

/* How to move a running domain to another host (hv_driver.migrate). */
struct hv_migrate_params {
        const char *target_uri;  /* the target hypervisor: its libvirtd ("qemu+tcp://IP/system",
                                  * the host record's libvirt_uri), or "sim:///NAME" for a
                                  * simulated host open in this process */
        const char *migrate_uri; /* where the memory stream goes ("tcp://IP", the host record's
                                  * migrate_uri: VIR_MIGRATE_PARAM_URI); NULL: the hypervisor's
                                  * choice (libvirt: the target's host name) */
        /* What changes on the target; NULL: the domain runs there as it runs here. Read from it:
         * pin_cpus/n_pin_cpus, has_numa_node/numa_node and cpuset (the target's decision and
         * shared pool), and disk_path, seed_path and console_log when the target keeps the files
         * elsewhere (NULL: the same path). Everything else must be the domain's. */
        const struct hv_domain_spec *dest;
        bool copy_disk;          /* copy the root disk's top layer (VIR_MIGRATE_NON_SHARED_INC): the
                                  * target must have created it beforehand, empty, on the same
                                  * backing image; false: the disk is on storage both hosts see */
        int64_t bandwidth_mib_s; /* 0: unlimited */
        int64_t max_downtime_ms; /* 0: the hypervisor's default (QEMU: 300 ms) */
        int poll_ms;             /* how often progress is read and reported; 0: 500 */
};

/* Where a migration is, as the hypervisor reports it while it runs. */
struct hv_migrate_progress {
        int percent;           /* of the memory (and disk, when copied) sent, 0..100 */
        int64_t elapsed_ms;    /* since the job started */
        int64_t remaining_mib; /* still to send (dirtied pages count again) */
        int64_t total_mib;     /* to send in all, as far as known */
        double rate_mib_s;     /* the current transfer rate; 0 when unknown */
};

/* Called every poll_ms from the thread that runs migrate(); returns true to cancel the move
 * (the driver aborts the job: libvirt's virDomainAbortJob). */
typedef bool (*hv_migrate_progress_fn)(const struct hv_migrate_progress *p, void *userdata);

/* How a migration ended. */
struct hv_migrate_result {
        int64_t total_ms;    /* from the call to the domain running on the target */
        int64_t downtime_ms; /* the guest's pause at the switch (the destination's completed job
                              * statistics); -1 when the hypervisor did not tell */
        int64_t data_mib;    /* memory (and disk) sent */
};

struct hv_conn;

struct hv_driver {
        const char *name;
        /* true: the driver needs no files on disk (hv_sim). It ignores disk_path, seed_path,
         * kernel, initrd, cmdline and console_log (they may be NULL), so the agent can skip
         * disk overlays, config drives and console logs for its domains. */
        bool virtual;
        /* Opens a connection. uri NULL chooses (libvirt: qemu:///system where libvirtd
         * answers, else the embedded driver under state_dir/libvirt). ret gets the connection.
         * An embedded root belongs to one process at a time (a second one gets
         * TIDE_E_BACKEND); a process can use only one embedded root in its lifetime. Domains
         * outlive the connection and the process: the next process to open the root adopts
         * them. */
        int (*open)(const char *uri, const char *state_dir, struct hv_conn **ret);
        void (*close)(struct hv_conn *c);
        int (*host_info)(struct hv_conn *c, struct hv_host_info *ret);
        /* Defines (or redefines) a persistent domain from spec; a running domain keeps its
         * old configuration until it is next started. TIDE_E_INVALID for a spec
         * hv_domain_spec_validate() refuses; TIDE_E_EXISTS when another domain has that name,
         * or this UUID is defined under another name. Host resources (pinned CPUs or cpuset CPUs
         * beyond the host's, a NUMA node it lacks, hugepages) are checked only by start(). */
        int (*define)(struct hv_conn *c, const struct hv_domain_spec *spec);
        /* Starts a defined domain; already running is success. TIDE_E_BACKEND when the host
         * cannot run it as specified (no such CPU, pinned or in cpuset, or NUMA node, not
         * enough hugepages). */
        int (*start)(struct hv_conn *c, const char *uuid);
        /* Asks the guest to shut down (ACPI) and waits up to timeout_ms, then powers it off.
         * Already off is success. */
        /* Returns 0 when the guest shut down by itself (or was off), 1 when it was powered off. */
        int (*shutdown)(struct hv_conn *c, const char *uuid, int timeout_ms);
        /* Powers off at once; already off is success. */
        int (*destroy)(struct hv_conn *c, const char *uuid);
        /* Resets a running domain at once (the reset button: the guest OS is not asked; a clean
         * restart is shutdown() then start()). TIDE_E_CONFLICT when it is not running. */
        int (*reboot)(struct hv_conn *c, const char *uuid);
        /* Removes the definition (powering off first if running); absent is success. */
        int (*undefine)(struct hv_conn *c, const char *uuid);
        /* TIDE_E_NOT_FOUND when the domain is unknown. ret gets info the caller clears. */
        int (*domain_info)(struct hv_conn *c, const char *uuid, struct hv_domain_info *ret);
        /* Every domain tide defined on this connection (name starts with DOMAIN_NAME_PREFIX). */
        int (*list)(struct hv_conn *c, struct hv_domain_info **ret, size_t *ret_n);
        /* Moves a defined domain's floating threads to cpuset (a CPU list of at least one CPU,
         * cpuset_parse()), as if it had been defined with spec.cpuset = cpuset: every vCPU of
         * a domain defined without pin_cpus (offline ones included, so hot-added vCPUs land
         * there too) and the emulator threads of every domain; the vCPUs of a domain defined
         * with pin_cpus stay where they are pinned. A running domain moves at once and keeps
         * the change in its persistent definition; a domain that is off only gets its
         * definition changed (its next start uses it). Idempotent. The caller calls it for
         * every domain on the host whenever the shared pool changes (a dedicated VM came or
         * went): libvirt cannot tell a domain's current cpuset back. TIDE_E_INVALID for a bad
         * or empty CPU list, TIDE_E_NOT_FOUND for an unknown domain, TIDE_E_BACKEND when the
         * hypervisor refuses; a list with a CPU the host does not have (online) is refused
         * before anything changes. */
        int (*set_cpuset)(struct hv_conn *c, const char *uuid, const char *cpuset);

        /* ---- statistics and elastic controls ---- */

        /* Statistics of every tide domain (name starts with DOMAIN_NAME_PREFIX), running or
         * not, in one call (libvirt: one virConnectGetAllDomainStats). ret gets an array the
         * caller frees with hv_domain_stats_array_free(); order unspecified (hv_sim: by
         * UUID). */
        int (*stats)(struct hv_conn *c, struct hv_domain_stats **ret, size_t *ret_n);
        /* The host's CPU times, memory and load averages into ret. */
        int (*host_stats)(struct hv_conn *c, struct hv_host_stats *ret);
        /* Sets the number of online vCPUs to n (1 <= n <= the domain's maximum, else
         * TIDE_E_INVALID): a running domain gets vCPUs hot-added or hot-removed (the highest
         * numbers go first) and its persistent definition's current count follows, so a
         * restart keeps n; a domain that is off gets its definition changed. Returns when
         * the hypervisor has done it: a hot-added vCPU is plugged in (the guest then brings
         * it online by itself, within a second for the tiny guest), a hot-removed one is
         * unplugged by the guest (libvirt waits up to 5 s for the guest to let it go; a
         * guest that does not: TIDE_E_TIMEOUT, and the vCPU may still go later). Where
         * host_info's vcpu_unplug is false (TCG), fewer vCPUs than a running domain has is
         * TIDE_E_UNSUPPORTED and changes nothing: cap such a domain with set_cpu_tune()'s
         * quota instead. Idempotent. TIDE_E_NOT_FOUND for an unknown domain. */
        int (*set_vcpus)(struct hv_conn *c, const char *uuid, int n);
        /* Sets the balloon target of a running domain to mib (HV_MIN_RAM_MIB .. the domain's
         * maximum memory, else TIDE_E_INVALID) and the persistent definition's current memory
         * with it; a domain that is off gets its definition changed. Returns at once: the
         * guest's balloon driver inflates or deflates within a second or so
         * (balloon_current_kib in stats() shows where it is). Idempotent. */
        int (*set_memory)(struct hv_conn *c, const char *uuid, int64_t mib);
        /* Sets the domain's CPU shares and its CPU limit (quota per period for all its
         * threads together; libvirt: cpu_shares, global_period, global_quota), live and in
         * its persistent definition, or only in the definition while it is off. Idempotent.
         * TIDE_E_INVALID for a t that hv_cpu_tune_validate() refuses. */
        int (*set_cpu_tune)(struct hv_conn *c, const char *uuid, const struct hv_cpu_tune *t);
        /* The domain's shares and limit into ret: the running domain's, else its
         * definition's (libvirt: virDomainGetSchedulerParameters). quota_us 0: no limit. A
         * definition that never had shares or a period set reports them as 0 (libvirt; the
         * cgroup default applies at start). */
        int (*get_cpu_tune)(struct hv_conn *c, const char *uuid, struct hv_cpu_tune *ret);

        /* ---- live migration ---- */

        /* Moves running domain uuid live to the hypervisor p->target_uri, peer to peer (the source
         * hypervisor talks to the target's: libvirt's VIR_MIGRATE_LIVE | PEER2PEER | PERSIST_DEST |
         * UNDEFINE_SOURCE, so the source keeps no definition that could start a second copy).
         * Blocks until the move ends; progress(p, userdata) is called every p->poll_ms while the
         * job runs (may be NULL) and cancels it by returning true. The max downtime is applied
         * once the job runs (libvirt has no parameter for it in the call). On success the domain
         * runs on the target, persistent, with p->dest's changes, and is gone from this host;
         * ret (may be NULL) gets the times. On any failure the domain still runs here, as it was,
         * and the target has nothing left of it: -ECANCELED when progress() cancelled it,
         * TIDE_E_NOT_FOUND for an unknown domain, TIDE_E_CONFLICT when it is not running or
         * already has a job, TIDE_E_INVALID for bad parameters (a target that is this host),
         * TIDE_E_BACKEND when the hypervisor failed (the target unreachable or dying mid-way,
         * a refused destination: hv_last_error() says what). */
        int (*migrate)(struct hv_conn *c, const char *uuid, const struct hv_migrate_params *p,
                       hv_migrate_progress_fn progress, void *userdata, struct hv_migrate_result *ret);
        /* Aborts a migration job of domain uuid that some other caller (or an earlier process:
         * libvirtd runs a peer-to-peer job itself, also after its caller died) started, and
         * returns once the job has ended: the domain then runs here again (aborted) or is gone
         * to the target (the job was past the point where it can be stopped and completed).
         * 0 also when there was no job, so a restarted agent can call it blindly before it
         * looks where the domain is; TIDE_E_TIMEOUT when the job still runs after a while
         * (ask again later: until it ends, neither host's state says where the domain runs). */
        int (*migrate_abort)(struct hv_conn *c, const char *uuid);
        /* The state of domain uuid on the hypervisor target_uri (another host): ret_state gets
         * it, or HV_STATE_NOSTATE when the target has no such domain; TIDE_E_BACKEND when the
         * target cannot be asked. What a restarted agent reads to learn where a migration that
         * it started ended. */
        int (*domain_state_at)(struct hv_conn *c, const char *target_uri, const char *uuid, enum hv_state *ret_state);
};

/* Every connection starts with its driver, so callers can use hv_conn_driver(). */
struct hv_conn_base {
        const struct hv_driver *driver;
};

static inline const struct hv_driver *hv_conn_driver(struct hv_conn *c) {
        return ((struct hv_conn_base *) c)->driver;
}

extern const struct hv_driver hv_libvirt_driver;
extern const struct hv_driver hv_sim_driver;

/* Every driver, NULL-terminated: hv_libvirt first, then hv_sim. */
extern const struct hv_driver *const hv_drivers[];

/* The driver for uri: hv_sim for "sim:" URIs, hv_libvirt for anything else (NULL included:
 * libvirt chooses). Never NULL. */
const struct hv_driver *hv_driver_for_uri(const char *uri);

/* The text of the last hypervisor error seen by this thread ("" when none). */
const char *hv_last_error(void);
/* For drivers: sets this thread's hv_last_error() text (truncated to 1 KiB). */
void hv_set_last_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hv_set_last_errorv(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* "kvm" where /dev/kvm works for stock guests, else "tcg" (no /dev/kvm, no access, or a
 * KVM-PVM module, which cannot run stock guest kernels). reason gets a static explanation. */
const char *hv_detect_accel(const char **ret_reason);

/* Checks spec against the limits every driver enforces: canonical UUID, name
 * DOMAIN_NAME_PREFIX + something, vCPU and RAM limits above, pin_cpus, NUMA node and cpuset as
 * documented in struct hv_domain_spec, hugepages RAM a multiple of 2 MiB. With files, also
 * the file fields: absolute paths, initrd or cmdline only with a kernel (what a driver that
 * is not virtual needs). Pure. 0 or TIDE_E_INVALID. */
int hv_domain_spec_validate(const struct hv_domain_spec *spec, bool files);

/* Builds the libvirt domain XML for spec with libxml2's writer. domain_type is "kvm" or
 * "qemu". Pure: no I/O. ret gets the XML (caller frees). TIDE_E_INVALID for a bad spec
 * (hv_domain_spec_validate() with files) or domain type. */
int hv_domain_xml(const struct hv_domain_spec *spec, const char *domain_type, char **ret);

/* ---- pure helpers of the statistics (hv_stats.c) ---- */

/* For drivers: adds one figure of libvirt's all-domain statistics to s, by its name:
 * "state.state" (libvirt's virDomainState numbers, which enum hv_state follows),
 * "cpu.time|user|system", "vcpu.current|maximum", "vcpu.N.state|time|wait|delay",
 * "balloon.current|maximum|available|unused|usable|rss|disk_caches|swap_in|swap_out|
 * major_fault|minor_fault|last-update", "block.count", "block.N.rd.bytes|wr.bytes|rd.reqs|
 * wr.reqs", "net.count" and "net.N.rx.bytes|tx.bytes|rx.pkts|tx.pkts" (disks and NICs are
 * summed), setting the matching has_ flag. Other names, vCPU numbers from HV_MAX_VCPUS on
 * and states out of range are ignored; values beyond INT64_MAX count as INT64_MAX. Grows
 * s->vcpu as vCPU numbers come. Pure. */
void hv_domain_stats_add(struct hv_domain_stats *s, const char *name, uint64_t value);

/* For drivers, once every figure is in: sizes vcpu[] to at least vcpus_max, and sums
 * vcpu_time_ns and ready_ns. Pure. */
void hv_domain_stats_finish(struct hv_domain_stats *s);

/* The three load averages of /proc/loadavg's text ("0.62 0.62 0.69 1/88 7139") into ret.
 * 0 or TIDE_E_INVALID. Pure. */
int hv_parse_loadavg(const char *text, double ret[3]);

/* The value of field key ("MemAvailable") of /proc/meminfo's text, in KiB, into ret_kib.
 * TIDE_E_NOT_FOUND when the text has no such field, TIDE_E_INVALID when its value is not a
 * number of kB. Pure. */
int hv_parse_meminfo(const char *text, const char *key, int64_t *ret_kib);

/* ---- the simulator (hv_sim) ----
 *
 * URI: sim:///NAME?cpus=64&numa=1&mem_mib=262144&hugepages_mib=0&disk_gib=2000 (every parameter
 * optional, those values are the defaults). One connection is one simulated host, NAME its
 * hostname ([A-Za-z0-9._-], 1..63 bytes). CPUs, memory and hugepages are split evenly over
 * the NUMA nodes in ranges of consecutive CPUs (cpus a multiple of numa; memory remainders go
 * to the lowest nodes); hugepages_mib is even and at most mem_mib. Its domains live in memory
 * as long as the connection: close() forgets them. State changes at once (shutdown: the guest
 * always obeys, returns 0). No I/O, no threads; every call takes the connection's mutex. start() refuses (TIDE_E_BACKEND) pinned CPUs or a NUMA node the host
 * does not have and hugepages beyond the free ones (a bound domain takes them from its node,
 * an unbound one from the nodes in order), as libvirt does at start; start() and set_cpuset()
 * also refuse a cpuset with a CPU the host does not have. set_cpuset() records the list as
 * given, in the definition and, while running, in the running configuration.
 *
 * The load model. Each domain has a demand, set with hv_sim_set_demand() (0 cores and 0 MiB
 * until then): what its guest's programs would use given all they ask for. A simulated
 * clock (starting at 0 at open) drives it: on real time, every call that reads or changes
 * the model first moves the clock on by the real (CLOCK_MONOTONIC) time elapsed since the
 * last such call; from the first hv_sim_advance() on, only hv_sim_advance() moves it, so a
 * test or benchmark runs deterministically and faster than real time (open, then
 * hv_sim_advance(c, 0) at once: the clock starts at exactly 0). Between two moments of the
 * clock, with everything constant in between, each running domain:
 *   - has runnable = min(cpu demand, vcpus) cores' worth of vCPUs wanting to run, and may
 *     run cap = min(runnable, CPUs of its cpuset or distinct pinned CPUs, quota_us /
 *     period_us) of them;
 *   - runs served = its weighted max-min fair share (fairshare_split(), by shares) of the
 *     host's CPUs, capped at cap: cpu_time_ns, spread evenly over its online vCPUs' time_ns
 *     (cpu_user_ns is all of it; the simulated emulator costs nothing);
 *   - waits ready = runnable - served (host contention, placement, quota throttling), spread
 *     evenly over its vCPUs' wait_ns and delay_ns, so demand beyond its vCPUs is invisible
 *     to the host, as it is on a real one;
 *   - memory: the balloon's current size is the live ram_mib (set_memory() moves it at
 *     once); the guest has available = current, uses min(mem demand, current) (rss), and
 *     unused = usable = the rest; no page cache, swap or faults.
 * All CPUs are one pool for contention (cpusets and pins only limit how many cores a domain
 * can use). The host: user time is what domains ran, idle the rest; used memory is the rss
 * of the running domains (max_ram_mib for hugepage domains), free = available = the rest;
 * load averages follow the runnable cores (Linux's exponential averages, in continuous
 * time). Block and network counters stay 0. Counters start at 0 when a domain starts; stats
 * of a domain that is off report its definition. */

/* A simulated domain's placement as the simulator keeps it. */
struct hv_sim_domain {
        enum hv_state state;
        int vcpus, max_vcpus;
        int64_t ram_mib, max_ram_mib;
        int n_pin_cpus; /* 0: not pinned */
        int pin_cpus[HV_MAX_VCPUS];
        bool has_numa_node;
        int numa_node;
        bool hugepages;
        char cpuset[CPUSET_TEXT_MAX + 1]; /* the CPU list as given; "": none (any CPU) */
        struct hv_cpu_tune tune;          /* shares HV_SHARES_DEFAULT, quota 0 (none), period
                                          * 100000 until set_cpu_tune() */
        double cpu_demand;                /* hv_sim_set_demand()'s */
        int64_t mem_demand_mib;
};

/* The configuration domain uuid runs with when running, else its definition; into ret.
 * TIDE_E_NOT_FOUND for an unknown domain, TIDE_E_INVALID when c is not an hv_sim connection. */
int hv_sim_domain_get(struct hv_conn *c, const char *uuid, struct hv_sim_domain *ret);

/* Sets the demand of domain uuid's guest: cpu_cores (0 .. HV_MAX_VCPUS) cores and mem_mib
 * (0 .. HV_MAX_RAM_MIB) MiB, from now on (the clock is brought up to date first). Kept while
 * the domain is off and across restarts. TIDE_E_INVALID for values out of range or when c
 * is not an hv_sim connection, TIDE_E_NOT_FOUND for an unknown domain. */
int hv_sim_set_demand(struct hv_conn *c, const char *uuid, double cpu_cores, int64_t mem_mib);

/* Puts c's clock on manual time for good and moves it ns (>= 0) forward, running the load
 * model over that time; hv_sim_advance(c, 0) only stops the real-time clock (the real time
 * since the last call that moved it is not counted). TIDE_E_INVALID for ns < 0 or when c is
 * not an hv_sim connection. */
int hv_sim_advance(struct hv_conn *c, int64_t ns);

/* How migrations from simulated host c go from now on: at rate_mib_s MiB/s (> 0) of the
 * domain's memory (a bandwidth given to migrate() wins), on real time (the simulated clock does
 * not drive them: an agent moves domains while a test steps it); fail_at_percent >= 0 makes
 * each one fail (TIDE_E_BACKEND, as libvirt's job does when the target dies) once that much is
 * sent, -1 lets them succeed. TIDE_E_INVALID when c is not an hv_sim connection or a value is
 * out of range.
 *
 * A simulated migration goes to another connection of this process named by target_uri
 * ("sim:///NAME", the query ignored); the domain moves from one host's memory to the other's
 * under both locks, with its running configuration (dest's pins, NUMA node and cpuset applied),
 * counters and demand: it is on exactly one host at any moment. Its downtime is reported as
 * min(max_downtime_ms, 20) ms (20 without a maximum). A target closed mid-way fails it. */
int hv_sim_set_migration(struct hv_conn *c, int64_t rate_mib_s, int fail_at_percent);

/* c's simulated clock in ns (hv_domain_stats.sample_ns), brought up to date first on real
 * time; -1 when c is not an hv_sim connection. */
int64_t hv_sim_now(struct hv_conn *c);
