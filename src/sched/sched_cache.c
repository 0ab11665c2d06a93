/* sched_cache.c — placement's view of the hosts: a table built from the store's records, kept
 * up to date key by key from watches (sched_cache.h), and the fresh read of the same view
 * (sched_snapshot_read). No logging.
 *
 * The table has one entry per host name that any of the four per-host keys names, sorted by
 * name, holding each key's parsed value and revision. The entries whose merged record makes a
 * valid host own a slot of a dense snapshot (hosts[], host_json[], alloc_rev[]), the array
 * sched_place scans; an entry that stops being placeable gives its slot to the last one. A
 * change marks its entry dirty; dirty entries are re-derived once at the end of a catch-up. */
#include "sched/sched_cache.h"

#include <pthread.h>

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"

#define HOSTLIVE_PREFIX "/tide/hostlive/"
/* One watch covers the three per-host prefixes that start with it. */
#define HOST_WATCH_PREFIX "/tide/host"

enum part { PART_RECORD, PART_LIVE, PART_CONF, PART_ALLOC, PART_MAX };

static const char *const part_prefix[PART_MAX] = {
        [PART_RECORD] = MODEL_HOSTS_PREFIX,
        [PART_LIVE] = HOSTLIVE_PREFIX,
        [PART_CONF] = SCHED_HOSTCONF_PREFIX,
        [PART_ALLOC] = SCHED_ALLOC_PREFIX,
};

/* What the cache reads and watches: each prefix once, read and watched at one revision. */
static const char *const watched[] = { HOST_WATCH_PREFIX, SCHED_ALLOC_PREFIX, SCHED_CONFIG_KEY };
#define N_WATCHED ELEMENTSOF(watched)

struct entry {
        char *name;
        bool present[PART_MAX];
        json_t *value[PART_MAX];   /* parsed; NULL when absent or not JSON (a liveness "up") */
        int64_t rev[PART_MAX];     /* revision of the last change applied (a deletion's too) */
        ssize_t slot;              /* in the snapshot, -1 when not placeable */
        bool dirty;
};

struct table {
        struct sched_snapshot snap;   /* hosts[i] belongs to owner[i] */
        struct entry **owner;
        size_t cap;
        struct entry **idx;           /* every entry, by name */
        size_t n_idx, cap_idx;
        struct entry **dirty;
        size_t n_dirty, cap_dirty;
        int64_t config_rev;
        int config_err;               /* the placement config could not be read: decisions fail */
};

static void entry_free(struct entry *e) {
        for (int p = 0; p < PART_MAX; p++)
                json_decref(e->value[p]);
        free(e->name);
        free(e);
}

static void table_clear(struct table *t) {
        for (size_t i = 0; i < t->n_idx; i++)
                entry_free(t->idx[i]);
        free(t->idx);
        free(t->owner);
        free(t->dirty);
        sched_snapshot_clear(&t->snap);
        *t = (struct table) {};
}

