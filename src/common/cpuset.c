/* cpuset.c — CPU sets and CPU lists (cpuset.h). */
#include "common/cpuset.h"

#include <string.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"

int cpuset_count(const struct cpuset *s) {
        int n = 0;
        for (size_t i = 0; i < ELEMENTSOF(s->w); i++)
                n += __builtin_popcountll(s->w[i]);
        return n;
}

/* One CPU number at p: the position after it, or NULL for no digit or a number of
 * CPUSET_MAX_CPUS or more (checked digit by digit: no overflow, however long the input). */
static const char *parse_cpu(const char *p, int *ret) {
        if (*p < '0' || *p > '9')
                return NULL;
        int v = 0;
        while (*p >= '0' && *p <= '9') {
                v = v * 10 + (*p++ - '0');
                if (v >= CPUSET_MAX_CPUS)
                        return NULL;
        }
        *ret = v;
        return p;
}

int cpuset_parse(const char *text, struct cpuset *ret) {
        if (!text || strlen(text) > CPUSET_TEXT_MAX)
                return TIDE_E_INVALID;
        struct cpuset set = {};
        const char *p = text;
        while (*p) {
                int first, last;
                if (!(p = parse_cpu(p, &first)))
                        return TIDE_E_INVALID;
                last = first;
                if (*p == '-' && !(p = parse_cpu(p + 1, &last)))
                        return TIDE_E_INVALID;
                if (last < first)
                        return TIDE_E_INVALID;
                for (int cpu = first; cpu <= last; cpu++)
                        cpuset_set(&set, cpu);
                if (*p == '\0')
                        break;
                /* A comma, and a CPU after it: "1," is no list. */
                if (*p++ != ',' || *p == '\0')
                        return TIDE_E_INVALID;
        }
        *ret = set;
        return cpuset_count(&set);
}

char *cpuset_format(const struct cpuset *s) {
        struct strbuf b = STRBUF_INIT(0);
        for (int c = 0; c < CPUSET_MAX_CPUS; c++) {
                if (!cpuset_has(s, c))
                        continue;
                int end = c;
                while (end + 1 < CPUSET_MAX_CPUS && cpuset_has(s, end + 1))
                        end++;
                if (end == c)
                        strbuf_printf(&b, "%s%d", b.len ? "," : "", c);
                else
                        strbuf_printf(&b, "%s%d-%d", b.len ? "," : "", c, end);
                c = end;
        }
        return strbuf_steal(&b);
}

void cpuset_to_bytes(const struct cpuset *s, uint8_t ret[CPUSET_BYTES]) {
        for (int i = 0; i < CPUSET_BYTES; i++)
                ret[i] = (uint8_t) (s->w[i / 8] >> (8 * (i % 8)));
}
