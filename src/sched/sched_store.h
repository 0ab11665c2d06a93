/* sched_store.h — placement against the store: snapshots of hosts and their allocations, and
 * decisions committed atomically.
 *
 * The keys it reads and writes (model_layout.h): each host's record, liveness, settings and
 * usage (/tide/alloc/<host>, changed only by transactions that compare its revision), server
 * groups' members and the cluster-wide placement settings. An instance's decision is kept in
 * it as "placement" (sched_decision_to_json). Unlike the rest of src/sched this file does store
 * I/O; it never logs. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sched/sched.h"
#include "store/store.h"

/* The keys placement reads and writes are model_layout.h's. */

struct sched_cache; /* sched_cache.h: the same view kept up to date by watches */

/* What a decision on a host rests on besides its allocation: the revisions of the host's keys
 * as the view saw them (0: absent). A commit compares them (sched_basis_cmps), so that a view
 * that lags the store (a cache fed by watches) cannot commit a decision that the store at the
 * commit's revision would not have made on that host. */
struct sched_basis {
        int64_t record_rev;      /* mod_rev of /tide/hosts/<name> */
        int64_t conf_rev;        /* mod_rev of /tide/hostconf/<name> */
        int64_t live_create_rev; /* create_rev of /tide/hostlive/<name>: the same lease's life */
};

struct sched_snapshot {
        struct sched_config cfg;
        int64_t config_rev; /* mod_rev of the placement config key, 0 when absent */
        size_t n;
        struct sched_host *hosts;
        json_t **host_json;        /* the JSON each host's strings point into */
        int64_t *alloc_rev;        /* mod_rev of each host's allocation key, 0 when absent */
        struct sched_basis *basis; /* each host's */
};

/* The compares that tie a decision on host i of snap to the keys it was made on besides the
 * allocation (which the caller compares as it books): the host's record, settings, liveness
 * and the placement config. cmps holds them, keys their storage (sched_basis_cmps_clear). */
#define SCHED_BASIS_CMPS 4
struct sched_basis_cmps {
        char *keys[SCHED_BASIS_CMPS];
        struct store_cmp cmps[SCHED_BASIS_CMPS];
        size_t n;
};
void sched_basis_cmps(const struct sched_snapshot *snap, size_t i, struct sched_basis_cmps *ret);
void sched_basis_cmps_clear(struct sched_basis_cmps *b);

/* Reads every host with its settings, state and usage: each record under /tide/hosts/<name>
 * (its "name" must be <name>) merged with /tide/hostlive/<name> (state "up" while it exists,
 * its "load"), /tide/hostconf/<name> (over the record) and /tide/alloc/<name> ("used"; its
 * mod_rev in alloc_rev), all read at one revision (store_range_many); records that are not
 * valid hosts are left out. ret gets the snapshot
 * (clear it). O(hosts) JSON parsing: placements in tided use a struct sched_cache instead. */
int sched_snapshot_read(struct store *s, struct sched_snapshot *ret);
void sched_snapshot_clear(struct sched_snapshot *snap);
/* Index of the host named name, or -1. */
int sched_snapshot_find(const struct sched_snapshot *snap, const char *name);

/* The placement request of an instance object (vcpus, ram_mib, disk_gib, cpu_policy,
 * hugepages, hints, and the hosts of its server group's other members from members, which may
 * be NULL). The request's strings live in *ret_holder: clear the request with
 * sched_request_clear, then json_decref the holder. */
int sched_request_from_instance(json_t *inst, json_t *group, json_t *members, struct sched_request *ret,
                                json_t **ret_holder);

/* Places a new instance and stores it in one transaction with the host's allocation (and the
 * group's members): "host", "placement", status "building" are set in inst. When no host fits,
 * the instance is stored in status "error" with the reason (and TIDE_E_NO_HOST is returned,
 * ret_reason set). TIDE_E_EXISTS when the name is taken. Retries lost races. group may be NULL.
 * The decision is made on cache's view (made for the same store; held from the decision until
 * the claim is booked in it as in flight, not during the commit: sched_cache.h), or, when
 * cache is NULL, on a fresh sched_snapshot_read per attempt (also the attempts after two lost
 * races on the cache's view, which may lag behind the store). Either way the transaction
 * compares the revision of the host's allocation key. The instance's "networks" (port
 * requests, model_port_requests_check's form) become its "ports", made in the same transaction
 * with their addresses and MACs (model_ports_prepare, afresh each round); a port that cannot be
 * made fails the create with model_ports_prepare's error, nothing stored, and ret_reason says
 * why. */
int sched_store_create(struct store *s, struct sched_cache *cache, json_t *inst, json_t *group, char **ret_reason);

/* Builds a new instance's record from a create request (POST /v1/instances' body: name,
 * flavor, image, user_data, policy, hints, group (its server group) ...), places it and stores
 * it: resolves the flavor, image and server group, copies the flavor's sizes into the record,
 * merges the policy, sets extra's members (may be NULL; e.g. what ties a scaling group's member
 * to it), places and stores it with its claim (sched_store_create) and emits instance.created.
 * ret gets the stored record.
 * TIDE_E_NO_HOST: no host fits; the instance is stored all the same, in status "error", and
 * ret gets it, ret_err the reason (an event instance.error says so too). Any other error:
 * nothing is stored and ret_err gets a message for the user. With dry_run nothing is stored
 * and ret gets what placing it now would do (sched_store_explain's, with "instance"). cache
 * may be NULL (sched_store_create). */
int sched_instance_place_and_store(struct store *s, struct sched_cache *cache, json_t *body, json_t *extra,
                                   bool dry_run, int64_t t_request_ms, json_t **ret, char **ret_err);

/* The usage of host host_rec (its record) with allocation alloc once inst's claim (its "host"'s
 * "placement") is given back, as a new /tide/alloc/<host> value; NULL when the record, the
 * allocation or the decision is missing or malformed (nothing to give back). Pure. */
json_t *sched_store_usage_released(json_t *inst, json_t *host_rec, json_t *alloc);

/* Gives the instance's claim back and deletes the instance (and its name, group membership,
 * and its ports with their addresses and MACs) in one transaction. */
int sched_store_delete(struct store *s, json_t *inst);

/* The CPUs shared VMs (and every VM's emulator threads) run on: the host's CPUs less the
 * reserved ones (the lowest-numbered) and those pinned to dedicated VMs; all of them when
 * nothing would be left. Pure. */
void sched_shared_pool(const struct sched_config *cfg, const struct sched_host *h, struct cpuset *ret);

/* The shared pools of hosts[0..n) from one sched_snapshot_read, as CPU lists (cpuset_format):
 * ret[i] gets a new string, or NULL for a host not in the snapshot. 0, or the read's error
 * (ret then untouched). What the agent is given as its agent_placement's shared_pools. */
int sched_store_shared_pools(struct store *s, const char *const *hosts, size_t n, char **ret);

/* What placing inst now would do, host by host, with inst's own claim given back first:
 * {"decision": ... | null, "error": reason | null, "hosts": [...]} (sched_explain_to_json).
 * On cache's view, or a fresh read when cache is NULL. */
int sched_store_explain(struct store *s, struct sched_cache *cache, json_t *inst, json_t *group, json_t **ret);
