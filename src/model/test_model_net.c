/* Unit tests of networks' pure parts (model_net.h): IPv4 and CIDR parsing, a network request's
 * validation and derived MTU, the choice of a port's address, MACs, the network settings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "model/model_net.h"

static void test_ipv4_parse(void **state) {
        (void) state;
        uint32_t a;
        char buf[MODEL_IPV4_STRLEN];
        assert_int_equal(model_ipv4_parse("10.20.0.1", &a), 0);
        assert_int_equal(a, 0x0a140001);
        assert_string_equal(model_ipv4_format(a, buf), "10.20.0.1");
        assert_int_equal(model_ipv4_parse("255.255.255.255", &a), 0);
        assert_int_equal(a, UINT32_MAX);
        static const char *const bad[] = { "",         "1.2.3",  "1.2.3.4.5", "256.1.1.1", "01.2.3.4",   "1.2.3.4 ",
                                           " 1.2.3.4", "1..2.3", "1.2.3.-4",  "a.b.c.d",   "1.2.3.4/24", "1.2.3.1000" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(model_ipv4_parse(bad[i], &a), -EINVAL);
        assert_int_equal(model_ipv4_parse(NULL, &a), -EINVAL);
}

static void test_cidr_parse(void **state) {
        (void) state;
        struct model_cidr c;
        char *err = NULL;
        assert_int_equal(model_cidr_parse("10.20.0.0/24", &c, &err), 0);
        assert_int_equal(c.net, 0x0a140000);
        assert_int_equal(c.prefix, 24);
        assert_int_equal(model_cidr_broadcast(&c), 0x0a1400ff);
        assert_true(model_cidr_contains(&c, 0x0a140080));
        assert_false(model_cidr_contains(&c, 0x0a140100));
        static const struct {
                const char *cidr, *why;
        } bad[] = {
                { "10.20.0.0", "malformed" },
                { "10.20.0.0/", "malformed" },
                { "10.20.0/24", "malformed" },
                { "10.20.0.0/24x", "malformed" },
                { "10.20.0.0/+24", "malformed" },
                { "10.20.0.0/024", "malformed" },
                { "10.20.0.0/33", "malformed" },
                { "10.20.0.0/31", "prefix length" },
                { "10.0.0.0/7", "prefix length" },
                { "10.20.0.5/24", "host bits set (the network is 10.20.0.0/24)" },
                { "", "required" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(model_cidr_parse(bad[i].cidr, &c, &err), TIDE_E_INVALID);
                if (!strstr(err, bad[i].why))
                        fail_msg("%s: '%s' does not say '%s'", bad[i].cidr, err, bad[i].why);
                free(err);
                err = NULL;
        }
}

static void test_ifname(void **state) {
        (void) state;
        assert_true(model_ifname_valid("eth0"));
        assert_true(model_ifname_valid("br-lan.100"));
        assert_true(model_ifname_valid("abcdefghijklmno"));
        assert_false(model_ifname_valid("abcdefghijklmnop")); /* 16 */
        assert_false(model_ifname_valid(""));
        assert_false(model_ifname_valid("."));
        assert_false(model_ifname_valid(".."));
        assert_false(model_ifname_valid("eth/0"));
        assert_false(model_ifname_valid("eth 0"));
        assert_false(model_ifname_valid(NULL));
}

/* The request's result, or its error message (either: the caller frees). */
static int network(const char *body_text, json_t **ret, char **ret_err) {
        struct model_net_config cfg;
        model_net_config_default(&cfg);
        json_error_t je;
        _cleanup_json_ json_t *body = json_loads(body_text, 0, &je);
        assert_non_null(body);
        *ret = NULL;
        *ret_err = NULL;
        return model_network_from_request(body, &cfg, ret, ret_err);
}

