/* Unit tests of metrics.h: the ring, the rates and their guards, forgetting VMs, the JSON
 * forms, the Prometheus text's structure and escaping, and a smoke test of concurrent use. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "metrics/metrics.h"

#define S_NS INT64_C(1000000000)

static struct metrics_host_sample host_sample(const char *name) {
        return (struct metrics_host_sample) {
                .host = name,
                .cpus = 8,
                .mem_total_kib = 16 << 20,
                .mem_free_kib = 8 << 20,
                .mem_available_kib = 12 << 20,
                .load1 = 1.5,
                .load5 = 1.0,
                .load15 = 0.5,
        };
}

static struct metrics_vm_sample vm_sample(const char *id, const char *name) {
        return (struct metrics_vm_sample) {
                .id = id,
                .name = name,
                .running = true,
                .vcpus = 2,
                .vcpus_max = 4,
                .n_vcpu = 2,
                .balloon_current_kib = 1 << 20,
                .balloon_max_kib = 2 << 20,
        };
}

/* Records one VM alone on host "h1". */
static void record1(struct metrics *m, int64_t t_ms, const struct metrics_vm_sample *vm) {
        struct metrics_host_sample h = host_sample("h1");
        metrics_record(m, t_ms, &h, vm, 1);
}

static char *prom(struct metrics *m) {
        char *text = NULL;
        assert_int_equal(metrics_prometheus(m, &text), 0);
        assert_non_null(text);
        return text;
}

/* --- rates --------------------------------------------------------------------------------- */

static void test_one_sample_has_no_rates(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample s = vm_sample("a", "web");
        s.cpu_time_ns = 5 * S_NS;
        record1(m, 1000, &s);
        struct metrics_vm_rates r;
        assert_int_equal(metrics_vm_rates(m, "a", &r), TIDE_E_NOT_FOUND);
        assert_true(r.cpu_cores == 0);
        assert_int_equal(r.vcpus, 2); /* gauges still filled */
        assert_int_equal(r.balloon_kib, 1 << 20);
        metrics_free(m);
}

static void test_unknown_vm_is_not_found(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_rates r = { .vcpus = 99 };
        assert_int_equal(metrics_vm_rates(m, "nope", &r), TIDE_E_NOT_FOUND);
        assert_int_equal(r.vcpus, 0); /* zeroed */
        json_t *j = NULL;
        assert_int_equal(metrics_vm_json(m, "nope", 0, &j), TIDE_E_NOT_FOUND);
        assert_int_equal(metrics_host_json(m, "nope", 0, &j), TIDE_E_NOT_FOUND);
        assert_null(j);
        metrics_free(m);
}

static void test_cpu_cores_is_cpu_time_over_wall_time(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample s = vm_sample("a", "web");
        s.cpu_time_ns = 10 * S_NS;
        record1(m, 1000, &s);
        s.cpu_time_ns += 3 * S_NS; /* 3 s of CPU in 2 s */
        record1(m, 3000, &s);
        struct metrics_vm_rates r;
        assert_int_equal(metrics_vm_rates(m, "a", &r), 0);
        assert_float_equal(r.cpu_cores, 1.5, 1e-9);
        assert_int_equal(r.t_ms, 3000);
        metrics_free(m);
}

static void test_ready_sums_vcpu_wait_and_busy_max_takes_the_busiest(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample s = vm_sample("a", "web");
        record1(m, 0, &s);
        s.vcpu_time_ns[0] = S_NS * 9 / 10;
        s.vcpu_time_ns[1] = S_NS * 3 / 10;
        s.vcpu_wait_ns[0] = S_NS * 2 / 10;
        s.vcpu_wait_ns[1] = S_NS * 1 / 10;
        s.cpu_time_ns = S_NS * 12 / 10;
        record1(m, 1000, &s);
        struct metrics_vm_rates r;
        assert_int_equal(metrics_vm_rates(m, "a", &r), 0);
        assert_float_equal(r.ready_cores, 0.3, 1e-9);
        assert_float_equal(r.vcpu_busy_max, 0.9, 1e-9);
        assert_float_equal(r.cpu_cores, 1.2, 1e-9);
        metrics_free(m);
}

