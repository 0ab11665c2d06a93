/* Unit tests of networks' ports in the store (model_net.h) as instances are created
 * (sched_instance_place_and_store, through a placement cache as tided does) and deleted
 * (sched_store_delete): concurrent creates on one /26 never share an address, and exactly the
 * usable addresses fit; a full subnet, a taken or outside address fail with nothing left; a
 * deleted instance's or port's address is free again; concurrent networks never share a VNI; a
 * network's delete racing port adds never leaves a port on a deleted network.
 * On SQLite, and (TIDE_TEST_STORE=etcd, sched_ports_etcd) on an etcd the program starts. */
#include "store/test_store_helpers.h"

#include "common/tide_json.h"
#include "model/model.h"
#include "model/model_layout.h"
#include "model/model_net.h"
#include "sched/sched_cache.h"
#include "sched/sched_store.h"

#define CREATES 65 /* 61 addresses fit a /26 with a gateway: 4 must fail */

/* One simulated host that takes every instance, a flavor and an image. */
static void put_world(struct store *s) {
        json_t *numa = json_pack("[{s:i, s:s, s:I, s:I}]", "id", 0, "cpus", "0-63", "mem_mib", (json_int_t) 1 << 20,
                                 "hugepages_mib", (json_int_t) 0);
        _cleanup_json_ json_t *host = json_pack("{s:s, s:i, s:I, s:i, s:s, s:o}", "name", "h1", "cpus", 64, "mem_mib",
                                                (json_int_t) 1 << 20, "disk_gib", 100000, "hypervisor", "sim", "numa",
                                                numa);
        _cleanup_free_ char *hv = tide_json_dump(host);
        put(s, MODEL_KEY_HOSTS "h1", hv);
        put(s, MODEL_KEY_HOSTLIVE "h1", "up");
        _cleanup_json_ json_t *flavor = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i}", "id",
                                                  "00000000-0000-4000-8000-000000000001", "name", "tiny", "vcpus", 1,
                                                  "max_vcpus", 1, "ram_mib", 16, "max_ram_mib", 16, "disk_gib", 1);
        _cleanup_json_ json_t *image = json_pack("{s:s, s:s}", "id", "00000000-0000-4000-8000-000000000002", "name",
                                                 "img");
        assert_int_equal(model_obj_create(s, MODEL_FLAVOR, flavor, NULL), 0);
        assert_int_equal(model_obj_create(s, MODEL_IMAGE, image, NULL), 0);
}

static json_t *make_network(struct store *s, const char *name, const char *cidr) {
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:s}", "name", name, "type", "vxlan", "cidr", cidr);
        json_t *net = NULL;
        _cleanup_free_ char *err = NULL;
        int r = model_network_create(s, body, &net, &err);
        if (r < 0)
                fail_msg("creating network %s: %s", name, err);
        return net;
}

/* Creates instance name with one port on network (at ip, when not NULL). Returns the create's
 * result; *ret_err (may be NULL) gets its message. */
static int create(struct store *s, struct sched_cache *cache, const char *name, const char *network, const char *ip,
                  char **ret_err) {
        _cleanup_json_ json_t *req = json_pack("{s:s}", "network", network);
        if (ip)
                json_object_set_new(req, "ip", json_string(ip));
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:s, s:[O]}", "name", name, "flavor", "tiny", "image",
                                                "img", "networks", req);
        _cleanup_json_ json_t *inst = NULL;
        _cleanup_free_ char *err = NULL;
        int r = sched_instance_place_and_store(s, cache, body, NULL, false, now_ms(), &inst, &err);
        if (ret_err)
                *ret_err = TAKE_PTR(err);
        return r;
}

static size_t count_keys(struct store *s, const char *prefix) {
        struct store_kvs kvs = {};
        assert_int_equal(store_range(s, prefix, 0, &kvs, NULL), 0);
        size_t n = kvs.n;
        store_kvs_clear(&kvs);
        return n;
}

