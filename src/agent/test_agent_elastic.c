/* test_agent_elastic.c — the host's elastic loop end to end, in one process, with no mocks: a
 * SQLite store in a temporary directory, real metrics, a real agent (agent_new) running one
 * simulated host (hv_sim, sim:///h1, 4 CPUs) and the real planner (elastic_plan()).
 *
 * A flavor (1 vCPU, up to 4), an image and an instance are stored the way the API's handlers
 * store them; the agent starts the instance. Then, with the simulated guest's CPU demand:
 *   grow    4 cores on 1 vCPU (saturated, host idle): more vCPUs within 15 s, with an
 *           instance.elastic event "vcpus 1→N";
 *   shrink  0 cores: back to 1 vCPU one at a time, the first no sooner than remove_after_ms
 *           (20 s) after the load stopped, each next no sooner than min_change_interval_ms
 *           (10 s) after the one before, each with an event "vcpus N→N-1, ..., idle S s";
 *   floor   still idle at 1 vCPU for longer than both intervals: never below the flavor's 1;
 *   off     elastic off (as PATCH /v1/instances/{} sets it), 4 cores again: for 15 s no vCPU
 *           change and no instance.elastic event, though the VM is saturated.
 * Each phase also checks that the metrics agree with the driver.
 *
 * On a failed check: prints what failed, the instance's events and its vCPUs, cleans up and
 * exits 1. Runs about 80 s (the shrink phase alone is 20 s + 10 s per further vCPU). */
#include <errno.h>
#include <fcntl.h>
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
#include "ctl/elastic.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "sched/sched_store.h"
#include "store/store.h"

#define HOST_NAME "h1"
#define HOST_URI "sim:///" HOST_NAME "?cpus=4&numa=1&mem_mib=8192&disk_gib=100"
#define FLAVOR_MAX_VCPUS 4
#define POLL_MS 100
#define RUNNING_TIMEOUT_MS 15000
#define GROW_TIMEOUT_MS 15000
#define SETTLE_MS 6000 /* past the add cooldown (5 s): no further addition */
#define SHRINK_TIMEOUT_MS 90000
#define FLOOR_HOLD_MS 12000 /* longer than min_change_interval_ms */
#define OFF_HOLD_MS 15000
#define EVENT_LAG_MS 3000   /* the event follows the driver call that it reports */
#define TIMING_SLACK_MS 500 /* polling granularity and the driver call's own time */
#define EVENTS_MAX 10000
#define CAS_RETRIES 20

static char *tmp_dir;
static struct store *store;
static struct metrics *metrics;
static struct hv_conn *conn;
static struct agent *agent;
static char *inst_id;

static void sleep_ms(int64_t ms) {
        nanosleep(&(struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L }, NULL);
}

static void cleanup(void) {
        agent_free(TAKE_PTR(agent));
        if (conn)
                hv_conn_driver(conn)->close(TAKE_PTR(conn));
        store_free(TAKE_PTR(store));
        metrics_free(TAKE_PTR(metrics));
        if (tmp_dir && rm_rf(tmp_dir) < 0)
                fprintf(stderr, "could not remove %s\n", tmp_dir);
        free(TAKE_PTR(tmp_dir));
        free(TAKE_PTR(inst_id));
}

/* What a failure report needs: the instance's events and its vCPUs as the driver has them. */
static void dump_state(void) {
        json_t *events;
        if (store && inst_id && model_event_list(store, inst_id, EVENTS_MAX, &events) >= 0) {
                fprintf(stderr, "events of the instance:\n");
                size_t i;
                json_t *e;
                json_array_foreach(events, i, e)
                        fprintf(stderr, "  %s %-18s %s\n", tide_json_str(e, "time", ""), tide_json_str(e, "type", ""),
                                tide_json_str(e, "message", ""));
                json_decref(events);
        }
        struct hv_domain_info di = {};
        if (conn && inst_id && hv_conn_driver(conn)->domain_info(conn, inst_id, &di) >= 0)
                fprintf(stderr, "domain: state %s, %d vCPUs\n", hv_state_to_string(di.state), di.vcpus);
        hv_domain_info_clear(&di);
}

