/* ctl_controllers.h — the table of the cluster's controllers and the runner that the leader runs
 * them with (ctl_leader.h).
 *
 * A controller is an entry {name, period_ms, pass, state}: pass(ctx, now_ms) is one
 * level-triggered pass over the store at the time now_ms (ms since the epoch), given as an
 * argument so that tests and the simulator step controllers faster than real time. The runner
 * runs each pass that is due, one at a time; ctl_runner_step does it once at a given time (tests),
 * ctl_runner_start on a thread on the real clock (tided, while it leads). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* What a pass gets. */
struct ctl_pass_ctx {
        struct store *store;  /* where the pass reads and writes: the leader's fenced handle
                               * (store_fence_new), so that a superseded leader writes nothing */
        int64_t election_rev; /* the leader's election revision, stamped in what it writes for a
                               * host to act on (model.h, MODEL_LEADER_REV); 0 when none */
        void *state;          /* the entry's */
};

struct ctl_controller {
        const char *name;
        int period_ms; /* between the starts of two passes; > 0 */
        /* One pass. A negative return is logged (the next pass runs at its time all the same). */
        int (*pass)(struct ctl_pass_ctx *ctx, int64_t now_ms);
        void *state; /* borrowed: the controller's own object */
};

struct ctl_runner;

/* A runner of table[0..n) (copied; entries borrowed) passing store and election_rev to each
 * pass. No thread yet. ret gets the runner. TIDE_E_INVALID for an entry without a pass or a
 * period. */
int ctl_runner_new(const struct ctl_controller *table, size_t n, struct store *store, int64_t election_rev,
                   struct ctl_runner **ret);
/* Runs every pass due at now_ms (the first of each is due at once; the next period_ms after
 * the last one's due time, or after now_ms when it fell more than a period behind). Returns
 * how many ms until the next is due (>= 0). Not while the runner's thread runs. */
int64_t ctl_runner_step(struct ctl_runner *r, int64_t now_ms);
/* Starts the runner's thread: ctl_runner_step on now_ms(), sleeping in between. */
int ctl_runner_start(struct ctl_runner *r);
/* Stops the thread (waiting for a pass in progress) and frees; NULL is fine. */
void ctl_runner_free(struct ctl_runner *r);
