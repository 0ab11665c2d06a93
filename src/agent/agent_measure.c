/* agent_measure.c — the agent publishes what it measured of each VM to the store, under its
 * host's lease (model_layout.h's /tide/measure/<host>/<instance id>), so that the controllers'
 * leader, on any host, reads the measurements of every host: one small transaction per host and
 * sample, with each VM's latest sample (metrics_vm_json's "current": rates, vCPUs, memory, the
 * elastic loop's demand and entitlement) and the deletions of VMs no longer measured. */
#include <jansson.h>

#include "agent/agent_internal.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/util.h"
#include "metrics/metrics.h"
#include "model/model_layout.h"

static void ids_free(char **ids, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(ids[i]);
        free(ids);
}

static bool ids_have(char *const *ids, size_t n, const char *id) {
        for (size_t i = 0; i < n; i++)
                if (streq(ids[i], id))
                        return true;
        return false;
}

void agent_measure_set(struct agent_host *h, const char *const *ids, size_t n) {
        ids_free(h->measured, h->n_measured);
        h->measured = xcalloc(n ? n : 1, sizeof *h->measured);
        for (size_t i = 0; i < n; i++)
                h->measured[i] = xstrdup(ids[i]);
        h->n_measured = n;
}

/* Runs ops[0..n) in transactions of at most STORE_TXN_OPS_MAX operations. */
static int run_ops(struct store *s, const struct store_op *ops, size_t n) {
        for (size_t k = 0; k < n; k += STORE_TXN_OPS_MAX) {
                size_t m = n - k < STORE_TXN_OPS_MAX ? n - k : STORE_TXN_OPS_MAX;
                struct store_txn txn = { .success = ops + k, .n_success = m };
                int r = store_txn(s, &txn, NULL, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

void agent_measure_publish(struct agent *a, struct agent_host *h) {
        size_t n_ops = 0, cap = h->n_measured + h->n_published;
        struct store_op *ops = xcalloc(cap ? cap : 1, sizeof *ops);
        char **keys = xcalloc(cap ? cap : 1, sizeof *keys), **values = xcalloc(cap ? cap : 1, sizeof *values);
        for (size_t i = 0; i < h->n_measured; i++) {
                json_t *j = NULL;
                if (metrics_vm_json(a->cfg.metrics, h->measured[i], 1, &j) < 0)
                        continue;
                json_t *cur = json_object_get(j, "current");
                if (json_is_object(cur)) {
                        keys[n_ops] = model_key_measure(h->name, h->measured[i]);
                        values[n_ops] = tide_json_dump(cur);
                        ops[n_ops] = (struct store_op) {
                                .type = STORE_OP_PUT, .key = keys[n_ops], .value = values[n_ops], .lease = h->lease
                        };
                        n_ops++;
                }
                json_decref(j);
        }
        for (size_t i = 0; i < h->n_published; i++)
                if (!ids_have(h->measured, h->n_measured, h->published[i])) {
                        keys[n_ops] = model_key_measure(h->name, h->published[i]);
                        ops[n_ops] = (struct store_op) { .type = STORE_OP_DELETE, .key = keys[n_ops] };
                        n_ops++;
                }
        int r = run_ops(a->cfg.store, ops, n_ops);
        if (r < 0)
                log_warning_errno(r, "host '%s': publishing measurements: %m", h->name);
        else {
                /* What is published now: the next round deletes what goes. */
                ids_free(h->published, h->n_published);
                h->published = xcalloc(h->n_measured ? h->n_measured : 1, sizeof *h->published);
                for (size_t i = 0; i < h->n_measured; i++)
                        h->published[i] = xstrdup(h->measured[i]);
                h->n_published = h->n_measured;
        }
        for (size_t i = 0; i < n_ops; i++) {
                free(keys[i]);
                free(values[i]);
        }
        free(keys);
        free(values);
        free(ops);
}

void agent_measure_clear(struct agent_host *h) {
        ids_free(h->measured, h->n_measured);
        ids_free(h->published, h->n_published);
        h->measured = h->published = NULL;
        h->n_measured = h->n_published = 0;
}
