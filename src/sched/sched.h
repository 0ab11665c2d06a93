/* sched.h — placement: which host (and, for dedicated VMs, which host CPUs and NUMA node) takes
 * an instance. Pure: a snapshot of hosts and a request in, a decision and its explanation out.
 *
 * The decision runs in named stages (Pacemaker's way): filters reject hosts, weighers score the
 * rest, the best score wins (ties go to the lowest host name by strcmp, so decisions are
 * deterministic), and for a dedicated VM the CPUs and NUMA node are chosen on the winner.
 * sched_claim() books a decision into the host's usage and sched_release() gives it back, so a
 * caller can run a stream of decisions on one snapshot. Callers make decisions durable
 * themselves (the API commits each one to the store with a transaction on the host's
 * allocation revision).
 *
 * Capacity of a host, with ratio r and reserve R (per host, else the cluster's config), where
 * hugepages = sum of the nodes' hugepages_mib (carved out of mem_mib at boot, never given to
 * small-page VMs) and bound = sum of the nodes' bound_ram_mib:
 *   shared vCPUs:  used_vcpus + vcpus <= (cpus - reserved_cpus - pinned CPUs) * cpu_ratio
 *   dedicated:     vcpus free CPUs (in a NUMA node, neither pinned nor reserved) [dedicated],
 *                  and the shared vCPUs already there must still fit on the CPUs that stay
 *                  unpinned: used_vcpus <= (cpus - reserved - pinned - vcpus) * cpu_ratio [cpu]
 *   RAM (shared):  used_ram + ram <= (mem_mib - reserved_ram_mib - hugepages - bound) * ram_ratio
 *   RAM (dedicated, small pages): never overcommitted; it is bound to a NUMA node at ratio 1.0
 *                  (node: bound_ram_mib + ram <= mem_mib - hugepages_mib [numa]) and shrinks the
 *                  shared pool: used_ram <= (mem_mib - reserved - hugepages - bound - ram) * ram_ratio,
 *                  with bound + ram <= mem_mib - reserved - hugepages [ram]
 *   RAM (hugepages VMs, shared or dedicated): from one node's free hugepages [numa]; the host
 *                  must have that much free hugepages in all [hugepages]; small pages untouched
 *   disk:          used_disk + disk <= disk_gib * disk_ratio
 * The bracket names the filter that rejects a host breaking the rule. Filters run in enum order
 * and a host counts under the first that rejects it; "numa" judges only hosts that have enough
 * free CPUs and hugepages in total (else "dedicated" or "hugepages" rejects them).
 *
 * Reserved CPUs are the lowest-numbered CPUs of the host (of its NUMA nodes' CPUs); shared VMs
 * float on every CPU that is neither reserved nor pinned; reserved CPUs are never pinned.
 *
 * NUMA: a dedicated VM goes inside one node when one has its vCPUs free (and its RAM: free small
 * pages, or free hugepages for a hugepages VM) — of those, the node with the fewest free CPUs,
 * so pinned VMs pack and big holes stay; its vCPUs get that node's lowest free CPUs. Only a VM
 * with more vCPUs than any node has (less reserved CPUs) spreads over nodes: the nodes with the
 * most free CPUs first, numa_node -1, memory not bound, its RAM accounted to the nodes in
 * proportion to the vCPUs pinned there (each share must fit). A hugepages VM always gets the
 * node holding its RAM in hugepages (for shared ones the node with the fewest free hugepages
 * that fits). A spread hugepages VM keeps its memory bound to that node.
 *
 * Weighers (each part 0..1 times its multiplier; the score is their sum):
 *   ram   spread: free fraction of the host's small-page RAM after the VM (used_ram / ram_ratio +
 *         bound over mem - reserved - hugepages; for hugepages VMs the free hugepages fraction);
 *         pack: 1 - that
 *   cpu   spread: free fraction of the host's CPUs after the VM ((used_vcpus / cpu_ratio + pinned)
 *         over cpus - reserved); pack: 1 - that
 *   load  1 - load when measured, 0.5 when unknown
 *   numa  1 when the VM fits one NUMA node: for dedicated and hugepages VMs, when it is placed
 *         inside one; for other VMs, when its vCPUs and RAM are no more than the CPUs and
 *         small-page memory of the host's largest node; else 0
 *   soft affinity   + w_soft_affinity * (group members on the host / group members) for
 *         soft-affinity, minus that for soft-anti-affinity.
 *
 * Speed: one pass over the hosts array, no allocation, no per-node work for shared VMs. In
 * spread mode a host whose upper bound (struct sched_host_bound, 32 bytes) is below the best
 * score so far is skipped; the decision is the one a full pass gives (the explain pass, which
 * skips nothing, is the proof the tests use). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cpuset.h"

#define SCHED_MAX_CPUS CPUSET_MAX_CPUS /* CPUs per host */
#define SCHED_MAX_NUMA 16              /* NUMA nodes per host */
#define SCHED_MAX_LABELS 16
#define SCHED_MAX_HINTS 8

