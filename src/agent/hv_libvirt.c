/* hv_libvirt.c — the hypervisor driver on libvirt's QEMU driver.
 *
 * The only file in tide that includes <libvirt/libvirt.h>. Where a libvirtd (or virtqemud)
 * answers, it talks to qemu:///system; otherwise it runs libvirt's QEMU driver inside this
 * process (qemu:///embed?root=<state dir>/libvirt). The embedded driver keeps its state under
 * that root, daemonizes QEMU, and on the next open in any process reconnects to the QEMU
 * processes it finds there: VMs outlive the agent.
 *
 * libvirt needs an event loop for the embedded driver's monitors (and for keepalives of a
 * remote connection): one thread per process runs libvirt's default loop while at least one
 * connection is open. libvirt's errors are kept per thread for hv_last_error() instead of being
 * printed. Library code: nothing here logs. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/uri.h>
#include <libxml/xpath.h>

#include "agent/hv.h"
#include "common/errors.h"
#include "common/util.h"

#define HV_SYSTEM_URI "qemu:///system"
#define HV_EMBED_URI "qemu:///embed"
#define HV_SHUTDOWN_POLL_MS 50
#define HV_SHUTDOWN_REPRESS_MS 5000
#define HV_CAPS_MAX (16u << 20)

struct hv_conn {
        struct hv_conn_base base;   /* first: hv_conn_driver() reads it */
        virConnectPtr vc;
        const char *accel;          /* static: "kvm" or "tcg" */
        const char *domain_type;    /* static: "kvm" or "qemu", follows accel */
};

/* ---- errors ---- */

static _Thread_local char last_error[1024];

const char *hv_last_error(void) {
        return last_error;
}

static void set_last_error(const char *msg) {
        snprintf(last_error, sizeof last_error, "%s", msg);
}

/* Replaces libvirt's default handler, which prints every error to stderr. Errors raised in
 * libvirt's own threads land in those threads' buffers, where nobody reads them: that is
 * fine, the API call that cares sees its error through fail(). */
static void error_func(void *opaque, virErrorPtr e) {
        if (e && e->message)
                set_last_error(e->message);
}

/* Turns this thread's last libvirt error into a tide error and keeps its text. Call right
 * after the failing libvirt call: every public libvirt function resets the error. */
static int fail(void) {
        virErrorPtr e = virGetLastError();
        set_last_error(e && e->message ? e->message : "unknown libvirt error");
        switch (e ? e->code : VIR_ERR_INTERNAL_ERROR) {
        case VIR_ERR_NO_DOMAIN:
                return TIDE_E_NOT_FOUND;
        case VIR_ERR_INVALID_ARG:
                return TIDE_E_INVALID;
        default:
                return TIDE_E_BACKEND;
        }
}

static int fail_with(int error, const char *msg) {
        set_last_error(msg);
        return error;
}

static void domain_freep(virDomainPtr *d) {
        if (*d)
                virDomainFree(*d);
}
#define _cleanup_domain_ _cleanup_(domain_freep)

/* ---- process-wide setup and the event loop ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

static void init_process(void) {
        if (virInitialize() < 0) {
                init_result = fail();
                return;
        }
        virSetErrorFunc(NULL, error_func);
        /* The default implementation must be registered before the first connection opens;
         * libvirt offers no way to unregister it, so this is once per process. */
        if (virEventRegisterDefaultImpl() < 0)
                init_result = fail();
}

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned loop_users;          /* open connections; under loop_lock */
static pthread_t loop_thread;
static atomic_bool loop_quit;

static void *loop_main(void *arg) {
        while (!atomic_load(&loop_quit))
                if (virEventRunDefaultImpl() < 0)
                        nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        return NULL;
}

/* A zero timeout fires on the loop's next iteration: it wakes the loop out of poll(). */
static void loop_wake(int timer, void *opaque) {
}

static int loop_ref(void) {
        pthread_mutex_lock(&loop_lock);
        int r = 0;
        if (loop_users == 0) {
                atomic_store(&loop_quit, false);
                /* Signals belong to the daemon's main thread, not to libvirt's loop. */
                sigset_t all, old;
                sigfillset(&all);
                pthread_sigmask(SIG_BLOCK, &all, &old);
                r = -pthread_create(&loop_thread, NULL, loop_main, NULL);
                pthread_sigmask(SIG_SETMASK, &old, NULL);
        }
        if (r == 0)
                loop_users++;
        pthread_mutex_unlock(&loop_lock);
        return r;
}

