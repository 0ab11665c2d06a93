/* agent.c — the host agent: registration under a lease, the reconcile loop and the per-instance
 * operations (prepare files, define, start, stop, reboot, delete). */
#include "agent.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "common/errors.h"
#include "common/fs_private.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "ctl/ctl_cache.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "model/model_layout.h"

#define KEEPALIVE_DIVISOR 3 /* renew the lease three times per TTL */
#define TICK_MS 1000        /* observe domains at least this often */
#define RESYNC_MS 60000     /* read every instance again this often, whatever the watch said */
#define QEMU_IMG_TIMEOUT_MS 60000

#include "agent/agent_image.h"
#include "agent/agent_internal.h"

static const struct hv_driver *drv(struct agent_host *h) {
        return hv_conn_driver(h->hv);
}

/* Registration. */

/* Size of the filesystem that holds the instances' disks, for drivers that do not say. */
static int64_t state_disk_gib(struct agent *a) {
        struct statvfs sv;
        if (statvfs(a->cfg.state_dir, &sv) < 0)
                return 0;
        return (int64_t) ((uint64_t) sv.f_blocks * sv.f_frsize >> 30);
}

static int register_host(struct agent *a, struct agent_host *h) {
        struct hv_host_info hi = {};
        int r = drv(h)->host_info(h->hv, &hi);
        if (r < 0)
                return log_error_errno(r, "reading host information: %m (%s)", hv_last_error());
        if (!h->name) {
                if (!model_name_valid(hi.hostname)) {
                        log_error("host name '%s' is not a valid name", hi.hostname ? hi.hostname : "");
                        hv_host_info_clear(&hi);
                        return TIDE_E_INVALID;
                }
                h->name = xstrdup(hi.hostname);
        }
        r = store_lease_grant(a->cfg.store, a->cfg.lease_ttl_s, &h->lease);
        if (r < 0) {
                hv_host_info_clear(&hi);
                return log_error_errno(r, "granting the host lease: %m");
        }
        _cleanup_free_ char *started = time_format_ms(now_ms());
        _cleanup_json_ json_t *rec = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:I, s:s, s:s, s:s, s:s}", "name",
                                               h->name, "cpus", hi.cpus, "sockets", hi.sockets, "cores", hi.cores,
                                               "threads", hi.threads, "numa_nodes", hi.numa_nodes, "mem_mib",
                                               (json_int_t) hi.mem_mib, "accel", hi.accel ? hi.accel : "", "hypervisor",
                                               drv(h)->name, "uri", hi.uri ? hi.uri : "", "started", started);
        h->vcpu_unplug = hi.vcpu_unplug;
        json_t *numa = json_array();
        for (int i = 0; i < hi.n_numa; i++)
                json_array_append_new(numa, json_pack("{s:i, s:s, s:I, s:I}", "id", hi.numa[i].id, "cpus",
                                                      hi.numa[i].cpus ? hi.numa[i].cpus : "", "mem_mib",
                                                      (json_int_t) hi.numa[i].mem_mib, "hugepages_mib",
                                                      (json_int_t) hi.numa[i].hugepages_mib));
        json_object_set_new(rec, "numa", numa);
        json_object_set_new(rec, "disk_gib", json_integer(hi.disk_gib > 0 ? hi.disk_gib : state_disk_gib(a)));
        /* Hosts showing the same storage_id share the instances' files (no disk copy on migration). */
        _cleanup_free_ char *storage = drv(h)->virtual ? NULL : agent_storage_id(agent_files_base(&a->cfg));
        if (storage)
                json_object_set_new(rec, "storage_id", json_string(storage));
        /* How peers reach the host: its API (image copies, a console read through another host)
         * and its libvirtd (migrations). */
        bool embedded = hi.uri && strncmp(hi.uri, "qemu:///embed", 13) == 0; /* no daemon to migrate to */
        const struct {
                const char *field, *value;
        } peer[] = { { "api_url", h->api_url },
                     { "libvirt_uri", embedded ? NULL : h->libvirt_uri },
                     { "migrate_uri", embedded ? NULL : h->migrate_uri } };
        for (size_t i = 0; i < ELEMENTSOF(peer); i++)
                if (peer[i].value)
                        json_object_set_new(rec, peer[i].field, json_string(peer[i].value));
        _cleanup_free_ char *value = tide_json_dump(rec);
        _cleanup_free_ char *key = model_key_host(h->name);
        _cleanup_free_ char *live = model_key_hostlive(h->name);
        struct store_op ops[] = {
                { .type = STORE_OP_PUT, .key = key, .value = value },
                { .type = STORE_OP_PUT, .key = live, .value = "up", .lease = h->lease },
        };
        struct store_txn txn = { .success = ops, .n_success = 2 };
        r = store_txn(a->cfg.store, &txn, NULL, NULL);
        if (r >= 0)
                log_info("host '%s' registered: %d CPUs, %d NUMA node(s), %lld MiB, %s acceleration, %s", h->name,
                         hi.cpus, hi.numa_nodes, (long long) hi.mem_mib, hi.accel, hi.uri);
        else
                log_error_errno(r, "registering host '%s': %m", h->name);
        hv_host_info_clear(&hi);
        h->next_keepalive = mono_ms() + a->cfg.lease_ttl_s * 1000 / KEEPALIVE_DIVISOR;
        return r;
}

