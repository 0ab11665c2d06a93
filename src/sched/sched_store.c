/* sched_store.c — placement snapshots from the store and decisions committed with
 * compare-and-swap on the host's allocation (see sched_store.h). No logging. */
#include "sched_store.h"

#include "sched/sched_cache.h"

#include "common/errors.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "model/model_net.h"

#define PLACE_RETRIES 50
#define PLACE_CACHED_ATTEMPTS 2 /* on the cache's view; the retries after them on a fresh read */

void sched_snapshot_clear(struct sched_snapshot *snap) {
        for (size_t i = 0; i < snap->n; i++)
                json_decref(snap->host_json[i]);
        free(snap->hosts);
        free(snap->host_json);
        free(snap->alloc_rev);
        free(snap->basis);
        *snap = (struct sched_snapshot) {};
}

void sched_basis_cmps(const struct sched_snapshot *snap, size_t i, struct sched_basis_cmps *ret) {
        const char *name = snap->hosts[i].name;
        const struct sched_basis *b = &snap->basis[i];
        *ret = (struct sched_basis_cmps) {
                .keys = { model_key_host(name), model_key_hostconf(name), model_key_hostlive(name),
                          xstrdup(MODEL_KEY_PLACEMENT_CONFIG) },
        };
        const struct {
                enum store_cmp_target target;
                int64_t rev;
        } want[SCHED_BASIS_CMPS] = {
                { STORE_CMP_MOD_REV, b->record_rev },
                { STORE_CMP_MOD_REV, b->conf_rev },
                /* Its load is written on it every few seconds: only a new life (the lease
                 * lapsed, the host registered again) changes what placement may do there. */
                { STORE_CMP_CREATE_REV, b->live_create_rev },
                { STORE_CMP_MOD_REV, snap->config_rev },
        };
        for (size_t k = 0; k < SCHED_BASIS_CMPS; k++)
                ret->cmps[ret->n++] = (struct store_cmp) {
                        .key = ret->keys[k], .target = want[k].target, .op = STORE_CMP_EQUAL, .number = want[k].rev
                };
}

void sched_basis_cmps_clear(struct sched_basis_cmps *b) {
        for (size_t k = 0; k < SCHED_BASIS_CMPS; k++)
                free(b->keys[k]);
        *b = (struct sched_basis_cmps) {};
}

int sched_snapshot_find(const struct sched_snapshot *snap, const char *name) {
        for (size_t i = 0; i < snap->n; i++)
                if (streq(snap->hosts[i].name, name))
                        return (int) i;
        return -1;
}

int sched_request_from_instance(json_t *inst, json_t *group, json_t *members, struct sched_request *ret,
                                json_t **ret_holder) {
        _cleanup_json_ json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:s, s:b}", "id", tide_json_str(inst, "id", ""),
                                             "vcpus", (json_int_t) tide_json_int(inst, "vcpus", 1), "ram_mib",
                                             (json_int_t) tide_json_int(inst, "ram_mib", 0), "disk_gib",
                                             (json_int_t) tide_json_int(inst, "disk_gib", 0), "cpu_policy",
                                             tide_json_str(inst, "cpu_policy", "shared"), "hugepages",
                                             tide_json_bool(inst, "hugepages", false));
        json_t *hints = json_object_get(inst, "hints");
        json_object_set_new(o, "hints", hints ? json_incref(hints) : json_array());
        if (group) {
                json_object_set_new(o, "group_policy", json_string(tide_json_str(group, "policy", "none")));
                json_t *hs = json_array();
                const char *id;
                json_t *host;
                json_object_foreach(members, id, host)
                        if (!streq(id, tide_json_str(inst, "id", "")) && json_is_string(host))
                                json_array_append(hs, host);
                json_object_set_new(o, "group_hosts", hs);
        }
        _cleanup_free_ char *err = NULL;
        int r = sched_request_from_json(o, ret, &err);
        if (r < 0)
                return r;
        *ret_holder = TAKE_PTR(o);
        return 0;
}

/* Reads the group's members record; ret gets {} when there is none, ret_rev its mod_rev. */
/* Reads the group's members record ({} when there is none); NULL for no group. */
static int read_members(struct store *s, json_t *group, json_t **ret, int64_t *ret_rev) {
        *ret = NULL;
        *ret_rev = 0;
        if (!group)
                return 0;
        _cleanup_free_ char *key = model_key_groupmembers(tide_json_str(group, "id", ""));
        return model_json_get(s, key, ret, ret_rev);
}

