/* sched_explain.h — placement in words: why a host passed or which filter rejected it and by
 * how much (what `tide placement explain` shows), and the no-valid-host message. Not on the hot
 * path: the scan calls it only when asked for an explanation, or when no host is valid.
 *
 * Static functions, compiled into sched_place.c alone (which says why); nothing else includes
 * this file. */
#pragma once

#include <math.h>
#include <stdio.h>

#include "common/strbuf.h"
#include "sched_place_priv.h"
#include "sched_filter.h"

/* Explanation of one host's verdict (not on the hot path). */
static void explain_detail(const struct req_ctx *c, const struct sched_host *h, const struct eff *f,
                           const struct eval *e, char *buf, size_t size) {
        const struct sched_request *req = c->req;
        const struct sched_host_totals *t = &h->sum;
        long long ram = (long long) req->ram_mib;
        double pool = t->pool_mib - f->res_ram;
        switch (e->filter) {
        case -1:
                if (c->numa_vm && e->spread && e->node >= 0)
                        snprintf(buf, size, "CPUs spread over NUMA nodes, memory on node %d", h->numa[e->node].id);
                else if (c->numa_vm && e->spread)
                        snprintf(buf, size, "CPUs spread over NUMA nodes, memory not bound");
                else if (c->numa_vm)
                        snprintf(buf, size, "NUMA node %d", h->numa[e->node].id);
                else
                        snprintf(buf, size, "fits");
                break;
        case SCHED_F_STATE:
                snprintf(buf, size, "host is %s", !h->up ? "down" : "draining");
                break;
        case SCHED_F_HINT:
                for (int i = 0; i < c->n_hints; i++)
                        if (!hint_matches(&c->hints[i], h)) {
                                snprintf(buf, size, "does not match hint %.80s", req->hints[i]);
                                break;
                        }
                break;
        case SCHED_F_AFFINITY:
                if (req->group_policy == SCHED_GROUP_AFFINITY)
                        snprintf(buf, size, "affinity: no member of the group here");
                else
                        snprintf(buf, size, "anti-affinity: %d member%s of the group here", e->members,
                                 e->members == 1 ? "" : "s");
                break;
        case SCHED_F_CPU: {
                int shared = h->cpus - f->reserved - t->n_pinned;
                if (c->dedicated) {
                        int left = shared - req->vcpus;
                        snprintf(buf, size, "pinning %d CPU%s leaves room for %lld shared vCPUs, %lld in use",
                                 req->vcpus, req->vcpus == 1 ? "" : "s",
                                 (long long) floor((left > 0 ? left : 0) * f->cr), (long long) h->used_vcpus);
                } else {
                        long long cap = (long long) floor(shared * f->cr);
                        snprintf(buf, size, "needs %d vCPU%s, %lld of %lld free", req->vcpus,
                                 req->vcpus == 1 ? "" : "s", cap - (long long) h->used_vcpus, cap);
                }
                break;
        }
        case SCHED_F_RAM:
                if (c->dedicated)
                        snprintf(buf, size, "needs %lld MiB not overcommitted, %lld free", ram,
                                 (long long) pool -
                                         (long long) ceil((double) h->used_ram_mib / (f->rr > 0 ? f->rr : 1)));
                else {
                        long long cap = (long long) floor(pool * f->rr);
                        snprintf(buf, size, "needs %lld MiB, %lld of %lld free", ram, cap - (long long) h->used_ram_mib,
                                 cap);
                }
                break;
        case SCHED_F_DISK: {
                long long cap = (long long) floor((double) h->disk_gib * f->dr);
                snprintf(buf, size, "needs %lld GiB, %lld of %lld free", (long long) req->disk_gib,
                         cap - (long long) h->used_disk_gib, cap);
                break;
        }
        case SCHED_F_DEDICATED:
                snprintf(buf, size, "needs %d free CPU%s to pin, %d free", req->vcpus, req->vcpus == 1 ? "" : "s",
                         e->free_pin);
                break;
        case SCHED_F_NUMA:
                if (c->dedicated && c->hugepages)
                        snprintf(buf, size, "no NUMA node has %d free CPU%s and %lld MiB of free hugepages", req->vcpus,
                                 req->vcpus == 1 ? "" : "s", ram);
                else if (c->dedicated)
                        snprintf(buf, size, "no NUMA node has %d free CPU%s and %lld MiB free", req->vcpus,
                                 req->vcpus == 1 ? "" : "s", ram);
                else
                        snprintf(buf, size, "no NUMA node has %lld MiB of free hugepages", ram);
                break;
        case SCHED_F_HUGEPAGES:
                if (t->hugepages_mib == 0)
                        snprintf(buf, size, "no hugepages");
                else
                        snprintf(buf, size, "needs %lld MiB of hugepages, %lld free", ram,
                                 (long long) (t->hugepages_mib - t->hugepages_used_mib));
                break;
        default:
                buf[0] = 0;
        }
}

static char *no_host_reason(size_t n, const size_t rejected[SCHED_F_MAX]) {
        struct strbuf b = STRBUF_INIT(0);
        strbuf_printf(&b, "no valid host: %zu host%s", n, n == 1 ? "" : "s");
        bool first = true;
        for (int f = 0; f < SCHED_F_MAX; f++) {
                if (!rejected[f])
                        continue;
                strbuf_printf(&b, first ? "; %zu rejected by %s" : ", %zu by %s", rejected[f], filter_names[f]);
                first = false;
        }
        return strbuf_steal(&b);
}
