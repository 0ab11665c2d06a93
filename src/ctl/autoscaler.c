/* autoscaler.c — the controller of scaling groups (autoscaler.h). */
#include "ctl/autoscaler.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/util.h"
#include "ctl/ctl_cache.h"
#include "ctl/scaling_policy.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched_store.h"

#define DECISIONS_KEEP 10
#define SAMPLE_STALE_MS 5000     /* a member's measurement older than this does not count */
#define NO_HOST_BACKOFF_MS 30000 /* after a member found no host, the group waits this long to try again */

/* A policy's state between passes, by group id and policy name. */
struct slot {
        char *group_id, *policy;
        struct as_policy_state st;
        bool seen; /* in the last pass: slots not seen are dropped */
};

/* A group's status as last published (MODEL_KEY_GROUPSTATUS): only changes are written. */
struct published {
        char *group_id;
        char *text;  /* its policies as written; NULL: not written by this process */
        bool seen;   /* the group was evaluated in this pass ... */
        bool wanted; /* ... and has policies: its status key stays */
};

/* A group whose last new member found no host waits until then to try again. */
struct backoff {
        char *group_id;
        int64_t until_ms;
};

struct autoscaler {
        struct autoscaler_config cfg;
        struct backoff *backoffs; /* the thread's own: no lock */
        size_t n_backoffs;
        struct published *published; /* the thread's own: no lock */
        size_t n_published;
        /* The pass in progress (ctl_pass_ctx): where it reads and writes, and the election
         * revision stamped in the members' records it writes. */
        struct store *s;
        int64_t leader_rev;
        /* What the passes read through (ctl_cache.h), made on the store cached_on. */
        struct store *cached_on;
        struct ctl_cache *groups, *instances, *server_groups, *statuses, *measures;
        pthread_mutex_t lock; /* slots */
        struct slot *slots;
        size_t n_slots;
};

static void caches_free(struct autoscaler *a) {
        ctl_cache_free(a->groups);
        ctl_cache_free(a->instances);
        ctl_cache_free(a->server_groups);
        ctl_cache_free(a->statuses);
        ctl_cache_free(a->measures);
        a->groups = a->instances = a->server_groups = a->statuses = a->measures = NULL;
        a->cached_on = NULL;
}

static struct slot *slot_for(struct autoscaler *a, const char *group_id, const char *policy, int64_t last_ms) {
        for (size_t i = 0; i < a->n_slots; i++)
                if (streq(a->slots[i].group_id, group_id) && streq(a->slots[i].policy, policy))
                        return &a->slots[i];
        a->slots = xrealloc(a->slots, (a->n_slots + 1) * sizeof *a->slots);
        struct slot *s = &a->slots[a->n_slots++];
        /* A cooldown survives restarts: the record keeps when the policy last acted. */
        *s = (struct slot) { .group_id = xstrdup(group_id),
                             .policy = xstrdup(policy),
                             .st = { .has_last = last_ms > 0, .last_ms = last_ms } };
        return s;
}

/* The slot of a policy, or NULL when no pass has seen it. Under lock. */
static struct slot *slot_find(struct autoscaler *a, const char *group_id, const char *policy) {
        for (size_t i = 0; i < a->n_slots; i++)
                if (streq(a->slots[i].group_id, group_id) && streq(a->slots[i].policy, policy))
                        return &a->slots[i];
        return NULL;
}

/* Whether group_id waits after a member found no host; expired entries go. */
static bool backing_off(struct autoscaler *a, const char *group_id, int64_t now) {
        bool wait = false;
        size_t k = 0;
        for (size_t i = 0; i < a->n_backoffs; i++) {
                if (a->backoffs[i].until_ms <= now) {
                        free(a->backoffs[i].group_id);
                        continue;
                }
                wait = wait || streq(a->backoffs[i].group_id, group_id);
                a->backoffs[k++] = a->backoffs[i];
        }
        a->n_backoffs = k;
        return wait;
}

static void back_off(struct autoscaler *a, const char *group_id, int64_t until) {
        a->backoffs = xrealloc(a->backoffs, (a->n_backoffs + 1) * sizeof *a->backoffs);
        a->backoffs[a->n_backoffs++] = (struct backoff) { .group_id = xstrdup(group_id), .until_ms = until };
}

