/* test_store_etcd_cluster.c — the etcd store on a three-member etcd cluster that loses members:
 * writers (plain puts and CAS increments), a reader, two watches and a lease kept alive run while
 * (a) a member that does not lead is killed (SIGKILL) and started again, then (b) the member that
 * leads is killed. Every operation must succeed within a bounded time (retrying what the store
 * reports as not known to have happened), every acknowledged write must be there at the end, each
 * watch must see every change once, in revision order, and the lease must never lapse.
 * Skipped (77) where etcd is not installed. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "common/errors.h"
#include "common/util.h"
#include "store/store.h"
#include "store/store_etcd_launch.h"

#define CHECK(cond, ...) \
        do { \
                if (!(cond)) { \
                        fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
                        fprintf(stderr, __VA_ARGS__); \
                        fputc('\n', stderr); \
                        failed = true; \
                } \
        } while (0)

/* The longest an operation may take through a member's death and an election (etcd's default
 * timing: 1 s election timeout), retries included. */
#define STALL_MAX_MS 10000
#define PUTS_MAX 100000

static atomic_bool stop;
static bool failed;

static void sleep_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0)
                ;
}

/* ---- writers ---- */

struct writer {
        struct store *s;
        int n;                /* puts acknowledged */
        int64_t *revs;        /* the revision of put i (of /cl/w/<i>) */
        int64_t max_stall_ms; /* the longest any put took, retries included */
        int errors;           /* puts that failed past STALL_MAX_MS */
        int increments;       /* CAS increments acknowledged */
        int unknown;          /* increments whose outcome was lost (TIDE_E_BACKEND) */
};

/* Puts /cl/w/<i> = i, retrying while the store fails (an unconditional put is resent by the
 * store itself when its answer is lost; here the retry covers "no member answers"). */
static int put_retrying(struct writer *wr, const char *key, const char *value, int64_t *ret_rev) {
        int64_t t0 = mono_ms();
        int r;
        while ((r = store_put(wr->s, key, value, 0, ret_rev)) < 0 && mono_ms() - t0 < STALL_MAX_MS)
                sleep_ms(20);
        int64_t took = mono_ms() - t0;
        if (took > wr->max_stall_ms)
                wr->max_stall_ms = took;
        return r;
}

/* One increment of /cl/counter by CAS: a conflict re-reads; an unknown outcome is counted and
 * re-read too (the increment may have happened). */
static void increment(struct writer *wr) {
        int64_t t0 = mono_ms();
        while (mono_ms() - t0 < STALL_MAX_MS) {
                struct store_kv kv = {};
                int r = store_get(wr->s, "/cl/counter", &kv);
                if (r < 0) {
                        sleep_ms(20);
                        continue;
                }
                int64_t n = 0;
                (void) parse_int64(kv.value, 0, INT64_MAX, &n);
                int64_t mod = kv.mod_rev;
                store_kv_clear(&kv);
                char buf[32];
                snprintf(buf, sizeof buf, "%" PRId64, n + 1);
                r = store_cas(wr->s, "/cl/counter", buf, mod, NULL);
                if (r == 0) {
                        wr->increments++;
                        break;
                }
                if (r == TIDE_E_BACKEND) {
                        wr->unknown++;
                        sleep_ms(20);
                }
        }
        int64_t took = mono_ms() - t0;
        if (took > wr->max_stall_ms)
                wr->max_stall_ms = took;
}

static void *writer_run(void *p) {
        struct writer *wr = p;
        while (!atomic_load(&stop) && wr->n < PUTS_MAX) {
                char key[32], value[32];
                snprintf(key, sizeof key, "/cl/w/%06d", wr->n);
                snprintf(value, sizeof value, "%d", wr->n);
                if (put_retrying(wr, key, value, &wr->revs[wr->n]) < 0) {
                        wr->errors++;
                        break;
                }
                wr->n++;
                if (wr->n % 4 == 0)
                        increment(wr);
                sleep_ms(5);
        }
        return NULL;
}