static void test_network_request_valid(void **state) {
        (void) state;
        json_t *n;
        char *err;
        assert_int_equal(network("{\"name\":\"a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/24\"}", &n, &err), 0);
        assert_string_equal(tide_json_str(n, "gateway", ""), "10.20.0.1");
        assert_int_equal(tide_json_int(n, "mtu", 0), 1450);
        assert_null(json_object_get(n, "vni")); /* allocated when stored */
        json_decref(n);
        assert_int_equal(network("{\"name\":\"a\",\"type\":\"vlan\",\"cidr\":\"10.20.0.0/24\",\"vlan\":100,"
                                 "\"physdev\":\"eth0\",\"gateway\":\"10.20.0.254\",\"dns\":[\"1.1.1.1\"]}",
                                 &n, &err),
                         0);
        assert_int_equal(tide_json_int(n, "mtu", 0), 1500);
        assert_int_equal(tide_json_int(n, "vlan", 0), 100);
        assert_string_equal(tide_json_str(n, "gateway", ""), "10.20.0.254");
        assert_string_equal(json_string_value(json_array_get(json_object_get(n, "dns"), 0)), "1.1.1.1");
        json_decref(n);
        assert_int_equal(network("{\"name\":\"a\",\"type\":\"flat\",\"cidr\":\"192.168.1.0/24\",\"bridge\":\"br0\","
                                 "\"gateway\":null}",
                                 &n, &err),
                         0);
        assert_true(json_is_null(json_object_get(n, "gateway")));
        json_decref(n);
}

static void test_network_request_invalid(void **state) {
        (void) state;
        static const struct {
                const char *body, *why;
        } bad[] = {
                { "{\"name\":\"a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/33\"}", "malformed CIDR" },
                { "{\"name\":\"a\",\"type\":\"vxlan\"}", "CIDR is required" },
                { "{\"name\":\"a\",\"cidr\":\"10.20.0.0/24\"}", "'type' is required" },
                { "{\"name\":\"a\",\"type\":\"gre\",\"cidr\":\"10.20.0.0/24\"}", "unknown network type 'gre'" },
                { "{\"name\":\"a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/24\",\"gateway\":\"10.21.0.1\"}",
                  "gateway 10.21.0.1 is outside 10.20.0.0/24" },
                { "{\"name\":\"a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/24\",\"gateway\":\"10.20.0.0\"}",
                  "the network address" },
                { "{\"name\":\"a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/24\",\"gateway\":\"10.20.0.255\"}",
                  "the broadcast address" },
                { "{\"name\":\"a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/24\",\"gateway\":\"x\"}",
                  "must be an IPv4 address" },
                { "{\"name\":\"a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/24\",\"vni\":16777216}", "'vni'" },
                { "{\"name\":\"a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/24\",\"vni\":0}", "'vni'" },
                { "{\"name\":\"a\",\"type\":\"vlan\",\"cidr\":\"10.20.0.0/24\",\"physdev\":\"eth0\",\"vlan\":4095}",
                  "'vlan'" },
                { "{\"name\":\"a\",\"type\":\"vlan\",\"cidr\":\"10.20.0.0/24\",\"vlan\":10}", "needs 'physdev'" },
                { "{\"name\":\"a\",\"type\":\"vlan\",\"cidr\":\"10.20.0.0/24\",\"physdev\":\"eth/0\"}",
                  "not an interface name" },
                { "{\"name\":\"a\",\"type\":\"flat\",\"cidr\":\"10.20.0.0/24\"}", "needs 'bridge'" },
                { "{\"name\":\"a\",\"type\":\"flat\",\"cidr\":\"10.20.0.0/24\",\"bridge\":\"a-very-long-bridge\"}",
                  "not an interface name" },
                { "{\"name\":\"a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/24\",\"bridge\":\"br0\"}",
                  "'bridge' does not apply to a vxlan network" },
                { "{\"name\":\"a\",\"type\":\"flat\",\"cidr\":\"10.20.0.0/24\",\"bridge\":\"br0\",\"vni\":5}",
                  "'vni' does not apply to a flat network" },
                { "{\"name\":\"a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/24\",\"dns\":[\"1.1.1\"]}",
                  "a DNS server must be an IPv4 address" },
                { "{\"name\":\"a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/24\",\"mtu\":9000}", "unknown field 'mtu'" },
                { "{\"name\":\"-a\",\"type\":\"vxlan\",\"cidr\":\"10.20.0.0/24\"}", "network name must be" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_t *n;
                char *err;
                assert_int_equal(network(bad[i].body, &n, &err), TIDE_E_INVALID);
                assert_null(n);
                if (!strstr(err, bad[i].why))
                        fail_msg("%s: '%s' does not say '%s'", bad[i].body, err, bad[i].why);
                free(err);
        }
}

static void test_mtu_follows_the_underlay(void **state) {
        (void) state;
        struct model_net_config cfg;
        char *err = NULL;
        _cleanup_json_ json_t *set = json_pack("{s:i}", "underlay_mtu", 9000);
        assert_int_equal(model_net_config_from_json(set, &cfg, &err), 0);
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:s}", "name", "a", "type", "vxlan", "cidr", "10.0.0.0/24");
        _cleanup_json_ json_t *n = NULL;
        assert_int_equal(model_network_from_request(body, &cfg, &n, &err), 0);
        assert_int_equal(tide_json_int(n, "mtu", 0), 8950);
}

