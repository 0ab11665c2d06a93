/* Unit tests of the election (ctl_leader.h) and of fencing by election revision (store.h's
 * store_fence_new, model.h's model_leader_superseded) on a real store: each candidate has its
 * own handle, as two tided processes would. TTL 2 s. The store is SQLite (one file per test)
 * unless TIDE_TEST_STORE=etcd: then a one-member etcd this program starts (store_etcd_launch.h;
 * exit 77 without etcd), its keys under /tide/ deleted after each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "ctl/ctl_leader.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "store/store.h"
#include "store/store_etcd_launch.h"

#define TTL_S 2
#define SLACK_MS 1000 /* a SQLite watch sees expiry within its 25 ms poll; room for a loaded machine */

struct candidate {
        struct store *s;
        struct ctl_leader *l;
        atomic_int elected, deposed;
        struct store *fenced; /* the election's, while leading */
        _Atomic int64_t rev;
};

struct fixture {
        char *dir, *url;
        struct candidate c[2];
};

static struct store_etcd_launch *etcd; /* TIDE_TEST_STORE=etcd */

static void sleep_ms(int64_t ms) {
        nanosleep(&(struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L }, NULL);
}

static void on_elected(void *userdata, int64_t rev, struct store *fenced) {
        struct candidate *c = userdata;
        assert_non_null(fenced);
        /* The leader's own fenced handle writes while it leads. */
        assert_int_equal(store_put(fenced, "/tide/test/elected", "1", 0, NULL), 0);
        c->fenced = fenced;
        atomic_store(&c->rev, rev);
        atomic_fetch_add(&c->elected, 1);
}

static void on_deposed(void *userdata, const char *why) {
        struct candidate *c = userdata;
        (void) why;
        /* Revoked before the callback: nothing it runs writes any more. */
        assert_int_equal(store_put(c->fenced, "/tide/test/deposed", "1", 0, NULL), TIDE_E_FENCED);
        c->fenced = NULL;
        atomic_fetch_add(&c->deposed, 1);
}

