/* Unit tests of the placement cache (sched_cache.h) on a real SQLite store: it follows every
 * record placement reads (host records, liveness and lease expiry, operator settings,
 * allocations, the placement config), recovers from a compacted history, decides as a fresh
 * snapshot does, and creators never overbook a host, whether each has its own store handle and
 * cache (other tideds) or threads share one (tided's API and autoscaler; run it under TSan). A
 * claim in flight is seen by later decisions, kept through the host's other changes, yields to
 * another writer's allocation, is taken out when its commit fails, and a decision that chooses
 * its host waits for it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched_cache.h"
#include "store/store_backend.h"

struct fixture {
        char *dir, *url;
        struct store *s;
        struct sched_cache *c;
};

static int setup(void **state) {
        struct fixture *f = xcalloc(1, sizeof *f);
        const char *tmp = getenv("TMPDIR");
        f->dir = xasprintf("%s/tide-test-sched-cache-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        f->url = xasprintf("sqlite:%s/store.db", f->dir);
        assert_int_equal(store_open(f->url, &f->s), 0);
        assert_int_equal(sched_cache_new(f->s, &f->c), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        sched_cache_free(f->c);
        store_free(f->s);
        (void) rm_rf(f->dir);
        free(f->dir);
        free(f->url);
        free(f);
        return 0;
}

static void put(struct store *s, const char *key, const char *value, int64_t lease, int64_t *ret_rev) {
        int r = store_put(s, key, value, lease, ret_rev);
        if (r < 0)
                fail_msg("put %s: %s", key, tide_strerror(r));
}

static void del(struct store *s, const char *key) {
        int r = store_delete(s, key, NULL);
        if (r < 0)
                fail_msg("delete %s: %s", key, tide_strerror(r));
}

/* A host record as the agent registers it. */
static void put_host(struct store *s, const char *name, int cpus, int64_t mem_mib, int nodes, int64_t hugepages_mib) {
        json_t *numa = json_array();
        for (int k = 0; k < nodes; k++) {
                _cleanup_free_ char *list = xasprintf("%d-%d", k * cpus / nodes, (k + 1) * cpus / nodes - 1);
                json_array_append_new(numa, json_pack("{s:i, s:s, s:I, s:I}", "id", k, "cpus", list, "mem_mib",
                                                      (json_int_t) (mem_mib / nodes), "hugepages_mib",
                                                      (json_int_t) hugepages_mib));
        }
        json_t *rec = json_pack("{s:s, s:i, s:I, s:i, s:s, s:o}", "name", name, "cpus", cpus, "mem_mib",
                                (json_int_t) mem_mib, "disk_gib", 1000, "hypervisor", "sim", "numa", numa);
        _cleanup_free_ char *key = xasprintf(MODEL_KEY_HOSTS "%s", name), *value = tide_json_dump(rec);
        put(s, key, value, 0, NULL);
        json_decref(rec);
}

static void put_part(struct store *s, const char *prefix, const char *name, const char *value, int64_t lease,
                     int64_t *ret_rev) {
        _cleanup_free_ char *key = xasprintf("%s%s", prefix, name);
        put(s, key, value, lease, ret_rev);
}

static void del_part(struct store *s, const char *prefix, const char *name) {
        _cleanup_free_ char *key = xasprintf("%s%s", prefix, name);
        del(s, key);
}

/* The cache's view equals a fresh read: the same hosts, merged the same, with the same
 * allocation revisions and derived usage, and the same config. */
static void assert_view_fresh(struct fixture *f) {
        struct sched_snapshot fresh = {}, *view;
        assert_int_equal(sched_snapshot_read(f->s, &fresh), 0);
        assert_int_equal(sched_cache_acquire(f->c, &view), 0);
        assert_int_equal(view->n, fresh.n);
        for (size_t i = 0; i < fresh.n; i++) {
                int j = sched_snapshot_find(view, fresh.hosts[i].name);
                if (j < 0)
                        fail_msg("host %s is not in the cache", fresh.hosts[i].name);
                const struct sched_host *a = &fresh.hosts[i], *b = &view->hosts[j];
                if (!json_equal(fresh.host_json[i], view->host_json[j])) {
                        _cleanup_free_ char *x = tide_json_dump(fresh.host_json[i]),
                                            *y = tide_json_dump(view->host_json[j]);
                        fail_msg("host %s: fresh %s, cached %s", a->name, x, y);
                }
                assert_int_equal(fresh.alloc_rev[i], view->alloc_rev[j]);
                assert_int_equal(fresh.basis[i].record_rev, view->basis[j].record_rev);
                assert_int_equal(fresh.basis[i].conf_rev, view->basis[j].conf_rev);
                assert_int_equal(fresh.basis[i].live_create_rev, view->basis[j].live_create_rev);
                assert_int_equal(a->up, b->up);
                assert_int_equal(a->draining, b->draining);
                assert_int_equal(a->used_vcpus, b->used_vcpus);
                assert_int_equal(a->used_ram_mib, b->used_ram_mib);
                assert_int_equal(a->instances, b->instances);
                assert_true(a->load == b->load);
                assert_int_equal(a->n_labels, b->n_labels);
                assert_memory_equal(&a->pinned, &b->pinned, sizeof a->pinned);
        }
        assert_int_equal(fresh.config_rev, view->config_rev);
        assert_true(fresh.cfg.cpu_ratio == view->cfg.cpu_ratio);
        assert_true(fresh.cfg.ram_ratio == view->cfg.ram_ratio);
        assert_int_equal(fresh.cfg.mode, view->cfg.mode);
        assert_int_equal(fresh.cfg.reserved_cpus, view->cfg.reserved_cpus);
        sched_cache_release(f->c);
        sched_snapshot_clear(&fresh);
}

