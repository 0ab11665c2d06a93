/* store_etcd.c — the etcd v3 backend of store.h over etcd's JSON gateway: opening by a list of
 * endpoints, reads, transactions and leases. Watches are store_etcd_watch.c, the HTTP calls and
 * encodings store_etcd_http.c. */
#include "store_etcd_internal.h"

#include <errno.h>

#include "common/errors.h"
#include "common/tide_json.h"
#include "common/util.h"

/* How often store_range_many starts over when a compaction overtook its read. */
#define RANGE_MANY_ATTEMPTS 3

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                abort();
}

static struct etcd_store *etcd(struct store *s) {
        return (struct etcd_store *) s;
}

static void etcd_free(struct store *base) {
        struct etcd_store *s = etcd(base);
        if (!s)
                return;
        for (size_t i = 0; i < s->n_pool; i++)
                curl_easy_cleanup(s->pool[i]);
        free(s->pool);
        for (size_t i = 0; i < s->n_endpoints; i++)
                free(s->endpoints[i]);
        free(s->endpoints);
        curl_slist_free_all(s->headers);
        pthread_mutex_destroy(&s->pool_lock);
        free(s);
}

/* "http://a:p,http://b:p": each an http(s) URL with a host; a trailing slash is dropped. */
static int parse_endpoints(const char *location, struct etcd_store *s) {
        _cleanup_free_ char *copy = xstrdup(location);
        char *save = NULL;
        for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
                size_t n = strlen(e);
                while (n > 0 && e[n - 1] == '/')
                        e[--n] = 0;
                const char *host = startswith(e, "http://") ? e + 7 : startswith(e, "https://") ? e + 8 : NULL;
                if (!host || !*host || strchr(host, '/') || strchr(host, '?'))
                        return TIDE_E_INVALID;
                s->endpoints = xrealloc(s->endpoints, (s->n_endpoints + 1) * sizeof *s->endpoints);
                s->endpoints[s->n_endpoints++] = xstrdup(e);
        }
        return s->n_endpoints > 0 ? 0 : TIDE_E_INVALID;
}

static int revision_call(struct store *s, unsigned flags, int64_t *ret_rev);

static int etcd_open(const char *location, struct store **ret) {
        pthread_once(&curl_once, curl_init_once);
        struct etcd_store *s = xcalloc(1, sizeof *s);
        pthread_mutex_init(&s->pool_lock, NULL);
        s->headers = etcd_headers();
        int r = parse_endpoints(location, s);
        /* One read, so that a wrong address fails here rather than at the first use. */
        int64_t rev;
        if (r >= 0)
                r = revision_call(&s->base, ETCD_NO_WAIT, &rev);
        if (r < 0) {
                etcd_free(&s->base);
                return r;
        }
        *ret = &s->base;
        return 0;
}

/* ---- reads ---- */

/* A range request for one key (prefix false) or every key starting with it. */
static json_t *range_request(const char *key, bool prefix, size_t limit) {
        json_t *req = json_object();
        if (prefix)
                etcd_json_set_prefix(req, key);
        else
                etcd_json_set_b64(req, "key", key, strlen(key));
        if (limit > 0)
                etcd_json_set_i64(req, "limit", (int64_t) limit);
        return req;
}

static int revision_call(struct store *s, unsigned flags, int64_t *ret_rev) {
        /* A linearizable read of one key that need not exist: its header has the revision. */
        _cleanup_json_ json_t *req = json_object();
        etcd_json_set_b64(req, "key", "", 1);
        json_object_set_new(req, "keys_only", json_true());
        _cleanup_json_ json_t *reply = NULL;
        int r = etcd_call(etcd(s), "/v3/kv/range", req, ETCD_REPEATABLE | flags, &reply);
        if (r < 0)
                return r;
        return etcd_header_revision(reply, ret_rev);
}

static int etcd_revision(struct store *s, int64_t *ret_rev) {
        return revision_call(s, 0, ret_rev);
}