/* ---- the setup, as the API's handlers do it ---- */

/* POST /v1/instances: sched_instance_place_and_store, as the API does, placed at once. Returns
 * the id. */
static char *create_instance(const char *body_text) {
        json_t *body = sim_test_json(body_text), *inst = NULL;
        _cleanup_free_ char *err = NULL;
        int r = sched_instance_place_and_store(store, NULL, body, NULL, false, now_ms(), &inst, &err);
        json_decref(body);
        if (r < 0)
                FAIL("instance %s: %s (%s)", body_text, tide_strerror(r), err ? err : "");
        CHECK(streq(tide_json_str(inst, "host", ""), HOST_NAME));
        char *id = xstrdup(tide_json_str(inst, "id", ""));
        json_decref(inst);
        return id;
}

/* PATCH /v1/instances/{} (instance_update): the policy merged in, compare-and-swap. */
static void patch_instance(const char *body_text) {
        json_t *body = sim_test_json(body_text);
        for (int attempt = 0; attempt < CAS_RETRIES; attempt++) {
                json_t *inst;
                int64_t rev;
                _cleanup_free_ char *err = NULL, *now = time_format_ms(now_ms());
                CHECK_OK(model_obj_get(store, MODEL_INSTANCE, inst_id, &inst, &rev));
                if (model_instance_policy_merge(inst, body, &err) < 0)
                        FAIL("policy %s: %s", body_text, err);
                json_object_set_new(inst, "updated", json_string(now));
                int r = model_obj_update(store, MODEL_INSTANCE, inst, rev, NULL);
                if (r == TIDE_E_CONFLICT) {
                        json_decref(inst);
                        continue; /* the agent wrote it in between: read it again */
                }
                CHECK_OK(r);
                CHECK_OK(model_event_emit(store, "info", "instance.policy", inst, tide_json_str(inst, "host", NULL),
                                          "policy change requested for '%s'", tide_json_str(inst, "name", "")));
                json_decref(inst);
                json_decref(body);
                return;
        }
        FAIL("the instance kept changing: no policy update in %d attempts", CAS_RETRIES);
}

/* ---- observations ---- */

static const char *instance_status(void) {
        static char status[32];
        json_t *inst;
        CHECK_OK(model_obj_get(store, MODEL_INSTANCE, inst_id, &inst, NULL));
        snprintf(status, sizeof status, "%s", tide_json_str(inst, "status", ""));
        json_decref(inst);
        return status;
}

/* Online vCPUs of the domain, as the driver has them. */
static int domain_vcpus(void) {
        struct hv_domain_info di = {};
        CHECK_OK(hv_conn_driver(conn)->domain_info(conn, inst_id, &di));
        int n = di.vcpus;
        if (di.state != HV_STATE_RUNNING)
                FAIL("the domain is %s, not running", hv_state_to_string(di.state));
        hv_domain_info_clear(&di);
        return n;
}

/* The instance's instance.elastic events, oldest first. */
static json_t *elastic_events(void) {
        json_t *all, *ret = json_array();
        CHECK_OK(model_event_list(store, inst_id, EVENTS_MAX, &all));
        size_t i;
        json_t *e;
        json_array_foreach(all, i, e)
                if (streq(tide_json_str(e, "type", ""), "instance.elastic"))
                        json_array_append(ret, e);
        json_decref(all);
        return ret;
}

/* The vCPU change an event's message reports ("web: vcpus 4→3, ..."); false for other events. */
static bool event_vcpus(json_t *e, int *ret_from, int *ret_to) {
        const char *p = strstr(tide_json_str(e, "message", ""), "vcpus ");
        int from, to;
        if (!p || sscanf(p, "vcpus %d→%d", &from, &to) != 2)
                return false;
        *ret_from = from;
        *ret_to = to;
        return true;
}