/* The cache's view (caught up, held: release it) and its host named name, or NULL. */
static const struct sched_host *cached_host(struct fixture *f, const char *name, struct sched_snapshot **ret_view) {
        assert_int_equal(sched_cache_acquire(f->c, ret_view), 0);
        int i = sched_snapshot_find(*ret_view, name);
        return i >= 0 ? &(*ret_view)->hosts[i] : NULL;
}

static void test_follows_host_records(void **state) {
        struct fixture *f = *state;
        struct sched_snapshot *v;
        assert_view_fresh(f);
        put_host(f->s, "a", 8, 16384, 1, 0);
        put_host(f->s, "b", 16, 32768, 2, 0);
        assert_view_fresh(f);
        assert_non_null(cached_host(f, "a", &v));
        assert_int_equal(v->n, 2);
        sched_cache_release(f->c);
        put_host(f->s, "a", 12, 16384, 1, 0); /* re-registered with more CPUs */
        const struct sched_host *h = cached_host(f, "a", &v);
        assert_non_null(h);
        assert_int_equal(h->cpus, 12);
        sched_cache_release(f->c);
        del_part(f->s, MODEL_KEY_HOSTS, "a");
        assert_null(cached_host(f, "a", &v));
        assert_int_equal(v->n, 1);
        sched_cache_release(f->c);
        /* Not a host: a record under another host's key, and a record that is not JSON. */
        put_part(f->s, MODEL_KEY_HOSTS, "c", "{\"name\":\"b\",\"cpus\":4,\"mem_mib\":1024}", 0, NULL);
        put_part(f->s, MODEL_KEY_HOSTS, "d", "not json", 0, NULL);
        assert_view_fresh(f);
        assert_null(cached_host(f, "c", &v));
        sched_cache_release(f->c);
        assert_int_equal(sched_cache_reads(f->c), 1); /* all of it from the watches */
}

static void test_follows_liveness_and_lease_expiry(void **state) {
        struct fixture *f = *state;
        struct sched_snapshot *v;
        int64_t lease;
        put_host(f->s, "a", 8, 16384, 1, 0);
        const struct sched_host *h = cached_host(f, "a", &v);
        assert_false(h->up);
        sched_cache_release(f->c);
        assert_int_equal(store_lease_grant(f->s, 1, &lease), 0);
        put_part(f->s, "/tide/hostlive/", "a", "up", lease, NULL);
        h = cached_host(f, "a", &v);
        assert_true(h->up);
        assert_true(h->load < 0);
        sched_cache_release(f->c);
        put_part(f->s, "/tide/hostlive/", "a", "{\"load\":0.25}", lease, NULL);
        h = cached_host(f, "a", &v);
        assert_true(h->up);
        assert_true(h->load == 0.25);
        sched_cache_release(f->c);
        assert_view_fresh(f);
        /* The agent stops renewing: its lease expires and its host is down. */
        usleep(1300 * 1000);
        h = cached_host(f, "a", &v);
        assert_false(h->up);
        sched_cache_release(f->c);
        assert_view_fresh(f);
        assert_int_equal(sched_cache_reads(f->c), 1);
}

static void test_follows_hostconf(void **state) {
        struct fixture *f = *state;
        struct sched_snapshot *v;
        put_host(f->s, "a", 8, 16384, 1, 0);
        put_part(f->s, MODEL_KEY_HOSTCONF, "a", "{\"draining\":true,\"cpu_ratio\":3,\"labels\":{\"zone\":\"z1\"}}", 0,
                 NULL);
        const struct sched_host *h = cached_host(f, "a", &v);
        assert_true(h->draining);
        assert_true(h->cpu_ratio == 3);
        assert_int_equal(h->n_labels, 1);
        assert_string_equal(h->labels[0].value, "z1");
        sched_cache_release(f->c);
        assert_view_fresh(f);
        del_part(f->s, MODEL_KEY_HOSTCONF, "a");
        h = cached_host(f, "a", &v);
        assert_false(h->draining);
        assert_int_equal(h->n_labels, 0);
        sched_cache_release(f->c);
        /* Settings that make the host invalid take it out; fixing them brings it back. */
        put_part(f->s, MODEL_KEY_HOSTCONF, "a", "{\"cpu_ratio\":\"lots\"}", 0, NULL);
        assert_null(cached_host(f, "a", &v));
        sched_cache_release(f->c);
        put_part(f->s, MODEL_KEY_HOSTCONF, "a", "{\"cpu_ratio\":1.5}", 0, NULL);
        assert_non_null(cached_host(f, "a", &v));
        sched_cache_release(f->c);
        assert_view_fresh(f);
}

