/* test_autoscaler.c — the autoscaling controller end to end, in one process, with no mocks: a
 * SQLite store in a temporary directory, real metrics, a real agent (agent_new) running two
 * simulated hosts (hv_sim, sim:///h1 and sim:///h2, 8 CPUs each), the real scheduler and the
 * controller (autoscaler_new, its entry run by a ctl_runner, a pass a second).
 *
 * A flavor (2 vCPUs that do not grow), an image and a group "web" (min 2, max 6, spread over the
 * hosts) are stored the way the API's handlers store them, with two policies:
 *   out  cpu avg > 80 for 2 s: +2, cooldown 4 s
 *   in   cpu avg < 20 for 2 s: -1, cooldown 3 s, victim oldest
 * Then, with the simulated guests' CPU demand:
 *   start    web-1 and web-2 appear, running, on different hosts;
 *   out      every member saturated (demand = its vCPUs): desired 2→4 within the window plus
 *            the measurement lag, with a group.scale event and a recorded decision; the new
 *            members saturated too: 4→6, no sooner than max(window, cooldown) after the first;
 *            then nothing more at max;
 *   in       no load: one member at a time goes, the oldest first, each first stopped (desired
 *            "stopped" with asg_leaving_ms) and deleted once its domain is off; down to min
 *            and never below;
 *   failure  a member put in error (as the agent's fail path does) is deleted and replaced;
 *   stopped  a member stopped by hand (as the API's stop does) does not count: it is replaced
 *            and left as it is;
 *   status   autoscaler_scaling_group_status, from the store: each policy's value, holding and held_s;
 *   delete   the group deleted as the API does: its members go, and the spread server
 *            group goes once no instance refers to it (never before).
 *
 * On a failed check: prints what failed, the group, its members and its events, cleans up and
 * exits 1. Runs about 45 s (valgrind: about the same; the test mostly waits).
 * The controller starts once the group is stored (see phase_start for why). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/hv.h"
#include "agent/test_sim_support.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/util.h"
#include "ctl/autoscaler.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "sched/sched_store.h"
#include "store/store.h"

#define N_HOSTS 2
#define GROUP_NAME "web"
#define FLAVOR_VCPUS 2
#define GROUP_MIN 2
#define GROUP_MAX 6
#define FOR_S 2
#define OUT_COOLDOWN_S 4
#define IN_COOLDOWN_S 3
#define PERIOD_MS 1000
#define STOP_TIMEOUT_MS 5000
#define SPREAD_GRACE_MS 3000 /* the spread server group of a deleted group goes no sooner */
#define POLL_MS 50
#define RUNNING_TIMEOUT_MS 15000
/* From the load's change to the condition holding at a pass: the agent samples once a second
 * and a rate spans two samples, so the first sample after the change shows part of it and the
 * next all of it (up to 2 s), and the next pass sees that (up to 1 s); plus polling. */
#define MEASURE_LAG_MS 3500
#define TIMING_SLACK_MS 100 /* decision times are the passes' own clock readings */
#define SCALE_IN_TIMEOUT_MS 40000
#define HOLD_MS 5000 /* longer than any window plus cooldown of the group */
#define EVENTS_MAX 10000
#define CAS_RETRIES 20

static const char *const host_names[N_HOSTS] = { "h1", "h2" };
static const char *const host_uris[N_HOSTS] = {
        "sim:///h1?cpus=8&numa=1&mem_mib=8192&disk_gib=100",
        "sim:///h2?cpus=8&numa=1&mem_mib=8192&disk_gib=100",
};

static char *tmp_dir;
static struct store *store;
static struct metrics *metrics;
static struct hv_conn *conns[N_HOSTS];
static struct agent *agent;
static struct autoscaler *autoscaler;
static struct ctl_runner *runner;
static char *group_id, *sg_id;
static size_t events_shown; /* the group's events printed so far */

static void sleep_ms(int64_t ms) {
        nanosleep(&(struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L }, NULL);
}

static void cleanup(void) {
        /* The controller first: it acts through the store the agent serves. */
        ctl_runner_free(TAKE_PTR(runner));
        autoscaler_free(TAKE_PTR(autoscaler));
        agent_free(TAKE_PTR(agent));
        for (size_t i = 0; i < N_HOSTS; i++)
                if (conns[i])
                        hv_conn_driver(conns[i])->close(TAKE_PTR(conns[i]));
        store_free(TAKE_PTR(store));
        metrics_free(TAKE_PTR(metrics));
        if (tmp_dir && rm_rf(tmp_dir) < 0)
                fprintf(stderr, "could not remove %s\n", tmp_dir);
        free(TAKE_PTR(tmp_dir));
        free(TAKE_PTR(group_id));
        free(TAKE_PTR(sg_id));
}

static struct hv_conn *conn_of(json_t *inst) {
        const char *host = tide_json_str(inst, "host", "");
        for (size_t i = 0; i < N_HOSTS; i++)
                if (streq(host, host_names[i]))
                        return conns[i];
        return NULL;
}

/* The state of the member's domain on its host; -1 when it has none. */
static int dom_state(json_t *inst) {
        struct hv_conn *c = conn_of(inst);
        struct hv_domain_info di = {};
        if (!c || hv_conn_driver(c)->domain_info(c, tide_json_str(inst, "id", ""), &di) < 0)
                return -1;
        int st = (int) di.state;
        hv_domain_info_clear(&di);
        return st;
}

static const char *dom_state_name(int st) {
        return st < 0 ? "none" : hv_state_to_string((enum hv_state) st);
}

/* What a failure report needs: the group, its members (with their domains) and its events,
 * read without checks (this runs on the way out). */