/* Placement's view: the cache's (held until view_put) or, without a cache, a fresh read. */
struct view {
        struct sched_cache *cache;
        struct sched_snapshot own;
        struct sched_snapshot *snap;
};

/* to_claim: for sched_store_create, whose claims are booked in flight (sched_cache.h);
 * catch_up: it must see every change committed so far (explanations, lost races). */
static int view_get(struct store *s, struct sched_cache *cache, bool to_claim, bool catch_up, struct view *v) {
        *v = (struct view) { .cache = cache };
        if (cache)
                return to_claim ? sched_cache_acquire_to_claim(cache, catch_up, &v->snap)
                                : sched_cache_acquire(cache, &v->snap);
        int r = sched_snapshot_read(s, &v->own);
        if (r >= 0)
                v->snap = &v->own;
        return r;
}

static void view_put(struct view *v) {
        if (v->snap && v->cache)
                sched_cache_release(v->cache);
        sched_snapshot_clear(&v->own);
        v->snap = NULL;
}

int sched_store_create(struct store *s, struct sched_cache *shared_cache, json_t *inst, json_t *group,
                       char **ret_reason) {
        const char *id = tide_json_str(inst, "id", ""), *name = tide_json_str(inst, "name", "");
        _cleanup_free_ char *key = model_obj_key(MODEL_INSTANCE, id);
        _cleanup_free_ char *nk = model_name_key(MODEL_INSTANCE, name);
        _cleanup_free_ char *gkey = group ? model_key_groupmembers(tide_json_str(group, "id", "")) : NULL;
        /* The networks asked for become the record's "ports" (model_net.h). */
        _cleanup_json_ json_t *port_requests = json_incref(json_object_get(inst, "networks"));
        json_object_del(inst, "networks");

        for (int attempt = 0; attempt < PLACE_RETRIES; attempt++) {
                /* Its ports are made afresh each round, from the addresses free now; they are
                 * stored with the instance or not at all. */
                _cleanup_(model_port_txn_clear) struct model_port_txn pt = {};
                _cleanup_free_ char *port_err = NULL;
                int pr = model_ports_prepare(s, id, port_requests, &pt, &port_err);
                if (pr < 0) {
                        if (ret_reason)
                                *ret_reason = TAKE_PTR(port_err);
                        return pr;
                }
                json_object_set(inst, "ports", pt.ports);
                struct view v;
                struct sched_request req = {};
                struct sched_decision d = {};
                _cleanup_json_ json_t *members = NULL, *holder = NULL, *used = NULL;
                int64_t members_rev = 0;
                _cleanup_free_ char *reason = NULL, *value = NULL, *alloc_value = NULL, *alloc_key = NULL;
                _cleanup_free_ char *members_value = NULL;
                _cleanup_free_ struct sched_host *h = NULL;
                struct sched_cache_claim *claim = NULL;
                /* After two lost races the decision is made on a fresh read: a watch-fed view
                 * may lag (on etcd a change can reach the watch after the store's revision says
                 * it was made, and nothing else may come to bring it), so a view that keeps
                 * losing is not trusted to catch up (store.h, store_watch_next). */
                struct sched_cache *cache = attempt < PLACE_CACHED_ATTEMPTS ? shared_cache : NULL;
                int64_t rev = 0;
                /* With a cache its lock is held from the decision until the claim is booked in
                 * it as in flight; the commit runs without it (sched_cache.h). A first attempt
                 * decides on the view as it is while other claims commit; a retry after a lost
                 * race catches up first. */
                int r = view_get(s, cache, true, attempt > 0, &v);
                if (r >= 0)
                        r = read_members(s, group, &members, &members_rev);
                if (r >= 0)
                        r = sched_request_from_instance(inst, group, members, &req, &holder);
                if (r >= 0) {
                        for (;;) {
                                free(reason);
                                reason = NULL;
                                r = sched_place(&v.snap->cfg, v.snap->hosts, v.snap->n, &req, &d, NULL, &reason);
                                if (r < 0 || !cache || !sched_cache_in_flight(cache, (size_t) d.host))
                                        break;
                                /* Its allocation is about to change: committing against the
                                 * revision seen would lose the race. Decide again after it. */
                                sched_cache_wait(cache, (size_t) d.host);
                        }
                        if (r == TIDE_E_NO_HOST) {
                                json_object_set_new(inst, "host", json_null());
                                json_object_set_new(inst, "placement", json_null());
                                model_instance_set_status(inst, MODEL_INSTANCE_ERROR);
                                model_instance_set_task(inst, MODEL_TASK_NONE);
                                json_object_set_new(inst, "error", json_string(reason));
                        }
                }
                _cleanup_free_ struct store_op *ops = xcalloc(4 + pt.n_ops, sizeof *ops);
                _cleanup_free_ struct store_cmp *cmps = xcalloc(4 + SCHED_BASIS_CMPS + pt.n_cmps, sizeof *cmps);
                size_t n_ops = 0, n_cmps = 0;
                _cleanup_(sched_basis_cmps_clear) struct sched_basis_cmps basis = {};
                if (r >= 0) {
                        int64_t base_rev = v.snap->alloc_rev[d.host];
                        alloc_key = model_key_alloc(v.snap->hosts[d.host].name);
                        json_object_set_new(inst, "host", json_string(v.snap->hosts[d.host].name));
                        json_object_set_new(inst, "placement", sched_decision_to_json(v.snap->hosts, &d));
                        if (cache) {
                                /* Booked in the cache's view as in flight until the commit ends. */
                                sched_cache_claim_begin(cache, (size_t) d.host, &req, &d, &claim);
                                used = sched_host_usage_to_json(&v.snap->hosts[d.host]);
                        } else {
                                /* Booked on a copy: this snapshot is thrown away. */
                                h = xmalloc(sizeof *h);
                                *h = v.snap->hosts[d.host];
                                sched_claim(h, &req, &d);
                                used = sched_host_usage_to_json(h);
                        }
                        alloc_value = tide_json_dump(used);
                        model_instance_set_status(inst, MODEL_INSTANCE_BUILDING);
                        model_instance_set_task(inst, MODEL_TASK_CREATING);
                        json_object_set_new(inst, "error", json_null());
                        cmps[n_cmps++] = (struct store_cmp) {
                                .key = alloc_key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = base_rev
                        };
                        ops[n_ops++] = (struct store_op) { .type = STORE_OP_PUT,
                                                           .key = alloc_key,
                                                           .value = alloc_value };
                        sched_basis_cmps(v.snap, (size_t) d.host, &basis);
                        memcpy(&cmps[n_cmps], basis.cmps, basis.n * sizeof *cmps);
                        n_cmps += basis.n;
                        if (group) {
                                json_object_set_new(members, id, json_string(v.snap->hosts[d.host].name));
                                members_value = tide_json_dump(members);
                                cmps[n_cmps++] = (struct store_cmp) { .key = gkey,
                                                                      .target = STORE_CMP_MOD_REV,
                                                                      .op = STORE_CMP_EQUAL,
                                                                      .number = members_rev };
                                ops[n_ops++] = (struct store_op) { .type = STORE_OP_PUT,
                                                                   .key = gkey,
                                                                   .value = members_value };
                        }
                }
                /* Nothing below reads the view: other placements decide during this commit. */
                view_put(&v);
                if (r >= 0 || r == TIDE_E_NO_HOST) {
                        value = tide_json_dump(inst);
                        cmps[n_cmps++] = (struct store_cmp) {
                                .key = nk, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = 0
                        };
                        cmps[n_cmps++] = (struct store_cmp) {
                                .key = key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = 0
                        };
                        ops[n_ops++] = (struct store_op) { .type = STORE_OP_PUT, .key = nk, .value = id };
                        ops[n_ops++] = (struct store_op) { .type = STORE_OP_PUT, .key = key, .value = value };
                        memcpy(cmps + n_cmps, pt.cmps, pt.n_cmps * sizeof *cmps);
                        n_cmps += pt.n_cmps;
                        memcpy(ops + n_ops, pt.ops, pt.n_ops * sizeof *ops);
                        n_ops += pt.n_ops;
                        struct store_txn txn = { .cmps = cmps, .n_cmps = n_cmps, .success = ops, .n_success = n_ops };
                        bool ok = false;
                        int k = store_txn(s, &txn, &ok, &rev);
                        if (claim)
                                sched_cache_claim_end(cache, claim, k >= 0 && ok ? used : NULL, rev);
                        if (k < 0)
                                r = k;
                        else if (!ok) {
                                struct store_kv kv = {};
                                r = store_get(s, nk, &kv) >= 0 ? TIDE_E_EXISTS : TIDE_E_CONFLICT;
                                store_kv_clear(&kv);
                        }
                }
                sched_request_clear(&req);
                if (r == TIDE_E_CONFLICT)
                        continue; /* another placement took the host (or the group) first: catch up, decide again */
                if (r == TIDE_E_NO_HOST && ret_reason)
                        *ret_reason = TAKE_PTR(reason);
                return r;
        }
        return TIDE_E_CONFLICT;
}