/* The host's CPU use (0..1) since the last call, from /proc/stat; negative when unknown. */
static double sample_cpu_load(struct agent_host *h) {
        _cleanup_free_ char *stat = NULL;
        if (read_file("/proc/stat", 1 << 20, &stat, NULL) < 0)
                return -1;
        unsigned long long v[8] = {};
        if (sscanf(stat, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7]) < 4)
                return -1;
        uint64_t total = 0;
        for (int i = 0; i < 8; i++)
                total += v[i];
        uint64_t busy = total - v[3] - v[4]; /* less idle and iowait */
        double load = -1;
        if (h->cpu_total && total > h->cpu_total)
                load = (double) (busy - h->cpu_busy) / (double) (total - h->cpu_total);
        h->cpu_busy = busy;
        h->cpu_total = total;
        return load;
}

static void keepalive(struct agent *a, struct agent_host *h) {
        if (mono_ms() < h->next_keepalive)
                return;
        int r = store_lease_keepalive(a->cfg.store, h->lease);
        if (r == TIDE_E_LEASE) {
                log_warning("host lease expired; registering again");
                (void) register_host(a, h);
                return;
        }
        if (r < 0)
                log_warning_errno(r, "renewing the host lease: %m");
        /* The measured load rides on the liveness key, for placement's load weigher. */
        double load = drv(h)->virtual ? -1 : sample_cpu_load(h);
        if (load >= 0) {
                _cleanup_free_ char *key = model_key_hostlive(h->name);
                _cleanup_free_ char *value = xasprintf("{\"load\":%.3f}", load);
                if ((r = store_put(a->cfg.store, key, value, h->lease, NULL)) < 0)
                        log_warning_errno(r, "reporting the host's load: %m");
        }
        h->next_keepalive = mono_ms() + a->cfg.lease_ttl_s * 1000 / KEEPALIVE_DIVISOR;
}

/* What the agent reports in the instance's record. */
struct status_change {
        enum model_instance_status status;
        const char *error; /* NULL: clear */
        bool clear_task;
        int64_t reboot_done; /* -1: leave */
        json_t *extra;       /* members merged in (borrowed) */
};

static int apply_status(json_t *inst, void *userdata) {
        struct status_change *c = userdata;
        model_instance_set_status(inst, c->status);
        json_object_set_new(inst, "error", c->error ? json_string(c->error) : json_null());
        if (c->clear_task)
                model_instance_set_task(inst, MODEL_TASK_NONE);
        if (c->reboot_done >= 0)
                json_object_set_new(inst, "reboot_done", json_integer(c->reboot_done));
        if (c->extra)
                json_object_update(inst, c->extra);
        return MODEL_CHANGE_WRITE;
}

/* TIDE_E_NOT_FOUND when the instance is gone. */
static int set_status(struct agent *a, const char *id, struct status_change c) {
        return model_obj_modify(a->cfg.store, MODEL_INSTANCE, id, apply_status, &c, NULL);
}

/* Records the failure in the instance (status error, with the message) and an event; returns
 * error. */
static int fail_instance(struct agent *a, struct agent_host *h, json_t *inst, int error, const char *what) {
        _cleanup_free_ char *msg = xasprintf("%s: %s%s%s", what, tide_strerror(error), *hv_last_error() ? ": " : "",
                                             hv_last_error());
        log_error("instance '%s': %s", tide_json_str(inst, "name", ""), msg);
        (void) set_status(a, tide_json_str(inst, "id", ""),
                          (struct status_change) { .status = MODEL_INSTANCE_ERROR,
                                                   .error = msg,
                                                   .clear_task = true,
                                                   .reboot_done = -1 });
        model_event_emit(a->cfg.store, "error", "instance.error", inst, h->name, "%s", msg);
        return error;
}

/* Files of an instance. */

/* A file of the instance's directory (model_layout.h), or the directory for NULL. */
static char *inst_path(struct agent *a, const char *id, const char *file) {
        return model_instance_path(agent_files_base(&a->cfg), id, file);
}

static int run_tool(char **argv, const char *what) {
        _cleanup_free_ char *err = NULL;
        int r = proc_run(argv, QEMU_IMG_TIMEOUT_MS, NULL, &err);
        if (r < 0)
                return log_error_errno(r, "%s: running %s: %m", what, argv[0]);
        if (r != 0) {
                log_error("%s: %s exited with %d: %s", what, argv[0], r, err);
                return TIDE_E_BACKEND;
        }
        return 0;
}

/* The NoCloud config drive: user-data and meta-data on an ISO labelled cidata. */
static int make_seed(struct agent *a, json_t *inst) {
        const char *id = tide_json_str(inst, "id", "");
        _cleanup_free_ char *seed_dir = inst_path(a, id, MODEL_INSTANCE_SEED_DIR);
        _cleanup_free_ char *iso = inst_path(a, id, MODEL_INSTANCE_SEED);
        _cleanup_free_ char *ud = xasprintf("%s/user-data", seed_dir), *md = xasprintf("%s/meta-data", seed_dir);
        _cleanup_free_ char *meta = xasprintf("instance-id: %s\nlocal-hostname: %s\n", tide_json_str(inst, "id", ""),
                                              tide_json_str(inst, "name", ""));
        const char *user_data = tide_json_str(inst, "user_data", "");
        int r = mkdir_p(seed_dir, 0700);
        if (r >= 0)
                r = write_file_atomic(ud, user_data, strlen(user_data), 0600);
        if (r >= 0)
                r = write_file_atomic(md, meta, strlen(meta), 0600);
        if (r < 0)
                return log_error_errno(r, "writing the config drive's files: %m");
        char *argv[] = {
                "genisoimage", "-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock", ud, md, NULL
        };
        r = run_tool(argv, "making the config drive");
        (void) rm_rf(seed_dir);
        if (r >= 0 && (r = fs_private_fix(iso)) < 0)
                return log_error_errno(r, "setting the mode of %s: %m", iso);
        return r;
}