static void dump_state(void) {
        json_t *g, *all, *events, *st;
        if (!store || !group_id)
                return;
        if (model_obj_get(store, MODEL_SCALING_GROUP, group_id, &g, NULL) >= 0) {
                char *text = json_dumps(g, JSON_INDENT(2) | JSON_SORT_KEYS);
                fprintf(stderr, "group:\n%s\n", text);
                free(text);
                json_decref(g);
        } else
                fprintf(stderr, "group: not in the store\n");
        if (model_obj_list(store, MODEL_INSTANCE, &all) >= 0) {
                size_t i;
                json_t *inst;
                fprintf(stderr, "members:\n");
                json_array_foreach(all, i, inst) {
                        if (!streq(tide_json_str(inst, "asg_id", ""), group_id))
                                continue;
                        fprintf(stderr,
                                "  %-7s %s status %-8s desired %-8s task %-8s host %-3s leaving %" PRId64
                                " t_request_ms %" PRId64 " domain %s\n",
                                tide_json_str(inst, "name", ""), tide_json_str(inst, "id", ""),
                                tide_json_str(inst, "status", ""), tide_json_str(inst, "desired", ""),
                                tide_json_str(inst, "task", "-"), tide_json_str(inst, "host", "-"),
                                tide_json_int(inst, "asg_leaving_ms", 0), tide_json_int(inst, "t_request_ms", 0),
                                dom_state_name(dom_state(inst)));
                }
                json_decref(all);
        }
        if (model_scaling_group_event_list(store, group_id, EVENTS_MAX, &events) >= 0) {
                size_t i;
                json_t *e;
                fprintf(stderr, "events of the group:\n");
                json_array_foreach(events, i, e)
                        fprintf(stderr, "  %s %-7s %-20s %s\n", tide_json_str(e, "time", ""),
                                tide_json_str(e, "severity", ""), tide_json_str(e, "type", ""),
                                tide_json_str(e, "message", ""));
                json_decref(events);
        }
        if (store && autoscaler_scaling_group_status(store, group_id, &st) >= 0) {
                _cleanup_free_ char *text = tide_json_dump(st);
                fprintf(stderr, "autoscaler status: %s\n", text);
                json_decref(st);
        }
}

/* ---- the setup, as the API's handlers do it ---- */

/* POST /v1/scaling-groups (the API's scaling_group_create): the validated group with the
 * flavor's and image's names, an id, its times and the soft-anti-affinity server group that spreads the members (made
 * first, owned through "asg_id"), then the group and its group.created event. */
/* POST /v1/scaling-groups: autoscaler_scaling_group_create, as the API does. */
static void create_group(const char *body_text) {
        json_t *body = sim_test_json(body_text), *g = NULL;
        _cleanup_free_ char *err = NULL;
        if (autoscaler_scaling_group_create(store, body, NULL, &g, &err) < 0)
                FAIL("group %s: %s", body_text, err);
        json_decref(body);
        CHECK(tide_json_bool(g, "spread", false) && tide_json_str(g, "server_group", NULL));
        group_id = xstrdup(tide_json_str(g, "id", ""));
        sg_id = xstrdup(tide_json_str(g, "server_group", ""));
        json_decref(g);
}

typedef void (*inst_fn)(json_t *inst);

/* Applies fn to the stored instance with compare-and-swap, as the API and the agent do. */
static void update_instance(const char *id, inst_fn fn) {
        for (int attempt = 0; attempt < CAS_RETRIES; attempt++) {
                json_t *inst;
                int64_t rev;
                _cleanup_free_ char *t = time_format_ms(now_ms());
                CHECK_OK(model_obj_get(store, MODEL_INSTANCE, id, &inst, &rev));
                fn(inst);
                json_object_set_new(inst, "updated", json_string(t));
                int r = model_obj_update(store, MODEL_INSTANCE, inst, rev, NULL);
                json_decref(inst);
                if (r == TIDE_E_CONFLICT)
                        continue; /* the agent or the controller wrote it in between */
                CHECK_OK(r);
                return;
        }
        FAIL("instance %s kept changing: no update in %d attempts", id, CAS_RETRIES);
}

/* The agent's fail_instance(): status error with the reason, no task. */
static void do_fail(json_t *inst) {
        json_object_set_new(inst, "status", json_string("error"));
        json_object_set_new(inst, "error", json_string("starting the domain: simulated failure"));
        json_object_set_new(inst, "task", json_null());
}

/* POST /v1/instances/{}/action {"action": "stop"} (do_stop). */
static void do_stop(json_t *inst) {
        json_object_set_new(inst, "desired", json_string("stopped"));
        if (!streq(tide_json_str(inst, "status", ""), "stopped"))
                json_object_set_new(inst, "task", json_string("stopping"));
}

/* ---- observations ---- */

static json_t *group_get(int64_t *ret_rev) {
        json_t *g;
        CHECK_OK(model_obj_get(store, MODEL_SCALING_GROUP, group_id, &g, ret_rev));
        return g;
}

static int64_t group_desired(void) {
        json_t *g = group_get(NULL);
        int64_t d = tide_json_int(g, "desired", -1);
        json_decref(g);
        return d;
}

static json_t *policy_of(json_t *g, const char *name) {
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(g, "policies"), i, p)
                if (streq(tide_json_str(p, "name", ""), name))
                        return p;
        return NULL;
}

/* When the policy last acted, as the group records it (ms since the epoch; 0: never). */
static int64_t policy_last_ms(json_t *g, const char *name) {
        return tide_json_int(policy_of(g, name), "last_action_ms", 0);
}

/* The group's members as stored now, by name. */
static json_t *members_get(void) {
        json_t *all, *ret = json_array();
        CHECK_OK(model_obj_list(store, MODEL_INSTANCE, &all));
        size_t i;
        json_t *inst;
        json_array_foreach(all, i, inst)
                if (streq(tide_json_str(inst, "asg_id", ""), group_id))
                        json_array_append(ret, inst);
        json_decref(all);
        return ret;
}

static json_t *find_member(json_t *members, const char *key, const char *value) {
        size_t i;
        json_t *m;
        json_array_foreach(members, i, m)
                if (streq(tide_json_str(m, key, ""), value))
                        return m;
        return NULL;
}

static bool is_leaving(json_t *m) {
        return tide_json_int(m, "asg_leaving_ms", 0) > 0 || streq(tide_json_str(m, "desired", ""), "deleted");
}

/* Counts as the group's: wanted running, running, not on its way out. */
static bool is_running_member(json_t *m) {
        return !is_leaving(m) && streq(tide_json_str(m, "desired", ""), "running") &&
               streq(tide_json_str(m, "status", ""), "running");
}

static size_t count_running(json_t *members) {
        size_t n = 0, i;
        json_t *m;
        json_array_foreach(members, i, m)
                n += is_running_member(m);
        return n;
}

static int64_t name_index(const char *name) {
        int64_t n;
        if (!startswith(name, GROUP_NAME "-") || parse_int64(name + strlen(GROUP_NAME "-"), 1, INT32_MAX, &n) < 0)
                return 0;
        return n;
}

/* Sets the member's CPU demand to frac of its vCPUs; false while it has no domain yet. */
static bool set_demand(json_t *m, double frac) {
        struct hv_conn *c = conn_of(m);
        if (!c)
                return false;
        int r = hv_sim_set_demand(c, tide_json_str(m, "id", ""), frac * (double) tide_json_int(m, "vcpus", 1), 0);
        if (r == TIDE_E_NOT_FOUND)
                return false;
        CHECK_OK(r);
        return true;
}

