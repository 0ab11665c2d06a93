/* store_sqlite_watch.c — watches on the SQLite store.
 *
 * A watch reads the history table after its position (rev, seq) under its key range. When there
 * is nothing, it waits on a process-wide condition variable that every commit through any handle
 * of this process signals (so a watcher in the same process wakes within microseconds), and
 * every WATCH_POLL_MS it checks for commits of other processes (PRAGMA data_version, which
 * changes when another connection commits) and for expired leases, whose sweep it then runs:
 * expiry is seen even when nothing else uses the store. One condition variable for every store
 * of the process is simple and enough: a commit to another file costs a watcher one cheap
 * fetch. */
#include <errno.h>
#include <time.h>

#include "common/errors.h"
#include "store_sqlite_internal.h"

#define WATCH_POLL_MS 25     /* how often a waiting watch looks for other processes' commits */
#define WATCH_BATCH_MAX 1024 /* events per store_watch_next */

struct sqlite_watch {
        struct store_watch base;
        struct sqlite_store *s;
        char *lo, *hi; /* key range [lo, hi) */
        size_t lo_len, hi_len;
        int64_t pos_rev, pos_seq; /* last event delivered; seq INT64_MAX: all of pos_rev */
        int64_t data_version;     /* PRAGMA data_version before the last fetch */
};

/* ---- commit notification, process-wide ---- */

static pthread_mutex_t notify_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t notify_cond;
static uint64_t notify_gen;
static pthread_once_t notify_once = PTHREAD_ONCE_INIT;

static void notify_init(void) {
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&notify_cond, &a);
        pthread_condattr_destroy(&a);
}

static uint64_t notify_current(void) {
        pthread_once(&notify_once, notify_init);
        pthread_mutex_lock(&notify_lock);
        uint64_t g = notify_gen;
        pthread_mutex_unlock(&notify_lock);
        return g;
}

void store_sqlite_notify_commit(void) {
        pthread_once(&notify_once, notify_init);
        pthread_mutex_lock(&notify_lock);
        notify_gen++;
        pthread_cond_broadcast(&notify_cond);
        pthread_mutex_unlock(&notify_lock);
}

/* Waits until a commit after generation gen or until the monotonic time until_ms. Returns
 * whether a commit happened. */
static bool notify_wait(uint64_t gen, int64_t until_ms) {
        struct timespec ts = {
                .tv_sec = until_ms / 1000,
                .tv_nsec = (until_ms % 1000) * 1000000,
        };
        pthread_once(&notify_once, notify_init);
        pthread_mutex_lock(&notify_lock);
        while (notify_gen == gen)
                if (pthread_cond_timedwait(&notify_cond, &notify_lock, &ts) == ETIMEDOUT)
                        break;
        bool changed = notify_gen != gen;
        pthread_mutex_unlock(&notify_lock);
        return changed;
}

/* ---- watches ---- */

int store_sqlite_watch_new(struct store *base, const char *prefix, int64_t after_rev, struct store_watch **ret) {
        struct sqlite_store *s = to_sqlite(base);
        int64_t rev, compact_rev;

        pthread_mutex_lock(&s->lock);
        int r = store_sqlite_sweep_if_needed(s);
        if (r >= 0)
                r = store_sqlite_meta_get(s, &rev, &compact_rev);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r;
        if (after_rev < compact_rev)
                return TIDE_E_COMPACTED;

        struct sqlite_watch *w = xcalloc(1, sizeof *w);
        w->s = s;
        w->lo = xstrdup(prefix);
        w->lo_len = strlen(prefix);
        w->hi = store_sqlite_prefix_successor(prefix, &w->hi_len);
        w->pos_rev = after_rev;
        w->pos_seq = INT64_MAX;
        w->data_version = -1;
        *ret = &w->base;
        return 0;
}

