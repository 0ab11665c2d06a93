/* sched_json.c — JSON forms of placement (sched.h): hosts with their usage, requests, config,
 * decisions and explanations. Parsers check every member they read and say which is wrong;
 * unknown members are ignored (host records carry more than placement reads). */
#include "sched.h"

#include <math.h>
#include <stdarg.h>

#include "common/errors.h"
#include "common/util.h"

#define SCHED_VCPUS_MAX 4096 /* vCPUs of any VM, a sanity limit */

static int fail(char **ret_err, const char *fmt, ...) _printf_(2, 3);
static int fail(char **ret_err, const char *fmt, ...) {
        if (ret_err) {
                va_list ap;
                va_start(ap, fmt);
                *ret_err = xvasprintf(fmt, ap);
                va_end(ap);
        }
        return TIDE_E_INVALID;
}

/* An optional integer member in [min, max]; def when absent or null. */
static int get_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t def, int64_t *ret, char **ret_err) {
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v)) {
                *ret = def;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
                return fail(ret_err, "'%s' must be an integer from %lld to %lld", key, (long long) min,
                            (long long) max);
        *ret = json_integer_value(v);
        return 0;
}

static int need_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *ret, char **ret_err) {
        if (!json_object_get(o, key))
                return fail(ret_err, "'%s' is missing", key);
        return get_int(o, key, min, max, 0, ret, ret_err);
}

/* An optional number member (integer or real) in [min, max]; def when absent or null. */
static int get_num(json_t *o, const char *key, double min, double max, double def, double *ret, char **ret_err) {
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v)) {
                *ret = def;
                return 0;
        }
        double x = json_number_value(v);
        if (!json_is_number(v) || !isfinite(x) || x < min || x > max)
                return fail(ret_err, "'%s' must be a number from %g to %g", key, min, max);
        *ret = x;
        return 0;
}

static int get_bool(json_t *o, const char *key, bool def, bool *ret, char **ret_err) {
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v)) {
                *ret = def;
                return 0;
        }
        if (!json_is_boolean(v))
                return fail(ret_err, "'%s' must be true or false", key);
        *ret = json_is_true(v);
        return 0;
}

/* An optional string member; def when absent or null. */
static int get_str(json_t *o, const char *key, const char *def, const char **ret, char **ret_err) {
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v)) {
                *ret = def;
                return 0;
        }
        if (!json_is_string(v))
                return fail(ret_err, "'%s' must be a string", key);
        *ret = json_string_value(v);
        return 0;
}

#define TRY(expr) \
        do { \
                int _r_ = (expr); \
                if (_r_ < 0) \
                        return _r_; \
        } while (0)

static int numa_from_json(json_t *a, struct sched_host *h, char **ret_err) {
        struct cpuset seen = {};
        size_t i;
        json_t *n;
        if (!json_is_array(a) || json_array_size(a) > SCHED_MAX_NUMA)
                return fail(ret_err, "'numa' must be an array of at most %d nodes", SCHED_MAX_NUMA);
        json_array_foreach(a, i, n) {
                struct sched_numa_node *nd = &h->numa[i];
                const char *cpus = NULL;
                int64_t id, mem, hp;
                if (!json_is_object(n))
                        return fail(ret_err, "NUMA node %zu must be an object", i);
                TRY(get_int(n, "id", 0, 1 << 20, (int64_t) i, &id, ret_err));
                TRY(need_int(n, "mem_mib", 0, INT64_MAX / 4, &mem, ret_err));
                TRY(get_int(n, "hugepages_mib", 0, mem, 0, &hp, ret_err));
                TRY(get_str(n, "cpus", "", &cpus, ret_err));
                if (cpuset_parse(cpus, &nd->cpus) < 0)
                        return fail(ret_err, "NUMA node %zu: bad CPU list '%.64s'", i, cpus);
                for (size_t w = 0; w < ELEMENTSOF(seen.w); w++) {
                        if (seen.w[w] & nd->cpus.w[w])
                                return fail(ret_err, "NUMA node %zu: a CPU of another node", i);
                        seen.w[w] |= nd->cpus.w[w];
                }
                for (size_t j = 0; j < i; j++)
                        if (h->numa[j].id == id)
                                return fail(ret_err, "NUMA node id %lld twice", (long long) id);
                nd->id = (int) id;
                nd->mem_mib = mem;
                nd->hugepages_mib = hp;
        }
        h->n_numa = (int) json_array_size(a);
        return 0;
}

