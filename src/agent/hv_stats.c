/* hv_stats.c — the pure helpers of the hypervisor statistics (hv.h): libvirt's figures by
 * name into struct hv_domain_stats, the host's /proc texts, and CPU tuning limits. No I/O,
 * nothing logs. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/hv.h"
#include "common/errors.h"
#include "common/util.h"

/* Frees the vCPU array and names of d and zeroes it; NULL is fine. */
void hv_domain_stats_clear(struct hv_domain_stats *d) {
        if (!d)
                return;
        free(d->uuid);
        free(d->name);
        free(d->vcpu);
        *d = (struct hv_domain_stats) {};
}

void hv_domain_stats_array_free(struct hv_domain_stats *d, size_t n) {
        for (size_t i = 0; d && i < n; i++)
                hv_domain_stats_clear(&d[i]);
        free(d);
}

/* Shares and quota within the limits both cgroup versions and the kernel accept. */
int hv_cpu_tune_validate(const struct hv_cpu_tune *t) {
        if (!t || t->shares < HV_SHARES_MIN || t->shares > HV_SHARES_MAX || t->quota_us < 0)
                return TIDE_E_INVALID;
        if (t->quota_us == 0)
                return 0;
        if (t->period_us < HV_PERIOD_MIN_US || t->period_us > HV_PERIOD_MAX_US)
                return TIDE_E_INVALID;
        if (t->quota_us < HV_QUOTA_MIN_US || t->quota_us > HV_MAX_CPUS * t->period_us)
                return TIDE_E_INVALID;
        return 0;
}

/* ---- libvirt's figures by name ---- */

static int64_t clamp64(uint64_t v) {
        return v > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) v;
}

/* Adds without overflowing: counters summed over devices saturate. */
static void add_sat(int64_t *sum, int64_t v) {
        *sum = *sum > INT64_MAX - v ? INT64_MAX : *sum + v;
}

/* If name is prefix "N." with N a decimal device or vCPU number below limit, the number and
 * what follows the dot; else -1. */
static int indexed(const char *name, const char *prefix, int limit, const char **ret_rest) {
        if (!startswith(name, prefix))
                return -1;
        const char *p = name + strlen(prefix);
        if (!isdigit((unsigned char) *p) || (*p == '0' && isdigit((unsigned char) p[1])))
                return -1;
        int n = 0;
        for (; isdigit((unsigned char) *p); p++) {
                n = n * 10 + (*p - '0');
                if (n >= limit)
                        return -1;
        }
        if (*p != '.')
                return -1;
        *ret_rest = p + 1;
        return n;
}

/* Makes vcpu[] at least n long (n <= HV_MAX_VCPUS), new entries zeroed (offline). */
static void grow_vcpus(struct hv_domain_stats *s, int n) {
        if (n <= s->n_vcpu)
                return;
        s->vcpu = xrealloc(s->vcpu, (size_t) n * sizeof *s->vcpu);
        memset(&s->vcpu[s->n_vcpu], 0, (size_t) (n - s->n_vcpu) * sizeof *s->vcpu);
        s->n_vcpu = n;
}

struct field {
        const char *name;
        size_t offset;
        bool *(*flag)(struct hv_domain_stats *s);
};

static bool *flag_cpu(struct hv_domain_stats *s) {
        return &s->has_cpu;
}
static bool *flag_split(struct hv_domain_stats *s) {
        return &s->has_cpu_split;
}
static bool *flag_balloon(struct hv_domain_stats *s) {
        return &s->has_balloon;
}
static bool *flag_guest(struct hv_domain_stats *s) {
        return &s->has_guest_mem;
}
static bool *flag_rss(struct hv_domain_stats *s) {
        return &s->has_rss;
}

#define F(n, member, fl) \
        { n, offsetof(struct hv_domain_stats, member), fl }

/* The plain int64 figures: name, field, the group it marks present. */
static const struct field fields[] = {
        F("cpu.time", cpu_time_ns, flag_cpu),
        F("cpu.user", cpu_user_ns, flag_split),
        F("cpu.system", cpu_system_ns, flag_split),
        F("balloon.current", balloon_current_kib, flag_balloon),
        F("balloon.maximum", balloon_maximum_kib, flag_balloon),
        /* The guest's own figures: libvirt reports them only when the guest's balloon
         * driver has sent statistics. */
        F("balloon.available", available_kib, flag_guest),
        F("balloon.unused", unused_kib, flag_guest),
        F("balloon.usable", usable_kib, flag_guest),
        F("balloon.disk_caches", disk_caches_kib, flag_guest),
        F("balloon.swap_in", swap_in_kib, flag_guest),
        F("balloon.swap_out", swap_out_kib, flag_guest),
        F("balloon.major_fault", major_faults, flag_guest),
        F("balloon.minor_fault", minor_faults, flag_guest),
        F("balloon.last-update", guest_mem_updated_s, flag_guest),
        F("balloon.rss", rss_kib, flag_rss),
};

/* The figures summed over devices: what follows "block.N." or "net.N.". */
struct dev_field {
        const char *rest;
        size_t offset;
};

#define D(r, member) \
        { r, offsetof(struct hv_domain_stats, member) }

static const struct dev_field block_fields[] = {
        D("rd.bytes", block_rd_bytes),
        D("wr.bytes", block_wr_bytes),
        D("rd.reqs", block_rd_reqs),
        D("wr.reqs", block_wr_reqs),
};

