/* hv_libvirt.c — the hypervisor driver on libvirt's QEMU driver.
 *
 * With hv_libvirt_tune.c (statistics, elastic controls) and hv_libvirt_migrate.c (live
 * migration) the only files that include <libvirt/libvirt.h> (hv_libvirt_priv.h). Where a
 * libvirtd answers, it talks to qemu:///system; otherwise it runs libvirt's QEMU driver in this
 * process (qemu:///embed?root=<state dir>/libvirt). The embedded driver keeps its state under
 * that root, daemonizes QEMU, and on the next open in any process reconnects to the QEMU
 * processes it finds there: VMs outlive the agent.
 *
 * libvirt needs an event loop for the embedded driver's monitors (and for keepalives of a
 * remote connection): one thread per process runs libvirt's default loop while at least one
 * connection is open. libvirt's errors are kept per thread for hv_last_error() instead of being
 * printed. Library code: nothing here logs. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/uri.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "agent/hv.h"
#include "agent/hv_libvirt_priv.h"
#include "common/errors.h"
#include "common/util.h"

#define HV_SYSTEM_URI "qemu:///system"
#define HV_EMBED_URI "qemu:///embed"
#define HV_SHUTDOWN_POLL_MS 50
#define HV_SHUTDOWN_REPRESS_MS 5000
#define HV_CAPS_MAX (16u << 20)
#define HV_DOMAIN_XML_MAX (16u << 20)
#define HV_QEMU_THREADS_MAX 4096 /* per pass of move_emulator_threads(); QEMU has ~10 + vCPUs */

/* enum hv_state follows libvirt's numbers, so "state.state" in the statistics maps as is. */
_Static_assert((int) HV_STATE_RUNNING == (int) VIR_DOMAIN_RUNNING &&
                       (int) HV_STATE_SHUTOFF == (int) VIR_DOMAIN_SHUTOFF &&
                       (int) HV_STATE_PMSUSPENDED == (int) VIR_DOMAIN_PMSUSPENDED &&
                       (int) HV_STATE_MAX == (int) VIR_DOMAIN_PMSUSPENDED + 1,
               "enum hv_state must follow virDomainState");

/* ---- errors ---- */

static void set_last_error(const char *msg) {
        hv_set_last_error("%s", msg);
}

/* Replaces libvirt's default handler, which prints every error to stderr. Errors raised in
 * libvirt's own threads land in those threads' buffers, where nobody reads them: that is
 * fine, the API call that cares sees its error through lv_fail(). */
static void error_func(void *opaque, virErrorPtr e) {
        if (e && e->message)
                set_last_error(e->message);
}

/* Turns this thread's last libvirt error into a tide error and keeps its text. Call right
 * after the failing libvirt call: every public libvirt function resets the error. */
int lv_fail(void) {
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

int lv_fail_with(int error, const char *msg) {
        set_last_error(msg);
        return error;
}

void lv_domain_freep(virDomainPtr *d) {
        if (*d)
                virDomainFree(*d);
}

/* ---- process-wide setup and the event loop ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

static void init_process(void) {
        if (virInitialize() < 0) {
                init_result = lv_fail();
                return;
        }
        virSetErrorFunc(NULL, error_func);
        /* The default implementation must be registered before the first connection opens;
         * libvirt offers no way to unregister it, so this is once per process. */
        if (virEventRegisterDefaultImpl() < 0)
                init_result = lv_fail();
}

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned loop_users; /* open connections; under loop_lock */
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
        return socket_answers("/run/libvirt/virtqemud-sock") || socket_answers("/run/libvirt/libvirt-sock");
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
                abort(); /* allocation failure, as xmalloc */
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
                        return lv_fail_with(TIDE_E_INVALID, "the embedded driver needs an absolute state directory");
                root = xasprintf("%s/libvirt", state_dir);
                chosen = embed_uri(root);
        }
        if (startswith(chosen, HV_EMBED_URI)) {
                if (!root && !(root = embed_root(chosen)))
                        return lv_fail_with(TIDE_E_INVALID, "embed URI without root=");
                int r = write_qemu_conf(root);
                if (r < 0)
                        return lv_fail_with(r, "cannot write the embedded driver's qemu.conf");
        }

        int r = loop_ref();
        if (r < 0)
                return lv_fail_with(r, "cannot start the libvirt event loop thread");
        virConnectPtr vc = virConnectOpen(chosen);
        if (!vc) {
                r = lv_fail();
                loop_unref();
                return r;
        }
        if (!startswith(chosen, HV_EMBED_URI))
                (void) virConnectSetKeepAlive(vc, 5, 3); /* a dead daemon fails calls, not hangs */

        struct hv_conn *c = xcalloc(1, sizeof *c);
        c->base.driver = &hv_libvirt_driver;
        c->vc = vc;
        c->accel = hv_detect_accel(NULL);
        c->domain_type = streq(c->accel, "kvm") ? "kvm" : "qemu";
        c->vcpu_unplug = streq(c->accel, "kvm");
        if (state_dir && state_dir[0] == '/')
                c->disk_dir = xstrdup(state_dir);
        else if (root)
                c->disk_dir = xstrdup(root);
        if (root)
                c->run_dir = xasprintf("%s/run/qemu", root);
        else if (streq(chosen, HV_SYSTEM_URI))
                c->run_dir = xstrdup("/run/libvirt/qemu");
        c->local = c->run_dir != NULL;
        *ret = c;
        return 0;
}

