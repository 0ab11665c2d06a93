/* cli_network.c — tide network create|list|show|delete, tide instance port add|remove, and
 * the network options' parsing (cli.h). */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "common/tide_json.h"

static const struct cli_column network_columns[] = {
        { "NAME", "name", NULL },       { "TYPE", "type", NULL },     { "CIDR", "cidr", NULL },
        { "GATEWAY", "gateway", NULL }, { "VNI", "vni", NULL },       { "VLAN", "vlan", NULL },
        { "PHYSDEV", "physdev", NULL }, { "BRIDGE", "bridge", NULL }, { "MTU", "mtu", NULL },
        { "ID", "id", NULL },
};

static bool name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
}

int cli_parse_network_spec(const char *s, size_t *ret_name_len, const char **ret_ip) {
        size_t n = strcspn(s, ":");
        if (n == 0 || n > 63)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!name_char(s[i]))
                        return -EINVAL;
        const char *ip = NULL;
        if (s[n]) {
                if (strncmp(s + n, ":ip=", 4) != 0)
                        return -EINVAL;
                ip = s + n + 4;
                /* A dotted quad's characters; tided checks the address itself. */
                if (!*ip || strlen(ip) > 15 || strspn(ip, "0123456789.") != strlen(ip))
                        return -EINVAL;
        }
        *ret_name_len = n;
        *ret_ip = ip;
        return 0;
}

json_t *cli_network_request(const char *spec) {
        size_t n;
        const char *ip;
        if (cli_parse_network_spec(spec, &n, &ip) < 0)
                return NULL;
        json_t *o = json_object();
        json_object_set_new(o, "network", json_stringn(spec, n));
        if (ip)
                json_object_set_new(o, "ip", json_string(ip));
        return o;
}

int cli_network_option(enum cli_opt id, const char *arg, struct cli_args *a, char **ret_error) {
        size_t n;
        const char *ip;
        int r;
        switch (id) {
        case CLI_OPT_CIDR:
                a->cidr = arg;
                return 0;
        case CLI_OPT_GATEWAY:
                a->gateway = arg;
                return 0;
        case CLI_OPT_DNS:
                if (a->n_dns == CLI_DNS_MAX) {
                        *ret_error = xasprintf("at most %d --dns options", CLI_DNS_MAX);
                        return -EINVAL;
                }
                a->dns[a->n_dns++] = arg;
                return 0;
        case CLI_OPT_NET_TYPE:
                if (!streq(arg, "vxlan") && !streq(arg, "vlan") && !streq(arg, "flat")) {
                        *ret_error = xasprintf("--type must be vxlan, vlan or flat, not '%s'", arg);
                        return -EINVAL;
                }
                a->net_type = arg;
                return 0;
        case CLI_OPT_VNI:
        case CLI_OPT_VLAN:
                r = parse_int64(arg, 1, id == CLI_OPT_VNI ? 16777215 : 4094, id == CLI_OPT_VNI ? &a->vni : &a->vlan);
                if (r < 0) {
                        *ret_error = xasprintf("--%s must be a whole number from 1 to %d, not '%s'",
                                               id == CLI_OPT_VNI ? "vni" : "vlan", id == CLI_OPT_VNI ? 16777215 : 4094,
                                               arg);
                        return -EINVAL;
                }
                return 0;
        case CLI_OPT_PHYSDEV:
                a->physdev = arg;
                return 0;
        case CLI_OPT_BRIDGE:
                a->bridge = arg;
                return 0;
        case CLI_OPT_NETWORK:
                if (cli_parse_network_spec(arg, &n, &ip) < 0) {
                        *ret_error = xasprintf("--network must be NAME or NAME:ip=A.B.C.D, not '%s'", arg);
                        return -EINVAL;
                }
                if (a->n_networks == CLI_NETWORKS_MAX) {
                        *ret_error = xasprintf("at most %d --network options", CLI_NETWORKS_MAX);
                        return -EINVAL;
                }
                a->networks[a->n_networks++] = arg;
                return 0;
        default:
                abort();
        }
}

int cli_network_create(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:s}", "name", a->name, "type", a->net_type, "cidr",
                                                a->cidr);
        if (!body) {
                cli_error("NAME and --cidr must be UTF-8");
                return CLI_EXIT_FAILURE;
        }
        if (a->gateway)
                json_object_set_new(body, "gateway",
                                    streq(a->gateway, CLI_GATEWAY_NONE) ? json_null() : json_string(a->gateway));
        if (a->n_dns > 0) {
                json_t *dns = json_array();
                for (size_t i = 0; i < a->n_dns; i++)
                        json_array_append_new(dns, json_string(a->dns[i]));
                json_object_set_new(body, "dns", dns);
        }
        if (a->given & CLI_F(CLI_OPT_VNI))
                json_object_set_new(body, "vni", json_integer(a->vni));
        if (a->given & CLI_F(CLI_OPT_VLAN))
                json_object_set_new(body, "vlan", json_integer(a->vlan));
        if (a->physdev)
                json_object_set_new(body, "physdev", json_string(a->physdev));
        if (a->bridge)
                json_object_set_new(body, "bridge", json_string(a->bridge));
        /* A string that is not UTF-8 makes json_string NULL: the member is then missing and
         * tided names it. */
        _cleanup_json_ json_t *net = NULL;
        if (cli_api_call(ctx, "POST", "/v1/networks", body, 0, 0, &net) < 0)
                return CLI_EXIT_FAILURE;
        return cli_print_answer(ctx, net, a->format);
}