json_t *sched_store_usage_released(json_t *inst, json_t *host_rec, json_t *alloc) {
        if (!json_is_object(host_rec) || !json_is_object(alloc) || !json_is_object(json_object_get(inst, "placement")))
                return NULL;
        _cleanup_json_ json_t *h = json_deep_copy(host_rec);
        json_object_set(h, "used", alloc);
        json_object_set_new(h, "state", json_string("up"));
        struct sched_host sh;
        struct sched_request req = {};
        struct sched_decision d = {};
        _cleanup_json_ json_t *holder = NULL;
        json_t *out = NULL;
        _cleanup_free_ char *err = NULL;
        if (sched_host_from_json(h, &sh, &err) >= 0 &&
            sched_request_from_instance(inst, NULL, NULL, &req, &holder) >= 0 &&
            sched_decision_from_json(json_object_get(inst, "placement"), &d) >= 0) {
                sched_release(&sh, &req, &d);
                out = sched_host_usage_to_json(&sh);
        }
        sched_request_clear(&req);
        return out;
}


int sched_store_delete(struct store *s, json_t *inst_in) {
        const char *id = tide_json_str(inst_in, "id", "");
        _cleanup_free_ char *key = model_obj_key(MODEL_INSTANCE, id);
        for (int attempt = 0; attempt < PLACE_RETRIES; attempt++) {
                _cleanup_json_ json_t *inst = NULL, *host_rec = NULL, *alloc = NULL, *members = NULL, *used = NULL;
                int64_t rev, host_rev = 0, alloc_rev = 0, members_rev = 0;
                _cleanup_free_ char *nk = NULL, *hkey = NULL, *akey = NULL, *gkey = NULL;
                _cleanup_free_ char *alloc_value = NULL, *members_value = NULL;
                int r = model_json_get(s, key, &inst, &rev);
                if (r < 0 || rev == 0)
                        return r; /* gone already: nothing to do */
                nk = model_name_key(MODEL_INSTANCE, tide_json_str(inst, "name", ""));
                /* Its ports, their addresses and MACs go with it. */
                _cleanup_(model_port_txn_clear) struct model_port_txn pt = {};
                model_ports_release(json_object_get(inst, "ports"), &pt);
                struct store_cmp cmps[3];
                _cleanup_free_ struct store_op *ops = xcalloc(4 + pt.n_ops, sizeof *ops);
                size_t n_cmps = 0, n_ops = 0;
                cmps[n_cmps++] = (struct store_cmp) {
                        .key = key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = rev
                };
                ops[n_ops++] = (struct store_op) { .type = STORE_OP_DELETE, .key = key };
                ops[n_ops++] = (struct store_op) { .type = STORE_OP_DELETE, .key = nk };

                const char *host = tide_json_str(inst, "host", NULL);
                if (host) {
                        hkey = model_key_host(host);
                        akey = model_key_alloc(host);
                        if ((r = model_json_get(s, hkey, &host_rec, &host_rev)) >= 0)
                                r = model_json_get(s, akey, &alloc, &alloc_rev);
                        used = r >= 0 && host_rev && alloc_rev ? sched_store_usage_released(inst, host_rec, alloc)
                                                               : NULL;
                        if (used) {
                                alloc_value = tide_json_dump(used);
                                cmps[n_cmps++] = (struct store_cmp) { .key = akey,
                                                                      .target = STORE_CMP_MOD_REV,
                                                                      .op = STORE_CMP_EQUAL,
                                                                      .number = alloc_rev };
                                ops[n_ops++] = (struct store_op) { .type = STORE_OP_PUT,
                                                                   .key = akey,
                                                                   .value = alloc_value };
                        }
                }
                const char *gid = tide_json_str(inst, "group_id", NULL);
                if (r >= 0 && gid) {
                        gkey = model_key_groupmembers(gid);
                        r = model_json_get(s, gkey, &members, &members_rev);
                        if (r >= 0 && json_is_object(members) && json_object_get(members, id)) {
                                json_object_del(members, id);
                                members_value = tide_json_dump(members);
                                cmps[n_cmps++] = (struct store_cmp) { .key = gkey,
                                                                      .target = STORE_CMP_MOD_REV,
                                                                      .op = STORE_CMP_EQUAL,
                                                                      .number = members_rev };
                                ops[n_ops++] = json_object_size(members) > 0
                                                       ? (struct store_op) { .type = STORE_OP_PUT,
                                                                             .key = gkey,
                                                                             .value = members_value }
                                                       : (struct store_op) { .type = STORE_OP_DELETE, .key = gkey };
                        }
                }
                bool ok = false;
                if (r >= 0) {
                        memcpy(ops + n_ops, pt.ops, pt.n_ops * sizeof *ops);
                        n_ops += pt.n_ops;
                        struct store_txn txn = { .cmps = cmps, .n_cmps = n_cmps, .success = ops, .n_success = n_ops };
                        r = store_txn(s, &txn, &ok, NULL);
                }
                if (r < 0)
                        return r;
                if (ok)
                        return 0;
        }
        return TIDE_E_CONFLICT;
}