static int labels_from_json(json_t *o, struct sched_host *h, char **ret_err) {
        const char *key;
        json_t *v;
        if (!json_is_object(o))
                return fail(ret_err, "'labels' must be an object of \"key\": \"value\"");
        json_object_foreach(o, key, v) {
                if (json_is_null(v))
                        continue;
                if (!json_is_string(v) || !*key)
                        return fail(ret_err, "label '%.64s' must have a string value", key);
                if (h->n_labels >= SCHED_MAX_LABELS)
                        return fail(ret_err, "at most %d labels", SCHED_MAX_LABELS);
                h->labels[h->n_labels++] = (struct sched_label) { .key = key, .value = json_string_value(v) };
        }
        return 0;
}

static int usage_from_json(json_t *u, struct sched_host *h, char **ret_err) {
        const char *pinned = NULL;
        json_t *a;
        if (!json_is_object(u))
                return fail(ret_err, "'used' must be an object");
        TRY(get_int(u, "vcpus", 0, INT64_MAX / 4, 0, &h->used_vcpus, ret_err));
        TRY(get_int(u, "ram_mib", 0, INT64_MAX / 4, 0, &h->used_ram_mib, ret_err));
        TRY(get_int(u, "disk_gib", 0, INT64_MAX / 4, 0, &h->used_disk_gib, ret_err));
        TRY(get_int(u, "instances", 0, INT64_MAX / 4, 0, &h->instances, ret_err));
        TRY(get_str(u, "pinned", "", &pinned, ret_err));
        if (cpuset_parse(pinned, &h->pinned) < 0)
                return fail(ret_err, "'used.pinned': bad CPU list '%.64s'", pinned);
        a = json_object_get(u, "numa");
        if (a && !json_is_null(a)) {
                size_t i;
                json_t *n;
                if (!json_is_array(a))
                        return fail(ret_err, "'used.numa' must be an array");
                /* Entries past the host's nodes are ignored: the check reports a host whose
                 * topology shrank under its usage. */
                json_array_foreach(a, i, n) {
                        if (i >= (size_t) h->n_numa)
                                break;
                        if (!json_is_object(n))
                                return fail(ret_err, "'used.numa' entries must be objects");
                        TRY(get_int(n, "bound_ram_mib", 0, INT64_MAX / 4, 0, &h->numa[i].bound_ram_mib, ret_err));
                        TRY(get_int(n, "hugepages_used_mib", 0, INT64_MAX / 4, 0, &h->numa[i].hugepages_used_mib,
                                    ret_err));
                }
        }
        return 0;
}

