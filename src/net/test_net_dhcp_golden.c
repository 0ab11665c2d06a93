/* Golden-file tests of the DHCP part of a host's networks (net_dhcp.h).
 *
 * Each tests/net-dhcp/<case>.json is a view as net_view_from_json reads it (the store's network
 * records with "cidr", "gateway", "dns", "mtu"; ports with "host", "ip" and "name", the
 * instance's name), plus
 *   "dhcp_for": HOST, "dhcp_address": {NETWORK_ID: IP}, "state_dir": DIR.
 * For every network of HOST's plan: its names, the dnsmasq command line (one argument a line)
 * and the hosts file, or the refusal's message. <case>.expected holds that text. With
 * TIDE_GOLDEN_UPDATE=1 the expected files are rewritten. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/golden.h"
#include "common/strbuf.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "net/net_dhcp.h"
#include "net/net_plan.h"

#ifndef TIDE_NET_DHCP_GOLDEN_DIR
#error "TIDE_NET_DHCP_GOLDEN_DIR must name tests/net-dhcp"
#endif

static const json_t *record_find(const json_t *c, const char *key, const char *id) {
        size_t i;
        const json_t *r;
        json_array_foreach(json_object_get(c, key), i, r)
                if (streq(tide_json_str(r, "id", ""), id))
                        return r;
        return NULL;
}

static void print_network(struct strbuf *out, const json_t *c, const struct net_plan_network *pn, const char *host) {
        const json_t *record = record_find(c, "networks", pn->network_id);
        const char *server = tide_json_str(json_object_get(c, "dhcp_address"), pn->network_id, NULL);
        struct net_dhcp_paths paths = { .dnsmasq = "/usr/sbin/dnsmasq",
                                        .state_dir = tide_json_str(c, "state_dir", NULL) };
        struct net_dhcp_network n;
        _cleanup_free_ char *err = NULL;
        strbuf_printf(out, "== network %s\n", pn->network_id);
        if (net_dhcp_network_from_json(pn, record, server, &n, &err) < 0) {
                strbuf_printf(out, "refused: %s\n", err);
                return;
        }
        struct net_dhcp_names names;
        assert_int_equal(net_dhcp_names(&n, &names), 0);
        assert_true(net_dhcp_ns_is_tide(names.ns));
        assert_true(net_ifname_valid(names.veth_host) && net_ifname_valid(names.veth_ns));
        strbuf_printf(out, "namespace %s veth %s (bridge %s) / %s\n", names.ns, names.veth_host, pn->bridge,
                      names.veth_ns);

        struct net_dhcp_port ports[64];
        size_t n_ports = 0, i;
        const json_t *p;
        json_array_foreach(json_object_get(c, "ports"), i, p) {
                if (!streq(tide_json_str(p, "network_id", ""), pn->network_id) ||
                    !streq(tide_json_str(p, "host", ""), host))
                        continue;
                assert_true(n_ports < 64);
                ports[n_ports++] = (struct net_dhcp_port) { .mac = tide_json_str(p, "mac", NULL),
                                                            .ip = tide_json_str(p, "ip", NULL),
                                                            .name = tide_json_str(p, "name", NULL) };
        }
        _cleanup_free_ char *hosts = NULL;
        if (net_dhcp_hosts_text(&n, ports, n_ports, &hosts, &err) < 0) {
                strbuf_printf(out, "hosts refused: %s\n", err);
                return;
        }
        _cleanup_strv_free_ char **argv = NULL;
        assert_int_equal(net_dhcp_argv(&n, &paths, &argv, NULL), 0);
        strbuf_puts(out, "argv:\n");
        for (char **a = argv; *a; a++)
                strbuf_printf(out, "  %s\n", *a);
        strbuf_printf(out, "hosts file:\n%s", hosts);
}

static char *golden_case(const char *path, const char *name, void *userdata) {
        json_error_t jerr;
        _cleanup_json_ json_t *c = json_load_file(path, 0, &jerr);
        if (!c)
                fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
        const char *host = tide_json_str(c, "dhcp_for", NULL);
        if (!host)
                fail_msg("%s: dhcp_for: a host name expected", path);
        struct net_view *v = NULL;
        if (net_view_from_json(c, &v) < 0)
                fail_msg("%s: not a view", path);
        struct net_plan *plan = NULL;
        assert_int_equal(net_plan_build(v, host, &plan), 0);
        struct strbuf out = STRBUF_INIT(0);
        for (size_t i = 0; i < plan->n_networks; i++)
                print_network(&out, c, &plan->networks[i], host);
        net_plan_free(plan);
        net_view_free(v);
        return strbuf_steal(&out);
}

static void every_case_as_expected(void **state) {
        assert_int_equal(golden_run(TIDE_NET_DHCP_GOLDEN_DIR, ".json", 3, golden_case, NULL), 0);
}

/* Whatever the bridge, the names fit the kernel and are this module's, not net_apply's. */
static void names_fit_the_kernel(void **state) {
        struct net_dhcp_names names;
        struct net_dhcp_network n = { .bridge = "tbr-16777215", .bridge_owned = true };
        assert_int_equal(net_dhcp_names(&n, &names), 0);
        assert_string_equal(names.ns, "tdh-16777215");
        assert_string_equal(names.veth_host, "tdv-16777215");
        n = (struct net_dhcp_network) { .bridge = "tbr-v4094-ffff", .bridge_owned = true };
        assert_int_equal(net_dhcp_names(&n, &names), 0);
        assert_string_equal(names.veth_ns, "tdn-v4094-ffff");
        /* Not the plumbing's names: net_apply, which deletes the tide devices its plan does not
         * name, leaves the DHCP veths to net_dhcp_run. */
        assert_false(net_name_is_tide(names.veth_host));
        assert_false(net_name_is_tide(names.veth_ns));
        n = (struct net_dhcp_network) { .bridge = "br0", .network_id = "0123abcd-ffff", .bridge_owned = false };
        assert_int_equal(net_dhcp_names(&n, &names), 0);
        assert_string_equal(names.ns, "tdh-f0123abcd");
        n.network_id = "short";
        assert_int_equal(net_dhcp_names(&n, &names), TIDE_E_INVALID);
        assert_false(net_dhcp_ns_is_tide("tdh-"));
        assert_false(net_dhcp_ns_is_tide("tbr-100"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(every_case_as_expected),
                cmocka_unit_test(names_fit_the_kernel),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
