/* test_hv_sim_migrate.c — live migration between two simulated hosts of one process: the move,
 * its progress, cancelling it, an injected failure and the refusals (hv.h, hv_sim_set_migration). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>

#include "agent/hv.h"
#include "common/errors.h"
#include "common/util.h"

static const struct hv_driver *const d = &hv_sim_driver;

#define UUID1 "2f1c4a9e-3b7d-4c8e-9a1f-0123456789ab"
#define SRC "sim:///mig-src?cpus=8&numa=2&mem_mib=16384"
#define DST "sim:///mig-dst?cpus=8&numa=2&mem_mib=16384"

struct hosts {
        struct hv_conn *src, *dst;
};

static int setup(void **state) {
        struct hosts *h = xcalloc(1, sizeof *h);
        assert_int_equal(d->open(SRC, NULL, &h->src), 0);
        assert_int_equal(d->open(DST, NULL, &h->dst), 0);
        struct hv_domain_spec spec = {
                .uuid = UUID1, .name = "tide-vm1", .vcpus = 2, .max_vcpus = 2, .ram_mib = 256, .max_ram_mib = 256
        };
        assert_int_equal(d->define(h->src, &spec), 0);
        assert_int_equal(d->start(h->src, UUID1), 0);
        assert_int_equal(hv_sim_set_demand(h->src, UUID1, 1.5, 100), 0);
        /* 256 MiB at 2048 MiB/s: 125 ms, a few progress reports at 20 ms. */
        assert_int_equal(hv_sim_set_migration(h->src, 2048, -1), 0);
        *state = h;
        return 0;
}

static int teardown(void **state) {
        struct hosts *h = *state;
        d->close(h->src);
        d->close(h->dst);
        free(h);
        return 0;
}

static enum hv_state state_on(struct hv_conn *c) {
        struct hv_domain_info di = {};
        int r = d->domain_info(c, UUID1, &di);
        if (r == TIDE_E_NOT_FOUND)
                return HV_STATE_NOSTATE;
        assert_int_equal(r, 0);
        enum hv_state s = di.state;
        hv_domain_info_clear(&di);
        return s;
}

struct seen {
        int calls, last_percent;
        bool monotonic;
        int cancel_at; /* cancel once this percent is reached; -1: never */
};

static bool on_progress(const struct hv_migrate_progress *p, void *userdata) {
        struct seen *s = userdata;
        if (p->percent < s->last_percent)
                s->monotonic = false;
        s->last_percent = p->percent;
        s->calls++;
        assert_int_equal(p->total_mib, 256);
        assert_true(p->remaining_mib >= 0 && p->remaining_mib <= 256);
        return s->cancel_at >= 0 && p->percent >= s->cancel_at;
}

/* The domain leaves the source for the target, running, with the target's pins and its demand. */
static void test_migrate_moves_domain(void **state) {
        struct hosts *h = *state;
        int pins[2] = { 6, 7 };
        struct hv_domain_spec dest = { .uuid = UUID1,
                                       .name = "tide-vm1",
                                       .vcpus = 2,
                                       .max_vcpus = 2,
                                       .ram_mib = 256,
                                       .max_ram_mib = 256,
                                       .pin_cpus = pins,
                                       .n_pin_cpus = 2,
                                       .has_numa_node = true,
                                       .numa_node = 1,
                                       .cpuset = "0-5" };
        struct hv_migrate_params p = { .target_uri = DST, .dest = &dest, .poll_ms = 20, .max_downtime_ms = 5 };
        struct seen s = { .monotonic = true, .cancel_at = -1 };
        struct hv_migrate_result res = {};
        assert_int_equal(d->migrate(h->src, UUID1, &p, on_progress, &s, &res), 0);
        assert_int_equal(state_on(h->src), HV_STATE_NOSTATE);
        assert_int_equal(state_on(h->dst), HV_STATE_RUNNING);
        assert_true(s.calls >= 2);
        assert_true(s.monotonic);
        assert_true(res.total_ms >= 100);
        assert_int_equal(res.downtime_ms, 5);
        assert_int_equal(res.data_mib, 256);
        struct hv_sim_domain sd;
        assert_int_equal(hv_sim_domain_get(h->dst, UUID1, &sd), 0);
        assert_int_equal(sd.n_pin_cpus, 2);
        assert_int_equal(sd.pin_cpus[0], 6);
        assert_int_equal(sd.pin_cpus[1], 7);
        assert_true(sd.has_numa_node);
        assert_int_equal(sd.numa_node, 1);
        assert_string_equal(sd.cpuset, "0-5");
        assert_true(sd.cpu_demand == 1.5);
        enum hv_state st;
        assert_int_equal(d->domain_state_at(h->src, DST, UUID1, &st), 0);
        assert_int_equal(st, HV_STATE_RUNNING);
        assert_int_equal(d->domain_state_at(h->dst, SRC, UUID1, &st), 0);
        assert_int_equal(st, HV_STATE_NOSTATE);
        /* And back, without changes. */
        struct hv_migrate_params back = { .target_uri = SRC, .poll_ms = 20 };
        assert_int_equal(d->migrate(h->dst, UUID1, &back, NULL, NULL, NULL), 0);
        assert_int_equal(state_on(h->src), HV_STATE_RUNNING);
        assert_int_equal(state_on(h->dst), HV_STATE_NOSTATE);
}

