/* elastic.h — the host's vertical elasticity as a pure decision: from what each VM asks of the
 * host (measured use plus ready time) and its policy, the CPU entitlements by weighted max-min
 * fairness within reservations and limits, and the changes to make now (CPU shares and quota,
 * vCPUs hot-added or removed, balloon targets), each with its reason. The agent measures, calls
 * elastic_plan() every pass (1-2 s) and applies the actions; running it twice on the same input
 * gives the same answer. Hysteresis and rate limits live in the per-VM state the caller keeps
 * between passes (struct elastic_vm_state), so the plan never oscillates. No I/O, no logging.
 * docs/elasticity.md explains the policy model and every formula. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The range of CPU shares both cgroup versions accept (hv.h's HV_SHARES_MIN/MAX), and the
 * shares a VM of the default priority (500) gets: the cgroup v1 default, 1024. The agent
 * should give every shared domain tide does not tune (elastic off) ELASTIC_SHARES_BASE, so
 * that they weigh what the plan assumes (cgroup v2's own default is 100). */
#define ELASTIC_SHARES_MIN 2
#define ELASTIC_SHARES_MAX 10000
#define ELASTIC_SHARES_BASE 1024
#define ELASTIC_PRIORITY_BASE 500
/* Quotas are per period of this length (the CFS default). */
#define ELASTIC_QUOTA_PERIOD_US INT64_C(100000)

struct elastic_params {
        double vcpu_busy_add;           /* add a vCPU when every vCPU is this busy (default 0.85) */
        double host_idle_add_cores;     /* ... and the host has this much idle CPU (default 0.5) */
        double vcpu_idle_remove;        /* remove one when demand < (vcpus - 1) * vcpu_busy_add
                                        * - this margin (default 0.3) */
        int64_t add_cooldown_ms;        /* between two vCPU changes of one VM (default 5000) */
        int64_t remove_after_ms;        /* idle this long before a vCPU goes (default 20000) */
        int64_t min_change_interval_ms; /* no VM changes more often than this in steady state (default 10000,
                                        * except additions under saturation after add_cooldown_ms
                                        * and balloon growth, which has no cooldown) */
        double mem_low_host_ratio;      /* the host needs memory when available < this of total (default 0.10) */
        double mem_free_keep_ratio;     /* keep this much of a guest's memory free when reclaiming (default 0.25) */
        double mem_grow_below_ratio;    /* give memory back when the guest's usable < this of its current
                                        * (default 0.20; must be below mem_free_keep_ratio) */
        int64_t mem_step_min_mib;       /* smallest balloon change worth making (default 32) */
        int64_t mem_settle_ms;          /* a balloon change and the figures that show it take this
                                        * long: no growth on a low guest this soon after the VM's
                                        * last balloon change (default 3000), unless the guest is
                                        * out of memory (usable below mem_step_min_mib) */
};

void elastic_params_default(struct elastic_params *p);

/* What the caller keeps per VM between passes: zero-initialise it for a new VM (every "has_"
 * false: nothing changed yet, nothing applied). elastic_plan() resets it to zero for a VM that
 * is not elastic or is dedicated, so that everything is applied again when it becomes elastic. */
struct elastic_vm_state {
        bool has_vcpu_change;
        int64_t last_vcpu_change_ms; /* valid with has_vcpu_change */
        bool has_mem_change;
        int64_t last_mem_change_ms; /* valid with has_mem_change */
        int64_t mem_target_mib;     /* the balloon size last set, valid with has_mem_change: a
                                        * balloon still above it is memory on its way back to the
                                        * host, which the next passes do not reclaim again */
        bool idle;                  /* the VM could do with one vCPU less ... */
        int64_t idle_since_ms;      /* ... continuously since then */
        int shares_applied;         /* 0: never set */
        bool has_quota;
        int64_t quota_applied_us; /* valid with has_quota; 0 = no limit */
};

