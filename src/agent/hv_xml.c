/* hv_xml.c — the libvirt domain XML for a domain spec, and the small pure helpers of hv.h.
 *
 * The XML is written with libxml2's xmlTextWriter so that names and paths are always data
 * (escaped by the writer), never markup. Everything here is pure except hv_detect_accel(),
 * which only looks at /dev/kvm and /sys/module. Nothing here logs. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/encoding.h>
#include <libxml/xmlwriter.h>

#include "agent/hv.h"
#include "common/errors.h"
#include "common/util.h"

#define HV_NAME_MAX 200 /* bytes; libvirt has no hard limit, paths built from it do */
#define HV_PATH_MAX 4095
#define HV_CMDLINE_MAX 2047 /* x86 COMMAND_LINE_SIZE is 2048 with the NUL */
#define HV_BALLOON_PERIOD_MAX 3600

static const char *const state_names[HV_STATE_MAX] = {
        [HV_STATE_NOSTATE] = "nostate", [HV_STATE_RUNNING] = "running",         [HV_STATE_BLOCKED] = "blocked",
        [HV_STATE_PAUSED] = "paused",   [HV_STATE_SHUTDOWN] = "shutdown",       [HV_STATE_SHUTOFF] = "shutoff",
        [HV_STATE_CRASHED] = "crashed", [HV_STATE_PMSUSPENDED] = "pmsuspended",
};

/* hv_last_error()'s text, per thread, whichever driver failed. */
static _Thread_local char last_error[1024];

const char *hv_last_error(void) {
        return last_error;
}

void hv_set_last_errorv(const char *fmt, va_list ap) {
        vsnprintf(last_error, sizeof last_error, fmt, ap);
}

void hv_set_last_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        hv_set_last_errorv(fmt, ap);
        va_end(ap);
}

/* Name of a state ("running", "shutoff", ...); "unknown" for values out of range. */
const char *hv_state_to_string(enum hv_state s) {
        if ((unsigned) s >= HV_STATE_MAX)
                return "unknown";
        return state_names[s];
}

/* Frees the strings and NUMA nodes of h and zeroes it; NULL is fine. */
void hv_host_info_clear(struct hv_host_info *h) {
        if (!h)
                return;
        free(h->hostname);
        free(h->accel);
        free(h->uri);
        for (int i = 0; h->numa && i < h->n_numa; i++)
                free(h->numa[i].cpus);
        free(h->numa);
        *h = (struct hv_host_info) {};
}

/* The table lives here, with the other helpers every user of hv.h links. */
const struct hv_driver *const hv_drivers[] = {
        &hv_libvirt_driver,
        &hv_sim_driver,
        NULL,
};

/* hv_sim for "sim:" URIs, else hv_libvirt; never NULL. */
const struct hv_driver *hv_driver_for_uri(const char *uri) {
        if (uri && startswith(uri, "sim:"))
                return &hv_sim_driver;
        return &hv_libvirt_driver;
}

/* Frees the strings of d and zeroes it; NULL is fine. */
void hv_domain_info_clear(struct hv_domain_info *d) {
        if (!d)
                return;
        free(d->uuid);
        free(d->name);
        *d = (struct hv_domain_info) {};
}

/* Clears the n entries of d and frees the array; NULL is fine. */
void hv_domain_info_array_free(struct hv_domain_info *d, size_t n) {
        if (!d)
                return;
        for (size_t i = 0; i < n; i++)
                hv_domain_info_clear(&d[i]);
        free(d);
}

/* Whether /dev/kvm can run stock guests. The answer is what tide tells libvirt (domain type
 * kvm or qemu), so it errs towards TCG: a KVM-PVM module answers KVM's ioctls but cannot boot
 * an unmodified kernel. */
