/* autoscaler.h — the controller of scaling groups (autoscaling groups; "group" alone means one
 * of them here, and a server group is always called so): an entry of the controllers' table
 * (ctl_controllers.h) that the leader runs. Every pass (once a second) it reads
 * the groups and their members, and the members' measurements that their hosts' agents publish
 * (MODEL_KEY_MEASURE), through caches fed by store watches (ctl_cache.h; the members are read
 * afresh before it adds or removes any),
 * evaluates each group's policies (scaling_policy.h), records decisions in the group (desired,
 * the policy's last action for its cooldown, the last decisions) with an event each, and brings
 * the members to the desired count: new members are placed and stored through the scheduler
 * (sched_instance_place_and_store), failed or deleted ones are replaced, and members that go
 * are first stopped gracefully (the agent's ACPI shutdown with its timeout) and then deleted.
 * A member that finds no host is deleted and the group tries again 30 s later, not every pass.
 * What it sees of each group's policies is published to the store (MODEL_KEY_GROUPSTATUS), for
 * the API, which may run in another tided than the controller.
 * What it writes goes through the pass's store (the leader's fenced handle), and the members'
 * records it writes carry the leader's election revision (MODEL_LEADER_REV).
 * Level-triggered: a pass done twice does no harm. docs/autoscaling.md has the semantics. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "ctl/ctl_controllers.h"
#include "store/store.h"

struct sched_cache;

/* A group's status, /tide/groupstatus/<group id> (model_layout.h's MODEL_KEY_GROUPSTATUS): what
 * the controller sees of the group's policies, {"policies": [{"name", "value" (null when no
 * member is measured), "holding", "since_ms" (when the condition began to hold; null when it
 * does not), "last_action_ms" (null when it never acted)}, ...], "t_ms" (when it was written)},
 * in the order of the group's policies. Written by the controller only when it changes (t_ms
 * aside), for groups with policies; deleted by the pass after its group goes (or is being
 * deleted, or has no policies left). */

struct autoscaler_config {
        struct sched_cache *sched_cache; /* borrowed: placement's view of the hosts (same store);
                                        * NULL: each placement reads the hosts afresh */
        int period_ms;                   /* between passes; default 1000 */
        int64_t stop_timeout_ms;         /* a member that goes and is not stopped after this long is
                                        * deleted all the same; default 120000 */
        int64_t spread_grace_ms;         /* the server group that spreads a deleted group's members
                                        * goes with its last member, but never before it is this old
                                        * (the API writes it just before its group); default 60000 */
};

struct autoscaler;

/* The controller's state (what its policies saw, back-offs, statuses published). ret gets it. */
int autoscaler_new(const struct autoscaler_config *cfg, struct autoscaler **ret);
/* Frees it, once no runner runs its entry; NULL is fine. */
void autoscaler_free(struct autoscaler *a);
/* Its entry in the controllers' table: "autoscaler", every cfg->period_ms; the pass reads and
 * writes through the ctx's store. */
struct ctl_controller autoscaler_controller(struct autoscaler *a);

/* Creates a scaling group from a POST /v1/scaling-groups body
 * (model_scaling_group_from_request; extra's members, may be NULL, are added to the record) with
 * the soft-anti-affinity server group "asg-<name>" that spreads its members (unless spread is
 * false), and emits group.created.
 * ret gets the stored group. On failure nothing is left and ret_err gets a message for the
 * user: TIDE_E_INVALID, TIDE_E_NOT_FOUND (flavor, image), TIDE_E_EXISTS, or the store's. */
int autoscaler_scaling_group_create(struct store *s, json_t *body, json_t *extra, json_t **ret, char **ret_err);
/* Deletes the group if its mod_rev is still rev (0: unconditionally), then asks for its
 * members' deletion, and emits group.deleted; TIDE_E_CONFLICT when it changed meanwhile. */
int autoscaler_scaling_group_delete(struct store *s, json_t *group, int64_t rev);

/* What the controller saw of a group at its last pass, for `tide group show`, read from the
 * store (MODEL_KEY_GROUPSTATUS): {"policies": [{"name", "value" (null when no member is
 * measured), "holding", "held_s" (how long the condition has held, now), "last_action_ms"
 * (null when it never acted)}, ...], "t_ms" (when the status last changed)}. ret gets a new
 * object; TIDE_E_NOT_FOUND when no pass has published the group's status (yet, or since it
 * went); the store's error otherwise. */
int autoscaler_scaling_group_status(struct store *s, const char *group_id, json_t **ret);
