/* sched_migrate.h — a live migration's bookkeeping in the store: the target's claim taken before
 * the move and the source's given back after it, each step one transaction.
 *
 * While an instance moves, its record carries "migration" (what the agents of both hosts act
 * on, agent_migrate.c):
 *   {"source", "target": host names, "state": "preparing" (the target makes its files) |
 *    "prepared" (the source may start) | "migrating" (the hypervisors move it),
 *    "placement": the decision on the target (its claim, booked in /tide/alloc/<target>),
 *    "shared": the hosts keep instance files on one storage (no disk copy, no file to make),
 *    "target_uri", "migrate_uri": where the source's hypervisor sends it (the target's record's
 *    libvirt_uri and migrate_uri; a simulated host's own uri),
 *    "bandwidth_mib_s", "max_downtime_ms", "reason" ("request" | "drain"), "cancel": bool,
 *    "t_request_ms", "started", "progress": {"percent", "remaining_mib", "rate_mib_s"} ...}
 * and, once it ended, "last_migration": {"source", "target", "state": "succeeded" | "failed" |
 * "cancelled", "error", "downtime_ms", "total_ms", "overhead_ms", "finished", ...}.
 *
 * Its host stays the source until the move succeeded: then, in one transaction, "host" becomes
 * the target, "placement" the target's decision, the source's claim is given back and the
 * instance's server group membership follows. A failed, cancelled or interrupted move gives
 * the target's claim back and leaves the instance on its source. Does store I/O; never logs. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct sched_migrate_request {
        const char *to;          /* the target host; NULL: placement picks one */
        int64_t bandwidth_mib_s; /* 0: unlimited */
        int64_t max_downtime_ms; /* 0: the hypervisor's default */
        const char *reason;      /* "request" (NULL) or "drain" */
        int64_t t_request_ms;    /* when it was asked for (wall clock, ms) */
        int64_t leader_rev;      /* > 0: asked by the controllers' leader of that election, whose
                                  * stamp the record then carries (model.h, MODEL_LEADER_REV) */
};

/* Starts moving instance ref (name or id): chooses the target with placement's filters and
 * weighers (the source excluded, server group rules kept, pinned VMs get CPUs there; only hosts
 * of the same hypervisor kind that peers can migrate to), or checks req->to against them, and
 * stores the target's claim with "migration" (state "preparing") in one transaction. ret (may
 * be NULL) gets the record as stored. Errors, with ret_err saying why for the user:
 * TIDE_E_NOT_FOUND (no such instance, or req->to is no host), TIDE_E_CONFLICT (not running,
 * already migrating, being deleted, target down or draining), TIDE_E_INVALID (the target is the
 * source, bad bandwidth or downtime), TIDE_E_NO_HOST (no host fits: placement's reason). */
int sched_migrate_begin(struct store *s, const char *ref, const struct sched_migrate_request *req, json_t **ret,
                        char **ret_err);

/* Asks the migration of instance ref to stop ("cancel": true); the agents end it. ret (may be
 * NULL) gets the record. TIDE_E_CONFLICT (ret_err set) when it is not migrating. */
int sched_migrate_cancel(struct store *s, const char *ref, json_t **ret, char **ret_err);

/* Ends the migration of instance id. success: the switch described above; else the target's
 * claim is given back and the instance stays. result (borrowed, may be NULL) is merged into
 * "last_migration" with source, target, state ("succeeded", or result's "state", else
 * "failed") and "finished"; t_done_ms is stamped just before the commit, and when result has
 * "t_call_ms" and "t_return_ms" (around the hypervisor's call) "overhead_ms" is tide's own time:
 * (t_call - t_request) + (t_done - t_return), and "total_ms" t_done - t_request. 0 when done, also when
 * there was no migration left to end (someone else ended it); TIDE_E_CONFLICT after repeated
 * lost races; the store's errors. */
int sched_migrate_finish(struct store *s, const char *id, bool success, json_t *result);
