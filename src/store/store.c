/* store.c — the store's front: opening by URL, argument checks, the conveniences over
 * store_txn, and dispatch through the backend table. Backends may assume that every argument
 * they get has passed the checks here. */
#include "store.h"

#include <errno.h>

#include "common/errors.h"
#include "common/util.h"
#include "store_backend.h"

void store_kv_clear(struct store_kv *kv) {
        if (!kv)
                return;
        free(kv->key);
        free(kv->value);
        *kv = (struct store_kv) {};
}

void store_kvs_clear(struct store_kvs *kvs) {
        if (!kvs)
                return;
        for (size_t i = 0; i < kvs->n; i++)
                store_kv_clear(&kvs->items[i]);
        free(kvs->items);
        *kvs = (struct store_kvs) {};
}

void store_events_clear(struct store_events *ev) {
        if (!ev)
                return;
        for (size_t i = 0; i < ev->n; i++)
                store_kv_clear(&ev->items[i].kv);
        free(ev->items);
        *ev = (struct store_events) {};
}

/* A key names one object: never empty. */
static int check_key(const char *key) {
        if (!key || !*key)
                return TIDE_E_INVALID;
        if (strnlen(key, STORE_KEY_MAX + 1) > STORE_KEY_MAX)
                return TIDE_E_TOO_LARGE;
        return 0;
}

/* A prefix for range and watch: empty means every key. */
static int check_prefix(const char *prefix) {
        if (!prefix)
                return TIDE_E_INVALID;
        if (strnlen(prefix, STORE_KEY_MAX + 1) > STORE_KEY_MAX)
                return TIDE_E_TOO_LARGE;
        return 0;
}

static int check_value(const char *value) {
        if (!value)
                return TIDE_E_INVALID;
        if (strnlen(value, STORE_VALUE_MAX + 1) > STORE_VALUE_MAX)
                return TIDE_E_TOO_LARGE;
        return 0;
}

static int check_cmp(const struct store_cmp *c) {
        int r = check_key(c->key);
        if (r < 0)
                return r;
        if ((unsigned) c->target >= STORE_CMP_TARGET_MAX || (unsigned) c->op >= STORE_CMP_OP_MAX)
                return TIDE_E_INVALID;
        if (c->target == STORE_CMP_VALUE)
                return check_value(c->value);
        return 0;
}

static int check_op(const struct store_op *o) {
        if ((unsigned) o->type >= STORE_OP_TYPE_MAX)
                return TIDE_E_INVALID;
        int r = check_key(o->key);
        if (r < 0)
                return r;
        if (o->type == STORE_OP_PUT) {
                if (o->lease < 0)
                        return TIDE_E_INVALID;
                return check_value(o->value);
        }
        return 0;
}

/* Whether two operations of one branch touch a common key (etcd refuses such a txn too: the
 * outcome would depend on the order of application). */
static bool ops_overlap(const struct store_op *a, const struct store_op *b) {
        if (streq(a->key, b->key))
                return true;
        if (a->type == STORE_OP_DELETE_PREFIX && startswith(b->key, a->key))
                return true;
        if (b->type == STORE_OP_DELETE_PREFIX && startswith(a->key, b->key))
                return true;
        return false;
}

static int check_ops(const struct store_op *ops, size_t n) {
        if (n > 0 && !ops)
                return TIDE_E_INVALID;
        if (n > STORE_TXN_OPS_MAX)
                return TIDE_E_TOO_LARGE;
        for (size_t i = 0; i < n; i++) {
                int r = check_op(&ops[i]);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (ops_overlap(&ops[i], &ops[j]))
                                return TIDE_E_INVALID;
        }
        return 0;
}

static int check_txn(const struct store_txn *txn) {
        if (!txn)
                return TIDE_E_INVALID;
        if (txn->n_cmps > 0 && !txn->cmps)
                return TIDE_E_INVALID;
        if (txn->n_cmps > STORE_TXN_OPS_MAX)
                return TIDE_E_TOO_LARGE;
        for (size_t i = 0; i < txn->n_cmps; i++) {
                int r = check_cmp(&txn->cmps[i]);
                if (r < 0)
                        return r;
        }
        int r = check_ops(txn->success, txn->n_success);
        if (r < 0)
                return r;
        return check_ops(txn->failure, txn->n_failure);
}

int store_open(const char *url, struct store **ret) {
        if (!url || !ret)
                return TIDE_E_INVALID;

        const struct store_backend *backend;
        const char *location;
        if (startswith(url, "sqlite:")) {
                backend = &store_sqlite_backend;
                location = url + strlen("sqlite:");
        } else if (startswith(url, "etcd:")) {
                backend = &store_etcd_backend;
                location = url + strlen("etcd:");
        } else {
                backend = &store_sqlite_backend;
                location = url;
        }
        if (!*location)
                return TIDE_E_INVALID;

        struct store *s = NULL;
        int r = backend->open(location, &s);
        if (r < 0)
                return r;
        s->backend = backend;
        *ret = s;
        return 0;
}

void store_free(struct store *s) {
        if (s)
                s->backend->free(s);
}

const char *store_backend_name(const struct store *s) {
        const char *inner = store_fence_inner_name(s);
        return inner ? inner : s->backend->name;
}

int store_revision(struct store *s, int64_t *ret_rev) {
        if (!s || !ret_rev)
                return TIDE_E_INVALID;
        return s->backend->revision(s, ret_rev);
}

int store_get(struct store *s, const char *key, struct store_kv *ret) {
        if (!s || !ret)
                return TIDE_E_INVALID;
        int r = check_key(key);
        if (r < 0)
                return r;
        return s->backend->get(s, key, ret);
}