static int scan_locked(struct sqlite_watch *w, struct store_events *ev, int64_t *ret_rev) {
        struct sqlite_store *s = w->s;
        int64_t rev, compact_rev;

        int r = store_sqlite_meta_get(s, &rev, &compact_rev);
        if (r < 0)
                return r;
        /* History is kept for revisions > compact_rev; the watch needs what follows its
         * position. */
        if (w->pos_rev < compact_rev || (w->pos_rev == compact_rev && w->pos_seq != INT64_MAX))
                return TIDE_E_COMPACTED;

        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = store_sqlite_stmt(s, ST_HIST_SCAN, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, w->pos_rev);
        sqlite3_bind_int64(st, 2, w->pos_seq);
        store_sqlite_bind_bytes(st, 3, w->lo, w->lo_len);
        store_sqlite_bind_bytes(st, 4, w->hi, w->hi_len);
        sqlite3_bind_int64(st, 5, WATCH_BATCH_MAX);
        size_t alloc = 0;
        while ((r = store_sqlite_step(st)) > 0) {
                if (ev->n == alloc) {
                        alloc = alloc ? alloc * 2 : 8;
                        ev->items = xrealloc(ev->items, alloc * sizeof *ev->items);
                }
                struct store_event *e = &ev->items[ev->n++];
                bool is_delete = sqlite3_column_int(st, 3) != 0;
                *e = (struct store_event) {
                        .type = is_delete ? STORE_EVENT_DELETE : STORE_EVENT_PUT,
                        .kv = {
                                .key = store_sqlite_column_dup(st, 2, NULL),
                                .mod_rev = sqlite3_column_int64(st, 0),
                        },
                };
                if (!is_delete) {
                        e->kv.value = store_sqlite_column_dup(st, 4, &e->kv.value_len);
                        e->kv.create_rev = sqlite3_column_int64(st, 5);
                        e->kv.version = sqlite3_column_int64(st, 6);
                        e->kv.lease = sqlite3_column_int64(st, 7);
                }
                w->pos_rev = sqlite3_column_int64(st, 0);
                w->pos_seq = sqlite3_column_int64(st, 1);
        }
        if (r < 0)
                return r;
        *ret_rev = rev;
        return 0;
}

/* Reads the events after the watch's position, at most a batch; moves the position past them,
 * or to the current revision when there were fewer than a batch. */
static int watch_fetch(struct sqlite_watch *w, struct store_events *ret) {
        struct sqlite_store *s = w->s;
        struct store_events ev = {};
        int64_t saved_rev = w->pos_rev, saved_seq = w->pos_seq, rev = 0;

        pthread_mutex_lock(&s->lock);
        int r = store_sqlite_sweep_if_needed(s);
        /* data_version before the snapshot: a commit by another process after this read is
         * either in the snapshot or changes the value the next poll compares with. */
        if (r >= 0) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = store_sqlite_stmt(s, ST_DATA_VERSION, &st);
                if (r >= 0)
                        r = store_sqlite_step(st);
                if (r > 0)
                        w->data_version = sqlite3_column_int64(st, 0);
        }
        if (r >= 0)
                r = store_sqlite_exec(s, ST_BEGIN);
        if (r >= 0) {
                r = scan_locked(w, &ev, &rev);
                (void) store_sqlite_exec(s, ST_COMMIT);
        }
        pthread_mutex_unlock(&s->lock);

        if (r < 0) {
                w->pos_rev = saved_rev;
                w->pos_seq = saved_seq;
                store_events_clear(&ev);
                return r;
        }
        if (ev.n < WATCH_BATCH_MAX && rev >= w->pos_rev) {
                w->pos_rev = rev;
                w->pos_seq = INT64_MAX;
        }
        *ret = ev;
        return 0;
}

/* Whether a poll should fetch: another connection committed, or a lease has expired. */
static int watch_poll(struct sqlite_watch *w) {
        struct sqlite_store *s = w->s;

        pthread_mutex_lock(&s->lock);
        int r;
        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = store_sqlite_stmt(s, ST_DATA_VERSION, &st);
                if (r >= 0)
                        r = store_sqlite_step(st);
                if (r > 0)
                        r = sqlite3_column_int64(st, 0) != w->data_version;
        }
        if (r == 0) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = store_sqlite_stmt(s, ST_LEASE_EXPIRED_ANY, &st);
                if (r >= 0) {
                        sqlite3_bind_int64(st, 1, now_ms());
                        r = store_sqlite_step(st);
                }
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

int store_sqlite_watch_next(struct store_watch *base, int timeout_ms, struct store_events *ret) {
        struct sqlite_watch *w = (struct sqlite_watch *) base;
        int64_t deadline = mono_ms() + timeout_ms;

        for (;;) {
                /* The generation is read before the fetch, so a commit during it is not
                 * missed by the wait. */
                uint64_t gen = notify_current();
                struct store_events ev = {};
                int r = watch_fetch(w, &ev);
                if (r < 0)
                        return r;
                if (ev.n > 0) {
                        *ret = ev;
                        return (int) ev.n;
                }
                free(ev.items);

                for (;;) {
                        int64_t now = mono_ms();
                        if (now >= deadline) {
                                *ret = (struct store_events) {};
                                return 0;
                        }
                        if (notify_wait(gen, MIN(deadline, now + WATCH_POLL_MS)))
                                break;
                        r = watch_poll(w);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                break;
                }
        }
}

void store_sqlite_watch_free(struct store_watch *base) {
        struct sqlite_watch *w = (struct sqlite_watch *) base;
        free(w->lo);
        free(w->hi);
        free(w);
}