/* Creates the instance's directory, disk overlay and config drive unless they exist. */
int agent_prepare_files(struct agent *a, json_t *inst, json_t *image) {
        const char *id = tide_json_str(inst, "id", "");
        _cleanup_free_ char *dir = inst_path(a, id, NULL), *disk = inst_path(a, id, MODEL_INSTANCE_DISK);
        _cleanup_free_ char *root = model_instance_path(agent_files_base(&a->cfg), NULL, NULL);
        int r = fs_private_mkdir(root);
        if (r >= 0)
                r = fs_private_mkdir(dir);
        if (r < 0)
                return log_error_errno(r, "creating %s: %m", dir);
        if (access(disk, F_OK) < 0) {
                int64_t size = tide_json_int(inst, "disk_gib", 1) << 30;
                if (tide_json_int(image, "virtual_size", 0) > size)
                        size = tide_json_int(image, "virtual_size", 0);
                _cleanup_free_ char *sz = xasprintf("%lld", (long long) size);
                _cleanup_free_ char *tmp = xasprintf("%s.tmp", disk);
                /* The image's disk on this host (its record's path is where it was created). */
                _cleanup_free_ char *disk_name = model_image_disk_name(tide_json_str(image, "format", "raw"));
                _cleanup_free_ char *backing = model_image_path(agent_files_base(&a->cfg),
                                                                tide_json_str(image, "id", ""), disk_name);
                char *argv[] = {
                        "qemu-img", "create", "-q", "-f", "qcow2", "-F", (char *) tide_json_str(image, "format", "raw"),
                        "-b",       backing,  tmp,  sz,   NULL
                };
                (void) unlink(tmp);
                r = run_tool(argv, "creating the disk overlay");
                if (r < 0)
                        return r;
                if ((r = fs_private_fix(tmp)) < 0)
                        return log_error_errno(r, "setting the mode of %s: %m", tmp);
                if (rename(tmp, disk) < 0)
                        return log_error_errno(-errno, "renaming %s: %m", tmp);
        }
        _cleanup_free_ char *iso = inst_path(a, id, MODEL_INSTANCE_SEED);
        if (*tide_json_str(inst, "user_data", "") && access(iso, F_OK) < 0)
                return make_seed(a, inst);
        return 0;
}

/* The decision's pinned CPUs and NUMA node go into the spec; pins gets the CPU array. */
void agent_apply_placement(json_t *inst, struct hv_domain_spec *spec, int **pins) {
        json_t *p = json_object_get(inst, "placement");
        json_t *pinned = json_object_get(p, "pinned");
        size_t n = json_array_size(pinned);
        if (n > 0 && n == (size_t) spec->max_vcpus) {
                *pins = xcalloc(n, sizeof(int));
                for (size_t i = 0; i < n; i++)
                        (*pins)[i] = (int) json_integer_value(json_array_get(pinned, i));
                spec->pin_cpus = *pins;
                spec->n_pin_cpus = (int) n;
        }
        json_t *node = json_object_get(p, "numa_node");
        if (json_is_integer(node)) {
                spec->has_numa_node = true;
                spec->numa_node = (int) json_integer_value(node);
        }
        spec->hugepages = tide_json_bool(inst, "hugepages", false);
}

static int define_domain(struct agent *a, struct agent_host *h, json_t *inst) {
        const char *id = tide_json_str(inst, "id", "");
        _cleanup_free_ char *name = xasprintf(DOMAIN_NAME_PREFIX "%s", tide_json_str(inst, "name", ""));
        _cleanup_free_ int *pins = NULL;
        struct hv_domain_spec spec = {
                .uuid = id,
                .name = name,
                .vcpus = (int) tide_json_int(inst, "vcpus", 1),
                .max_vcpus = (int) tide_json_int(inst, "max_vcpus", tide_json_int(inst, "vcpus", 1)),
                .ram_mib = tide_json_int(inst, "ram_mib", 256),
                .max_ram_mib = tide_json_int(inst, "max_ram_mib", tide_json_int(inst, "ram_mib", 256)),
                .balloon_period_s = 1,
        };
        agent_apply_placement(inst, &spec, &pins);
        _cleanup_free_ char *pool = NULL;
        pthread_mutex_lock(&a->lock);
        pool = h->pool ? xstrdup(h->pool) : NULL;
        pthread_mutex_unlock(&a->lock);
        spec.cpuset = pool;
        if (drv(h)->virtual) {
                /* A simulated host has no files: nothing to prepare. */
                int r = drv(h)->define(h->hv, &spec);
                return r < 0 ? log_error_errno(r, "defining domain %s: %m (%s)", name, hv_last_error()) : 0;
        }

        _cleanup_json_ json_t *image = NULL;
        int r = model_obj_get(a->cfg.store, MODEL_IMAGE, tide_json_str(inst, "image_id", ""), &image, NULL);
        if (r < 0)
                return log_error_errno(r, "instance '%s': image: %m", tide_json_str(inst, "name", ""));
        if ((r = agent_image_ensure(&a->cfg, h->name, inst, image)) < 0)
                return r;
        r = agent_prepare_files(a, inst, image);
        if (r < 0)
                return r;
        const char *image_id = tide_json_str(image, "id", "");
        _cleanup_free_ char *disk = inst_path(a, id, MODEL_INSTANCE_DISK), *iso = inst_path(a, id, MODEL_INSTANCE_SEED);
        _cleanup_free_ char *console = inst_path(a, id, MODEL_INSTANCE_CONSOLE);
        _cleanup_free_ char *kernel = model_image_path(agent_files_base(&a->cfg), image_id, MODEL_IMAGE_KERNEL);
        _cleanup_free_ char *initrd = model_image_path(agent_files_base(&a->cfg), image_id, MODEL_IMAGE_INITRD);
        bool has_kernel = json_is_true(json_object_get(image, "kernel"));
        spec.disk_path = disk;
        spec.seed_path = access(iso, F_OK) == 0 ? iso : NULL;
        spec.kernel = has_kernel ? kernel : NULL;
        spec.initrd = has_kernel && json_is_true(json_object_get(image, "initrd")) ? initrd : NULL;
        spec.cmdline = has_kernel ? tide_json_str(image, "cmdline", NULL) : NULL;
        spec.console_log = console;
        r = drv(h)->define(h->hv, &spec);
        if (r < 0)
                return log_error_errno(r, "defining domain %s: %m (%s)", name, hv_last_error());
        return 0;
}