static void test_follows_alloc(void **state) {
        struct fixture *f = *state;
        struct sched_snapshot *v;
        int64_t rev;
        put_host(f->s, "a", 8, 16384, 2, 0);
        const struct sched_host *h = cached_host(f, "a", &v);
        assert_int_equal(v->alloc_rev[0], 0);
        assert_int_equal(h->used_vcpus, 0);
        sched_cache_release(f->c);
        put_part(
                f->s, MODEL_KEY_ALLOC, "a",
                "{\"vcpus\":3,\"ram_mib\":700,\"disk_gib\":3,\"pinned\":\"0-1\",\"instances\":3,"
                "\"numa\":[{\"bound_ram_mib\":300,\"hugepages_used_mib\":0},{\"bound_ram_mib\":0,\"hugepages_used_mib\":0}]}",
                0, &rev);
        h = cached_host(f, "a", &v);
        assert_int_equal(v->alloc_rev[sched_snapshot_find(v, "a")], rev);
        assert_int_equal(h->used_vcpus, 3);
        assert_int_equal(h->instances, 3);
        assert_true(cpuset_has(&h->pinned, 1));
        assert_int_equal(h->numa[0].bound_ram_mib, 300);
        sched_cache_release(f->c);
        assert_view_fresh(f);
        del_part(f->s, MODEL_KEY_ALLOC, "a");
        h = cached_host(f, "a", &v);
        assert_int_equal(v->alloc_rev[0], 0);
        assert_int_equal(h->used_vcpus, 0);
        sched_cache_release(f->c);
        assert_view_fresh(f);
}

static void test_follows_config(void **state) {
        struct fixture *f = *state;
        struct sched_snapshot *v;
        put_host(f->s, "a", 8, 16384, 1, 0);
        put(f->s, MODEL_KEY_PLACEMENT_CONFIG, "{\"mode\":\"pack\",\"cpu_ratio\":4,\"reserved_cpus\":1}", 0, NULL);
        assert_int_equal(sched_cache_acquire(f->c, &v), 0);
        assert_int_equal(v->cfg.mode, SCHED_PACK);
        assert_true(v->cfg.cpu_ratio == 4);
        assert_int_equal(v->cfg.reserved_cpus, 1);
        sched_cache_release(f->c);
        assert_view_fresh(f);
        /* A config placement cannot read fails placements, as a fresh read does. */
        put(f->s, MODEL_KEY_PLACEMENT_CONFIG, "{\"mode\":\"sideways\"}", 0, NULL);
        struct sched_snapshot fresh;
        assert_int_equal(sched_snapshot_read(f->s, &fresh), TIDE_E_INVALID);
        assert_int_equal(sched_cache_acquire(f->c, &v), TIDE_E_INVALID);
        del(f->s, MODEL_KEY_PLACEMENT_CONFIG);
        assert_int_equal(sched_cache_acquire(f->c, &v), 0);
        assert_int_equal(v->cfg.mode, SCHED_SPREAD);
        assert_true(v->cfg.cpu_ratio == 2.0);
        sched_cache_release(f->c);
        assert_view_fresh(f);
}

static void test_recovers_from_compaction(void **state) {
        struct fixture *f = *state;
        struct sched_snapshot *v;
        store_sqlite_set_history_keep(f->s, 5);
        put_host(f->s, "a", 8, 16384, 1, 0);
        put_host(f->s, "b", 8, 16384, 1, 0);
        assert_view_fresh(f);
        assert_int_equal(sched_cache_reads(f->c), 1);
        /* Thirty revisions go by while the cache is not looking: its history is gone. */
        for (int i = 0; i < 30; i++) {
                _cleanup_free_ char *used = xasprintf("{\"vcpus\":%d,\"ram_mib\":0,\"disk_gib\":0,\"instances\":%d}", i,
                                                      i);
                put_part(f->s, MODEL_KEY_ALLOC, i % 2 ? "a" : "b", used, 0, NULL);
        }
        del_part(f->s, MODEL_KEY_HOSTS, "b");
        put_host(f->s, "c", 4, 8192, 1, 0);
        struct store_watch *w;
        assert_int_equal(store_watch_new(f->s, "", 1, &w), TIDE_E_COMPACTED); /* the premise */
        assert_view_fresh(f);
        assert_int_equal(sched_cache_reads(f->c), 2);
        const struct sched_host *h = cached_host(f, "a", &v);
        assert_int_equal(h->used_vcpus, 29);
        assert_int_equal(sched_snapshot_find(v, "b"), -1);
        assert_true(sched_snapshot_find(v, "c") >= 0);
        sched_cache_release(f->c);
        /* And it follows changes again from the watches of its new read. */
        put_part(f->s, MODEL_KEY_ALLOC, "c", "{\"vcpus\":2}", 0, NULL);
        h = cached_host(f, "c", &v);
        assert_int_equal(h->used_vcpus, 2);
        sched_cache_release(f->c);
        assert_int_equal(sched_cache_reads(f->c), 2);
}

