/* model_net_store.c — networks and ports in the store (model_net.h): a network with its
 * segment, a port with its address and MAC, each in one transaction; a network's delete that
 * no new port can slip past. No logging. */
#include "model/model_net.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"

/* A network's create, delete, and a port's add or remove start again this often after lost
 * races: concurrent creates of networks without a VNI all try the lowest free one first. */
#define NET_RETRIES 100

int model_net_config_get(struct store *s, struct model_net_config *ret) {
        _cleanup_json_ json_t *o = NULL;
        int64_t rev;
        int r = model_json_get(s, MODEL_KEY_NETWORK_CONFIG, &o, &rev);
        if (r < 0)
                return r;
        _cleanup_free_ char *err = NULL;
        /* Stored settings were checked when they were written. */
        if (model_net_config_from_json(o, ret, &err) < 0)
                model_net_config_default(ret);
        return 0;
}

/* The segment key of a network: its VNI, VLAN ID on its device, or bridge. */
static char *segment_key(json_t *net) {
        const char *type = tide_json_str(net, "type", "");
        if (streq(type, "vxlan")) {
                _cleanup_free_ char *v = xasprintf("%lld", (long long) tide_json_int(net, "vni", 0));
                return model_key_segment(type, v);
        }
        if (streq(type, "vlan")) {
                _cleanup_free_ char *v = xasprintf("%s/%lld", tide_json_str(net, "physdev", ""),
                                                   (long long) tide_json_int(net, "vlan", 0));
                return model_key_segment(type, v);
        }
        return model_key_segment(type, tide_json_str(net, "bridge", ""));
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

/* The lowest number in [min, max] that no key under prefix ends with. */
static int segment_pick(struct store *s, const char *prefix, int64_t min, int64_t max, int64_t *ret) {
        struct store_kvs kvs = {};
        int r = store_range(s, prefix, 0, &kvs, NULL);
        if (r < 0)
                return r;
        _cleanup_free_ uint32_t *used = xcalloc(kvs.n + 1, sizeof *used);
        size_t n = 0;
        for (size_t i = 0; i < kvs.n; i++) {
                int64_t v;
                if (parse_int64(kvs.items[i].key + strlen(prefix), 0, UINT32_MAX, &v) >= 0)
                        used[n++] = (uint32_t) v;
        }
        store_kvs_clear(&kvs);
        qsort(used, n, sizeof *used, cmp_u32);
        int64_t cand = min;
        for (size_t i = 0; i < n && cand <= max; i++)
                if (used[i] == cand)
                        cand++;
        if (cand > max)
                return TIDE_E_CONFLICT;
        *ret = cand;
        return 0;
}

/* The name of the network that holds the segment key (for messages); a new string. */
static char *segment_holder(struct store *s, const char *key) {
        struct store_kv kv = {};
        _cleanup_json_ json_t *net = NULL;
        if (store_get(s, key, &kv) >= 0)
                (void) model_obj_get(s, MODEL_NETWORK, kv.value, &net, NULL);
        store_kv_clear(&kv);
        return xstrdup(net ? tide_json_str(net, "name", "?") : "?");
}

static bool key_exists(struct store *s, const char *key) {
        struct store_kv kv = {};
        bool found = store_get(s, key, &kv) >= 0;
        store_kv_clear(&kv);
        return found;
}

int model_network_create(struct store *s, json_t *body, json_t **ret, char **ret_err) {
        struct model_net_config cfg;
        _cleanup_json_ json_t *net = NULL;
        int r = model_net_config_get(s, &cfg);
        if (r < 0) {
                *ret_err = xasprintf("reading the network settings: %s", tide_strerror(r));
                return r;
        }
        if ((r = model_network_from_request(body, &cfg, &net, ret_err)) < 0)
                return r;
        const char *type = tide_json_str(net, "type", ""), *name = tide_json_str(net, "name", "");
        const char *seg_member = streq(type, "vxlan") ? "vni" : streq(type, "vlan") ? "vlan" : NULL;
        bool allocate = seg_member && !json_object_get(net, seg_member);
        _cleanup_free_ char *id = id_new_uuid(), *created = time_format_ms(now_ms());
        json_object_set_new(net, "id", json_string(id));
        json_object_set_new(net, "created_at", json_string(created));
        _cleanup_free_ char *key = model_obj_key(MODEL_NETWORK, id), *nk = model_name_key(MODEL_NETWORK, name);
        _cleanup_free_ char *vlan_dev = xasprintf("%s/", tide_json_str(net, "physdev", ""));
        _cleanup_free_ char *range_prefix = model_key_segment(type, streq(type, "vlan") ? vlan_dev : NULL);

        for (int attempt = 0; attempt < NET_RETRIES; attempt++) {
                if (allocate) {
                        int64_t v;
                        bool vxlan = streq(type, "vxlan");
                        r = segment_pick(s, range_prefix, vxlan ? cfg.vni_min : cfg.vlan_min,
                                         vxlan ? cfg.vni_max : cfg.vlan_max, &v);
                        if (r == TIDE_E_CONFLICT)
                                *ret_err = xasprintf("no free %s left in the range %lld-%lld%s%s",
                                                     vxlan ? "VNI" : "VLAN ID",
                                                     (long long) (vxlan ? cfg.vni_min : cfg.vlan_min),
                                                     (long long) (vxlan ? cfg.vni_max : cfg.vlan_max),
                                                     vxlan ? "" : " on ",
                                                     vxlan ? "" : tide_json_str(net, "physdev", ""));
                        else if (r < 0)
                                *ret_err = xasprintf("reading the %ss in use: %s", vxlan ? "VNI" : "VLAN ID",
                                                     tide_strerror(r));
                        if (r < 0)
                                return r;
                        json_object_set_new(net, seg_member, json_integer(v));
                }
                _cleanup_free_ char *skey = segment_key(net), *value = tide_json_dump(net);
                struct store_cmp cmps[] = {
                        { .key = nk, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = 0 },
                        { .key = key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = 0 },
                        { .key = skey, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = 0 },
                };
                struct store_op ops[] = {
                        { .type = STORE_OP_PUT, .key = nk, .value = id },
                        { .type = STORE_OP_PUT, .key = key, .value = value },
                        { .type = STORE_OP_PUT, .key = skey, .value = id },
                };
                struct store_txn txn = { .cmps = cmps, .n_cmps = 3, .success = ops, .n_success = 3 };
                bool ok = false;
                if ((r = store_txn(s, &txn, &ok, NULL)) < 0) {
                        *ret_err = xasprintf("storing network '%s': %s", name, tide_strerror(r));
                        return r;
                }
                if (ok) {
                        *ret = TAKE_PTR(net);
                        return 0;
                }
                if (key_exists(s, nk)) {
                        *ret_err = xasprintf("network '%s' already exists", name);
                        return TIDE_E_EXISTS;
                }
                if (!allocate && key_exists(s, skey)) {
                        _cleanup_free_ char *holder = segment_holder(s, skey);
                        if (streq(type, "vxlan"))
                                *ret_err = xasprintf("VNI %lld is used by network '%s'",
                                                     (long long) tide_json_int(net, "vni", 0), holder);
                        else if (streq(type, "vlan"))
                                *ret_err = xasprintf("VLAN %lld on %s is used by network '%s'",
                                                     (long long) tide_json_int(net, "vlan", 0),
                                                     tide_json_str(net, "physdev", ""), holder);
                        else
                                *ret_err = xasprintf("bridge %s is used by flat network '%s'",
                                                     tide_json_str(net, "bridge", ""), holder);
                        return TIDE_E_EXISTS;
                }
                /* An allocated segment another network took first: pick again. */
        }
        *ret_err = xasprintf("network '%s': too many concurrent changes; try again", name);
        return TIDE_E_CONFLICT;
}

int model_network_delete(struct store *s, const char *ref, char **ret_err) {
        for (int attempt = 0; attempt < NET_RETRIES; attempt++) {
                _cleanup_json_ json_t *net = NULL;
                int64_t rev;
                int r = model_obj_get(s, MODEL_NETWORK, ref, &net, &rev);
                if (r < 0) {
                        *ret_err = xasprintf("network '%.64s': %s", ref, tide_strerror(r));
                        return r;
                }
                const char *id = tide_json_str(net, "id", ""), *name = tide_json_str(net, "name", "");
                /* The mark changes the network's revision, which every port's transaction
                 * compares: a port made after it fails, one made before is seen below. */
                if (!tide_json_bool(net, "deleting", false)) {
                        json_object_set_new(net, "deleting", json_true());
                        r = model_obj_update(s, MODEL_NETWORK, net, rev, &rev);
                        if (r == TIDE_E_CONFLICT)
                                continue;
                        if (r < 0) {
                                *ret_err = xasprintf("deleting network '%s': %s", name, tide_strerror(r));
                                return r;
                        }
                }
                _cleanup_free_ char *prefix = model_key_ipam_network(id);
                struct store_kvs kvs = {};
                if ((r = store_range(s, prefix, 0, &kvs, NULL)) < 0) {
                        *ret_err = xasprintf("reading the ports of network '%s': %s", name, tide_strerror(r));
                        return r;
                }
                size_t n = kvs.n;
                store_kvs_clear(&kvs);
                if (n > 0) {
                        json_object_del(net, "deleting");
                        (void) model_obj_update(s, MODEL_NETWORK, net, rev, NULL); /* another delete may own it */
                        *ret_err = xasprintf("network '%s' has %zu port(s): remove them (or their instances) first",
                                             name, n);
                        return TIDE_E_IN_USE;
                }
                _cleanup_free_ char *key = model_obj_key(MODEL_NETWORK, id), *nk = model_name_key(MODEL_NETWORK, name);
                _cleanup_free_ char *skey = segment_key(net);
                struct store_cmp cmp = {
                        .key = key, .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = rev
                };
                struct store_op ops[] = {
                        { .type = STORE_OP_DELETE, .key = key },
                        { .type = STORE_OP_DELETE, .key = nk },
                        { .type = STORE_OP_DELETE, .key = skey },
                };
                struct store_txn txn = { .cmps = &cmp, .n_cmps = 1, .success = ops, .n_success = 3 };
                bool ok = false;
                if ((r = store_txn(s, &txn, &ok, NULL)) < 0) {
                        *ret_err = xasprintf("deleting network '%s': %s", name, tide_strerror(r));
                        return r;
                }
                if (ok)
                        return 0;
        }
        *ret_err = xasprintf("network '%.64s' keeps changing; try again", ref);
        return TIDE_E_CONFLICT;
}

/* Joins "instance" (name) and "host" of the port's instance, and "network" (name) when nets
 * is not NULL ({id: name}), into port. */
static void port_join(struct store *s, json_t *port, json_t *nets) {
        _cleanup_json_ json_t *inst = NULL;
        if (model_obj_get(s, MODEL_INSTANCE, tide_json_str(port, "instance_id", ""), &inst, NULL) >= 0) {
                json_object_set_new(port, "instance", json_string(tide_json_str(inst, "name", "")));
                json_t *h = json_object_get(inst, "host");
                json_object_set(port, "host", h ? h : json_null());
        } else {
                json_object_set_new(port, "instance", json_null());
                json_object_set_new(port, "host", json_null());
        }
        if (nets)
                json_object_set(port, "network", json_object_get(nets, tide_json_str(port, "network_id", "")));
}

static int by_ip(const void *a, const void *b) {
        json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
        uint32_t p = 0, q = 0;
        (void) model_ipv4_parse(tide_json_str(x, "ip", ""), &p);
        (void) model_ipv4_parse(tide_json_str(y, "ip", ""), &q);
        return p < q ? -1 : p > q;
}

/* Loads the port records whose ids are the values of kvs (or the records themselves when
 * records), joined (port_join), sorted by address. */
static json_t *ports_load(struct store *s, struct store_kvs *kvs, bool records, json_t *nets) {
        _cleanup_free_ json_t **v = xcalloc(kvs->n + 1, sizeof(json_t *));
        size_t n = 0;
        for (size_t i = 0; i < kvs->n; i++) {
                json_t *p = NULL;
                if (records)
                        p = json_loadb(kvs->items[i].value, kvs->items[i].value_len, 0, NULL);
                else {
                        _cleanup_free_ char *pk = model_key_port(kvs->items[i].value);
                        int64_t rev;
                        if (model_json_get(s, pk, &p, &rev) < 0 || rev == 0) {
                                json_decref(p);
                                p = NULL;
                        }
                }
                if (!json_is_object(p)) {
                        json_decref(p);
                        continue;
                }
                port_join(s, p, nets);
                v[n++] = p;
        }
        qsort(v, n, sizeof *v, by_ip);
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, v[i]);
        return a;
}