int sched_host_from_json(json_t *o, struct sched_host *ret, char **ret_err) {
        /* Large (NUMA cpusets): built in place on the heap, copied out on success. */
        _cleanup_free_ struct sched_host *h = xcalloc(1, sizeof *h);
        const char *state = NULL;
        int64_t v;
        json_t *x;
        if (!json_is_object(o))
                return fail(ret_err, "a host must be an object");
        TRY(get_str(o, "name", NULL, &h->name, ret_err));
        if (!h->name || !*h->name)
                return fail(ret_err, "'name' is missing");
        TRY(get_str(o, "state", "up", &state, ret_err));
        if (!streq(state, "up") && !streq(state, "down"))
                return fail(ret_err, "'state' must be \"up\" or \"down\"");
        h->up = streq(state, "up");
        TRY(get_bool(o, "draining", false, &h->draining, ret_err));
        TRY(need_int(o, "cpus", 1, SCHED_MAX_CPUS, &v, ret_err));
        h->cpus = (int) v;
        TRY(need_int(o, "mem_mib", 0, INT64_MAX / 4, &h->mem_mib, ret_err));
        TRY(get_int(o, "disk_gib", 0, INT64_MAX / 4, 0, &h->disk_gib, ret_err));
        TRY(get_num(o, "cpu_ratio", -1, 1e6, -1, &h->cpu_ratio, ret_err));
        TRY(get_num(o, "ram_ratio", -1, 1e6, -1, &h->ram_ratio, ret_err));
        TRY(get_num(o, "disk_ratio", -1, 1e6, -1, &h->disk_ratio, ret_err));
        TRY(get_int(o, "reserved_cpus", -1, SCHED_MAX_CPUS, -1, &v, ret_err));
        h->reserved_cpus = (int) v;
        TRY(get_int(o, "reserved_ram_mib", -1, INT64_MAX / 4, -1, &h->reserved_ram_mib, ret_err));
        TRY(get_num(o, "load", -1, 1e6, -1, &h->load, ret_err));
        if ((x = json_object_get(o, "numa")) && !json_is_null(x))
                TRY(numa_from_json(x, h, ret_err));
        if ((x = json_object_get(o, "labels")) && !json_is_null(x))
                TRY(labels_from_json(x, h, ret_err));
        sched_host_sync(h); /* makes the node of a host without NUMA data */
        if ((x = json_object_get(o, "used")) && !json_is_null(x))
                TRY(usage_from_json(x, h, ret_err));
        sched_host_sync(h);
        *ret = *h;
        return 0;
}

json_t *sched_host_usage_to_json(const struct sched_host *h) {
        _cleanup_free_ char *pinned = cpuset_format(&h->pinned);
        json_t *numa = json_array();
        for (int k = 0; k < h->n_numa; k++)
                json_array_append_new(numa,
                                      json_pack("{s:I, s:I}", "bound_ram_mib", (json_int_t) h->numa[k].bound_ram_mib,
                                                "hugepages_used_mib", (json_int_t) h->numa[k].hugepages_used_mib));
        return json_pack("{s:I, s:I, s:I, s:s, s:I, s:o}", "vcpus", (json_int_t) h->used_vcpus, "ram_mib",
                         (json_int_t) h->used_ram_mib, "disk_gib", (json_int_t) h->used_disk_gib, "pinned", pinned,
                         "instances", (json_int_t) h->instances, "numa", numa);
}