/* A holder's own claim is recorded without reading it back; a change another tided committed
 * meanwhile is still read. */
static void test_claimed_keeps_others_changes(void **state) {
        struct fixture *f = *state;
        struct store *other;
        struct sched_snapshot *v;
        int64_t rev;
        bool ok = false;
        put_host(f->s, "a", 8, 16384, 1, 0);
        put_host(f->s, "b", 8, 16384, 1, 0);
        assert_int_equal(store_open(f->url, &other), 0);
        assert_int_equal(sched_cache_acquire(f->c, &v), 0);
        int ia = sched_snapshot_find(v, "a");
        put_part(other, MODEL_KEY_ALLOC, "b", "{\"vcpus\":5,\"instances\":5}", 0, NULL);
        /* The holder's claim on a, committed as sched_store_create commits it. */
        struct sched_host *h = xmalloc(sizeof *h);
        *h = v->hosts[ia];
        struct sched_request req = { .vcpus = 1, .ram_mib = 512 };
        struct sched_decision d = { .host = ia, .numa_node = -1 };
        sched_claim(h, &req, &d);
        json_t *used = sched_host_usage_to_json(h);
        _cleanup_free_ char *value = tide_json_dump(used);
        struct store_cmp cmp = {
                .key = "/tide/alloc/a", .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = v->alloc_rev[ia]
        };
        struct store_op op = { .type = STORE_OP_PUT, .key = "/tide/alloc/a", .value = value };
        struct store_txn txn = { .cmps = &cmp, .n_cmps = 1, .success = &op, .n_success = 1 };
        assert_int_equal(store_txn(f->s, &txn, &ok, &rev), 0);
        assert_true(ok);
        sched_cache_claimed(f->c, (size_t) ia, h, used, rev);
        sched_cache_release(f->c);
        json_decref(used);
        free(h);
        assert_view_fresh(f);
        const struct sched_host *b = cached_host(f, "b", &v);
        assert_int_equal(b->used_vcpus, 5);
        sched_cache_release(f->c);
        store_free(other);
}

/* ---- claims in flight ---- */

/* A claim of vcpus on host name booked in flight as sched_store_create books it; *ret_base
 * gets the allocation revision it was decided on, *ret_used the usage it will commit. */
static struct sched_cache_claim *begin_claim(struct fixture *f, const char *name, int vcpus, int64_t *ret_base,
                                             json_t **ret_used) {
        struct sched_snapshot *v;
        struct sched_cache_claim *k;
        assert_int_equal(sched_cache_acquire_to_claim(f->c, false, &v), 0);
        int i = sched_snapshot_find(v, name);
        assert_true(i >= 0);
        assert_false(sched_cache_in_flight(f->c, (size_t) i));
        struct sched_request req = { .vcpus = vcpus, .ram_mib = 512 };
        struct sched_decision d = { .host = i, .numa_node = -1 };
        *ret_base = v->alloc_rev[i];
        sched_cache_claim_begin(f->c, (size_t) i, &req, &d, &k);
        *ret_used = sched_host_usage_to_json(&v->hosts[i]);
        sched_cache_release(f->c);
        return k;
}

/* Commits a claim's usage as sched_store_create does (comparing the allocation revision);
 * returns whether the compare held and *ret_rev the revision. */
static bool commit_claim(struct fixture *f, const char *name, int64_t base, json_t *used, int64_t *ret_rev) {
        _cleanup_free_ char *key = xasprintf(MODEL_KEY_ALLOC "%s", name), *value = tide_json_dump(used);
        struct store_cmp cmp = { .key = key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = base };
        struct store_op op = { .type = STORE_OP_PUT, .key = key, .value = value };
        struct store_txn txn = { .cmps = &cmp, .n_cmps = 1, .success = &op, .n_success = 1 };
        bool ok = false;
        assert_int_equal(store_txn(f->s, &txn, &ok, ret_rev), 0);
        return ok;
}

/* The cache's host a: its vCPUs in use, and whether it has a claim in flight. */
static int64_t cached_vcpus(struct fixture *f, bool *ret_in_flight) {
        struct sched_snapshot *v;
        const struct sched_host *h = cached_host(f, "a", &v);
        assert_non_null(h);
        int64_t n = h->used_vcpus;
        *ret_in_flight = sched_cache_in_flight(f->c, (size_t) (h - v->hosts));
        sched_cache_release(f->c);
        return n;
}

/* A claim in flight is in the view (for a later decision, caught up or not) until it ends; a
 * claim whose transaction did not commit is taken out again. */