static void slots_sweep(struct autoscaler *a) {
        size_t k = 0;
        for (size_t i = 0; i < a->n_slots; i++) {
                if (a->slots[i].seen) {
                        a->slots[i].seen = false;
                        a->slots[k++] = a->slots[i];
                } else {
                        free(a->slots[i].group_id);
                        free(a->slots[i].policy);
                }
        }
        a->n_slots = k;
}

/* ---- members ---- */

enum member_kind {
        MEMBER_HEALTHY, /* building or running: counts */
        MEMBER_STOPPED, /* stopped, not by us: does not count, left alone */
        MEMBER_FAILED,  /* in error: deleted and replaced */
        MEMBER_LEAVING, /* on its way out (stopping, then deleted) */
        MEMBER_GONE,    /* being deleted */
};

struct member {
        json_t *inst; /* borrowed from the pass's list */
        enum member_kind kind;
        int64_t index; /* <group>-<index> */
        int64_t created_ms;
};

static int64_t member_index(const char *group, const char *name) {
        size_t l = strlen(group);
        int64_t n;
        if (strncmp(name, group, l) != 0 || name[l] != '-' || parse_int64(name + l + 1, 1, INT32_MAX, &n) < 0)
                return 0;
        return n;
}

static int64_t created_ms_of(json_t *inst) {
        /* t_request_ms is when it was asked for (ms since the epoch). */
        return tide_json_int(inst, "t_request_ms", 0);
}

static enum member_kind classify(json_t *inst) {
        enum model_instance_desired desired = model_instance_get_desired(inst);
        enum model_instance_status status = model_instance_get_status(inst);
        if (desired == MODEL_DESIRED_DELETED)
                return MEMBER_GONE;
        if (tide_json_int(inst, "asg_leaving_ms", 0) > 0)
                return MEMBER_LEAVING;
        if (status == MODEL_INSTANCE_ERROR)
                return MEMBER_FAILED;
        if (desired == MODEL_DESIRED_STOPPED || status == MODEL_INSTANCE_STOPPED)
                return MEMBER_STOPPED;
        return MEMBER_HEALTHY;
}

/* The leader's stamp on a member's record it changes (model.h, MODEL_LEADER_REV). */
static void stamp(struct autoscaler *a, json_t *inst) {
        if (a->leader_rev > 0)
                json_object_set_new(inst, MODEL_LEADER_REV, json_integer(a->leader_rev));
}

static int do_mark_deleting(json_t *inst, void *userdata) {
        stamp(userdata, inst);
        return model_instance_mark_deleting(inst, NULL);
}

/* Asks for a member to be deleted; its agent tears it down. */
static int mark_deleting(struct autoscaler *a, json_t *inst) {
        return model_obj_modify(a->s, MODEL_INSTANCE, tide_json_str(inst, "id", ""), do_mark_deleting, a, NULL);
}

struct leave {
        struct autoscaler *a;
        int64_t now;
};

/* A member asked to leave: stopped first when it runs (or is about to), deleted once it is
 * down (reconcile). */
static int do_leave(json_t *inst, void *userdata) {
        const struct leave *l = userdata;
        json_object_set_new(inst, "asg_leaving_ms", json_integer(l->now));
        enum model_instance_status status = model_instance_get_status(inst);
        if (status == MODEL_INSTANCE_RUNNING || status == MODEL_INSTANCE_BUILDING) {
                model_instance_set_desired(inst, MODEL_DESIRED_STOPPED);
                model_instance_set_task(inst, MODEL_TASK_STOPPING);
        }
        stamp(l->a, inst);
        return MODEL_CHANGE_WRITE;
}

/* ---- measurements ---- */

/* A member's figure for a policy's metric, from what its host's agent published
 * (MODEL_KEY_MEASURE: its latest sample, metrics_vm_json's "current"); NaN when it is not
 * running, not measured, measured too long ago, or has no such figure. */