int sched_request_from_json(json_t *o, struct sched_request *ret, char **ret_err) {
        struct sched_request r = { .group_policy = SCHED_GROUP_NONE };
        const char *policy = NULL, *cpu_policy = NULL;
        int64_t v;
        json_t *a;
        if (!json_is_object(o))
                return fail(ret_err, "a request must be an object");
        TRY(get_str(o, "id", NULL, &r.id, ret_err));
        TRY(need_int(o, "vcpus", 1, SCHED_VCPUS_MAX, &v, ret_err));
        r.vcpus = (int) v;
        TRY(need_int(o, "ram_mib", 0, INT64_MAX / 4, &r.ram_mib, ret_err));
        TRY(get_int(o, "disk_gib", 0, INT64_MAX / 4, 0, &r.disk_gib, ret_err));
        TRY(get_str(o, "cpu_policy", "shared", &cpu_policy, ret_err));
        if (!streq(cpu_policy, "shared") && !streq(cpu_policy, "dedicated"))
                return fail(ret_err, "'cpu_policy' must be \"shared\" or \"dedicated\"");
        r.dedicated = streq(cpu_policy, "dedicated");
        if (r.dedicated && r.vcpus > SCHED_MAX_PINNED)
                return fail(ret_err, "a dedicated VM has at most %d vCPUs", SCHED_MAX_PINNED);
        TRY(get_bool(o, "hugepages", false, &r.hugepages, ret_err));
        TRY(get_str(o, "group_policy", "none", &policy, ret_err));
        int p = sched_group_policy_from_string(policy);
        if (p < 0)
                return fail(ret_err, "unknown group policy '%.64s'", policy);
        r.group_policy = (enum sched_group_policy) p;

        a = json_object_get(o, "hints");
        if (a && !json_is_null(a)) {
                size_t i;
                json_t *s;
                if (!json_is_array(a) || json_array_size(a) > SCHED_MAX_HINTS)
                        return fail(ret_err, "'hints' must be an array of at most %d strings", SCHED_MAX_HINTS);
                json_array_foreach(a, i, s) {
                        const char *t = json_string_value(s), *eq = t ? strchr(t, '=') : NULL;
                        if (!eq || eq == t)
                                return fail(ret_err, "hint %zu must be a string key=value", i);
                        r.hints[r.n_hints++] = t;
                }
        }
        a = json_object_get(o, "group_hosts");
        if (a && !json_is_null(a)) {
                size_t i;
                json_t *s;
                if (!json_is_array(a))
                        return fail(ret_err, "'group_hosts' must be an array of host names");
                json_array_foreach(a, i, s)
                        if (!json_is_string(s))
                                return fail(ret_err, "'group_hosts' must be an array of host names");
                if (json_array_size(a) > 0) {
                        const char **hosts = xcalloc(json_array_size(a), sizeof *hosts);
                        json_array_foreach(a, i, s)
                                hosts[i] = json_string_value(s);
                        r.group_hosts = hosts;
                        r.n_group_hosts = json_array_size(a);
                }
        }
        *ret = r;
        return 0;
}

void sched_request_clear(struct sched_request *r) {
        if (!r)
                return;
        free((void *) r->group_hosts);
        r->group_hosts = NULL;
        r->n_group_hosts = 0;
}

int sched_config_from_json(json_t *o, struct sched_config *ret, char **ret_err) {
        struct sched_config c;
        const char *mode = NULL;
        int64_t v;
        json_t *w;
        sched_config_default(&c);
        if (!json_is_object(o))
                return fail(ret_err, "the placement config must be an object");
        TRY(get_num(o, "cpu_ratio", 0, 1e6, c.cpu_ratio, &c.cpu_ratio, ret_err));
        TRY(get_num(o, "ram_ratio", 0, 1e6, c.ram_ratio, &c.ram_ratio, ret_err));
        TRY(get_num(o, "disk_ratio", 0, 1e6, c.disk_ratio, &c.disk_ratio, ret_err));
        TRY(get_int(o, "reserved_cpus", 0, SCHED_MAX_CPUS, c.reserved_cpus, &v, ret_err));
        c.reserved_cpus = (int) v;
        TRY(get_int(o, "reserved_ram_mib", 0, INT64_MAX / 4, c.reserved_ram_mib, &c.reserved_ram_mib, ret_err));
        TRY(get_str(o, "mode", "spread", &mode, ret_err));
        if (streq(mode, "spread"))
                c.mode = SCHED_SPREAD;
        else if (streq(mode, "pack"))
                c.mode = SCHED_PACK;
        else
                return fail(ret_err, "'mode' must be \"spread\" or \"pack\"");
        w = json_object_get(o, "weights");
        if (w && !json_is_null(w)) {
                if (!json_is_object(w))
                        return fail(ret_err, "'weights' must be an object");
                TRY(get_num(w, "ram", -1e6, 1e6, c.w_ram, &c.w_ram, ret_err));
                TRY(get_num(w, "cpu", -1e6, 1e6, c.w_cpu, &c.w_cpu, ret_err));
                TRY(get_num(w, "load", -1e6, 1e6, c.w_load, &c.w_load, ret_err));
                TRY(get_num(w, "numa", -1e6, 1e6, c.w_numa, &c.w_numa, ret_err));
                TRY(get_num(w, "soft_affinity", -1e6, 1e6, c.w_soft_affinity, &c.w_soft_affinity, ret_err));
        }
        *ret = c;
        return 0;
}