/* One operation on an instance: its record as just read and its domain's state. */
struct op {
        struct agent *a;
        struct agent_host *h;
        json_t *inst; /* borrowed */
        const char *id, *name;
        bool defined; /* its domain exists */
        bool running; /* ... and runs, is paused or is shutting down */
};

/* Desired deleted: the domain goes, then the files, then the record with its claim. */
static int reconcile_deleted(const struct op *o) {
        int64_t t0 = mono_ms();
        int r = drv(o->h)->undefine(o->h->hv, o->id);
        if (r < 0)
                return fail_instance(o->a, o->h, o->inst, r, "deleting the domain");
        _cleanup_free_ char *dir = inst_path(o->a, o->id, NULL);
        if ((r = rm_rf(dir)) < 0)
                log_warning_errno(r, "removing %s: %m", dir);
        /* The record goes with its claim on the host, in one transaction. */
        r = o->a->cfg.placement->instance_delete(o->a->cfg.store, o->inst);
        if (r < 0)
                return log_error_errno(r, "removing instance '%s' from the store: %m", o->name);
        log_info("instance '%s' deleted", o->name);
        model_event_emit(o->a->cfg.store, "info", "instance.deleted", o->inst, o->h->name,
                         "instance '%s' deleted in %lld ms", o->name, (long long) (mono_ms() - t0));
        return 0;
}

/* Defines the domain unless it exists, starts it and reports the times it took. */
static int start_domain(const struct op *o) {
        int64_t t0 = mono_ms(), t_defined = t0;
        int r;
        if (!o->defined) {
                if ((r = define_domain(o->a, o->h, o->inst)) < 0)
                        return fail_instance(o->a, o->h, o->inst, r, "preparing the domain");
                t_defined = mono_ms();
        }
        r = drv(o->h)->start(o->h->hv, o->id);
        int64_t t1 = mono_ms();
        if (r < 0)
                return fail_instance(o->a, o->h, o->inst, r, "starting the domain");
        _cleanup_json_ json_t *extra = json_pack("{s:I, s:I, s:I}", "t_started_ms", (json_int_t) now_ms(), "prep_ms",
                                                 (json_int_t) (t_defined - t0), "hv_start_ms",
                                                 (json_int_t) (t1 - t_defined));
        set_status(o->a, o->id,
                   (struct status_change) { .status = MODEL_INSTANCE_RUNNING,
                                            .clear_task = true,
                                            .reboot_done = tide_json_int(o->inst, "reboot_seq", 0),
                                            .extra = extra });
        log_info("instance '%s' started (prepare %lld ms, start %lld ms)", o->name, (long long) (t_defined - t0),
                 (long long) (t1 - t_defined));
        model_event_emit(o->a->cfg.store, "info", "instance.running", o->inst, o->h->name, "domain started in %lld ms",
                         (long long) (t1 - t0));
        return 0;
}

/* Desired running: started when it is not, rebooted when a reboot is asked for, and reported
 * running when it is found so. */
static int reconcile_running(const struct op *o) {
        bool settled = model_instance_settled(o->inst);
        enum model_instance_status status = model_instance_get_status(o->inst);
        int64_t reboot_seq = tide_json_int(o->inst, "reboot_seq", 0);
        if (!o->running) {
                /* A guest that powered itself off while running stays off, as asked from inside. */
                if (o->defined && status == MODEL_INSTANCE_RUNNING && settled) {
                        _cleanup_json_ json_t *extra = json_object();
                        model_instance_set_desired(extra, MODEL_DESIRED_STOPPED);
                        set_status(o->a, o->id,
                                   (struct status_change) { .status = MODEL_INSTANCE_STOPPED,
                                                            .clear_task = true,
                                                            .reboot_done = -1,
                                                            .extra = extra });
                        model_event_emit(o->a->cfg.store, "warning", "instance.stopped", o->inst, o->h->name,
                                         "the guest powered itself off");
                        return 0;
                }
                return start_domain(o);
        }
        if (reboot_seq > tide_json_int(o->inst, "reboot_done", 0)) {
                int r = drv(o->h)->reboot(o->h->hv, o->id);
                if (r < 0)
                        return fail_instance(o->a, o->h, o->inst, r, "rebooting");
                set_status(o->a, o->id,
                           (struct status_change) {
                                   .status = MODEL_INSTANCE_RUNNING, .clear_task = true, .reboot_done = reboot_seq });
                model_event_emit(o->a->cfg.store, "info", "instance.rebooted", o->inst, o->h->name,
                                 "instance '%s' rebooted", o->name);
                return 0;
        }
        if (status != MODEL_INSTANCE_RUNNING || !settled) {
                set_status(o->a, o->id,
                           (struct status_change) {
                                   .status = MODEL_INSTANCE_RUNNING, .clear_task = true, .reboot_done = -1 });
                model_event_emit(o->a->cfg.store, "info", "instance.running", o->inst, o->h->name,
                                 "domain found running (adopted)");
        }
        return 0;
}

/* Desired stopped: the guest is asked to shut down (powered off when it does not in time) and
 * the record says stopped. */
