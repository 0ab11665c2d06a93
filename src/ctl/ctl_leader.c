/* ctl_leader.c — the election of the controllers' leader (ctl_leader.h). */
#include "ctl/ctl_leader.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/tide_json.h"
#include "common/util.h"
#include "model/model_layout.h"

#define CANDIDATE_POLL_MS 1000 /* a candidate also looks at the key this often */
#define RETRY_MS 500           /* after a failed store call */
#define WAIT_MAX_MS 200        /* the longest wait: how soon ctl_leader_free is seen */

struct ctl_leader {
        struct ctl_leader_config cfg;
        int64_t ttl_ms;
        pthread_t thread;
        atomic_bool stop;
        pthread_mutex_t lock; /* leading, rev */
        bool leading;
        int64_t rev;
        /* The thread's own. */
        int64_t lease;         /* while leading */
        struct store *fenced;  /* while leading: the store fenced by the election */
        int64_t last_ok_ms;    /* send time of the last successful grant or keep-alive */
        int64_t next_renew_ms; /* when to send the next keep-alive */
        int64_t next_look_ms;  /* a candidate's next look at the key */
        int64_t hold_until_ms; /* a deposed leader campaigns again no sooner: another may take over */
        struct store_watch *w; /* on MODEL_KEY_LEADER */
};

bool ctl_leader_expiring(int64_t last_ok_ms, int64_t now_ms, int64_t ttl_ms, int64_t margin_ms) {
        return now_ms - last_ok_ms >= ttl_ms - margin_ms;
}

bool ctl_leader_leading(struct ctl_leader *l, int64_t *ret_rev) {
        pthread_mutex_lock(&l->lock);
        bool leading = l->leading;
        if (leading && ret_rev)
                *ret_rev = l->rev;
        pthread_mutex_unlock(&l->lock);
        return leading;
}

/* Stops leading: the controllers first (they may be writing), then the lease, which deletes
 * the key when it is still ours so that another candidate leads at once. */
static void depose(struct ctl_leader *l, const char *why) {
        pthread_mutex_lock(&l->lock);
        int64_t rev = l->rev;
        l->leading = false;
        l->rev = 0;
        pthread_mutex_unlock(&l->lock);
        store_fence_revoke(l->fenced); /* a pass under way writes nothing more */
        log_warning("leader: no longer leading (election revision %lld): %s", (long long) rev, why);
        if (l->cfg.deposed)
                l->cfg.deposed(l->cfg.userdata, why);
        store_free(l->fenced);
        l->fenced = NULL;
        /* Step back for a moment, so that a candidate that did not fail takes over. */
        l->hold_until_ms = mono_ms() + CANDIDATE_POLL_MS;
        int r = store_lease_revoke(l->cfg.store, l->lease);
        if (r < 0 && r != TIDE_E_LEASE)
                log_warning_errno(r, "leader: revoking the lease: %m");
        l->lease = 0;
}

/* When the key is absent, tries to create it under a new lease. 1 when this candidate now
 * leads, 0 when another does, or a negative error. */
