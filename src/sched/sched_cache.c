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
#include "common/tide_json.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"

/* While claims are in flight, how often a commit's thread catches up for the decisions that
 * do not wait for the store (sched_cache_claim_end). */
#define CATCH_UP_INTERVAL_US 10000

enum part { PART_RECORD, PART_LIVE, PART_CONF, PART_ALLOC, PART_MAX };

static const char *const part_prefix[PART_MAX] = {
        [PART_RECORD] = MODEL_KEY_HOSTS,
        [PART_LIVE] = MODEL_KEY_HOSTLIVE,
        [PART_CONF] = MODEL_KEY_HOSTCONF,
        [PART_ALLOC] = MODEL_KEY_ALLOC,
};

/* What the cache reads and watches: all read at one revision, and each watched from it. */
static const char *const watched[] = { MODEL_KEY_HOST_ANY, MODEL_KEY_ALLOC, MODEL_KEY_PLACEMENT_CONFIG };
#define N_WATCHED ELEMENTSOF(watched)

struct entry;

/* A decision booked on the view while its transaction runs (sched_cache_claim_begin). */
struct sched_cache_claim {
        char *host;
        int64_t base_rev;         /* the allocation revision the decision was made on */
        struct sched_request req; /* its sizes only: no strings are kept */
        struct sched_decision d;
        struct sched_cache_claim *next;
};

struct entry {
        char *name;
        struct sched_cache_claim *claim; /* in flight on this host, at most one */
        bool present[PART_MAX];
        json_t *value[PART_MAX];      /* parsed; NULL when absent or not JSON (a liveness "up") */
        int64_t rev[PART_MAX];        /* revision of the last change applied (a deletion's too) */
        int64_t create_rev[PART_MAX]; /* of the value present; 0 when absent */
        ssize_t slot;                 /* in the snapshot, -1 when not placeable */
        bool dirty;
};

struct table {
        struct sched_snapshot snap; /* hosts[i] belongs to owner[i] */
        struct entry **owner;
        size_t cap;
        struct entry **idx; /* every entry, by name */
        size_t n_idx, cap_idx;
        struct entry **dirty;
        size_t n_dirty, cap_dirty;
        int64_t config_rev;
        int config_err; /* the placement config could not be read: decisions fail */
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
                t->snap.basis[i] = t->snap.basis[last];
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
        json_t *h = json_copy(e->value[PART_RECORD]); /* shallow: members are shared, never changed */
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
        _cleanup_json_ json_t *h = entry_merge(e);
        struct sched_host host;
        _cleanup_free_ char *err = NULL;
        /* A record under another host's key would have its claims compared on one allocation
         * key and written to another: such a host takes no instances, like one tide cannot read. */
        if (!h || !streq(tide_json_str(h, "name", ""), e->name) || sched_host_from_json(h, &host, &err) < 0) {
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
                        /* A placement reads every host: at 3.7 KiB each, one TLB miss per host
                         * without huge pages (a third of a decision's time at 10,000 hosts). */
                        mem_advise_huge(t->snap.hosts, t->cap * sizeof *t->snap.hosts);
                        t->snap.host_json = xrealloc(t->snap.host_json, t->cap * sizeof *t->snap.host_json);
                        t->snap.alloc_rev = xrealloc(t->snap.alloc_rev, t->cap * sizeof *t->snap.alloc_rev);
                        t->snap.basis = xrealloc(t->snap.basis, t->cap * sizeof *t->snap.basis);
                        t->owner = xrealloc(t->owner, t->cap * sizeof *t->owner);
                }
                e->slot = (ssize_t) t->snap.n++;
                t->snap.host_json[e->slot] = NULL;
                t->owner[e->slot] = e;
        }
        json_decref(t->snap.host_json[e->slot]); /* after the new one is parsed: host's strings move to h */
        t->snap.hosts[e->slot] = host;
        t->snap.host_json[e->slot] = TAKE_PTR(h);
        t->snap.alloc_rev[e->slot] = e->present[PART_ALLOC] ? e->rev[PART_ALLOC] : 0;
        t->snap.basis[e->slot] = (struct sched_basis) {
                .record_rev = e->present[PART_RECORD] ? e->rev[PART_RECORD] : 0,
                .conf_rev = e->present[PART_CONF] ? e->rev[PART_CONF] : 0,
                .live_create_rev = e->create_rev[PART_LIVE],
        };
        /* A claim in flight stays booked while the allocation is the one it was decided on;
         * once the allocation changed, the change is its commit (which holds it) or another
         * writer's (which makes its commit fail): either way the view shows the store. */
        if (e->claim && t->snap.alloc_rev[e->slot] == e->claim->base_rev)
                sched_claim(&t->snap.hosts[e->slot], &e->claim->req, &e->claim->d);
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
        t->snap.config_rev = deleted ? 0 : kv->mod_rev;
        sched_config_default(&t->snap.cfg);
        if (deleted)
                return;
        _cleanup_json_ json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
        _cleanup_free_ char *err = NULL;
        struct sched_config cfg;
        int r = o ? sched_config_from_json(o, &cfg, &err) : TIDE_E_BACKEND;
        if (r < 0)
                t->config_err = r;
        else
                t->snap.cfg = cfg;
}

