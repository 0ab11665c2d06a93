/* store_sqlite.c — the embedded store: etcd's data model in one SQLite file.
 *
 * Tables: kv (the live keys), history (one row per change, what watches read; the rows of
 * revisions older than the last history_keep are deleted), leases, meta (the current and the
 * compacted revision) and schema_version. Keys are bound as BLOBs everywhere, so that they order
 * bytewise and a prefix is the index range [prefix, successor(prefix)).
 *
 * Durability and concurrency: WAL with synchronous=FULL, so a commit has reached the disk when
 * it returns; writes run in BEGIN IMMEDIATE transactions, which take SQLite's write lock up
 * front and so cannot fail half-way on a lock upgrade when other processes write the same file.
 * One connection per handle, guarded by a mutex (SQLite is opened NOMUTEX); the prepared
 * statements are cached on it.
 *
 * Group commit: the sync at a commit is most of a write's time, so the transactions that threads
 * of one handle submit while a commit runs wait in a queue, and the next commit takes them all:
 * one SQLite transaction, one sync, each store transaction in a savepoint of its own at its own
 * revision, in the order they were submitted. Each sees the ones before it, as if they had
 * committed one by one; one that fails alone (a lease that has expired) is rolled back to its
 * savepoint without touching the others, and none returns before the sync that made it durable.
 *
 * Lease expiry is a realtime-clock timestamp (ms) in the file, since every process that opens
 * it must agree on it, and it must survive a restart; a lease whose host was down longer than
 * its TTL is expired when the store is next used, which is what HA wants. Expired leases are
 * swept lazily, at the start of every read and write (one indexed lookup when there are none)
 * and on every poll of a waiting watch, so expiry is seen even with no other traffic.
 *
 * Watches are in store_sqlite_watch.c. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "common/errors.h"
#include "common/util.h"
#include "store_sqlite_internal.h"

#define SCHEMA_VERSION 1
#define HISTORY_KEEP_DEFAULT 10000 /* revisions of history kept for watches */
#define BUSY_TIMEOUT_MS 10000      /* waiting for another process's write lock */

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

#define KV_COLUMNS "key, value, create_rev, mod_rev, version, lease"

/* clang-format off: SQL laid out by clause */
static const char *const stmt_sql[ST_MAX] = {
        [ST_BEGIN] = "BEGIN",
        [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
        [ST_COMMIT] = "COMMIT",
        [ST_ROLLBACK] = "ROLLBACK",
        [ST_SAVEPOINT] = "SAVEPOINT txn",
        [ST_RELEASE] = "RELEASE txn",
        [ST_ROLLBACK_TO] = "ROLLBACK TO txn",
        [ST_DATA_VERSION] = "PRAGMA data_version",
        [ST_META_GET] = "SELECT rev, compact_rev FROM meta WHERE id = 1",
        [ST_META_SET] = "UPDATE meta SET rev = ?1, compact_rev = ?2 WHERE id = 1",
        [ST_KV_GET] = "SELECT " KV_COLUMNS " FROM kv WHERE key = ?1",
        [ST_KV_RANGE] = "SELECT " KV_COLUMNS " FROM kv WHERE key >= ?1 AND key < ?2 "
                        "ORDER BY key LIMIT ?3",
        [ST_KV_PUT] = "INSERT OR REPLACE INTO kv (" KV_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [ST_KV_DELETE] = "DELETE FROM kv WHERE key = ?1",
        [ST_KV_DELETE_RANGE] = "DELETE FROM kv WHERE key >= ?1 AND key < ?2",
        /* "lease != 0" repeats the partial index's condition so that the planner may use it. */
        [ST_KV_DELETE_LEASE] = "DELETE FROM kv WHERE lease = ?1 AND lease != 0",
        [ST_HIST_ADD] = "INSERT INTO history (rev, seq, key, type, value, create_rev, version, lease) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        [ST_HIST_ADD_DELETES_RANGE] = "INSERT INTO history (rev, seq, key, type) "
                                      "SELECT ?1, ?2 + row_number() OVER (ORDER BY key) - 1, key, 1 "
                                      "FROM kv WHERE key >= ?3 AND key < ?4",
        [ST_HIST_ADD_DELETES_LEASE] = "INSERT INTO history (rev, seq, key, type) "
                                      "SELECT ?1, ?2 + row_number() OVER (ORDER BY key) - 1, key, 1 "
                                      "FROM kv WHERE lease = ?3 AND lease != 0",
        [ST_HIST_COMPACT] = "DELETE FROM history WHERE rev <= ?1",
        [ST_HIST_SCAN] = "SELECT rev, seq, key, type, value, create_rev, version, lease FROM history "
                         "WHERE (rev, seq) > (?1, ?2) AND key >= ?3 AND key < ?4 "
                         "ORDER BY rev, seq LIMIT ?5",
        [ST_LEASE_EXPIRED_ANY] = "SELECT 1 FROM leases WHERE expires_at <= ?1 LIMIT 1",
        [ST_LEASE_EXPIRED_LIST] = "SELECT id FROM leases WHERE expires_at <= ?1",
        [ST_LEASE_ALIVE] = "SELECT 1 FROM leases WHERE id = ?1 AND expires_at > ?2",
        [ST_LEASE_ADD] = "INSERT INTO leases (id, ttl, expires_at) VALUES (?1, ?2, ?3)",
        [ST_LEASE_RENEW] = "UPDATE leases SET expires_at = ?2 + ttl * 1000 "
                           "WHERE id = ?1 AND expires_at > ?2",
        [ST_LEASE_DELETE] = "DELETE FROM leases WHERE id = ?1",
};

static const char schema_sql[] = "CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), rev INTEGER NOT NULL, "
                                 "  compact_rev INTEGER NOT NULL);"
                                 "INSERT INTO meta (id, rev, compact_rev) VALUES (1, 0, 0);"
                                 /* Rowid tables rather than WITHOUT ROWID: values run to megabytes, and a WITHOUT ROWID
         * b-tree is only good with small rows. */
                                 "CREATE TABLE kv (key BLOB NOT NULL PRIMARY KEY, value BLOB NOT NULL, "
                                 "  create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, version INTEGER NOT NULL, "
                                 "  lease INTEGER NOT NULL);"
                                 "CREATE INDEX kv_by_lease ON kv (lease) WHERE lease != 0;"
                                 /* type 0 put, 1 delete; a delete's value is NULL and its other columns 0. */
                                 "CREATE TABLE history (rev INTEGER NOT NULL, seq INTEGER NOT NULL, key BLOB NOT NULL, "
                                 "  type INTEGER NOT NULL, value BLOB, create_rev INTEGER NOT NULL DEFAULT 0, "
                                 "  version INTEGER NOT NULL DEFAULT 0, lease INTEGER NOT NULL DEFAULT 0, "
                                 "  PRIMARY KEY (rev, seq));"
                                 "CREATE TABLE leases (id INTEGER PRIMARY KEY, ttl INTEGER NOT NULL, "
                                 "  expires_at INTEGER NOT NULL);"
                                 "CREATE INDEX leases_by_expiry ON leases (expires_at);";
/* clang-format on */

/* The state of one write transaction. Changes are made at revision rev + 1; seq counts its
 * events so far, so seq > 0 means that revision has to be committed. */
struct wctx {
        int64_t now; /* realtime ms: lease expiry is compared with it */
        int64_t start_rev;
        int64_t rev;
        int64_t compact_rev;
        int64_t seq;
};

/* ---- statements ---- */

static int sqlite_error(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_IOERR:
                return -EIO;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return TIDE_E_TIMEOUT;
        case SQLITE_READONLY:
        case SQLITE_PERM:
                return -EACCES;
        default:
                return TIDE_E_BACKEND;
        }
}

