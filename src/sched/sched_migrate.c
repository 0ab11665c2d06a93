/* sched_migrate.c — a live migration's claims and records in the store (sched_migrate.h). */
#include "sched_migrate.h"

#include "sched/sched_store.h"

#include "common/errors.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"

#define MIGRATE_RETRIES 50
#define MAX_BANDWIDTH_MIB_S INT64_C(1000000)
#define MAX_DOWNTIME_MS INT64_C(600000)

static int fail(char **ret_err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **ret_err, int r, const char *fmt, ...) {
        if (ret_err) {
                va_list ap;
                va_start(ap, fmt);
                free(*ret_err);
                *ret_err = xvasprintf(fmt, ap);
                va_end(ap);
        }
        return r;
}

/* Whether the source's hypervisor can send a domain to host h (its record as merged in the
 * snapshot): the same kind, and a libvirt host that says where its libvirtd listens. */
static bool reachable(json_t *src, json_t *h) {
        const char *kind = tide_json_str(src, "hypervisor", "");
        if (!streq(kind, tide_json_str(h, "hypervisor", "")))
                return false;
        return streq(kind, "sim") || (tide_json_str(h, "libvirt_uri", NULL) && tide_json_str(src, "libvirt_uri", NULL));
}

/* Where the source's hypervisor sends the domain on target t: its libvirtd, or for a simulated
 * host its own URI. */
static const char *target_uri(json_t *t) {
        return streq(tide_json_str(t, "hypervisor", ""), "sim") ? tide_json_str(t, "uri", "")
                                                                : tide_json_str(t, "libvirt_uri", "");
}

static void snapshot_clearp(struct sched_snapshot *snap) {
        sched_snapshot_clear(snap);
}

static void request_clearp(struct sched_request *req) {
        sched_request_clear(req);
}