int sched_store_explain(struct store *s, struct sched_cache *cache, json_t *inst, json_t *group, json_t **ret) {
        struct view v = {};
        struct sched_request req = {};
        _cleanup_json_ json_t *members = NULL, *holder = NULL, *o = NULL;
        int64_t members_rev;
        _cleanup_free_ char *reason = NULL;
        _cleanup_free_ struct sched_explain *ex = NULL;
        _cleanup_free_ struct sched_host *saved = NULL;
        struct sched_decision d = {};
        int own = -1;
        int r = view_get(s, cache, false, true, &v);
        if (r >= 0)
                r = read_members(s, group, &members, &members_rev);
        if (r >= 0)
                r = sched_request_from_instance(inst, group, members, &req, &holder);
        if (r < 0)
                goto out;
        /* Its own claim is given back first: the question is where it would go now. The
         * cache's host is put back as it was before the view is given back. */
        own = json_is_object(json_object_get(inst, "placement"))
                      ? sched_snapshot_find(v.snap, tide_json_str(inst, "host", ""))
                      : -1;
        if (own >= 0) {
                struct sched_decision mine = {};
                if (sched_decision_from_json(json_object_get(inst, "placement"), &mine) >= 0) {
                        saved = xmalloc(sizeof *saved);
                        *saved = v.snap->hosts[own];
                        sched_release(&v.snap->hosts[own], &req, &mine);
                }
        }
        ex = xcalloc(v.snap->n ? v.snap->n : 1, sizeof *ex);
        r = sched_place(&v.snap->cfg, v.snap->hosts, v.snap->n, &req, &d, ex, &reason);
        o = json_object();
        json_object_set_new(o, "decision", r >= 0 ? sched_decision_to_json(v.snap->hosts, &d) : json_null());
        json_object_set_new(o, "error", r == TIDE_E_NO_HOST ? json_string(reason) : json_null());
        json_object_set_new(o, "hosts", sched_explain_to_json(v.snap->hosts, v.snap->n, ex));
        if (r >= 0 || r == TIDE_E_NO_HOST) {
                *ret = TAKE_PTR(o);
                r = 0;
        }
out:
        if (saved)
                v.snap->hosts[own] = *saved;
        view_put(&v);
        sched_request_clear(&req);
        return r;
}