static void loop_unref(void) {
        pthread_mutex_lock(&loop_lock);
        if (--loop_users == 0) {
                atomic_store(&loop_quit, true);
                int t = virEventAddTimeout(0, loop_wake, NULL, NULL);
                pthread_join(loop_thread, NULL);
                if (t >= 0)
                        virEventRemoveTimeout(t);
        }
        pthread_mutex_unlock(&loop_lock);
}

/* ---- choosing and preparing the connection ---- */

/* Whether a libvirt daemon listens on path. A plain connect() does not hang the way
 * virConnectOpen() can on a stale daemon; a full backlog still means someone is there. */
static bool socket_answers(const char *path) {
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return false;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0)
                return true;
        return errno == EAGAIN || errno == EINPROGRESS;
}

static bool daemon_answers(void) {
        /* virtqemud: the modular daemons; libvirt's client picks whichever runs. */
        return socket_answers("/run/libvirt/virtqemud-sock") ||
               socket_answers("/run/libvirt/libvirt-sock");
}

/* The root= parameter of an embed URI, unescaped; NULL when there is none. */
static char *embed_root(const char *uri) {
        xmlURIPtr u = xmlParseURI(uri);
        if (!u)
                return NULL;
        char *root = NULL;
        const char *q = u->query_raw ? u->query_raw : u->query;
        while (q && *q && !root) {
                size_t n = strcspn(q, "&;");
                if (n > 5 && strncmp(q, "root=", 5) == 0) {
                        char *v = xmlURIUnescapeString(q + 5, (int) (n - 5), NULL);
                        if (v) {
                                root = xstrdup(v);
                                xmlFree(v);
                        }
                }
                q += n;
                if (*q)
                        q++;
        }
        xmlFreeURI(u);
        return root;
}

static char *embed_uri(const char *root) {
        xmlChar *esc = xmlURIEscapeStr(BAD_CAST root, BAD_CAST "/");
        if (!esc)
                abort();   /* allocation failure, as xmalloc */
        char *uri = xasprintf("%s?root=%s", HV_EMBED_URI, (const char *) esc);
        xmlFree(esc);
        return uri;
}

/* The embedded driver's configuration, rewritten on every open: tide owns this root. */
static const char qemu_conf[] =
        "# Written by tide at every start of the agent: changes here are lost.\n"
        "#\n"
        "# No virtlogd runs beside the embedded driver: QEMU's stdout and stderr go to\n"
        "# <root>/log/qemu/<domain>.log directly.\n"
        "stdio_handler = \"file\"\n"
        "#\n"
        "# QEMU runs as root and libvirt changes no file ownership. tide's state directory and\n"
        "# the images overlays back onto are root's and often 0700 (mkdtemp, /root); as\n"
        "# libvirt-qemu, QEMU could read them only if every directory on their paths were\n"
        "# opened up, and libvirt would chown shared base images back and forth between\n"
        "# the VMs using them. The price is DAC separation between QEMU and the host.\n"
        "user = \"+0\"\n"
        "group = \"+0\"\n"
        "dynamic_ownership = 0\n"
        "remember_owner = 0\n"
        "#\n"
        "# No AppArmor/SELinux profiles: virt-aa-helper knows nothing of tide's paths, and the\n"
        "# result must not depend on whether the host kernel enables a security module.\n"
        "security_driver = \"none\"\n";

static int write_qemu_conf(const char *root) {
        _cleanup_free_ char *etc = xasprintf("%s/etc", root);
        int r = mkdir_p(etc, 0700);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = xasprintf("%s/qemu.conf", etc);
        return write_file_atomic(path, qemu_conf, strlen(qemu_conf), 0600);
}

/* ---- the driver ---- */

