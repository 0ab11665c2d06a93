/* hv_libvirt_priv.h — what hv_libvirt.c (connections, domains, host information, CPU sets) and
 * hv_libvirt_tune.c (statistics and the elastic controls) share. Not for use outside
 * src/agent/hv_libvirt*.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "agent/hv.h"

struct hv_conn {
        struct hv_conn_base base; /* first: hv_conn_driver() reads it */
        virConnectPtr vc;
        const char *accel;       /* static: "kvm" or "tcg" */
        const char *domain_type; /* static: "kvm" or "qemu", follows accel */
        char *disk_dir;          /* where instance disks live (the state directory), or NULL */
        char *run_dir;           /* where libvirt keeps <domain>.pid of running domains (QEMU
                                     * on this host: embedded or qemu:///system), or NULL */
        bool local;              /* the hypervisor is this host: its /proc is ours */
        bool vcpu_unplug;        /* vCPUs can be hot-removed: KVM, not TCG (hv.h) */
};

/* This thread's last libvirt error as a tide error (its text kept for hv_last_error()); call
 * right after the failing libvirt call. */
int lv_fail(void);
/* Sets the error text; returns error. */
int lv_fail_with(int error, const char *msg);
void lv_domain_freep(virDomainPtr *d);
#define _cleanup_domain_ _cleanup_(lv_domain_freep)
/* The domain with that UUID (caller frees, _cleanup_domain_). */
int lv_lookup(struct hv_conn *c, const char *uuid, virDomainPtr *ret);
/* 1 when running (or paused, or any state with a QEMU process), 0 when off. */
int lv_is_active(virDomainPtr d);
/* The balloon's current size in KiB, or -1. */
int64_t lv_balloon_kib(virDomainPtr d);

/* hv_libvirt_tune.c: the driver's statistics and elastic controls (hv.h). */
int lv_stats(struct hv_conn *c, struct hv_domain_stats **ret, size_t *ret_n);
int lv_host_stats(struct hv_conn *c, struct hv_host_stats *ret);
int lv_set_vcpus(struct hv_conn *c, const char *uuid, int n);
int lv_set_memory(struct hv_conn *c, const char *uuid, int64_t mib);
int lv_set_cpu_tune(struct hv_conn *c, const char *uuid, const struct hv_cpu_tune *t);
int lv_get_cpu_tune(struct hv_conn *c, const char *uuid, struct hv_cpu_tune *ret);

/* hv_libvirt_migrate.c: live migration (hv.h). */
int lv_migrate(struct hv_conn *c, const char *uuid, const struct hv_migrate_params *p, hv_migrate_progress_fn progress,
               void *userdata, struct hv_migrate_result *ret);
int lv_migrate_abort(struct hv_conn *c, const char *uuid);
int lv_domain_state_at(struct hv_conn *c, const char *target_uri, const char *uuid, enum hv_state *ret_state);