/* ---- a reader ---- */

struct reader {
        struct store *s;
        int reads, errors;
        int64_t max_stall_ms;
};

static void *reader_run(void *p) {
        struct reader *rd = p;
        while (!atomic_load(&stop)) {
                int64_t t0 = mono_ms();
                struct store_kvs kvs = {};
                int r;
                while ((r = store_range(rd->s, "/cl/counter", 0, &kvs, NULL)) < 0 && mono_ms() - t0 < STALL_MAX_MS)
                        sleep_ms(20);
                store_kvs_clear(&kvs);
                int64_t took = mono_ms() - t0;
                if (took > rd->max_stall_ms)
                        rd->max_stall_ms = took;
                if (r < 0) {
                        rd->errors++;
                        break;
                }
                rd->reads++;
                sleep_ms(10);
        }
        return NULL;
}

/* ---- watches ---- */

struct watcher {
        struct store *s;
        int64_t after_rev;
        char **keys; /* the key of each event seen, in order */
        int64_t *revs;
        size_t n, cap;
        int error;
        bool out_of_order;
};

static void *watcher_run(void *p) {
        struct watcher *wa = p;
        struct store_watch *w = NULL;
        wa->error = store_watch_new(wa->s, "/cl/", wa->after_rev, &w);
        bool done = false;
        int64_t last_event_ms = mono_ms();
        while (wa->error >= 0 && !done) {
                struct store_events ev = {};
                int r = store_watch_next(w, 200, &ev);
                if (r < 0) {
                        wa->error = r;
                        break;
                }
                if (r > 0)
                        last_event_ms = mono_ms();
                for (size_t i = 0; i < ev.n; i++) {
                        struct store_kv *kv = &ev.items[i].kv;
                        if (wa->n > 0 && kv->mod_rev < wa->revs[wa->n - 1])
                                wa->out_of_order = true;
                        if (wa->n == wa->cap) {
                                wa->cap = wa->cap ? wa->cap * 2 : 1024;
                                wa->keys = xrealloc(wa->keys, wa->cap * sizeof *wa->keys);
                                wa->revs = xrealloc(wa->revs, wa->cap * sizeof *wa->revs);
                        }
                        wa->keys[wa->n] = xstrdup(kv->key);
                        wa->revs[wa->n++] = kv->mod_rev;
                        if (streq(kv->key, "/cl/end"))
                                done = true;
                }
                store_events_clear(&ev);
                /* Nothing for this long after the writers stopped: the end was missed. */
                if (atomic_load(&stop) && mono_ms() - last_event_ms > STALL_MAX_MS + 5000) {
                        wa->error = TIDE_E_TIMEOUT;
                        break;
                }
        }
        store_watch_free(w);
        return NULL;
}

/* Each (key, revision) once, in revision order, and every acknowledged put among them. */
static void check_watcher(const char *name, struct watcher *wa, const struct writer *wr) {
        CHECK(wa->error >= 0, "watch %s: %s", name, tide_strerror(wa->error));
        CHECK(!wa->out_of_order, "watch %s: events out of revision order", name);
        for (size_t i = 1; i < wa->n; i++)
                CHECK(wa->revs[i] > wa->revs[i - 1] || !streq(wa->keys[i], wa->keys[i - 1]),
                      "watch %s: %s at revision %" PRId64 " twice", name, wa->keys[i], wa->revs[i]);
        /* Every acknowledged put: at its revision, in the stream (both are sorted by revision). */
        size_t j = 0;
        for (int i = 0; i < wr->n; i++) {
                char key[32];
                snprintf(key, sizeof key, "/cl/w/%06d", i);
                while (j < wa->n && wa->revs[j] < wr->revs[i])
                        j++;
                bool seen = false;
                for (size_t k = j; k < wa->n && wa->revs[k] == wr->revs[i]; k++)
                        seen = seen || streq(wa->keys[k], key);
                CHECK(seen, "watch %s: the put of %s at %" PRId64 " was not seen", name, key, wr->revs[i]);
        }
        printf("# watch %s: %zu events\n", name, wa->n);
}