int model_network_ports(struct store *s, json_t *net, json_t **ret) {
        _cleanup_free_ char *prefix = model_key_ipam_network(tide_json_str(net, "id", ""));
        struct store_kvs kvs = {};
        int r = store_range(s, prefix, 0, &kvs, NULL);
        if (r < 0)
                return r;
        *ret = ports_load(s, &kvs, false, NULL);
        store_kvs_clear(&kvs);
        return 0;
}

int model_port_list(struct store *s, json_t **ret) {
        _cleanup_json_ json_t *nets = NULL, *names = json_object();
        int r = model_obj_list(s, MODEL_NETWORK, &nets);
        if (r < 0)
                return r;
        size_t i;
        json_t *n;
        json_array_foreach(nets, i, n)
                json_object_set(names, tide_json_str(n, "id", ""), json_object_get(n, "name"));
        struct store_kvs kvs = {};
        if ((r = store_range(s, MODEL_KEY_PORTS, 0, &kvs, NULL)) < 0)
                return r;
        *ret = ports_load(s, &kvs, true, names);
        store_kvs_clear(&kvs);
        return 0;
}

/* Transactions of ports. */

void model_port_txn_clear(struct model_port_txn *t) {
        for (size_t i = 0; i < t->n_strs; i++)
                free(t->strs[i]);
        free(t->strs);
        free(t->cmps);
        free(t->ops);
        json_decref(t->ports);
        *t = (struct model_port_txn) {};
}

