/* model.h — tide's objects (flavors, images, instances, hosts, events), their JSON form,
 * their validation and their place in the store (keys and paths: model_layout.h).
 * Validation is pure; the model_obj_* and model_event_* functions do store I/O but never log. */
#pragma once

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/tide_json.h"
#include "store/store.h"

#define MODEL_NAME_MAX 63
#define MODEL_USER_DATA_MAX (64 * 1024)
#define MODEL_CMDLINE_MAX 4096
#define MODEL_PRIORITY_DEFAULT 500
#define MODEL_EVENTS_KEEP 10000
#define MODEL_HINTS_MAX 8
#define MODEL_LABELS_MAX 16

enum model_kind {
        MODEL_FLAVOR,
        MODEL_IMAGE,
        MODEL_INSTANCE,
        MODEL_SERVER_GROUP,
        MODEL_SCALING_GROUP, /* autoscaling groups; their store keys say "groups" */
        MODEL_STACK,         /* scaling groups made from a Heat template */
        MODEL_NETWORK,       /* networks (model_net.h); their ports are not named objects */
        MODEL_KIND_MAX,
};

/* "flavors", "images", "instances", "server-groups", "groups", "stacks", "networks": the words
 * of the store's keys (model_layout.h), which stay as they were stored. */
const char *model_kind_plural(enum model_kind k);
/* "flavor", "image", "instance", "server group", "scaling group", "stack", "network". */
const char *model_kind_singular(enum model_kind k);

/* An instance's record holds three states, stored as the strings the API shows:
 *   "desired"  what was asked for: running, stopped or deleted (the API, the autoscaler);
 *   "status"   what the host's agent last did or saw: building, running, stopped, error,
 *              deleting;
 *   "task"     the operation asked for and not yet done, null when settled: creating,
 *              starting, stopping, rebooting, deleting.
 * Code compares and writes them through these enums, never through bare strings. */
enum model_instance_status {
        MODEL_INSTANCE_BUILDING,
        MODEL_INSTANCE_RUNNING,
        MODEL_INSTANCE_STOPPED,
        MODEL_INSTANCE_ERROR,
        MODEL_INSTANCE_DELETING,
        MODEL_INSTANCE_STATUS_MAX,
        MODEL_INSTANCE_STATUS_INVALID = -EINVAL,
};

enum model_instance_desired {
        MODEL_DESIRED_RUNNING,
        MODEL_DESIRED_STOPPED,
        MODEL_DESIRED_DELETED,
        MODEL_DESIRED_MAX,
        MODEL_DESIRED_INVALID = -EINVAL,
};

enum model_instance_task {
        MODEL_TASK_NONE, /* stored as null */
        MODEL_TASK_CREATING,
        MODEL_TASK_STARTING,
        MODEL_TASK_STOPPING,
        MODEL_TASK_REBOOTING,
        MODEL_TASK_DELETING,
        MODEL_TASK_MAX,
        MODEL_TASK_INVALID = -EINVAL,
};

/* The stored string of a state; NULL for a value out of range (and for MODEL_TASK_NONE). */
const char *model_instance_status_to_string(enum model_instance_status s);
const char *model_instance_desired_to_string(enum model_instance_desired d);
const char *model_instance_task_to_string(enum model_instance_task t);
/* The state a string names; _INVALID for NULL or an unknown string. */
enum model_instance_status model_instance_status_from_string(const char *s);
enum model_instance_desired model_instance_desired_from_string(const char *s);
enum model_instance_task model_instance_task_from_string(const char *s);

/* An instance record's "status": MODEL_INSTANCE_STATUS_INVALID when absent or unknown. */
enum model_instance_status model_instance_get_status(const json_t *inst);
/* Its "desired": MODEL_DESIRED_RUNNING when absent (a record never asked to stop or go wants
 * to run), MODEL_DESIRED_INVALID when unknown. */
enum model_instance_desired model_instance_get_desired(const json_t *inst);
/* True when no operation is under way: "task" is present and null. */
bool model_instance_settled(const json_t *inst);
/* Set the member (MODEL_TASK_NONE: null). */
void model_instance_set_status(json_t *inst, enum model_instance_status s);
void model_instance_set_desired(json_t *inst, enum model_instance_desired d);
void model_instance_set_task(json_t *inst, enum model_instance_task t);
/* Asks for the instance to be deleted: desired deleted, status deleting, task deleting (the
 * agent of its host then tears it down and removes the record). Shaped as a change for
 * model_obj_modify (userdata unused); always returns MODEL_CHANGE_WRITE. */
int model_instance_mark_deleting(json_t *inst, void *userdata);

/* Leader writes. A record the leader of the controllers writes for a host to act on carries
 * "leader_rev", the election revision of the leader that made its last change: any other
 * writer's change drops it (model_obj_modify does; a writer that stores a record it read by
 * other means must too), so that the stamp always belongs to the record's last change. */
#define MODEL_LEADER_REV "leader_rev"
/* Whether a record was written by a superseded leader, so that agents refuse to act on it:
 * it carries leader_rev older than the current leader's election revision current_rev, and
 * was written (mod_rev) after that election. False when the record carries no leader_rev
 * (<= 0) or nobody leads (current_rev <= 0). Pure. */
