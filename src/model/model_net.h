/* model_net.h — networks and their ports (docs/networks.md): the JSON form and validation of a
 * network, IPv4 addresses and CIDRs, the choice of a port's address (IPAM) and MAC, and the
 * cluster's network settings. These are pure. The store side (model_net_store.c) keeps
 * networks, ports, addresses and segments consistent with one transaction per change; it does
 * store I/O but never logs.
 *
 * A network, /tide/networks/<id> (named: /tide/names/networks/<name>):
 *   {"id", "name", "type": "vxlan"|"vlan"|"flat", "cidr": "10.20.0.0/24",
 *    "gateway": "10.20.0.1"|null, "dns": ["IP", ...], "vni": N (vxlan),
 *    "vlan": N and "physdev": "IF" (vlan), "bridge": "BR" (flat), "mtu": N, "created_at"}
 * and, while a delete is under way, "deleting": true (no port is added to it then).
 * A port, /tide/ports/<id>:
 *   {"id", "network_id", "instance_id", "mac": "02:xx:xx:xx:xx:xx", "ip": "A.B.C.D", "created_at"}
 * and its instance's record lists it in "ports": [{"id", "network", "network_id", "mac", "ip"}].
 * Its address is held by /tide/ipam/<network id>/<ip> and its MAC by /tide/macs/<mac> (both the
 * port's id), created in the port's transaction with a compare that they are absent, and
 * deleted in the transaction that deletes the port (model_layout.h). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define MODEL_VNI_MIN 1
#define MODEL_VNI_MAX 16777215
#define MODEL_VLAN_MIN 1
#define MODEL_VLAN_MAX 4094
/* Ranges that allocation draws from when a network is created without its VNI or VLAN ID
 * (cluster settings vni_min/vni_max, vlan_min/vlan_max). VNIs start above the VLAN ID space
 * so that one is never read for the other; the VLAN range is Neutron's example. */
#define MODEL_VNI_DEFAULT_MIN 4096
#define MODEL_VNI_DEFAULT_MAX MODEL_VNI_MAX
#define MODEL_VLAN_DEFAULT_MIN 1000
#define MODEL_VLAN_DEFAULT_MAX 2999
#define MODEL_UNDERLAY_MTU_DEFAULT 1500
#define MODEL_UNDERLAY_MTU_MIN 1280
#define MODEL_UNDERLAY_MTU_MAX 9216
#define MODEL_VXLAN_OVERHEAD 50 /* outer Ethernet, IPv4, UDP and VXLAN headers */
/* Prefix lengths of a network's CIDR: a /31 or /32 has no address to give. */
#define MODEL_NET_PREFIX_MIN 8
#define MODEL_NET_PREFIX_MAX 30
#define MODEL_NET_DNS_MAX 4
#define MODEL_PORTS_MAX 8    /* per instance */
#define MODEL_IFNAME_MAX 15  /* a Linux interface name (IFNAMSIZ less its NUL) */
#define MODEL_IPV4_STRLEN 16 /* "255.255.255.255" and its NUL */
#define MODEL_MAC_STRLEN 18  /* "02:00:00:00:00:00" and its NUL */

/* Parses a dotted quad ("10.0.0.1": four decimal numbers 0-255, no leading zeros, nothing
 * else) into *ret (host byte order). 0 or -EINVAL. */
int model_ipv4_parse(const char *s, uint32_t *ret);
/* Writes a (host byte order) as a dotted quad into buf. Returns buf. */
char *model_ipv4_format(uint32_t a, char buf[static MODEL_IPV4_STRLEN]);

struct model_cidr {
        uint32_t net; /* the network address, host byte order */
        int prefix;   /* MODEL_NET_PREFIX_MIN..MODEL_NET_PREFIX_MAX */
};

/* Parses "A.B.C.D/N" with N in MODEL_NET_PREFIX_MIN..MAX and no host bits set. 0, or
 * TIDE_E_INVALID with *ret_err saying what is wrong (caller frees). */
