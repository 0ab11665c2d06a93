/* store_fence.c — a fenced handle (store.h, store_fence_new): every transaction through it also
 * compares the fence key's create_rev, so a leader that no longer leads writes nothing. Reads,
 * leases and watches go to the handle it wraps unchanged; only transactions differ. */
#include <stdatomic.h>

#include "common/errors.h"
#include "common/util.h"
#include "store_backend.h"

struct fence_store {
        struct store base;
        struct store *inner; /* borrowed */
        char *key;
        int64_t create_rev;
        atomic_bool revoked;
        _Atomic int64_t deadline_ms; /* monotonic; 0: none */
};

static struct fence_store *fence_of(struct store *s) {
        return (struct fence_store *) s;
}

static void fence_free(struct store *s) {
        struct fence_store *f = fence_of(s);
        free(f->key);
        free(f);
}

static int fence_revision(struct store *s, int64_t *ret_rev) {
        return store_revision(fence_of(s)->inner, ret_rev);
}

static int fence_get(struct store *s, const char *key, struct store_kv *ret) {
        return store_get(fence_of(s)->inner, key, ret);
}

static int fence_range(struct store *s, const char *prefix, size_t limit, struct store_kvs *ret, int64_t *ret_rev) {
        return store_range(fence_of(s)->inner, prefix, limit, ret, ret_rev);
}

static int fence_range_many(struct store *s, const char *const *prefixes, size_t n, struct store_kvs *ret,
                            int64_t *ret_rev) {
        return store_range_many(fence_of(s)->inner, prefixes, n, ret, ret_rev);
}

/* Whether the fence key still has the create_rev the handle was made with. */
static int fence_holds(struct fence_store *f) {
        struct store_kv kv = {};
        int r = store_get(f->inner, f->key, &kv);
        if (r == TIDE_E_NOT_FOUND)
                return 0;
        if (r < 0)
                return r;
        bool holds = kv.create_rev == f->create_rev;
        store_kv_clear(&kv);
        return holds;
}

static int fence_txn(struct store *s, const struct store_txn *txn, bool *ret_succeeded, int64_t *ret_rev) {
        struct fence_store *f = fence_of(s);
        if (atomic_load(&f->revoked))
                return TIDE_E_FENCED;
        int64_t deadline = atomic_load(&f->deadline_ms);
        if (deadline > 0 && mono_ms() >= deadline)
                return TIDE_E_FENCED;
        /* A failure branch would run when only the fence failed: not a use a leader has. */
        if (txn->n_failure > 0)
                return TIDE_E_UNSUPPORTED;
        if (txn->n_cmps + 1 > STORE_TXN_OPS_MAX)
                return TIDE_E_TOO_LARGE;
        _cleanup_free_ struct store_cmp *cmps = xcalloc(txn->n_cmps + 1, sizeof *cmps);
        for (size_t i = 0; i < txn->n_cmps; i++)
                cmps[i] = txn->cmps[i];
        cmps[txn->n_cmps] = (struct store_cmp) {
                .key = f->key,
                .target = STORE_CMP_CREATE_REV,
                .op = STORE_CMP_EQUAL,
                .number = f->create_rev,
        };
        struct store_txn t = *txn;
        t.cmps = cmps;
        t.n_cmps = txn->n_cmps + 1;
        bool ok = false;
        int r = store_txn(f->inner, &t, &ok, ret_rev);
        if (r < 0)
                return r;
        if (!ok) {
                /* Which compare failed is not told: ask the fence key. */
                r = fence_holds(f);
                if (r < 0)
                        return r;
                if (r == 0) {
                        atomic_store(&f->revoked, true);
                        return TIDE_E_FENCED;
                }
        }
        if (ret_succeeded)
                *ret_succeeded = ok;
        return 0;
}

static int fence_lease_grant(struct store *s, int64_t ttl_s, int64_t *ret_id) {
        return store_lease_grant(fence_of(s)->inner, ttl_s, ret_id);
}

static int fence_lease_keepalive(struct store *s, int64_t id) {
        return store_lease_keepalive(fence_of(s)->inner, id);
}

static int fence_lease_revoke(struct store *s, int64_t id) {
        return store_lease_revoke(fence_of(s)->inner, id);
}

static int fence_watch_new(struct store *s, const char *prefix, int64_t after_rev, struct store_watch **ret) {
        /* The inner backend's watch: store_watch_next and _free dispatch on its own table. */
        return store_watch_new(fence_of(s)->inner, prefix, after_rev, ret);
}

static const struct store_backend store_fence_backend = {
        .name = NULL, /* the wrapped handle's (store_backend_name) */
        .free = fence_free,
        .revision = fence_revision,
        .get = fence_get,
        .range = fence_range,
        .range_many = fence_range_many,
        .txn = fence_txn,
        .lease_grant = fence_lease_grant,
        .lease_keepalive = fence_lease_keepalive,
        .lease_revoke = fence_lease_revoke,
        .watch_new = fence_watch_new,
};

int store_fence_new(struct store *inner, const char *key, int64_t create_rev, struct store **ret) {
        if (!inner || !key || !*key || create_rev <= 0 || !ret)
                return TIDE_E_INVALID;
        struct fence_store *f = xcalloc(1, sizeof *f);
        f->base.backend = &store_fence_backend;
        f->inner = inner;
        f->key = xstrdup(key);
        f->create_rev = create_rev;
        *ret = &f->base;
        return 0;
}

void store_fence_revoke(struct store *s) {
        if (s && s->backend == &store_fence_backend)
                atomic_store(&fence_of(s)->revoked, true);
}

void store_fence_set_deadline(struct store *s, int64_t until_ms) {
        if (s && s->backend == &store_fence_backend)
                atomic_store(&fence_of(s)->deadline_ms, until_ms);
}

const char *store_fence_inner_name(const struct store *s) {
        return s->backend == &store_fence_backend ? store_backend_name(((const struct fence_store *) s)->inner) : NULL;
}
