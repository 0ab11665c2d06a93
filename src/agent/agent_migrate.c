/* agent_migrate.c — the agent's side of a live migration (the record: sched_migrate.h).
 *
 * The protocol, each step started by the reconcile pass of the host whose turn it is and run
 * in a worker while the instance is busy there:
 *   preparing  the target's agent makes the files the domain needs there (its disk overlay on
 *              the same image when the storage is not shared, the config drive, the console
 *              log) and says "prepared", with their paths;
 *   prepared   the source's agent says "migrating" and has its hypervisor move the domain to
 *              the target's (peer to peer), reporting progress now and then; then it ends the
 *              migration in the store (agent_placement's migrate_finish) and, after a success,
 *              removes its copy of the disk and config drive. Its console log (what it had
 *              from before, then what QEMU wrote here) becomes one file, whose size and sha256
 *              go into the result.
 *   migrating  found so by a source agent with no worker on it (its tided restarted mid-way):
 *              any job is aborted and waited for (libvirtd runs a peer-to-peer job on its own:
 *              it may have completed the move while tided was down, or still be at it), then
 *              the domain is looked for: running here ends the move as failed, running on the
 *              target ends it as a success.
 * After a success with files kept apart, the new host copies that log from the old one (its
 * console then reads it before its own: model_layout.h) and says "console_copied" in the
 * record's last_migration; the old host then removes the instance's directory.
 * A cancel asked before the hypervisor started ends it at once; during, the progress callback
 * sees it and the hypervisor's job is aborted. After a failure the target's agent removes what
 * it prepared. The target never starts or adopts the domain on its own: only once the store
 * names it the instance's host does its normal reconcile see the domain (fencing). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_image.h"
#include "agent/agent_internal.h"
#include "common/errors.h"
#include "common/fs_private.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/util.h"
#include "model/model.h"
#include "model/model_layout.h"

#define PROGRESS_POLL_MS 200
#define PROGRESS_WRITE_MS 1000 /* progress into the record at most this often */
#define CANCEL_READ_MS 500     /* how often the record is read for a cancel */
#define STORAGE_ID_FILE ".storage-id"
/* How long after a move its console history is asked of an old host that does not answer. */
#define HISTORY_RETRY_MS (5 * 60 * 1000)

static const struct hv_driver *drv(struct agent_host *h) {
        return hv_conn_driver(h->hv);
}

/* id without trailing white space, if it is a valid id; else NULL (id freed). */
static char *valid_id(char *id) {
        size_t n = id ? strlen(id) : 0;
        while (n > 0 && (id[n - 1] == '\n' || id[n - 1] == ' '))
                id[--n] = '\0';
        if (id && model_id_valid(id))
                return id;
        free(id);
        return NULL;
}

char *agent_storage_id(const char *state_dir) {
        _cleanup_free_ char *dir = model_instance_path(state_dir, "", NULL);
        _cleanup_free_ char *path = xasprintf("%s/" STORAGE_ID_FILE, dir);
        char *id = NULL;
        if (read_file(path, 128, &id, NULL) >= 0 && (id = valid_id(id)))
                return id;
        if (mkdir_p(dir, 0700) < 0)
                return NULL;
        _cleanup_free_ char *fresh = id_new_uuid();
        /* Another host on the same storage may write at once: whichever lands is read back. */
        if (write_file_atomic(path, fresh, strlen(fresh), 0600) < 0)
                return NULL;
        id = NULL;
        if (read_file(path, 128, &id, NULL) < 0)
                return NULL;
        return valid_id(id);
}

/* Changes of the migration record, each made only from the state the step expects. */
struct step {
        const char *from; /* the state it must be in; NULL: any */
        const char *to;   /* the new state; NULL: unchanged */
        json_t *set;      /* members merged into "migration" (borrowed) */
        bool cancelled;   /* out: a cancel was asked for */
};

