/* sched_cpuset.c — CPU sets of placement: counting, and the "0-3,8,10-11" text form. */
#include "sched.h"

#include <ctype.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"

int sched_cpuset_count(const sched_cpuset *s) {
        int n = 0;
        for (size_t i = 0; i < ELEMENTSOF(s->w); i++)
                n += __builtin_popcountll(s->w[i]);
        return n;
}

/* A CPU number at *p, advancing p past it; -1 when there is none or it is out of range. */
static int parse_cpu(const char **p) {
        const char *s = *p;
        int v = 0;
        if (!isdigit((unsigned char) *s))
                return -1;
        while (isdigit((unsigned char) *s)) {
                v = v * 10 + (*s - '0');
                if (v >= SCHED_MAX_CPUS)
                        return -1;
                s++;
        }
        *p = s;
        return v;
}

int sched_cpuset_parse(const char *s, sched_cpuset *ret) {
        sched_cpuset set = {};
        const char *p = s;
        if (!s)
                return TIDE_E_INVALID;
        /* The empty string is the empty set (a memory-only NUMA node has no CPUs). */
        while (*p) {
                int lo = parse_cpu(&p), hi;
                if (lo < 0)
                        return TIDE_E_INVALID;
                hi = lo;
                if (*p == '-') {
                        p++;
                        hi = parse_cpu(&p);
                        if (hi < lo)
                                return TIDE_E_INVALID;
                }
                for (int c = lo; c <= hi; c++)
                        sched_cpuset_set(&set, c);
                if (*p == ',') {
                        p++;
                        if (!*p)
                                return TIDE_E_INVALID;
                } else if (*p)
                        return TIDE_E_INVALID;
        }
        *ret = set;
        return 0;
}

char *sched_cpuset_format(const sched_cpuset *s) {
        struct strbuf b = STRBUF_INIT(0);
        for (int c = 0; c < SCHED_MAX_CPUS; c++) {
                if (!sched_cpuset_has(s, c))
                        continue;
                int end = c;
                while (end + 1 < SCHED_MAX_CPUS && sched_cpuset_has(s, end + 1))
                        end++;
                if (end == c)
                        strbuf_printf(&b, "%s%d", b.len ? "," : "", c);
                else
                        strbuf_printf(&b, "%s%d-%d", b.len ? "," : "", c, end);
                c = end;
        }
        return strbuf_steal(&b);
}
