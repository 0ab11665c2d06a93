/* net_dhcp.c — the dnsmasq of one network on one host, as names, a command line and a hosts
 * file (net_dhcp.h). Pure. */
#include "net/net_dhcp.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"

#define SUFFIX_MAX 11 /* "tdh-" + 11 = 15 */

int net_dhcp_names(const struct net_dhcp_network *n, struct net_dhcp_names *ret) {
        if (!n->bridge || !net_ifname_valid(n->bridge))
                return TIDE_E_INVALID;
        char suffix[SUFFIX_MAX + 1];
        if (n->bridge_owned) {
                if (strncmp(n->bridge, "tbr-", 4) != 0)
                        return TIDE_E_INVALID;
                snprintf(suffix, sizeof suffix, "%s", n->bridge + 4);
                if (strlen(n->bridge + 4) > SUFFIX_MAX)
                        return TIDE_E_INVALID;
        } else {
                if (!n->network_id || strlen(n->network_id) < 8)
                        return TIDE_E_INVALID;
                for (int i = 0; i < 8; i++)
                        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
                                    n->network_id[i]))
                                return TIDE_E_INVALID;
                snprintf(suffix, sizeof suffix, "f%.8s", n->network_id);
        }
        size_t len = strlen(suffix);
        if (len == 0 || len > SUFFIX_MAX)
                return TIDE_E_INVALID;
        snprintf(ret->ns, sizeof ret->ns, NET_DHCP_NS_PREFIX "%s", suffix);
        snprintf(ret->veth_host, sizeof ret->veth_host, "tdv-%s", suffix);
        snprintf(ret->veth_ns, sizeof ret->veth_ns, "tdn-%s", suffix);
        return 0;
}

bool net_dhcp_ns_is_tide(const char *name) {
        return name && strncmp(name, NET_DHCP_NS_PREFIX, strlen(NET_DHCP_NS_PREFIX)) == 0 && net_ifname_valid(name) &&
               strlen(name) > strlen(NET_DHCP_NS_PREFIX);
}

static bool ip4_parse(const char *s, uint32_t *ret) {
        struct in_addr a;
        if (!s || inet_pton(AF_INET, s, &a) != 1)
                return false;
        *ret = ntohl(a.s_addr);
        return true;
}

static void ip4_format(uint32_t a, char buf[NET_ADDR_SIZE]) {
        struct in_addr x = { .s_addr = htonl(a) };
        inet_ntop(AF_INET, &x, buf, NET_ADDR_SIZE);
}

/* cidr "A.B.C.D/P" -> network address and prefix; host bits must be clear. */
static bool cidr_parse(const char *s, uint32_t *net, int *prefix) {
        if (!s)
                return false;
        const char *slash = strchr(s, '/');
        if (!slash || slash == s || (size_t) (slash - s) >= NET_ADDR_SIZE)
                return false;
        char addr[NET_ADDR_SIZE];
        memcpy(addr, s, (size_t) (slash - s));
        addr[slash - s] = '\0';
        char *end = NULL;
        long p = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || p < 8 || p > 30 || !ip4_parse(addr, net))
                return false;
        uint32_t mask = 0xffffffffu << (32 - p);
        if (*net & ~mask)
                return false;
        *prefix = (int) p;
        return true;
}

/* Whether a is a usable host address of net/prefix. */
static bool in_pool(uint32_t a, uint32_t net, int prefix) {
        uint32_t mask = 0xffffffffu << (32 - prefix);
        return (a & mask) == net && a != net && a != (net | ~mask);
}

static int fail(char **err, const char *fmt, const char *what) {
        if (err)
                *err = xasprintf(fmt, what ? what : "(none)");
        return TIDE_E_INVALID;
}

