/* Unit tests of the first placement decisions (pure code). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/util.h"
#include "sched/sched.h"

static json_t *J(const char *s) {
        json_t *j = json_loads(s, 0, NULL);
        assert_non_null(j);
        return j;
}

static void picks_the_host_with_most_free_ram(void **state) {
        json_t *hosts = J("[{\"name\":\"a\",\"state\":\"up\",\"cpus\":4,\"mem_mib\":1000},"
                          " {\"name\":\"b\",\"state\":\"up\",\"cpus\":4,\"mem_mib\":1000}]");
        json_t *insts = J("[{\"id\":\"1\",\"host\":\"a\",\"vcpus\":1,\"ram_mib\":500}]");
        json_t *inst = J("{\"id\":\"2\",\"vcpus\":1,\"ram_mib\":100}");
        char *host = NULL, *reason = NULL;
        assert_int_equal(sched_pick_host(hosts, insts, inst, &host, &reason), 0);
        assert_string_equal(host, "b");
        free(host);
        json_decref(hosts), json_decref(insts), json_decref(inst);
}

static void ties_go_to_the_first_name(void **state) {
        json_t *hosts = J("[{\"name\":\"n2\",\"state\":\"up\",\"cpus\":4,\"mem_mib\":1000},"
                          " {\"name\":\"n1\",\"state\":\"up\",\"cpus\":4,\"mem_mib\":1000}]");
        json_t *insts = J("[]"), *inst = J("{\"id\":\"2\",\"vcpus\":1,\"ram_mib\":100}");
        char *host = NULL, *reason = NULL;
        assert_int_equal(sched_pick_host(hosts, insts, inst, &host, &reason), 0);
        assert_string_equal(host, "n1");
        free(host);
        json_decref(hosts), json_decref(insts), json_decref(inst);
}

static void no_valid_host_counts_hosts_per_filter(void **state) {
        json_t *hosts = J("[{\"name\":\"a\",\"state\":\"down\",\"cpus\":4,\"mem_mib\":100000},"
                          " {\"name\":\"b\",\"state\":\"up\",\"cpus\":1,\"mem_mib\":100000},"
                          " {\"name\":\"c\",\"state\":\"up\",\"cpus\":8,\"mem_mib\":100},"
                          " {\"name\":\"d\",\"state\":\"up\",\"cpus\":8,\"mem_mib\":200}]");
        json_t *insts = J("[]"), *inst = J("{\"id\":\"2\",\"vcpus\":3,\"ram_mib\":1000}");
        char *host = NULL, *reason = NULL;
        assert_int_equal(sched_pick_host(hosts, insts, inst, &host, &reason), TIDE_E_NO_HOST);
        assert_string_equal(reason, "no valid host: 4 hosts; 1 rejected by state, 1 by cpu, 2 by ram");
        free(reason);
        json_decref(hosts), json_decref(insts), json_decref(inst);
}

static void ratios_allow_overcommit_up_to_the_limit(void **state) {
        /* 2 CPUs x 2.0 = 4 vCPUs; 1000 MiB x 1.5 = 1500 MiB. */
        json_t *hosts = J("[{\"name\":\"a\",\"state\":\"up\",\"cpus\":2,\"mem_mib\":1000}]");
        json_t *insts = J("[{\"id\":\"1\",\"host\":\"a\",\"vcpus\":3,\"ram_mib\":1000}]");
        json_t *fits = J("{\"id\":\"2\",\"vcpus\":1,\"ram_mib\":500}");
        json_t *too_big = J("{\"id\":\"3\",\"vcpus\":2,\"ram_mib\":100}");
        char *host = NULL, *reason = NULL;
        assert_int_equal(sched_pick_host(hosts, insts, fits, &host, &reason), 0);
        free(host);
        assert_int_equal(sched_pick_host(hosts, insts, too_big, &host, &reason), TIDE_E_NO_HOST);
        free(reason);
        json_decref(hosts), json_decref(insts), json_decref(fits), json_decref(too_big);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(picks_the_host_with_most_free_ram),
                cmocka_unit_test(ties_go_to_the_first_name),
                cmocka_unit_test(no_valid_host_counts_hosts_per_filter),
                cmocka_unit_test(ratios_allow_overcommit_up_to_the_limit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
