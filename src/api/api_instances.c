/* api_instances.c — /v1/instances: create (placed at once), actions, delete, console.
 *
 * The API records what is wanted ("desired", "task"); the agent of the instance's host does it
 * and reports "status". Long operations answer 202. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched_migrate.h"
#include "sched/sched_store.h"

#define CONSOLE_CHUNK_MAX (1024 * 1024)

/* The instance as the API shows it: user_data replaced by its size. Takes inst. */
static json_t *public_view(json_t *inst) {
        json_object_set_new(inst, "user_data_size",
                            json_integer((json_int_t) strlen(tide_json_str(inst, "user_data", ""))));
        json_object_del(inst, "user_data");
        return inst;
}

static int instance_list(struct api_request *req, struct api_reply *rep) {
        json_t *a;
        int r = model_obj_list(api_store(req), MODEL_INSTANCE, &a);
        if (r < 0)
                return api_error(rep, r, "listing instances: %s", tide_strerror(r));
        size_t i;
        json_t *inst;
        json_array_foreach(a, i, inst)
                public_view(inst);
        return api_json(rep, 200, json_pack("{s:o}", "instances", a));
}

static int instance_show(struct api_request *req, struct api_reply *rep) {
        json_t *inst;
        int r = model_obj_get(api_store(req), MODEL_INSTANCE, req->params[0], &inst, NULL);
        if (r < 0)
                return api_error(rep, r, "instance '%.64s': %s", req->params[0], tide_strerror(r));
        return api_json(rep, 200, public_view(inst));
}

static int instance_create(struct api_request *req, struct api_reply *rep) {
        int64_t t_request = now_ms();
        const char *dry = api_query(req, "dry_run");
        bool dry_run = dry && (streq(dry, "true") || streq(dry, "1"));
        json_t *inst = NULL;
        _cleanup_free_ char *err = NULL;
        int r = sched_instance_place_and_store(api_store(req), api_config(req)->sched_cache, req->body, NULL, dry_run,
                                               t_request, &inst, &err);
        if (r < 0 && r != TIDE_E_NO_HOST)
                return api_error(rep, r, "%s", err);
        if (dry_run)
                return api_json(rep, 200, inst);
        /* No valid host is not bad input: the instance exists, in error, with the reason. */
        return api_json(rep, 202, public_view(inst));
}

static int instance_placement(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *inst = NULL, *group = NULL;
        json_t *ex;
        int r = model_obj_get(api_store(req), MODEL_INSTANCE, req->params[0], &inst, NULL);
        if (r < 0)
                return api_error(rep, r, "instance '%.64s': %s", req->params[0], tide_strerror(r));
        if (tide_json_str(inst, "group_id", NULL))
                (void) model_obj_get(api_store(req), MODEL_SERVER_GROUP, tide_json_str(inst, "group_id", ""), &group,
                                     NULL);
        r = sched_store_explain(api_store(req), api_config(req)->sched_cache, inst, group, &ex);
        if (r < 0)
                return api_error(rep, r, "explaining: %s", tide_strerror(r));
        json_object_set_new(ex, "instance", json_string(tide_json_str(inst, "name", "")));
        json_object_set(ex, "placement", json_object_get(inst, "placement") ?: json_null());
        json_object_set(ex, "host", json_object_get(inst, "host") ?: json_null());
        json_object_set_new(ex, "status", json_string(tide_json_str(inst, "status", "")));
        json_object_set(ex, "reason", json_object_get(inst, "error") ?: json_null());
        api_json(rep, 200, ex);
        return r;
}

/* An action on the stored instance (model_obj_modify: retried when the agent changed it in
 * between). fn may refuse, with an error reply. */
typedef int (*mutate_fn)(json_t *inst, struct api_request *req, struct api_reply *rep);

struct mutation {
        mutate_fn fn;
        struct api_request *req;
        struct api_reply *rep;
        bool refused; /* fn refused: the reply says why */
};

static int mutation_change(json_t *inst, void *userdata) {
        struct mutation *m = userdata;
        int r = m->fn(inst, m->req, m->rep);
        m->refused = r < 0;
        return r < 0 ? r : MODEL_CHANGE_WRITE;
}

static int mutate(struct api_request *req, struct api_reply *rep, mutate_fn fn, const char *event_type,
                  const char *what) {
        struct store *s = api_store(req);
        struct mutation m = { .fn = fn, .req = req, .rep = rep };
        json_t *inst;
        int r = model_obj_modify(s, MODEL_INSTANCE, req->params[0], mutation_change, &m, &inst);
        if (m.refused)
                return r;
        if (r == TIDE_E_CONFLICT)
                return api_error(rep, r, "instance '%.64s' keeps changing; try again", req->params[0]);
        if (r == TIDE_E_NOT_FOUND)
                return api_error(rep, r, "instance '%.64s': %s", req->params[0], tide_strerror(r));
        if (r < 0)
                return api_error(rep, r, "updating instance '%.64s': %s", req->params[0], tide_strerror(r));
        model_event_emit(s, "info", event_type, inst, tide_json_str(inst, "host", NULL), "%s requested for '%s'", what,
                         tide_json_str(inst, "name", ""));
        return api_json(rep, 202, public_view(inst));
}

