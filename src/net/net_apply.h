/* net_apply.h — makes a host's network devices match a plan (net_plan.h), through netlink
 * (libnl-route-3; never the ip or bridge programs).
 *
 * net_apply reads what exists in the network namespace of the calling thread (links, and the
 * forwarding entries of vxlan devices), then creates what is missing, changes what differs
 * (MTU, enslavement, up, forwarding entries; a vxlan or vlan device with other parameters is
 * recreated) and deletes what no longer belongs. It deletes only tide's devices: bridge, vxlan
 * and vlan devices whose names start with tide's prefixes (net_name_is_tide) or that tide marked
 * with the alias "tide network <id>" (the vlan subinterfaces <physdev>.<vlan> it created); never
 * the operator's flat bridge, a physical device, nor a device of another kind. So a restarted
 * tided adopts what exists: nothing is recreated that already matches, and a second apply of
 * the same plan changes nothing.
 *
 * A migrating port's forwarding entry is replaced in one request (NLM_F_REPLACE), never
 * deleted and added, and new flood entries are added before old ones are removed, so frames
 * are not dropped while entries change. */
#pragma once

#include <stddef.h>

#include "net/net_plan.h"

/* A netlink route socket. */
struct net_host;

/* Opens a netlink route socket in the calling thread's network namespace. Returns 0 and
 * *ret, or a negative errno. */
int net_host_new(struct net_host **ret);
/* Closes it; NULL is fine. */
void net_host_free(struct net_host *h);

enum {
        /* Read and decide, change nothing: result->actions says what would be done. */
        NET_APPLY_DRY_RUN = 1u << 0,
};

/* What an apply did. Filled by net_apply whatever it returns; the caller owns the strings. */
struct net_apply_result {
        unsigned links_created;
        unsigned links_changed; /* MTU, master, up or alias set on an existing device */
        unsigned links_deleted;
        unsigned fdb_added; /* added or replaced */
        unsigned fdb_deleted;
        char *actions; /* one line per change made (or to be made with NET_APPLY_DRY_RUN); "" if none */
        char *errors;  /* one line per network or device that could not be made right; NULL if none */
};

/* Frees the strings of r and zeroes it; r may be zeroed already. */
void net_apply_result_clear(struct net_apply_result *r);

/* Makes the host match plan (see the top of this file). Goes on past a network that fails, so
 * that one bad device does not stop the others. Returns 0 when everything matches, else the
 * first error (a negative errno, TIDE_E_NOT_FOUND for a missing physdev or flat bridge,
 * TIDE_E_CONFLICT for a name held by a device that is not tide's, TIDE_E_BACKEND for another
 * netlink failure); result says what was done and what failed. */
int net_apply(struct net_host *h, const struct net_plan *plan, unsigned flags, struct net_apply_result *result);
