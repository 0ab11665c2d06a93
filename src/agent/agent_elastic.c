/* agent_elastic.c — the host's elastic loop: each pass (after the metrics sample) feeds measured
 * demand and each VM's policy to elastic_plan() and applies what it decides through the
 * hypervisor driver, one event per change with its reason. */
#include "agent/agent_internal.h"
#include "common/cpuset.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/util.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "model/model_layout.h"

#define MEM_FLOOR_MIB 96 /* the balloon never takes a guest below this */

static struct elastic_slot *slot_for(struct agent_host *h, const char *id) {
        for (size_t i = 0; i < h->n_elastic; i++)
                if (streq(h->elastic[i].id, id))
                        return &h->elastic[i];
        h->elastic = xrealloc(h->elastic, (h->n_elastic + 1) * sizeof *h->elastic);
        struct elastic_slot *s = &h->elastic[h->n_elastic++];
        *s = (struct elastic_slot) { .id = xstrdup(id),
                                     .tune = { .shares = HV_SHARES_DEFAULT, .period_us = ELASTIC_QUOTA_PERIOD_US } };
        return s;
}

void agent_elastic_clear(struct agent_host *h) {
        for (size_t i = 0; i < h->n_elastic; i++)
                free(h->elastic[i].id);
        free(h->elastic);
        h->elastic = NULL;
        h->n_elastic = 0;
}

static double pool_cpus(struct agent *a, struct agent_host *h, const struct metrics_host_rates *hr) {
        double n = hr->cpus;
        pthread_mutex_lock(&a->lock);
        struct cpuset set;
        if (h->pool && cpuset_parse(h->pool, &set) >= 0)
                n = cpuset_count(&set);
        pthread_mutex_unlock(&a->lock);
        return n;
}

static int apply(struct agent_host *h, struct elastic_slot *slot, const struct elastic_vm *vm,
                 const struct elastic_action *act) {
        const struct hv_driver *d = hv_conn_driver(h->hv);
        switch (act->kind) {
        case ELASTIC_SHARES:
        case ELASTIC_QUOTA: {
                struct hv_cpu_tune t = slot->tune;
                if (act->kind == ELASTIC_SHARES)
                        t.shares = (int) act->value;
                else {
                        t.quota_us = act->value;
                        t.period_us = ELASTIC_QUOTA_PERIOD_US;
                }
                int r = d->set_cpu_tune(h->hv, vm->id, &t);
                if (r >= 0)
                        slot->tune = t;
                return r;
        }
        case ELASTIC_VCPUS:
                return d->set_vcpus(h->hv, vm->id, (int) act->value);
        case ELASTIC_MEMORY:
                return d->set_memory(h->hv, vm->id, act->value);
        default:
                return TIDE_E_INVALID;
        }
}