static void test_vcpu_busy_max_is_clamped_to_one(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample s = vm_sample("a", "web");
        record1(m, 0, &s);
        s.vcpu_time_ns[0] = 3 * S_NS / 2; /* 1.5 s in 1 s: accounting jitter */
        s.cpu_time_ns = 3 * S_NS / 2;
        record1(m, 1000, &s);
        struct metrics_vm_rates r;
        assert_int_equal(metrics_vm_rates(m, "a", &r), 0);
        assert_float_equal(r.vcpu_busy_max, 1.0, 1e-12);
        metrics_free(m);
}

static void test_domain_counter_reset_gives_zero_rates(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample s = vm_sample("a", "web");
        s.cpu_time_ns = 100 * S_NS;
        s.vcpu_time_ns[0] = 50 * S_NS;
        s.vcpu_wait_ns[0] = 5 * S_NS;
        record1(m, 0, &s);
        /* restarted: counts from zero again; vCPU 0's wait is above its old value by chance
         * but belongs to the new process as well */
        s.cpu_time_ns = S_NS;
        s.vcpu_time_ns[0] = S_NS / 2;
        s.vcpu_wait_ns[0] = 6 * S_NS;
        record1(m, 1000, &s);
        struct metrics_vm_rates r;
        assert_int_equal(metrics_vm_rates(m, "a", &r), 0);
        assert_true(r.cpu_cores == 0 && r.ready_cores == 0 && r.vcpu_busy_max == 0);
        /* and the interval after it is measured from the new counters */
        s.cpu_time_ns += S_NS;
        record1(m, 2000, &s);
        assert_int_equal(metrics_vm_rates(m, "a", &r), 0);
        assert_float_equal(r.cpu_cores, 1.0, 1e-9);
        metrics_free(m);
}

static void test_vcpu_counter_reset_counts_zero_for_that_vcpu(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample s = vm_sample("a", "web");
        s.vcpu_time_ns[0] = 10 * S_NS;
        s.vcpu_wait_ns[0] = 10 * S_NS;
        record1(m, 0, &s);
        s.cpu_time_ns = S_NS;
        s.vcpu_time_ns[0] = 0; /* went back */
        s.vcpu_wait_ns[0] = 0;
        s.vcpu_time_ns[1] = S_NS / 4;
        s.vcpu_wait_ns[1] = S_NS / 4;
        record1(m, 1000, &s);
        struct metrics_vm_rates r;
        assert_int_equal(metrics_vm_rates(m, "a", &r), 0);
        assert_float_equal(r.vcpu_busy_max, 0.25, 1e-9);
        assert_float_equal(r.ready_cores, 0.25, 1e-9);
        metrics_free(m);
}

static void test_hot_added_vcpu_counts_from_its_second_sample(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample s = vm_sample("a", "web");
        s.n_vcpu = 1;
        record1(m, 0, &s);
        s.n_vcpu = 2;
        s.vcpu_time_ns[1] = 100 * S_NS; /* no earlier value to subtract */
        s.vcpu_wait_ns[1] = 100 * S_NS;
        record1(m, 1000, &s);
        struct metrics_vm_rates r;
        assert_int_equal(metrics_vm_rates(m, "a", &r), 0);
        assert_true(r.vcpu_busy_max == 0 && r.ready_cores == 0);
        s.vcpu_time_ns[1] += S_NS / 2;
        record1(m, 2000, &s);
        assert_int_equal(metrics_vm_rates(m, "a", &r), 0);
        assert_float_equal(r.vcpu_busy_max, 0.5, 1e-9);
        metrics_free(m);
}

static void test_clock_step_back_gives_no_rates(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample s = vm_sample("a", "web");
        record1(m, 5000, &s);
        s.cpu_time_ns = S_NS;
        record1(m, 5000, &s); /* same stamp: no interval */
        struct metrics_vm_rates r;
        assert_int_equal(metrics_vm_rates(m, "a", &r), TIDE_E_NOT_FOUND);
        s.cpu_time_ns = 2 * S_NS;
        record1(m, 6000, &s);
        assert_int_equal(metrics_vm_rates(m, "a", &r), 0);
        assert_float_equal(r.cpu_cores, 1.0, 1e-9);
        metrics_free(m);
}