static json_t *group_events(void) {
        json_t *ev;
        CHECK_OK(model_scaling_group_event_list(store, group_id, EVENTS_MAX, &ev));
        return ev;
}

/* The events of type (about the member with that id, when not NULL: names come back, ids do
 * not), in the order the store keeps them. */
static json_t *events_of(json_t *events, const char *type, const char *id) {
        json_t *ret = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e)
                if (streq(tide_json_str(e, "type", ""), type) &&
                    (!id || streq(tide_json_str(e, "instance_id", ""), id)))
                        json_array_append(ret, e);
        return ret;
}

static size_t count_events(const char *type, const char *id) {
        json_t *ev = group_events(), *of = events_of(ev, type, id);
        size_t n = json_array_size(of);
        json_decref(of);
        json_decref(ev);
        return n;
}

/* When the event was stored (ms since the epoch): its id starts with the stamp. */
static int64_t event_ms(json_t *e) {
        char digits[18];
        int64_t ms;
        snprintf(digits, sizeof digits, "%s", tide_json_str(e, "id", ""));
        if (parse_int64(digits, 0, INT64_MAX, &ms) < 0)
                FAIL("event id '%s' does not start with its stamp", tide_json_str(e, "id", ""));
        return ms;
}

/* Prints the group's events stored since the last call. */
static void show_new_events(void) {
        json_t *ev = group_events();
        for (size_t i = events_shown; i < json_array_size(ev); i++) {
                json_t *e = json_array_get(ev, i);
                printf("  event %s %-20s %s\n", tide_json_str(e, "time", ""), tide_json_str(e, "type", ""),
                       tide_json_str(e, "message", ""));
        }
        events_shown = json_array_size(ev);
        json_decref(ev);
}

/* Waits until n members run (and, with not_id, none of them is that one); returns them. */
static json_t *wait_running(size_t n, const char *not_id, int64_t timeout_ms) {
        int64_t t0 = mono_ms();
        for (;;) {
                json_t *ms = members_get(), *m;
                size_t k = 0, i;
                json_array_foreach(ms, i, m)
                        k += is_running_member(m) && !(not_id && streq(tide_json_str(m, "id", ""), not_id));
                if (k == n)
                        return ms;
                json_decref(ms);
                if (mono_ms() - t0 > timeout_ms)
                        FAIL("%zu members running after %lld ms, not %zu", k, (long long) timeout_ms, n);
                sleep_ms(POLL_MS);
        }
}

static void print_members(json_t *ms) {
        size_t i;
        json_t *m;
        json_array_foreach(ms, i, m)
                printf("  member %-6s %-8s on %s%s\n", tide_json_str(m, "name", ""), tide_json_str(m, "status", ""),
                       tide_json_str(m, "host", "-"), is_leaving(m) ? " (leaving)" : "");
}

static void wait_event(const char *type, const char *id, const char *name, int64_t timeout_ms) {
        int64_t t0 = mono_ms();
        while (count_events(type, id) == 0) {
                if (mono_ms() - t0 > timeout_ms)
                        FAIL("no %s event for member '%s' after %lld ms", type, name, (long long) timeout_ms);
                sleep_ms(POLL_MS);
        }
}

/* The autoscaler writes group.member_added once its create has returned; the simulated host
 * may run the member before that. Waits for it, then checks there is exactly one. */
static void check_member_added(json_t *m) {
        wait_event("group.member_added", tide_json_str(m, "id", ""), tide_json_str(m, "name", ""), RUNNING_TIMEOUT_MS);
        CHECK(count_events("group.member_added", tide_json_str(m, "id", "")) == 1);
}

/* ---- the phases ---- */

/* A new group of min 2: web-1 and web-2, running, one on each host. */
static void phase_start(void) {
        /* The controller runs before the group is written, as tided's does: a pass between the
         * two writes of autoscaler_scaling_group_create (the spread server group, then the group) must not
         * take the young server group for an orphan. */
        struct autoscaler_config acfg = {
                .period_ms = PERIOD_MS,
                .stop_timeout_ms = STOP_TIMEOUT_MS,
                .spread_grace_ms = SPREAD_GRACE_MS,
        };
        int64_t t0 = mono_ms();
        CHECK_OK(autoscaler_new(&acfg, &autoscaler));
        struct ctl_controller entry = autoscaler_controller(autoscaler);
        CHECK_OK(ctl_runner_new(&entry, 1, store, 0, &runner));
        CHECK_OK(ctl_runner_start(runner));
        sleep_ms(PERIOD_MS / 2);
        create_group("{\"name\": \"" GROUP_NAME "\", \"flavor\": \"small\", \"image\": \"img\", \"min\": 2, \"max\": 6,"
                     " \"elastic\": false, \"policies\": ["
                     "  {\"name\": \"out\", \"metric\": \"cpu\", \"above\": 80, \"for_s\": 2, \"adjust\": \"+2\","
                     "   \"cooldown_s\": 4},"
                     "  {\"name\": \"in\", \"metric\": \"cpu\", \"below\": 20, \"for_s\": 2, \"adjust\": \"-1\","
                     "   \"cooldown_s\": 3, \"victim\": \"oldest\"}]}");
        json_t *ms = wait_running(GROUP_MIN, NULL, RUNNING_TIMEOUT_MS);
        printf("  %d members running %lld ms after the controller started\n", GROUP_MIN, (long long) (mono_ms() - t0));
        print_members(ms);
        CHECK(json_array_size(ms) == GROUP_MIN);
        json_t *m1 = find_member(ms, "name", GROUP_NAME "-1"), *m2 = find_member(ms, "name", GROUP_NAME "-2");
        if (!m1 || !m2)
                FAIL("the members are not named " GROUP_NAME "-1 and " GROUP_NAME "-2");
        if (streq(tide_json_str(m1, "host", ""), tide_json_str(m2, "host", "")))
                FAIL("both members are on host '%s': not spread", tide_json_str(m1, "host", ""));
        CHECK(conn_of(m1) && conn_of(m2));
        CHECK(streq(tide_json_str(m1, "group_id", ""), sg_id) && streq(tide_json_str(m2, "group_id", ""), sg_id));
        CHECK(dom_state(m1) == HV_STATE_RUNNING && dom_state(m2) == HV_STATE_RUNNING);
        CHECK(group_desired() == GROUP_MIN);
        check_member_added(m1);
        check_member_added(m2);
        json_decref(ms);
        show_new_events();
}

/* Saturates every member that has a domain and is not yet in saturated (ids); returns how many
 * are saturated. */
