/* test_net_apply_tool — the integration test's hands on net_apply (tests/integration/
 * test-net-plumb.sh): plans VIEW.json (net_view_from_json's form) for HOST and applies it in the
 * current network namespace.
 *
 *   test_net_apply_tool [--dry-run] VIEW.json HOST
 *
 * Prints the plan's skipped records and the actions on stdout, then one JSON line:
 * {"links_created","links_changed","links_deleted","fdb_added","fdb_deleted","apply_ms"};
 * errors on stderr. Exit 0 when the host matches the plan, 1 when net_apply failed, 2 on bad
 * usage or input. */
#include <jansson.h>
#include <stdio.h>

#include "common/errors.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "net/net_apply.h"
#include "net/net_plan.h"

int main(int argc, char **argv) {
        unsigned flags = 0;
        int i = 1;
        if (i < argc && streq(argv[i], "--dry-run")) {
                flags |= NET_APPLY_DRY_RUN;
                i++;
        }
        if (argc - i != 2) {
                fprintf(stderr, "usage: %s [--dry-run] VIEW.json HOST\n", argv[0]);
                return 2;
        }
        json_error_t jerr;
        _cleanup_json_ json_t *j = json_load_file(argv[i], 0, &jerr);
        struct net_view *view = NULL;
        if (!j || net_view_from_json(j, &view) < 0) {
                fprintf(stderr, "%s: not a view: %s\n", argv[i], j ? "bad members" : jerr.text);
                return 2;
        }
        struct net_host *h = NULL;
        int r = net_host_new(&h);
        if (r < 0) {
                fprintf(stderr, "netlink: %s\n", tide_strerror(r));
                net_view_free(view);
                return 1;
        }
        int64_t t0 = mono_us();
        struct net_plan *plan = NULL;
        r = net_plan_build(view, argv[i + 1], &plan);
        if (r < 0) {
                fprintf(stderr, "plan: %s\n", tide_strerror(r));
                net_host_free(h);
                net_view_free(view);
                return 2;
        }
        struct net_apply_result res = { 0 };
        r = net_apply(h, plan, flags, &res);
        int64_t t1 = mono_us();
        for (size_t k = 0; k < plan->n_skipped; k++)
                printf("skip %s %s: %s\n", plan->skipped[k].kind, plan->skipped[k].id, plan->skipped[k].reason);
        fputs(res.actions, stdout);
        printf("{\"links_created\":%u,\"links_changed\":%u,\"links_deleted\":%u,\"fdb_added\":%u,\"fdb_deleted\":%u,"
               "\"apply_ms\":%.3f}\n",
               res.links_created, res.links_changed, res.links_deleted, res.fdb_added, res.fdb_deleted,
               (double) (t1 - t0) / 1000.0);
        if (res.errors)
                fprintf(stderr, "%s", res.errors);
        if (r < 0)
                fprintf(stderr, "net_apply: %s\n", tide_strerror(r));
        net_apply_result_clear(&res);
        net_plan_free(plan);
        net_host_free(h);
        net_view_free(view);
        return r < 0 ? 1 : 0;
}