/* Keeps s (owned from now on) with t; returns it. */
static const char *txn_str(struct model_port_txn *t, char *s) {
        t->strs = xrealloc(t->strs, (t->n_strs + 1) * sizeof *t->strs);
        t->strs[t->n_strs++] = s;
        return s;
}

static void txn_cmp(struct model_port_txn *t, char *key, int64_t mod_rev) {
        t->cmps = xrealloc(t->cmps, (t->n_cmps + 1) * sizeof *t->cmps);
        t->cmps[t->n_cmps++] = (struct store_cmp) {
                .key = txn_str(t, key), .target = STORE_CMP_MOD_REV, .op = STORE_CMP_EQUAL, .number = mod_rev
        };
}

/* A put of value (NULL: a delete) at key; both owned from now on. */
static void txn_op(struct model_port_txn *t, char *key, char *value) {
        t->ops = xrealloc(t->ops, (t->n_ops + 1) * sizeof *t->ops);
        t->ops[t->n_ops++] = (struct store_op) {
                .type = value ? STORE_OP_PUT : STORE_OP_DELETE,
                .key = txn_str(t, key),
                .value = value ? txn_str(t, value) : NULL,
        };
}

/* The addresses held on network id, and those t already took there, sorted. */
static int used_addresses(struct store *s, const char *id, struct model_port_txn *t, uint32_t **ret, size_t *ret_n) {
        _cleanup_free_ char *prefix = model_key_ipam_network(id);
        struct store_kvs kvs = {};
        int r = store_range(s, prefix, 0, &kvs, NULL);
        if (r < 0)
                return r;
        uint32_t *used = xcalloc(kvs.n + json_array_size(t->ports) + 1, sizeof *used);
        size_t n = 0, i;
        for (i = 0; i < kvs.n; i++)
                if (model_ipv4_parse(kvs.items[i].key + strlen(prefix), &used[n]) >= 0)
                        n++;
        store_kvs_clear(&kvs);
        json_t *p;
        json_array_foreach(t->ports, i, p)
                if (streq(tide_json_str(p, "network_id", ""), id) &&
                    model_ipv4_parse(tide_json_str(p, "ip", ""), &used[n]) >= 0)
                        n++;
        qsort(used, n, sizeof *used, cmp_u32);
        *ret = used;
        *ret_n = n;
        return 0;
}

