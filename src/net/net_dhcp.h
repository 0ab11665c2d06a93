/* net_dhcp.h — addresses for guests by DHCP, the pure part: what one host's dnsmasq for one
 * network is (its names, its command line, its hosts file), from a network of the host's
 * plumbing plan (net_plan.h), the network's record (cidr, gateway, dns, mtu), the ports of the
 * network on this host and the host's DHCP address on that network.
 *
 * Per host and per network with ports on the host, one dnsmasq runs in a network namespace of
 * its own (tdh-<suffix>), joined to the network's bridge by a veth pair (host end tdv-<suffix>
 * enslaved to the bridge, namespace end tdn-<suffix> carrying the DHCP address), never on the
 * host's own stack. Its range is "static": only the MACs of its hosts file get a lease, so the
 * dnsmasq of one host ignores the guests of other hosts whose broadcasts reach it over VXLAN.
 * <suffix> is the bridge's name less "tbr-" for the bridges tide owns; for a flat network (the
 * operator's bridge, which two flat networks may share) "f" and the first 8 characters of the
 * network's id. These names are not the plumbing's (net_name_is_tide is false for them), so
 * net_apply never deletes them; net_dhcp_run.h owns and acts on them. */
#pragma once

#include <stddef.h>

#include <jansson.h>

#include "net/net_plan.h"

/* A namespace name (under /run/netns or another directory): like a device name, at most 15. */
#define NET_DHCP_NAME_SIZE NET_IFNAME_SIZE
/* Prefix of the namespaces of tide's dnsmasqs. */
#define NET_DHCP_NS_PREFIX "tdh-"
/* At most this many dns servers (the store's limit too). */
#define NET_DHCP_DNS_MAX 4
/* Default lease time (seconds). */
#define NET_DHCP_LEASE_DEFAULT 3600

struct net_dhcp_names {
        char ns[NET_DHCP_NAME_SIZE];     /* tdh-<suffix> */
        char veth_host[NET_IFNAME_SIZE]; /* tdv-<suffix>, enslaved to the bridge */
        char veth_ns[NET_IFNAME_SIZE];   /* tdn-<suffix>, in the namespace, with the address */
};

/* One port of the network on this host. */
struct net_dhcp_port {
        const char *mac;  /* "xx:xx:xx:xx:xx:xx" */
        const char *ip;   /* IPv4 inside the network's cidr */
        const char *name; /* the instance's name (a DHCP hostname); NULL: none */
};

/* The network as dnsmasq serves it. */
struct net_dhcp_network {
        const char *network_id;
        const char *bridge;                /* the plan's bridge (net_plan_network.bridge) */
        bool bridge_owned;                 /* the plan's bridge_owned: false for flat */
        const char *cidr;                  /* "10.20.0.0/24" (IPv4) */
        const char *gateway;               /* NULL: no router option */
        const char *dns[NET_DHCP_DNS_MAX]; /* n_dns addresses */
        size_t n_dns;
        int mtu;               /* 0: no MTU option and the kernel's MTU on the veth */
        const char *server_ip; /* this host's DHCP address on the network (in the cidr) */
        int lease_seconds;     /* 0: NET_DHCP_LEASE_DEFAULT; else >= 120 */
};

/* The network of plan network pn as the store's record says ({"cidr","gateway","dns","mtu"};
 * strings borrowed from record, which must outlive *ret), served from server_ip. Returns 0, or
 * TIDE_E_INVALID (and a message in *err when err is not NULL) when net_dhcp_network_check
 * refuses it. */
int net_dhcp_network_from_json(const struct net_plan_network *pn, const json_t *record, const char *server_ip,
                               struct net_dhcp_network *ret, char **err);

/* Where a dnsmasq keeps its files: <state_dir>/<ns>.{hosts,leases,pid}. */
struct net_dhcp_paths {
        const char *dnsmasq;   /* the program; NULL: "dnsmasq" */
        const char *state_dir; /* absolute */
};

/* The names for network n (its bridge, bridge_owned and network_id). Returns 0, or TIDE_E_INVALID
 * when the bridge is not a usable device name, its suffix is empty or over 11 bytes, or (flat)
 * the network id does not start with 8 letters, digits or '-'. */
int net_dhcp_names(const struct net_dhcp_network *n, struct net_dhcp_names *ret);
/* Whether name is one of this module's namespace names (tdh- and a non-empty suffix). */
bool net_dhcp_ns_is_tide(const char *name);
/* Checks n: cidr an IPv4 network of prefix 8..30 with its host bits clear, gateway/dns/server_ip
 * IPv4 (gateway and server_ip inside the cidr, not its network or broadcast address, and not
 * equal), mtu 0 or 68..65535, lease 0 or >= 120. On failure returns TIDE_E_INVALID and, when
 * err is not NULL, a new message in *err. */
int net_dhcp_network_check(const struct net_dhcp_network *n, char **err);
/* The hosts file (--dhcp-hostsfile) for ports: one "mac,ip[,name]" line each, sorted by MAC.
 * A port with a malformed MAC, an address outside the cidr (or the network's, broadcast, gateway
 * or server address), a MAC or address given twice, or a name that is not a DNS label (letters,
 * digits, '-', at most 63) is refused: TIDE_E_INVALID and a message in *err (when not NULL).
 * Names that are not labels could be dropped instead, but a refused port is visible. Returns 0
 * and a new text in *ret. */
int net_dhcp_hosts_text(const struct net_dhcp_network *n, const struct net_dhcp_port *ports, size_t n_ports, char **ret,
                        char **err);
/* The path of one of the dnsmasq's files: what is "hosts", "leases" or "pid". Caller frees. */
char *net_dhcp_path(const struct net_dhcp_paths *paths, const struct net_dhcp_names *names, const char *what);
/* The dnsmasq command line (NULL-terminated, free with strv_free) for network n (checked as
 * net_dhcp_network_check does): no DNS, no resolv.conf nor config file, bound to the namespace's
 * veth end, a static range of the cidr, the hosts file, router/dns/MTU options, authoritative,
 * lease and pid files under paths->state_dir, running as root. Returns 0, or TIDE_E_INVALID. */
int net_dhcp_argv(const struct net_dhcp_network *n, const struct net_dhcp_paths *paths, char ***ret, char **err);
