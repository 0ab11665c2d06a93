/* Golden-file tests of the host plumbing plan (net_plan.h).
 *
 * Each tests/net/<case>.json is
 *   {"doc": TEXT, "plan_for": [HOST...], "networks": [...], "ports": [{..., "host": H}],
 *    "hosts": [{"name", "address"}], "steps": [STEP...]?}
 * (net_view_from_json's form, with the store's records). The plan of every host of plan_for is
 * printed; then each step changes the view and the plans are printed again. A step is
 *   {"doc": TEXT, "move": {"port": ID, "host": H}}   the port's instance now runs on H
 *   {"doc": TEXT, "remove": ID}                      the port is deleted
 * <case>.expected holds the printed plans (net_plan_format). With TIDE_GOLDEN_UPDATE=1 the
 * expected files are rewritten from what the plan decides. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/golden.h"
#include "common/strbuf.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "net/net_plan.h"

#ifndef TIDE_NET_GOLDEN_DIR
#error "TIDE_NET_GOLDEN_DIR must name tests/net"
#endif

static void print_plans(struct strbuf *out, const struct net_view *v, const json_t *plan_for) {
        size_t i;
        const json_t *h;
        json_array_foreach(plan_for, i, h) {
                struct net_plan *p = NULL;
                assert_int_equal(net_plan_build(v, json_string_value(h), &p), 0);
                _cleanup_free_ char *text = net_plan_format(p);
                strbuf_printf(out, "== %s\n%s", json_string_value(h), text);
                net_plan_free(p);
        }
}

static struct net_view_port *port_find(struct net_view *v, const char *id) {
        for (size_t i = 0; id && i < v->n_ports; i++)
                if (streq(v->ports[i].id, id))
                        return &v->ports[i];
        fail_msg("no port %s", id ? id : "(null)");
        return NULL;
}

static char *golden_case(const char *path, const char *name, void *userdata) {
        json_error_t jerr;
        _cleanup_json_ json_t *c = json_load_file(path, 0, &jerr);
        if (!c)
                fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
        const json_t *plan_for = json_object_get(c, "plan_for");
        if (!json_is_array(plan_for) || !json_string_value(json_array_get(plan_for, 0)))
                fail_msg("%s: plan_for: an array of host names expected", path);
        struct net_view *v = NULL;
        if (net_view_from_json(c, &v) < 0)
                fail_msg("%s: not a view", path);

        struct strbuf out = STRBUF_INIT(0);
        print_plans(&out, v, plan_for);
        size_t i;
        const json_t *step;
        json_array_foreach(json_object_get(c, "steps"), i, step) {
                const json_t *move = json_object_get(step, "move");
                const char *removed = tide_json_str(step, "remove", NULL);
                if (move) {
                        struct net_view_port *port = port_find(v, tide_json_str(move, "port", NULL));
                        const char *host = tide_json_str(move, "host", NULL);
                        free(port->host);
                        port->host = host ? xstrdup(host) : NULL;
                        strbuf_printf(&out, "-- step %zu: port %s moves to %s\n", i + 1, port->id,
                                      host ? host : "no host");
                } else if (removed) {
                        struct net_view_port *port = port_find(v, removed);
                        free(port->network_id);
                        port->network_id = NULL;
                        free(port->host);
                        port->host = NULL;
                        /* A removed port is no longer in the view: drop it by moving the last one in. */
                        size_t at = (size_t) (port - v->ports);
                        free(port->id);
                        free(port->mac);
                        v->ports[at] = v->ports[--v->n_ports];
                        strbuf_printf(&out, "-- step %zu: port %s removed\n", i + 1, removed);
                } else {
                        fail_msg("%s: step %zu: \"move\" or \"remove\" expected", path, i + 1);
                }
                print_plans(&out, v, plan_for);
        }
        net_view_free(v);
        return strbuf_steal(&out);
}

static void every_case_plans_as_expected(void **state) {
        assert_int_equal(golden_run(TIDE_NET_GOLDEN_DIR, ".json", 7, golden_case, NULL), 0);
}

/* The names are the kernel's: never over 15 bytes, whatever the VNI, VLAN ID or physdev. */
static void names_fit_the_kernel(void **state) {
        struct net_view *v = net_view_new();
        json_t *n1 = json_pack("{s:s, s:s, s:i, s:i}", "id", "a", "type", "vxlan", "vni", 16777215, "mtu", 1450);
        json_t *n2 = json_pack("{s:s, s:s, s:i, s:s}", "id", "b", "type", "vlan", "vlan", 4094, "physdev",
                               "enx001122334455");
        json_t *p1 = json_pack("{s:s, s:s, s:s}", "id", "p1", "network_id", "a", "mac", "02:00:00:00:00:01");
        json_t *p2 = json_pack("{s:s, s:s, s:s}", "id", "p2", "network_id", "b", "mac", "02:00:00:00:00:02");
        assert_int_equal(net_view_add_network_json(v, n1), 0);
        assert_int_equal(net_view_add_network_json(v, n2), 0);
        assert_int_equal(net_view_add_port_json(v, p1, "h1"), 0);
        assert_int_equal(net_view_add_port_json(v, p2, "h1"), 0);
        net_view_add_host(v, "h1", "192.0.2.1");
        struct net_plan *p = NULL;
        assert_int_equal(net_plan_build(v, "h1", &p), 0);
        assert_int_equal(p->n_networks, 2);
        for (size_t i = 0; i < p->n_networks; i++) {
                assert_true(net_ifname_valid(p->networks[i].bridge));
                assert_true(net_ifname_valid(p->networks[i].uplink));
                assert_true(net_name_is_tide(p->networks[i].bridge));
        }
        assert_string_equal(p->networks[0].uplink, "tvx-16777215");
        assert_true(net_name_is_tide(p->networks[1].uplink));
        net_plan_free(p);
        json_decref(n1);
        json_decref(n2);
        json_decref(p1);
        json_decref(p2);
        net_view_free(v);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(every_case_plans_as_expected),
                cmocka_unit_test(names_fit_the_kernel),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