static int refuse_if_deleting(json_t *inst, struct api_reply *rep) {
        if (model_instance_get_desired(inst) == MODEL_DESIRED_DELETED)
                return api_error(rep, TIDE_E_CONFLICT, "instance '%s' is being deleted",
                                 tide_json_str(inst, "name", ""));
        if (json_is_null(json_object_get(inst, "host")))
                return api_error(rep, TIDE_E_CONFLICT, "instance '%s' has no host: %s", tide_json_str(inst, "name", ""),
                                 tide_json_str(inst, "error", "not placed"));
        return 0;
}

/* An action on an instance in error asks the agent to try again: the error is cleared. */
static void retry_if_error(json_t *inst) {
        if (model_instance_get_status(inst) != MODEL_INSTANCE_ERROR)
                return;
        model_instance_set_status(inst, MODEL_INSTANCE_BUILDING);
        json_object_set_new(inst, "error", json_null());
}

static int do_start(json_t *inst, struct api_request *req, struct api_reply *rep) {
        int r = refuse_if_deleting(inst, rep);
        if (r < 0)
                return r;
        retry_if_error(inst);
        model_instance_set_desired(inst, MODEL_DESIRED_RUNNING);
        if (model_instance_get_status(inst) != MODEL_INSTANCE_RUNNING)
                model_instance_set_task(inst, MODEL_TASK_STARTING);
        return 0;
}

static int do_stop(json_t *inst, struct api_request *req, struct api_reply *rep) {
        int r = refuse_if_deleting(inst, rep);
        if (r < 0)
                return r;
        retry_if_error(inst);
        model_instance_set_desired(inst, MODEL_DESIRED_STOPPED);
        if (model_instance_get_status(inst) != MODEL_INSTANCE_STOPPED)
                model_instance_set_task(inst, MODEL_TASK_STOPPING);
        return 0;
}

static int do_reboot(json_t *inst, struct api_request *req, struct api_reply *rep) {
        int r = refuse_if_deleting(inst, rep);
        if (r < 0)
                return r;
        if (model_instance_get_status(inst) != MODEL_INSTANCE_RUNNING ||
            model_instance_get_desired(inst) != MODEL_DESIRED_RUNNING)
                return api_error(rep, TIDE_E_CONFLICT, "instance '%s' is not running", tide_json_str(inst, "name", ""));
        json_object_set_new(inst, "reboot_seq", json_integer(tide_json_int(inst, "reboot_seq", 0) + 1));
        model_instance_set_task(inst, MODEL_TASK_REBOOTING);
        return 0;
}

static int do_delete(json_t *inst, struct api_request *req, struct api_reply *rep) {
        return model_instance_mark_deleting(inst, NULL);
}

/* The elastic policy: priority, reservations, limits, the off switch. */
static int do_set(json_t *inst, struct api_request *req, struct api_reply *rep) {
        if (model_instance_get_desired(inst) == MODEL_DESIRED_DELETED)
                return api_error(rep, TIDE_E_CONFLICT, "instance '%s' is being deleted",
                                 tide_json_str(inst, "name", ""));
        _cleanup_free_ char *err = NULL;
        int r = model_instance_policy_merge(inst, req->body, &err);
        return r < 0 ? api_error(rep, r, "%s", err) : 0;
}

static int instance_update(struct api_request *req, struct api_reply *rep) {
        if (!json_is_object(req->body))
                return api_error(rep, TIDE_E_INVALID, "the body must be a JSON object");
        /* The policy takes effect through the host's elastic loop: 200, not 202. */
        int r = mutate(req, rep, do_set, "instance.policy", "policy change");
        if (r >= 0)
                rep->status = 200;
        return r;
}

/* {"action": "migrate", "to": HOST, "bandwidth_mib_s": N, "max_downtime_ms": N} starts a live
 * migration (the target's claim and the record: sched_migrate_begin); {"action": "migrate",
 * "cancel": true} asks the one under way to stop. 202 with the record. */
