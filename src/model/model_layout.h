/* model_layout.h — where tide keeps things: every key in the store and the layout of the
 * state directory, spelled here once; the rest of tide builds keys and paths through these.
 * Pure: strings only, no I/O. The char * functions return a new string (caller frees); they are
 * named after the keys, which keep the words they were stored with ("groups" and "groupstatus"
 * are scaling groups, "groupmembers" server groups).
 *
 * Store keys:
 *   /tide/<kind>/<id>               an object (kind: model_kind_plural: flavors, images,
 *                                   instances, server-groups, groups (scaling groups), stacks)
 *   /tide/names/<kind>/<name>       the id of the object with that name (unique per kind)
 *   /tide/events/<stamp>-<seq>      an event
 *   /tide/hosts/<name>              a host's record, written by its agent
 *   /tide/hostlive/<name>           "up" or {"load"} while the host's agent holds its lease
 *   /tide/hostconf/<name>           the operator's settings of a host (labels, ratios, reserves,
 *                                   draining, elastic)
 *   /tide/alloc/<host>              the host's usage (sched_host_usage_to_json), changed only by
 *                                   transactions that compare its revision
 *   /tide/groupmembers/<group id>   {"<instance id>": "<host>"} for server groups
 *   /tide/groupstatus/<group id>    what the autoscaler saw of a scaling group's policies at
 *                                   its last pass (the form: autoscaler.h)
 *   /tide/config/placement          the cluster-wide placement settings
 *   /tide/measure/<host>/<inst id>  what the host's agent last measured of the instance (its
 *                                   latest sample as metrics_vm_json's "current"), attached to
 *                                   the host's lease; written every sample, one txn per host
 *   /tide/ports/<id>                a port: an instance's address on a network (model_net.h)
 *   /tide/ipam/<network id>/<ip>    the id of the port that holds the address (created with a
 *                                   compare that it is absent, in the port's transaction)
 *   /tide/macs/<mac>                the id of the port that holds the MAC address (the same)
 *   /tide/segments/vxlan/<vni>      the id of the network that holds the VNI,
 *   /tide/segments/vlan/<dev>/<id>  the VLAN ID on physical device dev,
 *   /tide/segments/flat/<bridge>    the bridge of a flat network (each created with a compare
 *                                   that it is absent, in the network's transaction)
 *   /tide/config/network            the cluster-wide network settings (VNI and VLAN ranges,
 *                                   underlay MTU: model_net.h)
 *   /tide/leader                    {"host", "since"}: the tided that leads the controllers,
 *                                   attached to its lease; its create_rev is the election
 *                                   revision (ctl/ctl_leader.h)
 *
 * State directory (tided --state):
 *   instances/<id>/                 an instance's files, made by the agent of its host
 *     disk.qcow2                    its disk: a qcow2 overlay on its image's disk
 *     seed.iso                      its NoCloud config drive (label cidata), when it has user data
 *     seed/                         the config drive's files while it is made
 *     console.log                   its serial console (served by the API)
 *   images/<id>/                    an image's files, copied in by the API (into <id>.tmp first)
 *     disk.<format>                 its disk, qcow2 or raw
 *     vmlinuz, initrd.img           its kernel and initrd, for a direct kernel boot
 * Besides these, tided keeps store.db, tided.sock, admin.token and libvirt/ there. */
#pragma once

#include "model/model.h"

