/* api_networks.c — /v1/networks, /v1/ports, /v1/network/config, and an instance's ports
 * (/v1/instances/{}/ports): the records of networks and their ports (model_net.h). The hosts'
 * plumbing follows the records; nothing here touches a host. */
#include "api.h"

#include "common/errors.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "model/model_net.h"

static int network_list(struct api_request *req, struct api_reply *rep) {
        json_t *a;
        int r = model_obj_list(api_store(req), MODEL_NETWORK, &a);
        if (r < 0)
                return api_error(rep, r, "listing networks: %s", tide_strerror(r));
        return api_json(rep, 200, json_pack("{s:o}", "networks", a));
}

static int network_create(struct api_request *req, struct api_reply *rep) {
        json_t *net;
        _cleanup_free_ char *err = NULL;
        int r = model_network_create(api_store(req), req->body, &net, &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);
        model_event_emit(api_store(req), "info", "network.created", NULL, NULL, "network '%s' created (%s, %s)",
                         tide_json_str(net, "name", ""), tide_json_str(net, "type", ""),
                         tide_json_str(net, "cidr", ""));
        return api_json(rep, 201, net);
}

static int network_show(struct api_request *req, struct api_reply *rep) {
        json_t *net, *ports;
        int r = model_obj_get(api_store(req), MODEL_NETWORK, req->params[0], &net, NULL);
        if (r < 0)
                return api_error(rep, r, "network '%.64s': %s", req->params[0], tide_strerror(r));
        if ((r = model_network_ports(api_store(req), net, &ports)) < 0) {
                json_decref(net);
                return api_error(rep, r, "reading the ports of network '%.64s': %s", req->params[0], tide_strerror(r));
        }
        json_object_set_new(net, "ports", ports);
        return api_json(rep, 200, net);
}

static int network_delete(struct api_request *req, struct api_reply *rep) {
        _cleanup_free_ char *err = NULL;
        int r = model_network_delete(api_store(req), req->params[0], &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);
        model_event_emit(api_store(req), "info", "network.deleted", NULL, NULL, "network '%.64s' deleted",
                         req->params[0]);
        rep->status = 204;
        return 0;
}

static int port_list(struct api_request *req, struct api_reply *rep) {
        json_t *a;
        int r = model_port_list(api_store(req), &a);
        if (r < 0)
                return api_error(rep, r, "listing ports: %s", tide_strerror(r));
        return api_json(rep, 200, json_pack("{s:o}", "ports", a));
}

static int instance_port_add(struct api_request *req, struct api_reply *rep) {
        json_t *port;
        _cleanup_free_ char *err = NULL;
        int r = model_port_add(api_store(req), req->params[0], req->body, &port, &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);
        return api_json(rep, 201, port);
}

static int instance_port_remove(struct api_request *req, struct api_reply *rep) {
        _cleanup_free_ char *err = NULL;
        int r = model_port_remove(api_store(req), req->params[0], req->params[1], &err);
        if (r < 0)
                return api_error(rep, r, "%s", err);
        rep->status = 204;
        return 0;
}

static int config_show(struct api_request *req, struct api_reply *rep) {
        struct model_net_config c;
        int r = model_net_config_get(api_store(req), &c);
        if (r < 0)
                return api_error(rep, r, "reading network settings: %s", tide_strerror(r));
        return api_json(rep, 200, model_net_config_to_json(&c));
}

static int config_update(struct api_request *req, struct api_reply *rep) {
        struct model_merge_change c = { .merge = model_net_config_merge, .body = req->body };
        _cleanup_json_ json_t *conf = NULL;
        int r = model_json_modify(api_store(req), MODEL_KEY_NETWORK_CONFIG, model_merge_change, &c, &conf);
        _cleanup_free_ char *err = c.err;
        if (err)
                return api_error(rep, r, "%s", err);
        if (r == TIDE_E_CONFLICT)
                return api_error(rep, r, "network settings keep changing; try again");
        if (r < 0)
                return api_error(rep, r, "storing network settings: %s", tide_strerror(r));
        struct model_net_config nc;
        _cleanup_free_ char *ignored = NULL;
        (void) model_net_config_from_json(conf, &nc, &ignored); /* checked by the merge */
        return api_json(rep, 200, model_net_config_to_json(&nc));
}

const struct api_route api_network_routes[] = {
        { "GET", "/v1/networks", network_list },
        { "POST", "/v1/networks", network_create },
        { "GET", "/v1/networks/{}", network_show },
        { "DELETE", "/v1/networks/{}", network_delete },
        { "GET", "/v1/ports", port_list },
        { "GET", "/v1/network/config", config_show },
        { "PATCH", "/v1/network/config", config_update },
        { "POST", "/v1/instances/{}/ports", instance_port_add },
        { "DELETE", "/v1/instances/{}/ports/{}", instance_port_remove },
        {},
};
