/* api_placement.c — /v1/placement/config: the cluster-wide placement settings (ratios, reserves,
 * spread or pack, weigher multipliers). Per-host settings are under /v1/hosts/{name}. */
#include "api.h"

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "sched/sched_store.h"


/* Shows settings with the defaults filled in. */
static json_t *effective_config(json_t *set) {
        struct sched_config c;
        sched_config_default(&c);
        _cleanup_free_ char *err = NULL;
        (void) sched_config_from_json(set, &c, &err);
        return json_pack("{s:f, s:f, s:f, s:i, s:I, s:s, s:{s:f, s:f, s:f, s:f, s:f}}", "cpu_ratio", c.cpu_ratio,
                         "ram_ratio", c.ram_ratio, "disk_ratio", c.disk_ratio, "reserved_cpus", c.reserved_cpus,
                         "reserved_ram_mib", (json_int_t) c.reserved_ram_mib, "mode",
                         c.mode == SCHED_PACK ? "pack" : "spread", "weights", "ram", c.w_ram, "cpu", c.w_cpu, "load",
                         c.w_load, "numa", c.w_numa, "soft_affinity", c.w_soft_affinity);
}

static int config_show(struct api_request *req, struct api_reply *rep) {
        _cleanup_json_ json_t *cur = NULL;
        int64_t rev;
        int r = model_json_get(api_store(req), MODEL_KEY_PLACEMENT_CONFIG, &cur, &rev);
        if (r < 0)
                return api_error(rep, r, "reading placement settings: %s", tide_strerror(r));
        return api_json(rep, 200, effective_config(cur));
}

static int config_update(struct api_request *req, struct api_reply *rep) {
        struct model_merge_change c = { .merge = model_placement_config_merge, .body = req->body };
        _cleanup_json_ json_t *conf = NULL;
        int r = model_json_modify(api_store(req), MODEL_KEY_PLACEMENT_CONFIG, model_merge_change, &c, &conf);
        _cleanup_free_ char *err = c.err;
        if (err)
                return api_error(rep, r, "%s", err);
        if (r == TIDE_E_CONFLICT)
                return api_error(rep, r, "placement settings keep changing; try again");
        if (r < 0)
                return api_error(rep, r, "storing placement settings: %s", tide_strerror(r));
        _cleanup_free_ char *value = tide_json_dump(conf);
        model_event_emit(api_store(req), "info", "placement.config", NULL, NULL, "placement settings changed: %s",
                         value);
        return api_json(rep, 200, effective_config(conf));
}

const struct api_route api_placement_routes[] = {
        { "GET", "/v1/placement/config", config_show },
        { "PATCH", "/v1/placement/config", config_update },
        {},
};