static size_t saturate(json_t *saturated) {
        json_t *ms = members_get();
        size_t i, j;
        json_t *m, *id;
        json_array_foreach(ms, i, m) {
                bool done = false;
                json_array_foreach(saturated, j, id)
                        done = done || streq(json_string_value(id), tide_json_str(m, "id", ""));
                if (!done && !is_leaving(m) && set_demand(m, 1.0))
                        json_array_append_new(saturated, json_string(tide_json_str(m, "id", "")));
        }
        json_decref(ms);
        return json_array_size(saturated);
}

/* The last recorded decision: its policy, from and to, and a reason that says so. */
static void check_last_decision(json_t *g, const char *policy, int64_t from, int64_t to) {
        json_t *list = json_object_get(g, "decisions");
        json_t *d = json_array_get(list, json_array_size(list) - 1);
        _cleanup_free_ char *want = xasprintf("desired %" PRId64 "→%" PRId64, from, to);
        if (!d || !streq(tide_json_str(d, "policy", ""), policy) || tide_json_int(d, "from", -1) != from ||
            tide_json_int(d, "to", -1) != to || !strstr(tide_json_str(d, "reason", ""), want))
                FAIL("the last decision is not policy '%s' %" PRId64 "→%" PRId64, policy, from, to);
        printf("  decision %s: %s\n", tide_json_str(d, "time", ""), tide_json_str(d, "reason", ""));
}

/* The group.scale event whose message is reason. */
static void check_scale_event(json_t *g) {
        json_t *list = json_object_get(g, "decisions");
        const char *reason = tide_json_str(json_array_get(list, json_array_size(list) - 1), "reason", "");
        int64_t deadline = mono_ms() + 2000; /* emitted just after the decision is stored */
        for (;;) {
                json_t *ev = group_events(), *scale = events_of(ev, "group.scale", NULL);
                size_t i;
                json_t *e;
                bool found = false;
                json_array_foreach(scale, i, e)
                        found = found || streq(tide_json_str(e, "message", ""), reason);
                json_decref(scale);
                json_decref(ev);
                if (found)
                        return;
                if (mono_ms() > deadline)
                        FAIL("no group.scale event \"%s\"", reason);
                sleep_ms(POLL_MS);
        }
}

/* Every member saturated: 2→4 within the window and the lag, then 4→6 (the new members saturated
 * as soon as they have domains) no sooner than max(window, cooldown) later, then nothing at max. */
static void phase_out(void) {
        json_t *saturated = json_array();
        int64_t t0 = mono_ms(), t4 = 0, t6 = 0, last1 = 0, last2 = 0;
        CHECK(saturate(saturated) == GROUP_MIN);
        printf("  %d members saturated (%d cores each)\n", GROUP_MIN, FLAVOR_VCPUS);
        while (t6 == 0) {
                sleep_ms(POLL_MS);
                saturate(saturated);
                json_t *g = group_get(NULL);
                int64_t desired = tide_json_int(g, "desired", 0), last = policy_last_ms(g, "out");
                size_t n_dec = json_array_size(json_object_get(g, "decisions"));
                if (t4 == 0 && desired != GROUP_MIN) {
                        t4 = mono_ms();
                        last1 = last;
                        printf("  desired %d→%" PRId64 " %lld ms after the load started\n", GROUP_MIN, desired,
                               (long long) (t4 - t0));
                        if (desired != 4 || n_dec != 1)
                                FAIL("desired %" PRId64 " with %zu decisions, expected 4 after one", desired, n_dec);
                        check_last_decision(g, "out", 2, 4);
                        check_scale_event(g);
                        if (t4 - t0 > FOR_S * 1000 + MEASURE_LAG_MS)
                                FAIL("desired 4 only %lld ms after the load started (window %d s + lag %d ms)",
                                     (long long) (t4 - t0), FOR_S, MEASURE_LAG_MS);
                } else if (t4 != 0 && last != last1) {
                        t6 = mono_ms();
                        last2 = last;
                        printf("  desired 4→%" PRId64 " %lld ms later (decisions %.3f s apart)\n", desired,
                               (long long) (t6 - t4), (double) (last2 - last1) / 1000);
                        if (desired != GROUP_MAX || n_dec != 2)
                                FAIL("desired %" PRId64 " with %zu decisions, expected %d after two", desired, n_dec,
                                     GROUP_MAX);
                        check_last_decision(g, "out", 4, GROUP_MAX);
                        check_scale_event(g);
                        int64_t least = (FOR_S > OUT_COOLDOWN_S ? FOR_S : OUT_COOLDOWN_S) * 1000;
                        if (last2 - last1 < least)
                                FAIL("the second decision %lld ms after the first: the cooldown is %d s, the window %d s",
                                     (long long) (last2 - last1), OUT_COOLDOWN_S, FOR_S);
                } else if (t4 != 0 && n_dec != 1)
                        FAIL("%zu decisions but the out policy's last action did not move", n_dec);
                json_decref(g);
                if (mono_ms() - t0 > 2 * (FOR_S * 1000 + MEASURE_LAG_MS) + OUT_COOLDOWN_S * 1000 + RUNNING_TIMEOUT_MS)
                        FAIL("desired not %d %lld ms after the load started", GROUP_MAX, (long long) (mono_ms() - t0));
        }

        /* All six up and saturated; soft anti-affinity balances them over the hosts. */
        int64_t t_run = mono_ms();
        json_t *ms = NULL;
        while (!ms || count_running(ms) < GROUP_MAX || saturate(saturated) < GROUP_MAX) {
                json_decref(ms);
                if (mono_ms() - t_run > RUNNING_TIMEOUT_MS)
                        FAIL("not %d members running and saturated after %d ms", GROUP_MAX, RUNNING_TIMEOUT_MS);
                sleep_ms(POLL_MS);
                ms = members_get();
        }
        printf("  %d members running %lld ms after desired %d\n", GROUP_MAX, (long long) (mono_ms() - t6), GROUP_MAX);
        print_members(ms);
        size_t per_host[N_HOSTS] = { 0 }, i;
        json_t *m;
        json_array_foreach(ms, i, m)
                for (size_t h = 0; h < N_HOSTS; h++)
                        per_host[h] += streq(tide_json_str(m, "host", ""), host_names[h]);
        printf("  spread: %zu on %s, %zu on %s\n", per_host[0], host_names[0], per_host[1], host_names[1]);
        CHECK(json_array_size(ms) == GROUP_MAX && per_host[0] + per_host[1] == GROUP_MAX);
        CHECK(per_host[0] == GROUP_MAX / 2 && per_host[1] == GROUP_MAX / 2);
        json_decref(ms);

        /* At max with the condition still holding: no decision past the cooldown. */
        int64_t t_hold = mono_ms();
        while (mono_ms() - t_hold < HOLD_MS) {
                sleep_ms(4 * POLL_MS);
                json_t *g = group_get(NULL);
                size_t n_dec = json_array_size(json_object_get(g, "decisions"));
                int64_t desired = tide_json_int(g, "desired", 0);
                json_decref(g);
                if (n_dec != 2 || desired != GROUP_MAX)
                        FAIL("desired %" PRId64 " with %zu decisions while at max", desired, n_dec);
        }
        json_t *st;
        CHECK_OK(autoscaler_scaling_group_status(store, group_id, &st));
        _cleanup_free_ char *text = tide_json_dump(st);
        printf("  at max for %d s more, no decision; status %s\n", HOLD_MS / 1000, text);
        json_decref(st);
        json_decref(saturated);
        show_new_events();
}