static int lv_open(const char *uri, const char *state_dir, struct hv_conn **ret) {
        pthread_once(&init_once, init_process);
        if (init_result < 0)
                return init_result;

        _cleanup_free_ char *chosen = NULL, *root = NULL;
        if (uri)
                chosen = xstrdup(uri);
        else if (daemon_answers())
                chosen = xstrdup(HV_SYSTEM_URI);
        else {
                if (!state_dir || state_dir[0] != '/')
                        return fail_with(TIDE_E_INVALID, "the embedded driver needs an absolute state directory");
                root = xasprintf("%s/libvirt", state_dir);
                chosen = embed_uri(root);
        }
        if (startswith(chosen, HV_EMBED_URI)) {
                if (!root && !(root = embed_root(chosen)))
                        return fail_with(TIDE_E_INVALID, "embed URI without root=");
                int r = write_qemu_conf(root);
                if (r < 0)
                        return fail_with(r, "cannot write the embedded driver's qemu.conf");
        }

        int r = loop_ref();
        if (r < 0)
                return fail_with(r, "cannot start the libvirt event loop thread");
        virConnectPtr vc = virConnectOpen(chosen);
        if (!vc) {
                r = fail();
                loop_unref();
                return r;
        }
        if (!startswith(chosen, HV_EMBED_URI))
                (void) virConnectSetKeepAlive(vc, 5, 3);   /* a dead daemon fails calls, not hangs */

        struct hv_conn *c = xcalloc(1, sizeof *c);
        c->base.driver = &hv_libvirt_driver;
        c->vc = vc;
        c->accel = hv_detect_accel(NULL);
        c->domain_type = streq(c->accel, "kvm") ? "kvm" : "qemu";
        *ret = c;
        return 0;
}

/* Closes the connection; the domains keep running. NULL is fine. */
static void lv_close(struct hv_conn *c) {
        if (!c)
                return;
        virConnectClose(c->vc);
        free(c);
        loop_unref();
}