static int step_change(json_t *inst, void *userdata) {
        struct step *st = userdata;
        json_t *m = json_object_get(inst, "migration");
        if (!json_is_object(m))
                return TIDE_E_CONFLICT;
        st->cancelled = json_is_true(json_object_get(m, "cancel"));
        if (st->from && !streq(tide_json_str(m, "state", ""), st->from))
                return TIDE_E_CONFLICT;
        if (st->to && st->cancelled)
                return MODEL_CHANGE_KEEP; /* no step forward once cancelled */
        if (st->to)
                json_object_set_new(m, "state", json_string(st->to));
        if (st->set)
                json_object_update(m, st->set);
        return MODEL_CHANGE_WRITE;
}

static int step(struct agent *a, const char *id, struct step *st) {
        return model_obj_modify(a->cfg.store, MODEL_INSTANCE, id, step_change, st, NULL);
}

/* Ends the migration (the store's switch or release) and says so in an event. */
static void finish(struct agent *a, struct agent_host *h, json_t *inst, bool success, json_t *result) {
        const char *id = tide_json_str(inst, "id", ""), *name = tide_json_str(inst, "name", "");
        json_t *m = json_object_get(inst, "migration");
        const char *src = tide_json_str(m, "source", "?"), *tgt = tide_json_str(m, "target", "?");
        int r = a->cfg.placement->migrate_finish(a->cfg.store, id, success, result);
        if (r < 0) {
                /* The record still says "migrating": the next pass looks where the domain is. */
                log_error_errno(r, "instance '%s': ending its migration in the store: %m", name);
                return;
        }
        const char *state = success ? "succeeded" : tide_json_str(result, "state", "failed");
        if (success) {
                log_info("instance '%s' migrated live from %s to %s in %lld ms (downtime %lld ms)", name, src, tgt,
                         (long long) tide_json_int(result, "migrate_ms", 0),
                         (long long) tide_json_int(result, "downtime_ms", -1));
                model_event_emit(a->cfg.store, "info", "instance.migrated", inst, tgt,
                                 "moved live from %s to %s: migration %lld ms, downtime %lld ms", src, tgt,
                                 (long long) tide_json_int(result, "migrate_ms", 0),
                                 (long long) tide_json_int(result, "downtime_ms", -1));
        } else if (streq(state, "cancelled")) {
                log_info("instance '%s': migration to %s cancelled; it runs on %s", name, tgt, src);
                model_event_emit(a->cfg.store, "info", "instance.migration_cancelled", inst, h->name,
                                 "migration to %s cancelled; it keeps running on %s", tgt, src);
        } else {
                log_warning("instance '%s': migration to %s failed: %s; it runs on %s", name, tgt,
                            tide_json_str(result, "error", "?"), src);
                model_event_emit(a->cfg.store, "warning", "instance.migration_failed", inst, h->name,
                                 "migration to %s failed: %s; it keeps running on %s", tgt,
                                 tide_json_str(result, "error", "?"), src);
        }
}