/* One attempt: decides on a fresh snapshot and commits; TIDE_E_CONFLICT when it lost a race. */
static int begin_once(struct store *s, const char *ref, const struct sched_migrate_request *req, json_t **ret,
                      char **ret_err) {
        _cleanup_json_ json_t *inst = NULL, *group = NULL, *members = NULL, *holder = NULL;
        int64_t rev = 0, members_rev = 0;
        int r = model_obj_get(s, MODEL_INSTANCE, ref, &inst, &rev);
        if (r < 0)
                return fail(ret_err, r, "instance '%.64s': %s", ref, tide_strerror(r));
        const char *name = tide_json_str(inst, "name", ""), *src = tide_json_str(inst, "host", NULL);
        if (json_is_object(json_object_get(inst, "migration")))
                return fail(ret_err, TIDE_E_CONFLICT, "instance '%s' is already migrating (to %s)", name,
                            tide_json_str(json_object_get(inst, "migration"), "target", "?"));
        if (model_instance_get_desired(inst) == MODEL_DESIRED_DELETED)
                return fail(ret_err, TIDE_E_CONFLICT, "instance '%s' is being deleted", name);
        if (!src || model_instance_get_status(inst) != MODEL_INSTANCE_RUNNING ||
            model_instance_get_desired(inst) != MODEL_DESIRED_RUNNING || !model_instance_settled(inst))
                return fail(ret_err, TIDE_E_CONFLICT,
                            "instance '%s' is not running (status %s): only a running VM "
                            "migrates live",
                            name, tide_json_str(inst, "status", "?"));
        const char *gid = tide_json_str(inst, "group_id", NULL);
        _cleanup_free_ char *gkey = gid ? model_key_groupmembers(gid) : NULL;
        if (gid && (r = model_obj_get(s, MODEL_SERVER_GROUP, gid, &group, NULL)) < 0 && r != TIDE_E_NOT_FOUND)
                return fail(ret_err, r, "reading the server group: %s", tide_strerror(r));
        if (group && (r = model_json_get(s, gkey, &members, &members_rev)) < 0)
                return fail(ret_err, r, "reading the server group's members: %s", tide_strerror(r));

        _cleanup_(snapshot_clearp) struct sched_snapshot snap = {};
        _cleanup_(request_clearp) struct sched_request sreq = {};
        _cleanup_free_ char *reason = NULL, *alloc_key = NULL, *alloc_value = NULL, *value = NULL;
        _cleanup_free_ struct sched_host *claimed = NULL;
        _cleanup_free_ struct sched_explain *ex = NULL;
        _cleanup_json_ json_t *used = NULL;
        struct sched_decision d = {};
        if ((r = sched_snapshot_read(s, &snap)) < 0) {
                r = fail(ret_err, r, "reading the hosts: %s", tide_strerror(r));
                return r;
        }
        int from = sched_snapshot_find(&snap, src), to = -1;
        if (from < 0) {
                r = fail(ret_err, TIDE_E_CONFLICT, "instance '%s': its host '%s' is unknown", name, src);
                return r;
        }
        if (req->to) {
                to = sched_snapshot_find(&snap, req->to);
                if (to < 0)
                        r = fail(ret_err, TIDE_E_NOT_FOUND, "host '%.64s' is unknown", req->to);
                else if (to == from)
                        r = fail(ret_err, TIDE_E_INVALID, "instance '%s' already runs on '%s'", name, req->to);
                else if (!snap.hosts[to].up)
                        r = fail(ret_err, TIDE_E_CONFLICT, "host '%s' is down", req->to);
                else if (snap.hosts[to].draining)
                        r = fail(ret_err, TIDE_E_CONFLICT, "host '%s' is draining", req->to);
                else if (!reachable(snap.host_json[from], snap.host_json[to]))
                        r = fail(ret_err, TIDE_E_CONFLICT,
                                 "host '%s' cannot receive a live migration from '%s' (another hypervisor, or no "
                                 "libvirt_uri: start its tided with --address)",
                                 req->to, src);
                if (r < 0)
                        return r;
        }
        /* The source and the hosts its hypervisor cannot reach are out of the question. */
        for (size_t i = 0; i < snap.n; i++)
                if ((int) i == from || !reachable(snap.host_json[from], snap.host_json[i]))
                        snap.hosts[i].up = false;
        /* A host=NAME hint chose the first host; a move is asked for by name (--to) or not
         * at all. Label hints stay. */
        _cleanup_json_ json_t *moving = json_deep_copy(inst), *hints = json_array();
        size_t i;
        json_t *hint;
        json_array_foreach(json_object_get(inst, "hints"), i, hint)
                if (!startswith(json_string_value(hint) ?: "", "host="))
                        json_array_append(hints, hint);
        json_object_set(moving, "hints", hints);
        if ((r = sched_request_from_instance(moving, group, members, &sreq, &holder)) < 0) {
                r = fail(ret_err, r, "instance '%s': its placement request: %s", name, tide_strerror(r));
                return r;
        }
        if (to >= 0) {
                ex = xcalloc(1, sizeof *ex);
                r = sched_place(&snap.cfg, &snap.hosts[to], 1, &sreq, &d, ex, &reason);
                if (r == TIDE_E_NO_HOST)
                        r = fail(ret_err, r, "host '%s' cannot take instance '%s': rejected by %s%s%s%s", req->to, name,
                                 sched_filter_name((enum sched_filter) ex->rejected_by), ex->detail[0] ? " (" : "",
                                 ex->detail, ex->detail[0] ? ")" : "");
                d.host = to;
        } else {
                r = sched_place(&snap.cfg, snap.hosts, snap.n, &sreq, &d, NULL, &reason);
                if (r == TIDE_E_NO_HOST)
                        r = fail(ret_err, r, "no host can take instance '%s': %s", name, reason);
        }
        if (r < 0) {
                if (ret_err && !*ret_err)
                        fail(ret_err, r, "placing instance '%s': %s", name, reason ? reason : tide_strerror(r));
                return r;
        }

        /* The claim on the target, booked on a copy of its usage. */
        json_t *th = snap.host_json[d.host], *sh = snap.host_json[from];
        claimed = xmalloc(sizeof *claimed);
        *claimed = snap.hosts[d.host];
        sched_claim(claimed, &sreq, &d);
        used = sched_host_usage_to_json(claimed);
        alloc_value = tide_json_dump(used);
        alloc_key = model_key_alloc(snap.hosts[d.host].name);
        const char *storage = tide_json_str(sh, "storage_id", NULL);
        bool shared = storage && *storage && streq(storage, tide_json_str(th, "storage_id", ""));
        _cleanup_free_ char *started = time_format_ms(now_ms());
        json_t *m = json_pack("{s:s, s:s, s:s, s:o, s:b, s:s, s:I, s:I, s:s, s:b, s:I, s:s}", "source", src, "target",
                              snap.hosts[d.host].name, "state", "preparing", "placement",
                              sched_decision_to_json(snap.hosts, &d), "shared", shared, "target_uri", target_uri(th),
                              "bandwidth_mib_s", (json_int_t) req->bandwidth_mib_s, "max_downtime_ms",
                              (json_int_t) req->max_downtime_ms, "reason", req->reason ? req->reason : "request",
                              "cancel", false, "t_request_ms", (json_int_t) req->t_request_ms, "requested", started);
        if (tide_json_str(th, "migrate_uri", NULL))
                json_object_set_new(m, "migrate_uri", json_string(tide_json_str(th, "migrate_uri", "")));
        json_object_set_new(inst, "migration", m);
        /* The stamp is the leader's when the leader asks (the drain), else none any more: it
         * belongs to the record's last change (model.h). */
        if (req->leader_rev > 0)
                json_object_set_new(inst, MODEL_LEADER_REV, json_integer(req->leader_rev));
        else
                json_object_del(inst, MODEL_LEADER_REV);
        value = tide_json_dump(inst);
        _cleanup_free_ char *key = model_obj_key(MODEL_INSTANCE, tide_json_str(inst, "id", ""));
        _cleanup_(sched_basis_cmps_clear) struct sched_basis_cmps basis = {};
        sched_basis_cmps(&snap, (size_t) d.host, &basis);
        struct store_cmp cmps[2 + SCHED_BASIS_CMPS] = {
                { .key = key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = rev },
                { .key = alloc_key,
                  .target = STORE_CMP_MOD_REV,
                  .op = STORE_CMP_EQUAL,
                  .number = snap.alloc_rev[d.host] },
        };
        memcpy(&cmps[2], basis.cmps, basis.n * sizeof *cmps);
        struct store_op ops[] = {
                { .type = STORE_OP_PUT, .key = key, .value = value },
                { .type = STORE_OP_PUT, .key = alloc_key, .value = alloc_value },
        };
        struct store_txn txn = { .cmps = cmps, .n_cmps = 2 + basis.n, .success = ops, .n_success = 2 };
        bool ok = false;
        r = store_txn(s, &txn, &ok, NULL);
        if (r >= 0 && !ok)
                r = TIDE_E_CONFLICT;
        else if (r < 0)
                fail(ret_err, r, "storing the migration: %s", tide_strerror(r));
        else if (ret)
                *ret = json_incref(inst);
        return r;
}

