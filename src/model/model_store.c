/* model_store.c — tide's objects in the store: named objects, events and hosts. No logging. */
#include "model.h"
#include "model_layout.h"

#include <stdarg.h>
#include <stdatomic.h>

#include "common/errors.h"
#include "common/util.h"

int model_json_get(struct store *s, const char *key, json_t **ret, int64_t *ret_rev) {
        struct store_kv kv = {};
        int r = store_get(s, key, &kv);
        if (r < 0 && r != TIDE_E_NOT_FOUND)
                return r;
        _cleanup_json_ json_t *o = r >= 0 ? json_loadb(kv.value, kv.value_len, 0, NULL) : NULL;
        *ret_rev = r >= 0 ? kv.mod_rev : 0;
        store_kv_clear(&kv);
        *ret = json_is_object(o) ? TAKE_PTR(o) : json_object();
        return 0;
}

static int load(struct store *s, const char *key, json_t **ret, int64_t *ret_rev) {
        struct store_kv kv = {};
        int r = store_get(s, key, &kv);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *o = json_loadb(kv.value, kv.value_len, 0, NULL);
        int64_t rev = kv.mod_rev;
        store_kv_clear(&kv);
        if (!json_is_object(o))
                return TIDE_E_BACKEND; /* the store holds only what tide wrote */
        *ret = TAKE_PTR(o);
        if (ret_rev)
                *ret_rev = rev;
        return 0;
}

int model_obj_get(struct store *s, enum model_kind k, const char *ref, json_t **ret, int64_t *ret_rev) {
        if (!ref || (!model_id_valid(ref) && !model_name_valid(ref)))
                return TIDE_E_NOT_FOUND;
        if (model_id_valid(ref)) {
                _cleanup_free_ char *key = model_obj_key(k, ref);
                int r = load(s, key, ret, ret_rev);
                if (r != TIDE_E_NOT_FOUND)
                        return r;
        }
        if (!model_name_valid(ref))
                return TIDE_E_NOT_FOUND;
        _cleanup_free_ char *nk = model_name_key(k, ref);
        struct store_kv kv = {};
        int r = store_get(s, nk, &kv);
        if (r < 0)
                return r;
        _cleanup_free_ char *key = model_obj_key(k, kv.value);
        store_kv_clear(&kv);
        return load(s, key, ret, ret_rev);
}

static int by_name(const void *a, const void *b) {
        json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
        return strcmp(tide_json_str(x, "name", ""), tide_json_str(y, "name", ""));
}

/* Loads every JSON object under prefix into a new array, sorted by "name". */
static int load_prefix(struct store *s, const char *prefix, json_t **ret) {
        struct store_kvs kvs = {};
        int r = store_range(s, prefix, 0, &kvs, NULL);
        if (r < 0)
                return r;
        _cleanup_free_ json_t **v = xcalloc(kvs.n, sizeof(json_t *));
        size_t n = 0;
        for (size_t i = 0; i < kvs.n; i++) {
                json_t *o = json_loadb(kvs.items[i].value, kvs.items[i].value_len, 0, NULL);
                if (json_is_object(o))
                        v[n++] = o;
                else
                        json_decref(o);
        }
        store_kvs_clear(&kvs);
        qsort(v, n, sizeof(json_t *), by_name);
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, v[i]);
        *ret = a;
        return 0;
}

int model_obj_list(struct store *s, enum model_kind k, json_t **ret) {
        _cleanup_free_ char *prefix = model_key_kind(k);
        return load_prefix(s, prefix, ret);
}

int model_obj_create(struct store *s, enum model_kind k, json_t *obj, int64_t *ret_rev) {
        const char *id = tide_json_str(obj, "id", NULL), *name = tide_json_str(obj, "name", NULL);
        if (!model_id_valid(id) || !model_name_valid(name))
                return TIDE_E_INVALID;
        _cleanup_free_ char *key = model_obj_key(k, id), *nk = model_name_key(k, name);
        _cleanup_free_ char *value = tide_json_dump(obj);
        struct store_cmp cmps[] = {
                { .key = nk, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = 0 },
                { .key = key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = 0 },
        };
        struct store_op ops[] = {
                { .type = STORE_OP_PUT, .key = nk, .value = id },
                { .type = STORE_OP_PUT, .key = key, .value = value },
        };
        struct store_txn txn = { .cmps = cmps, .n_cmps = 2, .success = ops, .n_success = 2 };
        bool ok;
        int r = store_txn(s, &txn, &ok, ret_rev);
        if (r < 0)
                return r;
        return ok ? 0 : TIDE_E_EXISTS;
}

int model_obj_update(struct store *s, enum model_kind k, json_t *obj, int64_t rev, int64_t *ret_rev) {
        const char *id = tide_json_str(obj, "id", NULL);
        if (!model_id_valid(id))
                return TIDE_E_INVALID;
        _cleanup_free_ char *key = model_obj_key(k, id);
        _cleanup_free_ char *value = tide_json_dump(obj);
        return store_cas(s, key, value, rev, ret_rev);
}

