/* net_view.c — the store's view of networks, ports and hosts, as net_plan_build reads it. */
#include "net/net_plan.h"

#include "common/errors.h"
#include "common/tide_json.h"
#include "common/util.h"

static const char *const type_names[NET_TYPE_MAX] = {
        [NET_TYPE_VXLAN] = "vxlan",
        [NET_TYPE_VLAN] = "vlan",
        [NET_TYPE_FLAT] = "flat",
};

const char *net_type_to_string(enum net_type t) {
        if ((unsigned) t >= NET_TYPE_MAX)
                return NULL;
        return type_names[t];
}

enum net_type net_type_from_string(const char *s) {
        for (unsigned t = 0; s && t < NET_TYPE_MAX; t++)
                if (streq(s, type_names[t]))
                        return (enum net_type) t;
        return NET_TYPE_MAX;
}

struct net_view *net_view_new(void) {
        return xcalloc(1, sizeof(struct net_view));
}

void net_view_free(struct net_view *v) {
        if (!v)
                return;
        for (size_t i = 0; i < v->n_networks; i++) {
                free(v->networks[i].id);
                free(v->networks[i].physdev);
                free(v->networks[i].bridge);
        }
        for (size_t i = 0; i < v->n_ports; i++) {
                free(v->ports[i].id);
                free(v->ports[i].network_id);
                free(v->ports[i].mac);
                free(v->ports[i].host);
        }
        for (size_t i = 0; i < v->n_hosts; i++) {
                free(v->hosts[i].name);
                free(v->hosts[i].address);
        }
        free(v->networks);
        free(v->ports);
        free(v->hosts);
        free(v);
}

static char *strdup_or_null(const char *s) {
        return s ? xstrdup(s) : NULL;
}

/* A member that must be an integer: 0 when missing, NET_VIEW_NOT_INT when of another type, so
 * that the plan names it. */
static int64_t int_or_bad(const json_t *o, const char *key) {
        const json_t *m = json_object_get(o, key);
        if (!m)
                return 0;
        return json_is_integer(m) ? json_integer_value(m) : NET_VIEW_NOT_INT;
}

int net_view_add_network_json(struct net_view *v, const json_t *n) {
        const char *id = tide_json_str(n, "id", NULL);
        if (!json_is_object(n) || !id)
                return TIDE_E_INVALID;
        v->networks = xrealloc(v->networks, (v->n_networks + 1) * sizeof(*v->networks));
        v->networks[v->n_networks++] = (struct net_view_network) {
                .id = xstrdup(id),
                .type = net_type_from_string(tide_json_str(n, "type", NULL)),
                .vni = int_or_bad(n, "vni"),
                .vlan = int_or_bad(n, "vlan"),
                .physdev = strdup_or_null(tide_json_str(n, "physdev", NULL)),
                .bridge = strdup_or_null(tide_json_str(n, "bridge", NULL)),
                .mtu = int_or_bad(n, "mtu"),
        };
        return 0;
}

int net_view_add_port_json(struct net_view *v, const json_t *p, const char *host) {
        const char *id = tide_json_str(p, "id", NULL);
        if (!json_is_object(p) || !id)
                return TIDE_E_INVALID;
        v->ports = xrealloc(v->ports, (v->n_ports + 1) * sizeof(*v->ports));
        v->ports[v->n_ports++] = (struct net_view_port) {
                .id = xstrdup(id),
                .network_id = strdup_or_null(tide_json_str(p, "network_id", NULL)),
                .mac = strdup_or_null(tide_json_str(p, "mac", NULL)),
                .host = strdup_or_null(host),
        };
        return 0;
}

void net_view_add_host(struct net_view *v, const char *name, const char *address) {
        v->hosts = xrealloc(v->hosts, (v->n_hosts + 1) * sizeof(*v->hosts));
        v->hosts[v->n_hosts++] = (struct net_view_host) {
                .name = xstrdup(name),
                .address = strdup_or_null(address),
        };
}

char *net_url_host(const char *url) {
        const char *p = NULL;
        if (url && startswith(url, "http://"))
                p = url + 7;
        else if (url && startswith(url, "https://"))
                p = url + 8;
        if (!p)
                return NULL;
        size_t n;
        if (*p == '[') {
                const char *end = strchr(p, ']');
                if (!end || end == p + 1)
                        return NULL;
                return xstrndup(p + 1, (size_t) (end - p - 1));
        }
        n = strcspn(p, ":/?#");
        return n ? xstrndup(p, n) : NULL;
}

int net_view_add_host_json(struct net_view *v, const json_t *h) {
        const char *name = tide_json_str(h, "name", NULL);
        if (!name)
                return TIDE_E_INVALID;
        const char *address = tide_json_str(h, "address", NULL);
        _cleanup_free_ char *from_url = address ? NULL : net_url_host(tide_json_str(h, "api_url", NULL));
        net_view_add_host(v, name, address ? address : from_url);
        return 0;
}

int net_view_from_json(const json_t *j, struct net_view **ret) {
        const json_t *networks = json_object_get(j, "networks");
        const json_t *ports = json_object_get(j, "ports");
        const json_t *hosts = json_object_get(j, "hosts");
        if (!json_is_array(networks) || !json_is_array(ports) || !json_is_array(hosts))
                return TIDE_E_INVALID;

        struct net_view *v = net_view_new();
        size_t i;
        const json_t *e;
        int r = 0;
        json_array_foreach(networks, i, e) {
                r = net_view_add_network_json(v, e);
                if (r < 0)
                        goto out;
        }
        json_array_foreach(ports, i, e) {
                r = net_view_add_port_json(v, e, tide_json_str(e, "host", NULL));
                if (r < 0)
                        goto out;
        }
        json_array_foreach(hosts, i, e) {
                r = net_view_add_host_json(v, e);
                if (r < 0)
                        goto out;
        }
        *ret = TAKE_PTR(v);
out:
        net_view_free(v);
        return r;
}
