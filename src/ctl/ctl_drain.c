/* ctl_drain.c — the drain controller (ctl_drain.h). */
#include "ctl/ctl_drain.h"

#include <jansson.h>
#include <stdlib.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched_migrate.h"

static char *drain_key(const char *host) {
        return xasprintf(MODEL_KEY_DRAIN "%s", host);
}

int ctl_drain_start(struct store *s, const char *host, int concurrency, int64_t now_ms, json_t **ret) {
        if (concurrency < 0 || concurrency > CTL_DRAIN_CONCURRENCY_MAX)
                return TIDE_E_INVALID;
        _cleanup_json_ json_t *body = json_pack("{s:b}", "draining", true), *conf = NULL;
        _cleanup_free_ char *ck = model_key_hostconf(host), *key = drain_key(host);
        struct model_merge_change c = { .merge = model_host_config_merge, .body = body };
        int r = model_json_modify(s, ck, model_merge_change, &c, &conf);
        free(c.err);
        if (r < 0)
                return r;
        _cleanup_free_ char *requested = time_format_ms(now_ms);
        _cleanup_json_ json_t *rec = json_pack("{s:s, s:s, s:s, s:I, s:i, s:[], s:[], s:{}}", "host", host, "state",
                                               "draining", "requested", requested, "t_requested_ms",
                                               (json_int_t) now_ms, "concurrency",
                                               concurrency ? concurrency : CTL_DRAIN_CONCURRENCY_DEFAULT, "moving",
                                               "moved", "blocked");
        _cleanup_free_ char *value = tide_json_dump(rec);
        r = store_put(s, key, value, 0, NULL);
        if (r >= 0 && ret)
                *ret = json_incref(rec);
        return r;
}

int ctl_drain_stop(struct store *s, const char *host) {
        _cleanup_json_ json_t *body = json_pack("{s:b}", "draining", false), *conf = NULL;
        _cleanup_free_ char *ck = model_key_hostconf(host), *key = drain_key(host);
        struct model_merge_change c = { .merge = model_host_config_merge, .body = body };
        int r = model_json_modify(s, ck, model_merge_change, &c, &conf);
        free(c.err);
        if (r < 0)
                return r;
        return store_delete(s, key, NULL);
}

/* Highest priority first, then by name. */
static int by_priority(const void *x, const void *y) {
        json_t *a = *(json_t *const *) x, *b = *(json_t *const *) y;
        int64_t pa = tide_json_int(a, "priority", MODEL_PRIORITY_DEFAULT),
                pb = tide_json_int(b, "priority", MODEL_PRIORITY_DEFAULT);
        if (pa != pb)
                return pa > pb ? -1 : 1;
        return strcmp(tide_json_str(a, "name", ""), tide_json_str(b, "name", ""));
}

/* The drain migration of inst from host that ended badly since the drain began, or NULL. */
static json_t *failed_since(json_t *inst, const char *host, int64_t t_requested) {
        json_t *last = json_object_get(inst, "last_migration");
        if (!json_is_object(last) || !streq(tide_json_str(last, "reason", ""), "drain") ||
            !streq(tide_json_str(last, "source", ""), host) || streq(tide_json_str(last, "state", ""), "succeeded") ||
            tide_json_int(last, "t_request_ms", 0) < t_requested)
                return NULL;
        return last;
}

/* One drain: what moves, what moved, what cannot; starts migrations up to its concurrency. The
 * new record into *next. */