int model_obj_delete(struct store *s, enum model_kind k, json_t *obj, int64_t rev) {
        const char *id = tide_json_str(obj, "id", NULL), *name = tide_json_str(obj, "name", NULL);
        if (!model_id_valid(id) || !model_name_valid(name))
                return TIDE_E_INVALID;
        _cleanup_free_ char *key = model_obj_key(k, id), *nk = model_name_key(k, name);
        struct store_cmp cmp = { .key = key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = rev };
        struct store_op ops[] = {
                { .type = STORE_OP_DELETE, .key = key },
                { .type = STORE_OP_DELETE, .key = nk },
        };
        struct store_txn txn = { .cmps = &cmp, .n_cmps = rev > 0 ? 1 : 0, .success = ops, .n_success = 2 };
        bool ok;
        int r = store_txn(s, &txn, &ok, NULL);
        if (r < 0)
                return r;
        return ok ? 0 : TIDE_E_CONFLICT;
}

/* One loop for both: k names the kind of the object ref names, or is MODEL_KIND_MAX for the
 * object at the key ref. */
static int modify(struct store *s, enum model_kind k, const char *ref, model_change_fn change, void *userdata,
                  json_t **ret) {
        for (int attempt = 0; attempt < MODEL_MODIFY_RETRIES; attempt++) {
                _cleanup_json_ json_t *o = NULL;
                int64_t rev = 0;
                int r = k < MODEL_KIND_MAX ? model_obj_get(s, k, ref, &o, &rev) : model_json_get(s, ref, &o, &rev);
                if (r < 0)
                        return r;
                /* A leader's stamp says whose change was the last: the leader's change sets it
                 * again, any other writer's drops it (model.h, MODEL_LEADER_REV). */
                _cleanup_json_ json_t *stamp = json_incref(json_object_get(o, MODEL_LEADER_REV));
                json_object_del(o, MODEL_LEADER_REV);
                int c = change(o, userdata);
                if (c < 0)
                        return c;
                if (c == MODEL_CHANGE_KEEP) {
                        if (stamp && !json_object_get(o, MODEL_LEADER_REV))
                                json_object_set(o, MODEL_LEADER_REV, stamp);
                        if (ret)
                                *ret = TAKE_PTR(o);
                        return MODEL_CHANGE_KEEP;
                }
                if (k < MODEL_KIND_MAX) {
                        model_set_now(o, "updated");
                        r = model_obj_update(s, k, o, rev, NULL);
                } else {
                        _cleanup_free_ char *value = tide_json_dump(o);
                        r = rev ? store_cas(s, ref, value, rev, NULL) : store_create(s, ref, value, 0, NULL);
                }
                if (r == TIDE_E_CONFLICT || r == TIDE_E_EXISTS)
                        continue; /* another writer came first: start again from what it wrote */
                if (r < 0)
                        return r;
                if (ret)
                        *ret = TAKE_PTR(o);
                return MODEL_CHANGE_WRITE;
        }
        return TIDE_E_CONFLICT;
}

int model_obj_modify(struct store *s, enum model_kind k, const char *ref, model_change_fn change, void *userdata,
                     json_t **ret) {
        if (k >= MODEL_KIND_MAX)
                return TIDE_E_INVALID;
        return modify(s, k, ref, change, userdata, ret);
}

int model_json_modify(struct store *s, const char *key, model_change_fn change, void *userdata, json_t **ret) {
        return modify(s, MODEL_KIND_MAX, key, change, userdata, ret);
}

int model_merge_change(json_t *obj, void *userdata) {
        struct model_merge_change *c = userdata;
        _cleanup_json_ json_t *merged = NULL;
        free(c->err); /* a refusal of an earlier round */
        c->err = NULL;
        int r = c->merge(obj, c->body, &merged, &c->err);
        if (r < 0)
                return r;
        json_object_clear(obj);
        json_object_update(obj, merged);
        return MODEL_CHANGE_WRITE;
}

/* Events. */

static atomic_uint emits;

static void trim_events(struct store *s) {
        struct store_kvs kvs = {};
        if (store_range(s, MODEL_KEY_EVENTS, 0, &kvs, NULL) < 0)
                return;
        if (kvs.n > MODEL_EVENTS_KEEP) {
                size_t n = kvs.n - MODEL_EVENTS_KEEP;
                _cleanup_free_ struct store_op *ops = xcalloc(n, sizeof *ops);
                for (size_t i = 0; i < n; i++)
                        ops[i] = (struct store_op) { .type = STORE_OP_DELETE, .key = kvs.items[i].key };
                struct store_txn txn = { .success = ops, .n_success = n };
                (void) store_txn(s, &txn, NULL, NULL); /* best effort: the next trim retries */
        }
        store_kvs_clear(&kvs);
}