static void test_host_busy_and_idle_cores(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_host_sample h = host_sample("h1");
        h.cpu_user_ns = 100 * S_NS;
        h.cpu_system_ns = 50 * S_NS;
        h.cpu_idle_ns = 1000 * S_NS;
        metrics_record(m, 0, &h, NULL, 0);
        struct metrics_host_rates r;
        assert_int_equal(metrics_host_rates(m, "h1", &r), TIDE_E_NOT_FOUND);
        assert_int_equal(r.cpus, 8);
        h.cpu_user_ns += 4 * S_NS; /* 2 s: 2 + 1 cores busy, 5 idle */
        h.cpu_system_ns += 2 * S_NS;
        h.cpu_idle_ns += 10 * S_NS;
        metrics_record(m, 2000, &h, NULL, 0);
        assert_int_equal(metrics_host_rates(m, "h1", &r), 0);
        assert_float_equal(r.cpu_busy_cores, 3.0, 1e-9);
        assert_float_equal(r.cpu_idle_cores, 5.0, 1e-9);
        assert_int_equal(r.mem_total_kib, 16 << 20);
        assert_float_equal(r.load1, 1.5, 1e-12);
        metrics_free(m);
}

static void test_host_counter_reset_gives_zero(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_host_sample h = host_sample("h1");
        h.cpu_user_ns = 100 * S_NS;
        h.cpu_idle_ns = 100 * S_NS;
        metrics_record(m, 0, &h, NULL, 0);
        h.cpu_user_ns = S_NS;
        h.cpu_idle_ns = 0;
        metrics_record(m, 1000, &h, NULL, 0);
        struct metrics_host_rates r;
        assert_int_equal(metrics_host_rates(m, "h1", &r), 0);
        assert_true(r.cpu_busy_cores == 0 && r.cpu_idle_cores == 0);
        metrics_free(m);
}

/* --- the ring and the VMs kept ------------------------------------------------------------- */

static void test_ring_wraps_keeping_the_newest(void **state) {
        struct metrics *m = metrics_new(3);
        struct metrics_vm_sample s = vm_sample("a", "web");
        for (int i = 0; i < 5; i++) {
                s.cpu_time_ns = i * S_NS / 2 * (i + 1); /* growing, uneven rates */
                record1(m, 1000 * (i + 1), &s);
        }
        json_t *j = NULL;
        assert_int_equal(metrics_vm_json(m, "a", 0, &j), 0);
        json_t *h = json_object_get(j, "history");
        assert_int_equal(json_array_size(h), 3);
        for (size_t k = 0; k < 3; k++)
                assert_int_equal(json_integer_value(json_object_get(json_array_get(h, k), "t_ms")),
                                 3000 + 1000 * (json_int_t) k);
        /* sample 5 over sample 4: (10 - 6) s over 1 s */
        assert_float_equal(json_real_value(json_object_get(json_array_get(h, 2), "cpu_cores")), 4.0, 1e-9);
        json_decref(j);

        assert_int_equal(metrics_vm_json(m, "a", 2, &j), 0);
        h = json_object_get(j, "history");
        assert_int_equal(json_array_size(h), 2);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(h, 0), "t_ms")), 4000);
        json_decref(j);
        metrics_free(m);
}

static void test_first_sample_is_current_but_not_history(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample s = vm_sample("a", "web");
        record1(m, 1000, &s);
        json_t *j = NULL;
        assert_int_equal(metrics_vm_json(m, "a", 0, &j), 0);
        assert_int_equal(json_array_size(json_object_get(j, "history")), 0);
        json_t *cur = json_object_get(j, "current");
        assert_int_equal(json_integer_value(json_object_get(cur, "vcpus")), 2);
        assert_null(json_object_get(cur, "cpu_cores"));
        json_decref(j);
        metrics_free(m);
}

