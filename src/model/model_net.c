/* model_net.c — networks: IPv4 and CIDR parsing, validation, the choice of addresses and MACs,
 * the cluster's network settings (model_net.h). Pure: no I/O, no logging. */
#include "model/model_net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_priv.h"

int model_ipv4_parse(const char *s, uint32_t *ret) {
        if (!s)
                return -EINVAL;
        uint32_t a = 0;
        for (int part = 0; part < 4; part++) {
                if (part > 0 && *s++ != '.')
                        return -EINVAL;
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                unsigned v = 0;
                int digits = 0;
                const char *start = s;
                while (*s >= '0' && *s <= '9' && digits < 4) {
                        v = v * 10 + (unsigned) (*s++ - '0');
                        digits++;
                }
                if (v > 255 || digits > 3 || (digits > 1 && *start == '0'))
                        return -EINVAL;
                a = a << 8 | v;
        }
        if (*s)
                return -EINVAL;
        *ret = a;
        return 0;
}

char *model_ipv4_format(uint32_t a, char buf[static MODEL_IPV4_STRLEN]) {
        snprintf(buf, MODEL_IPV4_STRLEN, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
        return buf;
}

static uint32_t prefix_mask(int prefix) {
        return prefix <= 0 ? 0 : UINT32_MAX << (32 - prefix);
}

int model_cidr_parse(const char *s, struct model_cidr *ret, char **ret_err) {
        if (!s || !*s)
                return model_fail(ret_err, "a CIDR is required (A.B.C.D/N)");
        const char *slash = strchr(s, '/');
        if (!slash || strlen(s) > 18)
                return model_fail(ret_err, "malformed CIDR '%.64s': expected A.B.C.D/N", s);
        _cleanup_free_ char *addr = xstrndup(s, (size_t) (slash - s));
        uint32_t a;
        int64_t prefix;
        if (model_ipv4_parse(addr, &a) < 0 || parse_int64(slash + 1, 0, 32, &prefix) < 0 || slash[1] == '+' ||
            slash[1] == '-' || (slash[1] == '0' && slash[2]))
                return model_fail(ret_err, "malformed CIDR '%.64s': expected A.B.C.D/N", s);
        if (prefix < MODEL_NET_PREFIX_MIN || prefix > MODEL_NET_PREFIX_MAX)
                return model_fail(ret_err, "CIDR '%s': the prefix length must be %d to %d", s, MODEL_NET_PREFIX_MIN,
                                  MODEL_NET_PREFIX_MAX);
        uint32_t mask = prefix_mask((int) prefix);
        if (a & ~mask) {
                char buf[MODEL_IPV4_STRLEN];
                return model_fail(ret_err, "CIDR '%s' has host bits set (the network is %s/%d)", s,
                                  model_ipv4_format(a & mask, buf), (int) prefix);
        }
        *ret = (struct model_cidr) { .net = a, .prefix = (int) prefix };
        return 0;
}

uint32_t model_cidr_broadcast(const struct model_cidr *c) {
        return c->net | ~prefix_mask(c->prefix);
}

bool model_cidr_contains(const struct model_cidr *c, uint32_t a) {
        return (a & prefix_mask(c->prefix)) == c->net;
}

bool model_ifname_valid(const char *s) {
        if (!s || !*s || strlen(s) > MODEL_IFNAME_MAX || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
                      *p == '_' || *p == '-'))
                        return false;
        return true;
}

int model_ipam_check(const struct model_cidr *c, uint32_t gw, uint32_t a, const char *ip_text, char **ret_err) {
        char buf[MODEL_IPV4_STRLEN];
        if (!model_cidr_contains(c, a))
                return model_fail(ret_err, "address %s is outside the network's %s/%d", ip_text,
                                  model_ipv4_format(c->net, buf), c->prefix);
        if (a == c->net)
                return model_fail(ret_err, "address %s is the network's own address", ip_text);
        if (a == model_cidr_broadcast(c))
                return model_fail(ret_err, "address %s is the network's broadcast address", ip_text);
        if (gw && a == gw)
                return model_fail(ret_err, "address %s is the network's gateway", ip_text);
        return 0;
}

uint64_t model_ipam_usable(const struct model_cidr *c, uint32_t gw) {
        uint64_t size = (uint64_t) 1 << (32 - c->prefix);
        return size - 2 - (gw && model_cidr_contains(c, gw) && gw != c->net && gw != model_cidr_broadcast(c) ? 1 : 0);
}