/* ---- a lease ---- */

struct keeper {
        struct store *s;
        int64_t lease;
        int renewals, lost, errors;
        int64_t max_gap_ms; /* the longest time between two successful renewals */
};

static void *keeper_run(void *p) {
        struct keeper *k = p;
        int64_t last_ok = mono_ms();
        while (!atomic_load(&stop)) {
                int r = store_lease_keepalive(k->s, k->lease);
                if (r == 0) {
                        int64_t now = mono_ms();
                        if (now - last_ok > k->max_gap_ms)
                                k->max_gap_ms = now - last_ok;
                        last_ok = now;
                        k->renewals++;
                } else if (r == TIDE_E_LEASE) {
                        k->lost++;
                        break;
                } else
                        k->errors++;
                sleep_ms(r == 0 ? 1000 : 100);
        }
        return NULL;
}

/* ---- the scenario ---- */

static struct store *open_ordered(struct store_etcd_launch *l, size_t first) {
        /* The endpoints starting with member first: that handle's requests and watches go there
         * until it dies. */
        _cleanup_free_ char *url = xasprintf("etcd:%s,%s,%s", store_etcd_launch_endpoint(l, first),
                                             store_etcd_launch_endpoint(l, (first + 1) % 3),
                                             store_etcd_launch_endpoint(l, (first + 2) % 3));
        struct store *s = NULL;
        int r = store_open(url, &s);
        CHECK(r == 0, "opening %s: %s", url, tide_strerror(r));
        return s;
}

static size_t leader_of(struct store_etcd_launch *l) {
        size_t leader = 0;
        int64_t t0 = mono_ms();
        int r;
        while ((r = store_etcd_launch_leader(l, &leader)) < 0 && mono_ms() - t0 < STALL_MAX_MS)
                sleep_ms(50);
        CHECK(r == 0, "no leader: %s", tide_strerror(r));
        return leader;
}