/* One port on the network that request names, added to t. */
static int port_prepare(struct store *s, const char *instance_id, json_t *request, struct model_port_txn *t,
                        char **ret_err) {
        const char *ref = tide_json_str(request, "network", "");
        _cleanup_json_ json_t *net = NULL;
        int64_t nrev;
        int r = model_obj_get(s, MODEL_NETWORK, ref, &net, &nrev);
        if (r < 0) {
                *ret_err = xasprintf("network '%.64s': %s", ref, tide_strerror(r));
                return r;
        }
        const char *nid = tide_json_str(net, "id", ""), *name = tide_json_str(net, "name", "");
        if (tide_json_bool(net, "deleting", false)) {
                *ret_err = xasprintf("network '%s' is being deleted", name);
                return TIDE_E_CONFLICT;
        }
        struct model_cidr c;
        uint32_t gw, a;
        if (model_network_addressing(net, &c, &gw) < 0) {
                *ret_err = xasprintf("network '%s': its stored CIDR or gateway is malformed", name);
                return TIDE_E_BACKEND;
        }
        _cleanup_free_ uint32_t *used = NULL;
        size_t n_used;
        if ((r = used_addresses(s, nid, t, &used, &n_used)) < 0) {
                *ret_err = xasprintf("reading the addresses of network '%s': %s", name, tide_strerror(r));
                return r;
        }
        char ip[MODEL_IPV4_STRLEN], mac[MODEL_MAC_STRLEN];
        const char *want = tide_json_str(request, "ip", NULL);
        if (want) {
                _cleanup_free_ char *why = NULL;
                if (model_ipv4_parse(want, &a) < 0) {
                        *ret_err = xasprintf("network '%s': '%.64s' is not an IPv4 address", name, want);
                        return TIDE_E_INVALID;
                }
                if ((r = model_ipam_check(&c, gw, a, want, &why)) < 0) {
                        *ret_err = xasprintf("network '%s': %s", name, why);
                        return r;
                }
                for (size_t i = 0; i < n_used; i++)
                        if (used[i] == a) {
                                *ret_err = xasprintf("network '%s': address %s is taken", name, want);
                                return TIDE_E_EXISTS;
                        }
        } else {
                uint32_t start;
                random_bytes(&start, sizeof start);
                if (model_ipam_pick(&c, gw, used, n_used, start, &a) < 0) {
                        *ret_err = xasprintf("network '%s' (%s) has no free address", name,
                                             tide_json_str(net, "cidr", ""));
                        return TIDE_E_CONFLICT;
                }
        }
        model_ipv4_format(a, ip);
        model_mac_random(mac);
        _cleanup_free_ char *id = id_new_uuid(), *created = time_format_ms(now_ms());
        _cleanup_json_ json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "network_id", nid,
                                               "instance_id", instance_id, "mac", mac, "ip", ip, "created_at", created);
        /* One compare of the network's revision, however many of its ports t makes. */
        bool compared = false;
        _cleanup_free_ char *nkey = model_obj_key(MODEL_NETWORK, nid);
        for (size_t i = 0; i < t->n_cmps && !compared; i++)
                compared = streq(t->cmps[i].key, nkey);
        if (!compared)
                txn_cmp(t, xstrdup(nkey), nrev);
        txn_cmp(t, model_key_ipam(nid, ip), 0);
        txn_cmp(t, model_key_mac(mac), 0);
        txn_op(t, model_key_port(id), tide_json_dump(rec));
        txn_op(t, model_key_ipam(nid, ip), xstrdup(id));
        txn_op(t, model_key_mac(mac), xstrdup(id));
        json_array_append_new(t->ports, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "network", name, "network_id",
                                                  nid, "mac", mac, "ip", ip));
        return 0;
}

