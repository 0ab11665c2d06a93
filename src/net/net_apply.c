/* net_apply.c — a host's bridges, vxlan and vlan devices and vxlan forwarding entries made to
 * match a plan through netlink (net_apply.h). The only file of tide that speaks rtnetlink. */
#include "net/net_apply.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <net/if.h>
#include <stdio.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vlan.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"

#define ALIAS_PREFIX "tide network "

struct net_host {
        struct nl_sock *sk;
};

int net_host_new(struct net_host **ret) {
        struct nl_sock *sk = nl_socket_alloc();
        if (!sk)
                return -ENOMEM;
        int r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0) {
                nl_socket_free(sk);
                return r == -NLE_PERM || r == -NLE_NOACCESS ? -EPERM : -EIO;
        }
        struct net_host *h = xmalloc(sizeof(*h));
        h->sk = sk;
        *ret = h;
        return 0;
}

void net_host_free(struct net_host *h) {
        if (!h)
                return;
        nl_socket_free(h->sk);
        free(h);
}

void net_apply_result_clear(struct net_apply_result *r) {
        free(r->actions);
        free(r->errors);
        *r = (struct net_apply_result) { 0 };
}

/* ---- what exists ---------------------------------------------------------------------------- */

struct link_seen {
        char name[NET_IFNAME_SIZE];
        char kind[16]; /* "" for a device without a kind (physical, loopback) */
        char alias[64];
        int ifindex;
        int master;
        int parent; /* vlan: the physdev's ifindex */
        unsigned mtu;
        bool up;
        bool deleted;
        /* vxlan */
        uint32_t vni;
        char local[NET_ADDR_SIZE];
        uint32_t port;
        int learning;
        /* vlan */
        int vlan;
};

struct fdb_seen {
        int ifindex;
        char mac[NET_MAC_SIZE];
        char dst[NET_ADDR_SIZE];
};

struct apply {
        struct net_host *h;
        unsigned flags;
        struct link_seen *links;
        size_t n_links;
        struct fdb_seen *fdb;
        size_t n_fdb;
        struct net_apply_result *res;
        struct strbuf actions;
        struct strbuf errors;
        int first_error;
};

static bool dry(const struct apply *a) {
        return a->flags & NET_APPLY_DRY_RUN;
}

static void action(struct apply *a, const char *fmt, ...) _printf_(2, 3);
static void action(struct apply *a, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *s = xvasprintf(fmt, ap);
        va_end(ap);
        strbuf_printf(&a->actions, "%s\n", s);
}

/* A libnl error as a tide one. */
static int nl_to_error(int nlerr) {
        switch (nlerr < 0 ? -nlerr : nlerr) {
        case NLE_EXIST:
                return -EEXIST;
        case NLE_OBJ_NOTFOUND:
        case NLE_NODEV:
                return -ENODEV;
        case NLE_PERM:
        case NLE_NOACCESS:
                return -EPERM;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_INVAL:
        case NLE_RANGE:
                return -EINVAL;
        case NLE_OPNOTSUPP:
                return -EOPNOTSUPP;
        default:
                return TIDE_E_BACKEND;
        }
}

/* Records a failure (one line of result->errors) and returns r. */
static int failed(struct apply *a, int r, const char *fmt, ...) _printf_(3, 4);
static int failed(struct apply *a, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *s = xvasprintf(fmt, ap);
        va_end(ap);
        strbuf_printf(&a->errors, "%s\n", s);
        if (!a->first_error)
                a->first_error = r;
        return r;
}

static void addr_text(struct nl_addr *addr, char ret[NET_ADDR_SIZE]) {
        ret[0] = '\0';
        if (!addr)
                return;
        unsigned len = nl_addr_get_len(addr);
        int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
        if (!family || !inet_ntop(family, nl_addr_get_binary_addr(addr), ret, NET_ADDR_SIZE))
                ret[0] = '\0';
}

