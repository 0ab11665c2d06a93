/* sched.h — placement: which host takes an instance. Pure: a snapshot in, a decision out.
 *
 * This first scheduler filters hosts by state and by CPU and RAM capacity under allocation
 * ratios, and weighs the rest by free RAM (spread). */
#pragma once

#include <jansson.h>

#define SCHED_CPU_RATIO 2.0
#define SCHED_RAM_RATIO 1.5

/* Chooses a host for inst (needs "vcpus" and "ram_mib") among hosts (array of host objects with
 * "name", "state", "cpus", "mem_mib") given instances (array; those with a "host" and not
 * deleted count as using it). On success ret_host gets the host's name (caller frees); when no
 * host fits, returns TIDE_E_NO_HOST and ret_reason gets a message counting hosts per failing
 * filter, e.g. "no valid host: 3 hosts; 2 rejected by ram, 1 by state". */
int sched_pick_host(json_t *hosts, json_t *instances, json_t *inst, char **ret_host, char **ret_reason);
