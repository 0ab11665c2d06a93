/* test_agent_migrate.c — live migration's protocol between agents, in one process, with no
 * mocks: a SQLite store in a temporary directory, a real agent running two simulated hosts
 * (hv_sim: sim:///h1 and sim:///h2), placement's bookkeeping (sched_migrate.c) as tided wires it.
 *
 *   move      web (on h1) migrates without a target: placement picks h2; the store then names h2
 *             its host, h1's claim is gone, the domain runs on h2 and not on h1; events
 *             instance.migrating and instance.migrated; tide's overhead is recorded;
 *   cancel    back to h1 at 50 MiB/s: cancelled while the hypervisor moves it; it stays on h2,
 *             h1's claim is given back;
 *   failure   the move fails half-way (the target lost, injected): same outcome, with the reason;
 *   restart   the source's agent is stopped with a migration recorded as running: started again,
 *             it ends it as failed when the domain is still on the source, and as a success when
 *             the move completed while it was down.
 * On a failed check: prints what failed and the instance's events, cleans up and exits 1. */
#include <errno.h>
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
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched_migrate.h"
#include "sched/sched_store.h"
#include "store/store.h"

#define H1 "sim:///h1?cpus=8&numa=1&mem_mib=16384&disk_gib=100"
#define H2 "sim:///h2?cpus=8&numa=1&mem_mib=16384&disk_gib=100"
#define POLL_MS 20
#define WAIT_MS 15000
#define EVENTS_MAX 1000

static char *tmp_dir;
static struct store *store;
static struct hv_conn *h1, *h2;
static struct agent *agent;
static char *inst_id;

static const struct agent_placement placement = {
        .instance_delete = sched_store_delete,
        .shared_pools = sched_store_shared_pools,
        .migrate_finish = sched_migrate_finish,
};

static void sleep_ms(int64_t ms) {
        nanosleep(&(struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L }, NULL);
}

static void cleanup(void) {
        agent_free(TAKE_PTR(agent));
        if (h1)
                hv_sim_driver.close(TAKE_PTR(h1));
        if (h2)
                hv_sim_driver.close(TAKE_PTR(h2));
        store_free(TAKE_PTR(store));
        if (tmp_dir && rm_rf(tmp_dir) < 0)
                fprintf(stderr, "could not remove %s\n", tmp_dir);
        free(TAKE_PTR(tmp_dir));
        free(TAKE_PTR(inst_id));
}

static void dump_state(void) {
        json_t *events, *inst;
        if (store && inst_id && model_event_list(store, inst_id, EVENTS_MAX, &events) >= 0) {
                fprintf(stderr, "events of the instance:\n");
                size_t i;
                json_t *e;
                json_array_foreach(events, i, e)
                        fprintf(stderr, "  %-30s %s\n", tide_json_str(e, "type", ""), tide_json_str(e, "message", ""));
                json_decref(events);
        }
        if (store && inst_id && model_obj_get(store, MODEL_INSTANCE, inst_id, &inst, NULL) >= 0) {
                _cleanup_free_ char *text = tide_json_dump(inst);
                fprintf(stderr, "record: %s\n", text);
                json_decref(inst);
        }
}

static void agent_start(void) {
        struct agent_host_config hosts[] = { { .hv = h1 }, { .hv = h2 } };
        struct agent_config cfg = {
                .store = store,
                .hosts = hosts,
                .n_hosts = 2,
                .state_dir = tmp_dir,
                .placement = &placement,
        };
        CHECK_OK(agent_new(&cfg, &agent));
}

static json_t *record(void) {
        json_t *inst;
        CHECK_OK(model_obj_get(store, MODEL_INSTANCE, inst_id, &inst, NULL));
        return inst;
}

static enum hv_state state_on(struct hv_conn *c) {
        struct hv_domain_info di = {};
        int r = hv_sim_driver.domain_info(c, inst_id, &di);
        if (r == TIDE_E_NOT_FOUND)
                return HV_STATE_NOSTATE;
        CHECK_OK(r);
        enum hv_state s = di.state;
        hv_domain_info_clear(&di);
        return s;
}

/* vCPUs booked on host in its allocation. */
static int64_t alloc_vcpus(const char *host) {
        _cleanup_free_ char *key = model_key_alloc(host);
        _cleanup_json_ json_t *a = NULL;
        int64_t rev;
        CHECK_OK(model_json_get(store, key, &a, &rev));
        return tide_json_int(a, "vcpus", 0);
}