/* Closes the connection; the domains keep running. NULL is fine. */
static void lv_close(struct hv_conn *c) {
        if (!c)
                return;
        virConnectClose(c->vc);
        free(c->disk_dir);
        free(c->run_dir);
        free(c);
        loop_unref();
}

/* ---- host information ---- */

/* The node set expr selects relative to node, or NULL (caller frees with xmlXPathFreeObject). */
static xmlXPathObjectPtr xpath_nodes(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr) {
        ctx->node = node;
        xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
        if (o && (o->type != XPATH_NODESET || !o->nodesetval)) {
                xmlXPathFreeObject(o);
                return NULL;
        }
        return o;
}

/* An attribute or the text of node as an integer in [min, max]; -1 when absent or bad. */
static int64_t xml_int(xmlNodePtr node, const char *attr_name, int64_t min, int64_t max) {
        xmlChar *v = attr_name ? xmlGetProp(node, BAD_CAST attr_name) : xmlNodeGetContent(node);
        int64_t n = -1;
        if (!v || parse_int64((const char *) v, min, max, &n) < 0)
                n = -1;
        xmlFree(v);
        return n;
}

/* The size of one unit='...' in KiB, as libvirt writes them; 0 for anything else. */
static int64_t unit_kib(xmlNodePtr node) {
        xmlChar *u = xmlGetProp(node, BAD_CAST "unit");
        int64_t k = 0;
        if (!u || xmlStrcmp(u, BAD_CAST "KiB") == 0)
                k = 1;
        else if (xmlStrcmp(u, BAD_CAST "MiB") == 0)
                k = 1024;
        else if (xmlStrcmp(u, BAD_CAST "GiB") == 0)
                k = 1024 * 1024;
        xmlFree(u);
        return k;
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return x < y ? -1 : x > y;
}

/* "0-7,16-23" for the n CPU numbers in ids (sorted here, duplicates dropped). */
static char *cpu_list(int *ids, size_t n) {
        qsort(ids, n, sizeof *ids, cmp_int);
        _cleanup_free_ char *out = xstrdup("");
        for (size_t i = 0; i < n;) {
                size_t j = i;
                while (j + 1 < n && ids[j + 1] <= ids[j] + 1)
                        j++;
                char *next = ids[j] == ids[i] ? xasprintf("%s%s%d", out, *out ? "," : "", ids[i])
                                              : xasprintf("%s%s%d-%d", out, *out ? "," : "", ids[i], ids[j]);
                free(out);
                out = next;
                i = j + 1;
        }
        return TAKE_PTR(out);
}