static void mac_text(struct nl_addr *addr, char ret[NET_MAC_SIZE]) {
        ret[0] = '\0';
        if (!addr || nl_addr_get_len(addr) != 6)
                return;
        const unsigned char *b = nl_addr_get_binary_addr(addr);
        snprintf(ret, NET_MAC_SIZE, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

static void copy_name(char *dst, size_t size, const char *src) {
        size_t n = src ? strnlen(src, size - 1) : 0;
        memcpy(dst, src ? src : "", n);
        dst[n] = '\0';
}

static void link_fill(struct link_seen *s, struct rtnl_link *l) {
        *s = (struct link_seen) {
                .ifindex = rtnl_link_get_ifindex(l),
                .master = rtnl_link_get_master(l),
                .parent = rtnl_link_get_link(l),
                .mtu = rtnl_link_get_mtu(l),
                .up = rtnl_link_get_flags(l) & IFF_UP,
                .learning = -1,
                .vlan = -1,
        };
        copy_name(s->name, sizeof(s->name), rtnl_link_get_name(l));
        copy_name(s->kind, sizeof(s->kind), rtnl_link_get_type(l));
        copy_name(s->alias, sizeof(s->alias), rtnl_link_get_ifalias(l));
        if (rtnl_link_is_vxlan(l)) {
                struct nl_addr *local = NULL;
                rtnl_link_vxlan_get_id(l, &s->vni);
                rtnl_link_vxlan_get_port(l, &s->port);
                s->learning = rtnl_link_vxlan_get_learning(l);
                if (rtnl_link_vxlan_get_local(l, &local) >= 0) {
                        addr_text(local, s->local);
                        nl_addr_put(local);
                }
        } else if (rtnl_link_is_vlan(l)) {
                s->vlan = rtnl_link_vlan_get_id(l);
        }
}

static int read_links(struct apply *a) {
        struct nl_cache *cache = NULL;
        int r = rtnl_link_alloc_cache(a->h->sk, AF_UNSPEC, &cache);
        if (r < 0)
                return failed(a, nl_to_error(r), "reading links: %s", nl_geterror(r));
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                a->links = xrealloc(a->links, (a->n_links + 1) * sizeof(*a->links));
                link_fill(&a->links[a->n_links++], (struct rtnl_link *) o);
        }
        nl_cache_free(cache);
        return 0;
}

static struct link_seen *link_find(struct apply *a, const char *name) {
        for (size_t i = 0; i < a->n_links; i++)
                if (!a->links[i].deleted && streq(a->links[i].name, name))
                        return &a->links[i];
        return NULL;
}

static bool link_is_tides(const struct link_seen *l) {
        if (!streq(l->kind, "bridge") && !streq(l->kind, "vxlan") && !streq(l->kind, "vlan"))
                return false;
        return net_name_is_tide(l->name) || startswith(l->alias, ALIAS_PREFIX);
}

static int fdb_parse(struct nl_msg *msg, void *userdata) {
        struct apply *a = userdata;
        struct rtnl_neigh *n = NULL;
        if (rtnl_neigh_parse(nlmsg_hdr(msg), &n) < 0)
                return NL_SKIP;
        struct fdb_seen e = { .ifindex = rtnl_neigh_get_ifindex(n) };
        mac_text(rtnl_neigh_get_lladdr(n), e.mac);
        addr_text(rtnl_neigh_get_dst(n), e.dst);
        /* Only a vxlan device's own entries have a destination; the bridge's have none. */
        if (rtnl_neigh_get_family(n) == AF_BRIDGE && *e.mac && *e.dst) {
                a->fdb = xrealloc(a->fdb, (a->n_fdb + 1) * sizeof(*a->fdb));
                a->fdb[a->n_fdb++] = e;
        }
        rtnl_neigh_put(n);
        return NL_OK;
}

/* The forwarding entries of every device (rtnetlink's bridge FDB dump), one per remote: a
 * cache would fold the remotes of one MAC into one object. */
static int read_fdb(struct apply *a) {
        struct ndmsg ndm = { .ndm_family = AF_BRIDGE };
        int r = nl_send_simple(a->h->sk, RTM_GETNEIGH, NLM_F_DUMP, &ndm, sizeof(ndm));
        if (r < 0)
                return failed(a, nl_to_error(r), "reading forwarding entries: %s", nl_geterror(r));
        struct nl_cb *base = nl_socket_get_cb(a->h->sk);
        struct nl_cb *cb = nl_cb_clone(base);
        nl_cb_put(base);
        if (!cb)
                return failed(a, -ENOMEM, "reading forwarding entries: out of memory");
        nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, fdb_parse, a);
        r = nl_recvmsgs(a->h->sk, cb);
        nl_cb_put(cb);
        if (r < 0)
                return failed(a, nl_to_error(r), "reading forwarding entries: %s", nl_geterror(r));
        return 0;
}

/* ---- links ---------------------------------------------------------------------------------- */

