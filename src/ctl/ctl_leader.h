/* ctl_leader.h — the election of the tided that leads the controllers: a lease-backed key in
 * the store (model_layout.h's MODEL_KEY_LEADER).
 *
 * Every tided runs a candidate. A candidate that finds the key absent grants itself a lease
 * (TTL: the host lease's) and creates the key in a transaction comparing its create_rev with 0,
 * attached to that lease, with its host's name ({"host", "hosts", "since"}) as the value; the key's create_rev is the
 * election revision. The others watch the key and try again when it is deleted: the lease
 * lapsed (the leader died) or was revoked (it stopped cleanly), so that another tided leads
 * within one TTL after the leader dies.
 *
 * The leader renews its lease every TTL/3. When it cannot renew in time (TTL minus a margin,
 * counted from the send time of its last successful keep-alive, so before the store could have
 * expired the lease), or when the key is deleted or changes, it stops leading at once: the
 * deposed callback stops its controllers, then its lease is revoked (best effort), and it runs
 * for election again no sooner than a second later, so that another candidate takes over.
 * Whatever it writes goes through the fenced store handle it is given (store_fence_new on the key and the
 * election revision), so a superseded leader's writes fail at the store; that handle is revoked
 * before deposed is called, and refuses writes past TTL minus the margin after the last
 * successful renewal (store_fence_set_deadline) even while a renewal hangs. Backend-neutral:
 * it uses store.h only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct ctl_leader_config {
        struct store *store;      /* borrowed */
        const char *name;         /* this candidate's host name: the key's value names it */
        const char *const *hosts; /* the hosts its agent runs (copied; more than one when they are
                                   * simulated), listed in the key's value as "hosts" */
        size_t n_hosts;
        int ttl_s;     /* the lease's TTL; default 10 */
        int margin_ms; /* stop leading this long before the lease could expire; default
                              * TTL/5 (at least 200 ms, less than TTL/3) */
        /* Called from the election's thread when this candidate starts leading (election_rev:
         * the key's create_rev; fenced: the store fenced by this election, store_fence_new, for
         * whatever the leader writes; borrowed, valid until deposed returns) and when it stops
         * (why: for the log; fenced is revoked by then); deposed returns only once every
         * controller has stopped. Either may be NULL. */
        void (*elected)(void *userdata, int64_t election_rev, struct store *fenced);
        void (*deposed)(void *userdata, const char *why);
        void *userdata;
};

struct ctl_leader;

/* Starts the candidate's thread. ret gets the candidate (ctl_leader_free). TIDE_E_INVALID for a
 * missing store or name, or a TTL out of store.h's range. */
int ctl_leader_new(const struct ctl_leader_config *cfg, struct ctl_leader **ret);
/* Stops the candidate: a leader is deposed (callback) and revokes its lease, so that another
 * leads at once. NULL is fine. */
void ctl_leader_free(struct ctl_leader *l);
/* Whether this candidate leads now; ret_rev (may be NULL) gets the election revision. */
bool ctl_leader_leading(struct ctl_leader *l, int64_t *ret_rev);

/* Whether a leader whose last successful keep-alive was sent at last_ok_ms must stop leading at
 * now_ms (monotonic ms): at TTL minus margin after it. Pure. */
bool ctl_leader_expiring(int64_t last_ok_ms, int64_t now_ms, int64_t ttl_ms, int64_t margin_ms);
