/* Unit tests of cpuset.c: the one CPU-list parser of placement and the hypervisor drivers, its
 * formatter, and the cpumap form libvirt takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/cpuset.h"
#include "common/errors.h"
#include "common/util.h"

/* Single CPUs and ranges, in any order and overlapping; the count is of distinct CPUs. */
static void parses_cpus_and_ranges(void **state) {
        struct cpuset s;
        assert_int_equal(cpuset_parse("0", &s), 1);
        assert_true(cpuset_has(&s, 0));
        assert_int_equal(cpuset_parse("0-3,8,10-11", &s), 7);
        assert_int_equal(cpuset_count(&s), 7);
        assert_true(cpuset_has(&s, 3) && cpuset_has(&s, 8) && cpuset_has(&s, 11));
        assert_false(cpuset_has(&s, 4) || cpuset_has(&s, 9) || cpuset_has(&s, 12));
        assert_int_equal(cpuset_parse("10,2-7,3-4,10", &s), 7);
        assert_int_equal(cpuset_parse("5-5", &s), 1);
        assert_int_equal(cpuset_parse("0-1023", &s), CPUSET_MAX_CPUS);
        assert_int_equal(cpuset_parse("1023", &s), 1);
        assert_true(cpuset_has(&s, 1023));
        assert_false(cpuset_has(&s, 1022));
        assert_int_equal(cpuset_parse("007", &s), 1); /* decimal, as libvirt reads it */
        assert_true(cpuset_has(&s, 7));
}

/* The empty string is the empty set (placement's memory-only NUMA nodes and hosts with nothing
 * pinned); it replaces what *ret held. */
static void empty_string_is_the_empty_set(void **state) {
        struct cpuset s;
        assert_int_equal(cpuset_parse("0-63", &s), 64);
        assert_int_equal(cpuset_parse("", &s), 0);
        assert_int_equal(cpuset_count(&s), 0);
        for (int cpu = 0; cpu < CPUSET_MAX_CPUS; cpu++)
                assert_false(cpuset_has(&s, cpu));
}

/* Anything else is refused, and *ret is left alone. */
static void refuses_the_rest(void **state) {
        static const char *const bad[] = {
                ",",   "0,",  ",0",    "0,,1",   "-1",   "1-",     "-",
                "3-2", "3-1", "1-2-3", "0 ",     " 0",   "0, 1",   "1 2",
                "a",   "0x1", "^1",    "0-3,^2", "1024", "0-1024", "99999999999999999999",
                "+1",  "1;2", "1\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct cpuset s, before;
                memset(&s, 0xa5, sizeof s);
                before = s;
                if (cpuset_parse(bad[i], &s) != TIDE_E_INVALID)
                        fail_msg("'%s' was accepted", bad[i]);
                assert_memory_equal(&s, &before, sizeof s);
        }
        struct cpuset s;
        assert_int_equal(cpuset_parse(NULL, &s), TIDE_E_INVALID);
}

/* CPUSET_TEXT_MAX bytes are fine, one more is not: "1,1,...,1". */
static void refuses_lists_over_the_size_limit(void **state) {
        char *list = xmalloc(CPUSET_TEXT_MAX + 2);
        for (size_t i = 0; i < CPUSET_TEXT_MAX; i++)
                list[i] = i % 2 ? ',' : '1';
        list[CPUSET_TEXT_MAX - 1] = '1';
        list[CPUSET_TEXT_MAX] = '\0';
        struct cpuset s;
        assert_int_equal(cpuset_parse(list, &s), 1);
        list[CPUSET_TEXT_MAX] = '1';
        list[CPUSET_TEXT_MAX + 1] = '\0';
        assert_int_equal(cpuset_parse(list, &s), TIDE_E_INVALID);
        free(list);
}

/* Runs of two or more become ranges; the text parses back to the same set. */
static void formats_and_parses_back(void **state) {
        static const char *const lists[] = { "", "0", "0-1", "0-3,8,10-11", "1,3,5", "63-64", "1000-1023", "0-1023" };
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                struct cpuset s, back;
                assert_true(cpuset_parse(lists[i], &s) >= 0);
                char *t = cpuset_format(&s);
                assert_string_equal(t, lists[i]);
                assert_int_equal(cpuset_parse(t, &back), cpuset_count(&s));
                assert_memory_equal(&s, &back, sizeof s);
                free(t);
        }
        struct cpuset s;
        assert_int_equal(cpuset_parse("3,2,1,0,9-8", &s), TIDE_E_INVALID); /* 9-8 descends */
        assert_int_equal(cpuset_parse("3,2,1,0,8-9", &s), 6);
        char *t = cpuset_format(&s);
        assert_string_equal(t, "0-3,8-9");
        free(t);
}

/* libvirt's cpumap: bit n % 8 of byte n / 8. */
static void to_bytes_is_libvirts_cpumap(void **state) {
        struct cpuset s;
        uint8_t map[CPUSET_BYTES];
        assert_int_equal(cpuset_parse("2-7,10,1023", &s), 8);
        cpuset_to_bytes(&s, map);
        assert_int_equal(map[0], 0xfc);
        assert_int_equal(map[1], 0x04);
        for (int i = 2; i < CPUSET_BYTES - 1; i++)
                assert_int_equal(map[i], 0);
        assert_int_equal(map[CPUSET_BYTES - 1], 0x80);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(parses_cpus_and_ranges),  cmocka_unit_test(empty_string_is_the_empty_set),
                cmocka_unit_test(refuses_the_rest),        cmocka_unit_test(refuses_lists_over_the_size_limit),
                cmocka_unit_test(formats_and_parses_back), cmocka_unit_test(to_bytes_is_libvirts_cpumap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
