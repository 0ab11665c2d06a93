/* hv.h — the hypervisor driver interface: a table of functions per implementation.
 *
 * Implementations (hv_drivers[]): hv_libvirt (libvirt's QEMU driver, real VMs) and hv_sim
 * (simulated hosts in memory, for the scheduler and controllers at scale). The agent owns
 * everything around a domain (its disk overlay, config drive and console log files); a driver
 * only defines, starts, stops and inspects domains. Domains are identified by the instance's UUID, which is also the domain
 * UUID, and named HV_DOMAIN_PREFIX + the instance's name.
 *
 * All functions return >= 0 on success or a negative error (errors.h): TIDE_E_NOT_FOUND for a
 * domain the hypervisor does not know, TIDE_E_BACKEND for a hypervisor failure (the driver
 * keeps the hypervisor's message: hv_last_error()). A libvirt connection may be used from
 * several threads at once (libvirt serialises the operations on one domain itself). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HV_DOMAIN_PREFIX "tide-"   /* every domain tide defines is named tide-<instance name> */

/* Limits of a domain spec (hv_domain_xml() refuses anything outside them). 255 vCPUs is the
 * most QEMU's 'pc' (i440fx) machine takes. */
#define HV_MAX_VCPUS 255
#define HV_MIN_RAM_MIB INT64_C(16)
#define HV_MAX_RAM_MIB (INT64_C(4) * 1024 * 1024)   /* 4 TiB */
#define HV_MAX_CPUS 1024         /* host CPUs: pinned CPU numbers are 0 .. HV_MAX_CPUS - 1 */
#define HV_MAX_NUMA_NODES 64     /* NUMA node numbers are 0 .. HV_MAX_NUMA_NODES - 1 */
#define HV_CPUSET_MAX 4095       /* bytes of a CPU list (hv_cpuset_parse()), without the NUL */
#define HV_CPUMAP_BYTES (HV_MAX_CPUS / 8)   /* a CPU set as a bitmap: bit n % 8 of byte n / 8 */

/* The namespace of tide's <metadata> in the domain XML (hv_domain_xml()). */
#define HV_XMLNS_INSTANCE "https://tide.dev/xmlns/instance/1"

enum hv_state {
        HV_STATE_NOSTATE,
        HV_STATE_RUNNING,
        HV_STATE_BLOCKED,
        HV_STATE_PAUSED,
        HV_STATE_SHUTDOWN,   /* being shut down */
        HV_STATE_SHUTOFF,
        HV_STATE_CRASHED,
        HV_STATE_PMSUSPENDED,
        HV_STATE_MAX,
};

const char *hv_state_to_string(enum hv_state s);

/* One NUMA node (a libvirt capabilities <cell>). */
struct hv_numa_node {
        int id;                  /* the node's number, as numatune's nodeset names it */
        char *cpus;              /* its CPUs as a list of ranges: "0-7,16-23" */
        int64_t mem_mib;         /* its memory, hugepages included */
        int64_t hugepages_mib;   /* of which in hugepages (2 MiB and 1 GiB pages), all of
                                  * them, free or not */
};

struct hv_host_info {
        char *hostname;
        int cpus;            /* logical CPUs online */
        int sockets, cores, threads;
        int numa_nodes;      /* == n_numa; kept for the callers written before numa[] */
        int64_t mem_mib;     /* total memory */
        int64_t disk_gib;    /* size of the filesystem for instance disks; 0 when unknown */
        char *accel;         /* "kvm", "tcg" or "sim" */
        char *uri;           /* the connection's URI, e.g. qemu:///embed?root=... */
        int n_numa;          /* >= 1: a host that reports no topology has one node with every
                              * CPU and all the memory */
        struct hv_numa_node *numa;   /* n_numa nodes, by increasing id */
};

/* Frees the strings and nodes of h and zeroes it; NULL is fine. */
void hv_host_info_clear(struct hv_host_info *h);

/* What a domain is made of. Paths are absolute; strings are data (never interpreted) but must
 * be UTF-8 without control characters. uuid is in lowercase canonical form. */