/* Resets a statement when it goes out of scope, and drops its bindings: they point into the
 * caller's buffers (SQLITE_STATIC). */
void store_sqlite_stmt_donep(sqlite3_stmt **st) {
        if (*st) {
                sqlite3_reset(*st);
                sqlite3_clear_bindings(*st);
        }
}

int store_sqlite_stmt(struct sqlite_store *s, enum stmt_id id, sqlite3_stmt **ret) {
        if (!s->stmts[id]) {
                int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id], NULL);
                if (rc != SQLITE_OK)
                        return sqlite_error(rc) ?: TIDE_E_BACKEND;
        }
        *ret = s->stmts[id];
        return 0;
}

/* Steps st: 1 for a row, 0 when done, or an error. */
int store_sqlite_step(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return sqlite_error(rc) ?: TIDE_E_BACKEND;
}

void store_sqlite_bind_bytes(sqlite3_stmt *st, int i, const void *p, size_t n) {
        /* Never NULL: a NULL pointer would bind SQL NULL rather than an empty blob. */
        sqlite3_bind_blob64(st, i, p ? p : "", n, SQLITE_STATIC);
}

static void bind_str(sqlite3_stmt *st, int i, const char *str) {
        store_sqlite_bind_bytes(st, i, str, strlen(str));
}

/* Runs a statement without parameters or result rows (BEGIN, COMMIT...). */
int store_sqlite_exec(struct sqlite_store *s, enum stmt_id id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sqlite_stmt(s, id, &st);
        if (r < 0)
                return r;
        r = store_sqlite_step(st);
        return r < 0 ? r : 0;
}

/* A NUL-terminated copy of a blob column. */
char *store_sqlite_column_dup(sqlite3_stmt *st, int col, size_t *ret_len) {
        const void *p = sqlite3_column_blob(st, col);
        size_t n = (size_t) sqlite3_column_bytes(st, col);
        char *copy = xmalloc(n + 1);
        if (n > 0)
                memcpy(copy, p, n);
        copy[n] = 0;
        if (ret_len)
                *ret_len = n;
        return copy;
}