static int setup(void **state) {
        struct fixture *f = xcalloc(1, sizeof *f);
        const char *tmp = getenv("TMPDIR");
        f->dir = xasprintf("%s/tide-test-leader-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->dir));
        f->url = etcd ? xstrdup(store_etcd_launch_url(etcd)) : xasprintf("sqlite:%s/store.db", f->dir);
        for (int i = 0; i < 2; i++)
                assert_int_equal(store_open(f->url, &f->c[i].s), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        for (int i = 0; i < 2; i++)
                ctl_leader_free(f->c[i].l);
        if (etcd) {
                /* The next test starts on an empty key space. */
                struct store_op op = { .type = STORE_OP_DELETE_PREFIX, .key = "/tide/" };
                struct store_txn txn = { .success = &op, .n_success = 1 };
                assert_int_equal(store_txn(f->c[0].s, &txn, NULL, NULL), 0);
        }
        for (int i = 0; i < 2; i++)
                store_free(f->c[i].s);
        (void) rm_rf(f->dir);
        free(f->dir);
        free(f->url);
        free(f);
        return 0;
}

static void start(struct fixture *f, int i, const char *name) {
        struct ctl_leader_config cfg = {
                .store = f->c[i].s,
                .name = name,
                .ttl_s = TTL_S,
                .elected = on_elected,
                .deposed = on_deposed,
                .userdata = &f->c[i],
        };
        assert_int_equal(ctl_leader_new(&cfg, &f->c[i].l), 0);
}

/* Waits until candidate i leads; the time it took, or -1 after timeout_ms. */
static int64_t wait_leading(struct fixture *f, int i, int64_t timeout_ms) {
        int64_t t0 = mono_ms();
        while (mono_ms() - t0 < timeout_ms) {
                if (ctl_leader_leading(f->c[i].l, NULL))
                        return mono_ms() - t0;
                sleep_ms(10);
        }
        return -1;
}

/* Which of the two leads once one does: 0 or 1. */
static int first_leader(struct fixture *f) {
        int64_t t0 = mono_ms();
        while (mono_ms() - t0 < 5000) {
                bool a = ctl_leader_leading(f->c[0].l, NULL), b = ctl_leader_leading(f->c[1].l, NULL);
                assert_false(a && b);
                if (a || b)
                        return a ? 0 : 1;
                sleep_ms(10);
        }
        fail_msg("nobody leads after 5 s");
        return -1;
}

static void test_one_of_two_leads(void **state) {
        struct fixture *f = *state;
        start(f, 0, "host-a");
        start(f, 1, "host-b");
        int w = first_leader(f);
        /* Over a few renewals, still exactly one, and the key names it. */
        for (int k = 0; k < 30; k++) {
                assert_true(ctl_leader_leading(f->c[w].l, NULL));
                assert_false(ctl_leader_leading(f->c[1 - w].l, NULL));
                sleep_ms(100);
        }
        _cleanup_free_ char *host = NULL;
        int64_t rev = 0, mine = 0;
        assert_int_equal(model_leader_get(f->c[0].s, &host, &rev), 0);
        assert_string_equal(host, w == 0 ? "host-a" : "host-b");
        assert_true(ctl_leader_leading(f->c[w].l, &mine));
        assert_int_equal(rev, mine);
        assert_int_equal(atomic_load(&f->c[w].elected), 1);
        assert_int_equal(atomic_load(&f->c[1 - w].elected), 0);
}

/* The leader's lease revoked (as by an operator, or its store lost it): it stops leading and
 * the other leads within one TTL. */
static void test_revoked_lease_moves_leadership(void **state) {
        struct fixture *f = *state;
        start(f, 0, "host-a");
        start(f, 1, "host-b");
        int w = first_leader(f);
        int64_t rev0 = 0;
        assert_true(ctl_leader_leading(f->c[w].l, &rev0));
        struct store_kv kv = {};
        assert_int_equal(store_get(f->c[0].s, MODEL_KEY_LEADER, &kv), 0);
        int64_t lease = kv.lease;
        store_kv_clear(&kv);
        assert_true(lease > 0);
        assert_int_equal(store_lease_revoke(f->c[1 - w].s, lease), 0);
        int64_t took = wait_leading(f, 1 - w, TTL_S * 1000);
        assert_true(took >= 0);
        int64_t rev1 = 0;
        assert_true(ctl_leader_leading(f->c[1 - w].l, &rev1));
        assert_true(rev1 > rev0);
        sleep_ms(300);
        assert_false(ctl_leader_leading(f->c[w].l, NULL));
        assert_int_equal(atomic_load(&f->c[w].deposed), 1);
}

/* A leader that dies without a word (its lease is left to lapse): the candidate leads within
 * one TTL of the last renewal. The dead leader is stood for by a key on a lease nobody renews. */
static void test_lapsed_lease_moves_leadership(void **state) {
        struct fixture *f = *state;
        int64_t lease, rev;
        assert_int_equal(store_lease_grant(f->c[0].s, TTL_S, &lease), 0);
        int64_t t_renewed = mono_ms();
        assert_int_equal(store_create(f->c[0].s, MODEL_KEY_LEADER, "{\"host\":\"dead\"}", lease, &rev), 0);
        start(f, 1, "host-b");
        sleep_ms(500);
        assert_false(ctl_leader_leading(f->c[1].l, NULL)); /* the dead one's key still stands */
        assert_true(wait_leading(f, 1, TTL_S * 1000 + SLACK_MS) >= 0);
        int64_t after = mono_ms() - t_renewed;
        assert_true(after <= TTL_S * 1000 + SLACK_MS);
        int64_t rev1;
        assert_true(ctl_leader_leading(f->c[1].l, &rev1));
        assert_true(rev1 > rev);
}

/* A clean stop revokes the lease: the other leads at once, not a TTL later. */
static void test_clean_stop_hands_over_at_once(void **state) {
        struct fixture *f = *state;
        start(f, 0, "host-a");
        assert_true(wait_leading(f, 0, 5000) >= 0);
        start(f, 1, "host-b");
        sleep_ms(300);
        assert_false(ctl_leader_leading(f->c[1].l, NULL));
        ctl_leader_free(f->c[0].l);
        f->c[0].l = NULL;
        assert_int_equal(atomic_load(&f->c[0].deposed), 1);
        int64_t took = wait_leading(f, 1, TTL_S * 1000);
        assert_true(took >= 0 && took < 1000);
}

/* Fencing: what a superseded leader writes through its fenced handle fails at the store, while
 * the current leader's goes through; another compare failing alone is not the fence. */
static void test_fenced_writes(void **state) {
        struct fixture *f = *state;
        start(f, 0, "host-a");
        assert_true(wait_leading(f, 0, 5000) >= 0);
        int64_t rev_a;
        assert_true(ctl_leader_leading(f->c[0].l, &rev_a));
        struct store *fa = NULL;
        assert_int_equal(store_fence_new(f->c[0].s, MODEL_KEY_LEADER, rev_a, &fa), 0);
        assert_string_equal(store_backend_name(fa), store_backend_name(f->c[0].s));
        assert_int_equal(store_put(fa, "/tide/test/x", "1", 0, NULL), 0);
        assert_int_equal(store_create(fa, "/tide/test/x", "2", 0, NULL), TIDE_E_EXISTS);

        /* A's lease goes; B leads. */
        start(f, 1, "host-b");
        struct store_kv kv = {};
        assert_int_equal(store_get(f->c[1].s, MODEL_KEY_LEADER, &kv), 0);
        assert_int_equal(store_lease_revoke(f->c[1].s, kv.lease), 0);
        store_kv_clear(&kv);
        assert_true(wait_leading(f, 1, TTL_S * 1000) >= 0);
        int64_t rev_b;
        assert_true(ctl_leader_leading(f->c[1].l, &rev_b));

        assert_int_equal(store_put(fa, "/tide/test/x", "stale", 0, NULL), TIDE_E_FENCED);
        struct store_kv x = {};
        assert_int_equal(store_get(f->c[0].s, "/tide/test/x", &x), 0);
        assert_string_equal(x.value, "1");
        store_kv_clear(&x);

        struct store *fb = NULL;
        assert_int_equal(store_fence_new(f->c[1].s, MODEL_KEY_LEADER, rev_b, &fb), 0);
        assert_int_equal(store_put(fb, "/tide/test/x", "fresh", 0, NULL), 0);
        store_fence_revoke(fb);
        assert_int_equal(store_put(fb, "/tide/test/x", "after", 0, NULL), TIDE_E_FENCED);
        store_free(fb);
        store_free(fa);
}

/* The agents' rule, pure. */
static void test_superseded_rule(void **state) {
        (void) state;
        /* Written by the leader of election 10 at revision 15, before election 20: fine. */
        assert_false(model_leader_superseded(10, 15, 20));
        /* Written by it at revision 25, after election 20: a superseded leader's. */
        assert_true(model_leader_superseded(10, 25, 20));
        /* The current leader's own. */
        assert_false(model_leader_superseded(20, 25, 20));
        /* Not a leader's write, or nobody leads. */
        assert_false(model_leader_superseded(0, 25, 20));
        assert_false(model_leader_superseded(10, 25, 0));
}

/* A fenced handle past its deadline (a leader whose renewal hangs) refuses writes by itself. */
static void test_fence_deadline(void **state) {
        struct fixture *f = *state;
        int64_t rev;
        assert_int_equal(store_create(f->c[0].s, MODEL_KEY_LEADER, "{}", 0, &rev), 0);
        struct store *fs = NULL;
        assert_int_equal(store_fence_new(f->c[0].s, MODEL_KEY_LEADER, rev, &fs), 0);
        store_fence_set_deadline(fs, mono_ms() + 60000);
        assert_int_equal(store_put(fs, "/tide/test/x", "1", 0, NULL), 0);
        store_fence_set_deadline(fs, mono_ms() - 1);
        assert_int_equal(store_put(fs, "/tide/test/x", "2", 0, NULL), TIDE_E_FENCED);
        store_fence_set_deadline(fs, mono_ms() + 60000); /* renewed */
        assert_int_equal(store_put(fs, "/tide/test/x", "3", 0, NULL), 0);
        store_free(fs);
}

static void test_expiring_deadline(void **state) {
        (void) state;
        assert_false(ctl_leader_expiring(1000, 1000 + 7999, 10000, 2000));
        assert_true(ctl_leader_expiring(1000, 1000 + 8000, 10000, 2000));
}

int main(void) {
        const char *kind = getenv("TIDE_TEST_STORE");
        if (kind && streq(kind, "etcd")) {
                if (!store_etcd_launch_available()) {
                        printf("SKIP: etcd is not installed\n");
                        return 77;
                }
                if (store_etcd_launch_start(1, &etcd) < 0) {
                        fprintf(stderr, "starting etcd failed\n");
                        return 1;
                }
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_superseded_rule),
                cmocka_unit_test(test_expiring_deadline),
                cmocka_unit_test_setup_teardown(test_one_of_two_leads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_revoked_lease_moves_leadership, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lapsed_lease_moves_leadership, setup, teardown),
                cmocka_unit_test_setup_teardown(test_clean_stop_hands_over_at_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fenced_writes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fence_deadline, setup, teardown),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        store_etcd_launch_free(etcd);
        return r;
}