static int instance_migrate(struct api_request *req, struct api_reply *rep) {
        static const char *const known[] = { "action", "to", "bandwidth_mib_s", "max_downtime_ms", "cancel" };
        const char *key;
        json_t *v;
        json_object_foreach(req->body, key, v) {
                bool ok = false;
                for (size_t i = 0; i < ELEMENTSOF(known); i++)
                        ok = ok || streq(key, known[i]);
                if (!ok)
                        return api_error(rep, TIDE_E_INVALID,
                                         "unknown member '%.32s' of a migrate action: to, bandwidth_mib_s, "
                                         "max_downtime_ms or cancel",
                                         key);
        }
        json_t *to = json_object_get(req->body, "to"), *bw = json_object_get(req->body, "bandwidth_mib_s"),
               *dt = json_object_get(req->body, "max_downtime_ms"), *cancel = json_object_get(req->body, "cancel");
        if ((to && !json_is_string(to) && !json_is_null(to)) || (bw && !json_is_integer(bw)) ||
            (dt && !json_is_integer(dt)) || (cancel && !json_is_boolean(cancel)))
                return api_error(rep, TIDE_E_INVALID,
                                 "to is a host name, bandwidth_mib_s and max_downtime_ms integers, cancel a boolean");
        struct store *s = api_store(req);
        _cleanup_free_ char *err = NULL;
        json_t *inst = NULL;
        if (json_is_true(cancel)) {
                if (to || bw || dt)
                        return api_error(rep, TIDE_E_INVALID, "cancel takes no other member");
                int r = sched_migrate_cancel(s, req->params[0], &inst, &err);
                if (r < 0)
                        return api_error(rep, r, "%s", err ? err : tide_strerror(r));
                model_event_emit(s, "info", "instance.migrate_cancel", inst, tide_json_str(inst, "host", NULL),
                                 "cancel of the migration of '%s' requested", tide_json_str(inst, "name", ""));
                return api_json(rep, 202, public_view(inst));
        }
        struct sched_migrate_request mr = {
                .to = json_string_value(to),
                .bandwidth_mib_s = bw ? json_integer_value(bw) : 0,
                .max_downtime_ms = dt ? json_integer_value(dt) : 0,
                .reason = "request",
                .t_request_ms = now_ms(),
        };
        int r = sched_migrate_begin(s, req->params[0], &mr, &inst, &err);
        if (r < 0)
                return api_error(rep, r, "%s", err ? err : tide_strerror(r));
        json_t *m = json_object_get(inst, "migration");
        model_event_emit(s, "info", "instance.migrate", inst, tide_json_str(inst, "host", NULL),
                         "live migration of '%s' from %s to %s requested", tide_json_str(inst, "name", ""),
                         tide_json_str(m, "source", "?"), tide_json_str(m, "target", "?"));
        return api_json(rep, 202, public_view(inst));
}

static int instance_action(struct api_request *req, struct api_reply *rep) {
        static const struct {
                const char *name;
                mutate_fn fn;
                const char *event;
        } actions[] = {
                { "start", do_start, "instance.start" },
                { "stop", do_stop, "instance.stop" },
                { "reboot", do_reboot, "instance.reboot" },
        };
        const char *action = tide_json_str(req->body, "action", NULL);
        if (json_is_object(req->body) && action && streq(action, "migrate"))
                return instance_migrate(req, rep);
        if (!json_is_object(req->body) || !action || json_object_size(req->body) != 1)
                return api_error(rep, TIDE_E_INVALID,
                                 "the body must be {\"action\": \"start\"|\"stop\"|\"reboot\"|\"migrate\"}");
        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (streq(action, actions[i].name))
                        return mutate(req, rep, actions[i].fn, actions[i].event, action);
        return api_error(rep, TIDE_E_INVALID, "unknown action '%.32s': start, stop, reboot or migrate", action);
}

static int instance_delete(struct api_request *req, struct api_reply *rep) {
        /* An instance that never got a host has nothing to tear down: it goes at once. */
        _cleanup_json_ json_t *inst = NULL;
        int r = model_obj_get(api_store(req), MODEL_INSTANCE, req->params[0], &inst, NULL);
        if (r < 0)
                return api_error(rep, r, "instance '%.64s': %s", req->params[0], tide_strerror(r));
        if (json_is_null(json_object_get(inst, "host")) && sched_store_delete(api_store(req), inst) >= 0) {
                model_event_emit(api_store(req), "info", "instance.deleted", inst, NULL, "instance '%s' deleted",
                                 tide_json_str(inst, "name", ""));
                rep->status = 204;
                return 0;
        }
        return mutate(req, rep, do_delete, "instance.delete", "delete");
}