static int reconcile_stopped(const struct op *o) {
        if (o->running) {
                int64_t t0 = mono_ms();
                int r = drv(o->h)->shutdown(o->h->hv, o->id, o->a->cfg.shutdown_timeout_ms);
                if (r < 0)
                        return fail_instance(o->a, o->h, o->inst, r, "stopping the domain");
                if (r == 1)
                        model_event_emit(o->a->cfg.store, "warning", "instance.stopped", o->inst, o->h->name,
                                         "powered off after %lld ms: the guest did not shut down",
                                         (long long) (mono_ms() - t0));
                else
                        model_event_emit(o->a->cfg.store, "info", "instance.stopped", o->inst, o->h->name,
                                         "guest shut down in %lld ms", (long long) (mono_ms() - t0));
        } else if (model_instance_get_status(o->inst) == MODEL_INSTANCE_STOPPED && model_instance_settled(o->inst))
                return 0;
        set_status(o->a, o->id,
                   (struct status_change) { .status = MODEL_INSTANCE_STOPPED,
                                            .clear_task = true,
                                            .reboot_done = tide_json_int(o->inst, "reboot_seq", 0) });
        return 0;
}

/* One function per desired state; each returns what failed (already logged and recorded). */
static int (*const reconcilers[MODEL_DESIRED_MAX])(const struct op *o) = {
        [MODEL_DESIRED_RUNNING] = reconcile_running,
        [MODEL_DESIRED_STOPPED] = reconcile_stopped,
        [MODEL_DESIRED_DELETED] = reconcile_deleted,
};

/* Whether id's record at mod_rev was refused already (under a->lock); records it when not. */
static bool refused_before_locked(struct agent *a, const char *id, int64_t mod_rev) {
        for (size_t i = 0; i < a->n_refused; i++)
                if (streq(a->refused[i].id, id)) {
                        if (a->refused[i].mod_rev == mod_rev)
                                return true;
                        a->refused[i].mod_rev = mod_rev;
                        return false;
                }
        a->refused = xrealloc(a->refused, (a->n_refused + 1) * sizeof *a->refused);
        a->refused[a->n_refused++] = (struct refused) { .id = xstrdup(id), .mod_rev = mod_rev };
        return false;
}

/* A record last changed by a leader that had been superseded when it wrote it (model.h,
 * model_leader_superseded) is not acted on: logged and told as an event once per version. Its
 * store fence makes such a write fail; this is the agent's own check of the same rule. */
static bool superseded(struct agent *a, struct agent_host *h, json_t *inst, int64_t mod_rev) {
        int64_t stamp = tide_json_int(inst, MODEL_LEADER_REV, 0), current = 0;
        if (stamp <= 0 || model_leader_get(a->cfg.store, NULL, &current) < 0 ||
            !model_leader_superseded(stamp, mod_rev, current))
                return false;
        pthread_mutex_lock(&a->lock);
        bool told = refused_before_locked(a, tide_json_str(inst, "id", ""), mod_rev);
        pthread_mutex_unlock(&a->lock);
        if (!told) {
                log_warning("instance '%s': refused: written at revision %lld by the leader of election %lld, "
                            "superseded by election %lld",
                            tide_json_str(inst, "name", ""), (long long) mod_rev, (long long) stamp,
                            (long long) current);
                model_event_emit(a->cfg.store, "warning", "instance.refused", inst, h->name,
                                 "not acted on: written by a superseded leader (election %lld, current %lld)",
                                 (long long) stamp, (long long) current);
        }
        return true;
}

/* One instance's operation, run in a worker thread. Re-reads the instance: the store is the
 * only truth, whatever the loop saw when it dispatched the job. */
static void reconcile_one(struct agent *a, struct agent_host *h, const char *id) {
        _cleanup_json_ json_t *inst = NULL;
        int64_t mod_rev = 0;
        if (model_obj_get(a->cfg.store, MODEL_INSTANCE, id, &inst, &mod_rev) < 0)
                return;
        if (superseded(a, h, inst, mod_rev))
                return;
        struct op o = { .a = a, .h = h, .inst = inst, .id = id, .name = tide_json_str(inst, "name", "") };
        struct hv_domain_info di = {};
        int r = drv(h)->domain_info(h->hv, id, &di);
        o.defined = r >= 0;
        o.running = o.defined && (di.state == HV_STATE_RUNNING || di.state == HV_STATE_BLOCKED ||
                                  di.state == HV_STATE_PAUSED || di.state == HV_STATE_SHUTDOWN);
        hv_domain_info_clear(&di);
        if (r < 0 && r != TIDE_E_NOT_FOUND) {
                log_warning_errno(r, "instance '%s': reading domain state: %m (%s)", o.name, hv_last_error());
                return;
        }
        enum model_instance_desired desired = model_instance_get_desired(inst);
        if (desired < 0)
                return;
        /* In error it stays as it is until an action or a delete. */
        if (desired != MODEL_DESIRED_DELETED && model_instance_get_status(inst) == MODEL_INSTANCE_ERROR)
                return;
        (void) reconcilers[desired](&o);
}

/* Whether the instance needs an operation, given its domain's state (NULL: not defined). */
static bool needs_work(json_t *inst, const struct hv_domain_info *di) {
        enum model_instance_desired desired = model_instance_get_desired(inst);
        enum model_instance_status status = model_instance_get_status(inst);
        bool running = di && di->state != HV_STATE_SHUTOFF && di->state != HV_STATE_CRASHED &&
                       di->state != HV_STATE_NOSTATE;
        bool settled = model_instance_settled(inst);
        if (desired == MODEL_DESIRED_DELETED)
                return true;
        if (status == MODEL_INSTANCE_ERROR)
                return false;
        if (desired == MODEL_DESIRED_RUNNING)
                return !running || !settled || status != MODEL_INSTANCE_RUNNING ||
                       tide_json_int(inst, "reboot_seq", 0) > tide_json_int(inst, "reboot_done", 0);
        if (desired == MODEL_DESIRED_STOPPED)
                return running || !settled || status != MODEL_INSTANCE_STOPPED;
        return false;
}