/* Binary search: the index of name in t->idx, or where it would go (and *found false). */
static size_t table_search(const struct table *t, const char *name, bool *found) {
        size_t lo = 0, hi = t->n_idx;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(t->idx[mid]->name, name);
                if (c == 0) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

static struct entry *table_entry(struct table *t, const char *name) {
        bool found;
        size_t at = table_search(t, name, &found);
        if (found)
                return t->idx[at];
        if (t->n_idx == t->cap_idx) {
                t->cap_idx = t->cap_idx ? 2 * t->cap_idx : 64;
                t->idx = xrealloc(t->idx, t->cap_idx * sizeof *t->idx);
        }
        /* New hosts are rare after the first read, which comes in name order (appends). */
        memmove(&t->idx[at + 1], &t->idx[at], (t->n_idx - at) * sizeof *t->idx);
        struct entry *e = xcalloc(1, sizeof *e);
        e->name = xstrdup(name);
        e->slot = -1;
        t->idx[at] = e;
        t->n_idx++;
        return e;
}

static void mark_dirty(struct table *t, struct entry *e) {
        if (e->dirty)
                return;
        if (t->n_dirty == t->cap_dirty) {
                t->cap_dirty = t->cap_dirty ? 2 * t->cap_dirty : 64;
                t->dirty = xrealloc(t->dirty, t->cap_dirty * sizeof *t->dirty);
        }
        t->dirty[t->n_dirty++] = e;
        e->dirty = true;
}

static void slot_drop(struct table *t, struct entry *e) {
        if (e->slot < 0)
                return;
        size_t i = (size_t) e->slot, last = t->snap.n - 1;
        json_decref(t->snap.host_json[i]);
        if (i != last) {
                t->snap.hosts[i] = t->snap.hosts[last];
                t->snap.host_json[i] = t->snap.host_json[last];
                t->snap.alloc_rev[i] = t->snap.alloc_rev[last];
                t->owner[i] = t->owner[last];
                t->owner[i]->slot = (ssize_t) i;
        }
        t->snap.host_json[last] = NULL;
        t->snap.n--;
        e->slot = -1;
}

/* The host record as placement reads it: the record with its state (up while its liveness key
 * exists), the load measured by its agent, the operator's settings over it, and its usage.
 * The same merge as placement has always made from a fresh read; NULL without a record. */
static json_t *entry_merge(const struct entry *e) {
        if (!json_is_object(e->value[PART_RECORD]))
                return NULL;
        json_t *h = json_copy(e->value[PART_RECORD]);   /* shallow: members are shared, never changed */
        json_object_set_new(h, "state", json_string(e->present[PART_LIVE] ? "up" : "down"));
        json_t *load = json_object_get(e->value[PART_LIVE], "load");
        if (json_is_number(load))
                json_object_set(h, "load", load);
        if (json_is_object(e->value[PART_CONF]))
                json_object_update(h, e->value[PART_CONF]);
        if (json_is_object(e->value[PART_ALLOC]))
                json_object_set(h, "used", e->value[PART_ALLOC]);
        return h;
}

/* Re-derives e's host from its parts: it takes (or keeps) a slot when it is a valid host whose
 * record names it, else it has none. An entry with no part left is forgotten (returns true). */
static bool entry_sync(struct table *t, struct entry *e) {
        e->dirty = false;
        json_t *h = entry_merge(e);
        struct sched_host host;
        _cleanup_free_ char *err = NULL;
        /* A record under another host's key would have its claims compared on one allocation
         * key and written to another: such a host takes no instances, like one tide cannot read. */
        if (!h || !streq(json_str(h, "name", ""), e->name) || sched_host_from_json(h, &host, &err) < 0) {
                json_decref(h);
                slot_drop(t, e);
                for (int p = 0; p < PART_MAX; p++)
                        if (e->present[p])
                                return false;
                return true;
        }
        if (e->slot < 0) {
                if (t->snap.n == t->cap) {
                        t->cap = t->cap ? 2 * t->cap : 64;
                        t->snap.hosts = xrealloc(t->snap.hosts, t->cap * sizeof *t->snap.hosts);
                        t->snap.host_json = xrealloc(t->snap.host_json, t->cap * sizeof *t->snap.host_json);
                        t->snap.alloc_rev = xrealloc(t->snap.alloc_rev, t->cap * sizeof *t->snap.alloc_rev);
                        t->owner = xrealloc(t->owner, t->cap * sizeof *t->owner);
                }
                e->slot = (ssize_t) t->snap.n++;
                t->snap.host_json[e->slot] = NULL;
                t->owner[e->slot] = e;
        }
        json_decref(t->snap.host_json[e->slot]);   /* after the new one is parsed: host's strings move to h */
        t->snap.hosts[e->slot] = host;
        t->snap.host_json[e->slot] = h;
        t->snap.alloc_rev[e->slot] = e->present[PART_ALLOC] ? e->rev[PART_ALLOC] : 0;
        return false;
}

/* Re-derives every dirty entry, forgetting the empty ones. */
static void table_sync(struct table *t) {
        bool forget = false;
        for (size_t i = 0; i < t->n_dirty; i++)
                forget |= entry_sync(t, t->dirty[i]);
        t->n_dirty = 0;
        if (!forget)
                return;
        size_t k = 0;
        for (size_t i = 0; i < t->n_idx; i++) {
                struct entry *e = t->idx[i];
                bool empty = e->slot < 0;
                for (int p = 0; p < PART_MAX && empty; p++)
                        empty = !e->present[p];
                if (empty)
                        entry_free(e);
                else
                        t->idx[k++] = e;
        }
        t->n_idx = k;
}

static void config_apply(struct table *t, const struct store_kv *kv, bool deleted) {
        if (kv->mod_rev <= t->config_rev)
                return;
        t->config_rev = kv->mod_rev;
        t->config_err = 0;
        sched_config_default(&t->snap.cfg);
        if (deleted)
                return;
        json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
        _cleanup_free_ char *err = NULL;
        struct sched_config cfg;
        int r = o ? sched_config_from_json(o, &cfg, &err) : TIDE_E_BACKEND;
        json_decref(o);
        if (r < 0)
                t->config_err = r;
        else
                t->snap.cfg = cfg;
}

/* Applies one change (a put, or a deletion: value NULL) of a key the cache reads; other keys
 * under the watched prefixes are ignored. Changes older than what the key shows are skipped,
 * so replaying history the table already has does no harm. */
static void table_apply(struct table *t, const struct store_kv *kv, bool deleted) {
        if (streq(kv->key, SCHED_CONFIG_KEY)) {
                config_apply(t, kv, deleted);
                return;
        }
        for (int p = 0; p < PART_MAX; p++) {
                if (!startswith(kv->key, part_prefix[p]))
                        continue;
                const char *name = kv->key + strlen(part_prefix[p]);
                if (!*name || strchr(name, '/'))
                        return;
                if (deleted) {
                        bool found;
                        size_t at = table_search(t, name, &found);
                        if (!found)
                                return;   /* nothing to forget */
                        struct entry *e = t->idx[at];
                        if (kv->mod_rev <= e->rev[p])
                                return;
                        json_decref(e->value[p]);
                        e->value[p] = NULL;
                        e->present[p] = false;
                        e->rev[p] = kv->mod_rev;
                        mark_dirty(t, e);
                        return;
                }
                struct entry *e = table_entry(t, name);
                if (kv->mod_rev <= e->rev[p])
                        return;
                json_decref(e->value[p]);
                e->value[p] = json_loadb(kv->value, kv->value_len, 0, NULL);
                e->present[p] = true;
                e->rev[p] = kv->mod_rev;
                mark_dirty(t, e);
                return;
        }
}

/* Reads everything the cache holds into an empty table; ret_revs[i] gets the revision
 * watched[i] was read at. */
static int table_read(struct store *s, struct table *t, int64_t ret_revs[N_WATCHED]) {
        sched_config_default(&t->snap.cfg);
        for (size_t i = 0; i < N_WATCHED; i++) {
                struct store_kvs kvs = {};
                int r = store_range(s, watched[i], 0, &kvs, &ret_revs[i]);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < kvs.n; k++)
                        table_apply(t, &kvs.items[k], false);
                store_kvs_clear(&kvs);
        }
        table_sync(t);
        return 0;
}