/* Waits until the metrics report n vCPUs for the instance (they follow the next sample). */
static void check_metrics_vcpus(int n) {
        int64_t deadline = mono_ms() + EVENT_LAG_MS;
        struct metrics_vm_rates vr = {};
        while (mono_ms() < deadline) {
                if (metrics_vm_rates(metrics, inst_id, &vr) >= 0 && vr.vcpus == n)
                        return;
                sleep_ms(POLL_MS);
        }
        FAIL("the metrics report %d vCPUs, the driver %d", vr.vcpus, n);
}

/* ---- the phases ---- */

/* 4 cores on 1 vCPU with 3 CPUs idle: more vCPUs within GROW_TIMEOUT_MS, with an event that
 * says 1→N; then no further change once the add cooldown has passed. Returns the vCPUs. */
static int phase_grow(void) {
        int64_t t0 = mono_ms(), t_grown = 0;
        int vcpus = 1, from = 0, to = 0;
        bool have_event = false;
        CHECK_OK(hv_sim_set_demand(conn, inst_id, 4.0, 0));
        while (mono_ms() - t0 < GROW_TIMEOUT_MS && !(vcpus > 1 && have_event)) {
                sleep_ms(POLL_MS);
                if (vcpus == 1 && (vcpus = domain_vcpus()) > 1)
                        t_grown = mono_ms();
                json_t *ev = elastic_events();
                size_t i;
                json_t *e;
                json_array_foreach(ev, i, e)
                        if (!have_event && event_vcpus(e, &from, &to) && from == 1) {
                                have_event = true;
                                printf("  event: %s\n", tide_json_str(e, "message", ""));
                        }
                json_decref(ev);
        }
        if (vcpus <= 1)
                FAIL("still 1 vCPU %lld ms after the VM saturated it", (long long) (mono_ms() - t0));
        if (!have_event)
                FAIL("%d vCPUs but no instance.elastic event \"vcpus 1→\"", vcpus);
        CHECK(to == vcpus && to <= FLAVOR_MAX_VCPUS);
        printf("  1→%d vCPUs %lld ms after the load started\n", vcpus, (long long) (t_grown - t0));

        /* The jump may stop short of the maximum when the idle CPU is small: let any further
         * addition come (one add cooldown), then take what it is. */
        int64_t t_change = mono_ms();
        while (vcpus < FLAVOR_MAX_VCPUS && mono_ms() - t_change < SETTLE_MS) {
                sleep_ms(POLL_MS);
                int v = domain_vcpus();
                if (v != vcpus) {
                        CHECK(v > vcpus && v <= FLAVOR_MAX_VCPUS);
                        printf("  then %d→%d vCPUs\n", vcpus, v);
                        vcpus = v;
                        t_change = mono_ms();
                }
        }
        check_metrics_vcpus(vcpus);
        return vcpus;
}

/* No load: one vCPU fewer at a time, the first after remove_after_ms, then one every
 * min_change_interval_ms, each with an "idle" event, down to the flavor's 1 and no further. */