/* Applies one change (a put, or a deletion: value NULL) of a key the cache reads; other keys
 * under the watched prefixes are ignored. Changes older than what the key shows are skipped,
 * so replaying history the table already has does no harm. */
static void table_apply(struct table *t, const struct store_kv *kv, bool deleted) {
        if (streq(kv->key, MODEL_KEY_PLACEMENT_CONFIG)) {
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
                                return; /* nothing to forget */
                        struct entry *e = t->idx[at];
                        if (kv->mod_rev <= e->rev[p])
                                return;
                        json_decref(e->value[p]);
                        e->value[p] = NULL;
                        e->present[p] = false;
                        e->rev[p] = kv->mod_rev;
                        e->create_rev[p] = 0;
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
                e->create_rev[p] = kv->create_rev;
                mark_dirty(t, e);
                return;
        }
}

/* Reads everything the cache holds into an empty table, at one revision (ret_rev). */
static int table_read(struct store *s, struct table *t, int64_t *ret_rev) {
        sched_config_default(&t->snap.cfg);
        struct store_kvs kvs[N_WATCHED] = {};
        int r = store_range_many(s, watched, N_WATCHED, kvs, ret_rev);
        if (r < 0)
                return r;
        for (size_t i = 0; i < N_WATCHED; i++) {
                for (size_t k = 0; k < kvs[i].n; k++)
                        table_apply(t, &kvs[i].items[k], false);
                store_kvs_clear(&kvs[i]);
        }
        table_sync(t);
        return 0;
}

int sched_snapshot_read(struct store *s, struct sched_snapshot *ret) {
        struct table t = {};
        int64_t rev;
        int r = table_read(s, &t, &rev);
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

/* Locks: fetch guards the watches and orders every application of their events (an older
 * event applied after a newer one could bring back an entry forgotten since); lock guards the
 * table and the claims. Order: fetch before lock. Store I/O happens under fetch, and under
 * lock only where no claim of this cache is in flight (then nothing of ours holds the store). */
struct sched_cache {
        struct store *store;
        pthread_mutex_t fetch;
        pthread_mutex_t lock;
        pthread_cond_t settled; /* a claim ended */
        struct table t;
        bool loaded;
        bool stale; /* a catch-up after a commit failed: the next acquire catches up */
        struct store_watch *w[N_WATCHED];
        int64_t applied_rev;  /* every change up to this revision is in t; 0: not known */
        int64_t caught_up_us; /* when the last catch-up ended (monotonic); under fetch */
        struct sched_cache_claim *claims;
        size_t n_claims;
        struct sched_cache_stats stats;
};

int sched_cache_new(struct store *s, struct sched_cache **ret) {
        struct sched_cache *c = xcalloc(1, sizeof *c);
        c->store = s;
        pthread_mutex_init(&c->fetch, NULL);
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->settled, NULL);
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
        pthread_cond_destroy(&c->settled);
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->fetch);
        free(c);
}

static struct entry *entry_find(struct table *t, const char *name) {
        bool found;
        size_t at = table_search(t, name, &found);
        return found ? t->idx[at] : NULL;
}

/* Reads everything at one revision and watches each prefix from it. The claims in flight are
 * booked again on the new table. Under both locks. */
static int cache_load(struct sched_cache *c) {
        int64_t rev = 0;
        cache_drop(c);
        c->stats.reads++;
        int r = table_read(c->store, &c->t, &rev);
        for (size_t i = 0; r >= 0 && i < N_WATCHED; i++)
                r = store_watch_new(c->store, watched[i], rev, &c->w[i]);
        if (r < 0) {
                cache_drop(c);
                return r;
        }
        for (struct sched_cache_claim *k = c->claims; k; k = k->next) {
                struct entry *e = entry_find(&c->t, k->host);
                if (e) {
                        e->claim = k;
                        mark_dirty(&c->t, e);
                }
        }
        table_sync(&c->t);
        c->loaded = true;
        c->stale = false;
        c->caught_up_us = mono_us();
        c->applied_rev = rev;
        return 0;
}