/* Reads a row of KV_COLUMNS. */
static void kv_from_row(sqlite3_stmt *st, struct store_kv *kv) {
        *kv = (struct store_kv) {
                .key = store_sqlite_column_dup(st, 0, NULL),
                .create_rev = sqlite3_column_int64(st, 2),
                .mod_rev = sqlite3_column_int64(st, 3),
                .version = sqlite3_column_int64(st, 4),
                .lease = sqlite3_column_int64(st, 5),
        };
        kv->value = store_sqlite_column_dup(st, 1, &kv->value_len);
}

/* The smallest byte string greater than every string starting with prefix: the prefix with its
 * last byte below 0xff incremented and the rest cut. Without one (an empty prefix or only 0xff
 * bytes), STORE_KEY_MAX + 1 bytes of 0xff, which is above every valid key. */
char *store_sqlite_prefix_successor(const char *prefix, size_t *ret_len) {
        size_t n = strlen(prefix);
        while (n > 0 && (unsigned char) prefix[n - 1] == 0xff)
                n--;
        if (n == 0) {
                char *end = xmalloc(STORE_KEY_MAX + 1);
                memset(end, 0xff, STORE_KEY_MAX + 1);
                *ret_len = STORE_KEY_MAX + 1;
                return end;
        }
        char *end = xstrndup(prefix, n);
        end[n - 1] = (char) ((unsigned char) end[n - 1] + 1);
        *ret_len = n;
        return end;
}

/* ---- transactions ---- */

int store_sqlite_meta_get(struct sqlite_store *s, int64_t *ret_rev, int64_t *ret_compact) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sqlite_stmt(s, ST_META_GET, &st);
        if (r < 0)
                return r;
        r = store_sqlite_step(st);
        if (r < 0)
                return r;
        if (r == 0)
                return TIDE_E_BACKEND;
        *ret_rev = sqlite3_column_int64(st, 0);
        if (ret_compact)
                *ret_compact = sqlite3_column_int64(st, 1);
        return 0;
}

/* Commits the pending revision, if anything was written at it, into meta, and compacts the
 * history when it has grown a tenth past what is kept (so that compaction is amortised). */
static int finish_revision(struct sqlite_store *s, struct wctx *c) {
        if (c->seq == 0)
                return 0;
        c->rev++;
        c->seq = 0;

        int64_t keep = s->history_keep;
        if (c->rev - c->compact_rev > keep + keep / 10) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                int r = store_sqlite_stmt(s, ST_HIST_COMPACT, &st);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(st, 1, c->rev - keep);
                r = store_sqlite_step(st);
                if (r < 0)
                        return r;
                c->compact_rev = c->rev - keep;
        }

        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sqlite_stmt(s, ST_META_SET, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, c->rev);
        sqlite3_bind_int64(st, 2, c->compact_rev);
        r = store_sqlite_step(st);
        return r < 0 ? r : 0;
}

/* Deletes the keys attached to lease id at the pending revision, recording their events. */
static int delete_lease_keys(struct sqlite_store *s, struct wctx *c, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sqlite_stmt(s, ST_HIST_ADD_DELETES_LEASE, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, c->rev + 1);
        sqlite3_bind_int64(st, 2, c->seq);
        sqlite3_bind_int64(st, 3, id);
        r = store_sqlite_step(st);
        if (r < 0)
                return r;
        int64_t n = sqlite3_changes64(s->db);
        if (n == 0)
                return 0;
        c->seq += n;

        _cleanup_stmt_ sqlite3_stmt *del = NULL;
        r = store_sqlite_stmt(s, ST_KV_DELETE_LEASE, &del);
        if (r < 0)
                return r;
        sqlite3_bind_int64(del, 1, id);
        r = store_sqlite_step(del);
        return r < 0 ? r : 0;
}

static int lease_delete(struct sqlite_store *s, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sqlite_stmt(s, ST_LEASE_DELETE, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        r = store_sqlite_step(st);
        return r < 0 ? r : 0;
}

/* Removes the leases expired at c->now and their keys, in a revision of its own. Inside a write
 * transaction. */
static int sweep(struct sqlite_store *s, struct wctx *c) {
        _cleanup_free_ int64_t *ids = NULL;
        size_t n = 0, alloc = 0;
        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                int r = store_sqlite_stmt(s, ST_LEASE_EXPIRED_LIST, &st);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(st, 1, c->now);
                /* Collected first: the loop below deletes from the table this reads. */
                while ((r = store_sqlite_step(st)) > 0) {
                        if (n == alloc) {
                                alloc = alloc ? alloc * 2 : 8;
                                ids = xrealloc(ids, alloc * sizeof *ids);
                        }
                        ids[n++] = sqlite3_column_int64(st, 0);
                }
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                int r = delete_lease_keys(s, c, ids[i]);
                if (r < 0)
                        return r;
                r = lease_delete(s, ids[i]);
                if (r < 0)
                        return r;
        }
        return finish_revision(s, c);
}

/* Starts a write transaction: takes the write lock, reads the revision and sweeps expired
 * leases. The caller holds s->lock and ends with write_end(). */