static json_t *failure(const char *state, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *failure(const char *state, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        return json_pack("{s:s, s:s}", "state", state, "error", msg);
}

/* ---- the target: prepare ---- */

static void prepare_job(struct agent *a, struct agent_host *h, const char *id) {
        _cleanup_json_ json_t *inst = NULL, *image = NULL, *set = NULL, *result = NULL;
        if (model_obj_get(a->cfg.store, MODEL_INSTANCE, id, &inst, NULL) < 0)
                return;
        json_t *m = json_object_get(inst, "migration");
        if (!streq(tide_json_str(m, "target", ""), h->name) || !streq(tide_json_str(m, "state", ""), "preparing") ||
            json_is_true(json_object_get(m, "cancel")))
                return;
        set = json_object();
        _cleanup_free_ char *disk = model_instance_path(agent_files_base(&a->cfg), id, MODEL_INSTANCE_DISK);
        _cleanup_free_ char *seed = model_instance_path(agent_files_base(&a->cfg), id, MODEL_INSTANCE_SEED);
        _cleanup_free_ char *console = model_instance_path(agent_files_base(&a->cfg), id, MODEL_INSTANCE_CONSOLE);
        if (!drv(h)->virtual && !json_is_true(json_object_get(m, "shared"))) {
                /* The overlay on the same image (the image must be on this host), the config drive
                 * from the same user data, and the console log QEMU appends to here. */
                int r = model_obj_get(a->cfg.store, MODEL_IMAGE, tide_json_str(inst, "image_id", ""), &image, NULL);
                if (r >= 0)
                        r = agent_image_ensure(&a->cfg, h->name, inst, image);
                if (r >= 0)
                        r = agent_prepare_files(a, inst, image);
                /* Empty: what this host may have kept from an earlier stay is in the log that
                 * comes from the source after the move. */
                _cleanup_free_ char *before = model_instance_path(agent_files_base(&a->cfg), id,
                                                                  MODEL_INSTANCE_CONSOLE_BEFORE);
                if (r >= 0 && unlink(before) < 0 && errno != ENOENT)
                        r = -errno;
                _cleanup_close_ int fd = r >= 0 ? open(console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
                if (r >= 0 && fd < 0)
                        r = -errno;
                if (r >= 0)
                        r = fs_private_fix_fd(fd);
                if (r < 0) {
                        result = failure("failed", "preparing the target %s: %s", h->name, tide_strerror(r));
                        finish(a, h, inst, false, result);
                        return;
                }
        }
        json_object_set_new(set, "target_paths",
                            json_pack("{s:s, s:s, s:s}", "disk", disk, "seed", seed, "console", console));
        json_object_set_new(set, "prepared_ms", json_integer(now_ms()));
        struct step st = { .from = "preparing", .to = "prepared", .set = set };
        int r = step(a, id, &st);
        if (r < 0 && r != TIDE_E_CONFLICT)
                log_warning_errno(r, "instance '%s': reporting the target prepared: %m",
                                  tide_json_str(inst, "name", ""));
}

/* ---- the source: move ---- */

struct progress_ctx {
        struct agent *a;
        json_t *inst;
        const char *id;
        int64_t last_read, last_write;
        int quarter; /* progress events sent: at 25, 50 and 75 % */
};

static bool cancel_asked(struct progress_ctx *c) {
        _cleanup_json_ json_t *now = NULL;
        if (model_obj_get(c->a->cfg.store, MODEL_INSTANCE, c->id, &now, NULL) < 0)
                return false;
        return json_is_true(json_object_get(json_object_get(now, "migration"), "cancel"));
}

static bool on_progress(const struct hv_migrate_progress *p, void *userdata) {
        struct progress_ctx *c = userdata;
        int64_t t = mono_ms();
        if (t - c->last_read >= CANCEL_READ_MS) {
                c->last_read = t;
                if (cancel_asked(c))
                        return true;
        }
        if (t - c->last_write >= PROGRESS_WRITE_MS) {
                c->last_write = t;
                _cleanup_json_ json_t *set = json_pack("{s:{s:i, s:I, s:I, s:f, s:I}}", "progress", "percent",
                                                       p->percent, "remaining_mib", (json_int_t) p->remaining_mib,
                                                       "total_mib", (json_int_t) p->total_mib, "rate_mib_s",
                                                       p->rate_mib_s, "elapsed_ms", (json_int_t) p->elapsed_ms);
                struct step st = { .from = "migrating", .set = set };
                (void) step(c->a, c->id, &st);
        }
        if (c->quarter < 3 && p->percent >= 25 * (c->quarter + 1)) {
                while (c->quarter < 3 && p->percent >= 25 * (c->quarter + 1))
                        c->quarter++;
                json_t *m = json_object_get(c->inst, "migration");
                model_event_emit(c->a->cfg.store, "info", "instance.migration_progress", c->inst,
                                 tide_json_str(m, "source", NULL),
                                 "migration to %s: %d %% sent, %lld MiB left, %.0f MiB/s",
                                 tide_json_str(m, "target", "?"), p->percent, (long long) p->remaining_mib,
                                 p->rate_mib_s);
        }
        return false;
}

/* The domain as the target runs it: the target's decision (pins, NUMA node), its shared pool,
 * and the target's paths of the files when they differ. */
static void dest_spec(struct agent *a, json_t *inst, json_t *m, struct hv_domain_spec *spec, int **pins, char **pool,
                      char **name) {
        *name = xasprintf(DOMAIN_NAME_PREFIX "%s", tide_json_str(inst, "name", ""));
        *spec = (struct hv_domain_spec) {
                .uuid = tide_json_str(inst, "id", ""),
                .name = *name,
                .vcpus = (int) tide_json_int(inst, "vcpus", 1),
                .max_vcpus = (int) tide_json_int(inst, "max_vcpus", tide_json_int(inst, "vcpus", 1)),
                .ram_mib = tide_json_int(inst, "ram_mib", 256),
                .max_ram_mib = tide_json_int(inst, "max_ram_mib", tide_json_int(inst, "ram_mib", 256)),
                .balloon_period_s = 1,
        };
        _cleanup_json_ json_t *there = json_deep_copy(inst);
        json_object_set(there, "placement", json_object_get(m, "placement"));
        agent_apply_placement(there, spec, pins);
        const char *target = tide_json_str(m, "target", "");
        char *pools[1] = {};
        if (a->cfg.placement->shared_pools(a->cfg.store, &target, 1, pools) >= 0)
                *pool = pools[0];
        spec->cpuset = *pool;
        json_t *paths = json_object_get(m, "target_paths");
        _cleanup_free_ char *disk = model_instance_path(agent_files_base(&a->cfg), spec->uuid, MODEL_INSTANCE_DISK);
        const char *tdisk = tide_json_str(paths, "disk", NULL);
        if (tdisk && !streq(tdisk, disk)) {
                spec->disk_path = tdisk;
                spec->seed_path = tide_json_str(paths, "seed", NULL);
                spec->console_log = tide_json_str(paths, "console", NULL);
        }
}

/* Copies what is left of fd to out; 0 or -errno. */
static int copy_fd(int fd, int out, struct sha256 *sha, int64_t *size) {
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                if (out >= 0 && write_all(out, buf, (size_t) n) < 0)
                        return -errno;
                sha256_update(sha, buf, (size_t) n);
                *size += n;
        }
}

/* After a successful move with files kept apart, once the domain is gone from this host: its
 * console log (the history it had, then console.log) becomes the one history file, and result
 * gets "console_history": {"size","sha256"} for the new host to copy it. A failure costs only
 * the history (logged). */
static void console_merge(struct agent *a, const char *id, json_t *result) {
        const char *base = agent_files_base(&a->cfg);
        _cleanup_free_ char *before = model_instance_path(base, id, MODEL_INSTANCE_CONSOLE_BEFORE);
        _cleanup_free_ char *cur = model_instance_path(base, id, MODEL_INSTANCE_CONSOLE);
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", before);
        struct sha256 sha;
        int64_t size = 0;
        sha256_init(&sha);
        _cleanup_close_ int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int r = out < 0 ? -errno : fs_private_fix_fd(out);
        const char *const parts[] = { before, cur };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(parts); i++) {
                _cleanup_close_ int fd = open(parts[i], O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = errno == ENOENT ? 0 : -errno;
                else
                        r = copy_fd(fd, out, &sha, &size);
        }
        if (r >= 0 && fsync(out) < 0)
                r = -errno;
        /* The one file replaces both: console.log goes last, so a crash before leaves both as
         * they were to read (the history then has console.log's lines twice at worst). */
        if (r >= 0 && rename(tmp, before) < 0)
                r = -errno;
        if (r >= 0 && unlink(cur) < 0 && errno != ENOENT)
                r = -errno;
        if (r < 0) {
                log_warning_errno(r, "instance %s: keeping its console log for the host it moved to: %m", id);
                (void) unlink(tmp);
                return;
        }
        char hex[SHA256_HEX_SIZE];
        sha256_final_hex(&sha, hex);
        json_object_set_new(result, "console_history",
                            json_pack("{s:I, s:s}", "size", (json_int_t) size, "sha256", hex));
}

static bool files_apart(struct agent_host *h, json_t *m) {
        return !drv(h)->virtual && !json_is_true(json_object_get(m, "shared"));
}

static void run_job(struct agent *a, struct agent_host *h, const char *id) {
        _cleanup_json_ json_t *inst = NULL, *result = NULL, *set = NULL;
        if (model_obj_get(a->cfg.store, MODEL_INSTANCE, id, &inst, NULL) < 0)
                return;
        json_t *m = json_object_get(inst, "migration");
        if (!json_is_object(m) || !streq(tide_json_str(inst, "host", ""), h->name))
                return;
        if (json_is_true(json_object_get(m, "cancel")) && !streq(tide_json_str(m, "state", ""), "migrating")) {
                result = failure("cancelled", "cancelled by request before the move started");
                finish(a, h, inst, false, result);
                return;
        }
        int64_t t_call = now_ms();
        _cleanup_free_ char *started = time_format_ms(t_call);
        set = json_pack("{s:s, s:I}", "started", started, "t_call_ms", (json_int_t) t_call);
        struct step st = { .from = "prepared", .to = "migrating", .set = set };
        int r = step(a, id, &st);
        if (r >= 0 && st.cancelled) {
                result = failure("cancelled", "cancelled by request before the move started");
                finish(a, h, inst, false, result);
                return;
        }
        if (r < 0)
                return;
        json_object_set_new(m, "state", json_string("migrating"));
        model_event_emit(a->cfg.store, "info", "instance.migrating", inst, h->name, "live migration to %s started%s",
                         tide_json_str(m, "target", "?"),
                         json_is_true(json_object_get(m, "shared")) || drv(h)->virtual ? ""
                                                                                       : ", copying the local disk");

        struct hv_domain_spec spec;
        _cleanup_free_ int *pins = NULL;
        _cleanup_free_ char *pool = NULL, *name = NULL;
        dest_spec(a, inst, m, &spec, &pins, &pool, &name);
        struct hv_migrate_params p = {
                .target_uri = tide_json_str(m, "target_uri", ""),
                .migrate_uri = tide_json_str(m, "migrate_uri", NULL),
                .dest = &spec,
                .copy_disk = !drv(h)->virtual && !json_is_true(json_object_get(m, "shared")),
                .bandwidth_mib_s = tide_json_int(m, "bandwidth_mib_s", 0),
                .max_downtime_ms = tide_json_int(m, "max_downtime_ms", 0),
                .poll_ms = PROGRESS_POLL_MS,
        };
        struct progress_ctx pc = { .a = a, .inst = inst, .id = id, .last_read = mono_ms(), .last_write = mono_ms() };
        struct hv_migrate_result res = {};
        r = drv(h)->migrate(h->hv, id, &p, on_progress, &pc, &res);
        int64_t t_return = now_ms();
        if (r < 0) {
                result = r == -ECANCELED ? failure("cancelled", "cancelled by request")
                                         : failure("failed", "%s%s%s", tide_strerror(r), *hv_last_error() ? ": " : "",
                                                   hv_last_error());
                finish(a, h, inst, false, result);
                return;
        }
        result = json_pack("{s:I, s:I, s:I, s:I, s:I}", "downtime_ms", (json_int_t) res.downtime_ms, "migrate_ms",
                           (json_int_t) res.total_ms, "data_mib", (json_int_t) res.data_mib, "t_call_ms",
                           (json_int_t) t_call, "t_return_ms", (json_int_t) t_return);
        if (files_apart(h, m))
                console_merge(a, id, result);
        finish(a, h, inst, true, result);
        if (!drv(h)->virtual && !json_is_true(json_object_get(m, "shared"))) {
                /* The disk and the config drive go; the console log's lines from before the move
                 * stay here (the target's log goes on from the move; a move back appends). */
                const char *const files[] = { MODEL_INSTANCE_DISK, MODEL_INSTANCE_SEED };
                for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                        _cleanup_free_ char *path = model_instance_path(agent_files_base(&a->cfg), id, files[i]);
                        if (unlink(path) < 0 && errno != ENOENT)
                                log_warning_errno(-errno, "removing %s after the migration: %m", path);
                }
        }
}