enum sched_filter {
        SCHED_F_STATE,    /* host down or draining */
        SCHED_F_HINT,     /* host=NAME or a label hint does not match */
        SCHED_F_AFFINITY, /* hard (anti-)affinity of the server group */
        SCHED_F_CPU,
        SCHED_F_RAM,
        SCHED_F_DISK,
        SCHED_F_DEDICATED, /* not enough free CPUs to pin */
        SCHED_F_NUMA,      /* no NUMA node can hold the VM (dedicated or hugepages) */
        SCHED_F_HUGEPAGES, /* no hugepages, or not enough free */
        SCHED_F_MAX,
};

/* "state", "hint", "affinity", "cpu", "ram", "disk", "dedicated", "numa", "hugepages". */
const char *sched_filter_name(enum sched_filter f);

enum sched_mode { SCHED_SPREAD, SCHED_PACK, SCHED_MODE_MAX };

struct sched_config {
        double cpu_ratio;         /* default 2.0 */
        double ram_ratio;         /* default 1.5 */
        double disk_ratio;        /* default 1.0 */
        int reserved_cpus;        /* default 0 */
        int64_t reserved_ram_mib; /* default 0 */
        enum sched_mode mode;     /* default spread */
        /* Weigher multipliers (0 turns one off). Defaults: ram 1.0, cpu 1.0, load 0.5, numa 0.2,
         * soft_affinity 10.0. */
        double w_ram, w_cpu, w_load, w_numa, w_soft_affinity;
};

void sched_config_default(struct sched_config *c);

struct sched_numa_node {
        int id;                /* the host's node number (what numatune names), unique */
        int64_t mem_mib;       /* the node's memory, its hugepages included */
        int64_t hugepages_mib; /* of which in hugepages (0: none) */
        /* usage */
        int64_t bound_ram_mib; /* small-page RAM of dedicated VMs accounted to this node */
        int64_t hugepages_used_mib;
        struct cpuset cpus; /* the node's CPUs */
};

struct sched_label {
        const char *key, *value; /* borrowed, like name */
};

/* Per node, derived: what a NUMA placement reads instead of the node's cpuset. */
struct sched_node_totals {
        int cpus;                   /* CPUs of the node */
        int free_cpus;              /* of them not pinned (reserved ones included) */
        int64_t free_mib;           /* small pages not bound: mem_mib - hugepages_mib - bound_ram_mib */
        int64_t free_hugepages_mib; /* hugepages_mib - hugepages_used_mib */
};

#define SCHED_LOW_CPUS 8 /* the lowest CPUs whose node the totals remember */

/* Derived from the rest of a host by sched_host_sync(): what the filters and weighers read,
 * ready to compute with (doubles: no conversions in the scan over hosts) and without touching
 * the nodes' cpusets. sched_host_from_json, sched_claim and sched_release keep it; code that
 * fills or changes a host by hand (anything but up and draining) calls sched_host_sync() after.
 * A host whose totals are not valid is placed correctly, only more slowly. */
struct sched_host_totals {
        double shared_cpus; /* cpus - CPUs pinned (reserves not taken off) */
        double cpus;
        double pool_mib;  /* mem_mib - hugepages - bound RAM (reserve not taken off) */
        double small_mib; /* mem_mib - hugepages: the small-page memory */
        double used_vcpus, used_ram_mib, used_disk_gib, disk_gib;
        double load_part;        /* the load weigher's part: 1 - load, 0.5 when unknown */
        double big_node_cpus;    /* CPUs of the node with the most CPUs */
        double big_node_mem_mib; /* its small-page memory (mem_mib - hugepages_mib) */
        bool valid;
        bool overrides;                   /* a per-host ratio or reserve is set */
        int n_pinned;                     /* CPUs in pinned */
        int64_t bound_ram_mib;            /* sum of numa[].bound_ram_mib */
        int64_t hugepages_mib;            /* sum of numa[].hugepages_mib */
        int64_t hugepages_used_mib;       /* sum of numa[].hugepages_used_mib */
        uint64_t name_hash;               /* group members and host hints are matched by it first */
        uint64_t label_bloom;             /* a bit per "key=value" label: hints are matched by it first */
        int cpu_words;                    /* 64-bit words of the cpusets that hold the nodes' CPUs */
        int n_low;                        /* entries in low_node (min(CPUs of the nodes, SCHED_LOW_CPUS)) */
        uint8_t low_node[SCHED_LOW_CPUS]; /* node index of the host's i-th lowest CPU */
        uint8_t low_pinned;               /* bit i: that CPU is pinned */
        struct sched_node_totals node[SCHED_MAX_NUMA];
};