/* Reads one link back after creating it, into the table. */
static struct link_seen *link_reread(struct apply *a, const char *name) {
        struct rtnl_link *l = NULL;
        int r = rtnl_link_get_kernel(a->h->sk, 0, name, &l);
        if (r < 0) {
                failed(a, nl_to_error(r), "%s: reading it back: %s", name, nl_geterror(r));
                return NULL;
        }
        a->links = xrealloc(a->links, (a->n_links + 1) * sizeof(*a->links));
        struct link_seen *s = &a->links[a->n_links++];
        link_fill(s, l);
        rtnl_link_put(l);
        return s;
}

static int link_delete(struct apply *a, struct link_seen *l, const char *why) {
        action(a, "delete %s %s (%s)", l->kind, l->name, why);
        if (!dry(a)) {
                struct rtnl_link *req = rtnl_link_alloc();
                rtnl_link_set_ifindex(req, l->ifindex);
                int r = rtnl_link_delete(a->h->sk, req);
                rtnl_link_put(req);
                if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NODEV)
                        return failed(a, nl_to_error(r), "deleting %s: %s", l->name, nl_geterror(r));
        }
        l->deleted = true;
        a->res->links_deleted++;
        return 0;
}

/* Creates req (its name, kind and settings set), up; *ret the new device (NULL in a dry run). */
static int link_create(struct apply *a, struct rtnl_link *req, const char *what, struct link_seen **ret) {
        const char *name = rtnl_link_get_name(req);
        action(a, "create %s", what);
        a->res->links_created++;
        *ret = NULL;
        if (dry(a))
                return 0;
        rtnl_link_set_flags(req, IFF_UP);
        int r = rtnl_link_add(a->h->sk, req, NLM_F_CREATE | NLM_F_EXCL);
        if (r < 0)
                return failed(a, nl_to_error(r), "creating %s: %s", name, nl_geterror(r));
        *ret = link_reread(a, name);
        return *ret ? 0 : a->first_error;
}

/* Sets what differs of MTU (mtu > 0), master (master > 0), up, and alias (non-NULL). */
static int link_settle(struct apply *a, struct link_seen *l, int mtu, int master, const char *alias) {
        if (!l)
                return 0; /* a dry run's new device */
        struct strbuf what = STRBUF_INIT(0);
        struct rtnl_link *req = rtnl_link_alloc();
        if (mtu > 0 && l->mtu != (unsigned) mtu) {
                rtnl_link_set_mtu(req, (unsigned) mtu);
                strbuf_printf(&what, " mtu %u->%d", l->mtu, mtu);
        }
        if (master > 0 && l->master != master) {
                rtnl_link_set_master(req, master);
                strbuf_printf(&what, " master %d->%d", l->master, master);
        }
        if (!l->up) {
                rtnl_link_set_flags(req, IFF_UP);
                strbuf_puts(&what, " up");
        }
        if (alias && !streq(l->alias, alias)) {
                rtnl_link_set_ifalias(req, alias);
                strbuf_printf(&what, " alias \"%s\"", alias);
        }
        int r = 0;
        if (what.len) {
                action(a, "change %s%s", l->name, strbuf_str(&what));
                a->res->links_changed++;
                if (!dry(a)) {
                        struct rtnl_link *orig = rtnl_link_alloc();
                        rtnl_link_set_ifindex(orig, l->ifindex);
                        rtnl_link_set_name(orig, l->name);
                        r = rtnl_link_change(a->h->sk, orig, req, 0);
                        rtnl_link_put(orig);
                        if (r < 0)
                                r = failed(a, nl_to_error(r), "changing %s (%s): %s", l->name, strbuf_str(&what) + 1,
                                           nl_geterror(r));
                }
                if (r >= 0) {
                        if (mtu > 0)
                                l->mtu = (unsigned) mtu;
                        if (master > 0)
                                l->master = master;
                        l->up = true;
                        if (alias)
                                copy_name(l->alias, sizeof(l->alias), alias);
                }
        }
        rtnl_link_put(req);
        strbuf_clear(&what);
        return r;
}