int sched_snapshot_read(struct store *s, struct sched_snapshot *ret) {
        struct table t = {};
        int64_t revs[N_WATCHED];
        int r = table_read(s, &t, revs);
        if (r >= 0)
                r = t.config_err;
        if (r >= 0) {
                *ret = t.snap;
                t.snap = (struct sched_snapshot) {};
        }
        table_clear(&t);
        return r;
}

/* ---- the cache ---- */

struct sched_cache {
        struct store *store;
        pthread_mutex_t lock;
        struct table t;
        bool loaded;
        struct store_watch *w[N_WATCHED];
        int64_t applied_rev;   /* every change up to this revision is in t; 0: not known */
        uint64_t reads;
};

int sched_cache_new(struct store *s, struct sched_cache **ret) {
        struct sched_cache *c = xcalloc(1, sizeof *c);
        c->store = s;
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

static void cache_drop(struct sched_cache *c) {
        for (size_t i = 0; i < N_WATCHED; i++) {
                store_watch_free(c->w[i]);
                c->w[i] = NULL;
        }
        table_clear(&c->t);
        c->loaded = false;
        c->applied_rev = 0;
}

void sched_cache_free(struct sched_cache *c) {
        if (!c)
                return;
        cache_drop(c);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

/* Reads everything and watches each prefix from the revision it was read at. */
static int cache_load(struct sched_cache *c) {
        int64_t revs[N_WATCHED];
        cache_drop(c);
        c->reads++;
        int r = table_read(c->store, &c->t, revs);
        for (size_t i = 0; r >= 0 && i < N_WATCHED; i++)
                r = store_watch_new(c->store, watched[i], revs[i], &c->w[i]);
        if (r < 0) {
                cache_drop(c);
                return r;
        }
        c->loaded = true;
        c->applied_rev = revs[0];   /* each prefix is in the table up to its own read at least */
        for (size_t i = 1; i < N_WATCHED; i++)
                if (revs[i] < c->applied_rev)
                        c->applied_rev = revs[i];
        return 0;
}

/* Applies every change committed so far. When the store's revision is still the one the table
 * has (the usual case when this cache's holder made the last change: sched_cache_claimed),
 * that is one cheap read instead of a fetch per watch. */
static int cache_catch_up(struct sched_cache *c) {
        int64_t rev;
        int r = store_revision(c->store, &rev);   /* sweeps expired leases first: their deletions are changes */
        if (r < 0)
                return r;
        if (rev == c->applied_rev)
                return 0;
        c->applied_rev = 0;   /* until this catch-up is done */
        for (size_t i = 0; i < N_WATCHED; i++)
                for (;;) {
                        struct store_events ev = {};
                        r = store_watch_next(c->w[i], 0, &ev);
                        if (r < 0)
                                return r;
                        for (size_t k = 0; k < ev.n; k++)
                                table_apply(&c->t, &ev.items[k].kv, ev.items[k].type == STORE_EVENT_DELETE);
                        store_events_clear(&ev);
                        if (r == 0)
                                break;
                }
        table_sync(&c->t);
        c->applied_rev = rev;   /* the watches have read at least up to it */
        return 0;
}

int sched_cache_acquire(struct sched_cache *c, struct sched_snapshot **ret) {
        pthread_mutex_lock(&c->lock);
        int r = c->loaded ? cache_catch_up(c) : cache_load(c);
        if (r == TIDE_E_COMPACTED)
                r = cache_load(c);   /* history overtaken: read everything again */
        if (r >= 0)
                r = c->t.config_err;
        if (r < 0) {
                /* A half-applied catch-up is consistent (each key is at some revision it had);
                 * its dirty entries are re-derived now so the table stays usable. */
                table_sync(&c->t);
                pthread_mutex_unlock(&c->lock);
                return r;
        }
        *ret = &c->t.snap;
        return 0;
}

void sched_cache_claimed(struct sched_cache *c, size_t i, const struct sched_host *h, json_t *used, int64_t rev) {
        struct table *t = &c->t;
        struct entry *e = t->owner[i];
        /* The watch brings this change again later; its revision being no newer than the
         * entry's, it is skipped without being parsed. */
        json_decref(e->value[PART_ALLOC]);
        e->value[PART_ALLOC] = json_incref(used);
        e->present[PART_ALLOC] = true;
        e->rev[PART_ALLOC] = rev;
        json_object_set(t->snap.host_json[i], "used", used);   /* the host's strings stay where they are */
        t->snap.hosts[i] = *h;
        t->snap.alloc_rev[i] = rev;
        if (c->applied_rev > 0 && rev == c->applied_rev + 1)
                c->applied_rev = rev;   /* nothing else happened in between */
}

void sched_cache_release(struct sched_cache *c) {
        pthread_mutex_unlock(&c->lock);
}

uint64_t sched_cache_reads(struct sched_cache *c) {
        pthread_mutex_lock(&c->lock);
        uint64_t n = c->reads;
        pthread_mutex_unlock(&c->lock);
        return n;
}
