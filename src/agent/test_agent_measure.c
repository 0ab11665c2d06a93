/* test_agent_measure.c — the agent publishes its VMs' measurements to the store, in one process
 * with no mocks: a SQLite store, real metrics, a real agent (agent_new, sampling every 200 ms) on
 * one simulated host (hv_sim, sim:///h1) and the real scheduler storing the instances.
 *   publish  two running instances: /tide/measure/h1/<id> for each, with their rates (cpu_cores)
 *            and vCPUs, attached to the host's lease (the lease of /tide/hostlive/h1), fresh;
 *   gone     one instance deleted: its key goes within a few samples, the other's stays. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/hv.h"
#include "agent/test_sim_support.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/util.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched_store.h"
#include "store/store.h"

#define HOST_URI "sim:///h1?cpus=8&numa=1&mem_mib=8192&disk_gib=100"
#define SAMPLE_MS 200
#define TIMEOUT_MS 10000

static char *tmp_dir;
static struct store *store;
static struct metrics *metrics;
static struct hv_conn *conn;
static struct agent *agent;

static const struct agent_placement placement = {
        .instance_delete = sched_store_delete,
        .shared_pools = sched_store_shared_pools,
};

static void sleep_ms(int64_t ms) {
        nanosleep(&(struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L }, NULL);
}

static void cleanup(void) {
        agent_free(TAKE_PTR(agent));
        if (conn)
                hv_conn_driver(conn)->close(TAKE_PTR(conn));
        store_free(TAKE_PTR(store));
        metrics_free(TAKE_PTR(metrics));
        if (tmp_dir)
                (void) rm_rf(tmp_dir);
        free(TAKE_PTR(tmp_dir));
}

static char *create(const char *name) {
        _cleanup_free_ char *text = xasprintf("{\"name\": \"%s\", \"flavor\": \"one\", \"image\": \"img\"}", name);
        json_t *body = sim_test_json(text), *inst = NULL;
        _cleanup_free_ char *err = NULL;
        int r = sched_instance_place_and_store(store, NULL, body, NULL, false, now_ms(), &inst, &err);
        json_decref(body);
        if (r < 0)
                FAIL("instance %s: %s (%s)", name, tide_strerror(r), err ? err : "");
        char *id = xstrdup(tide_json_str(inst, "id", ""));
        json_decref(inst);
        return id;
}

/* Whether the instance's measurement is in the store with rates, fresh, on the host's lease. */
static bool published(const char *id) {
        _cleanup_free_ char *key = model_key_measure("h1", id), *live = model_key_hostlive("h1");
        struct store_kv kv = {}, lkv = {};
        bool ok = false;
        if (store_get(store, key, &kv) >= 0 && store_get(store, live, &lkv) >= 0) {
                json_t *m = json_loadb(kv.value, kv.value_len, 0, NULL);
                ok = m && json_is_number(json_object_get(m, "cpu_cores")) && tide_json_int(m, "vcpus", 0) == 1 &&
                     now_ms() - tide_json_int(m, "t_ms", 0) < 5 * SAMPLE_MS && kv.lease > 0 && kv.lease == lkv.lease;
                json_decref(m);
        }
        store_kv_clear(&kv);
        store_kv_clear(&lkv);
        return ok;
}

static bool absent(const char *id) {
        _cleanup_free_ char *key = model_key_measure("h1", id);
        struct store_kv kv = {};
        int r = store_get(store, key, &kv);
        store_kv_clear(&kv);
        return r == TIDE_E_NOT_FOUND;
}

static void wait_for(bool (*cond)(const char *), const char *id, const char *what) {
        int64_t t0 = mono_ms();
        while (!cond(id)) {
                if (mono_ms() - t0 > TIMEOUT_MS)
                        FAIL("%s: not after %d ms", what, TIMEOUT_MS);
                sleep_ms(50);
        }
}

int main(void) {
        char tmpl[] = "/tmp/tide-agent-measure-XXXXXX";
        setvbuf(stdout, NULL, _IOLBF, 0);
        sim_test_hooks(NULL, cleanup);
        log_set_ident("test_agent_measure");
        if (!mkdtemp(tmpl)) {
                fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
                return 1;
        }
        tmp_dir = xstrdup(tmpl);
        _cleanup_free_ char *url = xasprintf("sqlite:%s/store.db", tmp_dir);
        CHECK_OK(store_open(url, &store));
        metrics = metrics_new(0);
        CHECK_OK(hv_sim_driver.open(HOST_URI, tmp_dir, &conn));
        struct agent_host_config host = { .name = NULL, .hv = conn };
        struct agent_config cfg = { .store = store,
                                    .hosts = &host,
                                    .n_hosts = 1,
                                    .state_dir = tmp_dir,
                                    .metrics = metrics,
                                    .placement = &placement,
                                    .sample_ms = SAMPLE_MS };
        CHECK_OK(agent_new(&cfg, &agent));
        sim_test_flavor(store, "{\"name\": \"one\", \"vcpus\": 1, \"ram_mib\": 256, \"disk_gib\": 1}");
        sim_test_image(store, tmp_dir, "img");
        _cleanup_free_ char *a = create("a"), *b = create("b");
        wait_for(published, a, "a's measurement");
        wait_for(published, b, "b's measurement");
        printf("publish: both measured, on the host's lease\n");

        CHECK_OK(model_obj_modify(store, MODEL_INSTANCE, b, model_instance_mark_deleting, NULL, NULL));
        wait_for(absent, b, "b's measurement gone");
        CHECK(published(a));
        printf("gone: b's measurement deleted, a's kept\n");
        cleanup();
        printf("1 passed, 0 failed\n");
        return 0;
}
