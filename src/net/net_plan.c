/* net_plan.c — from the store's view to what one host must have (net_plan.h). Pure. */
#include "net/net_plan.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"

static const char *const name_prefixes[] = { "tbr-", "tvx-", "tvl-" };

bool net_name_is_tide(const char *name) {
        for (size_t i = 0; name && i < ELEMENTSOF(name_prefixes); i++)
                if (startswith(name, name_prefixes[i]))
                        return true;
        return false;
}

bool net_ifname_valid(const char *s) {
        if (!s || !*s || strlen(s) >= NET_IFNAME_SIZE || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *c = s; *c; c++)
                if (*c == '/' || *c == ':' || *c <= ' ' || *c == 0x7f)
                        return false;
        return true;
}

/* An IP address in its canonical text, and its bytes for ordering. */
struct addr {
        int family;
        unsigned char bytes[16];
        char text[NET_ADDR_SIZE];
};

static bool addr_parse(const char *s, struct addr *ret) {
        struct addr a = { 0 };
        if (!s)
                return false;
        if (inet_pton(AF_INET, s, a.bytes) == 1)
                a.family = AF_INET;
        else if (inet_pton(AF_INET6, s, a.bytes) == 1)
                a.family = AF_INET6;
        else
                return false;
        if (!inet_ntop(a.family, a.bytes, a.text, sizeof(a.text)))
                return false;
        *ret = a;
        return true;
}

static int addr_cmp(const struct addr *a, const struct addr *b) {
        if (a->family != b->family)
                return a->family < b->family ? -1 : 1;
        return memcmp(a->bytes, b->bytes, sizeof(a->bytes));
}

/* A unicast MAC other than all-zero, in lowercase "xx:xx:xx:xx:xx:xx". */
static bool mac_parse(const char *s, char ret[NET_MAC_SIZE]) {
        unsigned b[6];
        unsigned char o[6];
        int n = 0;
        if (!s || strlen(s) != 17 ||
            sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &n) != 6 || n != 17)
                return false;
        for (size_t i = 0; i < 17; i++)
                if (i % 3 == 2 ? s[i] != ':'
                               : !((s[i] >= '0' && s[i] <= '9') || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')))
                        return false;
        for (size_t i = 0; i < 6; i++)
                o[i] = (unsigned char) b[i];
        if (o[0] & 1)
                return false; /* multicast or broadcast */
        if (!(o[0] | o[1] | o[2] | o[3] | o[4] | o[5]))
                return false;
        snprintf(ret, NET_MAC_SIZE, "%02x:%02x:%02x:%02x:%02x:%02x", o[0], o[1], o[2], o[3], o[4], o[5]);
        return true;
}

/* 16 bits of FNV-1a over s: tells apart the physdevs one VLAN ID may run on. */
static unsigned name_hash16(const char *s) {
        uint32_t h = 2166136261u;
        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= 16777619u;
        }
        return (h ^ (h >> 16)) & 0xffff;
}

/* ---- building ------------------------------------------------------------------------------- */

struct builder {
        const struct net_view *view;
        const char *this_host;
        struct net_plan *plan;
        /* per network of the view (by index): the plan entry it would get, or skipped */
        struct net_plan_network *cand;
        bool *ok;
        struct addr *remote; /* per fdb entry of cand: the destination, for ordering */
};

static void skip(struct net_plan *p, const char *kind, const char *id, const char *fmt, ...) _printf_(4, 5);
static void skip(struct net_plan *p, const char *kind, const char *id, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        p->skipped = xrealloc(p->skipped, (p->n_skipped + 1) * sizeof(*p->skipped));
        p->skipped[p->n_skipped++] = (struct net_plan_skip) {
                .kind = xstrdup(kind),
                .id = xstrdup(id),
                .reason = xvasprintf(fmt, ap),
        };
        va_end(ap);
}

static const struct net_view_host *host_find(const struct net_view *v, const char *name) {
        for (size_t i = 0; i < v->n_hosts; i++)
                if (streq(v->hosts[i].name, name))
                        return &v->hosts[i];
        return NULL;
}

/* Checks one network and names its devices into *c; false (and a skipped record) when the
 * plan cannot use it. */