static int campaign(struct ctl_leader *l) {
        struct store_kv kv = {};
        int r = store_get(l->cfg.store, MODEL_KEY_LEADER, &kv);
        store_kv_clear(&kv);
        if (r >= 0)
                return 0;
        if (r != TIDE_E_NOT_FOUND)
                return r;

        int64_t t0 = mono_ms(), lease;
        r = store_lease_grant(l->cfg.store, l->ttl_ms / 1000, &lease);
        if (r < 0)
                return r;
        _cleanup_free_ char *since = time_format_ms(now_ms());
        _cleanup_json_ json_t *v = json_pack("{s:s, s:s}", "host", l->cfg.name, "since", since);
        json_t *hosts = json_array();
        for (size_t i = 0; i < l->cfg.n_hosts; i++)
                json_array_append_new(hosts, json_string(l->cfg.hosts[i]));
        json_object_set_new(v, "hosts", hosts);
        _cleanup_free_ char *value = tide_json_dump(v);
        struct store_cmp cmp = {
                .key = MODEL_KEY_LEADER, .target = STORE_CMP_CREATE_REV, .op = STORE_CMP_EQUAL, .number = 0
        };
        struct store_op op = { .type = STORE_OP_PUT, .key = MODEL_KEY_LEADER, .value = value, .lease = lease };
        struct store_txn txn = { .cmps = &cmp, .n_cmps = 1, .success = &op, .n_success = 1 };
        bool won = false;
        int64_t rev = 0;
        r = store_txn(l->cfg.store, &txn, &won, &rev);
        if (r < 0 || !won) {
                (void) store_lease_revoke(l->cfg.store, lease);
                return r < 0 ? r : 0;
        }
        r = store_fence_new(l->cfg.store, MODEL_KEY_LEADER, rev, &l->fenced);
        if (r < 0) {
                (void) store_lease_revoke(l->cfg.store, lease); /* deletes the key: others campaign */
                return r;
        }
        l->lease = lease;
        l->last_ok_ms = t0;
        l->next_renew_ms = t0 + l->ttl_ms / 3;
        store_fence_set_deadline(l->fenced, t0 + l->ttl_ms - l->cfg.margin_ms);
        pthread_mutex_lock(&l->lock);
        l->leading = true;
        l->rev = rev;
        pthread_mutex_unlock(&l->lock);
        log_info("leader: host '%s' leads the controllers (election revision %lld)", l->cfg.name, (long long) rev);
        if (l->cfg.elected)
                l->cfg.elected(l->cfg.userdata, rev, l->fenced);
        return 1;
}

/* The leader's keep-alive when due, and the deadline. */
static void renew(struct ctl_leader *l) {
        int64_t t0 = mono_ms();
        if (t0 >= l->next_renew_ms) {
                int r = store_lease_keepalive(l->cfg.store, l->lease);
                if (r == TIDE_E_LEASE) {
                        depose(l, "its lease expired");
                        return;
                }
                if (r >= 0) {
                        l->last_ok_ms = t0;
                        l->next_renew_ms = t0 + l->ttl_ms / 3;
                        store_fence_set_deadline(l->fenced, t0 + l->ttl_ms - l->cfg.margin_ms);
                } else {
                        log_warning_errno(r, "leader: renewing the lease: %m");
                        l->next_renew_ms = t0 + RETRY_MS;
                }
        }
        if (ctl_leader_expiring(l->last_ok_ms, mono_ms(), l->ttl_ms, l->cfg.margin_ms))
                depose(l, "its lease was not renewed in time");
}

/* The leader's key changed: a leader whose key went or is another's stops. */
static void on_events(struct ctl_leader *l, const struct store_events *ev) {
        int64_t rev;
        for (size_t i = 0; i < ev->n; i++) {
                const struct store_event *e = &ev->items[i];
                if (!streq(e->kv.key, MODEL_KEY_LEADER))
                        continue;
                if (!ctl_leader_leading(l, &rev)) {
                        if (e->type == STORE_EVENT_DELETE)
                                l->next_look_ms = 0; /* the leader went: campaign now */
                        continue;
                }
                if (e->type == STORE_EVENT_DELETE)
                        depose(l, "its key was deleted");
                else if (e->kv.create_rev != rev)
                        depose(l, "its key belongs to another election");
        }
}

/* How long to wait for the key to change before the next look. */
static int wait_ms(struct ctl_leader *l) {
        int64_t now = mono_ms();
        int64_t until = l->next_look_ms;
        if (ctl_leader_leading(l, NULL)) {
                until = l->next_renew_ms;
                int64_t deadline = l->last_ok_ms + l->ttl_ms - l->cfg.margin_ms;
                if (deadline < until)
                        until = deadline;
        }
        if (until > now + WAIT_MAX_MS)
                until = now + WAIT_MAX_MS;
        return until > now ? (int) (until - now) : 0;
}