static const struct dev_field net_fields[] = {
        D("rx.bytes", net_rx_bytes),
        D("tx.bytes", net_tx_bytes),
        D("rx.pkts", net_rx_packets),
        D("tx.pkts", net_tx_packets),
};

static int64_t *member(struct hv_domain_stats *s, size_t offset) {
        return (int64_t *) ((char *) s + offset);
}

static bool add_dev(struct hv_domain_stats *s, const struct dev_field *f, size_t n, const char *rest, int64_t v) {
        for (size_t i = 0; i < n; i++)
                if (streq(rest, f[i].rest)) {
                        add_sat(member(s, f[i].offset), v);
                        return true;
                }
        return false;
}

/* libvirt's vcpu.N.state: 0 offline, 1 running, 2 blocked (idle in the guest). */
#define VCPU_STATE_OFFLINE 0

void hv_domain_stats_add(struct hv_domain_stats *s, const char *name, uint64_t value) {
        int64_t v = clamp64(value);
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (streq(name, fields[i].name)) {
                        *member(s, fields[i].offset) = v;
                        *fields[i].flag(s) = true;
                        return;
                }
        if (streq(name, "state.state")) {
                if (v < HV_STATE_MAX)
                        s->state = (enum hv_state) v;
                return;
        }
        if (streq(name, "vcpu.current") || streq(name, "vcpu.maximum")) {
                int n = v > HV_MAX_VCPUS ? HV_MAX_VCPUS : (int) v;
                if (streq(name, "vcpu.current"))
                        s->vcpus_current = n;
                else
                        s->vcpus_max = n;
                return;
        }
        /* The device counts come from the definition, the counters from QEMU (block) or the
         * host (net), which libvirt may have skipped: only no device at all, or a device's
         * counters, say the figures are there. */
        if (streq(name, "block.count")) {
                if (v == 0)
                        s->has_block = true;
                return;
        }
        if (streq(name, "net.count")) {
                if (v == 0)
                        s->has_net = true;
                return;
        }
        const char *rest;
        int n = indexed(name, "vcpu.", HV_MAX_VCPUS, &rest);
        if (n >= 0) {
                grow_vcpus(s, n + 1);
                struct hv_vcpu_stats *vc = &s->vcpu[n];
                if (streq(rest, "state"))
                        vc->online = v != VCPU_STATE_OFFLINE;
                else if (streq(rest, "time"))
                        vc->time_ns = v;
                else if (streq(rest, "wait")) {
                        vc->wait_ns = v;
                        s->has_vcpu_wait = true;
                } else if (streq(rest, "delay")) {
                        vc->delay_ns = v;
                        s->has_vcpu_delay = true;
                }
                return;
        }
        if (indexed(name, "block.", INT32_MAX, &rest) >= 0) {
                if (add_dev(s, block_fields, ELEMENTSOF(block_fields), rest, v))
                        s->has_block = true;
                return;
        }
        if (indexed(name, "net.", INT32_MAX, &rest) >= 0 && add_dev(s, net_fields, ELEMENTSOF(net_fields), rest, v))
                s->has_net = true;
}

void hv_domain_stats_finish(struct hv_domain_stats *s) {
        grow_vcpus(s, s->vcpus_max);
        s->vcpu_time_ns = 0;
        s->ready_ns = 0;
        for (int i = 0; i < s->n_vcpu; i++) {
                const struct hv_vcpu_stats *vc = &s->vcpu[i];
                add_sat(&s->vcpu_time_ns, vc->time_ns);
                add_sat(&s->ready_ns, s->has_vcpu_delay ? vc->delay_ns : vc->wait_ns);
        }
}

/* ---- the host's /proc texts ---- */

int hv_parse_loadavg(const char *text, double ret[3]) {
        if (!text)
                return TIDE_E_INVALID;
        double v[3];
        const char *p = text;
        for (int i = 0; i < 3; i++) {
                char *end;
                errno = 0;
                v[i] = strtod(p, &end);
                /* NaN and infinities fail the range test. */
                if (end == p || errno != 0 || !(v[i] >= 0 && v[i] < 1e9) ||
                    (*end != ' ' && *end != '\n' && *end != '\0'))
                        return TIDE_E_INVALID;
                p = end;
        }
        memcpy(ret, v, sizeof v);
        return 0;
}

int hv_parse_meminfo(const char *text, const char *key, int64_t *ret_kib) {
        if (!text || !key || !*key)
                return TIDE_E_INVALID;
        size_t klen = strlen(key);
        for (const char *line = text; *line;) {
                size_t len = strcspn(line, "\n");
                if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == ':') {
                        _cleanup_free_ char *val = xstrndup(line + klen + 1, len - klen - 1);
                        char *p = val + strspn(val, " \t");
                        char *unit = p + strcspn(p, " \t");
                        if (*unit) {
                                *unit++ = '\0';
                                unit += strspn(unit, " \t");
                        }
                        /* Every size in meminfo is in kB; the counts (HugePages_Total) have
                         * no unit and are not sizes. */
                        int64_t v;
                        if (!streq(unit, "kB") || parse_int64(p, 0, INT64_MAX / 1024, &v) < 0)
                                return TIDE_E_INVALID;
                        *ret_kib = v;
                        return 0;
                }
                line += len;
                if (*line)
                        line++;
        }
        return TIDE_E_NOT_FOUND;
}