void agent_elastic_pass(struct agent *a, struct agent_host *h, json_t *all) {
        struct metrics *m = a->cfg.metrics;
        struct metrics_host_rates hr;
        if (!m || metrics_host_rates(m, h->name, &hr) < 0)
                return;
        _cleanup_free_ char *conf_key = model_key_hostconf(h->name);
        json_t *conf;
        int64_t rev;
        bool host_elastic = true;
        if (model_json_get(a->cfg.store, conf_key, &conf, &rev) >= 0) {
                host_elastic = tide_json_bool(conf, "elastic", true);
                json_decref(conf);
        }

        size_t n_all = json_array_size(all), n = 0;
        _cleanup_free_ struct elastic_vm *vms = xcalloc(n_all ? n_all : 1, sizeof *vms);
        _cleanup_free_ json_t **insts = xcalloc(n_all ? n_all : 1, sizeof *insts);
        for (size_t i = 0; i < h->n_elastic; i++)
                h->elastic[i].seen = false;
        size_t idx;
        json_t *inst;
        json_array_foreach(all, idx, inst) {
                const char *id = tide_json_str(inst, "id", "");
                struct metrics_vm_rates vr;
                if (!streq(tide_json_str(inst, "host", ""), h->name) ||
                    model_instance_get_status(inst) != MODEL_INSTANCE_RUNNING || agent_is_busy(a, id) ||
                    json_is_object(json_object_get(inst, "migration")) || metrics_vm_rates(m, id, &vr) < 0)
                        continue;
                struct elastic_slot *slot = slot_for(h, id);
                slot->seen = true;
                int64_t mem_res = tide_json_int(inst, "mem_reservation", 0);
                vms[n] = (struct elastic_vm) {
                        .id = id,
                        .name = tide_json_str(inst, "name", id),
                        .elastic = host_elastic && tide_json_bool(inst, "elastic", true),
                        .dedicated = streq(tide_json_str(inst, "cpu_policy", "shared"), "dedicated"),
                        .priority = (int) tide_json_int(inst, "priority", MODEL_PRIORITY_DEFAULT),
                        .cpu_reservation = json_number_value(json_object_get(inst, "cpu_reservation")),
                        .cpu_limit = json_number_value(json_object_get(inst, "cpu_limit")),
                        .mem_reservation_mib = mem_res,
                        .mem_limit_mib = tide_json_int(inst, "mem_limit", 0),
                        .vcpus = vr.vcpus,
                        .vcpus_min = (int) tide_json_int(inst, "vcpus", 1),
                        .vcpus_max = (int) tide_json_int(inst, "max_vcpus", tide_json_int(inst, "vcpus", 1)),
                        .mem_mib = vr.balloon_kib / 1024,
                        .mem_min_mib = mem_res > MEM_FLOOR_MIB ? mem_res : MEM_FLOOR_MIB,
                        .mem_max_mib = tide_json_int(inst, "max_ram_mib", tide_json_int(inst, "ram_mib", 0)),
                        .cpu_cores = vr.cpu_cores,
                        .ready_cores = vr.ready_cores,
                        .vcpu_busy_max = vr.vcpu_busy_max,
                        .has_guest_mem = vr.has_guest_mem,
                        .guest_usable_mib = vr.mem_usable_kib / 1024,
                        .state = &slot->state,
                };
                if (vms[n].vcpus < vms[n].vcpus_min)
                        vms[n].vcpus_min = vms[n].vcpus;
                if (vms[n].mem_min_mib > vms[n].mem_max_mib)
                        vms[n].mem_min_mib = vms[n].mem_max_mib;
                insts[n++] = inst;
        }
        /* Forget VMs that left. */
        for (size_t i = 0; i < h->n_elastic;) {
                if (h->elastic[i].seen) {
                        i++;
                        continue;
                }
                free(h->elastic[i].id);
                h->elastic[i] = h->elastic[--h->n_elastic];
        }
        if (n == 0)
                return;
        /* slot_for may have moved the array: point the states at their final places. */
        for (size_t i = 0; i < n; i++)
                vms[i].state = &slot_for(h, vms[i].id)->state;

        struct elastic_params p;
        elastic_params_default(&p);
        struct elastic_host host = {
                .cpus = pool_cpus(a, h, &hr),
                .idle_cores = hr.cpu_idle_cores,
                .mem_total_mib = hr.mem_total_kib / 1024,
                .mem_available_mib = hr.mem_available_kib / 1024,
        };
        _cleanup_free_ double *demand = xcalloc(n, sizeof(double)), *entitled = xcalloc(n, sizeof(double));
        _cleanup_free_ struct elastic_action *acts = NULL;
        size_t n_acts = 0;
        int r = elastic_plan(&p, &host, vms, n, mono_ms(), demand, entitled, &acts, &n_acts);
        if (r < 0) {
                log_warning_errno(r, "host '%s': elastic plan: %m", h->name);
                return;
        }
        for (size_t i = 0; i < n; i++)
                metrics_set_elastic(m, vms[i].id, demand[i], entitled[i]);
        for (size_t k = 0; k < n_acts; k++) {
                const struct elastic_action *act = &acts[k];
                const struct elastic_vm *vm = &vms[act->vm];
                if (act->kind == ELASTIC_VCPUS && act->value < vm->vcpus && !h->vcpu_unplug) {
                        /* This hypervisor cannot take vCPUs back (QEMU's TCG): shares and the
                         * quota hold the VM back instead. */
                        log_debug("%s: not removing vCPUs here", vm->name);
                        continue;
                }
                r = apply(h, slot_for(h, vm->id), vm, act);
                if (r < 0) {
                        log_warning_errno(r, "%s: %s: %m (%s)", vm->name, act->reason, hv_last_error());
                        continue;
                }
                log_info("elastic: %s", act->reason);
                metrics_count_action(m, vm->id, elastic_action_kind_name(act->kind));
                /* Shares and quota are set on every VM's first pass (old value 0 or -1: never
                 * set): only changes are news. */
                bool first = (act->kind == ELASTIC_SHARES && act->old_value == 0) ||
                             (act->kind == ELASTIC_QUOTA && act->old_value < 0);
                if (!first)
                        model_event_emit(a->cfg.store, "info", "instance.elastic", insts[act->vm], h->name, "%s",
                                         act->reason);
        }
}