static int ensure_bridge(struct apply *a, const struct net_plan_network *n, struct link_seen **ret) {
        struct link_seen *l = link_find(a, n->bridge);
        *ret = NULL;
        if (!n->bridge_owned) {
                if (!l || !streq(l->kind, "bridge"))
                        return failed(a, TIDE_E_NOT_FOUND,
                                      "network %s: the bridge %s does not exist (flat networks use the operator's)",
                                      n->network_id, n->bridge);
                *ret = l;
                return 0;
        }
        if (l && !streq(l->kind, "bridge")) {
                if (!link_is_tides(l))
                        return failed(a, TIDE_E_CONFLICT, "network %s: %s is a device of kind \"%s\", not tide's",
                                      n->network_id, n->bridge, l->kind);
                int r = link_delete(a, l, "not a bridge");
                if (r < 0)
                        return r;
                l = NULL;
        }
        if (!l) {
                struct rtnl_link *req = rtnl_link_alloc();
                rtnl_link_set_name(req, n->bridge);
                rtnl_link_set_type(req, "bridge");
                if (n->mtu > 0)
                        rtnl_link_set_mtu(req, (unsigned) n->mtu);
                _cleanup_free_ char *what = xasprintf("bridge %s mtu %d", n->bridge, n->mtu);
                int r = link_create(a, req, what, &l);
                rtnl_link_put(req);
                if (r < 0)
                        return r;
                *ret = l;
                return 0;
        }
        *ret = l;
        return link_settle(a, l, n->mtu, 0, NULL);
}

static bool vxlan_matches(const struct link_seen *l, const struct net_plan_network *n) {
        return streq(l->kind, "vxlan") && l->vni == n->vni && streq(l->local, n->local) && l->port == NET_VXLAN_PORT &&
               l->learning == 0;
}

static bool vlan_matches(const struct link_seen *l, const struct net_plan_network *n, int parent) {
        return streq(l->kind, "vlan") && l->vlan == n->vlan && l->parent == parent;
}

static struct rtnl_link *vxlan_request(const struct net_plan_network *n) {
        struct rtnl_link *req = rtnl_link_vxlan_alloc();
        struct nl_addr *local = NULL;
        rtnl_link_set_name(req, n->uplink);
        rtnl_link_vxlan_set_id(req, n->vni);
        if (nl_addr_parse(n->local, AF_UNSPEC, &local) >= 0) {
                rtnl_link_vxlan_set_local(req, local);
                nl_addr_put(local);
        }
        rtnl_link_vxlan_set_port(req, NET_VXLAN_PORT);
        rtnl_link_vxlan_set_learning(req, 0);
        return req;
}

static int ensure_uplink(struct apply *a, const struct net_plan_network *n, const struct link_seen *bridge,
                         struct link_seen **ret) {
        *ret = NULL;
        if (!*n->uplink)
                return 0;
        int parent = 0;
        if (n->type == NET_TYPE_VLAN) {
                struct link_seen *p = link_find(a, n->physdev);
                if (!p)
                        return failed(a, TIDE_E_NOT_FOUND, "network %s: the physdev %s does not exist", n->network_id,
                                      n->physdev);
                parent = p->ifindex;
        }
        struct link_seen *l = link_find(a, n->uplink);
        bool matches = l && (n->type == NET_TYPE_VXLAN ? vxlan_matches(l, n) : vlan_matches(l, n, parent));
        if (l && !matches) {
                if (!link_is_tides(l))
                        return failed(a, TIDE_E_CONFLICT, "network %s: %s exists and is not tide's (kind \"%s\")",
                                      n->network_id, n->uplink, l->kind);
                int r = link_delete(a, l, "other parameters");
                if (r < 0)
                        return r;
                l = NULL;
        }
        int master = bridge ? bridge->ifindex : 0;
        _cleanup_free_ char *alias = xasprintf(ALIAS_PREFIX "%s", n->network_id);
        /* Only a vlan subinterface needs the mark: its name is not one of tide's. */
        const char *mark = net_name_is_tide(n->uplink) ? NULL : alias;
        if (!l) {
                struct rtnl_link *req;
                _cleanup_free_ char *what = NULL;
                if (n->type == NET_TYPE_VXLAN) {
                        req = vxlan_request(n);
                        what = xasprintf("vxlan %s vni %" PRIu32 " local %s port %d learning off mtu %d master %s",
                                         n->uplink, n->vni, n->local, NET_VXLAN_PORT, n->mtu, n->bridge);
                } else {
                        req = rtnl_link_vlan_alloc();
                        rtnl_link_set_name(req, n->uplink);
                        rtnl_link_set_link(req, parent);
                        rtnl_link_vlan_set_id(req, n->vlan);
                        what = xasprintf("vlan %s physdev %s id %u mtu %d master %s", n->uplink, n->physdev, n->vlan,
                                         n->mtu, n->bridge);
                }
                if (n->mtu > 0)
                        rtnl_link_set_mtu(req, (unsigned) n->mtu);
                if (master > 0)
                        rtnl_link_set_master(req, master);
                int r = link_create(a, req, what, &l);
                rtnl_link_put(req);
                if (r < 0)
                        return r;
                *ret = l;
                return mark ? link_settle(a, l, 0, 0, mark) : 0;
        }
        *ret = l;
        /* An adopted vlan subinterface that tide did not create stays unmarked: never deleted. */
        return link_settle(a, l, n->mtu, master, mark && startswith(l->alias, ALIAS_PREFIX) ? mark : NULL);
}

