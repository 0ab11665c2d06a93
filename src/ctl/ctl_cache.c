/* ctl_cache.c — a watch-fed copy of a prefix of the store (ctl_cache.h). Entries are kept in key
 * order in one array: a lookup is a binary search, a change a memmove; enough for the thousands
 * of keys a controller or an agent follows. */
#include "ctl/ctl_cache.h"

#include "common/errors.h"
#include "common/util.h"

struct entry {
        char *key;
        json_t *value; /* NULL when not JSON */
        int64_t mod_rev;
};

struct ctl_cache {
        struct store *s;
        char *prefix;
        struct entry *items;
        size_t n, cap;
        int64_t rev;
        struct store_watch *w; /* NULL: the next sync reads the prefix */
};

struct ctl_cache *ctl_cache_new(struct store *s, const char *prefix) {
        struct ctl_cache *c = xcalloc(1, sizeof *c);
        c->s = s;
        c->prefix = xstrdup(prefix);
        return c;
}

static void entries_clear(struct ctl_cache *c) {
        for (size_t i = 0; i < c->n; i++) {
                free(c->items[i].key);
                json_decref(c->items[i].value);
        }
        c->n = 0;
}

void ctl_cache_free(struct ctl_cache *c) {
        if (!c)
                return;
        store_watch_free(c->w);
        entries_clear(c);
        free(c->items);
        free(c->prefix);
        free(c);
}

/* The index of key, or where it would go (*found false). */
static size_t find(const struct ctl_cache *c, const char *key, bool *found) {
        size_t lo = 0, hi = c->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int d = strcmp(c->items[mid].key, key);
                if (d == 0) {
                        *found = true;
                        return mid;
                }
                if (d < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

static json_t *parse(const char *value, size_t len) {
        return value ? json_loadb(value, len, 0, NULL) : NULL;
}

static void put(struct ctl_cache *c, const struct store_kv *kv) {
        bool found;
        size_t i = find(c, kv->key, &found);
        if (found) {
                json_decref(c->items[i].value);
        } else {
                if (c->n == c->cap) {
                        c->cap = c->cap ? 2 * c->cap : 64;
                        c->items = xrealloc(c->items, c->cap * sizeof *c->items);
                }
                memmove(&c->items[i + 1], &c->items[i], (c->n - i) * sizeof *c->items);
                c->n++;
                c->items[i].key = xstrdup(kv->key);
        }
        c->items[i].value = parse(kv->value, kv->value_len);
        c->items[i].mod_rev = kv->mod_rev;
}

static void del(struct ctl_cache *c, const char *key) {
        bool found;
        size_t i = find(c, key, &found);
        if (!found)
                return;
        free(c->items[i].key);
        json_decref(c->items[i].value);
        memmove(&c->items[i], &c->items[i + 1], (c->n - i - 1) * sizeof *c->items);
        c->n--;
}

/* Reads the whole prefix at one revision and watches from the next. */
static int reload(struct ctl_cache *c) {
        struct store_kvs kvs = {};
        int64_t rev = 0;
        int r = store_range(c->s, c->prefix, 0, &kvs, &rev);
        if (r < 0)
                return r;
        struct store_watch *w = NULL;
        r = store_watch_new(c->s, c->prefix, rev, &w);
        if (r < 0) {
                store_kvs_clear(&kvs);
                return r;
        }
        entries_clear(c);
        /* A range comes in key order: appended, it stays sorted. */
        for (size_t i = 0; i < kvs.n; i++)
                put(c, &kvs.items[i]);
        int n = (int) kvs.n;
        store_kvs_clear(&kvs);
        c->w = w;
        c->rev = rev;
        return n;
}

int ctl_cache_sync(struct ctl_cache *c, int timeout_ms) {
        if (!c->w)
                return reload(c);
        int changed = 0;
        for (int wait = timeout_ms;; wait = 0) {
                struct store_events ev = {};
                int r = store_watch_next(c->w, wait, &ev);
                if (r < 0) {
                        /* Compacted or failed: read the prefix again next time. */
                        store_watch_free(c->w);
                        c->w = NULL;
                        return r == TIDE_E_COMPACTED ? reload(c) : r;
                }
                for (size_t i = 0; i < ev.n; i++) {
                        const struct store_event *e = &ev.items[i];
                        if (e->type == STORE_EVENT_PUT)
                                put(c, &e->kv);
                        else
                                del(c, e->kv.key);
                        if (e->kv.mod_rev > c->rev)
                                c->rev = e->kv.mod_rev;
                }
                store_events_clear(&ev);
                if (r == 0)
                        return changed;
                changed += r;
        }
}

void ctl_cache_resync(struct ctl_cache *c) {
        store_watch_free(c->w);
        c->w = NULL;
}

int64_t ctl_cache_revision(const struct ctl_cache *c) {
        return c->rev;
}

size_t ctl_cache_size(const struct ctl_cache *c) {
        return c->n;
}

json_t *ctl_cache_get(const struct ctl_cache *c, const char *key, int64_t *ret_mod_rev) {
        bool found;
        size_t i = find(c, key, &found);
        if (ret_mod_rev)
                *ret_mod_rev = found ? c->items[i].mod_rev : 0;
        return found ? c->items[i].value : NULL;
}

const char *ctl_cache_key_at(const struct ctl_cache *c, size_t i) {
        return i < c->n ? c->items[i].key : NULL;
}

json_t *ctl_cache_value_at(const struct ctl_cache *c, size_t i) {
        return i < c->n ? c->items[i].value : NULL;
}

json_t *ctl_cache_values(const struct ctl_cache *c) {
        json_t *a = json_array();
        for (size_t i = 0; i < c->n; i++)
                if (c->items[i].value)
                        json_array_append(a, c->items[i].value);
        return a;
}