/* Opens one part of the console (-1 with st_size 0 when it does not exist). */
static int console_part_open(struct api_request *req, json_t *inst, const char *file, struct stat *st) {
        _cleanup_free_ char *path = model_instance_path(api_files_base(api_config(req)), tide_json_str(inst, "id", ""),
                                                        file);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        *st = (struct stat) {};
        if (fd < 0)
                return errno == ENOENT ? -1 : -errno;
        if (fstat(fd, st) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* GET /v1/instances/{id}/console?offset=N: at most CONSOLE_CHUNK_MAX bytes of the log from
 * offset on, served by the instance's host. The log is the lines from before its last move
 * (MODEL_INSTANCE_CONSOLE_BEFORE, when files are not shared) followed by console.log. */
static int instance_console(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *inst = NULL;
        int r = model_obj_get(api_store(req), MODEL_INSTANCE, req->params[0], &inst, NULL);
        if (r < 0)
                return api_error(rep, r, "instance '%.64s': %s", req->params[0], tide_strerror(r));
        static const char *const query[] = { "offset", NULL };
        if (api_should_forward(req, tide_json_str(inst, "host", NULL)))
                return api_forward(req, rep, tide_json_str(inst, "host", ""), query);
        if (!streq(tide_json_str(inst, "host", ""), api_config(req)->host_name))
                return api_error(rep, TIDE_E_UNSUPPORTED,
                                 "the console of an instance on another host is "
                                 "served by that host's tided");
        int64_t offset = 0;
        const char *o = api_query(req, "offset");
        if (o && parse_int64(o, 0, INT64_MAX, &offset) < 0)
                return api_error(rep, TIDE_E_INVALID, "offset must be a non-negative integer");

        static const char *const parts[] = { MODEL_INSTANCE_CONSOLE_BEFORE, MODEL_INSTANCE_CONSOLE };
        struct strbuf out = STRBUF_INIT(CONSOLE_CHUNK_MAX + 1);
        int64_t at = 0; /* where the part starts in the whole log */
        for (size_t i = 0; i < ELEMENTSOF(parts) && out.len < CONSOLE_CHUNK_MAX; i++) {
                struct stat st;
                _cleanup_close_ int fd = console_part_open(req, inst, parts[i], &st);
                if (fd < -1)
                        return api_error(rep, TIDE_E_BACKEND, "reading console: %s", strerror(-fd));
                int64_t from = offset > at ? offset - at : 0;
                at += st.st_size;
                if (fd < 0 || from >= st.st_size)
                        continue;
                size_t want = (size_t) (st.st_size - from);
                if (want > CONSOLE_CHUNK_MAX - out.len)
                        want = CONSOLE_CHUNK_MAX - out.len;
                char *buf = xmalloc(want);
                ssize_t n = pread(fd, buf, want, from);
                int e = errno;
                if (n > 0)
                        (void) strbuf_append(&out, buf, (size_t) n);
                free(buf);
                if (n < 0) {
                        strbuf_clear(&out);
                        return api_error(rep, TIDE_E_BACKEND, "reading console: %s", strerror(e));
                }
        }
        rep->status = 200;
        rep->text_len = out.len;
        rep->text = out.len ? strbuf_steal(&out) : xstrdup("");
        return 0;
}

/* GET /v1/instances/{id}/console/history: this host's whole copy of the instance's log as
 * the host it left keeps it after a move (MODEL_INSTANCE_CONSOLE_BEFORE), streamed; the host it
 * moved to copies it from here (agent_migrate.c). Never forwarded: it is about this host. */
static int instance_console_history(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *inst = NULL;
        int r = model_obj_get(api_store(req), MODEL_INSTANCE, req->params[0], &inst, NULL);
        if (r < 0)
                return api_error(rep, r, "instance '%.64s': %s", req->params[0], tide_strerror(r));
        struct stat st;
        _cleanup_close_ int fd = console_part_open(req, inst, MODEL_INSTANCE_CONSOLE_BEFORE, &st);
        if (fd == -1)
                return api_error(rep, TIDE_E_NOT_FOUND, "host '%s' keeps no console history of instance '%s'",
                                 api_config(req)->host_name ?: "", tide_json_str(inst, "name", ""));
        if (fd < 0)
                return api_error(rep, TIDE_E_BACKEND, "reading console history: %s", strerror(-fd));
        rep->status = 200;
        rep->has_file = true;
        rep->file_size = (uint64_t) st.st_size;
        rep->file_fd = TAKE_FD(fd);
        return 0;
}

const struct api_route api_instance_routes[] = {
        { "GET", "/v1/instances", instance_list },
        { "POST", "/v1/instances", instance_create },
        { "GET", "/v1/instances/{}", instance_show },
        { "DELETE", "/v1/instances/{}", instance_delete },
        { "PATCH", "/v1/instances/{}", instance_update },
        { "POST", "/v1/instances/{}/action", instance_action },
        { "GET", "/v1/instances/{}/console", instance_console },
        { "GET", "/v1/instances/{}/console/history", instance_console_history },
        { "GET", "/v1/instances/{}/placement", instance_placement },
        {},
};
