/* store_bench.c — throughput of the SQLite store, printed as one JSON object: durable single-key
 * puts and CAS updates per second from one thread (each one a committed, fsynced transaction),
 * gets per second, and the time to range over 1,000 keys.
 *
 * Usage: store_bench [DIR] [N]; DIR defaults to $TMPDIR or /tmp (the figure is the fsync rate of
 * the filesystem there), N to 3000. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/errors.h"
#include "common/util.h"
#include "store/store.h"

static void die(const char *what, int r) {
        fprintf(stderr, "store_bench: %s: %s\n", what, tide_strerror(r));
        exit(1);
}

static double per_s(int64_t n, int64_t us) {
        return us > 0 ? (double) n * 1e6 / (double) us : 0;
}

int main(int argc, char **argv) {
        const char *tmp = getenv("TMPDIR");
        const char *base = argc > 1 ? argv[1] : tmp && *tmp ? tmp : "/tmp";
        int64_t n = 3000;
        if (argc > 2 && parse_int64(argv[2], 1, 10000000, &n) < 0)
                die("N", TIDE_E_INVALID);

        _cleanup_free_ char *dir = xasprintf("%s/tide-store-bench-XXXXXX", base);
        if (!mkdtemp(dir))
                die("mkdtemp", -errno);
        _cleanup_free_ char *path = xasprintf("%s/bench.db", dir);
        struct store *s = NULL;
        int r = store_open(path, &s);
        if (r < 0)
                die("open", r);

        char key[64], value[256];
        memset(value, 'x', sizeof value - 1);
        value[sizeof value - 1] = 0;

        int64_t t0 = mono_us();
        for (int64_t i = 0; i < n; i++) {
                snprintf(key, sizeof key, "/bench/instances/%08" PRId64, i % 1000);
                r = store_put(s, key, value, 0, NULL);
                if (r < 0)
                        die("put", r);
        }
        int64_t put_us = mono_us() - t0;

        int64_t rev = 0;
        r = store_put(s, "/bench/counter", "0", 0, &rev);
        if (r < 0)
                die("put", r);
        t0 = mono_us();
        for (int64_t i = 0; i < n; i++) {
                char v[32];
                snprintf(v, sizeof v, "%" PRId64, i + 1);
                r = store_cas(s, "/bench/counter", v, rev, &rev);
                if (r < 0)
                        die("cas", r);
        }
        int64_t cas_us = mono_us() - t0;

        t0 = mono_us();
        for (int64_t i = 0; i < n; i++) {
                struct store_kv kv = {};
                snprintf(key, sizeof key, "/bench/instances/%08" PRId64, i % 1000);
                r = store_get(s, key, &kv);
                if (r < 0)
                        die("get", r);
                store_kv_clear(&kv);
        }
        int64_t get_us = mono_us() - t0;

        t0 = mono_us();
        struct store_kvs kvs = {};
        r = store_range(s, "/bench/instances/", 0, &kvs, NULL);
        if (r < 0)
                die("range", r);
        int64_t range_us = mono_us() - t0;
        size_t range_n = kvs.n;
        store_kvs_clear(&kvs);

        printf("{\"n\": %" PRId64 ", \"put_per_s\": %.0f, \"cas_per_s\": %.0f, \"get_per_s\": %.0f, "
               "\"range_keys\": %zu, \"range_ms\": %.2f}\n",
               n, per_s(n, put_us), per_s(n, cas_us), per_s(n, get_us), range_n, range_us / 1000.0);

        store_free(s);
        (void) rm_rf(dir);
        return 0;
}