/* ---- forwarding entries ----------------------------------------------------------------- */

static int fdb_request(struct apply *a, int ifindex, const char *dev, const char *mac, const char *dst, bool add,
                       int nlflags) {
        if (dry(a))
                return 0;
        struct rtnl_neigh *req = rtnl_neigh_alloc();
        struct nl_addr *ll = NULL, *ip = NULL;
        int r = nl_addr_parse(mac, AF_LLC, &ll);
        if (r >= 0)
                r = nl_addr_parse(dst, AF_UNSPEC, &ip);
        if (r >= 0) {
                rtnl_neigh_set_ifindex(req, ifindex);
                rtnl_neigh_set_lladdr(req, ll);
                /* The destination before the family: libnl checks the one against the other. */
                r = rtnl_neigh_set_dst(req, ip);
        }
        if (r >= 0) {
                rtnl_neigh_set_family(req, AF_BRIDGE);
                rtnl_neigh_set_flags(req, NTF_SELF);
                rtnl_neigh_set_state(req, NUD_PERMANENT);
                r = add ? rtnl_neigh_add(a->h->sk, req, nlflags) : rtnl_neigh_delete(a->h->sk, req, 0);
        }
        nl_addr_put(ll);
        nl_addr_put(ip);
        rtnl_neigh_put(req);
        if (r < 0 && !(!add && (r == -NLE_OBJ_NOTFOUND || r == -NLE_NOADDR)))
                return failed(a, nl_to_error(r), "%s forwarding entry %s dst %s on %s: %s", add ? "adding" : "deleting",
                              mac, dst, dev, nl_geterror(r));
        return 0;
}

static bool fdb_planned(const struct net_plan_network *n, const char *mac, const char *dst) {
        for (size_t i = 0; i < n->n_fdb; i++)
                if (streq(n->fdb[i].mac, mac) && streq(n->fdb[i].dst, dst))
                        return true;
        return false;
}

/* The entries of device ifindex for mac: how many, and the first one's destination. */
static size_t fdb_count(const struct apply *a, int ifindex, const char *mac, const char **ret_first) {
        size_t c = 0;
        for (size_t i = 0; i < a->n_fdb; i++)
                if (a->fdb[i].ifindex == ifindex && streq(a->fdb[i].mac, mac)) {
                        if (!c)
                                *ret_first = a->fdb[i].dst;
                        c++;
                }
        return c;
}