/* Every instance's ports, the port records, address keys and MAC keys agree one to one, and
 * no address or MAC is held twice. Returns the number of ports. */
static size_t assert_ports_consistent(struct store *s) {
        _cleanup_json_ json_t *all = NULL;
        assert_int_equal(model_obj_list(s, MODEL_INSTANCE, &all), 0);
        _cleanup_json_ json_t *ips = json_object(), *macs = json_object();
        size_t i, j, n = 0;
        json_t *inst, *p;
        json_array_foreach(all, i, inst)
                json_array_foreach(json_object_get(inst, "ports"), j, p) {
                        const char *ip = tide_json_str(p, "ip", ""), *mac = tide_json_str(p, "mac", "");
                        _cleanup_free_ char *ipk = xasprintf("%s/%s", tide_json_str(p, "network_id", ""), ip);
                        assert_null(json_object_get(ips, ipk));
                        assert_null(json_object_get(macs, mac));
                        json_object_set_new(ips, ipk, json_true());
                        json_object_set_new(macs, mac, json_true());
                        assert_true(model_mac_valid(mac));
                        _cleanup_free_ char *ak = model_key_ipam(tide_json_str(p, "network_id", ""), ip);
                        _cleanup_free_ char *pk = model_key_port(tide_json_str(p, "id", ""));
                        _cleanup_free_ char *mk = model_key_mac(mac);
                        assert_value(s, ak, tide_json_str(p, "id", ""));
                        assert_value(s, mk, tide_json_str(p, "id", ""));
                        struct store_kv kv = {};
                        assert_int_equal(store_get(s, pk, &kv), 0);
                        _cleanup_json_ json_t *rec = json_loads(kv.value, 0, NULL);
                        store_kv_clear(&kv);
                        assert_string_equal(tide_json_str(rec, "instance_id", ""), tide_json_str(inst, "id", ""));
                        assert_string_equal(tide_json_str(rec, "ip", ""), ip);
                        n++;
                }
        assert_int_equal(count_keys(s, MODEL_KEY_PORTS), n);
        assert_int_equal(count_keys(s, MODEL_KEY_IPAM), n);
        assert_int_equal(count_keys(s, MODEL_KEY_MACS), n);
        return n;
}

struct creator {
        pthread_t thread;
        struct store *s;
        struct sched_cache *cache;
        int index;
        int result;
        char *err;
};

static void *creator_run(void *p) {
        struct creator *c = p;
        _cleanup_free_ char *name = xasprintf("c%d", c->index);
        c->result = create(c->s, c->cache, name, "net", NULL, &c->err);
        return NULL;
}

static void test_concurrent_creates_never_share_an_address(void **state) {
        struct fixture *f = *state;
        put_world(f->s);
        _cleanup_json_ json_t *net = make_network(f->s, "net", "10.20.0.0/26");
        struct sched_cache *cache;
        assert_int_equal(sched_cache_new(f->s, &cache), 0);
        struct creator c[CREATES];
        for (int i = 0; i < CREATES; i++) {
                c[i] = (struct creator) { .s = f->s, .cache = cache, .index = i };
                assert_int_equal(pthread_create(&c[i].thread, NULL, creator_run, &c[i]), 0);
        }
        int ok = 0, full = 0;
        for (int i = 0; i < CREATES; i++) {
                pthread_join(c[i].thread, NULL);
                if (c[i].result == 0)
                        ok++;
                else if (c[i].result == TIDE_E_CONFLICT && c[i].err && strstr(c[i].err, "has no free address"))
                        full++;
                else
                        print_error("create %d: %d %s\n", i, c[i].result, c[i].err ? c[i].err : "");
                free(c[i].err);
        }
        sched_cache_free(cache);
        assert_int_equal(ok, 61);
        assert_int_equal(full, CREATES - 61);
        /* The failed ones left nothing: 61 instances, 61 ports, every address once. */
        _cleanup_json_ json_t *all = NULL;
        assert_int_equal(model_obj_list(f->s, MODEL_INSTANCE, &all), 0);
        assert_int_equal(json_array_size(all), 61);
        assert_int_equal(assert_ports_consistent(f->s), 61);
        /* Neither the network's nor its broadcast address nor the gateway was given. */
        _cleanup_free_ char *k0 = model_key_ipam(tide_json_str(net, "id", ""), "10.20.0.0");
        _cleanup_free_ char *k1 = model_key_ipam(tide_json_str(net, "id", ""), "10.20.0.1");
        _cleanup_free_ char *k63 = model_key_ipam(tide_json_str(net, "id", ""), "10.20.0.63");
        assert_absent(f->s, k0);
        assert_absent(f->s, k1);
        assert_absent(f->s, k63);
}

