/* cli_instance.c — tide instance create|list|show|set|start|stop|reboot|migrate|delete|console
 * (stats: cli_stats.c). */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <time.h>

#include "common/errors.h"
#include "common/tide_json.h"

#define WAIT_POLL_MS 200
#define CONSOLE_POLL_MS 500
#define CONSOLE_MORE_MIN (64 * 1024)
/* A poll's GET may take at least this long even when the wait is nearly over. */
#define WAIT_MIN_REQUEST_MS 1000

static const struct cli_column instance_columns[] = {
        { "NAME", "name", NULL },   { "STATUS", "status", NULL },       { "TASK", "task", NULL },
        { "HOST", "host", NULL },   { "FLAVOR", "flavor", NULL },       { "IMAGE", "image", NULL },
        { "VCPUS", "vcpus", NULL }, { "RAM", "ram_mib", cli_cell_mib },
};

static void sleep_ms(int64_t ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static char *instance_path(const char *name_or_id, const char *suffix) {
        _cleanup_free_ char *e = cli_escape(name_or_id);
        return xasprintf("/v1/instances/%s%s", e, suffix);
}

/* Polls the instance until the operation that leads to want ("running", "stopped",
 * "deleted") has finished, starting from the object the API answered with (*inst, replaced
 * by the latest; NULL once deleted). Returns an enum cli_exit, every failure reported. */
static int wait_for(struct cli_ctx *ctx, const char *name, json_t **inst, const char *want, int64_t timeout_s) {
        /* Poll by id: a new instance of the same name must not end the wait. */
        const char *id = json_string_value(json_object_get(*inst, "id"));
        _cleanup_free_ char *path = instance_path(id ? id : name, "");
        int64_t deadline = mono_ms() + timeout_s * 1000;

        for (;;) {
                _cleanup_free_ char *reason = NULL;
                switch (cli_wait_check(*inst, want, &reason)) {
                case CLI_WAIT_DONE:
                        return CLI_EXIT_OK;
                case CLI_WAIT_FAILED:
                        cli_error("instance '%s': %s", name, reason);
                        return CLI_EXIT_FAILURE;
                case CLI_WAIT_PENDING:
                        break;
                }

                int64_t left = deadline - mono_ms();
                if (left <= 0) {
                        _cleanup_free_ char *status = cli_cell_value(json_object_get(*inst, "status"));
                        _cleanup_free_ char *task = cli_cell_value(json_object_get(*inst, "task"));
                        cli_error("timed out after %" PRId64 " s waiting for instance '%s' to be %s "
                                  "(status %s, task %s)",
                                  timeout_s, name, want, status, task);
                        return CLI_EXIT_FAILURE;
                }
                sleep_ms(left < WAIT_POLL_MS ? left : WAIT_POLL_MS);

                left = deadline - mono_ms();
                _cleanup_json_ json_t *next = NULL;
                int r = cli_api_call(ctx, "GET", path, NULL, streq(want, "deleted") ? CLI_API_QUIET_NOT_FOUND : 0,
                                     left > WAIT_MIN_REQUEST_MS ? left : WAIT_MIN_REQUEST_MS, &next);
                if (r == TIDE_E_NOT_FOUND && streq(want, "deleted")) {
                        json_decref(*inst);
                        *inst = NULL;
                        return CLI_EXIT_OK;
                }
                if (r < 0)
                        return CLI_EXIT_FAILURE;
                if (!json_is_object(next)) {
                        cli_error("malformed answer for instance '%s': not an object", name);
                        return CLI_EXIT_FAILURE;
                }
                json_decref(*inst);
                *inst = TAKE_PTR(next);
        }
}

/* Prints a dry run's answer. Exit 0 when a host would take the instance, 1 when none would:
 * scripts can ask before they create. */
static int print_dry_run(const json_t *answer, enum cli_format format) {
        if (!json_is_object(answer)) {
                cli_error("malformed answer to the dry run: not an object");
                return CLI_EXIT_FAILURE;
        }
        int r = cli_placement_print(stdout, format, answer);
        if (r < 0) {
                cli_error("cannot print the answer: %s", strerror(-r));
                return CLI_EXIT_FAILURE;
        }
        return cli_placement_found(answer) ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

int cli_instance_create(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:s}", "name", a->name, "flavor", a->flavor, "image",
                                                a->image);
        if (!body) {
                cli_error("NAME, --flavor and --image must be UTF-8");
                return CLI_EXIT_FAILURE;
        }
        if (a->user_data_file) {
                json_t *ud = cli_read_user_data(a->user_data_file);
                if (!ud)
                        return CLI_EXIT_FAILURE;
                json_object_set_new(body, "user_data", ud);
        }
        _cleanup_json_ json_t *policy = cli_policy_body(a, false);
        json_object_update(body, policy);
        if (a->ha)
                json_object_set_new(body, "ha", json_true());
        if (a->n_hints > 0) {
                /* The words were checked (ASCII): json_string cannot fail on them. */
                json_t *hints = json_array();
                for (size_t i = 0; i < a->n_hints; i++)
                        json_array_append_new(hints, json_string(a->hints[i]));
                json_object_set_new(body, "hints", hints);
        }
        if (a->server_group) {
                json_t *g = json_string(a->server_group);
                if (!g) {
                        cli_error("--server-group must be UTF-8");
                        return CLI_EXIT_FAILURE;
                }
                json_object_set_new(body, "group", g);
        }
        if (a->n_networks > 0) {
                json_t *nets = json_array();
                for (size_t i = 0; i < a->n_networks; i++)
                        json_array_append_new(nets, cli_network_request(a->networks[i]));
                json_object_set_new(body, "networks", nets);
        }

        _cleanup_json_ json_t *inst = NULL;
        if (cli_api_call(ctx, "POST", a->dry_run ? "/v1/instances?dry_run=true" : "/v1/instances", body, 0, 0, &inst) <
            0)
                return CLI_EXIT_FAILURE;
        if (a->dry_run)
                return print_dry_run(inst, a->format);
        if (a->wait && !json_is_object(inst)) {
                cli_error("malformed answer for instance '%s': not an object", a->name);
                return CLI_EXIT_FAILURE;
        }
        int r = a->wait ? wait_for(ctx, a->name, &inst, "running", a->timeout_s) : CLI_EXIT_OK;
        if (r == CLI_EXIT_OK)
                r = cli_print_answer(ctx, inst, a->format);
        return r;
}