/* One <cell> into ret: id, CPUs, memory and hugepages. false when it lacks an id or CPUs. */
static bool parse_cell(xmlXPathContextPtr ctx, xmlNodePtr cell, struct hv_numa_node *ret) {
        int64_t id = xml_int(cell, "id", 0, HV_MAX_NUMA_NODES - 1);
        if (id < 0)
                return false;
        int64_t mem_kib = 0, huge_kib = 0;
        xmlXPathObjectPtr o = xpath_nodes(ctx, cell, "memory");
        if (o && o->nodesetval->nodeNr > 0) {
                xmlNodePtr m = o->nodesetval->nodeTab[0];
                int64_t v = xml_int(m, NULL, 0, INT64_MAX / (1024 * 1024));
                mem_kib = v > 0 ? v * unit_kib(m) : 0;
        }
        xmlXPathFreeObject(o);
        /* Pages bigger than the base page are hugepages: 2 MiB and 1 GiB on x86. */
        o = xpath_nodes(ctx, cell, "pages");
        for (int i = 0; o && i < o->nodesetval->nodeNr; i++) {
                xmlNodePtr p = o->nodesetval->nodeTab[i];
                int64_t size = xml_int(p, "size", 1, INT64_C(1) << 30), count = xml_int(p, NULL, 0, INT64_C(1) << 40);
                int64_t k = unit_kib(p);
                if (size > 0 && count > 0 && k > 0 && size * k > 4)
                        huge_kib += size * k * count;
        }
        xmlXPathFreeObject(o);
        o = xpath_nodes(ctx, cell, "cpus/cpu");
        int n = o ? o->nodesetval->nodeNr : 0;
        _cleanup_free_ int *ids = n > 0 ? xcalloc((size_t) n, sizeof *ids) : NULL;
        int k = 0;
        for (int i = 0; i < n; i++) {
                int64_t cpu = xml_int(o->nodesetval->nodeTab[i], "id", 0, INT32_MAX);
                if (cpu >= 0)
                        ids[k++] = (int) cpu;
        }
        xmlXPathFreeObject(o);
        if (k == 0)
                return false;
        *ret = (struct hv_numa_node) {
                .id = (int) id,
                .cpus = cpu_list(ids, (size_t) k),
                .mem_mib = mem_kib / 1024,
                .hugepages_mib = huge_kib / 1024,
        };
        return true;
}

static int cmp_node(const void *a, const void *b) {
        return cmp_int(&((const struct hv_numa_node *) a)->id, &((const struct hv_numa_node *) b)->id);
}

/* The NUMA cells of the capabilities XML (/capabilities/host/topology/cells/cell), sorted by
 * id; 0 nodes when the XML has none or a cell cannot be read (the caller falls back). */
