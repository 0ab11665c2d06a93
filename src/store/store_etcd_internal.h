/* store_etcd_internal.h — what the etcd backend's files share (private to src/store): the handle,
 * the HTTP calls to etcd v3's JSON gateway with failover between endpoints, and the encodings the
 * gateway uses (base64 keys and values, int64 fields as strings, omitted defaults). */
#pragma once

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "store_backend.h"

/* How long one endpoint may take to accept a connection, and one unary call to answer. A dead
 * host costs at most the first (a dead process on a live host refuses at once); a member that
 * took the request and then went silent (stopped, or holding a write for a leader that died) the
 * second. */
#define ETCD_CONNECT_TIMEOUT_MS 1000
#define ETCD_CALL_TIMEOUT_MS 3000
/* How long a call keeps trying the endpoints (with pauses) while the cluster has no leader or
 * no endpoint answers: an election takes about a second with etcd's default timing. */
#define ETCD_RETRY_BUDGET_MS 8000
/* A range reads at most this many keys per request (store_range reads page after page). */
#define ETCD_RANGE_PAGE 1000
/* A reply (a range of everything, say) larger than this is refused: TIDE_E_TOO_LARGE. */
#define ETCD_REPLY_MAX (512u * 1024 * 1024)

struct etcd_store {
        struct store base;
        char **endpoints; /* "http://host:port", no trailing slash */
        size_t n_endpoints;
        atomic_size_t preferred;     /* the endpoint that answered last */
        _Atomic uint64_t cluster_id; /* the cluster of the first answer; 0 until then */
        struct curl_slist *headers;
        pthread_mutex_t pool_lock;
        CURL **pool; /* idle easy handles: each keeps its connections open */
        size_t n_pool, cap_pool;
};

enum etcd_call_flags {
        /* The request may run twice with the same outcome (reads, unconditional writes, lease
         * renewals): after a broken connection or a timeout it is sent again, elsewhere if need be.
         * Other requests are only resent when etcd cannot have received or applied them. */
        ETCD_REPEATABLE = 1u << 0,
        /* Give up after one pass when no endpoint accepts a connection (opening: an address with
         * nothing behind it fails at once; a cluster still electing its leader is waited for). */
        ETCD_NO_WAIT = 1u << 1,
};

/* POSTs req (not consumed) to path ("/v3/kv/range") on the first endpoint that answers, starting
 * with the one that answered last. ret gets the reply object (the caller drops it) on HTTP 200;
 * otherwise etcd's error mapped to a TIDE_E_* code: NOT_FOUND, LEASE, COMPACTED, TOO_LARGE,
 * INVALID, or BACKEND (no endpoint, or an outcome that is unknown). */
int etcd_call(struct etcd_store *s, const char *path, json_t *req, unsigned flags, json_t **ret);

/* Sets the options every handle of the backend shares (timeouts, headers, keep-alive) on c.
 * headers must outlive c's transfers. */
void etcd_curl_setup(CURL *c, struct curl_slist *headers);
/* The header list for etcd's gateway (JSON, no "Expect: 100-continue", gRPC metadata
 * "hasleader"); the caller frees it. */
struct curl_slist *etcd_headers(void);

/* Standard base64 with padding of n bytes; a new string. */
char *etcd_b64(const void *data, size_t n);
/* Decodes standard base64; ret gets a NUL-terminated buffer (caller frees), ret_len its length.
 * -EINVAL on malformed input. */
int etcd_unb64(const char *text, char **ret, size_t *ret_len);
/* An int64 member sent as a string (or a number); a missing member is 0. -EINVAL if malformed. */
int etcd_json_i64(const json_t *o, const char *key, int64_t *ret);
/* A member as base64 of the given bytes. */
void etcd_json_set_b64(json_t *o, const char *key, const void *data, size_t n);
/* A member as an int64 in its string form. */
void etcd_json_set_i64(json_t *o, const char *key, int64_t v);
/* Sets key and range_end on o for every key starting with prefix ("" for every key). */
void etcd_json_set_prefix(json_t *o, const char *prefix);
/* Converts one of etcd's mvccpb.KeyValue objects; ret is set only on success. */
int etcd_kv_from_json(const json_t *o, struct store_kv *ret);

/* Whether reply comes from the handle's cluster: the first reply's header.cluster_id is taken as
 * the cluster's, and a reply from another cluster (an endpoint's address now served by a member of
 * another etcd cluster) is refused, as if that endpoint were down. A reply without a cluster id
 * passes. */
bool etcd_same_cluster(struct etcd_store *s, const json_t *reply);

/* The store revision in the header of a reply. */
int etcd_header_revision(const json_t *reply, int64_t *ret);

/* The watch functions of the backend table (store_etcd_watch.c). */
int store_etcd_watch_new(struct store *s, const char *prefix, int64_t after_rev, struct store_watch **ret);
int store_etcd_watch_next(struct store_watch *w, int timeout_ms, struct store_events *ret);
void store_etcd_watch_free(struct store_watch *w);