static void test_claim_in_flight_seen_then_rolled_back(void **state) {
        struct fixture *f = *state;
        int64_t base;
        json_t *used;
        bool in_flight;
        put_host(f->s, "a", 8, 16384, 1, 0);
        put_host(f->s, "b", 8, 16384, 1, 0);
        struct sched_cache_claim *k = begin_claim(f, "a", 3, &base, &used);
        assert_int_equal(cached_vcpus(f, &in_flight), 3);
        assert_true(in_flight);
        struct sched_snapshot *v;
        assert_int_equal(sched_cache_acquire_to_claim(f->c, false, &v), 0); /* not caught up: still there */
        assert_int_equal(v->hosts[sched_snapshot_find(v, "a")].used_vcpus, 3);
        sched_cache_release(f->c);
        sched_cache_claim_end(f->c, k, NULL, 0);
        json_decref(used);
        assert_int_equal(cached_vcpus(f, &in_flight), 0);
        assert_false(in_flight);
        assert_view_fresh(f);
        struct sched_cache_stats st;
        sched_cache_stats(f->c, &st);
        assert_int_equal(st.rollbacks, 1);
}

/* Changes to the host that arrive while its claim is in flight are applied with the claim
 * still booked; once committed the view equals a fresh read. */
static void test_claim_kept_through_host_changes(void **state) {
        struct fixture *f = *state;
        int64_t base, rev;
        json_t *used;
        bool in_flight;
        put_host(f->s, "a", 8, 16384, 1, 0);
        struct sched_cache_claim *k = begin_claim(f, "a", 2, &base, &used);
        put_part(f->s, MODEL_KEY_HOSTCONF, "a", "{\"draining\":true}", 0, NULL);
        put_part(f->s, MODEL_KEY_HOSTLIVE, "a", "{\"load\":0.5}", 0, NULL);
        struct sched_snapshot *v;
        const struct sched_host *h = cached_host(f, "a", &v);
        assert_true(h->draining);
        assert_true(h->up);
        assert_int_equal(h->used_vcpus, 2);
        sched_cache_release(f->c);
        assert_true(commit_claim(f, "a", base, used, &rev));
        sched_cache_claim_end(f->c, k, used, rev);
        json_decref(used);
        assert_int_equal(cached_vcpus(f, &in_flight), 2);
        assert_false(in_flight);
        assert_view_fresh(f);
}

/* When another writer changes the allocation while a claim is in flight, the view shows the
 * store's allocation (the claim's commit is bound to fail), and after the failed commit too. */
static void test_claim_yields_to_others_allocation(void **state) {
        struct fixture *f = *state;
        int64_t base, rev;
        json_t *used;
        bool in_flight;
        put_host(f->s, "a", 8, 16384, 1, 0);
        struct sched_cache_claim *k = begin_claim(f, "a", 2, &base, &used);
        put_part(f->s, MODEL_KEY_ALLOC, "a", "{\"vcpus\":5,\"instances\":5}", 0, NULL);
        assert_int_equal(cached_vcpus(f, &in_flight), 5);
        assert_true(in_flight);
        assert_false(commit_claim(f, "a", base, used, &rev));
        sched_cache_claim_end(f->c, k, NULL, 0);
        json_decref(used);
        assert_int_equal(cached_vcpus(f, &in_flight), 5);
        assert_view_fresh(f);
}

/* A decision made on a view that lags the store (while a claim is in flight a first attempt
 * does not catch up) does not commit on a host whose settings or liveness changed since: the
 * commit compares them, and the retry on a caught-up view places elsewhere. */