/* What was seen of one member that goes. */
struct leaver {
        char *id, *name;
        int64_t t_leaving, t_gone; /* mono ms when seen leaving, gone from the store */
        int64_t leaving_ms;        /* its asg_leaving_ms */
        bool seen_stopped;         /* seen with status stopped while leaving */
};

static int cmp_oldest(const void *x, const void *y) {
        json_t *a = *(json_t *const *) x, *b = *(json_t *const *) y;
        int64_t ta = tide_json_int(a, "t_request_ms", 0), tb = tide_json_int(b, "t_request_ms", 0);
        if (ta != tb)
                return ta < tb ? -1 : 1;
        int64_t ia = name_index(tide_json_str(a, "name", "")), ib = name_index(tide_json_str(b, "name", ""));
        return ia < ib ? -1 : ia > ib;
}

/* The member's own events (its instance.* ones and the group's about it) agree that it was
 * stopped before it was deleted, and deleted because it was stopped. The agent writes
 * instance.deleted just after it removes the record: waited for, not assumed. */
static void check_leaver_events(const struct leaver *l) {
        json_t *ev = NULL;
        for (int64_t t0 = mono_ms();; sleep_ms(POLL_MS)) {
                json_decref(ev);
                CHECK_OK(model_event_list(store, l->id, EVENTS_MAX, &ev));
                json_t *deleted = events_of(ev, "instance.deleted", NULL);
                size_t n = json_array_size(deleted);
                json_decref(deleted);
                if (n > 0 || mono_ms() - t0 > RUNNING_TIMEOUT_MS)
                        break;
        }
        json_t *leaving = events_of(ev, "group.member_leaving", NULL),
               *stopped = events_of(ev, "instance.stopped", NULL);
        json_t *removed = events_of(ev, "group.member_removed", NULL),
               *deleted = events_of(ev, "instance.deleted", NULL);
        if (json_array_size(leaving) != 1 || json_array_size(stopped) != 1 || json_array_size(removed) != 1 ||
            json_array_size(deleted) != 1)
                FAIL("member '%s': %zu member_leaving, %zu instance.stopped, %zu member_removed, %zu instance.deleted "
                     "events, not one each",
                     l->name, json_array_size(leaving), json_array_size(stopped), json_array_size(removed),
                     json_array_size(deleted));
        json_t *rm = json_array_get(removed, 0);
        if (!strstr(tide_json_str(rm, "message", ""), "' stopped, deleted"))
                FAIL("member '%s' removed, but not because it stopped: \"%s\"", l->name,
                     tide_json_str(rm, "message", ""));
        /* The agent reports the stop before it stores the status the controller waits for. */
        if (event_ms(json_array_get(stopped, 0)) > event_ms(rm))
                FAIL("member '%s' deleted before its domain stopped", l->name);
        printf("  %-6s leaving at %5.1f s, stopped (%s), gone at %5.1f s\n", l->name, (double) l->t_leaving / 1000,
               tide_json_str(json_array_get(stopped, 0), "message", ""), (double) l->t_gone / 1000);
        json_decref(leaving);
        json_decref(stopped);
        json_decref(removed);
        json_decref(deleted);
        json_decref(ev);
}