/* Sets key to value when opt was given: null when it was given as "default" and resets is
 * true, nothing when it was given so and resets is false. Takes value. */
static void set_policy(json_t *body, const struct cli_args *a, enum cli_opt opt, bool resets, const char *key,
                       json_t *value) {
        if ((a->given & CLI_F(opt)) && (a->reset & CLI_F(opt))) {
                json_decref(value);
                value = resets ? json_null() : NULL;
        }
        if ((a->given & CLI_F(opt)) && value)
                json_object_set_new(body, key, value);
        else
                json_decref(value);
}

json_t *cli_policy_body(const struct cli_args *a, bool resets) {
        json_t *body = json_object();
        set_policy(body, a, CLI_OPT_PRIORITY, resets, "priority", json_integer(a->priority));
        set_policy(body, a, CLI_OPT_CPU_RESERVATION, resets, "cpu_reservation", json_real(a->cpu_reservation));
        set_policy(body, a, CLI_OPT_CPU_LIMIT, resets, "cpu_limit", json_real(a->cpu_limit));
        set_policy(body, a, CLI_OPT_MEM_RESERVATION, resets, "mem_reservation", json_integer(a->mem_reservation_mib));
        set_policy(body, a, CLI_OPT_MEM_LIMIT, resets, "mem_limit", json_integer(a->mem_limit_mib));
        set_policy(body, a, CLI_OPT_ELASTIC, resets, "elastic", json_boolean(a->elastic));
        return body;
}