static void test_lagging_view_commits_nothing_the_store_would_refuse(void **state) {
        struct fixture *f = *state;
        static const struct {
                const char *what, *prefix, *value; /* value NULL: the key is deleted */
        } change[] = {
                { "b drained", MODEL_KEY_HOSTCONF, "{\"draining\":true}" },
                { "b down", MODEL_KEY_HOSTLIVE, NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(change); i++) {
                int64_t base;
                json_t *used;
                put_host(f->s, "a", 2, 4096, 1, 0);
                put_host(f->s, "b", 64, 65536, 1, 0);
                put_host(f->s, "c", 8, 8192, 1, 0);
                put_part(f->s, MODEL_KEY_HOSTCONF, "b", "{}", 0, NULL);
                for (const char *h = "abc"; *h; h++) {
                        char name[2] = { *h, 0 };
                        put_part(f->s, MODEL_KEY_HOSTLIVE, name, "up", 0, NULL);
                }
                /* a is full with a claim in flight; b (roomiest) is where placement goes. */
                struct sched_cache_claim *k = begin_claim(f, "a", 2, &base, &used);
                if (change[i].value)
                        put_part(f->s, change[i].prefix, "b", change[i].value, 0, NULL);
                else
                        del_part(f->s, change[i].prefix, "b");
                char id[16];
                snprintf(id, sizeof id, "i%zu", i);
                json_t *inst = json_pack("{s:s, s:s, s:i, s:i}", "id", id, "name", id, "vcpus", 1, "ram_mib", 256);
                _cleanup_free_ char *reason = NULL;
                assert_int_equal(sched_store_create(f->s, f->c, inst, NULL, &reason), 0);
                if (!streq(json_string_value(json_object_get(inst, "host")), "c"))
                        fail_msg("%s: placed on %s, not c", change[i].what,
                                 json_string_value(json_object_get(inst, "host")));
                json_decref(inst);
                sched_cache_claim_end(f->c, k, NULL, 0);
                json_decref(used);
                assert_view_fresh(f);
        }
}

struct waiter {
        struct fixture *f;
        int r;
        bool done;
};

static void *waiter_run(void *arg) {
        struct waiter *w = arg;
        json_t *inst = json_pack("{s:s, s:s, s:i, s:i}", "id", "w1", "name", "w1", "vcpus", 1, "ram_mib", 256);
        _cleanup_free_ char *reason = NULL;
        w->r = sched_store_create(w->f->s, w->f->c, inst, NULL, &reason);
        json_decref(inst);
        __atomic_store_n(&w->done, true, __ATOMIC_SEQ_CST);
        return NULL;
}

/* A placement that chooses the host of a claim in flight waits for it to end and decides
 * again, rather than committing against the revision the claim replaces. */
static void test_decision_waits_for_claim_in_flight(void **state) {
        struct fixture *f = *state;
        int64_t base, rev;
        json_t *used;
        bool in_flight;
        put_host(f->s, "a", 8, 16384, 1, 0);
        put_part(f->s, MODEL_KEY_HOSTLIVE, "a", "up", 0, NULL);
        struct sched_cache_claim *k = begin_claim(f, "a", 2, &base, &used);
        struct waiter w = { .f = f };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, waiter_run, &w), 0);
        usleep(200 * 1000);
        assert_false(__atomic_load_n(&w.done, __ATOMIC_SEQ_CST));
        assert_true(commit_claim(f, "a", base, used, &rev));
        sched_cache_claim_end(f->c, k, used, rev);
        json_decref(used);
        pthread_join(t, NULL);
        assert_int_equal(w.r, 0);
        assert_int_equal(cached_vcpus(f, &in_flight), 3);
        struct sched_cache_stats st;
        sched_cache_stats(f->c, &st);
        assert_int_equal(st.waits, 1);
        assert_int_equal(st.rollbacks, 0);
        assert_view_fresh(f);
}

/* ---- decisions ---- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static int rnd(int n) { /* xorshift64: the same cases on every run */
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (int) (rng % (uint64_t) n);
}

static json_t *random_instance(int i) {
        static const char *const zones[] = { "zone=z0", "zone=z1", "zone=z2" };
        _cleanup_free_ char *id = xasprintf("inst-%04d", i);
        bool dedicated = rnd(5) == 0;
        json_t *inst = json_pack("{s:s, s:s, s:i, s:I, s:I, s:s, s:b, s:[]}", "id", id, "name", id, "vcpus", 1 + rnd(4),
                                 "ram_mib", (json_int_t) (1024 * (1 + rnd(8))), "disk_gib",
                                 (json_int_t) (10 * (1 + rnd(5))), "cpu_policy", dedicated ? "dedicated" : "shared",
                                 "hugepages", rnd(8) == 0, "hints");
        if (rnd(4) == 0)
                json_array_append_new(json_object_get(inst, "hints"), json_string(zones[rnd(3)]));
        return inst;
}

/* What a fresh snapshot decides for inst now: the host's name, or "" when none fits. */
static char *fresh_decision(struct store *s, json_t *inst, struct sched_decision *ret) {
        struct sched_snapshot snap;
        struct sched_request req;
        json_t *holder;
        char *name;
        assert_int_equal(sched_snapshot_read(s, &snap), 0);
        assert_int_equal(sched_request_from_instance(inst, NULL, NULL, &req, &holder), 0);
        int r = sched_place(&snap.cfg, snap.hosts, snap.n, &req, ret, NULL, NULL);
        name = xstrdup(r == 0 ? snap.hosts[ret->host].name : "");
        sched_request_clear(&req);
        json_decref(holder);
        sched_snapshot_clear(&snap);
        return name;
}

/* Hosts of mixed shapes, some down, some draining, some in zones, some used by others. */
static void random_hosts(struct store *s, int n, int64_t lease) {
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *name = xasprintf("h%02d", i);
                int nodes = 1 + rnd(2);
                put_host(s, name, 8 * nodes * (1 + rnd(2)), 8192 * (1 + rnd(4)), nodes, rnd(4) == 0 ? 2048 : 0);
                if (rnd(6) != 0)
                        put_part(s, "/tide/hostlive/", name, rnd(2) ? "up" : "{\"load\":0.5}", lease, NULL);
                _cleanup_free_ char *conf = xasprintf("{\"draining\":%s,\"labels\":{\"zone\":\"z%d\"}}",
                                                      rnd(8) == 0 ? "true" : "false", rnd(3));
                put_part(s, MODEL_KEY_HOSTCONF, name, conf, 0, NULL);
                if (rnd(2)) {
                        _cleanup_free_ char *used =
                                xasprintf("{\"vcpus\":%d,\"ram_mib\":%d,\"disk_gib\":%d,\"instances\":1}", rnd(8),
                                          1024 * rnd(8), 10 * rnd(10));
                        put_part(s, MODEL_KEY_ALLOC, name, used, 0, NULL);
                }
        }
}