static void test_vms_missing_from_a_record_are_dropped(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_host_sample h1 = host_sample("h1"), h2 = host_sample("h2");
        struct metrics_vm_sample v1[] = { vm_sample("a", "a"), vm_sample("b", "b") };
        struct metrics_vm_sample v2[] = { vm_sample("c", "c") };
        metrics_record(m, 0, &h1, v1, 2);
        metrics_record(m, 0, &h2, v2, 1);
        metrics_record(m, 1000, &h1, v1, 1); /* b is gone from h1 */
        struct metrics_vm_rates r;
        json_t *j = NULL;
        assert_int_equal(metrics_vm_json(m, "b", 0, &j), TIDE_E_NOT_FOUND);
        assert_int_equal(metrics_vm_rates(m, "a", &r), 0);
        assert_int_equal(metrics_vm_json(m, "c", 0, &j), 0); /* other hosts' VMs stay */
        json_decref(j);
        assert_int_equal(metrics_host_json(m, "h1", 0, &j), 0);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "current"), "vms")), 1);
        json_decref(j);
        _cleanup_free_ char *text = prom(m);
        assert_null(strstr(text, "uuid=\"b\""));
        metrics_free(m);
}

static void test_vm_moves_to_the_host_that_reports_it(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_host_sample h1 = host_sample("h1"), h2 = host_sample("h2");
        struct metrics_vm_sample v = vm_sample("a", "web");
        metrics_record(m, 0, &h1, &v, 1);
        metrics_record(m, 1000, &h2, &v, 1);   /* migrated */
        metrics_record(m, 2000, &h1, NULL, 0); /* h1 no longer has it: still kept */
        json_t *j = NULL;
        assert_int_equal(metrics_vm_json(m, "a", 0, &j), 0);
        assert_string_equal(json_string_value(json_object_get(j, "host")), "h2");
        json_decref(j);
        metrics_record(m, 3000, &h2, NULL, 0);
        assert_int_equal(metrics_vm_json(m, "a", 0, &j), TIDE_E_NOT_FOUND);
        metrics_free(m);
}

static void test_id_listed_twice_counts_once(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample v[2] = { vm_sample("a", "web"), vm_sample("a", "web") };
        struct metrics_host_sample h = host_sample("h1");
        metrics_record(m, 0, &h, v, 2);
        v[0].cpu_time_ns = S_NS;
        v[1].cpu_time_ns = 7 * S_NS;
        metrics_record(m, 1000, &h, v, 2);
        struct metrics_vm_rates r;
        assert_int_equal(metrics_vm_rates(m, "a", &r), 0);
        assert_float_equal(r.cpu_cores, 1.0, 1e-9);
        metrics_free(m);
}

static void test_strings_are_copied(void **state) {
        struct metrics *m = metrics_new(0);
        char id[] = "a", name[] = "web", host[] = "h1";
        struct metrics_vm_sample v = vm_sample(id, name);
        struct metrics_host_sample h = host_sample(host);
        metrics_record(m, 0, &h, &v, 1);
        id[0] = name[0] = host[0] = 'x';
        json_t *j = NULL;
        assert_int_equal(metrics_vm_json(m, "a", 0, &j), 0);
        assert_string_equal(json_string_value(json_object_get(j, "name")), "web");
        assert_string_equal(json_string_value(json_object_get(j, "host")), "h1");
        json_decref(j);
        metrics_free(m);
}

static void test_json_replaces_invalid_utf8(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample v = vm_sample("a", "caf\xe9");
        record1(m, 0, &v);
        metrics_count_action(m, "a", "k\xff");
        json_t *j = NULL;
        assert_int_equal(metrics_vm_json(m, "a", 0, &j), 0);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "name")), "caf\xef\xbf\xbd");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "actions"), "k\xef\xbf\xbd")), 1);
        json_decref(j);
        metrics_free(m);
}

/* --- the elastic loop's figures ------------------------------------------------------------ */