static int write_begin(struct sqlite_store *s, struct wctx *c) {
        *c = (struct wctx) { .now = now_ms() };
        int r = store_sqlite_exec(s, ST_BEGIN_IMMEDIATE);
        if (r < 0)
                return r;
        r = store_sqlite_meta_get(s, &c->rev, &c->compact_rev);
        if (r >= 0) {
                c->start_rev = c->rev;
                r = sweep(s, c);
        }
        if (r < 0)
                (void) store_sqlite_exec(s, ST_ROLLBACK);
        return r;
}

/* Commits (r >= 0: the pending revision too) or rolls back (r < 0). Returns r or the commit's
 * error; *ret_changed tells whether a new revision was committed (watchers are then to be
 * notified, once the caller has dropped the lock). */
static int write_end(struct sqlite_store *s, struct wctx *c, int r, bool *ret_changed) {
        *ret_changed = false;
        if (r >= 0)
                r = finish_revision(s, c);
        if (r >= 0) {
                int k = store_sqlite_exec(s, ST_COMMIT);
                if (k >= 0) {
                        *ret_changed = c->rev != c->start_rev;
                        return r;
                }
                r = k;
        }
        (void) store_sqlite_exec(s, ST_ROLLBACK);
        return r;
}

/* Outside a transaction: sweeps expired leases if there are any, so that no read returns a key
 * whose lease has expired. The check is one indexed lookup. */
int store_sqlite_sweep_if_needed(struct sqlite_store *s) {
        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                int r = store_sqlite_stmt(s, ST_LEASE_EXPIRED_ANY, &st);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(st, 1, now_ms());
                r = store_sqlite_step(st);
                if (r <= 0)
                        return r;
        }
        struct wctx c;
        int r = write_begin(s, &c);
        if (r < 0)
                return r;
        bool changed;
        r = write_end(s, &c, 0, &changed);
        if (r >= 0 && changed)
                store_sqlite_notify_commit();
        return r;
}

/* ---- key operations inside a write transaction ---- */

/* Looks a key up: 1 and its row in *st (kept on the statement) or 0. */
static int kv_lookup(struct sqlite_store *s, const char *key, sqlite3_stmt **st) {
        int r = store_sqlite_stmt(s, ST_KV_GET, st);
        if (r < 0)
                return r;
        bind_str(*st, 1, key);
        return store_sqlite_step(*st);
}

static int cmp_int(int64_t a, int64_t b) {
        return a < b ? -1 : a > b;
}

static int cmp_bytes(const void *a, size_t na, const void *b, size_t nb) {
        int k = memcmp(a, b, MIN(na, nb));
        return k != 0 ? (k < 0 ? -1 : 1) : cmp_int((int64_t) na, (int64_t) nb);
}

static int eval_cmp(struct sqlite_store *s, const struct store_cmp *cmp, bool *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int found = kv_lookup(s, cmp->key, &st);
        if (found < 0)
                return found;

        int k;
        if (cmp->target == STORE_CMP_VALUE) {
                /* etcd: a value compare on an absent key fails, whatever its operator. */
                if (!found) {
                        *ret = false;
                        return 0;
                }
                const void *v = sqlite3_column_blob(st, 1);
                size_t n = (size_t) sqlite3_column_bytes(st, 1);
                k = cmp_bytes(v ? v : "", n, cmp->value, strlen(cmp->value));
        } else {
                int col = cmp->target == STORE_CMP_MOD_REV ? 3 : cmp->target == STORE_CMP_CREATE_REV ? 2 : 4;
                /* An absent key has revisions and version 0. */
                int64_t have = found ? sqlite3_column_int64(st, col) : 0;
                k = cmp_int(have, cmp->number);
        }

        switch (cmp->op) {
        case STORE_CMP_EQUAL:
                *ret = k == 0;
                break;
        case STORE_CMP_NOT_EQUAL:
                *ret = k != 0;
                break;
        case STORE_CMP_LESS:
                *ret = k < 0;
                break;
        case STORE_CMP_GREATER:
                *ret = k > 0;
                break;
        default:
                return TIDE_E_INVALID;
        }
        return 0;
}

static int lease_alive(struct sqlite_store *s, int64_t id, int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sqlite_stmt(s, ST_LEASE_ALIVE, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now);
        return store_sqlite_step(st);
}

static int hist_add(struct sqlite_store *s, struct wctx *c, const char *key, enum store_event_type type,
                    const char *value, int64_t create_rev, int64_t version, int64_t lease) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sqlite_stmt(s, ST_HIST_ADD, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, c->rev + 1);
        sqlite3_bind_int64(st, 2, c->seq);
        bind_str(st, 3, key);
        sqlite3_bind_int(st, 4, type == STORE_EVENT_DELETE);
        if (value)
                bind_str(st, 5, value);
        sqlite3_bind_int64(st, 6, create_rev);
        sqlite3_bind_int64(st, 7, version);
        sqlite3_bind_int64(st, 8, lease);
        r = store_sqlite_step(st);
        if (r < 0)
                return r;
        c->seq++;
        return 0;
}