/* Number of NUMA cells in the capabilities XML; 0 when it cannot tell. */
static int caps_numa_cells(const char *caps) {
        size_t len = strlen(caps);
        if (len > HV_CAPS_MAX)
                return 0;
        xmlDocPtr doc = xmlReadMemory(caps, (int) len, "capabilities.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return 0;
        int n = 0;
        xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        if (ctx) {
                xmlXPathObjectPtr o = xmlXPathEvalExpression(
                        BAD_CAST "count(/capabilities/host/topology/cells/cell)", ctx);
                if (o && o->type == XPATH_NUMBER && o->floatval >= 0 && o->floatval < 65536)
                        n = (int) o->floatval;
                xmlXPathFreeObject(o);
                xmlXPathFreeContext(ctx);
        }
        xmlFreeDoc(doc);
        return n;
}

static int lv_host_info(struct hv_conn *c, struct hv_host_info *ret) {
        virNodeInfo ni;
        if (virNodeGetInfo(c->vc, &ni) < 0)
                return fail();
        char *caps = virConnectGetCapabilities(c->vc);
        if (!caps)
                return fail();
        int cells = caps_numa_cells(caps);
        free(caps);
        char *host = virConnectGetHostname(c->vc);
        if (!host)
                return fail();
        char *uri = virConnectGetURI(c->vc);
        if (!uri) {
                int r = fail();
                free(host);
                return r;
        }

        /* virNodeInfo counts sockets per NUMA node (and reports nodes = 1 for topologies
         * it cannot describe); the capabilities list the real cells. */
        *ret = (struct hv_host_info) {
                .hostname = host,
                .cpus = (int) ni.cpus,
                .sockets = (int) (ni.sockets * (ni.nodes > 0 ? ni.nodes : 1)),
                .cores = (int) ni.cores,
                .threads = (int) ni.threads,
                .numa_nodes = cells > 0 ? cells : (int) ni.nodes,
                .mem_mib = (int64_t) (ni.memory / 1024),
                .accel = xstrdup(c->accel),
                .uri = uri,
        };
        return 0;
}

static int lookup(struct hv_conn *c, const char *uuid, virDomainPtr *ret) {
        if (!uuid)
                return fail_with(TIDE_E_INVALID, "no domain UUID");
        virDomainPtr d = virDomainLookupByUUIDString(c->vc, uuid);
        if (!d)
                return fail();
        *ret = d;
        return 0;
}

/* 1 when running (or paused, or any state with a QEMU process), 0 when off. */
static int is_active(virDomainPtr d) {
        int a = virDomainIsActive(d);
        return a < 0 ? fail() : a;
}

static int lv_define(struct hv_conn *c, const struct hv_domain_spec *spec) {
        _cleanup_free_ char *xml = NULL;
        int r = hv_domain_xml(spec, c->domain_type, &xml);
        if (r < 0)
                return fail_with(r, "invalid domain spec");
        _cleanup_domain_ virDomainPtr d = virDomainDefineXMLFlags(c->vc, xml, VIR_DOMAIN_DEFINE_VALIDATE);
        if (!d)
                return fail();
        return 0;
}

static int lv_start(struct hv_conn *c, const char *uuid) {
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lookup(c, uuid, &d);
        if (r < 0)
                return r;
        if ((r = is_active(d)) != 0)
                return r < 0 ? r : 0;
        if (virDomainCreate(d) < 0) {
                r = fail();
                /* Someone else started it meanwhile: that is what was asked. */
                return is_active(d) == 1 ? 0 : r;
        }
        return 0;
}

/* Powers off d; a domain that is already off is success. */
static int destroy_domain(virDomainPtr d) {
        if (virDomainDestroy(d) < 0) {
                int r = fail();
                return is_active(d) == 0 ? 0 : r;
        }
        return 0;
}

static int lv_destroy(struct hv_conn *c, const char *uuid) {
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lookup(c, uuid, &d);
        if (r < 0)
                return r;
        if ((r = is_active(d)) <= 0)
                return r;
        return destroy_domain(d);
}

static int lv_shutdown(struct hv_conn *c, const char *uuid, int timeout_ms) {
        if (timeout_ms < 0)
                return fail_with(TIDE_E_INVALID, "negative shutdown timeout");
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lookup(c, uuid, &d);
        if (r < 0)
                return r;
        if ((r = is_active(d)) <= 0)
                return r;
        /* The ACPI power button explicitly: without a guest agent configured that is what
         * libvirt would pick anyway, and it never waits for an agent. */
        if (virDomainShutdownFlags(d, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0) {
                r = fail();
                int a = is_active(d);
                if (a <= 0)
                        return a == 0 ? 0 : r;
                /* The button could not be pressed (paused guest, monitor busy): power off. */
                r = destroy_domain(d);
                return r < 0 ? r : 1;
        }
        int64_t now = mono_ms(), deadline = now + timeout_ms, press = now + HV_SHUTDOWN_REPRESS_MS;
        for (;;) {
                int a = is_active(d);
                if (a <= 0)
                        return a;
                now = mono_ms();
                if (now >= deadline)
                        break;
                /* A guest still booting may not listen to the button yet and loses the
                 * event: press it again now and then (as OpenStack Nova does). */
                if (now >= press) {
                        (void) virDomainShutdownFlags(d, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN);
                        press = now + HV_SHUTDOWN_REPRESS_MS;
                }
                nanosleep(&(struct timespec) { .tv_nsec = HV_SHUTDOWN_POLL_MS * 1000 * 1000 }, NULL);
        }
        r = destroy_domain(d);
        return r < 0 ? r : 1;
}

static int lv_reboot(struct hv_conn *c, const char *uuid) {
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lookup(c, uuid, &d);
        if (r < 0)
                return r;
        if ((r = is_active(d)) <= 0)
                return r < 0 ? r : fail_with(TIDE_E_CONFLICT, "domain is not running");
        if (virDomainReset(d, 0) < 0) {
                r = fail();
                return is_active(d) == 0 ? fail_with(TIDE_E_CONFLICT, "domain is not running") : r;
        }
        return 0;
}

static int lv_undefine(struct hv_conn *c, const char *uuid) {
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lookup(c, uuid, &d);
        if (r < 0)
                return r == TIDE_E_NOT_FOUND ? 0 : r;
        if ((r = is_active(d)) < 0)
                return r == TIDE_E_NOT_FOUND ? 0 : r;
        if (r > 0 && (r = destroy_domain(d)) < 0)
                return r == TIDE_E_NOT_FOUND ? 0 : r;
        /* Whatever libvirt keeps beside the definition must not make undefine fail. */
        unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                         VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM;
        if (virDomainUndefineFlags(d, flags) < 0) {
                r = fail();
                /* A transient domain disappears with destroy: nothing left to undefine. */
                return r == TIDE_E_NOT_FOUND ? 0 : r;
        }
        return 0;
}

static enum hv_state state_from_libvirt(unsigned char s) {
        switch (s) {
        case VIR_DOMAIN_RUNNING: return HV_STATE_RUNNING;
        case VIR_DOMAIN_BLOCKED: return HV_STATE_BLOCKED;
        case VIR_DOMAIN_PAUSED: return HV_STATE_PAUSED;
        case VIR_DOMAIN_SHUTDOWN: return HV_STATE_SHUTDOWN;
        case VIR_DOMAIN_SHUTOFF: return HV_STATE_SHUTOFF;
        case VIR_DOMAIN_CRASHED: return HV_STATE_CRASHED;
        case VIR_DOMAIN_PMSUSPENDED: return HV_STATE_PMSUSPENDED;
        default: return HV_STATE_NOSTATE;
        }
}

/* The balloon's current size in KiB, or -1. Asking for it also takes a libvirt job on the
 * domain, which waits until the embedded driver has finished reconnecting to a QEMU started
 * by an earlier process: until then virDomainGetInfo() reports the state saved on disk, e.g.
 * "running" for a QEMU that died meanwhile. */
static int64_t balloon_kib(virDomainPtr d) {
        virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
        int n = virDomainMemoryStats(d, st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
        for (int i = 0; i < n; i++)
                if (st[i].tag == VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON)
                        return (int64_t) st[i].val;
        return -1;   /* failure included: the domain stopped, or there is no balloon */
}

static int fill_info(virDomainPtr d, struct hv_domain_info *ret) {
        virDomainInfo vi;
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetInfo(d, &vi) < 0)
                return fail();
        int64_t mem_kib = (int64_t) vi.memory;
        if (vi.state != VIR_DOMAIN_SHUTOFF) {
                /* virDomainGetInfo's memory is the balloon size libvirt last heard of in an
                 * event, which a previous process may have received instead of this one. */
                int64_t b = balloon_kib(d);
                if (virDomainGetInfo(d, &vi) < 0)
                        return fail();
                mem_kib = b >= 0 && vi.state != VIR_DOMAIN_SHUTOFF ? b : (int64_t) vi.memory;
        }
        int persistent = virDomainIsPersistent(d);
        if (persistent < 0)
                return fail();
        const char *name = virDomainGetName(d);
        if (!name || virDomainGetUUIDString(d, uuid) < 0)
                return fail();
        *ret = (struct hv_domain_info) {
                .uuid = xstrdup(uuid),
                .name = xstrdup(name),
                .state = state_from_libvirt(vi.state),
                .vcpus = vi.nrVirtCpu,
                .mem_kib = mem_kib,
                .max_mem_kib = (int64_t) vi.maxMem,
                .persistent = persistent > 0,
                .cpu_time_ns = (int64_t) vi.cpuTime,
        };
        return 0;
}

static int lv_domain_info(struct hv_conn *c, const char *uuid, struct hv_domain_info *ret) {
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lookup(c, uuid, &d);
        if (r < 0)
                return r;
        return fill_info(d, ret);
}

static int lv_list(struct hv_conn *c, struct hv_domain_info **ret, size_t *ret_n) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(c->vc, &doms, 0);
        if (n < 0)
                return fail();
        struct hv_domain_info *out = n > 0 ? xcalloc((size_t) n, sizeof *out) : NULL;
        size_t k = 0;
        int r = 0;
        for (int i = 0; i < n; i++) {
                const char *name = virDomainGetName(doms[i]);
                if (r >= 0 && name && startswith(name, HV_DOMAIN_PREFIX)) {
                        int q = fill_info(doms[i], &out[k]);
                        if (q >= 0)
                                k++;
                        else if (q != TIDE_E_NOT_FOUND)   /* undefined meanwhile: skip it */
                                r = q;
                }
                virDomainFree(doms[i]);
        }
        free(doms);
        if (r < 0) {
                hv_domain_info_array_free(out, k);
                return r;
        }
        *ret = out;
        *ret_n = k;
        return 0;
}

/* The libvirt driver (hv.h). Idempotent where hv.h says so; errors map VIR_ERR_NO_DOMAIN to
 * TIDE_E_NOT_FOUND, VIR_ERR_INVALID_ARG to TIDE_E_INVALID and everything else to
 * TIDE_E_BACKEND, with libvirt's text in hv_last_error(). The first use of a fresh embedded
 * root probes QEMU's capabilities (seconds); libvirt caches them under the root. */
const struct hv_driver hv_libvirt_driver = {
        .name = "libvirt",
        .open = lv_open,
        .close = lv_close,
        .host_info = lv_host_info,
        .define = lv_define,
        .start = lv_start,
        .shutdown = lv_shutdown,
        .destroy = lv_destroy,
        .reboot = lv_reboot,
        .undefine = lv_undefine,
        .domain_info = lv_domain_info,
        .list = lv_list,
};