static void *leader_main(void *p) {
        struct ctl_leader *l = p;
        while (!atomic_load(&l->stop)) {
                if (!l->w) {
                        /* The watch comes before the look at the key, so no change falls between. */
                        int64_t rev;
                        int r = store_revision(l->cfg.store, &rev);
                        if (r >= 0)
                                r = store_watch_new(l->cfg.store, MODEL_KEY_LEADER, rev, &l->w);
                        if (r < 0) {
                                l->w = NULL;
                                log_warning_errno(r, "leader: watching the leader key: %m");
                                if (ctl_leader_leading(l, NULL))
                                        renew(l);
                                usleep(RETRY_MS * 1000);
                                continue;
                        }
                }
                if (ctl_leader_leading(l, NULL))
                        renew(l);
                else if (mono_ms() >= l->next_look_ms && mono_ms() >= l->hold_until_ms) {
                        l->next_look_ms = mono_ms() + CANDIDATE_POLL_MS;
                        int r = campaign(l);
                        if (r < 0)
                                log_warning_errno(r, "leader: campaigning: %m");
                }
                struct store_events ev = {};
                int r = store_watch_next(l->w, wait_ms(l), &ev);
                if (r > 0)
                        on_events(l, &ev);
                store_events_clear(&ev);
                if (r < 0) {
                        /* Compacted or failed: a new watch; the loop looks at the key again. */
                        store_watch_free(l->w);
                        l->w = NULL;
                        l->next_look_ms = 0;
                }
        }
        if (ctl_leader_leading(l, NULL))
                depose(l, "tided is stopping");
        store_watch_free(l->w);
        l->w = NULL;
        return NULL;
}

/* Frees the config's copies. */
static void config_clear(struct ctl_leader *l) {
        for (size_t i = 0; i < l->cfg.n_hosts; i++)
                free((char *) l->cfg.hosts[i]);
        free((char **) l->cfg.hosts);
        free((char *) l->cfg.name);
}

int ctl_leader_new(const struct ctl_leader_config *cfg, struct ctl_leader **ret) {
        if (!cfg->store || !cfg->name || !*cfg->name)
                return TIDE_E_INVALID;
        struct ctl_leader *l = xcalloc(1, sizeof *l);
        l->cfg = *cfg;
        l->cfg.name = xstrdup(cfg->name);
        char **hosts = xcalloc(cfg->n_hosts ? cfg->n_hosts : 1, sizeof *hosts);
        for (size_t i = 0; i < cfg->n_hosts; i++)
                hosts[i] = xstrdup(cfg->hosts[i]);
        l->cfg.hosts = (const char *const *) hosts;
        if (l->cfg.ttl_s <= 0)
                l->cfg.ttl_s = 10;
        if (l->cfg.ttl_s < STORE_LEASE_TTL_MIN || l->cfg.ttl_s > STORE_LEASE_TTL_MAX) {
                config_clear(l);
                free(l);
                return TIDE_E_INVALID;
        }
        l->ttl_ms = (int64_t) l->cfg.ttl_s * 1000;
        if (l->cfg.margin_ms <= 0)
                l->cfg.margin_ms = (int) (l->ttl_ms / 5);
        if (l->cfg.margin_ms < 200)
                l->cfg.margin_ms = 200;
        if (l->cfg.margin_ms >= l->ttl_ms / 3)
                l->cfg.margin_ms = (int) (l->ttl_ms / 3) - 1;
        pthread_mutex_init(&l->lock, NULL);
        int r = pthread_create(&l->thread, NULL, leader_main, l);
        if (r != 0) {
                pthread_mutex_destroy(&l->lock);
                config_clear(l);
                free(l);
                return log_error_errno(-r, "starting the election: %m");
        }
        *ret = l;
        return 0;
}

void ctl_leader_free(struct ctl_leader *l) {
        if (!l)
                return;
        atomic_store(&l->stop, true);
        pthread_join(l->thread, NULL);
        pthread_mutex_destroy(&l->lock);
        config_clear(l);
        free(l);
}