static double member_value(struct autoscaler *a, const char *metric, json_t *inst, int64_t now) {
        if (model_instance_get_status(inst) != MODEL_INSTANCE_RUNNING)
                return NAN;
        _cleanup_free_ char *key = model_key_measure(tide_json_str(inst, "host", ""), tide_json_str(inst, "id", ""));
        const json_t *m = ctl_cache_get(a->measures, key, NULL);
        if (!m || now - tide_json_int(m, "t_ms", 0) > SAMPLE_STALE_MS)
                return NAN;
        /* The agent's sample has these only once it has rates, and the guest's memory only when
         * the guest reports it. */
        json_t *cpu = json_object_get(m, "cpu_cores"), *usable = json_object_get(m, "mem_usable_kib");
        double vcpus = (double) tide_json_int(m, "vcpus", 0), balloon = (double) tide_json_int(m, "balloon_kib", 0);
        if (streq(metric, "cpu"))
                return json_is_number(cpu) && vcpus > 0 ? 100.0 * json_number_value(cpu) / vcpus : NAN;
        if (streq(metric, "memory"))
                return json_is_integer(usable) && balloon > 0
                               ? 100.0 * (balloon - (double) json_integer_value(usable)) / balloon
                               : NAN;
        if (streq(metric, "memory_mib"))
                return json_is_integer(usable) ? (balloon - (double) json_integer_value(usable)) / 1024.0 : NAN;
        if (strncmp(metric, "mem_", 4) == 0 && !json_is_integer(usable))
                return NAN;
        /* cpu_cores, ready_cores, vcpu_busy_max, vcpus, balloon_kib, mem_*_kib, and what the
         * elastic loop set: demand_cores, entitlement_cores. */
        json_t *v = json_object_get(m, metric);
        return json_is_number(v) ? json_number_value(v) : NAN;
}

static void policy_of(json_t *p, struct as_policy *ret) {
        int stat = as_stat_from_string(tide_json_str(p, "stat", "avg"));
        int adjust = as_adjust_from_string(tide_json_str(p, "adjust_type", "change"));
        int victim = as_victim_from_string(tide_json_str(p, "victim", "newest"));
        *ret = (struct as_policy) {
                .name = tide_json_str(p, "name", "policy"),
                .metric = tide_json_str(p, "metric", "cpu"),
                .stat = stat < 0 ? AS_STAT_AVG : (enum as_stat) stat,
                .above = streq(tide_json_str(p, "op", "above"), "above"),
                .threshold = json_number_value(json_object_get(p, "threshold")),
                .for_ms = tide_json_int(p, "for_s", 300) * 1000,
                .adjust = adjust < 0 ? AS_ADJUST_CHANGE : (enum as_adjust) adjust,
                .adjustment = (double) tide_json_int(p, "adjustment", 0),
                .cooldown_ms = tide_json_int(p, "cooldown_s", 300) * 1000,
                .victim = victim < 0 ? AS_VICTIM_NEWEST : (enum as_victim) victim,
        };
}

/* ---- one group ---- */

struct decided {
        const struct as_decision *d;
        const char *policy;
        int64_t now;
};

static void record_decision(json_t *g, const struct decided *dc) {
        json_object_set_new(g, "desired", json_integer(dc->d->to));
        json_object_set_new(g, "shrink_victim", json_string(as_victim_name(dc->d->victim)));
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(g, "policies"), i, p)
                if (streq(tide_json_str(p, "name", ""), dc->policy))
                        json_object_set_new(p, "last_action_ms", json_integer(dc->now));
        json_t *list = json_object_get(g, "decisions");
        if (!json_is_array(list)) {
                list = json_array();
                json_object_set_new(g, "decisions", list);
        }
        _cleanup_free_ char *t = time_format_ms(dc->now);
        json_object_set_new(g, "updated", json_string(t));
        json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:I, s:s}", "time", t, "policy", dc->policy, "from",
                                              (json_int_t) dc->d->from, "to", (json_int_t) dc->d->to, "reason",
                                              dc->d->reason));
        while (json_array_size(list) > DECISIONS_KEEP)
                json_array_remove(list, 0);
}

/* Evaluates g's policies; a decision is stored in the group (compare-and-swap on rev) with its
 * event. *desired gets the group's desired size after the pass. */
