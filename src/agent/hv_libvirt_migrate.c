/* hv_libvirt_migrate.c — the libvirt driver's live migration (hv.h: migrate, migrate_abort,
 * domain_state_at): peer to peer, the source libvirtd driving the job, the target's changes in
 * a destination XML edited from the domain's own migratable XML (libxml2's tree, never text). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "agent/hv_libvirt_priv.h"
#include "common/errors.h"
#include "common/util.h"

#define POLL_MS_DEFAULT 500
#define ABORT_WAIT_MS 20000 /* how long migrate_abort() waits for an aborted job to end */
#define ABORT_POLL_MS 100
#define MIB (1024.0 * 1024.0)

static int64_t mono_ms_lv(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
}

/* ---- the destination XML ---- */

/* The nodes expr selects in doc (NULL when none); caller frees with xmlXPathFreeObject. */
static xmlXPathObjectPtr select_nodes(xmlXPathContextPtr ctx, const char *expr) {
        xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *) expr, ctx);
        if (o && (!o->nodesetval || o->nodesetval->nodeNr == 0)) {
                xmlXPathFreeObject(o);
                return NULL;
        }
        return o;
}

/* Sets attribute name of every node expr selects to value. */
static void set_attr_all(xmlXPathContextPtr ctx, const char *expr, const char *name, const char *value) {
        xmlXPathObjectPtr o = select_nodes(ctx, expr);
        for (int i = 0; o && i < o->nodesetval->nodeNr; i++)
                xmlSetProp(o->nodesetval->nodeTab[i], (const xmlChar *) name, (const xmlChar *) value);
        xmlXPathFreeObject(o);
}

/* Removes every node expr selects. */
static void remove_all(xmlXPathContextPtr ctx, const char *expr) {
        xmlXPathObjectPtr o = select_nodes(ctx, expr);
        for (int i = 0; o && i < o->nodesetval->nodeNr; i++) {
                xmlUnlinkNode(o->nodesetval->nodeTab[i]);
                xmlFreeNode(o->nodesetval->nodeTab[i]);
        }
        xmlXPathFreeObject(o);
}

/* The first node expr selects, or NULL. */
static xmlNodePtr first_node(xmlXPathContextPtr ctx, const char *expr) {
        xmlXPathObjectPtr o = select_nodes(ctx, expr);
        xmlNodePtr n = o ? o->nodesetval->nodeTab[0] : NULL;
        xmlXPathFreeObject(o);
        return n;
}

/* The element name under parent, made when missing. */
static xmlNodePtr child(xmlNodePtr parent, const char *name) {
        for (xmlNodePtr n = parent->children; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *) name))
                        return n;
        return xmlNewChild(parent, NULL, (const xmlChar *) name, NULL);
}

/* The domain's XML (flags: live or inactive, migratable) with dest's placement and paths. */
static int dest_xml(virDomainPtr dom, unsigned flags, const struct hv_domain_spec *dest, char **ret) {
        char *xml = virDomainGetXMLDesc(dom, flags | VIR_DOMAIN_XML_MIGRATABLE | VIR_DOMAIN_XML_SECURE);
        if (!xml)
                return lv_fail();
        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
        free(xml);
        if (!doc)
                return lv_fail_with(TIDE_E_BACKEND, "cannot parse the domain's XML");
        xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        xmlNodePtr root = xmlDocGetRootElement(doc);
        char num[32];

        /* Placement: the target's pins, NUMA node and shared pool replace the source's. */
        remove_all(ctx, "/domain/cputune/vcpupin | /domain/cputune/emulatorpin");
        xmlNodePtr tune = first_node(ctx, "/domain/cputune");
        if (dest->n_pin_cpus > 0 || dest->cpuset) {
                if (!tune)
                        tune = xmlNewChild(root, NULL, (const xmlChar *) "cputune", NULL);
                for (int i = 0; i < dest->n_pin_cpus; i++) {
                        xmlNodePtr pin = xmlNewChild(tune, NULL, (const xmlChar *) "vcpupin", NULL);
                        snprintf(num, sizeof num, "%d", i);
                        xmlSetProp(pin, (const xmlChar *) "vcpu", (const xmlChar *) num);
                        snprintf(num, sizeof num, "%d", dest->pin_cpus[i]);
                        xmlSetProp(pin, (const xmlChar *) "cpuset", (const xmlChar *) num);
                }
                if (dest->cpuset) {
                        xmlNodePtr em = xmlNewChild(tune, NULL, (const xmlChar *) "emulatorpin", NULL);
                        xmlSetProp(em, (const xmlChar *) "cpuset", (const xmlChar *) dest->cpuset);
                }
        }
        xmlNodePtr vcpu = first_node(ctx, "/domain/vcpu");
        if (vcpu && dest->cpuset && dest->n_pin_cpus == 0)
                xmlSetProp(vcpu, (const xmlChar *) "cpuset", (const xmlChar *) dest->cpuset);
        else if (vcpu)
                xmlUnsetProp(vcpu, (const xmlChar *) "cpuset");
        if (dest->has_numa_node) {
                xmlNodePtr mem = child(child(root, "numatune"), "memory");
                snprintf(num, sizeof num, "%d", dest->numa_node);
                xmlSetProp(mem, (const xmlChar *) "mode", (const xmlChar *) "strict");
                xmlSetProp(mem, (const xmlChar *) "nodeset", (const xmlChar *) num);
        } else
                remove_all(ctx, "/domain/numatune");

        /* Files that live elsewhere on the target. */
        if (dest->disk_path)
                set_attr_all(ctx, "/domain/devices/disk[target/@dev='vda']/source", "file", dest->disk_path);
        if (dest->seed_path)
                set_attr_all(ctx, "/domain/devices/disk[target/@dev='vdb']/source", "file", dest->seed_path);
        if (dest->console_log)
                set_attr_all(ctx, "/domain/devices/serial/source | /domain/devices/console/source", "path",
                             dest->console_log);
        xmlXPathFreeContext(ctx);

        xmlChar *out = NULL;
        int len = 0;
        xmlDocDumpMemory(doc, &out, &len);
        xmlFreeDoc(doc);
        if (!out)
                return lv_fail_with(TIDE_E_BACKEND, "cannot write the destination XML");
        *ret = xstrdup((const char *) out);
        xmlFree(out);
        return 0;
}