bool model_leader_superseded(int64_t leader_rev, int64_t mod_rev, int64_t current_rev);
/* Who leads the controllers (MODEL_KEY_LEADER): ret_host (may be NULL) gets a new string with
 * the leader's host name, ret_rev (may be NULL) its election revision (the key's create_rev).
 * TIDE_E_NOT_FOUND when nobody leads; the store's error otherwise. */
int model_leader_get(struct store *s, char **ret_host, int64_t *ret_rev);

/* True for a name of 1-63 characters of [A-Za-z0-9._-] starting with a letter or digit. */
bool model_name_valid(const char *name);
/* True for a label key or value (and a hint's parts): 1-63 characters of [A-Za-z0-9._-]. */
bool model_label_valid(const char *s);
/* True for a lowercase textual UUID. */
bool model_id_valid(const char *id);

/* Validation of a request body into the canonical object. On success ret gets a new object
 * (without id and created, which the caller adds); on failure returns TIDE_E_INVALID and
 * ret_err gets a message (caller frees). Pure. */
int model_flavor_from_request(json_t *body, json_t **ret, char **ret_err);
/* An instance's request may carry "networks" (model_port_requests_check's form), kept as
 * they are for sched_store_create. */
int model_instance_from_request(json_t *body, json_t **ret, char **ret_err);
/* The elastic policy of an instance, merged from body into inst (which must hold the flavor's
 * max_vcpus and max_ram_mib): priority (1-1000), cpu_reservation and cpu_limit (cores, up to
 * max_vcpus), mem_reservation and mem_limit (MiB, up to max_ram_mib), elastic (bool). A null
 * member resets it. Limits must not be below reservations. inst is changed only on success. */
int model_instance_policy_merge(json_t *inst, json_t *body, char **ret_err);
/* Scaling groups (autoscaling groups, docs/autoscaling.md): {"name", "flavor", "image",
 * "user_data", "min", "max", "desired", "spread", "priority", ["elastic"], "policies": [...],
 * ["networks": [{"network"}, ...]]}. min defaults to 1, max to min, desired to min; members are
 * named <name>-<n>, so names are at most 58 characters. Policies as
 * model_scaling_policy_from_request's. Each member gets a port on each network, at a free
 * address (an "ip" is refused). */
#define MODEL_SCALING_GROUP_MEMBERS_MAX 1000
#define MODEL_SCALING_GROUP_POLICIES_MAX 16
int model_scaling_group_from_request(json_t *body, json_t **ret, char **ret_err);
/* A scaling policy: {"name"?, "metric": cpu|memory|<a VM figure of the stats>, "stat":
 * avg|max|min, "above" or "below": threshold, "for_s", "adjust": "+N"|"-N"|"=N"|"+-N%",
 * "cooldown_s", "victim": newest|oldest|least-loaded} into the stored form, which adds "op"
 * (above|below), "threshold", "adjust_type" (change|exact|percent) and "adjustment". */
int model_scaling_policy_from_request(json_t *body, json_t **ret, char **ret_err);
/* Appends a validated policy to group's "policies", naming it policy-<n> when it has no name;
 * TIDE_E_INVALID when the name is taken or the group has MODEL_SCALING_GROUP_POLICIES_MAX. */
int model_scaling_group_policy_add(json_t *group, json_t *policy, char **ret_err);
/* min, max and desired from body into group (0 <= min <= desired <= max <= 1000); a desired
 * not given is kept, moved within the new bounds. group is changed only on success. */
int model_scaling_group_set_merge(json_t *group, json_t *body, char **ret_err);
/* True for the metrics a policy may name. */
bool model_scaling_metric_valid(const char *metric);
/* Server groups: {"name", "policy": affinity|anti-affinity|soft-affinity|soft-anti-affinity}. */
int model_server_group_from_request(json_t *body, json_t **ret, char **ret_err);
/* Host settings an operator may change (merged into what is there): labels (a null value
 * removes a label), cpu_ratio, ram_ratio, disk_ratio, reserved_cpus, reserved_ram_mib,
 * draining, elastic (false turns the elastic loop off on that host). ret gets the merged
 * settings. */
int model_host_config_merge(json_t *current, json_t *body, json_t **ret, char **ret_err);
/* Cluster-wide placement settings (merged): cpu_ratio, ram_ratio, disk_ratio, reserved_cpus,
 * reserved_ram_mib, mode (spread|pack), weights {ram, cpu, load, numa, soft_affinity}. */
int model_placement_config_merge(json_t *current, json_t *body, json_t **ret, char **ret_err);
/* Images: checks name and paths only (the disk is inspected by the caller). */
int model_image_from_request(json_t *body, json_t **ret, char **ret_err);

/* Sets o's member key to the time now, as time_format_ms() writes it ("created", "updated"). */
void model_set_now(json_t *o, const char *key);

/* Store I/O for named objects. A "ref" is a name or an id. */

/* Loads the object of kind named by ref. ret gets a new reference; ret_rev (may be NULL) its
 * mod_rev. TIDE_E_NOT_FOUND when absent. */