static void evaluate(struct autoscaler *a, json_t *g, int64_t rev, struct member *mem, size_t n_mem, int64_t now,
                     int64_t *desired) {
        json_t *policies = json_object_get(g, "policies");
        size_t n = json_array_size(policies);
        *desired = tide_json_int(g, "desired", 0);
        if (n == 0)
                return;
        struct as_policy *pol = xcalloc(n, sizeof *pol);
        struct as_policy_state *st = xcalloc(n, sizeof *st);
        double *agg = xcalloc(n, sizeof *agg), *vals = xcalloc(n_mem ? n_mem : 1, sizeof *vals);
        for (size_t i = 0; i < n; i++) {
                json_t *p = json_array_get(policies, i);
                policy_of(p, &pol[i]);
                size_t k = 0;
                for (size_t j = 0; j < n_mem; j++)
                        if (mem[j].kind == MEMBER_HEALTHY)
                                vals[k++] = member_value(a, pol[i].metric, mem[j].inst, now);
                agg[i] = as_aggregate(pol[i].stat, vals, k);
        }
        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; i < n; i++) {
                json_t *p = json_array_get(policies, i);
                struct slot *s = slot_for(a, tide_json_str(g, "id", ""), pol[i].name,
                                          tide_json_int(p, "last_action_ms", 0));
                s->seen = true;
                st[i] = s->st;
        }
        pthread_mutex_unlock(&a->lock);

        struct as_decision d;
        struct as_policy_state *before = xcalloc(n, sizeof *before);
        memcpy(before, st, n * sizeof *st);
        as_evaluate(pol, st, agg, n, *desired, tide_json_int(g, "min", 0), tide_json_int(g, "max", 0), now, &d);
        bool keep_state = true;
        if (d.act) {
                struct decided dc = { .d = &d, .policy = pol[d.policy].name, .now = now };
                record_decision(g, &dc);
                int r = model_obj_update(a->s, MODEL_SCALING_GROUP, g, rev, NULL);
                if (r >= 0) {
                        *desired = d.to;
                        log_info("scaling group '%s': %s", tide_json_str(g, "name", ""), d.reason);
                        model_scaling_group_event_emit(a->s, "info", "group.scale", g, NULL, NULL, "%s", d.reason);
                } else {
                        /* Changed meanwhile (a set, a new policy): the next pass decides again. */
                        keep_state = false;
                        if (r != TIDE_E_CONFLICT)
                                log_warning_errno(r, "scaling group '%s': recording a decision: %m",
                                                  tide_json_str(g, "name", ""));
                }
        }
        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; i < n; i++) {
                /* A slot may have moved (slot_for reallocates): look it up again. */
                struct slot *s = slot_for(a, tide_json_str(g, "id", ""), pol[i].name, 0);
                /* A decision not recorded is as if not taken: the next pass takes it again. */
                s->st = keep_state || i != d.policy ? st[i] : before[i];
        }
        pthread_mutex_unlock(&a->lock);
        free(pol);
        free(st);
        free(agg);
        free(vals);
        free(before);
}

/* Creates member <group>-<index>; the error of sched_instance_place_and_store (TIDE_E_NO_HOST:
 * stored in error, without a host). */
static int add_member(struct autoscaler *a, json_t *g, const char *server_group, int64_t index, int64_t now) {
        _cleanup_free_ char *name = xasprintf("%s-%" PRId64, tide_json_str(g, "name", ""), index);
        _cleanup_json_ json_t *body = json_pack("{s:s, s:O, s:O, s:O, s:O}", "name", name, "flavor",
                                                json_object_get(g, "flavor"), "image", json_object_get(g, "image"),
                                                "user_data", json_object_get(g, "user_data"), "priority",
                                                json_object_get(g, "priority"));
        if (json_object_get(g, "elastic"))
                json_object_set(body, "elastic", json_object_get(g, "elastic"));
        if (json_object_get(g, "networks"))
                json_object_set(body, "networks", json_object_get(g, "networks"));
        if (server_group)
                json_object_set_new(body, "group", json_string(server_group));
        _cleanup_json_ json_t *extra = json_pack("{s:s, s:s}", "asg", tide_json_str(g, "name", ""), "asg_id",
                                                 tide_json_str(g, "id", ""));
        stamp(a, extra);
        _cleanup_json_ json_t *inst = NULL;
        _cleanup_free_ char *err = NULL;
        int r = sched_instance_place_and_store(a->s, a->cfg.sched_cache, body, extra, false, now, &inst, &err);
        if (r >= 0)
                model_scaling_group_event_emit(a->s, "info", "group.member_added", g, inst,
                                               tide_json_str(inst, "host", NULL),
                                               "scaling group '%s': member '%s' added on host '%s' (desired %" PRId64
                                               ")",
                                               tide_json_str(g, "name", ""), name, tide_json_str(inst, "host", ""),
                                               tide_json_int(g, "desired", 0));
        else if (r == TIDE_E_NO_HOST)
                model_scaling_group_event_emit(a->s, "error", "group.member_added", g, inst, NULL,
                                               "scaling group '%s': member '%s' has no host: %s",
                                               tide_json_str(g, "name", ""), name, err);
        else
                model_scaling_group_event_emit(a->s, "error", "group.error", g, NULL, NULL,
                                               "scaling group '%s': cannot add member '%s': %s",
                                               tide_json_str(g, "name", ""), name, err);
        if (r < 0 && r != TIDE_E_NO_HOST)
                log_warning("scaling group '%s': adding member '%s': %s", tide_json_str(g, "name", ""), name, err);
        return r;
}