/* Appends the kvs of a range reply to ret. */
static int kvs_from_reply(const json_t *reply, struct store_kvs *ret) {
        json_t *items = json_object_get(reply, "kvs");
        size_t n = json_is_array(items) ? json_array_size(items) : 0;
        if (n == 0)
                return 0;
        ret->items = xrealloc(ret->items, (ret->n + n) * sizeof *ret->items);
        for (size_t i = 0; i < n; i++) {
                int r = etcd_kv_from_json(json_array_get(items, i), &ret->items[ret->n]);
                if (r < 0)
                        return r;
                ret->n++;
        }
        return 0;
}

static int etcd_get(struct store *s, const char *key, struct store_kv *ret) {
        _cleanup_json_ json_t *req = range_request(key, false, 0);
        _cleanup_json_ json_t *reply = NULL;
        int r = etcd_call(etcd(s), "/v3/kv/range", req, ETCD_REPEATABLE, &reply);
        if (r < 0)
                return r;
        struct store_kvs kvs = {};
        r = kvs_from_reply(reply, &kvs);
        if (r < 0) {
                store_kvs_clear(&kvs);
                return r;
        }
        if (kvs.n == 0) {
                store_kvs_clear(&kvs);
                return TIDE_E_NOT_FOUND;
        }
        *ret = kvs.items[0];
        kvs.items[0] = (struct store_kv) {};
        store_kvs_clear(&kvs);
        return 0;
}

/* Reads prefix at revision at_rev (0: the current one, which ret_rev gets). */
static int range_at(struct store *s, const char *prefix, size_t limit, int64_t at_rev, struct store_kvs *ret,
                    int64_t *ret_rev) {
        /* In pages of ETCD_RANGE_PAGE keys, all read at the first page's revision: one reply
         * stays a few MiB however many keys there are (a reply of everything could pass the
         * gRPC limits of etcd's gateway, and the call's timeout). */
        _cleanup_json_ json_t *req = range_request(prefix, true, 0);
        struct store_kvs kvs = {};
        int64_t rev = at_rev;
        int r;
        if (at_rev > 0)
                etcd_json_set_i64(req, "revision", at_rev);
        for (;;) {
                size_t want = limit == 0 ? ETCD_RANGE_PAGE : limit - kvs.n;
                if (want > ETCD_RANGE_PAGE)
                        want = ETCD_RANGE_PAGE;
                etcd_json_set_i64(req, "limit", (int64_t) want);
                _cleanup_json_ json_t *reply = NULL;
                r = etcd_call(etcd(s), "/v3/kv/range", req, ETCD_REPEATABLE, &reply);
                if (r >= 0 && rev == 0)
                        r = etcd_header_revision(reply, &rev);
                size_t before = kvs.n;
                if (r >= 0)
                        r = kvs_from_reply(reply, &kvs);
                if (r < 0)
                        break;
                if (!tide_json_bool(reply, "more", false) || kvs.n == before || (limit > 0 && kvs.n >= limit))
                        break;
                /* The next page: from just after the last key, at the same revision. */
                const char *last = kvs.items[kvs.n - 1].key;
                size_t len = strlen(last);
                _cleanup_free_ char *next = xmalloc(len + 1);
                memcpy(next, last, len);
                next[len] = 0; /* last + "\0": the smallest key after it */
                etcd_json_set_b64(req, "key", next, len + 1);
                etcd_json_set_i64(req, "revision", rev);
        }
        if (r < 0) {
                store_kvs_clear(&kvs);
                return r;
        }
        *ret = kvs;
        if (ret_rev)
                *ret_rev = rev;
        return 0;
}

static int etcd_range(struct store *s, const char *prefix, size_t limit, struct store_kvs *ret, int64_t *ret_rev) {
        return range_at(s, prefix, limit, 0, ret, ret_rev);
}