static void test_elastic_figures_and_actions(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample v = vm_sample("a", "web");
        record1(m, 0, &v);
        metrics_set_elastic(m, "a", 3.5, 2.25);
        metrics_count_action(m, "a", "vcpus");
        metrics_count_action(m, "a", "balloon");
        metrics_count_action(m, "a", "vcpus");
        metrics_count_action(m, "nope", "vcpus"); /* unknown: ignored */
        metrics_set_elastic(m, "nope", 1, 1);
        json_t *j = NULL;
        assert_int_equal(metrics_vm_json(m, "a", 0, &j), 0);
        json_t *cur = json_object_get(j, "current");
        assert_float_equal(json_real_value(json_object_get(cur, "demand_cores")), 3.5, 1e-9);
        assert_float_equal(json_real_value(json_object_get(cur, "entitlement_cores")), 2.25, 1e-9);
        json_t *a = json_object_get(j, "actions");
        assert_int_equal(json_integer_value(json_object_get(a, "vcpus")), 2);
        assert_int_equal(json_integer_value(json_object_get(a, "balloon")), 1);
        json_decref(j);
        _cleanup_free_ char *text = prom(m);
        assert_non_null(strstr(text,
                               "tide_vm_demand_cores{domain=\"tide-web\",host=\"h1\",name=\"web\",uuid=\"a\"} 3.5\n"));
        assert_non_null(strstr(
                text,
                "tide_elastic_actions_total{domain=\"tide-web\",host=\"h1\",kind=\"balloon\",name=\"web\",uuid=\"a\"} 1\n"
                "tide_elastic_actions_total{domain=\"tide-web\",host=\"h1\",kind=\"vcpus\",name=\"web\",uuid=\"a\"} 2\n"));
        metrics_free(m);
}

/* --- Prometheus text ----------------------------------------------------------------------- */

/* Every family's lines are together, each HELP and TYPE appears once, before its samples, and
 * every sample belongs to the family announced last. */
static void test_prometheus_one_family_at_a_time(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_host_sample h = host_sample("h1");
        struct metrics_vm_sample v[] = { vm_sample("a", "web"), vm_sample("b", "db") };
        metrics_record(m, 0, &h, v, 2);
        v[0].cpu_time_ns = v[1].cpu_time_ns = S_NS;
        metrics_record(m, 1000, &h, v, 2);
        metrics_count_action(m, "b", "shares");
        _cleanup_free_ char *text = prom(m);
        char family[256] = "", seen[64][256];
        size_t n_seen = 0;
        for (char *line = text, *nl; *line; line = nl + 1) {
                nl = strchr(line, '\n');
                assert_non_null(nl);
                *nl = 0;
                if (startswith(line, "# HELP ")) {
                        const char *name = line + 7;
                        size_t len = strcspn(name, " ");
                        assert_true(len < sizeof family);
                        for (size_t i = 0; i < n_seen; i++)
                                assert_false(strlen(seen[i]) == len && strncmp(seen[i], name, len) == 0);
                        memcpy(family, name, len);
                        family[len] = 0;
                        assert_true(n_seen < 64);
                        snprintf(seen[n_seen++], sizeof seen[0], "%s", family);
                        assert_true(startswith(nl + 1, "# TYPE "));
                } else if (startswith(line, "# TYPE ")) {
                        assert_true(startswith(line + 7, family));
                        const char *type = line + 7 + strlen(family) + 1;
                        assert_true(streq(type, "gauge") || streq(type, "counter"));
                        if (streq(type, "counter"))
                                assert_true(endswith(family, "_total"));
                } else {
                        assert_true(family[0]);
                        assert_true(startswith(line, family));
                        assert_true(line[strlen(family)] == '{');
                }
        }
        assert_true(n_seen > 20);
        metrics_free(m);
}

static void test_prometheus_escapes_label_values(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_host_sample h = host_sample("host \"one\"");
        struct metrics_vm_sample v = vm_sample("a", "we\"b\\1\nx");
        metrics_record(m, 0, &h, &v, 1);
        _cleanup_free_ char *text = prom(m);
        assert_non_null(strstr(text, "tide_vm_running{domain=\"tide-we\\\"b\\\\1\\nx\",host=\"host \\\"one\\\"\","
                                     "name=\"we\\\"b\\\\1\\nx\",uuid=\"a\"} 1\n"));
        metrics_free(m);
}

