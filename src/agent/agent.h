/* agent.h — the agent of one host: registers the host under a lease and keeps it alive,
 * realises the instances assigned to the host through the hypervisor driver (disk overlay,
 * config drive, console log, domain), and reports their state. Level-triggered: each pass
 * compares what the store asks for with what the hypervisor has; running it twice does no harm.
 * Restarting the agent adopts the domains it finds running. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "agent/hv.h"
#include "store/store.h"

struct metrics;

/* What the agent needs of placement's bookkeeping, which is placement's (src/sched, above the
 * agent): the daemon passes sched_store.h's functions. */
struct agent_placement {
        /* Deletes inst (the instance's record as read) with everything booked for it: its claim
         * on its host, its name and its server group membership, in one transaction. The agent
         * calls it once the domain is gone. 0 (also when the record is gone already) or a
         * negative error. */
        int (*instance_delete)(struct store *s, json_t *inst);
        /* The shared pool of each of hosts[0..n) (the CPUs its shared VMs and every VM's
         * emulator threads run on, a CPU list: common/cpuset.h), read in one go: ret[i] gets a
         * new string, or NULL for a host placement does not know. 0 or a negative error (ret
         * then untouched). */
        int (*shared_pools)(struct store *s, const char *const *hosts, size_t n, char **ret);
        /* Ends the live migration of instance id (sched_migrate_finish): success switches its
         * host and claims at once, failure gives the target's claim back; result (borrowed, may
         * be NULL) goes into its "last_migration". 0 (also when nothing was left to end) or a
         * negative error. NULL: this agent takes part in no migration. */
        int (*migrate_finish)(struct store *s, const char *id, bool success, json_t *result);
};

struct agent_host_config {
        const char *name;   /* the host's name in the pool; NULL: the hypervisor's */
        struct hv_conn *hv; /* borrowed: its hypervisor connection */
        /* How peers reach this host, written into its record; NULL when unknown (one host, or a
         * simulated one): api_url "http://IP:PORT" (its API), libvirt_uri
         * "qemu+tcp://IP/system" (its libvirtd, which migrations go to) and migrate_uri
         * "tcp://IP" (where QEMU's migration stream goes). */
        const char *api_url, *libvirt_uri, *migrate_uri;
};

/* One agent runs one host, or several simulated ones (each with its own lease and driver
 * connection) in one process. */
struct agent_config {
        struct store *store;                   /* borrowed */
        const struct agent_host_config *hosts; /* copied */
        size_t n_hosts;
        const char *state_dir;                   /* instances/<id>/ and images/<id>/ live here */
        const char *shared_dir;                  /* ... or here, storage every host mounts; NULL: none */
        const char *token;                       /* the cluster's admin token: images are copied
                                                  * from peers' APIs with it */
        int lease_ttl_s;                         /* default 10 */
        int shutdown_timeout_ms;                 /* graceful stop before power-off; default 30000 */
        struct metrics *metrics;                 /* borrowed: where the samples go; NULL for none */
        const struct agent_placement *placement; /* borrowed; required */
        int sample_ms;                           /* sampling period; default 1000 */
};

struct agent;

/* Registers the host and starts the agent's thread. ret gets the agent. TIDE_E_INVALID without
 * cfg->placement's functions. */
int agent_new(const struct agent_config *cfg, struct agent **ret);
/* Stops the thread and waits for operations in progress; domains keep running and the lease
 * is left to expire (a restart within its TTL takes over). NULL is fine. */
void agent_free(struct agent *a);