/* Adds what is missing first (a moved MAC replaced in place), then deletes what is left over. */
static int ensure_fdb(struct apply *a, const struct net_plan_network *n, const struct link_seen *dev) {
        int r, ret = 0;
        int ifindex = dev ? dev->ifindex : 0;
        for (size_t i = 0; i < n->n_fdb; i++) {
                const struct net_fdb *e = &n->fdb[i];
                bool flood = streq(e->mac, NET_MAC_FLOOD);
                const char *first = NULL;
                size_t c = dev ? fdb_count(a, ifindex, e->mac, &first) : 0;
                bool present = false;
                for (size_t j = 0; dev && j < a->n_fdb && !present; j++)
                        present = a->fdb[j].ifindex == ifindex && streq(a->fdb[j].mac, e->mac) &&
                                  streq(a->fdb[j].dst, e->dst);
                if (present)
                        continue;
                if (flood || c == 0) {
                        action(a, "fdb add %s dst %s dev %s", e->mac, e->dst, n->uplink);
                        r = fdb_request(a, ifindex, n->uplink, e->mac, e->dst, true,
                                        NLM_F_CREATE | (flood ? NLM_F_APPEND : NLM_F_EXCL));
                } else if (c == 1) {
                        action(a, "fdb replace %s dst %s->%s dev %s", e->mac, first, e->dst, n->uplink);
                        r = fdb_request(a, ifindex, n->uplink, e->mac, e->dst, true, NLM_F_CREATE | NLM_F_REPLACE);
                        if (r >= 0)
                                for (size_t j = 0; j < a->n_fdb; j++)
                                        if (a->fdb[j].ifindex == ifindex && streq(a->fdb[j].mac, e->mac))
                                                memcpy(a->fdb[j].dst, e->dst, NET_ADDR_SIZE);
                } else {
                        /* Several remotes for one port's MAC (not tide's doing): the leftovers
                         * are deleted below, then it is added. */
                        continue;
                }
                if (r < 0)
                        ret = ret ? ret : r;
                else
                        a->res->fdb_added++;
        }
        for (size_t j = 0; dev && j < a->n_fdb; j++) {
                const struct fdb_seen *s = &a->fdb[j];
                if (s->ifindex != ifindex || fdb_planned(n, s->mac, s->dst))
                        continue;
                action(a, "fdb delete %s dst %s dev %s", s->mac, s->dst, n->uplink);
                r = fdb_request(a, ifindex, n->uplink, s->mac, s->dst, false, 0);
                if (r < 0)
                        ret = ret ? ret : r;
                else
                        a->res->fdb_deleted++;
        }
        /* The unicast MACs that had several remotes, now gone. */
        for (size_t i = 0; dev && i < n->n_fdb; i++) {
                const struct net_fdb *e = &n->fdb[i];
                const char *first = NULL;
                if (streq(e->mac, NET_MAC_FLOOD) || fdb_count(a, ifindex, e->mac, &first) < 2)
                        continue;
                action(a, "fdb add %s dst %s dev %s", e->mac, e->dst, n->uplink);
                r = fdb_request(a, ifindex, n->uplink, e->mac, e->dst, true, NLM_F_CREATE | NLM_F_REPLACE);
                if (r < 0)
                        ret = ret ? ret : r;
                else
                        a->res->fdb_added++;
        }
        return ret;
}

/* ---- the whole host ------------------------------------------------------------------------- */

static int apply_network(struct apply *a, const struct net_plan_network *n) {
        struct link_seen *bridge = NULL, *uplink = NULL;
        int r = ensure_bridge(a, n, &bridge);
        if (r < 0)
                return r;
        r = ensure_uplink(a, n, bridge, &uplink);
        if (r < 0)
                return r;
        if (n->type == NET_TYPE_VXLAN)
                return ensure_fdb(a, n, uplink);
        return 0;
}

static bool planned_name(const struct net_plan *plan, const char *name) {
        for (size_t i = 0; i < plan->n_networks; i++)
                if (streq(plan->networks[i].bridge, name) || streq(plan->networks[i].uplink, name))
                        return true;
        return false;
}

int net_apply(struct net_host *h, const struct net_plan *plan, unsigned flags, struct net_apply_result *result) {
        struct apply a = {
                .h = h,
                .flags = flags,
                .res = result,
                .actions = STRBUF_INIT(0),
                .errors = STRBUF_INIT(0),
        };
        net_apply_result_clear(result);

        int r = read_links(&a);
        bool any_vxlan = false;
        for (size_t i = 0; r >= 0 && i < a.n_links; i++)
                any_vxlan = any_vxlan || streq(a.links[i].kind, "vxlan");
        for (size_t i = 0; !any_vxlan && i < plan->n_networks; i++)
                any_vxlan = plan->networks[i].type == NET_TYPE_VXLAN;
        if (r >= 0 && any_vxlan)
                r = read_fdb(&a);

        for (size_t i = 0; r >= 0 && i < plan->n_networks; i++)
                (void) apply_network(&a, &plan->networks[i]);

        /* What no longer belongs: uplinks before bridges, so a bridge goes empty. */
        for (int pass = 0; r >= 0 && pass < 2; pass++)
                for (size_t i = 0; i < a.n_links; i++) {
                        struct link_seen *l = &a.links[i];
                        if (l->deleted || !link_is_tides(l) || planned_name(plan, l->name) ||
                            streq(l->kind, "bridge") != (pass == 1))
                                continue;
                        (void) link_delete(&a, l, "no port of its network on this host");
                }

        free(a.links);
        free(a.fdb);
        result->actions = strbuf_steal(&a.actions);
        result->errors = a.errors.len ? strbuf_steal(&a.errors) : NULL;
        strbuf_clear(&a.errors);
        return a.first_error;
}