int net_dhcp_network_check(const struct net_dhcp_network *n, char **err) {
        uint32_t net = 0, a = 0, gw = 0, srv = 0;
        int prefix;
        if (!n)
                return fail(err, "no network%s", "");
        if (!cidr_parse(n->cidr, &net, &prefix))
                return fail(err, "cidr %s: an IPv4 network of prefix 8..30 expected", n->cidr);
        if (!ip4_parse(n->server_ip, &srv) || !in_pool(srv, net, prefix))
                return fail(err, "DHCP address %s: a host address of the network expected", n->server_ip);
        if (n->gateway) {
                if (!ip4_parse(n->gateway, &gw) || !in_pool(gw, net, prefix))
                        return fail(err, "gateway %s: a host address of the network expected", n->gateway);
                if (gw == srv)
                        return fail(err, "DHCP address %s is the gateway's", n->server_ip);
        }
        if (n->n_dns > NET_DHCP_DNS_MAX)
                return fail(err, "at most 4 dns servers%s", "");
        for (size_t i = 0; i < n->n_dns; i++)
                if (!ip4_parse(n->dns[i], &a))
                        return fail(err, "dns %s: an IPv4 address expected", n->dns[i]);
        if (n->mtu != 0 && (n->mtu < 68 || n->mtu > 65535))
                return fail(err, "mtu: 68..65535 expected%s", "");
        if (n->lease_seconds != 0 && n->lease_seconds < 120)
                return fail(err, "lease time: at least 120 seconds%s", "");
        struct net_dhcp_names names;
        if (net_dhcp_names(n, &names) < 0)
                return fail(err, "bridge %s: no DHCP names for it (or a flat network's id too short)", n->bridge);
        return 0;
}

int net_dhcp_network_from_json(const struct net_plan_network *pn, const json_t *record, const char *server_ip,
                               struct net_dhcp_network *ret, char **err) {
        *ret = (struct net_dhcp_network) {
                .network_id = pn->network_id,
                .bridge = pn->bridge,
                .bridge_owned = pn->bridge_owned,
                .cidr = json_string_value(json_object_get(record, "cidr")),
                .gateway = json_string_value(json_object_get(record, "gateway")),
                .server_ip = server_ip,
        };
        const json_t *mtu = json_object_get(record, "mtu");
        if (json_is_integer(mtu))
                ret->mtu = json_integer_value(mtu) > 65535 || json_integer_value(mtu) < 0
                                   ? -1
                                   : (int) json_integer_value(mtu);
        else if (mtu && !json_is_null(mtu))
                ret->mtu = -1;
        const json_t *dns = json_object_get(record, "dns");
        size_t i;
        const json_t *d;
        if (dns && !json_is_null(dns) && !json_is_array(dns))
                return fail(err, "dns: an array of addresses expected%s", "");
        json_array_foreach(dns, i, d) {
                if (i >= NET_DHCP_DNS_MAX)
                        return fail(err, "at most 4 dns servers%s", "");
                if (!json_is_string(d))
                        return fail(err, "dns: an array of addresses expected%s", "");
                ret->dns[ret->n_dns++] = json_string_value(d);
        }
        return net_dhcp_network_check(ret, err);
}

static bool mac_ok(const char *s) {
        if (!s || strlen(s) != NET_MAC_SIZE - 1)
                return false;
        for (int i = 0; i < NET_MAC_SIZE - 1; i++) {
                bool colon = i % 3 == 2;
                if (colon ? s[i] != ':' : !strchr("0123456789abcdefABCDEF", s[i]))
                        return false;
        }
        return true;
}