static void reconcile(struct autoscaler *a, json_t *g, struct member *mem, size_t n_mem, int64_t desired, int64_t now) {
        const char *gname = tide_json_str(g, "name", "");
        size_t healthy = 0;
        for (size_t i = 0; i < n_mem; i++) {
                struct member *m = &mem[i];
                const char *mname = tide_json_str(m->inst, "name", "");
                switch (m->kind) {
                case MEMBER_HEALTHY:
                        healthy++;
                        break;
                case MEMBER_GONE:
                        /* Without a host no agent tears it down: its record goes here (as the
                         * API's delete does for an instance that was never placed). */
                        if (json_is_null(json_object_get(m->inst, "host")) || !json_object_get(m->inst, "host"))
                                (void) sched_store_delete(a->s, m->inst);
                        break;
                case MEMBER_FAILED:
                        if (json_is_null(json_object_get(m->inst, "host")) || !json_object_get(m->inst, "host")) {
                                if (sched_store_delete(a->s, m->inst) >= 0)
                                        model_scaling_group_event_emit(
                                                a->s, "warning", "group.member_failed", g, m->inst, NULL,
                                                "scaling group '%s': member '%s' was not placed (%s): deleted", gname,
                                                mname, tide_json_str(m->inst, "error", "error"));
                                break;
                        }
                        if (mark_deleting(a, m->inst) >= 0)
                                model_scaling_group_event_emit(
                                        a->s, "warning", "group.member_failed", g, m->inst, NULL,
                                        "scaling group '%s': member '%s' failed (%s): deleted, to be replaced", gname,
                                        mname, tide_json_str(m->inst, "error", "error"));
                        break;
                case MEMBER_LEAVING: {
                        enum model_instance_status status = model_instance_get_status(m->inst);
                        bool down = status == MODEL_INSTANCE_STOPPED || status == MODEL_INSTANCE_ERROR;
                        bool late = now - tide_json_int(m->inst, "asg_leaving_ms", now) > a->cfg.stop_timeout_ms;
                        if ((down || late) && mark_deleting(a, m->inst) >= 0)
                                model_scaling_group_event_emit(a->s, "info", "group.member_removed", g, m->inst, NULL,
                                                               "scaling group '%s': member '%s' %s, deleted", gname,
                                                               mname, down ? "stopped" : "not stopped in time");
                        break;
                }
                default:
                        break;
                }
        }

        if ((int64_t) healthy < desired && !backing_off(a, tide_json_str(g, "id", ""), now)) {
                int64_t *used = xcalloc(n_mem + (size_t) (desired - (int64_t) healthy), sizeof *used);
                size_t n_used = 0;
                for (size_t i = 0; i < n_mem; i++)
                        if (mem[i].index > 0)
                                used[n_used++] = mem[i].index;
                const char *sg = tide_json_bool(g, "spread", true) ? tide_json_str(g, "server_group", NULL) : NULL;
                for (int64_t k = (int64_t) healthy; k < desired; k++) {
                        int64_t idx = as_next_index(used, n_used);
                        used[n_used++] = idx;
                        if (add_member(a, g, sg, idx, now) == TIDE_E_NO_HOST) {
                                /* No host fits now: try again later, not every second. */
                                back_off(a, tide_json_str(g, "id", ""), now + NO_HOST_BACKOFF_MS);
                                break;
                        }
                }
                free(used);
        } else if ((int64_t) healthy > desired) {
                size_t n = healthy, *go = xcalloc(n, sizeof *go), *map = xcalloc(n, sizeof *map);
                int64_t *created = xcalloc(n, sizeof *created), *index = xcalloc(n, sizeof *index);
                double *load = xcalloc(n, sizeof *load);
                size_t k = 0;
                for (size_t i = 0; i < n_mem; i++) {
                        if (mem[i].kind != MEMBER_HEALTHY)
                                continue;
                        map[k] = i;
                        created[k] = mem[i].created_ms;
                        index[k] = mem[i].index;
                        load[k] = member_value(a, "cpu", mem[i].inst, now);
                        k++;
                }
                int v = as_victim_from_string(tide_json_str(g, "shrink_victim", "newest"));
                size_t n_go = as_victims(v < 0 ? AS_VICTIM_NEWEST : (enum as_victim) v, created, index, load, n,
                                         (size_t) desired, go);
                for (size_t j = 0; j < n_go; j++) {
                        json_t *inst = mem[map[go[j]]].inst;
                        struct leave l = { .a = a, .now = now };
                        if (model_obj_modify(a->s, MODEL_INSTANCE, tide_json_str(inst, "id", ""), do_leave, &l, NULL) >=
                            0)
                                model_scaling_group_event_emit(a->s, "info", "group.member_leaving", g, inst, NULL,
                                                               "scaling group '%s': member '%s' goes (desired %" PRId64
                                                               ", %s first): shutting down",
                                                               gname, tide_json_str(inst, "name", ""), desired,
                                                               tide_json_str(g, "shrink_victim", "newest"));
                }
                free(go);
                free(map);
                free(created);
                free(index);
                free(load);
        }
}