/* Waits until the record's last_migration says state (and no migration is left); returns it. */
static json_t *wait_ended(const char *state, int64_t after_ms) {
        int64_t t0 = mono_ms();
        for (;;) {
                json_t *inst = record();
                json_t *last = json_object_get(inst, "last_migration");
                if (!json_object_get(inst, "migration") && tide_json_int(last, "t_done_ms", 0) > after_ms) {
                        if (!streq(tide_json_str(last, "state", ""), state))
                                FAIL("the migration ended '%s' (%s), not '%s'", tide_json_str(last, "state", ""),
                                     tide_json_str(last, "error", ""), state);
                        return inst;
                }
                json_decref(inst);
                if (mono_ms() - t0 > WAIT_MS)
                        FAIL("the migration did not end '%s' within %d ms", state, WAIT_MS);
                sleep_ms(POLL_MS);
        }
}

static void wait_state(const char *state) {
        int64_t t0 = mono_ms();
        for (;;) {
                _cleanup_json_ json_t *inst = record();
                if (streq(tide_json_str(json_object_get(inst, "migration"), "state", ""), state))
                        return;
                if (mono_ms() - t0 > WAIT_MS)
                        FAIL("the migration is not '%s' within %d ms", state, WAIT_MS);
                sleep_ms(POLL_MS);
        }
}

/* Whether an event of that type came at or after after_ms; waits for it a while, as the agent
 * writes it just after it ends the migration in the store. */
static bool has_event(const char *type, int64_t after_ms) {
        _cleanup_free_ char *after = time_format_ms(after_ms);
        int64_t t0 = mono_ms();
        do {
                _cleanup_json_ json_t *events = NULL;
                CHECK_OK(model_event_list(store, inst_id, EVENTS_MAX, &events));
                size_t i;
                json_t *e;
                json_array_foreach(events, i, e)
                        if (streq(tide_json_str(e, "type", ""), type) &&
                            strcmp(tide_json_str(e, "time", ""), after) >= 0)
                                return true;
                sleep_ms(POLL_MS);
        } while (mono_ms() - t0 < WAIT_MS);
        return false;
}

static void begin(const char *to) {
        struct sched_migrate_request req = { .to = to, .t_request_ms = now_ms() };
        _cleanup_free_ char *err = NULL;
        int r = sched_migrate_begin(store, inst_id, &req, NULL, &err);
        if (r < 0)
                FAIL("migrate: %s (%s)", tide_strerror(r), err ? err : "");
}

static void phase_move(void) {
        int64_t t0 = now_ms();
        begin(NULL);
        _cleanup_json_ json_t *inst = wait_ended("succeeded", t0);
        json_t *last = json_object_get(inst, "last_migration");
        CHECK(streq(tide_json_str(inst, "host", ""), "h2"));
        CHECK(state_on(h2) == HV_STATE_RUNNING);
        CHECK(state_on(h1) == HV_STATE_NOSTATE);
        CHECK(alloc_vcpus("h1") == 0);
        CHECK(alloc_vcpus("h2") == 1);
        CHECK(tide_json_int(last, "downtime_ms", -1) >= 0);
        CHECK(json_is_integer(json_object_get(last, "overhead_ms")));
        CHECK(has_event("instance.migrating", t0) && has_event("instance.migrated", t0));
        printf("move: h1 -> h2 in %lld ms, tide's overhead %lld ms, downtime %lld ms\n",
               (long long) tide_json_int(last, "total_ms", 0), (long long) tide_json_int(last, "overhead_ms", 0),
               (long long) tide_json_int(last, "downtime_ms", 0));
}

static void phase_cancel(void) {
        CHECK_OK(hv_sim_set_migration(h2, 50, -1)); /* 256 MiB: 5 s */
        int64_t t0 = now_ms();
        begin("h1");
        wait_state("migrating");
        CHECK(alloc_vcpus("h1") == 1);
        _cleanup_free_ char *err = NULL;
        CHECK_OK(sched_migrate_cancel(store, inst_id, NULL, &err));
        _cleanup_json_ json_t *inst = wait_ended("cancelled", t0);
        CHECK(streq(tide_json_str(inst, "host", ""), "h2"));
        CHECK(state_on(h2) == HV_STATE_RUNNING);
        CHECK(state_on(h1) == HV_STATE_NOSTATE);
        CHECK(alloc_vcpus("h1") == 0);
        CHECK(alloc_vcpus("h2") == 1);
        CHECK(has_event("instance.migration_cancelled", t0));
        printf("cancel: stays on h2 after %lld ms\n", (long long) (now_ms() - t0));
}