/* Derived by sched_host_sync() too: a host's free fractions before a VM, rounded so that
 * ram - (ram_used + m * ram_inv) / ram_ratio bounds the ram weigher's part from above for any
 * VM of m MiB under any reserve (the same for cpu), and so a spread decision skips a host that
 * cannot win after reading these 32 bytes only. */
struct sched_host_bound {
        float ram;       /* (mem - hugepages - bound RAM) / (mem - hugepages), up */
        float ram_used;  /* used_ram_mib / (mem - hugepages), down */
        float ram_inv;   /* 1 / (mem - hugepages), down; 0: do not skip this host
                                         * (not synced, or it has its own ratios or reserves) */
        float cpu;       /* (cpus - pinned) / cpus, up */
        float cpu_used;  /* used_vcpus / cpus, down */
        float cpu_inv;   /* 1 / cpus, down */
        float load;      /* the load part: 1 - load, 0.5 when unknown, up */
        float hugepages; /* free hugepages / hugepages, up (0: none) */
} __attribute__((aligned(16)));

/* The bound, the state and the derived totals come first: a scan over many hosts reads one to
 * three cache lines of each. */
struct sched_host {
        struct sched_host_bound bound;
        const char *name; /* borrowed or owned by the caller */
        bool up;
        bool draining;
        struct sched_host_totals sum;
        int cpus;
        /* Per-host overrides; a negative value means "the cluster's". */
        int reserved_cpus;
        double cpu_ratio, ram_ratio, disk_ratio;
        int64_t reserved_ram_mib;
        int64_t mem_mib;
        int64_t disk_gib;
        double load; /* measured CPU use 0..1 of the host, negative when unknown */
        /* usage */
        int64_t used_vcpus;   /* vCPUs of shared VMs */
        int64_t used_ram_mib; /* RAM of shared VMs without hugepages (overcommittable) */
        int64_t used_disk_gib;
        int64_t instances;
        struct cpuset pinned; /* CPUs given to dedicated VMs */
        int n_labels;
        struct sched_label labels[SCHED_MAX_LABELS];
        int n_numa; /* >= 1; a host without NUMA data has one node with every CPU */
        struct sched_numa_node numa[SCHED_MAX_NUMA];
};

/* Recomputes h->sum and h->bound from the rest of h; when h->n_numa is 0 it first makes the
 * one node of a host without NUMA data (CPUs 0..cpus-1, all of mem_mib). */
void sched_host_sync(struct sched_host *h);

/* The policy of the instance's server group. Placement knows no other kind of group: "group" in
 * src/sched always means a server group (a scaling group's members are placed as any instance,
 * spread by a server group of their own). */
enum sched_group_policy {
        SCHED_GROUP_NONE,
        SCHED_GROUP_AFFINITY,
        SCHED_GROUP_ANTI_AFFINITY,
        SCHED_GROUP_SOFT_AFFINITY,
        SCHED_GROUP_SOFT_ANTI_AFFINITY,
        SCHED_GROUP_POLICY_MAX,
};

/* "none", "affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity" (NULL when out of
 * range); from_string gives the enum value, or -1 for an unknown string. */
const char *sched_group_policy_name(enum sched_group_policy p);
int sched_group_policy_from_string(const char *s);

struct sched_request {
        const char *id; /* for messages only */
        int vcpus;
        int64_t ram_mib;
        int64_t disk_gib;
        bool dedicated; /* cpu_policy=dedicated: each vCPU pinned to its own CPU */
        bool hugepages; /* memory backed by hugepages */
        enum sched_group_policy group_policy;
        /* Hosts of the group's other members (one entry per member; repeats allowed). */
        const char *const *group_hosts;
        size_t n_group_hosts;
        /* "host=NAME" or "key=value" (a host label); all must match. */
        const char *hints[SCHED_MAX_HINTS];
        int n_hints;
};

#define SCHED_MAX_PINNED 256 /* vCPUs of a dedicated VM */

struct sched_decision {
        int host;      /* index into the hosts array */
        int numa_node; /* id of the node the VM's memory is bound to, -1 for none
                                    * (shared VMs without hugepages, spread dedicated VMs) */
        int n_pinned;
        int pinned[SCHED_MAX_PINNED]; /* host CPU of vCPU i, for dedicated VMs */
        double score;
};

/* Per host, why it was rejected or how it scored. */
struct sched_explain {
        int rejected_by;   /* an enum sched_filter, or -1 when it passed */
        double score;      /* when it passed */
        double weights[4]; /* ram, cpu, load, numa parts of score (before soft affinity) */
        char detail[120];  /* e.g. "needs 512 MiB, 300 of 1536 free" */
};