/* The server groups that spread the members of groups since deleted go with their last member. */
static void sweep_spread_groups(struct autoscaler *a, json_t *groups, json_t *instances, int64_t now) {
        _cleanup_json_ json_t *sgs = ctl_cache_values(a->server_groups);
        size_t i, k;
        json_t *sg, *x;
        json_array_foreach(sgs, i, sg) {
                const char *owner = tide_json_str(sg, "asg_id", NULL);
                bool used = !owner;
                json_array_foreach(groups, k, x)
                        used = used || streq(tide_json_str(x, "id", ""), owner);
                /* Young ones are left: the API writes the server group just before its group. */
                used = used || now - tide_json_int(sg, "created_ms", 0) < a->cfg.spread_grace_ms;
                json_array_foreach(instances, k, x)
                        used = used || streq(tide_json_str(x, "group_id", ""), tide_json_str(sg, "id", ""));
                _cleanup_json_ json_t *owner_now = NULL;
                if (!used && model_obj_get(a->s, MODEL_SCALING_GROUP, owner, &owner_now, NULL) >= 0)
                        used = true; /* created since the caches were read */
                if (!used)
                        (void) model_obj_delete(a->s, MODEL_SERVER_GROUP, sg, 0);
        }
}

/* ---- status ---- */

static struct published *published_find(struct autoscaler *a, const char *group_id) {
        for (size_t i = 0; i < a->n_published; i++)
                if (streq(a->published[i].group_id, group_id))
                        return &a->published[i];
        return NULL;
}

/* Writes what the pass saw of g's policies to its status key when that changed since this
 * process last wrote it (MODEL_KEY_GROUPSTATUS). */
static void publish_status(struct autoscaler *a, json_t *g, int64_t now) {
        const char *gid = tide_json_str(g, "id", "");
        _cleanup_json_ json_t *pols = json_array();
        size_t i;
        json_t *p;
        pthread_mutex_lock(&a->lock);
        json_array_foreach(json_object_get(g, "policies"), i, p) {
                const struct slot *s = slot_find(a, gid, tide_json_str(p, "name", "policy"));
                if (!s)
                        continue;
                json_array_append_new(pols, json_pack("{s:s, s:o, s:b, s:o, s:o}", "name", s->policy, "value",
                                                      s->st.has_value ? json_real(s->st.value) : json_null(), "holding",
                                                      s->st.holding, "since_ms",
                                                      s->st.holding ? json_integer(s->st.since_ms) : json_null(),
                                                      "last_action_ms",
                                                      s->st.has_last ? json_integer(s->st.last_ms) : json_null()));
        }
        pthread_mutex_unlock(&a->lock);

        struct published *pub = published_find(a, gid);
        if (!pub) {
                a->published = xrealloc(a->published, (a->n_published + 1) * sizeof *a->published);
                pub = &a->published[a->n_published++];
                *pub = (struct published) { .group_id = xstrdup(gid) };
        }
        pub->seen = true;
        pub->wanted = json_array_size(pols) > 0;
        if (!pub->wanted)
                return;
        _cleanup_free_ char *text = tide_json_dump(pols);
        if (pub->text && streq(pub->text, text))
                return;
        _cleanup_json_ json_t *rec = json_pack("{s:O, s:I}", "policies", pols, "t_ms", (json_int_t) now);
        _cleanup_free_ char *key = model_key_groupstatus(gid), *value = tide_json_dump(rec);
        int r = store_put(a->s, key, value, 0, NULL);
        if (r < 0) {
                log_warning_errno(r, "scaling group '%s': publishing its status: %m", tide_json_str(g, "name", ""));
                return; /* the next pass tries again */
        }
        free(pub->text);
        pub->text = TAKE_PTR(text);
}