static void test_prometheus_replaces_invalid_utf8(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_host_sample h = host_sample("h1");
        /* a lone continuation byte, a truncated sequence, an overlong '/', a surrogate; then
         * valid two-, three- and four-byte characters that must pass unchanged */
        struct metrics_vm_sample v = vm_sample("a", "x\x80y\xc3"
                                                    "z\xc0\xaf"
                                                    "\xed\xa0\x80"
                                                    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
        metrics_record(m, 0, &h, &v, 1);
        _cleanup_free_ char *text = prom(m);
        assert_non_null(strstr(text, "name=\"x\xef\xbf\xbdy\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd"
                                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                                     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""));
        metrics_free(m);
}

static void test_prometheus_seconds_are_exact(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample v = vm_sample("a", "web");
        v.cpu_time_ns = INT64_C(1234567890123);
        v.vcpu_time_ns[0] = 3 * S_NS;
        v.vcpu_time_ns[1] = 1;
        record1(m, 0, &v);
        _cleanup_free_ char *text = prom(m);
        assert_non_null(strstr(
                text,
                "libvirt_domain_info_cpu_time_seconds_total{domain=\"tide-web\",host=\"h1\",name=\"web\",uuid=\"a\"} 1234.567890123\n"));
        assert_non_null(strstr(text, ",uuid=\"a\",vcpu=\"0\"} 3\n"));
        assert_non_null(strstr(text, ",uuid=\"a\",vcpu=\"1\"} 0.000000001\n"));
        metrics_free(m);
}

static void test_prometheus_libvirt_series_only_for_running_domains(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample v = vm_sample("a", "web");
        v.running = false;
        record1(m, 0, &v);
        _cleanup_free_ char *text = prom(m);
        assert_null(strstr(text, "libvirt_domain"));
        assert_non_null(strstr(text, "tide_vm_running{domain=\"tide-web\",host=\"h1\",name=\"web\",uuid=\"a\"} 0\n"));
        metrics_free(m);
}

static void test_prometheus_guest_memory_only_when_reported(void **state) {
        struct metrics *m = metrics_new(0);
        struct metrics_vm_sample v = vm_sample("a", "web");
        record1(m, 0, &v);
        _cleanup_free_ char *t1 = prom(m);
        assert_null(strstr(t1, "libvirt_domain_memory_stats_usable_bytes"));
        v.has_guest_mem = true;
        v.mem_usable_kib = 1000;
        record1(m, 1000, &v);
        _cleanup_free_ char *t2 = prom(m);
        assert_non_null(strstr(
                t2,
                "libvirt_domain_memory_stats_usable_bytes{domain=\"tide-web\",host=\"h1\",name=\"web\",uuid=\"a\"} 1024000\n"));
        metrics_free(m);
}

static void test_prometheus_empty(void **state) {
        struct metrics *m = metrics_new(0);
        _cleanup_free_ char *text = prom(m);
        assert_string_equal(text, "");
        metrics_free(m);
}

/* --- threads ------------------------------------------------------------------------------- */

#define SMOKE_ROUNDS 300
#define SMOKE_VMS 40

struct smoke {
        struct metrics *m;
        int index;
        bool failed; /* cmocka's asserts may only fail on the main thread */
};

static void *smoke_writer(void *arg) {
        struct smoke *s = arg;
        char host[16], ids[SMOKE_VMS][24];
        snprintf(host, sizeof host, "h%d", s->index);
        struct metrics_host_sample h = host_sample(host);
        _cleanup_free_ struct metrics_vm_sample *v = xcalloc(SMOKE_VMS, sizeof *v);
        for (int i = 0; i < SMOKE_VMS; i++) {
                snprintf(ids[i], sizeof ids[i], "%d-%d", s->index, i);
                v[i] = vm_sample(ids[i], ids[i]);
        }
        for (int r = 0; r < SMOKE_ROUNDS; r++) {
                for (int i = 0; i < SMOKE_VMS; i++) {
                        v[i].cpu_time_ns += S_NS / 10;
                        v[i].vcpu_time_ns[0] += S_NS / 10;
                }
                /* every other round a third of the VMs go missing and come back (all there at the end) */
                size_t n = r % 2 ? SMOKE_VMS : SMOKE_VMS * 2 / 3;
                h.cpu_user_ns += S_NS;
                metrics_record(s->m, 1000 * (r + 1), &h, v, n);
                metrics_set_elastic(s->m, ids[r % SMOKE_VMS], 1, 1);
                metrics_count_action(s->m, ids[r % SMOKE_VMS], "vcpus");
        }
        return NULL;
}

static void *smoke_reader(void *arg) {
        struct smoke *s = arg;
        for (int r = 0; r < SMOKE_ROUNDS; r++) {
                char *text = NULL;
                if (metrics_prometheus(s->m, &text) < 0)
                        s->failed = true;
                free(text);
                char id[24];
                snprintf(id, sizeof id, "%d-%d", r % 2, r % SMOKE_VMS);
                struct metrics_vm_rates vr;
                (void) metrics_vm_rates(s->m, id, &vr);
                json_t *j = NULL;
                if (metrics_vm_json(s->m, id, 10, &j) == 0)
                        json_decref(j);
                if (metrics_host_json(s->m, "h0", 0, &j) == 0)
                        json_decref(j);
        }
        return NULL;
}

static void test_concurrent_writers_and_readers(void **state) {
        struct metrics *m = metrics_new(16);
        pthread_t t[4];
        struct smoke s[4];
        for (int i = 0; i < 4; i++) {
                s[i] = (struct smoke) { .m = m, .index = i };
                assert_int_equal(pthread_create(&t[i], NULL, i < 2 ? smoke_writer : smoke_reader, &s[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                assert_false(s[i].failed);
        }
        /* the last record of each writer had every VM */
        json_t *j = NULL;
        for (int w = 0; w < 2; w++) {
                char host[8];
                snprintf(host, sizeof host, "h%d", w);
                assert_int_equal(metrics_host_json(m, host, 0, &j), 0);
                assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "current"), "vms")), SMOKE_VMS);
                json_decref(j);
        }
        struct metrics_vm_rates r;
        assert_int_equal(metrics_vm_rates(m, "1-0", &r), 0);
        assert_float_equal(r.cpu_cores, 0.1, 1e-9);
        metrics_free(m);
}