static int op_put(struct sqlite_store *s, struct wctx *c, const struct store_op *op) {
        int r;
        if (op->lease != 0) {
                r = lease_alive(s, op->lease, c->now);
                if (r < 0)
                        return r;
                if (r == 0)
                        return TIDE_E_LEASE;
        }

        int64_t rev = c->rev + 1, create_rev = rev, version = 1;
        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = kv_lookup(s, op->key, &st);
                if (r < 0)
                        return r;
                if (r > 0) {
                        create_rev = sqlite3_column_int64(st, 2);
                        version = sqlite3_column_int64(st, 4) + 1;
                }
        }

        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = store_sqlite_stmt(s, ST_KV_PUT, &st);
        if (r < 0)
                return r;
        bind_str(st, 1, op->key);
        bind_str(st, 2, op->value);
        sqlite3_bind_int64(st, 3, create_rev);
        sqlite3_bind_int64(st, 4, rev);
        sqlite3_bind_int64(st, 5, version);
        sqlite3_bind_int64(st, 6, op->lease);
        r = store_sqlite_step(st);
        if (r < 0)
                return r;
        return hist_add(s, c, op->key, STORE_EVENT_PUT, op->value, create_rev, version, op->lease);
}

static int op_delete(struct sqlite_store *s, struct wctx *c, const struct store_op *op) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sqlite_stmt(s, ST_KV_DELETE, &st);
        if (r < 0)
                return r;
        bind_str(st, 1, op->key);
        r = store_sqlite_step(st);
        if (r < 0)
                return r;
        if (sqlite3_changes64(s->db) == 0)
                return 0; /* absent: nothing written, no revision */
        return hist_add(s, c, op->key, STORE_EVENT_DELETE, NULL, 0, 0, 0);
}

static int op_delete_prefix(struct sqlite_store *s, struct wctx *c, const struct store_op *op) {
        size_t hi_len;
        _cleanup_free_ char *hi = store_sqlite_prefix_successor(op->key, &hi_len);

        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_sqlite_stmt(s, ST_HIST_ADD_DELETES_RANGE, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, c->rev + 1);
        sqlite3_bind_int64(st, 2, c->seq);
        bind_str(st, 3, op->key);
        store_sqlite_bind_bytes(st, 4, hi, hi_len);
        r = store_sqlite_step(st);
        if (r < 0)
                return r;
        int64_t n = sqlite3_changes64(s->db);
        if (n == 0)
                return 0;
        c->seq += n;

        _cleanup_stmt_ sqlite3_stmt *del = NULL;
        r = store_sqlite_stmt(s, ST_KV_DELETE_RANGE, &del);
        if (r < 0)
                return r;
        bind_str(del, 1, op->key);
        store_sqlite_bind_bytes(del, 2, hi, hi_len);
        r = store_sqlite_step(del);
        return r < 0 ? r : 0;
}

static int apply_op(struct sqlite_store *s, struct wctx *c, const struct store_op *op) {
        switch (op->type) {
        case STORE_OP_PUT:
                return op_put(s, c, op);
        case STORE_OP_DELETE:
                return op_delete(s, c, op);
        case STORE_OP_DELETE_PREFIX:
                return op_delete_prefix(s, c, op);
        default:
                return TIDE_E_INVALID;
        }
}

/* ---- the backend's functions ---- */

/* One transaction submitted to the group commit, on its submitter's stack. */
struct txn_req {
        const struct store_txn *txn;
        struct txn_req *next;
        bool done;
        int r;
        bool ok;
        int64_t rev;
};

#define BATCH_MAX 64 /* transactions in one commit at most, so that a sync waits for few */

/* Runs one store transaction inside the batch's SQLite transaction, in a savepoint: on its own
 * failure it is undone alone. Returns < 0 only when the batch itself cannot go on (the savepoint
 * cannot be taken or undone). */
static int batch_run_one(struct sqlite_store *s, struct wctx *c, struct txn_req *q) {
        const struct store_txn *txn = q->txn;
        struct wctx saved = *c;
        int r = store_sqlite_exec(s, ST_SAVEPOINT);
        if (r < 0)
                return r;
        bool ok = true;
        for (size_t i = 0; r >= 0 && ok && i < txn->n_cmps; i++)
                r = eval_cmp(s, &txn->cmps[i], &ok);
        const struct store_op *ops = ok ? txn->success : txn->failure;
        size_t n = ok ? txn->n_success : txn->n_failure;
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = apply_op(s, c, &ops[i]);
        if (r >= 0)
                r = finish_revision(s, c);
        if (r < 0) {
                q->r = r;
                *c = saved;
                /* SQLite may have rolled the whole transaction back itself (an I/O error):
                 * then there is no savepoint to return to, and the batch fails. */
                if (sqlite3_get_autocommit(s->db))
                        return r;
                int k = store_sqlite_exec(s, ST_ROLLBACK_TO);
                if (k < 0)
                        return k;
        }
        int k = store_sqlite_exec(s, ST_RELEASE);
        if (k < 0)
                return k;
        if (r >= 0) {
                q->r = 0;
                q->ok = ok;
                q->rev = c->rev;
        }
        return 0;
}

