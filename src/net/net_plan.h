/* net_plan.h — the host plumbing of tide's networks as a pure plan (Pacemaker's scheduler: a
 * snapshot in, a plan out, replayable from a saved input).
 *
 * The view is what the store says: networks, ports (each with the host of its instance, joined
 * at read time) and hosts (each with its underlay address, the IP of tided --address). The plan
 * is what one host must have for those networks: per network with at least one port on the host,
 * a Linux bridge, and
 *   - vxlan: a vxlan device (VNI, local underlay address, UDP 4789, learning off) enslaved to the
 *     bridge, with unicast head-end replication: one all-zero-MAC forwarding entry per OTHER host
 *     that has a port on the network, and one entry per port on another host (its MAC to its
 *     host's address), so that forwarding follows a port when it migrates;
 *   - vlan: the subinterface <physdev>.<vlan> enslaved to the bridge;
 *   - flat: the operator's existing bridge, named by the network (never created nor deleted).
 * A network without a port on the host has no plumbing there.
 *
 * Names on a host (kernel names: at most 15 bytes), all owned by this module:
 *   vxlan  bridge tbr-<vni>                      device tvx-<vni>
 *   vlan   bridge tbr-v<vlan>-<hhhh>             subinterface <physdev>.<vlan>, or tvl-<vlan>-<hhhh>
 *                                                when that would pass 15 bytes
 * where hhhh is a 16-bit hash of the physdev's name (two physdevs may carry the same VLAN ID).
 * Devices whose names start with NET_NAME_PREFIXES are tide's: net_apply deletes those the plan
 * does not name.
 *
 * Records the plan cannot use (an unknown type, a VNI out of range, a malformed MAC, a host
 * without an address, a VNI two networks claim...) are left out and listed in plan->skipped
 * with the reason, so that one bad record never stops the plumbing of the others. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Kernel interface names: 15 bytes and the NUL (IFNAMSIZ). */
#define NET_IFNAME_SIZE 16
/* Text of an IPv4 or IPv6 address and its NUL (INET6_ADDRSTRLEN). */
#define NET_ADDR_SIZE 46
/* "xx:xx:xx:xx:xx:xx" and its NUL. */
#define NET_MAC_SIZE 18
/* The VXLAN UDP port (IANA). */
#define NET_VXLAN_PORT 4789
/* The all-zero MAC of head-end replication entries (flooding to one remote host each). */
#define NET_MAC_FLOOD "00:00:00:00:00:00"

enum net_type {
        NET_TYPE_VXLAN,
        NET_TYPE_VLAN,
        NET_TYPE_FLAT,
        NET_TYPE_MAX, /* also: a type tide does not know */
};

/* "vxlan", "vlan", "flat"; NULL for anything else. */
const char *net_type_to_string(enum net_type t);
/* NET_TYPE_MAX for NULL or an unknown name. */
enum net_type net_type_from_string(const char *s);

/* ---- the view (all strings owned by the view) ---------------------------------------------- */

/* An integer member of a record that held something else (net_view_add_network_json). */
#define NET_VIEW_NOT_INT INT64_MIN

struct net_view_network {
        char *id;
        enum net_type type;
        int64_t vni;   /* vxlan: 1..16777215 */
        int64_t vlan;  /* vlan: 1..4094 */
        char *physdev; /* vlan: the parent device */
        char *bridge;  /* flat: the operator's bridge */
        int64_t mtu;   /* 0: leave the kernel's; else 68..65535 */
};

struct net_view_port {
        char *id;
        char *network_id;
        char *mac;
        char *host; /* NULL while its instance is on no host */
};

struct net_view_host {
        char *name;
        char *address; /* underlay IPv4 or IPv6 address; NULL when unknown */
};

struct net_view {
        struct net_view_network *networks;
        size_t n_networks;
        struct net_view_port *ports;
        size_t n_ports;
        struct net_view_host *hosts;
        size_t n_hosts;
};

/* A new empty view; never fails. */
struct net_view *net_view_new(void);
/* Frees the view and everything in it; NULL is fine. */
void net_view_free(struct net_view *v);
/* Adds a network record as the store holds it ({"id","type","vni","vlan","physdev","bridge",
 * "mtu",...}; other members are ignored). Missing or mistyped members are kept as "unknown"
 * for the plan to skip with a reason. Returns 0, or TIDE_E_INVALID when n is not an object or
 * has no string "id". */
