/* store_backend.h — the table of functions each store backend implements (private to src/store). */
#pragma once

#include "store.h"

struct store_backend {
        const char *name;
        int (*open)(const char *location, struct store **ret);
        void (*free)(struct store *s);
        int (*revision)(struct store *s, int64_t *ret_rev);
        int (*get)(struct store *s, const char *key, struct store_kv *ret);
        int (*range)(struct store *s, const char *prefix, size_t limit, struct store_kvs *ret, int64_t *ret_rev);
        int (*range_many)(struct store *s, const char *const *prefixes, size_t n, struct store_kvs *ret,
                          int64_t *ret_rev);
        int (*txn)(struct store *s, const struct store_txn *txn, bool *ret_succeeded, int64_t *ret_rev);
        int (*lease_grant)(struct store *s, int64_t ttl_s, int64_t *ret_id);
        int (*lease_keepalive)(struct store *s, int64_t id);
        int (*lease_revoke)(struct store *s, int64_t id);
        int (*watch_new)(struct store *s, const char *prefix, int64_t after_rev, struct store_watch **ret);
        int (*watch_next)(struct store_watch *w, int timeout_ms, struct store_events *ret);
        void (*watch_free)(struct store_watch *w);
};

/* Every backend's struct store starts with this, so store.c can dispatch. */
struct store {
        const struct store_backend *backend;
};

struct store_watch {
        const struct store_backend *backend; /* store.c sets it when the backend leaves it NULL */
};

extern const struct store_backend store_sqlite_backend;

/* The backend name of the handle a fenced handle wraps; NULL when s is not fenced. */
const char *store_fence_inner_name(const struct store *s);

/* SQLite backend: keep at least keep (>= 1) revisions of history instead of the default 10,000
 * (tests use it to reach compaction quickly). s must be a SQLite store. */
void store_sqlite_set_history_keep(struct store *s, int64_t keep);

/* SQLite backend: how many store transactions (sqlite_txn) committed and in how many SQLite
 * commits (group commit puts concurrent ones of one handle into one); for tests. */
void store_sqlite_commit_stats(struct store *s, uint64_t *ret_txns, uint64_t *ret_commits);

extern const struct store_backend store_etcd_backend;

/* etcd backend, for tests: deletes every key and revokes every lease, so that a test starts on
 * an empty key space (the revision goes on from where it was). s must be an etcd store. */
void store_etcd_reset(struct store *s);

/* etcd backend: compacts the history before rev (/v3/kv/compaction), as an operator or etcd's
 * auto-compaction would; for tests. */
int store_etcd_compact(struct store *s, int64_t rev);

/* etcd backend: breaks the watch's connection as a failing member or network would; the next
 * store_watch_next resumes after the last revision it delivered. For tests. */
void store_etcd_watch_break(struct store_watch *w);