/* ---- the job ---- */

struct call {
        virDomainPtr dom;
        char *target_uri;
        virTypedParameterPtr params;
        int n_params;
        unsigned flags;
        int result;  /* virDomainMigrateToURI3's */
        char *error; /* its error text */
        atomic_bool done;
};

static void *call_main(void *p) {
        struct call *k = p;
        k->result = virDomainMigrateToURI3(k->dom, k->target_uri, k->params, k->n_params, k->flags);
        if (k->result < 0) {
                virErrorPtr e = virGetLastError();
                k->error = xstrdup(e && e->message ? e->message : "migration failed");
        }
        atomic_store(&k->done, true);
        return NULL;
}

/* The downtime of domain uuid's last migration, from the target's completed job statistics. */
static int64_t target_downtime(const char *target_uri, const char *uuid) {
        virConnectPtr t = virConnectOpen(target_uri);
        if (!t)
                return -1;
        int64_t downtime = -1;
        virDomainPtr d = virDomainLookupByUUIDString(t, uuid);
        virTypedParameterPtr params = NULL;
        int n = 0, type = 0;
        if (d && virDomainGetJobStats(d, &type, &params, &n, VIR_DOMAIN_JOB_STATS_COMPLETED) == 0) {
                unsigned long long v;
                if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1)
                        downtime = (int64_t) v;
                virTypedParamsFree(params, n);
        }
        if (d)
                virDomainFree(d);
        virConnectClose(t);
        return downtime;
}