int model_obj_get(struct store *s, enum model_kind k, const char *ref, json_t **ret, int64_t *ret_rev);
/* All objects of a kind, sorted by name. ret gets a new array. */
int model_obj_list(struct store *s, enum model_kind k, json_t **ret);
/* Stores a new object (which must have "id" and "name") and its name key in one transaction:
 * TIDE_E_EXISTS when the name is taken. */
int model_obj_create(struct store *s, enum model_kind k, json_t *obj, int64_t *ret_rev);
/* Replaces an object if its mod_rev is still rev: TIDE_E_CONFLICT otherwise. */
int model_obj_update(struct store *s, enum model_kind k, json_t *obj, int64_t rev, int64_t *ret_rev);
/* Removes an object and its name key, if its mod_rev is still rev (0: unconditionally). */
int model_obj_delete(struct store *s, enum model_kind k, json_t *obj, int64_t rev);
/* Read-modify-write of one record under compare-and-swap: read it, let change edit it, write
 * it back if its mod_rev is still the one read, and start again from a fresh read when another
 * writer came in between. change sees a freshly read object each time (so it must not depend
 * on what an earlier call did) and answers MODEL_CHANGE_WRITE, MODEL_CHANGE_KEEP (stop without
 * writing) or a negative error (stop; returned as it is). */
enum model_change {
        MODEL_CHANGE_WRITE = 0,
        MODEL_CHANGE_KEEP = 1,
};
typedef int (*model_change_fn)(json_t *obj, void *userdata);
/* How many lost races a modify takes before it gives up with TIDE_E_CONFLICT. A record's
 * writers (the API, the agent of its host, the autoscaler, the scheduler) each write it once
 * per step, so a race is lost to one burst of them and a few rounds clear it. 50 is the most
 * any caller used (the agent: when it gives up, the record no longer says what the hypervisor
 * did until its next pass); each round is one read and one compare-and-swap, milliseconds on
 * either backend, and the loop only runs long when every round loses. */
#define MODEL_MODIFY_RETRIES 50
/* model_obj_modify: the object of kind named by ref (a name or an id; looked up again on each
 * round), stamped "updated" when written. Returns MODEL_CHANGE_WRITE when written,
 * MODEL_CHANGE_KEEP when change kept it as it was, or a negative error: the read's
 * (TIDE_E_NOT_FOUND when absent), change's, the store's, or TIDE_E_CONFLICT after
 * MODEL_MODIFY_RETRIES lost races. ret (may be NULL) gets a new reference to the object as
 * written, or as read when kept; on success only. */
int model_obj_modify(struct store *s, enum model_kind k, const char *ref, model_change_fn change, void *userdata,
                     json_t **ret);
/* model_json_modify: the same for the JSON object at key (model_json_get's: an absent key is
 * an empty object, then created), without an "updated" stamp. */
int model_json_modify(struct store *s, const char *key, model_change_fn change, void *userdata, json_t **ret);
/* A change that merges a request's body into what is stored with one of the merges above
 * (model_host_config_merge, model_placement_config_merge): userdata is a struct
 * model_merge_change. On a refused body it returns merge's error and err gets why (the caller
 * frees it). */
struct model_merge_change {
        int (*merge)(json_t *current, json_t *body, json_t **ret, char **ret_err);
        json_t *body;
        char *err;
};
int model_merge_change(json_t *obj, void *userdata);
/* Reads the JSON object stored at key. Absent (or not an object): *ret gets a new empty
 * object and *ret_rev 0. Otherwise *ret gets the object and *ret_rev its mod_rev. */
int model_json_get(struct store *s, const char *key, json_t **ret, int64_t *ret_rev);

/* Events. severity: "info", "warning" or "error". type: e.g. "instance.running". instance may
 * be NULL (an instance object: its name and id are recorded). Writes /tide/events/<stamp>-<seq>
 * and trims the oldest past MODEL_EVENTS_KEEP now and then. */
int model_event_emit(struct store *s, const char *severity, const char *type, json_t *instance, const char *host,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The same for a scaling group's events: the group's name and id are recorded ("group",
 * "group_id": in an event they name its scaling group), and the member's when instance is not
 * NULL. */
int model_scaling_group_event_emit(struct store *s, const char *severity, const char *type, json_t *group,
                                   json_t *instance, const char *host, const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));
/* The newest limit events, oldest first; only those of the instance with that name or id when
 * instance_ref is non-NULL. ret gets a new array. */
int model_event_list(struct store *s, const char *instance_ref, size_t limit, json_t **ret);
/* The newest limit events of the scaling group with that name or id, oldest first. */
int model_scaling_group_event_list(struct store *s, const char *group_ref, size_t limit, json_t **ret);

/* Hosts: every host's record sorted by name, or the one named (TIDE_E_NOT_FOUND when absent),
 * each with "state" ("up" while its agent holds its lease, else "down") and the "load" the agent
 * reports. ret gets a new reference. */
int model_host_list(struct store *s, json_t **ret);
int model_host_get(struct store *s, const char *name, json_t **ret);
