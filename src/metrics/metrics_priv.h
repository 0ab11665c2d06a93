/* metrics_priv.h — the inside of struct metrics, shared by metrics.c (recording, rates, JSON)
 * and metrics_prom.c (the Prometheus text). Not for other modules. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/metrics.h"

/* A chained hash map of nodes embedded in their objects (first member), keyed by a string the
 * object owns. */
struct metrics_hnode {
        struct metrics_hnode *next;
        const char *key;
        uint64_t hash;
};

struct metrics_hmap {
        struct metrics_hnode **buckets;
        size_t n_buckets; /* 0 or a power of two */
        size_t n;
};

/* What one sample of a VM says, rates included: one entry of its ring. */
struct metrics_vm_point {
        int64_t t_ms;
        bool has_rates; /* false for the first sample and after a clock step back */
        bool running;
        double cpu_cores, ready_cores, vcpu_busy_max;
        int vcpus, vcpus_max;
        int64_t balloon_kib, balloon_max_kib;
        bool has_guest_mem;
        int64_t mem_available_kib, mem_unused_kib, mem_usable_kib, mem_rss_kib;
};

struct metrics_host_point {
        int64_t t_ms;
        bool has_rates;
        int cpus;
        double cpu_busy_cores, cpu_idle_cores, cpu_iowait_cores;
        int64_t mem_total_kib, mem_free_kib, mem_available_kib;
        double load1, load5, load15;
};

struct metrics_action {
        char *kind;
        uint64_t count;
};

struct metrics_host;

struct metrics_vm {
        struct metrics_hnode node; /* key: id */
        char *id, *name;
        struct metrics_host *host;
        struct metrics_vm *host_prev, *host_next; /* the host's list of VMs */
        uint64_t seen;                            /* generation of the last record that had it */
        /* The latest sample as given (its strings point at id, name and host->name). */
        int64_t last_t_ms;
        struct metrics_vm_sample last;
        struct metrics_vm_point *ring; /* history entries; ring[(head + i) % cap], i < len */
        size_t head, len;
        bool has_elastic;
        double demand_cores, entitlement_cores;
        struct metrics_action *actions;
        size_t n_actions;
};

struct metrics_host {
        struct metrics_hnode node; /* key: name */
        char *name;
        int64_t last_t_ms;
        struct metrics_host_sample last; /* .host points at name */
        struct metrics_host_point *ring;
        size_t head, len;
        struct metrics_vm *vms; /* first of its VMs */
        size_t n_vms;
};

struct metrics {
        pthread_mutex_t lock;
        size_t history; /* ring capacity of every VM and host */
        uint64_t gen;
        struct metrics_hmap vms, hosts;
};

/* The newest ring entry (the ring is never empty once an object exists). */
static inline const struct metrics_vm_point *metrics_vm_latest(const struct metrics_vm *vm, size_t cap) {
        return &vm->ring[(vm->head + vm->len - 1) % cap];
}
static inline const struct metrics_host_point *metrics_host_latest(const struct metrics_host *h, size_t cap) {
        return &h->ring[(h->head + h->len - 1) % cap];
}

/* Every VM and every host, sorted (VMs by host, name, id; hosts by name) into new arrays;
 * caller holds the lock and frees the arrays (not the objects). */
void metrics_sorted_vms(struct metrics *m, struct metrics_vm ***ret, size_t *ret_n);
void metrics_sorted_hosts(struct metrics *m, struct metrics_host ***ret, size_t *ret_n);

/* Bytes in the valid UTF-8 sequence at s (1..4), or 0 when s does not start one (overlong
 * forms, surrogates and code points past U+10FFFF included). */
size_t metrics_utf8_len(const unsigned char *s);