/* Commits a batch (s->lock held): one write transaction, each request in its own savepoint. On
 * a failure of the batch itself (begin, savepoint, commit) every request gets that error, since
 * none of them reached the disk. */
static void batch_commit(struct sqlite_store *s, struct txn_req *batch, bool *ret_changed) {
        struct wctx c;
        *ret_changed = false;
        int r = write_begin(s, &c);
        if (r >= 0) {
                for (struct txn_req *q = batch; r >= 0 && q; q = q->next)
                        r = batch_run_one(s, &c, q);
                r = write_end(s, &c, r, ret_changed); /* r < 0: rolls back */
        }
        if (r < 0)
                for (struct txn_req *q = batch; q; q = q->next)
                        q->r = r;
}

static int sqlite_txn(struct store *base, const struct store_txn *txn, bool *ret_succeeded, int64_t *ret_rev) {
        struct sqlite_store *s = to_sqlite(base);
        struct txn_req req = { .txn = txn };

        pthread_mutex_lock(&s->queue_lock);
        struct txn_req **tail = &s->queue;
        while (*tail)
                tail = &(*tail)->next;
        *tail = &req;
        while (!req.done) {
                if (s->committing) {
                        pthread_cond_wait(&s->queue_done, &s->queue_lock);
                        continue;
                }
                /* No commit runs: this thread commits the oldest BATCH_MAX queued (its own
                 * among them, or in a later round). */
                struct txn_req *batch = s->queue, *last = batch;
                for (size_t n = 1; n < BATCH_MAX && last->next; n++)
                        last = last->next;
                s->queue = last->next;
                last->next = NULL;
                s->committing = true;
                pthread_mutex_unlock(&s->queue_lock);

                bool changed;
                pthread_mutex_lock(&s->lock);
                batch_commit(s, batch, &changed);
                pthread_mutex_unlock(&s->lock);
                if (changed)
                        store_sqlite_notify_commit();

                pthread_mutex_lock(&s->queue_lock);
                s->n_commits++;
                for (struct txn_req *q = batch, *next; q; q = next) {
                        s->n_txns++;
                        next = q->next;
                        q->done = true; /* q may be gone once the lock is dropped */
                }
                s->committing = false;
                pthread_cond_broadcast(&s->queue_done);
        }
        pthread_mutex_unlock(&s->queue_lock);

        if (req.r < 0)
                return req.r;
        if (ret_succeeded)
                *ret_succeeded = req.ok;
        if (ret_rev)
                *ret_rev = req.rev;
        return 0;
}

static int sqlite_revision(struct store *base, int64_t *ret_rev) {
        struct sqlite_store *s = to_sqlite(base);
        int64_t rev;

        pthread_mutex_lock(&s->lock);
        int r = store_sqlite_sweep_if_needed(s);
        if (r >= 0)
                r = store_sqlite_meta_get(s, &rev, NULL);
        pthread_mutex_unlock(&s->lock);

        if (r < 0)
                return r;
        *ret_rev = rev;
        return 0;
}

static int sqlite_get(struct store *base, const char *key, struct store_kv *ret) {
        struct sqlite_store *s = to_sqlite(base);

        pthread_mutex_lock(&s->lock);
        int r = store_sqlite_sweep_if_needed(s);
        if (r >= 0) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = kv_lookup(s, key, &st);
                if (r > 0)
                        kv_from_row(st, ret);
                else if (r == 0)
                        r = TIDE_E_NOT_FOUND;
        }
        pthread_mutex_unlock(&s->lock);
        return r < 0 ? r : 0;
}

/* Reads a prefix inside a transaction already begun; rev, when non-NULL, gets its revision. */
static int range_in_txn(struct sqlite_store *s, const char *prefix, size_t limit, struct store_kvs *kvs, int64_t *rev) {
        size_t hi_len;
        _cleanup_free_ char *hi = store_sqlite_prefix_successor(prefix, &hi_len);
        int r = rev ? store_sqlite_meta_get(s, rev, NULL) : 0;
        if (r >= 0) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = store_sqlite_stmt(s, ST_KV_RANGE, &st);
                if (r >= 0) {
                        size_t alloc = 0;
                        bind_str(st, 1, prefix);
                        store_sqlite_bind_bytes(st, 2, hi, hi_len);
                        sqlite3_bind_int64(st, 3, limit > 0 && limit < (size_t) INT64_MAX ? (int64_t) limit : -1);
                        while ((r = store_sqlite_step(st)) > 0) {
                                if (kvs->n == alloc) {
                                        alloc = alloc ? alloc * 2 : 16;
                                        kvs->items = xrealloc(kvs->items, alloc * sizeof *kvs->items);
                                }
                                kv_from_row(st, &kvs->items[kvs->n++]);
                        }
                }
        }
        return r;
}