/* ---- the source after a restart: where did it go? ---- */

static void recover_job(struct agent *a, struct agent_host *h, const char *id) {
        _cleanup_json_ json_t *inst = NULL, *result = NULL;
        if (model_obj_get(a->cfg.store, MODEL_INSTANCE, id, &inst, NULL) < 0)
                return;
        json_t *m = json_object_get(inst, "migration");
        if (!streq(tide_json_str(m, "state", ""), "migrating") || !streq(tide_json_str(inst, "host", ""), h->name))
                return;
        const char *name = tide_json_str(inst, "name", "");
        log_info("instance '%s': its migration to %s is under way with no worker here (this agent restarted "
                 "mid-way): ending it",
                 name, tide_json_str(m, "target", "?"));
        /* Back once no job remains: the hypervisor may still be moving it (libvirtd drives a
         * peer-to-peer move itself, whoever asked for it), and until the job ends neither
         * host's state says where the domain runs. */
        int r = drv(h)->migrate_abort(h->hv, id);
        if (r < 0) {
                log_warning_errno(r, "instance '%s': aborting the migration job: %m (%s); trying again", name,
                                  hv_last_error());
                return;
        }
        struct hv_domain_info di = {};
        r = drv(h)->domain_info(h->hv, id, &di);
        enum hv_state here = r >= 0 ? di.state : HV_STATE_NOSTATE;
        hv_domain_info_clear(&di);
        if (r < 0 && r != TIDE_E_NOT_FOUND)
                return; /* cannot tell: the next pass asks again */
        if (here == HV_STATE_RUNNING) {
                result = failure("failed", "interrupted: the agent of %s restarted mid-way; the job was aborted",
                                 h->name);
                finish(a, h, inst, false, result);
                return;
        }
        enum hv_state there = HV_STATE_NOSTATE;
        r = drv(h)->domain_state_at(h->hv, tide_json_str(m, "target_uri", ""), id, &there);
        if (r < 0) {
                log_warning_errno(r, "instance '%s': asking %s about it: %m (%s)", name,
                                  tide_json_str(m, "target", "?"), hv_last_error());
                return;
        }
        if (there == HV_STATE_RUNNING) {
                result = json_pack("{s:s, s:I}", "note", "completed while the agent of the source was down",
                                   "downtime_ms", (json_int_t) -1);
                if (files_apart(h, m))
                        console_merge(a, id, result);
                finish(a, h, inst, true, result);
                return;
        }
        if (here == HV_STATE_PAUSED || there == HV_STATE_PAUSED)
                return; /* the hypervisors are still at it: look again next pass */
        /* Neither host runs it: the store gives it back to its source, whose normal reconcile
         * starts it from its disk (a restart, not a live move). */
        log_error("instance '%s': runs neither on %s nor on %s after an interrupted migration", name, h->name,
                  tide_json_str(m, "target", "?"));
        result = failure("failed", "lost mid-migration: it runs on neither host; it restarts on %s", h->name);
        finish(a, h, inst, false, result);
}