static bool used_has(const uint32_t *used, size_t n, uint32_t a) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (used[mid] == a)
                        return true;
                if (used[mid] < a)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

int model_ipam_pick(const struct model_cidr *c, uint32_t gw, const uint32_t *used, size_t n_used, uint32_t start,
                    uint32_t *ret) {
        uint64_t size = (uint64_t) 1 << (32 - c->prefix);
        uint32_t off = (uint32_t) (start % size);
        /* Walks at most the whole range once; a range with free addresses has one within
         * n_used + 3 steps of any start, so the walk is short but for a nearly full network. */
        for (uint64_t i = 0; i < size; i++) {
                uint32_t a = c->net + (uint32_t) ((off + i) % size);
                if (a == c->net || a == model_cidr_broadcast(c) || (gw && a == gw) || used_has(used, n_used, a))
                        continue;
                *ret = a;
                return 0;
        }
        return TIDE_E_CONFLICT;
}

void model_mac_random(char buf[static MODEL_MAC_STRLEN]) {
        uint8_t b[5];
        random_bytes(b, sizeof b);
        snprintf(buf, MODEL_MAC_STRLEN, "02:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4]);
}

bool model_mac_valid(const char *s) {
        if (!s || strlen(s) != 17)
                return false;
        for (int i = 0; i < 17; i++) {
                char ch = s[i];
                if (i % 3 == 2 ? ch != ':' : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
                        return false;
        }
        unsigned first = (unsigned) strtoul((char[]) { s[0], s[1], 0 }, NULL, 16);
        return (first & 0x02) && !(first & 0x01);
}

/* Settings. */

void model_net_config_default(struct model_net_config *ret) {
        *ret = (struct model_net_config) {
                .vni_min = MODEL_VNI_DEFAULT_MIN,
                .vni_max = MODEL_VNI_DEFAULT_MAX,
                .vlan_min = MODEL_VLAN_DEFAULT_MIN,
                .vlan_max = MODEL_VLAN_DEFAULT_MAX,
                .underlay_mtu = MODEL_UNDERLAY_MTU_DEFAULT,
        };
}

int model_net_config_from_json(json_t *o, struct model_net_config *ret, char **ret_err) {
        struct model_net_config c;
        model_net_config_default(&c);
        int r;
        if (o && !json_is_object(o))
                return model_fail(ret_err, "network settings must be a JSON object");
        if ((r = model_get_int(o, "vni_min", MODEL_VNI_MIN, MODEL_VNI_MAX, c.vni_min, ret_err, &c.vni_min)) < 0 ||
            (r = model_get_int(o, "vni_max", MODEL_VNI_MIN, MODEL_VNI_MAX, c.vni_max, ret_err, &c.vni_max)) < 0 ||
            (r = model_get_int(o, "vlan_min", MODEL_VLAN_MIN, MODEL_VLAN_MAX, c.vlan_min, ret_err, &c.vlan_min)) < 0 ||
            (r = model_get_int(o, "vlan_max", MODEL_VLAN_MIN, MODEL_VLAN_MAX, c.vlan_max, ret_err, &c.vlan_max)) < 0 ||
            (r = model_get_int(o, "underlay_mtu", MODEL_UNDERLAY_MTU_MIN, MODEL_UNDERLAY_MTU_MAX, c.underlay_mtu,
                               ret_err, &c.underlay_mtu)) < 0)
                return r;
        if (c.vni_min > c.vni_max)
                return model_fail(ret_err, "vni_min (%lld) is above vni_max (%lld)", (long long) c.vni_min,
                                  (long long) c.vni_max);
        if (c.vlan_min > c.vlan_max)
                return model_fail(ret_err, "vlan_min (%lld) is above vlan_max (%lld)", (long long) c.vlan_min,
                                  (long long) c.vlan_max);
        *ret = c;
        return 0;
}

json_t *model_net_config_to_json(const struct model_net_config *c) {
        return json_pack("{s:I, s:I, s:I, s:I, s:I}", "vni_min", (json_int_t) c->vni_min, "vni_max",
                         (json_int_t) c->vni_max, "vlan_min", (json_int_t) c->vlan_min, "vlan_max",
                         (json_int_t) c->vlan_max, "underlay_mtu", (json_int_t) c->underlay_mtu);
}

int model_net_config_merge(json_t *current, json_t *body, json_t **ret, char **ret_err) {
        static const char *const allowed[] = { "vni_min", "vni_max", "vlan_min", "vlan_max", "underlay_mtu", NULL };
        int r = model_check_members(body, allowed, ret_err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *merged = json_is_object(current) ? json_deep_copy(current) : json_object();
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
                if (json_is_null(v))
                        json_object_del(merged, key);
                else
                        json_object_set(merged, key, v);
        }
        struct model_net_config c;
        if ((r = model_net_config_from_json(merged, &c, ret_err)) < 0)
                return r;
        *ret = TAKE_PTR(merged);
        return 0;
}

/* Networks. */

/* An IPv4 address member: 0 with *ret set; TIDE_E_INVALID when it is not a dotted quad. */
static int get_ip(json_t *v, const char *what, uint32_t *ret, char **ret_err) {
        if (!json_is_string(v) || model_ipv4_parse(json_string_value(v), ret) < 0)
                return model_fail(ret_err, "%s must be an IPv4 address (A.B.C.D)%s%.64s%s", what,
                                  json_is_string(v) ? ", not '" : "", json_is_string(v) ? json_string_value(v) : "",
                                  json_is_string(v) ? "'" : "");
        return 0;
}

/* The members of a network's type: vni of vxlan, vlan and physdev of vlan, bridge of flat. */
static int type_members(json_t *body, const char *type, const struct model_net_config *cfg, json_t *net,
                        char **ret_err) {
        /* The members that belong to each type, in the order of types[]. */
        static const char *const types[] = { "vxlan", "vlan", "flat" };
        static const char *const own[] = { "vni ", "vlan physdev ", "bridge " };
        static const char *const members[] = { "vni", "vlan", "physdev", "bridge" };
        int t = streq(type, "vxlan") ? 0 : streq(type, "vlan") ? 1 : 2;
        for (size_t i = 0; i < ELEMENTSOF(members); i++) {
                _cleanup_free_ char *word = xasprintf("%s ", members[i]);
                if (json_object_get(body, members[i]) && !strstr(own[t], word))
                        return model_fail(ret_err, "'%s' does not apply to a %s network", members[i], types[t]);
        }
        int64_t n;
        int r;
        if (t == 0) {
                if (json_object_get(body, "vni")) {
                        if ((r = model_get_int(body, "vni", MODEL_VNI_MIN, MODEL_VNI_MAX, MODEL_VNI_MIN, ret_err, &n)) <
                            0)
                                return r;
                        json_object_set_new(net, "vni", json_integer(n));
                }
                json_object_set_new(net, "mtu", json_integer(cfg->underlay_mtu - MODEL_VXLAN_OVERHEAD));
                return 0;
        }
        if (t == 1) {
                const char *dev = tide_json_str(body, "physdev", NULL);
                if (!dev)
                        return model_fail(ret_err, "a vlan network needs 'physdev' (the physical interface)");
                if (!model_ifname_valid(dev))
                        return model_fail(ret_err,
                                          "physdev '%.64s' is not an interface name (1-%d characters of A-Z a-z "
                                          "0-9 . _ -)",
                                          dev, MODEL_IFNAME_MAX);
                if (json_object_get(body, "vlan")) {
                        if ((r = model_get_int(body, "vlan", MODEL_VLAN_MIN, MODEL_VLAN_MAX, MODEL_VLAN_MIN, ret_err,
                                               &n)) < 0)
                                return r;
                        json_object_set_new(net, "vlan", json_integer(n));
                }
                json_object_set_new(net, "physdev", json_string(dev));
                json_object_set_new(net, "mtu", json_integer(cfg->underlay_mtu));
                return 0;
        }
        const char *br = tide_json_str(body, "bridge", NULL);
        if (!br)
                return model_fail(ret_err, "a flat network needs 'bridge' (the host bridge it joins)");
        if (!model_ifname_valid(br))
                return model_fail(ret_err,
                                  "bridge '%.64s' is not an interface name (1-%d characters of A-Z a-z 0-9 . _ -)", br,
                                  MODEL_IFNAME_MAX);
        json_object_set_new(net, "bridge", json_string(br));
        json_object_set_new(net, "mtu", json_integer(cfg->underlay_mtu));
        return 0;
}

int model_network_from_request(json_t *body, const struct model_net_config *cfg, json_t **ret, char **ret_err) {
        static const char *const allowed[] = { "name", "type", "cidr",    "gateway", "dns",
                                               "vni",  "vlan", "physdev", "bridge",  NULL };
        const char *name;
        int r;
        if ((r = model_check_members(body, allowed, ret_err)) < 0 ||
            (r = model_get_name(body, "network", ret_err, &name)) < 0)
                return r;
        const char *type = tide_json_str(body, "type", NULL);
        if (!type)
                return model_fail(ret_err, "'type' is required: vxlan, vlan or flat");
        if (!streq(type, "vxlan") && !streq(type, "vlan") && !streq(type, "flat"))
                return model_fail(ret_err, "unknown network type '%.64s': vxlan, vlan or flat", type);
        struct model_cidr c;
        if ((r = model_cidr_parse(tide_json_str(body, "cidr", NULL), &c, ret_err)) < 0)
                return r;
        char buf[MODEL_IPV4_STRLEN];
        _cleanup_free_ char *cidr = xasprintf("%s/%d", model_ipv4_format(c.net, buf), c.prefix);
        _cleanup_json_ json_t *net = json_pack("{s:s, s:s, s:s}", "name", name, "type", type, "cidr", cidr);

        json_t *gw = json_object_get(body, "gateway");
        uint32_t g = c.net + 1;
        if (json_is_null(gw))
                json_object_set_new(net, "gateway", json_null());
        else {
                if (gw && (r = get_ip(gw, "'gateway'", &g, ret_err)) < 0)
                        return r;
                if (!model_cidr_contains(&c, g))
                        return model_fail(ret_err, "gateway %s is outside %s", model_ipv4_format(g, buf), cidr);
                if (g == c.net || g == model_cidr_broadcast(&c))
                        return model_fail(ret_err, "gateway %s is the %s address of %s", model_ipv4_format(g, buf),
                                          g == c.net ? "network" : "broadcast", cidr);
                json_object_set_new(net, "gateway", json_string(model_ipv4_format(g, buf)));
        }

        json_t *dns = json_object_get(body, "dns");
        if (dns && !json_is_null(dns) && !json_is_array(dns))
                return model_fail(ret_err, "'dns' must be an array of IPv4 addresses");
        if (json_array_size(dns) > MODEL_NET_DNS_MAX)
                return model_fail(ret_err, "at most %d DNS servers", MODEL_NET_DNS_MAX);
        json_t *dl = json_array();
        json_object_set_new(net, "dns", dl);
        size_t i;
        json_t *d;
        json_array_foreach(dns, i, d) {
                uint32_t a;
                if ((r = get_ip(d, "a DNS server", &a, ret_err)) < 0)
                        return r;
                json_array_append_new(dl, json_string(model_ipv4_format(a, buf)));
        }
        if ((r = type_members(body, type, cfg, net, ret_err)) < 0)
                return r;
        *ret = TAKE_PTR(net);
        return 0;
}

int model_network_addressing(json_t *net, struct model_cidr *ret_cidr, uint32_t *ret_gw) {
        _cleanup_free_ char *err = NULL;
        struct model_cidr c;
        uint32_t gw = 0;
        if (model_cidr_parse(tide_json_str(net, "cidr", NULL), &c, &err) < 0)
                return TIDE_E_INVALID;
        json_t *g = json_object_get(net, "gateway");
        if (json_is_string(g) && model_ipv4_parse(json_string_value(g), &gw) < 0)
                return TIDE_E_INVALID;
        *ret_cidr = c;
        *ret_gw = gw;
        return 0;
}

int model_port_requests_check(json_t *networks, char **ret_err) {
        if (!networks || json_is_null(networks))
                return 0;
        if (!json_is_array(networks))
                return model_fail(ret_err, "'networks' must be an array of {\"network\": NAME, \"ip\": A.B.C.D}");
        if (json_array_size(networks) > MODEL_PORTS_MAX)
                return model_fail(ret_err, "at most %d networks per instance", MODEL_PORTS_MAX);
        size_t i;
        json_t *n;
        json_array_foreach(networks, i, n) {
                static const char *const allowed[] = { "network", "ip", NULL };
                int r = model_check_members(n, allowed, ret_err);
                if (r < 0)
                        return r;
                const char *ref = tide_json_str(n, "network", NULL);
                if (!ref || (!model_name_valid(ref) && !model_id_valid(ref)))
                        return model_fail(ret_err, "network %zu: 'network' must be a network name or id", i + 1);
                uint32_t a;
                json_t *ip = json_object_get(n, "ip");
                if (ip && !json_is_null(ip) && (!json_is_string(ip) || model_ipv4_parse(json_string_value(ip), &a) < 0))
                        return model_fail(ret_err, "network '%s': 'ip' must be an IPv4 address (A.B.C.D)", ref);
        }
        return 0;
}
