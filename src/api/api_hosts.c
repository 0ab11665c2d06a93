/* api_hosts.c — /v1/hosts (read-only, registered by agents), /v1/events, /v1/leader and
 * /v1/health. */
#include "api.h"

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "ctl/ctl_drain.h"
#include "sched/sched_store.h"

/* Adds what the host's instances use. */
static void add_usage(json_t *host, json_t *instances) {
        int64_t n = 0, vcpus = 0, ram = 0;
        size_t i;
        json_t *inst;
        json_array_foreach(instances, i, inst) {
                if (!streq(tide_json_str(inst, "host", ""), tide_json_str(host, "name", "")))
                        continue;
                n++;
                vcpus += tide_json_int(inst, "vcpus", 0);
                ram += tide_json_int(inst, "ram_mib", 0);
        }
        json_object_set_new(host, "instances", json_integer(n));
        json_object_set_new(host, "vcpus_used", json_integer(vcpus));
        json_object_set_new(host, "ram_mib_used", json_integer(ram));
}

/* Adds the operator's settings ("config"), the placement allocation ("allocation") and a drain
 * under way or ended ("drain", ctl_drain.h). */
static void add_placement(struct api_request *req, json_t *host) {
        const char *name = tide_json_str(host, "name", "");
        _cleanup_free_ char *ck = model_key_hostconf(name);
        _cleanup_free_ char *ak = model_key_alloc(name);
        json_t *conf, *alloc;
        int64_t rev;
        if (model_json_get(api_store(req), ck, &conf, &rev) >= 0)
                json_object_set_new(host, "config", conf);
        if (model_json_get(api_store(req), ak, &alloc, &rev) >= 0)
                json_object_set_new(host, "allocation", alloc);
        _cleanup_free_ char *dk = xasprintf(MODEL_KEY_DRAIN "%s", name);
        _cleanup_json_ json_t *drain = NULL;
        if (model_json_get(api_store(req), dk, &drain, &rev) >= 0 && rev > 0)
                json_object_set(host, "drain", drain);
}

/* Sets "leader": whether the host's tided leads the controllers (leader: MODEL_KEY_LEADER's
 * value, {"host", "hosts"}: the leader's name and the hosts its agent runs). */
static void mark_leader(json_t *host, json_t *leader) {
        const char *name = tide_json_str(host, "name", "");
        bool is = streq(tide_json_str(leader, "host", ""), name);
        size_t i;
        json_t *h;
        json_array_foreach(json_object_get(leader, "hosts"), i, h)
                is = is || streq(json_string_value(h) ?: "", name);
        json_object_set_new(host, "leader", json_boolean(is));
}

static int host_list(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *hosts = NULL, *instances = NULL;
        _cleanup_json_ json_t *leader = NULL;
        int64_t leader_rev;
        (void) model_json_get(api_store(req), MODEL_KEY_LEADER, &leader, &leader_rev);
        int r = model_host_list(api_store(req), &hosts);
        if (r < 0)
                return api_error(rep, r, "listing hosts: %s", tide_strerror(r));
        r = model_obj_list(api_store(req), MODEL_INSTANCE, &instances);
        if (r < 0)
                return api_error(rep, r, "listing instances: %s", tide_strerror(r));
        size_t i;
        json_t *h;
        json_array_foreach(hosts, i, h) {
                add_usage(h, instances);
                add_placement(req, h);
                mark_leader(h, leader);
        }
        return api_json(rep, 200, json_pack("{s:o}", "hosts", TAKE_PTR(hosts)));
}

static int host_show(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *instances = NULL;
        json_t *h;
        int r = model_host_get(api_store(req), req->params[0], &h);
        if (r < 0)
                return api_error(rep, r, "host '%.64s': %s", req->params[0], tide_strerror(r));
        if (model_obj_list(api_store(req), MODEL_INSTANCE, &instances) >= 0)
                add_usage(h, instances);
        add_placement(req, h);
        _cleanup_json_ json_t *leader = NULL;
        int64_t leader_rev;
        (void) model_json_get(api_store(req), MODEL_KEY_LEADER, &leader, &leader_rev);
        mark_leader(h, leader);
        return api_json(rep, 200, h);
}

/* Changes a host's settings: labels, ratios, reserves, draining (merged into what is set). */
static int host_update(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *h = NULL, *conf = NULL;
        int r = model_host_get(api_store(req), req->params[0], &h);
        if (r < 0)
                return api_error(rep, r, "host '%.64s': %s", req->params[0], tide_strerror(r));
        _cleanup_free_ char *key = model_key_hostconf(req->params[0]);
        struct model_merge_change c = { .merge = model_host_config_merge, .body = req->body };
        r = model_json_modify(api_store(req), key, model_merge_change, &c, &conf);
        _cleanup_free_ char *err = c.err;
        if (err)
                return api_error(rep, r, "%s", err);
        if (r == TIDE_E_CONFLICT)
                return api_error(rep, r, "host settings keep changing; try again");
        if (r < 0)
                return api_error(rep, r, "storing host settings: %s", tide_strerror(r));
        _cleanup_free_ char *value = tide_json_dump(conf);
        model_event_emit(api_store(req), "info", "host.config", NULL, req->params[0], "host '%s' settings changed: %s",
                         req->params[0], value);
        return host_show(req, rep);
}

