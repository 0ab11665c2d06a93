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
                         c.mode == SCHED_PACK ? "pack" : "spread", "weights", "ram", c.w_ram, "cpu", c.w_cpu,
                         "load", c.w_load, "numa", c.w_numa, "soft_affinity", c.w_soft_affinity);
}

static int config_show(struct api_request *req, struct api_reply *rep) {
        json_t *cur;
        int64_t rev;
        int r = model_json_get(api_store(req), MODEL_KEY_PLACEMENT_CONFIG, &cur, &rev);
        if (r < 0)
                return api_error(rep, r, "reading placement settings: %s", tide_strerror(r));
        json_t *eff = effective_config(cur);
        json_decref(cur);
        return api_json(rep, 200, eff);
}

static int config_update(struct api_request *req, struct api_reply *rep) {
        for (int attempt = 0; attempt < 20; attempt++) {
                json_t *cur, *merged;
                int64_t rev;
                _cleanup_free_ char *err = NULL;
                int r = model_json_get(api_store(req), MODEL_KEY_PLACEMENT_CONFIG, &cur, &rev);
                if (r < 0)
                        return api_error(rep, r, "reading placement settings: %s", tide_strerror(r));
                r = model_placement_config_merge(cur, req->body, &merged, &err);
                json_decref(cur);
                if (r < 0)
                        return api_error(rep, r, "%s", err);
                _cleanup_free_ char *value = tide_json_dump(merged);
                r = rev ? store_cas(api_store(req), MODEL_KEY_PLACEMENT_CONFIG, value, rev, NULL)
                        : store_create(api_store(req), MODEL_KEY_PLACEMENT_CONFIG, value, 0, NULL);
                if (r == TIDE_E_CONFLICT || r == TIDE_E_EXISTS) {
                        json_decref(merged);
                        continue;
                }
                if (r < 0) {
                        json_decref(merged);
                        return api_error(rep, r, "storing placement settings: %s", tide_strerror(r));
                }
                model_event_emit(api_store(req), "info", "placement.config", NULL, NULL, "placement settings changed: %s",
                                 value);
                json_t *eff = effective_config(merged);
                json_decref(merged);
                return api_json(rep, 200, eff);
        }
        return api_error(rep, TIDE_E_CONFLICT, "placement settings keep changing; try again");
}

const struct api_route api_placement_routes[] = {
        { "GET", "/v1/placement/config", config_show },
        { "PATCH", "/v1/placement/config", config_update },
        {},
};