int cli_network_list(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_list(ctx, "/v1/networks", "networks", network_columns, ELEMENTSOF(network_columns), a->format);
}

int cli_network_show(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *e = cli_escape(a->name);
        _cleanup_free_ char *path = xasprintf("/v1/networks/%s", e);
        _cleanup_json_ json_t *net = NULL;
        if (cli_api_call(ctx, "GET", path, NULL, 0, 0, &net) < 0)
                return CLI_EXIT_FAILURE;
        if (a->format == CLI_FORMAT_JSON || !json_is_object(net))
                return cli_print_answer(ctx, net, a->format);
        static const char *const skip[] = { "ports", NULL };
        static const char *const fields[] = { "FIELD", "VALUE" };
        static const char *const heads[] = { "IP", "MAC", "INSTANCE", "HOST", "PORT" };
        static const char *const keys[] = { "ip", "mac", "instance", "host", "id" };
        _cleanup_table_ struct cli_table *t = cli_table_new(2, fields);
        cli_table_add_fields(t, NULL, net, skip);
        cli_table_print(t, stdout);
        _cleanup_table_ struct cli_table *pt = cli_table_new(ELEMENTSOF(heads), heads);
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(net, "ports"), i, p) {
                char *cells[ELEMENTSOF(keys)];
                for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                        cells[k] = cli_cell_value(json_object_get(p, keys[k]));
                cli_table_add_row(pt, cells);
        }
        printf("\n");
        if (cli_table_rows(pt) == 0)
                printf("no ports\n");
        else
                cli_table_print(pt, stdout);
        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

int cli_network_delete(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_delete(ctx, "networks", a->name);
}

int cli_instance_port_add(struct cli_ctx *ctx, const struct cli_args *a) {
        if (a->n_networks != 1) {
                cli_error("give one --network");
                return CLI_EXIT_USAGE;
        }
        _cleanup_json_ json_t *body = cli_network_request(a->networks[0]), *port = NULL;
        _cleanup_free_ char *e = cli_escape(a->name);
        _cleanup_free_ char *path = xasprintf("/v1/instances/%s/ports", e);
        if (cli_api_call(ctx, "POST", path, body, 0, 0, &port) < 0)
                return CLI_EXIT_FAILURE;
        return cli_print_answer(ctx, port, a->format);
}

int cli_instance_port_remove(struct cli_ctx *ctx, const struct cli_args *a) {
        if (a->n_networks != 1) {
                cli_error("give one --network");
                return CLI_EXIT_USAGE;
        }
        _cleanup_json_ json_t *want = cli_network_request(a->networks[0]), *inst = NULL;
        const char *net = tide_json_str(want, "network", ""), *ip = tide_json_str(want, "ip", NULL);
        _cleanup_free_ char *e = cli_escape(a->name);
        _cleanup_free_ char *path = xasprintf("/v1/instances/%s", e);
        if (cli_api_call(ctx, "GET", path, NULL, 0, 0, &inst) < 0)
                return CLI_EXIT_FAILURE;
        /* The port on that network (by name or id), at that address when one is given. */
        const char *id = NULL;
        size_t found = 0, i;
        json_t *p;
        json_array_foreach(json_object_get(inst, "ports"), i, p) {
                if (!streq(tide_json_str(p, "network", ""), net) && !streq(tide_json_str(p, "network_id", ""), net))
                        continue;
                if (ip && !streq(tide_json_str(p, "ip", ""), ip))
                        continue;
                id = tide_json_str(p, "id", NULL);
                found++;
        }
        if (found == 0 || !id) {
                cli_error("instance '%s' has no port on network '%s'%s%s", a->name, net, ip ? " at " : "",
                          ip ? ip : "");
                return CLI_EXIT_FAILURE;
        }
        if (found > 1) {
                cli_error("instance '%s' has %zu ports on network '%s': name one with --network %s:ip=A.B.C.D", a->name,
                          found, net, net);
                return CLI_EXIT_FAILURE;
        }
        _cleanup_free_ char *pe = cli_escape(id);
        _cleanup_free_ char *ppath = xasprintf("/v1/instances/%s/ports/%s", e, pe);
        if (cli_api_call(ctx, "DELETE", ppath, NULL, 0, 0, NULL) < 0)
                return CLI_EXIT_FAILURE;
        return CLI_EXIT_OK;
}
