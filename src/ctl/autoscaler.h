/* autoscaler.h — the controller of autoscaling groups. Every pass (once a second) it reads the
 * groups and their members from the store and the members' measurements from metrics,
 * evaluates each group's policies (autoscale.h), records decisions in the group (desired, the
 * policy's last action for its cooldown, the last decisions) with an event each, and brings
 * the members to the desired count: new members are created through the scheduler
 * (sched_instance_create), failed or deleted ones are replaced, and members that go are first
 * stopped gracefully (the agent's ACPI shutdown with its timeout) and then deleted.
 * Level-triggered: a pass done twice does no harm. docs/autoscaling.md has the semantics. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "store/store.h"

struct metrics;

struct autoscaler_config {
        struct store *store;           /* borrowed */
        struct metrics *metrics;       /* borrowed: the members' measurements */
        int period_ms;                 /* between passes; default 1000 */
        int64_t stop_timeout_ms;       /* a member that goes and is not stopped after this long is
                                        * deleted all the same; default 120000 */
};

struct autoscaler;

/* Starts the controller's thread. */
int autoscaler_new(const struct autoscaler_config *cfg, struct autoscaler **ret);
/* Stops the thread (waiting for a pass in progress) and frees; NULL is fine. */
void autoscaler_free(struct autoscaler *a);

/* What the controller sees of a group now, for `tide group show`: {"policies": [{"name",
 * "value" (null when no member is measured), "holding", "held_s", "cooldown_s" (left, 0 when
 * none)}, ...], "t_ms"}. ret gets a new object; TIDE_E_NOT_FOUND when no pass has seen the
 * group yet. */
int autoscaler_group_status(struct autoscaler *a, const char *group_id, json_t **ret);