/* After a pass that saw every group: the status keys of groups it did not publish (gone, being
 * deleted, or without policies) go, and so does what this process remembers of them. */
static void sweep_status(struct autoscaler *a) {
        for (size_t i = 0; i < ctl_cache_size(a->statuses); i++) {
                const char *key = ctl_cache_key_at(a->statuses, i);
                const struct published *pub = published_find(a, key + strlen(MODEL_KEY_GROUPSTATUS));
                if (!pub || !pub->seen || !pub->wanted)
                        (void) store_delete(a->s, key, NULL);
        }
        size_t k = 0;
        for (size_t i = 0; i < a->n_published; i++) {
                struct published *pub = &a->published[i];
                if (pub->seen && pub->wanted) {
                        pub->seen = false;
                        a->published[k++] = *pub;
                } else {
                        free(pub->group_id);
                        free(pub->text);
                }
        }
        a->n_published = k;
}

/* The members of group g among instances: mem (n_instances entries) gets them, borrowed. */
static size_t collect_members(json_t *g, json_t *instances, struct member *mem) {
        const char *gid = tide_json_str(g, "id", "");
        size_t n = 0, i;
        json_t *inst;
        json_array_foreach(instances, i, inst) {
                if (!streq(tide_json_str(inst, "asg_id", ""), gid))
                        continue;
                mem[n++] = (struct member) {
                        .inst = inst,
                        .kind = classify(inst),
                        .index = member_index(tide_json_str(g, "name", ""), tide_json_str(inst, "name", "")),
                        .created_ms = created_ms_of(inst),
                };
        }
        return n;
}

/* Whether reconcile would act on the group: then its members are read afresh first, since a
 * cache may not have seen the last pass's own writes yet (a member it just added). */
static bool will_act(const struct member *mem, size_t n, int64_t desired) {
        int64_t healthy = 0;
        for (size_t i = 0; i < n; i++) {
                if (mem[i].kind == MEMBER_HEALTHY)
                        healthy++;
                else if (mem[i].kind != MEMBER_STOPPED)
                        return true;
        }
        return healthy != desired;
}