#define MODEL_KEY_ROOT "/tide/"
#define MODEL_KEY_NAMES MODEL_KEY_ROOT "names/"
#define MODEL_KEY_EVENTS MODEL_KEY_ROOT "events/"
#define MODEL_KEY_HOSTS MODEL_KEY_ROOT "hosts/"
#define MODEL_KEY_HOSTLIVE MODEL_KEY_ROOT "hostlive/"
#define MODEL_KEY_HOSTCONF MODEL_KEY_ROOT "hostconf/"
/* What the three keys of a host above start with: one watch covers them. */
#define MODEL_KEY_HOST_ANY MODEL_KEY_ROOT "host"
#define MODEL_KEY_ALLOC MODEL_KEY_ROOT "alloc/"
#define MODEL_KEY_GROUPMEMBERS MODEL_KEY_ROOT "groupmembers/"
#define MODEL_KEY_GROUPSTATUS MODEL_KEY_ROOT "groupstatus/"
#define MODEL_KEY_PLACEMENT_CONFIG MODEL_KEY_ROOT "config/placement"
#define MODEL_KEY_DRAIN MODEL_KEY_ROOT "drain/" /* a host's drain and its progress (ctl_drain.h) */
#define MODEL_KEY_LEADER MODEL_KEY_ROOT "leader"
#define MODEL_KEY_MEASURE MODEL_KEY_ROOT "measure/"
#define MODEL_KEY_PORTS MODEL_KEY_ROOT "ports/"
#define MODEL_KEY_IPAM MODEL_KEY_ROOT "ipam/"
#define MODEL_KEY_MACS MODEL_KEY_ROOT "macs/"
#define MODEL_KEY_SEGMENTS MODEL_KEY_ROOT "segments/"
#define MODEL_KEY_NETWORK_CONFIG MODEL_KEY_ROOT "config/network"

/* "/tide/<kind>/": the prefix of every object of a kind. */
char *model_key_kind(enum model_kind k);
/* "/tide/<kind>/<id>". */
char *model_obj_key(enum model_kind k, const char *id);
/* "/tide/names/<kind>/<name>". */
char *model_name_key(enum model_kind k, const char *name);
/* "/tide/events/<id>". */
char *model_key_event(const char *id);
/* The keys of host name: its record, liveness, operator settings and usage. */
char *model_key_host(const char *name);
char *model_key_hostlive(const char *name);
char *model_key_hostconf(const char *name);
char *model_key_alloc(const char *name);
/* The members of the server group with that id. */
char *model_key_groupmembers(const char *group_id);
/* The autoscaler's status of the scaling group with that id. */
char *model_key_groupstatus(const char *group_id);
/* The measurements the agent of host publishes: all of them ("/tide/measure/<host>/"), and the
 * instance's. */
char *model_key_measure_host(const char *host);
char *model_key_measure(const char *host, const char *instance_id);

/* A port's record; the addresses of a network ("/tide/ipam/<network id>/"), one of them; a MAC
 * address's holder. */
char *model_key_port(const char *id);
char *model_key_ipam_network(const char *network_id);
char *model_key_ipam(const char *network_id, const char *ip);
char *model_key_mac(const char *mac);
/* The segment key of a network type ("vxlan", "vlan", "flat"): prefix of all of them when what
 * is NULL ("/tide/segments/vlan/<physdev>/" for vlan: pass physdev), else the key of what (the
 * VNI, "<physdev>/<vlan>", the bridge). */
char *model_key_segment(const char *type, const char *what);

#define MODEL_INSTANCE_DISK "disk.qcow2"
#define MODEL_INSTANCE_SEED "seed.iso"
#define MODEL_INSTANCE_SEED_DIR "seed"
#define MODEL_INSTANCE_CONSOLE "console.log"
/* The console lines from before the instance last moved here, when the hosts keep instance
 * files apart: the log of the host it left (which merges its console.log into this file once
 * the domain is gone there), copied after the move. The console reads this, then console.log. */
#define MODEL_INSTANCE_CONSOLE_BEFORE "console-before.log"
#define MODEL_IMAGE_KERNEL "vmlinuz"
#define MODEL_IMAGE_INITRD "initrd.img"

/* <state_dir>/instances/<id>, or the file (or subdirectory) of that name in it when file is not
 * NULL; <state_dir>/instances when id is NULL. */
char *model_instance_path(const char *state_dir, const char *id, const char *file);
/* <state_dir>/images/<id>, or the file of that name in it when file is not NULL;
 * <state_dir>/images when id is NULL. */
char *model_image_path(const char *state_dir, const char *id, const char *file);
/* The name of an image's disk in its format: "disk.qcow2", "disk.raw". */
char *model_image_disk_name(const char *format);