static void caps_numa(const char *caps, struct hv_numa_node **ret, int *ret_n) {
        *ret = NULL;
        *ret_n = 0;
        size_t len = strlen(caps);
        if (len > HV_CAPS_MAX)
                return;
        xmlDocPtr doc = xmlReadMemory(caps, (int) len, "capabilities.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return;
        xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        xmlXPathObjectPtr o = ctx ? xpath_nodes(ctx, xmlDocGetRootElement(doc),
                                                "/capabilities/host/topology/cells/cell")
                                  : NULL;
        int n = o ? o->nodesetval->nodeNr : 0;
        if (n > HV_MAX_NUMA_NODES)
                n = 0;
        struct hv_numa_node *nodes = n > 0 ? xcalloc((size_t) n, sizeof *nodes) : NULL;
        int k = 0;
        while (k < n && parse_cell(ctx, o->nodesetval->nodeTab[k], &nodes[k]))
                k++;
        xmlXPathFreeObject(o);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        if (k < n) { /* all or nothing: a partial topology would mislead placement */
                for (int i = 0; i < k; i++)
                        free(nodes[i].cpus);
                free(nodes);
                return;
        }
        qsort(nodes, (size_t) n, sizeof *nodes, cmp_node);
        *ret = nodes;
        *ret_n = n;
}

/* Size of the filesystem holding dir in GiB; 0 when unknown. */
static int64_t fs_gib(const char *dir) {
        struct statvfs st;
        if (!dir || statvfs(dir, &st) < 0)
                return 0;
        return (int64_t) ((uint64_t) st.f_blocks * st.f_frsize >> 30);
}

static int lv_host_info(struct hv_conn *c, struct hv_host_info *ret) {
        virNodeInfo ni;
        if (virNodeGetInfo(c->vc, &ni) < 0)
                return lv_fail();
        char *caps = virConnectGetCapabilities(c->vc);
        if (!caps)
                return lv_fail();
        struct hv_numa_node *numa;
        int n_numa;
        caps_numa(caps, &numa, &n_numa);
        free(caps);
        if (n_numa == 0) {
                /* No topology: one node with every CPU and all the memory. */
                numa = xcalloc(1, sizeof *numa);
                numa[0] = (struct hv_numa_node) {
                        .cpus = ni.cpus > 1 ? xasprintf("0-%u", ni.cpus - 1) : xstrdup("0"),
                        .mem_mib = (int64_t) (ni.memory / 1024),
                };
                n_numa = 1;
        }
        char *host = virConnectGetHostname(c->vc);
        char *uri = host ? virConnectGetURI(c->vc) : NULL;
        if (!host || !uri) {
                int r = lv_fail();
                free(host);
                for (int i = 0; i < n_numa; i++)
                        free(numa[i].cpus);
                free(numa);
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
                .numa_nodes = n_numa,
                .mem_mib = (int64_t) (ni.memory / 1024),
                .disk_gib = fs_gib(c->disk_dir),
                .accel = xstrdup(c->accel),
                .vcpu_unplug = c->vcpu_unplug,
                .uri = uri,
                .n_numa = n_numa,
                .numa = numa,
        };
        return 0;
}

int lv_lookup(struct hv_conn *c, const char *uuid, virDomainPtr *ret) {
        if (!uuid)
                return lv_fail_with(TIDE_E_INVALID, "no domain UUID");
        virDomainPtr d = virDomainLookupByUUIDString(c->vc, uuid);
        if (!d)
                return lv_fail();
        *ret = d;
        return 0;
}

/* 1 when running (or paused, or any state with a QEMU process), 0 when off. */
int lv_is_active(virDomainPtr d) {
        int a = virDomainIsActive(d);
        return a < 0 ? lv_fail() : a;
}

/* Whether spec's name belongs to another UUID, or its UUID to another name: libvirt refuses
 * that define with a generic error code. Keeps the define's error text. */
static bool name_clash(struct hv_conn *c, const struct hv_domain_spec *spec) {
        _cleanup_free_ char *msg = xstrdup(hv_last_error());
        bool clash = false;
        char uuid[VIR_UUID_STRING_BUFLEN];
        virDomainPtr d = virDomainLookupByName(c->vc, spec->name);
        if (d) {
                clash = virDomainGetUUIDString(d, uuid) == 0 && !streq(uuid, spec->uuid);
                virDomainFree(d);
        }
        if (!clash && (d = virDomainLookupByUUIDString(c->vc, spec->uuid))) {
                const char *name = virDomainGetName(d);
                clash = name && !streq(name, spec->name);
                virDomainFree(d);
        }
        set_last_error(msg);
        return clash;
}

static int lv_define(struct hv_conn *c, const struct hv_domain_spec *spec) {
        _cleanup_free_ char *xml = NULL;
        int r = hv_domain_xml(spec, c->domain_type, &xml);
        if (r < 0)
                return lv_fail_with(r, "invalid domain spec");
        _cleanup_domain_ virDomainPtr d = virDomainDefineXMLFlags(c->vc, xml, VIR_DOMAIN_DEFINE_VALIDATE);
        if (!d) {
                r = lv_fail();
                return r == TIDE_E_BACKEND && name_clash(c, spec) ? TIDE_E_EXISTS : r;
        }
        return 0;
}

static int lv_start(struct hv_conn *c, const char *uuid) {
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lv_lookup(c, uuid, &d);
        if (r < 0)
                return r;
        if ((r = lv_is_active(d)) != 0)
                return r < 0 ? r : 0;
        if (virDomainCreate(d) < 0) {
                r = lv_fail();
                /* Someone else started it meanwhile: that is what was asked. */
                return lv_is_active(d) == 1 ? 0 : r;
        }
        return 0;
}

/* Powers off d; a domain that is already off is success. */
static int destroy_domain(virDomainPtr d) {
        if (virDomainDestroy(d) < 0) {
                int r = lv_fail();
                return lv_is_active(d) == 0 ? 0 : r;
        }
        return 0;
}

static int lv_destroy(struct hv_conn *c, const char *uuid) {
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lv_lookup(c, uuid, &d);
        if (r < 0)
                return r;
        if ((r = lv_is_active(d)) <= 0)
                return r;
        return destroy_domain(d);
}

static int lv_shutdown(struct hv_conn *c, const char *uuid, int timeout_ms) {
        if (timeout_ms < 0)
                return lv_fail_with(TIDE_E_INVALID, "negative shutdown timeout");
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lv_lookup(c, uuid, &d);
        if (r < 0)
                return r;
        if ((r = lv_is_active(d)) <= 0)
                return r;
        /* The ACPI power button explicitly: without a guest agent configured that is what
         * libvirt would pick anyway, and it never waits for an agent. */
        if (virDomainShutdownFlags(d, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0) {
                r = lv_fail();
                int a = lv_is_active(d);
                if (a <= 0)
                        return a == 0 ? 0 : r;
                /* The button could not be pressed (paused guest, monitor busy): power off. */
                r = destroy_domain(d);
                return r < 0 ? r : 1;
        }
        int64_t now = mono_ms(), deadline = now + timeout_ms, press = now + HV_SHUTDOWN_REPRESS_MS;
        for (;;) {
                int a = lv_is_active(d);
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
        int r = lv_lookup(c, uuid, &d);
        if (r < 0)
                return r;
        if ((r = lv_is_active(d)) <= 0)
                return r < 0 ? r : lv_fail_with(TIDE_E_CONFLICT, "domain is not running");
        if (virDomainReset(d, 0) < 0) {
                r = lv_fail();
                return lv_is_active(d) == 0 ? lv_fail_with(TIDE_E_CONFLICT, "domain is not running") : r;
        }
        return 0;
}

static int lv_undefine(struct hv_conn *c, const char *uuid) {
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lv_lookup(c, uuid, &d);
        if (r < 0)
                return r == TIDE_E_NOT_FOUND ? 0 : r;
        if ((r = lv_is_active(d)) < 0)
                return r == TIDE_E_NOT_FOUND ? 0 : r;
        if (r > 0 && (r = destroy_domain(d)) < 0)
                return r == TIDE_E_NOT_FOUND ? 0 : r;
        /* Whatever libvirt keeps beside the definition must not make undefine fail. */
        unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                         VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM;
        if (virDomainUndefineFlags(d, flags) < 0) {
                r = lv_fail();
                /* A transient domain disappears with destroy: nothing left to undefine. */
                return r == TIDE_E_NOT_FOUND ? 0 : r;
        }
        return 0;
}

static enum hv_state state_from_libvirt(unsigned char s) {
        switch (s) {
        case VIR_DOMAIN_RUNNING:
                return HV_STATE_RUNNING;
        case VIR_DOMAIN_BLOCKED:
                return HV_STATE_BLOCKED;
        case VIR_DOMAIN_PAUSED:
                return HV_STATE_PAUSED;
        case VIR_DOMAIN_SHUTDOWN:
                return HV_STATE_SHUTDOWN;
        case VIR_DOMAIN_SHUTOFF:
                return HV_STATE_SHUTOFF;
        case VIR_DOMAIN_CRASHED:
                return HV_STATE_CRASHED;
        case VIR_DOMAIN_PMSUSPENDED:
                return HV_STATE_PMSUSPENDED;
        default:
                return HV_STATE_NOSTATE;
        }
}

static int fill_info(virDomainPtr d, struct hv_domain_info *ret) {
        virDomainInfo vi;
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetInfo(d, &vi) < 0)
                return lv_fail();
        int64_t mem_kib = (int64_t) vi.memory;
        if (vi.state != VIR_DOMAIN_SHUTOFF) {
                /* virDomainGetInfo's memory is the balloon size libvirt last heard of in an
                 * event, which a previous process may have received instead of this one. */
                int64_t b = lv_balloon_kib(d);
                if (virDomainGetInfo(d, &vi) < 0)
                        return lv_fail();
                mem_kib = b >= 0 && vi.state != VIR_DOMAIN_SHUTOFF ? b : (int64_t) vi.memory;
        }
        int persistent = virDomainIsPersistent(d);
        if (persistent < 0)
                return lv_fail();
        const char *name = virDomainGetName(d);
        if (!name || virDomainGetUUIDString(d, uuid) < 0)
                return lv_fail();
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
        int r = lv_lookup(c, uuid, &d);
        if (r < 0)
                return r;
        return fill_info(d, ret);
}

static int lv_list(struct hv_conn *c, struct hv_domain_info **ret, size_t *ret_n) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(c->vc, &doms, 0);
        if (n < 0)
                return lv_fail();
        struct hv_domain_info *out = n > 0 ? xcalloc((size_t) n, sizeof *out) : NULL;
        size_t k = 0;
        int r = 0;
        for (int i = 0; i < n; i++) {
                const char *name = virDomainGetName(doms[i]);
                if (r >= 0 && name && startswith(name, DOMAIN_NAME_PREFIX)) {
                        int q = fill_info(doms[i], &out[k]);
                        if (q >= 0)
                                k++;
                        else if (q != TIDE_E_NOT_FOUND) /* undefined meanwhile: skip it */
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

/* ---- moving floating threads ---- */

/* What set_cpuset() needs of one definition of a domain (the running or the persistent one). */
struct vcpu_layout {
        int max_vcpus;
        bool floating; /* no vCPU pinned to a CPU of its own */
};

/* The layout of a parsed domain XML; false when it has no readable <vcpu>. hv_domain_xml()
 * marks every domain "floating" or "pinned" in tide's metadata; a domain defined before the
 * mark existed is pinned when it has any <vcpupin>, which tide then wrote only for pinned
 * domains. */
static bool doc_layout(xmlDocPtr doc, xmlXPathContextPtr ctx, struct vcpu_layout *ret) {
        xmlNodePtr root = xmlDocGetRootElement(doc);
        xmlXPathObjectPtr o = xpath_nodes(ctx, root, "/domain/vcpu");
        int64_t max = o && o->nodesetval->nodeNr == 1 ? xml_int(o->nodesetval->nodeTab[0], NULL, 1, HV_MAX_VCPUS) : -1;
        xmlXPathFreeObject(o);
        if (max < 1 || xmlXPathRegisterNs(ctx, BAD_CAST "tide", BAD_CAST HV_XMLNS_INSTANCE) < 0)
                return false;
        ctx->node = root;
        o = xmlXPathEvalExpression(BAD_CAST "string(/domain/metadata/tide:instance/tide:vcpus)", ctx);
        const char *mark = o && o->type == XPATH_STRING && o->stringval ? (const char *) o->stringval : "";
        bool floating;
        if (streq(mark, "floating") || streq(mark, "pinned"))
                floating = streq(mark, "floating");
        else {
                xmlXPathObjectPtr pins = xpath_nodes(ctx, root, "/domain/cputune/vcpupin");
                floating = !pins || pins->nodesetval->nodeNr == 0;
                xmlXPathFreeObject(pins);
        }
        xmlXPathFreeObject(o);
        *ret = (struct vcpu_layout) { .max_vcpus = (int) max, .floating = floating };
        return true;
}

/* The layout of d's running definition (xml_flags 0) or persistent one
 * (VIR_DOMAIN_XML_INACTIVE). */
static int read_layout(virDomainPtr d, unsigned xml_flags, struct vcpu_layout *ret) {
        char *xml = virDomainGetXMLDesc(d, xml_flags);
        if (!xml)
                return lv_fail();
        size_t len = strlen(xml);
        xmlDocPtr doc = len <= HV_DOMAIN_XML_MAX
                                ? xmlReadMemory(xml, (int) len, "domain.xml", NULL,
                                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
                                : NULL;
        free(xml);
        xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
        bool ok = ctx && doc_layout(doc, ctx, ret);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        return ok ? 0 : lv_fail_with(TIDE_E_BACKEND, "cannot read the domain's vCPUs from its XML");
}

/* Pins the floating vCPUs and the emulator of one definition of d (flags:
 * VIR_DOMAIN_AFFECT_LIVE or VIR_DOMAIN_AFFECT_CONFIG). Offline vCPUs too: libvirt keeps their
 * pinning for when they are hot-added. The <vcpu cpuset> of the definition stays as it was:
 * the pins override it for every vCPU and the emulator. */
static int pin_floating(virDomainPtr d, unsigned xml_flags, unsigned char *map, int maplen, unsigned flags) {
        struct vcpu_layout l = {};
        int r = read_layout(d, xml_flags, &l);
        if (r < 0)
                return r;
        for (int i = 0; l.floating && i < l.max_vcpus; i++)
                if (virDomainPinVcpuFlags(d, (unsigned) i, map, maplen, flags) < 0)
                        return lv_fail();
        if (virDomainPinEmulator(d, map, maplen, flags) < 0)
                return lv_fail();
        return 0;
}

/* Whether every CPU of map is one of the host's online CPUs (libvirt would fail half-way
 * through otherwise: a cgroup's cpuset.cpus refuses CPUs the host lacks); sets *ret_maplen
 * to the bytes of map that matter. */
static int check_host_cpus(struct hv_conn *c, const uint8_t *map, int *ret_maplen) {
        unsigned char *online = NULL;
        int n = virNodeGetCPUMap(c->vc, &online, NULL, 0);
        if (n < 0)
                return lv_fail();
        int missing = -1;
        for (int cpu = 0; cpu < HV_MAX_CPUS && missing < 0; cpu++)
                if ((map[cpu / 8] & (1u << (cpu % 8))) && (cpu >= n || !(online[cpu / 8] & (1u << (cpu % 8)))))
                        missing = cpu;
        free(online);
        if (missing >= 0) {
                hv_set_last_error("CPU %d of the list is not one of the host's online CPUs", missing);
                return TIDE_E_BACKEND;
        }
        int len = CPUSET_BYTES;
        while (len > 1 && map[len - 1] == 0)
                len--;
        *ret_maplen = len;
        return 0;
}

/* The pid of the QEMU running d, from libvirt's pid file and checked against QEMU's -uuid
 * argument (a stale file may name a recycled pid); 0 when unknown. */
static pid_t qemu_pid(struct hv_conn *c, virDomainPtr d) {
        const char *name = virDomainGetName(d);
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (!c->run_dir || !name || virDomainGetUUIDString(d, uuid) < 0)
                return 0;
        _cleanup_free_ char *path = xasprintf("%s/%s.pid", c->run_dir, name);
        _cleanup_free_ char *text = NULL, *cmdline = NULL;
        size_t len;
        int64_t pid;
        if (read_file(path, 64, &text, &len) < 0)
                return 0;
        text[strcspn(text, "\n")] = '\0';
        if (parse_int64(text, 1, INT32_MAX, &pid) < 0)
                return 0;
        _cleanup_free_ char *cmd_path = xasprintf("/proc/%d/cmdline", (int) pid);
        if (read_file(cmd_path, 1 << 20, &cmdline, &len) < 0)
                return 0;
        for (const char *a = cmdline; a < cmdline + len; a += strlen(a) + 1)
                if (streq(a, "-uuid") && a + strlen(a) + 1 < cmdline + len && streq(a + strlen(a) + 1, uuid))
                        return (pid_t) pid;
        return 0;
}

/* Whether a QEMU thread is a vCPU: QEMU names them "CPU <n>/KVM" ("ALL CPUs/TCG" for
 * single-threaded TCG) when libvirt passes debug-threads=on, which it always does. */
static bool vcpu_thread(const char *comm) {
        return strchr(comm, '/') && (endswith(comm, "/KVM") || endswith(comm, "/TCG"));
}

/* Gives every thread of QEMU pid that is not a vCPU the affinity map. libvirt moves the
 * emulator's cgroup and QEMU's main thread only, and since Linux 6.2 a cgroup change keeps
 * what sched_setaffinity() last asked for a thread wherever the two overlap: libvirt sets
 * QEMU's affinity before exec, every thread inherits it, so without this the RCU, monitor
 * and worker threads would stay on the old set's intersection with the new one. Twice, for
 * threads started meanwhile by a thread not yet moved. Fails without touching anything when
 * no thread is named as a vCPU (a QEMU without debug-threads). */
static int move_emulator_threads(pid_t pid, const uint8_t *map) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int cpu = 0; cpu < HV_MAX_CPUS && cpu < CPU_SETSIZE; cpu++)
                if (map[cpu / 8] & (1u << (cpu % 8)))
                        CPU_SET(cpu, &set);
        _cleanup_free_ char *task_dir = xasprintf("/proc/%d/task", (int) pid);
        for (int pass = 0; pass < 2; pass++) {
                DIR *dir = opendir(task_dir);
                if (!dir)
                        return 0; /* QEMU ended meanwhile */
                _cleanup_free_ pid_t *tids = xcalloc(HV_QEMU_THREADS_MAX, sizeof *tids);
                size_t n = 0;
                bool saw_vcpu = false;
                struct dirent *de;
                while ((de = readdir(dir)) && n < HV_QEMU_THREADS_MAX) {
                        int64_t tid;
                        if (parse_int64(de->d_name, 1, INT32_MAX, &tid) < 0)
                                continue;
                        _cleanup_free_ char *comm_path = xasprintf("%s/%s/comm", task_dir, de->d_name);
                        _cleanup_free_ char *comm = NULL;
                        size_t len;
                        if (read_file(comm_path, 64, &comm, &len) < 0)
                                continue; /* the thread ended */
                        comm[strcspn(comm, "\n")] = '\0';
                        if (vcpu_thread(comm))
                                saw_vcpu = true;
                        else
                                tids[n++] = (pid_t) tid;
                }
                closedir(dir);
                if (!saw_vcpu)
                        return lv_fail_with(TIDE_E_BACKEND,
                                            "cannot tell QEMU's vCPU threads from its emulator threads");
                for (size_t i = 0; i < n; i++)
                        if (sched_setaffinity(tids[i], sizeof set, &set) < 0 && errno != ESRCH) {
                                hv_set_last_error("setting the affinity of QEMU thread %d: %s", (int) tids[i],
                                                  strerror(errno));
                                return TIDE_E_BACKEND;
                        }
        }
        return 0;
}

static int lv_set_cpuset(struct hv_conn *c, const char *uuid, const char *cpuset) {
        uint8_t map[CPUSET_BYTES];
        struct cpuset set;
        if (cpuset_parse(cpuset, &set) <= 0)
                return lv_fail_with(TIDE_E_INVALID, "invalid CPU list");
        cpuset_to_bytes(&set, map);
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lv_lookup(c, uuid, &d);
        if (r < 0)
                return r;
        int maplen = 0;
        if ((r = check_host_cpus(c, map, &maplen)) < 0)
                return r;
        int persistent = virDomainIsPersistent(d);
        if (persistent < 0)
                return lv_fail();
        /* The definition first: a domain that starts meanwhile starts with the new list, and
         * one running by now is moved below. */
        if (persistent && (r = pin_floating(d, VIR_DOMAIN_XML_INACTIVE, map, maplen, VIR_DOMAIN_AFFECT_CONFIG)) < 0)
                return r;
        if ((r = lv_is_active(d)) <= 0)
                return r;
        r = pin_floating(d, 0, map, maplen, VIR_DOMAIN_AFFECT_LIVE);
        pid_t pid = r >= 0 ? qemu_pid(c, d) : 0;
        if (pid > 0)
                r = move_emulator_threads(pid, map);
        /* Stopped meanwhile: its definition is all there is left to change. */
        return r < 0 && lv_is_active(d) == 0 ? 0 : r;
}

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
        .set_cpuset = lv_set_cpuset,
        .stats = lv_stats,
        .host_stats = lv_host_stats,
        .set_vcpus = lv_set_vcpus,
        .set_memory = lv_set_memory,
        .set_cpu_tune = lv_set_cpu_tune,
        .get_cpu_tune = lv_get_cpu_tune,
        .migrate = lv_migrate,
        .migrate_abort = lv_migrate_abort,
        .domain_state_at = lv_domain_state_at,
};
