/* store_etcd_launch.h — starts and stops real etcd members on 127.0.0.1 for tests and benchmarks:
 * free ports, a temporary data directory, readiness, the leader, killing one member. Members get
 * PR_SET_PDEATHSIG, so they die with the program that started them even if it crashes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define STORE_ETCD_BINARY "/usr/bin/etcd"

struct store_etcd_launch;

/* Whether etcd can be started here (TIDE_ETCD, else STORE_ETCD_BINARY, is executable). */
bool store_etcd_launch_available(void);

/* Starts a cluster of n (1..5) members and waits until every member answers and knows a leader
 * (up to 30 s). One member runs with 10 ms heartbeats (leases can then be as short as 1 s);
 * several run with etcd's default timing. Their logs go to DIR/mN.log, DIR a new directory under
 * $TMPDIR (or /tmp). ret gets the cluster (store_etcd_launch_free). */
int store_etcd_launch_start(size_t n, struct store_etcd_launch **ret);
/* The same with heartbeats every heartbeat_ms (10 to 100) and an election timeout ten times that:
 * leases can be as short as 1 s from 60 ms down (etcd's minimum TTL is 15 heartbeats). */
int store_etcd_launch_start_timed(size_t n, int heartbeat_ms, struct store_etcd_launch **ret);
/* Kills every member that still runs (SIGKILL), waits for them and removes the directory. NULL
 * is fine. */
void store_etcd_launch_free(struct store_etcd_launch *l);

/* The store URL naming every member: "etcd:http://127.0.0.1:P1,http://127.0.0.1:P2,...". */
const char *store_etcd_launch_url(const struct store_etcd_launch *l);
/* Member i's client endpoint, "http://127.0.0.1:P". */
const char *store_etcd_launch_endpoint(const struct store_etcd_launch *l, size_t i);
/* Member i's pid, or 0 once killed. */
pid_t store_etcd_launch_pid(const struct store_etcd_launch *l, size_t i);

/* Kills member i with SIGKILL (a power cut) and reaps it. */
int store_etcd_launch_kill(struct store_etcd_launch *l, size_t i);
/* Starts killed member i again on its ports and data directory (it rejoins the cluster) and waits
 * until it answers and knows a leader (up to 30 s). */
int store_etcd_launch_restart(struct store_etcd_launch *l, size_t i);
/* The index of the member that leads now, asked of each live member (/v3/maintenance/status);
 * TIDE_E_NOT_FOUND if none answers with a leader among the live members. */
int store_etcd_launch_leader(const struct store_etcd_launch *l, size_t *ret_index);