/* The caches the passes read through, made on the pass's store; re-made if it changes. */
static int caches_sync(struct autoscaler *a) {
        if (a->cached_on != a->s) {
                caches_free(a);
                _cleanup_free_ char *groups = model_key_kind(MODEL_SCALING_GROUP);
                _cleanup_free_ char *instances = model_key_kind(MODEL_INSTANCE);
                _cleanup_free_ char *server_groups = model_key_kind(MODEL_SERVER_GROUP);
                a->groups = ctl_cache_new(a->s, groups);
                a->instances = ctl_cache_new(a->s, instances);
                a->server_groups = ctl_cache_new(a->s, server_groups);
                a->statuses = ctl_cache_new(a->s, MODEL_KEY_GROUPSTATUS);
                a->measures = ctl_cache_new(a->s, MODEL_KEY_MEASURE);
                a->cached_on = a->s;
        }
        struct ctl_cache *all[] = { a->groups, a->instances, a->server_groups, a->statuses, a->measures };
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                int r = ctl_cache_sync(all[i], 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int pass(struct ctl_pass_ctx *ctx, int64_t now) {
        struct autoscaler *a = ctx->state;
        _cleanup_json_ json_t *groups = NULL, *instances = NULL;
        json_t *g;
        size_t gi;
        bool fresh = false;
        a->s = ctx->store;
        a->leader_rev = ctx->election_rev;
        int r = caches_sync(a);
        if (r < 0)
                goto out;
        groups = ctl_cache_values(a->groups);
        instances = ctl_cache_values(a->instances);
        json_array_foreach(groups, gi, g) {
                if (tide_json_bool(g, "deleting", false))
                        continue;
                struct member *mem = xcalloc(json_array_size(instances) + 1, sizeof *mem);
                size_t n_mem = collect_members(g, instances, mem);
                /* The group as cached, with its revision for the decision's compare-and-swap (a
                 * stale one loses it, and the next pass decides again). */
                _cleanup_free_ char *key = model_obj_key(MODEL_SCALING_GROUP, tide_json_str(g, "id", ""));
                int64_t rev, desired;
                (void) ctl_cache_get(a->groups, key, &rev);
                _cleanup_json_ json_t *cur = json_deep_copy(g);
                evaluate(a, cur, rev, mem, n_mem, now, &desired);
                publish_status(a, cur, now);
                if (!fresh && will_act(mem, n_mem, desired)) {
                        json_t *list;
                        if (model_obj_list(a->s, MODEL_INSTANCE, &list) < 0) {
                                free(mem);
                                continue;
                        }
                        json_decref(instances);
                        instances = list;
                        fresh = true;
                        free(mem);
                        mem = xcalloc(json_array_size(instances) + 1, sizeof *mem);
                        n_mem = collect_members(g, instances, mem);
                }
                reconcile(a, cur, mem, n_mem, desired, now);
                free(mem);
        }
        sweep_spread_groups(a, groups, instances, now);
out:
        pthread_mutex_lock(&a->lock);
        slots_sweep(a);
        pthread_mutex_unlock(&a->lock);
        /* Only a pass that read every group knows which statuses are left over. */
        if (groups)
                sweep_status(a);
        a->s = NULL;
        return r < 0 ? r : 0;
}

struct ctl_controller autoscaler_controller(struct autoscaler *a) {
        return (struct ctl_controller) {
                .name = "autoscaler", .period_ms = a->cfg.period_ms, .pass = pass, .state = a
        };
}

int autoscaler_new(const struct autoscaler_config *cfg, struct autoscaler **ret) {
        struct autoscaler *a = xcalloc(1, sizeof *a);
        a->cfg = *cfg;
        if (a->cfg.period_ms <= 0)
                a->cfg.period_ms = 1000;
        if (a->cfg.stop_timeout_ms <= 0)
                a->cfg.stop_timeout_ms = 120000;
        if (a->cfg.spread_grace_ms <= 0)
                a->cfg.spread_grace_ms = 60000;
        pthread_mutex_init(&a->lock, NULL);
        *ret = a;
        return 0;
}

void autoscaler_free(struct autoscaler *a) {
        if (!a)
                return;
        caches_free(a);
        for (size_t i = 0; i < a->n_slots; i++) {
                free(a->slots[i].group_id);
                free(a->slots[i].policy);
        }
        free(a->slots);
        for (size_t i = 0; i < a->n_backoffs; i++)
                free(a->backoffs[i].group_id);
        free(a->backoffs);
        for (size_t i = 0; i < a->n_published; i++) {
                free(a->published[i].group_id);
                free(a->published[i].text);
        }
        free(a->published);
        pthread_mutex_destroy(&a->lock);
        free(a);
}

int autoscaler_scaling_group_status(struct store *s, const char *group_id, json_t **ret) {
        _cleanup_free_ char *key = model_key_groupstatus(group_id);
        _cleanup_json_ json_t *rec = NULL;
        int64_t rev;
        int r = model_json_get(s, key, &rec, &rev);
        if (r < 0)
                return r;
        if (rev == 0)
                return TIDE_E_NOT_FOUND;
        int64_t now = now_ms();
        _cleanup_json_ json_t *pols = json_array();
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(rec, "policies"), i, p) {
                json_t *value = json_object_get(p, "value"), *last = json_object_get(p, "last_action_ms");
                bool holding = json_is_true(json_object_get(p, "holding"));
                int64_t since = tide_json_int(p, "since_ms", now);
                json_array_append_new(pols,
                                      json_pack("{s:s, s:O, s:b, s:f, s:O}", "name", tide_json_str(p, "name", ""),
                                                "value", json_is_number(value) ? value : json_null(), "holding",
                                                holding, "held_s", holding ? (double) (now - since) / 1000.0 : 0.0,
                                                "last_action_ms", json_is_integer(last) ? last : json_null()));
        }
        *ret = json_pack("{s:O, s:I}", "policies", pols, "t_ms", (json_int_t) tide_json_int(rec, "t_ms", 0));
        return 0;
}