/* No load: the in policy takes one member at a time, the oldest first, down to min. */
static void phase_in(void) {
        json_t *start = members_get();
        size_t n = json_array_size(start), n_go = n - GROUP_MIN, n_seen = 0, i;
        json_t *m;
        CHECK(n == GROUP_MAX);
        json_t **order = xcalloc(n, sizeof *order);
        for (i = 0; i < n; i++)
                order[i] = json_array_get(start, i);
        qsort(order, n, sizeof *order, cmp_oldest);
        struct leaver *lv = xcalloc(n, sizeof *lv);
        int64_t *decided = xcalloc(n + 1, sizeof *decided); /* the in policy's actions */
        size_t n_decided = 0;
        json_t *g0 = group_get(NULL);
        int64_t last_in = policy_last_ms(g0, "in");
        json_decref(g0);

        int64_t t0 = mono_ms();
        json_array_foreach(start, i, m)
                CHECK(set_demand(m, 0.0));
        printf("  load off on %zu members; expected to go, oldest first:", n);
        for (i = 0; i < n_go; i++)
                printf(" %s", tide_json_str(order[i], "name", ""));
        printf("\n");

        for (;;) {
                sleep_ms(POLL_MS);
                int64_t t = mono_ms() - t0;
                json_t *g = group_get(NULL);
                int64_t desired = tide_json_int(g, "desired", 0), last = policy_last_ms(g, "in");
                json_decref(g);
                if (desired < GROUP_MIN)
                        FAIL("desired %" PRId64 ", below min %d", desired, GROUP_MIN);
                if (last != last_in) {
                        if (n_decided == n)
                                FAIL("more in decisions than members");
                        decided[n_decided++] = last;
                        last_in = last;
                }
                json_t *ms = members_get();
                size_t leaving_now = 0, staying = 0;
                json_array_foreach(ms, i, m) {
                        const char *name = tide_json_str(m, "name", "");
                        if (!find_member(start, "id", tide_json_str(m, "id", "")))
                                FAIL("a new member '%s' while scaling in", name);
                        if (!is_leaving(m)) {
                                staying++;
                                continue;
                        }
                        leaving_now++;
                        size_t k;
                        for (k = 0; k < n_seen && !streq(lv[k].id, tide_json_str(m, "id", "")); k++)
                                ;
                        if (k == n_seen) {
                                /* First seen leaving: stopping gracefully, not deleted outright. */
                                if (n_seen == n_go)
                                        FAIL("member '%s' goes: more than %zu", name, n_go);
                                if (!streq(name, tide_json_str(order[n_seen], "name", "")))
                                        FAIL("member '%s' goes where '%s' (the oldest) should", name,
                                             tide_json_str(order[n_seen], "name", ""));
                                if (tide_json_int(m, "asg_leaving_ms", 0) <= 0 ||
                                    !streq(tide_json_str(m, "desired", ""), "stopped"))
                                        FAIL("member '%s' first seen going with desired '%s', asg_leaving_ms %" PRId64
                                             " (expected stopped, set)",
                                             name, tide_json_str(m, "desired", ""),
                                             tide_json_int(m, "asg_leaving_ms", 0));
                                lv[n_seen++] = (struct leaver) { .id = xstrdup(tide_json_str(m, "id", "")),
                                                                 .name = xstrdup(name),
                                                                 .t_leaving = t,
                                                                 .leaving_ms = tide_json_int(m, "asg_leaving_ms", 0) };
                        }
                        if (streq(tide_json_str(m, "status", ""), "stopped"))
                                lv[k].seen_stopped = true;
                        /* Read after the record: a domain running now was running when it was deleted. */
                        int ds = dom_state(m);
                        if (streq(tide_json_str(m, "desired", ""), "deleted") && ds == HV_STATE_RUNNING)
                                FAIL("member '%s' deleted while its domain runs", name);
                }
                if (leaving_now > 1)
                        FAIL("%zu members going at once", leaving_now);
                if (staying < GROUP_MIN)
                        FAIL("%zu members staying, below min %d", staying, GROUP_MIN);
                for (size_t k = 0; k < n_seen; k++)
                        if (lv[k].t_gone == 0 && !find_member(ms, "id", lv[k].id))
                                lv[k].t_gone = t;
                bool done = json_array_size(ms) == GROUP_MIN && desired == GROUP_MIN;
                json_decref(ms);
                if (done)
                        break;
                if (t > SCALE_IN_TIMEOUT_MS)
                        FAIL("desired %" PRId64 " and %zu of %zu members gone %lld ms after the load stopped", desired,
                             n_seen, n_go, (long long) t);
        }
        printf("  down to %d members %.1f s after the load stopped\n", GROUP_MIN, (double) (mono_ms() - t0) / 1000);
        if (n_seen != n_go || n_decided != n_go)
                FAIL("%zu members went after %zu decisions, expected %zu", n_seen, n_decided, n_go);
        for (i = 0; i < n_go; i++) {
                check_leaver_events(&lv[i]);
                CHECK(lv[i].t_gone > lv[i].t_leaving);
                /* It goes in the pass that decided. */
                CHECK(lv[i].leaving_ms == decided[i]);
                if (i > 0) {
                        int64_t gap = decided[i] - decided[i - 1];
                        printf("    decided %.3f s after the one before\n", (double) gap / 1000);
                        if (gap < (FOR_S > IN_COOLDOWN_S ? FOR_S : IN_COOLDOWN_S) * 1000)
                                FAIL("in decisions %lld ms apart: the cooldown is %d s, the window %d s",
                                     (long long) gap, IN_COOLDOWN_S, FOR_S);
                }
        }
        json_t *g = group_get(NULL);
        json_t *list = json_object_get(g, "decisions");
        CHECK(json_array_size(list) == 2 + n_go);
        for (i = 0; i < n_go; i++) {
                json_t *d = json_array_get(list, 2 + i);
                CHECK(streq(tide_json_str(d, "policy", ""), "in") &&
                      tide_json_int(d, "from", 0) == GROUP_MAX - (int64_t) i &&
                      tide_json_int(d, "to", 0) == GROUP_MAX - (int64_t) i - 1);
        }
        CHECK(streq(tide_json_str(g, "shrink_victim", ""), "oldest"));
        json_decref(g);

        /* At min with the condition still holding: nothing more goes. */
        int64_t t_hold = mono_ms();
        while (mono_ms() - t_hold < HOLD_MS) {
                sleep_ms(4 * POLL_MS);
                json_t *ms = members_get();
                size_t running = count_running(ms), all = json_array_size(ms);
                json_decref(ms);
                if (group_desired() != GROUP_MIN || running != GROUP_MIN || all != GROUP_MIN)
                        FAIL("at min: desired %" PRId64 ", %zu members, %zu running", group_desired(), all, running);
        }
        printf("  held at min %d for %d s more\n", GROUP_MIN, HOLD_MS / 1000);
        for (i = 0; i < n; i++) {
                free(lv[i].id);
                free(lv[i].name);
        }
        free(lv);
        free(decided);
        free(order);
        json_decref(start);
        show_new_events();
}

/* Waits for a group event of type about the member (id, name). */
/* The member that is not in before (ids): the replacement. */
static json_t *newcomer(json_t *now, json_t *before) {
        size_t i;
        json_t *m;
        json_array_foreach(now, i, m)
                if (!find_member(before, "id", tide_json_str(m, "id", "")))
                        return m;
        return NULL;
}

/* A member in error: deleted and replaced, the group back at desired. */
static void phase_failure(void) {
        json_t *before = members_get();
        CHECK(json_array_size(before) == GROUP_MIN);
        json_t *victim = json_array_get(before, 0);
        _cleanup_free_ char *id = xstrdup(tide_json_str(victim, "id", "")),
                            *name = xstrdup(tide_json_str(victim, "name", ""));
        int64_t t0 = mono_ms();
        update_instance(id, do_fail);
        CHECK_OK(model_event_emit(store, "error", "instance.error", victim, tide_json_str(victim, "host", NULL),
                                  "starting the domain: simulated failure"));
        printf("  %s put in error\n", name);

        wait_event("group.member_failed", id, name, RUNNING_TIMEOUT_MS);
        printf("  group.member_failed after %lld ms\n", (long long) (mono_ms() - t0));
        json_t *ms = wait_running(GROUP_MIN, id, RUNNING_TIMEOUT_MS);
        json_t *repl = newcomer(ms, before);
        if (!repl)
                FAIL("no replacement for '%s'", name);
        printf("  replacement %s running on %s %lld ms after the failure\n", tide_json_str(repl, "name", ""),
               tide_json_str(repl, "host", ""), (long long) (mono_ms() - t0));
        CHECK(!streq(tide_json_str(repl, "name", ""), name));
        check_member_added(repl);
        json_decref(ms);

        /* The failed one goes from the store (the agent tears its domain down). */
        int64_t t1 = mono_ms();
        for (;;) {
                ms = members_get();
                bool gone = !find_member(ms, "id", id);
                json_decref(ms);
                if (gone)
                        break;
                if (mono_ms() - t1 > RUNNING_TIMEOUT_MS)
                        FAIL("member '%s' still in the store %d ms after it was replaced", name, RUNNING_TIMEOUT_MS);
                sleep_ms(POLL_MS);
        }
        ms = members_get();
        printf("  %s gone %lld ms after the failure; desired %" PRId64 "\n", name, (long long) (mono_ms() - t0),
               group_desired());
        CHECK(json_array_size(ms) == GROUP_MIN && count_running(ms) == GROUP_MIN && group_desired() == GROUP_MIN);
        CHECK(count_events("group.member_failed", id) == 1);
        json_decref(ms);
        json_decref(before);
        show_new_events();
}

