/* bench/net_plumb.c — tide's own time to plumb a port on a host: net_plan_build and net_apply
 * (src/net) on the real kernel, in a network namespace of its own (unshare: root; exit 77
 * otherwise). The host h1 already has BACKGROUND vxlan networks plumbed, each with ports on two
 * other hosts; then, ROUNDS times, on a new vxlan network whose ports are on h2 and h3:
 *   first   the first port on h1: bridge, vxlan device, flood and port entries created
 *   more    a second port on h1 (the tap joins the bridge; netlink has nothing to do)
 *   remote  a port on h2 appears: one forwarding entry on h1
 *   gone    h1's ports deleted: its bridge and vxlan device deleted
 * Prints one JSON object: port_plumb_p50_ms and port_plumb_p99_ms (the "first" case, the
 * worst), and p50/p99 of the others. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>

#include "common/strbuf.h"
#include "common/util.h"
#include "net/net_apply.h"
#include "net/net_plan.h"

#define BACKGROUND 20
#define ROUNDS 200

static json_t *network(int vni) {
        _cleanup_free_ char *id = xasprintf("net-%d", vni);
        return json_pack("{s:s, s:s, s:i, s:i}", "id", id, "type", "vxlan", "vni", vni, "mtu", 1450);
}

static json_t *port(const char *id, int vni, int n, const char *host) {
        _cleanup_free_ char *mac = xasprintf("02:%02x:%02x:%02x:00:%02x", (vni >> 16) & 0xff, (vni >> 8) & 0xff,
                                             vni & 0xff, n);
        _cleanup_free_ char *net = xasprintf("net-%d", vni);
        return json_pack("{s:s, s:s, s:s, s:s}", "id", id, "network_id", net, "mac", mac, "host", host);
}

/* The view: BACKGROUND networks (ports on h1, h2, h3) and, when vni > 0, the round's network
 * with one port on each of hosts[0..n_hosts). */
static json_t *view(int vni, const char *const *hosts, size_t n_hosts) {
        json_t *nets = json_array(), *ports = json_array();
        for (int b = 1; b <= BACKGROUND; b++) {
                json_array_append_new(nets, network(b));
                const char *hs[] = { "h1", "h2", "h3" };
                for (int k = 0; k < 3; k++) {
                        _cleanup_free_ char *id = xasprintf("bg-%d-%d", b, k);
                        json_array_append_new(ports, port(id, b, k + 1, hs[k]));
                }
        }
        if (vni > 0) {
                json_array_append_new(nets, network(vni));
                for (size_t k = 0; k < n_hosts; k++) {
                        _cleanup_free_ char *id = xasprintf("p-%d-%zu", vni, k);
                        json_array_append_new(ports, port(id, vni, (int) k + 1, hosts[k]));
                }
        }
        return json_pack("{s:o, s:o, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}", "networks", nets, "ports", ports,
                         "hosts", "name", "h1", "address", "10.77.0.1", "name", "h2", "address", "10.77.0.2", "name",
                         "h3", "address", "10.77.0.3");
}

/* Plans and applies j for h1; returns the milliseconds it took, or aborts on failure. */
static double plumb(struct net_host *h, json_t *j, unsigned expect_created, unsigned expect_deleted) {
        struct net_view *v = NULL;
        if (net_view_from_json(j, &v) < 0)
                abort();
        int64_t t0 = mono_us();
        struct net_plan *p = NULL;
        struct net_apply_result res = { 0 };
        int r = net_plan_build(v, "h1", &p);
        if (r >= 0)
                r = net_apply(h, p, 0, &res);
        int64_t t1 = mono_us();
        if (r < 0 || res.links_created != expect_created || res.links_deleted != expect_deleted) {
                fprintf(stderr, "net_plumb: apply: %d, created %u (expected %u), deleted %u (expected %u)\n%s%s", r,
                        res.links_created, expect_created, res.links_deleted, expect_deleted, res.actions,
                        res.errors ? res.errors : "");
                exit(1);
        }
        net_apply_result_clear(&res);
        net_plan_free(p);
        net_view_free(v);
        json_decref(j);
        return (double) (t1 - t0) / 1000.0;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double q) {
        qsort(v, n, sizeof(*v), cmp_double);
        size_t i = (size_t) (q * (double) (n - 1) + 0.5);
        return v[i < n ? i : n - 1];
}

int main(void) {
        if (unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "net_plumb: SKIP: a network namespace of its own needs root (%s)\n", strerror(errno));
                return 77;
        }
        struct net_host *h = NULL;
        if (net_host_new(&h) < 0)
                return 1;
        plumb(h, view(0, NULL, 0), 2 * BACKGROUND, 0);
        static double first[ROUNDS], more[ROUNDS], remote[ROUNDS], gone[ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
                int vni = 100000 + i;
                const char *const s1[] = { "h2", "h3", "h1" };
                const char *const s2[] = { "h2", "h3", "h1", "h1" };
                const char *const s3[] = { "h2", "h3", "h1", "h1", "h2" };
                const char *const s4[] = { "h2", "h3", "h2" };
                first[i] = plumb(h, view(vni, s1, 3), 2, 0);
                more[i] = plumb(h, view(vni, s2, 4), 0, 0);
                remote[i] = plumb(h, view(vni, s3, 5), 0, 0);
                gone[i] = plumb(h, view(vni, s4, 3), 0, 2);
        }
        printf("{\"port_plumb_p50_ms\":%.3f,\"port_plumb_p99_ms\":%.3f,\"port_more_p50_ms\":%.3f,"
               "\"port_more_p99_ms\":%.3f,\"remote_port_p50_ms\":%.3f,\"remote_port_p99_ms\":%.3f,"
               "\"port_gone_p50_ms\":%.3f,\"port_gone_p99_ms\":%.3f,\"background_networks\":%d,\"rounds\":%d}\n",
               pct(first, ROUNDS, 0.5), pct(first, ROUNDS, 0.99), pct(more, ROUNDS, 0.5), pct(more, ROUNDS, 0.99),
               pct(remote, ROUNDS, 0.5), pct(remote, ROUNDS, 0.99), pct(gone, ROUNDS, 0.5), pct(gone, ROUNDS, 0.99),
               BACKGROUND, ROUNDS);
        net_host_free(h);
        return 0;
}