const char *hv_detect_accel(const char **ret_reason) {
        const char *reason;
        const char *accel = "tcg";
        struct stat st;

        if (stat("/sys/module/kvm_pvm", &st) == 0)
                reason = "/dev/kvm is KVM-PVM (kvm_pvm loaded), which cannot run stock guest kernels";
        else {
                _cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        reason = errno == ENOENT ? "no /dev/kvm" : "/dev/kvm cannot be opened read-write";
                else if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
                        reason = "/dev/kvm answers with an unexpected KVM API version";
                else {
                        accel = "kvm";
                        reason = "/dev/kvm is usable";
                }
        }
        if (ret_reason)
                *ret_reason = reason;
        return accel;
}

/* ---- validation ---- */

/* Text the XML may carry: valid UTF-8 without control characters (XML 1.0 forbids most of
 * them, and none belongs in a name, path or kernel command line). */
static bool text_ok(const char *s, size_t max) {
        size_t n = strlen(s);
        if (n > max)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return xmlCheckUTF8((const xmlChar *) s) != 0;
}

static bool path_ok(const char *p) {
        return p && p[0] == '/' && text_ok(p, HV_PATH_MAX);
}

/* The canonical lowercase form 8-4-4-4-12, as id_new_uuid() and libvirt write it. */
static bool uuid_ok(const char *u) {
        if (!u || strlen(u) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                char c = u[i];
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (c != '-')
                                return false;
                } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return false;
        }
        return true;
}

/* Pinning covers every vCPU the domain can have; see struct hv_domain_spec. */
static bool placement_ok(const struct hv_domain_spec *s) {
        if (!s->pin_cpus != (s->n_pin_cpus == 0))
                return false;
        if (s->pin_cpus) {
                if (s->n_pin_cpus != s->max_vcpus)
                        return false;
                for (int i = 0; i < s->n_pin_cpus; i++)
                        if (s->pin_cpus[i] < 0 || s->pin_cpus[i] >= HV_MAX_CPUS)
                                return false;
        }
        /* A node number without the flag is a caller who forgot the flag: refuse rather than
         * silently not binding. */
        if (s->has_numa_node ? s->numa_node < 0 || s->numa_node >= HV_MAX_NUMA_NODES : s->numa_node != 0)
                return false;
        /* QEMU needs the RAM to be a whole number of pages (2 MiB, x86's default size). */
        if (s->hugepages && s->max_ram_mib % 2 != 0)
                return false;
        struct cpuset set;
        if (s->cpuset && cpuset_parse(s->cpuset, &set) <= 0)
                return false;
        return true;
}

static bool files_ok(const struct hv_domain_spec *s) {
        if (!path_ok(s->disk_path) || !path_ok(s->console_log))
                return false;
        if (s->seed_path && !path_ok(s->seed_path))
                return false;
        if (s->kernel && !path_ok(s->kernel))
                return false;
        /* An initrd or command line without a kernel would be silently ignored: refuse it. */
        if (s->initrd && (!s->kernel || !path_ok(s->initrd)))
                return false;
        if (s->cmdline && (!s->kernel || !text_ok(s->cmdline, HV_CMDLINE_MAX)))
                return false;
        return true;
}

/* The limits every driver enforces (hv.h); the file fields only with files. */
int hv_domain_spec_validate(const struct hv_domain_spec *s, bool files) {
        if (!s || !uuid_ok(s->uuid))
                return TIDE_E_INVALID;
        /* Every tide domain carries the prefix, so list() finds what define() made; libvirt
         * itself refuses '/' in names. */
        if (!s->name || !text_ok(s->name, HV_NAME_MAX) || !startswith(s->name, DOMAIN_NAME_PREFIX) ||
            strlen(s->name) == strlen(DOMAIN_NAME_PREFIX) || strchr(s->name, '/'))
                return TIDE_E_INVALID;
        if (s->vcpus < 1 || s->max_vcpus < s->vcpus || s->max_vcpus > HV_MAX_VCPUS)
                return TIDE_E_INVALID;
        if (s->ram_mib < HV_MIN_RAM_MIB || s->max_ram_mib < s->ram_mib || s->max_ram_mib > HV_MAX_RAM_MIB)
                return TIDE_E_INVALID;
        if (s->balloon_period_s < 0 || s->balloon_period_s > HV_BALLOON_PERIOD_MAX)
                return TIDE_E_INVALID;
        if (!placement_ok(s))
                return TIDE_E_INVALID;
        if (files && !files_ok(s))
                return TIDE_E_INVALID;
        return 0;
}