int store_range(struct store *s, const char *prefix, size_t limit, struct store_kvs *ret, int64_t *ret_rev) {
        if (!s || !ret)
                return TIDE_E_INVALID;
        int r = check_prefix(prefix);
        if (r < 0)
                return r;
        return s->backend->range(s, prefix, limit, ret, ret_rev);
}

int store_range_many(struct store *s, const char *const *prefixes, size_t n, struct store_kvs *ret, int64_t *ret_rev) {
        if (!s || !prefixes || n == 0 || !ret)
                return TIDE_E_INVALID;
        for (size_t i = 0; i < n; i++) {
                int r = check_prefix(prefixes[i]);
                if (r < 0)
                        return r;
        }
        return s->backend->range_many(s, prefixes, n, ret, ret_rev);
}

int store_txn(struct store *s, const struct store_txn *txn, bool *ret_succeeded, int64_t *ret_rev) {
        if (!s)
                return TIDE_E_INVALID;
        int r = check_txn(txn);
        if (r < 0)
                return r;
        return s->backend->txn(s, txn, ret_succeeded, ret_rev);
}

/* Runs a one-put transaction guarded by at most one compare; failed_error is what a failed
 * compare returns. */
static int put_if(struct store *s, const struct store_cmp *cmp, int failed_error, const char *key, const char *value,
                  int64_t lease, int64_t *ret_rev) {
        const struct store_op op = {
                .type = STORE_OP_PUT,
                .key = key,
                .value = value,
                .lease = lease,
        };
        const struct store_txn txn = {
                .cmps = cmp,
                .n_cmps = cmp ? 1 : 0,
                .success = &op,
                .n_success = 1,
        };
        bool ok;
        int64_t rev;
        int r = store_txn(s, &txn, &ok, &rev);
        if (r < 0)
                return r;
        if (!ok)
                return failed_error;
        if (ret_rev)
                *ret_rev = rev;
        return 0;
}

int store_put(struct store *s, const char *key, const char *value, int64_t lease, int64_t *ret_rev) {
        return put_if(s, NULL, 0, key, value, lease, ret_rev);
}

int store_create(struct store *s, const char *key, const char *value, int64_t lease, int64_t *ret_rev) {
        const struct store_cmp cmp = {
                .key = key,
                .target = STORE_CMP_CREATE_REV,
                .op = STORE_CMP_EQUAL,
                .number = 0,
        };
        return put_if(s, &cmp, TIDE_E_EXISTS, key, value, lease, ret_rev);
}

int store_cas(struct store *s, const char *key, const char *value, int64_t expected_mod_rev, int64_t *ret_rev) {
        if (expected_mod_rev < 0)
                return TIDE_E_INVALID;
        /* A replacement keeps no lease, as a put without one would; CAS on leased keys is not
         * a use tide has. */
        const struct store_cmp cmp = {
                .key = key,
                .target = STORE_CMP_MOD_REV,
                .op = STORE_CMP_EQUAL,
                .number = expected_mod_rev,
        };
        return put_if(s, &cmp, TIDE_E_CONFLICT, key, value, 0, ret_rev);
}

int store_delete(struct store *s, const char *key, int64_t *ret_rev) {
        const struct store_cmp cmp = {
                .key = key,
                .target = STORE_CMP_CREATE_REV,
                .op = STORE_CMP_GREATER,
                .number = 0,
        };
        const struct store_op op = { .type = STORE_OP_DELETE, .key = key };
        const struct store_txn txn = { .cmps = &cmp, .n_cmps = 1, .success = &op, .n_success = 1 };
        bool ok;
        int64_t rev;
        int r = store_txn(s, &txn, &ok, &rev);
        if (r < 0)
                return r;
        if (!ok)
                return TIDE_E_NOT_FOUND;
        if (ret_rev)
                *ret_rev = rev;
        return 0;
}

static int check_ttl(int64_t ttl_s) {
        return ttl_s >= STORE_LEASE_TTL_MIN && ttl_s <= STORE_LEASE_TTL_MAX ? 0 : TIDE_E_INVALID;
}

int store_lease_grant(struct store *s, int64_t ttl_s, int64_t *ret_id) {
        if (!s || !ret_id)
                return TIDE_E_INVALID;
        int r = check_ttl(ttl_s);
        if (r < 0)
                return r;
        return s->backend->lease_grant(s, ttl_s, ret_id);
}

int store_lease_keepalive(struct store *s, int64_t id) {
        if (!s)
                return TIDE_E_INVALID;
        if (id <= 0)
                return TIDE_E_LEASE;
        return s->backend->lease_keepalive(s, id);
}

int store_lease_revoke(struct store *s, int64_t id) {
        if (!s)
                return TIDE_E_INVALID;
        if (id <= 0)
                return TIDE_E_LEASE;
        return s->backend->lease_revoke(s, id);
}

int store_watch_new(struct store *s, const char *prefix, int64_t after_rev, struct store_watch **ret) {
        if (!s || !ret || after_rev < 0)
                return TIDE_E_INVALID;
        int r = check_prefix(prefix);
        if (r < 0)
                return r;
        struct store_watch *w = NULL;
        r = s->backend->watch_new(s, prefix, after_rev, &w);
        if (r < 0)
                return r;
        /* Set by a backend that hands out another handle's watch (a fenced handle's). */
        if (!w->backend)
                w->backend = s->backend;
        *ret = w;
        return 0;
}

int store_watch_next(struct store_watch *w, int timeout_ms, struct store_events *ret) {
        if (!w || !ret || timeout_ms < 0)
                return TIDE_E_INVALID;
        return w->backend->watch_next(w, timeout_ms, ret);
}

void store_watch_free(struct store_watch *w) {
        if (w)
                w->backend->watch_free(w);
}