static bool network_candidate(struct net_plan *p, const struct net_view_network *n, struct net_plan_network *c) {
        *c = (struct net_plan_network) { .type = n->type };
        const char *mistyped = n->mtu == NET_VIEW_NOT_INT    ? "MTU"
                               : n->vni == NET_VIEW_NOT_INT  ? "VNI"
                               : n->vlan == NET_VIEW_NOT_INT ? "VLAN ID"
                                                             : NULL;
        if (mistyped) {
                skip(p, "network", n->id, "%s is not an integer", mistyped);
                return false;
        }
        if (n->mtu != 0 && (n->mtu < 68 || n->mtu > 65535)) {
                skip(p, "network", n->id, "MTU %" PRId64 " is not in 68..65535", n->mtu);
                return false;
        }
        c->mtu = (int) n->mtu;
        switch (n->type) {
        case NET_TYPE_VXLAN:
                if (n->vni < 1 || n->vni > 16777215) {
                        skip(p, "network", n->id, "VNI %" PRId64 " is not in 1..16777215", n->vni);
                        return false;
                }
                c->vni = (uint32_t) n->vni;
                c->bridge_owned = true;
                snprintf(c->bridge, sizeof(c->bridge), "tbr-%" PRIu32, c->vni);
                snprintf(c->uplink, sizeof(c->uplink), "tvx-%" PRIu32, c->vni);
                return true;
        case NET_TYPE_VLAN: {
                if (n->vlan < 1 || n->vlan > 4094) {
                        skip(p, "network", n->id, "VLAN ID %" PRId64 " is not in 1..4094", n->vlan);
                        return false;
                }
                if (!net_ifname_valid(n->physdev) || net_name_is_tide(n->physdev)) {
                        skip(p, "network", n->id, "physdev \"%s\" is not a device name tide may use",
                             n->physdev ? n->physdev : "");
                        return false;
                }
                c->vlan = (uint16_t) n->vlan;
                memcpy(c->physdev, n->physdev, strlen(n->physdev) + 1);
                c->bridge_owned = true;
                unsigned h = name_hash16(n->physdev);
                snprintf(c->bridge, sizeof(c->bridge), "tbr-v%u-%04x", c->vlan, h);
                if (strlen(n->physdev) + 1 + (size_t) snprintf(NULL, 0, "%u", c->vlan) < NET_IFNAME_SIZE)
                        snprintf(c->uplink, sizeof(c->uplink), "%s.%u", n->physdev, c->vlan);
                else
                        snprintf(c->uplink, sizeof(c->uplink), "tvl-%u-%04x", c->vlan, h);
                return true;
        }
        case NET_TYPE_FLAT:
                if (!net_ifname_valid(n->bridge) || net_name_is_tide(n->bridge)) {
                        skip(p, "network", n->id, "bridge \"%s\" is not a device name tide may use",
                             n->bridge ? n->bridge : "");
                        return false;
                }
                memcpy(c->bridge, n->bridge, strlen(n->bridge) + 1);
                c->bridge_owned = false;
                c->mtu = 0; /* the operator's bridge keeps its own */
                return true;
        case NET_TYPE_MAX:
                break;
        }
        skip(p, "network", n->id, "unknown type");
        return false;
}

/* The index of an earlier accepted candidate that claims one of c's devices, or -1. Flat
 * networks may share the operator's bridge; nothing else may share a device. */
static ssize_t network_conflict(const struct builder *b, const size_t *order, size_t upto,
                                const struct net_plan_network *c) {
        for (size_t k = 0; k < upto; k++) {
                size_t j = order[k];
                const struct net_plan_network *o = &b->cand[j];
                if (!b->ok[j])
                        continue;
                bool both_flat = o->type == NET_TYPE_FLAT && c->type == NET_TYPE_FLAT;
                if ((streq(o->bridge, c->bridge) && !both_flat) || (*c->uplink && streq(o->uplink, c->uplink)) ||
                    (*c->uplink && streq(o->bridge, c->uplink)) || (*o->uplink && streq(o->uplink, c->bridge)))
                        return (ssize_t) j;
        }
        return -1;
}

static int cmp_network_index(const void *a, const void *b, void *view) {
        const struct net_view *v = view;
        return strcmp(v->networks[*(const size_t *) a].id, v->networks[*(const size_t *) b].id);
}

static int cmp_port_index(const void *a, const void *b, void *view) {
        const struct net_view *v = view;
        return strcmp(v->ports[*(const size_t *) a].id, v->ports[*(const size_t *) b].id);
}

static ssize_t network_index(const struct net_view *v, const char *id) {
        for (size_t i = 0; id && i < v->n_networks; i++)
                if (streq(v->networks[i].id, id))
                        return (ssize_t) i;
        return -1;
}

struct fdb_sort {
        struct net_fdb e;
        struct addr dst;
        bool flood;
};

static int cmp_fdb(const void *a, const void *b) {
        const struct fdb_sort *x = a, *y = b;
        if (x->flood != y->flood)
                return x->flood ? -1 : 1;
        if (!x->flood) {
                int r = strcmp(x->e.mac, y->e.mac);
                if (r)
                        return r;
        }
        return addr_cmp(&x->dst, &y->dst);
}

