/* hv_sim_priv.h — what hv_sim.c (hosts, domains, the load model) and hv_sim_migrate.c
 * (migrations between simulated hosts of one process) share. Not for use outside
 * src/agent/hv_sim*.c. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/hv.h"

#define HV_SIM_MIGRATE_RATE_MIB_S INT64_C(4096) /* a simulated migration's speed by default */

/* What define() keeps of a spec: everything but the file fields. */
struct sim_config {
        int vcpus, max_vcpus;
        int64_t ram_mib, max_ram_mib;
        int n_pin_cpus;
        int *pin_cpus;
        bool has_numa_node;
        int numa_node;
        bool hugepages;
        char *cpuset; /* NULL: any CPU */
        int cores;    /* the most cores its vCPUs can use at once: distinct pinned
                                    * CPUs, else CPUs of cpuset; 0: no limit */
        struct hv_cpu_tune tune;
};

struct sim_domain {
        char uuid[37];
        char *name;
        enum hv_state state;    /* HV_STATE_RUNNING or HV_STATE_SHUTOFF */
        struct sim_config def;  /* the definition */
        struct sim_config live; /* while running: what it was started with */
        int64_t *huge_mib;      /* while running with hugepages: taken from each node */
        double cpu_demand;      /* hv_sim_set_demand()'s, kept across restarts */
        int64_t mem_demand_mib;
        /* While running, since start: what the load model accrued. */
        int64_t cpu_time_ns;
        int64_t *vcpu_time_ns; /* live.max_vcpus each */
        int64_t *vcpu_ready_ns;
        bool migrating;     /* a migrate() of it is under way (hv_sim_migrate.c) */
        bool migrate_abort; /* migrate_abort() asked it to stop */
};

struct sim_node {
        int cpu_first, n_cpus;
        int64_t mem_mib, hugepages_mib;
        int64_t hugepages_used_mib; /* by running domains */
};

struct hv_conn {
        struct hv_conn_base base; /* first: hv_conn_driver() reads it */
        pthread_mutex_t lock;     /* guards everything below */
        char *name, *uri;
        int cpus, n_numa;
        int64_t mem_mib, hugepages_mib, disk_gib;
        struct sim_node *nodes;
        struct sim_domain **doms; /* sorted by uuid */
        size_t n_doms, cap_doms;
        /* The load model's clock and the host's counters (hv.h, "the load model"). */
        bool manual_clock; /* hv_sim_advance() was called */
        int64_t now_ns;    /* simulated time since open */
        int64_t real_ns;   /* CLOCK_MONOTONIC when the clock last followed it */
        int64_t host_busy_ns, host_idle_ns;
        double load[3]; /* 1, 5 and 15 minute averages of the runnable cores */
        /* Migrations from this host (hv_sim_set_migration()). */
        int64_t migrate_rate_mib_s; /* default HV_SIM_MIGRATE_RATE_MIB_S */
        int migrate_fail_percent;   /* -1: none */
};

/* Sets hv_last_error() to the message and returns error. */
int hv_sim_fail_with(int error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Index of uuid in c->doms, or where it would go (ret_found false). Under c->lock. */
size_t hv_sim_find(struct hv_conn *c, const char *uuid, bool *ret_found);
/* The domain, or NULL with TIDE_E_NOT_FOUND (or TIDE_E_INVALID for no UUID) in *ret_r. Under c->lock. */
struct sim_domain *hv_sim_lookup(struct hv_conn *c, const char *uuid, int *ret_r);
/* Runs c's load model up to now (real-time clocks only). Under c->lock. */
void hv_sim_sync_clock(struct hv_conn *c);
/* Whether c can run cfg (pinned CPUs, NUMA node, cpuset): TIDE_E_BACKEND as libvirt fails. Under c->lock. */
int hv_sim_check_host(struct hv_conn *c, const struct sim_config *cfg);
/* Takes cfg's hugepages on c into *ret_taken; TIDE_E_BACKEND when not free. Under c->lock. */
int hv_sim_take_hugepages(struct hv_conn *c, const struct sim_config *cfg, int64_t **ret_taken);
void hv_sim_config_copy(struct sim_config *dst, const struct sim_config *src);
void hv_sim_config_clear(struct sim_config *cfg);
/* The cores cfg's vCPUs can use at once (0: no limit). */
int hv_sim_config_cores(const struct sim_config *cfg);

/* hv_sim_migrate.c: the process's open simulated hosts, by name, for migrations. */
void hv_sim_registry_add(struct hv_conn *c);
void hv_sim_registry_remove(struct hv_conn *c);
int hv_sim_migrate(struct hv_conn *c, const char *uuid, const struct hv_migrate_params *p,
                   hv_migrate_progress_fn progress, void *userdata, struct hv_migrate_result *ret);
int hv_sim_migrate_abort(struct hv_conn *c, const char *uuid);
int hv_sim_domain_state_at(struct hv_conn *c, const char *target_uri, const char *uuid, enum hv_state *ret_state);