static int run(struct store_etcd_launch *l) {
        size_t leader = leader_of(l);
        size_t follower = (leader + 1) % 3;
        printf("# members: leader m%zu, the follower to kill m%zu\n", leader, follower);
        /* Writers and one watch go to the follower that dies first, the other watch and the
         * lease to the leader that dies later. */
        struct store *s_w = open_ordered(l, follower), *s_l = open_ordered(l, leader);
        if (failed)
                return 1;
        int64_t rev0 = 0;
        CHECK(store_revision(s_w, &rev0) == 0, "revision");
        int64_t lease = 0;
        CHECK(store_lease_grant(s_l, 5, &lease) == 0, "lease grant");
        CHECK(store_put(s_l, "/cl/leased", "held", lease, NULL) == 0, "leased put");
        CHECK(store_put(s_w, "/cl/counter", "0", 0, &rev0) == 0, "counter");

        struct writer wr = { .s = s_w, .revs = xcalloc(PUTS_MAX, sizeof(int64_t)) };
        struct reader rd = { .s = s_l };
        struct watcher wa = { .s = s_w, .after_rev = rev0 }, wb = { .s = s_l, .after_rev = rev0 };
        struct keeper kp = { .s = s_l, .lease = lease };
        pthread_t t[5];
        pthread_create(&t[0], NULL, writer_run, &wr);
        pthread_create(&t[1], NULL, reader_run, &rd);
        pthread_create(&t[2], NULL, watcher_run, &wa);
        pthread_create(&t[3], NULL, watcher_run, &wb);
        pthread_create(&t[4], NULL, keeper_run, &kp);

        sleep_ms(1500);
        int n_before = wr.n;
        printf("# (a) killing m%zu (not the leader) after %d puts\n", follower, n_before);
        CHECK(store_etcd_launch_kill(l, follower) == 0, "kill");
        sleep_ms(2500);
        CHECK(wr.n > n_before, "no put went through while m%zu was down", follower);
        CHECK(store_etcd_launch_restart(l, follower) == 0, "restarting m%zu", follower);
        sleep_ms(1000);

        leader = leader_of(l);
        n_before = wr.n;
        printf("# (b) killing m%zu (the leader) after %d puts\n", leader, n_before);
        int64_t t_kill = mono_ms();
        CHECK(store_etcd_launch_kill(l, leader) == 0, "kill");
        sleep_ms(4000);
        CHECK(wr.n > n_before, "no put went through after the leader died");
        printf("# new leader m%zu, %" PRId64 " ms after the kill\n", leader_of(l), mono_ms() - t_kill);
        sleep_ms(500);

        atomic_store(&stop, true);
        pthread_join(t[0], NULL);
        pthread_join(t[1], NULL);
        pthread_join(t[4], NULL);
        /* The lease held (checked now: it lapses once nobody renews it). */
        struct store_kv kv = {};
        CHECK(store_get(s_w, "/cl/leased", &kv) == 0 && kv.lease == lease, "the leased key is gone");
        store_kv_clear(&kv);
        int64_t end_rev = 0;
        CHECK(put_retrying(&wr, "/cl/end", "end", &end_rev) == 0, "the last put");
        pthread_join(t[2], NULL);
        pthread_join(t[3], NULL);

        printf("# %d puts, %d increments (%d with a lost answer), %d reads; longest put or increment %" PRId64
               " ms, longest read %" PRId64 " ms; %d lease renewals, longest gap %" PRId64 " ms\n",
               wr.n, wr.increments, wr.unknown, rd.reads, wr.max_stall_ms, rd.max_stall_ms, kp.renewals, kp.max_gap_ms);
        CHECK(wr.errors == 0 && rd.errors == 0, "operations failed past %d ms", STALL_MAX_MS);
        CHECK(wr.max_stall_ms < STALL_MAX_MS && rd.max_stall_ms < STALL_MAX_MS, "stalls");
        CHECK(kp.lost == 0, "the lease lapsed");
        CHECK(kp.max_gap_ms < 5000, "the lease went %" PRId64 " ms (its TTL) without renewal", kp.max_gap_ms);

        /* Every acknowledged put is there, at its revision; the counter has every acknowledged
         * increment, and at most those whose answer was lost besides. */
        for (int i = 0; i < wr.n; i++) {
                char key[32];
                snprintf(key, sizeof key, "/cl/w/%06d", i);
                struct store_kv got = {};
                int r = store_get(s_w, key, &got);
                CHECK(r == 0 && got.mod_rev == wr.revs[i], "%s missing or changed", key);
                store_kv_clear(&got);
        }
        CHECK(store_get(s_w, "/cl/counter", &kv) == 0, "counter");
        int64_t count = -1;
        (void) parse_int64(kv.value, 0, INT64_MAX, &count);
        store_kv_clear(&kv);
        CHECK(count >= wr.increments && count <= wr.increments + wr.unknown,
              "counter %" PRId64 " after %d increments (%d unknown)", count, wr.increments, wr.unknown);

        check_watcher("a", &wa, &wr);
        check_watcher("b", &wb, &wr);
        for (size_t i = 0; i < wa.n; i++)
                free(wa.keys[i]);
        for (size_t i = 0; i < wb.n; i++)
                free(wb.keys[i]);
        free(wa.keys);
        free(wa.revs);
        free(wb.keys);
        free(wb.revs);
        free(wr.revs);
        store_free(s_w);
        store_free(s_l);
        return failed ? 1 : 0;
}

int main(void) {
        if (!store_etcd_launch_available()) {
                fprintf(stderr, "%s is not installed: skipped\n", STORE_ETCD_BINARY);
                return 77;
        }
        struct store_etcd_launch *l = NULL;
        int r = store_etcd_launch_start(3, &l);
        if (r < 0) {
                fprintf(stderr, "starting three etcd members: %s\n", tide_strerror(r));
                return 1;
        }
        r = run(l);
        store_etcd_launch_free(l);
        printf("%s\n", r == 0 ? "ok" : "FAILED");
        return r;
}