/* Scores in JSON are rounded to 1e-6: stable text, and more than enough to compare by. */
static json_t *score_json(double s) {
        return json_real(round(s * 1e6) / 1e6);
}

json_t *sched_decision_to_json(const struct sched_host *hosts, const struct sched_decision *d) {
        json_t *pinned = json_array();
        for (int i = 0; i < d->n_pinned && i < SCHED_MAX_PINNED; i++)
                json_array_append_new(pinned, json_integer(d->pinned[i]));
        return json_pack("{s:s?, s:o, s:o, s:o}", "host", d->host >= 0 ? hosts[d->host].name : NULL, "numa_node",
                         d->numa_node >= 0 ? json_integer(d->numa_node) : json_null(), "pinned", pinned, "score",
                         score_json(d->score));
}

int sched_decision_from_json(json_t *o, struct sched_decision *ret) {
        struct sched_decision d = { .host = -1, .numa_node = -1 };
        json_t *v, *p;
        size_t i;
        if (!json_is_object(o))
                return TIDE_E_INVALID;
        v = json_object_get(o, "numa_node");
        if (v && !json_is_null(v)) {
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (1 << 20))
                        return TIDE_E_INVALID;
                d.numa_node = (int) json_integer_value(v);
        }
        p = json_object_get(o, "pinned");
        if (p && !json_is_null(p)) {
                if (!json_is_array(p) || json_array_size(p) > SCHED_MAX_PINNED)
                        return TIDE_E_INVALID;
                json_array_foreach(p, i, v) {
                        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= SCHED_MAX_CPUS)
                                return TIDE_E_INVALID;
                        d.pinned[d.n_pinned++] = (int) json_integer_value(v);
                }
        }
        v = json_object_get(o, "score");
        if (json_is_number(v))
                d.score = json_number_value(v);
        *ret = d;
        return 0;
}

struct explain_order {
        const struct sched_host *hosts;
        const struct sched_explain *e;
};

static const char *name_of(const struct sched_host *h) {
        return h->name ? h->name : "";
}

/* Passed hosts first, best score first; then rejected ones; ties by name. qsort_r's order. */
static int explain_cmp(const void *a, const void *b, void *arg) {
        const struct explain_order *o = arg;
        size_t i = *(const size_t *) a, j = *(const size_t *) b;
        bool pi = o->e[i].rejected_by < 0, pj = o->e[j].rejected_by < 0;
        if (pi != pj)
                return pi ? -1 : 1;
        if (pi && o->e[i].score != o->e[j].score)
                return o->e[i].score > o->e[j].score ? -1 : 1;
        return strcmp(name_of(&o->hosts[i]), name_of(&o->hosts[j]));
}

json_t *sched_explain_to_json(const struct sched_host *hosts, size_t n, const struct sched_explain *e) {
        _cleanup_free_ size_t *idx = xcalloc(n ? n : 1, sizeof *idx);
        struct explain_order ord = { hosts, e };
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                idx[i] = i;
        qsort_r(idx, n, sizeof *idx, explain_cmp, &ord);
        for (size_t k = 0; k < n; k++) {
                const struct sched_explain *x = &e[idx[k]];
                bool passed = x->rejected_by < 0;
                json_t *weights = passed ? json_pack("{s:o, s:o, s:o, s:o}", "ram", score_json(x->weights[0]), "cpu",
                                                     score_json(x->weights[1]), "load", score_json(x->weights[2]),
                                                     "numa", score_json(x->weights[3]))
                                         : json_null();
                json_array_append_new(a,
                                      json_pack("{s:s, s:o, s:o, s:o, s:s}", "host", name_of(&hosts[idx[k]]),
                                                "rejected_by",
                                                passed ? json_null() : json_string(sched_filter_name(x->rejected_by)),
                                                "score", passed ? score_json(x->score) : json_null(), "weights",
                                                weights, "detail", x->detail));
        }
        return a;
}