static int etcd_range_many(struct store *s, const char *const *prefixes, size_t n, struct store_kvs *ret,
                           int64_t *ret_rev) {
        /* The first prefix at the current revision, the others at the same one (etcd keeps
         * every revision until a compaction: one that overtakes the read makes it start over). */
        int r = TIDE_E_COMPACTED;
        int64_t rev = 0;
        for (int attempt = 0; attempt < RANGE_MANY_ATTEMPTS && r == TIDE_E_COMPACTED; attempt++) {
                rev = 0;
                for (size_t i = 0; i < n; i++)
                        ret[i] = (struct store_kvs) {};
                r = 0;
                for (size_t i = 0; r >= 0 && i < n; i++)
                        r = range_at(s, prefixes[i], 0, rev, &ret[i], i == 0 ? &rev : NULL);
                if (r < 0)
                        for (size_t i = 0; i < n; i++)
                                store_kvs_clear(&ret[i]);
        }
        if (r < 0)
                return r;
        if (ret_rev)
                *ret_rev = rev;
        return 0;
}

/* ---- transactions ---- */

static json_t *cmp_json(const struct store_cmp *c) {
        static const char *const targets[STORE_CMP_TARGET_MAX] = {
                [STORE_CMP_MOD_REV] = "MOD",
                [STORE_CMP_CREATE_REV] = "CREATE",
                [STORE_CMP_VERSION] = "VERSION",
                [STORE_CMP_VALUE] = "VALUE",
        };
        static const char *const fields[STORE_CMP_TARGET_MAX] = {
                [STORE_CMP_MOD_REV] = "mod_revision",
                [STORE_CMP_CREATE_REV] = "create_revision",
                [STORE_CMP_VERSION] = "version",
                [STORE_CMP_VALUE] = "value",
        };
        static const char *const results[STORE_CMP_OP_MAX] = {
                [STORE_CMP_EQUAL] = "EQUAL",
                [STORE_CMP_NOT_EQUAL] = "NOT_EQUAL",
                [STORE_CMP_LESS] = "LESS",
                [STORE_CMP_GREATER] = "GREATER",
        };
        json_t *o = json_object();
        etcd_json_set_b64(o, "key", c->key, strlen(c->key));
        json_object_set_new(o, "target", json_string(targets[c->target]));
        json_object_set_new(o, "result", json_string(results[c->op]));
        if (c->target == STORE_CMP_VALUE)
                etcd_json_set_b64(o, fields[c->target], c->value, strlen(c->value));
        else
                etcd_json_set_i64(o, fields[c->target], c->number);
        return o;
}

static json_t *op_json(const struct store_op *op) {
        json_t *inner = json_object();
        const char *kind;
        switch (op->type) {
        case STORE_OP_PUT:
                kind = "request_put";
                etcd_json_set_b64(inner, "key", op->key, strlen(op->key));
                etcd_json_set_b64(inner, "value", op->value, strlen(op->value));
                if (op->lease)
                        etcd_json_set_i64(inner, "lease", op->lease);
                break;
        case STORE_OP_DELETE:
                kind = "request_delete_range";
                etcd_json_set_b64(inner, "key", op->key, strlen(op->key));
                break;
        default:
                kind = "request_delete_range";
                etcd_json_set_prefix(inner, op->key);
                break;
        }
        json_t *o = json_object();
        json_object_set_new(o, kind, inner);
        return o;
}

static json_t *ops_json(const struct store_op *ops, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, op_json(&ops[i]));
        return a;
}

static int etcd_txn(struct store *s, const struct store_txn *txn, bool *ret_succeeded, int64_t *ret_rev) {
        _cleanup_json_ json_t *req = json_object();
        json_t *cmps = json_array();
        for (size_t i = 0; i < txn->n_cmps; i++)
                json_array_append_new(cmps, cmp_json(&txn->cmps[i]));
        json_object_set_new(req, "compare", cmps);
        json_object_set_new(req, "success", ops_json(txn->success, txn->n_success));
        json_object_set_new(req, "failure", ops_json(txn->failure, txn->n_failure));
        /* Without compares the outcome does not depend on what was there: sending it twice
         * leaves the same keys (a put's second copy has a later revision). */
        unsigned flags = txn->n_cmps == 0 ? ETCD_REPEATABLE : 0;
        _cleanup_json_ json_t *reply = NULL;
        int r = etcd_call(etcd(s), "/v3/kv/txn", req, flags, &reply);
        if (r < 0)
                return r;
        int64_t rev;
        r = etcd_header_revision(reply, &rev);
        if (r < 0)
                return r;
        if (ret_succeeded)
                *ret_succeeded = tide_json_bool(reply, "succeeded", false);
        if (ret_rev)
                *ret_rev = rev;
        return 0;
}