int model_cidr_parse(const char *s, struct model_cidr *ret, char **ret_err);
/* The last address of the CIDR (its broadcast address). */
uint32_t model_cidr_broadcast(const struct model_cidr *c);
/* Whether a lies in c (network and broadcast addresses included). */
bool model_cidr_contains(const struct model_cidr *c, uint32_t a);

/* Whether s can name a Linux network interface: 1-15 characters of A-Z a-z 0-9 . _ - that
 * are not "." or "..". */
bool model_ifname_valid(const char *s);

/* Whether a port may hold address a of network c with gateway gw (0: none): inside c, and
 * neither its network address, its broadcast address nor the gateway. 0, or TIDE_E_INVALID
 * with *ret_err saying why (ip_text names the address in it). */
int model_ipam_check(const struct model_cidr *c, uint32_t gw, uint32_t a, const char *ip_text, char **ret_err);
/* The number of addresses ports of c may hold (model_ipam_check's). */
uint64_t model_ipam_usable(const struct model_cidr *c, uint32_t gw);
/* Chooses a free address of c for a port: the first one from start (wrapped into c) upwards,
 * wrapping around, that model_ipam_check allows and that is not in used[0..n_used) (sorted
 * ascending; duplicates allowed). 0 with *ret set, or TIDE_E_CONFLICT when every address is
 * taken. Pure: callers pass a random start, so that concurrent choices rarely collide. */
int model_ipam_pick(const struct model_cidr *c, uint32_t gw, const uint32_t *used, size_t n_used, uint32_t start,
                    uint32_t *ret);

/* A random locally administered unicast MAC, "02:xx:xx:xx:xx:xx" (40 random bits), into buf. */
void model_mac_random(char buf[static MODEL_MAC_STRLEN]);
/* Whether s is "xx:xx:xx:xx:xx:xx" (lowercase hex) with the locally administered bit set and
 * the multicast bit clear. */
bool model_mac_valid(const char *s);

/* The cluster's network settings, /tide/config/network: {"vni_min", "vni_max", "vlan_min",
 * "vlan_max", "underlay_mtu"}, each optional (the defaults above). */
struct model_net_config {
        int64_t vni_min, vni_max;
        int64_t vlan_min, vlan_max;
        int64_t underlay_mtu;
};
void model_net_config_default(struct model_net_config *ret);
/* Reads settings as stored (absent members: defaults). 0, or TIDE_E_INVALID with *ret_err. */
int model_net_config_from_json(json_t *o, struct model_net_config *ret, char **ret_err);
/* The settings with the defaults filled in, as GET /v1/network/config shows them. New object. */
json_t *model_net_config_to_json(const struct model_net_config *c);
/* Merges a PATCH body into the stored settings (a null member resets it to its default);
 * ranges must be in order and inside the valid VNI and VLAN IDs. ret gets the new settings.
 * Shaped for struct model_merge_change. */
int model_net_config_merge(json_t *current, json_t *body, json_t **ret, char **ret_err);

/* Validates POST /v1/networks' body: {"name", "type", "cidr", "gateway"?, "dns"?, "vni"?
 * (vxlan), "vlan"? and "physdev" (vlan), "bridge" (flat)}. An absent gateway is the first
 * address of the CIDR, a null one none. The MTU is derived from cfg's underlay MTU (vxlan:
 * less MODEL_VXLAN_OVERHEAD). ret gets the network without id and created_at, and without vni
 * or vlan when they were not given (allocated when it is stored). TIDE_E_INVALID with
 * *ret_err otherwise. */
int model_network_from_request(json_t *body, const struct model_net_config *cfg, json_t **ret, char **ret_err);
/* The CIDR and gateway (0: none) of a stored network. 0, or TIDE_E_INVALID. */
int model_network_addressing(json_t *net, struct model_cidr *ret_cidr, uint32_t *ret_gw);