struct hv_domain_spec {
        const char *uuid;          /* instance id; becomes the domain UUID */
        const char *name;          /* domain name: HV_DOMAIN_PREFIX + instance name */
        int vcpus;                 /* online at boot */
        int max_vcpus;             /* >= vcpus; the rest can be hot-added */
        int64_t ram_mib;           /* current memory (balloon target at boot) */
        int64_t max_ram_mib;       /* >= ram_mib */
        const char *disk_path;     /* qcow2 overlay, the root disk (vda) */
        const char *seed_path;     /* NoCloud ISO (label cidata) as vdb, read-only; NULL for none */
        const char *kernel;        /* direct kernel boot; NULL boots from the disk */
        const char *initrd;        /* NULL for none */
        const char *cmdline;       /* NULL for none */
        const char *console_log;   /* serial console appended to this file */
        int balloon_period_s;      /* balloon statistics period; 0 for none */

        /* Placement on the host. A zero-initialised spec pins nothing, binds to no NUMA node
         * and uses normal pages. */
        const int *pin_cpus;       /* NULL, or the host CPU (0 .. HV_MAX_CPUS - 1) of each vCPU:
                                    * pin_cpus[i] for vCPU i, for every vCPU the domain can
                                    * ever have, so n_pin_cpus == max_vcpus (hot-added vCPUs
                                    * must not float over CPUs given to others). A CPU may
                                    * appear twice. Emits <cputune><vcpupin/>. */
        int n_pin_cpus;            /* 0 with pin_cpus NULL, else max_vcpus */
        bool has_numa_node;        /* false: memory on any node. true: memory strictly on
                                    * numa_node (<numatune><memory mode='strict'/>) */
        int numa_node;             /* 0 .. HV_MAX_NUMA_NODES - 1; must be 0 unless has_numa_node */
        bool hugepages;            /* guest RAM in the host's default-size hugepages
                                    * (<memoryBacking><hugepages/>); max_ram_mib must then be a
                                    * multiple of 2. The balloon cannot give hugepages back to
                                    * the host: such a domain should have ram_mib == max_ram_mib. */
        const char *cpuset;        /* NULL: the domain's threads may run on any host CPU. Else
                                    * a CPU list (hv_cpuset_parse()) its floating threads are
                                    * kept on, normally the host's shared pool (every CPU
                                    * neither pinned to a dedicated VM nor reserved). Without
                                    * pin_cpus, the vCPUs and the emulator threads (QEMU's main
                                    * loop, I/O, RCU) float over it; with pin_cpus, each vCPU
                                    * stays on its own CPU and only the emulator threads use
                                    * cpuset, so give a dedicated VM the shared pool too: its
                                    * emulator then never steals time from its own vCPUs.
                                    * Emits <vcpu cpuset> and <cputune><emulatorpin>; the pool
                                    * changes later with set_cpuset(). */
};

struct hv_domain_info {
        char *uuid;
        char *name;
        enum hv_state state;
        int vcpus;                 /* current */
        int64_t mem_kib;           /* current */
        int64_t max_mem_kib;
        bool persistent;
        int64_t cpu_time_ns;
};

void hv_domain_info_clear(struct hv_domain_info *d);
void hv_domain_info_array_free(struct hv_domain_info *d, size_t n);

struct hv_conn;