/* Takes every event the watches have. Under fetch. */
static int fetch_events(struct sched_cache *c, struct store_events ret[N_WATCHED]) {
        for (size_t i = 0; i < N_WATCHED; i++)
                for (;;) {
                        struct store_events ev = {};
                        int r = store_watch_next(c->w[i], 0, &ev);
                        if (r < 0)
                                return r;
                        if (ev.n > 0) {
                                ret[i].items = xrealloc(ret[i].items, (ret[i].n + ev.n) * sizeof *ev.items);
                                memcpy(&ret[i].items[ret[i].n], ev.items, ev.n * sizeof *ev.items);
                                ret[i].n += ev.n;
                                free(ev.items); /* the kvs moved to ret */
                        }
                        if (r == 0)
                                break;
                }
        return 0;
}

/* Applies fetched events and re-derives what they changed. Under both locks. */
static void apply_events(struct sched_cache *c, struct store_events ev[N_WATCHED]) {
        for (size_t i = 0; i < N_WATCHED; i++)
                for (size_t k = 0; k < ev[i].n; k++)
                        table_apply(&c->t, &ev[i].items[k].kv, ev[i].items[k].type == STORE_EVENT_DELETE);
        table_sync(&c->t);
}

static void events_clear(struct store_events ev[N_WATCHED]) {
        for (size_t i = 0; i < N_WATCHED; i++)
                store_events_clear(&ev[i]);
}

/* Applies every change committed so far. When the store's revision is still the one the table
 * has (the usual case when this cache's holder made the last change: sched_cache_claimed),
 * that is one cheap read instead of a fetch per watch. Under both locks. */
static int cache_catch_up(struct sched_cache *c) {
        int64_t rev;
        int r = store_revision(c->store, &rev); /* sweeps expired leases first: their deletions are changes */
        if (r < 0)
                return r;
        if (rev == c->applied_rev && !c->stale)
                return 0;
        struct store_events ev[N_WATCHED] = {};
        r = fetch_events(c, ev);
        /* What was fetched is applied even on an error: a half-applied catch-up is consistent
         * (each key is at some revision it had). */
        apply_events(c, ev);
        events_clear(ev);
        if (r < 0) {
                c->applied_rev = 0;
                return r;
        }
        c->applied_rev = rev; /* the watches have read at least up to it */
        c->stale = false;
        c->caught_up_us = mono_us();
        return 0;
}

/* Takes the lock; catches up first unless skip_store and a claim is in flight. */
static int cache_acquire(struct sched_cache *c, bool skip_store, struct sched_snapshot **ret) {
        pthread_mutex_lock(&c->lock);
        if (skip_store && c->loaded && !c->stale && c->n_claims > 0) {
                c->stats.lagging++;
                if (c->t.config_err < 0) {
                        pthread_mutex_unlock(&c->lock);
                        return c->t.config_err;
                }
                *ret = &c->t.snap;
                return 0;
        }
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_lock(&c->fetch);
        pthread_mutex_lock(&c->lock);
        int r = c->loaded ? cache_catch_up(c) : cache_load(c);
        if (r == TIDE_E_COMPACTED)
                r = cache_load(c); /* history overtaken: read everything again */
        pthread_mutex_unlock(&c->fetch);
        if (r >= 0)
                r = c->t.config_err;
        if (r < 0) {
                pthread_mutex_unlock(&c->lock);
                return r;
        }
        *ret = &c->t.snap;
        return 0;
}

int sched_cache_acquire(struct sched_cache *c, struct sched_snapshot **ret) {
        return cache_acquire(c, false, ret);
}

int sched_cache_acquire_to_claim(struct sched_cache *c, bool catch_up, struct sched_snapshot **ret) {
        return cache_acquire(c, !catch_up, ret);
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
        json_object_set(t->snap.host_json[i], "used", used); /* the host's strings stay where they are */
        t->snap.hosts[i] = *h;
        t->snap.alloc_rev[i] = rev;
        if (c->applied_rev > 0 && rev == c->applied_rev + 1)
                c->applied_rev = rev; /* nothing else happened in between */
}

bool sched_cache_in_flight(struct sched_cache *c, size_t i) {
        return c->t.owner[i]->claim != NULL;
}

void sched_cache_wait(struct sched_cache *c, size_t i) {
        _cleanup_free_ char *name = xstrdup(c->t.owner[i]->name);
        c->stats.waits++;
        for (;;) {
                /* Looked up again after each wait: entries may have been re-read meanwhile. */
                struct entry *e = entry_find(&c->t, name);
                if (!e || !e->claim)
                        return;
                pthread_cond_wait(&c->settled, &c->lock);
        }
}