static void phase_shrink(int peak) {
        struct elastic_params p;
        elastic_params_default(&p);
        json_t *ev = elastic_events();
        size_t n_before = json_array_size(ev);
        json_decref(ev);

        int64_t t0 = mono_ms(), t_last = t0;
        int vcpus = peak, min_seen = peak;
        CHECK_OK(hv_sim_set_demand(conn, inst_id, 0.0, 0));
        while (vcpus > 1 && mono_ms() - t0 < SHRINK_TIMEOUT_MS) {
                sleep_ms(POLL_MS);
                int v = domain_vcpus();
                if (v == vcpus)
                        continue;
                int64_t t = mono_ms(), wait = t - t_last;
                int64_t least = vcpus == peak ? p.remove_after_ms : p.min_change_interval_ms;
                printf("  %d→%d vCPUs at %5.1f s (%.1f s after the %s)\n", vcpus, v, (double) (t - t0) / 1000,
                       (double) wait / 1000, vcpus == peak ? "load stopped" : "previous change");
                if (v != vcpus - 1)
                        FAIL("went from %d to %d vCPUs: not one at a time", vcpus, v);
                if (wait < least - TIMING_SLACK_MS)
                        FAIL("%d→%d only %lld ms after the %s (at least %lld expected)", vcpus, v, (long long) wait,
                             vcpus == peak ? "load stopped" : "previous change", (long long) least);
                vcpus = v;
                min_seen = v < min_seen ? v : min_seen;
                t_last = t;
        }
        if (vcpus > 1)
                FAIL("still %d vCPUs %lld ms after the load stopped", vcpus, (long long) (mono_ms() - t0));
        printf("  back at 1 vCPU %.1f s after the load stopped\n", (double) (mono_ms() - t0) / 1000);

        /* Every step has its event, in order: peak→peak-1, ..., 2→1, each saying idle. */
        size_t n_expected = n_before + (size_t) (peak - 1);
        int64_t deadline = mono_ms() + EVENT_LAG_MS;
        for (;;) {
                ev = elastic_events();
                if (json_array_size(ev) >= n_expected || mono_ms() >= deadline)
                        break;
                json_decref(ev);
                sleep_ms(POLL_MS);
        }
        if (json_array_size(ev) != n_expected) {
                size_t n_new = json_array_size(ev) - n_before;
                json_decref(ev);
                FAIL("%zu new instance.elastic events for %d removals", n_new, peak - 1);
        }
        for (size_t i = n_before; i < json_array_size(ev); i++) {
                json_t *e = json_array_get(ev, i);
                const char *msg = tide_json_str(e, "message", "");
                int from, to, expect = peak - (int) (i - n_before);
                printf("  event: %s\n", msg);
                if (!event_vcpus(e, &from, &to) || from != expect || to != expect - 1 || !strstr(msg, ", idle ")) {
                        _cleanup_free_ char *m = xstrdup(msg);
                        json_decref(ev);
                        FAIL("event \"%s\": expected \"vcpus %d→%d, ..., idle N s\"", m, expect, expect - 1);
                }
        }
        size_t n_after = json_array_size(ev);
        json_decref(ev);
        check_metrics_vcpus(1);

        /* Still idle, longer than both intervals: the flavor's 1 vCPU stays. */
        int64_t t_hold = mono_ms();
        while (mono_ms() - t_hold < FLOOR_HOLD_MS) {
                sleep_ms(POLL_MS);
                int v = domain_vcpus();
                if (v != 1)
                        FAIL("%d vCPUs while idle at the flavor's 1", v);
        }
        ev = elastic_events();
        if (json_array_size(ev) != n_after) {
                json_decref(ev);
                FAIL("instance.elastic events while idle at the flavor's minimum");
        }
        json_decref(ev);
        printf("  held 1 vCPU (the flavor's) for %.0f s more, min seen %d\n", (double) FLOOR_HOLD_MS / 1000, min_seen);
}