static int range_locked(struct sqlite_store *s, const char *prefix, size_t limit, struct store_kvs *kvs, int64_t *rev) {
        int r = store_sqlite_exec(s, ST_BEGIN);
        if (r < 0)
                return r;
        r = range_in_txn(s, prefix, limit, kvs, rev);
        /* A read transaction: ending it cannot lose anything. */
        (void) store_sqlite_exec(s, ST_COMMIT);
        return r;
}

static int sqlite_range(struct store *base, const char *prefix, size_t limit, struct store_kvs *ret, int64_t *ret_rev) {
        struct sqlite_store *s = to_sqlite(base);
        struct store_kvs kvs = {};
        int64_t rev = 0;

        pthread_mutex_lock(&s->lock);
        int r = store_sqlite_sweep_if_needed(s);
        if (r >= 0)
                r = range_locked(s, prefix, limit, &kvs, &rev);
        pthread_mutex_unlock(&s->lock);

        if (r < 0) {
                store_kvs_clear(&kvs);
                return r;
        }
        *ret = kvs;
        if (ret_rev)
                *ret_rev = rev;
        return 0;
}

static int sqlite_range_many(struct store *base, const char *const *prefixes, size_t n, struct store_kvs *ret,
                             int64_t *ret_rev) {
        struct sqlite_store *s = to_sqlite(base);
        int64_t rev = 0;

        /* Under the handle's lock no write of this handle commits in between; the ranges share
         * one read transaction, so another process's writes are not seen in between either. */
        pthread_mutex_lock(&s->lock);
        int r = store_sqlite_sweep_if_needed(s);
        if (r >= 0)
                r = store_sqlite_exec(s, ST_BEGIN);
        if (r >= 0) {
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        ret[i] = (struct store_kvs) {};
                        r = range_in_txn(s, prefixes[i], 0, &ret[i], i == 0 ? &rev : NULL);
                }
                (void) store_sqlite_exec(s, ST_COMMIT); /* a read transaction */
        }
        pthread_mutex_unlock(&s->lock);

        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        store_kvs_clear(&ret[i]);
                return r;
        }
        if (ret_rev)
                *ret_rev = rev;
        return 0;
}

static int sqlite_lease_grant(struct store *base, int64_t ttl_s, int64_t *ret_id) {
        struct sqlite_store *s = to_sqlite(base);
        struct wctx c;
        bool changed = false;
        int64_t id = 0;

        pthread_mutex_lock(&s->lock);
        int r = write_begin(s, &c);
        if (r >= 0) {
                /* Random ids, so that leases of different stores or of a recreated file are
                 * not confused; a collision is retried. */
                bool added = false;
                for (int attempt = 0; attempt < 16 && r >= 0 && !added; attempt++) {
                        random_bytes(&id, sizeof id);
                        id &= INT64_MAX;
                        if (id == 0)
                                continue;
                        _cleanup_stmt_ sqlite3_stmt *st = NULL;
                        r = store_sqlite_stmt(s, ST_LEASE_ADD, &st);
                        if (r < 0)
                                break;
                        sqlite3_bind_int64(st, 1, id);
                        sqlite3_bind_int64(st, 2, ttl_s);
                        sqlite3_bind_int64(st, 3, c.now + ttl_s * 1000);
                        int rc = sqlite3_step(st);
                        if (rc == SQLITE_DONE)
                                added = true;
                        else if ((rc & 0xff) != SQLITE_CONSTRAINT)
                                r = sqlite_error(rc) ?: TIDE_E_BACKEND;
                }
                if (r >= 0 && !added)
                        r = TIDE_E_BACKEND;
                r = write_end(s, &c, r, &changed);
        }
        pthread_mutex_unlock(&s->lock);

        if (changed)
                store_sqlite_notify_commit();
        if (r < 0)
                return r;
        *ret_id = id;
        return 0;
}

static int sqlite_lease_keepalive(struct store *base, int64_t id) {
        struct sqlite_store *s = to_sqlite(base);
        struct wctx c;
        bool changed = false;

        pthread_mutex_lock(&s->lock);
        int r = write_begin(s, &c);
        if (r >= 0) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = store_sqlite_stmt(s, ST_LEASE_RENEW, &st);
                if (r >= 0) {
                        sqlite3_bind_int64(st, 1, id);
                        sqlite3_bind_int64(st, 2, c.now);
                        r = store_sqlite_step(st);
                        if (r >= 0 && sqlite3_changes64(s->db) == 0)
                                r = TIDE_E_LEASE;
                }
                r = write_end(s, &c, r, &changed);
        }
        pthread_mutex_unlock(&s->lock);

        if (changed)
                store_sqlite_notify_commit();
        return r < 0 ? r : 0;
}