int sched_migrate_begin(struct store *s, const char *ref, const struct sched_migrate_request *req, json_t **ret,
                        char **ret_err) {
        if (req->bandwidth_mib_s < 0 || req->bandwidth_mib_s > MAX_BANDWIDTH_MIB_S)
                return fail(ret_err, TIDE_E_INVALID, "bandwidth must be 0 (unlimited) to %lld MiB/s",
                            (long long) MAX_BANDWIDTH_MIB_S);
        if (req->max_downtime_ms < 0 || req->max_downtime_ms > MAX_DOWNTIME_MS)
                return fail(ret_err, TIDE_E_INVALID, "max downtime must be 0 (the hypervisor's default) to %lld ms",
                            (long long) MAX_DOWNTIME_MS);
        for (int attempt = 0; attempt < MIGRATE_RETRIES; attempt++) {
                _cleanup_free_ char *err = NULL;
                int r = begin_once(s, ref, req, ret, &err);
                /* A refusal says why; a bare conflict is a lost race: decide again. */
                if (r != TIDE_E_CONFLICT || err) {
                        if (r < 0 && ret_err)
                                *ret_err = TAKE_PTR(err);
                        return r;
                }
        }
        return fail(ret_err, TIDE_E_CONFLICT, "instance '%.64s' or its target keeps changing; try again", ref);
}

struct cancel_change {
        char *err;
};

static int cancel_change(json_t *inst, void *userdata) {
        struct cancel_change *c = userdata;
        json_t *m = json_object_get(inst, "migration");
        if (!json_is_object(m)) {
                free(c->err);
                c->err = xasprintf("instance '%s' is not migrating", tide_json_str(inst, "name", ""));
                return TIDE_E_CONFLICT;
        }
        if (json_is_true(json_object_get(m, "cancel")))
                return MODEL_CHANGE_KEEP;
        json_object_set_new(m, "cancel", json_true());
        return MODEL_CHANGE_WRITE;
}

int sched_migrate_cancel(struct store *s, const char *ref, json_t **ret, char **ret_err) {
        struct cancel_change c = {};
        int r = model_obj_modify(s, MODEL_INSTANCE, ref, cancel_change, &c, ret);
        if (r < 0 && c.err) {
                fail(ret_err, r, "%s", c.err);
                free(c.err);
                return r;
        }
        if (r < 0)
                return fail(ret_err, r, "instance '%.64s': %s", ref, tide_strerror(r));
        return 0;
}

/* The allocation of host with inst's claim (its placement) given back: ret_value and the
 * revision of the allocation read. ret_value NULL: nothing to give back. */
static int release(struct store *s, json_t *inst, const char *host, char **ret_value, int64_t *ret_rev) {
        _cleanup_json_ json_t *rec = NULL, *alloc = NULL, *used = NULL;
        _cleanup_free_ char *hkey = model_key_host(host), *akey = model_key_alloc(host);
        int64_t hrev = 0;
        int r = model_json_get(s, hkey, &rec, &hrev);
        if (r >= 0)
                r = model_json_get(s, akey, &alloc, ret_rev);
        if (r < 0)
                return r;
        used = hrev && *ret_rev ? sched_store_usage_released(inst, rec, alloc) : NULL;
        *ret_value = used ? tide_json_dump(used) : NULL;
        return 0;
}