struct hv_driver {
        const char *name;
        /* true: the driver needs no files on disk (hv_sim). It ignores disk_path, seed_path,
         * kernel, initrd, cmdline and console_log (they may be NULL), so the agent can skip
         * disk overlays, config drives and console logs for its domains. */
        bool virtual;
        /* Opens a connection. uri NULL chooses (libvirt: qemu:///system where libvirtd
         * answers, else the embedded driver under state_dir/libvirt). ret gets the connection.
         * An embedded root belongs to one process at a time (a second one gets
         * TIDE_E_BACKEND); a process can use only one embedded root in its lifetime. Domains
         * outlive the connection and the process: the next process to open the root adopts
         * them. */
        int (*open)(const char *uri, const char *state_dir, struct hv_conn **ret);
        void (*close)(struct hv_conn *c);
        int (*host_info)(struct hv_conn *c, struct hv_host_info *ret);
        /* Defines (or redefines) a persistent domain from spec; a running domain keeps its
         * old configuration until it is next started. TIDE_E_INVALID for a spec
         * hv_domain_spec_validate() refuses; TIDE_E_EXISTS when another domain has that name,
         * or this UUID is defined under another name. Host resources (pinned CPUs or cpuset CPUs
         * beyond the host's, a NUMA node it lacks, hugepages) are checked only by start(). */
        int (*define)(struct hv_conn *c, const struct hv_domain_spec *spec);
        /* Starts a defined domain; already running is success. TIDE_E_BACKEND when the host
         * cannot run it as specified (no such CPU, pinned or in cpuset, or NUMA node, not
         * enough hugepages). */
        int (*start)(struct hv_conn *c, const char *uuid);
        /* Asks the guest to shut down (ACPI) and waits up to timeout_ms, then powers it off.
         * Already off is success. */
        /* Returns 0 when the guest shut down by itself (or was off), 1 when it was powered off. */
        int (*shutdown)(struct hv_conn *c, const char *uuid, int timeout_ms);
        /* Powers off at once; already off is success. */
        int (*destroy)(struct hv_conn *c, const char *uuid);
        /* Resets a running domain at once (the reset button: the guest OS is not asked; a clean
         * restart is shutdown() then start()). TIDE_E_CONFLICT when it is not running. */
        int (*reboot)(struct hv_conn *c, const char *uuid);
        /* Removes the definition (powering off first if running); absent is success. */
        int (*undefine)(struct hv_conn *c, const char *uuid);
        /* TIDE_E_NOT_FOUND when the domain is unknown. ret gets info the caller clears. */
        int (*domain_info)(struct hv_conn *c, const char *uuid, struct hv_domain_info *ret);
        /* Every domain tide defined on this connection (name starts with HV_DOMAIN_PREFIX). */
        int (*list)(struct hv_conn *c, struct hv_domain_info **ret, size_t *ret_n);
        /* Moves a defined domain's floating threads to cpuset (a CPU list, hv_cpuset_parse()),
         * as if it had been defined with spec.cpuset = cpuset: every vCPU of a domain defined
         * without pin_cpus (offline ones included, so hot-added vCPUs land there too) and the
         * emulator threads of every domain; the vCPUs of a domain defined with pin_cpus stay
         * where they are pinned. A running domain moves at once and keeps the change in its
         * persistent definition; a domain that is off only gets its definition changed (its
         * next start uses it). Idempotent. The caller calls it for every domain on the host
         * whenever the shared pool changes (a dedicated VM came or went): libvirt cannot
         * tell a domain's current cpuset back. TIDE_E_INVALID for a bad CPU list,
         * TIDE_E_NOT_FOUND for an unknown domain, TIDE_E_BACKEND when the hypervisor refuses;
         * a list with a CPU the host does not have (online) is refused before anything
         * changes. */
        int (*set_cpuset)(struct hv_conn *c, const char *uuid, const char *cpuset);
};

/* Every connection starts with its driver, so callers can use hv_conn_driver(). */
struct hv_conn_base {
        const struct hv_driver *driver;
};

static inline const struct hv_driver *hv_conn_driver(struct hv_conn *c) {
        return ((struct hv_conn_base *) c)->driver;
}

extern const struct hv_driver hv_libvirt_driver;
extern const struct hv_driver hv_sim_driver;

/* Every driver, NULL-terminated: hv_libvirt first, then hv_sim. */
extern const struct hv_driver *const hv_drivers[];

/* The driver for uri: hv_sim for "sim:" URIs, hv_libvirt for anything else (NULL included:
 * libvirt chooses). Never NULL. */
const struct hv_driver *hv_driver_for_uri(const char *uri);

