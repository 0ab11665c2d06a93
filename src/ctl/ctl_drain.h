/* ctl_drain.h — host maintenance: the drain controller moves every instance off a draining host
 * by live migration, a few at a time, high priority first, and says what cannot move and why.
 *
 * A drain is the record MODEL_KEY_DRAIN<host> (written by the API with the host's "draining"
 * setting, which keeps new VMs away; removed by an undrain):
 *   {"host", "state": "draining" | "done" | "incomplete", "requested", "t_requested_ms",
 *    "concurrency": migrations at once (default 2), "moving": [names], "moved": [names],
 *    "blocked": {name: why it cannot move now}, "updated"}
 * Each pass, for each drain: the host's running instances that are not moving yet start a
 * migration (sched_migrate_begin, reason "drain"; placement chooses the target) in order of
 * priority (highest first, then name) while fewer than concurrency move; what placement refuses
 * is "blocked" with its reason and tried again next pass (room may have come); an instance that
 * is not running cannot move live and is blocked so; a drain migration that failed after the
 * drain began is blocked with its error and not retried (undrain and drain again to retry). The
 * state is "done" when nothing is left on the host, "incomplete" when only blocked instances
 * are (they keep running where they are), else "draining". Events host.drain_move,
 * host.drained and host.drain_incomplete. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "ctl/ctl_controllers.h"
#include "store/store.h"

#define CTL_DRAIN_CONCURRENCY_DEFAULT 2
#define CTL_DRAIN_CONCURRENCY_MAX 16
#define CTL_DRAIN_PERIOD_MS 1000

/* One pass over every drain in ctx->store at now_ms (wall clock, ms). 0 or the store's error
 * (a drain that could not be read or written is left for the next pass). */
int ctl_drain_pass(struct ctl_pass_ctx *ctx, int64_t now_ms);

/* The drain controller's entry for the leader's table: {"drain", CTL_DRAIN_PERIOD_MS,
 * ctl_drain_pass}. */
struct ctl_controller ctl_drain_controller(void);

/* Starts draining host: its "draining" setting on (MODEL_KEY_HOSTCONF, merged) and a fresh drain
 * record (concurrency 1..CTL_DRAIN_CONCURRENCY_MAX, 0 for the default) at now_ms. ret (may be
 * NULL) gets the record. TIDE_E_INVALID for a concurrency out of range; the store's errors. */
int ctl_drain_start(struct store *s, const char *host, int concurrency, int64_t now_ms, json_t **ret);

/* Ends a drain: the record goes and the host takes new VMs again; migrations under way finish. */
int ctl_drain_stop(struct store *s, const char *host);