/* ---- the target after a failure: remove what it prepared ---- */

static int mark_cleaned(json_t *inst, void *userdata) {
        json_t *last = json_object_get(inst, "last_migration");
        if (!json_is_object(last))
                return MODEL_CHANGE_KEEP;
        json_object_set_new(last, "target_cleaned", json_true());
        return MODEL_CHANGE_WRITE;
}

static void cleanup_job(struct agent *a, struct agent_host *h, const char *id) {
        _cleanup_json_ json_t *inst = NULL;
        if (model_obj_get(a->cfg.store, MODEL_INSTANCE, id, &inst, NULL) < 0)
                return;
        json_t *last = json_object_get(inst, "last_migration");
        if (!streq(tide_json_str(last, "target", ""), h->name) || streq(tide_json_str(inst, "host", ""), h->name) ||
            json_object_get(inst, "migration"))
                return;
        struct hv_domain_info di = {};
        if (drv(h)->domain_info(h->hv, id, &di) >= 0) {
                bool running = di.state == HV_STATE_RUNNING || di.state == HV_STATE_PAUSED;
                hv_domain_info_clear(&di);
                if (running) {
                        /* Not ours to kill: the store says it runs elsewhere. Say so loudly. */
                        log_error("instance '%s': a domain runs here although its host is %s",
                                  tide_json_str(inst, "name", ""), tide_json_str(inst, "host", "?"));
                        return;
                }
                (void) drv(h)->undefine(h->hv, id);
        }
        if (!drv(h)->virtual && !json_is_true(json_object_get(last, "shared"))) {
                _cleanup_free_ char *dir = model_instance_path(agent_files_base(&a->cfg), id, NULL);
                int r = rm_rf(dir);
                if (r < 0)
                        log_warning_errno(r, "removing %s after a failed migration: %m", dir);
        }
        (void) model_obj_modify(a->cfg.store, MODEL_INSTANCE, id, mark_cleaned, NULL, NULL);
}