static bool is_busy_locked(struct agent *a, const char *id) {
        for (size_t i = 0; i < a->n_busy; i++)
                if (streq(a->busy[i], id))
                        return true;
        return false;
}

static void *worker(void *p) {
        struct job *j = p;
        struct agent *a = j->agent;
        for (;;) {
                j->run(a, j->host, j->id);
                if (j->run == reconcile_one || atomic_load(&a->stop) ||
                    !agent_migrate_next(a, j->id, &j->host, &j->run))
                        break;
        }
        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; i < a->n_busy; i++)
                if (streq(a->busy[i], j->id)) {
                        free(a->busy[i]);
                        a->busy[i] = a->busy[--a->n_busy];
                        break;
                }
        pthread_cond_broadcast(&a->idle);
        pthread_mutex_unlock(&a->lock);
        free(j->id);
        free(j);
        return NULL;
}

void agent_dispatch(struct agent *a, struct agent_host *h, const char *id, agent_job_fn fn) {
        pthread_mutex_lock(&a->lock);
        if (is_busy_locked(a, id) || atomic_load(&a->stop)) {
                pthread_mutex_unlock(&a->lock);
                return;
        }
        a->busy = xrealloc(a->busy, (a->n_busy + 1) * sizeof(char *));
        a->busy[a->n_busy++] = xstrdup(id);
        pthread_mutex_unlock(&a->lock);

        struct job *j = xmalloc(sizeof *j);
        *j = (struct job) { .agent = a, .host = h, .id = xstrdup(id), .run = fn };
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        int r = pthread_create(&t, &attr, worker, j);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                log_error_errno(-r, "starting a worker: %m");
                worker(j); /* run it here rather than lose it */
        }
}

/* One host's pass: each of its instances against its domains. */
bool agent_is_busy(struct agent *a, const char *id) {
        pthread_mutex_lock(&a->lock);
        bool b = is_busy_locked(a, id);
        pthread_mutex_unlock(&a->lock);
        return b;
}

/* Keeps every domain of the host on the shared pool: shared VMs float on it and every VM's
 * emulator threads run there, off the CPUs pinned to dedicated VMs. Applied when the pool
 * changes (a dedicated VM came or went) and once for each domain this agent has not yet set,
 * before any new domain starts, so that a dedicated VM finds its CPUs free. */
/* Whether the instance with that id is the host's and no migration has it: an incoming
 * migration's domain is not the host's yet, and an outgoing one's is left to the move (libvirt
 * holds the domain's job for the whole move: a change would wait for it, 30 s, and a restarted
 * agent has no worker on the instance that would keep this pass away). */
static bool assigned_here(json_t *all, const char *id, const char *host) {
        size_t i;
        json_t *inst;
        json_array_foreach(all, i, inst)
                if (streq(tide_json_str(inst, "id", ""), id))
                        return streq(tide_json_str(inst, "host", ""), host) &&
                               !json_is_object(json_object_get(inst, "migration"));
        return false;
}

static void apply_pool(struct agent *a, struct agent_host *h, json_t *all, const struct hv_domain_info *doms,
                       size_t n_doms) {
        if (!h->pool)
                return;
        /* Forget domains that are gone. */
        for (size_t k = 0; k < h->n_applied;) {
                bool found = false;
                for (size_t d = 0; d < n_doms && !found; d++)
                        found = streq(doms[d].uuid, h->applied[k].id);
                if (found) {
                        k++;
                        continue;
                }
                free(h->applied[k].id);
                free(h->applied[k].cpuset);
                h->applied[k] = h->applied[--h->n_applied];
        }
        for (size_t d = 0; d < n_doms; d++) {
                struct applied_cpuset *ap = NULL;
                for (size_t k = 0; k < h->n_applied && !ap; k++)
                        if (streq(h->applied[k].id, doms[d].uuid))
                                ap = &h->applied[k];
                if ((ap && streq(ap->cpuset, h->pool)) || agent_is_busy(a, doms[d].uuid) ||
                    !assigned_here(all, doms[d].uuid, h->name))
                        continue;
                int r = drv(h)->set_cpuset(h->hv, doms[d].uuid, h->pool);
                if (r < 0) {
                        log_warning_errno(r, "domain %s: moving to CPUs %s: %m (%s)", doms[d].name, h->pool,
                                          hv_last_error());
                        continue;
                }
                log_debug("domain %s on CPUs %s", doms[d].name, h->pool);
                if (!ap) {
                        h->applied = xrealloc(h->applied, (h->n_applied + 1) * sizeof *h->applied);
                        ap = &h->applied[h->n_applied++];
                        *ap = (struct applied_cpuset) { .id = xstrdup(doms[d].uuid) };
                }
                free(ap->cpuset);
                ap->cpuset = xstrdup(h->pool);
        }
}

/* One host's pass: the shared pool first (pool: placement's, taken; NULL when unknown), then
 * each of its instances against its domains. */