void sched_shared_pool(const struct sched_config *cfg, const struct sched_host *h, struct cpuset *ret) {
        struct cpuset all = {}, pool;
        for (int n = 0; n < h->n_numa; n++)
                for (size_t w = 0; w < ELEMENTSOF(all.w); w++)
                        all.w[w] |= h->numa[n].cpus.w[w];
        pool = all;
        int reserved = h->reserved_cpus >= 0 ? h->reserved_cpus : cfg->reserved_cpus;
        for (int cpu = 0; cpu < SCHED_MAX_CPUS && reserved > 0; cpu++)
                if (cpuset_has(&pool, cpu)) {
                        cpuset_clear(&pool, cpu);
                        reserved--;
                }
        bool empty = true;
        for (size_t w = 0; w < ELEMENTSOF(pool.w); w++) {
                pool.w[w] &= ~h->pinned.w[w];
                empty = empty && pool.w[w] == 0;
        }
        /* Every CPU pinned or reserved: shared VMs must still run somewhere. */
        *ret = empty ? all : pool;
}

int sched_store_shared_pools(struct store *s, const char *const *hosts, size_t n, char **ret) {
        struct sched_snapshot snap = {};
        int r = sched_snapshot_read(s, &snap);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                int k = sched_snapshot_find(&snap, hosts[i]);
                struct cpuset pool;
                if (k >= 0)
                        sched_shared_pool(&snap.cfg, &snap.hosts[k], &pool);
                ret[i] = k >= 0 ? cpuset_format(&pool) : NULL;
        }
        sched_snapshot_clear(&snap);
        return 0;
}