static void phase_failure(void) {
        CHECK_OK(hv_sim_set_migration(h2, 1024, 50));
        int64_t t0 = now_ms();
        begin("h1");
        _cleanup_json_ json_t *inst = wait_ended("failed", t0);
        CHECK(strstr(tide_json_str(json_object_get(inst, "last_migration"), "error", ""), "target lost"));
        CHECK(streq(tide_json_str(inst, "host", ""), "h2"));
        CHECK(state_on(h2) == HV_STATE_RUNNING);
        CHECK(state_on(h1) == HV_STATE_NOSTATE);
        CHECK(alloc_vcpus("h1") == 0);
        CHECK(has_event("instance.migration_failed", t0));
        CHECK_OK(hv_sim_set_migration(h2, 1024, -1));
        printf("failure: stays on h2 (%s)\n", tide_json_str(json_object_get(inst, "last_migration"), "error", ""));
}

static int set_migrating(json_t *inst, void *userdata) {
        json_object_set_new(json_object_get(inst, "migration"), "state", json_string("migrating"));
        return MODEL_CHANGE_WRITE;
}

/* The agent stops with a migration recorded as running; moved says whether the domain moved
 * meanwhile (the hypervisors finished the job while the agent was away). */
static void phase_restart(bool moved) {
        agent_free(TAKE_PTR(agent));
        int64_t t0 = now_ms();
        begin("h1");
        CHECK(model_obj_modify(store, MODEL_INSTANCE, inst_id, set_migrating, NULL, NULL) >= 0);
        if (moved) {
                struct hv_migrate_params p = { .target_uri = H1, .poll_ms = 10 };
                CHECK_OK(hv_sim_driver.migrate(h2, inst_id, &p, NULL, NULL, NULL));
        }
        agent_start();
        _cleanup_json_ json_t *inst = wait_ended(moved ? "succeeded" : "failed", t0);
        const char *host = moved ? "h1" : "h2", *other = moved ? "h2" : "h1";
        CHECK(streq(tide_json_str(inst, "host", ""), host));
        CHECK(state_on(moved ? h1 : h2) == HV_STATE_RUNNING);
        CHECK(state_on(moved ? h2 : h1) == HV_STATE_NOSTATE);
        CHECK(alloc_vcpus(host) == 1);
        CHECK(alloc_vcpus(other) == 0);
        CHECK(strstr(tide_json_str(json_object_get(inst, "last_migration"), moved ? "note" : "error", ""),
                     moved ? "completed while" : "interrupted"));
        printf("restart (%s): on %s, %s\n", moved ? "moved meanwhile" : "not moved", host,
               tide_json_str(json_object_get(inst, "last_migration"), moved ? "note" : "error", ""));
}

int main(void) {
        char tmpl[] = "/tmp/tide-agent-migrate-XXXXXX";
        setvbuf(stdout, NULL, _IOLBF, 0);
        sim_test_hooks(dump_state, cleanup);
        log_set_ident("test_agent_migrate");
        if (!mkdtemp(tmpl)) {
                fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
                return 1;
        }
        tmp_dir = xstrdup(tmpl);
        _cleanup_free_ char *store_url = xasprintf("sqlite:%s/store.db", tmp_dir);
        CHECK_OK(store_open(store_url, &store));
        CHECK_OK(hv_sim_driver.open(H1, tmp_dir, &h1));
        CHECK_OK(hv_sim_driver.open(H2, tmp_dir, &h2));
        agent_start();
        sim_test_flavor(store, "{\"name\": \"tiny\", \"vcpus\": 1, \"ram_mib\": 256, \"disk_gib\": 1}");
        sim_test_image(store, tmp_dir, "img");
        json_t *body = sim_test_json("{\"name\": \"web\", \"flavor\": \"tiny\", \"image\": \"img\", \"hints\": "
                                     "[\"host=h1\"]}"),
               *inst = NULL;
        _cleanup_free_ char *err = NULL;
        CHECK_OK(sched_instance_place_and_store(store, NULL, body, NULL, false, now_ms(), &inst, &err));
        inst_id = xstrdup(tide_json_str(inst, "id", ""));
        json_decref(body);
        json_decref(inst);
        int64_t t0 = mono_ms();
        for (;;) {
                _cleanup_json_ json_t *r = record();
                if (streq(tide_json_str(r, "status", ""), "running"))
                        break;
                if (mono_ms() - t0 > WAIT_MS)
                        FAIL("the instance is not running within %d ms", WAIT_MS);
                sleep_ms(POLL_MS);
        }
        phase_move();
        phase_cancel();
        phase_failure();
        phase_restart(false);
        phase_restart(true);
        cleanup();
        printf("PASS\n");
        return 0;
}