static void test_bad_ports_leave_nothing(void **state) {
        struct fixture *f = *state;
        put_world(f->s);
        _cleanup_json_ json_t *net = make_network(f->s, "net", "10.20.0.0/30"); /* one address: .2 */
        assert_int_equal(create(f->s, NULL, "a", "net", "10.20.0.2", NULL), 0);
        int64_t rev;
        assert_int_equal(store_revision(f->s, &rev), 0);
        char *err = NULL;
        assert_int_equal(create(f->s, NULL, "b", "net", "10.20.0.2", &err), TIDE_E_EXISTS);
        assert_non_null(strstr(err, "address 10.20.0.2 is taken"));
        free(err);
        assert_int_equal(create(f->s, NULL, "b", "net", "10.20.1.2", &err), TIDE_E_INVALID);
        assert_non_null(strstr(err, "outside"));
        free(err);
        assert_int_equal(create(f->s, NULL, "b", "net", NULL, &err), TIDE_E_CONFLICT);
        assert_non_null(strstr(err, "no free address"));
        free(err);
        assert_int_equal(create(f->s, NULL, "b", "nope", NULL, &err), TIDE_E_NOT_FOUND);
        assert_non_null(strstr(err, "network 'nope'"));
        free(err);
        /* Nothing was written by any of them. */
        int64_t after;
        assert_int_equal(store_revision(f->s, &after), 0);
        assert_int_equal(after, rev);
        assert_int_equal(assert_ports_consistent(f->s), 1);
}

static void test_deleted_instance_and_port_give_addresses_back(void **state) {
        struct fixture *f = *state;
        put_world(f->s);
        _cleanup_json_ json_t *net = make_network(f->s, "net", "10.20.0.0/30");
        _cleanup_json_ json_t *other = make_network(f->s, "other", "10.20.0.0/30"); /* the same CIDR: apart */
        assert_int_equal(create(f->s, NULL, "a", "net", NULL, NULL), 0);
        assert_int_equal(create(f->s, NULL, "b", "other", "10.20.0.2", NULL), 0);
        assert_int_equal(create(f->s, NULL, "c", "net", NULL, NULL), TIDE_E_CONFLICT);
        _cleanup_json_ json_t *a = NULL;
        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, "a", &a, NULL), 0);
        _cleanup_free_ char *err = NULL;
        assert_int_equal(model_network_delete(f->s, "net", &err), TIDE_E_IN_USE);
        assert_int_equal(sched_store_delete(f->s, a), 0);
        assert_int_equal(assert_ports_consistent(f->s), 1);
        assert_int_equal(create(f->s, NULL, "c", "net", "10.20.0.2", NULL), 0);

        /* A port added and removed: the address is taken, then free. */
        _cleanup_json_ json_t *req = json_pack("{s:s}", "network", "other"), *port = NULL;
        free(TAKE_PTR(err));
        assert_int_equal(model_port_add(f->s, "c", req, &port, &err), TIDE_E_CONFLICT); /* other is full */
        free(TAKE_PTR(err));
        _cleanup_json_ json_t *b = NULL;
        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, "b", &b, NULL), 0);
        const char *pid = tide_json_str(json_array_get(json_object_get(b, "ports"), 0), "id", "");
        assert_int_equal(model_port_remove(f->s, "b", pid, &err), 0);
        assert_int_equal(model_port_add(f->s, "c", req, &port, &err), 0);
        assert_string_equal(tide_json_str(port, "ip", ""), "10.20.0.2");
        assert_int_equal(assert_ports_consistent(f->s), 2);
        _cleanup_json_ json_t *cc = NULL;
        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, "c", &cc, NULL), 0);
        assert_int_equal(json_array_size(json_object_get(cc, "ports")), 2);
        /* Once the last port goes, the network can be deleted, and its VNI is free. */
        assert_int_equal(sched_store_delete(f->s, cc), 0);
        assert_int_equal(model_network_delete(f->s, "net", &err), 0);
        assert_int_equal(assert_ports_consistent(f->s), 0);
        _cleanup_json_ json_t *again = make_network(f->s, "again", "10.0.0.0/24");
        assert_int_equal(tide_json_int(again, "vni", 0), tide_json_int(net, "vni", -1));
}