void sched_cache_claim_begin(struct sched_cache *c, size_t i, const struct sched_request *req,
                             const struct sched_decision *d, struct sched_cache_claim **ret) {
        struct table *t = &c->t;
        struct entry *e = t->owner[i];
        struct sched_cache_claim *k = xcalloc(1, sizeof *k);
        k->host = xstrdup(e->name);
        k->base_rev = t->snap.alloc_rev[i];
        k->req = *req;
        k->req.id = NULL;
        k->req.group_hosts = NULL;
        k->req.n_group_hosts = 0;
        k->req.n_hints = 0;
        k->d = *d;
        k->next = c->claims;
        c->claims = k;
        c->n_claims++;
        e->claim = k;
        sched_claim(&t->snap.hosts[i], &k->req, &k->d);
        *ret = k;
}

/* Books the end of claim k in the table. Under lock. */
static void claim_settle(struct sched_cache *c, struct sched_cache_claim *k, json_t *used, int64_t rev) {
        struct table *t = &c->t;
        struct entry *e = entry_find(t, k->host);
        if (e && e->claim == k) {
                e->claim = NULL;
                if (used && e->rev[PART_ALLOC] == k->base_rev && e->slot >= 0) {
                        /* Committed, and nothing re-derived the host since: it shows the
                         * claim already, as the store now has it. Recorded without reading
                         * it back; the watch's copy of the change is skipped as not newer. */
                        json_decref(e->value[PART_ALLOC]);
                        e->value[PART_ALLOC] = json_incref(used);
                        e->present[PART_ALLOC] = true;
                        e->rev[PART_ALLOC] = rev;
                        json_object_set(t->snap.host_json[e->slot], "used", used);
                        t->snap.alloc_rev[e->slot] = rev;
                } else if (!used) {
                        /* Not committed: the host is derived again from what the store has. */
                        mark_dirty(t, e);
                        table_sync(t);
                }
                /* Otherwise the commit's own event (or a later change) was applied already
                 * and the host was derived from it without the claim. */
        }
        for (struct sched_cache_claim **p = &c->claims; *p; p = &(*p)->next)
                if (*p == k) {
                        *p = k->next;
                        break;
                }
        c->n_claims--;
        if (!used)
                c->stats.rollbacks++;
        if (used && c->applied_rev > 0 && rev == c->applied_rev + 1)
                c->applied_rev = rev; /* nothing else happened in between */
        free(k->host);
        free(k);
        pthread_cond_broadcast(&c->settled);
}

void sched_cache_claim_end(struct sched_cache *c, struct sched_cache_claim *k, json_t *used, int64_t rev) {
        pthread_mutex_lock(&c->lock);
        claim_settle(c, k, used, rev);
        bool others = c->n_claims > 0 && c->loaded;
        pthread_mutex_unlock(&c->lock);
        /* Decisions made while claims are in flight do not wait for the store: this catch-up
         * after a commit keeps their view at most CATCH_UP_INTERVAL_US (and the commits ahead
         * of them) behind. Not after every commit: its four reads take the store's lock between
         * the commits (after each one, bench/sched's 4 creators placed no faster than one). One
         * at a time: when another thread is fetching, its catch-up serves. */
        if (!others || pthread_mutex_trylock(&c->fetch) != 0)
                return;
        if (mono_us() - c->caught_up_us < CATCH_UP_INTERVAL_US) {
                pthread_mutex_unlock(&c->fetch);
                return;
        }
        struct store_events ev[N_WATCHED] = {};
        int64_t rev0 = 0;
        int r = c->loaded ? store_revision(c->store, &rev0) : 0; /* loaded only changes under fetch */
        if (r >= 0 && c->loaded)
                r = fetch_events(c, ev);
        pthread_mutex_lock(&c->lock);
        if (c->loaded) {
                apply_events(c, ev);
                if (r < 0)
                        c->stale = true; /* compacted, or a store error: the next decision catches up itself */
                else if (rev0 > c->applied_rev)
                        c->applied_rev = rev0;
                if (r >= 0)
                        c->caught_up_us = mono_us();
        }
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&c->fetch);
        events_clear(ev);
}

void sched_cache_release(struct sched_cache *c) {
        pthread_mutex_unlock(&c->lock);
}

uint64_t sched_cache_reads(struct sched_cache *c) {
        struct sched_cache_stats st;
        sched_cache_stats(c, &st);
        return st.reads;
}

void sched_cache_stats(struct sched_cache *c, struct sched_cache_stats *ret) {
        pthread_mutex_lock(&c->lock);
        *ret = c->stats;
        pthread_mutex_unlock(&c->lock);
}