/* ---- writing ---- */

/* The writer with a sticky error: after the first failure every call is a no-op, and the
 * caller checks w->r once at the end instead of after each of ~80 calls. */
struct xw {
        xmlTextWriterPtr w;
        int r;
};

static void check(struct xw *x, int rc) {
        if (rc < 0 && x->r >= 0)
                x->r = -ENOMEM; /* the writer fails only on allocation or encoding errors */
}

static void start(struct xw *x, const char *name) {
        if (x->r >= 0)
                check(x, xmlTextWriterStartElement(x->w, BAD_CAST name));
}

static void end(struct xw *x) {
        if (x->r >= 0)
                check(x, xmlTextWriterEndElement(x->w));
}

static void attr(struct xw *x, const char *name, const char *value) {
        if (x->r >= 0)
                check(x, xmlTextWriterWriteAttribute(x->w, BAD_CAST name, BAD_CAST value));
}

static void attr_int(struct xw *x, const char *name, int64_t v) {
        char buf[24];
        snprintf(buf, sizeof buf, "%" PRId64, v);
        attr(x, name, buf);
}

static void text(struct xw *x, const char *s) {
        if (x->r >= 0)
                check(x, xmlTextWriterWriteString(x->w, BAD_CAST s));
}

/* <name attr=value>text</name>, attribute optional. */
static void element(struct xw *x, const char *name, const char *aname, const char *avalue, const char *content) {
        start(x, name);
        if (aname)
                attr(x, aname, avalue);
        text(x, content);
        end(x);
}

static void empty(struct xw *x, const char *name) {
        start(x, name);
        end(x);
}

static void memory(struct xw *x, const char *name, int64_t mib) {
        char buf[24];
        snprintf(buf, sizeof buf, "%" PRId64, mib);
        element(x, name, "unit", "MiB", buf);
}

static void write_cpu(struct xw *x, const char *domain_type) {
        start(x, "cpu");
        if (streq(domain_type, "kvm")) {
                /* host-model: near-host performance, and libvirt turns it into a concrete
                 * model at start, so the guest can live-migrate to a similar host. */
                attr(x, "mode", "host-model");
                attr(x, "check", "partial");
        } else {
                /* TCG cannot pass the host CPU through, and host-model would ask TCG for
                 * features it does not emulate. qemu64 is TCG's reference model and the same on
                 * every host, which keeps TCG guests migratable between them. */
                attr(x, "mode", "custom");
                attr(x, "match", "exact");
                attr(x, "check", "none");
                element(x, "model", "fallback", "forbid", "qemu64");
        }
        end(x);
}

/* Every vCPU but the first hot-pluggable, those online at boot too: without <vcpus>,
 * libvirt makes every vCPU online at boot a fixed one, so once set_vcpus() has raised the
 * definition's current count, the domain's next run could not give those vCPUs back. vCPU 0
 * cannot be unplugged (QEMU). */
static void write_vcpus(struct xw *x, const struct hv_domain_spec *spec) {
        if (spec->max_vcpus < 2)
                return;
        start(x, "vcpus");
        for (int i = 0; i < spec->max_vcpus; i++) {
                char id[16];
                snprintf(id, sizeof id, "%d", i);
                start(x, "vcpu");
                attr(x, "id", id);
                attr(x, "enabled", i < spec->vcpus ? "yes" : "no");
                attr(x, "hotpluggable", i == 0 ? "no" : "yes");
                end(x);
        }
        end(x);
}