/* Checks the "networks" of an instance create request: an array of at most MODEL_PORTS_MAX
 * objects {"network": a name or id, "ip"?: "A.B.C.D"}. 0, or TIDE_E_INVALID with *ret_err. */
int model_port_requests_check(json_t *networks, char **ret_err);

/* Store side (model_net_store.c). */

/* The cluster's settings (the defaults where none are stored). */
int model_net_config_get(struct store *s, struct model_net_config *ret);

/* Creates a network from a request (model_network_from_request) with its segment in one
 * transaction: the name key, the record and its segment key (a VNI or a VLAN ID not given is
 * the lowest free one of the configured range). ret gets the stored network. Errors, each
 * with *ret_err: TIDE_E_INVALID (bad request), TIDE_E_EXISTS (the name, or a VNI, VLAN ID on
 * that device, or a flat network's bridge, that another network holds), TIDE_E_CONFLICT (no
 * free VNI or VLAN ID left in the range), the store's. */
int model_network_create(struct store *s, json_t *body, json_t **ret, char **ret_err);
/* Deletes the network named by ref (a name or an id), its name key and its segment key. It is
 * refused with TIDE_E_IN_USE while ports are on it: the network is first marked "deleting"
 * (which stops new ports: their transactions compare the network's revision), then its
 * addresses are read, then it goes, or the mark is taken off again. *ret_err gets a message on
 * failure. */
int model_network_delete(struct store *s, const char *ref, char **ret_err);
/* The ports on a network (its addresses' holders), each record with "instance" (its name) and
 * "host" (its instance's) joined in, sorted by address. ret gets a new array. */
int model_network_ports(struct store *s, json_t *net, json_t **ret);
/* Every port, with "network" (its network's name), "instance" and "host" joined in. */
int model_port_list(struct store *s, json_t **ret);

/* What new or removed ports add to a transaction. Owns the strings its compares and
 * operations point to; clear it with model_port_txn_clear. */
struct model_port_txn {
        struct store_cmp *cmps;
        size_t n_cmps;
        struct store_op *ops;
        size_t n_ops;
        char **strs;
        size_t n_strs;
        json_t *ports; /* the new ports, as the instance's record lists them */
};
void model_port_txn_clear(struct model_port_txn *t);
/* Makes ports for instance_id on the networks of requests (model_port_requests_check's form;
 * NULL: none): for each, its network (not being deleted), a free or the asked address and a
 * random MAC, read now; into t: a compare of each network's revision, compares that the
 * address and MAC keys are absent, and the puts of the port records and of those keys. The
 * transaction that carries them fails when another took an address or a MAC first: start
 * again with a new t. Errors (nothing added to the store) with *ret_err: TIDE_E_NOT_FOUND (no
 * such network), TIDE_E_INVALID (an address outside the network, or reserved),
 * TIDE_E_EXISTS (an address taken), TIDE_E_CONFLICT (no free address, or the network is being
 * deleted), the store's. */
int model_ports_prepare(struct store *s, const char *instance_id, json_t *requests, struct model_port_txn *t,
                        char **ret_err);
/* Adds to t the deletes of the records, addresses and MACs of ports (an instance record's
 * "ports"; NULL: none). */
void model_ports_release(json_t *ports, struct model_port_txn *t);
/* Adds a port on request's network ({"network", "ip"?}) to the instance named by ref, in one
 * transaction with its record's "ports" (compared by revision; lost races retried). Refused
 * (TIDE_E_CONFLICT) while the instance is being deleted or has MODEL_PORTS_MAX ports. ret gets
 * the port as the instance lists it. Errors as model_ports_prepare's, TIDE_E_NOT_FOUND for no
 * such instance. */
int model_port_add(struct store *s, const char *instance_ref, json_t *request, json_t **ret, char **ret_err);
/* Removes the instance's port port_id (record, address, MAC and its entry in "ports") in one
 * transaction. TIDE_E_NOT_FOUND when the instance or the port is not there. */
int model_port_remove(struct store *s, const char *instance_ref, const char *port_id, char **ret_err);