static void reconcile_host(struct agent *a, struct agent_host *h, json_t *all, char *pool) {
        struct hv_domain_info *doms = NULL;
        size_t n_doms = 0;
        int r = drv(h)->list(h->hv, &doms, &n_doms);
        if (r < 0) {
                log_warning_errno(r, "host '%s': listing domains: %m (%s)", h->name, hv_last_error());
                free(pool);
                return;
        }
        if (pool) {
                pthread_mutex_lock(&a->lock);
                if (h->pool && streq(h->pool, pool))
                        free(pool);
                else {
                        free(h->pool);
                        h->pool = pool;
                }
                pthread_mutex_unlock(&a->lock);
        }
        apply_pool(a, h, all, doms, n_doms);

        size_t i;
        json_t *inst;
        json_array_foreach(all, i, inst) {
                /* A migration's steps first: while one runs, the source leaves the domain to it
                 * and the target never starts or adopts it (its record names the source). */
                if (agent_migrate_reconcile(a, h, inst) || !streq(tide_json_str(inst, "host", ""), h->name))
                        continue;
                const struct hv_domain_info *di = NULL;
                for (size_t k = 0; k < n_doms && !di; k++)
                        if (streq(doms[k].uuid, tide_json_str(inst, "id", "")))
                                di = &doms[k];
                if (needs_work(inst, di))
                        agent_dispatch(a, h, tide_json_str(inst, "id", ""), reconcile_one);
        }
        hv_domain_info_array_free(doms, n_doms);
}

/* One pass over every host: all is every instance record, as the agent's cache has them. */
static void reconcile_all(struct agent *a, json_t *all) {
        _cleanup_free_ const char **names = xcalloc(a->n_hosts, sizeof *names);
        _cleanup_free_ char **pools = xcalloc(a->n_hosts, sizeof *pools);
        for (size_t i = 0; i < a->n_hosts; i++)
                names[i] = a->hosts[i].name;
        int r = a->cfg.placement->shared_pools(a->cfg.store, names, a->n_hosts, pools);
        if (r < 0)
                log_warning_errno(r, "reading the placement snapshot: %m");
        for (size_t i = 0; i < a->n_hosts; i++)
                reconcile_host(a, &a->hosts[i], all, TAKE_PTR(pools[i]));
}

/* Measurements: one bulk statistics call per host, recorded with the host's own figures. */

static void sample_host(struct agent *a, struct agent_host *h, int64_t t_ms) {
        struct hv_domain_stats *st = NULL;
        size_t n = 0;
        struct hv_host_stats hs = {};
        int r = drv(h)->stats(h->hv, &st, &n);
        if (r < 0) {
                log_warning_errno(r, "host '%s': reading statistics: %m (%s)", h->name, hv_last_error());
                return;
        }
        if ((r = drv(h)->host_stats(h->hv, &hs)) < 0)
                log_warning_errno(r, "host '%s': reading host statistics: %m (%s)", h->name, hv_last_error());
        struct metrics_host_sample host = {
                .host = h->name,
                .cpus = hs.cpus,
                .cpu_user_ns = hs.cpu_user_ns,
                .cpu_system_ns = hs.cpu_system_ns,
                .cpu_idle_ns = hs.cpu_idle_ns,
                .cpu_iowait_ns = hs.cpu_iowait_ns,
                .mem_total_kib = hs.mem_total_kib,
                .mem_free_kib = hs.mem_free_kib,
                .mem_available_kib = hs.mem_available_kib,
                .load1 = hs.load1,
                .load5 = hs.load5,
                .load15 = hs.load15,
        };
        struct metrics_vm_sample *vms = xcalloc(n ? n : 1, sizeof *vms);
        for (size_t i = 0; i < n; i++) {
                const struct hv_domain_stats *d = &st[i];
                struct metrics_vm_sample *v = &vms[i];
                *v = (struct metrics_vm_sample) {
                        .id = d->uuid,
                        .host = h->name,
                        .running = d->state == HV_STATE_RUNNING || d->state == HV_STATE_BLOCKED,
                        .cpu_time_ns = d->cpu_time_ns,
                        .vcpus = d->vcpus_current,
                        .vcpus_max = d->vcpus_max,
                        .balloon_current_kib = d->balloon_current_kib,
                        .balloon_max_kib = d->balloon_maximum_kib,
                        .has_guest_mem = d->has_guest_mem,
                        .mem_available_kib = d->available_kib,
                        .mem_unused_kib = d->unused_kib,
                        .mem_usable_kib = d->usable_kib,
                        .mem_rss_kib = d->rss_kib,
                        .block_rd_bytes = d->block_rd_bytes,
                        .block_wr_bytes = d->block_wr_bytes,
                        .block_rd_reqs = d->block_rd_reqs,
                        .block_wr_reqs = d->block_wr_reqs,
                        .net_rx_bytes = d->net_rx_bytes,
                        .net_tx_bytes = d->net_tx_bytes,
                        .net_rx_packets = d->net_rx_packets,
                        .net_tx_packets = d->net_tx_packets,
                };
                /* Instances are named by their domains: tide-<name>. */
                v->name = startswith(d->name, DOMAIN_NAME_PREFIX) ? d->name + strlen(DOMAIN_NAME_PREFIX) : d->name;
                v->n_vcpu = d->n_vcpu < METRICS_MAX_VCPUS ? d->n_vcpu : METRICS_MAX_VCPUS;
                for (int k = 0; k < v->n_vcpu; k++) {
                        v->vcpu_time_ns[k] = d->vcpu[k].time_ns;
                        /* Ready time: run-queue delay where the kernel keeps it, else schedstat wait. */
                        v->vcpu_wait_ns[k] = d->has_vcpu_delay ? d->vcpu[k].delay_ns : d->vcpu[k].wait_ns;
                }
        }
        metrics_record(a->cfg.metrics, t_ms, &host, vms, n);
        _cleanup_free_ const char **ids = xcalloc(n ? n : 1, sizeof *ids);
        for (size_t i = 0; i < n; i++)
                ids[i] = st[i].uuid;
        agent_measure_set(h, ids, n);
        free(vms);
        hv_domain_stats_array_free(st, n);
}

