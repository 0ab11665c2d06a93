/* api_metrics.c — GET /metrics (Prometheus text) and the stats of instances and hosts, from the
 * measurements of this tided's agent. */
#include "api.h"

#include "common/errors.h"
#include "common/util.h"
#include "metrics/metrics.h"
#include "model/model.h"

#define STATS_LIMIT_DEFAULT 60

static int prometheus(struct api_request *req, struct api_reply *rep) {
        struct metrics *m = api_config(req)->metrics;
        if (!m)
                return api_error(rep, TIDE_E_UNSUPPORTED, "this tided runs no agent");
        char *text;
        int r = metrics_prometheus(m, &text);
        if (r < 0)
                return api_error(rep, r, "rendering metrics: %s", tide_strerror(r));
        rep->status = 200;
        rep->text = text;
        rep->text_len = strlen(text);
        rep->content_type = "text/plain; version=0.0.4; charset=utf-8";
        return 0;
}

static int stats_limit(struct api_request *req, struct api_reply *rep, size_t *ret) {
        int64_t limit = STATS_LIMIT_DEFAULT;
        const char *l = api_query(req, "limit");
        if (l && parse_int64(l, 1, 10000, &limit) < 0)
                return api_error(rep, TIDE_E_INVALID, "limit must be an integer from 1 to 10000");
        *ret = (size_t) limit;
        return 0;
}

static int instance_stats(struct api_request *req, struct api_reply *rep) {
        size_t limit;
        int r = stats_limit(req, rep, &limit);
        if (r < 0)
                return r;
        json_t *inst, *o;
        r = model_obj_get(api_store(req), MODEL_INSTANCE, req->params[0], &inst, NULL);
        if (r < 0)
                return api_error(rep, r, "instance '%.64s': %s", req->params[0], tide_strerror(r));
        static const char *const query[] = { "limit", NULL };
        if (api_should_forward(req, tide_json_str(inst, "host", NULL))) {
                r = api_forward(req, rep, tide_json_str(inst, "host", ""), query);
                json_decref(inst);
                return r;
        }
        struct metrics *m = api_config(req)->metrics;
        r = m ? metrics_vm_json(m, tide_json_str(inst, "id", ""), limit, &o) : TIDE_E_NOT_FOUND;
        if (r == TIDE_E_NOT_FOUND)
                r = api_error(rep, r,
                              "no measurements of instance '%s' here (it runs on '%s'; its host's tided "
                              "has them)",
                              tide_json_str(inst, "name", ""), tide_json_str(inst, "host", "no host"));
        else if (r < 0)
                api_error(rep, r, "stats: %s", tide_strerror(r));
        else {
                json_object_set_new(o, "name", json_string(tide_json_str(inst, "name", "")));
                api_json(rep, 200, o);
        }
        json_decref(inst);
        return r;
}

static int host_stats(struct api_request *req, struct api_reply *rep) {
        size_t limit;
        int r = stats_limit(req, rep, &limit);
        if (r < 0)
                return r;
        static const char *const query[] = { "limit", NULL };
        if (api_should_forward(req, req->params[0]))
                return api_forward(req, rep, req->params[0], query);
        struct metrics *m = api_config(req)->metrics;
        json_t *o;
        r = m ? metrics_host_json(m, req->params[0], limit, &o) : TIDE_E_NOT_FOUND;
        if (r < 0)
                return api_error(rep, r, "no measurements of host '%.64s' here", req->params[0]);
        return api_json(rep, 200, o);
}

const struct api_route api_metrics_routes[] = {
        { "GET", "/metrics", prometheus },
        { "GET", "/v1/instances/{}/stats", instance_stats },
        { "GET", "/v1/hosts/{}/stats", host_stats },
        {},
};