static void test_ipam_check(void **state) {
        (void) state;
        struct model_cidr c = { .net = 0x0a000000, .prefix = 29 }; /* 10.0.0.0-7 */
        char *err = NULL;
        uint32_t gw = 0x0a000001;
        assert_int_equal(model_ipam_check(&c, gw, 0x0a000002, "10.0.0.2", &err), 0);
        assert_int_equal(model_ipam_check(&c, gw, 0x0a000000, "10.0.0.0", &err), TIDE_E_INVALID);
        free(TAKE_PTR(err));
        assert_int_equal(model_ipam_check(&c, gw, 0x0a000007, "10.0.0.7", &err), TIDE_E_INVALID);
        free(TAKE_PTR(err));
        assert_int_equal(model_ipam_check(&c, gw, gw, "10.0.0.1", &err), TIDE_E_INVALID);
        assert_non_null(strstr(err, "gateway"));
        free(TAKE_PTR(err));
        assert_int_equal(model_ipam_check(&c, gw, 0x0a000008, "10.0.0.8", &err), TIDE_E_INVALID);
        assert_non_null(strstr(err, "outside"));
        free(TAKE_PTR(err));
        assert_int_equal(model_ipam_check(&c, 0, 0x0a000001, "10.0.0.1", &err), 0); /* no gateway */
        assert_int_equal(model_ipam_usable(&c, gw), 5);
        assert_int_equal(model_ipam_usable(&c, 0), 6);
}

static void test_ipam_pick_fills_the_pool_once(void **state) {
        (void) state;
        struct model_cidr c = { .net = 0x0a140000, .prefix = 26 };
        uint32_t gw = 0x0a140001, used[64];
        size_t n = 0;
        /* From any start, each pick is a new usable address, until all 61 are taken. */
        for (uint32_t start = 7;; start = start * 2654435761u + 1) {
                uint32_t a;
                int r = model_ipam_pick(&c, gw, used, n, start, &a);
                if (r < 0) {
                        assert_int_equal(r, TIDE_E_CONFLICT);
                        break;
                }
                char *err = NULL;
                assert_int_equal(model_ipam_check(&c, gw, a, "a", &err), 0);
                for (size_t i = 0; i < n; i++)
                        assert_int_not_equal(used[i], a);
                used[n++] = a;
                /* Kept sorted, as the contract asks. */
                for (size_t i = n - 1; i > 0 && used[i - 1] > used[i]; i--) {
                        uint32_t t = used[i];
                        used[i] = used[i - 1];
                        used[i - 1] = t;
                }
                assert_true(n <= 61);
        }
        assert_int_equal(n, 61);
}