struct net_creator {
        pthread_t thread;
        struct store *s;
        int index;
        int result;
        int64_t vni;
};

static void *net_creator_run(void *p) {
        struct net_creator *c = p;
        _cleanup_free_ char *name = xasprintf("n%d", c->index), *err = NULL;
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:s}", "name", name, "type", "vxlan", "cidr",
                                                "10.0.0.0/24");
        _cleanup_json_ json_t *net = NULL;
        c->result = model_network_create(c->s, body, &net, &err);
        c->vni = tide_json_int(net, "vni", -1);
        return NULL;
}

static void test_concurrent_networks_never_share_a_vni(void **state) {
        struct fixture *f = *state;
        enum { N = 20 };
        struct net_creator c[N];
        for (int i = 0; i < N; i++) {
                c[i] = (struct net_creator) { .s = f->s, .index = i };
                assert_int_equal(pthread_create(&c[i].thread, NULL, net_creator_run, &c[i]), 0);
        }
        bool seen[N] = {};
        for (int i = 0; i < N; i++) {
                pthread_join(c[i].thread, NULL);
                assert_int_equal(c[i].result, 0);
                /* The lowest free ones of the default range, each once. */
                assert_in_range(c[i].vni, MODEL_VNI_DEFAULT_MIN, MODEL_VNI_DEFAULT_MIN + N - 1);
                assert_false(seen[c[i].vni - MODEL_VNI_DEFAULT_MIN]);
                seen[c[i].vni - MODEL_VNI_DEFAULT_MIN] = true;
        }
        assert_int_equal(count_keys(f->s, MODEL_KEY_SEGMENTS "vxlan/"), N);
        /* One given explicitly that is taken is refused, and writes nothing. */
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:s, s:i}", "name", "taken", "type", "vxlan", "cidr",
                                                "10.0.0.0/24", "vni", MODEL_VNI_DEFAULT_MIN);
        _cleanup_json_ json_t *net = NULL;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(model_network_create(f->s, body, &net, &err), TIDE_E_EXISTS);
        assert_non_null(strstr(err, "is used by network"));
        assert_int_equal(count_keys(f->s, MODEL_KEY_NAMES "networks/"), N);
}

struct port_adder {
        pthread_t thread;
        struct store *s;
        const char *instance, *network;
        int result;
};

static void *port_adder_run(void *p) {
        struct port_adder *c = p;
        _cleanup_json_ json_t *req = json_pack("{s:s}", "network", c->network), *port = NULL;
        _cleanup_free_ char *err = NULL;
        c->result = model_port_add(c->s, c->instance, req, &port, &err);
        return NULL;
}

struct net_deleter {
        pthread_t thread;
        struct store *s;
        const char *network;
        int result;
};

static void *net_deleter_run(void *p) {
        struct net_deleter *d = p;
        _cleanup_free_ char *err = NULL;
        d->result = model_network_delete(d->s, d->network, &err);
        return NULL;
}

