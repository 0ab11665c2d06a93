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

struct job {
        struct agent *agent;
        struct agent_host *host;
        char *id;
};

/* One pass of the host's elastic loop: measured demand and policy in, CPU shares and quota,
 * vCPUs and balloon targets out, each change an event with its reason. all: every instance. */
void agent_elastic_pass(struct agent *a, struct agent_host *h, json_t *all);
/* Frees the loop's state of a host. */
void agent_elastic_clear(struct agent_host *h);
/* Whether an operation on the instance is under way (then nothing else touches its domain). */
bool agent_is_busy(struct agent *a, const char *id);