/* The agent's loop: the host lease renewed, the hosts sampled (with the elastic pass and the
 * measurements published), and every instance compared with its domain at least every tick
 * and at once when an instance record changes. The records come from a cache fed by a watch on
 * the instances (ctl_cache.h), not from a listing every pass; it reads them all again every
 * RESYNC_MS, a slow safety net. */
static void *agent_main(void *p) {
        struct agent *a = p;
        _cleanup_free_ char *instances = model_key_kind(MODEL_INSTANCE);
        struct ctl_cache *cache = ctl_cache_new(a->cfg.store, instances);
        int64_t next_sample = mono_ms(), next_resync = mono_ms() + RESYNC_MS;
        bool synced = false;
        while (!atomic_load(&a->stop)) {
                for (size_t i = 0; i < a->n_hosts; i++)
                        keepalive(a, &a->hosts[i]);
                if (a->cfg.metrics && mono_ms() >= next_sample) {
                        int64_t t = now_ms();
                        for (size_t i = 0; i < a->n_hosts; i++)
                                sample_host(a, &a->hosts[i], t);
                        if (synced) {
                                _cleanup_json_ json_t *all = ctl_cache_values(cache);
                                for (size_t i = 0; i < a->n_hosts; i++)
                                        agent_elastic_pass(a, &a->hosts[i], all);
                        }
                        /* After the elastic pass: the samples carry its demand and entitlement. */
                        for (size_t i = 0; i < a->n_hosts; i++)
                                agent_measure_publish(a, &a->hosts[i]);
                        next_sample += a->cfg.sample_ms;
                        if (next_sample < mono_ms())
                                next_sample = mono_ms() + a->cfg.sample_ms; /* fell behind: skip, don't burst */
                }
                if (mono_ms() >= next_resync) {
                        ctl_cache_resync(cache);
                        agent_image_sweep(&a->cfg);
                        next_resync = mono_ms() + RESYNC_MS;
                }
                if (synced) {
                        _cleanup_json_ json_t *all = ctl_cache_values(cache);
                        reconcile_all(a, all);
                }
                /* Wait for a change to any instance, or the tick that observes the domains. */
                int64_t wait = TICK_MS;
                if (a->cfg.metrics && next_sample - mono_ms() < wait)
                        wait = next_sample - mono_ms() > 0 ? next_sample - mono_ms() : 0;
                int r = ctl_cache_sync(cache, synced ? (int) wait : 0);
                if (r < 0) {
                        log_warning_errno(r, "reading the instances: %m");
                        usleep((useconds_t) wait * 1000);
                } else
                        synced = true;
        }
        ctl_cache_free(cache);
        return NULL;
}

int agent_new(const struct agent_config *cfg, struct agent **ret) {
        if (!cfg->placement || !cfg->placement->instance_delete || !cfg->placement->shared_pools)
                return log_error_errno(TIDE_E_INVALID, "starting the agent: no placement functions");
        struct agent *a = xcalloc(1, sizeof *a);
        a->cfg = *cfg;
        if (a->cfg.lease_ttl_s <= 0)
                a->cfg.lease_ttl_s = 10;
        if (a->cfg.shutdown_timeout_ms <= 0)
                a->cfg.shutdown_timeout_ms = 30000;
        if (a->cfg.sample_ms <= 0)
                a->cfg.sample_ms = 1000;
        pthread_mutex_init(&a->lock, NULL);
        pthread_cond_init(&a->idle, NULL);
        a->hosts = xcalloc(cfg->n_hosts, sizeof *a->hosts);
        a->n_hosts = cfg->n_hosts;
        int r = 0;
        for (size_t i = 0; i < a->n_hosts && r >= 0; i++) {
                const struct agent_host_config *hc = &cfg->hosts[i];
                a->hosts[i] = (struct agent_host) {
                        .name = hc->name ? xstrdup(hc->name) : NULL,
                        .hv = hc->hv,
                        .api_url = hc->api_url ? xstrdup(hc->api_url) : NULL,
                        .libvirt_uri = hc->libvirt_uri ? xstrdup(hc->libvirt_uri) : NULL,
                        .migrate_uri = hc->migrate_uri ? xstrdup(hc->migrate_uri) : NULL,
                };
                r = register_host(a, &a->hosts[i]);
        }
        if (r < 0) {
                agent_free(a);
                return r;
        }
        r = pthread_create(&a->thread, NULL, agent_main, a);
        if (r != 0) {
                a->thread = 0;
                agent_free(a);
                return log_error_errno(-r, "starting the agent: %m");
        }
        *ret = a;
        return 0;
}

void agent_free(struct agent *a) {
        if (!a)
                return;
        atomic_store(&a->stop, true);
        if (a->thread)
                pthread_join(a->thread, NULL);
        pthread_mutex_lock(&a->lock);
        while (a->n_busy > 0)
                pthread_cond_wait(&a->idle, &a->lock);
        pthread_mutex_unlock(&a->lock);
        free(a->busy);
        for (size_t i = 0; i < a->n_refused; i++)
                free(a->refused[i].id);
        free(a->refused);
        for (size_t i = 0; i < a->n_hosts; i++) {
                free(a->hosts[i].name);
                free(a->hosts[i].api_url);
                free(a->hosts[i].libvirt_uri);
                free(a->hosts[i].migrate_uri);
                free(a->hosts[i].pool);
                for (size_t k = 0; k < a->hosts[i].n_applied; k++) {
                        free(a->hosts[i].applied[k].id);
                        free(a->hosts[i].applied[k].cpuset);
                }
                free(a->hosts[i].applied);
                agent_elastic_clear(&a->hosts[i]);
                agent_measure_clear(&a->hosts[i]);
        }
        free(a->hosts);
        pthread_mutex_destroy(&a->lock);
        pthread_cond_destroy(&a->idle);
        free(a);
}