/* Pinning and NUMA binding, in libvirt's own order (cputune, then numatune). */
static void write_placement(struct xw *x, const struct hv_domain_spec *s) {
        if (s->n_pin_cpus > 0 || s->cpuset) {
                start(x, "cputune");
                for (int i = 0; i < s->n_pin_cpus; i++) {
                        start(x, "vcpupin");
                        attr_int(x, "vcpu", i);
                        attr_int(x, "cpuset", s->pin_cpus[i]);
                        end(x);
                }
                /* Also without pin_cpus, where <vcpu cpuset> alone would cover the emulator:
                 * libvirt gives QEMU its first affinity (before exec, inherited by every thread
                 * QEMU starts) from emulatorpin, but not from <vcpu cpuset>, which reaches
                 * only the threads libvirt moves itself later. */
                if (s->cpuset) {
                        start(x, "emulatorpin");
                        attr(x, "cpuset", s->cpuset);
                        end(x);
                }
                end(x);
        }
        if (s->has_numa_node) {
                start(x, "numatune");
                start(x, "memory");
                /* strict: the guest's memory never spills to another node; the scheduler
                 * made sure it fits. */
                attr(x, "mode", "strict");
                attr_int(x, "nodeset", s->numa_node);
                end(x);
                end(x);
        }
}

static void write_os(struct xw *x, const struct hv_domain_spec *s) {
        start(x, "os");
        start(x, "type");
        attr(x, "arch", "x86_64");
        attr(x, "machine", "pc");
        text(x, "hvm");
        end(x);
        if (s->kernel) {
                element(x, "kernel", NULL, NULL, s->kernel);
                if (s->initrd)
                        element(x, "initrd", NULL, NULL, s->initrd);
                if (s->cmdline)
                        element(x, "cmdline", NULL, NULL, s->cmdline);
        } else {
                start(x, "boot");
                attr(x, "dev", "hd");
                end(x);
        }
        end(x);
}

static void write_disk(struct xw *x, const char *path, const char *format, const char *dev, bool readonly) {
        start(x, "disk");
        attr(x, "type", "file");
        attr(x, "device", "disk");
        start(x, "driver");
        attr(x, "name", "qemu");
        attr(x, "type", format); /* explicit: never let anything probe a guest-written header */
        if (!readonly) {
                /* writeback honours the guest's flushes and works on every filesystem;
                 * cache='none' needs O_DIRECT, which tmpfs (where test state dirs often
                 * live) refuses. discard=unmap gives freed guest blocks back to the host. */
                attr(x, "cache", "writeback");
                attr(x, "discard", "unmap");
        }
        end(x);
        start(x, "source");
        attr(x, "file", path);
        end(x);
        start(x, "target");
        attr(x, "dev", dev);
        attr(x, "bus", "virtio");
        end(x);
        if (readonly)
                empty(x, "readonly");
        end(x);
}

static void write_serial(struct xw *x, const char *kind, const char *path) {
        start(x, kind);
        attr(x, "type", "file");
        start(x, "source");
        attr(x, "path", path);
        attr(x, "append", "on"); /* a reboot or restart keeps the earlier output */
        end(x);
        start(x, "target");
        if (streq(kind, "console"))
                attr(x, "type", "serial");
        attr(x, "port", "0");
        end(x);
        end(x);
}

static void write_devices(struct xw *x, const struct hv_domain_spec *s) {
        start(x, "devices");
        write_disk(x, s->disk_path, "qcow2", "vda", false);
        if (s->seed_path)
                write_disk(x, s->seed_path, "raw", "vdb", true);
        /* libvirt adds a USB controller to 'pc' by default; nothing uses it, and it costs
         * boot time and attack surface. */
        start(x, "controller");
        attr(x, "type", "usb");
        attr(x, "model", "none");
        end(x);
        write_serial(x, "serial", s->console_log);
        write_serial(x, "console", s->console_log);
        start(x, "memballoon");
        attr(x, "model", "virtio");
        /* Pages the guest frees go back to the host without a balloon round trip. */
        attr(x, "freePageReporting", "on");
        /* Deflate on OOM: a guest whose programs ask for more than the balloon left it takes
         * pages back from the balloon instead of killing, until the elastic loop grows it
         * (within a pass). The guest's MemTotal then stays at the boot size; what the balloon
         * holds is balloon_kib in stats, and the guest's MemAvailable excludes it. */
        attr(x, "autodeflate", "on");
        if (s->balloon_period_s > 0) {
                start(x, "stats");
                attr_int(x, "period", s->balloon_period_s);
                end(x);
        }
        end(x);
        end(x);
}

