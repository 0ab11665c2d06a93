/* store.h — tide's store: a small key-value interface with etcd v3's semantics.
 *
 * Keys are strings ("/tide/instances/<uuid>"), values are bytes (in practice JSON text).
 * Every change bumps one store-wide revision; all operations of one transaction share it.
 * Each key carries create_rev (revision that created it), mod_rev (last change) and version
 * (number of changes since creation). Transactions compare keys' revisions or values and then
 * apply one list of operations or the other (compare-and-swap). Watches return the changes
 * under a prefix after a revision. Leases have a TTL; keys attached to a lease are deleted when
 * it expires or is revoked.
 *
 * Backends: SQLite (embedded, single host: "sqlite:PATH" or a plain path) and etcd v3 over its
 * JSON gateway ("etcd:http://HOST:PORT[,http://HOST:PORT...]": several hosts; requests fail
 * over between the endpoints, see store_etcd_http.c). Nothing outside src/store knows which one
 * runs. The same unit tests run on both (test_store_helpers.h).
 *
 * A struct store may be used from several threads at once. All calls return >= 0 on success
 * or a negative error (errors.h): TIDE_E_NOT_FOUND, TIDE_E_EXISTS, TIDE_E_CONFLICT,
 * TIDE_E_TOO_LARGE, TIDE_E_COMPACTED, TIDE_E_LEASE, TIDE_E_BACKEND, TIDE_E_TIMEOUT (the store stayed
 * locked by another process too long), -errno. On etcd, TIDE_E_BACKEND also means that no member
 * answered, or that a write with compares lost its answer (the member died after receiving it):
 * whether it was applied is then unknown, and the caller re-reads; writes without compares are
 * resent instead. Malformed arguments (NULL, empty key, unknown enum value, negative lease) are
 * TIDE_E_INVALID; keys over STORE_KEY_MAX and values over STORE_VALUE_MAX are TIDE_E_TOO_LARGE,
 * and so on etcd is a transaction larger as a whole than etcd's --max-request-bytes. A
 * successful write is durable when the call returns (SQLite: WAL with synchronous=FULL; etcd:
 * committed by a quorum). A handle must not be used across fork(): the child opens its own. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_KEY_MAX 1024            /* bytes; longer keys are TIDE_E_TOO_LARGE */
#define STORE_VALUE_MAX (1536 * 1024) /* bytes, as etcd's default request limit */
#define STORE_TXN_OPS_MAX 128         /* compares, and operations per branch (etcd's default) */
#define STORE_LEASE_TTL_MIN 1         /* seconds */
#define STORE_LEASE_TTL_MAX 3600
#define STORE_LEASE_EXPIRY_LAG_MS 700 /* see store_lease_grant */

struct store;

struct store_kv {
        char *key;
        char *value; /* NUL-terminated; NULL in delete events */
        size_t value_len;
        int64_t create_rev;
        int64_t mod_rev;
        int64_t version;
        int64_t lease; /* 0: none */
};

struct store_kvs {
        struct store_kv *items;
        size_t n;
};

void store_kv_clear(struct store_kv *kv);
void store_kvs_clear(struct store_kvs *kvs);

enum store_cmp_target {
        STORE_CMP_MOD_REV, /* 0 compares as "key does not exist" */
        STORE_CMP_CREATE_REV,
        STORE_CMP_VERSION,
        STORE_CMP_VALUE,
        STORE_CMP_TARGET_MAX,
};

enum store_cmp_op {
        STORE_CMP_EQUAL,
        STORE_CMP_NOT_EQUAL,
        STORE_CMP_LESS,
        STORE_CMP_GREATER,
        STORE_CMP_OP_MAX,
};

struct store_cmp {
        const char *key;
        enum store_cmp_target target;
        enum store_cmp_op op;
        int64_t number;    /* for the revision and version targets */
        const char *value; /* for STORE_CMP_VALUE (NUL-terminated) */
};

