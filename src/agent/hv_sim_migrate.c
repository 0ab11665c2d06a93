/* hv_sim_migrate.c — live migration between simulated hosts of one process (hv.h,
 * hv_sim_set_migration()). The process keeps a registry of its open simulated hosts by name;
 * a migration runs on real time for ram / rate, reporting progress, then moves the domain from
 * one host's array to the other's under both locks. No I/O, nothing logs. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "agent/hv.h"
#include "agent/hv_sim_priv.h"
#include "common/errors.h"
#include "common/util.h"

#define SIM_SCHEME "sim:///"
#define SIM_DOWNTIME_MS 20
#define SIM_POLL_MS_DEFAULT 500
#define SIM_ABORT_WAIT_MS 10000 /* how long migrate_abort() waits for the job to end */

/* The open simulated hosts. Held while a host is looked up and locked, so a close waits. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hv_conn **registry;
static size_t n_registry;

void hv_sim_registry_add(struct hv_conn *c) {
        pthread_mutex_lock(&registry_lock);
        registry = xrealloc(registry, (n_registry + 1) * sizeof *registry);
        registry[n_registry++] = c;
        pthread_mutex_unlock(&registry_lock);
}

void hv_sim_registry_remove(struct hv_conn *c) {
        pthread_mutex_lock(&registry_lock);
        for (size_t i = 0; i < n_registry; i++)
                if (registry[i] == c) {
                        registry[i] = registry[--n_registry];
                        break;
                }
        if (n_registry == 0) {
                free(registry);
                registry = NULL;
        }
        pthread_mutex_unlock(&registry_lock);
}

/* The open host that uri ("sim:///NAME[?...]") names, or NULL. Under registry_lock. */
static struct hv_conn *registry_find(const char *uri) {
        if (!uri || !startswith(uri, SIM_SCHEME))
                return NULL;
        const char *name = uri + strlen(SIM_SCHEME);
        size_t n = strcspn(name, "?");
        for (size_t i = 0; i < n_registry; i++)
                if (strlen(registry[i]->name) == n && strncmp(registry[i]->name, name, n) == 0)
                        return registry[i];
        return NULL;
}