int net_view_add_network_json(struct net_view *v, const json_t *n);
/* Adds a port record ({"id","network_id","mac",...}) on host (NULL: on no host). Returns 0, or
 * TIDE_E_INVALID when p is not an object or has no string "id". */
int net_view_add_port_json(struct net_view *v, const json_t *p, const char *host);
/* Adds a host and its underlay address (NULL: unknown). Never fails. */
void net_view_add_host(struct net_view *v, const char *name, const char *address);
/* Adds a host from its record in the store ({"name", "api_url": "http://IP:PORT", ...}): its
 * underlay address is the record's "address" when it has one, else the IP of its "api_url"
 * (tided --address), else unknown. Returns 0, or TIDE_E_INVALID when h has no string "name". */
int net_view_add_host_json(struct net_view *v, const json_t *h);
/* The host part of an http(s) URL ("http://10.0.0.1:8080" -> "10.0.0.1", "http://[fd00::1]:80"
 * -> "fd00::1"), a new string; NULL when url is NULL or not such a URL. Not checked to be an
 * address: the plan does that. */
char *net_url_host(const char *url);
/* Reads a whole view: {"networks":[...], "ports":[{...,"host":NAME}], "hosts":[host records]}
 * (the records as the store holds them: model_port_list's ports carry "host"; hosts as
 * net_view_add_host_json reads them). The form of the golden cases, and a dump a host can be
 * replayed from. Returns 0 and the view, or TIDE_E_INVALID with *ret untouched. */
int net_view_from_json(const json_t *j, struct net_view **ret);

/* ---- the plan ------------------------------------------------------------------------------- */

/* One forwarding entry of a vxlan device: frames for mac go to the host at dst (mac
 * NET_MAC_FLOOD: a copy of every flooded frame goes there). */
struct net_fdb {
        char mac[NET_MAC_SIZE];
        char dst[NET_ADDR_SIZE];
};

struct net_plan_network {
        char *network_id;
        enum net_type type;
        char bridge[NET_IFNAME_SIZE];
        bool bridge_owned;             /* false for flat: the operator's bridge, never created nor deleted */
        int mtu;                       /* 0: leave the kernel's; not applied to a flat bridge */
        char uplink[NET_IFNAME_SIZE];  /* the vxlan device or vlan subinterface; "" for flat */
        uint32_t vni;                  /* vxlan */
        char local[NET_ADDR_SIZE];     /* vxlan: this host's underlay address */
        char physdev[NET_IFNAME_SIZE]; /* vlan */
        uint16_t vlan;                 /* vlan */
        struct net_fdb *fdb;           /* vxlan: flood entries first, each group by dst, mac */
        size_t n_fdb;
        size_t n_local_ports; /* ports of the network on this host (>= 1) */
};

/* A record the plan left out, and why. */
struct net_plan_skip {
        char *kind; /* "network", "port" or "host" */
        char *id;
        char *reason;
};

struct net_plan {
        struct net_plan_network *networks; /* by network id */
        size_t n_networks;
        struct net_plan_skip *skipped; /* in the order found */
        size_t n_skipped;
};

/* What host this_host must have for view (see the top of this file). Pure. Returns 0 and a new
 * plan in *ret (free with net_plan_free), or TIDE_E_INVALID when this_host is NULL or empty. */
int net_plan_build(const struct net_view *view, const char *this_host, struct net_plan **ret);
/* Frees a plan; NULL is fine. */
void net_plan_free(struct net_plan *p);
/* The plan's network for network_id, or NULL when the host has no plumbing for it. */
const struct net_plan_network *net_plan_find(const struct net_plan *p, const char *network_id);
/* The plan as text, one line per device, entry and skipped record (the golden files' form, and
 * what a host logs). Caller frees. */
char *net_plan_format(const struct net_plan *p);

/* ---- names ---------------------------------------------------------------------------------- */

/* Whether name is one of tide's device names (NET_NAME_PREFIXES: "tbr-", "tvx-", "tvl-"). */
bool net_name_is_tide(const char *name);
/* Whether s is a usable kernel interface name (1..15 bytes, no '/', ':', whitespace, not "." or
 * ".."). */
bool net_ifname_valid(const char *s);
