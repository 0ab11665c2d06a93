/* metrics.c — the history of samples per VM and per host, the rates derived from them, and
 * their JSON form. The Prometheus text is in metrics_prom.c.
 *
 * Each VM and host keeps the latest sample as given (the counters the next rates are computed
 * from) and a ring of points: the gauges of each sample with the rates over it and the sample
 * before. Rates are computed once, when a sample is recorded, so a reader never walks raw
 * counters and the ring stays small (no per-vCPU arrays in it). */
#include "metrics/metrics_priv.h"

#include <assert.h>
#include <math.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"

#define NS_PER_MS 1000000.0

/* --- hash map ------------------------------------------------------------------------------ */

static uint64_t hash_str(const char *s) {
        /* FNV-1a: ids are UUIDs and names are short; nothing here is adversarial enough to need
         * a keyed hash (a VM id is chosen by tided, not by users). */
        uint64_t h = UINT64_C(14695981039346656037);
        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

static struct metrics_hnode *hmap_get(const struct metrics_hmap *map, const char *key) {
        if (!map->n_buckets)
                return NULL;
        uint64_t h = hash_str(key);
        for (struct metrics_hnode *n = map->buckets[h & (map->n_buckets - 1)]; n; n = n->next)
                if (n->hash == h && streq(n->key, key))
                        return n;
        return NULL;
}

static void hmap_grow(struct metrics_hmap *map) {
        size_t nb = map->n_buckets ? map->n_buckets * 2 : 16;
        struct metrics_hnode **b = xcalloc(nb, sizeof *b);
        for (size_t i = 0; i < map->n_buckets; i++)
                for (struct metrics_hnode *n = map->buckets[i], *next; n; n = next) {
                        next = n->next;
                        n->next = b[n->hash & (nb - 1)];
                        b[n->hash & (nb - 1)] = n;
                }
        free(map->buckets);
        map->buckets = b;
        map->n_buckets = nb;
}

/* node->key must be set and not present yet. */
static void hmap_put(struct metrics_hmap *map, struct metrics_hnode *node) {
        if (map->n + 1 > map->n_buckets * 3 / 4)
                hmap_grow(map);
        node->hash = hash_str(node->key);
        struct metrics_hnode **b = &map->buckets[node->hash & (map->n_buckets - 1)];
        node->next = *b;
        *b = node;
        map->n++;
}

static void hmap_remove(struct metrics_hmap *map, struct metrics_hnode *node) {
        for (struct metrics_hnode **p = &map->buckets[node->hash & (map->n_buckets - 1)]; *p; p = &(*p)->next)
                if (*p == node) {
                        *p = node->next;
                        map->n--;
                        return;
                }
}

/* Loops over every node; the body may not change the map. */
#define HMAP_FOREACH(map, n) \
        for (size_t _b_ = 0; _b_ < (map)->n_buckets; _b_++) \
                for (struct metrics_hnode *n = (map)->buckets[_b_]; n; n = n->next)

/* --- objects ------------------------------------------------------------------------------- */

static void vm_free(struct metrics_vm *vm) {
        if (!vm)
                return;
        for (size_t i = 0; i < vm->n_actions; i++)
                free(vm->actions[i].kind);
        free(vm->actions);
        free(vm->ring);
        free(vm->id);
        free(vm->name);
        free(vm);
}

static void host_unlink_vm(struct metrics_vm *vm) {
        struct metrics_host *h = vm->host;
        if (!h)
                return;
        if (vm->host_prev)
                vm->host_prev->host_next = vm->host_next;
        else
                h->vms = vm->host_next;
        if (vm->host_next)
                vm->host_next->host_prev = vm->host_prev;
        vm->host_prev = vm->host_next = NULL;
        vm->host = NULL;
        h->n_vms--;
}

static void host_link_vm(struct metrics_host *h, struct metrics_vm *vm) {
        vm->host = h;
        vm->host_prev = NULL;
        vm->host_next = h->vms;
        if (h->vms)
                h->vms->host_prev = vm;
        h->vms = vm;
        h->n_vms++;
}

static void host_free(struct metrics_host *h) {
        if (!h)
                return;
        free(h->ring);
        free(h->name);
        free(h);
}

struct metrics *metrics_new(size_t history) {
        struct metrics *m = xcalloc(1, sizeof *m);
        m->history = history ? history : METRICS_HISTORY_DEFAULT;
        pthread_mutex_init(&m->lock, NULL);
        return m;
}

void metrics_free(struct metrics *m) {
        if (!m)
                return;
        for (size_t b = 0; b < m->vms.n_buckets; b++)
                for (struct metrics_hnode *n = m->vms.buckets[b], *next; n; n = next) {
                        next = n->next;
                        vm_free((struct metrics_vm *) n);
                }
        for (size_t b = 0; b < m->hosts.n_buckets; b++)
                for (struct metrics_hnode *n = m->hosts.buckets[b], *next; n; n = next) {
                        next = n->next;
                        host_free((struct metrics_host *) n);
                }
        free(m->vms.buckets);
        free(m->hosts.buckets);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

static void vm_drop(struct metrics *m, struct metrics_vm *vm) {
        host_unlink_vm(vm);
        hmap_remove(&m->vms, &vm->node);
        vm_free(vm);
}

/* --- rates --------------------------------------------------------------------------------- */

/* Counter increase per nanosecond of wall time: a negative increase is a reset (a restarted
 * domain counts from zero again) and gives 0 rather than a huge negative rate. */
static double rate(int64_t prev, int64_t cur, double dt_ns) {
        return cur >= prev ? (double) (cur - prev) / dt_ns : 0.0;
}

static double clamp01(double x) {
        return x < 0 ? 0 : x > 1 ? 1 : x;
}

static int clamp_vcpus(int n) {
        return n < 0 ? 0 : n > METRICS_MAX_VCPUS ? METRICS_MAX_VCPUS : n;
}

static void vm_point_compute(const struct metrics_vm *vm, bool has_prev, int64_t t_ms,
                             const struct metrics_vm_sample *s, struct metrics_vm_point *p) {
        *p = (struct metrics_vm_point) {
                .t_ms = t_ms,
                .running = s->running,
                .vcpus = s->vcpus,
                .vcpus_max = s->vcpus_max,
                .balloon_kib = s->balloon_current_kib,
                .balloon_max_kib = s->balloon_max_kib,
                .has_guest_mem = s->has_guest_mem,
                .mem_available_kib = s->has_guest_mem ? s->mem_available_kib : 0,
                .mem_unused_kib = s->has_guest_mem ? s->mem_unused_kib : 0,
                .mem_usable_kib = s->has_guest_mem ? s->mem_usable_kib : 0,
                .mem_rss_kib = s->mem_rss_kib,
        };
        if (!has_prev || t_ms <= vm->last_t_ms)
                return;
        p->has_rates = true;
        const struct metrics_vm_sample *prev = &vm->last;
        /* A domain whose total went back was restarted (or migrated in): its per-vCPU counters
         * restarted too, even those that happen to be above their old values already. */
        if (s->cpu_time_ns < prev->cpu_time_ns)
                return;
        double dt = (double) (t_ms - vm->last_t_ms) * NS_PER_MS;
        p->cpu_cores = rate(prev->cpu_time_ns, s->cpu_time_ns, dt);
        /* vCPUs hot-added since the last sample have no previous value: they count from the
         * next sample on. */
        int n = s->n_vcpu < prev->n_vcpu ? s->n_vcpu : prev->n_vcpu;
        double busy_max = 0, ready = 0;
        for (int i = 0; i < n; i++) {
                double busy = clamp01(rate(prev->vcpu_time_ns[i], s->vcpu_time_ns[i], dt));
                if (busy > busy_max)
                        busy_max = busy;
                ready += rate(prev->vcpu_wait_ns[i], s->vcpu_wait_ns[i], dt);
        }
        p->ready_cores = ready;
        p->vcpu_busy_max = busy_max;
}

static void host_point_compute(const struct metrics_host *h, bool has_prev, int64_t t_ms,
                               const struct metrics_host_sample *s, struct metrics_host_point *p) {
        *p = (struct metrics_host_point) {
                .t_ms = t_ms,
                .cpus = s->cpus,
                .mem_total_kib = s->mem_total_kib,
                .mem_free_kib = s->mem_free_kib,
                .mem_available_kib = s->mem_available_kib,
                .load1 = s->load1,
                .load5 = s->load5,
                .load15 = s->load15,
        };
        if (!has_prev || t_ms <= h->last_t_ms)
                return;
        p->has_rates = true;
        const struct metrics_host_sample *prev = &h->last;
        double dt = (double) (t_ms - h->last_t_ms) * NS_PER_MS;
        p->cpu_busy_cores = rate(prev->cpu_user_ns + prev->cpu_system_ns, s->cpu_user_ns + s->cpu_system_ns, dt);
        p->cpu_idle_cores = rate(prev->cpu_idle_ns, s->cpu_idle_ns, dt);
        p->cpu_iowait_cores = rate(prev->cpu_iowait_ns, s->cpu_iowait_ns, dt);
}

/* --- recording ----------------------------------------------------------------------------- */

static struct metrics_host *host_get(struct metrics *m, const char *name) {
        struct metrics_host *h = (struct metrics_host *) hmap_get(&m->hosts, name);
        if (h)
                return h;
        h = xcalloc(1, sizeof *h);
        h->name = xstrdup(name);
        h->node.key = h->name;
        h->ring = xcalloc(m->history, sizeof *h->ring);
        hmap_put(&m->hosts, &h->node);
        return h;
}

static struct metrics_vm *vm_get(struct metrics *m, const char *id) {
        struct metrics_vm *vm = (struct metrics_vm *) hmap_get(&m->vms, id);
        if (vm)
                return vm;
        vm = xcalloc(1, sizeof *vm);
        vm->id = xstrdup(id);
        vm->node.key = vm->id;
        vm->ring = xcalloc(m->history, sizeof *vm->ring);
        hmap_put(&m->vms, &vm->node);
        return vm;
}

static void record_host(struct metrics *m, struct metrics_host *h, int64_t t_ms, const struct metrics_host_sample *s) {
        struct metrics_host_point p;
        host_point_compute(h, h->len > 0, t_ms, s, &p);
        if (h->len < m->history)
                h->ring[(h->head + h->len++) % m->history] = p;
        else {
                h->ring[h->head] = p;
                h->head = (h->head + 1) % m->history;
        }
        h->last = *s;
        h->last.host = h->name;
        h->last_t_ms = t_ms;
}

static void record_vm(struct metrics *m, struct metrics_host *h, int64_t t_ms, const struct metrics_vm_sample *s) {
        struct metrics_vm *vm = vm_get(m, s->id);
        if (vm->seen == m->gen)
                return; /* listed twice in one record: the first one counts */
        vm->seen = m->gen;
        if (vm->host != h) {
                host_unlink_vm(vm);
                host_link_vm(h, vm);
        }
        const char *name = s->name ? s->name : "";
        if (!vm->name || !streq(vm->name, name)) {
                free(vm->name);
                vm->name = xstrdup(name);
        }

        struct metrics_vm_point p;
        vm_point_compute(vm, vm->len > 0, t_ms, s, &p);
        if (vm->len < m->history)
                vm->ring[(vm->head + vm->len++) % m->history] = p;
        else {
                vm->ring[vm->head] = p;
                vm->head = (vm->head + 1) % m->history;
        }

        /* Only the first n_vcpu entries of the arrays mean anything: those alone are copied. */
        int n = clamp_vcpus(s->n_vcpu);
        struct metrics_vm_sample *l = &vm->last;
        *l = (struct metrics_vm_sample) {
                .id = vm->id,
                .name = vm->name,
                .host = h->name,
                .running = s->running,
                .cpu_time_ns = s->cpu_time_ns,
                .vcpus = s->vcpus,
                .vcpus_max = s->vcpus_max,
                .n_vcpu = n,
                .balloon_current_kib = s->balloon_current_kib,
                .balloon_max_kib = s->balloon_max_kib,
                .has_guest_mem = s->has_guest_mem,
                .mem_available_kib = s->mem_available_kib,
                .mem_unused_kib = s->mem_unused_kib,
                .mem_usable_kib = s->mem_usable_kib,
                .mem_rss_kib = s->mem_rss_kib,
                .block_rd_bytes = s->block_rd_bytes,
                .block_wr_bytes = s->block_wr_bytes,
                .block_rd_reqs = s->block_rd_reqs,
                .block_wr_reqs = s->block_wr_reqs,
                .net_rx_bytes = s->net_rx_bytes,
                .net_tx_bytes = s->net_tx_bytes,
                .net_rx_packets = s->net_rx_packets,
                .net_tx_packets = s->net_tx_packets,
        };
        memcpy(l->vcpu_time_ns, s->vcpu_time_ns, (size_t) n * sizeof s->vcpu_time_ns[0]);
        memcpy(l->vcpu_wait_ns, s->vcpu_wait_ns, (size_t) n * sizeof s->vcpu_wait_ns[0]);
        vm->last_t_ms = t_ms;
}

void metrics_record(struct metrics *m, int64_t t_ms, const struct metrics_host_sample *host,
                    const struct metrics_vm_sample *vms, size_t n_vms) {
        assert(m && host && host->host);
        pthread_mutex_lock(&m->lock);
        m->gen++;
        struct metrics_host *h = host_get(m, host->host);
        record_host(m, h, t_ms, host);
        for (size_t i = 0; i < n_vms; i++)
                if (vms[i].id)
                        record_vm(m, h, t_ms, &vms[i]);
        for (struct metrics_vm *vm = h->vms, *next; vm; vm = next) {
                next = vm->host_next;
                if (vm->seen != m->gen)
                        vm_drop(m, vm);
        }
        pthread_mutex_unlock(&m->lock);
}

/* --- readers ------------------------------------------------------------------------------- */

int metrics_vm_rates(struct metrics *m, const char *id, struct metrics_vm_rates *ret) {
        *ret = (struct metrics_vm_rates) {};
        pthread_mutex_lock(&m->lock);
        struct metrics_vm *vm = id ? (struct metrics_vm *) hmap_get(&m->vms, id) : NULL;
        int r = TIDE_E_NOT_FOUND;
        if (vm) {
                const struct metrics_vm_point *p = metrics_vm_latest(vm, m->history);
                *ret = (struct metrics_vm_rates) {
                        .t_ms = p->t_ms,
                        .vcpus = p->vcpus,
                        .vcpus_max = p->vcpus_max,
                        .balloon_kib = p->balloon_kib,
                        .balloon_max_kib = p->balloon_max_kib,
                        .has_guest_mem = p->has_guest_mem,
                        .mem_usable_kib = p->mem_usable_kib,
                        .mem_unused_kib = p->mem_unused_kib,
                        .mem_available_kib = p->mem_available_kib,
                };
                if (p->has_rates) {
                        ret->cpu_cores = p->cpu_cores;
                        ret->ready_cores = p->ready_cores;
                        ret->vcpu_busy_max = p->vcpu_busy_max;
                        r = 0;
                }
        }
        pthread_mutex_unlock(&m->lock);
        return r;
}

int metrics_host_rates(struct metrics *m, const char *host, struct metrics_host_rates *ret) {
        *ret = (struct metrics_host_rates) {};
        pthread_mutex_lock(&m->lock);
        struct metrics_host *h = host ? (struct metrics_host *) hmap_get(&m->hosts, host) : NULL;
        int r = TIDE_E_NOT_FOUND;
        if (h) {
                const struct metrics_host_point *p = metrics_host_latest(h, m->history);
                *ret = (struct metrics_host_rates) {
                        .t_ms = p->t_ms,
                        .cpus = p->cpus,
                        .mem_total_kib = p->mem_total_kib,
                        .mem_available_kib = p->mem_available_kib,
                        .load1 = p->load1,
                };
                if (p->has_rates) {
                        ret->cpu_busy_cores = p->cpu_busy_cores;
                        ret->cpu_idle_cores = p->cpu_idle_cores;
                        r = 0;
                }
        }
        pthread_mutex_unlock(&m->lock);
        return r;
}

/* --- the elastic loop's figures ------------------------------------------------------------ */

static double finite_or_zero(double x) {
        return isfinite(x) ? x : 0.0;
}

void metrics_set_elastic(struct metrics *m, const char *id, double demand_cores, double entitlement_cores) {
        if (!id)
                return;
        pthread_mutex_lock(&m->lock);
        struct metrics_vm *vm = (struct metrics_vm *) hmap_get(&m->vms, id);
        if (vm) {
                vm->has_elastic = true;
                vm->demand_cores = finite_or_zero(demand_cores);
                vm->entitlement_cores = finite_or_zero(entitlement_cores);
        }
        pthread_mutex_unlock(&m->lock);
}

void metrics_count_action(struct metrics *m, const char *id, const char *kind) {
        if (!id || !kind)
                return;
        pthread_mutex_lock(&m->lock);
        struct metrics_vm *vm = (struct metrics_vm *) hmap_get(&m->vms, id);
        if (vm) {
                /* Kept sorted by kind, the order the exposition prints them in; a VM sees a
                 * handful of kinds, so a linear scan is the right search. */
                size_t i = 0;
                int c = 1;
                while (i < vm->n_actions && (c = strcmp(vm->actions[i].kind, kind)) < 0)
                        i++;
                if (i == vm->n_actions || c != 0) {
                        vm->actions = xrealloc(vm->actions, (vm->n_actions + 1) * sizeof *vm->actions);
                        memmove(&vm->actions[i + 1], &vm->actions[i], (vm->n_actions - i) * sizeof *vm->actions);
                        vm->actions[i] = (struct metrics_action) { .kind = xstrdup(kind) };
                        vm->n_actions++;
                }
                vm->actions[i].count++;
        }
        pthread_mutex_unlock(&m->lock);
}

/* --- sorted views -------------------------------------------------------------------------- */

static int cmp_vm(const void *a, const void *b) {
        const struct metrics_vm *x = *(struct metrics_vm *const *) a, *y = *(struct metrics_vm *const *) b;
        int c = strcmp(x->host->name, y->host->name);
        if (!c)
                c = strcmp(x->name, y->name);
        return c ? c : strcmp(x->id, y->id);
}

static int cmp_host(const void *a, const void *b) {
        const struct metrics_host *x = *(struct metrics_host *const *) a, *y = *(struct metrics_host *const *) b;
        return strcmp(x->name, y->name);
}

void metrics_sorted_vms(struct metrics *m, struct metrics_vm ***ret, size_t *ret_n) {
        struct metrics_vm **v = xcalloc(m->vms.n, sizeof *v);
        size_t n = 0;
        HMAP_FOREACH(&m->vms, node)
                v[n++] = (struct metrics_vm *) node;
        qsort(v, n, sizeof *v, cmp_vm);
        *ret = v;
        *ret_n = n;
}

void metrics_sorted_hosts(struct metrics *m, struct metrics_host ***ret, size_t *ret_n) {
        struct metrics_host **v = xcalloc(m->hosts.n, sizeof *v);
        size_t n = 0;
        HMAP_FOREACH(&m->hosts, node)
                v[n++] = (struct metrics_host *) node;
        qsort(v, n, sizeof *v, cmp_host);
        *ret = v;
        *ret_n = n;
}

/* --- JSON ---------------------------------------------------------------------------------- */

size_t metrics_utf8_len(const unsigned char *s) {
        unsigned char c = s[0];
        if (c < 0x80)
                return 1;
        size_t n;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0)
                n = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
                n = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
                n = 4, cp = c & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80) /* the NUL terminator fails here too */
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

/* s as a JSON string: jansson takes UTF-8 only, so a byte outside a valid sequence becomes
 * U+FFFD (names and ids are validated long before; this keeps one odd byte from costing the
 * whole answer). */
static char *utf8_clean(const char *s) {
        struct strbuf b = STRBUF_INIT(0);
        const unsigned char *u = (const unsigned char *) s;
        for (size_t i = 0; u[i];) {
                size_t n = metrics_utf8_len(u + i);
                if (n == 0) {
                        strbuf_append(&b, "\xef\xbf\xbd", 3);
                        i++;
                } else {
                        strbuf_append(&b, s + i, n);
                        i += n;
                }
        }
        return strbuf_steal(&b);
}

static json_t *metrics_text_value(const char *s) {
        json_t *j = json_string(s);
        if (j)
                return j;
        _cleanup_free_ char *c = utf8_clean(s);
        return json_string(c);
}


/* Rates to a millionth: enough for cores and ratios, and no 0.30000000000000004 in the CLI. */
static json_t *metrics_rate_value(double x) {
        return json_real(round(finite_or_zero(x) * 1e6) / 1e6);
}

static json_t *vm_point_json(const struct metrics_vm_point *p) {
        json_t *o = json_pack("{s:I,s:b,s:i,s:i,s:I,s:I}", "t_ms", (json_int_t) p->t_ms, "running", p->running, "vcpus",
                              p->vcpus, "vcpus_max", p->vcpus_max, "balloon_kib", (json_int_t) p->balloon_kib,
                              "balloon_max_kib", (json_int_t) p->balloon_max_kib);
        if (p->has_rates) {
                json_object_set_new(o, "cpu_cores", metrics_rate_value(p->cpu_cores));
                json_object_set_new(o, "ready_cores", metrics_rate_value(p->ready_cores));
                json_object_set_new(o, "vcpu_busy_max", metrics_rate_value(p->vcpu_busy_max));
        }
        if (p->has_guest_mem) {
                json_object_set_new(o, "mem_available_kib", json_integer(p->mem_available_kib));
                json_object_set_new(o, "mem_unused_kib", json_integer(p->mem_unused_kib));
                json_object_set_new(o, "mem_usable_kib", json_integer(p->mem_usable_kib));
        }
        if (p->mem_rss_kib > 0)
                json_object_set_new(o, "mem_rss_kib", json_integer(p->mem_rss_kib));
        return o;
}

static json_t *host_point_json(const struct metrics_host_point *p) {
        json_t *o = json_pack("{s:I,s:i,s:I,s:I,s:I,s:o,s:o,s:o}", "t_ms", (json_int_t) p->t_ms, "cpus", p->cpus,
                              "mem_total_kib", (json_int_t) p->mem_total_kib, "mem_free_kib",
                              (json_int_t) p->mem_free_kib, "mem_available_kib", (json_int_t) p->mem_available_kib,
                              "load1", metrics_rate_value(p->load1), "load5", metrics_rate_value(p->load5), "load15",
                              metrics_rate_value(p->load15));
        if (p->has_rates) {
                json_object_set_new(o, "cpu_busy_cores", metrics_rate_value(p->cpu_busy_cores));
                json_object_set_new(o, "cpu_idle_cores", metrics_rate_value(p->cpu_idle_cores));
                json_object_set_new(o, "cpu_iowait_cores", metrics_rate_value(p->cpu_iowait_cores));
        }
        return o;
}

/* Index (0 = oldest kept) of the first of the last `limit` entries with rates. */
static size_t history_start(const bool *has_rates_at, size_t len, size_t limit) {
        size_t start = len, taken = 0;
        while (start > 0 && (!limit || taken < limit)) {
                start--;
                if (has_rates_at[start])
                        taken++;
        }
        return start;
}

int metrics_vm_json(struct metrics *m, const char *id, size_t limit, json_t **ret) {
        pthread_mutex_lock(&m->lock);
        struct metrics_vm *vm = id ? (struct metrics_vm *) hmap_get(&m->vms, id) : NULL;
        if (!vm) {
                pthread_mutex_unlock(&m->lock);
                return TIDE_E_NOT_FOUND;
        }
        size_t cap = m->history;
        _cleanup_free_ bool *has = xcalloc(vm->len, sizeof *has);
        for (size_t i = 0; i < vm->len; i++)
                has[i] = vm->ring[(vm->head + i) % cap].has_rates;
        json_t *hist = json_array();
        for (size_t i = history_start(has, vm->len, limit); i < vm->len; i++)
                if (has[i])
                        json_array_append_new(hist, vm_point_json(&vm->ring[(vm->head + i) % cap]));
        json_t *cur = vm_point_json(metrics_vm_latest(vm, cap));
        if (vm->has_elastic) {
                json_object_set_new(cur, "demand_cores", metrics_rate_value(vm->demand_cores));
                json_object_set_new(cur, "entitlement_cores", metrics_rate_value(vm->entitlement_cores));
        }
        json_t *actions = json_object();
        for (size_t i = 0; i < vm->n_actions; i++) {
                _cleanup_free_ char *kind = utf8_clean(vm->actions[i].kind);
                json_object_set_new(actions, kind, json_integer((json_int_t) vm->actions[i].count));
        }
        *ret = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "id", metrics_text_value(vm->id), "name",
                         metrics_text_value(vm->name), "host", metrics_text_value(vm->host->name), "current", cur,
                         "actions", actions, "history", hist);
        pthread_mutex_unlock(&m->lock);
        return 0;
}

int metrics_host_json(struct metrics *m, const char *host, size_t limit, json_t **ret) {
        pthread_mutex_lock(&m->lock);
        struct metrics_host *h = host ? (struct metrics_host *) hmap_get(&m->hosts, host) : NULL;
        if (!h) {
                pthread_mutex_unlock(&m->lock);
                return TIDE_E_NOT_FOUND;
        }
        size_t cap = m->history;
        _cleanup_free_ bool *has = xcalloc(h->len, sizeof *has);
        for (size_t i = 0; i < h->len; i++)
                has[i] = h->ring[(h->head + i) % cap].has_rates;
        json_t *hist = json_array();
        for (size_t i = history_start(has, h->len, limit); i < h->len; i++)
                if (has[i])
                        json_array_append_new(hist, host_point_json(&h->ring[(h->head + i) % cap]));
        json_t *cur = host_point_json(metrics_host_latest(h, cap));
        json_object_set_new(cur, "vms", json_integer((json_int_t) h->n_vms));
        *ret = json_pack("{s:o,s:o,s:o}", "host", metrics_text_value(h->name), "current", cur, "history", hist);
        pthread_mutex_unlock(&m->lock);
        return 0;
}
