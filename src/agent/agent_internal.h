/* agent_internal.h — the agent's state, shared by its files (agent.c: registration, the
 * reconcile loop and the per-instance operations; agent_elastic.c: the elastic loop). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/hv.h"
#include "ctl/elastic.h"
#include <jansson.h>

/* What the elastic loop keeps per VM between passes. */
struct elastic_slot {
        char *id;
        struct elastic_vm_state state;
        struct hv_cpu_tune tune; /* last applied shares and quota */
        bool seen;               /* in this pass */
};

struct applied_cpuset {
        char *id;     /* instance */
        char *cpuset; /* the shared pool last applied to its domain */
};

struct agent_host {
        char *name;
        struct hv_conn *hv;                        /* borrowed */
        char *api_url, *libvirt_uri, *migrate_uri; /* agent_host_config's, copied; NULL: unknown */
        int64_t lease;
        int64_t next_keepalive;
        char *pool;                     /* the shared CPU pool (a CPU list), NULL when unknown;
                                         * guarded by agent.lock: workers read it */
        struct applied_cpuset *applied; /* main thread only */
        size_t n_applied;
        uint64_t cpu_busy, cpu_total; /* the last /proc/stat sample (real hosts) */
        bool vcpu_unplug;             /* the hypervisor can take vCPUs away from a running guest */
        struct elastic_slot *elastic; /* main thread only: the elastic loop's state per VM */
        size_t n_elastic;
        char **measured; /* main thread only: the VMs of the last sample ... */
        size_t n_measured;
        char **published; /* ... and those whose measurements are in the store */
        size_t n_published;
};

struct agent {
        struct agent_config cfg;
        struct agent_host *hosts;
        size_t n_hosts;
        pthread_t thread;
        atomic_bool stop;
        pthread_mutex_t lock; /* guards busy and workers */
        pthread_cond_t idle;
        char **busy; /* ids of instances with an operation under way */
        size_t n_busy;
        struct refused *refused; /* records of superseded leaders refused, told once each */
        size_t n_refused;
};

/* A record the agent refused to act on (model_leader_superseded): its id and mod_rev. */
struct refused {
        char *id;
        int64_t mod_rev;
};

/* An operation on one instance, run in a worker thread while the instance is busy. */
typedef void (*agent_job_fn)(struct agent *a, struct agent_host *h, const char *id);

struct job {
        struct agent *agent;
        struct agent_host *host;
        char *id;
        agent_job_fn run;
};

/* One pass of the host's elastic loop: measured demand and policy in, CPU shares and quota,
 * vCPUs and balloon targets out, each change an event with its reason. all: every instance. */
void agent_elastic_pass(struct agent *a, struct agent_host *h, json_t *all);
/* Frees the loop's state of a host. */
void agent_elastic_clear(struct agent_host *h);
/* Measurements in the store (agent_measure.c). The VMs of the host's last sample (ids copied): */
void agent_measure_set(struct agent_host *h, const char *const *ids, size_t n);
/* Publishes their latest samples under the host's lease in one transaction (more when over
 * store.h's operation limit), deleting those of VMs no longer measured; a failure is logged and
 * the next sample tries again. */
void agent_measure_publish(struct agent *a, struct agent_host *h);
/* Frees what the host keeps of it. */
void agent_measure_clear(struct agent_host *h);
/* Whether an operation on the instance is under way (then nothing else touches its domain). */
bool agent_is_busy(struct agent *a, const char *id);
/* Runs fn(a, h, id) in a worker thread unless an operation on the instance is under way (or
 * the agent stops); the instance is busy until fn returns. */
void agent_dispatch(struct agent *a, struct agent_host *h, const char *id, agent_job_fn fn);
/* Creates the instance's directory, disk overlay (on image) and config drive unless they
 * exist. 0 or the error (logged). */
int agent_prepare_files(struct agent *a, json_t *inst, json_t *image);
/* The placement's pinned CPUs and NUMA node (inst's "placement") into spec; *pins gets the
 * CPU array spec points to (caller frees). */
void agent_apply_placement(json_t *inst, struct hv_domain_spec *spec, int **pins);

/* agent_migrate.c: the agent's side of live migration (sched_migrate.h has the record).
 * Called by the reconcile pass for each instance of the pool: starts what host h has to do for
 * a migration of inst (prepare the target's files, run the move from the source, recover one
 * that an earlier process started, clean up after one that failed). true when inst is in a
 * migration's hands on h: the normal reconcile must then leave its domain alone. */
bool agent_migrate_reconcile(struct agent *a, struct agent_host *h, json_t *inst);
/* After a migration step on instance id, while it is still busy: the next step one of a's
 * hosts has to take (a migration between two hosts of one agent goes on at once instead of
 * waiting for the next pass, which finds the instance busy). false when there is none. */
bool agent_migrate_next(struct agent *a, const char *id, struct agent_host **ret_host, agent_job_fn *ret_fn);
/* The identity of the storage that holds the instances' files (STATE/instances/.storage-id,
 * made once): hosts that show the same one share it. NULL when it cannot be read or made. */
char *agent_storage_id(const char *state_dir);