/* A member stopped by hand: replaced, and left as it is (stopped, not deleted). */
static void phase_stopped(void) {
        json_t *before = members_get();
        CHECK(json_array_size(before) == GROUP_MIN);
        json_t *victim = json_array_get(before, 0);
        _cleanup_free_ char *id = xstrdup(tide_json_str(victim, "id", "")),
                            *name = xstrdup(tide_json_str(victim, "name", ""));
        int64_t t0 = mono_ms();
        update_instance(id, do_stop);
        CHECK_OK(model_event_emit(store, "info", "instance.stop", victim, tide_json_str(victim, "host", NULL),
                                  "stop requested for '%s'", name));
        printf("  %s stopped by hand\n", name);

        json_t *ms = wait_running(GROUP_MIN, id, RUNNING_TIMEOUT_MS);
        json_t *repl = newcomer(ms, before);
        if (!repl)
                FAIL("no replacement for the stopped '%s'", name);
        printf("  replacement %s running on %s %lld ms after the stop\n", tide_json_str(repl, "name", ""),
               tide_json_str(repl, "host", ""), (long long) (mono_ms() - t0));
        check_member_added(repl);
        json_decref(ms);

        /* Past a window and a cooldown: still there, stopped, not leaving, its domain off. */
        int64_t t_hold = mono_ms();
        while (mono_ms() - t_hold < HOLD_MS) {
                sleep_ms(4 * POLL_MS);
                ms = members_get();
                json_t *m = find_member(ms, "id", id);
                if (!m)
                        FAIL("the stopped member '%s' was deleted", name);
                if (!streq(tide_json_str(m, "desired", ""), "stopped") || tide_json_int(m, "asg_leaving_ms", 0) != 0)
                        FAIL("the stopped member '%s' was touched: desired '%s', asg_leaving_ms %" PRId64, name,
                             tide_json_str(m, "desired", ""), tide_json_int(m, "asg_leaving_ms", 0));
                if (json_array_size(ms) != GROUP_MIN + 1 || count_running(ms) != GROUP_MIN)
                        FAIL("%zu members, %zu running, expected %d and %d", json_array_size(ms), count_running(ms),
                             GROUP_MIN + 1, GROUP_MIN);
                json_decref(ms);
        }
        ms = members_get();
        json_t *m = find_member(ms, "id", id);
        printf("  %s still there after %d s: status %s, domain %s; desired %" PRId64 "\n", name, HOLD_MS / 1000,
               tide_json_str(m, "status", ""), dom_state_name(dom_state(m)), group_desired());
        CHECK(streq(tide_json_str(m, "status", ""), "stopped") && dom_state(m) == HV_STATE_SHUTOFF);
        CHECK(group_desired() == GROUP_MIN);
        CHECK(count_events("group.member_failed", id) + count_events("group.member_leaving", id) +
                      count_events("group.member_removed", id) ==
              0);
        json_decref(ms);
        json_decref(before);
        show_new_events();
}

static json_t *status_policy(json_t *st, const char *name) {
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(st, "policies"), i, p)
                if (streq(tide_json_str(p, "name", ""), name))
                        return p;
        return NULL;
}

/* What the controller sees: idle members at min, so the in policy holds (and, at its bound, keeps
 * holding: held_s grows) and the out policy does not. */
static void phase_status(void) {
        json_t *st1, *st2, *none;
        CHECK(autoscaler_scaling_group_status(store, "00000000-0000-4000-8000-000000000000", &none) ==
              TIDE_E_NOT_FOUND);
        CHECK_OK(autoscaler_scaling_group_status(store, group_id, &st1));
        int64_t t1 = mono_ms();
        sleep_ms(2 * PERIOD_MS);
        CHECK_OK(autoscaler_scaling_group_status(store, group_id, &st2));
        double elapsed = (double) (mono_ms() - t1) / 1000;
        _cleanup_free_ char *text1 = tide_json_dump(st1), *text2 = tide_json_dump(st2);
        printf("  status: %s\n  %.1f s later: %s\n", text1, elapsed, text2);
        CHECK(json_array_size(json_object_get(st2, "policies")) == 2);
        /* Written when it changes, not every pass: t_ms is when it last did. */
        CHECK(tide_json_int(st2, "t_ms", 0) > 0 && tide_json_int(st2, "t_ms", 0) <= now_ms());
        json_t *out1 = status_policy(st1, "out"), *out2 = status_policy(st2, "out");
        json_t *in1 = status_policy(st1, "in"), *in2 = status_policy(st2, "in");
        CHECK(out1 && out2 && in1 && in2);
        json_t *v = json_object_get(in2, "value");
        CHECK(json_is_number(v) && json_number_value(v) < 20);
        CHECK(json_is_number(json_object_get(out2, "value")) && json_number_value(json_object_get(out2, "value")) < 20);
        CHECK(json_is_true(json_object_get(in1, "holding")) && json_is_true(json_object_get(in2, "holding")));
        CHECK(json_is_false(json_object_get(out2, "holding")));
        double held1 = json_number_value(json_object_get(in1, "held_s")),
               held2 = json_number_value(json_object_get(in2, "held_s"));
        CHECK(json_number_value(json_object_get(out2, "held_s")) == 0);
        /* Held since the replacement's pass at least; it grew by the time between the calls. */
        CHECK(held1 > FOR_S);
        if (held2 - held1 < elapsed - 0.1 || held2 - held1 > elapsed + 0.1)
                FAIL("held_s went from %.3f to %.3f in %.3f s", held1, held2, elapsed);
        json_decref(st1);
        json_decref(st2);
}

/* autoscaler_scaling_group_delete (DELETE /v1/scaling-groups/{}): the group record goes, then
 * its members are deleted; the spread server group goes once no instance refers to it, never
 * before. */