/* ---- after a success with files kept apart: the console history moves too ---- */

static int mark_last(json_t *inst, void *userdata) {
        json_t *last = json_object_get(inst, "last_migration");
        if (!json_is_object(last) || json_is_true(json_object_get(last, userdata)))
                return MODEL_CHANGE_KEEP;
        json_object_set_new(last, userdata, json_true());
        return MODEL_CHANGE_WRITE;
}

/* The new host: copies the old host's console history (checked against the record's size and
 * sha256) into its own, which its console reads before console.log. */
static void history_job(struct agent *a, struct agent_host *h, const char *id) {
        _cleanup_json_ json_t *inst = NULL, *src = NULL;
        if (model_obj_get(a->cfg.store, MODEL_INSTANCE, id, &inst, NULL) < 0)
                return;
        json_t *last = json_object_get(inst, "last_migration");
        json_t *want = json_object_get(last, "console_history");
        if (json_object_get(inst, "migration") || !streq(tide_json_str(inst, "host", ""), h->name) ||
            !json_is_object(want) || json_is_true(json_object_get(last, "console_copied")))
                return;
        const char *name = tide_json_str(inst, "name", ""), *from = tide_json_str(last, "source", "");
        int r = model_host_get(a->cfg.store, from, &src);
        const char *api_url = r >= 0 ? tide_json_str(src, "api_url", NULL) : NULL;
        _cleanup_free_ char *why = NULL;
        _cleanup_free_ char *before = model_instance_path(agent_files_base(&a->cfg), id, MODEL_INSTANCE_CONSOLE_BEFORE);
        _cleanup_free_ char *part = xasprintf("%s.part", before);
        if (!api_url) {
                why = xasprintf("host '%s' has no API address", from);
                r = TIDE_E_NOT_FOUND;
        } else {
                _cleanup_free_ char *url = xasprintf("%s/v1/instances/%s/console/history", api_url, id);
                r = agent_fetch_file(url, a->cfg.token, part, want, &why);
                if (r >= 0 && rename(part, before) < 0) {
                        r = -errno;
                        why = xasprintf("renaming %s: %s", part, strerror(errno));
                }
        }
        if (r < 0) {
                (void) unlink(part);
                /* Given up on (the next pass would only fail the same way) unless the old host
                 * may just be down for a moment: then the next passes try again for a while. */
                log_warning("instance '%s': copying its console log from %s: %s", name, from, why ? why : "");
                if (r == TIDE_E_BACKEND && now_ms() - tide_json_int(last, "t_done_ms", 0) < HISTORY_RETRY_MS)
                        return;
                model_event_emit(a->cfg.store, "warning", "instance.console_lost", inst, h->name,
                                 "its console log from before the move stays on %s: %s", from, why ? why : "");
        }
        (void) model_obj_modify(a->cfg.store, MODEL_INSTANCE, id, mark_last, (void *) "console_copied", NULL);
}