int cli_instance_set(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_json_ json_t *body = cli_policy_body(a, true);
        _cleanup_free_ char *path = instance_path(a->name, "");
        _cleanup_json_ json_t *inst = NULL;
        if (cli_api_call(ctx, "PATCH", path, body, 0, 0, &inst) < 0)
                return CLI_EXIT_FAILURE;
        return cli_print_answer(ctx, inst, a->format);
}

int cli_instance_list(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_list(ctx, "/v1/instances", "instances", instance_columns, ELEMENTSOF(instance_columns),
                            a->format);
}

int cli_instance_show(struct cli_ctx *ctx, const struct cli_args *a) {
        return cli_run_show(ctx, "instances", a->name, a->format);
}

static int instance_action(struct cli_ctx *ctx, const struct cli_args *a, const char *action, const char *want) {
        _cleanup_free_ char *path = instance_path(a->name, "/action");
        _cleanup_json_ json_t *body = json_pack("{s:s}", "action", action);
        if (!body)
                abort(); /* our own ASCII: only allocation can fail, and tide aborts on it */
        _cleanup_json_ json_t *inst = NULL;
        if (cli_api_call(ctx, "POST", path, body, 0, 0, &inst) < 0)
                return CLI_EXIT_FAILURE;
        if (a->wait && !json_is_object(inst)) {
                cli_error("malformed answer for instance '%s': not an object", a->name);
                return CLI_EXIT_FAILURE;
        }
        int r = a->wait ? wait_for(ctx, a->name, &inst, want, a->timeout_s) : CLI_EXIT_OK;
        if (r == CLI_EXIT_OK)
                r = cli_print_answer(ctx, inst, a->format);
        return r;
}

int cli_instance_start(struct cli_ctx *ctx, const struct cli_args *a) {
        return instance_action(ctx, a, "start", "running");
}

int cli_instance_stop(struct cli_ctx *ctx, const struct cli_args *a) {
        return instance_action(ctx, a, "stop", "stopped");
}

int cli_instance_reboot(struct cli_ctx *ctx, const struct cli_args *a) {
        return instance_action(ctx, a, "reboot", "running");
}

int cli_instance_delete(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *path = instance_path(a->name, "");
        _cleanup_json_ json_t *inst = NULL;
        if (cli_api_call(ctx, "DELETE", path, NULL, 0, 0, &inst) < 0)
                return CLI_EXIT_FAILURE;
        /* An answer without the object (204) leaves nothing to wait for. */
        if (a->wait && json_is_object(inst))
                return wait_for(ctx, a->name, &inst, "deleted", a->timeout_s);
        return CLI_EXIT_OK;
}

/* Writes console output. On a terminal, control characters other than tab, newline and
 * carriage return are replaced: the guest must not drive the operator's terminal. */
static int write_console(const char *data, size_t len, bool tty) {
        if (!tty)
                return fwrite(data, 1, len, stdout) == len ? 0 : -EIO;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) data[i];
                if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                        c = '?';
                if (putchar(c) == EOF)
                        return -EIO;
        }
        return 0;
}

int cli_instance_console(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *path = instance_path(a->name, "/console");
        bool tty = isatty(STDOUT_FILENO);
        uint64_t offset = 0;

        for (;;) {
                _cleanup_free_ char *p = offset ? xasprintf("%s?offset=%" PRIu64, path, offset) : xstrdup(path);
                _cleanup_free_ char *data = NULL;
                size_t len = 0;
                if (cli_api_get_text(ctx, p, &data, &len) < 0)
                        return CLI_EXIT_FAILURE;
                if (write_console(data, len, tty) < 0 || fflush(stdout) == EOF)
                        return CLI_EXIT_FAILURE; /* stdout went away (a closed pipe) */
                offset += len;
                /* tided answers a long log in chunks (of 1 MiB): a big answer means more is
                 * waiting, a short one that we reached the end, for now. Not "until an empty
                 * answer": a chatty guest would keep a plain read from ever ending. */
                if (len >= CONSOLE_MORE_MIN)
                        continue;
                if (!a->follow)
                        return CLI_EXIT_OK;
                /* Runs until interrupted: SIGINT's default action ends the process, and all
                 * output so far has been flushed. */
                sleep_ms(CONSOLE_POLL_MS);
        }
}

