/* cpuset.h — sets of host CPUs and their text form, the CPU list ("0-3,8,10-11") that Linux's
 * cpuset.cpus, libvirt's cpuset attributes and tide's records (a NUMA node's CPUs, the CPUs
 * pinned on a host, a host's shared pool) all use. One parser for placement (src/sched) and
 * the hypervisor drivers (src/agent). Pure: no I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define CPUSET_MAX_CPUS 1024               /* CPU numbers are 0 .. CPUSET_MAX_CPUS - 1 */
#define CPUSET_TEXT_MAX 4095               /* bytes of a CPU list, without the NUL */
#define CPUSET_BYTES (CPUSET_MAX_CPUS / 8) /* libvirt's cpumap: bit n % 8 of byte n / 8 is CPU n */

/* A set of CPUs: bit n % 64 of w[n / 64] is CPU n. Zero-initialised, it is the empty set. */
struct cpuset {
        uint64_t w[CPUSET_MAX_CPUS / 64];
};

/* cpu must be in 0 .. CPUSET_MAX_CPUS - 1. */
static inline void cpuset_set(struct cpuset *s, int cpu) {
        s->w[cpu / 64] |= 1ull << (cpu % 64);
}
static inline void cpuset_clear(struct cpuset *s, int cpu) {
        s->w[cpu / 64] &= ~(1ull << (cpu % 64));
}
static inline bool cpuset_has(const struct cpuset *s, int cpu) {
        return s->w[cpu / 64] >> (cpu % 64) & 1;
}

/* The number of CPUs in s. */
int cpuset_count(const struct cpuset *s);

/* Parses a CPU list: comma-separated decimal CPU numbers ("3", "007" is 7) and ascending
 * ranges ("2-7", "5-5"), each CPU below CPUSET_MAX_CPUS, in any order and overlapping, no
 * spaces, at most CPUSET_TEXT_MAX bytes. The empty string is the empty set (a memory-only
 * NUMA node has no CPUs, a host with nothing pinned pins ""); a caller that needs at least one
 * CPU (a domain's cpuset) checks for 0. Returns the number of CPUs in the set (>= 0) and sets
 * *ret; TIDE_E_INVALID for anything else (NULL, "1,", ",1", "1,,2", "3-2", "1-", " 1", "1024",
 * ...), and then *ret is left alone. */
int cpuset_parse(const char *text, struct cpuset *ret);

/* The CPU list of s, ranges for runs of two or more ("0-3,8,10-11"; "" for the empty set),
 * which cpuset_parse() reads back to s. Caller frees. */
char *cpuset_format(const struct cpuset *s);

/* s as libvirt's cpumap (CPUSET_BYTES bytes, whatever the host's byte order). */
void cpuset_to_bytes(const struct cpuset *s, uint8_t ret[CPUSET_BYTES]);