static int event_put(struct store *s, const char *severity, const char *type, json_t *instance, json_t *group,
                     const char *host, const char *msg) {
        int64_t ms = now_ms();
        _cleanup_free_ char *rnd = id_new_token(4);
        _cleanup_free_ char *id = xasprintf("%017lld-%s", (long long) ms, rnd);
        _cleanup_free_ char *stamp = time_format_ms(ms);
        _cleanup_json_ json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "time", stamp, "severity", severity,
                                             "type", type, "message", msg);
        const char *dot = strchr(type, '.');
        json_object_set_new(e, "object", dot ? json_stringn(type, (size_t) (dot - type)) : json_string(type));
        if (instance) {
                json_object_set_new(e, "instance", json_string(tide_json_str(instance, "name", "")));
                json_object_set_new(e, "instance_id", json_string(tide_json_str(instance, "id", "")));
        }
        if (group) {
                json_object_set_new(e, "group", json_string(tide_json_str(group, "name", "")));
                json_object_set_new(e, "group_id", json_string(tide_json_str(group, "id", "")));
        }
        if (host)
                json_object_set_new(e, "host", json_string(host));
        _cleanup_free_ char *key = model_key_event(id);
        _cleanup_free_ char *value = tide_json_dump(e);
        int r = store_put(s, key, value, 0, NULL);
        if (r >= 0 && atomic_fetch_add(&emits, 1) % 500 == 499)
                trim_events(s);
        return r;
}

int model_event_emit(struct store *s, const char *severity, const char *type, json_t *instance, const char *host,
                     const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        return event_put(s, severity, type, instance, NULL, host, msg);
}

int model_scaling_group_event_emit(struct store *s, const char *severity, const char *type, json_t *group,
                                   json_t *instance, const char *host, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        return event_put(s, severity, type, instance, group, host, msg);
}

/* The newest limit events whose <what> or <what>_id is ref (all when ref is NULL). */
static int event_list(struct store *s, const char *what, const char *ref, size_t limit, json_t **ret) {
        struct store_kvs kvs = {};
        int r = store_range(s, MODEL_KEY_EVENTS, 0, &kvs, NULL);
        if (r < 0)
                return r;
        _cleanup_free_ char *id_key = xasprintf("%s_id", what);
        json_t *a = json_array();
        /* Newest first from the end, then reversed: the limit keeps the newest. */
        for (size_t i = kvs.n; i > 0 && json_array_size(a) < limit; i--) {
                json_t *e = json_loadb(kvs.items[i - 1].value, kvs.items[i - 1].value_len, 0, NULL);
                if (!json_is_object(e) ||
                    (ref && !streq(tide_json_str(e, what, ""), ref) && !streq(tide_json_str(e, id_key, ""), ref))) {
                        json_decref(e);
                        continue;
                }
                json_array_insert_new(a, 0, e);
        }
        store_kvs_clear(&kvs);
        *ret = a;
        return 0;
}

int model_event_list(struct store *s, const char *instance_ref, size_t limit, json_t **ret) {
        return event_list(s, "instance", instance_ref, limit, ret);
}

int model_scaling_group_event_list(struct store *s, const char *group_ref, size_t limit, json_t **ret) {
        return event_list(s, "group", group_ref, limit, ret);
}

int model_leader_get(struct store *s, char **ret_host, int64_t *ret_rev) {
        struct store_kv kv = {};
        int r = store_get(s, MODEL_KEY_LEADER, &kv);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *v = json_loadb(kv.value, kv.value_len, 0, NULL);
        if (ret_host)
                *ret_host = xstrdup(tide_json_str(v, "host", ""));
        if (ret_rev)
                *ret_rev = kv.create_rev;
        store_kv_clear(&kv);
        return 0;
}

/* Hosts: the record under /tide/hosts/<name> persists; /tide/hostlive/<name>, attached to the
 * agent's lease, says it is up. */

static void mark_state(struct store *s, json_t *h) {
        _cleanup_free_ char *key = model_key_hostlive(tide_json_str(h, "name", ""));
        struct store_kv kv = {};
        bool up = store_get(s, key, &kv) >= 0;
        _cleanup_json_ json_t *live = up ? json_loadb(kv.value, kv.value_len, 0, NULL) : NULL;
        store_kv_clear(&kv);
        json_object_set_new(h, "state", json_string(up ? "up" : "down"));
        /* The agent reports the host's measured CPU use (0..1) on its liveness key. */
        if (json_is_number(json_object_get(live, "load")))
                json_object_set(h, "load", json_object_get(live, "load"));
}

int model_host_list(struct store *s, json_t **ret) {
        json_t *a;
        int r = load_prefix(s, MODEL_KEY_HOSTS, &a);
        if (r < 0)
                return r;
        size_t i;
        json_t *h;
        json_array_foreach(a, i, h)
                mark_state(s, h);
        *ret = a;
        return 0;
}

int model_host_get(struct store *s, const char *name, json_t **ret) {
        if (!model_name_valid(name))
                return TIDE_E_NOT_FOUND;
        _cleanup_free_ char *key = model_key_host(name);
        json_t *h;
        int r = load(s, key, &h, NULL);
        if (r < 0)
                return r;
        mark_state(s, h);
        *ret = h;
        return 0;
}