/* The old host, once the new one has its console history: the instance's directory goes. */
static void history_cleanup_job(struct agent *a, struct agent_host *h, const char *id) {
        _cleanup_json_ json_t *inst = NULL;
        if (model_obj_get(a->cfg.store, MODEL_INSTANCE, id, &inst, NULL) < 0)
                return;
        json_t *last = json_object_get(inst, "last_migration");
        if (json_object_get(inst, "migration") || streq(tide_json_str(inst, "host", ""), h->name) ||
            !streq(tide_json_str(last, "source", ""), h->name) ||
            !json_is_true(json_object_get(last, "console_copied")))
                return;
        _cleanup_free_ char *dir = model_instance_path(agent_files_base(&a->cfg), id, NULL);
        int r = rm_rf(dir);
        if (r < 0 && r != -ENOENT) {
                log_warning_errno(r, "removing %s after the migration: %m", dir);
                return;
        }
        (void) model_obj_modify(a->cfg.store, MODEL_INSTANCE, id, mark_last, (void *) "source_cleaned", NULL);
}

/* The step host h has to take now for inst, or NULL; *ret_in_hand: inst is in a migration's
 * hands on h (its source). recover: a "migrating" record with no worker here is recovered. */
static agent_job_fn next_step(struct agent_host *h, json_t *inst, bool recover, bool *ret_in_hand) {
        bool source = streq(tide_json_str(inst, "host", ""), h->name);
        json_t *m = json_object_get(inst, "migration");
        *ret_in_hand = false;
        if (!json_is_object(m)) {
                json_t *last = json_object_get(inst, "last_migration");
                if (json_is_object(last) && !source && streq(tide_json_str(last, "target", ""), h->name) &&
                    !streq(tide_json_str(last, "state", ""), "succeeded") &&
                    !json_is_true(json_object_get(last, "target_cleaned")))
                        return cleanup_job;
                /* The console history: copied by the new host, then removed by the old one. */
                bool copied = json_is_true(json_object_get(last, "console_copied"));
                if (json_is_object(json_object_get(last, "console_history")) && source && !copied &&
                    streq(tide_json_str(last, "target", ""), h->name))
                        return history_job;
                if (copied && !source && streq(tide_json_str(last, "source", ""), h->name) &&
                    !json_is_true(json_object_get(last, "source_cleaned")))
                        return history_cleanup_job;
                return NULL;
        }
        const char *state = tide_json_str(m, "state", "");
        bool cancel = json_is_true(json_object_get(m, "cancel"));
        *ret_in_hand = source;
        if (streq(tide_json_str(m, "target", ""), h->name) && streq(state, "preparing") && !cancel)
                return prepare_job;
        if (!source)
                return NULL;
        if (streq(state, "prepared") || (cancel && !streq(state, "migrating")))
                return run_job;
        if (streq(state, "migrating") && recover)
                return recover_job;
        return NULL;
}

bool agent_migrate_reconcile(struct agent *a, struct agent_host *h, json_t *inst) {
        if (!a->cfg.placement->migrate_finish)
                return false;
        const char *id = tide_json_str(inst, "id", "");
        bool in_hand;
        agent_job_fn fn = next_step(h, inst, !agent_is_busy(a, id), &in_hand);
        if (fn)
                agent_dispatch(a, h, id, fn);
        return in_hand;
}

bool agent_migrate_next(struct agent *a, const char *id, struct agent_host **ret_host, agent_job_fn *ret_fn) {
        _cleanup_json_ json_t *inst = NULL;
        if (!a->cfg.placement->migrate_finish || model_obj_get(a->cfg.store, MODEL_INSTANCE, id, &inst, NULL) < 0)
                return false;
        for (size_t i = 0; i < a->n_hosts; i++) {
                bool in_hand;
                agent_job_fn fn = next_step(&a->hosts[i], inst, false, &in_hand);
                if (fn && fn != cleanup_job) {
                        *ret_host = &a->hosts[i];
                        *ret_fn = fn;
                        return true;
                }
        }
        return false;
}