static int finish_once(struct store *s, const char *id, bool success, json_t *result) {
        _cleanup_json_ json_t *inst = NULL, *members = NULL, *as_target = NULL;
        int64_t rev = 0, alloc_rev = 0, members_rev = 0;
        int r = model_obj_get(s, MODEL_INSTANCE, id, &inst, &rev);
        if (r == TIDE_E_NOT_FOUND)
                return 0;
        if (r < 0)
                return r;
        json_t *m = json_object_get(inst, "migration");
        if (!json_is_object(m))
                return 0; /* ended already */
        const char *src = tide_json_str(m, "source", ""), *tgt = tide_json_str(m, "target", "");
        _cleanup_free_ char *alloc_value = NULL, *members_value = NULL, *gkey = NULL, *finished = NULL;
        _cleanup_free_ char *akey = model_key_alloc(success ? src : tgt);
        /* Given back: the source's claim (the instance's placement) after a success, else the
         * target's (the migration's placement). */
        as_target = json_deep_copy(inst);
        json_object_set(as_target, "placement", json_object_get(m, "placement"));
        json_object_set_new(as_target, "host", json_string(tgt));
        r = release(s, success ? inst : as_target, success ? src : tgt, &alloc_value, &alloc_rev);
        if (r < 0)
                return r;
        const char *gid = tide_json_str(inst, "group_id", NULL);
        if (success && gid) {
                gkey = model_key_groupmembers(gid);
                if ((r = model_json_get(s, gkey, &members, &members_rev)) < 0)
                        return r;
                if (json_object_get(members, id)) {
                        json_object_set_new(members, id, json_string(tgt));
                        members_value = tide_json_dump(members);
                }
        }

        finished = time_format_ms(now_ms());
        json_t *last = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "source", src, "target", tgt, "state",
                                 success ? "succeeded" : tide_json_str(result, "state", "failed"), "reason",
                                 tide_json_str(m, "reason", "request"), "finished", finished, "t_done_ms",
                                 (json_int_t) now_ms());
        json_object_set(last, "t_request_ms", json_object_get(m, "t_request_ms"));
        json_object_set(last, "shared", json_object_get(m, "shared"));
        if (result)
                json_object_update_missing(last, result);
        /* tide's own time around the hypervisor's call: from the request to the call, and from
         * its return to this commit. */
        int64_t t_request = tide_json_int(m, "t_request_ms", 0), t_call = tide_json_int(result, "t_call_ms", 0),
                t_return = tide_json_int(result, "t_return_ms", 0), t_done = tide_json_int(last, "t_done_ms", 0);
        if (t_request > 0 && t_call >= t_request && t_return >= t_call) {
                json_object_set_new(last, "overhead_ms", json_integer((t_call - t_request) + (t_done - t_return)));
                json_object_set_new(last, "total_ms", json_integer(t_done - t_request));
        }
        if (success) {
                json_object_set_new(inst, "host", json_string(tgt));
                json_object_set(inst, "placement", json_object_get(m, "placement"));
        }
        json_object_set_new(inst, "last_migration", last);
        json_object_del(inst, "migration");
        json_object_del(inst, MODEL_LEADER_REV); /* as above */
        model_set_now(inst, "updated");
        _cleanup_free_ char *value = tide_json_dump(inst);
        _cleanup_free_ char *key = model_obj_key(MODEL_INSTANCE, id);
        struct store_cmp cmps[3];
        struct store_op ops[3];
        size_t n_cmps = 0, n_ops = 0;
        cmps[n_cmps++] = (struct store_cmp) {
                .key = key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = rev
        };
        ops[n_ops++] = (struct store_op) { .type = STORE_OP_PUT, .key = key, .value = value };
        if (alloc_value) {
                cmps[n_cmps++] = (struct store_cmp) {
                        .key = akey, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = alloc_rev
                };
                ops[n_ops++] = (struct store_op) { .type = STORE_OP_PUT, .key = akey, .value = alloc_value };
        }
        if (members_value) {
                cmps[n_cmps++] = (struct store_cmp) {
                        .key = gkey, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = members_rev
                };
                ops[n_ops++] = (struct store_op) { .type = STORE_OP_PUT, .key = gkey, .value = members_value };
        }
        struct store_txn txn = { .cmps = cmps, .n_cmps = n_cmps, .success = ops, .n_success = n_ops };
        bool ok = false;
        r = store_txn(s, &txn, &ok, NULL);
        return r < 0 ? r : ok ? 0 : TIDE_E_CONFLICT;
}

int sched_migrate_finish(struct store *s, const char *id, bool success, json_t *result) {
        for (int attempt = 0; attempt < MIGRATE_RETRIES; attempt++) {
                int r = finish_once(s, id, success, result);
                if (r != TIDE_E_CONFLICT)
                        return r;
        }
        return TIDE_E_CONFLICT;
}