static void test_decides_as_fresh_snapshot(void **state) {
        struct fixture *f = *state;
        int64_t lease;
        assert_int_equal(store_lease_grant(f->s, 600, &lease), 0);
        random_hosts(f->s, 40, lease);
        int placed = 0;
        for (int i = 0; i < 150; i++) {
                /* Between creates, the world changes under the cache: another writer's claims,
                 * a host going down or draining, the config. */
                int what = rnd(10);
                _cleanup_free_ char *name = xasprintf("h%02d", rnd(40));
                if (what == 0)
                        put_part(f->s, MODEL_KEY_ALLOC, name, "{\"vcpus\":6,\"ram_mib\":4096,\"instances\":2}", 0,
                                 NULL);
                else if (what == 1)
                        put_part(f->s, MODEL_KEY_ALLOC, name, "{}", 0, NULL);
                else if (what == 2) {
                        _cleanup_free_ char *key = xasprintf("/tide/hostlive/%s", name);
                        (void) store_delete(f->s, key, NULL);
                } else if (what == 3)
                        put_part(f->s, MODEL_KEY_HOSTCONF, name, rnd(2) ? "{\"draining\":true}" : "{}", 0, NULL);
                else if (what == 4)
                        put(f->s, MODEL_KEY_PLACEMENT_CONFIG, rnd(2) ? "{\"mode\":\"pack\"}" : "{\"mode\":\"spread\"}",
                            0, NULL);

                json_t *inst = random_instance(i);
                struct sched_decision want = {};
                _cleanup_free_ char *expect = fresh_decision(f->s, inst, &want);
                /* Explanations agree too (the cache's host is given back unchanged). */
                json_t *ex_fresh = NULL, *ex_cached = NULL;
                assert_int_equal(sched_store_explain(f->s, NULL, inst, NULL, &ex_fresh), 0);
                assert_int_equal(sched_store_explain(f->s, f->c, inst, NULL, &ex_cached), 0);
                if (!json_equal(ex_fresh, ex_cached))
                        fail_msg("create %d: explanations differ", i);
                json_decref(ex_fresh);
                json_decref(ex_cached);

                _cleanup_free_ char *reason = NULL;
                int r = sched_store_create(f->s, f->c, inst, NULL, &reason);
                if (*expect) {
                        assert_int_equal(r, 0);
                        assert_string_equal(tide_json_str(inst, "host", ""), expect);
                        json_t *d = json_object_get(inst, "placement");
                        assert_int_equal(tide_json_int(d, "numa_node", -1), want.numa_node);
                        assert_int_equal(json_array_size(json_object_get(d, "pinned")), want.n_pinned);
                        for (int k = 0; k < want.n_pinned; k++)
                                assert_int_equal(json_integer_value(json_array_get(json_object_get(d, "pinned"), k)),
                                                 want.pinned[k]);
                        placed++;
                } else
                        assert_int_equal(r, TIDE_E_NO_HOST);
                json_decref(inst);
        }
        assert_true(placed > 50);
        assert_view_fresh(f);
        assert_int_equal(sched_cache_reads(f->c), 1);
}

/* ---- concurrent creators ---- */

#define CREATORS 3
#define CREATES 40
#define HOSTS 4
#define HOST_CPUS 8

struct creator {
        const char *url;
        struct store *store; /* shared: use this handle and cache instead of opening one */
        struct sched_cache *cache;
        int index;
        int placed, no_host, err;
};

static void *creator_run(void *arg) {
        struct creator *cr = arg;
        struct store *s = cr->store;
        struct sched_cache *c = cr->cache;
        if (!s) {
                if ((cr->err = store_open(cr->url, &s)) < 0)
                        return NULL;
                (void) sched_cache_new(s, &c);
        }
        for (int i = 0; i < CREATES; i++) {
                _cleanup_free_ char *id = xasprintf("c%d-%03d", cr->index, i), *reason = NULL;
                json_t *inst = json_pack("{s:s, s:s, s:i, s:i, s:i}", "id", id, "name", id, "vcpus", 1, "ram_mib", 256,
                                         "disk_gib", 1);
                int r = sched_store_create(s, c, inst, NULL, &reason);
                json_decref(inst);
                if (r == 0)
                        cr->placed++;
                else if (r == TIDE_E_NO_HOST)
                        cr->no_host++;
                else {
                        cr->err = r;
                        break;
                }
        }
        if (!cr->store) {
                sched_cache_free(c);
                store_free(s);
        }
        return NULL;
}

/* CREATORS threads create CREATES instances each on HOSTS hosts that hold fewer; shared: all
 * on the fixture's handle and cache (as tided's API threads), else each on its own. */