static void fdb_add(struct fdb_sort **v, size_t *n, const char *mac, const struct addr *dst) {
        bool flood = streq(mac, NET_MAC_FLOOD);
        for (size_t i = 0; flood && i < *n; i++)
                if ((*v)[i].flood && addr_cmp(&(*v)[i].dst, dst) == 0)
                        return;
        *v = xrealloc(*v, (*n + 1) * sizeof(**v));
        struct fdb_sort *e = &(*v)[(*n)++];
        *e = (struct fdb_sort) { .dst = *dst, .flood = flood };
        memcpy(e->e.mac, mac, NET_MAC_SIZE);
        memcpy(e->e.dst, dst->text, NET_ADDR_SIZE);
}

/* The ports of network ni (in id order): counts this host's, and for vxlan collects the
 * forwarding entries towards the others. */
static void network_ports(struct builder *b, size_t ni, const size_t *port_order, const struct addr *local) {
        const struct net_view *v = b->view;
        struct net_plan_network *c = &b->cand[ni];
        const char *nid = v->networks[ni].id;
        _cleanup_free_ struct fdb_sort *fdb = NULL;
        size_t n_fdb = 0;
        _cleanup_free_ char(*macs)[NET_MAC_SIZE] = NULL;
        size_t n_macs = 0;

        for (size_t k = 0; k < v->n_ports; k++) {
                const struct net_view_port *port = &v->ports[port_order[k]];
                if (!port->network_id || !streq(port->network_id, nid) || !port->host)
                        continue;
                char mac[NET_MAC_SIZE];
                if (!mac_parse(port->mac, mac)) {
                        skip(b->plan, "port", port->id, "MAC \"%s\" is not a unicast MAC", port->mac ? port->mac : "");
                        continue;
                }
                bool dup = false;
                for (size_t i = 0; i < n_macs && !dup; i++)
                        dup = streq(macs[i], mac);
                if (dup) {
                        skip(b->plan, "port", port->id, "MAC %s is another port's on network %s", mac, nid);
                        continue;
                }
                macs = xrealloc(macs, (n_macs + 1) * sizeof(*macs));
                memcpy(macs[n_macs++], mac, NET_MAC_SIZE);
                if (streq(port->host, b->this_host)) {
                        c->n_local_ports++;
                        continue;
                }
                if (c->type != NET_TYPE_VXLAN)
                        continue; /* vlan and flat: the physical network forwards */
                const struct net_view_host *h = host_find(v, port->host);
                struct addr dst;
                if (!h || !addr_parse(h->address, &dst)) {
                        skip(b->plan, "port", port->id, "host %s has no underlay address", port->host);
                        continue;
                }
                if (local && addr_cmp(&dst, local) == 0) {
                        skip(b->plan, "port", port->id, "host %s has this host's underlay address %s", port->host,
                             dst.text);
                        continue;
                }
                if (local && dst.family != local->family) {
                        skip(b->plan, "port", port->id, "host %s's underlay address %s is not of this host's family",
                             port->host, dst.text);
                        continue;
                }
                fdb_add(&fdb, &n_fdb, NET_MAC_FLOOD, &dst);
                fdb_add(&fdb, &n_fdb, mac, &dst);
        }
        if (n_fdb)
                qsort(fdb, n_fdb, sizeof(*fdb), cmp_fdb);
        c->fdb = n_fdb ? xcalloc(n_fdb, sizeof(*c->fdb)) : NULL;
        for (size_t i = 0; i < n_fdb; i++)
                c->fdb[i] = fdb[i].e;
        c->n_fdb = n_fdb;
}

static void network_clear(struct net_plan_network *n) {
        free(n->network_id);
        free(n->fdb);
}