/* A network's delete racing ports being added to it: either the delete is refused, or it
 * went and no port on it was made, before or after. */
static void test_delete_never_leaves_ports_behind(void **state) {
        struct fixture *f = *state;
        enum { ADDERS = 6, ROUNDS = 15 };
        put_world(f->s);
        static const char *const names[ADDERS] = { "i0", "i1", "i2", "i3", "i4", "i5" };
        for (int i = 0; i < ADDERS; i++) {
                _cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:s}", "name", names[i], "flavor", "tiny", "image",
                                                        "img");
                _cleanup_json_ json_t *inst = NULL;
                _cleanup_free_ char *err = NULL;
                assert_int_equal(sched_instance_place_and_store(f->s, NULL, body, NULL, false, now_ms(), &inst, &err),
                                 0);
        }
        int deleted = 0, refused = 0;
        for (int round = 0; round < ROUNDS; round++) {
                _cleanup_free_ char *nname = xasprintf("r%d", round);
                _cleanup_json_ json_t *net = make_network(f->s, nname, "10.30.0.0/24");
                struct port_adder c[ADDERS];
                struct net_deleter d = { .s = f->s, .network = nname };
                for (int i = 0; i < ADDERS; i++) {
                        c[i] = (struct port_adder) { .s = f->s, .instance = names[i], .network = nname };
                        assert_int_equal(pthread_create(&c[i].thread, NULL, port_adder_run, &c[i]), 0);
                        if (i == round % ADDERS)
                                assert_int_equal(pthread_create(&d.thread, NULL, net_deleter_run, &d), 0);
                }
                for (int i = 0; i < ADDERS; i++)
                        pthread_join(c[i].thread, NULL);
                pthread_join(d.thread, NULL);
                _cleanup_free_ char *prefix = model_key_ipam_network(tide_json_str(net, "id", ""));
                size_t ports = count_keys(f->s, prefix);
                if (d.result == 0) {
                        deleted++;
                        assert_int_equal(ports, 0);
                        for (int i = 0; i < ADDERS; i++)
                                assert_int_not_equal(c[i].result, 0);
                } else {
                        refused++;
                        assert_int_equal(d.result, TIDE_E_IN_USE);
                        _cleanup_json_ json_t *still = NULL;
                        assert_int_equal(model_obj_get(f->s, MODEL_NETWORK, nname, &still, NULL), 0);
                        assert_false(tide_json_bool(still, "deleting", false));
                }
                assert_ports_consistent(f->s);
                /* Clean up for the next round: every port of every instance goes. */
                for (int i = 0; i < ADDERS; i++) {
                        _cleanup_json_ json_t *inst = NULL;
                        assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, names[i], &inst, NULL), 0);
                        json_t *p;
                        while ((p = json_array_get(json_object_get(inst, "ports"), 0))) {
                                _cleanup_free_ char *pid = xstrdup(tide_json_str(p, "id", "")), *err = NULL;
                                assert_int_equal(model_port_remove(f->s, names[i], pid, &err), 0);
                                json_decref(inst);
                                inst = NULL;
                                assert_int_equal(model_obj_get(f->s, MODEL_INSTANCE, names[i], &inst, NULL), 0);
                        }
                }
                _cleanup_free_ char *err = NULL;
                if (d.result != 0)
                        assert_int_equal(model_network_delete(f->s, nname, &err), 0);
        }
        print_message("network deletes racing port adds: %d went, %d refused\n", deleted, refused);
        assert_int_equal(count_keys(f->s, MODEL_KEY_NAMES "networks/"), 0);
}

int main(int argc, char **argv) {
        int r;
        if (test_store_prologue(argc, argv, &r))
                return r;
        const struct CMUnitTest tests[] = {
                T(test_concurrent_creates_never_share_an_address),
                T(test_bad_ports_leave_nothing),
                T(test_deleted_instance_and_port_give_addresses_back),
                T(test_concurrent_networks_never_share_a_vni),
                T(test_delete_never_leaves_ports_behind),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