static int sqlite_lease_revoke(struct store *base, int64_t id) {
        struct sqlite_store *s = to_sqlite(base);
        struct wctx c;
        bool changed = false;

        pthread_mutex_lock(&s->lock);
        int r = write_begin(s, &c);
        if (r >= 0) {
                r = lease_alive(s, id, c.now);
                if (r == 0)
                        r = TIDE_E_LEASE;
                if (r >= 0)
                        r = delete_lease_keys(s, &c, id);
                if (r >= 0)
                        r = lease_delete(s, id);
                r = write_end(s, &c, r, &changed);
        }
        pthread_mutex_unlock(&s->lock);

        if (changed)
                store_sqlite_notify_commit();
        return r < 0 ? r : 0;
}

/* ---- opening ---- */

static int pragma_text(sqlite3 *db, const char *sql, char *buf, size_t size) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sqlite_error(rc) ?: TIDE_E_BACKEND;
        rc = sqlite3_step(st);
        int r = 0;
        if (rc == SQLITE_ROW) {
                const char *t = (const char *) sqlite3_column_text(st, 0);
                snprintf(buf, size, "%s", t ? t : "");
        } else if (rc == SQLITE_DONE)
                buf[0] = 0;
        else
                r = sqlite_error(rc) ?: TIDE_E_BACKEND;
        sqlite3_finalize(st);
        return r;
}

static int exec_sql(sqlite3 *db, const char *sql) {
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : (sqlite_error(rc) ?: TIDE_E_BACKEND);
}

/* Creates the schema in a new file, or checks the version of an existing one. */
static int schema_ensure(sqlite3 *db) {
        int r = exec_sql(db, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        char version[32];
        r = exec_sql(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        if (r >= 0)
                r = pragma_text(db, "SELECT version FROM schema_version", version, sizeof version);
        if (r >= 0 && version[0] == 0) {
                r = exec_sql(db, schema_sql);
                if (r >= 0)
                        r = exec_sql(db, "INSERT INTO schema_version (version) VALUES (" STRINGIFY(SCHEMA_VERSION) ")");
        } else if (r >= 0 && !streq(version, STRINGIFY(SCHEMA_VERSION)))
                r = TIDE_E_UNSUPPORTED;
        if (r >= 0)
                r = exec_sql(db, "COMMIT");
        if (r < 0)
                (void) exec_sql(db, "ROLLBACK");
        return r;
}

static void sqlite_free(struct store *base) {
        struct sqlite_store *s = to_sqlite(base);
        if (!s)
                return;
        for (size_t i = 0; i < ST_MAX; i++)
                sqlite3_finalize(s->stmts[i]);
        sqlite3_close(s->db);
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->queue_lock);
        pthread_cond_destroy(&s->queue_done);
        free(s);
}

static int sqlite_open(const char *location, struct store **ret) {
        struct sqlite_store *s = xcalloc(1, sizeof *s);
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_init(&s->queue_lock, NULL);
        pthread_cond_init(&s->queue_done, NULL);
        s->history_keep = HISTORY_KEEP_DEFAULT;

        int r;
        int rc = sqlite3_open_v2(location, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 NULL);
        if (rc != SQLITE_OK) {
                int e = s->db ? sqlite3_system_errno(s->db) : 0;
                r = e > 0 ? -e : (sqlite_error(rc) ?: TIDE_E_BACKEND);
                goto fail;
        }
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

        char mode[16];
        r = pragma_text(s->db, "PRAGMA journal_mode=WAL", mode, sizeof mode);
        if (r < 0)
                goto fail;
        /* An in-memory database (":memory:") has no WAL; anything else must. */
        if (!streq(mode, "wal") && !streq(mode, "memory")) {
                r = TIDE_E_BACKEND;
                goto fail;
        }
        r = exec_sql(s->db, "PRAGMA synchronous=FULL");
        if (r < 0)
                goto fail;
        r = schema_ensure(s->db);
        if (r < 0)
                goto fail;

        *ret = &s->base;
        return 0;

fail:
        sqlite_free(&s->base);
        return r;
}

void store_sqlite_set_history_keep(struct store *base, int64_t keep) {
        struct sqlite_store *s = to_sqlite(base);
        pthread_mutex_lock(&s->lock);
        s->history_keep = MAX(keep, 1);
        pthread_mutex_unlock(&s->lock);
}

void store_sqlite_commit_stats(struct store *base, uint64_t *ret_txns, uint64_t *ret_commits) {
        struct sqlite_store *s = to_sqlite(base);
        pthread_mutex_lock(&s->queue_lock);
        *ret_txns = s->n_txns;
        *ret_commits = s->n_commits;
        pthread_mutex_unlock(&s->queue_lock);
}

const struct store_backend store_sqlite_backend = {
        .name = "sqlite",
        .open = sqlite_open,
        .free = sqlite_free,
        .revision = sqlite_revision,
        .get = sqlite_get,
        .range = sqlite_range,
        .range_many = sqlite_range_many,
        .txn = sqlite_txn,
        .lease_grant = sqlite_lease_grant,
        .lease_keepalive = sqlite_lease_keepalive,
        .lease_revoke = sqlite_lease_revoke,
        .watch_new = store_sqlite_watch_new,
        .watch_next = store_sqlite_watch_next,
        .watch_free = store_sqlite_watch_free,
};