static void test_ipam_pick_wraps_from_the_start(void **state) {
        (void) state;
        struct model_cidr c = { .net = 0x0a000000, .prefix = 29 };
        uint32_t used[] = { 0x0a000003, 0x0a000004, 0x0a000005, 0x0a000006 }, a;
        /* From .5 upwards: .5 and .6 taken, .7 broadcast, .0 network, .1 gateway: .2. */
        assert_int_equal(model_ipam_pick(&c, 0x0a000001, used, ELEMENTSOF(used), 5, &a), 0);
        assert_int_equal(a, 0x0a000002);
}

static void test_mac(void **state) {
        (void) state;
        char mac[MODEL_MAC_STRLEN];
        for (int i = 0; i < 100; i++) {
                model_mac_random(mac);
                assert_true(model_mac_valid(mac));
                assert_true(startswith(mac, "02:"));
        }
        assert_false(model_mac_valid("03:00:00:00:00:01")); /* multicast */
        assert_false(model_mac_valid("00:16:3e:00:00:01")); /* universally administered */
        assert_false(model_mac_valid("02:00:00:00:00:0G"));
        assert_false(model_mac_valid("02:00:00:00:00"));
}

static void test_net_config_merge(void **state) {
        (void) state;
        char *err = NULL;
        json_t *out = NULL;
        _cleanup_json_ json_t *cur = json_pack("{s:i}", "vni_min", 100);
        _cleanup_json_ json_t *body = json_pack("{s:i}", "vni_max", 50);
        assert_int_equal(model_net_config_merge(cur, body, &out, &err), TIDE_E_INVALID);
        assert_non_null(strstr(err, "vni_min (100) is above vni_max (50)"));
        free(TAKE_PTR(err));
        _cleanup_json_ json_t *reset = json_pack("{s:n, s:i}", "vni_min", "vlan_max", 4094);
        assert_int_equal(model_net_config_merge(cur, reset, &out, &err), 0);
        struct model_net_config c;
        assert_int_equal(model_net_config_from_json(out, &c, &err), 0);
        assert_int_equal(c.vni_min, MODEL_VNI_DEFAULT_MIN);
        assert_int_equal(c.vlan_max, 4094);
        json_decref(out);
        _cleanup_json_ json_t *mtu = json_pack("{s:i}", "underlay_mtu", 100);
        assert_int_equal(model_net_config_merge(cur, mtu, &out, &err), TIDE_E_INVALID);
        free(err);
}

static void test_port_requests(void **state) {
        (void) state;
        char *err = NULL;
        _cleanup_json_ json_t *ok = json_pack("[{s:s}, {s:s, s:s}]", "network", "a", "network", "b", "ip", "10.0.0.2");
        assert_int_equal(model_port_requests_check(ok, &err), 0);
        assert_int_equal(model_port_requests_check(NULL, &err), 0);
        _cleanup_json_ json_t *bad_ip = json_pack("[{s:s, s:s}]", "network", "a", "ip", "10.0.0");
        assert_int_equal(model_port_requests_check(bad_ip, &err), TIDE_E_INVALID);
        free(TAKE_PTR(err));
        _cleanup_json_ json_t *no_net = json_pack("[{s:s}]", "ip", "10.0.0.2");
        assert_int_equal(model_port_requests_check(no_net, &err), TIDE_E_INVALID);
        free(TAKE_PTR(err));
        _cleanup_json_ json_t *many = json_array();
        for (int i = 0; i <= MODEL_PORTS_MAX; i++)
                json_array_append_new(many, json_pack("{s:s}", "network", "a"));
        assert_int_equal(model_port_requests_check(many, &err), TIDE_E_INVALID);
        free(err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ipv4_parse),
                cmocka_unit_test(test_cidr_parse),
                cmocka_unit_test(test_ifname),
                cmocka_unit_test(test_network_request_valid),
                cmocka_unit_test(test_network_request_invalid),
                cmocka_unit_test(test_mtu_follows_the_underlay),
                cmocka_unit_test(test_ipam_check),
                cmocka_unit_test(test_ipam_pick_fills_the_pool_once),
                cmocka_unit_test(test_ipam_pick_wraps_from_the_start),
                cmocka_unit_test(test_mac),
                cmocka_unit_test(test_net_config_merge),
                cmocka_unit_test(test_port_requests),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