static int64_t mono_ms_sim(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hv_sim_set_migration(struct hv_conn *c, int64_t rate_mib_s, int fail_at_percent) {
        if (!c || hv_conn_driver(c) != &hv_sim_driver)
                return hv_sim_fail_with(TIDE_E_INVALID, "not a simulator connection");
        if (rate_mib_s <= 0 || fail_at_percent < -1 || fail_at_percent > 100)
                return hv_sim_fail_with(TIDE_E_INVALID, "migration rate or failure point out of range");
        pthread_mutex_lock(&c->lock);
        c->migrate_rate_mib_s = rate_mib_s;
        c->migrate_fail_percent = fail_at_percent;
        pthread_mutex_unlock(&c->lock);
        return 0;
}

/* Ends the migration flag of uuid on c (the domain is still there: the move failed). */
static void unmark(struct hv_conn *c, const char *uuid) {
        pthread_mutex_lock(&c->lock);
        int r;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (d)
                d->migrating = d->migrate_abort = false;
        pthread_mutex_unlock(&c->lock);
}

/* The domain's running configuration as the target runs it: dest's placement over it. */
static void dest_config(const struct sim_config *live, const struct hv_domain_spec *dest, struct sim_config *ret) {
        hv_sim_config_copy(ret, live);
        if (!dest)
                return;
        free(ret->pin_cpus);
        ret->pin_cpus = NULL;
        ret->n_pin_cpus = dest->n_pin_cpus;
        if (dest->n_pin_cpus > 0) {
                ret->pin_cpus = xmalloc((size_t) dest->n_pin_cpus * sizeof *ret->pin_cpus);
                memcpy(ret->pin_cpus, dest->pin_cpus, (size_t) dest->n_pin_cpus * sizeof *ret->pin_cpus);
        }
        ret->has_numa_node = dest->has_numa_node;
        ret->numa_node = dest->numa_node;
        free(ret->cpuset);
        ret->cpuset = dest->cpuset ? xstrdup(dest->cpuset) : NULL;
        ret->cores = hv_sim_config_cores(ret);
}

/* The switch: d leaves c for t, both locked (in address order, so two migrations in opposite
 * directions cannot deadlock). Everything is checked before anything changes. */
static int switch_hosts(struct hv_conn *c, struct hv_conn *t, const char *uuid, const struct hv_domain_spec *dest) {
        struct hv_conn *first = c < t ? c : t, *second = c < t ? t : c;
        pthread_mutex_lock(&first->lock);
        pthread_mutex_lock(&second->lock);
        hv_sim_sync_clock(c);
        hv_sim_sync_clock(t);
        int r = 0;
        struct sim_config live = {}, def = {};
        int64_t *huge = NULL;
        bool found, there = false;
        size_t to = 0, at = hv_sim_find(c, uuid, &found);
        struct sim_domain *d = found ? c->doms[at] : NULL;
        if (!d || d->state != HV_STATE_RUNNING) {
                r = hv_sim_fail_with(TIDE_E_BACKEND, "domain %s stopped during its migration", uuid);
                goto out;
        }
        to = hv_sim_find(t, uuid, &there);
        if (there && t->doms[to]->state == HV_STATE_RUNNING) {
                r = hv_sim_fail_with(TIDE_E_BACKEND, "domain %s already runs on the target", uuid);
                goto out;
        }
        for (size_t i = 0; i < t->n_doms; i++)
                if (streq(t->doms[i]->name, d->name) && !streq(t->doms[i]->uuid, uuid)) {
                        r = hv_sim_fail_with(TIDE_E_BACKEND, "the target has another domain named '%s'", d->name);
                        goto out;
                }
        dest_config(&d->live, dest, &live);
        dest_config(&d->def, dest, &def);
        if ((r = hv_sim_check_host(t, &live)) < 0)
                goto out;
        if (live.hugepages && (r = hv_sim_take_hugepages(t, &live, &huge)) < 0)
                goto out;

        /* Nothing can fail from here on. The source gives its hugepages back. */
        for (int i = 0; d->huge_mib && i < c->n_numa; i++)
                c->nodes[i].hugepages_used_mib -= d->huge_mib[i];
        free(d->huge_mib);
        d->huge_mib = huge;
        hv_sim_config_clear(&d->live);
        hv_sim_config_clear(&d->def);
        d->live = live;
        d->def = def;
        live = def = (struct sim_config) {};
        d->migrating = d->migrate_abort = false;
        memmove(&c->doms[at], &c->doms[at + 1], (c->n_doms - at - 1) * sizeof *c->doms);
        c->n_doms--;
        if (there) {
                /* A leftover definition on the target (PERSIST_DEST replaces it). */
                struct sim_domain *old = t->doms[to];
                t->doms[to] = d;
                free(old->name);
                hv_sim_config_clear(&old->def);
                hv_sim_config_clear(&old->live);
                free(old->huge_mib);
                free(old->vcpu_time_ns);
                free(old->vcpu_ready_ns);
                free(old);
        } else {
                if (t->n_doms == t->cap_doms) {
                        t->cap_doms = t->cap_doms ? 2 * t->cap_doms : 16;
                        t->doms = xrealloc(t->doms, t->cap_doms * sizeof *t->doms);
                }
                memmove(&t->doms[to + 1], &t->doms[to], (t->n_doms - to) * sizeof *t->doms);
                t->doms[to] = d;
                t->n_doms++;
        }
out:
        hv_sim_config_clear(&live);
        hv_sim_config_clear(&def);
        pthread_mutex_unlock(&second->lock);
        pthread_mutex_unlock(&first->lock);
        return r;
}

int hv_sim_migrate(struct hv_conn *c, const char *uuid, const struct hv_migrate_params *p,
                   hv_migrate_progress_fn progress, void *userdata, struct hv_migrate_result *ret) {
        if (!p || !p->target_uri || p->bandwidth_mib_s < 0 || p->max_downtime_ms < 0 || p->poll_ms < 0)
                return hv_sim_fail_with(TIDE_E_INVALID, "bad migration parameters");
        if (p->dest && hv_domain_spec_validate(p->dest, false) < 0)
                return hv_sim_fail_with(TIDE_E_INVALID, "invalid destination spec");
        int64_t t0 = mono_ms_sim();
        pthread_mutex_lock(&registry_lock);
        struct hv_conn *t = registry_find(p->target_uri);
        pthread_mutex_unlock(&registry_lock);
        if (!t)
                return hv_sim_fail_with(TIDE_E_BACKEND, "cannot reach the target '%s'", p->target_uri);
        if (t == c)
                return hv_sim_fail_with(TIDE_E_INVALID, "the target is this host");

        pthread_mutex_lock(&c->lock);
        hv_sim_sync_clock(c);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        int64_t ram = 0, rate = p->bandwidth_mib_s > 0 ? p->bandwidth_mib_s : c->migrate_rate_mib_s;
        int fail_at = c->migrate_fail_percent;
        if (d && d->state != HV_STATE_RUNNING)
                r = hv_sim_fail_with(TIDE_E_CONFLICT, "domain %s is not running", uuid);
        else if (d && d->migrating)
                r = hv_sim_fail_with(TIDE_E_CONFLICT, "domain %s is already migrating", uuid);
        else if (d) {
                d->migrating = true;
                d->migrate_abort = false;
                ram = d->live.max_ram_mib;
        }
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                return r;

        int64_t duration = ram * 1000 / rate, poll = p->poll_ms > 0 ? p->poll_ms : SIM_POLL_MS_DEFAULT;
        if (duration < 1)
                duration = 1;
        for (;;) {
                int64_t elapsed = mono_ms_sim() - t0;
                int percent = elapsed >= duration ? 100 : (int) (elapsed * 100 / duration);
                if (fail_at >= 0 && percent >= fail_at) {
                        unmark(c, uuid);
                        return hv_sim_fail_with(TIDE_E_BACKEND, "migration of %s failed at %d %%: target lost", uuid,
                                                percent);
                }
                pthread_mutex_lock(&c->lock);
                d = hv_sim_lookup(c, uuid, &r);
                bool aborted = d && d->migrate_abort, gone = !d || d->state != HV_STATE_RUNNING;
                pthread_mutex_unlock(&c->lock);
                if (gone) {
                        unmark(c, uuid);
                        return hv_sim_fail_with(TIDE_E_BACKEND, "domain %s stopped during its migration", uuid);
                }
                struct hv_migrate_progress pr = {
                        .percent = percent,
                        .elapsed_ms = elapsed,
                        .remaining_mib = ram - ram * percent / 100,
                        .total_mib = ram,
                        .rate_mib_s = (double) rate,
                };
                if (aborted || (percent < 100 && progress && progress(&pr, userdata))) {
                        unmark(c, uuid);
                        return hv_sim_fail_with(-ECANCELED, "migration of %s cancelled", uuid);
                }
                if (percent >= 100)
                        break;
                int64_t left = duration - elapsed;
                int64_t nap = left < poll ? left : poll;
                struct timespec ts = { .tv_sec = nap / 1000, .tv_nsec = (nap % 1000) * 1000000 };
                nanosleep(&ts, NULL);
        }

        pthread_mutex_lock(&registry_lock);
        t = registry_find(p->target_uri); /* closed meanwhile: the target died */
        r = t ? switch_hosts(c, t, uuid, p->dest)
              : hv_sim_fail_with(TIDE_E_BACKEND, "the target '%s' went away", p->target_uri);
        pthread_mutex_unlock(&registry_lock);
        if (r < 0) {
                unmark(c, uuid);
                return r;
        }
        if (ret)
                *ret = (struct hv_migrate_result) {
                        .total_ms = mono_ms_sim() - t0,
                        .downtime_ms = p->max_downtime_ms > 0 && p->max_downtime_ms < SIM_DOWNTIME_MS
                                               ? p->max_downtime_ms
                                               : SIM_DOWNTIME_MS,
                        .data_mib = ram,
                };
        return 0;
}

int hv_sim_migrate_abort(struct hv_conn *c, const char *uuid) {
        pthread_mutex_lock(&c->lock);
        int r = 0;
        struct sim_domain *d = hv_sim_lookup(c, uuid, &r);
        if (d && d->migrating)
                d->migrate_abort = true;
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                return r == TIDE_E_NOT_FOUND ? 0 : r;
        /* As libvirt's: back once the job has ended (the mover sees the flag at its next poll). */
        for (int64_t t0 = mono_ms_sim(); mono_ms_sim() - t0 < SIM_ABORT_WAIT_MS;) {
                pthread_mutex_lock(&c->lock);
                d = hv_sim_lookup(c, uuid, &r);
                bool migrating = d && d->migrating;
                pthread_mutex_unlock(&c->lock);
                if (!migrating)
                        return 0;
                struct timespec ts = { .tv_nsec = 5 * 1000000 };
                nanosleep(&ts, NULL);
        }
        return hv_sim_fail_with(TIDE_E_TIMEOUT, "the migration of %s still runs after it was aborted", uuid);
}

int hv_sim_domain_state_at(struct hv_conn *c, const char *target_uri, const char *uuid, enum hv_state *ret_state) {
        (void) c;
        pthread_mutex_lock(&registry_lock);
        struct hv_conn *t = registry_find(target_uri);
        int r = 0;
        if (!t)
                r = hv_sim_fail_with(TIDE_E_BACKEND, "cannot reach the target '%s'", target_uri ? target_uri : "");
        else {
                pthread_mutex_lock(&t->lock);
                bool found;
                size_t at = hv_sim_find(t, uuid, &found);
                *ret_state = found ? t->doms[at]->state : HV_STATE_NOSTATE;
                pthread_mutex_unlock(&t->lock);
        }
        pthread_mutex_unlock(&registry_lock);
        return r;
}