int net_plan_build(const struct net_view *view, const char *this_host, struct net_plan **ret) {
        if (!this_host || !*this_host)
                return TIDE_E_INVALID;
        struct net_plan *p = xcalloc(1, sizeof(*p));
        struct builder b = {
                .view = view,
                .this_host = this_host,
                .plan = p,
                .cand = xcalloc(view->n_networks + 1, sizeof(*b.cand)),
                .ok = xcalloc(view->n_networks + 1, sizeof(bool)),
        };
        _cleanup_free_ size_t *norder = xcalloc(view->n_networks + 1, sizeof(size_t));
        _cleanup_free_ size_t *porder = xcalloc(view->n_ports + 1, sizeof(size_t));
        for (size_t i = 0; i < view->n_networks; i++)
                norder[i] = i;
        for (size_t i = 0; i < view->n_ports; i++)
                porder[i] = i;
        /* qsort_r: plans may be built on several threads at once. */
        qsort_r(norder, view->n_networks, sizeof(size_t), cmp_network_index, (void *) view);
        qsort_r(porder, view->n_ports, sizeof(size_t), cmp_port_index, (void *) view);

        /* This host's underlay address: only vxlan networks need it. */
        const struct net_view_host *me = host_find(view, this_host);
        struct addr local;
        bool have_local = me && addr_parse(me->address, &local);
        for (size_t i = 0; i < view->n_hosts; i++) {
                struct addr a;
                if (view->hosts[i].address && !addr_parse(view->hosts[i].address, &a))
                        skip(p, "host", view->hosts[i].name, "address \"%s\" is not an IP address",
                             view->hosts[i].address);
        }

        for (size_t k = 0; k < view->n_networks; k++) {
                size_t i = norder[k];
                const struct net_view_network *n = &view->networks[i];
                if (k > 0 && streq(view->networks[norder[k - 1]].id, n->id)) {
                        skip(p, "network", n->id, "listed twice");
                        continue;
                }
                if (!network_candidate(p, n, &b.cand[i]))
                        continue;
                ssize_t other = network_conflict(&b, norder, k, &b.cand[i]);
                if (other >= 0) {
                        skip(p, "network", n->id, "its devices %s/%s are network %s's", b.cand[i].bridge,
                             *b.cand[i].uplink ? b.cand[i].uplink : "-", view->networks[other].id);
                        continue;
                }
                b.ok[i] = true;
        }
        for (size_t i = 0; i < view->n_ports; i++) {
                const struct net_view_port *port = &view->ports[i];
                if (port->network_id && network_index(view, port->network_id) < 0)
                        skip(p, "port", port->id, "network %s does not exist", port->network_id);
                else if (!port->network_id)
                        skip(p, "port", port->id, "no network");
        }

        for (size_t k = 0; k < view->n_networks; k++) {
                size_t i = norder[k];
                if (!b.ok[i])
                        continue;
                struct net_plan_network *c = &b.cand[i];
                bool vxlan = c->type == NET_TYPE_VXLAN;
                network_ports(&b, i, porder, vxlan && have_local ? &local : NULL);
                if (!c->n_local_ports) {
                        network_clear(c);
                        continue;
                }
                if (vxlan && !have_local) {
                        skip(p, "network", view->networks[i].id, "this host (%s) has no underlay address", this_host);
                        network_clear(c);
                        continue;
                }
                if (vxlan)
                        memcpy(c->local, local.text, NET_ADDR_SIZE);
                c->network_id = xstrdup(view->networks[i].id);
                p->networks = xrealloc(p->networks, (p->n_networks + 1) * sizeof(*p->networks));
                p->networks[p->n_networks++] = *c;
        }
        free(b.cand);
        free(b.ok);
        *ret = p;
        return 0;
}

void net_plan_free(struct net_plan *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_networks; i++)
                network_clear(&p->networks[i]);
        for (size_t i = 0; i < p->n_skipped; i++) {
                free(p->skipped[i].kind);
                free(p->skipped[i].id);
                free(p->skipped[i].reason);
        }
        free(p->networks);
        free(p->skipped);
        free(p);
}

const struct net_plan_network *net_plan_find(const struct net_plan *p, const char *network_id) {
        for (size_t i = 0; p && network_id && i < p->n_networks; i++)
                if (streq(p->networks[i].network_id, network_id))
                        return &p->networks[i];
        return NULL;
}

char *net_plan_format(const struct net_plan *p) {
        struct strbuf b = STRBUF_INIT(0);
        for (size_t i = 0; i < p->n_networks; i++) {
                const struct net_plan_network *n = &p->networks[i];
                strbuf_printf(&b, "network %s %s ports %zu\n", n->network_id, net_type_to_string(n->type),
                              n->n_local_ports);
                if (n->bridge_owned)
                        strbuf_printf(&b, "  bridge %s mtu %d\n", n->bridge, n->mtu);
                else
                        strbuf_printf(&b, "  bridge %s (the operator's)\n", n->bridge);
                if (n->type == NET_TYPE_VXLAN)
                        strbuf_printf(&b, "  vxlan %s vni %" PRIu32 " local %s port %d learning off mtu %d master %s\n",
                                      n->uplink, n->vni, n->local, NET_VXLAN_PORT, n->mtu, n->bridge);
                else if (n->type == NET_TYPE_VLAN)
                        strbuf_printf(&b, "  vlan %s physdev %s id %u mtu %d master %s\n", n->uplink, n->physdev,
                                      n->vlan, n->mtu, n->bridge);
                for (size_t j = 0; j < n->n_fdb; j++)
                        strbuf_printf(&b, "  fdb %s dst %s dev %s\n", n->fdb[j].mac, n->fdb[j].dst, n->uplink);
        }
        for (size_t i = 0; i < p->n_skipped; i++)
                strbuf_printf(&b, "skip %s %s: %s\n", p->skipped[i].kind, p->skipped[i].id, p->skipped[i].reason);
        return strbuf_steal(&b);
}
