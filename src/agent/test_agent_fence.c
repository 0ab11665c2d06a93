/* test_agent_fence.c — the agent refuses work from a superseded leader, in one process with no
 * mocks: a SQLite store, a real agent (agent_new) on one simulated host (hv_sim, sim:///h1), the
 * real scheduler storing the instances.
 *
 * Three instances carry a leader's stamp (MODEL_LEADER_REV), as the autoscaler writes them:
 *   early   stamped by the leader of an old election and written before the current leader's
 *           election: that leader led when it wrote it, so the agent runs it;
 *   current stamped by the current leader: runs;
 *   stale   stamped by the old election's leader but written after the current election (what a
 *           superseded leader's write would be, were its store fence bypassed): the agent does
 *           not start it, and says so once in an instance.refused event.
 * Then the current leader writes the stale one's record again (its stamp): the agent runs it. */
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
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched_store.h"
#include "store/store.h"

#define HOST_URI "sim:///h1?cpus=8&numa=1&mem_mib=8192&disk_gib=100"
#define RUNNING_TIMEOUT_MS 10000
#define REFUSED_HOLD_MS 3000 /* three agent passes */

static char *tmp_dir;
static struct store *store;
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
        if (tmp_dir)
                (void) rm_rf(tmp_dir);
        free(TAKE_PTR(tmp_dir));
}

/* Stores an instance as the autoscaler would with leader_rev as its stamp; returns its id. */
static char *create_stamped(const char *name, int64_t leader_rev) {
        _cleanup_free_ char *text = xasprintf("{\"name\": \"%s\", \"flavor\": \"one\", \"image\": \"img\"}", name);
        json_t *body = sim_test_json(text), *inst = NULL;
        json_t *extra = json_pack("{s:I}", MODEL_LEADER_REV, (json_int_t) leader_rev);
        _cleanup_free_ char *err = NULL;
        int r = sched_instance_place_and_store(store, NULL, body, extra, false, now_ms(), &inst, &err);
        json_decref(body);
        json_decref(extra);
        if (r < 0)
                FAIL("instance %s: %s (%s)", name, tide_strerror(r), err ? err : "");
        char *id = xstrdup(tide_json_str(inst, "id", ""));
        json_decref(inst);
        return id;
}

static bool domain_running(const char *id) {
        struct hv_domain_info di = {};
        bool running = hv_conn_driver(conn)->domain_info(conn, id, &di) >= 0 && di.state == HV_STATE_RUNNING;
        hv_domain_info_clear(&di);
        return running;
}

static size_t count_events(const char *id, const char *type) {
        json_t *events = NULL;
        size_t n = 0, i;
        json_t *e;
        CHECK_OK(model_event_list(store, id, 1000, &events));
        json_array_foreach(events, i, e)
                n += streq(tide_json_str(e, "type", ""), type);
        json_decref(events);
        return n;
}

static void wait_running(const char *id) {
        int64_t t0 = mono_ms();
        while (!domain_running(id)) {
                if (mono_ms() - t0 > RUNNING_TIMEOUT_MS)
                        FAIL("instance %s not running after %d ms", id, RUNNING_TIMEOUT_MS);
                sleep_ms(50);
        }
}

struct stamp {
        int64_t rev;
};

static int restamp(json_t *inst, void *userdata) {
        json_object_set_new(inst, MODEL_LEADER_REV, json_integer(((struct stamp *) userdata)->rev));
        return MODEL_CHANGE_WRITE;
}

int main(void) {
        char tmpl[] = "/tmp/tide-agent-fence-XXXXXX";
        setvbuf(stdout, NULL, _IOLBF, 0);
        sim_test_hooks(NULL, cleanup);
        log_set_ident("test_agent_fence");
        if (!mkdtemp(tmpl)) {
                fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
                return 1;
        }
        tmp_dir = xstrdup(tmpl);
        _cleanup_free_ char *url = xasprintf("sqlite:%s/store.db", tmp_dir);
        CHECK_OK(store_open(url, &store));
        CHECK_OK(hv_sim_driver.open(HOST_URI, tmp_dir, &conn));
        sim_test_flavor(store, "{\"name\": \"one\", \"vcpus\": 1, \"ram_mib\": 256, \"disk_gib\": 1}");
        sim_test_image(store, tmp_dir, "img");

        struct agent_host_config host = { .name = NULL, .hv = conn };
        struct agent_config cfg = {
                .store = store, .hosts = &host, .n_hosts = 1, .state_dir = tmp_dir, .placement = &placement
        };
        CHECK_OK(agent_new(&cfg, &agent));

        /* An old election, its leader's early write, then the current election. */
        int64_t old_rev, cur_rev, lease;
        CHECK_OK(store_put(store, "/tide/test/old-election", "1", 0, &old_rev));
        _cleanup_free_ char *early = create_stamped("early", old_rev);
        CHECK_OK(store_lease_grant(store, 60, &lease));
        CHECK_OK(store_create(store, MODEL_KEY_LEADER, "{\"host\": \"h0\"}", lease, &cur_rev));
        _cleanup_free_ char *current = create_stamped("current", cur_rev);
        _cleanup_free_ char *stale = create_stamped("stale", old_rev);

        wait_running(early);
        wait_running(current);
        sleep_ms(REFUSED_HOLD_MS);
        CHECK(!domain_running(stale));
        CHECK(count_events(stale, "instance.refused") == 1);
        printf("stale write refused: one instance.refused event, not started in %d ms\n", REFUSED_HOLD_MS);

        /* The current leader takes it over: the agent acts. */
        struct stamp st = { .rev = cur_rev };
        CHECK_OK(model_obj_modify(store, MODEL_INSTANCE, stale, restamp, &st, NULL));
        wait_running(stale);
        printf("restamped by the current leader: running\n");
        cleanup();
        printf("1 passed, 0 failed\n");
        return 0;
}