static void test_free_accepts_null(void **state) {
        metrics_free(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_sample_has_no_rates),
                cmocka_unit_test(test_unknown_vm_is_not_found),
                cmocka_unit_test(test_cpu_cores_is_cpu_time_over_wall_time),
                cmocka_unit_test(test_ready_sums_vcpu_wait_and_busy_max_takes_the_busiest),
                cmocka_unit_test(test_vcpu_busy_max_is_clamped_to_one),
                cmocka_unit_test(test_domain_counter_reset_gives_zero_rates),
                cmocka_unit_test(test_vcpu_counter_reset_counts_zero_for_that_vcpu),
                cmocka_unit_test(test_hot_added_vcpu_counts_from_its_second_sample),
                cmocka_unit_test(test_clock_step_back_gives_no_rates),
                cmocka_unit_test(test_host_busy_and_idle_cores),
                cmocka_unit_test(test_host_counter_reset_gives_zero),
                cmocka_unit_test(test_ring_wraps_keeping_the_newest),
                cmocka_unit_test(test_first_sample_is_current_but_not_history),
                cmocka_unit_test(test_vms_missing_from_a_record_are_dropped),
                cmocka_unit_test(test_vm_moves_to_the_host_that_reports_it),
                cmocka_unit_test(test_id_listed_twice_counts_once),
                cmocka_unit_test(test_strings_are_copied),
                cmocka_unit_test(test_json_replaces_invalid_utf8),
                cmocka_unit_test(test_elastic_figures_and_actions),
                cmocka_unit_test(test_prometheus_one_family_at_a_time),
                cmocka_unit_test(test_prometheus_escapes_label_values),
                cmocka_unit_test(test_prometheus_replaces_invalid_utf8),
                cmocka_unit_test(test_prometheus_seconds_are_exact),
                cmocka_unit_test(test_prometheus_libvirt_series_only_for_running_domains),
                cmocka_unit_test(test_prometheus_guest_memory_only_when_reported),
                cmocka_unit_test(test_prometheus_empty),
                cmocka_unit_test(test_concurrent_writers_and_readers),
                cmocka_unit_test(test_free_accepts_null),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
