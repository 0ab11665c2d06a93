/* store_sqlite_internal.h — what the SQLite backend's two files share (private to src/store):
 * the handle with its cached statements, statement helpers, the lease sweep and the process-wide
 * commit notification. Everything here is called with the handle's lock held unless it says
 * otherwise. */
#pragma once

#include <pthread.h>
#include <sqlite3.h>

#include "common/util.h"
#include "store_backend.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

enum stmt_id {
        ST_BEGIN,
        ST_BEGIN_IMMEDIATE,
        ST_COMMIT,
        ST_ROLLBACK,
        ST_SAVEPOINT,
        ST_RELEASE,
        ST_ROLLBACK_TO,
        ST_DATA_VERSION,
        ST_META_GET,
        ST_META_SET,
        ST_KV_GET,
        ST_KV_RANGE,
        ST_KV_PUT,
        ST_KV_DELETE,
        ST_KV_DELETE_RANGE,
        ST_KV_DELETE_LEASE,
        ST_HIST_ADD,
        ST_HIST_ADD_DELETES_RANGE,
        ST_HIST_ADD_DELETES_LEASE,
        ST_HIST_COMPACT,
        ST_HIST_SCAN,
        ST_LEASE_EXPIRED_ANY,
        ST_LEASE_EXPIRED_LIST,
        ST_LEASE_ALIVE,
        ST_LEASE_ADD,
        ST_LEASE_RENEW,
        ST_LEASE_DELETE,
        ST_MAX,
};

struct txn_req;

struct sqlite_store {
        struct store base;
        /* Group commit (sqlite_txn): transactions queue here while one thread commits; the
         * next to find no commit running takes the whole queue into one SQLite transaction. */
        pthread_mutex_t queue_lock; /* guards the three fields below, taken before lock */
        pthread_cond_t queue_done;
        struct txn_req *queue; /* waiting, oldest first */
        bool committing;
        uint64_t n_txns, n_commits; /* store transactions and the SQLite commits that held them */
        pthread_mutex_t lock;       /* guards everything below */
        sqlite3 *db;
        sqlite3_stmt *stmts[ST_MAX];
        int64_t history_keep;
};

static inline struct sqlite_store *to_sqlite(struct store *s) {
        return (struct sqlite_store *) s;
}

/* Returns s's cached prepared statement for id in *ret (prepared on first use). */
int store_sqlite_stmt(struct sqlite_store *s, enum stmt_id id, sqlite3_stmt **ret);
/* Steps st: 1 for a row, 0 when done, or an error. */
int store_sqlite_step(sqlite3_stmt *st);
/* Resets a statement and drops its bindings, which point into the caller's buffers
 * (SQLITE_STATIC); for _cleanup_stmt_. */
void store_sqlite_stmt_donep(sqlite3_stmt **st);
#define _cleanup_stmt_ _cleanup_(store_sqlite_stmt_donep)
/* Binds n bytes at p as a BLOB (empty, never SQL NULL, when n is 0); p must outlive the step. */
void store_sqlite_bind_bytes(sqlite3_stmt *st, int i, const void *p, size_t n);
/* Runs a statement without parameters or rows (BEGIN, COMMIT...). */
int store_sqlite_exec(struct sqlite_store *s, enum stmt_id id);
/* Returns a new NUL-terminated copy of a BLOB column; *ret_len (if non-NULL) its length. */
char *store_sqlite_column_dup(sqlite3_stmt *st, int col, size_t *ret_len);
/* Returns a new string: the smallest byte string above every key starting with prefix. */
char *store_sqlite_prefix_successor(const char *prefix, size_t *ret_len);
/* Reads the current and (when ret_compact is non-NULL) the compacted revision. */
int store_sqlite_meta_get(struct sqlite_store *s, int64_t *ret_rev, int64_t *ret_compact);
/* Outside a transaction: removes expired leases and their keys, if there are any. */
int store_sqlite_sweep_if_needed(struct sqlite_store *s);

/* Wakes every watch of this process waiting in store_watch_next; called after each commit
 * that moved the revision, preferably once the handle's lock is dropped (holding it is safe: the
 * lock order is handle lock, then the notification's, and a waiting watch holds only the
 * latter). */
void store_sqlite_notify_commit(void);

/* The backend's watch functions (store_sqlite_watch.c); called without the lock. */
int store_sqlite_watch_new(struct store *s, const char *prefix, int64_t after_rev, struct store_watch **ret);
int store_sqlite_watch_next(struct store_watch *w, int timeout_ms, struct store_events *ret);
void store_sqlite_watch_free(struct store_watch *w);