/* The text of the last hypervisor error seen by this thread ("" when none). */
const char *hv_last_error(void);
/* For drivers: sets this thread's hv_last_error() text (truncated to 1 KiB). */
void hv_set_last_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hv_set_last_errorv(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* "kvm" where /dev/kvm works for stock guests, else "tcg" (no /dev/kvm, no access, or a
 * KVM-PVM module, which cannot run stock guest kernels). reason gets a static explanation. */
const char *hv_detect_accel(const char **ret_reason);

/* Parses a CPU list: comma-separated decimal CPU numbers ("3") and ascending ranges ("2-7"),
 * every CPU below HV_MAX_CPUS, at least one CPU, at most HV_CPUSET_MAX bytes, no spaces:
 * "0-3,8,10-11". The CPUs may come in any order and overlap. Pure. Returns the number of
 * CPUs in the set (>= 1) and, when ret_map is not NULL, fills it (bit n % 8 of byte n / 8
 * for CPU n, libvirt's cpumap layout); TIDE_E_INVALID for anything else (NULL included), and
 * ret_map is then untouched. */
int hv_cpuset_parse(const char *list, uint8_t ret_map[HV_CPUMAP_BYTES]);

/* Checks spec against the limits every driver enforces: canonical UUID, name
 * HV_DOMAIN_PREFIX + something, vCPU and RAM limits above, pin_cpus, NUMA node and cpuset as
 * documented in struct hv_domain_spec, hugepages RAM a multiple of 2 MiB. With files, also
 * the file fields: absolute paths, initrd or cmdline only with a kernel (what a driver that
 * is not virtual needs). Pure. 0 or TIDE_E_INVALID. */
int hv_domain_spec_validate(const struct hv_domain_spec *spec, bool files);

/* Builds the libvirt domain XML for spec with libxml2's writer. domain_type is "kvm" or
 * "qemu". Pure: no I/O. ret gets the XML (caller frees). TIDE_E_INVALID for a bad spec
 * (hv_domain_spec_validate() with files) or domain type. */
int hv_domain_xml(const struct hv_domain_spec *spec, const char *domain_type, char **ret);

/* ---- the simulator (hv_sim) ----
 *
 * URI: sim:///NAME?cpus=64&numa=1&mem_mib=262144&hugepages_mib=0&disk_gib=2000 (every parameter
 * optional, those values are the defaults). One connection is one simulated host, NAME its
 * hostname ([A-Za-z0-9._-], 1..63 bytes). CPUs, memory and hugepages are split evenly over
 * the NUMA nodes in ranges of consecutive CPUs (cpus a multiple of numa; memory remainders go
 * to the lowest nodes); hugepages_mib is even and at most mem_mib. Its domains live in memory
 * as long as the connection: close() forgets them. State changes at once (shutdown: the guest
 * always obeys, returns 0); cpu_time_ns stays 0. No I/O, no threads; every call takes the
 * connection's mutex. start() refuses (TIDE_E_BACKEND) pinned CPUs or a NUMA node the host
 * does not have and hugepages beyond the free ones (a bound domain takes them from its node,
 * an unbound one from the nodes in order), as libvirt does at start; start() and set_cpuset()
 * also refuse a cpuset with a CPU the host does not have. set_cpuset() records the list as
 * given, in the definition and, while running, in the running configuration. */

/* A simulated domain's placement as the simulator keeps it. */
struct hv_sim_domain {
        enum hv_state state;
        int vcpus, max_vcpus;
        int64_t ram_mib, max_ram_mib;
        int n_pin_cpus;                  /* 0: not pinned */
        int pin_cpus[HV_MAX_VCPUS];
        bool has_numa_node;
        int numa_node;
        bool hugepages;
        char cpuset[HV_CPUSET_MAX + 1];  /* the CPU list as given; "": none (any CPU) */
};

/* The configuration domain uuid runs with when running, else its definition; into ret.
 * TIDE_E_NOT_FOUND for an unknown domain, TIDE_E_INVALID when c is not an hv_sim connection. */
int hv_sim_domain_get(struct hv_conn *c, const char *uuid, struct hv_sim_domain *ret);