int lv_migrate(struct hv_conn *c, const char *uuid, const struct hv_migrate_params *p, hv_migrate_progress_fn progress,
               void *userdata, struct hv_migrate_result *ret) {
        if (!p || !p->target_uri || p->bandwidth_mib_s < 0 || p->max_downtime_ms < 0 || p->poll_ms < 0)
                return lv_fail_with(TIDE_E_INVALID, "bad migration parameters");
        _cleanup_domain_ virDomainPtr dom = NULL;
        int r = lv_lookup(c, uuid, &dom);
        if (r < 0)
                return r;
        if (lv_is_active(dom) != 1)
                return lv_fail_with(TIDE_E_CONFLICT, "the domain is not running");
        virDomainJobInfo ji;
        if (virDomainGetJobInfo(dom, &ji) == 0 && ji.type != VIR_DOMAIN_JOB_NONE)
                return lv_fail_with(TIDE_E_CONFLICT, "the domain already has a job under way");

        _cleanup_free_ char *live_xml = NULL, *persist_xml = NULL;
        if (p->dest && ((r = dest_xml(dom, 0, p->dest, &live_xml)) < 0 ||
                        (r = dest_xml(dom, VIR_DOMAIN_XML_INACTIVE, p->dest, &persist_xml)) < 0))
                return r;
        virTypedParameterPtr params = NULL;
        int n = 0, max = 0;
        if (p->migrate_uri)
                virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_URI, p->migrate_uri);
        if (live_xml)
                virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_DEST_XML, live_xml);
        if (persist_xml)
                virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_PERSIST_XML, persist_xml);
        if (p->bandwidth_mib_s > 0)
                virTypedParamsAddULLong(&params, &n, &max, VIR_MIGRATE_PARAM_BANDWIDTH,
                                        (unsigned long long) p->bandwidth_mib_s);
        /* UNSAFE: libvirt refuses a disk with a cache other than 'none' (tide's is writeback:
         * tmpfs state directories have no O_DIRECT) unless told; QEMU flushes and hands the
         * image over at the switch, which is what keeps a shared disk coherent. */
        unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                         VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_UNSAFE;
        if (p->copy_disk)
                flags |= VIR_MIGRATE_NON_SHARED_INC;

        struct call k = {
                .dom = dom, .target_uri = (char *) p->target_uri, .params = params, .n_params = n, .flags = flags
        };
        int64_t t0 = mono_ms_lv();
        pthread_t th;
        if ((r = pthread_create(&th, NULL, call_main, &k)) != 0) {
                virTypedParamsFree(params, n);
                return lv_fail_with(-r, "cannot start the migration thread");
        }
        int poll = p->poll_ms > 0 ? p->poll_ms : POLL_MS_DEFAULT;
        bool downtime_set = p->max_downtime_ms == 0, cancelled = false;
        unsigned long long last_processed = 0;
        int64_t last_t = t0;
        while (!atomic_load(&k.done)) {
                /* Short naps until the downtime is set (it applies to a running job only). */
                sleep_ms(downtime_set ? poll : 20);
                if (atomic_load(&k.done))
                        break;
                if (virDomainGetJobInfo(dom, &ji) < 0 || ji.type == VIR_DOMAIN_JOB_NONE)
                        continue;
                if (!downtime_set)
                        downtime_set = virDomainMigrateSetMaxDowntime(dom, (unsigned long long) p->max_downtime_ms,
                                                                      0) == 0;
                if (!downtime_set)
                        continue;
                int64_t t = mono_ms_lv();
                struct hv_migrate_progress pr = {
                        .percent = ji.dataTotal > 0 ? (int) (ji.dataProcessed * 100 / ji.dataTotal) : 0,
                        .elapsed_ms = (int64_t) ji.timeElapsed,
                        .remaining_mib = (int64_t) (ji.dataRemaining / (1024 * 1024)),
                        .total_mib = (int64_t) (ji.dataTotal / (1024 * 1024)),
                        .rate_mib_s = t > last_t && ji.dataProcessed >= last_processed
                                              ? (double) (ji.dataProcessed - last_processed) / MIB * 1000.0 /
                                                        (double) (t - last_t)
                                              : 0,
                };
                last_processed = ji.dataProcessed;
                last_t = t;
                if (!cancelled && progress && progress(&pr, userdata)) {
                        cancelled = true;
                        (void) virDomainAbortJob(dom);
                }
        }
        pthread_join(th, NULL);
        virTypedParamsFree(params, n);
        _cleanup_free_ char *error = k.error;
        if (k.result < 0) {
                if (cancelled)
                        return lv_fail_with(-ECANCELED, "migration cancelled");
                return lv_fail_with(TIDE_E_BACKEND, error);
        }
        if (ret) {
                ret->total_ms = mono_ms_lv() - t0;
                ret->downtime_ms = target_downtime(p->target_uri, uuid);
                ret->data_mib = (int64_t) (last_processed / (1024 * 1024));
        }
        return 0;
}

/* Whether dom still has a job: 1 yes, 0 no (or the domain is gone: a move that completed
 * undefined it here), < 0 when libvirt cannot say. */
static int has_job(virDomainPtr dom) {
        virDomainJobInfo ji;
        if (virDomainGetJobInfo(dom, &ji) == 0)
                return ji.type != VIR_DOMAIN_JOB_NONE;
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_NO_DOMAIN)
                return 0;
        return lv_fail();
}

int lv_migrate_abort(struct hv_conn *c, const char *uuid) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        int r = lv_lookup(c, uuid, &dom);
        if (r == TIDE_E_NOT_FOUND)
                return 0;
        if (r < 0)
                return r;
        if ((r = has_job(dom)) <= 0)
                return r;
        /* A refusal (the job is past the point where QEMU can stop it: the move completes) is
         * no error here: the wait below sees how the job ends. */
        if (virDomainAbortJob(dom) < 0 && (r = has_job(dom)) <= 0)
                return r;
        /* The job ends once libvirtd has resumed the domain here (aborted) or undefined it (the
         * move completed meanwhile): only then does its state here say where it runs. */
        for (int64_t t0 = mono_ms_lv(); mono_ms_lv() - t0 < ABORT_WAIT_MS;) {
                if ((r = has_job(dom)) <= 0)
                        return r;
                sleep_ms(ABORT_POLL_MS);
        }
        hv_set_last_error("the migration job still runs %d s after it was aborted", ABORT_WAIT_MS / 1000);
        return TIDE_E_TIMEOUT;
}

int lv_domain_state_at(struct hv_conn *c, const char *target_uri, const char *uuid, enum hv_state *ret_state) {
        (void) c;
        if (!target_uri)
                return lv_fail_with(TIDE_E_INVALID, "no target URI");
        virConnectPtr t = virConnectOpen(target_uri);
        if (!t)
                return lv_fail();
        virDomainPtr d = virDomainLookupByUUIDString(t, uuid);
        int r = 0;
        if (!d) {
                virErrorPtr e = virGetLastError();
                if (e && e->code == VIR_ERR_NO_DOMAIN)
                        *ret_state = HV_STATE_NOSTATE;
                else
                        r = lv_fail();
        } else {
                int state = 0, reason = 0;
                if (virDomainGetState(d, &state, &reason, 0) < 0)
                        r = lv_fail();
                else
                        *ret_state = state >= 0 && state < HV_STATE_MAX ? (enum hv_state) state : HV_STATE_NOSTATE;
                virDomainFree(d);
        }
        virConnectClose(t);
        return r;
}
