/* Unit tests of the network commands' parsing (cli_network.c) on tide's own command table:
 * network create's options, the --network word, the limits of the repeatable options, and
 * options past the 64th bit of the option masks. No server. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"

static const struct cli_command *command(const char *noun, const char *verb) {
        char *words[2];
        char *v = xstrdup(verb);
        int n = 0, used;
        for (char *p = v; p && n < 2;) {
                words[n++] = p;
                p = strchr(p, ' ');
                if (p)
                        *p++ = 0;
        }
        const struct cli_command *c = cli_command_find(cli_commands, cli_n_commands, noun, n, words, &used);
        free(v);
        assert_non_null(c);
        return c;
}

/* Parses a NULL-terminated list of words (copied: getopt permutes argv). */
static int parse(const struct cli_command *cmd, struct cli_args *a, char **err, ...) {
        static char *argv[64];
        static char store[64][128];
        int argc = 0;
        va_list ap;
        va_start(ap, err);
        for (const char *w; (w = va_arg(ap, const char *));) {
                snprintf(store[argc], sizeof store[argc], "%s", w);
                argv[argc] = store[argc];
                argc++;
        }
        va_end(ap);
        argv[argc] = NULL;
        *err = NULL;
        return cli_args_parse(cmd, argc, argv, a, err);
}

static void test_network_create(void **state) {
        (void) state;
        struct cli_args a;
        char *err;
        assert_int_equal(parse(command("network", "create"), &a, &err, "create", "web", "--cidr", "10.20.0.0/24",
                               "--type", "vxlan", "--vni", "4096", "--dns", "1.1.1.1", "--dns", "8.8.8.8", "--gateway",
                               "none", NULL),
                         CLI_ARGS_OK);
        assert_string_equal(a.name, "web");
        assert_string_equal(a.cidr, "10.20.0.0/24");
        assert_string_equal(a.net_type, "vxlan");
        assert_int_equal(a.vni, 4096);
        assert_int_equal(a.n_dns, 2);
        assert_string_equal(a.dns[1], "8.8.8.8");
        assert_string_equal(a.gateway, "none");
        /* Options past the 64th: the masks are wider than 64 bits. */
        assert_true(CLI_OPT_VNI >= 64);
        assert_true((a.given & CLI_F(CLI_OPT_VNI)) != 0); /* cmocka casts to 64 bits: compare first */
        assert_false((a.given & CLI_F(CLI_OPT_VLAN)) != 0);
        assert_false((a.given & CLI_F(CLI_OPT_VNI - 64)) != 0);
}

static void test_network_create_refusals(void **state) {
        (void) state;
        struct cli_args a;
        char *err;
        const struct cli_command *c = command("network", "create");
        assert_int_equal(parse(c, &a, &err, "create", "web", "--type", "vxlan", NULL), -EINVAL);
        assert_non_null(strstr(err, "--cidr"));
        free(err);
        assert_int_equal(parse(c, &a, &err, "create", "web", "--cidr", "10.0.0.0/24", "--type", "gre", NULL), -EINVAL);
        assert_non_null(strstr(err, "--type must be vxlan, vlan or flat"));
        free(err);
        assert_int_equal(parse(c, &a, &err, "create", "web", "--cidr", "10.0.0.0/24", "--type", "vlan", "--vlan",
                               "4095", NULL),
                         -EINVAL);
        assert_non_null(strstr(err, "--vlan must be a whole number from 1 to 4094"));
        free(err);
        assert_int_equal(parse(c, &a, &err, "create", "web", "--cidr", "10.0.0.0/24", "--type", "vxlan", "--dns",
                               "1.1.1.1", "--dns", "1.1.1.2", "--dns", "1.1.1.3", "--dns", "1.1.1.4", "--dns",
                               "1.1.1.5", NULL),
                         -EINVAL);
        assert_non_null(strstr(err, "at most 4 --dns"));
        free(err);
        /* --network belongs to instances, not to networks. */
        assert_int_equal(parse(c, &a, &err, "create", "web", "--cidr", "10.0.0.0/24", "--type", "vxlan", "--network",
                               "x", NULL),
                         -EINVAL);
        free(err);
}

static void test_network_spec(void **state) {
        (void) state;
        size_t n;
        const char *ip;
        assert_int_equal(cli_parse_network_spec("web", &n, &ip), 0);
        assert_int_equal(n, 3);
        assert_null(ip);
        assert_int_equal(cli_parse_network_spec("web:ip=10.0.0.5", &n, &ip), 0);
        assert_int_equal(n, 3);
        assert_string_equal(ip, "10.0.0.5");
        static const char *const bad[] = { "",
                                           ":ip=10.0.0.5",
                                           "web:10.0.0.5",
                                           "web:ip=",
                                           "web:ip=10.0.0.5x",
                                           "web:mac=02",
                                           "we b",
                                           "web:ip=10.0.0.5:ip=10.0.0.6" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_int_equal(cli_parse_network_spec(bad[i], &n, &ip), -EINVAL);
        json_t *r = cli_network_request("web:ip=10.0.0.5");
        assert_string_equal(json_string_value(json_object_get(r, "network")), "web");
        assert_string_equal(json_string_value(json_object_get(r, "ip")), "10.0.0.5");
        json_decref(r);
}

static void test_instance_networks(void **state) {
        (void) state;
        struct cli_args a;
        char *err;
        const struct cli_command *c = command("instance", "create");
        assert_int_equal(parse(c, &a, &err, "create", "vm", "--flavor", "f", "--image", "i", "--network", "a",
                               "--network", "b:ip=10.0.0.2", NULL),
                         CLI_ARGS_OK);
        assert_int_equal(a.n_networks, 2);
        assert_string_equal(a.networks[1], "b:ip=10.0.0.2");
        assert_int_equal(parse(c, &a, &err, "create", "vm", "--flavor", "f", "--image", "i", "--network", "a",
                               "--network", "a", "--network", "a", "--network", "a", "--network", "a", "--network", "a",
                               "--network", "a", "--network", "a", "--network", "a", NULL),
                         -EINVAL);
        assert_non_null(strstr(err, "at most 8 --network"));
        free(err);
        assert_int_equal(parse(c, &a, &err, "create", "vm", "--flavor", "f", "--image", "i", "--network", "a:ip", NULL),
                         -EINVAL);
        assert_non_null(strstr(err, "--network must be NAME or NAME:ip=A.B.C.D"));
        free(err);
        /* port add and remove need their --network. */
        assert_int_equal(parse(command("instance", "port add"), &a, &err, "add", "vm", NULL), -EINVAL);
        assert_non_null(strstr(err, "--network"));
        free(err);
        assert_int_equal(parse(command("instance", "port remove"), &a, &err, "remove", "vm", "--network", "a", NULL),
                         CLI_ARGS_OK);
        assert_int_equal(a.n_networks, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_network_create),
                cmocka_unit_test(test_network_create_refusals),
                cmocka_unit_test(test_network_spec),
                cmocka_unit_test(test_instance_networks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