/* The progress callback cancels: the domain keeps running on the source, the target has none. */
static void test_migrate_cancel(void **state) {
        struct hosts *h = *state;
        struct hv_migrate_params p = { .target_uri = DST, .poll_ms = 20 };
        struct seen s = { .monotonic = true, .cancel_at = 30 };
        assert_int_equal(d->migrate(h->src, UUID1, &p, on_progress, &s, NULL), -ECANCELED);
        assert_true(s.last_percent >= 30 && s.last_percent < 100);
        assert_int_equal(state_on(h->src), HV_STATE_RUNNING);
        assert_int_equal(state_on(h->dst), HV_STATE_NOSTATE);
        /* It can move afterwards. */
        assert_int_equal(d->migrate(h->src, UUID1, &p, NULL, NULL, NULL), 0);
        assert_int_equal(state_on(h->dst), HV_STATE_RUNNING);
}

/* A failure half-way (the target lost) leaves the domain where it was. */
static void test_migrate_injected_failure(void **state) {
        struct hosts *h = *state;
        assert_int_equal(hv_sim_set_migration(h->src, 2048, 50), 0);
        struct hv_migrate_params p = { .target_uri = DST, .poll_ms = 20 };
        struct seen s = { .monotonic = true, .cancel_at = -1 };
        assert_int_equal(d->migrate(h->src, UUID1, &p, on_progress, &s, NULL), TIDE_E_BACKEND);
        assert_non_null(strstr(hv_last_error(), "target lost"));
        assert_true(s.last_percent < 50);
        assert_int_equal(state_on(h->src), HV_STATE_RUNNING);
        assert_int_equal(state_on(h->dst), HV_STATE_NOSTATE);
}

struct aborter {
        struct hv_conn *c;
};

static void *abort_main(void *p) {
        struct aborter *a = p;
        struct timespec ts = { .tv_nsec = 40 * 1000000 };
        nanosleep(&ts, NULL);
        assert_int_equal(d->migrate_abort(a->c, UUID1), 0);
        return NULL;
}

/* migrate_abort() from elsewhere stops the job; with no job it is a no-op. */
static void test_migrate_abort(void **state) {
        struct hosts *h = *state;
        assert_int_equal(d->migrate_abort(h->src, UUID1), 0);
        struct aborter a = { .c = h->src };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, abort_main, &a), 0);
        struct hv_migrate_params p = { .target_uri = DST, .poll_ms = 10 };
        assert_int_equal(d->migrate(h->src, UUID1, &p, NULL, NULL, NULL), -ECANCELED);
        pthread_join(t, NULL);
        assert_int_equal(state_on(h->src), HV_STATE_RUNNING);
        assert_int_equal(state_on(h->dst), HV_STATE_NOSTATE);
}

/* What cannot move is refused with nothing changed. */
static void test_migrate_refusals(void **state) {
        struct hosts *h = *state;
        struct hv_migrate_params self = { .target_uri = SRC }, nowhere = { .target_uri = "sim:///no-such-host" };
        assert_int_equal(d->migrate(h->src, UUID1, &self, NULL, NULL, NULL), TIDE_E_INVALID);
        assert_int_equal(d->migrate(h->src, UUID1, &nowhere, NULL, NULL, NULL), TIDE_E_BACKEND);
        struct hv_migrate_params p = { .target_uri = DST };
        assert_int_equal(d->migrate(h->src, "2f1c4a9e-3b7d-4c8e-9a1f-000000000000", &p, NULL, NULL, NULL),
                         TIDE_E_NOT_FOUND);
        /* Pinned to a CPU the target lacks: refused at the switch, as libvirt refuses the XML. */
        int pins[2] = { 0, 99 };
        struct hv_domain_spec dest = { .uuid = UUID1,
                                       .name = "tide-vm1",
                                       .vcpus = 2,
                                       .max_vcpus = 2,
                                       .ram_mib = 256,
                                       .max_ram_mib = 256,
                                       .pin_cpus = pins,
                                       .n_pin_cpus = 2 };
        struct hv_migrate_params bad = { .target_uri = DST, .dest = &dest, .poll_ms = 20 };
        assert_int_equal(d->migrate(h->src, UUID1, &bad, NULL, NULL, NULL), TIDE_E_BACKEND);
        assert_int_equal(state_on(h->src), HV_STATE_RUNNING);
        assert_int_equal(d->destroy(h->src, UUID1), 0);
        assert_int_equal(d->migrate(h->src, UUID1, &p, NULL, NULL, NULL), TIDE_E_CONFLICT);
        assert_int_equal(state_on(h->src), HV_STATE_SHUTOFF);
        assert_int_equal(state_on(h->dst), HV_STATE_NOSTATE);
        assert_int_equal(hv_sim_set_migration(h->src, 0, -1), TIDE_E_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_migrate_moves_domain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migrate_cancel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migrate_injected_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migrate_abort, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migrate_refusals, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