enum store_op_type {
        STORE_OP_PUT,
        STORE_OP_DELETE,        /* one key; absent is not an error */
        STORE_OP_DELETE_PREFIX, /* every key starting with key */
        STORE_OP_TYPE_MAX,
};

struct store_op {
        enum store_op_type type;
        const char *key;
        const char *value; /* PUT: NUL-terminated */
        int64_t lease;     /* PUT: attach to this lease, 0 for none */
};

/* One branch must not name a key twice, nor a key under one of its DELETE_PREFIX prefixes
 * (TIDE_E_INVALID, as etcd). A branch that changes nothing (only absent keys deleted) does not
 * bump the revision. A PUT with an unknown or expired lease fails the whole txn: TIDE_E_LEASE. */
struct store_txn {
        const struct store_cmp *cmps;
        size_t n_cmps;
        const struct store_op *success; /* applied when every compare holds */
        size_t n_success;
        const struct store_op *failure; /* applied otherwise */
        size_t n_failure;
};

/* Opens the store named by url ("sqlite:PATH", a plain PATH, or "etcd:URL[,URL...]"), creating
 * a SQLite one if needed. An etcd store fails at once (TIDE_E_BACKEND) when no endpoint accepts
 * a connection; a cluster still electing its leader is waited for (up to 8 s). ret gets a new
 * handle owned by the caller (store_free). */
int store_open(const char *url, struct store **ret);
/* Closes the handle; NULL is fine. Leases are not revoked. */
void store_free(struct store *s);
/* The backend's name: "sqlite" or "etcd". */
const char *store_backend_name(const struct store *s);

/* The store's current revision. */
int store_revision(struct store *s, int64_t *ret_rev);

/* One key. TIDE_E_NOT_FOUND when absent. ret gets a kv the caller clears. */
int store_get(struct store *s, const char *key, struct store_kv *ret);
/* Every key starting with prefix, in key order, at most limit of them (0: all).
 * ret gets the kvs (caller clears); ret_rev, when non-NULL, the revision they were read at. */
int store_range(struct store *s, const char *prefix, size_t limit, struct store_kvs *ret, int64_t *ret_rev);

/* Every key under each of prefixes[0..n-1] (n >= 1), all read at one revision: ret[i] gets
 * the kvs under prefixes[i] in key order (caller clears each); ret_rev, when non-NULL, that
 * revision. A view made of several prefixes that must agree (hosts and their allocations) is
 * read this way, not by one store_range per prefix. */
int store_range_many(struct store *s, const char *const *prefixes, size_t n, struct store_kvs *ret, int64_t *ret_rev);

/* Runs a transaction atomically. ret_succeeded tells which branch ran; ret_rev (either may be
 * NULL) gets the store revision after it (the new one when it wrote anything). */
int store_txn(struct store *s, const struct store_txn *txn, bool *ret_succeeded, int64_t *ret_rev);

/* Conveniences over store_txn. */
/* Sets key unconditionally. */
int store_put(struct store *s, const char *key, const char *value, int64_t lease, int64_t *ret_rev);
/* Creates key; TIDE_E_EXISTS when it exists. */
int store_create(struct store *s, const char *key, const char *value, int64_t lease, int64_t *ret_rev);
/* Replaces key if its mod_rev is still expected_mod_rev; TIDE_E_CONFLICT otherwise (also when
 * it was deleted). expected_mod_rev 0 means "absent". The new value has no lease. */
int store_cas(struct store *s, const char *key, const char *value, int64_t expected_mod_rev, int64_t *ret_rev);
/* Deletes key; TIDE_E_NOT_FOUND when absent. */
int store_delete(struct store *s, const char *key, int64_t *ret_rev);

/* Leases. ttl_s in [STORE_LEASE_TTL_MIN, STORE_LEASE_TTL_MAX], else TIDE_E_INVALID. ret_id gets a
 * positive id. An expired lease (and its keys) is removed at most STORE_LEASE_EXPIRY_LAG_MS after
 * its TTL ran out (SQLite: before any read or write sees it; etcd's leader looks every 500 ms);
 * the deletions of its keys are events of their own revision. etcd raises a TTL below its
 * minimum (1.5 election timeouts rounded up: 2 s with etcd's default timing) to that minimum. */