/* POST /v1/hosts/{}/drain {"concurrency": N}: draining on, and the drain controller moves the
 * host's instances off (ctl_drain.h). 202 with the host. */
static int host_drain(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *h = NULL;
        int r = model_host_get(api_store(req), req->params[0], &h);
        if (r < 0)
                return api_error(rep, r, "host '%.64s': %s", req->params[0], tide_strerror(r));
        json_t *c = json_object_get(req->body, "concurrency");
        if ((req->body && !json_is_object(req->body)) || (c && !json_is_integer(c)) ||
            json_object_size(req->body) > (c ? 1u : 0u))
                return api_error(rep, TIDE_E_INVALID, "the body is empty or {\"concurrency\": N}");
        int64_t n = c ? json_integer_value(c) : 0;
        if (c && (n < 1 || n > CTL_DRAIN_CONCURRENCY_MAX))
                return api_error(rep, TIDE_E_INVALID, "concurrency must be 1 to %d", CTL_DRAIN_CONCURRENCY_MAX);
        r = ctl_drain_start(api_store(req), req->params[0], (int) n, now_ms(), NULL);
        if (r < 0)
                return api_error(rep, r, "starting the drain: %s", tide_strerror(r));
        model_event_emit(api_store(req), "info", "host.drain", NULL, req->params[0],
                         "host '%s' draining: new VMs kept away, its instances move off", req->params[0]);
        r = host_show(req, rep);
        if (r >= 0)
                rep->status = 202;
        return r;
}

/* POST /v1/hosts/{}/undrain: the drain ends and the host takes new VMs again. */
static int host_undrain(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *h = NULL;
        int r = model_host_get(api_store(req), req->params[0], &h);
        if (r < 0)
                return api_error(rep, r, "host '%.64s': %s", req->params[0], tide_strerror(r));
        r = ctl_drain_stop(api_store(req), req->params[0]);
        if (r < 0)
                return api_error(rep, r, "ending the drain: %s", tide_strerror(r));
        model_event_emit(api_store(req), "info", "host.undrain", NULL, req->params[0], "host '%s' takes new VMs again",
                         req->params[0]);
        return host_show(req, rep);
}

static int event_list(struct api_request *req, struct api_reply *rep) {
        int64_t limit = 100;
        const char *l = api_query(req, "limit");
        if (l && parse_int64(l, 1, 1000, &limit) < 0)
                return api_error(rep, TIDE_E_INVALID, "limit must be an integer from 1 to 1000");
        const char *inst = api_query(req, "instance"), *group = api_query(req, "group");
        if (inst && group)
                return api_error(rep, TIDE_E_INVALID, "give instance or group, not both");
        json_t *a;
        int r = group ? model_scaling_group_event_list(api_store(req), group, (size_t) limit, &a)
                      : model_event_list(api_store(req), inst, (size_t) limit, &a);
        if (r < 0)
                return api_error(rep, r, "listing events: %s", tide_strerror(r));
        return api_json(rep, 200, json_pack("{s:o}", "events", a));
}

/* Who leads the controllers: {"host", "election_rev"}; 404 while nobody does (between a
 * leader's death and the next election). */
static int leader_show(struct api_request *req, struct api_reply *rep) {
        _cleanup_free_ char *host = NULL;
        int64_t rev;
        int r = model_leader_get(api_store(req), &host, &rev);
        if (r == TIDE_E_NOT_FOUND)
                return api_error(rep, r, "no tided leads the controllers now");
        if (r < 0)
                return api_error(rep, r, "store: %s", tide_strerror(r));
        return api_json(rep, 200, json_pack("{s:s, s:I}", "host", host, "election_rev", (json_int_t) rev));
}

static int health(struct api_request *req, struct api_reply *rep) {
        int64_t rev, leader_rev = 0;
        int r = store_revision(api_store(req), &rev);
        if (r < 0)
                return api_error(rep, r, "store: %s", tide_strerror(r));
        _cleanup_free_ char *leader = NULL;
        (void) model_leader_get(api_store(req), &leader, &leader_rev);
        return api_json(rep, 200,
                        json_pack("{s:s, s:s, s:s, s:I, s:s?, s:I}", "status", "ok", "version", TIDE_VERSION, "store",
                                  store_backend_name(api_store(req)), "revision", (json_int_t) rev, "leader", leader,
                                  "leader_rev", (json_int_t) leader_rev));
}

const struct api_route api_host_routes[] = {
        { "GET", "/v1/hosts", host_list },
        { "GET", "/v1/hosts/{}", host_show },
        { "PATCH", "/v1/hosts/{}", host_update },
        { "POST", "/v1/hosts/{}/drain", host_drain },
        { "POST", "/v1/hosts/{}/undrain", host_undrain },
        { "GET", "/v1/events", event_list },
        { "GET", "/v1/health", health },
        { "GET", "/v1/leader", leader_show },
        {},
};