/* ---- leases ---- */

static int etcd_lease_grant(struct store *s, int64_t ttl_s, int64_t *ret_id) {
        _cleanup_json_ json_t *req = json_object();
        etcd_json_set_i64(req, "TTL", ttl_s);
        _cleanup_json_ json_t *reply = NULL;
        /* Granting twice leaves one unused lease, which expires. */
        int r = etcd_call(etcd(s), "/v3/lease/grant", req, ETCD_REPEATABLE, &reply);
        if (r < 0)
                return r;
        int64_t id;
        if (etcd_json_i64(reply, "ID", &id) < 0 || id <= 0 || *tide_json_str(reply, "error", ""))
                return TIDE_E_BACKEND;
        *ret_id = id;
        return 0;
}

static int etcd_lease_keepalive(struct store *s, int64_t id) {
        _cleanup_json_ json_t *req = json_object();
        etcd_json_set_i64(req, "ID", id);
        _cleanup_json_ json_t *reply = NULL;
        int r = etcd_call(etcd(s), "/v3/lease/keepalive", req, ETCD_REPEATABLE, &reply);
        if (r < 0)
                return r;
        /* A stream of one message; an expired or unknown lease answers without a TTL. */
        int64_t ttl;
        if (etcd_json_i64(json_object_get(reply, "result"), "TTL", &ttl) < 0)
                return TIDE_E_BACKEND;
        return ttl > 0 ? 0 : TIDE_E_LEASE;
}

static int etcd_lease_revoke(struct store *s, int64_t id) {
        _cleanup_json_ json_t *req = json_object();
        etcd_json_set_i64(req, "ID", id);
        _cleanup_json_ json_t *reply = NULL;
        return etcd_call(etcd(s), "/v3/lease/revoke", req, 0, &reply);
}

void store_etcd_reset(struct store *s) {
        _cleanup_json_ json_t *list = NULL;
        _cleanup_json_ json_t *empty = json_object();
        if (etcd_call(etcd(s), "/v3/lease/leases", empty, ETCD_REPEATABLE, &list) >= 0) {
                json_t *l;
                size_t i;
                json_array_foreach(json_object_get(list, "leases"), i, l) {
                        int64_t id;
                        if (etcd_json_i64(l, "ID", &id) >= 0 && id > 0)
                                (void) etcd_lease_revoke(s, id);
                }
        }
        _cleanup_json_ json_t *req = json_object();
        etcd_json_set_prefix(req, "");
        _cleanup_json_ json_t *reply = NULL;
        (void) etcd_call(etcd(s), "/v3/kv/deleterange", req, ETCD_REPEATABLE, &reply);
}

int store_etcd_compact(struct store *s, int64_t rev) {
        _cleanup_json_ json_t *req = json_object();
        etcd_json_set_i64(req, "revision", rev);
        json_object_set_new(req, "physical", json_true());
        _cleanup_json_ json_t *reply = NULL;
        return etcd_call(etcd(s), "/v3/kv/compaction", req, ETCD_REPEATABLE, &reply);
}

const struct store_backend store_etcd_backend = {
        .name = "etcd",
        .open = etcd_open,
        .free = etcd_free,
        .revision = etcd_revision,
        .get = etcd_get,
        .range = etcd_range,
        .range_many = etcd_range_many,
        .txn = etcd_txn,
        .lease_grant = etcd_lease_grant,
        .lease_keepalive = etcd_lease_keepalive,
        .lease_revoke = etcd_lease_revoke,
        .watch_new = store_etcd_watch_new,
        .watch_next = store_etcd_watch_next,
        .watch_free = store_etcd_watch_free,
};