/* Places req on one of hosts[0..n). On success ret gets the decision and returns 0. When no
 * host fits, returns TIDE_E_NO_HOST and ret_reason (if non-NULL) gets a message counting hosts
 * per failing filter: "no valid host: 3 hosts; 2 rejected by ram, 1 by numa" (caller frees).
 * A malformed request (vcpus < 1, negative sizes, a dedicated VM over SCHED_MAX_PINNED vCPUs,
 * a hint without '=', an unknown group policy) is TIDE_E_INVALID, with ret_reason set.
 * explain, when non-NULL, has room for n entries and is filled for every host. Never allocates
 * on success when ret_reason is unused (except for a group whose members are on more than 256
 * hosts), and never does I/O. TIDE_E_CONFLICT only when the winner's totals disagree with its
 * cpusets (a host changed by hand without sched_host_sync). hosts must be synced or zeroed
 * where not filled (sched_host_from_json does both). */
int sched_place(const struct sched_config *cfg, const struct sched_host *hosts, size_t n,
                const struct sched_request *req, struct sched_decision *ret, struct sched_explain *explain,
                char **ret_reason);

/* Books a decision into hosts[d->host]'s usage / gives it back (the same request and decision;
 * a release never takes usage below zero). */
void sched_claim(struct sched_host *h, const struct sched_request *req, const struct sched_decision *d);
void sched_release(struct sched_host *h, const struct sched_request *req, const struct sched_decision *d);

/* Invariant check for tests: returns 0 when h's usage is within policy (ratios, no pinned CPU
 * reserved or outside the nodes, NUMA bound RAM and hugepages within nodes, no CPU in two nodes,
 * derived totals up to date; that no CPU is pinned twice the caller tracks), else
 * TIDE_E_CONFLICT with ret_reason set (caller frees). */
int sched_host_check(const struct sched_config *cfg, const struct sched_host *h, char **ret_reason);

/* JSON forms (golden files, the store's allocation records, the API's explain output).
 *
 * Host: {"name","state":"up"|"down"?,"draining"?,"cpus","mem_mib","disk_gib"?,"cpu_ratio"?,
 *        "ram_ratio"?,"disk_ratio"?,"reserved_cpus"?,"reserved_ram_mib"?,
 *        "numa":[{"id"?,"cpus":"0-7","mem_mib","hugepages_mib"?}]?,"labels":{"zone":"hk-a"}?,
 *        "load"?,"used":{"vcpus","ram_mib","disk_gib","pinned":"0-3","instances",
 *                        "numa":[{"bound_ram_mib","hugepages_used_mib"}]}?}
 *   (state defaults to up, disk_gib to 0, a node's id to its index; other members are ignored;
 *   "used" may lack any member; its "numa" follows the order of the host's "numa".)
 * Strings a sched_host points to belong to the JSON object: keep it alive as long as the host.
 * Request: {"id"?,"vcpus","ram_mib","disk_gib","cpu_policy":"shared"|"dedicated"?,
 *           "hugepages":bool?,"group_policy"?,"group_hosts":[...]?,"hints":["zone=a"]?}
 * Decision: {"host":NAME,"numa_node":N|null,"pinned":[cpu of vcpu0, ...]|[],"score":S}
 * Explain: [{"host","rejected_by":FILTER|null,"score":S|null,"weights":{"ram","cpu","load",
 *           "numa"}|null,"detail"}], hosts that passed first by score (best first, ties by
 *           name), then the rejected ones by name.
 * Config: {"cpu_ratio",...,"mode":"spread"|"pack","weights":{"ram","cpu","load","numa",
 *          "soft_affinity"}} with every member optional. */
/* The from_json functions return TIDE_E_INVALID with ret_err set (caller frees) on bad input. */
int sched_host_from_json(json_t *o, struct sched_host *ret, char **ret_err);
json_t *sched_host_usage_to_json(const struct sched_host *h);
int sched_request_from_json(json_t *o, struct sched_request *ret, char **ret_err);
/* Frees what sched_request_from_json allocated (the group_hosts array). */
void sched_request_clear(struct sched_request *r);
int sched_config_from_json(json_t *o, struct sched_config *ret, char **ret_err);
json_t *sched_decision_to_json(const struct sched_host *hosts, const struct sched_decision *d);
/* Parses a decision back (numa node and pinned CPUs) for sched_release. host is left -1. */
int sched_decision_from_json(json_t *o, struct sched_decision *ret);
json_t *sched_explain_to_json(const struct sched_host *hosts, size_t n, const struct sched_explain *e);