static void drain_one(struct ctl_pass_ctx *ctx, json_t *rec, json_t *instances, int64_t now_ms, json_t **next) {
        const char *host = tide_json_str(rec, "host", "");
        int64_t t_requested = tide_json_int(rec, "t_requested_ms", 0);
        int concurrency = (int) tide_json_int(rec, "concurrency", CTL_DRAIN_CONCURRENCY_DEFAULT);
        json_t *moving = json_array(), *moved = json_array(), *blocked = json_object();
        size_t n = json_array_size(instances), n_todo = 0, i;
        _cleanup_free_ json_t **todo = xcalloc(n ? n : 1, sizeof *todo);
        json_t *inst;
        json_array_foreach(instances, i, inst) {
                const char *name = tide_json_str(inst, "name", "");
                json_t *m = json_object_get(inst, "migration"), *last = json_object_get(inst, "last_migration");
                if (json_is_object(m) && streq(tide_json_str(m, "source", ""), host)) {
                        json_array_append_new(moving, json_string(name));
                        continue;
                }
                if (!streq(tide_json_str(inst, "host", ""), host)) {
                        if (streq(tide_json_str(last, "source", ""), host) &&
                            streq(tide_json_str(last, "reason", ""), "drain") &&
                            streq(tide_json_str(last, "state", ""), "succeeded") &&
                            tide_json_int(last, "t_request_ms", 0) >= t_requested)
                                json_array_append_new(moved, json_string(name));
                        continue;
                }
                if (model_instance_get_desired(inst) == MODEL_DESIRED_DELETED)
                        continue; /* going anyway */
                json_t *failed = failed_since(inst, host, t_requested);
                if (failed) {
                        _cleanup_free_ char *why = xasprintf("its migration %s: %s", tide_json_str(failed, "state", ""),
                                                             tide_json_str(failed, "error", "?"));
                        json_object_set_new(blocked, name, json_string(why));
                } else if (model_instance_get_status(inst) != MODEL_INSTANCE_RUNNING ||
                           model_instance_get_desired(inst) != MODEL_DESIRED_RUNNING) {
                        _cleanup_free_ char *why = xasprintf("not running (status %s): only a running VM migrates live",
                                                             tide_json_str(inst, "status", "?"));
                        json_object_set_new(blocked, name, json_string(why));
                } else
                        todo[n_todo++] = inst;
        }
        qsort(todo, n_todo, sizeof *todo, by_priority);
        for (size_t k = 0; k < n_todo; k++) {
                const char *name = tide_json_str(todo[k], "name", "");
                if (json_array_size(moving) >= (size_t) concurrency) {
                        json_object_set_new(blocked, name, json_string("waiting for its turn"));
                        continue;
                }
                struct sched_migrate_request req = { .reason = "drain",
                                                     .t_request_ms = now_ms,
                                                     .leader_rev = ctx->election_rev };
                _cleanup_free_ char *err = NULL;
                _cleanup_json_ json_t *begun = NULL;
                int r = sched_migrate_begin(ctx->store, tide_json_str(todo[k], "id", ""), &req, &begun, &err);
                if (r < 0) {
                        json_object_set_new(blocked, name, json_string(err ? err : tide_strerror(r)));
                        continue;
                }
                json_array_append_new(moving, json_string(name));
                model_event_emit(ctx->store, "info", "host.drain_move", begun, host, "draining %s: moving '%s' to %s",
                                 host, name, tide_json_str(json_object_get(begun, "migration"), "target", "?"));
        }
        /* "waiting for its turn" is not a reason to stop: only the others make it incomplete. */
        bool stuck = false;
        const char *name;
        json_t *why;
        json_object_foreach(blocked, name, why)
                stuck = stuck || !streq(json_string_value(why), "waiting for its turn");
        const char *state = json_array_size(moving) > 0      ? "draining"
                            : json_object_size(blocked) == 0 ? "done"
                            : stuck                          ? "incomplete"
                                                             : "draining";
        *next = json_deep_copy(rec);
        json_object_set_new(*next, "state", json_string(state));
        json_object_set_new(*next, "moving", moving);
        json_object_set_new(*next, "moved", moved);
        json_object_set_new(*next, "blocked", blocked);
}

int ctl_drain_pass(struct ctl_pass_ctx *ctx, int64_t now_ms) {
        struct store_kvs kvs = {};
        int64_t rev;
        int r = store_range(ctx->store, MODEL_KEY_DRAIN, 0, &kvs, &rev);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *instances = NULL;
        if (kvs.n > 0 && (r = model_obj_list(ctx->store, MODEL_INSTANCE, &instances)) < 0) {
                store_kvs_clear(&kvs);
                return r;
        }
        for (size_t i = 0; i < kvs.n; i++) {
                _cleanup_json_ json_t *rec = json_loads(kvs.items[i].value, 0, NULL), *next = NULL;
                if (!json_is_object(rec))
                        continue;
                drain_one(ctx, rec, instances, now_ms, &next);
                const char *host = tide_json_str(rec, "host", ""), *was = tide_json_str(rec, "state", ""),
                           *now = tide_json_str(next, "state", "");
                if (json_equal(rec, next))
                        continue;
                _cleanup_free_ char *updated = time_format_ms(now_ms);
                json_object_set_new(next, "updated", json_string(updated));
                _cleanup_free_ char *value = tide_json_dump(next);
                /* Only over the record as read: an undrain (or a new drain) in between wins. */
                struct store_cmp cmp = { .key = kvs.items[i].key,
                                         .target = STORE_CMP_MOD_REV,
                                         .op = STORE_CMP_EQUAL,
                                         .number = kvs.items[i].mod_rev };
                struct store_op op = { .type = STORE_OP_PUT, .key = kvs.items[i].key, .value = value };
                struct store_txn txn = { .cmps = &cmp, .n_cmps = 1, .success = &op, .n_success = 1 };
                int k = store_txn(ctx->store, &txn, NULL, NULL);
                if (k < 0) {
                        r = k;
                        continue;
                }
                if (streq(was, now))
                        continue;
                if (streq(now, "done"))
                        model_event_emit(ctx->store, "info", "host.drained", NULL, host,
                                         "host %s drained: %zu instance(s) moved", host,
                                         json_array_size(json_object_get(next, "moved")));
                else if (streq(now, "incomplete")) {
                        _cleanup_free_ char *blocked = tide_json_dump(json_object_get(next, "blocked"));
                        model_event_emit(ctx->store, "warning", "host.drain_incomplete", NULL, host,
                                         "host %s: what cannot move stays there: %s", host, blocked);
                }
        }
        store_kvs_clear(&kvs);
        return r;
}

struct ctl_controller ctl_drain_controller(void) {
        return (struct ctl_controller) { .name = "drain", .period_ms = CTL_DRAIN_PERIOD_MS, .pass = ctl_drain_pass };
}