int model_ports_prepare(struct store *s, const char *instance_id, json_t *requests, struct model_port_txn *t,
                        char **ret_err) {
        if (!t->ports)
                t->ports = json_array();
        size_t i;
        json_t *req;
        json_array_foreach(requests, i, req) {
                int r = port_prepare(s, instance_id, req, t, ret_err);
                if (r < 0)
                        return r;
        }
        return 0;
}

void model_ports_release(json_t *ports, struct model_port_txn *t) {
        size_t i;
        json_t *p;
        json_array_foreach(ports, i, p) {
                const char *id = tide_json_str(p, "id", NULL);
                if (!id)
                        continue;
                txn_op(t, model_key_port(id), NULL);
                txn_op(t, model_key_ipam(tide_json_str(p, "network_id", ""), tide_json_str(p, "ip", "")), NULL);
                txn_op(t, model_key_mac(tide_json_str(p, "mac", "")), NULL);
        }
}

/* Runs t's compares and operations with the compare of the instance's revision and the put
 * of its record. 0 and *ret_ok. */
static int instance_txn(struct store *s, json_t *inst, int64_t rev, struct model_port_txn *t, bool *ret_ok) {
        const char *id = tide_json_str(inst, "id", "");
        json_object_del(inst, MODEL_LEADER_REV); /* model.h: any other writer's change drops it */
        model_set_now(inst, "updated");
        txn_cmp(t, model_obj_key(MODEL_INSTANCE, id), rev);
        txn_op(t, model_obj_key(MODEL_INSTANCE, id), tide_json_dump(inst));
        struct store_txn txn = { .cmps = t->cmps, .n_cmps = t->n_cmps, .success = t->ops, .n_success = t->n_ops };
        return store_txn(s, &txn, ret_ok, NULL);
}