/* Elastic off: saturated with idle CPU on the host, the VM keeps its 1 vCPU and no event. */
static void phase_off(void) {
        patch_instance("{\"elastic\": false}");
        json_t *ev = elastic_events();
        size_t n_before = json_array_size(ev);
        json_decref(ev);

        /* No race with the agent: every sample that shows the new demand is taken after the
         * policy change was stored, and each pass reads the instances after its sample. */
        int64_t t0 = mono_ms();
        CHECK_OK(hv_sim_set_demand(conn, inst_id, 4.0, 0));
        while (mono_ms() - t0 < OFF_HOLD_MS) {
                sleep_ms(POLL_MS);
                int v = domain_vcpus();
                if (v != 1)
                        FAIL("%d vCPUs %lld ms after the load started with elastic off", v,
                             (long long) (mono_ms() - t0));
        }
        ev = elastic_events();
        if (json_array_size(ev) != n_before) {
                json_decref(ev);
                FAIL("instance.elastic events with elastic off");
        }
        json_decref(ev);

        /* Not vacuous: the VM is saturated and the host has idle CPU, which with elastic on
         * adds vCPUs (the grow phase). */
        struct metrics_vm_rates vr;
        struct metrics_host_rates hr;
        CHECK_OK(metrics_vm_rates(metrics, inst_id, &vr));
        CHECK_OK(metrics_host_rates(metrics, HOST_NAME, &hr));
        printf("  1 vCPU for %.0f s with elastic off: VM uses %.2f cores, busiest vCPU %.0f %%, host idle %.2f cores\n",
               (double) OFF_HOLD_MS / 1000, vr.cpu_cores, vr.vcpu_busy_max * 100, hr.cpu_idle_cores);
        CHECK(vr.vcpus == 1 && vr.cpu_cores >= 0.85 && vr.vcpu_busy_max >= 0.85 && hr.cpu_idle_cores >= 0.5);
        CHECK(streq(instance_status(), "running"));
}

/* Placement's bookkeeping for the agent, as tided gives it. */
static const struct agent_placement placement = {
        .instance_delete = sched_store_delete,
        .shared_pools = sched_store_shared_pools,
};

int main(void) {
        int64_t t_start = mono_ms();
        char tmpl[] = "/tmp/tide-agent-elastic-XXXXXX";
        setvbuf(stdout, NULL, _IOLBF, 0);
        sim_test_hooks(dump_state, cleanup);
        log_set_ident("test_agent_elastic");
        if (!mkdtemp(tmpl)) {
                fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
                return 1;
        }
        tmp_dir = xstrdup(tmpl);

        _cleanup_free_ char *store_url = xasprintf("sqlite:%s/store.db", tmp_dir);
        CHECK_OK(store_open(store_url, &store));
        metrics = metrics_new(0);
        CHECK_OK(hv_sim_driver.open(HOST_URI, tmp_dir, &conn));
        struct agent_host_config host = { .name = NULL, .hv = conn };
        struct agent_config cfg = {
                .store = store,
                .hosts = &host,
                .n_hosts = 1,
                .state_dir = tmp_dir,
                .metrics = metrics,
                .placement = &placement,
        };
        CHECK_OK(agent_new(&cfg, &agent));

        sim_test_flavor(store,
                        "{\"name\": \"grow\", \"vcpus\": 1, \"max_vcpus\": 4, \"ram_mib\": 512, \"max_ram_mib\": 1024,"
                        " \"disk_gib\": 1}");
        sim_test_image(store, tmp_dir, "img");
        inst_id = create_instance("{\"name\": \"web\", \"flavor\": \"grow\", \"image\": \"img\"}");
        printf("state %s, instance web %s on %s\n", tmp_dir, inst_id, HOST_URI);

        int64_t t0 = mono_ms();
        while (!streq(instance_status(), "running")) {
                if (mono_ms() - t0 > RUNNING_TIMEOUT_MS)
                        FAIL("the instance is '%s' after %d ms, not running", instance_status(), RUNNING_TIMEOUT_MS);
                sleep_ms(POLL_MS);
        }
        CHECK(domain_vcpus() == 1);
        printf("running after %lld ms with 1 vCPU\n", (long long) (mono_ms() - t0));

        printf("grow: 4 cores of load on 1 vCPU\n");
        int peak = phase_grow();
        printf("shrink: no load on %d vCPUs\n", peak);
        phase_shrink(peak);
        printf("off: elastic off, 4 cores of load on 1 vCPU\n");
        phase_off();

        cleanup();
        printf("PASS in %.1f s\n", (double) (mono_ms() - t_start) / 1000);
        return 0;
}