static void phase_delete(void) {
        json_t *members = members_get();
        size_t n = json_array_size(members), i;
        json_t *m;
        for (int attempt = 0;; attempt++) {
                int64_t rev;
                json_t *g = group_get(&rev);
                int r = autoscaler_scaling_group_delete(store, g, rev);
                json_decref(g);
                if (r == TIDE_E_CONFLICT && attempt < CAS_RETRIES)
                        continue;
                CHECK_OK(r);
                break;
        }
        int64_t t0 = mono_ms(), t_members = 0, t_sg = 0;
        printf("  group and its %zu members deleted\n", n);
        for (;;) {
                sleep_ms(POLL_MS);
                /* The server group first: an instance seen after it was gone was there when it went. */
                json_t *sg, *all;
                bool sg_there = model_obj_get(store, MODEL_SERVER_GROUP, sg_id, &sg, NULL) >= 0;
                if (sg_there)
                        json_decref(sg);
                CHECK_OK(model_obj_list(store, MODEL_INSTANCE, &all));
                size_t refs = 0;
                json_t *inst;
                json_array_foreach(all, i, inst)
                        refs += streq(tide_json_str(inst, "group_id", ""), sg_id) ||
                                streq(tide_json_str(inst, "asg_id", ""), group_id);
                json_decref(all);
                if (!sg_there && refs > 0)
                        FAIL("the server group went while %zu instances refer to it", refs);
                if (refs == 0 && t_members == 0)
                        t_members = mono_ms();
                if (!sg_there) {
                        t_sg = mono_ms();
                        break;
                }
                if (mono_ms() - t0 > RUNNING_TIMEOUT_MS)
                        FAIL("server group still there %d ms after the group was deleted (%zu instances refer to it)",
                             RUNNING_TIMEOUT_MS, refs);
        }
        printf("  members gone after %lld ms, the server group after %lld ms\n", (long long) (t_members - t0),
               (long long) (t_sg - t0));
        json_array_foreach(members, i, m)
                if (dom_state(m) >= 0)
                        FAIL("member '%s' still has a domain", tide_json_str(m, "name", ""));
        /* The controller deletes the group's status the pass after it went. */
        int64_t t1 = mono_ms();
        json_t *st;
        while (autoscaler_scaling_group_status(store, group_id, &st) >= 0) {
                json_decref(st);
                if (mono_ms() - t1 > 3 * PERIOD_MS)
                        FAIL("the controller still reports on the deleted group");
                sleep_ms(POLL_MS);
        }
        json_decref(members);
        show_new_events();
}

/* A group whose member no host can take: the member is stored in error without a host, deleted
 * by the next pass (no agent would), and the group tries again only after its back-off, not
 * every pass. */
static void phase_no_host(void) {
        sim_test_flavor(store, "{\"name\": \"huge\", \"vcpus\": 1, \"ram_mib\": 65536, \"disk_gib\": 1}");
        json_t *body = sim_test_json("{\"name\": \"big\", \"flavor\": \"huge\", \"image\": \"img\", \"min\": 1}"), *g;
        _cleanup_free_ char *err = NULL;
        if (autoscaler_scaling_group_create(store, body, NULL, &g, &err) < 0)
                FAIL("group big: %s", err);
        json_decref(body);
        sleep_ms(5 * PERIOD_MS);
        json_t *events, *all, *e, *inst;
        size_t i, added = 0, failed = 0, left = 0;
        CHECK_OK(model_scaling_group_event_list(store, tide_json_str(g, "id", ""), EVENTS_MAX, &events));
        json_array_foreach(events, i, e) {
                added += streq(tide_json_str(e, "type", ""), "group.member_added");
                failed += streq(tide_json_str(e, "type", ""), "group.member_failed");
        }
        CHECK_OK(model_obj_list(store, MODEL_INSTANCE, &all));
        json_array_foreach(all, i, inst)
                left += streq(tide_json_str(inst, "asg_id", ""), tide_json_str(g, "id", ""));
        printf("  in 5 s: %zu member(s) tried, %zu deleted, %zu record(s) left\n", added, failed, left);
        if (added != 1 || failed != 1 || left != 0) {
                _cleanup_free_ char *text = tide_json_dump(events);
                FAIL("expected one try, its record deleted and nothing left; events: %s", text);
        }
        CHECK_OK(autoscaler_scaling_group_delete(store, g, 0));
        json_decref(events);
        json_decref(all);
        json_decref(g);
}

/* Placement's bookkeeping for the agent, as tided gives it. */
static const struct agent_placement placement = {
        .instance_delete = sched_store_delete,
        .shared_pools = sched_store_shared_pools,
};

int main(void) {
        int64_t t_start = mono_ms();
        char tmpl[] = "/tmp/tide-autoscaler-XXXXXX";
        setvbuf(stdout, NULL, _IOLBF, 0);
        sim_test_hooks(dump_state, cleanup);
        log_set_ident("test_autoscaler");
        if (!mkdtemp(tmpl)) {
                fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
                return 1;
        }
        tmp_dir = xstrdup(tmpl);

        _cleanup_free_ char *store_url = xasprintf("sqlite:%s/store.db", tmp_dir);
        CHECK_OK(store_open(store_url, &store));
        metrics = metrics_new(0);
        struct agent_host_config hosts[N_HOSTS];
        for (size_t i = 0; i < N_HOSTS; i++) {
                CHECK_OK(hv_sim_driver.open(host_uris[i], tmp_dir, &conns[i]));
                hosts[i] = (struct agent_host_config) { .name = NULL, .hv = conns[i] };
        }
        struct agent_config cfg = {
                .store = store,
                .hosts = hosts,
                .n_hosts = N_HOSTS,
                .state_dir = tmp_dir,
                .metrics = metrics,
                .shutdown_timeout_ms = STOP_TIMEOUT_MS,
                .placement = &placement,
        };
        CHECK_OK(agent_new(&cfg, &agent));
        sim_test_flavor(store, "{\"name\": \"small\", \"vcpus\": 2, \"ram_mib\": 512, \"disk_gib\": 1}");
        sim_test_image(store, tmp_dir, "img");
        printf("state %s, hosts %s and %s\n", tmp_dir, host_uris[0], host_uris[1]);

        printf("start: group " GROUP_NAME ", min %d, max %d\n", GROUP_MIN, GROUP_MAX);
        phase_start();
        printf("out: every member saturated; out: cpu avg > 80 for %d s, +2, cooldown %d s\n", FOR_S, OUT_COOLDOWN_S);
        phase_out();
        printf("in: no load; in: cpu avg < 20 for %d s, -1, cooldown %d s, oldest first\n", FOR_S, IN_COOLDOWN_S);
        phase_in();
        printf("failure: a member in error\n");
        phase_failure();
        printf("stopped: a member stopped by hand\n");
        phase_stopped();
        printf("status: autoscaler_scaling_group_status\n");
        phase_status();
        printf("delete: the group and its members\n");
        phase_delete();
        printf("no host: a group whose member fits nowhere\n");
        phase_no_host();

        cleanup();
        printf("PASS in %.1f s\n", (double) (mono_ms() - t_start) / 1000);
        return 0;
}