int model_port_add(struct store *s, const char *instance_ref, json_t *request, json_t **ret, char **ret_err) {
        _cleanup_json_ json_t *one = json_pack("[O]", request);
        int r = model_port_requests_check(one, ret_err);
        if (r < 0)
                return r;
        for (int attempt = 0; attempt < NET_RETRIES; attempt++) {
                _cleanup_json_ json_t *inst = NULL;
                int64_t rev;
                struct model_port_txn t = {};
                bool ok = false;
                if ((r = model_obj_get(s, MODEL_INSTANCE, instance_ref, &inst, &rev)) < 0) {
                        *ret_err = xasprintf("instance '%.64s': %s", instance_ref, tide_strerror(r));
                        return r;
                }
                const char *name = tide_json_str(inst, "name", "");
                json_t *ports = json_object_get(inst, "ports");
                if (model_instance_get_desired(inst) == MODEL_DESIRED_DELETED) {
                        *ret_err = xasprintf("instance '%s' is being deleted", name);
                        return TIDE_E_CONFLICT;
                }
                if (json_array_size(ports) >= MODEL_PORTS_MAX) {
                        *ret_err = xasprintf("instance '%s' has %d ports already (the most it may have)", name,
                                             MODEL_PORTS_MAX);
                        return TIDE_E_CONFLICT;
                }
                r = model_ports_prepare(s, tide_json_str(inst, "id", ""), one, &t, ret_err);
                if (r >= 0) {
                        if (!json_is_array(ports))
                                json_object_set_new(inst, "ports", ports = json_array());
                        json_array_extend(ports, t.ports);
                        r = instance_txn(s, inst, rev, &t, &ok);
                        if (r < 0)
                                *ret_err = xasprintf("storing the port of instance '%s': %s", name, tide_strerror(r));
                }
                if (r >= 0 && ok)
                        *ret = json_incref(json_array_get(t.ports, 0));
                model_port_txn_clear(&t);
                if (r < 0 || ok)
                        return r;
        }
        *ret_err = xasprintf("instance '%.64s' keeps changing; try again", instance_ref);
        return TIDE_E_CONFLICT;
}

int model_port_remove(struct store *s, const char *instance_ref, const char *port_id, char **ret_err) {
        for (int attempt = 0; attempt < NET_RETRIES; attempt++) {
                _cleanup_json_ json_t *inst = NULL, *gone = json_array();
                int64_t rev;
                struct model_port_txn t = {};
                bool ok = false;
                int r = model_obj_get(s, MODEL_INSTANCE, instance_ref, &inst, &rev);
                if (r < 0) {
                        *ret_err = xasprintf("instance '%.64s': %s", instance_ref, tide_strerror(r));
                        return r;
                }
                json_t *ports = json_object_get(inst, "ports");
                size_t i;
                json_t *p;
                json_array_foreach(ports, i, p)
                        if (streq(tide_json_str(p, "id", ""), port_id)) {
                                json_array_append(gone, p);
                                json_array_remove(ports, i);
                                break;
                        }
                if (json_array_size(gone) == 0) {
                        *ret_err = xasprintf("instance '%s' has no port '%.64s'", tide_json_str(inst, "name", ""),
                                             port_id);
                        return TIDE_E_NOT_FOUND;
                }
                model_ports_release(gone, &t);
                r = instance_txn(s, inst, rev, &t, &ok);
                model_port_txn_clear(&t);
                if (r < 0) {
                        *ret_err = xasprintf("removing port '%s': %s", port_id, tide_strerror(r));
                        return r;
                }
                if (ok)
                        return 0;
        }
        *ret_err = xasprintf("instance '%.64s' keeps changing; try again", instance_ref);
        return TIDE_E_CONFLICT;
}