static bool label_ok(const char *s) {
        size_t len = strlen(s);
        if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
                return false;
        for (size_t i = 0; i < len; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", s[i]))
                        return false;
        return true;
}

struct line {
        char mac[NET_MAC_SIZE];
        uint32_t ip;
        const char *name;
};

static int line_cmp(const void *a, const void *b) {
        return strcmp(((const struct line *) a)->mac, ((const struct line *) b)->mac);
}

int net_dhcp_hosts_text(const struct net_dhcp_network *n, const struct net_dhcp_port *ports, size_t n_ports, char **ret,
                        char **err) {
        int r = net_dhcp_network_check(n, err);
        if (r < 0)
                return r;
        uint32_t net = 0, srv = 0, gw = 0;
        int prefix;
        cidr_parse(n->cidr, &net, &prefix);
        ip4_parse(n->server_ip, &srv);
        if (n->gateway)
                ip4_parse(n->gateway, &gw);
        _cleanup_free_ struct line *lines = xcalloc(n_ports ? n_ports : 1, sizeof *lines);
        for (size_t i = 0; i < n_ports; i++) {
                const struct net_dhcp_port *p = &ports[i];
                if (!mac_ok(p->mac))
                        return fail(err, "port MAC %s: xx:xx:xx:xx:xx:xx expected", p->mac);
                for (int k = 0; k < NET_MAC_SIZE; k++)
                        lines[i].mac[k] = (char) (p->mac[k] >= 'A' && p->mac[k] <= 'F' ? p->mac[k] + 32 : p->mac[k]);
                if (!ip4_parse(p->ip, &lines[i].ip) || !in_pool(lines[i].ip, net, prefix) || lines[i].ip == srv ||
                    (n->gateway && lines[i].ip == gw))
                        return fail(err, "port address %s: a free host address of the network expected", p->ip);
                if (p->name && !label_ok(p->name))
                        return fail(err, "port name %s: a DNS label expected", p->name);
                lines[i].name = p->name;
                for (size_t j = 0; j < i; j++) {
                        if (streq(lines[j].mac, lines[i].mac))
                                return fail(err, "port MAC %s given twice", p->mac);
                        if (lines[j].ip == lines[i].ip)
                                return fail(err, "port address %s given twice", p->ip);
                }
        }
        qsort(lines, n_ports, sizeof *lines, line_cmp);
        struct strbuf out = STRBUF_INIT(0);
        for (size_t i = 0; i < n_ports; i++) {
                char ip[NET_ADDR_SIZE];
                ip4_format(lines[i].ip, ip);
                strbuf_printf(&out, "%s,%s%s%s\n", lines[i].mac, ip, lines[i].name ? "," : "",
                              lines[i].name ? lines[i].name : "");
        }
        *ret = strbuf_steal(&out);
        if (!*ret)
                *ret = xstrdup("");
        return 0;
}

char *net_dhcp_path(const struct net_dhcp_paths *paths, const struct net_dhcp_names *names, const char *what) {
        return xasprintf("%s/%s.%s", paths->state_dir, names->ns, what);
}

int net_dhcp_argv(const struct net_dhcp_network *n, const struct net_dhcp_paths *paths, char ***ret, char **err) {
        int r = net_dhcp_network_check(n, err);
        if (r < 0)
                return r;
        if (!paths || !paths->state_dir || paths->state_dir[0] != '/')
                return fail(err, "state directory %s: an absolute path expected", paths ? paths->state_dir : NULL);
        struct net_dhcp_names names;
        net_dhcp_names(n, &names);
        uint32_t net;
        int prefix;
        cidr_parse(n->cidr, &net, &prefix);
        char netaddr[NET_ADDR_SIZE], mask[NET_ADDR_SIZE];
        ip4_format(net, netaddr);
        ip4_format(0xffffffffu << (32 - prefix), mask);

        char **v = xcalloc(32, sizeof *v);
        size_t k = 0;
        v[k++] = xstrdup(paths->dnsmasq ? paths->dnsmasq : "dnsmasq");
        v[k++] = xstrdup("--conf-file=/dev/null");
        v[k++] = xstrdup("--port=0");
        v[k++] = xstrdup("--no-resolv");
        v[k++] = xstrdup("--no-hosts");
        v[k++] = xstrdup("--bind-interfaces");
        v[k++] = xasprintf("--interface=%s", names.veth_ns);
        v[k++] = xstrdup("--except-interface=lo");
        v[k++] = xasprintf("--dhcp-range=%s,static,%s,%d", netaddr, mask,
                           n->lease_seconds ? n->lease_seconds : NET_DHCP_LEASE_DEFAULT);
        v[k++] = xasprintf("--dhcp-hostsfile=%s/%s.hosts", paths->state_dir, names.ns);
        v[k++] = xasprintf("--dhcp-leasefile=%s/%s.leases", paths->state_dir, names.ns);
        v[k++] = xasprintf("--pid-file=%s/%s.pid", paths->state_dir, names.ns);
        v[k++] = xstrdup("--dhcp-authoritative");
        /* An empty router option when the network has no gateway: guests get no default route. */
        v[k++] = n->gateway ? xasprintf("--dhcp-option=option:router,%s", n->gateway)
                            : xstrdup("--dhcp-option=option:router");
        if (n->n_dns > 0) {
                struct strbuf s = STRBUF_INIT(0);
                strbuf_puts(&s, "--dhcp-option=option:dns-server");
                for (size_t i = 0; i < n->n_dns; i++)
                        strbuf_printf(&s, ",%s", n->dns[i]);
                v[k++] = strbuf_steal(&s);
        } else {
                v[k++] = xstrdup("--dhcp-option=option:dns-server"); /* none: not dnsmasq's own address */
        }
        if (n->mtu)
                v[k++] = xasprintf("--dhcp-option=option:mtu,%d", n->mtu);
        v[k++] = xstrdup("--user=root");
        v[k++] = xstrdup("--group=root");
        v[k] = NULL;
        *ret = v;
        return 0;
}