/* Polls the instance until the migration the answer started has ended (its record's
 * last_migration has the same t_request_ms and no migration is left). Returns an enum
 * cli_exit: OK when it succeeded, FAILURE (with the reason) when it failed, was cancelled or
 * the wait timed out. */
static int wait_migrated(struct cli_ctx *ctx, const char *name, json_t **inst, int64_t timeout_s) {
        const char *id = json_string_value(json_object_get(*inst, "id"));
        json_t *started = json_object_get(json_object_get(*inst, "migration"), "t_request_ms");
        int64_t t_request = json_integer_value(started);
        _cleanup_free_ char *path = instance_path(id ? id : name, "");
        int64_t deadline = mono_ms() + timeout_s * 1000;
        for (;;) {
                json_t *last = json_object_get(*inst, "last_migration");
                if (!json_object_get(*inst, "migration") &&
                    json_integer_value(json_object_get(last, "t_request_ms")) == t_request) {
                        const char *state = json_string_value(json_object_get(last, "state"));
                        if (state && streq(state, "succeeded"))
                                return CLI_EXIT_OK;
                        const char *err = json_string_value(json_object_get(last, "error"));
                        cli_error("instance '%s': migration %s: %s", name, state ? state : "ended",
                                  err ? err : "no reason given");
                        return CLI_EXIT_FAILURE;
                }
                int64_t left = deadline - mono_ms();
                if (left <= 0) {
                        cli_error("timed out after %" PRId64 " s waiting for the migration of instance '%s'", timeout_s,
                                  name);
                        return CLI_EXIT_FAILURE;
                }
                sleep_ms(left < WAIT_POLL_MS ? left : WAIT_POLL_MS);
                left = deadline - mono_ms();
                _cleanup_json_ json_t *next = NULL;
                if (cli_api_call(ctx, "GET", path, NULL, 0, left > WAIT_MIN_REQUEST_MS ? left : WAIT_MIN_REQUEST_MS,
                                 &next) < 0)
                        return CLI_EXIT_FAILURE;
                if (!json_is_object(next)) {
                        cli_error("malformed answer for instance '%s': not an object", name);
                        return CLI_EXIT_FAILURE;
                }
                json_decref(*inst);
                *inst = TAKE_PTR(next);
        }
}

int cli_instance_migrate(struct cli_ctx *ctx, const struct cli_args *a) {
        _cleanup_free_ char *path = instance_path(a->name, "/action");
        _cleanup_json_ json_t *body = json_pack("{s:s}", "action", "migrate");
        if (a->cancel)
                json_object_set_new(body, "cancel", json_true());
        if (a->to) {
                json_t *to = json_string(a->to);
                if (!to) {
                        cli_error("--to must be UTF-8");
                        return CLI_EXIT_FAILURE;
                }
                json_object_set_new(body, "to", to);
        }
        if (a->given & CLI_F(CLI_OPT_BANDWIDTH))
                json_object_set_new(body, "bandwidth_mib_s", json_integer(a->bandwidth_mib_s));
        if (a->given & CLI_F(CLI_OPT_MAX_DOWNTIME))
                json_object_set_new(body, "max_downtime_ms", json_integer(a->max_downtime_ms));
        _cleanup_json_ json_t *inst = NULL;
        if (cli_api_call(ctx, "POST", path, body, 0, 0, &inst) < 0)
                return CLI_EXIT_FAILURE;
        if (a->wait && !json_is_object(json_object_get(inst, "migration"))) {
                cli_error("malformed answer for instance '%s': no migration", a->name);
                return CLI_EXIT_FAILURE;
        }
        int r = a->wait ? wait_migrated(ctx, a->name, &inst, a->timeout_s) : CLI_EXIT_OK;
        if (r == CLI_EXIT_OK)
                r = cli_print_answer(ctx, inst, a->format);
        return r;
}