/* Builds the domain XML for spec (see hv.h). Pure; ret gets a NUL-terminated string the
 * caller frees. TIDE_E_INVALID for a bad spec or domain type, -ENOMEM if libxml2 fails. */
int hv_domain_xml(const struct hv_domain_spec *spec, const char *domain_type, char **ret) {
        if (!domain_type || !(streq(domain_type, "kvm") || streq(domain_type, "qemu")))
                return TIDE_E_INVALID;
        int r = hv_domain_spec_validate(spec, true);
        if (r < 0)
                return r;

        xmlBufferPtr buf = xmlBufferCreate();
        if (!buf)
                return -ENOMEM;
        struct xw x = { .w = xmlNewTextWriterMemory(buf, 0), .r = 0 };
        if (!x.w) {
                xmlBufferFree(buf);
                return -ENOMEM;
        }
        check(&x, xmlTextWriterSetIndent(x.w, 1));
        check(&x, xmlTextWriterSetIndentString(x.w, BAD_CAST "  "));

        char num[24];
        start(&x, "domain");
        attr(&x, "type", domain_type);
        element(&x, "name", NULL, NULL, spec->name);
        element(&x, "uuid", NULL, NULL, spec->uuid);

        start(&x, "metadata");
        if (x.r >= 0)
                check(&x, xmlTextWriterStartElementNS(x.w, BAD_CAST "tide", BAD_CAST "instance",
                                                      BAD_CAST HV_XMLNS_INSTANCE));
        if (x.r >= 0)
                check(&x,
                      xmlTextWriterWriteElementNS(x.w, BAD_CAST "tide", BAD_CAST "uuid", NULL, BAD_CAST spec->uuid));
        /* Whether the vCPUs float: once set_cpuset() has pinned every vCPU of a floating
         * domain to the pool, the <cputune> of both kinds looks alike. */
        if (x.r >= 0)
                check(&x, xmlTextWriterWriteElementNS(x.w, BAD_CAST "tide", BAD_CAST "vcpus", NULL,
                                                      BAD_CAST(spec->n_pin_cpus > 0 ? "pinned" : "floating")));
        end(&x);
        end(&x);

        /* <memory> is the most the guest can have; the balloon holds it at currentMemory. */
        memory(&x, "memory", spec->max_ram_mib);
        memory(&x, "currentMemory", spec->ram_mib);
        if (spec->hugepages) {
                /* The host's default hugepage size; the node follows numatune. */
                start(&x, "memoryBacking");
                empty(&x, "hugepages");
                end(&x);
        }
        snprintf(num, sizeof num, "%d", spec->vcpus);
        start(&x, "vcpu");
        attr(&x, "placement", "static");
        if (spec->cpuset)
                attr(&x, "cpuset", spec->cpuset); /* the default of every thread not pinned */
        attr(&x, "current", num);
        snprintf(num, sizeof num, "%d", spec->max_vcpus);
        text(&x, num);
        end(&x);
        write_vcpus(&x, spec);
        write_placement(&x, spec);

        write_os(&x, spec);
        start(&x, "features");
        empty(&x, "acpi"); /* ACPI: vCPU hot-add and the power button of shutdown() */
        empty(&x, "apic");
        end(&x);
        write_cpu(&x, domain_type);
        start(&x, "clock");
        attr(&x, "offset", "utc");
        end(&x);
        element(&x, "on_poweroff", NULL, NULL, "destroy");
        element(&x, "on_reboot", NULL, NULL, "restart");
        element(&x, "on_crash", NULL, NULL, "destroy");
        write_devices(&x, spec);
        end(&x); /* domain */

        if (x.r >= 0)
                check(&x, xmlTextWriterEndDocument(x.w));
        xmlFreeTextWriter(x.w); /* flushes into buf */
        if (x.r < 0) {
                xmlBufferFree(buf);
                return x.r;
        }
        *ret = xstrdup((const char *) xmlBufferContent(buf));
        xmlBufferFree(buf);
        return 0;
}