int store_lease_grant(struct store *s, int64_t ttl_s, int64_t *ret_id);
/* Renews a lease for its TTL; TIDE_E_LEASE if it is unknown or has expired. */
int store_lease_keepalive(struct store *s, int64_t id);
/* Revokes a lease and deletes its keys; TIDE_E_LEASE if unknown. */
int store_lease_revoke(struct store *s, int64_t id);

/* Watches. */
enum store_event_type {
        STORE_EVENT_PUT,
        STORE_EVENT_DELETE,
        STORE_EVENT_TYPE_MAX,
};

struct store_event {
        enum store_event_type type;
        struct store_kv kv; /* DELETE: key and mod_rev (the deletion's revision) only */
};

struct store_events {
        struct store_event *items;
        size_t n;
};

void store_events_clear(struct store_events *ev);

struct store_watch;

/* Starts watching keys under prefix ("" for all) for changes with revision > after_rev.
 * TIDE_E_COMPACTED if that history is no longer kept (the caller then re-reads with
 * store_range and watches from the revision it read at); the SQLite store keeps at least the
 * last 10,000 revisions, etcd what its compaction has not removed. ret gets a watch the caller
 * frees with store_watch_free, before the store it was made on. One watch is used by one thread
 * at a time. */
int store_watch_new(struct store *s, const char *prefix, int64_t after_rev, struct store_watch **ret);
/* Waits at most timeout_ms (>= 0) for changes; ret gets zero or more events in revision order
 * (the caller clears them) and the watch moves past them. Returns the number of events, 0 on
 * timeout. The events of one large revision may come in more than one call. TIDE_E_COMPACTED
 * when the watch fell so far behind that its next events were compacted away (etcd: when its
 * stream broke and, before it resumed, the history it needs was compacted). On etcd a broken
 * stream resumes by itself, on the next endpoint, after the last revision delivered; while no
 * member answers, store_watch_next just times out. Changes made through this process are seen
 * within a millisecond or so, those of other processes within about 25 ms (etcd: the same for
 * every writer, a millisecond or so after etcd applied the change). So on etcd a call with
 * timeout 0 made right after a commit, even this thread's own, may not return that change yet,
 * and etcd 3.4 offers no barrier that says a watch has caught up with a revision: a view that
 * must be read at one revision comes from store_range (or a transaction's compares), not from
 * the belief that a watch is current. */
int store_watch_next(struct store_watch *w, int timeout_ms, struct store_events *ret);
void store_watch_free(struct store_watch *w);

/* Fencing: a handle through which every transaction also compares key's create_rev with
 * create_rev (a leader's election key and revision), so that a writer that no longer holds
 * the key writes nothing. A transaction whose fence fails returns TIDE_E_FENCED (the other
 * compares failing alone still returns 0 with *ret_succeeded false); one with a failure branch
 * is TIDE_E_UNSUPPORTED. Reads, leases and watches are inner's. ret gets a handle that borrows
 * inner (free it with store_free, before inner). TIDE_E_INVALID for create_rev <= 0. */
int store_fence_new(struct store *inner, const char *key, int64_t create_rev, struct store **ret);
/* From now on every transaction through s fails with TIDE_E_FENCED without reaching the store
 * (a leader that stopped leading). Thread-safe; does nothing on a handle that is not fenced. */
void store_fence_revoke(struct store *s);
/* Transactions through s from the monotonic time until_ms on (common/util.h's mono_ms) fail with
 * TIDE_E_FENCED without reaching the store, until a later call moves the time (a leader extends
 * it after each renewal of its lease, so that its writes stop before the lease could expire in
 * the store even while its renewal hangs); 0: no such limit. Thread-safe; does nothing on a
 * handle that is not fenced or was revoked. */
void store_fence_set_deadline(struct store *s, int64_t until_ms);