static void run_creators(struct fixture *f, bool shared) {
        int64_t lease;
        assert_int_equal(store_lease_grant(f->s, 600, &lease), 0);
        /* No overcommit: each host takes HOST_CPUS one-vCPU instances. */
        put(f->s, MODEL_KEY_PLACEMENT_CONFIG, "{\"cpu_ratio\":1}", 0, NULL);
        for (int i = 0; i < HOSTS; i++) {
                _cleanup_free_ char *name = xasprintf("h%d", i);
                put_host(f->s, name, HOST_CPUS, 65536, 1, 0);
                put_part(f->s, "/tide/hostlive/", name, "up", lease, NULL);
        }
        pthread_t t[CREATORS];
        struct creator cr[CREATORS];
        for (int k = 0; k < CREATORS; k++) {
                cr[k] = (struct creator) { .url = f->url, .index = k };
                if (shared) {
                        cr[k].store = f->s;
                        cr[k].cache = f->c;
                }
                assert_int_equal(pthread_create(&t[k], NULL, creator_run, &cr[k]), 0);
        }
        int placed = 0;
        for (int k = 0; k < CREATORS; k++) {
                pthread_join(t[k], NULL);
                if (cr[k].err < 0)
                        fail_msg("creator %d: %s", k, tide_strerror(cr[k].err));
                placed += cr[k].placed;
        }
        /* Every instance stored with a host is counted in that host's allocation, and no host
         * holds more than it has. */
        struct store_kvs kvs = {};
        int per_host[HOSTS] = {};
        assert_int_equal(store_range(f->s, "/tide/instances/", 0, &kvs, NULL), 0);
        assert_int_equal(kvs.n, CREATORS * CREATES);
        for (size_t i = 0; i < kvs.n; i++) {
                json_t *inst = json_loadb(kvs.items[i].value, kvs.items[i].value_len, 0, NULL);
                const char *host = tide_json_str(inst, "host", NULL);
                if (host)
                        per_host[host[1] - '0']++;
                json_decref(inst);
        }
        store_kvs_clear(&kvs);
        struct sched_snapshot snap;
        assert_int_equal(sched_snapshot_read(f->s, &snap), 0);
        int total = 0;
        for (int i = 0; i < HOSTS; i++) {
                char name[8];
                snprintf(name, sizeof name, "h%d", i);
                const struct sched_host *h = &snap.hosts[sched_snapshot_find(&snap, name)];
                if (per_host[i] > HOST_CPUS || h->instances != per_host[i] || h->used_vcpus != per_host[i])
                        fail_msg("host %s: %d instances stored on it, allocation says %lld instances and %lld vCPUs "
                                 "(of %d)",
                                 name, per_host[i], (long long) h->instances, (long long) h->used_vcpus, HOST_CPUS);
                total += per_host[i];
        }
        sched_snapshot_clear(&snap);
        assert_int_equal(total, placed);
        assert_int_equal(placed, HOSTS * HOST_CPUS); /* the pool is full, exactly */
}

static void test_creators_on_own_handles_never_overbook(void **state) {
        run_creators(*state, false);
}

static void test_threads_share_one_cache(void **state) {
        run_creators(*state, true);
}

/* The shared pools the agent is given (sched_store_shared_pools): a host's CPUs less the
 * lowest reserved ones and those pinned, all of them when nothing would be left, NULL for a
 * host placement does not know. */
static void test_shared_pools_for_the_agent(void **state) {
        struct fixture *f = *state;
        put_host(f->s, "a", 8, 8192, 2, 0);
        put_host(f->s, "b", 4, 4096, 1, 0);
        put_host(f->s, "c", 2, 2048, 1, 0);
        put_part(f->s, MODEL_KEY_HOSTCONF, "a", "{\"reserved_cpus\":2}", 0, NULL);
        put_part(f->s, MODEL_KEY_ALLOC, "a", "{\"pinned\":\"4-5\"}", 0, NULL);
        put_part(f->s, MODEL_KEY_ALLOC, "c", "{\"pinned\":\"0-1\"}", 0, NULL);
        const char *hosts[] = { "a", "b", "c", "nowhere" };
        char *pools[4] = { 0 };
        assert_int_equal(sched_store_shared_pools(f->s, hosts, 4, pools), 0);
        assert_string_equal(pools[0], "2-3,6-7");
        assert_string_equal(pools[1], "0-3");
        assert_string_equal(pools[2], "0-1"); /* every CPU pinned: shared VMs still run somewhere */
        assert_null(pools[3]);
        for (size_t i = 0; i < ELEMENTSOF(pools); i++)
                free(pools[i]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_follows_host_records, setup, teardown),
                cmocka_unit_test_setup_teardown(test_follows_liveness_and_lease_expiry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_follows_hostconf, setup, teardown),
                cmocka_unit_test_setup_teardown(test_follows_alloc, setup, teardown),
                cmocka_unit_test_setup_teardown(test_follows_config, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recovers_from_compaction, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claimed_keeps_others_changes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_in_flight_seen_then_rolled_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_kept_through_host_changes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_yields_to_others_allocation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lagging_view_commits_nothing_the_store_would_refuse, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_decision_waits_for_claim_in_flight, setup, teardown),
                cmocka_unit_test_setup_teardown(test_decides_as_fresh_snapshot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_creators_on_own_handles_never_overbook, setup, teardown),
                cmocka_unit_test_setup_teardown(test_threads_share_one_cache, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shared_pools_for_the_agent, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
