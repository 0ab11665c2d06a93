/* ctl_controllers.c — the controllers' runner (ctl_controllers.h). */
#include "ctl/ctl_controllers.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/util.h"

struct entry {
        struct ctl_controller c;
        int64_t due_ms; /* 0: at once */
};

struct ctl_runner {
        struct entry *entries;
        size_t n;
        struct store *store;
        int64_t election_rev;
        pthread_t thread;
        bool started;
        pthread_mutex_t lock; /* stop */
        pthread_cond_t wake;
        bool stop;
};

int ctl_runner_new(const struct ctl_controller *table, size_t n, struct store *store, int64_t election_rev,
                   struct ctl_runner **ret) {
        if (!store || (n > 0 && !table))
                return TIDE_E_INVALID;
        for (size_t i = 0; i < n; i++)
                if (!table[i].pass || table[i].period_ms <= 0 || !table[i].name)
                        return TIDE_E_INVALID;
        struct ctl_runner *r = xcalloc(1, sizeof *r);
        r->entries = xcalloc(n ? n : 1, sizeof *r->entries);
        for (size_t i = 0; i < n; i++)
                r->entries[i] = (struct entry) { .c = table[i] };
        r->n = n;
        r->store = store;
        r->election_rev = election_rev;
        pthread_mutex_init(&r->lock, NULL);
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&r->wake, &a);
        pthread_condattr_destroy(&a);
        *ret = r;
        return 0;
}

int64_t ctl_runner_step(struct ctl_runner *r, int64_t now_ms) {
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < r->n; i++) {
                struct entry *e = &r->entries[i];
                if (e->due_ms == 0 || e->due_ms <= now_ms) {
                        struct ctl_pass_ctx ctx = { .store = r->store,
                                                    .election_rev = r->election_rev,
                                                    .state = e->c.state };
                        int x = e->c.pass(&ctx, now_ms);
                        if (x < 0)
                                log_warning_errno(x, "controller %s: pass: %m", e->c.name);
                        /* On the beat, unless it fell a period behind: then from now, no burst. */
                        int64_t base = e->due_ms == 0 || now_ms - e->due_ms >= e->c.period_ms ? now_ms : e->due_ms;
                        e->due_ms = base + e->c.period_ms;
                }
                if (e->due_ms < next)
                        next = e->due_ms;
        }
        if (next == INT64_MAX)
                return INT32_MAX;
        return next > now_ms ? next - now_ms : 0;
}

static void *runner_main(void *p) {
        struct ctl_runner *r = p;
        pthread_mutex_lock(&r->lock);
        while (!r->stop) {
                pthread_mutex_unlock(&r->lock);
                /* Passes see the wall clock (records keep epoch times); the wait is monotonic. */
                int64_t wait = ctl_runner_step(r, now_ms());
                pthread_mutex_lock(&r->lock);
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                int64_t ns = ts.tv_nsec + wait * 1000000;
                ts.tv_sec += ns / 1000000000;
                ts.tv_nsec = ns % 1000000000;
                while (!r->stop && pthread_cond_timedwait(&r->wake, &r->lock, &ts) != ETIMEDOUT)
                        ;
        }
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

int ctl_runner_start(struct ctl_runner *r) {
        int x = pthread_create(&r->thread, NULL, runner_main, r);
        if (x != 0)
                return log_error_errno(-x, "starting the controllers: %m");
        r->started = true;
        return 0;
}

void ctl_runner_free(struct ctl_runner *r) {
        if (!r)
                return;
        if (r->started) {
                pthread_mutex_lock(&r->lock);
                r->stop = true;
                pthread_cond_broadcast(&r->wake);
                pthread_mutex_unlock(&r->lock);
                pthread_join(r->thread, NULL);
        }
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        free(r->entries);
        free(r);
}