struct elastic_vm {
        const char *id;
        const char *name;            /* in reasons (NULL: the id) */
        bool elastic;                /* false: leave it as defined (no action at all) */
        bool dedicated;              /* pinned to CPUs of its own, outside host.cpus: left as it is,
                                        * and its demand is not taken from the shared pool */
        int priority;                /* 1..1000 */
        double cpu_reservation;      /* cores, 0 for none */
        double cpu_limit;            /* cores, 0 for none */
        int64_t mem_reservation_mib; /* 0 for none */
        int64_t mem_limit_mib;       /* 0 for none (then the flavor's max) */
        int vcpus;                   /* online now */
        int vcpus_min;               /* the flavor's vcpus: never below */
        int vcpus_max;               /* the flavor's max_vcpus */
        int64_t mem_mib;             /* current balloon size */
        int64_t mem_min_mib;         /* never below (e.g. the flavor's ram_mib or a floor) */
        int64_t mem_max_mib;         /* the flavor's max_ram_mib */
        /* measured over the last interval */
        double cpu_cores;     /* used */
        double ready_cores;   /* runnable but waiting */
        double vcpu_busy_max; /* busiest vCPU 0..1 */
        bool has_guest_mem;
        int64_t guest_usable_mib;       /* what the guest could still use without swapping */
        struct elastic_vm_state *state; /* the caller's, updated by elastic_plan for actions taken;
                                           * may be NULL for a VM that is not elastic or is dedicated */
};

struct elastic_host {
        double cpus;       /* CPUs the elastic VMs share (the shared pool) */
        double idle_cores; /* measured */
        int64_t mem_total_mib;
        int64_t mem_available_mib;
};

enum elastic_action_kind {
        ELASTIC_SHARES, /* value: CPU shares */
        ELASTIC_QUOTA,  /* value: quota in µs per ELASTIC_QUOTA_PERIOD_US; 0 = none */
        ELASTIC_VCPUS,  /* value: the new vCPU count */
        ELASTIC_MEMORY, /* value: the new balloon size in MiB */
        ELASTIC_ACTION_KIND_MAX,
};

/* "shares", "quota", "vcpus", "memory"; NULL for a value out of range. */
const char *elastic_action_kind_name(enum elastic_action_kind k);

struct elastic_action {
        size_t vm; /* index into the vms array */
        enum elastic_action_kind kind;
        int64_t value;
        int64_t old_value; /* shares 0 / quota -1: never set before */
        char reason[160];  /* e.g. "web: vcpus 2→4, demand 3.7 cores, host idle 4.1";
                                        * UTF-8, cut at a character boundary */
};

/* Plans one pass at now_ms (any monotonic clock in ms, the same every pass). demand and
 * entitlement (cores) are written per VM into ret_demand[n] and ret_entitlement[n]
 * (caller-provided arrays, either may be NULL); ret gets the actions (caller frees; NULL when
 * there are none), ordered by VM index and then by kind, and ret_n their number. VM states
 * are updated as if the actions were applied; the caller reverts nothing when applying fails
 * (the next pass retries). 0, or TIDE_E_INVALID for inconsistent input (params out of range,
 * host.cpus <= 0, priority outside 1..1000, negative or non-finite figures, vcpus_min >
 * vcpus_max, an elastic VM without state), in which case nothing is written or changed. */
int elastic_plan(const struct elastic_params *p, const struct elastic_host *host, struct elastic_vm *vms, size_t n,
                 int64_t now_ms, double *ret_demand, double *ret_entitlement, struct elastic_action **ret,
                 size_t *ret_n);

/* The CPU shares of the n claimants of a shared pool of cpus CPUs with the given priorities
 * and reservations (cores), for the stage of the plan that sets them: claimants with
 * fixed[i] true keep ELASTIC_SHARES_BASE (VMs tide does not tune); the others get
 *     shares_i = max(base_i, reservation_i / cpus * S),  base_i = priority_i * 1024 / 500,
 * S being the sum of all shares (a fixed point, solved exactly, then in whole shares raised
 * where rounding left one short), so that under full contention the kernel gives each at least
 * its reservation and splits the rest by priority. Reservations beyond 95 % of the pool are
 * scaled down to it; when the largest would pass ELASTIC_SHARES_MAX the tuned ones are scaled
 * down together (keeping their ratios). ret gets values in ELASTIC_SHARES_MIN..MAX. Pure. */
void elastic_cpu_shares(double cpus, const int *priority, const double *reservation, const bool *fixed, size_t n,
                        int *ret);
