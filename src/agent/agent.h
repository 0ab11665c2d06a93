/* agent.h — the agent of one host: registers the host under a lease and keeps it alive,
 * realises the instances assigned to the host through the hypervisor driver (disk overlay,
 * config drive, console log, domain), and reports their state. Level-triggered: each pass
 * compares what the store asks for with what the hypervisor has; running it twice does no harm.
 * Restarting the agent adopts the domains it finds running. */
#pragma once

#include "agent/hv.h"
#include "store/store.h"

struct metrics;

struct agent_host_config {
        const char *name;             /* the host's name in the pool; NULL: the hypervisor's */
        struct hv_conn *hv;           /* borrowed: its hypervisor connection */
};

/* One agent runs one host, or several simulated ones (each with its own lease and driver
 * connection) in one process. */
struct agent_config {
        struct store *store;          /* borrowed */
        const struct agent_host_config *hosts;   /* copied */
        size_t n_hosts;
        const char *state_dir;        /* instances/<id>/ and images/<id>/ live here */
        int lease_ttl_s;              /* default 10 */
        int shutdown_timeout_ms;      /* graceful stop before power-off; default 30000 */
        struct metrics *metrics;      /* borrowed: where the samples go; NULL for none */
        int sample_ms;                /* sampling period; default 1000 */
};

struct agent;

/* Registers the host and starts the agent's thread. ret gets the agent. */
int agent_new(const struct agent_config *cfg, struct agent **ret);
/* Stops the thread and waits for operations in progress; domains keep running and the lease
 * is left to expire (a restart within its TTL takes over). NULL is fine. */
void agent_free(struct agent *a);
